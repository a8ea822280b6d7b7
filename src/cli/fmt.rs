//! `kubeskippy fmt`: rewrite policy files in the canonical layout.

use super::{collect_files, read, CliError, PROBLEMS, SUCCESS};
use crate::diagnostic::render;
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "Examples:
  kubeskippy fmt policies/            rewrite every policy in the folder
  kubeskippy fmt --check policies/    list files that are not formatted (exit 1)

Formatting keeps every comment and never changes what a policy means: the
formatted file compiles to the same program. A file with a syntax error is
left as it is and its errors are shown.")]
pub struct FmtArgs {
    /// Files or folders to format; folders are searched for `*.skippy` files
    /// [default: the current folder]
    pub paths: Vec<PathBuf>,
    /// Change nothing; list the files that would change and exit 1 if any
    #[arg(long)]
    pub check: bool,
}

pub fn run(args: &FmtArgs, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let status = format_all(args, out, err);
    super::exit_status(status, err)
}

fn format_all(args: &FmtArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<u8, CliError> {
    let mut status = SUCCESS;
    let mut changed = 0usize;
    let mut failed = 0usize;
    let files = collect_files(&args.paths, super::POLICY_SUFFIX)?;
    for path in &files {
        let source = read(path)?;
        let name = path.display().to_string();
        let formatted = match crate::fmt::format(&source) {
            Ok(formatted) => formatted,
            Err(diagnostics) => {
                let _ = err.write_all(render(&diagnostics, &name, &source, false).as_bytes());
                let _ = writeln!(err, "error: {name} has syntax errors and was not formatted");
                status = PROBLEMS;
                failed += 1;
                continue;
            }
        };
        if formatted == source {
            continue;
        }
        changed += 1;
        if args.check {
            let _ = writeln!(out, "would reformat {name}");
            status = PROBLEMS;
        } else {
            std::fs::write(path, formatted).map_err(|source| CliError::Write {
                path: path.clone(),
                source,
            })?;
            let _ = writeln!(out, "formatted {name}");
        }
    }
    let verb = if args.check {
        "would change"
    } else {
        "changed"
    };
    let skipped = if failed > 0 {
        format!(", {failed} not formatted because of syntax errors")
    } else {
        String::new()
    };
    let _ = writeln!(err, "{changed} of {} files {verb}{skipped}", files.len());
    Ok(status)
}
