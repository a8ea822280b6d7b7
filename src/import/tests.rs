//! The conversion of small policies, field by field; the seed's real shapes
//! are the fixtures of `tests/import.rs`.

use super::*;
use crate::diagnostic::Severity;

/// With the default safety configuration, as `check` without `--safety`.
fn import(source: &str) -> Imported {
    super::import(source, &crate::safety::SafetyConfig::default())
}

fn policy(spec: &str) -> String {
    format!("apiVersion: kubeskippy.io/v1alpha1\nkind: HealingPolicy\nmetadata:\n  name: p\n  namespace: shop\nspec:\n{spec}")
}

#[test]
fn a_memory_trigger_becomes_a_rule() {
    let imported = import(&policy(
        "  mode: automatic\n  selector:\n    resources:\n    - {apiVersion: v1, kind: Pod}\n  triggers:\n  - name: mem\n    type: metric\n    metricTrigger: {query: memory_usage_percent, threshold: 85, operator: \">\", duration: 3m}\n    cooldownPeriod: 10m\n  actions:\n  - name: r\n    type: restart\n    restartAction: {strategy: rolling, maxConcurrent: 1}\n",
    ));
    assert!(imported.notes.is_empty(), "{:#?}", imported.notes);
    assert!(
        imported
            .skippy
            .contains("when memory_percent > 85 for 3m then restart rolling"),
        "{}",
        imported.skippy
    );
    assert!(imported.skippy.contains("mode auto"));
    assert!(imported.skippy.contains("cooldown 10m"));
}

#[test]
fn not_yaml_is_one_located_error() {
    let imported = import("a: [1\nb: c: d\n");
    assert_eq!(imported.notes.len(), 1);
    assert_eq!(imported.notes[0].code, codes::NOT_YAML);
    assert!(imported.skippy.is_empty());
}

#[test]
fn no_policy_is_an_error() {
    let imported = import("apiVersion: v1\nkind: ConfigMap\n");
    assert!(imported.notes.iter().any(|n| n.code == codes::NO_POLICY));
}

/// A policy on pods in `shop` with one trigger and the given actions.
fn with(trigger: &str, actions: &str, rest: &str) -> Imported {
    import(&policy(&format!(
        "  selector:\n    resources: [{{apiVersion: v1, kind: Pod}}]\n  triggers:\n{trigger}  actions:\n{actions}{rest}"
    )))
}

const MEMORY: &str = "  - name: mem\n    type: metric\n    metricTrigger: {query: memory_percent, threshold: 90, operator: \">\"}\n";
const RESTART: &str = "  - name: r\n    type: restart\n";

fn codes_of(imported: &Imported) -> Vec<&'static str> {
    imported.notes.iter().map(|n| n.code).collect()
}

#[test]
fn defaults_are_the_seeds() {
    let imported = with(MEMORY, RESTART, "");
    // The seed's CRD: monitor, 10 actions an hour, a 5m cooldown, `for 2m`.
    for line in [
        "mode monitor",
        "limit 10 per 1h",
        "cooldown 5m",
        "when memory_percent > 90 for 2m then restart rolling",
    ] {
        assert!(
            imported.skippy.contains(line),
            "{line}:\n{}",
            imported.skippy
        );
    }
}

#[test]
fn the_highest_priority_action_is_the_rule_and_the_others_are_reported() {
    let actions =
        "  - {name: a, type: restart, priority: 10}\n  - {name: b, type: delete, priority: 60}\n";
    let imported = with(MEMORY, actions, "");
    assert!(
        imported.skippy.contains("then delete"),
        "{}",
        imported.skippy
    );
    assert!(!imported.skippy.contains("restart"));
    assert!(imported
        .notes
        .iter()
        .any(|n| n.code == codes::SKIPPED_ACTION && n.message.contains("`a`")));
}

#[test]
fn requires_approval_makes_an_automatic_policy_approve() {
    let actions = "  - {name: r, type: restart, requiresApproval: true}\n";
    let imported = with(MEMORY, actions, "  mode: automatic\n");
    assert!(
        imported.skippy.contains("mode approve"),
        "{}",
        imported.skippy
    );
    assert!(codes_of(&imported).contains(&codes::CHANGED_MEANING));
}

#[test]
fn scale_directions_and_conditions() {
    let scale = |direction: &str| {
        let actions = format!("  - name: s\n    type: scale\n    scaleAction: {{direction: {direction}, replicas: 2, minReplicas: 1, maxReplicas: 4}}\n");
        with(MEMORY, &actions, "").skippy
    };
    assert!(scale("up").contains("scale up 2 max 4"));
    assert!(scale("down").contains("scale down 2 min 1"));
    assert!(scale("absolute").contains("scale to 2"));
    let condition = "  - name: c\n    type: condition\n    conditionTrigger: {type: CrashLoopBackOff, status: \"False\", duration: 0s}\n";
    let imported = with(condition, RESTART, "");
    assert!(
        imported
            .skippy
            .contains("when not status is CrashLoopBackOff then restart rolling"),
        "{}",
        imported.skippy
    );
    let event = "  - name: e\n    type: event\n    eventTrigger: {reason: Unhealthy}\n";
    assert!(with(event, RESTART, "")
        .skippy
        .contains("when event Unhealthy count >= 1 within 5m then"));
}

#[test]
fn a_label_selector_is_converted_whole_or_the_policy_is_not() {
    let selector = |expressions: &str| {
        import(&policy(&format!(
            "  selector:\n    resources: [{{kind: Pod}}]\n    labelSelector:\n      matchExpressions: {expressions}\n  triggers:\n{MEMORY}  actions:\n{RESTART}"
        )))
    };
    let not_in = selector("[{key: team, operator: NotIn, values: [a, b]}]");
    assert!(
        not_in.skippy.contains("where team != \"a\", team != \"b\""),
        "{}",
        not_in.skippy
    );
    let odd = selector("[{key: team, operator: Gt, values: [\"1\"]}]");
    assert!(odd.skippy.is_empty(), "{}", odd.skippy);
    assert!(odd.notes.iter().any(|n| n.severity == Severity::Error));
}

#[test]
fn a_policy_only_in_protected_namespaces_is_not_converted() {
    let imported = import(&policy(&format!(
        "  selector:\n    namespaces: [kube-system]\n    resources: [{{kind: Pod}}]\n  triggers:\n{MEMORY}  actions:\n{RESTART}"
    )));
    assert!(imported.skippy.is_empty());
    assert!(imported
        .notes
        .iter()
        .any(|n| n.message.contains("protected")));
}

#[test]
fn a_json_patch_is_converted_and_an_unknown_trigger_left_out_with_an_error() {
    let actions = "  - name: p\n    type: patch\n    patchAction:\n      type: json\n      patch: '[{\"op\": \"add\", \"path\": \"/spec/template/metadata/labels/tier\", \"value\": gold}]'\n";
    let imported = with(MEMORY, actions, "");
    assert!(
        imported.skippy.contains(
            r#"patch p: json "[{\"op\":\"add\",\"path\":\"/spec/template/metadata/labels/tier\",\"value\":\"gold\"}]""#
        ),
        "{}",
        imported.skippy
    );
    let compiled = crate::check::compile(&imported.skippy, &crate::safety::SafetyConfig::default());
    assert!(!compiled.has_errors(), "{:?}", compiled.diagnostics);
    let object = "  - name: p\n    type: patch\n    patchAction: {type: json, patch: '{a: 1}'}\n";
    let imported = with(MEMORY, object, "");
    assert!(imported.skippy.is_empty());
    assert!(codes_of(&imported).contains(&codes::SKIPPED_ACTION));
    let webhook = "  - {name: w, type: webhook}\n";
    let imported = with(&format!("{webhook}{MEMORY}"), RESTART, "");
    assert!(codes_of(&imported).contains(&codes::SKIPPED_TRIGGER));
    assert!(imported.skippy.contains("memory_percent > 90"));
}
