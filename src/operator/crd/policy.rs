//! `HealingPolicy` and `ClusterHealingPolicy`: one Skippy policy each, and
//! what the operator made of it.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The most characters of Skippy source one policy object may hold (the
/// schema's `maxLength` below). Its text is input from whoever may create
/// one; the API server refuses more before the operator ever reads it.
pub const MAX_POLICY_CHARS: u32 = 65_536;

/// A Skippy policy that may select only targets in its own namespace: a
/// tenant cannot heal someone else's pods.
#[derive(CustomResource, Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "kubeskippy.io",
    version = "v1alpha1",
    kind = "HealingPolicy",
    namespaced,
    status = "PolicyStatus",
    shortname = "hpol",
    category = "kubeskippy",
    derive = "PartialEq",
    doc = "A Skippy healing policy acting in its own namespace.",
    printcolumn(name = "Policy", type_ = "string", json_path = ".status.policyName"),
    printcolumn(name = "Mode", type_ = "string", json_path = ".status.mode"),
    printcolumn(
        name = "Compiled",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Compiled\")].status"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Actions/h",
        type_ = "integer",
        json_path = ".status.actionsThisHour"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct HealingPolicySpec {
    /// The Skippy source of one policy, checked as `kubeskippy check` does.
    #[schemars(length(min = 1, max = 65536))]
    pub policy: String,
    /// Overrides the policy's own `mode` (for example to keep a policy in
    /// `dryrun` in one environment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<ModeOverride>,
}

/// A Skippy policy that may select across namespaces and nodes. Its spec
/// repeats `HealingPolicySpec` on purpose: kube's derive makes one kind per
/// spec type, and the two kinds differ only in scope.
#[derive(CustomResource, Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "kubeskippy.io",
    version = "v1alpha1",
    kind = "ClusterHealingPolicy",
    status = "PolicyStatus",
    shortname = "chpol",
    category = "kubeskippy",
    derive = "PartialEq",
    doc = "A Skippy healing policy that may act across namespaces and on nodes.",
    printcolumn(name = "Policy", type_ = "string", json_path = ".status.policyName"),
    printcolumn(name = "Mode", type_ = "string", json_path = ".status.mode"),
    printcolumn(
        name = "Compiled",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Compiled\")].status"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Actions/h",
        type_ = "integer",
        json_path = ".status.actionsThisHour"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct ClusterHealingPolicySpec {
    /// The Skippy source of one policy, checked as `kubeskippy check` does.
    #[schemars(length(min = 1, max = 65536))]
    pub policy: String,
    /// Overrides the policy's own `mode`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<ModeOverride>,
}

/// A mode that overrides the one the policy's source says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ModeOverride {
    Auto,
    DryRun,
    Approve,
    Monitor,
}

impl From<ModeOverride> for crate::ir::Mode {
    fn from(mode: ModeOverride) -> Self {
        match mode {
            ModeOverride::Auto => crate::ir::Mode::Auto,
            ModeOverride::DryRun => crate::ir::Mode::DryRun,
            ModeOverride::Approve => crate::ir::Mode::Approve,
            ModeOverride::Monitor => crate::ir::Mode::Monitor,
        }
    }
}

/// What the operator made of a policy object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyStatus {
    /// The generation the rest of the status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Compiled` (the message holds the diagnostics, as `kubeskippy check`
    /// renders them, when it is `False`) and `Ready` (it is being evaluated).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The name the Skippy source gives the policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_name: Option<String>,
    /// The mode in force: the override's, or the source's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Actions carried out in the last hour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actions_this_hour: Option<u32>,
    /// The circuit breaker: `Open` stops the policy acting after repeated
    /// failed verifications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breaker: Option<BreakerState>,
    /// Metrics, statuses or events the last evaluation had no data for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub without_data: Vec<String>,
    /// The operator's watches (by resource: `pods`, `events`, …) that were
    /// down at the last evaluation and feed the statuses or events this
    /// policy reads: rules on those are unknown until the watch lists again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub watches_down: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}
