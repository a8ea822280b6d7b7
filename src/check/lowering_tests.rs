//! What the checker puts in the IR for the engine: metrics per kind with their
//! query and aggregation, typed status reasons, thresholds of duration and
//! ratio metrics, and a program that survives JSON.

use super::compile;
use crate::catalog::{self, Aggregation, Kind};
use crate::ir::{self, Condition, MetricId, PatchId, Program, Threshold};
use crate::safety::SafetyConfig;

/// The program of a source that must compile without errors.
pub(super) fn program(source: &str) -> Program {
    let compiled = compile(source, &SafetyConfig::default());
    assert!(!compiled.has_errors(), "{:?}", compiled.diagnostics);
    compiled.program
}

/// The codes of a source's diagnostics, in order.
pub(super) fn codes(source: &str) -> Vec<&'static str> {
    compile(source, &SafetyConfig::default())
        .diagnostics
        .iter()
        .map(|d| d.code.as_str())
        .collect()
}

const ERROR_RATE: &str = "metric error_rate: ratio = promql \"sum by (pod) (rate(http_requests_total{code=~\\\"5..\\\", namespace=\\\"$namespace\\\"}[5m]))\"\n";
const LATENCY: &str = "metric p99_latency: duration = promql \"histogram_quantile(0.99, sum by (pod, le) (rate(http_request_duration_seconds_bucket{namespace=\\\"$namespace\\\"}[5m])))\"\n";

#[test]
fn a_builtin_metric_has_the_query_of_the_kind_it_is_read_for() {
    let source = "policy pods {\n  select pods in shop\n  cooldown 10m\n  when memory_percent > 90 then restart\n}\npolicy nodes {\n  select nodes\n  mode approve\n  cooldown 1h\n  when memory_percent > 90 for 5m then cordon\n}\npolicy deployments {\n  select deployments in shop\n  cooldown 10m\n  when memory_percent > 90 and unavailable_replicas > 0 then restart rolling\n}\n";
    let program = program(source);
    let entry = |kind: Kind, name: &str| {
        program
            .metrics
            .iter()
            .find(|m| m.kind == Some(kind) && m.name == name)
            .unwrap_or_else(|| panic!("{name} for {kind}: {:?}", program.metrics))
    };
    let pod = entry(Kind::Pods, "memory_percent");
    let node = entry(Kind::Nodes, "memory_percent");
    let deployment = entry(Kind::Deployments, "memory_percent");
    let pod_query = pod.promql.as_deref().expect("Prometheus serves it");
    let node_query = node.promql.as_deref().expect("Prometheus serves it");
    assert!(pod_query.contains("by (pod)") && pod_query.contains("$namespace"));
    assert!(node_query.contains("by (node)") && node_query.contains("$node"));
    assert!(!node_query.contains("$namespace"), "{node_query}");
    // A workload reads its pods' series and aggregates them.
    assert_eq!(deployment.promql, pod.promql);
    assert_eq!(deployment.aggregation, Some(Aggregation::Average));
    assert_eq!((pod.aggregation, node.aggregation), (None, None));
    // A workload's own status is not aggregated.
    assert_eq!(
        entry(Kind::Deployments, "unavailable_replicas").aggregation,
        None
    );
    // Each policy's comparison reads the entry of its own kind.
    for (policy, kind) in program.policies.iter().zip([Kind::Pods, Kind::Nodes]) {
        let mut ids = Vec::new();
        policy.rules[0].condition.metrics(&mut ids);
        let metric = program.metric(ids[0]).expect("its own program's id");
        assert_eq!(metric.kind, Some(kind));
    }
}

#[test]
fn a_declared_metric_is_one_entry_aggregated_by_its_unit() {
    let source = format!("{ERROR_RATE}policy a {{\n  select deployments in shop\n  cooldown 10m\n  when error_rate > 5% then restart rolling\n}}\npolicy b {{\n  select pods in shop\n  cooldown 10m\n  when error_rate > 10% then restart\n}}\n");
    let program = program(&source);
    let declared: Vec<&ir::Metric> = program.metrics.iter().filter(|m| !m.builtin).collect();
    assert_eq!(declared.len(), 1);
    assert_eq!(declared[0].kind, None);
    assert_eq!(declared[0].aggregation, Some(Aggregation::Average));
}

#[test]
fn every_builtin_query_parses_as_promql() {
    for info in catalog::METRICS {
        for kind in Kind::ALL {
            let Some(query) = catalog::builtin_promql(info, kind) else {
                continue;
            };
            let filled = query
                .replace("$namespace", "shop")
                .replace("$node", "node-1");
            assert!(
                promql_parser::parser::parse(&filled).is_ok(),
                "{} for {kind}: {query}",
                info.name
            );
        }
    }
}

#[test]
fn status_reasons_are_typed() {
    let source = "policy a {\n  select pods in shop\n  cooldown 10m\n  when status is CrashLoopBackOff for 2m then restart\n}\n";
    let program = program(source);
    let Condition::Status(reason) = &program.policies[0].rules[0].condition else {
        panic!("a status condition");
    };
    assert_eq!(reason.name(), "CrashLoopBackOff");
    assert!(reason.info().kinds.contains(Kind::Pods));
}

#[test]
fn a_program_survives_json_and_refuses_foreign_ids() {
    let source = format!("{ERROR_RATE}patch debug: merge \"{{}}\"\npolicy a {{\n  select deployments in shop\n  cooldown 10m\n  when error_rate > 5% then patch debug\n  when status is CrashLoopBackOff then ask ai\n}}\n");
    let program = program(&source);
    assert_eq!(program.version, ir::VERSION);
    let json = serde_json::to_string(&program).expect("serializes");
    let back: Program = serde_json::from_str(&json).expect("deserializes");
    assert_eq!(back, program);
    // Ids of another program: no panic, no metric, a `?` where a name was.
    assert!(program.metric(MetricId(99)).is_none());
    assert!(program.patch(PatchId(99)).is_none());
    assert_eq!(
        program.render_action(&ir::Action::Patch(PatchId(99))),
        "patch ?"
    );
    // A status reason the catalog does not know is refused.
    let damaged = json.replace("CrashLoopBackOff", "Exploded");
    assert!(serde_json::from_str::<Program>(&damaged).is_err());
}

#[test]
fn a_duration_metric_compares_with_fractions_of_a_second() {
    for (literal, seconds) in [("0.5s", 0.5), ("500ms", 0.5), ("2s", 2.0), ("1m", 60.0)] {
        let source = format!("{LATENCY}policy a {{\n  select pods in shop\n  cooldown 10m\n  when p99_latency > {literal} for 2m then restart\n}}\n");
        let program = program(&source);
        let Condition::Compare { threshold, .. } = &program.policies[0].rules[0].condition else {
            panic!("a comparison");
        };
        assert_eq!(*threshold, Threshold::Number(seconds), "{literal}");
        let rendered = program.render_condition(&program.policies[0].rules[0].condition);
        assert!(!rendered.ends_with(" 0s"), "{rendered}");
    }
    // Timers stay whole seconds.
    let timer = format!("{LATENCY}policy a {{\n  select pods in shop\n  cooldown 10m\n  when p99_latency > 1s for 500ms then restart\n}}\n");
    assert_eq!(codes(&timer), ["E0203"]);
}

#[test]
fn a_bare_number_above_one_against_a_ratio_is_a_warning() {
    let rule = |threshold: &str| {
        codes(&format!("{ERROR_RATE}policy a {{\n  select pods in shop\n  cooldown 10m\n  when error_rate > {threshold} for 2m then restart\n}}\n"))
    };
    assert_eq!(rule("5"), ["W0114"]);
    assert!(rule("1").is_empty());
    assert!(rule("0.05").is_empty());
    assert!(rule("5%").is_empty());
    let compiled = compile(
        &format!("{ERROR_RATE}policy a {{\n  select pods in shop\n  cooldown 10m\n  when error_rate > 5 for 2m then restart\n}}\n"),
        &SafetyConfig::default(),
    );
    let fix = compiled.diagnostics[0].suggestion.as_ref().expect("a fix");
    assert_eq!(fix.replacement, "5%");
}

#[test]
fn an_event_window_of_zero_is_out_of_range() {
    let source = "policy a {\n  select pods in shop\n  cooldown 10m\n  when event BackOff count > 3 within 0s then restart\n}\n";
    assert_eq!(codes(source), ["E0203"]);
}

#[test]
fn status_windows_and_held_clauses_lower_with_their_clause_numbers() {
    // Held clauses are numbered inner first, as the engine decides them.
    let program = program(
        "policy p {\n  select pods\n  mode monitor\n  \
         when status was CrashLoopBackOff within 5m for 15m then notify \"a\"\n  \
         when ((status is Error for 1m) or status is OOMKilled) for 5m and age > 1h for 2m then notify \"b\"\n}\n",
    );
    let rules: Vec<(&Condition, Option<ir::Seconds>)> = program.policies[0]
        .rules
        .iter()
        .map(|r| (&r.condition, r.hold))
        .collect();
    insta::assert_yaml_snapshot!("status_windows_ir", rules);
    let reasons: Vec<&str> = program.status_windows().into_iter().collect();
    assert_eq!(reasons, ["CrashLoopBackOff"]);
    assert_eq!(
        program.longest_window(),
        300,
        "a status window keeps its history"
    );
}
