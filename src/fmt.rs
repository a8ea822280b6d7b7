//! The canonical formatter, for `kubeskippy fmt` and the language server's
//! document formatting.
//!
//! Invariants: prints from the AST, never from re-lexed text, and only formats a
//! file that parses (a partial tree would drop what did not parse); the output
//! parses to the same declarations, so it checks to the same IR; every comment
//! is kept exactly once; and formatting is idempotent. Pure: no I/O.
//!
//! The canonical layout: declarations in source order with one blank line
//! between them; one statement per line, indented by two spaces; the author's
//! blank lines between statements kept (at most one); single spaces around
//! operators and keywords; literals exactly as written; comments where the
//! author put them, on their own line or two spaces after the code they follow.

mod layout;
mod print;
#[cfg(test)]
mod tests;

use crate::diagnostic::Diagnostic;
use crate::syntax::{self, ast};

/// Formats a `.skippy` text into its canonical form.
///
/// Returns the syntax diagnostics instead when the text does not parse. Check
/// errors and warnings do not matter here: a file that parses formats.
pub fn format(source: &str) -> Result<String, Vec<Diagnostic>> {
    let parsed = syntax::parse(source);
    if parsed.diagnostics.iter().any(Diagnostic::is_error) {
        return Err(parsed.diagnostics);
    }
    Ok(format_file(&parsed.file, source))
}

/// Formats a file already parsed from `source` without syntax errors (for a
/// caller that holds the tree, such as the language server).
///
/// `source` must be the text `file` was parsed from: comments and blank lines
/// are placed by the spans of the tree.
pub fn format_file(file: &ast::File, source: &str) -> String {
    layout::file(file, source)
}
