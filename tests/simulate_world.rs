//! `kubeskippy simulate`'s world: each fault generator and each action's
//! effect on a small scenario of its own, and what the world reports of its
//! pods, workloads and nodes.

mod common;
#[path = "common/engine.rs"]
mod engine;
#[path = "common/sim.rs"]
mod sim;

use kubeskippy::safety::SafetyConfig;
use kubeskippy::sim::scenario;
use kubeskippy::sim::simulate::{self, Options, Outcome};
use kubeskippy::sim::world::IncidentOutcome;
use sim::*;

#[test]
fn an_unhealed_leak_ends_in_oom_kills() {
    let report = simulate(
        LEAKY,
        &["policy watch {\n  select pods\n  mode monitor\n  limit 1 per 1h\n  cooldown 1h\n  when memory_percent > 99% then notify \"x\"\n}\n"],
    );
    // 40% + 3%/min reaches the limit after 20 minutes: each of the 2 pods is
    // killed at 20m, 40m and 60m (the run's last step), and its leak starts
    // over each time.
    let crashed = report
        .incidents
        .iter()
        .filter(|i| i.outcome == IncidentOutcome::Crashed)
        .count();
    assert_eq!(crashed, 6, "{:#?}", report.incidents);
    assert_eq!(report.summary.faults_healed, 0);
}

#[test]
fn a_rolling_restart_heals_a_leak_once_for_all_pods_of_the_deployment() {
    // The policy selects pods: both pods fire together, the Deployment is
    // rolled once, and the second pod's decision is blocked as the same object.
    let report = simulate(
        LEAKY,
        &["policy leak {\n  select pods where app = \"cart\"\n  mode auto\n  limit 5 per 1h\n  cooldown 10m\n  when memory_percent > 80% then restart rolling\n}\n"],
    );
    let lines = outcomes(&report);
    assert_eq!(
        lines[..2],
        [
            "810 pods/shop/cart-1 restart rolling -> done: deployments/shop/cart: rolled 2 pods",
            "810 pods/shop/cart-2 restart rolling -> Blocked(\"same-object\")",
        ],
        "{lines:#?}"
    );
    assert_eq!(report.summary.faults_crashed, 0);
    assert!(report.summary.faults_healed >= 2);
    assert_eq!(report.timeline[0].healed.len(), 2);
}

#[test]
fn a_raised_memory_limit_lowers_memory_percent() {
    let report = simulate(
        LEAKY,
        &["policy limits {\n  select deployments where app = \"cart\"\n  mode auto\n  limit 2 per 1h\n  cooldown 30m\n  when memory_percent > 80% then set memory_limit = current * 2 max 2Gi\n}\n"],
    );
    let lines = outcomes(&report);
    assert_eq!(
        lines[0],
        "810 deployments/shop/cart set memory_limit = current * 2 max 2Gi -> done: memory_limit 512Mi → 1024Mi for every pod",
        "{lines:#?}"
    );
    // At 80% of 512Mi the pods now use 40% of 1Gi: the rule is quiet until
    // the leak has grown to 80% of 1Gi, 160 points of the old limit, at
    // 40 + 3 × 40.25 min: 2415 s, inside the 30-minute cooldown.
    assert_eq!(
        lines[1],
        "2415 deployments/shop/cart set memory_limit = current * 2 max 2Gi -> Blocked(\"cooldown\")",
        "{lines:#?}"
    );
}

#[test]
fn scaling_up_divides_the_load() {
    let scenario = "name: cpu\nnamespace: shop\nduration: 30m\nworkloads:\n  - name: search\n    replicas: 2\n    faults:\n      - cpu_sine: { min: 100, max: 100, period: 10m }\n";
    let report = simulate(
        scenario,
        &["policy cpu {\n  select deployments where app = \"search\"\n  mode auto\n  limit 5 per 1h\n  cooldown 5m\n  when cpu_percent > 80% then scale up 2 max 10\n}\n"],
    );
    let lines = outcomes(&report);
    // 100% on 2 replicas is 50% on 4: one scale-up heals the overload.
    assert_eq!(
        lines,
        ["0 deployments/shop/search scale up 2 max 10 -> done: replicas 2 → 4"]
    );
    assert_eq!(report.summary.faults_healed, 1);
    assert_eq!(report.summary.time_to_heal_median, Some(15));
}

#[test]
fn dry_run_records_and_changes_nothing() {
    let report = simulate(
        LEAKY,
        &["policy leak {\n  select deployments where app = \"cart\"\n  mode dryrun\n  limit 5 per 1h\n  cooldown 10m\n  when memory_percent > 80% then restart rolling\n}\n"],
    );
    assert!(report.summary.dry_run_records > 0);
    assert_eq!(report.summary.actions_taken, 0);
    assert_eq!(report.summary.faults_healed, 0);
    assert_eq!(report.summary.faults_crashed, 6);
}

#[test]
fn a_bad_release_crash_loops_until_a_rollback() {
    let scenario = "name: release\nnamespace: shop\nduration: 30m\nworkloads:\n  - name: api\n    replicas: 2\n    faults:\n      - crashloop: { after: 5m, cause: release }\n";
    let restart = "policy restart {\n  select pods where app = \"api\"\n  mode auto\n  limit 2 per 1h\n  cooldown 5m\n  when status is CrashLoopBackOff for 1m then restart\n}\n";
    let report = simulate(scenario, &[restart]);
    // Restarting a pod of a bad release does not help: the new pod crashes too.
    assert_eq!(report.summary.faults_healed, 0);
    assert_eq!(report.summary.faults_open, 1);
    assert!(report.summary.blocked_by.contains_key("limit"));

    let rollback = "policy rollback {\n  select deployments where app = \"api\"\n  mode auto\n  limit 1 per 1h\n  cooldown 30m\n  when unavailable_replicas > 0 for 2m then rollback\n}\n";
    let report = simulate(scenario, &[rollback]);
    let lines = outcomes(&report);
    assert_eq!(
        lines,
        ["420 deployments/shop/api rollback -> done: rolled back; 2 pods replaced"]
    );
    assert_eq!(report.summary.faults_healed, 1);
    assert_eq!(report.summary.time_to_heal_median, Some(120));
}

/// Two metrics compared: the same release rolled back by a rule that reads
/// available against desired replicas, as the simulated world models them.
#[test]
fn a_bad_release_is_rolled_back_by_available_against_desired_replicas() {
    let scenario = "name: release\nnamespace: shop\nduration: 30m\nworkloads:\n  - name: api\n    replicas: 2\n    faults:\n      - crashloop: { after: 5m, cause: release }\n";
    let rollback = "policy rollback {\n  select deployments where app = \"api\"\n  mode auto\n  limit 1 per 1h\n  cooldown 30m\n  when available_replicas < replicas for 2m then rollback\n}\n";
    let report = simulate(scenario, &[rollback]);
    assert_eq!(
        outcomes(&report),
        ["420 deployments/shop/api rollback -> done: rolled back; 2 pods replaced"]
    );
    assert_eq!(report.summary.faults_healed, 1);
}

/// "After a bad rollout": `rollout_age` counts from the release, so a rule
/// can roll back only a release that has just gone out.
#[test]
fn a_rollback_can_be_kept_to_a_recent_rollout() {
    let scenario = "name: release\nnamespace: shop\nduration: 30m\nworkloads:\n  - name: api\n    replicas: 2\n    faults:\n      - crashloop: { after: 5m, cause: release }\n";
    let policy = |age: &str| {
        format!("policy rollback {{\n  select deployments where app = \"api\"\n  mode auto\n  limit 1 per 1h\n  cooldown 30m\n  when unavailable_replicas > 0 and rollout_age < {age} for 2m then rollback\n}}\n")
    };
    let report = simulate(scenario, &[&policy("10m")]);
    assert_eq!(
        outcomes(&report),
        ["420 deployments/shop/api rollback -> done: rolled back; 2 pods replaced"]
    );
    // Two minutes after the release it is no longer "just released".
    let report = simulate(scenario, &[&policy("1m")]);
    assert_eq!(outcomes(&report), Vec::<String>::new());
    assert_eq!(report.summary.faults_open, 1);
}

/// Nodes report their scheduling: whether they are cordoned, and how many
/// pods they run of the kubelet's default capacity.
#[test]
fn nodes_report_cordoned_and_running_pods() {
    let scenario = "name: nodes\nnamespace: shop\nduration: 5m\nnodes: [worker-1, worker-2]\nworkloads:\n  - name: web\n    replicas: 3\n";
    let policy = "policy busy {\n  select nodes\n  mode auto\n  limit 10 per 1h\n  cooldown 1h\n  when cordoned == false and running_pods / pod_capacity > 1% and running_pods >= 2 for 1m then notify \"busy\"\n}\n";
    let report = simulate(scenario, &[policy]);
    // Three pods round robin: two on worker-1, one on worker-2; later
    // firings on worker-1 wait out the cooldown.
    let lines = outcomes(&report);
    assert_eq!(
        lines[0],
        "60 nodes/worker-1 notify \"busy\" -> done: notified: \"busy\""
    );
    assert!(
        lines.iter().all(|l| l.contains("nodes/worker-1")),
        "{lines:#?}"
    );
}

#[test]
fn overlapping_crash_faults_leave_no_incident_open_forever() {
    let scenario = "name: t\nnamespace: shop\nduration: 30m\nworkloads:\n  - name: web\n    replicas: 2\n    faults:\n      - crashloop: { after: 2m, pods: 2 }\n      - crashloop: { after: 135s, cause: release }\n";
    let report = simulate(
        scenario,
        &["policy restart {\n  select pods where app = \"web\"\n  mode auto\n  limit 5 per 1h\n  cooldown 5m\n  when status is CrashLoopBackOff for 1m then restart\n}\n"],
    );
    // The transient crash loops end with their pods; only the bad release,
    // which restarting cannot end, is still open.
    let open: Vec<&str> = report
        .incidents
        .iter()
        .filter(|i| i.outcome == IncidentOutcome::Open)
        .map(|i| i.fault.as_str())
        .collect();
    assert_eq!(open, ["bad release"], "{:#?}", report.incidents);
}

#[test]
fn scale_bounds_never_move_the_count_the_wrong_way() {
    let scenario = "name: t\nnamespace: shop\nduration: 0s\nworkloads:\n  - name: web\n    replicas: 8\n    baseline: { cpu_percent: 95 }\n  - name: api\n    replicas: 2\n    baseline: { cpu_percent: 5 }\n";
    let report = simulate(
        scenario,
        &[
            "policy up {\n  select deployments where app = \"web\"\n  mode auto\n  limit 5 per 1h\n  cooldown 5m\n  when cpu_percent > 90% then scale up 2 max 4\n}\n",
            "policy down {\n  select deployments where app = \"api\"\n  mode auto\n  limit 5 per 1h\n  cooldown 5m\n  when cpu_percent < 10% then scale down 1 min 5\n}\n",
        ],
    );
    assert_eq!(
        outcomes(&report),
        [
            "0 deployments/shop/web scale up 2 max 4 -> done: replicas 8 → 8",
            "0 deployments/shop/api scale down 1 min 5 -> done: replicas 2 → 2",
        ]
    );
}

#[test]
fn what_the_object_does_not_allow_is_refused_as_the_safety_controller_would() {
    // `rollback` applies to Deployments only; the pods here are a DaemonSet's.
    let scenario = "name: t\nnamespace: shop\nduration: 5m\nworkloads:\n  - name: agent\n    kind: daemonset\n    replicas: 2\n    faults:\n      - crashloop: { after: 1m, cause: release }\n  - name: db\n    kind: statefulset\n    replicas: 1\n    faults:\n      - crashloop: { after: 1m }\n";
    let report = simulate(
        scenario,
        &[
            "policy rb {\n  select pods where app = \"agent\"\n  mode auto\n  cooldown 1h\n  when status is CrashLoopBackOff for 1m then rollback\n}\n",
            // The default safety configuration forbids deleting a
            // StatefulSet's pods; the checker warns (W0113), the controller
            // refuses.
            "policy del {\n  select pods where app = \"db\"\n  mode auto\n  cooldown 1h\n  when status is CrashLoopBackOff for 1m then delete\n}\n",
        ],
    );
    let refused: Vec<String> = report
        .timeline
        .iter()
        .filter_map(|e| match &e.outcome {
            Outcome::Refused(why) => Some(format!("{}: {why}", e.target)),
            _ => None,
        })
        .collect();
    assert_eq!(
        refused,
        [
            "pods/shop/agent-1: `rollback` does not apply to daemonsets",
            "pods/shop/db-1: `delete` on pods owned by a statefulset is forbidden",
        ],
        "{:#?}",
        outcomes(&report)
    );
    assert_eq!(report.summary.blocked_by.get("safety"), Some(&2));
    assert_eq!(report.summary.faults_healed, 0);
}

/// A workload has a status, an event and a metric when its pods do, on every
/// workload kind: the language's rule, which the simulated world must keep
/// as the operator's observer does.
#[test]
fn workloads_see_their_pods_statuses_events_and_metrics_on_every_kind() {
    for kind in ["deployment", "statefulset", "daemonset"] {
        let scenario = format!(
            "name: t\nnamespace: shop\nduration: 4m\nworkloads:\n  - name: app\n    kind: {kind}\n    replicas: 2\n    faults:\n      - crashloop: {{ after: 1m, cause: release }}\n"
        );
        let policy = |name: &str, condition: &str| {
            format!(
                "policy {name} {{\n  select {kind}s where app = \"app\"\n  mode monitor\n  cooldown 1h\n  when {condition} then notify \"{name}\"\n}}\n"
            )
        };
        let policies = [
            policy("status", "status is CrashLoopBackOff"),
            policy("event", "event BackOff count > 0 within 5m"),
            policy("metric", "restarts > 0"),
        ];
        let sources: Vec<&str> = policies.iter().map(String::as_str).collect();
        let report = simulate(&scenario, &sources);
        let fired: std::collections::BTreeSet<(String, String)> = report
            .timeline
            .iter()
            .map(|e| (e.policy.clone(), e.target.clone()))
            .collect();
        for name in ["status", "event", "metric"] {
            assert!(
                fired.contains(&(name.to_string(), format!("{kind}s/shop/app"))),
                "{kind}: `{name}` never held on the workload: {fired:?}"
            );
        }
    }
}

/// `simulate --ai-answers`: recorded answers replayed through the same
/// validation, and their choice carried out as the operator would.
mod replayed_ai {
    use super::*;
    use kubeskippy::ai::replay::{parse, ReplayAnalyzer};
    use std::sync::Arc;

    const SCENARIO: &str = "name: ai\nnamespace: demo\ninterval: 15s\nduration: 1h\nseed: 1\nnodes: [worker-1]\nworkloads:\n  - name: payments\n    replicas: 3\n    baseline: { error_rate: 0.005 }\n    faults:\n      - degrade: { metric: error_rate, to: 0.15, after: 5m, over: 5m }\n";
    const POLICY: &str = "metric error_rate: ratio = promql \"sum by (pod) (rate(http_requests_total{code=~\\\"5..\\\"}[5m])) / sum by (pod) (rate(http_requests_total[5m]))\"\n\npolicy errors {\n  select deployments where app = \"payments\"\n  mode auto\n  cooldown 15m\n  when error_rate > 5% for 2m then ask ai among [restart rolling, scale up 1 max 6]\n}\n";

    fn run(answer: &str, threshold: Option<f64>) -> Vec<String> {
        let scenario = scenario::parse(SCENARIO).expect("a scenario");
        let recording = parse(&format!(
            "answers:\n  - object: deployments/demo/payments\n    model: recorded\n    answer: '{answer}'\n"
        ))
        .expect("a recording");
        let config = SafetyConfig {
            ai_auto_approve_confidence: threshold,
            ..SafetyConfig::default()
        };
        let report = simulate::run(
            &scenario,
            &[program(POLICY)],
            &config,
            &Options {
                ai: Some(Arc::new(ReplayAnalyzer::new(recording))),
                ..Options::default()
            },
            &mut |_, _| {},
        );
        outcomes(&report)
            .into_iter()
            .filter(|o| o.contains("ask ai"))
            .collect()
    }

    const SCALE: &str = r#"{"action":"scale up 1 max 6","target":"deployments/demo/payments","parameters":{},"confidence":0.95,"reasoning":["errors grow with load"],"alternatives":[]}"#;

    #[test]
    fn the_ais_choice_waits_for_a_person_unless_its_confidence_is_trusted() {
        let waits = run(SCALE, None);
        assert!(
            waits[0].contains("→ scale up 1 max 6 (the AI, confidence 0.95)")
                && waits[0].contains("AwaitingApproval"),
            "{waits:?}"
        );
        let runs = run(SCALE, Some(0.9));
        assert!(runs[0].contains("-> done:"), "{runs:?}");
    }

    #[test]
    fn an_answer_outside_the_case_takes_the_fallback() {
        let outside = r#"{"action":"delete","target":"deployments/demo/payments","parameters":{},"confidence":1.0,"reasoning":["delete everything"],"alternatives":[]}"#;
        let outcome = run(outside, None);
        // The least disruptive candidate, under the policy's mode (auto).
        assert!(
            outcome[0].contains("→ scale up 1 max 6 (the fallback)")
                && outcome[0].contains("-> done:"),
            "{outcome:?}"
        );
    }
}

/// Pods a policy adds are simulated at every later step, so scale-ups stop
/// where the run would pass its pod-steps (issue 13, item 5).
#[test]
fn scale_ups_stop_at_the_runs_pod_budget() {
    use kubeskippy::act::Executed;
    use kubeskippy::catalog::Kind;
    use kubeskippy::engine::observation::TargetId;
    use kubeskippy::ir::{Action, Scale};
    use kubeskippy::sim::world::World;

    // A day at 1 s with one node: 20,000,000 / 86,401 steps is 231 objects.
    assert_eq!(simulate::pod_budget(86_400, 1, 1), 230);
    // Never below the pods a run starts with.
    assert_eq!(simulate::pod_budget(2_000_000, 3, 500), 500);

    let scenario =
        scenario::parse("name: big\nnamespace: shop\nworkloads:\n  - name: web\n    replicas: 1\n")
            .expect("a valid scenario");
    let policy = program("policy up {\n  select deployments where app = \"web\"\n  mode auto\n  limit 100 per 1h\n  cooldown 1m\n  when cpu_percent > 80% then scale up 100 max 1000\n}\n");
    let mut world = World::new(&scenario, std::slice::from_ref(&policy), 7);
    world.limit_pods(150);
    let web = TargetId {
        kind: Kind::Deployments,
        namespace: Some("shop".into()),
        name: "web".into(),
    };
    let up = Action::Scale(Scale::Up {
        by: 100,
        max: Some(1_000),
    });
    let replicas: Vec<String> = (0..3)
        .map(|i| match world.apply(&policy, &up, &web, i * 60, 0) {
            Executed::Done(what) => what,
            other => panic!("not done: {other:?}"),
        })
        .collect();
    assert_eq!(
        replicas,
        [
            "replicas 1 → 101",
            "replicas 101 → 150",
            "replicas 150 → 150"
        ]
    );
    assert_eq!(world.pod_count(), 150);
}

/// A window over a status reads what the simulated world recorded: the
/// crash loop is still within the window minutes after the rollback ended it.
#[test]
fn a_status_window_remembers_a_crash_loop_after_it_ended() {
    let scenario = "name: release\nnamespace: shop\nduration: 30m\nworkloads:\n  - name: api\n    replicas: 2\n    faults:\n      - crashloop: { after: 5m, cause: release }\n";
    let rollback = "policy rollback {\n  select deployments where app = \"api\"\n  mode auto\n  limit 1 per 1h\n  cooldown 30m\n  when status was CrashLoopBackOff within 5m for 2m then rollback\n}\n";
    let recovered = "policy recovered {\n  select deployments where app = \"api\"\n  mode auto\n  cooldown 1h\n  when status was CrashLoopBackOff within 10m and unavailable_replicas == 0 for 3m then notify \"api recovered from a crash loop\"\n}\n";
    let report = simulate(scenario, &[rollback, recovered]);
    // The window holds the crash loop for 5 minutes after the rollback, so
    // the rollback rule holds again at 555 s, which the cooldown blocks.
    let done: Vec<String> = outcomes(&report)
        .into_iter()
        .filter(|l| l.contains("-> done"))
        .collect();
    assert_eq!(
        done,
        [
            "420 deployments/shop/api rollback -> done: rolled back; 2 pods replaced",
            "615 deployments/shop/api notify \"api recovered from a crash loop\" -> done: notified: \"api recovered from a crash loop\""
        ]
    );
}

/// A declared count read per pod is summed over the workload's pods, as the
/// operator sums it; one read per workload (`by (deployment)`) is the
/// workload's own value, the scenario's baseline for the workload itself.
#[test]
fn a_declared_metric_is_read_per_pod_or_per_workload_as_its_grouping_says() {
    const SCENARIO: &str = "name: backlog\nnamespace: demo\ninterval: 15s\nduration: 10m\nseed: 1\nworkloads:\n  - name: queue\n    replicas: 3\n    baseline: { backlog: 40 }\n";
    let policy = |grouping: &str, threshold: u32| {
        format!(
            "metric backlog: count = promql \"sum by ({grouping}) (backlog{{namespace=\\\"$namespace\\\"}})\"\n\npolicy deep {{\n  select deployments in demo\n  mode auto\n  cooldown 1h\n  when backlog > {threshold} for 1m then notify \"deep\"\n}}\n"
        )
    };
    let notified = |grouping: &str, threshold: u32| {
        outcomes(&simulate(SCENARIO, &[&policy(grouping, threshold)]))
            .into_iter()
            .filter(|o| o.contains("done: notified"))
            .collect::<Vec<_>>()
    };
    let fired = ["60 deployments/demo/queue notify \"deep\" -> done: notified: \"deep\""];
    assert_eq!(notified("pod", 100), fired, "3 pods × 40 is above 100");
    assert_eq!(
        notified("deployment", 100),
        [""; 0],
        "the deployment's own 40 is not"
    );
    assert_eq!(
        notified("deployment", 30),
        fired,
        "the deployment's own 40 is read, and is above 30"
    );
}

/// A Deployment's `restarts` is its pods' sum, but a pod replaced takes its
/// restarts with it: the workload's count grows by each pod's growth (as
/// the operator's observer counts it), so one pod replaced after both
/// were OOM-killed is no restart of the Deployment.
#[test]
fn a_pod_replaced_is_no_restart_of_its_workload() {
    let report = simulate(
        LEAKY,
        &[
            "policy replace-one {\n  select pods where app = \"cart\"\n  mode auto\n  limit 1 per 1h\n  cooldown 1h\n  when memory_percent > 80% and restarts > 0 then restart\n}\n",
            "policy restarted {\n  select deployments where app = \"cart\"\n  mode auto\n  limit 10 per 1h\n  cooldown 5m\n  when increase(restarts, 10m) > 0 then notify \"restarted\"\n}\n",
        ],
    );
    let lines = outcomes(&report);
    let replaced: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains(" restart -> done"))
        .collect();
    assert_eq!(replaced.len(), 1, "{lines:#?}");
    let at = |line: &str| -> i64 {
        line.split(' ')
            .next()
            .and_then(|t| t.parse().ok())
            .expect("a time")
    };
    let replaced_at = at(replaced[0]);
    // Between the two rounds of OOM kills, so that neither is in the window
    // checked below.
    assert!((1_800..2_400).contains(&replaced_at), "{lines:#?}");
    // The OOM kills at 20m restart both pods, and the one not replaced is
    // killed again at 40m; the pod replaced between them (at 80% again,
    // 13 minutes after 20m) is no restart.
    let notices: Vec<i64> = lines
        .iter()
        .filter(|l| {
            l.starts_with(char::is_numeric)
                && l.contains("notify \"restarted\"")
                && l.contains("done")
        })
        .map(|l| at(l))
        .collect();
    assert!(
        notices.contains(&1_200) && notices.contains(&2_400),
        "{lines:#?}"
    );
    assert!(
        !notices.iter().any(|&t| (replaced_at..2_400).contains(&t)),
        "the replacement at {replaced_at} read as a restart: {lines:#?}"
    );
}
