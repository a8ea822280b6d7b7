//! `kubeskippy approve` and `kubeskippy reject`: answer a HealingAction that
//! waits for a person, as `kubectl annotate healingaction NAME
//! kubeskippy.io/approve=true|false` does, saying what it answered.

use super::{FAILURE, PROBLEMS, SUCCESS};
use crate::operator::approval::APPROVE;
use crate::operator::crd::{ActionPhase, HealingAction};
use clap::Args;
use kube::api::{Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  kubeskippy approve crashloop-e091db9e0129bda5 -n shop
  kubeskippy reject node-pressure-5b1f0c2a77d3e9f1 -n kubeskippy-system

List what waits: kubectl get healingactions -A | grep AwaitingApproval")]
pub struct AnswerArgs {
    /// The HealingAction's name
    pub name: String,
    /// Its namespace
    #[arg(short, long, default_value = "default")]
    pub namespace: String,
    /// The kubeconfig to use (default: $KUBECONFIG, then ~/.kube/config)
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
}

/// Answers the record `args.name`: `approve` true or false.
pub fn run(args: &AnswerArgs, approve: bool, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            let _ = writeln!(err, "error: cannot start the async runtime: {e}");
            return FAILURE;
        }
    };
    match runtime.block_on(answer(args, approve)) {
        Ok(message) => {
            let _ = writeln!(out, "{message}");
            SUCCESS
        }
        Err((status, message)) => {
            let _ = writeln!(err, "error: {message}");
            status
        }
    }
}

async fn answer(args: &AnswerArgs, approve: bool) -> Result<String, (u8, String)> {
    let config = match &args.kubeconfig {
        Some(path) => {
            let kubeconfig = Kubeconfig::read_from(path)
                .map_err(|e| (FAILURE, format!("cannot read {}: {e}", path.display())))?;
            Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                .await
                .map_err(|e| (FAILURE, format!("{}: {e}", path.display())))?
        }
        None => Config::infer()
            .await
            .map_err(|e| (FAILURE, format!("no usable kubeconfig: {e}")))?,
    };
    let client = Client::try_from(config).map_err(|e| (FAILURE, e.to_string()))?;
    let records: Api<HealingAction> = Api::namespaced(client, &args.namespace);
    let record = records
        .get_opt(&args.name)
        .await
        .map_err(|e| (FAILURE, e.to_string()))?
        .ok_or_else(|| {
            (
                PROBLEMS,
                format!("no HealingAction {} in {}", args.name, args.namespace),
            )
        })?;
    let phase = record.status.as_ref().and_then(|s| s.phase);
    if phase != Some(ActionPhase::AwaitingApproval) {
        return Err((
            PROBLEMS,
            format!(
                "{} does not wait for approval (its phase is {})",
                args.name,
                phase.map_or("unset".to_string(), |p| format!("{p:?}"))
            ),
        ));
    }
    let patch = serde_json::json!({"metadata": {"annotations": {APPROVE: approve.to_string()}}});
    records
        .patch(&args.name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|e| (FAILURE, e.to_string()))?;
    Ok(format!(
        "{} {}: {} on {} {}; the operator's leader carries it out and records what came of it",
        if approve { "approved" } else { "rejected" },
        args.name,
        record.spec.action.text,
        record.spec.object.kind,
        record.spec.object.name
    ))
}
