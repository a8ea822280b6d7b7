//! The checker: name resolution, types and units, and the safety rules, lowering
//! the AST to the typed [`crate::ir`] and collecting every diagnostic of a
//! file (not just the first).
//!
//! Invariants: pure (no I/O, no clock); never panics on any AST; a construct with
//! an error is left out of the IR (so the IR of a file with errors is partial),
//! and one mistake yields one diagnostic, not a cascade.

mod action;
#[cfg(test)]
mod cluster_scoped_tests;
mod condition;
#[cfg(test)]
mod containers_tests;
mod declarations;
#[cfg(test)]
mod depth_tests;
#[cfg(test)]
mod kinds_tests;
mod lints;
#[cfg(test)]
mod lowering_tests;
mod metric;
mod object;
mod patch;
mod policy;
mod promql_labels;
#[cfg(test)]
mod range_tests;
mod relation;
#[cfg(test)]
mod relation_tests;
#[cfg(test)]
mod safety_tests;
mod select;
mod starve;
#[cfg(test)]
mod starve_tests;
mod storage;
pub(crate) mod units;

pub use object::{compile_in, Host};

use crate::catalog::{self, Kind};
use crate::diagnostic::{Code, Diagnostic};
use crate::ir::{self, MetricId, PatchId, Program};
use crate::safety::SafetyConfig;
use crate::span::Span;
use crate::syntax::{self, ast};
use std::collections::HashMap;

/// Everything the compiler knows about one source text.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub ast: ast::File,
    /// The program lowered from what has no errors.
    pub program: Program,
    /// Syntax and check diagnostics, in source order.
    pub diagnostics: Vec<Diagnostic>,
    /// Where each policy and rule of `program` came from.
    pub spans: SourceMap,
}

impl Compiled {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Source spans of the IR, kept outside it (see the IR's invariants).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceMap {
    /// For each policy of the program: its name's span and its rules' spans.
    pub policies: Vec<PolicySpans>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct PolicySpans {
    pub name: Span,
    pub rules: Vec<Span>,
}

/// Whether `name` is a valid policy, metric or patch name: `[a-z][a-z0-9_-]*`.
pub fn is_valid_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// Parses and checks `source` against `config`.
pub fn compile(source: &str, config: &SafetyConfig) -> Compiled {
    let parsed = syntax::parse(source);
    let mut checked = check(&parsed.file, source, config);
    let mut diagnostics = parsed.diagnostics;
    // A use on a line the parser gave up on is invisible to the checker: that
    // line's error is the whole story, not also an unused declaration.
    checked
        .diagnostics
        .retain(|d| !is_unused_but_named_on_a_broken_line(d, &diagnostics, source));
    diagnostics.append(&mut checked.diagnostics);
    if parsed.file.items.is_empty() && diagnostics.is_empty() {
        diagnostics.push(
            Diagnostic::new(
                Code::EmptyFile,
                Span::new(0, 0),
                "this file is empty: it holds no policy, so it checks nothing",
            )
            .help("write `policy NAME { select …; when … then … }`, or remove the file"),
        );
    }
    diagnostics.sort_by_key(|d| (d.span.start, d.severity, d.code));
    Compiled {
        ast: parsed.file,
        program: checked.program,
        diagnostics,
        spans: checked.spans,
    }
}

/// Whether `d` says a declaration is unused while its name is a word of a
/// line with a syntax error (of `syntax`).
fn is_unused_but_named_on_a_broken_line(
    d: &Diagnostic,
    syntax: &[Diagnostic],
    source: &str,
) -> bool {
    if !matches!(d.code, Code::UnusedMetric | Code::UnusedPatch) {
        return false;
    }
    let Some(name) = source.get(d.span.start..d.span.end) else {
        return false;
    };
    let is_name_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    syntax.iter().filter(|e| e.is_error()).any(|error| {
        let at = error.span.start.min(source.len());
        let bytes = source.as_bytes();
        let is_break = |b: &u8| matches!(b, b'\n' | b'\r');
        let start = bytes[..at].iter().rposition(is_break).map_or(0, |i| i + 1);
        let end = bytes[at..]
            .iter()
            .position(is_break)
            .map_or(source.len(), |i| at + i);
        // Both ends are next to an ASCII byte or at an end: char boundaries.
        source.get(start..end).is_some_and(|line| {
            line.split(|c: char| !is_name_char(c))
                .any(|word| word == name)
        })
    })
}

/// What the checker returns for one AST.
#[derive(Debug, Clone, Default)]
pub struct Checked {
    pub program: Program,
    pub diagnostics: Vec<Diagnostic>,
    pub spans: SourceMap,
}

/// Checks a parsed file. `source` is the text the AST was parsed from (embedded
/// JSON and PromQL errors are located inside its strings).
pub fn check(file: &ast::File, source: &str, config: &SafetyConfig) -> Checked {
    let mut checker = Checker {
        source,
        config,
        diagnostics: Vec::new(),
        program: Program::default(),
        spans: SourceMap::default(),
        metrics: HashMap::new(),
        unbounded: Vec::new(),
        patches: HashMap::new(),
    };
    checker.declarations(file);
    let mut policy_names: HashMap<&str, Span> = HashMap::new();
    for item in &file.items {
        if let ast::Item::Policy(policy) = item {
            if let Some(first) = policy_names.get(policy.name.name.as_str()) {
                checker.report(duplicate(&policy.name, "policy", *first));
                continue;
            }
            policy_names.insert(&policy.name.name, policy.name.span);
            checker.policy(policy);
        }
    }
    checker.unused();
    Checked {
        program: checker.program,
        diagnostics: checker.diagnostics,
        spans: checker.spans,
    }
}

/// A declared metric or patch, as the rest of the file may refer to it.
struct Declared<Id> {
    span: Span,
    /// `None` when the declaration has an error: references to it are not
    /// errors of their own.
    id: Option<Id>,
    used: bool,
}

struct Checker<'a> {
    source: &'a str,
    config: &'a SafetyConfig,
    diagnostics: Vec<Diagnostic>,
    program: Program,
    spans: SourceMap,
    metrics: HashMap<String, Declared<MetricId>>,
    /// Declared `unbounded ratio` metrics: their thresholds may pass 1.
    unbounded: Vec<MetricId>,
    patches: HashMap<String, Declared<PatchId>>,
}

/// What the rules of one policy are checked against.
struct PolicyContext<'a> {
    selector: &'a ir::Selector,
    mode: ir::Mode,
}

impl PolicyContext<'_> {
    /// The kind the policy selects.
    fn kind(&self) -> Kind {
        self.selector.kind
    }
}

impl Checker<'_> {
    fn report(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    fn error_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    /// Reports the error of a `Result` and turns it into an `Option`.
    fn ok<T>(&mut self, result: Result<T, Diagnostic>) -> Option<T> {
        result.map_err(|d| self.report(d)).ok()
    }

    /// Names are `[a-z][a-z0-9_-]*`.
    fn check_name(&mut self, name: &ast::Ident, what: &str) {
        if !is_valid_name(&name.name) {
            let fixed: String = name
                .name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                        c.to_ascii_lowercase()
                    } else {
                        '-'
                    }
                })
                .collect::<String>()
                .trim_start_matches(|c: char| !c.is_ascii_lowercase())
                .to_string();
            let d = Diagnostic::new(
                Code::InvalidName,
                name.span,
                format!("`{}` is not a valid {what} name", name.name),
            )
            .label("names are lowercase letters, digits, `_` and `-`, starting with a letter");
            self.report(if fixed.is_empty() {
                d
            } else {
                d.suggest(fixed)
            });
        }
    }

    /// The id of a metric by name, read by a policy selecting `kind`: a
    /// declared one, or a built-in (added to the program on first use by a
    /// policy of that kind, with the query for that kind).
    fn metric_id(&mut self, name: &str, kind: Kind) -> Option<Result<MetricId, ()>> {
        if let Some(declared) = self.metrics.get_mut(name) {
            declared.used = true;
            return Some(declared.id.ok_or(()));
        }
        let info = catalog::metric(name)?;
        if let Some(index) = self
            .program
            .metrics
            .iter()
            .position(|m| m.builtin && m.name == name && m.kind == Some(kind))
        {
            return Some(Ok(MetricId(index)));
        }
        self.program.metrics.push(ir::Metric {
            name: info.name.to_string(),
            unit: info.unit,
            series: info.series,
            source: info.source,
            aggregation: info.aggregated_on(kind),
            kind: Some(kind),
            promql: catalog::builtin_promql(info, kind).map(str::to_string),
            builtin: true,
            labels: None,
        });
        Some(Ok(MetricId(self.program.metrics.len() - 1)))
    }

    fn unused(&mut self) {
        let mut unused: Vec<Diagnostic> = Vec::new();
        for (name, declared) in &self.metrics {
            if !declared.used {
                unused.push(
                    Diagnostic::new(
                        Code::UnusedMetric,
                        declared.span,
                        format!("metric `{name}` is never used"),
                    )
                    .label("declared here")
                    .help("use it in a rule, or remove it"),
                );
            }
        }
        for (name, declared) in &self.patches {
            if !declared.used {
                unused.push(
                    Diagnostic::new(
                        Code::UnusedPatch,
                        declared.span,
                        format!("patch `{name}` is never used"),
                    )
                    .label("declared here")
                    .help(format!(
                        "apply it in a rule (`then patch {name}`), or remove it"
                    )),
                );
            }
        }
        unused.sort_by_key(|d| d.span.start);
        self.diagnostics.extend(unused);
    }
}

fn duplicate(name: &ast::Ident, what: &str, first: Span) -> Diagnostic {
    Diagnostic::new(
        Code::DuplicateName,
        name.span,
        format!("{what} `{}` is defined twice", name.name),
    )
    .label("second definition")
    .related(first, "first defined here")
    .help(format!(
        "rename one of them: {what} names are unique in a file"
    ))
}

#[cfg(test)]
mod tests {
    use super::lowering_tests::codes;
    use super::*;

    #[test]
    fn an_invalid_limit_or_cooldown_is_one_error_not_a_budget_warning() {
        for statement in ["limit 5m per 1h", "cooldown 10", "limit 0 per 1h"] {
            let source = format!(
                "policy a {{\n  select pods\n  {statement}\n  when restarts > 3 then restart\n}}\n"
            );
            let found = codes(&source);
            assert_eq!(found.len(), 1, "{statement}: {found:?}");
        }
    }

    #[test]
    fn a_misspelt_reference_does_not_also_make_the_declaration_unused() {
        let source = "patch debug-logging: merge \"{}\"\nmetric errors: ratio = promql \"up\"\npolicy a {\n  select deployments\n  cooldown 5m\n  when erors > 1% then patch debug-loging\n}\n";
        assert_eq!(codes(source), ["E0101", "E0104"]);
    }

    #[test]
    fn a_declaration_used_only_on_a_line_with_a_syntax_error_is_not_also_unused() {
        let broken = "metric errs: ratio = promql \"up\"\npolicy a {\n  select pods\n  cooldown 5m\n  when errs > 0.1 then restart now\n}\n";
        assert_eq!(codes(broken), ["E0001"]);
        // Unused it still is when the broken line does not name it.
        let elsewhere = broken.replace("errs > 0.1", "restarts > 3");
        assert_eq!(codes(&elsewhere), ["W0105", "E0001"]);
        // Nor does a longer name that contains it count as a use.
        let longer = broken.replace("errs > 0.1", "errs_total > 0.1");
        assert_eq!(codes(&longer), ["W0105", "E0001"]);
    }

    #[test]
    fn a_file_of_comments_only_is_empty_but_a_broken_one_is_not() {
        assert_eq!(codes(""), ["W0117"]);
        assert_eq!(codes("# soon\n\n  # a policy\n"), ["W0117"]);
        assert_eq!(codes("policy x:\n"), ["E0001"]);
        let config = SafetyConfig::default();
        let object = compile_in("", &config, Host::HealingPolicy { namespace: "shop" });
        let found: Vec<&str> = object.diagnostics.iter().map(|d| d.code.as_str()).collect();
        assert_eq!(found, ["E0308"]);
    }

    #[test]
    fn a_policy_with_any_error_is_left_out_of_the_program() {
        let config = SafetyConfig::default();
        for source in [
            "policy Bad {\n  select pods\n  cooldown 1m\n  when restarts > 3 then restart\n}\n",
            "policy a {\n  select pods\n  select nodes\n  cooldown 1m\n  when restarts > 3 then restart\n}\n",
            "policy a {\n  select pods\n}\n",
        ] {
            let compiled = compile(source, &config);
            assert!(compiled.has_errors(), "{source}");
            assert!(compiled.program.policies.is_empty(), "{source}");
        }
        let good =
            "policy a {\n  select pods\n  cooldown 1m\n  when restarts > 3 then restart\n}\n";
        assert_eq!(compile(good, &config).program.policies.len(), 1);
    }
}

#[cfg(test)]
mod fingerprint_tests {
    use super::*;

    fn fingerprints(source: &str) -> Vec<String> {
        let compiled = compile(source, &SafetyConfig::default());
        assert!(!compiled.has_errors(), "{:?}", compiled.diagnostics);
        compiled.program.policies[0]
            .rules
            .iter()
            .map(|r| r.fingerprint.clone())
            .collect()
    }

    const BASE: &str = "policy a {\n  select pods\n  cooldown 5m\n  when memory_percent > 85 for 3m then restart\n  when restarts > 3 then restart\n}\n";

    #[test]
    fn the_same_meaning_keeps_its_fingerprint() {
        let base = fingerprints(BASE);
        assert_ne!(base[0], base[1]);
        // Another layout, `85%` for `85`, and a rule moved: same fingerprints.
        let moved = "policy a { select pods; cooldown 5m\n when restarts>3 then restart\n when memory_percent > 85% for 3m then restart }\n";
        let moved = fingerprints(moved);
        assert_eq!(
            (moved[1].clone(), moved[0].clone()),
            (base[0].clone(), base[1].clone())
        );
        // A declaration elsewhere shifts metric ids, not fingerprints.
        let declared = format!("metric errors: ratio = promql \"up\"\n{BASE}policy b {{\n  select pods\n  cooldown 5m\n  when errors > 1% then restart\n}}\n");
        assert_eq!(fingerprints(&declared), base);
    }

    #[test]
    fn a_different_meaning_changes_the_fingerprint() {
        let base = fingerprints(BASE);
        for changed in [
            BASE.replace("> 85", "> 86"),
            BASE.replace("for 3m", "for 4m"),
            BASE.replace("for 3m then restart", "for 3m then restart rolling"),
            BASE.replace("for 3m then restart", "for 3m then restart priority 2"),
        ] {
            assert_ne!(fingerprints(&changed)[0], base[0], "{changed}");
        }
    }
}
