//! Jobs, HorizontalPodAutoscalers, PersistentVolumeClaims,
//! PodDisruptionBudgets, ResourceQuotas and PersistentVolumes as the engine reads them: their own status fields in
//! the catalog's names (the fields kube-state-metrics copies into the
//! series the kube-prometheus alerts read), and their status reasons. Pure:
//! objects in, values out.

use super::objects::{seconds, Observed};
use crate::act::quantity;
use crate::catalog::Kind;
use crate::engine::observation::{Target, TargetId};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, ResourceQuota};
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

/// A persistent volume: `Pending`, `Failed` and `Released` (its phase),
/// since its last phase transition where the API server records one
/// (`status.lastPhaseTransitionTime`), so that a `for` on it survives a
/// restart of the operator.
pub fn volume(volume: &PersistentVolume, now: i64) -> Observed {
    let mut observed = observed(Kind::PersistentVolumes, &volume.metadata, now);
    let Some(status) = &volume.status else {
        return observed;
    };
    if let Some(phase @ ("Pending" | "Failed" | "Released")) = status.phase.as_deref() {
        let target = &mut observed.target;
        target.statuses.insert(phase.to_string());
        if let Some(since) = &status.last_phase_transition_time {
            target
                .status_since
                .insert(phase.to_string(), seconds(since));
        }
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

/// A quota: its fullest resource's use of its hard limit, and the fullest
/// of those still below it. A resource without a hard limit above 0 has no
/// ratio, as kube-state-metrics' `(kube_resourcequota{type="hard"} > 0)`
/// drops it; without any, the quota has neither value.
pub fn quota(quota: &ResourceQuota, now: i64) -> Observed {
    let mut observed = observed(Kind::ResourceQuotas, &quota.metadata, now);
    let Some(status) = &quota.status else {
        return observed;
    };
    let (Some(used), Some(hard)) = (&status.used, &status.hard) else {
        return observed;
    };
    let ratios: Vec<f64> = hard
        .iter()
        .filter_map(|(resource, hard)| {
            let hard = quantity::parse(&hard.0).filter(|h| *h > 0.0)?;
            Some(quantity::parse(&used.get(resource)?.0)? / hard)
        })
        .collect();
    let highest = |below_one: bool| {
        ratios
            .iter()
            .copied()
            .filter(|r| !below_one || *r < 1.0)
            .reduce(f64::max)
    };
    if let Some(used) = highest(false) {
        observed.values.push(("quota_used_ratio", used));
    }
    if let Some(filling) = highest(true) {
        observed.values.push(("quota_filling_ratio", filling));
    }
    observed
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ResourceQuotaStatus;
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
    use std::collections::BTreeMap;

    fn quantities(pairs: &[(&str, &str)]) -> Option<BTreeMap<String, Quantity>> {
        Some(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
                .collect(),
        )
    }

    fn values(used: &[(&str, &str)], hard: &[(&str, &str)]) -> Vec<(&'static str, f64)> {
        let mut q = ResourceQuota::default();
        q.metadata.name = Some("compute".into());
        q.metadata.namespace = Some("shop".into());
        q.status = Some(ResourceQuotaStatus {
            used: quantities(used),
            hard: quantities(hard),
        });
        let mut values = quota(&q, 0).values;
        values.sort_by(|a, b| a.0.cmp(b.0));
        values
    }

    #[test]
    fn the_fullest_resource_is_read_across_units() {
        let values = values(
            &[
                ("requests.memory", "1843Mi"),
                ("requests.cpu", "500m"),
                ("pods", "3"),
            ],
            &[
                ("requests.memory", "2Gi"),
                ("requests.cpu", "2"),
                ("pods", "10"),
            ],
        );
        let used = 1843.0 / 2048.0;
        assert_eq!(
            values,
            [("quota_filling_ratio", used), ("quota_used_ratio", used)]
        );
    }

    #[test]
    fn a_resource_past_its_limit_leaves_the_filling_ratio_to_the_others() {
        let values = values(
            &[("pods", "3"), ("services", "19"), ("secrets", "4")],
            &[("pods", "2"), ("services", "20"), ("secrets", "0")],
        );
        assert_eq!(
            values,
            [("quota_filling_ratio", 0.95), ("quota_used_ratio", 1.5)]
        );
    }

    #[test]
    fn a_quota_without_a_limit_above_zero_or_a_status_has_no_ratio() {
        assert!(values(&[("pods", "1")], &[("pods", "0")]).is_empty());
        assert!(values(&[], &[("pods", "3")]).is_empty());
        let unobserved = ResourceQuota::default();
        assert!(quota(&unobserved, 0).values.is_empty());
    }
}
