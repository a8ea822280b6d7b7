//! The executors that change a workload's pod template, after which its
//! controller rolls the pods at its own pace: `set` a memory or CPU limit,
//! `patch` with a declared patch, and `rollback` of a Deployment to its
//! previous revision (as `kubectl rollout undo` does).

use super::cluster::outcome;
use super::quantity;
use super::Executed;
use crate::catalog::Kind;
use crate::ir::{LimitValue, PatchType, Resource};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Container, PodTemplateSpec};
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};

/// One container's new limit, and its request where it was above it (the
/// API refuses a request above its limit).
#[derive(Debug, Clone, PartialEq)]
pub struct LimitChange {
    pub container: String,
    pub before: Option<f64>,
    pub after: f64,
    pub lower_request: bool,
}

/// The limits `set` gives `containers`: a new value, or each container's
/// own limit times a factor, at most `max`. A container without a limit
/// cannot be multiplied and is left alone; nothing changes where the value
/// is the same.
pub fn limit_changes(
    containers: &[Container],
    resource: Resource,
    value: LimitValue,
    max: Option<f64>,
) -> Result<Vec<LimitChange>, String> {
    let key = key(resource);
    let read = |c: &Container, which: &str| {
        let resources = c.resources.as_ref()?;
        let map = if which == "limits" {
            resources.limits.as_ref()?
        } else {
            resources.requests.as_ref()?
        };
        quantity::parse(&map.get(key)?.0)
    };
    let mut changes = Vec::new();
    for container in containers {
        let before = read(container, "limits");
        let after = match (value, before) {
            (LimitValue::Absolute(v), _) => v,
            (LimitValue::Factor(f), Some(current)) => current * f,
            (LimitValue::Factor(_), None) => continue,
        };
        let after = max.map_or(after, |m| after.min(m));
        if !after.is_finite() || after <= 0.0 || before == Some(after) {
            continue;
        }
        changes.push(LimitChange {
            container: container.name.clone(),
            before,
            after,
            lower_request: read(container, "requests").is_some_and(|r| r > after),
        });
    }
    if changes.is_empty()
        && matches!(value, LimitValue::Factor(_))
        && containers.iter().all(|c| read(c, "limits").is_none())
    {
        return Err(format!(
            "no container has a {key} limit to multiply; set one, or `set` a value"
        ));
    }
    Ok(changes)
}

fn key(resource: Resource) -> &'static str {
    match resource {
        Resource::MemoryLimit => "memory",
        Resource::CpuLimit => "cpu",
    }
}

fn format(resource: Resource, value: f64) -> String {
    match resource {
        Resource::MemoryLimit => quantity::memory(value),
        Resource::CpuLimit => quantity::cpu(value),
    }
}

/// The pod template of a workload.
async fn template(
    client: &Client,
    kind: Kind,
    namespace: &str,
    name: &str,
) -> Result<PodTemplateSpec, kube::Error> {
    Ok(match kind {
        Kind::Deployments => {
            let d = Api::<Deployment>::namespaced(client.clone(), namespace)
                .get(name)
                .await?;
            d.spec.template
        }
        Kind::StatefulSets => {
            let s = Api::<StatefulSet>::namespaced(client.clone(), namespace)
                .get(name)
                .await?;
            s.spec.template
        }
        _ => {
            let d = Api::<DaemonSet>::namespaced(client.clone(), namespace)
                .get(name)
                .await?;
            d.spec.template
        }
    })
}

/// A patch of a workload, by kind.
pub async fn patch_workload(
    client: Client,
    kind: Kind,
    namespace: &str,
    name: &str,
    patch: &Patch<&serde_json::Value>,
) -> Result<(), kube::Error> {
    let params = PatchParams::default();
    match kind {
        Kind::Deployments => Api::<Deployment>::namespaced(client, namespace)
            .patch(name, &params, patch)
            .await
            .map(|_| ()),
        Kind::StatefulSets => Api::<StatefulSet>::namespaced(client, namespace)
            .patch(name, &params, patch)
            .await
            .map(|_| ()),
        _ => Api::<DaemonSet>::namespaced(client, namespace)
            .patch(name, &params, patch)
            .await
            .map(|_| ()),
    }
}

/// `set memory_limit|cpu_limit = …`: the new limit on each container of the
/// template, by a strategic merge (containers merge by name).
pub async fn set_limit(
    client: Client,
    kind: Kind,
    namespace: &str,
    name: &str,
    (resource, value, max): (Resource, LimitValue, Option<f64>),
) -> Executed {
    let template = match template(&client, kind, namespace, name).await {
        Ok(t) => t,
        Err(e) => return outcome(Err(e), String::new),
    };
    let containers = template.spec.map(|s| s.containers).unwrap_or_default();
    let changes = match limit_changes(&containers, resource, value, max) {
        Ok(c) if c.is_empty() => return Executed::Done(format!("{} limits stay", key(resource))),
        Ok(c) => c,
        Err(why) => return Executed::Failed(why),
    };
    let key = key(resource);
    let patched: Vec<serde_json::Value> = changes
        .iter()
        .map(|c| {
            let value = format(resource, c.after);
            let mut resources = serde_json::json!({ "limits": { key: value } });
            if c.lower_request {
                resources["requests"] = serde_json::json!({ key: value });
            }
            serde_json::json!({ "name": c.container, "resources": resources })
        })
        .collect();
    let body = serde_json::json!({"spec": {"template": {"spec": {"containers": patched}}}});
    let said: Vec<String> = changes
        .iter()
        .map(|c| {
            let before = c.before.map_or("none".into(), |b| format(resource, b));
            format!("{}: {before} → {}", c.container, format(resource, c.after))
        })
        .collect();
    outcome(
        patch_workload(client, kind, namespace, name, &Patch::Strategic(&body)).await,
        || format!("{key} limit set ({}); a rollout follows", said.join(", ")),
    )
}

/// `patch NAME`: the declared patch, as its type says.
pub async fn patch(
    client: Client,
    kind: Kind,
    namespace: &str,
    name: &str,
    (patch_name, patch_type, body): (&str, PatchType, &serde_json::Value),
) -> Executed {
    let patch = match patch_type {
        PatchType::Merge => Patch::Merge(body),
        PatchType::Strategic => Patch::Strategic(body),
        // The checker made sure of the operations' shape.
        PatchType::Json => match serde_json::from_value(body.clone()) {
            Ok(operations) => Patch::Json(operations),
            Err(error) => {
                return Executed::Failed(format!(
                    "patch `{patch_name}` is not a JSON patch: {error}"
                ))
            }
        },
    };
    outcome(
        patch_workload(client, kind, namespace, name, &patch).await,
        || format!("patch `{patch_name}` applied"),
    )
}

const REVISION: &str = "deployment.kubernetes.io/revision";

/// `rollback`: the Deployment's template becomes its previous revision's
/// (the ReplicaSet it owns with the highest revision below the current),
/// written with the object's resourceVersion so a concurrent change is not
/// overwritten.
/// How many times a rollback reads and writes the Deployment again when a
/// concurrent change (a 409 on its resourceVersion) beat it.
const ROLLBACK_ATTEMPTS: usize = 3;

pub async fn rollback(client: Client, namespace: &str, name: &str) -> Executed {
    for _ in 0..ROLLBACK_ATTEMPTS {
        if let Some(done) = rollback_once(client.clone(), namespace, name).await {
            return done;
        }
    }
    Executed::Failed(format!(
        "the Deployment changed under each of {ROLLBACK_ATTEMPTS} attempts: nothing rolled back"
    ))
}

/// One read and write of the rollback; `None` when a concurrent change
/// refused the write (409), which the next attempt reads.
async fn rollback_once(client: Client, namespace: &str, name: &str) -> Option<Executed> {
    let done = rollback_attempt(client, namespace, name).await;
    match done {
        Err(kube::Error::Api(status)) if status.code == 409 => None,
        Err(e) => Some(outcome(Err(e), String::new)),
        Ok(done) => Some(done),
    }
}

async fn rollback_attempt(
    client: Client,
    namespace: &str,
    name: &str,
) -> Result<Executed, kube::Error> {
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let mut deployment = deployments.get(name).await?;
    let revision = |annotations: Option<&std::collections::BTreeMap<String, String>>| {
        annotations
            .and_then(|a| a.get(REVISION))
            .and_then(|r| r.parse::<u64>().ok())
    };
    let Some(current) = revision(deployment.metadata.annotations.as_ref()) else {
        return Ok(Executed::Failed(
            "the deployment has no revision yet to roll back from".into(),
        ));
    };
    let uid = deployment.metadata.uid.clone();
    let replica_sets: Api<ReplicaSet> = Api::namespaced(client, namespace);
    let owned = replica_sets.list(&ListParams::default()).await?.items;
    let previous = owned
        .into_iter()
        .filter(|rs| {
            rs.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| Some(&o.uid) == uid.as_ref())
        })
        .filter_map(|rs| Some((revision(rs.metadata.annotations.as_ref())?, rs)))
        .filter(|(r, _)| *r < current)
        .max_by_key(|(r, _)| *r);
    let Some((to, rs)) = previous else {
        return Ok(Executed::Failed(format!(
            "no revision before {current} to roll back to"
        )));
    };
    let Some(mut template) = rs.spec.template else {
        return Ok(Executed::Failed(format!(
            "revision {to} has no pod template"
        )));
    };
    // The hash label is the ReplicaSet's own; the Deployment sets it.
    if let Some(labels) = template.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        labels.remove("pod-template-hash");
    }
    deployment.spec.template = template;
    deployments
        .replace(name, &PostParams::default(), &deployment)
        .await?;
    Ok(Executed::Done(format!(
        "rolled back from revision {current} to {to}'s template"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(name: &str, limit: Option<&str>, request: Option<&str>) -> Container {
        serde_json::from_value(serde_json::json!({
            "name": name,
            "resources": {
                "limits": limit.map(|l| serde_json::json!({"memory": l})),
                "requests": request.map(|r| serde_json::json!({"memory": r})),
            }
        }))
        .expect("a container")
    }

    #[test]
    fn a_factor_multiplies_each_limit_up_to_the_ceiling() {
        let containers = [
            container("app", Some("256Mi"), Some("128Mi")),
            container("sidecar", Some("900Mi"), None),
            container("bare", None, None),
        ];
        let changes = limit_changes(
            &containers,
            Resource::MemoryLimit,
            LimitValue::Factor(2.0),
            Some(1_073_741_824.0),
        )
        .expect("changes");
        assert_eq!(
            changes.len(),
            2,
            "a container without a limit is left alone"
        );
        assert_eq!(changes[0].after, 536_870_912.0);
        assert_eq!(changes[1].after, 1_073_741_824.0, "capped at max");
        assert!(!changes[0].lower_request);
    }

    #[test]
    fn a_lower_limit_lowers_a_request_above_it_and_nothing_to_multiply_is_an_error() {
        let containers = [container("app", Some("1Gi"), Some("768Mi"))];
        let changes = limit_changes(
            &containers,
            Resource::MemoryLimit,
            LimitValue::Absolute(536_870_912.0),
            None,
        )
        .expect("changes");
        assert!(changes[0].lower_request);
        let same = limit_changes(
            &containers,
            Resource::MemoryLimit,
            LimitValue::Absolute(1_073_741_824.0),
            None,
        )
        .expect("no change");
        assert!(same.is_empty());
        let err = limit_changes(
            &[container("app", None, None)],
            Resource::MemoryLimit,
            LimitValue::Factor(1.5),
            None,
        )
        .expect_err("nothing to multiply");
        assert!(err.contains("no container has a memory limit"), "{err}");
    }
}
