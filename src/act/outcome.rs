//! What became of a decision, as the simulator's timeline, a policy test and
//! the operator's records show it.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "detail")]
pub enum Outcome {
    /// Carried out on the object; what it did.
    Done(String),
    /// The object was gone by the time the action ran.
    Missing(String),
    /// The executor could not carry it out: why.
    Failed(String),
    DryRun,
    /// `mode approve`, or an action the safety rules hold for a person.
    AwaitingApproval(String),
    Monitored,
    /// Handed to the AI analyzer, which may choose only among the candidates;
    /// what then happens to its choice, by the policy's mode.
    HandedToAi(String),
    /// Held back by `limit`, `cooldown`, or another pod of the same object.
    Blocked(String),
    /// Refused by the safety controller: an action the object's kind does
    /// not allow, or that the safety configuration forbids there.
    Refused(String),
}
