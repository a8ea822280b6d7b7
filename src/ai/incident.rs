//! Labelled incidents for `kubeskippy ai eval` (and the canned one of
//! `ai test`): a case as the operator would build it, plus the action a
//! careful operator would choose. The allowed actions come from a real
//! `ask ai` rule compiled by the checker, so an incident offers exactly what
//! a policy would.
//!
//! ```yaml
//! name: oom-under-load
//! label: set memory_limit = current * 1.5 max 2Gi   # a choice, or none
//! select: pods in shop where app = "checkout"
//! rule: when status is OOMKilled then ask ai among [restart, set memory_limit = current * 1.5 max 2Gi]
//! target: pods/shop/checkout-7d9f-x2k4
//! object: deployments/shop/checkout
//! evidence: ["status is OOMKilled", "memory_percent=97.2% > 90%"]
//! events: [{reason: OOMKilling, message: "…", count: 3, age_seconds: 120}]
//! history: [{action: restart, age_seconds: 1800, outcome: not healed}]
//! restarts: 4
//! ```

use super::case::{allowed_actions, Case, EventNote, PastAction, NONE};
use super::redact::Redactor;
use crate::check;
use crate::ir::Action;
use crate::safety::SafetyConfig;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    name: String,
    label: String,
    #[serde(default)]
    description: Option<String>,
    select: String,
    #[serde(default = "approve")]
    mode: String,
    rule: String,
    target: String,
    object: String,
    #[serde(default)]
    evidence: Vec<String>,
    #[serde(default)]
    events: Vec<EventNote>,
    #[serde(default)]
    history: Vec<PastAction>,
    #[serde(default)]
    restarts: Option<u32>,
    #[serde(default)]
    logs: Vec<String>,
}

fn approve() -> String {
    "approve".into()
}

/// A labelled case.
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    pub name: String,
    pub description: Option<String>,
    /// The choice id a careful operator would take, or `none`.
    pub label: String,
    pub case: Case,
}

#[derive(Debug, thiserror::Error)]
pub enum IncidentError {
    #[error("{0}")]
    Yaml(#[from] serde_yaml::Error),
    #[error("the rule does not compile: {0}")]
    Compile(String),
    #[error("the rule must be an `ask ai` rule (it hands the case to the AI)")]
    NotAskAi,
    #[error("label {label:?} is not one of the allowed actions ({allowed})")]
    Label { label: String, allowed: String },
}

/// Parses an incident file and compiles its rule.
pub fn parse(text: &str, redactor: &Redactor) -> Result<Incident, IncidentError> {
    let file: File = serde_yaml::from_str(text)?;
    let source = format!(
        "policy eval-case {{\n  select {}\n  mode {}\n  cooldown 10m\n  {}\n}}\n",
        file.select, file.mode, file.rule
    );
    let compiled = check::compile(&source, &SafetyConfig::default());
    let errors: Vec<String> = compiled
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| format!("{}: {}", d.code.as_str(), d.message))
        .collect();
    if !errors.is_empty() {
        return Err(IncidentError::Compile(errors.join("; ")));
    }
    let program = compiled.program;
    let rule = program
        .policies
        .first()
        .and_then(|p| p.rules.first())
        .ok_or_else(|| IncidentError::Compile("no rule".into()))?;
    let Action::AskAi(choices) = &rule.action else {
        return Err(IncidentError::NotAskAi);
    };
    let choices = allowed_actions(&program, choices.iter().map(|c| (&c.action, &c.safety)));
    let case = Case {
        policy: file.name.clone(),
        mode: file.mode,
        target: file.target,
        object: file.object,
        rules: vec![super::case::rule_text(&program, rule)],
        evidence: file.evidence,
        events: file.events,
        history: file.history,
        restarts: file.restarts,
        logs: file.logs,
        choices,
        ask_ai: true,
    }
    .redacted(redactor);
    if file.label != NONE && case.choice(&file.label).is_none() {
        return Err(IncidentError::Label {
            label: file.label,
            allowed: case
                .choices
                .iter()
                .map(|c| c.id.as_str())
                .chain([NONE])
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    Ok(Incident {
        name: file.name,
        description: file.description,
        label: file.label,
        case,
    })
}
