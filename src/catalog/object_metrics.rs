//! The metrics of objects' own status beyond their pods' usage: workload
//! rollouts, node scheduling, Jobs, HorizontalPodAutoscalers,
//! PersistentVolumeClaims, PodDisruptionBudgets and ResourceQuotas. Each says where the operator reads it: the
//! object's status through the API (the field kube-state-metrics copies into
//! the series the kube-prometheus alerts read), or the kubelet's volume
//! statistics. [`super::METRICS`] lists them beside the others.
//!
//! Invariant: static data only.

use super::metrics::{Bounds, MetricInfo};
use super::{Aggregation, Kinds, Series, Source, Unit};

/// A non-negative quantity read from the object's own status (or spec)
/// through the API; summed where objects are summed.
pub(super) const fn status_gauge(
    name: &'static str,
    unit: Unit,
    kinds: Kinds,
    description: &'static str,
) -> MetricInfo {
    MetricInfo {
        name,
        unit,
        kinds,
        source: Source::Status,
        series: Series::Gauge,
        aggregation: Aggregation::Sum,
        promql: None,
        description,
        bounds: Bounds::NOT_NEGATIVE,
    }
}

/// A count read from the object's own status (or spec) through the API.
const fn status_count(name: &'static str, kinds: Kinds, description: &'static str) -> MetricInfo {
    status_gauge(name, Unit::Count, kinds, description)
}

/// A claim's volume statistic from the kubelet; `promql` is the query when
/// Prometheus scrapes the kubelets instead.
const fn volume(
    name: &'static str,
    unit: Unit,
    promql: &'static str,
    description: &'static str,
) -> MetricInfo {
    MetricInfo::scraped(
        name,
        unit,
        Kinds::CLAIMS,
        Source::Kubelet,
        Aggregation::Sum,
        promql,
        description,
    )
}

pub(super) const ROLLOUT_AGE: MetricInfo = MetricInfo {
    name: "rollout_age",
    unit: Unit::Duration,
    kinds: Kinds::WORKLOADS,
    source: Source::Status,
    series: Series::Gauge,
    aggregation: Aggregation::Average,
    promql: None,
    description: "Time since the workload's last rollout began: the creation of its newest ReplicaSet (a Deployment) or of the ControllerRevision its `status.updateRevision` names (a StatefulSet or DaemonSet); the workload's `age` before its first change.",
    bounds: Bounds::NOT_NEGATIVE,
};

pub(super) const UPDATE_REVISION_PENDING: MetricInfo = MetricInfo {
    name: "update_revision_pending",
    unit: Unit::Bool,
    kinds: Kinds::STATEFULSETS,
    source: Source::Status,
    series: Series::Gauge,
    aggregation: Aggregation::All,
    promql: None,
    description: "True while the StatefulSet's `status.currentRevision` differs from its `status.updateRevision`: an update has not reached every pod (kube-state-metrics' `kube_statefulset_status_current_revision unless kube_statefulset_status_update_revision`).",
    bounds: Bounds::NONE,
};

pub(super) const ACTIVE_PODS: MetricInfo = status_count(
    "active_pods",
    Kinds::JOBS,
    "The Job's running pods: `status.active` (`kube_job_status_active`).",
);
pub(super) const SUCCEEDED_PODS: MetricInfo = status_count(
    "succeeded_pods",
    Kinds::JOBS,
    "The Job's pods that succeeded: `status.succeeded` (`kube_job_status_succeeded`).",
);
pub(super) const FAILED_PODS: MetricInfo = status_count(
    "failed_pods",
    Kinds::JOBS,
    "The Job's pods that failed: `status.failed` (`kube_job_status_failed`); the Job itself has failed when `status is Failed`.",
);
pub(super) const COMPLETIONS: MetricInfo = status_count(
    "completions",
    Kinds::JOBS,
    "The successful pods the Job needs: `spec.completions` (`kube_job_spec_completions`; 1 when unset).",
);

pub(super) const RUN_TIME: MetricInfo = MetricInfo {
    name: "run_time",
    unit: Unit::Duration,
    kinds: Kinds::JOBS,
    source: Source::Status,
    series: Series::Gauge,
    aggregation: Aggregation::Average,
    promql: None,
    description: "Time since the Job started: now minus `status.startTime` (`time() - kube_job_status_start_time`); unknown before it starts.",
    bounds: Bounds::NOT_NEGATIVE,
};

pub(super) const CURRENT_REPLICAS: MetricInfo = status_count(
    "current_replicas",
    Kinds::AUTOSCALERS,
    "The replicas the autoscaler last saw on its target: `status.currentReplicas` (`kube_horizontalpodautoscaler_status_current_replicas`).",
);
pub(super) const DESIRED_REPLICAS: MetricInfo = status_count(
    "desired_replicas",
    Kinds::AUTOSCALERS,
    "The replicas the autoscaler last asked for: `status.desiredReplicas` (`kube_horizontalpodautoscaler_status_desired_replicas`).",
);
pub(super) const MIN_REPLICAS: MetricInfo = status_count(
    "min_replicas",
    Kinds::AUTOSCALERS,
    "The autoscaler's lower bound: `spec.minReplicas` (1 when unset; `kube_horizontalpodautoscaler_spec_min_replicas`).",
);
pub(super) const MAX_REPLICAS: MetricInfo = status_count(
    "max_replicas",
    Kinds::AUTOSCALERS,
    "The autoscaler's upper bound: `spec.maxReplicas` (`kube_horizontalpodautoscaler_spec_max_replicas`).",
);

pub(super) const VOLUME_USED_BYTES: MetricInfo = volume(
    "volume_used_bytes",
    Unit::Bytes,
    "max by (persistentvolumeclaim) (kubelet_volume_stats_used_bytes{namespace=\"$namespace\"})",
    "Bytes used on the claim's mounted volume, as its kubelet measures them (`kubelet_volume_stats_used_bytes`); unknown while no pod mounts it.",
);
pub(super) const VOLUME_CAPACITY_BYTES: MetricInfo = volume(
    "volume_capacity_bytes",
    Unit::Bytes,
    "max by (persistentvolumeclaim) (kubelet_volume_stats_capacity_bytes{namespace=\"$namespace\"})",
    "The size of the claim's mounted filesystem (`kubelet_volume_stats_capacity_bytes`).",
);
pub(super) const VOLUME_AVAILABLE_BYTES: MetricInfo = volume(
    "volume_available_bytes",
    Unit::Bytes,
    "max by (persistentvolumeclaim) (kubelet_volume_stats_available_bytes{namespace=\"$namespace\"})",
    "Bytes still available to unprivileged users on the claim's volume (`kubelet_volume_stats_available_bytes`).",
);
pub(super) const VOLUME_INODES: MetricInfo = volume(
    "volume_inodes",
    Unit::Count,
    "max by (persistentvolumeclaim) (kubelet_volume_stats_inodes{namespace=\"$namespace\"})",
    "Inodes of the claim's mounted filesystem (`kubelet_volume_stats_inodes`).",
);
pub(super) const VOLUME_INODES_USED: MetricInfo = volume(
    "volume_inodes_used",
    Unit::Count,
    "max by (persistentvolumeclaim) (kubelet_volume_stats_inodes_used{namespace=\"$namespace\"})",
    "Inodes in use on the claim's volume (`kubelet_volume_stats_inodes_used`).",
);
pub(super) const VOLUME_INODES_FREE: MetricInfo = volume(
    "volume_inodes_free",
    Unit::Count,
    "max by (persistentvolumeclaim) (kubelet_volume_stats_inodes_free{namespace=\"$namespace\"})",
    "Free inodes on the claim's volume (`kubelet_volume_stats_inodes_free`).",
);

pub(super) const READ_ONLY_MANY: MetricInfo = MetricInfo {
    name: "read_only_many",
    unit: Unit::Bool,
    kinds: Kinds::CLAIMS,
    source: Source::Status,
    series: Series::Gauge,
    aggregation: Aggregation::All,
    promql: None,
    description: "True when the claim's `spec.accessModes` holds `ReadOnlyMany` (`kube_persistentvolumeclaim_access_mode{access_mode=\"ReadOnlyMany\"}`): its volume cannot fill up through it.",
    bounds: Bounds::NONE,
};

pub(super) const CURRENT_HEALTHY: MetricInfo = status_count(
    "current_healthy",
    Kinds::BUDGETS,
    "Healthy pods the budget covers now: `status.currentHealthy` (`kube_poddisruptionbudget_status_current_healthy`).",
);
pub(super) const DESIRED_HEALTHY: MetricInfo = status_count(
    "desired_healthy",
    Kinds::BUDGETS,
    "The healthy pods the budget requires: `status.desiredHealthy` (`kube_poddisruptionbudget_status_desired_healthy`).",
);
pub(super) const EXPECTED_PODS: MetricInfo = status_count(
    "expected_pods",
    Kinds::BUDGETS,
    "The pods the budget covers: `status.expectedPods` (`kube_poddisruptionbudget_status_expected_pods`).",
);
pub(super) const DISRUPTIONS_ALLOWED: MetricInfo = status_count(
    "disruptions_allowed",
    Kinds::BUDGETS,
    "Voluntary disruptions the budget allows now: `status.disruptionsAllowed` (`kube_poddisruptionbudget_status_pod_disruptions_allowed`).",
);

/// A quota resource's use of its hard limit, read from the quota's own
/// status; each resource is a target of its own, as the alerts time each.
const fn quota_ratio(name: &'static str, bounds: Bounds, description: &'static str) -> MetricInfo {
    MetricInfo {
        aggregation: Aggregation::Average,
        bounds,
        ..status_gauge(name, Unit::Ratio, Kinds::QUOTAS, description)
    }
}

// Use can pass the hard limit (a lowered quota does not evict what runs),
// so the ratio has no upper bound and `> 1` is meant.
pub(super) const QUOTA_USED_RATIO: MetricInfo = quota_ratio(
    "quota_used_ratio",
    Bounds::NOT_NEGATIVE,
    "The resource's use of its hard limit: `status.used` / `status.hard` of the quota's resource (`kube_resourcequota{type=\"used\"} / ignoring(instance, job, type) (kube_resourcequota{type=\"hard\"} > 0)`); above 1 when it is used beyond its limit.",
);
// Below 1 by definition: at or past its limit a resource is exceeded, not
// filling, so `quota_filling_ratio > 0.9` is the alert's `> 0.9 < 1`.
pub(super) const QUOTA_FILLING_RATIO: MetricInfo = quota_ratio(
    "quota_filling_ratio",
    Bounds {
        min: Some(0.0),
        max: Some(1.0),
    },
    "The resource's use of its hard limit while it is below it (`… < 1`, KubeQuotaAlmostFull's upper bound); unknown at or past the limit.",
);

pub(super) const CORDONED: MetricInfo = MetricInfo {
    name: "cordoned",
    unit: Unit::Bool,
    kinds: Kinds::NODES,
    source: Source::Status,
    series: Series::Gauge,
    aggregation: Aggregation::All,
    promql: None,
    description:
        "True when the node is cordoned: `spec.unschedulable` (`kube_node_spec_unschedulable`).",
    bounds: Bounds::NONE,
};
pub(super) const RUNNING_PODS: MetricInfo = status_count(
    "running_pods",
    Kinds::NODES,
    "Pods bound to the node (`spec.nodeName`) in phase `Running`, as the kube-prometheus alerts count `kube_pod_status_phase{phase=\"Running\"}` by `kube_pod_info`'s node.",
);
pub(super) const POD_CAPACITY: MetricInfo = status_count(
    "pod_capacity",
    Kinds::NODES,
    "The pods the node can run: `status.capacity.pods` (`kube_node_status_capacity{resource=\"pods\"}`).",
);

pub(super) const JOB_OWNED: MetricInfo = MetricInfo {
    name: "job_owned",
    unit: Unit::Bool,
    kinds: Kinds::PODS,
    source: Source::Status,
    series: Series::Gauge,
    aggregation: Aggregation::All,
    promql: None,
    description: "True when a Job owns the pod: its `metadata.ownerReferences` name a `Job` (`kube_pod_owner{owner_kind=\"Job\"}`); a Job's pods are expected to stop running.",
    bounds: Bounds::NONE,
};
