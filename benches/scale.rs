//! The scale harness: the operator binary on the real control plane
//! (`tests/cluster`) with 1,000 and then 10,000 pods in 100 namespaces, and
//! three ClusterHealingPolicies that select every pod. For each size it
//! reports the operator's start-up (from its start to the end of its first
//! cycle: listing everything, then observing and evaluating it), one cycle's
//! time (median of the next ones) and its resident memory (now and peak).
//!
//! `cargo bench --bench scale` (needs Go for the control plane); the sizes
//! can be set with `KUBESKIPPY_SCALE_PODS=1000,10000`. The numbers go to
//! docs/performance.md.

#[path = "../tests/on_cluster/control_plane.rs"]
#[allow(dead_code)]
mod control_plane;

use futures::{stream, StreamExt};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::PostParams;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config, CustomResourceExt};
use kubeskippy::operator::crd::{ClusterHealingPolicy, HealingAction, HealingPolicy};
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

const NAMESPACES: usize = 100;

const POLICIES: &[(&str, &str)] = &[
    ("crashloop", "policy crashloop {\n  select pods in any\n  mode dryrun\n  cooldown 15m\n  when status is CrashLoopBackOff for 3m then restart\n}\n"),
    ("leak", "policy leak {\n  select pods in any\n  mode dryrun\n  cooldown 30m\n  when memory_percent > 90% for 5m then restart\n}\n"),
    ("pull", "policy pull {\n  select pods in any\n  mode dryrun\n  cooldown 1h\n  when status is ImagePullBackOff for 5m then notify \"image cannot be pulled\"\n}\n"),
];

#[tokio::main]
async fn main() {
    let Some(plane) = control_plane::require() else {
        return;
    };
    let sizes: Vec<usize> = std::env::var("KUBESKIPPY_SCALE_PODS")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 10_000]);
    let kubeconfig = Kubeconfig::read_from(&plane.ready.kubeconfig).expect("kubeconfig");
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("config");
    let client = Client::try_from(config).expect("client");
    install(&client).await;
    for n in 0..NAMESPACES {
        let namespace: Namespace =
            serde_json::from_value(json!({"metadata": {"name": format!("scale-{n}")}}))
                .expect("a namespace");
        let _ = Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &namespace)
            .await;
    }
    let cluster_policies: Api<ClusterHealingPolicy> = Api::all(client.clone());
    for (name, source) in POLICIES {
        let policy: ClusterHealingPolicy = serde_json::from_value(json!({
            "apiVersion": "kubeskippy.io/v1alpha1", "kind": "ClusterHealingPolicy",
            "metadata": {"name": name}, "spec": {"policy": source}
        }))
        .expect("a policy");
        let _ = cluster_policies
            .create(&PostParams::default(), &policy)
            .await;
    }
    println!("| pods | start-up (list + first cycle) | cycle (median) | observe part | resident memory | peak |");
    println!("|---|---|---|---|---|---|");
    let mut created = 0;
    for size in sizes {
        let started = Instant::now();
        create_pods(&client, plane, created, size).await;
        eprintln!(
            "{} pods created in {:.1} s",
            size - created,
            started.elapsed().as_secs_f64()
        );
        created = size.max(created);
        let run = measure(plane, size).await;
        println!(
            "| {size} | {:.2} s | {:.1} ms | {:.1} ms | {} MB | {} MB |",
            run.startup.as_secs_f64(),
            run.cycle_ms,
            run.observe_ms,
            run.rss_kb / 1024,
            run.peak_kb / 1024
        );
    }
}

async fn install(client: &Client) {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in [
        HealingPolicy::crd(),
        ClusterHealingPolicy::crd(),
        HealingAction::crd(),
    ] {
        let _ = crds.create(&PostParams::default(), &crd).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
}

/// Pods `from..to`, spread over the namespaces and the nodes (bound to a
/// node directly: the harness measures the operator, not the scheduler).
async fn create_pods(client: &Client, plane: &control_plane::ControlPlane, from: usize, to: usize) {
    let nodes = plane.ready.nodes.clone();
    stream::iter(from..to)
        .map(|i| {
            let client = client.clone();
            let node = nodes[i % nodes.len().max(1)].clone();
            async move {
                let namespace = format!("scale-{}", i % NAMESPACES);
                let pod: Pod = serde_json::from_value(json!({
                    "metadata": {"name": format!("pod-{i}"), "labels": {"app": format!("app-{}", i % 7)}},
                    "spec": {"nodeName": node,
                             "containers": [{"name": "app", "image": "example.invalid/app:1",
                                             "resources": {"limits": {"memory": "256Mi"}}}]}
                }))
                .expect("a pod");
                let pods: Api<Pod> = Api::namespaced(client, &namespace);
                for _ in 0..5 {
                    match pods.create(&PostParams::default(), &pod).await {
                        Ok(_) => return,
                        Err(kube::Error::Api(s)) if s.code == 409 => return,
                        Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                    }
                }
                panic!("pod {i} could not be created");
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<()>>()
        .await;
}

struct Run {
    startup: Duration,
    cycle_ms: f64,
    observe_ms: f64,
    rss_kb: u64,
    peak_kb: u64,
}

/// Starts the operator, reads its `cycle` log lines until six cycles have
/// run, and reads its memory; stops it.
async fn measure(plane: &control_plane::ControlPlane, size: usize) -> Run {
    let dir = plane.ready.log_dir.join(format!("scale-{size}"));
    std::fs::create_dir_all(&dir).expect("a directory");
    let safety = dir.join("safety.yaml");
    std::fs::write(&safety, "evaluationIntervalSeconds: 2\n").expect("a safety file");
    // The last run's operator held the lease: free it, so start-up is the
    // operator's own and not a lease's expiry.
    release_lease(plane).await;
    let started = Instant::now();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kubeskippy"))
        .args([
            "run",
            "--log-format",
            "json",
            "--metrics-address",
            "127.0.0.1:0",
        ])
        .arg("--kubeconfig")
        .arg(&plane.ready.kubeconfig)
        .arg("--safety")
        .arg(&safety)
        .args(["--lease-seconds", "2"])
        .env("KUBESKIPPY_LOG", "kubeskippy=debug,warn")
        .env("POD_NAME", format!("scale-{size}"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("kubeskippy run starts");
    let stderr = child.stderr.take().expect("its stderr");
    let pid = child.id();
    let (lines, cycles) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let Ok(value) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if value["message"] == "cycle" {
                let _ = lines.send((
                    Instant::now(),
                    value["cycle_ms"].as_f64().unwrap_or(f64::NAN),
                    value["observe_ms"].as_f64().unwrap_or(f64::NAN),
                    value["targets"].as_u64().unwrap_or(0),
                ));
            }
        }
    });
    let mut startup = None;
    let mut times = Vec::new();
    let mut observes = Vec::new();
    while times.len() < 6 {
        let (at, cycle_ms, observe_ms, targets) = cycles
            .recv_timeout(Duration::from_secs(600))
            .expect("the operator cycles");
        // The first cycle with every pod counts as the start-up's end.
        if (targets as usize) < size {
            continue;
        }
        match startup {
            None => startup = Some(at - started),
            Some(_) => {
                times.push(cycle_ms);
                observes.push(observe_ms);
            }
        }
    }
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let (rss_kb, peak_kb) = (field("VmRSS:"), field("VmHWM:"));
    let _ = child.kill();
    let _ = child.wait();
    times.sort_by(f64::total_cmp);
    observes.sort_by(f64::total_cmp);
    Run {
        startup: startup.unwrap_or_default(),
        cycle_ms: times[times.len() / 2],
        observe_ms: observes[observes.len() / 2],
        rss_kb,
        peak_kb,
    }
}

async fn release_lease(plane: &control_plane::ControlPlane) {
    use k8s_openapi::api::coordination::v1::Lease;
    let kubeconfig = Kubeconfig::read_from(&plane.ready.kubeconfig).expect("kubeconfig");
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("config");
    let client = Client::try_from(config).expect("client");
    let _ = Api::<Lease>::namespaced(client, "default")
        .delete("kubeskippy-leader", &Default::default())
        .await;
}
