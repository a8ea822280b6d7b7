//! Kubernetes Events for each decision: one on the object the policy
//! selected (so `kubectl describe pod` tells what healed it, or why not) and
//! one on its HealingAction, each naming the other.

use super::crd::{HealingAction, ObjectRef};
use crate::engine::observation::TargetId;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Client, Resource, ResourceExt};

/// Publishes the operator's Events.
#[derive(Clone)]
pub struct Announcer {
    recorder: Recorder,
}

impl Announcer {
    pub fn new(client: Client) -> Announcer {
        let reporter = Reporter {
            controller: "kubeskippy".into(),
            instance: std::env::var("POD_NAME").ok(),
        };
        Announcer {
            recorder: Recorder::new(client, reporter),
        }
    }

    /// Tells `message` about `record` and `target` (an Event on each,
    /// naming the other) with its type and reason. An Event that cannot be
    /// written is logged: the record and the log line remain.
    pub async fn tell(
        &self,
        record: &HealingAction,
        target: &TargetId,
        action: &str,
        (type_, reason): (EventType, &'static str),
        message: &str,
    ) {
        let record_ref = record.object_ref(&());
        let target_ref = reference(target);
        // An Event's note is at most 1 KiB.
        let note: String = message.chars().take(1_000).collect();
        // On its node, a filesystem's Event says which filesystem it is
        // about; on its pod, a container's which container; on its quota, a
        // resource's which resource.
        let about = match (
            target.node_of_filesystem(),
            target.container_of_pod(),
            target.quota_of_resource(),
        ) {
            (Some(_), _, _) => format!("{} ({})", record.name_any(), target.name),
            (_, Some((_, container)), _) => {
                format!("{} (container {container})", record.name_any())
            }
            (_, _, Some((_, resource))) => format!("{} (resource {resource})", record.name_any()),
            _ => record.name_any(),
        };
        let about_target = Event {
            type_,
            reason: reason.into(),
            note: Some(format!("{about}: {note}").chars().take(1_000).collect()),
            action: action_word(action),
            secondary: Some(record_ref.clone()),
        };
        let about_record = Event {
            type_,
            reason: reason.into(),
            note: Some(note),
            action: action_word(action),
            secondary: Some(target_ref.clone()),
        };
        for (event, regarding) in [(about_target, &target_ref), (about_record, &record_ref)] {
            if let Err(error) = self.recorder.publish(&event, regarding).await {
                tracing::warn!(%error, record = %record.name_any(), "cannot publish an Event");
            }
        }
    }
}

impl Announcer {
    /// Publishes `event` about `regarding`; one that cannot be written is
    /// logged.
    pub async fn publish(&self, event: &Event, regarding: &ObjectReference) {
        if let Err(error) = self.recorder.publish(event, regarding).await {
            tracing::warn!(%error, "cannot publish an Event");
        }
    }
}

/// An Event's action is a machine word: `restart rolling` → `RestartRolling`.
fn action_word(action: &str) -> String {
    action
        .split_whitespace()
        .map(|w| {
            let mut chars = w.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn reference(id: &TargetId) -> ObjectReference {
    // A filesystem is no API object, and its name (`NODE:/var`) is no valid
    // Event name: its Events are on its node, whose `describe` then shows
    // them; the note names the record, which names the filesystem.
    if let Some(node) = id.node_of_filesystem() {
        return reference(&TargetId {
            kind: crate::catalog::Kind::Nodes,
            namespace: None,
            name: node.to_string(),
        });
    }
    // A container is no API object either: its Events are on its pod, with
    // the field path the kubelet's own Events about it carry.
    if let (Some((_, container)), Some(pod)) = (id.container_of_pod(), id.pod_of_container()) {
        return ObjectReference {
            field_path: Some(format!("spec.containers{{{container}}}")),
            ..reference(&pod)
        };
    }
    // A quota's resource is a field of the quota: its Events are on the
    // quota, at that resource's hard limit.
    if let (Some((_, resource)), Some(quota)) = (id.quota_of_resource(), id.quota_of_resource_id())
    {
        return ObjectReference {
            field_path: Some(format!("spec.hard[{resource}]")),
            ..reference(&quota)
        };
    }
    let (api_version, kind) = ObjectRef::api_kind(id.kind);
    ObjectReference {
        api_version: Some(api_version.into()),
        kind: Some(kind.into()),
        namespace: id.namespace.clone(),
        name: Some(id.name.clone()),
        ..ObjectReference::default()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn actions_become_event_words() {
        assert_eq!(super::action_word("restart rolling"), "RestartRolling");
        assert_eq!(super::action_word("ask ai"), "AskAi");
        assert_eq!(super::action_word(""), "");
    }

    #[test]
    fn a_filesystems_events_are_on_its_node() {
        let id = crate::engine::observation::TargetId::filesystem("worker-1", "/var/lib/kubelet");
        let regarding = super::reference(&id);
        assert_eq!(regarding.kind.as_deref(), Some("Node"));
        assert_eq!(regarding.name.as_deref(), Some("worker-1"));
        assert_eq!(regarding.namespace, None);
    }

    #[test]
    fn a_quota_resources_events_are_on_its_quota_at_its_hard_limit() {
        let id = crate::engine::observation::TargetId::quota_resource(
            "shop",
            "compute",
            "count/deployments.apps",
        );
        let regarding = super::reference(&id);
        assert_eq!(regarding.kind.as_deref(), Some("ResourceQuota"));
        assert_eq!(regarding.name.as_deref(), Some("compute"));
        assert_eq!(regarding.namespace.as_deref(), Some("shop"));
        assert_eq!(
            regarding.field_path.as_deref(),
            Some("spec.hard[count/deployments.apps]")
        );
    }

    #[test]
    fn a_containers_events_are_on_its_pod_at_its_field_path() {
        let id = crate::engine::observation::TargetId::container("shop", "web-1", "app");
        let regarding = super::reference(&id);
        assert_eq!(regarding.kind.as_deref(), Some("Pod"));
        assert_eq!(regarding.api_version.as_deref(), Some("v1"));
        assert_eq!(regarding.name.as_deref(), Some("web-1"));
        assert_eq!(regarding.namespace.as_deref(), Some("shop"));
        assert_eq!(
            regarding.field_path.as_deref(),
            Some("spec.containers{app}")
        );
    }
}
