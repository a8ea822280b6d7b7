//! AI cases whose answer can no longer come: the operator that handed them
//! to the analyzer stopped, or lost the lead (a follower drops verdicts),
//! before the verdict. Nothing was carried out for them, and the policy's
//! request on the object stays open until it lapses, an hour later: left
//! alone, such a record would wait for ever and the fault go unhealed.
//!
//! The leader ends each such record `Failed`, its `ai.origin`
//! [`INTERRUPTED`], closes the request, and, when the rule fires again in
//! the same episode (the same record name), asks the analyzer again on that
//! record, whose next answer replaces the origin.

use super::crd::{ActionPhase, AiChoice, HealingAction, HealingActionStatus};
use super::evaluation::{Loop, Work};
use super::record::Recorded;
use super::registry::Entry;
use crate::engine::state::Ledger;
use crate::engine::Decision;
use kube::api::{Patch, PatchParams};
use kube::runtime::events::EventType;
use kube::{Api, ResourceExt};
use std::collections::HashSet;
use std::sync::Arc;

/// The `ai.origin` of a case whose answer will not come.
pub const INTERRUPTED: &str = "interrupted";

const MESSAGE: &str = "the AI's answer is not on the record: the operator that asked \
                       stopped or lost the lead before it could write it, or could not put \
                       the case; the case is asked again if the rule still fires";

/// The records of `records` that wait for the AI with no question in flight
/// in this process (`asking`), and that were not ended already as they are.
pub fn lost<'a>(
    records: &'a [Arc<HealingAction>],
    asking: &HashSet<String>,
    handled: &Recorded,
) -> Vec<&'a Arc<HealingAction>> {
    records
        .iter()
        .filter(|r| phase(r) == Some(ActionPhase::Pending))
        .filter(|r| !asking.contains(&r.name_any()))
        .filter(|r| !handled.contains(&Recorded::version_of(r)))
        .collect()
}

fn phase(record: &HealingAction) -> Option<ActionPhase> {
    record.status.as_ref().and_then(|s| s.phase)
}

/// Ends the lost cases of `records` (see [`lost`]). Each is read again
/// first, and written only if it did not change since: the record cache
/// may lag behind a verdict this process wrote a moment ago.
pub(super) async fn sweep(context: &Loop, work: &mut Work, records: &[Arc<HealingAction>]) {
    let lost: Vec<Arc<HealingAction>> = lost(records, &work.asking, &work.handled)
        .into_iter()
        .cloned()
        .collect();
    for cached in lost {
        // The lead lost since the cycle began: the leader may be asking
        // this case again, and its verdict must not be overwritten.
        if *context.leading.borrow() != work.term {
            return;
        }
        let name = cached.name_any();
        let actions: Api<HealingAction> = Api::namespaced(
            context.client.clone(),
            &cached.namespace().unwrap_or_default(),
        );
        let record = match actions.get_opt(&name).await {
            Ok(Some(record)) if phase(&record) == Some(ActionPhase::Pending) => record,
            Ok(_) => {
                work.handled.insert(Recorded::version_of(&cached));
                continue;
            }
            // Tried again at the next cycle.
            Err(error) => {
                tracing::warn!(%error, record = %name, "cannot read the AI case's record");
                continue;
            }
        };
        let Some(object) = record.spec.object.target_id() else {
            continue;
        };
        let status = HealingActionStatus {
            phase: Some(ActionPhase::Failed),
            message: Some(MESSAGE.into()),
            ai: Some(AiChoice {
                origin: INTERRUPTED.into(),
                ..AiChoice::default()
            }),
            ..HealingActionStatus::default()
        };
        // At the version read: an answer written since must not be
        // overwritten.
        let version = record.resource_version();
        let written =
            super::record::write_status_at(&actions, &name, status, version.as_deref()).await;
        let status = match written {
            Ok(status) => {
                work.handled.insert(Recorded::version_of(&cached));
                status
            }
            // Changed since it was read: an answer came after all.
            Err(kube::Error::Api(status)) if status.code == 409 => {
                work.handled.insert(Recorded::version_of(&cached));
                continue;
            }
            Err(error) => {
                tracing::warn!(%error, record = %name, "cannot end the lost AI case");
                continue;
            }
        };
        // A policy object holds one policy.
        context
            .registry
            .with_state(&record.spec.policy.uid, |state| {
                state.close(0, &object, Ledger::Actions)
            });
        tracing::warn!(record = %name, "{MESSAGE}");
        let record = HealingAction {
            status: Some(status),
            ..record
        };
        super::metrics::count(&record, ActionPhase::Failed, None);
        let target = record.spec.target.target_id().unwrap_or(object);
        context
            .announcer
            .tell(
                &record,
                &target,
                &record.spec.action.name,
                (EventType::Warning, "AIInterrupted"),
                MESSAGE,
            )
            .await;
    }
}

/// Whether `record` is a case that [`sweep`] ended, to be asked again.
pub fn was_interrupted(record: &HealingAction) -> bool {
    let status = record.status.as_ref();
    phase(record) == Some(ActionPhase::Failed)
        && status
            .and_then(|s| s.ai.as_ref())
            .is_some_and(|ai| ai.origin == INTERRUPTED)
}

/// The record named `name` when `decision` is an AI case that [`sweep`]
/// ended, for the same program and target: the case is asked again on it,
/// its interrupted answer cleared. A policy edited since (another hash)
/// or a target replaced keeps its ended record.
pub(super) async fn retried(
    context: &Loop,
    entry: &Entry,
    decision: &Decision,
    name: &str,
) -> Option<HealingAction> {
    if !matches!(decision, Decision::Ambiguous { .. }) {
        return None;
    }
    let mut record = context
        .observers
        .records()
        .into_iter()
        .find(|r| r.name_any() == name && was_interrupted(r))
        .map(|r| (*r).clone())?;
    let same = record.spec.policy.program_hash == entry.program_hash
        && record.spec.target.target_id().as_ref() == Some(decision.target());
    if !same {
        return None;
    }
    // A merge patch keeps what it leaves out: `null` clears the answer.
    let actions: Api<HealingAction> = Api::namespaced(
        context.client.clone(),
        &record.namespace().unwrap_or_default(),
    );
    let clear = serde_json::json!({"status": {"ai": null}});
    if let Err(error) = actions
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&clear))
        .await
    {
        tracing::warn!(%error, record = name, "cannot put the interrupted case again");
        return None;
    }
    if let Some(status) = record.status.as_mut() {
        status.ai = None;
    }
    Some(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(name: &str, phase: &str) -> Arc<HealingAction> {
        Arc::new(
            serde_json::from_value(serde_json::json!({
                "apiVersion": "kubeskippy.io/v1alpha1", "kind": "HealingAction",
                "metadata": {"name": name, "uid": format!("uid-{name}"), "resourceVersion": "3"},
                "spec": {
                    "policy": {"kind": "HealingPolicy", "name": "p", "uid": "u", "programHash": "h"},
                    "rule": {"number": 1, "fingerprint": "f", "text": "t"},
                    "target": {"kind": "Pod", "name": "a"}, "object": {"kind": "Pod", "name": "a"},
                    "action": {"name": "ask ai", "text": "ask ai among [restart]"},
                    "origin": {"kind": "rule"}, "firingSince": "2026-12-06T10:00:00Z"
                },
                "status": {"phase": phase}
            }))
            .expect("a record"),
        )
    }

    #[test]
    fn a_case_waiting_for_the_ai_with_nobody_asking_is_lost() {
        let records = [
            record("asked-here", "Pending"),
            record("asked-before-a-restart", "Pending"),
            record("answered", "AwaitingApproval"),
            record("ended", "Failed"),
        ];
        let asking = HashSet::from(["asked-here".to_string()]);
        let mut handled = Recorded::default();
        let names =
            |lost: Vec<&Arc<HealingAction>>| lost.iter().map(|r| r.name_any()).collect::<Vec<_>>();
        assert_eq!(
            names(lost(&records, &asking, &handled)),
            ["asked-before-a-restart"]
        );
        // Ended once: the record cache may still show it waiting.
        handled.insert(Recorded::version_of(&records[1]));
        assert!(lost(&records, &asking, &handled).is_empty());
    }

    #[test]
    fn only_a_case_ended_as_interrupted_is_asked_again() {
        let mut ended = (*record("r", "Failed")).clone();
        assert!(!was_interrupted(&ended), "a failure of its own");
        if let Some(status) = ended.status.as_mut() {
            status.ai = Some(AiChoice {
                origin: INTERRUPTED.into(),
                ..AiChoice::default()
            });
        }
        assert!(was_interrupted(&ended));
        // Asked again: waiting, then answered, the origin replaced.
        let mut again = ended.clone();
        if let Some(status) = again.status.as_mut() {
            status.phase = Some(ActionPhase::Pending);
        }
        assert!(!was_interrupted(&again), "in flight again");
        if let Some(status) = ended.status.as_mut() {
            status.ai = Some(AiChoice {
                origin: "ai".into(),
                ..AiChoice::default()
            });
        }
        assert!(!was_interrupted(&ended));
    }
}
