//! The `kubeskippy` binary as a user runs it: exit statuses, the JSON shape of
//! diagnostics, `explain` output, help texts, and the shared conformance corpus.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::*;

fn shared_corpus() -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    path.is_dir().then_some(path)
}

#[test]
fn check_exits_0_on_a_clean_file_and_1_on_errors() {
    let ok = kubeskippy(&["check", "tests/fixtures/clean.skippy"]);
    assert_eq!(ok.status.code(), Some(0), "{}", stdout(&ok));
    assert!(
        stdout(&ok).is_empty(),
        "a clean file prints nothing: {}",
        stdout(&ok)
    );
    assert_eq!(
        String::from_utf8_lossy(&ok.stderr),
        "checked 1 file: 0 errors, 0 warnings\n"
    );
    let bad = kubeskippy(&["check", "tests/fixtures/mistakes.skippy"]);
    assert_eq!(bad.status.code(), Some(1));
}

#[test]
fn check_exits_2_on_a_missing_file_or_bad_usage() {
    let missing = kubeskippy(&["check", "no/such/file.skippy"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no/such/file.skippy"));
    let usage = kubeskippy(&["check", "--format", "xml"]);
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn deny_warnings_turns_warnings_into_failure() {
    let file = "tests/fixtures/warning.skippy";
    assert_eq!(kubeskippy(&["check", file]).status.code(), Some(0));
    assert_eq!(
        kubeskippy(&["check", "--deny-warnings", file])
            .status
            .code(),
        Some(1)
    );
}

#[test]
fn json_output_is_one_object_per_diagnostic_with_exact_positions() {
    let out = kubeskippy(&[
        "check",
        "--format",
        "json",
        "tests/fixtures/mistakes.skippy",
    ]);
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    insta::assert_yaml_snapshot!("check_json", lines);
}

#[test]
fn human_output_renders_like_rustc() {
    let out = kubeskippy(&[
        "check",
        "--color",
        "never",
        "tests/fixtures/mistakes.skippy",
    ]);
    insta::assert_snapshot!("check_human", stdout(&out));
}

#[test]
fn a_safety_file_overrides_the_defaults() {
    let file = "tests/fixtures/clean.skippy";
    let out = kubeskippy(&[
        "check",
        "--safety",
        "tests/fixtures/strict-safety.yaml",
        "--format",
        "json",
        file,
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("\"code\":\"E0401\""),
        "{}",
        stdout(&out)
    );
    let broken = kubeskippy(&["check", "--safety", "tests/fixtures/clean.skippy", file]);
    assert_eq!(broken.status.code(), Some(2));
}

#[test]
fn explain_shows_the_compiled_policy() {
    let out = kubeskippy(&["explain", "tests/fixtures/clean.skippy"]);
    assert_eq!(out.status.code(), Some(0));
    insta::assert_snapshot!("explain_clean", stdout(&out));
    if let Some(corpus) = shared_corpus() {
        let full = corpus.join("valid/full-example.skippy");
        let out = kubeskippy(&["explain", full.to_str().expect("utf-8 path")]);
        insta::assert_snapshot!("explain_full_example", stdout(&out));
    }
}

#[test]
fn explain_refuses_a_file_with_errors() {
    let out = kubeskippy(&["explain", "tests/fixtures/mistakes.skippy"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).is_empty());
}

#[test]
fn help_is_complete_and_gives_examples() {
    for args in [
        &["--help"][..],
        &["check", "--help"],
        &["fmt", "--help"],
        &["explain", "--help"],
        &["import", "--help"],
        &["test", "--help"],
        &["simulate", "--help"],
        &["crds", "--help"],
        &["run", "--help"],
        &["approve", "--help"],
    ] {
        let out = kubeskippy(args);
        assert_eq!(out.status.code(), Some(0));
        let text = stdout(&out);
        assert!(text.contains("Example"), "{args:?} has no example:\n{text}");
        insta::assert_snapshot!(format!("help_{}", args[0].trim_start_matches('-')), text);
    }
}

/// The shared conformance corpus, run by its own script against this binary.
#[test]
fn shared_corpus_passes_with_run_py() {
    let Some(corpus) = shared_corpus() else {
        eprintln!("SKIPPED: ../shared/corpus is not beside the project");
        return;
    };
    let out = Command::new("python3")
        .arg(corpus.join("run.py"))
        .args(["--bin", env!("CARGO_BIN_EXE_kubeskippy")])
        .arg(&corpus)
        .output()
        .expect("python3 runs");
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains(", 0 failed"), "{text}");
}

#[test]
fn fmt_rewrites_files_and_check_mode_changes_nothing() {
    let dir = std::env::temp_dir().join(format!("kubeskippy-fmt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("messy.skippy");
    let messy = "policy   a {select pods in shop ; mode auto\n  cooldown 10m\n limit 1 per 1h\nwhen restarts>3 then restart # why\n}\n";
    std::fs::write(&file, messy).expect("write");
    let path = file.to_str().expect("utf-8 path");

    let check = kubeskippy(&["fmt", "--check", path]);
    assert_eq!(check.status.code(), Some(1));
    assert_eq!(stdout(&check), format!("would reformat {path}\n"));
    assert_eq!(
        std::fs::read_to_string(&file).expect("read"),
        messy,
        "--check writes nothing"
    );

    let fmt = kubeskippy(&["fmt", path]);
    assert_eq!(fmt.status.code(), Some(0));
    let formatted = std::fs::read_to_string(&file).expect("read");
    assert_eq!(
        formatted,
        "policy a {\n  select pods in shop\n  mode auto\n  cooldown 10m\n  limit 1 per 1h\n  when restarts > 3 then restart  # why\n}\n"
    );
    assert_eq!(kubeskippy(&["fmt", "--check", path]).status.code(), Some(0));

    std::fs::write(&file, "policy a {\n  when\n}\n").expect("write");
    let broken = kubeskippy(&["fmt", path]);
    assert_eq!(broken.status.code(), Some(1));
    assert_eq!(
        std::fs::read_to_string(&file).expect("read"),
        "policy a {\n  when\n}\n"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The README's 30-second example shows real output: run its file through the
/// binary and compare with what the README prints.
#[test]
fn readme_example_output_is_real() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let block_after = |marker: &str| -> String {
        let start = readme
            .find(marker)
            .unwrap_or_else(|| panic!("README has {marker:?}"));
        let rest = &readme[start..];
        let open = rest.find("```\n").expect("a code block") + 4;
        let close = rest[open..].find("```").expect("its end") + open;
        rest[open..close].to_string()
    };
    let source = block_after("Save this as `typo.skippy`");
    let shown = block_after("and check it:");
    let expected = shown
        .strip_prefix("$ kubeskippy check typo.skippy\n")
        .expect("the block starts with the command");

    let dir = std::env::temp_dir().join(format!("kubeskippy-readme-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("typo.skippy"), &source).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_kubeskippy"))
        .args(["check", "--color", "never", "typo.skippy"])
        .current_dir(&dir)
        .output()
        .expect("the binary runs");
    let _ = std::fs::remove_dir_all(&dir);
    let actual = format!("{}{}", stdout(&out), String::from_utf8_lossy(&out.stderr));
    assert_eq!(actual, expected, "update the README's example output");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn simulate_explain_prints_where_a_rule_stood_at_every_step() {
    let out = kubeskippy(&[
        "simulate",
        "--explain",
        "roll-crashing:2",
        "tests/fixtures/explain.yaml",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    insta::assert_snapshot!("simulate_explain", stdout(&out));
    // One target: its name alone or its whole id.
    for target in ["checkout-2", "pods/demo/checkout-2"] {
        let out = kubeskippy(&[
            "simulate",
            "--explain",
            "roll-crashing:2",
            "--target",
            target,
            "--format",
            "json",
            "tests/fixtures/explain.yaml",
        ]);
        let report: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
        let steps = report["explanation"]["steps"].as_array().expect("steps");
        let on: Vec<&serde_json::Value> = steps
            .iter()
            .flat_map(|s| s["standings"].as_array().expect("standings"))
            .collect();
        assert_eq!(on.len(), 20, "{target}: checkout-2 lived from 2m15s to 7m");
        assert!(on.iter().all(|s| s["target"]["name"] == "checkout-2"));
        assert_eq!(on[4]["stood"]["stood"], "blocked");
    }
    // A rule the policies do not have is a usage error that names them.
    let out = kubeskippy(&[
        "simulate",
        "--explain",
        "roll-crashing",
        "tests/fixtures/explain.yaml",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "error: --explain roll-crashing: policy `roll-crashing` has 2 rules: name one, as `roll-crashing:N`\n"
    );
}

#[test]
fn import_exits_0_when_nothing_is_lost_and_1_when_something_is() {
    let clean = kubeskippy(&["import", "tests/fixtures/import/clean.yaml"]);
    assert_eq!(clean.status.code(), Some(0), "{}", stderr(&clean));
    assert!(stdout(&clean).contains("when memory_percent > 85 for 3m then restart rolling"));
    assert_eq!(
        stderr(&clean),
        "imported 1 policy from tests/fixtures/import/clean.yaml: 0 errors, 0 warnings\n"
    );
    let lossy = kubeskippy(&[
        "import",
        "--color",
        "never",
        "tests/fixtures/import/memory-leak.yaml",
    ]);
    assert_eq!(lossy.status.code(), Some(1));
    assert!(
        stdout(&lossy).contains("policy leaky-pods"),
        "the policy is still written"
    );
    assert!(
        stderr(&lossy).contains("[tests/fixtures/import/memory-leak.yaml:38:"),
        "located: {}",
        stderr(&lossy)
    );
}

#[test]
fn import_exits_2_on_a_missing_file_or_bad_usage() {
    let missing = kubeskippy(&["import", "no/such/policy.yaml"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("no/such/policy.yaml"));
    assert_eq!(kubeskippy(&["import"]).status.code(), Some(2));
    let usage = kubeskippy(&[
        "import",
        "--format",
        "xml",
        "tests/fixtures/import/clean.yaml",
    ]);
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn import_writes_out_and_reports_json_lines() {
    let dir = std::env::temp_dir().join(format!("kubeskippy-import-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let out = dir.join("events.skippy");
    let run = kubeskippy(&[
        "import",
        "--format",
        "json",
        "--out",
        out.to_str().expect("utf-8 path"),
        "tests/fixtures/import/events.yaml",
    ]);
    assert_eq!(run.status.code(), Some(1));
    assert!(stdout(&run).is_empty(), "the policies went to --out");
    let written = std::fs::read_to_string(&out).expect("written");
    let checked = kubeskippy(&["check", out.to_str().expect("utf-8 path")]);
    assert_eq!(checked.status.code(), Some(0), "{}", stdout(&checked));
    assert!(written.contains("policy sample-policy"));
    let lines: Vec<serde_json::Value> = stderr(&run)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert!(!lines.is_empty());
    assert!(
        stderr(&run).lines().all(|l| l.starts_with("{\"file\":")),
        "the fields in `check --format json`'s order"
    );
    let webhook = lines
        .iter()
        .find(|l| l["message"].as_str().is_some_and(|m| m.contains("webhook")))
        .expect("the unknown trigger type is reported");
    assert_eq!(webhook["line"], 53);
    assert_eq!(webhook["column"], 11);
    assert_eq!(webhook["code"], "I0104");
    assert_eq!(webhook["severity"], "error");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn import_reports_bad_bytes_and_bad_yaml_where_they_are() {
    let dir = std::env::temp_dir().join(format!("kubeskippy-import-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let latin1 = dir.join("latin1.yaml");
    std::fs::write(
        &latin1,
        b"apiVersion: kubeskippy.io/v1alpha1\nkind: HealingPolicy\nmetadata:\n  name: caf\xe9\n",
    )
    .expect("write");
    let run = kubeskippy(&[
        "import",
        "--format",
        "json",
        latin1.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(run.status.code(), Some(1));
    assert!(stdout(&run).is_empty());
    let note: serde_json::Value =
        serde_json::from_str(stderr(&run).trim()).expect("one JSON object");
    assert_eq!(
        (note["line"].clone(), note["column"].clone()),
        (4.into(), 12.into())
    );
    assert!(note["message"]
        .as_str()
        .expect("a message")
        .contains("0xE9"));

    let broken = kubeskippy(&[
        "import",
        "--color",
        "never",
        "tests/fixtures/import/not-yaml.yaml",
    ]);
    assert_eq!(broken.status.code(), Some(1));
    assert!(stdout(&broken).is_empty());
    assert!(
        stderr(&broken).contains("not-yaml.yaml:5:5]"),
        "{}",
        stderr(&broken)
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn import_checks_against_the_safety_configuration_given() {
    let dir = std::env::temp_dir().join(format!("kubeskippy-import-safety-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let safety = dir.join("safety.yaml");
    std::fs::write(&safety, "protectedNamespaces: [shop]\n").expect("write");
    let run = kubeskippy(&[
        "import",
        "--color",
        "never",
        "--safety",
        safety.to_str().expect("utf-8 path"),
        "tests/fixtures/import/clean.yaml",
    ]);
    assert_eq!(run.status.code(), Some(1));
    assert!(stdout(&run).is_empty(), "{}", stdout(&run));
    assert!(stderr(&run).contains("(E0401)"), "{}", stderr(&run));
    let bad = dir.join("bad.yaml");
    std::fs::write(&bad, "maxActionsPerHour: 0\n").expect("write");
    let refused = kubeskippy(&[
        "import",
        "--safety",
        bad.to_str().expect("utf-8 path"),
        "tests/fixtures/import/clean.yaml",
    ]);
    assert_eq!(refused.status.code(), Some(2));
    std::fs::remove_dir_all(&dir).ok();
}
