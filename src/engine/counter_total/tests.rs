//! A counter's series combined into one total: each series' growth counted
//! on its own, as `sum(increase(…))` counts it, whatever the reads.

use super::*;
use crate::engine::series::Series;
use crate::engine::window;
use crate::ir::{Seconds, WindowFn};
use proptest::prelude::*;

fn samples(series: &[(u64, &[(i64, f64)])]) -> Vec<(u64, Vec<Sample>)> {
    series
        .iter()
        .map(|(key, samples)| {
            let samples = samples.iter().map(|(at, v)| Sample::new(*at, *v)).collect();
            (*key, samples)
        })
        .collect()
}

fn advance(total: &mut Total, gap: i64, series: &[(u64, &[(i64, f64)])]) -> Vec<(i64, f64)> {
    advance_paired(total, Pairing::Within(gap), &samples(series))
}

fn advance_paired(
    total: &mut Total,
    pairing: Pairing,
    series: &[(u64, Vec<Sample>)],
) -> Vec<(i64, f64)> {
    let totals = total.advance(series.iter().map(|(k, s)| (*k, s.as_slice())), pairing);
    totals.iter().map(|s| (s.at, s.value)).collect()
}

#[test]
fn the_total_starts_at_the_sum_and_grows_by_each_series_own_growth() {
    let mut total = Total::default();
    let read = [(1, &[(0, 3.0), (10, 4.0)][..]), (2, &[(0, 2.0), (10, 2.0)])];
    assert_eq!(advance(&mut total, 900, &read), [(0, 5.0), (10, 6.0)]);
}

#[test]
fn a_new_series_first_sample_is_no_growth_and_its_next_rise_is() {
    let mut total = Total::default();
    advance(&mut total, 900, &[(1, &[(0, 3.0)])]);
    // A signal's first eviction makes a series at 1: PromQL's increase
    // over any window needs two of its samples, so it is not growth.
    let read = [(1, &[(10, 3.0)][..]), (2, &[(10, 1.0), (20, 2.0)])];
    assert_eq!(advance(&mut total, 900, &read), [(10, 3.0), (20, 4.0)]);
}

#[test]
fn a_series_that_vanishes_or_resets_does_not_set_the_total_back() {
    let mut total = Total::default();
    advance(&mut total, 900, &[(1, &[(0, 3.0)]), (2, &[(0, 9.0)])]);
    // Series 2 is gone (a pod replaced); series 1 resets to 2 (a kubelet
    // restart): its new value is growth from zero, as PromQL counts a reset.
    let read = [(1, &[(10, 2.0), (20, 2.0)][..])];
    assert_eq!(advance(&mut total, 900, &read), [(10, 14.0), (20, 14.0)]);
}

#[test]
fn an_instant_read_again_is_taken_once() {
    let mut total = Total::default();
    advance(&mut total, 900, &[(1, &[(0, 1.0), (10, 2.0)])]);
    let read = [(1, &[(10, 2.0), (20, 5.0)][..])];
    assert_eq!(advance(&mut total, 900, &read), [(20, 5.0)]);
    assert!(advance(&mut total, 900, &read).is_empty());
}

#[test]
fn a_series_back_after_a_gap_starts_again() {
    let mut total = Total::default();
    advance(&mut total, 600, &[(1, &[(0, 10.0)]), (2, &[(0, 1.0)])]);
    advance(&mut total, 600, &[(2, &[(600, 1.0)])]);
    // Series 1 is back after 20 minutes, lower: no window of the rules
    // holds both samples, so it is a new series, not a reset.
    let read = [(1, &[(1_200, 4.0)][..]), (2, &[(1_200, 1.0)])];
    assert_eq!(advance(&mut total, 600, &read), [(1_200, 11.0)]);
}

#[test]
fn a_pods_count_at_the_last_read_is_compared_however_long_ago_it_was() {
    // A workload's pods, read an hour apart (a slow evaluation interval):
    // each was there at the total's previous instant, so its rise is growth.
    let mut total = Total::default();
    let each_read = Pairing::EachRead(300);
    advance_paired(&mut total, each_read, &samples(&[(1, &[(0, 1.0)])]));
    let read = samples(&[(1, &[(3_600, 3.0)])]);
    assert_eq!(advance_paired(&mut total, each_read, &read), [(3_600, 3.0)]);
}

#[test]
fn a_whole_target_silent_for_longer_than_the_window_starts_again() {
    // A kubelet unscraped for 20 minutes, back restarted with one new
    // eviction: no window of the rules holds both samples, so PromQL's
    // increase sees no growth, and neither does the total.
    let mut total = Total::default();
    advance(&mut total, 600, &[(1, &[(0, 5.0)])]);
    assert_eq!(
        advance(&mut total, 600, &[(1, &[(1_200, 1.0)])]),
        [(1_200, 5.0)]
    );
}

#[test]
fn a_second_sample_of_a_series_at_one_instant_is_no_growth() {
    let mut total = Total::default();
    advance(&mut total, 600, &[(1, &[(0, 1.0)])]);
    let read = [(1, &[(10, 5.0)][..]), (1, &[(10, 2.0)]), (1, &[(10, 5.0)])];
    assert_eq!(advance(&mut total, 600, &read), [(10, 5.0)]);
}

#[test]
fn no_more_than_the_cap_of_series_is_followed() {
    let mut total = Total::default();
    let samples = [Sample::new(0, 1.0)];
    let many = (0..(MAX_SERIES as u64 + 50)).map(|key| (key, &samples[..]));
    total.advance(many, Pairing::Within(300));
    assert_eq!(total.last.len(), MAX_SERIES);
}

#[test]
fn hostile_samples_leave_the_total_finite_and_never_falling() {
    let mut total = Total::default();
    let read = [(
        1,
        &[
            (i64::MIN + 1, 1.0),
            (0, f64::NAN),
            (10, f64::INFINITY),
            (20, f64::MAX),
            (30, -f64::MAX),
            (40, f64::MAX),
            (i64::MAX, f64::MAX),
        ][..],
    )];
    let totals = advance(&mut total, i64::MAX, &read);
    assert!(totals.iter().all(|(_, v)| v.is_finite()), "{totals:?}");
    assert!(totals.windows(2).all(|w| w[0].1 <= w[1].1), "{totals:?}");
    assert_eq!(totals.first().map(|t| t.0), Some(i64::MIN + 1));
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
    /// the total is the sum of each series' own `increase` in that window
    /// (so some series grew exactly when the total did), however the
    /// reads cut the series, for series sampled at every step while they
    /// exist.
    #[test]
    fn the_increase_of_the_total_is_the_sum_of_the_series_increases(
        shapes in prop::collection::vec(series_strategy(), 1..6),
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
        // Reads of `cut` steps, each reading its first instant again.
        let mut from = 0;
        while from <= end {
            let until = from + cut as i64 * STEP;
            let parts: Vec<(u64, Vec<Sample>)> = series
                .iter()
                .enumerate()
                .map(|(key, s)| {
                    let part = s.iter().copied().filter(|x| x.at >= from - STEP && x.at < until);
                    (key as u64, part.collect())
                })
                .collect();
            samples.extend(total.advance(parts.iter().map(|(k, s)| (*k, s.as_slice())), Pairing::Within(STEP)));
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
