//! The operator observes everything the language names: every status and
//! metadata metric, and every status reason, of every kind, comes out of
//! [`super::snapshot`] for objects that show it. (Metrics that come from
//! metrics-server, Prometheus or the kubelet are the sources' business.)

use super::*;
use crate::catalog::{Kind, Source, METRICS, STATUS_REASONS};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

const NOW: i64 = 1_800_000_000;
const CREATED: &str = "2027-01-15T07:00:00Z";

fn object<K: serde::de::DeserializeOwned>(value: Value) -> Arc<K> {
    Arc::new(serde_json::from_value(value).expect("an object"))
}

fn meta(name: &str, owner: Option<(&str, &str)>) -> Value {
    let mut meta = json!({"name": name, "namespace": "shop", "creationTimestamp": CREATED,
                          "labels": {"app": "web"}, "generation": 2});
    if let Some((kind, owner)) = owner {
        meta["ownerReferences"] = json!([{"apiVersion": "v1", "kind": kind, "name": owner,
                                           "uid": "u", "controller": true}]);
    }
    meta
}

/// A pod of `owner` in `status`, on node-1.
fn pod(name: &str, owner: Option<(&str, &str)>, status: Value) -> Arc<Pod> {
    object(json!({
        "metadata": meta(name, owner),
        "spec": {"nodeName": "node-1", "containers": [{"name": "app"}]},
        "status": status
    }))
}

fn waiting(reason: &str) -> Value {
    json!({"phase": "Pending", "containerStatuses": [{"name": "app", "image": "x", "imageID": "",
        "ready": false, "restartCount": 0, "state": {"waiting": {"reason": reason}}}]})
}

fn terminated(reason: &str) -> Value {
    json!({"phase": "Running", "containerStatuses": [{"name": "app", "image": "x", "imageID": "",
        "ready": false, "restartCount": 2, "state": {"running": {}},
        "lastState": {"terminated": {"exitCode": 1, "reason": reason,
                                      "finishedAt": "2027-01-15T07:59:00Z"}}}]})
}

fn scheduled(reason: &str) -> Value {
    json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
        "reason": reason, "lastTransitionTime": "2027-01-15T07:50:00Z"}]})
}

fn cluster() -> Cluster {
    let rs = Some(("ReplicaSet", "web-1"));
    let pods = vec![
        pod("a", rs, waiting("CrashLoopBackOff")),
        pod("b", rs, waiting("ImagePullBackOff")),
        pod("c", rs, waiting("ErrImagePull")),
        pod("d", rs, waiting("ContainerCreating")),
        pod("e", rs, terminated("OOMKilled")),
        pod("f", rs, terminated("Error")),
        pod("g", rs, scheduled("Unschedulable")),
        pod("h", rs, scheduled("SchedulingGated")),
        pod("i", rs, json!({"phase": "Failed", "reason": "Evicted"})),
        pod("j", rs, json!({"phase": "Unknown"})),
        pod("k", Some(("Job", "report")), json!({"phase": "Running"})),
        pod(
            "l",
            Some(("StatefulSet", "db")),
            json!({"phase": "Running"}),
        ),
        pod(
            "m",
            Some(("DaemonSet", "agent")),
            json!({"phase": "Running"}),
        ),
    ];
    // What the cluster's requests sum: one pod asks for CPU and memory.
    let mut pods = pods;
    pods.push(object(json!({
        "metadata": meta("n", None),
        "spec": {"containers": [{"name": "app",
            "resources": {"requests": {"cpu": "1500m", "memory": "1Gi"}}}]},
        "status": {"phase": "Running"}
    })));
    Cluster {
        pods,
        replica_sets: vec![object(
            json!({"metadata": meta("web-1", Some(("Deployment", "web-ProgressDeadlineExceeded")))}),
        )],
        deployments: ["ProgressDeadlineExceeded", "ReplicaSetCreateError"]
            .iter()
            .map(|reason| {
                object(json!({
                    "metadata": meta(&format!("web-{reason}"), None),
                    "spec": {"replicas": 3, "selector": {}, "template": {}},
                    "status": {"replicas": 3, "observedGeneration": 1, "conditions": [
                        {"type": "Progressing", "status": "False", "reason": reason}]}
                }))
            })
            .collect(),
        stateful_sets: vec![object(json!({
            "metadata": meta("db", None),
            "spec": {"replicas": 1, "selector": {}, "template": {}, "serviceName": "db"},
            "status": {"replicas": 1, "currentRevision": "db-1", "updateRevision": "db-2",
                       "observedGeneration": 2}
        }))],
        daemon_sets: vec![object(json!({
            "metadata": meta("agent", None),
            "spec": {"selector": {}, "template": {}},
            "status": {"currentNumberScheduled": 1, "desiredNumberScheduled": 1,
                       "numberMisscheduled": 0, "numberReady": 1, "observedGeneration": 2}
        }))],
        revisions: vec![object(
            json!({"metadata": meta("db-2", Some(("StatefulSet", "db"))),
                                       "revision": 2}),
        )],
        nodes: vec![object(json!({
            "metadata": {"name": "node-1", "creationTimestamp": CREATED},
            "spec": {"unschedulable": true, "taints": [
                {"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"},
                {"key": "ToBeDeletedByClusterAutoscaler", "effect": "NoSchedule"}]},
            "status": {"capacity": {"pods": "110"},
                       "allocatable": {"pods": "110", "cpu": "4", "memory": "16Gi"},
                       "conditions": [
                {"type": "Ready", "status": "Unknown"},
                {"type": "MemoryPressure", "status": "True"},
                {"type": "DiskPressure", "status": "True"},
                {"type": "PIDPressure", "status": "True"}]}
        }))],
        jobs: vec![
            object(json!({
                "metadata": meta("report", None),
                "spec": {"template": {}},
                "status": {"active": 0, "failed": 2, "startTime": "2027-01-15T07:30:00Z",
                    "conditions": [{"type": "Failed", "status": "True"}]}
            })),
            object(json!({
                "metadata": meta("backup", None),
                "spec": {"template": {}, "completions": 1},
                "status": {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}
            })),
        ],
        autoscalers: vec![object(json!({
            "metadata": meta("web", None),
            "spec": {"maxReplicas": 5, "scaleTargetRef": {"kind": "Deployment", "name": "web"}},
            "status": {"currentReplicas": 5, "desiredReplicas": 5}
        }))],
        claims: vec![
            object(json!({"metadata": meta("data", None),
                          "spec": {"accessModes": ["ReadWriteOnce"]}, "status": {"phase": "Pending"}})),
            object(json!({"metadata": meta("old", None),
                          "spec": {"accessModes": ["ReadOnlyMany"]}, "status": {"phase": "Lost"}})),
        ],
        budgets: vec![object(json!({
            "metadata": meta("web", None),
            "spec": {"minAvailable": 3},
            "status": {"currentHealthy": 1, "desiredHealthy": 3, "expectedPods": 3,
                       "disruptionsAllowed": 0}
        }))],
        // Pods past their lowered hard limit, memory requests still below theirs.
        quotas: vec![object(json!({
            "metadata": meta("compute", None),
            "spec": {"hard": {"pods": "4", "requests.memory": "2Gi"}},
            "status": {"hard": {"pods": "4", "requests.memory": "2Gi"},
                       "used": {"pods": "5", "requests.memory": "1536Mi"}}
        }))],
        // One volume per phase a policy can name; cluster-scoped.
        volumes: ["Pending", "Failed", "Released"]
            .into_iter()
            .map(|phase| {
                object(json!({
                    "metadata": {"name": format!("pv-{}", phase.to_lowercase()),
                                 "creationTimestamp": CREATED},
                    "status": {"phase": phase, "lastPhaseTransitionTime": CREATED}
                }))
            })
            .collect(),
        events: Vec::new(),
        totals: None,
        down: Default::default(),
    }
    .with_totals()
}

/// What the snapshot shows by kind: the metrics with a sample now, and the
/// status reasons.
fn observed() -> BTreeMap<Kind, (BTreeSet<String>, BTreeSet<String>)> {
    let mut history = History::new(3_600);
    history.observe_containers(true);
    let observations = snapshot(&cluster(), &mut history, NOW);
    let mut by_kind: BTreeMap<Kind, (BTreeSet<String>, BTreeSet<String>)> = BTreeMap::new();
    for target in observations.targets {
        let seen = by_kind.entry(target.id.kind).or_default();
        seen.0.extend(target.metrics.keys().cloned());
        seen.1.extend(target.statuses);
    }
    by_kind
}

#[test]
fn every_status_and_metadata_metric_of_every_kind_is_observed() {
    let observed = observed();
    let mut missing = Vec::new();
    for metric in METRICS {
        if !matches!(metric.source, Source::Status | Source::Metadata) {
            continue;
        }
        for kind in Kind::ALL.into_iter().filter(|k| metric.kinds.contains(*k)) {
            let has = observed
                .get(&kind)
                .is_some_and(|(m, _)| m.contains(metric.name));
            if !has {
                missing.push(format!("{} on {kind}", metric.name));
            }
        }
    }
    assert!(missing.is_empty(), "never observed: {missing:#?}");
}

#[test]
fn every_status_reason_of_every_kind_is_observed() {
    let observed = observed();
    let mut missing = Vec::new();
    for status in STATUS_REASONS {
        // A workload has its pods' reasons (tests.rs checks the
        // aggregation); here each pod reason is shown on pods.
        let of_pods = status.kinds.contains(Kind::Pods);
        let kinds = Kind::ALL
            .into_iter()
            .filter(|k| status.kinds.contains(*k) && !(of_pods && k.is_workload()));
        for kind in kinds {
            let has = observed
                .get(&kind)
                .is_some_and(|(_, s)| s.contains(status.name));
            if !has {
                missing.push(format!("{} on {kind}", status.name));
            }
        }
    }
    assert!(missing.is_empty(), "never observed: {missing:#?}");
}

#[test]
fn the_values_of_the_newer_kinds_are_their_status_fields() {
    let observations = snapshot(&cluster(), &mut History::new(3_600), NOW);
    let value = |kind: Kind, name: &str, metric: &str| {
        observations
            .targets
            .iter()
            .find(|t| t.id.kind == kind && t.id.name == name)
            .and_then(|t| t.metrics.get(metric))
            .and_then(|s| s.samples().last())
            .map(|s| s.value)
    };
    assert_eq!(value(Kind::Jobs, "report", "failed_pods"), Some(2.0));
    assert_eq!(value(Kind::Jobs, "report", "completions"), Some(1.0));
    assert_eq!(value(Kind::Jobs, "report", "run_time"), Some(1_800.0));
    assert_eq!(
        value(Kind::StatefulSets, "db", "rollout_age"),
        Some(3_600.0)
    );
    assert_eq!(
        value(Kind::HorizontalPodAutoscalers, "web", "min_replicas"),
        Some(1.0)
    );
    assert_eq!(
        value(Kind::HorizontalPodAutoscalers, "web", "max_replicas"),
        Some(5.0)
    );
    assert_eq!(
        value(Kind::PersistentVolumeClaims, "old", "read_only_many"),
        Some(1.0)
    );
    assert_eq!(
        value(Kind::PodDisruptionBudgets, "web", "current_healthy"),
        Some(1.0)
    );
    // Each of a quota's resources is a target of its own.
    assert_eq!(
        value(Kind::ResourceQuotas, "compute/pods", "quota_used_ratio"),
        Some(1.25)
    );
    assert_eq!(
        value(Kind::ResourceQuotas, "compute/pods", "quota_filling_ratio"),
        None
    );
    assert_eq!(
        value(
            Kind::ResourceQuotas,
            "compute/requests.memory",
            "quota_filling_ratio"
        ),
        Some(0.75)
    );
    // Five pods in phase Running (two restarted after a termination).
    assert_eq!(value(Kind::Nodes, "node-1", "running_pods"), Some(5.0));
    assert_eq!(value(Kind::Nodes, "node-1", "pod_capacity"), Some(110.0));
    assert_eq!(
        value(Kind::StatefulSets, "db", "update_revision_pending"),
        Some(1.0)
    );
    let failed = observations
        .targets
        .iter()
        .find(|t| t.id.kind == Kind::PersistentVolumes && t.id.name == "pv-failed")
        .expect("the failed volume");
    assert_eq!(failed.id.namespace, None);
    assert!(failed.status_since.contains_key("Failed"));
    let on_cluster = |metric: &str| value(Kind::Cluster, "cluster", metric);
    assert_eq!(on_cluster("cpu_requests"), Some(1.5));
    assert_eq!(on_cluster("max_node_cpu_allocatable"), Some(4.0));
    assert_eq!(
        on_cluster("memory_allocatable"),
        Some(16.0 * 1024.0 * 1024.0 * 1024.0)
    );
    assert_eq!(value(Kind::Pods, "k", "job_owned"), Some(1.0));
    assert_eq!(value(Kind::Pods, "a", "job_owned"), Some(0.0));
}

/// The `kind` of an Event's `regarding` for an object of `kind`; `None` for
/// what is no Kubernetes object. No wildcard: a new kind must say.
fn api_kind(kind: Kind) -> Option<&'static str> {
    match kind {
        Kind::Pods => Some("Pod"),
        Kind::Deployments => Some("Deployment"),
        Kind::StatefulSets => Some("StatefulSet"),
        Kind::DaemonSets => Some("DaemonSet"),
        Kind::Nodes => Some("Node"),
        Kind::Jobs => Some("Job"),
        Kind::HorizontalPodAutoscalers => Some("HorizontalPodAutoscaler"),
        Kind::PersistentVolumeClaims => Some("PersistentVolumeClaim"),
        Kind::PodDisruptionBudgets => Some("PodDisruptionBudget"),
        Kind::ResourceQuotas => Some("ResourceQuota"),
        Kind::PersistentVolumes => Some("PersistentVolume"),
        // A container's Events are its pod's (no policy on containers reads
        // them: E0207).
        Kind::Cluster | Kind::Filesystems | Kind::Containers => None,
    }
}

#[test]
fn an_event_about_an_object_of_every_kind_reaches_its_target() {
    let mut cluster = cluster();
    let targets = snapshot(&cluster, &mut History::new(3_600), NOW).targets;
    let mut about = BTreeSet::new();
    for target in &targets {
        let Some(kind) = api_kind(target.id.kind) else {
            continue;
        };
        // Events about cluster-scoped objects live in `default`; those
        // about a quota are about each of its resources.
        let namespace = target.id.namespace.as_deref().unwrap_or("default");
        let name = target
            .id
            .quota_of_resource()
            .map_or(target.id.name.as_str(), |(quota, _)| quota);
        cluster.events.push(object(json!({
            "metadata": {"name": format!("{name}.{kind}"), "namespace": namespace},
            "reason": format!("Seen{kind}"),
            "eventTime": "2027-01-15T07:59:00.000000Z",
            "regarding": {"kind": kind, "namespace": target.id.namespace, "name": name},
        })));
        about.insert(target.id.kind);
    }
    // Every kind of object the language selects is among the cluster's.
    let objects: BTreeSet<Kind> = Kind::ALL
        .into_iter()
        .filter(|k| api_kind(*k).is_some())
        .collect();
    assert_eq!(about, objects);
    let observations = snapshot(&cluster, &mut History::new(3_600), NOW);
    let mut missing = Vec::new();
    for target in &observations.targets {
        let Some(kind) = api_kind(target.id.kind) else {
            continue;
        };
        let reason = format!("Seen{kind}");
        if !target.events.iter().any(|e| e.reason == reason) {
            missing.push(format!("{:?}", target.id));
        }
    }
    assert!(missing.is_empty(), "no Event on {missing:#?}");
}
