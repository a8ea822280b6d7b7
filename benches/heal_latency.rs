//! How long from a pod's status change to its HealingAction, on the real
//! control plane (`tests/cluster`): the operator binary runs against it with
//! its default 15 s cycle, so what is measured is the watch path. One fault
//! at a time on a Deployment of 100 pods, each pod reported crash-looping as
//! a kubelet would, and running again once its record is seen; the clock
//! stops when the record reaches a watch of HealingActions. The policy is a
//! dry run, so no pod churns.
//!
//! `cargo bench --bench heal_latency` (needs Go for the control plane; the
//! numbers go to docs/performance.md).

#[path = "../tests/on_cluster/control_plane.rs"]
#[allow(dead_code)]
mod control_plane;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client, Config, CustomResourceExt};
use kubeskippy::operator::crd::{HealingAction, HealingPolicy, HealingPolicySpec};
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PODS: usize = 100;

#[tokio::main]
async fn main() {
    let Some(plane) = control_plane::require() else {
        return;
    };
    let kubeconfig = Kubeconfig::read_from(&plane.ready.kubeconfig).expect("kubeconfig");
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("config");
    let client = Client::try_from(config).expect("client");
    install(&client).await;
    let ns = "bench";
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let namespace: Namespace =
        serde_json::from_value(json!({"metadata": {"name": ns}})).expect("ns");
    namespaces
        .create(&PostParams::default(), &namespace)
        .await
        .expect("namespace");
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "fleet"},
        "spec": {
            "replicas": PODS,
            "selector": {"matchLabels": {"app": "fleet"}},
            "template": {"metadata": {"labels": {"app": "fleet"}},
                         "spec": {"containers": [{"name": "app", "image": "example.invalid/app:1"}]}}
        }
    }))
    .expect("deployment");
    Api::<Deployment>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &deployment)
        .await
        .expect("the deployment");
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let names = loop {
        let list = pods.list(&ListParams::default()).await.expect("pods");
        let running: Vec<String> = list
            .items
            .iter()
            .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
            .filter_map(|p| p.metadata.name.clone())
            .collect();
        if running.len() == PODS {
            break running;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    eprintln!("{PODS} pods running");

    let log = plane.ready.log_dir.join("operator-bench.log");
    let mut operator = tokio::process::Command::new(env!("CARGO_BIN_EXE_kubeskippy"))
        .args(["run", "--lease-seconds", "2", "--kubeconfig"])
        .arg(&plane.ready.kubeconfig)
        .stderr(std::fs::File::create(&log).expect("log"))
        .kill_on_drop(true)
        .spawn()
        .expect("kubeskippy run");

    // When each pod's record was seen.
    let seen: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let records: Api<HealingAction> = Api::namespaced(client.clone(), ns);
    let watching = {
        let seen = seen.clone();
        tokio::spawn(async move {
            let mut stream = std::pin::pin!(watcher(records, watcher::Config::default())
                .default_backoff()
                .applied_objects());
            while let Some(Ok(record)) = stream.next().await {
                let mut seen = seen.lock().expect("lock");
                seen.entry(record.spec.object.name.clone())
                    .or_insert_with(Instant::now);
            }
        })
    };
    let policies: Api<HealingPolicy> = Api::namespaced(client.clone(), ns);
    let policy = HealingPolicy::new(
        "fleet",
        HealingPolicySpec {
            policy: "policy fleet {\n  select pods where app = \"fleet\"\n  mode dryrun\n  cooldown 1h\n  when status is CrashLoopBackOff then restart\n}\n".into(),
            mode: None,
        },
    );
    policies
        .create(&PostParams::default(), &policy)
        .await
        .expect("policy");
    // Past its start: compiled, leading, first cycle done.
    tokio::time::sleep(Duration::from_secs(8)).await;

    let mut latencies = Vec::new();
    for name in &names {
        let start = Instant::now();
        crash(&pods, name).await;
        let deadline = start + Duration::from_secs(30);
        loop {
            let at = seen.lock().expect("lock").get(name).copied();
            if let Some(at) = at {
                latencies.push(at.saturating_duration_since(start));
                recover(&pods, name).await;
                break;
            }
            if Instant::now() > deadline {
                eprintln!("{name}: no record within 30 s");
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    watching.abort();
    let _ = operator.kill().await;
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize];
    if latencies.is_empty() {
        eprintln!("no record at all: see {}", log.display());
        std::process::exit(1);
    }
    println!(
        "status change → HealingAction, {} faults of {PODS}: p50 {:?}, p90 {:?}, p99 {:?}, max {:?}",
        latencies.len(),
        at(0.5),
        at(0.9),
        at(0.99),
        latencies[latencies.len() - 1]
    );
}

async fn install(client: &Client) {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in [
        HealingPolicy::crd(),
        kubeskippy::operator::crd::ClusterHealingPolicy::crd(),
        HealingAction::crd(),
    ] {
        let name = crd.metadata.name.clone().expect("name");
        crds.patch(
            &name,
            &PatchParams::apply("bench").force(),
            &Patch::Apply(&crd),
        )
        .await
        .expect("crd");
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
}

/// The pod running and ready again, as after its restart: one fault at a
/// time, so the workload never has more than one pod down and the safety
/// controller's blast radius does not hold the next decision back.
async fn recover(pods: &Api<Pod>, name: &str) {
    let status = json!({"status": {
        "conditions": [{"type": "Ready", "status": "True"}],
        "containerStatuses": [{"name": "app", "image": "example.invalid/app:1", "imageID": "",
            "ready": true, "restartCount": 3, "state": {"running": {}}}]
    }});
    pods.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("status");
}

async fn crash(pods: &Api<Pod>, name: &str) {
    let status = json!({"status": {
        "conditions": [{"type": "Ready", "status": "False"}],
        "containerStatuses": [{"name": "app", "image": "example.invalid/app:1", "imageID": "",
            "ready": false, "restartCount": 3, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]
    }});
    pods.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("status");
}
