//! The observer's container targets: made from the pods it holds, each
//! read from its own status, and only when some policy selects them.

use super::*;
use crate::engine::observation::TargetId;
use crate::engine::series::Sample;
use serde_json::{json, Value};

const NOW: i64 = 1_800_000_000;

/// A pod of two regular containers, an init container and an ephemeral
/// one, labelled with a `container` label of its own; `app` in `app`,
/// `sidecar` in `sidecar`.
fn pod(app: Value, sidecar: Value) -> Arc<Pod> {
    Arc::new(
        serde_json::from_value(json!({
            "metadata": {"name": "web-1", "namespace": "shop", "creationTimestamp": "2027-01-15T07:00:00Z",
                         "labels": {"app": "web", "container": "from-the-pod"}},
            "spec": {"nodeName": "node-0",
                     "initContainers": [{"name": "migrate"}],
                     "containers": [{"name": "app"}, {"name": "sidecar"}],
                     "ephemeralContainers": [{"name": "debugger"}]},
            "status": {"phase": "Running",
                       "conditions": [{"type": "Ready", "status": "False"}],
                       "initContainerStatuses": [{"name": "migrate", "image": "x", "imageID": "",
                           "ready": false, "restartCount": 9,
                           "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}],
                       "containerStatuses": [
                           status("app", app), status("sidecar", sidecar)]}
        }))
        .expect("a pod"),
    )
}

fn status(name: &str, mut fields: Value) -> Value {
    fields["name"] = json!(name);
    fields["image"] = json!("x");
    fields["imageID"] = json!("");
    fields
}

fn crash_looping(restarts: i32) -> Value {
    json!({"ready": false, "restartCount": restarts,
           "state": {"waiting": {"reason": "CrashLoopBackOff"}},
           "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled",
                                         "finishedAt": format!("2027-01-15T07:{:02}:00Z", 50 + restarts)}}})
}

fn running() -> Value {
    json!({"ready": true, "restartCount": 0, "state": {"running": {}}})
}

fn observed(pods: Vec<Arc<Pod>>, history: &mut History, at: i64) -> Observations {
    snapshot(
        &Cluster {
            pods,
            ..Cluster::default()
        },
        history,
        at,
    )
}

fn containers_history() -> History {
    let mut history = History::new(3_600);
    history.observe_containers(true);
    history
}

fn container<'a>(seen: &'a Observations, name: &str) -> &'a Target {
    let id = TargetId::container("shop", "web-1", name);
    seen.targets
        .iter()
        .find(|t| t.id == id)
        .unwrap_or_else(|| panic!("{id} is observed"))
}

fn last(target: &Target, metric: &str) -> Option<f64> {
    Some(target.metrics.get(metric)?.samples().last()?.value)
}

#[test]
fn each_regular_container_is_a_target_of_its_own_state() {
    let seen = observed(
        vec![pod(crash_looping(4), running())],
        &mut containers_history(),
        NOW,
    );
    let names: Vec<String> = seen
        .targets
        .iter()
        .filter(|t| t.id.kind == Kind::Containers)
        .map(|t| t.id.to_string())
        .collect();
    // Neither the init container nor the ephemeral one.
    assert_eq!(
        names,
        ["containers/shop/web-1/app", "containers/shop/web-1/sidecar"]
    );
    let app = container(&seen, "app");
    let sidecar = container(&seen, "sidecar");
    assert_eq!(
        app.statuses,
        ["CrashLoopBackOff", "ContainerWaiting", "OOMKilled"]
            .map(String::from)
            .into()
    );
    assert!(sidecar.statuses.is_empty(), "{:?}", sidecar.statuses);
    assert_eq!(last(app, "restarts"), Some(4.0));
    assert_eq!(last(sidecar, "restarts"), Some(0.0));
    assert_eq!(
        (last(app, "ready"), last(sidecar, "ready")),
        (Some(0.0), Some(1.0))
    );
    assert_eq!(
        (last(app, "oom_kills"), last(sidecar, "oom_kills")),
        (Some(1.0), Some(0.0))
    );
    // The pod's age, and the pod's labels with the container's own name.
    assert_eq!(last(app, "age"), Some(3_600.0));
    assert_eq!(app.labels["app"], "web");
    assert_eq!(app.labels["container"], "app");
    assert_eq!(sidecar.labels["container"], "sidecar");
    // The pod still reads all of its containers, the init one included.
    let pod = seen
        .targets
        .iter()
        .find(|t| t.id.kind == Kind::Pods)
        .expect("the pod");
    assert_eq!(last(pod, "restarts"), Some(13.0));
}

#[test]
fn without_a_policy_on_containers_there_are_none() {
    let seen = observed(
        vec![pod(crash_looping(4), running())],
        &mut History::new(3_600),
        NOW,
    );
    assert!(seen.targets.iter().all(|t| t.id.kind != Kind::Containers));
    assert_eq!(seen.targets.len(), 1);
}

#[test]
fn a_containers_oom_kills_and_statuses_are_counted_as_they_happen() {
    let mut history = containers_history();
    history.keep_status_history_of(["CrashLoopBackOff".to_string()].into());
    let mut seen = Observations::default();
    for (step, app) in [
        (0, crash_looping(1)),
        (15, running()),
        (30, crash_looping(2)),
    ] {
        seen = observed(vec![pod(app, running())], &mut history, NOW + step);
    }
    let app = container(&seen, "app");
    // Two kills, each counted once although its pod showed it twice.
    assert_eq!(last(app, "oom_kills"), Some(2.0));
    let held: Vec<(i64, f64)> = app.status_history["CrashLoopBackOff"]
        .samples()
        .iter()
        .map(|s| (s.at - NOW, s.value))
        .collect();
    assert_eq!(held, [(0, 1.0), (15, 0.0), (30, 1.0)]);
    let sidecar = container(&seen, "sidecar");
    let never: Vec<f64> = sidecar.status_history["CrashLoopBackOff"]
        .samples()
        .iter()
        .map(|s| s.value)
        .collect();
    assert_eq!(never, [0.0, 0.0, 0.0]);
}

#[test]
fn a_source_answer_lands_on_a_container_of_a_known_pod() {
    let mut history = containers_history();
    let mut fetched = queries::Fetched::default();
    let sample = |value| vec![Sample::new(NOW, value)];
    for (pod, container, value) in [("web-1", "app", 92.0), ("gone-1", "app", 50.0)] {
        fetched.samples.insert(
            TargetId::container("shop", pod, container),
            [("cpu_percent".to_string(), sample(value))].into(),
        );
    }
    let known = TargetId {
        kind: Kind::Pods,
        namespace: Some("shop".into()),
        name: "web-1".into(),
    };
    history.absorb(fetched, |id| *id == known);
    let seen = observed(vec![pod(running(), running())], &mut history, NOW);
    assert_eq!(last(container(&seen, "app"), "cpu_percent"), Some(92.0));
    assert_eq!(last(container(&seen, "sidecar"), "cpu_percent"), None);
    assert!(!history
        .objects
        .contains_key(&TargetId::container("shop", "gone-1", "app")));
}

/// The queries a cycle runs for `source`'s policies over one pod of shop.
fn planned(source: &str) -> Vec<queries::Query> {
    let compiled = crate::check::compile(source, &crate::safety::SafetyConfig::default());
    assert!(!compiled.has_errors(), "{:?}", compiled.diagnostics);
    let wanted = queries::wanted(&[queries::Evaluated {
        program: &compiled.program,
        namespace: Some("shop"),
    }]);
    let cluster = Cluster {
        pods: vec![pod(running(), running())],
        ..Cluster::default()
    };
    queries::plan(&wanted, &cluster)
}

const THROTTLED: &str = "metric throttled: counter count = promql \"sum by (pod, container) (container_cpu_cfs_throttled_periods_total{namespace=\\\"$namespace\\\", container!=\\\"\\\"})\"\n";

#[test]
fn a_containers_queries_are_grouped_by_pod_and_container_and_land_on_containers() {
    let source = format!(
        "{THROTTLED}policy c {{\n  select containers\n  \
         when increase(throttled, 5m) > 100 and cpu_percent > 90% for 15m then notify \"x\"\n}}\n\
         policy p {{\n  select pods\n  when cpu_percent > 90% and increase(throttled, 5m) > 100 then notify \"y\"\n}}\n"
    );
    let queries = planned(&source);
    let seen: Vec<(&str, bool, queries::Landing)> = queries
        .iter()
        .map(|q| {
            (
                q.metric.as_str(),
                q.promql.contains("by (pod, container)"),
                q.landing,
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            // The pods' query, then the containers' (each kind its own).
            ("cpu_percent", false, queries::Landing::Objects),
            ("cpu_percent", true, queries::Landing::Containers),
            // One query for both policies' declared metric.
            ("throttled", true, queries::Landing::Both),
        ]
    );
    assert!(queries
        .iter()
        .all(|q| q.namespace.as_deref() == Some("shop")));
}

fn labels(pairs: &[(&str, &str)]) -> std::collections::HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn a_series_lands_by_namespace_pod_and_container_where_its_query_says() {
    let query = |landing| queries::Query {
        metric: "throttled".into(),
        promql: String::new(),
        namespace: Some("shop".into()),
        landing,
        ..queries::Query::default()
    };
    let app = labels(&[("pod", "web-1"), ("container", "app")]);
    let landed = |landing, series: &[std::collections::HashMap<String, String>]| {
        let mut fetched = queries::Fetched::default();
        for (i, labels) in series.iter().enumerate() {
            fetched.add(&query(landing), labels, vec![Sample::new(NOW, i as f64)]);
        }
        fetched
            .samples
            .into_iter()
            .map(|(id, series)| (id.to_string(), series["throttled"][0].value))
            .collect::<Vec<_>>()
    };
    let sidecar = labels(&[("pod", "web-1"), ("container", "sidecar")]);
    assert_eq!(
        landed(
            queries::Landing::Containers,
            &[app.clone(), sidecar.clone()]
        ),
        [
            ("containers/shop/web-1/app".to_string(), 0.0),
            ("containers/shop/web-1/sidecar".to_string(), 1.0)
        ]
    );
    // A pod's query keeps landing on the pod, its first series first.
    assert_eq!(
        landed(queries::Landing::Objects, &[app.clone(), sidecar.clone()]),
        [("pods/shop/web-1".to_string(), 0.0)]
    );
    assert_eq!(
        landed(queries::Landing::Both, &[app]),
        [
            ("pods/shop/web-1".to_string(), 0.0),
            ("containers/shop/web-1/app".to_string(), 0.0)
        ]
    );
    // cAdvisor's pod-level cgroup (`container=""`), a series of another
    // namespace by its own label, and one without a pod.
    let pod_level = labels(&[("pod", "web-1"), ("container", "")]);
    let elsewhere = labels(&[
        ("pod", "api-1"),
        ("container", "app"),
        ("namespace", "blog"),
    ]);
    let no_pod = labels(&[("container", "app")]);
    assert_eq!(
        landed(
            queries::Landing::Containers,
            &[pod_level, elsewhere, no_pod]
        ),
        [("containers/blog/api-1/app".to_string(), 1.0)]
    );
}

/// A pods policy and a containers policy both read `cpu_percent`, through
/// two queries: the containers' failing forgets the containers' samples,
/// never the pods'.
#[test]
fn a_failed_container_query_leaves_the_pods_series_of_the_same_metric() {
    let query = |landing| queries::Query {
        metric: "cpu_percent".into(),
        promql: String::new(),
        namespace: Some("shop".into()),
        landing,
        ..queries::Query::default()
    };
    let mut history = History::new(600);
    let mut fetched = queries::Fetched::default();
    let app = labels(&[("pod", "web-1"), ("container", "app")]);
    fetched.add(
        &query(queries::Landing::Objects),
        &labels(&[("pod", "web-1")]),
        vec![Sample::new(NOW - 10, 30.0)],
    );
    fetched.add(
        &query(queries::Landing::Containers),
        &app,
        vec![Sample::new(NOW - 10, 60.0)],
    );
    history.absorb(fetched, |_| true);
    let has = |history: &History, id: TargetId| {
        history
            .objects
            .get(&id)
            .is_some_and(|kept| kept.metrics.contains_key("cpu_percent"))
    };
    assert!(has(&history, TargetId::container("shop", "web-1", "app")));
    let mut failed = queries::Fetched::default();
    failed.fail(&query(queries::Landing::Containers));
    history.absorb(failed, |_| true);
    let has = |id: TargetId| has(&history, id);
    assert!(
        !has(TargetId::container("shop", "web-1", "app")),
        "forgotten"
    );
    assert!(
        has(TargetId {
            kind: Kind::Pods,
            namespace: Some("shop".into()),
            name: "web-1".into(),
        }),
        "the pod's own query answered"
    );
}
