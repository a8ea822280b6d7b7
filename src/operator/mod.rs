//! The operator: its custom resources, the policy controller, the
//! evaluation loop and (to come) the safety controller's runtime state.
//!
//! Everything here does I/O or describes objects of the Kubernetes API, so it
//! lives behind the `operator` cargo feature; the compiler and the engine it
//! drives stay pure.

pub mod analysis;
pub mod approval;
pub mod breaker;
pub mod compile;
pub mod crd;
pub mod evaluation;
pub mod events;
mod handle;
pub mod leader;
pub mod metrics;
pub mod metrics_server;
pub mod observers;
pub mod persist;
pub mod policy_controller;
pub mod prometheus;
pub mod recent;
pub mod record;
pub mod registry;
pub mod retention;
pub mod serve;
pub mod sources;
pub mod verify;

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

/// Runs the operator on `client` until a shutdown signal (SIGTERM, Ctrl-C):
/// the policy controllers, the reflectors, leader election and the
/// evaluation loop (which evaluates and acts only while this replica leads).
/// `namespace` is where records of node actions go and the lease is.
/// `endpoints` serves `/metrics`, `/healthz` and `/readyz`. Metrics come from
/// `prometheus` when given, else from metrics-server.
pub async fn run(
    client: Client,
    safety: SafetyConfig,
    namespace: String,
    lease: std::time::Duration,
    endpoints: tokio::net::TcpListener,
    analysis: analysis::Analysis,
    prometheus: Option<prometheus::PrometheusSource>,
) {
    let ready = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let serving = tokio::spawn(serve::serve(endpoints, ready.clone()));
    let (leading_tx, leading) = tokio::sync::watch::channel(false);
    let candidate = leader::Candidate::this_process(&namespace, lease);
    let campaigning = tokio::spawn(leader::campaign(client.clone(), candidate, leading_tx));
    let registry = Arc::new(registry::Registry::default());
    let shared = Arc::new(Shared {
        client: client.clone(),
        safety: safety.clone(),
        registry: registry.clone(),
        namespace: namespace.clone(),
    });
    let policy_controller = Controller::new(
        Api::<crd::HealingPolicy>::all(client.clone()),
        watcher::Config::default(),
    );
    let cluster_policy_controller = Controller::new(
        Api::<crd::ClusterHealingPolicy>::all(client.clone()),
        watcher::Config::default(),
    );
    let policy_store = policy_controller.store();
    let cluster_policy_store = cluster_policy_controller.store();
    // A policy object deleted since it compiled is evaluated no more.
    let live = move || -> std::collections::HashSet<String> {
        let policies = policy_store.state();
        let cluster_policies = cluster_policy_store.state();
        policies
            .iter()
            .filter_map(|p| p.metadata.uid.clone())
            .chain(
                cluster_policies
                    .iter()
                    .filter_map(|p| p.metadata.uid.clone()),
            )
            .collect()
    };
    let (observers, watches, wakeups) = observers::Observers::start(&client);
    let (answers, verdicts) = tokio::sync::mpsc::channel(256);
    let sources = sources::Sources::new(&client, prometheus);
    let evaluating = tokio::spawn(evaluation::run(
        evaluation::Loop {
            client: client.clone(),
            safety,
            registry,
            observers,
            namespace,
            live: Box::new(live),
            announcer: events::Announcer::new(client.clone()),
            ready,
            analysis,
            answers,
        },
        wakeups,
        verdicts,
        leading,
        sources,
    ));
    let watching = tokio::spawn(futures::future::join_all(watches));
    let policies = policy_controller
        .shutdown_on_signal()
        .run(reconcile, error_policy, shared.clone())
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(%error, "HealingPolicy controller");
            }
        });
    let cluster_policies = cluster_policy_controller
        .shutdown_on_signal()
        .run(reconcile, error_policy, shared)
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(%error, "ClusterHealingPolicy controller");
            }
        });
    tracing::info!("controllers started: HealingPolicy, ClusterHealingPolicy");
    futures::join!(policies, cluster_policies);
    evaluating.abort();
    watching.abort();
    campaigning.abort();
    serving.abort();
    tracing::info!("controllers stopped");
}
