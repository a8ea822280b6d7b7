//! The reasons a policy names: pod, workload and node states (`status is`)
//! and Kubernetes event reasons (`event`).
//!
//! Invariant: static data only, no behaviour beyond lookups.

use super::Kinds;

/// A status reason a policy can test with `status is`.
#[derive(Debug)]
pub struct StatusInfo {
    pub name: &'static str,
    pub kinds: Kinds,
    pub description: &'static str,
}

const POD_LIKE: Kinds = Kinds::PODS.with(Kinds::WORKLOADS);

pub static STATUS_REASONS: &[StatusInfo] = &[
    StatusInfo {
        name: "CrashLoopBackOff",
        kinds: POD_LIKE,
        description: "A container keeps crashing and Kubernetes backs off restarting it.",
    },
    StatusInfo {
        name: "ImagePullBackOff",
        kinds: POD_LIKE,
        description: "The image cannot be pulled and Kubernetes backs off retrying.",
    },
    StatusInfo {
        name: "ErrImagePull",
        kinds: POD_LIKE,
        description: "The last pull of the image failed.",
    },
    StatusInfo {
        name: "OOMKilled",
        kinds: POD_LIKE,
        description: "A container was killed for exceeding its memory limit.",
    },
    StatusInfo {
        name: "Error",
        kinds: POD_LIKE,
        description: "A container exited with an error.",
    },
    StatusInfo {
        name: "Pending",
        kinds: POD_LIKE,
        description: "The pod is accepted but not running yet.",
    },
    StatusInfo {
        name: "Unschedulable",
        kinds: POD_LIKE,
        description: "The scheduler cannot place the pod.",
    },
    StatusInfo {
        name: "NotReady",
        kinds: Kinds::ALL,
        description: "The pod (a pod of the workload, the node) is not Ready.",
    },
    StatusInfo {
        name: "Evicted",
        kinds: POD_LIKE,
        description: "The kubelet evicted the pod.",
    },
    StatusInfo {
        name: "ContainerCreating",
        kinds: POD_LIKE,
        description: "A container is still being created.",
    },
    StatusInfo {
        name: "MemoryPressure",
        kinds: Kinds::NODES,
        description: "The node reports MemoryPressure.",
    },
    StatusInfo {
        name: "DiskPressure",
        kinds: Kinds::NODES,
        description: "The node reports DiskPressure.",
    },
    StatusInfo {
        name: "PIDPressure",
        kinds: Kinds::NODES,
        description: "The node reports PIDPressure.",
    },
];

pub fn status_reason(name: &str) -> Option<&'static StatusInfo> {
    STATUS_REASONS.iter().find(|s| s.name == name)
}

/// Kubernetes event reasons the checker knows. Events are open-ended (any
/// controller may emit its own), so an unknown reason is a warning, not an error.
pub static EVENT_REASONS: &[(&str, &str)] = &[
    (
        "BackOff",
        "The kubelet is backing off restarting a container or pulling an image.",
    ),
    ("Failed", "A container or an image pull failed."),
    ("FailedScheduling", "The scheduler could not place a pod."),
    ("FailedMount", "A volume could not be mounted."),
    ("FailedAttachVolume", "A volume could not be attached."),
    (
        "FailedCreatePodSandBox",
        "The pod's sandbox could not be created.",
    ),
    (
        "Unhealthy",
        "A liveness, readiness or startup probe failed.",
    ),
    (
        "OOMKilling",
        "The kernel killed a process for lack of memory.",
    ),
    ("Killing", "The kubelet is stopping a container."),
    ("Evicted", "The kubelet evicted a pod."),
    ("NodeNotReady", "The node stopped being Ready."),
    ("SystemOOM", "The node ran out of memory."),
    (
        "EvictionThresholdMet",
        "The node reached an eviction threshold.",
    ),
    ("FailedCreate", "A controller could not create a pod."),
    ("ProbeWarning", "A probe succeeded with a warning."),
];
