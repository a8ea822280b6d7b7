//! The cluster-scoped kinds beyond nodes, observed on the real API server
//! with the least-privilege role: a PersistentVolume in phase Failed
//! (KubePersistentVolumeErrors), told about and never touched; and the
//! cluster as a whole, its pods requesting more CPU than it has without its
//! largest node (KubeCPUOvercommit), told about once.

use super::support::*;
use k8s_openapi::api::core::v1::PersistentVolume;
use kubeskippy::operator::crd::{ClusterHealingPolicy, ClusterHealingPolicySpec, HealingAction};

/// `policy` as the ClusterHealingPolicy `name`, and an operator under the
/// least-privilege role evaluating it every second: the policies' API, the
/// operator, and the records of cluster-scoped targets, which are kept in
/// the operator's namespace.
async fn watched_by(
    bench: &RoleBench,
    name: &str,
    policy: &str,
) -> (
    Api<ClusterHealingPolicy>,
    tokio::process::Child,
    Api<HealingAction>,
) {
    let (plane, client, kubeconfig, _) = bench.parts();
    let policies: Api<ClusterHealingPolicy> = Api::all(client.clone());
    let object = ClusterHealingPolicy::new(
        name,
        ClusterHealingPolicySpec {
            policy: policy.into(),
            mode: None,
        },
    );
    policies
        .create(&PostParams::default(), &object)
        .await
        .expect("the ClusterHealingPolicy is created");
    let operator = role_operator(plane, name, &kubeconfig);
    let actions = Api::namespaced(client, "kubeskippy-system");
    (policies, operator, actions)
}

#[tokio::test]
async fn a_failed_persistent_volume_is_reported_and_left_alone() {
    let Some(bench) = role_bench("t-volumes").await else {
        return;
    };
    let (_, client, _, _) = bench.parts();
    // Bound to a claim that does not exist, with the Retain policy: the
    // real volume controller marks it Released and then never overwrites a
    // Failed phase ("let the user see that something went wrong"), which an
    // unbound volume's Available would.
    let volumes: Api<PersistentVolume> = Api::all(client.clone());
    let volume: PersistentVolume = serde_json::from_value(json!({
        "metadata": {"name": "t-volumes-data", "labels": {"test": "t-volumes"}},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                 "persistentVolumeReclaimPolicy": "Retain",
                 "hostPath": {"path": "/tmp/t-volumes-data"},
                 "claimRef": {"namespace": "t-volumes", "name": "gone",
                              "uid": "00000000-0000-0000-0000-000000000001"}}
    }))
    .expect("a PersistentVolume");
    volumes
        .create(&PostParams::default(), &volume)
        .await
        .expect("the volume is created");
    eventually(
        "the volume controller releases the volume",
        Duration::from_secs(60),
        || async {
            let v = volumes
                .get("t-volumes-data")
                .await
                .map_err(|e| e.to_string())?;
            match v.status.and_then(|s| s.phase).as_deref() {
                Some("Released") => Ok(()),
                other => Err(format!("phase {other:?}")),
            }
        },
    )
    .await;
    // No volume plugin runs here: the test plays the controller whose
    // reclamation failed, through the status subresource.
    let failed = json!({"status": {"phase": "Failed", "message": "the recycler failed"}});
    volumes
        .patch_status(
            "t-volumes-data",
            &PatchParams::default(),
            &Patch::Merge(&failed),
        )
        .await
        .expect("the volume fails");

    // A volume belongs to no namespace: its record is in the operator's.
    let (policies, _operator, actions) = watched_by(
        &bench,
        "t-volumes",
        "policy volumes {\n  select persistentvolumes where test = \"t-volumes\"\n  \
         mode auto\n  cooldown 1h\n  \
         when status is Failed for 2s then notify \"a volume failed\"\n}\n",
    )
    .await;
    let notice = record_where(
        &actions,
        "the failed volume's notice",
        Duration::from_secs(90),
        |a| a.spec.object.kind == "PersistentVolume" && carried_out(a),
    )
    .await;
    assert_eq!(notice.spec.object.name, "t-volumes-data");
    assert_eq!(notice.spec.object.namespace, None);
    assert_eq!(notice.spec.action.name, "notify");
    // Told about, never touched: still there, still Failed.
    let after = volumes.get("t-volumes-data").await.expect("the volume");
    assert_eq!(
        after.status.and_then(|s| s.phase).as_deref(),
        Some("Failed")
    );
    policies
        .delete("t-volumes", &DeleteParams::default())
        .await
        .expect("the policy is deleted");
}

#[tokio::test]
async fn an_overcommitted_cluster_is_reported_once_not_per_node() {
    let Some(bench) = role_bench("t-overcommit").await else {
        return;
    };
    let (plane, client, _, ns) = bench.parts();
    // The harness's nodes offer 8 cores each: without the largest, the
    // cluster has 8 less than it has. A pod that requests 9 fits on no node
    // and stays Pending, which the mixin's requests count too.
    let nodes: Api<Node> = Api::all(client.clone());
    let offered: Vec<f64> = nodes
        .list(&ListParams::default())
        .await
        .expect("the nodes")
        .items
        .iter()
        .filter_map(|n| {
            n.status
                .as_ref()?
                .allocatable
                .as_ref()?
                .get("cpu")?
                .0
                .parse()
                .ok()
        })
        .collect();
    assert!(
        offered.len() >= 2,
        "a cluster of several nodes: {offered:?}"
    );
    let largest = offered.iter().copied().fold(0.0, f64::max);
    let without_largest = offered.iter().sum::<f64>() - largest;
    let request = (without_largest + 1.0).to_string();
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "greedy"},
        "spec": {"containers": [{"name": "app", "image": "example.invalid/greedy:1",
            "resources": {"requests": {"cpu": request}}}]}
    }))
    .expect("a pod");
    Api::<Pod>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &pod)
        .await
        .expect("the pod is created");

    let (policies, _operator, actions) = watched_by(
        &bench,
        "t-overcommit",
        "policy overcommit {\n  select cluster\n  mode auto\n  cooldown 1h\n  \
         when cpu_requests - (cpu_allocatable - max_node_cpu_allocatable) > 0 \
         and cpu_allocatable - max_node_cpu_allocatable > 0 for 2s \
         then notify \"the cluster cannot lose a node\"\n}\n",
    )
    .await;
    let about_cluster = |a: &HealingAction| a.spec.object.kind == "Cluster" && carried_out(a);
    let notice = record_where(
        &actions,
        "the overcommit's notice",
        Duration::from_secs(90),
        about_cluster,
    )
    .await;
    assert_eq!(notice.spec.action.name, "notify");
    let evidence = serde_json::to_string(&notice.spec.evidence).expect("evidence");
    assert!(evidence.contains("max_node_cpu_allocatable"), "{evidence}");
    // Still overcommitted, cycle after cycle: one notice for the cluster,
    // none per node.
    cycles(plane, "t-overcommit", 5).await;
    let records = actions
        .list(&ListParams::default())
        .await
        .expect("records")
        .items;
    let notices = records.iter().filter(|a| about_cluster(a)).count();
    assert_eq!(notices, 1, "one notice for the cluster");
    let per_node: Vec<&HealingAction> = records
        .iter()
        .filter(|a| a.spec.policy.name == "t-overcommit" && a.spec.object.kind != "Cluster")
        .collect();
    assert!(per_node.is_empty(), "none per node: {per_node:?}");
    policies
        .delete("t-overcommit", &DeleteParams::default())
        .await
        .expect("the policy is deleted");
    Api::<Pod>::namespaced(client.clone(), &ns)
        .delete("greedy", &DeleteParams::default())
        .await
        .expect("the pod is deleted");
}
