//! `kubeskippy check`: compile policy files and report every diagnostic.

use super::{collect_files, safety_config, CliError, FAILURE, PROBLEMS, SUCCESS};
use crate::check::compile;
use crate::diagnostic::{render, Severity};
use crate::span::LineIndex;
use std::io::Write;
use std::path::{Path, PathBuf};

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
  kubeskippy check deploy/healing-policies.yaml     HealingPolicy manifests, as applied

Every file is checked, whatever the others hold; a file that is not UTF-8 is
reported where its first bad byte is, and checked with each bad byte read as `�`.

Exit status: 0 no errors (warnings allowed), 1 errors found, 2 usage or I/O error
(no `*.skippy` file or policy manifest found, or a file that could not be read).")]
pub struct CheckArgs {
    /// Files or folders to check: `*.skippy` files, and manifests (`*.yaml`,
    /// `*.yml`) whose HealingPolicy and ClusterHealingPolicy documents are
    /// checked as the operator compiles them, each diagnostic at its place in
    /// the YAML; folders are searched for both [default: the current folder]
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
    let mut files = collect_files(&args.paths, super::POLICY_SUFFIX)?;
    files.extend(manifests_in(&args.paths)?);
    if files.is_empty() {
        return Err(CliError::NoFiles {
            what: "`*.skippy` or HealingPolicy manifest",
        });
    }
    tracing::debug!(files = files.len(), safety = ?args.safety, "checking");
    let color = match args.color {
        Color::Auto => tty,
        Color::Always => true,
        Color::Never => false,
    };
    let (mut errors, mut warnings, mut unreadable) = (0usize, 0usize, 0usize);
    let write_error = |source| CliError::Write {
        path: PathBuf::from("<stdout>"),
        source,
    };
    for path in &files {
        let name = path.display().to_string();
        // A file that cannot be read is reported and skipped: it must not
        // hide the files after it.
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) => {
                unreadable += 1;
                let problem = FileProblem::unreadable(&name, &e);
                problem.write(args.format, out).map_err(write_error)?;
                continue;
            }
        };
        let source = String::from_utf8_lossy(&bytes);
        if let Err(e) = std::str::from_utf8(&bytes) {
            errors += 1;
            let problem = FileProblem::not_utf8(&name, &bytes, &source, &e);
            problem.write(args.format, out).map_err(write_error)?;
        }
        let started = std::time::Instant::now();
        let compiled = if is_manifest(path) {
            compile_manifest(&source, &config)
        } else {
            compile(&source, &config)
        };
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
        written.map_err(write_error)?;
    }
    let checked = files.len() - unreadable;
    let files_word = if checked == 1 { "file" } else { "files" };
    let unread = match unreadable {
        0 => String::new(),
        1 => "; 1 file could not be read".to_string(),
        n => format!("; {n} files could not be read"),
    };
    let _ = writeln!(
        err,
        "checked {checked} {files_word}: {} {}, {} {}{unread}",
        errors,
        if errors == 1 { "error" } else { "errors" },
        warnings,
        if warnings == 1 { "warning" } else { "warnings" },
    );
    if unreadable > 0 {
        return Ok(FAILURE);
    }
    let failed = errors > 0 || (args.deny_warnings && warnings > 0);
    Ok(if failed { PROBLEMS } else { SUCCESS })
}

fn is_manifest(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    )
}

/// The manifests under the folders of `paths` that hold a HealingPolicy or
/// ClusterHealingPolicy (other YAML there, such as policy tests and
/// scenarios, is not policy text). A manifest named on the command line is
/// checked whatever it holds.
fn manifests_in(paths: &[PathBuf]) -> Result<Vec<PathBuf>, CliError> {
    let folders: Vec<PathBuf> = if paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        paths.iter().filter(|p| p.is_dir()).cloned().collect()
    };
    let mut found = Vec::new();
    if folders.is_empty() {
        return Ok(found);
    }
    for suffix in [".yaml", ".yml"] {
        for path in collect_files(&folders, suffix)? {
            let holds_policy = std::fs::read_to_string(&path)
                .is_ok_and(|text| !crate::ide::embedded::policies(&text).is_empty());
            if holds_policy {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Every policy embedded in a manifest, compiled as the operator compiles
/// its object, with the diagnostics placed in the YAML file.
fn compile_manifest(yaml: &str, config: &crate::safety::SafetyConfig) -> crate::check::Compiled {
    let mut all = crate::check::compile("", config);
    all.diagnostics.clear();
    for embedded in crate::ide::embedded::policies(yaml) {
        let compiled = embedded.compile(config);
        all.diagnostics.extend(
            compiled
                .diagnostics
                .iter()
                .map(|d| embedded.diagnostic_to_yaml(d)),
        );
        all.program.policies.extend(compiled.program.policies);
    }
    all
}

/// A problem with a file itself rather than with the policies it holds: it
/// cannot be read, or is not UTF-8. It has no diagnostic code (no text can
/// draw it) and is reported as diagnostics are, in both formats.
#[derive(Debug, serde::Serialize)]
struct FileProblem<'a> {
    file: &'a str,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    code: Option<&'static str>,
    severity: Severity,
    message: String,
    help: Option<&'static str>,
}

impl<'a> FileProblem<'a> {
    fn unreadable(file: &'a str, error: &std::io::Error) -> FileProblem<'a> {
        FileProblem {
            file,
            line: 1,
            column: 1,
            end_line: 1,
            end_column: 1,
            code: None,
            severity: Severity::Error,
            message: format!("cannot read the file: {error}"),
            help: None,
        }
    }

    /// Located at the first bad byte; `source` is the text decoded with
    /// each bad sequence as U+FFFD, which is the same up to it.
    fn not_utf8(
        file: &'a str,
        bytes: &[u8],
        source: &str,
        error: &std::str::Utf8Error,
    ) -> FileProblem<'a> {
        let at = error.valid_up_to();
        let lines = LineIndex::new(source);
        let start = lines.line_col(source, at);
        let bad = error.error_len().unwrap_or(bytes.len() - at);
        let shown: Vec<String> = bytes[at..at + bad]
            .iter()
            .map(|b| format!("0x{b:02X}"))
            .collect();
        FileProblem {
            file,
            line: start.line,
            column: start.column,
            end_line: start.line,
            end_column: start.column + 1,
            code: None,
            severity: Severity::Error,
            message: format!(
                "the file is not valid UTF-8: byte {} at offset {at}",
                shown.join(" ")
            ),
            help: Some("save it as UTF-8; the rest of it was checked with each bad byte read as `\u{FFFD}`"),
        }
    }

    fn write(&self, format: Format, out: &mut dyn Write) -> std::io::Result<()> {
        match format {
            Format::Json => {
                let json = serde_json::to_string(self).map_err(std::io::Error::other)?;
                writeln!(out, "{json}")
            }
            Format::Human => {
                let at = format!("{}:{}:{}", self.file, self.line, self.column);
                writeln!(out, "error: {at}: {}", self.message)?;
                if let Some(help) = self.help {
                    writeln!(out, "  help: {help}")?;
                }
                writeln!(out)
            }
        }
    }
}
