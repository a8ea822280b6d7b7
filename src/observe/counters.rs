//! Counters read through Prometheus, several series of which land on one
//! target (a kubelet's `kubelet_evictions` per eviction signal, a declared
//! counter's raw selector per container): each cycle's answer keeps them
//! apart, by their labels, for the target's [`Total`], which grows by each
//! series' own growth (see [`crate::engine::counter_total`]).
//!
//! Invariants: pure; at most [`MAX_SERIES_PER_ANSWER`] series of one metric land on
//! one target in one answer, whatever Prometheus sends.

use crate::engine::counter_total::{gap, key, Pairing};
pub use crate::engine::counter_total::{SeriesKey, Total};
use crate::engine::series::Sample;
use std::collections::BTreeMap;

/// The most series of one counter an answer brings to one target: a
/// kubelet has a handful of eviction signals, a pod a handful of
/// containers; an answer with more is not trusted to be about one target,
/// and the rest is dropped.
pub const MAX_SERIES_PER_ANSWER: usize = 256;

/// One series, by a hash of its sorted labels: its labels are not needed
/// again, and a hash keeps the state small whatever the labels' length.
pub fn series_key(labels: &std::collections::HashMap<String, String>) -> SeriesKey {
    let mut sorted: Vec<(&String, &String)> = labels.iter().collect();
    sorted.sort_unstable();
    key(&sorted)
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
        if self.series.len() >= MAX_SERIES_PER_ANSWER && !self.series.contains_key(&key) {
            return;
        }
        let kept = self.series.entry(key).or_default();
        kept.extend(samples.into_iter().filter(|s| s.value.is_finite()));
    }

    /// Takes this cycle's samples into `total`, and returns the total at
    /// each of their instants.
    pub fn advance(&self, total: &mut Total) -> Vec<Sample> {
        let series = self.series.iter().map(|(key, s)| (*key, s.as_slice()));
        total.advance(series, Pairing::Within(gap(self.lookback)))
    }
}
