//! `explain` for every policy of the standard library: what each will do, in
//! snapshots a reviewer reads when a policy or the compiler changes.

use kubeskippy::check::compile;
use kubeskippy::explain::explain;
use kubeskippy::safety::SafetyConfig;
use std::path::Path;

#[test]
fn every_library_policy_explains() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("policies/ exists")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "skippy"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 7, "the library has its policies: {paths:?}");
    let config = SafetyConfig::default();
    for path in paths {
        let source = std::fs::read_to_string(&path).expect("readable");
        let compiled = compile(&source, &config);
        assert!(
            !compiled.has_errors(),
            "{}: {:?}",
            path.display(),
            compiled.diagnostics
        );
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("utf-8 name");
        insta::assert_snapshot!(
            format!("explain_{name}"),
            explain(&compiled.program, &config)
        );
    }
}

fn explained(source: &str) -> String {
    let config = SafetyConfig::default();
    let compiled = compile(source, &config);
    assert!(!compiled.has_errors(), "{:?}", compiled.diagnostics);
    explain(&compiled.program, &config)
}

fn budget_line(text: &str) -> &str {
    text.lines()
        .find(|l| l.trim_start().starts_with("budget"))
        .expect("a budget line")
        .trim()
}

#[test]
fn a_monitor_policy_has_no_budget() {
    let text = explained(
        "policy watch {\n  select pods in shop\n  mode monitor\n  when restarts > 3 then restart\n}\n",
    );
    assert_eq!(
        budget_line(&text),
        "budget    none (mode monitor never acts)"
    );
}

#[test]
fn one_action_is_singular() {
    let text = explained(
        "policy rare {\n  select pods in shop\n  limit 1 per 1h\n  cooldown 1h\n  when restarts > 3 then restart\n}\n",
    );
    assert_eq!(
        budget_line(&text),
        "budget    at most 1 action per hour, at most 1 per target per hour"
    );
    let text = explained(
        "policy often {\n  select pods in shop\n  limit 2 per 1h\n  cooldown 1h\n  when restarts > 3 then restart\n}\n",
    );
    assert!(
        budget_line(&text).starts_with("budget    at most 2 actions per hour"),
        "{text}"
    );
}

#[test]
fn each_ai_choice_says_its_class_and_what_it_acts_on() {
    let text = explained(
        "policy triage {\n  select pods in shop\n  mode auto\n  limit 5 per 1h\n  cooldown 10m\n  when restarts > 3 then ask ai among [scale up 1 max 4, drain]\n}\n",
    );
    assert!(
        text.contains("safety  needs approval (`drain` always needs approval)"),
        "{text}"
    );
    assert!(
        text.contains("may choose scale up 1 max 4 (auto; acts on the deployment or statefulset that owns the pod)"),
        "{text}"
    );
    assert!(
        text.contains("may choose drain (needs approval (`drain` always needs approval); acts on the node the pod runs on)"),
        "{text}"
    );
}

#[test]
fn node_metrics_show_the_node_query() {
    let text = explained(
        "policy hot-nodes {\n  select nodes\n  mode approve\n  cooldown 1h\n  when cpu_percent > 90 for 10m then cordon\n}\n",
    );
    assert!(text.contains("cpu_percent for nodes"), "{text}");
    assert!(text.contains("by (node)"), "{text}");
    assert!(!text.contains("by (pod)"), "{text}");
}

/// A comparison with arithmetic or two metrics says the PromQL it compiles
/// to: each metric's template, its window as a subquery, `predict`'s own
/// look-ahead in seconds.
#[test]
fn arithmetic_explains_the_promql_it_compiles_to() {
    let text = explained(
        "policy p {\n  select pods in shop\n  cooldown 10m\n  when predict(memory_bytes, 6h, 4d) - memory_bytes > 1Gi then notify \"x\"\n  when changes(restarts, 10m) == 0 and restarts > 3 then notify \"y\"\n}\n",
    );
    let promql: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("promql  "))
        .collect();
    assert_eq!(
        promql,
        [
            "(predict_linear((sum by (pod) (container_memory_working_set_bytes{namespace=\"$namespace\", container!=\"\"}))[6h:], 345600) - (sum by (pod) (container_memory_working_set_bytes{namespace=\"$namespace\", container!=\"\"}))) > 1073741824",
        ],
        "{text}"
    );
    let text = explained(
        "policy p {\n  select deployments in shop\n  cooldown 10m\n  when available_replicas != replicas for 15m then notify \"x\"\n}\n",
    );
    assert!(
        text.contains("promql  none for `available_replicas`, `replicas`: read from the object's own status, or aggregated from its pods' series by KubeSkippy"),
        "{text}"
    );
}

/// Each declared metric says how each kind of policy that reads it reads
/// it: per pod and combined as its unit says, per workload by the
/// workload's own label, or by each series' labels where the query's
/// grouping does not tell.
#[test]
fn each_declared_metric_says_how_it_is_read() {
    let text = explained(
        "metric unavailable: count = promql \"max by (deployment) (kube_deployment_status_replicas_unavailable{namespace=\\\"$namespace\\\"})\"\n\
         metric queue: count = promql \"sum by (pod) (queue_depth{namespace=\\\"$namespace\\\"})\"\n\
         metric errors: ratio = promql \"error_ratio{namespace=\\\"$namespace\\\"}\"\n\
         policy d {\n  select deployments in shop\n  cooldown 1h\n  when unavailable > 1 and queue > 5 and errors > 5% then notify \"x\"\n}\n\
         policy p {\n  select pods in shop\n  cooldown 1h\n  when queue > 5 then notify \"y\"\n}\n",
    );
    let reads: Vec<&str> = text
        .lines()
        .filter(|l| l.trim_start().starts_with("read on"))
        .map(str::trim)
        .collect();
    assert_eq!(
        reads,
        [
            "read on deployments: per deployment (label `deployment`)",
            "read on pods: per pod (label `pod`)",
            "read on deployments: per pod (label `pod`), summed over each deployment's pods",
            "read on deployments: as each series' labels say: per pod (label `pod`), averaged over each deployment's pods; or per deployment (label `deployment`, no `pod`)",
        ],
        "{text}"
    );
}

/// A counter's increase is summed by the labels its series reach a target
/// by, as the operator combines them; where the series' labels decide as
/// they come, no grouping is claimed.
#[test]
fn a_counters_increase_is_summed_by_the_labels_that_name_its_target() {
    let promql_line = |source: &str| -> String {
        let text = explained(source);
        text.lines()
            .find(|l| l.trim_start().starts_with("promql"))
            .expect("a promql line")
            .trim()
            .to_string()
    };
    let per_pod = "metric errors: counter count = promql \"sum by (pod) (http_errors_total{namespace=\\\"$namespace\\\"})\"\n\
                   metric requests: counter count = promql \"sum by (pod) (http_requests_total{namespace=\\\"$namespace\\\"})\"\n";
    assert_eq!(
        promql_line(&format!(
            "{per_pod}policy p {{\n  select pods in shop\n  cooldown 1h\n  \
             when increase(errors, 5m) / increase(requests, 5m) > 5% then notify \"errors\"\n}}\n"
        )),
        "promql  (sum by (namespace, pod) (increase((sum by (pod) (http_errors_total{namespace=\"$namespace\"}))[5m:])) \
         / sum by (namespace, pod) (increase((sum by (pod) (http_requests_total{namespace=\"$namespace\"}))[5m:]))) > 0.05"
    );
    let raw = "metric errors: counter count = promql \"http_errors_total{namespace=\\\"$namespace\\\"}\"\n\
               metric requests: counter count = promql \"http_requests_total{namespace=\\\"$namespace\\\"}\"\n";
    assert_eq!(
        promql_line(&format!(
            "{raw}policy p {{\n  select deployments in shop\n  cooldown 1h\n  \
             when increase(errors, 5m) / increase(requests, 5m) > 5% then notify \"errors\"\n}}\n"
        )),
        "promql  (increase((http_errors_total{namespace=\"$namespace\"})[5m:]) \
         / increase((http_requests_total{namespace=\"$namespace\"})[5m:])) > 0.05"
    );
}
