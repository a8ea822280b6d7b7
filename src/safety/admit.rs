//! The safety controller's verdict on one action at run time, now that the
//! object it lands on (and that object's owner) is known: run it, record it
//! only, wait for a person, or refuse it. One pure function, so that
//! `simulate`, `test` and the operator decide alike.
//!
//! What it does not decide: `limit`, `cooldown` and protected namespaces and
//! labels (the engine's, before a decision exists), and what depends on the
//! cluster's recent history (the operator's circuit breaker and global rate).

use super::SafetyConfig;
use crate::catalog::{self, Kind};
use crate::engine::observation::TargetId;
use crate::ir::{Action, Mode, SafetyClass};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "admission", content = "reason", rename_all = "kebab-case")]
pub enum Admission {
    /// Carry it out now.
    Execute,
    /// `mode dryrun`: record what would run. Charged to `limit` and
    /// `cooldown` as if carried out, so a dry run shows exactly what `auto`
    /// would do.
    DryRun,
    /// `mode monitor`: record only, charged as a dry run.
    Monitor,
    /// `mode approve`, or an action the safety rules hold for a person: why.
    AwaitApproval(String),
    /// Never, whatever the mode: why.
    Refuse(String),
}

impl Admission {
    /// Whether what this admission leads to spends the policy's budget once
    /// done: an action carried out, or a record that stands for one.
    pub fn charges(&self) -> bool {
        matches!(
            self,
            Admission::Execute | Admission::DryRun | Admission::Monitor
        )
    }
}

/// One action as the safety controller sees it.
#[derive(Debug, Clone, Copy)]
pub struct Proposal<'a> {
    pub mode: Mode,
    pub action: &'a Action,
    /// What the checker proved of the action in its policy.
    pub safety: &'a SafetyClass,
    /// What it lands on.
    pub object: &'a TargetId,
    /// The owner of the selected target, when the object is that target and
    /// a pod: what its owner forbids for its pods is decided by it.
    pub owner: Option<&'a TargetId>,
}

/// The verdict on `proposal` under `config`. A refusal comes first, in every
/// mode: a dry run must show what `auto` would really do, refusals included.
/// A `notify` changes nothing, so it never waits for approval.
pub fn admit(proposal: &Proposal, config: &SafetyConfig) -> Admission {
    if let Some(why) = refusal(proposal, config) {
        return Admission::Refuse(why);
    }
    let changes_nothing = matches!(proposal.action, Action::Notify(_));
    match (proposal.mode, proposal.safety) {
        (Mode::Monitor, _) => Admission::Monitor,
        (Mode::DryRun, _) => Admission::DryRun,
        // The operator-wide switch: every policy records what it would do.
        (_, _) if config.dry_run => Admission::DryRun,
        (_, _) if changes_nothing => Admission::Execute,
        (Mode::Approve, _) => Admission::AwaitApproval("mode approve".into()),
        (Mode::Auto, SafetyClass::NeedsApproval(why)) => Admission::AwaitApproval(why.clone()),
        (Mode::Auto, SafetyClass::Auto) => Admission::Execute,
        // The checker never lets a forbidden rule into a program; one here
        // (a program read back from data) is refused like any other.
        (Mode::Auto, SafetyClass::Forbidden(why)) => Admission::Refuse(why.clone()),
    }
}

fn refusal(proposal: &Proposal, config: &SafetyConfig) -> Option<String> {
    let action = proposal.action;
    let object = proposal.object;
    if let SafetyClass::Forbidden(why) = proposal.safety {
        return Some(why.clone());
    }
    // `notify` and `patch` apply to whatever the policy selects.
    if matches!(
        action,
        Action::Notify(_) | Action::Patch(_) | Action::AskAi(_)
    ) {
        return None;
    }
    let name = action.catalog_name();
    let applies = catalog::action(name).is_some_and(|info| info.kinds.contains(object.kind));
    if !applies {
        return Some(format!("`{name}` does not apply to {}", object.kind));
    }
    if config.is_forbidden(name, object.kind) {
        return Some(format!("`{name}` on {} is forbidden", object.kind));
    }
    if object.kind == Kind::Pods {
        if let Some(owner) = proposal.owner.filter(|o| o.kind != Kind::Pods) {
            // What a pod's owner forbids for its pods (`delete` on a
            // StatefulSet's pods) is decided now that the owner is known.
            if config.is_forbidden(name, owner.kind) {
                return Some(format!(
                    "`{name}` on pods owned by a {} is forbidden",
                    owner.kind.keyword().trim_end_matches('s')
                ));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::RestartMode;

    fn pod(name: &str) -> TargetId {
        TargetId {
            kind: Kind::Pods,
            namespace: Some("shop".into()),
            name: name.into(),
        }
    }

    fn proposal<'a>(
        mode: Mode,
        action: &'a Action,
        safety: &'a SafetyClass,
        object: &'a TargetId,
        owner: Option<&'a TargetId>,
    ) -> Admission {
        admit(
            &Proposal {
                mode,
                action,
                safety,
                object,
                owner,
            },
            &SafetyConfig::default(),
        )
    }

    #[test]
    fn the_operator_wide_dry_run_records_every_mode_but_refuses_as_before() {
        let config = SafetyConfig {
            dry_run: true,
            ..SafetyConfig::default()
        };
        let restart = Action::Restart(RestartMode::Immediate);
        let object = pod("web-1");
        for mode in [Mode::Auto, Mode::Approve, Mode::DryRun] {
            let admission = admit(
                &Proposal {
                    mode,
                    action: &restart,
                    safety: &SafetyClass::Auto,
                    object: &object,
                    owner: None,
                },
                &config,
            );
            assert_eq!(admission, Admission::DryRun, "{mode:?}");
        }
        // A StatefulSet's pod may not be deleted (the default configuration).
        let database = TargetId {
            kind: Kind::StatefulSets,
            ..pod("db")
        };
        let refused = admit(
            &Proposal {
                mode: Mode::Auto,
                action: &Action::Delete,
                safety: &SafetyClass::Auto,
                object: &pod("db-0"),
                owner: Some(&database),
            },
            &config,
        );
        assert!(matches!(refused, Admission::Refuse(_)), "{refused:?}");
    }

    #[test]
    fn modes_decide_what_an_allowed_action_becomes() {
        let restart = Action::Restart(RestartMode::Immediate);
        let object = pod("web-1");
        let verdicts: Vec<Admission> = [Mode::Auto, Mode::DryRun, Mode::Approve, Mode::Monitor]
            .into_iter()
            .map(|m| proposal(m, &restart, &SafetyClass::Auto, &object, None))
            .collect();
        assert_eq!(
            verdicts,
            [
                Admission::Execute,
                Admission::DryRun,
                Admission::AwaitApproval("mode approve".into()),
                Admission::Monitor
            ]
        );
    }

    #[test]
    fn a_refusal_shows_in_a_dry_run_too() {
        let delete = Action::Delete;
        let object = pod("db-0");
        let owner = TargetId {
            kind: Kind::StatefulSets,
            namespace: Some("shop".into()),
            name: "db".into(),
        };
        for mode in [Mode::Auto, Mode::DryRun] {
            assert_eq!(
                proposal(mode, &delete, &SafetyClass::Auto, &object, Some(&owner)),
                Admission::Refuse("`delete` on pods owned by a statefulset is forbidden".into())
            );
        }
    }

    #[test]
    fn notify_runs_at_once_under_approve() {
        let notify = Action::Notify("look".into());
        let object = pod("web-1");
        assert_eq!(
            proposal(Mode::Approve, &notify, &SafetyClass::Auto, &object, None),
            Admission::Execute
        );
    }

    #[test]
    fn actions_that_do_not_apply_to_the_kind_are_refused() {
        let cordon = Action::Cordon;
        let object = pod("web-1");
        assert_eq!(
            proposal(Mode::Auto, &cordon, &SafetyClass::Auto, &object, None),
            Admission::Refuse("`cordon` does not apply to pods".into())
        );
    }
}
