//! Compile-time benchmarks: parse only, check only and parse+check of generated
//! Skippy files (see `benches/gen/mod.rs`), for a 200-rule file (20 policies)
//! and a 10,000-rule file (1,000 policies). Throughput is in rules.
//!
//! Targets (docs/performance.md): the 10,000-rule file in under 100 ms, the
//! 200-rule file in under 5 ms, parse+check.
//!
//! Run with `cargo bench --bench compile`; sample sizes are kept modest so the
//! whole run takes about a minute and a half.

use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use kubeskippy::check::{check, compile};
use kubeskippy::safety::SafetyConfig;
use kubeskippy::syntax::parse;
use std::hint::black_box;
use std::time::Duration;

// `gen` is a keyword from edition 2024 on, so the module has another name.
#[path = "gen/mod.rs"]
mod generator;

/// (policies, label) of the files measured.
const SIZES: &[(usize, &str)] = &[(20, "200-rules"), (1_000, "10000-rules")];

fn benches(c: &mut Criterion) {
    let config = SafetyConfig::default();
    for &(policies, label) in SIZES {
        let source = generator::generate(policies);
        let rules = (policies * generator::RULES_PER_POLICY) as u64;

        // A benchmark of a file with errors would measure error recovery.
        let compiled = compile(&source, &config);
        assert!(
            !compiled.has_errors(),
            "the generated {label} file has errors"
        );
        let lowered: usize = compiled
            .program
            .policies
            .iter()
            .map(|p| p.rules.len())
            .sum();
        assert_eq!(lowered as u64, rules, "every generated rule is lowered");
        let parsed = parse(&source);

        let mut group = c.benchmark_group(format!("compile/{label}"));
        group.throughput(Throughput::Elements(rules));
        if policies >= 1_000 {
            // ~10-50 ms per iteration: few, equal samples.
            group
                .sample_size(10)
                .sampling_mode(SamplingMode::Flat)
                .warm_up_time(Duration::from_secs(2))
                .measurement_time(Duration::from_secs(8));
        } else {
            group
                .sample_size(50)
                .warm_up_time(Duration::from_secs(1))
                .measurement_time(Duration::from_secs(4));
        }
        group.bench_with_input(BenchmarkId::new("parse", rules), &source, |b, s| {
            b.iter(|| parse(black_box(s)))
        });
        group.bench_with_input(BenchmarkId::new("check", rules), &parsed, |b, p| {
            b.iter(|| check(black_box(&p.file), black_box(&source), &config))
        });
        group.bench_with_input(BenchmarkId::new("parse+check", rules), &source, |b, s| {
            b.iter(|| compile(black_box(s), &config))
        });
        group.finish();
    }
}

criterion_group!(compile_benches, benches);
criterion_main!(compile_benches);
