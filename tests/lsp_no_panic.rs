//! The language features never panic, whatever the text and the offset: every
//! `Analysis` method of `kubeskippy::ide::Ide`, on `.skippy` text and on YAML,
//! over texts assembled from Skippy's and YAML's pieces, stray quotes and
//! brackets, and multi-byte characters, at offsets in, at the end of, past the
//! end of and inside the characters of the text.

use kubeskippy::ide::Ide;
use kubeskippy_lsp::{Analysis, DocumentKind, Source};
use proptest::prelude::*;

const PIECES: &[&str] = &[
    "policy p ",
    "{",
    "}",
    "\n",
    "  ",
    ";",
    "select ",
    "pods ",
    "nodes ",
    "deployments ",
    "in shop ",
    "where app = \"x\" ",
    "mode auto",
    "limit 5 per 1h",
    "cooldown ",
    "when ",
    "then ",
    "for ",
    "3m ",
    "85% ",
    "1.5Gi ",
    "500m ",
    "memory_percent ",
    "restarts ",
    "avg(",
    "changes(",
    " - ",
    " / ",
    "available_replicas != replicas ",
    "cpu_percent, 5m) ",
    "> ",
    ">= ",
    "status is ",
    "CrashLoopBackOff ",
    "event ",
    "BackOff count > 3 within 5m ",
    "and ",
    "or ",
    "not ",
    "(",
    ")",
    "restart ",
    "rolling ",
    "delete ",
    "scale up 2 max 5 ",
    "patch ",
    "fix ",
    "ask ai among [",
    ", ",
    "]",
    "notify ",
    "\"",
    "\\",
    "#",
    "metric q: count = promql \"up\"\n",
    "patch fix: merge \"{}\"\n",
    "q ",
    "priority 3",
    "é",
    "😀",
    "\r\n",
    "\t",
    "---\n",
    "kind: HealingPolicy\n",
    "spec:\n",
    "  policy: |\n",
    "  policy: |2-\n",
    "    ",
    "apiVersion: kubeskippy.io/v1\n",
];

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            8 => prop::sample::select(PIECES).prop_map(str::to_string),
            1 => "\\PC{0,3}",
        ],
        0..80,
    )
    .prop_map(|pieces| pieces.concat())
}

fn every_feature(ide: &Ide, source: Source<'_>, offset: usize) {
    let end = offset.saturating_add(7);
    let _ = ide.diagnostics(source);
    let _ = ide.completions(source, offset);
    let _ = ide.completion_range(source, offset);
    let _ = ide.hover(source, offset);
    let _ = ide.definition(source, offset);
    let _ = ide.references(source, offset, true);
    let _ = ide.prepare_rename(source, offset);
    let _ = ide.rename(source, offset, "renamed");
    let _ = ide.rename(source, offset, "when");
    let _ = ide.format(source);
    let _ = ide.symbols(source);
    let _ = ide.semantic_tokens(source);
    let _ = ide.code_actions(source, offset..end);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn no_feature_panics(text in text(), picks in prop::collection::vec(0usize..1000, 3)) {
        let ide = Ide::default();
        for kind in [DocumentKind::Skippy, DocumentKind::Yaml] {
            let source = Source { text: &text, kind };
            let len = text.len();
            for offset in [0, len, len + 3]
                .into_iter()
                .chain(picks.iter().map(|p| p % (len + 1)))
            {
                every_feature(&ide, source, offset);
            }
        }
    }
}

/// A YAML policy in each style, padded by different block indentations,
/// with every offset.
#[test]
fn every_offset_of_an_embedded_policy() {
    let ide = Ide::default();
    let literal = "kind: HealingPolicy\nspec:\n  policy: |\n    patch fix: merge \"{}\"\n    policy p {\n      select deployments\n\n      when restarts > 3 then patch fix\n   }\n";
    // The other styles of `spec.policy`, with escapes and folded lines
    // where a feature's offsets could fall between two bytes of the text.
    let folded = "kind: HealingPolicy\nspec:\n  policy: >-\n    patch fix: merge \"{}\"\n    policy p { select deployments;\n\n      when restarts > 3 then patch fix\n    }\n";
    let double = "kind: HealingPolicy\nspec:\n  policy: \"patch fix: merge \\\"{}\\\"\\npolicy p {\\\n  select deployments\n\n  when restarts > 3 then patch \\x66ix }\"\n";
    let single = "kind: HealingPolicy\nspec:\n  policy: 'policy p { select deployments where app = \"it''s\"\n\n    when restarts > 3 then restart }'\n";
    for yaml in [literal, folded, double, single] {
        assert_eq!(kubeskippy::ide::embedded::policies(yaml).len(), 1, "{yaml}");
        for offset in 0..=yaml.len() + 1 {
            every_feature(
                &ide,
                Source {
                    text: yaml,
                    kind: DocumentKind::Yaml,
                },
                offset,
            );
        }
    }
}
