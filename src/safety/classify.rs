//! What an action acts on and whether the safety configuration lets it run:
//! the static rules the checker applies at check time and the safety
//! controller applies again at run time, so that both read one implementation.
//!
//! Invariant: pure functions of the IR and the configuration; no I/O.

use super::SafetyConfig;
use crate::catalog::{self, Effect, Kind, Kinds};
use crate::ir::{Action, LabelOp, Mode, SafetyClass, Scale, Selector};

/// The label the StatefulSet controller puts on every pod it creates (since
/// Kubernetes 1.9), and no other controller does: a selector that requires it
/// selects only StatefulSet pods, one that excludes it none.
pub const STATEFULSET_POD_LABEL: &str = "statefulset.kubernetes.io/pod-name";

/// What `action` acts on for a policy selecting `kind`, or `None` when it
/// cannot act there at all.
pub fn effect(action: &Action, kind: Kind) -> Option<Effect> {
    if matches!(action, Action::Notify(_)) {
        return Some(Effect::Nothing);
    }
    let info = catalog::action(action.catalog_name())?;
    // Asking changes nothing itself, where the AI has something to choose
    // (not where `notify` is the only action).
    if matches!(action, Action::AskAi(_)) {
        return info.kinds.contains(kind).then_some(Effect::Nothing);
    }
    if info.kinds.contains(kind) {
        Some(Effect::Itself)
    } else if kind == Kind::Pods {
        info.via_pod
    } else {
        None
    }
}

/// The workload kinds a selected pod's owner may be (a deployment through its
/// replica set, a statefulset, a daemonset), as far as the selector tells: a
/// pod may also have no owner, or one KubeSkippy does not act on (a job).
pub fn owner_kinds(selector: &Selector) -> Kinds {
    let all = Kinds::WORKLOADS;
    if selector.kind != Kind::Pods {
        return all;
    }
    for label in &selector.labels {
        if label.key != STATEFULSET_POD_LABEL {
            continue;
        }
        return match label.op {
            LabelOp::NotExists => all.without(Kind::StatefulSets),
            LabelOp::Exists | LabelOp::Equals(_) | LabelOp::In(_) => Kinds::of(Kind::StatefulSets),
            LabelOp::NotEquals(_) => all,
        };
    }
    all
}

/// The kinds of object `action` changes in a policy of `selector`: the
/// selected object, the kinds a selected pod's owner can be *and* the action
/// applies to (`scale up` only to deployments and statefulsets), or nodes.
/// Empty for actions that change nothing, or that cannot apply.
pub fn landing_kinds(action: &Action, selector: &Selector) -> Kinds {
    let Some(info) = catalog::action(action.catalog_name()) else {
        return Kinds::NONE;
    };
    match effect(action, selector.kind) {
        Some(Effect::Itself) => Kinds::of(selector.kind),
        Some(Effect::Owner) => info.kinds.intersect(owner_kinds(selector)),
        Some(Effect::Node) => Kinds::NODES,
        Some(Effect::Nothing) | None => Kinds::NONE,
    }
}

/// How the safety configuration's `forbiddenActions` bear on an action in a
/// policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Forbidden {
    /// No entry covers it.
    No,
    /// It is forbidden wherever it can land: the reason, in the user's words.
    Always(String),
    /// It is forbidden on these kinds only; the safety controller blocks it at
    /// run time where the target is one of them. For an action on the pod
    /// itself (`delete`, `restart`), these are the kinds of the pod's owner:
    /// an entry `delete` on `statefulsets` forbids deleting a StatefulSet's
    /// pods. For an action on a pod's owner, they are the owner's kinds.
    OnSome(Vec<Kind>),
}

/// Which `forbiddenActions` entries cover `action` in a policy of `selector`.
///
/// An entry names an action and a kind. It covers: the action in a policy
/// selecting that kind, whatever the action lands on (so an entry on `pods`
/// keeps the action out of every pod policy); the action where it lands on
/// that kind (a pod's node, a pod's owner); and, for an action on a pod itself,
/// the pods owned by that kind. The last is what the default entry, `delete` on
/// `statefulsets`, is for: `delete` only ever deletes pods, and deleting a
/// StatefulSet's pod breaks the ordered, one-at-a-time replacement its
/// controller guarantees (a quorum of a database can be lost).
pub fn forbidden(action: &Action, selector: &Selector, config: &SafetyConfig) -> Forbidden {
    let name = action.catalog_name();
    let kind = selector.kind;
    if config.is_forbidden(name, kind) {
        return Forbidden::Always(format!("`{name}` on {kind} is forbidden"));
    }
    let forbidden_in = |kinds: Kinds| -> Vec<Kind> {
        kinds
            .iter()
            .filter(|k| config.is_forbidden(name, *k))
            .collect()
    };
    match effect(action, kind) {
        Some(Effect::Itself) if kind == Kind::Pods => {
            let owners = owner_kinds(selector);
            let hit = forbidden_in(owners);
            // A pod may have no owner, or a job: only a selector that requires
            // the StatefulSet label makes the owner certain.
            if hit.is_empty() {
                Forbidden::No
            } else if owners == Kinds::of(Kind::StatefulSets) {
                Forbidden::Always(format!(
                    "`{name}` on pods owned by a statefulset is forbidden, and this policy selects only such pods"
                ))
            } else {
                Forbidden::OnSome(hit)
            }
        }
        Some(Effect::Owner | Effect::Node) => {
            let landing = landing_kinds(action, selector);
            let hit = forbidden_in(landing);
            if hit.is_empty() {
                Forbidden::No
            } else if hit.len() == landing.len() {
                let on = hit.iter().map(|k| k.keyword()).collect::<Vec<_>>();
                Forbidden::Always(format!("`{name}` on {} is forbidden", join_or(&on, "and")))
            } else {
                Forbidden::OnSome(hit)
            }
        }
        Some(Effect::Itself | Effect::Nothing) | None => Forbidden::No,
    }
}

/// "a, b or c"
pub(crate) fn join_or(words: &[&str], last: &str) -> String {
    match words {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., end] => format!("{} {last} {end}", init.join(", ")),
    }
}

/// The static safety class of `action` in a policy of `selector` and `mode`.
///
/// For `ask ai` it is the strictest class of its choices, which the checker
/// classifies one by one when it builds them. The safety controller calls
/// this again at run time for what the AI proposes.
pub fn classify(
    action: &Action,
    selector: &Selector,
    mode: Mode,
    config: &SafetyConfig,
) -> SafetyClass {
    if let Action::AskAi(choices) = action {
        return SafetyClass::strictest(choices.iter().map(|c| &c.safety));
    }
    let name = action.catalog_name();
    if let Forbidden::Always(why) = forbidden(action, selector, config) {
        return SafetyClass::Forbidden(why);
    }
    if config.needs_approval(name) {
        return SafetyClass::NeedsApproval(format!("`{name}` always needs approval"));
    }
    let step = config.max_auto_scale_step;
    match action {
        Action::Scale(Scale::Up { by, .. } | Scale::Down { by, .. }) if *by > step => {
            return SafetyClass::NeedsApproval(format!("scaling by more than {step} replicas"));
        }
        Action::Scale(Scale::To { replicas: 0 }) => {
            return SafetyClass::NeedsApproval("scaling to zero".into());
        }
        // The current count is only known at run time: from zero, or from
        // many, `scale to N` may move by more than the step.
        Action::Scale(Scale::To { replicas }) if *replicas > step => {
            return SafetyClass::NeedsApproval(format!(
                "`scale to {replicas}` may scale by more than {step} replicas"
            ));
        }
        _ => {}
    }
    if mode == Mode::Approve {
        return SafetyClass::NeedsApproval("the policy's mode is `approve`".into());
    }
    SafetyClass::Auto
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{LabelSelector, Namespaces, RestartMode};

    fn pods(labels: Vec<LabelSelector>) -> Selector {
        Selector {
            kind: Kind::Pods,
            namespaces: Namespaces::Own,
            labels,
        }
    }

    fn statefulset_label(op: LabelOp) -> Vec<LabelSelector> {
        vec![LabelSelector {
            key: STATEFULSET_POD_LABEL.into(),
            op,
        }]
    }

    #[test]
    fn the_statefulset_pod_label_narrows_a_pods_owner() {
        assert_eq!(owner_kinds(&pods(vec![])), Kinds::WORKLOADS);
        let none = pods(statefulset_label(LabelOp::NotExists));
        assert!(!owner_kinds(&none).contains(Kind::StatefulSets));
        assert!(owner_kinds(&none).contains(Kind::Deployments));
        let only = pods(statefulset_label(LabelOp::Exists));
        assert_eq!(owner_kinds(&only), Kinds::of(Kind::StatefulSets));
    }

    #[test]
    fn an_action_lands_where_its_effect_and_its_kinds_meet() {
        let selector = pods(vec![]);
        let landing = |action: Action| landing_kinds(&action, &selector);
        assert_eq!(
            landing(Action::Scale(Scale::Up { by: 1, max: None })),
            Kinds::SCALABLE
        );
        assert_eq!(landing(Action::Rollback), Kinds::DEPLOYMENTS);
        assert_eq!(
            landing(Action::Restart(RestartMode::Rolling)),
            Kinds::WORKLOADS
        );
        assert_eq!(landing(Action::Drain), Kinds::NODES);
        assert_eq!(landing(Action::Delete), Kinds::PODS);
        assert!(landing(Action::Notify("x".into())).is_empty());
    }

    #[test]
    fn the_default_configuration_forbids_deleting_statefulset_pods() {
        let config = SafetyConfig::default();
        assert_eq!(
            forbidden(&Action::Delete, &pods(vec![]), &config),
            Forbidden::OnSome(vec![Kind::StatefulSets])
        );
        let only = pods(statefulset_label(LabelOp::Exists));
        assert!(matches!(
            forbidden(&Action::Delete, &only, &config),
            Forbidden::Always(_)
        ));
        assert!(matches!(
            classify(&Action::Delete, &only, Mode::Auto, &config),
            SafetyClass::Forbidden(_)
        ));
        assert_eq!(
            classify(&Action::Delete, &pods(vec![]), Mode::Auto, &config),
            SafetyClass::Auto
        );
    }
}
