//! Conditions and metric expressions, built without recursion: a condition
//! nests once per bracket, `not`, `and` and `or`, and none of them may cost
//! the builder a stack frame, so pest's tree is walked with a stack on the
//! heap. Each node's depth in the tree being built is known before it is
//! built, and a node deeper than [`MAX_DEPTH`] stops the build.

use super::{ident, is_token, literal, Built, Children, Unbuilt, MAX_DEPTH};
use crate::span::Span;
use crate::syntax::ast::{ArithOp, CmpOp, Condition, Literal, MetricExpr, Value};
use crate::syntax::grammar::Rule;
use pest::iterators::Pair;

/// What is left to do for a condition, innermost last.
enum Task<'i> {
    /// Build the pair whose node sits at this depth (the rule's condition
    /// is at 1) and push it on the built stack.
    Build(Pair<'i, Rule>, usize),
    /// Join the last `operands` built conditions from left to right with
    /// `or` (or `and`).
    Join {
        or: bool,
        operands: usize,
    },
    /// Wrap the last built condition in `not`, or in parentheses.
    Not(Span),
    Paren(Span),
    /// Wrap the last built condition in a clause's own `for`.
    Held(Literal, Span),
}

/// Builds a rule's `condition` pair.
pub(super) fn condition(pair: Pair<'_, Rule>, offset: usize) -> Built<Condition> {
    // Most conditions are one comparison, status or event: they are reached
    // without the two stacks below and their allocations.
    let mut single = pair.clone();
    loop {
        let rule = single.as_rule();
        if !matches!(
            rule,
            Rule::condition | Rule::conjunction | Rule::clause | Rule::negation
        ) {
            return leaf(rule, Children::of(single, offset), offset, 1);
        }
        let mut inner = single
            .clone()
            .into_inner()
            .filter(|p| !is_token(p.as_rule()));
        match (inner.next(), inner.next()) {
            // Not a parenthesised condition, which is a node of its own.
            (Some(only), None)
                if !(rule == Rule::negation && only.as_rule() == Rule::condition) =>
            {
                single = only;
            }
            _ => break,
        }
    }
    let whole = Span::from(pair.as_span()).shifted(offset);
    let mut tasks = Vec::with_capacity(8);
    tasks.push(Task::Build(pair, 1));
    let mut built: Vec<Condition> = Vec::with_capacity(4);
    while let Some(task) = tasks.pop() {
        match task {
            Task::Build(pair, depth) => {
                let rule = pair.as_rule();
                let mut c = Children::of(pair, offset);
                if depth > MAX_DEPTH {
                    return Err(Unbuilt::TooDeep(c.span()));
                }
                match rule {
                    Rule::condition | Rule::conjunction => {
                        let operands = || c.inner.clone().filter(|p| !is_token(p.as_rule()));
                        let n = operands().count();
                        if n == 0 {
                            return Err(Unbuilt::Bug(c.span()));
                        }
                        if n > 1 {
                            let or = rule == Rule::condition;
                            tasks.push(Task::Join { or, operands: n });
                        }
                        // `a and b and c` is `(a and b) and c`: operand i > 0
                        // is the right side of the join n - i levels down, and
                        // the first one sits beside the second. Pushed last
                        // first, so that the first is built first.
                        for (back, operand) in operands().rev().enumerate() {
                            let i = n - 1 - back;
                            tasks.push(Task::Build(operand, depth + n - i.max(1)));
                        }
                    }
                    Rule::clause => {
                        let inner = c.expect()?;
                        match c.take(Rule::clause_for) {
                            Some(held) => {
                                let hold = literal(Children::of(held, offset).expect()?, offset)?;
                                tasks.push(Task::Held(hold, c.span()));
                                tasks.push(Task::Build(inner, depth + 1));
                            }
                            None => tasks.push(Task::Build(inner, depth)),
                        }
                    }
                    Rule::negation => {
                        let first = c.expect()?;
                        match first.as_rule() {
                            Rule::kw_not => {
                                tasks.push(Task::Not(c.span()));
                                tasks.push(Task::Build(c.expect()?, depth + 1));
                            }
                            // A parenthesised condition: the `(` was dropped as
                            // a token, so the first child is the inner condition.
                            Rule::condition => {
                                tasks.push(Task::Paren(c.span()));
                                tasks.push(Task::Build(first, depth + 1));
                            }
                            _ => tasks.push(Task::Build(first, depth)),
                        }
                    }
                    _ => built.push(leaf(rule, c, offset, depth)?),
                }
            }
            Task::Join { or, operands } => {
                let first = built
                    .len()
                    .checked_sub(operands)
                    .ok_or(Unbuilt::Bug(whole))?;
                let mut joined = built.drain(first..);
                let mut left = joined.next().ok_or(Unbuilt::Bug(whole))?;
                for right in joined.by_ref() {
                    left = if or {
                        Condition::Or(Box::new(left), Box::new(right))
                    } else {
                        Condition::And(Box::new(left), Box::new(right))
                    };
                }
                drop(joined);
                built.push(left);
            }
            Task::Not(span) => {
                let inner = built.pop().ok_or(Unbuilt::Bug(span))?;
                built.push(Condition::Not(Box::new(inner), span));
            }
            Task::Paren(span) => {
                let inner = built.pop().ok_or(Unbuilt::Bug(span))?;
                built.push(Condition::Paren(Box::new(inner), span));
            }
            Task::Held(hold, span) => {
                let inner = built.pop().ok_or(Unbuilt::Bug(span))?;
                built.push(Condition::Held {
                    inner: Box::new(inner),
                    hold,
                    span,
                });
            }
        }
    }
    match (built.pop(), built.is_empty()) {
        (Some(condition), true) => Ok(condition),
        _ => Err(Unbuilt::Bug(whole)),
    }
}

/// A condition that holds no other condition, at `depth`.
fn leaf(rule: Rule, mut c: Children<'_>, offset: usize, depth: usize) -> Built<Condition> {
    match rule {
        Rule::status_cond => Ok(Condition::Status {
            reason: ident(c.expect()?, offset),
            span: c.span(),
        }),
        Rule::status_was => Ok(Condition::StatusWas {
            reason: ident(c.expect()?, offset),
            within: literal(c.expect()?, offset)?,
            span: c.span(),
        }),
        Rule::event_cond => Ok(Condition::Event {
            reason: ident(c.expect()?, offset),
            op: cmp_op(c.expect()?),
            count: literal(c.expect()?, offset)?,
            within: literal(c.expect()?, offset)?,
            span: c.span(),
        }),
        Rule::comparison => {
            let metric = metric_expr(c.expect()?, offset, depth + 1)?;
            let op_pair = c.expect()?;
            let op_span = c.span_of(&op_pair);
            let op = cmp_op(op_pair);
            let value_pair = c.expect()?;
            let value = if value_pair.as_rule() == Rule::boolean {
                Value::Bool(value_pair.as_str() == "true", c.span_of(&value_pair))
            } else {
                // One number stays a threshold, as before arithmetic existed.
                match metric_expr(value_pair, offset, depth + 1)? {
                    MetricExpr::Number(lit) => Value::Literal(lit),
                    expr => Value::Expr(Box::new(expr)),
                }
            };
            Ok(Condition::Compare {
                metric,
                op,
                op_span,
                value,
            })
        }
        _ => Err(Unbuilt::Bug(c.span())),
    }
}

fn cmp_op(pair: Pair<'_, Rule>) -> CmpOp {
    match pair.as_str() {
        ">" => CmpOp::Gt,
        ">=" => CmpOp::Ge,
        "<" => CmpOp::Lt,
        "<=" => CmpOp::Le,
        "==" => CmpOp::Eq,
        _ => CmpOp::Ne,
    }
}

/// A `metric_expr` pair whose node sits at `depth`. Recursion here follows
/// brackets only (a call's argument, a parenthesised expression), which the
/// scanner bounds; a chain of `+`, `-`, `*`, `/` is folded in a loop, and
/// each operator nests the tree one level deeper, checked before building.
fn metric_expr(pair: Pair<'_, Rule>, offset: usize, depth: usize) -> Built<MetricExpr> {
    fold(pair, offset, depth)
}

/// A `metric_expr` (a sum of `term`s) or a `term` (a product of factors),
/// left-associative: `a - b - c` is `(a - b) - c`.
fn fold(pair: Pair<'_, Rule>, offset: usize, depth: usize) -> Built<MetricExpr> {
    let mut c = Children::of(pair, offset);
    let whole = c.span();
    let parts: Vec<Pair<'_, Rule>> = c
        .inner
        .by_ref()
        .filter(|p| !is_token(p.as_rule()))
        .collect();
    // The operators' nodes sit at `depth` to `depth + operators - 1`; a
    // metric or number beneath them is a leaf, which adds no level.
    let operators = parts.len() / 2;
    if operators > 0 && depth + operators - 1 > MAX_DEPTH {
        return Err(Unbuilt::TooDeep(whole));
    }
    let mut parts = parts.into_iter();
    let first = parts.next().ok_or(Unbuilt::Bug(whole))?;
    let mut left = operand_expr(first, offset, depth + operators)?;
    let mut level = depth + operators;
    while let Some(op_pair) = parts.next() {
        level -= 1;
        let op_span = Span::from(op_pair.as_span()).shifted(offset);
        let op = match op_pair.as_str() {
            "+" => ArithOp::Add,
            "-" => ArithOp::Sub,
            "*" => ArithOp::Mul,
            "/" => ArithOp::Div,
            _ => return Err(Unbuilt::Bug(op_span)),
        };
        let right_pair = parts.next().ok_or(Unbuilt::Bug(op_span))?;
        let right = operand_expr(right_pair, offset, level + 1)?;
        left = MetricExpr::Binary {
            op,
            op_span,
            left: Box::new(left),
            right: Box::new(right),
        };
    }
    Ok(left)
}

/// A `term` of a sum, or a factor of a product.
fn operand_expr(pair: Pair<'_, Rule>, offset: usize, depth: usize) -> Built<MetricExpr> {
    if pair.as_rule() == Rule::term {
        return fold(pair, offset, depth);
    }
    factor(pair, offset, depth)
}

/// A factor at `depth`: a metric, a number, a call or a bracketed
/// expression. Only a call or brackets make a level of their own.
fn factor(pair: Pair<'_, Rule>, offset: usize, depth: usize) -> Built<MetricExpr> {
    let span = Span::from(pair.as_span()).shifted(offset);
    let rule = pair.as_rule();
    if matches!(rule, Rule::paren_expr | Rule::call) && depth > MAX_DEPTH {
        return Err(Unbuilt::TooDeep(span));
    }
    match rule {
        Rule::ident => Ok(MetricExpr::Metric(ident(pair, offset))),
        Rule::literal => Ok(MetricExpr::Number(literal(pair, offset)?)),
        Rule::paren_expr => {
            let mut c = Children::of(pair, offset);
            let span = c.span();
            let inner = metric_expr(c.expect()?, offset, depth + 1)?;
            Ok(MetricExpr::Paren(Box::new(inner), span))
        }
        Rule::call => {
            let mut c = Children::of(pair, offset);
            let span = c.span();
            let function = ident(c.expect()?, offset);
            let arg_pair = c.expect()?;
            let arg = match arg_pair.as_rule() {
                Rule::metric_expr => metric_expr(arg_pair, offset, depth + 1)?,
                _ => factor(arg_pair, offset, depth + 1)?,
            };
            let window = literal(c.expect()?, offset)?;
            let horizon = match c.next() {
                Some(lit) => Some(Box::new(literal(lit, offset)?)),
                None => None,
            };
            Ok(MetricExpr::Call {
                function,
                arg: Box::new(arg),
                window,
                horizon,
                span,
            })
        }
        _ => Err(Unbuilt::Bug(span)),
    }
}
