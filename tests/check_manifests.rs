//! `kubeskippy check` on Kubernetes manifests: the Skippy embedded in each
//! HealingPolicy and ClusterHealingPolicy is compiled as the operator
//! compiles that object, and every diagnostic points into the YAML file.

use std::process::Command;

fn check(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kubeskippy"))
        .arg("check")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("kubeskippy runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn diagnostics_point_into_the_manifest() {
    let (code, out, err) = check(&["--color", "never", "tests/fixtures/manifests/policies.yaml"]);
    assert_eq!(code, Some(1), "{out}{err}");
    insta::assert_snapshot!("manifest_human", out);
    assert_eq!(err.trim(), "checked 1 file: 2 errors, 0 warnings");
}

#[test]
fn json_gives_the_yaml_files_lines_and_columns() {
    let (_, out, _) = check(&["--format", "json", "tests/fixtures/manifests/policies.yaml"]);
    let found: Vec<(String, u64, u64)> = out
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("a JSON line"))
        .map(|d| {
            (
                d["code"].as_str().unwrap_or_default().to_string(),
                d["line"].as_u64().unwrap_or_default(),
                d["column"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    // `in payments` in a HealingPolicy of `shop` (line 19), and the typo
    // (line 47), each at its own place in the YAML.
    assert_eq!(found.len(), 2, "{out}");
    assert_eq!((found[0].1, found[1].1), (19, 47), "{found:?}");
    assert!(found
        .iter()
        .all(|(code, _, column)| !code.is_empty() && *column > 4));
}

#[test]
fn a_folder_check_reads_the_manifests_that_hold_policies_and_only_those() {
    let (_, _, err) = check(&["tests/fixtures/manifests"]);
    assert!(err.contains("checked 1 file"), "{err}");
    // The library's tests and scenarios are YAML too, and hold no policy:
    // only its `.skippy` files are counted.
    let policies = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/policies"))
        .expect("the library")
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "skippy"))
        .count();
    let (code, _, err) = check(&["--deny-warnings", "policies/"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains(&format!("checked {policies} files:")), "{err}");
}

/// `spec.policy` folded (`>-`), double- and single-quoted: each is read as
/// the operator's YAML parser reads it, and its diagnostic lands on the
/// token in the YAML file, past folded lines and escapes.
#[test]
fn each_scalar_style_is_checked_where_it_is_written() {
    for (style, line, column) in [
        ("folded", 13, 12),
        ("double-quoted", 11, 10),
        ("single-quoted", 10, 24),
    ] {
        let file = format!("tests/fixtures/manifest-styles/{style}.yaml");
        let (code, out, err) = check(&["--color", "never", &file]);
        assert_eq!(code, Some(1), "{style}: {out}{err}");
        insta::assert_snapshot!(format!("manifest_{style}"), out);

        let (_, out, _) = check(&["--format", "json", &file]);
        let found: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON line");
        assert_eq!(found["code"], "E0101", "{style}: {out}");
        assert_eq!(
            (found["line"].as_u64(), found["column"].as_u64()),
            (Some(line), Some(column)),
            "{style}: {out}"
        );
        let yaml = std::fs::read_to_string(&file).expect("the fixture");
        let token = yaml.lines().nth(line as usize - 1).expect("the line");
        assert!(
            token[column as usize - 1..].starts_with("memory_percnt"),
            "{style}: {token}"
        );
    }
}
