//! The metrics-server source through the real API server's aggregation
//! layer: an `APIService` for `metrics.k8s.io/v1beta1` routes to a test
//! double of metrics-server (this file's, TLS, answering in metrics-server's
//! exact wire format) behind a Service whose endpoint is this machine's
//! non-loopback address (the API server refuses loopback endpoints, and
//! routes to endpoints itself: `--enable-aggregator-routing`); on a machine
//! with none, a dummy interface the test adds gives it one. The operator,
//! with no Prometheus and only its least-privilege role, reads the pods' and
//! the nodes' CPU and memory from it.

use super::control_plane;
use super::support::*;
use k8s_openapi::api::core::v1::{Endpoints, Service};
use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService;
use kubeskippy::operator::crd::{ClusterHealingPolicy, ClusterHealingPolicySpec, HealingAction};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const LIMIT: f64 = 512.0 * 1_048_576.0;

/// The ClusterHealingPolicy that tells about nodes short of memory.
const NODE_POLICY: &str = "t-metrics-server-nodes";

/// What the double serves and what it was asked.
#[derive(Default)]
struct Double {
    /// Each pod's working set, as a share of its 512Mi limit.
    usage: Mutex<BTreeMap<String, f64>>,
    /// Each node's working set, in metrics-server's quantity.
    nodes: Mutex<BTreeMap<String, String>>,
    /// false: every request is answered 503, as a metrics-server that is
    /// down would be by the aggregation layer.
    answering: AtomicBool,
    /// Each request's path and whether it came through the aggregation
    /// layer (the front proxy's `X-Remote-User`).
    requests: Mutex<Vec<(String, bool)>>,
}

/// This machine's first non-loopback IPv4 address, from the kernel's
/// routing table; `None` without one.
fn routable_address() -> Option<IpAddr> {
    let trie = std::fs::read_to_string("/proc/net/fib_trie").ok()?;
    let lines: Vec<&str> = trie.lines().collect();
    lines.windows(2).find_map(|pair| {
        let address = pair[0].trim().trim_start_matches("|-- ");
        let local = pair[1].contains("/32 host LOCAL");
        let ip: IpAddr = address.parse().ok()?;
        (local && !ip.is_loopback()).then_some(ip)
    })
}

/// A non-loopback address to serve on: the machine's own, or else one of
/// TEST-NET-1 on a dummy interface this test adds (it needs root and
/// `ip`). Without either the test cannot run: a skip outside CI, a failure
/// under it.
fn address_to_serve_on() -> Option<IpAddr> {
    if let Some(ip) = routable_address() {
        return Some(ip);
    }
    let ip = |args: &[&str]| {
        std::process::Command::new("ip")
            .args(args)
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    let added = ip(&["link", "add", "kubeskippy0", "type", "dummy"])
        && ip(&["addr", "add", "192.0.2.77/32", "dev", "kubeskippy0"])
        && ip(&["link", "set", "kubeskippy0", "up"]);
    if let Some(ip) = routable_address() {
        return Some(ip);
    }
    let why = format!(
        "no non-loopback IPv4 address to serve metrics.k8s.io on (a dummy interface {}: \
         the test needs root and `ip`)",
        if added {
            "was added but holds none"
        } else {
            "could not be added"
        }
    );
    assert!(std::env::var_os("CI").is_none(), "{why}");
    eprintln!("*** SKIPPED: {why}");
    None
}

/// The double's answer to `path`, in metrics-server v0.7's wire format.
fn answer(double: &Double, namespace: &str, path: &str) -> (u16, String) {
    if !double.answering.load(Ordering::SeqCst) {
        return (
            503,
            "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"code\":503}"
                .into(),
        );
    }
    let body = match path {
        "/apis" => json!({
            "kind": "APIGroupList", "apiVersion": "v1",
            "groups": [{"name": "metrics.k8s.io",
                "versions": [{"groupVersion": "metrics.k8s.io/v1beta1", "version": "v1beta1"}],
                "preferredVersion": {"groupVersion": "metrics.k8s.io/v1beta1", "version": "v1beta1"}}]
        }),
        "/apis/metrics.k8s.io/v1beta1" => json!({
            "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "metrics.k8s.io/v1beta1",
            "resources": [
                {"name": "nodes", "singularName": "", "namespaced": false, "kind": "NodeMetrics", "verbs": ["get", "list"]},
                {"name": "pods", "singularName": "", "namespaced": true, "kind": "PodMetrics", "verbs": ["get", "list"]}
            ]
        }),
        "/apis/metrics.k8s.io/v1beta1/nodes" => {
            let items: Vec<serde_json::Value> = double
                .nodes
                .lock()
                .expect("nodes")
                .iter()
                .map(|(node, memory)| {
                    json!({
                        "metadata": {"name": node, "creationTimestamp": "2026-12-07T10:00:00Z"},
                        "timestamp": "2026-12-07T10:00:00Z", "window": "20.05s",
                        "usage": {"cpu": "250000000n", "memory": memory}
                    })
                })
                .collect();
            json!({"kind": "NodeMetricsList", "apiVersion": "metrics.k8s.io/v1beta1",
                   "metadata": {}, "items": items})
        }
        p if p == "/apis/metrics.k8s.io/v1beta1/pods"
            || p == format!("/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods") =>
        {
            let items: Vec<serde_json::Value> = double
                .usage
                .lock()
                .expect("usage")
                .iter()
                .map(|(pod, share)| {
                    json!({
                        "metadata": {"name": pod, "namespace": namespace,
                                     "creationTimestamp": "2026-12-07T10:00:00Z"},
                        "timestamp": "2026-12-07T10:00:00Z", "window": "10.5s",
                        "containers": [{"name": "app", "usage": {
                            "cpu": "120000000n",
                            "memory": format!("{}Ki", (share * LIMIT / 1024.0).round())
                        }}]
                    })
                })
                .collect();
            json!({"kind": "PodMetricsList", "apiVersion": "metrics.k8s.io/v1beta1",
                   "metadata": {}, "items": items})
        }
        _ => {
            return (
                404,
                "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"code\":404}".into(),
            )
        }
    };
    (200, body.to_string())
}

/// The double on `address`, with the control plane's serving certificate
/// (the APIService skips verification: the certificate names the API
/// server, not this address).
async fn serve(
    plane: &ControlPlane,
    address: IpAddr,
    namespace: String,
    double: Arc<Double>,
) -> u16 {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let pki = pki(plane);
    let certificates: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(pki.join("apiserver.crt"))
            .expect("the serving certificate")
            .collect::<Result<_, _>>()
            .expect("PEM certificates");
    let key = PrivateKeyDer::from_pem_file(pki.join("apiserver.key")).expect("the serving key");
    // ring, as kube's client in this tree: deprecated only for lacking
    // post-quantum key exchange, which a loopback test double does not need.
    #[allow(deprecated)]
    let provider = rustls::crypto::ring::default_provider();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(certificates, key)
        .expect("a TLS configuration");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind((address, 0))
        .await
        .expect("a port on the routable address");
    let port = listener.local_addr().expect("its address").port();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            let double = double.clone();
            let namespace = namespace.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 65_536 {
                    match tls.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&request);
                let target = text.split_whitespace().nth(1).unwrap_or("/");
                let path = target.split('?').next().unwrap_or("/").to_string();
                let proxied = text
                    .lines()
                    .any(|l| l.to_ascii_lowercase().starts_with("x-remote-user:"));
                double
                    .requests
                    .lock()
                    .expect("requests")
                    .push((path.clone(), proxied));
                let (code, body) = answer(&double, &namespace, &path);
                let response = format!(
                    "HTTP/1.1 {code} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                     Connection: close\r\n\r\n{body}",
                    if code == 200 { "OK" } else { "Error" },
                    body.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    port
}

/// The Service, its endpoint and the APIService that route
/// `metrics.k8s.io/v1beta1` to the double at `address:port`.
async fn register(client: &Client, namespace: &str, address: IpAddr, port: u16) {
    let post = PostParams::default();
    let service: Service = serde_json::from_value(json!({
        "metadata": {"name": "metrics-double"},
        "spec": {"ports": [{"name": "https", "port": 443, "targetPort": port}]}
    }))
    .expect("a Service");
    Api::<Service>::namespaced(client.clone(), namespace)
        .create(&post, &service)
        .await
        .expect("the Service");
    let endpoints: Endpoints = serde_json::from_value(json!({
        "metadata": {"name": "metrics-double"},
        "subsets": [{"addresses": [{"ip": address.to_string()}],
                     "ports": [{"name": "https", "port": port}]}]
    }))
    .expect("Endpoints");
    Api::<Endpoints>::namespaced(client.clone(), namespace)
        .create(&post, &endpoints)
        .await
        .expect("the Endpoints");
    let api_service: APIService = serde_json::from_value(json!({
        "metadata": {"name": "v1beta1.metrics.k8s.io"},
        "spec": {"group": "metrics.k8s.io", "version": "v1beta1",
                 "service": {"namespace": namespace, "name": "metrics-double", "port": 443},
                 "insecureSkipTLSVerify": true, "groupPriorityMinimum": 100, "versionPriority": 100}
    }))
    .expect("an APIService");
    let api_services: Api<APIService> = Api::all(client.clone());
    // A run before this one may have left its registration.
    let _ = api_services
        .delete("v1beta1.metrics.k8s.io", &DeleteParams::default())
        .await;
    eventually(
        "the APIService is registered",
        Duration::from_secs(30),
        || async {
            api_services
                .create(&post, &api_service)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        },
    )
    .await;
    eventually(
        "the APIService is available",
        Duration::from_secs(60),
        || async {
            let status = api_services
                .get("v1beta1.metrics.k8s.io")
                .await
                .map_err(|e| e.to_string())?
                .status
                .and_then(|s| s.conditions)
                .unwrap_or_default();
            status
                .iter()
                .find(|c| c.type_ == "Available" && c.status == "True")
                .map(|_| ())
                .ok_or_else(|| format!("{status:?}"))
        },
    )
    .await;
}

/// A Deployment `app` of `replicas` whose container has a 512Mi limit.
async fn limited_workload(client: &Client, namespace: &str, app: &str, replicas: i32) {
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": {"name": app, "labels": {"app": app}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": app}},
            "template": {
                "metadata": {"labels": {"app": app}},
                "spec": {"containers": [{"name": "app", "image": "example.invalid/app:1",
                    "resources": {"limits": {"memory": "512Mi"}}}]}
            }
        }
    }))
    .expect("a deployment");
    Api::<Deployment>::namespaced(client.clone(), namespace)
        .create(&PostParams::default(), &deployment)
        .await
        .expect("the deployment is created");
}

#[tokio::test]
async fn a_leak_seen_by_metrics_server_through_the_aggregation_layer_is_healed() {
    let Some(plane) = control_plane::require() else {
        return;
    };
    let Some(address) = address_to_serve_on() else {
        return;
    };
    let _turn = OPERATORS.lock().await;
    let client = admin(plane).await;
    install_crds(&client).await;
    let kubeconfig = least_privilege(plane, &client).await;
    let ns = namespace(&client, "t-metrics-server").await;
    let double = Arc::new(Double::default());
    double.answering.store(true, Ordering::SeqCst);
    let port = serve(plane, address, ns.clone(), double.clone()).await;
    register(&client, &ns, address, port).await;

    limited_workload(&client, &ns, "leaky", 2).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let names = running_pods(&pods, "leaky", 2).await;
    *double.usage.lock().expect("usage") = names.iter().map(|n| (n.clone(), 0.4)).collect();
    healing_policy(
        &client,
        &ns,
        "leak",
        "policy leak {\n  select pods where app = \"leaky\"\n  mode auto\n  cooldown 10m\n  \
         when memory_percent > 85 for 2s then restart\n}\n",
    )
    .await;
    // One node far past its allocatable memory, the others nearly idle.
    let nodes: Vec<String> = Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await
        .expect("the nodes")
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    let full = nodes.first().cloned().expect("a node");
    *double.nodes.lock().expect("nodes") = nodes
        .iter()
        .map(|n| {
            (
                n.clone(),
                if *n == full { "4096Gi" } else { "1Ki" }.to_string(),
            )
        })
        .collect();
    // Nodes have no namespace: a ClusterHealingPolicy selects them, and
    // its records are kept in the operator's namespace.
    let node_policies: Api<ClusterHealingPolicy> = Api::all(client.clone());
    node_policies
        .create(
            &PostParams::default(),
            &ClusterHealingPolicy::new(
                NODE_POLICY,
                ClusterHealingPolicySpec {
                    policy: "policy node-memory {\n  select nodes\n  mode auto\n  cooldown 1h\n  \
                             when memory_percent > 90 then notify \"node memory is nearly exhausted\"\n}\n"
                        .into(),
                    mode: None,
                },
            ),
        )
        .await
        .expect("the ClusterHealingPolicy is created");
    let _operator = role_operator(plane, "metrics-server", &kubeconfig);
    let pods_path = "/apis/metrics.k8s.io/v1beta1/pods".to_string();
    let listed = || {
        double
            .requests
            .lock()
            .expect("requests")
            .iter()
            .filter(|(path, _)| *path == pods_path)
            .map(|(_, proxied)| *proxied)
            .collect::<Vec<bool>>()
    };
    let started = Instant::now();
    eventually(
        "the operator lists PodMetrics",
        Duration::from_secs(60),
        || async {
            let seen = listed();
            if seen.len() >= 5 {
                Ok(())
            } else {
                Err(format!("{} lists", seen.len()))
            }
        },
    )
    .await;
    let seconds = started.elapsed().as_secs_f64();
    let lists = listed();
    assert!(
        lists.iter().all(|proxied| *proxied),
        "every list came through the API server's aggregation layer"
    );
    assert!(
        lists.len() as f64 <= seconds + 3.0,
        "{} lists in {seconds:.0} s at one cycle a second: one per cycle for the cluster, not one per pod",
        lists.len()
    );
    let actions: Api<HealingAction> = Api::namespaced(client.clone(), &ns);
    // NodeMetrics over the nodes' allocatable memory: the full node only.
    let operators: Api<HealingAction> = Api::namespaced(client.clone(), "kubeskippy-system");
    let of_node_policy = |a: &HealingAction| a.spec.policy.name == NODE_POLICY;
    let told = record_where(
        &operators,
        "the full node is told about",
        Duration::from_secs(30),
        |a| of_node_policy(a) && carried_out(a),
    )
    .await;
    assert_eq!(told.spec.object.name, full);
    let listed = operators
        .list(&ListParams::default())
        .await
        .expect("records");
    let about: Vec<&str> = listed
        .items
        .iter()
        .filter(|a| of_node_policy(a) && carried_out(a))
        .map(|a| a.spec.object.name.as_str())
        .collect();
    assert_eq!(about, [full.as_str()]);
    // The policy and its records go: later tests' operators share the
    // cluster and the operator's namespace.
    let _ = node_policies
        .delete(NODE_POLICY, &DeleteParams::default())
        .await;
    for record in listed.items.iter().filter(|a| of_node_policy(a)) {
        if let Some(name) = &record.metadata.name {
            let _ = operators.delete(name, &DeleteParams::default()).await;
        }
    }
    assert_eq!(record_count(&actions).await, 0, "40% is no leak");

    // metrics-server fails: the metric is unknown, nothing acts.
    double.answering.store(false, Ordering::SeqCst);
    double
        .usage
        .lock()
        .expect("usage")
        .insert(names[0].clone(), 0.95);
    without_data(&client, &ns, "leak", "memory_percent", true).await;
    cycles(plane, "metrics-server", 4).await;
    assert_eq!(
        record_count(&actions).await,
        0,
        "an unknown metric never fires"
    );

    // Back: the leak shows, holds for 2 s, and the pod is restarted.
    double.answering.store(true, Ordering::SeqCst);
    let record = record_where(
        &actions,
        "the leaking pod's restart",
        Duration::from_secs(90),
        carried_out,
    )
    .await;
    assert_eq!(record.spec.object.name, names[0]);
    let evidence = serde_json::to_string(&record.spec.evidence).expect("evidence");
    assert!(evidence.contains("memory_percent"), "{evidence}");
    assert!(
        pods.get_opt(&names[1]).await.expect("a get").is_some(),
        "the other pod was not leaking"
    );
    let _ = Api::<APIService>::all(client.clone())
        .delete("v1beta1.metrics.k8s.io", &DeleteParams::default())
        .await;
}
