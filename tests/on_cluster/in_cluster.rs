//! The in-cluster configuration path, as a pod meets it: no kubeconfig,
//! `KUBERNETES_SERVICE_HOST` and `_PORT` in the environment, and the
//! ServiceAccount's token, CA and namespace in
//! `/var/run/secrets/kubernetes.io/serviceaccount/`. `kubeskippy run` with
//! no `--kubeconfig` finds them and heals with the least-privilege role.
//!
//! The files' path is fixed (it is where the kubelet mounts them), so the
//! test needs root and a machine where nothing is mounted there; elsewhere
//! it is skipped, loudly, and under CI it fails.

use super::support::*;
use kubeskippy::operator::crd::HealingAction;
use std::path::PathBuf;

const MOUNT: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// The mounted files, removed when dropped with every folder made for them.
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes what the kubelet would mount, or says why it cannot.
fn mount(token: &str, ca: &[u8], namespace: &str) -> Result<Mounted, String> {
    let dir = PathBuf::from(MOUNT);
    if dir.exists() {
        return Err(format!("{MOUNT} exists already (a real pod's?)"));
    }
    // The outermost folder this makes, which the drop removes.
    let made = dir
        .ancestors()
        .take_while(|a| !a.exists())
        .last()
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.clone());
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {MOUNT}: {e}"))?;
    let mounted = Mounted(made);
    for (name, bytes) in [
        ("token", token.as_bytes()),
        ("ca.crt", ca),
        ("namespace", namespace.as_bytes()),
    ] {
        std::fs::write(dir.join(name), bytes).map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(mounted)
}

#[tokio::test]
async fn with_no_kubeconfig_the_operator_reads_its_pods_service_account() {
    let Some(bench) = role_bench("t-in-cluster").await else {
        return;
    };
    let (plane, client, _, ns) = bench.parts();
    let token = service_account_token(&client, "kubeskippy-system", "kubeskippy").await;
    let pki = pki(plane);
    let ca = std::fs::read(pki.join("ca.crt")).expect("the cluster CA");
    let _mounted = match mount(&token, &ca, "kubeskippy-system") {
        Ok(mounted) => mounted,
        Err(why) => {
            // CI runs as root on a machine that is no pod: there the test
            // must run.
            assert!(
                std::env::var_os("CI").is_none(),
                "the in-cluster files cannot be written here: {why}"
            );
            eprintln!("*** SKIPPED: the in-cluster files cannot be written here: {why}");
            return;
        }
    };
    let server = plane
        .ready
        .server
        .strip_prefix("https://")
        .expect("an https server");
    let (host, port) = server.rsplit_once(':').expect("host:port");
    let home = plane.ready.log_dir.join("in-cluster-home");
    std::fs::create_dir_all(&home).expect("an empty home");
    let log = std::fs::File::create(plane.ready.log_dir.join("operator-in-cluster.log"))
        .expect("a log file");
    let safety = plane.ready.log_dir.join("safety-in-cluster.yaml");
    std::fs::write(
        &safety,
        format!("evaluationIntervalSeconds: 1\n{SHARED_CLUSTER_CAP}"),
    )
    .expect("a safety file");
    // As the pod of the chart's Deployment: no kubeconfig anywhere.
    let _operator = tokio::process::Command::new(env!("CARGO_BIN_EXE_kubeskippy"))
        .args(["run", "--lease-seconds", "2", "--safety"])
        .arg(&safety)
        .env_remove("KUBECONFIG")
        .env("HOME", &home)
        .env("KUBERNETES_SERVICE_HOST", host)
        .env("KUBERNETES_SERVICE_PORT", port)
        .env("POD_NAME", "in-cluster")
        .env("POD_NAMESPACE", "kubeskippy-system")
        .env("KUBESKIPPY_LOG", "kubeskippy=debug,info")
        .env("KUBESKIPPY_METRICS_ADDRESS", "127.0.0.1:0")
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().expect("a log handle"))
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("kubeskippy run starts");
    let (pods, pod) = workload(&client, &ns, "in-pod", 1).await;
    healing_policy(
        &client,
        &ns,
        "crashloop",
        "policy crashloop {\n  select pods where app = \"in-pod\"\n  mode auto\n  cooldown 10m\n  \
         when status is CrashLoopBackOff then restart\n}\n",
    )
    .await;
    crash_loop(&pods, &pod).await;
    let actions: Api<HealingAction> = Api::namespaced(client.clone(), &ns);
    let record = record_where(
        &actions,
        "the restart by the in-cluster operator",
        Duration::from_secs(90),
        carried_out,
    )
    .await;
    assert_eq!(record.spec.object.name, pod);
}
