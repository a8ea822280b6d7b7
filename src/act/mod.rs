//! Carrying out what the engine decided: the one step `simulate`, `test` and
//! the operator share after `evaluate`. Each decision passes the safety
//! controller ([`safety::admit`]) under its policy's mode, goes to an
//! [`Executor`] if admitted, and what was carried out (or recorded as a dry
//! run) is committed to the engine's state, which is all that `limit` and
//! `cooldown` count.
//!
//! Executors: the simulated world (`sim::World`), the policy unit tests'
//! recorder, and the Kubernetes executors of the operator. The trait is
//! async because Kubernetes is; the simulated ones answer at once, and
//! [`now_or_never`] runs them without a runtime.

#[cfg(feature = "operator")]
pub mod claims_and_jobs;
#[cfg(feature = "operator")]
pub mod cluster;
mod outcome;
pub mod quantity;
#[cfg(feature = "operator")]
pub mod template;
#[cfg(feature = "operator")]
pub mod webhooks;

pub use outcome::Outcome;

use crate::engine::observation::TargetId;
use crate::engine::state::{Charge, Ledger, State};
use crate::engine::Decision;
use crate::ir::{Action, Mode, Program, SafetyClass};
use crate::safety::{self, Admission, Proposal, SafetyConfig};
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

/// An admitted action, as an executor receives it.
#[derive(Debug, Clone, Copy)]
pub struct Order<'a> {
    pub program: &'a Program,
    pub action: &'a Action,
    /// What it lands on.
    pub object: &'a TargetId,
    /// What the policy selected (a pod whose owner is `object`).
    pub target: &'a TargetId,
    pub at: i64,
    /// The caller's number for the record it keeps of this action (the
    /// simulator's timeline entry), for an executor that credits effects.
    pub ordinal: usize,
}

/// What an executor did.
#[derive(Debug, Clone, PartialEq)]
pub enum Executed {
    /// Carried out: what it did, for the record.
    Done(String),
    /// The object is gone (replaced or scaled away since the decision).
    Missing,
    /// It could not be carried out: why.
    Failed(String),
    /// It was sent but not confirmed in time: it may have taken effect in
    /// part or in full. The record fails with why, but it is charged as if
    /// done, so that `cooldown` and `limit` hold the next try back rather
    /// than repeat an action the server may be carrying out.
    TimedOut(String),
}

impl Executed {
    /// Whether it spends `limit` and `cooldown`: what was done, and what may
    /// have been (a request not confirmed in time), but not what failed or
    /// found its object gone.
    pub fn is_charged(&self) -> bool {
        matches!(self, Executed::Done(_) | Executed::TimedOut(_))
    }
}

/// Carries out admitted actions on the cluster, real or simulated.
pub trait Executor {
    fn execute(&mut self, order: Order<'_>) -> impl Future<Output = Executed> + Send;
}

/// What one decision led to, with its admission (none for a block or an AI
/// case, which the safety controller does not see as such).
#[derive(Debug, Clone, PartialEq)]
pub struct Carried {
    pub admission: Option<Admission>,
    pub outcome: Outcome,
}

/// Passes `decision` through the safety controller and, if admitted, to
/// `executor`; commits to `state` what was carried out or recorded.
pub async fn carry_out<E: Executor>(
    program: &Program,
    config: &SafetyConfig,
    state: &mut State,
    executor: &mut E,
    decision: &Decision,
    now: i64,
    ordinal: usize,
) -> Carried {
    let Some(policy) = program.policies.get(decision.policy_index()) else {
        return Carried {
            admission: None,
            outcome: Outcome::Refused("the policy is not in the program".into()),
        };
    };
    match decision {
        Decision::Act {
            action,
            safety,
            object,
            owner,
            target,
            ..
        } => {
            let step = Step {
                program,
                config,
                policy_index: decision.policy_index(),
                mode: policy.mode,
                target,
                owner: owner.as_ref(),
                now,
                ordinal,
            };
            step.run(state, executor, action, safety, object).await
        }
        Decision::Ambiguous { object, .. } => {
            // The case stays open until the analyzer answers: the policy
            // does not hand over the same object again meanwhile.
            state.open(
                decision.policy_index(),
                Charge {
                    object: object.clone(),
                    at: now,
                    ledger: Ledger::Actions,
                },
            );
            Carried {
                admission: None,
                outcome: Outcome::HandedToAi(
                    match policy.mode {
                        Mode::Auto => "its choice then runs",
                        Mode::DryRun => "its choice is then recorded as a dry run",
                        Mode::Approve => "its choice then waits for approval",
                        Mode::Monitor => "its choice is then recorded only",
                    }
                    .into(),
                ),
            }
        }
        Decision::Blocked { by, .. } => Carried {
            admission: None,
            outcome: Outcome::Blocked(by.as_str().into()),
        },
    }
}

/// Ends the case `decision` (an `Ambiguous` one) without an action: in a
/// notice (no safe default, the model chose none, or it chose `notify`),
/// or with its choice held by a guard. Its request closes, and the case is
/// spent from the policy's [`Ledger::Cases`], so that its `cooldown` paces
/// the next case on the object instead of the model being asked every
/// cycle.
pub fn end_without_action(state: &mut State, decision: &Decision, now: i64) {
    let Decision::Ambiguous {
        policy_index,
        object,
        ..
    } = decision
    else {
        return;
    };
    state.close(*policy_index, object, Ledger::Actions);
    state.commit(
        *policy_index,
        Charge {
            object: object.clone(),
            at: now,
            ledger: Ledger::Cases,
        },
    );
}

/// Carries out the candidate the AI analyzer chose for the case `decision`
/// (an `Ambiguous` one), as a rule's action is: the safety controller, the
/// executor, and the charge to the object the choice lands on. The case is
/// closed whatever comes of it. A choice that is not one of the case's
/// candidates is refused: the analyzer may only choose among them.
#[allow(clippy::too_many_arguments)]
pub async fn carry_out_choice<E: Executor>(
    program: &Program,
    config: &SafetyConfig,
    state: &mut State,
    executor: &mut E,
    decision: &Decision,
    chosen: &Action,
    now: i64,
    ordinal: usize,
) -> Carried {
    let Decision::Ambiguous {
        policy_index,
        target,
        owner,
        candidates,
        object: case,
        ..
    } = decision
    else {
        return Carried {
            admission: None,
            outcome: Outcome::Refused("not a case for the AI".into()),
        };
    };
    state.close(*policy_index, case, Ledger::Actions);
    let (Some(policy), Some(candidate)) = (
        program.policies.get(*policy_index),
        candidates.iter().find(|c| c.action == *chosen),
    ) else {
        return Carried {
            admission: None,
            outcome: Outcome::Refused("the choice is not one of the case's candidates".into()),
        };
    };
    let step = Step {
        program,
        config,
        policy_index: *policy_index,
        mode: policy.mode,
        target,
        owner: owner.as_ref(),
        now,
        ordinal,
    };
    let carried = step
        .run(
            state,
            executor,
            &candidate.action,
            &candidate.safety,
            &candidate.object,
        )
        .await;
    // A notice sent is what the case ended in; an action spent its own.
    if Ledger::of(chosen) == Ledger::Notifications
        && matches!(carried.outcome, Outcome::Done(_) | Outcome::DryRun)
    {
        end_without_action(state, decision, now);
    }
    carried
}

/// One action of one policy on one target, on its way to the cluster.
struct Step<'a> {
    program: &'a Program,
    config: &'a SafetyConfig,
    policy_index: usize,
    mode: Mode,
    target: &'a TargetId,
    owner: Option<&'a TargetId>,
    now: i64,
    ordinal: usize,
}

impl Step<'_> {
    async fn run<E: Executor>(
        &self,
        state: &mut State,
        executor: &mut E,
        action: &Action,
        safety: &SafetyClass,
        object: &TargetId,
    ) -> Carried {
        let target = self.target;
        let admission = safety::admit(
            &Proposal {
                mode: self.mode,
                action,
                safety,
                object,
                owner: self.owner.filter(|_| object == target),
            },
            self.config,
        );
        // The outcome, and whether it spends the budget: what the executor
        // did says; a dry run and a monitored decision spend it as if
        // carried out.
        let (outcome, charged) = match &admission {
            Admission::Refuse(why) => (Outcome::Refused(why.clone()), false),
            Admission::AwaitApproval(why) => (Outcome::AwaitingApproval(why.clone()), false),
            Admission::DryRun => (Outcome::DryRun, true),
            Admission::Monitor => (Outcome::Monitored, true),
            Admission::Execute => {
                let order = Order {
                    program: self.program,
                    action,
                    object,
                    target,
                    at: self.now,
                    ordinal: self.ordinal,
                };
                let executed = executor.execute(order).await;
                let charged = executed.is_charged();
                let outcome = match executed {
                    Executed::Done(what) if object == target => Outcome::Done(what),
                    Executed::Done(what) => Outcome::Done(format!("{object}: {what}")),
                    Executed::Missing => Outcome::Missing(format!("{object} is gone")),
                    Executed::Failed(why) | Executed::TimedOut(why) => Outcome::Failed(why),
                };
                (outcome, charged)
            }
        };
        let charge = Charge {
            object: object.clone(),
            at: self.now,
            ledger: Ledger::of(action),
        };
        if charged {
            state.commit(self.policy_index, charge);
        } else if matches!(outcome, Outcome::AwaitingApproval(_)) {
            state.open(self.policy_index, charge);
        }
        Carried {
            admission: Some(admission),
            outcome,
        }
    }
}

/// The output of a future that is ready at its first poll (the simulated
/// executors'), or `None` if it is not: such a future needs a runtime.
pub fn now_or_never<F: Future>(future: F) -> Option<F::Output> {
    let mut context = Context::from_waker(Waker::noop());
    match pin!(future).poll(&mut context) {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}
