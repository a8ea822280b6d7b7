//! `kubeskippy import` on the seed's shapes (`tests/fixtures/import/`,
//! rewritten from its samples and demo policies): the Skippy each becomes and
//! the report of what could not be converted, as snapshots; every output
//! passes `check`; and no input, however broken, makes it panic.

use kubeskippy::check::compile;
use kubeskippy::cli::import::human;
use kubeskippy::import::Imported;
use kubeskippy::safety::SafetyConfig;
use proptest::prelude::*;
use std::path::Path;

/// With the default safety configuration, as `check` without `--safety`.
fn import(source: &str) -> Imported {
    kubeskippy::import::import(source, &SafetyConfig::default())
}

fn fixtures() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/import");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("the fixtures folder")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p
                .file_stem()
                .expect("a name")
                .to_string_lossy()
                .into_owned();
            (name, std::fs::read_to_string(&p).expect("UTF-8 fixture"))
        })
        .collect()
}

#[test]
fn each_fixture_converts_to_the_snapshot_with_its_report() {
    let fixtures = fixtures();
    assert!(fixtures.len() >= 6, "the fixtures are there");
    for (name, source) in fixtures {
        let imported = import(&source);
        let file = format!("tests/fixtures/import/{name}.yaml");
        insta::assert_snapshot!(format!("import_{name}_skippy"), imported.skippy);
        let report = human(&imported.notes, &file, &source, false);
        insta::assert_snapshot!(format!("import_{name}_report"), report);
    }
}

#[test]
fn every_converted_file_passes_check_without_errors() {
    for (name, source) in fixtures() {
        let imported = import(&source);
        if imported.skippy.is_empty() {
            assert!(imported.policies.is_empty(), "{name}");
            continue;
        }
        let compiled = compile(&imported.skippy, &SafetyConfig::default());
        let errors: Vec<_> = compiled
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .collect();
        assert!(
            errors.is_empty(),
            "{name}: {errors:#?}\n{}",
            imported.skippy
        );
        assert_eq!(
            compiled.program.policies.len(),
            imported.policies.len(),
            "{name}: every policy named is in the text"
        );
        // What `check` warns about is in the report too (once per place).
        for warning in &compiled.diagnostics {
            let code = format!("({})", warning.code);
            assert!(
                imported
                    .notes
                    .iter()
                    .any(|n| n.code == "I0201" && n.message.contains(&code)),
                "{name}: {warning:?} is not reported"
            );
        }
    }
}

#[test]
fn the_clean_fixture_has_nothing_to_report_and_the_others_do() {
    for (name, source) in fixtures() {
        let imported = import(&source);
        assert_eq!(
            imported.notes.is_empty(),
            name == "clean",
            "{name}: {:#?}",
            imported.notes
        );
    }
}

#[test]
fn every_note_points_inside_the_file_at_char_boundaries() {
    for (name, source) in fixtures() {
        for note in import(&source).notes {
            assert!(
                note.span.start <= note.span.end && note.span.end <= source.len(),
                "{name}: {note:?}"
            );
            assert!(
                source.is_char_boundary(note.span.start) && source.is_char_boundary(note.span.end),
                "{name}: {note:?}"
            );
        }
    }
}

#[test]
fn several_policies_of_one_file_get_distinct_names() {
    let one = fixtures()
        .into_iter()
        .find(|(n, _)| n == "prometheus")
        .expect("fixture")
        .1;
    let doubled = format!("{one}\n---\n{one}");
    let imported = import(&doubled);
    assert_eq!(imported.policies, ["web-slo", "web-slo-2"]);
    let compiled = compile(&imported.skippy, &SafetyConfig::default());
    assert!(!compiled.has_errors(), "{:#?}", compiled.diagnostics);
}

#[test]
fn docs_list_every_code_of_the_report() {
    let doc = include_str!("../docs/import.md");
    for code in kubeskippy::import::codes::ALL {
        assert!(
            doc.contains(&format!("| `{code}` |")),
            "docs/import.md does not list {code}"
        );
    }
}

/// Text shaped like a seed policy, cut and spliced at random.
fn mangled() -> impl Strategy<Value = String> {
    let sources: Vec<String> = fixtures().into_iter().map(|(_, s)| s).collect();
    (0..sources.len(), any::<usize>(), any::<usize>(), ".{0,12}").prop_map(
        move |(i, a, b, junk)| {
            let s = &sources[i];
            let cut = |n: usize| {
                let mut n = n % (s.len() + 1);
                while !s.is_char_boundary(n) {
                    n -= 1;
                }
                n
            };
            let (a, b) = (cut(a).min(cut(b)), cut(a).max(cut(b)));
            format!("{}{junk}{}", &s[..a], &s[b..])
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn no_input_panics_and_every_output_checks(text in prop_oneof![mangled(), ".{0,200}"]) {
        let imported = import(&text);
        for note in &imported.notes {
            prop_assert!(note.span.end <= text.len() && text.is_char_boundary(note.span.start));
        }
        let report = human(&imported.notes, "f.yaml", &text, false);
        prop_assert!(imported.notes.is_empty() || !report.is_empty());
        if !imported.skippy.is_empty() {
            let compiled = compile(&imported.skippy, &SafetyConfig::default());
            prop_assert!(!compiled.has_errors(), "{:#?}\n{}", compiled.diagnostics, imported.skippy);
        }
    }
}
