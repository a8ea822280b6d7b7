//! Comparisons with arithmetic or two metrics: the units of each operator,
//! where a number takes its unit from, and the diagnostics of operands that
//! do not combine.

use super::compile;
use super::lowering_tests::{codes, program};
use crate::catalog::Unit;
use crate::ir::{ArithOp, CmpOp, Condition, Expr, Type};
use crate::safety::SafetyConfig;

fn on(kind: &str, condition: &str) -> String {
    let action = if kind == "nodes" {
        "cordon"
    } else {
        "notify \"x\""
    };
    let mode = if kind == "nodes" {
        "  mode approve\n"
    } else {
        ""
    };
    format!("policy a {{\n  select {kind} in shop\n{mode}  cooldown 5m\n  when {condition} then {action}\n}}\n")
        .replace(" in shop", if kind == "nodes" { "" } else { " in shop" })
}

fn relation(kind: &str, condition: &str) -> (Expr, CmpOp, Expr) {
    let program = program(&on(kind, condition));
    match &program.policies[0].rules[0].condition {
        Condition::Relation { left, op, right } => ((**left).clone(), *op, (**right).clone()),
        other => panic!("{condition}: {other:?}"),
    }
}

fn scalar(unit: Unit) -> Type {
    Type::Scalar(unit)
}

#[test]
fn a_unit_divided_by_itself_is_a_ratio() {
    for condition in [
        "memory_percent / cpu_percent > 2",
        "memory_bytes / memory_bytes < 50%",
        "cpu_cores / cpu_cores > 0.5",
        "increase(restarts, 5m) / increase(oom_kills, 5m) > 50%",
        "trend(memory_bytes, 10m) / trend(memory_bytes, 1h) > 2",
    ] {
        let (left, _, right) = relation("deployments", condition);
        assert_eq!(left.ty(), scalar(Unit::Ratio), "{condition}");
        assert_eq!(right.ty(), scalar(Unit::Ratio), "{condition}");
    }
}

#[test]
fn a_sum_or_difference_keeps_its_unit_and_reads_numbers_in_it() {
    let (left, _, right) = relation("pods", "memory_bytes - memory_bytes > 512Mi");
    assert_eq!(left.ty(), scalar(Unit::Bytes));
    assert_eq!(
        right,
        Expr::Number {
            value: 512.0 * 1024.0 * 1024.0,
            ty: scalar(Unit::Bytes)
        }
    );
    // `1` is read in the unit of the quotient: a ratio.
    let (left, _, right) = relation("nodes", "1 - memory_bytes / memory_bytes > 90%");
    let Expr::Binary { op, left: one, .. } = &left else {
        panic!("{left:?}")
    };
    assert_eq!(*op, ArithOp::Sub);
    assert_eq!(
        **one,
        Expr::Number {
            value: 1.0,
            ty: scalar(Unit::Ratio)
        }
    );
    assert_eq!(
        right,
        Expr::Number {
            value: 0.9,
            ty: scalar(Unit::Ratio)
        }
    );
    // A duration metric minus a duration.
    let (left, _, _) = relation("pods", "age - 5m > 1h");
    assert_eq!(left.ty(), scalar(Unit::Duration));
}

#[test]
fn a_plain_factor_keeps_the_unit() {
    let (left, _, right) = relation("pods", "cpu_percent * 2 > memory_percent");
    assert_eq!(left.ty(), scalar(Unit::Percent));
    assert_eq!(right.ty(), scalar(Unit::Percent));
    let (left, _, _) = relation("pods", "memory_bytes / 1024 > 1Mi");
    assert_eq!(left.ty(), scalar(Unit::Bytes));
    let (left, _, _) = relation("pods", "memory_bytes * 50% > 1Gi");
    assert_eq!(left.ty(), scalar(Unit::Bytes));
}

#[test]
fn two_metrics_compare_when_their_units_agree() {
    let (left, op, right) = relation("deployments", "unavailable_replicas >= replicas");
    assert_eq!(
        (left.ty(), op, right.ty()),
        (scalar(Unit::Count), CmpOp::Ge, scalar(Unit::Count))
    );
    let (left, op, _) = relation("pods", "ready != ready");
    assert_eq!((left.ty(), op), (scalar(Unit::Bool), CmpOp::Ne));
    // A number on the left, a metric on the right.
    let (left, _, right) = relation("pods", "85 < memory_percent");
    assert_eq!(
        (left.ty(), right.ty()),
        (scalar(Unit::Percent), scalar(Unit::Percent))
    );
}

#[test]
fn operands_of_units_that_do_not_combine_are_an_error() {
    for condition in [
        "restarts > age",
        "memory_bytes + cpu_cores > 1",
        "memory_bytes - age > 1Gi",
        "memory_bytes * memory_bytes > 1",
        "memory_bytes / cpu_cores > 1",
        "memory_percent > memory_bytes / memory_bytes",
        "ready + ready == ready",
    ] {
        assert_eq!(codes(&on("pods", condition)), ["E0209"], "{condition}");
    }
}

#[test]
fn the_incompatible_units_diagnostic_points_at_the_offending_operand() {
    let source = on("pods", "restarts > age");
    let compiled = compile(&source, &SafetyConfig::default());
    let d = &compiled.diagnostics[0];
    assert_eq!(&source[d.span.start..d.span.end], "age");
    assert_eq!(d.message, "cannot compare a count with a duration");
    assert_eq!(d.label.as_deref(), Some("`age` is a duration"));
    assert!(d.help.is_some());
    let source = on("pods", "memory_bytes / cpu_cores > 1");
    let compiled = compile(&source, &SafetyConfig::default());
    let d = &compiled.diagnostics[0];
    assert_eq!(&source[d.span.start..d.span.end], "cpu_cores");
    assert_eq!(d.message, "cannot divide a byte quantity by a CPU quantity");
}

#[test]
fn other_mistakes_in_arithmetic() {
    let cases = [
        ("3 > 2", "E0210"),
        ("1 + 1 > 2", "E0210"),
        ("memory_bytes * 2Gi > 1Gi", "E0201"),
        ("memory_bytes - 5m > 1Gi", "E0201"),
        ("ready > ready", "E0204"),
        ("avg(memory_bytes / memory_bytes, 5m) > 1", "E0205"),
        ("memory_percent / memroy_percent > 1", "E0101"),
        ("memory_bytes - memory_bytes > true", "E0201"),
    ];
    for (condition, code) in cases {
        assert_eq!(codes(&on("pods", condition)), [code], "{condition}");
    }
}

#[test]
fn arithmetic_round_trips_through_rendering_with_its_brackets() {
    for condition in [
        "memory_bytes - memory_bytes > 1Gi",
        "(memory_bytes - memory_bytes) / memory_bytes > 0.5",
        "memory_bytes / (memory_bytes - memory_bytes) > 0.5",
        "memory_bytes - (memory_bytes - memory_bytes) > 1Gi",
        "1 - memory_bytes / memory_bytes > 0.9",
        "unavailable_replicas != replicas",
    ] {
        let program = program(&on("deployments", condition));
        let rendered = program.render_condition(&program.policies[0].rules[0].condition);
        assert_eq!(rendered, condition);
    }
}

// Per pod, as a pods policy joins it: a namespace's quota has no `pod`
// label (E0505), so the unbounded ratio here is usage over request.
const OVER_REQUEST: &str = "metric cpu_of_request: unbounded ratio = promql \"sum by (pod) (rate(container_cpu_usage_seconds_total{namespace=\\\"$namespace\\\"}[5m])) / sum by (pod) (kube_pod_container_resource_requests{resource=\\\"cpu\\\", namespace=\\\"$namespace\\\"})\"\n";
const ERRORS: &str = "metric error_rate: ratio = promql \"sum by (pod) (rate(http_requests_total{code=~\\\"5..\\\", namespace=\\\"$namespace\\\"}[5m]))\"\n";

/// W0114 (a ratio threshold above 1) where it helps, and where it would not.
#[test]
fn a_ratio_above_one_is_flagged_only_where_the_ratio_cannot_pass_one() {
    let rule = |decl: &str, condition: &str| format!("{decl}{}", on("pods", condition));
    // A bounded ratio: `5` is most likely a percent, and `5%` is the fix.
    let source = rule(ERRORS, "error_rate > 5");
    let compiled = compile(&source, &SafetyConfig::default());
    let d = &compiled.diagnostics[0];
    assert_eq!(d.code.as_str(), "W0114");
    assert_eq!(
        d.suggestion.as_ref().map(|s| s.replacement.as_str()),
        Some("5%")
    );
    // A fraction above 1 may be meant: no fix that changes the meaning, and
    // the help says how to keep it.
    let source = rule(ERRORS, "error_rate > 1.5");
    let compiled = compile(&source, &SafetyConfig::default());
    let d = &compiled.diagnostics[0];
    assert_eq!(d.code.as_str(), "W0114");
    assert_eq!(d.suggestion, None);
    let help = d.help.as_deref().unwrap_or_default();
    assert!(help.contains("`150%` to keep the meaning"), "{help}");
    assert!(help.contains("unbounded ratio"), "{help}");
    // A ratio declared unbounded: thresholds above 1 are what it is for.
    assert_eq!(
        codes(&rule(OVER_REQUEST, "cpu_of_request > 1.05")),
        Vec::<&str>::new()
    );
    assert_eq!(
        codes(&rule(OVER_REQUEST, "cpu_of_request >= 1")),
        Vec::<&str>::new()
    );
    // A namespace-level quota read by a pods policy never matches a pod.
    let quota = "metric quota_used: unbounded ratio = promql \"max by (namespace) (kube_resourcequota{type=\\\"used\\\"}) / max by (namespace) (kube_resourcequota{type=\\\"hard\\\"} > 0)\"\n";
    assert_eq!(codes(&rule(quota, "quota_used > 1.05")), ["E0505"]);
    // A quotient can pass 1 (an overcommit): no W0114 on arithmetic.
    assert_eq!(
        codes(&on("pods", "cpu_cores / cpu_cores > 1.5")),
        Vec::<&str>::new()
    );
    // `unbounded` is for ratios only.
    let bad = "metric queue: unbounded count = promql \"sum by (pod) (queue_depth{namespace=\\\"$namespace\\\"})\"\n";
    assert_eq!(codes(&rule(bad, "queue > 5")), ["E0109"]);
}

#[test]
fn a_subtraction_without_spaces_is_one_name_and_the_help_says_so() {
    let source = on("deployments", "replicas-available_replicas > 0");
    let compiled = compile(&source, &SafetyConfig::default());
    let d = &compiled.diagnostics[0];
    assert_eq!(d.code.as_str(), "E0101");
    assert_eq!(
        d.help.as_deref(),
        Some("a name may contain `-`; to subtract, put spaces around it: `replicas - available_replicas`")
    );
}

/// The IR of arithmetic, of two metrics compared, of `changes` and of
/// `predict` with its own look-ahead, as the engine and the operator read it.
#[test]
fn the_ir_of_arithmetic_changes_and_predict() {
    let program = program(
        "policy a {\n  select deployments in shop\n  cooldown 5m\n  \
         when replicas > available_replicas and changes(updated_replicas, 10m) == 0 for 15m then notify \"x\"\n  \
         when 1 - available_replicas / replicas > 50% then notify \"y\"\n  \
         when predict(memory_bytes, 6h, 4d) > 2Gi then notify \"z\"\n}\n",
    );
    let conditions: Vec<&Condition> = program.policies[0]
        .rules
        .iter()
        .map(|r| &r.condition)
        .collect();
    insta::assert_yaml_snapshot!("relation_ir", conditions);
}
