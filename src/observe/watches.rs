//! The watches the observations come from, and what a watch that is down
//! (a failed list, a broken watch, until it lists again) leaves unknown:
//! the statuses and events of the targets it feeds, never their absence.
//!
//! Pure: which watches are down comes in as a value (the operator's
//! reflectors track it), so `snapshot` and the tests read the same table.

use crate::catalog::Kind;
use crate::engine::observation::Unobserved;
use crate::ir::{Condition, Program};
use std::collections::BTreeSet;
use std::fmt;

/// One of the operator's watches, named by its resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Watch {
    Pods,
    ReplicaSets,
    Deployments,
    StatefulSets,
    DaemonSets,
    Nodes,
    Events,
    HorizontalPodAutoscalers,
    Jobs,
    PersistentVolumeClaims,
    PodDisruptionBudgets,
    ResourceQuotas,
    PersistentVolumes,
    ControllerRevisions,
    /// The records: no condition reads them.
    HealingActions,
}

impl Watch {
    /// The resource's plural name, as `kubectl get` takes it.
    pub fn resource(self) -> &'static str {
        match self {
            Watch::Pods => "pods",
            Watch::ReplicaSets => "replicasets",
            Watch::Deployments => "deployments",
            Watch::StatefulSets => "statefulsets",
            Watch::DaemonSets => "daemonsets",
            Watch::Nodes => "nodes",
            Watch::Events => "events",
            Watch::HorizontalPodAutoscalers => "horizontalpodautoscalers",
            Watch::Jobs => "jobs",
            Watch::PersistentVolumeClaims => "persistentvolumeclaims",
            Watch::PodDisruptionBudgets => "poddisruptionbudgets",
            Watch::ResourceQuotas => "resourcequotas",
            Watch::PersistentVolumes => "persistentvolumes",
            Watch::ControllerRevisions => "controllerrevisions",
            Watch::HealingActions => "healingactions",
        }
    }

    /// The watches the statuses of a target of `kind` are read from. A
    /// workload has its pods' statuses besides its own, found through the
    /// pods' owners (a Deployment's pods through their ReplicaSets): with
    /// either watch down, a pod that began to crash loop during the outage
    /// may be missing from the workload, so its statuses are not known.
    pub fn of_statuses(kind: Kind) -> &'static [Watch] {
        match kind {
            Kind::Deployments => &[Watch::Deployments, Watch::Pods, Watch::ReplicaSets],
            Kind::StatefulSets => &[Watch::StatefulSets, Watch::Pods],
            Kind::DaemonSets => &[Watch::DaemonSets, Watch::Pods],
            // Sums and Prometheus answers: no status reasons.
            Kind::Cluster | Kind::Filesystems => &[],
            other => Watch::of_objects(other),
        }
    }

    /// The watches of the objects a target of `kind` is made of: its own
    /// kind's (a container's: its pod's; the cluster's sums: the pods' and
    /// the nodes'); none for a filesystem, made of Prometheus answers.
    pub fn of_objects(kind: Kind) -> &'static [Watch] {
        match kind {
            Kind::Pods | Kind::Containers => &[Watch::Pods],
            Kind::Deployments => &[Watch::Deployments],
            Kind::StatefulSets => &[Watch::StatefulSets],
            Kind::DaemonSets => &[Watch::DaemonSets],
            Kind::Nodes => &[Watch::Nodes],
            Kind::Jobs => &[Watch::Jobs],
            Kind::HorizontalPodAutoscalers => &[Watch::HorizontalPodAutoscalers],
            Kind::PersistentVolumeClaims => &[Watch::PersistentVolumeClaims],
            Kind::PodDisruptionBudgets => &[Watch::PodDisruptionBudgets],
            Kind::ResourceQuotas => &[Watch::ResourceQuotas],
            Kind::PersistentVolumes => &[Watch::PersistentVolumes],
            Kind::Cluster => &[Watch::Pods, Watch::Nodes],
            Kind::Filesystems => &[],
        }
    }

    /// The watches the events of a target of `kind` are read from: the
    /// events', and for a workload, which has its pods' events, those that
    /// find its pods.
    pub fn of_events(kind: Kind) -> &'static [Watch] {
        match kind {
            Kind::Deployments => &[Watch::Events, Watch::Pods, Watch::ReplicaSets],
            Kind::StatefulSets | Kind::DaemonSets => &[Watch::Events, Watch::Pods],
            _ => &[Watch::Events],
        }
    }
}

impl fmt::Display for Watch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.resource())
    }
}

/// The watches that are down now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Down(pub BTreeSet<Watch>);

impl Down {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn any_down(&self, watches: &[Watch]) -> bool {
        watches.iter().any(|w| self.0.contains(w))
    }

    /// Whether the objects a target of `kind` is made of may be out of
    /// date: one of their watches ([`Watch::of_objects`]) is down. Their
    /// values are then not sampled again, so they go stale as an unanswered
    /// query's do, rather than be read afresh from a cache that no longer
    /// follows the cluster.
    pub fn stale_objects(&self, kind: Kind) -> bool {
        self.any_down(Watch::of_objects(kind))
    }

    /// What a target of `kind` cannot be observed for while these are down.
    pub fn unobserved(&self, kind: Kind) -> Unobserved {
        Unobserved {
            statuses: self.any_down(Watch::of_statuses(kind)),
            events: self.any_down(Watch::of_events(kind)),
        }
    }

    /// The watches down of those `program` reads from: the statuses' and
    /// events' of the kinds its policies select, where a rule reads them.
    /// What its status names, so that a person sees why its status and
    /// event rules are unknown.
    pub fn feeding(&self, program: &Program) -> BTreeSet<Watch> {
        let mut feeding = BTreeSet::new();
        if self.is_empty() {
            return feeding;
        }
        for policy in &program.policies {
            let (mut statuses, mut events) = (false, false);
            for rule in &policy.rules {
                rule.condition.for_each_leaf(&mut |leaf| match leaf {
                    Condition::Status(_) | Condition::StatusWas { .. } => statuses = true,
                    Condition::Event { .. } => events = true,
                    _ => {}
                });
            }
            let kind = policy.selector.kind;
            let read = statuses
                .then(|| Watch::of_statuses(kind))
                .into_iter()
                .chain(events.then(|| Watch::of_events(kind)))
                .flatten();
            feeding.extend(read.filter(|w| self.0.contains(w)));
        }
        feeding
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn down(watches: &[Watch]) -> Down {
        Down(watches.iter().copied().collect())
    }

    fn program(source: &str) -> Program {
        let compiled = crate::check::compile(source, &crate::safety::SafetyConfig::default());
        assert!(!compiled.has_errors(), "{:?}", compiled.diagnostics);
        compiled.program
    }

    #[test]
    fn a_workload_is_unobserved_while_its_pods_watch_is_down() {
        let pods = down(&[Watch::Pods]);
        let both = Unobserved {
            statuses: true,
            events: true,
        };
        assert_eq!(pods.unobserved(Kind::Deployments), both);
        assert_eq!(
            pods.unobserved(Kind::Pods),
            Unobserved {
                statuses: true,
                events: false
            }
        );
        assert_eq!(pods.unobserved(Kind::Nodes), Unobserved::default());
        // A container's state is in its pod's status.
        assert!(pods.unobserved(Kind::Containers).statuses);
        let events = down(&[Watch::Events]);
        assert_eq!(
            events.unobserved(Kind::Nodes),
            Unobserved {
                statuses: false,
                events: true
            }
        );
        let replica_sets = down(&[Watch::ReplicaSets]);
        assert!(replica_sets.unobserved(Kind::Deployments).statuses);
        assert!(!replica_sets.unobserved(Kind::StatefulSets).statuses);
    }

    /// The watches of `down` that `source` reads from, by resource.
    fn feeding(down: &Down, source: &str) -> Vec<&'static str> {
        let program = program(source);
        down.feeding(&program)
            .into_iter()
            .map(Watch::resource)
            .collect()
    }

    #[test]
    fn a_policy_is_fed_only_by_the_watches_its_rules_read() {
        let all = down(&[Watch::Pods, Watch::Events, Watch::Nodes]);
        let status = "policy p {\n  select deployments\n  mode auto\n  when status is ProgressDeadlineExceeded then restart rolling\n}\n";
        assert_eq!(feeding(&all, status), ["pods"]);
        let metric =
            "policy p {\n  select pods\n  mode auto\n  when memory_percent > 90 then restart\n}\n";
        assert!(feeding(&all, metric).is_empty(), "no status or event read");
        let event = "policy p {\n  select nodes\n  mode auto\n  when event NodeNotReady count > 2 within 10m then cordon\n}\n";
        assert_eq!(feeding(&all, event), ["events"]);
    }
}
