//! Parsing: `.skippy` text to an AST with spans, and syntax diagnostics.
//!
//! Invariants: pure (no I/O), never panics on any input, and always returns a
//! tree — possibly partial — with every syntax error found. pest stops at the
//! first error, so the parser recovers in two steps: each top-level declaration
//! is parsed on its own, and a policy whose body does not parse is parsed again
//! line by line, keeping the statements that do parse.
//!
//! No input can exhaust the stack. pest recurses once per bracket and `not`
//! with no limit of its own, so every text goes to pest through `pest_parse`,
//! which first bounds its nesting as the grammar lexes it (`scan::too_deep`,
//! held to the grammar's own lexing by a test). Past pest, nothing relies on
//! that guard: the AST builder builds conditions without recursion and refuses
//! any tree deeper than [`MAX_DEPTH`], and every later walk of a tree recurses
//! at most that deep. Either way the excess is an ordinary syntax error
//! (`nesting_error`).

pub mod ast;
mod build;
mod errors;
mod scan;

pub use errors::RESERVED_WORDS;

/// The deepest a tree from the parser nests: conditions, metric expressions
/// and `ask ai among` actions, counting the rule's own condition or action as
/// level 1. Whatever walks a tree may recurse this deep and no deeper; the
/// checker refuses a deeper tree built by hand. A line within the scanner's
/// bounds (40 brackets, 100 `and`/`or`/`not`) makes at most 142 levels.
pub const MAX_DEPTH: usize = 160;

use crate::diagnostic::{Code, Diagnostic};
use crate::span::Span;
use ast::{File, Item};
use pest::Parser as _;

/// The pest parser generated from `grammar/skippy.pest`.
mod grammar {
    #[derive(pest_derive::Parser)]
    #[grammar = "../grammar/skippy.pest"]
    // For tests only: the grammar's own lexing of strings, comments and line
    // breaks, over any text, which `scan::too_deep` must match.
    #[cfg_attr(
        test,
        grammar_inline = "test_lexing = { SOI ~ (string | test_line_break | test_code)* ~ EOI }\ntest_line_break = { NEWLINE }\ntest_code = { ANY }"
    )]
    pub(crate) struct SkippyParser;
}

use grammar::{Rule, SkippyParser};

/// The grammar, for what tools read from it (its keywords).
const GRAMMAR: &str = include_str!("../../grammar/skippy.pest");

/// Every keyword of the language: the words of the grammar's `kw_` rules, read
/// from the grammar itself so that editors' lists never drift from it.
pub fn keywords() -> impl Iterator<Item = &'static str> {
    GRAMMAR
        .lines()
        .filter(|line| line.starts_with("kw_"))
        .filter_map(|line| line.split('"').nth(1))
}

/// The result of parsing one file: the tree of what parsed, and the errors.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    pub file: File,
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses a whole `.skippy` text.
pub fn parse(source: &str) -> Parsed {
    let mut parsed = Parsed {
        file: File {
            items: Vec::new(),
            comments: scan::comments(source),
        },
        diagnostics: Vec::new(),
    };
    for chunk in scan::declaration_chunks(source) {
        parse_declaration(source, chunk, &mut parsed);
    }
    parsed
}

fn parse_declaration(source: &str, chunk: Span, parsed: &mut Parsed) {
    let text = &source[chunk.start..chunk.end];
    let error = match pest_parse(Rule::declaration, text) {
        Ok(mut pairs) => match pairs.next().map(|pair| build::items(pair, chunk.start)) {
            Some(Ok(items)) => {
                parsed.file.items.extend(items);
                return;
            }
            Some(Err(unbuilt)) => {
                parsed.diagnostics.push(unbuilt_error(unbuilt));
                return;
            }
            None => return,
        },
        Err(Unparsed::TooDeep(span)) => {
            // Recovering line by line would meet the same line again.
            parsed
                .diagnostics
                .push(nesting_error(span.shifted(chunk.start)));
            return;
        }
        Err(Unparsed::Syntax(error)) => errors::syntax_error(&error, text, chunk.start),
    };
    if !recover_policy(source, chunk, &error, parsed) {
        parsed.diagnostics.push(error);
    }
}

/// Why pest gave no tree.
enum Unparsed {
    /// The text nests deeper than pest may recurse, at this span of it.
    TooDeep(Span),
    Syntax(Box<pest::error::Error<Rule>>),
}

/// The one way to pest: a text that nests too deeply for pest's recursion is
/// refused before pest sees it.
fn pest_parse(rule: Rule, text: &str) -> Result<pest::iterators::Pairs<'_, Rule>, Unparsed> {
    if let Some(span) = scan::too_deep(text) {
        return Err(Unparsed::TooDeep(span));
    }
    SkippyParser::parse(rule, text).map_err(|e| Unparsed::Syntax(Box::new(e)))
}

/// Parses a policy whose body has an error line by line. Returns false when the
/// chunk is not a policy with a readable header, so nothing could be recovered.
fn recover_policy(source: &str, chunk: Span, error: &Diagnostic, parsed: &mut Parsed) -> bool {
    let text = &source[chunk.start..chunk.end];
    let Some((header_end, body)) = scan::policy_body(text) else {
        return false;
    };
    // The header alone, closed, must parse: `policy NAME {` + `}`.
    let header = format!("{}}}", &text[..header_end]);
    let Ok(mut pairs) = pest_parse(Rule::declaration, &header) else {
        return false;
    };
    let Some(Ok(mut items)) = pairs.next().map(|pair| build::items(pair, chunk.start)) else {
        return false;
    };
    let Some(Item::Policy(mut policy)) = items.pop() else {
        return false;
    };
    policy.recovered = true;
    policy.span = chunk;

    let mut line_errors = Vec::new();
    let body_text = &text[body.start..body.end];
    let mut line_start = body.start;
    for line in body_text.split_inclusive('\n') {
        let line_offset = chunk.start + line_start;
        line_start += line.len();
        let line = line.trim_end_matches(['\n', '\r']);
        // Each line is parsed from outside any string, whatever the whole
        // declaration made of it, and so is checked afresh.
        match pest_parse(Rule::statement_line, line) {
            Ok(mut pairs) => {
                if let Some(pair) = pairs.next() {
                    match build::statement_line(pair, line_offset) {
                        Ok(statements) => policy.statements.extend(statements),
                        Err(unbuilt) => line_errors.push(unbuilt_error(unbuilt)),
                    }
                }
            }
            Err(Unparsed::TooDeep(span)) => {
                line_errors.push(nesting_error(span.shifted(line_offset)))
            }
            Err(Unparsed::Syntax(e)) => {
                line_errors.push(errors::syntax_error(&e, line, line_offset))
            }
        }
    }
    // The error of the whole declaration is the most precise one for its place
    // (a missing `}` at the end, say); the line errors add the others.
    parsed.diagnostics.push(error.clone());
    parsed.diagnostics.extend(
        line_errors
            .into_iter()
            .filter(|d| d.span.start != error.span.start),
    );
    parsed.file.items.push(Item::Policy(policy));
    true
}

/// The syntax error for nesting past a bound, at the bracket, word or node
/// where the bound is passed.
pub(crate) fn nesting_error(span: Span) -> Diagnostic {
    Diagnostic::new(
        Code::Syntax,
        span,
        format!(
            "this line nests too deeply (more than {} brackets or {} `and`/`or`/`not`)",
            scan::MAX_NESTING,
            scan::MAX_OPERATORS
        ),
    )
    .label("too deep to parse safely")
    .help("split the condition into several rules")
}

fn unbuilt_error(unbuilt: build::Unbuilt) -> Diagnostic {
    match unbuilt {
        build::Unbuilt::Bug(span) => internal_error(span),
        build::Unbuilt::TooDeep(span) => nesting_error(span),
    }
}

fn internal_error(span: Span) -> Diagnostic {
    Diagnostic::new(
        Code::Syntax,
        span,
        "KubeSkippy could not build a syntax tree for this declaration",
    )
    .help("this is a bug in KubeSkippy: please report it with the file that shows it")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Code;

    fn errors(source: &str) -> Vec<(usize, Code, String)> {
        let index = crate::span::LineIndex::new(source);
        parse(source)
            .diagnostics
            .into_iter()
            .map(|d| (index.line_col(source, d.span.start).line, d.code, d.message))
            .collect()
    }

    #[test]
    fn a_valid_file_parses_without_diagnostics() {
        let parsed = parse(
            "# c\npolicy a {\n  select pods; mode auto\n  when restarts > 3 then restart  # t\n}\n",
        );
        assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
        let [Item::Policy(policy)] = parsed.file.items.as_slice() else {
            panic!("one policy expected: {:?}", parsed.file.items);
        };
        assert_eq!(policy.statements.len(), 3);
        assert_eq!(parsed.file.comments.len(), 2);
    }

    #[test]
    fn errors_in_several_rules_are_all_reported() {
        let source = "policy a {\n  select pods\n  when restarts > 3 restart\n  when ready == false for 2m then\n  when restarts > 5 then delete\n}\n";
        let found = errors(source);
        let lines: Vec<usize> = found.iter().map(|(line, _, _)| *line).collect();
        assert_eq!(lines, [3, 4], "{found:?}");
        assert_eq!(
            found[0].2,
            "expected `then` after the condition, found `restart`"
        );
        // The rules that parse are kept.
        let parsed = parse(source);
        let Item::Policy(policy) = &parsed.file.items[0] else {
            panic!("a policy");
        };
        assert!(policy.recovered);
        assert_eq!(policy.statements.len(), 2);
    }

    #[test]
    fn an_error_in_one_declaration_does_not_hide_the_next() {
        let source = "policy a {\n  select pods in\n}\npolicy b {\n  select pods\n  when x > then restart\n}\n";
        let lines: Vec<usize> = errors(source).iter().map(|(line, _, _)| *line).collect();
        assert_eq!(lines, [2, 6]);
    }

    #[test]
    fn a_missing_closing_brace_is_reported_where_the_file_ends() {
        let source = "policy a {\n  select pods\n  when restarts > 3 then restart\n";
        let found = errors(source);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].2.contains("`}`"), "{found:?}");
    }

    #[test]
    fn an_unterminated_string_says_so() {
        let found =
            errors("policy a {\n  select pods\n  when restarts > 3 then notify \"oops\n}\n");
        assert_eq!(found[0].1, Code::UnterminatedString, "{found:?}");
        assert_eq!(found[0].0, 3);
    }

    #[test]
    fn a_misspelt_keyword_gets_a_suggestion() {
        let parsed = parse("polcy a {\n}\n");
        let d = &parsed.diagnostics[0];
        assert_eq!(d.help.as_deref(), Some("did you mean `policy`?"), "{d:?}");
        let parsed = parse("policy a {\n  selct pods\n}\n");
        let d = &parsed.diagnostics[0];
        assert_eq!(d.help.as_deref(), Some("did you mean `select`?"), "{d:?}");
    }

    #[test]
    fn spans_point_into_the_whole_file() {
        let source = "policy a {\n  select pods\n}\n\npolicy b {\n  select nodes\n}\n";
        let parsed = parse(source);
        let Item::Policy(b) = &parsed.file.items[1] else {
            panic!("a policy");
        };
        assert_eq!(&source[b.name.span.start..b.name.span.end], "b");
        let ast::Statement::Select(select) = &b.statements[0] else {
            panic!("a select");
        };
        assert_eq!(
            &source[select.kind.span.start..select.kind.span.end],
            "nodes"
        );
    }

    #[test]
    fn not_exists_keeps_its_key_and_spans_stop_before_comments() {
        let source = "policy a {\n  select pods where not app exists  # no app label\n  when restarts > 1 then delete  # why\n}\n";
        let parsed = parse(source);
        let Item::Policy(policy) = &parsed.file.items[0] else {
            panic!("a policy: {:?}", parsed.diagnostics);
        };
        let ast::Statement::Select(select) = &policy.statements[0] else {
            panic!("a select");
        };
        assert_eq!(select.labels[0].key.name, "app");
        assert_eq!(select.labels[0].op, ast::LabelOp::NotExists);
        assert_eq!(
            &source[select.span.start..select.span.end],
            "select pods where not app exists"
        );
        let rule = policy.statements[1].span();
        assert_eq!(
            &source[rule.start..rule.end],
            "when restarts > 1 then delete"
        );
    }

    #[test]
    fn an_action_word_written_wrongly_is_a_syntax_error_not_an_unknown_action() {
        for (action, message) in [
            ("scale up", "expected a number, found end of line"),
            ("notify hello", "expected a string, found `hello`"),
            ("set memory_limit 2Gi", "expected `=`, found `2Gi`"),
        ] {
            let source =
                format!("policy a {{\n  select pods\n  when restarts > 3 then {action}\n}}\n");
            let found = errors(&source);
            assert_eq!(found.len(), 1, "{action}: {found:?}");
            assert_eq!(found[0].2, message, "{action}");
        }
    }

    #[test]
    fn a_rule_split_over_two_lines_says_to_join_them() {
        let parsed = parse("policy a {\n  select pods\n  when restarts > 3\n  then restart\n}\n");
        let help: Vec<_> = parsed
            .diagnostics
            .iter()
            .filter_map(|d| d.help.clone())
            .collect();
        assert!(
            help.iter().any(|h| h.contains("join this `then`")),
            "{:?}",
            parsed.diagnostics
        );
    }

    #[test]
    fn a_byte_order_mark_is_whitespace() {
        let parsed = parse("\u{feff}policy a {\n  select pods\n}\n");
        assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
    }

    #[test]
    fn strings_keep_promql_escapes_and_unescape_quotes() {
        let source = r#"metric m: ratio = promql "a{b=~\"x\\.y\"}""#;
        let parsed = parse(source);
        let Item::Metric(metric) = &parsed.file.items[0] else {
            panic!("a metric: {:?}", parsed.diagnostics);
        };
        assert_eq!(metric.query.value, r#"a{b=~"x\.y"}"#);
        // Index 6 of the value is the `x`; its source offset is past `\"`.
        let offset = metric.query.source_offset(source, 6);
        assert_eq!(&source[offset..offset + 1], "x");
    }
}
