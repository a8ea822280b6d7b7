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
/// kind (`nodes/NAME`, `persistentvolumes/NAME`), `cluster`, or
/// `filesystems/NODE:MOUNTPOINT`, whose mount point holds `/`.
pub fn parse_target(text: &str) -> Result<TargetId, String> {
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

/// The outcome of one test case.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Every expected time matched.
    Passed,
    /// These times did not match.
    Failed(Vec<Mismatch>),
    /// The policy file has errors: its diagnostics, rendered.
    PolicyErrors(String),
    /// The case's input cannot test the policy (a series of no metric, a
    /// status that does not exist): a typo would otherwise pass silently.
    Invalid(String),
}

/// One case's result.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseReport {
    /// The case's name.
    pub name: String,
    /// Whether it passed, and if not why.
    pub outcome: Outcome,
}

/// The decisions at one expected time, when they differ from the expected.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mismatch {
    /// The evaluation's time.
    #[serde(serialize_with = "serialize_duration")]
    pub at: Seconds,
    /// Expected decisions no actual decision matched.
    pub missing: Vec<String>,
    /// Actual decisions no expected decision matched.
    pub unexpected: Vec<Shown>,
    /// Actual decisions that matched, for context.
    pub matched: Vec<Shown>,
    /// Where the rules stood on the targets of the missing decisions: why
    /// they did not decide what was expected.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub why: Vec<String>,
}

/// An actual decision as the report shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Shown {
    /// What, on which target, by which policy and rule.
    pub decision: String,
    /// What made it fire.
    pub evidence: Vec<String>,
}

/// Runs every case of `file` against the policy `source` (named `policy_name`
/// in diagnostics), with the protected namespaces and labels of `config`.
pub fn run(
    file: &TestFile,
    source: &str,
    policy_name: &str,
    config: &SafetyConfig,
) -> Vec<CaseReport> {
    let compiled = compile(source, config);
    if compiled.has_errors() {
        let rendered = render(&compiled.diagnostics, policy_name, source, false);
        return file
            .tests
            .iter()
            .map(|case| CaseReport {
                name: case.name.clone(),
                outcome: Outcome::PolicyErrors(rendered.clone()),
            })
            .collect();
    }
    let interval = i64::try_from(file.interval.0).unwrap_or(i64::MAX);
    let context = Context {
        protected_namespaces: config.protected_namespaces.clone(),
        protected_labels: config
            .protected_labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        ..Context::new(interval, Some(&file.namespace))
    };
    file.tests
        .iter()
        .map(|case| CaseReport {
            name: case.name.clone(),
            outcome: match invalid_input(&compiled.program, case) {
                Some(problem) => Outcome::Invalid(problem),
                None => run_case(&compiled.program, case, interval, &context, config),
            },
        })
        .collect()
}

/// A series named after no metric, or a status no target can have: the input
/// a typo makes, which would otherwise test nothing and pass.
fn invalid_input(program: &Program, case: &TestCase) -> Option<String> {
    let metrics: Vec<&str> = program
        .metrics
        .iter()
        .map(|m| m.name.as_str())
        .chain(crate::catalog::METRICS.iter().map(|m| m.name))
        .collect();
    let statuses = crate::catalog::STATUS_REASONS.iter().map(|s| s.name);
    for target in &case.targets {
        for name in target.series.keys() {
            if !metrics.contains(&name.as_str()) {
                let hint = crate::diagnostic::closest(name, metrics.iter().copied())
                    .map_or(String::new(), |s| format!("; did you mean `{s}`?"));
                return Some(format!(
                    "series `{name}` is not a metric of the policy or the catalog{hint}"
                ));
            }
        }
        for name in target.status.keys() {
            if !statuses.clone().any(|s| s == name) {
                let hint = crate::diagnostic::closest(name, statuses.clone())
                    .map_or(String::new(), |s| format!("; did you mean `{s}`?"));
                return Some(format!("status `{name}` is not a status reason{hint}"));
            }
        }
    }
    None
}

/// The executor of policy unit tests, which run no cluster: every admitted
/// action counts as carried out, so `limit` and `cooldown` count what the
/// operator would have done. Tests assert decisions, not their effects.
struct Recorder;

impl Executor for Recorder {
    fn execute(&mut self, _: Order<'_>) -> impl std::future::Future<Output = Executed> + Send {
        std::future::ready(Executed::Done("recorded".into()))
    }
}

fn run_case(
    program: &Program,
    case: &TestCase,
    interval: i64,
    context: &Context,
    config: &SafetyConfig,
) -> Outcome {
    let mut expected: BTreeMap<i64, Vec<&ExpectedDecision>> = BTreeMap::new();
    for e in &case.expect {
        let at = i64::try_from(e.at.0).unwrap_or(i64::MAX);
        expected.entry(at).or_default().extend(e.decisions.iter());
    }
    let Some(&last) = expected.keys().next_back() else {
        return Outcome::Passed;
    };
    let prepared = Prepared::new(case, interval);
    let explaining = Context {
        explain: Explain::All,
        ..context.clone()
    };
    let mut state = State::default();
    let mut mismatches = Vec::new();
    let mut step: i64 = 0;
    loop {
        let now = step.saturating_mul(interval);
        if now > last {
            break;
        }
        let observations = observe(case, &prepared, step, interval);
        let wanted = expected.get(&now);
        // Where the rules stood is asked only at the expected times, for a
        // failure's report: the steps between stay as cheap as the operator's.
        let evaluation = if wanted.is_some() {
            evaluate(program, &observations, now, &state, &explaining)
        } else {
            evaluate(program, &observations, now, &state, context)
        };
        if let Some(wanted) = wanted {
            if let Some(mut m) = compare(program, now, wanted, &evaluation.decisions) {
                let missing: Vec<&ExpectedDecision> = wanted
                    .iter()
                    .copied()
                    .filter(|e| m.missing.contains(&describe_expected(e)))
                    .collect();
                m.why = why_missing(&missing, &evaluation.standings);
                mismatches.push(m);
            }
        }
        state = evaluation.state;
        for (n, decision) in evaluation.decisions.iter().enumerate() {
            // The recorder answers at once.
            let _ = now_or_never(act::carry_out(
                program,
                config,
                &mut state,
                &mut Recorder,
                decision,
                now,
                n,
            ));
        }
        step += 1;
    }
    if mismatches.is_empty() {
        Outcome::Passed
    } else {
        Outcome::Failed(mismatches)
    }
}

/// What the targets look like at evaluation `step` (at `step · interval`).
/// A target's series prepared once per case: every sample as a shared
/// series (the engine never reads past `now`), and for each step whether the
/// series is stale there. Rebuilding the visible prefix at every step made a
/// run quadratic in its length.
struct Prepared {
    /// Per target, in the case's order: its series.
    series: Vec<Vec<PreparedSeries>>,
    /// Per target: each status timeline as the history `status was R
    /// within D` reads (1 where it holds, 0 where it does not), as the
    /// operator records it at each evaluation.
    statuses: Vec<BTreeMap<String, Arc<Series>>>,
}

/// A metric's name, all its samples, and whether it is stale at each step.
type PreparedSeries = (String, Arc<Series>, Vec<bool>);

impl Prepared {
    fn new(case: &TestCase, interval: i64) -> Prepared {
        let series = case
            .targets
            .iter()
            .map(|input| {
                input
                    .series
                    .iter()
                    .map(|(name, points)| {
                        let samples = points.iter().enumerate().filter_map(|(i, p)| match p {
                            Point::Value(v) => Some(Sample::new(
                                i64::try_from(i)
                                    .unwrap_or(i64::MAX)
                                    .saturating_mul(interval),
                                *v,
                            )),
                            _ => None,
                        });
                        // Stale until the next value: the latest non-missing
                        // point at or before each step.
                        let mut stale = false;
                        let stale_at = points
                            .iter()
                            .map(|p| {
                                match p {
                                    Point::Stale => stale = true,
                                    Point::Value(_) => stale = false,
                                    Point::Missing => {}
                                }
                                stale
                            })
                            .collect();
                        (name.clone(), Arc::new(Series::new(samples)), stale_at)
                    })
                    .collect()
            })
            .collect();
        let statuses = case
            .targets
            .iter()
            .map(|input| {
                input
                    .status
                    .iter()
                    .map(|(reason, holds)| {
                        let samples = holds.iter().zip(0i64..).map(|(&held, i)| {
                            Sample::new(i.saturating_mul(interval), f64::from(u8::from(held)))
                        });
                        (reason.clone(), Arc::new(Series::new(samples)))
                    })
                    .collect()
            })
            .collect();
        Prepared { series, statuses }
    }
}

fn observe(case: &TestCase, prepared: &Prepared, step: i64, interval: i64) -> Observations {
    let now = step.saturating_mul(interval);
    let index = usize::try_from(step).unwrap_or(usize::MAX);
    let targets = case
        .targets
        .iter()
        .zip(&prepared.series)
        .zip(&prepared.statuses)
        .map(|((input, series), statuses)| {
            let mut target = match (input.target.kind, input.target.name.split_once(':')) {
                (Kind::Filesystems, Some((node, mountpoint))) => {
                    let given = |l: &str| input.labels.get(l).map_or("", String::as_str);
                    Target::filesystem(node, mountpoint, given("fstype"), given("device"))
                }
                _ => Target::new(input.target.clone()),
            };
            target.status_history = statuses.clone();
            // A filesystem's `node` and `mountpoint` are its name's, as the
            // operator labels it.
            for (label, value) in &input.labels {
                target
                    .labels
                    .entry(label.clone())
                    .or_insert_with(|| value.clone());
            }
            target.owner = input.owner.clone();
            target.node = input.node.clone();
            for (name, samples, stale_at) in series {
                // Past the end of a series its last point still decides.
                let stale = stale_at
                    .get(index)
                    .or(stale_at.last())
                    .copied()
                    .unwrap_or(false);
                if !stale {
                    target
                        .metrics_mut()
                        .insert(name.clone(), Arc::clone(samples));
                }
            }
            for (reason, holds) in &input.status {
                if holds.get(index).copied().unwrap_or(false) {
                    target.statuses.insert(reason.clone());
                }
            }
            target.events = input
                .events
                .iter()
                .map(|e| Event {
                    reason: e.reason.clone(),
                    at: i64::try_from(e.at.0).unwrap_or(i64::MAX),
                    count: e.count,
                })
                .filter(|e| e.at <= now)
                .collect();
            target
        })
        .collect();
    Observations { targets }
}

fn matches(program: &Program, expected: &ExpectedDecision, actual: &Decision) -> bool {
    let (policy, rules, target) = match actual {
        Decision::Act {
            policy,
            rule,
            target,
            ..
        }
        | Decision::Blocked {
            policy,
            rule,
            target,
            ..
        } => (policy, std::slice::from_ref(rule), target),
        Decision::Ambiguous {
            policy,
            rules,
            target,
            ..
        } => (policy, rules.as_slice(), target),
    };
    if *target != expected.target
        || expected.policy.as_ref().is_some_and(|p| p != policy)
        || expected.rule.is_some_and(|r| !rules.contains(&(r - 1)))
    {
        return false;
    }
    match (&expected.kind, actual) {
        (ExpectedKind::Act(act), Decision::Act { action, .. }) => {
            *act == program.render_action(action)
        }
        (ExpectedKind::Ambiguous(wanted), Decision::Ambiguous { candidates, .. }) => {
            let mut wanted = wanted.clone();
            let mut actual: Vec<String> = candidates
                .iter()
                .map(|c| program.render_action(&c.action))
                .collect();
            wanted.sort();
            actual.sort();
            wanted == actual
        }
        (ExpectedKind::Blocked(want), Decision::Blocked { by, .. }) => want == by,
        _ => false,
    }
}

/// Matches expected to actual decisions one to one (Kuhn's augmenting paths,
/// so a broad expectation never steals the only match of a narrow one).
fn compare(
    program: &Program,
    now: i64,
    expected: &[&ExpectedDecision],
    actual: &[Decision],
) -> Option<Mismatch> {
    let edges: Vec<Vec<usize>> = expected
        .iter()
        .map(|e| {
            (0..actual.len())
                .filter(|&j| matches(program, e, &actual[j]))
                .collect()
        })
        .collect();
    let mut owner: Vec<Option<usize>> = vec![None; actual.len()];
    for i in 0..expected.len() {
        let mut seen = vec![false; actual.len()];
        augment(i, &edges, &mut owner, &mut seen);
    }
    let matched_expected: Vec<bool> = (0..expected.len())
        .map(|i| owner.contains(&Some(i)))
        .collect();
    if matched_expected.iter().all(|m| *m) && owner.iter().all(Option::is_some) {
        return None;
    }
    let missing = expected
        .iter()
        .zip(&matched_expected)
        .filter(|(_, m)| !**m)
        .map(|(e, _)| describe_expected(e))
        .collect();
    let (matched, unexpected): (Vec<_>, Vec<_>) =
        actual.iter().zip(&owner).partition(|(_, o)| o.is_some());
    Some(Mismatch {
        at: Seconds(u64::try_from(now).unwrap_or(0)),
        missing,
        unexpected: unexpected
            .into_iter()
            .map(|(d, _)| describe_actual(program, d))
            .collect(),
        matched: matched
            .into_iter()
            .map(|(d, _)| describe_actual(program, d))
            .collect(),
        why: Vec::new(),
    })
}

/// For each target an expected decision is missing on, where the rules it
/// names (by policy and rule, if it does) stood there; a target no policy
/// visited says so.
fn why_missing(wanted: &[&ExpectedDecision], standings: &[Standing]) -> Vec<String> {
    let mut why = Vec::new();
    let mut targets: Vec<&TargetId> = Vec::new();
    for e in wanted {
        if targets.contains(&&e.target) {
            continue;
        }
        targets.push(&e.target);
        let on: Vec<String> = standings
            .iter()
            .filter(|s| {
                s.target == e.target
                    && e.policy.as_ref().is_none_or(|p| *p == s.policy)
                    && e.rule.is_none_or(|r| r == s.rule + 1)
            })
            .map(|s| format!("on {}: {}", e.target, super::explain::with_rule(s)))
            .collect();
        if on.is_empty() {
            why.push(format!(
                "on {}: no policy evaluated it (not selected, or protected)",
                e.target
            ));
        }
        why.extend(on);
    }
    why
}

fn augment(i: usize, edges: &[Vec<usize>], owner: &mut [Option<usize>], seen: &mut [bool]) -> bool {
    for &j in &edges[i] {
        if seen[j] {
            continue;
        }
        seen[j] = true;
        let free = match owner[j] {
            None => true,
            Some(k) => augment(k, edges, owner, seen),
        };
        if free {
            owner[j] = Some(i);
            return true;
        }
    }
    false
}

fn describe_expected(e: &ExpectedDecision) -> String {
    let what = match &e.kind {
        ExpectedKind::Act(act) => format!("act: {act}"),
        ExpectedKind::Ambiguous(c) => format!("ambiguous: [{}]", c.join(", ")),
        ExpectedKind::Blocked(by) => format!("blocked: {}", by.as_str()),
    };
    let mut text = format!("{what} on {}", e.target);
    if let Some(policy) = &e.policy {
        let _ = write!(text, " (policy {policy})");
    }
    if let Some(rule) = e.rule {
        let _ = write!(text, " (rule {rule})");
    }
    text
}

fn describe_actual(program: &Program, d: &Decision) -> Shown {
    let (what, target, policy, rules, evidence) = match d {
        Decision::Act {
            policy,
            rule,
            target,
            action,
            object,
            evidence,
            ..
        } => (
            if object == target {
                format!("act: {}", program.render_action(action))
            } else {
                format!("act: {} ({object})", program.render_action(action))
            },
            target,
            policy,
            vec![*rule],
            evidence,
        ),
        Decision::Ambiguous {
            policy,
            rules,
            target,
            candidates,
            evidence,
            ..
        } => (
            format!(
                "ambiguous: [{}]",
                candidates
                    .iter()
                    .map(|c| program.render_action(&c.action))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            target,
            policy,
            rules.clone(),
            evidence,
        ),
        Decision::Blocked {
            policy,
            rule,
            target,
            by,
            evidence,
            ..
        } => (
            format!("blocked: {}", by.as_str()),
            target,
            policy,
            vec![*rule],
            evidence,
        ),
    };
    let rules: Vec<String> = rules.iter().map(|r| (r + 1).to_string()).collect();
    let rule_word = if rules.len() == 1 { "rule" } else { "rules" };
    Shown {
        decision: format!(
            "{what} on {target} (policy {policy}, {rule_word} {})",
            rules.join(", ")
        ),
        evidence: evidence::render(evidence),
    }
}

fn serialize_duration<S: serde::Serializer>(at: &Seconds, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&at.spelled())
}

fn show(shown: &Shown) -> String {
    if shown.evidence.is_empty() {
        shown.decision.clone()
    } else {
        format!(
            "{}\n      evidence: {}",
            shown.decision,
            shown.evidence.join("; ")
        )
    }
}

/// The failure report of one case: expected vs actual at each failing time.
pub fn render_failure(outcome: &Outcome) -> String {
    let mut out = String::new();
    match outcome {
        Outcome::Passed => {}
        Outcome::PolicyErrors(rendered) => {
            out.push_str("the policy file has errors:\n");
            out.push_str(rendered);
        }
        Outcome::Invalid(problem) => {
            out.push_str("the test's input is invalid: ");
            out.push_str(problem);
            out.push('\n');
        }
        Outcome::Failed(mismatches) => {
            for m in mismatches {
                let _ = writeln!(out, "at {}:", m.at.spelled());
                for line in &m.missing {
                    let _ = writeln!(out, "  - expected {line}");
                }
                for line in &m.why {
                    let _ = writeln!(out, "      why: {line}");
                }
                for shown in &m.unexpected {
                    let _ = writeln!(out, "  + actual   {}", show(shown));
                }
                if m.unexpected.is_empty() && m.matched.is_empty() {
                    let _ = writeln!(out, "  + actual   no decision");
                }
                for shown in &m.matched {
                    let _ = writeln!(out, "    matched  {}", show(shown));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("15s"), Ok(Seconds(15)));
        assert_eq!(parse_duration("1m15s"), Ok(Seconds(75)));
        assert_eq!(parse_duration("2h"), Ok(Seconds(7200)));
        assert_eq!(parse_duration("0"), Ok(Seconds(0)));
        assert!(parse_duration("15").is_err());
        assert!(parse_duration("1.5m").is_err());
        assert!(parse_duration("").is_err());
        for s in [0, 45, 180, 930, 3720, 90_061] {
            let shown = Seconds(s).spelled();
            assert_eq!(parse_duration(&shown), Ok(Seconds(s)), "{shown}");
        }
        assert_eq!(Seconds(930).spelled(), "15m30s");
    }

    #[test]
    fn targets() {
        assert_eq!(
            parse_target("pods/shop/a").map(|t| t.to_string()),
            Ok("pods/shop/a".to_string())
        );
        assert_eq!(
            parse_target("nodes/worker-1").map(|t| t.to_string()),
            Ok("nodes/worker-1".to_string())
        );
        assert!(parse_target("pods/a").is_err());
        assert!(parse_target("nodes/a/b").is_err());
        assert!(parse_target("pod/shop/a").is_err());
        let filesystem = parse_target("filesystems/worker-1:/var/lib/kubelet").unwrap();
        assert_eq!(
            filesystem.to_string(),
            "filesystems/worker-1:/var/lib/kubelet"
        );
        assert_eq!(filesystem.node_of_filesystem(), Some("worker-1"));
        assert!(parse_target("filesystems/worker-1").is_err());
        assert!(parse_target("filesystems/:/var").is_err());
    }

    #[test]
    fn a_file_or_case_that_tests_nothing_is_an_error() {
        let empty = parse("tests: []").unwrap_err();
        assert!(empty.message.contains("no tests"), "{}", empty.message);
        let nothing = parse("tests:\n  - name: x\n    expect: []\n").unwrap_err();
        assert!(
            nothing.message.contains("expects nothing"),
            "{}",
            nothing.message
        );
    }

    #[test]
    fn a_misspelt_series_or_status_is_invalid_input_not_a_pass() {
        let policy = "policy p {\n  select pods where app = \"a\"\n  cooldown 5m\n  when memory_percent > 85 then restart\n}\n";
        for (input, word) in [
            ("series: {memroy_percent: '90'}", "memroy_percent"),
            ("status: {CrashLoop: '1'}", "CrashLoop"),
        ] {
            let yaml = format!("tests:\n  - name: x\n    targets:\n      - target: pods/default/a\n        {input}\n    expect:\n      - at: 0s\n        decisions: []\n");
            let Outcome::Invalid(problem) = run_one(&yaml, policy) else {
                panic!("{word}: invalid input expected");
            };
            assert!(
                problem.contains(word) && problem.contains("did you mean"),
                "{problem}"
            );
        }
    }

    #[test]
    fn default_policy_path() {
        let file =
            parse("tests:\n  - name: x\n    expect:\n      - at: 0s\n        decisions: []\n")
                .unwrap();
        assert_eq!(
            policy_path(Path::new("policies/crashloop.skippy-test.yaml"), &file),
            PathBuf::from("policies/crashloop.skippy")
        );
    }

    const POLICY: &str = "policy p {\n  select pods where app exists\n  cooldown 10m\n  when event BackOff count >= 3 within 1m then restart\n  when memory_percent > 90 for 30s then delete\n}\n";

    fn run_one(yaml: &str, policy: &str) -> Outcome {
        let file = parse(yaml).unwrap();
        let mut reports = run(&file, policy, "p.skippy", &SafetyConfig::default());
        assert_eq!(reports.len(), 1);
        reports.remove(0).outcome
    }

    #[test]
    fn events_are_visible_from_their_time_on() {
        let yaml = "namespace: shop\ntests:\n  - name: x\n    targets:\n      - target: pods/shop/a\n        labels: {app: a}\n        events:\n          - {at: 30s, reason: BackOff, count: 3}\n    expect:\n      - at: 15s\n        decisions: []\n      - at: 30s\n        decisions: [{act: restart, target: pods/shop/a, rule: 1}]\n";
        assert_eq!(run_one(yaml, POLICY), Outcome::Passed);
    }

    #[test]
    fn pods_of_one_owner_share_its_rolling_restart_and_cooldown() {
        let policy = "policy p {\n  select pods where app exists\n  cooldown 10m\n  when memory_percent > 90% then restart rolling\n}\n";
        let pod = |name: &str| {
            format!("      - target: pods/shop/{name}\n        labels: {{app: a}}\n        owner: deployments/shop/a\n        series: {{memory_percent: '95x10'}}\n")
        };
        let yaml = format!(
            "namespace: shop\ntests:\n  - name: x\n    targets:\n{}{}    expect:\n      - at: 0s\n        decisions:\n          - {{act: restart rolling, target: pods/shop/a-1}}\n          - {{blocked: same-object, target: pods/shop/a-2}}\n      - at: 15s\n        decisions:\n          - {{blocked: cooldown, target: pods/shop/a-1}}\n          - {{blocked: cooldown, target: pods/shop/a-2}}\n",
            pod("a-1"),
            pod("a-2")
        );
        assert_eq!(run_one(&yaml, policy), Outcome::Passed);
        // The failure report names the object an action lands on.
        let wrong = yaml.replace("blocked: same-object", "act: restart rolling");
        let Outcome::Failed(mismatches) = run_one(&wrong, policy) else {
            panic!("a failure");
        };
        assert_eq!(
            mismatches[0].unexpected[0].decision,
            "blocked: same-object on pods/shop/a-2 (policy p, rule 1)"
        );
    }

    #[test]
    fn a_workload_is_given_its_own_series_of_a_declared_metric() {
        // One series per deployment (`by (deployment)`): the test gives the
        // deployment its values, as the operator stores them on it.
        let policy = "metric unavailable: count = promql \"max by (deployment) (kube_deployment_status_replicas_unavailable{namespace=\\\"$namespace\\\"})\"\npolicy p {\n  select deployments in shop\n  cooldown 1h\n  when unavailable > 1 for 30s then notify \"short\"\n}\n";
        let yaml = "namespace: shop\ntests:\n  - name: x\n    targets:\n      - target: deployments/shop/web\n        labels: {app: web}\n        series: {unavailable: '0 2x5'}\n    expect:\n      - at: 30s\n        decisions: []\n      - at: 45s\n        decisions: [{act: 'notify \"short\"', target: deployments/shop/web}]\n";
        assert_eq!(run_one(yaml, policy), Outcome::Passed);
    }

    #[test]
    fn stale_makes_a_metric_unknown_until_the_next_value() {
        // Without `stale` the last sample would stand for 5 minutes and the
        // rule would fire at 30s.
        let yaml = "namespace: shop\ntests:\n  - name: x\n    targets:\n      - target: pods/shop/a\n        labels: {app: a}\n        series: {memory_percent: '95 stale _ _ 95 95 95'}\n    expect:\n      - at: 30s\n        decisions: []\n      - at: 1m\n        decisions: []\n      - at: 1m30s\n        decisions: [{act: delete, target: pods/shop/a}]\n";
        assert_eq!(run_one(yaml, POLICY), Outcome::Passed);
    }

    #[test]
    fn a_wrong_expectation_reports_missing_and_unexpected_decisions() {
        let yaml = "namespace: shop\ntests:\n  - name: x\n    targets:\n      - target: pods/shop/a\n        labels: {app: a}\n        series: {memory_percent: '95x10'}\n    expect:\n      - at: 30s\n        decisions: [{act: restart, target: pods/shop/a}]\n";
        let Outcome::Failed(mismatches) = run_one(yaml, POLICY) else {
            panic!("a failure");
        };
        assert_eq!(mismatches.len(), 1);
        assert_eq!(mismatches[0].missing, ["act: restart on pods/shop/a"]);
        assert_eq!(
            mismatches[0].unexpected,
            [Shown {
                decision: "act: delete on pods/shop/a (policy p, rule 2)".into(),
                evidence: vec!["memory_percent=95% > 90%".into(), "for 30s".into()],
            }]
        );
    }

    #[test]
    fn a_policy_with_errors_fails_every_case_with_its_diagnostics() {
        let yaml = "tests:\n  - name: x\n    expect:\n      - at: 0s\n        decisions: []\n";
        let Outcome::PolicyErrors(rendered) = run_one(
            yaml,
            "policy p {\n  select pods\n  when bogus > 1 then restart\n}\n",
        ) else {
            panic!("policy errors");
        };
        assert!(rendered.contains("p.skippy"), "{rendered}");
        assert!(render_failure(&Outcome::PolicyErrors(rendered))
            .starts_with("the policy file has errors"));
    }

    #[test]
    fn format_errors_have_a_location() {
        let e = parse("tests:\n  - name: x\n    expect: []\n    bogus: 1\n").unwrap_err();
        assert!(e.location.is_some(), "{e}");
        let e = parse("interval: 15s\ntests:\n  - name: x\n    expect:\n      - at: 20s\n        decisions: []\n")
            .unwrap_err();
        assert!(e.message.contains("multiple"), "{e}");
    }
}
