//! `metric` and `patch` declarations: their PromQL and JSON are parsed here, at
//! check time, so a typo in either is a located error rather than a run-time
//! surprise.

use super::{duplicate, Checker, Declared};
use crate::catalog::{self, Series, Source, Unit};
use crate::diagnostic::{closest, Code, Diagnostic};
use crate::ir::{self, MetricId};
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
                    series: if decl.counter.is_some() {
                        Series::Counter
                    } else {
                        Series::Gauge
                    },
                    source: Source::Prometheus,
                    aggregation: Some(catalog::Aggregation::for_unit(unit)),
                    kind: None,
                    promql: Some(decl.query.value.clone()),
                    builtin: false,
                    labels: super::promql_labels::grouping(&decl.query.value),
                });
                let id = MetricId(self.program.metrics.len() - 1);
                if decl.unbounded.is_some() {
                    self.unbounded.push(id);
                }
                Some(id)
            }
            _ => None,
        };
        if let (Some(span), Some(unit)) = (decl.unbounded, unit) {
            if unit != Unit::Ratio {
                self.report(
                    Diagnostic::new(
                        Code::UnknownUnit,
                        span,
                        format!(
                            "`unbounded` applies to a ratio, not to {}",
                            unit.described()
                        ),
                    )
                    .label("only a ratio has a bound of 1 to lift")
                    .help(format!(
                        "remove `unbounded`: `metric {name}: {unit} = promql …`"
                    )),
                );
            }
        }
        if let (Some(span), Some(unit)) = (decl.counter, unit) {
            // What accumulates: events, bytes moved, seconds spent (CPU time
            // is a counter of seconds, read as cores through `rate`).
            if !matches!(unit, Unit::Count | Unit::Bytes | Unit::Duration) {
                self.report(
                    Diagnostic::new(
                        Code::UnknownUnit,
                        span,
                        format!("a counter of {} cannot grow by itself", unit.described()),
                    )
                    .label("a counter counts events, bytes or seconds")
                    .help(format!(
                        "declare the counter's own unit (`count`, `bytes` or `duration`) and compute the {unit} with `increase` or `rate` in a rule, or remove `counter`"
                    )),
                );
            }
        }
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
            // Only `$` before a letter is a placeholder: a regular expression's
            // end anchor (`=~"/api/.*$"`) is PromQL's own.
            if !text[start + 1..].starts_with(|c: char| c.is_ascii_alphabetic()) {
                search = start + 1;
                continue;
            }
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
        if let Some(problem) = promql_too_complex(&substituted) {
            self.report(
                Diagnostic::new(Code::InvalidPromql, query.span, format!("the PromQL query is {problem}"))
                    .label("too complex to check safely")
                    .help("a metric's query is one expression over a few series; split anything larger into recording rules in Prometheus"),
            );
            return false;
        }
        // Read in the query as written: placeholders are filled in quoted
        // label values only, so a duration's offset is the same.
        if let Some((start, word)) = endless_duration(text) {
            let span = crate::span::Span::new(
                query.source_offset(self.source, start),
                query.source_offset(self.source, start + word.len()),
            );
            self.report(
                Diagnostic::new(
                    Code::InvalidPromql,
                    span,
                    format!("`{word}` is too long to be a duration"),
                )
                .label("longer than 31 million years, or not a number")
                .help("a range or offset is a duration such as `5m`, `1h` or `7d`"),
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
}

/// Why a PromQL text is too large or too deep to hand to the parser (which
/// recurses per bracket and is quadratic in runs of unary operators), if it is.
fn promql_too_complex(query: &str) -> Option<String> {
    const MAX_LEN: usize = 16 * 1024;
    const MAX_DEPTH: usize = 40;
    const MAX_OPERATOR_RUN: usize = 8;
    if query.len() > MAX_LEN {
        return Some(format!("longer than {} KiB", MAX_LEN / 1024));
    }
    let (mut depth, mut deepest, mut run, mut longest_run) = (0usize, 0usize, 0usize, 0usize);
    for (_, c) in outside_quotes(query) {
        match c {
            '(' | '{' | '[' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            ')' | '}' | ']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if matches!(c, '-' | '+') {
            run += 1;
            longest_run = longest_run.max(run);
        } else if !c.is_whitespace() {
            run = 0;
        }
    }
    if deepest > MAX_DEPTH {
        return Some(format!("nested more than {MAX_DEPTH} brackets deep"));
    }
    if longest_run > MAX_OPERATOR_RUN {
        return Some(format!(
            "a run of more than {MAX_OPERATOR_RUN} `+`/`-` signs"
        ));
    }
    None
}

/// The first duration of `query` (in a range `[…]`, after `offset` or `@`)
/// longer than any that means something, with its byte offset:
/// promql-parser panics turning one past 2^64 seconds, or an infinite one,
/// into a `Duration`.
fn endless_duration(query: &str) -> Option<(usize, String)> {
    /// Longer than this (about 31 million years) is no duration.
    const LONGEST_SECONDS: f64 = 1e15;
    let endless = |word: &str| {
        let lower = word.to_ascii_lowercase();
        let lower = lower.trim_start_matches(['+', '-']);
        if lower == "inf" || lower == "nan" {
            return true;
        }
        let mut parts = duration_parts(lower);
        parts.any(|(number, unit)| {
            let factor = match unit {
                "ms" => 0.001,
                "m" => 60.0,
                "h" => 3_600.0,
                "d" => 86_400.0,
                "w" => 604_800.0,
                "y" => 31_536_000.0,
                _ => 1.0,
            };
            number
                .parse::<f64>()
                .is_ok_and(|n| !(n * factor).is_finite() || n * factor > LONGEST_SECONDS)
        })
    };
    let (mut ranges, mut after_modifier) = (0usize, false);
    let mut word = String::new();
    let mut start = 0;
    for (at, c) in outside_quotes(query).chain([(query.len(), ' ')]) {
        let exponent_sign = matches!(c, '+' | '-')
            && word.starts_with(|d: char| d.is_ascii_digit())
            && word.ends_with(['e', 'E']);
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '_') || exponent_sign {
            if word.is_empty() {
                start = at;
            }
            word.push(c);
            continue;
        }
        if !word.is_empty() {
            if (ranges > 0 || after_modifier) && endless(&word) {
                return Some((start, word));
            }
            after_modifier = word.eq_ignore_ascii_case("offset");
            word.clear();
        }
        match c {
            '[' => ranges += 1,
            ']' => ranges = ranges.saturating_sub(1),
            '@' => after_modifier = true,
            '-' | '+' => {}
            c if c.is_whitespace() => {}
            _ => after_modifier = false,
        }
    }
    None
}

/// A duration word's (number, unit) parts: `1h30m` is `(1, h)`, `(30, m)`;
/// `1e3` is `(1e3, "")`.
fn duration_parts(word: &str) -> impl Iterator<Item = (&str, &str)> {
    let mut rest = word;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let bytes = rest.as_bytes();
        let mut end = 0;
        while end < bytes.len() && (bytes[end].is_ascii_digit() || bytes[end] == b'.') {
            end += 1;
        }
        // An exponent, where the unit would be: `1e400`.
        if end > 0 && end < bytes.len() && bytes[end] == b'e' {
            let mut exp = end + 1;
            if exp < bytes.len() && matches!(bytes[exp], b'+' | b'-') {
                exp += 1;
            }
            if exp < bytes.len() && bytes[exp].is_ascii_digit() {
                end = exp;
                while end < bytes.len() && bytes[end].is_ascii_digit() {
                    end += 1;
                }
            }
        }
        let unit_end = rest[end..]
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .map_or(rest.len(), |i| end + i);
        let part = (&rest[..end], &rest[end..unit_end]);
        rest = &rest[unit_end..];
        Some(part)
    })
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

/// The characters of a PromQL text outside its quoted strings (`"…"`, `'…'`,
/// `` `…` ``) and comments, with their byte offsets; the quotes themselves are
/// left out. It lexes as promql-parser does, as `promql_too_complex` is the
/// guard in front of that parser's recursion: a `\\` in any string takes the
/// next character with it, a string may span lines, and a `#` outside strings
/// comments out the rest of the line (a quote in a comment opens nothing).
fn outside_quotes(query: &str) -> impl Iterator<Item = (usize, char)> + '_ {
    let mut quote = None;
    let mut escaped = false;
    let mut comment = false;
    query.char_indices().filter(move |&(_, c)| match quote {
        Some(_) if escaped => {
            escaped = false;
            false
        }
        Some(_) if c == '\\' => {
            escaped = true;
            false
        }
        Some(q) => {
            if c == q {
                quote = None;
            }
            false
        }
        None if comment => {
            comment = !matches!(c, '\n' | '\r');
            !comment
        }
        None if c == '#' => {
            comment = true;
            false
        }
        None if matches!(c, '"' | '\'' | '`') => {
            quote = Some(c);
            false
        }
        None => true,
    })
}

/// The first `(`, `{` or `[` of `query` that is never closed (outside strings).
fn unclosed_bracket(query: &str) -> Option<usize> {
    let mut open = Vec::new();
    for (i, c) in outside_quotes(query) {
        match c {
            '(' | '{' | '[' => open.push(i),
            ')' | '}' | ']' => {
                open.pop();
            }
            _ => {}
        }
    }
    open.first().copied()
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

    /// Found by `tests/no_panic.rs`: promql-parser panics on a duration
    /// past 2^64 seconds.
    #[test]
    fn endless_durations_are_refused_before_parsing() {
        for query in [
            "rate(x[18446744073709551616])",
            "rate(x[1e400])",
            "rate(x[Inf])",
            "x offset 99999999999999999999y",
            "x @ 1e300",
            "rate(x[1h99999999999999999999m])",
            "max_over_time(x[5m:1e30s])",
        ] {
            assert!(endless_duration(query).is_some(), "{query}");
        }
        for query in [
            "rate(x[5m])",
            "rate(x[1h30m]) offset 1w",
            "x @ 1609746000",
            "rate(x{a=\"[1e400]\"}[300])",
            "x > 1e400",
            "max_over_time(x[10y:1e3s])",
        ] {
            assert_eq!(endless_duration(query), None, "{query}");
        }
    }

    #[test]
    fn huge_or_deep_promql_is_refused_before_parsing() {
        let deep = format!("{}up{}", "(".repeat(100_000), ")".repeat(100_000));
        assert!(promql_too_complex(&deep).is_some());
        assert!(promql_too_complex(&format!("{}1", "-".repeat(100_000))).is_some());
        assert!(promql_too_complex(&format!("{}1", "-".repeat(20))).is_some());
        let fine = "sum by (pod) (rate(x{a=\"((((\"}[5m])) - -1";
        assert_eq!(promql_too_complex(fine), None);
    }

    /// A quote in a PromQL comment opened a string for this guard but not
    /// for promql-parser, which then recursed through all that followed
    /// (3,000 nested `sum(` take 1.2 MiB of stack in a debug build).
    #[test]
    fn a_quote_in_a_promql_comment_hides_no_nesting() {
        let deep = |depth| {
            format!(
                "1 + # \"\\\n{}up{}",
                "sum(".repeat(depth),
                ")".repeat(depth)
            )
        };
        assert!(promql_too_complex(&deep(41)).is_some());
        assert_eq!(promql_too_complex(&deep(40)), None);
        let brackets: Vec<char> = outside_quotes("a # (\"\r(b)").map(|(_, c)| c).collect();
        assert_eq!(brackets, ['a', ' ', '\r', '(', 'b', ')']);
    }
}
