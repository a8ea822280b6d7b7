//! `kubeskippy simulate` as a user runs it: the demo end to end through the
//! binary, seeds, `--until`, broken input, the library and the report.
//! The world's faults and actions are `simulate_world.rs`'s.

mod common;
#[path = "common/engine.rs"]
mod engine;
#[path = "common/sim.rs"]
mod sim;

use common::{kubeskippy, stderr, stdout};

use sim::*;

const DEMO: &str = "examples/scenarios/demo.yaml";

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
fn too_long_a_run_is_refused_before_it_starts() {
    let output = kubeskippy(&["simulate", "--until", "3650d", DEMO]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("pod-steps") || stderr(&output).contains("intervals"),
        "{}",
        stderr(&output)
    );
}
