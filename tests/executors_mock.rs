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
    let program = Program::default();
    let mut executor = KubeExecutor {
        client,
        webhooks: Default::default(),
    };
    executor
        .execute(Order {
            program: &program,
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
async fn a_rollback_replaces_the_template_with_the_previous_revisions() {
    let web = object(Kind::Deployments, "web");
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
