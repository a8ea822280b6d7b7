//! The kubelets' eviction counters end to end (KubeNodeEviction): a real
//! Prometheus scrapes two exporters shaped as two nodes' kubelets, each its
//! own `instance` with its own `kubelet_node_name`; the operator joins each
//! signal's series to its node and combines them by their growth, as the
//! mixin's `sum by (eviction_signal, instance) (rate(kubelet_evictions[…])) > 0`
//! reads them. One node evicts again under a signal it had; on the other a
//! signal's series vanishes and a new signal's first eviction appears,
//! which a rate does not count and a sum of the series would; then that
//! node evicts again under a signal it had.

use super::metrics::{cluster_policy_on_prometheus, free_port, prometheus_bench, serve};
use super::support::*;
use crate::real_prometheus::prometheus_serving;
use kubeskippy::operator::crd::{ClusterHealingPolicy, HealingAction};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

/// A kubelet's exposition: its node's name and its eviction counters.
fn kubelet(node: &str, evictions: &[(&str, u32)]) -> String {
    let mut text = format!(
        "# TYPE kubelet_node_name gauge\nkubelet_node_name{{node=\"{node}\"}} 1\n\
         # TYPE kubelet_evictions counter\n"
    );
    for (signal, count) in evictions {
        text.push_str(&format!(
            "kubelet_evictions{{eviction_signal=\"{signal}\"}} {count}\n"
        ));
    }
    text
}

/// How many times the operator has asked Prometheus for the counters.
fn queries(dir: &std::path::Path) -> usize {
    let log = std::fs::read_to_string(dir.join("queries.log")).unwrap_or_default();
    log.lines()
        .filter(|l| l.contains("kubelet_evictions"))
        .count()
}

/// Waits for the operator to ask for the counters `n` times more: cycles
/// that evaluated what Prometheus holds now.
async fn more_queries(dir: &std::path::Path, n: usize) {
    let from = queries(dir);
    eventually(
        &format!("{n} more queries of the counters"),
        Duration::from_secs(60),
        || async {
            let now = queries(dir);
            (now >= from + n)
                .then_some(())
                .ok_or_else(|| format!("{now}"))
        },
    )
    .await;
}

#[tokio::test]
async fn a_nodes_evictions_are_counted_per_signal_as_the_alert_counts_them() {
    let Some((plane, binary, _turn, client)) = prometheus_bench().await else {
        return;
    };
    ensure_namespace(&client, "kubeskippy-system").await;
    let [quiet, evicting] = [&plane.ready.nodes[0], &plane.ready.nodes[1]];
    // 0: nothing moves; 1: the evicting node evicts again, the quiet one's
    // `nodefs.available` series vanishes and `pids.available` appears at
    // 1; 2: the quiet node evicts again under `memory.available`.
    let phase = Arc::new(AtomicU8::new(0));
    let (quiet_target, _quiet_exporter) = serve({
        let (phase, node) = (Arc::clone(&phase), quiet.clone());
        move || match phase.load(Ordering::SeqCst) {
            0 => kubelet(&node, &[("memory.available", 3), ("nodefs.available", 2)]),
            1 => kubelet(&node, &[("memory.available", 3), ("pids.available", 1)]),
            _ => kubelet(&node, &[("memory.available", 4), ("pids.available", 1)]),
        }
    })
    .await;
    let (evicting_target, _evicting_exporter) = serve({
        let (phase, node) = (Arc::clone(&phase), evicting.clone());
        move || {
            let count = if phase.load(Ordering::SeqCst) == 0 {
                3
            } else {
                4
            };
            kubelet(&node, &[("memory.available", count)])
        }
    })
    .await;
    let web = free_port();
    let dir = plane.ready.log_dir.join("kubelets");
    let _prometheus =
        prometheus_serving(&binary, &dir, &[&quiet_target, &evicting_target], web, None);
    let _operator = cluster_policy_on_prometheus(
        plane,
        &client,
        "t-evictions",
        "policy evicted {\n  select nodes\n  mode auto\n  cooldown 1h\n  \
           when increase(evictions, 30s) > 0 then notify \"the kubelet evicted pods\"\n}\n",
        web,
    )
    .await;
    // Prometheus holds both kubelets' counters, and the operator asks for
    // them, before they move.
    let prometheus = prometheus_http_query::Client::try_from(format!("http://127.0.0.1:{web}"))
        .expect("a Prometheus client");
    eventually(
        "Prometheus scrapes both kubelets and the operator reads them",
        Duration::from_secs(90),
        || async {
            let answer = prometheus
                .query("kubelet_evictions")
                .get()
                .await
                .map_err(|e| e.to_string())?;
            let series = answer.data().as_vector().map_or(0, |v| v.len());
            match (series, queries(&dir)) {
                (3, read) if read > 0 => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
    // Cycles that read the counters still, before any check of nothing.
    more_queries(&dir, 3).await;
    let actions: Api<HealingAction> = Api::namespaced(client.clone(), "kubeskippy-system");
    let about = |node: &str, a: &HealingAction| {
        a.spec.policy.name == "t-evictions"
            && a.spec.object.kind == "Node"
            && a.spec.object.name == node
    };
    let records = actions.list(&ListParams::default()).await.expect("records");
    let early: Vec<String> = records
        .items
        .iter()
        .filter(|a| about(quiet, a) || about(evicting, a))
        .map(|a| serde_json::to_string(&a.spec.evidence).expect("evidence"))
        .collect();
    assert!(early.is_empty(), "no counter grew yet: {early:?}");

    phase.store(1, Ordering::SeqCst);
    record_where(
        &actions,
        "the evicting node's notice",
        Duration::from_secs(60),
        |a| about(evicting, a) && carried_out(a),
    )
    .await;
    // The quiet node's series changed in the same scrape; a few more
    // cycles for a wrong notice to show.
    more_queries(&dir, 3).await;
    let records = actions.list(&ListParams::default()).await.expect("records");
    let wrong: Vec<String> = records
        .items
        .iter()
        .filter(|a| about(quiet, a))
        .map(|a| serde_json::to_string(&a.spec.evidence).expect("evidence"))
        .collect();
    assert!(
        wrong.is_empty(),
        "{quiet} evicted no pod under a signal it had before: {wrong:?}"
    );

    // Its own counters reach the operator, joined on it: an eviction under
    // a signal it had is its notice.
    phase.store(2, Ordering::SeqCst);
    record_where(
        &actions,
        "the quiet node's notice",
        Duration::from_secs(60),
        |a| about(quiet, a) && carried_out(a),
    )
    .await;
    let policies: Api<ClusterHealingPolicy> = Api::all(client.clone());
    policies
        .delete("t-evictions", &DeleteParams::default())
        .await
        .expect("the policy is deleted");
}
