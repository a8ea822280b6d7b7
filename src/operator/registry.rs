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
    /// Told when a policy is new or its program changed, so that the loop
    /// evaluates it at once rather than a whole interval later.
    changed: tokio::sync::Notify,
}

impl Registry {
    /// Puts in (or replaces) a compiled policy, keeping the engine's state of
    /// the object it had: an edit keeps the timers of the rules it did not
    /// change (they are keyed by fingerprint).
    pub fn put(&self, mut entry: Entry) {
        let mut entries = self.lock();
        let previous = entries.remove(&entry.uid);
        let changed = previous
            .as_ref()
            .is_none_or(|p| p.program_hash != entry.program_hash);
        if let Some(previous) = previous {
            entry.state = previous.state;
            entry.saved = previous.saved;
        }
        entries.insert(entry.uid.clone(), entry);
        drop(entries);
        if changed {
            // One permit is kept however many policies change before the
            // loop looks: a burst of them makes one evaluation.
            self.changed.notify_one();
        }
    }

    /// Resolves once a policy was put in new or changed since the last call.
    pub async fn changed(&self) {
        self.changed.notified().await;
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

    /// Whether some registered policy selects `kind`, without copying the
    /// programs: a watch pass asks it before each observation.
    pub fn selects(&self, kind: crate::catalog::Kind) -> bool {
        self.lock().values().any(|e| e.program.selects(kind))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Kind;
    use crate::engine::observation::{Observations, Target, TargetId};
    use crate::engine::series::{Sample, Series};
    use crate::engine::{evaluate, Context};
    use crate::observe::watches::Watch;
    use std::sync::Arc;

    fn entry(uid: &str, source: &str) -> Entry {
        let compiled = crate::check::compile(source, &crate::safety::SafetyConfig::default());
        assert!(!compiled.has_errors(), "{:?}", compiled.diagnostics);
        Entry::new(
            PolicyKind::HealingPolicy,
            Some("shop".into()),
            "web".into(),
            uid.into(),
            source,
            &compiled,
            None,
        )
    }

    /// A crash-looping pod of `web` at 95% of its memory since 0 s.
    fn observed() -> Observations {
        let mut pod = Target::new(TargetId {
            kind: Kind::Pods,
            namespace: Some("shop".into()),
            name: "web-1".into(),
        });
        pod.labels.insert("app".into(), "web".into());
        pod.statuses.insert("CrashLoopBackOff".into());
        let memory = Series::new([Sample::new(0, 95.0), Sample::new(15, 95.0)]);
        pod.metrics_mut()
            .insert("memory_percent".into(), Arc::new(memory));
        Observations { targets: vec![pod] }
    }

    /// The policy `name`: a status rule, and a memory rule at `threshold`.
    fn source(name: &str, threshold: u32) -> String {
        format!(
            "policy {name} {{\n  select pods where app = \"web\"\n  mode auto\n  \
             when status is CrashLoopBackOff for 3m then restart\n  \
             when memory_percent > {threshold} for 5m then restart\n}}\n"
        )
    }

    #[test]
    fn an_edit_of_a_policy_object_keeps_its_state_and_its_unchanged_rules_timers() {
        let registry = Registry::default();
        registry.put(entry("uid-1", &source("web", 90)));
        let before = registry.get("uid-1").expect("put");
        let context = Context::new(15, Some("shop"));
        let first = evaluate(&before.program, &observed(), 0, &before.state, &context);
        assert_eq!(first.state.timer_count(), 2, "both rules hold");
        registry.update_state("uid-1", first.state.clone());
        registry.mark_saved("uid-1", 7, 0);

        // `spec.policy` edited: the policy renamed, the memory rule's
        // threshold changed. Same object, same uid.
        registry.put(entry("uid-1", &source("web-renamed", 80)));
        let after = registry.get("uid-1").expect("still there");
        assert_ne!(after.program_hash, before.program_hash, "the new source");
        assert_eq!(after.state, first.state, "the state is the object's");
        assert_eq!(after.saved, Some((7, 0)));

        let pod = &observed().targets[0].id;
        let rule = |entry: &Entry, n: usize| entry.program.policies[0].rules[n].fingerprint.clone();
        let next = evaluate(&after.program, &observed(), 15, &after.state, &context);
        let since = |n: usize| next.state.timer(0, &rule(&after, n), pod).map(|t| t.since);
        assert_eq!(since(0), Some(0), "the unchanged rule's timer runs on");
        assert_eq!(since(1), Some(15), "the changed rule's starts over");
        assert_eq!(next.state.timer(0, &rule(&before, 1), pod), None);

        // Another object of the same source has its own state.
        registry.put(entry("uid-2", &source("web-renamed", 80)));
        assert_eq!(registry.get("uid-2").expect("put").state, State::default());
    }

    #[test]
    fn a_policy_names_the_watches_down_that_feed_what_it_reads() {
        let registry = Registry::default();
        registry.put(entry("status", &source("web", 90)));
        let metric = "policy m {\n  select pods where app = \"web\"\n  mode auto\n  when memory_percent > 90 then restart\n}\n";
        registry.put(entry("metric", metric));
        assert!(registry.watches_down(&Down::default()).is_empty());
        let down = Down([Watch::Pods, Watch::Nodes].into_iter().collect());
        let named = registry.watches_down(&down);
        assert_eq!(named.len(), 1, "{named:?}");
        assert_eq!(named["status"], ["pods"]);
    }

    #[tokio::test]
    async fn a_new_or_edited_policy_wakes_the_loop_and_a_reconcile_of_the_same_does_not() {
        let registry = Registry::default();
        let woken =
            |registry: &Registry| futures::FutureExt::now_or_never(registry.changed()).is_some();
        assert!(!woken(&registry), "nothing put yet");
        registry.put(entry("uid-1", &source("web", 90)));
        registry.put(entry("uid-2", &source("api", 90)));
        assert!(woken(&registry), "new policies");
        assert!(
            !woken(&registry),
            "two puts before the loop looked wake it once"
        );
        registry.put(entry("uid-1", &source("web", 90)));
        assert!(!woken(&registry), "the same program reconciled again");
        registry.put(entry("uid-1", &source("web", 80)));
        assert!(woken(&registry), "an edit");
    }
}
