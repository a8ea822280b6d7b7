//! Byte offsets to LSP positions and back. LSP counts columns in UTF-16 code
//! units; Rust strings and the analysis count bytes.
//!
//! Invariant: total functions. A position past the end of its line clamps to
//! the line's end (as the LSP specification asks), a line past the end of the
//! text clamps to the end of the text, and an offset inside a character or
//! past the text moves back to the nearest character boundary.

use lsp_types::Position;

/// The start of every line of one text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineIndex {
    line_starts: Vec<usize>,
}

impl LineIndex {
    /// Indexes `text`; the index is only valid for that text.
    pub fn new(text: &str) -> LineIndex {
        let mut line_starts = Vec::with_capacity(text.len() / 32 + 1);
        line_starts.push(0);
        // A lone `\r` ends a line, as in LSP and in Skippy's grammar.
        let bytes = text.as_bytes();
        line_starts.extend(
            bytes
                .iter()
                .enumerate()
                .filter(|&(i, &b)| b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n')))
                .map(|(i, _)| i + 1),
        );
        LineIndex { line_starts }
    }

    /// The byte offset of `position` in `text` (the text this index was built from).
    pub fn offset(&self, text: &str, position: Position) -> usize {
        let line = position.line as usize;
        let Some(&start) = self.line_starts.get(line) else {
            return text.len();
        };
        let end = self.line_end(text, line);
        let mut units = 0u32;
        for (i, ch) in text[start..end].char_indices() {
            units += ch.len_utf16() as u32;
            // Inside this character (half of a surrogate pair) or past it.
            if units > position.character {
                return start + i;
            }
        }
        end
    }

    /// The position of byte `offset` in `text`.
    pub fn position(&self, text: &str, offset: usize) -> Position {
        let offset = floor_char_boundary(text, offset);
        let line = self.line_starts.partition_point(|&s| s <= offset) - 1;
        let start = self.line_starts[line];
        // Between the `\r` and the `\n` of a line break is the line's end.
        let offset = offset.min(self.line_end(text, line));
        let character = text[start..offset].encode_utf16().count() as u32;
        Position::new(line as u32, character)
    }

    /// Where `line` ends, before its line break (`\n`, `\r\n` or `\r`).
    fn line_end(&self, text: &str, line: usize) -> usize {
        let end = self
            .line_starts
            .get(line + 1)
            .map_or(text.len(), |next| next - 1);
        let start = self.line_starts[line];
        if end > start && text.as_bytes().get(end - 1) == Some(&b'\r') {
            end - 1
        } else {
            end
        }
    }
}

/// The largest character boundary of `text` at or before `offset`.
pub fn floor_char_boundary(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(text: &str, offset: usize) -> usize {
        let index = LineIndex::new(text);
        index.offset(text, index.position(text, offset))
    }

    #[test]
    fn columns_count_utf16_units() {
        // `é` is 2 bytes and 1 unit; `😀` is 4 bytes and 2 units.
        let text = "aé😀b\nx";
        let index = LineIndex::new(text);
        assert_eq!(index.position(text, 7), Position::new(0, 4));
        assert_eq!(index.offset(text, Position::new(0, 4)), 7);
        assert_eq!(index.position(text, 9), Position::new(1, 0));
        assert_eq!(roundtrip(text, 3), 3);
    }

    #[test]
    fn out_of_range_positions_clamp() {
        let text = "ab\r\ncd";
        let index = LineIndex::new(text);
        assert_eq!(index.offset(text, Position::new(0, 99)), 2, "before \\r\\n");
        assert_eq!(index.offset(text, Position::new(9, 0)), text.len());
        assert_eq!(index.offset(text, Position::new(1, 99)), text.len());
        assert_eq!(index.position(text, 999), Position::new(1, 2));
        // Inside the line break: the end of the line's content.
        assert_eq!(index.position(text, 3), Position::new(0, 2));
    }

    #[test]
    fn offsets_inside_a_character_move_back() {
        let text = "a😀";
        let index = LineIndex::new(text);
        assert_eq!(index.position(text, 3), Position::new(0, 1));
        // Half of a surrogate pair is not a character: the offset is its start.
        assert_eq!(index.offset(text, Position::new(0, 2)), 1);
    }

    #[test]
    fn empty_text_has_one_line() {
        let index = LineIndex::new("");
        assert_eq!(index.position("", 5), Position::new(0, 0));
        assert_eq!(index.offset("", Position::new(3, 3)), 0);
    }
}
