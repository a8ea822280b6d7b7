//! The operator: its custom resources, the policy controller, and (to come)
//! the evaluation loop, the safety controller's runtime state and the
//! Kubernetes executors.
//!
//! Everything here does I/O or describes objects of the Kubernetes API, so it
//! lives behind the `operator` cargo feature; the compiler and the engine it
//! drives stay pure.

pub mod compile;
pub mod crd;
pub mod policy_controller;

use crate::safety::SafetyConfig;
use futures::StreamExt;
use kube::runtime::{watcher, Controller};
use kube::{Api, Client};
use policy_controller::{error_policy, reconcile, Shared};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API: {0}")]
    Kube(#[source] kube::Error),
    #[error("a background task failed: {0}")]
    Task(String),
}

/// Runs the operator's controllers on `client` until a shutdown signal
/// (SIGTERM, Ctrl-C).
pub async fn run(client: Client, safety: SafetyConfig) {
    let shared = Arc::new(Shared {
        client: client.clone(),
        safety,
    });
    let policies = Controller::new(
        Api::<crd::HealingPolicy>::all(client.clone()),
        watcher::Config::default(),
    )
    .shutdown_on_signal()
    .run(reconcile, error_policy, shared.clone())
    .for_each(|result| async move {
        if let Err(error) = result {
            tracing::debug!(%error, "HealingPolicy controller");
        }
    });
    let cluster_policies = Controller::new(
        Api::<crd::ClusterHealingPolicy>::all(client.clone()),
        watcher::Config::default(),
    )
    .shutdown_on_signal()
    .run(reconcile, error_policy, shared)
    .for_each(|result| async move {
        if let Err(error) = result {
            tracing::debug!(%error, "ClusterHealingPolicy controller");
        }
    });
    tracing::info!("controllers started: HealingPolicy, ClusterHealingPolicy");
    futures::join!(policies, cluster_policies);
    tracing::info!("controllers stopped");
}
