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

use super::crd::{ActionPhase, HealingAction, HealingActionStatus};
use super::record::{self, firing_since};
use super::registry::{Entry, Registry};
use crate::act::cluster::KubeExecutor;
use crate::act::{carry_out, Outcome};
use crate::engine::observation::Observations;
use crate::engine::state::State;
use crate::engine::{evaluate, evaluate_watch, Block, Context, Decision, WaitReason};
use crate::observe::{peek, snapshot, Cluster, History};
use crate::safety::SafetyConfig;
use futures::{Stream, StreamExt};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt::Debug;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// The reflectors' stores of what the loop observes.
#[derive(Clone)]
pub struct Observers {
    pods: Store<Pod>,
    replica_sets: Store<ReplicaSet>,
    deployments: Store<Deployment>,
    stateful_sets: Store<StatefulSet>,
    daemon_sets: Store<DaemonSet>,
    nodes: Store<Node>,
    /// The records, for the answers people give them.
    records: Store<HealingAction>,
}

type Watches = Vec<std::pin::Pin<Box<dyn futures::Future<Output = ()> + Send>>>;

/// A reflector on every `K` of the cluster; with `notify`, the namespace of
/// each object that changes is sent there (dropped when the loop is behind:
/// the next cycle sees the change anyway).
fn reflect<K>(
    client: &Client,
    watches: &mut Watches,
    notify: Option<mpsc::Sender<String>>,
) -> Store<K>
where
    K: Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned + Send + Sync + 'static,
    K::DynamicType: Eq + Hash + Clone,
{
    let (reader, writer) = reflector::store();
    let stream = reflector(
        writer,
        watcher(Api::<K>::all(client.clone()), watcher::Config::default()),
    )
    .default_backoff()
    .touched_objects()
    .map(move |item| {
        if let (Ok(object), Some(notify)) = (&item, &notify) {
            if let Some(namespace) = object.meta().namespace.clone() {
                let _ = notify.try_send(namespace);
            }
        }
        item
    });
    watches.push(Box::pin(drain(stream, K::kind(&()).to_string())));
    reader
}

use kube::runtime::reflector::reflector;

async fn drain<S, T, E>(stream: S, kind: String)
where
    S: Stream<Item = Result<T, E>> + Send,
    E: std::fmt::Display,
{
    let mut stream = std::pin::pin!(stream);
    while let Some(item) = stream.next().await {
        if let Err(error) = item {
            tracing::warn!(%kind, %error, "watch failed; retrying with backoff");
        }
    }
}

/// Changes the loop is told of between cycles: namespaces.
pub type PodEvents = mpsc::Receiver<String>;

/// What wakes the loop between cycles.
pub struct Wakeups {
    /// Namespaces where pods changed.
    pub pods: PodEvents,
    /// Namespaces where records changed (a person may have answered one).
    pub records: mpsc::Receiver<String>,
}

impl Observers {
    /// Starts the reflectors; the futures returned drive them, and pod
    /// changes arrive on the receiver.
    pub fn start(client: &Client) -> (Observers, Watches, Wakeups) {
        let mut watches: Watches = Vec::new();
        let (sender, receiver) = mpsc::channel(1_024);
        let (answers, answered) = mpsc::channel(1_024);
        let observers = Observers {
            pods: reflect(client, &mut watches, Some(sender)),
            replica_sets: reflect(client, &mut watches, None),
            deployments: reflect(client, &mut watches, None),
            stateful_sets: reflect(client, &mut watches, None),
            daemon_sets: reflect(client, &mut watches, None),
            nodes: reflect(client, &mut watches, None),
            records: reflect(client, &mut watches, Some(answers)),
        };
        let wakeups = Wakeups {
            pods: receiver,
            records: answered,
        };
        (observers, watches, wakeups)
    }

    async fn ready(&self) {
        let _ = self.pods.wait_until_ready().await;
        let _ = self.replica_sets.wait_until_ready().await;
        let _ = self.deployments.wait_until_ready().await;
        let _ = self.stateful_sets.wait_until_ready().await;
        let _ = self.daemon_sets.wait_until_ready().await;
        let _ = self.nodes.wait_until_ready().await;
        let _ = self.records.wait_until_ready().await;
    }

    fn cluster(&self) -> Cluster {
        Cluster {
            pods: self.pods.state(),
            replica_sets: self.replica_sets.state(),
            deployments: self.deployments.state(),
            stateful_sets: self.stateful_sets.state(),
            daemon_sets: self.daemon_sets.state(),
            nodes: self.nodes.state(),
        }
    }
}

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
}

/// Which evaluation a pass runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// Every rule on the whole cluster, appending each metric's sample.
    Cycle,
    /// The status and event rules on what a watch event is about.
    Watch,
}

/// The records written this run, so a block held for many cycles is not
/// asked of the API server again each cycle; bounded.
struct Recorded(HashSet<String>);

impl Recorded {
    const MAX: usize = 100_000;

    fn contains(&self, name: &str) -> bool {
        self.0.contains(name)
    }

    fn insert(&mut self, name: String) {
        if self.0.len() >= Self::MAX {
            self.0.clear();
        }
        self.0.insert(name);
    }
}

/// Runs a cycle every `evaluationIntervalSeconds`, and between cycles the
/// status and event rules on each pod change (`events`), until the task is
/// dropped: a crash loop is acted on when it is reported, not at the next
/// tick.
pub async fn run(context: Loop, wakeups: Wakeups, mut leading: watch::Receiver<bool>) {
    let Wakeups {
        pods: mut events,
        records: mut answers,
    } = wakeups;
    context.observers.ready().await;
    let mut was_leading = false;
    let interval = context.safety.evaluation_interval_seconds.max(1);
    tracing::info!(interval, "evaluation loop started");
    let mut work = Work {
        history: History::new(3_600),
        recorded: Recorded(HashSet::new()),
        executor: KubeExecutor {
            client: context.client.clone(),
        },
        alarms: BTreeMap::new(),
    };
    let mut ticker = tokio::time::interval(Duration::from_secs(interval));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                if lead(&context, &leading, &mut was_leading).await {
                    cycle(&context, &mut work).await;
                }
            }
            // On taking the lead, a cycle at once: what changed while this
            // replica followed is seen now, not at the next tick.
            Ok(()) = leading.changed() => {
                let before = was_leading;
                if lead(&context, &leading, &mut was_leading).await && !before {
                    cycle(&context, &mut work).await;
                }
            }
            Some(_) = answers.recv() => {
                while answers.try_recv().is_ok() {}
                if lead(&context, &leading, &mut was_leading).await {
                    answer(&context, &mut work).await;
                }
            }
            Some(namespace) = events.recv() => {
                if !lead(&context, &leading, &mut was_leading).await {
                    continue;
                }
                // A burst of changes makes one pass.
                let mut namespaces = BTreeSet::from([namespace]);
                while let Ok(more) = events.try_recv() {
                    namespaces.insert(more);
                }
                watch_pass(&context, &mut work, &namespaces).await;
            }
            _ = alarm(&work.alarms) => {
                let now = k8s_openapi::jiff::Timestamp::now().as_second();
                let due: Vec<i64> = work.alarms.range(..=now).map(|(at, _)| *at).collect();
                let mut namespaces = BTreeSet::new();
                for at in due {
                    namespaces.extend(work.alarms.remove(&at).unwrap_or_default());
                }
                if lead(&context, &leading, &mut was_leading).await && !namespaces.is_empty() {
                    watch_pass(&context, &mut work, &namespaces).await;
                }
            }
        }
    }
}

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
async fn watch_pass(context: &Loop, work: &mut Work, namespaces: &BTreeSet<String>) {
    let now = k8s_openapi::jiff::Timestamp::now().as_second();
    let cluster = context.observers.cluster().in_namespaces(namespaces);
    let observations = peek(&cluster, &mut work.history, now);
    evaluate_all(context, work, &observations, now, Pass::Watch).await;
}

/// Carries out or rejects the records people answered.
async fn answer(context: &Loop, work: &mut Work) {
    super::approval::process(
        &context.client,
        &context.safety,
        &context.registry,
        context.observers.records.state(),
        &mut work.executor,
    )
    .await;
}

/// One cycle: the whole cluster, every rule, each metric's sample appended;
/// then the answered records.
async fn cycle(context: &Loop, work: &mut Work) {
    let now = k8s_openapi::jiff::Timestamp::now().as_second();
    let live = (context.live)();
    context.registry.retain(|uid| live.contains(uid));
    let observations = snapshot(&context.observers.cluster(), &mut work.history, now);
    evaluate_all(context, work, &observations, now, Pass::Cycle).await;
    answer(context, work).await;
}

/// Whether this replica leads now. On taking the lead it resumes each
/// policy's state as the previous leader saved it.
async fn lead(context: &Loop, leading: &watch::Receiver<bool>, was_leading: &mut bool) -> bool {
    let now_leading = *leading.borrow();
    if now_leading && !*was_leading {
        for entry in context.registry.snapshot() {
            if let Some(state) =
                super::persist::load(&context.client, &entry, &context.namespace).await
            {
                context.registry.update_state(&entry.uid, state);
            }
        }
    }
    *was_leading = now_leading;
    now_leading
}

/// What the loop keeps between passes.
struct Work {
    history: History,
    recorded: Recorded,
    executor: KubeExecutor,
    /// When a `for` that holds now ends (seconds), and in which namespaces:
    /// a watch pass runs then, so a status rule fires when its `for` ends
    /// rather than at the next cycle.
    alarms: BTreeMap<i64, BTreeSet<String>>,
}

/// The most alarms kept: a cluster where more timers run at once waits for
/// its cycles for the rest.
const MAX_ALARMS: usize = 10_000;

/// Evaluates every compiled policy on `observations`, handles each
/// decision, and keeps each policy's state.
async fn evaluate_all(
    context: &Loop,
    work: &mut Work,
    observations: &Observations,
    now: i64,
    pass: Pass,
) {
    let interval = context.safety.evaluation_interval_seconds.max(1);
    for entry in context.registry.snapshot() {
        let engine = Context {
            protected_namespaces: context.safety.protected_namespaces.clone(),
            protected_labels: context
                .safety
                .protected_labels
                .clone()
                .into_iter()
                .collect(),
            ..Context::new(
                i64::try_from(interval).unwrap_or(i64::MAX),
                entry.namespace.as_deref(),
            )
        };
        let evaluation = match pass {
            Pass::Cycle => evaluate(&entry.program, observations, now, &entry.state, &engine),
            Pass::Watch => evaluate_watch(&entry.program, observations, now, &entry.state, &engine),
        };
        for waiting in &evaluation.waiting {
            if let (WaitReason::Holding { since, needed }, Some(namespace)) =
                (&waiting.why, &waiting.target.namespace)
            {
                let at = since.saturating_add(i64::try_from(*needed).unwrap_or(i64::MAX));
                if work.alarms.len() < MAX_ALARMS || work.alarms.contains_key(&at) {
                    work.alarms.entry(at).or_default().insert(namespace.clone());
                }
            }
        }
        let mut state = evaluation.state;
        for decision in &evaluation.decisions {
            handle(
                context,
                &entry,
                decision,
                &mut state,
                &mut work.executor,
                &mut work.recorded,
                now,
            )
            .await;
        }
        let fingerprint = super::persist::fingerprint(&state);
        if super::persist::due(&state, fingerprint, entry.saved, now) {
            match super::persist::save(&context.client, &entry, &state, &context.namespace).await {
                Ok(()) => context.registry.mark_saved(&entry.uid, fingerprint, now),
                Err(error) => {
                    tracing::warn!(%error, policy = %entry.name, "cannot save the policy's state")
                }
            }
        }
        context.registry.update_state(&entry.uid, state);
    }
}

/// Records `decision`, then, if the record is new, carries it out and
/// writes what came of it.
async fn handle(
    context: &Loop,
    entry: &Entry,
    decision: &Decision,
    state: &mut State,
    executor: &mut KubeExecutor,
    recorded: &mut Recorded,
    now: i64,
) {
    let since = firing_since(decision, now);
    // An action's record is one per firing; a block's, one per episode: the
    // same block until it lifts, however many cycles it holds.
    let (object, what, episode) = match decision {
        Decision::Act { object, .. } => (object, "act".to_string(), since),
        Decision::Ambiguous { object, .. } => (object, "ai".to_string(), since),
        // Another pod of the same object led to this cycle's decision on
        // it, which has its own record.
        Decision::Blocked {
            by: Block::SameObject,
            ..
        } => return,
        Decision::Blocked {
            object, by, until, ..
        } => (
            object,
            format!("blocked:{}", by.as_str()),
            until.unwrap_or(since),
        ),
    };
    let name = record::name(entry, decision, object, episode, &what);
    if recorded.contains(&name) {
        return;
    }
    let namespace = object
        .namespace
        .clone()
        .unwrap_or_else(|| context.namespace.clone());
    let actions: Api<HealingAction> = Api::namespaced(context.client.clone(), &namespace);
    let record = record::healing_action(entry, decision, &name, &namespace, since);
    let created = match actions.create(&PostParams::default(), &record).await {
        Ok(created) => created,
        Err(kube::Error::Api(status)) if status.code == 409 => {
            // Recorded before (a restart, another replica): handled then.
            recorded.insert(name);
            return;
        }
        Err(error) => {
            tracing::warn!(%error, record = %name, "cannot record the decision; nothing is done");
            return;
        }
    };
    recorded.insert(name.clone());
    let carried = carry_out(
        &entry.program,
        &context.safety,
        state,
        executor,
        decision,
        now,
        0,
    )
    .await;
    let (phase, message) = record::phase(&carried.outcome);
    log(entry, decision, &name, &carried.outcome);
    context
        .announcer
        .announce(
            &created,
            decision.target(),
            &created.spec.action.name,
            &carried.outcome,
            &message,
        )
        .await;
    let stamp = Time(k8s_openapi::jiff::Timestamp::now());
    let status = HealingActionStatus {
        phase: Some(phase),
        message: Some(message),
        transitions: BTreeMap::from([(phase_name(phase), stamp)]),
        checks: carried
            .admission
            .map(|a| vec![format!("safety controller: {a:?}")])
            .unwrap_or_default(),
        ..HealingActionStatus::default()
    };
    let patch = serde_json::json!({ "status": status });
    if let Err(error) = actions
        .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        tracing::warn!(%error, record = %name, "cannot write the record's phase");
    }
}

fn phase_name(phase: ActionPhase) -> String {
    format!("{phase:?}")
}

fn log(entry: &Entry, decision: &Decision, record: &str, outcome: &Outcome) {
    tracing::info!(
        policy = %entry.name,
        uid = %entry.uid,
        target = %decision.target(),
        rules = ?decision.rules().iter().map(|r| r + 1).collect::<Vec<_>>(),
        evidence = %crate::engine::evidence::render(decision.evidence()).join("; "),
        %record,
        outcome = ?outcome,
        "decision"
    );
}
