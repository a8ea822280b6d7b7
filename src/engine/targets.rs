//! The targets of one evaluation, in the order every evaluation visits them
//! (by [`TargetId`]), indexed for what the engine asks of them many times:
//! where an id is, and which targets carry a label value a policy selects by.
//!
//! Ids are strings, and sorting 10,000 of them by comparison called `memcmp`
//! a few hundred thousand times per evaluation, mostly to find the same
//! namespace and a shared name prefix. Here each id gets a coarse integer key
//! that orders as the ids do wherever two keys differ (kind, namespace rank,
//! the name's first 12 bytes): the targets are sorted by it with a radix
//! sort, and only ids with equal keys are compared as strings.

use super::observation::{Target, TargetId};
use crate::ir::{LabelOp, Policy, Program};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// The observed targets sorted by id, one per id.
pub(super) struct Targets<'a> {
    pub targets: Vec<&'a Target>,
    /// Where each target is in the observations: passes that read every
    /// target go in that order, which is the order their data was built in
    /// memory, so the hardware prefetches it.
    observed: Vec<usize>,
    /// Each target's coarse key, ascending.
    coarse: Vec<u128>,
    /// Each target's namespace by rank, so that selecting by namespace
    /// compares integers, not strings that are cache misses by then.
    namespaces: Vec<Option<u32>>,
    ranks: FastMap<&'a str, u32>,
}

impl<'a> Targets<'a> {
    pub fn new(observed: &'a [Target]) -> Targets<'a> {
        let ranks = namespace_ranks(observed);
        let (coarse, namespaces) = coarse_keys(observed, &ranks);
        // Observations usually arrive in order (a reflector's store, the
        // simulator); checking is linear, sorting is not.
        let sorted = (1..observed.len()).all(|i| {
            coarse[i - 1] < coarse[i]
                || (coarse[i - 1] == coarse[i] && observed[i - 1].id < observed[i].id)
        });
        if sorted {
            return Targets {
                targets: observed.iter().collect(),
                observed: (0..observed.len()).collect(),
                coarse,
                namespaces,
                ranks,
            };
        }
        // Stable, so of one object observed twice (two sources racing) the
        // first given is kept: evaluated twice, it would decide twice and
        // overwrite its own timers.
        let mut order: Vec<(u128, usize)> = coarse.into_iter().zip(0..).collect();
        sort_by_key_then_index(&mut order);
        for run in order.chunk_by_mut(|a, b| a.0 == b.0) {
            if run.len() > 1 {
                run.sort_by(|a, b| observed[a.1].id.cmp(&observed[b.1].id));
            }
        }
        order.dedup_by(|a, b| a.0 == b.0 && observed[a.1].id == observed[b.1].id);
        Targets {
            targets: order.iter().map(|&(_, i)| &observed[i]).collect(),
            observed: order.iter().map(|&(_, i)| i).collect(),
            coarse: order.iter().map(|&(c, _)| c).collect(),
            namespaces: order.iter().map(|&(_, i)| namespaces[i]).collect(),
            ranks,
        }
    }

    /// Where the target at `index` was in the observations.
    pub fn observed_index(&self, index: usize) -> usize {
        self.observed.get(index).copied().unwrap_or(index)
    }

    /// The targets' indices, in the order they were observed.
    pub fn in_observed_order(&self) -> Vec<usize> {
        let len = self.observed.iter().max().map_or(0, |&m| m + 1);
        let mut at: Vec<Option<usize>> = vec![None; len];
        for (i, &o) in self.observed.iter().enumerate() {
            if let Some(slot) = at.get_mut(o) {
                *slot = Some(i);
            }
        }
        at.into_iter().flatten().collect()
    }

    /// The rank of `namespace` if some target is in it.
    pub fn rank(&self, namespace: &str) -> Option<u32> {
        self.ranks.get(namespace).copied()
    }

    /// The rank of the namespace of the target at `index`.
    pub fn namespace(&self, index: usize) -> Option<u32> {
        self.namespaces.get(index).copied().flatten()
    }

    /// The index of the target with `id`, if it was observed.
    pub fn position(&self, id: &TargetId) -> Option<usize> {
        // A namespace no target is in: not observed.
        let rank = match &id.namespace {
            Some(namespace) => *self.ranks.get(namespace.as_str())?,
            None => 0,
        };
        let wanted = coarse(id, rank);
        let first = self.coarse.partition_point(|&c| c < wanted);
        let run = self
            .coarse
            .get(first..)?
            .iter()
            .take_while(|&&c| c == wanted)
            .count();
        let run = self.targets.get(first..first + run)?;
        if id.name.len() <= NAME_BYTES && rank < RANK_LIMIT {
            // An equal coarse key with an exact rank matched the kind, the
            // namespace and a short name up to its zero padding, so the
            // name's length tells the rest, without reading the names.
            let found = run.iter().position(|t| t.id.name.len() == id.name.len())?;
            return Some(first + found);
        }
        let found = run.binary_search_by(|t| t.id.cmp(id)).ok()?;
        Some(first + found)
    }
}

/// Each namespace's rank in byte order, from 1 (0 is no namespace).
fn namespace_ranks(observed: &[Target]) -> FastMap<&str, u32> {
    let mut names: Vec<&str> = Vec::new();
    let mut known: FastSet<&str> = FastSet::default();
    let mut last: Option<&str> = None;
    for namespace in observed.iter().filter_map(|t| t.id.namespace.as_deref()) {
        // Targets of one namespace usually come together.
        if last != Some(namespace) && known.insert(namespace) {
            names.push(namespace);
        }
        last = Some(namespace);
    }
    names.sort_unstable();
    names
        .iter()
        .enumerate()
        .map(|(rank, n)| (*n, u32::try_from(rank + 1).unwrap_or(u32::MAX)))
        .collect()
}

/// The coarse key and the namespace's rank of each observed target.
fn coarse_keys(observed: &[Target], ranks: &FastMap<&str, u32>) -> (Vec<u128>, Vec<Option<u32>>) {
    let mut last: Option<(&str, u32)> = None;
    observed
        .iter()
        .map(|target| {
            let rank = match (target.id.namespace.as_deref(), last) {
                (None, _) => None,
                (Some(namespace), Some((previous, rank))) if previous == namespace => Some(rank),
                (Some(namespace), _) => {
                    // Every namespace has a rank: `ranks` holds them all.
                    let rank = ranks.get(namespace).copied().unwrap_or(u32::MAX);
                    last = Some((namespace, rank));
                    Some(rank)
                }
            };
            (coarse(&target.id, rank.unwrap_or(0)), rank)
        })
        .unzip()
}

/// How many bytes of a name a coarse key holds.
const NAME_BYTES: usize = 12;
/// The largest namespace rank a coarse key holds; higher ranks share it.
const RANK_LIMIT: u32 = 0xff_ffff;

/// An integer that orders as the ids do wherever two of them differ: bits
/// 120..128 the kind, 96..120 the namespace's rank (saturated), 0..96 the
/// name's first 12 bytes, zero-padded (a name that ended reads as 0, below
/// any byte, as a prefix sorts first). Equal keys are ordered by the ids.
fn coarse(id: &TargetId, rank: u32) -> u128 {
    let mut head = [0; NAME_BYTES];
    // Byte by byte: a copy of a variable length is a call to `memcpy`.
    for (slot, byte) in head.iter_mut().zip(id.name.as_bytes()) {
        *slot = *byte;
    }
    let mut bytes = [0; 16];
    bytes[0] = id.kind as u8;
    bytes[1..4].copy_from_slice(&rank.min(RANK_LIMIT).to_be_bytes()[1..]);
    bytes[4..].copy_from_slice(&head);
    u128::from_be_bytes(bytes)
}

/// Sorts by the key, then the index: a radix sort over the bytes in which the
/// keys differ when there are many keys and few such bytes (the usual case:
/// one kind, a few namespaces, names with a common prefix), a comparison
/// sort otherwise. Indices are distinct, so the order is fully determined.
fn sort_by_key_then_index(order: &mut Vec<(u128, usize)>) {
    let Some(&(first, _)) = order.first() else {
        return;
    };
    let differing = order.iter().fold(0, |acc, (key, _)| acc | (key ^ first));
    let bytes: Vec<u32> = (0..16)
        .filter(|byte| (differing >> (8 * byte)) & 0xff != 0)
        .collect();
    if order.len() < 256 || bytes.len() > 8 {
        order.sort_unstable();
        return;
    }
    // Least significant byte first; each pass is stable, so the input order
    // (ascending indices) decides among equal keys.
    let mut scratch = order.clone();
    for byte in bytes {
        let digit = |key: u128| ((key >> (8 * byte)) & 0xff) as usize;
        let mut starts = [0usize; 256];
        for &(key, _) in order.iter() {
            starts[digit(key)] += 1;
        }
        let mut total = 0;
        for start in &mut starts {
            let count = *start;
            *start = total;
            total += count;
        }
        for &entry in order.iter() {
            let slot = &mut starts[digit(entry.0)];
            scratch[*slot] = entry;
            *slot += 1;
        }
        std::mem::swap(order, &mut scratch);
    }
}

/// The label a policy narrows its targets by, if any: its first
/// `label = value`.
fn narrowing(policy: &Policy) -> Option<(&str, &str)> {
    policy.selector.labels.iter().find_map(|l| match &l.op {
        LabelOp::Equals(value) => Some((l.key.as_str(), value.as_str())),
        _ => None,
    })
}

/// The targets that carry each `label = value` some policy selects by, in
/// target order: most policies select that way, and visiting a policy's
/// candidates instead of every target is most of what makes an evaluation
/// cheap. Only the labels policies select by are indexed.
pub(super) struct LabelIndex<'a> {
    /// Where the list of each `(label, value)` is in `lists`.
    slots: FastMap<(&'a str, &'a str), usize>,
    lists: Vec<Vec<usize>>,
    everyone: Vec<usize>,
    /// Whether each target carries a protected label: looked up in the same
    /// pass over the labels, once per target rather than per policy.
    protected: Vec<bool>,
}

/// A label's value on the target before, and the slot of its list.
type LastValue<'a> = (&'a str, Option<usize>);

impl<'a> LabelIndex<'a> {
    pub fn new(
        program: &'a Program,
        targets: &Targets<'a>,
        protected_labels: &[(String, String)],
    ) -> LabelIndex<'a> {
        let mut slots: FastMap<(&str, &str), usize> = FastMap::default();
        // Each label policies select by, with the last value seen and its
        // list: the pods of one workload are usually observed together, so
        // most targets repeat the value before them and skip the hashing.
        let mut keys: Vec<(&str, Option<LastValue>)> = Vec::new();
        for (key, value) in program.policies.iter().filter_map(narrowing) {
            let next = slots.len();
            slots.entry((key, value)).or_insert(next);
            if !keys.iter().any(|(k, _)| *k == key) {
                keys.push((key, None));
            }
        }
        let mut lists: Vec<Vec<usize>> = vec![Vec::new(); slots.len()];
        let mut protected = vec![false; targets.targets.len()];
        for i in targets.in_observed_order() {
            let target = targets.targets[i];
            protected[i] = protected_labels
                .iter()
                .any(|(k, v)| target.labels.get(k) == Some(v));
            for (key, last) in &mut keys {
                let Some(value) = target.labels.get(*key) else {
                    continue;
                };
                let slot = match *last {
                    Some((previous, slot)) if previous == value => slot,
                    _ => {
                        let slot = slots.get(&(*key, value.as_str())).copied();
                        *last = Some((value, slot));
                        slot
                    }
                };
                if let Some(list) = slot.and_then(|slot| lists.get_mut(slot)) {
                    list.push(i);
                }
            }
        }
        // Listed in observed order; candidates are visited in target order.
        for list in &mut lists {
            list.sort_unstable();
        }
        LabelIndex {
            slots,
            lists,
            everyone: (0..targets.targets.len()).collect(),
            protected,
        }
    }

    /// Whether the target at `index` carries a protected label.
    pub fn protected(&self, index: usize) -> bool {
        self.protected.get(index).copied().unwrap_or(false)
    }

    /// The indices of the targets `policy` may select, ascending: a superset
    /// of those it selects; with the position in the selector of the label
    /// that every one of them is known to match.
    pub fn candidates(&self, policy: &'a Policy) -> (&[usize], Option<usize>) {
        let matched = policy
            .selector
            .labels
            .iter()
            .position(|l| matches!(l.op, LabelOp::Equals(_)));
        let candidates: &[usize] = match narrowing(policy) {
            Some(pair) => self
                .slots
                .get(&pair)
                .and_then(|&slot| self.lists.get(slot))
                .map_or(&[], Vec::as_slice),
            None => &self.everyone,
        };
        (candidates, matched)
    }
}

/// A hash map for keys the engine builds itself (label values, target ids):
/// SipHash's resistance to chosen keys buys nothing within one evaluation,
/// and its cost was a tenth of a cycle.
pub(super) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;
pub(super) type FastSet<K> = std::collections::HashSet<K, BuildHasherDefault<FastHasher>>;

/// The multiply-rotate hash of rustc (FxHash), eight bytes at a time.
#[derive(Default, Clone, Copy)]
pub(super) struct FastHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FastHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Kind;

    fn id(kind: Kind, namespace: Option<&str>, name: &str) -> TargetId {
        TargetId {
            kind,
            namespace: namespace.map(str::to_string),
            name: name.to_string(),
        }
    }

    /// Ids whose coarse keys tie or differ in every way the key is built.
    fn ids() -> Vec<TargetId> {
        let names = [
            "",
            "a",
            "a\0",
            "a\0\0",
            "ab",
            "abcdefghijkl",
            "abcdefghijkl\0",
            "abcdefghijklm",
            "abcdefghijkln",
            "abcdefghijklmn",
            "abcdefghijkm",
            "app-1-0",
            "app-10-0",
            "app-1-10",
            "app-1-2",
            "é",
            "\u{ff}",
            "zz",
        ];
        let namespaces = [
            None,
            Some(""),
            Some("a"),
            Some("shop"),
            Some("kube-system-long-name"),
        ];
        let mut ids = Vec::new();
        for kind in [Kind::Pods, Kind::Nodes, Kind::Deployments] {
            for ns in namespaces {
                for name in names {
                    ids.push(id(kind, ns, name));
                }
            }
        }
        ids
    }

    #[test]
    fn coarse_keys_never_contradict_the_ids() {
        let observed: Vec<Target> = ids().into_iter().map(Target::new).collect();
        let ranks = namespace_ranks(&observed);
        let (keys, _) = coarse_keys(&observed, &ranks);
        for (a, ka) in observed.iter().zip(&keys) {
            for (b, kb) in observed.iter().zip(&keys) {
                if ka < kb {
                    assert!(a.id < b.id, "{:?} vs {:?}", a.id, b.id);
                }
            }
        }
    }

    #[test]
    fn targets_are_sorted_and_the_first_of_a_duplicate_kept() {
        // Enough targets for the radix sort, in a scrambled order, each
        // observed twice: the copy given first is the one kept.
        let ids = ids();
        let mut observed = Vec::new();
        for copy in ["first", "second"] {
            for (i, id) in ids.iter().enumerate() {
                let mut target = Target::new(id.clone());
                target.labels.insert("copy".into(), copy.into());
                target.labels.insert("i".into(), i.to_string());
                observed.push(target);
            }
        }
        let n = observed.len();
        let scrambled: Vec<Target> = (0..n).map(|i| observed[(i * 7919) % n].clone()).collect();
        let mut want: Vec<&Target> = scrambled.iter().collect();
        want.sort_by(|a, b| a.id.cmp(&b.id));
        want.dedup_by(|a, b| a.id == b.id);
        for input in [&observed, &scrambled] {
            let targets = Targets::new(input);
            let got: Vec<&TargetId> = targets.targets.iter().map(|t| &t.id).collect();
            let expected: Vec<&TargetId> = want.iter().map(|t| &t.id).collect();
            assert_eq!(got, expected);
            for (i, target) in targets.targets.iter().enumerate() {
                let first = input.iter().find(|t| t.id == target.id).unwrap();
                assert!(std::ptr::eq(*target, first));
                assert_eq!(targets.position(&target.id), Some(i));
            }
            assert_eq!(
                targets.position(&id(Kind::Pods, Some("elsewhere"), "a")),
                None
            );
            assert_eq!(
                targets.position(&id(Kind::Pods, Some("shop"), "absent")),
                None
            );
            assert_eq!(targets.position(&id(Kind::DaemonSets, None, "a")), None);
        }
    }

    #[test]
    fn many_similar_names_are_radix_sorted() {
        // One kind and namespace, names differing in a few bytes: the radix
        // path. Duplicates carry which copy they are.
        let mut observed = Vec::new();
        for i in 0..1000 {
            let mut target = Target::new(id(Kind::Pods, Some("shop"), &format!("pod-{}", i % 700)));
            target.labels.insert("copy".into(), (i / 700).to_string());
            observed.push(target);
        }
        let n = observed.len();
        let scrambled: Vec<Target> = (0..n).map(|i| observed[(i * 7919) % n].clone()).collect();
        let targets = Targets::new(&scrambled);
        let mut want: Vec<&Target> = scrambled.iter().collect();
        want.sort_by(|a, b| a.id.cmp(&b.id));
        want.dedup_by(|a, b| a.id == b.id);
        assert_eq!(targets.targets.len(), 700);
        for (got, want) in targets.targets.iter().zip(&want) {
            assert!(std::ptr::eq(*got, *want));
        }
        for (i, target) in targets.targets.iter().enumerate() {
            assert_eq!(targets.position(&target.id), Some(i));
        }
    }

    #[test]
    fn an_ordered_observation_is_kept_as_is() {
        let mut ids = ids();
        ids.sort();
        let observed: Vec<Target> = ids.into_iter().map(Target::new).collect();
        let targets = Targets::new(&observed);
        assert!(targets
            .targets
            .iter()
            .zip(&observed)
            .all(|(a, b)| std::ptr::eq(*a, b)));
    }
}
