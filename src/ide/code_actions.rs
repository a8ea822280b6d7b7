//! Quick fixes: apply a diagnostic's "did you mean" suggestion; add the
//! missing `cooldown` that the no-cooldown and unbounded-budget lints ask for.

use super::diagnostics::to_analysis;
use crate::check::Compiled;
use crate::diagnostic::{Code, Diagnostic};
use crate::syntax::ast::{Item, Policy, Statement};
use kubeskippy_lsp::{CodeAction, TextEdit, TextRange};

/// The cooldown the quick fix proposes; the lint's help names the same.
const DEFAULT_COOLDOWN: &str = "10m";

/// Fixes for the diagnostics of `compiled` that touch `range` of `text`.
pub fn code_actions(text: &str, compiled: &Compiled, range: TextRange) -> Vec<CodeAction> {
    let touches = |d: &&Diagnostic| d.span.start <= range.end && range.start <= d.span.end;
    let mut actions = Vec::new();
    let mut cooldown_added = Vec::new();
    for diagnostic in compiled.diagnostics.iter().filter(touches) {
        if let Some(suggestion) = &diagnostic.suggestion {
            actions.push(CodeAction {
                title: format!("Replace with `{}`", suggestion.replacement),
                edits: vec![TextEdit {
                    range: suggestion.span.start..suggestion.span.end,
                    new_text: suggestion.replacement.clone(),
                }],
                fixes: Some(to_analysis(diagnostic)),
                preferred: true,
            });
        }
        // The unbounded-budget lint asks for a cooldown (and a limit) too.
        if matches!(diagnostic.code, Code::NoCooldown | Code::UnboundedBudget) {
            let Some(policy) = policy_at(compiled, diagnostic.span.start) else {
                continue;
            };
            // One fix per policy, however many rules lack the cooldown.
            if cooldown_added.contains(&policy.span.start) {
                continue;
            }
            cooldown_added.push(policy.span.start);
            // `cooldown 0s` counts as none: set it rather than add a second.
            let existing = policy.statements.iter().find_map(|s| match s {
                Statement::Cooldown(value, _) => Some(value.span),
                _ => None,
            });
            let ((verb, preposition), edit) = match existing {
                Some(span) => (
                    ("Set", "in"),
                    Some(TextEdit {
                        range: span.start..span.end,
                        new_text: DEFAULT_COOLDOWN.to_string(),
                    }),
                ),
                None => (("Add", "to"), add_cooldown(text, policy)),
            };
            if let Some(edit) = edit {
                actions.push(CodeAction {
                    title: format!(
                        "{verb} `cooldown {DEFAULT_COOLDOWN}` {preposition} policy `{}`",
                        policy.name.name
                    ),
                    edits: vec![edit],
                    fixes: Some(to_analysis(diagnostic)),
                    preferred: true,
                });
            }
        }
    }
    actions
}

fn policy_at(compiled: &Compiled, offset: usize) -> Option<&Policy> {
    compiled.ast.items.iter().find_map(|item| match item {
        Item::Policy(p) if p.span.start <= offset && offset <= p.span.end => Some(p),
        _ => None,
    })
}

/// A `cooldown` line after the policy's settings (`select`, `mode`, `limit`),
/// indented like its first statement; or after the `{` when it has none.
fn add_cooldown(text: &str, policy: &Policy) -> Option<TextEdit> {
    let anchor = policy
        .statements
        .iter()
        .filter(|s| {
            matches!(
                s,
                Statement::Select(_) | Statement::Mode(..) | Statement::Limit { .. }
            )
        })
        .map(|s| s.span().end)
        .max()
        .or_else(|| {
            text.get(policy.name.span.end..policy.span.end)?
                .find('{')
                .map(|i| policy.name.span.end + i + 1)
        })?;
    let indent = policy
        .statements
        .first()
        .and_then(|s| {
            let start = s.span().start;
            let line_start = text.get(..start)?.rfind('\n').map_or(0, |i| i + 1);
            let indent = text.get(line_start..start)?;
            indent
                .chars()
                .all(|c| c == ' ' || c == '\t')
                .then_some(indent)
        })
        .unwrap_or("  ");
    let (line_end, eol) = match text.get(anchor..)?.find('\n') {
        Some(i) if i > 0 && text.as_bytes()[anchor + i - 1] == b'\r' => (anchor + i - 1, "\r\n"),
        Some(i) => (anchor + i, "\n"),
        None if text.contains("\r\n") => (text.len(), "\r\n"),
        None => (text.len(), "\n"),
    };
    let cooldown = format!("{eol}{indent}cooldown {DEFAULT_COOLDOWN}");
    let rest = &text[anchor..line_end];
    let after = rest.trim_start();
    let gap = anchor..anchor + (rest.len() - after.len());
    Some(if after.is_empty() || after.starts_with('#') {
        // The usual case: on a line of its own after the anchor's line.
        TextEdit {
            range: line_end..line_end,
            new_text: cooldown,
        }
    } else if after.starts_with(';') {
        // `select pods; when …`: the `;` still ends the cooldown.
        TextEdit {
            range: anchor..anchor,
            new_text: cooldown,
        }
    } else if after.starts_with('}') {
        // `limit 5 per 1h }`: before the brace, which keeps a line of its own.
        TextEdit {
            range: gap,
            new_text: format!("{cooldown}{eol}"),
        }
    } else {
        // `policy p { when …`: between the brace and what follows it.
        TextEdit {
            range: gap,
            new_text: format!("{cooldown}{eol}{indent}"),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::compile;
    use crate::diagnostic::Severity;
    use crate::safety::SafetyConfig;

    fn apply(text: &str, action: &CodeAction) -> String {
        let mut out = text.to_string();
        for edit in action.edits.iter().rev() {
            out.replace_range(edit.range.clone(), &edit.new_text);
        }
        out
    }

    #[test]
    fn did_you_mean_replaces_the_name() {
        let text = "policy p {\n  select pods\n  when memory_precent > 90 then notify \"x\"\n}\n";
        let compiled = compile(text, &SafetyConfig::default());
        let actions = code_actions(text, &compiled, 0..text.len());
        assert_eq!(actions[0].title, "Replace with `memory_percent`");
        assert!(apply(text, &actions[0]).contains("when memory_percent > 90"));
    }

    #[test]
    fn adds_a_cooldown_once_per_policy() {
        let text = "policy p {\n    select pods\n    mode auto\n    when restarts > 3 then delete\n    when restarts > 9 then delete\n}\n";
        let compiled = compile(text, &SafetyConfig::default());
        let actions = code_actions(text, &compiled, 0..text.len());
        let fixes: Vec<&CodeAction> = actions
            .iter()
            .filter(|a| a.title.starts_with("Add"))
            .collect();
        assert_eq!(fixes.len(), 1, "{actions:?}");
        let fixed = apply(text, fixes[0]);
        assert!(
            fixed.contains("    mode auto\n    cooldown 10m\n    when"),
            "{fixed}"
        );
        let again = compile(&fixed, &SafetyConfig::default());
        assert!(again.diagnostics.iter().all(|d| d.code != Code::NoCooldown));
    }

    /// The cooldown fix applied to `text`: it must clear W0104/W0107 and add
    /// no error.
    fn fixed_clean(text: &str) -> String {
        let compiled = compile(text, &SafetyConfig::default());
        let fix = code_actions(text, &compiled, 0..text.len())
            .into_iter()
            .find(|a| a.title.starts_with("Add"))
            .unwrap_or_else(|| panic!("a cooldown fix for {text:?}"));
        let fixed = apply(text, &fix);
        let again = compile(&fixed, &SafetyConfig::default());
        assert!(
            again.diagnostics.iter().all(|d| d.code != Code::NoCooldown
                && d.code != Code::UnboundedBudget
                && d.severity != Severity::Error),
            "{fixed:?}: {:?}",
            again.diagnostics
        );
        fixed
    }

    #[test]
    fn the_cooldown_goes_before_a_closing_brace_and_keeps_line_endings() {
        let fixed = fixed_clean(
            "policy p {\n  when status is CrashLoopBackOff then delete\n  select pods\n  limit 5 per 1h }\n",
        );
        assert!(
            fixed.ends_with("  limit 5 per 1h\n  cooldown 10m\n}\n"),
            "{fixed}"
        );
        let fixed = fixed_clean(
            "policy p {\r\n  select pods # all\r\n  when restarts > 3 then delete\r\n}\r\n",
        );
        assert!(
            fixed.contains("# all\r\n  cooldown 10m\r\n  when"),
            "{fixed:?}"
        );
        assert!(!fixed.replace("\r\n", "").contains('\n'), "{fixed:?}");
        fixed_clean("policy p { select pods; when restarts > 3 then delete }\n");
        fixed_clean("policy p {\n  select pods; when restarts > 3 then delete\n}");
    }

    #[test]
    fn a_zero_cooldown_is_set_not_repeated() {
        let text = "policy p {\n  select pods\n  cooldown 0s\n  when restarts > 3 then delete\n}\n";
        let compiled = compile(text, &SafetyConfig::default());
        let actions = code_actions(text, &compiled, 0..text.len());
        let fix = actions
            .iter()
            .find(|a| a.title.starts_with("Set"))
            .expect("a fix");
        let fixed = apply(text, fix);
        assert!(fixed.contains("  cooldown 10m\n  when"), "{fixed}");
    }
}
