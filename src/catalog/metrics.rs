//! The built-in metrics: their units, the kinds they apply to, where the
//! operator reads each (the object's status through the API, metrics-server,
//! or kube-state-metrics, cAdvisor and node-exporter series through
//! Prometheus), and their ranges.
//!
//! Invariant: static data only, no behaviour beyond lookups.

use super::cluster_metrics::*;
use super::filesystem_metrics::*;
use super::kubelet_metrics::*;
use super::node_exporter::*;
use super::object_metrics::*;
use super::{Aggregation, Kind, Kinds, Series, Source, Unit};

/// A built-in metric.
#[derive(Debug)]
pub struct MetricInfo {
    pub name: &'static str,
    pub unit: Unit,
    pub kinds: Kinds,
    pub source: Source,
    pub series: Series,
    pub aggregation: Aggregation,
    /// The query run when Prometheus is the configured source, with
    /// `$namespace` (and, for nodes, `$node`) placeholders; `None` when the
    /// value comes only from the Kubernetes API.
    pub promql: Option<&'static str>,
    pub description: &'static str,
    /// The values it can take, in its unit's canonical form (a percent from
    /// 0 to 100, a duration in seconds), on pods, containers and workloads: see
    /// [`MetricInfo::bounds_on`].
    pub bounds: Bounds,
}

/// The closed interval a metric's values lie in; `None` is unbounded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    pub min: Option<f64>,
    pub max: Option<f64>,
}

impl Bounds {
    pub const NONE: Bounds = Bounds {
        min: None,
        max: None,
    };
    pub const NOT_NEGATIVE: Bounds = Bounds {
        min: Some(0.0),
        max: None,
    };
    /// A share of a limit the kernel enforces: usage cannot pass it.
    pub const OF_LIMIT: Bounds = Bounds {
        min: Some(0.0),
        max: Some(100.0),
    };
}

impl MetricInfo {
    /// A gauge read with `promql` from a source Prometheus scrapes (the
    /// kubelet's, node-exporter's): never negative, unless a bool.
    pub(super) const fn scraped(
        name: &'static str,
        unit: Unit,
        kinds: Kinds,
        source: Source,
        aggregation: Aggregation,
        promql: &'static str,
        description: &'static str,
    ) -> MetricInfo {
        MetricInfo {
            name,
            unit,
            kinds,
            source,
            series: Series::Gauge,
            aggregation,
            promql: Some(promql),
            description,
            bounds: if matches!(unit, Unit::Bool) {
                Bounds::NONE
            } else {
                Bounds::NOT_NEGATIVE
            },
        }
    }

    /// The values the metric can take on an object of `kind`.
    pub fn bounds_on(&self, kind: Kind) -> Bounds {
        match (kind, self.unit) {
            // A node's usage is a share of its allocatable resources, which
            // the system daemons reserved outside them can push it past.
            (Kind::Nodes, Unit::Percent) => Bounds {
                max: None,
                ..self.bounds
            },
            _ => self.bounds,
        }
    }
}

/// Where CPU and memory usage is measured: a pod's (its containers'
/// summed), a workload's (its pods' averaged), a node's, a container's.
const USAGE_KINDS: Kinds = Kinds::PODS
    .with(Kinds::WORKLOADS)
    .with(Kinds::NODES)
    .with(Kinds::CONTAINERS);

pub static METRICS: &[MetricInfo] = &[
    MetricInfo {
        name: "memory_percent",
        unit: Unit::Percent,
        kinds: USAGE_KINDS,
        source: Source::MetricsServer,
        series: Series::Gauge,
        aggregation: Aggregation::Average,
        promql: Some(
            "100 * sum by (pod) (container_memory_working_set_bytes{namespace=\"$namespace\", container!=\"\"}) \
             / sum by (pod) (kube_pod_container_resource_limits{namespace=\"$namespace\", resource=\"memory\"})",
        ),
        description: "Working-set memory as a percent of the memory limit (a container's own on containers; of allocatable memory on nodes).",
        bounds: Bounds::OF_LIMIT,
    },
    MetricInfo {
        name: "memory_bytes",
        unit: Unit::Bytes,
        kinds: USAGE_KINDS,
        source: Source::MetricsServer,
        series: Series::Gauge,
        aggregation: Aggregation::Average,
        promql: Some(
            "sum by (pod) (container_memory_working_set_bytes{namespace=\"$namespace\", container!=\"\"})",
        ),
        description: "Working-set memory in bytes.",
        bounds: Bounds::NOT_NEGATIVE,
    },
    MetricInfo {
        name: "cpu_percent",
        unit: Unit::Percent,
        kinds: USAGE_KINDS,
        source: Source::MetricsServer,
        series: Series::Gauge,
        aggregation: Aggregation::Average,
        promql: Some(
            "100 * sum by (pod) (rate(container_cpu_usage_seconds_total{namespace=\"$namespace\", container!=\"\"}[5m])) \
             / sum by (pod) (kube_pod_container_resource_limits{namespace=\"$namespace\", resource=\"cpu\"})",
        ),
        description: "CPU usage as a percent of the CPU limit (a container's own on containers; of allocatable CPU on nodes).",
        bounds: Bounds::OF_LIMIT,
    },
    MetricInfo {
        name: "cpu_cores",
        unit: Unit::Cores,
        kinds: USAGE_KINDS,
        source: Source::MetricsServer,
        series: Series::Gauge,
        aggregation: Aggregation::Average,
        promql: Some(
            "sum by (pod) (rate(container_cpu_usage_seconds_total{namespace=\"$namespace\", container!=\"\"}[5m]))",
        ),
        description: "CPU usage in cores.",
        bounds: Bounds::NOT_NEGATIVE,
    },
    MetricInfo {
        name: "restarts",
        unit: Unit::Count,
        kinds: Kinds::PODS.with(Kinds::WORKLOADS).with(Kinds::CONTAINERS),
        source: Source::Status,
        series: Series::Counter,
        aggregation: Aggregation::Sum,
        promql: None,
        description: "Container restarts since the pod started (the sum of its containers' restart counts; a container's own `restartCount` on containers).",
        bounds: Bounds::NOT_NEGATIVE,
    },
    MetricInfo {
        name: "oom_kills",
        unit: Unit::Count,
        kinds: Kinds::PODS.with(Kinds::WORKLOADS).with(Kinds::CONTAINERS),
        source: Source::Status,
        series: Series::Counter,
        aggregation: Aggregation::Sum,
        promql: None,
        description: "Containers of the pod whose last termination was OOMKilled, counted as they happen (on containers, the container's own OOM kills).",
        bounds: Bounds::NOT_NEGATIVE,
    },
    MetricInfo {
        name: "ready",
        unit: Unit::Bool,
        kinds: Kinds::RUNNING.with(Kinds::CONTAINERS),
        source: Source::Status,
        series: Series::Gauge,
        aggregation: Aggregation::All,
        promql: None,
        description: "The Ready condition: of the pod, of every pod of a workload, of the node (false when the node's condition is `False` or `Unknown`, its kubelet silent, as `kube_node_status_condition{condition=\"Ready\", status=\"true\"} == 0`); a container's `ready` (`kube_pod_container_status_ready`).",
        bounds: Bounds::NONE,
    },
    MetricInfo {
        name: "age",
        unit: Unit::Duration,
        // The cluster as a whole has no creation time, nor has a
        // filesystem as node-exporter reports it.
        kinds: Kinds::ALL.except(Kinds::CLUSTER).except(Kinds::FILESYSTEMS),
        source: Source::Metadata,
        series: Series::Gauge,
        aggregation: Aggregation::Average,
        promql: None,
        description: "Time since the object was created (a container's pod's).",
        bounds: Bounds::NOT_NEGATIVE,
    },
    MetricInfo {
        name: "replicas",
        unit: Unit::Count,
        kinds: Kinds::WORKLOADS,
        source: Source::Status,
        series: Series::Gauge,
        aggregation: Aggregation::Sum,
        promql: None,
        description: "Desired replicas of the workload: `spec.replicas` (a DaemonSet's `status.desiredNumberScheduled`, the nodes it should run on).",
        bounds: Bounds::NOT_NEGATIVE,
    },
    MetricInfo {
        name: "unavailable_replicas",
        unit: Unit::Count,
        kinds: Kinds::WORKLOADS,
        source: Source::Status,
        series: Series::Gauge,
        aggregation: Aggregation::Sum,
        promql: None,
        description: "Replicas (or daemon pods) of the workload that are not available.",
        bounds: Bounds::NOT_NEGATIVE,
    },
    MetricInfo {
        name: "available_replicas",
        unit: Unit::Count,
        kinds: Kinds::WORKLOADS,
        source: Source::Status,
        series: Series::Gauge,
        aggregation: Aggregation::Sum,
        promql: None,
        description: "Replicas (or daemon pods) of the workload that are available: `status.availableReplicas` (`numberAvailable` of a DaemonSet), as kube-state-metrics' `kube_*_status_replicas_available`.",
        bounds: Bounds::NOT_NEGATIVE,
    },
    MetricInfo {
        name: "ready_replicas",
        unit: Unit::Count,
        kinds: Kinds::WORKLOADS,
        source: Source::Status,
        series: Series::Gauge,
        aggregation: Aggregation::Sum,
        promql: None,
        description: "Replicas (or daemon pods) of the workload that are ready: `status.readyReplicas` (`numberReady` of a DaemonSet).",
        bounds: Bounds::NOT_NEGATIVE,
    },
    MetricInfo {
        name: "updated_replicas",
        unit: Unit::Count,
        kinds: Kinds::WORKLOADS,
        source: Source::Status,
        series: Series::Gauge,
        aggregation: Aggregation::Sum,
        promql: None,
        description: "Replicas (or daemon pods) of the workload at its current revision: `status.updatedReplicas` (`updatedNumberScheduled` of a DaemonSet); it stops changing when a rollout is stuck.",
        bounds: Bounds::NOT_NEGATIVE,
    },
    MetricInfo {
        name: "existing_replicas",
        unit: Unit::Count,
        kinds: Kinds::WORKLOADS,
        source: Source::Status,
        series: Series::Gauge,
        aggregation: Aggregation::Sum,
        promql: None,
        description: "Pods the workload's controller has created and not yet terminated: `status.replicas` (a DaemonSet's `currentNumberScheduled`, the nodes running its pod that should).",
        bounds: Bounds::NOT_NEGATIVE,
    },
    MetricInfo {
        name: "misscheduled_pods",
        unit: Unit::Count,
        kinds: Kinds::DAEMONSETS,
        source: Source::Status,
        series: Series::Gauge,
        aggregation: Aggregation::Sum,
        promql: None,
        description: "Nodes running the DaemonSet's pod that should not: `status.numberMisscheduled`.",
        bounds: Bounds::NOT_NEGATIVE,
    },
    MetricInfo {
        name: "generation",
        unit: Unit::Count,
        kinds: Kinds::WORKLOADS,
        source: Source::Status,
        series: Series::Gauge,
        aggregation: Aggregation::Sum,
        promql: None,
        description: "The workload's spec generation: `metadata.generation`, which grows with every change of its spec.",
        bounds: Bounds::NOT_NEGATIVE,
    },
    MetricInfo {
        name: "observed_generation",
        unit: Unit::Count,
        kinds: Kinds::WORKLOADS,
        source: Source::Status,
        series: Series::Gauge,
        aggregation: Aggregation::Sum,
        promql: None,
        description: "The generation the workload's controller has acted on: `status.observedGeneration`; below `generation` while the controller has not caught up.",
        bounds: Bounds::NOT_NEGATIVE,
    },
    ROLLOUT_AGE,
    UPDATE_REVISION_PENDING,
    MetricInfo {
        name: "memory_pressure",
        unit: Unit::Bool,
        kinds: Kinds::NODES,
        source: Source::Status,
        series: Series::Gauge,
        aggregation: Aggregation::All,
        promql: None,
        description: "The node's MemoryPressure condition.",
        bounds: Bounds::NONE,
    },
    MetricInfo {
        name: "disk_pressure",
        unit: Unit::Bool,
        kinds: Kinds::NODES,
        source: Source::Status,
        series: Series::Gauge,
        aggregation: Aggregation::All,
        promql: None,
        description: "The node's DiskPressure condition.",
        bounds: Bounds::NONE,
    },
    MetricInfo {
        name: "pid_pressure",
        unit: Unit::Bool,
        kinds: Kinds::NODES,
        source: Source::Status,
        series: Series::Gauge,
        aggregation: Aggregation::All,
        promql: None,
        description: "The node's PIDPressure condition.",
        bounds: Bounds::NONE,
    },
    MEMORY_AVAILABLE_BYTES,
    MEMORY_TOTAL_BYTES,
    EVICTIONS,
    AVAILABLE_BYTES,
    SIZE_BYTES,
    READONLY,
    CORDONED,
    RUNNING_PODS,
    POD_CAPACITY,
    JOB_OWNED,
    ACTIVE_PODS,
    SUCCEEDED_PODS,
    FAILED_PODS,
    COMPLETIONS,
    RUN_TIME,
    CURRENT_REPLICAS,
    DESIRED_REPLICAS,
    MIN_REPLICAS,
    MAX_REPLICAS,
    VOLUME_USED_BYTES,
    VOLUME_CAPACITY_BYTES,
    VOLUME_AVAILABLE_BYTES,
    VOLUME_INODES,
    VOLUME_INODES_USED,
    VOLUME_INODES_FREE,
    READ_ONLY_MANY,
    CURRENT_HEALTHY,
    DESIRED_HEALTHY,
    EXPECTED_PODS,
    DISRUPTIONS_ALLOWED,
    QUOTA_USED_RATIO,
    QUOTA_FILLING_RATIO,
    CPU_REQUESTS,
    MEMORY_REQUESTS,
    CPU_ALLOCATABLE,
    MEMORY_ALLOCATABLE,
    MAX_NODE_CPU_ALLOCATABLE,
    MAX_NODE_MEMORY_ALLOCATABLE,
];

impl MetricInfo {
    /// How a workload's value is made of its pods' values, for a policy
    /// selecting `kind`: `None` unless `kind` is a workload and the metric is a
    /// pod's (`age` is the workload's own creation time; `replicas` and
    /// `unavailable_replicas` are the workload's own status).
    pub fn aggregated_on(&self, kind: Kind) -> Option<Aggregation> {
        let of_pods = self.kinds.contains(Kind::Pods) && self.source != Source::Metadata;
        (kind.is_workload() && of_pods).then_some(self.aggregation)
    }
}

pub fn metric(name: &str) -> Option<&'static MetricInfo> {
    METRICS.iter().find(|m| m.name == name)
}

/// The node queries of the built-in metrics Prometheus can serve for nodes:
/// cAdvisor's root cgroup (`id="/"`, the whole node) over kube-state-metrics'
/// allocatable, by the `node` label, as metrics-server measures a node. A
/// metric's `promql` is the pod query; it would read pods, not nodes.
pub static NODE_PROMQL: &[(&str, &str)] = &[
    (
        "memory_percent",
        "100 * sum by (node) (container_memory_working_set_bytes{id=\"/\", node=~\"$node\"}) \
         / sum by (node) (kube_node_status_allocatable{resource=\"memory\", node=~\"$node\"})",
    ),
    (
        "memory_bytes",
        "sum by (node) (container_memory_working_set_bytes{id=\"/\", node=~\"$node\"})",
    ),
    (
        "cpu_percent",
        "100 * sum by (node) (rate(container_cpu_usage_seconds_total{id=\"/\", node=~\"$node\"}[5m])) \
         / sum by (node) (kube_node_status_allocatable{resource=\"cpu\", node=~\"$node\"})",
    ),
    (
        "cpu_cores",
        "sum by (node) (rate(container_cpu_usage_seconds_total{id=\"/\", node=~\"$node\"}[5m]))",
    ),
];

/// The container queries of the built-in metrics Prometheus can serve for
/// containers: the pod queries' cAdvisor and kube-state-metrics series,
/// `by (pod, container)` so that each container's series is its own (one
/// throttled or full container among idle ones is not averaged away).
pub static CONTAINER_PROMQL: &[(&str, &str)] = &[
    (
        "memory_percent",
        "100 * sum by (pod, container) (container_memory_working_set_bytes{namespace=\"$namespace\", container!=\"\"}) \
         / sum by (pod, container) (kube_pod_container_resource_limits{namespace=\"$namespace\", resource=\"memory\"})",
    ),
    (
        "memory_bytes",
        "sum by (pod, container) (container_memory_working_set_bytes{namespace=\"$namespace\", container!=\"\"})",
    ),
    (
        "cpu_percent",
        "100 * sum by (pod, container) (rate(container_cpu_usage_seconds_total{namespace=\"$namespace\", container!=\"\"}[5m])) \
         / sum by (pod, container) (kube_pod_container_resource_limits{namespace=\"$namespace\", resource=\"cpu\"})",
    ),
    (
        "cpu_cores",
        "sum by (pod, container) (rate(container_cpu_usage_seconds_total{namespace=\"$namespace\", container!=\"\"}[5m]))",
    ),
];

/// The PromQL of a built-in metric for a policy selecting `kind`: the pod
/// query for pods and for workloads (the engine aggregates the pods' series by
/// owner, see [`MetricInfo::aggregation`]), the node query for nodes, the
/// container query for containers, the claim query for claims; `None` when
/// Prometheus does not serve the metric for that kind or the metric does not
/// apply to it.
pub fn builtin_promql(metric: &MetricInfo, kind: Kind) -> Option<&'static str> {
    if !metric.kinds.contains(kind) {
        return None;
    }
    match kind {
        // A metric of nodes alone has no pod query to stand in for.
        Kind::Nodes if metric.kinds == Kinds::NODES => metric.promql,
        Kind::Nodes => NODE_PROMQL
            .iter()
            .find(|(name, _)| *name == metric.name)
            .map(|(_, query)| *query),
        Kind::Containers => CONTAINER_PROMQL
            .iter()
            .find(|(name, _)| *name == metric.name)
            .map(|(_, query)| *query),
        _ => metric.promql,
    }
}
