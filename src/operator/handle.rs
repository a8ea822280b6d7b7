//! One decision, from its record to what came of it: the guards that read
//! recent history (breaker, rates, storm, blast radius, autoscaler), the
//! record, the trigger re-checked right before the action, the shared step
//! (safety controller, executor, commit), and the record's phase — with an
//! Event and a log line for each.

use super::crd::{ActionPhase, HealingAction, HealingActionStatus};
use super::evaluation::{Loop, Work};
use super::recent::Recent;
use super::record::{self, firing_since};
use super::registry::Entry;
use super::shard::SHARD_LABEL;
use super::verify;
use crate::act::{carry_out, Outcome};
use crate::engine::evidence::render;
use crate::engine::state::State;
use crate::engine::truth::{self, Truth};
use crate::engine::{Block, Decision};
use crate::observe::peek;
use crate::safety::{guard, Admission, Guarded, Held, Situation};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::PostParams;
use kube::runtime::events::EventType;
use kube::Api;
use std::collections::BTreeSet;

/// Records `decision`, then, if the record is new, carries it out and
/// writes what came of it.
pub(super) async fn handle(
    context: &Loop,
    work: &mut Work,
    entry: &Entry,
    decision: &Decision,
    state: &mut State,
    recent: &Recent,
    now: i64,
) {
    // The lead lost (or lost and taken back) during the pass: the leader
    // decides this again on its own state.
    if *context.leading.borrow() != work.term {
        return;
    }
    let since = firing_since(decision, now);
    let guarded = guards(entry, decision, recent, now, context);
    // An action's record is one per firing; a block's, one per episode: the
    // same block until it lifts, however many cycles it holds. A guard's
    // hold has its own name, so the firing acts once the guard lets it.
    let (object, what, episode) = match decision {
        Decision::Act { object, .. } => match guarded.as_ref().and_then(|g| g.held.as_ref()) {
            Some(held) => (object, format!("held:{}", held.reason()), since),
            None => (object, "act".to_string(), since),
        },
        Decision::Ambiguous { object, .. } => (object, "ai".to_string(), since),
        // Another pod of the same object led to this cycle's decision on
        // it, which has its own record.
        Decision::Blocked {
            by: Block::SameObject,
            ..
        } => return,
        Decision::Blocked {
            object, by, until, ..
        } => (
            object,
            format!("blocked:{}", by.as_str()),
            until.unwrap_or(since),
        ),
    };
    let name = record::name(entry, decision, object, episode, &what);
    let namespace = object
        .namespace
        .clone()
        .unwrap_or_else(|| context.namespace.clone());
    let actions: Api<HealingAction> = Api::namespaced(context.client.clone(), &namespace);
    // An action that failed or that a PodDisruptionBudget held back is
    // not tried again at every cycle (a rule without `for` fires anew each
    // time): it waits, and a held one is then tried again on its record.
    let retry = match backoff(recent, entry, decision, now) {
        Backoff::Wait => return,
        Backoff::Retry(existing) => Some((*existing).clone()),
        Backoff::Go => super::interrupted::retried(context, entry, decision, &name).await,
    };
    if retry.is_none() && work.recorded.contains(&name) {
        return;
    }
    let mut record = record::healing_action(entry, decision, &name, &namespace, since);
    if context.shard.count > 1 {
        // Which shard decided: what `kubectl get ha -L` shows when shards
        // are in doubt.
        record
            .metadata
            .labels
            .get_or_insert_with(Default::default)
            .insert(SHARD_LABEL.into(), context.shard.index.to_string());
    }
    let created = match retry {
        Some(existing) => Ok(existing),
        None => actions.create(&PostParams::default(), &record).await,
    };
    let created = match created {
        Ok(created) => created,
        Err(kube::Error::Api(status)) if status.code == 409 => {
            // Recorded before (a restart, another replica): handled then.
            work.recorded.insert(name);
            return;
        }
        Err(error) => {
            tracing::warn!(%error, record = %name, "cannot record the decision; nothing is done");
            return;
        }
    };
    work.recorded.insert(name.clone());
    let mut checks = guarded
        .as_ref()
        .map(|g| g.checks.clone())
        .unwrap_or_default();
    let status = match guarded.and_then(|g| g.held) {
        Some(held) => held_status(&held, checks),
        None => match cleared(context, work, entry, decision, now) {
            Some(words) => HealingActionStatus {
                phase: Some(ActionPhase::Succeeded),
                message: Some(format!(
                    "resolved before action: the trigger no longer holds ({words})"
                )),
                checks,
                ..HealingActionStatus::default()
            },
            None => {
                let executing = Time(k8s_openapi::jiff::Timestamp::now());
                let carried = carry_out(
                    &entry.program,
                    &context.safety,
                    state,
                    &mut work.executor,
                    decision,
                    now,
                    0,
                )
                .await;
                if let Some(admission) = &carried.admission {
                    checks.insert(0, format!("safety controller: {admission:?}"));
                }
                if matches!(carried.outcome, Outcome::HandedToAi(_)) {
                    // What the model is told of the target: as observed now.
                    let seen = decision.target().namespace.clone().map(|ns| {
                        let cluster = context.observers.in_namespaces(&BTreeSet::from([ns]));
                        peek(&cluster, &mut work.history, now)
                    });
                    let target = seen
                        .as_ref()
                        .and_then(|o| o.targets.iter().find(|t| &t.id == decision.target()));
                    let asked = super::analysis::ask(
                        context,
                        entry,
                        decision,
                        (&namespace, &name),
                        target,
                        &context.observers.records(),
                        now,
                    );
                    if asked {
                        work.asking.insert(name.clone());
                    }
                }
                let mut status =
                    outcome_status(entry, decision, &carried.outcome, checks, now, context);
                if carried.admission == Some(Admission::Execute) {
                    status.transitions.insert("Executing".into(), executing);
                }
                status
            }
        },
    };
    finish(context, &actions, &created, entry, decision, status).await;
}

/// How long a PodDisruptionBudget's refusal stands before the action is
/// tried again.
const PDB_RETRY_SECONDS: i64 = 60;

enum Backoff {
    /// Nothing failed lately: record and act.
    Go,
    /// The same action on the same object failed, or was held by a budget,
    /// less than [`PDB_RETRY_SECONDS`] ago.
    Wait,
    /// A budget held it back long enough ago: try again on that record.
    Retry(std::sync::Arc<HealingAction>),
}

/// Whether the action of `decision` failed, or a PodDisruptionBudget held
/// it back, lately (the same policy, rule and object), as the records say.
fn backoff(recent: &Recent, entry: &Entry, decision: &Decision, now: i64) -> Backoff {
    let Decision::Act {
        fingerprint,
        object,
        ..
    } = decision
    else {
        return Backoff::Go;
    };
    match recent.setback(&entry.uid, fingerprint, object) {
        None => Backoff::Go,
        Some((at, _)) if now.saturating_sub(*at) < PDB_RETRY_SECONDS => Backoff::Wait,
        Some((_, record))
            if record.status.as_ref().and_then(|s| s.reason.as_deref()) == Some("pdb") =>
        {
            Backoff::Retry(record.clone())
        }
        Some(_) => Backoff::Go,
    }
}

/// The guards' verdict on an action decision (none for a block or an AI
/// case: the AI's choice is guarded when it is carried out).
fn guards(
    entry: &Entry,
    decision: &Decision,
    recent: &Recent,
    now: i64,
    context: &Loop,
) -> Option<Guarded> {
    let Decision::Act {
        action,
        object,
        target,
        owner,
        ..
    } = decision
    else {
        return None;
    };
    let workload = match owner {
        Some(owner) => recent.workload(owner, Some(target.name.as_str())),
        None => recent.workload(object, None),
    };
    let policy = recent.policy(&entry.uid);
    Some(guard(
        &Situation {
            action,
            object,
            by_ai: false,
            recent: &policy,
            workload: workload.as_ref(),
            autoscaler: recent.autoscalers.get(object).map(String::as_str),
            now,
        },
        &context.safety,
    ))
}

/// Whether an action's trigger has cleared since the decision, on the
/// freshest observation of its target (what the watches brought while the
/// record was written, or a person took to approve): the evidence if so.
/// A node's trigger is not re-read here (the namespaced objects alone are
/// cheap to observe again).
fn cleared(
    context: &Loop,
    work: &mut Work,
    entry: &Entry,
    decision: &Decision,
    now: i64,
) -> Option<String> {
    let Decision::Act { target, rule, .. } = decision else {
        return None;
    };
    let namespace = target.namespace.clone()?;
    let rule = entry.program.policies.first()?.rules.get(*rule)?;
    let cluster = context
        .observers
        .in_namespaces(&BTreeSet::from([namespace]));
    let fresh = peek(&cluster, &mut work.history, now);
    let observed = fresh.targets.iter().find(|t| &t.id == target)?;
    let verdict = truth::evaluate(&entry.program, &rule.condition, observed, now, true);
    (verdict.truth == Truth::False).then(|| render(&verdict.seen).join("; "))
}

fn held_status(held: &Held, checks: Vec<String>) -> HealingActionStatus {
    HealingActionStatus {
        phase: Some(ActionPhase::Blocked),
        message: Some(format!("held back by the safety controller: {held}")),
        reason: Some(held.reason().into()),
        checks,
        ..HealingActionStatus::default()
    }
}

/// The status an outcome of the shared step leaves: an action carried out
/// waits for its verification; a `notify` has nothing to verify.
fn outcome_status(
    entry: &Entry,
    decision: &Decision,
    outcome: &Outcome,
    checks: Vec<String>,
    now: i64,
    context: &Loop,
) -> HealingActionStatus {
    let (mut phase, mut message) = record::phase(outcome);
    let reason = match outcome {
        Outcome::Blocked(by) => Some(by.clone()),
        Outcome::Refused(_) => Some("safety".to_string()),
        Outcome::Failed(why) if why.starts_with("blocked by a PodDisruptionBudget") => {
            // Not a failure of the action: the budget has no room now.
            phase = ActionPhase::Blocked;
            message = format!("{why}; tried again in {PDB_RETRY_SECONDS} s while the rule holds");
            Some("pdb".to_string())
        }
        _ => None,
    };
    let mut verify_after = None;
    if let (Outcome::Done(_), Decision::Act { action, rule, .. }) = (outcome, decision) {
        let rule = entry
            .program
            .policies
            .first()
            .and_then(|p| p.rules.get(*rule));
        verify_after = rule.and_then(|r| verify::due(action, &r.condition, &context.safety, now));
        if verify_after.is_some() {
            phase = ActionPhase::Verifying;
        }
    }
    HealingActionStatus {
        phase: Some(phase),
        message: Some(message),
        values_before: verify::values(decision.evidence()),
        checks,
        reason,
        verify_after,
        ..HealingActionStatus::default()
    }
}

/// Writes `status` on the record, with the time of its phase; an Event on
/// the record and its target, and the log line.
async fn finish(
    context: &Loop,
    actions: &Api<HealingAction>,
    created: &HealingAction,
    entry: &Entry,
    decision: &Decision,
    status: HealingActionStatus,
) {
    let phase = status.phase.unwrap_or(ActionPhase::Pending);
    let message = status.message.clone().unwrap_or_default();
    let name = created.metadata.name.clone().unwrap_or_default();
    tracing::info!(
        policy = %entry.name,
        uid = %entry.uid,
        selected = %decision.target(),
        rules = ?decision.rules().iter().map(|r| r + 1).collect::<Vec<_>>(),
        evidence = %render(decision.evidence()).join("; "),
        record = %name,
        phase = ?phase,
        reason = status.reason.as_deref().unwrap_or(""),
        detail = %message,
        "decision"
    );
    super::metrics::count(created, phase, status.reason.as_deref());
    let event = event_of(phase, status.reason.as_deref());
    context
        .announcer
        .tell(
            created,
            decision.target(),
            &created.spec.action.name,
            event,
            &message,
        )
        .await;
    if let Err(error) = record::write_status(actions, &name, status).await {
        tracing::warn!(%error, record = %name, "cannot write the record's phase");
    }
}

/// The Event's type and reason for a record's phase.
fn event_of(phase: ActionPhase, reason: Option<&str>) -> (EventType, &'static str) {
    match (phase, reason) {
        (ActionPhase::Verifying, _) => (EventType::Normal, "ActionExecuted"),
        (ActionPhase::Succeeded, _) => (EventType::Normal, "ActionSucceeded"),
        (ActionPhase::DryRun, _) => (EventType::Normal, "DryRun"),
        (ActionPhase::AwaitingApproval, _) => (EventType::Normal, "AwaitingApproval"),
        (ActionPhase::Pending, _) => (EventType::Normal, "HandedToAI"),
        (ActionPhase::Blocked, Some("cooldown" | "limit")) => (EventType::Normal, "Blocked"),
        (ActionPhase::Blocked, Some("safety")) => (EventType::Warning, "Refused"),
        (ActionPhase::Blocked, _) => (EventType::Warning, "Held"),
        (ActionPhase::Failed, _) => (EventType::Warning, "ActionFailed"),
        (ActionPhase::Approved | ActionPhase::Executing | ActionPhase::Rejected, _) => {
            (EventType::Normal, "Updated")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guards_hold_is_a_warning_and_a_cooldown_is_not() {
        assert_eq!(
            event_of(ActionPhase::Blocked, Some("storm-guard")),
            (EventType::Warning, "Held")
        );
        assert_eq!(
            event_of(ActionPhase::Blocked, Some("cooldown")),
            (EventType::Normal, "Blocked")
        );
        assert_eq!(
            event_of(ActionPhase::Verifying, None),
            (EventType::Normal, "ActionExecuted")
        );
    }
}
