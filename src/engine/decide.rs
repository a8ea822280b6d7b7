//! One evaluation: every rule of every policy on every target it selects, the
//! `for` timers advanced, and per target at most one decision — the most
//! urgent rule's action, a tie handed to the AI, or a block by `limit` or
//! `cooldown`. Deterministic: policies, targets and rules are visited in order.

use super::observation::{Observations, Target, TargetId};
use super::state::{State, Taken, Timer};
use super::truth::{self, Truth, Verdict};
use crate::ir::{Action, LabelOp, Namespaces, Policy, Program};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};

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
    let mut targets: Vec<&Target> = observations.targets.iter().collect();
    // Observations usually arrive in order (a reflector's store, the
    // simulator); checking is linear, sorting is not.
    if !targets.is_sorted_by(|a, b| a.id < b.id) {
        targets.sort_by(|a, b| a.id.cmp(&b.id));
        // One object observed twice (two sources racing) is evaluated once:
        // twice would decide twice and overwrite its own timers.
        targets.dedup_by(|a, b| a.id == b.id);
    }
    let mut out = Evaluation {
        decisions: Vec::new(),
        waiting: Vec::new(),
        state: State {
            timers: Default::default(),
            history: state.history.clone(),
        },
    };
    // Most policies select by `label = value`: index the targets by their
    // labels once, so a policy visits its candidates, not every target.
    let mut by_label: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
    for (i, target) in targets.iter().enumerate() {
        for (key, value) in &target.labels {
            by_label.entry((key, value)).or_default().push(i);
        }
    }
    let everyone: Vec<usize> = (0..targets.len()).collect();
    // Visited (policy, target) pairs by index: hashing two integers per pair
    // costs a fraction of hashing their names.
    let mut seen: HashSet<(usize, usize)> = HashSet::new();
    for (policy_index, policy) in program.policies.iter().enumerate() {
        let candidates = policy
            .selector
            .labels
            .iter()
            .find_map(|l| match &l.op {
                LabelOp::Equals(value) => Some(
                    by_label
                        .get(&(l.key.as_str(), value.as_str()))
                        .map_or(&[][..], Vec::as_slice),
                ),
                _ => None,
            })
            .unwrap_or(&everyone);
        // The objects this policy's decisions of this evaluation act on.
        let mut decided: HashSet<TargetId> = HashSet::new();
        for (target_index, target) in candidates.iter().map(|&i| (i, targets[i])) {
            if selects(policy, target, context) {
                seen.insert((policy_index, target_index));
                let visit = Visit {
                    program,
                    policy,
                    target,
                    now,
                    previous: state,
                    context,
                };
                evaluate_target(&visit, &mut decided, &mut out);
            }
        }
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

/// Timers of targets this evaluation did not see (a watch cache not synced
/// yet, an observation gap) are treated as unknown: held for two evaluations,
/// then reset — never dropped at once, which would make a restart forget them.
/// Timers of policies or rules no longer in the program go.
fn carry_over_unseen(
    program: &Program,
    targets: &[&Target],
    previous: &State,
    seen: &HashSet<(usize, usize)>,
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
            // `targets` is sorted and free of duplicates.
            let visited = targets
                .binary_search_by(|t| t.id.cmp(target))
                .is_ok_and(|i| seen.contains(&(policy_index, i)));
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
    now: i64,
    previous: &'a State,
    context: &'a Context,
}

fn evaluate_target(visit: &Visit, decided: &mut HashSet<TargetId>, out: &mut Evaluation) {
    let Visit {
        program,
        policy,
        target,
        now,
        previous,
        context,
    } = *visit;
    let mut fired: Vec<(usize, Verdict, Option<i64>)> = Vec::new();
    // This target's timers under this policy, looked up once for all rules.
    let previous_timers = previous
        .timers
        .get(&policy.name)
        .and_then(|by_target| by_target.get(&target.id));
    let mut timers: BTreeMap<String, Timer> = BTreeMap::new();
    for rule in &policy.rules {
        let verdict = truth::evaluate(program, &rule.condition, target, now, false);
        let previous_timer = previous_timers
            .and_then(|t| t.get(&rule.fingerprint))
            .copied();
        let timer = advance(previous_timer, verdict.truth, now, context.interval);
        if let Some(timer) = timer {
            timers.insert(rule.fingerprint.clone(), timer);
        }
        match (verdict.truth, timer) {
            (Truth::True, Some(t)) => {
                let held = now.saturating_sub(t.since);
                let needed = rule.hold.map_or(0, |h| h.0);
                if u64::try_from(held).unwrap_or(0) >= needed {
                    fired.push((rule.index, verdict, rule.hold.map(|_| held)));
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
                    missing: verdict.missing.clone(),
                },
            }),
            _ => {}
        }
    }
    if !timers.is_empty() {
        out.state
            .timers
            .entry(policy.name.clone())
            .or_default()
            .insert(target.id.clone(), timers);
    }
    let Some(most_urgent) = fired
        .iter()
        .map(|(i, _, _)| policy.rules[*i].priority)
        .min()
    else {
        return;
    };
    let top: Vec<&(usize, Verdict, Option<i64>)> = fired
        .iter()
        .filter(|(i, _, _)| policy.rules[*i].priority == most_urgent)
        .collect();
    // Evidence is formatted only now, for the rules that decide.
    let evidence: Vec<String> = top
        .iter()
        .flat_map(|(i, _, held)| {
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
    for (i, _, _) in &top {
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
            rules: top.iter().map(|(i, _, _)| *i).collect(),
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
    for (i, _, _) in &top {
        out.state
            .clear_timer(&policy.name, &policy.rules[*i].fingerprint, &target.id);
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

/// Whether `policy` selects `target`: its kind, namespaces and labels, never a
/// protected namespace or a protected object.
fn selects(policy: &Policy, target: &Target, context: &Context) -> bool {
    let selector = &policy.selector;
    if target.id.kind != selector.kind {
        return false;
    }
    let namespace = target.id.namespace.as_deref();
    if namespace.is_some_and(|ns| context.protected_namespaces.iter().any(|p| p == ns)) {
        return false;
    }
    let protected = context
        .protected_labels
        .iter()
        .any(|(k, v)| target.labels.get(k) == Some(v));
    if protected {
        return false;
    }
    let in_scope = match &selector.namespaces {
        Namespaces::Own => namespace.is_some() && namespace == context.home_namespace.as_deref(),
        Namespaces::Named(names) => namespace.is_some_and(|ns| names.iter().any(|n| n == ns)),
        Namespaces::AnyExcept(except) => {
            !namespace.is_some_and(|ns| except.iter().any(|n| n == ns))
        }
        Namespaces::ClusterScoped => namespace.is_none(),
    };
    in_scope
        && selector.labels.iter().all(|l| {
            let value = target.labels.get(&l.key);
            match &l.op {
                LabelOp::Equals(v) => value == Some(v),
                LabelOp::NotEquals(v) => value != Some(v),
                LabelOp::In(vs) => value.is_some_and(|x| vs.contains(x)),
                LabelOp::Exists => value.is_some(),
                LabelOp::NotExists => value.is_none(),
            }
        })
}
