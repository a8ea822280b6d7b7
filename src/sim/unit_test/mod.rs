//! Policy unit tests (`kubeskippy test`): a YAML file of input series, status
//! and event timelines per target, and the decisions expected at given times,
//! in the spirit of `promtool test rules`.
//!
//! Pure: [`parse`] reads the test file's text, [`run`] evaluates it against a
//! policy's source on a virtual clock with [`crate::engine::evaluate`]. Reading
//! files is the caller's business (see [`policy_path`]).
//!
//! Semantics:
//! - A series has one point per interval from t = 0; at an evaluation at `now`
//!   the points up to `now` are visible. `_` is a missing sample; `stale` (and
//!   every following `_` until the next value) removes the metric from the
//!   target, so both its current value and its windows are unknown.
//! - A status holds at the intervals whose point is `1`; `0`, `_` and the
//!   intervals past the end of its timeline mean it does not. The timeline
//!   up to `now` is also the status's history, which `status was R within
//!   D` reads as the operator's observer records it.
//! - Events are visible from their `at` on.
//! - The engine runs at t = 0, interval, 2·interval, … up to the last expected
//!   time, carrying its state over. At each expected time the decisions of
//!   that evaluation are compared with the expected ones, in any order.

use crate::act::{self, now_or_never, Executed, Executor, Order};
use crate::catalog::Kind;
use crate::check::compile;
use crate::diagnostic::render;
use crate::engine::evidence;
use crate::engine::observation::{Event, Observations, Target, TargetId};
use crate::engine::series::{Sample, Series};
use crate::engine::state::State;
use crate::engine::{evaluate, Block, Context, Decision, Explain, Standing};
use crate::ir::{Program, Seconds};
use crate::safety::SafetyConfig;
use crate::sim::budget;
use crate::sim::notation::{self, Point};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The suffix of a policy unit-test file.
pub const EXTENSION: &str = ".skippy-test.yaml";

/// The most evaluations one case may ask for (a week at 1s is 604,800), so
/// that a typo in an `at` cannot keep the runner busy for hours.
pub const MAX_EVALUATIONS: u64 = 1_000_000;

/// A whole test file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestFile {
    /// The policy file, relative to the test file; see [`policy_path`].
    #[serde(default)]
    pub policy: Option<String>,
    /// Seconds between evaluations (and between the points of a series).
    #[serde(default = "default_interval", deserialize_with = "duration")]
    pub interval: Seconds,
    /// The HealingPolicy's namespace: what `select` without `in` means.
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// The test cases, run independently.
    #[serde(deserialize_with = "budget::list")]
    pub tests: Vec<TestCase>,
}

fn default_interval() -> Seconds {
    Seconds(15)
}

fn default_namespace() -> String {
    "default".into()
}

/// One test case: targets observed over time and the decisions expected.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestCase {
    /// What the case shows, printed in the report.
    pub name: String,
    /// The objects the policies may select.
    #[serde(default, deserialize_with = "budget::list")]
    pub targets: Vec<TargetInput>,
    /// The decisions expected at given times.
    #[serde(deserialize_with = "budget::list")]
    pub expect: Vec<Expectation>,
}

/// One target and its timelines.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetInput {
    /// `KIND/NAMESPACE/NAME`, or `nodes/NAME`.
    #[serde(deserialize_with = "target_id")]
    pub target: TargetId,
    /// The object's labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Metric series by name, in the series notation and the metric's
    /// canonical unit.
    #[serde(default, deserialize_with = "series_map")]
    pub series: BTreeMap<String, Vec<Point>>,
    /// Status timelines by reason: `1` where the status holds.
    #[serde(default, deserialize_with = "status_map")]
    pub status: BTreeMap<String, Vec<bool>>,
    /// Events on the target.
    #[serde(default, deserialize_with = "budget::list")]
    pub events: Vec<EventInput>,
    /// For a pod: the workload that controls it, `KIND/NAMESPACE/NAME`.
    #[serde(default, deserialize_with = "optional_target_id")]
    pub owner: Option<TargetId>,
    /// For a pod: the node it runs on.
    #[serde(default)]
    pub node: Option<String>,
}

/// One event of a target's timeline.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    /// When it happened.
    #[serde(deserialize_with = "duration")]
    pub at: Seconds,
    /// Its reason (`BackOff`, `OOMKilling`, …).
    pub reason: String,
    /// How many times, as Kubernetes folds repeats.
    #[serde(default = "one")]
    pub count: u32,
}

fn one() -> u32 {
    1
}

/// The decisions expected at one evaluation.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// The evaluation's time; a multiple of the interval.
    #[serde(deserialize_with = "duration")]
    pub at: Seconds,
    /// Every decision of that evaluation; empty for "nothing decided".
    #[serde(deserialize_with = "budget::list")]
    pub decisions: Vec<ExpectedDecision>,
}

/// One expected decision.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "RawDecision")]
pub struct ExpectedDecision {
    /// What is decided.
    pub kind: ExpectedKind,
    /// On which object.
    pub target: TargetId,
    /// Narrows the match to one policy, by its name.
    pub policy: Option<String>,
    /// Narrows the match to one rule, 1-based as `explain` numbers them.
    pub rule: Option<usize>,
}

/// What an expected decision decides.
#[derive(Debug, Clone, PartialEq)]
pub enum ExpectedKind {
    /// An action, as `Program::render_action` prints it.
    Act(String),
    /// A case handed to the AI with these candidates (in any order).
    Ambiguous(Vec<String>),
    /// A rule held back by `limit` or `cooldown`.
    Blocked(Block),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDecision {
    #[serde(default)]
    act: Option<String>,
    #[serde(default)]
    ambiguous: Option<Vec<String>>,
    #[serde(default)]
    blocked: Option<String>,
    #[serde(deserialize_with = "target_id")]
    target: TargetId,
    #[serde(default)]
    policy: Option<String>,
    #[serde(default)]
    rule: Option<usize>,
}

impl TryFrom<RawDecision> for ExpectedDecision {
    type Error = String;

    fn try_from(raw: RawDecision) -> Result<Self, Self::Error> {
        let kind = match (raw.act, raw.ambiguous, raw.blocked) {
            (Some(act), None, None) => ExpectedKind::Act(normalize(&act)),
            (None, Some(candidates), None) => {
                ExpectedKind::Ambiguous(candidates.iter().map(|c| normalize(c)).collect())
            }
            (None, None, Some(by)) => ExpectedKind::Blocked(match by.trim() {
                "cooldown" => Block::Cooldown,
                "limit" => Block::Limit,
                "same-object" => Block::SameObject,
                other => {
                    return Err(format!(
                        "`blocked: {other}`: expected `cooldown`, `limit` or `same-object`"
                    ))
                }
            }),
            _ => {
                return Err(
                    "an expected decision has exactly one of `act`, `ambiguous` or `blocked`"
                        .into(),
                )
            }
        };
        if raw.rule == Some(0) {
            return Err("rules are numbered from 1, as `kubeskippy explain` shows them".into());
        }
        Ok(ExpectedDecision {
            kind,
            target: raw.target,
            policy: raw.policy,
            rule: raw.rule,
        })
    }
}

/// Collapses runs of whitespace, so `restart  rolling` matches `restart rolling`.
fn normalize(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A YAML scalar: the notation and durations may be written as numbers.
#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    Int(i64),
    Float(f64),
    Text(String),
}

impl Scalar {
    fn text(self) -> String {
        match self {
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) => f.to_string(),
            Scalar::Text(s) => s,
        }
    }
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Seconds, D::Error> {
    let text = Scalar::deserialize(d)?.text();
    parse_duration(&text).map_err(serde::de::Error::custom)
}

fn target_id<'de, D: Deserializer<'de>>(d: D) -> Result<TargetId, D::Error> {
    let text = String::deserialize(d)?;
    parse_target(&text).map_err(serde::de::Error::custom)
}

fn optional_target_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<TargetId>, D::Error> {
    target_id(d).map(Some)
}

fn series_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, Vec<Point>>, D::Error> {
    let raw = BTreeMap::<String, Scalar>::deserialize(d)?;
    raw.into_iter()
        .map(|(name, text)| {
            let text = text.text();
            let points = notation::parse(&text)
                .map_err(|e| serde::de::Error::custom(format!("series `{name}`: {e}")))?;
            budget::charge(points.len())
                .map_err(|e| serde::de::Error::custom(format!("series `{name}`: {e}")))?;
            Ok((name, points))
        })
        .collect()
}

fn status_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, Vec<bool>>, D::Error> {
    let raw = BTreeMap::<String, Scalar>::deserialize(d)?;
    raw.into_iter()
        .map(|(name, text)| {
            let text = text.text();
            let points = notation::parse(&text)
                .map_err(|e| serde::de::Error::custom(format!("status `{name}`: {e}")))?;
            let holds = points
                .into_iter()
                .map(|p| match p {
                    Point::Value(1.0) => Ok(true),
                    Point::Value(0.0) => Ok(false),
                    Point::Missing | Point::Stale => Ok(false),
                    Point::Value(v) => Err(serde::de::Error::custom(format!(
                        "status `{name}`: `{v}`: a status timeline holds 1 (holds), 0 or `_` (does not)"
                    ))),
                })
                .collect::<Result<Vec<bool>, D::Error>>()?;
            budget::charge(holds.len())
                .map_err(|e| serde::de::Error::custom(format!("status `{name}`: {e}")))?;
            Ok((name, holds))
        })
        .collect()
}

/// Reads a Skippy duration: `15s`, `3m`, `1h`, `2d`, or several of them run
/// together (`1m15s`); `0` alone is zero.
pub fn parse_duration(text: &str) -> Result<Seconds, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(Seconds(0));
    }
    let bad = || format!("`{text}`: expected a duration such as `15s`, `3m` or `1m15s`");
    if text.is_empty() {
        return Err(bad());
    }
    let mut total: u64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let (number, after) = rest.split_at(digits);
        let unit_len = after.bytes().take_while(u8::is_ascii_alphabetic).count();
        let (unit, after) = after.split_at(unit_len);
        let size = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3_600,
            "d" => 86_400,
            _ => return Err(bad()),
        };
        let n: u64 = number.parse().map_err(|_| bad())?;
        total = n
            .checked_mul(size)
            .and_then(|s| total.checked_add(s))
            .filter(|&s| s <= u64::from(u32::MAX))
            .ok_or_else(|| format!("`{text}`: the duration is too long"))?;
        rest = after;
    }
    Ok(Seconds(total))
}

/// Reads a target: `KIND/NAMESPACE/NAME`, `KIND/NAME` of a cluster-scoped
/// kind (`nodes/NAME`, `persistentvolumes/NAME`), `cluster`,
/// `filesystems/NODE:MOUNTPOINT`, whose mount point holds `/`, or
/// `containers/NAMESPACE/POD/CONTAINER`.
pub fn parse_target(text: &str) -> Result<TargetId, String> {
    if let Some(name) = text.trim().strip_prefix("containers/") {
        return match name.split('/').collect::<Vec<_>>().as_slice() {
            [namespace, pod, container] if ![namespace, pod, container].iter().any(|p| p.is_empty()) => {
                Ok(TargetId::container(namespace, pod, container))
            }
            _ => Err(format!(
                "`{text}`: a container is written `containers/NAMESPACE/POD/CONTAINER`, as `containers/shop/web-1/app`"
            )),
        };
    }
    if let Some(name) = text.trim().strip_prefix("resourcequotas/") {
        return match name.split_once('/').map(|(ns, rest)| (ns, rest.split_once('/'))) {
            Some((namespace, Some((quota, resource))))
                if ![namespace, quota, resource].iter().any(|p| p.is_empty()) =>
            {
                Ok(TargetId::quota_resource(namespace, quota, resource))
            }
            _ => Err(format!(
                "`{text}`: a quota's resource is written `resourcequotas/NAMESPACE/QUOTA/RESOURCE`, as `resourcequotas/shop/compute/requests.cpu`"
            )),
        };
    }
    if let Some(name) = text.trim().strip_prefix("filesystems/") {
        return match name.split_once(':') {
            Some((node, mountpoint)) if !node.is_empty() && !node.contains('/') => {
                Ok(TargetId::filesystem(node, mountpoint))
            }
            _ => Err(format!(
                "`{text}`: a filesystem is written `filesystems/NODE:MOUNTPOINT`, as `filesystems/worker-1:/var`"
            )),
        };
    }
    let parts: Vec<&str> = text.trim().split('/').collect();
    let kind_word = parts.first().copied().unwrap_or_default();
    let Some(kind) = Kind::from_keyword(kind_word) else {
        let kinds: Vec<&str> = Kind::ALL.iter().map(|k| k.keyword()).collect();
        return Err(format!(
            "`{text}`: unknown kind `{kind_word}`; expected one of {}",
            kinds.join(", ")
        ));
    };
    let empty = parts.iter().any(|p| p.is_empty());
    match (kind, parts.as_slice()) {
        (Kind::Cluster, [_]) => Ok(TargetId::cluster()),
        (Kind::Cluster, _) => Err(format!("`{text}`: the cluster is written `cluster`")),
        (kind, [_, name]) if !kind.is_namespaced() && !empty => Ok(TargetId {
            kind,
            namespace: None,
            name: (*name).to_string(),
        }),
        (kind, _) if !kind.is_namespaced() => Err(format!(
            "`{text}`: a {} is written `{}/NAME`",
            kind.singular(),
            kind.keyword()
        )),
        (_, [_, namespace, name]) if !empty => Ok(TargetId {
            kind,
            namespace: Some((*namespace).to_string()),
            name: (*name).to_string(),
        }),
        _ => Err(format!(
            "`{text}`: a namespaced target is written `{}/NAMESPACE/NAME`",
            kind.keyword()
        )),
    }
}

pub use super::FormatError;

/// Parses and validates a test file.
pub fn parse(text: &str) -> Result<TestFile, FormatError> {
    let file: TestFile = budget::scoped(|| super::from_yaml(text))?;
    if file.tests.is_empty() {
        return Err(FormatError {
            location: None,
            message: "the file has no tests: add one under `tests:`".into(),
        });
    }
    if let Some(case) = file.tests.iter().find(|c| c.expect.is_empty()) {
        return Err(FormatError {
            location: None,
            message: format!(
                "test `{}` expects nothing: add at least one `at:` with its `decisions` (an empty list asserts that nothing is decided)",
                case.name
            ),
        });
    }
    if file.interval.0 == 0 {
        return Err(FormatError {
            location: None,
            message: "`interval` must be longer than 0s".into(),
        });
    }
    for case in &file.tests {
        for expected in &case.expect {
            if expected.at.0 / file.interval.0 > MAX_EVALUATIONS {
                return Err(FormatError {
                    location: None,
                    message: format!(
                        "test `{}`: `at: {}` is more than {MAX_EVALUATIONS} evaluations away",
                        case.name,
                        expected.at.spelled()
                    ),
                });
            }
            if !expected.at.0.is_multiple_of(file.interval.0) {
                return Err(FormatError {
                    location: None,
                    message: format!(
                        "test `{}`: `at: {}` is not a multiple of the interval {}",
                        case.name,
                        expected.at.spelled(),
                        file.interval.spelled()
                    ),
                });
            }
        }
    }
    budget::check_evaluations(&file)?;
    Ok(file)
}

/// The policy file a test file tests: its `policy:` relative to the test
/// file's folder, or the test file's name without `-test.yaml`.
pub fn policy_path(test_path: &Path, file: &TestFile) -> PathBuf {
    let folder = test_path.parent().unwrap_or(Path::new(""));
    match &file.policy {
        Some(policy) => folder.join(policy),
        None => {
            let name = test_path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let stem = name.strip_suffix("-test.yaml").unwrap_or(&name);
            folder.join(stem)
        }
    }
}

mod report;
mod run;

pub use report::render_failure;
pub(crate) use run::{observe as observe_inputs, Prepared};
pub use run::{run, CaseReport, Mismatch, Outcome, Shown};

#[cfg(test)]
mod tests;
