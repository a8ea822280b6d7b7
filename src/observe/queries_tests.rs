use super::queries::*;
use super::{snapshot, Cluster, History};
use crate::catalog::Kind;
use crate::engine::observation::TargetId;
use crate::engine::series::Sample;
use crate::ir::Program;
use crate::safety::SafetyConfig;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

const NOW: i64 = 1_800_000_000;

fn program(source: &str) -> Program {
    let compiled = crate::check::compile(source, &SafetyConfig::default());
    assert!(
        compiled.diagnostics.iter().all(|d| !d.is_error()),
        "{:?}",
        compiled.diagnostics
    );
    compiled.program
}

fn object<K: serde::de::DeserializeOwned>(value: serde_json::Value) -> Arc<K> {
    Arc::new(serde_json::from_value(value).expect("an object"))
}

/// Pods `names` in `namespace`, owned by ReplicaSet `web-1` of Deployment
/// `web` there.
fn pods(cluster: &mut Cluster, namespace: &str, names: &[&str]) {
    for name in names {
        cluster.pods.push(object(json!({
            "metadata": {"name": name, "namespace": namespace, "labels": {"app": "web"},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1",
                                      "uid": "1", "controller": true}]},
            "spec": {"containers": [{"name": "app"}]}
        })));
    }
    cluster.replica_sets.push(object(json!({
        "metadata": {"name": "web-1", "namespace": namespace,
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                                  "uid": "2", "controller": true}]}
    })));
    cluster.deployments.push(object(json!({
        "metadata": {"name": "web", "namespace": namespace, "labels": {"app": "web"}},
        "spec": {"selector": {}, "template": {}}
    })));
}

fn cluster() -> Cluster {
    let mut cluster = Cluster::default();
    pods(&mut cluster, "shop", &["web-a", "web-b", "web-c"]);
    pods(&mut cluster, "blog", &["web-d"]);
    pods(&mut cluster, "kube-system", &["dns-a"]);
    cluster
        .nodes
        .push(object(json!({"metadata": {"name": "node-1.example"}})));
    cluster
}

fn queries(source: &str, own: Option<&str>) -> Vec<Query> {
    let program = program(source);
    let wanted = wanted(&[Evaluated {
        program: &program,
        namespace: own,
    }]);
    plan(&wanted, &cluster())
}

#[test]
fn one_query_per_metric_per_namespace_never_one_per_pod() {
    let queries = queries(
        "policy p {\n  select pods in any\n  when memory_percent > 90 then restart\n  \
         when avg(memory_percent, 10m) > 80 then restart\n  when cpu_percent > 95 then notify \"hot\"\n}\n",
        None,
    );
    let mut seen: Vec<(&str, Option<&str>)> = queries
        .iter()
        .map(|q| (q.metric.as_str(), q.namespace.as_deref()))
        .collect();
    seen.sort();
    // Five pods in two namespaces (kube-system is protected): two queries
    // per metric.
    assert_eq!(
        seen,
        [
            ("cpu_percent", Some("blog")),
            ("cpu_percent", Some("shop")),
            ("memory_percent", Some("blog")),
            ("memory_percent", Some("shop")),
        ]
    );
    let memory = queries
        .iter()
        .find(|q| q.metric == "memory_percent" && q.namespace.as_deref() == Some("shop"))
        .expect("memory in shop");
    assert!(
        memory.promql.contains("namespace=\"shop\""),
        "{}",
        memory.promql
    );
    assert!(!memory.promql.contains('$'), "{}", memory.promql);
    // The longest window any rule reads over the metric.
    assert_eq!(memory.lookback, 600);
    let cpu = queries
        .iter()
        .find(|q| q.metric == "cpu_percent")
        .expect("cpu");
    assert_eq!(cpu.lookback, 0);
}

#[test]
fn status_metrics_are_not_asked_of_prometheus() {
    let queries = queries(
        "policy p {\n  select pods\n  when increase(restarts, 10m) > 3 then restart\n}\n",
        Some("shop"),
    );
    assert_eq!(queries, []);
}

#[test]
fn a_tenant_policy_asks_for_its_own_namespace_only() {
    let queries = queries(
        "policy p {\n  select deployments\n  when memory_percent > 90 for 3m then restart rolling\n}\n",
        Some("blog"),
    );
    assert_eq!(queries.len(), 1);
    assert_eq!(queries[0].namespace.as_deref(), Some("blog"));
}

#[test]
fn node_queries_run_once_for_the_cluster_with_the_nodes_named() {
    let queries = queries(
        "policy p {\n  select nodes\n  when memory_percent > 95 for 5m then notify \"full\"\n}\n",
        None,
    );
    assert_eq!(queries.len(), 1);
    assert_eq!(queries[0].namespace, None);
    assert!(
        queries[0].promql.contains("node=~\"node-1[.]example\""),
        "{}",
        queries[0].promql
    );
}

/// KubeNodeEviction's counter: the kubelet's series of each signal, by the
/// node its own `kubelet_node_name` names, backfilled over the window the
/// rule reads.
#[test]
fn kubelet_evictions_are_joined_on_the_kubelet_node_name() {
    let queries = queries(
        "policy p {\n  select nodes\n  \
         when increase(evictions, 15m) > 0 then notify \"evicting\"\n}\n",
        None,
    );
    let [query] = queries.as_slice() else {
        panic!("one query: {queries:?}");
    };
    assert_eq!(query.metric, "evictions");
    assert_eq!(
        query.promql,
        "sum by (node, eviction_signal, instance, job) (kubelet_evictions \
         * on (instance) group_left (node) \
         max by (instance, node) (kubelet_node_name{node=~\"node-1[.]example\"}))"
    );
    assert_eq!((query.namespace.as_deref(), query.lookback), (None, 900));
    // A series per signal, combined on the node by their growth.
    assert!(query.counter);
}

#[test]
fn node_exporter_series_are_joined_on_the_node_of_the_exporter_pod() {
    let queries = queries(
        "policy p {\n  select nodes\n  \
         when memory_available_bytes / memory_total_bytes < 10% for 15m then notify \"full\"\n}\n",
        None,
    );
    let promql: Vec<(&str, &str)> = queries
        .iter()
        .map(|q| (q.metric.as_str(), q.promql.as_str()))
        .collect();
    assert_eq!(
        promql,
        [
            (
                "memory_available_bytes",
                "max by (node) (node_memory_MemAvailable_bytes * on (namespace, pod) group_left (node) \
                 topk by (namespace, pod) (1, kube_pod_info{node=~\"node-1[.]example\"}))"
            ),
            (
                "memory_total_bytes",
                "max by (node) (node_memory_MemTotal_bytes * on (namespace, pod) group_left (node) \
                 topk by (namespace, pod) (1, kube_pod_info{node=~\"node-1[.]example\"}))"
            ),
        ]
    );
    assert!(queries
        .iter()
        .all(|q| q.namespace.is_none() && q.lookback == 0));
}

#[test]
fn filesystem_series_are_read_once_for_the_cluster_by_node_and_mount_point() {
    let queries = queries(
        "policy p {\n  select filesystems where fstype != \"tmpfs\"\n  \
         when available_bytes / size_bytes < 15% and predict(available_bytes, 6h, 4h) < 0 \
         and readonly == false for 1h then notify \"filling\"\n}\n",
        None,
    );
    let promql: Vec<(&str, &str, i64)> = queries
        .iter()
        .map(|q| (q.metric.as_str(), q.promql.as_str(), q.lookback))
        .collect();
    let join = "* on (namespace, pod) group_left (node) \
                topk by (namespace, pod) (1, kube_pod_info{node=~\"node-1[.]example\"}))";
    assert_eq!(
        promql,
        [
            (
                "available_bytes",
                format!(
                    "max by (node, mountpoint, fstype, device) (node_filesystem_avail_bytes {join}"
                )
                .as_str(),
                6 * 3_600
            ),
            (
                "readonly",
                format!(
                    "max by (node, mountpoint, fstype, device) (node_filesystem_readonly {join}"
                )
                .as_str(),
                0
            ),
            (
                "size_bytes",
                format!(
                    "max by (node, mountpoint, fstype, device) (node_filesystem_size_bytes {join}"
                )
                .as_str(),
                0
            ),
        ]
    );
    assert!(queries.iter().all(|q| q.namespace.is_none()));
}

#[test]
fn declared_metrics_fill_every_placeholder() {
    let queries = queries(
        "metric errors: ratio = promql \"sum by (pod) (rate(errs{namespace=\\\"$namespace\\\", pod=~\\\"$pod\\\"}[5m]))\"\n\
         policy p {\n  select pods in shop\n  when errors > 5% then restart\n}\n",
        None,
    );
    assert_eq!(queries.len(), 1);
    assert_eq!(
        queries[0].promql,
        "sum by (pod) (rate(errs{namespace=\"shop\", pod=~\"web-a|web-b|web-c\"}[5m]))"
    );
}

#[test]
fn a_workload_placeholder_makes_one_query_per_workload() {
    let queries = queries(
        "metric lag: count = promql \"max by (pod) (lag{namespace=\\\"$namespace\\\", deployment=\\\"$workload\\\"})\"\n\
         policy p {\n  select deployments in shop, blog\n  when lag > 100 then restart rolling\n}\n",
        None,
    );
    let filled: Vec<&str> = queries.iter().map(|q| q.promql.as_str()).collect();
    assert_eq!(
        filled,
        [
            "max by (pod) (lag{namespace=\"blog\", deployment=\"web\"})",
            "max by (pod) (lag{namespace=\"shop\", deployment=\"web\"})",
        ]
    );
}

#[test]
fn answers_land_on_the_target_their_labels_name() {
    let labels = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let pod = target_of(&labels(&[("pod", "web-a")]), Some("shop")).expect("a pod");
    assert_eq!(
        pod,
        TargetId {
            kind: Kind::Pods,
            namespace: Some("shop".into()),
            name: "web-a".into()
        }
    );
    // The series' own namespace label wins over the query's.
    let elsewhere = target_of(
        &labels(&[("pod", "x"), ("namespace", "blog")]),
        Some("shop"),
    );
    assert_eq!(elsewhere.and_then(|t| t.namespace).as_deref(), Some("blog"));
    let claim = target_of(&labels(&[("persistentvolumeclaim", "data")]), Some("shop"));
    assert_eq!(claim.map(|t| t.kind), Some(Kind::PersistentVolumeClaims));
    let node = target_of(&labels(&[("node", "n1")]), None).expect("a node");
    assert_eq!((node.kind, node.namespace), (Kind::Nodes, None));
    // A pod with no namespace anywhere, or no target label at all: dropped.
    assert_eq!(target_of(&labels(&[("pod", "x")]), None), None);
    assert_eq!(target_of(&labels(&[("job", "x")]), Some("shop")), None);
}

fn memory_query(namespace: &str) -> Query {
    Query {
        metric: "memory_percent".into(),
        promql: String::new(),
        namespace: Some(namespace.into()),
        lookback: 600,
        ..Query::default()
    }
}

fn pod_labels(name: &str) -> HashMap<String, String> {
    HashMap::from([("pod".to_string(), name.to_string())])
}

#[test]
fn a_window_filled_in_reaches_the_workload_at_every_step() {
    let cluster = cluster();
    let mut history = History::new(3_600);
    let mut fetched = Fetched::default();
    let query = memory_query("shop");
    for (pod, base) in [("web-a", 10.0), ("web-b", 30.0), ("web-c", 50.0)] {
        let samples = (0..3)
            .map(|k| Sample::new(NOW - 20 + 10 * k, base + k as f64))
            .collect();
        fetched.add(&query, &pod_labels(pod), samples);
    }
    // An answer about a pod the cluster does not have is dropped.
    fetched.add(&query, &pod_labels("gone"), vec![Sample::new(NOW, 99.0)]);
    let known: std::collections::HashSet<TargetId> = snapshot(&cluster, &mut History::new(60), NOW)
        .targets
        .into_iter()
        .map(|t| t.id)
        .collect();
    history.absorb(fetched, |id| known.contains(id));
    let observations = snapshot(&cluster, &mut history, NOW);
    let web = observations
        .targets
        .iter()
        .find(|t| t.id.kind == Kind::Deployments && t.id.namespace.as_deref() == Some("shop"))
        .expect("the shop's deployment");
    let series = web.metrics.get("memory_percent").expect("aggregated");
    let values: Vec<(i64, f64)> = series.samples().iter().map(|s| (s.at, s.value)).collect();
    assert_eq!(
        values,
        [(NOW - 20, 30.0), (NOW - 10, 31.0), (NOW, 32.0)],
        "the average of the three pods at each step"
    );
    assert!(!observations.targets.iter().any(|t| t.id.name == "gone"));
}

#[test]
fn a_failed_query_makes_its_metric_unknown_in_its_namespace_only() {
    let cluster = cluster();
    let mut history = History::new(3_600);
    let mut fetched = Fetched::default();
    fetched.add(
        &memory_query("shop"),
        &pod_labels("web-a"),
        vec![Sample::new(NOW - 10, 70.0)],
    );
    fetched.add(
        &memory_query("blog"),
        &pod_labels("web-d"),
        vec![Sample::new(NOW - 10, 40.0)],
    );
    history.absorb(fetched, |_| true);
    let mut failed = Fetched::default();
    failed.fail(&memory_query("shop"));
    history.absorb(failed, |_| true);
    let observations = snapshot(&cluster, &mut history, NOW);
    let memory_of = |name: &str| {
        observations
            .targets
            .iter()
            .find(|t| t.id.name == name)
            .and_then(|t| t.metrics.get("memory_percent").cloned())
    };
    assert_eq!(memory_of("web-a"), None, "forgotten: unknown, not stale");
    assert!(
        memory_of("web-d").is_some(),
        "another namespace keeps its samples"
    );
}

fn labelled(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn a_series_per_workload_lands_on_the_workload() {
    let deployment = target_of(&labelled(&[("deployment", "web")]), Some("shop"));
    assert_eq!(
        deployment,
        Some(TargetId {
            kind: Kind::Deployments,
            namespace: Some("shop".into()),
            name: "web".into()
        })
    );
    let set = target_of(
        &labelled(&[("statefulset", "db"), ("namespace", "blog")]),
        None,
    )
    .expect("a statefulset");
    assert_eq!(
        (set.kind, set.namespace.as_deref()),
        (Kind::StatefulSets, Some("blog"))
    );
    let daemons = target_of(&labelled(&[("daemonset", "agent")]), Some("shop"));
    assert_eq!(daemons.map(|t| t.kind), Some(Kind::DaemonSets));
    // A pod's series that names its workload too is still the pod's.
    let pod = target_of(
        &labelled(&[("pod", "web-a"), ("deployment", "web")]),
        Some("shop"),
    );
    assert_eq!(pod.map(|t| t.kind), Some(Kind::Pods));
    assert_eq!(target_of(&labelled(&[("deployment", "web")]), None), None);
}

/// A declared count read per deployment (`by (deployment)`) in `shop`, and
/// per pod in `blog`: each workload is read as its answers come.
#[test]
fn a_workload_s_own_series_wins_over_its_pods() {
    let cluster = cluster();
    let mut history = History::new(3_600);
    let query = |namespace: &str| Query {
        metric: "unavailable".into(),
        promql: String::new(),
        namespace: Some(namespace.into()),
        ..Query::default()
    };
    let mut fetched = Fetched::default();
    fetched.aggregations.insert(
        "unavailable".into(),
        (crate::catalog::Aggregation::Sum, false),
    );
    for _ in 0..2 {
        // The same answer twice in a cycle: the first wins, nothing doubles.
        fetched.add(
            &query("shop"),
            &labelled(&[("deployment", "web")]),
            vec![Sample::new(NOW, 2.0)],
        );
    }
    // Pods of `shop` answering too (a query grouped by neither): ignored for
    // the deployment, which has its own.
    for pod in ["web-a", "web-b"] {
        fetched.add(
            &query("shop"),
            &pod_labels(pod),
            vec![Sample::new(NOW, 1.0)],
        );
    }
    fetched.add(
        &query("blog"),
        &pod_labels("web-d"),
        vec![Sample::new(NOW, 3.0)],
    );
    history.absorb(fetched, |_| true);
    let observations = snapshot(&cluster, &mut history, NOW);
    let unavailable = |namespace: &str| {
        let web = observations
            .targets
            .iter()
            .find(|t| {
                t.id.kind == Kind::Deployments && t.id.namespace.as_deref() == Some(namespace)
            })
            .expect("a deployment");
        let series = web.metrics.get("unavailable").expect("a value");
        series.samples().iter().map(|s| s.value).collect::<Vec<_>>()
    };
    assert_eq!(unavailable("shop"), [2.0], "its own, not 2 + 1 + 1");
    assert_eq!(unavailable("blog"), [3.0], "the sum of its one pod");
}

/// A failed list of one namespace's pods forgets their series, not a node's
/// nor another namespace's: a failed query is unknown where it would have
/// answered, and only there.
#[test]
fn a_namespace_s_failure_forgets_only_that_namespace_s_series() {
    let cluster = cluster();
    let mut history = History::new(3_600);
    let mut fetched = Fetched::default();
    let query = |namespace: Option<&str>| Query {
        metric: "memory_percent".into(),
        promql: String::new(),
        namespace: namespace.map(str::to_string),
        ..Query::default()
    };
    for (namespace, labels) in [
        (Some("shop"), pod_labels("web-a")),
        (Some("blog"), pod_labels("web-d")),
        (None, labelled(&[("node", "node-1.example")])),
    ] {
        fetched.add(&query(namespace), &labels, vec![Sample::new(NOW, 50.0)]);
    }
    history.absorb(fetched, |_| true);
    let mut failed = Fetched::default();
    failed.fail(&query(Some("shop")));
    history.absorb(failed, |_| true);
    let observations = snapshot(&cluster, &mut history, NOW);
    let has = |name: &str| {
        observations
            .targets
            .iter()
            .find(|t| t.id.name == name)
            .is_some_and(|t| t.metrics.contains_key("memory_percent"))
    };
    assert!(!has("web-a"), "shop's failed list forgets web-a");
    assert!(has("web-d"), "blog's series stay");
    assert!(has("node-1.example"), "the node's series stay");
}
