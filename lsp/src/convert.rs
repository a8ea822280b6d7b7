//! Analysis results (byte ranges, plain data) to LSP types (UTF-16 positions).

use crate::analysis::{self, CompletionKind, Severity, SymbolKind, Token, TokenKind};
use crate::document::Document;
use lsp_types as lsp;

/// The one diagnostic of a document larger than `max` bytes (the server's
/// `Config::max_document_bytes`), at its start.
pub(crate) fn too_large(doc: &Document, max: usize) -> lsp::Diagnostic {
    lsp::Diagnostic {
        range: lsp::Range::default(),
        severity: Some(lsp::DiagnosticSeverity::WARNING),
        code: Some(lsp::NumberOrString::String(crate::TOO_LARGE.into())),
        source: Some("skippy".into()),
        message: format!(
            "this document is {} bytes, more than the {max} the language server analyses; \
             check it with `kubeskippy check`",
            doc.text().len(),
        ),
        ..lsp::Diagnostic::default()
    }
}

/// The analysis' diagnostics of `doc`, in LSP form.
pub fn diagnostics(
    doc: &Document,
    uri: &lsp::Url,
    diagnostics: &[analysis::Diagnostic],
) -> Vec<lsp::Diagnostic> {
    diagnostics
        .iter()
        .map(|d| diagnostic(doc, uri, d))
        .collect()
}

pub(crate) fn diagnostic(
    doc: &Document,
    uri: &lsp::Url,
    d: &analysis::Diagnostic,
) -> lsp::Diagnostic {
    let related = d
        .related
        .iter()
        .map(|r| lsp::DiagnosticRelatedInformation {
            location: lsp::Location::new(uri.clone(), doc.range(&r.range)),
            message: r.message.clone(),
        })
        .collect::<Vec<_>>();
    lsp::Diagnostic {
        range: doc.range(&d.range),
        severity: Some(match d.severity {
            Severity::Error => lsp::DiagnosticSeverity::ERROR,
            Severity::Warning => lsp::DiagnosticSeverity::WARNING,
            Severity::Information => lsp::DiagnosticSeverity::INFORMATION,
            Severity::Hint => lsp::DiagnosticSeverity::HINT,
        }),
        code: Some(lsp::NumberOrString::String(d.code.clone())),
        source: Some("skippy".into()),
        message: d.message.clone(),
        related_information: (!related.is_empty()).then_some(related),
        ..Default::default()
    }
}

/// One completion item; with `replace`, a text edit of that range (so the
/// editor replaces what the language considers the word, not what its own
/// word pattern does).
pub(crate) fn completion(
    c: &analysis::Completion,
    replace: Option<lsp::Range>,
) -> lsp::CompletionItem {
    let text_edit = replace.map(|range| {
        lsp::CompletionTextEdit::Edit(lsp::TextEdit::new(
            range,
            c.insert_text.clone().unwrap_or_else(|| c.label.clone()),
        ))
    });
    lsp::CompletionItem {
        label: c.label.clone(),
        kind: Some(match c.kind {
            CompletionKind::Keyword => lsp::CompletionItemKind::KEYWORD,
            CompletionKind::Metric => lsp::CompletionItemKind::VARIABLE,
            CompletionKind::Function => lsp::CompletionItemKind::FUNCTION,
            CompletionKind::Action => lsp::CompletionItemKind::METHOD,
            CompletionKind::Reason => lsp::CompletionItemKind::ENUM_MEMBER,
            CompletionKind::Patch => lsp::CompletionItemKind::REFERENCE,
            CompletionKind::Unit => lsp::CompletionItemKind::UNIT,
            CompletionKind::Value => lsp::CompletionItemKind::VALUE,
        }),
        detail: c.detail.clone(),
        documentation: c
            .documentation
            .as_ref()
            .map(|text| lsp::Documentation::MarkupContent(markdown(text))),
        insert_text: if text_edit.is_some() {
            None
        } else {
            c.insert_text.clone()
        },
        text_edit,
        ..Default::default()
    }
}

pub(crate) fn markdown(text: &str) -> lsp::MarkupContent {
    lsp::MarkupContent {
        kind: lsp::MarkupKind::Markdown,
        value: text.to_string(),
    }
}

pub(crate) fn text_edits(doc: &Document, edits: &[analysis::TextEdit]) -> Vec<lsp::TextEdit> {
    edits
        .iter()
        .map(|e| lsp::TextEdit::new(doc.range(&e.range), e.new_text.clone()))
        .collect()
}

#[allow(deprecated)] // `DocumentSymbol::deprecated` must be written to build one.
pub(crate) fn symbol(doc: &Document, s: &analysis::Symbol) -> lsp::DocumentSymbol {
    let range = doc.range(&s.range);
    let mut selection_range = doc.range(&s.selection_range);
    // The protocol requires the selection to lie within the range.
    if selection_range.start < range.start || selection_range.end > range.end {
        selection_range = range;
    }
    lsp::DocumentSymbol {
        name: if s.name.is_empty() {
            "?".into()
        } else {
            s.name.clone()
        },
        detail: s.detail.clone(),
        kind: match s.kind {
            SymbolKind::Policy => lsp::SymbolKind::MODULE,
            SymbolKind::Rule => lsp::SymbolKind::EVENT,
            SymbolKind::Statement => lsp::SymbolKind::PROPERTY,
            SymbolKind::Metric => lsp::SymbolKind::VARIABLE,
            SymbolKind::Patch => lsp::SymbolKind::OBJECT,
        },
        tags: None,
        deprecated: None,
        range,
        selection_range,
        children: (!s.children.is_empty())
            .then(|| s.children.iter().map(|c| symbol(doc, c)).collect()),
    }
}

pub(crate) fn token_legend() -> lsp::SemanticTokensLegend {
    lsp::SemanticTokensLegend {
        token_types: TokenKind::LEGEND
            .iter()
            .map(|kind| match kind {
                TokenKind::Keyword => lsp::SemanticTokenType::KEYWORD,
                TokenKind::Variable => lsp::SemanticTokenType::VARIABLE,
                TokenKind::Function => lsp::SemanticTokenType::FUNCTION,
                TokenKind::EnumMember => lsp::SemanticTokenType::ENUM_MEMBER,
                TokenKind::Type => lsp::SemanticTokenType::TYPE,
                TokenKind::Namespace => lsp::SemanticTokenType::NAMESPACE,
                TokenKind::Property => lsp::SemanticTokenType::PROPERTY,
                TokenKind::String => lsp::SemanticTokenType::STRING,
                TokenKind::Number => lsp::SemanticTokenType::NUMBER,
                TokenKind::Comment => lsp::SemanticTokenType::COMMENT,
                TokenKind::Operator => lsp::SemanticTokenType::OPERATOR,
            })
            .collect(),
        token_modifiers: Vec::new(),
    }
}

/// Tokens in the protocol's relative encoding. Tokens that overlap an earlier
/// one are dropped and a token spanning lines is cut at its first line's end,
/// since the encoding can express neither.
///
/// One forward pass over the text (tokens come in order): converting each
/// token's range from its line's start would be quadratic in the line's
/// length, and a generated file can have very long lines.
pub(crate) fn semantic_tokens(doc: &Document, tokens: &[Token]) -> Vec<lsp::SemanticToken> {
    let text = doc.text();
    let mut out = Vec::with_capacity(tokens.len());
    let mut cursor = Cursor {
        text,
        byte: 0,
        line: 0,
        column: 0,
    };
    let (mut line, mut start, mut last_end) = (0u32, 0u32, 0usize);
    for token in tokens {
        let from = crate::line_index::floor_char_boundary(text, token.range.start);
        let to = crate::line_index::floor_char_boundary(text, token.range.end);
        if token.range.start < last_end || from >= to {
            continue;
        }
        cursor.advance(from);
        let length: u32 = text[from..to]
            .char_indices()
            .take_while(|&(i, ch)| ch != '\n' && !is_crlf(text, from + i))
            .map(|(_, ch)| ch.len_utf16() as u32)
            .sum();
        if length == 0 {
            continue;
        }
        let delta_line = cursor.line - line;
        let delta_start = if delta_line == 0 {
            cursor.column - start
        } else {
            cursor.column
        };
        out.push(lsp::SemanticToken {
            delta_line,
            delta_start,
            length,
            token_type: TokenKind::LEGEND
                .iter()
                .position(|k| *k == token.kind)
                .unwrap_or(0) as u32,
            token_modifiers_bitset: 0,
        });
        line = cursor.line;
        start = cursor.column;
        last_end = token.range.end;
    }
    out
}

/// Whether the byte at `at` is the `\r` of a `\r\n`.
fn is_crlf(text: &str, at: usize) -> bool {
    text.as_bytes().get(at..at + 2) == Some(b"\r\n")
}

/// A position moving forward through a text: its byte offset, line and
/// UTF-16 column (a `\r` before `\n` counts as the line's end, not a column).
struct Cursor<'a> {
    text: &'a str,
    byte: usize,
    line: u32,
    column: u32,
}

impl Cursor<'_> {
    /// Moves to `to`, a character boundary at or after the current offset.
    fn advance(&mut self, to: usize) {
        for (i, ch) in self.text[self.byte..to].char_indices() {
            if ch == '\n' {
                self.line += 1;
                self.column = 0;
            } else if !is_crlf(self.text, self.byte + i) {
                self.column += ch.len_utf16() as u32;
            }
        }
        self.byte = to;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::DocumentKind;

    fn encode(text: &str, tokens: &[(usize, usize)]) -> Vec<[u32; 3]> {
        let doc = Document::new(text.to_string(), 1, DocumentKind::Skippy);
        let tokens: Vec<Token> = tokens
            .iter()
            .map(|&(start, end)| Token {
                range: start..end,
                kind: TokenKind::Keyword,
            })
            .collect();
        semantic_tokens(&doc, &tokens)
            .iter()
            .map(|t| [t.delta_line, t.delta_start, t.length])
            .collect()
    }

    #[test]
    fn tokens_encode_in_utf16_relative_to_the_previous() {
        // `😀` is 4 bytes and 2 units; `é` 2 bytes and 1 unit.
        let text = "😀 ab é cd\r\nx\ny";
        let ab = text.find("ab").unwrap();
        let cd = text.find("cd").unwrap();
        let x = text.find('x').unwrap();
        assert_eq!(
            encode(text, &[(ab, ab + 2), (cd, cd + 2), (x, x + 1)]),
            [[0, 3, 2], [0, 5, 2], [1, 0, 1]]
        );
        // Cut at the line's end (before `\r\n`); overlaps and empty tokens go.
        assert_eq!(
            encode(text, &[(cd, text.len()), (cd + 1, cd + 2), (x, x)]),
            [[0, 8, 2]]
        );
        // Offsets inside a character move back; past the end clamp.
        assert_eq!(encode(text, &[(1, 6), (999, 1000)]), [[0, 0, 4]]);
    }

    #[test]
    fn a_long_line_of_tokens_converts_in_one_pass() {
        let text = "ab ".repeat(50_000);
        let tokens: Vec<(usize, usize)> = (0..50_000).map(|i| (3 * i, 3 * i + 2)).collect();
        let encoded = encode(&text, &tokens);
        assert_eq!(encoded.len(), 50_000);
        assert!(encoded[1..].iter().all(|t| *t == [0, 3, 2]));
    }
}
