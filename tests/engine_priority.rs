//! Which rule decides, and what holds it back: the most urgent priority,
//! ties and `ask ai`, a `notify` beside the remedies, `limit` and `cooldown`,
//! and an action landing once on an object several targets share.

#[path = "common/engine.rs"]
mod engine;

use kubeskippy::catalog::Kind;
use kubeskippy::engine::observation::TargetId;
use kubeskippy::engine::state::State;
use kubeskippy::engine::{evaluate, Block, Decision};
use kubeskippy::ir::{Action, RestartMode, Scale};

use engine::*;

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
fn a_target_observed_twice_is_decided_once() {
    let source = "policy p {\n  select pods where app = \"checkout\"\n  cooldown 10m\n  when restarts > 3 then restart\n}\n";
    let program = program(source);
    let twice = with_metric(pod("a"), "restarts", &[(0, 9.0)]);
    let obs = observe(vec![twice.clone(), twice]);
    let e = evaluate(&program, &obs, 0, &State::default(), &context());
    assert_eq!(e.decisions.len(), 1, "{:?}", e.decisions);
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

/// A remedy folded into another pod's decision on the same workload is no
/// block a notification stands in for: the rollout decided for the first
/// pod covers the others, which are not told about one by one. A `limit`
/// that holds the remedy back lets the notification through.
#[test]
fn a_notification_stands_in_for_a_held_remedy_but_not_for_a_shared_one() {
    let source = "policy p {\n  select pods where app = \"checkout\"\n  limit 1 per 1h\n  cooldown 10m\n  when memory_percent > 90% then restart rolling priority 1\n  when memory_percent > 80% then notify \"leaking\"\n}\n";
    let program = program(source);
    let owner = |name: &str| TargetId {
        kind: Kind::Deployments,
        namespace: Some("shop".into()),
        name: name.into(),
    };
    let leaking = |pods: &[(&str, &str)]| {
        observe(
            pods.iter()
                .map(|(n, workload)| {
                    let mut p = with_metric(pod(n), "memory_percent", &[(0, 95.0)]);
                    p.owner = Some(owner(workload));
                    p
                })
                .collect(),
        )
    };
    let e = evaluate(
        &program,
        &leaking(&[("a", "checkout"), ("b", "checkout"), ("c", "cart")]),
        0,
        &State::default(),
        &context(),
    );
    let shown: Vec<String> = e
        .decisions
        .iter()
        .map(|d| match d {
            Decision::Act { target, action, .. } => {
                format!("{} {}", target.name, action.catalog_name())
            }
            Decision::Blocked { target, by, .. } => {
                format!("{} blocked by {}", target.name, by.as_str())
            }
            Decision::Ambiguous { .. } => "ambiguous".into(),
        })
        .collect();
    assert_eq!(
        shown,
        [
            "a restart rolling",
            "b blocked by same-object",
            "c blocked by limit",
            "c notify"
        ]
    );
}
