//! The `kubeskippy` command.

use clap::{Parser, Subcommand};
use kubeskippy::cli;
use std::io::IsTerminal;
use std::process::ExitCode;

/// jemalloc for the operator (see its entry in Cargo.toml): a cycle over a
/// large cluster allocates and frees many small maps and strings.
#[cfg(feature = "operator")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// KubeSkippy heals Kubernetes applications by policies written in Skippy.
#[derive(Debug, Parser)]
#[command(
    name = "kubeskippy",
    version,
    about,
    long_about = "KubeSkippy heals Kubernetes applications by policies written in Skippy, a small \
typed language:

    policy checkout-memory {
      select pods in shop where app = \"checkout\"
      mode auto
      cooldown 10m
      when memory_percent > 85 for 3m then restart rolling
    }

The compiler checks policies against the catalog of metrics and the safety rules \
before they touch a cluster.",
    after_help = "Examples:
  kubeskippy check policies/                    check every policy in a folder
  kubeskippy fmt policies/                      format policies in place
  kubeskippy explain policies/crashloop.skippy  show what a policy will do
  kubeskippy test policies/                     run the policies' unit tests
  kubeskippy simulate examples/scenarios/demo.yaml   watch policies heal a simulated cluster
  kubeskippy import old-policy.yaml --out p.skippy    convert a structured HealingPolicy
  kubeskippy check --format json a.skippy       diagnostics for tools
  kubeskippy crds | kubectl apply -f -          install the CustomResourceDefinitions
  kubeskippy ai test --backend URL --model M    check an AI model endpoint

Logging goes to stderr; set KUBESKIPPY_LOG (e.g. `debug`, `kubeskippy=trace`) to see more."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check policy files and report every mistake, like a compiler
    Check(cli::check::CheckArgs),
    /// Rewrite policy files in the canonical layout, keeping comments
    Fmt(cli::fmt::FmtArgs),
    /// Explain what a policy file will do, rule by rule
    Explain(cli::explain::ExplainArgs),
    /// Convert HealingPolicy YAML of the older structured form into Skippy
    Import(cli::import::ImportArgs),
    /// Start the language server (LSP over stdin/stdout), for editors
    Lsp(cli::lsp::LspArgs),
    /// Run policy unit tests (`*.skippy-test.yaml`): expected decisions over time
    Test(cli::test::TestArgs),
    /// Run policies against a simulated cluster with injected faults
    Simulate(cli::simulate::SimulateArgs),
    /// Check a model endpoint (`ai test`) or score a model on labelled incidents (`ai eval`)
    #[cfg(feature = "ai")]
    Ai(cli::ai::AiArgs),
    /// Print the CustomResourceDefinitions (HealingPolicy, ClusterHealingPolicy, HealingAction)
    #[cfg(feature = "operator")]
    Crds(cli::crds::CrdsArgs),
    /// Run the operator against a cluster (in-cluster, or with a kubeconfig)
    #[cfg(feature = "operator")]
    Run(cli::run::RunArgs),
    /// Approve a HealingAction that waits for a person
    #[cfg(feature = "operator")]
    Approve(cli::approve::AnswerArgs),
    /// Reject a HealingAction that waits for a person
    #[cfg(feature = "operator")]
    Reject(cli::approve::AnswerArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    #[cfg(feature = "operator")]
    let json =
        matches!(&cli.command, Command::Run(args) if args.log_format == cli::run::LogFormat::Json);
    #[cfg(not(feature = "operator"))]
    let json = false;
    init_logging(json);
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    let status = match &cli.command {
        Command::Check(args) => {
            let tty = std::io::stdout().is_terminal();
            cli::check::run(args, &mut out, &mut err, tty)
        }
        Command::Fmt(args) => cli::fmt::run(args, &mut out, &mut err),
        Command::Explain(args) => cli::explain::run(args, &mut out, &mut err),
        Command::Import(args) => {
            let tty = std::io::stderr().is_terminal();
            cli::import::run(args, &mut out, &mut err, tty)
        }
        Command::Lsp(args) => {
            // The server writes stdout from its own thread, and a log line
            // from any of its threads goes to stderr: release both locks, or
            // that thread would wait for this one forever.
            drop(out);
            drop(err);
            cli::lsp::run(args, &mut std::io::stderr())
        }
        Command::Test(args) => cli::test::run(args, &mut out, &mut err),
        Command::Simulate(args) => {
            let bar = std::io::stderr().is_terminal();
            cli::simulate::run(args, &mut out, &mut err, bar)
        }
        #[cfg(feature = "ai")]
        Command::Ai(args) => cli::ai::run(args, &mut out, &mut err),
        #[cfg(feature = "operator")]
        Command::Crds(args) => cli::crds::run(args, &mut out, &mut err),
        #[cfg(feature = "operator")]
        Command::Approve(args) => cli::approve::run(args, true, &mut out, &mut err),
        #[cfg(feature = "operator")]
        Command::Reject(args) => cli::approve::run(args, false, &mut out, &mut err),
        #[cfg(feature = "operator")]
        Command::Run(args) => {
            // The operator logs from many threads: release stderr's lock
            // (see `Lsp`).
            drop(out);
            drop(err);
            cli::run::run(args, &mut std::io::stderr())
        }
    };
    ExitCode::from(status)
}

/// Log lines go to stderr, so they never mix with the output a tool reads;
/// `KUBESKIPPY_LOG` takes tracing's filter syntax and defaults to warnings.
/// `json`: one JSON object per line, with its time, for a log pipeline.
fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("KUBESKIPPY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder
            .with_ansi(std::io::stderr().is_terminal())
            .without_time()
            .try_init()
    };
}
