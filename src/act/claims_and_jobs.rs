//! The executors of the two actions on kinds beyond pods and workloads:
//! `rerun` a Job (a new Job from its spec, the failed one left for
//! inspection) and `expand` a PersistentVolumeClaim (its storage request
//! raised, only where its StorageClass allows expansion, never lowered).

use super::cluster::outcome;
use super::{quantity, Executed};
use crate::ir::LimitValue;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use std::collections::BTreeMap;

/// The labels the Job controller writes on a Job and its pod template: a
/// new Job gets its own.
const GENERATED_LABELS: [&str; 4] = [
    "controller-uid",
    "batch.kubernetes.io/controller-uid",
    "job-name",
    "batch.kubernetes.io/job-name",
];

/// Marks a Job run again by the operator, naming the one it reran.
pub const RERUN_OF: &str = "kubeskippy.io/rerun-of";

/// The Job to create to run `job` again: its spec and labels without what
/// its controller generated (the selector, unless the user chose it, and
/// the labels above), named after it.
pub fn rerun_of(job: &Job) -> Option<Job> {
    let name = job.metadata.name.as_deref()?;
    let mut spec = job.spec.clone()?;
    if spec.manual_selector != Some(true) {
        spec.selector = None;
    }
    let strip = |labels: &mut Option<BTreeMap<String, String>>| {
        if let Some(labels) = labels.as_mut() {
            for generated in GENERATED_LABELS {
                labels.remove(generated);
            }
        }
    };
    if let Some(meta) = spec.template.metadata.as_mut() {
        strip(&mut meta.labels);
    }
    let mut labels = job.metadata.labels.clone();
    strip(&mut labels);
    // A generated name's base may be 58 characters; a Job's name, as a
    // label value of its pods, at most 63.
    let base: String = name.chars().take(51).collect();
    let mut rerun = Job::default();
    rerun.metadata.generate_name = Some(format!("{base}-rerun-"));
    rerun.metadata.namespace = job.metadata.namespace.clone();
    rerun.metadata.labels = labels;
    rerun.metadata.annotations = Some(BTreeMap::from([(RERUN_OF.to_string(), name.to_string())]));
    rerun.spec = Some(spec);
    Some(rerun)
}

/// `rerun`: a new Job from the failed one's spec.
pub async fn rerun(client: Client, namespace: &str, name: &str) -> Executed {
    let jobs: Api<Job> = Api::namespaced(client, namespace);
    let job = match jobs.get(name).await {
        Ok(job) => job,
        Err(e) => return outcome(Err(e), String::new),
    };
    let Some(rerun) = rerun_of(&job) else {
        return Executed::Failed("the Job has no spec to run again".into());
    };
    match jobs.create(&PostParams::default(), &rerun).await {
        Ok(created) => Executed::Done(format!(
            "rerun as Job {}",
            created.metadata.name.unwrap_or_default()
        )),
        Err(e) => outcome(Err(e), String::new),
    }
}

/// The request `expand` asks for, in bytes, from the claim's `current` one:
/// `value` (an absolute size, or a factor of the current), never past `max`;
/// `Err` when that is no growth.
pub fn grown(current: f64, value: LimitValue, max: f64) -> Result<f64, String> {
    let wanted = match value {
        LimitValue::Absolute(bytes) => bytes,
        LimitValue::Factor(factor) => current * factor,
    };
    let target = wanted.min(max).round();
    if target > current {
        Ok(target)
    } else {
        Err(format!(
            "the claim requests {} already; {} would not grow it",
            quantity::memory(current),
            quantity::memory(target)
        ))
    }
}

/// `expand`: the claim's storage request raised, where its StorageClass
/// allows expansion.
pub async fn expand(
    client: Client,
    namespace: &str,
    name: &str,
    value: LimitValue,
    max: f64,
) -> Executed {
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), namespace);
    let claim = match claims.get(name).await {
        Ok(claim) => claim,
        Err(e) => return outcome(Err(e), String::new),
    };
    let spec = claim.spec.unwrap_or_default();
    let Some(class) = spec.storage_class_name.filter(|c| !c.is_empty()) else {
        return Executed::Failed("the claim names no StorageClass: it cannot be expanded".into());
    };
    let expandable = match Api::<StorageClass>::all(client).get(&class).await {
        Ok(class) => class.allow_volume_expansion == Some(true),
        Err(e) => return outcome(Err(e), String::new),
    };
    if !expandable {
        return Executed::Failed(format!(
            "StorageClass {class} does not allow volume expansion: nothing changed"
        ));
    }
    let current = spec
        .resources
        .and_then(|r| r.requests)
        .and_then(|r| r.get("storage").cloned())
        .and_then(|q| quantity::parse(&q.0));
    let Some(current) = current else {
        return Executed::Failed("the claim has no storage request to grow".into());
    };
    let target = match grown(current, value, max) {
        Ok(target) => target,
        Err(why) => return Executed::Failed(why),
    };
    let size = quantity::memory(target);
    // The one field written: the request.
    let patch = serde_json::json!({"spec": {"resources": {"requests": {"storage": size}}}});
    outcome(
        claims
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map(|_| ()),
        || format!("storage request {} → {size}", quantity::memory(current)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const GI: f64 = 1_073_741_824.0;

    #[test]
    fn a_rerun_keeps_the_work_and_drops_what_the_controller_generated() {
        let job: Job = serde_json::from_value(json!({
            "metadata": {"name": "nightly-report", "namespace": "batch", "uid": "u1",
                "labels": {"app": "report", "job-name": "nightly-report", "controller-uid": "u1"}},
            "spec": {
                "backoffLimit": 2,
                "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u1"}},
                "template": {
                    "metadata": {"labels": {"app": "report", "batch.kubernetes.io/controller-uid": "u1",
                                            "batch.kubernetes.io/job-name": "nightly-report"}},
                    "spec": {"restartPolicy": "Never", "containers": [{"name": "r", "image": "r:1"}]}
                }
            },
            "status": {"failed": 3}
        }))
        .expect("a Job");
        let rerun = rerun_of(&job).expect("a rerun");
        assert_eq!(rerun.metadata.name, None);
        assert_eq!(
            rerun.metadata.generate_name.as_deref(),
            Some("nightly-report-rerun-")
        );
        assert_eq!(
            rerun.metadata.labels,
            Some(BTreeMap::from([("app".into(), "report".into())]))
        );
        let annotations = rerun.metadata.annotations.expect("annotations");
        assert_eq!(annotations[RERUN_OF], "nightly-report");
        assert!(rerun.status.is_none() && rerun.metadata.uid.is_none());
        let spec = rerun.spec.expect("a spec");
        assert_eq!(spec.selector, None, "the controller chooses a new one");
        assert_eq!(spec.backoff_limit, Some(2));
        let template_labels = spec
            .template
            .metadata
            .and_then(|m| m.labels)
            .expect("labels");
        assert_eq!(
            template_labels,
            BTreeMap::from([("app".into(), "report".into())])
        );
    }

    #[test]
    fn a_rerun_of_a_long_name_stays_a_valid_name_and_keeps_a_chosen_selector() {
        let name = "x".repeat(63);
        let job: Job = serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"manualSelector": true, "selector": {"matchLabels": {"run": "a"}},
                     "template": {"metadata": {"labels": {"run": "a"}}}}
        }))
        .expect("a Job");
        let rerun = rerun_of(&job).expect("a rerun");
        let prefix = rerun.metadata.generate_name.expect("a generated name");
        assert!(prefix.len() + 5 <= 63, "{prefix}");
        assert!(rerun.spec.expect("spec").selector.is_some());
    }

    #[test]
    fn expand_only_grows_and_never_past_its_bound() {
        assert_eq!(
            grown(10.0 * GI, LimitValue::Factor(1.5), 100.0 * GI),
            Ok(15.0 * GI)
        );
        assert_eq!(
            grown(10.0 * GI, LimitValue::Factor(3.0), 20.0 * GI),
            Ok(20.0 * GI)
        );
        assert_eq!(
            grown(10.0 * GI, LimitValue::Absolute(50.0 * GI), 50.0 * GI),
            Ok(50.0 * GI)
        );
        // At its bound, or asked for less: no change, said so.
        let at_bound = grown(20.0 * GI, LimitValue::Factor(1.5), 20.0 * GI);
        assert!(at_bound.is_err_and(|why| why.contains("would not grow")));
        assert!(grown(60.0 * GI, LimitValue::Absolute(50.0 * GI), 100.0 * GI).is_err());
    }
}
