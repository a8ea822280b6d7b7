//! What the engine remembers between evaluations: the `for` timers and the
//! actions taken. A small serializable value, so the operator can persist it
//! and a restart neither resets a timer nor repeats an action.

use super::observation::TargetId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// The `for` timer of each (policy, rule, target) whose condition is true,
    /// or unknown for less than two intervals. Serialized as a list: JSON maps
    /// only have string keys.
    #[serde(with = "timer_list")]
    pub timers: Timers,
    /// Actions taken (and cases handed to the AI), newest last: what `limit`
    /// and `cooldown` count.
    pub history: Vec<Taken>,
}

/// Timers by policy name, then target, then rule fingerprint: nested, so the
/// engine looks a timer up by reference without building a key per rule and
/// target.
pub type Timers = BTreeMap<String, BTreeMap<TargetId, BTreeMap<String, Timer>>>;

impl State {
    /// The timer of (policy, rule fingerprint, target), if it runs.
    pub fn timer(&self, policy: &str, rule: &str, target: &TargetId) -> Option<Timer> {
        self.timers.get(policy)?.get(target)?.get(rule).copied()
    }

    /// How many timers run.
    pub fn timer_count(&self) -> usize {
        self.timers
            .values()
            .flat_map(|t| t.values())
            .map(|r| r.len())
            .sum()
    }
}

/// A timer belongs to (policy, rule, target object): never to metric labels,
/// so a label change or a new container does not fork or reset it. The rule is
/// named by its fingerprint, so editing another rule keeps this one's timer.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TimerKey {
    pub policy: String,
    pub rule: String,
    pub target: TargetId,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timer {
    /// Since when the condition has been true (unknown evaluations hold it).
    pub since: i64,
    /// Since when the condition has been unknown, if it is now.
    pub unknown_since: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Taken {
    pub policy: String,
    /// The object acted on (a pod's owner or node where the action lands
    /// there), so that a cooldown holds for the object, whichever pod led
    /// to it.
    pub target: TargetId,
    pub at: i64,
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
        for (policy, by_target) in timers {
            for (target, by_rule) in by_target {
                for (rule, timer) in by_rule {
                    entries.push(Entry {
                        key: TimerKey {
                            policy: policy.clone(),
                            rule: rule.clone(),
                            target: target.clone(),
                        },
                        timer: *timer,
                    });
                }
            }
        }
        entries.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timers, D::Error> {
        let mut timers = Timers::new();
        for e in Vec::<Entry>::deserialize(d)? {
            timers
                .entry(e.key.policy)
                .or_default()
                .entry(e.key.target)
                .or_default()
                .insert(e.key.rule, e.timer);
        }
        Ok(timers)
    }
}
