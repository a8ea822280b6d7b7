//! `HealingAction`: the record of one decision — which policy and rule, on
//! what, why (the evidence), who chose it (a rule or the AI) — and of what
//! became of it, phase by phase. A user watches healing with
//! `kubectl get healingactions`.

use crate::catalog::Kind;
use crate::engine::observation::TargetId;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One decision of a policy and what came of it. In the target's namespace;
/// a node action's record is in the operator's.
#[derive(CustomResource, Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "kubeskippy.io",
    version = "v1alpha1",
    kind = "HealingAction",
    namespaced,
    status = "HealingActionStatus",
    shortname = "ha",
    category = "kubeskippy",
    derive = "PartialEq",
    doc = "One healing decision of a policy, its evidence, and what came of it.",
    printcolumn(name = "Target", type_ = "string", json_path = ".spec.target.name"),
    printcolumn(
        name = "Kind",
        type_ = "string",
        json_path = ".spec.target.kind",
        priority = 1
    ),
    printcolumn(name = "Action", type_ = "string", json_path = ".spec.action.text"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Origin", type_ = "string", json_path = ".spec.origin.kind"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct HealingActionSpec {
    pub policy: PolicyRef,
    pub rule: RuleRef,
    /// What the policy selected.
    pub target: ObjectRef,
    /// What the action lands on: the target, or a pod's owner or node.
    pub object: ObjectRef,
    /// The target's workload, for a pod that has one: what verification
    /// reads when the pod is replaced, and what the blast radius counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<ObjectRef>,
    pub action: ActionSpec,
    /// What the decision saw, oldest condition first.
    #[serde(default)]
    pub evidence: Vec<EvidenceRecord>,
    pub origin: ActionOrigin,
    /// Recorded only: the policy (or the operator) runs in `dryrun`.
    #[serde(default)]
    pub dry_run: bool,
    /// It waits for `kubeskippy.io/approve=true` before it runs.
    #[serde(default)]
    pub approval_required: bool,
    /// When the condition started to hold: with the policy, the rule and the
    /// target, what makes the record's name, so a restarted or second
    /// operator never records the same firing twice.
    pub firing_since: Time,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyRef {
    pub kind: PolicyKind,
    /// Empty for a ClusterHealingPolicy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    pub uid: String,
    /// The hash of the compiled policy that decided: which version of the
    /// source this record answers for.
    pub program_hash: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum PolicyKind {
    HealingPolicy,
    ClusterHealingPolicy,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RuleRef {
    /// 1-based, as `kubeskippy explain` numbers rules.
    pub number: u32,
    /// The rule's stable identity across edits of the rest of the policy.
    pub fingerprint: String,
    /// The rule as the source writes it.
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span: Option<SourceSpan>,
}

/// Where in `spec.policy` the rule is (1-based lines and columns).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SourceSpan {
    pub line: u32,
    pub column: u32,
    pub end_line: u32,
    pub end_column: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef {
    /// `Pod`, `Deployment`, `StatefulSet`, `DaemonSet` or `Node`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    /// Set when known: an object of the same name created later is another
    /// object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
}

/// Each kind the engine knows, as the Kubernetes API names it: its
/// apiVersion and kind. The one table records, Events and approvals read.
const API_KINDS: [(Kind, &str, &str); 14] = [
    (Kind::Pods, "v1", "Pod"),
    (Kind::Nodes, "v1", "Node"),
    (Kind::Deployments, "apps/v1", "Deployment"),
    (Kind::StatefulSets, "apps/v1", "StatefulSet"),
    (Kind::DaemonSets, "apps/v1", "DaemonSet"),
    (Kind::Jobs, "batch/v1", "Job"),
    (
        Kind::HorizontalPodAutoscalers,
        "autoscaling/v2",
        "HorizontalPodAutoscaler",
    ),
    (Kind::PersistentVolumeClaims, "v1", "PersistentVolumeClaim"),
    (
        Kind::PodDisruptionBudgets,
        "policy/v1",
        "PodDisruptionBudget",
    ),
    // A record names a quota's resource `QUOTA/RESOURCE`; its Events are on
    // the quota, at that resource's hard limit (see `operator::events`).
    (Kind::ResourceQuotas, "v1", "ResourceQuota"),
    (Kind::PersistentVolumes, "v1", "PersistentVolume"),
    // No API object: the records of `select cluster` name it so, and its
    // Events, like a node's, are in `default`.
    (Kind::Cluster, "kubeskippy.io/v1alpha1", "Cluster"),
    // No API object either: a record names the filesystem `NODE:MOUNTPOINT`;
    // its Events are on the node (see `operator::events`).
    (Kind::Filesystems, "kubeskippy.io/v1alpha1", "Filesystem"),
    // A container is no API object of its own: a record names it
    // `POD/CONTAINER` in its pod's namespace; its Events are on the pod,
    // with the container's field path, as the kubelet's are.
    (Kind::Containers, "kubeskippy.io/v1alpha1", "Container"),
];

impl ObjectRef {
    /// The object `id` names.
    pub fn of(id: &TargetId) -> ObjectRef {
        ObjectRef {
            kind: ObjectRef::api_kind(id.kind).1.to_string(),
            namespace: id.namespace.clone(),
            name: id.name.clone(),
            uid: None,
        }
    }

    /// The apiVersion and kind of `kind`.
    pub fn api_kind(kind: Kind) -> (&'static str, &'static str) {
        API_KINDS
            .iter()
            .find(|(k, _, _)| *k == kind)
            .map_or(("v1", "Pod"), |(_, version, name)| (*version, *name))
    }

    /// The object as the engine names it; `None` for a kind it does not know.
    pub fn target_id(&self) -> Option<TargetId> {
        let kind = API_KINDS.iter().find(|(_, _, name)| *name == self.kind)?.0;
        Some(TargetId {
            kind,
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        })
    }
}

/// The action, typed: its catalog name and its parameters, each in its own
/// field (a structural schema has no room for a tagged union).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActionSpec {
    /// The catalog's name: `restart`, `restart rolling`, `scale up`, `set`,
    /// `rollback`, `cordon`, `notify`, …
    pub name: String,
    /// As the policy writes it: `scale up 2 max 10`.
    pub text: String,
    /// `scale`: by how many replicas (`up`, `down`) or to how many (`to`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u32>,
    /// `scale up … max N`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_replicas: Option<u32>,
    /// `scale down … min N`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_replicas: Option<u32>,
    /// `set`: `memory_limit` or `cpu_limit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// `set … = Q`: the new limit, in the resource's canonical unit (bytes,
    /// cores).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// `set … = current * F`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factor: Option<f64>,
    /// `set … max Q`: the ceiling, in the canonical unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ceiling: Option<f64>,
    /// `patch NAME`: the patch's name, type and document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch_body: Option<String>,
    /// `notify "…"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// One piece of evidence: its words, and its values where it has them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EvidenceRecord {
    /// `compare`, `status`, `event`, `not` or `held`.
    pub kind: String,
    /// As `kubeskippy simulate` prints it: `memory_percent=91.4% > 85%`.
    pub text: String,
    /// The metric expression, status or event reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The observed value in its canonical unit (a count for events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// How long the condition held (`for`), or since when the status held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActionOrigin {
    pub kind: OriginKind,
    /// For the AI: the model that chose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OriginKind {
    Rule,
    Ai,
}

/// What became of the decision.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealingActionStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<ActionPhase>,
    /// Why it is blocked, failed or was rejected; what it did when it
    /// succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When each phase began, by phase.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub transitions: BTreeMap<String, Time>,
    /// The triggering values before the action and after verification.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub values_before: BTreeMap<String, f64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub values_after: BTreeMap<String, f64>,
    /// Every safety check with its verdict: what answers "why not".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<String>,
    /// Why it is blocked, in one word: `cooldown`, `limit`,
    /// `circuit-breaker`, `rate-limit`, `storm-guard`, `blast-radius`,
    /// `autoscaler`, `safety`, `pdb`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When the trigger is re-evaluated to tell whether the action healed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_after: Option<Time>,
    /// Whether it healed: the trigger no longer held when verified. Absent
    /// until verified, and when it could not be told.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healed: Option<bool>,
    /// For a case handed to the AI analyzer: what it (or the fallback)
    /// chose, and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ai: Option<AiChoice>,
}

/// What the AI analyzer answered a case, as `kubectl describe` shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AiChoice {
    /// `ai` when the model chose, `fallback` when the deterministic choice
    /// was taken instead (see `fallback`).
    pub origin: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The structured-output mode the endpoint accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// The model's own confidence, 0 to 1: not evidence on its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasoning: Vec<String>,
    /// Why the model's answer was not used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
    /// The chosen action as the policy writes it (`restart rolling`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choice: Option<String>,
    /// The chosen action in the compiled program's form, for the approval
    /// to carry out exactly it (checked again against the policy then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// What the chosen action lands on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjectRef>,
    /// Milliseconds the analysis took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ActionPhase {
    Pending,
    Approved,
    Executing,
    Verifying,
    Succeeded,
    Failed,
    Blocked,
    AwaitingApproval,
    Rejected,
    DryRun,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_api_name_and_comes_back_from_it() {
        for kind in Kind::ALL {
            let id = TargetId {
                kind,
                namespace: kind.is_namespaced().then(|| "shop".to_string()),
                name: "x".into(),
            };
            let object = ObjectRef::of(&id);
            assert_eq!(object.target_id(), Some(id), "{kind}: {}", object.kind);
        }
    }
}
