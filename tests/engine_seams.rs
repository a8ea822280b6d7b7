//! The seams the operator builds on: evaluation gaps (the operator was down),
//! state that belongs to one program and not to a policy's name, evaluation
//! of a watch event's targets alone, charging only what was carried out, and
//! sources that are down. Each failed before these seams existed.

use kubeskippy::act::Outcome;
use kubeskippy::act::{carry_out, carry_out_choice, now_or_never, Executed, Executor, Order};
use kubeskippy::catalog::Kind;
use kubeskippy::check::compile;
use kubeskippy::engine::observation::{Observations, Target, TargetId};
use kubeskippy::engine::series::{Sample, Series};
use kubeskippy::engine::state::State;
use kubeskippy::engine::{
    evaluate, evaluate_watch, Block, Context, Decision, Evaluation, WaitReason,
};
use kubeskippy::ir::{Action, Program, RestartMode};
use kubeskippy::safety::SafetyConfig;
use std::sync::Arc;

const INTERVAL: i64 = 15;

fn program(source: &str) -> Program {
    let compiled = compile(source, &SafetyConfig::default());
    assert!(!compiled.has_errors(), "{:?}", compiled.diagnostics);
    compiled.program
}

fn context() -> Context {
    Context::new(INTERVAL, Some("shop"))
}

fn id(kind: Kind, name: &str) -> TargetId {
    TargetId {
        kind,
        namespace: Some("shop".into()),
        name: name.into(),
    }
}

fn pod(name: &str) -> Target {
    let mut target = Target::new(id(Kind::Pods, name));
    target.labels.insert("app".into(), "checkout".into());
    target
}

fn with_samples(mut target: Target, metric: &str, samples: &[(i64, f64)]) -> Target {
    let series = Series::new(samples.iter().map(|&(at, v)| Sample::new(at, v)));
    target.metrics_mut().insert(metric.into(), Arc::new(series));
    target
}

fn crashing(name: &str) -> Target {
    let mut target = pod(name);
    target.statuses.insert("CrashLoopBackOff".into());
    target
}

fn observe(targets: Vec<Target>) -> Observations {
    Observations { targets }
}

/// The first evaluation of `program` on `target` alone.
fn first(program: &Program, target: Target) -> Evaluation {
    evaluate(
        program,
        &observe(vec![target]),
        0,
        &State::default(),
        &context(),
    )
}

fn acts(e: &Evaluation) -> Vec<String> {
    e.decisions
        .iter()
        .filter_map(|d| match d {
            Decision::Act { target, .. } => Some(target.name.clone()),
            _ => None,
        })
        .collect()
}

/// An executor that carries out everything and remembers what (a test
/// double for the cluster).
#[derive(Default)]
struct Recording {
    done: Vec<String>,
}

impl Executor for Recording {
    fn execute(&mut self, order: Order<'_>) -> impl std::future::Future<Output = Executed> + Send {
        self.done.push(order.object.to_string());
        std::future::ready(Executed::Done("done".into()))
    }
}

/// Evaluates, then carries every decision through the shared step.
fn cycle(
    program: &Program,
    observations: &Observations,
    now: i64,
    state: &State,
    executor: &mut impl Executor,
) -> (Evaluation, Vec<Outcome>) {
    let mut e = evaluate(program, observations, now, state, &context());
    let config = SafetyConfig::default();
    let mut outcomes = Vec::new();
    for (n, d) in e.decisions.iter().enumerate() {
        let carried = now_or_never(carry_out(
            program,
            &config,
            &mut e.state,
            executor,
            d,
            now,
            n,
        ))
        .expect("the test doubles answer at once");
        outcomes.push(carried.outcome);
    }
    (e, outcomes)
}

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
    let obs = observe(vec![with_samples(pod("a"), "memory_percent", &samples)]);
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
    let obs = observe(vec![with_samples(pod("a"), "memory_percent", &samples)]);
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
    target = with_samples(target, "memory_percent", &samples);
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
    let target = with_samples(crashing("a"), "memory_percent", &[(0, 95.0)]);
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

// --- Only what was carried out spends `limit` and `cooldown`.

#[test]
fn a_pending_approval_does_not_spend_the_limit() {
    let source = "policy p {\n  select pods where app = \"checkout\"\n  mode approve\n  limit 1 per 1h\n  when status is CrashLoopBackOff then restart\n}\n";
    let program = program(source);
    let mut executor = Recording::default();
    let (e, outcomes) = cycle(
        &program,
        &observe(vec![crashing("a")]),
        0,
        &State::default(),
        &mut executor,
    );
    assert!(
        matches!(outcomes.as_slice(), [Outcome::AwaitingApproval(_)]),
        "{outcomes:?}"
    );
    // Another pod: the request about `a` spent nothing.
    let (e, outcomes) = cycle(
        &program,
        &observe(vec![crashing("a"), crashing("b")]),
        15,
        &e.state,
        &mut executor,
    );
    let blocks: Vec<_> = e
        .decisions
        .iter()
        .map(|d| match d {
            Decision::Blocked { target, by, .. } => format!("{} {}", target.name, by.as_str()),
            Decision::Act { target, .. } => format!("{} act", target.name),
            Decision::Ambiguous { .. } => "ai".into(),
        })
        .collect();
    assert_eq!(blocks, ["a open-request", "b act"], "{outcomes:?}");
}

#[test]
fn a_refusal_spends_nothing_and_a_dry_run_spends_as_if_done() {
    let refused = "policy p {\n  select pods where app = \"db\"\n  mode auto\n  limit 1 per 1h\n  when status is CrashLoopBackOff then delete\n}\n";
    let program_refused = program(refused);
    let db = |name: &str| {
        let mut t = crashing(name);
        t.labels.insert("app".into(), "db".into());
        t.owner = Some(id(Kind::StatefulSets, "db"));
        t
    };
    let mut executor = Recording::default();
    let (e, outcomes) = cycle(
        &program_refused,
        &observe(vec![db("db-0")]),
        0,
        &State::default(),
        &mut executor,
    );
    assert!(
        matches!(outcomes.as_slice(), [Outcome::Refused(_)]),
        "{outcomes:?}"
    );
    assert!(
        e.state.policies[0].history.is_empty(),
        "a refusal is not charged"
    );
    assert!(executor.done.is_empty());

    let dry = "policy p {\n  select pods where app = \"checkout\"\n  mode dryrun\n  cooldown 10m\n  when status is CrashLoopBackOff then restart\n}\n";
    let program_dry = program(dry);
    let (e, outcomes) = cycle(
        &program_dry,
        &observe(vec![crashing("a")]),
        0,
        &State::default(),
        &mut executor,
    );
    assert_eq!(outcomes, [Outcome::DryRun]);
    let (e, _) = cycle(
        &program_dry,
        &observe(vec![crashing("a")]),
        15,
        &e.state,
        &mut executor,
    );
    assert!(
        matches!(
            e.decisions.as_slice(),
            [Decision::Blocked {
                by: Block::Cooldown,
                until: Some(600),
                ..
            }]
        ),
        "a dry run is charged as if carried out: {:?}",
        e.decisions
    );
    assert!(executor.done.is_empty(), "nothing was carried out");
}

/// An executor whose every action fails, as when the API server refuses or
/// does not answer (a test double).
struct Failing;

impl Executor for Failing {
    fn execute(&mut self, _: Order<'_>) -> impl std::future::Future<Output = Executed> + Send {
        std::future::ready(Executed::Failed("timed out".into()))
    }
}

#[test]
fn a_failure_spends_neither_the_limit_nor_the_cooldown() {
    let source = "policy p {\n  select pods where app = \"checkout\"\n  mode auto\n  limit 1 per 1h\n  cooldown 10m\n  when status is CrashLoopBackOff then restart\n}\n";
    let program = program(source);
    let obs = observe(vec![crashing("a")]);
    let (e, outcomes) = cycle(&program, &obs, 0, &State::default(), &mut Failing);
    assert_eq!(outcomes, [Outcome::Failed("timed out".into())]);
    assert!(
        e.state.policies[0].history.is_empty(),
        "a failure is not charged"
    );
    // The next evaluation tries again, held back by neither the limit of
    // one nor the cooldown; what is done then is charged.
    let mut executor = Recording::default();
    let (e, outcomes) = cycle(&program, &obs, 15, &e.state, &mut executor);
    assert!(
        matches!(outcomes.as_slice(), [Outcome::Done(_)]),
        "{outcomes:?}"
    );
    assert_eq!(executor.done, ["pods/shop/a"]);
    let (_, outcomes) = cycle(&program, &obs, 30, &e.state, &mut executor);
    assert!(
        matches!(outcomes.as_slice(), [Outcome::Blocked(_)]),
        "{outcomes:?}"
    );
}

#[test]
fn an_ai_case_is_charged_once_answered_to_the_object_its_choice_lands_on() {
    let source = "policy p {\n  select pods where app = \"checkout\"\n  mode auto\n  cooldown 10m\n  when status is CrashLoopBackOff then ask ai among [restart, restart rolling]\n}\n";
    let program = program(source);
    let mut target = crashing("a");
    target.owner = Some(id(Kind::Deployments, "checkout"));
    let obs = observe(vec![target]);
    let mut executor = Recording::default();
    let (e, outcomes) = cycle(&program, &obs, 0, &State::default(), &mut executor);
    assert!(
        matches!(outcomes.as_slice(), [Outcome::HandedToAi(_)]),
        "{outcomes:?}"
    );
    assert!(
        e.state.policies[0].history.is_empty(),
        "not charged before an answer"
    );
    let case = e.decisions[0].clone();
    let mut state = e.state;
    let config = SafetyConfig::default();
    // The analyzer may not choose outside the candidates.
    let wrong = now_or_never(carry_out_choice(
        &program,
        &config,
        &mut state.clone(),
        &mut executor,
        &case,
        &Action::Delete,
        5,
        0,
    ))
    .expect("ready");
    assert!(
        matches!(wrong.outcome, Outcome::Refused(_)),
        "{:?}",
        wrong.outcome
    );
    let chosen = Action::Restart(RestartMode::Rolling);
    let carried = now_or_never(carry_out_choice(
        &program,
        &config,
        &mut state,
        &mut executor,
        &case,
        &chosen,
        5,
        0,
    ))
    .expect("ready");
    assert!(
        matches!(carried.outcome, Outcome::Done(_)),
        "{:?}",
        carried.outcome
    );
    assert_eq!(executor.done, ["deployments/shop/checkout"]);
    let charged: Vec<String> = state.policies[0]
        .history
        .iter()
        .map(|t| t.target.to_string())
        .collect();
    assert_eq!(charged, ["deployments/shop/checkout"]);
    assert!(state.policies[0].open.is_empty(), "the case is closed");
}

#[test]
fn the_pods_of_one_workload_make_one_ai_case() {
    let source = "policy p {\n  select pods where app = \"checkout\"\n  mode auto\n  limit 5 per 1h\n  when status is CrashLoopBackOff then ask ai among [restart rolling, rollback]\n}\n";
    let program = program(source);
    let pods: Vec<Target> = ["a", "b", "c"]
        .iter()
        .map(|n| {
            let mut t = crashing(n);
            t.owner = Some(id(Kind::Deployments, "checkout"));
            t
        })
        .collect();
    let e = evaluate(&program, &observe(pods), 0, &State::default(), &context());
    let kinds: Vec<String> = e
        .decisions
        .iter()
        .map(|d| match d {
            Decision::Ambiguous { object, .. } => format!("case about {object}"),
            Decision::Blocked { by, .. } => format!("blocked by {}", by.as_str()),
            Decision::Act { .. } => "act".into(),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "case about deployments/shop/checkout",
            "blocked by same-object",
            "blocked by same-object"
        ]
    );
}

#[test]
fn a_notification_does_not_spend_the_budget_of_disruptive_actions() {
    let source = "policy p {\n  select pods where app = \"checkout\"\n  mode auto\n  limit 1 per 1h\n  cooldown 1h\n  when status is CrashLoopBackOff then notify \"crash looping\"\n  when status is CrashLoopBackOff for 1m then restart priority 5\n}\n";
    let program = program(source);
    let obs = observe(vec![crashing("a")]);
    let mut executor = Recording::default();
    let mut state = State::default();
    let mut outcomes = Vec::new();
    for now in (0..=60).step_by(15) {
        let (e, o) = cycle(&program, &obs, now, &state, &mut executor);
        outcomes.extend(o.into_iter().map(|o| format!("{now} {o:?}")));
        state = e.state;
    }
    assert_eq!(
        outcomes,
        [
            "0 Done(\"done\")",
            "15 Blocked(\"cooldown\")",
            "30 Blocked(\"cooldown\")",
            "45 Blocked(\"cooldown\")",
            "60 Done(\"done\")"
        ]
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
