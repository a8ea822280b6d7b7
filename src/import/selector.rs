//! The seed's `spec.selector` as a Skippy `select`: the kinds of
//! `resources`, the namespaces, and the label selector, which is converted
//! whole or not at all (a match left out would select more than the seed).

use super::codes;
use super::triggers::unknown_fields;
use super::values;
use super::yaml::Node;
use super::Notes;
use crate::catalog::Kind;
use crate::span::Span;

pub fn select(kind: Kind, namespaces: &[String], matches: &[String]) -> String {
    let mut text = format!("select {}", kind.keyword());
    if kind.is_namespaced() {
        text.push_str(&format!(" in {}", namespaces.join(", ")));
    }
    if !matches.is_empty() {
        text.push_str(&format!(" where {}", matches.join(", ")));
    }
    text
}

const KINDS: &[(&str, Kind)] = &[
    ("Pod", Kind::Pods),
    ("Deployment", Kind::Deployments),
    ("StatefulSet", Kind::StatefulSets),
    ("DaemonSet", Kind::DaemonSets),
    ("Node", Kind::Nodes),
    ("Job", Kind::Jobs),
    ("HorizontalPodAutoscaler", Kind::HorizontalPodAutoscalers),
    ("PersistentVolumeClaim", Kind::PersistentVolumeClaims),
    ("PodDisruptionBudget", Kind::PodDisruptionBudgets),
    ("ResourceQuota", Kind::ResourceQuotas),
    ("PersistentVolume", Kind::PersistentVolumes),
];

pub fn kinds(selector: &Node, notes: &mut Notes) -> Option<Vec<(Kind, Span)>> {
    unknown_fields(
        selector,
        &["namespaces", "labelSelector", "resources"],
        "selector",
        notes,
    );
    let Some(resources) = selector.get("resources") else {
        notes.warn(
            codes::CHANGED_MEANING,
            selector,
            "no `resources`: the policy selects pods",
        );
        return Some(vec![(Kind::Pods, selector.span)]);
    };
    let mut kinds: Vec<(Kind, Span)> = Vec::new();
    for resource in resources.items() {
        unknown_fields(
            resource,
            &["apiVersion", "kind", "excludeNames"],
            "resources",
            notes,
        );
        if resource.get("excludeNames").is_some() {
            let help = "label the objects to leave alone `kubeskippy.io/protected=true`, which no action touches";
            notes.warn_field(
                codes::DROPPED_FIELD,
                resource,
                "excludeNames",
                "`excludeNames` is not converted: Skippy selects by label, not by name",
                Some(help.to_string()),
            );
        }
        let word = resource.get("kind").and_then(Node::as_str).unwrap_or("");
        match KINDS.iter().find(|(k, _)| *k == word) {
            Some((_, kind)) if !kinds.iter().any(|(k, _)| k == kind) => {
                kinds.push((*kind, resource.span))
            }
            Some(_) => {}
            None => notes.warn(
                codes::BAD_VALUE,
                resource.get("kind").unwrap_or(resource),
                format!("`{word}` is not a kind Skippy watches: left out"),
            ),
        }
    }
    (!kinds.is_empty()).then_some(kinds)
}

/// The label matches, or `None` when one cannot be said in Skippy.
pub fn label_matches(selector: &Node, notes: &mut Notes) -> Option<Vec<String>> {
    let Some(labels) = selector.get("labelSelector") else {
        return Some(Vec::new());
    };
    unknown_fields(
        labels,
        &["matchLabels", "matchExpressions"],
        "labelSelector",
        notes,
    );
    let mut out = Vec::new();
    for (key, value) in labels.get("matchLabels").map(Node::entries).unwrap_or(&[]) {
        out.push(format!(
            "{} = {}",
            key.as_str()?,
            values::string(value.as_str()?)
        ));
    }
    for expression in labels
        .get("matchExpressions")
        .map(Node::items)
        .unwrap_or(&[])
    {
        let key = expression.get("key").and_then(Node::as_str)?;
        let vals: Vec<String> = expression
            .get("values")
            .map(Node::items)
            .unwrap_or(&[])
            .iter()
            .filter_map(|v| v.as_str().map(values::string))
            .collect();
        let op = expression
            .get("operator")
            .and_then(Node::as_str)
            .unwrap_or("");
        match op {
            "In" if !vals.is_empty() => out.push(format!("{key} in ({})", vals.join(", "))),
            // Absent, or different from each value: Kubernetes' NotIn.
            "NotIn" if !vals.is_empty() => out.extend(vals.iter().map(|v| format!("{key} != {v}"))),
            "Exists" => out.push(format!("{key} exists")),
            "DoesNotExist" => out.push(format!("not {key} exists")),
            _ => {
                notes.error(codes::BAD_VALUE, expression, format!("the label expression `{key} {op}` has no Skippy match"), Some("Kubernetes' operators are `In`, `NotIn`, `Exists` and `DoesNotExist`, `In` and `NotIn` with values".to_string()));
                return None;
            }
        }
    }
    Some(out)
}

pub fn namespaces(
    selector: &Node,
    own: &str,
    protected: &[String],
    notes: &mut Notes,
) -> Option<Vec<String>> {
    let listed = selector.get("namespaces").map(Node::items).unwrap_or(&[]);
    if listed.is_empty() {
        return Some(vec![own.to_string()]);
    }
    let mut out = Vec::new();
    for ns in listed {
        let Some(name) = ns.as_str() else { continue };
        if protected.iter().any(|p| p == name) {
            notes.warn(
                codes::BAD_VALUE,
                ns,
                format!("`{name}` is a protected namespace, where no Skippy policy acts: left out"),
            );
        } else if !out.iter().any(|n| n == name) {
            out.push(name.to_string());
        }
    }
    (!out.is_empty()).then_some(out)
}
