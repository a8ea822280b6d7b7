//! The outline: declarations, and each policy's statements and rules.

use crate::syntax::ast::{Item, Statement};
use crate::syntax::parse;
use kubeskippy_lsp::{Symbol, SymbolKind};

/// Longest rule text shown in the outline before it is cut.
const MAX_NAME: usize = 60;

/// The outline of `text`: declarations, and each policy with its statements.
pub fn symbols(text: &str) -> Vec<Symbol> {
    let parsed = parse(text);
    parsed
        .file
        .items
        .iter()
        .map(|item| match item {
            Item::Metric(m) => Symbol {
                name: m.name.name.clone(),
                detail: Some(format!("metric: {}", m.unit.name)),
                kind: SymbolKind::Metric,
                range: m.span.start..m.span.end,
                selection_range: m.name.span.start..m.name.span.end,
                children: Vec::new(),
            },
            Item::Patch(p) => Symbol {
                name: p.name.name.clone(),
                detail: Some(format!("patch: {}", p.patch_type.name)),
                kind: SymbolKind::Patch,
                range: p.span.start..p.span.end,
                selection_range: p.name.span.start..p.name.span.end,
                children: Vec::new(),
            },
            Item::Policy(policy) => Symbol {
                name: policy.name.name.clone(),
                detail: Some("policy".into()),
                kind: SymbolKind::Policy,
                range: policy.span.start..policy.span.end,
                selection_range: policy.name.span.start..policy.name.span.end,
                children: policy
                    .statements
                    .iter()
                    .map(|statement| {
                        let span = statement.span();
                        let kind = match statement {
                            Statement::Rule(_) => SymbolKind::Rule,
                            _ => SymbolKind::Statement,
                        };
                        Symbol {
                            name: shortened(text.get(span.start..span.end).unwrap_or("")),
                            detail: None,
                            kind,
                            range: span.start..span.end,
                            selection_range: span.start..span.end,
                            children: Vec::new(),
                        }
                    })
                    .collect(),
            },
        })
        .collect()
}

/// One line of at most [`MAX_NAME`] characters.
fn shortened(text: &str) -> String {
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= MAX_NAME {
        return line;
    }
    let mut cut: String = line.chars().take(MAX_NAME - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_with_their_rules() {
        let text = "patch fix: merge \"{}\"\npolicy p {\n  select pods\n  when status is OOMKilled then delete\n}\n";
        let symbols = symbols(text);
        assert_eq!(symbols.len(), 2);
        let names: Vec<&str> = symbols[1]
            .children
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(
            names,
            ["select pods", "when status is OOMKilled then delete"]
        );
        assert_eq!(symbols[1].children[1].kind, SymbolKind::Rule);
    }
}
