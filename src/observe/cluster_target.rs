//! The one target of `select cluster`: what the cluster's pods request and
//! its nodes offer, summed as the kubernetes-mixin's overcommit alerts sum
//! kube-state-metrics' series. Pure: objects in, values out.
//!
//! The sums need every pod and node: [`Totals`] are made from the whole
//! cluster before it is split (a shard's namespaces, a watch pass's), and
//! only a part that keeps the cluster-scoped objects keeps them.

use super::objects::Observed;
use super::Cluster;
use crate::act::quantity;
use crate::engine::observation::{Target, TargetId};
use k8s_openapi::api::core::v1::{Node, Pod};

/// The cluster's requests and allocatable resources, in cores and bytes;
/// `None` where PromQL's `sum` or `max` over no series is empty.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Totals {
    pub cpu_requests: Option<f64>,
    pub memory_requests: Option<f64>,
    pub cpu_allocatable: Option<f64>,
    pub memory_allocatable: Option<f64>,
    pub max_node_cpu_allocatable: Option<f64>,
    pub max_node_memory_allocatable: Option<f64>,
}

/// `resource` requested by `pod`'s containers (not its init containers,
/// as `kube_pod_container_resource_requests`), while the pod is `Pending` or
/// `Running`; `None` when none of them requests it.
fn requested(pod: &Pod, resource: &str) -> Option<f64> {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    if !matches!(phase, Some("Pending" | "Running")) {
        return None;
    }
    pod.spec
        .as_ref()?
        .containers
        .iter()
        .filter_map(|c| c.resources.as_ref()?.requests.as_ref()?.get(resource))
        .filter_map(|q| quantity::parse(&q.0))
        .reduce(|a, b| a + b)
}

fn allocatable(node: &Node, resource: &str) -> Option<f64> {
    let quantity = node.status.as_ref()?.allocatable.as_ref()?.get(resource)?;
    quantity::parse(&quantity.0)
}

impl Totals {
    pub fn of(cluster: &Cluster) -> Totals {
        let sum = |values: &[f64]| values.iter().copied().reduce(|a, b| a + b);
        let max = |values: &[f64]| values.iter().copied().reduce(f64::max);
        let requests = |resource| -> Vec<f64> {
            cluster
                .pods
                .iter()
                .filter_map(|p| requested(p, resource))
                .collect()
        };
        let offered = |resource| -> Vec<f64> {
            cluster
                .nodes
                .iter()
                .filter_map(|n| allocatable(n, resource))
                .collect()
        };
        let (cpu, memory) = (offered("cpu"), offered("memory"));
        Totals {
            cpu_requests: sum(&requests("cpu")),
            memory_requests: sum(&requests("memory")),
            cpu_allocatable: sum(&cpu),
            memory_allocatable: sum(&memory),
            max_node_cpu_allocatable: max(&cpu),
            max_node_memory_allocatable: max(&memory),
        }
    }

    pub fn observed(&self) -> Observed {
        let values = [
            ("cpu_requests", self.cpu_requests),
            ("memory_requests", self.memory_requests),
            ("cpu_allocatable", self.cpu_allocatable),
            ("memory_allocatable", self.memory_allocatable),
            ("max_node_cpu_allocatable", self.max_node_cpu_allocatable),
            (
                "max_node_memory_allocatable",
                self.max_node_memory_allocatable,
            ),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name, value?)))
        .collect();
        Observed {
            target: Target::new(TargetId::cluster()),
            values,
            oom_kills: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Arc;

    fn pod(phase: &str, cpu: &str, memory: &str) -> Arc<Pod> {
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": "p", "namespace": "shop"},
                "spec": {"containers": [
                    {"name": "a", "resources": {"requests": {"cpu": cpu, "memory": memory}}},
                    {"name": "b", "resources": {"requests": {"cpu": "250m"}}},
                    {"name": "c"}],
                    "initContainers": [{"name": "init", "resources": {"requests": {"cpu": "8"}}}]},
                "status": {"phase": phase}
            }))
            .expect("a pod"),
        )
    }

    fn node(cpu: &str, memory: &str) -> Arc<Node> {
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": "n"},
                "status": {"allocatable": {"cpu": cpu, "memory": memory, "pods": "110"}}
            }))
            .expect("a node"),
        )
    }

    #[test]
    fn requests_of_pending_and_running_pods_over_every_nodes_allocatable() {
        let cluster = Cluster {
            pods: vec![
                pod("Running", "1", "1Gi"),
                pod("Pending", "500m", "512Mi"),
                // Done: its requests hold nothing any more.
                pod("Succeeded", "4", "4Gi"),
                pod("Failed", "4", "4Gi"),
            ],
            nodes: vec![node("4", "16Gi"), node("3900m", "8Gi")],
            ..Cluster::default()
        };
        let totals = Totals::of(&cluster);
        assert_eq!(totals.cpu_requests, Some(2.0));
        assert_eq!(totals.memory_requests, Some(1.5 * 1024.0 * 1024.0 * 1024.0));
        assert_eq!(totals.cpu_allocatable, Some(7.9));
        assert_eq!(totals.max_node_cpu_allocatable, Some(4.0));
        assert_eq!(
            totals.max_node_memory_allocatable,
            Some(16.0 * 1024.0 * 1024.0 * 1024.0)
        );
    }

    #[test]
    fn a_part_without_the_nodes_has_no_cluster_target_rather_than_a_partial_sum() {
        let whole = Cluster {
            pods: vec![pod("Running", "1", "1Gi")],
            nodes: vec![node("4", "16Gi"), node("4", "16Gi")],
            ..Cluster::default()
        }
        .with_totals();
        let watched = whole.in_namespaces(&["shop".to_string()].into());
        assert_eq!(watched.totals, None);
        // A shard's part that keeps the nodes keeps the whole cluster's sums.
        let shard = whole.retain(|namespace| namespace.is_none());
        assert!(shard.pods.is_empty());
        let totals = shard.totals.expect("the whole cluster's totals");
        assert_eq!(totals.cpu_requests, Some(1.25));
    }

    #[test]
    fn an_empty_cluster_has_no_value_rather_than_zero() {
        let totals = Totals::of(&Cluster::default());
        assert_eq!(totals, Totals::default());
        let observed = totals.observed();
        assert!(observed.values.is_empty());
        assert_eq!(observed.target.id, TargetId::cluster());
    }
}
