//! The engine on a virtual clock: `for` timers, three-valued logic, priority,
//! ties, `ask ai`, `limit` and `cooldown`, selection — each against a program
//! compiled from real Skippy source.

use kubeskippy::catalog::Kind;
use kubeskippy::check::compile;
use kubeskippy::engine::observation::{Event, Observations, Target, TargetId};
use kubeskippy::engine::series::{Sample, Series};
use kubeskippy::engine::state::State;
use kubeskippy::engine::{evaluate, Block, Context, Decision, Evaluation, WaitReason};
use kubeskippy::ir::{Action, Program, RestartMode, Scale};
use kubeskippy::safety::SafetyConfig;

const INTERVAL: i64 = 15;

fn program(source: &str) -> Program {
    let compiled = compile(source, &SafetyConfig::default());
    assert!(!compiled.has_errors(), "{:?}", compiled.diagnostics);
    compiled.program
}

fn context() -> Context {
    let safety = SafetyConfig::default();
    Context {
        protected_namespaces: safety.protected_namespaces.clone(),
        protected_labels: safety.protected_labels.into_iter().collect(),
        ..Context::new(INTERVAL, Some("shop"))
    }
}

fn pod(name: &str) -> Target {
    let mut target = Target::new(TargetId {
        kind: Kind::Pods,
        namespace: Some("shop".into()),
        name: name.into(),
    });
    target.labels.insert("app".into(), "checkout".into());
    target
}

/// A pod whose metric has had `value` at every interval up to `now`.
fn with_metric(mut target: Target, metric: &str, samples: &[(i64, f64)]) -> Target {
    let series = Series::new(samples.iter().map(|&(at, v)| Sample::new(at, v)));
    target
        .metrics_mut()
        .insert(metric.into(), std::sync::Arc::new(series));
    target
}

fn observe(targets: Vec<Target>) -> Observations {
    Observations { targets }
}

/// Runs one evaluation per interval from `start` to `end` (inclusive), with
/// observations made by `at(now)`, and returns each time's evaluation.
fn run(
    program: &Program,
    start: i64,
    end: i64,
    mut at: impl FnMut(i64) -> Observations,
) -> Vec<(i64, Evaluation)> {
    let mut state = State::default();
    let mut out = Vec::new();
    let mut now = start;
    while now <= end {
        let evaluation = step(program, &at(now), now, &state);
        state = evaluation.state.clone();
        out.push((now, evaluation));
        now += INTERVAL;
    }
    out
}

/// One evaluation whose actions are all carried out: each `Act` is committed
/// to the state it returns, as the operator commits what its executor did.
fn step(program: &Program, observations: &Observations, now: i64, state: &State) -> Evaluation {
    let mut evaluation = evaluate(program, observations, now, state, &context());
    for decision in &evaluation.decisions {
        if let Some(charge) = decision.charge(now) {
            evaluation.state.commit(decision.policy_index(), charge);
        }
    }
    evaluation
}

fn actions(candidates: &[kubeskippy::engine::Candidate]) -> Vec<Action> {
    candidates.iter().map(|c| c.action.clone()).collect()
}

/// Evidence as a person reads it.
fn said(evidence: &[kubeskippy::engine::Evidence]) -> Vec<String> {
    kubeskippy::engine::evidence::render(evidence)
}

/// The evaluation decided one thing: a block by `by`.
fn assert_only_blocked_by(e: &Evaluation, by: Block) {
    assert!(
        matches!(e.decisions.as_slice(), [Decision::Blocked { by: b, .. }] if *b == by),
        "{:?}",
        e.decisions
    );
}

fn fired_at(runs: &[(i64, Evaluation)]) -> Vec<i64> {
    runs.iter()
        .filter(|(_, e)| {
            e.decisions
                .iter()
                .any(|d| matches!(d, Decision::Act { .. }))
        })
        .map(|(t, _)| *t)
        .collect()
}

const MEMORY: &str = "policy memory {\n  select pods where app = \"checkout\"\n  cooldown 10m\n  when memory_percent > 85 for 1m then restart rolling\n}\n";

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
fn the_most_urgent_priority_wins_and_a_tie_is_ambiguous() {
    let source = "policy p {\n  select pods where app = \"checkout\"\n  cooldown 10m\n  when restarts > 3 then restart priority 5\n  when restarts > 2 then delete\n  when restarts > 1 then notify \"crashing\"\n}\n";
    let program = program(source);
    let obs = observe(vec![with_metric(pod("a"), "restarts", &[(0, 4.0)])]);
    let e = evaluate(&program, &obs, 0, &State::default(), &context());
    let [Decision::Act { rule, action, .. }] = e.decisions.as_slice() else {
        panic!("{:?}", e.decisions);
    };
    assert_eq!(
        (*rule, action),
        (0, &Action::Restart(RestartMode::Immediate))
    );

    let tie = "policy p {\n  select pods where app = \"checkout\"\n  cooldown 10m\n  when restarts > 3 then restart\n  when restarts > 2 then delete\n}\n";
    let program = self::program(tie);
    let e = evaluate(&program, &obs, 0, &State::default(), &context());
    let [Decision::Ambiguous {
        rules, candidates, ..
    }] = e.decisions.as_slice()
    else {
        panic!("{:?}", e.decisions);
    };
    assert_eq!(rules, &[0, 1]);
    assert_eq!(
        actions(candidates),
        [Action::Restart(RestartMode::Immediate), Action::Delete]
    );
}

#[test]
fn a_notification_neither_ties_with_nor_waits_on_a_remedy() {
    let obs = observe(vec![with_metric(pod("a"), "restarts", &[(0, 4.0)])]);
    // Tied on priority with a restart: both go, neither is the AI's case.
    let tied = "policy p {\n  select pods where app = \"checkout\"\n  cooldown 10m\n  when restarts > 3 then restart\n  when restarts > 2 then notify \"crashing\"\n}\n";
    let e = evaluate(&program(tied), &obs, 0, &State::default(), &context());
    let actions: Vec<&Action> = e
        .decisions
        .iter()
        .map(|d| match d {
            Decision::Act { action, .. } => action,
            other => panic!("{other:?}"),
        })
        .collect();
    assert!(
        matches!(
            actions.as_slice(),
            [Action::Restart(RestartMode::Immediate), Action::Notify(_)]
        ),
        "{actions:?}"
    );
    // A more urgent notification outranks the remedy: "tell, do not act".
    let told = "policy p {\n  select pods where app = \"checkout\"\n  cooldown 10m\n  when restarts > 3 then restart\n  when restarts > 2 then notify \"crashing\" priority 1\n}\n";
    let e = evaluate(&program(told), &obs, 0, &State::default(), &context());
    let [Decision::Act {
        rule: 1,
        action: Action::Notify(_),
        ..
    }] = e.decisions.as_slice()
    else {
        panic!("{:?}", e.decisions);
    };
    // Two tied notifications: the first in the policy speaks.
    let two = "policy p {\n  select pods where app = \"checkout\"\n  cooldown 10m\n  when restarts > 3 then notify \"one\"\n  when restarts > 2 then notify \"two\"\n}\n";
    let e = evaluate(&program(two), &obs, 0, &State::default(), &context());
    let [Decision::Act { rule: 0, .. }] = e.decisions.as_slice() else {
        panic!("{:?}", e.decisions);
    };
    // A more urgent remedy held back by its cooldown does not silence a
    // less urgent notification: the restart at 0 spends the pod's
    // cooldown, and at 60 the notification its restarts now call for goes.
    let ranked = "policy p {\n  select pods where app = \"checkout\"\n  cooldown 10m\n  when restarts > 3 then restart priority 1\n  when restarts > 5 then notify \"still crashing\"\n}\n";
    let program = program(ranked);
    let restarts = |n: f64| {
        observe(vec![with_metric(
            pod("a"),
            "restarts",
            &[(0, 4.0), (60, n)],
        )])
    };
    let first = step(&program, &restarts(4.0), 0, &State::default());
    let [Decision::Act { rule: 0, .. }] = first.decisions.as_slice() else {
        panic!("{:?}", first.decisions);
    };
    let later = step(&program, &restarts(6.0), 60, &first.state);
    let [Decision::Blocked {
        rule: 0,
        by: Block::Cooldown,
        ..
    }, Decision::Act {
        rule: 1,
        action: Action::Notify(_),
        ..
    }] = later.decisions.as_slice()
    else {
        panic!("{:?}", later.decisions);
    };
}

#[test]
fn ask_ai_hands_over_its_choices() {
    let source = "policy p {\n  select pods where app = \"checkout\"\n  cooldown 10m\n  when restarts > 3 then ask ai among [restart, scale up 1 max 5]\n}\n";
    let program = program(source);
    let obs = observe(vec![with_metric(pod("a"), "restarts", &[(0, 4.0)])]);
    let e = evaluate(&program, &obs, 0, &State::default(), &context());
    let [Decision::Ambiguous {
        candidates,
        evidence,
        ..
    }] = e.decisions.as_slice()
    else {
        panic!("{:?}", e.decisions);
    };
    assert_eq!(
        actions(candidates),
        [
            Action::Restart(RestartMode::Immediate),
            Action::Scale(Scale::Up {
                by: 1,
                max: Some(5)
            })
        ]
    );
    assert_eq!(said(evidence), ["restarts=4 > 3"]);
}

#[test]
fn limit_and_cooldown_block_and_say_so() {
    let source = "policy p {\n  select pods where app = \"checkout\"\n  limit 2 per 1h\n  cooldown 5m\n  when restarts > 3 then restart\n}\n";
    let program = program(source);
    let crashing = |names: &[&str]| {
        observe(
            names
                .iter()
                .map(|n| with_metric(pod(n), "restarts", &[(0, 9.0), (600, 9.0), (1200, 9.0)]))
                .collect(),
        )
    };
    let e = step(&program, &crashing(&["a", "b", "c"]), 0, &State::default());
    let kinds: Vec<_> = e
        .decisions
        .iter()
        .map(|d| match d {
            Decision::Act { target, .. } => format!("act {}", target.name),
            Decision::Blocked { target, by, .. } => format!("blocked {} by {by:?}", target.name),
            Decision::Ambiguous { .. } => "ambiguous".into(),
        })
        .collect();
    assert_eq!(kinds, ["act a", "act b", "blocked c by Limit"]);
    // Two minutes later, a is in its cooldown.
    let e = evaluate(&program, &crashing(&["a"]), 120, &e.state, &context());
    assert_only_blocked_by(&e, Block::Cooldown);
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
fn a_target_observed_twice_is_decided_once() {
    let source = "policy p {\n  select pods where app = \"checkout\"\n  cooldown 10m\n  when restarts > 3 then restart\n}\n";
    let program = program(source);
    let twice = with_metric(pod("a"), "restarts", &[(0, 9.0)]);
    let obs = observe(vec![twice.clone(), twice]);
    let e = evaluate(&program, &obs, 0, &State::default(), &context());
    assert_eq!(e.decisions.len(), 1, "{:?}", e.decisions);
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
fn pods_of_one_workload_roll_it_once_and_its_cooldown_holds_for_every_pod() {
    let source = "policy p {\n  select pods where app = \"checkout\"\n  cooldown 10m\n  when memory_percent > 90% then restart rolling\n}\n";
    let program = program(source);
    let owner = TargetId {
        kind: Kind::Deployments,
        namespace: Some("shop".into()),
        name: "checkout".into(),
    };
    let leaking = |names: &[&str]| {
        observe(
            names
                .iter()
                .map(|n| {
                    let mut p = with_metric(pod(n), "memory_percent", &[(0, 95.0), (300, 95.0)]);
                    p.owner = Some(owner.clone());
                    p
                })
                .collect(),
        )
    };
    let e = step(&program, &leaking(&["a", "b", "c"]), 0, &State::default());
    let shown: Vec<String> = e
        .decisions
        .iter()
        .map(|d| match d {
            Decision::Act { target, object, .. } => format!("act {} on {object}", target.name),
            Decision::Blocked { target, by, .. } => {
                format!("blocked {} by {}", target.name, by.as_str())
            }
            Decision::Ambiguous { .. } => "ambiguous".into(),
        })
        .collect();
    assert_eq!(
        shown,
        [
            "act a on deployments/shop/checkout",
            "blocked b by same-object",
            "blocked c by same-object"
        ]
    );
    // Five minutes later the rolled pods are new, but the Deployment is still
    // in its cooldown, whichever of its pods asks.
    let e = evaluate(&program, &leaking(&["d"]), 300, &e.state, &context());
    assert_only_blocked_by(&e, Block::Cooldown);
}

#[test]
fn cordon_lands_on_the_pods_node() {
    let source =
        "policy p {\n  select pods where app = \"checkout\"\n  when restarts > 3 then cordon\n}\n";
    let program = program(source);
    let mut p = with_metric(pod("a"), "restarts", &[(0, 9.0)]);
    p.node = Some("worker-2".into());
    let e = evaluate(
        &program,
        &observe(vec![p]),
        0,
        &State::default(),
        &context(),
    );
    match e.decisions.as_slice() {
        [Decision::Act { object, .. }] => assert_eq!(object.to_string(), "nodes/worker-2"),
        other => panic!("{other:?}"),
    }
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

#[test]
fn pods_blocked_as_the_same_object_start_over_instead_of_acting_next() {
    // No cooldown: without restarting the siblings' timers, each pod would
    // roll the Deployment again, one evaluation after the other.
    let source = "policy p {\n  select pods where app = \"checkout\"\n  when memory_percent > 90% for 30s then restart rolling\n}\n";
    let program = program(source);
    let owner = TargetId {
        kind: Kind::Deployments,
        namespace: Some("shop".into()),
        name: "checkout".into(),
    };
    let samples: Vec<(i64, f64)> = (0..=20).map(|i| (i * INTERVAL, 95.0)).collect();
    let runs = run(&program, 0, 75, |_| {
        observe(
            ["a", "b", "c"]
                .iter()
                .map(|n| {
                    let mut p = with_metric(pod(n), "memory_percent", &samples);
                    p.owner = Some(owner.clone());
                    p
                })
                .collect(),
        )
    });
    let acts: Vec<(i64, String)> = runs
        .iter()
        .flat_map(|(now, e)| {
            e.decisions.iter().filter_map(move |d| match d {
                Decision::Act { target, .. } => Some((*now, target.name.clone())),
                _ => None,
            })
        })
        .collect();
    // Fires at 30s; all three pods start over (their timers start again at
    // 45s) and fire together again at 75s, rolling once each time.
    assert_eq!(acts, [(30, "a".to_string()), (75, "a".to_string())]);
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
