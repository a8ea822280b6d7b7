//! A decision as a `HealingAction`: its spec (policy, rule, target, typed
//! action, evidence, origin) and its deterministic name, and the phase an
//! outcome puts it in.
//!
//! The name is a hash of the policy object's uid, the rule's fingerprint,
//! the object acted on and when the condition began to hold: a restarted or
//! second operator that sees the same firing computes the same name, finds
//! the record there, and does not act twice.

use super::crd::{
    ActionOrigin, ActionPhase, ActionSpec, EvidenceRecord, HealingAction, HealingActionSpec,
    ObjectRef, OriginKind, PolicyRef, RuleRef,
};
use super::registry::{fnv1a, Entry};
use crate::act::Outcome;
use crate::engine::observation::TargetId;
use crate::engine::{Decision, Evidence};
use crate::ir::{Action, LimitValue, Program, Resource, Scale, Threshold};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use std::collections::HashSet;

/// When the decision's condition began to hold: `now` less how long it
/// held (`for`), or `now` for a rule without `for`.
pub fn firing_since(decision: &Decision, now: i64) -> i64 {
    decision
        .evidence()
        .iter()
        .find_map(|e| match e {
            Evidence::Held { seconds } => Some(i64::try_from(*seconds).unwrap_or(0)),
            _ => None,
        })
        .map_or(now, |held| now.saturating_sub(held))
}

/// The record's name: the policy object's name (cut to fit) and a hash of
/// what identifies the firing (`episode`: when it began to hold, or when a
/// block lifts). `what` tells a block's record from an action's.
pub fn name(
    entry: &Entry,
    decision: &Decision,
    object: &TargetId,
    episode: i64,
    what: &str,
) -> String {
    let fingerprints = match decision {
        Decision::Act { fingerprint, .. } | Decision::Blocked { fingerprint, .. } => {
            fingerprint.clone()
        }
        Decision::Ambiguous { fingerprints, .. } => fingerprints.join(","),
    };
    let key = format!("{}|{fingerprints}|{object}|{episode}|{what}", entry.uid);
    let prefix: String = entry.name.chars().take(40).collect();
    format!(
        "{}-{:016x}",
        prefix.trim_end_matches('-'),
        fnv1a(key.as_bytes())
    )
}

/// The record of `decision`, named `name`, in `namespace`.
pub fn healing_action(
    entry: &Entry,
    decision: &Decision,
    name: &str,
    namespace: &str,
    since: i64,
) -> HealingAction {
    let program = &entry.program;
    let (rule, object, action) = match decision {
        Decision::Act {
            rule,
            object,
            action,
            ..
        } => (*rule, object.clone(), action_spec(program, action)),
        Decision::Blocked { rule, object, .. } => {
            let action = program
                .policies
                .first()
                .and_then(|p| p.rules.get(*rule))
                .map(|r| action_spec(program, &r.action))
                .unwrap_or_default();
            (*rule, object.clone(), action)
        }
        Decision::Ambiguous {
            rules,
            object,
            candidates,
            ..
        } => {
            let actions: Vec<Action> = candidates.iter().map(|c| c.action.clone()).collect();
            let spec = ActionSpec {
                name: "ask ai".into(),
                text: format!("ask ai among [{}]", program.render_actions(&actions)),
                ..ActionSpec::default()
            };
            (rules.first().copied().unwrap_or(0), object.clone(), spec)
        }
    };
    let (text, span) = entry.rules.get(rule).cloned().unwrap_or_default();
    let fingerprint = match decision {
        Decision::Act { fingerprint, .. } | Decision::Blocked { fingerprint, .. } => {
            fingerprint.clone()
        }
        Decision::Ambiguous { fingerprints, .. } => fingerprints.join(","),
    };
    let mode = program.policies.first().map(|p| p.mode);
    let spec = HealingActionSpec {
        policy: PolicyRef {
            kind: entry.kind,
            namespace: entry.namespace.clone(),
            name: entry.name.clone(),
            uid: entry.uid.clone(),
            program_hash: entry.program_hash.clone(),
        },
        rule: RuleRef {
            number: u32::try_from(rule + 1).unwrap_or(u32::MAX),
            fingerprint,
            text,
            span: Some(span),
        },
        target: ObjectRef::of(decision.target()),
        object: ObjectRef::of(&object),
        owner: match decision {
            Decision::Act { owner, .. } | Decision::Ambiguous { owner, .. } => {
                owner.as_ref().map(ObjectRef::of)
            }
            Decision::Blocked { .. } => None,
        },
        action,
        evidence: decision.evidence().iter().map(evidence_record).collect(),
        origin: ActionOrigin {
            kind: OriginKind::Rule,
            model: None,
            confidence: None,
            reasoning: None,
        },
        dry_run: mode == Some(crate::ir::Mode::DryRun),
        approval_required: mode == Some(crate::ir::Mode::Approve),
        firing_since: Time(
            k8s_openapi::jiff::Timestamp::from_second(since)
                .unwrap_or(k8s_openapi::jiff::Timestamp::UNIX_EPOCH),
        ),
    };
    let mut record = HealingAction::new(name, spec);
    record.metadata.namespace = Some(namespace.to_string());
    record
}

/// Writes `status` on the record `name`, with the time its phase began. A
/// merge: what the status already holds and `status` leaves out (earlier
/// phases' times, the checks) stays.
pub async fn write_status(
    actions: &kube::Api<HealingAction>,
    name: &str,
    status: super::crd::HealingActionStatus,
) -> Result<super::crd::HealingActionStatus, kube::Error> {
    write_status_at(actions, name, status, None).await
}

/// [`write_status`], only while the record is at `version` when one is
/// given (the API server answers 409 otherwise): what was written since
/// it was read must not be overwritten.
pub async fn write_status_at(
    actions: &kube::Api<HealingAction>,
    name: &str,
    mut status: super::crd::HealingActionStatus,
    version: Option<&str>,
) -> Result<super::crd::HealingActionStatus, kube::Error> {
    if let Some(phase) = status.phase {
        status.transitions.insert(
            format!("{phase:?}"),
            Time(k8s_openapi::jiff::Timestamp::now()),
        );
    }
    let mut patch = serde_json::json!({ "status": status });
    if let Some(version) = version {
        patch["metadata"] = serde_json::json!({ "resourceVersion": version });
    }
    actions
        .patch_status(
            name,
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&patch),
        )
        .await?;
    Ok(status)
}

/// The phase, and its message, that an outcome puts a record in.
pub fn phase(outcome: &Outcome) -> (ActionPhase, String) {
    match outcome {
        Outcome::Done(what) => (ActionPhase::Succeeded, what.clone()),
        Outcome::Missing(why) => (ActionPhase::Failed, why.clone()),
        Outcome::Failed(why) => (ActionPhase::Failed, why.clone()),
        Outcome::DryRun => (
            ActionPhase::DryRun,
            "dry run: recorded, not carried out".into(),
        ),
        Outcome::Monitored => (ActionPhase::DryRun, "mode monitor: recorded only".into()),
        Outcome::AwaitingApproval(why) => (ActionPhase::AwaitingApproval, why.clone()),
        Outcome::HandedToAi(then) => (
            ActionPhase::Pending,
            format!("handed to the AI analyzer; {then}"),
        ),
        Outcome::Blocked(by) => (ActionPhase::Blocked, format!("held back by {by}")),
        Outcome::Refused(why) => (
            ActionPhase::Blocked,
            format!("refused by the safety controller: {why}"),
        ),
    }
}

/// The action, typed, in the record's flat fields.
pub fn action_spec(program: &Program, action: &Action) -> ActionSpec {
    let mut spec = ActionSpec {
        name: action.catalog_name().into(),
        text: program.render_action(action),
        ..ActionSpec::default()
    };
    match action {
        Action::Scale(Scale::Up { by, max }) => {
            spec.replicas = Some(*by);
            spec.max_replicas = *max;
        }
        Action::Scale(Scale::Down { by, min }) => {
            spec.replicas = Some(*by);
            spec.min_replicas = *min;
        }
        Action::Scale(Scale::To { replicas }) => spec.replicas = Some(*replicas),
        Action::SetLimit {
            resource,
            value,
            max,
        } => {
            spec.resource = Some(
                match resource {
                    Resource::MemoryLimit => "memory_limit",
                    Resource::CpuLimit => "cpu_limit",
                }
                .into(),
            );
            match value {
                LimitValue::Absolute(v) => spec.value = Some(*v),
                LimitValue::Factor(f) => spec.factor = Some(*f),
            }
            spec.ceiling = *max;
        }
        Action::Patch(id) => {
            if let Some(patch) = program.patch(*id) {
                spec.patch = Some(patch.name.clone());
                spec.patch_type = Some(patch.patch_type.keyword().to_string());
                spec.patch_body = Some(patch.body.to_string());
            }
        }
        Action::Notify(message) => spec.message = Some(message.clone()),
        _ => {}
    }
    spec
}

fn evidence_record(evidence: &Evidence) -> EvidenceRecord {
    let mut record = EvidenceRecord {
        text: evidence.to_string(),
        ..EvidenceRecord::default()
    };
    match evidence {
        Evidence::Compare {
            expr,
            value,
            op,
            threshold,
            ..
        } => {
            record.kind = "compare".into();
            record.subject = Some(expr.clone());
            record.value = Some(*value);
            record.comparison = Some(op.as_str().into());
            record.threshold = Some(match threshold {
                Threshold::Number(n) => *n,
                Threshold::Bool(b) => f64::from(u8::from(*b)),
            });
        }
        Evidence::Status { reason, .. } => {
            record.kind = "status".into();
            record.subject = Some(reason.clone());
        }
        Evidence::StatusWas { reason, within } => {
            record.kind = "status-window".into();
            record.subject = Some(reason.clone());
            record.seconds = Some(within.0);
        }
        Evidence::Event {
            reason,
            count,
            op,
            threshold,
            ..
        } => {
            record.kind = "event".into();
            record.subject = Some(reason.clone());
            record.value = Some(*count as f64);
            record.comparison = Some(op.as_str().into());
            record.threshold = Some(f64::from(*threshold));
        }
        Evidence::Not { .. } => record.kind = "not".into(),
        Evidence::Held { seconds } => {
            record.kind = "held".into();
            record.seconds = Some(*seconds);
        }
    }
    record
}

/// Records by name (or version, [`Recorded::version_of`]) written or
/// handled this run, so a block held for many cycles is not
/// asked of the API server again each cycle; bounded.
#[derive(Default)]
pub struct Recorded(HashSet<String>);

impl Recorded {
    const MAX: usize = 100_000;

    /// A record's name as it is now: the same record changed since (its
    /// resourceVersion moved) is another.
    pub fn version_of(record: &HealingAction) -> String {
        format!(
            "{}@{}",
            record.metadata.uid.as_deref().unwrap_or_default(),
            record
                .metadata
                .resource_version
                .as_deref()
                .unwrap_or_default()
        )
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0.contains(name)
    }

    pub fn insert(&mut self, name: String) {
        if self.0.len() >= Self::MAX {
            self.0.clear();
        }
        self.0.insert(name);
    }
}
