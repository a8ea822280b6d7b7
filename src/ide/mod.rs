//! Language intelligence for editors: diagnostics, completion, hover,
//! navigation and rename, formatting, outline, semantic tokens and quick
//! fixes, for `.skippy` files and for Skippy embedded in HealingPolicy YAML.
//!
//! Invariants: pure functions of a text and byte offsets (no I/O, no state
//! between calls), built on the same parser, checker, formatter and catalog as
//! the CLI; never panic on any text or offset. The protocol — positions,
//! documents, JSON-RPC — is the `kubeskippy-lsp` crate's; [`Ide`] is the
//! bridge it calls through its `Analysis` trait.

mod code_actions;
mod completion;
#[cfg(test)]
mod completion_tests;
mod context;
mod declared;
mod diagnostics;
pub mod embedded;
mod hover;
mod keywords;
mod lexer;
mod navigation;
mod semantic_tokens;
mod symbols;

pub use completion::{completion_range, completions};
pub use hover::hover;
pub use navigation::{definition, prepare_rename, references, rename};
pub use semantic_tokens::semantic_tokens;
pub use symbols::symbols;

use crate::check::compile;
use crate::safety::SafetyConfig;
use embedded::Embedded;
use kubeskippy_lsp::line_index::floor_char_boundary;
use kubeskippy_lsp::{
    Analysis, CodeAction, Completion, Diagnostic, DocumentKind, Hover, Source, Symbol, TextEdit,
    TextRange, Token,
};

/// Skippy's implementation of the language server's [`Analysis`].
#[derive(Debug, Clone, Default)]
pub struct Ide {
    /// The safety configuration policies are checked against.
    pub config: SafetyConfig,
}

/// Every diagnostic of a `.skippy` text: syntax errors, and the checker's
/// for whatever parsed. Not W0117: a buffer an editor just opened is empty
/// because its author is about to write in it, not by mistake.
pub fn diagnostics(text: &str, config: &SafetyConfig) -> Vec<Diagnostic> {
    compile(text, config)
        .diagnostics
        .iter()
        .filter(|d| d.code != crate::diagnostic::Code::EmptyFile)
        .map(diagnostics::to_analysis)
        .collect()
}

/// Quick fixes for the diagnostics that touch `range`.
pub fn code_actions(text: &str, range: TextRange, config: &SafetyConfig) -> Vec<CodeAction> {
    code_actions::code_actions(text, &compile(text, config), range)
}

/// The canonical form of `text` (as `kubeskippy fmt` writes it), or `None`
/// when it does not parse.
pub fn format(text: &str) -> Option<String> {
    crate::fmt::format(text).ok()
}

impl Analysis for Ide {
    fn diagnostics(&self, source: Source<'_>) -> Vec<Diagnostic> {
        match source.kind {
            DocumentKind::Skippy => diagnostics(source.text, &self.config),
            // As the operator compiles the object (one policy; a
            // HealingPolicy in its own namespace), so the editor shows what
            // its status will.
            DocumentKind::Yaml => embedded::policies(source.text)
                .iter()
                .flat_map(|e| {
                    e.compile(&self.config)
                        .diagnostics
                        .iter()
                        .map(diagnostics::to_analysis)
                        .map(|d| to_yaml_diagnostic(e, d))
                        .collect::<Vec<_>>()
                })
                .collect(),
        }
    }

    fn completions(&self, source: Source<'_>, offset: usize) -> Vec<Completion> {
        in_policy(source, offset, |text, at, _| completions(text, at)).unwrap_or_default()
    }

    fn completion_range(&self, source: Source<'_>, offset: usize) -> Option<TextRange> {
        in_policy(source, offset, |text, at, e| {
            to_yaml(e, &completion_range(text, at))
        })
    }

    fn hover(&self, source: Source<'_>, offset: usize) -> Option<Hover> {
        in_policy(source, offset, |text, at, e| {
            hover(text, at, &self.config).map(|h| Hover {
                range: to_yaml(e, &h.range),
                markdown: h.markdown,
            })
        })?
    }

    fn definition(&self, source: Source<'_>, offset: usize) -> Option<TextRange> {
        in_policy(source, offset, |text, at, e| {
            definition(text, at).map(|r| to_yaml(e, &r))
        })?
    }

    fn references(&self, source: Source<'_>, offset: usize, declaration: bool) -> Vec<TextRange> {
        in_policy(source, offset, |text, at, e| {
            references(text, at, declaration)
                .iter()
                .map(|r| to_yaml(e, r))
                .collect()
        })
        .unwrap_or_default()
    }

    fn prepare_rename(&self, source: Source<'_>, offset: usize) -> Result<TextRange, String> {
        in_policy(source, offset, |text, at, e| {
            prepare_rename(text, at).map(|r| to_yaml(e, &r))
        })
        .unwrap_or_else(|| Err("not inside a policy".into()))
    }

    fn rename(
        &self,
        source: Source<'_>,
        offset: usize,
        name: &str,
    ) -> Result<Vec<TextEdit>, String> {
        in_policy(source, offset, |text, at, e| {
            rename(text, at, name)
                .map(|edits| edits.into_iter().map(|t| edit_to_yaml(e, t)).collect())
        })
        .unwrap_or_else(|| Err("not inside a policy".into()))
    }

    fn format(&self, source: Source<'_>) -> Option<String> {
        // Reformatting a manifest would be YAML's formatter's business.
        match source.kind {
            DocumentKind::Skippy => format(source.text),
            DocumentKind::Yaml => None,
        }
    }

    fn symbols(&self, source: Source<'_>) -> Vec<Symbol> {
        match source.kind {
            DocumentKind::Skippy => symbols(source.text),
            DocumentKind::Yaml => embedded::policies(source.text)
                .iter()
                .flat_map(|e| symbols(&e.text).into_iter().map(|s| symbol_to_yaml(e, s)))
                .collect(),
        }
    }

    fn semantic_tokens(&self, source: Source<'_>) -> Vec<Token> {
        match source.kind {
            DocumentKind::Skippy => semantic_tokens(source.text),
            DocumentKind::Yaml => embedded::policies(source.text)
                .iter()
                .flat_map(|e| {
                    semantic_tokens(&e.text).into_iter().map(|t| Token {
                        range: to_yaml(Some(e), &t.range),
                        kind: t.kind,
                    })
                })
                .collect(),
        }
    }

    fn code_actions(&self, source: Source<'_>, range: TextRange) -> Vec<CodeAction> {
        match source.kind {
            DocumentKind::Skippy => code_actions(source.text, range, &self.config),
            DocumentKind::Yaml => embedded::policies(source.text)
                .iter()
                .flat_map(|e| {
                    if e.to_yaml(e.text.len()) < range.start || range.end < e.to_yaml(0) {
                        return Vec::new();
                    }
                    let start = e.from_yaml(range.start).unwrap_or(0);
                    let end = e.from_yaml(range.end).unwrap_or(e.text.len());
                    code_actions(&e.text, start..end, &self.config)
                        .into_iter()
                        .map(|a| CodeAction {
                            title: a.title,
                            edits: a
                                .edits
                                .into_iter()
                                .map(|t| edit_to_yaml(Some(e), t))
                                .collect(),
                            fixes: a.fixes.map(|d| to_yaml_diagnostic(e, d)),
                            preferred: a.preferred,
                        })
                        .collect()
                })
                .collect(),
        }
    }
}

/// Runs `f` on the Skippy text at `offset`: the document itself, or the
/// embedded policy of a YAML file that contains `offset` (with the offset
/// mapped into it). `None` when a YAML offset is in no policy.
fn in_policy<T>(
    source: Source<'_>,
    offset: usize,
    f: impl FnOnce(&str, usize, Option<&Embedded>) -> T,
) -> Option<T> {
    match source.kind {
        DocumentKind::Skippy => Some(f(
            source.text,
            floor_char_boundary(source.text, offset),
            None,
        )),
        DocumentKind::Yaml => {
            let policies = embedded::policies(source.text);
            let (e, at) = policies
                .iter()
                .find_map(|e| e.from_yaml(offset).map(|at| (e, at)))?;
            Some(f(&e.text, at, Some(e)))
        }
    }
}

fn to_yaml(e: Option<&Embedded>, range: &TextRange) -> TextRange {
    match e {
        Some(e) => e.range_to_yaml(range.clone()),
        None => range.clone(),
    }
}

fn edit_to_yaml(e: Option<&Embedded>, edit: TextEdit) -> TextEdit {
    TextEdit {
        range: to_yaml(e, &edit.range),
        new_text: match e {
            Some(e) => e.spell(&edit.new_text),
            None => edit.new_text,
        },
    }
}

fn to_yaml_diagnostic(e: &Embedded, d: Diagnostic) -> Diagnostic {
    Diagnostic {
        range: to_yaml(Some(e), &d.range),
        related: d
            .related
            .into_iter()
            .map(|r| kubeskippy_lsp::Related {
                range: to_yaml(Some(e), &r.range),
                message: r.message,
            })
            .collect(),
        ..d
    }
}

fn symbol_to_yaml(e: &Embedded, s: Symbol) -> Symbol {
    Symbol {
        range: to_yaml(Some(e), &s.range),
        selection_range: to_yaml(Some(e), &s.selection_range),
        children: s
            .children
            .into_iter()
            .map(|c| symbol_to_yaml(e, c))
            .collect(),
        ..s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = "\
kind: HealingPolicy
apiVersion: kubeskippy.io/v1alpha1
spec:
  policy: |
    policy p {
      select pods
      mode auto
      limit 5 per 1h
      when status is CrashLoopBakOff then delete
    }
";

    fn yaml() -> Source<'static> {
        Source {
            text: YAML,
            kind: DocumentKind::Yaml,
        }
    }

    fn apply(text: &str, edits: &[TextEdit]) -> String {
        let mut out = text.to_string();
        for edit in edits.iter().rev() {
            out.replace_range(edit.range.clone(), &edit.new_text);
        }
        out
    }

    #[test]
    fn quick_fixes_in_yaml_edit_the_yaml() {
        let ide = Ide::default();
        let rule = YAML.find("      when").expect("the rule");
        let actions = ide.code_actions(yaml(), rule..rule + 40);
        let titles: Vec<&str> = actions.iter().map(|a| a.title.as_str()).collect();
        assert_eq!(titles, ["Replace with `CrashLoopBackOff`"]);
        let fixed = apply(YAML, &actions[0].edits);
        assert!(fixed.contains("status is CrashLoopBackOff then"), "{fixed}");

        // Now that the rule checks, the missing cooldown is reported and fixed.
        let source = Source {
            text: &fixed,
            kind: DocumentKind::Yaml,
        };
        let actions = ide.code_actions(source, 0..fixed.len());
        assert_eq!(actions[0].title, "Add `cooldown 10m` to policy `p`");
        let fixed = apply(&fixed, &actions[0].edits);
        assert!(
            fixed.contains("      limit 5 per 1h\n      cooldown 10m\n      when"),
            "the inserted line carries the block's indentation:\n{fixed}"
        );
        let source = Source {
            text: &fixed,
            kind: DocumentKind::Yaml,
        };
        let codes: Vec<String> = ide
            .diagnostics(source)
            .into_iter()
            .map(|d| d.code)
            .collect();
        assert_eq!(codes, ["W0113"]);
    }

    #[test]
    fn outline_and_completion_in_yaml() {
        let symbols = Ide::default().symbols(yaml());
        assert_eq!(&YAML[symbols[0].selection_range.clone()], "p");
        let after_then = YAML.find("delete").expect("the action");
        let labels: Vec<String> = Ide::default()
            .completions(yaml(), after_then)
            .into_iter()
            .map(|c| c.label)
            .collect();
        assert!(labels.contains(&"delete".to_string()), "{labels:?}");
        assert!(
            Ide::default().completions(yaml(), 3).is_empty(),
            "outside the policy"
        );
    }
}
