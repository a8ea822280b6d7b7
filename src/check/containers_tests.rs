//! `select containers`: a pod's regular containers, selected by their pod's
//! labels and their own name, read per container, and only told about.

use super::compile;
use super::lowering_tests::{codes, program};
use crate::catalog::{Kind, CONTAINER_PROMQL};
use crate::ir::{LabelOp, Namespaces};
use crate::safety::SafetyConfig;

fn containers(condition: &str, action: &str) -> String {
    format!("policy c {{\n  select containers in shop where app = \"api\", container != \"istio-proxy\"\n  cooldown 1h\n  when {condition} for 15m then {action}\n}}\n")
}

#[test]
fn containers_are_namespaced_and_selected_by_pod_labels_and_their_name() {
    let compiled = program(&containers("restarts > 3", "notify \"x\""));
    let selector = &compiled.policies[0].selector;
    assert_eq!(selector.kind, Kind::Containers);
    assert_eq!(selector.namespaces, Namespaces::Named(vec!["shop".into()]));
    assert_eq!(selector.labels[1].key, "container");
    assert_eq!(
        selector.labels[1].op,
        LabelOp::NotEquals("istio-proxy".into())
    );
    // Without `in`, the HealingPolicy's own namespace, as for pods.
    let own = program("policy c {\n  select containers\n  cooldown 1h\n  when ready == false for 5m then notify \"x\"\n}\n");
    assert_eq!(own.policies[0].selector.namespaces, Namespaces::Own);
}

#[test]
fn notify_is_the_only_action_on_a_container() {
    for action in [
        "ask ai",
        "restart",
        "restart rolling",
        "delete",
        "scale up 1 max 5",
        "set memory_limit = 1Gi",
        "cordon",
    ] {
        let found = codes(&containers("restarts > 3", action));
        assert!(found.contains(&"E0304"), "{action}: {found:?}");
    }
    let compiled = compile(
        &containers("restarts > 3", "restart"),
        &SafetyConfig::default(),
    );
    let help = compiled.diagnostics[0].help.clone().unwrap_or_default();
    assert!(help.contains("select pods"), "{help}");
}

#[test]
fn a_containers_metrics_and_states_are_its_own() {
    for condition in [
        "restarts > 3",
        "increase(restarts, 10m) > 2",
        "oom_kills > 0",
        "ready == false",
        "age > 1h",
        "cpu_percent > 90%",
        "memory_bytes > 1Gi",
        "status is CrashLoopBackOff",
        "status was CrashLoopBackOff within 5m",
        "status is ContainerWaiting and not status is CrashLoopBackOff",
        "status is OOMKilled or status is Error or status is ImagePullBackOff or status is ErrImagePull or status is ContainerCreating",
    ] {
        assert_eq!(
            codes(&containers(condition, "notify \"x\"")),
            Vec::<&str>::new(),
            "{condition}"
        );
    }
    // What a pod's phase or conditions say is the pod's, not a container's.
    for (condition, code) in [
        ("status is Pending", "E0207"),
        ("status is NotReady", "E0207"),
        ("status is Evicted", "E0207"),
        ("status is Unschedulable", "E0207"),
        ("job_owned == true", "E0206"),
        ("unavailable_replicas > 0", "E0206"),
    ] {
        let found = codes(&containers(condition, "notify \"x\""));
        assert!(found.contains(&code), "{condition}: {found:?}");
    }
}

#[test]
fn events_are_the_pods_and_not_a_containers() {
    let compiled = compile(
        &containers("event BackOff count > 3 within 10m", "notify \"x\""),
        &SafetyConfig::default(),
    );
    let codes: Vec<&str> = compiled
        .diagnostics
        .iter()
        .map(|d| d.code.as_str())
        .collect();
    assert_eq!(codes, ["E0207"]);
    let help = compiled.diagnostics[0].help.clone().unwrap_or_default();
    assert!(help.contains("select pods"), "{help}");
}

#[test]
fn a_containers_usage_is_read_by_pod_and_container() {
    let program = program(&containers(
        "cpu_percent > 90% and memory_percent > 90%",
        "notify \"x\"",
    ));
    for name in ["cpu_percent", "memory_percent"] {
        let entry = program
            .metrics
            .iter()
            .find(|m| m.name == name && m.kind == Some(Kind::Containers))
            .expect("the containers' entry");
        let query = entry.promql.as_deref().expect("Prometheus serves it");
        assert!(query.contains("by (pod, container)"), "{query}");
        assert!(CONTAINER_PROMQL
            .iter()
            .any(|(n, q)| *n == name && *q == query));
        assert_eq!(entry.aggregation, None);
    }
}

#[test]
fn the_ranges_of_a_containers_metrics_are_a_pods() {
    for condition in ["memory_percent > 500", "restarts >= 0", "cpu_percent < -5"] {
        let found = codes(&containers(condition, "notify \"x\""));
        assert_eq!(found, ["W0116"], "{condition}");
    }
}

#[test]
fn a_declared_metric_on_containers_needs_pod_and_container_in_its_grouping() {
    let declared = |grouping: &str| {
        format!("metric throttled: counter count = promql \"sum by ({grouping}) (container_cpu_cfs_throttled_periods_total{{namespace=\\\"$namespace\\\"}})\"\n{}",
            containers("increase(throttled, 5m) > 100", "notify \"x\""))
    };
    assert_eq!(codes(&declared("pod, container")), Vec::<&str>::new());
    assert_eq!(
        codes(&declared("namespace, pod, container")),
        Vec::<&str>::new()
    );
    assert_eq!(codes(&declared("pod")), ["E0505"]);
    assert_eq!(codes(&declared("container")), ["E0505"]);
    // `$pod` names the pods of the containers; `$node` no node of theirs.
    let placeholders = "metric m: count = promql \"sum by (pod, container) (x{pod=~\\\"$pod\\\", namespace=\\\"$namespace\\\"})\"\n";
    assert_eq!(
        codes(&format!(
            "{placeholders}{}",
            containers("m > 1", "notify \"x\"")
        )),
        Vec::<&str>::new()
    );
    let on_node = "metric m: count = promql \"sum by (pod, container) (x{node=~\\\"$node\\\"})\"\n";
    assert_eq!(
        codes(&format!("{on_node}{}", containers("m > 1", "notify \"x\""))),
        ["E0504"]
    );
}

/// The diagnostics of `source` as `kubeskippy check` prints them.
fn rendered(source: &str) -> String {
    let compiled = compile(source, &SafetyConfig::default());
    crate::diagnostic::render(&compiled.diagnostics, "containers.skippy", source, false)
}

#[test]
fn what_a_user_reads_of_a_remedy_or_an_event_on_containers() {
    insta::assert_snapshot!(
        "restart_on_containers",
        rendered(&containers("status is CrashLoopBackOff", "restart"))
    );
    insta::assert_snapshot!(
        "event_on_containers",
        rendered(&containers(
            "event BackOff count > 3 within 10m",
            "notify \"x\""
        ))
    );
}
