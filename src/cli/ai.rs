//! `kubeskippy ai test` and `kubeskippy ai eval`: a user's check that a model
//! endpoint works, and the evidence to choose a model and a confidence
//! threshold. Both drive the operator's own analyzer (`ai::http`), so what
//! they show is what the operator would do.

use super::{collect_files, read, CliError, FAILURE, PROBLEMS, SUCCESS};
use crate::ai::http::HttpAnalyzer;
use crate::ai::incident::{self, Incident};
use crate::ai::redact::Redactor;
use crate::ai::verdict::{FallbackChoice, Verdict, VerdictOutcome, Why};
use crate::ai::{eval, AiConfig, Analyzer, ApiKey, BackendKind, ModeSetting};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

/// The incident `ai test` sends: a memory leak that restarts only delayed.
const CANNED: &str = include_str!("../../examples/ai-eval/01-oom-after-traffic-growth.yaml");

#[derive(Debug, Clone, clap::Args)]
pub struct AiArgs {
    #[command(subcommand)]
    pub command: AiCommand,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum AiCommand {
    /// Send a canned incident to a model and show its validated recommendation
    #[command(after_help = "Examples:
  kubeskippy ai test --backend http://localhost:11434 --model llama3.2
  kubeskippy ai test --backend https://api.openai.com --model gpt-4o-mini --api-key-env OPENAI_API_KEY

Prints the parsed, validated recommendation (or why the answer was rejected and
what the operator would do instead), the structured-output mode the endpoint
accepted, and the latency. Exit status: 0 a valid answer, 1 an answer that was
rejected, 2 no answer (unreachable, timed out, bad arguments).")]
    Test(EndpointArgs),
    /// Score a model on labelled incidents: agreement, invalid answers, calibration, latency
    #[command(after_help = "Examples:
  kubeskippy ai eval --backend http://localhost:11434 --model llama3.2 examples/ai-eval/

Runs every incident (`*.yaml`) in DIR (default: examples/ai-eval) and prints,
per incident and in total: the model's choice, whether it agrees with the
label, rejected answers and why, agreement by confidence (is a confident answer
right more often?), what each confidence threshold would let run on its own,
and latency p50/p95. AI choices need approval unless a threshold is set:
choose it from this table, for this model. Exit status: 0 the run completed
(whatever the model answered), 2 no incident could be read or no call answered.")]
    Eval(EvalArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct EndpointArgs {
    /// The model server's base URL (http://host:11434, https://api.openai.com)
    #[arg(long, value_name = "URL")]
    pub backend: String,
    /// The model's name on that server
    #[arg(long)]
    pub model: String,
    /// The wire format: ollama or openai (OpenAI-compatible); guessed from the URL if not given
    #[arg(long, value_name = "KIND")]
    pub kind: Option<String>,
    /// Structured output: auto, json-schema, json-object-schema, json-object or none
    #[arg(long, default_value = "auto")]
    pub mode: String,
    /// Seconds one call may take
    #[arg(long, default_value_t = 60.0)]
    pub timeout: f64,
    /// The most tokens the model may answer with
    #[arg(long, default_value_t = 512)]
    pub max_tokens: u32,
    /// An environment variable holding the API key (sent as a bearer token, never printed)
    #[arg(long, value_name = "VAR")]
    pub api_key_env: Option<String>,
    /// Output format: text or json
    #[arg(long, default_value = "text")]
    pub format: String,
}

#[derive(Debug, Clone, clap::Args)]
pub struct EvalArgs {
    #[command(flatten)]
    pub endpoint: EndpointArgs,
    /// A folder of incident files (or files)
    #[arg(value_name = "DIR")]
    pub paths: Vec<PathBuf>,
}

pub fn run(args: &AiArgs, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    match &args.command {
        AiCommand::Test(a) => test(a, out, err),
        AiCommand::Eval(a) => evaluate(a, out, err),
    }
}

/// The analyzer's configuration from the flags.
fn config(args: &EndpointArgs) -> Result<AiConfig, String> {
    let kind = match &args.kind {
        Some(k) => BackendKind::from_name(k)
            .ok_or_else(|| format!("--kind {k:?}: expected ollama or openai"))?,
        None => BackendKind::guess(&args.backend),
    };
    let mode = ModeSetting::parse(&args.mode).ok_or_else(|| {
        format!(
            "--mode {:?}: expected auto, json-schema, json-object-schema, json-object or none",
            args.mode
        )
    })?;
    if !(args.timeout.is_finite() && args.timeout > 0.0 && args.timeout <= 3600.0) {
        return Err(format!(
            "--timeout {}: expected seconds above 0, at most 3600",
            args.timeout
        ));
    }
    if args.format != "text" && args.format != "json" {
        return Err(format!("--format {:?}: expected text or json", args.format));
    }
    let mut config = AiConfig::new(&args.backend, kind, &args.model);
    config.mode = mode;
    config.timeout = Duration::from_secs_f64(args.timeout);
    config.max_tokens = args.max_tokens;
    config.max_concurrency = 1;
    if let Some(var) = &args.api_key_env {
        config.api_key =
            Some(ApiKey::from_env(var).ok_or_else(|| format!("--api-key-env: {var} is not set"))?);
    }
    Ok(config)
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

fn setup(args: &EndpointArgs) -> Result<(HttpAnalyzer, tokio::runtime::Runtime), String> {
    let config = config(args)?;
    let analyzer = HttpAnalyzer::new(config).map_err(|e| e.to_string())?;
    Ok((analyzer, runtime()?))
}

fn test(args: &EndpointArgs, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let (analyzer, rt) = match setup(args) {
        Ok(s) => s,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return FAILURE;
        }
    };
    let incident = match Redactor::new(&[])
        .map_err(|e| e.to_string())
        .and_then(|r| incident::parse(CANNED, &r).map_err(|e| e.to_string()))
    {
        Ok(i) => i,
        Err(e) => {
            let _ = writeln!(err, "error: the canned incident: {e}");
            return FAILURE;
        }
    };
    let verdict = rt.block_on(analyzer.analyze(&incident.case));
    let status = match &verdict.outcome {
        VerdictOutcome::Ai(_)
        | VerdictOutcome::Fallback {
            why: Why::Declined { .. },
            ..
        } => SUCCESS,
        VerdictOutcome::Fallback {
            why: Why::Rejected(_),
            ..
        } => PROBLEMS,
        VerdictOutcome::Fallback { .. } => FAILURE,
    };
    let _ = if args.format == "json" {
        let json = serde_json::json!({
            "incident": incident.name,
            "allowed": incident.case.choices.iter().map(|c| &c.id).collect::<Vec<_>>(),
            "verdict": verdict,
        });
        writeln!(out, "{json}")
    } else {
        write!(out, "{}", render_test(&incident, &verdict))
    };
    status
}

fn render_test(incident: &Incident, verdict: &Verdict) -> String {
    let mut s = format!(
        "incident: {} ({})\nallowed: {}, none\n",
        incident.name,
        incident.case.object,
        incident
            .case
            .choices
            .iter()
            .map(|c| c.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    match &verdict.outcome {
        VerdictOutcome::Ai(r) => {
            s += &format!(
                "recommendation: {} (confidence {:.2})\n",
                r.action, r.confidence
            );
            for reason in r.reasoning.iter().filter(|r| !r.trim().is_empty()) {
                s += &format!("  - {reason}\n");
            }
            if !r.alternatives.is_empty() {
                s += &format!("alternatives: {}\n", r.alternatives.join(", "));
            }
        }
        VerdictOutcome::Fallback { why, choice } => {
            s += &format!("not used: {why}\n");
            s += &match choice {
                FallbackChoice::Candidate { action, .. } => {
                    format!("the operator would fall back to: {action}\n")
                }
                FallbackChoice::Notify { .. } => {
                    "the operator would notify instead of acting\n".to_string()
                }
            };
        }
    }
    s += &format!(
        "model: {}\nstructured output: {}\nlatency: {} ms\n",
        verdict.model,
        verdict.mode.map_or("-", |m| m.name()),
        eval::millis(verdict.latency)
    );
    s
}

fn evaluate(args: &EvalArgs, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let (analyzer, rt) = match setup(&args.endpoint) {
        Ok(s) => s,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return FAILURE;
        }
    };
    let incidents = match load(&args.paths) {
        Ok(i) => i,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return FAILURE;
        }
    };
    let mut rows = Vec::with_capacity(incidents.len());
    for incident in &incidents {
        let verdict = rt.block_on(analyzer.analyze(&incident.case));
        if args.endpoint.format == "text" {
            // Progress, so a slow model shows it is working.
            let _ = writeln!(err, "{}: {}", incident.name, verdict.origin());
        }
        rows.push(eval::score(incident, &verdict));
    }
    let report = eval::report(&args.endpoint.model, rows);
    let _ = if args.endpoint.format == "json" {
        writeln!(
            out,
            "{}",
            serde_json::to_string(&report).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
        )
    } else {
        write!(out, "{}", report.render())
    };
    if report.failed == report.incidents {
        let _ = writeln!(err, "error: no call to the model answered");
        return FAILURE;
    }
    SUCCESS
}

/// The incidents in `paths` (default: examples/ai-eval), in file order.
fn load(paths: &[PathBuf]) -> Result<Vec<Incident>, String> {
    let paths = if paths.is_empty() {
        vec![PathBuf::from("examples/ai-eval")]
    } else {
        paths.to_vec()
    };
    let files = collect_files(&paths, ".yaml").map_err(|e| e.to_string())?;
    if files.is_empty() {
        return Err(CliError::NoFiles {
            what: "incident (.yaml)",
        }
        .to_string());
    }
    let redactor = Redactor::new(&[]).map_err(|e| e.to_string())?;
    files
        .iter()
        .map(|f| {
            let text = read(f).map_err(|e| e.to_string())?;
            incident::parse(&text, &redactor).map_err(|e| format!("{}: {e}", f.display()))
        })
        .collect()
}
