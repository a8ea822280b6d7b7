//! When each workload's newest rollout began, which its `rollout_age`
//! reads.

use super::{objects, Cluster, HashMap};
use crate::catalog::Kind;

/// When each workload's newest rollout began: its newest ReplicaSet's
/// creation (a Deployment), or its update revision's (a StatefulSet or
/// DaemonSet, whose ControllerRevisions it owns).
pub(super) struct Rollouts<'c> {
    /// The newest creation of the ReplicaSets and ControllerRevisions of
    /// each (namespace, owner kind, owner name).
    newest: HashMap<(&'c str, &'c str, &'c str), i64>,
    /// Each revision's creation by (namespace, name).
    revisions: HashMap<(&'c str, &'c str), i64>,
}

impl<'c> Rollouts<'c> {
    pub(super) fn of(cluster: &'c Cluster) -> Rollouts<'c> {
        let mut newest: HashMap<(&str, &str, &str), i64> = HashMap::default();
        let mut revisions = HashMap::default();
        let metas = cluster
            .replica_sets
            .iter()
            .map(|r| &r.metadata)
            .chain(cluster.revisions.iter().map(|r| &r.metadata));
        for meta in metas {
            let (Some(ns), Some(created)) = (meta.namespace.as_deref(), &meta.creation_timestamp)
            else {
                continue;
            };
            let created = objects::seconds(created);
            if let Some(name) = meta.name.as_deref() {
                revisions.insert((ns, name), created);
            }
            let owner = meta
                .owner_references
                .iter()
                .flatten()
                .find(|o| o.controller == Some(true));
            if let Some(owner) = owner {
                let at = newest
                    .entry((ns, owner.kind.as_str(), owner.name.as_str()))
                    .or_insert(created);
                *at = (*at).max(created);
            }
        }
        Rollouts { newest, revisions }
    }

    /// `observed` with its `rollout_age`: since `began`, or its `age`
    /// before its first rollout is seen.
    fn with_age(
        mut observed: objects::Observed,
        began: Option<i64>,
        now: i64,
    ) -> objects::Observed {
        let age = observed
            .values
            .iter()
            .find(|(n, _)| *n == "age")
            .map(|(_, v)| *v);
        let since = began.map(|at| now.saturating_sub(at).max(0) as f64);
        if let Some(value) = since.or(age) {
            observed.values.push(("rollout_age", value));
        }
        observed
    }

    pub(super) fn of_deployment(&self, observed: objects::Observed, now: i64) -> objects::Observed {
        let id = &observed.target.id;
        let began = id.namespace.as_deref().and_then(|ns| {
            self.newest
                .get(&(ns, "Deployment", id.name.as_str()))
                .copied()
        });
        Self::with_age(observed, began, now)
    }

    /// A StatefulSet's (`kind` of `observed`) or DaemonSet's rollout: its
    /// `revision` where its status names one, else its newest.
    pub(super) fn of_revision(
        &self,
        observed: objects::Observed,
        revision: Option<&str>,
        now: i64,
    ) -> objects::Observed {
        let id = &observed.target.id;
        let owner_kind = match id.kind {
            Kind::StatefulSets => "StatefulSet",
            _ => "DaemonSet",
        };
        let began = id.namespace.as_deref().and_then(|ns| match revision {
            Some(name) => self.revisions.get(&(ns, name)).copied(),
            None => self
                .newest
                .get(&(ns, owner_kind, id.name.as_str()))
                .copied(),
        });
        Self::with_age(observed, began, now)
    }
}
