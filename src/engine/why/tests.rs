use super::*;
use crate::catalog::{Kind, Unit};
use crate::ir::{CmpOp, Threshold, Type};

fn standing(stood: Stood, evidence: Vec<Evidence>) -> Standing {
    Standing {
        policy: "p".into(),
        policy_index: 0,
        rule: 0,
        target: TargetId {
            kind: Kind::Pods,
            namespace: Some("shop".into()),
            name: "a".into(),
        },
        at: 150,
        stood,
        evidence,
        absent: Vec::new(),
    }
}

fn memory(value: f64) -> Evidence {
    Evidence::Compare {
        expr: "memory_percent".into(),
        value,
        op: CmpOp::Gt,
        threshold: Threshold::Number(85.0),
        ty: Type::Scalar(Unit::Percent),
        against: None,
    }
}

#[test]
fn each_standing_in_words() {
    let cases = [
        (
            Stood::False,
            vec![memory(40.0)],
            "false: memory_percent=40% (not > 85%)",
        ),
        (
            Stood::Holding {
                since: 0,
                needed: 180,
            },
            vec![memory(90.0)],
            "true, held for 2m30s of 3m: memory_percent=90% > 85%",
        ),
        (
            Stood::Unknown {
                missing: vec!["memory_percent".into(), "avg(cpu_percent, 5m)".into()],
            },
            vec![],
            "unknown: no data for memory_percent, avg(cpu_percent, 5m)",
        ),
        (
            Stood::Blocked {
                by: Block::Cooldown,
                until: Some(600),
            },
            vec![],
            "fired, but blocked by cooldown until 10m (7m30s from now)",
        ),
        (
            Stood::Outranked { by: 0 },
            vec![],
            "fired, but rule 1 is more urgent and decided",
        ),
    ];
    for (stood, evidence, want) in cases {
        assert_eq!(standing(stood, evidence).describe(), want);
    }
}

#[test]
fn what_did_not_hold_is_marked_inside_not_too() {
    let e = [
        Evidence::Not {
            inner: vec![memory(90.0)],
        },
        Evidence::Event {
            reason: "BackOff".into(),
            count: 1,
            op: CmpOp::Ge,
            threshold: 3,
            within: Seconds(60),
        },
    ];
    assert_eq!(
        marked(&e),
        [
            "not (memory_percent=90% > 85%)",
            "event BackOff count=1 (not >= 3 within 1m)"
        ]
    );
    let mut s = standing(Stood::False, vec![]);
    s.absent = vec!["CrashLoopBackOff".into()];
    assert_eq!(s.describe(), "false: status CrashLoopBackOff absent");
}

// Standings as the engine computes them, on programs compiled from source.

use crate::check::compile;
use crate::engine::observation::Observations;
use crate::engine::series::{Sample, Series};
use crate::engine::state::State;
use crate::engine::{evaluate, Context, Evaluation};
use crate::safety::SafetyConfig;
use std::sync::Arc;

const INTERVAL: i64 = 15;

fn program(source: &str) -> Program {
    let compiled = compile(source, &SafetyConfig::default());
    assert!(!compiled.has_errors(), "{:?}", compiled.diagnostics);
    compiled.program
}

fn pod(metrics: &[(&str, f64)]) -> Observations {
    let mut target = Target::new(TargetId {
        kind: Kind::Pods,
        namespace: Some("shop".into()),
        name: "a".into(),
    });
    target.labels.insert("app".into(), "shop".into());
    for (name, value) in metrics {
        let series = Series::new((0..=40).map(|i| Sample::new(i * INTERVAL, *value)));
        target
            .metrics_mut()
            .insert((*name).into(), Arc::new(series));
    }
    Observations {
        targets: vec![target],
    }
}

fn explaining(explain: Explain) -> Context {
    Context {
        explain,
        ..Context::new(INTERVAL, Some("shop"))
    }
}

/// Evaluates every interval up to `end`, committing every action; returns
/// the last evaluation.
fn until(program: &Program, observations: &Observations, end: i64, explain: Explain) -> Evaluation {
    let mut state = State::default();
    let mut now = 0;
    loop {
        let mut e = evaluate(program, observations, now, &state, &explaining(explain));
        for d in &e.decisions {
            if let Some(charge) = d.charge(now) {
                e.state.commit(d.policy_index(), charge);
            }
        }
        if now >= end {
            return e;
        }
        state = e.state;
        now += INTERVAL;
    }
}

fn described(e: &Evaluation) -> Vec<String> {
    e.standings.iter().map(Standing::describe).collect()
}

const HELD: &str = "policy p {\n  select pods where app = \"shop\"\n  cooldown 5m\n  when memory_percent > 85 for 1m then restart\n}\n";

#[test]
fn a_false_condition_shows_the_value_against_its_threshold() {
    let e = until(
        &program(HELD),
        &pod(&[("memory_percent", 40.0)]),
        0,
        Explain::All,
    );
    assert_eq!(described(&e), ["false: memory_percent=40% (not > 85%)"]);
}

#[test]
fn an_unknown_condition_names_what_had_no_data() {
    let e = until(&program(HELD), &pod(&[]), 0, Explain::All);
    assert_eq!(described(&e), ["unknown: no data for memory_percent"]);
}

#[test]
fn a_held_condition_says_for_how_long_of_its_for() {
    let e = until(
        &program(HELD),
        &pod(&[("memory_percent", 90.0)]),
        30,
        Explain::All,
    );
    assert_eq!(
        described(&e),
        ["true, held for 30s of 1m: memory_percent=90% > 85%"]
    );
}

#[test]
fn a_block_says_by_what_and_until_when() {
    let source = "policy p {\n  select pods where app = \"shop\"\n  cooldown 5m\n  when memory_percent > 85 then restart\n}\n";
    let e = until(
        &program(source),
        &pod(&[("memory_percent", 90.0)]),
        15,
        Explain::All,
    );
    assert_eq!(
        described(&e),
        ["fired, but blocked by cooldown until 5m (4m45s from now): memory_percent=90% > 85%"]
    );
    let e = until(
        &program(source),
        &pod(&[("memory_percent", 90.0)]),
        0,
        Explain::All,
    );
    assert_eq!(described(&e), ["fired: memory_percent=90% > 85%"]);
}

#[test]
fn a_rule_a_more_urgent_one_beat_says_so_and_a_blocked_tie_is_blocked() {
    let source = "policy p {\n  select pods where app = \"shop\"\n  cooldown 5m\n  when memory_percent > 85 then restart priority 5\n  when memory_percent > 80 then delete\n}\n";
    let e = until(
        &program(source),
        &pod(&[("memory_percent", 90.0)]),
        0,
        Explain::All,
    );
    assert_eq!(
        described(&e),
        [
            "fired: memory_percent=90% > 85%",
            "fired, but rule 1 is more urgent and decided: memory_percent=90% > 80%"
        ]
    );
    let tie = "policy p {\n  select pods where app = \"shop\"\n  cooldown 5m\n  when memory_percent > 85 then restart\n  when memory_percent > 80 then delete\n}\n";
    let program = program(tie);
    // The AI's case is open after the hand-over: both rules wait on it.
    let mut e = until(&program, &pod(&[("memory_percent", 90.0)]), 0, Explain::All);
    let charge = match &e.decisions[0] {
        Decision::Ambiguous { candidates, .. } => candidates[0].charge(0),
        other => panic!("{other:?}"),
    };
    e.state.open(0, charge);
    let next = evaluate(
        &program,
        &pod(&[("memory_percent", 90.0)]),
        15,
        &e.state,
        &explaining(Explain::All),
    );
    let stood: Vec<&Stood> = next.standings.iter().map(|s| &s.stood).collect();
    assert!(
        matches!(
            stood.as_slice(),
            [
                Stood::Blocked {
                    by: Block::Open,
                    ..
                },
                Stood::Blocked {
                    by: Block::Open,
                    ..
                }
            ]
        ),
        "{stood:?}"
    );
}

#[test]
fn an_absent_status_is_named_and_only_the_asked_rule_is_explained() {
    let source = "policy p {\n  select pods where app = \"shop\"\n  cooldown 5m\n  when status is CrashLoopBackOff then restart\n  when memory_percent > 85 then delete priority 5\n}\n";
    let program = program(source);
    let observed = pod(&[("memory_percent", 40.0)]);
    let e = until(&program, &observed, 0, Explain::Rule { policy: 0, rule: 0 });
    assert_eq!(described(&e), ["false: status CrashLoopBackOff absent"]);
    assert_eq!(e.standings[0].rule, 0);
}

#[test]
fn explaining_changes_nothing_else_and_is_off_by_default() {
    let program = program(HELD);
    for value in [40.0, 90.0] {
        let observed = pod(&[("memory_percent", value)]);
        let off = until(&program, &observed, 120, Explain::Off);
        let mut on = until(&program, &observed, 120, Explain::All);
        assert!(off.standings.is_empty());
        assert!(!on.standings.is_empty());
        on.standings.clear();
        assert_eq!(on, off);
    }
    assert_eq!(Context::new(INTERVAL, None).explain, Explain::Off);
}

#[test]
fn a_notification_stands_apart_from_the_remedy_that_outranks_it() {
    let source = "policy p {\n  select pods where app = \"shop\"\n  cooldown 5m\n  when memory_percent > 85 then restart priority 5\n  when memory_percent > 80 then notify \"high\"\n}\n";
    let program = program(source);
    let high = pod(&[("memory_percent", 90.0)]);
    // The restart acts: the notification is outranked.
    let e = until(&program, &high, 0, Explain::All);
    assert_eq!(
        described(&e)[1],
        "fired, but rule 1 is more urgent and decided: memory_percent=90% > 80%"
    );
    // The restart is in its cooldown: the notification goes instead.
    let e = until(&program, &high, 15, Explain::All);
    assert_eq!(
        described(&e),
        [
            "fired, but blocked by cooldown until 5m (4m45s from now): memory_percent=90% > 85%",
            "fired: memory_percent=90% > 80%"
        ]
    );
}

#[test]
fn a_notification_is_outranked_by_the_one_that_spoke_not_by_a_blocked_remedy() {
    let source = "policy p {\n  select pods where app = \"shop\"\n  cooldown 5m\n  when memory_percent > 85 then restart priority 1\n  when memory_percent > 80 then notify \"high\" priority 5\n  when memory_percent > 70 then notify \"rising\"\n  when memory_percent > 60 then notify \"warm\"\n}\n";
    let e = until(
        &program(source),
        &pod(&[("memory_percent", 90.0)]),
        15,
        Explain::All,
    );
    let stood: Vec<&Stood> = e.standings.iter().map(|s| &s.stood).collect();
    assert!(
        matches!(
            stood.as_slice(),
            [
                Stood::Blocked { .. },
                Stood::Fired,
                Stood::Outranked { by: 1 },
                Stood::Outranked { by: 1 }
            ]
        ),
        "{stood:?}"
    );
    // Of tied notifications the first speaks; the other is outranked by it.
    let tied = "policy p {\n  select pods where app = \"shop\"\n  cooldown 5m\n  when memory_percent > 80 then notify \"high\"\n  when memory_percent > 70 then notify \"rising\"\n}\n";
    let e = until(
        &program(tied),
        &pod(&[("memory_percent", 90.0)]),
        0,
        Explain::All,
    );
    let stood: Vec<&Stood> = e.standings.iter().map(|s| &s.stood).collect();
    assert!(
        matches!(stood.as_slice(), [Stood::Fired, Stood::Outranked { by: 0 }]),
        "{stood:?}"
    );
}
