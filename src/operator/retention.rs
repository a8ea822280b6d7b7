//! Completed HealingActions are kept for a while and a number per
//! namespace, then deleted: audit records must never flood etcd. A record
//! still waiting (for a person, the AI or its verification) is never
//! collected, whatever its age.

use super::crd::{ActionPhase, HealingAction};
use crate::observe::objects::seconds;
use crate::safety::RecordRetention;
use kube::api::DeleteParams;
use kube::{Api, Client, ResourceExt};
use std::collections::BTreeMap;
use std::sync::Arc;

/// How often the records are looked over, in seconds.
pub const EVERY: i64 = 300;

fn completed(record: &HealingAction) -> bool {
    matches!(
        record.status.as_ref().and_then(|s| s.phase),
        Some(
            ActionPhase::Succeeded
                | ActionPhase::Failed
                | ActionPhase::Blocked
                | ActionPhase::Rejected
                | ActionPhase::DryRun
        )
    )
}

/// When a record last changed: its latest phase, or its creation.
fn last_change(record: &HealingAction) -> i64 {
    record
        .status
        .as_ref()
        .and_then(|s| s.transitions.values().map(seconds).max())
        .or_else(|| record.metadata.creation_timestamp.as_ref().map(seconds))
        .unwrap_or(0)
}

/// The (namespace, name) of every record to delete at `now`: completed ones
/// older than the retention, and the oldest completed ones beyond the cap
/// of each namespace.
pub fn expired(
    records: &[Arc<HealingAction>],
    retention: &RecordRetention,
    now: i64,
) -> Vec<(String, String)> {
    let max_age = i64::try_from(retention.max_age_seconds).unwrap_or(i64::MAX);
    let mut by_namespace: BTreeMap<String, Vec<(i64, String)>> = BTreeMap::new();
    for record in records.iter().filter(|r| completed(r)) {
        by_namespace
            .entry(record.namespace().unwrap_or_default())
            .or_default()
            .push((last_change(record), record.name_any()));
    }
    let mut out = Vec::new();
    for (namespace, mut records) in by_namespace {
        // Newest first: what is kept is a prefix.
        records.sort_by(|a, b| b.cmp(a));
        for (rank, (changed, name)) in records.into_iter().enumerate() {
            let too_old = now.saturating_sub(changed) > max_age;
            let too_many = rank >= retention.max_per_namespace as usize;
            if too_old || too_many {
                out.push((namespace.clone(), name));
            }
        }
    }
    out
}

/// Deletes the expired records; one that is gone already is fine.
pub async fn collect(
    client: &Client,
    records: &[Arc<HealingAction>],
    retention: &RecordRetention,
    now: i64,
) {
    let expired = expired(records, retention, now);
    if expired.is_empty() {
        return;
    }
    let mut deleted = 0;
    for (namespace, name) in &expired {
        let api: Api<HealingAction> = Api::namespaced(client.clone(), namespace);
        match api.delete(name, &DeleteParams::default()).await {
            Ok(_) => deleted += 1,
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(error) => tracing::warn!(%error, record = %name, "cannot delete an expired record"),
        }
    }
    tracing::info!(deleted, "expired HealingActions collected");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(namespace: &str, name: &str, phase: &str, at: &str) -> Arc<HealingAction> {
        Arc::new(
            serde_json::from_value(serde_json::json!({
                "apiVersion": "kubeskippy.io/v1alpha1", "kind": "HealingAction",
                "metadata": {"name": name, "namespace": namespace},
                "spec": {
                    "policy": {"kind": "HealingPolicy", "name": "p", "uid": "u", "programHash": "h"},
                    "rule": {"number": 1, "fingerprint": "f", "text": "t"},
                    "target": {"kind": "Pod", "name": "a"}, "object": {"kind": "Pod", "name": "a"},
                    "action": {"name": "restart", "text": "restart"},
                    "origin": {"kind": "rule"}, "firingSince": "2026-12-01T00:00:00Z"
                },
                "status": {"phase": phase, "transitions": {phase: at}}
            }))
            .expect("a record"),
        )
    }

    #[test]
    fn old_and_surplus_completed_records_go_and_waiting_ones_stay() {
        let now = 1_796_256_000; // 2026-12-03T00:00:00Z
        let records = [
            record("a", "old", "Succeeded", "2026-11-20T00:00:00Z"),
            record(
                "a",
                "waiting-old",
                "AwaitingApproval",
                "2026-11-20T00:00:00Z",
            ),
            record("a", "verifying-old", "Verifying", "2026-11-20T00:00:00Z"),
            record("a", "new", "Failed", "2026-12-02T00:00:00Z"),
            record("b", "b1", "Blocked", "2026-12-02T01:00:00Z"),
            record("b", "b2", "DryRun", "2026-12-02T02:00:00Z"),
            record("b", "b3", "Rejected", "2026-12-02T03:00:00Z"),
        ];
        let retention = RecordRetention {
            max_age_seconds: 7 * 86_400,
            max_per_namespace: 2,
        };
        let mut gone = expired(&records, &retention, now);
        gone.sort();
        assert_eq!(
            gone,
            [
                ("a".to_string(), "old".to_string()),
                ("b".to_string(), "b1".to_string()),
            ]
        );
    }
}
