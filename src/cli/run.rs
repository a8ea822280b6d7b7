//! `kubeskippy run`: the operator, in the cluster (its ServiceAccount) or
//! outside it (a kubeconfig), like a kubebuilder `make run`.

use super::{safety_config, FAILURE, SUCCESS};
use clap::Args;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  kubeskippy run                                in the cluster, or with ~/.kube/config
  kubeskippy run --kubeconfig kind.yaml --context kind-dev
  kubeskippy run --safety safety.yaml           with the cluster's safety configuration

Install the CRDs first: kubeskippy crds | kubectl apply -f -")]
pub struct RunArgs {
    /// The kubeconfig to use (default: in-cluster, then $KUBECONFIG, then ~/.kube/config)
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use (default: its current context)
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// The safety configuration (YAML, the format of `check --safety`; default: the built-in one)
    #[arg(long, value_name = "FILE")]
    pub safety: Option<PathBuf>,
    /// The operator's namespace, where records of node actions go
    #[arg(
        long,
        value_name = "NAME",
        env = "POD_NAMESPACE",
        default_value = "default"
    )]
    pub namespace: String,
    /// Seconds a replica's leadership lasts without renewal: a follower takes
    /// over within this long after the leader stops
    #[arg(long, value_name = "SECONDS", default_value_t = 15)]
    pub lease_seconds: u64,
    /// How log lines are written: `text` for people, `json` (one object per
    /// line, with its time) for a log pipeline; `KUBESKIPPY_LOG` filters them
    #[arg(
        long,
        value_enum,
        value_name = "FORMAT",
        env = "KUBESKIPPY_LOG_FORMAT",
        default_value_t = LogFormat::Text
    )]
    pub log_format: LogFormat,
    /// Where `/metrics`, `/healthz` and `/readyz` are served (port 0: any
    /// free port, logged at start)
    #[arg(
        long,
        value_name = "ADDRESS",
        env = "KUBESKIPPY_METRICS_ADDRESS",
        default_value = "0.0.0.0:8080"
    )]
    pub metrics_address: std::net::SocketAddr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

pub fn run(args: &RunArgs, err: &mut dyn Write) -> u8 {
    let safety = match safety_config(args.safety.as_deref()) {
        Ok(safety) => safety,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            let _ = writeln!(err, "error: cannot start the async runtime: {e}");
            return FAILURE;
        }
    };
    runtime.block_on(async {
        let client = match client(args).await {
            Ok(client) => client,
            Err(e) => {
                let _ = writeln!(err, "error: {e}");
                return FAILURE;
            }
        };
        let endpoints = match crate::operator::serve::bind(args.metrics_address).await {
            Ok(listener) => listener,
            Err(e) => {
                let _ = writeln!(
                    err,
                    "error: cannot serve metrics on {}: {e} (choose another with --metrics-address)",
                    args.metrics_address
                );
                return FAILURE;
            }
        };
        if let Ok(address) = endpoints.local_addr() {
            tracing::info!(%address, "serving /metrics, /healthz and /readyz");
        }
        let lease = std::time::Duration::from_secs(args.lease_seconds.max(1));
        crate::operator::run(client, safety, args.namespace.clone(), lease, endpoints).await;
        SUCCESS
    })
}

async fn client(args: &RunArgs) -> Result<Client, String> {
    let options = KubeConfigOptions {
        context: args.context.clone(),
        ..KubeConfigOptions::default()
    };
    let config = match &args.kubeconfig {
        Some(path) => {
            let kubeconfig = Kubeconfig::read_from(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .map_err(|e| format!("{}: {e}", path.display()))?
        }
        None if args.context.is_some() => Config::from_kubeconfig(&options)
            .await
            .map_err(|e| format!("no usable kubeconfig: {e}"))?,
        None => Config::infer()
            .await
            .map_err(|e| format!("not in a cluster and no usable kubeconfig: {e}"))?,
    };
    Client::try_from(config).map_err(|e| format!("cannot make a Kubernetes client: {e}"))
}
