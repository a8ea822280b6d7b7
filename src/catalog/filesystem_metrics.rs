//! The metrics of a node's filesystems (`select filesystems`), read from
//! node-exporter through Prometheus: one target per (node, mount point),
//! made from the answers, with the series' `node`, `mountpoint`, `fstype`
//! and `device` labels as the target's labels (what `where` matches).
//!
//! Each query joins node-exporter's series to the node its exporter pod runs
//! on through kube-state-metrics' `kube_pod_info`, as the node-exporter
//! memory metrics do (see `node_exporter.rs`), and keeps the four labels
//! that tell a filesystem apart. It reads every filesystem: the mixin's
//! `fstype!=""` and `mountpoint!=""` selectors are the policy's `where`.
//!
//! Invariant: static data only.

use super::metrics::{Bounds, MetricInfo};
use super::{Aggregation, Kinds, Series, Source, Unit};

/// The most filesystems of one node the operator keeps: node-exporter
/// reports every mount it does not exclude, and a node with thousands of
/// mounts must not fill the operator's memory. Past it, the mount points
/// that sort first are kept.
pub const MAX_FILESYSTEMS_PER_NODE: usize = 64;

/// The labels of a filesystem target, each present (empty where the series
/// has none, as PromQL reads a missing label).
pub const FILESYSTEM_LABELS: [&str; 4] = ["node", "mountpoint", "fstype", "device"];

const fn filesystem(
    name: &'static str,
    unit: Unit,
    promql: &'static str,
    description: &'static str,
) -> MetricInfo {
    MetricInfo {
        name,
        unit,
        kinds: Kinds::FILESYSTEMS,
        source: Source::NodeExporter,
        series: Series::Gauge,
        aggregation: if matches!(unit, Unit::Bool) {
            Aggregation::All
        } else {
            Aggregation::Average
        },
        promql: Some(promql),
        description,
        bounds: if matches!(unit, Unit::Bool) {
            Bounds::NONE
        } else {
            Bounds::NOT_NEGATIVE
        },
    }
}

pub(super) const AVAILABLE_BYTES: MetricInfo = filesystem(
    "available_bytes",
    Unit::Bytes,
    "max by (node, mountpoint, fstype, device) (node_filesystem_avail_bytes \
     * on (namespace, pod) group_left (node) topk by (namespace, pod) (1, kube_pod_info{node=~\"$node\"}))",
    "Space on the filesystem that unprivileged users may still write (`node_filesystem_avail_bytes`, `f_bavail` of statfs): what the root-reserved blocks leave out.",
);

pub(super) const SIZE_BYTES: MetricInfo = filesystem(
    "size_bytes",
    Unit::Bytes,
    "max by (node, mountpoint, fstype, device) (node_filesystem_size_bytes \
     * on (namespace, pod) group_left (node) topk by (namespace, pod) (1, kube_pod_info{node=~\"$node\"}))",
    "The filesystem's size (`node_filesystem_size_bytes`).",
);

pub(super) const READONLY: MetricInfo = filesystem(
    "readonly",
    Unit::Bool,
    "max by (node, mountpoint, fstype, device) (node_filesystem_readonly \
     * on (namespace, pod) group_left (node) topk by (namespace, pod) (1, kube_pod_info{node=~\"$node\"}))",
    "Whether the filesystem is mounted read-only (`node_filesystem_readonly`): a read-only filesystem does not fill up.",
);
