//! Window functions against hand-computed values (the arithmetic is in the
//! comments), the window's edges, disorderly input, and a proptest of the
//! module's invariant: never a panic, never a non-finite answer.

use super::*;
use proptest::prelude::*;
use WindowFn::*;

const ALL: [WindowFn; 8] = [Avg, Max, Min, Increase, Rate, Trend, Predict, Changes];

fn s(at: i64, value: f64) -> Sample {
    Sample::new(at, value)
}

/// Window (0, 40] at now = 40: every sample at 10..=40 is in.
fn at_40(function: WindowFn, samples: &[Sample]) -> Option<f64> {
    apply(function, Seconds(40), samples, 40)
}

#[track_caller]
fn assert_close(actual: Option<f64>, expected: f64) {
    let Some(actual) = actual else {
        panic!("expected {expected}, got None");
    };
    let tolerance = 1e-12 * expected.abs().max(1.0);
    assert!(
        (actual - expected).abs() <= tolerance,
        "expected {expected}, got {actual}"
    );
}

/// The gauge most tests share: 1, 3, 2, 6 at 10, 20, 30, 40.
const GAUGE: [Sample; 4] = [
    Sample { at: 10, value: 1.0 },
    Sample { at: 20, value: 3.0 },
    Sample { at: 30, value: 2.0 },
    Sample { at: 40, value: 6.0 },
];

#[test]
fn avg_max_min() {
    // (1 + 3 + 2 + 6) / 4 = 12 / 4 = 3.
    assert_eq!(at_40(Avg, &GAUGE), Some(3.0));
    assert_eq!(at_40(Max, &GAUGE), Some(6.0));
    assert_eq!(at_40(Min, &GAUGE), Some(1.0));
}

#[test]
fn increase_sums_the_rises() {
    // 10 → 15 → 15 → 22: 5 + 0 + 7 = 12.
    let counter = [s(10, 10.0), s(20, 15.0), s(30, 15.0), s(40, 22.0)];
    assert_eq!(at_40(Increase, &counter), Some(12.0));
}

#[test]
fn a_drop_is_a_counter_reset() {
    // 10 → 15: +5; 15 → 3 is a reset, growth from 0: +3; 3 → 8: +5. 5 + 3 + 5 = 13.
    let counter = [s(10, 10.0), s(20, 15.0), s(30, 3.0), s(40, 8.0)];
    assert_eq!(at_40(Increase, &counter), Some(13.0));
    // The 13 grew between the first and the last sample: 40 - 10 = 30 s.
    assert_close(at_40(Rate, &counter), 13.0 / 30.0);
    // A reset to 0 then a rise: 0 + 4 = 4.
    assert_eq!(
        at_40(Increase, &[s(10, 9.0), s(20, 0.0), s(30, 4.0)]),
        Some(4.0)
    );
}

#[test]
fn a_reset_to_a_negative_value_is_no_growth() {
    // 5 → -3 (not a counter, but clusters send anything): 0; -3 → 1: +4.
    let counter = [s(10, 5.0), s(20, -3.0), s(30, 1.0)];
    assert_eq!(at_40(Increase, &counter), Some(4.0));
}

#[test]
fn rate_divides_by_the_span_of_the_samples_not_the_range() {
    // Window (-20, 40]: the counter went 0 → 30 between 10 and 40, so 30 / 30 =
    // 1 per second. Dividing by the 60 s range would say 0.5, and PromQL's
    // extrapolation to the window's edges would report more growth than seen.
    let counter = [s(10, 0.0), s(40, 30.0)];
    assert_eq!(apply(Rate, Seconds(60), &counter, 40), Some(1.0));
    assert_eq!(apply(Increase, Seconds(60), &counter, 40), Some(30.0));
}

#[test]
fn trend_is_the_least_squares_slope() {
    // Mean time (10+20+30+40)/4 = 25, mean value 3.
    // dt = -15, -5, 5, 15; dv = -2, 0, -1, 3.
    // Σ dt·dv = 30 + 0 - 5 + 45 = 70; Σ dt² = 225 + 25 + 25 + 225 = 500.
    // Slope = 70 / 500 = 0.14 per second.
    assert_eq!(at_40(Trend, &GAUGE), Some(0.14));
}

#[test]
fn predict_extends_the_line_by_the_range() {
    // The line of the test above at now + range = 40 + 40 = 80:
    // 3 + 0.14 · (80 - 25) = 3 + 7.7 = 10.7.
    assert_close(at_40(Predict, &GAUGE), 10.7);
}

#[test]
fn predict_looks_ahead_by_its_own_horizon() {
    // The same line at now + horizon = 40 + 100 = 140: 3 + 0.14 · 115 = 19.1.
    let series = Series::new(GAUGE);
    let window = Window {
        function: Predict,
        range: Seconds(40),
        horizon: Some(Seconds(100)),
    };
    assert_close(apply_window(window, &series, 40), 19.1);
    // Without a horizon, the window's length, as `apply` does.
    let window = Window {
        horizon: None,
        ..window
    };
    assert_close(apply_window(window, &series, 40), 10.7);
}

#[test]
fn changes_counts_the_samples_that_differ_from_the_one_before() {
    // 1 → 3 → 2 → 6: three changes.
    assert_eq!(at_40(Changes, &GAUGE), Some(3.0));
    // A value that held still, and a flapping boolean.
    assert_eq!(
        at_40(Changes, &[s(10, 4.0), s(20, 4.0), s(40, 4.0)]),
        Some(0.0)
    );
    assert_eq!(
        at_40(Changes, &[s(10, 1.0), s(20, 0.0), s(30, 1.0), s(40, 1.0)]),
        Some(2.0)
    );
    // One sample is no change; none is unknown, never "no progress".
    assert_eq!(at_40(Changes, &[s(40, 7.0)]), Some(0.0));
    assert_eq!(at_40(Changes, &[]), None);
    // A change just outside the window does not count.
    assert_eq!(
        at_40(Changes, &[s(0, 1.0), s(10, 2.0), s(20, 2.0)]),
        Some(0.0)
    );
}

#[test]
fn a_memory_leak_of_2_percent_per_minute() {
    // 40% + 2%/min, sampled every 15 s for 5 minutes: v(t) = 40 + t / 30.
    let leak: Vec<Sample> = (1..=20)
        .map(|k| s(15 * k, 40.0 + (15 * k) as f64 / 30.0))
        .collect();
    // 2%/min = 2/60 = 1/30 per second (the IR's unit).
    assert_close(apply(Trend, Seconds(300), &leak, 300), 1.0 / 30.0);
    // Five minutes from now, t = 600: 40 + 600 / 30 = 60.
    assert_close(apply(Predict, Seconds(300), &leak, 300), 60.0);
    // The last 5 minutes' mean: (40.5 + 50) / 2 = 45.25 (an arithmetic sequence).
    assert_close(apply(Avg, Seconds(300), &leak, 300), 45.25);
}

#[test]
fn a_sample_exactly_range_old_is_out_and_one_at_now_is_in() {
    // Window (0, 40]: 100 at t = 0 is out, 6 at t = 40 is in, 50 at t = 41 is
    // in the future and out.
    let mut samples = GAUGE.to_vec();
    samples.push(s(0, 100.0));
    samples.push(s(41, 50.0));
    assert_eq!(at_40(Max, &samples), Some(6.0));
    assert_eq!(at_40(Min, &samples), Some(1.0));
    assert_eq!(at_40(Trend, &samples), Some(0.14));
    // One second later the window is (1, 41]: 50 is in.
    assert_eq!(apply(Max, Seconds(40), &samples, 41), Some(50.0));
}

#[test]
fn order_does_not_matter() {
    let shuffled = [GAUGE[2], GAUGE[0], GAUGE[3], GAUGE[1]];
    for function in ALL {
        assert_eq!(
            at_40(function, &shuffled),
            at_40(function, &GAUGE),
            "{function:?}"
        );
    }
    // A reset is a drop in time order, not in the order the samples came in.
    let counter = [s(30, 3.0), s(10, 10.0), s(40, 8.0), s(20, 15.0)];
    assert_eq!(at_40(Increase, &counter), Some(13.0));
}

#[test]
fn the_last_sample_given_for_an_instant_wins() {
    // At t = 20 the 100 is superseded by 3: 1 → 3 is +2, not a rise to 100
    // and a reset.
    let counter = [s(10, 1.0), s(20, 100.0), s(20, 3.0)];
    assert_eq!(at_40(Increase, &counter), Some(2.0));
}

#[test]
fn non_finite_samples_are_ignored() {
    let samples = [
        s(10, 1.0),
        s(15, f64::NAN),
        s(20, f64::INFINITY),
        s(25, f64::NEG_INFINITY),
        s(30, 3.0),
    ];
    // Only 1 at 10 and 3 at 30 count: avg 2, slope (3 - 1) / 20 = 0.1.
    assert_eq!(at_40(Avg, &samples), Some(2.0));
    assert_eq!(at_40(Max, &samples), Some(3.0));
    assert_close(at_40(Trend, &samples), 0.1);
    let junk = [s(10, f64::NAN), s(20, f64::INFINITY)];
    for function in ALL {
        assert_eq!(at_40(function, &junk), None, "{function:?}");
    }
}

#[test]
fn no_samples_is_unknown() {
    for function in ALL {
        assert_eq!(at_40(function, &[]), None, "{function:?}");
        // A zero range is an empty window.
        assert_eq!(
            apply(function, Seconds(0), &GAUGE, 40),
            None,
            "{function:?}"
        );
    }
}

#[test]
fn one_sample_is_enough_for_avg_max_min_only() {
    let one = [s(20, 7.0)];
    for function in [Avg, Max, Min] {
        assert_eq!(at_40(function, &one), Some(7.0), "{function:?}");
    }
    for function in [Increase, Rate, Trend, Predict] {
        assert_eq!(at_40(function, &one), None, "{function:?}");
    }
}

#[test]
fn samples_all_at_one_instant_have_no_slope() {
    // One instant is one sample (the last given): avg 2, but no slope, so no
    // trend, prediction, increase or rate.
    let same = [s(20, 1.0), s(20, 2.0)];
    assert_eq!(at_40(Avg, &same), Some(2.0));
    for function in [Increase, Rate, Trend, Predict] {
        assert_eq!(at_40(function, &same), None, "{function:?}");
    }
}

#[test]
fn huge_timestamps_lose_no_precision() {
    // Around 2^40 s (and 2^62 s), v = 1000 + 0.5 · (t - base) every 15 s.
    // Raw t² would be ≈ 2^80 (2^124): naive sums keep none of the slope's digits.
    for base in [1_i64 << 40, 1_i64 << 62] {
        let samples: Vec<Sample> = (0..20)
            .map(|k| s(base + 15 * k, 1000.0 + 0.5 * (15 * k) as f64))
            .collect();
        let now = base + 15 * 19;
        let range = Seconds(15 * 20);
        assert_close(apply(Trend, range, &samples, now), 0.5);
        // At now + 300: 1000 + 0.5 · (285 + 300) = 1292.5.
        assert_close(apply(Predict, range, &samples, now), 1292.5);
        // 1000 → 1142.5 without a drop.
        assert_close(apply(Increase, range, &samples, now), 142.5);
        assert_close(apply(Rate, range, &samples, now), 0.5);
    }
}

#[test]
fn overflow_is_unknown_never_infinite() {
    let max = f64::MAX;
    // The plain sum overflows; the mean does not.
    assert_eq!(at_40(Avg, &[s(10, max), s(20, max)]), Some(max));
    // -MAX → MAX grows by 2·MAX, beyond f64.
    assert_eq!(at_40(Increase, &[s(10, -max), s(20, max)]), None);
    assert_eq!(at_40(Trend, &[s(10, -max), s(20, max)]), None);
    assert_eq!(at_40(Predict, &[s(10, -max), s(20, max)]), None);
}

#[test]
fn extreme_times_do_not_panic() {
    let samples = [s(i64::MIN, 1.0), s(0, 2.0), s(i64::MAX, 3.0)];
    for function in ALL {
        for (range, now) in [(u64::MAX, i64::MAX), (u64::MAX, i64::MIN), (1, i64::MAX)] {
            let value = apply(function, Seconds(range), &samples, now);
            assert!(value.is_none_or(f64::is_finite), "{function:?}: {value:?}");
        }
    }
    // The window (i64::MIN, i64::MAX] holds 2 at 0 and 3 at i64::MAX: a slope
    // of 1 / (2^63 - 1) and a prediction 2^64 s ahead, still finite.
    assert!(apply(Predict, Seconds(u64::MAX), &samples, i64::MAX).is_some());
}

#[test]
fn apply_series_agrees_with_apply() {
    let samples = [s(40, 6.0), s(0, 100.0), s(10, 1.0), s(20, 3.0), s(30, 2.0)];
    let series = Series::new(samples);
    for function in ALL {
        assert_eq!(
            apply_series(function, Seconds(40), &series, 40),
            at_40(function, &samples),
            "{function:?}"
        );
    }
}

fn window_fn() -> impl Strategy<Value = WindowFn> {
    prop::sample::select(ALL.to_vec())
}

/// Values of every kind, with the awkward ones over-represented.
fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        -1e6..1e6,
        prop::num::f64::ANY,
        prop::sample::select(vec![
            0.0,
            -0.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MAX,
            -f64::MAX,
            f64::MIN_POSITIVE,
        ]),
    ]
}

/// Times near each other (so windows hold several samples) and anywhere.
fn time() -> impl Strategy<Value = i64> {
    prop_oneof![3 => -100_i64..100, 1 => any::<i64>()]
}

fn range() -> impl Strategy<Value = Seconds> {
    prop_oneof![3 => 0_u64..300, 1 => any::<u64>()].prop_map(Seconds)
}

fn samples() -> impl Strategy<Value = Vec<Sample>> {
    prop::collection::vec((time(), value()).prop_map(|(at, v)| s(at, v)), 0..40)
}

proptest! {
    #[test]
    fn never_panics_and_never_answers_a_non_finite_value(
        function in window_fn(),
        range in range(),
        samples in samples(),
        now in time(),
    ) {
        let value = apply(function, range, &samples, now);
        prop_assert!(value.is_none_or(f64::is_finite), "{:?}", value);
        // The engine's path (normalize once, then binary-search the window)
        // answers the same.
        prop_assert_eq!(
            apply_series(function, range, &Series::new(samples.iter().copied()), now),
            value
        );
    }

    #[test]
    fn answers_stay_within_what_the_samples_allow(
        range in range(),
        samples in samples(),
        now in time(),
    ) {
        let series = Series::new(samples.iter().copied());
        let window = series.window(range, now);
        let low = window.iter().map(|s| s.value).fold(f64::INFINITY, f64::min);
        let high = window.iter().map(|s| s.value).fold(f64::NEG_INFINITY, f64::max);
        for function in [Avg, Max, Min] {
            if let Some(v) = apply(function, range, &samples, now) {
                // The v / n fallback of the mean may round a hair past an end.
                let slack = 1e-9 * low.abs().max(high.abs());
                prop_assert!(low - slack <= v && v <= high + slack, "{:?}: {}", function, v);
            }
        }
        for function in [Increase, Rate] {
            if let Some(v) = apply(function, range, &samples, now) {
                prop_assert!(v >= 0.0, "{:?}: {}", function, v);
            }
        }
    }

    #[test]
    fn input_order_does_not_matter_for_distinct_times(
        function in window_fn(),
        range in range(),
        samples in samples(),
        now in time(),
    ) {
        // One sample per instant, else "the last one given wins" depends on
        // the order on purpose.
        let distinct = Series::new(samples).samples().to_vec();
        let mut reversed = distinct.clone();
        reversed.reverse();
        let (forward, backward) = (
            apply(function, range, &distinct, now),
            apply(function, range, &reversed, now),
        );
        prop_assert_eq!(forward.map(f64::to_bits), backward.map(f64::to_bits));
    }
}

// The least-squares fit on its own, field by field: `trend` and `predict`
// read only its slope and one value, which let mutants of the means through.

#[test]
fn the_fit_is_centred_on_the_mean_time_and_value() {
    // 1, 3, 2, 6 at offsets 0, 10, 20, 30 from the origin 10: mean time 15,
    // mean value 3; covariance (-15·-2 + -5·0 + 5·-1 + 15·3) = 70, variance
    // 225 + 25 + 25 + 225 = 500, slope 0.14.
    let fit = Fit::through(&GAUGE).expect("a line");
    assert_eq!(fit.origin, 10);
    assert_close(Some(fit.mean_time), 15.0);
    assert_close(Some(fit.mean_value), 3.0);
    assert_close(Some(fit.slope), 0.14);
    // At the mean time (25) the line passes through the mean value; 10 s
    // later it has risen by 1.4; 25 s before, fallen by 3.5.
    assert_close(Some(fit.value_at(25)), 3.0);
    assert_close(Some(fit.value_at(35)), 4.4);
    assert_close(Some(fit.value_at(0)), -0.5);
}

#[test]
fn a_fit_needs_two_samples_at_distinct_times() {
    assert!(Fit::through(&[]).is_none());
    assert!(Fit::through(&[s(5, 1.0)]).is_none());
    let two = Fit::through(&[s(5, 1.0), s(7, 5.0)]).expect("a line");
    assert_close(Some(two.slope), 2.0);
    assert_close(Some(two.mean_time), 1.0);
    assert_close(Some(two.value_at(9)), 9.0);
}

#[test]
fn a_fit_of_huge_values_falls_back_to_means_that_cannot_overflow() {
    // The plain sum of the values overflows; their mean does not.
    let big = f64::MAX / 2.0;
    let fit = Fit::through(&[s(0, big), s(10, big), s(20, big)]).expect("a line");
    assert_close(Some(fit.mean_value), big);
    assert_eq!(fit.slope, 0.0);
    assert_close(Some(fit.value_at(100)), big);
}

#[test]
fn a_fit_of_samples_at_one_instant_has_no_line() {
    // The normal form never holds two samples at one instant; the fit is
    // safe without it all the same (no division by a zero variance).
    assert!(Fit::through(&[s(5, 1.0), s(5, 3.0)]).is_none());
}

#[test]
fn seconds_between_the_ends_of_time_is_exact() {
    // Past i64: the wide fallback, which must subtract too.
    assert_eq!(
        seconds_between(i64::MIN, i64::MAX),
        18_446_744_073_709_551_615.0
    );
    assert_eq!(
        seconds_between(i64::MAX, i64::MIN),
        -18_446_744_073_709_551_615.0
    );
    assert_eq!(seconds_between(-5, 5), 10.0);
}
