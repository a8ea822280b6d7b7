//! Approvals: a person answers a record that waits for one with
//! `kubectl annotate healingaction NAME kubeskippy.io/approve=true` (or
//! `=false` to reject). The leader then carries out exactly the recorded
//! action on the recorded object — if the policy that decided it is still
//! the one compiled (same program hash) and the safety controller still lets
//! it through — and charges it to the policy's `limit` and `cooldown`.

use super::crd::{ActionPhase, HealingAction, HealingActionStatus, OriginKind};
use super::recent::Recent;
use super::registry::{Entry, Registry};
use super::verify;
use crate::act::{Executed, Executor, Order};
use crate::engine::evidence::render;
use crate::engine::observation::Observations;
use crate::engine::state::{Charge, Ledger};
use crate::engine::truth::{self, Truth};
use crate::ir::{Mode, SafetyClass};
use crate::safety::{self, guard, Admission, Proposal, SafetyConfig, Situation};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::{Api, Client, ResourceExt};
use std::sync::Arc;

/// The annotation a person sets on a record to answer it.
pub const APPROVE: &str = "kubeskippy.io/approve";

/// A person's answer to a record, if it waits for one and has it.
pub fn answer(record: &HealingAction) -> Option<bool> {
    let waiting =
        record.status.as_ref().and_then(|s| s.phase) == Some(ActionPhase::AwaitingApproval);
    if !waiting {
        return None;
    }
    match record.annotations().get(APPROVE).map(String::as_str) {
        Some("true") => Some(true),
        Some("false") => Some(false),
        _ => None,
    }
}

/// The records of `records` a person answered that this run has not
/// handled as they are: until the record cache shows what was written of
/// an answered record, it still looks answered, and must not run twice.
pub fn to_answer(
    records: &[Arc<HealingAction>],
    handled: &super::record::Recorded,
) -> Vec<Arc<HealingAction>> {
    records
        .iter()
        .filter(|r| answer(r).is_some())
        .filter(|r| !handled.contains(&super::record::Recorded::version_of(r)))
        .cloned()
        .collect()
}

/// What the cluster is like as a person's answers are carried out: the
/// guards' history, and the freshest observations to re-check each trigger
/// on.
pub struct Now<'a> {
    pub recent: &'a Recent,
    pub observations: &'a Observations,
    pub at: i64,
}

/// What answering a record led to.
struct Answered {
    phase: ActionPhase,
    message: String,
    reason: Option<String>,
    verify_after: Option<Time>,
    executed: bool,
}

impl Answered {
    fn is(phase: ActionPhase, message: impl Into<String>) -> Answered {
        Answered {
            phase,
            message: message.into(),
            reason: None,
            verify_after: None,
            executed: false,
        }
    }
}

/// Carries out (or rejects) every answered record of `records`; what came
/// of each is written to it. Returns those handled: written, or carried
/// out though the write failed (an action must not run twice); a record
/// whose rejection or refusal could not be written is answered again.
pub async fn process<E: Executor>(
    client: &Client,
    safety: &SafetyConfig,
    registry: &Arc<Registry>,
    records: Vec<Arc<HealingAction>>,
    executor: &mut E,
    now: &Now<'_>,
) -> Vec<Arc<HealingAction>> {
    let mut handled = Vec::new();
    for record in records {
        let Some(approved) = answer(&record) else {
            continue;
        };
        let entry = registry
            .snapshot()
            .into_iter()
            .find(|e| e.uid == record.spec.policy.uid);
        let answered = match (approved, entry) {
            (false, entry) => {
                if let (Some(entry), Some(object)) = (entry, record.spec.object.target_id()) {
                    registry
                        .with_state(&entry.uid, |state| state.close(0, &object, Ledger::Actions));
                }
                Answered::is(ActionPhase::Rejected, "rejected by a person")
            }
            (true, None) => Answered::is(
                ActionPhase::Failed,
                "the policy is gone or no longer compiles; not carried out",
            ),
            (true, Some(entry)) if entry.program_hash != record.spec.policy.program_hash => {
                Answered::is(
                    ActionPhase::Failed,
                    "the policy changed since the decision; not carried out",
                )
            }
            (true, Some(entry)) => {
                carry_out_approved(safety, registry, &entry, &record, executor, now).await
            }
        };
        let executed = answered.executed;
        if write(client, &record, answered).await || executed {
            handled.push(record);
        }
    }
    handled
}

async fn carry_out_approved<E: Executor>(
    safety: &SafetyConfig,
    registry: &Arc<Registry>,
    entry: &Entry,
    record: &HealingAction,
    executor: &mut E,
    now: &Now<'_>,
) -> Answered {
    let rule = usize::try_from(record.spec.rule.number)
        .ok()
        .and_then(|n| n.checked_sub(1))
        .and_then(|n| entry.program.policies.first()?.rules.get(n));
    let (Some(rule), Some(object), Some(target)) = (
        rule,
        record.spec.object.target_id(),
        record.spec.target.target_id(),
    ) else {
        return Answered::is(
            ActionPhase::Failed,
            "the record names no rule or object of the policy",
        );
    };
    // A case the AI answered carries out its choice, if the policy still
    // allows exactly that action; a rule's record, the rule's action.
    let (action, class, object) = match record.status.as_ref().and_then(|s| s.ai.as_ref()) {
        Some(ai) => match allowed_choice(&entry.program, ai) {
            Some(chosen) => chosen,
            None => {
                return Answered::is(
                    ActionPhase::Failed,
                    "the AI's choice is not an action the policy allows; not carried out",
                )
            }
        },
        None => (rule.action.clone(), rule.safety.clone(), object),
    };
    // The person's answer stands for the approval; every other rule of the
    // safety controller still holds.
    let admission = safety::admit(
        &Proposal {
            mode: Mode::Auto,
            action: &action,
            safety: &match &class {
                SafetyClass::NeedsApproval(_) => SafetyClass::Auto,
                other => other.clone(),
            },
            object: &object,
            owner: None,
        },
        safety,
    );
    if let Admission::Refuse(why) = admission {
        return Answered {
            reason: Some("safety".into()),
            ..Answered::is(
                ActionPhase::Blocked,
                format!("refused by the safety controller: {why}"),
            )
        };
    }
    let owner = record.spec.owner.as_ref().and_then(|o| o.target_id());
    let workload = match &owner {
        Some(owner) => now.recent.workload(owner, Some(target.name.as_str())),
        None => now.recent.workload(&object, None),
    };
    let history = now.recent.policy(&entry.uid);
    let guarded = guard(
        &Situation {
            action: &action,
            object: &object,
            by_ai: record.spec.origin.kind == OriginKind::Ai,
            recent: &history,
            workload: workload.as_ref(),
            autoscaler: now.recent.autoscalers.get(&object).map(String::as_str),
            now: now.at,
        },
        safety,
    );
    if let Some(held) = guarded.held {
        return Answered {
            reason: Some(held.reason().into()),
            ..Answered::is(
                ActionPhase::Blocked,
                format!("approved, but held back by the safety controller: {held}"),
            )
        };
    }
    // A person may answer long after the decision: the fault may be gone.
    if let Some(observed) = now.observations.targets.iter().find(|t| t.id == target) {
        let verdict = truth::evaluate(&entry.program, &rule.condition, observed, now.at, true);
        if verdict.truth == Truth::False {
            return Answered::is(
                ActionPhase::Succeeded,
                format!(
                    "approved, but resolved before action: the trigger no longer holds ({})",
                    render(&verdict.seen).join("; ")
                ),
            );
        }
    }
    let order = Order {
        program: &entry.program,
        action: &action,
        object: &object,
        target: &target,
        at: k8s_openapi::jiff::Timestamp::now().as_second(),
        ordinal: 0,
    };
    let at = order.at;
    let executed = executor.execute(order).await;
    if executed.is_charged() {
        registry.with_state(&entry.uid, |state| {
            state.commit(
                0,
                Charge {
                    object: object.clone(),
                    at,
                    ledger: Ledger::of(&action),
                },
            )
        });
    }
    match executed {
        Executed::Done(what) => {
            let verify_after = verify::due(&action, &rule.condition, safety, at);
            let phase = if verify_after.is_some() {
                ActionPhase::Verifying
            } else {
                ActionPhase::Succeeded
            };
            Answered {
                executed: true,
                verify_after,
                ..Answered::is(phase, format!("approved; {what}"))
            }
        }
        Executed::Missing => Answered {
            executed: true,
            ..Answered::is(
                ActionPhase::Failed,
                format!("approved, but {object} is gone"),
            )
        },
        Executed::Failed(why) | Executed::TimedOut(why) => Answered {
            executed: true,
            ..Answered::is(ActionPhase::Failed, format!("approved, but {why}"))
        },
    }
}

/// Whether it was written.
async fn write(client: &Client, record: &HealingAction, answered: Answered) -> bool {
    let Answered {
        phase,
        message,
        reason,
        verify_after,
        executed,
    } = answered;
    let namespace = record.namespace().unwrap_or_default();
    let actions: Api<HealingAction> = Api::namespaced(client.clone(), &namespace);
    let mut status = HealingActionStatus {
        phase: Some(phase),
        message: Some(message),
        reason,
        verify_after,
        ..HealingActionStatus::default()
    };
    if executed {
        status.transitions.insert(
            "Executing".into(),
            Time(k8s_openapi::jiff::Timestamp::now()),
        );
    }
    match super::record::write_status(&actions, &record.name_any(), status).await {
        Err(error) => {
            tracing::warn!(%error, record = %record.name_any(), "cannot write the answered record");
            false
        }
        Ok(status) => {
            tracing::info!(record = %record.name_any(), phase = ?phase, "answered record");
            super::metrics::count(record, phase, status.reason.as_deref());
            true
        }
    }
}

/// The action, safety class and object of the AI's choice on a record, if
/// the compiled policy allows exactly that action (a rule's own, or one of an
/// `ask ai`'s choices): what a person approves cannot be other than what the
/// policy lets the AI choose.
fn allowed_choice(
    program: &crate::ir::Program,
    ai: &super::crd::AiChoice,
) -> Option<(
    crate::ir::Action,
    SafetyClass,
    crate::engine::observation::TargetId,
)> {
    let action: crate::ir::Action = serde_json::from_str(ai.action.as_deref()?).ok()?;
    let object = ai.object.as_ref()?.target_id()?;
    let rules = &program.policies.first()?.rules;
    let class = rules.iter().find_map(|rule| match &rule.action {
        crate::ir::Action::AskAi(choices) => choices
            .iter()
            .find(|c| c.action == action)
            .map(|c| c.safety.clone()),
        own if *own == action => Some(rule.safety.clone()),
        _ => None,
    })?;
    Some((action, class, object))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record waiting for a person, who approved it.
    fn approved_record() -> HealingAction {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "kubeskippy.io/v1alpha1", "kind": "HealingAction",
            "metadata": {"name": "r", "uid": "u-1", "resourceVersion": "7",
                         "annotations": {APPROVE: "true"}},
            "spec": {
                "policy": {"kind": "HealingPolicy", "name": "p", "uid": "u", "programHash": "h"},
                "rule": {"number": 1, "fingerprint": "f", "text": "t"},
                "target": {"kind": "Pod", "name": "a"}, "object": {"kind": "Pod", "name": "a"},
                "action": {"name": "restart", "text": "restart"},
                "origin": {"kind": "rule"}, "firingSince": "2026-12-06T10:00:00Z"
            },
            "status": {"phase": "AwaitingApproval"}
        }))
        .expect("a record")
    }

    #[test]
    fn only_a_waiting_record_with_an_answer_is_answered() {
        let mut record = approved_record();
        assert_eq!(answer(&record), Some(true));
        record
            .annotations_mut()
            .insert(APPROVE.into(), "false".into());
        assert_eq!(answer(&record), Some(false));
        record
            .annotations_mut()
            .insert(APPROVE.into(), "yes".into());
        assert_eq!(answer(&record), None, "only true or false");
        record.status = Some(HealingActionStatus {
            phase: Some(ActionPhase::Succeeded),
            ..HealingActionStatus::default()
        });
        record
            .annotations_mut()
            .insert(APPROVE.into(), "true".into());
        assert_eq!(answer(&record), None, "answered once");
    }

    #[test]
    fn an_answered_record_is_handled_once_until_it_changes() {
        let record = approved_record();
        let mut handled = super::super::record::Recorded::default();
        let records = vec![Arc::new(record.clone())];
        let first = to_answer(&records, &handled);
        assert_eq!(first.len(), 1);
        for r in &first {
            handled.insert(super::super::record::Recorded::version_of(r));
        }
        // The cache has not yet shown what was written: the same version.
        assert!(to_answer(&records, &handled).is_empty(), "not twice");
        // A person answered again: another version of the record.
        let mut again = record;
        again.metadata.resource_version = Some("9".into());
        assert_eq!(to_answer(&[Arc::new(again)], &handled).len(), 1);
    }
}
