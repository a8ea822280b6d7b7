//! Each policy's circuit breaker, hourly count, the data its rules lacked
//! and the watches down that it reads from, where people look: the
//! policy's status (`kubectl get healingpolicy -o yaml`), and an Event on the
//! policy when its breaker opens or closes. Both are computed from the
//! records (see [`super::recent`]), so they say the same after a restart.

use super::crd::{BreakerState, ClusterHealingPolicy, HealingPolicy, PolicyKind};
use super::evaluation::{Loop, Work};
use super::metrics::{PolicyLabels, METRICS};
use super::recent::Recent;
use super::registry::Entry;
use crate::safety::{actions_this_hour, breaker_open_until};
use k8s_openapi::api::core::v1::ObjectReference;
use kube::api::{Patch, PatchParams};
use kube::runtime::events::{Event, EventType};
use kube::{Api, Resource};
use std::collections::HashMap;

/// What was last written on each policy's status, by uid.
pub type Reported = HashMap<String, Said>;

/// What a policy's status says of its runtime.
#[derive(Debug, Clone, PartialEq)]
pub struct Said {
    pub breaker: BreakerState,
    pub actions_this_hour: u32,
    pub without_data: Vec<String>,
    pub watches_down: Vec<String>,
}

/// Writes each policy's breaker state and hourly count where they changed.
pub(super) async fn report(context: &Loop, work: &mut Work, recent: &Recent, now: i64) {
    for entry in context.registry.snapshot() {
        // The status is one object: the policy's own shard writes it.
        if !context.shard.owns(entry.namespace.as_deref()) {
            continue;
        }
        let history = recent.policy(&entry.uid);
        let open = breaker_open_until(&history, &context.safety, now);
        let state = if open.is_some() {
            BreakerState::Open
        } else {
            BreakerState::Closed
        };
        let count = u32::try_from(actions_this_hour(&history, now)).unwrap_or(u32::MAX);
        let without: Vec<String> = work
            .without_data
            .get(&entry.uid)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        METRICS
            .breaker_open
            .get_or_create(&PolicyLabels {
                policy: label(&entry),
            })
            .set(i64::from(open.is_some()));
        let now_said = Said {
            breaker: state,
            actions_this_hour: count,
            without_data: without,
            watches_down: work
                .watches_down
                .get(&entry.uid)
                .cloned()
                .unwrap_or_default(),
        };
        let before = work.reported.get(&entry.uid).cloned();
        if before.as_ref() == Some(&now_said) {
            continue;
        }
        if let Err(error) = write(context, &entry, &now_said).await {
            tracing::warn!(%error, policy = %entry.name, "cannot write the breaker's state");
            continue;
        }
        work.reported.insert(entry.uid.clone(), now_said);
        let changed = before.as_ref().map(|s| s.breaker) != Some(state);
        if changed && (state == BreakerState::Open || before.is_some()) {
            announce(context, &entry, state, open, history.failures.len()).await;
        }
    }
    work.reported
        .retain(|uid, _| context.registry.contains(uid));
}

/// The policy as its metric's label names it: `namespace/name`, or the
/// cluster policy's name.
fn label(entry: &Entry) -> String {
    match &entry.namespace {
        Some(namespace) => format!("{namespace}/{}", entry.name),
        None => entry.name.clone(),
    }
}

/// The merge patch of a policy's status that says `said`.
fn status_patch(said: &Said) -> serde_json::Value {
    serde_json::json!({
        "status": {
            "breaker": said.breaker,
            "actionsThisHour": said.actions_this_hour,
            "withoutData": said.without_data,
            "watchesDown": said.watches_down,
        }
    })
}

async fn write(context: &Loop, entry: &Entry, said: &Said) -> Result<(), kube::Error> {
    let patch = status_patch(said);
    let params = PatchParams::default();
    match (entry.kind, &entry.namespace) {
        (PolicyKind::HealingPolicy, Some(namespace)) => {
            Api::<HealingPolicy>::namespaced(context.client.clone(), namespace)
                .patch_status(&entry.name, &params, &Patch::Merge(&patch))
                .await?;
        }
        _ => {
            Api::<ClusterHealingPolicy>::all(context.client.clone())
                .patch_status(&entry.name, &params, &Patch::Merge(&patch))
                .await?;
        }
    }
    Ok(())
}

async fn announce(
    context: &Loop,
    entry: &Entry,
    state: BreakerState,
    until: Option<i64>,
    failures: usize,
) {
    let (type_, reason, note) = match state {
        BreakerState::Open => (
            EventType::Warning,
            "CircuitBreakerOpen",
            format!(
                "{failures} actions of this policy failed to heal recently; it acts again \
                 at {} (epoch seconds) if no other fails",
                until.unwrap_or_default()
            ),
        ),
        _ => (
            EventType::Normal,
            "CircuitBreakerClosed",
            "the policy acts again".to_string(),
        ),
    };
    let regarding = match entry.kind {
        PolicyKind::HealingPolicy => ObjectReference {
            api_version: Some(HealingPolicy::api_version(&()).into()),
            kind: Some(HealingPolicy::kind(&()).into()),
            namespace: entry.namespace.clone(),
            name: Some(entry.name.clone()),
            uid: Some(entry.uid.clone()),
            ..ObjectReference::default()
        },
        PolicyKind::ClusterHealingPolicy => ObjectReference {
            api_version: Some(ClusterHealingPolicy::api_version(&()).into()),
            kind: Some(ClusterHealingPolicy::kind(&()).into()),
            name: Some(entry.name.clone()),
            uid: Some(entry.uid.clone()),
            ..ObjectReference::default()
        },
    };
    let event = Event {
        type_,
        reason: reason.into(),
        note: Some(note),
        action: "CircuitBreaker".into(),
        secondary: None,
    };
    context.announcer.publish(&event, &regarding).await;
    tracing::warn!(policy = %entry.name, ?state, failures, "circuit breaker");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::crd::PolicyStatus;

    /// The patch's keys are the status's fields: the API server prunes a
    /// key its schema does not have, silently.
    #[test]
    fn the_status_patch_says_what_had_no_data_and_which_watches_are_down() {
        let said = Said {
            breaker: BreakerState::Closed,
            actions_this_hour: 2,
            without_data: vec!["status NotReady".into()],
            watches_down: vec!["pods".into()],
        };
        let status: PolicyStatus =
            serde_json::from_value(status_patch(&said)["status"].clone()).expect("a status");
        assert_eq!(status.breaker, Some(BreakerState::Closed));
        assert_eq!(status.actions_this_hour, Some(2));
        assert_eq!(status.without_data, ["status NotReady"]);
        assert_eq!(status.watches_down, ["pods"]);
    }
}
