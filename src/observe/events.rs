//! Kubernetes Events as the engine counts them (`event BackOff count > 3
//! within 10m`): each Event of `events.k8s.io/v1` (which also serves the
//! core/v1 Events kubelets write) becomes occurrences on the object it is
//! about.
//!
//! A folded Event says "N times between first and last". Crediting all N to
//! the last time would make a slow trickle over an hour look like a burst
//! within any window that holds its last time; so the count is spread evenly
//! over the series, in at most [`SPREAD`] steps.

use super::HashMap;
use crate::catalog::Kind;
use crate::engine::observation::{Event as Occurrence, TargetId};
use k8s_openapi::api::events::v1::Event;
use std::sync::Arc;

/// The most occurrences one Event is spread into.
pub const SPREAD: u32 = 20;

/// The kind of an Event's `regarding` object, as the engine names it: every
/// kind a policy can select that is a Kubernetes object (the cluster and a
/// node's filesystems are not, and no Event is about them).
fn kind(kind: &str) -> Option<Kind> {
    Some(match kind {
        "Pod" => Kind::Pods,
        "Node" => Kind::Nodes,
        "Deployment" => Kind::Deployments,
        "StatefulSet" => Kind::StatefulSets,
        "DaemonSet" => Kind::DaemonSets,
        "Job" => Kind::Jobs,
        "HorizontalPodAutoscaler" => Kind::HorizontalPodAutoscalers,
        "PersistentVolumeClaim" => Kind::PersistentVolumeClaims,
        "PodDisruptionBudget" => Kind::PodDisruptionBudgets,
        "ResourceQuota" => Kind::ResourceQuotas,
        "PersistentVolume" => Kind::PersistentVolumes,
        _ => return None,
    })
}

/// When an Event first and last happened, and how often, in seconds: a
/// series' count and last time where it has one, the deprecated core/v1
/// fields where the kubelet wrote those, its own time otherwise.
fn span(event: &Event) -> Option<(i64, i64, u32)> {
    let micro = |t: &k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime| t.0.as_second();
    let time = |t: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time| t.0.as_second();
    let first = event
        .deprecated_first_timestamp
        .as_ref()
        .map(time)
        .or_else(|| event.event_time.as_ref().map(micro))
        .or_else(|| event.metadata.creation_timestamp.as_ref().map(time))?;
    let last = event
        .series
        .as_ref()
        .map(|s| micro(&s.last_observed_time))
        .or_else(|| event.deprecated_last_timestamp.as_ref().map(time))
        .unwrap_or(first)
        .max(first);
    let count = event
        .series
        .as_ref()
        .map(|s| s.count)
        .or(event.deprecated_count)
        .unwrap_or(1)
        .max(1);
    Some((first, last, u32::try_from(count).unwrap_or(u32::MAX)))
}

/// `count` occurrences from `first` to `last`, in at most [`SPREAD`] steps
/// whose counts add up to `count`.
pub fn spread(reason: &str, first: i64, last: i64, count: u32) -> Vec<Occurrence> {
    let steps = count.clamp(1, SPREAD);
    let (share, rest) = (count / steps, count % steps);
    (0..steps)
        .map(|i| {
            let at = if steps == 1 {
                last
            } else {
                first + (last - first) * i64::from(i) / i64::from(steps - 1)
            };
            Occurrence {
                reason: reason.to_string(),
                at,
                // The later steps take the remainder: the newest count most.
                count: share + u32::from(i >= steps - rest),
            }
        })
        .collect()
}

/// The occurrences of `events`, by the object each is about.
pub fn by_object(events: &[Arc<Event>]) -> HashMap<TargetId, Vec<Occurrence>> {
    let mut out: HashMap<TargetId, Vec<Occurrence>> = HashMap::default();
    for event in events {
        let Some(regarding) = &event.regarding else {
            continue;
        };
        let (Some(kind), Some(name), Some(reason)) = (
            regarding.kind.as_deref().and_then(kind),
            regarding.name.clone(),
            event.reason.as_deref(),
        ) else {
            continue;
        };
        let Some((first, last, count)) = span(event) else {
            continue;
        };
        let id = TargetId {
            kind,
            // A cluster-scoped object's Event is in some namespace
            // (`default`), which names nothing about the object.
            namespace: if kind.is_namespaced() {
                regarding.namespace.clone()
            } else {
                None
            },
            name,
        };
        out.entry(id)
            .or_default()
            .extend(spread(reason, first, last, count));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folded_event_is_spread_over_its_series_and_adds_up() {
        let spread = spread("BackOff", 1_000, 4_600, 45);
        assert_eq!(spread.len(), 20);
        assert_eq!(spread.iter().map(|o| o.count).sum::<u32>(), 45);
        assert_eq!(spread[0].at, 1_000);
        assert_eq!(spread[19].at, 4_600);
        // Within the last 10 minutes of an hour-long trickle: about a sixth
        // of it (20 steps round it up), not all 45.
        let recent: u32 = spread
            .iter()
            .filter(|o| o.at > 4_000)
            .map(|o| o.count)
            .sum();
        assert!((6..=12).contains(&recent), "{recent}");
    }

    #[test]
    fn core_and_new_events_land_on_their_object() {
        let core: Event = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "e1", "namespace": "shop"},
            "reason": "BackOff",
            "regarding": {"kind": "Pod", "namespace": "shop", "name": "web-1"},
            "deprecatedFirstTimestamp": "2026-12-06T10:00:00Z",
            "deprecatedLastTimestamp": "2026-12-06T10:00:30Z",
            "deprecatedCount": 4
        }))
        .expect("an event");
        let series: Event = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "e2", "namespace": "default"},
            "reason": "NodeNotReady",
            "eventTime": "2026-12-06T10:00:00.000000Z",
            "regarding": {"kind": "Node", "name": "node-1"},
            "series": {"count": 3, "lastObservedTime": "2026-12-06T10:05:00.000000Z"}
        }))
        .expect("an event");
        let found = by_object(&[Arc::new(core), Arc::new(series)]);
        let pod = TargetId {
            kind: Kind::Pods,
            namespace: Some("shop".into()),
            name: "web-1".into(),
        };
        assert_eq!(found[&pod].iter().map(|o| o.count).sum::<u32>(), 4);
        let node = TargetId {
            kind: Kind::Nodes,
            namespace: None,
            name: "node-1".into(),
        };
        let on_node = &found[&node];
        assert_eq!(on_node.iter().map(|o| o.count).sum::<u32>(), 3);
        assert_eq!(on_node.last().map(|o| o.at), Some(1_796_551_500));
    }

    #[test]
    fn an_event_about_a_cluster_scoped_object_names_no_namespace() {
        // Events about a volume are written in `default` and may name it in
        // `regarding`: the volume's target has no namespace all the same.
        let event: Event = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "pv.1", "namespace": "default"},
            "reason": "VolumeFailedDelete",
            "eventTime": "2026-12-06T10:00:00.000000Z",
            "regarding": {"kind": "PersistentVolume", "namespace": "default", "name": "pv-1"}
        }))
        .expect("an event");
        let found = by_object(&[Arc::new(event)]);
        let volume = TargetId {
            kind: Kind::PersistentVolumes,
            namespace: None,
            name: "pv-1".into(),
        };
        assert_eq!(found[&volume].len(), 1, "{found:?}");
    }
}
