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
use std::hash::Hasher;

/// The most series of one counter followed on one target: a kubelet has a
/// handful of eviction signals, a pod a handful of containers, a workload
/// its pods; past it, the rest is dropped.
pub const MAX_SERIES: usize = 4096;

/// One series, by a hash of what names it (its labels, its pod).
pub type SeriesKey = u64;

/// The key of the series `name` names: a hash, so that the state stays
/// small whatever the name's length. FNV-1a, fixed (no per-process seed)
/// and cheap for short names: the operator keys every pod of every
/// workload each cycle. Two names of one target that collide are counted
/// as one series, which only their own target's count could notice.
pub fn key(name: &impl std::hash::Hash) -> SeriesKey {
    let mut hasher = Fnv(0xcbf2_9ce4_8422_2325);
    name.hash(&mut hasher);
    hasher.finish()
}

struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// The longest gap across which a series' samples are compared, for
/// rules whose longest window on the counter is `lookback` seconds: that
/// window, and at least a sample's staleness, so that a rule on the latest
/// value alone still sees the total grow.
pub fn gap(lookback: i64) -> i64 {
    lookback.max(super::truth::STALENESS_SECONDS)
}

/// Which earlier sample of a series its next sample is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pairing {
    /// One at most this many seconds before ([`gap`]): Prometheus' range
    /// reads bring every step, so a series missing for longer than the
    /// rules' windows was gone, as PromQL's `increase` sees it.
    Within(i64),
    /// One at the total's previous instant, however long ago (a series
    /// sampled once a cycle: a workload's pods), or at most this many
    /// seconds before.
    EachRead(i64),
}

/// The running total of one counter on one target.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Total {
    value: f64,
    /// The instant of the total's last sample; `None` before the first.
    at: Option<i64>,
    /// Each followed series' last sample, by key: a few series, looked up
    /// every cycle, sit closer together in a sorted vector than in a map.
    last: Vec<(SeriesKey, Sample)>,
}

impl Total {
    /// Takes in each series' samples after the last instant taken, and
    /// returns the total at each of their instants, in time order.
    ///
    /// A series' sample is compared with its previous one as `pairing`
    /// says; otherwise the series starts again, as after a gap no window
    /// holds both samples. A second sample of one series at one instant
    /// replaces the first, with no growth.
    pub fn advance<'s>(
        &mut self,
        series: impl IntoIterator<Item = (SeriesKey, &'s [Sample])>,
        pairing: Pairing,
    ) -> Vec<Sample> {
        let (gap, each_read) = match pairing {
            Pairing::Within(gap) => (gap, false),
            Pairing::EachRead(gap) => (gap, true),
        };
        let after = self.at.unwrap_or(i64::MIN);
        let mut taken: Vec<(i64, SeriesKey, f64)> = series
            .into_iter()
            .flat_map(|(key, samples)| samples.iter().map(move |s| (s.at, key, s.value)))
            .filter(|&(at, _, value)| at > after && value.is_finite())
            .collect();
        // Stable: each instant's series stay in the order given.
        taken.sort_by_key(|&(at, _, _)| at);
        let mut totals = Vec::new();
        for instant in taken.chunk_by(|a, b| a.0 == b.0) {
            let at = instant[0].0;
            let previous = self.at;
            for &(_, key, value) in instant {
                let growth = match self.last.binary_search_by_key(&key, |&(k, _)| k) {
                    Ok(i) => {
                        let last = &mut self.last[i].1;
                        let compared = (each_read && Some(last.at) == previous)
                            || at.saturating_sub(last.at) <= gap;
                        let growth = match compared {
                            _ if last.at == at => 0.0,
                            true if value >= last.value => value - last.value,
                            true => value,
                            // Back after a gap: it starts again.
                            false => 0.0,
                        };
                        *last = Sample::new(at, value);
                        growth
                    }
                    Err(i) => {
                        if self.last.len() < MAX_SERIES {
                            self.last.insert(i, (key, Sample::new(at, value)));
                        }
                        // Where the total starts, a series' value is its
                        // level; a series new after that has not grown yet.
                        if previous.is_none() {
                            value
                        } else {
                            0.0
                        }
                    }
                };
                let next = self.value + growth.max(0.0);
                if next.is_finite() {
                    self.value = next;
                }
            }
            self.at = Some(at);
            totals.push(Sample::new(at, self.value));
        }
        // A series not sampled at the last instant nor within the gap is
        // gone: it would start again.
        if let Some(now) = self.at {
            self.last.retain(|(_, last)| {
                (each_read && last.at == now) || now.saturating_sub(last.at) <= gap
            });
        }
        totals
    }
}

#[cfg(test)]
mod tests;
