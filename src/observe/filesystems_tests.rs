//! Filesystem targets made from Prometheus answers: their names and labels,
//! the cap per node, and when they are forgotten.

use super::queries::{Fetched, Query};
use super::{peek, snapshot, Cluster, History};
use crate::catalog::{Kind, MAX_FILESYSTEMS_PER_NODE};
use crate::engine::observation::{Target, TargetId};
use crate::engine::series::Sample;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

const NOW: i64 = 1_800_000_000;

fn cluster() -> Cluster {
    let mut cluster = Cluster::default();
    for name in ["worker-1", "worker-2"] {
        cluster.nodes.push(Arc::new(
            serde_json::from_value(json!({"metadata": {"name": name}})).expect("a node"),
        ));
    }
    cluster
}

fn query(metric: &str) -> Query {
    Query {
        metric: metric.into(),
        promql: String::new(),
        namespace: None,
        filesystems: super::filesystems::is_filesystem_metric(metric),
        ..Query::default()
    }
}

/// A series' labels as the filesystem queries group them, with the
/// exporter pod's, which the `max by` drops but a hostile answer may keep.
fn labels(node: &str, mountpoint: &str, fstype: &str) -> HashMap<String, String> {
    [
        ("node", node),
        ("mountpoint", mountpoint),
        ("fstype", fstype),
        ("device", "/dev/sda1"),
        ("pod", "node-exporter-abc"),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_empty())
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// What evaluation.rs accepts: a filesystem of a node the cluster has.
fn known(cluster: &Cluster) -> impl Fn(&TargetId) -> bool {
    let nodes: BTreeSet<String> = cluster
        .nodes
        .iter()
        .filter_map(|n| n.metadata.name.clone())
        .collect();
    move |id| id.node_of_filesystem().is_some_and(|n| nodes.contains(n))
}

fn filesystems(targets: &[Target]) -> BTreeMap<String, &Target> {
    targets
        .iter()
        .filter(|t| t.id.kind == Kind::Filesystems)
        .map(|t| (t.id.name.clone(), t))
        .collect()
}

fn answered(series: &[(&str, &str, &str, f64)]) -> Fetched {
    let mut fetched = Fetched::default();
    let available = query("available_bytes");
    fetched.answered(&available);
    for (node, mountpoint, fstype, value) in series {
        fetched.add(
            &available,
            &labels(node, mountpoint, fstype),
            vec![Sample::new(NOW - 10, *value)],
        );
    }
    fetched
}

#[test]
fn answers_make_one_target_per_node_and_mount_point_with_their_labels() {
    let cluster = cluster();
    let mut history = History::new(3_600);
    let mut fetched = answered(&[
        ("worker-1", "/", "ext4", 5e9),
        ("worker-1", "/var/lib/kubelet", "xfs", 7e9),
        ("worker-2", "/run", "tmpfs", 1e9),
        // Odd answers: no node, a node the cluster lacks, a `node` label
        // that is no node's name.
        ("", "/", "ext4", 1.0),
        ("worker-9", "/", "ext4", 1.0),
        ("worker-1/x", "/", "ext4", 1.0),
    ]);
    fetched.add(
        &query("readonly"),
        &labels("worker-1", "/", "ext4"),
        vec![Sample::new(NOW - 10, 0.0)],
    );
    history.absorb(fetched, known(&cluster));
    let observations = snapshot(&cluster, &mut history, NOW);
    let found = filesystems(&observations.targets);
    assert_eq!(
        found.keys().collect::<Vec<_>>(),
        ["worker-1:/", "worker-1:/var/lib/kubelet", "worker-2:/run"]
    );
    let root = found["worker-1:/"];
    assert_eq!(root.id.to_string(), "filesystems/worker-1:/");
    assert_eq!(
        root.labels,
        BTreeMap::from(
            [
                ("node", "worker-1"),
                ("mountpoint", "/"),
                ("fstype", "ext4"),
                ("device", "/dev/sda1")
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        ),
        "the four labels of the query's `by`, and no other"
    );
    let value = |t: &Target, m: &str| {
        t.metrics
            .get(m)
            .and_then(|s| s.samples().last().map(|s| s.value))
    };
    assert_eq!(value(root, "available_bytes"), Some(5e9));
    assert_eq!(value(root, "readonly"), Some(0.0));
    assert_eq!(value(found["worker-2:/run"], "readonly"), None);
}

#[test]
fn a_series_without_a_label_has_it_empty_so_that_where_can_leave_it_out() {
    let cluster = cluster();
    let mut history = History::new(3_600);
    history.absorb(answered(&[("worker-1", "", "", 1.0)]), known(&cluster));
    let observations = snapshot(&cluster, &mut history, NOW);
    let found = filesystems(&observations.targets);
    let target = found["worker-1:"];
    assert_eq!(
        target.labels.get("mountpoint").map(String::as_str),
        Some("")
    );
    assert_eq!(target.labels.get("fstype").map(String::as_str), Some(""));
}

#[test]
fn a_node_keeps_at_most_the_cap_of_filesystems_the_same_ones_whatever_the_order() {
    let cluster = cluster();
    let many: Vec<String> = (0..MAX_FILESYSTEMS_PER_NODE + 40)
        .map(|i| format!("/mnt/{i:04}"))
        .collect();
    let expected: Vec<String> = many[..MAX_FILESYSTEMS_PER_NODE]
        .iter()
        .map(|m| format!("worker-1:{m}"))
        .collect();
    for reversed in [false, true] {
        let mut series: Vec<(&str, &str, &str, f64)> = many
            .iter()
            .map(|m| ("worker-1", m.as_str(), "ext4", 1.0))
            .collect();
        if reversed {
            series.reverse();
        }
        let mut history = History::new(3_600);
        history.absorb(answered(&series), known(&cluster));
        let observations = snapshot(&cluster, &mut history, NOW);
        let found: Vec<String> = filesystems(&observations.targets).into_keys().collect();
        assert_eq!(found, expected, "reversed: {reversed}");
        let with_samples = observations
            .targets
            .iter()
            .filter(|t| t.id.kind == Kind::Filesystems && !t.metrics.is_empty())
            .count();
        assert_eq!(with_samples, MAX_FILESYSTEMS_PER_NODE);
    }
}

#[test]
fn a_filesystem_is_forgotten_when_an_answer_leaves_it_out_and_unknown_while_prometheus_is_down() {
    let cluster = cluster();
    let mut history = History::new(3_600);
    history.absorb(
        answered(&[
            ("worker-1", "/", "ext4", 5e9),
            ("worker-1", "/data", "ext4", 9e9),
        ]),
        known(&cluster),
    );
    // Prometheus down: the filesystems stay, their metrics unknown.
    let mut failed = Fetched::default();
    failed.fail(&query("available_bytes"));
    history.absorb(failed, known(&cluster));
    let observations = peek(&cluster, &mut history, NOW);
    let found = filesystems(&observations.targets);
    assert_eq!(found.len(), 2);
    assert!(found
        .values()
        .all(|t| t.metrics.get("available_bytes").is_none()));
    // An answer without `/data`: it is gone.
    history.absorb(answered(&[("worker-1", "/", "ext4", 5e9)]), known(&cluster));
    let observations = peek(&cluster, &mut history, NOW);
    assert_eq!(
        filesystems(&observations.targets)
            .into_keys()
            .collect::<Vec<_>>(),
        ["worker-1:/"]
    );
    // An answer of no series at all: every filesystem is gone.
    history.absorb(answered(&[]), known(&cluster));
    let observations = peek(&cluster, &mut history, NOW);
    assert!(filesystems(&observations.targets).is_empty());
}

#[test]
fn a_filesystem_not_reported_for_the_retention_is_forgotten() {
    let cluster = cluster();
    let mut history = History::new(600);
    history.absorb(answered(&[("worker-1", "/", "ext4", 5e9)]), known(&cluster));
    // Trimming runs every so many snapshots: enough of them, past the
    // retention, without an answer.
    let mut last = Vec::new();
    for step in 0..200 {
        last = snapshot(&cluster, &mut history, NOW + 15 * step).targets;
        if step == 0 {
            assert_eq!(filesystems(&last).len(), 1, "reported, it is a target");
        }
    }
    assert!(filesystems(&last).is_empty());
}

#[test]
fn a_part_of_the_cluster_without_the_nodes_has_no_filesystems() {
    let cluster = cluster();
    let mut history = History::new(3_600);
    history.absorb(answered(&[("worker-1", "/", "ext4", 5e9)]), known(&cluster));
    let part = cluster.in_namespaces(&BTreeSet::from(["shop".to_string()]));
    assert!(filesystems(&peek(&part, &mut history, NOW).targets).is_empty());
    assert_eq!(
        filesystems(&peek(&cluster, &mut history, NOW).targets).len(),
        1
    );
}
