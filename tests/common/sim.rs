//! What the simulator's tests share: running a
//! scenario in process, and reading a report's outcomes.

#![allow(dead_code)]

use kubeskippy::ir::Program;
use kubeskippy::safety::SafetyConfig;
use kubeskippy::sim::scenario;
use kubeskippy::sim::simulate::{self, Options, Outcome, Report};

/// Two pods leaking 3 points a minute: OOM-killed after 20 minutes.
pub const LEAKY: &str = "name: leak\nnamespace: shop\nduration: 1h\nworkloads:\n  - name: cart\n    replicas: 2\n    baseline: { memory_percent: 40 }\n    faults:\n      - memory_leak: { per_minute: 3 }\n";

/// The engine tests' own: a program compiled clean.
pub use crate::engine::program;

pub fn simulate(scenario_yaml: &str, policies: &[&str]) -> Report {
    let scenario = scenario::parse(scenario_yaml).expect("a valid scenario");
    let programs: Vec<Program> = policies.iter().map(|p| program(p)).collect();
    simulate::run(
        &scenario,
        &programs,
        &SafetyConfig::default(),
        &Options::default(),
        &mut |_, _| {},
    )
}

pub fn outcomes(report: &Report) -> Vec<String> {
    report
        .timeline
        .iter()
        .map(|e| {
            let what = match &e.outcome {
                Outcome::Done(what) => format!("done: {what}"),
                other => format!("{other:?}"),
            };
            format!("{} {} {} -> {what}", e.at, e.target, e.action)
        })
        .collect()
}
