//! One construct to its canonical one-line text: declarations, statements,
//! conditions, actions, literals and strings.
//!
//! Invariant: every function here prints text that parses back to the same AST
//! (spans aside), so the checker lowers it to the same IR. Nothing here knows
//! about lines, indentation or comments; `layout` does.

use crate::syntax::ast::{
    Action, Condition, LabelMatch, LabelOp, Literal, MetricDecl, MetricExpr, Namespaces, PatchDecl,
    Rule, Select, SetValue, Statement, StringLit, Value,
};

/// `metric NAME: [unbounded | counter] UNIT = promql "QUERY"`
pub(super) fn metric(decl: &MetricDecl) -> String {
    format!(
        "metric {}: {}{} = promql {}",
        decl.name.name,
        if decl.unbounded.is_some() {
            "unbounded "
        } else if decl.counter.is_some() {
            "counter "
        } else {
            ""
        },
        decl.unit.name,
        string(&decl.query)
    )
}

/// `patch NAME: TYPE "BODY"`
pub(super) fn patch(decl: &PatchDecl) -> String {
    format!(
        "patch {}: {} {}",
        decl.name.name,
        decl.patch_type.name,
        string(&decl.body)
    )
}

/// One statement of a policy body. `source` is only read for what the AST does
/// not keep (the words after an unknown action).
pub(super) fn statement(statement: &Statement, source: &str) -> String {
    match statement {
        Statement::Select(select) => select_stmt(select, source),
        Statement::Mode(mode, _) => format!("mode {}", mode.name),
        Statement::Limit { count, per, .. } => format!("limit {} per {}", count.text(), per.text()),
        Statement::Cooldown(duration, _) => format!("cooldown {}", duration.text()),
        Statement::Rule(rule) => when_rule(rule, source),
    }
}

fn select_stmt(select: &Select, source: &str) -> String {
    let mut out = format!("select {}", select.kind.name);
    match &select.namespaces {
        None => {}
        Some(Namespaces::Any(_)) => out.push_str(" in any"),
        Some(Namespaces::Named(names)) => {
            let names: Vec<&str> = names.iter().map(|n| n.name.as_str()).collect();
            out.push_str(" in ");
            out.push_str(&names.join(", "));
        }
    }
    if !select.labels.is_empty() {
        let labels: Vec<String> = select
            .labels
            .iter()
            .map(|label| label_match(label, source))
            .collect();
        out.push_str(" where ");
        out.push_str(&labels.join(", "));
    }
    out
}

fn label_match(label: &LabelMatch, source: &str) -> String {
    let key = &label.key.name;
    match &label.op {
        LabelOp::Equals(value) => format!("{key} = {}", string(value)),
        LabelOp::NotEquals(value) => format!("{key} != {}", string(value)),
        LabelOp::In(values) => {
            let values: Vec<String> = values.iter().map(string).collect();
            format!("{key} in ({})", values.join(", "))
        }
        LabelOp::Exists => format!("{key} exists"),
        // A key spanning from the start of `not KEY exists` is the `not`
        // keyword, not the key (a parser bug): the match is then copied as
        // written, since printing that key would replace the user's.
        LabelOp::NotExists if label.key.span.start == label.span.start => source
            .get(label.span.start..label.span.end)
            .map_or_else(|| format!("not {key} exists"), str::to_string),
        LabelOp::NotExists => format!("not {key} exists"),
    }
}

fn when_rule(rule: &Rule, source: &str) -> String {
    // A held clause right before `then` would read as the rule's `for`: the
    // parser never builds one there, a hand-built tree gets brackets.
    let mut last = &rule.condition;
    while let Condition::And(_, right) | Condition::Or(_, right) = last {
        last = right;
    }
    let mut out = if matches!(last, Condition::Held { .. }) {
        format!("when ({})", condition(&rule.condition))
    } else {
        format!("when {}", condition(&rule.condition))
    };
    if let Some(duration) = &rule.for_duration {
        out.push_str(" for ");
        out.push_str(&duration.text());
    }
    out.push_str(" then ");
    out.push_str(&action(&rule.action, source));
    if let Some(priority) = &rule.priority {
        out.push_str(" priority ");
        out.push_str(&priority.text());
    }
    out
}

/// Parentheses are printed where the author wrote them (`Condition::Paren`).
/// The parser never builds an `or` directly under an `and` or a `not`, nor an
/// `and` under a `not`; a hand-built tree that does gets parentheses, so the
/// text always parses back to the same meaning.
fn condition(cond: &Condition) -> String {
    match cond {
        Condition::Or(left, right) => format!("{} or {}", condition(left), condition(right)),
        Condition::And(left, right) => {
            format!("{} and {}", operand(left, 1), operand(right, 1))
        }
        Condition::Not(inner, _) => format!("not {}", operand(inner, 2)),
        Condition::Paren(inner, _) => format!("({})", condition(inner)),
        Condition::Status { reason, .. } => format!("status is {}", reason.name),
        Condition::StatusWas { reason, within, .. } => {
            format!("status was {} within {}", reason.name, within.text())
        }
        // A held clause inside another gets brackets: `a for 1m for 3m`
        // does not parse.
        Condition::Held { inner, hold, .. } => match &**inner {
            Condition::Held { .. } => format!("({}) for {}", condition(inner), hold.text()),
            _ => format!("{} for {}", operand(inner, 2), hold.text()),
        },
        Condition::Event {
            reason,
            op,
            count,
            within,
            ..
        } => format!(
            "event {} count {} {} within {}",
            reason.name,
            op.as_str(),
            count.text(),
            within.text()
        ),
        Condition::Compare {
            metric, op, value, ..
        } => format!(
            "{} {} {}",
            metric_expr(metric),
            op.as_str(),
            value_text(value)
        ),
    }
}

/// Prints `cond` as an operand of an operator that binds at `level` (1 = `and`,
/// 2 = `not`), wrapping it in parentheses when it binds more loosely.
fn operand(cond: &Condition, level: u8) -> String {
    // A held clause binds as loosely as `and` does: under `not` it needs
    // brackets, or its `for` would hold the `not`.
    let binds = match cond {
        Condition::Or(..) => 0,
        Condition::And(..) | Condition::Held { .. } => 1,
        _ => 2,
    };
    if binds < level {
        format!("({})", condition(cond))
    } else {
        condition(cond)
    }
}

/// A side of a comparison. Brackets are printed where they were written (the
/// tree keeps them), so the grouping read back is the grouping printed.
fn metric_expr(expr: &MetricExpr) -> String {
    match expr {
        MetricExpr::Metric(name) => name.name.clone(),
        MetricExpr::Call {
            function,
            arg,
            window,
            horizon,
            ..
        } => match horizon {
            Some(horizon) => format!(
                "{}({}, {}, {})",
                function.name,
                metric_expr(arg),
                window.text(),
                horizon.text()
            ),
            None => format!("{}({}, {})", function.name, metric_expr(arg), window.text()),
        },
        MetricExpr::Number(literal) => literal.text(),
        MetricExpr::Binary {
            op, left, right, ..
        } => format!(
            "{} {} {}",
            metric_expr(left),
            op.as_str(),
            metric_expr(right)
        ),
        MetricExpr::Paren(inner, _) => format!("({})", metric_expr(inner)),
    }
}

fn value_text(value: &Value) -> String {
    match value {
        Value::Bool(true, _) => "true".to_string(),
        Value::Bool(false, _) => "false".to_string(),
        Value::Literal(literal) => literal.text(),
        Value::Expr(expr) => metric_expr(expr),
    }
}

fn action(action_node: &Action, source: &str) -> String {
    match action_node {
        Action::Restart { mode: None, .. } => "restart".to_string(),
        Action::Restart { mode: Some(m), .. } => format!("restart {}", m.name),
        Action::Delete(_) => "delete".to_string(),
        Action::ScaleUp { by, max, .. } => bounded(format!("scale up {}", by.text()), "max", max),
        Action::ScaleDown { by, min, .. } => {
            bounded(format!("scale down {}", by.text()), "min", min)
        }
        Action::ScaleTo { replicas, .. } => format!("scale to {}", replicas.text()),
        Action::Patch { name, .. } => format!("patch {}", name.name),
        Action::Set {
            resource,
            value,
            max,
            ..
        } => {
            let value = match value {
                SetValue::Absolute(literal) => literal.text(),
                SetValue::Factor(factor, _) => format!("current * {}", factor.text()),
            };
            bounded(format!("set {} = {value}", resource.name), "max", max)
        }
        Action::Rollback(_) => "rollback".to_string(),
        Action::Rerun(_) => "rerun".to_string(),
        Action::Expand { value, max, .. } => {
            let value = match value {
                SetValue::Absolute(literal) => literal.text(),
                SetValue::Factor(factor, _) => format!("current * {}", factor.text()),
            };
            bounded(format!("expand to {value}"), "max", max)
        }
        Action::Cordon(_) => "cordon".to_string(),
        Action::Drain(_) => "drain".to_string(),
        Action::Notify { message, .. } => format!("notify {}", string(message)),
        Action::AskAi { among: None, .. } => "ask ai".to_string(),
        Action::AskAi {
            among: Some(choices),
            ..
        } => {
            let choices: Vec<String> = choices.iter().map(|a| action(a, source)).collect();
            format!("ask ai among [{}]", choices.join(", "))
        }
        // The AST keeps only the first word of an unknown action, so the words
        // after it are copied as written: dropping them would lose the user's
        // text, and the checker rejects the action anyway.
        Action::Unknown { name, span } => source
            .get(span.start..span.end)
            .filter(|text| text.starts_with(name.name.as_str()))
            .unwrap_or(&name.name)
            .to_string(),
    }
}

/// `out` followed by ` max N` or ` min N` when the bound is given.
fn bounded(mut out: String, keyword: &str, bound: &Option<Literal>) -> String {
    if let Some(bound) = bound {
        out.push(' ');
        out.push_str(keyword);
        out.push(' ');
        out.push_str(&bound.text());
    }
    out
}

/// A string literal, quoted. Only `\"` and `\\` are escapes and any other
/// backslash stands for itself, so a lone backslash before an ordinary
/// character stays as written (PromQL's `\.`); every other backslash is
/// doubled, so that none is read as the start of an escape.
pub(super) fn string(lit: &StringLit) -> String {
    let mut out = String::with_capacity(lit.value.len() + 2);
    out.push('"');
    let mut chars = lit.value.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => {
                let mut run = 1;
                while chars.next_if_eq(&'\\').is_some() {
                    run += 1;
                }
                let stands_alone = run == 1 && chars.peek().is_some_and(|&next| next != '"');
                let escaped = if stands_alone { "\\" } else { "\\\\" };
                out.push_str(&escaped.repeat(run));
            }
            _ => out.push(ch),
        }
    }
    out.push('"');
    out
}
