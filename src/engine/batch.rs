//! A policy's rules on all the targets it visits at once, in the order that
//! suits memory rather than the order decisions are made in.
//!
//! An evaluation cycle waits on memory more than it computes: each target's
//! series, its latest sample and the window before it are cache misses that
//! depend on one another. Truths are pure, so they can be computed in any
//! order and kept for the decisions that follow in target order.

use super::series::Series;
use super::targets::Targets;
use super::truth::{self, Truth};
use crate::ir::{MetricId, Policy, Program, Seconds};

/// Every rule's truth on every visited target (`visits`, target indices),
/// by visit then rule.
///
/// Computed in the order the targets were observed: their series were built
/// in that order, so the hardware prefetches them, where target order jumps
/// between them and waits on memory (most of a cycle, measured). And each
/// target's series are looked up first, then one sample per cache line of
/// the windows the rules will read is touched for all targets: these reads
/// do not depend on each other, so the memory system serves many at once,
/// where the rules would wait for them one chain at a time. Truths are pure,
/// so the order changes nothing else; timers and decisions follow in target
/// order.
pub(super) fn rule_truths(
    program: &Program,
    policy: &Policy,
    targets: &Targets,
    visits: &[usize],
    now: i64,
) -> Vec<Truth> {
    let metrics = metrics_read(policy);
    let width = policy.rules.len();
    let mut truths = vec![Truth::Unknown; visits.len() * width];
    let mut in_memory: Vec<usize> = (0..visits.len()).collect();
    in_memory.sort_unstable_by_key(|&k| targets.observed_index(visits[k]));
    let m = metrics.len();
    let mut resolved: Vec<(MetricId, Option<&Series>)> = Vec::with_capacity(visits.len() * m);
    for &k in &in_memory {
        let target = targets.targets[visits[k]];
        resolved.extend(
            metrics
                .iter()
                .map(|&(id, _)| (id, truth::lookup(program, id, target))),
        );
    }
    let touched: i64 = resolved
        .iter()
        .zip(metrics.iter().cycle())
        .filter_map(|(&(_, series), &(_, reach))| Some(series?.touch(reach, now)))
        .fold(0, |a, b| a ^ b);
    std::hint::black_box(touched);
    for (n, &k) in in_memory.iter().enumerate() {
        let target = targets.targets[visits[k]];
        let series = resolved.get(n * m..(n + 1) * m).unwrap_or(&[]);
        let slots = truths.iter_mut().skip(k * width).take(width);
        for (slot, rule) in slots.zip(&policy.rules) {
            *slot = truth::truth(program, &rule.condition, target, series, None, now);
        }
    }
    truths
}

/// The metrics `policy`'s rules read, each once, with the longest window
/// each is read over (0 for the current value alone).
fn metrics_read(policy: &Policy) -> Vec<(MetricId, Seconds)> {
    let mut metrics: Vec<(MetricId, Seconds)> = Vec::new();
    for rule in &policy.rules {
        rule.condition.for_each_metric_expr(&mut |expr| {
            let reach = expr.window.map_or(Seconds(0), |w| w.range);
            match metrics.iter_mut().find(|(id, _)| *id == expr.metric) {
                Some((_, longest)) => *longest = (*longest).max(reach),
                None => metrics.push((expr.metric, reach)),
            }
        });
    }
    metrics
}
