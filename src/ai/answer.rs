//! A model's answer, parsed strictly and validated against the case. An
//! answer is accepted as it is or rejected with a reason; it is never
//! repaired into an action (no JSON dug out of prose, no action name
//! guessed from a near miss, no parameter clamped into bounds).

use super::case::{Case, NONE};
use super::prompt::{MAX_REASONS, MAX_REASON_CHARS};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// The longest answer read at all, in bytes: a bounded answer with six
/// reasons of 500 characters fits well within it.
pub const MAX_ANSWER_BYTES: usize = 16 * 1024;

/// The answer's shape, as the prompt asks for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    pub action: String,
    pub target: String,
    #[serde(default)]
    pub parameters: Option<Map<String, Value>>,
    pub confidence: Option<f64>,
    #[serde(default)]
    pub reasoning: Vec<String>,
    #[serde(default)]
    pub alternatives: Vec<String>,
}

/// A validated answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Accepted {
    /// Choice `index` of the case.
    Choose {
        index: usize,
        confidence: f64,
        reasoning: Vec<String>,
        alternatives: Vec<String>,
    },
    /// The model declined: no allowed action fits.
    Decline {
        confidence: f64,
        reasoning: Vec<String>,
    },
}

/// Why an answer was rejected. The `code` is stable (metrics, records).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "code", content = "detail", rename_all = "kebab-case")]
pub enum Rejection {
    /// Empty, over [`MAX_ANSWER_BYTES`], or not one JSON object alone.
    NotJson(String),
    /// JSON of another shape (a missing or unknown field, a wrong type).
    Shape(String),
    /// An action that is not one of the allowed ones.
    UnknownAction(String),
    /// A target other than the case's object.
    WrongTarget(String),
    /// Parameters other than those the policy fixed for the chosen action.
    Parameters(String),
    /// No confidence, or one outside 0..1.
    Confidence(String),
    /// More or longer reasoning than asked for.
    TooLong(String),
    /// An alternative that is not an allowed id.
    UnknownAlternative(String),
}

impl Rejection {
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::NotJson(_) => "not-json",
            Rejection::Shape(_) => "shape",
            Rejection::UnknownAction(_) => "unknown-action",
            Rejection::WrongTarget(_) => "wrong-target",
            Rejection::Parameters(_) => "parameters",
            Rejection::Confidence(_) => "confidence",
            Rejection::TooLong(_) => "too-long",
            Rejection::UnknownAlternative(_) => "unknown-alternative",
        }
    }

    fn detail(&self) -> &str {
        match self {
            Rejection::NotJson(d)
            | Rejection::Shape(d)
            | Rejection::UnknownAction(d)
            | Rejection::WrongTarget(d)
            | Rejection::Parameters(d)
            | Rejection::Confidence(d)
            | Rejection::TooLong(d)
            | Rejection::UnknownAlternative(d) => d,
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.detail())
    }
}

/// Parses `text` as exactly one JSON object of the answer's shape.
pub fn parse(text: &str) -> Result<Answer, Rejection> {
    if text.len() > MAX_ANSWER_BYTES {
        return Err(Rejection::NotJson(format!(
            "the answer is {} bytes, over the {MAX_ANSWER_BYTES} read",
            text.len()
        )));
    }
    let trimmed = text.trim();
    if !trimmed.starts_with('{') {
        return Err(Rejection::NotJson(format!(
            "the answer does not start with a JSON object: {}",
            quote(trimmed)
        )));
    }
    // First as any JSON value, so that prose after the object and a wrong
    // shape get different reasons.
    let value: Value = serde_json::from_str(trimmed)
        .map_err(|e| Rejection::NotJson(format!("{e} (answer begins {})", quote(trimmed))))?;
    serde_json::from_value(value).map_err(|e| Rejection::Shape(e.to_string()))
}

/// Validates `answer` against `case`.
pub fn validate(case: &Case, answer: Answer) -> Result<Accepted, Rejection> {
    let confidence = match answer.confidence {
        Some(c) if c.is_finite() && (0.0..=1.0).contains(&c) => c,
        Some(c) => {
            return Err(Rejection::Confidence(format!(
                "confidence {c} is outside 0..1"
            )))
        }
        None => return Err(Rejection::Confidence("no confidence given".into())),
    };
    if answer.reasoning.len() > MAX_REASONS {
        return Err(Rejection::TooLong(format!(
            "{} reasoning items, at most {MAX_REASONS}",
            answer.reasoning.len()
        )));
    }
    if let Some(long) = answer
        .reasoning
        .iter()
        .find(|r| r.chars().count() > MAX_REASON_CHARS)
    {
        return Err(Rejection::TooLong(format!(
            "a reasoning item of {} characters, at most {MAX_REASON_CHARS}",
            long.chars().count()
        )));
    }
    if answer.target != case.object {
        return Err(Rejection::WrongTarget(format!(
            "target {} is not the case's object {}",
            quote(&answer.target),
            case.object
        )));
    }
    if let Some(other) = answer
        .alternatives
        .iter()
        .find(|a| a.as_str() != NONE && case.choice(a).is_none())
    {
        return Err(Rejection::UnknownAlternative(format!(
            "alternative {} is not an allowed action",
            quote(other)
        )));
    }
    if answer.action == NONE {
        if answer.parameters.as_ref().is_some_and(|p| !p.is_empty()) {
            return Err(Rejection::Parameters("\"none\" takes no parameters".into()));
        }
        return Ok(Accepted::Decline {
            confidence,
            reasoning: answer.reasoning,
        });
    }
    let Some(index) = case.choice(&answer.action) else {
        return Err(Rejection::UnknownAction(format!(
            "{} is not one of the allowed actions ({})",
            quote(&answer.action),
            case.choices
                .iter()
                .map(|c| c.id.as_str())
                .chain([NONE])
                .collect::<Vec<_>>()
                .join(", ")
        )));
    };
    let allowed = &case.choices[index].parameters;
    if let Some(given) = answer.parameters.as_ref().filter(|p| !p.is_empty()) {
        if !same_parameters(given, allowed) {
            return Err(Rejection::Parameters(format!(
                "parameters {} differ from those the policy fixed for {}: {}",
                Value::Object(given.clone()),
                answer.action,
                Value::Object(allowed.clone())
            )));
        }
    }
    Ok(Accepted::Choose {
        index,
        confidence,
        reasoning: answer.reasoning,
        alternatives: answer.alternatives,
    })
}

/// Whether the answer's parameters are the policy's: the same keys with the
/// same values, a number equal to the number (`1` and `1.0` alike).
fn same_parameters(given: &Map<String, Value>, allowed: &Map<String, Value>) -> bool {
    given.len() == allowed.len()
        && given.iter().all(|(k, v)| {
            allowed.get(k).is_some_and(|a| match (v, a) {
                (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
                _ => v == a,
            })
        })
}

/// Parses and validates in one step.
pub fn judge(case: &Case, text: &str) -> Result<Accepted, Rejection> {
    validate(case, parse(text)?)
}

/// A short, quoted excerpt of model output for a reason (an answer can be
/// huge; a reason stays readable).
fn quote(text: &str) -> String {
    format!("{:?}", super::case::cut(text, 80))
}
