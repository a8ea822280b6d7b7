//! Approvals: a person answers a record that waits for one with
//! `kubectl annotate healingaction NAME kubeskippy.io/approve=true` (or
//! `=false` to reject). The leader then carries out exactly the recorded
//! action on the recorded object — if the policy that decided it is still
//! the one compiled (same program hash) and the safety controller still lets
//! it through — and charges it to the policy's `limit` and `cooldown`.

use super::crd::{ActionPhase, HealingAction, HealingActionStatus};
use super::registry::{Entry, Registry};
use crate::act::{Executed, Executor, Order};
use crate::engine::state::{Charge, Ledger};
use crate::ir::{Mode, SafetyClass};
use crate::safety::{self, Admission, Proposal, SafetyConfig};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Patch, PatchParams};
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

/// Carries out (or rejects) every answered record of `records`; what came
/// of each is written to it.
pub async fn process<E: Executor>(
    client: &Client,
    safety: &SafetyConfig,
    registry: &Arc<Registry>,
    records: Vec<Arc<HealingAction>>,
    executor: &mut E,
) {
    for record in records {
        let Some(approved) = answer(&record) else {
            continue;
        };
        let entry = registry
            .snapshot()
            .into_iter()
            .find(|e| e.uid == record.spec.policy.uid);
        let (phase, message) = match (approved, entry) {
            (false, entry) => {
                if let (Some(entry), Some(object)) = (entry, record.spec.object.target_id()) {
                    registry
                        .with_state(&entry.uid, |state| state.close(0, &object, Ledger::Actions));
                }
                (ActionPhase::Rejected, "rejected by a person".to_string())
            }
            (true, None) => (
                ActionPhase::Failed,
                "the policy is gone or no longer compiles; not carried out".to_string(),
            ),
            (true, Some(entry)) if entry.program_hash != record.spec.policy.program_hash => (
                ActionPhase::Failed,
                "the policy changed since the decision; not carried out".to_string(),
            ),
            (true, Some(entry)) => {
                carry_out_approved(safety, registry, &entry, &record, executor).await
            }
        };
        write(client, &record, phase, message).await;
    }
}

async fn carry_out_approved<E: Executor>(
    safety: &SafetyConfig,
    registry: &Arc<Registry>,
    entry: &Entry,
    record: &HealingAction,
    executor: &mut E,
) -> (ActionPhase, String) {
    let rule = usize::try_from(record.spec.rule.number)
        .ok()
        .and_then(|n| n.checked_sub(1))
        .and_then(|n| entry.program.policies.first()?.rules.get(n));
    let (Some(rule), Some(object), Some(target)) = (
        rule,
        record.spec.object.target_id(),
        record.spec.target.target_id(),
    ) else {
        return (
            ActionPhase::Failed,
            "the record names no rule or object of the policy".to_string(),
        );
    };
    // The person's answer stands for the approval; every other rule of the
    // safety controller still holds.
    let admission = safety::admit(
        &Proposal {
            mode: Mode::Auto,
            action: &rule.action,
            safety: &match &rule.safety {
                SafetyClass::NeedsApproval(_) => SafetyClass::Auto,
                other => other.clone(),
            },
            object: &object,
            owner: None,
        },
        safety,
    );
    if let Admission::Refuse(why) = admission {
        return (
            ActionPhase::Blocked,
            format!("refused by the safety controller: {why}"),
        );
    }
    let order = Order {
        program: &entry.program,
        action: &rule.action,
        object: &object,
        target: &target,
        at: k8s_openapi::jiff::Timestamp::now().as_second(),
        ordinal: 0,
    };
    let at = order.at;
    match executor.execute(order).await {
        Executed::Done(what) => {
            registry.with_state(&entry.uid, |state| {
                state.commit(
                    0,
                    Charge {
                        object: object.clone(),
                        at,
                        ledger: Ledger::of(&rule.action),
                    },
                )
            });
            (ActionPhase::Succeeded, format!("approved; {what}"))
        }
        Executed::Missing => (
            ActionPhase::Failed,
            format!("approved, but {object} is gone"),
        ),
        Executed::Failed(why) => (ActionPhase::Failed, format!("approved, but {why}")),
    }
}

async fn write(client: &Client, record: &HealingAction, phase: ActionPhase, message: String) {
    let namespace = record.namespace().unwrap_or_default();
    let actions: Api<HealingAction> = Api::namespaced(client.clone(), &namespace);
    let mut transitions = record
        .status
        .as_ref()
        .map(|s| s.transitions.clone())
        .unwrap_or_default();
    transitions.insert(
        format!("{phase:?}"),
        Time(k8s_openapi::jiff::Timestamp::now()),
    );
    let status = HealingActionStatus {
        phase: Some(phase),
        message: Some(message),
        transitions,
        ..record.status.clone().unwrap_or_default()
    };
    let patch = serde_json::json!({ "status": status });
    if let Err(error) = actions
        .patch_status(
            &record.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
    {
        tracing::warn!(%error, record = %record.name_any(), "cannot write the answered record");
    } else {
        tracing::info!(record = %record.name_any(), phase = ?phase, "answered record");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_waiting_record_with_an_answer_is_answered() {
        let mut record: HealingAction = serde_json::from_value(serde_json::json!({
            "apiVersion": "kubeskippy.io/v1alpha1", "kind": "HealingAction",
            "metadata": {"name": "r", "annotations": {APPROVE: "true"}},
            "spec": {
                "policy": {"kind": "HealingPolicy", "name": "p", "uid": "u", "programHash": "h"},
                "rule": {"number": 1, "fingerprint": "f", "text": "t"},
                "target": {"kind": "Pod", "name": "a"}, "object": {"kind": "Pod", "name": "a"},
                "action": {"name": "restart", "text": "restart"},
                "origin": {"kind": "rule"}, "firingSince": "2026-12-06T10:00:00Z"
            },
            "status": {"phase": "AwaitingApproval"}
        }))
        .expect("a record");
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
}
