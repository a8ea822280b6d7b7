//! The conversion of small policies, field by field; the seed's real shapes
//! are the fixtures of `tests/import.rs`.

use super::*;

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
