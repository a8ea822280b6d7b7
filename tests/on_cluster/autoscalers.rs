//! `select horizontalpodautoscalers` on the real API server with the
//! least-privilege role: the real autoscaler controller reports each
//! autoscaler's replicas, and the one held at its maximum is told about
//! (KubeHpaMaxedOut), the one with room is not.

use super::support::*;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use kubeskippy::operator::crd::HealingAction;

/// An autoscaler of the Deployment `app` between `min` and `max` replicas.
fn autoscaler(app: &str, min: i32, max: i32) -> HorizontalPodAutoscaler {
    serde_json::from_value(json!({
        "metadata": {"name": app},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": app},
            "minReplicas": min, "maxReplicas": max,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 80}}}]
        }
    }))
    .expect("an autoscaler")
}

#[tokio::test]
async fn an_autoscaler_at_its_maximum_is_told_about_and_one_with_room_is_not() {
    let Some(bench) = role_bench("t-autoscalers").await else {
        return;
    };
    let (plane, client, kubeconfig, ns) = bench.parts();
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let autoscalers: Api<HorizontalPodAutoscaler> = Api::namespaced(client.clone(), &ns);
    for (app, max) in [("maxed", 2), ("roomy", 5)] {
        workload(&client, &ns, app, 2).await;
        running_pods(&pods, app, 2).await;
        autoscalers
            .create(&PostParams::default(), &autoscaler(app, 2, max))
            .await
            .expect("the autoscaler is created");
    }
    // The controller writes `status.currentReplicas` whether or not it can
    // read the pods' CPU (there is no metrics API here): both hold 2.
    eventually(
        "the controller reports both autoscalers' replicas",
        Duration::from_secs(60),
        || async {
            let listed = autoscalers
                .list(&ListParams::default())
                .await
                .map_err(|e| e.to_string())?;
            let reported: Vec<Option<i32>> = listed
                .items
                .iter()
                .map(|a| a.status.as_ref().and_then(|s| s.current_replicas))
                .collect();
            if reported == [Some(2), Some(2)] {
                Ok(())
            } else {
                Err(format!("{reported:?}"))
            }
        },
    )
    .await;
    healing_policy(
        &client,
        &ns,
        "hpa",
        "policy hpa {\n  select horizontalpodautoscalers\n  mode auto\n  cooldown 1h\n  \
         when current_replicas == max_replicas for 2s then notify \"the autoscaler is at its maximum\"\n}\n",
    )
    .await;
    let _operator = role_operator(plane, "autoscalers", &kubeconfig);
    let actions: Api<HealingAction> = Api::namespaced(client.clone(), &ns);
    let told = record_where(
        &actions,
        "the maxed-out autoscaler's notice",
        Duration::from_secs(60),
        carried_out,
    )
    .await;
    assert_eq!(
        (
            told.spec.object.kind.as_str(),
            told.spec.object.name.as_str()
        ),
        ("HorizontalPodAutoscaler", "maxed")
    );
    let evidence = serde_json::to_string(&told.spec.evidence).expect("evidence");
    assert!(evidence.contains("current_replicas"), "{evidence}");
    // Given more cycles, the autoscaler with room is still not told about.
    cycles(plane, "autoscalers", 4).await;
    let about: Vec<String> = actions
        .list(&ListParams::default())
        .await
        .expect("records")
        .items
        .into_iter()
        .filter(carried_out)
        .map(|a| a.spec.object.name)
        .collect();
    assert_eq!(about, ["maxed"]);
}
