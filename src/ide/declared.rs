//! The `metric` and `patch` declarations of a text, found line by line without
//! parsing, so that completion and hover stay fast on large files and work
//! while the file does not parse.
//!
//! A statement inside a policy never starts with `metric` or `patch`, so a line
//! that does is a declaration.

use super::lexer::{lex, Lexeme};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeclKind {
    Metric,
    Patch,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Declared<'a> {
    pub kind: DeclKind,
    pub name: &'a str,
    /// `ratio` for a metric, `merge` for a patch.
    pub ty: Option<&'a str>,
    /// The PromQL query or the patch JSON, as written between the quotes.
    pub body: Option<&'a str>,
}

/// Every declaration of `text`, in order.
pub(crate) fn declarations(text: &str) -> Vec<Declared<'_>> {
    let mut out = Vec::new();
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if trimmed.starts_with("metric ") || trimmed.starts_with("patch ") {
            if let Some(declared) = declaration(line) {
                out.push(declared);
            }
        }
    }
    out
}

fn declaration(line: &str) -> Option<Declared<'_>> {
    let tokens = lex(line);
    let mut words = tokens.iter().filter(|t| t.kind == Lexeme::Word);
    let kind = match words.next()?.text(line) {
        "metric" => DeclKind::Metric,
        _ => DeclKind::Patch,
    };
    let name = words.next()?.text(line);
    // `unbounded ratio`: the unit is the word after the modifier.
    let ty = match words.next().map(|t| t.text(line)) {
        Some("unbounded" | "counter") if kind == DeclKind::Metric => {
            words.next().map(|t| t.text(line))
        }
        ty => ty,
    };
    let body = tokens.iter().find(|t| t.kind == Lexeme::String).map(|t| {
        let raw = t.text(line);
        let inner = raw.strip_prefix('"').unwrap_or(raw);
        inner.strip_suffix('"').unwrap_or(inner)
    });
    Some(Declared {
        kind,
        name,
        ty,
        body,
    })
}

/// The declared unit of metric `name`, if `text` declares it.
pub(crate) fn metric_unit<'a>(declared: &[Declared<'a>], name: &str) -> Option<&'a str> {
    declared
        .iter()
        .find(|d| d.kind == DeclKind::Metric && d.name == name)
        .and_then(|d| d.ty)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_declarations_not_actions() {
        let text = "metric q: count = promql \"up\"\npolicy p {\n  when q > 1 then patch x\n}\npatch x: merge \"{}\"\n";
        let found = declarations(text);
        assert_eq!(found.len(), 2);
        assert_eq!(
            (found[0].name, found[0].ty, found[0].body),
            ("q", Some("count"), Some("up"))
        );
        assert_eq!((found[1].kind, found[1].name), (DeclKind::Patch, "x"));
        let unbounded = declarations("metric q: unbounded ratio = promql \"up\"\n");
        assert_eq!(unbounded[0].ty, Some("ratio"));
    }
}
