//! The operator's own metrics, in the Prometheus exposition format on
//! `/metrics` (see [`super::serve`]): what it decided and did, what held it
//! back, how long evaluation and healing take, and what it had no data for.
//!
//! One registry for the process, as a Prometheus client library keeps: the
//! metrics are recorded where things happen (a decision's record, a
//! verification, the breaker's report) without threading a handle through
//! every call.

use super::crd::{ActionPhase, HealingAction, OriginKind};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::LazyLock;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActionLabels {
    pub action: String,
    pub namespace: String,
    pub phase: String,
    pub origin: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PolicyLabels {
    pub policy: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AiLabels {
    pub model: String,
    pub origin: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MetricLabels {
    pub metric: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceLabels {
    /// `prometheus` or `metrics-server`.
    pub source: String,
    /// `ok` or `error`.
    pub outcome: String,
}

/// How a family is exposed, which decides the names its series carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Type {
    Counter,
    Gauge,
    Histogram,
}

/// One metric family of `/metrics`: the registry registers exactly these,
/// and whatever else reads the names (the Grafana dashboard's test) reads
/// them here, so a renamed metric cannot leave a panel querying nothing.
#[derive(Clone, Copy, Debug)]
pub struct Exported {
    /// As registered: a counter's without its `_total`, which the encoder adds.
    pub name: &'static str,
    pub help: &'static str,
    pub kind: Type,
}

impl Exported {
    /// The names of the series a query can select.
    pub fn series(&self) -> Vec<String> {
        match self.kind {
            Type::Counter => vec![format!("{}_total", self.name)],
            Type::Gauge => vec![self.name.to_string()],
            Type::Histogram => ["_bucket", "_sum", "_count"]
                .iter()
                .map(|suffix| format!("{}{suffix}", self.name))
                .collect(),
        }
    }
}

const ACTIONS: Exported = Exported {
    name: "kubeskippy_healing_actions",
    help: "HealingActions reaching a phase, by action, namespace, phase and origin",
    kind: Type::Counter,
};
const BLOCKS: Exported = Exported {
    name: "kubeskippy_safety_blocks",
    help: "Actions held back by the safety controller, by reason",
    kind: Type::Counter,
};
const RULE_EVALUATIONS: Exported = Exported {
    name: "kubeskippy_rule_evaluations",
    help: "Rules evaluated, each rule of each policy once per pass",
    kind: Type::Counter,
};
const EVALUATION_SECONDS: Exported = Exported {
    name: "kubeskippy_evaluation_duration_seconds",
    help: "The engine's time for one pass over every policy",
    kind: Type::Histogram,
};
const TIME_TO_HEAL: Exported = Exported {
    name: "kubeskippy_time_to_heal_seconds",
    help: "From when a fault began to hold to the verification that it healed",
    kind: Type::Histogram,
};
const BREAKER_OPEN: Exported = Exported {
    name: "kubeskippy_circuit_breaker_open",
    help: "1 while the policy's circuit breaker is open",
    kind: Type::Gauge,
};
const AI_SECONDS: Exported = Exported {
    name: "kubeskippy_ai_analysis_duration_seconds",
    help: "The AI analyzer's time to answer a case",
    kind: Type::Histogram,
};
const AI_CONFIDENCE: Exported = Exported {
    name: "kubeskippy_ai_confidence",
    help: "The confidence the AI stated for its accepted choices",
    kind: Type::Histogram,
};
const UNKNOWN: Exported = Exported {
    name: "kubeskippy_metric_unknown",
    help: "Rule evaluations left unknown, by the metric, status or event that had no data",
    kind: Type::Counter,
};

const SOURCE_QUERIES: Exported = Exported {
    name: "kubeskippy_source_queries",
    help: "Queries to the metric sources (Prometheus, metrics-server), by source and outcome",
    kind: Type::Counter,
};

/// Every family `/metrics` exposes.
pub const NAMES: &[Exported] = &[
    ACTIONS,
    BLOCKS,
    RULE_EVALUATIONS,
    EVALUATION_SECONDS,
    TIME_TO_HEAL,
    BREAKER_OPEN,
    AI_SECONDS,
    AI_CONFIDENCE,
    UNKNOWN,
    SOURCE_QUERIES,
];

pub struct Metrics {
    registry: Registry,
    /// Records reaching a phase, by action, namespace, phase and origin.
    pub actions: Family<ActionLabels, Counter>,
    /// Actions held back, by reason (`cooldown`, `circuit-breaker`, …).
    pub blocks: Family<ReasonLabels, Counter>,
    /// Rules evaluated (each rule of each policy, once per pass).
    pub rule_evaluations: Counter,
    /// The engine's time for one pass over every policy.
    pub evaluation_seconds: Histogram,
    /// From when a fault began to hold to its verified healing.
    pub time_to_heal_seconds: Histogram,
    /// 1 while a policy's circuit breaker is open.
    pub breaker_open: Family<PolicyLabels, Gauge>,
    /// The AI analyzer's latency by model and origin (`ai`, `fallback`),
    /// and its stated confidence.
    pub ai_seconds: Family<AiLabels, Histogram, fn() -> Histogram>,
    pub ai_confidence: Histogram,
    /// Evaluations of a rule that a metric (or status, event) had no data
    /// for, by what was missing.
    pub unknown: Family<MetricLabels, Counter>,
    /// Queries to the metric sources, by source and outcome.
    pub source_queries: Family<SourceLabels, Counter>,
}

impl Metrics {
    fn new() -> Metrics {
        let metrics = Metrics {
            registry: Registry::default(),
            actions: Family::default(),
            blocks: Family::default(),
            rule_evaluations: Counter::default(),
            evaluation_seconds: Histogram::new(exponential_buckets(0.000_5, 2.0, 16)),
            time_to_heal_seconds: Histogram::new(exponential_buckets(1.0, 2.0, 14)),
            breaker_open: Family::default(),
            ai_seconds: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.01, 2.0, 14))
            }),
            ai_confidence: Histogram::new([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]),
            unknown: Family::default(),
            source_queries: Family::default(),
        };
        let mut registry = Registry::default();
        registry.register(ACTIONS.name, ACTIONS.help, metrics.actions.clone());
        registry.register(BLOCKS.name, BLOCKS.help, metrics.blocks.clone());
        registry.register(
            RULE_EVALUATIONS.name,
            RULE_EVALUATIONS.help,
            metrics.rule_evaluations.clone(),
        );
        registry.register(
            EVALUATION_SECONDS.name,
            EVALUATION_SECONDS.help,
            metrics.evaluation_seconds.clone(),
        );
        registry.register(
            TIME_TO_HEAL.name,
            TIME_TO_HEAL.help,
            metrics.time_to_heal_seconds.clone(),
        );
        registry.register(
            BREAKER_OPEN.name,
            BREAKER_OPEN.help,
            metrics.breaker_open.clone(),
        );
        registry.register(AI_SECONDS.name, AI_SECONDS.help, metrics.ai_seconds.clone());
        registry.register(
            AI_CONFIDENCE.name,
            AI_CONFIDENCE.help,
            metrics.ai_confidence.clone(),
        );
        registry.register(UNKNOWN.name, UNKNOWN.help, metrics.unknown.clone());
        registry.register(
            SOURCE_QUERIES.name,
            SOURCE_QUERIES.help,
            metrics.source_queries.clone(),
        );
        Metrics {
            registry,
            ..metrics
        }
    }

    /// The exposition text of every metric.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }

    /// A record reached `phase`.
    pub fn action(&self, action: &str, namespace: &str, phase: &str, origin: &str) {
        self.actions
            .get_or_create(&ActionLabels {
                action: action.into(),
                namespace: namespace.into(),
                phase: phase.into(),
                origin: origin.into(),
            })
            .inc();
    }

    /// A query to a metric source ended in `ok` or `error`.
    pub fn source_query(&self, source: &str, ok: bool) {
        self.source_queries
            .get_or_create(&SourceLabels {
                source: source.into(),
                outcome: if ok { "ok" } else { "error" }.into(),
            })
            .inc();
    }

    pub fn block(&self, reason: &str) {
        self.blocks
            .get_or_create(&ReasonLabels {
                reason: reason.into(),
            })
            .inc();
    }
}

/// Counts `record` reaching `phase`, and a block by its reason.
pub fn count(record: &HealingAction, phase: ActionPhase, reason: Option<&str>) {
    // A case the AI analyzer answered: who chose (`ai` or `fallback`).
    let answered = record
        .status
        .as_ref()
        .and_then(|s| s.ai.as_ref())
        .map(|a| a.origin.as_str());
    let origin = match (answered, record.spec.origin.kind) {
        (Some(origin), _) => origin,
        (None, OriginKind::Rule) => "rule",
        (None, OriginKind::Ai) => "ai",
    };
    METRICS.action(
        &record.spec.action.name,
        record.metadata.namespace.as_deref().unwrap_or_default(),
        &format!("{phase:?}"),
        origin,
    );
    if phase == ActionPhase::Blocked {
        METRICS.block(reason.unwrap_or("unknown"));
    }
}

/// The process's metrics.
pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_exposed_under_its_documented_name() {
        let metrics = Metrics::new();
        metrics.action("restart", "shop", "Verifying", "rule");
        metrics.block("cooldown");
        metrics.rule_evaluations.inc_by(3);
        metrics.evaluation_seconds.observe(0.002);
        metrics
            .ai_seconds
            .get_or_create(&AiLabels {
                model: "smol".into(),
                origin: "ai".into(),
            })
            .observe(0.7);
        // A family shows once it has a series.
        metrics
            .breaker_open
            .get_or_create(&PolicyLabels {
                policy: "shop/crashloop".into(),
            })
            .set(1);
        metrics
            .unknown
            .get_or_create(&MetricLabels {
                metric: "memory_percent".into(),
            })
            .inc();
        metrics.source_query("prometheus", false);
        let text = metrics.encode();
        for line in [
            "kubeskippy_source_queries_total{source=\"prometheus\",outcome=\"error\"} 1",
            "kubeskippy_healing_actions_total{action=\"restart\",namespace=\"shop\",phase=\"Verifying\",origin=\"rule\"} 1",
            "kubeskippy_safety_blocks_total{reason=\"cooldown\"} 1",
            "kubeskippy_rule_evaluations_total 3",
            "kubeskippy_evaluation_duration_seconds_count 1",
            "# TYPE kubeskippy_time_to_heal_seconds histogram",
            "kubeskippy_circuit_breaker_open{policy=\"shop/crashloop\"} 1",
            "kubeskippy_ai_analysis_duration_seconds_count{model=\"smol\",origin=\"ai\"} 1",
            "# TYPE kubeskippy_ai_confidence histogram",
            "kubeskippy_metric_unknown_total{metric=\"memory_percent\"} 1",
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
        let exposed: Vec<(&str, &str)> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.split_once(' '))
            .collect();
        let listed: Vec<(&str, &str)> = NAMES
            .iter()
            .map(|f| {
                let kind = match f.kind {
                    Type::Counter => "counter",
                    Type::Gauge => "gauge",
                    Type::Histogram => "histogram",
                };
                (f.name, kind)
            })
            .collect();
        assert_eq!(exposed, listed, "NAMES lists what the registry exposes");
    }
}
