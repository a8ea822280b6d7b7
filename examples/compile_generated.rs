//! Compiles a generated Skippy file (see `benches/gen/mod.rs`), for profiling
//! (docs/performance.md):
//!
//! ```text
//! cargo build --release --example compile_generated
//! target/release/examples/compile_generated [POLICIES] [parse|check|compile] [ITERATIONS]
//! valgrind --tool=callgrind --toggle-collect='kubeskippy::check::compile' \
//!     target/release/examples/compile_generated 1000 compile 1
//! ```
//!
//! Defaults: 1,000 policies (10,000 rules), `compile`, one iteration. Prints the
//! file's size and the mean time per iteration.

use kubeskippy::check::{check, compile};
use kubeskippy::safety::SafetyConfig;
use kubeskippy::syntax::parse;
use std::hint::black_box;
use std::time::Instant;

#[path = "../benches/gen/mod.rs"]
mod generator;

fn main() {
    let mut args = std::env::args().skip(1);
    let policies: usize = args
        .next()
        .map_or(1_000, |a| a.parse().expect("POLICIES is a number"));
    let stage = args.next().unwrap_or_else(|| "compile".into());
    let iterations: u32 = args
        .next()
        .map_or(1, |a| a.parse().expect("ITERATIONS is a number"));
    let source = generator::generate(policies);
    let config = SafetyConfig::default();
    // Parsed ahead only for `check`, so that it is not in the other profiles.
    let parsed = (stage == "check").then(|| parse(&source));
    let start = Instant::now();
    for _ in 0..iterations {
        match stage.as_str() {
            "parse" => drop(black_box(parse(black_box(&source)))),
            "check" => {
                let file = &parsed.as_ref().expect("parsed for check").file;
                drop(black_box(check(black_box(file), &source, &config)))
            }
            "compile" => drop(black_box(compile(black_box(&source), &config))),
            other => panic!("unknown stage `{other}`: parse, check or compile"),
        }
    }
    let each = start.elapsed() / iterations.max(1);
    println!(
        "{policies} policies ({} rules, {} bytes): {stage} {each:?} per iteration",
        policies * generator::RULES_PER_POLICY,
        source.len()
    );
}
