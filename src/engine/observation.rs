//! What the engine is given: the targets a policy may select, each with its
//! labels, metric samples, current status reasons and recent events.
//!
//! The observation layer (the operator's `observe/`, or the simulator) fills
//! these in; for a workload it has already aggregated its pods' samples as the
//! catalog says (average, sum or all), so the engine reads every value by the
//! metric's name on the target itself.

use super::series::Series;
use crate::catalog::{Effect, Kind};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

/// Which object a target is. Ordered, so that every evaluation visits targets
/// in the same order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TargetId {
    pub kind: Kind,
    /// `None` for nodes.
    pub namespace: Option<String>,
    pub name: String,
}

impl TargetId {
    /// The one target of `select cluster`.
    pub fn cluster() -> TargetId {
        TargetId {
            kind: Kind::Cluster,
            namespace: None,
            name: "cluster".into(),
        }
    }

    /// A node's filesystem, named `NODE:MOUNTPOINT`: a node's name holds no
    /// `:`, so the first one splits them back (see [`TargetId::node_of_filesystem`]).
    pub fn filesystem(node: &str, mountpoint: &str) -> TargetId {
        TargetId {
            kind: Kind::Filesystems,
            namespace: None,
            name: format!("{node}:{mountpoint}"),
        }
    }

    /// A pod's container, named `POD/CONTAINER`: neither name can hold a
    /// `/` (both are DNS labels or subdomains), so the first one splits
    /// them back (see [`TargetId::container_of_pod`]).
    pub fn container(namespace: &str, pod: &str, container: &str) -> TargetId {
        TargetId {
            kind: Kind::Containers,
            namespace: Some(namespace.to_string()),
            name: format!("{pod}/{container}"),
        }
    }

    /// One resource of a ResourceQuota, named `QUOTA/RESOURCE`: a quota's
    /// name cannot hold a `/` (a resource's can: `count/deployments.apps`),
    /// so the first one splits them back (see [`TargetId::quota_of_resource`]).
    pub fn quota_resource(namespace: &str, quota: &str, resource: &str) -> TargetId {
        TargetId {
            kind: Kind::ResourceQuotas,
            namespace: Some(namespace.to_string()),
            name: format!("{quota}/{resource}"),
        }
    }

    /// A quota resource target's quota and resource names; `None` for any
    /// other target.
    pub fn quota_of_resource(&self) -> Option<(&str, &str)> {
        if self.kind != Kind::ResourceQuotas {
            return None;
        }
        self.name.split_once('/')
    }

    /// A container target's pod and container names; `None` for any other
    /// target.
    pub fn container_of_pod(&self) -> Option<(&str, &str)> {
        if self.kind != Kind::Containers {
            return None;
        }
        self.name.split_once('/')
    }

    /// The pod a container target is in; `None` for any other target.
    pub fn pod_of_container(&self) -> Option<TargetId> {
        let (pod, _) = self.container_of_pod()?;
        Some(TargetId {
            kind: Kind::Pods,
            namespace: self.namespace.clone(),
            name: pod.to_string(),
        })
    }

    /// The quota a quota resource target is of; `None` for any other target.
    pub fn quota_of_resource_id(&self) -> Option<TargetId> {
        let (quota, _) = self.quota_of_resource()?;
        Some(TargetId {
            kind: Kind::ResourceQuotas,
            namespace: self.namespace.clone(),
            name: quota.to_string(),
        })
    }

    /// The node a filesystem target is on; `None` for any other target.
    pub fn node_of_filesystem(&self) -> Option<&str> {
        if self.kind != Kind::Filesystems {
            return None;
        }
        self.name.split_once(':').map(|(node, _)| node)
    }
}

impl fmt::Display for TargetId {
    /// `pods/shop/checkout-7d9f`, `nodes/worker-1`, `cluster`,
    /// `containers/shop/checkout-7d9f/app`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.kind == Kind::Cluster {
            return f.write_str("cluster");
        }
        match &self.namespace {
            Some(ns) => write!(f, "{}/{ns}/{}", self.kind, self.name),
            None => write!(f, "{}/{}", self.kind, self.name),
        }
    }
}

/// A Kubernetes event on the target (for a workload: on it or its pods).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub reason: String,
    /// When it (last) happened, in seconds.
    pub at: i64,
    /// How many times, as Kubernetes folds repeats into one event.
    pub count: u32,
}

/// Sources that failed for a target: a broken watch, a failed list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unobserved {
    pub statuses: bool,
    pub events: bool,
}

/// One object as observed now.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub id: TargetId,
    pub labels: BTreeMap<String, String>,
    /// Samples by metric name, in the metric's canonical unit. Shared, map
    /// and series, so consecutive evaluations (the operator's cycles, a
    /// test's steps) reuse what did not change instead of copying it: at
    /// 10,000 pods a copied map per target per cycle was most of a cycle.
    /// Write through [`Target::metrics_mut`].
    pub metrics: Arc<Metrics>,
    /// Status reasons that hold now (`CrashLoopBackOff`, `MemoryPressure`, …).
    pub statuses: BTreeSet<String>,
    /// Since when a status of `statuses` has held, where the source says (a
    /// condition's `lastTransitionTime`, a node taint's `timeAdded`): what
    /// lets a `for` timer bridge a gap in evaluations (see `engine::gap`).
    /// A container's waiting reason has no such time (its last
    /// termination's `finishedAt` is only its latest back-off, not the
    /// crash loop's start), so `CrashLoopBackOff` has none.
    pub status_since: BTreeMap<String, i64>,
    /// Whether each status some rule reads over a window (`status was R
    /// within D`) held at the evaluations before: a sample of 1 where it
    /// held, 0 where it was observed not to, none where it was not
    /// observed. Filled by [`record_statuses`] at each evaluation.
    pub status_history: Arc<Metrics>,
    pub events: Vec<Event>,
    /// What could not be observed for this target (its source is down): its
    /// statuses or events are then unknown, not absent.
    pub unobserved: Unobserved,
    /// For a pod: the workload that controls it (a ReplicaSet's Deployment,
    /// not the ReplicaSet), which `restart rolling`, `scale` and `rollback`
    /// act on. `None` for a bare pod or when not known.
    pub owner: Option<TargetId>,
    /// For a pod: the node it runs on, which `cordon` and `drain` act on.
    pub node: Option<String>,
}

/// A target's series by metric name.
pub type Metrics = BTreeMap<String, Arc<Series>>;

impl Target {
    /// The target's series to change: its own copy if they are shared.
    pub fn metrics_mut(&mut self) -> &mut Metrics {
        Arc::make_mut(&mut self.metrics)
    }

    /// A node's filesystem with its labels, each of
    /// [`crate::catalog::FILESYSTEM_LABELS`] present: one the series lacks
    /// is empty, as PromQL reads it, so that `where fstype != ""` leaves
    /// it out as the mixin's `fstype!=""` does.
    pub fn filesystem(node: &str, mountpoint: &str, fstype: &str, device: &str) -> Target {
        let mut target = Target::new(TargetId::filesystem(node, mountpoint));
        let values = [node, mountpoint, fstype, device];
        for (label, value) in crate::catalog::FILESYSTEM_LABELS.iter().zip(values) {
            target
                .labels
                .insert((*label).to_string(), value.to_string());
        }
        target
    }

    /// A target with nothing observed yet.
    pub fn new(id: TargetId) -> Target {
        Target {
            id,
            labels: BTreeMap::new(),
            metrics: Arc::default(),
            statuses: BTreeSet::new(),
            status_since: BTreeMap::new(),
            status_history: Arc::default(),
            events: Vec::new(),
            unobserved: Unobserved::default(),
            owner: None,
            node: None,
        }
    }

    /// The object an action with `effect` lands on when this target is
    /// selected. A pod whose owner or node is not known stands for it, so a
    /// cooldown still holds per pod rather than not at all.
    pub fn acted_on(&self, effect: Effect) -> TargetId {
        match effect {
            Effect::Owner => self.owner.clone().unwrap_or_else(|| self.id.clone()),
            Effect::Node => match &self.node {
                Some(node) => TargetId {
                    kind: Kind::Nodes,
                    namespace: None,
                    name: node.clone(),
                },
                None => self.id.clone(),
            },
            Effect::Itself | Effect::Nothing => self.id.clone(),
        }
    }
}

/// Appends to `history` whether each of `reasons` holds on `target` at
/// `now`: the samples `status was R within D` reads, as the observer (the
/// operator's, the simulator's) records them at each evaluation. Nothing is
/// appended while the target's statuses cannot be observed: a moment not
/// seen is no moment of the window.
pub fn record_statuses(
    history: &mut Metrics,
    target: &Target,
    reasons: &BTreeSet<String>,
    now: i64,
) {
    if target.unobserved.statuses {
        return;
    }
    for reason in reasons {
        let held = if target.statuses.contains(reason) {
            1.0
        } else {
            0.0
        };
        super::series::append(history, reason, super::series::Sample::new(now, held));
    }
}

/// Everything observed at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observations {
    pub targets: Vec<Target>,
}
