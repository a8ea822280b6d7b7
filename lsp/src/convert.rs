//! Analysis results (byte ranges, plain data) to LSP types (UTF-16 positions).

use crate::analysis::{self, CompletionKind, Severity, SymbolKind, Token, TokenKind};
use crate::document::Document;
use lsp_types as lsp;

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

pub(crate) fn completion(c: &analysis::Completion) -> lsp::CompletionItem {
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
        insert_text: c.insert_text.clone(),
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
pub(crate) fn semantic_tokens(doc: &Document, tokens: &[Token]) -> Vec<lsp::SemanticToken> {
    let mut out = Vec::with_capacity(tokens.len());
    let (mut line, mut start, mut last_end) = (0u32, 0u32, 0usize);
    for token in tokens {
        if token.range.start < last_end || token.range.start >= token.range.end {
            continue;
        }
        let range = doc.range(&token.range);
        let length = if range.end.line == range.start.line {
            range.end.character - range.start.character
        } else {
            let text = doc.text();
            let from = crate::line_index::floor_char_boundary(text, token.range.start);
            let line_len = text[from..].find('\n').unwrap_or(text.len() - from);
            doc.range(&(from..from + line_len)).end.character - range.start.character
        };
        if length == 0 {
            continue;
        }
        let delta_line = range.start.line - line;
        let delta_start = if delta_line == 0 {
            range.start.character - start
        } else {
            range.start.character
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
        line = range.start.line;
        start = range.start.character;
        last_end = token.range.end;
    }
    out
}
