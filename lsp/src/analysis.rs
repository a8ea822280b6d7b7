//! What the server asks of a language: the [`Analysis`] trait and the plain
//! data it answers with.
//!
//! Invariant: every range here is a half-open range of **byte offsets** into the
//! document text the call was given; the server converts them to LSP's UTF-16
//! positions. An implementation may return ranges that are out of bounds or
//! not on character boundaries: the server clamps them rather than trusting
//! them, so a bug in a language never crashes the editor's connection.

use std::ops::Range;

/// A half-open range of byte offsets into a document's text.
pub type TextRange = Range<usize>;

/// How the text of a document is to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    /// A `.skippy` source file.
    Skippy,
    /// A YAML file, which may embed Skippy (in Kubernetes manifests).
    Yaml,
}

/// One document as the analysis sees it.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    /// The whole text, as the editor has it now.
    pub text: &'a str,
    pub kind: DocumentKind,
}

/// How bad a diagnostic is (the protocol's four levels).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
    Information,
    Hint,
}

/// A problem in the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub range: TextRange,
    pub severity: Severity,
    /// A stable code (`E0101`).
    pub code: String,
    pub message: String,
    /// Other places that explain the problem, and the help line, which editors
    /// show as related information.
    pub related: Vec<Related>,
}

/// Another place that explains a diagnostic, with what to read there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Related {
    pub range: TextRange,
    pub message: String,
}

/// What a completion proposes, for the editor's icon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompletionKind {
    Keyword,
    Metric,
    Function,
    Action,
    Reason,
    Patch,
    Unit,
    Value,
}

/// One completion proposal. The editor filters proposals by the word at the
/// cursor, so a language may return more than match; it keeps the order in
/// which they are returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    pub label: String,
    pub kind: CompletionKind,
    /// One line shown beside the label (a unit, a usage).
    pub detail: Option<String>,
    /// Markdown shown when the proposal is selected.
    pub documentation: Option<String>,
    /// Text inserted instead of the label.
    pub insert_text: Option<String>,
}

/// Markdown about the thing at a position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hover {
    pub range: TextRange,
    pub markdown: String,
}

/// What an outline entry is, for the editor's icon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SymbolKind {
    Policy,
    Rule,
    Statement,
    Metric,
    Patch,
}

/// An outline entry: a declaration and what it contains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Symbol {
    pub name: String,
    pub detail: Option<String>,
    pub kind: SymbolKind,
    /// The whole declaration.
    pub range: TextRange,
    /// The part to select when the symbol is chosen (its name).
    pub selection_range: TextRange,
    pub children: Vec<Symbol>,
}

/// Semantic token types, in the order of the legend the server announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Keyword,
    /// A metric (built-in or declared) or a patch.
    Variable,
    Function,
    /// A status or event reason, a mode.
    EnumMember,
    /// A kind or a unit.
    Type,
    /// A policy's name.
    Namespace,
    /// A label key.
    Property,
    String,
    Number,
    Comment,
    Operator,
}

impl TokenKind {
    /// The legend, in the order of the variants: a token's type is its index.
    pub const LEGEND: [TokenKind; 11] = [
        TokenKind::Keyword,
        TokenKind::Variable,
        TokenKind::Function,
        TokenKind::EnumMember,
        TokenKind::Type,
        TokenKind::Namespace,
        TokenKind::Property,
        TokenKind::String,
        TokenKind::Number,
        TokenKind::Comment,
        TokenKind::Operator,
    ];
}

/// A span of text and how to colour it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub range: TextRange,
    pub kind: TokenKind,
}

/// Replace `range` with `new_text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextEdit {
    pub range: TextRange,
    pub new_text: String,
}

/// A quick fix: edits of this document, and the code of the diagnostic it fixes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeAction {
    pub title: String,
    pub edits: Vec<TextEdit>,
    /// The diagnostic fixed, so the editor can show the fix beside it.
    pub fixes: Option<Diagnostic>,
    /// The fix to apply with one keystroke when there are several.
    pub preferred: bool,
}

/// A language's intelligence, as pure functions of a document's text.
///
/// Every method but [`Analysis::diagnostics`] has a default that offers
/// nothing, so a language can grow feature by feature.
pub trait Analysis {
    /// Every problem in the document, from scratch.
    fn diagnostics(&self, source: Source<'_>) -> Vec<Diagnostic>;

    fn completions(&self, _source: Source<'_>, _offset: usize) -> Vec<Completion> {
        Vec::new()
    }

    /// The text a completion at `offset` replaces: the word or number being
    /// typed up to the cursor, by the language's own lexer (editors' word
    /// patterns differ: VS Code's YAML one splits `debug-logging` at `-`).
    /// An empty range at the cursor inserts; `None` leaves it to the editor.
    fn completion_range(&self, _source: Source<'_>, _offset: usize) -> Option<TextRange> {
        None
    }

    fn hover(&self, _source: Source<'_>, _offset: usize) -> Option<Hover> {
        None
    }

    /// Where the name at `offset` is declared.
    fn definition(&self, _source: Source<'_>, _offset: usize) -> Option<TextRange> {
        None
    }

    /// Every use of the name at `offset`, and its declaration if asked.
    fn references(
        &self,
        _source: Source<'_>,
        _offset: usize,
        _include_declaration: bool,
    ) -> Vec<TextRange> {
        Vec::new()
    }

    /// The range of the name at `offset`, if it can be renamed; otherwise why not.
    fn prepare_rename(&self, _source: Source<'_>, _offset: usize) -> Result<TextRange, String> {
        Err("nothing to rename here".into())
    }

    /// The edits that rename the name at `offset` everywhere.
    fn rename(
        &self,
        _source: Source<'_>,
        _offset: usize,
        _new_name: &str,
    ) -> Result<Vec<TextEdit>, String> {
        Err("nothing to rename here".into())
    }

    /// The whole document formatted, or `None` when it cannot be (it does
    /// not parse).
    fn format(&self, _source: Source<'_>) -> Option<String> {
        None
    }

    fn symbols(&self, _source: Source<'_>) -> Vec<Symbol> {
        Vec::new()
    }

    /// Tokens in source order, not overlapping.
    fn semantic_tokens(&self, _source: Source<'_>) -> Vec<Token> {
        Vec::new()
    }

    /// Fixes for the problems that touch `range`.
    fn code_actions(&self, _source: Source<'_>, _range: TextRange) -> Vec<CodeAction> {
        Vec::new()
    }
}
