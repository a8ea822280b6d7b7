//! Kleene's tables, and conditions on targets whose values tell a right
//! reading from a wrong one (each test kills mutants that once survived:
//! docs/testing.md, "Mutation testing").

use super::Truth::{False, True, Unknown};

#[test]
fn kleene_truth_tables() {
    // Written out, not computed: these are the tables of LANGUAGE.md §4.
    let and = [
        (True, True, True),
        (True, False, False),
        (True, Unknown, Unknown),
        (False, True, False),
        (False, False, False),
        (False, Unknown, False),
        (Unknown, True, Unknown),
        (Unknown, False, False),
        (Unknown, Unknown, Unknown),
    ];
    for (a, b, want) in and {
        assert_eq!(a.and(b), want, "{a:?} and {b:?}");
    }
    let or = [
        (True, True, True),
        (True, False, True),
        (True, Unknown, True),
        (False, True, True),
        (False, False, False),
        (False, Unknown, Unknown),
        (Unknown, True, True),
        (Unknown, False, Unknown),
        (Unknown, Unknown, Unknown),
    ];
    for (a, b, want) in or {
        assert_eq!(a.or(b), want, "{a:?} or {b:?}");
    }
    assert_eq!(
        [True.not(), False.not(), Unknown.not()],
        [False, True, Unknown]
    );
}

use super::*;
use crate::catalog::Kind;
use crate::check::compile;
use crate::engine::evidence::render;
use crate::engine::observation::{Event, Observations, TargetId};
use crate::engine::series::Sample;
use crate::engine::state::State;
use crate::engine::{evaluate as evaluate_all, Context, Decision};
use crate::safety::SafetyConfig;
use std::sync::Arc;

fn program(source: &str) -> Program {
    let compiled = compile(source, &SafetyConfig::default());
    assert!(!compiled.has_errors(), "{:?}", compiled.diagnostics);
    compiled.program
}

/// A pod of app `a` whose metrics have read `value` every 15 s up to 600.
fn pod(metrics: &[(&str, f64)]) -> Target {
    let mut target = Target::new(TargetId {
        kind: Kind::Pods,
        namespace: Some("shop".into()),
        name: "a".into(),
    });
    target.labels.insert("app".into(), "a".into());
    for (name, value) in metrics {
        let series = Series::new((0..=40).map(|i| Sample::new(i * 15, *value)));
        target
            .metrics_mut()
            .insert((*name).into(), Arc::new(series));
    }
    target
}

/// The policy's only rule on `target` at `now`, as each path computes it:
/// the engine's first look ([`truth`], with series resolved as the engine
/// resolves them), the full evaluation ([`evaluate`], by name), and the
/// engine itself. All three must agree.
fn truth_of(source: &str, target: &Target, now: i64) -> (Truth, Vec<String>) {
    let program = program(source);
    let rule = &program.policies[0].rules[0];
    let resolved: Vec<(MetricId, Option<&Series>)> = (0..program.metrics.len())
        .map(|i| (MetricId(i), lookup(&program, MetricId(i), target)))
        .collect();
    let fast = truth(&program, &rule.condition, target, &resolved, None, now);
    let full = evaluate(&program, &rule.condition, target, now, true);
    assert_eq!(
        fast, full.truth,
        "the first look and the full evaluation differ"
    );
    let observations = Observations {
        targets: vec![target.clone()],
    };
    let e = evaluate_all(
        &program,
        &observations,
        now,
        &State::default(),
        &Context::new(15, Some("shop")),
    );
    let fired = e
        .decisions
        .iter()
        .any(|d| matches!(d, Decision::Act { .. }));
    assert_eq!(fired, full.truth == Truth::True, "{:?}", e.decisions);
    (full.truth, render(&full.seen))
}

fn rule(condition: &str) -> String {
    format!("policy p {{\n  select pods where app = \"a\"\n  cooldown 5m\n  when {condition} then restart\n}}\n")
}

#[test]
fn each_comparison_reads_its_own_metric() {
    // Two metrics whose values tell them apart: a comparison that read the
    // other one's series would answer the opposite.
    let target = pod(&[("memory_percent", 90.0), ("cpu_percent", 20.0)]);
    let both = rule("memory_percent > 85 and cpu_percent < 50");
    assert_eq!(
        truth_of(&both, &target, 600),
        (
            True,
            vec![
                "memory_percent=90% > 85%".into(),
                "cpu_percent=20% < 50%".into()
            ]
        )
    );
    let windowed = rule("avg(cpu_percent, 1m) < 50 and max(memory_percent, 1m) > 85");
    assert_eq!(truth_of(&windowed, &target, 600).0, True);
    let relation = rule("memory_percent > cpu_percent * 4");
    assert_eq!(
        truth_of(&relation, &target, 600),
        (
            True,
            vec!["memory_percent=90% > cpu_percent * 4=80%".into()]
        )
    );
}

#[test]
fn a_boolean_metric_reads_true_and_false_and_nothing_else() {
    let ready = pod(&[("ready", 1.0)]);
    assert_eq!(
        truth_of(&rule("ready == true"), &ready, 600),
        (True, vec!["ready=true == true".into()])
    );
    let not_ready = pod(&[("ready", 0.0)]);
    assert_eq!(
        truth_of(&rule("ready == false"), &not_ready, 600),
        (True, vec!["ready=false == false".into()])
    );
    assert_eq!(
        truth_of(&rule("ready == true"), &not_ready, 600),
        (False, vec!["ready=false == true".into()])
    );
    // A source that sends 0.5 for a boolean says nothing we can read.
    let garbled = pod(&[("ready", 0.5)]);
    assert_eq!(truth_of(&rule("ready == true"), &garbled, 600).0, Unknown);
    assert_eq!(truth_of(&rule("ready == false"), &garbled, 600).0, Unknown);
}

#[test]
fn an_age_is_shown_as_a_duration() {
    let old = pod(&[("age", 3465.0)]);
    assert_eq!(
        truth_of(&rule("age > 10m"), &old, 600),
        (True, vec!["age=57m45s > 10m".into()])
    );
}

#[test]
fn a_status_that_does_not_hold_is_no_evidence_in_or_and_not() {
    let target = pod(&[("memory_percent", 95.0)]);
    assert_eq!(
        truth_of(
            &rule("status is CrashLoopBackOff or memory_percent > 90"),
            &target,
            600
        ),
        (True, vec!["memory_percent=95% > 90%".into()])
    );
    assert_eq!(
        truth_of(
            &rule("memory_percent > 90 and not status is CrashLoopBackOff"),
            &target,
            600
        ),
        (True, vec!["memory_percent=95% > 90%".into()])
    );
    let mut crashing = target.clone();
    crashing.statuses.insert("CrashLoopBackOff".into());
    assert_eq!(
        truth_of(
            &rule("status is CrashLoopBackOff or memory_percent > 90"),
            &crashing,
            600
        ),
        (
            True,
            vec![
                "status is CrashLoopBackOff".into(),
                "memory_percent=95% > 90%".into()
            ]
        )
    );
}

#[test]
fn an_event_exactly_within_old_is_out_and_one_at_now_is_in() {
    let condition = rule("event BackOff count >= 2 within 1m");
    let mut target = pod(&[]);
    target.events = vec![
        Event {
            reason: "BackOff".into(),
            at: 0,
            count: 1,
        },
        Event {
            reason: "BackOff".into(),
            at: 60,
            count: 1,
        },
    ];
    // At 60 the window is (0, 60]: the event at 0 is out, the one at 60 in.
    assert_eq!(
        truth_of(&condition, &target, 60),
        (False, vec!["event BackOff count=1 >= 2 within 1m".into()])
    );
    // At 59 the event at 60 has not happened yet, and the one at 0 is in.
    assert_eq!(truth_of(&condition, &target, 59).0, False);
    target.events[1].at = 59;
    assert_eq!(truth_of(&condition, &target, 59).0, True);
    assert_eq!(truth_of(&condition, &target, 60).0, False);
}

#[test]
fn events_whose_source_is_down_are_unknown_and_named() {
    let mut target = pod(&[]);
    target.unobserved.events = true;
    target.events = vec![Event {
        reason: "BackOff".into(),
        at: 60,
        count: 5,
    }];
    let condition = rule("event BackOff count >= 1 within 5m");
    assert_eq!(truth_of(&condition, &target, 60).0, Unknown);
    let program = program(&condition);
    let full = evaluate(
        &program,
        &program.policies[0].rules[0].condition,
        &target,
        60,
        false,
    );
    assert_eq!(full.missing, ["event BackOff"]);
}

#[test]
fn what_held_inside_a_not_is_wrapped_and_a_number_is_not_named_twice() {
    let target = pod(&[("memory_percent", 90.0), ("cpu_percent", 20.0)]);
    assert_eq!(
        truth_of(&rule("not memory_percent > 95"), &target, 600),
        (True, vec!["not (memory_percent=90% > 95%)".into()])
    );
    assert_eq!(
        truth_of(&rule("memory_percent - cpu_percent > 50"), &target, 600),
        (True, vec!["memory_percent - cpu_percent=70% > 50%".into()])
    );
}

#[test]
fn a_status_before_now_holds_from_the_time_its_source_gives() {
    let program = program(&rule("status is CrashLoopBackOff"));
    let condition = &program.policies[0].rules[0].condition;
    let mut target = pod(&[]);
    // Not held now: of an earlier moment nothing is known, whatever time a
    // stale record of it gives.
    assert_eq!(truth_before(&program, condition, &target, 100), Unknown);
    target.status_since.insert("CrashLoopBackOff".into(), 50);
    assert_eq!(truth_before(&program, condition, &target, 100), Unknown);
    target.status_since.clear();
    target.statuses.insert("CrashLoopBackOff".into());
    // Held now, since an unknown time: unknown then too.
    assert_eq!(truth_before(&program, condition, &target, 100), Unknown);
    target.status_since.insert("CrashLoopBackOff".into(), 100);
    assert_eq!(truth_before(&program, condition, &target, 100), True);
    assert_eq!(truth_before(&program, condition, &target, 99), False);
    assert_eq!(truth_before(&program, condition, &target, 101), True);
}

#[test]
fn a_relation_of_two_booleans_shows_both_as_booleans() {
    let source = "policy n {\n  select nodes\n  cooldown 5m\n  when ready == memory_pressure then cordon\n}\n";
    let program = program(source);
    let mut node = pod(&[("ready", 1.0), ("memory_pressure", 1.0)]);
    node.id = TargetId {
        kind: Kind::Nodes,
        namespace: None,
        name: "n".into(),
    };
    let condition = &program.policies[0].rules[0].condition;
    let verdict = evaluate(&program, condition, &node, 600, true);
    assert_eq!(verdict.truth, True);
    assert_eq!(
        render(&verdict.seen),
        ["ready=true == memory_pressure=true"]
    );
}

/// Without the rule's timers (the second look before an action, the
/// verification after), a held clause is as true as its condition now, but
/// not under `not`: there the guess would turn a rule that fired false, and
/// the operator would hold back the action its timers decided.
#[test]
fn a_held_clause_without_its_timers_is_unknown_under_not() {
    let truth = |source: &str, target: &Target| {
        let program = program(&rule(source));
        evaluate(
            &program,
            &program.policies[0].rules[0].condition,
            target,
            600,
            false,
        )
        .truth
    };
    let mut crashing = pod(&[]);
    crashing.statuses.insert("CrashLoopBackOff".into());
    let held = "(status is CrashLoopBackOff for 5m) and status is CrashLoopBackOff";
    let negated = "not (status is CrashLoopBackOff for 5m)";
    assert_eq!(truth(held, &crashing), True);
    assert_eq!(truth(negated, &crashing), Unknown);
    let running = pod(&[]);
    assert_eq!(truth(held, &running), False);
    assert_eq!(
        truth(negated, &running),
        True,
        "a false clause is known false"
    );
}
