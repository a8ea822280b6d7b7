//! Comparisons with arithmetic or a second metric on a side:
//! `available_replicas != replicas`, `increase(a, 5m) / increase(b, 5m) > 25%`.
//!
//! Units combine as quantities do: a sum or difference keeps its operands'
//! unit, which must be one; a quotient of one unit by itself is a ratio
//! (percent / percent, bytes / bytes); multiplying or dividing by a ratio (a
//! plain number is one) keeps the unit. Both sides of the comparison then
//! have one type. A number takes its unit from where it stands, as a
//! threshold does: `1 - a / b` reads `1` as a ratio, `a - 5m` as a duration.

use super::{units, Checker, PolicyContext};
use crate::catalog::Unit;
use crate::diagnostic::{Code, Diagnostic};
use crate::ir::{self, ArithOp, CmpOp, Expr, Type};
use crate::span::Span;
use crate::syntax::{self, ast};

/// The dimensionless type of a plain number and of a quotient of one unit.
const RATIO: Type = Type::Scalar(Unit::Ratio);

impl Checker<'_> {
    /// `left OP right` where a side is not a single metric against a number.
    pub(super) fn relation(
        &mut self,
        left: &ast::MetricExpr,
        op: CmpOp,
        op_span: Span,
        right: &ast::MetricExpr,
        ctx: &PolicyContext,
    ) -> Option<ir::Condition> {
        // The side with a metric is typed first; a side of numbers alone then
        // reads them in its unit, as a threshold is read.
        let right_span = right.span();
        let (left, right) = match (has_metric(left), has_metric(right)) {
            (false, false) => {
                self.report(
                    Diagnostic::new(
                        Code::NoMetric,
                        left.span().to(right.span()),
                        "this comparison has no metric on either side",
                    )
                    .label("numbers only: it always holds or never does")
                    .help(
                        "compare a metric: `memory_percent > 85`, `available_replicas < replicas`",
                    ),
                );
                return None;
            }
            (true, _) => {
                let l = self.side(left, None, ctx, 1);
                let hint = l.as_ref().map(Expr::ty);
                let r = match hint {
                    Some(hint) => self.side(right, Some(hint), ctx, 1),
                    // The left side's error is reported; typing the right
                    // side alone still reports its own mistakes.
                    None if has_metric(right) => self.side(right, None, ctx, 1),
                    None => None,
                };
                (l?, r?)
            }
            (false, true) => {
                let r = self.side(right, None, ctx, 1)?;
                let l = self.side(left, Some(r.ty()), ctx, 1)?;
                (l, r)
            }
        };
        let (lt, rt) = (left.ty(), right.ty());
        if lt != rt {
            self.report(
                Diagnostic::new(
                    Code::IncompatibleUnits,
                    right_span,
                    format!("cannot compare {} with {}", describe(lt), describe(rt)),
                )
                .label(format!(
                    "`{}` is {}",
                    self.program.render_side(&right),
                    describe(rt)
                ))
                .help(compare_help(lt, rt)),
            );
            return None;
        }
        if lt == Type::Scalar(Unit::Bool) && !matches!(op, CmpOp::Eq | CmpOp::Ne) {
            self.report(
                Diagnostic::new(
                    Code::InvalidOperator,
                    op_span,
                    format!("`{}` does not apply to a boolean", op.as_str()),
                )
                .label("both sides are true or false")
                .help("compare booleans with `==` or `!=`"),
            );
            return None;
        }
        Some(ir::Condition::Relation {
            left: Box::new(left),
            op,
            right: Box::new(right),
        })
    }

    /// Types one side (or operand) at `depth`. `hint` is the type a number
    /// standing alone here takes (the other operand's); `None` where no
    /// number can be read yet.
    fn side(
        &mut self,
        expr: &ast::MetricExpr,
        hint: Option<Type>,
        ctx: &PolicyContext,
        depth: usize,
    ) -> Option<Expr> {
        if depth > syntax::MAX_DEPTH {
            self.report(syntax::nesting_error(expr.span()));
            return None;
        }
        match expr {
            ast::MetricExpr::Metric(_) | ast::MetricExpr::Call { .. } => {
                self.metric_expr(expr, ctx).map(Expr::Metric)
            }
            ast::MetricExpr::Paren(inner, _) => self.side(inner, hint, ctx, depth + 1),
            ast::MetricExpr::Number(lit) => {
                let ty = hint.unwrap_or(RATIO);
                match units::resolve(lit, ty, None) {
                    Ok(value) => Some(Expr::Number { value, ty }),
                    Err(d) => {
                        self.report(d);
                        None
                    }
                }
            }
            ast::MetricExpr::Binary {
                op, left, right, ..
            } => self.binary(*op, left, right, hint, ctx, depth),
        }
    }

    fn binary(
        &mut self,
        op: ArithOp,
        left: &ast::MetricExpr,
        right: &ast::MetricExpr,
        hint: Option<Type>,
        ctx: &PolicyContext,
        depth: usize,
    ) -> Option<Expr> {
        let (l, r) = match op {
            // A sum has one unit: the metric's operand decides it.
            ArithOp::Add | ArithOp::Sub => {
                if has_metric(left) || !has_metric(right) {
                    let l = self.side(left, hint, ctx, depth + 1)?;
                    let r = self.side(right, Some(l.ty()), ctx, depth + 1)?;
                    (l, r)
                } else {
                    let r = self.side(right, hint, ctx, depth + 1)?;
                    let l = self.side(left, Some(r.ty()), ctx, depth + 1)?;
                    (l, r)
                }
            }
            // A factor without a metric is a plain number (a ratio):
            // `x * 2`, `x / 100`, `x * 50%`.
            ArithOp::Mul | ArithOp::Div => {
                let l = self.factor(left, ctx, depth + 1);
                let r = self.factor(right, ctx, depth + 1);
                (l?, r?)
            }
        };
        let ty = self.combine(op, &l, &r, right.span())?;
        Some(Expr::Binary {
            op,
            left: Box::new(l),
            right: Box::new(r),
            ty,
        })
    }

    fn factor(
        &mut self,
        expr: &ast::MetricExpr,
        ctx: &PolicyContext,
        depth: usize,
    ) -> Option<Expr> {
        if let ast::MetricExpr::Number(lit) = expr {
            if !matches!(lit.suffix.as_deref(), None | Some("%")) || lit.per.is_some() {
                self.report(
                    Diagnostic::new(
                        Code::UnitMismatch,
                        lit.span,
                        format!("expected a plain number, found {}", units::looks_like(lit)),
                    )
                    .label("a factor of `*` or `/` has no unit")
                    .help("multiply or divide by a plain number (`x * 2`, `x / 100`), or by another metric"),
                );
                return None;
            }
        }
        let hint = (!has_metric(expr)).then_some(RATIO);
        self.side(expr, hint, ctx, depth)
    }

    /// The type of `l OP r`, or a diagnostic at the right operand.
    fn combine(&mut self, op: ArithOp, l: &Expr, r: &Expr, r_span: Span) -> Option<Type> {
        let (lt, rt) = (l.ty(), r.ty());
        let bool_ty = Type::Scalar(Unit::Bool);
        let result = if lt == bool_ty || rt == bool_ty {
            None
        } else {
            match op {
                ArithOp::Add | ArithOp::Sub => (lt == rt).then_some(lt),
                ArithOp::Mul if rt == RATIO => Some(lt),
                ArithOp::Mul if lt == RATIO => Some(rt),
                ArithOp::Mul => None,
                ArithOp::Div if lt == rt => Some(RATIO),
                ArithOp::Div if rt == RATIO => Some(lt),
                ArithOp::Div => None,
            }
        };
        if result.is_none() {
            let verb = match op {
                ArithOp::Add => format!("cannot add {} to {}", describe(rt), describe(lt)),
                ArithOp::Sub => format!("cannot subtract {} from {}", describe(rt), describe(lt)),
                ArithOp::Mul => format!("cannot multiply {} by {}", describe(lt), describe(rt)),
                ArithOp::Div => format!("cannot divide {} by {}", describe(lt), describe(rt)),
            };
            let help = if lt == bool_ty || rt == bool_ty {
                "a boolean has no arithmetic: compare it with `==` or `!=`".to_string()
            } else {
                match op {
                    ArithOp::Add | ArithOp::Sub => format!(
                        "add or subtract values of one unit; {} and {} differ",
                        describe(lt),
                        describe(rt)
                    ),
                    ArithOp::Mul => "multiply by a plain number or a ratio: `memory_bytes * 1.5`".into(),
                    ArithOp::Div => "divide a unit by itself for a ratio (`memory_bytes / memory_limit_bytes`), or by a plain number".into(),
                }
            };
            self.report(
                Diagnostic::new(Code::IncompatibleUnits, r_span, verb)
                    .label(format!(
                        "`{}` is {}",
                        self.program.render_side(r),
                        describe(rt)
                    ))
                    .help(help),
            );
        }
        result
    }
}

/// Whether an expression reads a metric anywhere. A loop, not recursion,
/// like every walk of a tree the checker may refuse for its depth.
pub(super) fn has_metric(expr: &ast::MetricExpr) -> bool {
    let mut open = vec![expr];
    while let Some(expr) = open.pop() {
        match expr {
            ast::MetricExpr::Metric(_) | ast::MetricExpr::Call { .. } => return true,
            ast::MetricExpr::Number(_) => {}
            ast::MetricExpr::Paren(inner, _) => open.push(inner),
            ast::MetricExpr::Binary { left, right, .. } => open.extend([&**left, &**right]),
        }
    }
    false
}

/// Whether a comparison's left side is one metric or window function (a
/// threshold comparison, with its lints), not arithmetic.
pub(super) fn is_single(expr: &ast::MetricExpr) -> bool {
    matches!(
        expr,
        ast::MetricExpr::Metric(_) | ast::MetricExpr::Call { .. }
    )
}

fn describe(ty: Type) -> String {
    match ty {
        Type::Scalar(unit) => unit.described().to_string(),
        Type::Rate(unit) => format!("a rate of {unit} per time"),
    }
}

fn compare_help(left: Type, right: Type) -> String {
    use Unit::{Percent, Ratio};
    match (left, right) {
        (Type::Scalar(Percent), Type::Scalar(Ratio)) | (Type::Scalar(Ratio), Type::Scalar(Percent)) => {
            "a percent is not a ratio: divide the percent by 100 (`x / 100`), or compare a ratio with a ratio".into()
        }
        _ => format!(
            "compare values of one unit: {} with {}, or divide one unit by itself for a ratio",
            describe(left),
            describe(left)
        ),
    }
}
