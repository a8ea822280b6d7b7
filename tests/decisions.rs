//! What a decision carries for the steps after the engine, which read it
//! without looking anything up again: its rule's fingerprint (what the
//! timers, the records' names and the AI cases are keyed by), what the
//! action lands on (its effect) and its safety class.

use kubeskippy::catalog::{Effect, Kind};
use kubeskippy::check::compile;
use kubeskippy::engine::observation::{Observations, Target, TargetId};
use kubeskippy::engine::state::State;
use kubeskippy::engine::{evaluate, Context, Decision};
use kubeskippy::ir::{Program, SafetyClass};
use kubeskippy::safety::SafetyConfig;

fn program_with(source: &str, safety: &SafetyConfig) -> Program {
    let compiled = compile(source, safety);
    assert!(!compiled.has_errors(), "{:?}", compiled.diagnostics);
    compiled.program
}

fn program(source: &str) -> Program {
    program_with(source, &SafetyConfig::default())
}

/// A pod of the Deployment `checkout` on `worker-1`, crash looping and
/// failing to pull its image.
fn failing_pod() -> Observations {
    let id = |kind, name: &str| TargetId {
        kind,
        namespace: Some("shop".into()),
        name: name.into(),
    };
    let mut pod = Target::new(id(Kind::Pods, "a"));
    pod.labels.insert("app".into(), "checkout".into());
    pod.statuses.insert("CrashLoopBackOff".into());
    pod.statuses.insert("ImagePullBackOff".into());
    pod.owner = Some(id(Kind::Deployments, "checkout"));
    pod.node = Some("worker-1".into());
    Observations { targets: vec![pod] }
}

fn decide(program: &Program, now: i64, state: &State) -> Vec<Decision> {
    let context = Context::new(15, Some("shop"));
    evaluate(program, &failing_pod(), now, state, &context).decisions
}

/// The rule and fingerprint of the one decision `source` makes at once.
fn fired(source: &str) -> (usize, String) {
    let program = program(source);
    match decide(&program, 0, &State::default()).as_slice() {
        [Decision::Act {
            rule, fingerprint, ..
        }] => {
            let own = &program.policies[0].rules[*rule].fingerprint;
            assert_eq!(fingerprint, own, "the decision's rule's");
            (*rule, fingerprint.clone())
        }
        other => panic!("{source}: {other:?}"),
    }
}

const CRASH: &str = "policy crash {\n  select pods where app = \"checkout\"\n  mode auto\n  when status is CrashLoopBackOff then restart\n}\n";

#[test]
fn a_rule_keeps_its_fingerprint_until_its_meaning_changes() {
    let (rule, fingerprint) = fired(CRASH);
    assert_eq!(rule, 0);
    assert!(!fingerprint.is_empty());
    assert_eq!(fired(CRASH), (0, fingerprint.clone()), "compiled again");
    // Renamed, laid out otherwise, after a rule that does not fire: the
    // same rule, at another position.
    let moved = "policy crash-loops {\n  select pods where app = \"checkout\"\n  mode   auto\n  when status is Evicted then notify \"evicted\"\n  when status is CrashLoopBackOff   then restart\n}\n";
    assert_eq!(fired(moved), (1, fingerprint.clone()), "the same meaning");
    let condition = CRASH.replace("CrashLoopBackOff", "ImagePullBackOff");
    assert_ne!(fired(&condition).1, fingerprint, "another condition");
    let action = CRASH.replace("then restart", "then restart rolling");
    assert_ne!(fired(&action).1, fingerprint, "another action");
    let held = CRASH.replace("CrashLoopBackOff then", "CrashLoopBackOff for 1m then");
    let with_for = program(&held);
    assert_ne!(
        with_for.policies[0].rules[0].fingerprint, fingerprint,
        "another `for`"
    );

    // A decision held back names the same rule as the one that acted.
    let cooled = program(&CRASH.replace("mode auto", "mode auto\n  cooldown 10m"));
    let first = decide(&cooled, 0, &State::default());
    let Some(Decision::Act {
        fingerprint: acted,
        object,
        ..
    }) = first.first()
    else {
        panic!("{first:?}");
    };
    let mut state = State::default();
    state.commit(0, first[0].charge(0).expect("an Act is charged when done"));
    match decide(&cooled, 15, &state).as_slice() {
        [Decision::Blocked {
            fingerprint,
            object: blocked,
            ..
        }] => assert_eq!((fingerprint, blocked), (acted, object)),
        other => panic!("{other:?}"),
    }
}

/// Each action's decision, as (action, effect, safety class, object).
fn classes(safety: &SafetyConfig) -> Vec<(String, Effect, SafetyClass, String)> {
    let mut all = Vec::new();
    for action in [
        "restart",
        "restart rolling",
        "notify \"crash looping\"",
        "delete",
        "cordon",
    ] {
        let source = CRASH.replace("then restart", &format!("then {action}"));
        let program = program_with(&source, safety);
        for decision in decide(&program, 0, &State::default()) {
            let Decision::Act {
                action,
                effect,
                safety,
                object,
                ..
            } = decision
            else {
                panic!("{source}: {decision:?}");
            };
            let word = action.catalog_name().to_string();
            all.push((word, effect, safety, object.to_string()));
        }
    }
    all
}

#[test]
fn a_decision_lands_where_its_action_does_with_the_class_the_safety_rules_give() {
    let default = classes(&SafetyConfig::default());
    let shown: Vec<(&str, Effect, &str)> = default
        .iter()
        .map(|(action, effect, _, object)| (action.as_str(), *effect, object.as_str()))
        .collect();
    assert_eq!(
        shown,
        [
            ("restart", Effect::Itself, "pods/shop/a"),
            (
                "restart rolling",
                Effect::Owner,
                "deployments/shop/checkout"
            ),
            ("notify", Effect::Nothing, "pods/shop/a"),
            ("delete", Effect::Itself, "pods/shop/a"),
            ("cordon", Effect::Node, "nodes/worker-1"),
        ]
    );
    // `cordon` waits for a person by the default safety configuration
    // (`approvalRequired`); the others run by themselves.
    for (action, _, class, _) in &default {
        match action.as_str() {
            "cordon" => assert!(
                matches!(class, SafetyClass::NeedsApproval(why) if why.contains("cordon")),
                "{class:?}"
            ),
            _ => assert_eq!(*class, SafetyClass::Auto, "{action}"),
        }
    }
    // The class is the cluster's safety configuration's, not fixed.
    let mut strict = SafetyConfig::default();
    strict.approval_required.push("delete".into());
    let delete = classes(&strict)
        .into_iter()
        .find(|(action, ..)| action == "delete")
        .expect("a delete");
    assert!(
        matches!(&delete.2, SafetyClass::NeedsApproval(why) if why.contains("delete")),
        "{delete:?}"
    );
}
