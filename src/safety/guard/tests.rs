use super::*;
use crate::ir::{RestartMode, Scale};
use proptest::prelude::*;

fn id(kind: Kind, name: &str) -> TargetId {
    TargetId {
        kind,
        namespace: Some("shop".into()),
        name: name.into(),
    }
}

fn workload(pods: u32, unhealthy: u32, disrupted_others: u32) -> WorkloadHealth {
    WorkloadHealth {
        id: id(Kind::Deployments, "web"),
        pods,
        unhealthy,
        disrupted_others,
    }
}

struct Case {
    action: Action,
    object: TargetId,
    by_ai: bool,
    recent: PolicyRecent,
    workload: Option<WorkloadHealth>,
    autoscaler: Option<String>,
}

impl Case {
    fn restart() -> Case {
        Case {
            action: Action::Restart(RestartMode::Immediate),
            object: id(Kind::Pods, "web-1"),
            by_ai: false,
            recent: PolicyRecent::default(),
            workload: Some(workload(4, 1, 0)),
            autoscaler: None,
        }
    }

    fn run(&self, now: i64) -> Guarded {
        guard(
            &Situation {
                action: &self.action,
                object: &self.object,
                by_ai: self.by_ai,
                recent: &self.recent,
                workload: self.workload.as_ref(),
                autoscaler: self.autoscaler.as_deref(),
                now,
            },
            &SafetyConfig::default(),
        )
    }
}

#[test]
fn a_healthy_situation_passes_every_guard_and_says_so() {
    let guarded = Case::restart().run(10_000);
    assert_eq!(guarded.held, None);
    assert_eq!(
        guarded.checks,
        [
            "circuit breaker: closed (0 of 3 failures within 3600 s)",
            "rate limit: 0 of 30 actions in the last hour",
            "cluster rate limit: 0 of 100 actions of every policy in the last hour",
            "storm guard: 1 of 4 pods unhealthy",
            "blast radius: 1 of at most 1 pods disrupted",
            "autoscaler: not a scale",
        ]
    );
}

#[test]
fn three_failures_within_the_window_open_the_breaker_until_it_cools() {
    let mut case = Case::restart();
    case.recent.failures = vec![1_000, 2_000, 3_000];
    let held = case.run(3_100).held.expect("open");
    assert_eq!(
        held,
        Held::BreakerOpen {
            failures: 3,
            until: 4_800
        }
    );
    assert_eq!(held.reason(), "circuit-breaker");
    assert_eq!(
        case.run(4_800).held,
        None,
        "closed once open_seconds passed"
    );
    case.recent.failures = vec![0, 2_000, 3_000];
    assert_eq!(
        case.run(3_700).held,
        None,
        "the first failure left the window"
    );
}

#[test]
fn the_ai_has_its_own_smaller_budget() {
    let mut case = Case::restart();
    case.recent.executed = (0..5).map(|i| 9_000 + i).collect();
    assert_eq!(case.run(10_000).held, None, "5 of 30 rule actions");
    case.by_ai = true;
    case.recent.executed_by_ai = (0..5).map(|i| 9_000 + i).collect();
    assert_eq!(
        case.run(10_000).held,
        Some(Held::RateLimit {
            count: 5,
            cap: 5,
            ai: true
        })
    );
    assert_eq!(case.run(12_601).held, None, "an hour later");
}

#[test]
fn most_of_a_workload_unhealthy_is_a_storm_but_not_in_a_small_one() {
    let mut case = Case::restart();
    case.workload = Some(workload(4, 3, 0));
    assert_eq!(
        case.run(0).held,
        Some(Held::Storm {
            unhealthy: 3,
            pods: 4
        })
    );
    case.workload = Some(workload(4, 2, 0));
    assert!(
        !matches!(case.run(0).held, Some(Held::Storm { .. })),
        "exactly half is not more than half"
    );
    case.workload = Some(workload(2, 2, 0));
    assert!(
        !matches!(case.run(0).held, Some(Held::Storm { .. })),
        "two pods are too few to tell"
    );
    case.action = Action::Notify("look".into());
    case.workload = Some(workload(10, 10, 10));
    assert_eq!(case.run(0).held, None, "a notify always passes");
}

#[test]
fn the_blast_radius_bounds_disrupted_pods_and_lets_one_pod_heal() {
    let mut case = Case::restart();
    case.workload = Some(workload(1, 1, 0));
    assert_eq!(case.run(0).held, None, "a one-pod workload is healed");
    case.workload = Some(workload(8, 1, 1));
    assert_eq!(case.run(0).held, None, "2 of 8 is 25%");
    case.workload = Some(workload(8, 2, 2));
    assert_eq!(
        case.run(0).held,
        Some(Held::BlastRadius {
            disrupted: 3,
            bound: 2
        })
    );
    case.action = Action::Restart(RestartMode::Rolling);
    case.object = id(Kind::Deployments, "web");
    assert_eq!(
        case.run(0).held,
        None,
        "a rollout is bounded by its own strategy"
    );
}

#[test]
fn a_scale_of_an_autoscaled_workload_is_held() {
    let mut case = Case::restart();
    case.action = Action::Scale(Scale::Up {
        by: 1,
        max: Some(5),
    });
    case.object = id(Kind::Deployments, "web");
    case.autoscaler = Some("web-hpa".into());
    let held = case.run(0).held.expect("held");
    assert_eq!(held.reason(), "autoscaler");
    assert!(held.to_string().contains("web-hpa"), "{held}");
}

proptest! {
    /// Whatever the history and the workload, the verdict is held exactly
    /// when one of its checks says so, and a notify is never held.
    #[test]
    fn the_verdict_agrees_with_its_checks(
        failures in prop::collection::vec(0i64..10_000, 0..6),
        executed in prop::collection::vec(0i64..10_000, 0..30),
        pods in 0u32..20,
        unhealthy in 0u32..20,
        others in 0u32..20,
        notify in any::<bool>(),
        now in 0i64..12_000,
    ) {
        let mut case = Case::restart();
        case.recent.failures = failures;
        case.recent.executed = executed;
        case.workload = Some(workload(pods, unhealthy.min(pods), others.min(pods)));
        if notify {
            case.action = Action::Notify("n".into());
        }
        let guarded = case.run(now);
        let says_held = guarded.checks.iter().any(|c| c.contains(": held: "));
        prop_assert_eq!(guarded.held.is_some(), says_held);
        if notify {
            prop_assert!(guarded.held.is_none());
        }
    }
}

#[test]
fn every_policy_together_is_held_at_the_cluster_rate() {
    let mut case = Case::restart();
    // Another policy's actions count too; an hour ago no more.
    case.recent.cluster_executed = (0..100).map(|i| 10_000 - i * 30).collect();
    let guarded = case.run(10_000);
    assert_eq!(
        guarded.held,
        Some(Held::ClusterRateLimit {
            count: 100,
            cap: 100
        })
    );
    assert_eq!(guarded.held.map(|h| h.reason()), Some("cluster-rate-limit"));
    case.recent.cluster_executed = (0..100).map(|i| 10_000 - 3_600 - i).collect();
    assert_eq!(case.run(10_000).held, None, "older than an hour");
}
