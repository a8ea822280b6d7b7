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
    /// The kubeconfig to use (default: $KUBECONFIG or ~/.kube/config, else
    /// the pod's ServiceAccount when in a cluster)
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
    /// How much of a gap in evaluations (a restart, a leader failover) that
    /// the data says nothing about a running `for` timer survives (`90s`,
    /// `5m`); past it the timer starts again from what the data showed
    #[arg(
        long,
        value_name = "DURATION",
        env = "KUBESKIPPY_OUTAGE_TOLERANCE",
        default_value = "2m",
        value_parser = crate::sim::unit_test::parse_duration
    )]
    pub outage_tolerance: crate::ir::Seconds,
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
    /// The AI analyzer's endpoint (Ollama or any OpenAI-compatible server);
    /// without it every `ask ai` takes the deterministic fallback
    #[arg(long, value_name = "URL", env = "KUBESKIPPY_AI_ENDPOINT")]
    pub ai_endpoint: Option<String>,
    /// The model the AI analyzer asks
    #[arg(
        long,
        value_name = "NAME",
        env = "KUBESKIPPY_AI_MODEL",
        requires = "ai_endpoint"
    )]
    pub ai_model: Option<String>,
    /// The endpoint's kind: `ollama` or `openai` (default: guessed from the URL)
    #[arg(long, value_name = "KIND", env = "KUBESKIPPY_AI_KIND")]
    pub ai_kind: Option<String>,
    /// Seconds one AI call may take before the fallback is taken
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub ai_timeout_seconds: u64,
    /// The most tokens the model may answer with
    #[arg(long, value_name = "N", default_value_t = 512)]
    pub ai_max_tokens: u32,
    /// The Prometheus that CPU, memory, volume and declared `promql`
    /// metrics are read from; without it CPU and memory come from
    /// metrics-server, and the others are unknown
    #[arg(long, value_name = "URL", env = "KUBESKIPPY_PROMETHEUS_URL")]
    pub prometheus_url: Option<String>,
    /// Seconds one Prometheus query may take; past it the metric is unknown
    /// for that cycle
    #[arg(
        long,
        value_name = "SECONDS",
        env = "KUBESKIPPY_PROMETHEUS_TIMEOUT_SECONDS",
        default_value_t = 10
    )]
    pub prometheus_timeout_seconds: u64,
    /// A file holding the bearer token Prometheus wants, read every cycle
    /// (a projected ServiceAccount token rotates)
    #[arg(
        long,
        value_name = "FILE",
        env = "KUBESKIPPY_PROMETHEUS_BEARER_TOKEN_FILE",
        requires = "prometheus_url",
        conflicts_with = "prometheus_username"
    )]
    pub prometheus_bearer_token_file: Option<PathBuf>,
    /// The basic-auth user for Prometheus; the password comes from
    /// `KUBESKIPPY_PROMETHEUS_PASSWORD`
    #[arg(
        long,
        value_name = "NAME",
        env = "KUBESKIPPY_PROMETHEUS_USERNAME",
        requires = "prometheus_url"
    )]
    pub prometheus_username: Option<String>,
    /// How many shards split the cluster's namespaces (each shard a set of
    /// replicas with its own Lease); 1: one operator for the whole cluster
    #[arg(long, value_name = "N", env = "KUBESKIPPY_SHARDS", default_value_t = 1)]
    pub shards: u32,
    /// Which shard this operator is, from 0; it evaluates and acts in the
    /// namespaces whose name hashes to it, and shard 0 on nodes too
    #[arg(long, value_name = "I", env = "KUBESKIPPY_SHARD", default_value_t = 0)]
    pub shard: u32,
    /// A URL `notify` POSTs each notice to as JSON (Slack's and Mattermost's
    /// incoming webhooks read its `text`); repeat for several. Prefer
    /// `KUBESKIPPY_NOTIFY_WEBHOOKS` (comma-separated) from a Secret: such URLs
    /// hold their secret
    #[arg(
        long = "notify-webhook",
        value_name = "URL",
        env = "KUBESKIPPY_NOTIFY_WEBHOOKS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub notify_webhooks: Vec<String>,
    /// Seconds one webhook call may take
    #[arg(long, value_name = "SECONDS", default_value_t = 5)]
    pub notify_timeout_seconds: u64,
    /// A PEM file of the CAs that sign Prometheus's certificate
    #[arg(
        long,
        value_name = "FILE",
        env = "KUBESKIPPY_PROMETHEUS_CA_FILE",
        requires = "prometheus_url"
    )]
    pub prometheus_ca_file: Option<PathBuf>,
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
        match start(args, safety).await {
            Ok((client, settings, endpoints)) => {
                crate::operator::run(client, settings, endpoints).await;
                SUCCESS
            }
            Err(e) => {
                let _ = writeln!(err, "error: {e}");
                FAILURE
            }
        }
    })
}

/// Everything `run` needs, each flag checked before the cluster is reached:
/// a misspelt value is an error at once, not after a connection.
async fn start(
    args: &RunArgs,
    safety: crate::safety::SafetyConfig,
) -> Result<(Client, crate::operator::Settings, tokio::net::TcpListener), String> {
    let analysis = analysis(args)?;
    let prometheus = prometheus(args)?;
    let shard = crate::operator::shard::Shard::new(args.shard, args.shards)?;
    let webhooks = crate::act::webhooks::Webhooks::new(
        args.notify_webhooks.clone(),
        std::time::Duration::from_secs(args.notify_timeout_seconds.clamp(1, 300)),
    )?;
    let client = client(args).await?;
    let endpoints = crate::operator::serve::bind(args.metrics_address)
        .await
        .map_err(|e| {
            format!(
                "cannot serve metrics on {}: {e} (choose another with --metrics-address)",
                args.metrics_address
            )
        })?;
    if let Ok(address) = endpoints.local_addr() {
        tracing::info!(%address, "serving /metrics, /healthz and /readyz");
    }
    let settings = crate::operator::Settings {
        safety,
        namespace: args.namespace.clone(),
        lease: std::time::Duration::from_secs(args.lease_seconds.max(1)),
        analysis,
        prometheus,
        shard,
        webhooks,
        outage_tolerance: outage_tolerance(args),
    };
    Ok((client, settings, endpoints))
}

/// `--outage-tolerance` in seconds, as the engine counts them.
fn outage_tolerance(args: &RunArgs) -> i64 {
    i64::try_from(args.outage_tolerance.0).unwrap_or(i64::MAX)
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
    // kube retries a 429 up to 15 times, honouring Retry-After: an eviction
    // a PodDisruptionBudget refuses would hold the evaluation loop for
    // minutes. The operator handles a refusal itself (the record says
    // "blocked by a PodDisruptionBudget" and the action is tried again
    // later), and its watches back off on their own.
    let mut config = config;
    config.default_retry = false;
    Client::try_from(config).map_err(|e| format!("cannot make a Kubernetes client: {e}"))
}

/// The Prometheus source the flags configure, if any; the basic-auth
/// password comes from `KUBESKIPPY_PROMETHEUS_PASSWORD`, never a flag.
fn prometheus(
    args: &RunArgs,
) -> Result<Option<crate::operator::prometheus::PrometheusSource>, String> {
    use crate::operator::prometheus::{Auth, PrometheusConfig, PrometheusSource};
    let Some(url) = &args.prometheus_url else {
        return Ok(None);
    };
    if !(1..=600).contains(&args.prometheus_timeout_seconds) {
        return Err(format!(
            "--prometheus-timeout-seconds {}: expected 1 to 600",
            args.prometheus_timeout_seconds
        ));
    }
    let auth = match (&args.prometheus_bearer_token_file, &args.prometheus_username) {
        (Some(file), _) => Auth::BearerFile(file.clone()),
        (None, Some(username)) => Auth::Basic {
            username: username.clone(),
            password: std::env::var("KUBESKIPPY_PROMETHEUS_PASSWORD").map_err(|_| {
                "--prometheus-username needs KUBESKIPPY_PROMETHEUS_PASSWORD (the password, from a Secret)"
                    .to_string()
            })?,
        },
        (None, None) => Auth::None,
    };
    let source = PrometheusSource::new(PrometheusConfig {
        url: url.clone(),
        timeout: std::time::Duration::from_secs(args.prometheus_timeout_seconds),
        auth,
        ca_file: args.prometheus_ca_file.clone(),
    })?;
    tracing::info!(%url, "metrics from Prometheus");
    Ok(Some(source))
}

/// The AI analyzer the flags configure; the API key comes from
/// `KUBESKIPPY_AI_API_KEY` (a Secret mounted as an environment variable),
/// never from a flag, so it is in no process listing and no log.
fn analysis(args: &RunArgs) -> Result<crate::operator::analysis::Analysis, String> {
    use crate::ai::{AiConfig, ApiKey, BackendKind, ModeSetting};
    use crate::operator::analysis::Analysis;
    let Some(endpoint) = &args.ai_endpoint else {
        return Ok(Analysis::Disabled);
    };
    let Some(model) = &args.ai_model else {
        return Err("--ai-endpoint needs --ai-model (the model to ask)".into());
    };
    let kind = match &args.ai_kind {
        Some(k) => BackendKind::from_name(k)
            .ok_or_else(|| format!("--ai-kind {k:?}: expected ollama or openai"))?,
        None => BackendKind::guess(endpoint),
    };
    if !(1..=3_600).contains(&args.ai_timeout_seconds) {
        return Err(format!(
            "--ai-timeout-seconds {}: expected 1 to 3600",
            args.ai_timeout_seconds
        ));
    }
    let config = AiConfig {
        endpoint: endpoint.clone(),
        kind,
        model: model.clone(),
        timeout: std::time::Duration::from_secs(args.ai_timeout_seconds),
        max_tokens: args.ai_max_tokens.clamp(64, 32_768),
        mode: ModeSetting::default(),
        max_concurrency: 2,
        redact: Vec::new(),
        api_key: ApiKey::from_env("KUBESKIPPY_AI_API_KEY"),
    };
    crate::ai::http::HttpAnalyzer::new(config)
        .map(Analysis::Http)
        .map_err(|e| format!("the AI analyzer: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Run {
        #[command(flatten)]
        args: RunArgs,
    }

    fn parse(flags: &[&str]) -> Result<RunArgs, clap::Error> {
        Run::try_parse_from(std::iter::once("run").chain(flags.iter().copied())).map(|r| r.args)
    }

    #[test]
    fn the_outage_tolerance_reaches_the_engine() {
        let engine = |args: &RunArgs| {
            crate::operator::evaluation::engine_context(
                &crate::safety::SafetyConfig::default(),
                outage_tolerance(args),
                Some("shop"),
            )
        };
        let args = parse(&["--outage-tolerance", "10m"]).expect("a duration");
        assert_eq!(engine(&args).outage_tolerance, 600);
        let args = parse(&["--outage-tolerance", "1m30s"]).expect("a duration");
        assert_eq!(engine(&args).outage_tolerance, 90);
        let default = parse(&[]).expect("no flags");
        assert_eq!(
            engine(&default).outage_tolerance,
            crate::engine::OUTAGE_TOLERANCE
        );
        let refused = parse(&["--outage-tolerance", "2 minutes"]).expect_err("not a duration");
        assert!(
            refused.to_string().contains("expected a duration"),
            "{refused}"
        );
    }
}
