//! Completion: what may come next at the cursor, from the catalog and the
//! file's declarations — keywords in context, metrics with their unit, status
//! and event reasons, the actions the policy's kind allows, declared patches,
//! and duration and unit suffixes after a number.
//!
//! Invariant: reads only the cursor's line, the file's declaration lines and a
//! bracket scan up to the cursor — never a parse — so it answers in
//! microseconds on large files and works while the file does not parse.

use super::context::{enclosing_policy, expected_unit, policy_kind};
use super::declared::{declarations, DeclKind, Declared};
use super::keywords::doc as keyword_doc;
use super::lexer::{lex, Lexeme, Tok};
use crate::catalog::{self, Kind, Unit};
use crate::check::units::DURATIONS;
use crate::ir::PatchType;
use kubeskippy_lsp::{Completion, CompletionKind, TextRange};

const TOP_LEVEL: &[&str] = &["policy", "metric", "patch"];

const STATEMENTS: &[&str] = &["select", "mode", "limit", "cooldown", "when"];

/// Proposals at byte `offset` of `text`.
pub fn completions(text: &str, offset: usize) -> Vec<Completion> {
    let offset = kubeskippy_lsp::line_index::floor_char_boundary(text, offset);
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = &text[line_start..offset];
    let mut tokens = lex(line);
    if let Some(last) = tokens.last() {
        // The lexer ends an unclosed string at the end of the line.
        let inside_string = last.kind == Lexeme::String
            && (last.end - last.start < 2 || !last.text(line).ends_with('"'));
        if last.kind == Lexeme::Comment || inside_string {
            return Vec::new();
        }
    }
    // The word or number being typed is what the editor filters by, not context.
    let partial = match tokens.last() {
        Some(t) if t.end == line.len() && matches!(t.kind, Lexeme::Word | Lexeme::Number) => {
            tokens.pop()
        }
        _ => None,
    };
    let statement_start = tokens
        .iter()
        .rposition(|t| matches!(t.text(line), ";" | "{" | "}"))
        .map_or(0, |i| i + 1);
    let statement: Vec<Tok> = tokens[statement_start..]
        .iter()
        .copied()
        .filter(|t| t.kind != Lexeme::Comment)
        .collect();
    let brace = enclosing_policy(text, offset);
    let cx = Context {
        line,
        statement: &statement,
        kind: brace.and_then(|b| policy_kind(text, b)),
        declared: declarations(text),
    };
    if let Some(number) = partial.filter(|t| t.kind == Lexeme::Number) {
        return cx.suffixes(number.text(line));
    }
    match (statement.first().map(|t| t.text(line)), brace) {
        (None, None) => keywords(TOP_LEVEL),
        (None, Some(_)) => keywords(STATEMENTS),
        (Some("select"), _) => cx.select(),
        (Some("mode"), _) if statement.len() == 1 => catalog::MODES
            .iter()
            .map(|(name, doc)| item(name, CompletionKind::Value, None, Some(doc)))
            .collect(),
        (Some("limit"), _) if statement.len() == 2 => keywords(&["per"]),
        (Some("metric"), None) => cx.metric_declaration(),
        (Some("patch"), None) if cx.prev() == Some(":") => {
            keywords(&PatchType::ALL.map(PatchType::keyword))
        }
        (Some("when"), _) => cx.rule(),
        _ => Vec::new(),
    }
}

/// The range a completion at `offset` replaces: the word or number being
/// typed, from its start to the cursor (empty when there is none).
pub fn completion_range(text: &str, offset: usize) -> TextRange {
    let offset = kubeskippy_lsp::line_index::floor_char_boundary(text, offset);
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = &text[line_start..offset];
    match lex(line).last() {
        Some(t) if t.end == line.len() && matches!(t.kind, Lexeme::Word | Lexeme::Number) => {
            line_start + t.start..offset
        }
        _ => offset..offset,
    }
}

struct Context<'a> {
    line: &'a str,
    /// The tokens of the statement before the cursor (without the partial word).
    statement: &'a [Tok],
    kind: Option<Kind>,
    declared: Vec<Declared<'a>>,
}

impl Context<'_> {
    fn text(&self, token: &Tok) -> &str {
        token.text(self.line)
    }

    fn prev(&self) -> Option<&str> {
        self.statement.last().map(|t| self.text(t))
    }

    fn words(&self) -> impl Iterator<Item = &str> {
        self.statement.iter().map(|t| self.text(t))
    }

    /// The label keys a selected kind always has: a container's
    /// `container`, a quota resource's `resource`, a filesystem's series
    /// labels. Other kinds' labels are
    /// their objects', which no file tells.
    fn known_label_keys(&self) -> Vec<Completion> {
        let kind = self
            .statement
            .get(1)
            .and_then(|t| Kind::from_keyword(self.text(t)));
        let keys: &[&str] = match kind {
            Some(Kind::Containers) => &[catalog::CONTAINER_LABEL],
            Some(Kind::ResourceQuotas) => &[catalog::RESOURCE_LABEL],
            Some(Kind::Filesystems) => &catalog::FILESYSTEM_LABELS,
            _ => &[],
        };
        keys.iter()
            .map(|key| item(key, CompletionKind::Value, Some("label"), None))
            .collect()
    }

    fn select(&self) -> Vec<Completion> {
        if self.statement.len() == 1 {
            return Kind::ALL
                .iter()
                .map(|k| item(k.keyword(), CompletionKind::Value, Some("kind"), None))
                .collect();
        }
        match self.prev() {
            Some("in") => keywords(&["any"]),
            // A label key: the kinds whose labels KubeSkippy makes know them.
            Some("where" | ",") if self.words().any(|w| w == "where") => self.known_label_keys(),
            Some("where" | "," | "=" | "!=" | "not") => Vec::new(),
            // After a label key: how to match it.
            _ if self.words().any(|w| w == "where") => {
                let n = self.statement.len();
                let after_key = n >= 2
                    && self.statement[n - 1].kind == Lexeme::Word
                    && matches!(self.text(&self.statement[n - 2]), "where" | ",");
                if after_key {
                    keywords(&["exists", "in"])
                } else {
                    Vec::new()
                }
            }
            _ if self.words().any(|w| w == "in") => keywords(&["where"]),
            _ => keywords(&["in", "where"]),
        }
    }

    fn metric_declaration(&self) -> Vec<Completion> {
        match self.prev() {
            Some(":") => {
                let mut items: Vec<Completion> = Unit::ALL
                    .iter()
                    .map(|u| {
                        item(
                            u.keyword(),
                            CompletionKind::Unit,
                            Some(u.example()),
                            Some(u.described()),
                        )
                    })
                    .collect();
                items.extend(keywords(&["unbounded", "counter"]));
                items
            }
            Some("unbounded") => vec![item(
                Unit::Ratio.keyword(),
                CompletionKind::Unit,
                Some(Unit::Ratio.example()),
                Some("a ratio that may pass 1 (a quota's use, an overcommit)"),
            )],
            Some("counter") => [Unit::Count, Unit::Bytes, Unit::Duration]
                .iter()
                .map(|u| {
                    item(
                        u.keyword(),
                        CompletionKind::Unit,
                        Some(u.example()),
                        Some("a series that only grows and resets: `increase` and `rate` apply"),
                    )
                })
                .collect(),
            Some("=") => keywords(&["promql"]),
            _ => Vec::new(),
        }
    }

    fn rule(&self) -> Vec<Completion> {
        let then = self.statement.iter().position(|t| self.text(t) == "then");
        match then {
            Some(i) => self.action(&self.statement[i + 1..]),
            None => self.condition(),
        }
    }

    fn condition(&self) -> Vec<Completion> {
        let Some(prev) = self.statement.last() else {
            return Vec::new();
        };
        match self.text(prev) {
            "when" | "and" | "or" | "not" | "(" => {
                let mut items = self.operands();
                items.extend(keywords(&["status", "event", "not"]));
                items
            }
            // A second metric or arithmetic: `available_replicas != replicas`,
            // `a / b`. A number is typed, not completed.
            "+" | "-" | "*" | "/" | ">" | ">=" | "<" | "<=" | "==" | "!=" => self.operands(),
            "status" => keywords(&["is", "was"]),
            "is" | "was" => catalog::STATUS_REASONS
                .iter()
                .filter(|s| self.kind.is_none_or(|k| s.kinds.contains(k)))
                .map(|s| {
                    item(
                        s.name,
                        CompletionKind::Reason,
                        Some("status reason"),
                        Some(s.description),
                    )
                })
                .collect(),
            "event" => catalog::EVENT_REASONS
                .iter()
                .map(|(name, doc)| {
                    item(
                        name,
                        CompletionKind::Reason,
                        Some("event reason"),
                        Some(doc),
                    )
                })
                .collect(),
            "count" if self.statement.len() >= 3 => Vec::new(),
            "within" | "for" | "," => Vec::new(),
            _ if prev.kind == Lexeme::Word
                && self.statement.len() >= 2
                && self.text(&self.statement[self.statement.len() - 2]) == "event" =>
            {
                keywords(&["count"])
            }
            _ if prev.kind == Lexeme::Word
                && self.statement.len() >= 2
                && self.text(&self.statement[self.statement.len() - 2]) == "was" =>
            {
                keywords(&["within"])
            }
            _ if matches!(prev.kind, Lexeme::Number)
                || matches!(self.text(prev), "true" | "false" | ")") =>
            {
                let after_for = self.statement.len() >= 2
                    && self.text(&self.statement[self.statement.len() - 2]) == "for";
                let after_count = self
                    .statement
                    .iter()
                    .rev()
                    .nth(1)
                    .is_some_and(|t| self.text(t).starts_with(['<', '>', '=', '!']))
                    && self.words().any(|w| w == "count")
                    && !self.words().any(|w| w == "within");
                if after_count {
                    keywords(&["within"])
                } else if after_for {
                    // The rule's `for`, or a clause's before `and`, `or`.
                    keywords(&["then", "and", "or"])
                } else {
                    keywords(&["for", "then", "and", "or"])
                }
            }
            _ => Vec::new(),
        }
    }

    /// What a comparison's side may be made of: metrics, then the window
    /// functions.
    fn operands(&self) -> Vec<Completion> {
        let mut items = self.metrics();
        items.extend(catalog::FUNCTIONS.iter().map(|f| Completion {
            insert_text: Some(format!("{}(", f.name)),
            ..item(
                f.name,
                CompletionKind::Function,
                Some("window function"),
                Some(f.description),
            )
        }));
        items
    }

    /// Built-in metrics for the policy's kind, then the declared ones.
    fn metrics(&self) -> Vec<Completion> {
        let mut items: Vec<Completion> = catalog::METRICS
            .iter()
            .filter(|m| self.kind.is_none_or(|k| m.kinds.contains(k)))
            .map(|m| {
                item(
                    m.name,
                    CompletionKind::Metric,
                    Some(m.unit.keyword()),
                    Some(&format!("{}\n\nFrom {}.", m.description, m.source)),
                )
            })
            .collect();
        items.extend(
            self.declared
                .iter()
                .filter(|d| d.kind == DeclKind::Metric)
                .map(|d| {
                    item(
                        d.name,
                        CompletionKind::Metric,
                        d.ty,
                        Some(&format!(
                            "Declared in this file: `{}`",
                            d.body.unwrap_or("")
                        )),
                    )
                }),
        );
        items
    }

    /// After `then`, or inside `among [ … ]`.
    fn action(&self, tokens: &[Tok]) -> Vec<Completion> {
        let current = tokens
            .iter()
            .rposition(|t| matches!(self.text(t), "[" | ","))
            .map_or(tokens, |i| &tokens[i + 1..]);
        let words: Vec<&str> = current.iter().map(|t| self.text(t)).collect();
        match words.as_slice() {
            [] if tokens.is_empty() || self.prev().is_some_and(|p| p == "[" || p == ",") => {
                self.actions()
            }
            ["restart"] => keywords(&["rolling", "immediate"]),
            ["scale"] => keywords(&["up", "down", "to"]),
            ["scale", "up", _] => keywords(&["max"]),
            ["scale", "down", _] => keywords(&["min"]),
            ["set"] => catalog::RESOURCES
                .iter()
                .map(|(name, unit)| item(name, CompletionKind::Value, Some(unit.keyword()), None))
                .collect(),
            ["set", _] => keywords(&["="]),
            ["set", _, "="] => keywords(&["current"]),
            ["ask"] => keywords(&["ai"]),
            ["ask", "ai"] => keywords(&["among"]),
            ["patch"] => self
                .declared
                .iter()
                .filter(|d| d.kind == DeclKind::Patch)
                .map(|d| {
                    item(
                        d.name,
                        CompletionKind::Patch,
                        d.ty,
                        Some(&format!("```json\n{}\n```", d.body.unwrap_or(""))),
                    )
                })
                .collect(),
            [] => Vec::new(),
            _ if words.contains(&"priority") => Vec::new(),
            _ => keywords(&["priority"]),
        }
    }

    /// The catalog's actions that apply to the policy's kind (directly or
    /// through a selected pod's owner or node).
    fn actions(&self) -> Vec<Completion> {
        catalog::ACTIONS
            .iter()
            .filter(|a| {
                self.kind
                    .is_none_or(|k| a.kinds.contains(k) || (k == Kind::Pods && a.via_pod.is_some()))
            })
            .map(|a| {
                item(
                    a.name,
                    CompletionKind::Action,
                    Some(a.usage),
                    Some(a.description),
                )
            })
            .collect()
    }

    /// `number` with each suffix that fits where it stands.
    fn suffixes(&self, number: &str) -> Vec<Completion> {
        if !number.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return Vec::new();
        }
        let words: Vec<&str> = self.words().collect();
        let Some(unit) = expected_unit(&words, &self.declared) else {
            return Vec::new();
        };
        let suffixes: Vec<(String, String)> = match unit {
            Unit::Duration => DURATIONS
                .iter()
                .map(|(s, secs)| {
                    let detail = number
                        .parse::<f64>()
                        .map(|n| format!("{} s", n * *secs as f64))
                        .unwrap_or_default();
                    (s.to_string(), detail)
                })
                .collect(),
            Unit::Percent | Unit::Ratio => vec![("%".into(), "percent".into())],
            Unit::Bytes => catalog::BYTE_SUFFIXES
                .iter()
                // `size` is an f64: print it as the exact integer it is
                // (`5Ei` is 1152921504606846976 bytes, not …7000).
                .map(|(s, size)| (s.to_string(), format!("× {} bytes", *size as u64)))
                .collect(),
            Unit::Cores => vec![("m".into(), "millicores".into())],
            Unit::Count | Unit::Bool => Vec::new(),
        };
        suffixes
            .into_iter()
            .map(|(suffix, detail)| {
                item(
                    &format!("{number}{suffix}"),
                    CompletionKind::Unit,
                    Some(&detail),
                    None,
                )
            })
            .collect()
    }
}

fn item(label: &str, kind: CompletionKind, detail: Option<&str>, doc: Option<&str>) -> Completion {
    Completion {
        label: label.to_string(),
        kind,
        detail: detail.map(str::to_string),
        documentation: doc.map(str::to_string),
        insert_text: None,
    }
}

fn keywords(words: &[&str]) -> Vec<Completion> {
    words
        .iter()
        .map(|word| item(word, CompletionKind::Keyword, keyword_doc(word), None))
        .collect()
}
