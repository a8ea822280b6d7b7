//! The evaluation loop: every cycle, the cluster as the reflectors hold it
//! becomes observations, each compiled policy is evaluated by the same
//! engine `test` and `simulate` run, and each decision is recorded as a
//! `HealingAction` before anything acts, then carried through the shared
//! step (the safety controller, the Kubernetes executors, the commit).
//!
//! Nothing is done twice: a record's name is deterministic (see
//! [`super::record`]); if it already exists, the firing was handled by this
//! or another operator before, and nothing runs again. Nothing is done
//! unrecorded: when the record cannot be written, the action does not run.

use super::crd::{ActionPhase, HealingAction};
use super::metrics::{MetricLabels, METRICS};
use super::observers::{Observers, Wakeups};
use super::recent::Recent;
use super::record::Recorded;
use super::registry::Registry;
use super::term::{lead, Lead};
use crate::act::cluster::KubeExecutor;
use crate::catalog::Kind;
use crate::engine::observation::{Observations, TargetId};
use crate::engine::{evaluate, evaluate_watch, Context, WaitReason};
use crate::observe::{peek, snapshot, History};
use crate::safety::SafetyConfig;
use kube::Client;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// What the loop needs.
pub struct Loop {
    pub client: Client,
    pub safety: SafetyConfig,
    pub registry: Arc<Registry>,
    pub observers: Observers,
    /// Where node actions are recorded (they have no namespace).
    pub namespace: String,
    /// The uids of the policy objects that are still there.
    pub live: Box<dyn Fn() -> HashSet<String> + Send + Sync>,
    pub announcer: super::events::Announcer,
    /// Set once the caches have synced: what `/readyz` answers.
    pub ready: Arc<std::sync::atomic::AtomicBool>,
    /// The AI analyzer, and where its verdicts come back.
    pub analysis: super::analysis::Analysis,
    pub answers: tokio::sync::mpsc::Sender<super::analysis::Answered>,
    /// Which namespaces this operator evaluates and acts in.
    pub shard: super::shard::Shard,
    /// Where `notify` posts, beside its record and Events.
    pub webhooks: crate::act::webhooks::Webhooks,
    /// Seconds of a gap the data says nothing about that a `for` timer
    /// survives (`run --outage-tolerance`).
    pub outage_tolerance: i64,
    /// Whether this replica leads now: a decision is not recorded once it
    /// does not, though its pass began while it did.
    pub leading: watch::Receiver<super::leader::Leading>,
}

/// Which evaluation a pass runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// Every rule on the whole cluster, appending each metric's sample.
    Cycle,
    /// The status and event rules on what a watch event is about.
    Watch,
}

/// Runs a cycle every `evaluationIntervalSeconds`, and between cycles the
/// status and event rules on each pod change (`events`), until the task is
/// dropped: a crash loop is acted on when it is reported, not at the next
/// tick.
pub async fn run(
    context: Loop,
    wakeups: Wakeups,
    mut verdicts: super::analysis::Answers,
    mut leading: watch::Receiver<super::leader::Leading>,
    sources: super::sources::Sources,
) {
    let Wakeups {
        pods: mut events,
        records: mut answers,
    } = wakeups;
    context.observers.ready().await;
    context
        .ready
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let interval = context.safety.evaluation_interval_seconds.max(1);
    tracing::info!(interval, "evaluation loop started");
    let mut work = Work {
        history: History::new(3_600),
        recorded: Recorded::default(),
        handled: Recorded::default(),
        asking: HashSet::new(),
        term: None,
        executor: KubeExecutor::new(context.client.clone(), context.webhooks.clone()),
        alarms: BTreeMap::new(),
        reported: Default::default(),
        collected: 0,
        without_data: Default::default(),
        watches_down: Default::default(),
        sources,
    };
    let mut last_watch = std::time::Instant::now();
    let mut last_watch_cost = Duration::ZERO;
    let mut ticker = tokio::time::interval(Duration::from_secs(interval));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut settling = false;
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                settling = false;
                if lead(&context, &leading, &mut work).await != Lead::Follows {
                    cycle(&context, &mut work).await;
                }
            }
            // A policy new or changed: its first evaluation comes soon, not
            // a whole interval later; registrations a moment apart (an
            // operator's start, `kubectl apply` of a folder) make one cycle.
            _ = context.registry.changed() => {
                // From the first change: later ones must not put the cycle
                // off, however steadily they come.
                if !settling {
                    settling = true;
                    ticker.reset_after(POLICY_SETTLE);
                }
            }
            // On taking the lead, a cycle at once: what changed while this
            // replica followed is seen now, not at the next tick.
            Ok(()) = leading.changed() => {
                if lead(&context, &leading, &mut work).await == Lead::Takes {
                    cycle(&context, &mut work).await;
                }
            }
            Some(_) = answers.recv() => {
                while answers.try_recv().is_ok() {}
                match lead(&context, &leading, &mut work).await {
                    Lead::Follows => {}
                    // A cycle answers the records too.
                    Lead::Takes => cycle(&context, &mut work).await,
                    Lead::Holds => answer(&context, &mut work).await,
                }
            }
            Some(answered) = verdicts.recv() => {
                // A verdict asked in another term is dropped, as a follower
                // drops it: the lead passed in between, and the leader's
                // sweep ends the case and asks it again (see `interrupted`).
                match lead(&context, &leading, &mut work).await {
                    Lead::Follows => {
                        work.asking.remove(&answered.record);
                    }
                    Lead::Takes => cycle(&context, &mut work).await,
                    Lead::Holds if answered.term != work.term => {
                        work.asking.remove(&answered.record);
                    }
                    Lead::Holds => super::analysis::decided(&context, &mut work, answered).await,
                }
            }
            Some(namespace) = events.recv() => {
                match lead(&context, &leading, &mut work).await {
                    Lead::Follows => continue,
                    // The cycle reads every namespace, this one among them.
                    Lead::Takes => {
                        cycle(&context, &mut work).await;
                        continue;
                    }
                    Lead::Holds => {}
                }
                // A burst of changes makes one pass, and passes are apart by
                // four times the last one's observing (at most WATCH_GAP): in a
                // storm of changes each pass would otherwise read the whole
                // cluster for the few made during the last, and a small
                // cluster's passes cost too little to need a gap.
                let mut namespaces = BTreeSet::from([namespace]);
                let gap = (last_watch_cost * 4).min(WATCH_GAP);
                let since = last_watch.elapsed();
                if since < gap {
                    tokio::time::sleep(gap - since).await;
                }
                while let Ok(more) = events.try_recv() {
                    namespaces.insert(more);
                }
                last_watch_cost = watch_pass(&context, &mut work, &namespaces).await;
                last_watch = std::time::Instant::now();
            }
            _ = alarm(&work.alarms) => {
                let now = k8s_openapi::jiff::Timestamp::now().as_second();
                let due: Vec<i64> = work.alarms.range(..=now).map(|(at, _)| *at).collect();
                let mut namespaces = BTreeSet::new();
                for at in due {
                    namespaces.extend(work.alarms.remove(&at).unwrap_or_default());
                }
                match lead(&context, &leading, &mut work).await {
                    Lead::Follows => {}
                    Lead::Takes => cycle(&context, &mut work).await,
                    Lead::Holds if namespaces.is_empty() => {}
                    Lead::Holds => {
                        watch_pass(&context, &mut work, &namespaces).await;
                    }
                }
            }
        }
    }
}

/// How long the loop waits after a policy changed before its cycle, for
/// other changes of the same burst (counted from the first).
const POLICY_SETTLE: Duration = Duration::from_millis(250);

/// The most time kept between two watch passes: what a status change may
/// wait for its pass in a storm of changes at the largest scale (the target
/// from a change to its HealingAction is 250 ms at the 99th percentile).
const WATCH_GAP: Duration = Duration::from_millis(50);

/// Sleeps until the earliest alarm, or for ever without one.
async fn alarm(alarms: &BTreeMap<i64, BTreeSet<String>>) {
    match alarms.keys().next() {
        Some(&at) => {
            let now = k8s_openapi::jiff::Timestamp::now().as_second();
            let wait = u64::try_from(at.saturating_sub(now)).unwrap_or(0);
            tokio::time::sleep(Duration::from_secs(wait)).await;
        }
        None => std::future::pending().await,
    }
}

/// The status and event rules on `namespaces`, with their samples as the
/// last cycle left them.
/// Returns how long observing took: the part of a pass that grows with the
/// cluster (what it then writes waits on the API server, not on the CPU).
async fn watch_pass(context: &Loop, work: &mut Work, namespaces: &BTreeSet<String>) -> Duration {
    let started = std::time::Instant::now();
    let now = k8s_openapi::jiff::Timestamp::now().as_second();
    let cluster = context.observers.in_namespaces(namespaces);
    // A policy on containers registered since the last cycle is heard now.
    work.history
        .observe_containers(context.registry.selects(Kind::Containers));
    let observations = peek(&cluster, &mut work.history, now);
    let observing = started.elapsed();
    evaluate_all(context, work, &observations, now, Pass::Watch).await;
    observing
}

/// Carries out or rejects the records people answered.
async fn answer(context: &Loop, work: &mut Work) {
    let all = context.observers.records();
    let answered = super::approval::to_answer(&all, &work.handled);
    if answered.is_empty() {
        return;
    }
    let now = k8s_openapi::jiff::Timestamp::now().as_second();
    let observations = peek(&context.observers.cluster(), &mut work.history, now);
    let recent = Recent::gather(&all, &observations, context.observers.autoscaled());
    let handled = super::approval::process(
        &context.client,
        &context.safety,
        &context.registry,
        answered,
        &mut work.executor,
        &super::approval::Now {
            recent: &recent,
            observations: &observations,
            at: now,
        },
    )
    .await;
    // A record changed since (a person answers again) has another
    // version, and is answered again.
    for record in &handled {
        work.handled.insert(Recorded::version_of(record));
    }
}

/// One cycle: the whole cluster, every rule, each metric's sample appended;
/// then the answered records.
async fn cycle(context: &Loop, work: &mut Work) {
    let now = k8s_openapi::jiff::Timestamp::now().as_second();
    let live = (context.live)();
    context.registry.retain(|uid| live.contains(uid));
    let started = std::time::Instant::now();
    let cluster = context.observers.cluster();
    let programs = context.registry.programs();
    let step = i64::try_from(context.safety.evaluation_interval_seconds.max(1)).unwrap_or(60);
    let fetched = work.sources.fetch(&programs, &cluster, now, step).await;
    let fetching = started.elapsed();
    // The cycle's own time, observing and evaluating, apart from waiting on
    // the metric source.
    let started = std::time::Instant::now();
    // Samples of objects gone since are dropped.
    if !fetched.is_empty() {
        let known = observed_ids(&cluster);
        work.history.absorb(fetched, |id| known.contains(id));
    }
    // Samples are kept for the metrics the policies read, as far back as
    // their longest window (and a cycle more, so a window's oldest sample
    // is there); the rest keep their latest value.
    let longest = programs
        .iter()
        .map(|(_, program)| program.longest_window())
        .max()
        .unwrap_or(0);
    let longest = i64::try_from(longest).unwrap_or(i64::MAX);
    work.history.set_retention(longest.saturating_add(2 * step));
    work.history.keep_series_of(
        programs
            .iter()
            .flat_map(|(_, program)| program.metrics.iter().map(|m| m.name.clone()))
            .collect(),
    );
    work.history.keep_status_history_of(
        programs
            .iter()
            .flat_map(|(_, program)| program.status_windows())
            .map(str::to_string)
            .collect(),
    );
    work.history
        .observe_containers(context.registry.selects(Kind::Containers));
    let observations = snapshot(&cluster, &mut work.history, now);
    let observed = started.elapsed();
    // What each policy's status names of the watches that are down.
    work.watches_down = context.registry.watches_down(&cluster.down);
    // Before the rules: a lost case's request, closed, lets its rule put
    // the case again in this cycle rather than be held by the request.
    super::interrupted::sweep(context, work, &context.observers.records()).await;
    let recent = evaluate_all(context, work, &observations, now, Pass::Cycle).await;
    // What the scale harness reads (benches/scale.rs): the cycle's own
    // time, observing and evaluating, before the records' upkeep.
    tracing::debug!(
        targets = observations.targets.len(),
        fetch_ms = fetching.as_secs_f64() * 1e3,
        observe_ms = observed.as_secs_f64() * 1e3,
        cycle_ms = started.elapsed().as_secs_f64() * 1e3,
        "cycle"
    );
    answer(context, work).await;
    // The phase first: naming a record's version costs an allocation, and
    // most records are long done.
    let due: Vec<Arc<HealingAction>> = context
        .observers
        .records()
        .into_iter()
        .filter(|r| r.status.as_ref().and_then(|s| s.phase) == Some(ActionPhase::Verifying))
        .filter(|r| !work.handled.contains(&Recorded::version_of(r)))
        .collect();
    let leaving = if due.is_empty() {
        HashSet::new()
    } else {
        super::verify::leaving(&cluster)
    };
    let verified = super::verify::verify_due(
        &context.client,
        &context.registry,
        &due,
        &super::verify::Seen {
            observations: &observations,
            leaving: &leaving,
        },
        &context.safety,
        &context.announcer,
        now,
    )
    .await;
    for record in &verified {
        work.handled.insert(Recorded::version_of(record));
    }
    super::breaker::report(context, work, &recent, now).await;
    if now.saturating_sub(work.collected) >= super::retention::EVERY {
        work.collected = now;
        super::retention::collect(
            &context.client,
            &context.observers.records(),
            &context.safety.record_retention,
            now,
        )
        .await;
    }
}

/// The pods, claims, workloads and nodes of `cluster`, which a source's answers
/// may be about; a filesystem is known where its node is.
fn observed_ids(cluster: &crate::observe::Cluster) -> Known {
    let namespaced =
        |kind: Kind, meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
            Some(TargetId {
                kind,
                namespace: meta.namespace.clone(),
                name: meta.name.clone()?,
            })
        };
    let pods = cluster
        .pods
        .iter()
        .filter_map(|p| namespaced(Kind::Pods, &p.metadata))
        .chain(
            cluster
                .claims
                .iter()
                .filter_map(|c| namespaced(Kind::PersistentVolumeClaims, &c.metadata)),
        );
    // A declared metric may come as one series per workload (`by
    // (deployment)`), which lands on the workload itself.
    let workloads = cluster
        .deployments
        .iter()
        .filter_map(|d| namespaced(Kind::Deployments, &d.metadata))
        .chain(
            cluster
                .stateful_sets
                .iter()
                .filter_map(|s| namespaced(Kind::StatefulSets, &s.metadata)),
        )
        .chain(
            cluster
                .daemon_sets
                .iter()
                .filter_map(|d| namespaced(Kind::DaemonSets, &d.metadata)),
        );
    let nodes = cluster.nodes.iter().filter_map(|n| {
        Some(TargetId {
            kind: Kind::Nodes,
            namespace: None,
            name: n.metadata.name.clone()?,
        })
    });
    Known(pods.chain(workloads).chain(nodes).collect())
}

/// The targets a source's answers may be about.
struct Known(HashSet<TargetId>);

impl Known {
    fn contains(&self, id: &TargetId) -> bool {
        match id.node_of_filesystem() {
            Some(node) => self.0.contains(&TargetId {
                kind: Kind::Nodes,
                namespace: None,
                name: node.to_string(),
            }),
            None => self.0.contains(id),
        }
    }
}

/// What the loop keeps between passes.
pub(super) struct Work {
    pub(super) history: History,
    pub(super) recorded: Recorded,
    /// The records answered or verified this run, as they were then
    /// ([`Recorded::version_of`]): until the record cache shows what was
    /// written, a record still looks approved or due, and must not be
    /// carried out or verified twice.
    pub(super) handled: Recorded,
    /// The records of the AI cases this process asked and awaits.
    pub(super) asking: HashSet<String>,
    /// The term of the lead this replica holds, as the loop last looked
    /// ([`super::leader::Leading`]): a pass acts only while it still holds.
    pub(super) term: super::leader::Leading,
    pub(super) executor: KubeExecutor,
    /// When a `for` that holds now ends (seconds), and in which namespaces:
    /// a watch pass runs then, so a status rule fires when its `for` ends
    /// rather than at the next cycle.
    alarms: BTreeMap<i64, BTreeSet<String>>,
    /// What each policy's status last said of its breaker.
    pub(super) reported: super::breaker::Reported,
    /// When completed records were last collected (seconds).
    collected: i64,
    /// What each policy's last cycle had no data for, by uid.
    pub(super) without_data: std::collections::HashMap<String, BTreeSet<String>>,
    /// The watches down at the last cycle that feed what each policy reads,
    /// by uid.
    pub(super) watches_down: std::collections::HashMap<String, Vec<String>>,
    /// Prometheus or metrics-server.
    sources: super::sources::Sources,
}

/// The most alarms kept: a cluster where more timers run at once waits for
/// its cycles for the rest.
const MAX_ALARMS: usize = 10_000;

/// Evaluates every compiled policy on `observations`, handles each
/// decision, and keeps each policy's state.
/// Returns what the records said as the pass began, for the cycle's upkeep
/// to read without gathering it again.
async fn evaluate_all(
    context: &Loop,
    work: &mut Work,
    observations: &Observations,
    now: i64,
    pass: Pass,
) -> Recent {
    let recent = Recent::gather(
        &context.observers.records(),
        observations,
        context.observers.autoscaled(),
    );
    let mut engine_seconds = 0.0;
    if pass == Pass::Cycle {
        work.without_data.clear();
    }
    for entry in context.registry.snapshot() {
        let engine = engine_context(
            &context.safety,
            context.outage_tolerance,
            entry.namespace.as_deref(),
        );
        let started = std::time::Instant::now();
        let evaluation = match pass {
            Pass::Cycle => evaluate(&entry.program, observations, now, &entry.state, &engine),
            Pass::Watch => evaluate_watch(&entry.program, observations, now, &entry.state, &engine),
        };
        engine_seconds += started.elapsed().as_secs_f64();
        let rules: usize = entry.program.policies.iter().map(|p| p.rules.len()).sum();
        METRICS.rule_evaluations.inc_by(rules as u64);
        for waiting in &evaluation.waiting {
            match &waiting.why {
                WaitReason::Holding { since, needed } => {
                    let Some(namespace) = &waiting.target.namespace else {
                        continue;
                    };
                    let at = since.saturating_add(i64::try_from(*needed).unwrap_or(i64::MAX));
                    if work.alarms.len() < MAX_ALARMS || work.alarms.contains_key(&at) {
                        work.alarms.entry(at).or_default().insert(namespace.clone());
                    }
                }
                WaitReason::Unknown { missing } => {
                    for what in missing {
                        METRICS
                            .unknown
                            .get_or_create(&MetricLabels {
                                metric: what.clone(),
                            })
                            .inc();
                    }
                    if pass == Pass::Cycle {
                        let seen = work.without_data.entry(entry.uid.clone()).or_default();
                        if seen.len() < MAX_WITHOUT_DATA {
                            seen.extend(missing.iter().cloned());
                        }
                    }
                }
            }
        }
        let mut state = evaluation.state;
        for decision in &evaluation.decisions {
            super::handle::handle(context, work, &entry, decision, &mut state, &recent, now).await;
        }
        let fingerprint = super::persist::fingerprint(&state);
        if super::persist::due(&state, fingerprint, entry.saved, now) {
            let saved = super::persist::save(
                &context.client,
                &entry,
                &state,
                &context.namespace,
                context.shard,
            );
            match saved.await {
                Ok(()) => context.registry.mark_saved(&entry.uid, fingerprint, now),
                Err(error) => {
                    tracing::warn!(%error, policy = %entry.name, "cannot save the policy's state")
                }
            }
        }
        context.registry.update_state(&entry.uid, state);
    }
    METRICS.evaluation_seconds.observe(engine_seconds);
    recent
}

/// The most names a policy's status lists as without data.
const MAX_WITHOUT_DATA: usize = 20;

/// What the engine is told besides a policy's program: the safety
/// configuration's interval and protections, and the outage tolerance the
/// operator was started with, for a policy object in `home_namespace`.
pub fn engine_context(
    safety: &SafetyConfig,
    outage_tolerance: i64,
    home_namespace: Option<&str>,
) -> Context {
    let interval = safety.evaluation_interval_seconds.max(1);
    Context {
        protected_namespaces: safety.protected_namespaces.clone(),
        protected_labels: safety.protected_labels.clone().into_iter().collect(),
        outage_tolerance,
        ..Context::new(i64::try_from(interval).unwrap_or(i64::MAX), home_namespace)
    }
}
