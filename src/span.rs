//! Source positions: byte spans and their translation to lines and columns.

use serde::Serialize;

/// A half-open byte range `start..end` into one source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }

    pub fn shifted(self, offset: usize) -> Span {
        Span::new(self.start + offset, self.end + offset)
    }

    pub fn len(self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(self) -> bool {
        self.start == self.end
    }
}

impl From<Span> for miette::SourceSpan {
    fn from(span: Span) -> Self {
        (span.start, span.len()).into()
    }
}

impl From<pest::Span<'_>> for Span {
    fn from(span: pest::Span<'_>) -> Self {
        Span::new(span.start(), span.end())
    }
}

/// A 1-based line and column; the column counts characters, not bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LineCol {
    pub line: usize,
    pub column: usize,
}

/// Maps byte offsets of one text to lines and columns in `O(log lines)`.
///
/// Lines end as the grammar ends them: at `\n`, `\r\n` or a lone `\r` (as
/// miette counts them too). A column costs at most one block of bytes
/// however long its line, so that the diagnostics on one very long line are
/// not each counted from the line's start.
#[derive(Debug, Clone)]
pub struct LineIndex {
    line_starts: Vec<usize>,
    /// The characters before each [`BLOCK`]-th byte.
    chars_before: Vec<usize>,
}

/// Bytes between two character counts of [`LineIndex`].
const BLOCK: usize = 256;

/// The characters starting in `bytes` (the bytes that do not continue one).
fn chars_in(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| (b as i8) >= -0x40).count()
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let bytes = text.as_bytes();
        let mut line_starts = vec![0];
        for (i, &b) in bytes.iter().enumerate() {
            let ends = b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n'));
            if ends {
                line_starts.push(i + 1);
            }
        }
        let mut chars_before = Vec::with_capacity(bytes.len() / BLOCK + 1);
        let mut chars = 0;
        for block in bytes.chunks(BLOCK) {
            chars_before.push(chars);
            chars += chars_in(block);
        }
        chars_before.push(chars);
        LineIndex {
            line_starts,
            chars_before,
        }
    }

    /// The 0-based line holding byte `offset`.
    pub fn line(&self, offset: usize) -> usize {
        self.line_starts.partition_point(|&start| start <= offset) - 1
    }

    /// The line and column of `offset`; offsets past the end clamp to the end.
    pub fn line_col(&self, text: &str, offset: usize) -> LineCol {
        let offset = offset.min(text.len());
        let line = self.line(offset);
        let start = self.line_starts[line];
        let column = self.chars_to(text, offset) - self.chars_to(text, start);
        LineCol {
            line: line + 1,
            column: column + 1,
        }
    }

    /// The characters of `text` before byte `offset`.
    fn chars_to(&self, text: &str, offset: usize) -> usize {
        let block = offset / BLOCK;
        let counted = self.chars_before.get(block).copied().unwrap_or(0);
        counted + chars_in(text.as_bytes().get(block * BLOCK..offset).unwrap_or(&[]))
    }

    /// The byte offset where 0-based `line` starts, if the text has that line.
    pub fn line_start(&self, line: usize) -> Option<usize> {
        self.line_starts.get(line).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based_and_count_characters() {
        let text = "ab\nçd\n";
        let index = LineIndex::new(text);
        assert_eq!(index.line_col(text, 0), LineCol { line: 1, column: 1 });
        assert_eq!(index.line_col(text, 3), LineCol { line: 2, column: 1 });
        // `ç` is two bytes: the `d` after it is the second character.
        assert_eq!(index.line_col(text, 5), LineCol { line: 2, column: 2 });
        assert_eq!(index.line_col(text, 99), LineCol { line: 3, column: 1 });
    }

    #[test]
    fn a_lone_cr_ends_a_line_as_in_the_grammar_and_crlf_ends_one() {
        let text = "a\rb\r\nc\nd";
        let index = LineIndex::new(text);
        let lines: Vec<usize> = (0..text.len())
            .map(|i| index.line_col(text, i).line)
            .collect();
        assert_eq!(lines, [1, 1, 2, 2, 2, 3, 3, 4]);
        assert_eq!(index.line_col(text, 2), LineCol { line: 2, column: 1 });
    }

    #[test]
    fn columns_on_a_long_line_count_characters_across_blocks() {
        let text = format!("x\n{}", "é".repeat(1_000));
        let index = LineIndex::new(&text);
        for at in [2, 3 * BLOCK, 2 + 2 * 999] {
            let expected = text[2..at].chars().count() + 1;
            assert_eq!(index.line_col(&text, at).column, expected, "at {at}");
        }
    }
}
