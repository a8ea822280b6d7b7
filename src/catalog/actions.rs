//! The actions a policy can take: the kinds each applies to, what it lands
//! on, and how disruptive it is, least first.
//!
//! Invariant: static data only, no behaviour beyond lookups.

use super::Kinds;
use serde::{Deserialize, Serialize};

/// What an action acts on when the policy selects `kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Effect {
    /// The selected object itself.
    Itself,
    /// The workload that owns the selected pod.
    Owner,
    /// The node the selected pod runs on.
    Node,
    /// Nothing in the cluster changes (notify, ask ai before its choice).
    Nothing,
}

/// An action word: the kinds it applies to and how disruptive it is.
#[derive(Debug)]
pub struct ActionInfo {
    /// How the action is written (its first words).
    pub name: &'static str,
    /// Its parameters, as a user writes them.
    pub usage: &'static str,
    /// Kinds it acts on directly.
    pub kinds: Kinds,
    /// Kinds whose pods it acts on through the pod's owner or node.
    pub via_pod: Option<Effect>,
    /// Rank for "least disruptive first" (0 = changes nothing).
    pub disruption: u8,
    pub description: &'static str,
}

pub static ACTIONS: &[ActionInfo] = &[
    ActionInfo {
        name: "notify",
        usage: "notify \"TEXT\"",
        kinds: Kinds::ALL,
        via_pod: None,
        disruption: 0,
        description: "Records a Kubernetes Event and calls the configured webhooks.",
    },
    ActionInfo {
        name: "ask ai",
        usage: "ask ai [among [ACTION, …]]",
        // Where `notify` is the only action there is nothing to choose.
        kinds: Kinds::ALL.except(Kinds::NOTIFY_ONLY),
        via_pod: None,
        disruption: 0,
        description:
            "Hands the case to the AI analyzer, which may only choose among the listed actions.",
    },
    ActionInfo {
        name: "scale up",
        usage: "scale up N [max M]",
        kinds: Kinds::SCALABLE,
        via_pod: Some(Effect::Owner),
        disruption: 1,
        description: "Adds replicas through the scale subresource.",
    },
    ActionInfo {
        name: "set",
        usage: "set memory_limit|cpu_limit = QUANTITY|current * FACTOR [max QUANTITY]",
        kinds: Kinds::WORKLOADS,
        via_pod: Some(Effect::Owner),
        disruption: 2,
        description:
            "Changes the memory or CPU limit of the workload's containers (a rollout follows).",
    },
    ActionInfo {
        name: "patch",
        usage: "patch NAME",
        kinds: Kinds::WORKLOADS,
        via_pod: Some(Effect::Owner),
        disruption: 3,
        description: "Applies a declared merge, strategic-merge or JSON patch to the workload.",
    },
    ActionInfo {
        name: "restart rolling",
        usage: "restart rolling",
        kinds: Kinds::WORKLOADS,
        via_pod: Some(Effect::Owner),
        disruption: 4,
        description: "A rollout restart of the workload: pods are replaced one by one.",
    },
    ActionInfo {
        name: "scale to",
        usage: "scale to N",
        kinds: Kinds::SCALABLE,
        via_pod: Some(Effect::Owner),
        disruption: 5,
        description: "Sets the replica count through the scale subresource.",
    },
    ActionInfo {
        name: "scale down",
        usage: "scale down N [min M]",
        kinds: Kinds::SCALABLE,
        via_pod: Some(Effect::Owner),
        disruption: 5,
        description: "Removes replicas through the scale subresource.",
    },
    ActionInfo {
        name: "restart",
        usage: "restart [immediate]",
        kinds: Kinds::PODS,
        via_pod: None,
        disruption: 6,
        description: "Deletes the pod so that its controller recreates it.",
    },
    ActionInfo {
        name: "delete",
        usage: "delete",
        kinds: Kinds::PODS,
        via_pod: None,
        disruption: 7,
        description: "Deletes the pod (strategic delete).",
    },
    ActionInfo {
        name: "rollback",
        usage: "rollback",
        kinds: Kinds::DEPLOYMENTS,
        via_pod: Some(Effect::Owner),
        disruption: 8,
        description: "Rolls the deployment back to its previous revision.",
    },
    ActionInfo {
        name: "cordon",
        usage: "cordon",
        kinds: Kinds::NODES,
        via_pod: Some(Effect::Node),
        disruption: 9,
        description: "Marks the node unschedulable.",
    },
    ActionInfo {
        name: "drain",
        usage: "drain",
        kinds: Kinds::NODES,
        via_pod: Some(Effect::Node),
        disruption: 10,
        description: "Cordons the node and evicts its pods.",
    },
    ActionInfo {
        name: "rerun",
        usage: "rerun",
        kinds: Kinds::JOBS,
        via_pod: None,
        disruption: 11,
        description: "Runs a Job again: creates a new Job from its spec (named after it, without its generated selector and labels), leaving the old one for inspection.",
    },
    ActionInfo {
        name: "expand",
        usage: "expand to QUANTITY|current * FACTOR [max QUANTITY]",
        kinds: Kinds::CLAIMS,
        via_pod: None,
        disruption: 12,
        description: "Raises the claim's storage request (`spec.resources.requests.storage`), where its StorageClass allows volume expansion; never beyond `max`, never down.",
    },
];

pub fn action(name: &str) -> Option<&'static ActionInfo> {
    ACTIONS.iter().find(|a| a.name == name)
}

/// The first words of every action, for "did you mean" and completion.
pub fn action_words() -> impl Iterator<Item = &'static str> {
    [
        "restart", "delete", "scale", "patch", "set", "rollback", "cordon", "drain", "rerun",
        "expand", "notify", "ask",
    ]
    .into_iter()
}
