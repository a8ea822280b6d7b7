//! What the records and the observations say happened recently, as the
//! safety guards read it (see [`crate::safety::guard`]).
//!
//! The records are the durable memory: a restarted operator, or a new
//! leader, reads the same failures, the same actions of the last hour and
//! the same actions under way from them, so the breaker, the rate limits and
//! the blast radius survive a restart without a store of their own.

use super::crd::{ActionPhase, HealingAction, OriginKind};
use crate::catalog::Kind;
use crate::engine::observation::{Observations, TargetId};
use crate::observe::objects::seconds;
use crate::safety::{PolicyRecent, WorkloadHealth};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// The facts of one moment, gathered once per pass.
#[derive(Debug, Default)]
pub struct Recent {
    /// By policy uid.
    pub policies: HashMap<String, PolicyRecent>,
    /// Pods with a disruptive action under way, by their workload.
    under_way: HashMap<TargetId, BTreeSet<String>>,
    /// Its observed pods and which of them are not ready, by workload.
    workloads: HashMap<TargetId, Pods>,
    /// The HorizontalPodAutoscaler that drives each workload.
    pub autoscalers: HashMap<TargetId, String>,
    /// The latest record of each (policy uid, rule fingerprint, object)
    /// whose action failed or a PodDisruptionBudget held back, with when it
    /// last changed: what an action backs off from.
    setbacks: HashMap<(String, String, TargetId), (i64, Arc<HealingAction>)>,
    /// When any policy's actions were carried out, the AI's included.
    executed: Vec<i64>,
}

#[derive(Debug, Default)]
struct Pods {
    all: BTreeSet<String>,
    unhealthy: BTreeSet<String>,
}

const DISRUPTIVE: [&str; 3] = ["restart", "restart immediate", "delete"];

impl Recent {
    pub fn gather(
        records: &[Arc<HealingAction>],
        observations: &Observations,
        autoscalers: HashMap<TargetId, String>,
    ) -> Recent {
        let mut recent = Recent {
            autoscalers,
            ..Recent::default()
        };
        for record in records {
            recent.add_record(record);
            recent.add_setback(record);
        }
        for target in &observations.targets {
            let Some(owner) = &target.owner else { continue };
            if target.id.kind != Kind::Pods {
                continue;
            }
            let pods = recent.workloads.entry(owner.clone()).or_default();
            pods.all.insert(target.id.name.clone());
            if target.statuses.contains("NotReady") {
                pods.unhealthy.insert(target.id.name.clone());
            }
        }
        recent
    }

    fn add_record(&mut self, record: &HealingAction) {
        let Some(status) = &record.status else { return };
        let at = |phase: &str| status.transitions.get(phase).map(seconds);
        let policy = self
            .policies
            .entry(record.spec.policy.uid.clone())
            .or_default();
        if status.healed == Some(false) {
            if let Some(failed) = at("Failed") {
                policy.failures.push(failed);
            }
        }
        if let Some(executed) = at("Executing") {
            // A notice changes nothing: it spends no cluster budget.
            if record.spec.action.name != "notify" {
                self.executed.push(executed);
            }
            let chosen_by_ai = status.ai.as_ref().is_some_and(|a| a.origin == "ai");
            match record.spec.origin.kind {
                OriginKind::Ai => policy.executed_by_ai.push(executed),
                OriginKind::Rule if chosen_by_ai => policy.executed_by_ai.push(executed),
                OriginKind::Rule => policy.executed.push(executed),
            }
        }
        let under_way = matches!(
            status.phase,
            Some(ActionPhase::Executing | ActionPhase::Verifying)
        );
        if under_way && DISRUPTIVE.contains(&record.spec.action.name.as_str()) {
            if let (Some(owner), Some(object)) = (
                record.spec.owner.as_ref().and_then(|o| o.target_id()),
                record.spec.object.target_id(),
            ) {
                if object.kind == Kind::Pods {
                    self.under_way.entry(owner).or_default().insert(object.name);
                }
            }
        }
    }

    fn add_setback(&mut self, record: &Arc<HealingAction>) {
        let Some(status) = &record.status else { return };
        let held =
            status.phase == Some(ActionPhase::Blocked) && status.reason.as_deref() == Some("pdb");
        let failed = status.phase == Some(ActionPhase::Failed) && status.healed.is_none();
        let Some(object) = record.spec.object.target_id().filter(|_| held || failed) else {
            return;
        };
        let at = status.transitions.values().map(seconds).max().unwrap_or(0);
        let key = (
            record.spec.policy.uid.clone(),
            record.spec.rule.fingerprint.clone(),
            object,
        );
        match self.setbacks.get(&key) {
            Some((latest, _)) if *latest >= at => {}
            _ => {
                self.setbacks.insert(key, (at, record.clone()));
            }
        }
    }

    /// The latest failed or budget-held record of `uid`'s rule
    /// `fingerprint` on `object`, and when it last changed.
    pub fn setback(
        &self,
        uid: &str,
        fingerprint: &str,
        object: &TargetId,
    ) -> Option<&(i64, Arc<HealingAction>)> {
        self.setbacks
            .get(&(uid.to_string(), fingerprint.to_string(), object.clone()))
    }

    /// The health of `workload` with `pod` taken out of the disrupted count
    /// (it is the one the action is about). A pod an action is under way on
    /// counts while it is still there; its replacement counts while it is
    /// not ready.
    pub fn workload(&self, workload: &TargetId, pod: Option<&str>) -> Option<WorkloadHealth> {
        let pods = self.workloads.get(workload)?;
        let mut disrupted: BTreeSet<&str> = pods.unhealthy.iter().map(String::as_str).collect();
        if let Some(under_way) = self.under_way.get(workload) {
            let present = under_way.iter().filter(|p| pods.all.contains(*p));
            disrupted.extend(present.map(String::as_str));
        }
        if let Some(pod) = pod {
            disrupted.remove(pod);
        }
        Some(WorkloadHealth {
            id: workload.clone(),
            pods: u32::try_from(pods.all.len()).unwrap_or(u32::MAX),
            unhealthy: u32::try_from(pods.unhealthy.len()).unwrap_or(u32::MAX),
            disrupted_others: u32::try_from(disrupted.len()).unwrap_or(u32::MAX),
        })
    }

    /// What the policy `uid` did recently, with what every policy did.
    pub fn policy(&self, uid: &str) -> PolicyRecent {
        let mut recent = self.policies.get(uid).cloned().unwrap_or_default();
        recent.cluster_executed = self.executed.clone();
        recent
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::observation::Target;

    fn record(json: serde_json::Value) -> Arc<HealingAction> {
        let mut base = serde_json::json!({
            "apiVersion": "kubeskippy.io/v1alpha1", "kind": "HealingAction",
            "metadata": {"name": "r", "namespace": "shop"},
            "spec": {
                "policy": {"kind": "HealingPolicy", "name": "p", "uid": "u", "programHash": "h"},
                "rule": {"number": 1, "fingerprint": "f", "text": "t"},
                "target": {"kind": "Pod", "namespace": "shop", "name": "web-1"},
                "object": {"kind": "Pod", "namespace": "shop", "name": "web-1"},
                "owner": {"kind": "Deployment", "namespace": "shop", "name": "web"},
                "action": {"name": "restart", "text": "restart"},
                "origin": {"kind": "rule"}, "firingSince": "2026-12-06T10:00:00Z"
            }
        });
        base["status"] = json;
        Arc::new(serde_json::from_value(base).expect("a record"))
    }

    trait WithObject {
        fn with_object(self, name: &str) -> Self;
    }

    impl WithObject for Arc<HealingAction> {
        fn with_object(self, name: &str) -> Self {
            let mut record = (*self).clone();
            record.spec.object.name = name.into();
            Arc::new(record)
        }
    }

    fn pod(name: &str, ready: bool) -> Target {
        let mut target = Target::new(TargetId {
            kind: Kind::Pods,
            namespace: Some("shop".into()),
            name: name.into(),
        });
        target.owner = Some(web());
        if !ready {
            target.statuses.insert("NotReady".into());
        }
        target
    }

    fn web() -> TargetId {
        TargetId {
            kind: Kind::Deployments,
            namespace: Some("shop".into()),
            name: "web".into(),
        }
    }

    #[test]
    fn failures_executions_and_actions_under_way_come_from_the_records() {
        let records = [
            record(serde_json::json!({"phase": "Failed", "healed": false,
                "transitions": {"Executing": "2026-12-06T10:00:00Z", "Failed": "2026-12-06T10:02:00Z"}})),
            record(serde_json::json!({"phase": "Verifying",
                "transitions": {"Executing": "2026-12-06T10:05:00Z"}})),
            record(serde_json::json!({"phase": "Verifying",
                "transitions": {"Executing": "2026-12-06T10:05:00Z"}}))
            .with_object("web-gone"),
            record(
                serde_json::json!({"phase": "Failed", "message": "the API refused",
                "transitions": {"Failed": "2026-12-06T10:06:00Z"}}),
            ),
        ];
        let observations = Observations {
            targets: vec![pod("web-1", false), pod("web-2", true), pod("web-3", false)],
        };
        let recent = Recent::gather(&records, &observations, HashMap::new());
        let policy = recent.policy("u");
        assert_eq!(
            policy.failures.len(),
            1,
            "a failure to carry out is not one to heal"
        );
        assert_eq!(policy.executed.len(), 3);
        let health = recent.workload(&web(), Some("web-2")).expect("observed");
        assert_eq!(health.pods, 3);
        assert_eq!(health.unhealthy, 2);
        // web-1 (not ready, and under way) and web-3 (not ready); web-gone
        // is replaced already.
        assert_eq!(health.disrupted_others, 2);
        let health = recent.workload(&web(), Some("web-1")).expect("observed");
        assert_eq!(
            health.disrupted_others, 1,
            "the action's own pod is not counted"
        );
    }

    #[test]
    fn the_latest_setback_of_a_rule_on_an_object_is_kept() {
        let records = [
            record(serde_json::json!({"phase": "Blocked", "reason": "pdb",
                "transitions": {"Blocked": "2026-12-06T10:00:00Z"}})),
            record(serde_json::json!({"phase": "Failed",
                "transitions": {"Failed": "2026-12-06T10:03:00Z"}})),
            record(serde_json::json!({"phase": "Failed", "healed": false,
                "transitions": {"Failed": "2026-12-06T10:09:00Z"}})),
        ];
        let recent = Recent::gather(&records, &Observations::default(), HashMap::new());
        let pod = TargetId {
            kind: Kind::Pods,
            namespace: Some("shop".into()),
            name: "web-1".into(),
        };
        let (at, latest) = recent.setback("u", "f", &pod).expect("a setback");
        // A failed verification is not a setback: the action ran.
        assert_eq!(*at, 1_796_551_380);
        assert_eq!(
            latest.status.as_ref().and_then(|s| s.phase),
            Some(ActionPhase::Failed)
        );
        assert!(recent.setback("other", "f", &pod).is_none());
    }
}
