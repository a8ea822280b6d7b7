//! The targets of one evaluation, in the order every evaluation visits them
//! (by [`TargetId`]), indexed for what the engine asks of them many times:
//! where an id is, and which targets carry a label value a policy selects by.
//!
//! An evaluation compares ids tens of thousands of times (sorting the
//! observations, finding the targets of the previous state's timers). Ids are
//! strings, and a string comparison is a call to `memcmp` that mostly finds
//! the same namespace and a shared name prefix; here each id carries the
//! first 16 bytes of its namespace and name as integers, so a comparison
//! almost always ends in integer compares.

use super::observation::{Target, TargetId};
use crate::catalog::Kind;
use crate::ir::{LabelOp, Policy, Program};
use std::cmp::Ordering;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// The observed targets sorted by id, one per id.
pub(super) struct Targets<'a> {
    pub targets: Vec<&'a Target>,
    keys: Vec<Key<'a>>,
}

impl<'a> Targets<'a> {
    pub fn new(observed: &'a [Target]) -> Targets<'a> {
        let keys: Vec<Key<'a>> = observed.iter().map(|t| Key::of(&t.id)).collect();
        // Observations usually arrive in order (a reflector's store, the
        // simulator); checking is linear, sorting is not.
        if keys.is_sorted_by(|a, b| a < b) {
            return Targets {
                targets: observed.iter().collect(),
                keys,
            };
        }
        // Sorted first by a coarse integer key that orders as the ids do
        // where it differs (kind, namespace rank, the name's first 12 bytes),
        // with the index as a tie-break, which makes the unstable sort
        // stable; then each run of equal coarse keys by the full ids. Stable,
        // so of one object observed twice (two sources racing) the first
        // given is kept: evaluated twice, it would decide twice and
        // overwrite its own timers.
        let ranks = namespace_ranks(&keys);
        let mut order: Vec<(u128, usize)> = keys
            .iter()
            .enumerate()
            .map(|(i, key)| (coarse(key, &ranks), i))
            .collect();
        order.sort_unstable();
        for run in order.chunk_by_mut(|a, b| a.0 == b.0) {
            if run.len() > 1 {
                run.sort_by(|a, b| keys[a.1].cmp(&keys[b.1]).then(a.1.cmp(&b.1)));
            }
        }
        order.dedup_by(|a, b| keys[a.1] == keys[b.1]);
        Targets {
            targets: order.iter().map(|&(_, i)| &observed[i]).collect(),
            keys: order.iter().map(|&(_, i)| keys[i]).collect(),
        }
    }

    /// The index of the target with `id`, if it was observed.
    pub fn position(&self, id: &TargetId) -> Option<usize> {
        let key = Key::of(id);
        self.keys.binary_search_by(|k| k.cmp(&key)).ok()
    }
}

/// Each namespace's rank in byte order, from 1 (0 is no namespace).
fn namespace_ranks<'a>(keys: &[Key<'a>]) -> FastMap<&'a str, u32> {
    let mut names: Vec<Prefixed<'a>> = Vec::new();
    let mut known: FastSet<&str> = FastSet::default();
    for namespace in keys.iter().filter_map(|k| k.namespace) {
        if known.insert(namespace.text) {
            names.push(namespace);
        }
    }
    names.sort_unstable();
    names
        .iter()
        .enumerate()
        .map(|(rank, n)| (n.text, u32::try_from(rank + 1).unwrap_or(u32::MAX)))
        .collect()
}

/// Bits 120..128 the kind, 96..120 the namespace's rank (saturated: equal
/// coarse keys are ordered by the full ids), 0..96 the name's first 12 bytes.
/// Where two coarse keys differ, they order as the ids do.
fn coarse(key: &Key, ranks: &FastMap<&str, u32>) -> u128 {
    let rank = key
        .namespace
        .map_or(0, |n| ranks.get(n.text).copied().unwrap_or(u32::MAX));
    (u128::from(key.kind as u8) << 120)
        | (u128::from(rank.min(0xff_ffff)) << 96)
        | (key.name.head >> 32)
}

/// A [`TargetId`] ordered exactly as `TargetId`'s own `Ord` orders it.
#[derive(Clone, Copy)]
struct Key<'a> {
    kind: Kind,
    namespace: Option<Prefixed<'a>>,
    name: Prefixed<'a>,
}

impl<'a> Key<'a> {
    fn of(id: &'a TargetId) -> Key<'a> {
        Key {
            kind: id.kind,
            namespace: id.namespace.as_deref().map(Prefixed::of),
            name: Prefixed::of(&id.name),
        }
    }
}

impl Ord for Key<'_> {
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        // `Option`'s order: `None` (a node) first.
        self.kind
            .cmp(&other.kind)
            .then_with(|| match (&self.namespace, &other.namespace) {
                (Some(a), Some(b)) => a.cmp(b),
                (a, b) => a.is_some().cmp(&b.is_some()),
            })
            .then_with(|| self.name.cmp(&other.name))
    }
}

impl PartialOrd for Key<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Key<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Key<'_> {}

/// A string with its first 16 bytes as a big-endian integer, zero-padded.
#[derive(Clone, Copy)]
struct Prefixed<'a> {
    head: u128,
    text: &'a str,
}

const HEAD: usize = 16;

impl<'a> Prefixed<'a> {
    fn of(text: &'a str) -> Prefixed<'a> {
        let mut bytes = [0; HEAD];
        let n = text.len().min(HEAD);
        bytes[..n].copy_from_slice(&text.as_bytes()[..n]);
        Prefixed {
            head: u128::from_be_bytes(bytes),
            text,
        }
    }
}

impl Ord for Prefixed<'_> {
    /// The byte order of the strings. Heads that differ differ where the
    /// strings first differ (a string that ended reads as 0, below any byte
    /// of the other, as a prefix sorts first). Equal heads with one string of
    /// at most 16 bytes mean the shorter string is a prefix of the longer
    /// (even when the longer has zero bytes there), so length decides; only
    /// two longer strings need their tails compared.
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        self.head.cmp(&other.head).then_with(|| {
            let (a, b) = (self.text.as_bytes(), other.text.as_bytes());
            match (a.get(HEAD..), b.get(HEAD..)) {
                (Some(a), Some(b)) if !a.is_empty() && !b.is_empty() => a.cmp(b),
                _ => a.len().cmp(&b.len()),
            }
        })
    }
}

impl PartialOrd for Prefixed<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Prefixed<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Prefixed<'_> {}

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
    by_value: FastMap<(&'a str, &'a str), Vec<usize>>,
    everyone: Vec<usize>,
}

impl<'a> LabelIndex<'a> {
    pub fn new(program: &'a Program, targets: &Targets<'a>) -> LabelIndex<'a> {
        let mut by_value: FastMap<(&str, &str), Vec<usize>> = FastMap::default();
        let mut keys: Vec<&str> = Vec::new();
        for (key, value) in program.policies.iter().filter_map(narrowing) {
            by_value.entry((key, value)).or_default();
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        for (i, target) in targets.targets.iter().enumerate() {
            for &key in &keys {
                let Some(value) = target.labels.get(key) else {
                    continue;
                };
                if let Some(list) = by_value.get_mut(&(key, value.as_str())) {
                    list.push(i);
                }
            }
        }
        LabelIndex {
            by_value,
            everyone: (0..targets.targets.len()).collect(),
        }
    }

    /// The indices of the targets `policy` may select, ascending: a superset
    /// of those it selects.
    pub fn candidates(&self, policy: &'a Policy) -> &[usize] {
        match narrowing(policy) {
            Some(pair) => self.by_value.get(&pair).map_or(&[], Vec::as_slice),
            None => &self.everyone,
        }
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

    fn id(kind: Kind, namespace: Option<&str>, name: &str) -> TargetId {
        TargetId {
            kind,
            namespace: namespace.map(str::to_string),
            name: name.to_string(),
        }
    }

    #[test]
    fn keys_order_as_target_ids_do() {
        let names = [
            "",
            "a",
            "a\0",
            "a\0\0",
            "ab",
            "abcdefghijklmnop",
            "abcdefghijklmnop\0",
            "abcdefghijklmnopq",
            "abcdefghijklmnopr",
            "abcdefghijklmnopqr",
            "abcdefghijklmnoq",
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
        for a in &ids {
            for b in &ids {
                assert_eq!(Key::of(a).cmp(&Key::of(b)), a.cmp(b), "{a:?} vs {b:?}");
            }
        }
    }

    #[test]
    fn targets_are_sorted_and_the_first_of_a_duplicate_kept() {
        let mut first = Target::new(id(Kind::Pods, Some("a"), "x"));
        first.labels.insert("copy".into(), "first".into());
        let mut second = first.clone();
        second.labels.insert("copy".into(), "second".into());
        let observed = vec![
            Target::new(id(Kind::Pods, Some("b"), "y")),
            first,
            second,
            Target::new(id(Kind::Pods, Some("a"), "w")),
        ];
        let targets = Targets::new(&observed);
        let names: Vec<&str> = targets.targets.iter().map(|t| t.id.name.as_str()).collect();
        assert_eq!(names, ["w", "x", "y"]);
        assert_eq!(targets.targets[1].labels["copy"], "first");
        assert_eq!(targets.position(&id(Kind::Pods, Some("b"), "y")), Some(2));
        assert_eq!(targets.position(&id(Kind::Pods, Some("b"), "x")), None);
    }
}
