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
pub mod interrupted;
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
pub mod shard;
pub mod sources;
mod term;
pub mod verify;
pub mod watch;

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

/// How `kubeskippy run` configured the operator.
pub struct Settings {
    pub safety: SafetyConfig,
    /// Where records of node actions go and the Lease is.
    pub namespace: String,
    /// How long a leader's Lease lasts without renewal.
    pub lease: std::time::Duration,
    pub analysis: analysis::Analysis,
    /// Where metrics come from: Prometheus when given, else metrics-server.
    pub prometheus: Option<prometheus::PrometheusSource>,
    pub shard: shard::Shard,
    /// Where `notify` posts.
    pub webhooks: crate::act::webhooks::Webhooks,
    /// Seconds of a gap without data that a `for` timer survives.
    pub outage_tolerance: i64,
}

/// Runs the operator on `client` until a shutdown signal (SIGTERM, Ctrl-C):
/// the policy controllers, the reflectors, leader election and the
/// evaluation loop (which evaluates and acts only while this replica leads).
/// `endpoints` serves `/metrics`, `/healthz` and `/readyz`.
pub async fn run(client: Client, settings: Settings, endpoints: tokio::net::TcpListener) {
    let Settings {
        safety,
        namespace,
        lease,
        analysis,
        prometheus,
        shard,
        webhooks,
        outage_tolerance,
    } = settings;
    let ready = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let serving = tokio::spawn(serve::serve(endpoints, ready.clone()));
    let (leading_tx, leading) = tokio::sync::watch::channel(None);
    let candidate = leader::Candidate::this_process(&namespace, shard.lease(), lease);
    if shard.count > 1 {
        tracing::info!(%shard, lease = %shard.lease(), "sharded: this operator owns its share of the namespaces");
    }
    let campaigning = tokio::spawn(leader::campaign(client.clone(), candidate, leading_tx));
    let registry = Arc::new(registry::Registry::default());
    let shared = Arc::new(Shared {
        client: client.clone(),
        safety: safety.clone(),
        registry: registry.clone(),
        namespace: namespace.clone(),
        shard,
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
    let (observers, watches, wakeups) = observers::Observers::start(&client, shard);
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
            shard,
            webhooks,
            outage_tolerance,
            leading: leading.clone(),
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
