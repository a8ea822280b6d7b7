//! Verification after an action and the guards that read it, on the real
//! API server: a restart that heals is recorded healed; one that does not
//! opens the policy's circuit breaker, which then holds the next firing;
//! most of a workload failing at once is a storm, not a pod to restart; a
//! scale of a workload an HPA drives is held.

use super::control_plane;
use super::support::*;
use kube::api::{ListParams, PostParams};
use kube::Api;
use kubeskippy::operator::crd::{ActionPhase, BreakerState, HealingAction, HealingPolicy};
use std::time::Duration;

fn phase(record: &HealingAction) -> Option<ActionPhase> {
    record.status.as_ref().and_then(|s| s.phase)
}

#[tokio::test]
async fn a_restart_that_heals_is_verified_healed() {
    let Some(plane) = control_plane::require() else {
        return;
    };
    let _turn = OPERATORS.lock().await;
    let client = admin(plane).await;
    install_crds(&client).await;
    let ns = namespace(&client, "t-verify").await;
    let (pods, first) = workload(&client, &ns, "mended", 1).await;
    let _operator = operator_as(
        plane,
        "verify",
        Some("evaluationIntervalSeconds: 1\nverification: {afterSeconds: 2}\n"),
        &plane.ready.kubeconfig,
        &["--log-format", "json"],
    );
    healing_policy(&client, &ns, "crashloop", "policy crashloop {\n  select pods where app = \"mended\"\n  mode auto\n  cooldown 10m\n  when status is CrashLoopBackOff then restart\n}\n").await;
    crash_loop(&pods, &first).await;
    let actions: Api<HealingAction> = Api::namespaced(client.clone(), &ns);
    let record = record_where(&actions, "a healed record", Duration::from_secs(60), |a| {
        a.status.as_ref().and_then(|s| s.healed) == Some(true)
    })
    .await;
    let status = record.status.expect("a status");
    assert_eq!(status.phase, Some(ActionPhase::Succeeded));
    for phase in ["Executing", "Verifying", "Succeeded"] {
        assert!(status.transitions.contains_key(phase), "{status:?}");
    }
    assert!(
        status
            .message
            .as_deref()
            .is_some_and(|m| m.starts_with("healed")),
        "{status:?}"
    );
    assert_eq!(
        record.spec.owner.map(|o| o.name).as_deref(),
        Some("mended"),
        "the pod's workload, which verification read once the pod was replaced"
    );
    let name = record.metadata.name.expect("a name");
    let events = events_about(&client, &ns, &name).await;
    assert!(events.iter().any(|(r, _)| r == "Healed"), "{events:?}");
    // `--log-format json`: every line an object; the decision's says which
    // record it made.
    let log = std::fs::read_to_string(plane.ready.log_dir.join("operator-verify.log"))
        .expect("the operator's log");
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(
        lines.iter().any(|l| l["message"] == "decision"
            && l["record"] == name.as_str()
            && l["timestamp"].is_string()),
        "{log}"
    );
}

#[tokio::test]
async fn a_restart_that_does_not_heal_opens_the_breaker_which_holds_the_next() {
    let Some(plane) = control_plane::require() else {
        return;
    };
    let _turn = OPERATORS.lock().await;
    let client = admin(plane).await;
    install_crds(&client).await;
    let ns = namespace(&client, "t-breaker").await;
    let (pods, first) = workload(&client, &ns, "relapse", 1).await;
    // One failed verification opens the breaker; verification comes before
    // the rule's `for` could fire again on the replacement.
    let _operator = operator_with(
        plane,
        "breaker",
        Some(
            "evaluationIntervalSeconds: 1\nverification: {afterSeconds: 15}\n\
             circuitBreaker: {failures: 1, windowSeconds: 3600, openSeconds: 3600}\n",
        ),
    );
    healing_policy(&client, &ns, "relapse", "policy relapse {\n  select pods where app = \"relapse\"\n  mode auto\n  when status is CrashLoopBackOff for 30s then restart\n}\n").await;
    crash_loop(&pods, &first).await;
    let actions: Api<HealingAction> = Api::namespaced(client.clone(), &ns);
    record_where(
        &actions,
        "the first restart",
        Duration::from_secs(60),
        |a| a.spec.object.name == first && carried_out(a),
    )
    .await;
    // The replacement crash-loops too.
    let second = eventually("a replacement", Duration::from_secs(60), || async {
        let all = pods_of(&pods, "relapse").await?;
        all.iter()
            .filter(|p| running_and_ready(p))
            .filter_map(|p| p.metadata.name.clone())
            .find(|n| *n != first)
            .ok_or_else(|| "none yet".to_string())
    })
    .await;
    crash_loop(&pods, &second).await;
    let failed = record_where(
        &actions,
        "a failed verification",
        Duration::from_secs(60),
        |a| a.spec.object.name == first && a.status.as_ref().and_then(|s| s.healed) == Some(false),
    )
    .await;
    assert_eq!(phase(&failed), Some(ActionPhase::Failed));
    let held = record_where(
        &actions,
        "the next firing held",
        Duration::from_secs(60),
        |a| a.spec.object.name == second && phase(a) == Some(ActionPhase::Blocked),
    )
    .await;
    let status = held.status.expect("a status");
    assert_eq!(
        status.reason.as_deref(),
        Some("circuit-breaker"),
        "{status:?}"
    );
    assert!(
        status
            .checks
            .iter()
            .any(|c| c.starts_with("circuit breaker: held")),
        "{status:?}"
    );
    // The second pod was never touched.
    assert!(pods.get(&second).await.is_ok());
    let policies: Api<HealingPolicy> = Api::namespaced(client.clone(), &ns);
    eventually(
        "the policy says its breaker is open",
        Duration::from_secs(30),
        || async {
            let policy = policies.get("relapse").await.map_err(|e| e.to_string())?;
            let breaker = policy.status.as_ref().and_then(|s| s.breaker);
            (breaker == Some(BreakerState::Open))
                .then_some(())
                .ok_or_else(|| format!("{breaker:?}"))
        },
    )
    .await;
    let events = events_about(&client, &ns, "relapse").await;
    assert!(
        events.iter().any(|(r, _)| r == "CircuitBreakerOpen"),
        "{events:?}"
    );
}

#[tokio::test]
async fn most_of_a_workload_failing_at_once_is_a_storm_not_a_restart() {
    let Some(plane) = control_plane::require() else {
        return;
    };
    let _turn = OPERATORS.lock().await;
    let client = admin(plane).await;
    install_crds(&client).await;
    let ns = namespace(&client, "t-storm").await;
    let (pods, _) = workload(&client, &ns, "storm", 4).await;
    eventually("four running pods", Duration::from_secs(60), || async {
        let all = pods_of(&pods, "storm").await?;
        let running = all.iter().filter(|p| running_and_ready(p)).count();
        (running == 4)
            .then_some(())
            .ok_or_else(|| format!("{running} running"))
    })
    .await;
    let names: Vec<String> = pods_of(&pods, "storm")
        .await
        .expect("pods")
        .into_iter()
        .filter_map(|p| p.metadata.name)
        .collect();
    for name in names.iter().take(3) {
        crash_loop(&pods, name).await;
    }
    let _operator = fast_operator(plane, "storm");
    healing_policy(&client, &ns, "storm", "policy storm {\n  select pods where app = \"storm\"\n  mode auto\n  when status is CrashLoopBackOff then restart\n}\n").await;
    let actions: Api<HealingAction> = Api::namespaced(client.clone(), &ns);
    let held = record_where(&actions, "a storm held", Duration::from_secs(60), |a| {
        a.status.as_ref().and_then(|s| s.reason.as_deref()) == Some("storm-guard")
    })
    .await;
    assert!(
        held.status
            .as_ref()
            .and_then(|s| s.message.as_deref())
            .is_some_and(|m| m.contains("3 of the workload's 4 pods")),
        "{:?}",
        held.status
    );
    cycles(plane, "storm", 3).await;
    let list = actions.list(&ListParams::default()).await.expect("records");
    assert!(
        !list.items.iter().any(carried_out),
        "nothing restarted in a storm: {:#?}",
        list.items
    );
    for name in &names {
        assert!(pods.get(name).await.is_ok(), "{name} is still there");
    }
}

#[tokio::test]
async fn a_scale_of_a_workload_an_autoscaler_drives_is_held() {
    use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
    let Some(plane) = control_plane::require() else {
        return;
    };
    let _turn = OPERATORS.lock().await;
    let client = admin(plane).await;
    install_crds(&client).await;
    let ns = namespace(&client, "t-hpa").await;
    workload(&client, &ns, "scaled", 1).await;
    let hpa: HorizontalPodAutoscaler = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "scaled-hpa"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "scaled"},
            "minReplicas": 1, "maxReplicas": 3,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 80}}}]
        }
    }))
    .expect("an HPA");
    Api::<HorizontalPodAutoscaler>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &hpa)
        .await
        .expect("the HPA is created");
    let _operator = fast_operator(plane, "hpa");
    healing_policy(&client, &ns, "grow", "policy grow {\n  select deployments where app = \"scaled\"\n  mode auto\n  when replicas < 5 then scale up 1 max 5\n}\n").await;
    let actions: Api<HealingAction> = Api::namespaced(client.clone(), &ns);
    let held = record_where(&actions, "a scale held", Duration::from_secs(60), |a| {
        a.status.as_ref().and_then(|s| s.reason.as_deref()) == Some("autoscaler")
    })
    .await;
    assert!(
        held.status
            .as_ref()
            .and_then(|s| s.message.as_deref())
            .is_some_and(|m| m.contains("scaled-hpa")),
        "{:?}",
        held.status
    );
}

#[tokio::test]
async fn completed_records_past_their_retention_are_collected_and_waiting_ones_stay() {
    let Some(plane) = control_plane::require() else {
        return;
    };
    let _turn = OPERATORS.lock().await;
    let client = admin(plane).await;
    install_crds(&client).await;
    let kubeconfig = least_privilege(plane, &client).await;
    let ns = namespace(&client, "t-retention").await;
    let actions: Api<HealingAction> = Api::namespaced(client.clone(), &ns);
    for (name, phase) in [
        ("done-long-ago", "Succeeded"),
        ("still-waiting", "AwaitingApproval"),
    ] {
        let record: HealingAction = serde_json::from_value(serde_json::json!({
            "apiVersion": "kubeskippy.io/v1alpha1", "kind": "HealingAction",
            "metadata": {"name": name, "namespace": ns},
            "spec": {
                "policy": {"kind": "HealingPolicy", "name": "p", "uid": "u", "programHash": "h"},
                "rule": {"number": 1, "fingerprint": "f", "text": "t"},
                "target": {"kind": "Pod", "name": "a"}, "object": {"kind": "Pod", "name": "a"},
                "action": {"name": "restart", "text": "restart"},
                "origin": {"kind": "rule"}, "firingSince": "2026-01-01T00:00:00Z"
            }
        }))
        .expect("a record");
        actions
            .create(&PostParams::default(), &record)
            .await
            .expect("the record is created");
        let status = serde_json::json!({"status": {"phase": phase,
            "transitions": {phase: "2026-01-01T00:00:00Z"}}});
        actions
            .patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
            .await
            .expect("its status");
    }
    let _operator = operator_as(
        plane,
        "retention",
        Some("evaluationIntervalSeconds: 1\nrecordRetention: {maxAgeSeconds: 86400}\n"),
        &kubeconfig,
        &["--namespace", "kubeskippy-system"],
    );
    eventually(
        "the old record is collected",
        Duration::from_secs(30),
        || async {
            match actions.get_opt("done-long-ago").await {
                Ok(None) => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
    assert!(
        actions
            .get_opt("still-waiting")
            .await
            .expect("a get")
            .is_some(),
        "a record waiting for a person is never collected"
    );
}

#[tokio::test]
async fn a_budget_with_no_room_holds_the_restart_until_it_has_room() {
    use k8s_openapi::api::policy::v1::PodDisruptionBudget;
    let Some(plane) = control_plane::require() else {
        return;
    };
    let _turn = OPERATORS.lock().await;
    let client = admin(plane).await;
    install_crds(&client).await;
    let ns = namespace(&client, "t-pdb").await;
    let (pods, pod) = workload(&client, &ns, "budgeted", 1).await;
    let budgets: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), &ns);
    let budget: PodDisruptionBudget = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "budgeted"},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "budgeted"}}}
    }))
    .expect("a PDB");
    budgets
        .create(&PostParams::default(), &budget)
        .await
        .expect("the PDB is created");
    let _operator = fast_operator(plane, "pdb");
    healing_policy(&client, &ns, "crashloop", "policy crashloop {\n  select pods where app = \"budgeted\"\n  mode auto\n  cooldown 10m\n  when status is CrashLoopBackOff then restart\n}\n").await;
    crash_loop(&pods, &pod).await;
    let actions: Api<HealingAction> = Api::namespaced(client.clone(), &ns);
    let held = record_where(
        &actions,
        "held by the budget",
        Duration::from_secs(60),
        |a| a.status.as_ref().and_then(|s| s.reason.as_deref()) == Some("pdb"),
    )
    .await;
    let status = held.status.clone().expect("a status");
    assert_eq!(status.phase, Some(ActionPhase::Blocked));
    assert!(
        status
            .message
            .as_deref()
            .is_some_and(|m| m.starts_with("blocked by a PodDisruptionBudget")),
        "{status:?}"
    );
    assert!(
        pods.get(&pod)
            .await
            .expect("the pod")
            .metadata
            .deletion_timestamp
            .is_none(),
        "never forced"
    );
    // Room again: the same record is tried again and the pod evicted.
    budgets
        .delete("budgeted", &Default::default())
        .await
        .expect("the PDB is deleted");
    let name = held.metadata.name.expect("a name");
    record_where(&actions, "tried again", Duration::from_secs(120), |a| {
        a.metadata.name.as_deref() == Some(name.as_str()) && carried_out(a)
    })
    .await;
}
