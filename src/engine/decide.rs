//! One evaluation: every rule of every policy on every target it selects, the
//! `for` timers advanced, and per target at most one decision — the most
//! urgent rule's action, a tie handed to the AI, or a block by `limit` or
//! `cooldown`. Deterministic: policies, targets and rules are visited in order.

use super::batch::rule_truths;
use super::observation::{Observations, Target, TargetId};
use super::select::{selects, Scope};
use super::state::{State, Taken, Timer};
use super::targets::{FastSet, LabelIndex, Targets};
use super::truth::{self, Truth};
use crate::ir::{Action, Policy, Program};
use serde::Serialize;
use std::collections::BTreeMap;

/// What the engine needs besides the program, the observations and the state.
#[derive(Debug, Clone)]
pub struct Context {
    /// Seconds between evaluations: an unknown condition holds its timer for
    /// at most two of them.
    pub interval: i64,
    /// The namespace of the HealingPolicy that embeds the program (what a
    /// `select` without `in` means).
    pub home_namespace: Option<String>,
    /// Namespaces no policy acts in, even `in any`.
    pub protected_namespaces: Vec<String>,
    /// Labels that protect an object from every action.
    pub protected_labels: Vec<(String, String)>,
}

/// What a policy decided for one target.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "decision", rename_all = "kebab-case")]
pub enum Decision {
    /// Carry out `action` (subject to the safety controller and the mode).
    Act {
        policy: String,
        rule: usize,
        target: TargetId,
        action: Action,
        /// What the action lands on: `target` itself, or the pod's owner or
        /// node (see [`Target::acted_on`]).
        object: TargetId,
        evidence: Vec<String>,
    },
    /// Hand the case to the AI analyzer, which may only choose a candidate.
    Ambiguous {
        policy: String,
        rules: Vec<usize>,
        target: TargetId,
        candidates: Vec<Action>,
        evidence: Vec<String>,
    },
    /// A rule fired but `limit` or `cooldown` holds it back.
    Blocked {
        policy: String,
        rule: usize,
        target: TargetId,
        by: Block,
        evidence: Vec<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Block {
    /// The policy took `limit` actions within the limit's window.
    Limit,
    /// The object was acted on less than `cooldown` ago.
    Cooldown,
    /// This evaluation already decided an action of this policy on the same
    /// object: another pod of the same workload or on the same node, which
    /// must not roll a Deployment three times for its three pods.
    SameObject,
}

impl Block {
    pub fn as_str(self) -> &'static str {
        match self {
            Block::Limit => "limit",
            Block::Cooldown => "cooldown",
            Block::SameObject => "same-object",
        }
    }
}

/// Why a rule did not fire although it might soon.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Waiting {
    pub policy: String,
    pub rule: usize,
    pub target: TargetId,
    pub why: WaitReason,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WaitReason {
    /// True, but not yet for its `for` duration.
    Holding { since: i64, needed: u64 },
    /// Unknown: these metrics had no data.
    Unknown { missing: Vec<String> },
}

/// The result of one evaluation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evaluation {
    pub decisions: Vec<Decision>,
    pub waiting: Vec<Waiting>,
    pub state: State,
}

/// Evaluates `program` against `observations` at `now`, from `state`.
pub fn evaluate(
    program: &Program,
    observations: &Observations,
    now: i64,
    state: &State,
    context: &Context,
) -> Evaluation {
    let targets = Targets::new(&observations.targets);
    let mut out = Evaluation {
        decisions: Vec::new(),
        waiting: Vec::new(),
        state: State {
            timers: Default::default(),
            history: state.history.clone(),
        },
    };
    let index = LabelIndex::new(program, &targets, &context.protected_labels);
    let protected_namespaces: Vec<u32> = context
        .protected_namespaces
        .iter()
        .filter_map(|ns| targets.rank(ns))
        .collect();
    // The targets each policy visited, ascending: for the carry-over of the
    // timers of those it did not.
    let mut seen: Vec<Vec<usize>> = Vec::with_capacity(program.policies.len());
    for policy in &program.policies {
        // The previous timers of this policy with their targets' indices,
        // both ascending: a merge with the candidates finds each target's
        // timers without comparing ids.
        let previous: Vec<(usize, &BTreeMap<String, Timer>)> = state
            .timers
            .get(&policy.name)
            .map(|by_target| {
                by_target
                    .iter()
                    .filter_map(|(id, by_rule)| Some((targets.position(id)?, by_rule)))
                    .collect()
            })
            .unwrap_or_default();
        let mut previous = previous.into_iter().peekable();
        // The policy's timers by target, in target order: built into a map
        // at once below, which costs a fraction of inserting them one by one.
        let mut timers: Vec<(TargetId, Option<BTreeMap<String, Timer>>)> = Vec::new();
        // The objects this policy's decisions of this evaluation act on.
        let mut decided: FastSet<TargetId> = FastSet::default();
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
                now,
                previous_timers,
                context,
            };
            evaluate_target(&visit, &mut timers, &mut decided, &mut out);
        }
        store_timers(&policy.name, timers, &mut out.state);
        seen.push(visits);
    }
    carry_over_unseen(
        program,
        &targets,
        state,
        &seen,
        now,
        context.interval,
        &mut out.state,
    );
    prune_history(program, now, &mut out.state);
    out
}

/// Writes one policy's timers, by target in target order, into `state`:
/// `None` removes a target's timers (its rules fired and start over).
fn store_timers(
    policy: &str,
    timers: Vec<(TargetId, Option<BTreeMap<String, Timer>>)>,
    state: &mut State,
) {
    if timers.is_empty() {
        return;
    }
    match state.timers.get_mut(policy) {
        // Only a second policy of the same name (a program read from JSON
        // is data) finds timers already there: applied in order, as they
        // would have been one by one.
        Some(existing) => {
            for (target, by_rule) in timers {
                match by_rule {
                    Some(by_rule) => {
                        existing.insert(target, by_rule);
                    }
                    None => {
                        existing.remove(&target);
                    }
                }
            }
            if existing.is_empty() {
                state.timers.remove(policy);
            }
        }
        None => {
            // Sorted and free of duplicates: the map is built in one pass.
            let by_target: BTreeMap<TargetId, BTreeMap<String, Timer>> = timers
                .into_iter()
                .filter_map(|(target, by_rule)| Some((target, by_rule?)))
                .collect();
            if !by_target.is_empty() {
                state.timers.insert(policy.to_string(), by_target);
            }
        }
    }
}

/// Timers of targets this evaluation did not see (a watch cache not synced
/// yet, an observation gap) are treated as unknown: held for two evaluations,
/// then reset — never dropped at once, which would make a restart forget them.
/// Timers of policies or rules no longer in the program go.
fn carry_over_unseen(
    program: &Program,
    targets: &Targets,
    previous: &State,
    seen: &[Vec<usize>],
    now: i64,
    interval: i64,
    state: &mut State,
) {
    for (policy_name, by_target) in &previous.timers {
        let Some(policy_index) = program.policies.iter().position(|p| &p.name == policy_name)
        else {
            continue;
        };
        let policy = &program.policies[policy_index];
        for (target, by_rule) in by_target {
            let visited = targets.position(target).is_some_and(|i| {
                seen.get(policy_index)
                    .is_some_and(|visited| visited.binary_search(&i).is_ok())
            });
            if visited {
                continue;
            }
            let kept: BTreeMap<String, Timer> = by_rule
                .iter()
                .filter(|(rule, _)| policy.rules.iter().any(|r| &r.fingerprint == *rule))
                .filter_map(|(rule, timer)| {
                    advance(Some(*timer), Truth::Unknown, now, interval).map(|t| (rule.clone(), t))
                })
                .collect();
            if !kept.is_empty() {
                state
                    .timers
                    .entry(policy_name.clone())
                    .or_default()
                    .insert(target.clone(), kept);
            }
        }
    }
}

/// One policy on one target at one evaluation.
struct Visit<'a> {
    program: &'a Program,
    policy: &'a Policy,
    target: &'a Target,
    /// Each rule's truth on the target, in rule order.
    truths: &'a [Truth],
    now: i64,
    /// The target's timers under this policy at the evaluation before.
    previous_timers: Option<&'a BTreeMap<String, Timer>>,
    context: &'a Context,
}

/// Evaluates the policy's rules on the target: its timers go to `timers` (the
/// policy's, by target), its decision and what waits to `out`.
fn evaluate_target(
    visit: &Visit,
    timers: &mut Vec<(TargetId, Option<BTreeMap<String, Timer>>)>,
    decided: &mut FastSet<TargetId>,
    out: &mut Evaluation,
) {
    let Visit {
        program,
        policy,
        target,
        truths,
        now,
        previous_timers,
        context,
    } = *visit;
    let mut fired: Vec<(usize, Option<i64>)> = Vec::new();
    let mut running: BTreeMap<String, Timer> = BTreeMap::new();
    for (rule, &truth) in policy.rules.iter().zip(truths) {
        let previous_timer = previous_timers
            .and_then(|t| t.get(&rule.fingerprint))
            .copied();
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
                    out.waiting.push(Waiting {
                        policy: policy.name.clone(),
                        rule: rule.index,
                        target: target.id.clone(),
                        why: WaitReason::Holding {
                            since: t.since,
                            needed,
                        },
                    });
                }
            }
            (Truth::Unknown, _) => out.waiting.push(Waiting {
                policy: policy.name.clone(),
                rule: rule.index,
                target: target.id.clone(),
                why: WaitReason::Unknown {
                    missing: truth::evaluate(program, &rule.condition, target, now, false).missing,
                },
            }),
            _ => {}
        }
    }
    if !running.is_empty() {
        timers.push((target.id.clone(), Some(running)));
    }
    let Some(most_urgent) = fired.iter().map(|(i, _)| policy.rules[*i].priority).min() else {
        return;
    };
    let top: Vec<&(usize, Option<i64>)> = fired
        .iter()
        .filter(|(i, _)| policy.rules[*i].priority == most_urgent)
        .collect();
    // Evidence is formatted only now, for the rules that decide.
    let evidence: Vec<String> = top
        .iter()
        .flat_map(|(i, held)| {
            let rule = &policy.rules[*i];
            let mut lines = truth::evaluate(program, &rule.condition, target, now, true).seen;
            if let Some(held) = held {
                lines.push(format!(
                    "for {}",
                    crate::ir::Seconds(u64::try_from(*held).unwrap_or(0)).spelled()
                ));
            }
            lines
        })
        .collect();
    let first_rule = top[0].0;
    let mut candidates: Vec<Action> = Vec::new();
    let mut asks_ai = false;
    for (i, _) in &top {
        match &policy.rules[*i].action {
            Action::AskAi(choices) => {
                asks_ai = true;
                for choice in choices {
                    if !candidates.contains(&choice.action) {
                        candidates.push(choice.action.clone());
                    }
                }
            }
            action => {
                if !candidates.contains(action) {
                    candidates.push(action.clone());
                }
            }
        }
    }
    let decides_alone = !asks_ai && candidates.len() == 1;
    // A case for the AI is keyed on the target: which object its choice will
    // land on is not known yet.
    let object = if decides_alone {
        target.acted_on(policy.rules[first_rule].effect)
    } else {
        target.id.clone()
    };
    let block = if decided.contains(&object) {
        Some(Block::SameObject)
    } else {
        blocked(policy, &object, now, &out.state)
    };
    if let Some(block) = block {
        out.decisions.push(Decision::Blocked {
            policy: policy.name.clone(),
            rule: first_rule,
            target: target.id.clone(),
            by: block,
            evidence,
        });
        // The action decided for another pod lands on this one's object
        // too: its rules start over as if it had decided, or it would act
        // on the same object at the next evaluation. A limit or cooldown
        // leaves the timers running, so the rule acts once it lifts.
        if block == Block::SameObject {
            restart_fired(policy, &target.id, &top, timers);
        }
        return;
    }
    let decision = if decides_alone {
        Decision::Act {
            policy: policy.name.clone(),
            rule: first_rule,
            target: target.id.clone(),
            action: candidates.remove(0),
            object: object.clone(),
            evidence,
        }
    } else {
        Decision::Ambiguous {
            policy: policy.name.clone(),
            rules: top.iter().map(|(i, _)| *i).collect(),
            target: target.id.clone(),
            candidates,
            evidence,
        }
    };
    out.decisions.push(decision);
    // Only `limit` and `cooldown` read the history: a policy with neither
    // leaves none, so the state stays small.
    if policy.limit.is_some() || policy.cooldown.is_some() {
        out.state.history.push(Taken {
            policy: policy.name.clone(),
            target: object.clone(),
            at: now,
        });
    }
    decided.insert(object);
    // After a decision the fired rules start over: `for 3m` must hold for
    // another three minutes before they fire again.
    restart_fired(policy, &target.id, &top, timers);
}

/// Removes the fired rules' timers of `target`. They were true, so this
/// target's timers are the last pushed.
fn restart_fired(
    policy: &Policy,
    target: &TargetId,
    fired: &[&(usize, Option<i64>)],
    timers: &mut Vec<(TargetId, Option<BTreeMap<String, Timer>>)>,
) {
    if let Some((_, Some(running))) = timers.last_mut().filter(|(id, _)| id == target) {
        for (i, _) in fired {
            running.remove(&policy.rules[*i].fingerprint);
        }
        if running.is_empty() {
            timers.pop();
            timers.push((target.clone(), None));
        }
    }
}

/// The `for` timer after an evaluation: true advances (or starts) it, false
/// resets it, unknown holds it for at most two evaluations.
fn advance(timer: Option<Timer>, truth: Truth, now: i64, interval: i64) -> Option<Timer> {
    match (truth, timer) {
        (Truth::False, _) => None,
        (Truth::True, Some(t)) => Some(Timer {
            since: t.since,
            unknown_since: None,
        }),
        (Truth::True, None) => Some(Timer {
            since: now,
            unknown_since: None,
        }),
        (Truth::Unknown, None) => None,
        (Truth::Unknown, Some(t)) => {
            // Unknown at two consecutive evaluations (the first, and one
            // interval later) holds; the third resets.
            let unknown_since = t.unknown_since.unwrap_or(now);
            (now.saturating_sub(unknown_since) < interval.saturating_mul(2)).then_some(Timer {
                since: t.since,
                unknown_since: Some(unknown_since),
            })
        }
    }
}

/// Whether `limit` or `cooldown` holds back an action on `object`.
fn blocked(policy: &Policy, object: &TargetId, now: i64, state: &State) -> Option<Block> {
    if let Some(cooldown) = policy.cooldown {
        let window = i64::try_from(cooldown.0).unwrap_or(i64::MAX);
        let recent = state.history.iter().any(|t| {
            t.policy == policy.name && t.target == *object && now.saturating_sub(t.at) < window
        });
        if recent {
            return Some(Block::Cooldown);
        }
    }
    if let Some(limit) = policy.limit {
        let window = i64::try_from(limit.per.0).unwrap_or(i64::MAX);
        let taken = state
            .history
            .iter()
            .filter(|t| t.policy == policy.name && now.saturating_sub(t.at) < window)
            .count();
        if taken >= limit.count as usize {
            return Some(Block::Limit);
        }
    }
    None
}

/// Keeps only the history a `limit` or `cooldown` can still count: each
/// record as long as its own policy's longest window.
fn prune_history(program: &Program, now: i64, state: &mut State) {
    let window = |name: &str| {
        program
            .policies
            .iter()
            .find(|p| p.name == name)
            .and_then(|p| {
                [p.cooldown.map(|c| c.0), p.limit.map(|l| l.per.0)]
                    .into_iter()
                    .flatten()
                    .max()
            })
            .map_or(0, |w| i64::try_from(w).unwrap_or(i64::MAX))
    };
    // A record from the future (a clock jump, a corrupted state) counts for
    // nothing: it would block forever and never age out.
    state
        .history
        .retain(|t| t.at <= now && now.saturating_sub(t.at) < window(&t.policy));
}
