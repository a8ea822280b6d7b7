//! A counter made of several series — a node's eviction counter per
//! signal, a pod's per container, a workload's restarts per pod — kept as
//! one running total that grows by each series' own growth, as PromQL's
//! `sum(increase(…))` counts it. Summing the series at each instant would
//! not: a series that appears would count its whole value as growth, and
//! one that resets or vanishes (a pod replaced) would make the sum drop,
//! which a window function reads as a reset of the whole sum.
//!
//! Series by series: a sample above the series' previous one adds the
//! difference; one below it is that series' reset and adds its own value;
//! a series' first sample adds nothing (PromQL's `increase` needs two
//! samples of a series in its window), nor does one after a gap (see
//! [`Total::advance`]); a series that vanishes adds nothing more. The
//! total starts at the sum of the series first taken, so that while
//! nothing resets, appears or vanishes it is their sum.
//!
//! Invariants: pure, and never panics on any sample; the total stays
//! finite and never falls; at most [`MAX_SERIES`] series are followed; a
//! sample at or before the total's last instant is not taken again.

use super::series::Sample;
use std::collections::{BTreeMap, HashMap};

/// The most series of one counter followed on one target: a kubelet has a
/// handful of eviction signals, a pod a handful of containers, a workload
/// its pods; past it, the rest is dropped.
pub const MAX_SERIES: usize = 4096;

/// One series, by a hash of what names it (its labels, its pod).
pub type SeriesKey = u64;

/// The key of the series `name` names: a hash, so that the state stays
/// small whatever the name's length.
pub fn key(name: &impl std::hash::Hash) -> SeriesKey {
    use std::hash::Hasher;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    name.hash(&mut hasher);
    hasher.finish()
}

/// The longest gap across which a series' samples are compared, for
/// rules whose longest window on the counter is `lookback` seconds: that
/// window, and at least a sample's staleness, so that a rule on the latest
/// value alone still sees the total grow.
pub fn gap(lookback: i64) -> i64 {
    lookback.max(super::truth::STALENESS_SECONDS)
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
    /// Takes in each series' samples after the last instant taken, and
    /// returns the total at each of their instants, in time order.
    ///
    /// A series' sample is compared with its previous one when that one was
    /// at the total's previous instant (the series was there at the last
    /// read, however long ago) or at most `gap` seconds before; otherwise
    /// the series starts again, as after a gap no window of `gap` holds
    /// both samples.
    pub fn advance<'s>(
        &mut self,
        series: impl IntoIterator<Item = (SeriesKey, &'s [Sample])>,
        gap: i64,
    ) -> Vec<Sample> {
        let after = self.at.unwrap_or(i64::MIN);
        let mut by_instant: BTreeMap<i64, Vec<(SeriesKey, f64)>> = BTreeMap::new();
        for (key, samples) in series {
            for sample in samples {
                if sample.at > after && sample.value.is_finite() {
                    by_instant
                        .entry(sample.at)
                        .or_default()
                        .push((key, sample.value));
                }
            }
        }
        let mut totals = Vec::with_capacity(by_instant.len());
        for (at, values) in by_instant {
            let previous = self.at;
            for (key, value) in values {
                let growth = match self.last.get(&key) {
                    Some(last)
                        if Some(last.at) == previous || at.saturating_sub(last.at) <= gap =>
                    {
                        if value >= last.value {
                            value - last.value
                        } else {
                            value
                        }
                    }
                    // Where the total starts, a series' value is its level.
                    _ if previous.is_none() => value,
                    _ => 0.0,
                };
                let next = self.value + growth.max(0.0);
                if next.is_finite() {
                    self.value = next;
                }
                if self.last.len() < MAX_SERIES || self.last.contains_key(&key) {
                    self.last.insert(key, Sample::new(at, value));
                }
            }
            self.at = Some(at);
            totals.push(Sample::new(at, self.value));
        }
        // A series not sampled at the last instant nor within the gap is
        // gone: it would start again.
        if let Some(now) = self.at {
            self.last
                .retain(|_, last| last.at == now || now.saturating_sub(last.at) <= gap);
        }
        totals
    }
}

#[cfg(test)]
mod tests;
