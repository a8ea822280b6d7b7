//! The seams the operator builds on: evaluation gaps (the operator was down),
//! state that belongs to one program and not to a policy's name, evaluation
//! of a watch event's targets alone, and sources that are down. Each failed
//! before these seams existed. Charging only what was carried out is in
//! `engine_charges.rs`.

#[path = "common/engine.rs"]
mod engine;
#[path = "common/seams.rs"]
mod seams;

use engine::*;
use kubeskippy::engine::state::State;
use kubeskippy::engine::{evaluate, evaluate_watch, Block, Context, Decision, WaitReason};
use kubeskippy::ir::Action;
use seams::*;

const CRASHLOOP: &str = "policy crash {\n  select pods where app = \"checkout\"\n  mode auto\n  cooldown 10m\n  when status is CrashLoopBackOff for 3m then restart\n}\n";

const MEMORY: &str = "policy memory {\n  select pods where app = \"checkout\"\n  mode auto\n  cooldown 10m\n  when memory_percent > 85 for 3m then restart\n}\n";

// --- Downtime counts as held only as far as the data vouches for it.

#[test]
fn a_status_seen_before_a_long_gap_starts_over_after_it() {
    let program = program(CRASHLOOP);
    let obs = observe(vec![crashing("a")]);
    let seen = evaluate(&program, &obs, 15, &State::default(), &context());
    // Ten minutes without an evaluation: nobody saw the status hold, and a
    // CrashLoopBackOff says nothing of since when.
    let after = evaluate(&program, &obs, 615, &seen.state, &context());
    assert!(after.decisions.is_empty(), "{:?}", after.decisions);
    let timer = after.state.timer(
        0,
        &program.policies[0].rules[0].fingerprint,
        &obs.targets[0].id,
    );
    assert_eq!(timer.map(|t| t.since), Some(615), "the timer starts again");
}

#[test]
fn a_status_whose_own_timestamp_covers_the_gap_keeps_its_timer() {
    let program = program(CRASHLOOP);
    let mut target = crashing("a");
    // The source says since when (a condition's lastTransitionTime).
    target.status_since.insert("CrashLoopBackOff".into(), 10);
    let obs = observe(vec![target]);
    let seen = evaluate(&program, &obs, 15, &State::default(), &context());
    let after = evaluate(&program, &obs, 615, &seen.state, &context());
    assert_eq!(acts(&after), ["a"]);
}

#[test]
fn metric_samples_that_cover_the_gap_vouch_for_it() {
    let program = program(MEMORY);
    let samples: Vec<(i64, f64)> = (0..=615).step_by(15).map(|t| (t, 95.0)).collect();
    let obs = observe(vec![with_metric(pod("a"), "memory_percent", &samples)]);
    let seen = evaluate(&program, &obs, 15, &State::default(), &context());
    let after = evaluate(&program, &obs, 615, &seen.state, &context());
    assert_eq!(acts(&after), ["a"], "Prometheus kept the samples");
}

#[test]
fn a_false_sample_inside_the_gap_restarts_the_timer_after_it() {
    let program = program(MEMORY);
    // True throughout, except at 540: the condition held only since 555.
    let samples: Vec<(i64, f64)> = (0..=615)
        .step_by(15)
        .map(|t| (t, if t == 540 { 50.0 } else { 95.0 }))
        .collect();
    let obs = observe(vec![with_metric(pod("a"), "memory_percent", &samples)]);
    let seen = evaluate(&program, &obs, 15, &State::default(), &context());
    let after = evaluate(&program, &obs, 615, &seen.state, &context());
    assert!(after.decisions.is_empty(), "{:?}", after.decisions);
    let timer = after.state.timer(
        0,
        &program.policies[0].rules[0].fingerprint,
        &obs.targets[0].id,
    );
    assert_eq!(timer.map(|t| t.since), Some(555));
}

#[test]
fn a_gap_without_data_is_bridged_within_the_outage_tolerance_only() {
    let program = program(CRASHLOOP);
    let obs = observe(vec![crashing("a")]);
    let mut state = State::default();
    for now in (0..=60).step_by(15) {
        state = evaluate(&program, &obs, now, &state, &context()).state;
    }
    // The operator restarts: no evaluation from 60 to 180, and nothing says
    // how the status was meanwhile. Two minutes is within the default
    // tolerance: the timer kept, `for 3m` holds at 180.
    let after = evaluate(&program, &obs, 180, &state, &context());
    assert_eq!(acts(&after), ["a"], "a short outage keeps the timer");
    // With a tolerance of one minute, the same gap starts the timer over.
    let strict = Context {
        outage_tolerance: 60,
        ..context()
    };
    let after = evaluate(&program, &obs, 180, &state, &strict);
    assert!(after.decisions.is_empty(), "{:?}", after.decisions);
    let fingerprint = &program.policies[0].rules[0].fingerprint;
    assert_eq!(
        after
            .state
            .timer(0, fingerprint, &obs.targets[0].id)
            .map(|t| t.since),
        Some(180)
    );
}

// --- State belongs to one program, not to a policy's name.

#[test]
fn renaming_a_policy_keeps_its_timers_and_its_history() {
    let before = program(CRASHLOOP);
    let renamed = program(&CRASHLOOP.replace("policy crash", "policy crash-loops"));
    let obs = observe(vec![crashing("a")]);
    let mut executor = Recording::default();
    let mut state = State::default();
    for now in (0..=165).step_by(15) {
        state = cycle(&before, &obs, now, &state, &mut executor).0.state;
    }
    // The user renames the policy; the operator recompiles it and keeps the
    // object's state (keyed by its uid).
    let (e, _) = cycle(&renamed, &obs, 180, &state, &mut executor);
    assert_eq!(acts(&e), ["a"], "the timer survived the rename");
    let mut state = e.state;
    for now in (195..=360).step_by(15) {
        state = cycle(&renamed, &obs, now, &state, &mut executor).0.state;
    }
    let (e, _) = cycle(&renamed, &obs, 375, &state, &mut executor);
    assert!(
        matches!(
            e.decisions.as_slice(),
            [Decision::Blocked {
                by: Block::Cooldown,
                ..
            }]
        ),
        "the history survived too: {:?}",
        e.decisions
    );
}

#[test]
fn two_programs_with_their_own_states_do_not_touch_each_other() {
    let crash = program(CRASHLOOP);
    let memory = program(MEMORY);
    let samples: Vec<(i64, f64)> = (0..=180).step_by(15).map(|t| (t, 95.0)).collect();
    let mut target = crashing("a");
    target = with_metric(target, "memory_percent", &samples);
    let obs = observe(vec![target]);
    let (mut a, mut b) = (State::default(), State::default());
    let mut fired = Vec::new();
    for now in (0..=180).step_by(15) {
        let ea = evaluate(&crash, &obs, now, &a, &context());
        let eb = evaluate(&memory, &obs, now, &b, &context());
        fired.extend(acts(&ea).into_iter().map(|t| format!("crash {t} at {now}")));
        fired.extend(
            acts(&eb)
                .into_iter()
                .map(|t| format!("memory {t} at {now}")),
        );
        (a, b) = (ea.state, eb.state);
    }
    assert_eq!(fired, ["crash a at 180", "memory a at 180"]);
}

// --- A watch event evaluates its targets alone.

#[test]
fn a_watch_event_leaves_other_targets_timers_untouched() {
    let program = program(CRASHLOOP);
    let both = observe(vec![crashing("a"), crashing("b")]);
    let mut state = evaluate(&program, &both, 0, &State::default(), &context()).state;
    let fingerprint = program.policies[0].rules[0].fingerprint.clone();
    let b = both.targets[1].id.clone();
    // Watch events about `a` alone for a minute: `b` is not aged.
    for now in [20, 40, 60] {
        state = evaluate_watch(
            &program,
            &observe(vec![crashing("a")]),
            now,
            &state,
            &context(),
        )
        .state;
    }
    assert_eq!(state.timer(0, &fingerprint, &b).map(|t| t.since), Some(0));
    // A cycle that missed `b` for as long would have dropped its timer.
    let mut aged = evaluate(&program, &both, 0, &State::default(), &context()).state;
    for now in [15, 30, 45] {
        aged = evaluate(
            &program,
            &observe(vec![crashing("a")]),
            now,
            &aged,
            &context(),
        )
        .state;
    }
    assert_eq!(aged.timer(0, &fingerprint, &b), None);
}

#[test]
fn a_watch_event_runs_status_rules_and_mixed_ones_but_not_metric_rules() {
    let source = "policy p {\n  select pods where app = \"checkout\"\n  mode auto\n  when memory_percent > 85 then restart\n  when status is CrashLoopBackOff and memory_percent > 50 then delete\n}\n";
    let program = program(source);
    let target = with_metric(crashing("a"), "memory_percent", &[(0, 95.0)]);
    let e = evaluate_watch(
        &program,
        &observe(vec![target.clone()]),
        0,
        &State::default(),
        &context(),
    );
    match e.decisions.as_slice() {
        [Decision::Act { action, rule, .. }] => {
            assert_eq!(
                (*rule, action),
                (1, &Action::Delete),
                "the mixed rule, not the metric one"
            );
        }
        other => panic!("{other:?}"),
    }
    // On the cycle, both fire and the tie goes to the AI.
    let e = first(&program, target);
    assert!(
        matches!(e.decisions.as_slice(), [Decision::Ambiguous { .. }]),
        "{:?}",
        e.decisions
    );
}

// --- A source that is down makes its conditions unknown, not false.

#[test]
fn statuses_of_a_broken_watch_are_unknown() {
    let source = "policy p {\n  select pods where app = \"checkout\"\n  mode auto\n  when not status is OOMKilled then restart\n}\n";
    let program = program(source);
    let mut target = pod("a");
    target.unobserved.statuses = true;
    let e = first(&program, target);
    assert!(e.decisions.is_empty(), "{:?}", e.decisions);
    match e.waiting.as_slice() {
        [w] => assert_eq!(
            w.why,
            WaitReason::Unknown {
                missing: vec!["status OOMKilled".into()]
            }
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn events_of_a_broken_source_are_unknown() {
    let source = "policy p {\n  select pods where app = \"checkout\"\n  mode auto\n  when event BackOff count < 1 within 5m then notify \"quiet\"\n}\n";
    let program = program(source);
    let mut target = pod("a");
    target.unobserved.events = true;
    let e = first(&program, target);
    assert!(
        e.decisions.is_empty(),
        "no events seen is not zero events: {:?}",
        e.decisions
    );
}
