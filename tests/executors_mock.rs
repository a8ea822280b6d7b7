//! The Kubernetes executors' exact requests, and what each answer of the API
//! server means for the record, against kube's client over a scripted HTTP
//! service (a test double of the API server: the cluster tests prove the
//! same executors against a real one; this one produces on demand the
//! faults a real server will not: 429, 500, a body that is not JSON).

use http::{Request, Response};
use http_body_util::BodyExt;
use kube::client::Body;
use kube::Client;
use kubeskippy::act::cluster::KubeExecutor;
use kubeskippy::act::{Executed, Executor, Order};
use kubeskippy::catalog::Kind;
use kubeskippy::engine::observation::TargetId;
use kubeskippy::ir::{Action, Program, RestartMode, Scale};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

/// One request as the double received it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    content_type: Option<String>,
    body: Value,
}

/// A client whose API server answers `script` in order (status, body; a
/// `Value::String` body is sent as is, not as JSON), and what it was asked.
fn scripted(script: Vec<(u16, Value)>) -> (Client, Arc<Mutex<Vec<Seen>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let script = Arc::new(Mutex::new(VecDeque::from(script)));
    let record = seen.clone();
    let service = tower::service_fn(move |request: Request<Body>| {
        let (record, script) = (record.clone(), script.clone());
        async move {
            let (parts, body) = request.into_parts();
            let bytes = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            record.lock().unwrap().push(Seen {
                method: parts.method.to_string(),
                path: parts
                    .uri
                    .path_and_query()
                    .map(|p| p.to_string())
                    .unwrap_or_default(),
                content_type: parts
                    .headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string),
                body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            });
            let (status, body) = script.lock().unwrap().pop_front().unwrap_or((
                500,
                json!({"kind": "Status", "code": 500, "message": "unscripted"}),
            ));
            let bytes = match body {
                Value::String(raw) => raw.into_bytes(),
                other => other.to_string().into_bytes(),
            };
            Ok::<_, Infallible>(
                Response::builder()
                    .status(status)
                    .header("content-type", "application/json")
                    .body(Body::from(bytes))
                    .expect("a response"),
            )
        }
    });
    (Client::new(service, "default"), seen)
}

fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
           "code": code, "reason": reason, "message": message})
}

fn object(kind: Kind, name: &str) -> TargetId {
    TargetId {
        kind,
        namespace: (kind != Kind::Nodes).then(|| "shop".to_string()),
        name: name.into(),
    }
}

async fn run(client: Client, action: Action, object: &TargetId) -> Executed {
    run_in(&Program::default(), client, action, object).await
}

/// `action` of `program` (whose declarations it may name) on `object`.
async fn run_in(program: &Program, client: Client, action: Action, object: &TargetId) -> Executed {
    let mut executor = KubeExecutor::new(client, Default::default());
    executor
        .execute(Order {
            program,
            action: &action,
            object,
            target: object,
            at: 1_796_551_200,
            ordinal: 0,
        })
        .await
}

#[tokio::test]
async fn a_restart_is_an_eviction_and_a_pdb_refusal_says_so() {
    let pod = object(Kind::Pods, "web-1");
    let (client, seen) = scripted(vec![(201, json!({"kind": "Status", "status": "Success"}))]);
    let done = run(client, Action::Restart(RestartMode::Immediate), &pod).await;
    assert!(
        matches!(&done, Executed::Done(w) if w.contains("evicted")),
        "{done:?}"
    );
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].path, "/api/v1/namespaces/shop/pods/web-1/eviction?");
    assert_eq!(seen[0].body["metadata"]["name"], "web-1");

    let (client, _) = scripted(vec![(
        429,
        status(
            429,
            "TooManyRequests",
            "Cannot evict pod as it would violate the pod's disruption budget.",
        ),
    )]);
    let refused = run(client, Action::Restart(RestartMode::Immediate), &pod).await;
    assert!(
        matches!(&refused, Executed::Failed(w) if w.starts_with("blocked by a PodDisruptionBudget")),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_gone_object_is_missing_and_a_server_fault_fails_with_its_words() {
    let pod = object(Kind::Pods, "web-1");
    let (client, _) = scripted(vec![(
        404,
        status(404, "NotFound", "pods \"web-1\" not found"),
    )]);
    assert_eq!(run(client, Action::Delete, &pod).await, Executed::Missing);
    let (client, _) = scripted(vec![(
        500,
        status(500, "InternalError", "etcdserver: request timed out"),
    )]);
    let failed = run(client, Action::Delete, &pod).await;
    assert!(
        matches!(&failed, Executed::Failed(w) if w.contains("etcdserver: request timed out")),
        "{failed:?}"
    );
    // Not JSON at all, as a proxy in front of the API server may answer.
    let (client, _) = scripted(vec![(
        502,
        Value::String("<html>Bad Gateway</html>".into()),
    )]);
    let failed = run(client, Action::Delete, &pod).await;
    assert!(matches!(failed, Executed::Failed(_)), "{failed:?}");
    let (client, _) = scripted(vec![(
        403,
        status(403, "Forbidden", "pods \"web-1\" is forbidden"),
    )]);
    let failed = run(client, Action::Delete, &pod).await;
    assert!(
        matches!(&failed, Executed::Failed(w) if w.starts_with("the operator is not allowed to")),
        "{failed:?}"
    );
}

#[tokio::test]
async fn a_scale_reads_the_scale_then_patches_it_within_its_bound() {
    let web = object(Kind::Deployments, "web");
    let scale = |replicas: i32| {
        json!({"kind": "Scale", "apiVersion": "autoscaling/v1",
               "metadata": {"name": "web", "namespace": "shop"},
               "spec": {"replicas": replicas}, "status": {"replicas": replicas}})
    };
    let (client, seen) = scripted(vec![(200, scale(4)), (200, scale(5))]);
    let done = run(
        client,
        Action::Scale(Scale::Up {
            by: 2,
            max: Some(5),
        }),
        &web,
    )
    .await;
    assert_eq!(done, Executed::Done("replicas 4 → 5".into()));
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen[0].method, "GET");
    assert_eq!(
        seen[0].path,
        "/apis/apps/v1/namespaces/shop/deployments/web/scale"
    );
    assert_eq!(seen[1].method, "PATCH");
    assert_eq!(
        seen[1].path,
        "/apis/apps/v1/namespaces/shop/deployments/web/scale?"
    );
    assert_eq!(
        seen[1].content_type.as_deref(),
        Some("application/merge-patch+json")
    );
    assert_eq!(seen[1].body, json!({"spec": {"replicas": 5}}));
    // At the bound already: nothing is patched.
    let (client, seen) = scripted(vec![(200, scale(5))]);
    let done = run(
        client,
        Action::Scale(Scale::Up {
            by: 1,
            max: Some(5),
        }),
        &web,
    )
    .await;
    assert_eq!(done, Executed::Done("replicas stay 5".into()));
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_rolling_restart_and_a_cordon_are_the_patches_kubectl_sends() {
    let web = object(Kind::Deployments, "web");
    let (client, seen) = scripted(vec![(
        200,
        json!({"kind": "Deployment", "apiVersion": "apps/v1",
        "metadata": {"name": "web", "namespace": "shop"}}),
    )]);
    let done = run(client, Action::Restart(RestartMode::Rolling), &web).await;
    assert!(matches!(done, Executed::Done(_)), "{done:?}");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen[0].method, "PATCH");
    assert_eq!(
        seen[0].content_type.as_deref(),
        Some("application/strategic-merge-patch+json")
    );
    assert_eq!(
        seen[0].body["spec"]["template"]["metadata"]["annotations"]
            ["kubectl.kubernetes.io/restartedAt"],
        "2026-12-06T10:00:00Z"
    );
    let node = object(Kind::Nodes, "node-1");
    let (client, seen) = scripted(vec![(
        200,
        json!({"kind": "Node", "apiVersion": "v1",
        "metadata": {"name": "node-1"}}),
    )]);
    let done = run(client, Action::Cordon, &node).await;
    assert_eq!(done, Executed::Done("cordoned".into()));
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen[0].path, "/api/v1/nodes/node-1?");
    assert_eq!(seen[0].body, json!({"spec": {"unschedulable": true}}));
}

#[tokio::test]
async fn a_json_patch_is_sent_as_its_operations() {
    let operations = json!([
        {"op": "test", "path": "/spec/template/spec/containers/0/name", "value": "app"},
        {"op": "add", "path": "/spec/template/metadata/labels/tier", "value": "gold"}
    ]);
    let source = format!(
        "patch tier: json {}\npolicy p {{\n  select deployments in shop\n  cooldown 1h\n  when replicas >= 1 then patch tier\n}}\n",
        serde_json::to_string(&operations.to_string()).expect("a string")
    );
    let compiled =
        kubeskippy::check::compile(&source, &kubeskippy::safety::SafetyConfig::default());
    assert!(!compiled.has_errors(), "{:?}", compiled.diagnostics);
    let action = compiled.program.policies[0].rules[0].action.clone();
    let web = object(Kind::Deployments, "web");
    let (client, seen) = scripted(vec![(
        200,
        json!({"kind": "Deployment", "apiVersion": "apps/v1",
        "metadata": {"name": "web", "namespace": "shop"}}),
    )]);
    let done = run_in(&compiled.program, client, action, &web).await;
    assert_eq!(done, Executed::Done("patch `tier` applied".into()));
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen[0].method, "PATCH");
    assert_eq!(
        seen[0].path,
        "/apis/apps/v1/namespaces/shop/deployments/web?"
    );
    assert_eq!(
        seen[0].content_type.as_deref(),
        Some("application/json-patch+json")
    );
    assert_eq!(seen[0].body, operations);
}

/// A Deployment `web` at revision 3 with ReplicaSets of revisions 1 to 3.
fn rollback_script() -> (Value, Value) {
    let template = |image: &str| {
        json!({"metadata": {"labels": {"app": "web", "pod-template-hash": "abc"}},
               "spec": {"containers": [{"name": "app", "image": image}]}})
    };
    let deployment = json!({"kind": "Deployment", "apiVersion": "apps/v1",
        "metadata": {"name": "web", "namespace": "shop", "uid": "d-1", "resourceVersion": "42",
                     "annotations": {"deployment.kubernetes.io/revision": "3"}},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template("app:3")}});
    let replica_set = |revision: &str, image: &str| {
        json!({"kind": "ReplicaSet", "apiVersion": "apps/v1",
               "metadata": {"name": format!("web-{revision}"), "namespace": "shop",
                            "annotations": {"deployment.kubernetes.io/revision": revision},
                            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                                                 "name": "web", "uid": "d-1"}]},
               "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template(image)}})
    };
    let list = json!({"kind": "ReplicaSetList", "apiVersion": "apps/v1", "metadata": {},
        "items": [replica_set("1", "app:1"), replica_set("2", "app:2"), replica_set("3", "app:3")]});
    (deployment, list)
}

#[tokio::test]
async fn a_rollback_beaten_by_a_concurrent_change_reads_again_and_retries() {
    let web = object(Kind::Deployments, "web");
    let (deployment, list) = rollback_script();
    let conflict = status(
        409,
        "Conflict",
        "the object has been modified; please apply your changes to the latest version",
    );
    let (client, seen) = scripted(vec![
        (200, deployment.clone()),
        (200, list.clone()),
        (409, conflict.clone()),
        (200, deployment.clone()),
        (200, list.clone()),
        (200, deployment.clone()),
    ]);
    let done = run(client, Action::Rollback, &web).await;
    assert_eq!(
        done,
        Executed::Done("rolled back from revision 3 to 2's template".into())
    );
    let methods: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.method.clone())
        .collect();
    assert_eq!(methods, ["GET", "GET", "PUT", "GET", "GET", "PUT"]);
    // Beaten every time: it gives up, saying so, and never writes blindly.
    let mut script = Vec::new();
    for _ in 0..3 {
        script.extend([
            (200, deployment.clone()),
            (200, list.clone()),
            (409, conflict.clone()),
        ]);
    }
    let (client, seen) = scripted(script);
    let Executed::Failed(why) = run(client, Action::Rollback, &web).await else {
        panic!("three conflicts fail the rollback");
    };
    assert!(why.contains("changed under each of 3 attempts"), "{why}");
    assert_eq!(seen.lock().unwrap().len(), 9);
}

#[tokio::test]
async fn a_drain_evicts_all_but_daemonset_and_mirror_pods() {
    let node = object(Kind::Nodes, "node-1");
    let pod = |name: &str, extra: Value| {
        let mut pod = json!({"metadata": {"name": name, "namespace": "shop"}, "spec": {"nodeName": "node-1", "containers": []}});
        if let Value::Object(fields) = extra {
            for (k, v) in fields {
                pod["metadata"][k] = v;
            }
        }
        pod
    };
    let pods = json!({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": [
        pod("web-1", json!({})),
        pod("agent-x", json!({"ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "agent", "uid": "a"}]})),
        pod("static-x", json!({"annotations": {"kubernetes.io/config.mirror": "x"}})),
        pod("web-2", json!({})),
    ]});
    let evicted = json!({"kind": "Status", "apiVersion": "v1", "status": "Success", "code": 201});
    let (client, seen) = scripted(vec![
        (
            200,
            json!({"kind": "Node", "apiVersion": "v1", "metadata": {"name": "node-1"}}),
        ),
        (200, pods),
        (201, evicted),
        (
            429,
            status(
                429,
                "TooManyRequests",
                "Cannot evict pod as it would violate the pod's disruption budget.",
            ),
        ),
    ]);
    let Executed::Failed(why) = run(client, Action::Drain, &node).await else {
        panic!("a refused eviction fails the drain");
    };
    assert!(
        why.starts_with("cordoned; 1 pods evicted, 1 not: shop/web-2"),
        "{why}"
    );
    let seen = seen.lock().unwrap().clone();
    let paths: Vec<&str> = seen.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(
        paths[1],
        "/api/v1/pods?&fieldSelector=spec.nodeName%3Dnode-1"
    );
    assert_eq!(
        &paths[2..],
        [
            "/api/v1/namespaces/shop/pods/web-1/eviction?",
            "/api/v1/namespaces/shop/pods/web-2/eviction?"
        ],
        "DaemonSet and mirror pods are left alone"
    );
}

#[tokio::test]
async fn a_rerun_posts_a_new_job_and_expand_patches_only_the_request() {
    let job = json!({"kind": "Job", "apiVersion": "batch/v1",
        "metadata": {"name": "nightly", "namespace": "shop", "uid": "j-1", "labels": {"app": "n", "job-name": "nightly"}},
        "spec": {"selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "j-1"}},
                 "template": {"metadata": {"labels": {"app": "n", "batch.kubernetes.io/controller-uid": "j-1"}},
                              "spec": {"restartPolicy": "Never", "containers": [{"name": "n", "image": "n:1"}]}}},
        "status": {"failed": 1}});
    let mut created = job.clone();
    created["metadata"]["name"] = json!("nightly-rerun-abcde");
    let (client, seen) = scripted(vec![(200, job), (201, created)]);
    let done = run(client, Action::Rerun, &object(Kind::Jobs, "nightly")).await;
    assert_eq!(
        done,
        Executed::Done("rerun as Job nightly-rerun-abcde".into())
    );
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        (seen[1].method.as_str(), seen[1].path.as_str()),
        ("POST", "/apis/batch/v1/namespaces/shop/jobs?")
    );
    assert_eq!(seen[1].body["metadata"]["generateName"], "nightly-rerun-");
    assert!(
        seen[1].body["spec"].get("selector").is_none(),
        "{}",
        seen[1].body
    );
    assert_eq!(seen[1].body["metadata"]["labels"], json!({"app": "n"}));

    let claim = json!({"kind": "PersistentVolumeClaim", "apiVersion": "v1",
        "metadata": {"name": "data", "namespace": "shop"},
        "spec": {"storageClassName": "fast", "resources": {"requests": {"storage": "10Gi"}}}});
    let class = json!({"kind": "StorageClass", "apiVersion": "storage.k8s.io/v1",
        "metadata": {"name": "fast"}, "provisioner": "x", "allowVolumeExpansion": true});
    let (client, seen) = scripted(vec![
        (200, claim.clone()),
        (200, class),
        (200, claim.clone()),
    ]);
    let grow = Action::Expand {
        value: kubeskippy::ir::LimitValue::Factor(1.5),
        max: 100.0 * 1_073_741_824.0,
    };
    let done = run(
        client,
        grow.clone(),
        &object(Kind::PersistentVolumeClaims, "data"),
    )
    .await;
    assert_eq!(done, Executed::Done("storage request 10Gi → 15Gi".into()));
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen[1].path, "/apis/storage.k8s.io/v1/storageclasses/fast");
    assert_eq!(seen[2].method, "PATCH");
    assert_eq!(
        seen[2].body,
        json!({"spec": {"resources": {"requests": {"storage": "15Gi"}}}})
    );
    // A class that does not allow it: read, refused, nothing written.
    let fixed = json!({"kind": "StorageClass", "apiVersion": "storage.k8s.io/v1",
        "metadata": {"name": "fast"}, "provisioner": "x"});
    let (client, seen) = scripted(vec![(200, claim), (200, fixed)]);
    let done = run(client, grow, &object(Kind::PersistentVolumeClaims, "data")).await;
    assert!(
        matches!(done, Executed::Failed(ref why) if why.contains("does not allow volume expansion")),
        "{done:?}"
    );
    assert_eq!(seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_rollback_replaces_the_template_with_the_previous_revisions() {
    let web = object(Kind::Deployments, "web");
    let (deployment, list) = rollback_script();
    let (client, seen) = scripted(vec![
        (200, deployment.clone()),
        (200, list),
        (200, deployment),
    ]);
    let done = run(client, Action::Rollback, &web).await;
    assert_eq!(
        done,
        Executed::Done("rolled back from revision 3 to 2's template".into())
    );
    let seen = seen.lock().unwrap().clone();
    let put = &seen[2];
    assert_eq!(put.method, "PUT");
    assert_eq!(
        put.body["metadata"]["resourceVersion"], "42",
        "a concurrent change fails it"
    );
    assert_eq!(
        put.body["spec"]["template"]["spec"]["containers"][0]["image"],
        "app:2"
    );
    assert!(
        put.body["spec"]["template"]["metadata"]["labels"]
            .get("pod-template-hash")
            .is_none(),
        "the ReplicaSet's own label stays its own"
    );
}

/// An API server that does not answer in time (here: after an hour, with a
/// success): the executor gives up at its timeout with a reason that says
/// so, instead of holding the evaluation loop for as long as kube's client
/// would wait, and says it timed out (which is charged: the server may be
/// carrying it out). On tokio's paused clock, so the wait passes at once.
#[tokio::test(start_paused = true)]
async fn a_request_that_times_out_fails_at_the_executors_timeout() {
    let service = tower::service_fn(|_request: Request<Body>| async {
        tokio::time::sleep(std::time::Duration::from_secs(3_600)).await;
        let body = json!({"kind": "Status", "status": "Success"}).to_string();
        Ok::<_, Infallible>(
            Response::builder()
                .status(201)
                .header("content-type", "application/json")
                .body(Body::from(body.into_bytes()))
                .expect("a response"),
        )
    });
    let started = tokio::time::Instant::now();
    let executed = run(
        Client::new(service, "default"),
        Action::Restart(RestartMode::Immediate),
        &object(Kind::Pods, "web-1"),
    )
    .await;
    let waited = started.elapsed();
    let timeout = kubeskippy::act::cluster::ACTION_TIMEOUT;
    assert!(
        matches!(&executed, Executed::TimedOut(why)
            if why.starts_with("timed out") && why.contains(&format!("{}s", timeout.as_secs()))),
        "{executed:?}"
    );
    assert!(
        waited >= timeout && waited < timeout + std::time::Duration::from_secs(1),
        "waited {waited:?} for a timeout of {timeout:?}"
    );
}
