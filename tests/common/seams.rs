//! What the engine-seam tests share beside `engine.rs`'s helpers: crashing
//! pods, and the shared step after `evaluate` with a test-double executor.

#![allow(dead_code)]

use super::engine::*;
use kubeskippy::act::Outcome;
use kubeskippy::act::{carry_out, now_or_never, Executed, Executor, Order};
use kubeskippy::catalog::Kind;
use kubeskippy::engine::observation::{Observations, Target, TargetId};
use kubeskippy::engine::state::State;
use kubeskippy::engine::{evaluate, Decision, Evaluation};
use kubeskippy::ir::Program;
use kubeskippy::safety::SafetyConfig;

pub fn id(kind: Kind, name: &str) -> TargetId {
    TargetId {
        kind,
        namespace: Some("shop".into()),
        name: name.into(),
    }
}

pub fn crashing(name: &str) -> Target {
    let mut target = pod(name);
    target.statuses.insert("CrashLoopBackOff".into());
    target
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
