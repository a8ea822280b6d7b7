//! The operator in production shape: its least-privilege role, leader
//! election, approvals, and the executors for workloads.

use super::support::*;

#[tokio::test]
async fn the_operator_heals_with_its_least_privilege_role_and_no_more() {
    use k8s_openapi::api::core::v1::{ConfigMap, Secret};
    use kubeskippy::operator::crd::{HealingAction, HealingPolicy};
    let Some(plane) = control_plane::require() else {
        return;
    };
    let _turn = OPERATORS.lock().await;
    let client = admin(plane).await;
    install_crds(&client).await;
    let kubeconfig = least_privilege(plane, &client).await;
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
    let (pods, pod) = workload(&client, &ns, "least", 1).await;
    let _operator = role_operator(plane, "rbac", &kubeconfig);
    healing_policy(&client, &ns, "crashloop", "policy crashloop {\n  select pods where app = \"least\"\n  mode auto\n  cooldown 10m\n  when status is CrashLoopBackOff for 2s then restart\n}\n").await;
    let policies: Api<HealingPolicy> = Api::namespaced(client.clone(), &ns);
    crash_loop(&pods, &pod).await;
    let actions: Api<HealingAction> = Api::namespaced(client.clone(), &ns);
    let record = record_where(
        &actions,
        "the pod restarted by an operator with the role",
        Duration::from_secs(60),
        carried_out,
    )
    .await;
    assert_eq!(record.spec.object.name, pod);
    // Events on the pod and on its record, written with the role too.
    let record_name = record.metadata.name.clone().expect("a name");
    let on_pod = events_about(&client, &ns, &pod).await;
    assert!(
        on_pod
            .iter()
            .any(|(reason, note)| reason == "ActionExecuted" && note.contains(&record_name)),
        "{on_pod:?}"
    );
    let on_record = events_about(&client, &ns, &record_name).await;
    assert!(
        on_record
            .iter()
            .any(|(reason, _)| reason == "ActionExecuted"),
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
async fn two_operators_one_leader_and_the_follower_takes_over() {
    use k8s_openapi::api::coordination::v1::Lease;
    use kubeskippy::operator::crd::HealingAction;
    let Some(plane) = control_plane::require() else {
        return;
    };
    let _turn = OPERATORS.lock().await;
    let client = admin(plane).await;
    install_crds(&client).await;
    let ns = namespace(&client, "t-leader").await;
    let (pods, first) = workload(&client, &ns, "led", 1).await;
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
    healing_policy(&client, &ns, "crashloop", "policy crashloop {\n  select pods where app = \"led\"\n  mode auto\n  when status is CrashLoopBackOff then restart\n}\n").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    crash_loop(&pods, &first).await;
    let actions: Api<HealingAction> = Api::namespaced(client.clone(), &ns);
    let succeeded = || async {
        actions
            .list(&ListParams::default())
            .await
            .map(|l| l.items.into_iter().filter(carried_out).collect::<Vec<_>>())
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
        said(&leader_log).contains("phase=Verifying"),
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
        said(&follower_log).contains("phase=Verifying"),
        "the new leader acted"
    );
    drop((one, two));
}

#[tokio::test]
async fn a_person_approves_or_rejects_a_record_with_an_annotation() {
    use kubeskippy::operator::crd::{ActionPhase, HealingAction};
    let Some(plane) = control_plane::require() else {
        return;
    };
    let _turn = OPERATORS.lock().await;
    let client = admin(plane).await;
    install_crds(&client).await;
    let ns = namespace(&client, "t-approve").await;
    let (pods, pod) = workload(&client, &ns, "asked", 1).await;
    let _operator = operator_with(plane, "approve", Some("evaluationIntervalSeconds: 1\n"));
    healing_policy(&client, &ns, "crashloop", "policy crashloop {\n  select pods where app = \"asked\"\n  mode approve\n  cooldown 10m\n  when status is CrashLoopBackOff then restart\n}\n").await;
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
                Some(ActionPhase::Verifying | ActionPhase::Succeeded) => Ok(()),
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
    use kubeskippy::operator::crd::{HealingAction, HealingPolicy, HealingPolicySpec};
    let Some(plane) = control_plane::require() else {
        return;
    };
    let _turn = OPERATORS.lock().await;
    let client = admin(plane).await;
    install_crds(&client).await;
    let kubeconfig = least_privilege(plane, &client).await;
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
    let _operator = role_operator(plane, "workloads", &kubeconfig);
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
            .filter(|a| carried_out(a))
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
