//! Counters read through Prometheus, several series of which land on one
//! target (a kubelet's `kubelet_evictions` per eviction signal, a declared
//! counter's raw selector per container): kept as one running total per
//! target that grows by each series' own growth, as PromQL's
//! `sum(increase(…))` counts it. Summing the series first would not: a
//! series that appears would count its whole value as growth, and one that
//! resets or vanishes would make the sum drop, which reads as a reset of
//! the whole sum.
//!
//! So, series by series: a sample above the series' previous one adds the
//! difference; one below it is a reset and adds its own value; a series'
//! first sample adds nothing (PromQL's `increase` over a window needs two
//! samples of the series in it), nor does a sample after a gap longer than
//! the longest window the rules read (no window holds both); a series that
//! vanishes adds nothing more. The total starts at the sum of the series
//! first read, so that while nothing resets it is their sum.
//!
//! Invariants: pure; at most [`MAX_SERIES`] series of one metric on one
//! target are followed, whatever Prometheus sends; a sample at or before
//! the total's last one (the range query reads the last instant again) is
//! taken once.

use crate::engine::series::Sample;
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};

/// The most series of one counter followed on one target: a kubelet has a
/// handful of eviction signals, a pod a handful of containers; an answer
/// with more is not trusted to be about one target, and the rest is
/// dropped.
pub const MAX_SERIES: usize = 256;

/// One series, by a hash of its sorted labels: its labels are not needed
/// again, and a hash keeps the state small whatever the labels' length.
pub type SeriesKey = u64;

pub fn series_key(labels: &std::collections::HashMap<String, String>) -> SeriesKey {
    let mut sorted: Vec<(&String, &String)> = labels.iter().collect();
    sorted.sort_unstable();
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    sorted.hash(&mut hasher);
    hasher.finish()
}

/// What one cycle's answers brought of one counter on one target.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Answered {
    /// The query that answered first for it: another query of the same
    /// metric (a second template) is not merged into it.
    pub promql: String,
    /// The longest window the rules read, in seconds: the longest gap
    /// across which a series' samples are still compared.
    pub lookback: i64,
    pub series: BTreeMap<SeriesKey, Vec<Sample>>,
}

impl Answered {
    /// Adds one series, unless it is one too many.
    pub fn add(&mut self, key: SeriesKey, samples: Vec<Sample>) {
        if self.series.len() >= MAX_SERIES && !self.series.contains_key(&key) {
            return;
        }
        let kept = self.series.entry(key).or_default();
        kept.extend(samples.into_iter().filter(|s| s.value.is_finite()));
    }
}

/// The running total of one counter on one target.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Total {
    value: f64,
    /// The instant of the total's last sample; `None` before the first.
    at: Option<i64>,
    /// Each followed series' last sample.
    last: HashMap<SeriesKey, Sample>,
}

impl Total {
    /// Takes in `answered`'s samples after the last instant taken, and
    /// returns the total at each of their instants, in time order.
    pub fn advance(&mut self, answered: &Answered) -> Vec<Sample> {
        let after = self.at.unwrap_or(i64::MIN);
        let mut by_instant: BTreeMap<i64, Vec<(SeriesKey, f64)>> = BTreeMap::new();
        for (key, samples) in &answered.series {
            for sample in samples.iter().filter(|s| s.at > after) {
                by_instant
                    .entry(sample.at)
                    .or_default()
                    .push((*key, sample.value));
            }
        }
        let gap = gap(answered.lookback);
        let mut totals = Vec::with_capacity(by_instant.len());
        for (at, values) in by_instant {
            let first = self.at.is_none();
            for (key, value) in values {
                let growth = match self.last.get(&key) {
                    Some(last) if at - last.at <= gap => {
                        if value >= last.value {
                            value - last.value
                        } else {
                            value
                        }
                    }
                    // Where the total starts, the series' value is its
                    // level, not growth.
                    _ if first => value,
                    _ => 0.0,
                };
                self.value += growth.max(0.0);
                if self.last.len() < MAX_SERIES || self.last.contains_key(&key) {
                    self.last.insert(key, Sample::new(at, value));
                }
            }
            self.at = Some(at);
            totals.push(Sample::new(at, self.value));
        }
        // A series not sampled for longer than any window is gone.
        if let Some(now) = self.at {
            self.last.retain(|_, last| now - last.at <= gap);
        }
        totals
    }
}

/// The longest gap across which a series' samples are compared: the
/// longest window the rules read, and at least a sample's staleness, so
/// that a rule on the latest value alone still sees the total grow.
fn gap(lookback: i64) -> i64 {
    lookback.max(crate::engine::truth::STALENESS_SECONDS)
}
