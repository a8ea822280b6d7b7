//! Where the metrics the objects do not carry come from: Prometheus when
//! one is configured (every catalog metric it serves and every declared
//! `promql` metric), metrics-server otherwise (CPU and memory). What the
//! evaluation loop calls once per cycle, before it observes.

use super::metrics_server::MetricsServerSource;
use super::prometheus::PrometheusSource;
use crate::observe::queries::{self, Evaluated, Fetched};
use crate::observe::Cluster;
use std::collections::BTreeSet;

pub enum Sources {
    Prometheus(PrometheusSource),
    MetricsServer {
        source: MetricsServerSource,
        /// Declared metrics already reported as needing Prometheus.
        told: BTreeSet<String>,
    },
}

impl Sources {
    pub fn new(client: &kube::Client, prometheus: Option<PrometheusSource>) -> Sources {
        match prometheus {
            Some(source) => Sources::Prometheus(source),
            None => Sources::MetricsServer {
                source: MetricsServerSource::new(client.clone()),
                told: BTreeSet::new(),
            },
        }
    }

    /// What `programs` read from the sources at `now`, each
    /// window read at `step` seconds.
    pub async fn fetch(
        &mut self,
        programs: &[(Option<String>, crate::ir::Program)],
        cluster: &Cluster,
        now: i64,
        step: i64,
    ) -> Fetched {
        let programs: Vec<Evaluated<'_>> = programs
            .iter()
            .map(|(namespace, program)| Evaluated {
                program,
                namespace: namespace.as_deref(),
            })
            .collect();
        let wanted = queries::wanted(&programs);
        let mut fetched = Fetched {
            aggregations: wanted
                .iter()
                .filter_map(|w| Some((w.name.clone(), (w.aggregation?, w.counter))))
                .collect(),
            ..Fetched::default()
        };
        if wanted.is_empty() {
            return fetched;
        }
        match self {
            Sources::Prometheus(source) => {
                let queries = queries::plan(&wanted, cluster);
                source.fetch(&queries, now, step, &mut fetched).await;
            }
            Sources::MetricsServer { source, told } => {
                for want in &wanted {
                    let served = super::metrics_server::SERVED.contains(&want.name.as_str());
                    if !served && told.insert(want.name.clone()) {
                        tracing::warn!(
                            metric = %want.name,
                            "this metric is read from Prometheus, and none is configured (--prometheus-url): rules on it do not fire"
                        );
                    }
                }
                source.fetch(&wanted, cluster, now, &mut fetched).await;
            }
        }
        fetched
    }
}
