//! `event REASON count … within D` on the real API server: core/v1 Events
//! as a kubelet writes them (folded, with a count) reach the rule through
//! the `events.k8s.io/v1` API, and a new one wakes the evaluation at once;
//! an `events.k8s.io/v1` Event's `series` is spread over its span, so a
//! slow trickle does not count as a burst.

use super::control_plane;
use super::support::*;
use k8s_openapi::api::core::v1::Event;
use k8s_openapi::api::events::v1::Event as NewEvent;
use kubeskippy::operator::crd::HealingAction;

/// What an event test has: the operators' turn, an admin client, its
/// namespace with the running pods of a Deployment, and an operator of
/// least privilege evaluating the policy `backoff` (restart on `event
/// BackOff count > 3 within 10m`), running while the bench lives.
struct Bench {
    _turn: tokio::sync::MutexGuard<'static, ()>,
    plane: &'static control_plane::ControlPlane,
    client: Client,
    ns: String,
    pods: Api<Pod>,
    names: Vec<String>,
    _operator: tokio::process::Child,
}

/// A bench named `name` with `replicas` pods of the app `name`, its
/// operator evaluating every `interval` seconds; `None` (skipped loudly)
/// without a control plane.
async fn bench(name: &str, replicas: usize, interval: u32) -> Option<Bench> {
    let plane = control_plane::require()?;
    let turn = OPERATORS.lock().await;
    let client = admin(plane).await;
    install_crds(&client).await;
    let kubeconfig = least_privilege(plane, &client).await;
    let ns = namespace(&client, &format!("t-{name}")).await;
    let (pods, _) = workload(&client, &ns, name, replicas as i32).await;
    let names = running_pods(&pods, name, replicas).await;
    let operator = operator_as(
        plane,
        name,
        Some(&format!("evaluationIntervalSeconds: {interval}\n")),
        &kubeconfig,
        &["--namespace", "kubeskippy-system"],
    );
    let policy = format!("policy backoff {{\n  select pods where app = \"{name}\"\n  mode auto\n  cooldown 10m\n  when event BackOff count > 3 within 10m then restart\n}}\n");
    healing_policy(&client, &ns, "backoff", &policy).await;
    Some(Bench {
        _turn: turn,
        plane,
        client,
        ns,
        pods,
        names,
        _operator: operator,
    })
}

#[tokio::test]
async fn a_pods_folded_events_fire_an_event_rule() {
    // Cycles are slow here: the Event itself must wake the evaluation.
    let Some(bench) = bench("events", 1, 300).await else {
        return;
    };
    let (client, ns, pod) = (&bench.client, &bench.ns, &bench.names[0]);
    settled(bench.plane, "events", &format!("{ns}/backoff")).await;
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
    Api::<Event>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &event)
        .await
        .expect("the event is created");
    restarted(&bench, pod, 5.0).await;
}

/// Waits for the restart of `pod` by the rule, whose evidence counts
/// `count` events within its window; the namespace's records.
async fn restarted(bench: &Bench, pod: &str, count: f64) -> Api<HealingAction> {
    let actions: Api<HealingAction> = Api::namespaced(bench.client.clone(), &bench.ns);
    let record = record_where(
        &actions,
        &format!("the event rule's restart of {pod}"),
        Duration::from_secs(30),
        |a| a.spec.object.name == pod && carried_out(a),
    )
    .await;
    assert!(
        record
            .spec
            .evidence
            .iter()
            .any(|e| e.kind == "event" && e.value == Some(count)),
        "{:?}",
        record.spec.evidence
    );
    actions
}

/// An `events.k8s.io/v1` Event about `pod`, as a controller writes one it
/// has seen `count` times from `first` until now (its `series`).
fn series_event(ns: &str, pod: &str, first: std::time::Duration, count: i32) -> NewEvent {
    let now = k8s_openapi::jiff::Timestamp::now();
    serde_json::from_value(json!({
        "metadata": {"name": format!("{pod}.backoff"), "namespace": ns},
        "eventTime": (now - first).to_string(),
        "series": {"count": count, "lastObservedTime": now.to_string()},
        "regarding": {"kind": "Pod", "namespace": ns, "name": pod, "apiVersion": "v1"},
        "reason": "BackOff",
        "note": "Back-off restarting failed container app",
        "type": "Warning",
        "action": "Restarting",
        "reportingController": "kubeskippy.io/test",
        "reportingInstance": "events-test"
    }))
    .expect("an event")
}

#[tokio::test]
async fn a_folded_series_counts_only_its_share_inside_the_window() {
    let Some(bench) = bench("event-series", 2, 1).await else {
        return;
    };
    let (trickle, burst) = (&bench.names[0], &bench.names[1]);
    let events: Api<NewEvent> = Api::namespaced(bench.client.clone(), &bench.ns);
    let spans = [
        // Ten back-offs over the last hour: spread, two fall within the
        // last ten minutes; credited to the last time, all ten would, and
        // fire.
        (trickle, 3_600),
        // The control: ten back-offs over the last five minutes, all within.
        (burst, 300),
    ];
    for (pod, seconds) in spans {
        let event = series_event(&bench.ns, pod, Duration::from_secs(seconds), 10);
        events
            .create(&PostParams::default(), &event)
            .await
            .expect("the event is created");
    }
    let actions = restarted(&bench, burst, 10.0).await;
    // Both Events were seen before the burst fired (created first, on the
    // same watch); a few more cycles, and the trickle still has no record.
    cycles(bench.plane, "event-series", 3).await;
    let all = actions.list(&ListParams::default()).await.expect("records");
    let about_trickle: Vec<_> = all
        .items
        .iter()
        .filter(|a| a.spec.object.name == *trickle)
        .collect();
    assert!(about_trickle.is_empty(), "{about_trickle:#?}");
    assert!(
        bench
            .pods
            .get(trickle)
            .await
            .is_ok_and(|p| p.metadata.deletion_timestamp.is_none()),
        "the trickling pod is left alone"
    );
}
