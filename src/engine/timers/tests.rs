//! Held clauses and windows over a status on a virtual clock, each against
//! a program compiled from real Skippy source.

use crate::catalog::Kind;
use crate::check::compile;
use crate::engine::observation::{record_statuses, Observations, Target, TargetId};
use crate::engine::series::{Sample, Series};
use crate::engine::state::{clause_key, State};
use crate::engine::{evaluate, evaluate_watch, Context, Decision, Evaluation, WaitReason};
use crate::ir::Program;
use crate::safety::SafetyConfig;
use std::collections::BTreeSet;
use std::sync::Arc;

const INTERVAL: i64 = 15;

fn program(source: &str) -> Program {
    let compiled = compile(source, &SafetyConfig::default());
    assert!(!compiled.has_errors(), "{:?}", compiled.diagnostics);
    compiled.program
}

/// A pod with `restarts` read `restarts(now)` at each interval up to `now`,
/// and the statuses `statuses(now)` (`None`: its statuses not observed).
struct Pod {
    statuses: fn(i64) -> Option<&'static [&'static str]>,
    restarts: fn(i64) -> f64,
}

impl Pod {
    fn at(
        &self,
        now: i64,
        history: &mut std::collections::BTreeMap<String, Arc<Series>>,
    ) -> Target {
        let mut target = Target::new(TargetId {
            kind: Kind::Pods,
            namespace: Some("shop".into()),
            name: "a".into(),
        });
        match (self.statuses)(now) {
            Some(statuses) => target.statuses = statuses.iter().map(|s| s.to_string()).collect(),
            None => target.unobserved.statuses = true,
        }
        let samples =
            (0..=now / INTERVAL).map(|i| Sample::new(i * INTERVAL, (self.restarts)(i * INTERVAL)));
        target
            .metrics_mut()
            .insert("restarts".into(), Arc::new(Series::new(samples)));
        // What the operator's observer does at each cycle, before evaluating.
        let read: BTreeSet<String> = ["CrashLoopBackOff".to_string()].into();
        record_statuses(history, &target, &read, now);
        target.status_history = Arc::new(history.clone());
        target
    }
}

/// Evaluations every interval from 0 to `end`, each decision carried out.
fn run(program: &Program, pod: &Pod, end: i64) -> Vec<(i64, Evaluation)> {
    let context = Context::new(INTERVAL, Some("shop"));
    let mut state = State::default();
    let mut history = Default::default();
    let mut out = Vec::new();
    for now in (0..=end).step_by(INTERVAL as usize) {
        let observations = Observations {
            targets: vec![pod.at(now, &mut history)],
        };
        let mut evaluation = evaluate(program, &observations, now, &state, &context);
        for decision in &evaluation.decisions {
            if let Some(charge) = decision.charge(now) {
                evaluation.state.commit(decision.policy_index(), charge);
            }
        }
        state = evaluation.state.clone();
        out.push((now, evaluation));
    }
    out
}

fn acted_at(runs: &[(i64, Evaluation)]) -> Vec<i64> {
    runs.iter()
        .filter(|(_, e)| {
            e.decisions
                .iter()
                .any(|d| matches!(d, Decision::Act { .. }))
        })
        .map(|(now, _)| *now)
        .collect()
}

const CRASHING: &[&str] = &["CrashLoopBackOff"];
const RUNNING: &[&str] = &[];

#[test]
fn a_held_clause_times_itself_not_the_whole_condition() {
    // The status holds from 0, restarts counts from 30 s on. The clause's
    // own minute is over at 60 s, when the other side is true too; a `for`
    // of the whole condition would wait until 90 s.
    let pod = Pod {
        statuses: |_| Some(CRASHING),
        restarts: |t| if t >= 30 { 1.0 } else { 0.0 },
    };
    let held = program(
        "policy p {\n  select pods in shop\n  when status is CrashLoopBackOff for 1m and restarts > 0 then notify \"x\"\n}\n",
    );
    assert_eq!(acted_at(&run(&held, &pod, 60))[..], [60]);
    let whole = program(
        "policy p {\n  select pods in shop\n  when status is CrashLoopBackOff and restarts > 0 for 1m then notify \"x\"\n}\n",
    );
    assert_eq!(acted_at(&run(&whole, &pod, 90))[..], [90]);
}

#[test]
fn a_false_clause_resets_its_timer_and_the_rule_starts_over_after_acting() {
    // Running once at 45 s: the clause's minute starts again at 60 s, fires
    // at 120 s, starts over after acting and fires again a minute later.
    let pod = Pod {
        statuses: |t| Some(if t == 45 { RUNNING } else { CRASHING }),
        restarts: |_| 1.0,
    };
    let source = "policy p {\n  select pods in shop\n  when status is CrashLoopBackOff for 1m and restarts > 0 then notify \"x\"\n}\n";
    let program = program(source);
    let runs = run(&program, &pod, 200);
    assert_eq!(acted_at(&runs), [120, 195]);
    // The clause's timer is kept under its own key, beside the rule's.
    let (_, after) = &runs[9];
    let rule = &program.policies[0].rules[0];
    let target = TargetId {
        kind: Kind::Pods,
        namespace: Some("shop".into()),
        name: "a".into(),
    };
    let timer = after.state.policies[0].timers[&target][&clause_key(&rule.fingerprint, 0)];
    assert_eq!(timer.since, 135);
    let json = serde_json::to_string(&after.state).unwrap();
    assert_eq!(serde_json::from_str::<State>(&json).unwrap(), after.state);
}

#[test]
fn an_unknown_clause_holds_its_timer_two_intervals_and_never_fires() {
    // Statuses unobserved at 30 and 45 s: the clause is unknown, its timer
    // holds, and the rule fires at 60 s once the status is seen again.
    let pod = Pod {
        statuses: |t| {
            if t == 30 || t == 45 {
                None
            } else {
                Some(CRASHING)
            }
        },
        restarts: |_| 1.0,
    };
    let source = "policy p {\n  select pods in shop\n  when status is CrashLoopBackOff for 1m and restarts > 0 then notify \"x\"\n}\n";
    let program = program(source);
    let runs = run(&program, &pod, 60);
    assert_eq!(acted_at(&runs), [60]);
    let waiting = &runs[2].1.waiting;
    assert!(
        matches!(&waiting[..], [w] if matches!(&w.why, WaitReason::Unknown { missing } if missing == &["status CrashLoopBackOff"]))
    );
    // A third unknown evaluation resets it: the minute starts at 75 s.
    let pod = Pod {
        statuses: |t| {
            if (30..=60).contains(&t) {
                None
            } else {
                Some(CRASHING)
            }
        },
        restarts: |_| 1.0,
    };
    assert_eq!(acted_at(&run(&program, &pod, 135)), [135]);
}

#[test]
fn a_watch_event_keeps_the_clause_timers_of_the_rules_it_does_not_run() {
    let program = program(
        "policy p {\n  select pods in shop\n  when restarts > 0 for 1m and restarts < 10 then notify \"x\"\n}\n",
    );
    let pod = Pod {
        statuses: |_| Some(CRASHING),
        restarts: |_| 1.0,
    };
    let runs = run(&program, &pod, 30);
    let state = &runs[2].1.state;
    let observations = Observations {
        targets: vec![pod.at(40, &mut Default::default())],
    };
    let target = &observations.targets[0].id;
    let key = clause_key(&program.policies[0].rules[0].fingerprint, 0);
    let clause = state
        .timer(0, &key, target)
        .expect("the clause's timer runs");
    let context = Context::new(INTERVAL, Some("shop"));
    let watched = evaluate_watch(&program, &observations, 40, state, &context);
    assert_eq!(watched.state.timer(0, &key, target), Some(clause));
    assert_eq!(&watched.state, state);
}

#[test]
fn a_status_window_bridges_the_running_phases_of_a_crash_loop() {
    // Back-offs with 15 s of Running between them: `status is … for 2m`
    // starts over at each, `status was … within 1m for 2m` does not.
    let pod = Pod {
        statuses: |t| Some(if t % 60 == 45 { RUNNING } else { CRASHING }),
        restarts: |_| 1.0,
    };
    let is = program("policy p {\n  select pods in shop\n  when status is CrashLoopBackOff for 2m then notify \"x\"\n}\n");
    assert!(acted_at(&run(&is, &pod, 600)).is_empty());
    let was = program(
        "policy p {\n  select pods in shop\n  when status was CrashLoopBackOff within 1m for 2m then notify \"x\"\n}\n",
    );
    assert_eq!(acted_at(&run(&was, &pod, 300)), [120, 255]);
}

#[test]
fn a_status_window_is_false_after_its_length_and_unknown_only_without_any_holding() {
    let was = program(
        "policy p {\n  select pods in shop\n  when status was CrashLoopBackOff within 1m then notify \"x\"\n}\n",
    );
    // Crashing until 30 s, then running: true until the window has passed
    // the last holding (30 s is in (30, 90] no more at 90 s).
    let recovered = Pod {
        statuses: |t| Some(if t <= 30 { CRASHING } else { RUNNING }),
        restarts: |_| 0.0,
    };
    assert_eq!(
        acted_at(&run(&was, &recovered, 120)),
        [0, 15, 30, 45, 60, 75]
    );
    // Statuses not observed now: a holding in the window still makes it
    // true; without one it is unknown, not false.
    let blind = Pod {
        statuses: |t| if t <= 15 { Some(CRASHING) } else { None },
        restarts: |_| 0.0,
    };
    let runs = run(&was, &blind, 90);
    assert_eq!(acted_at(&runs), [0, 15, 30, 45, 60]);
    let last = &runs.last().unwrap().1;
    assert!(matches!(&last.waiting[..], [w] if matches!(&w.why, WaitReason::Unknown { .. })));
}
