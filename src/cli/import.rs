//! `kubeskippy import`: a seed HealingPolicy manifest converted into Skippy,
//! with a located report of what could not be converted.

use super::check::{Color, Format};
use super::{safety_config, CliError, PROBLEMS, SUCCESS};
use crate::diagnostic::Severity;
use crate::import::{codes, import, Note};
use crate::span::{LineIndex, Span};
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "Examples:
  kubeskippy import healing-policy.yaml                     the policies on stdout
  kubeskippy import healing-policy.yaml --out policies/healing.skippy
  kubeskippy import --format json healing-policy.yaml > healing.skippy
  kubeskippy import --safety safety.yaml healing-policy.yaml   checked against your cluster's rules

Reads HealingPolicy manifests in the older structured form (`kubeskippy.io/v1alpha1`
with `selector`, `triggers`, `actions`, `safetyRules` and `mode`), one policy per
document, and writes the Skippy policies they become; each converted policy passes
`kubeskippy check`. Every field or value that could not be converted as it was is
reported on stderr at its line and column in the YAML, with a suggestion where one
helps. docs/import.md has the table of what each field becomes.

Exit status: 0 everything converted, nothing lost; 1 something was lost, guessed
or left out (see the report), or the file is not YAML or not UTF-8; 2 usage or
I/O error.")]
pub struct ImportArgs {
    /// The manifest to convert (YAML, one HealingPolicy per document)
    pub file: PathBuf,
    /// Write the policies to this file instead of stdout
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// A safety configuration (YAML) overriding the built-in defaults: the
    /// policies written pass `kubeskippy check --safety FILE`
    #[arg(long, value_name = "FILE")]
    pub safety: Option<PathBuf>,
    /// Format of the report on stderr
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Colour the human report: auto (on a terminal), always or never
    #[arg(long, value_name = "WHEN", default_value = "auto")]
    pub color: Color,
}

/// Runs `import`; `tty` says whether `err` is a terminal (for `--color auto`).
pub fn run(args: &ImportArgs, out: &mut dyn Write, err: &mut dyn Write, tty: bool) -> u8 {
    let status = import_file(args, out, err, tty);
    super::exit_status(status, err)
}

fn import_file(
    args: &ImportArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
    tty: bool,
) -> Result<u8, CliError> {
    let config = safety_config(args.safety.as_deref())?;
    let bytes = std::fs::read(&args.file).map_err(|source| CliError::Read {
        path: args.file.clone(),
        source,
    })?;
    let name = args.file.display().to_string();
    let (source, imported) = match std::str::from_utf8(&bytes) {
        Ok(text) => (text.to_string(), import(text, &config)),
        Err(e) => {
            // Converting a guess at the text could put `�` into names and
            // strings: nothing is converted.
            let source = String::from_utf8_lossy(&bytes).into_owned();
            let at = e.valid_up_to();
            let note = Note {
                code: codes::NOT_YAML,
                severity: Severity::Error,
                span: Span::new(at, at),
                message: format!(
                    "the file is not valid UTF-8: byte 0x{:02X} at offset {at}",
                    bytes.get(at).copied().unwrap_or(0)
                ),
                help: Some("save it as UTF-8; nothing was converted".to_string()),
            };
            let imported = crate::import::Imported {
                skippy: String::new(),
                policies: Vec::new(),
                notes: vec![note],
            };
            (source, imported)
        }
    };
    if !imported.skippy.is_empty() {
        match &args.out {
            Some(path) => {
                std::fs::write(path, &imported.skippy).map_err(|source| CliError::Write {
                    path: path.clone(),
                    source,
                })?
            }
            None => out
                .write_all(imported.skippy.as_bytes())
                .map_err(|source| CliError::Write {
                    path: PathBuf::from("<stdout>"),
                    source,
                })?,
        }
    }
    let color = match args.color {
        Color::Auto => tty,
        Color::Always => true,
        Color::Never => false,
    };
    let report = match args.format {
        Format::Human => human(&imported.notes, &name, &source, color),
        Format::Json => json(&imported.notes, &name, &source),
    };
    let _ = err.write_all(report.as_bytes());
    if args.format == Format::Human {
        let count = |s| imported.notes.iter().filter(|n| n.severity == s).count();
        let (errors, warnings) = (count(Severity::Error), count(Severity::Warning));
        let policies = imported.policies.len();
        let _ = writeln!(
            err,
            "imported {policies} {} from {name}: {errors} {}, {warnings} {}",
            if policies == 1 { "policy" } else { "policies" },
            if errors == 1 { "error" } else { "errors" },
            if warnings == 1 { "warning" } else { "warnings" },
        );
    }
    Ok(if imported.notes.is_empty() {
        SUCCESS
    } else {
        PROBLEMS
    })
}

/// One JSON object per note and line, in `check --format json`'s shape.
pub fn json(notes: &[Note], name: &str, source: &str) -> String {
    let lines = LineIndex::new(source);
    let mut text = String::new();
    for note in notes {
        let start = lines.line_col(source, note.span.start);
        let end = lines.line_col(source, note.span.end);
        let object = JsonNote {
            file: name,
            line: start.line,
            column: start.column,
            end_line: end.line,
            end_column: end.column,
            code: note.code,
            severity: note.severity,
            message: &note.message,
            help: note.help.as_deref(),
        };
        // Serializing a struct of strings and numbers cannot fail.
        text.push_str(&serde_json::to_string(&object).unwrap_or_default());
        text.push('\n');
    }
    text
}

/// A note as `check --format json` writes a diagnostic, fields in its order.
#[derive(serde::Serialize)]
struct JsonNote<'a> {
    file: &'a str,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    code: &'a str,
    severity: Severity,
    message: &'a str,
    help: Option<&'a str>,
}

/// Lines longer than this are not drawn (miette's label widths overflow on
/// very long lines): their notes are printed as `file:line:column`.
const LONG_LINE: usize = 500;

/// Rendered like `check`'s diagnostics, with the YAML and a help line.
pub fn human(notes: &[Note], name: &str, source: &str, color: bool) -> String {
    let theme = if color {
        miette::GraphicalTheme::unicode()
    } else {
        miette::GraphicalTheme::unicode_nocolor()
    };
    let handler = miette::GraphicalReportHandler::new_themed(theme).with_width(100);
    let lines = LineIndex::new(source);
    let mut text = String::new();
    for note in notes {
        let line_start = source[..note.span.start.min(source.len())]
            .rfind('\n')
            .map_or(0, |i| i + 1);
        let line_len = source[line_start..]
            .find('\n')
            .unwrap_or(source.len() - line_start);
        if line_len > LONG_LINE || !source.is_char_boundary(note.span.start.min(source.len())) {
            let at = lines.line_col(source, note.span.start);
            text.push_str(&format!(
                "{}[{}]: {name}:{}:{}: {}\n",
                note.severity, note.code, at.line, at.column, note.message
            ));
            if let Some(help) = &note.help {
                text.push_str(&format!("  help: {help}\n"));
            }
            text.push('\n');
            continue;
        }
        let report = NoteReport {
            note,
            source: miette::NamedSource::new(name, source.to_string()),
        };
        let _ = handler.render_report(&mut text, &report);
        text.push('\n');
    }
    text
}

#[derive(Debug)]
struct NoteReport<'a> {
    note: &'a Note,
    source: miette::NamedSource<String>,
}

impl std::fmt::Display for NoteReport<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.note.message)
    }
}

impl std::error::Error for NoteReport<'_> {}

impl miette::Diagnostic for NoteReport<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        Some(Box::new(self.note.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.note.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        self.note
            .help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn std::fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        let span = miette::LabeledSpan::new_primary_with_span(None, self.note.span);
        Some(Box::new(std::iter::once(span)))
    }
}
