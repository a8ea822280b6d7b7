//! Completion in context, one test per kind of context (`|` marks the cursor).

use super::{completion_range, completions};

/// The labels proposed where `|` stands in `text`.
fn labels(text: &str) -> Vec<String> {
    let offset = text.find('|').expect("a cursor");
    let text = text.replacen('|', "", 1);
    completions(&text, offset)
        .into_iter()
        .map(|c| c.label)
        .collect()
}

#[test]
fn keywords_in_context() {
    assert_eq!(
        labels("policy p { select pods where app |"),
        ["exists", "in"]
    );
    assert_eq!(labels("policy p { select pods |"), ["in", "where"]);
    assert_eq!(labels("policy p { select pods in shop |"), ["where"]);
    assert_eq!(labels("|"), ["policy", "metric", "patch"]);
    assert_eq!(
        labels("policy p {\n  |\n}"),
        ["select", "mode", "limit", "cooldown", "when"]
    );
    assert_eq!(
        labels("policy p {\n  mode |"),
        ["dryrun", "auto", "approve", "monitor"]
    );
    assert_eq!(
        labels("policy p { select |"),
        [
            "pods",
            "deployments",
            "statefulsets",
            "daemonsets",
            "nodes",
            "jobs",
            "horizontalpodautoscalers",
            "persistentvolumeclaims",
            "poddisruptionbudgets",
            "resourcequotas",
            "persistentvolumes",
            "cluster",
            "filesystems",
            "containers"
        ]
    );
    assert_eq!(
        labels("policy p { select containers where |"),
        ["container"]
    );
    assert_eq!(
        labels("policy p { select containers in shop where app = \"api\", |"),
        ["container"]
    );
    assert_eq!(
        labels("policy p { select resourcequotas where |"),
        ["resource"]
    );
    assert_eq!(
        labels("policy p { select filesystems where |"),
        ["node", "mountpoint", "fstype", "device"]
    );
    assert_eq!(
        labels("policy p { select pods where |"),
        Vec::<String>::new()
    );
    assert_eq!(
        labels("policy p { select containers in shop, |"),
        Vec::<String>::new()
    );
    assert_eq!(
        labels("policy p {\n when memory_percent > 85 |"),
        ["for", "then", "and", "or"]
    );
    assert_eq!(
        labels("policy p {\n when memory_percent > 85 for 3m |"),
        ["then", "and", "or"]
    );
    assert_eq!(
        labels("policy p {\n when x > 1 # then |"),
        Vec::<String>::new()
    );
    assert_eq!(
        labels("policy p {\n when x then notify \"a |"),
        Vec::<String>::new()
    );
}

#[test]
fn metrics_and_functions_for_the_kind() {
    let on_nodes = labels("policy p {\n select nodes\n when |");
    assert!(on_nodes.contains(&"memory_percent".to_string()));
    assert!(!on_nodes.contains(&"restarts".to_string()), "{on_nodes:?}");
    let declared = labels("metric error_rate: ratio = promql \"x\"\npolicy p {\n when avg(|");
    assert!(declared.contains(&"error_rate".to_string()));
    assert!(declared.contains(&"avg".to_string()));
}

#[test]
fn status_reasons_and_events() {
    let reasons = labels("policy p {\n select pods\n when status is |");
    assert!(reasons.contains(&"CrashLoopBackOff".to_string()));
    assert!(!reasons.contains(&"DiskPressure".to_string()));
    assert!(labels("policy p {\n when event |").contains(&"BackOff".to_string()));
    assert_eq!(labels("policy p {\n when event BackOff |"), ["count"]);
    assert_eq!(
        labels("policy p {\n when event BackOff count > 3 |"),
        ["within"]
    );
    assert_eq!(labels("policy p {\n when status |"), ["is", "was"]);
    let windowed = labels("policy p {\n select nodes\n when status was |");
    assert!(windowed.contains(&"DiskPressure".to_string()));
    assert!(!windowed.contains(&"CrashLoopBackOff".to_string()));
    assert_eq!(
        labels("policy p {\n when status was CrashLoopBackOff |"),
        ["within"]
    );
    assert_eq!(
        labels("policy p {\n when status was CrashLoopBackOff within 5m |"),
        ["for", "then", "and", "or"]
    );
}

#[test]
fn actions_for_the_kind_and_their_words() {
    let on_nodes = labels("policy p {\n select nodes\n when ready == false then |");
    assert_eq!(on_nodes, ["notify", "ask ai", "cordon", "drain"]);
    let on_pods = labels("policy p {\n select pods\n when ready == false then r|");
    assert!(on_pods.contains(&"restart rolling".to_string()));
    assert!(on_pods.contains(&"rollback".to_string()));
    assert_eq!(
        labels("patch fix: merge \"{}\"\npolicy p {\n when x > 1 then patch |"),
        ["fix"]
    );
    assert_eq!(
        labels("policy p {\n when x > 1 then scale |"),
        ["up", "down", "to"]
    );
    assert_eq!(
        labels("policy p {\n when x > 1 then restart rolling |"),
        ["priority"]
    );
    assert!(
        labels("policy p {\n when x > 1 then ask ai among [restart, |")
            .contains(&"delete".to_string())
    );
}

#[test]
fn suffixes_after_a_number() {
    assert_eq!(
        labels("policy p {\n cooldown 5|"),
        ["5s", "5m", "5h", "5d", "5w"]
    );
    assert_eq!(labels("policy p {\n when memory_percent > 85|"), ["85%"]);
    assert_eq!(labels("policy p {\n when cpu_cores > 500|"), ["500m"]);
    assert!(labels("policy p {\n when memory_bytes >= 1|").contains(&"1Gi".to_string()));
    let text = "policy p {\n when memory_bytes >= 5";
    let ei = completions(text, text.len())
        .into_iter()
        .find(|c| c.label == "5Ei")
        .expect("5Ei");
    // The exact integer, not the f64's rounding (…847000).
    assert_eq!(ei.detail.as_deref(), Some("× 1152921504606846976 bytes"));
    assert_eq!(
        labels("policy p {\n when restarts > 3|"),
        Vec::<String>::new()
    );
}

#[test]
fn the_replaced_range_is_the_lexer_word() {
    let text = "patch debug-logging: merge \"{}\"\npolicy p {\n when x > 1 then patch debug-lo";
    let start = text.rfind("debug-lo").expect("the word");
    assert_eq!(completion_range(text, text.len()), start..text.len());
    let text = "policy p {\n cooldown 5";
    assert_eq!(
        completion_range(text, text.len()),
        text.len() - 1..text.len()
    );
    let text = "policy p {\n when x > 1 then ";
    assert_eq!(completion_range(text, text.len()), text.len()..text.len());
}

#[test]
fn never_panics_on_odd_offsets() {
    let text = "policy é {\n when \"😀";
    for offset in 0..=text.len() + 2 {
        let _ = completions(text, offset);
    }
}

#[test]
fn a_second_metric_after_an_operator() {
    let text = "policy p {\n select deployments\n when available_replicas != |";
    let after_comparison = labels(text);
    assert!(
        after_comparison.contains(&"replicas".to_string()),
        "{after_comparison:?}"
    );
    assert!(
        after_comparison.contains(&"changes".to_string()),
        "{after_comparison:?}"
    );
    assert!(!after_comparison.contains(&"status".to_string()));
    let after_division = labels("policy p {\n select pods\n when memory_bytes / |");
    assert!(
        after_division.contains(&"memory_bytes".to_string()),
        "{after_division:?}"
    );
    assert_eq!(labels("metric q: unbounded |"), ["ratio"]);
    assert!(labels("metric q: |").contains(&"unbounded".to_string()));
    assert!(labels("metric q: |").contains(&"counter".to_string()));
    assert_eq!(
        labels("metric q: counter |"),
        ["count", "bytes", "duration"]
    );
}

#[test]
fn a_watched_kind_offers_its_own_metrics_reasons_and_only_notify() {
    let metrics = labels("policy p {\n  select jobs\n  when |");
    assert!(metrics.contains(&"active_pods".to_string()), "{metrics:?}");
    assert!(metrics.contains(&"run_time".to_string()), "{metrics:?}");
    assert!(
        !metrics.contains(&"memory_percent".to_string()),
        "{metrics:?}"
    );
    let volume = labels("policy p {\n  select persistentvolumeclaims\n  when |");
    assert!(
        volume.contains(&"volume_available_bytes".to_string()),
        "{volume:?}"
    );
    assert_eq!(
        labels("policy p {\n  select persistentvolumeclaims\n  when status is |"),
        ["Pending", "Lost"]
    );
    assert_eq!(
        labels("policy p {\n  select poddisruptionbudgets\n  when age > 1h then |"),
        ["notify", "ask ai"]
    );
    assert_eq!(
        labels("policy p {\n  select resourcequotas\n  when age > 1h then |"),
        ["notify", "ask ai"]
    );
    let quota = labels("policy p {\n  select resourcequotas\n  when |");
    assert!(
        quota.contains(&"quota_used_ratio".to_string())
            && quota.contains(&"quota_filling_ratio".to_string())
            && !quota.contains(&"volume_used_bytes".to_string()),
        "{quota:?}"
    );
    assert_eq!(
        labels("policy p {\n  select persistentvolumes\n  when age > 1h then |"),
        ["notify"]
    );
    assert_eq!(
        labels("policy p {\n  select cluster\n  when cpu_requests > 1 then |"),
        ["notify"]
    );
    let cluster = labels("policy p {\n  select cluster\n  when |");
    assert!(
        cluster.contains(&"max_node_memory_allocatable".to_string())
            && !cluster.contains(&"age".to_string()),
        "{cluster:?}"
    );
    assert_eq!(
        labels("policy p {\n  select persistentvolumes\n  when status is |"),
        ["Pending", "Failed", "Released"]
    );
    let deployment = labels("policy p {\n  select deployments\n  when status is |");
    assert!(
        deployment.contains(&"ProgressDeadlineExceeded".to_string()),
        "{deployment:?}"
    );
    let statefulset = labels("policy p {\n  select statefulsets\n  when |");
    assert!(
        statefulset.contains(&"update_revision_pending".to_string())
            && statefulset.contains(&"rollout_age".to_string()),
        "{statefulset:?}"
    );
}
