//! Fuzzes the formatter: any text that formats must format to a fixed point
//! (formatting the output again changes nothing), to the same program, and
//! to the same diagnostic codes (a layout change must not add, drop or
//! change a warning or an error). Text that does not parse is refused with
//! diagnostics, never a panic.

#![no_main]

use kubeskippy::check::{compile, Compiled};
use kubeskippy::fmt::format;
use kubeskippy::safety::SafetyConfig;
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

static CONFIG: LazyLock<SafetyConfig> = LazyLock::new(SafetyConfig::default);

/// The codes of a compile's diagnostics, in a stable order.
fn codes(compiled: &Compiled) -> Vec<&'static str> {
    let mut codes: Vec<_> = compiled
        .diagnostics
        .iter()
        .map(|d| d.code.as_str())
        .collect();
    codes.sort_unstable();
    codes
}

fuzz_target!(|data: &[u8]| {
    let source = String::from_utf8_lossy(data);
    let Ok(once) = format(&source) else {
        return;
    };
    let twice = match format(&once) {
        Ok(twice) => twice,
        Err(diagnostics) => panic!("the formatted text does not parse: {diagnostics:?}\n{once}"),
    };
    assert_eq!(once, twice, "formatting is not idempotent");
    let before = compile(&source, &CONFIG);
    let after = compile(&once, &CONFIG);
    assert_eq!(
        before.program, after.program,
        "the program changed:\n{once}"
    );
    assert_eq!(
        codes(&before),
        codes(&after),
        "the diagnostics changed:\n{once}"
    );
});
