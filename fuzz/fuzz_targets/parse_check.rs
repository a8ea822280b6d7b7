//! Fuzzes the whole front end: arbitrary bytes, made UTF-8 lossily, through
//! `check::compile` (scanning, pest, AST building, checking), and its
//! diagnostics through the human renderer (miette, which panics on a label
//! past column 65,535 unless the line is cut). The invariant under test:
//! neither panics nor overflows the stack.

#![no_main]

use kubeskippy::check::compile;
use kubeskippy::diagnostic::render;
use kubeskippy::safety::SafetyConfig;
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

static CONFIG: LazyLock<SafetyConfig> = LazyLock::new(SafetyConfig::default);

fuzz_target!(|data: &[u8]| {
    let source = String::from_utf8_lossy(data);
    let compiled = compile(&source, &CONFIG);
    std::hint::black_box(compiled.has_errors());
    std::hint::black_box(render(&compiled.diagnostics, "fuzz.skippy", &source, false));
});
