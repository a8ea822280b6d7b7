//! Diagnostics: what the parser and the checker tell a user, with a stable code,
//! a severity, a primary span, secondary labels, a help line and, where the fix is
//! mechanical, a replacement the editor can apply.
//!
//! The table of codes below is the only list of codes: `docs/language.md` documents
//! each (a test holds the two equal) and snapshot tests render each.

use crate::span::{LineIndex, Span};
use serde::Serialize;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

macro_rules! codes {
    ($($variant:ident = ($code:literal, $severity:ident, $title:literal),)*) => {
        /// Every diagnostic code. The code string never changes once released.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $($variant,)*
        }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code,)* }
            }

            pub fn severity(self) -> Severity {
                match self { $(Code::$variant => Severity::$severity,)* }
            }

            /// A few words naming the problem, for docs and listings.
            pub fn title(self) -> &'static str {
                match self { $(Code::$variant => $title,)* }
            }
        }
    };
}

codes! {
    // Syntax.
    Syntax = ("E0001", Error, "syntax error"),
    UnterminatedString = ("E0002", Error, "unterminated string"),
    InvalidName = ("E0003", Error, "invalid name"),
    // Names.
    UnknownMetric = ("E0101", Error, "unknown metric"),
    UnknownStatus = ("E0102", Error, "unknown status reason"),
    UnknownAction = ("E0103", Error, "unknown action"),
    UndefinedPatch = ("E0104", Error, "undefined patch"),
    DuplicateName = ("E0105", Error, "duplicate name"),
    UnknownFunction = ("E0106", Error, "unknown window function"),
    UnknownKind = ("E0107", Error, "unknown kind"),
    UnknownMode = ("E0108", Error, "unknown mode"),
    UnknownUnit = ("E0109", Error, "unknown unit"),
    UnknownPatchType = ("E0110", Error, "unknown patch type"),
    UnknownResource = ("E0111", Error, "unknown resource"),
    // Types and units.
    UnitMismatch = ("E0201", Error, "unit mismatch"),
    ExpectedDuration = ("E0202", Error, "expected a duration"),
    OutOfRange = ("E0203", Error, "value out of range"),
    InvalidOperator = ("E0204", Error, "operator not valid for this type"),
    InvalidFunction = ("E0205", Error, "invalid use of a window function"),
    MetricNotForKind = ("E0206", Error, "metric does not apply to this kind"),
    StatusNotForKind = ("E0207", Error, "status reason does not apply to this kind"),
    ExpectedWholeNumber = ("E0208", Error, "expected a whole number"),
    IncompatibleUnits = ("E0209", Error, "operands of incompatible units"),
    NoMetric = ("E0210", Error, "comparison without a metric"),
    // Policy structure.
    MissingSelect = ("E0301", Error, "policy without `select`"),
    RepeatedStatement = ("E0302", Error, "statement given twice"),
    NoRules = ("E0303", Error, "policy without rules"),
    ActionNotForKind = ("E0304", Error, "action does not apply to this kind"),
    InvalidAction = ("E0305", Error, "invalid action"),
    InvalidLabel = ("E0306", Error, "invalid label selector"),
    NamespaceOnClusterKind = ("E0307", Error, "namespaces given for a cluster-scoped kind"),
    OnePolicyPerObject = ("E0308", Error, "a policy object holds exactly one policy"),
    OutsideObjectScope = ("E0309", Error, "selects outside the policy object's scope"),
    // Safety.
    ProtectedNamespace = ("E0401", Error, "protected namespace"),
    ForbiddenAction = ("E0402", Error, "forbidden by the safety configuration"),
    ForbiddenPatchField = ("E0403", Error, "patch touches a forbidden field"),
    ProtectedLabel = ("E0404", Error, "selects protected resources"),
    // Embedded languages.
    InvalidPromql = ("E0501", Error, "invalid PromQL"),
    UnknownPlaceholder = ("E0502", Error, "unknown placeholder in a PromQL template"),
    InvalidPatchJson = ("E0503", Error, "invalid patch JSON"),
    PlaceholderNotForKind = ("E0504", Error, "placeholder does not fit the selected kind"),
    JoinLabelMissing = ("E0505", Error, "query result lacks the label its policy joins on"),
    // Lints.
    ShadowedRule = ("W0101", Warning, "rule shadowed by an identical condition"),
    Flapping = ("W0102", Warning, "opposite actions without a gap between thresholds"),
    ForShorterThanInterval = ("W0103", Warning, "`for` shorter than the evaluation interval"),
    NoCooldown = ("W0104", Warning, "disruptive action without a cooldown"),
    UnusedMetric = ("W0105", Warning, "unused metric"),
    UnusedPatch = ("W0106", Warning, "unused patch"),
    UnboundedBudget = ("W0107", Warning, "unbounded disruption budget"),
    ApprovalInAutoMode = ("W0108", Warning, "action needs approval although the mode is `auto`"),
    SuspiciousPercent = ("W0109", Warning, "percent threshold that looks like a ratio"),
    ExceedsSafetyBound = ("W0110", Warning, "bound exceeds the safety configuration"),
    UnknownEvent = ("W0111", Warning, "unknown event reason"),
    UnboundedGrowth = ("W0112", Warning, "resource limit can grow without bound"),
    MaybeForbidden = ("W0113", Warning, "may be forbidden at run time"),
    RatioAboveOne = ("W0114", Warning, "ratio threshold above 1"),
    ScaleDownWithoutFloor = ("W0115", Warning, "scale down without a floor"),
    OutsideRange = ("W0116", Warning, "comparison outside the metric's range"),
    EmptyFile = ("W0117", Warning, "empty file"),
    Starving = ("W0118", Warning, "rules that can starve each other"),
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A replacement that fixes the problem: the editor's quick fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    pub span: Span,
    pub replacement: String,
}

/// One problem found in one source text.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    pub span: Span,
    /// Text under the primary span.
    pub label: Option<String>,
    /// Other places that explain the problem (the earlier declaration, …).
    pub related: Vec<(Span, String)>,
    pub help: Option<String>,
    pub suggestion: Option<Suggestion>,
}

impl Diagnostic {
    pub fn new(code: Code, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            severity: code.severity(),
            message: message.into(),
            span,
            label: None,
            related: Vec::new(),
            help: None,
            suggestion: None,
        }
    }

    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    pub fn related(mut self, span: Span, label: impl Into<String>) -> Self {
        self.related.push((span, label.into()));
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn maybe_help(mut self, help: Option<String>) -> Self {
        if help.is_some() {
            self.help = help;
        }
        self
    }

    /// A "did you mean" fix: replaces the primary span with `replacement`.
    pub fn suggest(mut self, replacement: impl Into<String>) -> Self {
        let replacement = replacement.into();
        self.help = Some(format!("did you mean `{replacement}`?"));
        self.suggestion = Some(Suggestion {
            span: self.span,
            replacement,
        });
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// The machine-readable form of a diagnostic (`check --format json`): lines and
/// columns are 1-based, columns count characters, and the end is exclusive.
#[derive(Debug, Clone, Serialize)]
pub struct JsonDiagnostic<'a> {
    pub file: &'a str,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    pub code: &'static str,
    pub severity: Severity,
    pub message: &'a str,
    pub help: Option<&'a str>,
}

impl Diagnostic {
    pub fn to_json<'a>(
        &'a self,
        file: &'a str,
        source: &str,
        lines: &LineIndex,
    ) -> JsonDiagnostic<'a> {
        let start = lines.line_col(source, self.span.start);
        let end = lines.line_col(source, self.span.end);
        JsonDiagnostic {
            file,
            line: start.line,
            column: start.column,
            end_line: end.line,
            end_column: end.column,
            code: self.code.as_str(),
            severity: self.severity,
            message: &self.message,
            help: self.help.as_deref(),
        }
    }
}

/// A diagnostic joined with its source so miette can render it like rustc.
///
/// miette draws a label under its line with a formatting width of the label's
/// column, which panics past 65,535, and a line that long is unreadable anyway:
/// a diagnostic with a label on a line longer than [`LONG_LINE`] characters is
/// shown an excerpt of the source instead, whose long lines are cut to a
/// window around their labels. Every other diagnostic renders from the source
/// as it is.
#[derive(Debug)]
pub struct Report<'a> {
    diagnostic: &'a Diagnostic,
    source: Shown,
    /// The primary span and the related ones, in `source`'s offsets.
    primary: Span,
    related: Vec<Span>,
}

#[derive(Debug)]
enum Shown {
    Whole(miette::NamedSource<String>),
    Excerpt(Excerpt),
}

impl<'a> Report<'a> {
    pub fn new(diagnostic: &'a Diagnostic, name: &str, source: &str) -> Report<'a> {
        let related: Vec<Span> = diagnostic.related.iter().map(|(span, _)| *span).collect();
        let spans: Vec<Span> = std::iter::once(diagnostic.span)
            .chain(related.iter().copied())
            .collect();
        let long = spans.iter().any(|span| {
            is_long(line_around(source, span.start)) || is_long(line_around(source, span.end))
        });
        if !long {
            return Report {
                diagnostic,
                source: Shown::Whole(miette::NamedSource::new(name, source.to_string())),
                primary: diagnostic.span,
                related,
            };
        }
        let excerpt = Excerpt::new(name, source, &spans);
        let shown = |span: &Span| Span::new(excerpt.offset(span.start), excerpt.offset(span.end));
        Report {
            diagnostic,
            primary: shown(&diagnostic.span),
            related: related.iter().map(shown).collect(),
            source: Shown::Excerpt(excerpt),
        }
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diagnostic.message)
    }
}

impl std::error::Error for Report<'_> {}

impl miette::Diagnostic for Report<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new(self.diagnostic.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diagnostic.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.diagnostic
            .help
            .as_ref()
            .map(|help| Box::new(help) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(match &self.source {
            Shown::Whole(source) => source,
            Shown::Excerpt(excerpt) => excerpt,
        })
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        let primary =
            miette::LabeledSpan::new_primary_with_span(self.diagnostic.label.clone(), self.primary);
        let related =
            self.diagnostic
                .related
                .iter()
                .zip(&self.related)
                .map(|((_, label), span)| {
                    miette::LabeledSpan::new_with_span(Some(label.clone()), *span)
                });
        Some(Box::new(std::iter::once(primary).chain(related)))
    }
}

/// Lines longer than this, in characters, are shown cut around their labels.
pub const LONG_LINE: usize = 500;
/// How many characters of a cut line are kept before and after its anchor
/// (the first character of the label it is cut for).
const KEEP_BEFORE: usize = 40;
const KEEP_AFTER: usize = 80;
/// Stands for the part of a line that was cut.
const CUT: &str = "…";

/// The line holding byte `offset` of `source`, as miette counts lines (a lone
/// `\r` ends one too), without its line break.
fn line_around(source: &str, offset: usize) -> &str {
    let offset = offset.min(source.len());
    let bytes = source.as_bytes();
    let start = bytes[..offset]
        .iter()
        .rposition(|b| matches!(b, b'\n' | b'\r'))
        .map_or(0, |i| i + 1);
    let end = bytes[offset..]
        .iter()
        .position(|b| matches!(b, b'\n' | b'\r'))
        .map_or(source.len(), |i| offset + i);
    // Both ends are next to an ASCII byte or at an end, so on char boundaries.
    source.get(start..end).unwrap_or("")
}

fn is_long(line: &str) -> bool {
    line.len() > LONG_LINE && line.chars().nth(LONG_LINE).is_some()
}

/// The source as miette is shown it when a label is on a long line: every
/// line longer than [`LONG_LINE`] characters is cut to a window around the
/// label miette takes its column from (or its start, without a label), marked
/// with `…` where cut. Line breaks are all kept, so miette counts the same
/// lines; the columns it prints in headers are given back in the source's.
#[derive(Debug)]
struct Excerpt {
    name: String,
    text: String,
    /// The cut lines, in order.
    cuts: Vec<Cut>,
}

#[derive(Debug)]
struct Cut {
    /// The whole line and the part of it kept, as offsets in the source.
    line: std::ops::Range<usize>,
    kept: std::ops::Range<usize>,
    /// Where the line starts and ends in the excerpt, and the bytes of `…`
    /// before what was kept.
    at: usize,
    end: usize,
    marked: usize,
}

impl Excerpt {
    fn new(name: &str, source: &str, spans: &[Span]) -> Excerpt {
        let mut text = String::with_capacity(source.len().min(1 << 16));
        let mut cuts = Vec::new();
        let mut start = 0;
        for piece in source.split_inclusive(['\n', '\r']) {
            let line = piece.trim_end_matches(['\n', '\r']);
            let end = start + line.len();
            if !is_long(line) {
                text.push_str(piece);
                start += piece.len();
                continue;
            }
            // The label miette takes the header's column from: the primary
            // one, or else the first one on the line.
            let inside = |offset: &usize| (start..=end).contains(offset);
            let anchor = spans
                .first()
                .map(|s| s.start)
                .filter(inside)
                .or_else(|| spans.iter().map(|s| s.start).filter(inside).min())
                .or_else(|| spans.iter().map(|s| s.end).filter(inside).min())
                .unwrap_or(start);
            let kept = window(source, start..end, anchor);
            let at = text.len();
            let marked = if kept.start > start { CUT.len() } else { 0 };
            if marked > 0 {
                text.push_str(CUT);
            }
            text.push_str(&source[kept.clone()]);
            if kept.end < end {
                text.push_str(CUT);
            }
            cuts.push(Cut {
                line: start..end,
                kept,
                at,
                end: text.len(),
                marked,
            });
            text.push_str(&piece[line.len()..]);
            start += piece.len();
        }
        Excerpt {
            name: name.to_string(),
            text,
            cuts,
        }
    }

    /// Where byte `offset` of the source is in the excerpt; an offset in the
    /// cut part of a line goes to the nearest end of what was kept.
    fn offset(&self, offset: usize) -> usize {
        let i = self.cuts.partition_point(|cut| cut.line.start <= offset);
        let Some(cut) = i.checked_sub(1).map(|i| &self.cuts[i]) else {
            return offset;
        };
        if offset <= cut.line.end {
            let kept = offset.clamp(cut.kept.start, cut.kept.end);
            cut.at + cut.marked + (kept - cut.kept.start)
        } else {
            offset - cut.line.end + cut.end
        }
    }

    /// The source's column (in bytes, as miette counts) of the excerpt's
    /// byte `offset`, whose column in the excerpt is `column`.
    fn column(&self, offset: usize, column: usize) -> usize {
        let i = self.cuts.partition_point(|cut| cut.at <= offset);
        match i.checked_sub(1).map(|i| &self.cuts[i]) {
            Some(cut) if offset <= cut.end => {
                (offset - cut.at).saturating_sub(cut.marked) + (cut.kept.start - cut.line.start)
            }
            _ => column,
        }
    }
}

/// The part of the line `line` of `source` kept around byte `anchor`:
/// [`KEEP_BEFORE`] characters before it and [`KEEP_AFTER`] from it.
fn window(source: &str, line: std::ops::Range<usize>, anchor: usize) -> std::ops::Range<usize> {
    let text = &source[line.clone()];
    let mut anchor = anchor - line.start;
    while !text.is_char_boundary(anchor) {
        anchor -= 1;
    }
    let start = text[..anchor]
        .char_indices()
        .rev()
        .nth(KEEP_BEFORE - 1)
        .map_or(0, |(i, _)| i);
    let end = text[anchor..]
        .char_indices()
        .nth(KEEP_AFTER)
        .map_or(text.len(), |(i, _)| anchor + i);
    line.start + start..line.start + end
}

impl miette::SourceCode for Excerpt {
    fn read_span<'a>(
        &'a self,
        span: &miette::SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let contents = self
            .text
            .read_span(span, context_lines_before, context_lines_after)?;
        // Only a read without context lines starts at the span itself, and
        // only its column is printed (in the header).
        let column = if context_lines_before == 0 {
            self.column(span.offset(), contents.column())
        } else {
            contents.column()
        };
        Ok(Box::new(miette::MietteSpanContents::new_named(
            self.name.clone(),
            contents.data(),
            *contents.span(),
            contents.line(),
            column,
            contents.line_count(),
        )))
    }
}

/// Renders diagnostics like rustc: with colour for a terminal, plain otherwise.
pub fn render(diagnostics: &[Diagnostic], name: &str, source: &str, color: bool) -> String {
    let theme = if color {
        miette::GraphicalTheme::unicode()
    } else {
        miette::GraphicalTheme::unicode_nocolor()
    };
    let handler = miette::GraphicalReportHandler::new_themed(theme).with_width(100);
    let mut out = String::new();
    for diagnostic in diagnostics {
        let report = Report::new(diagnostic, name, source);
        // Writing into a String cannot fail.
        let _ = handler.render_report(&mut out, &report);
        out.push('\n');
    }
    out
}

/// The closest candidate to `name` by edit distance, if it is close enough to be
/// a plausible typo (or `name` is a prefix of it, as `CrashLoop` of
/// `CrashLoopBackOff`).
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = name.to_ascii_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        let candidate_lower = candidate.to_ascii_lowercase();
        let distance = if candidate_lower == lower {
            0
        } else if (lower.len() >= 3 && candidate_lower.starts_with(&lower))
            || (candidate_lower.len() >= 4 && lower.starts_with(&candidate_lower))
        {
            1
        } else {
            strsim::damerau_levenshtein(&lower, &candidate_lower)
        };
        let allowed = (name.chars().count().max(3) / 3).max(1);
        if distance <= allowed && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_prefixed_by_severity() {
        let mut seen = std::collections::HashSet::new();
        for code in Code::ALL {
            assert!(seen.insert(code.as_str()), "{code} twice");
            let prefix = match code.severity() {
                Severity::Error => 'E',
                Severity::Warning => 'W',
            };
            assert!(code.as_str().starts_with(prefix), "{code}");
        }
    }

    #[test]
    fn closest_finds_typos_and_prefixes_but_not_strangers() {
        let metrics = ["memory_percent", "cpu_percent", "restarts"];
        assert_eq!(closest("memroy_percent", metrics), Some("memory_percent"));
        assert_eq!(closest("restart", metrics), Some("restarts"));
        assert_eq!(closest("latency", metrics), None);
        let reasons = ["CrashLoopBackOff", "OOMKilled"];
        assert_eq!(closest("CrashLoop", reasons), Some("CrashLoopBackOff"));
        assert_eq!(closest("oomkilled", reasons), Some("OOMKilled"));
        assert_eq!(closest("automatic", ["dryrun", "auto"]), Some("auto"));
    }
}
