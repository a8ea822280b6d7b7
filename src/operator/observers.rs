//! The reflectors: the operator's cache of the objects it observes, kept
//! by watches, and what wakes the evaluation loop between cycles.

use super::crd::{HealingAction, ObjectRef};
use super::watch::{restarting, Health};
use crate::engine::observation::TargetId;
use crate::observe::watches::Watch;
use crate::observe::Cluster;
use futures::{Stream, StreamExt};
use k8s_openapi::api::apps::v1::{
    ControllerRevision, DaemonSet, Deployment, ReplicaSet, StatefulSet,
};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{
    Node, PersistentVolume, PersistentVolumeClaim, Pod, ResourceQuota,
};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::runtime::reflector::{self, reflector, Store};
use kube::runtime::WatchStreamExt;
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::Hash;
use tokio::sync::mpsc;

/// The reflectors' stores of what the loop observes.
#[derive(Clone)]
pub struct Observers {
    pods: Store<Pod>,
    replica_sets: Store<ReplicaSet>,
    deployments: Store<Deployment>,
    stateful_sets: Store<StatefulSet>,
    daemon_sets: Store<DaemonSet>,
    nodes: Store<Node>,
    /// Events, for `event … count` rules; a new one wakes a watch pass.
    events: Store<k8s_openapi::api::events::v1::Event>,
    /// Policies on autoscalers read them, and the autoscaler guard reads
    /// which workloads they drive.
    autoscalers: Store<HorizontalPodAutoscaler>,
    jobs: Store<Job>,
    claims: Store<PersistentVolumeClaim>,
    budgets: Store<PodDisruptionBudget>,
    quotas: Store<ResourceQuota>,
    volumes: Store<PersistentVolume>,
    /// When a StatefulSet's or DaemonSet's rollout began.
    revisions: Store<ControllerRevision>,
    /// The records: the answers people give them, and what the guards and
    /// verification read.
    records: Store<HealingAction>,
    /// What this operator owns of the cluster.
    shard: super::shard::Shard,
    /// Which watches are down.
    health: Health,
}

type Watches = Vec<std::pin::Pin<Box<dyn futures::Future<Output = ()> + Send>>>;

/// Where the reflectors are started: their client, the futures that drive
/// them, and where each says whether it is up.
struct Reflectors<'a> {
    client: &'a Client,
    watches: &'a mut Watches,
    health: &'a Health,
}

/// A reflector on every `K` of the cluster, whose health is `watch`'s;
/// with `notify`, the namespace of each object that changes is sent there
/// (dropped when the loop is behind: the next cycle sees the change anyway).
fn reflect<K>(
    at: &mut Reflectors<'_>,
    watch: Watch,
    notify: Option<mpsc::Sender<String>>,
    trim: fn(&mut K),
) -> Store<K>
where
    K: Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned + Send + Sync + 'static,
    K::DynamicType: Eq + Hash + Clone,
{
    let (reader, writer) = reflector::store();
    let health = at.health.clone();
    let stream = reflector(
        writer,
        restarting(Api::<K>::all(at.client.clone())).modify(move |o| {
            // What no rule reads and every object carries: at 10,000 pods
            // the managed fields alone are a large share of the cache.
            o.meta_mut().managed_fields = None;
            if let Some(annotations) = o.meta_mut().annotations.as_mut() {
                annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
            }
            trim(o);
        }),
    )
    .default_backoff()
    .inspect(move |item| health.note(watch, item))
    .touched_objects()
    .map(move |item| {
        if let (Ok(object), Some(notify)) = (&item, &notify) {
            if let Some(namespace) = object.meta().namespace.clone() {
                let _ = notify.try_send(namespace);
            }
        }
        item
    });
    at.watches
        .push(Box::pin(drain(stream, K::kind(&()).to_string())));
    reader
}

/// Keeps an object as the API server sent it (less its managed fields).
fn keep<K>(_: &mut K) {}

/// A pod as the observations read it: its metadata, node, containers'
/// names, images and resources, and its status. What else the spec holds
/// (environment, mounts, probes, volumes) no rule reads.
fn trim_pod(pod: &mut Pod) {
    if let Some(spec) = pod.spec.as_mut() {
        spec.volumes = None;
        for container in spec
            .containers
            .iter_mut()
            .chain(spec.init_containers.iter_mut().flatten())
        {
            container.env = None;
            container.env_from = None;
            container.volume_mounts = None;
            container.command = None;
            container.args = None;
            container.liveness_probe = None;
            container.readiness_probe = None;
            container.startup_probe = None;
            container.ports = None;
        }
    }
}

/// A revision's creation is all `rollout_age` reads; its data is a whole
/// pod template.
fn trim_revision(revision: &mut ControllerRevision) {
    revision.data = Default::default();
}

/// A Job's pod template no rule reads (`rerun` reads the Job from the API
/// server).
fn trim_job(job: &mut Job) {
    if let Some(spec) = job.spec.as_mut() {
        spec.template = Default::default();
    }
}

/// A persistent volume's phase is all the observations read; its spec
/// (the volume source, its CSI attributes, node affinity) no rule does.
fn trim_volume(volume: &mut PersistentVolume) {
    volume.spec = None;
}

/// A ReplicaSet leads a pod to its Deployment: its owner is all the
/// observations read. (The executors read workloads' templates from the
/// API server when they change one, never from here.)
fn trim_replica_set(replica_set: &mut ReplicaSet) {
    replica_set.spec.template = None;
}

async fn drain<S, T, E>(stream: S, kind: String)
where
    S: Stream<Item = Result<T, E>> + Send,
    E: std::fmt::Display,
{
    let mut stream = std::pin::pin!(stream);
    while let Some(item) = stream.next().await {
        if let Err(error) = item {
            tracing::warn!(%kind, %error, "watch failed; listing again after a backoff");
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
    pub fn start(client: &Client, shard: super::shard::Shard) -> (Observers, Watches, Wakeups) {
        let mut watches: Watches = Vec::new();
        let health = Health::default();
        let (sender, receiver) = mpsc::channel(1_024);
        let (answers, answered) = mpsc::channel(1_024);
        let at = &mut Reflectors {
            client,
            watches: &mut watches,
            health: &health,
        };
        let observers = Observers {
            pods: reflect(at, Watch::Pods, Some(sender.clone()), trim_pod),
            replica_sets: reflect(at, Watch::ReplicaSets, None, trim_replica_set),
            deployments: reflect(at, Watch::Deployments, None, |d: &mut Deployment| {
                d.spec.template = Default::default()
            }),
            stateful_sets: reflect(at, Watch::StatefulSets, None, |s: &mut StatefulSet| {
                s.spec.template = Default::default()
            }),
            daemon_sets: reflect(at, Watch::DaemonSets, None, |d: &mut DaemonSet| {
                d.spec.template = Default::default()
            }),
            nodes: reflect(at, Watch::Nodes, None, keep),
            autoscalers: reflect(at, Watch::HorizontalPodAutoscalers, None, keep),
            jobs: reflect(at, Watch::Jobs, Some(sender.clone()), trim_job),
            claims: reflect(at, Watch::PersistentVolumeClaims, None, keep),
            budgets: reflect(at, Watch::PodDisruptionBudgets, None, keep),
            quotas: reflect(at, Watch::ResourceQuotas, None, keep),
            volumes: reflect(at, Watch::PersistentVolumes, None, trim_volume),
            revisions: reflect(at, Watch::ControllerRevisions, None, trim_revision),
            events: reflect(at, Watch::Events, Some(sender.clone()), keep),
            records: reflect(at, Watch::HealingActions, Some(answers), keep),
            shard,
            health,
        };
        let wakeups = Wakeups {
            pods: receiver,
            records: answered,
        };
        (observers, watches, wakeups)
    }

    pub async fn ready(&self) {
        let _ = self.pods.wait_until_ready().await;
        let _ = self.replica_sets.wait_until_ready().await;
        let _ = self.deployments.wait_until_ready().await;
        let _ = self.stateful_sets.wait_until_ready().await;
        let _ = self.daemon_sets.wait_until_ready().await;
        let _ = self.nodes.wait_until_ready().await;
        let _ = self.autoscalers.wait_until_ready().await;
        let _ = self.jobs.wait_until_ready().await;
        let _ = self.claims.wait_until_ready().await;
        let _ = self.budgets.wait_until_ready().await;
        let _ = self.quotas.wait_until_ready().await;
        let _ = self.volumes.wait_until_ready().await;
        let _ = self.revisions.wait_until_ready().await;
        let _ = self.events.wait_until_ready().await;
        let _ = self.records.wait_until_ready().await;
    }

    /// The objects this operator's shard owns: its namespaces' (and, for
    /// shard 0, the nodes).
    /// The whole cluster's sums (`select cluster`) come with the nodes.
    pub fn cluster(&self) -> Cluster {
        let shard = self.shard;
        if !shard.owns(None) {
            return self
                .whole_cluster()
                .retain(|namespace| shard.owns(namespace));
        }
        let cluster = self.whole_cluster().with_totals();
        if shard.count <= 1 {
            return cluster;
        }
        cluster.retain(|namespace| shard.owns(namespace))
    }

    /// The objects of `namespaces` this shard owns: what a watch pass or a
    /// second look reads. A part has no whole-cluster sums, so none are
    /// made for it.
    pub fn in_namespaces(&self, namespaces: &std::collections::BTreeSet<String>) -> Cluster {
        let shard = self.shard;
        let owned = namespaces
            .iter()
            .filter(|ns| shard.owns(Some(ns)))
            .cloned()
            .collect();
        self.whole_cluster().in_namespaces(&owned)
    }

    /// The records of this shard's decisions: those whose selected object
    /// is in its namespaces (a node's, shard 0's).
    pub fn records(&self) -> Vec<std::sync::Arc<HealingAction>> {
        let records = self.records.state();
        if self.shard.count <= 1 {
            return records;
        }
        records
            .into_iter()
            .filter(|r| self.shard.owns(r.spec.target.namespace.as_deref()))
            .collect()
    }

    fn whole_cluster(&self) -> Cluster {
        // Which watches are down is read before the caches: a watch that
        // lists again in between is then taken as down one cycle too long,
        // never an old cache as up to date.
        let down = self.health.down();
        Cluster {
            pods: self.pods.state(),
            replica_sets: self.replica_sets.state(),
            deployments: self.deployments.state(),
            stateful_sets: self.stateful_sets.state(),
            daemon_sets: self.daemon_sets.state(),
            nodes: self.nodes.state(),
            events: self.events.state(),
            jobs: self.jobs.state(),
            autoscalers: self.autoscalers.state(),
            claims: self.claims.state(),
            budgets: self.budgets.state(),
            quotas: self.quotas.state(),
            volumes: self.volumes.state(),
            revisions: self.revisions.state(),
            totals: None,
            down,
        }
    }

    /// The workload each HorizontalPodAutoscaler drives, with its name.
    pub fn autoscaled(&self) -> HashMap<TargetId, String> {
        self.autoscalers
            .state()
            .iter()
            .filter_map(|hpa| {
                let target = &hpa.spec.scale_target_ref;
                let id = ObjectRef {
                    kind: target.kind.clone(),
                    namespace: hpa.metadata.namespace.clone(),
                    name: target.name.clone(),
                    uid: None,
                }
                .target_id()?;
                Some((id, hpa.metadata.name.clone()?))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{Request, Response};
    use http_body_util::BodyExt;
    use kube::client::Body;
    use std::sync::{Arc, Mutex};
    use tokio::sync::Semaphore;

    fn pod_list(names: &[&str], version: &str) -> String {
        let items: Vec<serde_json::Value> = names
            .iter()
            .map(|n| serde_json::json!({"metadata": {"name": n, "namespace": "shop", "resourceVersion": version}}))
            .collect();
        serde_json::json!({"kind": "PodList", "apiVersion": "v1",
                           "metadata": {"resourceVersion": version}, "items": items})
        .to_string()
    }

    /// The watch event of an error `code`, as the API server streams it.
    fn watch_error(code: u16) -> String {
        serde_json::json!({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1",
            "status": "Failure", "code": code, "message": "the watch broke"}})
        .to_string()
            + "\n"
    }

    /// A test double of the API server whose first watch breaks with
    /// `error` (410 Gone, as when the watch's resourceVersion is too old, or
    /// any other), so the reflector must list again; the second list, which
    /// waits for `gate` when given, has a pod the first did not.
    fn breaking_server(
        error: u16,
        gate: Option<Arc<Semaphore>>,
    ) -> (Client, Arc<Mutex<Vec<String>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let lists = Arc::new(Mutex::new(0));
        let log = seen.clone();
        let service = tower::service_fn(move |request: Request<Body>| {
            let (log, lists, gate) = (log.clone(), lists.clone(), gate.clone());
            async move {
                let query = request.uri().query().unwrap_or("").to_string();
                let _ = request.into_body().collect().await;
                log.lock().expect("log").push(query.clone());
                let body = if query.contains("watch=true") {
                    if *lists.lock().expect("lists") == 1 {
                        watch_error(error)
                    } else {
                        // Resumed: the watch stays open with nothing new.
                        tokio::time::sleep(std::time::Duration::from_secs(30)).await;
                        String::new()
                    }
                } else {
                    let n = {
                        let mut n = lists.lock().expect("lists");
                        *n += 1;
                        *n
                    };
                    if n == 1 {
                        pod_list(&["web-1"], "1")
                    } else {
                        if let Some(gate) = gate {
                            gate.acquire().await.expect("the gate").forget();
                        }
                        pod_list(&["web-1", "web-2"], "5")
                    }
                };
                Ok::<_, std::convert::Infallible>(
                    Response::builder()
                        .status(200)
                        .header("content-type", "application/json")
                        .body(Body::from(body.into_bytes()))
                        .expect("a response"),
                )
            }
        });
        (Client::new(service, "default"), seen)
    }

    /// Whether `holds` came true within 20 s.
    async fn within_deadline(holds: impl Fn() -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
        while !holds() {
            if tokio::time::Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        true
    }

    fn names(pods: &Store<Pod>) -> Vec<String> {
        let mut names: Vec<String> = pods
            .state()
            .iter()
            .filter_map(|p| p.metadata.name.clone())
            .collect();
        names.sort();
        names
    }

    /// The pods' reflector on `client`, and the futures that drive it.
    fn pods_of(client: &Client, health: &Health) -> (Store<Pod>, Watches) {
        let mut watches: Watches = Vec::new();
        let at = &mut Reflectors {
            client,
            watches: &mut watches,
            health,
        };
        let pods = reflect(at, Watch::Pods, None, keep);
        (pods, watches)
    }

    #[tokio::test]
    async fn a_broken_watch_is_resumed_by_listing_again() {
        let (client, seen) = breaking_server(410, None);
        let (pods, watches) = pods_of(&client, &Health::default());
        let driving = tokio::spawn(futures::future::join_all(watches));
        within_deadline(|| names(&pods).len() == 2).await;
        driving.abort();
        assert_eq!(
            names(&pods),
            ["web-1", "web-2"],
            "the store after the watch broke"
        );
        let seen = seen.lock().expect("log").clone();
        let lists = seen.iter().filter(|q| !q.contains("watch=true")).count();
        assert!(lists >= 2, "listed again after the 410: {seen:#?}");
    }

    /// kube's watcher resumes a watch broken by anything but a 410 without
    /// listing, and a resumed watch of a quiet kind says nothing: here any
    /// error lists again, and the watch is down until that list is whole.
    #[tokio::test]
    async fn a_watch_is_down_from_its_error_until_it_has_listed_again() {
        let gate = Arc::new(Semaphore::new(0));
        let (client, seen) = breaking_server(500, Some(gate.clone()));
        let health = Health::default();
        let (pods, watches) = pods_of(&client, &health);
        let driving = tokio::spawn(futures::future::join_all(watches));
        let pods_down = || health.down().0.contains(&Watch::Pods);
        assert!(within_deadline(pods_down).await, "down after the 500");
        // The list that starts it over has not answered: still down, with
        // what was last known.
        let asked_again = || {
            let seen = seen.lock().expect("log");
            seen.iter().filter(|q| !q.contains("watch=true")).count() >= 2
        };
        assert!(
            within_deadline(asked_again).await,
            "listed again after the 500"
        );
        assert!(pods_down(), "down while the list has not answered");
        assert_eq!(names(&pods), ["web-1"], "the cache is kept meanwhile");
        gate.add_permits(1);
        assert!(
            within_deadline(|| health.down().is_empty()).await,
            "up once the list completed"
        );
        driving.abort();
        assert_eq!(names(&pods), ["web-1", "web-2"]);
    }
}
