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
    pub timers: BTreeMap<TimerKey, Timer>,
    /// Actions taken (and cases handed to the AI), newest last: what `limit`
    /// and `cooldown` count.
    pub history: Vec<Taken>,
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
    pub target: TargetId,
    pub at: i64,
}

mod timer_list {
    use super::{Timer, TimerKey};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::collections::BTreeMap;

    #[derive(Serialize, Deserialize)]
    struct Entry {
        #[serde(flatten)]
        key: TimerKey,
        #[serde(flatten)]
        timer: Timer,
    }

    pub fn serialize<S: Serializer>(
        map: &BTreeMap<TimerKey, Timer>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let entries: Vec<Entry> = map
            .iter()
            .map(|(key, timer)| Entry {
                key: key.clone(),
                timer: *timer,
            })
            .collect();
        entries.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<TimerKey, Timer>, D::Error> {
        let entries = Vec::<Entry>::deserialize(d)?;
        Ok(entries.into_iter().map(|e| (e.key, e.timer)).collect())
    }
}
