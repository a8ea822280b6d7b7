//! Go to definition, find references and rename for `metric` and `patch`
//! declarations, from the parsed tree (which recovers per declaration and per
//! rule line, so this works in a file with syntax errors elsewhere).

use crate::catalog;
use crate::check::is_valid_name;
use crate::span::Span;
use crate::syntax::ast::{self, Action, Condition, Item, MetricExpr, Statement};
use crate::syntax::{parse, RESERVED_WORDS};
use kubeskippy_lsp::{TextEdit, TextRange};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Namespace {
    Metric,
    Patch,
}

#[derive(Debug, Clone)]
struct Occurrence<'a> {
    namespace: Namespace,
    name: &'a str,
    span: Span,
    declaration: bool,
}

/// Every declaration of and reference to a metric or patch, in source order.
fn occurrences(file: &ast::File) -> Vec<Occurrence<'_>> {
    let mut out = Vec::new();
    for item in &file.items {
        match item {
            Item::Metric(m) => out.push(occurrence(Namespace::Metric, &m.name, true)),
            Item::Patch(p) => out.push(occurrence(Namespace::Patch, &p.name, true)),
            Item::Policy(policy) => {
                for statement in &policy.statements {
                    if let Statement::Rule(rule) = statement {
                        condition(&rule.condition, &mut out);
                        action(&rule.action, &mut out);
                    }
                }
            }
        }
    }
    out
}

fn occurrence(namespace: Namespace, ident: &ast::Ident, declaration: bool) -> Occurrence<'_> {
    Occurrence {
        namespace,
        name: &ident.name,
        span: ident.span,
        declaration,
    }
}

/// The metrics a condition reads, left to right. Loops, not recursion: an
/// editor walks whatever tree the parser built.
fn condition<'a>(c: &'a Condition, out: &mut Vec<Occurrence<'a>>) {
    let mut open = vec![c];
    while let Some(c) = open.pop() {
        match c {
            // The right side is pushed first so the left one comes out first.
            Condition::Or(a, b) | Condition::And(a, b) => open.extend([&**b, &**a]),
            Condition::Not(inner, _)
            | Condition::Paren(inner, _)
            | Condition::Held { inner, .. } => open.push(inner),
            Condition::Compare { metric, value, .. } => {
                metric_expr(metric, out);
                if let ast::Value::Expr(right) = value {
                    metric_expr(right, out);
                }
            }
            Condition::Status { .. } | Condition::StatusWas { .. } | Condition::Event { .. } => {}
        }
    }
}

/// The metrics a side of a comparison names, left to right.
fn metric_expr<'a>(expr: &'a MetricExpr, out: &mut Vec<Occurrence<'a>>) {
    let mut open = vec![expr];
    while let Some(m) = open.pop() {
        match m {
            MetricExpr::Metric(ident) => out.push(occurrence(Namespace::Metric, ident, false)),
            MetricExpr::Call { arg, .. } => open.push(arg),
            MetricExpr::Paren(inner, _) => open.push(inner),
            MetricExpr::Binary { left, right, .. } => open.extend([&**right, &**left]),
            MetricExpr::Number(_) => {}
        }
    }
}

/// The patches an action names, in order.
fn action<'a>(a: &'a Action, out: &mut Vec<Occurrence<'a>>) {
    let mut open = vec![a];
    while let Some(a) = open.pop() {
        match a {
            Action::Patch { name, .. } => out.push(occurrence(Namespace::Patch, name, false)),
            Action::AskAi {
                among: Some(choices),
                ..
            } => open.extend(choices.iter().rev()),
            _ => {}
        }
    }
}

fn at(occurrences: &[Occurrence<'_>], offset: usize) -> Option<usize> {
    occurrences
        .iter()
        .position(|o| o.span.start <= offset && offset <= o.span.end)
}

fn range(span: Span) -> TextRange {
    span.start..span.end
}

/// Where the metric or patch named at `offset` is declared.
pub fn definition(text: &str, offset: usize) -> Option<TextRange> {
    let parsed = parse(text);
    let all = occurrences(&parsed.file);
    let found = &all[at(&all, offset)?];
    all.iter()
        .find(|o| o.declaration && o.namespace == found.namespace && o.name == found.name)
        .map(|o| range(o.span))
}

/// Every use of the metric or patch named at `offset` (built-in metrics too),
/// with its declaration if `include_declaration`.
pub fn references(text: &str, offset: usize, include_declaration: bool) -> Vec<TextRange> {
    let parsed = parse(text);
    let all = occurrences(&parsed.file);
    let Some(found) = at(&all, offset).map(|i| all[i].clone()) else {
        return Vec::new();
    };
    all.iter()
        .filter(|o| o.namespace == found.namespace && o.name == found.name)
        .filter(|o| include_declaration || !o.declaration)
        .map(|o| range(o.span))
        .collect()
}

/// The name at `offset`, if it is a declared metric or patch.
pub fn prepare_rename(text: &str, offset: usize) -> Result<TextRange, String> {
    let parsed = parse(text);
    let all = occurrences(&parsed.file);
    let found = at(&all, offset)
        .map(|i| &all[i])
        .ok_or("only declared metrics and patches can be renamed")?;
    let declared = all
        .iter()
        .any(|o| o.declaration && o.namespace == found.namespace && o.name == found.name);
    if !declared {
        return Err(format!("`{}` is not declared in this file", found.name));
    }
    Ok(range(found.span))
}

/// The edits that rename the declared metric or patch at `offset`, its
/// declaration and every use.
pub fn rename(text: &str, offset: usize, new_name: &str) -> Result<Vec<TextEdit>, String> {
    prepare_rename(text, offset)?;
    let parsed = parse(text);
    let all = occurrences(&parsed.file);
    let found = at(&all, offset)
        .map(|i| &all[i])
        .ok_or("nothing to rename here")?;
    if !is_valid_name(new_name) {
        return Err(format!(
            "`{new_name}` is not a valid name: lowercase letters, digits, `_` and `-`, starting with a letter"
        ));
    }
    if RESERVED_WORDS.contains(&new_name) {
        return Err(format!(
            "`{new_name}` is a reserved word: choose another name"
        ));
    }
    let taken = all
        .iter()
        .any(|o| o.declaration && o.namespace == found.namespace && o.name == new_name);
    if taken || (found.namespace == Namespace::Metric && catalog::metric(new_name).is_some()) {
        return Err(format!("`{new_name}` is already a metric or patch name"));
    }
    let edits: Vec<TextEdit> = all
        .iter()
        .filter(|o| o.namespace == found.namespace && o.name == found.name)
        .map(|o| TextEdit {
            range: range(o.span),
            new_text: new_name.to_string(),
        })
        .collect();
    // The last guard: a rename must not break the file's syntax, whatever the
    // grammar's rules about names become.
    let mut renamed = text.to_string();
    for edit in edits.iter().rev() {
        renamed.replace_range(edit.range.clone(), &edit.new_text);
    }
    if parse(&renamed).diagnostics.len() > parsed.diagnostics.len() {
        return Err(format!("renaming to `{new_name}` would not parse"));
    }
    Ok(edits)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "metric q: count = promql \"up\"\npatch fix: merge \"{}\"\n\
        policy p {\n  select deployments\n  when q > 1 and avg(q, 5m) > 2 then patch fix\n\
        \x20 when memory_percent > 1 then ask ai among [patch fix, notify \"x\"]\n}\n";

    fn at_nth(needle: &str, n: usize) -> usize {
        TEXT.match_indices(needle).nth(n).expect("needle").0
    }

    #[test]
    fn definition_and_references() {
        let use_of_q = at_nth("q,", 0);
        assert_eq!(definition(TEXT, use_of_q), Some(7..8));
        assert_eq!(references(TEXT, use_of_q, true).len(), 3);
        assert_eq!(references(TEXT, use_of_q, false).len(), 2);
        let fix_decl = at_nth("fix", 0);
        assert_eq!(references(TEXT, fix_decl, false).len(), 2);
        assert_eq!(
            definition(TEXT, at_nth("fix, ", 0)),
            Some(fix_decl..fix_decl + 3)
        );
        let builtin = at_nth("memory_percent", 0);
        assert_eq!(definition(TEXT, builtin), None);
        assert_eq!(references(TEXT, builtin, true).len(), 1);
    }

    #[test]
    fn a_metric_inside_arithmetic_or_on_the_right_is_a_reference() {
        let text = "metric q: count = promql \"up\"\npolicy p {\n  select deployments\n  \
            when replicas - q > 1 and replicas != (q * 2) then notify \"x\"\n}\n";
        let decl = text.find("q:").expect("declaration");
        assert_eq!(references(text, decl, true).len(), 3);
        let edits = rename(text, decl, "queued").expect("renames");
        assert_eq!(edits.len(), 3);
    }

    #[test]
    fn rename_declared_names_only() {
        let edits = rename(TEXT, at_nth("fix", 1), "more-logs").expect("renames");
        assert_eq!(edits.len(), 3);
        assert!(rename(TEXT, at_nth("memory_percent", 0), "x").is_err());
        assert!(rename(TEXT, at_nth("q", 0), "Bad Name").is_err());
        assert!(rename(TEXT, at_nth("q", 0), "cpu_percent").is_err());
        assert!(prepare_rename(TEXT, 0).is_err());
    }

    #[test]
    fn rename_refuses_reserved_words() {
        for word in RESERVED_WORDS {
            let why = rename(TEXT, at_nth("fix", 1), word).expect_err(word);
            assert!(why.contains("reserved"), "{why}");
            assert!(rename(TEXT, at_nth("q", 0), word).is_err(), "{word}");
        }
        // Every name the rename accepts still parses.
        for name in ["q2", "more-logs", "when2", "then-fix", "policy", "select"] {
            if let Ok(edits) = rename(TEXT, at_nth("fix", 1), name) {
                let mut renamed = TEXT.to_string();
                for edit in edits.iter().rev() {
                    renamed.replace_range(edit.range.clone(), &edit.new_text);
                }
                assert!(parse(&renamed).diagnostics.is_empty(), "{name}: {renamed}");
            }
        }
    }
}
