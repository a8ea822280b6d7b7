//! An open document: its text, version and line index, kept in step with the
//! editor by full or incremental changes.

use crate::analysis::{DocumentKind, Source, TextRange};
use crate::line_index::{floor_char_boundary, LineIndex};
use lsp_types::{Position, Range, TextDocumentContentChangeEvent};

/// One open document.
#[derive(Debug, Clone)]
pub struct Document {
    text: String,
    /// The editor's version of the text, echoed with its diagnostics.
    pub version: i32,
    pub kind: DocumentKind,
    index: LineIndex,
}

impl Document {
    /// A document opened with `text` at `version`.
    pub fn new(text: String, version: i32, kind: DocumentKind) -> Document {
        let index = LineIndex::new(&text);
        Document {
            text,
            version,
            kind,
            index,
        }
    }

    /// The current text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The document as an [`crate::Analysis`] reads it.
    pub fn source(&self) -> Source<'_> {
        Source {
            text: &self.text,
            kind: self.kind,
        }
    }

    /// Applies one change: a replacement of `range`, or of everything when the
    /// change has no range. A reversed range is read in order.
    pub fn apply_change(&mut self, change: TextDocumentContentChangeEvent) {
        match change.range {
            None => self.text = change.text,
            Some(range) => {
                let a = self.offset(range.start);
                let b = self.offset(range.end);
                self.text.replace_range(a.min(b)..a.max(b), &change.text);
            }
        }
        self.index = LineIndex::new(&self.text);
    }

    /// The byte offset of an editor position (clamped into the text).
    pub fn offset(&self, position: Position) -> usize {
        self.index.offset(&self.text, position)
    }

    /// The editor position of a byte offset (clamped into the text).
    pub fn position(&self, offset: usize) -> Position {
        self.index.position(&self.text, offset)
    }

    /// The LSP range of a byte range, which may come from an analysis and so
    /// be reversed or out of bounds.
    pub fn range(&self, range: &TextRange) -> Range {
        let start = floor_char_boundary(&self.text, range.start);
        let end = floor_char_boundary(&self.text, range.end).max(start);
        Range::new(self.position(start), self.position(end))
    }

    /// The byte range of an editor range, in order.
    pub fn byte_range(&self, range: Range) -> TextRange {
        let a = self.offset(range.start);
        let b = self.offset(range.end);
        a.min(b)..a.max(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(
        range: Option<((u32, u32), (u32, u32))>,
        text: &str,
    ) -> TextDocumentContentChangeEvent {
        TextDocumentContentChangeEvent {
            range: range.map(|((l1, c1), (l2, c2))| {
                Range::new(Position::new(l1, c1), Position::new(l2, c2))
            }),
            range_length: None,
            text: text.to_string(),
        }
    }

    #[test]
    fn incremental_changes_apply_in_order() {
        let mut doc = Document::new("when a > 1\nthen b\n".into(), 1, DocumentKind::Skippy);
        doc.apply_change(change(Some(((0, 5), (0, 6))), "cpu"));
        doc.apply_change(change(Some(((1, 5), (1, 6))), "restart"));
        assert_eq!(doc.text(), "when cpu > 1\nthen restart\n");
        doc.apply_change(change(None, "x"));
        assert_eq!(doc.text(), "x");
    }

    #[test]
    fn changes_with_bad_ranges_do_not_panic() {
        let mut doc = Document::new("é😀\n".into(), 1, DocumentKind::Skippy);
        // Reversed, inside a surrogate pair, and past the end.
        doc.apply_change(change(Some(((0, 2), (0, 1))), "x"));
        assert_eq!(doc.text(), "éx😀\n");
        doc.apply_change(change(Some(((0, 3), (9, 9))), "!"));
        assert_eq!(doc.text(), "éx!");
        assert_eq!(
            doc.range(&std::ops::Range { start: 99, end: 2 }),
            Range::new(Position::new(0, 3), Position::new(0, 3))
        );
    }
}
