//! Kubernetes objects as the engine reads them: a pod's, a workload's and a
//! node's status reasons (with since when, where the object says), its
//! labels, what owns it and where it runs, and the values of the catalog's
//! status and metadata metrics. Pure: objects in, values out.

use crate::catalog::Kind;
use crate::engine::observation::{Target, TargetId};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{ContainerStatus, Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use std::collections::BTreeSet;

/// An object as observed now: its target (without metric series) and the
/// current value of each metric it has, to append to its history.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub target: Target,
    pub values: Vec<(&'static str, f64)>,
    /// A pod's containers whose last termination was an OOM kill, with when
    /// it ended: the history counts each once, as `oom_kills`.
    pub oom_kills: Vec<(String, i64)>,
}

/// Seconds since the epoch of a Kubernetes time.
pub fn seconds(time: &Time) -> i64 {
    time.0.as_second()
}

/// The target id of the object `meta` of `kind`.
pub fn id(kind: Kind, meta: &ObjectMeta) -> TargetId {
    TargetId {
        kind,
        namespace: if kind.is_namespaced() {
            meta.namespace.clone()
        } else {
            None
        },
        name: meta.name.clone().unwrap_or_default(),
    }
}

fn base(kind: Kind, meta: &ObjectMeta) -> Target {
    let mut target = Target::new(id(kind, meta));
    target.labels = meta.labels.clone().unwrap_or_default();
    target
}

pub(super) fn age(meta: &ObjectMeta, now: i64) -> Option<(&'static str, f64)> {
    let created = seconds(meta.creation_timestamp.as_ref()?);
    Some(("age", now.saturating_sub(created).max(0) as f64))
}

/// Records since when `reason` holds, where the object says.
fn since(target: &mut Target, reason: &str, time: Option<&Time>) {
    if let Some(time) = time {
        target.status_since.insert(reason.into(), seconds(time));
    }
}

pub(super) fn flag(value: bool) -> f64 {
    if value {
        1.0
    } else {
        0.0
    }
}

/// The workload a pod's controller stands for: a ReplicaSet's Deployment
/// (looked up with `replica_set`), a StatefulSet, a DaemonSet; `None` for a
/// bare pod or one of another controller (a Job).
pub fn pod_owner<'a>(
    pod: &Pod,
    replica_set: impl Fn(&str, &str) -> Option<&'a ReplicaSet>,
) -> Option<TargetId> {
    let namespace = pod.metadata.namespace.clone()?;
    let controller = pod
        .metadata
        .owner_references
        .as_ref()?
        .iter()
        .find(|o| o.controller == Some(true))?;
    let workload = |kind: Kind, name: &str| {
        Some(TargetId {
            kind,
            namespace: Some(namespace.clone()),
            name: name.to_string(),
        })
    };
    match controller.kind.as_str() {
        "StatefulSet" => workload(Kind::StatefulSets, &controller.name),
        "DaemonSet" => workload(Kind::DaemonSets, &controller.name),
        "ReplicaSet" => {
            let rs = replica_set(&namespace, &controller.name)?;
            let deployment = rs
                .metadata
                .owner_references
                .as_ref()?
                .iter()
                .find(|o| o.controller == Some(true) && o.kind == "Deployment")?;
            workload(Kind::Deployments, &deployment.name)
        }
        _ => None,
    }
}

/// A pod: the status reasons its phase, conditions and containers show,
/// and `restarts`, `oom_kills`, `ready` and `age`.
pub fn pod(pod: &Pod, owner: Option<TargetId>, now: i64) -> Observed {
    let mut target = base(Kind::Pods, &pod.metadata);
    target.owner = owner;
    target.node = pod.spec.as_ref().and_then(|s| s.node_name.clone());
    let mut values = Vec::new();
    values.extend(age(&pod.metadata, now));
    let job_owned = pod
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.kind == "Job");
    values.push(("job_owned", flag(job_owned)));
    let Some(status) = &pod.status else {
        return Observed {
            target,
            values,
            oom_kills: Vec::new(),
        };
    };
    let phase = status.phase.as_deref().unwrap_or("");
    let containers: Vec<&ContainerStatus> = status
        .init_container_statuses
        .iter()
        .chain(status.container_statuses.iter())
        .flatten()
        .collect();
    for c in &containers {
        container_states(c, &mut target.statuses);
    }
    let restarts: i64 = containers.iter().map(|c| i64::from(c.restart_count)).sum();
    values.push(("restarts", restarts as f64));
    let oom_kills: Vec<(String, i64)> = containers.iter().filter_map(|c| oom_kill(c)).collect();
    let condition = |kind: &str| status.conditions.iter().flatten().find(|c| c.type_ == kind);
    match phase {
        "Pending" => {
            target.statuses.insert("Pending".into());
        }
        "Failed" if status.reason.as_deref() == Some("Evicted") => {
            target.statuses.insert("Evicted".into());
        }
        "Unknown" => {
            target.statuses.insert("PhaseUnknown".into());
        }
        _ => {}
    }
    if let Some(scheduled) = condition("PodScheduled") {
        for reason in ["Unschedulable", "SchedulingGated"] {
            if scheduled.status == "False" && scheduled.reason.as_deref() == Some(reason) {
                target.statuses.insert(reason.into());
                since(&mut target, reason, scheduled.last_transition_time.as_ref());
            }
        }
    }
    // A finished pod is not expected to be Ready.
    if phase != "Succeeded" {
        let ready = condition("Ready");
        let is_ready = ready.is_some_and(|c| c.status == "True");
        values.push(("ready", flag(is_ready)));
        if !is_ready {
            target.statuses.insert("NotReady".into());
            if let Some(since) = ready.and_then(|c| c.last_transition_time.as_ref()) {
                target
                    .status_since
                    .insert("NotReady".into(), seconds(since));
            }
        }
    }
    Observed {
        target,
        values,
        oom_kills,
    }
}

/// Adds the status reasons a container's state shows (`state` and
/// `lastState`): a pod's are its containers', a container's its own.
pub fn container_states(c: &ContainerStatus, statuses: &mut BTreeSet<String>) {
    let waiting = c.state.as_ref().and_then(|s| s.waiting.as_ref());
    if waiting.is_some() {
        statuses.insert("ContainerWaiting".into());
    }
    if let Some(reason) = waiting.and_then(|w| w.reason.as_deref()) {
        if matches!(
            reason,
            "CrashLoopBackOff" | "ImagePullBackOff" | "ErrImagePull" | "ContainerCreating"
        ) {
            statuses.insert(reason.to_string());
        }
    }
    let terminated = [c.state.as_ref(), c.last_state.as_ref()]
        .into_iter()
        .flatten()
        .filter_map(|s| s.terminated.as_ref());
    for t in terminated {
        if let Some(reason @ ("OOMKilled" | "Error")) = t.reason.as_deref() {
            statuses.insert(reason.into());
        }
    }
}

/// A container's last termination if it was an OOM kill: its name and
/// when it ended, which the history counts once (`oom_kills`).
pub fn oom_kill(c: &ContainerStatus) -> Option<(String, i64)> {
    let t = c.last_state.as_ref()?.terminated.as_ref()?;
    (t.reason.as_deref() == Some("OOMKilled"))
        .then(|| (c.name.clone(), t.finished_at.as_ref().map_or(0, seconds)))
}

/// The taints that announce a node's removal (`BeingRemoved`).
const REMOVAL_TAINTS: [&str; 3] = [
    "ToBeDeletedByClusterAutoscaler",
    "cloud.google.com/impending-node-termination",
    "aws-node-termination-handler/spot-itn",
];

/// A node: `NotReady`, `MemoryPressure`, `DiskPressure`, `PIDPressure` (each
/// since its condition's last transition), `Unreachable` and `BeingRemoved`
/// (its taints), their metrics, whether it is cordoned, the pods it can
/// run, and `age`. The pods running on it are counted by
/// [`super::snapshot`], which sees them all.
pub fn node(node: &Node, now: i64) -> Observed {
    let mut target = base(Kind::Nodes, &node.metadata);
    let mut values = Vec::new();
    values.extend(age(&node.metadata, now));
    let spec = node.spec.as_ref();
    values.push((
        "cordoned",
        flag(spec.and_then(|s| s.unschedulable).unwrap_or(false)),
    ));
    for taint in spec.and_then(|s| s.taints.as_ref()).into_iter().flatten() {
        if taint.key == "node.kubernetes.io/unreachable" && taint.effect == "NoSchedule" {
            target.statuses.insert("Unreachable".into());
            since(&mut target, "Unreachable", taint.time_added.as_ref());
        }
        if REMOVAL_TAINTS.contains(&taint.key.as_str()) {
            target.statuses.insert("BeingRemoved".into());
        }
    }
    let capacity = node
        .status
        .as_ref()
        .and_then(|s| s.capacity.as_ref())
        .and_then(|c| c.get("pods"))
        .and_then(|q| crate::act::quantity::parse(&q.0));
    if let Some(capacity) = capacity {
        values.push(("pod_capacity", capacity));
    }
    let conditions = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .map(Vec::as_slice)
        .unwrap_or_default();
    let find = |kind: &str| conditions.iter().find(|c| c.type_ == kind);
    let ready = find("Ready");
    let is_ready = ready.is_some_and(|c| c.status == "True");
    values.push(("ready", flag(is_ready)));
    if !is_ready {
        target.statuses.insert("NotReady".into());
        if let Some(since) = ready.and_then(|c| c.last_transition_time.as_ref()) {
            target
                .status_since
                .insert("NotReady".into(), seconds(since));
        }
    }
    for (condition, metric) in [
        ("MemoryPressure", "memory_pressure"),
        ("DiskPressure", "disk_pressure"),
        ("PIDPressure", "pid_pressure"),
    ] {
        let Some(c) = find(condition) else {
            continue;
        };
        let on = c.status == "True";
        values.push((metric, flag(on)));
        if on {
            target.statuses.insert(condition.into());
            since(&mut target, condition, c.last_transition_time.as_ref());
        }
    }
    Observed {
        target,
        values,
        oom_kills: Vec::new(),
    }
}

/// A workload's replica counts as its status reports them, in the
/// catalog's names; `None` where the status has no such field yet.
#[derive(Debug, Default)]
struct Replicas {
    desired: Option<i32>,
    existing: Option<i32>,
    ready: Option<i32>,
    available: Option<i32>,
    updated: Option<i32>,
    unavailable: Option<i32>,
    observed_generation: Option<i64>,
    misscheduled: Option<i32>,
}

/// A workload's own values: replicas desired, existing, ready, available,
/// updated and not available, generations, age. Its pods' statuses and
/// metrics are added by [`super::aggregate`].
pub fn deployment(d: &Deployment, now: i64) -> Observed {
    let status = d.status.as_ref();
    let desired = d.spec.replicas.unwrap_or(1);
    let available = status.and_then(|s| s.available_replicas).unwrap_or(0);
    let replicas = Replicas {
        desired: Some(desired),
        existing: Some(status.and_then(|s| s.replicas).unwrap_or(0)),
        ready: Some(status.and_then(|s| s.ready_replicas).unwrap_or(0)),
        available: Some(available),
        updated: Some(status.and_then(|s| s.updated_replicas).unwrap_or(0)),
        unavailable: Some(
            status
                .and_then(|s| s.unavailable_replicas)
                .unwrap_or((desired - available).max(0)),
        ),
        observed_generation: status.and_then(|s| s.observed_generation),
        misscheduled: None,
    };
    let mut observed = workload(Kind::Deployments, &d.metadata, &replicas, now);
    let progressing = status
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .find(|c| {
            c.type_.as_deref() == Some("Progressing") && c.status.as_deref() == Some("False")
        });
    if let Some(condition) = progressing {
        for reason in ["ProgressDeadlineExceeded", "ReplicaSetCreateError"] {
            if condition.reason.as_deref() == Some(reason) {
                observed.target.statuses.insert(reason.into());
                since(
                    &mut observed.target,
                    reason,
                    condition.last_transition_time.as_ref(),
                );
            }
        }
    }
    observed
}

pub fn stateful_set(s: &StatefulSet, now: i64) -> Observed {
    let status = s.status.as_ref();
    let desired = s.spec.replicas.unwrap_or(1);
    let available = status.and_then(|s| s.available_replicas).unwrap_or(0);
    let replicas = Replicas {
        desired: Some(desired),
        existing: status.map(|s| s.replicas),
        ready: Some(status.and_then(|s| s.ready_replicas).unwrap_or(0)),
        available: Some(available),
        updated: Some(status.and_then(|s| s.updated_replicas).unwrap_or(0)),
        unavailable: Some((desired - available).max(0)),
        observed_generation: status.and_then(|s| s.observed_generation),
        misscheduled: None,
    };
    let mut observed = workload(Kind::StatefulSets, &s.metadata, &replicas, now);
    if let Some(status) = status {
        // Both revisions are set once the controller has seen the set.
        if let (Some(current), Some(update)) = (&status.current_revision, &status.update_revision) {
            observed
                .values
                .push(("update_revision_pending", flag(current != update)));
        }
    }
    observed
}

pub fn daemon_set(d: &DaemonSet, now: i64) -> Observed {
    let status = d.status.as_ref();
    let replicas = Replicas {
        desired: status.map(|s| s.desired_number_scheduled),
        existing: status.map(|s| s.current_number_scheduled),
        ready: status.map(|s| s.number_ready),
        available: Some(status.and_then(|s| s.number_available).unwrap_or(0)),
        updated: Some(status.and_then(|s| s.updated_number_scheduled).unwrap_or(0)),
        unavailable: Some(status.and_then(|s| s.number_unavailable).unwrap_or(0)),
        observed_generation: status.and_then(|s| s.observed_generation),
        misscheduled: status.map(|s| s.number_misscheduled),
    };
    workload(Kind::DaemonSets, &d.metadata, &replicas, now)
}

fn workload(kind: Kind, meta: &ObjectMeta, replicas: &Replicas, now: i64) -> Observed {
    let target = base(kind, meta);
    let mut values = Vec::new();
    values.extend(age(meta, now));
    let counts = [
        ("replicas", replicas.desired),
        ("existing_replicas", replicas.existing),
        ("ready_replicas", replicas.ready),
        ("available_replicas", replicas.available),
        ("updated_replicas", replicas.updated),
        ("unavailable_replicas", replicas.unavailable),
        ("misscheduled_pods", replicas.misscheduled),
    ];
    for (name, count) in counts {
        if let Some(count) = count {
            values.push((name, f64::from(count.max(0))));
        }
    }
    if let Some(generation) = meta.generation {
        values.push(("generation", generation as f64));
    }
    if let Some(observed) = replicas.observed_generation {
        values.push(("observed_generation", observed as f64));
    }
    Observed {
        target,
        values,
        oom_kills: Vec::new(),
    }
}
