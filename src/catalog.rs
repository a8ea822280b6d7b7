//! The catalog: the one table of what Skippy knows — target kinds, units,
//! metrics (with their source and PromQL), status and event reasons, window
//! functions, actions and the safety defaults. The checker, `explain`, the docs
//! test, the engine and the language server all read these tables; nothing else
//! lists them.
//!
//! Invariant: static data only, no behaviour beyond lookups.

mod actions;
mod cluster_metrics;
mod filesystem_metrics;
mod kubelet_metrics;
mod metrics;
mod node_exporter;
mod object_metrics;
mod reasons;

pub use actions::*;
pub use filesystem_metrics::{FILESYSTEM_LABELS, MAX_FILESYSTEMS_PER_NODE};

/// The label a container target carries its own name in, beside its pod's
/// labels (which it shadows: `where container = "app"` is the container's
/// name, whatever label the pod has), as cAdvisor and kube-state-metrics
/// name it.
pub const CONTAINER_LABEL: &str = "container";

/// The label a quota resource target carries the resource's name in
/// (`requests.cpu`, `count/deployments.apps`), beside its quota's labels,
/// as kube-state-metrics' `kube_resourcequota` names it.
pub const RESOURCE_LABEL: &str = "resource";
pub use metrics::*;
pub use reasons::*;

use serde::{Deserialize, Serialize};
use std::fmt;

/// What a policy selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Pods,
    Deployments,
    StatefulSets,
    DaemonSets,
    Nodes,
    Jobs,
    HorizontalPodAutoscalers,
    PersistentVolumeClaims,
    PodDisruptionBudgets,
    ResourceQuotas,
    PersistentVolumes,
    /// The cluster as a whole: one target, for conditions such as an
    /// overcommit that no single object has.
    Cluster,
    /// A node's mounted filesystem as node-exporter reports it: one target
    /// per (node, mount point), made from Prometheus answers, not from a
    /// Kubernetes object.
    Filesystems,
    /// A pod's regular container (`spec.containers`): one target per
    /// (namespace, pod, container), named `POD/CONTAINER`, made from the
    /// pods the observer holds, not from an object of its own.
    Containers,
}

impl Kind {
    pub const ALL: [Kind; 14] = [
        Kind::Pods,
        Kind::Deployments,
        Kind::StatefulSets,
        Kind::DaemonSets,
        Kind::Nodes,
        Kind::Jobs,
        Kind::HorizontalPodAutoscalers,
        Kind::PersistentVolumeClaims,
        Kind::PodDisruptionBudgets,
        Kind::ResourceQuotas,
        Kind::PersistentVolumes,
        Kind::Cluster,
        Kind::Filesystems,
        Kind::Containers,
    ];

    /// The word a policy uses: `select deployments`.
    pub fn keyword(self) -> &'static str {
        match self {
            Kind::Pods => "pods",
            Kind::Deployments => "deployments",
            Kind::StatefulSets => "statefulsets",
            Kind::DaemonSets => "daemonsets",
            Kind::Nodes => "nodes",
            Kind::Jobs => "jobs",
            Kind::HorizontalPodAutoscalers => "horizontalpodautoscalers",
            Kind::PersistentVolumeClaims => "persistentvolumeclaims",
            Kind::PodDisruptionBudgets => "poddisruptionbudgets",
            Kind::ResourceQuotas => "resourcequotas",
            Kind::PersistentVolumes => "persistentvolumes",
            Kind::Cluster => "cluster",
            Kind::Filesystems => "filesystems",
            Kind::Containers => "containers",
        }
    }

    /// One object of the kind: `deployment`, `persistentvolumeclaim`.
    pub fn singular(self) -> &'static str {
        if self == Kind::Cluster {
            return "cluster";
        }
        let plural = self.keyword();
        &plural[..plural.len() - 1]
    }

    pub fn from_keyword(word: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.keyword() == word)
    }

    pub fn is_workload(self) -> bool {
        matches!(
            self,
            Kind::Deployments | Kind::StatefulSets | Kind::DaemonSets
        )
    }

    /// The label a Prometheus series about one object of the kind names it
    /// by, as cAdvisor and kube-state-metrics label their series: `pod`,
    /// `deployment`, `node`, `container` (with its pod's `pod`: a
    /// container's name is unique only within its pod). `None` where
    /// KubeSkippy joins no declared metric's series to the kind's objects
    /// by a label of their own.
    pub fn series_label(self) -> Option<&'static str> {
        match self {
            Kind::Pods => Some("pod"),
            Kind::Deployments => Some("deployment"),
            Kind::StatefulSets => Some("statefulset"),
            Kind::DaemonSets => Some("daemonset"),
            Kind::Nodes => Some("node"),
            Kind::PersistentVolumeClaims => Some("persistentvolumeclaim"),
            Kind::Containers => Some("container"),
            _ => None,
        }
    }

    pub fn is_namespaced(self) -> bool {
        !Kinds::CLUSTER_SCOPED.contains(self)
    }

    /// Objects whose status the engine reads but whose pods it does not
    /// aggregate: their metrics are the object's own (a Job's pod counts, an
    /// autoscaler's replicas, a claim's volume usage, a budget's healthy pods,
    /// a quota's use, a volume's phase, the cluster's requests and
    /// allocatable resources, a filesystem's space, a container's state).
    pub fn is_observed_only(self) -> bool {
        matches!(
            self,
            Kind::Jobs
                | Kind::HorizontalPodAutoscalers
                | Kind::PersistentVolumeClaims
                | Kind::PodDisruptionBudgets
                | Kind::ResourceQuotas
                | Kind::PersistentVolumes
                | Kind::Cluster
                | Kind::Filesystems
                | Kind::Containers
        )
    }

    fn bit(self) -> u16 {
        1 << self as u16
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword())
    }
}

/// A set of kinds, for "applies to".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Kinds(u16);

impl Kinds {
    pub const PODS: Kinds = Kinds(1);
    pub const WORKLOADS: Kinds = Kinds(2 | 4 | 8);
    pub const SCALABLE: Kinds = Kinds(2 | 4);
    pub const DEPLOYMENTS: Kinds = Kinds(2);
    pub const DAEMONSETS: Kinds = Kinds(8);
    pub const STATEFULSETS: Kinds = Kinds(4);
    pub const NODES: Kinds = Kinds(16);
    pub const JOBS: Kinds = Kinds(32);
    pub const AUTOSCALERS: Kinds = Kinds(64);
    pub const CLAIMS: Kinds = Kinds(128);
    pub const BUDGETS: Kinds = Kinds(256);
    pub const QUOTAS: Kinds = Kinds(512);
    pub const VOLUMES: Kinds = Kinds(1024);
    pub const CLUSTER: Kinds = Kinds(2048);
    pub const FILESYSTEMS: Kinds = Kinds(4096);
    pub const CONTAINERS: Kinds = Kinds(8192);
    /// Pods, workloads and nodes: what the v0 contract selected.
    pub const RUNNING: Kinds = Kinds(31);
    pub const ALL: Kinds = Kinds(16383);
    /// The kinds with no namespace.
    pub const CLUSTER_SCOPED: Kinds = Kinds::NODES
        .with(Kinds::VOLUMES)
        .with(Kinds::CLUSTER)
        .with(Kinds::FILESYSTEMS);
    /// What KubeSkippy only ever tells people about: storage stays
    /// protected, so `notify` is the one action on a persistent volume; the
    /// cluster as a whole is no object an action could change, and a node's
    /// filesystem is a series of node-exporter's, no object at all (freeing
    /// space means deleting someone's data). A container is part of its
    /// pod: Kubernetes restarts a container only by itself, and what an
    /// action could do (restart, delete, roll out) it does to the pod.
    pub const NOTIFY_ONLY: Kinds = Kinds::VOLUMES
        .with(Kinds::CLUSTER)
        .with(Kinds::FILESYSTEMS)
        .with(Kinds::CONTAINERS);

    pub const fn with(self, other: Kinds) -> Kinds {
        Kinds(self.0 | other.0)
    }

    pub const fn except(self, other: Kinds) -> Kinds {
        Kinds(self.0 & !other.0)
    }

    pub fn contains(self, kind: Kind) -> bool {
        self.0 & kind.bit() != 0
    }

    pub const NONE: Kinds = Kinds(0);

    /// The set of one kind.
    pub fn of(kind: Kind) -> Kinds {
        Kinds(kind.bit())
    }

    pub fn intersect(self, other: Kinds) -> Kinds {
        Kinds(self.0 & other.0)
    }

    pub fn without(self, kind: Kind) -> Kinds {
        Kinds(self.0 & !kind.bit())
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// The kinds of the set, in [`Kind::ALL`]'s order.
    pub fn iter(self) -> impl Iterator<Item = Kind> {
        Kind::ALL.into_iter().filter(move |k| self.contains(*k))
    }

    /// "pods, deployments, statefulsets and daemonsets"
    pub fn describe(self) -> String {
        let names: Vec<&str> = Kind::ALL
            .into_iter()
            .filter(|k| self.contains(*k))
            .map(Kind::keyword)
            .collect();
        match names.as_slice() {
            [] => "nothing".into(),
            [one] => one.to_string(),
            [init @ .., last] => format!("{} and {last}", init.join(", ")),
        }
    }
}

/// The unit of a value. Canonical representations in the IR and the engine:
/// percent in percentage points (85.0), ratio as a fraction (0.05), bytes,
/// cores, durations in seconds, counts; rates are per second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    Percent,
    Ratio,
    Count,
    Bytes,
    Cores,
    Duration,
    Bool,
}

impl Unit {
    pub const ALL: [Unit; 7] = [
        Unit::Percent,
        Unit::Ratio,
        Unit::Count,
        Unit::Bytes,
        Unit::Cores,
        Unit::Duration,
        Unit::Bool,
    ];

    /// The word a `metric` declaration uses: `metric x: ratio = …`.
    pub fn keyword(self) -> &'static str {
        match self {
            Unit::Percent => "percent",
            Unit::Ratio => "ratio",
            Unit::Count => "count",
            Unit::Bytes => "bytes",
            Unit::Cores => "cores",
            Unit::Duration => "duration",
            Unit::Bool => "bool",
        }
    }

    pub fn from_keyword(word: &str) -> Option<Unit> {
        Unit::ALL.into_iter().find(|u| u.keyword() == word)
    }

    /// "a percent", for messages.
    pub fn described(self) -> &'static str {
        match self {
            Unit::Percent => "a percent",
            Unit::Ratio => "a ratio",
            Unit::Count => "a count",
            Unit::Bytes => "a byte quantity",
            Unit::Cores => "a CPU quantity",
            Unit::Duration => "a duration",
            Unit::Bool => "a boolean",
        }
    }

    /// How a literal of this unit is written, for help lines.
    pub fn example(self) -> &'static str {
        match self {
            Unit::Percent => "`85%` or `85`",
            Unit::Ratio => "`0.05` or `5%`",
            Unit::Count => "a whole number such as `3`",
            Unit::Bytes => "`512Mi`, `2Gi` or `1G`",
            Unit::Cores => "`0.5` or `500m`",
            Unit::Duration => "`30s`, `5m`, `1h` or `1d`",
            Unit::Bool => "`true` or `false`",
        }
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword())
    }
}

/// Where the operator reads a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// The object's status in the Kubernetes API (pod, workload or node).
    Status,
    /// The object's metadata (creation time).
    Metadata,
    /// `metrics.k8s.io` from metrics-server, or Prometheus when configured.
    MetricsServer,
    /// A PromQL query of the user's.
    Prometheus,
    /// The kubelet's own counts: its volume statistics (its summary API,
    /// `/api/v1/nodes/NODE/proxy/stats/summary`, each volume's `pvcRef`,
    /// through the API server, or its `kubelet_volume_stats_*` series
    /// through Prometheus when configured) and its eviction counter
    /// (`kubelet_evictions`, through Prometheus only).
    Kubelet,
    /// node-exporter's series through Prometheus, joined on the node its
    /// exporter pod runs on; there is no other source of them.
    NodeExporter,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::Status => "Kubernetes status",
            Source::Metadata => "Kubernetes metadata",
            Source::MetricsServer => "metrics-server",
            Source::Prometheus => "Prometheus",
            Source::Kubelet => "kubelet",
            Source::NodeExporter => "node-exporter",
        })
    }
}

/// Whether a series only grows (and resets) or goes up and down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Series {
    Gauge,
    Counter,
}

/// How a pod metric becomes a workload's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Aggregation {
    Average,
    Sum,
    /// True when it is true of every pod.
    All,
}

impl Aggregation {
    /// A workload's value made of its pods' `values`; `None` without any.
    pub fn combine(self, values: &[f64]) -> Option<f64> {
        if values.is_empty() {
            return None;
        }
        Some(match self {
            Aggregation::Average => values.iter().sum::<f64>() / values.len() as f64,
            Aggregation::Sum => values.iter().sum(),
            Aggregation::All => {
                if values.iter().all(|v| *v != 0.0) {
                    1.0
                } else {
                    0.0
                }
            }
        })
    }

    /// How a metric of `unit` is aggregated when nothing else is said (declared
    /// metrics): the average for percent, ratio, bytes, cores and durations,
    /// the sum for counts, all for booleans, as the built-ins do.
    pub const fn for_unit(unit: Unit) -> Aggregation {
        match unit {
            Unit::Count => Aggregation::Sum,
            Unit::Bool => Aggregation::All,
            Unit::Percent | Unit::Ratio | Unit::Bytes | Unit::Cores | Unit::Duration => {
                Aggregation::Average
            }
        }
    }
}

/// A window function over a metric's recent samples.
#[derive(Debug)]
pub struct FunctionInfo {
    pub name: &'static str,
    pub description: &'static str,
}

pub static FUNCTIONS: &[FunctionInfo] = &[
    FunctionInfo { name: "avg", description: "The average of the samples in the window." },
    FunctionInfo { name: "max", description: "The largest sample in the window." },
    FunctionInfo { name: "min", description: "The smallest sample in the window." },
    FunctionInfo { name: "increase", description: "How much a counter grew in the window (resets counted as growth from zero)." },
    FunctionInfo { name: "rate", description: "The per-second increase of a counter over the window." },
    FunctionInfo { name: "trend", description: "The slope of the samples in the window by least squares (compare with a rate such as `2%/min`; the IR holds it per second)." },
    FunctionInfo { name: "predict", description: "The value predicted the window's length from now (or a look-ahead of its own: `predict(m, 6h, 4d)`) by linear extrapolation of the last window." },
    FunctionInfo { name: "changes", description: "How many times the value changed in the window (`changes(m, 10m) == 0` is no progress in 10 minutes); applies to booleans too." },
];

/// Kubernetes quantity suffixes for bytes: binary first, then decimal.
pub static BYTE_SUFFIXES: &[(&str, f64)] = &[
    ("Ki", 1024.0),
    ("Mi", 1_048_576.0),
    ("Gi", 1_073_741_824.0),
    ("Ti", 1_099_511_627_776.0),
    ("Pi", 1_125_899_906_842_624.0),
    ("Ei", 1_152_921_504_606_846_976.0),
    ("k", 1e3),
    ("M", 1e6),
    ("G", 1e9),
    ("T", 1e12),
    ("P", 1e15),
    ("E", 1e18),
];

/// The resources `set` can change, with the unit of their values.
pub static RESOURCES: &[(&str, Unit)] =
    &[("memory_limit", Unit::Bytes), ("cpu_limit", Unit::Cores)];

/// The modes of a policy; the first is the default (safe by default).
pub static MODES: &[(&str, &str)] = &[
    (
        "dryrun",
        "Records HealingActions but never changes the cluster.",
    ),
    (
        "auto",
        "Executes the actions the safety controller approves.",
    ),
    (
        "approve",
        "Records HealingActions and waits for a human approval.",
    ),
    ("monitor", "Only evaluates and reports."),
];

/// Placeholders a PromQL template may use; the operator substitutes them.
pub static PROMQL_PLACEHOLDERS: &[(&str, &str)] = &[
    ("$namespace", "the namespace being evaluated"),
    (
        "$pod",
        "a regular expression matching the selected pods' names",
    ),
    (
        "$node",
        "a regular expression matching the selected nodes' names",
    ),
    ("$workload", "the name of the workload being evaluated"),
];

/// The kinds whose policies can fill `placeholder` in: a node has no
/// namespace and no pods of its own, a pod no workload name of its own.
pub fn placeholder_kinds(placeholder: &str) -> Kinds {
    match placeholder {
        "$namespace" => Kinds::ALL.except(Kinds::CLUSTER_SCOPED),
        "$pod" => Kinds::PODS.with(Kinds::WORKLOADS).with(Kinds::CONTAINERS),
        "$node" => Kinds::NODES,
        "$workload" => Kinds::WORKLOADS,
        _ => Kinds::NONE,
    }
}

/// Where `query` holds `placeholder` as a whole word (`$pod`, not the start
/// of `$pods`): what the checker checks and the operator fills in.
pub fn placeholder_at<'q>(
    query: &'q str,
    placeholder: &'q str,
) -> impl Iterator<Item = usize> + 'q {
    query
        .match_indices(placeholder)
        .filter(move |(at, _)| {
            !query[at + placeholder.len()..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        })
        .map(|(at, _)| at)
}

// ---------------------------------------------------------------- safety defaults
// The built-in safety configuration; `kubeskippy check --safety FILE` and the
// operator's configuration override them.

pub const PROTECTED_NAMESPACES: &[&str] = &[
    "kube-system",
    "kube-public",
    "kube-node-lease",
    "cert-manager",
    "ingress-nginx",
    "monitoring",
];

/// Labels that protect an object from every action: `(key, value)`.
pub const PROTECTED_LABELS: &[(&str, &str)] = &[("kubeskippy.io/protected", "true")];

/// Actions never allowed on a kind: `(action, kind)`.
pub const FORBIDDEN_ACTIONS: &[(&str, Kind)] = &[("delete", Kind::StatefulSets)];

/// Kinds KubeSkippy never acts on; a policy that names one is an error.
/// (Persistent volumes are selectable, and only `notify` applies to them:
/// see [`Kinds::NOTIFY_ONLY`].)
pub const FORBIDDEN_KINDS: &[&str] = &[
    "roles",
    "clusterroles",
    "rolebindings",
    "clusterrolebindings",
    "serviceaccounts",
    "customresourcedefinitions",
];

/// Actions that always wait for a human approval.
pub const APPROVAL_REQUIRED: &[&str] = &["cordon", "drain", "rerun", "expand"];

/// Scaling by more than this many replicas in one action needs approval.
pub const MAX_AUTO_SCALE_STEP: u32 = 5;

/// At most this many actions per policy per hour, whatever its `limit` says.
pub const MAX_ACTIONS_PER_HOUR: u32 = 30;
/// The most actions all policies together take per hour.
pub const MAX_CLUSTER_ACTIONS_PER_HOUR: u32 = 100;

/// How often metric triggers are evaluated, in seconds.
pub const EVALUATION_INTERVAL_SECONDS: u64 = 15;

/// Fields a patch may never set, at any depth: identity, privileges and RBAC.
pub const FORBIDDEN_PATCH_FIELDS: &[&str] = &[
    "serviceAccount",
    "serviceAccountName",
    "automountServiceAccountToken",
    "privileged",
    "allowPrivilegeEscalation",
    "capabilities",
    "hostNetwork",
    "hostPID",
    "hostIPC",
    "hostPath",
    "roleRef",
    "subjects",
    "rules",
    "ownerReferences",
    "finalizers",
    "replicas",
];
