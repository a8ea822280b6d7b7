//! The `for` timers: a rule's, and those of its held clauses (`status is R
//! for 3m and …`), which are the same timers under keys of their own (see
//! [`super::state::clause_key`]), so that they are persisted, carried over
//! unseen targets, bridged across gaps and started over after the rule acts
//! by the same code as the rule's.

use super::decide::Visit;
use super::gap;
use super::state::{clause_key, Timer};
use super::truth::{self, Truth};
use crate::ir::{Condition, Rule, Seconds};
use std::collections::BTreeMap;

/// The truth of each held clause of `rule` on the target, by clause number,
/// each clause's own timer advanced into `running` as a rule's is (true
/// advances it, false resets it, unknown holds it two intervals); `None`
/// for a rule without held clauses. A clause is true once its timer has
/// run its `for`, and false before.
pub(super) fn held_clauses(
    visit: &Visit,
    rule: &Rule,
    running: &mut BTreeMap<String, Timer>,
) -> Option<Vec<Truth>> {
    let mut held: Option<Vec<Truth>> = None;
    rule.condition
        .for_each_held(&mut |condition, hold, clause| {
            let decided = held.get_or_insert_with(Vec::new);
            let inner = truth::truth(
                visit.program,
                condition,
                visit.target,
                &[],
                Some(decided),
                visit.now,
            );
            let key = clause_key(&rule.fingerprint, clause);
            let previous = visit
                .previous_timers
                .and_then(|t| t.get(&key))
                .copied()
                .and_then(|t| resumed(visit, condition, Some(hold), t));
            let timer = advance(previous, inner, visit.now, visit.context.interval);
            let truth = match (inner, timer) {
                (Truth::True, Some(t)) => {
                    let held_for = u64::try_from(visit.now.saturating_sub(t.since)).unwrap_or(0);
                    if held_for >= hold.0 {
                        Truth::True
                    } else {
                        Truth::False
                    }
                }
                (Truth::Unknown, _) => Truth::Unknown,
                _ => Truth::False,
            };
            if let Some(timer) = timer {
                running.insert(key, timer);
            }
            // Numbered inner first, so each is decided before a clause
            // that holds it reads it.
            if decided.len() <= clause {
                decided.resize(clause + 1, Truth::Unknown);
            }
            decided[clause] = truth;
        });
    held
}

/// A timer from the evaluation before, across a gap in evaluations as far
/// as the data vouches for it (see `engine::gap`).
pub(super) fn resumed(
    visit: &Visit,
    condition: &Condition,
    hold: Option<Seconds>,
    timer: Timer,
) -> Option<Timer> {
    let context = visit.context;
    if !gap::is_gap(timer.checked, visit.now, context.interval) {
        return Some(timer);
    }
    gap::bridge(
        visit.program,
        condition,
        hold,
        visit.target,
        timer,
        visit.now,
        context.interval,
        context.outage_tolerance,
    )
}

/// The `for` timer after an evaluation: true advances (or starts) it, false
/// resets it, unknown holds it for at most two evaluations.
pub(super) fn advance(
    timer: Option<Timer>,
    truth: Truth,
    now: i64,
    interval: i64,
) -> Option<Timer> {
    match (truth, timer) {
        (Truth::False, _) => None,
        (Truth::True, Some(t)) => Some(Timer {
            since: t.since,
            unknown_since: None,
            checked: now,
        }),
        (Truth::True, None) => Some(Timer {
            since: now,
            unknown_since: None,
            checked: now,
        }),
        (Truth::Unknown, None) => None,
        (Truth::Unknown, Some(t)) => {
            // Unknown at two consecutive evaluations (the first, and one
            // interval later) holds; the third resets.
            let unknown_since = t.unknown_since.unwrap_or(now);
            (now.saturating_sub(unknown_since) < interval.saturating_mul(2)).then_some(Timer {
                since: t.since,
                unknown_since: Some(unknown_since),
                checked: now,
            })
        }
    }
}

#[cfg(test)]
mod tests;
