//! `kubeskippy simulate`: the demo end to end through the binary, and each
//! fault generator and action effect on a small scenario of its own.

mod common;

use common::{kubeskippy, stderr, stdout};
use kubeskippy::check::compile;
use kubeskippy::ir::Program;
use kubeskippy::safety::SafetyConfig;
use kubeskippy::sim::scenario;
use kubeskippy::sim::simulate::{self, Options, Outcome, Report};
use kubeskippy::sim::world::IncidentOutcome;

const DEMO: &str = "examples/scenarios/demo.yaml";

fn program(source: &str) -> Program {
    let compiled = compile(source, &SafetyConfig::default());
    assert!(!compiled.has_errors(), "{:?}", compiled.diagnostics);
    compiled.program
}

fn simulate(scenario_yaml: &str, policies: &[&str]) -> Report {
    let scenario = scenario::parse(scenario_yaml).expect("a valid scenario");
    let programs: Vec<Program> = policies.iter().map(|p| program(p)).collect();
    simulate::run(
        &scenario,
        &programs,
        &SafetyConfig::default(),
        &Options::default(),
        &mut |_, _| {},
    )
}

fn outcomes(report: &Report) -> Vec<String> {
    report
        .timeline
        .iter()
        .map(|e| {
            let what = match &e.outcome {
                Outcome::Done(what) => format!("done: {what}"),
                other => format!("{other:?}"),
            };
            format!("{} {} {} -> {what}", e.at, e.target, e.action)
        })
        .collect()
}

#[test]
fn the_demo_heals_itself() {
    let output = kubeskippy(&["simulate", DEMO]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    insta::assert_snapshot!("simulate_demo", text);
    // What the README promises of it.
    for shown in [
        "✓ healed crashloop",
        "✓ healed memory leak",
        "✓ healed cpu overload",
        "handed to the AI analyzer",
    ] {
        assert!(text.contains(shown), "the demo no longer shows `{shown}`");
    }
}

#[test]
fn the_same_seed_gives_the_same_run_and_another_seed_another() {
    let run = |seed: &str| {
        let output = kubeskippy(&["simulate", "--format", "json", "--seed", seed, DEMO]);
        assert!(output.status.success(), "{}", stderr(&output));
        stdout(&output)
    };
    let first = run("7");
    assert_eq!(first, run("7"));
    assert_ne!(first, run("8"), "chaos ignores the seed");
    let json: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(json["seed"], 7);
    assert!(json["summary"]["faults_healed"].as_u64().unwrap() > 0);
    assert!(json["timeline"].as_array().unwrap().len() > 3);
}

#[test]
fn until_shortens_the_run() {
    let output = kubeskippy(&["simulate", "--until", "10m", "--format", "json", DEMO]);
    assert!(output.status.success(), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(json["until"], 600);
    let last = json["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["at"].as_i64())
        .max();
    assert!(last.is_none_or(|at| at <= 600));
}

#[test]
fn a_broken_scenario_or_policy_is_reported_not_run() {
    let dir = std::env::temp_dir().join(format!("kubeskippy-sim-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let scenario = dir.join("s.yaml");
    std::fs::write(
        &scenario,
        "name: s\npolicies: [p.skippy]\nworkloads:\n  - name: web\n    replicas: lots\n",
    )
    .unwrap();
    let output = kubeskippy(&["simulate", scenario.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("s.yaml:5:"), "{}", stderr(&output));

    std::fs::write(
        &scenario,
        "name: s\npolicies: [p.skippy]\nworkloads:\n  - name: web\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("p.skippy"),
        "policy p {\n  select pods\n  when memory_percnt > 90% then restart\n}\n",
    )
    .unwrap();
    let output = kubeskippy(&["simulate", scenario.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("memory_percent"),
        "{}",
        stderr(&output)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_policy_on_a_kind_the_world_does_not_model_is_said_to_never_fire() {
    let dir = std::env::temp_dir().join(format!("kubeskippy-sim-kinds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let scenario = dir.join("s.yaml");
    std::fs::write(
        &scenario,
        "name: s\npolicies: [p.skippy]\nnamespace: shop\nduration: 5m\nworkloads:\n  - name: web\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("p.skippy"),
        "policy on-containers {\n  select containers\n  cooldown 1h\n  when restarts > 3 then notify \"x\"\n}\n\
         policy on-pods {\n  select pods\n  cooldown 1h\n  when restarts > 3 then notify \"x\"\n}\n",
    )
    .unwrap();
    let output = kubeskippy(&["simulate", scenario.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let notes: Vec<String> = stderr(&output)
        .lines()
        .filter(|l| l.starts_with("note: "))
        .map(str::to_string)
        .collect();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].contains("policy `on-containers` selects containers")
            && notes[0].contains("never fires"),
        "{notes:?}"
    );
    // Scripted, containers are evaluated: nothing to note.
    std::fs::write(
        &scenario,
        "name: s\npolicies: [p.skippy]\nnamespace: shop\nduration: 5m\nworkloads:\n  - name: web\n\
         objects:\n  - target: containers/shop/web-1/app\n    series: { restarts: '5x20' }\n",
    )
    .unwrap();
    let output = kubeskippy(&["simulate", scenario.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!stderr(&output).contains("note: "), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("containers/shop/web-1/app"),
        "{}",
        stdout(&output)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

const LEAKY: &str = "name: leak\nnamespace: shop\nduration: 1h\nworkloads:\n  - name: cart\n    replicas: 2\n    baseline: { memory_percent: 40 }\n    faults:\n      - memory_leak: { per_minute: 3 }\n";

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
fn chaos_is_seeded() {
    let scenario = "name: chaos\nnamespace: shop\nduration: 6h\nseed: 1\nworkloads:\n  - name: web\n    replicas: 4\n    faults:\n      - chaos: { every: 20m }\n";
    let policy = "policy crash {\n  select pods where app = \"web\"\n  mode auto\n  limit 20 per 1h\n  cooldown 5m\n  when status is CrashLoopBackOff for 1m then restart\n}\n";
    let a = simulate(scenario, &[policy]);
    let b = simulate(scenario, &[policy]);
    assert_eq!(a, b);
    // About 6h / 20m = 18 failures; a seeded run has some of each kind.
    let kinds = &a.summary.faults_by_kind;
    assert!(
        kinds.get("crashloop").copied().unwrap_or(0) > 2,
        "{kinds:?}"
    );
    assert!(
        kinds.get("pod killed").copied().unwrap_or(0) > 2,
        "{kinds:?}"
    );
    assert_eq!(
        a.summary.faults_healed, kinds["crashloop"],
        "every crashloop is healed by the policy"
    );
}

/// The README's excerpt of the demo is real: every line it shows is in the
/// demo's output.
#[test]
fn the_readme_shows_the_demo_as_it_runs() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let start = readme
        .find("outcome, then a summary:\n\n```\n")
        .expect("the README shows the demo");
    let block = &readme[start..];
    let block = &block[block.find("```\n").unwrap() + 4..];
    let block = &block[..block.find("```").unwrap()];
    let output = stdout(&kubeskippy(&["simulate", DEMO]));
    for line in block.lines().filter(|l| l.trim() != "…") {
        assert!(
            output.lines().any(|o| o == line),
            "the README shows a line the demo does not print:\n{line}"
        );
    }
}

/// The standard library ships in `dryrun` (or `approve`, or notify-only
/// `auto`): simulated, it records and notifies, and heals nothing by itself.
#[test]
fn the_library_in_its_shipped_modes_only_records() {
    let output = kubeskippy(&[
        "simulate",
        "--format",
        "json",
        "examples/scenarios/library.yaml",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let summary = &json["summary"];
    assert!(
        summary["dry_run_records"].as_u64().unwrap() > 0,
        "{summary}"
    );
    assert!(
        summary["awaiting_approval"].as_u64().unwrap() > 0,
        "{summary}"
    );
    assert!(summary["handed_to_ai"].as_u64().unwrap() > 0, "{summary}");
    let kinds: Vec<&String> = summary["actions_by_type"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert!(kinds.iter().all(|k| *k == "notify"), "{kinds:?}");
    // A notification changes nothing, so it is never credited with a fault
    // that passed by itself.
    assert_eq!(summary["faults_healed"], 0, "{summary}");
}

/// Review regressions: a fault is credited to an action only when the action
/// itself ends it.
#[test]
fn an_action_is_not_credited_with_what_passed_by_itself() {
    // A rolling restart does nothing for load; the swing comes down alone.
    let scenario = "name: t\nnamespace: shop\nduration: 1h\nworkloads:\n  - name: web\n    replicas: 2\n    faults:\n      - cpu_sine: { min: 20, max: 150, period: 40m }\n";
    let report = simulate(
        scenario,
        &["policy roll {\n  select deployments where app = \"web\"\n  mode auto\n  limit 5 per 1h\n  cooldown 30m\n  when cpu_percent > 90% then restart rolling\n}\n"],
    );
    assert!(report.summary.actions_taken > 0);
    assert_eq!(report.summary.faults_healed, 0, "{:#?}", report.incidents);
    assert!(report.summary.faults_recovered > 0);
    // A raised memory limit buys time but does not end a leak.
    let report = simulate(
        LEAKY,
        &["policy limits {\n  select deployments where app = \"cart\"\n  mode auto\n  limit 2 per 1h\n  cooldown 30m\n  when memory_percent > 80% then set memory_limit = current * 2 max 2Gi\n}\n"],
    );
    assert_eq!(report.summary.faults_healed, 0, "{:#?}", report.incidents);
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

#[test]
fn too_long_a_run_is_refused_before_it_starts() {
    let output = kubeskippy(&["simulate", "--until", "3650d", DEMO]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("pod-steps") || stderr(&output).contains("intervals"),
        "{}",
        stderr(&output)
    );
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

/// The kinds the world does not simulate are scripted, and the same engine
/// evaluates their rules: each object of `alerts.yaml` is told about once
/// its alert's condition has held for the alert's duration.
#[test]
fn scripted_objects_of_every_other_kind_are_evaluated_as_in_a_cluster() {
    let output = kubeskippy(&[
        "simulate",
        "--format",
        "json",
        "examples/scenarios/alerts.yaml",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let first_notice = |target: &str| {
        json["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["target"] == target && e["outcome"]["kind"] == "done")
            .map(|e| e["at"].as_i64().unwrap())
    };
    // Each alert's `for` after the script's failure begins.
    for (target, at) in [
        ("jobs/shop/nightly", 35 * 60),
        ("horizontalpodautoscalers/shop/web", 45 * 60),
        ("poddisruptionbudgets/shop/web", 75 * 60),
        ("resourcequotas/shop/compute", 15 * 60),
        ("persistentvolumes/pv-archive", 50 * 60),
        ("cluster", 10 * 60),
        ("filesystems/worker-1:/var", 30 * 60),
        // A crash loop from 30m, held 15 minutes across its Running phases.
        ("containers/shop/api-1/app", 45 * 60),
        ("containers/shop/api-2/app", 60 * 60),
        // Two samples make the first increase, at 1m.
        ("containers/shop/api-3/app", 16 * 60),
    ] {
        assert_eq!(first_notice(target), Some(at), "{target}");
    }
    // Each container is its own: the idle sidecar of the throttled one is
    // never told about, nor is the crash-looping sidecar as waiting.
    assert_eq!(first_notice("containers/shop/api-3/sidecar"), None);
    let waiting_sidecar = json["timeline"].as_array().unwrap().iter().any(|e| {
        e["target"] == "containers/shop/api-2/sidecar" && e["policy"] == "container-waiting-notify"
    });
    assert!(!waiting_sidecar, "the crash loop is crashloop.skippy's");
    assert!(
        first_notice("persistentvolumeclaims/shop/pg-data").is_some(),
        "the filling claim"
    );
}

#[test]
fn a_scripted_object_follows_its_script_and_simulated_kinds_are_not_scripted() {
    use kubeskippy::act::Executed;
    use kubeskippy::engine::observation::TargetId;
    use kubeskippy::ir::Action;
    use kubeskippy::sim::world::World;

    let job = "name: t\nnamespace: shop\ninterval: 1m\nduration: 30m\nobjects:\n  - target: jobs/shop/nightly\n    status: { Failed: '1x30' }\n";
    let rerun = "policy p {\n  select jobs\n  mode auto\n  cooldown 10m\n  when status is Failed for 5m then rerun\n}\n";
    // A scripted object passes the same admission: a rerun waits for a
    // person, as in a cluster.
    let report = simulate(job, &[rerun]);
    let first = report.timeline.first().expect("a decision");
    assert_eq!(
        (first.at, first.target.as_str()),
        (300, "jobs/shop/nightly")
    );
    assert!(
        matches!(first.outcome, Outcome::AwaitingApproval(_)),
        "{:?}",
        first.outcome
    );
    // Carried out (an approval, a replayed answer), it is recorded and the
    // object follows its script.
    let scenario = scenario::parse(job).expect("a valid scenario");
    let policy = program(rerun);
    let mut world = World::new(&scenario, std::slice::from_ref(&policy), 0);
    let nightly = TargetId {
        kind: kubeskippy::catalog::Kind::Jobs,
        namespace: Some("shop".into()),
        name: "nightly".into(),
    };
    assert_eq!(
        world.apply(&policy, &Action::Rerun, &nightly, 300, 0),
        Executed::Done("rerun recorded; a scripted job follows its script".into())
    );
    world.step(360);
    let observed = world.take_observations();
    let seen = observed
        .targets
        .iter()
        .find(|t| t.id == nightly)
        .expect("the job");
    assert!(seen.statuses.contains("Failed"), "{seen:?}");
    for (yaml, says) in [
        (
            "name: t\nobjects:\n  - target: pods/shop/web-1\n    series: { restarts: '5x10' }\n",
            "object `pods/shop/web-1`: pods are simulated from `workloads` and `nodes`, not scripted",
        ),
        (
            "name: t\nobjects:\n  - target: cluster\n  - target: cluster\n",
            "object `cluster` is scripted twice",
        ),
        (
            "name: t\n",
            "the scenario has no `workloads` and no `objects`",
        ),
    ] {
        let error = scenario::parse(yaml).expect_err(yaml);
        assert_eq!(error.message, says);
    }
}
