//! What the cluster tests share: clients, namespaces, waiting, workloads,
//! the operator as a process, RBAC and Events.

pub use super::control_plane::{self, ControlPlane};
pub use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
pub use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
pub use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
pub use kube::config::{KubeConfigOptions, Kubeconfig};
pub use kube::{Api, Client, Config};
pub use serde_json::json;
pub use std::future::Future;
pub use std::path::Path;
pub use std::time::{Duration, Instant};

pub async fn client(kubeconfig: &Path) -> Client {
    let kubeconfig = Kubeconfig::read_from(kubeconfig).expect("testcluster's kubeconfig reads");
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("a client configuration");
    Client::try_from(config).expect("a client")
}

pub async fn admin(plane: &ControlPlane) -> Client {
    client(&plane.ready.kubeconfig).await
}

/// A fresh namespace for one test.
pub async fn namespace(client: &Client, name: &str) -> String {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace =
        serde_json::from_value(json!({"metadata": {"name": name}})).expect("a namespace");
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .expect("the namespace is created");
    name.to_string()
}

/// A namespace several tests share, created by whichever comes first.
pub async fn ensure_namespace(client: &Client, name: &str) {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace =
        serde_json::from_value(json!({"metadata": {"name": name}})).expect("a namespace");
    match namespaces.create(&PostParams::default(), &ns).await {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 409 => {}
        Err(e) => panic!("the namespace {name}: {e}"),
    }
}

/// Polls `check` until it gives a value, or fails the test after `limit`
/// with what was last seen: waiting for controllers, not timing them.
pub async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + limit;
    loop {
        match check().await {
            Ok(value) => return value,
            Err(seen) if Instant::now() > deadline => {
                panic!("{what}: not within {limit:?}; last seen: {seen}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// How many cycles the operator `name` (of [`operator_as`]) has logged.
fn cycles_logged(plane: &ControlPlane, name: &str) -> usize {
    let log = plane.ready.log_dir.join(format!("operator-{name}.log"));
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|line| line.contains("operator::evaluation: cycle "))
        .count()
}

/// Waits until the operator `name` has compiled `policy` (`NAMESPACE/NAME`)
/// and run a cycle since (a changed policy wakes one): from then, only a
/// watch event makes an operator of slow cycles act.
pub async fn settled(plane: &ControlPlane, name: &str, policy: &str) {
    let log = plane.ready.log_dir.join(format!("operator-{name}.log"));
    let compiled = format!("compiled policy={policy} ");
    eventually(
        &format!("the operator {name} compiles {policy} and cycles"),
        Duration::from_secs(60),
        || async {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let at = lines
                .iter()
                .rposition(|line| line.contains(&compiled))
                .ok_or("not compiled")?;
            lines[at..]
                .iter()
                .any(|line| line.contains("operator::evaluation: cycle "))
                .then_some(())
                .ok_or_else(|| "no cycle since".to_string())
        },
    )
    .await;
}

/// Waits until the operator `name` has run `n` more cycles: what a check
/// that something did *not* happen waits for, so that a slow machine makes
/// it wait longer rather than check less.
pub async fn cycles(plane: &ControlPlane, name: &str, n: usize) {
    let before = cycles_logged(plane, name);
    eventually(
        &format!("{n} more cycles of the operator {name}"),
        Duration::from_secs(60),
        || async {
            let now = cycles_logged(plane, name);
            (now >= before + n)
                .then_some(())
                .ok_or_else(|| format!("{} of them", now - before))
        },
    )
    .await;
}

/// Whether a record's action was carried out: it waits for its
/// verification, or passed it.
pub fn carried_out(record: &kubeskippy::operator::crd::HealingAction) -> bool {
    use kubeskippy::operator::crd::ActionPhase;
    record.status.as_ref().is_some_and(|s| {
        s.transitions.contains_key("Executing")
            && matches!(
                s.phase,
                Some(ActionPhase::Verifying | ActionPhase::Succeeded)
            )
    })
}

/// The first record of `actions` that passes `check`, once one does;
/// what the records were like when it did not, in the panic.
pub async fn record_where(
    actions: &Api<kubeskippy::operator::crd::HealingAction>,
    what: &str,
    limit: Duration,
    check: impl Fn(&kubeskippy::operator::crd::HealingAction) -> bool,
) -> kubeskippy::operator::crd::HealingAction {
    eventually(what, limit, || async {
        let list = actions
            .list(&ListParams::default())
            .await
            .map_err(|e| e.to_string())?;
        let seen: Vec<String> = list
            .items
            .iter()
            .map(|a| format!("{} {:?}", a.spec.object.name, a.status))
            .collect();
        list.items
            .into_iter()
            .find(|a| check(a))
            .ok_or_else(|| format!("{seen:#?}"))
    })
    .await
}

pub fn deployment(name: &str, replicas: i32) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "example.invalid/app:1"}]}
            }
        }
    }))
    .expect("a deployment")
}

pub fn running_and_ready(pod: &Pod) -> bool {
    let status = pod.status.as_ref();
    status.and_then(|s| s.phase.as_deref()) == Some("Running")
        && status
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

pub async fn pods_of(pods: &Api<Pod>, app: &str) -> Result<Vec<Pod>, String> {
    pods.list(&ListParams::default().labels(&format!("app={app}")))
        .await
        .map(|list| list.items)
        .map_err(|e| e.to_string())
}

pub async fn install_crds(client: &Client) {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kube::CustomResourceExt;
    use kubeskippy::operator::crd;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let all = [
        crd::HealingPolicy::crd(),
        crd::ClusterHealingPolicy::crd(),
        crd::HealingAction::crd(),
    ];
    for definition in &all {
        let name = definition.metadata.name.clone().expect("a CRD has a name");
        crds.patch(
            &name,
            &PatchParams::apply("kubeskippy-tests").force(),
            &Patch::Apply(definition),
        )
        .await
        .unwrap_or_else(|e| panic!("the API server takes the {name} CRD: {e}"));
    }
    for definition in &all {
        let name = definition.metadata.name.clone().expect("a CRD has a name");
        eventually(
            &format!("{name} is established"),
            Duration::from_secs(30),
            || async {
                let crd = crds.get(&name).await.map_err(|e| e.to_string())?;
                let established = crd
                    .status
                    .and_then(|s| s.conditions)
                    .unwrap_or_default()
                    .iter()
                    .any(|c| c.type_ == "Established" && c.status == "True");
                if established {
                    Ok(())
                } else {
                    Err("not established".into())
                }
            },
        )
        .await;
    }
}

/// The cluster-wide cap of actions an hour, for an operator on the shared
/// test cluster.
pub const SHARED_CLUSTER_CAP: &str = "maxClusterActionsPerHour: 1000000\n";

/// Operators evaluate every policy of the cluster: tests that run one take
/// turns, so that what a test sees was done by its own operator.
pub static OPERATORS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// `kubeskippy run` against the control plane, killed when dropped; its log
/// goes beside the control plane's. With `safety`, that configuration.
pub fn operator_with(
    plane: &ControlPlane,
    name: &str,
    safety: Option<&str>,
) -> tokio::process::Child {
    operator_as(plane, name, safety, &plane.ready.kubeconfig, &[])
}

/// `kubeskippy run` with `kubeconfig`'s credentials and `extra` arguments.
/// Its leadership lasts two seconds: the operator of the test before, gone
/// now, does not hold this one back long.
pub fn operator_as(
    plane: &ControlPlane,
    name: &str,
    safety: Option<&str>,
    kubeconfig: &Path,
    extra: &[&str],
) -> tokio::process::Child {
    let log = plane.ready.log_dir.join(format!("operator-{name}.log"));
    let log = std::fs::File::create(&log).expect("the operator's log file");
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_kubeskippy"));
    command
        .arg("run")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["--lease-seconds", "2"])
        .args(extra)
        .env("POD_NAME", name);
    // The tests share one cluster, where earlier tests' policies keep
    // acting on their namespaces: every operator would otherwise meet the
    // cluster-wide hourly cap of actions (which the guards' own tests hold).
    let yaml = safety.unwrap_or("");
    let yaml = if yaml.contains("maxClusterActionsPerHour") {
        yaml.to_string()
    } else {
        format!("{}\n{SHARED_CLUSTER_CAP}", yaml.trim_end())
    };
    let file = plane.ready.log_dir.join(format!("safety-{name}.yaml"));
    std::fs::write(&file, yaml).expect("a safety file");
    command.arg("--safety").arg(file);
    command
        .env("KUBESKIPPY_LOG", "kubeskippy=debug,info")
        // Several operators run at once: each its own free port, unless the
        // test names one with `--metrics-address`.
        .env("KUBESKIPPY_METRICS_ADDRESS", "127.0.0.1:0")
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().expect("a log handle"))
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("kubeskippy run starts")
}

/// `kubeskippy run` with `kubeconfig` (the least-privilege role's) in the
/// operator's namespace, evaluating every second.
pub fn role_operator(plane: &ControlPlane, name: &str, kubeconfig: &Path) -> tokio::process::Child {
    operator_as(
        plane,
        name,
        Some("evaluationIntervalSeconds: 1\n"),
        kubeconfig,
        &["--namespace", "kubeskippy-system"],
    )
}

pub fn operator(plane: &ControlPlane, name: &str) -> tokio::process::Child {
    operator_with(plane, name, None)
}

/// An operator that evaluates every second.
pub fn fast_operator(plane: &ControlPlane, name: &str) -> tokio::process::Child {
    operator_with(plane, name, Some("evaluationIntervalSeconds: 1\n"))
}

pub fn compiled_condition(
    status: Option<&kubeskippy::operator::crd::PolicyStatus>,
) -> Option<(String, String, String)> {
    let c = status?.conditions.iter().find(|c| c.type_ == "Compiled")?;
    Some((c.status.clone(), c.reason.clone(), c.message.clone()))
}

/// Reports `pod` crash-looping, as a kubelet would.
pub async fn crash_loop(pods: &Api<Pod>, pod: &str) {
    let status = json!({
        "status": {
            "conditions": [{"type": "Ready", "status": "False"}],
            "containerStatuses": [{
                "name": "app", "image": "example.invalid/app:1", "imageID": "", "ready": false,
                "restartCount": 6,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"exitCode": 1, "reason": "Error",
                    "startedAt": "2026-12-06T10:00:00Z", "finishedAt": "2026-12-06T10:00:01Z"}}
            }]
        }
    });
    pods.patch_status(pod, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("the status subresource takes the patch");
}

pub async fn running_pod(pods: &Api<Pod>, app: &str) -> String {
    eventually("a running pod", Duration::from_secs(60), || async {
        let all = pods_of(pods, app).await?;
        all.into_iter()
            .find(running_and_ready)
            .and_then(|p| p.metadata.name)
            .ok_or_else(|| "none running".to_string())
    })
    .await
}

/// The kubeconfig of the operator's ServiceAccount in `kubeskippy-system`,
/// bound to exactly the least-privilege role of `examples/deploy/rbac.yaml`.
pub async fn least_privilege(plane: &ControlPlane, client: &Client) -> std::path::PathBuf {
    ensure_namespace(client, "kubeskippy-system").await;
    apply_rbac(
        client,
        concat!(env!("CARGO_MANIFEST_DIR"), "/examples/deploy/rbac.yaml"),
    )
    .await;
    service_account_kubeconfig(plane, client, "kubeskippy-system", "kubeskippy").await
}

/// Applies the documents of a YAML file of ServiceAccounts, ClusterRoles and
/// ClusterRoleBindings, as `kubectl apply -f` would.
pub async fn apply_rbac(client: &Client, path: &str) {
    use k8s_openapi::api::core::v1::ServiceAccount;
    use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
    use serde::Deserialize;
    let text = std::fs::read_to_string(path).expect("the RBAC manifest");
    let apply = PatchParams::apply("kubeskippy-tests").force();
    for document in serde_yaml::Deserializer::from_str(&text) {
        let value = serde_yaml::Value::deserialize(document).expect("a YAML document");
        let kind = value["kind"].as_str().unwrap_or_default().to_string();
        let name = value["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        match kind.as_str() {
            "ServiceAccount" => {
                let sa: ServiceAccount = serde_yaml::from_value(value).expect("a ServiceAccount");
                let ns = sa.metadata.namespace.clone().expect("a namespace");
                Api::<ServiceAccount>::namespaced(client.clone(), &ns)
                    .patch(&name, &apply, &Patch::Apply(&sa))
                    .await
                    .expect("the ServiceAccount applies");
            }
            "ClusterRole" => {
                let role: ClusterRole = serde_yaml::from_value(value).expect("a ClusterRole");
                Api::<ClusterRole>::all(client.clone())
                    .patch(&name, &apply, &Patch::Apply(&role))
                    .await
                    .expect("the ClusterRole applies");
            }
            "ClusterRoleBinding" => {
                let binding: ClusterRoleBinding =
                    serde_yaml::from_value(value).expect("a ClusterRoleBinding");
                Api::<ClusterRoleBinding>::all(client.clone())
                    .patch(&name, &apply, &Patch::Apply(&binding))
                    .await
                    .expect("the ClusterRoleBinding applies");
            }
            "Role" => {
                let role: Role = serde_yaml::from_value(value).expect("a Role");
                let ns = role.metadata.namespace.clone().expect("a namespace");
                Api::<Role>::namespaced(client.clone(), &ns)
                    .patch(&name, &apply, &Patch::Apply(&role))
                    .await
                    .expect("the Role applies");
            }
            "RoleBinding" => {
                let binding: RoleBinding = serde_yaml::from_value(value).expect("a RoleBinding");
                let ns = binding.metadata.namespace.clone().expect("a namespace");
                Api::<RoleBinding>::namespaced(client.clone(), &ns)
                    .patch(&name, &apply, &Patch::Apply(&binding))
                    .await
                    .expect("the RoleBinding applies");
            }
            other => panic!("{path}: an unexpected kind {other}"),
        }
    }
}

/// A kubeconfig for ServiceAccount `namespace/name`: the admin's, with a
/// token the API server issues for that account instead.
pub async fn service_account_kubeconfig(
    plane: &ControlPlane,
    client: &Client,
    namespace: &str,
    name: &str,
) -> std::path::PathBuf {
    let token = service_account_token(client, namespace, name).await;
    let admin_token =
        std::fs::read_to_string(&plane.ready.admin_token_file).expect("the admin token");
    let admin = std::fs::read_to_string(&plane.ready.kubeconfig).expect("the admin kubeconfig");
    assert!(
        admin.contains(admin_token.trim()),
        "the admin kubeconfig holds its token"
    );
    let path = plane
        .ready
        .log_dir
        .join(format!("{namespace}-{name}.kubeconfig"));
    std::fs::write(&path, admin.replace(admin_token.trim(), &token)).expect("a kubeconfig");
    path
}

/// An hour's token of the ServiceAccount `name` in `namespace`, as the
/// kubelet projects one into a pod.
pub async fn service_account_token(client: &Client, namespace: &str, name: &str) -> String {
    use k8s_openapi::api::authentication::v1::TokenRequest;
    use k8s_openapi::api::core::v1::ServiceAccount;
    let request = json!({
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": {"expirationSeconds": 3600, "audiences": []}
    });
    let issued: TokenRequest = Api::<ServiceAccount>::namespaced(client.clone(), namespace)
        .create_subresource("token", name, &PostParams::default(), &request)
        .await
        .expect("a token for the ServiceAccount");
    issued
        .status
        .and_then(|s| s.token)
        .expect("an issued token")
}

/// The Events regarding `name` in `namespace`: (reason, note).
pub async fn events_about(client: &Client, namespace: &str, name: &str) -> Vec<(String, String)> {
    use k8s_openapi::api::events::v1::Event;
    let events: Api<Event> = Api::namespaced(client.clone(), namespace);
    events
        .list(&ListParams::default())
        .await
        .expect("events")
        .items
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
        .map(|e| (e.reason.unwrap_or_default(), e.note.unwrap_or_default()))
        .collect()
}

/// A Deployment `app` of `replicas` in `namespace`, and the name of its
/// first pod once it runs.
pub async fn workload(
    client: &Client,
    namespace: &str,
    app: &str,
    replicas: i32,
) -> (Api<Pod>, String) {
    Api::<Deployment>::namespaced(client.clone(), namespace)
        .create(&PostParams::default(), &deployment(app, replicas))
        .await
        .expect("the deployment is created");
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let first = running_pod(&pods, app).await;
    (pods, first)
}

/// A HealingPolicy `name` in `namespace` with Skippy `source`.
pub async fn healing_policy(client: &Client, namespace: &str, name: &str, source: &str) {
    use kubeskippy::operator::crd::{HealingPolicy, HealingPolicySpec};
    let policy = HealingPolicy::new(
        name,
        HealingPolicySpec {
            policy: source.to_string(),
            mode: None,
        },
    );
    Api::<HealingPolicy>::namespaced(client.clone(), namespace)
        .create(&PostParams::default(), &policy)
        .await
        .expect("the policy is created");
}

/// The names of `count` running, ready pods of `app`, once there are.
pub async fn running_pods(pods: &Api<Pod>, app: &str, count: usize) -> Vec<String> {
    eventually(
        &format!("{count} running pods of {app}"),
        Duration::from_secs(60),
        || async {
            let running: Vec<String> = pods_of(pods, app)
                .await?
                .into_iter()
                .filter(running_and_ready)
                .filter_map(|p| p.metadata.name)
                .collect();
            if running.len() == count {
                Ok(running)
            } else {
                Err(format!("{running:?}"))
            }
        },
    )
    .await
}

/// Waits until the HealingPolicy `policy`'s status lists `metric` among
/// those that had no data (`listed`), or no longer does (`!listed`).
pub async fn without_data(client: &Client, ns: &str, policy: &str, metric: &str, listed: bool) {
    use kubeskippy::operator::crd::HealingPolicy;
    let policies = Api::<HealingPolicy>::namespaced(client.clone(), ns);
    let what = format!(
        "{policy}'s status {} {metric} as without data",
        if listed { "lists" } else { "no longer lists" }
    );
    eventually(&what, Duration::from_secs(60), || async {
        let names = policies
            .get(policy)
            .await
            .map_err(|e| e.to_string())?
            .status
            .map(|s| s.without_data)
            .unwrap_or_default();
        if names.iter().any(|m| m == metric) == listed {
            Ok(())
        } else {
            Err(format!("{names:?}"))
        }
    })
    .await
}

/// How many records `actions` holds.
pub async fn record_count(actions: &Api<kubeskippy::operator::crd::HealingAction>) -> usize {
    actions
        .list(&ListParams::default())
        .await
        .expect("the records list")
        .items
        .len()
}

/// What a test of an operator with the least-privilege role starts from:
/// its turn, the admin client, the CRDs installed, the role's kubeconfig
/// and a fresh namespace.
pub struct RoleBench {
    pub plane: &'static ControlPlane,
    pub client: Client,
    pub kubeconfig: std::path::PathBuf,
    pub ns: String,
    /// Held for as long as the bench is.
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

/// A bench cannot be taken apart (a type with `Drop` cannot be moved out
/// of): a pattern that left the turn out would drop it at once, and the next
/// test's operator would start beside this one's.
impl Drop for RoleBench {
    fn drop(&mut self) {}
}

impl RoleBench {
    /// What a test reads: the plane, an admin client, the role's
    /// kubeconfig and the namespace.
    pub fn parts(&self) -> (&'static ControlPlane, Client, std::path::PathBuf, String) {
        (
            self.plane,
            self.client.clone(),
            self.kubeconfig.clone(),
            self.ns.clone(),
        )
    }
}

/// The bench for a test in namespace `ns`; `None` (the test is skipped,
/// loudly) without a control plane.
pub async fn role_bench(ns: &str) -> Option<RoleBench> {
    let plane = control_plane::require()?;
    let turn = OPERATORS.lock().await;
    let client = admin(plane).await;
    install_crds(&client).await;
    let kubeconfig = least_privilege(plane, &client).await;
    let ns = namespace(&client, ns).await;
    Some(RoleBench {
        plane,
        client,
        kubeconfig,
        ns,
        _turn: turn,
    })
}

/// The control plane's certificates and keys (`ca.crt`, `apiserver.crt`,
/// `apiserver.key`, …), which the harness writes beside its logs.
pub fn pki(plane: &ControlPlane) -> std::path::PathBuf {
    plane
        .ready
        .log_dir
        .parent()
        .expect("the run folder")
        .join("pki")
}

/// One HTTP/1.1 request read from `stream` by a test double: its head and
/// as much body as its `Content-Length` announces; `None` if the peer
/// closed first.
pub async fn read_request(
    stream: &mut (impl tokio::io::AsyncRead + Unpin),
) -> Option<(String, String)> {
    use tokio::io::AsyncReadExt;
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buffer);
        let Some((head, body)) = text.split_once("\r\n\r\n") else {
            continue;
        };
        let length = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse::<usize>().ok())?
            })
            .unwrap_or(0);
        if body.len() >= length {
            return Some((head.to_string(), body.to_string()));
        }
    }
}
