//! The AI analyzer: for a case the policy left open (an `Ambiguous`
//! decision: an `ask ai`, or a tie between rules), ask a model which of the
//! allowed actions to take, and check its answer as untrusted input.
//!
//! Invariants:
//! - the model only chooses: its answer is an index into the decision's
//!   candidates or nothing. An answer naming anything else (another action,
//!   target or parameters, a confidence outside 0..1, prose around the JSON)
//!   is rejected with a recorded reason, never repaired into an action;
//! - nothing secret leaves: every string from the cluster is redacted
//!   ([`redact`]) when the [`Case`] is built and again when the prompt is;
//!   text from the cluster is quoted as data, never as instructions;
//! - [`Analyzer::analyze`] never fails and never stalls: a disabled,
//!   unreachable, slow, declining or rejected model gives the deterministic
//!   fallback ([`verdict::fallback`]), and the [`Verdict`] says which and why;
//! - everything here but [`http`] is pure (no I/O, no clock): the prompt,
//!   the schema, redaction, answer validation, the fallback, incident files,
//!   eval scoring and recorded answers build without the `ai` feature.
//!
//! # How the operator calls it
//!
//! ```text
//! Decision::Ambiguous ──Case::from_decision──▶ Case ──analyzer.analyze──▶ Verdict
//!                                                                    │
//!   verdict.candidate() = Some(i) ──▶ act::carry_out_choice(…, &candidates[i].action, …)
//!   verdict.candidate() = None    ──▶ a notification (FallbackChoice::Notify), and close the case
//! ```
//!
//! 1. `act::carry_out` opens the case (the policy does not hand over the same
//!    object again); build the case with [`Case::from_decision`], passing the
//!    target's recent events, the HealingActions on the same object and their
//!    outcomes, and the values of its Secrets and environment as
//!    [`case::Context::secret_values`].
//! 2. Call [`Analyzer::analyze`] off the evaluation loop (a spawned task; it
//!    returns within the configured timeout). Observe `verdict.latency` as
//!    `kubeskippy_ai_analysis_duration_seconds` (by model and origin: the
//!    operator's `metrics`).
//! 3. Carry out `candidates[i]` with `act::carry_out_choice`, so the choice
//!    passes the same safety controller as a rule's action. **An
//!    AI-originated action needs approval by default**, whatever the policy's
//!    mode: a model's self-reported confidence is not evidence (small models
//!    answer 1.0 while choosing badly). A policy or the safety configuration
//!    may let AI choices run on their own above a confidence threshold the
//!    user sets explicitly; there is **no default threshold** (pick one from
//!    `kubeskippy ai eval`'s calibration for that model). A fallback choice
//!    is a rule's choice (LANGUAGE.md §6) and runs under the policy's mode.
//! 4. Record on the HealingAction: `origin` ([`Verdict::origin`]), the model,
//!    the structured-output mode, the confidence and reasoning, or the
//!    fallback's reason ([`verdict::Why`]); AI-originated actions count
//!    against their own rate-limit budget.
//!
//! `simulate` stays deterministic by replaying recorded answers
//! ([`replay::ReplayAnalyzer`]) through the same validation.

pub mod answer;
pub mod case;
pub mod config;
pub mod eval;
#[cfg(feature = "ai")]
pub mod http;
pub mod incident;
pub mod prompt;
pub mod redact;
pub mod replay;
pub mod verdict;
pub mod wire;

#[cfg(test)]
mod eval_tests;
#[cfg(test)]
mod tests;

pub use case::{Case, Context};
pub use config::{AiConfig, ApiKey, BackendKind, ModeSetting, StructuredMode};
pub use verdict::{FallbackChoice, Recommendation, Verdict, VerdictOutcome, Why};

use std::future::Future;
use std::time::Duration;

/// Chooses among a case's allowed actions. Implementations: [`http`]'s
/// analyzer (a model over HTTP), [`replay::ReplayAnalyzer`] (recorded
/// answers, for `simulate`) and [`Disabled`].
pub trait Analyzer {
    /// The verdict for `case`: never an error (a failure is a fallback
    /// verdict that says why), within the analyzer's timeout.
    fn analyze(&self, case: &Case) -> impl Future<Output = Verdict> + Send;
}

/// The analyzer when AI is off: always the deterministic fallback.
#[derive(Debug, Clone, Copy, Default)]
pub struct Disabled;

impl Analyzer for Disabled {
    fn analyze(&self, case: &Case) -> impl Future<Output = Verdict> + Send {
        let verdict = Verdict::failed(case, Why::Disabled, "", Duration::ZERO);
        std::future::ready(verdict)
    }
}
