//! `kubeskippy simulate`: policies against a scenario on a virtual clock.
//!
//! Each step the world advances (faults progress, samples are recorded), the
//! engine evaluates exactly as the operator would, and each decision is
//! carried out as the policy's mode says: `auto` acts on the world, `dryrun`
//! records, `approve` waits for a person, `monitor` only observes; a case for
//! the AI is recorded as handed over (the simulator runs no model). Pure and
//! deterministic: the same scenario, policies and seed give the same report.

use super::explain::{Explanation, Follow, RuleRef};
use super::scenario::{Scenario, MAX_POD_STEPS};
use super::world::{Incident, IncidentOutcome, World};
pub use crate::act::Outcome;
use crate::act::{self, now_or_never};
use crate::engine::evidence;
use crate::engine::state::State;
use crate::engine::{evaluate, Context, Decision};
use crate::ir::{Program, Seconds};
use crate::safety::SafetyConfig;
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};

/// What the command line may override.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub until: Option<Seconds>,
    pub seed: Option<u64>,
    /// Recorded AI answers: each case handed to the AI gets the next answer
    /// recorded for its object, validated as a live one would be, and the
    /// choice is carried out as the operator would (see [`ai_choice`]).
    /// Without it the timeline stops at the hand-over.
    pub ai: Option<std::sync::Arc<crate::ai::replay::ReplayAnalyzer>>,
    /// `--explain`: the rule whose standing to record at every step, and the
    /// target (`--target`) to record it on, or every target it visits.
    pub explain: Option<(RuleRef, Option<String>)>,
}

/// One line of the timeline: a decision and what came of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// Seconds since the start.
    pub at: i64,
    pub policy: String,
    /// 1-based, as `explain` numbers rules.
    pub rules: Vec<usize>,
    pub target: String,
    /// The action as the policy writes it; for the AI, its candidates.
    pub action: String,
    pub evidence: Vec<String>,
    pub outcome: Outcome,
    /// The incidents this entry's action healed (filled in when they close).
    pub healed: Vec<Healed>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Healed {
    pub fault: String,
    pub object: String,
    /// Seconds from the fault's start to its healing.
    pub after: i64,
}

/// The whole run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub scenario: String,
    pub seed: u64,
    pub interval: i64,
    pub until: i64,
    pub policies: usize,
    pub pods_at_start: usize,
    pub timeline: Vec<Entry>,
    /// Entries past [`MAX_TIMELINE`], counted in the summary but not kept.
    pub timeline_omitted: usize,
    pub incidents: Vec<Incident>,
    pub summary: Summary,
    /// `--explain`: where the rule stood at each step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<Explanation>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Summary {
    pub faults_injected: usize,
    pub faults_by_kind: BTreeMap<String, usize>,
    pub faults_healed: usize,
    pub faults_recovered: usize,
    pub faults_crashed: usize,
    /// Ended because their pod was scaled away.
    pub faults_gone: usize,
    pub faults_open: usize,
    /// Seconds; `None` when nothing was healed.
    pub time_to_heal_median: Option<i64>,
    pub time_to_heal_p95: Option<i64>,
    pub actions_taken: usize,
    pub actions_by_type: BTreeMap<String, usize>,
    /// Admitted, but the executor could not carry them out.
    pub actions_failed: usize,
    pub handed_to_ai: usize,
    pub blocked: usize,
    pub blocked_by: BTreeMap<String, usize>,
    pub dry_run_records: usize,
    pub awaiting_approval: usize,
}

/// The most timeline entries a report keeps; the summary counts them all.
/// A policy that notifies at every step of a long run would otherwise fill
/// memory with copies of one line.
pub const MAX_TIMELINE: usize = 100_000;

/// Runs `programs` against `scenario`, each with its own engine state as the
/// operator keeps one per HealingPolicy, under the safety configuration's
/// protected namespaces and labels and its forbidden actions. `progress`
/// hears (step, steps) at every step, for a progress bar.
pub fn run(
    scenario: &Scenario,
    programs: &[Program],
    config: &SafetyConfig,
    options: &Options,
    progress: &mut dyn FnMut(u64, u64),
) -> Report {
    let seed = options.seed.unwrap_or(scenario.seed);
    let until = options.until.unwrap_or(scenario.duration);
    let interval = i64::try_from(scenario.interval.0.max(1)).unwrap_or(i64::MAX);
    let steps = until.0 / scenario.interval.0.max(1);
    let context = Context {
        protected_namespaces: config.protected_namespaces.clone(),
        protected_labels: config.protected_labels.clone().into_iter().collect(),
        ..Context::new(interval, Some(&scenario.namespace))
    };
    let mut follow = options
        .explain
        .as_ref()
        .and_then(|(rule, target)| Follow::new(programs, rule, target.as_deref(), &context));
    let mut world = World::new(scenario, programs, seed);
    let pods_at_start = world.pod_count();
    world.limit_pods(pod_budget(steps, scenario.nodes.len(), pods_at_start));
    let mut states: Vec<State> = vec![State::default(); programs.len()];
    let mut timeline: Vec<Entry> = Vec::new();
    let mut entries = 0usize;
    let mut summary = Summary::default();
    // A block holds for many evaluations; the timeline shows its first.
    let mut blocked_before: HashSet<(String, String, String)> = HashSet::new();
    let mut refused_before: HashSet<(String, String, String)> = HashSet::new();
    for step in 0..=steps {
        let now = i64::try_from(step)
            .unwrap_or(i64::MAX)
            .saturating_mul(interval);
        progress(step, steps);
        world.step(now);
        let observations = world.take_observations();
        let mut evaluations: Vec<_> = programs
            .iter()
            .zip(&states)
            .enumerate()
            .map(|(i, (program, state))| {
                let context = follow
                    .as_ref()
                    .and_then(|f| f.context(i))
                    .unwrap_or(&context);
                evaluate(program, &observations, now, state, context)
            })
            .collect();
        if let Some(follow) = &mut follow {
            follow.record(now, &mut evaluations);
        }
        world.restore(observations);
        let mut blocked_now = HashSet::new();
        for ((program, state), evaluation) in programs.iter().zip(&mut states).zip(evaluations) {
            *state = evaluation.state;
            for decision in evaluation.decisions {
                let Some(entry) = carry_out(
                    program,
                    config,
                    state,
                    &mut world,
                    decision,
                    now,
                    entries,
                    options.ai.as_deref(),
                ) else {
                    continue;
                };
                if let Outcome::Blocked(by) = &entry.outcome {
                    let key = (entry.policy.clone(), entry.target.clone(), by.clone());
                    let first = !blocked_before.contains(&key);
                    blocked_now.insert(key);
                    if !first {
                        continue;
                    }
                }
                // A refusal spends no budget, so the rule asks again each
                // time it holds: shown once, as Kubernetes folds a repeated
                // Event into one.
                if let Outcome::Refused(why) = &entry.outcome {
                    let key = (entry.policy.clone(), entry.target.clone(), why.clone());
                    if !refused_before.insert(key) {
                        continue;
                    }
                }
                count(&mut summary, &entry);
                entries += 1;
                if timeline.len() < MAX_TIMELINE {
                    timeline.push(entry);
                }
            }
        }
        blocked_before = blocked_now;
    }
    let incidents = world.finish();
    for incident in &incidents {
        if let (IncidentOutcome::Healed { by }, Some(closed)) = (incident.outcome, incident.closed)
        {
            if let Some(entry) = timeline.get_mut(by) {
                entry.healed.push(Healed {
                    fault: incident.fault.clone(),
                    object: incident.object.to_string(),
                    after: closed - incident.opened,
                });
            }
        }
    }
    summarize_incidents(&mut summary, &incidents);
    Report {
        scenario: scenario.name.clone(),
        seed,
        interval,
        until: i64::try_from(until.0).unwrap_or(i64::MAX),
        policies: programs.iter().map(|p| p.policies.len()).sum(),
        pods_at_start,
        timeline_omitted: entries - timeline.len(),
        timeline,
        incidents,
        summary,
        explanation: follow.map(Follow::finish),
    }
}

/// The most pods a run of `steps` steps may have at once so that its
/// pod-steps, nodes counted, stay within [`MAX_POD_STEPS`]; never fewer than
/// it starts with (the scenario's check bounds those).
pub fn pod_budget(steps: u64, nodes: usize, pods_at_start: usize) -> usize {
    let per_step = usize::try_from(MAX_POD_STEPS / steps.saturating_add(1)).unwrap_or(usize::MAX);
    per_step.saturating_sub(nodes).max(pods_at_start)
}

/// The decision through the shared step after `evaluate` (admission, the
/// world as executor, the commit), as a timeline entry.
#[allow(clippy::too_many_arguments)]
fn carry_out(
    program: &Program,
    config: &SafetyConfig,
    state: &mut State,
    world: &mut World,
    decision: Decision,
    now: i64,
    index: usize,
    ai: Option<&crate::ai::replay::ReplayAnalyzer>,
) -> Option<Entry> {
    let policy = program.policies.get(decision.policy_index())?;
    // The world answers at once; a future that does not is a bug here.
    let mut carried = now_or_never(act::carry_out(
        program, config, state, world, &decision, now, index,
    ))?;
    let mut chose = None;
    if let (Outcome::HandedToAi(_), Some(ai)) = (&carried.outcome, ai) {
        if let Some((words, outcome)) =
            ai_choice(program, config, state, world, &decision, now, index, ai)
        {
            chose = Some(words);
            carried.outcome = outcome;
        }
    }
    let action = match &decision {
        Decision::Act { action, .. } => program.render_action(action),
        Decision::Ambiguous { candidates, .. } => {
            let actions: Vec<_> = candidates.iter().map(|c| c.action.clone()).collect();
            let asked = format!("ask ai among [{}]", program.render_actions(&actions));
            match chose {
                Some(words) => format!("{asked} → {words}"),
                None => asked,
            }
        }
        Decision::Blocked { rule, .. } => policy
            .rules
            .get(*rule)
            .map_or_else(String::new, |r| program.render_action(&r.action)),
    };
    Some(Entry {
        at: now,
        policy: policy.name.clone(),
        rules: decision.rules().iter().map(|r| r + 1).collect(),
        target: decision.target().to_string(),
        action,
        evidence: evidence::render(decision.evidence()),
        outcome: carried.outcome,
        healed: Vec::new(),
    })
}

/// What the operator does with the AI's answer to a case: the model's own
/// choice waits for a person unless the safety configuration's
/// `aiAutoApproveConfidence` is set and reached; a fallback choice is
/// carried out under the policy's mode; no safe default is a notification.
/// The words say who chose what.
#[allow(clippy::too_many_arguments)]
fn ai_choice(
    program: &Program,
    config: &SafetyConfig,
    state: &mut State,
    world: &mut World,
    decision: &Decision,
    now: i64,
    index: usize,
    ai: &crate::ai::replay::ReplayAnalyzer,
) -> Option<(String, Outcome)> {
    let Decision::Ambiguous { candidates, .. } = decision else {
        return None;
    };
    let redactor = crate::ai::redact::Redactor::new(&[]).ok()?;
    let case = crate::ai::Case::from_decision(
        program,
        decision,
        &crate::ai::case::Context::default(),
        &redactor,
    )
    .ok()?;
    let verdict = ai.replay(&case);
    let Some(chosen) = verdict.candidate().and_then(|i| candidates.get(i)) else {
        act::end_without_action(state, decision, now);
        return Some((
            "no safe default: a person is notified".into(),
            Outcome::Done("notified".into()),
        ));
    };
    let words = match verdict.confidence() {
        Some(c) => format!(
            "{} (the AI, confidence {c:.2})",
            program.render_action(&chosen.action)
        ),
        None => format!("{} (the fallback)", program.render_action(&chosen.action)),
    };
    let trusted = verdict
        .confidence()
        .zip(config.ai_auto_approve_confidence)
        .is_some_and(|(c, t)| c >= t);
    if verdict.origin() == "ai" && !trusted {
        return Some((
            words,
            Outcome::AwaitingApproval("the AI's choices wait for a person".into()),
        ));
    }
    let carried = now_or_never(act::carry_out_choice(
        program,
        config,
        state,
        world,
        decision,
        &chosen.action,
        now,
        index,
    ))?;
    Some((words, carried.outcome))
}

fn count(s: &mut Summary, entry: &Entry) {
    match &entry.outcome {
        Outcome::Done(_) => {
            s.actions_taken += 1;
            *s.actions_by_type
                .entry(action_kind(&entry.action))
                .or_default() += 1;
        }
        Outcome::HandedToAi(_) => s.handed_to_ai += 1,
        Outcome::Blocked(by) => {
            s.blocked += 1;
            *s.blocked_by.entry(by.clone()).or_default() += 1;
        }
        Outcome::Failed(_) => s.actions_failed += 1,
        Outcome::Refused(_) => {
            s.blocked += 1;
            *s.blocked_by.entry("safety".into()).or_default() += 1;
        }
        Outcome::DryRun => s.dry_run_records += 1,
        Outcome::AwaitingApproval(_) => s.awaiting_approval += 1,
        Outcome::Missing(_) | Outcome::Monitored => {}
    }
}

fn summarize_incidents(s: &mut Summary, incidents: &[Incident]) {
    s.faults_injected = incidents.len();
    let mut heal_times: Vec<i64> = Vec::new();
    for incident in incidents {
        *s.faults_by_kind.entry(incident.fault.clone()).or_default() += 1;
        match incident.outcome {
            IncidentOutcome::Healed { .. } => {
                s.faults_healed += 1;
                if let Some(closed) = incident.closed {
                    heal_times.push(closed - incident.opened);
                }
            }
            IncidentOutcome::Recovered => s.faults_recovered += 1,
            IncidentOutcome::Crashed => s.faults_crashed += 1,
            IncidentOutcome::Gone => s.faults_gone += 1,
            IncidentOutcome::Open => s.faults_open += 1,
        }
    }
    heal_times.sort_unstable();
    s.time_to_heal_median = percentile(&heal_times, 50);
    s.time_to_heal_p95 = percentile(&heal_times, 95);
}

/// The nearest-rank percentile of sorted values.
fn percentile(sorted: &[i64], p: usize) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

/// The action's words without its arguments: `scale up 2 max 10` counts as
/// `scale up`, `notify "…"` as `notify`.
fn action_kind(action: &str) -> String {
    let words: Vec<&str> = action.split_whitespace().collect();
    match words.as_slice() {
        ["restart", "rolling", ..] => "restart rolling".into(),
        ["scale", dir, ..] => format!("scale {dir}"),
        ["set", resource, ..] => format!("set {resource}"),
        [first, ..] => (*first).to_string(),
        [] => String::new(),
    }
}

/// The report for people: a timeline, then the summary table.
pub fn render(report: &Report) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "simulate {}: {} at {} steps, seed {}, {} policies, {} pods at the start",
        report.scenario,
        clock(report.until),
        clock(report.interval),
        report.seed,
        report.policies,
        report.pods_at_start,
    );
    let _ = writeln!(out);
    if report.timeline.is_empty() {
        let _ = writeln!(out, "no decisions");
    }
    for entry in &report.timeline {
        let rules: Vec<String> = entry.rules.iter().map(|r| r.to_string()).collect();
        let _ = writeln!(
            out,
            "{:>8}  {}  {} (rule {})",
            clock(entry.at),
            entry.target,
            entry.policy,
            rules.join(", ")
        );
        let _ = writeln!(out, "          {}", entry.action);
        if !entry.evidence.is_empty() {
            let _ = writeln!(out, "          because {}", entry.evidence.join("; "));
        }
        let _ = writeln!(out, "          → {}", describe(&entry.outcome));
        for h in &entry.healed {
            let _ = writeln!(
                out,
                "          ✓ healed {} on {} after {}",
                h.fault,
                h.object,
                clock(h.after)
            );
        }
    }
    if report.timeline_omitted > 0 {
        let _ = writeln!(
            out,
            "… and {} more decisions (the timeline keeps the first {MAX_TIMELINE}; the summary counts all)",
            report.timeline_omitted
        );
    }
    let s = &report.summary;
    let _ = writeln!(out);
    let _ = writeln!(out, "summary");
    let rows: Vec<(&str, String, String)> = vec![
        (
            "faults injected",
            s.faults_injected.to_string(),
            list(&s.faults_by_kind),
        ),
        ("faults healed", s.faults_healed.to_string(), String::new()),
        (
            "time to heal",
            s.time_to_heal_median.map_or("-".into(), clock),
            s.time_to_heal_p95
                .map_or(String::new(), |p| format!("median; p95 {}", clock(p))),
        ),
        (
            "recovered alone",
            s.faults_recovered.to_string(),
            String::new(),
        ),
        ("crashed first", s.faults_crashed.to_string(), String::new()),
        ("scaled away", s.faults_gone.to_string(), String::new()),
        ("still open", s.faults_open.to_string(), String::new()),
        (
            "actions taken",
            s.actions_taken.to_string(),
            list(&s.actions_by_type),
        ),
        (
            "actions failed",
            s.actions_failed.to_string(),
            String::new(),
        ),
        (
            "handed to the AI",
            s.handed_to_ai.to_string(),
            String::new(),
        ),
        ("blocked", s.blocked.to_string(), list(&s.blocked_by)),
        (
            "dry-run records",
            s.dry_run_records.to_string(),
            String::new(),
        ),
        (
            "awaiting approval",
            s.awaiting_approval.to_string(),
            String::new(),
        ),
    ];
    for (label, value, detail) in rows {
        // The simulated world never fails an action it admits.
        if label == "actions failed" && value == "0" {
            continue;
        }
        let line = format!("  {label:<18} {value:>6}  {detail}");
        let _ = writeln!(out, "{}", line.trim_end());
    }
    if let Some(explanation) = &report.explanation {
        let _ = writeln!(out);
        out.push_str(&explanation.render());
    }
    out
}

fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Done(what) => format!("done: {what}"),
        Outcome::Missing(why) => format!("not carried out: {why}"),
        Outcome::Failed(why) => format!("failed: {why}"),
        Outcome::DryRun => "dry-run: recorded, not carried out".into(),
        Outcome::AwaitingApproval(why) => format!("awaiting approval ({why})"),
        Outcome::Monitored => "monitor: recorded only".into(),
        Outcome::HandedToAi(then) => format!(
            "handed to the AI analyzer, which may only choose among these; {then} (the simulator runs no model)"
        ),
        Outcome::Blocked(by) if by == "open-request" => {
            "waiting: a request about it is open (for the AI or a person)".into()
        }
        Outcome::Blocked(by) => format!("blocked by {by}"),
        Outcome::Refused(why) => format!("refused by the safety controller: {why}"),
    }
}

fn list(counts: &BTreeMap<String, usize>) -> String {
    counts
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Seconds since the start, as a clock reads them: `1h5m15s`.
fn clock(s: i64) -> String {
    Seconds(u64::try_from(s).unwrap_or(0)).spelled()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        assert_eq!(percentile(&[], 50), None);
        assert_eq!(percentile(&[7], 95), Some(7));
        let v: Vec<i64> = (1..=20).collect();
        assert_eq!(percentile(&v, 50), Some(10));
        assert_eq!(percentile(&v, 95), Some(19));
    }

    #[test]
    fn action_kinds() {
        assert_eq!(action_kind("scale up 2 max 10"), "scale up");
        assert_eq!(action_kind("restart rolling"), "restart rolling");
        assert_eq!(action_kind("notify \"x y\""), "notify");
        assert_eq!(
            action_kind("set memory_limit to current * 1.5 max 2Gi"),
            "set memory_limit"
        );
    }
}
