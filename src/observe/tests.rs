use super::*;
use serde_json::json;

const NOW: i64 = 1_800_000_000;

fn pod(value: serde_json::Value) -> Arc<Pod> {
    Arc::new(serde_json::from_value(value).expect("a pod"))
}

fn web_pod(name: &str, status: serde_json::Value) -> Arc<Pod> {
    pod(json!({
        "metadata": {
            "name": name, "namespace": "shop", "labels": {"app": "web"},
            "creationTimestamp": "2027-01-15T07:50:00Z",
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d9f",
                                  "uid": "1", "controller": true}]
        },
        "spec": {"nodeName": "node-0", "containers": [{"name": "app"}]},
        "status": status
    }))
}

fn cluster(pods: Vec<Arc<Pod>>) -> Cluster {
    Cluster {
        pods,
        replica_sets: vec![Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": "web-7d9f", "namespace": "shop",
                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                                          "uid": "2", "controller": true}]}
            }))
            .expect("a replica set"),
        )],
        deployments: vec![Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"},
                             "creationTimestamp": "2027-01-01T00:00:00Z"},
                "spec": {"replicas": 2, "selector": {}, "template": {}},
                "status": {"availableReplicas": 1}
            }))
            .expect("a deployment"),
        )],
        ..Cluster::default()
    }
}

fn crash_looping(restarts: i32) -> serde_json::Value {
    json!({
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": "2027-01-15T07:55:00Z"}],
        "containerStatuses": [{
            "name": "app", "image": "x", "imageID": "", "ready": false, "restartCount": restarts,
            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled",
                                          "finishedAt": "2027-01-15T07:59:00Z"}}
        }]
    })
}

fn running() -> serde_json::Value {
    json!({
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": "True"}],
        "containerStatuses": [{"name": "app", "image": "x", "imageID": "", "ready": true,
                               "restartCount": 0, "state": {"running": {}}}]
    })
}

fn target<'a>(observations: &'a Observations, name: &str) -> &'a Target {
    observations
        .targets
        .iter()
        .find(|t| t.id.name == name)
        .expect("the target is observed")
}

fn value(target: &Target, metric: &str) -> Option<f64> {
    target
        .metrics
        .get(metric)?
        .samples()
        .last()
        .map(|s| s.value)
}

#[test]
fn a_crash_looping_pod_reads_as_the_language_says() {
    let mut history = History::new(600);
    let seen = snapshot(
        &cluster(vec![web_pod("web-1", crash_looping(7))]),
        &mut history,
        NOW,
    );
    let pod = target(&seen, "web-1");
    let statuses: Vec<&str> = pod.statuses.iter().map(String::as_str).collect();
    // A container waits (in back-off), for the catch-all reason too.
    assert_eq!(
        statuses,
        [
            "ContainerWaiting",
            "CrashLoopBackOff",
            "NotReady",
            "OOMKilled"
        ]
    );
    assert_eq!(pod.status_since.get("NotReady"), Some(&(NOW - 300)));
    assert_eq!(value(pod, "restarts"), Some(7.0));
    assert_eq!(value(pod, "ready"), Some(0.0));
    assert_eq!(value(pod, "age"), Some(600.0));
    assert_eq!(value(pod, "oom_kills"), Some(1.0));
    assert_eq!(pod.node.as_deref(), Some("node-0"));
    let owner = pod.owner.as_ref().expect("an owner");
    assert_eq!(
        (owner.kind, owner.name.as_str()),
        (Kind::Deployments, "web")
    );
}

#[test]
fn a_workload_has_its_pods_statuses_and_their_metrics_aggregated() {
    let mut history = History::new(600);
    let pods = vec![
        web_pod("web-1", crash_looping(7)),
        web_pod("web-2", running()),
    ];
    let seen = snapshot(&cluster(pods), &mut history, NOW);
    let web = target(&seen, "web");
    assert_eq!(web.id.kind, Kind::Deployments);
    assert!(
        web.statuses.contains("CrashLoopBackOff"),
        "{:?}",
        web.statuses
    );
    assert_eq!(value(web, "restarts"), Some(7.0), "summed");
    assert_eq!(value(web, "ready"), Some(0.0), "all pods ready: no");
    assert_eq!(value(web, "replicas"), Some(2.0));
    assert_eq!(value(web, "unavailable_replicas"), Some(1.0));
    assert_eq!(
        value(web, "age"),
        Some(1_238_400.0),
        "the workload's own age"
    );
}

#[test]
fn samples_accumulate_across_cycles_and_an_oom_kill_counts_once() {
    let mut history = History::new(600);
    for (step, restarts) in [(0, 5), (15, 6), (30, 6)] {
        let now = NOW + step;
        let seen = snapshot(
            &cluster(vec![web_pod("web-1", crash_looping(restarts))]),
            &mut history,
            now,
        );
        let pod = target(&seen, "web-1");
        let samples: Vec<f64> = pod.metrics["restarts"]
            .samples()
            .iter()
            .map(|s| s.value)
            .collect();
        assert_eq!(samples.len(), step as usize / 15 + 1);
        assert_eq!(
            value(pod, "oom_kills"),
            Some(1.0),
            "the same kill seen again"
        );
    }
}

/// A Deployment's `restarts` is its pods' sum, but a pod replaced takes
/// its restarts with it: the workload's count grows by each pod's growth,
/// so the drop is no reset that `increase` would read as growth.
#[test]
fn a_pod_replaced_does_not_read_as_restarts_of_its_workload() {
    let mut history = History::new(600);
    history.keep_series_of(["restarts".to_string()].into());
    let cycles = [
        vec![
            web_pod("web-1", crash_looping(5)),
            web_pod("web-2", crash_looping(3)),
        ],
        vec![
            web_pod("web-1", crash_looping(6)),
            web_pod("web-2", crash_looping(3)),
        ],
        // web-1 is replaced by a new pod.
        vec![
            web_pod("web-3", running()),
            web_pod("web-2", crash_looping(3)),
        ],
        vec![
            web_pod("web-3", running()),
            web_pod("web-2", crash_looping(3)),
        ],
        vec![
            web_pod("web-3", crash_looping(2)),
            web_pod("web-2", crash_looping(3)),
        ],
    ];
    let mut seen = Vec::new();
    for (i, pods) in cycles.into_iter().enumerate() {
        let now = NOW + 15 * i as i64;
        let observed = snapshot(&cluster(pods), &mut history, now);
        let web = target(&observed, "web");
        let increase = crate::engine::window::apply_series(
            crate::ir::WindowFn::Increase,
            crate::ir::Seconds(60),
            &web.metrics["restarts"],
            now,
        );
        seen.push((value(web, "restarts"), increase));
    }
    assert_eq!(
        seen,
        [
            (Some(8.0), None),
            (Some(9.0), Some(1.0)),
            // The pods' sum is 3 now: read as a reset, it would be 3 more.
            (Some(9.0), Some(1.0)),
            (Some(9.0), Some(1.0)),
            (Some(11.0), Some(2.0)),
        ]
    );
}

/// A counter no policy reads keeps its pods' plain sum; read again, its
/// total starts from that sum, not from a total left from before.
#[test]
fn a_workload_counter_read_again_starts_from_its_pods_sum() {
    let mut history = History::new(600);
    // One cycle: which metrics are read, web-2's restarts, and whether
    // web-1 (5 restarts) has been replaced by web-3 (none).
    let mut cycle = |step: i64, read: bool, web_2: i32, replaced: bool| -> Vec<f64> {
        let metrics = if read {
            vec!["restarts".to_string()]
        } else {
            vec![]
        };
        history.keep_series_of(metrics.into_iter().collect());
        let first = match replaced {
            false => web_pod("web-1", crash_looping(5)),
            true => web_pod("web-3", running()),
        };
        let pods = vec![first, web_pod("web-2", crash_looping(web_2))];
        let observed = snapshot(&cluster(pods), &mut history, NOW + step);
        let samples = target(&observed, "web").metrics["restarts"].samples();
        samples.iter().map(|s| s.value).collect()
    };
    assert_eq!(cycle(0, true, 3, false), [8.0]);
    assert_eq!(
        cycle(15, true, 3, true),
        [8.0, 8.0],
        "web-1 replaced: no reset"
    );
    assert_eq!(cycle(30, false, 3, true), [3.0], "not read: the pods' sum");
    assert_eq!(
        cycle(45, true, 4, true),
        [3.0, 4.0],
        "one restart since, from the pods' sum"
    );
}

#[test]
fn only_the_metrics_policies_read_keep_their_past() {
    let mut history = History::new(600);
    history.keep_series_of(["restarts".to_string()].into());
    let mut seen = Observations::default();
    for (step, restarts) in [(0, 5), (15, 6), (30, 7)] {
        seen = snapshot(
            &cluster(vec![web_pod("web-1", crash_looping(restarts))]),
            &mut history,
            NOW + step,
        );
    }
    let pod = target(&seen, "web-1");
    let count = |name: &str| pod.metrics[name].samples().len();
    assert_eq!(count("restarts"), 3, "read: a window may need its past");
    assert_eq!(count("age"), 1, "not read: its latest value only");
    assert_eq!(count("ready"), 1);
    assert_eq!(value(pod, "age"), Some(630.0), "the latest is there");
    // The workload's aggregate of an unread metric is its latest too.
    let web = seen
        .targets
        .iter()
        .find(|t| t.id.kind == Kind::Deployments)
        .expect("the deployment");
    assert_eq!(web.metrics["ready"].samples().len(), 1);
    assert_eq!(web.metrics["restarts"].samples().len(), 3);
}

#[test]
fn the_statuses_read_over_a_window_keep_a_history_and_no_other() {
    let mut history = History::new(600);
    history.keep_status_history_of(["CrashLoopBackOff".to_string()].into());
    let mut seen = Observations::default();
    for (step, status) in [
        (0, crash_looping(1)),
        (15, running()),
        (30, crash_looping(2)),
    ] {
        seen = snapshot(
            &cluster(vec![web_pod("web-1", status)]),
            &mut history,
            NOW + step,
        );
    }
    let held = |target: &Target| -> Vec<(i64, f64)> {
        target.status_history["CrashLoopBackOff"]
            .samples()
            .iter()
            .map(|s| (s.at - NOW, s.value))
            .collect()
    };
    let pod = target(&seen, "web-1");
    assert_eq!(held(pod), [(0, 1.0), (15, 0.0), (30, 1.0)]);
    assert_eq!(pod.status_history.len(), 1, "NotReady is read by no window");
    // A workload's status is its pods': so is its history.
    let web = seen
        .targets
        .iter()
        .find(|t| t.id.kind == Kind::Deployments)
        .expect("the deployment");
    assert_eq!(held(web), [(0, 1.0), (15, 0.0), (30, 1.0)]);
    // A watch event between cycles reads the history without adding to it.
    let peeked = peek(
        &cluster(vec![web_pod("web-1", running())]),
        &mut history,
        NOW + 40,
    );
    assert_eq!(held(target(&peeked, "web-1")).len(), 3);
}

#[test]
fn a_node_under_pressure() {
    let node: Node = serde_json::from_value(json!({
        "metadata": {"name": "node-0", "creationTimestamp": "2027-01-15T00:00:00Z"},
        "status": {"conditions": [
            {"type": "Ready", "status": "True"},
            {"type": "MemoryPressure", "status": "True", "lastTransitionTime": "2027-01-15T07:58:20Z"},
            {"type": "DiskPressure", "status": "False"}
        ]}
    }))
    .expect("a node");
    let mut history = History::new(600);
    let seen = snapshot(
        &Cluster {
            nodes: vec![Arc::new(node)],
            ..Cluster::default()
        },
        &mut history,
        NOW,
    );
    let n = target(&seen, "node-0");
    assert_eq!(n.id.namespace, None);
    let statuses: Vec<&str> = n.statuses.iter().map(String::as_str).collect();
    assert_eq!(statuses, ["MemoryPressure"]);
    assert_eq!(n.status_since.get("MemoryPressure"), Some(&(NOW - 100)));
    assert_eq!(value(n, "memory_pressure"), Some(1.0));
    assert_eq!(value(n, "disk_pressure"), Some(0.0));
    assert_eq!(value(n, "ready"), Some(1.0));
}

#[test]
fn a_bare_pod_has_no_owner_and_a_missing_status_is_no_panic() {
    let bare = pod(json!({"metadata": {"name": "lonely", "namespace": "shop"}}));
    let mut history = History::new(600);
    let seen = snapshot(&cluster(vec![bare]), &mut history, NOW);
    let lonely = target(&seen, "lonely");
    assert_eq!(lonely.owner, None);
    assert!(lonely.statuses.is_empty());
}

#[test]
fn a_peek_reads_the_samples_without_appending() {
    let mut history = History::new(600);
    snapshot(
        &cluster(vec![web_pod("web-1", crash_looping(5))]),
        &mut history,
        NOW,
    );
    let peeked = peek(
        &cluster(vec![web_pod("web-1", crash_looping(9))]),
        &mut history,
        NOW + 5,
    );
    let pod = target(&peeked, "web-1");
    assert!(pod.statuses.contains("CrashLoopBackOff"));
    assert_eq!(
        pod.metrics["restarts"].samples().len(),
        1,
        "the cycle's sample only"
    );
    let again = snapshot(
        &cluster(vec![web_pod("web-1", crash_looping(9))]),
        &mut history,
        NOW + 15,
    );
    assert_eq!(
        target(&again, "web-1").metrics["restarts"].samples().len(),
        2
    );
}

#[test]
fn a_workloads_status_gives_every_replica_count_and_its_generations() {
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web", "namespace": "shop", "generation": 7,
            "creationTimestamp": "2027-01-01T00:00:00Z"},
        "spec": {"replicas": 3, "selector": {}, "template": {}},
        "status": {"replicas": 4, "readyReplicas": 2, "availableReplicas": 2,
            "updatedReplicas": 1, "observedGeneration": 6}
    }))
    .expect("a deployment");
    let observed = objects::deployment(&deployment, NOW);
    let values: BTreeMap<&str, f64> = observed.values.into_iter().collect();
    for (name, expected) in [
        ("replicas", 3.0),
        ("existing_replicas", 4.0),
        ("ready_replicas", 2.0),
        ("available_replicas", 2.0),
        ("updated_replicas", 1.0),
        ("unavailable_replicas", 1.0),
        ("generation", 7.0),
        ("observed_generation", 6.0),
    ] {
        assert_eq!(values.get(name), Some(&expected), "{name}");
    }
    let daemon_set: DaemonSet = serde_json::from_value(json!({
        "metadata": {"name": "agent", "namespace": "shop"},
        "spec": {"selector": {}, "template": {}},
        "status": {"desiredNumberScheduled": 5, "currentNumberScheduled": 4,
            "numberReady": 3, "numberMisscheduled": 1, "numberAvailable": 3,
            "numberUnavailable": 2, "updatedNumberScheduled": 4}
    }))
    .expect("a daemon set");
    let values: BTreeMap<&str, f64> = objects::daemon_set(&daemon_set, NOW)
        .values
        .into_iter()
        .collect();
    assert_eq!(
        values.get("replicas"),
        Some(&5.0),
        "the nodes it should run on"
    );
    assert_eq!(values.get("existing_replicas"), Some(&4.0));
    assert_eq!(values.get("misscheduled_pods"), Some(&1.0));
    assert_eq!(values.get("unavailable_replicas"), Some(&2.0));
}

/// A watch that is down leaves the statuses it feeds unknown, not absent:
/// a rule on the absence of one decides nothing on the cached objects.
#[test]
fn a_down_pods_watch_makes_the_statuses_it_feeds_unknown() {
    use crate::engine::{evaluate, Context, WaitReason};
    let source = "policy p {\n  select pods where app = \"web\"\n  mode auto\n  when not status is NotReady then notify \"ready\"\n}\n";
    let compiled = crate::check::compile(source, &crate::safety::SafetyConfig::default());
    assert!(!compiled.has_errors(), "{:?}", compiled.diagnostics);
    let decide = |cluster: &Cluster| {
        let seen = snapshot(cluster, &mut History::new(600), NOW);
        let context = Context::new(15, Some("shop"));
        (
            seen.clone(),
            evaluate(&compiled.program, &seen, NOW, &Default::default(), &context),
        )
    };
    let pods = vec![web_pod("web-1", running())];
    let (_, up) = decide(&cluster(pods.clone()));
    assert_eq!(up.decisions.len(), 1, "ready, and seen to be: {up:?}");

    let mut down = cluster(pods);
    down.down = watches::Down([watches::Watch::Pods].into_iter().collect());
    let (seen, evaluation) = decide(&down);
    assert!(target(&seen, "web-1").unobserved.statuses);
    assert!(
        target(&seen, "web").unobserved.statuses,
        "a Deployment has its pods' statuses"
    );
    assert!(
        evaluation.decisions.is_empty(),
        "{:?}",
        evaluation.decisions
    );
    let missing: Vec<&WaitReason> = evaluation.waiting.iter().map(|w| &w.why).collect();
    assert_eq!(
        missing,
        [&WaitReason::Unknown {
            missing: vec!["status NotReady".into()]
        }]
    );
}

/// While the pods' watch is down its cached pods are no longer sampled:
/// their values age out as an unanswered query's do, and a rule such as
/// `restarts > 3 for 10m` is unknown then, not held on a frozen cache.
#[test]
fn a_down_watch_samples_nothing_from_its_stale_cache() {
    let mut history = History::new(3_600);
    let pods = vec![web_pod("web-1", crash_looping(5))];
    let up = cluster(pods.clone());
    snapshot(&up, &mut history, NOW);
    let mut down = cluster(pods);
    down.down = watches::Down([watches::Watch::Pods].into_iter().collect());
    for step in 1..=40 {
        snapshot(&down, &mut history, NOW + step * 15);
    }
    let later = NOW + 41 * 15;
    let seen = snapshot(&down, &mut history, later);
    let pod = target(&seen, "web-1");
    let times: Vec<i64> = pod.metrics["restarts"]
        .samples()
        .iter()
        .map(|s| s.at)
        .collect();
    assert_eq!(times, [NOW], "only the sample from before the outage");
    use crate::engine::{evaluate, Context, WaitReason};
    let source = "policy p {\n  select pods where app = \"web\"\n  when restarts > 3 then notify \"crashing\"\n}\n";
    let compiled = crate::check::compile(source, &crate::safety::SafetyConfig::default());
    let context = Context::new(15, Some("shop"));
    let evaluation = evaluate(
        &compiled.program,
        &seen,
        later,
        &Default::default(),
        &context,
    );
    assert!(
        evaluation.decisions.is_empty(),
        "{:?}",
        evaluation.decisions
    );
    assert!(
        evaluation
            .waiting
            .iter()
            .any(|w| matches!(&w.why, WaitReason::Unknown { missing } if missing.contains(&"restarts".to_string()))),
        "ten minutes on, the frozen sample is stale: {:?}",
        evaluation.waiting
    );
    // The watch is back: the pod is sampled again.
    let seen = snapshot(&up, &mut history, later + 15);
    assert_eq!(value(target(&seen, "web-1"), "restarts"), Some(5.0));
}
