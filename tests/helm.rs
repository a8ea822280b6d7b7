//! The Helm chart (`charts/kubeskippy`), linted and rendered by the real
//! `helm` (built by `tests/helm/build`): its RBAC is exactly the
//! least-privilege role of `examples/deploy/rbac.yaml`, its Deployment runs
//! the operator with flags the binary has, its values reach the operator as
//! documented, and what is not available yet is refused, not pretended.
//! `tests/on_cluster/helm.rs` applies the rendered chart to a real API server.

#[path = "common/helm.rs"]
mod helm;

use kubeskippy::safety::SafetyConfig;
use serde_yaml::Value;

const RELEASE: &str = "kubeskippy";
const NAMESPACE: &str = "kubeskippy-system";

fn render(extra: &[&str]) -> Option<Vec<Value>> {
    let helm = helm::require()?;
    Some(
        helm::template(helm, RELEASE, NAMESPACE, extra)
            .unwrap_or_else(|e| panic!("helm template {extra:?}: {e}")),
    )
}

fn rbac_example() -> Vec<Value> {
    use serde::Deserialize;
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/deploy/rbac.yaml"
    ))
    .expect("examples/deploy/rbac.yaml");
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).expect("a YAML document"))
        .collect()
}

/// The rules as the API server reads them: flow or block style, comments
/// and key order are gone once parsed.
fn rules(object: &Value) -> Vec<k8s_openapi::api::rbac::v1::PolicyRule> {
    serde_yaml::from_value(object["rules"].clone()).expect("RBAC rules")
}

#[test]
fn helm_lints_the_chart_with_its_defaults_and_every_option() {
    let Some(helm) = helm::require() else {
        return;
    };
    let (_, version, _) = helm::run(helm, &["version", "--short"]);
    eprintln!("helm {}", version.trim());
    for extra in [
        &[][..],
        &[
            "--set",
            "serviceMonitor.enabled=true",
            "--set",
            "grafana.dashboard.enabled=true",
            "--set",
            "ai.enabled=true,ai.backend=openai,ai.url=https://api.openai.com,ai.model=gpt-4o-mini",
            "--set",
            "ai.apiKeySecret.name=openai",
            "--set",
            "prometheus.url=http://prometheus.monitoring:9090",
            "--set",
            "safety.maxActionsPerHour=10",
            "--set",
            "shards=3",
        ][..],
    ] {
        let mut args = vec!["lint", "--strict", helm::CHART];
        args.extend_from_slice(extra);
        let (ok, stdout, stderr) = helm::run(helm, &args);
        assert!(ok, "helm lint {extra:?}:\n{stdout}{stderr}");
        assert!(stdout.contains("0 chart(s) failed"), "{stdout}");
    }
}

#[test]
fn the_charts_rbac_is_exactly_the_least_privilege_role() {
    let Some(objects) = render(&[]) else {
        return;
    };
    let example = rbac_example();
    for kind in ["ClusterRole", "Role"] {
        let ours = helm::object(&objects, kind, None);
        let theirs = helm::object(&example, kind, None);
        assert_eq!(
            rules(ours),
            rules(theirs),
            "the chart's {kind} and examples/deploy/rbac.yaml differ: change both"
        );
    }
    // Released as `kubeskippy` in `kubeskippy-system`, the chart names its
    // objects as the example does.
    for kind in [
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
    ] {
        let ours = helm::object(&objects, kind, None);
        let theirs = helm::object(&example, kind, None);
        assert_eq!(
            ours["metadata"]["name"], theirs["metadata"]["name"],
            "{kind}"
        );
        assert_eq!(
            ours["metadata"]["namespace"], theirs["metadata"]["namespace"],
            "{kind}"
        );
        assert_eq!(ours["roleRef"], theirs["roleRef"], "{kind}");
        assert_eq!(ours["subjects"], theirs["subjects"], "{kind}");
    }
}

#[test]
fn the_deployment_runs_two_replicas_with_flags_the_binary_has() {
    let Some(objects) = render(&["--set", "logFormat=text"]) else {
        return;
    };
    let deployment = helm::object(&objects, "Deployment", Some("kubeskippy"));
    assert_eq!(deployment["spec"]["replicas"].as_u64(), Some(2));
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "kubeskippy");
    let container = &pod["containers"][0];
    let args: Vec<&str> = container["args"]
        .as_sequence()
        .expect("args")
        .iter()
        .map(|a| a.as_str().expect("a string argument"))
        .collect();
    assert_eq!(
        args,
        [
            "run",
            "--safety",
            "/etc/kubeskippy/safety.yaml",
            "--metrics-address",
            "0.0.0.0:8080",
            "--log-format",
            "text",
            "--lease-seconds",
            "15",
            "--outage-tolerance",
            "2m"
        ]
    );
    // No invented flag: each is one `kubeskippy run --help` lists.
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_kubeskippy"))
        .args(["run", "--help"])
        .output()
        .expect("kubeskippy run --help");
    let help = String::from_utf8_lossy(&help.stdout);
    for flag in args.iter().filter(|a| a.starts_with("--")) {
        assert!(
            help.contains(flag),
            "`kubeskippy run` has no {flag}:\n{help}"
        );
    }
    // The lease holder's identity and namespace, from the downward API.
    let env = container["env"].as_sequence().expect("env");
    let from_field = |name: &str| {
        env.iter()
            .find(|e| e["name"] == name)
            .map(|e| e["valueFrom"]["fieldRef"]["fieldPath"].clone())
    };
    assert_eq!(from_field("POD_NAME"), Some("metadata.name".into()));
    assert_eq!(
        from_field("POD_NAMESPACE"),
        Some("metadata.namespace".into())
    );
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(container["ports"][0]["containerPort"].as_u64(), Some(8080));
    let security = &container["securityContext"];
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["capabilities"]["drop"][0], "ALL");
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert!(container["resources"]["requests"]["memory"].is_string());
    // The safety file is the chart's ConfigMap, mounted where --safety reads.
    assert_eq!(container["volumeMounts"][0]["mountPath"], "/etc/kubeskippy");
    assert_eq!(
        pod["volumes"][0]["configMap"]["name"], "kubeskippy-safety",
        "{pod:?}"
    );
    let service = helm::object(&objects, "Service", Some("kubeskippy-metrics"));
    assert_eq!(service["spec"]["ports"][0]["targetPort"], "metrics");
}

fn safety_of(objects: &[Value]) -> SafetyConfig {
    let map = helm::object(objects, "ConfigMap", Some("kubeskippy-safety"));
    let text = map["data"]["safety.yaml"].as_str().expect("safety.yaml");
    SafetyConfig::from_yaml(text).unwrap_or_else(|e| panic!("{e}:\n{text}"))
}

#[test]
fn dry_run_puts_the_whole_operator_in_dry_run_beside_the_other_safety_values() {
    let Some(alone) = render(&["--set", "dryRun=true"]) else {
        return;
    };
    assert!(safety_of(&alone).dry_run);
    let Some(with) = render(&[
        "--set",
        "dryRun=true",
        "--set",
        "safety.maxActionsPerHour=7",
    ]) else {
        return;
    };
    let safety = safety_of(&with);
    assert!(safety.dry_run);
    assert_eq!(safety.max_actions_per_hour, 7);
}

#[test]
fn the_safety_values_pass_through_to_a_configuration_the_operator_reads() {
    let Some(defaults) = render(&[]) else {
        return;
    };
    assert_eq!(
        serde_json::to_value(safety_of(&defaults)).expect("json"),
        serde_json::to_value(SafetyConfig::default()).expect("json"),
        "no safety values: the built-in defaults"
    );
    let Some(set) = render(&[
        "--set",
        "safety.maxActionsPerHour=10",
        "--set",
        "safety.approvalRequired={cordon,drain,rollback}",
        "--set",
        "safety.circuitBreaker.failures=2",
    ]) else {
        return;
    };
    let safety = safety_of(&set);
    assert!(!safety.dry_run);
    assert_eq!(safety.max_actions_per_hour, 10);
    assert_eq!(safety.approval_required, ["cordon", "drain", "rollback"]);
    assert_eq!(safety.circuit_breaker.failures, 2);
    assert_eq!(
        safety.evaluation_interval_seconds,
        SafetyConfig::default().evaluation_interval_seconds
    );
}

fn env_of(objects: &[Value]) -> Vec<Value> {
    let deployment = helm::object(objects, "Deployment", None);
    deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_sequence()
        .expect("env")
        .clone()
}

/// The container's variable `name`, or the test fails naming what there is.
fn variable(env: &[Value], name: &str) -> Value {
    env.iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("{name} in {env:?}"))
        .clone()
}

#[test]
fn prometheus_and_ai_values_become_environment_the_key_from_a_secret() {
    let Some(plain) = render(&[]) else {
        return;
    };
    let names = |env: &[Value]| -> Vec<String> {
        env.iter()
            .filter_map(|e| e["name"].as_str().map(String::from))
            .collect()
    };
    assert_eq!(
        names(&env_of(&plain)),
        ["POD_NAME", "POD_NAMESPACE", "KUBESKIPPY_LOG"]
    );
    let Some(set) = render(&[
        "--set",
        "prometheus.url=http://prometheus.monitoring:9090",
        "--set",
        "ai.enabled=true,ai.backend=openai,ai.url=https://api.openai.com,ai.model=gpt-4o-mini",
        "--set",
        "ai.apiKeySecret.name=openai,ai.apiKeySecret.key=token",
    ]) else {
        return;
    };
    let env = env_of(&set);
    let value = |name: &str| variable(&env, name);
    assert_eq!(
        value("KUBESKIPPY_PROMETHEUS_URL")["value"],
        "http://prometheus.monitoring:9090"
    );
    assert_eq!(value("KUBESKIPPY_AI_KIND")["value"], "openai");
    assert_eq!(
        value("KUBESKIPPY_AI_ENDPOINT")["value"],
        "https://api.openai.com"
    );
    assert_eq!(value("KUBESKIPPY_AI_MODEL")["value"], "gpt-4o-mini");
    let key = value("KUBESKIPPY_AI_API_KEY");
    assert!(key["value"].is_null(), "never inline: {key:?}");
    assert_eq!(key["valueFrom"]["secretKeyRef"]["name"], "openai");
    assert_eq!(key["valueFrom"]["secretKeyRef"]["key"], "token");
}

#[test]
fn shards_are_one_deployment_each_with_its_own_pods_and_flags() {
    let Some(objects) = render(&["--set", "shards=2"]) else {
        return;
    };
    let deployments: Vec<&Value> = objects
        .iter()
        .filter(|o| o["kind"] == "Deployment")
        .collect();
    let names: Vec<&str> = deployments
        .iter()
        .filter_map(|d| d["metadata"]["name"].as_str())
        .collect();
    assert_eq!(names, ["kubeskippy-shard-0", "kubeskippy-shard-1"]);
    for (index, deployment) in deployments.iter().enumerate() {
        let shard = index.to_string();
        // Selectors apart, or the two Deployments would fight over pods.
        let selector = &deployment["spec"]["selector"]["matchLabels"];
        assert_eq!(
            selector["kubeskippy.io/shard"].as_str(),
            Some(shard.as_str())
        );
        let pod_labels = &deployment["spec"]["template"]["metadata"]["labels"];
        assert_eq!(
            pod_labels["kubeskippy.io/shard"].as_str(),
            Some(shard.as_str())
        );
        let args: Vec<&str> = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
            .as_sequence()
            .expect("args")
            .iter()
            .filter_map(|a| a.as_str())
            .collect();
        let tail = &args[args.len() - 4..];
        assert_eq!(tail, ["--shards", "2", "--shard", shard.as_str()]);
    }
    // One shard is the chart as it always was.
    let Some(one) = render(&[]) else {
        return;
    };
    let deployment = helm::object(&one, "Deployment", Some("kubeskippy"));
    assert!(deployment["spec"]["selector"]["matchLabels"]["kubeskippy.io/shard"].is_null());
}

#[test]
fn prometheus_credentials_come_from_secrets_and_its_ca_is_mounted() {
    let Some(set) = render(&[
        "--set",
        "prometheus.url=https://prometheus.monitoring:9091,prometheus.timeoutSeconds=5",
        "--set",
        "prometheus.basicAuthSecret.name=prom-auth,prometheus.caSecret.name=prom-ca",
    ]) else {
        return;
    };
    let env = env_of(&set);
    let value = |name: &str| variable(&env, name);
    assert_eq!(value("KUBESKIPPY_PROMETHEUS_TIMEOUT_SECONDS")["value"], "5");
    let Some(notified) = render(&["--set", "notify.webhooksSecret.name=chat"]) else {
        return;
    };
    let hooks = variable(&env_of(&notified), "KUBESKIPPY_NOTIFY_WEBHOOKS");
    assert_eq!(hooks["valueFrom"]["secretKeyRef"]["name"], "chat");
    assert_eq!(hooks["valueFrom"]["secretKeyRef"]["key"], "webhooks");
    for (name, key) in [
        ("KUBESKIPPY_PROMETHEUS_USERNAME", "username"),
        ("KUBESKIPPY_PROMETHEUS_PASSWORD", "password"),
    ] {
        let secret = &value(name)["valueFrom"]["secretKeyRef"];
        assert_eq!(
            (secret["name"].as_str(), secret["key"].as_str()),
            (Some("prom-auth"), Some(key))
        );
    }
    let ca = value("KUBESKIPPY_PROMETHEUS_CA_FILE");
    assert_eq!(ca["value"], "/etc/kubeskippy-prometheus-ca/ca.crt");
    let deployment = set
        .iter()
        .find(|d| d["kind"] == "Deployment")
        .expect("the Deployment");
    let pod = &deployment["spec"]["template"]["spec"];
    let volume = pod["volumes"]
        .as_sequence()
        .and_then(|v| v.iter().find(|v| v["name"] == "prometheus-ca"))
        .expect("the CA volume");
    assert_eq!(volume["secret"]["secretName"], "prom-ca");
    let mounted = pod["containers"][0]["volumeMounts"]
        .as_sequence()
        .is_some_and(|m| {
            m.iter()
                .any(|m| m["mountPath"] == "/etc/kubeskippy-prometheus-ca")
        });
    assert!(mounted, "{:?}", pod["containers"][0]["volumeMounts"]);
}

#[test]
fn what_is_not_available_or_wrong_is_refused_at_render() {
    let Some(helm) = helm::require() else {
        return;
    };
    for (set, says) in [
        // values.schema.json: types and choices, and no unknown key.
        ("logFormat=xml", "value must be one of 'text', 'json'"),
        ("replicaCount=0", "minimum: got 0, want 1"),
        (
            "saftey.maxActionsPerHour=5",
            "additional properties 'saftey' not allowed",
        ),
        (
            "ai.enabled=true,ai.url=http://ollama:11434",
            "needs ai.url and ai.model",
        ),
        (
            "ai.enabled=true,ai.backend=bard,ai.url=http://x,ai.model=m",
            "value must be one of 'ollama', 'openai'",
        ),
        // Not a duration `run --outage-tolerance` reads.
        (
            "outageTolerance=2 minutes",
            "'/outageTolerance': '2 minutes' does not match pattern",
        ),
    ] {
        let refused = helm::template(helm, RELEASE, NAMESPACE, &["--set", set])
            .expect_err(&format!("--set {set} renders"));
        assert!(refused.contains(says), "--set {set}: {refused}");
    }
}

#[test]
fn the_service_monitor_and_the_dashboard_are_optional() {
    let Some(plain) = render(&[]) else {
        return;
    };
    let kinds: Vec<&str> = plain.iter().filter_map(|o| o["kind"].as_str()).collect();
    assert_eq!(
        kinds,
        [
            "ServiceAccount",
            "ConfigMap",
            "ClusterRole",
            "ClusterRoleBinding",
            "Role",
            "RoleBinding",
            "Service",
            "Deployment"
        ]
    );
    let Some(all) = render(&[
        "--set",
        "serviceMonitor.enabled=true,serviceMonitor.labels.release=prom",
        "--set",
        "grafana.dashboard.enabled=true,grafana.dashboard.namespace=monitoring",
    ]) else {
        return;
    };
    let monitor = helm::object(&all, "ServiceMonitor", None);
    assert_eq!(monitor["metadata"]["labels"]["release"], "prom");
    assert_eq!(monitor["spec"]["endpoints"][0]["port"], "metrics");
    let dashboard = helm::object(&all, "ConfigMap", Some("kubeskippy-dashboard"));
    assert_eq!(dashboard["metadata"]["namespace"], "monitoring");
    assert_eq!(dashboard["metadata"]["labels"]["grafana_dashboard"], "1");
    let file = std::fs::read_to_string(format!("{}/dashboards/kubeskippy.json", helm::CHART))
        .expect("the dashboard file");
    assert_eq!(
        dashboard["data"]["kubeskippy.json"]
            .as_str()
            .map(str::trim_end),
        Some(file.trim_end()),
        "the ConfigMap holds the dashboard file"
    );
}

#[test]
fn the_chart_installs_the_crds_the_code_generates() {
    let Some(objects) = render(&["--include-crds"]) else {
        return;
    };
    let rendered: Vec<&str> = objects
        .iter()
        .filter(|o| o["kind"] == "CustomResourceDefinition")
        .filter_map(|o| o["metadata"]["name"].as_str())
        .collect();
    let mut generated: Vec<String> = kubeskippy::operator::crd::manifests()
        .into_iter()
        .map(|(file, _)| format!("{}.kubeskippy.io", file.trim_end_matches(".yaml")))
        .collect();
    generated.sort();
    let mut rendered: Vec<String> = rendered.into_iter().map(String::from).collect();
    rendered.sort();
    assert_eq!(rendered, generated);
}

#[test]
fn the_values_example_of_docs_deploy_renders() {
    let Some(helm) = helm::require() else {
        return;
    };
    let doc = include_str!("../docs/deploy.md");
    let example = doc
        .split("```yaml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("docs/deploy.md has a values example");
    let file = std::env::temp_dir().join(format!("kubeskippy-values-{}.yaml", std::process::id()));
    std::fs::write(&file, example).expect("a values file");
    let path = file.to_str().expect("a UTF-8 path");
    let (ok, stdout, stderr) = helm::run(helm, &["lint", "--strict", helm::CHART, "-f", path]);
    assert!(ok, "{stdout}{stderr}");
    let objects = helm::template(helm, RELEASE, NAMESPACE, &["-f", path]).expect("it renders");
    let safety = safety_of(&objects);
    assert!(safety.protected_namespaces.iter().any(|n| n == "payments"));
    assert_eq!(safety.max_actions_per_hour, 20);
    helm::object(&objects, "ServiceMonitor", None);
    let _ = std::fs::remove_file(&file);
}
