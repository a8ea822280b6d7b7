//! The engine's state of each policy object, kept in a ConfigMap beside it,
//! so that a restarted operator (or the replica that takes over) resumes its
//! `for` timers, `limit` and `cooldown` history and open requests instead of
//! starting over — which could act again on what was just healed.
//!
//! The ConfigMap is owned by the policy object (garbage-collected with it):
//! for a `HealingPolicy` in its namespace, for a `ClusterHealingPolicy` in
//! the operator's. It is written when the state changes, not for a timer
//! that only advanced, but at least once a minute while timers run, so that
//! what a restart reads says how long ago they were last checked (the gap
//! rule, `engine::gap`, takes it from there).

use super::crd::PolicyKind;
use super::policy_controller::MANAGER;
use super::registry::{fnv1a, Entry};
use super::shard::Shard;
use crate::engine::state::State;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};

/// The key of the state in the ConfigMap's data.
const KEY: &str = "state.json";

/// A state already written is written again after this long even if only
/// its timers advanced.
pub const REFRESH_SECONDS: i64 = 60;

/// Where the state of `entry` lives: the ConfigMap's namespace and name.
/// Each shard keeps its own state of a policy the shards share (a
/// ClusterHealingPolicy's timers run in every shard, on its namespaces).
pub fn location(entry: &Entry, operator_namespace: &str, shard: Shard) -> (String, String) {
    let namespace = entry
        .namespace
        .clone()
        .unwrap_or_else(|| operator_namespace.to_string());
    (
        namespace,
        format!("kubeskippy-state-{}{}", entry.uid, shard.suffix()),
    )
}

/// The state persisted for `entry`, if any and readable. A state that does
/// not read (a version from another build) is ignored, loudly: the policy
/// starts over, which is safe (timers start again; the records' names
/// still keep a firing from acting twice).
pub async fn load(
    client: &Client,
    entry: &Entry,
    operator_namespace: &str,
    shard: Shard,
) -> Option<State> {
    let (namespace, name) = location(entry, operator_namespace, shard);
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), &namespace);
    let map = match maps.get_opt(&name).await {
        Ok(map) => map?,
        Err(error) => {
            tracing::warn!(%error, %name, "cannot read the policy's saved state; starting over");
            return None;
        }
    };
    let text = map.data.as_ref()?.get(KEY)?;
    match serde_json::from_str(text) {
        Ok(state) => Some(state),
        Err(error) => {
            tracing::warn!(%error, %name, "the policy's saved state does not read; starting over");
            None
        }
    }
}

/// What decides whether the state changed: everything but when each timer
/// was last checked, which changes every cycle.
pub fn fingerprint(state: &State) -> u64 {
    let mut shape = state.clone();
    for policy in &mut shape.policies {
        for timers in policy.timers.values_mut() {
            for timer in timers.values_mut() {
                timer.checked = 0;
            }
        }
    }
    fnv1a(serde_json::to_string(&shape).unwrap_or_default().as_bytes())
}

/// Whether `state`, of `fingerprint`, should be written now, given what
/// was written last (its fingerprint and when).
pub fn due(state: &State, fingerprint: u64, last: Option<(u64, i64)>, now: i64) -> bool {
    match last {
        None => state.timer_count() > 0 || state.policies.iter().any(|p| !p.history.is_empty()),
        Some((written, at)) => {
            written != fingerprint
                || (state.timer_count() > 0 && now.saturating_sub(at) >= REFRESH_SECONDS)
        }
    }
}

/// Writes `state` for `entry` (server-side apply), owned by its policy
/// object.
pub async fn save(
    client: &Client,
    entry: &Entry,
    state: &State,
    operator_namespace: &str,
    shard: Shard,
) -> Result<(), kube::Error> {
    let (namespace, name) = location(entry, operator_namespace, shard);
    let text = serde_json::to_string(state).unwrap_or_default();
    let (api_version, kind) = match entry.kind {
        PolicyKind::HealingPolicy => (super::crd::API_VERSION, "HealingPolicy"),
        PolicyKind::ClusterHealingPolicy => (super::crd::API_VERSION, "ClusterHealingPolicy"),
    };
    let map = serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {
                "app.kubernetes.io/managed-by": "kubeskippy",
                "kubeskippy.io/policy-uid": entry.uid,
            },
            "ownerReferences": [{
                "apiVersion": api_version,
                "kind": kind,
                "name": entry.name,
                "uid": entry.uid,
            }],
        },
        "data": { KEY: text },
    });
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), &namespace);
    maps.patch(
        &name,
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&map),
    )
    .await
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::observation::TargetId;
    use crate::engine::state::{PolicyState, Timer};

    fn with_timer(checked: i64) -> State {
        let mut timers = std::collections::BTreeMap::new();
        timers.insert(
            TargetId {
                kind: crate::catalog::Kind::Pods,
                namespace: Some("shop".into()),
                name: "a".into(),
            },
            [(
                "f00d".to_string(),
                Timer {
                    since: 0,
                    unknown_since: None,
                    checked,
                },
            )]
            .into(),
        );
        State {
            policies: vec![PolicyState {
                timers,
                ..PolicyState::default()
            }],
        }
    }

    #[test]
    fn a_timer_that_only_advanced_is_written_once_a_minute() {
        let due_now = |state: &State, last, now| due(state, fingerprint(state), last, now);
        let state = with_timer(100);
        assert!(due_now(&state, None, 100), "never written");
        let written = Some((fingerprint(&state), 100));
        assert!(
            !due_now(&with_timer(115), written, 115),
            "only checked again"
        );
        assert!(due_now(&with_timer(160), written, 160), "a minute later");
        assert!(!due_now(&State::default(), None, 0), "nothing to keep");
        assert!(due_now(&State::default(), written, 115), "the timer ended");
    }
}
