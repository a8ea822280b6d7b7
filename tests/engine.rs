//! The engine on a virtual clock: `for` timers, three-valued logic,
//! selection, status and event conditions, evidence — each against a program
//! compiled from real Skippy source. Priority, ties, `ask ai`, `limit` and
//! `cooldown` are `engine_priority.rs`'s.

#[path = "common/engine.rs"]
mod engine;

use kubeskippy::catalog::Kind;
use kubeskippy::engine::observation::{Event, Target, TargetId};
use kubeskippy::engine::state::State;
use kubeskippy::engine::{evaluate, Block, Decision, WaitReason};
use kubeskippy::ir::{Action, RestartMode};

use engine::*;

#[test]
fn for_fires_exactly_when_the_condition_has_held_for_its_duration() {
    let program = program(MEMORY);
    // 90% from t=0 on: true at 0, 15, 30, 45, 60 → held 60s at t=60.
    let runs = run(&program, 0, 90, |now| {
        let samples: Vec<(i64, f64)> = (0..=now).step_by(15).map(|t| (t, 90.0)).collect();
        observe(vec![with_metric(pod("a"), "memory_percent", &samples)])
    });
    assert_eq!(fired_at(&runs), [60]);
    let (_, evaluation) = &runs[4];
    let Decision::Act {
        action, evidence, ..
    } = &evaluation.decisions[0]
    else {
        panic!("an action: {:?}", evaluation.decisions);
    };
    assert_eq!(*action, Action::Restart(RestartMode::Rolling));
    assert_eq!(said(evidence), ["memory_percent=90% > 85%", "for 1m"]);
}

#[test]
fn false_resets_the_timer() {
    let program = program(MEMORY);
    // True except one false sample at t=45: the timer restarts at t=60.
    let runs = run(&program, 0, 150, |now| {
        let samples: Vec<(i64, f64)> = (0..=now)
            .step_by(15)
            .map(|t| (t, if t == 45 { 50.0 } else { 90.0 }))
            .collect();
        observe(vec![with_metric(pod("a"), "memory_percent", &samples)])
    });
    assert_eq!(fired_at(&runs), [120]);
}

#[test]
fn unknown_holds_the_timer_for_two_intervals_then_resets_and_never_fires() {
    let program = program(MEMORY);
    // The metric is missing entirely from `from` to `to` (a source outage).
    let gap = |from: i64, to: i64| {
        move |now: i64| {
            let target = if now >= from && now <= to {
                pod("a")
            } else {
                let samples: Vec<(i64, f64)> = (0..=now)
                    .step_by(15)
                    .filter(|t| *t < from || *t > to)
                    .map(|t| (t, 90.0))
                    .collect();
                with_metric(pod("a"), "memory_percent", &samples)
            };
            observe(vec![target])
        }
    };
    // Unknown at 45 and 60 (two intervals): held, so true since 0 → fires at
    // 75, the first known evaluation past 60s.
    let runs = run(&program, 0, 90, gap(45, 60));
    assert_eq!(fired_at(&runs), [75]);
    let waiting = &runs[3].1.waiting;
    assert!(
        waiting.iter().any(
            |w| matches!(&w.why, WaitReason::Unknown { missing } if missing == &["memory_percent"])
        ),
        "{waiting:?}"
    );
    // Unknown at 45, 60 and 75 (three intervals): reset; true again from 90,
    // so it fires at 150.
    let runs = run(&program, 0, 165, gap(45, 75));
    assert_eq!(fired_at(&runs), [150]);
}

#[test]
fn the_state_survives_a_serialize_and_deserialize() {
    let program = program(MEMORY);
    let obs = |now: i64| {
        let samples: Vec<(i64, f64)> = (0..=now).step_by(15).map(|t| (t, 90.0)).collect();
        observe(vec![with_metric(pod("a"), "memory_percent", &samples)])
    };
    let mut state = State::default();
    for now in [0, 15, 30] {
        state = step(&program, &obs(now), now, &state).state;
    }
    // The operator restarts here: the state comes back from JSON.
    let json = serde_json::to_string(&state).expect("serializes");
    let restored: State = serde_json::from_str(&json).expect("deserializes");
    assert_eq!(restored, state);
    let at_45 = step(&program, &obs(45), 45, &restored);
    assert!(at_45.decisions.is_empty(), "not yet: held 45s");
    let at_60 = step(&program, &obs(60), 60, &at_45.state);
    assert_eq!(
        at_60.decisions.len(),
        1,
        "fires at 60s, neither reset nor early"
    );
    // And the action is remembered: the cooldown holds after another restart.
    let json = serde_json::to_string(&at_60.state).expect("serializes");
    let restored: State = serde_json::from_str(&json).expect("deserializes");
    let mut state = restored;
    // The timer started over after the action, so the rule fires again at 120
    // (held 60s since 60): the restored history must block it by cooldown.
    let mut blocked = false;
    for now in (75..=135).step_by(15) {
        let e = step(&program, &obs(now), now, &state);
        assert!(
            e.decisions
                .iter()
                .all(|d| !matches!(d, Decision::Act { .. })),
            "no second action within the cooldown"
        );
        blocked |= e.decisions.iter().any(|d| {
            matches!(
                d,
                Decision::Blocked {
                    by: Block::Cooldown,
                    ..
                }
            )
        });
        state = e.state;
    }
    assert!(
        blocked,
        "the rule fired again and the cooldown held it back"
    );
}

#[test]
fn protected_and_unselected_targets_are_never_touched() {
    let program = program(MEMORY);
    let samples = [(0, 99.0), (60, 99.0)];
    let mut protected = with_metric(pod("protected"), "memory_percent", &samples);
    protected
        .labels
        .insert("kubeskippy.io/protected".into(), "true".into());
    let mut other_app = with_metric(pod("other"), "memory_percent", &samples);
    other_app.labels.insert("app".into(), "search".into());
    let mut elsewhere = with_metric(pod("elsewhere"), "memory_percent", &samples);
    elsewhere.id.namespace = Some("web".into());
    let obs = observe(vec![protected, other_app, elsewhere]);
    let mut state = State::default();
    for now in [0, 60, 120] {
        let e = evaluate(&program, &obs, now, &state, &context());
        assert!(e.decisions.is_empty(), "{:?}", e.decisions);
        assert_eq!(e.state.timer_count(), 0);
        state = e.state;
    }
}

#[test]
fn status_and_event_conditions_read_the_target() {
    let source = "policy p {\n  select pods where app = \"checkout\"\n  cooldown 10m\n  when status is CrashLoopBackOff and event BackOff count > 3 within 5m then restart\n}\n";
    let program = program(source);
    let mut target = pod("a");
    target.statuses.insert("CrashLoopBackOff".into());
    target.events.push(Event {
        reason: "BackOff".into(),
        at: 100,
        count: 3,
    });
    target.events.push(Event {
        reason: "BackOff".into(),
        at: -400,
        count: 10,
    });
    let e = evaluate(
        &program,
        &observe(vec![target.clone()]),
        200,
        &State::default(),
        &context(),
    );
    assert!(e.decisions.is_empty(), "3 recent events, not more than 3");
    target.events.push(Event {
        reason: "BackOff".into(),
        at: 150,
        count: 1,
    });
    let e = evaluate(
        &program,
        &observe(vec![target]),
        200,
        &State::default(),
        &context(),
    );
    let [Decision::Act { evidence, .. }] = e.decisions.as_slice() else {
        panic!("{:?}", e.decisions);
    };
    assert_eq!(
        said(evidence),
        [
            "status is CrashLoopBackOff",
            "event BackOff count=4 > 3 within 5m"
        ]
    );
}

#[test]
fn a_stale_metric_is_unknown_and_unknown_never_fires() {
    let source = "policy p {\n  select pods where app = \"checkout\"\n  cooldown 10m\n  when memory_percent > 85 or not (memory_percent > 85) then restart\n}\n";
    let program = program(source);
    // The last sample is older than the staleness window: unknown, and
    // `x or not x` is unknown too under Kleene logic.
    let obs = observe(vec![with_metric(pod("a"), "memory_percent", &[(0, 99.0)])]);
    let e = evaluate(&program, &obs, 1_000, &State::default(), &context());
    assert!(e.decisions.is_empty(), "{:?}", e.decisions);
    assert!(
        matches!(&e.waiting[0].why, WaitReason::Unknown { missing } if missing == &["memory_percent"])
    );
}

#[test]
fn a_target_missing_from_an_evaluation_keeps_its_timer_like_unknown_data() {
    let program = program(MEMORY);
    let run_with_gap = |missing: &[i64]| {
        let missing = missing.to_vec();
        run(&program, 0, 150, move |now| {
            if missing.contains(&now) {
                return observe(vec![]);
            }
            let samples: Vec<(i64, f64)> = (0..=now).step_by(15).map(|t| (t, 90.0)).collect();
            observe(vec![with_metric(pod("a"), "memory_percent", &samples)])
        })
    };
    // Absent once (a watch cache not synced after a restart): the timer holds.
    assert_eq!(fired_at(&run_with_gap(&[30])), [60]);
    // Absent three times in a row: the timer resets, and restarts at 75.
    assert_eq!(fired_at(&run_with_gap(&[30, 45, 60])), [135]);
}

#[test]
fn absurd_timestamps_and_state_never_panic_or_fire() {
    let program = program(MEMORY);
    let ancient = observe(vec![with_metric(
        pod("a"),
        "memory_percent",
        &[(i64::MIN, 99.0)],
    )]);
    let e = evaluate(&program, &ancient, 100, &State::default(), &context());
    assert!(
        e.decisions.is_empty(),
        "a sample from the dawn of time is stale"
    );
    let future = observe(vec![with_metric(
        pod("a"),
        "memory_percent",
        &[(i64::MAX, 99.0)],
    )]);
    let e = evaluate(&program, &future, i64::MAX, &State::default(), &context());
    assert!(
        e.decisions.is_empty(),
        "a first true evaluation does not fire a `for 1m` rule"
    );
    // A persisted state from the future neither panics nor blocks forever.
    let mut state = e.state.clone();
    state.commit(
        0,
        kubeskippy::engine::state::Charge {
            object: pod("a").id,
            at: i64::MAX,
            ledger: Default::default(),
        },
    );
    let e = evaluate(&program, &future, i64::MIN, &state, &context());
    assert!(
        e.state.policies[0].history.is_empty(),
        "future records are dropped"
    );
}

#[test]
fn in_any_skips_protected_namespaces_and_not_equals_matches_a_missing_label() {
    let source = "policy p {\n  select pods in any where tier != \"db\"\n  cooldown 10m\n  when restarts > 3 then restart\n}\n";
    let program = program(source);
    let crashing = |name: &str, namespace: &str, tier: Option<&str>| {
        let mut target = with_metric(pod(name), "restarts", &[(0, 9.0)]);
        target.id.namespace = Some(namespace.into());
        if let Some(tier) = tier {
            target.labels.insert("tier".into(), tier.into());
        }
        target
    };
    let obs = observe(vec![
        crashing("system", "kube-system", None),
        crashing("db", "shop", Some("db")),
        crashing("web", "shop", Some("web")),
        crashing("unlabelled", "web", None),
    ]);
    let e = evaluate(&program, &obs, 0, &State::default(), &context());
    let mut acted: Vec<&str> = e
        .decisions
        .iter()
        .filter_map(|d| match d {
            Decision::Act { target, .. } => Some(target.name.as_str()),
            _ => None,
        })
        .collect();
    acted.sort();
    assert_eq!(acted, ["unlabelled", "web"]);
}

#[test]
fn evidence_inside_not_says_so_and_history_is_kept_only_for_limits_and_cooldowns() {
    let source = "policy p {\n  select pods where app = \"checkout\"\n  when not (memory_percent > 85) then notify \"calm\"\n}\n";
    let program = program(source);
    let obs = observe(vec![with_metric(pod("a"), "memory_percent", &[(0, 50.0)])]);
    let e = step(&program, &obs, 0, &State::default());
    let [Decision::Act { evidence, .. }] = e.decisions.as_slice() else {
        panic!("{:?}", e.decisions);
    };
    assert_eq!(said(evidence), ["not (memory_percent=50% > 85%)"]);
    let e = evaluate(&program, &obs, 15, &e.state, &context());
    assert!(
        e.state.policies[0].history.is_empty(),
        "no limit, no cooldown: nothing to remember"
    );
}

#[test]
fn evidence_is_rounded_but_never_to_the_threshold_it_beat() {
    let program = program("policy p {\n  select pods where app = \"checkout\"\n  when memory_percent > 85% then notify \"m\"\n}\n");
    let evidence = |value: f64| {
        let e = evaluate(
            &program,
            &observe(vec![with_metric(pod("a"), "memory_percent", &[(0, value)])]),
            0,
            &State::default(),
            &context(),
        );
        match e.decisions.as_slice() {
            [Decision::Act { evidence, .. }] => said(evidence).join("; "),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(evidence(91.345354), "memory_percent=91.35% > 85%");
    assert_eq!(evidence(85.001), "memory_percent=85.001% > 85%");
    let program = self::program("policy p {\n  select pods where app = \"checkout\"\n  when memory_percent > 85.001% then notify \"m\"\n}\n");
    let e = evaluate(
        &program,
        &observe(vec![with_metric(
            pod("a"),
            "memory_percent",
            &[(0, 85.0012)],
        )]),
        0,
        &State::default(),
        &context(),
    );
    // Rounded to 85%, the value would seem not to exceed 85.001%.
    match e.decisions.as_slice() {
        [Decision::Act { evidence, .. }] => {
            assert_eq!(said(evidence), ["memory_percent=85.0012% > 85.001%"])
        }
        other => panic!("{other:?}"),
    }
}

/// Two metrics compared: the rule fires on both values at one moment, its
/// evidence names both, and a missing operand makes the comparison unknown
/// (never zero), named among what had no data.
#[test]
fn a_comparison_of_two_metrics_is_unknown_without_either() {
    let program = program(
        "policy headroom {\n  select pods in shop where app = \"checkout\"\n  cooldown 10m\n  when memory_bytes - memory_bytes > 0 or cpu_cores > cpu_cores * 2 for 1m then restart\n}\n",
    );
    let series =
        |value: f64| -> Vec<(i64, f64)> { (0..=120).step_by(15).map(|t| (t, value)).collect() };
    // `cpu_cores > cpu_cores * 2` never holds, and `memory_bytes - memory_bytes
    // > 0` never does: false, with data.
    let with_both = |_now: i64| {
        let target = with_metric(pod("a"), "memory_bytes", &series(1e9));
        observe(vec![with_metric(target, "cpu_cores", &series(0.5))])
    };
    let runs = run(&program, 0, 120, with_both);
    assert_eq!(fired_at(&runs), Vec::<i64>::new());
    assert!(
        runs.iter().all(|(_, e)| e.waiting.is_empty()),
        "{:?}",
        runs[0].1.waiting
    );
    // Without `cpu_cores`, the `or` is false or unknown: unknown, and
    // `cpu_cores` is named as missing once, though read twice.
    let memory_only =
        |_now: i64| observe(vec![with_metric(pod("a"), "memory_bytes", &series(1e9))]);
    let runs = run(&program, 0, 30, memory_only);
    let waiting = &runs[0].1.waiting;
    assert!(
        waiting.iter().any(
            |w| matches!(&w.why, WaitReason::Unknown { missing } if missing == &["cpu_cores"])
        ),
        "{waiting:?}"
    );
}

/// A relation that holds fires with both sides in its evidence.
#[test]
fn a_relation_that_holds_fires_with_both_values_as_evidence() {
    let program = program(
        "policy replicas {\n  select deployments in shop\n  mode approve\n  cooldown 10m\n  when available_replicas < replicas for 30s then notify \"x\"\n}\n",
    );
    let deployment = || {
        let mut target = Target::new(TargetId {
            kind: Kind::Deployments,
            namespace: Some("shop".into()),
            name: "web".into(),
        });
        target.labels.insert("app".into(), "web".into());
        let samples = |v: f64| (0..=60).step_by(15).map(|t| (t, v)).collect::<Vec<_>>();
        let target = with_metric(target, "available_replicas", &samples(2.0));
        with_metric(target, "replicas", &samples(3.0))
    };
    let runs = run(&program, 0, 60, |_| observe(vec![deployment()]));
    assert_eq!(fired_at(&runs), [30]);
    let Decision::Act { evidence, .. } = &runs[2].1.decisions[0] else {
        panic!("{:?}", runs[2].1.decisions);
    };
    let shown: Vec<String> = evidence.iter().map(ToString::to_string).collect();
    assert_eq!(shown, ["available_replicas=2 < replicas=3", "for 30s"]);
}
