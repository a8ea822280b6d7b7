//! What an evaluation decides, as data the safety controller, the executors,
//! the AI analyzer and the HealingAction record read without looking
//! anything up again: the rule by position and by fingerprint, what the
//! action lands on, its safety class, and the evidence.

use super::evidence::Evidence;
use super::observation::TargetId;
use super::state::{Charge, Ledger};
use crate::catalog::Effect;
use crate::ir::{Action, SafetyClass};
use serde::Serialize;

/// What a policy decided for one target.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "decision", rename_all = "kebab-case")]
pub enum Decision {
    /// Carry out `action` (subject to the safety controller and the mode).
    Act {
        /// The policy's name, for people; `policy_index` is its identity.
        policy: String,
        policy_index: usize,
        rule: usize,
        fingerprint: String,
        target: TargetId,
        /// The target's owner (a pod's workload), for the safety rules that
        /// depend on it (`delete` on a StatefulSet's pods).
        owner: Option<TargetId>,
        action: Action,
        effect: Effect,
        safety: SafetyClass,
        /// What the action lands on: `target` itself, or the pod's owner or
        /// node (see [`super::observation::Target::acted_on`]).
        object: TargetId,
        evidence: Vec<Evidence>,
    },
    /// Hand the case to the AI analyzer, which may only choose a candidate.
    Ambiguous {
        policy: String,
        policy_index: usize,
        rules: Vec<usize>,
        fingerprints: Vec<String>,
        target: TargetId,
        owner: Option<TargetId>,
        candidates: Vec<Candidate>,
        /// What the case is about: the one object every candidate lands on
        /// (the pods of one Deployment make one case), or the target.
        object: TargetId,
        evidence: Vec<Evidence>,
    },
    /// A rule fired but `limit`, `cooldown` or another decision on the same
    /// object holds it back.
    Blocked {
        policy: String,
        policy_index: usize,
        rule: usize,
        fingerprint: String,
        target: TargetId,
        object: TargetId,
        by: Block,
        /// When the block lifts, if nothing else is charged meanwhile; `None`
        /// when not known (a block by this evaluation's own decisions).
        until: Option<i64>,
        evidence: Vec<Evidence>,
    },
}

/// An action the AI may choose, with what the checker proved about it and
/// the object it would land on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    pub action: Action,
    pub effect: Effect,
    pub safety: SafetyClass,
    pub object: TargetId,
}

impl Candidate {
    /// What carrying this candidate out at `at` spends.
    pub fn charge(&self, at: i64) -> Charge {
        Charge {
            object: self.object.clone(),
            at,
            ledger: Ledger::of(&self.action),
        }
    }
}

impl Decision {
    pub fn policy_index(&self) -> usize {
        match self {
            Decision::Act { policy_index, .. }
            | Decision::Ambiguous { policy_index, .. }
            | Decision::Blocked { policy_index, .. } => *policy_index,
        }
    }

    pub fn policy(&self) -> &str {
        match self {
            Decision::Act { policy, .. }
            | Decision::Ambiguous { policy, .. }
            | Decision::Blocked { policy, .. } => policy,
        }
    }

    pub fn target(&self) -> &TargetId {
        match self {
            Decision::Act { target, .. }
            | Decision::Ambiguous { target, .. }
            | Decision::Blocked { target, .. } => target,
        }
    }

    /// The rules that decided, by position.
    pub fn rules(&self) -> &[usize] {
        match self {
            Decision::Act { rule, .. } | Decision::Blocked { rule, .. } => {
                std::slice::from_ref(rule)
            }
            Decision::Ambiguous { rules, .. } => rules,
        }
    }

    pub fn evidence(&self) -> &[Evidence] {
        match self {
            Decision::Act { evidence, .. }
            | Decision::Ambiguous { evidence, .. }
            | Decision::Blocked { evidence, .. } => evidence,
        }
    }

    /// What carrying out an `Act` at `at` spends; `None` for the others (an
    /// AI case spends once answered: see [`Candidate::charge`]).
    pub fn charge(&self, at: i64) -> Option<Charge> {
        match self {
            Decision::Act { object, action, .. } => Some(Charge {
                object: object.clone(),
                at,
                ledger: Ledger::of(action),
            }),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Block {
    /// The policy took `limit` actions within the limit's window.
    Limit,
    /// The object was acted on less than `cooldown` ago.
    Cooldown,
    /// This evaluation already decided an action of this policy on the same
    /// object: another pod of the same workload or on the same node, which
    /// must not roll a Deployment three times for its three pods.
    SameObject,
    /// A request about the object waits for a person or the AI analyzer.
    Open,
}

impl Block {
    pub fn as_str(self) -> &'static str {
        match self {
            Block::Limit => "limit",
            Block::Cooldown => "cooldown",
            Block::SameObject => "same-object",
            Block::Open => "open-request",
        }
    }
}

/// Why a rule did not fire although it might soon.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Waiting {
    pub policy: String,
    pub policy_index: usize,
    pub rule: usize,
    pub target: TargetId,
    pub why: WaitReason,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WaitReason {
    /// True, but not yet for its `for` duration.
    Holding { since: i64, needed: u64 },
    /// Unknown: these metrics (or statuses, events) had no data.
    Unknown { missing: Vec<String> },
}
