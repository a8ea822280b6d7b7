//! Cases the policy left open (an `ask ai`, a tie), from their record to
//! what came of them: the analyzer runs off the evaluation loop (a slow or
//! dead model never stalls it), and its verdict comes back to the loop,
//! which carries the choice through the same guards and safety controller
//! as a rule's action.
//!
//! An AI-originated choice waits for a person unless the safety
//! configuration sets `aiAutoApproveConfidence` and the model's confidence
//! reaches it; a fallback choice (AI disabled, unreachable, timed out,
//! declined or rejected) runs under the policy's mode, as a rule's would.

use super::crd::{ActionPhase, AiChoice, HealingAction, HealingActionStatus, ObjectRef};
use super::evaluation::{Loop, Work};
use super::recent::Recent;
use super::registry::Entry;
use crate::act::{carry_out_choice, Outcome};
use crate::ai::case::{Context as CaseContext, EventNote, PastAction};
use crate::ai::http::HttpAnalyzer;
use crate::ai::redact::Redactor;
use crate::ai::{Analyzer, Case, FallbackChoice, Verdict, VerdictOutcome};
use crate::engine::Decision;
use crate::observe::objects::seconds;
use crate::safety::{guard, Situation};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::runtime::events::EventType;
use kube::{Api, ResourceExt};
use std::sync::Arc;
use tokio::sync::mpsc;

/// The analyzer the operator asks: a model over HTTP, or none (every case
/// gets the deterministic fallback).
#[derive(Clone)]
pub enum Analysis {
    Disabled,
    Http(HttpAnalyzer),
}

impl Analysis {
    async fn analyze(&self, case: &Case) -> Verdict {
        match self {
            Analysis::Disabled => crate::ai::Disabled.analyze(case).await,
            Analysis::Http(http) => http.analyze(case).await,
        }
    }
}

/// A verdict on its way back to the loop, with what it is about.
pub struct Answered {
    /// The term of the lead it was asked in.
    pub term: super::leader::Leading,
    pub uid: String,
    pub program_hash: String,
    pub namespace: String,
    pub record: String,
    pub decision: Decision,
    pub verdict: Verdict,
}

/// Asks the analyzer about `decision`, whose record is `record` in
/// `namespace`, on a task of its own; the verdict arrives on `answers`.
/// Whether it was asked.
pub fn ask(
    context: &Loop,
    entry: &Entry,
    decision: &Decision,
    (namespace, record): (&str, &str),
    target: Option<&crate::engine::observation::Target>,
    recent: &[Arc<HealingAction>],
    now: i64,
) -> bool {
    let Decision::Ambiguous { object, .. } = decision else {
        return false;
    };
    let history = recent
        .iter()
        .filter(|r| r.spec.object.target_id().as_ref() == Some(object))
        .map(|r| PastAction {
            action: r.spec.action.text.clone(),
            age_seconds: u64::try_from(now.saturating_sub(seconds(&r.spec.firing_since)))
                .unwrap_or(0),
            outcome: r
                .status
                .as_ref()
                .and_then(|s| s.message.clone())
                .unwrap_or_default(),
            origin: r
                .status
                .as_ref()
                .and_then(|s| s.ai.as_ref())
                .map(|a| a.origin.clone()),
        })
        .collect();
    // The target's recent events and restarts, as the engine sees them.
    let events = target
        .map(|t| {
            let mut by_reason: std::collections::BTreeMap<&str, (u32, i64)> = Default::default();
            for event in &t.events {
                let seen = by_reason.entry(event.reason.as_str()).or_default();
                seen.0 = seen.0.saturating_add(event.count);
                seen.1 = seen.1.max(event.at);
            }
            by_reason
                .into_iter()
                .map(|(reason, (count, at))| EventNote {
                    reason: reason.to_string(),
                    message: String::new(),
                    count,
                    age_seconds: u64::try_from(now.saturating_sub(at)).unwrap_or(0),
                })
                .collect()
        })
        .unwrap_or_default();
    let restarts = target
        .and_then(|t| t.metrics.get("restarts"))
        .and_then(|s| s.samples().last())
        .map(|s| s.value.max(0.0) as u32);
    let case_context = CaseContext {
        history,
        events,
        restarts,
        ..CaseContext::default()
    };
    // The built-in patterns; the HTTP analyzer redacts again with the
    // configured ones before anything leaves.
    let case = Redactor::new(&[])
        .map_err(|e| e.to_string())
        .and_then(|redactor| {
            Case::from_decision(&entry.program, decision, &case_context, &redactor)
                .map_err(|e| e.to_string())
        });
    let case = match case {
        Ok(case) => case,
        Err(error) => {
            tracing::warn!(%error, record, "cannot build the AI's case");
            return false;
        }
    };
    let answered = Answered {
        term: *context.leading.borrow(),
        uid: entry.uid.clone(),
        program_hash: entry.program_hash.clone(),
        namespace: namespace.to_string(),
        record: record.to_string(),
        decision: decision.clone(),
        verdict: crate::ai::Verdict::failed(
            &case,
            crate::ai::Why::Disabled,
            "",
            std::time::Duration::ZERO,
        ),
    };
    let analysis = context.analysis.clone();
    let answers = context.answers.clone();
    tokio::spawn(async move {
        let verdict = analysis.analyze(&case).await;
        let _ = answers
            .send(Answered {
                verdict,
                ..answered
            })
            .await;
    });
    true
}

/// Where verdicts come back.
pub type Answers = mpsc::Receiver<Answered>;

/// Carries out (or holds, or turns into a notification) what the analyzer
/// answered, and writes it on the case's record.
pub(super) async fn decided(context: &Loop, work: &mut Work, answered: Answered) {
    let Answered {
        uid,
        program_hash,
        namespace,
        record,
        decision,
        verdict,
        ..
    } = answered;
    work.asking.remove(&record);
    let metrics = &super::metrics::METRICS;
    metrics
        .ai_seconds
        .get_or_create(&super::metrics::AiLabels {
            model: verdict.model.clone(),
            origin: verdict.origin().into(),
        })
        .observe(verdict.latency.as_secs_f64());
    if let Some(confidence) = verdict.confidence() {
        metrics.ai_confidence.observe(confidence);
    }
    let now = k8s_openapi::jiff::Timestamp::now().as_second();
    let mut ai = ai_choice(&verdict);
    let Decision::Ambiguous {
        candidates, target, ..
    } = &decision
    else {
        return;
    };
    let entry = context
        .registry
        .get(&uid)
        .filter(|e| e.program_hash == program_hash);
    let status = match (entry, verdict.candidate().and_then(|i| candidates.get(i))) {
        (None, _) => status(
            ActionPhase::Failed,
            "the policy changed or is gone since the case was handed over".into(),
            ai,
        ),
        (Some(entry), None) => {
            context.registry.with_state(&entry.uid, |s| {
                crate::act::end_without_action(s, &decision, now)
            });
            let message = match &verdict.outcome {
                VerdictOutcome::Fallback {
                    choice: FallbackChoice::Notify { message },
                    ..
                } => message.clone(),
                _ => "no allowed action was chosen".into(),
            };
            status(ActionPhase::Succeeded, format!("notified: {message}"), ai)
        }
        (Some(entry), Some(chosen)) => {
            ai.choice = Some(entry.program.render_action(&chosen.action));
            ai.action = serde_json::to_string(&chosen.action).ok();
            ai.object = Some(ObjectRef::of(&chosen.object));
            let by_ai = verdict.origin() == "ai";
            let records = context.observers.records();
            let observations =
                crate::observe::peek(&context.observers.cluster(), &mut work.history, now);
            let recent = Recent::gather(&records, &observations, context.observers.autoscaled());
            let history = recent.policy(&entry.uid);
            let owner = observations
                .targets
                .iter()
                .find(|t| &t.id == target)
                .and_then(|t| t.owner.clone());
            let workload = match &owner {
                Some(owner) => recent.workload(owner, Some(target.name.as_str())),
                None => recent.workload(&chosen.object, None),
            };
            let guarded = guard(
                &Situation {
                    action: &chosen.action,
                    object: &chosen.object,
                    by_ai,
                    recent: &history,
                    workload: workload.as_ref(),
                    autoscaler: recent.autoscalers.get(&chosen.object).map(String::as_str),
                    now,
                },
                &context.safety,
            );
            let threshold = context.safety.ai_auto_approve_confidence;
            let trusted = verdict
                .confidence()
                .zip(threshold)
                .is_some_and(|(c, t)| c >= t);
            if let Some(held) = guarded.held {
                // Asked again at every cycle, the model would be held
                // again as long as the guard holds.
                context.registry.with_state(&entry.uid, |s| {
                    crate::act::end_without_action(s, &decision, now)
                });
                HealingActionStatus {
                    reason: Some(held.reason().into()),
                    checks: guarded.checks,
                    ..status(
                        ActionPhase::Blocked,
                        format!("held back by the safety controller: {held}"),
                        ai,
                    )
                }
            } else if by_ai && !trusted {
                // The case stays open: the policy does not hand the object
                // over again while a person decides.
                let words = format!(
                    "the AI chose `{}` (confidence {:.2}); it waits for a person: \
                     kubeskippy approve {record} -n {namespace}",
                    ai.choice.clone().unwrap_or_default(),
                    verdict.confidence().unwrap_or_default()
                );
                HealingActionStatus {
                    checks: guarded.checks,
                    ..status(ActionPhase::AwaitingApproval, words, ai)
                }
            } else {
                let mut state = entry.state.clone();
                let mut executor = work.executor.clone();
                let carried = carry_out_choice(
                    &entry.program,
                    &context.safety,
                    &mut state,
                    &mut executor,
                    &decision,
                    &chosen.action,
                    now,
                    0,
                )
                .await;
                context.registry.update_state(&entry.uid, state);
                let (mut phase, message) = super::record::phase(&carried.outcome);
                let mut verify_after = None;
                if matches!(carried.outcome, Outcome::Done(_)) {
                    let rule = decision
                        .rules()
                        .first()
                        .and_then(|r| entry.program.policies.first()?.rules.get(*r));
                    verify_after = rule.and_then(|r| {
                        super::verify::due(&chosen.action, &r.condition, &context.safety, now)
                    });
                    if verify_after.is_some() {
                        phase = ActionPhase::Verifying;
                    }
                }
                let mut checks = guarded.checks;
                if let Some(admission) = &carried.admission {
                    checks.insert(0, format!("safety controller: {admission:?}"));
                }
                let mut status = HealingActionStatus {
                    checks,
                    verify_after,
                    ..status(phase, message, ai)
                };
                if carried.admission == Some(crate::safety::Admission::Execute) {
                    status.transitions.insert(
                        "Executing".into(),
                        Time(k8s_openapi::jiff::Timestamp::now()),
                    );
                }
                status
            }
        }
    };
    if !write(context, &namespace, &record, target, status).await {
        // Still in flight as far as the sweep is concerned: what came of
        // the answer (an action, maybe) is not on the record, and a sweep
        // would put the case again.
        work.asking.insert(record);
    }
}

fn status(phase: ActionPhase, message: String, ai: AiChoice) -> HealingActionStatus {
    HealingActionStatus {
        phase: Some(phase),
        message: Some(message),
        ai: Some(ai),
        ..HealingActionStatus::default()
    }
}

/// The verdict as the record shows it.
fn ai_choice(verdict: &Verdict) -> AiChoice {
    let mut ai = AiChoice {
        origin: verdict.origin().into(),
        model: (!verdict.model.is_empty()).then(|| verdict.model.clone()),
        mode: verdict.mode.map(|m| m.name().to_string()),
        latency_ms: u64::try_from(verdict.latency.as_millis()).ok(),
        ..AiChoice::default()
    };
    match &verdict.outcome {
        VerdictOutcome::Ai(recommendation) => {
            ai.confidence = Some(recommendation.confidence);
            ai.reasoning = recommendation.reasoning.clone();
        }
        VerdictOutcome::Fallback { why, .. } => ai.fallback = Some(why.to_string()),
    }
    ai
}

/// Writes the answer on the case's record; whether it was written (or the
/// record is gone, and nothing is left to write).
async fn write(
    context: &Loop,
    namespace: &str,
    name: &str,
    target: &crate::engine::observation::TargetId,
    status: HealingActionStatus,
) -> bool {
    let actions: Api<HealingAction> = Api::namespaced(context.client.clone(), namespace);
    let Ok(record) = actions.get(name).await else {
        tracing::warn!(
            record = name,
            "the case's record is gone; the AI's answer is dropped"
        );
        return true;
    };
    let phase = status.phase.unwrap_or(ActionPhase::Pending);
    let message = status.message.clone().unwrap_or_default();
    let status = match super::record::write_status(&actions, name, status).await {
        Ok(status) => status,
        Err(error) => {
            tracing::warn!(%error, record = name, "cannot write the AI's answer");
            return false;
        }
    };
    let written = HealingAction {
        status: Some(status.clone()),
        ..record
    };
    super::metrics::count(&written, phase, status.reason.as_deref());
    tracing::info!(
        record = %written.name_any(),
        phase = ?phase,
        origin = status.ai.as_ref().map_or("", |a| a.origin.as_str()),
        detail = %message,
        "AI case decided"
    );
    let event = match phase {
        ActionPhase::AwaitingApproval => (EventType::Normal, "AwaitingApproval"),
        ActionPhase::Verifying => (EventType::Normal, "ActionExecuted"),
        ActionPhase::Blocked => (EventType::Warning, "Held"),
        ActionPhase::Failed => (EventType::Warning, "ActionFailed"),
        _ => (EventType::Normal, "AIDecided"),
    };
    context
        .announcer
        .tell(&written, target, &written.spec.action.name, event, &message)
        .await;
    true
}
