//! The cluster-scoped kinds beyond nodes, observed on the real API server
//! with the least-privilege role: a PersistentVolume in phase Failed
//! (KubePersistentVolumeErrors), told about and never touched.

use super::support::*;
use k8s_openapi::api::core::v1::PersistentVolume;
use kubeskippy::operator::crd::{ClusterHealingPolicy, ClusterHealingPolicySpec, HealingAction};

#[tokio::test]
async fn a_failed_persistent_volume_is_reported_and_left_alone() {
    let Some(bench) = role_bench("t-volumes").await else {
        return;
    };
    let (plane, client, kubeconfig, _ns) = bench.parts();
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

    let policies: Api<ClusterHealingPolicy> = Api::all(client.clone());
    let policy = ClusterHealingPolicy::new(
        "t-volumes",
        ClusterHealingPolicySpec {
            policy: "policy volumes {\n  select persistentvolumes where test = \"t-volumes\"\n  \
                     mode auto\n  cooldown 1h\n  \
                     when status is Failed for 2s then notify \"a volume failed\"\n}\n"
                .into(),
            mode: None,
        },
    );
    policies
        .create(&PostParams::default(), &policy)
        .await
        .expect("the ClusterHealingPolicy is created");
    let _operator = operator_as(
        plane,
        "volumes",
        Some("evaluationIntervalSeconds: 1\n"),
        &kubeconfig,
        &["--namespace", "kubeskippy-system"],
    );
    // A volume belongs to no namespace: its record is in the operator's.
    let actions: Api<HealingAction> = Api::namespaced(client.clone(), "kubeskippy-system");
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
