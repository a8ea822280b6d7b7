//! `select filesystems` end to end: a real Prometheus scrapes series shaped
//! as node-exporter's filesystem series (labelled by the exporter pod, with
//! `mountpoint`, `fstype` and `device`) beside `kube_pod_info`; the
//! operator makes one target per node and mount point from the answers, and
//! a filesystem filling up is notified once, while a full tmpfs the `where`
//! leaves out and a filesystem with room are left alone.

use super::metrics::{
    cluster_policy_on_prometheus, exporter_labels, exporter_pod_info, prometheus_bench, scraped,
};
use super::support::*;
use kubeskippy::operator::crd::{ClusterHealingPolicy, HealingAction};
use std::time::Instant;

use super::metrics::GIB;

/// One filesystem series of each metric, as node-exporter exposes them.
fn filesystem(text: &mut String, node: &str, mountpoint: &str, fstype: &str, available: f64) {
    let labels = format!(
        "{},mountpoint=\"{mountpoint}\",fstype=\"{fstype}\",device=\"{fstype}-{node}\"",
        exporter_labels(node)
    );
    text.push_str(&format!(
        "node_filesystem_avail_bytes{{{labels}}} {available}\n\
         node_filesystem_size_bytes{{{labels}}} {}\n\
         node_filesystem_readonly{{{labels}}} 0\n",
        100.0 * GIB
    ));
}

/// `full`'s `/var` (10 GiB of 100, 10 MiB less every second) and `/run`
/// (a tmpfs as full and filling), and `roomy`'s `/` (80 GiB, still).
fn exposition(full: &str, roomy: &str, since: Instant) -> String {
    let mut text = String::from(
        "# TYPE node_filesystem_avail_bytes gauge\n\
         # TYPE node_filesystem_size_bytes gauge\n\
         # TYPE node_filesystem_readonly gauge\n\
         # TYPE kube_pod_info gauge\n",
    );
    let filling = (10.0 * GIB - since.elapsed().as_secs_f64() * 10.0 * 1_048_576.0).max(0.0);
    filesystem(&mut text, full, "/var", "ext4", filling);
    filesystem(&mut text, full, "/run", "tmpfs", filling);
    filesystem(&mut text, roomy, "/", "xfs", 80.0 * GIB);
    for node in [full, roomy] {
        text.push_str(&exporter_pod_info(node));
    }
    text
}

#[tokio::test]
async fn a_filling_filesystem_is_notified_once_and_the_others_left_alone() {
    let Some((plane, binary, _turn, client)) = prometheus_bench().await else {
        return;
    };
    ensure_namespace(&client, "kubeskippy-system").await;
    let (full, roomy) = (plane.ready.nodes[0].clone(), plane.ready.nodes[1].clone());
    let since = Instant::now();
    let (web, _exporter, _server) = {
        let (full, roomy) = (full.clone(), roomy.clone());
        let body = move || exposition(&full, &roomy, since);
        scraped(plane, &binary, "node-filesystems", body).await
    };

    let policies: Api<ClusterHealingPolicy> = Api::all(client.clone());
    let _operator = cluster_policy_on_prometheus(
        plane,
        &client,
        "t-node-filesystems",
        "policy filling {\n  select filesystems where fstype != \"tmpfs\", mountpoint != \"\"\n  \
                     mode auto\n  cooldown 1h\n  \
                     when available_bytes / size_bytes < 15% and predict(available_bytes, 1m, 4h) < 0 \
                     and readonly == false for 2s then notify \"the filesystem is filling up\"\n}\n",
        web,
    )
    .await;
    let actions: Api<HealingAction> = Api::namespaced(client.clone(), "kubeskippy-system");
    let about = |name: &str, a: &HealingAction| {
        a.spec.object.kind == "Filesystem" && a.spec.object.name == name
    };
    let filling = format!("{full}:/var");
    let notice = record_where(
        &actions,
        "the filling filesystem's notice",
        Duration::from_secs(90),
        |a| about(&filling, a) && carried_out(a),
    )
    .await;
    let evidence = serde_json::to_string(&notice.spec.evidence).expect("evidence");
    assert!(evidence.contains("available_bytes"), "{evidence}");
    // Cycles later: one notice carried out (the cooldown holds the next
    // firing, recorded as blocked), none about the tmpfs the `where` leaves
    // out, nor about the filesystem with room.
    cycles(plane, "t-node-filesystems", 4).await;
    let records = actions.list(&ListParams::default()).await.expect("records");
    let count = |name: &str| records.items.iter().filter(|a| about(name, a)).count();
    let notified = records
        .items
        .iter()
        .filter(|a| about(&filling, a) && carried_out(a))
        .count();
    assert_eq!(notified, 1, "one notice of {filling}");
    assert_eq!(
        count(&format!("{full}:/run")),
        0,
        "the tmpfs is not selected"
    );
    assert_eq!(count(&format!("{roomy}:/")), 0, "{roomy}:/ has room");
    policies
        .delete("t-node-filesystems", &DeleteParams::default())
        .await
        .expect("the policy is deleted");
}
