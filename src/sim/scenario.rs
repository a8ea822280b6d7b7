//! The scenario file of `kubeskippy simulate`: a small cluster (nodes and
//! workloads with replicas), what goes wrong in it (fault generators), and the
//! policies that should heal it.
//!
//! ```yaml
//! name: demo
//! policies: [demo.skippy]        # files or folders, relative to this file
//! namespace: demo                # the HealingPolicy's namespace
//! interval: 15s
//! duration: 2h
//! seed: 7
//! nodes: [worker-1, worker-2]
//! workloads:
//!   - name: checkout
//!     replicas: 3
//!     baseline: { memory_percent: 35, cpu_percent: 20 }
//!     faults:
//!       - memory_leak: { per_minute: 2, after: 5m }
//! objects:                       # the kinds the world does not simulate
//!   - target: jobs/demo/nightly  # scripted as `kubeskippy test` targets
//!     status: { Failed: '0x10 1x50' }
//! ```
//!
//! Values are in the metric's canonical unit (percent in points, ratios as
//! fractions, bytes, cores); durations are Skippy durations.

use super::FormatError;
use crate::catalog::{Kind, BYTE_SUFFIXES};
use crate::ir::Seconds;
use crate::sim::unit_test::{parse_duration, TargetInput};
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;

/// The longest run a scenario may ask for (a year at 1 s steps would keep a
/// machine busy for hours; a typo must not).
pub const MAX_STEPS: u64 = 2_000_000;

/// The most pod-steps ((pods at the start + nodes) × steps) a run may ask for: well
/// under a minute of work, where a 24-hour run of 100 pods at 15 s is 576,000
/// and a week of them 4 million.
pub const MAX_POD_STEPS: u64 = 20_000_000;

/// The most replicas a workload may have or be scaled to.
pub const MAX_REPLICAS: u32 = 1_000;

/// A whole scenario.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Policy files or folders, relative to the scenario file.
    #[serde(default)]
    pub policies: Vec<String>,
    /// The HealingPolicy's namespace: what `select` without `in` means, and
    /// the namespace of workloads that name none.
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// Seconds between evaluations, and between samples.
    #[serde(default = "default_interval", deserialize_with = "duration")]
    pub interval: Seconds,
    /// How long the run lasts (`--until` overrides it).
    #[serde(default = "default_duration", deserialize_with = "duration")]
    pub duration: Seconds,
    /// Seeds the random failures (`--seed` overrides it).
    #[serde(default)]
    pub seed: u64,
    /// Node names; pods are spread over them.
    #[serde(default = "default_nodes")]
    pub nodes: Vec<String>,
    #[serde(default)]
    pub workloads: Vec<WorkloadSpec>,
    /// The objects the world does not simulate (jobs, autoscalers, claims,
    /// budgets, quotas, volumes, the cluster, filesystems), each scripted as
    /// a `kubeskippy test` target: one point per interval from the start.
    #[serde(default, deserialize_with = "crate::sim::budget::list")]
    pub objects: Vec<TargetInput>,
}

fn default_namespace() -> String {
    "default".into()
}

fn default_interval() -> Seconds {
    Seconds(15)
}

fn default_duration() -> Seconds {
    Seconds(3_600)
}

fn default_nodes() -> Vec<String> {
    vec!["node-1".into()]
}

/// One workload and what happens to it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    pub name: String,
    /// `deployment` (the default), `statefulset` or `daemonset`.
    #[serde(default = "default_kind", deserialize_with = "workload_kind")]
    pub kind: Kind,
    /// Default: the scenario's namespace.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Default: `app: NAME`. Pods carry the same labels.
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default = "one")]
    pub replicas: u32,
    /// Each pod's metrics at rest, in canonical units. `memory_percent` and
    /// `cpu_percent` are of the limits below; any other name (a declared
    /// metric such as `error_rate`) is reported as given: by each pod, or by
    /// the workload itself where the metric's query is grouped by the
    /// workload's own label (`by (deployment)`).
    #[serde(default)]
    pub baseline: BTreeMap<String, f64>,
    /// The memory limit of each pod (`512Mi`).
    #[serde(default = "default_memory_limit", deserialize_with = "bytes")]
    pub memory_limit: f64,
    /// The CPU limit of each pod, in cores.
    #[serde(default = "default_cpu_limit")]
    pub cpu_limit: f64,
    #[serde(default, deserialize_with = "faults")]
    pub faults: Vec<Fault>,
}

/// serde_yaml reads an externally tagged enum only from a `!tag`; a one-key
/// map reads better, so it is turned into the internally tagged form here.
fn faults<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Fault>, D::Error> {
    use serde::de::Error;
    use serde_yaml::{Mapping, Value};
    let raw = Vec::<Mapping>::deserialize(d)?;
    raw.into_iter()
        .map(|map| {
            let mut entries = map.into_iter();
            let (Some((Value::String(name), settings)), None) = (entries.next(), entries.next())
            else {
                return Err(D::Error::custom(
                    "a fault is one name with its settings, such as `- memory_leak: { per_minute: 2 }`",
                ));
            };
            let mut settings = match settings {
                Value::Mapping(m) => m,
                Value::Null => Mapping::new(),
                _ => {
                    return Err(D::Error::custom(format!(
                        "fault `{name}`: its settings are a map, such as `{{ after: 3m }}`"
                    )))
                }
            };
            settings.insert(Value::String("fault".into()), Value::String(name.clone()));
            Fault::deserialize(Value::Mapping(settings))
                .map_err(|e| D::Error::custom(format!("fault `{name}`: {e}")))
        })
        .collect()
}

fn default_kind() -> Kind {
    Kind::Deployments
}

fn one() -> u32 {
    1
}

fn default_memory_limit() -> f64 {
    512.0 * 1_048_576.0
}

fn default_cpu_limit() -> f64 {
    1.0
}

/// What goes wrong: the seeds' failure apps as generators. Written as a
/// one-key map, `- memory_leak: { per_minute: 2 }`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "fault", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    /// Memory grows steadily in each affected pod until the pod is replaced
    /// or OOM-killed (then it starts again from the baseline).
    MemoryLeak {
        /// Growth in percentage points of the initial memory limit per minute.
        per_minute: f64,
        /// When the leak starts in a pod, after the pod's start.
        #[serde(default, deserialize_with = "duration")]
        after: Seconds,
        /// How many pods leak (the first ones); default all.
        #[serde(default)]
        pods: Option<u32>,
    },
    /// The workload's load swings between `min` and `max` CPU percent (of the
    /// replicas it started with), spread over its current replicas.
    CpuSine {
        min: f64,
        max: f64,
        #[serde(deserialize_with = "duration")]
        period: Seconds,
        /// Per-pod CPU percent above which the workload counts as overloaded.
        #[serde(default = "default_hot")]
        hot: f64,
    },
    /// Pods start crash-looping at `after`.
    Crashloop {
        #[serde(deserialize_with = "duration")]
        after: Seconds,
        /// `transient` (a new pod is healthy) or `release` (every pod of the
        /// current release crashes until a rollback).
        #[serde(default)]
        cause: Cause,
        /// How many pods (the first ones); default 1.
        #[serde(default = "one")]
        pods: u32,
    },
    /// Random failures, seeded: at random times (on average every `every`) a
    /// random pod is killed or starts crash-looping.
    Chaos {
        #[serde(deserialize_with = "duration")]
        every: Seconds,
    },
    /// A metric degrades from its baseline to `to` over `over`, starting at
    /// `after` (network degradation: error rate, latency), until the pods are
    /// replaced or the workload is rolled back.
    Degrade {
        metric: String,
        to: f64,
        #[serde(deserialize_with = "duration")]
        after: Seconds,
        #[serde(default, deserialize_with = "duration")]
        over: Seconds,
    },
}

fn default_hot() -> f64 {
    80.0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Cause {
    #[default]
    Transient,
    Release,
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Seconds, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Int(u64),
        Text(String),
    }
    match Raw::deserialize(d)? {
        Raw::Int(0) => Ok(Seconds(0)),
        Raw::Int(n) => Err(serde::de::Error::custom(format!(
            "`{n}`: a duration needs its unit, such as `{n}s` or `{n}m`"
        ))),
        Raw::Text(text) => parse_duration(&text).map_err(serde::de::Error::custom),
    }
}

fn workload_kind<'de, D: Deserializer<'de>>(d: D) -> Result<Kind, D::Error> {
    let word = String::deserialize(d)?;
    match word.trim().to_ascii_lowercase().trim_end_matches('s') {
        "deployment" => Ok(Kind::Deployments),
        "statefulset" => Ok(Kind::StatefulSets),
        "daemonset" => Ok(Kind::DaemonSets),
        _ => Err(serde::de::Error::custom(format!(
            "`{word}`: a workload is a `deployment`, `statefulset` or `daemonset`"
        ))),
    }
}

/// `536870912`, `512Mi`, `1Gi`, `500M`.
fn bytes<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Number(f64),
        Text(String),
    }
    let bad = |text: &str| {
        serde::de::Error::custom(format!(
            "`{text}`: expected a size in bytes such as `512Mi` or `1Gi`"
        ))
    };
    let value = match Raw::deserialize(d)? {
        Raw::Number(n) => n,
        Raw::Text(text) => {
            let t = text.trim();
            let (number, factor) = BYTE_SUFFIXES
                .iter()
                .find_map(|(suffix, factor)| t.strip_suffix(suffix).map(|n| (n, *factor)))
                .unwrap_or((t, 1.0));
            number.trim().parse::<f64>().map_err(|_| bad(t))? * factor
        }
    };
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(serde::de::Error::custom(
            "a memory limit must be a positive size",
        ))
    }
}

impl Scenario {
    /// The workload's namespace.
    pub fn namespace_of<'a>(&'a self, workload: &'a WorkloadSpec) -> &'a str {
        workload.namespace.as_deref().unwrap_or(&self.namespace)
    }
}

impl WorkloadSpec {
    /// The workload's labels (and its pods').
    pub fn labels(&self) -> BTreeMap<String, String> {
        self.labels
            .clone()
            .unwrap_or_else(|| BTreeMap::from([("app".to_string(), self.name.clone())]))
    }
}

/// The kinds the world simulates: a scenario describes them as `workloads`
/// and `nodes`, and scripts only the others as `objects`.
pub const SIMULATED: [Kind; 5] = [
    Kind::Pods,
    Kind::Deployments,
    Kind::StatefulSets,
    Kind::DaemonSets,
    Kind::Nodes,
];

/// Parses and validates a scenario.
pub fn parse(text: &str) -> Result<Scenario, FormatError> {
    // The scripted objects' series are charged to one budget, as a test
    // file's are.
    let scenario: Scenario = super::budget::scoped(|| super::from_yaml(text))?;
    validate(&scenario).map_err(|message| FormatError {
        location: None,
        message,
    })?;
    Ok(scenario)
}

fn validate(scenario: &Scenario) -> Result<(), String> {
    if scenario.interval.0 == 0 {
        return Err("`interval` must be longer than 0s".into());
    }
    check_size(scenario, scenario.duration)?;
    if scenario.nodes.is_empty() {
        return Err("`nodes` is empty: pods need a node to run on".into());
    }
    let mut nodes = std::collections::BTreeSet::new();
    if let Some(twice) = scenario.nodes.iter().find(|n| !nodes.insert(n.as_str())) {
        return Err(format!("node `{twice}` is named twice"));
    }
    if scenario.workloads.is_empty() && scenario.objects.is_empty() {
        return Err("the scenario has no `workloads` and no `objects`".into());
    }
    let mut scripted = std::collections::BTreeSet::new();
    for object in &scenario.objects {
        let id = &object.target;
        if SIMULATED.contains(&id.kind) {
            return Err(format!(
                "object `{id}`: {} are simulated from `workloads` and `nodes`, not scripted",
                id.kind
            ));
        }
        if !scripted.insert(id) {
            return Err(format!("object `{id}` is scripted twice"));
        }
    }
    let mut names = std::collections::BTreeSet::new();
    for w in &scenario.workloads {
        let name = &w.name;
        if !names.insert((scenario.namespace_of(w), name.as_str())) {
            return Err(format!(
                "workload `{name}` is defined twice in namespace `{}`",
                scenario.namespace_of(w)
            ));
        }
        if w.replicas > MAX_REPLICAS {
            return Err(format!(
                "workload `{name}`: {} replicas is more than the simulator's {MAX_REPLICAS}",
                w.replicas
            ));
        }
        if !(w.cpu_limit.is_finite() && w.cpu_limit > 0.0) {
            return Err(format!(
                "workload `{name}`: `cpu_limit` must be a positive number of cores"
            ));
        }
        if let Some((metric, value)) = w
            .baseline
            .iter()
            .find(|(_, v)| !(v.is_finite() && **v >= 0.0))
        {
            return Err(format!(
                "workload `{name}`: baseline `{metric}` is {value}: a baseline is a number, 0 or more"
            ));
        }
        if w.baseline
            .get("memory_percent")
            .is_some_and(|m| *m >= 100.0)
        {
            return Err(format!(
                "workload `{name}`: a baseline `memory_percent` at or above 100 would OOM-kill its pods at every step"
            ));
        }
        for fault in &w.faults {
            validate_fault(w, fault)?;
        }
        let leaks = w
            .faults
            .iter()
            .filter(|f| matches!(f, Fault::MemoryLeak { .. }))
            .count();
        let sines = w
            .faults
            .iter()
            .filter(|f| matches!(f, Fault::CpuSine { .. }))
            .count();
        if leaks > 1 || sines > 1 {
            return Err(format!(
                "workload `{name}`: at most one `memory_leak` and one `cpu_sine` per workload"
            ));
        }
    }
    Ok(())
}

/// Whether a run of `until` is small enough to finish in about a minute.
pub fn check_size(scenario: &Scenario, until: Seconds) -> Result<(), String> {
    let steps = until.0 / scenario.interval.0.max(1);
    if steps > MAX_STEPS {
        return Err(format!(
            "{until} is more than {MAX_STEPS} intervals of {}: use a longer `interval` or a shorter run",
            scenario.interval
        ));
    }
    let pods: u64 = scenario
        .workloads
        .iter()
        .map(|w| u64::from(w.replicas))
        .sum();
    // Nodes and scripted objects are observed at every step as pods are.
    let nodes = u64::try_from(scenario.nodes.len()).unwrap_or(u64::MAX);
    let scripted = u64::try_from(scenario.objects.len()).unwrap_or(u64::MAX);
    let objects = pods.saturating_add(nodes).saturating_add(scripted).max(1);
    if steps.saturating_mul(objects) > MAX_POD_STEPS {
        return Err(format!(
            "{pods} pods, {nodes} nodes and {scripted} objects for {steps} steps is more than {MAX_POD_STEPS} pod-steps (a node or an object counts as a pod): use fewer, a longer `interval` or a shorter run"
        ));
    }
    Ok(())
}

fn validate_fault(w: &WorkloadSpec, fault: &Fault) -> Result<(), String> {
    let name = &w.name;
    match fault {
        Fault::MemoryLeak { per_minute, .. } if !(per_minute.is_finite() && *per_minute > 0.0) => {
            Err(format!(
                "workload `{name}`: a memory leak grows by a positive `per_minute`"
            ))
        }
        Fault::CpuSine {
            min,
            max,
            period,
            hot,
        } => {
            if !(hot.is_finite() && *hot > 0.0) {
                Err(format!(
                    "workload `{name}`: `cpu_sine` needs a positive `hot` line"
                ))
            } else if !(min.is_finite() && max.is_finite() && 0.0 <= *min && min <= max) {
                Err(format!(
                    "workload `{name}`: `cpu_sine` needs 0 <= min <= max"
                ))
            } else if period.0 == 0 {
                Err(format!(
                    "workload `{name}`: `cpu_sine` needs a period longer than 0s"
                ))
            } else {
                Ok(())
            }
        }
        Fault::Chaos { every } if every.0 == 0 => Err(format!(
            "workload `{name}`: `chaos` needs `every` longer than 0s"
        )),
        Fault::Degrade { metric, to, .. } => {
            if !(to.is_finite() && *to >= 0.0) {
                Err(format!(
                    "workload `{name}`: `degrade` needs a number `to`, 0 or more"
                ))
            } else if crate::catalog::METRICS.iter().any(|m| m.name == metric) {
                Err(format!(
                    "workload `{name}`: `degrade` is for declared metrics the pods report as given (such as `error_rate`); `{metric}` is built in and follows the simulated pod (memory and CPU have `memory_leak` and `cpu_sine`)"
                ))
            } else {
                Ok(())
            }
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "name: t\nworkloads:\n  - name: web\n";

    #[test]
    fn defaults() {
        let s = parse(MINIMAL).unwrap();
        assert_eq!(s.interval, Seconds(15));
        assert_eq!(s.duration, Seconds(3600));
        assert_eq!(s.namespace, "default");
        assert_eq!(s.nodes, ["node-1"]);
        let w = &s.workloads[0];
        assert_eq!(w.kind, Kind::Deployments);
        assert_eq!(w.replicas, 1);
        assert_eq!(w.memory_limit, 512.0 * 1_048_576.0);
        assert_eq!(w.labels()["app"], "web");
    }

    #[test]
    fn faults_and_units() {
        let s = parse(
            "name: t\nworkloads:\n  - name: web\n    kind: statefulset\n    memory_limit: 1Gi\n    faults:\n      - memory_leak: { per_minute: 2, after: 5m }\n      - cpu_sine: { min: 20, max: 90, period: 10m }\n      - crashloop: { after: 3m, cause: release }\n      - chaos: { every: 20m }\n      - degrade: { metric: error_rate, to: 0.12, after: 20m, over: 10m }\n",
        )
        .unwrap();
        let w = &s.workloads[0];
        assert_eq!(w.kind, Kind::StatefulSets);
        assert_eq!(w.memory_limit, 1_073_741_824.0);
        assert_eq!(
            w.faults[0],
            Fault::MemoryLeak {
                per_minute: 2.0,
                after: Seconds(300),
                pods: None
            }
        );
        assert!(matches!(
            w.faults[2],
            Fault::Crashloop {
                cause: Cause::Release,
                pods: 1,
                ..
            }
        ));
    }

    #[test]
    fn mistakes_are_explained_with_a_location() {
        let e = parse("name: t\nworkloads:\n  - name: web\n    faults:\n      - memory_leek: { per_minute: 2 }\n").unwrap_err();
        assert!(e.message.contains("unknown variant `memory_leek`"), "{e}");
        // The workload's line: serde_yaml locates errors raised while its
        // faults are converted at the map that holds them.
        assert_eq!(e.location.map(|l| l.0), Some(3));
        let e = parse("name: t\ninterval: 15\nworkloads:\n  - name: web\n").unwrap_err();
        assert!(e.message.contains("needs its unit"), "{e}");
        let e = parse("name: t\nworkloads:\n  - name: web\n    kind: job\n").unwrap_err();
        assert!(
            e.message
                .contains("`deployment`, `statefulset` or `daemonset`"),
            "{e}"
        );
        let e = parse("name: t\nworkloads:\n  - name: web\n    memory_limit: lots\n").unwrap_err();
        assert!(e.message.contains("512Mi"), "{e}");
        let e = parse("name: t\nworkloads: []\n").unwrap_err();
        assert!(e.message.contains("no `workloads`"), "{e}");
        let e =
            parse("name: t\nduration: 3650d\ninterval: 1s\nworkloads:\n  - name: w\n").unwrap_err();
        assert!(e.message.contains("more than"), "{e}");
        let e = parse("name: t\nworkloads:\n  - name: w\n    faults:\n      - cpu_sine: { min: 90, max: 20, period: 10m }\n").unwrap_err();
        assert!(e.message.contains("min <= max"), "{e}");
        let bad = |yaml: &str, expected: &str| {
            let e = parse(yaml).unwrap_err();
            assert!(e.message.contains(expected), "{yaml}: {e}");
        };
        bad("name: t\nworkloads:\n  - name: w\n    faults:\n      - cpu_sine: { min: 9, max: 20, period: 10m, hot: .nan }\n", "positive `hot`");
        bad("name: t\nworkloads:\n  - name: w\n    faults:\n      - memory_leak: { per_minute: 1 }\n      - memory_leak: { per_minute: 2 }\n", "at most one");
        bad("name: t\nworkloads:\n  - name: w\n    faults:\n      - degrade: { metric: restarts, to: 5, after: 1m }\n", "built in");
        bad(
            "name: t\nnodes: [a, a]\nworkloads:\n  - name: w\n",
            "named twice",
        );
        bad(
            "name: t\nworkloads:\n  - name: w\n    baseline: { error_rate: -1 }\n",
            "0 or more",
        );
        bad(
            "name: t\nworkloads:\n  - name: w\n    baseline: { memory_percent: 120 }\n",
            "OOM-kill",
        );
        bad(
            "name: t\nduration: 30d\nworkloads:\n  - name: w\n    replicas: 1000\n",
            "pod-steps",
        );
        // One pod and 300 nodes for a day at 1s: 26 million pod-steps.
        let nodes: Vec<String> = (0..300).map(|i| format!("n{i}")).collect();
        bad(
            &format!(
                "name: t\ninterval: 1s\nduration: 1d\nnodes: [{}]\nworkloads:\n  - name: w\n    replicas: 1\n",
                nodes.join(", ")
            ),
            "300 nodes",
        );
    }
}
