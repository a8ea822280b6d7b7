//! The Kubernetes executors: what an admitted action does to the cluster.
//!
//! A pod restart is an eviction, never a plain delete, so that a
//! PodDisruptionBudget holds: a 429 from the Eviction API means the budget
//! allows no disruption now, and the action fails with that reason rather
//! than being forced.
//!
//! Implemented so far: `restart` and `delete` of a pod. Every other action
//! fails with a message that says so; the safety controller has admitted it,
//! but this build does not carry it out, and the record says exactly that.

use super::{Executed, Executor, Order};
use crate::catalog::Kind;
use crate::ir::{Action, RestartMode};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, EvictParams};
use kube::{Api, Client};
use std::future::Future;

/// Carries out actions with `client`.
#[derive(Clone)]
pub struct KubeExecutor {
    pub client: Client,
}

impl Executor for KubeExecutor {
    fn execute(&mut self, order: Order<'_>) -> impl Future<Output = Executed> + Send {
        let client = self.client.clone();
        let action = order.action.clone();
        let object = order.object.clone();
        async move {
            let name = action.catalog_name();
            match (&action, object.kind) {
                (Action::Restart(RestartMode::Immediate), Kind::Pods) => {
                    let pods: Api<Pod> =
                        Api::namespaced(client, object.namespace.as_deref().unwrap_or("default"));
                    outcome(
                        pods.evict(&object.name, &EvictParams::default())
                            .await
                            .map(|_| ()),
                        || "evicted; its controller replaces it".to_string(),
                    )
                }
                (Action::Delete, Kind::Pods) => {
                    let pods: Api<Pod> =
                        Api::namespaced(client, object.namespace.as_deref().unwrap_or("default"));
                    outcome(
                        pods.delete(&object.name, &DeleteParams::default())
                            .await
                            .map(|_| ()),
                        || "deleted".to_string(),
                    )
                }
                _ => Executed::Failed(format!(
                    "`{name}` on {} is not carried out by this build of the operator yet",
                    object.kind
                )),
            }
        }
    }
}

/// What a call's result means for the record.
fn outcome(result: Result<(), kube::Error>, done: impl FnOnce() -> String) -> Executed {
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
