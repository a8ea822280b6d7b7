//! A condition evaluated against one target: three-valued (Kleene) logic, where
//! missing data is `Unknown`, never `true` and never silently `false`.

use super::observation::Target;
use super::series::Series;
use super::window;
use crate::catalog::Unit;
use crate::ir::{
    self, render_threshold, render_value, Condition, MetricId, Program, Threshold, Type,
};

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
    evaluate_resolved(program, condition, target, &[], now, evidence)
}

/// Like [`evaluate`], with some of the target's series already looked up by
/// the program's metric ids (`None`: the target has no such series): the
/// engine resolves a policy's metrics once per target instead of by name at
/// every comparison. Ids not in `series` are looked up by name.
pub(super) fn evaluate_resolved(
    program: &Program,
    condition: &Condition,
    target: &Target,
    series: &[(MetricId, Option<&Series>)],
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
        series,
        now,
        evidence,
        verdict: &mut verdict,
    }
    .condition(condition);
    verdict.truth = truth;
    verdict
}

/// The truth of `condition` alone, as [`evaluate_resolved`] would find it,
/// for the engine's first look at every rule: most conditions are false, and
/// an `and` with a false side (an `or` with a true one) is decided without
/// the other, so the cheaper side goes first and a window function's fit is
/// often not computed at all. Kleene's `and` and `or` are commutative, so the
/// order changes nothing but the cost. Only an unknown answer needs the full
/// evaluation, for the metrics that were missing.
pub(super) fn truth(
    program: &Program,
    condition: &Condition,
    target: &Target,
    series: &[(MetricId, Option<&Series>)],
    now: i64,
) -> Truth {
    match condition {
        Condition::And(a, b) | Condition::Or(a, b) => {
            let (first, second) = if cost(b) < cost(a) { (b, a) } else { (a, b) };
            let decided = if matches!(condition, Condition::And(..)) {
                Truth::False
            } else {
                Truth::True
            };
            let left = truth(program, first, target, series, now);
            if left == decided {
                return decided;
            }
            let right = truth(program, second, target, series, now);
            if decided == Truth::False {
                left.and(right)
            } else {
                left.or(right)
            }
        }
        Condition::Not(c) => truth(program, c, target, series, now).not(),
        // What `Eval::condition` computes, without a `Verdict` to fill.
        Condition::Status(reason) => Truth::of(status_holds(target, *reason)),
        Condition::Event {
            reason,
            op,
            count,
            within,
        } => Truth::of(op.holds(
            events_seen(target, reason, *within, now) as f64,
            f64::from(*count),
        )),
        Condition::Compare {
            expr,
            op,
            threshold,
        } => match compared_value(program, expr, target, series, now) {
            Some(value) => Truth::of(compare_holds(value, *op, *threshold)),
            None => Truth::Unknown,
        },
    }
}

/// A rough cost of evaluating `condition`: a window function reads many
/// samples, a least-squares fit reads them twice.
fn cost(condition: &Condition) -> u32 {
    match condition {
        Condition::Compare { expr, .. } => match expr.window.map(|w| w.function) {
            None => 1,
            Some(ir::WindowFn::Trend | ir::WindowFn::Predict) => 8,
            Some(_) => 4,
        },
        Condition::Status(_) => 1,
        Condition::Event { .. } => 2,
        Condition::And(a, b) | Condition::Or(a, b) => cost(a).saturating_add(cost(b)),
        Condition::Not(c) => cost(c),
    }
}

struct Eval<'a> {
    program: &'a Program,
    target: &'a Target,
    series: &'a [(MetricId, Option<&'a Series>)],
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
                let holds = status_holds(target, *reason);
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
                let seen = events_seen(target, reason, *within, now);
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
                let Some(value) = compared_value(program, expr, target, self.series, now) else {
                    let name = program.render_expr(expr);
                    if !self.verdict.missing.contains(&name) {
                        self.verdict.missing.push(name);
                    }
                    return Truth::Unknown;
                };
                let holds = compare_holds(value, *op, *threshold);
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
                            // the value look equal to the threshold, or on the
                            // other side of it, than it is.
                            let rounded = for_display(value);
                            let short = render_value(rounded, ty);
                            let faithful = rounded.is_finite()
                                && compare_holds(rounded, *op, *threshold) == holds
                                && short != limit;
                            if faithful {
                                short
                            } else {
                                render_value(value, ty)
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

fn status_holds(target: &Target, reason: ir::StatusReason) -> bool {
    target.statuses.contains(reason.name())
}

/// How many times `reason` happened on `target` within `within` of `now`.
fn events_seen(target: &Target, reason: &str, within: ir::Seconds, now: i64) -> u64 {
    let from = now.saturating_sub(i64::try_from(within.0).unwrap_or(i64::MAX));
    target
        .events
        .iter()
        .filter(|e| e.reason == reason && e.at > from && e.at <= now)
        .map(|e| u64::from(e.count))
        .sum()
}

/// The value a comparison compares, `None` when unknown.
fn compared_value(
    program: &Program,
    expr: &ir::MetricExpr,
    target: &Target,
    series: &[(MetricId, Option<&Series>)],
    now: i64,
) -> Option<f64> {
    let series = match series.iter().find(|(id, _)| *id == expr.metric) {
        Some((_, series)) => *series,
        None => lookup(program, expr.metric, target),
    };
    metric_value(expr, series?, now)
}

fn compare_holds(value: f64, op: ir::CmpOp, threshold: Threshold) -> bool {
    match threshold {
        Threshold::Number(n) => op.holds(value, n),
        Threshold::Bool(b) => op.holds(value, if b { 1.0 } else { 0.0 }),
    }
}

/// The series of metric `id` on `target`, by the metric's name.
pub(super) fn lookup<'a>(
    program: &Program,
    id: MetricId,
    target: &'a Target,
) -> Option<&'a Series> {
    let name = program.metric(id)?.name.as_str();
    // A target has a handful of metrics: a scan that compares lengths first
    // finds one with a single `memcmp`, where the tree's ordered search
    // calls it at every key it passes.
    let found = if target.metrics.len() <= 8 {
        target
            .metrics
            .iter()
            .find_map(|(key, series)| (key == name).then_some(series))
    } else {
        target.metrics.get(name)
    };
    found.map(|series| &**series)
}

/// The value of a metric expression over `series` now, or `None` when
/// unknown.
fn metric_value(expr: &ir::MetricExpr, series: &Series, now: i64) -> Option<f64> {
    match expr.window {
        Some(w) => window::apply_series(w.function, w.range, series, now),
        None => {
            // Samples are sorted (see `Series`): the latest at or before `now`
            // by binary search, whatever lies after it.
            let samples = series.samples();
            let latest = samples.get(series.end(now).checked_sub(1)?)?;
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
