//! Tests against a real Kubernetes control plane (kube-apiserver,
//! kube-controller-manager, kube-scheduler and etcd, built by
//! `tests/cluster/`), started once for this test binary. Each test works in
//! a namespace of its own; tests that run an operator take turns.

// The real helm, shared with tests/helm.rs.
#[path = "common/helm.rs"]
mod helm;
// The Grafana dashboard's queries, shared with tests/dashboard.rs.
#[path = "common/dashboard.rs"]
mod dashboard_file;
// A real Prometheus and the exporter it scrapes, shared with
// tests/prometheus_access.rs.
#[path = "common/prometheus.rs"]
mod real_prometheus;

mod on_cluster {
    pub mod control_plane;
    pub mod support;

    mod ai;
    mod autoscalers;
    mod basics;
    mod cluster_scoped;
    mod containers;
    mod crds;
    mod events;
    mod guards;
    mod healing;
    mod helm;
    mod in_cluster;
    mod kinds;
    mod kubelet;
    mod metrics;
    mod metrics_server;
    mod node_exporter;
    mod node_filesystems;
    mod operations;
    mod prometheus_source;
    mod shards;
    mod statuses;
    mod templates;
}
