//! What the engine-seam tests share: programs, pods, and the shared step
//! after `evaluate` with a test-double executor.

#![allow(dead_code)]

use kubeskippy::act::Outcome;
use kubeskippy::act::{carry_out, now_or_never, Executed, Executor, Order};
use kubeskippy::catalog::Kind;
use kubeskippy::check::compile;
use kubeskippy::engine::observation::{Observations, Target, TargetId};
use kubeskippy::engine::series::{Sample, Series};
use kubeskippy::engine::state::State;
use kubeskippy::engine::{evaluate, Context, Decision, Evaluation};
use kubeskippy::ir::Program;
use kubeskippy::safety::SafetyConfig;
use std::sync::Arc;

pub const INTERVAL: i64 = 15;

pub fn program(source: &str) -> Program {
    let compiled = compile(source, &SafetyConfig::default());
    assert!(!compiled.has_errors(), "{:?}", compiled.diagnostics);
    compiled.program
}

pub fn context() -> Context {
    Context::new(INTERVAL, Some("shop"))
}

pub fn id(kind: Kind, name: &str) -> TargetId {
    TargetId {
        kind,
        namespace: Some("shop".into()),
        name: name.into(),
    }
}

pub fn pod(name: &str) -> Target {
    let mut target = Target::new(id(Kind::Pods, name));
    target.labels.insert("app".into(), "checkout".into());
    target
}

pub fn with_samples(mut target: Target, metric: &str, samples: &[(i64, f64)]) -> Target {
    let series = Series::new(samples.iter().map(|&(at, v)| Sample::new(at, v)));
    target.metrics_mut().insert(metric.into(), Arc::new(series));
    target
}

pub fn crashing(name: &str) -> Target {
    let mut target = pod(name);
    target.statuses.insert("CrashLoopBackOff".into());
    target
}

pub fn observe(targets: Vec<Target>) -> Observations {
    Observations { targets }
}

/// The first evaluation of `program` on `target` alone.
pub fn first(program: &Program, target: Target) -> Evaluation {
    evaluate(
        program,
        &observe(vec![target]),
        0,
        &State::default(),
        &context(),
    )
}

pub fn acts(e: &Evaluation) -> Vec<String> {
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
pub struct Recording {
    pub done: Vec<String>,
}

impl Executor for Recording {
    fn execute(&mut self, order: Order<'_>) -> impl std::future::Future<Output = Executed> + Send {
        self.done.push(order.object.to_string());
        std::future::ready(Executed::Done("done".into()))
    }
}

/// Evaluates, then carries every decision through the shared step.
pub fn cycle(
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
