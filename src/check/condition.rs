//! Rules and their conditions: metric resolution, window functions, units of
//! thresholds, status and event reasons.

use super::{relation, units, Checker, PolicyContext};
use crate::catalog::{self, Kind, Unit};
use crate::diagnostic::{closest, Code, Diagnostic};
use crate::ir::{self, CmpOp, SafetyClass, Seconds, StatusReason, Threshold, Type, WindowFn};
use crate::span::Span;
use crate::syntax::{self, ast};

const DEFAULT_PRIORITY: u8 = 10;

impl Checker<'_> {
    /// A rule, without what depends on the policy's other rules: its index,
    /// safety class and fingerprint are set by `Checker::finish_rules`.
    pub(super) fn rule(&mut self, rule: &ast::Rule, ctx: &PolicyContext) -> Option<ir::Rule> {
        let mut condition = self.condition(&rule.condition, ctx, 1);
        if let Some(condition) = &mut condition {
            number_held(condition, &mut 0);
        }
        let hold = match &rule.for_duration {
            Some(lit) => {
                let hold = self.ok(units::duration(lit));
                // Status and event triggers react to watch events, not to the
                // evaluation tick: any `for` is meaningful for them.
                if let (Some(hold), true) = (hold, compares_metric(&rule.condition)) {
                    self.lint_hold(lit, hold);
                }
                Some(hold)
            }
            None => None,
        };
        let action = self.action(&rule.action, ctx);
        let priority = match &rule.priority {
            Some(lit) => self.priority(lit),
            None => Some(DEFAULT_PRIORITY),
        };
        let (condition, (action, effect), priority) = (condition?, action?, priority?);
        let hold = match hold {
            Some(h) => Some(h?),
            None => None,
        };
        Some(ir::Rule {
            index: 0,
            fingerprint: String::new(),
            condition,
            hold,
            action,
            effect,
            priority,
            safety: SafetyClass::Auto,
        })
    }

    fn priority(&mut self, lit: &ast::Literal) -> Option<u8> {
        let n = self.ok(units::count(lit))?;
        if !(1..=20).contains(&n) {
            self.report(
                Diagnostic::new(
                    Code::OutOfRange,
                    lit.span,
                    format!("priority {n} is out of range"),
                )
                .label("expected 1 to 20")
                .help("priority 1 is the most urgent, 20 the least; the default is 10"),
            );
            return None;
        }
        Some(n as u8)
    }

    fn lint_hold(&mut self, lit: &ast::Literal, hold: Seconds) {
        let interval = self.config.evaluation_interval_seconds;
        if hold.0 < interval {
            self.report(
                Diagnostic::new(
                    Code::ForShorterThanInterval,
                    lit.span,
                    format!("`for {}` is shorter than the evaluation interval ({interval}s)", lit.text()),
                )
                .label("the condition is only evaluated every interval")
                .help(format!(
                    "the rule fires at the first evaluation that sees it true; write `for {}` or more, or drop `for`",
                    Seconds(interval)
                )),
            );
        }
    }

    /// Lowers a condition at `depth` in its tree (the rule's own condition is
    /// at 1). The parser builds no tree deeper than [`syntax::MAX_DEPTH`]; one
    /// built by hand is refused here rather than recursed into, and the IR
    /// lowered from it is never deeper than the tree.
    fn condition(
        &mut self,
        cond: &ast::Condition,
        ctx: &PolicyContext,
        depth: usize,
    ) -> Option<ir::Condition> {
        if depth > syntax::MAX_DEPTH {
            return self.too_deep(cond);
        }
        // Only the arms that recurse are here, so that each level costs a
        // small frame; the leaves are lowered apart.
        match cond {
            ast::Condition::Or(a, b) | ast::Condition::And(a, b) => {
                let left = self.condition(a, ctx, depth + 1);
                let right = self.condition(b, ctx, depth + 1);
                let (left, right) = (Box::new(left?), Box::new(right?));
                Some(if matches!(cond, ast::Condition::Or(..)) {
                    ir::Condition::Or(left, right)
                } else {
                    ir::Condition::And(left, right)
                })
            }
            ast::Condition::Not(inner, _) => Some(ir::Condition::Not(Box::new(self.condition(
                inner,
                ctx,
                depth + 1,
            )?))),
            ast::Condition::Paren(inner, _) => self.condition(inner, ctx, depth + 1),
            ast::Condition::Held { inner, hold, .. } => self.held(inner, hold, ctx, depth),
            leaf => self.leaf_condition(leaf, ctx),
        }
    }

    /// A clause with a `for` of its own, at `depth`. Never inlined into the
    /// recursive `condition`, whose frame must stay small.
    #[inline(never)]
    fn held(
        &mut self,
        inner: &ast::Condition,
        hold: &ast::Literal,
        ctx: &PolicyContext,
        depth: usize,
    ) -> Option<ir::Condition> {
        let condition = self.condition(inner, ctx, depth + 1);
        let hold_value = self.ok(units::duration(hold));
        if let (Some(value), true) = (hold_value, compares_metric(inner)) {
            self.lint_hold(hold, value);
        }
        Some(ir::Condition::Held {
            condition: Box::new(condition?),
            hold: hold_value?,
            clause: 0,
        })
    }

    fn too_deep(&mut self, cond: &ast::Condition) -> Option<ir::Condition> {
        self.report(syntax::nesting_error(cond.span()));
        None
    }

    /// A status, event or comparison condition. Never inlined into the
    /// recursive `condition`, whose frame must stay small.
    #[inline(never)]
    fn leaf_condition(
        &mut self,
        cond: &ast::Condition,
        ctx: &PolicyContext,
    ) -> Option<ir::Condition> {
        match cond {
            ast::Condition::Or(..)
            | ast::Condition::And(..)
            | ast::Condition::Not(..)
            | ast::Condition::Paren(..)
            | ast::Condition::Held { .. } => None,
            ast::Condition::Status { reason, .. } => self.status(reason, ctx),
            ast::Condition::StatusWas { reason, within, .. } => {
                let status = self.status(reason, ctx);
                let within = self.status_window(within);
                match (status?, within?) {
                    (ir::Condition::Status(reason), within) => {
                        Some(ir::Condition::StatusWas { reason, within })
                    }
                    _ => None,
                }
            }
            ast::Condition::Event {
                reason,
                op,
                count,
                within,
                ..
            } => {
                if ctx.kind() == Kind::Containers {
                    self.report(
                        Diagnostic::new(
                            Code::StatusNotForKind,
                            reason.span,
                            format!("`event {}` does not apply to containers", reason.name),
                        )
                        .label("this policy selects containers")
                        .help("Kubernetes Events are about the pod, not one of its containers: count them in a policy on pods (`select pods`)"),
                    );
                    return None;
                }
                self.event_reason(reason);
                let count = self.ok(units::count(count));
                let within_value = self.ok(units::duration(within));
                if within_value == Some(Seconds(0)) {
                    self.report(
                        Diagnostic::new(
                            Code::OutOfRange,
                            within.span,
                            "`within 0s` counts no events at all",
                        )
                        .help("count the events of a window longer than 0s, such as `within 10m`"),
                    );
                    return None;
                }
                Some(ir::Condition::Event {
                    reason: reason.name.clone(),
                    op: *op,
                    count: count?,
                    within: within_value?,
                })
            }
            ast::Condition::Compare {
                metric,
                op,
                op_span,
                value,
            } if !relation::is_single(metric) || matches!(value, ast::Value::Expr(_)) => {
                let right;
                let right = match value {
                    ast::Value::Expr(expr) => expr,
                    ast::Value::Literal(lit) => {
                        right = ast::MetricExpr::Number(lit.clone());
                        &right
                    }
                    ast::Value::Bool(b, span) => {
                        self.report(
                            Diagnostic::new(
                                Code::UnitMismatch,
                                *span,
                                format!("expected a number, found `{b}`"),
                            )
                            .label("arithmetic is never true or false")
                            .help("compare a boolean metric by itself: `ready == false`"),
                        );
                        return None;
                    }
                };
                self.relation(metric, *op, *op_span, right, ctx)
            }
            ast::Condition::Compare {
                metric,
                op,
                op_span,
                value,
            } => {
                let expr = self.metric_expr(metric, ctx)?;
                // Only messages name the metric: render it only for them.
                let subject = |program: &ir::Program| format!("`{}`", program.render_expr(&expr));
                let threshold = match (expr.ty, value) {
                    (Type::Scalar(Unit::Bool), ast::Value::Bool(b, _)) => {
                        if !matches!(op, CmpOp::Eq | CmpOp::Ne) {
                            self.report(
                                Diagnostic::new(
                                    Code::InvalidOperator,
                                    *op_span,
                                    format!("`{}` does not apply to a boolean", op.as_str()),
                                )
                                .label(format!("{} is true or false", subject(&self.program)))
                                .help(format!(
                                    "compare with `==` or `!=`: `{} == {b}`",
                                    self.program.render_expr(&expr)
                                )),
                            );
                            return None;
                        }
                        Threshold::Bool(*b)
                    }
                    (Type::Scalar(Unit::Bool), ast::Value::Literal(lit)) => {
                        self.report(
                            Diagnostic::new(
                                Code::UnitMismatch,
                                lit.span,
                                format!(
                                    "expected `true` or `false`, found {}",
                                    units::looks_like(lit)
                                ),
                            )
                            .label(format!("{} is a boolean", subject(&self.program)))
                            .help(format!(
                                "write `{} == true` or `== false`",
                                self.program.render_expr(&expr)
                            )),
                        );
                        return None;
                    }
                    (ty, ast::Value::Bool(b, span)) => {
                        self.report(
                            Diagnostic::new(
                                Code::UnitMismatch,
                                *span,
                                format!("expected {}, found `{b}`", describe_type(ty)),
                            )
                            .label(format!(
                                "{} is {}",
                                subject(&self.program),
                                describe_type(ty)
                            ))
                            .help(format!("compare it with a number: {}", example(ty))),
                        );
                        return None;
                    }
                    // Routed to `relation` above.
                    (_, ast::Value::Expr(_)) => return None,
                    (ty, ast::Value::Literal(lit)) => {
                        let value = match units::resolve(lit, ty, None) {
                            Ok(value) => value,
                            Err(mut d) => {
                                if d.code == Code::UnitMismatch {
                                    d.label = Some(format!(
                                        "{} is {}",
                                        subject(&self.program),
                                        describe_type(ty)
                                    ));
                                }
                                self.report(d);
                                return None;
                            }
                        };
                        self.lint_percent(lit, ty, value);
                        self.lint_ratio(lit, &expr, value);
                        self.lint_range(&expr, *op, lit, value, cond.span(), ctx.kind());
                        Threshold::Number(value)
                    }
                };
                Some(ir::Condition::Compare {
                    expr,
                    op: *op,
                    threshold,
                })
            }
        }
    }

    /// A bare number at most 1 compared with a percent is most likely a ratio.
    fn lint_percent(&mut self, lit: &ast::Literal, ty: Type, value: f64) {
        if ty == Type::Scalar(Unit::Percent) && lit.suffix.is_none() && value > 0.0 && value <= 1.0
        {
            let percent = value * 100.0;
            self.report(
                Diagnostic::new(
                    Code::SuspiciousPercent,
                    lit.span,
                    format!("`{}` here means {}%, not {percent}%", lit.text(), lit.number),
                )
                .label("a bare number compared with a percent is in percent")
                .suggest(format!("{percent}%"))
                .help(format!("write `{percent}%` if you meant a fraction, or `{}%` to keep the meaning and silence this", lit.number)),
            );
        }
    }

    /// A bare number above 1 compared with a ratio is most likely a percent,
    /// unless the ratio can pass 1: a declared `unbounded ratio`, or a
    /// built-in ratio whose range has no upper bound of 1. A whole number
    /// (`5`) is most likely a percent, so the fix an editor applies is `5%`;
    /// a fraction above 1 (`1.05`) may well be meant, so only the help
    /// names both spellings.
    fn lint_ratio(&mut self, lit: &ast::Literal, expr: &ir::MetricExpr, value: f64) {
        let ty = expr.ty;
        if ty != Type::Scalar(Unit::Ratio) || lit.suffix.is_some() || value <= 1.0 {
            return;
        }
        if self.may_pass_one(expr.metric) {
            return;
        }
        let percent = format!("{}%", lit.number);
        let meant = ir::render_value(value * 100.0, Type::Scalar(Unit::Percent));
        let d = Diagnostic::new(
            Code::RatioAboveOne,
            lit.span,
            format!(
                "`{}` here means {meant}, not {percent}: a ratio of 1 is 100%",
                lit.text(),
            ),
        )
        .label("a bare number compared with a ratio is a fraction");
        let name = self
            .program
            .metric(expr.metric)
            .map_or("?", |m| m.name.as_str())
            .to_string();
        let d = if value.fract() == 0.0 {
            d.suggest(percent.clone()).help(format!(
                "write `{percent}` if you meant a percent, or `{meant}` to keep the meaning"
            ))
        } else {
            d.help(format!(
                "write `{meant}` to keep the meaning, or `{percent}` if you meant a percent; a ratio that can pass 1 is declared `metric {name}: unbounded ratio = promql …`"
            ))
        };
        self.report(d);
    }

    /// Whether a ratio metric's values may pass 1.
    fn may_pass_one(&self, id: ir::MetricId) -> bool {
        if self.unbounded.contains(&id) {
            return true;
        }
        let Some(metric) = self.program.metric(id).filter(|m| m.builtin) else {
            return false;
        };
        catalog::metric(&metric.name)
            .is_some_and(|info| info.bounds.max.is_none_or(|max| max > 1.0))
    }

    /// A comparison a built-in metric's range decides: it never holds, or
    /// always does, whatever the cluster does.
    fn lint_range(
        &mut self,
        expr: &ir::MetricExpr,
        op: CmpOp,
        lit: &ast::Literal,
        value: f64,
        span: Span,
        kind: Kind,
    ) {
        let metric = &self.program.metrics[expr.metric.0];
        let Some(info) = catalog::metric(&metric.name).filter(|_| metric.builtin) else {
            return;
        };
        let bounds = match expr.window.map(|w| w.function) {
            None | Some(WindowFn::Avg | WindowFn::Max | WindowFn::Min) => info.bounds_on(kind),
            // Resets count as growth from zero: a counter's growth is never negative.
            Some(WindowFn::Increase | WindowFn::Rate | WindowFn::Changes) => {
                catalog::Bounds::NOT_NEGATIVE
            }
            Some(WindowFn::Trend | WindowFn::Predict) => return,
        };
        let (lo, hi) = (
            bounds.min.unwrap_or(f64::NEG_INFINITY),
            bounds.max.unwrap_or(f64::INFINITY),
        );
        let (never, always) = match op {
            CmpOp::Gt => (value >= hi, value < lo),
            CmpOp::Ge => (value > hi, value <= lo),
            CmpOp::Lt => (value <= lo, value > hi),
            CmpOp::Le => (value < lo, value >= hi),
            CmpOp::Eq => (value < lo || value > hi, false),
            CmpOp::Ne => (false, value < lo || value > hi),
        };
        if !never && !always {
            return;
        }
        let shown = |v: f64| format!("`{}`", ir::render_value(v, Type::Scalar(info.unit)));
        let range = match (bounds.min, bounds.max) {
            (Some(lo), Some(hi)) => format!("between {} and {}", shown(lo), shown(hi)),
            (Some(lo), None) => format!("never below {}", shown(lo)),
            (None, Some(hi)) => format!("never above {}", shown(hi)),
            (None, None) => return,
        };
        let rendered = self.program.render_expr(expr);
        let comparison = format!("{rendered} {} {}", op.as_str(), lit.text());
        let d = if never {
            Diagnostic::new(
                Code::OutsideRange,
                span,
                format!("`{comparison}` can never hold: `{rendered}` is {range}"),
            )
            .label("never true")
            .help("compare with a value inside the metric's range")
        } else {
            Diagnostic::new(
                Code::OutsideRange,
                span,
                format!("`{comparison}` always holds: `{rendered}` is {range}"),
            )
            .label("always true, so it tests nothing")
            .help("remove the comparison, or compare with a value inside the metric's range")
        };
        self.report(d);
    }

    fn status(&mut self, reason: &ast::Ident, ctx: &PolicyContext) -> Option<ir::Condition> {
        let Some(status) = StatusReason::new(&reason.name) else {
            let d = Diagnostic::new(
                Code::UnknownStatus,
                reason.span,
                format!("unknown status reason `{}`", reason.name),
            )
            .label("not a status KubeSkippy knows");
            let names = catalog::STATUS_REASONS
                .iter()
                .filter(|s| s.kinds.contains(ctx.kind()))
                .map(|s| s.name);
            let d = match closest(&reason.name, names.clone()) {
                Some(s) => d.suggest(s),
                None => d.help(format!(
                    "status reasons for {}: {}",
                    ctx.kind(),
                    names.collect::<Vec<_>>().join(", ")
                )),
            };
            self.report(d);
            return None;
        };
        let info = status.info();
        if !info.kinds.contains(ctx.kind()) {
            self.report(
                Diagnostic::new(
                    Code::StatusNotForKind,
                    reason.span,
                    format!("`{}` is not a status of {}", reason.name, ctx.kind()),
                )
                .label(format!("this policy selects {}", ctx.kind()))
                .help(format!(
                    "`{}` applies to {}",
                    reason.name,
                    info.kinds.describe()
                )),
            );
            return None;
        }
        Some(ir::Condition::Status(status))
    }

    /// The `within` of `status was R within D`: longer than `0s`, and
    /// warned about below the evaluation interval, at which the status is
    /// recorded.
    fn status_window(&mut self, within: &ast::Literal) -> Option<Seconds> {
        let value = self.ok(units::duration(within))?;
        if value == Seconds(0) {
            self.report(
                Diagnostic::new(
                    Code::OutOfRange,
                    within.span,
                    "`within 0s` is a window without any evaluation",
                )
                .help("for the status now, write `status is REASON`; for a window, give one longer than 0s, such as `within 5m`"),
            );
            return None;
        }
        let interval = self.config.evaluation_interval_seconds;
        if value.0 < interval {
            self.report(
                Diagnostic::new(
                    Code::StatusWindowShorterThanInterval,
                    within.span,
                    format!(
                        "`within {}` is shorter than the evaluation interval ({interval}s)",
                        within.text()
                    ),
                )
                .label("the status is recorded once per interval")
                .help(format!(
                    "a window this short holds the status now and nothing before it; write `within {}` or more, or `status is REASON`",
                    Seconds(interval)
                )),
            );
        }
        Some(value)
    }

    fn event_reason(&mut self, reason: &ast::Ident) {
        if catalog::EVENT_REASONS
            .iter()
            .any(|(r, _)| *r == reason.name)
        {
            return;
        }
        let d = Diagnostic::new(
            Code::UnknownEvent,
            reason.span,
            format!("`{}` is not an event reason KubeSkippy knows", reason.name),
        )
        .label("it will only match events with exactly this reason");
        let names = catalog::EVENT_REASONS.iter().map(|(r, _)| *r);
        let d = match closest(&reason.name, names) {
            Some(s) => d.suggest(s),
            None => d.help("controllers may emit their own reasons; check `kubectl get events` for the exact spelling"),
        };
        self.report(d);
    }
}

/// Whether a condition compares a metric anywhere: only those are evaluated
/// on the interval's tick. A loop, not recursion: the tree may be one the
/// checker refused for its depth.
fn compares_metric(condition: &ast::Condition) -> bool {
    let mut open = vec![condition];
    while let Some(condition) = open.pop() {
        match condition {
            ast::Condition::Compare { .. } => return true,
            ast::Condition::Or(a, b) | ast::Condition::And(a, b) => open.extend([&**a, &**b]),
            ast::Condition::Not(inner, _)
            | ast::Condition::Paren(inner, _)
            | ast::Condition::Held { inner, .. } => open.push(inner),
            ast::Condition::Status { .. }
            | ast::Condition::StatusWas { .. }
            | ast::Condition::Event { .. } => {}
        }
    }
    false
}

/// Numbers the held clauses of a rule's condition from 0, inner ones first:
/// the engine decides them in that order, each with its own timer.
/// Recursion is bounded by the tree's depth, which the checker bounds.
fn number_held(condition: &mut ir::Condition, next: &mut usize) {
    match condition {
        ir::Condition::And(a, b) | ir::Condition::Or(a, b) => {
            number_held(a, next);
            number_held(b, next);
        }
        ir::Condition::Not(c) => number_held(c, next),
        ir::Condition::Held {
            condition, clause, ..
        } => {
            number_held(condition, next);
            *clause = *next;
            *next += 1;
        }
        _ => {}
    }
}

fn describe_type(ty: Type) -> String {
    match ty {
        Type::Scalar(unit) => unit.described().to_string(),
        Type::Rate(unit) => format!("a rate of {unit} per time"),
    }
}

fn example(ty: Type) -> &'static str {
    match ty {
        Type::Scalar(unit) => unit.example(),
        Type::Rate(_) => "`2%/min`",
    }
}
