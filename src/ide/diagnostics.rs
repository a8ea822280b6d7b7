//! The checker's diagnostics in the language server's terms: the code, the
//! severity, the primary span, the related spans with their labels, and the
//! help line (shown by editors as related information at the primary span).

use crate::diagnostic::{Diagnostic, Severity};
use kubeskippy_lsp as lsp;

pub(crate) fn to_analysis(d: &Diagnostic) -> lsp::Diagnostic {
    let mut related: Vec<lsp::Related> = d
        .related
        .iter()
        .map(|(span, label)| lsp::Related {
            range: span.start..span.end,
            message: label.clone(),
        })
        .collect();
    if let Some(help) = &d.help {
        related.push(lsp::Related {
            range: d.span.start..d.span.end,
            message: format!("help: {help}"),
        });
    }
    let message = match &d.label {
        Some(label) if !label.is_empty() => format!("{}\n{label}", d.message),
        _ => d.message.clone(),
    };
    lsp::Diagnostic {
        range: d.span.start..d.span.end,
        severity: match d.severity {
            Severity::Error => lsp::Severity::Error,
            Severity::Warning => lsp::Severity::Warning,
        },
        code: d.code.as_str().to_string(),
        message,
        related,
    }
}
