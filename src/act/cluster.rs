//! The Kubernetes executors: what an admitted action does to the cluster.
//!
//! A pod restart is an eviction, never a plain delete, so that a
//! PodDisruptionBudget holds: a 429 from the Eviction API means the budget
//! allows no disruption now, and the action fails with that reason rather
//! than being forced.
//!
//! Implemented: `restart` and `delete` of a pod, `restart rolling` of a
//! workload (as `kubectl rollout restart`), `scale` (the scale subresource),
//! `cordon`, `drain` (evictions) and `notify` (the record and its Events);
//! `set`, `patch` and `rollback` change the pod template (`super::template`);
//! `rerun` a Job and `expand` a claim (`super::claims_and_jobs`).

use super::claims_and_jobs;
use super::template::{self, patch_workload};
use super::webhooks::{Notification, Webhooks};
use super::{Executed, Executor, Order};
use crate::catalog::Kind;
use crate::engine::observation::TargetId;
use crate::ir::{Action, RestartMode, Scale};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{DeleteParams, EvictParams, ListParams, Patch, PatchParams};
use kube::{Api, Client};
use std::future::Future;
use std::time::Duration;

/// Carries out actions with `client`; `notify` also calls `webhooks`.
#[derive(Clone)]
pub struct KubeExecutor {
    pub client: Client,
    pub webhooks: Webhooks,
    /// How long an action may wait on the API server, all its requests
    /// together; past it, it fails.
    pub timeout: Duration,
}

/// What an action may wait on the API server: kube's client waits up to
/// 295 s for an answer, and the evaluation loop waits for each action it
/// carries out, so a hung API server would hold every other policy back.
pub const ACTION_TIMEOUT: Duration = Duration::from_secs(60);

impl KubeExecutor {
    /// Actions through `client`, each bounded by [`ACTION_TIMEOUT`].
    pub fn new(client: Client, webhooks: Webhooks) -> KubeExecutor {
        KubeExecutor {
            client,
            webhooks,
            timeout: ACTION_TIMEOUT,
        }
    }
}

impl Executor for KubeExecutor {
    fn execute(&mut self, order: Order<'_>) -> impl Future<Output = Executed> + Send {
        let client = self.client.clone();
        let action = order.action.clone();
        let declared = match order.action {
            Action::Patch(id) => order
                .program
                .patch(*id)
                .map(|p| (p.name.clone(), p.patch_type, p.body.clone())),
            _ => None,
        };
        let object = order.object.clone();
        let target = order.target.clone();
        let at = order.at;
        let webhooks = self.webhooks.clone();
        let timeout = self.timeout;
        async move {
            let notify = matches!(action, Action::Notify(_));
            let carrying = carry(client, &action, &object, &target, declared, at, &webhooks);
            // The webhooks bound their own calls.
            if notify {
                return carrying.await;
            }
            tokio::time::timeout(timeout, carrying)
                .await
                .unwrap_or_else(|_| {
                    Executed::TimedOut(format!(
                        "timed out: the API server did not answer within {}s; the action may \
                         have taken effect (a part already done is not undone), so the \
                         cooldown holds the next try back",
                        timeout.as_secs()
                    ))
                })
        }
    }
}

/// `action` on `object`, each request to the API server in turn.
async fn carry(
    client: Client,
    action: &Action,
    object: &TargetId,
    target: &TargetId,
    declared: Option<(String, crate::ir::PatchType, serde_json::Value)>,
    at: i64,
    webhooks: &Webhooks,
) -> Executed {
    let namespace = object.namespace.clone().unwrap_or_else(|| "default".into());
    match (action, object.kind) {
        (Action::Restart(RestartMode::Immediate), Kind::Pods) => {
            let pods: Api<Pod> = Api::namespaced(client, &namespace);
            outcome(
                pods.evict(&object.name, &EvictParams::default())
                    .await
                    .map(|_| ()),
                || "evicted; its controller replaces it".to_string(),
            )
        }
        (Action::Delete, Kind::Pods) => {
            let pods: Api<Pod> = Api::namespaced(client, &namespace);
            outcome(
                pods.delete(&object.name, &DeleteParams::default())
                    .await
                    .map(|_| ()),
                || "deleted".to_string(),
            )
        }
        (Action::Restart(_), kind) if kind.is_workload() => {
            rolling_restart(client, kind, &namespace, &object.name, at).await
        }
        (Action::Scale(scale), Kind::Deployments | Kind::StatefulSets) => {
            self::scale(client, object.kind, &namespace, &object.name, *scale).await
        }
        (
            Action::SetLimit {
                resource,
                value,
                max,
            },
            kind,
        ) if kind.is_workload() => {
            template::set_limit(
                client,
                kind,
                &namespace,
                &object.name,
                (*resource, *value, *max),
            )
            .await
        }
        (Action::Patch(_), kind) if kind.is_workload() => match &declared {
            Some((name, patch_type, body)) => {
                template::patch(
                    client,
                    kind,
                    &namespace,
                    &object.name,
                    (name, *patch_type, body),
                )
                .await
            }
            None => Executed::Failed("the patch is not declared in the program".into()),
        },
        (Action::Rollback, Kind::Deployments) => {
            template::rollback(client, &namespace, &object.name).await
        }
        (Action::Rerun, Kind::Jobs) => {
            claims_and_jobs::rerun(client, &namespace, &object.name).await
        }
        (Action::Expand { value, max }, Kind::PersistentVolumeClaims) => {
            claims_and_jobs::expand(client, &namespace, &object.name, *value, *max).await
        }
        (Action::Cordon, Kind::Nodes) => cordon(client, &object.name).await,
        (Action::Drain, Kind::Nodes) => drain(client, &object.name).await,
        // The record and its Events are the notification, and the
        // webhooks' calls.
        (Action::Notify(message), _) if webhooks.is_empty() => {
            Executed::Done(format!("notified: {message}"))
        }
        (Action::Notify(message), _) => {
            let notice = Notification::new(message, object, target, at);
            let (delivered, failed) = webhooks.send(&notice).await;
            let mut done = format!("notified: {message}; webhooks: {delivered} delivered");
            if !failed.is_empty() {
                done.push_str(&format!(
                    ", {} failed ({})",
                    failed.len(),
                    failed.join("; ")
                ));
            }
            Executed::Done(done)
        }
        _ => Executed::Failed(format!(
            "`{}` on {} is not carried out by this build of the operator yet",
            action.catalog_name(),
            object.kind
        )),
    }
}

/// `restart rolling`: as `kubectl rollout restart`, a new annotation on the
/// pod template, so the workload's controller replaces its pods at its own
/// pace and within its disruption rules.
async fn rolling_restart(
    client: Client,
    kind: Kind,
    namespace: &str,
    name: &str,
    at: i64,
) -> Executed {
    let stamp = k8s_openapi::jiff::Timestamp::from_second(at)
        .map(|t| t.to_string())
        .unwrap_or_default();
    let patch = serde_json::json!({
        "spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}
    });
    outcome(
        patch_workload(client, kind, namespace, name, &Patch::Strategic(&patch)).await,
        || "rollout started (pod template annotated)".to_string(),
    )
}

/// The annotation `kubectl rollout restart` sets.
const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";

/// `scale`: the scale subresource, from the replicas it has now.
async fn scale(client: Client, kind: Kind, namespace: &str, name: &str, scale: Scale) -> Executed {
    let current = match kind {
        Kind::Deployments => {
            Api::<Deployment>::namespaced(client.clone(), namespace)
                .get_scale(name)
                .await
        }
        _ => {
            Api::<StatefulSet>::namespaced(client.clone(), namespace)
                .get_scale(name)
                .await
        }
    };
    let before = match current {
        Ok(s) => s.spec.and_then(|s| s.replicas).unwrap_or(0),
        Err(e) => return outcome(Err(e), String::new),
    };
    let before_u = u32::try_from(before.max(0)).unwrap_or(0);
    // `up` never removes replicas and `down` never adds any, as in `simulate`.
    let after = match scale {
        Scale::Up { by, max } => {
            before_u.max(before_u.saturating_add(by).min(max.unwrap_or(u32::MAX)))
        }
        Scale::Down { by, min } => before_u.min(before_u.saturating_sub(by).max(min.unwrap_or(0))),
        Scale::To { replicas } => replicas,
    };
    if after == before_u {
        return Executed::Done(format!("replicas stay {before_u}"));
    }
    let patch = Patch::Merge(serde_json::json!({"spec": {"replicas": after}}));
    let params = PatchParams::default();
    let result = match kind {
        Kind::Deployments => Api::<Deployment>::namespaced(client, namespace)
            .patch_scale(name, &params, &patch)
            .await
            .map(|_| ()),
        _ => Api::<StatefulSet>::namespaced(client, namespace)
            .patch_scale(name, &params, &patch)
            .await
            .map(|_| ()),
    };
    outcome(result, || format!("replicas {before_u} → {after}"))
}

/// `cordon`: no new pods on the node.
async fn cordon(client: Client, node: &str) -> Executed {
    let nodes: Api<Node> = Api::all(client);
    let patch = Patch::Merge(serde_json::json!({"spec": {"unschedulable": true}}));
    outcome(
        nodes
            .patch(node, &PatchParams::default(), &patch)
            .await
            .map(|_| ()),
        || "cordoned".to_string(),
    )
}

/// `drain`: cordon, then evict every pod of the node but DaemonSet and
/// mirror pods (their controllers would put them back at once), each
/// through the Eviction API so PodDisruptionBudgets hold.
async fn drain(client: Client, node: &str) -> Executed {
    if let Executed::Failed(why) = cordon(client.clone(), node).await {
        return Executed::Failed(why);
    }
    let pods: Api<Pod> = Api::all(client.clone());
    let on_node = match pods
        .list(&ListParams::default().fields(&format!("spec.nodeName={node}")))
        .await
    {
        Ok(list) => list.items,
        Err(e) => return outcome(Err(e), String::new),
    };
    let mut evicted = 0;
    let mut refused = Vec::new();
    for pod in on_node {
        let daemon = pod
            .metadata
            .owner_references
            .iter()
            .flatten()
            .any(|o| o.kind == "DaemonSet");
        let mirror = pod
            .metadata
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key("kubernetes.io/config.mirror"));
        if daemon || mirror {
            continue;
        }
        let (Some(ns), Some(name)) = (pod.metadata.namespace, pod.metadata.name) else {
            continue;
        };
        let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
        match api.evict(&name, &EvictParams::default()).await {
            Ok(_) => evicted += 1,
            Err(e) => refused.push(format!("{ns}/{name}: {e}")),
        }
    }
    if refused.is_empty() {
        Executed::Done(format!("cordoned; {evicted} pods evicted"))
    } else {
        Executed::Failed(format!(
            "cordoned; {evicted} pods evicted, {} not: {}",
            refused.len(),
            refused.join("; ")
        ))
    }
}

/// What a call's result means for the record.
pub(super) fn outcome(result: Result<(), kube::Error>, done: impl FnOnce() -> String) -> Executed {
    match result {
        Ok(()) => Executed::Done(done()),
        Err(kube::Error::Api(status)) if status.code == 404 => Executed::Missing,
        Err(kube::Error::Api(status)) if status.code == 429 => Executed::Failed(format!(
            "blocked by a PodDisruptionBudget: {}",
            status.message
        )),
        Err(kube::Error::Api(status)) if status.code == 403 => Executed::Failed(format!(
            "the operator is not allowed to: {}",
            status.message
        )),
        Err(e) => Executed::Failed(e.to_string()),
    }
}
