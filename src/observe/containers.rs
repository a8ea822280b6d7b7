//! A pod's regular containers as targets (`select containers`): one per
//! (namespace, pod, container) of `spec.containers`, named `POD/CONTAINER`,
//! made from the pods the observer already holds, so they need no watch
//! and no permission of their own. Init and ephemeral containers are no
//! targets: an init container that fails keeps its pod Pending, which the
//! pod's own reasons say, and an ephemeral one is a person's debugging
//! session.
//!
//! Pure: a pod in, its containers out. Their CPU and memory come from the
//! metric sources (see `queries` and the operator's metrics-server source),
//! landed by (namespace, pod, container).

use super::objects::{self, Observed};
use crate::catalog::CONTAINER_LABEL;
use crate::engine::observation::{Target, TargetId};
use k8s_openapi::api::core::v1::Pod;

/// The containers of `pod` at `now`, each with its own state's reasons,
/// `restarts` (its `restartCount`), `ready`, its OOM kills and its pod's
/// `age`, and labelled with its pod's labels and `container`, its own
/// name (which shadows a pod label of that name).
pub fn of_pod(pod: &Pod, now: i64) -> Vec<Observed> {
    let (Some(namespace), Some(name)) = (
        pod.metadata.namespace.as_deref(),
        pod.metadata.name.as_deref(),
    ) else {
        return Vec::new();
    };
    let statuses = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_deref())
        .unwrap_or_default();
    let mut names: Vec<&str> = pod
        .spec
        .iter()
        .flat_map(|s| &s.containers)
        .map(|c| c.name.as_str())
        .collect();
    // The spec names them; a status the spec does not (a pod read
    // half-written) still stands for a container.
    for status in statuses {
        if !names.contains(&status.name.as_str()) {
            names.push(&status.name);
        }
    }
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    let age = objects::age(&pod.metadata, now);
    names
        .into_iter()
        .filter(|container| !container.is_empty())
        .map(|container| {
            let mut target = Target::new(TargetId::container(namespace, name, container));
            target.labels = pod.metadata.labels.clone().unwrap_or_default();
            target
                .labels
                .insert(CONTAINER_LABEL.to_string(), container.to_string());
            let mut values = Vec::from_iter(age);
            let mut oom_kills = Vec::new();
            if let Some(status) = statuses.iter().find(|s| s.name == container) {
                objects::container_states(status, &mut target.statuses);
                values.push(("restarts", f64::from(status.restart_count.max(0))));
                // A finished pod's containers are not expected to be ready.
                if phase != Some("Succeeded") {
                    values.push(("ready", objects::flag(status.ready)));
                }
                oom_kills.extend(objects::oom_kill(status));
            }
            Observed {
                target,
                values,
                oom_kills,
            }
        })
        .collect()
}
