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
    // One series per eviction signal (and scrape job), each joined to its
    // node, with no other label (a scrape's own `pod` or `namespace` would
    // land it elsewhere): the operator combines a node's series by their
    // growth, as the mixin's `sum by (eviction_signal, instance)
    // (rate(…))` reads them, where a sum over signals would read a
    // signal's first eviction (a new series) or a series gone as growth of
    // the whole.
    promql: Some(
        "sum by (node, eviction_signal, instance, job) (kubelet_evictions \
         * on (instance) group_left (node) max by (instance, node) (kubelet_node_name{node=~\"$node\"}))",
    ),
    description: "Pods the kubelet has evicted, for any eviction signal (memory, disk, PIDs): its `kubelet_evictions` counters, combined over signals by their growth, so a kubelet's restart does not set it back.",
    bounds: Bounds::NOT_NEGATIVE,
};
