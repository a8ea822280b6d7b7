//! The reasons a policy names: pod, container, workload and node states
//! (`status is`) and Kubernetes event reasons (`event`).
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
/// A container's state (`state`, `lastState`): a pod's and its workload's
/// when any of its containers is in it, a container's when it is.
const CONTAINER_STATE: Kinds = POD_LIKE.with(Kinds::CONTAINERS);

pub static STATUS_REASONS: &[StatusInfo] = &[
    StatusInfo {
        name: "CrashLoopBackOff",
        kinds: CONTAINER_STATE,
        description: "A container keeps crashing and Kubernetes backs off restarting it.",
    },
    StatusInfo {
        name: "ImagePullBackOff",
        kinds: CONTAINER_STATE,
        description: "The image cannot be pulled and Kubernetes backs off retrying.",
    },
    StatusInfo {
        name: "ErrImagePull",
        kinds: CONTAINER_STATE,
        description: "The last pull of the image failed.",
    },
    StatusInfo {
        name: "OOMKilled",
        kinds: CONTAINER_STATE,
        description: "A container was killed for exceeding its memory limit.",
    },
    StatusInfo {
        name: "Error",
        kinds: CONTAINER_STATE,
        description: "A container exited with an error.",
    },
    StatusInfo {
        name: "Pending",
        kinds: POD_LIKE.with(Kinds::CLAIMS).with(Kinds::VOLUMES),
        description: "The pod is accepted but not running yet; a claim's `status.phase` is `Pending`, not bound to a volume yet (`kube_persistentvolumeclaim_status_phase{phase=\"Pending\"}`); a persistent volume's `status.phase` is `Pending`, not yet available for binding (`kube_persistentvolume_status_phase{phase=\"Pending\"}`).",
    },
    StatusInfo {
        name: "Unschedulable",
        kinds: POD_LIKE,
        description: "The scheduler cannot place the pod.",
    },
    StatusInfo {
        name: "NotReady",
        kinds: Kinds::RUNNING,
        description: "The pod (a pod of the workload, the node) is not Ready; a node whose Ready condition is `Unknown` (its kubelet silent) is not Ready.",
    },
    StatusInfo {
        name: "Evicted",
        kinds: POD_LIKE,
        description: "The kubelet evicted the pod.",
    },
    StatusInfo {
        name: "ContainerCreating",
        kinds: CONTAINER_STATE,
        description: "A container is still being created.",
    },
    StatusInfo {
        name: "PhaseUnknown",
        kinds: POD_LIKE,
        description: "The pod's `status.phase` is `Unknown`: its node stopped reporting it (`kube_pod_status_phase{phase=\"Unknown\"}`). Named so, not `Unknown`, so it is not read as a condition's unknown truth.",
    },
    StatusInfo {
        name: "ContainerWaiting",
        kinds: CONTAINER_STATE,
        description: "A container is waiting, for any reason (`state.waiting`; `kube_pod_container_status_waiting_reason`): the known reasons above, `CreateContainerConfigError`, `InvalidImageName` and any other.",
    },
    StatusInfo {
        name: "SchedulingGated",
        kinds: POD_LIKE,
        description: "The pod's scheduling gates hold it back: its `PodScheduled` condition's reason is `SchedulingGated`.",
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
    StatusInfo {
        name: "Unreachable",
        kinds: Kinds::NODES,
        description: "The node carries the `node.kubernetes.io/unreachable` taint with effect `NoSchedule`: the node controller has not heard from its kubelet (`spec.taints`; `kube_node_spec_taint`).",
    },
    StatusInfo {
        name: "BeingRemoved",
        kinds: Kinds::NODES,
        description: "The node carries a taint that announces its removal: `ToBeDeletedByClusterAutoscaler`, `cloud.google.com/impending-node-termination` or `aws-node-termination-handler/spot-itn` (`spec.taints`).",
    },
    StatusInfo {
        name: "ProgressDeadlineExceeded",
        kinds: Kinds::DEPLOYMENTS,
        description: "The Deployment's `Progressing` condition is `False` with reason `ProgressDeadlineExceeded`: its rollout made no progress within `spec.progressDeadlineSeconds` (`status.conditions`; kube-state-metrics' `kube_deployment_status_condition{condition=\"Progressing\", status=\"false\"}`).",
    },
    StatusInfo {
        name: "ReplicaSetCreateError",
        kinds: Kinds::DEPLOYMENTS,
        description: "The Deployment's `Progressing` condition is `False` with reason `ReplicaSetCreateError`: its controller cannot create the new ReplicaSet (`status.conditions`; with `ProgressDeadlineExceeded`, the two reasons of `kube_deployment_status_condition{condition=\"Progressing\", status=\"false\"}`).",
    },
    StatusInfo {
        name: "Failed",
        kinds: Kinds::JOBS.with(Kinds::VOLUMES),
        description: "The Job's `Failed` condition is `True`: it hit its backoff limit or its active deadline (`status.conditions`; `kube_job_failed`); a persistent volume's `status.phase` is `Failed`: its automatic reclamation failed (`kube_persistentvolume_status_phase{phase=\"Failed\"}`).",
    },
    StatusInfo {
        name: "Complete",
        kinds: Kinds::JOBS,
        description: "The Job's `Complete` condition is `True` (`status.conditions`; `kube_job_complete`).",
    },
    StatusInfo {
        name: "Lost",
        kinds: Kinds::CLAIMS,
        description: "The claim's `status.phase` is `Lost`: its bound volume no longer exists (`kube_persistentvolumeclaim_status_phase{phase=\"Lost\"}`).",
    },
    StatusInfo {
        name: "Released",
        kinds: Kinds::VOLUMES,
        description: "The persistent volume's `status.phase` is `Released`: its claim was deleted and the volume, kept by its `Retain` reclaim policy, waits for someone to reclaim it (`kube_persistentvolume_status_phase{phase=\"Released\"}`).",
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
