//! Verification: a while after an action ran, its rule's condition is
//! evaluated again on what it was about, and the record says whether it
//! healed. A failure to heal feeds the policy's circuit breaker (see
//! [`crate::safety::guard`]); a condition that cannot be evaluated is waited
//! for, then recorded as not verified, which feeds nothing.
//!
//! What "what it was about" means: the target itself while it is there; a
//! pod that was replaced (a restart evicts it) by its workload's pods now,
//! the pod itself among them no more once its deletion has begun: through
//! its grace period it still shows the fault it was evicted for. The
//! condition is evaluated without its `for`: verification asks whether the
//! fault is still there, not whether it has lasted again.

use super::crd::{ActionPhase, HealingAction, HealingActionStatus};
use super::events::Announcer;
use super::registry::Registry;
use crate::catalog::Kind;
use crate::engine::evidence::{render, Evidence};
use crate::engine::observation::{Observations, Target, TargetId};
use crate::engine::truth::{self, Truth};
use crate::ir::{Action, Condition, Program};
use crate::observe::objects::seconds;
use crate::safety::SafetyConfig;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::runtime::events::EventType;
use kube::{Api, Client, ResourceExt};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

/// What re-evaluating a condition found.
#[derive(Debug, Clone, PartialEq)]
pub enum Verified {
    /// It holds on none of the subjects: the values that say so.
    Healed(Vec<Evidence>),
    /// It still holds on this subject.
    NotHealed(TargetId, Vec<Evidence>),
    /// It could not be told: what had no data.
    Unknown(Vec<String>),
    /// Nothing is left to evaluate it on.
    Gone,
}

/// The cluster as verification reads it.
pub struct Seen<'a> {
    pub observations: &'a Observations,
    /// The pods whose deletion has begun ([`leaving`]).
    pub leaving: &'a HashSet<TargetId>,
}

/// The pods of `cluster` whose deletion has begun.
pub fn leaving(cluster: &crate::observe::Cluster) -> HashSet<TargetId> {
    cluster
        .pods
        .iter()
        .filter(|pod| pod.metadata.deletion_timestamp.is_some())
        .map(|pod| crate::observe::objects::id(Kind::Pods, &pod.metadata))
        .collect()
}

/// What the condition of an action on `target` is re-evaluated on.
pub fn subjects<'a>(
    seen: &Seen<'a>,
    target: &TargetId,
    owner: Option<&TargetId>,
) -> Vec<&'a Target> {
    let staying = |t: &&Target| !seen.leaving.contains(&t.id);
    let targets = &seen.observations.targets;
    if let Some(found) = targets.iter().filter(staying).find(|t| &t.id == target) {
        return vec![found];
    }
    match owner {
        Some(owner) if target.kind == Kind::Pods => targets
            .iter()
            .filter(staying)
            .filter(|t| t.id.kind == Kind::Pods && t.owner.as_ref() == Some(owner))
            .collect(),
        _ => Vec::new(),
    }
}

/// Whether a replacement of a pod owned by `owner` is to come: the
/// workload is there and wants replicas (a workload deleted or scaled to
/// none replaces nothing).
pub fn replacement_expected(seen: &Seen<'_>, owner: Option<&TargetId>) -> bool {
    let Some(owner) = owner else {
        return false;
    };
    let Some(workload) = seen.observations.targets.iter().find(|t| &t.id == owner) else {
        return false;
    };
    let wanted = workload
        .metrics
        .get("replicas")
        .and_then(|series| series.samples().last())
        .map(|sample| sample.value);
    wanted.is_none_or(|replicas| replicas > 0.0)
}

/// Whether `condition` still holds on any of `subjects` at `now`.
pub fn verdict(
    program: &Program,
    condition: &Condition,
    subjects: &[&Target],
    now: i64,
) -> Verified {
    if subjects.is_empty() {
        return Verified::Gone;
    }
    let mut seen = Vec::new();
    let mut missing = Vec::new();
    for subject in subjects {
        let verdict = truth::evaluate(program, condition, subject, now, true);
        match verdict.truth {
            Truth::True => return Verified::NotHealed(subject.id.clone(), verdict.seen),
            Truth::False => seen.extend(verdict.seen),
            Truth::Unknown => missing.extend(verdict.missing),
        }
    }
    if missing.is_empty() {
        Verified::Healed(seen)
    } else {
        missing.sort();
        missing.dedup();
        Verified::Unknown(missing)
    }
}

/// How long after an action its condition is verified: the configured
/// delay, or longer when the condition counts events over a longer window
/// (the events that led to the action would otherwise still be counted),
/// at most an hour.
pub fn delay(condition: &Condition, config: &SafetyConfig) -> i64 {
    fn longest(c: &Condition) -> u64 {
        match c {
            Condition::Event { within, .. } => within.0,
            Condition::And(a, b) | Condition::Or(a, b) => longest(a).max(longest(b)),
            Condition::Not(a) => longest(a),
            _ => 0,
        }
    }
    let seconds = config
        .verification
        .after_seconds
        .max(longest(condition))
        .min(3_600);
    i64::try_from(seconds).unwrap_or(3_600)
}

/// When an action carried out on a rule's trigger `condition` is verified;
/// `None` for a `notify`, which changes nothing to verify.
pub fn due(
    action: &Action,
    condition: &Condition,
    config: &SafetyConfig,
    now: i64,
) -> Option<Time> {
    if matches!(action, Action::Notify(_)) {
        return None;
    }
    let at = now.saturating_add(delay(condition, config));
    k8s_openapi::jiff::Timestamp::from_second(at).ok().map(Time)
}

/// The values of the comparisons in `evidence`, by what they measure.
pub fn values(evidence: &[Evidence]) -> BTreeMap<String, f64> {
    evidence
        .iter()
        .filter_map(|e| match e {
            Evidence::Compare { expr, value, .. } => Some((expr.clone(), *value)),
            Evidence::Event { reason, count, .. } => {
                Some((format!("event {reason}"), *count as f64))
            }
            _ => None,
        })
        .collect()
}

/// Verifies every record whose verification is due; returns those whose
/// verdict was written (the record cache may show them as due a while
/// longer, and a verdict is given once).
pub async fn verify_due(
    client: &Client,
    registry: &Registry,
    records: &[Arc<HealingAction>],
    seen: &Seen<'_>,
    config: &SafetyConfig,
    announcer: &Announcer,
    now: i64,
) -> Vec<Arc<HealingAction>> {
    let mut written = Vec::new();
    for record in records {
        let Some(status) = &record.status else {
            continue;
        };
        let due = status.verify_after.as_ref().map(seconds);
        if status.phase != Some(ActionPhase::Verifying) || due.is_none_or(|due| due > now) {
            continue;
        }
        let due = due.unwrap_or(now);
        let Some((phase, healed, message, after)) = judge(registry, record, seen, config, due, now)
        else {
            continue;
        };
        let status = HealingActionStatus {
            phase: Some(phase),
            message: Some(message.clone()),
            values_after: after,
            healed,
            ..HealingActionStatus::default()
        };
        let namespace = record.namespace().unwrap_or_default();
        let actions: Api<HealingAction> = Api::namespaced(client.clone(), &namespace);
        if let Err(error) = super::record::write_status(&actions, &record.name_any(), status).await
        {
            tracing::warn!(%error, record = %record.name_any(), "cannot write the verification");
            continue;
        }
        written.push(record.clone());
        tracing::info!(record = %record.name_any(), ?healed, detail = %message, "verified");
        super::metrics::count(record, phase, None);
        if healed == Some(true) {
            let since = seconds(&record.spec.firing_since);
            super::metrics::METRICS
                .time_to_heal_seconds
                .observe(now.saturating_sub(since).max(0) as f64);
        }
        if let Some(target) = record.spec.target.target_id() {
            let event = match healed {
                Some(true) => (EventType::Normal, "Healed"),
                Some(false) => (EventType::Warning, "NotHealed"),
                None => (EventType::Normal, "NotVerified"),
            };
            announcer
                .tell(record, &target, &record.spec.action.name, event, &message)
                .await;
        }
    }
    written
}

type Judged = (ActionPhase, Option<bool>, String, BTreeMap<String, f64>);

/// The verdict on one due record, or `None` to wait for data.
fn judge(
    registry: &Registry,
    record: &HealingAction,
    seen: &Seen<'_>,
    config: &SafetyConfig,
    due: i64,
    now: i64,
) -> Option<Judged> {
    let entry = registry
        .get(&record.spec.policy.uid)
        .filter(|e| e.program_hash == record.spec.policy.program_hash);
    let rule = entry.as_ref().and_then(|e| {
        let n = usize::try_from(record.spec.rule.number)
            .ok()?
            .checked_sub(1)?;
        e.program.policies.first()?.rules.get(n)
    });
    let (Some(entry), Some(rule), Some(target)) = (&entry, rule, record.spec.target.target_id())
    else {
        return Some((
            ActionPhase::Succeeded,
            None,
            "not verified: the policy changed or is gone since the action".into(),
            BTreeMap::new(),
        ));
    };
    let owner = record.spec.owner.as_ref().and_then(|o| o.target_id());
    let subjects = subjects(seen, &target, owner.as_ref());
    let give_up = i64::try_from(config.verification.give_up_seconds).unwrap_or(i64::MAX);
    let waiting = now < due.saturating_add(give_up);
    Some(
        match verdict(&entry.program, &rule.condition, &subjects, now) {
            Verified::Healed(seen) => (
                ActionPhase::Succeeded,
                Some(true),
                format!(
                    "healed: the trigger no longer holds ({})",
                    render(&seen).join("; ")
                ),
                values(&seen),
            ),
            Verified::NotHealed(on, seen) => (
                ActionPhase::Failed,
                Some(false),
                format!(
                    "not healed: the trigger still holds on {on}: {}",
                    render(&seen).join("; ")
                ),
                values(&seen),
            ),
            Verified::Unknown(_) if waiting => return None,
            // A pod whose workload has not yet made its replacement.
            Verified::Gone if waiting && replacement_expected(seen, owner.as_ref()) => return None,
            Verified::Unknown(missing) => (
                ActionPhase::Succeeded,
                None,
                format!("not verified: no data for {}", missing.join(", ")),
                BTreeMap::new(),
            ),
            Verified::Gone => (
                ActionPhase::Succeeded,
                None,
                format!("not verified: {target} is gone, and nothing replaced it"),
                BTreeMap::new(),
            ),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{compile_in, Host};

    fn program(source: &str) -> Program {
        let compiled = compile_in(source, &SafetyConfig::default(), Host::File);
        assert!(
            compiled.diagnostics.iter().all(|d| !d.is_error()),
            "{:?}",
            compiled.diagnostics
        );
        compiled.program
    }

    fn pod(name: &str, owner: Option<&str>, statuses: &[&str]) -> Target {
        let mut target = Target::new(TargetId {
            kind: Kind::Pods,
            namespace: Some("shop".into()),
            name: name.into(),
        });
        target.owner = owner.map(|o| TargetId {
            kind: Kind::Deployments,
            namespace: Some("shop".into()),
            name: o.into(),
        });
        target.statuses = statuses.iter().map(|s| s.to_string()).collect();
        target
    }

    const CRASHLOOP: &str = "policy crash {\n  select pods in shop\n  when status is CrashLoopBackOff for 3m then restart\n}\n";

    #[test]
    fn a_replaced_pod_is_verified_on_its_workloads_pods() {
        let program = program(CRASHLOOP);
        let condition = &program.policies[0].rules[0].condition;
        let observations = Observations {
            targets: vec![
                pod("web-new", Some("web"), &[]),
                pod("other", Some("api"), &["CrashLoopBackOff"]),
            ],
        };
        let gone = TargetId {
            kind: Kind::Pods,
            namespace: Some("shop".into()),
            name: "web-old".into(),
        };
        let owner = observations.targets[0].owner.clone();
        let none = HashSet::new();
        let seen = |observations| Seen {
            observations,
            leaving: &none,
        };
        let found = subjects(&seen(&observations), &gone, owner.as_ref());
        assert_eq!(found.len(), 1, "only the workload's own pods");
        assert!(matches!(
            verdict(&program, condition, &found, 0),
            Verified::Healed(_)
        ));
        let observations = Observations {
            targets: vec![pod("web-new", Some("web"), &["CrashLoopBackOff"])],
        };
        let found = subjects(&seen(&observations), &gone, owner.as_ref());
        match verdict(&program, condition, &found, 0) {
            Verified::NotHealed(on, _) => assert_eq!(on.name, "web-new"),
            other => panic!("expected not healed, got {other:?}"),
        }
        assert_eq!(
            verdict(
                &program,
                condition,
                &subjects(&seen(&observations), &gone, None),
                0
            ),
            Verified::Gone,
            "a bare pod that is gone leaves nothing to verify"
        );
    }

    #[test]
    fn an_evicted_pod_in_its_grace_period_is_verified_on_its_replacement() {
        let program = program(CRASHLOOP);
        let condition = &program.policies[0].rules[0].condition;
        // The evicted pod still shows the crash loop until it is gone.
        let old = pod("web-old", Some("web"), &["CrashLoopBackOff"]);
        let owner = old.owner.clone();
        let leaving = HashSet::from([old.id.clone()]);
        let alone = Observations {
            targets: vec![old.clone()],
        };
        let seen = Seen {
            observations: &alone,
            leaving: &leaving,
        };
        assert!(
            subjects(&seen, &old.id, owner.as_ref()).is_empty(),
            "a pod on its way out is no subject, and nothing replaced it yet"
        );
        let replaced = Observations {
            targets: vec![old.clone(), pod("web-new", Some("web"), &[])],
        };
        let seen = Seen {
            observations: &replaced,
            leaving: &leaving,
        };
        let found = subjects(&seen, &old.id, owner.as_ref());
        assert_eq!(
            found.iter().map(|t| t.id.name.as_str()).collect::<Vec<_>>(),
            ["web-new"]
        );
        assert!(matches!(
            verdict(&program, condition, &found, 0),
            Verified::Healed(_)
        ));
    }

    #[test]
    fn a_replacement_is_waited_for_only_where_a_workload_wants_replicas() {
        let none = HashSet::new();
        let web = TargetId {
            kind: Kind::Deployments,
            namespace: Some("shop".into()),
            name: "web".into(),
        };
        let workload = |replicas: Option<f64>| {
            let mut target = Target::new(web.clone());
            if let Some(replicas) = replicas {
                let series =
                    crate::engine::series::Series::new([crate::engine::series::Sample::new(
                        0, replicas,
                    )]);
                target
                    .metrics_mut()
                    .insert("replicas".into(), Arc::new(series));
            }
            target
        };
        let expected = |targets: Vec<Target>, owner: Option<&TargetId>| {
            let observations = Observations { targets };
            replacement_expected(
                &Seen {
                    observations: &observations,
                    leaving: &none,
                },
                owner,
            )
        };
        assert!(expected(vec![workload(Some(2.0))], Some(&web)));
        assert!(expected(vec![workload(None)], Some(&web)), "not told: wait");
        assert!(
            !expected(vec![workload(Some(0.0))], Some(&web)),
            "scaled to none"
        );
        assert!(!expected(vec![], Some(&web)), "the workload deleted");
        assert!(!expected(vec![workload(Some(2.0))], None), "a bare pod");
    }

    #[test]
    fn a_condition_without_data_is_unknown_not_healed() {
        let program = program(
            "policy leak {\n  select pods in shop\n  when memory_percent > 90 for 5m then restart\n}\n",
        );
        let condition = &program.policies[0].rules[0].condition;
        let target = pod("web-1", None, &[]);
        match verdict(&program, condition, &[&target], 0) {
            Verified::Unknown(missing) => assert_eq!(missing, ["memory_percent"]),
            other => panic!("expected unknown, got {other:?}"),
        }
    }

    #[test]
    fn an_event_condition_is_verified_after_its_window() {
        let config = SafetyConfig::default();
        let backoff = program(
            "policy backoff {\n  select pods in shop\n  when event BackOff count > 3 within 10m then restart\n}\n",
        );
        assert_eq!(delay(&backoff.policies[0].rules[0].condition, &config), 600);
        let crashloop = program(CRASHLOOP);
        assert_eq!(
            delay(&crashloop.policies[0].rules[0].condition, &config),
            120
        );
    }
}
