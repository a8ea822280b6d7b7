//! What the world shows the engine: each target's samples, statuses and
//! events, appended step by step, and a workload's values from its pods'.

use super::*;
use crate::engine::counter_total;

impl World {
    /// A pod's CPU use in cores: its share of the workload's load.
    pub(super) fn cpu_cores(&self, w: usize, now: i64) -> f64 {
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

    pub(super) fn observe_workload(&mut self, w: usize, now: i64) {
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
            if own.is_some() {
                updates.push((name.clone(), own));
                continue;
            }
            let builtin = catalog::METRICS.iter().find(|m| m.name == name);
            let aggregation = declared
                .and_then(|m| m.aggregation)
                .or_else(|| builtin.map(|m| m.aggregation))
                .unwrap_or(Aggregation::Average);
            let series = declared
                .map(|m| m.series)
                .or_else(|| builtin.map(|m| m.series));
            let counted =
                series == Some(catalog::Series::Counter) && aggregation == Aggregation::Sum;
            let value = if counted {
                // As the operator's observer counts it: a pod replaced
                // takes its count with it, which is no reset.
                let samples: Vec<(u64, [Sample; 1])> = pods
                    .iter()
                    .filter_map(|&p| {
                        let target = &self.pods[p].target;
                        let value = latest(target, name, now)?;
                        Some((counter_total::key(&target.id), [Sample::new(now, value)]))
                    })
                    .collect();
                let total = self.workloads[w].counters.entry(name.clone()).or_default();
                let series = samples.iter().map(|(key, s)| (*key, &s[..]));
                let pairing = counter_total::Pairing::EachRead(counter_total::gap(0));
                let totals = total.advance(series, pairing);
                totals.last().map(|s| s.value)
            } else {
                let values: Vec<f64> = pods
                    .iter()
                    .filter_map(|&p| latest(&self.pods[p].target, name, now))
                    .collect();
                aggregation.combine(&values)
            };
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
    pub(super) fn targets_mut<'a>(
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
        targets.extend(self.scripted.at(self.now));
        Observations { targets }
    }

    /// Puts the simulated targets back; the scripted ones, made anew at
    /// every step, are dropped.
    pub fn restore(&mut self, observations: Observations) {
        let mut targets = observations.targets.into_iter();
        let slots = Self::targets_mut(&mut self.pods, &mut self.workloads, &mut self.nodes);
        for (slot, target) in slots.zip(&mut targets) {
            *slot = target;
        }
    }

    pub(super) fn trim(&mut self, now: i64) {
        let cutoff = now.saturating_sub(self.retention);
        for target in Self::targets_mut(&mut self.pods, &mut self.workloads, &mut self.nodes) {
            for series in Arc::make_mut(&mut target.status_history).values_mut() {
                Arc::make_mut(series).forget_before(cutoff);
            }
            for series in target.metrics_mut().values_mut() {
                Arc::make_mut(series).forget_before(cutoff);
            }
            target.events.retain(|e| e.at >= cutoff);
        }
    }
}

pub(super) fn take(target: &mut Target) -> Target {
    let placeholder = Target::new(target.id.clone());
    std::mem::replace(target, placeholder)
}

/// Appends one sample of `name` to the target, if the program reads it.
pub(super) fn record(
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

pub(super) fn latest(target: &Target, name: &str, now: i64) -> Option<f64> {
    let last = target.metrics.get(name)?.samples().last()?;
    (last.at == now).then_some(last.value)
}

/// Kubernetes folds a repeated event into one with a count.
pub(super) fn push_event(target: &mut Target, reason: &str, now: i64) {
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
