//! `kubeskippy_ai_analysis_duration_seconds`: how long analyses take, by
//! backend model and outcome, as a Prometheus histogram the operator's
//! metrics endpoint renders. Pure: the caller observes each verdict.

use super::verdict::{Verdict, VerdictOutcome};
use std::collections::BTreeMap;
use std::fmt::Write;

pub const NAME: &str = "kubeskippy_ai_analysis_duration_seconds";

/// Upper bounds of the buckets, in seconds: a loopback fake answers in
/// milliseconds, a small local model in seconds, a remote one in tens.
pub const BUCKETS: [f64; 10] = [0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

#[derive(Debug, Clone, Default, PartialEq)]
struct Series {
    /// Cumulative counts per bucket of [`BUCKETS`].
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// The histogram, per (model, outcome) label pair.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AnalysisDurations {
    series: BTreeMap<(String, String), Series>,
}

impl AnalysisDurations {
    /// Counts `verdict`: its latency under its model and outcome (`ai`, or
    /// the fallback's reason: `declined`, `rejected`, `timed-out`, …).
    pub fn observe(&mut self, verdict: &Verdict) {
        let outcome = match &verdict.outcome {
            VerdictOutcome::Ai(_) => "ai",
            VerdictOutcome::Fallback { why, .. } => why.code(),
        };
        let seconds = verdict.latency.as_secs_f64();
        let series = self
            .series
            .entry((verdict.model.clone(), outcome.to_string()))
            .or_default();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                series.buckets[i] += 1;
            }
        }
        series.count += 1;
        series.sum += seconds;
    }

    /// The Prometheus text exposition of the histogram.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP {NAME} How long an AI analysis took, from the request to the judged answer."
        );
        let _ = writeln!(out, "# TYPE {NAME} histogram");
        for ((model, outcome), s) in &self.series {
            let labels = format!("model=\"{}\",outcome=\"{outcome}\"", escape(model));
            for (bound, n) in BUCKETS.iter().zip(s.buckets) {
                let _ = writeln!(out, "{NAME}_bucket{{{labels},le=\"{bound}\"}} {n}");
            }
            let _ = writeln!(out, "{NAME}_bucket{{{labels},le=\"+Inf\"}} {}", s.count);
            let _ = writeln!(out, "{NAME}_sum{{{labels}}} {}", s.sum);
            let _ = writeln!(out, "{NAME}_count{{{labels}}} {}", s.count);
        }
        out
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
