//! The watched kinds (jobs, autoscalers, claims, disruption budgets, quotas): their
//! own metrics and reasons, and only the actions that change nothing (and a
//! Job's `rerun`).

use super::compile;
use super::lowering_tests::{codes, program};
use crate::catalog::Kind;
use crate::safety::SafetyConfig;

const WATCHED: [(&str, &str); 5] = [
    ("jobs", "active_pods > 0 and run_time > 12h"),
    (
        "horizontalpodautoscalers",
        "current_replicas == max_replicas",
    ),
    (
        "persistentvolumeclaims",
        "volume_available_bytes / volume_capacity_bytes < 3%",
    ),
    (
        "poddisruptionbudgets",
        "desired_healthy - current_healthy > 0",
    ),
    ("resourcequotas", "quota_used_ratio > 1"),
];

fn policy(kind: &str, condition: &str, action: &str) -> String {
    format!("policy a {{\n  select {kind} in shop\n  cooldown 1h\n  when {condition} for 15m then {action}\n}}\n")
}

#[test]
fn a_watched_kind_reads_its_own_metrics_unaggregated() {
    for (kind, condition) in WATCHED {
        let program = program(&policy(kind, condition, "notify \"x\""));
        let kind = Kind::from_keyword(kind).expect("a kind");
        assert_eq!(program.policies[0].selector.kind, kind);
        assert!(!program.metrics.is_empty());
        for metric in &program.metrics {
            assert_eq!(metric.kind, Some(kind), "{}", metric.name);
            assert_eq!(metric.aggregation, None, "{} on {kind}", metric.name);
        }
    }
}

#[test]
fn only_notify_ask_ai_and_a_jobs_rerun_act_on_a_watched_kind() {
    let changing = [
        "restart",
        "restart rolling",
        "delete",
        "scale up 1 max 3",
        "scale to 2",
        "rollback",
        "cordon",
        "set memory_limit = 1Gi",
        "ask ai among [restart rolling, notify \"x\"]",
    ];
    for (kind, condition) in WATCHED {
        let rerun = codes(&policy(kind, condition, "rerun"));
        assert_eq!(
            rerun.contains(&"E0304"),
            kind != "jobs",
            "rerun on {kind}: {rerun:?}"
        );
        let expand = codes(&policy(kind, condition, "expand to 100Gi"));
        assert_eq!(
            expand.contains(&"E0304"),
            kind != "persistentvolumeclaims",
            "expand on {kind}: {expand:?}"
        );
        for action in changing {
            let found = codes(&policy(kind, condition, action));
            assert!(found.contains(&"E0304"), "{action} on {kind}: {found:?}");
        }
        let fine = codes(&policy(kind, condition, "ask ai among [notify \"x\"]"));
        assert!(!fine.iter().any(|c| c.starts_with('E')), "{kind}: {fine:?}");
    }
}

#[test]
fn the_help_lists_the_actions_a_watched_kind_takes() {
    let compiled = compile(
        &policy("jobs", "status is Failed", "restart"),
        &SafetyConfig::default(),
    );
    let help = compiled.diagnostics[0].help.clone().unwrap_or_default();
    assert!(
        help.ends_with("`notify`, `ask ai`, `rerun` apply"),
        "{help}"
    );
}

#[test]
fn metrics_and_reasons_stay_on_their_kinds() {
    let cases = [
        ("jobs", "memory_percent > 90", "E0206"),
        ("pods", "active_pods > 0", "E0206"),
        ("deployments", "current_replicas > 3", "E0206"),
        ("deployments", "update_revision_pending == true", "E0206"),
        ("nodes", "rollout_age < 10m", "E0206"),
        (
            "persistentvolumeclaims",
            "status is CrashLoopBackOff",
            "E0207",
        ),
        ("jobs", "status is NotReady", "E0207"),
        (
            "statefulsets",
            "status is ProgressDeadlineExceeded",
            "E0207",
        ),
        ("deployments", "status is Failed", "E0207"),
        ("pods", "status is Lost", "E0207"),
        ("namespaces", "quota_used_ratio > 1", "E0107"),
        ("pods", "quota_used_ratio > 0.9", "E0206"),
        ("resourcequotas", "volume_used_bytes > 1Gi", "E0206"),
        ("resourcequotas", "status is Failed", "E0207"),
    ];
    for (kind, condition, code) in cases {
        let source =
            policy(kind, condition, "notify \"x\"").replace("select nodes in shop", "select nodes");
        let found = codes(&source);
        assert!(found.contains(&code), "{condition} on {kind}: {found:?}");
    }
}

#[test]
fn rollout_status_reads_on_workloads() {
    for (kind, condition) in [
        ("deployments", "status is ProgressDeadlineExceeded"),
        (
            "deployments",
            "rollout_age < 30m and unavailable_replicas > 0",
        ),
        (
            "statefulsets",
            "update_revision_pending == true and replicas != updated_replicas",
        ),
        ("daemonsets", "rollout_age < 1h"),
        (
            "persistentvolumeclaims",
            "status is Pending or status is Lost",
        ),
        ("jobs", "status is Failed"),
    ] {
        program(&policy(kind, condition, "notify \"x\""));
    }
}

#[test]
fn rbac_stays_forbidden_and_short_names_are_spelled_out() {
    let source =
        "policy a {\n  select clusterroles\n  cooldown 1h\n  when age > 1h then notify \"x\"\n}\n";
    assert_eq!(codes(source), ["E0402"]);
    for (short, full) in [
        ("hpa", "horizontalpodautoscalers"),
        ("pvc", "persistentvolumeclaims"),
        ("pdbs", "poddisruptionbudgets"),
        ("quota", "resourcequotas"),
        ("pv", "persistentvolumes"),
        ("job", "jobs"),
    ] {
        let compiled = compile(
            &policy(short, "age > 1h", "notify \"x\""),
            &SafetyConfig::default(),
        );
        let d = &compiled.diagnostics[0];
        assert_eq!(d.code.as_str(), "E0107");
        assert_eq!(
            d.help.as_deref(),
            Some(format!("did you mean `{full}`?").as_str())
        );
    }
}

#[test]
fn rerun_is_a_jobs_action_that_waits_for_a_person() {
    let approve = "policy r {\n  select jobs in batch\n  mode approve\n  limit 3 per 1h\n  cooldown 6h\n  when status is Failed for 5m then rerun\n}\n";
    let program = program(approve);
    let rule = &program.policies[0].rules[0];
    assert_eq!(rule.action, crate::ir::Action::Rerun);
    assert_eq!(rule.effect, crate::catalog::Effect::Itself);
    assert!(
        matches!(&rule.safety, crate::ir::SafetyClass::NeedsApproval(why) if why.contains("rerun")),
        "{:?}",
        rule.safety
    );
    // In `mode auto` it would wait anyway (W0108); without a cooldown it
    // could start a Job at every evaluation (W0104).
    let auto = "policy r {\n  select jobs in batch\n  mode auto\n  limit 3 per 1h\n  when status is Failed for 5m then rerun\n}\n";
    let found = codes(auto);
    assert!(
        found.contains(&"W0108") && found.contains(&"W0104"),
        "{found:?}"
    );
    for kind in ["deployments", "pods", "persistentvolumeclaims"] {
        let found = codes(&policy(kind, "age > 1h", "rerun"));
        assert!(found.contains(&"E0304"), "rerun on {kind}: {found:?}");
    }
}

#[test]
fn expand_grows_a_claim_to_a_ceiling_and_waits_for_a_person() {
    let source = |action: &str| {
        format!("policy g {{\n  select persistentvolumeclaims in db\n  mode approve\n  limit 2 per 1h\n  cooldown 6h\n  when volume_available_bytes / volume_capacity_bytes < 10% for 15m then {action}\n}}\n")
    };
    let grown = program(&source("expand to current * 1.5 max 500Gi"));
    let rule = &grown.policies[0].rules[0];
    assert_eq!(
        rule.action,
        crate::ir::Action::Expand {
            value: crate::ir::LimitValue::Factor(1.5),
            max: 500.0 * 1_073_741_824.0,
        }
    );
    assert!(
        matches!(&rule.safety, crate::ir::SafetyClass::NeedsApproval(why) if why.contains("expand")),
        "{:?}",
        rule.safety
    );
    // A size is its own ceiling.
    let sized = program(&source("expand to 100Gi"));
    assert_eq!(
        sized.policies[0].rules[0].action,
        crate::ir::Action::Expand {
            value: crate::ir::LimitValue::Absolute(100.0 * 1_073_741_824.0),
            max: 100.0 * 1_073_741_824.0,
        }
    );
    for (action, code) in [
        ("expand to current * 2", "E0305"),
        ("expand to current * 0.8 max 10Gi", "E0203"),
        ("expand to current * 1 max 10Gi", "E0203"),
        ("expand to 50Gi max 10Gi", "E0305"),
        ("expand to 0Gi", "E0203"),
        ("expand to 5m", "E0201"),
    ] {
        let found = codes(&source(action));
        assert_eq!(found, [code], "{action}");
    }
    let no_cooldown = source("expand to 100Gi").replace("  cooldown 6h\n", "");
    assert!(codes(&no_cooldown).contains(&"W0104"));
}

#[test]
fn a_declared_metrics_placeholders_must_fit_the_selected_kind() {
    let node_load =
        "metric node_load: ratio = promql \"avg by (node) (node_load1{node=~\\\"$node\\\"})\"\n";
    let errors = "metric errors: ratio = promql \"sum by (pod) (rate(errs{namespace=\\\"$namespace\\\", pod=~\\\"$pod\\\"}[5m]))\"\n";
    let on = |decl: &str, kind: &str| {
        let select = if kind == "nodes" {
            "select nodes".to_string()
        } else {
            format!("select {kind} in shop")
        };
        format!("{decl}policy a {{\n  {select}\n  cooldown 1h\n  when x > 2 for 5m then notify \"x\"\n}}\n")
            .replace("when x", if decl.contains("node_load") { "when node_load" } else { "when errors" })
    };
    for (decl, kind, fits) in [
        (node_load, "nodes", true),
        (node_load, "pods", false),
        (node_load, "deployments", false),
        (errors, "pods", true),
        (errors, "statefulsets", true),
        (errors, "nodes", false),
        (errors, "jobs", false),
    ] {
        let found = codes(&on(decl, kind));
        assert_eq!(found.contains(&"E0504"), !fits, "{kind}: {found:?}");
        if fits {
            assert!(
                found.iter().all(|c| !c.starts_with('E')),
                "{kind}: {found:?}"
            );
        }
    }
}

#[test]
fn a_declared_counter_takes_increase_and_rate() {
    let counter = "metric periods: counter count = promql \"sum by (pod) (container_cpu_cfs_periods_total{namespace=\\\"$namespace\\\"})\"\n";
    let gauge = counter.replace("counter count", "count");
    let rule = |decl: &str, condition: &str| {
        format!("{decl}policy a {{\n  select pods in shop\n  cooldown 1h\n  when {condition} for 5m then notify \"x\"\n}}\n")
    };
    let compiled = program(&rule(counter, "increase(periods, 5m) > 100"));
    let declared = compiled.metrics.iter().find(|m| m.name == "periods");
    assert_eq!(
        declared.map(|m| m.series),
        Some(crate::catalog::Series::Counter)
    );
    assert_eq!(
        codes(&rule(counter, "rate(periods, 5m) > 5/s")),
        Vec::<&str>::new()
    );
    assert!(codes(&rule(&gauge, "increase(periods, 5m) > 100")).contains(&"E0205"));
    let percent = counter.replace("counter count", "counter percent");
    assert_eq!(codes(&rule(&percent, "periods > 5")), ["E0109"]);
}

#[test]
fn a_quota_used_past_its_limit_is_a_ratio_above_one_but_one_still_filling_is_not() {
    // Use passes the hard limit when the quota is lowered below it: `> 1`
    // is meant, not a percent written as a fraction.
    let exceeded = codes(&policy(
        "resourcequotas",
        "quota_used_ratio > 1",
        "notify \"x\"",
    ));
    assert!(exceeded.is_empty(), "{exceeded:?}");
    // The resources at or past their limit are left out of the filling ratio.
    let filling = codes(&policy(
        "resourcequotas",
        "quota_filling_ratio > 0.9 and quota_used_ratio < 1.5",
        "notify \"x\"",
    ));
    assert!(filling.is_empty(), "{filling:?}");
    let past = codes(&policy(
        "resourcequotas",
        "quota_filling_ratio > 2",
        "notify \"x\"",
    ));
    assert!(past.contains(&"W0114"), "{past:?}");
}

#[test]
fn event_conditions_apply_to_every_kind_with_kubernetes_events() {
    // The controllers of these kinds write Events about them (a Job's
    // BackoffLimitExceeded, a claim's ProvisioningFailed, an autoscaler's
    // FailedGetResourceMetric): `event` conditions select them as on pods.
    let mut sources: Vec<String> = WATCHED
        .iter()
        .map(|(kind, _)| {
            format!("policy a {{\n  select {kind} in shop\n  cooldown 1h\n  when event FailedCreate count > 3 within 10m then notify \"x\"\n}}\n")
        })
        .collect();
    sources.push("policy a {\n  select persistentvolumes\n  cooldown 1h\n  when event FailedCreate count > 3 within 10m then notify \"x\"\n}\n".into());
    for source in sources {
        let program = program(&source);
        assert!(
            matches!(
                program.policies[0].rules[0].condition,
                crate::ir::Condition::Event { .. }
            ),
            "{source}"
        );
    }
}
