//! `kubeskippy check`: compile policy files and report every diagnostic.

use super::{collect_files, read, safety_config, CliError, PROBLEMS, SUCCESS};
use crate::check::compile;
use crate::diagnostic::{render, Severity};
use crate::span::LineIndex;
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Rendered like rustc, with the source and a help line.
    #[default]
    Human,
    /// One JSON object per diagnostic and line.
    Json,
}

#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "Examples:
  kubeskippy check policies/
  kubeskippy check --format json my-policy.skippy
  kubeskippy check --safety safety.yaml --deny-warnings policies/

Exit status: 0 no errors (warnings allowed), 1 errors found, 2 usage or I/O error.")]
pub struct CheckArgs {
    /// Files or folders to check; folders are searched for `*.skippy` files
    /// [default: the current folder]
    pub paths: Vec<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// A safety configuration (YAML) overriding the built-in defaults
    #[arg(long, value_name = "FILE")]
    pub safety: Option<PathBuf>,
    /// Treat warnings as errors (exit 1 when there are any)
    #[arg(long)]
    pub deny_warnings: bool,
    /// Colour the human output: auto (on a terminal), always or never
    #[arg(long, value_name = "WHEN", default_value = "auto")]
    pub color: Color,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

/// Runs `check`; `tty` says whether `out` is a terminal (for `--color auto`).
pub fn run(args: &CheckArgs, out: &mut dyn Write, err: &mut dyn Write, tty: bool) -> u8 {
    let status = check_all(args, out, err, tty);
    super::exit_status(status, err)
}

fn check_all(
    args: &CheckArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
    tty: bool,
) -> Result<u8, CliError> {
    let config = safety_config(args.safety.as_deref())?;
    let files = collect_files(&args.paths, super::POLICY_SUFFIX)?;
    tracing::debug!(files = files.len(), safety = ?args.safety, "checking");
    let color = match args.color {
        Color::Auto => tty,
        Color::Always => true,
        Color::Never => false,
    };
    let (mut errors, mut warnings) = (0usize, 0usize);
    for path in &files {
        let source = read(path)?;
        let started = std::time::Instant::now();
        let compiled = compile(&source, &config);
        let name = path.display().to_string();
        tracing::debug!(
            file = %name,
            bytes = source.len(),
            policies = compiled.program.policies.len(),
            diagnostics = compiled.diagnostics.len(),
            elapsed_us = started.elapsed().as_micros() as u64,
            "checked"
        );
        for d in &compiled.diagnostics {
            match d.severity {
                Severity::Error => errors += 1,
                Severity::Warning => warnings += 1,
            }
        }
        let written = match args.format {
            Format::Human if compiled.diagnostics.is_empty() => Ok(()),
            Format::Human => {
                out.write_all(render(&compiled.diagnostics, &name, &source, color).as_bytes())
            }
            Format::Json => {
                let lines = LineIndex::new(&source);
                compiled.diagnostics.iter().try_for_each(|d| {
                    let json = serde_json::to_string(&d.to_json(&name, &source, &lines))
                        .map_err(std::io::Error::other)?;
                    writeln!(out, "{json}")
                })
            }
        };
        written.map_err(|source| CliError::Write {
            path: PathBuf::from("<stdout>"),
            source,
        })?;
    }
    let files_word = if files.len() == 1 { "file" } else { "files" };
    let _ = writeln!(
        err,
        "checked {} {files_word}: {} {}, {} {}",
        files.len(),
        errors,
        if errors == 1 { "error" } else { "errors" },
        warnings,
        if warnings == 1 { "warning" } else { "warnings" },
    );
    let failed = errors > 0 || (args.deny_warnings && warnings > 0);
    Ok(if failed { PROBLEMS } else { SUCCESS })
}
