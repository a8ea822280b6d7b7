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

/// A quota's resources, each a target of its own (`QUOTA/RESOURCE`), as
/// kube-state-metrics has a `kube_resourcequota` series per resource and the
/// alerts time each: its use of its hard limit, and the same ratio while it
/// is below 1. A resource without a hard limit above 0 has no ratio, as
/// `(kube_resourcequota{type="hard"} > 0)` drops it, and no target.
pub fn quota(quota: &ResourceQuota, now: i64) -> Vec<Observed> {
    let whole = observed(Kind::ResourceQuotas, &quota.metadata, now);
    let Some(status) = &quota.status else {
        return Vec::new();
    };
    let Some(hard) = &status.hard else {
        return Vec::new();
    };
    let used = status.used.as_ref();
    hard.iter()
        .filter_map(|(resource, hard)| {
            let hard = quantity::parse(&hard.0).filter(|h| *h > 0.0)?;
            let mut target = Target::new(TargetId::quota_resource(
                whole.target.id.namespace.as_deref().unwrap_or_default(),
                &whole.target.id.name,
                resource,
            ));
            target.labels = whole.target.labels.clone();
            target
                .labels
                .insert(crate::catalog::RESOURCE_LABEL.into(), resource.clone());
            let mut values = whole.values.clone();
            let ratio = used
                .and_then(|u| u.get(resource))
                .and_then(|u| quantity::parse(&u.0))
                .map(|u| u / hard);
            if let Some(ratio) = ratio {
                values.push(("quota_used_ratio", ratio));
                if ratio < 1.0 {
                    values.push(("quota_filling_ratio", ratio));
                }
            }
            Some(Observed {
                target,
                values,
                oom_kills: Vec::new(),
            })
        })
        .collect()
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

    /// Each resource's target name and values, `age` left out.
    fn values(
        used: &[(&str, &str)],
        hard: &[(&str, &str)],
    ) -> Vec<(String, Vec<(&'static str, f64)>)> {
        let mut q = ResourceQuota::default();
        q.metadata.name = Some("compute".into());
        q.metadata.namespace = Some("shop".into());
        q.status = Some(ResourceQuotaStatus {
            used: quantities(used),
            hard: quantities(hard),
        });
        quota(&q, 0)
            .into_iter()
            .map(|o| {
                let mut values = o.values;
                values.sort_by(|a, b| a.0.cmp(b.0));
                assert_eq!(
                    o.target.labels.get("resource").map(String::as_str),
                    o.target.id.name.split_once('/').map(|(_, r)| r)
                );
                (o.target.id.name, values)
            })
            .collect()
    }

    #[test]
    fn each_resource_is_a_target_with_its_own_ratio_across_units() {
        let values = values(
            &[
                ("requests.memory", "1843Mi"),
                ("requests.cpu", "500m"),
                ("count/deployments.apps", "3"),
            ],
            &[
                ("requests.memory", "2Gi"),
                ("requests.cpu", "2"),
                ("count/deployments.apps", "10"),
            ],
        );
        let memory = 1843.0 / 2048.0;
        assert_eq!(
            values,
            [
                (
                    "compute/count/deployments.apps".to_string(),
                    vec![("quota_filling_ratio", 0.3), ("quota_used_ratio", 0.3)]
                ),
                (
                    "compute/requests.cpu".to_string(),
                    vec![("quota_filling_ratio", 0.25), ("quota_used_ratio", 0.25)]
                ),
                (
                    "compute/requests.memory".to_string(),
                    vec![
                        ("quota_filling_ratio", memory),
                        ("quota_used_ratio", memory)
                    ]
                ),
            ]
        );
    }

    #[test]
    fn a_resource_past_its_limit_has_no_filling_ratio() {
        let values = values(
            &[("pods", "3"), ("services", "19"), ("secrets", "4")],
            &[("pods", "2"), ("services", "20"), ("secrets", "0")],
        );
        assert_eq!(
            values,
            [
                ("compute/pods".to_string(), vec![("quota_used_ratio", 1.5)]),
                (
                    "compute/services".to_string(),
                    vec![("quota_filling_ratio", 0.95), ("quota_used_ratio", 0.95)]
                ),
            ]
        );
    }

    #[test]
    fn a_resource_without_a_limit_above_zero_is_no_target_and_one_without_use_has_no_ratio() {
        assert!(values(&[("pods", "1")], &[("pods", "0")]).is_empty());
        assert_eq!(
            values(&[], &[("pods", "3")]),
            [("compute/pods".to_string(), vec![])]
        );
        assert!(quota(&ResourceQuota::default(), 0).is_empty());
    }
}
