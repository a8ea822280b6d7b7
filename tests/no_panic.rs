//! The compiler never panics, whatever the input (the invariant of `syntax` and
//! `check`): `compile` runs over a few thousand inputs made by mutating the
//! corpus, the shipped policies and generated files with a fixed-seed PRNG, and
//! over hand-written edge cases. A panic is reported with the (minimised) input
//! that caused it.
//!
//! Stack overflows cannot be caught with `catch_unwind` (they abort the
//! process), so deep nesting is tested apart: moderate depths in-process, deep
//! ones in a child process (this test binary, re-run), see `nesting`.

#[path = "../benches/gen/mod.rs"]
mod generator;

use kubeskippy::check::compile;
use kubeskippy::safety::SafetyConfig;
use std::cell::RefCell;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::sync::Once;
use std::time::{Duration, Instant};

// ------------------------------------------------------------------ the PRNG

/// xorshift64* (Vigna): small, fast and good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`0` when `n` is 0).
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    /// True with probability `percent`/100.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

// ------------------------------------------------------- running one input

thread_local! {
    /// Set while this thread runs inputs that may panic: the panic hook then
    /// records the panic instead of printing it.
    static QUIET: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs (once) a panic hook that is quiet on threads inside `try_compile`
/// and records where the panic happened; other panics print as usual.
fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let quiet = QUIET.with(|q| {
                let mut q = q.borrow_mut();
                match q.as_mut() {
                    Some(slot) => {
                        let at = info.location().map_or_else(String::new, |l| {
                            format!(" at {}:{}:{}", l.file(), l.line(), l.column())
                        });
                        *slot = format!("{}{at}", payload_text(info.payload()));
                        true
                    }
                    None => false,
                }
            });
            if !quiet {
                previous(info);
            }
        }));
    });
}

fn payload_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a panic without a message)".to_string()
    }
}

/// Compiles `source`; `Err` holds the panic's message and location.
fn try_compile(source: &str) -> Result<(), String> {
    install_hook();
    QUIET.with(|q| *q.borrow_mut() = Some(String::new()));
    let config = SafetyConfig::default();
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        let compiled = compile(source, &config);
        // Touch the results, as a caller would.
        std::hint::black_box((compiled.has_errors(), compiled.program.policies.len()));
    }));
    let message = QUIET.with(|q| q.borrow_mut().take()).unwrap_or_default();
    result.map_err(|_| message)
}

/// Shrinks a panicking input: drops lines, then ever smaller byte ranges (on
/// char boundaries), while it still panics, within a time budget.
fn minimise(source: &str) -> String {
    let panics = |s: &str| try_compile(s).is_err();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut best = source.to_string();
    // Lines.
    let mut i = 0;
    loop {
        let lines: Vec<&str> = best.split_inclusive('\n').collect();
        if i >= lines.len() || Instant::now() > deadline {
            break;
        }
        let candidate: String = lines
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, l)| *l)
            .collect();
        if panics(&candidate) {
            best = candidate;
        } else {
            i += 1;
        }
    }
    // Characters, in chunks that halve.
    let mut chunk = best.len().max(1);
    while chunk >= 1 && Instant::now() < deadline {
        let mut start = 0;
        while start < best.len() && Instant::now() < deadline {
            let mut end = (start + chunk).min(best.len());
            while !best.is_char_boundary(end) {
                end += 1;
            }
            let candidate = format!("{}{}", &best[..start], &best[end..]);
            if !candidate.is_empty() && panics(&candidate) {
                best = candidate;
            } else {
                start = end;
            }
        }
        chunk /= 2;
    }
    best
}

/// Known panics, told apart by the panic message and the input, each with a
/// test of its own. None is known: both found so far (non-ASCII text in the
/// declaration scanner, stack overflow on deep nesting) are fixed, and their
/// tests below now guard them. Add an entry only with its bug's test.
fn known_bug(_source: &str, _message: &str) -> Option<&'static str> {
    None
}

// ------------------------------------------------------------ the inputs

/// Inline seeds, so the test is useful even without the corpus directories.
const INLINE_SEEDS: &[&str] = &[
    r#"policy checkout-memory {
  select pods in shop where app = "checkout"
  when memory_percent > 85 for 3m then restart rolling
}
"#,
    r#"metric error_rate: ratio = promql "sum by (pod) (rate(http_requests_total{code=~\"5..\", namespace=\"$namespace\"}[5m]))"
patch debug-logging: merge "{\"spec\":{\"template\":{\"metadata\":{\"annotations\":{\"a\":\"b\"}}}}}"
policy memory-leak-healing {
  select pods in shop where app = "checkout", tier != "db"
  mode auto; limit 5 per 1h; cooldown 10m
  when increase(restarts, 5m) > 3 then patch debug-logging
  when status is CrashLoopBackOff for 1m then delete
  when predict(memory_percent, 30m) > 100% for 5m then restart rolling priority 8
  when error_rate > 5% for 2m then ask ai among [restart rolling, scale up 2, rollback]
  when event OOMKilling count >= 2 within 10m then set memory_limit = current * 1.5 max 2Gi
  when not (cpu_cores > 500m or ready == false) and trend(memory_bytes, 10m) > 10Mi/m then notify "x"
}
"#,
    r#"metric quota: unbounded ratio = promql "sum by (pod) (up{namespace=\"$namespace\"})"
policy rollout {
  select deployments in shop
  mode approve; cooldown 30m
  when replicas > available_replicas and changes(updated_replicas, 10m) == 0 for 15m then notify "x"
  when (replicas - available_replicas) * 2 >= replicas or 1 - available_replicas / replicas > 50% then rollback
  when predict(memory_bytes, 6h, 4d) > 2Gi and quota > 1.05 then notify "y"
}
"#,
    r#"policy node-memory-pressure {
  select nodes where node-role = "worker"
  mode approve
  when status is MemoryPressure for 5m then cordon
  when status is NotReady for 10m then drain priority 2
}
"#,
];

/// Words and punctuation to insert: keywords, kinds, metrics, reasons, units.
const TOKENS: &[&str] = &[
    "policy",
    "metric",
    "patch",
    "promql",
    "select",
    "in",
    "any",
    "where",
    "exists",
    "mode",
    "limit",
    "per",
    "cooldown",
    "when",
    "then",
    "for",
    "priority",
    "and",
    "or",
    "not",
    "status",
    "is",
    "event",
    "count",
    "within",
    "restart",
    "rolling",
    "immediate",
    "delete",
    "scale",
    "up",
    "down",
    "to",
    "max",
    "min",
    "set",
    "current",
    "rollback",
    "cordon",
    "drain",
    "notify",
    "ask",
    "ai",
    "among",
    "true",
    "false",
    "pods",
    "deployments",
    "statefulsets",
    "daemonsets",
    "nodes",
    "auto",
    "dryrun",
    "approve",
    "monitor",
    "merge",
    "strategic",
    "memory_percent",
    "memory_bytes",
    "cpu_percent",
    "cpu_cores",
    "restarts",
    "oom_kills",
    "ready",
    "age",
    "replicas",
    "memory_pressure",
    "avg",
    "increase",
    "rate",
    "trend",
    "predict",
    "changes",
    "available_replicas",
    "unbounded",
    "+",
    "-",
    "*",
    "/",
    "memory_limit",
    "cpu_limit",
    "CrashLoopBackOff",
    "OOMKilled",
    "MemoryPressure",
    "BackOff",
    "ratio",
    "percent",
    "bytes",
    "cores",
    "duration",
    "bool",
    "kube-system",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ",",
    ";",
    ":",
    "=",
    "!=",
    "==",
    ">",
    ">=",
    "<",
    "<=",
    "*",
    "/",
    "%",
    "\"",
    "\\",
    "#",
    "\n",
    "\r\n",
    "\t",
    "0",
    "-1",
    "1.5",
    "500m",
    "2Gi",
    "5%/min",
    "10Mi/m",
    "3m",
    "0s",
    "1d",
    "1w",
    "99999999999999999999",
    "4294967296",
    "0.000000000000000000001",
    "1e9",
    ".5",
    "5.",
    "--1",
    "$namespace",
    "$nope",
];

/// Text that stresses byte offsets: multi-byte characters, a BOM, a
/// right-to-left override, combining marks, characters whose case mapping
/// changes length, NUL and lone carriage returns.
const UNICODE: &[&str] = &[
    "é",
    "日本語",
    "🦀",
    "\u{FEFF}",
    "\u{202E}",
    "e\u{301}",
    "İ",
    "ǅ",
    "\u{212A}",
    "ß",
    "\u{0}",
    "\r",
    "\u{2028}",
    "\u{85}",
    "Ω",
    "\u{FFFD}",
    "𝔭𝔬𝔩𝔦𝔠𝔶",
];

/// Numbers that are hard to represent.
const NUMBERS: &[&str] = &[
    "0", "-0", "1", "-1", "0.0", "4294967295", "4294967296", "18446744073709551616",
    "340282366920938463463374607431768211456", "0.00000000000000000000000001", "179769313486231570000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
];

fn read_seeds() -> Vec<(String, String)> {
    let mut seeds: Vec<(String, String)> = INLINE_SEEDS
        .iter()
        .enumerate()
        .map(|(i, s)| (format!("inline seed {i}"), s.to_string()))
        .collect();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in ["tests/corpus/valid", "tests/corpus/invalid", "policies"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        let mut paths: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "skippy"))
            .collect();
        paths.sort();
        for path in paths {
            if let Ok(text) = std::fs::read_to_string(&path) {
                seeds.push((
                    path.strip_prefix(root)
                        .unwrap_or(&path)
                        .display()
                        .to_string(),
                    text,
                ));
            }
        }
    }
    for policies in [1, 2, 3] {
        seeds.push((
            format!("generated({policies})"),
            generator::generate(policies),
        ));
    }
    seeds
}

/// Byte offsets where a token starts: runs of word characters, runs of blanks,
/// and single other characters.
fn token_bounds(text: &[u8]) -> Vec<usize> {
    let class = |b: u8| match b {
        b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'-' | b'.' => 0,
        b' ' | b'\t' => 1,
        0x80.. => 2,
        _ => 3,
    };
    let mut bounds = vec![0];
    for i in 1..text.len() {
        let (a, b) = (class(text[i - 1]), class(text[i]));
        if a != b || a == 3 {
            bounds.push(i);
        }
    }
    bounds.push(text.len());
    bounds
}

/// A random token as a byte range.
fn random_token(rng: &mut Rng, text: &[u8]) -> (usize, usize) {
    let bounds = token_bounds(text);
    if bounds.len() < 2 {
        return (0, text.len());
    }
    let i = rng.below(bounds.len() - 1);
    (bounds[i], bounds[i + 1])
}

/// A random byte range of at most `max` bytes.
fn random_range(rng: &mut Rng, len: usize, max: usize) -> (usize, usize) {
    let start = rng.below(len + 1);
    let end = (start + 1 + rng.below(max)).min(len);
    (start, end)
}

/// One mutation of `text`, on bytes (so it may split a UTF-8 sequence: the
/// result is converted lossily, which only adds U+FFFD).
fn mutate_once(rng: &mut Rng, text: &mut Vec<u8>) {
    let len = text.len();
    match rng.below(16) {
        // Delete a byte range.
        0 => {
            let (a, b) = random_range(rng, len, 64);
            text.drain(a..b);
        }
        // Duplicate a byte range somewhere else.
        1 => {
            let (a, b) = random_range(rng, len, 128);
            let piece = text[a..b].to_vec();
            let at = rng.below(text.len() + 1);
            text.splice(at..at, piece);
        }
        // Swap two byte ranges.
        2 => {
            let (a, b) = random_range(rng, len, 32);
            let (c, d) = random_range(rng, len, 32);
            if b <= c {
                let (first, second) = (text[a..b].to_vec(), text[c..d].to_vec());
                text.splice(c..d, first);
                text.splice(a..b, second);
            }
        }
        // Delete a token.
        3 => {
            let (a, b) = random_token(rng, text);
            text.drain(a..b);
        }
        // Duplicate a token.
        4 => {
            let (a, b) = random_token(rng, text);
            let piece = text[a..b].to_vec();
            text.splice(b..b, piece);
        }
        // Swap two tokens.
        5 => {
            let (a, b) = random_token(rng, text);
            let (c, d) = random_token(rng, text);
            if b <= c {
                let (first, second) = (text[a..b].to_vec(), text[c..d].to_vec());
                text.splice(c..d, first);
                text.splice(a..b, second);
            }
        }
        // Insert a keyword or punctuation at a token boundary.
        6 | 7 => {
            let (a, _) = random_token(rng, text);
            let word = rng.pick(TOKENS);
            let piece = if rng.chance(50) {
                format!(" {word} ")
            } else {
                word.to_string()
            };
            text.splice(a..a, piece.into_bytes());
        }
        // Replace a token with a keyword.
        8 => {
            let (a, b) = random_token(rng, text);
            let word = rng.pick(TOKENS).as_bytes().to_vec();
            text.splice(a..b, word);
        }
        // Insert unicode anywhere (possibly inside another character).
        9 => {
            let at = rng.below(len + 1);
            let piece = rng.pick(UNICODE).as_bytes().to_vec();
            text.splice(at..at, piece);
        }
        // Insert quotes, escapes, braces, comment marks.
        10 => {
            let at = rng.below(len + 1);
            let piece = *rng.pick(&[
                "\"", "\\\"", "\\", "{", "}", "#", "\"\"", "\\\\\"", "\n}\n", "{\n",
            ]);
            text.splice(at..at, piece.bytes());
        }
        // A very long line.
        11 => {
            let at = rng.below(len + 1);
            let unit = *rng.pick(&["a", "9", "x ", "(", "[", "\"", "#", "and ", "-", "é", "{"]);
            let count = 1_000 + rng.below(20_000);
            text.splice(at..at, unit.repeat(count / unit.len().max(1)).into_bytes());
        }
        // 500 unbalanced `(` (the grammar's recursion, not the AST's).
        12 => {
            let at = rng.below(len + 1);
            text.splice(at..at, "(".repeat(500).into_bytes());
        }
        // Wrap a token in balanced parentheses (a shallow nesting: deep
        // nesting is tested in `nesting`).
        13 => {
            let (a, b) = random_token(rng, text);
            let depth = 1 + rng.below(8);
            text.splice(b..b, ")".repeat(depth).into_bytes());
            text.splice(a..a, "(".repeat(depth).into_bytes());
        }
        // Replace a token with a hard number.
        14 => {
            let (a, b) = random_token(rng, text);
            let number = rng.pick(NUMBERS).as_bytes().to_vec();
            text.splice(a..b, number);
        }
        // Truncate.
        _ => {
            let at = rng.below(len + 1);
            text.truncate(at);
        }
    }
}

fn mutate(rng: &mut Rng, seed: &str) -> String {
    let mut bytes = seed.as_bytes().to_vec();
    for _ in 0..1 + rng.below(4) {
        mutate_once(rng, &mut bytes);
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Text for a failure message: at most 2,000 characters, escaped.
fn show(source: &str) -> String {
    let shown: String = source.chars().take(2_000).collect();
    let more = if shown.len() < source.len() {
        " …(truncated)"
    } else {
        ""
    };
    format!("{shown:?}{more}")
}

// --------------------------------------------------------------- the tests

#[test]
fn generated_200_rule_file_compiles_without_errors() {
    let source = generator::generate(20);
    let compiled = compile(&source, &SafetyConfig::default());
    let rendered =
        kubeskippy::diagnostic::render(&compiled.diagnostics, "generated.skippy", &source, false);
    assert!(
        !compiled.has_errors(),
        "the generated file has errors:\n{rendered}"
    );
    assert!(
        compiled.diagnostics.is_empty(),
        "the generated file has warnings:\n{rendered}"
    );
    assert_eq!(compiled.program.policies.len(), 20);
    let rules: usize = compiled
        .program
        .policies
        .iter()
        .map(|p| p.rules.len())
        .sum();
    assert_eq!(rules, 20 * generator::RULES_PER_POLICY);
}

#[test]
fn generated_files_of_every_size_compile_cleanly() {
    for policies in 1..=12 {
        let source = generator::generate(policies);
        let compiled = compile(&source, &SafetyConfig::default());
        let rendered = kubeskippy::diagnostic::render(
            &compiled.diagnostics,
            "generated.skippy",
            &source,
            false,
        );
        assert!(
            compiled.diagnostics.is_empty(),
            "generate({policies}) has diagnostics:\n{rendered}"
        );
        assert_eq!(compiled.program.policies.len(), policies);
    }
}

#[test]
fn the_generator_is_deterministic() {
    assert_eq!(generator::generate(15), generator::generate(15));
}

/// The main loop: a few thousand mutated inputs, a fixed seed.
#[test]
fn mutated_inputs_never_panic() {
    const INPUTS: usize = 3_000;
    let seeds = read_seeds();
    let mut rng = Rng::new(0x5EED_5C1F_F1E5_2024);
    let mut known = 0;
    let mut failures = Vec::new();
    for n in 0..INPUTS {
        let (name, seed) = &seeds[rng.below(seeds.len())];
        let input = mutate(&mut rng, seed);
        if let Err(message) = try_compile(&input) {
            if known_bug(&input, &message).is_some() {
                known += 1;
                continue;
            }
            if failures.len() < 3 {
                let minimal = minimise(&input);
                let minimal_message = try_compile(&minimal).err().unwrap_or_default();
                failures.push(format!(
                    "input #{n} (a mutation of {name}) panicked: {message}\n  input: {}\n  minimised: {}\n  which panics with: {minimal_message}",
                    show(&input),
                    show(&minimal),
                ));
            } else {
                failures.push(format!(
                    "input #{n} (a mutation of {name}) panicked: {message}"
                ));
            }
        }
    }
    eprintln!(
        "{INPUTS} inputs, {known} hit a known bug, {} new panics",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {INPUTS} inputs panicked:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Inputs chosen by hand to reach corners the mutations may miss.
#[test]
fn edge_cases_never_panic() {
    let long = |unit: &str, n: usize| unit.repeat(n);
    let cases: Vec<String> = vec![
        String::new(),
        "\n".into(),
        "\r\n\r\n".into(),
        "#".into(),
        "\"".into(),
        "\"\\".into(),
        "{".into(),
        "}".into(),
        "}}}}{{{{".into(),
        "policy".into(),
        "policy {".into(),
        "policy a {".into(),
        "policy a {}".into(),
        "policy a {\n}\n".into(),
        "policy a { select }".into(),
        "policy a {\n  select pods\n  when\n}".into(),
        "policy a {\n  select pods\n  when then\n}".into(),
        "policy a {\n  select pods\n  when memory_percent > then restart\n}".into(),
        "policy a {\n  select pods\n  when memory_percent > 1 then\n}".into(),
        "policy a {\n  select pods\n  when memory_percent > 1 then ask ai among []\n}".into(),
        "policy a {\n  select pods\n  when memory_percent > 1 then ask ai among [ask ai]\n}".into(),
        "policy a {\n  select pods\n  when avg(avg(memory_percent, 1m), 1m) > 1 then restart\n}".into(),
        "policy a {\n  select pods\n  when memory_percent > 99999999999999999999999999999999999999% then restart\n}".into(),
        "policy a {\n  select pods\n  when memory_percent > 1 for 99999999999999999999d then restart\n}".into(),
        "policy a {\n  select pods\n  limit 4294967296 per 0s\n  when restarts > 1 then restart priority 4294967296\n}".into(),
        "policy a {\n  select pods\n  when restarts > 1 then scale up 4294967295 max 0\n}".into(),
        "policy a {\n  select pods\n  when restarts > 1 then set memory_limit = current * 0.0000000001 max 1Ei\n}".into(),
        "metric m: ratio = promql \"\"\npolicy a {\n  select pods\n  when m > 1 then restart\n}".into(),
        "metric m: ratio = promql \"$\"\n".into(),
        "metric m: ratio = promql \"$namespace$\"\n".into(),
        "metric m: ratio = promql \"é$é\"\n".into(),
        "patch p: merge \"\"\n".into(),
        "patch p: merge \"{\\\"é\\\":\"\n".into(),
        "patch p: merge \"{\\\"a\\\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}\"\n".into(),
        "patch p: merge \"\\u0000\"\n".into(),
        "policy a {\n  select pods\n  when memory_percent > 1 then notify \"é\\\"\\\\\"\n}".into(),
        "\u{FEFF}policy a {\n  select pods\n  when restarts > 1 then restart\n}".into(),
        "policy a {\r\n  select pods\r\n  when restarts > 1 then restart\r\n}\r\n".into(),
        "policy a {\r  select pods\r  when restarts > 1 then restart\r}\r".into(),
        "policy é {\n}".into(),
        "policy a-é {\n  select pods\n}".into(),
        "policy a {\n  select pods where é = \"x\"\n}".into(),
        "policy a {\n  select pods where app = \"é\"\n}".into(),
        "policy a {\n  select pods in é\n}".into(),
        "policy a {\n  select pods\n  when restarts > 1 then notify \"x\" # é\n}".into(),
        "policy a {\n  select pods\n  when restarts > 1é then restart\n}".into(),
        "policy a {\n  select pods\n  when restarts > 1 then restart é\n}".into(),
        "policy a {\n  select pods\n  when restarts > 1 then frobnicate é \"x\" 1\n}".into(),
        format!("policy a {{\n  select pods\n  when restarts > 1 then notify \"{}\"\n}}", long("x", 100_000)),
        format!("# {}\n", long("é", 50_000)),
        format!("policy a {{\n  select pods where app = \"a\"{}\n}}", long(", app = \"a\"", 2_000)),
        format!("policy a {{\n  select pods in {}\n}}", long("a, ", 5_000)),
        format!("policy a {{\n  select pods\n{}}}", long("  when restarts > 1 then restart\n", 2_000)),
        long("policy a {\n", 1_000),
        long("}\n", 1_000),
        long("(", 500),
        long("(", 20_000),
        format!("policy a {{\n  select pods\n  when {} then restart\n}}", long("(", 500)),
        format!("policy a {{\n  select pods\n  when {}memory_percent > 1 then restart\n}}", long("[", 500)),
        format!("policy a {{\n  select pods\n  when memory_percent > 1 then {}\n}}", long("ask ai among [", 500)),
        format!("policy a {{\n  select pods\n  when {}\n}}", long("not ", 20_000)),
        long("9", 100_000),
        long("policy", 10_000),
    ];
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        if let Err(message) = try_compile(case) {
            if known_bug(case, &message).is_none() {
                failures.push(format!(
                    "case {i} panicked: {message}\n  input: {}",
                    show(case)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A regression test (BUG 1 of the no-panic test, fixed in e84b9cd): any
/// non-ASCII character outside a string or a comment panicked in
/// `syntax::scan::declaration_chunks`, whose byte loop sliced
/// `source[line_start..i]` at the second byte of a multi-byte character ("byte
/// index 1 is not a char boundary; it is inside 'é'"). Minimal input: `é`. A
/// name, label or unit with an accent, a pasted non-breaking space or a BOM took
/// the compiler (and so `check`, the operator, the LSP) down.
#[test]
fn non_ascii_outside_strings_and_comments() {
    let inputs = [
        "é",
        "\u{FEFF}policy a {\n}\n",
        "policy é {\n}\n",
        "policy a {\n  select pods where app = \"x\"\u{A0}\n}\n",
        "policy a {\n  select pods\n  when restarts > 1 then restart 日本\n}\n",
    ];
    let failures: Vec<String> = inputs
        .iter()
        .filter_map(|input| {
            try_compile(input)
                .err()
                .map(|message| format!("{input:?} panicked: {message}"))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ------------------------------------------------------- nesting depth

/// Inputs that nest `depth` deep, by shape.
fn nested(shape: &str, depth: usize) -> String {
    let rule = match shape {
        "parens" => format!(
            "when {}memory_percent > 50{} then restart",
            "(".repeat(depth),
            ")".repeat(depth)
        ),
        "not" => format!(
            "when {}memory_percent > 50 then restart",
            "not ".repeat(depth)
        ),
        // A `#` in a string earlier on the line: not a comment.
        "parens-after-hash" => format!(
            "when restarts > 5 then notify \"#\"; when {}memory_percent > 50{} then restart",
            "(".repeat(depth),
            ")".repeat(depth)
        ),
        "not-parens" => format!(
            "when {}memory_percent > 50{} then restart",
            "not (".repeat(depth),
            ")".repeat(depth)
        ),
        "and" => format!(
            "when memory_percent > 50{} then restart",
            " and cpu_percent > 50".repeat(depth)
        ),
        "or" => format!(
            "when memory_percent > 50{} then restart",
            " or cpu_percent > 50".repeat(depth)
        ),
        "ask-ai" => format!(
            "when memory_percent > 50 then {}restart{}",
            "ask ai among [".repeat(depth),
            "]".repeat(depth)
        ),
        "calls" => format!(
            "when {}memory_percent{} > 50 then restart",
            "avg(".repeat(depth),
            ", 5m)".repeat(depth)
        ),
        other => panic!("unknown shape {other}"),
    };
    format!("policy deep {{\n  select pods in shop\n  cooldown 10m\n  {rule}\n}}\n")
}

/// Compiles on a thread with `stack` bytes of stack (2 MiB is Rust's default
/// for spawned threads, tokio's workers and the test harness).
fn compile_on_stack(source: String, stack: usize) -> Result<(), String> {
    std::thread::Builder::new()
        .stack_size(stack)
        .spawn(move || try_compile(&source))
        .expect("spawn")
        .join()
        .unwrap_or_else(|_| Err("the thread panicked".into()))
}

const DEFAULT_STACK: usize = 2 << 20;

/// Depths that fit in 2 MiB today, even in a debug build (where frames are
/// largest); a regression in stack use per level shows here first. The depth
/// at which each shape overflows is in docs/performance.md.
#[test]
fn moderate_nesting_fits_in_the_default_stack() {
    for (shape, depth) in [
        ("parens", 20),
        ("not", 60),
        ("and", 120),
        ("or", 120),
        ("ask-ai", 40),
        ("calls", 300),
    ] {
        if let Err(message) = compile_on_stack(nested(shape, depth), DEFAULT_STACK) {
            panic!("{depth} deep {shape} panicked: {message}");
        }
    }
}

/// Runs `compile` of `nested(shape, depth)` in a child process, so that a
/// stack overflow (which aborts the process) is a test failure rather than the
/// end of the test run.
fn survives_in_child(shape: &str, depth: usize) -> Result<(), String> {
    let exe = std::env::current_exe().expect("current_exe");
    let output = std::process::Command::new(exe)
        .args([
            "--exact",
            "nesting_child",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("KUBESKIPPY_NESTING_CHILD", format!("{shape}:{depth}"))
        .output()
        .expect("run the child");
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let overflow = stderr.contains("has overflowed its stack") || stderr.contains("stack overflow");
    Err(format!(
        "{depth} deep {shape}: the child {} ({})",
        if overflow {
            "overflowed its stack"
        } else {
            "failed"
        },
        output.status
    ))
}

/// The child side of `survives_in_child`; does nothing in a normal run.
#[test]
fn nesting_child() {
    let Ok(spec) = std::env::var("KUBESKIPPY_NESTING_CHILD") else {
        return;
    };
    let (shape, depth) = spec.split_once(':').expect("shape:depth");
    let depth: usize = depth.parse().expect("depth");
    compile_on_stack(nested(shape, depth), DEFAULT_STACK).expect("compile");
}

/// A regression test (BUG 2 of the no-panic test, fixed in e84b9cd): nesting
/// of 500 overflowed the stack, which aborts the process (the operator, the
/// LSP): the AST builder (`syntax::build::condition`, `syntax::build::action`)
/// and the checker (`check::Checker::condition`) recurse once per level with no
/// depth limit (pest, pinned at 2.8.3, has none either: `syntax::scan`
/// guards it). With a 2 MiB stack, a debug build overflowed from 54 nested
/// parentheses, 161 `not`, 280 nested `ask ai among [`, 383 `and`/`or` in one
/// condition; a release build from 305, 914, 1059 and 1265. A line nested more
/// than 100 levels deep is now a syntax error before pest sees it.
#[test]
fn deep_nesting_does_not_overflow_the_stack() {
    let failures: Vec<String> = [
        ("parens", 500),
        ("not", 500),
        ("ask-ai", 500),
        ("and", 2_000),
        ("or", 2_000),
        ("calls", 1_000),
    ]
    .into_iter()
    .filter_map(|(shape, depth)| survives_in_child(shape, depth).err())
    .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The deepest nesting the parser accepts (40 brackets and 100 `and`/`or`/
/// `not` on one line, see `syntax::scan::too_deep`) must fit in a 2 MiB stack,
/// in every build.
///
/// Formerly BUG 3: with one limit of 100, a debug build overflowed a 2 MiB
/// stack from 54 nested parentheses (each level costs about 12 KiB of stack in
/// `syntax::build::condition`, unoptimised); the bracket limit is now 40.
#[test]
fn nesting_at_the_limit_fits_in_the_default_stack() {
    let failures: Vec<String> = [
        ("parens", 40),
        ("not-parens", 40),
        ("not", 100),
        ("ask-ai", 40),
        ("and", 100),
        ("or", 100),
        ("calls", 40),
    ]
    .into_iter()
    .filter_map(|(shape, depth)| survives_in_child(shape, depth).err())
    .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Formerly BUG 4: the nesting limit (`syntax::scan::too_deep`) was bypassed by
/// a `#` inside a string earlier on the same line: `too_deep` cut each line at its
/// first `#` (`line.split('#')`) without knowing strings, so the nesting after
/// it is not counted, and deep nesting overflows the stack again (process
/// abort). Minimal input (release build, 2 MiB stack; 54 in a debug build):
/// `policy p { select pods where app = "#"; when ` + 312 × `(` +
/// `memory_percent > 1` + 312 × `)` + ` then restart }`. The same split also
/// makes `(`, `[` and the words `and`/`or`/`not` inside strings count as
/// nesting (a `notify` message with 101 `(` is rejected). Fix: skip strings
/// in `too_deep` as `declaration_chunks` does.
#[test]
fn nesting_limit_holds_after_a_hash_in_a_string() {
    survives_in_child("parens-after-hash", 500).unwrap();
}
