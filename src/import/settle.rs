//! Each converted policy is compiled before it is kept: a rule `check`
//! rejects (a metric that does not apply to the kind, a query without the
//! label its policy joins on, …) is left out and reported at the trigger it
//! came from, so what `import` writes always passes `kubeskippy check`.
//! What `check` warns about is reported there too.

use super::codes;
use super::draft::{Draft, Origin};
use super::Notes;
use crate::diagnostic::{Diagnostic, Severity};
use crate::span::{LineIndex, Span};

/// The policy's declarations and text once every rule `check` rejects is
/// left out; `None` (reported) when none is left, or the policy itself is
/// rejected.
pub fn settle(
    mut draft: Draft,
    notes: &mut Notes,
    config: &crate::safety::SafetyConfig,
) -> Option<(Vec<String>, String)> {
    // Each round leaves out at least one rule, or ends.
    for _ in 0..=draft.rules.len() {
        let (text, origins) = draft.emit();
        let compiled = crate::check::compile(&text, config);
        let lines = LineIndex::new(&text);
        let origin_of = |d: &Diagnostic| {
            let line = lines.line_col(&text, d.span.start).line;
            origins.get(line - 1).copied().unwrap_or(Origin::Layout)
        };
        // A diagnostic after `then` is about the action, not the trigger.
        let in_action = |d: &Diagnostic| {
            let start = text[..d.span.start.min(text.len())]
                .rfind('\n')
                .map_or(0, |i| i + 1);
            text.get(start..d.span.start)
                .is_some_and(|before| before.contains(" then "))
        };
        let errors: Vec<&Diagnostic> = compiled
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .collect();
        if errors.is_empty() {
            for d in &compiled.diagnostics {
                let at = span_of(&draft, origin_of(d), in_action(d));
                notes.push(
                    codes::CHECK,
                    Severity::Warning,
                    at,
                    format!("`kubeskippy check` warns ({}): {}", d.code, d.message),
                    d.help.clone(),
                );
            }
            let declarations = draft.declarations();
            // The policy alone: its declarations are the lines before it.
            let skip = declarations.len() + usize::from(!declarations.is_empty());
            let policy: String = text.split_inclusive('\n').skip(skip).collect();
            return Some((declarations, policy));
        }
        let mut dropped = Vec::new();
        for d in errors {
            let rules = match origin_of(d) {
                Origin::Rule(i) => vec![i],
                Origin::Declaration(i) => {
                    let line = lines.line_col(&text, d.span.start).line;
                    let declared = text.lines().nth(line - 1).unwrap_or("");
                    let name = draft.rules[i]
                        .declarations
                        .iter()
                        .find(|decl| decl.text == declared)
                        .map(|decl| decl.name.clone());
                    (0..draft.rules.len())
                        .filter(|&r| {
                            draft.rules[r]
                                .declarations
                                .iter()
                                .any(|decl| Some(&decl.name) == name.as_ref())
                        })
                        .collect()
                }
                Origin::Header(_) | Origin::Layout => {
                    let at = span_of(&draft, origin_of(d), false);
                    notes.push(
                        codes::CHECK,
                        Severity::Error,
                        at,
                        format!(
                            "policy `{}` not converted: `kubeskippy check` rejects it ({}): {}",
                            draft.name, d.code, d.message
                        ),
                        d.help.clone(),
                    );
                    return None;
                }
            };
            for r in rules {
                if !dropped.contains(&r) {
                    let rule = &draft.rules[r];
                    let at = if in_action(d) {
                        rule.action_origin
                    } else {
                        rule.origin
                    };
                    notes.push(
                        codes::CHECK,
                        Severity::Error,
                        at,
                        format!(
                            "trigger `{}` skipped: `kubeskippy check` rejects its rule ({}): {}",
                            rule.trigger, d.code, d.message
                        ),
                        d.help.clone(),
                    );
                    dropped.push(r);
                }
            }
        }
        // A guess about a rule that is left out would only confuse.
        for &r in &dropped {
            let extent = draft.rules[r].extent;
            notes.list.retain(|n| {
                n.code != codes::GUESSED_UNIT
                    || n.span.start < extent.start
                    || n.span.end > extent.end
            });
        }
        dropped.sort_unstable();
        for r in dropped.into_iter().rev() {
            draft.rules.remove(r);
        }
        if draft.rules.is_empty() {
            notes.push(
                codes::SKIPPED_DOCUMENT,
                Severity::Error,
                draft.origin,
                format!("policy `{}` not converted: `kubeskippy check` rejects every rule it would have", draft.name),
                None,
            );
            return None;
        }
    }
    None
}

fn span_of(draft: &Draft, origin: Origin, in_action: bool) -> Span {
    match origin {
        Origin::Header(span) => span,
        Origin::Rule(i) if in_action => {
            draft.rules.get(i).map_or(draft.origin, |r| r.action_origin)
        }
        Origin::Rule(i) | Origin::Declaration(i) => {
            draft.rules.get(i).map_or(draft.origin, |r| r.origin)
        }
        Origin::Layout => draft.origin,
    }
}
