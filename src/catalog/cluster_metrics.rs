//! The metrics of the cluster as a whole (`select cluster`): what its pods
//! request and its nodes offer, summed by the operator from the pods and
//! nodes it watches, for the conditions no single object has
//! (KubeCPUOvercommit, KubeMemoryOvercommit).
//!
//! Invariant: static data only.

use super::metrics::MetricInfo;
use super::object_metrics::status_gauge;
use super::{Kinds, Unit};

const fn cluster(name: &'static str, unit: Unit, description: &'static str) -> MetricInfo {
    status_gauge(name, unit, Kinds::CLUSTER, description)
}

pub(super) const CPU_REQUESTS: MetricInfo = cluster(
    "cpu_requests",
    Unit::Cores,
    "The CPU the cluster's pods request: the sum of their containers' `resources.requests.cpu`, over the pods in phase `Pending` or `Running` (the mixin's `namespace_cpu:kube_pod_container_resource_requests:sum`); unknown while no such pod requests any.",
);
pub(super) const MEMORY_REQUESTS: MetricInfo = cluster(
    "memory_requests",
    Unit::Bytes,
    "The memory the cluster's pods request: the sum of their containers' `resources.requests.memory`, over the pods in phase `Pending` or `Running` (`namespace_memory:kube_pod_container_resource_requests:sum`); unknown while no such pod requests any.",
);
pub(super) const CPU_ALLOCATABLE: MetricInfo = cluster(
    "cpu_allocatable",
    Unit::Cores,
    "The CPU the cluster's nodes offer to pods: the sum of their `status.allocatable.cpu` (`sum(kube_node_status_allocatable{resource=\"cpu\"})`); unknown without nodes.",
);
pub(super) const MEMORY_ALLOCATABLE: MetricInfo = cluster(
    "memory_allocatable",
    Unit::Bytes,
    "The memory the cluster's nodes offer to pods: the sum of their `status.allocatable.memory` (`sum(kube_node_status_allocatable{resource=\"memory\"})`); unknown without nodes.",
);
pub(super) const MAX_NODE_CPU_ALLOCATABLE: MetricInfo = cluster(
    "max_node_cpu_allocatable",
    Unit::Cores,
    "The allocatable CPU of the cluster's largest node (`max(kube_node_status_allocatable{resource=\"cpu\"})`): what losing one node can take away at most; unknown without nodes.",
);
pub(super) const MAX_NODE_MEMORY_ALLOCATABLE: MetricInfo = cluster(
    "max_node_memory_allocatable",
    Unit::Bytes,
    "The allocatable memory of the cluster's largest node (`max(kube_node_status_allocatable{resource=\"memory\"})`); unknown without nodes.",
);
