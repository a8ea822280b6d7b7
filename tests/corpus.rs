//! The conformance corpus: every `.skippy` file under `tests/corpus/` and under the
//! shared corpus (`../shared/corpus/`, skipped with a note when absent) is compiled
//! and compared with its first line:
//!
//! - `# expect: ok`: no error (warnings allowed; the project's own `valid/` files
//!   must be free of warnings too, so that a lint's false positive shows up);
//! - `# expect: error [CODE] line N`: at least one error, and an error on line N
//!   (with that code, when one is given);
//! - `# expect: diag [CODE] line N`: a diagnostic of any severity on line N (with
//!   that code, when one is given); with a warning code the file must otherwise
//!   be free of errors.
//!
//! Every mismatch is printed (file, expectation, diagnostics seen) before the test
//! fails. The standard policy library (`policies/`) must compile without any
//! diagnostic at all.

use kubeskippy::check::{compile, Compiled};
use kubeskippy::diagnostic::{render, Code, Severity};
use kubeskippy::safety::{ForbiddenAction, SafetyConfig};
use kubeskippy::span::LineIndex;
use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

/// Codes the corpus cannot trigger under the default safety configuration; each
/// has its own test below.
const NEEDS_CUSTOM_CONFIG: &[&str] = &["W0113"];

/// Codes only a policy object's text can draw (a file may hold any number of
/// policies, of any scope): `check::object`'s tests and the documented
/// examples cover them.
const OBJECT_ONLY: &[&str] = &["E0308", "E0309"];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Expect {
    Ok,
    Error { code: Option<String>, line: usize },
    Diag { code: Option<String>, line: usize },
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (what, code, line) = match self {
            Expect::Ok => return f.write_str("ok"),
            Expect::Error { code, line } => ("an error", code, line),
            Expect::Diag { code, line } => ("a diagnostic", code, line),
        };
        match code {
            Some(code) => write!(f, "{what} {code} on line {line}"),
            None => write!(f, "{what} on line {line}"),
        }
    }
}

/// Parses `# expect: ok`, `# expect: error [CODE] line N` or
/// `# expect: diag [CODE] line N`.
fn parse_header(first_line: &str) -> Result<Expect, String> {
    let rest = first_line
        .trim()
        .strip_prefix('#')
        .map(str::trim_start)
        .and_then(|r| r.strip_prefix("expect:"))
        .ok_or_else(|| format!("no `# expect:` header in {first_line:?}"))?;
    let words: Vec<&str> = rest.split_whitespace().collect();
    let (kind, code, line) = match words.as_slice() {
        ["ok"] => return Ok(Expect::Ok),
        [kind, "line", n] => (*kind, None, *n),
        [kind, code, "line", n] => (*kind, Some(*code), *n),
        _ => return Err(format!("malformed `# expect:` header {first_line:?}")),
    };
    let line: usize = line
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("bad line number in {first_line:?}"))?;
    if let Some(code) = code {
        if !Code::ALL.iter().any(|c| c.as_str() == code) {
            return Err(format!(
                "unknown diagnostic code `{code}` in {first_line:?}"
            ));
        }
    }
    let code = code.map(str::to_string);
    match kind {
        "error" => Ok(Expect::Error { code, line }),
        "diag" => Ok(Expect::Diag { code, line }),
        _ => Err(format!(
            "expected `ok`, `error` or `diag` in {first_line:?}"
        )),
    }
}

/// One diagnostic as the corpus sees it.
struct Seen {
    code: &'static str,
    severity: Severity,
    line: usize,
    message: String,
}

impl fmt::Display for Seen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} line {}: {}",
            self.severity, self.code, self.line, self.message
        )
    }
}

fn seen(source: &str, compiled: &Compiled) -> Vec<Seen> {
    let lines = LineIndex::new(source);
    compiled
        .diagnostics
        .iter()
        .map(|d| Seen {
            code: d.code.as_str(),
            severity: d.severity,
            line: lines.line_col(source, d.span.start).line,
            message: d.message.clone(),
        })
        .collect()
}

/// What a file's diagnostics lack compared with its header, or `None` when they match.
fn mismatch(expect: &Expect, diagnostics: &[Seen], warnings_allowed: bool) -> Option<String> {
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let found = |line: usize, code: &Option<String>, errors_only: bool| {
        diagnostics.iter().any(|d| {
            d.line == line
                && (!errors_only || d.severity == Severity::Error)
                && code.as_deref().is_none_or(|c| c == d.code)
        })
    };
    match expect {
        Expect::Ok if errors > 0 => Some(format!("expected ok, found {errors} error(s)")),
        Expect::Ok if !warnings_allowed && !diagnostics.is_empty() => {
            Some("expected ok without warnings, found warnings".to_string())
        }
        Expect::Ok => None,
        Expect::Error { .. } if errors == 0 => Some(format!("expected {expect}, found no error")),
        Expect::Error { code, line } if !found(*line, code, true) => {
            Some(format!("expected {expect}"))
        }
        Expect::Error { .. } => None,
        Expect::Diag { code, line } if !found(*line, code, false) => {
            Some(format!("expected {expect}"))
        }
        Expect::Diag {
            code: Some(code), ..
        } if code.starts_with('W') && errors > 0 => Some(format!(
            "expected {expect} in a file otherwise free of errors, found {errors} error(s)"
        )),
        Expect::Diag { .. } => None,
    }
}

fn skippy_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "skippy") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The outcome of one corpus folder: files checked, mismatches, codes named in headers.
#[derive(Default)]
struct Outcome {
    checked: usize,
    failures: Vec<String>,
    codes: BTreeSet<String>,
}

/// Checks every file under `root`. `strict_valid`: files in a `valid` folder must
/// also be free of warnings.
fn run_corpus(root: &Path, strict_valid: bool, outcome: &mut Outcome) {
    let config = SafetyConfig::default();
    for path in skippy_files(root) {
        outcome.checked += 1;
        let name = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .display()
            .to_string();
        let name = format!("{}/{name}", root.display());
        let source = match std::fs::read_to_string(&path) {
            Ok(source) => source,
            Err(e) => {
                outcome.failures.push(format!("{name}: cannot read: {e}"));
                continue;
            }
        };
        let expect = match parse_header(source.lines().next().unwrap_or("")) {
            Ok(expect) => expect,
            Err(problem) => {
                outcome.failures.push(format!("{name}: {problem}"));
                continue;
            }
        };
        let folder = path
            .parent()
            .and_then(Path::file_name)
            .and_then(|f| f.to_str())
            .unwrap_or("");
        match (folder, &expect) {
            ("valid", Expect::Error { .. } | Expect::Diag { .. }) => {
                outcome.failures.push(format!(
                    "{name}: a file in `valid/` must expect ok, not {expect}"
                ));
                continue;
            }
            ("invalid", Expect::Ok) => {
                outcome.failures.push(format!(
                    "{name}: a file in `invalid/` must expect a diagnostic, not ok"
                ));
                continue;
            }
            _ => {}
        }
        if let Expect::Error {
            code: Some(code), ..
        }
        | Expect::Diag {
            code: Some(code), ..
        } = &expect
        {
            outcome.codes.insert(code.clone());
        }
        let compiled = compile(&source, &config);
        let diagnostics = seen(&source, &compiled);
        let warnings_allowed = !(strict_valid && folder == "valid");
        if let Some(problem) = mismatch(&expect, &diagnostics, warnings_allowed) {
            let mut report = format!("{name}: {problem}; diagnostics seen:");
            if diagnostics.is_empty() {
                report.push_str(" none");
            }
            for d in &diagnostics {
                report.push_str(&format!("\n    {d}"));
            }
            outcome.failures.push(report);
        }
    }
}

fn fail_on(outcome: &Outcome, what: &str) {
    for failure in &outcome.failures {
        println!("MISMATCH {failure}");
    }
    assert!(
        outcome.failures.is_empty(),
        "{} of {} {what} files do not match their `# expect:` header (see above)",
        outcome.failures.len(),
        outcome.checked
    );
}

#[test]
fn project_corpus_matches_its_headers() {
    let root = manifest_dir().join("tests/corpus");
    let mut outcome = Outcome::default();
    run_corpus(&root, true, &mut outcome);
    assert!(
        outcome.checked >= 40,
        "expected at least 40 corpus files, found {}",
        outcome.checked
    );
    fail_on(&outcome, "corpus");
}

#[test]
fn shared_corpus_matches_its_headers() {
    let root = manifest_dir().join("../shared/corpus");
    if !root.is_dir() {
        println!("note: no shared corpus at {}; skipped", root.display());
        return;
    }
    let mut outcome = Outcome::default();
    run_corpus(&root, false, &mut outcome);
    assert!(
        outcome.checked > 0,
        "the shared corpus at {} holds no .skippy file",
        root.display()
    );
    fail_on(&outcome, "shared corpus");
}

#[test]
fn project_corpus_names_every_diagnostic_code() {
    let mut outcome = Outcome::default();
    run_corpus(&manifest_dir().join("tests/corpus"), true, &mut outcome);
    let missing: Vec<&str> = Code::ALL
        .iter()
        .map(|c| c.as_str())
        .filter(|c| {
            !outcome.codes.contains(*c)
                && !NEEDS_CUSTOM_CONFIG.contains(c)
                && !OBJECT_ONLY.contains(c)
        })
        .collect();
    assert!(
        missing.is_empty(),
        "no file under tests/corpus/invalid expects these codes: {missing:?}; add one per code"
    );
}

#[test]
fn maybe_forbidden_is_a_warning_with_a_custom_safety_configuration() {
    // With the defaults nothing a pod's owner may do is forbidden, so W0113 needs
    // a configuration that forbids an action on a workload kind.
    let source = "policy roll {\n  select pods in shop\n  cooldown 10m\n  when memory_percent > 90 for 5m then restart rolling\n}\n";
    let mut config = SafetyConfig::default();
    config.forbidden_actions.push(ForbiddenAction {
        action: "restart rolling".to_string(),
        kind: kubeskippy::catalog::Kind::StatefulSets,
    });
    let compiled = compile(source, &config);
    let codes: Vec<&str> = compiled
        .diagnostics
        .iter()
        .map(|d| d.code.as_str())
        .collect();
    assert_eq!(
        codes,
        ["W0113"],
        "{}",
        render(&compiled.diagnostics, "roll.skippy", source, false)
    );
    let lines = LineIndex::new(source);
    assert_eq!(
        lines
            .line_col(source, compiled.diagnostics[0].span.start)
            .line,
        4
    );

    let default = compile(source, &SafetyConfig::default());
    assert!(default.diagnostics.is_empty(), "{:?}", default.diagnostics);
}

#[test]
fn library_policies_compile_without_diagnostics() {
    let dir = manifest_dir().join("policies");
    let files = skippy_files(&dir);
    assert!(
        files.len() >= 7,
        "expected the standard library in {}, found {} files",
        dir.display(),
        files.len()
    );
    let config = SafetyConfig::default();
    let mut failures = Vec::new();
    for path in &files {
        let name = path.display().to_string();
        let source =
            std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {name}: {e}"));
        let compiled = compile(&source, &config);
        if !compiled.diagnostics.is_empty() {
            failures.push(format!(
                "{name}:\n{}",
                render(&compiled.diagnostics, &name, &source, false)
            ));
        } else if compiled.program.policies.is_empty() {
            failures.push(format!("{name}: no policy"));
        } else if !source.starts_with('#') {
            failures.push(format!("{name}: no header comment"));
        }
    }
    for failure in &failures {
        println!("LIBRARY {failure}");
    }
    assert!(
        failures.is_empty(),
        "{} of {} library policies are not clean (see above)",
        failures.len(),
        files.len()
    );
}

#[test]
fn headers_parse() {
    assert_eq!(parse_header("# expect: ok"), Ok(Expect::Ok));
    assert_eq!(
        parse_header("#expect:  error line 4"),
        Ok(Expect::Error {
            code: None,
            line: 4
        })
    );
    assert_eq!(
        parse_header("# expect: error E0101 line 4"),
        Ok(Expect::Error {
            code: Some("E0101".into()),
            line: 4
        })
    );
    assert_eq!(
        parse_header("# expect: diag W0102 line 7"),
        Ok(Expect::Diag {
            code: Some("W0102".into()),
            line: 7
        })
    );
    assert!(
        parse_header("# expect: error E9999 line 4").is_err(),
        "unknown code"
    );
    assert!(parse_header("# expect: error line 0").is_err());
    assert!(parse_header("# expect: fine").is_err());
    assert!(parse_header("policy x {").is_err());
}

#[test]
fn mismatches_are_detected() {
    let warning = |line| Seen {
        code: "W0104",
        severity: Severity::Warning,
        line,
        message: String::new(),
    };
    let error = |line| Seen {
        code: "E0101",
        severity: Severity::Error,
        line,
        message: String::new(),
    };
    let at = |code: Option<&str>, line| Expect::Error {
        code: code.map(Into::into),
        line,
    };
    assert!(mismatch(&Expect::Ok, &[warning(3)], true).is_none());
    assert!(mismatch(&Expect::Ok, &[warning(3)], false).is_some());
    assert!(mismatch(&Expect::Ok, &[error(3)], true).is_some());
    assert!(mismatch(&at(None, 3), &[error(3)], true).is_none());
    assert!(mismatch(&at(Some("E0101"), 3), &[error(3)], true).is_none());
    assert!(
        mismatch(&at(Some("E0102"), 3), &[error(3)], true).is_some(),
        "wrong code"
    );
    assert!(
        mismatch(&at(None, 4), &[error(3)], true).is_some(),
        "wrong line"
    );
    assert!(
        mismatch(&at(None, 3), &[warning(3)], true).is_some(),
        "a warning is not an error"
    );
    let diag = |code: &str, line| Expect::Diag {
        code: Some(code.into()),
        line,
    };
    assert!(mismatch(&diag("W0104", 3), &[warning(3)], true).is_none());
    assert!(
        mismatch(&diag("W0104", 3), &[warning(3), error(5)], true).is_some(),
        "warning file with an error"
    );
    assert!(mismatch(
        &Expect::Diag {
            code: None,
            line: 3
        },
        &[error(3)],
        true
    )
    .is_none());
}
