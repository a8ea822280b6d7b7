//! `kubeskippy import`: HealingPolicy YAML in the structured form of the
//! project's seed (`kubeskippy.io/v1alpha1`: `selector`, `triggers[]`,
//! `actions[]`, `safetyRules`, `mode`) converted into Skippy, with a note,
//! located in the YAML, for every field or value that could not be carried
//! over as it was. `docs/import.md` is the table of what becomes what.
//!
//! Pure, like the compiler: the caller reads the file and writes the result.
//! Every converted policy is compiled before it is kept (see [`settle`]), so
//! what comes out passes `kubeskippy check`.

mod actions;
mod draft;
mod policy;
mod selector;
mod settle;
mod triggers;
mod values;
mod yaml;

use crate::diagnostic::Severity;
use crate::span::Span;

/// Something the import could not carry over as it was, at its place in the
/// YAML. An error: a part (a trigger, an action, a whole policy) was left
/// out; a warning: it was converted, but something was lost or guessed.
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    pub code: &'static str,
    pub severity: Severity,
    pub span: Span,
    pub message: String,
    pub help: Option<String>,
}

/// The Skippy text and what could not be converted.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    /// The policies converted, as a `.skippy` file; empty when none was.
    pub skippy: String,
    /// The names of the policies in `skippy`, in order.
    pub policies: Vec<String>,
    /// In the order of their place in the YAML.
    pub notes: Vec<Note>,
}

/// The notes' codes: stable, so scripts can tell them apart in
/// `--format json`. `I` for import, apart from the compiler's `E`/`W` codes.
pub mod codes {
    /// The file is not YAML.
    pub const NOT_YAML: &str = "I0001";
    /// No HealingPolicy in the structured form was found.
    pub const NO_POLICY: &str = "I0002";
    /// A document that is not a structured HealingPolicy was skipped.
    pub const SKIPPED_DOCUMENT: &str = "I0003";
    /// A field Skippy has no place for.
    pub const DROPPED_FIELD: &str = "I0101";
    /// A value that could not be read or has no Skippy equivalent.
    pub const BAD_VALUE: &str = "I0102";
    /// A PromQL query declared as a metric, its unit guessed.
    pub const GUESSED_UNIT: &str = "I0103";
    /// A trigger left out.
    pub const SKIPPED_TRIGGER: &str = "I0104";
    /// An action left out.
    pub const SKIPPED_ACTION: &str = "I0105";
    /// A meaning that changes on the way (a stricter mode, one cooldown).
    pub const CHANGED_MEANING: &str = "I0106";
    /// What `kubeskippy check` says about the converted policy.
    pub const CHECK: &str = "I0201";

    /// Every code, for the docs test.
    pub const ALL: &[&str] = &[
        NOT_YAML,
        NO_POLICY,
        SKIPPED_DOCUMENT,
        DROPPED_FIELD,
        BAD_VALUE,
        GUESSED_UNIT,
        SKIPPED_TRIGGER,
        SKIPPED_ACTION,
        CHANGED_MEANING,
        CHECK,
    ];
}

/// Notes as they are collected, with the source they point into.
pub(crate) struct Notes<'a> {
    pub source: &'a str,
    pub list: Vec<Note>,
}

impl<'a> Notes<'a> {
    fn new(source: &'a str) -> Notes<'a> {
        Notes {
            source,
            list: Vec::new(),
        }
    }

    pub fn push(
        &mut self,
        code: &'static str,
        severity: Severity,
        span: Span,
        message: impl Into<String>,
        help: Option<String>,
    ) {
        self.list.push(Note {
            code,
            severity,
            span,
            message: message.into(),
            help,
        });
    }

    pub fn warn(&mut self, code: &'static str, node: &yaml::Node, message: impl Into<String>) {
        let span = node.head(self.source);
        self.push(code, Severity::Warning, span, message, None);
    }

    pub fn warn_help(
        &mut self,
        code: &'static str,
        node: &yaml::Node,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        let span = node.head(self.source);
        self.push(code, Severity::Warning, span, message, Some(help.into()));
    }

    /// A warning about the field `key` of `parent`, pointing at the key and
    /// its value.
    pub fn warn_field(
        &mut self,
        code: &'static str,
        parent: &yaml::Node,
        key: &str,
        message: impl Into<String>,
        help: Option<String>,
    ) {
        let span = parent
            .field(key, self.source)
            .unwrap_or_else(|| parent.head(self.source));
        self.push(code, Severity::Warning, span, message, help);
    }

    pub fn error(
        &mut self,
        code: &'static str,
        node: &yaml::Node,
        message: impl Into<String>,
        help: Option<String>,
    ) {
        let span = node.head(self.source);
        self.push(code, Severity::Error, span, message, help);
    }
}

/// Converts every structured HealingPolicy of `source` (one policy each);
/// what comes out passes `check` with `config`.
pub fn import(source: &str, config: &crate::safety::SafetyConfig) -> Imported {
    let mut notes = Notes::new(source);
    let documents = match yaml::documents(source) {
        Ok(documents) => documents,
        Err(e) => {
            let span = Span::new(e.at, e.at);
            notes.push(
                codes::NOT_YAML,
                Severity::Error,
                span,
                format!("not valid YAML: {}", e.message),
                Some("fix the YAML; nothing was converted".to_string()),
            );
            return finish(String::new(), Vec::new(), notes);
        }
    };
    let mut names = draft::Names::default();
    let mut texts = Vec::new();
    // Policies of one HealingPolicy share the metrics and patches its
    // triggers and actions declare: each is written once, before them all.
    let mut declarations: Vec<String> = Vec::new();
    let mut policies = Vec::new();
    let mut seen = false;
    for document in &documents {
        if document.is_null() {
            continue;
        }
        if !policy::is_structured(document, &mut notes) {
            continue;
        }
        seen = true;
        for draft in policy::convert(document, &mut notes, &mut names, config) {
            if let Some((declared, text)) = settle::settle(draft.clone(), &mut notes, config) {
                for d in declared {
                    if !declarations.contains(&d) {
                        declarations.push(d);
                    }
                }
                policies.push(draft.name.clone());
                texts.push(text);
            }
        }
    }
    if !seen {
        notes.push(
            codes::NO_POLICY,
            Severity::Error,
            Span::new(0, 0),
            "no HealingPolicy of `kubeskippy.io/v1alpha1` in the file",
            Some(
                "`kubeskippy import` reads the structured form (`spec.triggers`, `spec.actions`); \
                 a HealingPolicy with `spec.policy` is Skippy already: check it with `kubeskippy check`"
                    .to_string(),
            ),
        );
    }
    let mut skippy = texts.join("\n");
    if !skippy.is_empty() {
        let declared = match declarations.is_empty() {
            true => String::new(),
            false => declarations.join("\n") + "\n\n",
        };
        skippy = format!(
            "# Converted by `kubeskippy import`; see docs/import.md.\n\n{declared}{skippy}"
        );
        // The canonical layout, as `kubeskippy fmt` writes it; the text was
        // compiled already, so formatting can only fail on a bug here.
        if let Ok(formatted) = crate::fmt::format(&skippy) {
            skippy = formatted;
        }
    }
    finish(skippy, policies, notes)
}

fn finish(skippy: String, policies: Vec<String>, notes: Notes<'_>) -> Imported {
    let mut list = notes.list;
    list.sort_by_key(|n| (n.span.start, n.span.end));
    // A HealingPolicy of several kinds converts its actions once per kind:
    // one note per place and problem.
    list.dedup_by(|a, b| {
        (a.code, a.severity, a.span, &a.message) == (b.code, b.severity, b.span, &b.message)
    });
    Imported {
        skippy,
        policies,
        notes: list,
    }
}

#[cfg(test)]
mod tests;
