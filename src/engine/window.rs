//! Window functions: `avg`, `max`, `min`, `increase`, `rate`, `trend`,
//! `predict` and `changes` over the samples of the last `range` seconds
//! (LANGUAGE.md §4, `catalog::FUNCTIONS`).
//!
//! Every function answers `None` (unknown) rather than guess: too few samples,
//! or arithmetic that leaves the finite numbers. A rule on an unknown value
//! never fires, which is the point: missing data must not become a value.

use super::series::{Sample, Series};
use crate::ir::{Seconds, Window, WindowFn};

/// Applies `function` to the samples in the window `(now - range, now]`.
///
/// `samples` may be in any order, hold several samples for one instant (the
/// last one given wins) and contain NaN or ±∞ (ignored). The answer is `None`
/// when the window has too few samples — `avg`, `max`, `min` need one;
/// `increase`, `rate`, `trend`, `predict` need two at different times — and
/// is otherwise finite: anything that would overflow is `None` too.
pub fn apply(function: WindowFn, range: Seconds, samples: &[Sample], now: i64) -> Option<f64> {
    // Filter before normalizing: only the window's samples are sorted.
    let start = i128::from(now) - i128::from(range.0);
    let in_window = samples.iter().copied().filter(|s| {
        let at = i128::from(s.at);
        start < at && at <= i128::from(now)
    });
    evaluate(function, range, Series::new(in_window).samples(), now)
}

/// Like [`apply`] on a series normalized once: the engine's path when several
/// rules read windows of the same metric on the same target.
pub fn apply_series(function: WindowFn, range: Seconds, series: &Series, now: i64) -> Option<f64> {
    evaluate(function, range, series.window(range, now), now)
}

/// Like [`apply_series`], with the window's own look-ahead for `predict`
/// (`predict(m, 6h, 4d)`); without one, `predict` looks the window's length
/// ahead.
pub fn apply_window(window: Window, series: &Series, now: i64) -> Option<f64> {
    let horizon = window.horizon.unwrap_or(window.range);
    evaluate(
        window.function,
        horizon,
        series.window(window.range, now),
        now,
    )
}

/// `window` is in normal form (finite, strictly increasing times) and holds
/// exactly the samples of `(now - range, now]`; `predict` looks `horizon`
/// ahead of `now`.
fn evaluate(function: WindowFn, horizon: Seconds, window: &[Sample], now: i64) -> Option<f64> {
    let values = window.iter().map(|s| s.value);
    let result = match function {
        WindowFn::Avg => mean(values),
        WindowFn::Max => values.reduce(f64::max),
        WindowFn::Min => values.reduce(f64::min),
        WindowFn::Increase => increase(window),
        WindowFn::Rate => rate(window),
        WindowFn::Trend => Fit::through(window).map(|fit| fit.slope),
        WindowFn::Predict => {
            let at = i128::from(now) + i128::from(horizon.0);
            Fit::through(window).map(|fit| fit.value_at(at))
        }
        WindowFn::Changes => changes(window),
    };
    result.filter(|v| v.is_finite())
}

/// The arithmetic mean, `None` for no values.
///
/// The plain sum overflows for values near `f64::MAX` even though their mean
/// is finite; summing `v / n` instead cannot overflow (each term is at most
/// `MAX / n`) and costs a little precision, so it is only the fallback.
fn mean(values: impl Iterator<Item = f64> + Clone) -> Option<f64> {
    let n = values.clone().count();
    if n == 0 {
        return None;
    }
    let n = n as f64;
    let sum: f64 = values.clone().sum();
    if sum.is_finite() {
        Some(sum / n)
    } else {
        Some(values.map(|v| v / n).sum())
    }
}

/// How much a counter grew: the sum of the rises between consecutive samples,
/// where a drop is a reset and the new value is growth from zero (PromQL's
/// reset handling, without its extrapolation to the window's edges).
///
/// Extrapolation is what makes PromQL report `increase` 2.5 for a counter that
/// only ever went up by whole requests; here the answer is exactly what the
/// samples show, so `increase(restarts, 10m) >= 3` means three restarts were
/// seen. A reset to a negative value (not a counter, but clusters send
/// anything) counts as no growth, so the answer is never negative.
fn increase(window: &[Sample]) -> Option<f64> {
    if window.len() < 2 {
        return None;
    }
    let growth = window.windows(2).map(|pair| match pair {
        [previous, current] if current.value >= previous.value => current.value - previous.value,
        [_, current] => current.value.max(0.0),
        // `windows(2)` only yields pairs.
        _ => 0.0,
    });
    Some(growth.sum())
}

/// How many times the value differs from the sample before it, as PromQL's
/// `changes()`: one sample is no change (0), no sample is unknown. A gauge
/// that held still, a counter that did not move and a boolean that never
/// flipped all give 0.
fn changes(window: &[Sample]) -> Option<f64> {
    if window.is_empty() {
        return None;
    }
    let changed = window
        .windows(2)
        .filter(|pair| matches!(pair, [previous, current] if current.value != previous.value))
        .count();
    Some(changed as f64)
}

/// The per-second increase: [`increase`] divided by the time between the
/// first and the last sample of the window.
///
/// Not by the window's length: the samples rarely sit on the window's edges,
/// and the growth we measured happened between the first and the last sample,
/// so dividing by that span is exact on the samples we have, where dividing by
/// the range would understate the rate and extrapolating to the edges (PromQL)
/// would invent growth nobody observed.
fn rate(window: &[Sample]) -> Option<f64> {
    let (first, last) = (window.first()?, window.last()?);
    let span = seconds_between(first.at, last.at);
    // Normal form: two or more samples have distinct times, so span > 0.
    if span <= 0.0 {
        return None;
    }
    Some(increase(window)? / span)
}

/// `to - from` in seconds as an `f64`: exact whenever the difference is below
/// 2^53 s (285 million years), even for timestamps far beyond that.
fn seconds_between(from: i64, to: i64) -> f64 {
    // The i64 difference almost always fits; converting an i128 to f64 is a
    // slow software routine (a quarter of an evaluation cycle when used for
    // every sample), so it is only the fallback.
    match to.checked_sub(from) {
        Some(difference) => difference as f64,
        None => (i128::from(to) - i128::from(from)) as f64,
    }
}

/// The least-squares line through a window's samples.
///
/// Numerically careful: times are first taken relative to the first sample in
/// exact integer arithmetic, then centred on their mean before any product is
/// summed. Summing `t²` of raw timestamps (≈ 2^40 for milliseconds since the
/// epoch, 2^31 for seconds) would cancel away every significant digit of the
/// slope; centred sums stay the size of the window.
struct Fit {
    /// The time all offsets are taken from (the first sample's).
    origin: i64,
    /// The mean of the sample times, in seconds after `origin`.
    mean_time: f64,
    mean_value: f64,
    /// Value units per second.
    slope: f64,
}

impl Fit {
    /// The line through `window`; `None` for fewer than two distinct times
    /// (the slope is undefined). Not named `new`: cargo-mutants skips every
    /// function of that name, and this arithmetic is what most needs its
    /// mutants (docs/testing.md, "Mutation testing").
    fn through(window: &[Sample]) -> Option<Fit> {
        if window.len() < 2 {
            return None;
        }
        let origin = window.first()?.at;
        let offset = |s: &Sample| seconds_between(origin, s.at);
        // Both sums in one pass, each in the same order and from the same
        // -0.0 as `Iterator::sum`, so the means are bit for bit those of
        // `mean`, which stays the fallback for sums that overflow.
        let (mut time_sum, mut value_sum) = (-0.0, -0.0);
        for sample in window {
            time_sum += offset(sample);
            value_sum += sample.value;
        }
        let n = window.len() as f64;
        let mean_time = if time_sum.is_finite() {
            time_sum / n
        } else {
            mean(window.iter().map(offset))?
        };
        let mean_value = if value_sum.is_finite() {
            value_sum / n
        } else {
            mean(window.iter().map(|s| s.value))?
        };
        let (mut covariance, mut variance) = (0.0, 0.0);
        for sample in window {
            let dt = offset(sample) - mean_time;
            covariance += dt * (sample.value - mean_value);
            variance += dt * dt;
        }
        // Distinct integer times make the variance at least 1/2; the check
        // guards the division all the same.
        if !(variance > 0.0 && variance.is_finite()) {
            return None;
        }
        Some(Fit {
            origin,
            mean_time,
            mean_value,
            slope: covariance / variance,
        })
    }

    /// The line's value at time `at` (wide, so `now + range` cannot overflow).
    fn value_at(&self, at: i128) -> f64 {
        let offset = (at - i128::from(self.origin)) as f64;
        self.mean_value + self.slope * (offset - self.mean_time)
    }
}

#[cfg(test)]
mod tests;
