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
                record_statuses(&mut history, target, statuses, now);
                target.status_history = history;
            }
        }
        self.steps += 1;
        if self.steps.is_multiple_of(TRIM_EVERY) {
            self.trim(now);
        }
    }

    /// Faults that start at a time: crash loops, degradations, chaos.
    fn inject(&mut self, w: usize, now: i64) {
        for f in 0..self.workloads[w].spec.faults.len() {
            // Most steps start nothing: decide that from a borrow, and copy
            // a fault only when it acts.
            let workload = &self.workloads[w];
            let due = match &workload.spec.faults[f] {
                Fault::Crashloop { after, .. } | Fault::Degrade { after, .. } => {
                    !workload.started[f] && now >= secs(after.0)
                }
                Fault::Chaos { .. } => workload.next_chaos[f] <= now,
                Fault::MemoryLeak { .. } | Fault::CpuSine { .. } => false,
            };
            if !due {
                continue;
            }
            match workload.spec.faults[f].clone() {
                Fault::Crashloop { cause, pods, .. } => {
                    self.workloads[w].started[f] = true;
                    match cause {
                        Cause::Transient => {
                            let hit: Vec<usize> = self
                                .pods_of(w)
                                .filter(|&p| self.pods[p].slot < pods)
                                .collect();
                            for p in hit {
                                self.start_crashloop(p, now, true);
                            }
                        }
                        Cause::Release => {
                            let id = self.workloads[w].id.clone();
                            let incident = self.open("bad release", id, now);
                            self.workloads[w].bad_release = Some(incident);
                            self.workloads[w].last_rollout = now;
                            let all: Vec<usize> = self.pods_of(w).collect();
                            for p in all {
                                self.start_crashloop(p, now, false);
                            }
                        }
                    }
                }
                Fault::Degrade {
                    metric, to, over, ..
                } => {
                    self.workloads[w].started[f] = true;
                    let id = self.workloads[w].id.clone();
                    let incident = self.open(&format!("degraded {metric}"), id, now);
                    let from = self.workloads[w]
                        .spec
                        .baseline
                        .get(&metric)
                        .copied()
                        .unwrap_or(0.0);
                    self.workloads[w].degrade = Some(Degradation {
                        incident,
                        metric,
                        from,
                        to,
                        start: now,
                        over: secs(over.0),
                    });
                }
                Fault::Chaos { every } => {
                    while self.workloads[w].next_chaos[f] <= now {
                        let at = self.workloads[w].next_chaos[f];
                        self.workloads[w].next_chaos[f] = self.next_failure(at, every.0);
                        let pods: Vec<usize> = self.pods_of(w).collect();
                        if pods.is_empty() {
                            continue;
                        }
                        let p = pods[self.rng.below(pods.len())];
                        if self.rng.below(2) == 0 {
                            // Killed: its controller replaces it at once.
                            let id = self.pods[p].target.id.clone();
                            let incident = self.open("pod killed", id, now);
                            self.close(incident, now, IncidentOutcome::Recovered);
                            self.replace_pod(p, now, IncidentOutcome::Recovered);
                        } else {
                            self.start_crashloop(p, now, true);
                        }
                    }
                }
                Fault::MemoryLeak { .. } | Fault::CpuSine { .. } => {}
            }
        }
    }

    fn pods_of(&self, w: usize) -> impl Iterator<Item = usize> + '_ {
        (0..self.pods.len()).filter(move |&p| self.pods[p].workload == w)
    }

    fn start_crashloop(&mut self, p: usize, now: i64, own_incident: bool) {
        // A pod already crash-looping keeps its incident: overwriting it
        // would leave the first one open forever.
        if self.pods[p].crash.is_some() {
            return;
        }
        let incident = own_incident.then(|| {
            let id = self.pods[p].target.id.clone();
            self.open("crashloop", id, now)
        });
        self.pods[p].crash = Some(Crash {
            next_restart: now,
            backoff: BACKOFF_START,
            incident,
        });
    }

    fn open(&mut self, fault: &str, object: TargetId, now: i64) -> usize {
        self.incidents.push(Incident {
            fault: fault.to_string(),
            object,
            opened: now,
            closed: None,
            outcome: IncidentOutcome::Open,
        });
        self.incidents.len() - 1
    }

    /// Closes an open incident: `Healed` only where an action ends it
    /// itself, never for what merely happened after an action.
    fn close(&mut self, incident: usize, now: i64, outcome: IncidentOutcome) {
        let Some(i) = self.incidents.get_mut(incident) else {
            return;
        };
        if i.closed.is_some() {
            return;
        }
        i.closed = Some(now);
        i.outcome = outcome;
    }

    fn advance_pod(&mut self, p: usize, now: i64) {
        let w = self.pods[p].workload;
        let interval = self.interval;
        // Memory: the baseline plus what leaked since the leak started.
        let initial_limit = self.workloads[w].spec.memory_limit;
        let limit = self.workloads[w].memory_limit;
        let base = self.workloads[w]
            .spec
            .baseline
            .get("memory_percent")
            .copied()
            .unwrap_or(30.0)
            / 100.0
            * initial_limit;
        let mut used = base;
        let leaking = self.pods[p]
            .leak
            .as_ref()
            // Below its limit, or the pod is OOM-killed at every step anyway
            // and no leak is to blame.
            .filter(|l| now >= l.start && base < limit)
            .map(|l| (l.start, l.rate, l.incident.is_none()));
        if let Some((start, rate, first)) = leaking {
            if first {
                let id = self.pods[p].target.id.clone();
                let incident = self.open("memory leak", id, start);
                if let Some(leak) = &mut self.pods[p].leak {
                    leak.incident = Some(incident);
                }
            }
            used += rate * (now - start) as f64;
        }
        if used >= limit {
            // OOM-killed: the container restarts in place and leaks again.
            let pod = &mut self.pods[p];
            pod.restarts += 1;
            pod.oom_kills += 1;
            pod.oom_until = now + interval;
            push_event(&mut pod.target, "OOMKilling", now);
            let old = pod.leak.as_mut().and_then(|l| {
                l.start = now;
                l.incident.take()
            });
            if let Some(incident) = old {
                self.close(incident, now, IncidentOutcome::Crashed);
            }
            used = base;
        }
        // A crash-looping container restarts on the kubelet's back-off.
        if let Some(crash) = &mut self.pods[p].crash {
            if now >= crash.next_restart {
                crash.next_restart = now + crash.backoff;
                crash.backoff = (crash.backoff * 2).min(BACKOFF_MAX);
                let pod = &mut self.pods[p];
                pod.restarts += 1;
                push_event(&mut pod.target, "BackOff", now);
            }
        }
        let cpu_cores = self.cpu_cores(w, now);
        let pod = &mut self.pods[p];
        let crashing = pod.crash.is_some();
        let values = PodValues {
            memory_bytes: used,
            memory_percent: 100.0 * used / limit,
            cpu_cores,
            cpu_percent: 100.0 * cpu_cores / self.workloads[w].cpu_limit,
            restarts: f64::from(pod.restarts),
            oom_kills: f64::from(pod.oom_kills),
            ready: if crashing { 0.0 } else { 1.0 },
            age: (now - pod.created) as f64,
        };
        pod.target.statuses.clear();
        if crashing {
            pod.target.statuses.insert("CrashLoopBackOff".into());
        }
        if now < pod.oom_until {
            pod.target.statuses.insert("OOMKilled".into());
        }
        let workload = &self.workloads[w];
        for name in &self.metrics {
            let value = values
                .get(name)
                .or_else(|| workload.scenario_value(name, now));
            record(&mut pod.target, &self.metrics, name, now, value);
        }
    }

    /// A pod's CPU use in cores: its share of the workload's load.
    fn cpu_cores(&self, w: usize, now: i64) -> f64 {
        let workload = &self.workloads[w];
        let per_pod_percent = workload
            .spec
            .faults
            .iter()
            .find_map(|f| match f {
                Fault::CpuSine {
                    min, max, period, ..
                } => {
                    let phase = (now as f64) / (period.0 as f64) * std::f64::consts::TAU;
                    // Starts at the bottom of the swing: a run begins calm.
                    Some(min + (max - min) * (1.0 - phase.cos()) / 2.0)
                }
                _ => None,
            })
            .unwrap_or_else(|| {
                workload
                    .spec
                    .baseline
                    .get("cpu_percent")
                    .copied()
                    .unwrap_or(10.0)
            });
        let running = f64::from(workload.running.max(1));
        per_pod_percent / 100.0 * workload.spec.cpu_limit * f64::from(workload.initial_replicas)
            / running
    }

    fn observe_workload(&mut self, w: usize, now: i64) {
        let pods: Vec<usize> = self.pods_of(w).collect();
        let mut updates: Vec<(String, Option<f64>)> = Vec::new();
        // A pod that is not crashing is ready and available: the simulated
        // world has no probes and no minReadySeconds. Revisions and
        // generations are not modelled (`updated_replicas`, `generation`,
        // `observed_generation` and `update_revision_pending` have no data,
        // so rules on them are unknown); when a rollout began is.
        let ready = pods
            .iter()
            .filter(|&&p| self.pods[p].crash.is_none())
            .count() as f64;
        for name in &self.metrics {
            let own = match name.as_str() {
                "replicas" => Some(f64::from(self.workloads[w].replicas)),
                "unavailable_replicas" => {
                    Some(f64::from(self.workloads[w].replicas).max(pods.len() as f64) - ready)
                }
                "available_replicas" | "ready_replicas" => Some(ready),
                "existing_replicas" => Some(pods.len() as f64),
                "age" => Some(now as f64),
                "rollout_age" => Some((now - self.workloads[w].last_rollout) as f64),
                _ => None,
            };
            let declared = self.declared.get(name);
            let kind = self.workloads[w].id.kind;
            // A declared metric read as the workload's own series (`by
            // (deployment)`) is the scenario's value for the workload itself.
            if let Some(ir::Read::Own(_)) = declared.map(|m| m.read_on(kind)) {
                let value = self.workloads[w].scenario_value(name, now);
                updates.push((name.clone(), value));
                continue;
            }
            let value = own.or_else(|| {
                let aggregation = declared
                    .and_then(|m| m.aggregation)
                    .or_else(|| {
                        let builtin = catalog::METRICS.iter().find(|m| m.name == name);
                        builtin.map(|m| m.aggregation)
                    })
                    .unwrap_or(Aggregation::Average);
                let values: Vec<f64> = pods
                    .iter()
                    .filter_map(|&p| latest(&self.pods[p].target, name, now))
                    .collect();
                aggregation.combine(&values)
            });
            updates.push((name.clone(), value));
        }
        let workload = &mut self.workloads[w];
        for (name, value) in updates {
            record(&mut workload.target, &self.metrics, &name, now, value);
        }
        // A workload has a status when any of its pods has it (the
        // language's rule, and the operator's observer's).
        workload.target.statuses = pods
            .iter()
            .flat_map(|&p| self.pods[p].target.statuses.iter().cloned())
            .collect();
        workload.target.events = pods
            .iter()
            .flat_map(|&p| self.pods[p].target.events.iter().cloned())
            .collect();
        // Overload: per-pod CPU above the scenario's `hot` line.
        let hot = workload.spec.faults.iter().find_map(|f| match f {
            Fault::CpuSine { hot, .. } => Some(*hot),
            _ => None,
        });
        if let Some(hot) = hot {
            // Without pods there is no load to measure.
            let overloaded = !pods.is_empty()
                && 100.0 * self.cpu_cores(w, now) / self.workloads[w].cpu_limit > hot;
            match (overloaded, self.workloads[w].overload) {
                (true, None) => {
                    let id = self.workloads[w].id.clone();
                    self.workloads[w].overload = Some(self.open("cpu overload", id, now));
                }
                (false, Some(incident)) => {
                    let workload = &mut self.workloads[w];
                    workload.overload = None;
                    let fix = workload.overload_fix.take();
                    let outcome = match fix {
                        Some((by, at)) if now - at <= self.interval => {
                            IncidentOutcome::Healed { by }
                        }
                        _ if pods.is_empty() => IncidentOutcome::Gone,
                        _ => IncidentOutcome::Recovered,
                    };
                    self.close(incident, now, outcome);
                }
                _ => {}
            }
        }
    }

    /// Every target, pods first, then workloads, then nodes: the order of
    /// the observations. Takes the fields apart, so that the rest of the
    /// world can be read meanwhile.
    fn targets_mut<'a>(
        pods: &'a mut [Pod],
        workloads: &'a mut [Workload],
        nodes: &'a mut [Node],
    ) -> impl Iterator<Item = &'a mut Target> {
        pods.iter_mut()
            .map(|p| &mut p.target)
            .chain(workloads.iter_mut().map(|w| &mut w.target))
            .chain(nodes.iter_mut().map(|n| &mut n.target))
    }

    /// Moves the targets out for an evaluation; [`World::restore`] puts them
    /// back. Moving, not cloning: the series stay shared with nobody, so the
    /// next step appends to them in place.
    pub fn take_observations(&mut self) -> Observations {
        let mut targets =
            Vec::with_capacity(self.pods.len() + self.workloads.len() + self.nodes.len());
        targets.extend(self.pods.iter_mut().map(|p| take(&mut p.target)));
        targets.extend(self.workloads.iter_mut().map(|w| take(&mut w.target)));
        targets.extend(self.nodes.iter_mut().map(|n| take(&mut n.target)));
        Observations { targets }
    }

    pub fn restore(&mut self, observations: Observations) {
        let mut targets = observations.targets.into_iter();
        let slots = Self::targets_mut(&mut self.pods, &mut self.workloads, &mut self.nodes);
        for (slot, target) in slots.zip(&mut targets) {
            *slot = target;
        }
    }

    fn trim(&mut self, now: i64) {
        let cutoff = now.saturating_sub(self.retention);
        for target in Self::targets_mut(&mut self.pods, &mut self.workloads, &mut self.nodes) {
            for series in target.status_history.values_mut() {
                Arc::make_mut(series).forget_before(cutoff);
            }
            for series in target.metrics_mut().values_mut() {
                Arc::make_mut(series).forget_before(cutoff);
            }
            target.events.retain(|e| e.at >= cutoff);
        }
    }

    /// Carries out `action` on `object` at `now` for timeline entry `entry`,
    /// as the Kubernetes executors would. The safety controller has
    /// admitted it (see `safety::admit`): its kind and its owner's allow it.
    pub fn apply(
        &mut self,
        program: &Program,
        action: &Action,
        object: &TargetId,
        now: i64,
        entry: usize,
    ) -> Applied {
        match action {
            Action::Notify(message) => return Applied::Done(format!("notified: {message:?}")),
            Action::Patch(id) => {
                return Applied::Done(format!(
                    "patch `{}` applied (no simulated effect)",
                    program.patch(*id).map_or("?", |p| p.name.as_str())
                ))
            }
            _ => {}
        }
        let healed = IncidentOutcome::Healed { by: entry };
        match object.kind {
            Kind::Pods => {
                let Some(p) = self.pods.iter().position(|p| &p.target.id == object) else {
                    return Applied::Missing;
                };
                match action {
                    Action::Restart(_) | Action::Delete => {
                        let new = self.replace_pod(p, now, healed);
                        Applied::Done(format!("replaced by {new}"))
                    }
                    other => Applied::Done(format!(
                        "{} on a pod has no simulated effect",
                        other.catalog_name()
                    )),
                }
            }
            Kind::Nodes => {
                let Some(n) = self.nodes.iter().position(|n| &n.target.id == object) else {
                    return Applied::Missing;
                };
                match action {
                    Action::Cordon => {
                        self.nodes[n].cordoned = true;
                        Applied::Done("cordoned".into())
                    }
                    Action::Drain => {
                        self.nodes[n].cordoned = true;
                        let on_node: Vec<usize> = (0..self.pods.len())
                            .filter(|&p| self.pods[p].node == n)
                            .collect();
                        let moved = on_node.len();
                        // Replace from the back so earlier indices stay valid.
                        for p in on_node.into_iter().rev() {
                            self.replace_pod(p, now, healed);
                        }
                        if self.nodes.iter().all(|n| n.cordoned) {
                            Applied::Done(format!(
                                "drained: {moved} pods replaced, but every node is cordoned, so they run on cordoned nodes"
                            ))
                        } else {
                            Applied::Done(format!("drained: {moved} pods moved"))
                        }
                    }
                    other => Applied::Done(format!(
                        "{} on a node has no simulated effect",
                        other.catalog_name()
                    )),
                }
            }
            _ => {
                let Some(w) = self.workloads.iter().position(|w| &w.id == object) else {
                    return Applied::Missing;
                };
                match action {
                    Action::Restart(_) => {
                        let n = self.roll(w, now, entry);
                        Applied::Done(format!("rolled {n} pods"))
                    }
                    Action::Rollback => {
                        if let Some(incident) = self.workloads[w].bad_release.take() {
                            self.close(incident, now, healed);
                        }
                        let n = self.roll(w, now, entry);
                        Applied::Done(format!("rolled back; {n} pods replaced"))
                    }
                    Action::Scale(scale) => self.scale(w, *scale, now, entry),
                    Action::SetLimit {
                        resource,
                        value,
                        max,
                    } => self.set_limit(w, *resource, *value, *max, now, entry),
                    other => Applied::Done(format!(
                        "{} on a workload has no simulated effect",
                        other.catalog_name()
                    )),
                }
            }
        }
    }
}

impl Executor for World {
    fn execute(&mut self, order: Order<'_>) -> impl std::future::Future<Output = Applied> + Send {
        std::future::ready(self.apply(
            order.program,
            order.action,
            order.object,
            order.at,
            order.ordinal,
        ))
    }
}

impl World {
    /// Replaces every pod of the workload (a rolling restart, a rollback);
    /// a degradation ends with its pods.
    fn roll(&mut self, w: usize, now: i64, entry: usize) -> usize {
        let healed = IncidentOutcome::Healed { by: entry };
        let pods: Vec<usize> = self.pods_of(w).collect();
        let n = pods.len();
        self.workloads[w].last_rollout = now;
        for p in pods.into_iter().rev() {
            self.replace_pod(p, now, healed);
        }
        if let Some(d) = self.workloads[w].degrade.take() {
            self.close(d.incident, now, healed);
        }
        n
    }

    fn scale(&mut self, w: usize, scale: Scale, now: i64, entry: usize) -> Applied {
        let before = self.workloads[w].replicas;
        // `scale up` never removes replicas and `scale down` never adds
        // any, even when the count is already beyond the bound.
        let after = match scale {
            Scale::Up { by, max } => {
                before.max(before.saturating_add(by).min(max.unwrap_or(u32::MAX)))
            }
            Scale::Down { by, min } => before.min(before.saturating_sub(by).max(min.unwrap_or(0))),
            Scale::To { replicas } => replicas,
        }
        .min(MAX_REPLICAS);
        let room = self.max_pods.saturating_sub(self.pods.len());
        let after = after.min(before.saturating_add(u32::try_from(room).unwrap_or(u32::MAX)));
        self.workloads[w].replicas = after;
        for slot in before..after {
            self.start_pod(w, slot, now);
        }
        let gone: Vec<usize> = self
            .pods_of(w)
            .filter(|&p| self.pods[p].slot >= after)
            .collect();
        for p in gone.into_iter().rev() {
            self.remove_pod(p, now, IncidentOutcome::Gone);
        }
        if after > before && self.workloads[w].overload.is_some() {
            self.workloads[w].overload_fix = Some((entry, now));
        }
        Applied::Done(format!("replicas {before} → {after}"))
    }

    fn set_limit(
        &mut self,
        w: usize,
        resource: Resource,
        value: LimitValue,
        max: Option<f64>,
        now: i64,
        entry: usize,
    ) -> Applied {
        let workload = &mut self.workloads[w];
        let current = match resource {
            Resource::MemoryLimit => &mut workload.memory_limit,
            Resource::CpuLimit => &mut workload.cpu_limit,
        };
        let before = *current;
        let wanted = match value {
            LimitValue::Absolute(v) => v,
            LimitValue::Factor(f) => before * f,
        };
        let after = max.map_or(wanted, |m| wanted.min(m));
        if after.is_finite() && after > 0.0 {
            *current = after;
        }
        let raised_cpu = resource == Resource::CpuLimit && *current > before;
        let after = *current;
        // A new limit is a new pod template: a rollout begins.
        if after != before {
            workload.last_rollout = now;
        }
        if raised_cpu && workload.overload.is_some() {
            workload.overload_fix = Some((entry, now));
        }
        let show = |v: f64| match resource {
            Resource::MemoryLimit => format!("{:.0}Mi", v / 1_048_576.0),
            Resource::CpuLimit => format!("{v:.2} cores"),
        };
        Applied::Done(format!(
            "{} {} → {} for every pod",
            resource.keyword(),
            show(before),
            show(after)
        ))
    }

    /// Replaces pod `p` by a new one in the same slot, as its controller
    /// does after a delete, ending its incidents with `ended`; returns the
    /// new pod's name.
    fn replace_pod(&mut self, p: usize, now: i64, ended: IncidentOutcome) -> String {
        let (w, slot) = (self.pods[p].workload, self.pods[p].slot);
        self.remove_pod(p, now, ended);
        self.start_pod(w, slot, now)
    }

    fn remove_pod(&mut self, p: usize, now: i64, ended: IncidentOutcome) {
        let pod = self.pods.remove(p);
        let workload = &mut self.workloads[pod.workload];
        workload.running = workload.running.saturating_sub(1);
        let open = [
            pod.leak.and_then(|l| l.incident),
            pod.crash.and_then(|c| c.incident),
        ];
        for incident in open.into_iter().flatten() {
            self.close(incident, now, ended);
        }
    }

    fn start_pod(&mut self, w: usize, slot: u32, now: i64) -> String {
        let workload = &mut self.workloads[w];
        workload.running += 1;
        let name = format!("{}-{}", workload.spec.name, workload.next_pod);
        workload.next_pod += 1;
        let mut target = Target::new(TargetId {
            kind: Kind::Pods,
            namespace: workload.id.namespace.clone(),
            name: name.clone(),
        });
        target.labels = workload.target.labels.clone();
        target.owner = Some(workload.id.clone());
        let leak = workload.spec.faults.iter().find_map(|f| match f {
            Fault::MemoryLeak {
                per_minute,
                after,
                pods,
            } if pods.is_none_or(|n| slot < n) => Some(Leak {
                start: now.saturating_add(secs(after.0)),
                rate: per_minute / 100.0 * workload.spec.memory_limit / 60.0,
                incident: None,
            }),
            _ => None,
        });
        let crash = workload.bad_release.map(|_| Crash {
            next_restart: now.saturating_add(BACKOFF_START),
            backoff: BACKOFF_START,
            incident: None,
        });
        let node = self.schedule();
        target.node = Some(self.nodes[node].target.id.name.clone());
        self.pods.push(Pod {
            target,
            workload: w,
            node,
            slot,
            created: now,
            restarts: 0,
            oom_kills: 0,
            oom_until: i64::MIN,
            leak,
            crash,
        });
        name
    }

    /// The next schedulable node, round robin; a cordoned node takes no new
    /// pods unless every node is cordoned (then the pod runs anyway: the
    /// simulator has no Pending pods).
    fn schedule(&mut self) -> usize {
        let n = self.nodes.len();
        for i in 0..n {
            let node = (self.next_node + i) % n;
            if !self.nodes[node].cordoned {
                self.next_node = node + 1;
                return node;
            }
        }
        self.next_node = (self.next_node + 1) % n;
        self.next_node % n
    }

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
    fn get(&self, name: &str) -> Option<f64> {
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

fn take(target: &mut Target) -> Target {
    let placeholder = Target::new(target.id.clone());
    std::mem::replace(target, placeholder)
}

/// Appends one sample of `name` to the target, if the program reads it.
fn record(
    target: &mut Target,
    metrics: &BTreeSet<String>,
    name: &str,
    now: i64,
    value: Option<f64>,
) {
    let Some(value) = value else {
        return;
    };
    if !metrics.contains(name) {
        return;
    }
    crate::engine::series::append(target.metrics_mut(), name, Sample::new(now, value));
}

fn latest(target: &Target, name: &str, now: i64) -> Option<f64> {
    let last = target.metrics.get(name)?.samples().last()?;
    (last.at == now).then_some(last.value)
}

/// Kubernetes folds a repeated event into one with a count.
fn push_event(target: &mut Target, reason: &str, now: i64) {
    match target.events.last_mut() {
        Some(last) if last.reason == reason => {
            last.count = last.count.saturating_add(1);
            last.at = now;
        }
        _ => target.events.push(Event {
            reason: reason.to_string(),
            at: now,
            count: 1,
        }),
    }
}
