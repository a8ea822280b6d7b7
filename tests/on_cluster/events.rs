//! `event REASON count … within D` on the real API server: core/v1 Events
//! as a kubelet writes them (folded, with a count) reach the rule through
//! the `events.k8s.io/v1` API, and a new one wakes the evaluation at once.

use super::control_plane;
use super::support::*;
use k8s_openapi::api::core::v1::Event;
use kubeskippy::operator::crd::HealingAction;

#[tokio::test]
async fn a_pods_folded_events_fire_an_event_rule() {
    let Some(plane) = control_plane::require() else {
        return;
    };
    let _turn = OPERATORS.lock().await;
    let client = admin(plane).await;
    install_crds(&client).await;
    let kubeconfig = least_privilege(plane, &client).await;
    let ns = namespace(&client, "t-events").await;
    let (_, pod) = workload(&client, &ns, "noisy", 1).await;
    let _operator = operator_as(
        plane,
        "events",
        // Cycles are slow here: the Event itself must wake the evaluation.
        Some("evaluationIntervalSeconds: 300\n"),
        &kubeconfig,
        &["--namespace", "kubeskippy-system"],
    );
    healing_policy(&client, &ns, "backoff", "policy backoff {\n  select pods where app = \"noisy\"\n  mode auto\n  cooldown 10m\n  when event BackOff count > 3 within 10m then restart\n}\n").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let now = k8s_openapi::jiff::Timestamp::now();
    let event: Event = serde_json::from_value(json!({
        "metadata": {"name": format!("{pod}.backoff"), "namespace": ns},
        "involvedObject": {"kind": "Pod", "namespace": ns, "name": pod, "apiVersion": "v1"},
        "reason": "BackOff",
        "message": "Back-off restarting failed container app",
        "type": "Warning",
        "count": 5,
        "firstTimestamp": (now - std::time::Duration::from_secs(120)).to_string(),
        "lastTimestamp": now.to_string(),
        "source": {"component": "kubelet"}
    }))
    .expect("an event");
    Api::<Event>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &event)
        .await
        .expect("the event is created");
    let actions: Api<HealingAction> = Api::namespaced(client.clone(), &ns);
    let record = record_where(
        &actions,
        "the event rule fired",
        Duration::from_secs(30),
        |a| a.spec.object.name == pod && carried_out(a),
    )
    .await;
    assert!(
        record
            .spec
            .evidence
            .iter()
            .any(|e| e.kind == "event" && e.value == Some(5.0)),
        "{:?}",
        record.spec.evidence
    );
}
