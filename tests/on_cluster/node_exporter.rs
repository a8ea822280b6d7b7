//! node-exporter's metrics end to end: a real Prometheus scrapes series
//! shaped as node-exporter's (labelled by the exporter pod's `namespace`
//! and `pod`, not by node) and kube-state-metrics' `kube_pod_info`; the
//! operator's query joins them to the harness's nodes, and a node with less
//! than 10% of its memory available is reported (NodeMemoryHighUtilization).

use super::metrics::{
    cluster_policy_on_prometheus, exporter_labels, exporter_pod_info, prometheus_bench, scraped,
};
use super::support::*;
use kubeskippy::operator::crd::{ClusterHealingPolicy, HealingAction};

use super::metrics::GIB;

/// One exporter pod per node, its series labelled as a ServiceMonitor
/// labels them; `available` GiB of 16 on each node.
fn exposition(available: &[(&str, f64)]) -> String {
    let mut text = String::from(
        "# TYPE node_memory_MemAvailable_bytes gauge\n\
         # TYPE node_memory_MemTotal_bytes gauge\n\
         # TYPE kube_pod_info gauge\n",
    );
    for (node, gib) in available {
        let labels = exporter_labels(node);
        text.push_str(&format!(
            "node_memory_MemAvailable_bytes{{{labels}}} {}\n\
             node_memory_MemTotal_bytes{{{labels}}} {}\n",
            gib * GIB,
            16.0 * GIB
        ));
        text.push_str(&exporter_pod_info(node));
    }
    text
}

#[tokio::test]
async fn a_node_short_of_memory_in_node_exporter_is_reported() {
    let Some((plane, binary, _turn, client)) = prometheus_bench().await else {
        return;
    };
    // Where a node's records are kept: the operator's namespace.
    ensure_namespace(&client, "kubeskippy-system").await;
    let [full, roomy] = [&plane.ready.nodes[0], &plane.ready.nodes[1]];
    // 1 GiB of 16 available (6.25%) on one node, half on the other.
    let body = exposition(&[(full.as_str(), 1.0), (roomy.as_str(), 8.0)]);
    let (web, _exporter, _server) =
        scraped(plane, &binary, "node-exporter", move || body.clone()).await;

    let policies: Api<ClusterHealingPolicy> = Api::all(client.clone());
    let _operator = cluster_policy_on_prometheus(
        plane,
        &client,
        "t-node-memory",
        "policy node-memory {\n  select nodes\n  mode auto\n  cooldown 1h\n  \
                     when memory_available_bytes / memory_total_bytes < 10% for 2s \
                     then notify \"more than 90% of the node's memory is in use\"\n  \
                     when memory_available_bytes / memory_total_bytes > 40% for 2s \
                     then notify \"roomy\"\n}\n",
        web,
    )
    .await;
    let actions: Api<HealingAction> = Api::namespaced(client.clone(), "kubeskippy-system");
    // Other tests' node records share the operator's namespace.
    let about = |node: &str, a: &HealingAction| {
        a.spec.policy.name == "t-node-memory"
            && a.spec.object.kind == "Node"
            && a.spec.object.name == node
            && a.spec.action.name == "notify"
    };
    let notice = record_where(
        &actions,
        "the full node's notice",
        Duration::from_secs(90),
        |a| about(full, a) && carried_out(a),
    )
    .await;
    let evidence = serde_json::to_string(&notice.spec.evidence).expect("evidence");
    assert!(evidence.contains("memory_available_bytes"), "{evidence}");
    // The other node's series reached the operator too, joined on it: half
    // its memory available is the second rule's notice, never the first's.
    let roomy_notice = record_where(
        &actions,
        "the roomy node's notice",
        Duration::from_secs(90),
        |a| about(roomy, a) && carried_out(a),
    )
    .await;
    assert!(
        roomy_notice.spec.action.text.contains("roomy"),
        "{:?}",
        roomy_notice.spec.action
    );
    assert!(
        notice.spec.action.text.contains("90%"),
        "{:?}",
        notice.spec.action
    );
    let records = actions.list(&ListParams::default()).await.expect("records");
    let wrong: Vec<&HealingAction> = records
        .items
        .iter()
        .filter(|a| about(roomy, a) && a.spec.action.text.contains("90%"))
        .collect();
    assert!(
        wrong.is_empty(),
        "{roomy} has half its memory available: {wrong:?}"
    );
    policies
        .delete("t-node-memory", &DeleteParams::default())
        .await
        .expect("the policy is deleted");
}
