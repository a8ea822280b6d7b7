//! Semantic tokens: the lexer's tokens, with words told apart by the catalog,
//! the file's declarations and the word before them.

use super::declared::declarations;
use super::lexer::{lex, Lexeme};
use crate::catalog;
use crate::syntax::keywords;
use kubeskippy_lsp::{Token, TokenKind};
use std::collections::HashSet;

/// The tokens of `text` to colour, in order.
pub fn semantic_tokens(text: &str) -> Vec<Token> {
    let declared: HashSet<&str> = declarations(text).iter().map(|d| d.name).collect();
    let keywords: HashSet<&str> = keywords().chain(["true", "false"]).collect();
    let tokens = lex(text);
    let mut out = Vec::with_capacity(tokens.len());
    let mut prev_word: Option<&str> = None;
    let mut line_first_word: Option<&str> = None;
    for (i, token) in tokens.iter().enumerate() {
        let word = token.text(text);
        let kind = match token.kind {
            Lexeme::End => None,
            Lexeme::Comment => Some(TokenKind::Comment),
            Lexeme::String => Some(TokenKind::String),
            Lexeme::Number => Some(TokenKind::Number),
            // Brackets are left to the editor's bracket colouring.
            Lexeme::Punct if matches!(word, "{" | "}" | "(" | ")" | "[" | "]" | "," | ":") => None,
            Lexeme::Punct => Some(TokenKind::Operator),
            Lexeme::Word => {
                let next = tokens.get(i + 1).map(|t| t.text(text));
                Some(word_kind(
                    word,
                    prev_word,
                    next,
                    line_first_word,
                    &keywords,
                    &declared,
                ))
            }
        };
        match token.kind {
            Lexeme::End => line_first_word = None,
            Lexeme::Punct if matches!(word, "{" | "}") => line_first_word = None,
            Lexeme::Word => {
                line_first_word.get_or_insert(word);
            }
            _ => {}
        }
        prev_word = match token.kind {
            Lexeme::Word | Lexeme::Punct => Some(word),
            _ => None,
        };
        if let Some(kind) = kind {
            out.push(Token {
                range: token.start..token.end,
                kind,
            });
        }
    }
    out
}

fn word_kind(
    word: &str,
    prev: Option<&str>,
    next: Option<&str>,
    first: Option<&str>,
    keywords: &HashSet<&str>,
    declared: &HashSet<&str>,
) -> TokenKind {
    match prev {
        Some("policy") => return TokenKind::Namespace,
        Some("metric" | "patch") => return TokenKind::Variable,
        Some("select") => return TokenKind::Type,
        Some(":") if first == Some("metric") => return TokenKind::Type,
        Some("is" | "was" | "event" | "mode") => return TokenKind::EnumMember,
        _ => {}
    }
    if next == Some("(") && catalog::FUNCTIONS.iter().any(|f| f.name == word) {
        return TokenKind::Function;
    }
    if keywords.contains(word) {
        return TokenKind::Keyword;
    }
    if catalog::metric(word).is_some() || declared.contains(word) {
        return TokenKind::Variable;
    }
    if first == Some("select") {
        return if matches!(prev, Some("in")) {
            TokenKind::Namespace
        } else {
            TokenKind::Property
        };
    }
    TokenKind::Variable
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_by_role() {
        let text = "policy p { select pods where app = \"x\"\n when max(cpu_percent, 5m) > 80% then scale up 1 max 3 # c\n}";
        let kinds: Vec<(&str, TokenKind)> = semantic_tokens(text)
            .into_iter()
            .map(|t| (&text[t.range], t.kind))
            .collect();
        use TokenKind::*;
        assert_eq!(
            kinds,
            [
                ("policy", Keyword),
                ("p", Namespace),
                ("select", Keyword),
                ("pods", Type),
                ("where", Keyword),
                ("app", Property),
                ("=", Operator),
                ("\"x\"", String),
                ("when", Keyword),
                ("max", Function),
                ("cpu_percent", Variable),
                ("5m", Number),
                (">", Operator),
                ("80%", Number),
                ("then", Keyword),
                ("scale", Keyword),
                ("up", Keyword),
                ("1", Number),
                ("max", Keyword),
                ("3", Number),
                ("# c", Comment),
            ]
        );
    }
}
