//! Policies on the kinds beyond pods, workloads and nodes, observed on the
//! real API server with the least-privilege role: a Job the real Job
//! controller marks failed (KubeJobFailed), and a PodDisruptionBudget the
//! real disruption controller finds short of healthy pods
//! (KubePdbNotEnoughHealthyPods).

use super::control_plane;
use super::support::*;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kubeskippy::operator::crd::HealingAction;

#[tokio::test]
async fn a_failed_job_and_a_short_disruption_budget_are_acted_on() {
    let Some(plane) = control_plane::require() else {
        return;
    };
    let _turn = OPERATORS.lock().await;
    let client = admin(plane).await;
    install_crds(&client).await;
    let kubeconfig = least_privilege(plane, &client).await;
    let ns = namespace(&client, "t-kinds").await;

    // A Job that may not retry: its pod's failure fails it.
    let job: Job = serde_json::from_value(json!({
        "metadata": {"name": "report"},
        "spec": {"backoffLimit": 0, "template": {
            "metadata": {"labels": {"app": "report"}},
            "spec": {"restartPolicy": "Never",
                     "containers": [{"name": "app", "image": "example.invalid/report:1"}]}}}
    }))
    .expect("a Job");
    Api::<Job>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &job)
        .await
        .expect("the Job is created");
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let pod = running_pods(&pods, "report", 1).await.remove(0);
    let failed = json!({"status": {
        "phase": "Failed",
        "conditions": [{"type": "Ready", "status": "False"}],
        "containerStatuses": [{"name": "app", "image": "example.invalid/report:1", "imageID": "",
            "ready": false, "restartCount": 0,
            "state": {"terminated": {"exitCode": 2, "reason": "Error",
                "startedAt": "2026-12-07T10:00:00Z", "finishedAt": "2026-12-07T10:00:05Z"}}}]
    }});
    pods.patch_status(&pod, &PatchParams::default(), &Patch::Merge(&failed))
        .await
        .expect("the pod fails");

    // Two pods, a budget that wants three.
    workload(&client, &ns, "web", 2).await;
    running_pods(&pods, "web", 2).await;
    let budget: PodDisruptionBudget = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"minAvailable": 3, "selector": {"matchLabels": {"app": "web"}}}
    }))
    .expect("a PodDisruptionBudget");
    Api::<PodDisruptionBudget>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &budget)
        .await
        .expect("the budget is created");

    healing_policy(
        &client,
        &ns,
        "jobs",
        "policy jobs {\n  select jobs\n  mode auto\n  cooldown 1h\n  when status is Failed then notify \"a job failed\"\n}\n",
    )
    .await;
    healing_policy(
        &client,
        &ns,
        "budgets",
        "policy budgets {\n  select poddisruptionbudgets\n  mode auto\n  cooldown 1h\n  \
         when current_healthy < desired_healthy for 2s then notify \"a budget is short\"\n}\n",
    )
    .await;
    let _operator = operator_as(
        plane,
        "kinds",
        Some("evaluationIntervalSeconds: 1\n"),
        &kubeconfig,
        &["--namespace", "kubeskippy-system"],
    );
    let actions: Api<HealingAction> = Api::namespaced(client.clone(), &ns);
    let on_job = record_where(
        &actions,
        "the failed Job's notice",
        Duration::from_secs(90),
        |a| a.spec.object.kind == "Job" && carried_out(a),
    )
    .await;
    assert_eq!(on_job.spec.object.name, "report");
    assert_eq!(on_job.spec.action.name, "notify");
    let on_budget = record_where(
        &actions,
        "the short budget's notice",
        Duration::from_secs(90),
        |a| a.spec.object.kind == "PodDisruptionBudget" && carried_out(a),
    )
    .await;
    assert_eq!(on_budget.spec.object.name, "web");
    let evidence = serde_json::to_string(&on_budget.spec.evidence).expect("evidence");
    assert!(evidence.contains("current_healthy"), "{evidence}");
    // Both conditions still hold: the cooldown keeps them to one notice
    // each, and its block is recorded once, not every cycle.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let settled = record_count(&actions).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(record_count(&actions).await, settled, "no record per cycle");
    let notices = actions
        .list(&ListParams::default())
        .await
        .expect("records")
        .items
        .into_iter()
        .filter(carried_out)
        .count();
    assert_eq!(notices, 2, "one notice per object");
}
