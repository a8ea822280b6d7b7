//! The operator as a user runs it (`kubeskippy run --kubeconfig`):
//! compiling policies, recording decisions, healing, resuming after a kill,
//! acting on watch events.

use super::support::*;

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

#[tokio::test]
async fn a_crash_looping_pod_is_recorded_and_restarted_through_an_eviction() {
    use kubeskippy::operator::crd::HealingAction;
    let Some(plane) = control_plane::require() else {
        return;
    };
    let _turn = OPERATORS.lock().await;
    let client = admin(plane).await;
    install_crds(&client).await;
    let ns = namespace(&client, "t-heal").await;
    let (pods, first) = workload(&client, &ns, "healme", 1).await;
    let _operator = fast_operator(plane, "heal");
    healing_policy(&client, &ns, "crashloop", "policy crashloop {\n  select pods where app = \"healme\"\n  mode auto\n  cooldown 10m\n  when status is CrashLoopBackOff then restart\n}\n").await;
    crash_loop(&pods, &first).await;

    let actions: Api<HealingAction> = Api::namespaced(client.clone(), &ns);
    let record = record_where(
        &actions,
        "a HealingAction that succeeded",
        Duration::from_secs(60),
        carried_out,
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
    cycles(plane, "heal", 3).await;
    let records = actions.list(&ListParams::default()).await.expect("records");
    let acted: Vec<_> = records.items.iter().filter(|a| carried_out(a)).collect();
    assert_eq!(acted.len(), 1, "{:#?}", records.items);
}

#[tokio::test]
async fn a_dry_run_records_the_decision_and_leaves_the_pod_alone() {
    use kubeskippy::operator::crd::{ActionPhase, HealingAction};
    let Some(plane) = control_plane::require() else {
        return;
    };
    let _turn = OPERATORS.lock().await;
    let client = admin(plane).await;
    install_crds(&client).await;
    let ns = namespace(&client, "t-dryrun").await;
    let (pods, pod) = workload(&client, &ns, "watched", 1).await;
    let _operator = fast_operator(plane, "dryrun");
    healing_policy(&client, &ns, "crashloop", "policy crashloop {\n  select pods where app = \"watched\"\n  cooldown 10m\n  when status is CrashLoopBackOff then restart\n}\n").await;
    crash_loop(&pods, &pod).await;
    let actions: Api<HealingAction> = Api::namespaced(client.clone(), &ns);
    let record = record_where(&actions, "a dry-run record", Duration::from_secs(60), |a| {
        a.status.as_ref().and_then(|s| s.phase) == Some(ActionPhase::DryRun)
    })
    .await;
    assert!(record.spec.dry_run);
    assert_eq!(record.spec.object.name, pod);
    let still = pods.get(&pod).await.expect("the pod is still there");
    assert!(still.metadata.deletion_timestamp.is_none());
    // The dry run spent the cooldown: the rule, true every second, is
    // blocked from now on, and that episode makes one record, not one per
    // cycle.
    cycles(plane, "dryrun", 4).await;
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
    use kubeskippy::operator::crd::{HealingAction, HealingPolicy, HealingPolicySpec};
    let Some(plane) = control_plane::require() else {
        return;
    };
    let _turn = OPERATORS.lock().await;
    let client = admin(plane).await;
    install_crds(&client).await;
    let ns = namespace(&client, "t-restart").await;
    let (pods, pod) = workload(&client, &ns, "resume", 1).await;
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
    let record = record_where(
        &actions,
        "the restarted operator acts",
        Duration::from_secs(60),
        carried_out,
    )
    .await;
    let since = record.spec.firing_since.0.as_second();
    assert!(
        since <= killed && since >= began - 2,
        "the timer ran from before the kill ({began}..{killed}), not from the restart: {since}"
    );
    cycles(plane, "restart-2", 3).await;
    let all = actions.list(&ListParams::default()).await.expect("records");
    let succeeded = all.items.iter().filter(|a| carried_out(a)).count();
    assert_eq!(succeeded, 1, "one firing, one action: {:#?}", all.items);
}

#[tokio::test]
async fn a_status_change_is_acted_on_at_once_not_at_the_next_cycle() {
    use kubeskippy::operator::crd::{HealingAction, HealingPolicy};
    let Some(plane) = control_plane::require() else {
        return;
    };
    let _turn = OPERATORS.lock().await;
    let client = admin(plane).await;
    install_crds(&client).await;
    let ns = namespace(&client, "t-watch").await;
    let (pods, pod) = workload(&client, &ns, "instant", 1).await;
    // Cycles five minutes apart: only a watch event can act within the test.
    let _operator = operator_with(plane, "watch", Some("evaluationIntervalSeconds: 300\n"));
    healing_policy(&client, &ns, "crashloop", "policy crashloop {\n  select pods where app = \"instant\"\n  mode auto\n  cooldown 10m\n  when status is CrashLoopBackOff then restart\n}\n").await;
    let policies: Api<HealingPolicy> = Api::namespaced(client.clone(), &ns);
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
    settled(plane, "watch", &format!("{ns}/crashloop")).await;
    crash_loop(&pods, &pod).await;
    let actions: Api<HealingAction> = Api::namespaced(client.clone(), &ns);
    let record = record_where(
        &actions,
        "acted on the watch event",
        Duration::from_secs(30),
        carried_out,
    )
    .await;
    assert_eq!(record.spec.object.name, pod);

    // A `for` on a status ends between cycles: an alarm, not the next tick
    // five minutes away, fires it.
    let (pods, held) = workload(&client, &ns, "held", 1).await;
    healing_policy(
        &client,
        &ns,
        "held",
        "policy held {\n  select pods where app = \"held\"\n  mode auto\n  cooldown 10m\n  when status is CrashLoopBackOff for 4s then restart\n}\n",
    )
    .await;
    settled(plane, "watch", &format!("{ns}/held")).await;
    crash_loop(&pods, &held).await;
    let record = record_where(
        &actions,
        "acted when the `for` ended",
        Duration::from_secs(30),
        |a| a.spec.object.name == held && carried_out(a),
    )
    .await;
    let held_for = record
        .spec
        .evidence
        .iter()
        .find_map(|e| e.seconds)
        .expect("how long it held");
    assert!(held_for >= 4, "held {held_for}s");
}
