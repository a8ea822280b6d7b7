//! The range lint (W0116): comparisons the catalog's ranges decide, and the
//! ones at the edges of a range that it must leave alone.

use super::lowering_tests::codes;
use super::*;

fn on(kind: &str, condition: &str) -> Vec<&'static str> {
    let action = if kind == "nodes" { "cordon" } else { "restart" };
    codes(&format!(
        "policy a {{\n  select {kind}\n  cooldown 5m\n  when {condition} then {action}\n}}\n"
    ))
}

#[test]
fn a_comparison_that_never_holds_or_always_holds_is_flagged() {
    for condition in [
        "memory_percent > 500",
        "cpu_percent < -5",
        "restarts >= 0",
        "restarts < 0",
        "memory_percent >= 100.5",
        "cpu_percent <= 100",
        "age >= 0s",
        "oom_kills < 0",
        "max(memory_percent, 5m) > 100",
        "increase(restarts, 10m) < 0",
        "restarts > 3 and memory_bytes < 0",
    ] {
        assert_eq!(on("pods", condition), ["W0116"], "{condition}");
    }
}

#[test]
fn a_comparison_inside_the_range_or_at_its_edge_is_not() {
    for condition in [
        "memory_percent > 99.9",
        "memory_percent >= 100",
        "cpu_percent < 100",
        "restarts > 0",
        "restarts <= 0",
        "restarts != 0",
        "age < 1m",
        "trend(memory_percent, 10m) > 200%/min",
        "predict(memory_percent, 10m) > 150%",
    ] {
        assert_eq!(on("pods", condition), [] as [&str; 0], "{condition}");
    }
}

#[test]
fn a_node_may_use_more_than_its_allocatable_resources() {
    assert_eq!(on("nodes", "memory_percent > 120 for 5m"), [] as [&str; 0]);
    assert_eq!(on("nodes", "cpu_percent < -1"), ["W0116"]);
}

#[test]
fn a_declared_metric_has_no_range_to_check() {
    let source = "metric queue: count = promql \"sum by (pod) (queue_depth{namespace=\\\"$namespace\\\"})\"\npolicy a {\n  select pods\n  cooldown 5m\n  when queue < 0 then restart\n}\n";
    assert_eq!(codes(source), [] as [&str; 0]);
}

#[test]
fn the_message_names_the_range_and_whether_it_never_or_always_holds() {
    let compile = |condition: &str| {
        let source = format!(
            "policy a {{\n  select pods\n  cooldown 5m\n  when {condition} then restart\n}}\n"
        );
        compile(&source, &SafetyConfig::default()).diagnostics[0].clone()
    };
    let never = compile("memory_percent > 500");
    assert_eq!(
        never.message,
        "`memory_percent > 500` can never hold: `memory_percent` is between `0%` and `100%`"
    );
    assert_eq!(never.span, Span::new(46, 66));
    let always = compile("restarts >= 0");
    assert_eq!(
        always.message,
        "`restarts >= 0` always holds: `restarts` is never below `0`"
    );
}
