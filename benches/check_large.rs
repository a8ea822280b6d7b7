//! Whole-command benchmarks of `kubeskippy check` on a large file that draws
//! many diagnostics (issue 13, item 3): 1,000 policies of ten rules, each with
//! a warning (W0113) and every fifth with an error (E0101), in both output
//! formats. Each iteration reads the file, compiles it and writes every
//! diagnostic, as the command does; only the terminal is replaced by a buffer.
//!
//! Human output rendered each diagnostic from the whole source once, which
//! made it quadratic in the number of diagnostics; the target is human output
//! as fast as JSON. `benches/check_vs_promtool.py` compares the binary with
//! `promtool check rules` on the same intent (docs/performance.md).
//!
//! Run with `cargo bench --bench check_large`.

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use kubeskippy::cli::check::{run, CheckArgs, Color, Format};
use std::path::PathBuf;
use std::time::Duration;

// `gen` is a keyword from edition 2024 on, so the module has another name.
#[path = "gen/noisy.rs"]
mod noisy;

const POLICIES: usize = 1_000;

fn benches(c: &mut Criterion) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("check_large");
    std::fs::create_dir_all(&dir).expect("create the folder");
    let file = dir.join("noisy.skippy");
    std::fs::write(&file, noisy::noisy(POLICIES)).expect("write the file");

    let mut group = c.benchmark_group("check/1000-policies-with-diagnostics");
    group
        .throughput(Throughput::Elements((POLICIES * 10) as u64))
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(8));
    for (label, format) in [("human", Format::Human), ("json", Format::Json)] {
        let args = CheckArgs {
            paths: vec![file.clone()],
            format,
            safety: None,
            deny_warnings: false,
            color: Color::Never,
        };
        // What one run writes, checked once: every diagnostic, no colour.
        let (mut out, mut err) = (Vec::new(), Vec::new());
        assert_eq!(run(&args, &mut out, &mut err, false), 1, "errors found");
        let summary = String::from_utf8_lossy(&err);
        let expected = format!(
            "{} errors, {POLICIES} warnings",
            POLICIES / noisy::ERROR_EVERY
        );
        assert!(summary.contains(&expected), "{summary}");
        group.bench_function(label, |b| {
            b.iter(|| {
                out.clear();
                err.clear();
                run(&args, &mut out, &mut err, false)
            })
        });
    }
    group.finish();
}

criterion_group!(check_large, benches);
criterion_main!(check_large);
