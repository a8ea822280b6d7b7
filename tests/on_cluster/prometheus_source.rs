//! The Prometheus source end to end: a real Prometheus (the Debian package)
//! scrapes a small exporter this test serves with cAdvisor- and
//! kube-state-metrics-shaped series for the pods of a Deployment on the real
//! API server; the operator reads them with `--prometheus-url`. While
//! Prometheus is down the metric is unknown (the policy's status says so)
//! and nothing acts; once it is back, a leaking pod is restarted after its
//! `for`.

use super::metrics::{free_port, prometheus_bench, prometheus_on, serve};
use super::support::*;
use kubeskippy::operator::crd::HealingAction;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

const LIMIT: f64 = 512.0 * 1_048_576.0;

/// Each pod's working-set memory, as a share of its 512Mi limit.
type Usage = Arc<Mutex<BTreeMap<String, f64>>>;

/// The exposition text of cAdvisor's and kube-state-metrics' series for
/// `usage`'s pods in `namespace`.
fn exposition(namespace: &str, usage: &BTreeMap<String, f64>) -> String {
    let mut text = String::from(
        "# TYPE container_memory_working_set_bytes gauge\n\
         # TYPE kube_pod_container_resource_limits gauge\n\
         # TYPE container_cpu_usage_seconds_total counter\n\
         # TYPE kube_pod_container_status_restarts_total counter\n",
    );
    for (pod, share) in usage {
        let labels = format!("namespace=\"{namespace}\",pod=\"{pod}\",container=\"app\"");
        text.push_str(&format!(
            "container_memory_working_set_bytes{{{labels}}} {}\n\
             kube_pod_container_resource_limits{{{labels},resource=\"memory\",unit=\"byte\"}} {LIMIT}\n\
             kube_pod_container_resource_limits{{{labels},resource=\"cpu\",unit=\"core\"}} 0.5\n\
             container_cpu_usage_seconds_total{{{labels}}} 12.5\n\
             kube_pod_container_status_restarts_total{{{labels}}} 0\n",
            share * LIMIT
        ));
    }
    text
}

/// Serves `exposition` on a loopback port until the task is dropped.
async fn exporter(namespace: String, usage: Usage) -> (String, tokio::task::JoinHandle<()>) {
    serve(move || exposition(&namespace, &usage.lock().expect("usage").clone())).await
}

/// The queries Prometheus ran that name `namespace`.
fn queries_about(dir: &Path, namespace: &str) -> Vec<String> {
    let log = std::fs::read_to_string(dir.join("queries.log")).unwrap_or_default();
    let needle = format!("namespace=\\\"{namespace}\\\"");
    log.lines()
        .filter(|l| l.contains(&needle))
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn a_leak_seen_in_prometheus_is_healed_and_prometheus_down_acts_on_nothing() {
    let Some((plane, binary, _turn, client)) = prometheus_bench().await else {
        return;
    };
    let ns = namespace(&client, "t-prometheus").await;
    let (pods, _) = workload(&client, &ns, "leaky", 3).await;
    let names = running_pods(&pods, "leaky", 3).await;
    let usage: Usage = Arc::new(Mutex::new(names.iter().map(|n| (n.clone(), 0.4)).collect()));
    let (target, _exporter) = exporter(ns.clone(), usage.clone()).await;
    let dir = plane.ready.log_dir.join("prometheus-source");
    let web = free_port();
    let url = format!("http://127.0.0.1:{web}");
    let server = prometheus_on(&binary, &dir, &target, web);

    healing_policy(
        &client,
        &ns,
        "leak",
        "policy leak {\n  select pods where app = \"leaky\"\n  mode auto\n  cooldown 10m\n  \
         when memory_percent > 85 for 3s then restart\n}\n",
    )
    .await;
    let _operator = operator_as(
        plane,
        "prometheus-source",
        Some("evaluationIntervalSeconds: 1\n"),
        &plane.ready.kubeconfig,
        &[
            "--prometheus-url",
            &url,
            "--prometheus-timeout-seconds",
            "2",
        ],
    );
    // The pods' memory reaches the operator (40%: nothing to do), one query
    // per cycle for the namespace, never one per pod.
    let started = Instant::now();
    eventually(
        "the operator queries Prometheus",
        Duration::from_secs(60),
        || async {
            let seen = queries_about(&dir, &ns);
            if seen.len() >= 5 {
                Ok(())
            } else {
                Err(format!("{} queries", seen.len()))
            }
        },
    )
    .await;
    let seconds = started.elapsed().as_secs_f64();
    let counted = queries_about(&dir, &ns).len() as f64;
    assert!(
        counted <= seconds + 3.0,
        "{counted} queries in {seconds:.0} s at one cycle a second: more than one per cycle for three pods"
    );
    let actions: Api<HealingAction> = Api::namespaced(client.clone(), &ns);
    assert_eq!(record_count(&actions).await, 0, "40% is no leak");

    // Prometheus goes away, and the leak begins where nobody sees it.
    drop(server);
    usage.lock().expect("usage").insert(names[0].clone(), 0.95);
    without_data(&client, &ns, "leak", "memory_percent", true).await;
    cycles(plane, "prometheus-source", 5).await;
    assert_eq!(
        record_count(&actions).await,
        0,
        "an unknown metric never fires"
    );

    // Back on the same port: the leak shows, holds for 3 s, and the pod is
    // restarted.
    let _server = prometheus_on(&binary, &dir, &target, web);
    let record = record_where(
        &actions,
        "the leaking pod's restart",
        Duration::from_secs(90),
        carried_out,
    )
    .await;
    assert_eq!(record.spec.object.name, names[0]);
    assert_eq!(record.spec.action.name, "restart");
    let evidence = serde_json::to_string(&record.spec.evidence).expect("evidence");
    assert!(evidence.contains("memory_percent"), "{evidence}");
    eventually(
        "the leaking pod is gone",
        Duration::from_secs(30),
        || async {
            match pods.get_opt(&names[0]).await.map_err(|e| e.to_string())? {
                None => Ok(()),
                Some(p) if p.metadata.deletion_timestamp.is_some() => Ok(()),
                Some(_) => Err("still there".into()),
            }
        },
    )
    .await;
    for other in &names[1..] {
        assert!(
            pods.get_opt(other).await.expect("a get").is_some(),
            "{other} was not leaking"
        );
    }
    without_data(&client, &ns, "leak", "memory_percent", false).await;
}
