//! One evaluation: every rule of every policy on every target it selects, the
//! `for` timers advanced, and per target at most one decision — the most
//! urgent rule's action, a tie handed to the AI, or a block by `limit` or
//! `cooldown`. Deterministic: policies, targets and rules are visited in order.
//!
//! The engine decides; it never acts, and it charges nothing: what is carried
//! out is committed to the state afterwards ([`State::commit`]).

use super::batch::rule_truths;
use super::choose;
use super::decision::{Decision, WaitReason, Waiting};
use super::limits::{self, Pending};
use super::observation::{Observations, Target, TargetId};
use super::select::{selects, Scope};
use super::state::{of_rule, PolicyState, State, Timer};
use super::targets::{LabelIndex, Targets};
use super::timers::{advance, held_clauses, resumed};
use super::truth::{self, Truth};
use super::why::{self, Explain, Standing};
use crate::ir::{Condition, Policy, Program, Rule};
use std::collections::BTreeMap;

/// How long, by default, an evaluation gap the data cannot vouch for keeps a
/// `for` timer running: an operator restart or a leader failover.
pub const OUTAGE_TOLERANCE: i64 = 120;

/// How long, by default, a request waiting for a person or the AI keeps the
/// policy from asking again about the same object.
pub const REQUEST_TIMEOUT: i64 = 3_600;

/// What the engine needs besides the program, the observations and the state.
#[derive(Debug, Clone)]
pub struct Context {
    /// Seconds between evaluations: an unknown condition holds its timer for
    /// at most two of them, and a longer pause is a gap (see `engine::gap`).
    pub interval: i64,
    /// Seconds of a gap the data says nothing about that a timer survives.
    pub outage_tolerance: i64,
    /// Seconds an unanswered request (an approval, an AI case) stays open.
    pub request_timeout: i64,
    /// The namespace of the HealingPolicy that embeds the program (what a
    /// `select` without `in` means).
    pub home_namespace: Option<String>,
    /// Namespaces no policy acts in, even `in any`.
    pub protected_namespaces: Vec<String>,
    /// Labels that protect an object from every action.
    pub protected_labels: Vec<(String, String)>,
    /// Which rules to say the standing of ([`Evaluation::standings`]): off
    /// in the operator, whose cycle must not pay for it.
    pub explain: Explain,
}

impl Context {
    /// Evaluations every `interval` seconds in `home_namespace`, with no
    /// protections and the default outage tolerance.
    pub fn new(interval: i64, home_namespace: Option<&str>) -> Context {
        Context {
            interval,
            outage_tolerance: OUTAGE_TOLERANCE,
            request_timeout: REQUEST_TIMEOUT,
            home_namespace: home_namespace.map(str::to_string),
            protected_namespaces: Vec::new(),
            protected_labels: Vec::new(),
            explain: Explain::Off,
        }
    }
}

/// The result of one evaluation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evaluation {
    pub decisions: Vec<Decision>,
    pub waiting: Vec<Waiting>,
    pub state: State,
    /// Where the rules `Context::explain` names stood on each target
    /// visited; empty when it names none.
    pub standings: Vec<Standing>,
}

/// Which rules an evaluation runs, on which targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// Every rule on every target; a target not observed is unknown.
    Cycle,
    /// The rules that read a status or an event, on the observed targets
    /// only (a watch event is about them): every other timer stays as it
    /// was, neither advanced nor aged.
    Watch,
}

/// Evaluates `program` against `observations` at `now`, from `state`: the
/// operator's cycle, a test's step, a simulation's step.
pub fn evaluate(
    program: &Program,
    observations: &Observations,
    now: i64,
    state: &State,
    context: &Context,
) -> Evaluation {
    run(program, observations, now, state, context, Pass::Cycle)
}

/// Evaluates, on the targets in `observations` only, the rules that read a
/// status or an event, leaving every other timer untouched: what a watch
/// event triggers between cycles. A rule that mixes a status and a metric
/// runs here too, with the samples the observations carry.
pub fn evaluate_watch(
    program: &Program,
    observations: &Observations,
    now: i64,
    state: &State,
    context: &Context,
) -> Evaluation {
    run(program, observations, now, state, context, Pass::Watch)
}

fn run(
    program: &Program,
    observations: &Observations,
    now: i64,
    state: &State,
    context: &Context,
    pass: Pass,
) -> Evaluation {
    let targets = Targets::new(&observations.targets);
    let mut out = Evaluation::default();
    let index = LabelIndex::new(program, &targets, &context.protected_labels);
    let protected_namespaces: Vec<u32> = context
        .protected_namespaces
        .iter()
        .filter_map(|ns| targets.rank(ns))
        .collect();
    let empty = PolicyState::default();
    for (p, policy) in program.policies.iter().enumerate() {
        let previous_state = state.policy(p).unwrap_or(&empty);
        // The previous timers with their targets' indices, both ascending: a
        // merge with the visits finds each target's timers without
        // comparing ids.
        let previous: Vec<(usize, &BTreeMap<String, Timer>)> = previous_state
            .timers
            .iter()
            .filter_map(|(id, by_rule)| Some((targets.position(id)?, by_rule)))
            .collect();
        let mut previous = previous.into_iter().peekable();
        let (candidates, matched) = index.candidates(policy);
        let scope = Scope::of(policy, &targets, context);
        let visits: Vec<usize> = candidates
            .iter()
            .copied()
            .filter(|&i| {
                let namespace = targets.namespace(i);
                !namespace.is_some_and(|ns| protected_namespaces.contains(&ns))
                    && !index.protected(i)
                    && scope.holds(namespace)
                    && selects(policy, targets.targets[i], matched)
            })
            .collect();
        let width = policy.rules.len();
        let truths = rule_truths(program, policy, &targets, &visits, now);
        let runs: Vec<bool> = policy
            .rules
            .iter()
            .map(|r| pass == Pass::Cycle || watched(&r.condition))
            .collect();
        let mut history = previous_state.history.clone();
        limits::prune(Some(policy), &mut history, now);
        let mut open = previous_state.open.clone();
        limits::prune_open(&mut open, context.request_timeout, now);
        let mut visit_state = PolicyVisit {
            index: p,
            timers: Vec::new(),
            pending: Pending::default(),
            history: &history,
            open: &open,
        };
        for (k, &target_index) in visits.iter().enumerate() {
            while previous.next_if(|(i, _)| *i < target_index).is_some() {}
            let previous_timers = previous
                .next_if(|(i, _)| *i == target_index)
                .map(|(_, by_rule)| by_rule);
            let visit = Visit {
                program,
                policy,
                target: targets.targets[target_index],
                truths: truths.get(k * width..(k + 1) * width).unwrap_or(&[]),
                runs: &runs,
                now,
                previous_timers,
                context,
            };
            evaluate_target(&visit, &mut visit_state, &mut out);
        }
        let mut timers: BTreeMap<TargetId, BTreeMap<String, Timer>> = visit_state
            .timers
            .into_iter()
            .filter(|(_, by_rule)| !by_rule.is_empty())
            .collect();
        carry_over_unseen(
            policy,
            &targets,
            previous_state,
            &visits,
            now,
            context,
            pass,
            &mut timers,
        );
        out.state.policies.push(PolicyState {
            timers,
            history,
            open,
        });
    }
    out
}

/// Whether a condition reads a status or an event: what a watch event can
/// change.
fn watched(condition: &Condition) -> bool {
    match condition {
        Condition::Status(_) | Condition::StatusWas { .. } | Condition::Event { .. } => true,
        Condition::Compare { .. } | Condition::Relation { .. } => false,
        Condition::And(a, b) | Condition::Or(a, b) => watched(a) || watched(b),
        Condition::Not(c) | Condition::Held { condition: c, .. } => watched(c),
    }
}

/// Timers of targets this evaluation did not visit. On a cycle they are
/// unknown (a watch cache not synced yet, an observation gap): held for two
/// evaluations, then reset — never dropped at once, which would make a
/// restart forget them. A watch event leaves them as they were. Timers of
/// rules no longer in the policy go.
#[allow(clippy::too_many_arguments)]
fn carry_over_unseen(
    policy: &Policy,
    targets: &Targets,
    previous: &PolicyState,
    visits: &[usize],
    now: i64,
    context: &Context,
    pass: Pass,
    timers: &mut BTreeMap<TargetId, BTreeMap<String, Timer>>,
) {
    for (target, by_rule) in &previous.timers {
        let visited = targets
            .position(target)
            .is_some_and(|i| visits.binary_search(&i).is_ok());
        if visited {
            continue;
        }
        let kept: BTreeMap<String, Timer> = by_rule
            .iter()
            .filter(|(key, _)| policy.rules.iter().any(|r| of_rule(key, &r.fingerprint)))
            .filter_map(|(rule, timer)| {
                let timer = match pass {
                    Pass::Cycle => advance(Some(*timer), Truth::Unknown, now, context.interval)?,
                    Pass::Watch => *timer,
                };
                Some((rule.clone(), timer))
            })
            .collect();
        if !kept.is_empty() {
            timers.insert(target.clone(), kept);
        }
    }
}

/// One policy's evaluation, as it goes through its targets.
pub(super) struct PolicyVisit<'a> {
    pub(super) index: usize,
    /// Timers by target, in target order.
    pub(super) timers: Vec<(TargetId, BTreeMap<String, Timer>)>,
    /// This evaluation's decisions, counted by `limit` and `same object`.
    pub(super) pending: Pending,
    pub(super) history: &'a [super::state::Taken],
    pub(super) open: &'a [super::state::Taken],
}

/// One policy on one target at one evaluation.
pub(super) struct Visit<'a> {
    pub(super) program: &'a Program,
    pub(super) policy: &'a Policy,
    pub(super) target: &'a Target,
    /// Each rule's truth on the target, in rule order.
    pub(super) truths: &'a [Truth],
    /// Whether each rule runs in this pass.
    pub(super) runs: &'a [bool],
    pub(super) now: i64,
    /// The target's timers under this policy at the evaluation before.
    pub(super) previous_timers: Option<&'a BTreeMap<String, Timer>>,
    pub(super) context: &'a Context,
}

/// Evaluates the policy's rules on the target: its timers and its decision
/// go to `policy_visit`, what waits to `out`.
fn evaluate_target(visit: &Visit, policy_visit: &mut PolicyVisit, out: &mut Evaluation) {
    let Visit {
        program,
        policy,
        target,
        truths,
        runs,
        now,
        previous_timers,
        context,
    } = *visit;
    let mut fired: Vec<(usize, Option<i64>)> = Vec::new();
    let mut running: BTreeMap<String, Timer> = BTreeMap::new();
    // The rules' truths with their held clauses decided, where a rule has
    // any (the batch knew no timers).
    let mut decided: Option<Vec<Truth>> = None;
    for ((rule, &truth), &runs) in policy.rules.iter().zip(truths).zip(runs) {
        if !runs {
            // The rule's timer and its clauses' stay as they were.
            let kept = previous_timers.into_iter().flat_map(|t| {
                t.range(rule.fingerprint.clone()..)
                    .take_while(|(key, _)| key.starts_with(&rule.fingerprint))
                    .filter(|(key, _)| of_rule(key, &rule.fingerprint))
            });
            running.extend(kept.map(|(key, timer)| (key.clone(), *timer)));
            continue;
        }
        let truth = match held_clauses(visit, rule, &mut running) {
            Some(held) => {
                let truth = truth::truth(program, &rule.condition, target, &[], Some(&held), now);
                let decided = decided.get_or_insert_with(|| truths.to_vec());
                if let Some(slot) = decided.get_mut(rule.index) {
                    *slot = truth;
                }
                truth
            }
            None => truth,
        };
        let previous_timer = previous_timers
            .and_then(|t| t.get(&rule.fingerprint))
            .copied()
            .and_then(|t| resumed(visit, &rule.condition, rule.hold, t));
        let timer = advance(previous_timer, truth, now, context.interval);
        if let Some(timer) = timer {
            running.insert(rule.fingerprint.clone(), timer);
        }
        match (truth, timer) {
            (Truth::True, Some(t)) => {
                let held = now.saturating_sub(t.since);
                let needed = rule.hold.map_or(0, |h| h.0);
                if u64::try_from(held).unwrap_or(0) >= needed {
                    fired.push((rule.index, rule.hold.map(|_| held)));
                } else {
                    out.waiting.push(waiting(
                        policy,
                        policy_visit.index,
                        rule,
                        target,
                        WaitReason::Holding {
                            since: t.since,
                            needed,
                        },
                    ));
                }
            }
            (Truth::Unknown, _) => out.waiting.push(waiting(
                policy,
                policy_visit.index,
                rule,
                target,
                WaitReason::Unknown {
                    missing: truth::evaluate(program, &rule.condition, target, now, false).missing,
                },
            )),
            _ => {}
        }
    }
    // Noted after the rules ran, so that explaining costs the operator's
    // cycle (which never explains) one comparison per target.
    let explaining = context.explain.covers(policy_visit.index);
    let noted = if explaining {
        let truths = decided.as_deref().unwrap_or(truths);
        why::note(policy, truths, runs, &running, &fired)
    } else {
        Vec::new()
    };
    // Most targets have no running timer: only those that do are kept.
    if !running.is_empty() {
        policy_visit.timers.push((target.id.clone(), running));
    }
    let decided_before = out.decisions.len();
    if !fired.is_empty() {
        choose::decide_fired(visit, policy_visit, fired, out);
    }
    if explaining {
        let standings = why::standings(
            program,
            policy_visit.index,
            context.explain,
            target,
            now,
            &noted,
            &out.decisions[decided_before..],
        );
        out.standings.extend(standings);
    }
}

fn waiting(
    policy: &Policy,
    policy_index: usize,
    rule: &Rule,
    target: &Target,
    why: WaitReason,
) -> Waiting {
    Waiting {
        policy: policy.name.clone(),
        policy_index,
        rule: rule.index,
        target: target.id.clone(),
        why,
    }
}
