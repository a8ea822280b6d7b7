//! Language-server latency on a 1,000-rule file (100 generated policies, see
//! `benches/gen/mod.rs`), measured through the same calls the server makes:
//!
//! - `diagnostics after edit`: apply a one-character incremental change to the
//!   open document, check the whole text and convert the diagnostics to LSP
//!   positions — what happens once typing pauses (target: under 20 ms);
//! - `completion`: proposals after `then ` in a rule in the middle of the
//!   file, and on the last line (target: under 5 ms);
//! - `hover`: on a metric, for comparison;
//! - `largest document`: the diagnostics of the largest document the server
//!   analyses (`Config::max_document_bytes`), after an edit: how long the
//!   one-threaded server can be busy with one document.
//!
//! Run with `cargo bench --bench lsp`. Results are in `docs/lsp.md`.

use criterion::{criterion_group, criterion_main, Criterion};
use kubeskippy::ide::Ide;
use kubeskippy_lsp::lsp_types::{Position, Range, TextDocumentContentChangeEvent, Url};
use kubeskippy_lsp::{Analysis, Document, DocumentKind};
use std::hint::black_box;
use std::time::Duration;

// `gen` is a keyword from edition 2024 on, so the module has another name.
#[path = "gen/mod.rs"]
mod generator;

/// 100 policies of 10 rules.
const POLICIES: usize = 100;

fn benches(c: &mut Criterion) {
    let source = generator::generate(POLICIES);
    let ide = Ide::default();
    let uri = Url::parse("file:///bench.skippy").expect("a valid URI");
    let mut doc = Document::new(source.clone(), 1, DocumentKind::Skippy);
    assert!(
        ide.diagnostics(doc.source()).is_empty(),
        "the generated file checks clean"
    );

    // The first digit of a threshold in the middle of the file: replacing it
    // with another digit keeps the file valid, so every iteration does the
    // same work.
    let middle = source.len() / 2;
    let digit = middle
        + source[middle..]
            .find(" > ")
            .map(|i| i + 3)
            .expect("a comparison");
    let position = doc.position(digit);
    let mut flip = false;
    let mut group = c.benchmark_group("lsp/1000-rules");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    group.bench_function("diagnostics after edit", |b| {
        b.iter(|| {
            flip = !flip;
            doc.apply_change(TextDocumentContentChangeEvent {
                range: Some(Range::new(
                    position,
                    Position::new(position.line, position.character + 1),
                )),
                range_length: None,
                text: if flip { "7" } else { "8" }.to_string(),
            });
            let diagnostics = ide.diagnostics(doc.source());
            black_box(kubeskippy_lsp::lsp_diagnostics(&doc, &uri, &diagnostics))
        })
    });

    let then = source[middle..].find("then ").expect("a rule") + middle + "then ".len();
    let last_then = source.rfind("then ").expect("a rule") + "then ".len();
    group.bench_function("completion (middle)", |b| {
        b.iter(|| black_box(ide.completions(doc.source(), black_box(then))))
    });
    group.bench_function("completion (end)", |b| {
        b.iter(|| black_box(ide.completions(doc.source(), black_box(last_then))))
    });
    let metric = source[middle..].find("when ").expect("a rule") + middle + "when ".len() + 1;
    group.bench_function("hover", |b| {
        b.iter(|| black_box(ide.hover(doc.source(), black_box(metric))))
    });
    group.finish();

    let limit = kubeskippy_lsp::Config::default().max_document_bytes;
    let per_policy = source.len() / POLICIES;
    let largest = generator::generate(limit / per_policy - 1);
    assert!(largest.len() <= limit, "{} bytes", largest.len());
    let doc = Document::new(largest, 1, DocumentKind::Skippy);
    let mut group = c.benchmark_group("lsp/largest-document");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10));
    group.bench_function("diagnostics", |b| {
        b.iter(|| {
            let diagnostics = ide.diagnostics(doc.source());
            black_box(kubeskippy_lsp::lsp_diagnostics(&doc, &uri, &diagnostics))
        })
    });
    group.finish();
}

criterion_group!(lsp_benches, benches);
criterion_main!(lsp_benches);
