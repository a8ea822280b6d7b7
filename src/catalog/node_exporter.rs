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

use super::metrics::{Bounds, MetricInfo};
use super::{Aggregation, Kinds, Series, Source, Unit};

/// A node gauge of node-exporter's, in bytes, by the node its exporter runs on.
const fn node_bytes(
    name: &'static str,
    promql: &'static str,
    description: &'static str,
) -> MetricInfo {
    MetricInfo {
        name,
        unit: Unit::Bytes,
        kinds: Kinds::NODES,
        source: Source::NodeExporter,
        series: Series::Gauge,
        aggregation: Aggregation::Average,
        promql: Some(promql),
        description,
        bounds: Bounds::NOT_NEGATIVE,
    }
}

pub(super) const MEMORY_AVAILABLE_BYTES: MetricInfo = node_bytes(
    "memory_available_bytes",
    "max by (node) (node_memory_MemAvailable_bytes \
     * on (namespace, pod) group_left (node) topk by (namespace, pod) (1, kube_pod_info{node=~\"$node\"}))",
    "Memory the kernel estimates is available for new work without swapping: `MemAvailable` of `/proc/meminfo` (`node_memory_MemAvailable_bytes`).",
);

pub(super) const MEMORY_TOTAL_BYTES: MetricInfo = node_bytes(
    "memory_total_bytes",
    "max by (node) (node_memory_MemTotal_bytes \
     * on (namespace, pod) group_left (node) topk by (namespace, pod) (1, kube_pod_info{node=~\"$node\"}))",
    "The node's usable physical memory: `MemTotal` of `/proc/meminfo` (`node_memory_MemTotal_bytes`).",
);
