//! Tests against a real Kubernetes control plane (kube-apiserver,
//! kube-controller-manager, kube-scheduler and etcd, built by
//! `tests/cluster/`), started once for this test binary. Each test works in
//! a namespace of its own.

mod on_cluster {
    pub mod control_plane;
}

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use on_cluster::control_plane::{self, ControlPlane};
use serde_json::json;
use std::future::Future;
use std::path::Path;
use std::time::{Duration, Instant};

async fn client(kubeconfig: &Path) -> Client {
    let kubeconfig = Kubeconfig::read_from(kubeconfig).expect("testcluster's kubeconfig reads");
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("a client configuration");
    Client::try_from(config).expect("a client")
}

async fn admin(plane: &ControlPlane) -> Client {
    client(&plane.ready.kubeconfig).await
}

/// A fresh namespace for one test.
async fn namespace(client: &Client, name: &str) -> String {
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
async fn ensure_namespace(client: &Client, name: &str) {
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
async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
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

fn deployment(name: &str, replicas: i32) -> Deployment {
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

fn running_and_ready(pod: &Pod) -> bool {
    let status = pod.status.as_ref();
    status.and_then(|s| s.phase.as_deref()) == Some("Running")
        && status
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

async fn pods_of(pods: &Api<Pod>, app: &str) -> Result<Vec<Pod>, String> {
    pods.list(&ListParams::default().labels(&format!("app={app}")))
        .await
        .map(|list| list.items)
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn a_deployment_gets_its_replicaset_and_running_pods() {
    let Some(plane) = control_plane::require() else {
        return;
    };
    let client = admin(plane).await;
    let ns = namespace(&client, "t-deployment").await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    deployments
        .create(&PostParams::default(), &deployment("web", 2))
        .await
        .expect("the deployment is created");

    let replicasets: Api<ReplicaSet> = Api::namespaced(client.clone(), &ns);
    let rs = eventually(
        "the deployment controller makes a ReplicaSet",
        Duration::from_secs(60),
        || async {
            let list = replicasets
                .list(&ListParams::default())
                .await
                .map_err(|e| e.to_string())?;
            list.items
                .into_iter()
                .next()
                .ok_or_else(|| "no ReplicaSet".to_string())
        },
    )
    .await;
    let owner = rs.metadata.owner_references.unwrap_or_default();
    assert_eq!(
        owner
            .iter()
            .map(|o| (o.kind.as_str(), o.name.as_str()))
            .collect::<Vec<_>>(),
        [("Deployment", "web")]
    );

    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let running = eventually(
        "two pods scheduled and reported running",
        Duration::from_secs(60),
        || async {
            let all = pods_of(&pods, "web").await?;
            let running: Vec<Pod> = all.into_iter().filter(running_and_ready).collect();
            if running.len() == 2 {
                Ok(running)
            } else {
                Err(format!("{} running", running.len()))
            }
        },
    )
    .await;
    for pod in &running {
        let node = pod.spec.as_ref().and_then(|s| s.node_name.clone());
        assert!(
            node.as_ref().is_some_and(|n| plane.ready.nodes.contains(n)),
            "scheduled on a node of the harness: {node:?}"
        );
    }
    eventually(
        "the deployment becomes available",
        Duration::from_secs(60),
        || async {
            let d = deployments.get("web").await.map_err(|e| e.to_string())?;
            let available = d.status.and_then(|s| s.available_replicas).unwrap_or(0);
            if available == 2 {
                Ok(())
            } else {
                Err(format!("{available} available"))
            }
        },
    )
    .await;
}

#[tokio::test]
async fn a_deleted_pod_is_replaced_once_its_deletion_completes() {
    let Some(plane) = control_plane::require() else {
        return;
    };
    let client = admin(plane).await;
    let ns = namespace(&client, "t-delete").await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    deployments
        .create(&PostParams::default(), &deployment("api", 1))
        .await
        .expect("the deployment is created");
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let first = eventually("a running pod", Duration::from_secs(60), || async {
        let all = pods_of(&pods, "api").await?;
        all.into_iter()
            .find(running_and_ready)
            .ok_or_else(|| "none running".to_string())
    })
    .await;
    let first_name = first.metadata.name.clone().expect("a name");
    // A graceful delete: the harness completes it as a kubelet does once the
    // containers stopped, and the ReplicaSet replaces the pod.
    pods.delete(&first_name, &DeleteParams::default())
        .await
        .expect("the delete is accepted");
    eventually(
        "the pod is gone and replaced",
        Duration::from_secs(60),
        || async {
            let all = pods_of(&pods, "api").await?;
            let names: Vec<String> = all.iter().filter_map(|p| p.metadata.name.clone()).collect();
            let replaced = !names.contains(&first_name) && all.iter().any(running_and_ready);
            if replaced {
                Ok(())
            } else {
                Err(format!("{names:?}"))
            }
        },
    )
    .await;
}

#[tokio::test]
async fn a_pod_status_set_as_a_kubelet_would_sticks() {
    let Some(plane) = control_plane::require() else {
        return;
    };
    let client = admin(plane).await;
    let ns = namespace(&client, "t-status").await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    deployments
        .create(&PostParams::default(), &deployment("crashy", 1))
        .await
        .expect("the deployment is created");
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let pod = eventually("a running pod", Duration::from_secs(60), || async {
        let all = pods_of(&pods, "crashy").await?;
        all.into_iter()
            .find(running_and_ready)
            .ok_or_else(|| "none running".to_string())
    })
    .await;
    let name = pod.metadata.name.expect("a name");
    let crash_looping = json!({
        "status": {
            "containerStatuses": [{
                "name": "app",
                "image": "example.invalid/app:1",
                "imageID": "",
                "ready": false,
                "restartCount": 5,
                "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed container"}},
                "lastState": {"terminated": {"exitCode": 1, "reason": "Error",
                    "startedAt": "2026-12-06T10:00:00Z", "finishedAt": "2026-12-06T10:00:01Z"}}
            }]
        }
    });
    pods.patch_status(
        &name,
        &PatchParams::default(),
        &Patch::Merge(&crash_looping),
    )
    .await
    .expect("the status subresource takes the patch");
    let seen = pods.get(&name).await.expect("the pod");
    let status = seen
        .status
        .and_then(|s| s.container_statuses)
        .unwrap_or_default();
    let waiting = status
        .first()
        .and_then(|c| c.state.as_ref())
        .and_then(|s| s.waiting.as_ref())
        .and_then(|w| w.reason.clone());
    assert_eq!(waiting.as_deref(), Some("CrashLoopBackOff"));
    assert_eq!(status.first().map(|c| c.restart_count), Some(5));
}

#[tokio::test]
async fn a_service_account_without_bindings_is_forbidden() {
    let Some(plane) = control_plane::require() else {
        return;
    };
    let plain = client(&plane.ready.plain_kubeconfig).await;
    let pods: Api<Pod> = Api::namespaced(plain.clone(), "default");
    match pods.list(&ListParams::default()).await {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 403, "{status:?}");
            assert!(
                status.message.contains(&format!(
                    "system:serviceaccount:{}",
                    plane.ready.plain_service_account.replace('/', ":")
                )),
                "the server names who was refused: {}",
                status.message
            );
        }
        other => panic!("a 403 for a ServiceAccount without bindings, got {other:?}"),
    }
    // The same request as admin succeeds: the refusal is RBAC's, not the
    // connection's.
    let nodes: Api<Node> = Api::all(admin(plane).await);
    let names: Vec<String> = nodes
        .list(&ListParams::default())
        .await
        .expect("admin lists nodes")
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    assert_eq!(names, plane.ready.nodes);
}

// --- The CRDs on a real API server: a schema the server would refuse, or a
// printer column it cannot read, fails here, where users would meet it.

async fn install_crds(client: &Client) {
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

#[tokio::test]
async fn the_crds_install_and_their_schemas_hold() {
    use kubeskippy::operator::crd::{HealingPolicy, HealingPolicySpec, ModeOverride};
    let Some(plane) = control_plane::require() else {
        return;
    };
    let client = admin(plane).await;
    install_crds(&client).await;
    let ns = namespace(&client, "t-crds").await;
    let policies: Api<HealingPolicy> = Api::namespaced(client.clone(), &ns);
    let source = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/policies/crashloop.skippy"
    ))
    .expect("a policy of the library");
    let policy = HealingPolicy::new(
        "crashloop",
        HealingPolicySpec {
            policy: source.clone(),
            mode: Some(ModeOverride::DryRun),
        },
    );
    let created = policies
        .create(&PostParams::default(), &policy)
        .await
        .expect("a HealingPolicy is created");
    assert_eq!(created.spec, policy.spec, "the server kept every field");

    // Untrusted text is bounded by the server itself.
    let huge = HealingPolicy::new(
        "huge",
        HealingPolicySpec {
            policy: "#".repeat(70_000),
            mode: None,
        },
    );
    match policies.create(&PostParams::default(), &huge).await {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 422, "{status:?}");
            assert!(status.message.contains("spec.policy"), "{}", status.message);
        }
        other => panic!("a 70,000-character policy must be refused: {other:?}"),
    }
    // A mode outside the enum is refused too.
    let bogus = serde_json::json!({
        "apiVersion": "kubeskippy.io/v1alpha1",
        "kind": "HealingPolicy",
        "metadata": {"name": "bogus"},
        "spec": {"policy": source, "mode": "yolo"}
    });
    let raw: Api<kube::api::DynamicObject> = Api::namespaced_with(
        client.clone(),
        &ns,
        &kube::api::ApiResource::erase::<HealingPolicy>(&()),
    );
    let bogus: kube::api::DynamicObject = serde_json::from_value(bogus).expect("an object");
    match raw.create(&PostParams::default(), &bogus).await {
        Err(kube::Error::Api(status)) => assert_eq!(status.code, 422, "{status:?}"),
        other => panic!("mode `yolo` must be refused: {other:?}"),
    }
}

#[tokio::test]
async fn a_healing_action_records_its_phase_through_the_status_subresource() {
    use kubeskippy::operator::crd::*;
    let Some(plane) = control_plane::require() else {
        return;
    };
    let client = admin(plane).await;
    install_crds(&client).await;
    let ns = namespace(&client, "t-actions").await;
    let actions: Api<HealingAction> = Api::namespaced(client.clone(), &ns);
    let spec = HealingActionSpec {
        policy: PolicyRef {
            kind: PolicyKind::HealingPolicy,
            namespace: Some(ns.clone()),
            name: "crashloop".into(),
            uid: "0b8f0d4e-0000-4000-8000-000000000001".into(),
            program_hash: "sha256:0".into(),
        },
        rule: RuleRef {
            number: 1,
            fingerprint: "f00d".into(),
            text: "when status is CrashLoopBackOff for 3m then restart".into(),
            span: Some(SourceSpan {
                line: 4,
                column: 3,
                end_line: 4,
                end_column: 55,
            }),
        },
        target: ObjectRef {
            kind: "Pod".into(),
            namespace: Some(ns.clone()),
            name: "web-1".into(),
            uid: None,
        },
        object: ObjectRef {
            kind: "Pod".into(),
            namespace: Some(ns.clone()),
            name: "web-1".into(),
            uid: None,
        },
        action: ActionSpec {
            name: "restart".into(),
            text: "restart".into(),
            ..ActionSpec::default()
        },
        evidence: vec![EvidenceRecord {
            kind: "status".into(),
            text: "status is CrashLoopBackOff".into(),
            subject: Some("CrashLoopBackOff".into()),
            ..EvidenceRecord::default()
        }],
        origin: ActionOrigin {
            kind: OriginKind::Rule,
            model: None,
            confidence: None,
            reasoning: None,
        },
        dry_run: false,
        approval_required: false,
        firing_since: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            "2026-12-06T10:00:00Z".parse().expect("a time"),
        ),
    };
    let record = HealingAction::new("crashloop-web-1-f00d", spec);
    actions
        .create(&PostParams::default(), &record)
        .await
        .expect("a HealingAction is created");
    let status = serde_json::json!({"status": {"phase": "Executing", "message": "evicting web-1"}});
    let patched = actions
        .patch_status(
            "crashloop-web-1-f00d",
            &PatchParams::default(),
            &Patch::Merge(&status),
        )
        .await
        .expect("the status subresource takes the phase");
    assert_eq!(
        patched.status.and_then(|s| s.phase),
        Some(ActionPhase::Executing)
    );
    // The main resource ignores status: only the subresource writes it.
    let spec_patch = serde_json::json!({"status": {"phase": "Succeeded"}});
    let after = actions
        .patch(
            "crashloop-web-1-f00d",
            &PatchParams::default(),
            &Patch::Merge(&spec_patch),
        )
        .await
        .expect("a patch of the main resource");
    assert_eq!(
        after.status.and_then(|s| s.phase),
        Some(ActionPhase::Executing)
    );
}

// --- The operator itself, as a user runs it: `kubeskippy run --kubeconfig`.

/// Operators evaluate every policy of the cluster: tests that run one take
/// turns, so that what a test sees was done by its own operator.
static OPERATORS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// `kubeskippy run` against the control plane, killed when dropped; its log
/// goes beside the control plane's. With `safety`, that configuration.
fn operator_with(plane: &ControlPlane, name: &str, safety: Option<&str>) -> tokio::process::Child {
    operator_as(plane, name, safety, &plane.ready.kubeconfig, &[])
}

/// `kubeskippy run` with `kubeconfig`'s credentials and `extra` arguments.
/// Its leadership lasts two seconds: the operator of the test before, gone
/// now, does not hold this one back long.
fn operator_as(
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
    if let Some(yaml) = safety {
        let file = plane.ready.log_dir.join(format!("safety-{name}.yaml"));
        std::fs::write(&file, yaml).expect("a safety file");
        command.arg("--safety").arg(file);
    }
    command
        .env("KUBESKIPPY_LOG", "kubeskippy=debug,info")
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().expect("a log handle"))
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("kubeskippy run starts")
}

fn operator(plane: &ControlPlane, name: &str) -> tokio::process::Child {
    operator_with(plane, name, None)
}

/// An operator that evaluates every second.
fn fast_operator(plane: &ControlPlane, name: &str) -> tokio::process::Child {
    operator_with(plane, name, Some("evaluationIntervalSeconds: 1\n"))
}

fn compiled_condition(
    status: Option<&kubeskippy::operator::crd::PolicyStatus>,
) -> Option<(String, String, String)> {
    let c = status?.conditions.iter().find(|c| c.type_ == "Compiled")?;
    Some((c.status.clone(), c.reason.clone(), c.message.clone()))
}

#[tokio::test]
async fn the_operator_compiles_policies_and_says_so_in_their_status() {
    use kubeskippy::operator::crd::{
        ClusterHealingPolicy, ClusterHealingPolicySpec, HealingPolicy, HealingPolicySpec,
    };
    let Some(plane) = control_plane::require() else {
        return;
    };
    let _turn = OPERATORS.lock().await;
    let client = admin(plane).await;
    install_crds(&client).await;
    let ns = namespace(&client, "t-policies").await;
    let _operator = operator(plane, "policies");
    let policies: Api<HealingPolicy> = Api::namespaced(client.clone(), &ns);
    let good = HealingPolicy::new(
        "checkout",
        HealingPolicySpec {
            policy: "policy checkout-crashes {\n  select pods where app = \"checkout\"\n  mode auto\n  cooldown 10m\n  when status is CrashLoopBackOff for 3m then restart\n}\n".into(),
            mode: Some(kubeskippy::operator::crd::ModeOverride::DryRun),
        },
    );
    // A tenant's policy that reaches into another namespace, with a typo.
    let bad = HealingPolicy::new(
        "reach",
        HealingPolicySpec {
            policy: "policy reach {\n  select pods in billing\n  cooldown 10m\n  when memroy_percent > 85 then restart\n}\n".into(),
            mode: None,
        },
    );
    for p in [&good, &bad] {
        policies
            .create(&PostParams::default(), p)
            .await
            .expect("a HealingPolicy is created");
    }
    let status = eventually(
        "the good policy compiles",
        Duration::from_secs(60),
        || async {
            let p = policies.get("checkout").await.map_err(|e| e.to_string())?;
            match compiled_condition(p.status.as_ref()) {
                Some(c) if c.0 == "True" => Ok(p.status.expect("a status")),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
    assert_eq!(status.policy_name.as_deref(), Some("checkout-crashes"));
    assert_eq!(status.mode.as_deref(), Some("dryrun"), "the override wins");
    assert_eq!(status.observed_generation, Some(1));

    let (_, reason, message) = eventually(
        "the bad policy is refused",
        Duration::from_secs(60),
        || async {
            let p = policies.get("reach").await.map_err(|e| e.to_string())?;
            match compiled_condition(p.status.as_ref()) {
                Some(c) if c.0 == "False" => Ok(c),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
    assert_eq!(reason, "CompileErrors");
    for expected in [
        "E0309",
        "not in `billing`",
        "E0101",
        "did you mean `memory_percent`?",
    ] {
        assert!(message.contains(expected), "{expected:?} in:\n{message}");
    }

    // The user fixes it: the status follows the new generation.
    let fixed = serde_json::json!({"spec": {"policy": "policy reach {\n  select pods\n  cooldown 10m\n  when memory_percent > 85 then restart\n}\n"}});
    policies
        .patch("reach", &PatchParams::default(), &Patch::Merge(&fixed))
        .await
        .expect("the fix is applied");
    eventually(
        "the fixed policy compiles",
        Duration::from_secs(60),
        || async {
            let p = policies.get("reach").await.map_err(|e| e.to_string())?;
            let status = p.status.clone().unwrap_or_default();
            match compiled_condition(Some(&status)) {
                Some(c) if c.0 == "True" && status.observed_generation == Some(2) => Ok(()),
                other => Err(format!("{other:?} at {:?}", status.observed_generation)),
            }
        },
    )
    .await;

    // A ClusterHealingPolicy may select nodes.
    let cluster: Api<ClusterHealingPolicy> = Api::all(client.clone());
    let nodes = ClusterHealingPolicy::new(
        "node-pressure",
        ClusterHealingPolicySpec {
            policy: "policy node-pressure {\n  select nodes\n  mode approve\n  cooldown 30m\n  when status is MemoryPressure for 5m then cordon\n}\n".into(),
            mode: None,
        },
    );
    cluster
        .create(&PostParams::default(), &nodes)
        .await
        .expect("a ClusterHealingPolicy is created");
    eventually(
        "the cluster policy compiles",
        Duration::from_secs(60),
        || async {
            let p = cluster
                .get("node-pressure")
                .await
                .map_err(|e| e.to_string())?;
            match compiled_condition(p.status.as_ref()) {
                Some(c) if c.0 == "True" => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
}

/// Reports `pod` crash-looping, as a kubelet would.
async fn crash_loop(pods: &Api<Pod>, pod: &str) {
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

async fn running_pod(pods: &Api<Pod>, app: &str) -> String {
    eventually("a running pod", Duration::from_secs(60), || async {
        let all = pods_of(pods, app).await?;
        all.into_iter()
            .find(running_and_ready)
            .and_then(|p| p.metadata.name)
            .ok_or_else(|| "none running".to_string())
    })
    .await
}

#[tokio::test]
async fn a_crash_looping_pod_is_recorded_and_restarted_through_an_eviction() {
    use kubeskippy::operator::crd::{ActionPhase, HealingAction, HealingPolicy, HealingPolicySpec};
    let Some(plane) = control_plane::require() else {
        return;
    };
    let _turn = OPERATORS.lock().await;
    let client = admin(plane).await;
    install_crds(&client).await;
    let ns = namespace(&client, "t-heal").await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    deployments
        .create(&PostParams::default(), &deployment("healme", 1))
        .await
        .expect("the deployment is created");
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let first = running_pod(&pods, "healme").await;
    let _operator = fast_operator(plane, "heal");
    let policies: Api<HealingPolicy> = Api::namespaced(client.clone(), &ns);
    let policy = HealingPolicy::new(
        "crashloop",
        HealingPolicySpec {
            policy: "policy crashloop {\n  select pods where app = \"healme\"\n  mode auto\n  cooldown 10m\n  when status is CrashLoopBackOff then restart\n}\n".into(),
            mode: None,
        },
    );
    policies
        .create(&PostParams::default(), &policy)
        .await
        .expect("the policy is created");
    crash_loop(&pods, &first).await;

    let actions: Api<HealingAction> = Api::namespaced(client.clone(), &ns);
    let record = eventually(
        "a HealingAction that succeeded",
        Duration::from_secs(60),
        || async {
            let list = actions
                .list(&ListParams::default())
                .await
                .map_err(|e| e.to_string())?;
            let done = list
                .items
                .into_iter()
                .find(|a| a.status.as_ref().and_then(|s| s.phase) == Some(ActionPhase::Succeeded));
            done.ok_or_else(|| "no record has succeeded".to_string())
        },
    )
    .await;
    assert_eq!(record.spec.object.name, first);
    assert_eq!(record.spec.action.name, "restart");
    assert_eq!(record.spec.policy.name, "crashloop");
    assert_eq!(record.spec.rule.number, 1);
    assert_eq!(
        record.spec.rule.text,
        "when status is CrashLoopBackOff then restart"
    );
    assert!(
        record
            .spec
            .evidence
            .iter()
            .any(|e| e.text == "status is CrashLoopBackOff"),
        "{:?}",
        record.spec.evidence
    );
    assert!(
        record
            .status
            .as_ref()
            .and_then(|s| s.message.clone())
            .is_some_and(|m| m.contains("evicted")),
        "{:?}",
        record.status
    );
    // The eviction went through; the ReplicaSet replaced the pod.
    eventually("the pod is replaced", Duration::from_secs(60), || async {
        let all = pods_of(&pods, "healme").await?;
        let names: Vec<String> = all.iter().filter_map(|p| p.metadata.name.clone()).collect();
        if !names.contains(&first) && all.iter().any(running_and_ready) {
            Ok(())
        } else {
            Err(format!("{names:?}"))
        }
    })
    .await;
    // One firing, one record: later cycles neither record nor act again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let records = actions.list(&ListParams::default()).await.expect("records");
    let acted: Vec<_> = records
        .items
        .iter()
        .filter(|a| a.status.as_ref().and_then(|s| s.phase) == Some(ActionPhase::Succeeded))
        .collect();
    assert_eq!(acted.len(), 1, "{:#?}", records.items);
}

#[tokio::test]
async fn a_dry_run_records_the_decision_and_leaves_the_pod_alone() {
    use kubeskippy::operator::crd::{ActionPhase, HealingAction, HealingPolicy, HealingPolicySpec};
    let Some(plane) = control_plane::require() else {
        return;
    };
    let _turn = OPERATORS.lock().await;
    let client = admin(plane).await;
    install_crds(&client).await;
    let ns = namespace(&client, "t-dryrun").await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    deployments
        .create(&PostParams::default(), &deployment("watched", 1))
        .await
        .expect("the deployment is created");
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let pod = running_pod(&pods, "watched").await;
    let _operator = fast_operator(plane, "dryrun");
    let policies: Api<HealingPolicy> = Api::namespaced(client.clone(), &ns);
    let policy = HealingPolicy::new(
        "crashloop",
        HealingPolicySpec {
            policy: "policy crashloop {\n  select pods where app = \"watched\"\n  cooldown 10m\n  when status is CrashLoopBackOff then restart\n}\n".into(),
            mode: None,
        },
    );
    policies
        .create(&PostParams::default(), &policy)
        .await
        .expect("the policy is created");
    crash_loop(&pods, &pod).await;
    let actions: Api<HealingAction> = Api::namespaced(client.clone(), &ns);
    let record = eventually("a dry-run record", Duration::from_secs(60), || async {
        let list = actions
            .list(&ListParams::default())
            .await
            .map_err(|e| e.to_string())?;
        list.items
            .into_iter()
            .find(|a| a.status.as_ref().and_then(|s| s.phase) == Some(ActionPhase::DryRun))
            .ok_or_else(|| "no dry-run record".to_string())
    })
    .await;
    assert!(record.spec.dry_run);
    assert_eq!(record.spec.object.name, pod);
    let still = pods.get(&pod).await.expect("the pod is still there");
    assert!(still.metadata.deletion_timestamp.is_none());
    // The dry run spent the cooldown: the rule, true every second, is
    // blocked from now on, and that episode makes one record, not one per
    // cycle.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let all = actions.list(&ListParams::default()).await.expect("records");
    let mut phases: Vec<String> = all
        .items
        .iter()
        .map(|a| format!("{:?}", a.status.as_ref().and_then(|s| s.phase)))
        .collect();
    phases.sort();
    assert_eq!(
        phases,
        ["Some(Blocked)", "Some(DryRun)"],
        "{:#?}",
        all.items
    );
}

#[tokio::test]
async fn a_killed_operator_resumes_its_timers_and_acts_once() {
    use k8s_openapi::api::core::v1::ConfigMap;
    use kubeskippy::operator::crd::{ActionPhase, HealingAction, HealingPolicy, HealingPolicySpec};
    let Some(plane) = control_plane::require() else {
        return;
    };
    let _turn = OPERATORS.lock().await;
    let client = admin(plane).await;
    install_crds(&client).await;
    let ns = namespace(&client, "t-restart").await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    deployments
        .create(&PostParams::default(), &deployment("resume", 1))
        .await
        .expect("the deployment is created");
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let pod = running_pod(&pods, "resume").await;
    let policies: Api<HealingPolicy> = Api::namespaced(client.clone(), &ns);
    let policy = HealingPolicy::new(
        "crashloop",
        HealingPolicySpec {
            policy: "policy crashloop {\n  select pods where app = \"resume\"\n  mode auto\n  cooldown 10m\n  when status is CrashLoopBackOff for 20s then restart\n}\n".into(),
            mode: None,
        },
    );
    let created = policies
        .create(&PostParams::default(), &policy)
        .await
        .expect("the policy is created");
    let uid = created.metadata.uid.expect("a uid");
    let mut first = operator_with(plane, "restart-1", Some("evaluationIntervalSeconds: 1\n"));
    crash_loop(&pods, &pod).await;
    let began = k8s_openapi::jiff::Timestamp::now().as_second();
    // The first operator sees the condition hold and saves its timer.
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    eventually("the timer is saved", Duration::from_secs(30), || async {
        let map = maps
            .get_opt(&format!("kubeskippy-state-{uid}"))
            .await
            .map_err(|e| e.to_string())?
            .ok_or("no saved state")?;
        let text = map
            .data
            .and_then(|d| d.get("state.json").cloned())
            .unwrap_or_default();
        if text.contains("\"since\"") {
            Ok(())
        } else {
            Err(text)
        }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    // kill -9, well before `for 20s` holds.
    first.kill().await.expect("the operator is killed");
    let killed = k8s_openapi::jiff::Timestamp::now().as_second();
    let _second = operator_with(plane, "restart-2", Some("evaluationIntervalSeconds: 1\n"));
    let actions: Api<HealingAction> = Api::namespaced(client.clone(), &ns);
    let record = eventually(
        "the restarted operator acts",
        Duration::from_secs(60),
        || async {
            let list = actions
                .list(&ListParams::default())
                .await
                .map_err(|e| e.to_string())?;
            list.items
                .into_iter()
                .find(|a| a.status.as_ref().and_then(|s| s.phase) == Some(ActionPhase::Succeeded))
                .ok_or_else(|| "not yet".to_string())
        },
    )
    .await;
    let since = record.spec.firing_since.0.as_second();
    assert!(
        since <= killed && since >= began - 2,
        "the timer ran from before the kill ({began}..{killed}), not from the restart: {since}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let all = actions.list(&ListParams::default()).await.expect("records");
    let succeeded = all
        .items
        .iter()
        .filter(|a| a.status.as_ref().and_then(|s| s.phase) == Some(ActionPhase::Succeeded))
        .count();
    assert_eq!(succeeded, 1, "one firing, one action: {:#?}", all.items);
}

/// Applies the documents of a YAML file of ServiceAccounts, ClusterRoles and
/// ClusterRoleBindings, as `kubectl apply -f` would.
async fn apply_rbac(client: &Client, path: &str) {
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
async fn service_account_kubeconfig(
    plane: &ControlPlane,
    client: &Client,
    namespace: &str,
    name: &str,
) -> std::path::PathBuf {
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
    let token = issued
        .status
        .and_then(|s| s.token)
        .expect("an issued token");
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

#[tokio::test]
async fn the_operator_heals_with_its_least_privilege_role_and_no_more() {
    use k8s_openapi::api::core::v1::{ConfigMap, Secret};
    use kubeskippy::operator::crd::{ActionPhase, HealingAction, HealingPolicy, HealingPolicySpec};
    let Some(plane) = control_plane::require() else {
        return;
    };
    let _turn = OPERATORS.lock().await;
    let client = admin(plane).await;
    install_crds(&client).await;
    ensure_namespace(&client, "kubeskippy-system").await;
    apply_rbac(
        &client,
        concat!(env!("CARGO_MANIFEST_DIR"), "/examples/deploy/rbac.yaml"),
    )
    .await;
    let kubeconfig =
        service_account_kubeconfig(plane, &client, "kubeskippy-system", "kubeskippy").await;
    // Not an admin: what the role does not grant is refused.
    let operator_client = self::client(&kubeconfig).await;
    match Api::<Secret>::all(operator_client)
        .list(&ListParams::default())
        .await
    {
        Err(kube::Error::Api(status)) => assert_eq!(status.code, 403, "{status:?}"),
        other => panic!("the operator's role reads no Secrets: {other:?}"),
    }

    let ns = namespace(&client, "t-rbac").await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    deployments
        .create(&PostParams::default(), &deployment("least", 1))
        .await
        .expect("the deployment is created");
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let pod = running_pod(&pods, "least").await;
    let _operator = operator_as(
        plane,
        "rbac",
        Some("evaluationIntervalSeconds: 1\n"),
        &kubeconfig,
        &["--namespace", "kubeskippy-system"],
    );
    let policies: Api<HealingPolicy> = Api::namespaced(client.clone(), &ns);
    let policy = HealingPolicy::new(
        "crashloop",
        HealingPolicySpec {
            policy: "policy crashloop {\n  select pods where app = \"least\"\n  mode auto\n  cooldown 10m\n  when status is CrashLoopBackOff for 2s then restart\n}\n".into(),
            mode: None,
        },
    );
    policies
        .create(&PostParams::default(), &policy)
        .await
        .expect("the policy is created");
    crash_loop(&pods, &pod).await;
    let actions: Api<HealingAction> = Api::namespaced(client.clone(), &ns);
    let record = eventually(
        "the pod restarted by an operator with the role",
        Duration::from_secs(60),
        || async {
            let list = actions
                .list(&ListParams::default())
                .await
                .map_err(|e| e.to_string())?;
            let seen: Vec<String> = list
                .items
                .iter()
                .map(|a| format!("{:?}", a.status))
                .collect();
            list.items
                .into_iter()
                .find(|a| a.status.as_ref().and_then(|s| s.phase) == Some(ActionPhase::Succeeded))
                .ok_or_else(|| format!("{seen:?}"))
        },
    )
    .await;
    assert_eq!(record.spec.object.name, pod);
    // Events on the pod and on its record, written with the role too.
    let record_name = record.metadata.name.clone().expect("a name");
    let on_pod = events_about(&client, &ns, &pod).await;
    assert!(
        on_pod
            .iter()
            .any(|(reason, note)| reason == "ActionSucceeded" && note.contains(&record_name)),
        "{on_pod:?}"
    );
    let on_record = events_about(&client, &ns, &record_name).await;
    assert!(
        on_record
            .iter()
            .any(|(reason, _)| reason == "ActionSucceeded"),
        "{on_record:?}"
    );
    // The policy's status and its saved state were written with the role too.
    let compiled = policies.get("crashloop").await.expect("the policy");
    assert_eq!(
        compiled_condition(compiled.status.as_ref())
            .map(|c| c.0)
            .as_deref(),
        Some("True")
    );
    let uid = compiled.metadata.uid.expect("a uid");
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    eventually("the state is saved", Duration::from_secs(30), || async {
        maps.get_opt(&format!("kubeskippy-state-{uid}"))
            .await
            .map_err(|e| e.to_string())?
            .map(|_| ())
            .ok_or_else(|| "no state".to_string())
    })
    .await;
}

#[tokio::test]
async fn a_status_change_is_acted_on_at_once_not_at_the_next_cycle() {
    use kubeskippy::operator::crd::{ActionPhase, HealingAction, HealingPolicy, HealingPolicySpec};
    let Some(plane) = control_plane::require() else {
        return;
    };
    let _turn = OPERATORS.lock().await;
    let client = admin(plane).await;
    install_crds(&client).await;
    let ns = namespace(&client, "t-watch").await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    deployments
        .create(&PostParams::default(), &deployment("instant", 1))
        .await
        .expect("the deployment is created");
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let pod = running_pod(&pods, "instant").await;
    // Cycles five minutes apart: only a watch event can act within the test.
    let _operator = operator_with(plane, "watch", Some("evaluationIntervalSeconds: 300\n"));
    let policies: Api<HealingPolicy> = Api::namespaced(client.clone(), &ns);
    let policy = HealingPolicy::new(
        "crashloop",
        HealingPolicySpec {
            policy: "policy crashloop {\n  select pods where app = \"instant\"\n  mode auto\n  cooldown 10m\n  when status is CrashLoopBackOff then restart\n}\n".into(),
            mode: None,
        },
    );
    policies
        .create(&PostParams::default(), &policy)
        .await
        .expect("the policy is created");
    eventually("the policy compiles", Duration::from_secs(30), || async {
        let p = policies.get("crashloop").await.map_err(|e| e.to_string())?;
        match compiled_condition(p.status.as_ref()) {
            Some(c) if c.0 == "True" => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    // Once it leads, its cycle on taking the lead is behind it: only a
    // watch event can act within the test.
    let leases: Api<k8s_openapi::api::coordination::v1::Lease> =
        Api::namespaced(client.clone(), "default");
    eventually("the operator leads", Duration::from_secs(30), || async {
        let lease = leases
            .get_opt("kubeskippy-leader")
            .await
            .map_err(|e| e.to_string())?
            .ok_or("no lease")?;
        let holder = lease
            .spec
            .and_then(|s| s.holder_identity)
            .unwrap_or_default();
        if holder == "watch" {
            Ok(())
        } else {
            Err(holder)
        }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    crash_loop(&pods, &pod).await;
    let actions: Api<HealingAction> = Api::namespaced(client.clone(), &ns);
    let record = eventually(
        "acted on the watch event",
        Duration::from_secs(30),
        || async {
            let list = actions
                .list(&ListParams::default())
                .await
                .map_err(|e| e.to_string())?;
            list.items
                .into_iter()
                .find(|a| a.status.as_ref().and_then(|s| s.phase) == Some(ActionPhase::Succeeded))
                .ok_or_else(|| "no record yet".to_string())
        },
    )
    .await;
    assert_eq!(record.spec.object.name, pod);
}

/// The Events regarding `name` in `namespace`: (reason, note).
async fn events_about(client: &Client, namespace: &str, name: &str) -> Vec<(String, String)> {
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

#[tokio::test]
async fn two_operators_one_leader_and_the_follower_takes_over() {
    use k8s_openapi::api::coordination::v1::Lease;
    use kubeskippy::operator::crd::{ActionPhase, HealingAction, HealingPolicy, HealingPolicySpec};
    let Some(plane) = control_plane::require() else {
        return;
    };
    let _turn = OPERATORS.lock().await;
    let client = admin(plane).await;
    install_crds(&client).await;
    let ns = namespace(&client, "t-leader").await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    deployments
        .create(&PostParams::default(), &deployment("led", 1))
        .await
        .expect("the deployment is created");
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let first = running_pod(&pods, "led").await;
    let fast = Some("evaluationIntervalSeconds: 1\n");
    let mut one = Some(operator_with(plane, "leader-one", fast));
    let mut two = Some(operator_with(plane, "leader-two", fast));
    let leases: Api<Lease> = Api::namespaced(client.clone(), "default");
    let holder = eventually("one of them leads", Duration::from_secs(30), || async {
        let lease = leases
            .get_opt("kubeskippy-leader")
            .await
            .map_err(|e| e.to_string())?
            .ok_or("no lease")?;
        let holder = lease
            .spec
            .and_then(|s| s.holder_identity)
            .unwrap_or_default();
        if holder.starts_with("leader-") {
            Ok(holder)
        } else {
            Err(holder)
        }
    })
    .await;
    let policies: Api<HealingPolicy> = Api::namespaced(client.clone(), &ns);
    let policy = HealingPolicy::new(
        "crashloop",
        HealingPolicySpec {
            policy: "policy crashloop {\n  select pods where app = \"led\"\n  mode auto\n  when status is CrashLoopBackOff then restart\n}\n".into(),
            mode: None,
        },
    );
    policies
        .create(&PostParams::default(), &policy)
        .await
        .expect("the policy is created");
    tokio::time::sleep(Duration::from_secs(2)).await;
    crash_loop(&pods, &first).await;
    let actions: Api<HealingAction> = Api::namespaced(client.clone(), &ns);
    let succeeded = || async {
        actions
            .list(&ListParams::default())
            .await
            .map(|l| {
                l.items
                    .into_iter()
                    .filter(|a| {
                        a.status.as_ref().and_then(|s| s.phase) == Some(ActionPhase::Succeeded)
                    })
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    eventually("the leader acts", Duration::from_secs(60), || async {
        if succeeded().await.len() == 1 {
            Ok(())
        } else {
            Err("not yet".to_string())
        }
    })
    .await;
    let leader_log = plane.ready.log_dir.join(format!("operator-{holder}.log"));
    let follower = if holder == "leader-one" {
        "leader-two"
    } else {
        "leader-one"
    };
    let follower_log = plane.ready.log_dir.join(format!("operator-{follower}.log"));
    let said = |path: &std::path::Path| std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        said(&leader_log).contains("outcome=Done"),
        "the leader acted"
    );
    assert!(
        !said(&follower_log).contains("decision"),
        "the follower decided nothing"
    );

    // The leader dies; the follower takes the lease and heals the next fault.
    let leader_process = if holder == "leader-one" {
        one.take()
    } else {
        two.take()
    };
    if let Some(mut leader_process) = leader_process {
        leader_process.kill().await.expect("the leader is killed");
    }
    eventually("the follower leads", Duration::from_secs(30), || async {
        let lease = leases
            .get_opt("kubeskippy-leader")
            .await
            .map_err(|e| e.to_string())?
            .ok_or("no lease")?;
        let now = lease
            .spec
            .and_then(|s| s.holder_identity)
            .unwrap_or_default();
        if now == follower {
            Ok(())
        } else {
            Err(now)
        }
    })
    .await;
    let second = running_pod(&pods, "led").await;
    assert_ne!(second, first);
    crash_loop(&pods, &second).await;
    eventually("the new leader acts", Duration::from_secs(60), || async {
        if succeeded().await.len() == 2 {
            Ok(())
        } else {
            Err("not yet".to_string())
        }
    })
    .await;
    assert!(
        said(&follower_log).contains("outcome=Done"),
        "the new leader acted"
    );
    drop((one, two));
}

#[tokio::test]
async fn a_person_approves_or_rejects_a_record_with_an_annotation() {
    use kubeskippy::operator::crd::{ActionPhase, HealingAction, HealingPolicy, HealingPolicySpec};
    let Some(plane) = control_plane::require() else {
        return;
    };
    let _turn = OPERATORS.lock().await;
    let client = admin(plane).await;
    install_crds(&client).await;
    let ns = namespace(&client, "t-approve").await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    deployments
        .create(&PostParams::default(), &deployment("asked", 1))
        .await
        .expect("the deployment is created");
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let pod = running_pod(&pods, "asked").await;
    let _operator = operator_with(plane, "approve", Some("evaluationIntervalSeconds: 1\n"));
    let policies: Api<HealingPolicy> = Api::namespaced(client.clone(), &ns);
    let policy = HealingPolicy::new(
        "crashloop",
        HealingPolicySpec {
            policy: "policy crashloop {\n  select pods where app = \"asked\"\n  mode approve\n  cooldown 10m\n  when status is CrashLoopBackOff then restart\n}\n".into(),
            mode: None,
        },
    );
    policies
        .create(&PostParams::default(), &policy)
        .await
        .expect("the policy is created");
    crash_loop(&pods, &pod).await;
    let actions: Api<HealingAction> = Api::namespaced(client.clone(), &ns);
    let waiting = || async {
        let list = actions
            .list(&ListParams::default())
            .await
            .map_err(|e| e.to_string())?;
        list.items
            .into_iter()
            .find(|a| {
                a.status.as_ref().and_then(|s| s.phase) == Some(ActionPhase::AwaitingApproval)
            })
            .and_then(|a| a.metadata.name)
            .ok_or_else(|| "nothing waits".to_string())
    };
    let phase_of = |name: String| {
        let actions = actions.clone();
        async move {
            let a = actions.get(&name).await.map_err(|e| e.to_string())?;
            Ok::<_, String>(a.status.and_then(|s| s.phase))
        }
    };
    let annotate = |name: String, answer: &'static str| {
        let actions = actions.clone();
        async move {
            let patch = json!({"metadata": {"annotations": {"kubeskippy.io/approve": answer}}});
            actions
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .expect("the annotation is set");
        }
    };
    // A rejection: nothing runs, the pod stays.
    let first = eventually(
        "a record waits for approval",
        Duration::from_secs(60),
        waiting,
    )
    .await;
    // Rejected with the command; approved below with the annotation.
    let rejected = std::process::Command::new(env!("CARGO_BIN_EXE_kubeskippy"))
        .args(["reject", &first, "-n", &ns, "--kubeconfig"])
        .arg(&plane.ready.kubeconfig)
        .output()
        .expect("kubeskippy reject runs");
    assert_eq!(
        rejected.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&rejected.stderr)
    );
    assert!(
        String::from_utf8_lossy(&rejected.stdout)
            .starts_with(&format!("rejected {first}: restart on Pod")),
        "{}",
        String::from_utf8_lossy(&rejected.stdout)
    );
    eventually("it is rejected", Duration::from_secs(30), || async {
        match phase_of(first.clone()).await? {
            Some(ActionPhase::Rejected) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    assert!(pods
        .get(&pod)
        .await
        .expect("the pod")
        .metadata
        .deletion_timestamp
        .is_none());
    // The rule asks again; this time a person approves, and it runs.
    let second = eventually("a new request", Duration::from_secs(60), || async {
        let name = waiting().await?;
        if name != first {
            Ok(name)
        } else {
            Err("the same".to_string())
        }
    })
    .await;
    annotate(second.clone(), "true").await;
    eventually(
        "the approved action runs",
        Duration::from_secs(30),
        || async {
            match phase_of(second.clone()).await? {
                Some(ActionPhase::Succeeded) => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
    eventually("the pod is replaced", Duration::from_secs(60), || async {
        let all = pods_of(&pods, "asked").await?;
        let names: Vec<String> = all.iter().filter_map(|p| p.metadata.name.clone()).collect();
        if !names.contains(&pod) {
            Ok(())
        } else {
            Err(format!("{names:?}"))
        }
    })
    .await;
}

#[tokio::test]
async fn rolling_restart_and_scale_act_on_the_pods_workload_with_the_role() {
    use k8s_openapi::api::apps::v1::ReplicaSet;
    use kubeskippy::operator::crd::{ActionPhase, HealingAction, HealingPolicy, HealingPolicySpec};
    let Some(plane) = control_plane::require() else {
        return;
    };
    let _turn = OPERATORS.lock().await;
    let client = admin(plane).await;
    install_crds(&client).await;
    ensure_namespace(&client, "kubeskippy-system").await;
    apply_rbac(
        &client,
        concat!(env!("CARGO_MANIFEST_DIR"), "/examples/deploy/rbac.yaml"),
    )
    .await;
    let kubeconfig =
        service_account_kubeconfig(plane, &client, "kubeskippy-system", "kubeskippy").await;
    let ns = namespace(&client, "t-workloads").await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    for app in ["roll", "grow"] {
        deployments
            .create(&PostParams::default(), &deployment(app, 1))
            .await
            .expect("the deployment is created");
    }
    let roll_pod = running_pod(&pods, "roll").await;
    let grow_pod = running_pod(&pods, "grow").await;
    let _operator = operator_as(
        plane,
        "workloads",
        Some("evaluationIntervalSeconds: 1\n"),
        &kubeconfig,
        &["--namespace", "kubeskippy-system"],
    );
    let policies: Api<HealingPolicy> = Api::namespaced(client.clone(), &ns);
    for (name, app, action) in [
        ("roll", "roll", "restart rolling"),
        ("grow", "grow", "scale up 2 max 5"),
    ] {
        let policy = HealingPolicy::new(
            name,
            HealingPolicySpec {
                policy: format!("policy {name} {{\n  select pods where app = \"{app}\"\n  mode auto\n  cooldown 10m\n  when status is CrashLoopBackOff then {action}\n}}\n"),
                mode: None,
            },
        );
        policies
            .create(&PostParams::default(), &policy)
            .await
            .expect("the policy is created");
    }
    crash_loop(&pods, &roll_pod).await;
    crash_loop(&pods, &grow_pod).await;
    let actions: Api<HealingAction> = Api::namespaced(client.clone(), &ns);
    let done = eventually("both actions succeed", Duration::from_secs(60), || async {
        let list = actions
            .list(&ListParams::default())
            .await
            .map_err(|e| e.to_string())?;
        let done: Vec<HealingAction> = list
            .items
            .iter()
            .filter(|a| a.status.as_ref().and_then(|s| s.phase) == Some(ActionPhase::Succeeded))
            .cloned()
            .collect();
        if done.len() == 2 {
            Ok(done)
        } else {
            Err(format!(
                "{:?}",
                list.items.iter().map(|a| &a.status).collect::<Vec<_>>()
            ))
        }
    })
    .await;
    for record in &done {
        assert_eq!(
            record.spec.object.kind, "Deployment",
            "lands on the pod's owner"
        );
    }
    // The controller-manager rolls a new ReplicaSet for the restarted one.
    let replica_sets: Api<ReplicaSet> = Api::namespaced(client.clone(), &ns);
    eventually(
        "a second ReplicaSet of `roll`",
        Duration::from_secs(60),
        || async {
            let list = replica_sets
                .list(&ListParams::default().labels("app=roll"))
                .await
                .map_err(|e| e.to_string())?;
            if list.items.len() >= 2 {
                Ok(())
            } else {
                Err(format!("{}", list.items.len()))
            }
        },
    )
    .await;
    // `grow` went from 1 to 3 replicas through the scale subresource.
    eventually(
        "three replicas of `grow`",
        Duration::from_secs(60),
        || async {
            let d = deployments.get("grow").await.map_err(|e| e.to_string())?;
            match d.spec.replicas {
                Some(3) => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
}
