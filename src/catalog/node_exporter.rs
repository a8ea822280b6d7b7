//! The metrics of a node that only node-exporter measures, read through
//! Prometheus: the kernel's own memory accounting, where the node's
//! `memory_percent` reads cAdvisor's working set over allocatable memory.
//!
//! node-exporter labels its series by scrape target (`instance`, and the
//! `namespace` and `pod` of the exporter's pod under a ServiceMonitor), not
//! by node. Each query joins them to the node the exporter pod runs on
//! through kube-state-metrics' `kube_pod_info`, as the kubernetes-mixin's
//! own `node_namespace_pod:kube_pod_info:` recording rule does: neither the
//! `instance` address nor `node_uname_info`'s host name is the Node object's
//! name everywhere, the pod's `spec.nodeName` is.
//!
//! Invariant: static data only.

use super::metrics::MetricInfo;
use super::{Aggregation, Kinds, Source, Unit};

/// A gauge of node-exporter's on `kinds`, aggregated as its unit says.
pub(super) const fn node_exporter(
    name: &'static str,
    unit: Unit,
    kinds: Kinds,
    promql: &'static str,
    description: &'static str,
) -> MetricInfo {
    MetricInfo::scraped(
        name,
        unit,
        kinds,
        Source::NodeExporter,
        Aggregation::for_unit(unit),
        promql,
        description,
    )
}

/// `max by (LABELS) (SERIES * …)`: node-exporter's `SERIES` labelled with
/// the node its exporter pod runs on, through `kube_pod_info`.
macro_rules! on_exporter_node {
    ($labels:literal, $series:literal) => {
        concat!(
            "max by (",
            $labels,
            ") (",
            $series,
            " * on (namespace, pod) group_left (node) topk by (namespace, pod) (1, kube_pod_info{node=~\"$node\"}))"
        )
    };
}
pub(super) use on_exporter_node;

pub(super) const MEMORY_AVAILABLE_BYTES: MetricInfo = node_exporter(
    "memory_available_bytes",
    Unit::Bytes,
    Kinds::NODES,
    on_exporter_node!("node", "node_memory_MemAvailable_bytes"),
    "Memory the kernel estimates is available for new work without swapping: `MemAvailable` of `/proc/meminfo` (`node_memory_MemAvailable_bytes`).",
);

pub(super) const MEMORY_TOTAL_BYTES: MetricInfo = node_exporter(
    "memory_total_bytes",
    Unit::Bytes,
    Kinds::NODES,
    on_exporter_node!("node", "node_memory_MemTotal_bytes"),
    "The node's usable physical memory: `MemTotal` of `/proc/meminfo` (`node_memory_MemTotal_bytes`).",
);
