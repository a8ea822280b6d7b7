//! A condition evaluated against one target: three-valued (Kleene) logic, where
//! missing data is `Unknown`, never `true` and never silently `false`.

use super::evidence::{compare_holds, Evidence};
use super::observation::Target;
use super::series::Series;
use super::window;
use crate::ir::{self, Condition, MetricId, Program, Type};

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
/// what it is ("memory_percent=87.3% > 85%") and what had no data (metrics,
/// and statuses or events whose source is down).
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub truth: Truth,
    pub seen: Vec<Evidence>,
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
        series: &[],
        now,
        evidence,
        past: false,
        negated: false,
        verdict: &mut verdict,
    }
    .condition(condition);
    verdict.truth = truth;
    verdict
}

/// The truth of `condition` on `target` at `at`, a moment before the one the
/// target was observed at: what the data still says of it. Series are read
/// up to `at`; events by their times; a status held at `at` only where the
/// source says since when it holds (otherwise it is unknown then).
pub(super) fn truth_before(
    program: &Program,
    condition: &Condition,
    target: &Target,
    at: i64,
) -> Truth {
    let mut verdict = Verdict {
        truth: Truth::Unknown,
        seen: Vec::new(),
        missing: Vec::new(),
    };
    Eval {
        program,
        target,
        series: &[],
        now: at,
        evidence: false,
        past: true,
        negated: false,
        verdict: &mut verdict,
    }
    .condition(condition)
}

/// The truth of `condition` alone, as [`evaluate`] would find it (with the
/// rule's held clauses as its timers decided them),
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
    held: Option<&[Truth]>,
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
            let left = truth(program, first, target, series, held, now);
            if left == decided {
                return decided;
            }
            let right = truth(program, second, target, series, held, now);
            if decided == Truth::False {
                left.and(right)
            } else {
                left.or(right)
            }
        }
        Condition::Not(c) => truth(program, c, target, series, held, now).not(),
        Condition::Held {
            condition, clause, ..
        } => match held {
            Some(held) => held.get(*clause).copied().unwrap_or(Truth::Unknown),
            None => truth(program, condition, target, series, held, now),
        },
        // What `Eval::condition` computes, without a `Verdict` to fill.
        Condition::Status(reason) => status_truth(target, *reason, None),
        Condition::StatusWas { reason, within } => {
            status_was_truth(target, *reason, *within, now, false)
        }
        Condition::Event { .. } if target.unobserved.events => Truth::Unknown,
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
        Condition::Relation { left, op, right } => {
            let value = |side| expr_value(program, side, target, series, now, &mut |_| {});
            match (value(left), value(right)) {
                (Some(l), Some(r)) => Truth::of(op.holds(l, r)),
                _ => Truth::Unknown,
            }
        }
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
        Condition::Relation { .. } => {
            let mut total = 0u32;
            condition.for_each_metric_expr(&mut |expr| {
                total = total.saturating_add(match expr.window.map(|w| w.function) {
                    None => 1,
                    Some(ir::WindowFn::Trend | ir::WindowFn::Predict) => 8,
                    Some(_) => 4,
                })
            });
            total
        }
        Condition::Status(_) => 1,
        Condition::Event { .. } | Condition::StatusWas { .. } => 2,
        Condition::And(a, b) | Condition::Or(a, b) => cost(a).saturating_add(cost(b)),
        Condition::Not(c) | Condition::Held { condition: c, .. } => cost(c),
    }
}

struct Eval<'a> {
    program: &'a Program,
    target: &'a Target,
    series: &'a [(MetricId, Option<&'a Series>)],
    now: i64,
    evidence: bool,
    /// `now` is before the moment the target was observed at.
    past: bool,
    /// Under an odd number of `not`s.
    negated: bool,
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
                self.negated = !self.negated;
                let truth = self.condition(c).not();
                self.negated = !self.negated;
                if self.evidence && self.verdict.seen.len() > start {
                    let inner = self.verdict.seen.split_off(start);
                    self.verdict.seen.push(Evidence::Not { inner });
                }
                truth
            }
            Condition::Held { condition, .. } => {
                // Without the rule's timers (a second look before acting, a
                // verification) a clause is as true as its condition is now:
                // whether it has held for its `for` is not known. Under `not`
                // that guess would turn a firing rule false, and of a past
                // moment only a false is known: both are unknown instead.
                let inner = self.condition(condition);
                if inner != Truth::False && (self.past || self.negated) {
                    Truth::Unknown
                } else {
                    inner
                }
            }
            Condition::StatusWas { reason, within } => {
                let truth = status_was_truth(target, *reason, *within, now, self.past);
                if target.unobserved.statuses {
                    self.missing(format!("status {}", reason.name()));
                }
                if truth == Truth::True && self.evidence {
                    self.verdict.seen.push(Evidence::StatusWas {
                        reason: reason.name().to_string(),
                        within: *within,
                    });
                }
                truth
            }
            Condition::Status(reason) => {
                let truth = status_truth(target, *reason, self.past.then_some(now));
                if target.unobserved.statuses {
                    self.missing(format!("status {}", reason.name()));
                }
                if truth == Truth::True && self.evidence {
                    self.verdict.seen.push(Evidence::Status {
                        reason: reason.name().to_string(),
                        since: target.status_since.get(reason.name()).copied(),
                    });
                }
                truth
            }
            Condition::Event { reason, .. } if target.unobserved.events => {
                self.missing(format!("event {reason}"));
                Truth::Unknown
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
                    self.verdict.seen.push(Evidence::Event {
                        reason: reason.clone(),
                        count: seen,
                        op: *op,
                        threshold: *count,
                        within: *within,
                    });
                }
                Truth::of(holds)
            }
            Condition::Compare {
                expr,
                op,
                threshold,
            } => {
                let Some(value) = compared_value(program, expr, target, self.series, now) else {
                    self.missing(program.render_expr(expr));
                    return Truth::Unknown;
                };
                let holds = compare_holds(value, *op, *threshold);
                if self.evidence {
                    self.verdict.seen.push(Evidence::Compare {
                        expr: program.render_expr(expr),
                        value,
                        op: *op,
                        threshold: *threshold,
                        ty: expr.ty,
                        against: None,
                    });
                }
                Truth::of(holds)
            }
            Condition::Relation { left, op, right } => {
                // Both sides are read, so every missing operand is named.
                let mut missing = Vec::new();
                let mut note = |expr: &ir::MetricExpr| missing.push(program.render_expr(expr));
                let l = expr_value(program, left, target, self.series, now, &mut note);
                let r = expr_value(program, right, target, self.series, now, &mut note);
                for name in missing {
                    self.missing(name);
                }
                let (Some(l), Some(r)) = (l, r) else {
                    return Truth::Unknown;
                };
                let holds = op.holds(l, r);
                if self.evidence {
                    let ty = left.ty();
                    let threshold = if ty == Type::Scalar(crate::catalog::Unit::Bool) {
                        ir::Threshold::Bool(r != 0.0)
                    } else {
                        ir::Threshold::Number(r)
                    };
                    self.verdict.seen.push(Evidence::Compare {
                        expr: program.render_side(left),
                        value: l,
                        op: *op,
                        threshold,
                        ty,
                        against: (!matches!(**right, ir::Expr::Number { .. }))
                            .then(|| program.render_side(right)),
                    });
                }
                Truth::of(holds)
            }
        }
    }

    fn missing(&mut self, name: String) {
        if !self.verdict.missing.contains(&name) {
            self.verdict.missing.push(name);
        }
    }
}

/// Whether `reason` holds on `target` now (`at` is `None`) or at the earlier
/// moment `at`. A status whose source is down is unknown. Of an earlier
/// moment only a status that holds now and says since when is known: it held
/// then if it began by then, and did not if it began after.
fn status_truth(target: &Target, reason: ir::StatusReason, at: Option<i64>) -> Truth {
    if target.unobserved.statuses {
        return Truth::Unknown;
    }
    let holds = target.statuses.contains(reason.name());
    match at {
        None => Truth::of(holds),
        Some(_) if !holds => Truth::Unknown,
        Some(at) => match target.status_since.get(reason.name()) {
            Some(&since) => Truth::of(since <= at),
            None => Truth::Unknown,
        },
    }
}

/// Whether `reason` held on `target` at some evaluation within `within` of
/// `now` (PromQL's `max_over_time(…[D]) >= 1` over the samples the observer
/// recorded, with the status now besides). Kleene's `or` over the moments
/// of the window that were observed: true if it held at one, false if it
/// held at none and the status is known now, unknown if it is not known
/// now and held at none. Of a past moment (`past`) only a holding is
/// known: a moment between two samples may have held unseen.
fn status_was_truth(
    target: &Target,
    reason: ir::StatusReason,
    within: ir::Seconds,
    now: i64,
    past: bool,
) -> Truth {
    let held_before = target
        .status_history
        .get(reason.name())
        .is_some_and(|history| history.window(within, now).iter().any(|s| s.value >= 1.0));
    if held_before {
        return Truth::True;
    }
    match status_truth(target, reason, past.then_some(now)) {
        Truth::True => Truth::True,
        _ if past => Truth::Unknown,
        other => other,
    }
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

/// The value of one side of a relation, `None` when unknown: an unknown
/// operand makes the whole side unknown (never zero), and so does arithmetic
/// that leaves the finite numbers (a division by zero). Every operand is
/// read, and `missing` hears of each one without data, so that a policy's
/// status names them all. Recursion is bounded by the tree's depth, which
/// the parser and checker bound.
fn expr_value(
    program: &Program,
    expr: &ir::Expr,
    target: &Target,
    series: &[(MetricId, Option<&Series>)],
    now: i64,
    missing: &mut impl FnMut(&ir::MetricExpr),
) -> Option<f64> {
    match expr {
        ir::Expr::Metric(m) => {
            let value = compared_value(program, m, target, series, now);
            if value.is_none() {
                missing(m);
            }
            value
        }
        ir::Expr::Number { value, .. } => Some(*value),
        ir::Expr::Binary {
            op, left, right, ..
        } => {
            let l = expr_value(program, left, target, series, now, missing);
            let r = expr_value(program, right, target, series, now, missing);
            op.apply(l?, r?)
        }
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
        Some(w) => window::apply_window(w, series, now),
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

#[cfg(test)]
mod tests;
