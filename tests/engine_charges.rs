//! What spends a policy's `limit` and `cooldown`: only what was carried out
//! (or recorded as a dry run, or sent and not confirmed in time), never a
//! refusal, a pending approval or a failure; an AI case is charged once answered, to the object its choice
//! lands on. Each failed before the engine's commit step existed.

#[path = "common/engine.rs"]
mod engine;
#[path = "common/seams.rs"]
mod seams;

use engine::*;
use kubeskippy::act::Outcome;
use kubeskippy::act::{carry_out_choice, now_or_never, Executed, Executor, Order};
use kubeskippy::catalog::Kind;
use kubeskippy::engine::observation::Target;
use kubeskippy::engine::state::State;
use kubeskippy::engine::{evaluate, Block, Decision};
use kubeskippy::ir::{Action, RestartMode};
use kubeskippy::safety::SafetyConfig;
use seams::*;

/// The first cycle, from no state, on the crash-looping pod `a`.
fn first_on_crashing_a(
    program: &kubeskippy::ir::Program,
    executor: &mut Recording,
) -> (kubeskippy::engine::Evaluation, Vec<Outcome>) {
    cycle(
        program,
        &observe(vec![crashing("a")]),
        0,
        &State::default(),
        executor,
    )
}

// --- Only what was carried out spends `limit` and `cooldown`.

#[test]
fn a_pending_approval_does_not_spend_the_limit() {
    let source = "policy p {\n  select pods where app = \"checkout\"\n  mode approve\n  limit 1 per 1h\n  when status is CrashLoopBackOff then restart\n}\n";
    let program = program(source);
    let mut executor = Recording::default();
    let (e, outcomes) = first_on_crashing_a(&program, &mut executor);
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

/// An executor that answers every order with `answer` (a test double).
struct Answering(Executed);

impl Executor for Answering {
    fn execute(&mut self, _: Order<'_>) -> impl std::future::Future<Output = Executed> + Send {
        std::future::ready(self.0.clone())
    }
}

#[test]
fn a_failure_spends_neither_the_limit_nor_the_cooldown() {
    let source = "policy p {\n  select pods where app = \"checkout\"\n  mode auto\n  limit 1 per 1h\n  cooldown 10m\n  when status is CrashLoopBackOff then restart\n}\n";
    let program = program(source);
    let obs = observe(vec![crashing("a")]);
    let mut failing = Answering(Executed::Failed("forbidden".into()));
    let (e, outcomes) = cycle(&program, &obs, 0, &State::default(), &mut failing);
    assert_eq!(outcomes, [Outcome::Failed("forbidden".into())]);
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

/// A request the server did not confirm in time may be carried out still:
/// the record fails, but the cooldown holds the next try back.
#[test]
fn a_timed_out_action_fails_and_is_charged() {
    let source = "policy p {\n  select pods where app = \"checkout\"\n  mode auto\n  cooldown 10m\n  when status is CrashLoopBackOff then restart\n}\n";
    let program = program(source);
    let obs = observe(vec![crashing("a")]);
    let mut slow = Answering(Executed::TimedOut("timed out".into()));
    let (e, outcomes) = cycle(&program, &obs, 0, &State::default(), &mut slow);
    assert_eq!(outcomes, [Outcome::Failed("timed out".into())]);
    assert_eq!(e.state.policies[0].history.len(), 1, "charged");
    let (_, outcomes) = cycle(&program, &obs, 15, &e.state, &mut Recording::default());
    assert!(
        matches!(outcomes.as_slice(), [Outcome::Blocked(by)] if by == "cooldown"),
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

#[test]
fn an_ai_case_that_ended_in_a_notice_is_not_asked_again_within_the_cooldown() {
    // No `for`: each evaluation is a new firing, and the case would be put
    // to the model every cycle.
    let source = "policy p {\n  select pods where app = \"checkout\"\n  mode auto\n  cooldown 10m\n  when status is CrashLoopBackOff then ask ai among [restart, notify \"look\"]\n}\n";
    let program = program(source);
    let obs = observe(vec![crashing("a")]);
    let mut executor = Recording::default();
    let (e, outcomes) = cycle(&program, &obs, 0, &State::default(), &mut executor);
    assert!(
        matches!(outcomes.as_slice(), [Outcome::HandedToAi(_)]),
        "{outcomes:?}"
    );
    let mut state = e.state;
    // The model chose none of them: a person is told instead.
    kubeskippy::act::end_without_action(&mut state, &e.decisions[0], 5);
    assert!(state.policies[0].open.is_empty(), "the case is closed");
    let (e, outcomes) = cycle(&program, &obs, 60, &state, &mut executor);
    assert!(
        matches!(outcomes.as_slice(), [Outcome::Blocked(by)] if by == "cooldown"),
        "{outcomes:?}"
    );
    // Past the cooldown, the model is asked again.
    let (_, outcomes) = cycle(&program, &obs, 5 + 600, &e.state, &mut executor);
    assert!(
        matches!(outcomes.as_slice(), [Outcome::HandedToAi(_)]),
        "{outcomes:?}"
    );
    assert!(executor.done.is_empty(), "nothing acted on");
}

#[test]
fn a_rules_own_notify_does_not_hold_back_a_case_for_the_ai() {
    let source = "policy p {\n  select pods where app = \"checkout\"\n  mode auto\n  cooldown 30m\n  when status is CrashLoopBackOff then notify \"it crash-loops\"\n  when status is OOMKilled then ask ai among [restart]\n}\n";
    let program = program(source);
    let mut executor = Recording::default();
    let (e, outcomes) = first_on_crashing_a(&program, &mut executor);
    assert!(
        matches!(outcomes.as_slice(), [Outcome::Done(_)]),
        "the notice: {outcomes:?}"
    );
    let mut oom = crashing("a");
    oom.statuses.insert("OOMKilled".into());
    let (_, outcomes) = cycle(&program, &observe(vec![oom]), 60, &e.state, &mut executor);
    assert!(
        outcomes.iter().any(|o| matches!(o, Outcome::HandedToAi(_))),
        "the case goes to the AI within the notice's cooldown: {outcomes:?}"
    );
}
