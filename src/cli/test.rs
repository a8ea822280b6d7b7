//! `kubeskippy test`: run policy unit tests (`*.skippy-test.yaml`) and report
//! each case like `cargo test`.

use super::{read, safety_config, CliError, FAILURE, PROBLEMS, SUCCESS};
use crate::sim::unit_test::{self, Outcome, EXTENSION};
use std::io::Write;
use std::path::PathBuf;

/// How `test` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Like `cargo test`: a line per case, then the failures' diffs.
    #[default]
    Human,
    /// One JSON object per case and line, then one with the totals.
    Json,
}

/// The arguments of `kubeskippy test`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "Example:
  kubeskippy test policies/
  kubeskippy test --format json policies/crashloop.skippy-test.yaml

A test file (policies/crashloop.skippy-test.yaml) names its policy (default:
its own name without `-test.yaml`), an evaluation interval, and cases: targets
with input series in a compact notation ('50+5x10', '0 1 _ 3', 'stale'),
status and event timelines, and the decisions expected at given times
(`decisions: []` for none). The engine runs on a virtual clock exactly as the
operator would; each case prints ok or FAILED with a diff of expected and
actual decisions, and the last line reads `N passed, M failed`.

Exit status: 0 all passed, 1 a case failed, 2 usage, I/O or format error.")]
pub struct TestArgs {
    /// Test files or folders; folders are searched for `*.skippy-test.yaml`
    /// files [default: the current folder]
    pub paths: Vec<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// A safety configuration (YAML) overriding the built-in defaults
    #[arg(long, value_name = "FILE")]
    pub safety: Option<PathBuf>,
}

/// Runs `test`.
pub fn run(args: &TestArgs, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let status = run_all(args, out, err);
    super::exit_status(status, err)
}

fn run_all(args: &TestArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<u8, CliError> {
    let config = safety_config(args.safety.as_deref())?;
    let files = super::collect_files(&args.paths, EXTENSION)?;
    if files.is_empty() {
        let _ = writeln!(err, "error: no `*.skippy-test.yaml` files found");
        return Ok(FAILURE);
    }
    let write = |source| CliError::Write {
        path: PathBuf::from("<stdout>"),
        source,
    };
    let (mut passed, mut failed, mut broken) = (0usize, 0usize, 0usize);
    let mut failures: Vec<(String, String)> = Vec::new();
    for path in &files {
        let name = path.display().to_string();
        let text = match read(path) {
            Ok(text) => text,
            Err(e) => {
                let _ = writeln!(err, "error: {e}");
                broken += 1;
                continue;
            }
        };
        let file = match unit_test::parse(&text) {
            Ok(file) => file,
            Err(e) => {
                let sep = if e.location.is_some() { ":" } else { ": " };
                let _ = writeln!(err, "error: {name}{sep}{e}");
                broken += 1;
                continue;
            }
        };
        let policy = unit_test::policy_path(path, &file);
        let source = match read(&policy) {
            Ok(source) => source,
            Err(e) => {
                let _ = writeln!(err, "error: {name}: {e}");
                broken += 1;
                continue;
            }
        };
        let reports = unit_test::run(&file, &source, &policy.display().to_string(), &config);
        for report in reports {
            let ok = report.outcome == Outcome::Passed;
            if ok {
                passed += 1;
            } else {
                failed += 1;
            }
            match args.format {
                Format::Human => {
                    writeln!(
                        out,
                        "test {name} :: {} ... {}",
                        report.name,
                        if ok { "ok" } else { "FAILED" }
                    )
                    .map_err(write)?;
                    if !ok {
                        failures.push((
                            format!("{name} :: {}", report.name),
                            unit_test::render_failure(&report.outcome),
                        ));
                    }
                }
                Format::Json => {
                    let (mismatches, policy_errors) = match &report.outcome {
                        Outcome::Passed => (&[][..], None),
                        Outcome::Failed(m) => (m.as_slice(), None),
                        Outcome::PolicyErrors(text) | Outcome::Invalid(text) => {
                            (&[][..], Some(text.as_str()))
                        }
                    };
                    let line = serde_json::json!({
                        "file": name,
                        "name": report.name,
                        "passed": ok,
                        "mismatches": mismatches,
                        "policy_errors": policy_errors,
                    });
                    writeln!(out, "{line}").map_err(write)?;
                }
            }
        }
    }
    match args.format {
        Format::Human => {
            if !failures.is_empty() {
                writeln!(out, "\nfailures:").map_err(write)?;
                for (title, diff) in &failures {
                    write!(out, "\n---- {title} ----\n{diff}").map_err(write)?;
                }
            }
            writeln!(out, "\n{passed} passed, {failed} failed").map_err(write)?;
        }
        Format::Json => {
            let line = serde_json::json!({"passed": passed, "failed": failed, "errors": broken});
            writeln!(out, "{line}").map_err(write)?;
        }
    }
    Ok(if broken > 0 {
        FAILURE
    } else if failed > 0 {
        PROBLEMS
    } else {
        SUCCESS
    })
}
