//! W0118: rules of one policy that can starve each other. `cooldown` holds
//! per object, and every action that changes the cluster spends it
//! (docs/language.md, "`limit` and `cooldown`"): a less urgent rule whose
//! action lands on the same object as a more urgent rule's can, by acting
//! first, hold the urgent one back for the whole cooldown — a cordon that
//! keeps the drain of the same node waiting, a scale-up that keeps the
//! rollback of the same Deployment waiting.
//!
//! Left alone, because the wait is what the author wants or nothing says it
//! is not: `notify` (it has a budget of its own), two rules with the same
//! action (the object got that remedy either way), `scale up` against
//! `scale down` (the cooldown between them is the hysteresis), identical
//! conditions held for the same time (W0101 says so), and rules of one
//! priority. One condition held for different times is the common case, not
//! an exception: a restart after 1m that spends the cooldown a rollback
//! after 4m then waits on.

use super::Checker;
use crate::catalog::Effect;
use crate::diagnostic::{Code, Diagnostic};
use crate::ir::{self, Action, Scale};
use crate::span::Span;

impl Checker<'_> {
    pub(super) fn lint_starving(&mut self, policy: &ir::Policy, spans: &[Span]) {
        let Some(cooldown) = policy.cooldown.filter(|c| c.0 > 0) else {
            return;
        };
        for (j, spender) in policy.rules.iter().enumerate() {
            // The first more urgent rule `spender` can hold back. Rules of
            // one priority are left alone: their author ranked neither above
            // the other, and most policies leave every rule at the default.
            let held =
                policy.rules.iter().enumerate().find(|(_, held)| {
                    held.priority < spender.priority && can_starve(spender, held)
                });
            let Some((i, held)) = held else {
                continue;
            };
            let Some(object) = shared_object(spender, held) else {
                continue;
            };
            self.report(
                Diagnostic::new(
                    Code::Starving,
                    spans[j],
                    format!(
                        "rule {} (`{}`) can hold back rule {} (`{}`) for the whole `cooldown {cooldown}`: both act on {object}",
                        j + 1,
                        spender.action.catalog_name(),
                        i + 1,
                        held.action.catalog_name(),
                    ),
                )
                .label("when this rule acts first, the cooldown it starts holds the other back")
                .related(spans[i], "held back on the same object")
                .help("make the rule that must act hold first (a lower threshold, a shorter `for`), shorten the cooldown, or give one of them an action that lands elsewhere"),
            );
        }
    }
}

/// Whether `spender` acting spends a cooldown `held` then waits on: an
/// action of one (an `ask ai` may take any of its choices) that differs from
/// an action of the other and lands on the same object. Two rules that hold
/// at the same evaluations fire together, and W0101 reports them.
fn can_starve(spender: &ir::Rule, held: &ir::Rule) -> bool {
    let together = spender.condition == held.condition && spender.hold == held.hold;
    !together && shared_object(spender, held).is_some()
}

/// The object an action of `a` and a different action of `b` both land on,
/// in words, if there is one.
fn shared_object(a: &ir::Rule, b: &ir::Rule) -> Option<&'static str> {
    let (a, b) = (actions(a), actions(b));
    let shared = a.iter().find_map(|(x, on)| {
        b.iter()
            .any(|(y, other)| {
                on == other && x.catalog_name() != y.catalog_name() && !opposite_scales(x, y)
            })
            .then_some(*on)
    })?;
    Some(match shared {
        Effect::Itself => "the object the policy selects",
        Effect::Owner => "the pod's workload",
        Effect::Node => "the pod's node",
        Effect::Nothing => return None,
    })
}

fn opposite_scales(a: &Action, b: &Action) -> bool {
    matches!(
        (a, b),
        (
            Action::Scale(Scale::Up { .. }),
            Action::Scale(Scale::Down { .. })
        ) | (
            Action::Scale(Scale::Down { .. }),
            Action::Scale(Scale::Up { .. })
        )
    )
}

/// The actions a rule may take that spend the cooldown, each with what it
/// lands on: its own, or for `ask ai` each choice. A `notify` spends a
/// budget of its own.
fn actions(rule: &ir::Rule) -> Vec<(&Action, Effect)> {
    match &rule.action {
        Action::AskAi(choices) => choices.iter().map(|c| (&c.action, c.effect)).collect(),
        action => vec![(action, rule.effect)],
    }
    .into_iter()
    .filter(|(a, e)| *e != Effect::Nothing && !matches!(a, Action::Notify(_)))
    .collect()
}
