//! The cluster-scoped kinds beyond nodes: persistent volumes, which a
//! policy may select to be told about and never act on.

use super::lowering_tests::{codes, program};
use crate::catalog::Kind;
use crate::ir::Namespaces;

fn volumes(condition: &str, action: &str) -> String {
    format!("policy v {{\n  select persistentvolumes\n  cooldown 1h\n  when {condition} for 5m then {action}\n}}\n")
}

#[test]
fn a_persistent_volume_is_selected_without_namespaces_by_its_phase() {
    let program = program(&volumes(
        "status is Failed or status is Pending or status is Released",
        "notify \"x\"",
    ));
    let selector = &program.policies[0].selector;
    assert_eq!(selector.kind, Kind::PersistentVolumes);
    assert_eq!(selector.namespaces, Namespaces::ClusterScoped);
    let labelled = volumes("age > 1h", "notify \"x\"").replace(
        "select persistentvolumes",
        "select persistentvolumes where type = \"local\"",
    );
    assert!(codes(&labelled).is_empty());
}

#[test]
fn notify_is_the_only_action_on_a_persistent_volume() {
    for action in [
        "ask ai",
        "ask ai among [notify \"x\"]",
        "restart",
        "delete",
        "expand to 10Gi max 20Gi",
        "cordon",
        "rerun",
    ] {
        let found = codes(&volumes("status is Failed", action));
        assert!(found.contains(&"E0304"), "{action}: {found:?}");
    }
    let compiled = super::compile(
        &volumes("status is Failed", "delete"),
        &crate::safety::SafetyConfig::default(),
    );
    let help = compiled.diagnostics[0].help.clone().unwrap_or_default();
    assert!(help.contains("only `notify` applies"), "{help}");
}

#[test]
fn a_volume_has_its_own_reasons_and_no_namespace() {
    for (condition, code) in [
        ("status is Lost", "E0207"),
        ("status is CrashLoopBackOff", "E0207"),
        ("volume_used_bytes > 1Gi", "E0206"),
        ("memory_percent > 90", "E0206"),
    ] {
        let found = codes(&volumes(condition, "notify \"x\""));
        assert!(found.contains(&code), "{condition}: {found:?}");
    }
    let namespaced = volumes("status is Failed", "notify \"x\"").replace(
        "select persistentvolumes",
        "select persistentvolumes in shop",
    );
    assert_eq!(codes(&namespaced), ["E0307"]);
    // Released is a volume's phase, not a claim's.
    let claim = volumes("status is Released", "notify \"x\"").replace(
        "select persistentvolumes",
        "select persistentvolumeclaims in shop",
    );
    assert!(codes(&claim).contains(&"E0207"));
}
