//! What the operator observes, as the engine reads it: the cluster's pods,
//! workloads and nodes turned into [`Observations`], with each metric's
//! samples kept across cycles so that window functions (`increase(restarts,
//! 10m)`) see the same series in the cluster as in `test` and `simulate`.
//!
//! [`snapshot`] is pure: the objects (from the operator's reflectors) and the
//! history in, the observations out.

mod aggregate;
pub mod cluster_target;
mod containers;
pub mod counters;
pub mod events;
mod filesystems;
pub mod kinds;
pub mod objects;
pub mod queries;
mod rollouts;
pub mod watches;

/// A hash map with a fast hash seeded per process: the observer's maps
/// are looked up once per object per cycle.
pub(crate) type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
type HashSet<T> = std::collections::HashSet<T, foldhash::fast::RandomState>;

use crate::catalog::{self, Kind};
use crate::engine::counter_total;
use crate::engine::observation::{self, Metrics, Observations, Target, TargetId};
use crate::engine::series::{self, Sample};
use k8s_openapi::api::apps::v1::{
    ControllerRevision, DaemonSet, Deployment, ReplicaSet, StatefulSet,
};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{
    Node, PersistentVolume, PersistentVolumeClaim, Pod, ResourceQuota,
};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use objects::Observed;
use rollouts::Rollouts;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The objects of one moment, as the reflectors hold them.
#[derive(Debug, Default, Clone)]
pub struct Cluster {
    pub pods: Vec<Arc<Pod>>,
    pub replica_sets: Vec<Arc<ReplicaSet>>,
    pub deployments: Vec<Arc<Deployment>>,
    pub stateful_sets: Vec<Arc<StatefulSet>>,
    pub daemon_sets: Vec<Arc<DaemonSet>>,
    pub nodes: Vec<Arc<Node>>,
    /// `events.k8s.io/v1` Events (the core/v1 ones included).
    pub events: Vec<Arc<k8s_openapi::api::events::v1::Event>>,
    pub jobs: Vec<Arc<Job>>,
    pub autoscalers: Vec<Arc<HorizontalPodAutoscaler>>,
    pub claims: Vec<Arc<PersistentVolumeClaim>>,
    pub budgets: Vec<Arc<PodDisruptionBudget>>,
    pub quotas: Vec<Arc<ResourceQuota>>,
    /// Cluster-scoped, as nodes are.
    pub volumes: Vec<Arc<PersistentVolume>>,
    /// What `select cluster` reads, made from the whole cluster (see
    /// [`Cluster::with_totals`]); `None`: no cluster target.
    pub totals: Option<Arc<cluster_target::Totals>>,
    /// What a StatefulSet's or DaemonSet's `rollout_age` reads: when the
    /// revision its `status.updateRevision` names was made.
    pub revisions: Vec<Arc<ControllerRevision>>,
    /// The watches that are down: the statuses and events they feed are
    /// unknown (see [`watches::Watch::of_statuses`]).
    pub down: watches::Down,
}

impl Cluster {
    /// The namespaced objects of `namespaces` alone, no nodes: what a watch
    /// event about pods there can change.
    pub fn in_namespaces(&self, namespaces: &BTreeSet<String>) -> Cluster {
        // Hashed: a watch pass runs this over every object of the cluster,
        // and a burst names many namespaces that share a prefix, which a
        // tree compares byte by byte.
        let namespaces: HashSet<&str> = namespaces.iter().map(String::as_str).collect();
        self.retain(|namespace| namespace.is_some_and(|ns| namespaces.contains(ns)))
    }

    /// The cluster with its [`cluster_target::Totals`] summed over all of
    /// it: call it before taking a part.
    pub fn with_totals(mut self) -> Cluster {
        self.totals = Some(Arc::new(cluster_target::Totals::of(&self)));
        self
    }

    /// The objects whose namespace (`None`: a node's, or an Event's about a
    /// node) `keep` says yes to.
    pub fn retain(&self, keep: impl Fn(Option<&str>) -> bool) -> Cluster {
        fn only<K: kube::Resource>(
            objects: &[Arc<K>],
            keep: &impl Fn(Option<&str>) -> bool,
        ) -> Vec<Arc<K>> {
            objects
                .iter()
                .filter(|o| keep(o.meta().namespace.as_deref()))
                .cloned()
                .collect()
        }
        Cluster {
            pods: only(&self.pods, &keep),
            replica_sets: only(&self.replica_sets, &keep),
            deployments: only(&self.deployments, &keep),
            stateful_sets: only(&self.stateful_sets, &keep),
            daemon_sets: only(&self.daemon_sets, &keep),
            nodes: only(&self.nodes, &keep),
            events: only(&self.events, &keep),
            jobs: only(&self.jobs, &keep),
            autoscalers: only(&self.autoscalers, &keep),
            claims: only(&self.claims, &keep),
            budgets: only(&self.budgets, &keep),
            quotas: only(&self.quotas, &keep),
            volumes: only(&self.volumes, &keep),
            // Sums over every pod and node: kept whole with the
            // cluster-scoped objects, never re-summed over a part.
            totals: self.totals.clone().filter(|_| keep(None)),
            revisions: only(&self.revisions, &keep),
            down: self.down.clone(),
        }
    }
}

/// Each object's samples across cycles.
#[derive(Debug)]
pub struct History {
    /// How far back samples are kept: the longest window any policy reads,
    /// plus the staleness of a sample.
    retention: i64,
    objects: HashMap<TargetId, Kept>,
    records: u64,
    /// How a workload aggregates the declared metrics its pods have (the
    /// built-ins aggregate as the catalog says).
    /// and whether each is a counter.
    declared: BTreeMap<String, (catalog::Aggregation, bool)>,
    /// The metrics whose samples are kept across cycles: those the policies
    /// read. Every other keeps its latest value only (what records and AI
    /// cases show of it), so that at 10,000 pods the history holds what
    /// the rules' windows need, not a series of every field of every pod.
    /// `None`: every metric keeps its samples.
    read: Option<BTreeSet<String>>,
    /// The status reasons whose history is kept (each object's truth of
    /// them at each cycle): those some rule reads over a window (`status
    /// was R within D`), and no other.
    statuses_read: BTreeSet<String>,
    /// The filesystems Prometheus reports, which `select filesystems`
    /// selects: no Kubernetes object stands for them.
    filesystems: filesystems::Filesystems,
    /// Whether the pods' containers are targets (some policy selects
    /// containers): at 10,000 pods, one or more targets per container
    /// would double every cycle's work for nothing otherwise.
    containers: bool,
    /// The watches down during the snapshot under way: the values of the
    /// objects they feed are not sampled (see [`watches::Down::stale_objects`]).
    down: watches::Down,
}

#[derive(Debug, Default)]
struct Kept {
    /// Shared with the targets of the last snapshot, which are dropped
    /// before the next one writes, so writing does not copy.
    metrics: Arc<Metrics>,
    /// Whether each status of `History::statuses_read` held, cycle by cycle;
    /// shared with the last snapshot's targets, as `metrics` is.
    statuses: Arc<Metrics>,
    /// OOM kills already counted: (container, when it ended).
    ooms_seen: BTreeSet<(String, i64)>,
    /// The declared metrics Prometheus answered for this workload itself
    /// (a series per workload): never aggregated from its pods as well.
    own: BTreeSet<String>,
    /// The running total of each counter read through Prometheus.
    counters: BTreeMap<String, counters::Total>,
    last_seen: i64,
}

/// Trim every this many records: trimming is linear in what is kept.
const TRIM_EVERY: u64 = 64;

impl History {
    pub fn new(retention: i64) -> History {
        History {
            retention: retention.max(crate::engine::truth::STALENESS_SECONDS),
            objects: HashMap::default(),
            records: 0,
            declared: BTreeMap::new(),
            read: None,
            statuses_read: BTreeSet::new(),
            filesystems: filesystems::Filesystems::default(),
            containers: false,
            down: watches::Down::default(),
        }
    }

    /// Makes each pod's regular containers targets of their own, or stops
    /// (what `select containers` selects).
    pub fn observe_containers(&mut self, on: bool) {
        self.containers = on;
    }

    /// Keeps the samples of `read` across cycles, and only the latest value
    /// of every other metric.
    pub fn keep_series_of(&mut self, read: BTreeSet<String>) {
        self.read = Some(read);
    }

    /// Keeps the history of the status reasons of `read` (what programs read
    /// over a window, [`crate::ir::Program::status_windows`]), and of no
    /// other.
    pub fn keep_status_history_of(&mut self, read: BTreeSet<String>) {
        self.statuses_read = read;
    }

    /// Records whether each status whose history is kept holds on `target`
    /// now (with `append`), and gives the target its history.
    fn record_statuses(&mut self, target: &mut Target, now: i64, append: bool) {
        if self.statuses_read.is_empty() {
            return;
        }
        let kept = Self::kept(&mut self.objects, &target.id);
        if append {
            let statuses = Arc::make_mut(&mut kept.statuses);
            observation::record_statuses(statuses, target, &self.statuses_read, now);
        }
        target.status_history = Arc::clone(&kept.statuses);
    }

    /// Stores `sample` of `name`: appended where its series is kept,
    /// replacing the last value elsewhere.
    fn store(read: &Option<BTreeSet<String>>, metrics: &mut Metrics, name: &str, sample: Sample) {
        match read {
            Some(read) if !read.contains(name) => series::replace(metrics, name, sample),
            _ => series::append(metrics, name, sample),
        }
    }

    pub fn set_retention(&mut self, retention: i64) {
        self.retention = retention.max(crate::engine::truth::STALENESS_SECONDS);
    }

    /// Takes in what a cycle's queries brought: each known target's samples
    /// (`known` says which objects the cluster has: an answer about a pod
    /// gone is dropped), and forgets the series of failed queries, so that
    /// a metric whose source is down is unknown, not stale. Call before
    /// [`snapshot`], whose workloads aggregate these samples.
    pub fn absorb(&mut self, mut fetched: queries::Fetched, known: impl Fn(&TargetId) -> bool) {
        for gone in self.filesystems.absorb(&mut fetched, &known) {
            self.objects.remove(&gone);
        }
        if !fetched.failed.is_empty() {
            // One pass over the objects, however many namespaces failed.
            let failed: HashSet<(&str, Option<&str>, queries::Landing)> = fetched
                .failed
                .iter()
                .map(|(metric, namespace, landing)| {
                    (metric.as_str(), namespace.as_deref(), *landing)
                })
                .collect();
            for (id, kept) in &mut self.objects {
                let landings = queries::Landing::ALL
                    .into_iter()
                    .filter(|l| l.reaches(id.kind));
                let gone = |metric: &String| {
                    landings.clone().any(|landing| {
                        failed.contains(&(metric.as_str(), None, landing))
                            || failed.contains(&(metric.as_str(), id.namespace.as_deref(), landing))
                    })
                };
                if kept.metrics.keys().any(gone) {
                    Arc::make_mut(&mut kept.metrics).retain(|metric, _| !gone(metric));
                }
                // Read again from its first answer, as a new total.
                kept.counters.retain(|metric, _| !gone(metric));
            }
        }
        for (id, series) in fetched.samples {
            let workload = id.kind.is_workload();
            // A name another program declares a counter is read as one.
            let counted = fetched.counters.get(&id);
            let Some(kept) = Self::kept_if_known(&mut self.objects, id, &known) else {
                continue;
            };
            let metrics = Arc::make_mut(&mut kept.metrics);
            for (name, samples) in series {
                if counted.is_some_and(|c| c.contains_key(&name)) {
                    continue;
                }
                for sample in samples {
                    series::append(metrics, &name, sample);
                }
                if workload {
                    kept.own.insert(name);
                }
            }
        }
        for (id, answered) in fetched.counters {
            let workload = id.kind.is_workload();
            let Some(kept) = Self::kept_if_known(&mut self.objects, id, &known) else {
                continue;
            };
            for (name, answered) in answered {
                if workload && kept.own.insert(name.clone()) {
                    // The workload's own series from now on: what its pods'
                    // aggregate made of it is not carried on.
                    kept.counters.remove(&name);
                    Arc::make_mut(&mut kept.metrics).remove(&name);
                }
                let total = kept.counters.entry(name.clone()).or_default();
                let samples = answered.advance(total);
                let metrics = Arc::make_mut(&mut kept.metrics);
                for sample in samples {
                    series::append(metrics, &name, sample);
                }
            }
        }
        self.declared.extend(fetched.aggregations);
    }

    /// Appends `observed`'s values at `now` (with `append`) and returns its
    /// target with its series.
    fn record(&mut self, observed: Observed, now: i64, append: bool) -> Target {
        let Observed {
            mut target,
            values,
            oom_kills,
        } = observed;
        let stale = self.down.stale_objects(target.id.kind);
        let kept = Self::kept(&mut self.objects, &target.id);
        if !append || stale {
            target.metrics = Arc::clone(&kept.metrics);
            return target;
        }
        kept.last_seen = now;
        let mut values = values;
        if matches!(target.id.kind, Kind::Pods | Kind::Containers) {
            for kill in oom_kills {
                kept.ooms_seen.insert(kill);
            }
            values.push(("oom_kills", kept.ooms_seen.len() as f64));
        }
        let metrics = Arc::make_mut(&mut kept.metrics);
        for (name, value) in values {
            Self::store(&self.read, metrics, name, Sample::new(now, value));
        }
        target.metrics = Arc::clone(&kept.metrics);
        target
    }

    /// What is kept of `id`, made if need be, where the cluster has it: an
    /// answer about an object gone is dropped. A container is known where
    /// its pod is; one its pod does not have is never recorded, and goes at
    /// the next trim.
    fn kept_if_known<'h>(
        objects: &'h mut HashMap<TargetId, Kept>,
        id: TargetId,
        known: &impl Fn(&TargetId) -> bool,
    ) -> Option<&'h mut Kept> {
        let pod = id.pod_of_container();
        known(pod.as_ref().unwrap_or(&id)).then(|| objects.entry(id).or_default())
    }

    /// What is kept of `id`, found without copying `id` when it is there:
    /// most objects are, every cycle.
    fn kept<'h>(objects: &'h mut HashMap<TargetId, Kept>, id: &TargetId) -> &'h mut Kept {
        if !objects.contains_key(id) {
            objects.insert(id.clone(), Kept::default());
        }
        objects.get_mut(id).expect("inserted above")
    }

    fn trim(&mut self, now: i64) {
        self.records += 1;
        if !self.records.is_multiple_of(TRIM_EVERY) {
            return;
        }
        let cutoff = now.saturating_sub(self.retention);
        for gone in self.filesystems.forget_before(cutoff) {
            self.objects.remove(&gone);
        }
        self.objects.retain(|_, kept| kept.last_seen >= cutoff);
        for kept in self.objects.values_mut() {
            let metrics = Arc::make_mut(&mut kept.metrics);
            let statuses = Arc::make_mut(&mut kept.statuses);
            for series in metrics.values_mut().chain(statuses.values_mut()) {
                Arc::make_mut(series).forget_before(cutoff);
            }
        }
    }
}

/// The cluster at `now` as the engine reads it: every pod (with its owning
/// workload and node), every workload (with its pods' statuses, and their
/// metrics aggregated as the catalog says), every node, and each pod's
/// containers where [`History::observe_containers`] says so.
///
/// The history is trimmed first, while no snapshot shares its maps: trimming
/// after would copy every map the returned targets hold.
pub fn snapshot(cluster: &Cluster, history: &mut History, now: i64) -> Observations {
    history.trim(now);
    assemble(cluster, history, now, true)
}

/// The cluster at `now` as [`snapshot`] sees it, but reading each metric's
/// samples as they are, without appending: what a watch event between
/// cycles evaluates (statuses are current; samples come with the cycle).
pub fn peek(cluster: &Cluster, history: &mut History, now: i64) -> Observations {
    assemble(cluster, history, now, false)
}

fn assemble(cluster: &Cluster, history: &mut History, now: i64, append: bool) -> Observations {
    history.down = cluster.down.clone();
    let replica_sets: HashMap<(&str, &str), &ReplicaSet> = cluster
        .replica_sets
        .iter()
        .filter_map(|rs| {
            Some((
                (
                    rs.metadata.namespace.as_deref()?,
                    rs.metadata.name.as_deref()?,
                ),
                &**rs,
            ))
        })
        .collect();
    let mut events = events::by_object(&cluster.events);
    let mut targets: Vec<Target> = Vec::new();
    for pod in &cluster.pods {
        let owner = objects::pod_owner(pod, |ns, name| replica_sets.get(&(ns, name)).copied());
        let mut target = history.record(objects::pod(pod, owner, now), now, append);
        target.events = events.remove(&target.id).unwrap_or_default();
        targets.push(target);
    }
    let mut by_owner: HashMap<TargetId, Vec<usize>> = HashMap::default();
    for (i, pod) in targets.iter().enumerate() {
        if let Some(owner) = &pod.owner {
            by_owner.entry(owner.clone()).or_default().push(i);
        }
    }
    let rollouts = Rollouts::of(cluster);
    let workloads = cluster
        .deployments
        .iter()
        .map(|d| rollouts.of_deployment(objects::deployment(d, now), now))
        .chain(cluster.stateful_sets.iter().map(|s| {
            let revision = s.status.as_ref().and_then(|s| s.update_revision.as_deref());
            rollouts.of_revision(objects::stateful_set(s, now), revision, now)
        }))
        .chain(cluster.daemon_sets.iter().map(|d| {
            // A DaemonSet's status names no revision: its newest is the
            // one it rolls out.
            rollouts.of_revision(objects::daemon_set(d, now), None, now)
        }));
    let mut workload_targets = Vec::new();
    for observed in workloads {
        let mut target = history.record(observed, now, append);
        let pods: Vec<&Target> = by_owner
            .get(&target.id)
            .map(|ids| ids.iter().map(|&i| &targets[i]).collect())
            .unwrap_or_default();
        // A workload has a status when any of its pods has it, and the
        // events on it or on its pods.
        target.events = events.remove(&target.id).unwrap_or_default();
        for pod in &pods {
            target.statuses.extend(pod.statuses.iter().cloned());
            target.events.extend(pod.events.iter().cloned());
        }
        history.record_aggregate(&mut target, &pods, now, append);
        workload_targets.push(target);
    }
    targets.extend(workload_targets);
    if history.containers {
        for pod in &cluster.pods {
            for observed in containers::of_pod(pod, now) {
                targets.push(history.record(observed, now, append));
            }
        }
    }
    let mut running_on: HashMap<&str, usize> = HashMap::default();
    for pod in &cluster.pods {
        let running = pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
        if let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) {
            *running_on.entry(node).or_default() += usize::from(running);
        }
    }
    for node in &cluster.nodes {
        let mut observed = objects::node(node, now);
        let running = running_on.get(observed.target.id.name.as_str()).copied();
        observed
            .values
            .push(("running_pods", running.unwrap_or(0) as f64));
        let mut target = history.record(observed, now, append);
        target.events = events.remove(&target.id).unwrap_or_default();
        targets.push(target);
    }
    let nodes: HashSet<&str> = cluster
        .nodes
        .iter()
        .filter_map(|n| n.metadata.name.as_deref())
        .collect();
    for observed in history.filesystems.observed(|node| nodes.contains(node)) {
        targets.push(history.record(observed, now, append));
    }
    let others = cluster
        .jobs
        .iter()
        .map(|j| kinds::job(j, now))
        .chain(
            cluster
                .autoscalers
                .iter()
                .map(|h| kinds::autoscaler(h, now)),
        )
        .chain(cluster.claims.iter().map(|c| kinds::claim(c, now)))
        .chain(cluster.budgets.iter().map(|b| kinds::budget(b, now)))
        .chain(cluster.quotas.iter().flat_map(|q| kinds::quota(q, now)))
        .chain(cluster.volumes.iter().map(|v| kinds::volume(v, now)))
        .chain(cluster.totals.iter().map(|t| t.observed()));
    for observed in others {
        let mut target = history.record(observed, now, append);
        target.events = match target.id.quota_of_resource_id() {
            // The Events about a quota are about each of its resources.
            Some(quota) => events.get(&quota).cloned().unwrap_or_default(),
            None => events.remove(&target.id).unwrap_or_default(),
        };
        targets.push(target);
    }
    // Once every target has its statuses (a workload's are its pods'),
    // and knows which of them a watch that is down leaves unknown.
    for target in &mut targets {
        target.unobserved = cluster.down.unobserved(target.id.kind);
        history.record_statuses(target, now, append);
    }
    Observations { targets }
}

#[cfg(test)]
mod catalog_tests;
#[cfg(test)]
mod containers_tests;
#[cfg(test)]
mod counters_tests;
#[cfg(test)]
mod filesystems_tests;
#[cfg(test)]
mod queries_tests;
#[cfg(test)]
mod tests;
