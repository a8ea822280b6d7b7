//! The operator's `/metrics`, `/healthz` and `/readyz`, scraped by a real
//! Prometheus server (the Debian package `.ci/run` installs) while it heals
//! a crash-looping pod on the real API server, holds back a scale that an
//! autoscaler drives, and evaluates a rule whose metric has no source.

use super::control_plane;
use super::support::*;
pub use crate::real_prometheus::{free_port, prometheus_binary, prometheus_on, serve};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use kubeskippy::operator::crd::HealingAction;
use prometheus_http_query::Client as Prometheus;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The status code and body of `GET path` on 127.0.0.1:`port` (a minimal
/// HTTP/1.0 client: the test asks its own operator, nothing else).
async fn get(port: u16, path: &str) -> Result<(u16, String), String> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| e.to_string())?;
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .map_err(|e| e.to_string())?;
    let code = response
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("not HTTP: {response:?}"))?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or("");
    Ok((code, body.to_string()))
}

/// What a test against a real Prometheus needs: the control plane, the
/// Prometheus binary, the operators' turn and an admin client, with the
/// CRDs installed; `None` (the test is skipped, loudly) without either.
pub async fn prometheus_bench() -> Option<(
    &'static ControlPlane,
    std::path::PathBuf,
    tokio::sync::MutexGuard<'static, ()>,
    Client,
)> {
    let plane = control_plane::require()?;
    let binary = prometheus_binary()?;
    let turn = OPERATORS.lock().await;
    let client = admin(plane).await;
    install_crds(&client).await;
    Some((plane, binary, turn, client))
}

/// Creates the ClusterHealingPolicy `name` holding `source` and starts an
/// operator (also `name`) reading the Prometheus on port `web`, evaluating
/// every second, its records in `kubeskippy-system`: what the node-exporter
/// tests share. The operator runs while the returned child lives.
pub async fn cluster_policy_on_prometheus(
    plane: &'static ControlPlane,
    client: &Client,
    name: &str,
    source: &str,
    web: u16,
) -> tokio::process::Child {
    use kubeskippy::operator::crd::{ClusterHealingPolicy, ClusterHealingPolicySpec};
    let policies: Api<ClusterHealingPolicy> = Api::all(client.clone());
    let spec = ClusterHealingPolicySpec {
        policy: source.into(),
        mode: None,
    };
    policies
        .create(
            &PostParams::default(),
            &ClusterHealingPolicy::new(name, spec),
        )
        .await
        .expect("the ClusterHealingPolicy is created");
    let url = format!("http://127.0.0.1:{web}");
    operator_as(
        plane,
        name,
        Some("evaluationIntervalSeconds: 1\n"),
        &plane.ready.kubeconfig,
        &["--prometheus-url", &url, "--namespace", "kubeskippy-system"],
    )
}

#[tokio::test]
async fn a_real_prometheus_scrapes_what_the_operator_did() {
    let Some((plane, binary, _turn, client)) = prometheus_bench().await else {
        return;
    };
    let ns = namespace(&client, "t-metrics").await;
    let (pods, first) = workload(&client, &ns, "scraped", 1).await;
    // The autoscaler is there before the operator starts, so no cycle can
    // see the `grow` policy without it.
    let hpa: HorizontalPodAutoscaler = serde_json::from_value(json!({"metadata": {"name": "scraped-hpa"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "scraped"},
                 "minReplicas": 1, "maxReplicas": 3}}))
    .expect("an HPA");
    Api::<HorizontalPodAutoscaler>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &hpa)
        .await
        .expect("the HPA is created");
    let port = free_port();
    let address = format!("127.0.0.1:{port}");
    let _operator = operator_as(
        plane,
        "metrics",
        Some("evaluationIntervalSeconds: 1\nverification: {afterSeconds: 2}\n"),
        &plane.ready.kubeconfig,
        &["--metrics-address", &address],
    );
    let (code, body) = eventually("/healthz answers", Duration::from_secs(30), || async {
        get(port, "/healthz").await
    })
    .await;
    assert_eq!((code, body.as_str()), (200, "ok\n"));
    eventually("/readyz says ready", Duration::from_secs(30), || async {
        match get(port, "/readyz").await? {
            (200, _) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let (code, _) = get(port, "/nothing").await.expect("an answer");
    assert_eq!(code, 404);

    healing_policy(&client, &ns, "crashloop", "policy crashloop {\n  select pods where app = \"scraped\"\n  mode auto\n  cooldown 10m\n  when status is CrashLoopBackOff then restart\n}\n").await;
    crash_loop(&pods, &first).await;
    // A safety block (the `grow` policy below): an autoscaler drives the
    // Deployment, so a scale of it is held.
    healing_policy(&client, &ns, "grow", "policy grow {\n  select deployments where app = \"scraped\"\n  mode auto\n  cooldown 10m\n  when replicas < 5 then scale up 1 max 5\n}\n").await;
    // An unknown metric: a declared PromQL metric, and no Prometheus given.
    healing_policy(&client, &ns, "errors", "metric error_rate: ratio = promql \"sum by (pod) (rate(errors_total{namespace=\\\"$namespace\\\"}[1m]))\"\npolicy errors {\n  select pods where app = \"scraped\"\n  mode auto\n  cooldown 10m\n  when error_rate > 50% then restart\n}\n").await;
    let actions: Api<HealingAction> = Api::namespaced(client.clone(), &ns);
    record_where(
        &actions,
        "the restart verified healed",
        Duration::from_secs(60),
        |a| a.status.as_ref().and_then(|s| s.healed) == Some(true),
    )
    .await;
    record_where(&actions, "the scale held", Duration::from_secs(60), |a| {
        a.status.as_ref().and_then(|s| s.reason.as_deref()) == Some("autoscaler")
    })
    .await;

    // A real Prometheus, scraping every second.
    let (_prometheus, prometheus) = scraping(plane, &binary, "prometheus", &address);
    let query = |q: &'static str| {
        let prometheus = prometheus.clone();
        async move {
            let result = prometheus.query(q).get().await.map_err(|e| e.to_string())?;
            let vector = result
                .data()
                .as_vector()
                .ok_or("not a vector")?
                .iter()
                .map(|v| (v.metric().clone(), v.sample().value()))
                .collect::<Vec<_>>();
            if vector.is_empty() {
                Err(format!("{q}: no samples yet"))
            } else {
                Ok(vector)
            }
        }
    };
    let up = eventually(
        "Prometheus scrapes the operator",
        Duration::from_secs(60),
        || query("up{job=\"kubeskippy\"}"),
    )
    .await;
    assert_eq!(up[0].1, 1.0, "{up:?}");
    let actions = eventually("the restart in Prometheus", Duration::from_secs(30), || {
        query("kubeskippy_healing_actions_total{action=\"restart\",phase=\"Verifying\"}")
    })
    .await;
    assert_eq!(actions[0].0.get("namespace"), Some(&ns), "{actions:?}");
    assert_eq!(actions[0].0.get("origin").map(String::as_str), Some("rule"));
    assert!(actions[0].1 >= 1.0, "{actions:?}");
    let names = eventually("every family scraped", Duration::from_secs(30), || {
        query("count by (__name__) ({__name__=~\"kubeskippy_.*\"})")
    })
    .await;
    let names: Vec<&str> = names
        .iter()
        .filter_map(|(labels, _)| labels.get("__name__").map(String::as_str))
        .collect();
    for name in [
        "kubeskippy_healing_actions_total",
        "kubeskippy_safety_blocks_total",
        "kubeskippy_rule_evaluations_total",
        "kubeskippy_evaluation_duration_seconds_count",
        "kubeskippy_time_to_heal_seconds_count",
        "kubeskippy_circuit_breaker_open",
        "kubeskippy_metric_unknown_total",
    ] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    // What the operator did, counted: a histogram is exposed (at zero)
    // before anything is observed, so its count must have moved.
    for (what, counted) in [
        (
            "the block",
            "kubeskippy_safety_blocks_total{reason=\"autoscaler\"} >= 1",
        ),
        ("the heal", "kubeskippy_time_to_heal_seconds_count >= 1"),
        (
            "the unknown metric",
            "kubeskippy_metric_unknown_total{metric=\"error_rate\"} >= 1",
        ),
    ] {
        eventually(what, Duration::from_secs(30), || query(counted)).await;
    }
}

/// A real Prometheus scraping `target` every second, its files in the
/// control plane's log folder under `name`; killed when the child drops.
pub fn scraping(
    plane: &control_plane::ControlPlane,
    binary: &Path,
    name: &str,
    target: &str,
) -> (tokio::process::Child, Prometheus) {
    let web = free_port();
    let child = prometheus_on(binary, &plane.ready.log_dir.join(name), target, web);
    let prometheus = Prometheus::try_from(format!("http://127.0.0.1:{web}")).expect("a client");
    (child, prometheus)
}

/// A gibibyte, in bytes.
pub const GIB: f64 = 1_073_741_824.0;

/// The labels a ServiceMonitor gives the series of the node-exporter pod
/// on `node`.
pub fn exporter_labels(node: &str) -> String {
    format!("namespace=\"monitoring\",pod=\"node-exporter-{node}\"")
}

/// kube-state-metrics' `kube_pod_info` of the node-exporter pod on `node`:
/// what the node-exporter queries join its series on.
pub fn exporter_pod_info(node: &str) -> String {
    format!(
        "kube_pod_info{{{},node=\"{node}\",host_ip=\"127.0.0.1\"}} 1\n",
        exporter_labels(node)
    )
}

/// What `body` gives, served for a real Prometheus to scrape every second,
/// its files under `name` in the control plane's log folder: Prometheus's
/// web port, and the exporter and the server, stopped when they drop.
pub async fn scraped(
    plane: &control_plane::ControlPlane,
    binary: &Path,
    name: &str,
    body: impl Fn() -> String + Send + 'static,
) -> (u16, tokio::task::JoinHandle<()>, tokio::process::Child) {
    let (target, exporter) = serve(body).await;
    let web = free_port();
    let server = prometheus_on(binary, &plane.ready.log_dir.join(name), &target, web);
    (web, exporter, server)
}
