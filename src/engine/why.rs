//! "Why didn't it fire?": where a rule stood on a target at one evaluation —
//! false (with the values seen against their thresholds), unknown (with what
//! had no data), true but held (for how long of its `for`), blocked (by what,
//! until when), outranked by a more urgent rule, or fired.
//!
//! Opt-in ([`Explain`] in the engine's `Context`): the operator's cycle
//! never asks, so it pays one comparison per policy and target visited.
//! `kubeskippy test` asks at the times a case expects something, and
//! `simulate --explain` for the one rule it follows.

use super::choose::is_notice;
use super::decision::{Block, Decision};
use super::evidence::{compare_holds, Evidence};
use super::observation::{Target, TargetId};
use super::state::Timer;
use super::truth::{self, Truth};
use crate::ir::{Condition, Policy, Program, Rule, Seconds};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

/// Which rules an evaluation explains.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Explain {
    /// None: the operator's cycle.
    #[default]
    Off,
    /// Every rule of every policy, on every target it visits.
    All,
    /// One rule (by position, from 0) of one policy (by position).
    Rule { policy: usize, rule: usize },
}

impl Explain {
    /// Whether any rule of the policy at `policy` is explained.
    pub(super) fn covers(self, policy: usize) -> bool {
        match self {
            Explain::Off => false,
            Explain::All => true,
            Explain::Rule { policy: p, .. } => p == policy,
        }
    }

    fn covers_rule(self, policy: usize, rule: usize) -> bool {
        match self {
            Explain::Off => false,
            Explain::All => true,
            Explain::Rule { policy: p, rule: r } => p == policy && r == rule,
        }
    }
}

/// Where one rule stood on one target at one evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Standing {
    pub policy: String,
    pub policy_index: usize,
    /// By position, from 0.
    pub rule: usize,
    pub target: TargetId,
    /// The evaluation's time.
    pub at: i64,
    pub stood: Stood,
    /// The values the condition read, each against its threshold, whether
    /// or not it held.
    pub evidence: Vec<Evidence>,
    /// Statuses the condition asks about that the target does not have
    /// (the evidence names only the statuses that hold).
    pub absent: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "stood", rename_all = "kebab-case")]
pub enum Stood {
    /// Its action was decided (carried out, or handed to the AI, as the
    /// safety controller and the mode say).
    Fired,
    /// It fired, but `limit`, `cooldown`, an open request or another pod's
    /// decision on the same object held it back.
    Blocked { by: Block, until: Option<i64> },
    /// It fired, but a more urgent rule of the policy decided.
    Outranked { by: usize },
    /// True, not yet for its `for` duration.
    Holding { since: i64, needed: u64 },
    /// False.
    False,
    /// Unknown: these had no data.
    Unknown { missing: Vec<String> },
}

/// One rule's outcome on a target, as `evaluate_target` saw it.
pub(super) struct Noted {
    pub rule: usize,
    pub truth: Truth,
    pub timer: Option<Timer>,
    pub fired: bool,
}

/// What the rules that ran on a target did: their truths (in rule order),
/// their timers after this evaluation (by fingerprint) and the rules that
/// fired (held for their `for`).
pub(super) fn note(
    policy: &Policy,
    truths: &[Truth],
    runs: &[bool],
    timers: &BTreeMap<String, Timer>,
    fired: &[(usize, Option<i64>)],
) -> Vec<Noted> {
    policy
        .rules
        .iter()
        .zip(truths)
        .zip(runs)
        .filter(|(_, &runs)| runs)
        .map(|((rule, &truth), _)| Noted {
            rule: rule.index,
            truth,
            timer: timers.get(&rule.fingerprint).copied(),
            fired: fired.iter().any(|(i, _)| *i == rule.index),
        })
        .collect()
}

/// The standings of the explained rules of `policy` on `target`, given what
/// the rules did (`noted`) and the decision of this visit, if any.
pub(super) fn standings(
    program: &Program,
    policy_index: usize,
    explain: Explain,
    target: &Target,
    now: i64,
    noted: &[Noted],
    decisions: &[Decision],
) -> Vec<Standing> {
    let Some(policy) = program.policies.get(policy_index) else {
        return Vec::new();
    };
    // A notification and a remedy decide apart (see `choose::decide_fired`).
    // A fired rule stands with the decision that holds it: its own, or for
    // a remedy the one of its tied rules (a block names only the first of
    // them, but holds them all). Otherwise it was outranked: by its own
    // group's decision (a more urgent notification, or the first of tied
    // ones, which alone speaks), or else by the visit's first.
    let first_rule = |d: &Decision| d.rules().first().and_then(|r| policy.rules.get(*r));
    noted
        .iter()
        .filter(|n| explain.covers_rule(policy_index, n.rule))
        .filter_map(|n| {
            let rule = policy.rules.get(n.rule)?;
            let group =
                |d: &&Decision| first_rule(d).is_some_and(|r| is_notice(r) == is_notice(rule));
            let own = decisions
                .iter()
                .find(|d| d.rules().contains(&n.rule))
                .or_else(|| {
                    let tied = |d: &&Decision| {
                        group(d) && first_rule(d).is_some_and(|r| r.priority == rule.priority)
                    };
                    (!is_notice(rule))
                        .then(|| decisions.iter().find(tied))
                        .flatten()
                });
            let outranking = decisions.iter().find(group).or(decisions.first());
            let verdict = truth::evaluate(program, &rule.condition, target, now, true);
            let stood = match (n.truth, n.timer, own, outranking) {
                (_, _, Some(d), _) if n.fired => match d {
                    Decision::Blocked { by, until, .. } => Stood::Blocked {
                        by: *by,
                        until: *until,
                    },
                    _ => Stood::Fired,
                },
                (_, _, None, Some(d)) if n.fired => Stood::Outranked {
                    by: d.rules().first().copied().unwrap_or(0),
                },
                (Truth::True, Some(t), _, _) => Stood::Holding {
                    since: t.since,
                    needed: needed(rule),
                },
                // Fired without a decision cannot happen (a fired rule always
                // decides or is blocked); say what the truth was.
                (Truth::True, _, _, _) => Stood::Fired,
                (Truth::False, _, _, _) => Stood::False,
                (Truth::Unknown, _, _, _) => Stood::Unknown {
                    missing: verdict.missing.clone(),
                },
            };
            Some(Standing {
                policy: policy.name.clone(),
                policy_index,
                rule: n.rule,
                target: target.id.clone(),
                at: now,
                stood,
                evidence: verdict.seen,
                absent: absent_statuses(&rule.condition, target),
            })
        })
        .collect()
}

fn needed(rule: &Rule) -> u64 {
    rule.hold.map_or(0, |h| h.0)
}

/// The statuses `condition` names that `target` does not have (only where
/// its statuses were observed: otherwise they are unknown, and `missing`
/// says so).
fn absent_statuses(condition: &Condition, target: &Target) -> Vec<String> {
    let mut absent = Vec::new();
    let mut walk = vec![condition];
    while let Some(c) = walk.pop() {
        match c {
            Condition::Status(reason) => {
                let name = reason.name();
                if !target.unobserved.statuses
                    && !target.statuses.contains(name)
                    && !absent.iter().any(|a| a == name)
                {
                    absent.push(name.to_string());
                }
            }
            Condition::And(a, b) | Condition::Or(a, b) => {
                walk.push(b);
                walk.push(a);
            }
            Condition::Not(c) | Condition::Held { condition: c, .. } => walk.push(c),
            Condition::Compare { .. }
            | Condition::Relation { .. }
            | Condition::StatusWas { .. }
            | Condition::Event { .. } => {}
        }
    }
    absent
}

impl Standing {
    /// In words, with times as durations since the clock's zero (as `test`
    /// and `simulate` count them): `true, held for 2m30s of 3m`.
    pub fn describe(&self) -> String {
        let mut out = match &self.stood {
            Stood::Fired => "fired".to_string(),
            Stood::Blocked { by, until } => {
                let mut s = format!("fired, but blocked by {}", by.as_str());
                if let Some(until) = until {
                    let _ = write!(
                        s,
                        " until {} ({} from now)",
                        clock(*until),
                        clock(until.saturating_sub(self.at))
                    );
                }
                s
            }
            Stood::Outranked { by } => {
                format!("fired, but rule {} is more urgent and decided", by + 1)
            }
            Stood::Holding { since, needed } => format!(
                "true, held for {} of {}",
                clock(self.at.saturating_sub(*since)),
                Seconds(*needed).spelled()
            ),
            Stood::False => "false".to_string(),
            Stood::Unknown { missing } => {
                format!("unknown: no data for {}", missing.join(", "))
            }
        };
        let seen = marked(&self.evidence);
        let absent = self.absent.iter().map(|s| format!("status {s} absent"));
        let details: Vec<String> = seen.into_iter().chain(absent).collect();
        if !details.is_empty() {
            let _ = write!(out, ": {}", details.join("; "));
        }
        out
    }
}

impl fmt::Display for Standing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// Each piece of evidence in words, a comparison that did not hold marked
/// so: `memory_percent=40% (not > 85%)`.
pub fn marked(evidence: &[Evidence]) -> Vec<String> {
    evidence.iter().map(mark).collect()
}

fn mark(e: &Evidence) -> String {
    match e {
        Evidence::Compare {
            value,
            op,
            threshold,
            ..
        } if !compare_holds(*value, *op, *threshold) => negated(e),
        Evidence::Event {
            count,
            op,
            threshold,
            ..
        } if !op.holds(*count as f64, f64::from(*threshold)) => negated(e),
        Evidence::Not { inner } => format!("not ({})", marked(inner).join(", ")),
        _ => e.to_string(),
    }
}

/// `expr=value op threshold` as `expr=value (not op threshold)`.
fn negated(e: &Evidence) -> String {
    let text = e.to_string();
    let op = match e {
        Evidence::Compare { op, .. } | Evidence::Event { op, .. } => op.as_str(),
        _ => return text,
    };
    match text.split_once(&format!(" {op} ")) {
        Some((seen, wanted)) => format!("{seen} (not {op} {wanted})"),
        None => text,
    }
}

fn clock(seconds: i64) -> String {
    Seconds(u64::try_from(seconds).unwrap_or(0)).spelled()
}

#[cfg(test)]
mod tests;
