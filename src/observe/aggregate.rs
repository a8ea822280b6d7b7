//! A workload's values made of its pods': each metric as the catalog (or
//! the declared metric) aggregates it, at each instant its pods have
//! samples for, and a counter summed over its pods grown by each pod's own
//! growth, so that a pod replaced is no reset of the workload's count.

use super::{catalog, counter_total, History, Kind, Sample, Target};
use std::sync::Arc;

impl History {
    /// Appends a workload's values aggregated from its pods (see the
    /// catalog's aggregation of each metric): at each instant its pods have
    /// samples for since the workload's last one, which is `now` for what
    /// the objects say and, for a window Prometheus filled in, each step of
    /// it. A declared metric Prometheus answered for the workload itself is
    /// its own and wins: its pods' series of it, if any, are not added in.
    pub(super) fn record_aggregate(
        &mut self,
        target: &mut Target,
        pods: &[&Target],
        now: i64,
        append: bool,
    ) {
        let kept = Self::kept(&mut self.objects, &target.id);
        // The map `record` shared with the target: let go of it, or the
        // first write below copies it.
        target.metrics = Arc::default();
        if !append {
            target.metrics = Arc::clone(&kept.metrics);
            return;
        }
        let builtins = catalog::METRICS
            .iter()
            // The workload's own age is its own, not its pods'.
            .filter(|m| m.kinds.contains(Kind::Pods) && m.name != "age")
            .map(|m| (m.name, m.aggregation, m.series == catalog::Series::Counter));
        let declared = self
            .declared
            .iter()
            .map(|(n, &(aggregation, counter))| (n.as_str(), aggregation, counter));
        // Reused across metrics: one workload's pods' new samples, by time.
        let mut new: Vec<(i64, f64)> = Vec::new();
        let mut values: Vec<f64> = Vec::new();
        for (name, aggregation, counter) in builtins.chain(declared) {
            if kept.own.contains(name) {
                continue;
            }
            let after = kept
                .metrics
                .get(name)
                .and_then(|s| s.samples().last())
                .map_or(i64::MIN, |s| s.at);
            // Only for the counters rules read: one only shown (in records
            // and AI cases) keeps its latest sum, at no cost per pod.
            let read = self.read.as_ref().is_none_or(|read| read.contains(name));
            if counter && read && aggregation == catalog::Aggregation::Sum {
                // A pod replaced takes its count with it: the sum would
                // drop, and read as a reset of the whole workload's.
                if !kept.counters.contains_key(name) {
                    kept.counters.insert(name.to_string(), Default::default());
                }
                let Some(total) = kept.counters.get_mut(name) else {
                    continue;
                };
                let series = pods.iter().filter_map(|pod| {
                    // Walked back from the end, as `Series::window` is: a
                    // binary search's probes are cache misses, measured.
                    let samples = pod.metrics.get(name)?.samples();
                    let later = samples.iter().rev().take_while(|s| s.at > now).count();
                    let to = samples.len() - later;
                    let upto = samples.get(..to)?;
                    let from = to - upto.iter().rev().take_while(|s| s.at > after).count();
                    Some((counter_total::key(&pod.id), samples.get(from..to)?))
                });
                let pairing = counter_total::Pairing::EachRead(counter_total::gap(self.retention));
                for sample in total.advance(series, pairing) {
                    Self::store(&self.read, Arc::make_mut(&mut kept.metrics), name, sample);
                }
                continue;
            }
            if counter {
                // Read again later, its total starts from the pods' sum
                // then, not from what it was before.
                kept.counters.remove(name);
            }
            new.clear();
            for pod in pods {
                let Some(series) = pod.metrics.get(name) else {
                    continue;
                };
                for sample in series.samples().iter().rev() {
                    if sample.at <= after {
                        break;
                    }
                    if sample.at <= now {
                        new.push((sample.at, sample.value));
                    }
                }
            }
            // Stable: each instant's values stay in the pods' order.
            new.sort_by_key(|&(at, _)| at);
            for instant in new.chunk_by(|a, b| a.0 == b.0) {
                values.clear();
                values.extend(instant.iter().map(|&(_, value)| value));
                if let Some(value) = aggregation.combine(&values) {
                    Self::store(
                        &self.read,
                        Arc::make_mut(&mut kept.metrics),
                        name,
                        Sample::new(instant[0].0, value),
                    );
                }
            }
        }
        target.metrics = Arc::clone(&kept.metrics);
    }
}
