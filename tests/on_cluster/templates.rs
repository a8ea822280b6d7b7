//! The executors that change a workload's pod template — `set` a limit,
//! `patch`, `rollback` — on the real API server, run by the operator with
//! its least-privilege role.

use super::control_plane;
use super::support::*;
use kubeskippy::operator::crd::HealingAction;

/// A Deployment `app` whose container has a 256Mi memory limit and a 128Mi
/// request, on image `image`.
fn limited(app: &str, image: &str) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": app, "labels": {"app": app}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": app}},
            "template": {
                "metadata": {"labels": {"app": app}},
                "spec": {"containers": [{
                    "name": "app", "image": image,
                    "resources": {"limits": {"memory": "256Mi"}, "requests": {"memory": "128Mi"}}
                }]}
            }
        }
    }))
    .expect("a deployment")
}

async fn at_revision(deployments: &Api<Deployment>, name: &str, revision: &str) {
    eventually(
        &format!("revision {revision}"),
        Duration::from_secs(60),
        || async {
            let d = deployments.get(name).await.map_err(|e| e.to_string())?;
            let now = d
                .metadata
                .annotations
                .and_then(|a| a.get("deployment.kubernetes.io/revision").cloned());
            (now.as_deref() == Some(revision))
                .then_some(())
                .ok_or_else(|| format!("{now:?}"))
        },
    )
    .await;
}

fn container_of(d: &Deployment) -> k8s_openapi::api::core::v1::Container {
    d.spec
        .template
        .spec
        .as_ref()
        .map(|s| s.containers[0].clone())
        .expect("a container")
}

#[tokio::test]
async fn set_patch_and_rollback_change_the_template_with_the_role() {
    let Some(plane) = control_plane::require() else {
        return;
    };
    let _turn = OPERATORS.lock().await;
    let client = admin(plane).await;
    install_crds(&client).await;
    let kubeconfig = least_privilege(plane, &client).await;
    let ns = namespace(&client, "t-templates").await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    for app in ["grow", "tune", "tier"] {
        deployments
            .create(
                &PostParams::default(),
                &limited(app, "example.invalid/app:1"),
            )
            .await
            .expect("the deployment is created");
    }
    // `undo` gets a second revision: a new image, as a bad rollout would.
    deployments
        .create(
            &PostParams::default(),
            &limited("undo", "example.invalid/app:1"),
        )
        .await
        .expect("the deployment is created");
    at_revision(&deployments, "undo", "1").await;
    deployments
        .patch(
            "undo",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": [
                {"name": "app", "image": "example.invalid/app:2-broken"}
            ]}}}})),
        )
        .await
        .expect("the new image");
    at_revision(&deployments, "undo", "2").await;
    let _operator = role_operator(plane, "templates", &kubeconfig);
    for (name, source) in [
        ("grow", "policy grow {\n  select deployments where app = \"grow\"\n  mode auto\n  cooldown 1h\n  when replicas >= 1 then set memory_limit = current * 3 max 512Mi\n}\n"),
        ("tune", "patch verbose: strategic \"{\\\"spec\\\":{\\\"template\\\":{\\\"spec\\\":{\\\"containers\\\":[{\\\"name\\\":\\\"app\\\",\\\"env\\\":[{\\\"name\\\":\\\"LOG_LEVEL\\\",\\\"value\\\":\\\"debug\\\"}]}]}}}}\"\n\npolicy tune {\n  select deployments where app = \"tune\"\n  mode auto\n  cooldown 1h\n  when replicas >= 1 then patch verbose\n}\n"),
        // A JSON patch: the API server applies both operations or, when
        // the `test` fails, neither.
        ("tier", "patch gold: json \"[{\\\"op\\\":\\\"test\\\",\\\"path\\\":\\\"/spec/template/spec/containers/0/name\\\",\\\"value\\\":\\\"app\\\"},{\\\"op\\\":\\\"add\\\",\\\"path\\\":\\\"/spec/template/metadata/labels/tier\\\",\\\"value\\\":\\\"gold\\\"}]\"\n\npolicy tier {\n  select deployments where app = \"tier\"\n  mode auto\n  cooldown 1h\n  when replicas >= 1 then patch gold\n}\n"),
        ("undo", "policy undo {\n  select deployments where app = \"undo\"\n  mode auto\n  cooldown 1h\n  when replicas >= 1 then rollback\n}\n"),
    ] {
        healing_policy(&client, &ns, name, source).await;
    }
    let actions: Api<HealingAction> = Api::namespaced(client.clone(), &ns);
    for app in ["grow", "tune", "tier", "undo"] {
        record_where(&actions, app, Duration::from_secs(60), |a| {
            a.spec.object.name == app && carried_out(a)
        })
        .await;
    }
    let grow = container_of(&deployments.get("grow").await.expect("grow"));
    let limits = grow
        .resources
        .as_ref()
        .and_then(|r| r.limits.clone())
        .expect("limits");
    assert_eq!(limits["memory"].0, "512Mi", "256Mi × 3, at most 512Mi");
    let tune = container_of(&deployments.get("tune").await.expect("tune"));
    assert!(
        tune.env
            .iter()
            .flatten()
            .any(|e| e.name == "LOG_LEVEL" && e.value.as_deref() == Some("debug")),
        "{:?}",
        tune.env
    );
    let tier = deployments.get("tier").await.expect("tier");
    let labels = tier
        .spec
        .template
        .metadata
        .and_then(|m| m.labels)
        .unwrap_or_default();
    assert_eq!(
        labels.get("tier").map(String::as_str),
        Some("gold"),
        "{labels:?}"
    );
    let undo = deployments.get("undo").await.expect("undo");
    assert_eq!(
        container_of(&undo).image.as_deref(),
        Some("example.invalid/app:1"),
        "back to revision 1's image"
    );
}
