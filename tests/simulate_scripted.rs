//! `kubeskippy simulate` on scripted objects: the kinds its world does not
//! simulate (jobs, autoscalers, claims, budgets, quotas, volumes, the
//! cluster, filesystems, containers), observed as `kubeskippy test` observes
//! its targets and evaluated by the same engine.

mod common;
#[path = "common/engine.rs"]
mod engine;
#[path = "common/sim.rs"]
mod sim;

use common::{kubeskippy, stderr, stdout};
use kubeskippy::sim::scenario;
use kubeskippy::sim::simulate::Outcome;
use sim::*;

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
        ("resourcequotas/shop/compute/requests.cpu", 15 * 60),
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
