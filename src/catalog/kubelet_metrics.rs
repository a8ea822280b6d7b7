//! The metrics of a node that only its kubelet counts, read through
//! Prometheus' scrape of the kubelets.
//!
//! The kubelet labels its series by scrape target (`instance`); its own
//! `kubelet_node_name` series names the node it runs on, which is how the
//! kubernetes-mixin joins them (KubeNodeEviction, KubeletTooManyPods).
//!
//! Invariant: static data only.

use super::metrics::{Bounds, MetricInfo};
use super::{Aggregation, Kinds, Series, Source, Unit};

pub(super) const EVICTIONS: MetricInfo = MetricInfo {
    name: "evictions",
    unit: Unit::Count,
    kinds: Kinds::NODES,
    source: Source::Kubelet,
    series: Series::Counter,
    aggregation: Aggregation::Sum,
    // Summed over eviction signals before the engine takes the increase: a
    // kubelet's restart resets all of them at once, which the engine counts
    // as growth from zero, and a signal's first eviction (a new series)
    // counts, where a rate over that series alone would miss it.
    promql: Some(
        "sum by (node) (kubelet_evictions \
         * on (instance) group_left (node) max by (instance, node) (kubelet_node_name{node=~\"$node\"}))",
    ),
    description: "Pods the kubelet has evicted since it started, for any eviction signal (memory, disk, PIDs): its `kubelet_evictions` counter, summed over signals.",
    bounds: Bounds::NOT_NEGATIVE,
};
