//! A metric as rules read it, and how a declared metric's series reach the
//! targets of each kind: the contract the checker enforces (E0505), the
//! operator's observer and the simulator follow, and `explain` prints.

use crate::catalog::{Aggregation, Kind, Series, Source, Unit};
use serde::{Deserialize, Serialize};

/// A metric some rule reads: a built-in from the catalog or a declared one.
///
/// A built-in has one entry per kind of policy that reads it, because where
/// its value comes from depends on the kind (a node's memory is not a pod's);
/// a declared metric has one entry, whose query the user wrote for every kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    pub name: String,
    pub unit: Unit,
    pub series: Series,
    pub source: Source,
    /// How a workload's value is made of its pods' values (the engine groups
    /// the pods' series by owner): set for a built-in pod metric read for a
    /// workload, and for a declared metric (used where its series are per
    /// pod, see [`Metric::read_on`]); `None` where the target's own value is
    /// read (a pod's, a node's, a workload's own status such as
    /// `unavailable_replicas`).
    pub aggregation: Option<Aggregation>,
    /// The kind of target this entry is read for: `Some` for a built-in,
    /// `None` for a declared metric (the same query for every kind).
    pub kind: Option<Kind>,
    /// The PromQL template with `$namespace`/`$pod`/`$node`/`$workload`
    /// placeholders, for this entry's kind: always set for declared metrics;
    /// set for built-ins that Prometheus can serve for that kind.
    pub promql: Option<String>,
    pub builtin: bool,
    /// A declared metric's result labels as its query's outermost grouping
    /// says them (`by (deployment)`: `["deployment"]`), sorted; `None` where
    /// the query's shape does not tell (a raw selector, `label_replace`), and
    /// for built-ins.
    #[serde(default)]
    pub labels: Option<Vec<String>>,
}

/// How a declared metric's series reach the targets of one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// One series per pod (label `pod`); a workload's value is its pods'
    /// combined as [`Metric::aggregation`] says.
    PerPod,
    /// One series per container, named by its `pod` and `container`
    /// labels together (a container's name is unique only in its pod).
    PerContainer,
    /// One series per object of the kind, named by this label of its own
    /// (`deployment` for a Deployment, `node` for a node).
    Own(&'static str),
    /// The query's shape does not tell: each series' labels decide as it
    /// comes. A series with `pod` is that pod's; one with the workload's own
    /// label and no `pod` is the workload's.
    ByLabels,
    /// Its series can name no object of the kind: the rule stays unknown
    /// (the checker refuses this for pods, workloads, nodes and containers,
    /// E0505).
    Unjoined,
}

impl Metric {
    /// How this declared metric's series reach a target of `kind`.
    pub fn read_on(&self, kind: Kind) -> Read {
        let Some(own) = kind.series_label() else {
            return Read::Unjoined;
        };
        let per_pod = kind == Kind::Pods || kind.is_workload();
        if kind == Kind::Containers {
            let has = |label: &str| self.labels.iter().flatten().any(|l| l == label);
            // A shape that does not tell: each series' labels decide.
            return if self.labels.is_none() || (has("pod") && has(own)) {
                Read::PerContainer
            } else {
                Read::Unjoined
            };
        }
        match &self.labels {
            None if kind.is_workload() => Read::ByLabels,
            None if kind == Kind::Pods => Read::PerPod,
            None => Read::Own(own),
            Some(labels) => {
                let has = |label: &str| labels.iter().any(|l| l == label);
                if per_pod && has("pod") {
                    Read::PerPod
                } else if kind != Kind::Pods && has(own) {
                    Read::Own(own)
                } else {
                    Read::Unjoined
                }
            }
        }
    }

    /// The labels a series of this metric may name a target of `kind` by,
    /// in the order the observer tries them: what E0505 asks the query's
    /// grouping to keep.
    pub fn join_labels(kind: Kind) -> Vec<&'static str> {
        match kind {
            Kind::Pods => vec!["pod"],
            Kind::Containers => vec!["pod", "container"],
            k if k.is_workload() => ["pod"].into_iter().chain(k.series_label()).collect(),
            k => k.series_label().into_iter().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared(labels: Option<&[&str]>) -> Metric {
        Metric {
            name: "m".into(),
            unit: Unit::Count,
            series: Series::Gauge,
            source: Source::Prometheus,
            aggregation: Some(Aggregation::Sum),
            kind: None,
            promql: Some("m".into()),
            builtin: false,
            labels: labels.map(|ls| ls.iter().map(|l| l.to_string()).collect()),
        }
    }

    #[test]
    fn the_grouping_decides_how_each_kind_reads_a_declared_metric() {
        let by_pod = declared(Some(&["pod"]));
        let by_deployment = declared(Some(&["deployment", "namespace"]));
        let both = declared(Some(&["deployment", "pod"]));
        let unknown = declared(None);
        let by_node = declared(Some(&["node"]));
        assert_eq!(by_pod.read_on(Kind::Pods), Read::PerPod);
        assert_eq!(by_pod.read_on(Kind::Deployments), Read::PerPod);
        assert_eq!(
            by_deployment.read_on(Kind::Deployments),
            Read::Own("deployment")
        );
        assert_eq!(by_deployment.read_on(Kind::StatefulSets), Read::Unjoined);
        assert_eq!(by_deployment.read_on(Kind::Pods), Read::Unjoined);
        // A pod's series first, as the observer reads them.
        assert_eq!(both.read_on(Kind::Deployments), Read::PerPod);
        assert_eq!(unknown.read_on(Kind::Pods), Read::PerPod);
        assert_eq!(unknown.read_on(Kind::DaemonSets), Read::ByLabels);
        assert_eq!(unknown.read_on(Kind::Nodes), Read::Own("node"));
        assert_eq!(by_node.read_on(Kind::Nodes), Read::Own("node"));
        assert_eq!(by_pod.read_on(Kind::Nodes), Read::Unjoined);
        assert_eq!(unknown.read_on(Kind::Jobs), Read::Unjoined);
        assert_eq!(
            Metric::join_labels(Kind::StatefulSets),
            ["pod", "statefulset"]
        );
        assert_eq!(Metric::join_labels(Kind::Nodes), ["node"]);
    }

    #[test]
    fn a_container_is_read_by_its_pod_and_its_name_together() {
        let by_container = declared(Some(&["container", "namespace", "pod"]));
        assert_eq!(by_container.read_on(Kind::Containers), Read::PerContainer);
        assert_eq!(declared(None).read_on(Kind::Containers), Read::PerContainer);
        for labels in [&["pod"][..], &["container"], &[]] {
            assert_eq!(
                declared(Some(labels)).read_on(Kind::Containers),
                Read::Unjoined,
                "{labels:?}"
            );
        }
        // A pod's policy reads the same series per pod, as before.
        assert_eq!(by_container.read_on(Kind::Pods), Read::PerPod);
        assert_eq!(Metric::join_labels(Kind::Containers), ["pod", "container"]);
    }
}
