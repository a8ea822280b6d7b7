//! `kubeskippy test`: the policy library's unit tests pass, a test file whose
//! expectations are wrong fails with a diff, and a malformed file is a format
//! error that names the file.

use std::path::Path;

mod common;
use common::*;

#[test]
fn the_policy_library_passes_its_unit_tests() {
    let out = kubeskippy(&["test", "policies/"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    let last = text.lines().last().expect("a closing line");
    let passed: usize = last
        .strip_suffix(" passed, 0 failed")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("closing line `{last}`"));
    assert!(passed >= 6, "{text}");
    for policy in ["crashloop", "memory-leak", "cpu-scaling"] {
        let file = format!("test policies/{policy}.skippy-test.yaml :: ");
        assert!(text.contains(&file), "{policy} has no tests:\n{text}");
    }
    assert!(!text.contains("FAILED"), "{text}");
}

#[test]
fn every_library_policy_has_a_test_file_and_every_test_file_a_policy() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let names: Vec<String> = std::fs::read_dir(&dir)
        .expect("policies/ exists")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    let policies: Vec<&str> = names
        .iter()
        .filter_map(|n| n.strip_suffix(".skippy"))
        .collect();
    let tests: Vec<&str> = names
        .iter()
        .filter_map(|n| n.strip_suffix(".skippy-test.yaml"))
        .collect();
    assert!(policies.len() >= 7, "{names:?}");
    for policy in &policies {
        assert!(tests.contains(policy), "{policy}.skippy has no test file");
    }
    for test in &tests {
        assert!(
            policies.contains(test),
            "{test}.skippy-test.yaml tests a missing policy"
        );
    }
}

#[test]
fn a_wrong_expectation_fails_with_a_diff() {
    let out = kubeskippy(&["test", "tests/fixtures/failing.skippy-test.yaml"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.ends_with("\n1 passed, 1 failed\n"), "{text}");
    insta::assert_snapshot!("failing", text);
}

#[test]
fn a_malformed_file_is_a_format_error_naming_the_file_and_line() {
    let dir = std::env::temp_dir().join(format!("kubeskippy-unit-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    let file = dir.join("broken.skippy-test.yaml");
    std::fs::write(
        &file,
        "tests:\n  - name: typo\n    expect:\n      - at: 1m\n        decisons: []\n",
    )
    .expect("written");
    let path = file.to_string_lossy().into_owned();
    let out = kubeskippy(&["test", &path]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains(&format!("{path}:5:9:")), "{err}");
    assert!(err.contains("unknown field `decisons`"), "{err}");
}

#[test]
fn a_missing_path_is_a_usage_error() {
    let out = kubeskippy(&["test", "no/such/folder"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no/such/folder"));
}

#[test]
fn test_help_gives_an_example() {
    let out = kubeskippy(&["test", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(text.contains("Example"), "{text}");
    insta::assert_snapshot!("help_test", text);
}

#[test]
fn json_output_is_one_object_per_case_then_the_totals() {
    let out = kubeskippy(&[
        "test",
        "--format",
        "json",
        "tests/fixtures/failing.skippy-test.yaml",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[0]["passed"], true);
    assert_eq!(lines[1]["passed"], false);
    assert_eq!(lines[1]["mismatches"][0]["at"], "1m");
    assert_eq!(
        lines[1]["mismatches"][0]["missing"][0],
        "act: delete on pods/shop/checkout-1"
    );
    assert_eq!(
        lines[1]["mismatches"][0]["why"][0],
        "on pods/shop/checkout-1: policy memory-restart, rule 1: true, held for 30s of 1m: memory_percent=90% > 85%"
    );
    assert_eq!(
        lines[2],
        serde_json::json!({"passed": 1, "failed": 1, "errors": 0})
    );
}
