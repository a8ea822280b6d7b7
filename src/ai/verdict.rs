//! What the analyzer returns for a case: the AI's validated choice, or the
//! deterministic fallback and why the AI's answer was not used. Always a
//! value the operator can record; never an error.

use super::answer::{Accepted, Rejection};
use super::case::Case;
use super::config::StructuredMode;
use serde::Serialize;
use std::time::Duration;

/// The analyzer's answer to one case.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// What to do: the AI's choice or the fallback.
    pub outcome: VerdictOutcome,
    /// The model asked (empty when none was: AI disabled).
    pub model: String,
    /// The structured-output mode the answer came with, if one came.
    pub mode: Option<StructuredMode>,
    /// From sending the request to judging the answer (zero when no model
    /// was asked).
    #[serde(rename = "latency_ms", with = "millis")]
    pub latency: Duration,
    /// The model's raw answer, cut to 2000 characters, for the record and
    /// for replay in `simulate`.
    pub raw: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "origin", rename_all = "kebab-case")]
pub enum VerdictOutcome {
    /// The AI chose an allowed action, and the answer passed validation.
    Ai(Recommendation),
    /// The AI's answer was not used: `why`, and what was chosen instead.
    Fallback { why: Why, choice: FallbackChoice },
}

/// A validated choice of the AI.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommendation {
    /// Index into the case's choices (= the decision's candidates).
    pub choice: usize,
    /// The choice's id, for people: `scale up 1 max 6`.
    pub action: String,
    /// The model's own confidence: not evidence on its own (see
    /// `ai eval`'s calibration).
    pub confidence: f64,
    pub reasoning: Vec<String>,
    pub alternatives: Vec<String>,
}

/// Why the fallback was taken.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "reason", content = "detail", rename_all = "kebab-case")]
pub enum Why {
    /// No analyzer is configured.
    Disabled,
    /// The endpoint could not be reached or answered with an error.
    Unreachable(String),
    /// No answer within the call's timeout (or no free slot in time).
    TimedOut(String),
    /// The model answered `none`.
    Declined {
        confidence: f64,
        reasoning: Vec<String>,
    },
    /// The answer failed parsing or validation.
    Rejected(Rejection),
}

impl Why {
    /// A stable word for metrics and records.
    pub fn code(&self) -> &'static str {
        match self {
            Why::Disabled => "disabled",
            Why::Unreachable(_) => "unreachable",
            Why::TimedOut(_) => "timed-out",
            Why::Declined { .. } => "declined",
            Why::Rejected(_) => "rejected",
        }
    }
}

impl std::fmt::Display for Why {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Why::Disabled => f.write_str("the AI analyzer is disabled"),
            Why::Unreachable(e) => write!(f, "the AI endpoint failed: {e}"),
            Why::TimedOut(e) => write!(f, "the AI timed out: {e}"),
            Why::Declined { .. } => f.write_str("the AI declined: no allowed action fits"),
            Why::Rejected(r) => write!(f, "the AI's answer was rejected ({r})"),
        }
    }
}

/// The deterministic choice when the AI's is not used.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum FallbackChoice {
    /// Choice `index` of the case: the least disruptive candidate.
    Candidate { choice: usize, action: String },
    /// Tell people instead of acting: an `ask ai` whose least disruptive
    /// choice still needs approval has no safe default. The operator records
    /// a notification (a Kubernetes Event), not a candidate.
    Notify { message: String },
}

/// The deterministic choice for `case` (LANGUAGE.md §6): the least
/// disruptive candidate, the first of equals. For an `ask ai`, that
/// candidate is a safe default only if it changes the workload in place at
/// most as much as a rolling restart does (no capacity removed, no revision
/// reverted, no node touched: [`safe_default_limit`]); otherwise a person is
/// notified instead. The mode still applies to a fallback: in `approve` it
/// waits for a person like any other action.
pub fn fallback(case: &Case, why: &Why) -> FallbackChoice {
    let least = case
        .choices
        .iter()
        .enumerate()
        .min_by_key(|(i, c)| (c.disruption, *i));
    match least {
        Some((i, c)) if !case.ask_ai || c.disruption <= safe_default_limit() => {
            FallbackChoice::Candidate {
                choice: i,
                action: c.id.clone(),
            }
        }
        _ => FallbackChoice::Notify {
            message: format!(
                "{}: {} on {}, and no allowed action is a safe default; a person should look",
                case.policy, why, case.object
            ),
        },
    }
}

/// The most disruptive action an `ask ai` falls back to on its own: a
/// rolling restart, by the catalog's rank.
pub fn safe_default_limit() -> u8 {
    crate::ir::Action::Restart(crate::ir::RestartMode::Rolling).disruption()
}

impl Verdict {
    /// The verdict of an answer judged for `case`.
    pub fn judged(
        case: &Case,
        judged: Result<Accepted, Rejection>,
        model: &str,
        mode: Option<StructuredMode>,
        latency: Duration,
        raw: Option<&str>,
    ) -> Verdict {
        let outcome = match judged {
            Ok(Accepted::Choose {
                index,
                confidence,
                reasoning,
                alternatives,
            }) => VerdictOutcome::Ai(Recommendation {
                choice: index,
                action: case
                    .choices
                    .get(index)
                    .map(|c| c.id.clone())
                    .unwrap_or_default(),
                confidence,
                reasoning,
                alternatives,
            }),
            Ok(Accepted::Decline {
                confidence,
                reasoning,
            }) => {
                let why = Why::Declined {
                    confidence,
                    reasoning,
                };
                VerdictOutcome::Fallback {
                    choice: fallback(case, &why),
                    why,
                }
            }
            Err(rejection) => {
                let why = Why::Rejected(rejection);
                VerdictOutcome::Fallback {
                    choice: fallback(case, &why),
                    why,
                }
            }
        };
        Verdict {
            outcome,
            model: model.to_string(),
            mode,
            latency,
            raw: raw.map(|r| super::case::cut(r, 2000)),
        }
    }

    /// The fallback verdict for `case` when no answer came.
    pub fn failed(case: &Case, why: Why, model: &str, latency: Duration) -> Verdict {
        Verdict {
            outcome: VerdictOutcome::Fallback {
                choice: fallback(case, &why),
                why,
            },
            model: model.to_string(),
            mode: None,
            latency,
            raw: None,
        }
    }

    /// The candidate to carry out (index into the decision's candidates),
    /// whoever chose it; `None` for a notification.
    pub fn candidate(&self) -> Option<usize> {
        match &self.outcome {
            VerdictOutcome::Ai(r) => Some(r.choice),
            VerdictOutcome::Fallback {
                choice: FallbackChoice::Candidate { choice, .. },
                ..
            } => Some(*choice),
            VerdictOutcome::Fallback { .. } => None,
        }
    }

    /// `ai` when the AI chose, `fallback` otherwise: the HealingAction's
    /// origin.
    pub fn origin(&self) -> &'static str {
        match self.outcome {
            VerdictOutcome::Ai(_) => "ai",
            VerdictOutcome::Fallback { .. } => "fallback",
        }
    }

    /// The AI's confidence, when the AI chose.
    pub fn confidence(&self) -> Option<f64> {
        match &self.outcome {
            VerdictOutcome::Ai(r) => Some(r.confidence),
            VerdictOutcome::Fallback { .. } => None,
        }
    }
}

mod millis {
    use serde::Serializer;
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}
