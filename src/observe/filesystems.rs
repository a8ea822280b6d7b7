//! `select filesystems`: targets made from Prometheus answers rather than
//! Kubernetes objects. Each series of a filesystem metric (node-exporter's,
//! grouped by node, mount point, type and device) names one filesystem,
//! `NODE:MOUNTPOINT`, labelled with those four labels; the history keeps
//! each one while Prometheus reports it.
//!
//! Invariants: pure (answers in, targets out); at most
//! [`MAX_FILESYSTEMS_PER_NODE`] filesystems of one node are held at any
//! time, in an answer or in the history, whatever Prometheus sends; a
//! filesystem is forgotten when a filesystem query succeeds without it, or
//! when none of its samples is younger than the history's retention, and
//! only then: while Prometheus is down its targets stay, their metrics
//! unknown.

use super::objects::Observed;
use super::queries::{Fetched, Query};
use crate::catalog::{self, FILESYSTEM_LABELS, MAX_FILESYSTEMS_PER_NODE};
use crate::engine::observation::{Target, TargetId};
use crate::engine::series::Sample;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The longest label value kept: a mount point is a path, at most
/// `PATH_MAX` (4096) bytes on Linux; a longer one is no filesystem.
const MAX_LABEL_BYTES: usize = 4096;

/// Whether `metric` is read of filesystems: its answers make filesystem
/// targets.
pub(super) fn is_filesystem_metric(metric: &str) -> bool {
    catalog::metric(metric).is_some_and(|m| m.kinds == catalog::Kinds::FILESYSTEMS)
}

/// The filesystem a series is about, with its labels; `None` without a
/// node, or with a label past [`MAX_LABEL_BYTES`].
fn filesystem_of(labels: &HashMap<String, String>) -> Option<(TargetId, BTreeMap<String, String>)> {
    let value = |label: &str| labels.get(label).map_or("", String::as_str);
    let node = value("node");
    let too_long = FILESYSTEM_LABELS
        .iter()
        .any(|l| value(l).len() > MAX_LABEL_BYTES);
    // A node's name never holds `:` or `/`; a label that does names none.
    if node.is_empty() || node.contains([':', '/']) || too_long {
        return None;
    }
    let target = Target::filesystem(node, value("mountpoint"), value("fstype"), value("device"));
    Some((target.id, target.labels))
}

/// The filesystems of `node` among `ids`, in name order: the names from
/// `NODE:` up to `NODE;`, `;` being the character after `:`.
fn of_node<'m, V>(
    ids: &'m BTreeMap<TargetId, V>,
    node: &str,
) -> impl DoubleEndedIterator<Item = &'m TargetId> + Clone + 'm {
    let after = TargetId {
        name: format!("{node};"),
        ..TargetId::filesystem(node, "")
    };
    ids.range(TargetId::filesystem(node, "")..after)
        .map(|(id, _)| id)
}

/// Whether `id` may join `ids` under the cap, and which filesystem of its
/// node it pushes out to do so: the mount points that sort first are kept,
/// so that a node past the cap keeps the same ones from cycle to cycle.
fn admit<V>(ids: &BTreeMap<TargetId, V>, id: &TargetId, node: &str) -> Admission {
    if ids.contains_key(id) {
        return Admission::Present;
    }
    let mut theirs = of_node(ids, node);
    if theirs.clone().count() < MAX_FILESYSTEMS_PER_NODE {
        return Admission::Room;
    }
    match theirs.next_back() {
        Some(last) if id < last => Admission::Displacing(last.clone()),
        _ => Admission::Refused,
    }
}

enum Admission {
    Present,
    Room,
    Displacing(TargetId),
    Refused,
}

/// Adds one series of a filesystem metric's answer to `fetched`.
pub(super) fn add(
    fetched: &mut Fetched,
    query: &Query,
    labels: &HashMap<String, String>,
    samples: Vec<Sample>,
) {
    let Some((id, labels)) = filesystem_of(labels) else {
        return;
    };
    let node = labels.get("node").cloned().unwrap_or_default();
    match admit(&fetched.filesystems, &id, &node) {
        Admission::Refused => return,
        Admission::Displacing(out) => {
            fetched.filesystems.remove(&out);
            fetched.samples.remove(&out);
        }
        Admission::Present | Admission::Room => {}
    }
    // Two series of one mount point (a rootfs beside its ext4): the first
    // one's labels stay, as its samples do (`Fetched::keep`).
    fetched.filesystems.entry(id.clone()).or_insert(labels);
    fetched.keep(id, &query.metric, samples);
}

/// A filesystem the history holds: its labels, and its newest sample's time.
#[derive(Debug)]
struct Reported {
    labels: BTreeMap<String, String>,
    seen: i64,
}

/// The filesystems Prometheus has reported, by target.
#[derive(Debug, Default)]
pub(super) struct Filesystems(BTreeMap<TargetId, Reported>);

impl Filesystems {
    /// Takes in `fetched`'s filesystems whose node `known` says the cluster
    /// has; returns those forgotten (a successful answer left them out, or
    /// the cap pushed them out), whose samples the history drops. Afterwards
    /// `fetched` holds samples only of the filesystems kept.
    pub(super) fn absorb(
        &mut self,
        fetched: &mut Fetched,
        known: impl Fn(&TargetId) -> bool,
    ) -> Vec<TargetId> {
        let mut gone = Vec::new();
        if fetched.filesystems_answered {
            let reported: BTreeSet<&TargetId> = fetched.filesystems.keys().collect();
            gone.extend(self.0.keys().filter(|id| !reported.contains(id)).cloned());
            for id in &gone {
                self.0.remove(id);
            }
        }
        for (id, labels) in std::mem::take(&mut fetched.filesystems) {
            let node = labels.get("node").cloned().unwrap_or_default();
            if !known(&id) {
                fetched.samples.remove(&id);
                continue;
            }
            match admit(&self.0, &id, &node) {
                Admission::Refused => {
                    fetched.samples.remove(&id);
                    continue;
                }
                Admission::Displacing(out) => {
                    self.0.remove(&out);
                    gone.push(out);
                }
                Admission::Present | Admission::Room => {}
            }
            let newest = fetched
                .samples
                .get(&id)
                .into_iter()
                .flat_map(|series| series.values().flatten())
                .map(|s| s.at)
                .max();
            let seen = self.0.get(&id).map_or(i64::MIN, |r| r.seen);
            let seen = newest.map_or(seen, |at| at.max(seen));
            self.0.insert(id, Reported { labels, seen });
        }
        gone
    }

    /// Forgets the filesystems with no sample since `cutoff`; returns them.
    pub(super) fn forget_before(&mut self, cutoff: i64) -> Vec<TargetId> {
        let gone: Vec<TargetId> = self
            .0
            .iter()
            .filter(|(_, r)| r.seen < cutoff)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &gone {
            self.0.remove(id);
        }
        gone
    }

    /// The filesystems of the nodes `has_node` says this part of the
    /// cluster holds, as targets with their labels: a part without the
    /// nodes (a watch pass, another shard) has no filesystems.
    pub(super) fn observed(&self, has_node: impl Fn(&str) -> bool) -> Vec<Observed> {
        self.0
            .iter()
            .filter(|(id, _)| id.node_of_filesystem().is_some_and(&has_node))
            .map(|(id, reported)| {
                let mut target = Target::new(id.clone());
                target.labels = reported.labels.clone();
                Observed {
                    target,
                    values: Vec::new(),
                    oom_kills: Vec::new(),
                }
            })
            .collect()
    }
}
