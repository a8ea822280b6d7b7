//! One structured HealingPolicy as Skippy policies (one per selected kind):
//! the selector, the mode and the safety rules here; the triggers and the
//! actions in their own modules.

use super::actions::{self, Action};
use super::codes;
use super::draft::{Draft, Names, Rule, Space};
use super::selector::{kinds, label_matches, namespaces, select};
use super::triggers::{self, unknown_fields};
use super::values;
use super::yaml::Node;
use super::Notes;
use crate::diagnostic::Severity;
use crate::span::Span;

const API_VERSION: &str = "kubeskippy.io/v1alpha1";
/// The seed's defaults (its CRD's), where a field is left out.
const DEFAULT_ACTIONS_PER_HOUR: i64 = 10;
const DEFAULT_COOLDOWN: u64 = 300;

/// Whether `document` is a HealingPolicy in the structured form; any other
/// document is reported as skipped.
pub fn is_structured(document: &Node, notes: &mut Notes) -> bool {
    let kind = document.get("kind").and_then(Node::as_str).unwrap_or("");
    let api = document
        .get("apiVersion")
        .and_then(Node::as_str)
        .unwrap_or("");
    let spec = document.get("spec");
    if kind == "HealingPolicy"
        && spec.is_some_and(|s| s.get("triggers").is_some() || s.get("actions").is_some())
    {
        if api != API_VERSION {
            let at = document.get("apiVersion").unwrap_or(document);
            notes.warn(codes::BAD_VALUE, at, format!("`{api}` is not `{API_VERSION}`: read as the structured form, which its fields follow"));
        }
        return true;
    }
    let (message, help) = if spec.and_then(|s| s.get("policy")).is_some() {
        (
            format!("skipped: this {kind} is in Skippy already (`spec.policy`)"),
            Some("check it with `kubeskippy check`".to_string()),
        )
    } else if kind.is_empty() {
        ("skipped: a document without `kind`".to_string(), None)
    } else {
        (format!("skipped: a `{kind}` is not a HealingPolicy"), None)
    };
    notes.push(
        codes::SKIPPED_DOCUMENT,
        Severity::Warning,
        document.head(notes.source),
        message,
        help,
    );
    false
}

/// The policies one HealingPolicy becomes: one per kind of its selector.
pub fn convert(
    document: &Node,
    notes: &mut Notes,
    names: &mut Names,
    config: &crate::safety::SafetyConfig,
) -> Vec<Draft> {
    let metadata = document.get("metadata");
    let raw_name = metadata
        .and_then(|m| m.get("name"))
        .and_then(Node::as_str)
        .unwrap_or("imported");
    let base = values::name(raw_name, '-', "policy");
    let namespace = metadata
        .and_then(|m| m.get("namespace"))
        .and_then(Node::as_str)
        .unwrap_or("default");
    let Some(spec) = document.get("spec") else {
        return Vec::new();
    };
    unknown_fields(
        spec,
        &["selector", "triggers", "actions", "safetyRules", "mode"],
        "spec",
        notes,
    );
    let origin = document.head(notes.source);
    for list in ["triggers", "actions"] {
        if spec
            .get(list)
            .is_some_and(|n| !matches!(n.value, super::yaml::Value::Seq(_)))
        {
            notes.warn_field(
                codes::BAD_VALUE,
                spec,
                list,
                format!("`{list}` is not a list, and is read as none"),
                None,
            );
        }
    }
    let empty = Node {
        value: super::yaml::Value::Map(Vec::new()),
        span: Span::new(origin.start, origin.start),
    };
    let selector = spec.get("selector").unwrap_or(&empty);
    let Some(kinds) = kinds(selector, notes) else {
        notes.push(
            codes::SKIPPED_DOCUMENT,
            Severity::Error,
            origin,
            format!("policy `{raw_name}` not converted: it selects no kind Skippy can watch"),
            None,
        );
        return Vec::new();
    };
    let Some(matches) = label_matches(selector, notes) else {
        notes.push(codes::SKIPPED_DOCUMENT, Severity::Error, origin, format!("policy `{raw_name}` not converted: a label selector that Skippy cannot say would select more than the seed did"), None);
        return Vec::new();
    };
    let Some(namespaces) = namespaces(selector, namespace, &config.protected_namespaces, notes)
    else {
        notes.push(
            codes::SKIPPED_DOCUMENT,
            Severity::Error,
            origin,
            format!("policy `{raw_name}` not converted: every namespace it names is protected"),
            None,
        );
        return Vec::new();
    };
    let safety = spec.get("safetyRules").unwrap_or(&empty);
    let (mut mode, mode_span) = mode(spec, notes);
    let limit = limit(safety, notes);
    if safety.get("requireApproval").and_then(Node::as_bool) == Some(true) && mode == "auto" {
        mode = "approve";
    }
    let (cooldown, cooldown_span) = cooldown(spec.get("triggers").unwrap_or(&empty), notes);
    let mut drafts = Vec::new();
    let several = kinds.len() > 1;
    for (kind, _) in &kinds {
        let wanted = if several {
            format!("{base}-{}", kind.keyword())
        } else {
            base.clone()
        };
        let name = names.claim(Space::Policy, &wanted);
        let mut acts: Vec<Action> = spec
            .get("actions")
            .map(|a| {
                a.items()
                    .iter()
                    .filter_map(|a| actions::convert(a, *kind, notes, names))
                    .collect()
            })
            .unwrap_or_default();
        // Higher runs first in the seed; the first listed wins a tie.
        acts.sort_by_key(|a| std::cmp::Reverse(a.priority));
        let Some(chosen) = acts.first().cloned() else {
            notes.push(
                codes::SKIPPED_DOCUMENT,
                Severity::Error,
                origin,
                format!(
                    "policy `{raw_name}` not converted on {}: no action it has applies there",
                    kind.keyword()
                ),
                None,
            );
            continue;
        };
        let mut rules = Vec::new();
        for (i, trigger) in spec
            .get("triggers")
            .map(Node::items)
            .unwrap_or(&[])
            .iter()
            .enumerate()
        {
            let trigger_name = trigger
                .get("name")
                .and_then(Node::as_str)
                .map_or_else(|| format!("trigger-{}", i + 1), str::to_string);
            let Some(condition) = triggers::convert(trigger, &trigger_name, notes, names) else {
                continue;
            };
            let mut declarations = condition.declarations;
            declarations.extend(chosen.declarations.iter().cloned());
            rules.push(Rule {
                trigger: trigger_name,
                condition: condition.text,
                hold: condition.hold,
                action: chosen.text.clone(),
                origin: trigger.head(notes.source),
                action_origin: chosen.origin,
                extent: trigger.span,
                declarations,
            });
        }
        let on = if several {
            format!(" on {}", kind.keyword())
        } else {
            String::new()
        };
        for other in &acts[1..] {
            notes.push(
                codes::SKIPPED_ACTION,
                Severity::Warning,
                other.origin,
                format!("action `{}` is not converted{on}: a Skippy rule takes one action, and each trigger's rule takes `{}` (action `{}`, priority {}), the seed's first", other.name, chosen.text, chosen.name, chosen.priority),
                Some(keep_help(other)),
            );
        }
        let mut policy_mode = mode;
        if let Some(at) = chosen.approval.filter(|_| policy_mode == "auto") {
            policy_mode = "approve";
            notes.push(codes::CHANGED_MEANING, Severity::Warning, at, format!("`requiresApproval` makes the whole policy `mode approve`: Skippy approves per policy, so every rule of `{name}` waits for a person"), None);
        }
        let mut header = vec![(
            select(*kind, &namespaces, &matches),
            selector.head(notes.source),
        )];
        header.push((format!("mode {policy_mode}"), mode_span.unwrap_or(origin)));
        header.push((
            format!("limit {} per 1h", limit.0),
            limit.1.unwrap_or(origin),
        ));
        header.push((
            format!("cooldown {}", values::duration(cooldown)),
            cooldown_span.unwrap_or(origin),
        ));
        if rules.is_empty() {
            notes.push(
                codes::SKIPPED_DOCUMENT,
                Severity::Error,
                origin,
                format!("policy `{raw_name}` not converted: none of its triggers could be"),
                None,
            );
            continue;
        }
        drafts.push(Draft {
            name,
            origin,
            header,
            rules,
        });
    }
    drafts
}

fn mode(spec: &Node, notes: &mut Notes) -> (&'static str, Option<Span>) {
    let Some(node) = spec.get("mode") else {
        // The seed's default: it evaluates nothing and acts on nothing.
        return ("monitor", None);
    };
    let span = Some(node.head(notes.source));
    let mode = match node.as_str().unwrap_or("") {
        "monitor" => "monitor",
        "dryrun" => "dryrun",
        "automatic" => "auto",
        "manual" => "approve",
        other => {
            notes.warn(
                codes::BAD_VALUE,
                node,
                format!("unknown mode `{other}`: read as `dryrun`, which changes nothing"),
            );
            "dryrun"
        }
    };
    (mode, span)
}

fn limit(safety: &Node, notes: &mut Notes) -> (i64, Option<Span>) {
    unknown_fields(
        safety,
        &[
            "maxActionsPerHour",
            "requireApproval",
            "protectedResources",
            "requireHealthCheck",
            "healthCheckTimeout",
        ],
        "safetyRules",
        notes,
    );
    if safety.get("protectedResources").is_some() {
        let help = "label the objects `kubeskippy.io/protected=true`, or list their namespaces in the safety configuration's `protectedNamespaces`";
        notes.warn_field(codes::DROPPED_FIELD, safety, "protectedResources", "`protectedResources` is not converted: Skippy protects objects by label and namespace, for every policy", Some(help.to_string()));
    }
    if safety.get("healthCheckTimeout").is_some() {
        notes.warn_field(codes::DROPPED_FIELD, safety, "healthCheckTimeout", "`healthCheckTimeout` is not converted: the safety configuration's `verification` sets when every action is verified", None);
    }
    if safety
        .get("requireHealthCheck")
        .is_some_and(|h| h.as_bool() == Some(false))
    {
        notes.warn_field(
            codes::DROPPED_FIELD,
            safety,
            "requireHealthCheck",
            "`requireHealthCheck: false` is not converted: Skippy verifies every action",
            None,
        );
    }
    let Some(node) = safety.get("maxActionsPerHour") else {
        return (DEFAULT_ACTIONS_PER_HOUR, None);
    };
    let span = Some(node.head(notes.source));
    match node.as_i64() {
        Some(n) if n >= 1 => (n, span),
        // Zero is the Go zero value: the seed's default applies.
        Some(0) => (DEFAULT_ACTIONS_PER_HOUR, span),
        _ => {
            notes.warn(codes::BAD_VALUE, node, format!("`maxActionsPerHour` is not a whole number of at least 1: the seed's default, {DEFAULT_ACTIONS_PER_HOUR}, is used"));
            (DEFAULT_ACTIONS_PER_HOUR, span)
        }
    }
}

/// The longest of the triggers' cooldowns: the seed timed each from the
/// policy's last action, Skippy has one per policy and target.
fn cooldown(triggers: &Node, notes: &mut Notes) -> (u64, Option<Span>) {
    let mut periods = Vec::new();
    for trigger in triggers.items() {
        let seconds =
            triggers::duration_field(trigger, "cooldownPeriod", notes).unwrap_or(DEFAULT_COOLDOWN);
        let at = trigger.get("cooldownPeriod").unwrap_or(trigger);
        periods.push((seconds, at.head(notes.source)));
    }
    let Some(&(longest, span)) = periods.iter().max_by_key(|(s, _)| *s) else {
        return (DEFAULT_COOLDOWN, None);
    };
    for (seconds, at) in &periods {
        if *seconds < longest {
            let message = format!(
                "this trigger's cooldown, {}, is not kept: Skippy has one cooldown per policy and target, the longest of the triggers', {}",
                values::duration(*seconds),
                values::duration(longest)
            );
            notes.push(
                codes::CHANGED_MEANING,
                Severity::Warning,
                *at,
                message,
                None,
            );
        }
    }
    (longest.max(1), Some(span))
}

/// How to keep an action no rule took: a rule of one's own, and the patch
/// it applies, which is not written when no rule uses it.
fn keep_help(action: &Action) -> String {
    let rule = format!("`when … then {}`", action.text);
    match action.declarations.first() {
        Some(declaration) => format!(
            "to keep it, declare `{}` and add a rule of your own: {rule}",
            declaration.text
        ),
        None => format!("to keep it, add a rule of your own: {rule}"),
    }
}
