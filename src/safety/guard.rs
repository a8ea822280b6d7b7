//! The safety controller's checks that read what happened recently, not only
//! the action: the circuit breaker (a policy whose actions keep failing to
//! heal stops acting), the hourly rate of a policy's actions (a separate,
//! smaller budget for the AI's), the storm guard (when most of a workload is
//! unhealthy at once the fault is systemic, and restarting pods one by one
//! only adds to it), the blast radius (never more than a bound of a
//! workload's pods disrupted at once), and the autoscaler guard (a `scale` on
//! a workload an HorizontalPodAutoscaler drives would be undone by it, or
//! fight it).
//!
//! Pure: the operator gathers the facts ([`Situation`]) from its records and
//! observations; the verdict and the words of every check are decided here,
//! so a property test can hold them against any input.

use super::SafetyConfig;
use crate::catalog::Kind;
use crate::engine::observation::TargetId;
use crate::ir::Action;
use serde::{Deserialize, Serialize};

const HOUR: i64 = 3_600;

/// K failed verifications within a window open a policy's breaker, which
/// stays open for a while after the last of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct CircuitBreaker {
    pub failures: u32,
    pub window_seconds: u64,
    pub open_seconds: u64,
}

impl Default for CircuitBreaker {
    fn default() -> Self {
        CircuitBreaker {
            failures: 3,
            window_seconds: 3_600,
            open_seconds: 1_800,
        }
    }
}

/// At most `max(maxPods, maxPercent% of its pods)` pods of one workload
/// disrupted at once (not ready, or being restarted), so that a one-pod
/// workload can still be healed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct BlastRadius {
    pub max_percent: u32,
    pub max_pods: u32,
}

impl Default for BlastRadius {
    fn default() -> Self {
        BlastRadius {
            max_percent: 25,
            max_pods: 1,
        }
    }
}

/// More than `unhealthyPercent`% of a workload's pods unhealthy at once,
/// with at least `minPods` pods, is a storm: nothing is done to that
/// workload but to notify. Below `minPods` a workload is too small to tell a
/// storm from one bad pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct StormGuard {
    pub unhealthy_percent: u32,
    pub min_pods: u32,
}

impl Default for StormGuard {
    fn default() -> Self {
        StormGuard {
            unhealthy_percent: 50,
            min_pods: 3,
        }
    }
}

/// How long after an action its trigger is re-evaluated to tell whether it
/// healed, and how long an unknown answer is waited for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Verification {
    pub after_seconds: u64,
    pub give_up_seconds: u64,
}

impl Default for Verification {
    fn default() -> Self {
        Verification {
            after_seconds: 120,
            give_up_seconds: 900,
        }
    }
}

/// How long completed HealingActions are kept, and how many per namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct RecordRetention {
    pub max_age_seconds: u64,
    pub max_per_namespace: u32,
}

impl Default for RecordRetention {
    fn default() -> Self {
        RecordRetention {
            max_age_seconds: 7 * 86_400,
            max_per_namespace: 500,
        }
    }
}

/// What a policy did recently, as its records say (seconds).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PolicyRecent {
    /// When its actions failed verification.
    pub failures: Vec<i64>,
    /// When its rules' actions were carried out.
    pub executed: Vec<i64>,
    /// When the AI's choices for it were carried out.
    pub executed_by_ai: Vec<i64>,
    /// When any policy's actions were carried out (this shard's), for the
    /// cluster-wide rate.
    pub cluster_executed: Vec<i64>,
}

/// The workload an action's object belongs to, as observed now.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadHealth {
    pub id: TargetId,
    pub pods: u32,
    /// Its pods that are not ready.
    pub unhealthy: u32,
    /// Its pods disrupted now (not ready, or with an action under way on
    /// them), other than the action's own pod.
    pub disrupted_others: u32,
}

/// Everything the guards read about one action.
#[derive(Debug, Clone)]
pub struct Situation<'a> {
    pub action: &'a Action,
    pub object: &'a TargetId,
    /// Chosen by the AI rather than written in a rule.
    pub by_ai: bool,
    pub recent: &'a PolicyRecent,
    pub workload: Option<&'a WorkloadHealth>,
    /// The HorizontalPodAutoscaler that drives `object`, if one does.
    pub autoscaler: Option<&'a str>,
    pub now: i64,
}

/// Why a guard holds an action back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Held {
    BreakerOpen { failures: usize, until: i64 },
    RateLimit { count: usize, cap: u32, ai: bool },
    ClusterRateLimit { count: usize, cap: u32 },
    Storm { unhealthy: u32, pods: u32 },
    BlastRadius { disrupted: u32, bound: u32 },
    Autoscaled { autoscaler: String },
}

impl Held {
    /// A short name, for metrics' labels and the record's block reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Held::BreakerOpen { .. } => "circuit-breaker",
            Held::RateLimit { .. } => "rate-limit",
            Held::ClusterRateLimit { .. } => "cluster-rate-limit",
            Held::Storm { .. } => "storm-guard",
            Held::BlastRadius { .. } => "blast-radius",
            Held::Autoscaled { .. } => "autoscaler",
        }
    }
}

impl std::fmt::Display for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Held::BreakerOpen { failures, until } => write!(
                f,
                "the policy's circuit breaker is open: {failures} actions failed to heal \
                 recently; it closes at {until} (epoch seconds) if no other fails"
            ),
            Held::RateLimit { count, cap, ai } => write!(
                f,
                "the policy carried out {count} {}actions in the last hour, the most the \
                 safety configuration allows ({cap})",
                if *ai { "AI-chosen " } else { "" }
            ),
            Held::ClusterRateLimit { count, cap } => write!(
                f,
                "the policies together carried out {count} actions in the last hour, the \
                 most the safety configuration allows the cluster ({cap})"
            ),
            Held::Storm { unhealthy, pods } => write!(
                f,
                "{unhealthy} of the workload's {pods} pods are unhealthy at once: the fault \
                 looks systemic, so nothing is done to it but to notify"
            ),
            Held::BlastRadius { disrupted, bound } => write!(
                f,
                "{disrupted} of the workload's pods would be disrupted at once, more than the \
                 blast radius allows ({bound})"
            ),
            Held::Autoscaled { autoscaler } => write!(
                f,
                "the HorizontalPodAutoscaler {autoscaler} scales this workload; a scale would \
                 fight it"
            ),
        }
    }
}

/// The guards' verdict: every check with its words, and the first that held
/// the action back, if one did.
#[derive(Debug, Clone, PartialEq)]
pub struct Guarded {
    pub checks: Vec<String>,
    pub held: Option<Held>,
}

/// Runs every guard on `situation`. A `notify` changes nothing and passes
/// them all: it is what a held action leaves a person.
pub fn guard(situation: &Situation, config: &SafetyConfig) -> Guarded {
    let mut out = Guarded {
        checks: Vec::new(),
        held: None,
    };
    if matches!(situation.action, Action::Notify(_)) {
        out.checks
            .push("guards: a notify changes nothing; passed".into());
        return out;
    }
    let checks: [fn(&Situation, &SafetyConfig) -> Check; 6] =
        [breaker, rate, cluster_rate, storm, blast_radius, autoscaler];
    for check in checks {
        let Check { name, verdict } = check(situation, config);
        match verdict {
            Ok(words) => out.checks.push(format!("{name}: {words}")),
            Err(held) => {
                out.checks.push(format!("{name}: held: {held}"));
                out.held.get_or_insert(held);
            }
        }
    }
    out
}

struct Check {
    name: &'static str,
    verdict: Result<String, Held>,
}

fn within(times: &[i64], now: i64, seconds: i64) -> impl Iterator<Item = i64> + '_ {
    times
        .iter()
        .copied()
        .filter(move |&t| t <= now && now.saturating_sub(t) < seconds)
}

/// Until when the breaker of a policy with `recent` history is open at
/// `now`, if it is.
pub fn breaker_open_until(recent: &PolicyRecent, config: &SafetyConfig, now: i64) -> Option<i64> {
    let c = &config.circuit_breaker;
    let window = i64::try_from(c.window_seconds).unwrap_or(i64::MAX);
    let open = i64::try_from(c.open_seconds).unwrap_or(i64::MAX);
    let failures: Vec<i64> = within(&recent.failures, now, window).collect();
    let until = failures.iter().copied().max()?.saturating_add(open);
    (failures.len() >= c.failures as usize && now < until).then_some(until)
}

/// How many actions a policy with `recent` history carried out in the hour
/// before `now`, the AI's included.
pub fn actions_this_hour(recent: &PolicyRecent, now: i64) -> usize {
    within(&recent.executed, now, HOUR).count() + within(&recent.executed_by_ai, now, HOUR).count()
}

fn breaker(s: &Situation, config: &SafetyConfig) -> Check {
    let c = &config.circuit_breaker;
    let window = i64::try_from(c.window_seconds).unwrap_or(i64::MAX);
    let failures = within(&s.recent.failures, s.now, window).count();
    let verdict = match breaker_open_until(s.recent, config, s.now) {
        Some(until) => Err(Held::BreakerOpen { failures, until }),
        None => Ok(format!(
            "closed ({failures} of {} failures within {} s)",
            c.failures, c.window_seconds
        )),
    };
    Check {
        name: "circuit breaker",
        verdict,
    }
}

fn rate(s: &Situation, config: &SafetyConfig) -> Check {
    let (times, cap) = if s.by_ai {
        (&s.recent.executed_by_ai, config.max_ai_actions_per_hour)
    } else {
        (&s.recent.executed, config.max_actions_per_hour)
    };
    let count = within(times, s.now, HOUR).count();
    let verdict = if count >= cap as usize {
        Err(Held::RateLimit {
            count,
            cap,
            ai: s.by_ai,
        })
    } else {
        Ok(format!("{count} of {cap} actions in the last hour"))
    };
    Check {
        name: if s.by_ai {
            "AI rate limit"
        } else {
            "rate limit"
        },
        verdict,
    }
}

fn cluster_rate(s: &Situation, config: &SafetyConfig) -> Check {
    let cap = config.max_cluster_actions_per_hour;
    let count = within(&s.recent.cluster_executed, s.now, HOUR).count();
    let verdict = if count >= cap as usize {
        Err(Held::ClusterRateLimit { count, cap })
    } else {
        Ok(format!(
            "{count} of {cap} actions of every policy in the last hour"
        ))
    };
    Check {
        name: "cluster rate limit",
        verdict,
    }
}

fn storm(s: &Situation, config: &SafetyConfig) -> Check {
    let g = &config.storm_guard;
    let verdict = match s.workload {
        None => Ok("not part of a workload".to_string()),
        Some(w) if w.pods < g.min_pods => Ok(format!(
            "{} pods, fewer than the {} a storm needs",
            w.pods, g.min_pods
        )),
        // unhealthy / pods > percent / 100, in integers.
        Some(w)
            if u64::from(w.unhealthy) * 100
                > u64::from(w.pods) * u64::from(g.unhealthy_percent) =>
        {
            Err(Held::Storm {
                unhealthy: w.unhealthy,
                pods: w.pods,
            })
        }
        Some(w) => Ok(format!("{} of {} pods unhealthy", w.unhealthy, w.pods)),
    };
    Check {
        name: "storm guard",
        verdict,
    }
}

/// Whether `action` takes its pod away for a while.
fn disrupts_a_pod(action: &Action, object: &TargetId) -> bool {
    object.kind == Kind::Pods && matches!(action, Action::Restart(_) | Action::Delete)
}

fn blast_radius(s: &Situation, config: &SafetyConfig) -> Check {
    let b = &config.blast_radius;
    let verdict = match s.workload {
        Some(w) if disrupts_a_pod(s.action, s.object) => {
            let share = u64::from(w.pods) * u64::from(b.max_percent) / 100;
            let bound = b.max_pods.max(u32::try_from(share).unwrap_or(u32::MAX));
            let disrupted = w.disrupted_others.saturating_add(1);
            if disrupted > bound {
                Err(Held::BlastRadius { disrupted, bound })
            } else {
                Ok(format!("{disrupted} of at most {bound} pods disrupted"))
            }
        }
        _ => Ok("disrupts no pod of a workload".to_string()),
    };
    Check {
        name: "blast radius",
        verdict,
    }
}

fn autoscaler(s: &Situation, _: &SafetyConfig) -> Check {
    let verdict = match (s.action, s.autoscaler) {
        (Action::Scale(_), Some(hpa)) => Err(Held::Autoscaled {
            autoscaler: hpa.to_string(),
        }),
        (Action::Scale(_), None) => Ok("no autoscaler drives the workload".to_string()),
        _ => Ok("not a scale".to_string()),
    };
    Check {
        name: "autoscaler",
        verdict,
    }
}

#[cfg(test)]
mod tests;
