//! The formatter on real files and on random ones. What formatting must hold
//! for every file that parses: it is idempotent, the formatted text checks to
//! the same program (IR), every comment is kept once and in order, and the text
//! ends with exactly one newline and has no trailing blanks.
//!
//! Real files: every `.skippy` file of the shared corpus (`../shared/corpus/`,
//! skipped with a note when absent), the project's corpus (`tests/corpus/`),
//! the policy library (`policies/`) and the fixtures beside this file
//! (`tests/fmt/`, where `NAME.in.skippy` must format to `NAME.out.skippy`).

#[path = "fmt/gen.rs"]
mod gen;

use kubeskippy::check::compile;
use kubeskippy::fmt::format;
use kubeskippy::safety::SafetyConfig;
use kubeskippy::syntax::parse;
use proptest::prelude::*;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixtures() -> PathBuf {
    root().join("tests/fmt")
}

/// Every `.skippy` file under `dir`, recursively, in a stable order.
fn skippy_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            out.extend(skippy_files(&path));
        } else if path.extension().is_some_and(|ext| ext == "skippy") {
            out.push(path);
        }
    }
    out
}

/// The real files, and whether each must parse (a `valid` corpus file, a
/// library policy or a fixture) or may be one the formatter refuses.
fn real_files() -> Vec<(PathBuf, bool)> {
    let dirs = [
        (root().join("../shared/corpus"), false),
        (root().join("tests/corpus"), false),
        (root().join("policies"), true),
        (fixtures(), true),
    ];
    let mut out = Vec::new();
    for (dir, must_parse) in dirs {
        if !dir.is_dir() {
            eprintln!(
                "note: {} not found: its files are not formatted",
                dir.display()
            );
            continue;
        }
        for path in skippy_files(&dir) {
            let in_valid = path.components().any(|c| c.as_os_str() == "valid");
            out.push((path, must_parse || in_valid));
        }
    }
    out
}

fn comments(source: &str) -> Vec<String> {
    parse(source)
        .file
        .comments
        .iter()
        .map(|c| c.text.trim_end().to_string())
        .collect()
}

/// Formats `source` and checks every invariant; returns the formatted text or
/// what went wrong.
fn invariants(source: &str) -> Result<String, String> {
    let once = format(source).map_err(|d| format!("does not format: {d:?}"))?;
    let twice =
        format(&once).map_err(|d| format!("the formatted text does not parse: {d:?}\n{once}"))?;
    if twice != once {
        return Err(format!(
            "not idempotent:\n--- once\n{once}--- twice\n{twice}"
        ));
    }
    if comments(&once) != comments(source) {
        return Err(format!(
            "comments changed: {:?} became {:?}",
            comments(source),
            comments(&once)
        ));
    }
    let config = SafetyConfig::default();
    let before = compile(source, &config).program;
    let after = compile(&once, &config).program;
    if before != after {
        return Err(format!(
            "the program changed:\n--- formatted\n{once}--- before\n{before:#?}\n--- after\n{after:#?}"
        ));
    }
    let ends_well = once.is_empty() || (once.ends_with('\n') && !once.ends_with("\n\n"));
    if !ends_well || once.lines().any(|line| line.ends_with([' ', '\t'])) {
        return Err(format!("untidy whitespace:\n{once:?}"));
    }
    Ok(once)
}

#[test]
fn every_real_file_formats_idempotently_to_the_same_program() {
    let mut failures = Vec::new();
    let mut formatted = 0;
    for (path, must_parse) in real_files() {
        let source =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let has_syntax_errors = !parse(&source).diagnostics.is_empty();
        if has_syntax_errors {
            if must_parse {
                failures.push(format!("{}: does not parse", path.display()));
            } else if format(&source).is_ok() {
                failures.push(format!(
                    "{}: formatted despite syntax errors",
                    path.display()
                ));
            }
            continue;
        }
        match invariants(&source) {
            Ok(_) => formatted += 1,
            Err(e) => failures.push(format!("{}: {e}", path.display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(
        formatted >= 4,
        "only {formatted} files formatted: are the fixtures missing?"
    );
}

#[test]
fn fixtures_format_to_their_expected_text() {
    let mut checked = 0;
    for input in skippy_files(&fixtures()) {
        let name = input.to_string_lossy().to_string();
        let Some(stem) = name.strip_suffix(".in.skippy") else {
            continue;
        };
        let expected_path = format!("{stem}.out.skippy");
        let source = std::fs::read_to_string(&input).expect("fixture input");
        let expected = std::fs::read_to_string(&expected_path).expect("fixture output");
        let formatted = format(&source).unwrap_or_else(|d| panic!("{name}: {d:?}"));
        assert_eq!(formatted, expected, "{name}");
        assert_eq!(
            format(&expected).ok().as_deref(),
            Some(expected.as_str()),
            "{expected_path}"
        );
        checked += 1;
    }
    assert!(checked > 0, "no fixtures in {}", fixtures().display());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_policies_format_idempotently_to_the_same_program(
        data in prop::collection::vec(any::<u32>(), 0..800)
    ) {
        let generated = gen::file(gen::Choices::new(data));
        let text = &generated.text;
        let parsed = parse(text);
        prop_assert!(
            parsed.diagnostics.is_empty(),
            "the generated text does not parse:\n{}\n{:?}",
            text,
            parsed.diagnostics
        );
        prop_assert_eq!(parsed.file.comments.len(), generated.comments, "comments in\n{}", text);
        // Valid policies, so that the programs compared below are whole ones.
        let compiled = compile(text, &SafetyConfig::default());
        let errors: Vec<_> = compiled.diagnostics.iter().filter(|d| d.is_error()).collect();
        prop_assert!(errors.is_empty(), "the generator wrote an invalid file:\n{}\n{:?}", text, errors);
        invariants(text).map_err(|e| TestCaseError::fail(format!("{e}\n--- generated\n{text}")))?;
    }
}

/// Found by the `fmt_roundtrip` fuzz target: a comment ended by a lone
/// `\r`, which the grammar reads as a line break, took the line after it
/// into the comment, so the formatted file lost its `policy` line.
#[test]
fn a_comment_ended_by_a_lone_carriage_return_keeps_the_code_after_it() {
    let found = "# expect: error E0209 lin\u{1}\0\0\rpolicy bytes-per-core {\n  select pods in shop\n  cooldown 10m\n  when memory_bytes / cpu_cores > 1 then restart\n}\n";
    let formatted = invariants(found).expect("formats");
    assert!(
        formatted.starts_with("# expect: error E0209 lin\u{1}\0\0\npolicy bytes-per-core {\n"),
        "{formatted:?}"
    );
}
