//! The metrics-server source, the default for CPU and memory when no
//! Prometheus is configured: `metrics.k8s.io/v1beta1` PodMetrics and
//! NodeMetrics, one list of each per cycle for the whole cluster (a list per
//! namespace would be a hundred requests a cycle on a hundred namespaces),
//! through the API server's aggregation layer, divided by the pods' limits
//! (their requests where no container has a limit) and the nodes'
//! allocatable resources; for `select containers`, each container's usage
//! (`containers[].usage`) by its own limit (or request).
//!
//! metrics-server keeps no history: each cycle appends the current usage,
//! and a window fills as cycles pass. When the API is not served (no
//! metrics-server installed) the metrics are unknown and rules on them do
//! not fire; the source then asks again only once a minute.

use super::metrics::METRICS;
use crate::act::quantity;
use crate::catalog::Kind;
use crate::engine::observation::TargetId;
use crate::engine::series::Sample;
use crate::observe::queries::{Fetched, Landing, Query, Scope, Wanted};
use crate::observe::Cluster;
use k8s_openapi::api::core::v1::{Node, Pod};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The metrics metrics-server measures.
pub const SERVED: [&str; 4] = ["memory_percent", "memory_bytes", "cpu_percent", "cpu_cores"];

#[derive(Debug, Deserialize)]
pub struct MetricsList<T> {
    pub items: Vec<T>,
}

#[derive(Debug, Deserialize)]
pub struct PodMetrics {
    pub metadata: Meta,
    #[serde(default)]
    pub containers: Vec<ContainerMetrics>,
}

#[derive(Debug, Deserialize)]
pub struct NodeMetrics {
    pub metadata: Meta,
    #[serde(default)]
    pub usage: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
pub struct Meta {
    pub name: String,
    #[serde(default)]
    pub namespace: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ContainerMetrics {
    pub name: String,
    #[serde(default)]
    pub usage: BTreeMap<String, String>,
}

pub struct MetricsServerSource {
    client: kube::Client,
    /// Whether the last cycle's lists all answered: a change is logged once.
    answering: bool,
    /// While the API is not served, when to ask again.
    absent_until: Option<std::time::Instant>,
}

/// How long an API the server does not serve (404: no metrics-server
/// registered) is left alone; one that is down (503) is asked sooner.
const ABSENT_FOR: std::time::Duration = std::time::Duration::from_secs(60);
const DOWN_FOR: std::time::Duration = std::time::Duration::from_secs(10);

impl MetricsServerSource {
    pub fn new(client: kube::Client) -> MetricsServerSource {
        MetricsServerSource {
            client,
            answering: true,
            absent_until: None,
        }
    }

    /// Reads the usage the `wanted` metrics need at `now` into `fetched`.
    pub async fn fetch(
        &mut self,
        wanted: &[Wanted],
        cluster: &Cluster,
        now: i64,
        fetched: &mut Fetched,
    ) {
        let wanted: Vec<&Wanted> = wanted
            .iter()
            .filter(|w| SERVED.contains(&w.name.as_str()))
            .collect();
        if wanted.is_empty() {
            return;
        }
        if self
            .absent_until
            .is_some_and(|until| std::time::Instant::now() < until)
        {
            for metric in SERVED {
                fetched.fail(&failed(metric, None));
            }
            return;
        }
        let mut namespaces = BTreeSet::new();
        let mut nodes = false;
        // A policy on containers reads each container's usage: the same
        // list, divided by that container's own limit.
        let containers = wanted.iter().any(|w| w.landing != Landing::Objects);
        let pods_too = wanted
            .iter()
            .any(|w| w.landing != Landing::Containers && w.scope != Scope::Cluster);
        for want in &wanted {
            for pod in &cluster.pods {
                if let Some(ns) = pod.metadata.namespace.as_deref() {
                    if want.scope.covers(ns) {
                        namespaces.insert(ns.to_string());
                    }
                }
            }
            nodes |= want.scope == Scope::Cluster;
        }
        let mut first_error = None;
        let pods: HashMap<(&str, &str), &Pod> = cluster
            .pods
            .iter()
            .filter_map(|p| {
                Some((
                    (
                        p.metadata.namespace.as_deref()?,
                        p.metadata.name.as_deref()?,
                    ),
                    &**p,
                ))
            })
            .collect();
        if !namespaces.is_empty() {
            match self
                .list::<PodMetrics>("/apis/metrics.k8s.io/v1beta1/pods")
                .await
            {
                Ok(items) => {
                    for item in items {
                        let Some(ns) = item.metadata.namespace.as_deref() else {
                            continue;
                        };
                        if !namespaces.contains(ns) {
                            continue;
                        }
                        let spec = pods.get(&(ns, item.metadata.name.as_str())).copied();
                        if pods_too {
                            let id = TargetId {
                                kind: Kind::Pods,
                                namespace: Some(ns.to_string()),
                                name: item.metadata.name.clone(),
                            };
                            add(fetched, &id, pod_values(&item, spec), now);
                        }
                        if containers {
                            for (container, values) in container_values(&item, spec) {
                                let id = TargetId::container(ns, &item.metadata.name, container);
                                add(fetched, &id, values, now);
                            }
                        }
                    }
                }
                Err(error) => {
                    first_error.get_or_insert(error);
                    // The pods' series are unknown, not the nodes': their
                    // list is its own request.
                    for ns in &namespaces {
                        for metric in SERVED {
                            fetched.fail(&failed(metric, Some(ns)));
                        }
                    }
                }
            }
        }
        if nodes {
            let by_name: HashMap<&str, &Node> = cluster
                .nodes
                .iter()
                .filter_map(|n| Some((n.metadata.name.as_deref()?, &**n)))
                .collect();
            match self
                .list::<NodeMetrics>("/apis/metrics.k8s.io/v1beta1/nodes")
                .await
            {
                Ok(items) => {
                    for item in items {
                        let node = by_name.get(item.metadata.name.as_str()).copied();
                        let id = TargetId {
                            kind: Kind::Nodes,
                            namespace: None,
                            name: item.metadata.name.clone(),
                        };
                        add(fetched, &id, node_values(&item, node), now);
                    }
                }
                Err(error) => {
                    first_error.get_or_insert(error);
                    for metric in SERVED {
                        fetched.fail(&failed(metric, None));
                    }
                }
            }
        }
        match (first_error, self.answering) {
            (None, false) => {
                tracing::info!("metrics-server answers again");
                self.answering = true;
            }
            (Some(error), true) => {
                tracing::warn!(
                    %error,
                    "metrics.k8s.io does not answer (is metrics-server installed?): CPU and memory are unknown, and rules on them do not fire"
                );
                self.answering = false;
            }
            _ => {}
        }
    }

    async fn list<T: serde::de::DeserializeOwned>(&mut self, path: &str) -> Result<Vec<T>, String> {
        let request = http::Request::get(path)
            .body(Vec::new())
            .map_err(|e| e.to_string())?;
        let answer = self.client.request::<MetricsList<T>>(request).await;
        METRICS.source_query("metrics-server", answer.is_ok());
        if let Err(kube::Error::Api(status)) = &answer {
            let pause = match status.code {
                404 => Some(ABSENT_FOR),
                503 => Some(DOWN_FOR),
                _ => None,
            };
            if let Some(pause) = pause {
                self.absent_until = Some(std::time::Instant::now() + pause);
            }
        }
        answer.map(|list| list.items).map_err(|e| e.to_string())
    }
}

/// A failed list stands for every metric it would have given.
fn failed(metric: &str, namespace: Option<&str>) -> Query {
    Query {
        metric: metric.to_string(),
        promql: String::new(),
        namespace: namespace.map(str::to_string),
        ..Query::default()
    }
}

fn add(fetched: &mut Fetched, id: &TargetId, values: Vec<(&str, f64)>, now: i64) {
    let series = fetched.samples.entry(id.clone()).or_default();
    for (name, value) in values {
        if value.is_finite() {
            series.insert(name.to_string(), vec![Sample::new(now, value)]);
        }
    }
}

/// Each resource metrics-server measures, with the metrics of its amount
/// and of its share.
const RESOURCES: [(&str, &str, &str); 2] = [
    ("memory", "memory_bytes", "memory_percent"),
    ("cpu", "cpu_cores", "cpu_percent"),
];

/// A pod's usage, and its share of its limits (of its requests where no
/// container has a limit for the resource): only the containers that have
/// one count toward the share, as a container without a limit has no share
/// of one.
pub fn pod_values(metrics: &PodMetrics, pod: Option<&Pod>) -> Vec<(&'static str, f64)> {
    let mut values = Vec::new();
    for (resource, amount, percent) in RESOURCES {
        let usage: Vec<(&str, f64)> = metrics
            .containers
            .iter()
            .filter_map(|c| Some((c.name.as_str(), quantity::parse(c.usage.get(resource)?)?)))
            .collect();
        if usage.is_empty() {
            continue;
        }
        values.push((amount, usage.iter().map(|(_, v)| v).sum()));
        let Some(pod) = pod else {
            continue;
        };
        let bound = |field: Field| {
            let (mut used, mut allowed) = (0.0, 0.0);
            for (name, value) in &usage {
                if let Some(limit) = declared(pod, name, resource, field) {
                    used += value;
                    allowed += limit;
                }
            }
            (allowed > 0.0).then(|| 100.0 * used / allowed)
        };
        if let Some(share) = bound(Field::Limits).or_else(|| bound(Field::Requests)) {
            values.push((percent, share));
        }
    }
    values
}

/// Which of a container's resource amounts bounds its share.
#[derive(Debug, Clone, Copy)]
enum Field {
    Limits,
    Requests,
}

/// The amount of `resource` the container `name` of `pod` declares in
/// `field`; `None` where it declares none above 0.
fn declared(pod: &Pod, name: &str, resource: &str, field: Field) -> Option<f64> {
    let resources = pod
        .spec
        .as_ref()?
        .containers
        .iter()
        .find(|c| c.name == name)?
        .resources
        .as_ref()?;
    let amounts = match field {
        Field::Limits => resources.limits.as_ref(),
        Field::Requests => resources.requests.as_ref(),
    }?;
    quantity::parse(&amounts.get(resource)?.0).filter(|amount| *amount > 0.0)
}

/// Each container's usage, and its share of its own limit (of its request
/// where it has no limit for the resource), as [`pod_values`] reads a pod
/// but without summing: one busy container among idle ones is its own.
pub fn container_values<'m>(
    metrics: &'m PodMetrics,
    pod: Option<&Pod>,
) -> Vec<(&'m str, Vec<(&'static str, f64)>)> {
    metrics
        .containers
        .iter()
        .filter(|c| !c.name.is_empty())
        .map(|c| {
            let mut values = Vec::new();
            for (resource, amount, percent) in RESOURCES {
                let Some(usage) = c.usage.get(resource).and_then(|q| quantity::parse(q)) else {
                    continue;
                };
                values.push((amount, usage));
                let share = pod.and_then(|pod| {
                    declared(pod, &c.name, resource, Field::Limits)
                        .or_else(|| declared(pod, &c.name, resource, Field::Requests))
                });
                if let Some(share) = share {
                    values.push((percent, 100.0 * usage / share));
                }
            }
            (c.name.as_str(), values)
        })
        .collect()
}

/// A node's usage and its share of the node's allocatable resources.
pub fn node_values(metrics: &NodeMetrics, node: Option<&Node>) -> Vec<(&'static str, f64)> {
    let mut values = Vec::new();
    for (resource, amount, percent) in RESOURCES {
        let Some(usage) = metrics.usage.get(resource).and_then(|q| quantity::parse(q)) else {
            continue;
        };
        values.push((amount, usage));
        let allocatable = node
            .and_then(|n| n.status.as_ref())
            .and_then(|s| s.allocatable.as_ref())
            .and_then(|a| a.get(resource))
            .and_then(|q| quantity::parse(&q.0))
            .filter(|a| *a > 0.0);
        if let Some(allocatable) = allocatable {
            values.push((percent, 100.0 * usage / allocatable));
        }
    }
    values
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A PodMetricsList as metrics-server v0.7 answers it.
    fn pod_metrics() -> PodMetrics {
        let list: MetricsList<PodMetrics> = serde_json::from_value(json!({
            "kind": "PodMetricsList", "apiVersion": "metrics.k8s.io/v1beta1",
            "metadata": {},
            "items": [{
                "metadata": {"name": "web-a", "namespace": "shop", "creationTimestamp": "2026-12-07T10:00:00Z",
                             "labels": {"app": "web"}},
                "timestamp": "2026-12-07T10:00:00Z", "window": "10.265s",
                "containers": [
                    {"name": "app", "usage": {"cpu": "250000000n", "memory": "384Mi"}},
                    {"name": "sidecar", "usage": {"cpu": "1m", "memory": "16Mi"}}
                ]
            }]
        }))
        .expect("the wire format");
        list.items.into_iter().next().expect("one item")
    }

    fn pod(resources: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "web-a", "namespace": "shop"},
            "spec": {"containers": [{"name": "app", "resources": resources}, {"name": "sidecar"}]}
        }))
        .expect("a pod")
    }

    fn value(values: &[(&str, f64)], name: &str) -> Option<f64> {
        values.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    #[test]
    fn a_pods_share_is_of_the_limits_its_containers_have() {
        let pod = pod(json!({"limits": {"memory": "512Mi", "cpu": "500m"}}));
        let values = pod_values(&pod_metrics(), Some(&pod));
        assert_eq!(value(&values, "memory_bytes"), Some(400.0 * 1_048_576.0));
        // The sidecar has no limit: 384Mi of the app's 512Mi.
        assert_eq!(value(&values, "memory_percent"), Some(75.0));
        assert_eq!(value(&values, "cpu_cores"), Some(0.251));
        assert_eq!(value(&values, "cpu_percent"), Some(50.0));
    }

    #[test]
    fn without_limits_the_share_is_of_the_requests_and_without_either_unknown() {
        let requested = pod(json!({"requests": {"memory": "768Mi"}}));
        let values = pod_values(&pod_metrics(), Some(&requested));
        assert_eq!(value(&values, "memory_percent"), Some(50.0));
        assert_eq!(value(&values, "cpu_percent"), None);
        let values = pod_values(&pod_metrics(), None);
        assert_eq!(value(&values, "memory_percent"), None);
        assert!(value(&values, "memory_bytes").is_some());
    }

    #[test]
    fn each_containers_share_is_of_its_own_limit_or_request() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "web-a", "namespace": "shop"},
            "spec": {"containers": [
                {"name": "app", "resources": {"limits": {"memory": "512Mi", "cpu": "500m"},
                                              "requests": {"memory": "256Mi"}}},
                {"name": "sidecar", "resources": {"requests": {"memory": "32Mi", "cpu": "2m"}}}]}
        }))
        .expect("a pod");
        let metrics = pod_metrics();
        let values = container_values(&metrics, Some(&pod));
        let of = |name: &str| {
            values
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
                .expect("the container")
        };
        let (app, sidecar) = (of("app"), of("sidecar"));
        assert_eq!(value(&app, "memory_bytes"), Some(384.0 * 1_048_576.0));
        assert_eq!(value(&app, "memory_percent"), Some(75.0), "of its limit");
        assert_eq!(value(&app, "cpu_cores"), Some(0.25));
        assert_eq!(value(&app, "cpu_percent"), Some(50.0));
        // No limit: of its own request, not summed with the app's.
        assert_eq!(value(&sidecar, "memory_percent"), Some(50.0));
        assert_eq!(value(&sidecar, "cpu_percent"), Some(50.0));
        assert_eq!(value(&sidecar, "memory_bytes"), Some(16.0 * 1_048_576.0));
        // Without the pod, usage only.
        let unknown = container_values(&metrics, None);
        assert!(unknown
            .iter()
            .all(|(_, v)| value(v, "cpu_percent").is_none() && value(v, "cpu_cores").is_some()));
    }

    #[test]
    fn a_nodes_share_is_of_its_allocatable_resources() {
        let metrics: NodeMetrics = serde_json::from_value(json!({
            "metadata": {"name": "node-1"}, "timestamp": "2026-12-07T10:00:00Z", "window": "20s",
            "usage": {"cpu": "1500m", "memory": "6Gi"}
        }))
        .expect("NodeMetrics");
        let node: Node = serde_json::from_value(json!({
            "metadata": {"name": "node-1"},
            "status": {"allocatable": {"cpu": "4", "memory": "8Gi"}}
        }))
        .expect("a node");
        let values = node_values(&metrics, Some(&node));
        assert_eq!(value(&values, "cpu_percent"), Some(37.5));
        assert_eq!(value(&values, "memory_percent"), Some(75.0));
    }

    #[test]
    fn garbage_usage_is_no_value_and_no_panic() {
        let metrics: PodMetrics = serde_json::from_value(json!({
            "metadata": {"name": "x", "namespace": "shop"},
            "containers": [{"name": "app", "usage": {"cpu": "lots", "memory": "-5Mi"}}]
        }))
        .expect("PodMetrics");
        assert_eq!(pod_values(&metrics, None), []);
        assert_eq!(container_values(&metrics, None), [("app", vec![])]);
    }
}
