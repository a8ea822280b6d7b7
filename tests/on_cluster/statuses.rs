//! The container and pod states a kubelet reports, set through the status
//! subresource as a kubelet sets them, each read by the operator as the
//! status the catalog names: an OOM kill in a container's last termination,
//! an image pull in back-off, and a pod whose Ready condition is False.

use super::support::*;
use kubeskippy::operator::crd::HealingAction;
use serde_json::Value;

/// A container status of `app`, as a kubelet writes it.
fn container(ready: bool, restarts: i32, state: Value, last: Value) -> Value {
    json!({
        "name": "app", "image": "example.invalid/app:1", "imageID": "",
        "ready": ready, "restartCount": restarts, "state": state, "lastState": last
    })
}

async fn report(pods: &Api<Pod>, pod: &str, ready: bool, container: Value) {
    let ready = if ready { "True" } else { "False" };
    let status = json!({
        "status": {
            "conditions": [{"type": "Ready", "status": ready}],
            "containerStatuses": [container]
        }
    });
    pods.patch_status(pod, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("the status subresource takes the patch");
}

#[tokio::test]
async fn oom_killed_image_pull_back_off_and_not_ready_are_each_read_as_their_status() {
    let Some(bench) = role_bench("t-states").await else {
        return;
    };
    let (plane, client, kubeconfig, ns) = bench.parts();
    let (pods, _) = workload(&client, &ns, "states", 4).await;
    let names = running_pods(&pods, "states", 4).await;
    let running = json!({"running": {"startedAt": "2026-12-06T10:00:02Z"}});
    let oom = &names[0];
    report(
        &pods,
        oom,
        true,
        container(
            true,
            1,
            running.clone(),
            json!({"terminated": {"exitCode": 137, "reason": "OOMKilled",
                "startedAt": "2026-12-06T10:00:00Z", "finishedAt": "2026-12-06T10:00:01Z"}}),
        ),
    )
    .await;
    let pulling = &names[1];
    report(
        &pods,
        pulling,
        false,
        container(
            false,
            0,
            json!({"waiting": {"reason": "ImagePullBackOff",
                "message": "Back-off pulling image \"example.invalid/app:1\""}}),
            json!({}),
        ),
    )
    .await;
    let unready = &names[2];
    report(
        &pods,
        unready,
        false,
        container(false, 0, running.clone(), json!({})),
    )
    .await;
    let _operator = operator_as(
        plane,
        "states",
        None,
        &kubeconfig,
        &["--namespace", "kubeskippy-system"],
    );
    healing_policy(
        &client,
        &ns,
        "states",
        "policy states {\n  select pods where app = \"states\"\n  mode auto\n  cooldown 1h\n  when status is OOMKilled then notify \"oom\"\n  when status is ImagePullBackOff then notify \"pull\"\n  when status is NotReady and not status is ImagePullBackOff then notify \"not ready\"\n}\n",
    )
    .await;
    let actions: Api<HealingAction> = Api::namespaced(client.clone(), &ns);
    for (pod, status) in [
        (oom, "OOMKilled"),
        (pulling, "ImagePullBackOff"),
        (unready, "NotReady"),
    ] {
        let record = record_where(
            &actions,
            &format!("{pod} is told about as {status}"),
            Duration::from_secs(60),
            |a| a.spec.object.name == *pod && carried_out(a),
        )
        .await;
        assert!(
            record
                .spec
                .evidence
                .iter()
                .any(|e| e.kind == "status" && e.subject.as_deref() == Some(status)),
            "{pod}: {:?}",
            record.spec.evidence
        );
    }
    // The fourth pod, running and ready, is told about by no rule.
    let all = actions
        .list(&Default::default())
        .await
        .expect("the records");
    let about: Vec<&str> = all
        .items
        .iter()
        .map(|a| a.spec.object.name.as_str())
        .collect();
    assert!(!about.contains(&names[3].as_str()), "{about:?}");
}
