//! What a cycle asks of Prometheus: each metric the policies read that
//! Prometheus serves, as one query per namespace (never one per pod), with
//! its placeholders filled in, and how far back its rules' windows look; and
//! how each answer's series land on targets.
//!
//! Pure: the compiled programs and the cluster's objects in, queries out;
//! labels in, targets out. The operator's Prometheus source runs them.

use super::counters::{Answered, SeriesKey};
use super::Cluster;
use crate::catalog::{self, Aggregation, Kind, Source};
use crate::engine::observation::TargetId;
use crate::engine::series::Sample;
use crate::ir::{Condition, Namespaces, Program};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A program the operator evaluates, with the namespace its `select`
/// without `in` means (a HealingPolicy's own).
#[derive(Debug, Clone, Copy)]
pub struct Evaluated<'p> {
    pub program: &'p Program,
    pub namespace: Option<&'p str>,
}

/// One metric as the policies read it from Prometheus.
#[derive(Debug, Clone, PartialEq)]
pub struct Wanted {
    /// The series name the engine reads on each target.
    pub name: String,
    /// The PromQL template, placeholders unfilled.
    pub template: String,
    /// How a workload's value is made of its pods' (declared metrics; the
    /// built-ins are aggregated as the catalog says).
    pub aggregation: Option<Aggregation>,
    /// The longest window its rules read, in seconds (0: the latest value).
    pub lookback: i64,
    /// The namespaces whose objects the policies select.
    pub scope: Scope,
    /// Whether its series land on containers, on the other kinds' targets,
    /// or on both.
    pub landing: Landing,
    /// Whether it is a counter: the series of its answer that land on one
    /// target are combined by their growth (see [`super::counters`]).
    pub counter: bool,
}

/// Which targets a query's series land on: decided by the kinds of the
/// policies that read it, when planned, so that a pod's query whose series
/// carry a `container` label (a declared metric's raw selector) still lands
/// on the pod, and a container's query never on its pod.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Landing {
    /// Pods, workloads, claims and nodes, as each series' labels name them
    /// (see [`target_of`]).
    #[default]
    Objects,
    /// Containers, by their `pod` and `container` labels together (see
    /// [`container_of`]).
    Containers,
    /// Both: a declared metric read by policies on containers and on
    /// another kind.
    Both,
}

impl Landing {
    pub const ALL: [Landing; 3] = [Landing::Objects, Landing::Containers, Landing::Both];

    fn of(kind: Kind) -> Landing {
        if kind == Kind::Containers {
            Landing::Containers
        } else {
            Landing::Objects
        }
    }

    fn widen(self, other: Landing) -> Landing {
        if self == other {
            self
        } else {
            Landing::Both
        }
    }

    fn on_containers(self) -> bool {
        self != Landing::Objects
    }

    fn on_objects(self) -> bool {
        self != Landing::Containers
    }

    /// Whether a series of this landing can be on a target of `kind`.
    pub(super) fn reaches(self, kind: Kind) -> bool {
        if kind == Kind::Containers {
            self.on_containers()
        } else {
            self.on_objects()
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Scope {
    Named(BTreeSet<String>),
    /// Every namespace but these.
    Every(BTreeSet<String>),
    /// Nodes: no namespace.
    Cluster,
}

impl Scope {
    /// Whether objects of `namespace` are in the scope.
    pub fn covers(&self, namespace: &str) -> bool {
        match self {
            Scope::Named(names) => names.contains(namespace),
            Scope::Every(except) => !except.contains(namespace),
            Scope::Cluster => false,
        }
    }

    fn widen(&mut self, other: Scope) {
        *self = match (std::mem::replace(self, Scope::Cluster), other) {
            (Scope::Named(mut a), Scope::Named(b)) => {
                a.extend(b);
                Scope::Named(a)
            }
            (Scope::Every(except), Scope::Named(named))
            | (Scope::Named(named), Scope::Every(except)) => {
                Scope::Every(except.difference(&named).cloned().collect())
            }
            (Scope::Every(a), Scope::Every(b)) => {
                Scope::Every(a.intersection(&b).cloned().collect())
            }
            (Scope::Cluster, other) | (other, Scope::Cluster) => other,
        };
    }
}

/// The metrics the programs read that Prometheus serves, each once (by name
/// and query), with the widest scope and the longest window any rule gives
/// it. A declared metric two policies declare with different queries is
/// two entries; both land on the same series name, and the first wins (see
/// [`Fetched`]).
pub fn wanted(programs: &[Evaluated<'_>]) -> Vec<Wanted> {
    let mut wanted: BTreeMap<(String, String), Wanted> = BTreeMap::new();
    for evaluated in programs {
        let program = evaluated.program;
        for policy in &program.policies {
            let scope = match &policy.selector.namespaces {
                Namespaces::Own => match evaluated.namespace {
                    Some(ns) => Scope::Named(BTreeSet::from([ns.to_string()])),
                    None => continue,
                },
                Namespaces::Named(names) => Scope::Named(names.iter().cloned().collect()),
                Namespaces::AnyExcept(except) => Scope::Every(except.iter().cloned().collect()),
                Namespaces::ClusterScoped => Scope::Cluster,
            };
            let landing = Landing::of(policy.selector.kind);
            let mut reads: BTreeMap<usize, i64> = BTreeMap::new();
            for rule in &policy.rules {
                windows(&rule.condition, &mut reads);
            }
            for (id, lookback) in reads {
                let Some(metric) = program.metrics.get(id) else {
                    continue;
                };
                let served = matches!(
                    metric.source,
                    Source::MetricsServer
                        | Source::Prometheus
                        | Source::Kubelet
                        | Source::NodeExporter
                );
                let Some(template) = metric.promql.clone().filter(|_| served) else {
                    continue;
                };
                let key = (metric.name.clone(), template.clone());
                match wanted.get_mut(&key) {
                    Some(entry) => {
                        entry.lookback = entry.lookback.max(lookback);
                        entry.scope.widen(scope.clone());
                        entry.landing = entry.landing.widen(landing);
                    }
                    None => {
                        wanted.insert(
                            key,
                            Wanted {
                                name: metric.name.clone(),
                                template,
                                aggregation: (!metric.builtin)
                                    .then_some(metric.aggregation)
                                    .flatten(),
                                lookback,
                                scope: scope.clone(),
                                landing,
                                counter: metric.series == catalog::Series::Counter,
                            },
                        );
                    }
                }
            }
        }
    }
    wanted.into_values().collect()
}

/// Each metric a condition reads, with the longest window over it.
fn windows(condition: &Condition, reads: &mut BTreeMap<usize, i64>) {
    condition.for_each_metric_expr(&mut |expr| {
        let range = expr.window.map_or(0, |w| w.range.0);
        let lookback = i64::try_from(range).unwrap_or(i64::MAX);
        let entry = reads.entry(expr.metric.0).or_insert(0);
        *entry = (*entry).max(lookback);
    });
}

/// One query of a cycle.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Query {
    /// The series name its answers land on.
    pub metric: String,
    pub promql: String,
    /// The namespace it was filled in for; `None` for a cluster-wide query.
    pub namespace: Option<String>,
    pub lookback: i64,
    /// Whether its answers are filesystems (`select filesystems`), each
    /// series a target of its own: decided once when planned, not for
    /// every series of the answer.
    pub filesystems: bool,
    /// Whether its series land on containers, on other targets or on both.
    pub landing: Landing,
    /// Whether its answers are counters, combined by their growth.
    pub counter: bool,
}

/// The names of the objects placeholders stand for.
struct Names<'c> {
    pods: BTreeMap<&'c str, Vec<&'c str>>,
    workloads: BTreeMap<&'c str, Vec<&'c str>>,
    nodes: Vec<&'c str>,
}

impl<'c> Names<'c> {
    fn of(cluster: &'c Cluster) -> Names<'c> {
        fn by_namespace<'c>(
            names: &mut BTreeMap<&'c str, Vec<&'c str>>,
            meta: &'c k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
        ) {
            if let (Some(ns), Some(name)) = (meta.namespace.as_deref(), meta.name.as_deref()) {
                names.entry(ns).or_default().push(name);
            }
        }
        let mut pods = BTreeMap::new();
        for pod in &cluster.pods {
            by_namespace(&mut pods, &pod.metadata);
        }
        // A namespace of claims alone has its volume queries too.
        for claim in &cluster.claims {
            if let Some(ns) = claim.metadata.namespace.as_deref() {
                pods.entry(ns).or_default();
            }
        }
        let mut workloads = BTreeMap::new();
        for meta in cluster
            .deployments
            .iter()
            .map(|d| &d.metadata)
            .chain(cluster.stateful_sets.iter().map(|s| &s.metadata))
            .chain(cluster.daemon_sets.iter().map(|d| &d.metadata))
        {
            by_namespace(&mut workloads, meta);
        }
        let nodes = cluster
            .nodes
            .iter()
            .filter_map(|n| n.metadata.name.as_deref())
            .collect();
        Names {
            pods,
            workloads,
            nodes,
        }
    }
}

/// The queries of one cycle: each wanted metric once per namespace in its
/// scope that has pods or claims (once per workload where its query names
/// `$workload`), or once for the cluster when its query names no namespace.
pub fn plan(wanted: &[Wanted], cluster: &Cluster) -> Vec<Query> {
    let names = Names::of(cluster);
    let mut queries = BTreeSet::new();
    for want in wanted {
        let has = |p: &str| catalog::placeholder_at(&want.template, p).next().is_some();
        let filesystems = super::filesystems::is_filesystem_metric(&want.name);
        let query = |promql: String, namespace: Option<&str>| Query {
            metric: want.name.clone(),
            promql,
            namespace: namespace.map(str::to_string),
            lookback: want.lookback,
            filesystems,
            landing: want.landing,
            counter: want.counter,
        };
        if has("$namespace") || has("$workload") {
            for (namespace, pods) in &names.pods {
                if !want.scope.covers(namespace) {
                    continue;
                }
                let mut fills = vec![
                    ("$namespace", (*namespace).to_string()),
                    ("$pod", alternation(pods)),
                ];
                if has("$workload") {
                    for workload in names.workloads.get(namespace).into_iter().flatten() {
                        fills.push(("$workload", (*workload).to_string()));
                        queries.insert(query(fill(&want.template, &fills), Some(namespace)));
                        fills.pop();
                    }
                } else {
                    queries.insert(query(fill(&want.template, &fills), Some(namespace)));
                }
            }
        } else {
            let pods: Vec<&str> = names
                .pods
                .iter()
                .filter(|(ns, _)| want.scope.covers(ns))
                .flat_map(|(_, pods)| pods.iter().copied())
                .collect();
            let fills = [
                ("$node", alternation(&names.nodes)),
                ("$pod", alternation(&pods)),
            ];
            queries.insert(query(fill(&want.template, &fills), None));
        }
    }
    queries.into_iter().collect()
}

/// The longest alternation of names a placeholder becomes; past it, any
/// name (`.+`): the answers are matched to targets by their labels anyway,
/// so a wider query costs Prometheus more, never a wrong value.
const MAX_ALTERNATION: usize = 16 * 1024;

/// A regular expression matching exactly `names` (RE2, anchored by
/// PromQL). Object names are DNS names: letters, digits, `-` and `.`, the
/// last written `[.]` so that no backslash has to survive two levels of
/// quoting.
fn alternation(names: &[&str]) -> String {
    let plain = |n: &&str| {
        n.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    };
    if names.is_empty() || !names.iter().all(plain) {
        return ".+".into();
    }
    let joined = names
        .iter()
        .map(|n| n.replace('.', "[.]"))
        .collect::<Vec<_>>()
        .join("|");
    if joined.len() > MAX_ALTERNATION {
        ".+".into()
    } else {
        joined
    }
}

/// `template` with each whole-word placeholder of `fills` replaced.
fn fill(template: &str, fills: &[(&str, String)]) -> String {
    let mut at: Vec<(usize, &str, &str)> = fills
        .iter()
        .flat_map(|(placeholder, value)| {
            catalog::placeholder_at(template, placeholder)
                .map(move |i| (i, *placeholder, value.as_str()))
        })
        .collect();
    at.sort_by_key(|(i, _, _)| *i);
    let mut out = String::with_capacity(template.len());
    let mut from = 0;
    for (i, placeholder, value) in at {
        if i < from {
            continue;
        }
        out.push_str(&template[from..i]);
        out.push_str(value);
        from = i + placeholder.len();
    }
    out.push_str(&template[from..]);
    out
}

/// The target an answer's series is about, by its labels: a pod (its
/// `namespace` label, or the query's), a claim, a workload (a
/// `deployment`, `statefulset` or `daemonset` label and no `pod`: one
/// series per workload, as kube-state-metrics labels them), or a node;
/// `None` when the series has none of these labels (the checker refuses
/// such queries, E0505; an answer is data, not trusted).
pub fn target_of(labels: &HashMap<String, String>, namespace: Option<&str>) -> Option<TargetId> {
    let namespace = || {
        labels
            .get("namespace")
            .map(String::as_str)
            .or(namespace)
            .map(str::to_string)
    };
    if let Some(pod) = labels.get("pod") {
        return Some(TargetId {
            kind: Kind::Pods,
            namespace: Some(namespace()?),
            name: pod.clone(),
        });
    }
    if let Some(claim) = labels.get("persistentvolumeclaim") {
        return Some(TargetId {
            kind: Kind::PersistentVolumeClaims,
            namespace: Some(namespace()?),
            name: claim.clone(),
        });
    }
    let workload = [Kind::Deployments, Kind::StatefulSets, Kind::DaemonSets]
        .into_iter()
        .find_map(|kind| Some((kind, labels.get(kind.series_label()?)?)));
    if let Some((kind, name)) = workload {
        return Some(TargetId {
            kind,
            namespace: Some(namespace()?),
            name: name.clone(),
        });
    }
    labels.get("node").map(|node| TargetId {
        kind: Kind::Nodes,
        namespace: None,
        name: node.clone(),
    })
}

/// The container an answer's series is about: its `pod` and non-empty
/// `container` labels together, in its `namespace` label's namespace (or
/// the query's); `None` without them (cAdvisor's pod-level series has an
/// empty `container`).
pub fn container_of(labels: &HashMap<String, String>, namespace: Option<&str>) -> Option<TargetId> {
    let namespace = labels.get("namespace").map(String::as_str).or(namespace)?;
    let pod = labels.get("pod").filter(|p| !p.is_empty())?;
    let container = labels.get("container").filter(|c| !c.is_empty())?;
    Some(TargetId::container(namespace, pod, container))
}

/// What a cycle's queries brought back, for [`super::History::absorb`].
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Fetched {
    /// Samples by target and series name, each target's series once: the
    /// first query answering for a name wins.
    pub samples: BTreeMap<TargetId, BTreeMap<String, Vec<Sample>>>,
    /// The series a failed query would have brought, with the namespace it
    /// was for (`None`: every namespace) and the targets it lands on: their
    /// samples are forgotten, so the metric is unknown rather than stale.
    /// Another query of the same metric for other targets (a pods policy's
    /// `cpu_percent` beside a containers policy's) keeps its own.
    pub failed: Vec<(String, Option<String>, Landing)>,
    /// How a workload aggregates each declared metric its pods have, and
    /// whether it is a counter: a workload's sum of one grows by each pod's
    /// growth (see `History::record_aggregate`).
    pub aggregations: BTreeMap<String, (Aggregation, bool)>,
    /// The filesystems the answers reported, with their labels: what
    /// `select filesystems` targets are made of (see `observe::filesystems`).
    pub filesystems: BTreeMap<TargetId, BTreeMap<String, String>>,
    /// Whether a filesystem metric's query succeeded: a filesystem it did
    /// not report is then gone.
    pub filesystems_answered: bool,
    /// The series of counters, by target and metric, each kept apart for
    /// [`super::counters::Total::advance`].
    pub counters: BTreeMap<TargetId, BTreeMap<String, Answered>>,
}

impl Fetched {
    /// Adds one series of `query`'s answer; a series whose labels name no
    /// target, or a non-finite value, is dropped.
    pub fn add(&mut self, query: &Query, labels: &HashMap<String, String>, samples: Vec<Sample>) {
        if query.filesystems {
            return super::filesystems::add(self, query, labels, samples);
        }
        let namespace = query.namespace.as_deref();
        let container = query
            .landing
            .on_containers()
            .then(|| container_of(labels, namespace))
            .flatten();
        let object = query
            .landing
            .on_objects()
            .then(|| target_of(labels, namespace))
            .flatten();
        // A counter's series is keyed by its labels, sorted: only when it
        // lands somewhere.
        let key = (query.counter && (container.is_some() || object.is_some()))
            .then(|| super::counters::series_key(labels));
        match (container, object) {
            (Some(container), Some(object)) => {
                self.put(container, query, key, samples.clone());
                self.put(object, query, key, samples);
            }
            (Some(id), None) | (None, Some(id)) => self.put(id, query, key, samples),
            (None, None) => {}
        }
    }

    /// Keeps `samples` of `query` on `id`: beside the counter's other
    /// series there (`key`), or as the gauge's series.
    fn put(&mut self, id: TargetId, query: &Query, key: Option<SeriesKey>, samples: Vec<Sample>) {
        match key {
            Some(key) => self.count(id, query, key, samples),
            None => self.keep(id, &query.metric, samples),
        }
    }

    /// Keeps one series of the counter `query` reads on `id`, beside its
    /// other series there. Of two queries of one metric (two templates) the
    /// one whose text sorts first feeds the total, whichever answers first,
    /// so that the total never mixes their series from cycle to cycle.
    fn count(&mut self, id: TargetId, query: &Query, key: SeriesKey, samples: Vec<Sample>) {
        let fresh = || Answered {
            promql: query.promql.clone(),
            lookback: query.lookback,
            series: BTreeMap::new(),
        };
        let answered = self
            .counters
            .entry(id)
            .or_default()
            .entry(query.metric.clone())
            .or_insert_with(fresh);
        match query.promql.cmp(&answered.promql) {
            std::cmp::Ordering::Less => *answered = fresh(),
            std::cmp::Ordering::Equal => {}
            std::cmp::Ordering::Greater => return,
        }
        answered.add(key, samples);
    }

    /// Keeps the finite `samples` of `metric` on `id`, unless a query
    /// answered for them first.
    pub(super) fn keep(&mut self, id: TargetId, metric: &str, samples: Vec<Sample>) {
        self.samples
            .entry(id)
            .or_default()
            .entry(metric.to_string())
            .or_insert_with(|| {
                samples
                    .into_iter()
                    .filter(|s| s.value.is_finite())
                    .collect()
            });
    }

    /// Whether it holds nothing for the history: no samples, no failure,
    /// and no filesystem answer (an answer of none says which are gone).
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
            && self.counters.is_empty()
            && self.failed.is_empty()
            && !self.filesystems_answered
    }

    /// Notes that `query` succeeded, whatever it brought (an answer of no
    /// series too).
    pub fn answered(&mut self, query: &Query) {
        if query.filesystems {
            self.filesystems_answered = true;
        }
    }

    pub fn fail(&mut self, query: &Query) {
        self.failed
            .push((query.metric.clone(), query.namespace.clone(), query.landing));
    }
}
