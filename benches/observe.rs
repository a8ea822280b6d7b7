//! One cycle's observing, in process: `observe::snapshot` over 10,000 pods in
//! 100 namespaces (owned by 1,000 Deployments through their ReplicaSets, on
//! 100 nodes), the part of the operator's cycle that the scale harness
//! (`benches/scale.rs`) found to cost most. The pods are as the operator's
//! cache keeps them (trimmed: metadata, the containers' resources, the
//! status), Running, one container each, some crash-looping; the history
//! keeps the series of the metrics a policy reads and the latest value of
//! the rest, as in the operator. docs/performance.md records the numbers.
//!
//! `cargo bench --bench observe`.

use criterion::{criterion_group, Criterion, Throughput};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use kubeskippy::observe::{snapshot, Cluster, History};
use serde_json::json;
use std::hint::black_box;
use std::sync::Arc;

/// The operator binary's allocator (src/main.rs), which the numbers depend on.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const PODS: usize = 10_000;
const NAMESPACES: usize = 100;
const PODS_PER_DEPLOYMENT: usize = 10;
const NODES: usize = 100;
const STEP: i64 = 15;

fn created() -> &'static str {
    "2026-12-01T00:00:00Z"
}

fn pod(i: usize) -> Pod {
    let deployment = i / PODS_PER_DEPLOYMENT;
    let crashing = i.is_multiple_of(97);
    let waiting = if crashing {
        json!({"waiting": {"reason": "CrashLoopBackOff"}})
    } else {
        json!({"running": {"startedAt": created()}})
    };
    serde_json::from_value(json!({
        "metadata": {
            "name": format!("web-{deployment}-{i}"),
            "namespace": format!("ns-{}", deployment % NAMESPACES),
            "uid": format!("uid-pod-{i}"),
            "creationTimestamp": created(),
            "labels": {"app": format!("web-{deployment}"), "pod-template-hash": "7d9f"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                 "name": format!("web-{deployment}-7d9f"),
                                 "uid": format!("uid-rs-{deployment}"), "controller": true}]
        },
        "spec": {
            "nodeName": format!("node-{}", i % NODES),
            "containers": [{"name": "app", "image": "example.invalid/app:1",
                            "resources": {"limits": {"memory": "256Mi", "cpu": "500m"},
                                          "requests": {"memory": "128Mi", "cpu": "100m"}}}]
        },
        "status": {
            "phase": "Running",
            "conditions": [
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": created()},
                {"type": "Ready", "status": if crashing { "False" } else { "True" },
                 "lastTransitionTime": created()}
            ],
            "containerStatuses": [{"name": "app", "ready": !crashing, "restartCount": i % 3,
                                   "image": "example.invalid/app:1", "imageID": "",
                                   "state": waiting}]
        }
    }))
    .expect("a pod")
}

fn deployment(d: usize) -> (Deployment, ReplicaSet) {
    let namespace = format!("ns-{}", d % NAMESPACES);
    let deployment = serde_json::from_value(json!({
        "metadata": {"name": format!("web-{d}"), "namespace": namespace, "uid": format!("uid-d-{d}"),
                     "generation": 2, "creationTimestamp": created(),
                     "labels": {"app": format!("web-{d}")}},
        "spec": {"replicas": PODS_PER_DEPLOYMENT, "selector": {"matchLabels": {"app": format!("web-{d}")}},
                 "template": {"spec": {"containers": []}}},
        "status": {"observedGeneration": 2, "replicas": PODS_PER_DEPLOYMENT,
                   "readyReplicas": PODS_PER_DEPLOYMENT, "availableReplicas": PODS_PER_DEPLOYMENT,
                   "updatedReplicas": PODS_PER_DEPLOYMENT,
                   "conditions": [{"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}]}
    }))
    .expect("a deployment");
    let replica_set = serde_json::from_value(json!({
        "metadata": {"name": format!("web-{d}-7d9f"), "namespace": namespace, "uid": format!("uid-rs-{d}"),
                     "creationTimestamp": created(),
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": format!("web-{d}"),
                                          "uid": format!("uid-d-{d}"), "controller": true}]},
        "spec": {"selector": {"matchLabels": {"app": format!("web-{d}")}}}
    }))
    .expect("a replica set");
    (deployment, replica_set)
}

fn node(n: usize) -> Node {
    serde_json::from_value(json!({
        "metadata": {"name": format!("node-{n}"), "uid": format!("uid-node-{n}"),
                     "creationTimestamp": created()},
        "status": {"allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110"},
                   "capacity": {"cpu": "8", "memory": "32Gi", "pods": "110"},
                   "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": created()}]}
    }))
    .expect("a node")
}

fn cluster() -> Cluster {
    let (deployments, replica_sets): (Vec<_>, Vec<_>) = (0..PODS / PODS_PER_DEPLOYMENT)
        .map(deployment)
        .map(|(d, rs)| (Arc::new(d), Arc::new(rs)))
        .unzip();
    Cluster {
        pods: (0..PODS).map(|i| Arc::new(pod(i))).collect(),
        deployments,
        replica_sets,
        nodes: (0..NODES).map(|n| Arc::new(node(n))).collect(),
        ..Cluster::default()
    }
}

/// A history as the operator's after `cycles` cycles, keeping the series of
/// what the scale harness's policies read.
fn warm(cluster: &Cluster, now: i64, cycles: i64) -> History {
    let mut history = History::new(10 * 60);
    history.keep_series_of(["memory_percent", "restarts"].map(String::from).into());
    for c in (1..=cycles).rev() {
        drop(snapshot(cluster, &mut history, now - c * STEP));
    }
    history
}

fn bench(c: &mut Criterion) {
    let cluster = cluster();
    let mut now = 1_796_000_000;
    let mut history = warm(&cluster, now, 40);
    let mut group = c.benchmark_group("observe");
    group.throughput(Throughput::Elements(PODS as u64));
    group.bench_function("snapshot_10000_pods", |b| {
        b.iter(|| {
            now += STEP;
            let observations = snapshot(&cluster, &mut history, now);
            black_box(observations.targets.len())
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
