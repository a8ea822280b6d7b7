//! The seed's `actions[]` as Skippy actions, for one selected kind: restart,
//! scale, patch and delete, each with its per-type settings.

use super::codes;
use super::draft::{Declaration, Names, Space};
use super::triggers::unknown_fields;
use super::values;
use super::yaml::Node;
use super::Notes;
use crate::catalog::Kind;
use crate::ir::PatchType;
use crate::span::Span;

/// The seed's priority without one (its CRD's default); higher runs first.
const DEFAULT_PRIORITY: i64 = 50;

#[derive(Debug, Clone)]
pub struct Action {
    pub name: String,
    pub text: String,
    pub priority: i64,
    /// `requiresApproval: true`, where it is written.
    pub approval: Option<Span>,
    pub declarations: Vec<Declaration>,
    pub origin: Span,
}

/// The action on `kind`, or `None` (reported) when it has none there.
pub fn convert(action: &Node, kind: Kind, notes: &mut Notes, names: &mut Names) -> Option<Action> {
    let name = action
        .get("name")
        .and_then(Node::as_str)
        .unwrap_or("unnamed")
        .to_string();
    let type_node = action.get("type").unwrap_or(action);
    let kind_word = type_node.as_str().unwrap_or("");
    let field = match kind_word {
        "restart" => "restartAction",
        "scale" => "scaleAction",
        "patch" => "patchAction",
        "delete" => "deleteAction",
        other => {
            notes.error(
                codes::SKIPPED_ACTION,
                type_node,
                format!("action `{name}` skipped: Skippy has no `{other}` action"),
                Some("the seed's convertible action types are `restart`, `scale`, `patch` and `delete`; Skippy's own actions (`notify`, `rollback`, `set memory_limit`, …) are listed in docs/language.md".to_string()),
            );
            return None;
        }
    };
    for (key, _) in action.entries() {
        let known = [
            "name",
            "type",
            "description",
            "priority",
            "requiresApproval",
            field,
        ];
        if let Some(k) = key.as_str().filter(|k| !known.contains(k)) {
            notes.warn_field(
                codes::DROPPED_FIELD,
                action,
                k,
                format!("`{k}` is not converted: a `{kind_word}` action reads only `{field}`"),
                None,
            );
        }
    }
    let priority = match action.get("priority") {
        None => DEFAULT_PRIORITY,
        Some(p) => p.as_i64().unwrap_or_else(|| {
            notes.warn(codes::BAD_VALUE, p, format!("the priority is not a whole number: read as the seed's default, {DEFAULT_PRIORITY}"));
            DEFAULT_PRIORITY
        }),
    };
    let approval = action
        .get("requiresApproval")
        .filter(|a| a.as_bool() == Some(true))
        .map(|a| a.head(notes.source));
    let empty = Node {
        value: super::yaml::Value::Map(Vec::new()),
        span: action.span,
    };
    let body = action.get(field).filter(|b| !b.is_null()).unwrap_or(&empty);
    let mut declarations = Vec::new();
    let text = match kind_word {
        "restart" => restart(body, kind, &name, notes)?,
        "scale" => scale(body, kind, &name, notes)?,
        "patch" => {
            let (text, declaration) = patch(body, action, kind, &name, notes, names)?;
            declarations.push(declaration);
            text
        }
        _ => delete(body, kind, &name, notes)?,
    };
    Some(Action {
        name,
        text,
        priority,
        approval,
        declarations,
        origin: action.head(notes.source),
    })
}

fn not_for_kind(action: &str, name: &str, kind: Kind, type_node: &Node, notes: &mut Notes) {
    notes.error(
        codes::SKIPPED_ACTION,
        type_node,
        format!(
            "action `{name}` skipped on {}: Skippy cannot {action} them",
            kind.keyword()
        ),
        Some("the actions table of docs/language.md says what applies to each kind".to_string()),
    );
}

fn restart(body: &Node, kind: Kind, name: &str, notes: &mut Notes) -> Option<String> {
    unknown_fields(
        body,
        &["strategy", "maxConcurrent", "gracePeriodSeconds"],
        "restartAction",
        notes,
    );
    if body
        .get("maxConcurrent")
        .is_some_and(|m| m.as_i64() != Some(1))
    {
        notes.warn_field(codes::DROPPED_FIELD, body, "maxConcurrent", "`maxConcurrent` is not converted: a rolling restart replaces pods as the workload's rollout settings allow, and `restart` one pod at a time", None);
    }
    if body.get("gracePeriodSeconds").is_some() {
        notes.warn_field(codes::DROPPED_FIELD, body, "gracePeriodSeconds", "`gracePeriodSeconds` is not converted: pods stop with their own `terminationGracePeriodSeconds`", None);
    }
    let strategy = body.get("strategy");
    let rolling = match strategy.and_then(Node::as_str) {
        None | Some("rolling") => true,
        Some("recreate" | "graceful") => false,
        Some(other) => {
            notes.warn(
                codes::BAD_VALUE,
                strategy.unwrap_or(body),
                format!(
                    "unknown restart strategy `{other}`: read as `rolling`, the seed's default"
                ),
            );
            true
        }
    };
    match kind {
        Kind::Pods if rolling => Some("restart rolling".to_string()),
        Kind::Pods => Some("restart".to_string()),
        k if k.is_workload() => {
            if !rolling {
                notes.warn(
                    codes::CHANGED_MEANING,
                    strategy.unwrap_or(body),
                    "a workload restarts only rolling in Skippy (`restart rolling`)",
                );
            }
            Some("restart rolling".to_string())
        }
        _ => {
            not_for_kind("restart", name, kind, body, notes);
            None
        }
    }
}

fn scale(body: &Node, kind: Kind, name: &str, notes: &mut Notes) -> Option<String> {
    unknown_fields(
        body,
        &[
            "direction",
            "replicas",
            "minReplicas",
            "maxReplicas",
            "min",
            "max",
        ],
        "scaleAction",
        notes,
    );
    if !matches!(kind, Kind::Pods | Kind::Deployments | Kind::StatefulSets) {
        not_for_kind("scale", name, kind, body, notes);
        return None;
    }
    let whole = |field: &str, notes: &mut Notes| -> Option<i64> {
        let node = body.get(field)?;
        let value = node.as_i64().filter(|n| *n >= 0);
        if value.is_none() {
            notes.warn(
                codes::BAD_VALUE,
                node,
                format!("`{field}` is not a whole number of replicas and is not converted"),
            );
        }
        value
    };
    let min = whole("minReplicas", notes).or_else(|| whole("min", notes));
    let max = whole("maxReplicas", notes).or_else(|| whole("max", notes));
    let Some(replicas) = whole("replicas", notes) else {
        notes.error(
            codes::SKIPPED_ACTION,
            body,
            format!("action `{name}` skipped: no `replicas`"),
            None,
        );
        return None;
    };
    let direction = body.get("direction");
    match direction.and_then(Node::as_str) {
        Some("up") => Some(match max {
            Some(max) => format!("scale up {replicas} max {max}"),
            // The seed's CRD default.
            None => format!("scale up {replicas} max 100"),
        }),
        Some("down") => Some(match min {
            Some(min) => format!("scale down {replicas} min {min}"),
            None => format!("scale down {replicas}"),
        }),
        Some("absolute") => Some(format!("scale to {replicas}")),
        other => {
            notes.error(
                codes::SKIPPED_ACTION,
                direction.unwrap_or(body),
                format!(
                    "action `{name}` skipped: unknown scale direction `{}`",
                    other.unwrap_or("")
                ),
                Some("one of `up`, `down` or `absolute`".to_string()),
            );
            None
        }
    }
}

fn delete(body: &Node, kind: Kind, name: &str, notes: &mut Notes) -> Option<String> {
    for (key, _) in body.entries() {
        if let Some(k) = key.as_str() {
            notes.warn_field(codes::DROPPED_FIELD, body, k, format!("`deleteAction.{k}` is not converted: Skippy deletes a pod as `kubectl delete pod` does"), None);
        }
    }
    if kind != Kind::Pods {
        not_for_kind("delete", name, kind, body, notes);
        return None;
    }
    Some("delete".to_string())
}

fn patch(
    body: &Node,
    action: &Node,
    kind: Kind,
    name: &str,
    notes: &mut Notes,
    names: &mut Names,
) -> Option<(String, Declaration)> {
    unknown_fields(body, &["type", "patch", "patches"], "patchAction", notes);
    if !(kind == Kind::Pods || kind.is_workload()) {
        not_for_kind("patch", name, kind, action, notes);
        return None;
    }
    if body.get("patches").is_some() {
        notes.warn_field(
            codes::DROPPED_FIELD,
            body,
            "patches",
            "`patches` (path and value operations) is not converted: write them into `patch`",
            None,
        );
    }
    let type_node = body.get("type");
    // The seed names its patch types as Skippy does.
    let written = type_node.and_then(Node::as_str);
    let style = match written.map_or(Some(PatchType::Strategic), PatchType::from_keyword) {
        Some(style) => style,
        None => {
            let other = written.unwrap_or_default();
            notes.error(
                codes::SKIPPED_ACTION,
                type_node.unwrap_or(body),
                format!("action `{name}` skipped: Skippy has no `{other}` patch"),
                Some(
                    "rewrite it as a JSON merge patch (`type: merge`), a strategic merge patch or a JSON patch (`type: json`)"
                        .to_string(),
                ),
            );
            return None;
        }
    };
    let Some(patch_node) = body.get("patch").filter(|p| p.as_str().is_some()) else {
        notes.error(
            codes::SKIPPED_ACTION,
            body,
            format!("action `{name}` skipped: no `patch`"),
            None,
        );
        return None;
    };
    // The seed takes the patch as YAML (or JSON, which YAML reads too).
    // A JSON patch is a list of operations; the other two, an object.
    let shape = if style == PatchType::Json {
        "a list of operations"
    } else {
        "an object"
    };
    let json = match serde_yaml::from_str::<serde_json::Value>(patch_node.as_str().unwrap_or("")) {
        Ok(json)
            if json.is_array() == (style == PatchType::Json)
                && (json.is_array() || json.is_object()) =>
        {
            json
        }
        Ok(_) => {
            notes.error(
                codes::SKIPPED_ACTION,
                patch_node,
                format!("action `{name}` skipped: the patch is not {shape}"),
                None,
            );
            return None;
        }
        Err(e) => {
            notes.error(
                codes::SKIPPED_ACTION,
                patch_node,
                format!("action `{name}` skipped: the patch is not YAML or JSON: {e}"),
                None,
            );
            return None;
        }
    };
    let pod_containers = json.pointer("/spec/containers").is_some()
        || json.as_array().into_iter().flatten().any(|op| {
            op.get("path")
                .and_then(serde_json::Value::as_str)
                .is_some_and(|path| path.starts_with("/spec/containers"))
        });
    if kind == Kind::Pods && pod_containers {
        notes.warn_help(
            codes::CHANGED_MEANING,
            patch_node,
            "Skippy applies a patch to the pod's workload, where `spec.containers` is not a field",
            "move it under `spec.template.spec`, the workload's pod template",
        );
    }
    let patch_name = names.claim_for(
        Space::Patch,
        patch_node.span.start,
        &values::name(name, '-', "patch"),
    );
    let text = format!(
        "patch {patch_name}: {} {}",
        style.keyword(),
        values::string(&json.to_string())
    );
    Some((
        format!("patch {patch_name}"),
        Declaration {
            name: patch_name,
            text,
        },
    ))
}
