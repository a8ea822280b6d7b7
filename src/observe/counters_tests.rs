//! A counter's series combined on one target: each series' growth counted
//! on its own, as `sum(increase(…))` counts it, whatever the cycles' reads.

use super::counters::{Answered, Total, MAX_SERIES};
use super::queries::{Fetched, Landing, Query};
use super::{snapshot, Cluster, History};
use crate::engine::observation::TargetId;
use crate::engine::series::{Sample, Series};
use crate::engine::window;
use crate::ir::{Seconds, WindowFn};
use proptest::prelude::*;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

const NOW: i64 = 1_800_000_000;

fn answered(lookback: i64, series: &[(u64, &[(i64, f64)])]) -> Answered {
    let mut answered = Answered {
        promql: "kubelet_evictions".into(),
        lookback,
        series: BTreeMap::new(),
    };
    for (key, samples) in series {
        answered.add(
            *key,
            samples.iter().map(|(at, v)| Sample::new(*at, *v)).collect(),
        );
    }
    answered
}

fn values(samples: &[Sample]) -> Vec<(i64, f64)> {
    samples.iter().map(|s| (s.at, s.value)).collect()
}

#[test]
fn the_total_starts_at_the_sum_and_grows_by_each_series_own_growth() {
    let mut total = Total::default();
    let read = answered(
        900,
        &[(1, &[(0, 3.0), (10, 4.0)]), (2, &[(0, 2.0), (10, 2.0)])],
    );
    assert_eq!(values(&total.advance(&read)), [(0, 5.0), (10, 6.0)]);
}

#[test]
fn a_new_series_first_sample_is_no_growth_and_its_next_rise_is() {
    let mut total = Total::default();
    total.advance(&answered(900, &[(1, &[(0, 3.0)])]));
    // A signal's first eviction makes a series at 1: PromQL's increase
    // over any window needs two of its samples, so it is not growth.
    let read = answered(900, &[(1, &[(10, 3.0)]), (2, &[(10, 1.0), (20, 2.0)])]);
    assert_eq!(values(&total.advance(&read)), [(10, 3.0), (20, 4.0)]);
}

#[test]
fn a_series_that_vanishes_or_resets_does_not_set_the_total_back() {
    let mut total = Total::default();
    total.advance(&answered(900, &[(1, &[(0, 3.0)]), (2, &[(0, 9.0)])]));
    // Series 2 is gone; series 1 resets to 2 (a kubelet restart): its new
    // value is growth from zero, as PromQL counts a reset.
    let read = answered(900, &[(1, &[(10, 2.0), (20, 2.0)])]);
    assert_eq!(values(&total.advance(&read)), [(10, 14.0), (20, 14.0)]);
}

#[test]
fn an_instant_read_again_is_taken_once() {
    let mut total = Total::default();
    total.advance(&answered(900, &[(1, &[(0, 1.0), (10, 2.0)])]));
    let read = answered(900, &[(1, &[(10, 2.0), (20, 5.0)])]);
    assert_eq!(values(&total.advance(&read)), [(20, 5.0)]);
    assert!(total.advance(&read).is_empty());
}

#[test]
fn samples_further_apart_than_any_window_are_not_compared() {
    let mut total = Total::default();
    total.advance(&answered(600, &[(1, &[(0, 10.0)]), (2, &[(0, 1.0)])]));
    // Series 1 is back after 20 minutes, lower: no window of the rules
    // holds both samples, so it is a new series, not a reset.
    let read = answered(600, &[(1, &[(1_200, 4.0)]), (2, &[(1_200, 1.0)])]);
    assert_eq!(values(&total.advance(&read)), [(1_200, 11.0)]);
    // A rule on the latest value alone still sees growth within a
    // sample's staleness.
    let mut latest = Total::default();
    latest.advance(&answered(0, &[(1, &[(0, 1.0)])]));
    let read = answered(0, &[(1, &[(30, 3.0)])]);
    assert_eq!(values(&latest.advance(&read)), [(30, 3.0)]);
}

#[test]
fn no_more_than_the_cap_of_series_is_followed() {
    let mut read = answered(900, &[]);
    for key in 0..(MAX_SERIES as u64 + 50) {
        read.add(key, vec![Sample::new(0, 1.0)]);
    }
    assert_eq!(read.series.len(), MAX_SERIES);
    let mut total = Total::default();
    assert_eq!(values(&total.advance(&read)), [(0, MAX_SERIES as f64)]);
}

#[test]
fn values_that_are_not_numbers_are_dropped() {
    let mut total = Total::default();
    let read = answered(
        900,
        &[(
            1,
            &[(0, 1.0), (10, f64::NAN), (20, f64::INFINITY), (30, 2.0)],
        )],
    );
    assert_eq!(values(&total.advance(&read)), [(0, 1.0), (30, 2.0)]);
}

/// One series as a test writes it: where it starts on the grid, and each
/// step's rise, or a reset to a value (negative: a reset to its absolute).
fn series_strategy() -> impl Strategy<Value = (usize, Vec<i32>)> {
    (0usize..12, prop::collection::vec(-3i32..6, 1..24))
}

/// The values of a series whose steps are `steps`: a rise, or a reset.
fn levels(steps: &[i32]) -> Vec<f64> {
    let mut level = 0.0;
    steps
        .iter()
        .map(|&step| {
            level = if step < 0 {
                f64::from(-step)
            } else {
                level + f64::from(step)
            };
            level
        })
        .collect()
}

proptest! {
    /// At every instant and for every window, the engine's `increase` of
    /// the total is the sum of each series' own `increase` in that window:
    /// the mixin's `sum(rate(…))` above 0 exactly when the total's
    /// increase is, however the cycles cut the reads.
    #[test]
    fn the_increase_of_the_total_is_the_sum_of_the_series_increases(
        shapes in prop::collection::vec(series_strategy(), 1..5),
        cut in 1usize..8,
    ) {
        const STEP: i64 = 10;
        let series: Vec<Vec<Sample>> = shapes
            .iter()
            .map(|(start, steps)| {
                levels(steps)
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| Sample::new((*start + i) as i64 * STEP, v))
                    .collect()
            })
            .collect();
        let end = series.iter().flat_map(|s| s.iter().map(|x| x.at)).max().unwrap_or(0);
        let mut total = Total::default();
        let mut samples = Vec::new();
        // Cycles of `cut` steps, each reading its last instant again.
        let mut from = 0;
        while from <= end {
            let until = from + cut as i64 * STEP;
            let mut read = answered(3_600, &[]);
            for (key, s) in series.iter().enumerate() {
                let part: Vec<Sample> = s
                    .iter()
                    .copied()
                    .filter(|x| x.at >= from - STEP && x.at < until)
                    .collect();
                if !part.is_empty() {
                    read.add(key as u64, part);
                }
            }
            samples.extend(total.advance(&read));
            from = until;
        }
        let total = Series::new(samples);
        for now in (0..=end + 3 * STEP).step_by(STEP as usize) {
            for range in (STEP..=end + STEP).step_by(STEP as usize) {
                let range = Seconds(range as u64);
                let of_total = window::apply_series(WindowFn::Increase, range, &total, now);
                let of_each: f64 = series
                    .iter()
                    .filter_map(|s| window::apply(WindowFn::Increase, range, s, now))
                    .sum();
                prop_assert_eq!(of_total.unwrap_or(0.0), of_each, "at {} over {:?}", now, range);
            }
        }
    }
}

fn node(name: &str) -> TargetId {
    TargetId {
        kind: crate::catalog::Kind::Nodes,
        namespace: None,
        name: name.into(),
    }
}

fn evictions() -> Query {
    Query {
        metric: "evictions".into(),
        promql: "kubelet_evictions".into(),
        namespace: None,
        lookback: 900,
        filesystems: false,
        landing: Landing::Objects,
        counter: true,
    }
}

fn signal(node: &str, signal: &str) -> HashMap<String, String> {
    [
        ("node", node),
        ("eviction_signal", signal),
        ("instance", "10.0.0.1:10250"),
        ("job", "kubelet"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn cluster() -> Cluster {
    let mut cluster = Cluster::default();
    cluster.nodes.push(Arc::new(
        serde_json::from_value(serde_json::json!({"metadata": {"name": "worker-1"}}))
            .expect("a node"),
    ));
    cluster
}

fn evictions_of(history: &mut History, at: i64) -> Vec<(i64, f64)> {
    let observations = snapshot(&cluster(), history, at);
    let target = observations
        .targets
        .iter()
        .find(|t| t.id == node("worker-1"))
        .expect("the node");
    values(target.metrics["evictions"].samples())
}

/// Through the history, as the Prometheus source hands answers over: a
/// node's signals land on it as one total, and a failed query makes it
/// unknown and starts it again.
#[test]
fn a_nodes_eviction_signals_land_on_it_as_one_total() {
    let mut history = History::new(3_600);
    let known = |id: &TargetId| id == &node("worker-1");
    let mut fetched = Fetched::default();
    let query = evictions();
    fetched.add(
        &query,
        &signal("worker-1", "memory.available"),
        vec![Sample::new(NOW - 20, 3.0), Sample::new(NOW - 10, 3.0)],
    );
    fetched.add(
        &query,
        &signal("worker-1", "nodefs.available"),
        vec![Sample::new(NOW - 10, 1.0)],
    );
    history.absorb(fetched, known);
    assert_eq!(
        evictions_of(&mut history, NOW),
        [(NOW - 20, 3.0), (NOW - 10, 3.0)]
    );

    let mut fetched = Fetched::default();
    fetched.add(
        &query,
        &signal("worker-1", "nodefs.available"),
        vec![Sample::new(NOW, 2.0)],
    );
    history.absorb(fetched, known);
    assert_eq!(
        evictions_of(&mut history, NOW + 10),
        [(NOW - 20, 3.0), (NOW - 10, 3.0), (NOW, 4.0)]
    );

    let mut fetched = Fetched::default();
    fetched.fail(&query);
    history.absorb(fetched, known);
    let observations = snapshot(&cluster(), &mut history, NOW + 20);
    let target = observations
        .targets
        .iter()
        .find(|t| t.id == node("worker-1"))
        .expect("the node");
    assert!(!target.metrics.contains_key("evictions"));
    let mut fetched = Fetched::default();
    fetched.add(
        &query,
        &signal("worker-1", "nodefs.available"),
        vec![Sample::new(NOW + 30, 2.0)],
    );
    history.absorb(fetched, known);
    assert_eq!(evictions_of(&mut history, NOW + 30), [(NOW + 30, 2.0)]);
}
