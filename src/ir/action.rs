//! Actions in the IR: typed parameters, what each acts on and its static safety
//! class, so that the engine, the AI analyzer and the safety controller never
//! look an action up by name.

use super::PatchId;
use crate::catalog::{Effect, Unit};
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Delete the pod (`restart`, `restart immediate`) or roll the workload
    /// (`restart rolling`).
    Restart(RestartMode),
    Delete,
    Scale(Scale),
    Patch(PatchId),
    SetLimit {
        resource: Resource,
        value: LimitValue,
        /// The ceiling, in the resource's canonical unit.
        max: Option<f64>,
    },
    Rollback,
    Cordon,
    Drain,
    /// Run a failed Job again: a new Job from its spec.
    Rerun,
    /// Grow a claim's storage request to `value` (a size, or a factor of
    /// the current request), never beyond `max` bytes and never down.
    Expand {
        value: LimitValue,
        max: f64,
    },
    Notify(String),
    /// The AI analyzer chooses one of these (never `AskAi` itself), each already
    /// classified for the policy, so the analyzer and the safety controller
    /// need not classify again.
    AskAi(Vec<Choice>),
}

/// An action with what the checker proved about it in its policy: what it acts
/// on and whether it may run on its own. A rule holds the same three facts in
/// [`Rule`](super::Rule); an `ask ai` holds one per choice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    pub action: Action,
    pub effect: Effect,
    pub safety: SafetyClass,
}

impl Action {
    /// The catalog's name of the action ("restart rolling", "scale up", …):
    /// the word the safety configuration uses.
    pub fn catalog_name(&self) -> &'static str {
        match self {
            Action::Restart(RestartMode::Immediate) => "restart",
            Action::Restart(RestartMode::Rolling) => "restart rolling",
            Action::Delete => "delete",
            Action::Scale(Scale::Up { .. }) => "scale up",
            Action::Scale(Scale::Down { .. }) => "scale down",
            Action::Scale(Scale::To { .. }) => "scale to",
            Action::Patch(_) => "patch",
            Action::SetLimit { .. } => "set",
            Action::Rollback => "rollback",
            Action::Cordon => "cordon",
            Action::Drain => "drain",
            Action::Rerun => "rerun",
            Action::Expand { .. } => "expand",
            Action::Notify(_) => "notify",
            Action::AskAi(_) => "ask ai",
        }
    }

    /// Rank for "least disruptive first" (0 changes nothing): the order of the
    /// catalog's action table, which a test holds equal to this match.
    pub fn disruption(&self) -> u8 {
        match self {
            Action::Notify(_) | Action::AskAi(_) => 0,
            Action::Scale(Scale::Up { .. }) => 1,
            Action::SetLimit { .. } => 2,
            Action::Patch(_) => 3,
            Action::Restart(RestartMode::Rolling) => 4,
            Action::Scale(Scale::To { .. } | Scale::Down { .. }) => 5,
            Action::Restart(RestartMode::Immediate) => 6,
            Action::Delete => 7,
            Action::Rollback => 8,
            Action::Cordon => 9,
            Action::Drain => 10,
            Action::Rerun => 11,
            Action::Expand { .. } => 12,
        }
    }

    /// The AI's choices of an `ask ai`; empty for any other action.
    pub fn choices(&self) -> &[Choice] {
        match self {
            Action::AskAi(choices) => choices,
            _ => &[],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RestartMode {
    Immediate,
    Rolling,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scale {
    Up { by: u32, max: Option<u32> },
    Down { by: u32, min: Option<u32> },
    To { replicas: u32 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Resource {
    MemoryLimit,
    CpuLimit,
}

impl Resource {
    pub fn keyword(self) -> &'static str {
        match self {
            Resource::MemoryLimit => "memory_limit",
            Resource::CpuLimit => "cpu_limit",
        }
    }

    pub fn unit(self) -> Unit {
        match self {
            Resource::MemoryLimit => Unit::Bytes,
            Resource::CpuLimit => Unit::Cores,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LimitValue {
    /// A new value in the resource's canonical unit.
    Absolute(f64),
    /// `current * FACTOR`
    Factor(f64),
}

/// Whether an action may run on its own, as the static safety rules see it. The
/// safety controller decides again at run time with what it then knows (the
/// kind of a pod's owner, the current replica count): an `Auto` or
/// `NeedsApproval` action that `forbiddenActions` names for some of the kinds
/// it may land on (W0113 at check time, see [`crate::safety::forbidden`]) is
/// blocked where the target turns out to be one of them. A compiled program
/// holds no `Forbidden` rule or choice (those are errors); the class exists for
/// the controller's own verdicts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SafetyClass {
    Auto,
    NeedsApproval(String),
    Forbidden(String),
}

impl SafetyClass {
    /// Orders classes from the most permissive (0) to the strictest.
    pub fn strictness(&self) -> u8 {
        match self {
            SafetyClass::Auto => 0,
            SafetyClass::NeedsApproval(_) => 1,
            SafetyClass::Forbidden(_) => 2,
        }
    }

    /// The strictest of `classes` (the first of equals), or `Auto` for none.
    pub fn strictest<'a>(classes: impl IntoIterator<Item = &'a SafetyClass>) -> SafetyClass {
        classes
            .into_iter()
            .fold(None::<&SafetyClass>, |best, class| match best {
                Some(b) if b.strictness() >= class.strictness() => Some(b),
                _ => Some(class),
            })
            .cloned()
            .unwrap_or(SafetyClass::Auto)
    }
}

impl fmt::Display for SafetyClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SafetyClass::Auto => f.write_str("auto"),
            SafetyClass::NeedsApproval(why) => write!(f, "needs approval ({why})"),
            SafetyClass::Forbidden(why) => write!(f, "forbidden ({why})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog;

    /// One example of every action, in the catalog's order.
    fn every_action() -> Vec<Action> {
        vec![
            Action::Notify("x".into()),
            Action::AskAi(Vec::new()),
            Action::Scale(Scale::Up { by: 1, max: None }),
            Action::SetLimit {
                resource: Resource::CpuLimit,
                value: LimitValue::Factor(1.5),
                max: None,
            },
            Action::Patch(PatchId(0)),
            Action::Restart(RestartMode::Rolling),
            Action::Scale(Scale::To { replicas: 2 }),
            Action::Scale(Scale::Down { by: 1, min: None }),
            Action::Restart(RestartMode::Immediate),
            Action::Delete,
            Action::Rollback,
            Action::Cordon,
            Action::Drain,
            Action::Rerun,
            Action::Expand {
                value: LimitValue::Factor(1.5),
                max: 1e11,
            },
        ]
    }

    #[test]
    fn disruption_is_the_catalogs_rank() {
        let actions = every_action();
        assert_eq!(actions.len(), catalog::ACTIONS.len());
        for (action, info) in actions.iter().zip(catalog::ACTIONS) {
            assert_eq!(action.catalog_name(), info.name);
            assert_eq!(action.disruption(), info.disruption, "{}", info.name);
        }
    }

    #[test]
    fn the_strictest_class_wins_and_keeps_its_reason() {
        let approval = SafetyClass::NeedsApproval("drain".into());
        let classes = [
            SafetyClass::Auto,
            approval.clone(),
            SafetyClass::NeedsApproval("later".into()),
        ];
        assert_eq!(SafetyClass::strictest(&classes), approval);
        assert_eq!(SafetyClass::strictest(&[]), SafetyClass::Auto);
    }
}
