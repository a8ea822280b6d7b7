//! `select containers` on the real API server: a pod's two containers are
//! two targets, made from the pod the operator watches. The test plays the
//! kubelet (there is none): it reports one container crash-looping through
//! the pod's status subresource, and the operator, with the least-privilege
//! role, notifies about that container alone. With a real Prometheus
//! serving cAdvisor-shaped CFS counters for both containers, only the
//! throttled one is notified by a CPUThrottlingHigh rule, where the pod's
//! summed counters would stay under the threshold.

use super::metrics::{prometheus_bench, scraped};
use super::support::*;
use kubeskippy::operator::crd::HealingAction;

/// A Deployment `app` of one pod of two containers, `app` and `sidecar`.
fn two_containers(app: &str) -> Deployment {
    let mut two = deployment(app, 1);
    let spec = two.spec.template.spec.as_mut().expect("a pod template");
    spec.containers = serde_json::from_value(json!([
        {"name": "app", "image": "example.invalid/app:1",
         "resources": {"limits": {"cpu": "500m"}}},
        {"name": "sidecar", "image": "example.invalid/sidecar:1",
         "resources": {"limits": {"cpu": "100m"}}}
    ]))
    .expect("two containers");
    two
}

/// Creates `two_containers(app)` in `ns`; its pod's name once it runs.
async fn two_container_pod(client: &Client, ns: &str, app: &str) -> (Api<Pod>, String) {
    Api::<Deployment>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &two_containers(app))
        .await
        .expect("the deployment is created");
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let pod = running_pod(&pods, app).await;
    (pods, pod)
}

/// Reports `pod`'s `app` container crash-looping and its `sidecar` running
/// and ready, as a kubelet would.
async fn app_crash_loops(pods: &Api<Pod>, pod: &str) {
    let status = json!({
        "status": {
            "conditions": [{"type": "Ready", "status": "False"}],
            "containerStatuses": [
                {"name": "app", "image": "example.invalid/app:1", "imageID": "", "ready": false,
                 "restartCount": 6,
                 "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                 "lastState": {"terminated": {"exitCode": 1, "reason": "Error",
                     "startedAt": "2026-12-06T10:00:00Z", "finishedAt": "2026-12-06T10:00:01Z"}}},
                {"name": "sidecar", "image": "example.invalid/sidecar:1", "imageID": "",
                 "ready": true, "restartCount": 0,
                 "state": {"running": {"startedAt": "2026-12-06T09:00:00Z"}}}
            ]
        }
    });
    pods.patch_status(pod, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("the status subresource takes the patch");
}

/// Whether `record` is about the container `name` (`POD/CONTAINER`).
fn about(record: &HealingAction, name: &str) -> bool {
    record.spec.object.kind == "Container" && record.spec.object.name == name
}

#[tokio::test]
async fn the_crash_looping_container_of_two_is_notified_alone() {
    // The role the chart gives: container targets need nothing beyond the
    // pods it already watches.
    let Some(bench) = role_bench("t-containers").await else {
        return;
    };
    let (plane, client, kubeconfig, ns) = bench.parts();
    let (pods, pod) = two_container_pod(&client, &ns, "duo").await;
    let _operator = operator_as(
        plane,
        "containers",
        // Cycles are slow: the status change itself must wake the
        // evaluation, containers included.
        Some("evaluationIntervalSeconds: 300\n"),
        &kubeconfig,
        &["--namespace", "kubeskippy-system"],
    );
    healing_policy(
        &client,
        &ns,
        "crashing-containers",
        "policy crashing-containers {\n  select containers where app = \"duo\"\n  mode auto\n  \
         cooldown 1h\n  when status is CrashLoopBackOff then notify \"the container crash-loops\"\n}\n",
    )
    .await;
    settled(plane, "containers", &format!("{ns}/crashing-containers")).await;
    app_crash_loops(&pods, &pod).await;

    let actions: Api<HealingAction> = Api::namespaced(client.clone(), &ns);
    let crashing = format!("{pod}/app");
    let record = record_where(
        &actions,
        "the crash-looping container's notice",
        Duration::from_secs(60),
        |a| about(a, &crashing) && carried_out(a),
    )
    .await;
    assert_eq!(record.spec.object.namespace.as_deref(), Some(ns.as_str()));
    let evidence = serde_json::to_string(&record.spec.evidence).expect("evidence");
    assert!(evidence.contains("CrashLoopBackOff"), "{evidence}");
    // The Event is on the pod, naming the container.
    let events = eventually("the Event on the pod", Duration::from_secs(30), || async {
        let events = events_about(&client, &ns, &pod).await;
        events
            .iter()
            .find(|(_, note)| note.contains("(container app)"))
            .cloned()
            .ok_or_else(|| format!("{events:?}"))
    })
    .await;
    assert!(events.1.contains("the container crash-loops"), "{events:?}");
    // Later: still one notice (a later firing is held by the cooldown), and
    // no record about the sidecar or the pod.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (notices, seen) = notices_of(&actions, &crashing).await;
    assert_eq!(notices, 1, "{seen:?}");
    let only = format!("Container {crashing}");
    assert!(seen.iter().all(|s| *s == only), "{seen:?}");
}

/// How many notices about the container `name` were carried out, and what
/// every record of `actions` is about (`KIND NAME`).
async fn notices_of(actions: &Api<HealingAction>, name: &str) -> (usize, Vec<String>) {
    let records = actions.list(&ListParams::default()).await.expect("records");
    let notices = records
        .items
        .iter()
        .filter(|a| about(a, name) && carried_out(a))
        .count();
    let seen = records
        .items
        .iter()
        .map(|a| format!("{} {}", a.spec.object.kind, a.spec.object.name))
        .collect();
    (notices, seen)
}

/// The exposition of cAdvisor's CFS counters for `pod`'s two containers in
/// `namespace`, `since` seconds of them: 10 periods a second each, 4 of
/// the app's throttled (40%), none of the sidecar's (the pod's sum: 20%).
fn cfs_counters(namespace: &str, pod: &str, since: Instant) -> String {
    let seconds = since.elapsed().as_secs_f64();
    let mut text = String::from(
        "# TYPE container_cpu_cfs_periods_total counter\n\
         # TYPE container_cpu_cfs_throttled_periods_total counter\n",
    );
    for (container, throttled) in [("app", 4.0), ("sidecar", 0.0)] {
        let labels = format!(
            "namespace=\"{namespace}\",pod=\"{pod}\",container=\"{container}\",\
             id=\"/kubepods/{pod}/{container}\",image=\"example.invalid/{container}:1\""
        );
        text.push_str(&format!(
            "container_cpu_cfs_periods_total{{{labels}}} {}\n\
             container_cpu_cfs_throttled_periods_total{{{labels}}} {}\n",
            10.0 * seconds,
            throttled * seconds
        ));
    }
    text
}

#[tokio::test]
async fn only_the_throttled_container_of_a_pod_is_notified() {
    let Some((plane, binary, _turn, client)) = prometheus_bench().await else {
        return;
    };
    let ns = namespace(&client, "t-container-throttling").await;
    let (_, pod) = two_container_pod(&client, &ns, "throttled").await;
    let since = Instant::now();
    let (web, _exporter, _server) = {
        let (ns, pod) = (ns.clone(), pod.clone());
        scraped(plane, &binary, "container-throttling", move || {
            cfs_counters(&ns, &pod, since)
        })
        .await
    };
    healing_policy(
        &client,
        &ns,
        "throttling",
        // The library's queries (cpu-throttling.skippy): raw selectors,
        // each series combined on its container by its own growth.
        "metric throttled_periods: counter count = promql \"\
         container_cpu_cfs_throttled_periods_total{namespace=\\\"$namespace\\\", container!=\\\"\\\"}\"\n\
         metric cpu_periods: counter count = promql \"\
         container_cpu_cfs_periods_total{namespace=\\\"$namespace\\\", container!=\\\"\\\"}\"\n\
         policy throttling {\n  select containers where app = \"throttled\"\n  mode auto\n  cooldown 1h\n  \
         when increase(throttled_periods, 30s) / increase(cpu_periods, 30s) > 25% for 3s \
         then notify \"more than 25% of the container's CPU periods are throttled\"\n}\n",
    )
    .await;
    let url = format!("http://127.0.0.1:{web}");
    let _operator = operator_as(
        plane,
        "container-throttling",
        Some("evaluationIntervalSeconds: 1\n"),
        &plane.ready.kubeconfig,
        &["--prometheus-url", &url],
    );
    let actions: Api<HealingAction> = Api::namespaced(client.clone(), &ns);
    let throttled = format!("{pod}/app");
    let record = record_where(
        &actions,
        "the throttled container's notice",
        Duration::from_secs(90),
        |a| about(a, &throttled) && carried_out(a),
    )
    .await;
    let evidence = serde_json::to_string(&record.spec.evidence).expect("evidence");
    assert!(evidence.contains("throttled_periods"), "{evidence}");
    // Cycles later: one notice, none about the sidecar nor the pod.
    cycles(plane, "container-throttling", 4).await;
    let (notices, seen) = notices_of(&actions, &throttled).await;
    assert_eq!(notices, 1, "{seen:?}");
    let only = format!("Container {throttled}");
    assert!(seen.iter().all(|s| *s == only), "{seen:?}");
}
