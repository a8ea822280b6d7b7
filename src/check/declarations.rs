//! `metric` and `patch` declarations: their PromQL and JSON are parsed here, at
//! check time, so a typo in either is a located error rather than a run-time
//! surprise.

use super::{duplicate, Checker, Declared};
use crate::catalog::{self, Series, Source, Unit};
use crate::diagnostic::{closest, Code, Diagnostic};
use crate::ir::{self, MetricId, PatchId, PatchType};
use crate::syntax::ast;

impl Checker<'_> {
    pub(super) fn declarations(&mut self, file: &ast::File) {
        for item in &file.items {
            match item {
                ast::Item::Metric(decl) => self.metric_decl(decl),
                ast::Item::Patch(decl) => self.patch_decl(decl),
                ast::Item::Policy(_) => {}
            }
        }
    }

    fn metric_decl(&mut self, decl: &ast::MetricDecl) {
        self.check_name(&decl.name, "metric");
        let name = &decl.name.name;
        if catalog::metric(name).is_some() {
            self.report(
                Diagnostic::new(
                    Code::DuplicateName,
                    decl.name.span,
                    format!("`{name}` is a built-in metric"),
                )
                .label("already defined by KubeSkippy")
                .help("give the declared metric another name"),
            );
            return;
        }
        if let Some(first) = self.metrics.get(name) {
            let d = duplicate(&decl.name, "metric", first.span);
            self.report(d);
            return;
        }
        let unit = match Unit::from_keyword(&decl.unit.name) {
            Some(unit) => Some(unit),
            None => {
                let d = Diagnostic::new(
                    Code::UnknownUnit,
                    decl.unit.span,
                    format!("unknown unit `{}`", decl.unit.name),
                )
                .label("expected a unit");
                let d = match closest(&decl.unit.name, Unit::ALL.map(Unit::keyword)) {
                    Some(s) => d.suggest(s),
                    None => d.help(format!(
                        "units: {}",
                        Unit::ALL.map(|u| format!("`{u}`")).join(", ")
                    )),
                };
                self.report(d);
                None
            }
        };
        let query_ok = self.promql(&decl.query);
        let id = match (unit, query_ok) {
            (Some(unit), true) => {
                self.program.metrics.push(ir::Metric {
                    name: name.clone(),
                    unit,
                    series: Series::Gauge,
                    source: Source::Prometheus,
                    promql: Some(decl.query.value.clone()),
                    builtin: false,
                });
                Some(MetricId(self.program.metrics.len() - 1))
            }
            _ => None,
        };
        self.metrics.insert(
            name.clone(),
            Declared {
                span: decl.name.span,
                id,
                used: false,
            },
        );
    }

    /// Checks a PromQL template: its placeholders, then the query with each
    /// placeholder replaced by text of the same length (so positions still match).
    fn promql(&mut self, query: &ast::StringLit) -> bool {
        let text = &query.value;
        let mut substituted = text.clone();
        let mut ok = true;
        let mut search = 0;
        while let Some(found) = text[search..].find('$') {
            let start = search + found;
            let end = text[start + 1..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .map_or(text.len(), |n| start + 1 + n);
            search = end.max(start + 1);
            let placeholder = &text[start..end];
            if catalog::PROMQL_PLACEHOLDERS
                .iter()
                .any(|(p, _)| *p == placeholder)
            {
                substituted.replace_range(start..end, &"x".repeat(end - start));
                continue;
            }
            ok = false;
            let span = crate::span::Span::new(
                query.source_offset(self.source, start),
                query.source_offset(self.source, end),
            );
            let known = catalog::PROMQL_PLACEHOLDERS.iter().map(|(p, _)| *p);
            let d = Diagnostic::new(
                Code::UnknownPlaceholder,
                span,
                format!("unknown placeholder `{placeholder}` in the PromQL template"),
            )
            .label("not a placeholder KubeSkippy fills in");
            let d = match closest(placeholder, known.clone()) {
                Some(s) => d.suggest(s),
                None => d.help(format!(
                    "placeholders: {}",
                    known
                        .map(|p| format!("`{p}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            };
            self.report(d);
        }
        if !ok {
            return false;
        }
        if substituted.trim().is_empty() {
            self.report(
                Diagnostic::new(Code::InvalidPromql, query.span, "the PromQL query is empty")
                    .help("write the query that returns the metric, one series per pod"),
            );
            return false;
        }
        match promql_parser::parser::parse(&substituted) {
            Ok(_) => true,
            Err(message) => {
                let (span, label) = match promql_error_at(text, &message) {
                    Some((start, end)) => (
                        crate::span::Span::new(
                            query.source_offset(self.source, start),
                            query.source_offset(self.source, end),
                        ),
                        "the query breaks here",
                    ),
                    None => (query.span, "this query does not parse"),
                };
                self.report(
                    Diagnostic::new(
                        Code::InvalidPromql,
                        span,
                        format!("invalid PromQL: {}", message.trim()),
                    )
                    .label(label)
                    .help("check the query in Prometheus' expression browser; placeholders such as `$namespace` are filled in by KubeSkippy"),
                );
                false
            }
        }
    }

    fn patch_decl(&mut self, decl: &ast::PatchDecl) {
        self.check_name(&decl.name, "patch");
        let name = &decl.name.name;
        if let Some(first) = self.patches.get(name) {
            let d = duplicate(&decl.name, "patch", first.span);
            self.report(d);
            return;
        }
        let patch_type = match decl.patch_type.name.as_str() {
            "merge" => Some(PatchType::Merge),
            "strategic" => Some(PatchType::Strategic),
            other => {
                let d = Diagnostic::new(
                    Code::UnknownPatchType,
                    decl.patch_type.span,
                    format!("unknown patch type `{other}`"),
                )
                .label("expected `merge` or `strategic`");
                let d = match closest(other, ["merge", "strategic"]) {
                    Some(s) => d.suggest(s),
                    None => d.help("a patch is a JSON merge patch (`merge`) or a strategic merge patch (`strategic`)"),
                };
                self.report(d);
                None
            }
        };
        let body = self.patch_body(&decl.body);
        let id = match (patch_type, body) {
            (Some(patch_type), Some(body)) => {
                self.program.patches.push(ir::Patch {
                    name: name.clone(),
                    patch_type,
                    body,
                });
                Some(PatchId(self.program.patches.len() - 1))
            }
            _ => None,
        };
        self.patches.insert(
            name.clone(),
            Declared {
                span: decl.name.span,
                id,
                used: false,
            },
        );
    }

    fn patch_body(&mut self, body: &ast::StringLit) -> Option<serde_json::Value> {
        let value: serde_json::Value = match serde_json::from_str(&body.value) {
            Ok(value) => value,
            Err(error) => {
                let index = json_index(&body.value, error.line(), error.column());
                let at = body.source_offset(self.source, index);
                let end = body.source_offset(self.source, index + 1).max(at + 1);
                self.report(
                    Diagnostic::new(
                        Code::InvalidPatchJson,
                        crate::span::Span::new(at, end.min(body.span.end)),
                        // serde_json ends its message with a position inside the
                        // JSON; the span already points at it in the file.
                        format!("invalid JSON in patch: {}", json_message(&error)),
                    )
                    .label("the JSON breaks here")
                    .help(
                        "a patch is a JSON object in a Skippy string: write `\\\"` for each quote",
                    ),
                );
                return None;
            }
        };
        if !value.is_object() {
            self.report(
                Diagnostic::new(
                    Code::InvalidPatchJson,
                    body.span,
                    "a patch must be a JSON object",
                )
                .help("for example `\"{\\\"spec\\\":{\\\"replicas\\\":3}}\"`"),
            );
            return None;
        }
        let mut forbidden = Vec::new();
        forbidden_fields(&value, &self.config.forbidden_patch_fields, &mut forbidden);
        if forbidden.is_empty() {
            return Some(value);
        }
        for field in forbidden {
            let quoted = format!("\"{field}\"");
            let span = match body.value.find(&quoted) {
                Some(index) => crate::span::Span::new(
                    body.source_offset(self.source, index),
                    body.source_offset(self.source, index + quoted.len()),
                ),
                None => body.span,
            };
            self.report(
                Diagnostic::new(
                    Code::ForbiddenPatchField,
                    span,
                    format!("patches may not set `{field}`"),
                )
                .label("forbidden by the safety configuration")
                .help("patches may not change identity, privileges or RBAC (`forbiddenPatchFields` in the safety configuration)"),
            );
        }
        None
    }
}

/// Where in `query` promql-parser's error is, when its message says: it gives
/// no positions, but it names the bad token (`'rat'`, `syntax: 5mm`) or an
/// unclosed bracket, which can be found again.
fn promql_error_at(query: &str, message: &str) -> Option<(usize, usize)> {
    if message.contains("unclosed left") || message.contains("end of input") {
        return unclosed_bracket(query).map(|at| (at, at + 1));
    }
    let token = message
        .split('\'')
        .nth(1)
        .or_else(|| message.rsplit_once(": ").map(|(_, t)| t.trim()))
        .filter(|t| !t.is_empty())?;
    let start = query.find(token)?;
    Some((start, start + token.len()))
}

/// The first `(`, `{` or `[` of `query` that is never closed (outside strings).
fn unclosed_bracket(query: &str) -> Option<usize> {
    let mut open = Vec::new();
    let mut quote = None;
    let mut escaped = false;
    for (i, c) in query.char_indices() {
        match (quote, c) {
            (Some(_), _) if escaped => escaped = false,
            (Some(_), '\\') => escaped = true,
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'' | '`') => quote = Some(c),
            (None, '(' | '{' | '[') => open.push(i),
            (None, ')' | '}' | ']') => {
                open.pop();
            }
            _ => {}
        }
    }
    open.first().copied()
}

/// The forbidden keys of `value`, at any depth, in document order.
fn forbidden_fields(value: &serde_json::Value, forbidden: &[String], out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, inner) in map {
                if forbidden.iter().any(|f| f == key) && !out.contains(key) {
                    out.push(key.clone());
                }
                forbidden_fields(inner, forbidden, out);
            }
        }
        serde_json::Value::Array(items) => {
            for inner in items {
                forbidden_fields(inner, forbidden, out);
            }
        }
        _ => {}
    }
}

fn json_message(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// The byte index of serde_json's 1-based line and column in `text`.
fn json_index(text: &str, line: usize, column: usize) -> usize {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    (line_start + column.saturating_sub(1)).min(text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn promql_errors_are_found_in_the_query() {
        let q = "rat(x[5m])";
        assert_eq!(
            promql_error_at(q, "unknown function with name 'rat'"),
            Some((0, 3))
        );
        let q = "rate(x[5mm])";
        assert_eq!(
            promql_error_at(q, "bad number or duration syntax: 5mm"),
            Some((7, 10))
        );
        let q = "sum(rate(x{a=\"(\"}[5m])";
        assert_eq!(
            promql_error_at(q, "unclosed left parenthesis"),
            Some((3, 4))
        );
        assert_eq!(promql_error_at("x + ", "invalid promql query"), None);
    }
}
