//! The Helm chart on the real control plane: the real `helm` renders it,
//! every rendered object is created on the API server (server-side apply,
//! as `kubectl apply --server-side` does; not a dry run), and each is there
//! as rendered: the CRDs established, the ServiceAccount, the RBAC rules,
//! the safety ConfigMap, the Deployment. Then the operator runs with a token
//! of the chart's ServiceAccount and the safety file of the chart's
//! ConfigMap, and heals a crash-looping pod; a real Prometheus scrapes it,
//! as the chart's ServiceMonitor would have one do, and every query of the
//! chart's Grafana dashboard runs there.
//!
//! No kubelet, no image: the kubelet stand-in reports the chart's pods
//! Running, but nothing runs in them. This test stands in for the container:
//! it starts the binary with the Deployment's own arguments (the safety path
//! and the metrics port swapped for local ones), the account's token, the
//! ConfigMap's file, and POD_NAME/POD_NAMESPACE as the downward API sets them.

use super::support::*;
use crate::helm;
use kube::api::{DynamicObject, GroupVersionKind};
use kube::discovery::Scope;

const RELEASE: &str = "helm-test";
const FULLNAME: &str = "helm-test-kubeskippy";

/// Creates or updates `object` by server-side apply, whatever its kind.
async fn apply(client: &Client, object: &serde_yaml::Value) -> DynamicObject {
    let object: DynamicObject = serde_yaml::from_value(object.clone()).expect("an object");
    let types = object.types.clone().expect("apiVersion and kind");
    let gvk = GroupVersionKind::try_from(&types).expect("a group, version and kind");
    let (resource, capabilities) = kube::discovery::pinned_kind(client, &gvk)
        .await
        .unwrap_or_else(|e| panic!("the API server serves {gvk:?}: {e}"));
    let api: Api<DynamicObject> = match (capabilities.scope, &object.metadata.namespace) {
        (Scope::Namespaced, Some(ns)) => Api::namespaced_with(client.clone(), ns, &resource),
        (Scope::Namespaced, None) => panic!("{} has no namespace", types.kind),
        (Scope::Cluster, _) => Api::all_with(client.clone(), &resource),
    };
    let name = object.metadata.name.clone().expect("a name");
    api.patch(
        &name,
        &PatchParams::apply("helm-test").force(),
        &Patch::Apply(&object),
    )
    .await
    .unwrap_or_else(|e| panic!("the API server takes {} {name}: {e}", types.kind))
}

fn rendered<'a>(objects: &'a [serde_yaml::Value], kind: &str, name: &str) -> &'a serde_yaml::Value {
    helm::object(objects, kind, Some(name))
}

#[tokio::test]
async fn the_chart_applied_to_a_real_api_server_runs_an_operator_that_heals() {
    use k8s_openapi::api::coordination::v1::Lease;
    use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
    use k8s_openapi::api::rbac::v1::{ClusterRole, Role};
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kubeskippy::operator::crd::HealingAction;
    let Some(plane) = control_plane::require() else {
        return;
    };
    let Some(helm) = helm::require() else {
        return;
    };
    let _turn = OPERATORS.lock().await;
    let client = admin(plane).await;
    let system = namespace(&client, "t-helm-system").await;
    let objects = helm::template(
        helm,
        RELEASE,
        &system,
        &[
            "--include-crds",
            "--set",
            "safety.evaluationIntervalSeconds=1",
            "--set",
            "safety.maxClusterActionsPerHour=1000000",
        ],
    )
    .expect("helm template renders the chart");
    // In helm's install order: CRDs, the account, the ConfigMap, the
    // roles and bindings, the Service, the Deployment.
    for object in &objects {
        apply(&client, object).await;
    }

    // Everything is there as rendered.
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for object in objects
        .iter()
        .filter(|o| o["kind"] == "CustomResourceDefinition")
    {
        let name = object["metadata"]["name"].as_str().expect("a name");
        eventually(
            &format!("{name} is established"),
            Duration::from_secs(30),
            || async {
                let crd = crds.get(name).await.map_err(|e| e.to_string())?;
                let established = crd
                    .status
                    .and_then(|s| s.conditions)
                    .unwrap_or_default()
                    .iter()
                    .any(|c| c.type_ == "Established" && c.status == "True");
                established
                    .then_some(())
                    .ok_or("not established".to_string())
            },
        )
        .await;
    }
    Api::<ServiceAccount>::namespaced(client.clone(), &system)
        .get(FULLNAME)
        .await
        .expect("the chart's ServiceAccount");
    let cluster_role = Api::<ClusterRole>::all(client.clone())
        .get(FULLNAME)
        .await
        .expect("the chart's ClusterRole");
    let rendered_rules: Vec<k8s_openapi::api::rbac::v1::PolicyRule> =
        serde_yaml::from_value(rendered(&objects, "ClusterRole", FULLNAME)["rules"].clone())
            .expect("rules");
    assert_eq!(cluster_role.rules.unwrap_or_default(), rendered_rules);
    let role = Api::<Role>::namespaced(client.clone(), &system)
        .get(&format!("{FULLNAME}-leader"))
        .await
        .expect("the chart's Role");
    let rendered_role: Vec<k8s_openapi::api::rbac::v1::PolicyRule> = serde_yaml::from_value(
        rendered(&objects, "Role", &format!("{FULLNAME}-leader"))["rules"].clone(),
    )
    .expect("rules");
    assert_eq!(role.rules.unwrap_or_default(), rendered_role);
    let safety_map = Api::<ConfigMap>::namespaced(client.clone(), &system)
        .get(&format!("{FULLNAME}-safety"))
        .await
        .expect("the chart's safety ConfigMap");
    let safety = safety_map
        .data
        .unwrap_or_default()
        .remove("safety.yaml")
        .expect("safety.yaml");
    assert_eq!(
        Some(safety.as_str()),
        rendered(&objects, "ConfigMap", &format!("{FULLNAME}-safety"))["data"]["safety.yaml"]
            .as_str()
    );
    let deployment = Api::<Deployment>::namespaced(client.clone(), &system)
        .get(FULLNAME)
        .await
        .expect("the chart's Deployment");
    let spec = deployment.spec;
    assert_eq!(spec.replicas, Some(2));
    let pod = spec.template.spec.expect("a pod spec");
    assert_eq!(pod.service_account_name.as_deref(), Some(FULLNAME));
    let container = &pod.containers[0];
    let args = container.args.clone().expect("args");
    let rendered_args: Vec<String> = serde_yaml::from_value(
        rendered(&objects, "Deployment", FULLNAME)["spec"]["template"]["spec"]["containers"][0]
            ["args"]
            .clone(),
    )
    .expect("args");
    assert_eq!(args, rendered_args);

    // The container's command line, with the local stand-ins for what the
    // pod would have: the ConfigMap's file (operator_as writes it), a free
    // port on loopback for the container's metrics port, and the downward
    // API's namespace.
    let metrics = format!("127.0.0.1:{}", super::metrics::free_port());
    let mut rest = Vec::new();
    let mut given = args.iter().skip(1);
    assert_eq!(args.first().map(String::as_str), Some("run"));
    while let Some(arg) = given.next() {
        match arg.as_str() {
            "--safety" => {
                given.next();
            }
            "--metrics-address" => {
                given.next();
                rest.extend(["--metrics-address".to_string(), metrics.clone()]);
            }
            // operator_as keeps the lease short, so the test before's
            // operator does not hold this one back.
            "--lease-seconds" => {
                given.next();
            }
            other => rest.push(other.to_string()),
        }
    }
    rest.extend(["--namespace".to_string(), system.clone()]);
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    let kubeconfig = service_account_kubeconfig(plane, &client, &system, FULLNAME).await;

    let apps = namespace(&client, "t-helm-app").await;
    let (pods, crashing) = workload(&client, &apps, "charted", 1).await;
    let _operator = operator_as(plane, "helm", Some(&safety), &kubeconfig, &rest);
    // It leads with the chart's Role: the Lease in the release's namespace.
    let leases: Api<Lease> = Api::namespaced(client.clone(), &system);
    eventually("the operator leads", Duration::from_secs(30), || async {
        let lease = leases
            .get_opt("kubeskippy-leader")
            .await
            .map_err(|e| e.to_string())?
            .ok_or("no lease")?;
        let holder = lease.spec.and_then(|s| s.holder_identity);
        (holder.as_deref() == Some("helm"))
            .then_some(())
            .ok_or(format!("{holder:?}"))
    })
    .await;
    healing_policy(&client, &apps, "crashloop", "policy crashloop {\n  select pods where app = \"charted\"\n  mode auto\n  cooldown 10m\n  when status is CrashLoopBackOff for 2s then restart\n}\n").await;
    crash_loop(&pods, &crashing).await;
    let actions: Api<HealingAction> = Api::namespaced(client.clone(), &apps);
    let record = record_where(
        &actions,
        "the pod restarted by the operator the chart installs",
        Duration::from_secs(60),
        carried_out,
    )
    .await;
    assert_eq!(record.spec.object.name, crashing);
    eventually("the pod is replaced", Duration::from_secs(60), || async {
        let names: Vec<String> = pods_of(&pods, "charted")
            .await?
            .into_iter()
            .filter_map(|p| p.metadata.name)
            .collect();
        (!names.contains(&crashing))
            .then_some(())
            .ok_or(format!("{names:?}"))
    })
    .await;
    // The log is the chart's format: one JSON object per line.
    let log = std::fs::read_to_string(plane.ready.log_dir.join("operator-helm.log"))
        .expect("the operator's log");
    let first = log.lines().next().unwrap_or_default();
    assert!(
        serde_json::from_str::<serde_json::Value>(first).is_ok(),
        "--log-format json: {first}"
    );
    // Every query of the dashboard runs on a real Prometheus scraping this
    // operator, and the actions panel shows the restart.
    let Some(binary) = super::metrics::prometheus_binary() else {
        return;
    };
    let (_prometheus, prometheus) =
        super::metrics::scraping(plane, &binary, "prometheus-helm", &metrics);
    let dashboard = crate::dashboard_file::dashboard();
    let queries = crate::dashboard_file::queries(&dashboard);
    let (_, by_type) = queries
        .iter()
        .find(|(place, _)| place.contains("Actions by type and phase"))
        .expect("the actions panel");
    let by_type = crate::dashboard_file::substitute(by_type);
    eventually(
        "the restart on the dashboard's actions panel",
        Duration::from_secs(60),
        || async {
            let result = prometheus
                .query(by_type.as_str())
                .get()
                .await
                .map_err(|e| e.to_string())?;
            let series: Vec<String> = result
                .data()
                .as_vector()
                .ok_or("not a vector")?
                .iter()
                .map(|v| format!("{:?}", v.metric()))
                .collect();
            series
                .iter()
                .any(|s| s.contains("restart") && s.contains("Verifying"))
                .then_some(())
                .ok_or(format!("{series:?}"))
        },
    )
    .await;
    for (place, expr) in &queries {
        let query = crate::dashboard_file::substitute(expr);
        prometheus
            .query(query.as_str())
            .get()
            .await
            .unwrap_or_else(|e| panic!("{place}: Prometheus refuses {query}: {e}"));
    }
}
