//! Jobs, HorizontalPodAutoscalers, PersistentVolumeClaims and
//! PodDisruptionBudgets as the engine reads them: their own status fields in
//! the catalog's names (the fields kube-state-metrics copies into the
//! series the kube-prometheus alerts read), and their status reasons. Pure:
//! objects in, values out.

use super::objects::{seconds, Observed};
use crate::catalog::Kind;
use crate::engine::observation::{Target, TargetId};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

fn observed(kind: Kind, meta: &ObjectMeta, now: i64) -> Observed {
    let mut target = Target::new(TargetId {
        kind,
        namespace: meta.namespace.clone(),
        name: meta.name.clone().unwrap_or_default(),
    });
    target.labels = meta.labels.clone().unwrap_or_default();
    let values = meta
        .creation_timestamp
        .as_ref()
        .map(|t| ("age", now.saturating_sub(seconds(t)).max(0) as f64))
        .into_iter()
        .collect();
    Observed {
        target,
        values,
        oom_kills: Vec::new(),
    }
}

fn count(n: i32) -> f64 {
    f64::from(n.max(0))
}

/// A Job: `Failed` and `Complete` (its conditions, each since its
/// transition), its pods active, succeeded and failed, the completions it
/// needs, and how long it has run.
pub fn job(job: &Job, now: i64) -> Observed {
    let mut observed = observed(Kind::Jobs, &job.metadata, now);
    let spec = job.spec.as_ref();
    observed.values.push((
        "completions",
        count(spec.and_then(|s| s.completions).unwrap_or(1)),
    ));
    let Some(status) = &job.status else {
        return observed;
    };
    for (name, value) in [
        ("active_pods", status.active),
        ("succeeded_pods", status.succeeded),
        ("failed_pods", status.failed),
    ] {
        observed.values.push((name, count(value.unwrap_or(0))));
    }
    if let Some(start) = &status.start_time {
        let ran = now.saturating_sub(seconds(start)).max(0);
        observed.values.push(("run_time", ran as f64));
    }
    for condition in status.conditions.iter().flatten() {
        if condition.status == "True" && matches!(condition.type_.as_str(), "Failed" | "Complete") {
            let target = &mut observed.target;
            target.statuses.insert(condition.type_.clone());
            if let Some(since) = &condition.last_transition_time {
                target
                    .status_since
                    .insert(condition.type_.clone(), seconds(since));
            }
        }
    }
    observed
}

/// An autoscaler: the replicas it saw and asked for, and its bounds.
pub fn autoscaler(hpa: &HorizontalPodAutoscaler, now: i64) -> Observed {
    let mut observed = observed(Kind::HorizontalPodAutoscalers, &hpa.metadata, now);
    let spec = &hpa.spec;
    observed
        .values
        .push(("min_replicas", count(spec.min_replicas.unwrap_or(1))));
    observed
        .values
        .push(("max_replicas", count(spec.max_replicas)));
    if let Some(status) = &hpa.status {
        observed.values.push((
            "current_replicas",
            count(status.current_replicas.unwrap_or(0)),
        ));
        observed
            .values
            .push(("desired_replicas", count(status.desired_replicas)));
    }
    observed
}

/// A claim: `Pending` and `Lost` (its phase), and whether it is mounted
/// read-only by many. Its volume's usage comes from the kubelet's statistics
/// (Prometheus), not from here.
pub fn claim(claim: &PersistentVolumeClaim, now: i64) -> Observed {
    let mut observed = observed(Kind::PersistentVolumeClaims, &claim.metadata, now);
    let read_only_many = claim
        .spec
        .as_ref()
        .and_then(|s| s.access_modes.as_ref())
        .is_some_and(|modes| modes.iter().any(|m| m == "ReadOnlyMany"));
    observed
        .values
        .push(("read_only_many", if read_only_many { 1.0 } else { 0.0 }));
    let phase = claim.status.as_ref().and_then(|s| s.phase.as_deref());
    if let Some(phase @ ("Pending" | "Lost")) = phase {
        observed.target.statuses.insert(phase.to_string());
    }
    observed
}

/// A disruption budget: the healthy pods it covers and requires, the pods
/// it expects, and the disruptions it allows now.
pub fn budget(pdb: &PodDisruptionBudget, now: i64) -> Observed {
    let mut observed = observed(Kind::PodDisruptionBudgets, &pdb.metadata, now);
    if let Some(status) = &pdb.status {
        for (name, value) in [
            ("current_healthy", status.current_healthy),
            ("desired_healthy", status.desired_healthy),
            ("expected_pods", status.expected_pods),
            ("disruptions_allowed", status.disruptions_allowed),
        ] {
            if let Some(value) = value {
                observed.values.push((name, count(value)));
            }
        }
    }
    observed
}
