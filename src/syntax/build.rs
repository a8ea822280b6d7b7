//! From pest's parse tree to the AST.
//!
//! The grammar guarantees the shape of each pair, so a shape this module does not
//! expect is a bug in KubeSkippy, not in the user's file: it becomes
//! `Unbuilt::Bug`, which the parser reports as a diagnostic instead of panicking.
//!
//! Invariant: no tree built here nests deeper than [`MAX_DEPTH`] — conditions,
//! metric expressions and actions alike — whatever pest hands over, so that
//! everything that walks a tree later (the checker, the formatter, editors,
//! the derived `Drop`, `Clone` and `PartialEq`) recurses a bounded number of
//! times. A deeper tree is refused before it is built (`Unbuilt::TooDeep`).
//! Conditions, the one tree users nest by hand, are built without recursion.

mod condition;
#[cfg(test)]
mod tests;

use super::ast::*;
use super::grammar::Rule;
use super::MAX_DEPTH;
use crate::span::Span;
use pest::iterators::{Pair, Pairs};

/// Why a parse tree gave no AST.
#[derive(Debug)]
pub(crate) enum Unbuilt {
    /// The parse tree does not have the shape the grammar promises.
    Bug(Span),
    /// The tree would nest deeper than [`MAX_DEPTH`] at this span.
    TooDeep(Span),
}

type Built<T> = Result<T, Unbuilt>;

/// The meaningful children of a pair: keywords, punctuation and separators are
/// dropped, since the rule they belong to already says what they were.
struct Children<'i> {
    inner: Pairs<'i, Rule>,
    /// The parent's span as pest has it; trimmed only when asked for, since
    /// most nodes never need their own span.
    raw: pest::Span<'i>,
    offset: usize,
}

impl<'i> Children<'i> {
    fn of(pair: Pair<'i, Rule>, offset: usize) -> Children<'i> {
        Children {
            raw: pair.as_span(),
            inner: pair.into_inner(),
            offset,
        }
    }

    /// The parent's span in the file, without trailing blanks and comment.
    fn span(&self) -> Span {
        code_span(self.raw).shifted(self.offset)
    }

    fn next(&mut self) -> Option<Pair<'i, Rule>> {
        self.inner.by_ref().find(|p| !is_token(p.as_rule()))
    }

    fn expect(&mut self) -> Built<Pair<'i, Rule>> {
        self.next().ok_or_else(|| Unbuilt::Bug(self.span()))
    }

    /// The next child if it is `rule`; otherwise leaves it in place.
    fn take(&mut self, rule: Rule) -> Option<Pair<'i, Rule>> {
        let mut peek = self.inner.clone();
        let next = peek.find(|p| !is_token(p.as_rule()))?;
        if next.as_rule() == rule {
            self.inner = peek;
            Some(next)
        } else {
            None
        }
    }

    fn span_of(&self, pair: &Pair<'_, Rule>) -> Span {
        Span::from(pair.as_span()).shifted(self.offset)
    }
}

/// The span of a pair without the blanks and comment that pest's implicit
/// whitespace leaves at its end when an optional last part is absent (the span
/// of `when … then delete  # why` must stop at `delete`). Only one-line pairs can
/// end in a comment: a multi-line pair (a policy) ends with its `}`.
fn code_span(raw: pest::Span<'_>) -> Span {
    let span = Span::from(raw);
    let text = raw.as_str();
    // Most pairs end in code: only a pair that ends in a blank can have
    // swallowed a comment (a comment runs to the end of the line, whose
    // newline is never inside a one-line pair) or trailing blanks.
    let ends_in_code = !text.ends_with([' ', '\t']) && !text.contains('#');
    let code = if ends_in_code || text.contains('\n') {
        text
    } else {
        let mut in_string = false;
        let mut escaped = false;
        let mut cut = text.len();
        for (i, c) in text.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' if in_string => escaped = true,
                '"' => in_string = !in_string,
                '#' if !in_string => {
                    cut = i;
                    break;
                }
                _ => {}
            }
        }
        &text[..cut]
    };
    Span::new(span.start, span.start + code.trim_end().len())
}

fn is_token(rule: Rule) -> bool {
    use Rule::*;
    matches!(
        rule,
        sep | EOI
            | lbrace
            | rbrace
            | lparen
            | rparen
            | lbracket
            | rbracket
            | comma
            | colon
            | equals
            | star
            | slash
            | kw_policy
            | kw_metric
            | kw_patch
            | kw_promql
            | kw_select
            | kw_in
            | kw_where
            | kw_exists
            | kw_mode
            | kw_limit
            | kw_per
            | kw_cooldown
            | kw_when
            | kw_then
            | kw_for
            | kw_priority
            | kw_and
            | kw_or
            | kw_status
            | kw_is
            | kw_was
            | kw_event
            | kw_count
            | kw_within
            | kw_scale
            | kw_restart
            | kw_delete
            | kw_rollback
            | kw_cordon
            | kw_drain
            | kw_rerun
            | kw_expand
            | kw_up
            | kw_down
            | kw_to
            | kw_max
            | kw_min
            | kw_set
            | kw_current
            | kw_notify
            | kw_ask
            | kw_ai
            | kw_among
    )
}

/// Builds the declarations of a `file` or `declaration` pair, whose spans are
/// shifted by `offset` (the position of the parsed text in the whole file).
pub(crate) fn items(pair: Pair<'_, Rule>, offset: usize) -> Built<Vec<Item>> {
    let mut out = Vec::new();
    let mut children = Children::of(pair, offset);
    while let Some(child) = children.next() {
        out.push(item(child, offset)?);
    }
    Ok(out)
}

fn item(pair: Pair<'_, Rule>, offset: usize) -> Built<Item> {
    match pair.as_rule() {
        Rule::policy => policy(pair, offset).map(Item::Policy),
        Rule::metric_decl => {
            let mut c = Children::of(pair, offset);
            let span = c.span();
            let name = ident(c.expect()?, offset);
            let unbounded = c.take(Rule::kw_unbounded).map(|p| c.span_of(&p));
            let counter = c.take(Rule::kw_counter).map(|p| c.span_of(&p));
            Ok(Item::Metric(MetricDecl {
                name,
                unbounded,
                counter,
                unit: ident(c.expect()?, offset),
                query: string(c.expect()?, offset)?,
                span,
            }))
        }
        Rule::patch_decl => {
            let mut c = Children::of(pair, offset);
            let span = c.span();
            Ok(Item::Patch(PatchDecl {
                name: ident(c.expect()?, offset),
                patch_type: ident(c.expect()?, offset),
                body: string(c.expect()?, offset)?,
                span,
            }))
        }
        _ => Err(Unbuilt::Bug(Span::from(pair.as_span()).shifted(offset))),
    }
}

fn policy(pair: Pair<'_, Rule>, offset: usize) -> Built<Policy> {
    let mut c = Children::of(pair, offset);
    let span = c.span();
    let name = ident(c.expect()?, offset);
    let mut statements = Vec::new();
    while let Some(child) = c.next() {
        statements.push(statement(child, offset)?);
    }
    Ok(Policy {
        name,
        statements,
        span,
        recovered: false,
    })
}

/// Builds the statements of a `statement_line` pair.
pub(crate) fn statement_line(pair: Pair<'_, Rule>, offset: usize) -> Built<Vec<Statement>> {
    let mut c = Children::of(pair, offset);
    let mut out = Vec::new();
    while let Some(child) = c.next() {
        out.push(statement(child, offset)?);
    }
    Ok(out)
}

fn statement(pair: Pair<'_, Rule>, offset: usize) -> Built<Statement> {
    let mut outer = Children::of(pair, offset);
    let pair = outer.expect()?;
    let mut c = Children::of(pair.clone(), offset);
    let span = c.span();
    match pair.as_rule() {
        Rule::select_stmt => {
            let kind = ident(c.expect()?, offset);
            let namespaces = match c.take(Rule::namespaces) {
                Some(ns) => Some(namespaces(ns, offset)?),
                None => None,
            };
            let mut labels = Vec::new();
            while let Some(m) = c.next() {
                labels.push(label_match(m, offset)?);
            }
            Ok(Statement::Select(Select {
                kind,
                namespaces,
                labels,
                span,
            }))
        }
        Rule::mode_stmt => Ok(Statement::Mode(ident(c.expect()?, offset), span)),
        Rule::limit_stmt => Ok(Statement::Limit {
            count: literal(c.expect()?, offset)?,
            per: literal(c.expect()?, offset)?,
            span,
        }),
        Rule::cooldown_stmt => Ok(Statement::Cooldown(literal(c.expect()?, offset)?, span)),
        Rule::when_rule => rule(pair, offset).map(Statement::Rule),
        _ => Err(Unbuilt::Bug(span)),
    }
}

fn namespaces(pair: Pair<'_, Rule>, offset: usize) -> Built<Namespaces> {
    let span = Span::from(pair.as_span()).shifted(offset);
    let inner: Vec<_> = pair.into_inner().collect();
    if inner.iter().any(|p| p.as_rule() == Rule::kw_any) {
        return Ok(Namespaces::Any(span));
    }
    Ok(Namespaces::Named(
        inner
            .into_iter()
            .filter(|p| p.as_rule() == Rule::namespace)
            .map(|p| ident(p, offset))
            .collect(),
    ))
}

fn label_match(pair: Pair<'_, Rule>, offset: usize) -> Built<LabelMatch> {
    let mut c = Children::of(pair, offset);
    let span = c.span();
    let first = c.expect()?;
    if first.as_rule() == Rule::label_absent {
        // `not` is a keyword pair the generic children keep (negation needs
        // it), so the key is found by its rule.
        let first_span = Span::from(first.as_span()).shifted(offset);
        let key = first
            .into_inner()
            .find(|p| p.as_rule() == Rule::label_key)
            .ok_or(Unbuilt::Bug(first_span))?;
        return Ok(LabelMatch {
            key: ident(key, offset),
            op: LabelOp::NotExists,
            span,
        });
    }
    let key = ident(first, offset);
    let op = match c.next() {
        None => LabelOp::Exists,
        Some(p) if p.as_rule() == Rule::label_in => {
            let mut values = Vec::new();
            let mut inner = Children::of(p, offset);
            while let Some(s) = inner.next() {
                values.push(string(s, offset)?);
            }
            LabelOp::In(values)
        }
        Some(p) => {
            let mut inner = Children::of(p, offset);
            let op = inner.expect()?;
            let value = string(inner.expect()?, offset)?;
            if op.as_str() == "!=" {
                LabelOp::NotEquals(value)
            } else {
                LabelOp::Equals(value)
            }
        }
    };
    Ok(LabelMatch { key, op, span })
}

fn rule(pair: Pair<'_, Rule>, offset: usize) -> Built<super::ast::Rule> {
    let mut c = Children::of(pair, offset);
    let span = c.span();
    let condition = condition::condition(c.expect()?, offset)?;
    let for_duration = match c.take(Rule::for_clause) {
        Some(p) => Some(literal(Children::of(p, offset).expect()?, offset)?),
        None => None,
    };
    let action = action(c.expect()?, offset, 1)?;
    let priority = match c.take(Rule::priority_clause) {
        Some(p) => Some(literal(Children::of(p, offset).expect()?, offset)?),
        None => None,
    };
    Ok(super::ast::Rule {
        condition,
        for_duration,
        action,
        priority,
        span,
    })
}

/// An action at `depth` in its tree (the rule's own action is at 1). Only
/// `ask ai among [...]` nests, once per `[`, so this recursion is the
/// grammar's, bounded by [`MAX_DEPTH`]; the other actions are built apart so
/// that each level costs a small frame.
fn action(pair: Pair<'_, Rule>, offset: usize, depth: usize) -> Built<Action> {
    let mut outer = Children::of(pair, offset);
    if depth > MAX_DEPTH {
        return Err(Unbuilt::TooDeep(outer.span()));
    }
    let pair = outer.expect()?;
    if pair.as_rule() != Rule::ask_ai_action {
        return flat_action(pair, offset);
    }
    let mut c = Children::of(pair, offset);
    let span = c.span();
    let mut among = Vec::new();
    let mut listed = false;
    while let Some(a) = c.next() {
        listed = true;
        among.push(action(a, offset, depth + 1)?);
    }
    Ok(Action::AskAi {
        among: listed.then_some(among),
        span,
    })
}

/// An action that holds no other action.
fn flat_action(pair: Pair<'_, Rule>, offset: usize) -> Built<Action> {
    let rule = pair.as_rule();
    let mut c = Children::of(pair, offset);
    let span = c.span();
    Ok(match rule {
        Rule::restart_action => Action::Restart {
            mode: c.next().map(|m| ident(m, offset)),
            span,
        },
        Rule::delete_action => Action::Delete(span),
        Rule::rollback_action => Action::Rollback(span),
        Rule::rerun_action => Action::Rerun(span),
        Rule::cordon_action => Action::Cordon(span),
        Rule::drain_action => Action::Drain(span),
        Rule::scale_action => {
            let direction = c.expect()?;
            let which = direction.as_rule();
            let mut d = Children::of(direction, offset);
            let amount = literal(d.expect()?, offset)?;
            let bound = match d.next() {
                Some(b) => Some(literal(b, offset)?),
                None => None,
            };
            match which {
                Rule::scale_up => Action::ScaleUp {
                    by: amount,
                    max: bound,
                    span,
                },
                Rule::scale_down => Action::ScaleDown {
                    by: amount,
                    min: bound,
                    span,
                },
                _ => Action::ScaleTo {
                    replicas: amount,
                    span,
                },
            }
        }
        Rule::patch_action => Action::Patch {
            name: ident(c.expect()?, offset),
            span,
        },
        Rule::set_action => {
            let resource = ident(c.expect()?, offset);
            let value_pair = c.expect()?;
            let mut v = Children::of(value_pair, offset);
            let inner = v.expect()?;
            let value = if inner.as_rule() == Rule::set_factor {
                let factor_span = v.span_of(&inner);
                let mut f = Children::of(inner, offset);
                SetValue::Factor(literal(f.expect()?, offset)?, factor_span)
            } else {
                SetValue::Absolute(literal(inner, offset)?)
            };
            let max = match c.next() {
                Some(m) => Some(literal(m, offset)?),
                None => None,
            };
            Action::Set {
                resource,
                value,
                max,
                span,
            }
        }
        Rule::expand_action => {
            let mut v = Children::of(c.expect()?, offset);
            let inner = v.expect()?;
            let value = if inner.as_rule() == Rule::set_factor {
                let factor_span = v.span_of(&inner);
                let mut f = Children::of(inner, offset);
                SetValue::Factor(literal(f.expect()?, offset)?, factor_span)
            } else {
                SetValue::Absolute(literal(inner, offset)?)
            };
            let max = match c.next() {
                Some(m) => Some(literal(m, offset)?),
                None => None,
            };
            Action::Expand { value, max, span }
        }
        Rule::notify_action => Action::Notify {
            message: string(c.expect()?, offset)?,
            span,
        },
        Rule::unknown_action => Action::Unknown {
            name: ident(c.expect()?, offset),
            span,
        },
        _ => return Err(Unbuilt::Bug(span)),
    })
}

fn ident(pair: Pair<'_, Rule>, offset: usize) -> Ident {
    Ident {
        name: pair.as_str().to_string(),
        span: Span::from(pair.as_span()).shifted(offset),
    }
}

fn literal(pair: Pair<'_, Rule>, offset: usize) -> Built<Literal> {
    let span = Span::from(pair.as_span()).shifted(offset);
    let mut number = None;
    let mut suffix = None;
    let mut per = None;
    for part in pair.into_inner() {
        match part.as_rule() {
            Rule::number => number = Some(part.as_str().to_string()),
            Rule::suffix => suffix = Some(part.as_str().to_string()),
            Rule::per_unit => per = Some(part.as_str().to_string()),
            _ => {}
        }
    }
    Ok(Literal {
        number: number.ok_or(Unbuilt::Bug(span))?,
        suffix,
        per,
        span,
    })
}

fn string(pair: Pair<'_, Rule>, offset: usize) -> Built<StringLit> {
    let span = Span::from(pair.as_span()).shifted(offset);
    let raw = pair
        .into_inner()
        .find(|p| p.as_rule() == Rule::string_body)
        .map(|p| p.as_str())
        .unwrap_or("");
    Ok(StringLit {
        value: unescape(raw),
        span,
    })
}

/// `\"` and `\\` are the escapes; any other backslash stands for itself followed
/// by the next character, so PromQL's own escapes (`\.`) pass through unchanged.
fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(ch) = chars.next() {
        if ch == '\\' {
            match chars.next() {
                Some(escaped @ ('"' | '\\')) => out.push(escaped),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(ch);
        }
    }
    out
}
