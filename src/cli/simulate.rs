//! `kubeskippy simulate`: run policies against a scenario on a virtual clock
//! and report the timeline of decisions and a summary of what healed.

use super::{read, safety_config, CliError, FAILURE, PROBLEMS, SUCCESS};
use crate::check::compile;
use crate::diagnostic::render;
use crate::ir::{Program, Seconds};
use crate::sim::scenario;
use crate::sim::simulate::{self, Options, Report};
use crate::sim::unit_test::parse_duration;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How `simulate` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// A timeline of decisions and a summary table.
    #[default]
    Human,
    /// The whole report (timeline, incidents, summary) as one JSON object.
    Json,
}

/// The arguments of `kubeskippy simulate`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "Example:
  kubeskippy simulate examples/scenarios/demo.yaml
  kubeskippy simulate --until 6h --seed 7 --format json examples/scenarios/demo.yaml
  kubeskippy simulate --explain demo-memory-leak --target cart examples/scenarios/demo.yaml

A scenario (YAML) names its policies, nodes and workloads with replicas, and the
faults to inject: memory_leak, cpu_sine, crashloop, chaos (random failures,
seeded) and degrade. Each step the engine decides exactly as the operator would;
`mode auto` policies act on the simulated cluster (a restart resets a pod's
memory, a scale divides the load, a raised limit lowers memory_percent),
`dryrun`, `approve` and `monitor` only record, and `ask ai` cases are recorded
as handed to the AI. The same scenario and seed always give the same output.

Exit status: 0 ran, 1 a policy has errors, 2 usage, I/O or scenario error.")]
pub struct SimulateArgs {
    /// The scenario file
    pub scenario: PathBuf,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// How long to simulate (`30m`, `24h`) [default: the scenario's duration]
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub until: Option<Seconds>,
    /// Seed for the random failures [default: the scenario's seed]
    #[arg(long)]
    pub seed: Option<u64>,
    /// A safety configuration (YAML) overriding the built-in defaults
    #[arg(long, value_name = "FILE")]
    pub safety: Option<PathBuf>,
    /// Recorded AI answers (YAML) to replay for the cases handed to the AI,
    /// validated as live ones [default: the timeline stops at the hand-over]
    #[arg(long, value_name = "FILE")]
    pub ai_answers: Option<PathBuf>,
    /// Print where this rule stood at every step: false (the values seen
    /// against the thresholds), unknown (what had no data), true but held,
    /// blocked (until when), outranked or fired. The rule as `POLICY:N` (N
    /// from 1, as `explain` numbers rules), `POLICY` for a policy of one
    /// rule, or `N` when there is one policy
    #[arg(long, value_name = "RULE")]
    pub explain: Option<String>,
    /// With `--explain`, only this target: its name (`cart-1`) or its
    /// whole id (`pods/demo/cart-1`)
    #[arg(long, value_name = "NAME", requires = "explain")]
    pub target: Option<String>,
}

fn duration(text: &str) -> Result<Seconds, String> {
    parse_duration(text)
}

/// Runs `simulate`. `progress_bar` is whether stderr is a terminal.
pub fn run(
    args: &SimulateArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
    progress_bar: bool,
) -> u8 {
    let status = simulate(args, out, err, progress_bar);
    super::exit_status(status, err)
}

fn simulate(
    args: &SimulateArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
    progress_bar: bool,
) -> Result<u8, CliError> {
    let config = safety_config(args.safety.as_deref())?;
    let name = args.scenario.display().to_string();
    let text = read(&args.scenario)?;
    let scenario = match scenario::parse(&text) {
        Ok(s) => s,
        Err(e) => {
            // A located error reads `file:line:column: message`.
            let sep = if e.location.is_some() { ":" } else { ": " };
            let _ = writeln!(err, "error: {name}{sep}{e}");
            return Ok(FAILURE);
        }
    };
    if let Some(until) = args.until {
        if let Err(why) = scenario::check_size(&scenario, until) {
            let _ = writeln!(err, "error: --until {until}: {why}");
            return Ok(FAILURE);
        }
    }
    let folder = args.scenario.parent().unwrap_or(Path::new(""));
    let paths: Vec<PathBuf> = scenario.policies.iter().map(|p| folder.join(p)).collect();
    if paths.is_empty() {
        let _ = writeln!(err, "error: {name}: the scenario names no `policies`");
        return Ok(FAILURE);
    }
    let files = super::collect_files(&paths, super::POLICY_SUFFIX)?;
    let mut programs: Vec<Program> = Vec::new();
    let mut broken = false;
    for path in &files {
        let source = read(path)?;
        let compiled = compile(&source, &config);
        if compiled.has_errors() {
            broken = true;
            let shown = path.display().to_string();
            let _ = err.write_all(render(&compiled.diagnostics, &shown, &source, false).as_bytes());
        } else {
            unmodelled(&compiled.program, &scenario, path, err);
            programs.push(compiled.program);
        }
    }
    if broken {
        let _ = writeln!(
            err,
            "error: a policy has errors; fix it (see `kubeskippy check`) and run again"
        );
        return Ok(PROBLEMS);
    }
    let ai = match &args.ai_answers {
        Some(path) => match crate::ai::replay::parse(&read(path)?) {
            Ok(recording) => Some(std::sync::Arc::new(crate::ai::replay::ReplayAnalyzer::new(
                recording,
            ))),
            Err(e) => {
                let _ = writeln!(err, "error: {}: {e}", path.display());
                return Ok(FAILURE);
            }
        },
        None => None,
    };
    let explain = match &args.explain {
        Some(spec) => match crate::sim::explain::resolve(&programs, spec) {
            Ok(rule) => Some((rule, args.target.clone())),
            Err(why) => {
                let _ = writeln!(err, "error: --explain {spec}: {why}");
                return Ok(FAILURE);
            }
        },
        None => None,
    };
    let options = Options {
        until: args.until,
        seed: args.seed,
        ai,
        explain,
    };
    let report = with_progress(progress_bar, |progress| {
        simulate::run(&scenario, &programs, &config, &options, progress)
    });
    write_report(&report, args.format, out)?;
    Ok(SUCCESS)
}

/// Says of each policy of `program` whose kind the world does not simulate
/// and `scenario` scripts no object of that it never fires here, rather than
/// leave a run without its decisions to look like a policy that found
/// nothing wrong.
fn unmodelled(program: &Program, scenario: &scenario::Scenario, path: &Path, err: &mut dyn Write) {
    for policy in &program.policies {
        let kind = policy.selector.kind;
        let scripted = scenario.objects.iter().any(|o| o.target.kind == kind);
        if scenario::SIMULATED.contains(&kind) || scripted {
            continue;
        }
        let _ = writeln!(
            err,
            "note: {}: policy `{}` selects {kind}, which the simulated world does not model and the scenario scripts none of: it never fires here (script some under `objects`, or test it with `kubeskippy test`)",
            path.display(),
            policy.name,
        );
    }
}

/// Runs `f` with a progress callback that shows a bar on stderr once the
/// run has taken a second: a short run prints nothing extra.
fn with_progress(enabled: bool, f: impl FnOnce(&mut dyn FnMut(u64, u64)) -> Report) -> Report {
    let started = Instant::now();
    let mut bar: Option<indicatif::ProgressBar> = None;
    let report = f(&mut |step, steps| {
        if !enabled || started.elapsed() < Duration::from_secs(1) {
            return;
        }
        let bar = bar.get_or_insert_with(|| {
            let bar = indicatif::ProgressBar::new(steps);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "simulating {bar:40} {pos}/{len} steps, {eta} left",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        });
        bar.set_position(step);
    });
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    report
}

fn write_report(report: &Report, format: Format, out: &mut dyn Write) -> Result<(), CliError> {
    let write = |source| CliError::Write {
        path: PathBuf::from("<stdout>"),
        source,
    };
    match format {
        Format::Human => out
            .write_all(simulate::render(report).as_bytes())
            .map_err(write),
        Format::Json => {
            let json = serde_json::to_string_pretty(report).unwrap_or_else(|e| {
                format!("{{\"error\": \"the report could not be serialized: {e}\"}}")
            });
            writeln!(out, "{json}").map_err(write)
        }
    }
}
