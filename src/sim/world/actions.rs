//! What each action does to the world: restarts, scaling, limits, the
//! incidents an action heals.

use super::*;

impl World {
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
        if self.scripted.holds(object) {
            return Applied::Done(format!(
                "{} recorded; a scripted {} follows its script",
                action.catalog_name(),
                object.kind.singular()
            ));
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
    pub(super) fn roll(&mut self, w: usize, now: i64, entry: usize) -> usize {
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

    pub(super) fn scale(&mut self, w: usize, scale: Scale, now: i64, entry: usize) -> Applied {
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

    pub(super) fn set_limit(
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
    pub(super) fn replace_pod(&mut self, p: usize, now: i64, ended: IncidentOutcome) -> String {
        let (w, slot) = (self.pods[p].workload, self.pods[p].slot);
        self.remove_pod(p, now, ended);
        self.start_pod(w, slot, now)
    }

    pub(super) fn remove_pod(&mut self, p: usize, now: i64, ended: IncidentOutcome) {
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

    pub(super) fn start_pod(&mut self, w: usize, slot: u32, now: i64) -> String {
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
    pub(super) fn schedule(&mut self) -> usize {
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
}
