//! A case for the AI: what an `Ambiguous` decision is about, in words a
//! model reads, with the exact actions it may choose. Built once from the
//! decision, the program and what the operator knows of the target's recent
//! past; everything from the cluster is redacted on the way in.
//!
//! Invariant: `choices[i]` is the decision's `candidates[i]`, so an answer
//! naming choice `i` maps back to exactly one candidate and nothing else.

use super::redact::Redactor;
use crate::engine::evidence;
use crate::engine::Decision;
use crate::ir::{Action, LimitValue, Program, Rule, SafetyClass, Scale, Type};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// The id of the choice that declines: no allowed action fits.
pub const NONE: &str = "none";

/// At most this many events, past actions and log lines go into a case: a
/// prompt has to fit a small model's context, and the most recent say most.
pub const MAX_ITEMS: usize = 12;
/// At most this many characters of one message from the cluster.
pub const MAX_MESSAGE: usize = 400;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// The policy's name.
    pub policy: String,
    /// The policy's mode (`auto`, `approve`, …), for the model's context.
    pub mode: String,
    /// What the policy selected: `pods/shop/checkout-7d9f`.
    pub target: String,
    /// What the case is about and every choice lands on (for a pod, often
    /// its Deployment): the only target an answer may name.
    pub object: String,
    /// The rules that handed over the case, as the policy writes them.
    pub rules: Vec<String>,
    /// What the engine saw, in words: `memory_percent=97% > 90%`.
    pub evidence: Vec<String>,
    #[serde(default)]
    pub events: Vec<EventNote>,
    /// Recent actions on the same object and what came of them.
    #[serde(default)]
    pub history: Vec<PastAction>,
    #[serde(default)]
    pub restarts: Option<u32>,
    /// Recent log lines of the target, if the operator collected any.
    #[serde(default)]
    pub logs: Vec<String>,
    /// The actions the policy allows here, in the decision's order.
    pub choices: Vec<AllowedAction>,
    /// Whether the case comes from an `ask ai` (rather than a tie between
    /// rules): with no safe default, its fallback is a notification.
    #[serde(default)]
    pub ask_ai: bool,
}

/// A Kubernetes event on the target, as the operator saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventNote {
    pub reason: String,
    #[serde(default)]
    pub message: String,
    #[serde(default = "one")]
    pub count: u32,
    /// How long ago it last happened, in seconds.
    #[serde(default)]
    pub age_seconds: u64,
}

fn one() -> u32 {
    1
}

/// An action taken on the object before, and what came of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PastAction {
    /// As the policy writes it: `restart rolling`.
    pub action: String,
    /// How long ago, in seconds.
    pub age_seconds: u64,
    /// `healed`, `not healed`, `failed: …`, `awaiting approval`, …
    pub outcome: String,
    /// `rule` or `ai`.
    #[serde(default)]
    pub origin: Option<String>,
}

/// One action the model may choose.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowedAction {
    /// What the model answers to choose it: the action as the policy writes
    /// it (`scale up 1 max 6`), unique within the case.
    pub id: String,
    /// The catalog's name (`scale up`).
    pub name: String,
    /// The action's parameters as the policy fixed them. The model chooses
    /// an action; it never tunes one, so an answer's parameters must be
    /// these or absent.
    #[serde(default)]
    pub parameters: Map<String, Value>,
    /// 0 changes nothing; higher is more disruptive (the catalog's rank).
    pub disruption: u8,
    /// Whether the safety rules let it run without a person's approval.
    pub auto: bool,
}

/// What the operator knows of the target beyond the decision: the raw
/// material of a case, before redaction.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub events: Vec<EventNote>,
    pub history: Vec<PastAction>,
    pub restarts: Option<u32>,
    pub logs: Vec<String>,
    /// Values that must never reach a model: the target's Secret data and
    /// environment values, as far as the operator read them.
    pub secret_values: Vec<String>,
}

/// Why a decision makes no case.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CaseError {
    #[error("only an ambiguous decision goes to the AI analyzer")]
    NotAmbiguous,
    #[error("the decision's policy {0} is not in the program")]
    NoPolicy(usize),
    #[error("the case has no candidate actions")]
    NoCandidates,
}

impl Case {
    /// The case of an `Ambiguous` decision of `program`, with `context`
    /// redacted by `redactor` (extended with the context's secret values).
    pub fn from_decision(
        program: &Program,
        decision: &Decision,
        context: &Context,
        redactor: &Redactor,
    ) -> Result<Case, CaseError> {
        let Decision::Ambiguous {
            policy,
            policy_index,
            rules,
            target,
            candidates,
            object,
            evidence: seen,
            ..
        } = decision
        else {
            return Err(CaseError::NotAmbiguous);
        };
        let ir_policy = program
            .policies
            .get(*policy_index)
            .ok_or(CaseError::NoPolicy(*policy_index))?;
        if candidates.is_empty() {
            return Err(CaseError::NoCandidates);
        }
        let rules_of: Vec<&Rule> = rules
            .iter()
            .filter_map(|r| ir_policy.rules.get(*r))
            .collect();
        let ask_ai = rules_of
            .iter()
            .any(|r| matches!(r.action, Action::AskAi(_)));
        let redactor = redactor
            .clone()
            .with_values(context.secret_values.iter().cloned());
        let choices = allowed_actions(program, candidates.iter().map(|c| (&c.action, &c.safety)));
        let case = Case {
            policy: policy.clone(),
            mode: ir_policy.mode.keyword().to_string(),
            target: target.to_string(),
            object: object.to_string(),
            rules: rules_of.iter().map(|r| rule_text(program, r)).collect(),
            evidence: evidence::render(seen),
            events: context.events.clone(),
            history: context.history.clone(),
            restarts: context.restarts,
            logs: context.logs.clone(),
            choices,
            ask_ai,
        };
        Ok(case.redacted(&redactor))
    }

    /// The case with every string from the cluster redacted and cut to size:
    /// messages, logs, outcomes, evidence. Names of objects and the policy's
    /// own text stay (the model needs them, and they are no secrets).
    pub fn redacted(mut self, redactor: &Redactor) -> Case {
        let clean = |s: &str| cut(&redactor.redact(s), MAX_MESSAGE);
        self.evidence = self.evidence.iter().map(|e| clean(e)).collect();
        self.events = last(self.events);
        for event in &mut self.events {
            event.reason = clean(&event.reason);
            event.message = clean(&event.message);
        }
        self.history = last(self.history);
        for past in &mut self.history {
            past.outcome = clean(&past.outcome);
        }
        self.logs = last(self.logs).iter().map(|l| clean(l)).collect();
        self
    }

    /// The index of the choice whose id is `id`.
    pub fn choice(&self, id: &str) -> Option<usize> {
        self.choices.iter().position(|c| c.id == id)
    }
}

/// The last [`MAX_ITEMS`] of `items` (the most recent, as the operator
/// lists them oldest first).
fn last<T>(mut items: Vec<T>) -> Vec<T> {
    if items.len() > MAX_ITEMS {
        items.drain(..items.len() - MAX_ITEMS);
    }
    items
}

/// `text` cut to at most `max` characters, on a character boundary.
pub(crate) fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// A rule as a policy writes it: `when … for 5m then ask ai among […]`.
pub fn rule_text(program: &Program, rule: &Rule) -> String {
    let hold = rule
        .hold
        .map(|h| format!(" for {}", h.spelled()))
        .unwrap_or_default();
    format!(
        "when {}{hold} then {}",
        program.render_condition(&rule.condition),
        program.render_action(&rule.action)
    )
}

/// The choices for `actions`, in order, with unique ids.
pub fn allowed_actions<'a>(
    program: &Program,
    actions: impl IntoIterator<Item = (&'a Action, &'a SafetyClass)>,
) -> Vec<AllowedAction> {
    let mut out: Vec<AllowedAction> = Vec::new();
    for (action, safety) in actions {
        let mut id = program.render_action(action);
        // Candidates are distinct actions, so their texts differ; a damaged
        // program could still render two as `patch ?`: keep ids unique so
        // that an answer never names two choices.
        if id == NONE || out.iter().any(|c| c.id == id) {
            let base = id.clone();
            let mut n = 2;
            while id == NONE || out.iter().any(|c| c.id == id) {
                id = format!("{base} #{n}");
                n += 1;
            }
        }
        out.push(AllowedAction {
            id,
            name: action.catalog_name().to_string(),
            parameters: parameters(program, action),
            disruption: action.disruption(),
            auto: *safety == SafetyClass::Auto,
        });
    }
    out
}

/// An action's parameters as JSON, as the policy fixed them.
fn parameters(program: &Program, action: &Action) -> Map<String, Value> {
    let value = match action {
        Action::Scale(Scale::Up { by, max }) => json!({"by": by, "max": max}),
        Action::Scale(Scale::Down { by, min }) => json!({"by": by, "min": min}),
        Action::Scale(Scale::To { replicas }) => json!({ "replicas": replicas }),
        Action::Patch(id) => json!({"patch": program.patch(*id).map(|p| p.name.clone())}),
        Action::SetLimit {
            resource,
            value,
            max,
        } => {
            let unit = Type::Scalar(resource.unit());
            let value = match value {
                LimitValue::Absolute(v) => crate::ir::render_value(*v, unit),
                LimitValue::Factor(f) => format!("current * {f}"),
            };
            json!({
                "resource": resource.keyword(),
                "value": value,
                "max": max.map(|m| crate::ir::render_value(m, unit)),
            })
        }
        Action::Notify(text) => json!({ "message": text }),
        _ => json!({}),
    };
    match value {
        Value::Object(map) => map.into_iter().filter(|(_, v)| !v.is_null()).collect(),
        _ => Map::new(),
    }
}
