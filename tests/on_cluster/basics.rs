//! The control plane itself: deployments roll out, deletions complete, pod
//! statuses stick, RBAC refuses.

use super::support::*;

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
