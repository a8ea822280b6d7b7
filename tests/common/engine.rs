//! What the engine's tests share: programs compiled from Skippy source,
//! pods with samples, and evaluations on a virtual clock whose actions are
//! all carried out.

#![allow(dead_code)]

use kubeskippy::catalog::Kind;
use kubeskippy::check::compile;
use kubeskippy::engine::observation::{Observations, Target, TargetId};
use kubeskippy::engine::series::{Sample, Series};
use kubeskippy::engine::state::State;
use kubeskippy::engine::{evaluate, Block, Context, Decision, Evaluation};
use kubeskippy::ir::{Action, Program};
use kubeskippy::safety::SafetyConfig;

pub const INTERVAL: i64 = 15;

pub fn program(source: &str) -> Program {
    let compiled = compile(source, &SafetyConfig::default());
    assert!(!compiled.has_errors(), "{:?}", compiled.diagnostics);
    compiled.program
}

pub fn context() -> Context {
    let safety = SafetyConfig::default();
    Context {
        protected_namespaces: safety.protected_namespaces.clone(),
        protected_labels: safety.protected_labels.into_iter().collect(),
        ..Context::new(INTERVAL, Some("shop"))
    }
}

pub fn pod(name: &str) -> Target {
    let mut target = Target::new(TargetId {
        kind: Kind::Pods,
        namespace: Some("shop".into()),
        name: name.into(),
    });
    target.labels.insert("app".into(), "checkout".into());
    target
}

/// A pod whose metric has had `value` at every interval up to `now`.
pub fn with_metric(mut target: Target, metric: &str, samples: &[(i64, f64)]) -> Target {
    let series = Series::new(samples.iter().map(|&(at, v)| Sample::new(at, v)));
    target
        .metrics_mut()
        .insert(metric.into(), std::sync::Arc::new(series));
    target
}

pub fn observe(targets: Vec<Target>) -> Observations {
    Observations { targets }
}

/// Runs one evaluation per interval from `start` to `end` (inclusive), with
/// observations made by `at(now)`, and returns each time's evaluation.
pub fn run(
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
pub fn step(program: &Program, observations: &Observations, now: i64, state: &State) -> Evaluation {
    let mut evaluation = evaluate(program, observations, now, state, &context());
    for decision in &evaluation.decisions {
        if let Some(charge) = decision.charge(now) {
            evaluation.state.commit(decision.policy_index(), charge);
        }
    }
    evaluation
}

pub fn actions(candidates: &[kubeskippy::engine::Candidate]) -> Vec<Action> {
    candidates.iter().map(|c| c.action.clone()).collect()
}

/// Evidence as a person reads it.
pub fn said(evidence: &[kubeskippy::engine::Evidence]) -> Vec<String> {
    kubeskippy::engine::evidence::render(evidence)
}

/// The evaluation decided one thing: a block by `by`.
pub fn assert_only_blocked_by(e: &Evaluation, by: Block) {
    assert!(
        matches!(e.decisions.as_slice(), [Decision::Blocked { by: b, .. }] if *b == by),
        "{:?}",
        e.decisions
    );
}

pub fn fired_at(runs: &[(i64, Evaluation)]) -> Vec<i64> {
    runs.iter()
        .filter(|(_, e)| {
            e.decisions
                .iter()
                .any(|d| matches!(d, Decision::Act { .. }))
        })
        .map(|(t, _)| *t)
        .collect()
}

pub const MEMORY: &str = "policy memory {\n  select pods where app = \"checkout\"\n  cooldown 10m\n  when memory_percent > 85 for 1m then restart rolling\n}\n";
