//! Positions and changes are total: any text, any position, any change range
//! gives a character boundary inside the text, and converting an offset to a
//! position and back is the identity on character boundaries.

use kubeskippy_lsp::lsp_types::{Position, Range, TextDocumentContentChangeEvent};
use kubeskippy_lsp::{Document, DocumentKind, LineIndex};
use proptest::prelude::*;

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("\n".to_string()),
            Just("\r\n".to_string()),
            Just("é".to_string()),
            Just("😀".to_string()),
            "[a-z ]{0,5}",
        ],
        0..30,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #[test]
    fn offsets_and_positions_round_trip(text in text(), offset in 0usize..200) {
        let index = LineIndex::new(&text);
        let position = index.position(&text, offset);
        let back = index.offset(&text, position);
        prop_assert!(text.is_char_boundary(back));
        let mut expected = offset.min(text.len());
        while !text.is_char_boundary(expected) {
            expected -= 1;
        }
        // `\r\n` is one line break in LSP: an offset between its two bytes
        // comes back as the end of the line, just before the `\r`.
        let inside_crlf = expected > 0
            && text.as_bytes()[expected - 1] == b'\r'
            && text.as_bytes().get(expected) == Some(&b'\n');
        let wanted = if inside_crlf { expected - 1 } else { expected };
        prop_assert_eq!(back, wanted, "{} -> {:?}", offset, position);
    }

    #[test]
    fn any_change_applies(text in text(), a in (0u32..12, 0u32..40), b in (0u32..12, 0u32..40), insert in text()) {
        let mut doc = Document::new(text, 1, DocumentKind::Skippy);
        doc.apply_change(TextDocumentContentChangeEvent {
            range: Some(Range::new(Position::new(a.0, a.1), Position::new(b.0, b.1))),
            range_length: None,
            text: insert,
        });
        let len = doc.text().len();
        let range = doc.range(&(0..len + 5));
        prop_assert_eq!(doc.byte_range(range), 0..len);
    }
}
