//! What the engine remembers between evaluations: the `for` timers and the
//! actions carried out. A small serializable value, so the operator can
//! persist it and a restart neither resets a timer nor repeats an action.
//!
//! A state belongs to one program: one per HealingPolicy object (keyed by the
//! object's uid, which a user cannot edit), one per file for `test` and
//! `simulate`. Inside, each policy's part is found by its position in the
//! program, never by the name its source gives it, so renaming a policy keeps
//! its timers and its history.

use super::observation::TargetId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// By the policy's position in the program.
    pub policies: Vec<PolicyState>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PolicyState {
    /// The `for` timer of each (target, rule) whose condition is true, or
    /// unknown for less than two intervals. Serialized as a list: JSON maps
    /// only have string keys.
    #[serde(with = "timer_list")]
    pub timers: Timers,
    /// What was carried out (or recorded as a dry run), oldest first: what
    /// `limit` and `cooldown` count.
    pub history: Vec<Taken>,
    /// Requests that wait for a person (an approval) or the AI analyzer, by
    /// the object they are about: while one is open, the policy does not
    /// ask again about that object; it lapses after the context's
    /// `request_timeout`.
    #[serde(default)]
    pub open: Vec<Taken>,
}

/// Timers by target, then rule fingerprint (a held clause's: see
/// [`clause_key`]): nested, so the engine looks a
/// timer up by reference without building a key per rule and target. A timer
/// belongs to (rule, target object), never to metric labels, so a label
/// change or a new container does not fork or reset it; the rule is named by
/// its fingerprint, so editing another rule keeps this one's timer.
pub type Timers = BTreeMap<TargetId, BTreeMap<String, Timer>>;

/// The key of the timer of a rule's held clause (`status is R for 3m and
/// …`): its number after the rule's fingerprint, so that the clause's timer
/// is persisted, carried over and started over with the rule's own.
pub fn clause_key(fingerprint: &str, clause: usize) -> String {
    format!("{fingerprint}/{clause}")
}

/// Whether the timer of `key` is the rule's of `fingerprint` or one of its
/// held clauses'.
pub fn of_rule(key: &str, fingerprint: &str) -> bool {
    key.strip_prefix(fingerprint)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

impl State {
    /// The part of the policy at `index`, if it has one yet.
    pub fn policy(&self, index: usize) -> Option<&PolicyState> {
        self.policies.get(index)
    }

    /// The timer of (policy, rule fingerprint, target), if it runs.
    pub fn timer(&self, policy: usize, rule: &str, target: &TargetId) -> Option<Timer> {
        self.policy(policy)?.timers.get(target)?.get(rule).copied()
    }

    /// How many timers run.
    pub fn timer_count(&self) -> usize {
        self.policies
            .iter()
            .flat_map(|p| p.timers.values())
            .map(|r| r.len())
            .sum()
    }

    /// Records what was carried out, so that `limit` and `cooldown` count it
    /// from now on. The engine never records a decision by itself: only what
    /// the safety controller let through and the executor did (or a dry run
    /// recorded) spends the budget, so a refusal, a pending approval or a
    /// failure does not hold back the next attempt.
    ///
    /// Carrying out answers any open request about the same object.
    pub fn commit(&mut self, policy: usize, charge: Charge) {
        self.close(policy, &charge.object, charge.ledger);
        let state = self.policy_mut(policy);
        state.history.push(Taken {
            target: charge.object,
            at: charge.at,
            ledger: charge.ledger,
        });
    }

    /// Records a request that now waits for a person or the AI: the policy
    /// asks nothing more about that object until it is answered
    /// ([`State::commit`], [`State::close`]) or lapses.
    pub fn open(&mut self, policy: usize, charge: Charge) {
        self.close(policy, &charge.object, charge.ledger);
        let state = self.policy_mut(policy);
        state.open.push(Taken {
            target: charge.object,
            at: charge.at,
            ledger: charge.ledger,
        });
    }

    /// Closes the open request about `object` (rejected, declined, failed).
    pub fn close(&mut self, policy: usize, object: &TargetId, ledger: Ledger) {
        if let Some(state) = self.policies.get_mut(policy) {
            state
                .open
                .retain(|o| !(&o.target == object && o.ledger == ledger));
        }
    }

    fn policy_mut(&mut self, policy: usize) -> &mut PolicyState {
        if self.policies.len() <= policy {
            self.policies.resize_with(policy + 1, PolicyState::default);
        }
        &mut self.policies[policy]
    }
}

/// What an action carried out spends: the object it landed on, when, and
/// from which ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Charge {
    pub object: TargetId,
    pub at: i64,
    pub ledger: Ledger,
}

/// `limit` and `cooldown` count actions and notifications apart: a `notify`
/// changes nothing, so it must not use up the budget that keeps disruptive
/// actions rare (a notification at 1m would otherwise hold back the rollback
/// the same policy wants at 4m), and a disruptive action must not silence the
/// notifications.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ledger {
    #[default]
    Actions,
    Notifications,
    /// Cases put to the AI that ended in a notice rather than an action:
    /// what the `cooldown` paces the next case on the object by, apart from
    /// a rule's own `notify`.
    Cases,
}

impl Ledger {
    pub fn of(action: &crate::ir::Action) -> Ledger {
        match action {
            crate::ir::Action::Notify(_) => Ledger::Notifications,
            _ => Ledger::Actions,
        }
    }
}

/// A (rule, target) timer's key, as the serialized list spells it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TimerKey {
    pub rule: String,
    pub target: TargetId,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timer {
    /// Since when the condition has been true (unknown evaluations hold it).
    pub since: i64,
    /// Since when the condition has been unknown, if it is now.
    pub unknown_since: Option<i64>,
    /// When an evaluation last saw the condition: a longer gap than two
    /// intervals since then (the operator was down) is bridged only as far
    /// as the data vouches for it.
    pub checked: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Taken {
    /// The object acted on (a pod's owner or node where the action lands
    /// there), so that a cooldown holds for the object, whichever pod led
    /// to it.
    pub target: TargetId,
    pub at: i64,
    #[serde(default)]
    pub ledger: Ledger,
}

mod timer_list {
    use super::{Timer, TimerKey, Timers};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    struct Entry {
        #[serde(flatten)]
        key: TimerKey,
        #[serde(flatten)]
        timer: Timer,
    }

    pub fn serialize<S: Serializer>(timers: &Timers, s: S) -> Result<S::Ok, S::Error> {
        let mut entries = Vec::new();
        for (target, by_rule) in timers {
            for (rule, timer) in by_rule {
                entries.push(Entry {
                    key: TimerKey {
                        rule: rule.clone(),
                        target: target.clone(),
                    },
                    timer: *timer,
                });
            }
        }
        entries.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timers, D::Error> {
        let mut timers = Timers::new();
        for e in Vec::<Entry>::deserialize(d)? {
            timers
                .entry(e.key.target)
                .or_default()
                .insert(e.key.rule, e.timer);
        }
        Ok(timers)
    }
}
