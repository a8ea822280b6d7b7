//! Diagnostics rendered like rustc, by miette, in time linear in their number:
//! miette finds a label's line by scanning its source from the start, so each
//! report is handed only the lines around its labels (found with a line index
//! built once per file), with the line numbers of the file.

use super::{Diagnostic, Severity};
use crate::span::{LineIndex, Span};
use std::fmt;

/// Lines miette shows before and after a label (its default, set explicitly
/// because a report's window must hold them).
const CONTEXT_LINES: usize = 1;

/// A diagnostic joined with the lines of its source around its labels, so
/// miette can render it like rustc.
///
/// miette draws a label under its line with a formatting width of the label's
/// column, which panics past 65,535, and a line that long is unreadable anyway:
/// a diagnostic with a label on a line longer than [`LONG_LINE`] characters is
/// shown those lines with the long ones cut to a window around their labels.
#[derive(Debug)]
pub struct Report<'a> {
    diagnostic: &'a Diagnostic,
    source: Excerpt,
    /// The primary span and the related ones, in `source`'s offsets.
    primary: Span,
    related: Vec<Span>,
}

impl<'a> Report<'a> {
    /// `lines` is `source`'s line index, built once for all its diagnostics.
    pub fn new(
        diagnostic: &'a Diagnostic,
        name: &str,
        source: &str,
        lines: &LineIndex,
    ) -> Report<'a> {
        let clamp = |span: &Span| {
            let end = span.end.min(source.len());
            Span::new(span.start.min(end), end)
        };
        let spans: Vec<Span> = std::iter::once(&diagnostic.span)
            .chain(diagnostic.related.iter().map(|(span, _)| span))
            .map(clamp)
            .collect();
        // The window: whole lines, from a line more than miette shows before
        // the first label to two more than it shows after the last (it reads
        // up to the line break that ends its last context line).
        let first = spans.iter().map(|s| lines.line(s.start)).min().unwrap_or(0);
        let last = spans.iter().map(|s| lines.line(s.end)).max().unwrap_or(0);
        let first = first.saturating_sub(CONTEXT_LINES + 1);
        let start = lines.line_start(first).unwrap_or(0);
        let end = lines
            .line_start(last + CONTEXT_LINES + 2)
            .unwrap_or(source.len());
        // Line starts follow a line break, so both ends are char boundaries.
        let window = source.get(start..end).unwrap_or("");
        let spans: Vec<Span> = spans
            .iter()
            .map(|s| Span::new(s.start - start, s.end - start))
            .collect();
        let long = spans.iter().any(|span| {
            is_long(line_around(window, span.start)) || is_long(line_around(window, span.end))
        });
        let excerpt = Excerpt::new(name, window, &spans, long, first);
        let shown = |span: &Span| Span::new(excerpt.offset(span.start), excerpt.offset(span.end));
        Report {
            diagnostic,
            primary: shown(&spans[0]),
            related: spans[1..].iter().map(shown).collect(),
            source: excerpt,
        }
    }

    /// The text miette is given to render this report.
    pub fn shown_text(&self) -> &str {
        &self.source.text
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
        Some(&self.source)
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

/// The lines of the source around a report's labels, as miette is shown them:
/// when a label is on a long line, every line longer than [`LONG_LINE`]
/// characters is cut to a window around the label miette takes its column
/// from (or its start, without a label), marked with `…` where cut. Line
/// breaks are all kept, so miette counts the same lines; the line numbers and
/// the columns it prints in headers are given back in the source's.
#[derive(Debug)]
struct Excerpt {
    name: String,
    text: String,
    /// The 0-based line of the source the text starts at.
    first_line: usize,
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
    /// The characters of the line before what was kept.
    skipped: usize,
}

impl Excerpt {
    fn new(name: &str, source: &str, spans: &[Span], cut: bool, first_line: usize) -> Excerpt {
        if !cut {
            return Excerpt {
                name: name.to_string(),
                text: lone_cr_as_lf(source.to_string()),
                first_line,
                cuts: Vec::new(),
            };
        }
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
                skipped: source[start..kept.start].chars().count(),
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
            text: lone_cr_as_lf(text),
            first_line,
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

    /// The source's column in characters (as `--format json` and the
    /// language server count; miette counts bytes) of the excerpt's byte
    /// `offset`, whose byte column in the excerpt is `column`.
    fn column(&self, offset: usize, column: usize) -> usize {
        let chars = |range: std::ops::Range<usize>| {
            self.text
                .get(range)
                .map_or(column, |text| text.chars().count())
        };
        let i = self.cuts.partition_point(|cut| cut.at <= offset);
        match i.checked_sub(1).map(|i| &self.cuts[i]) {
            Some(cut) if offset <= cut.end => {
                let kept = cut.at + cut.marked;
                chars(kept..offset.max(kept)) + cut.skipped
            }
            _ => chars(offset.saturating_sub(column)..offset),
        }
    }
}

/// `text` with each lone `\r` made a `\n`: both end a line, but miette draws
/// a lone `\r` inside its line. The length, and so every offset, is kept.
fn lone_cr_as_lf(text: String) -> String {
    if !text.contains('\r') {
        return text;
    }
    let mut bytes = text.into_bytes();
    for i in 0..bytes.len() {
        if bytes[i] == b'\r' && bytes.get(i + 1) != Some(&b'\n') {
            bytes[i] = b'\n';
        }
    }
    // Only ASCII bytes were replaced by ASCII bytes.
    String::from_utf8(bytes).unwrap_or_default()
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
            contents.line() + self.first_line,
            column,
            contents.line_count() + self.first_line,
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
    let handler = miette::GraphicalReportHandler::new_themed(theme)
        .with_width(100)
        .with_context_lines(CONTEXT_LINES);
    let lines = LineIndex::new(source);
    let mut out = String::new();
    for diagnostic in diagnostics {
        let report = Report::new(diagnostic, name, source, &lines);
        // Writing into a String cannot fail.
        let _ = handler.render_report(&mut out, &report);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Code;

    /// A file of `lines` lines, `x = N`, and a diagnostic on its `at`-th.
    fn on_line(lines: usize, at: usize) -> (String, Diagnostic) {
        let source: String = (1..=lines).map(|n| format!("x = {n}\n")).collect();
        let start = source.find(&format!("x = {at}\n")).expect("the line");
        let diagnostic = Diagnostic::new(Code::Syntax, Span::new(start, start + 1), "here");
        (source, diagnostic)
    }

    #[test]
    fn a_report_is_given_the_lines_around_its_labels_not_the_file() {
        let (source, diagnostic) = on_line(10_000, 9_000);
        let lines = LineIndex::new(&source);
        let report = Report::new(&diagnostic, "big.skippy", &source, &lines);
        assert_eq!(report.shown_text().lines().count(), 2 * CONTEXT_LINES + 3);
        let rendered = render(&[diagnostic], "big.skippy", &source, false);
        assert!(rendered.contains("[big.skippy:9000:1]"), "{rendered}");
        assert!(rendered.contains(" 9000 │ x = 9000"), "{rendered}");
        assert!(rendered.contains(" 8999 │ x = 8999"), "{rendered}");
    }

    #[test]
    fn a_related_label_widens_the_window_to_it() {
        let (source, diagnostic) = on_line(100, 50);
        let earlier = source.find("x = 10\n").expect("the line");
        let diagnostic = diagnostic.related(Span::new(earlier, earlier + 1), "first here");
        let rendered = render(&[diagnostic], "f.skippy", &source, false);
        assert!(rendered.contains(" 10 │ x = 10"), "{rendered}");
        assert!(rendered.contains(" 50 │ x = 50"), "{rendered}");
    }

    #[test]
    fn the_header_counts_characters_as_json_does_on_short_and_cut_lines() {
        for width in [10, 2_000] {
            let source = format!("x = \"{}\" bad\n", "é".repeat(width));
            let at = source.find("bad").expect("the word");
            let diagnostic = Diagnostic::new(Code::Syntax, Span::new(at, at + 3), "here");
            let column = LineIndex::new(&source).line_col(&source, at).column;
            let rendered = render(&[diagnostic], "u.skippy", &source, false);
            assert!(
                rendered.contains(&format!("[u.skippy:1:{column}]")),
                "column {column}: {rendered}"
            );
        }
    }

    #[test]
    fn lines_ended_by_a_lone_cr_are_numbered_as_the_grammar_numbers_them() {
        let source = "a\rb\rc\rd\r";
        let diagnostic = Diagnostic::new(Code::Syntax, Span::new(4, 5), "here");
        let rendered = render(&[diagnostic], "cr.skippy", source, false);
        assert!(rendered.contains("[cr.skippy:3:1]"), "{rendered}");
        assert!(rendered.contains(" 3 │ c\n"), "{rendered}");
        assert!(!rendered.contains('\r'), "{rendered}");
    }
}
