//! Samples of one metric on one target, and the normal form the window
//! functions compute on.
//!
//! Observations arrive as they come: out of order, twice for the same instant
//! (two sources, a retried scrape), or with NaN/±∞ (Prometheus' stale marker is
//! a NaN; a division by zero upstream gives ∞). [`Series::new`] turns any of
//! that into a [`Series`]: finite values only, sorted by time, one value per
//! instant. Every window function then works on a sorted, deduplicated slice,
//! so none of them has to guard against disorder again.

use crate::ir::Seconds;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One observation of a metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// When it was observed, in whole seconds (only differences matter).
    pub at: i64,
    /// The value in the metric's canonical unit (see [`crate::catalog::Unit`]):
    /// percent in percentage points, ratios as fractions, bytes, cores, seconds.
    pub value: f64,
}

impl Sample {
    /// A sample at `at` seconds with `value`.
    pub fn new(at: i64, value: f64) -> Sample {
        Sample { at, value }
    }
}

/// Samples in normal form: finite values only, strictly increasing times.
///
/// Build one with [`Series::new`]; the invariant holds for every value of this
/// type because the field is private.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    samples: Vec<Sample>,
}

impl Series {
    /// Normalizes raw samples: drops non-finite values, sorts by time and keeps
    /// one sample per instant.
    ///
    /// Non-finite values are dropped *before* duplicates are resolved: a NaN
    /// means "no value here", so it must not hide a finite sample at the same
    /// instant. Of several finite samples at one instant the one given last
    /// wins: callers append in arrival order, so a later sample for the same
    /// instant is a correction (a re-scrape, a second source that caught up).
    /// Keeping one per instant matters for counters: two different values at
    /// one instant would otherwise look like a reset or a jump in zero time.
    pub fn new(samples: impl IntoIterator<Item = Sample>) -> Series {
        let mut finite: Vec<Sample> = samples
            .into_iter()
            .filter(|s| s.value.is_finite())
            .collect();
        // Stable: samples at one instant stay in the order they were given, so
        // "the last one wins" below is well defined. Linear on sorted input,
        // the common case.
        finite.sort_by_key(|s| s.at);
        let mut samples: Vec<Sample> = Vec::with_capacity(finite.len());
        for sample in finite {
            match samples.last_mut() {
                Some(last) if last.at == sample.at => *last = sample,
                _ => samples.push(sample),
            }
        }
        Series { samples }
    }

    /// All samples, sorted by strictly increasing time.
    pub fn samples(&self) -> &[Sample] {
        &self.samples
    }

    /// The samples in the window `(now - range, now]`, still in normal form.
    ///
    /// Half-open like Prometheus' range selectors: a sample exactly `range`
    /// old belongs to the previous window, so consecutive windows of one rule
    /// never count a sample twice. Binary search, so one normalized series can
    /// serve every window of every rule on the target cheaply.
    pub fn window(&self, range: Seconds, now: i64) -> &[Sample] {
        let to = self.end(now);
        let before = self.samples.get(..to).unwrap_or(&[]);
        // i128: `now - range` overflows i64 for extreme arguments, and the
        // engine must not panic (debug) or wrap (release) on any input. A
        // start below every i64 is before every sample.
        let Ok(start) = i64::try_from(i128::from(now) - i128::from(range.0)) else {
            return before;
        };
        // Walked back from the end rather than found by binary search: a
        // window function reads every sample of the window anyway, and the
        // walk loads them in order, where each probe of a binary search is a
        // cache miss that waits for the one before (most of an evaluation's
        // time, measured, when the series do not fit in the cache).
        let inside = before.iter().rev().take_while(|s| s.at > start).count();
        before
            .get(before.len().saturating_sub(inside)..)
            .unwrap_or(&[])
    }

    /// Reads one sample per cache line of the window `(now - range, now]`,
    /// and what it read, so that the reads happen: the engine touches the
    /// windows of many targets before it computes on any, which lets the
    /// memory system serve the misses together.
    pub(super) fn touch(&self, range: Seconds, now: i64) -> i64 {
        // 64-byte lines, 16-byte samples.
        const PER_LINE: usize = 4;
        let start = i64::try_from(i128::from(now) - i128::from(range.0)).unwrap_or(i64::MIN);
        let mut read = 0;
        let mut i = self.end(now);
        while let Some(sample) = i.checked_sub(1).and_then(|last| self.samples.get(last)) {
            read ^= sample.at;
            if sample.at <= start {
                break;
            }
            i = i.saturating_sub(PER_LINE);
        }
        read
    }

    /// How many samples are at or before `now`. A live series' latest
    /// sample is almost always at or before `now`, which needs no search.
    pub(super) fn end(&self, now: i64) -> usize {
        match self.samples.last() {
            Some(last) if last.at > now => self.samples.partition_point(|s| s.at <= now),
            _ => self.samples.len(),
        }
    }

    /// Appends a sample as a live source produces them, keeping the normal
    /// form: a non-finite value is dropped, a sample at the last instant
    /// replaces it (a correction), an older one is dropped (it arrived too
    /// late to be in order). Amortized O(1), so a long run appends cheaply.
    pub fn push(&mut self, sample: Sample) {
        if !sample.value.is_finite() {
            return;
        }
        match self.samples.last_mut() {
            Some(last) if last.at == sample.at => *last = sample,
            Some(last) if last.at > sample.at => {}
            _ => self.samples.push(sample),
        }
    }

    /// Forgets the samples older than `at`: what no window can read any more.
    /// Linear in the samples kept, so callers trim in batches.
    pub fn forget_before(&mut self, at: i64) {
        let old = self.samples.partition_point(|s| s.at < at);
        self.samples.drain(..old);
    }
}

/// Makes the series `name` of `metrics` hold `sample` alone: a metric whose
/// past no rule reads keeps its latest value and nothing more.
pub fn replace(metrics: &mut BTreeMap<String, Arc<Series>>, name: &str, sample: Sample) {
    if !sample.value.is_finite() {
        return;
    }
    match metrics.get_mut(name) {
        Some(series) => {
            let series = Arc::make_mut(series);
            series.samples.clear();
            series.samples.push(sample);
        }
        None => {
            metrics.insert(name.to_string(), Arc::new(Series::new([sample])));
        }
    }
}

/// Appends `sample` to the series `name` of `metrics`, starting it if new:
/// how the simulator and the operator's observer keep each object's samples
/// across evaluations.
pub fn append(metrics: &mut BTreeMap<String, Arc<Series>>, name: &str, sample: Sample) {
    match metrics.get_mut(name) {
        Some(series) => Arc::make_mut(series).push(sample),
        None => {
            metrics.insert(name.to_string(), Arc::new(Series::new([sample])));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn times(samples: &[Sample]) -> Vec<i64> {
        samples.iter().map(|s| s.at).collect()
    }

    #[test]
    fn sorts_by_time() {
        let series = Series::new([
            Sample::new(30, 3.0),
            Sample::new(10, 1.0),
            Sample::new(20, 2.0),
        ]);
        assert_eq!(
            series.samples(),
            &[
                Sample::new(10, 1.0),
                Sample::new(20, 2.0),
                Sample::new(30, 3.0)
            ]
        );
    }

    #[test]
    fn drops_non_finite_values() {
        let series = Series::new([
            Sample::new(10, f64::NAN),
            Sample::new(20, f64::INFINITY),
            Sample::new(30, f64::NEG_INFINITY),
            Sample::new(40, 4.0),
        ]);
        assert_eq!(series.samples(), &[Sample::new(40, 4.0)]);
    }

    #[test]
    fn the_last_sample_given_for_an_instant_wins() {
        let series = Series::new([
            Sample::new(10, 1.0),
            Sample::new(20, 2.0),
            Sample::new(10, 5.0),
        ]);
        assert_eq!(
            series.samples(),
            &[Sample::new(10, 5.0), Sample::new(20, 2.0)]
        );
    }

    #[test]
    fn a_nan_does_not_hide_a_finite_sample_at_the_same_instant() {
        let series = Series::new([Sample::new(10, 1.0), Sample::new(10, f64::NAN)]);
        assert_eq!(series.samples(), &[Sample::new(10, 1.0)]);
    }

    #[test]
    fn window_is_open_at_the_start_and_closed_at_now() {
        let series = Series::new((0..=6).map(|i| Sample::new(i * 10, i as f64)));
        // (60 - 30, 60] = (30, 60]: 30 is out, 60 is in.
        assert_eq!(times(series.window(Seconds(30), 60)), vec![40, 50, 60]);
        // Samples after `now` (a clock skew upstream) are not in the window.
        assert_eq!(times(series.window(Seconds(30), 45)), vec![20, 30, 40]);
    }

    #[test]
    fn push_keeps_the_normal_form() {
        let mut series = Series::new([Sample::new(10, 1.0)]);
        series.push(Sample::new(20, 2.0));
        series.push(Sample::new(20, 3.0));
        series.push(Sample::new(15, 9.0));
        series.push(Sample::new(30, f64::NAN));
        series.push(Sample::new(40, 4.0));
        assert_eq!(
            series.samples(),
            &[
                Sample::new(10, 1.0),
                Sample::new(20, 3.0),
                Sample::new(40, 4.0)
            ]
        );
        series.forget_before(20);
        assert_eq!(times(series.samples()), vec![20, 40]);
        series.forget_before(i64::MAX);
        assert!(series.samples().is_empty());
    }

    #[test]
    fn empty_windows() {
        let series = Series::new([Sample::new(10, 1.0)]);
        assert!(series.window(Seconds(0), 10).is_empty());
        assert!(series.window(Seconds(5), 100).is_empty());
        assert!(Series::default().window(Seconds(60), 0).is_empty());
    }

    #[test]
    fn extreme_arguments_do_not_overflow() {
        let series = Series::new([Sample::new(i64::MIN, 1.0), Sample::new(i64::MAX, 2.0)]);
        assert_eq!(
            times(series.window(Seconds(u64::MAX), i64::MIN)),
            vec![i64::MIN]
        );
        // i64::MAX - u64::MAX = i64::MIN exactly: that sample is on the open
        // end of the window, so it is out.
        assert_eq!(
            times(series.window(Seconds(u64::MAX), i64::MAX)),
            vec![i64::MAX]
        );
        assert_eq!(times(series.window(Seconds(1), i64::MAX)), vec![i64::MAX]);
    }
}
