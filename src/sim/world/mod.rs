//! The simulated cluster: nodes, workloads and their pods, the faults the
//! scenario injects into them, and what each action does to them.
//!
//! The world keeps its observations as the engine reads them ([`Target`]s
//! with their series), appending one sample per metric and step, so that a
//! day-long run neither copies nor rebuilds a series. Faults become
//! [`Incident`]s: opened when the fault starts, closed when an action ends it
//! (healed, credited to that action), when it passes by itself or Kubernetes
//! ends it, when its pod is scaled away, or when the pod crashes first.

use super::rng::Rng;
use super::scenario::{Cause, Fault, Scenario, WorkloadSpec};
use crate::act::{Executed as Applied, Executor, Order};
use crate::catalog::{self, Aggregation, Kind};
use crate::engine::observation::{record_statuses, Event, Observations, Target, TargetId};
use crate::engine::series::Sample;
use crate::ir::{self, Action, LimitValue, Program, Resource, Scale};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// How a crash-looping container's restarts back off, as the kubelet does:
/// 10 s doubling to 5 minutes.
const BACKOFF_START: i64 = 10;
const BACKOFF_MAX: i64 = 300;

/// Trim series and events every this many steps: trimming is linear in what
/// is kept, so trimming every step would make a run quadratic.
const TRIM_EVERY: u64 = 64;

/// The most replicas a workload may be scaled to, as the scenario allows.
pub const MAX_REPLICAS: u32 = super::scenario::MAX_REPLICAS;

/// Every simulated node's `pod_capacity`: the kubelet's default `maxPods`.
const POD_CAPACITY: u32 = 110;

/// A fault as it happened to one object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Incident {
    /// `memory leak`, `crashloop`, `cpu overload`, `bad release`,
    /// `pod killed`, `degraded error_rate`.
    pub fault: String,
    pub object: TargetId,
    pub opened: i64,
    pub closed: Option<i64>,
    pub outcome: IncidentOutcome,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "outcome")]
pub enum IncidentOutcome {
    /// Still open when the run ended.
    Open,
    /// Ended by the action of this timeline entry.
    Healed { by: usize },
    /// Ended by itself (the load went down) or by Kubernetes (a killed pod
    /// replaced by its controller).
    Recovered,
    /// The pod was OOM-killed before anything healed it.
    Crashed,
    /// Its pod was scaled away: the fault ended, but nothing healed it.
    Gone,
}

pub struct World {
    interval: i64,
    /// The metrics the program reads: only these are recorded.
    metrics: BTreeSet<String>,
    /// The declared metrics the programs read, by name: how a workload
    /// reads each (its pods' values combined, or its own series).
    declared: BTreeMap<String, ir::Metric>,
    /// The statuses the program reads over a window: only their history is
    /// recorded.
    statuses: BTreeSet<String>,
    /// How far back windows and event counts read.
    retention: i64,
    nodes: Vec<Node>,
    workloads: Vec<Workload>,
    pods: Vec<Pod>,
    incidents: Vec<Incident>,
    rng: Rng,
    steps: u64,
    next_node: usize,
    /// The most pods that may run at once (see [`World::limit_pods`]).
    max_pods: usize,
    scripted: scripted::Scripted,
    /// The time of the current step.
    now: i64,
}

struct Node {
    target: Target,
    cordoned: bool,
    created: i64,
}

struct Workload {
    spec: WorkloadSpec,
    id: TargetId,
    target: Target,
    replicas: u32,
    /// Pods running now (kept, not counted: every pod's CPU share reads it).
    running: u32,
    initial_replicas: u32,
    memory_limit: f64,
    cpu_limit: f64,
    next_pod: u32,
    /// A crash-looping release is deployed: every pod crashes until rollback.
    bad_release: Option<usize>,
    /// Per fault: whether a one-shot fault has started (crashloop, degrade).
    started: Vec<bool>,
    /// Per fault: the next random failure (chaos).
    next_chaos: Vec<i64>,
    overload: Option<usize>,
    /// The action that last lowered the per-pod CPU of an open overload, and
    /// when: credited if the overload ends at the very next step.
    overload_fix: Option<(usize, i64)>,
    /// The open degradation: its incident, metric, start and target value.
    degrade: Option<Degradation>,
    /// When the last rollout began (creation, a bad release, a rolling
    /// restart, a rollback, a new limit): `rollout_age` counts from it.
    last_rollout: i64,
    /// The counters summed over its pods (`restarts`), each growing by its
    /// pods' growth: a pod replaced takes its count with it.
    counters: BTreeMap<String, crate::engine::counter_total::Total>,
}

struct Degradation {
    incident: usize,
    metric: String,
    from: f64,
    to: f64,
    start: i64,
    over: i64,
}

struct Pod {
    target: Target,
    workload: usize,
    node: usize,
    /// The replica's ordinal: faults that name `pods: N` hit slots below N,
    /// and a replacement keeps its slot.
    slot: u32,
    created: i64,
    restarts: u32,
    oom_kills: u32,
    oom_until: i64,
    leak: Option<Leak>,
    crash: Option<Crash>,
}

struct Leak {
    start: i64,
    /// Bytes per second.
    rate: f64,
    incident: Option<usize>,
}

struct Crash {
    next_restart: i64,
    backoff: i64,
    /// `None` under a bad release, whose incident is the workload's.
    incident: Option<usize>,
}

impl World {
    /// The world at t = 0, for the metrics the programs read.
    pub fn new(scenario: &Scenario, programs: &[Program], seed: u64) -> World {
        let metrics: BTreeSet<String> = programs
            .iter()
            .flat_map(|p| &p.metrics)
            .map(|m| m.name.clone())
            .collect();
        let declared = programs
            .iter()
            .flat_map(|p| &p.metrics)
            .filter(|m| !m.builtin)
            .map(|m| (m.name.clone(), m.clone()))
            .collect();
        let statuses: BTreeSet<String> = programs
            .iter()
            .flat_map(|p| p.status_windows())
            .map(str::to_string)
            .collect();
        let interval = i64::try_from(scenario.interval.0).unwrap_or(i64::MAX);
        let retention = programs
            .iter()
            .map(|p| secs(p.longest_window()))
            .max()
            .unwrap_or(0)
            .max(interval.saturating_mul(10))
            .saturating_add(interval.saturating_mul(2));
        let mut world = World {
            interval,
            metrics,
            declared,
            statuses,
            retention,
            nodes: scenario
                .nodes
                .iter()
                .map(|name| Node {
                    target: Target::new(TargetId {
                        kind: Kind::Nodes,
                        namespace: None,
                        name: name.clone(),
                    }),
                    cordoned: false,
                    created: 0,
                })
                .collect(),
            workloads: Vec::new(),
            pods: Vec::new(),
            incidents: Vec::new(),
            rng: Rng::new(seed),
            steps: 0,
            next_node: 0,
            max_pods: usize::MAX,
            scripted: scripted::Scripted::new(&scenario.objects, interval),
            now: 0,
        };
        for spec in &scenario.workloads {
            let id = TargetId {
                kind: spec.kind,
                namespace: Some(scenario.namespace_of(spec).to_string()),
                name: spec.name.clone(),
            };
            let mut target = Target::new(id.clone());
            target.labels = spec.labels();
            let next_chaos = spec
                .faults
                .iter()
                .map(|f| match f {
                    Fault::Chaos { every } => world.next_failure(0, every.0),
                    _ => i64::MAX,
                })
                .collect();
            world.workloads.push(Workload {
                id,
                target,
                replicas: spec.replicas,
                running: 0,
                initial_replicas: spec.replicas.max(1),
                memory_limit: spec.memory_limit,
                cpu_limit: spec.cpu_limit,
                next_pod: 1,
                bad_release: None,
                started: vec![false; spec.faults.len()],
                next_chaos,
                overload: None,
                overload_fix: None,
                degrade: None,
                last_rollout: 0,
                counters: BTreeMap::new(),
                spec: spec.clone(),
            });
            let w = world.workloads.len() - 1;
            for slot in 0..spec.replicas {
                world.start_pod(w, slot, 0);
            }
        }
        world
    }

    fn next_failure(&mut self, now: i64, every: u64) -> i64 {
        // At least one interval ahead, so a tiny mean cannot stall the loop.
        let gap = self.rng.exponential(every as f64).ceil() as i64;
        now.saturating_add(gap.max(self.interval))
    }

    /// Bounds the pods that may run at once: scale-ups stop there. A run's
    /// size is checked against its pods at the start, and pods a policy adds
    /// are simulated at every later step too.
    pub fn limit_pods(&mut self, max: usize) {
        self.max_pods = max;
    }

    /// How many pods run.
    pub fn pod_count(&self) -> usize {
        self.pods.len()
    }

    /// Advances the world to `now`: faults progress, every target gets its
    /// samples for this step.
    pub fn step(&mut self, now: i64) {
        self.now = now;
        for w in 0..self.workloads.len() {
            self.inject(w, now);
        }
        for p in 0..self.pods.len() {
            self.advance_pod(p, now);
        }
        for w in 0..self.workloads.len() {
            self.observe_workload(w, now);
        }
        let mut running = vec![0u32; self.nodes.len()];
        for pod in &self.pods {
            // A crash-looping pod is still in phase Running.
            if let Some(count) = running.get_mut(pod.node) {
                *count += 1;
            }
        }
        for (node, running) in self.nodes.iter_mut().zip(running) {
            let age = (now - node.created) as f64;
            let ready = 1.0;
            record(&mut node.target, &self.metrics, "age", now, Some(age));
            record(&mut node.target, &self.metrics, "ready", now, Some(ready));
            let cordoned = if node.cordoned { 1.0 } else { 0.0 };
            record(
                &mut node.target,
                &self.metrics,
                "cordoned",
                now,
                Some(cordoned),
            );
            let pods = Some(f64::from(running));
            record(&mut node.target, &self.metrics, "running_pods", now, pods);
            let capacity = Some(f64::from(POD_CAPACITY));
            record(
                &mut node.target,
                &self.metrics,
                "pod_capacity",
                now,
                capacity,
            );
            node.target.statuses.clear();
            if node.cordoned {
                node.target.statuses.insert("SchedulingDisabled".into());
            }
        }
        if !self.statuses.is_empty() {
            let statuses = &self.statuses;
            for target in Self::targets_mut(&mut self.pods, &mut self.workloads, &mut self.nodes) {
                let mut history = std::mem::take(&mut target.status_history);
                record_statuses(Arc::make_mut(&mut history), target, statuses, now);
                target.status_history = history;
            }
        }
        self.steps += 1;
        if self.steps.is_multiple_of(TRIM_EVERY) {
            self.trim(now);
        }
    }
}

impl World {
    /// The incidents of the run, those still open included.
    pub fn finish(self) -> Vec<Incident> {
        self.incidents
    }
}

impl Workload {
    /// What the scenario gives each of its pods, or itself, for a metric it
    /// does not model: the baseline, or the degradation under way.
    fn scenario_value(&self, name: &str, now: i64) -> Option<f64> {
        match &self.degrade {
            Some(d) if d.metric == name => Some(d.value(now)),
            _ => self.spec.baseline.get(name).copied(),
        }
    }
}

impl Degradation {
    fn value(&self, now: i64) -> f64 {
        let progress = if self.over <= 0 {
            1.0
        } else {
            ((now - self.start) as f64 / self.over as f64).clamp(0.0, 1.0)
        };
        self.from + (self.to - self.from) * progress
    }
}

/// The built-in metrics of a pod at one step.
struct PodValues {
    memory_bytes: f64,
    memory_percent: f64,
    cpu_cores: f64,
    cpu_percent: f64,
    restarts: f64,
    oom_kills: f64,
    ready: f64,
    age: f64,
}

impl PodValues {
    pub(super) fn get(&self, name: &str) -> Option<f64> {
        Some(match name {
            "memory_bytes" => self.memory_bytes,
            "memory_percent" => self.memory_percent,
            "cpu_cores" => self.cpu_cores,
            "cpu_percent" => self.cpu_percent,
            "restarts" => self.restarts,
            "oom_kills" => self.oom_kills,
            "ready" => self.ready,
            "age" => self.age,
            _ => return None,
        })
    }
}

fn secs(s: u64) -> i64 {
    i64::try_from(s).unwrap_or(i64::MAX)
}

mod actions;
mod faults;
mod observe;
mod scripted;

use observe::{push_event, record};
