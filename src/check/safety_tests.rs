//! The safety rules as the checker applies them: where an action lands and what
//! the safety configuration says there, `ask ai`'s choices, scaling bounds and
//! the lints that depend on the mode.

use super::{compile, Compiled};
use crate::catalog::{Effect, Kind};
use crate::ir::{Action, Mode, SafetyClass};
use crate::safety::{ForbiddenAction, SafetyConfig};

fn with(config: &SafetyConfig, source: &str) -> Compiled {
    compile(source, config)
}

fn codes(compiled: &Compiled) -> Vec<&'static str> {
    compiled
        .diagnostics
        .iter()
        .map(|d| d.code.as_str())
        .collect()
}

fn forbidding(pairs: &[(&str, Kind)]) -> SafetyConfig {
    SafetyConfig {
        forbidden_actions: pairs
            .iter()
            .map(|(action, kind)| ForbiddenAction {
                action: action.to_string(),
                kind: *kind,
            })
            .collect(),
        ..SafetyConfig::default()
    }
}

/// A pod policy with one rule `when restarts > 3 then ACTION`.
fn pod_policy(select_where: &str, action: &str) -> String {
    format!("policy p {{\n  select pods in shop{select_where}\n  mode approve\n  cooldown 10m\n  when restarts > 3 then {action}\n}}\n")
}

#[test]
fn an_action_on_the_pods_node_is_checked_against_nodes() {
    let config = forbidding(&[("cordon", Kind::Nodes)]);
    let compiled = with(&config, &pod_policy("", "cordon"));
    assert_eq!(codes(&compiled), ["E0402"]);
    assert!(
        compiled.diagnostics[0].message.contains("node"),
        "{}",
        compiled.diagnostics[0].message
    );
    // The same action in a node policy: the pair itself.
    let nodes = "policy n {\n  select nodes\n  mode approve\n  cooldown 1h\n  when status is DiskPressure for 5m then cordon\n}\n";
    assert_eq!(codes(&with(&config, nodes)), ["E0402"]);
}

#[test]
fn an_action_on_the_pods_owner_is_checked_against_the_kinds_it_can_land_on() {
    let scale = pod_policy("", "scale up 1 max 5");
    // `scale up` lands on deployments and statefulsets only.
    let both = forbidding(&[
        ("scale up", Kind::Deployments),
        ("scale up", Kind::StatefulSets),
    ]);
    assert_eq!(codes(&with(&both, &scale)), ["E0402"]);
    let one = forbidding(&[("scale up", Kind::StatefulSets)]);
    assert_eq!(codes(&with(&one, &scale)), ["W0113"]);
    let elsewhere = forbidding(&[("scale up", Kind::DaemonSets)]);
    assert_eq!(codes(&with(&elsewhere, &scale)), Vec::<&str>::new());
    // `rollback` lands on deployments only: forbidden there, it never runs.
    let rollback = forbidding(&[("rollback", Kind::Deployments)]);
    assert_eq!(
        codes(&with(&rollback, &pod_policy("", "rollback"))),
        ["E0402"]
    );
    // A pair on the selected kind keeps the action out of pod policies.
    let pods = forbidding(&[("restart rolling", Kind::Pods)]);
    assert_eq!(
        codes(&with(&pods, &pod_policy("", "restart rolling"))),
        ["E0402"]
    );
}

#[test]
fn deleting_pods_a_statefulset_may_own_is_a_warning_by_default() {
    let config = SafetyConfig::default();
    let compiled = with(&config, &pod_policy("", "delete"));
    assert_eq!(codes(&compiled), ["W0113"]);
    let d = &compiled.diagnostics[0];
    assert!(
        d.message.contains("pods owned by a statefulset"),
        "{}",
        d.message
    );
    assert!(
        d.help
            .as_deref()
            .is_some_and(|h| h.contains("not statefulset.kubernetes.io/pod-name exists")),
        "{:?}",
        d.help
    );
    // The rule stays in the program: the safety controller decides per pod.
    assert_eq!(compiled.program.policies.len(), 1);
    assert_eq!(compiled.program.policies[0].rules[0].safety.strictness(), 1);

    // Leaving StatefulSet pods out silences it; selecting only them is an error.
    let none = pod_policy(
        " where not statefulset.kubernetes.io/pod-name exists",
        "delete",
    );
    assert_eq!(codes(&with(&config, &none)), Vec::<&str>::new());
    let only = pod_policy(" where statefulset.kubernetes.io/pod-name exists", "delete");
    assert_eq!(codes(&with(&config, &only)), ["E0402"]);
    // `restart` is another action: the `delete` entry does not cover it…
    assert!(with(&config, &pod_policy("", "restart"))
        .diagnostics
        .is_empty());
    // …but an entry of its own does.
    let restart = forbidding(&[("restart", Kind::StatefulSets)]);
    assert_eq!(
        codes(&with(&restart, &pod_policy("", "restart"))),
        ["W0113"]
    );
    // Selecting the statefulsets themselves names the forbidden pair.
    let sts = "policy s {\n  select statefulsets in db\n  cooldown 10m\n  when status is CrashLoopBackOff for 5m then delete\n}\n";
    let compiled = with(&config, sts);
    assert_eq!(codes(&compiled), ["E0402"]);
    assert!(compiled.diagnostics[0].message.contains("never allowed"));
}

#[test]
fn an_owner_the_selector_rules_out_is_not_a_landing_kind() {
    let config = SafetyConfig::default();
    let only_sts = " where statefulset.kubernetes.io/pod-name exists";
    // `rollback` lands on deployments only, and these pods belong to statefulsets.
    let compiled = with(&config, &pod_policy(only_sts, "rollback"));
    assert_eq!(codes(&compiled), ["E0304"]);
    // `scale down` on StatefulSet pods, forbidden on statefulsets: certain.
    let scale_down = forbidding(&[("scale down", Kind::StatefulSets)]);
    assert_eq!(
        codes(&with(
            &scale_down,
            &pod_policy(only_sts, "scale down 1 min 1")
        )),
        ["E0402"]
    );
    let others = " where not statefulset.kubernetes.io/pod-name exists";
    assert_eq!(
        codes(&with(
            &scale_down,
            &pod_policy(others, "scale down 1 min 1")
        )),
        Vec::<&str>::new()
    );
}

#[test]
fn the_ir_says_what_each_action_acts_on() {
    let source = "policy p {\n  select pods in shop\n  mode approve\n  cooldown 10m\n  when restarts > 1 then restart\n  when restarts > 2 then restart rolling\n  when restarts > 3 then drain\n  when restarts > 4 then notify \"x\"\n}\n";
    let compiled = with(&SafetyConfig::default(), source);
    assert!(!compiled.has_errors(), "{:?}", compiled.diagnostics);
    let effects: Vec<Effect> = compiled.program.policies[0]
        .rules
        .iter()
        .map(|r| r.effect)
        .collect();
    assert_eq!(
        effects,
        [Effect::Itself, Effect::Owner, Effect::Node, Effect::Nothing]
    );
}

fn ai_policy(mode: &str, rules: &str) -> String {
    format!("policy p {{\n  select pods in shop\n  mode {mode}\n  limit 5 per 1h\n  cooldown 10m\n{rules}}}\n")
}

#[test]
fn ask_ai_is_as_strict_as_its_strictest_choice() {
    let config = SafetyConfig::default();
    let source = ai_policy(
        "auto",
        "  when restarts > 3 then ask ai among [restart rolling, drain, scale up 8]\n",
    );
    let compiled = with(&config, &source);
    assert_eq!(codes(&compiled), ["W0108"], "{:?}", compiled.diagnostics);
    let message = &compiled.diagnostics[0].message;
    assert!(
        message.contains("`drain`") && message.contains("`scale up 8`"),
        "{message}"
    );
    assert!(!message.contains("restart rolling"), "{message}");
    let rule = &compiled.program.policies[0].rules[0];
    assert!(
        matches!(&rule.safety, SafetyClass::NeedsApproval(why) if why.contains("drain")),
        "{:?}",
        rule.safety
    );
    let Action::AskAi(choices) = &rule.action else {
        panic!("an ask ai rule: {:?}", rule.action);
    };
    let facts: Vec<(Effect, u8)> = choices
        .iter()
        .map(|c| (c.effect, c.safety.strictness()))
        .collect();
    assert_eq!(
        facts,
        [(Effect::Owner, 0), (Effect::Node, 1), (Effect::Owner, 1)]
    );
    // Only auto choices: an auto rule, no warning.
    let calm = ai_policy(
        "auto",
        "  when restarts > 3 then ask ai among [restart rolling, scale up 1 max 4]\n",
    );
    let compiled = with(&config, &calm);
    assert!(
        compiled.diagnostics.is_empty(),
        "{:?}",
        compiled.diagnostics
    );
    assert_eq!(
        compiled.program.policies[0].rules[0].safety,
        SafetyClass::Auto
    );
}

#[test]
fn ask_ai_without_among_is_classified_and_fingerprinted_after_its_choices() {
    let config = SafetyConfig::default();
    let implicit = ai_policy(
        "auto",
        "  when restarts > 3 then drain\n  when restarts > 9 then ask ai\n",
    );
    let compiled = with(&config, &implicit);
    let rule = &compiled.program.policies[0].rules[1];
    assert!(
        matches!(rule.safety, SafetyClass::NeedsApproval(_)),
        "{:?}",
        rule.safety
    );
    assert_eq!(rule.action.choices().len(), 1);
    assert_eq!(rule.action.choices()[0].effect, Effect::Node);
    // W0108 for the drain rule and for the AI that may choose it.
    assert_eq!(codes(&compiled), ["W0108", "W0108"]);

    // Written out, the same choices make the same rule.
    let explicit = ai_policy(
        "auto",
        "  when restarts > 3 then drain\n  when restarts > 9 then ask ai among [drain]\n",
    );
    let explicit = with(&config, &explicit);
    assert_eq!(
        explicit.program.policies[0].rules[1],
        compiled.program.policies[0].rules[1]
    );
    // Other choices, another fingerprint.
    let other = ai_policy(
        "auto",
        "  when restarts > 3 then restart rolling\n  when restarts > 9 then ask ai\n",
    );
    let other = with(&config, &other);
    assert_ne!(
        other.program.policies[0].rules[1].fingerprint,
        compiled.program.policies[0].rules[1].fingerprint
    );
}

#[test]
fn scaling_bounds() {
    let config = SafetyConfig::default();
    let class = |action: &str| {
        let compiled = with(
            &config,
            &pod_policy("", action).replace("approve", "dryrun"),
        );
        assert!(
            !compiled.has_errors(),
            "{action}: {:?}",
            compiled.diagnostics
        );
        compiled.program.policies[0].rules[0].safety.clone()
    };
    assert_eq!(class("scale to 5"), SafetyClass::Auto);
    assert!(
        matches!(class("scale to 6"), SafetyClass::NeedsApproval(why) if why.contains("more than 5")),
        "scale to 6"
    );
    assert!(matches!(class("scale to 0"), SafetyClass::NeedsApproval(_)));

    let floorless = with(&config, &pod_policy("", "scale down 2"));
    assert_eq!(codes(&floorless), ["W0115"]);
    let suggestion = floorless.diagnostics[0].suggestion.as_ref().expect("a fix");
    assert_eq!(suggestion.replacement, "scale down 2 min 1");
    assert!(with(&config, &pod_policy("", "scale down 2 min 0"))
        .diagnostics
        .is_empty());

    assert_eq!(
        codes(&with(&config, &pod_policy("", "scale up 3 max 2"))),
        ["E0305"]
    );
    assert!(with(&config, &pod_policy("", "scale up 3 max 3"))
        .diagnostics
        .is_empty());
}

#[test]
fn a_monitor_policy_gets_no_lint_about_acting() {
    let config = SafetyConfig::default();
    // No limit, no cooldown, `drain` (which needs approval) and `delete`.
    let source = |mode: &str| {
        format!("policy n {{\n  select nodes\n  mode {mode}\n  when status is DiskPressure for 5m then drain\n}}\n")
    };
    let auto = with(&config, &source("auto"));
    assert_eq!(codes(&auto), ["W0107", "W0104", "W0108"]);
    let monitor = with(&config, &source("monitor"));
    assert!(monitor.diagnostics.is_empty(), "{:?}", monitor.diagnostics);
    assert_eq!(monitor.program.policies[0].mode, Mode::Monitor);
}

#[test]
fn for_shorter_than_the_interval_only_matters_for_metric_conditions() {
    let config = SafetyConfig::default();
    let rule = |condition: &str| {
        let source = format!(
            "policy p {{\n  select pods in shop\n  cooldown 10m\n  when {condition} for 5s then restart\n}}\n"
        );
        codes(&with(&config, &source))
    };
    assert_eq!(rule("memory_percent > 90"), ["W0103"]);
    assert_eq!(
        rule("status is CrashLoopBackOff and restarts > 3"),
        ["W0103"]
    );
    assert!(rule("status is CrashLoopBackOff").is_empty());
    assert!(rule("event BackOff count > 3 within 5m").is_empty());
    assert!(rule("not (status is Pending or status is Evicted)").is_empty());
}
