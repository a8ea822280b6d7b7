//! The cluster-scoped kinds beyond nodes: persistent volumes, the cluster
//! as a whole and nodes' filesystems, which a policy may select to be told
//! about and never act on.

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

fn cluster(condition: &str, action: &str) -> String {
    format!("policy c {{\n  select cluster\n  cooldown 1h\n  when {condition} for 10m then {action}\n}}\n")
}

const CPU_OVERCOMMIT: &str = "cpu_requests - (cpu_allocatable - max_node_cpu_allocatable) > 0 \
     and cpu_allocatable - max_node_cpu_allocatable > 0";

#[test]
fn the_cluster_is_one_target_of_no_namespace_and_no_labels() {
    let program = program(&cluster(CPU_OVERCOMMIT, "notify \"x\""));
    let selector = &program.policies[0].selector;
    assert_eq!(selector.kind, Kind::Cluster);
    assert_eq!(selector.namespaces, Namespaces::ClusterScoped);
    for metric in &program.metrics {
        assert_eq!(metric.aggregation, None, "{}", metric.name);
    }
    let namespaced =
        cluster(CPU_OVERCOMMIT, "notify \"x\"").replace("select cluster", "select cluster in shop");
    assert_eq!(codes(&namespaced), ["E0307"]);
    let labelled = cluster(CPU_OVERCOMMIT, "notify \"x\"")
        .replace("select cluster", "select cluster where env = \"prod\"");
    assert_eq!(codes(&labelled), ["E0306"]);
}

#[test]
fn notify_is_the_only_action_on_the_cluster() {
    for action in ["ask ai", "restart", "scale up 1 max 3", "cordon", "drain"] {
        let found = codes(&cluster(CPU_OVERCOMMIT, action));
        assert!(found.contains(&"E0304"), "{action}: {found:?}");
    }
}

#[test]
fn the_clusters_metrics_are_quantities_of_their_own_kind() {
    for (condition, code) in [
        ("age > 1h", "E0206"),
        ("memory_percent > 90", "E0206"),
        ("status is NotReady", "E0207"),
        ("cpu_requests > 50%", "E0201"),
        ("cpu_requests - memory_allocatable > 0", "E0209"),
    ] {
        let found = codes(&cluster(condition, "notify \"x\""));
        assert!(found.contains(&code), "{condition}: {found:?}");
    }
    for (kind, condition) in [
        ("nodes", "cpu_allocatable > 4"),
        ("pods", "cpu_requests > 1"),
    ] {
        let source =
            cluster(condition, "notify \"x\"").replace("select cluster", &format!("select {kind}"));
        assert!(codes(&source).contains(&"E0206"), "{condition} on {kind}");
    }
    // Requests over allocatable passes 1 when overcommitted: a quotient
    // draws no W0114, and the quantities compare with their own units.
    for condition in [
        "cpu_requests / cpu_allocatable > 1.2",
        "memory_requests > memory_allocatable - 8Gi",
        "cpu_requests > 500m",
    ] {
        let found = codes(&cluster(condition, "notify \"x\""));
        assert!(found.is_empty(), "{condition}: {found:?}");
    }
}

fn filesystems(condition: &str, action: &str) -> String {
    format!("policy f {{\n  select filesystems where fstype != \"tmpfs\", mountpoint != \"\"\n  cooldown 1h\n  when {condition} for 1h then {action}\n}}\n")
}

const FILLING_UP: &str = "available_bytes / size_bytes < 15% \
     and predict(available_bytes, 6h, 4h) < 0 and readonly == false";

#[test]
fn filesystems_are_selected_by_their_series_labels_without_namespaces() {
    let program = program(&filesystems(FILLING_UP, "notify \"x\""));
    let selector = &program.policies[0].selector;
    assert_eq!(selector.kind, Kind::Filesystems);
    assert_eq!(selector.namespaces, Namespaces::ClusterScoped);
    assert_eq!(selector.labels.len(), 2);
    let namespaced = filesystems(FILLING_UP, "notify \"x\"")
        .replace("select filesystems", "select filesystems in shop");
    assert_eq!(codes(&namespaced), ["E0307"]);
}

#[test]
fn notify_is_the_only_action_on_a_filesystem() {
    for action in [
        "ask ai",
        "restart",
        "delete",
        "cordon",
        "drain",
        "expand to 10Gi max 20Gi",
    ] {
        let found = codes(&filesystems(FILLING_UP, action));
        assert!(found.contains(&"E0304"), "{action}: {found:?}");
    }
    let compiled = super::compile(
        &filesystems(FILLING_UP, "delete"),
        &crate::safety::SafetyConfig::default(),
    );
    let help = compiled.diagnostics[0].help.clone().unwrap_or_default();
    assert!(help.contains("only `notify` applies"), "{help}");
}

#[test]
fn the_filesystem_metrics_apply_to_filesystems_only() {
    for (condition, code) in [
        ("memory_percent > 90", "E0206"),
        ("age > 1h", "E0206"),
        ("status is DiskPressure", "E0207"),
    ] {
        let found = codes(&filesystems(condition, "notify \"x\""));
        assert!(found.contains(&code), "{condition}: {found:?}");
    }
    let on_nodes = format!(
        "policy n {{\n  select nodes\n  cooldown 1h\n  when {FILLING_UP} for 1h then notify \"x\"\n}}\n"
    );
    assert!(codes(&on_nodes).contains(&"E0206"));
}
