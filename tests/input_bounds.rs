//! Inputs whose cost is out of proportion to their size (issue 13, item 5):
//! YAML aliases that repeat a long series or a long test, nesting that the
//! YAML scanner pays for per level, and line ends the grammar knows but a
//! line index did not. Each is refused, or placed, by a count; none is timed.

use kubeskippy::check::compile;
use kubeskippy::safety::SafetyConfig;
use kubeskippy::sim::{scenario, unit_test, yaml_depth};
use kubeskippy::span::LineIndex;

/// A million points, the most one series may hold, in ten tokens.
fn million() -> String {
    ["1x99999"; 10].join(" ")
}

#[test]
fn an_aliased_long_series_is_charged_at_each_use() {
    // 5 KB of YAML; 100 targets would have been 100 million points (3.2 GB).
    let target = |i: usize| {
        let series = if i == 0 {
            format!("&s '{}'", million())
        } else {
            "*s".to_string()
        };
        format!("      - {{target: pods/shop/p{i}, series: {{memory_percent: {series}}}}}\n")
    };
    let file = |targets: usize| {
        let targets: String = (0..targets).map(target).collect();
        format!("tests:\n  - name: aliased\n    targets:\n{targets}    expect:\n      - {{at: 0s, decisions: []}}\n")
    };
    let err = unit_test::parse(&file(100)).expect_err("past the file's budget");
    assert!(
        err.message.contains("counting each use of a YAML alias"),
        "{err}"
    );
    // At the use past the budget: the fifth.
    assert!(
        err.message
            .starts_with("tests[0].targets[4]: series `memory_percent`"),
        "{err}"
    );
    assert_eq!(err.location, Some((8, 9)), "{err}");
    let parsed = unit_test::parse(&file(3)).expect("three million points fit");
    assert_eq!(parsed.tests[0].targets.len(), 3);
}

#[test]
fn a_scenarios_scripted_objects_are_charged_as_a_test_files_targets() {
    let object = |i: usize| {
        let series = if i == 0 {
            format!("&s '{}'", million())
        } else {
            "*s".to_string()
        };
        format!("  - {{target: jobs/shop/j{i}, series: {{active_pods: {series}}}}}\n")
    };
    let objects: String = (0..100).map(object).collect();
    let err = kubeskippy::sim::scenario::parse(&format!("name: t\nobjects:\n{objects}"))
        .expect_err("past the budget");
    assert!(
        err.message.contains("counting each use of a YAML alias"),
        "{err}"
    );
}

#[test]
fn an_aliased_long_test_counts_toward_the_files_evaluations() {
    // Each case runs a million evaluations, the most one may; 30 of them
    // through one alias are 30 million.
    let uses = ["  - *long"; 29].join("\n");
    let text = format!(
        "interval: 1s\ntests:\n  - &long\n    name: long\n    targets: [{{target: pods/shop/p}}]\n    expect: [{{at: 1000000s, decisions: []}}]\n{uses}\n"
    );
    let err = unit_test::parse(&text).expect_err("past the file's evaluations");
    assert!(err.message.contains("target-evaluations"), "{err}");
    assert!(err.message.starts_with("test `long`"), "{err}");
    let one = "interval: 1s\ntests:\n  - name: long\n    targets: [{target: pods/shop/p}]\n    expect: [{at: 1000000s, decisions: []}]\n";
    assert!(unit_test::parse(one).is_ok());
}

#[test]
fn deep_yaml_is_refused_where_it_passes_the_bound_before_the_parser_reads_it() {
    let deep = "[".repeat(100_000);
    let test_file = format!("interval: 15s\ntests: {deep}\n");
    let err = unit_test::parse(&test_file).expect_err("too deep");
    assert!(err.message.contains("nests more than 100 levels"), "{err}");
    assert_eq!(err.location, Some((2, 7 + yaml_depth::MAX_DEPTH)));

    let dashes = format!("name: t\nworkloads:\n  {}x\n", "- ".repeat(100_000));
    let err = scenario::parse(&dashes).expect_err("too deep");
    assert!(err.message.contains("nests more than 100 levels"), "{err}");
    assert_eq!(err.location.map(|(line, _)| line), Some(3));
}

#[test]
fn a_lone_cr_ends_a_line_in_json_positions() {
    let source = "policy p {\r  select pods\r  when restarts > 3 then reboot\r}\r";
    let compiled = compile(source, &SafetyConfig::default());
    let lines = LineIndex::new(source);
    let positions: Vec<(usize, usize, &str)> = compiled
        .diagnostics
        .iter()
        .map(|d| {
            let json = d.to_json("cr.skippy", source, &lines);
            (json.line, json.column, json.code)
        })
        .collect();
    assert_eq!(positions, [(3, 26, "E0103")]);
}
