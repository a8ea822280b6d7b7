//! The command line: each subcommand's arguments and its `run`, which writes to
//! the given streams and returns the exit status, so tests drive it without a
//! process. Exit status: 0 success, 1 problems found, 2 usage or I/O error.

#[cfg(feature = "ai")]
pub mod ai;
#[cfg(feature = "operator")]
pub mod approve;
pub mod check;
#[cfg(feature = "operator")]
pub mod crds;
pub mod explain;
pub mod fmt;
pub mod import;
pub mod lsp;
#[cfg(feature = "operator")]
pub mod run;
pub mod simulate;
pub mod test;

use crate::safety::SafetyConfig;
use std::path::{Path, PathBuf};

/// Exit status of a run that found no problem.
pub const SUCCESS: u8 = 0;
/// Exit status of a run that found errors (or, with `--deny-warnings`, warnings).
pub const PROBLEMS: u8 = 1;
/// Exit status of a usage or I/O error.
pub const FAILURE: u8 = 2;

/// A failure of the tool itself rather than of the user's policies.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: no such file or folder")]
    Missing { path: PathBuf },
    #[error("no {what} files found")]
    NoFiles { what: &'static str },
    #[error("{path}: {source}")]
    Safety {
        path: PathBuf,
        source: crate::safety::ConfigError,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A command's exit status: its own, or, when the tool itself failed, the
/// error on stderr and [`FAILURE`].
pub fn exit_status(result: Result<u8, CliError>, err: &mut dyn std::io::Write) -> u8 {
    result.unwrap_or_else(|e| {
        let _ = writeln!(err, "error: {e}");
        FAILURE
    })
}

/// Policy files: what `check` and `fmt` look for in folders.
pub const POLICY_SUFFIX: &str = ".skippy";

/// The files named by `paths`: files as given, folders searched recursively for
/// names ending in `suffix` (`.skippy`, `.skippy-test.yaml`), in a stable
/// order. No paths means the current folder.
pub fn collect_files(paths: &[PathBuf], suffix: &str) -> Result<Vec<PathBuf>, CliError> {
    let default = [PathBuf::from(".")];
    let paths = if paths.is_empty() {
        &default[..]
    } else {
        paths
    };
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            walk(path, suffix, &mut files)?;
        } else if path.is_file() {
            files.push(path.clone());
        } else {
            return Err(CliError::Missing { path: path.clone() });
        }
    }
    Ok(files)
}

fn walk(dir: &Path, suffix: &str, files: &mut Vec<PathBuf>) -> Result<(), CliError> {
    let read = |source| CliError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(read)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(read)?;
    entries.sort();
    for path in entries {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        if name.starts_with('.') || name == "target" {
            continue;
        }
        if path.is_dir() {
            walk(&path, suffix, files)?;
        } else if name.ends_with(suffix) {
            files.push(path);
        }
    }
    Ok(())
}

pub fn read(path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|source| CliError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// The safety configuration: the file given, or the built-in defaults.
pub fn safety_config(path: Option<&Path>) -> Result<SafetyConfig, CliError> {
    let Some(path) = path else {
        return Ok(SafetyConfig::default());
    };
    SafetyConfig::from_yaml(&read(path)?).map_err(|source| CliError::Safety {
        path: path.to_path_buf(),
        source,
    })
}
