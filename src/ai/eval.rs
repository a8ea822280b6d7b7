//! Scoring a model on labelled incidents: per incident, what it chose and
//! whether that agrees with the label; in total, how often it agreed, how
//! many answers were invalid, whether its confidence tracks correctness,
//! and its latency. What a user reads to pick a model and a confidence
//! threshold.

use super::incident::Incident;
use super::verdict::{Verdict, VerdictOutcome, Why};
use serde::Serialize;
use std::fmt::Write;
use std::time::Duration;

/// Confidence bins for calibration: `[lower, upper)`, the last closed.
pub const BINS: [(f64, f64); 4] = [(0.0, 0.5), (0.5, 0.8), (0.8, 0.95), (0.95, 1.0)];
/// Thresholds a user might set for running AI choices on their own.
pub const THRESHOLDS: [f64; 5] = [0.5, 0.7, 0.8, 0.9, 0.95];

/// One incident's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub incident: String,
    pub label: String,
    /// What the model chose (`none` when it declined), or `-` when its
    /// answer was not used.
    pub answer: String,
    /// `ai`, `declined`, `rejected`, `unreachable`, `timed-out`, …
    pub outcome: String,
    pub agrees: bool,
    pub confidence: Option<f64>,
    /// Why the answer was not used, when it was not.
    pub reason: Option<String>,
    /// What the operator would do: the choice, the fallback or a
    /// notification.
    pub would_do: String,
    pub latency_ms: u64,
}

/// Agreement among the answers whose confidence falls in one bin.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bin {
    pub from: f64,
    pub to: f64,
    pub answers: usize,
    pub agreed: usize,
}

/// What a threshold would have let run: the AI's choices (not its
/// declines, which run nothing) at or above it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThresholdRow {
    pub threshold: f64,
    pub answers: usize,
    pub agreed: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub model: String,
    pub rows: Vec<Row>,
    pub incidents: usize,
    /// Valid answers: a choice or a decline that passed validation.
    pub valid: usize,
    pub agreed: usize,
    /// Answers that failed parsing or validation.
    pub rejected: usize,
    /// Calls that failed (unreachable, timed out).
    pub failed: usize,
    pub calibration: Vec<Bin>,
    pub thresholds: Vec<ThresholdRow>,
    pub latency_p50_ms: u64,
    pub latency_p95_ms: u64,
}

/// The row of `incident` answered by `verdict`.
pub fn score(incident: &Incident, verdict: &Verdict) -> Row {
    let (answer, confidence, reason) = match &verdict.outcome {
        VerdictOutcome::Ai(r) => (r.action.clone(), Some(r.confidence), None),
        VerdictOutcome::Fallback {
            why: Why::Declined { confidence, .. },
            ..
        } => (super::case::NONE.to_string(), Some(*confidence), None),
        VerdictOutcome::Fallback { why, .. } => ("-".to_string(), None, Some(why.to_string())),
    };
    let outcome = match &verdict.outcome {
        VerdictOutcome::Ai(_) => "ai",
        VerdictOutcome::Fallback { why, .. } => why.code(),
    };
    let would_do = match &verdict.outcome {
        VerdictOutcome::Ai(r) => r.action.clone(),
        VerdictOutcome::Fallback { choice, .. } => match choice {
            super::FallbackChoice::Candidate { action, .. } => format!("{action} (fallback)"),
            super::FallbackChoice::Notify { .. } => "notify (fallback)".to_string(),
        },
    };
    Row {
        incident: incident.name.clone(),
        label: incident.label.clone(),
        agrees: reason.is_none() && answer == incident.label,
        answer,
        outcome: outcome.to_string(),
        confidence,
        reason,
        would_do,
        latency_ms: u64::try_from(verdict.latency.as_millis()).unwrap_or(u64::MAX),
    }
}

/// The report over `rows`.
pub fn report(model: &str, rows: Vec<Row>) -> Report {
    let valid: Vec<&Row> = rows.iter().filter(|r| r.confidence.is_some()).collect();
    let calibration = BINS
        .iter()
        .enumerate()
        .map(|(i, &(from, to))| {
            let last = i == BINS.len() - 1;
            let inside: Vec<&&Row> = valid
                .iter()
                .filter(|r| {
                    r.confidence
                        .is_some_and(|c| c >= from && (c < to || (last && c <= to)))
                })
                .collect();
            Bin {
                from,
                to,
                answers: inside.len(),
                agreed: inside.iter().filter(|r| r.agrees).count(),
            }
        })
        .collect();
    let thresholds = THRESHOLDS
        .iter()
        .map(|&threshold| {
            let above: Vec<&&Row> = valid
                .iter()
                .filter(|r| r.outcome == "ai" && r.confidence.is_some_and(|c| c >= threshold))
                .collect();
            ThresholdRow {
                threshold,
                answers: above.len(),
                agreed: above.iter().filter(|r| r.agrees).count(),
            }
        })
        .collect();
    let mut latencies: Vec<u64> = rows
        .iter()
        .filter(|r| r.outcome != "disabled")
        .map(|r| r.latency_ms)
        .collect();
    latencies.sort_unstable();
    Report {
        model: model.to_string(),
        incidents: rows.len(),
        valid: valid.len(),
        agreed: rows.iter().filter(|r| r.agrees).count(),
        rejected: rows.iter().filter(|r| r.outcome == "rejected").count(),
        failed: rows
            .iter()
            .filter(|r| r.outcome == "unreachable" || r.outcome == "timed-out")
            .count(),
        calibration,
        thresholds,
        latency_p50_ms: percentile(&latencies, 50),
        latency_p95_ms: percentile(&latencies, 95),
        rows,
    }
}

/// The nearest-rank percentile `p` of sorted `values`; 0 for none.
pub fn percentile(sorted: &[u64], p: usize) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

fn share(n: usize, of: usize) -> String {
    if of == 0 {
        "-".into()
    } else {
        format!("{:.0}%", 100.0 * n as f64 / of as f64)
    }
}

impl Report {
    /// The report as a person reads it.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "model {}: {} incidents\n", self.model, self.incidents);
        let _ = writeln!(
            out,
            "{:<28} {:<42} {:<42} {:>5} {:>8}  result",
            "incident", "label", "answer", "conf", "latency"
        );
        for r in &self.rows {
            let conf = r
                .confidence
                .map_or_else(|| "-".to_string(), |c| format!("{c:.2}"));
            let result = match &r.reason {
                Some(reason) => format!("{}: {}", r.outcome, super::case::cut(reason, 100)),
                None if r.agrees => "agrees".to_string(),
                None => "disagrees".to_string(),
            };
            let _ = writeln!(
                out,
                "{:<28} {:<42} {:<42} {:>5} {:>6}ms  {result}",
                super::case::cut(&r.incident, 27),
                super::case::cut(&r.label, 41),
                super::case::cut(&r.answer, 41),
                conf,
                r.latency_ms
            );
        }
        let _ = writeln!(
            out,
            "\nagreement: {}/{} ({}); valid answers: {}/{}; rejected: {}; failed calls: {}",
            self.agreed,
            self.incidents,
            share(self.agreed, self.incidents),
            self.valid,
            self.incidents,
            self.rejected,
            self.failed
        );
        let _ = writeln!(out, "\nconfidence vs agreement (valid answers):");
        for b in &self.calibration {
            let _ = writeln!(
                out,
                "  {:.2}–{:.2}: {:>3} answers, {:>3} agree ({})",
                b.from,
                b.to,
                b.answers,
                b.agreed,
                share(b.agreed, b.answers)
            );
        }
        let _ = writeln!(
            out,
            "\nif AI choices ran on their own at confidence >= threshold:"
        );
        for t in &self.thresholds {
            let _ = writeln!(
                out,
                "  >= {:.2}: {:>3} would run, {:>3} of them agree ({})",
                t.threshold,
                t.answers,
                t.agreed,
                share(t.agreed, t.answers)
            );
        }
        let _ = writeln!(
            out,
            "\nlatency: p50 {}ms, p95 {}ms",
            self.latency_p50_ms, self.latency_p95_ms
        );
        out
    }
}

/// A latency in milliseconds, for callers that hold a `Duration`.
pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
