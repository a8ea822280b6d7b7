//! The policies the operator evaluates: each compiled policy object, keyed
//! by its uid (which a user cannot edit, unlike the names), with the
//! engine's state for it. The policy controller fills it in; the evaluation
//! loop reads and advances it.

use super::crd::{PolicyKind, SourceSpan};
use crate::check::Compiled;
use crate::engine::state::State;
use crate::ir::{Mode, Program};
use crate::observe::watches::Down;
use crate::span::LineIndex;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// One compiled policy object.
#[derive(Debug, Clone)]
pub struct Entry {
    pub kind: PolicyKind,
    /// The object's namespace: a HealingPolicy's `select` without `in`.
    pub namespace: Option<String>,
    pub name: String,
    pub uid: String,
    /// The compiled program, the spec's mode override applied.
    pub program: Program,
    /// Which version of the source the records answer for.
    pub program_hash: String,
    /// Each rule as the source writes it, and where.
    pub rules: Vec<(String, SourceSpan)>,
    pub state: State,
    /// What was last written of the state (see `persist`): its
    /// fingerprint and when.
    pub saved: Option<(u64, i64)>,
}

impl Entry {
    pub fn new(
        kind: PolicyKind,
        namespace: Option<String>,
        name: String,
        uid: String,
        source: &str,
        compiled: &Compiled,
        mode: Option<Mode>,
    ) -> Entry {
        let mut program = compiled.program.clone();
        if let Some(mode) = mode {
            for policy in &mut program.policies {
                policy.mode = mode;
            }
        }
        let index = LineIndex::new(source);
        let rules = compiled
            .spans
            .policies
            .first()
            .map(|p| {
                p.rules
                    .iter()
                    .map(|span| {
                        let start = index.line_col(source, span.start);
                        let end = index.line_col(source, span.end);
                        let text = source.get(span.start..span.end).unwrap_or("").trim();
                        let to_u32 = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
                        (
                            text.to_string(),
                            SourceSpan {
                                line: to_u32(start.line),
                                column: to_u32(start.column),
                                end_line: to_u32(end.line),
                                end_column: to_u32(end.column),
                            },
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let program_hash = format!(
            "fnv1a64:{:016x}",
            fnv1a(
                serde_json::to_string(&program)
                    .unwrap_or_default()
                    .as_bytes()
            )
        );
        Entry {
            kind,
            namespace,
            name,
            uid,
            program,
            program_hash,
            rules,
            state: State::default(),
            saved: None,
        }
    }
}

/// The compiled policies by uid.
#[derive(Debug, Default)]
pub struct Registry {
    entries: Mutex<BTreeMap<String, Entry>>,
}

impl Registry {
    /// Puts in (or replaces) a compiled policy, keeping the engine's state of
    /// the object it had: an edit keeps the timers of the rules it did not
    /// change (they are keyed by fingerprint).
    pub fn put(&self, mut entry: Entry) {
        let mut entries = self.lock();
        if let Some(previous) = entries.remove(&entry.uid) {
            entry.state = previous.state;
            entry.saved = previous.saved;
        }
        entries.insert(entry.uid.clone(), entry);
    }

    /// Whether the policy of `uid` is here (its state then is too).
    pub fn contains(&self, uid: &str) -> bool {
        self.lock().contains_key(uid)
    }

    /// Changes the state of `uid` in place (an approved action's charge).
    pub fn with_state(&self, uid: &str, change: impl FnOnce(&mut State)) {
        if let Some(entry) = self.lock().get_mut(uid) {
            change(&mut entry.state);
        }
    }

    /// Notes that the state of `uid` was written.
    pub fn mark_saved(&self, uid: &str, fingerprint: u64, at: i64) {
        if let Some(entry) = self.lock().get_mut(uid) {
            entry.saved = Some((fingerprint, at));
        }
    }

    /// Forgets a policy that no longer compiles, or whose object is gone.
    pub fn remove(&self, uid: &str) {
        self.lock().remove(uid);
    }

    /// Keeps only the policies whose objects still exist.
    pub fn retain(&self, live: impl Fn(&str) -> bool) {
        self.lock().retain(|uid, _| live(uid));
    }

    /// A copy of every entry, to evaluate without holding the lock across
    /// the cluster calls that follow.
    pub fn snapshot(&self) -> Vec<Entry> {
        self.lock().values().cloned().collect()
    }

    /// Each compiled program with the namespace its `select` without `in`
    /// means: what the metric sources plan from, without a copy of every
    /// policy's engine state (timers for each of 10,000 pods).
    pub fn programs(&self) -> Vec<(Option<String>, Program)> {
        self.lock()
            .values()
            .map(|e| (e.namespace.clone(), e.program.clone()))
            .collect()
    }

    /// The watches of `down` that feed what each policy reads (see
    /// [`Down::feeding`]), by uid, for the policies some watch down feeds:
    /// what their status names.
    pub fn watches_down(&self, down: &Down) -> HashMap<String, Vec<String>> {
        if down.is_empty() {
            return HashMap::new();
        }
        self.lock()
            .iter()
            .filter_map(|(uid, entry)| {
                let feeding = down.feeding(&entry.program);
                (!feeding.is_empty())
                    .then(|| (uid.clone(), feeding.iter().map(|w| w.to_string()).collect()))
            })
            .collect()
    }

    /// A copy of the entry of `uid`.
    pub fn get(&self, uid: &str) -> Option<Entry> {
        self.lock().get(uid).cloned()
    }

    /// Stores the state an evaluation of `uid` left, if the policy is still
    /// here.
    pub fn update_state(&self, uid: &str, state: State) {
        if let Some(entry) = self.lock().get_mut(uid) {
            entry.state = state;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Entry>> {
        // A panic elsewhere while holding the lock leaves the map usable.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// FNV-1a, 64 bits: a stable hash for names and versions (not security).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}
