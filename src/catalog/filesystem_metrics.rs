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

use super::metrics::MetricInfo;
use super::node_exporter::{node_exporter, on_exporter_node};
use super::{Kinds, Unit};

/// The most filesystems of one node the operator keeps: node-exporter
/// reports every mount it does not exclude, and a node with thousands of
/// mounts must not fill the operator's memory. Past it, the mount points
/// that sort first are kept.
pub const MAX_FILESYSTEMS_PER_NODE: usize = 64;

/// The labels of a filesystem target, each present (empty where the series
/// has none, as PromQL reads a missing label).
pub const FILESYSTEM_LABELS: [&str; 4] = ["node", "mountpoint", "fstype", "device"];

pub(super) const AVAILABLE_BYTES: MetricInfo = node_exporter(
    "available_bytes",
    Unit::Bytes,
    Kinds::FILESYSTEMS,
    on_exporter_node!("node, mountpoint, fstype, device", "node_filesystem_avail_bytes"),
    "Space on the filesystem that unprivileged users may still write (`node_filesystem_avail_bytes`, `f_bavail` of statfs): what the root-reserved blocks leave out.",
);

pub(super) const SIZE_BYTES: MetricInfo = node_exporter(
    "size_bytes",
    Unit::Bytes,
    Kinds::FILESYSTEMS,
    on_exporter_node!(
        "node, mountpoint, fstype, device",
        "node_filesystem_size_bytes"
    ),
    "The filesystem's size (`node_filesystem_size_bytes`).",
);

pub(super) const READONLY: MetricInfo = node_exporter(
    "readonly",
    Unit::Bool,
    Kinds::FILESYSTEMS,
    on_exporter_node!("node, mountpoint, fstype, device", "node_filesystem_readonly"),
    "Whether the filesystem is mounted read-only (`node_filesystem_readonly`): a read-only filesystem does not fill up.",
);
