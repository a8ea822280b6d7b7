//! Policies on the kinds beyond pods, workloads and nodes, observed on the
//! real API server with the least-privilege role: a Job the real Job
//! controller marks failed (KubeJobFailed), and a PodDisruptionBudget the
//! real disruption controller finds short of healthy pods
//! (KubePdbNotEnoughHealthyPods), and a ResourceQuota lowered below what
//! the real quota controller counts in use (KubeQuotaExceeded).

use super::support::*;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kubeskippy::operator::crd::HealingAction;
use std::sync::{Arc, Mutex};

#[tokio::test]
async fn a_failed_job_and_a_short_disruption_budget_are_acted_on() {
    let Some(bench) = role_bench("t-kinds").await else {
        return;
    };
    let (plane, client, kubeconfig, ns) = bench.parts();

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
    let (webhook, notices_posted) = webhook_double().await;
    let _operator = operator_as(
        plane,
        "kinds",
        Some("evaluationIntervalSeconds: 1\n"),
        &kubeconfig,
        &[
            "--namespace",
            "kubeskippy-system",
            "--notify-webhook",
            &webhook,
        ],
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
    for kind in ["Job", "PodDisruptionBudget"] {
        record_where(
            &actions,
            &format!("the {kind}'s cooldown block"),
            Duration::from_secs(60),
            |a| {
                a.spec.object.kind == kind
                    && a.status.as_ref().and_then(|s| s.phase)
                        == Some(kubeskippy::operator::crd::ActionPhase::Blocked)
            },
        )
        .await;
    }
    let settled = record_count(&actions).await;
    assert_eq!(settled, 4, "a notice and a block per object");
    cycles(plane, "kinds", 3).await;
    assert_eq!(record_count(&actions).await, settled, "no record per cycle");
    let carried = actions
        .list(&ListParams::default())
        .await
        .expect("records")
        .items
        .into_iter()
        .filter(carried_out)
        .count();
    assert_eq!(carried, 2, "one notice per object");
    // Each notice reached the webhook too, as JSON a chat reads.
    let posted = notices_posted.lock().expect("notices").clone();
    let texts: Vec<&str> = posted.iter().filter_map(|n| n["text"].as_str()).collect();
    assert!(
        texts.contains(&format!("[kubeskippy] jobs/{ns}/report: a job failed").as_str()),
        "{posted:?}"
    );
    // Other tests' policies, still in the shared cluster, notify too.
    let here = format!("/{ns}/");
    let ours = posted
        .iter()
        .filter(|n| n["object"].as_str().is_some_and(|o| o.contains(&here)))
        .count();
    assert_eq!(ours, 2, "{posted:?}");
}

#[tokio::test]
async fn a_quota_lowered_below_its_use_is_reported() {
    use k8s_openapi::api::core::v1::ResourceQuota;
    let Some(bench) = role_bench("t-quota").await else {
        return;
    };
    let (plane, client, kubeconfig, ns) = bench.parts();
    let quotas: Api<ResourceQuota> = Api::namespaced(client.clone(), &ns);
    let quota: ResourceQuota = serde_json::from_value(json!({
        "metadata": {"name": "compute"},
        "spec": {"hard": {"pods": "10"}}
    }))
    .expect("a ResourceQuota");
    quotas
        .create(&PostParams::default(), &quota)
        .await
        .expect("the quota is created");
    workload(&client, &ns, "web", 2).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    running_pods(&pods, "web", 2).await;
    // Creation past a quota is refused, so use can only pass the hard limit
    // when the limit is lowered: the quota controller then counts 2 of 1.
    let lowered = json!({"spec": {"hard": {"pods": "1"}}});
    quotas
        .patch("compute", &PatchParams::default(), &Patch::Merge(&lowered))
        .await
        .expect("the quota is lowered");

    healing_policy(
        &client,
        &ns,
        "quotas",
        "policy quotas {\n  select resourcequotas\n  mode auto\n  cooldown 1h\n  \
         when quota_used_ratio > 1 for 2s then notify \"a quota is exceeded\"\n}\n",
    )
    .await;
    let _operator = role_operator(plane, "quotas", &kubeconfig);
    let actions: Api<HealingAction> = Api::namespaced(client.clone(), &ns);
    let notice = record_where(
        &actions,
        "the exceeded quota's notice",
        Duration::from_secs(90),
        |a| a.spec.object.kind == "ResourceQuota" && carried_out(a),
    )
    .await;
    // The resource past its limit, timed on its own as the alert times it.
    assert_eq!(notice.spec.object.name, "compute/pods");
    assert_eq!(notice.spec.action.name, "notify");
    let evidence = serde_json::to_string(&notice.spec.evidence).expect("evidence");
    assert!(evidence.contains("quota_used_ratio"), "{evidence}");
}

/// A loopback test double of a chat's incoming webhook: its URL, and the
/// JSON bodies POSTed to it.
async fn webhook_double() -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let url = format!(
        "http://{}/services/T0/B0/secret",
        listener.local_addr().expect("an address")
    );
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let kept = bodies.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let kept = kept.clone();
            tokio::spawn(async move {
                let Some((_, body)) = read_request(&mut socket).await else {
                    return;
                };
                if let Ok(json) = serde_json::from_str(&body) {
                    kept.lock().expect("bodies").push(json);
                }
                let _ = socket
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await;
            });
        }
    });
    (url, bodies)
}

/// A claim of 1Gi in `class`, bound to a PersistentVolume made for it (the
/// real PV controller binds them: a claim grows only once bound).
async fn bound_claim(client: &Client, ns: &str, name: &str, class: &str) {
    use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
    let volume: PersistentVolume = serde_json::from_value(json!({
        "metadata": {"name": format!("{ns}-{name}")},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                 "storageClassName": class, "hostPath": {"path": format!("/tmp/{ns}-{name}")},
                 "claimRef": {"namespace": ns, "name": name}}
    }))
    .expect("a PersistentVolume");
    Api::<PersistentVolume>::all(client.clone())
        .create(&PostParams::default(), &volume)
        .await
        .expect("the volume");
    let claim: PersistentVolumeClaim = serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": "data"}},
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": class,
                 "resources": {"requests": {"storage": "1Gi"}}}
    }))
    .expect("a claim");
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), ns);
    claims
        .create(&PostParams::default(), &claim)
        .await
        .expect("the claim");
    eventually(
        &format!("{name} is bound"),
        Duration::from_secs(60),
        || async {
            let phase = claims
                .get(name)
                .await
                .map_err(|e| e.to_string())?
                .status
                .and_then(|s| s.phase);
            match phase.as_deref() {
                Some("Bound") => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
}

#[tokio::test]
async fn a_failed_job_is_rerun_and_a_claim_grows_where_its_class_allows() {
    use k8s_openapi::api::core::v1::PersistentVolumeClaim;
    use k8s_openapi::api::storage::v1::StorageClass;
    let Some(bench) = role_bench("t-rerun-expand").await else {
        return;
    };
    let (plane, client, kubeconfig, ns) = bench.parts();
    for (class, expandable) in [("t-expandable", true), ("t-fixed", false)] {
        let storage_class: StorageClass = serde_json::from_value(json!({
            "metadata": {"name": class}, "provisioner": "kubernetes.io/no-provisioner",
            "allowVolumeExpansion": expandable
        }))
        .expect("a StorageClass");
        let classes: Api<StorageClass> = Api::all(client.clone());
        if classes.get_opt(class).await.expect("a get").is_none() {
            classes
                .create(&PostParams::default(), &storage_class)
                .await
                .expect("the StorageClass");
        }
    }
    bound_claim(&client, &ns, "grows", "t-expandable").await;
    bound_claim(&client, &ns, "stays", "t-fixed").await;

    let job: Job = serde_json::from_value(json!({
        "metadata": {"name": "nightly", "labels": {"app": "nightly"}},
        "spec": {"backoffLimit": 0, "template": {
            "metadata": {"labels": {"app": "nightly"}},
            "spec": {"restartPolicy": "Never",
                     "containers": [{"name": "app", "image": "example.invalid/nightly:1"}]}}}
    }))
    .expect("a Job");
    let jobs: Api<Job> = Api::namespaced(client.clone(), &ns);
    jobs.create(&PostParams::default(), &job)
        .await
        .expect("the Job is created");
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let pod = running_pods(&pods, "nightly", 1).await.remove(0);
    let failed = json!({"status": {"phase": "Failed", "containerStatuses": [{"name": "app",
        "image": "example.invalid/nightly:1", "imageID": "", "ready": false, "restartCount": 0,
        "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}});
    pods.patch_status(&pod, &PatchParams::default(), &Patch::Merge(&failed))
        .await
        .expect("the pod fails");

    healing_policy(
        &client,
        &ns,
        "rerun",
        "policy rerun {\n  select jobs where app = \"nightly\"\n  mode auto\n  cooldown 1h\n  \
         when status is Failed then rerun\n}\n",
    )
    .await;
    healing_policy(
        &client,
        &ns,
        "grow",
        "policy grow {\n  select persistentvolumeclaims where app = \"data\"\n  mode auto\n  \
         cooldown 1h\n  when age > 1s then expand to current * 2 max 3Gi\n}\n",
    )
    .await;
    // Both actions need a person by default; this cluster lets them run.
    let _operator = operator_as(
        plane,
        "rerun-expand",
        Some("evaluationIntervalSeconds: 1\napprovalRequired: []\n"),
        &kubeconfig,
        &["--namespace", "kubeskippy-system"],
    );
    let actions: Api<HealingAction> = Api::namespaced(client.clone(), &ns);
    let rerun = record_where(&actions, "the rerun", Duration::from_secs(90), |a| {
        a.spec.action.name == "rerun" && carried_out(a)
    })
    .await;
    let done = rerun.status.and_then(|s| s.message).unwrap_or_default();
    let created = done.strip_prefix("rerun as Job ").expect(&done).to_string();
    let again = jobs.get(&created).await.expect("the new Job");
    let annotations = again.metadata.annotations.unwrap_or_default();
    assert_eq!(
        annotations
            .get("kubeskippy.io/rerun-of")
            .map(String::as_str),
        Some("nightly")
    );
    assert!(
        jobs.get_opt("nightly").await.expect("a get").is_some(),
        "the failed one stays"
    );

    record_where(
        &actions,
        "the claim's expansion",
        Duration::from_secs(60),
        |a| a.spec.action.name == "expand" && a.spec.object.name == "grows" && carried_out(a),
    )
    .await;
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &ns);
    let request = |claim: PersistentVolumeClaim| {
        claim
            .spec
            .and_then(|s| s.resources)
            .and_then(|r| r.requests)
            .and_then(|r| r.get("storage").map(|q| q.0.clone()))
    };
    assert_eq!(
        request(claims.get("grows").await.expect("the claim")).as_deref(),
        Some("2Gi")
    );
    let refused = record_where(
        &actions,
        "the fixed claim's refusal",
        Duration::from_secs(60),
        |a| {
            a.spec.action.name == "expand"
                && a.spec.object.name == "stays"
                && a.status
                    .as_ref()
                    .and_then(|s| s.message.as_deref())
                    .is_some_and(|m| m.contains("does not allow volume expansion"))
        },
    )
    .await;
    assert!(!carried_out(&refused));
    assert_eq!(
        request(claims.get("stays").await.expect("the claim")).as_deref(),
        Some("1Gi")
    );
}
