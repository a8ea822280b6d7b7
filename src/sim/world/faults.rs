//! The faults of a scenario as they strike: injected at their time, each an
//! incident opened and closed, and a pod's life step by step (crash loops
//! backing off, leaks growing, restarts).

use super::*;

impl World {
    /// Faults that start at a time: crash loops, degradations, chaos.
    pub(super) fn inject(&mut self, w: usize, now: i64) {
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

    pub(super) fn pods_of(&self, w: usize) -> impl Iterator<Item = usize> + '_ {
        (0..self.pods.len()).filter(move |&p| self.pods[p].workload == w)
    }

    pub(super) fn start_crashloop(&mut self, p: usize, now: i64, own_incident: bool) {
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

    pub(super) fn open(&mut self, fault: &str, object: TargetId, now: i64) -> usize {
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
    pub(super) fn close(&mut self, incident: usize, now: i64, outcome: IncidentOutcome) {
        let Some(i) = self.incidents.get_mut(incident) else {
            return;
        };
        if i.closed.is_some() {
            return;
        }
        i.closed = Some(now);
        i.outcome = outcome;
    }

    pub(super) fn advance_pod(&mut self, p: usize, now: i64) {
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
}
