//! A condition evaluated against one target: three-valued (Kleene) logic, where
//! missing data is `Unknown`, never `true` and never silently `false`.

use super::observation::Target;
use super::window;
use crate::catalog::Unit;
use crate::ir::{self, render_threshold, render_value, Condition, Program, Threshold, Type};

/// How long a metric's latest sample stands for its current value: past this,
/// the metric is unknown (as a Prometheus series goes stale after 5 minutes).
pub const STALENESS_SECONDS: i64 = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Truth {
    True,
    False,
    Unknown,
}

impl Truth {
    fn and(self, other: Truth) -> Truth {
        match (self, other) {
            (Truth::False, _) | (_, Truth::False) => Truth::False,
            (Truth::True, Truth::True) => Truth::True,
            _ => Truth::Unknown,
        }
    }

    fn or(self, other: Truth) -> Truth {
        match (self, other) {
            (Truth::True, _) | (_, Truth::True) => Truth::True,
            (Truth::False, Truth::False) => Truth::False,
            _ => Truth::Unknown,
        }
    }

    fn not(self) -> Truth {
        match self {
            Truth::True => Truth::False,
            Truth::False => Truth::True,
            Truth::Unknown => Truth::Unknown,
        }
    }

    fn of(b: bool) -> Truth {
        if b {
            Truth::True
        } else {
            Truth::False
        }
    }
}

/// The outcome of a condition, with what was seen: the values that made it
/// what it is ("memory_percent=87.3% > 85%") and the metrics that had no data.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub truth: Truth,
    pub seen: Vec<String>,
    pub missing: Vec<String>,
}

/// Evaluates `condition` on `target` at `now`. With `evidence`, `seen` holds
/// the values that decided it; without, nothing is formatted (most conditions
/// are false most of the time, and formatting would be most of their cost).
pub fn evaluate(
    program: &Program,
    condition: &Condition,
    target: &Target,
    now: i64,
    evidence: bool,
) -> Verdict {
    let mut verdict = Verdict {
        truth: Truth::Unknown,
        seen: Vec::new(),
        missing: Vec::new(),
    };
    let truth = Eval {
        program,
        target,
        now,
        evidence,
        verdict: &mut verdict,
    }
    .condition(condition);
    verdict.truth = truth;
    verdict
}

struct Eval<'a> {
    program: &'a Program,
    target: &'a Target,
    now: i64,
    evidence: bool,
    verdict: &'a mut Verdict,
}

impl Eval<'_> {
    fn condition(&mut self, condition: &Condition) -> Truth {
        let (program, target, now) = (self.program, self.target, self.now);
        match condition {
            // Both sides are evaluated even when one decides, so the evidence
            // and the missing metrics are complete and do not depend on order.
            Condition::And(a, b) => {
                let left = self.condition(a);
                left.and(self.condition(b))
            }
            Condition::Or(a, b) => {
                let left = self.condition(a);
                left.or(self.condition(b))
            }
            Condition::Not(c) => {
                // What was seen inside a `not` held the other way round: say so.
                let start = self.verdict.seen.len();
                let truth = self.condition(c).not();
                if self.evidence && self.verdict.seen.len() > start {
                    let inner = self.verdict.seen.split_off(start).join(", ");
                    self.verdict.seen.push(format!("not ({inner})"));
                }
                truth
            }
            Condition::Status(reason) => {
                let holds = target.statuses.contains(reason.name());
                if holds && self.evidence {
                    self.verdict
                        .seen
                        .push(format!("status is {}", reason.name()));
                }
                Truth::of(holds)
            }
            Condition::Event {
                reason,
                op,
                count,
                within,
            } => {
                let from = now.saturating_sub(i64::try_from(within.0).unwrap_or(i64::MAX));
                let seen: u64 = target
                    .events
                    .iter()
                    .filter(|e| e.reason == *reason && e.at > from && e.at <= now)
                    .map(|e| u64::from(e.count))
                    .sum();
                let holds = op.holds(seen as f64, f64::from(*count));
                if self.evidence {
                    self.verdict.seen.push(format!(
                        "event {reason} count={seen} {} {count} within {within}",
                        op.as_str()
                    ));
                }
                Truth::of(holds)
            }
            Condition::Compare {
                expr,
                op,
                threshold,
            } => {
                let Some(value) = metric_value(program, expr, target, now) else {
                    let name = program.render_expr(expr);
                    if !self.verdict.missing.contains(&name) {
                        self.verdict.missing.push(name);
                    }
                    return Truth::Unknown;
                };
                let holds = match threshold {
                    Threshold::Number(n) => op.holds(value, *n),
                    Threshold::Bool(b) => op.holds(value, if *b { 1.0 } else { 0.0 }),
                };
                if self.evidence {
                    let limit = render_threshold(*threshold, expr.ty);
                    let shown = match (threshold, expr.ty) {
                        (Threshold::Bool(_), _) => (value != 0.0).to_string(),
                        (_, Type::Scalar(Unit::Duration)) if value.fract() == 0.0 => {
                            // An age of 3465 s reads better as 57m45s.
                            ir::Seconds(value.max(0.0) as u64).spelled()
                        }
                        (_, ty) => {
                            // Rounded for people, unless rounding would make
                            // the value look equal to the threshold it beat.
                            let short = render_value(for_display(value), ty);
                            if short == limit {
                                render_value(value, ty)
                            } else {
                                short
                            }
                        }
                    };
                    self.verdict.seen.push(format!(
                        "{}={shown} {} {limit}",
                        program.render_expr(expr),
                        op.as_str(),
                    ));
                }
                Truth::of(holds)
            }
        }
    }
}

/// The value of a metric expression on `target` now, or `None` when unknown.
fn metric_value(
    program: &Program,
    expr: &ir::MetricExpr,
    target: &Target,
    now: i64,
) -> Option<f64> {
    let metric = program.metric(expr.metric)?;
    let series = target.metrics.get(&metric.name)?;
    match expr.window {
        Some(w) => window::apply_series(w.function, w.range, series, now),
        None => {
            // Samples are sorted (see `Series`): the latest at or before `now`
            // by binary search, whatever lies after it.
            let samples = series.samples();
            let latest = samples.get(samples.partition_point(|s| s.at <= now).checked_sub(1)?)?;
            (now.saturating_sub(latest.at) <= STALENESS_SECONDS).then_some(latest.value)
        }
    }
    .filter(|value| value.is_finite())
    // A bool metric's value is 0 or 1; anything else from a source is unknown.
    .filter(|value| {
        expr.ty != Type::Scalar(crate::catalog::Unit::Bool) || *value == 0.0 || *value == 1.0
    })
}

/// An observed value rounded to what a person reads: two decimals, or four
/// significant digits below 1 (ratios, per-second rates).
fn for_display(value: f64) -> f64 {
    let magnitude = value.abs();
    if magnitude >= 1.0 || magnitude == 0.0 {
        (value * 100.0).round() / 100.0
    } else {
        let scale = 10f64.powi(3 - magnitude.log10().floor() as i32);
        (value * scale).round() / scale
    }
}

#[cfg(test)]
mod tests {
    use super::Truth::{False, True, Unknown};

    #[test]
    fn kleene_truth_tables() {
        // Written out, not computed: these are the tables of LANGUAGE.md §4.
        let and = [
            (True, True, True),
            (True, False, False),
            (True, Unknown, Unknown),
            (False, True, False),
            (False, False, False),
            (False, Unknown, False),
            (Unknown, True, Unknown),
            (Unknown, False, False),
            (Unknown, Unknown, Unknown),
        ];
        for (a, b, want) in and {
            assert_eq!(a.and(b), want, "{a:?} and {b:?}");
        }
        let or = [
            (True, True, True),
            (True, False, True),
            (True, Unknown, True),
            (False, True, True),
            (False, False, False),
            (False, Unknown, Unknown),
            (Unknown, True, True),
            (Unknown, False, Unknown),
            (Unknown, Unknown, Unknown),
        ];
        for (a, b, want) in or {
            assert_eq!(a.or(b), want, "{a:?} or {b:?}");
        }
        assert_eq!(
            [True.not(), False.not(), Unknown.not()],
            [False, True, Unknown]
        );
    }

    #[test]
    fn evidence_values_are_rounded_for_people() {
        assert_eq!(super::for_display(91.345354), 91.35);
        assert_eq!(super::for_display(0.081125), 0.08113);
        assert_eq!(super::for_display(-0.0001234567), -0.0001235);
        assert_eq!(super::for_display(0.0), 0.0);
        assert_eq!(super::for_display(1e300), 1e300);
    }
}
