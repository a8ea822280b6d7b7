//! Running a test file's cases: the policy evaluated at each step on the
//! targets the case describes, each decision held to what the case expects.

use super::report::{compare, describe_expected, serialize_duration, why_missing};
use super::*;

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
pub(super) fn invalid_input(program: &Program, case: &TestCase) -> Option<String> {
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
pub(super) struct Recorder;

impl Executor for Recorder {
    fn execute(&mut self, _: Order<'_>) -> impl std::future::Future<Output = Executed> + Send {
        std::future::ready(Executed::Done("recorded".into()))
    }
}

pub(super) fn run_case(
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
    let prepared = Prepared::new(&case.targets, interval);
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
        let observations = observe(&case.targets, &prepared, step, interval);
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

/// A target's series prepared once per case: every sample as a shared
/// series (the engine never reads past `now`), and for each step whether the
/// series is stale there. Rebuilding the visible prefix at every step made a
/// run quadratic in its length. The simulator's scripted objects are
/// prepared the same way.
pub(crate) struct Prepared {
    /// Per target, in the inputs' order: its series.
    series: Vec<Vec<PreparedSeries>>,
    /// Per target: each status timeline as the history `status was R
    /// within D` reads (1 where it holds, 0 where it does not), as the
    /// operator records it at each evaluation.
    statuses: Vec<Arc<crate::engine::observation::Metrics>>,
}

/// A metric's name, all its samples, and whether it is stale at each step.
type PreparedSeries = (String, Arc<Series>, Vec<bool>);

impl Prepared {
    pub(crate) fn new(targets: &[TargetInput], interval: i64) -> Prepared {
        let series = targets
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
        let statuses = targets
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
                    .collect::<BTreeMap<_, _>>()
            })
            .map(Arc::new)
            .collect();
        Prepared { series, statuses }
    }
}

/// The targets `inputs` describe, as observed at evaluation `step` (at
/// `step · interval`).
pub(crate) fn observe(
    inputs: &[TargetInput],
    prepared: &Prepared,
    step: i64,
    interval: i64,
) -> Observations {
    let now = step.saturating_mul(interval);
    let index = usize::try_from(step).unwrap_or(usize::MAX);
    let targets = inputs
        .iter()
        .zip(&prepared.series)
        .zip(&prepared.statuses)
        .map(|((input, series), statuses)| {
            let mut target = match (input.target.kind, input.target.name.split_once(':')) {
                (Kind::Filesystems, Some((node, mountpoint))) => {
                    let given = |l: &str| input.labels.get(l).map_or("", String::as_str);
                    Target::filesystem(node, mountpoint, given("fstype"), given("device"))
                }
                (Kind::Containers, _) => {
                    let mut target = Target::new(input.target.clone());
                    if let Some((_, container)) = input.target.container_of_pod() {
                        target.labels.insert(
                            crate::catalog::CONTAINER_LABEL.to_string(),
                            container.to_string(),
                        );
                    }
                    target
                }
                _ => Target::new(input.target.clone()),
            };
            target.status_history = Arc::clone(statuses);
            // A filesystem's `node` and `mountpoint` are its name's, and a
            // container's `container`, as the operator labels them.
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
