//! `kubeskippy check` over many files: one file, whatever it holds or however
//! it fails to be read, never hides the others, and every problem is reported
//! in both formats.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const GOOD: &str =
    "policy a {\n  select pods\n  cooldown 5m\n  when restarts > 3 then restart\n}\n";
const BAD: &str =
    "policy b {\n  select pods\n  cooldown 5m\n  when restarts > 3 then restart now\n}\n";

/// A fresh folder of this test's own, under the system's temporary folder,
/// removed when the test ends.
struct Folder(PathBuf);

impl std::ops::Deref for Folder {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn folder(test: &str) -> Folder {
    let dir = std::env::temp_dir().join(format!(
        "kubeskippy-check-files-{}-{test}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    Folder(dir)
}

fn check(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubeskippy"))
        .arg("check")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `a.skippy` holds a Latin-1 `é` in a comment on line 4; `b.skippy` after it
/// has a syntax error.
fn latin1_then_bad(test: &str) -> Folder {
    let dir = folder(test);
    let mut latin1 = b"policy a {\n  select pods\n  cooldown 5m\n  # caf".to_vec();
    latin1.extend([0xE9]);
    latin1.extend(b"\n  when restarts > 3 then restart\n}\n");
    std::fs::write(dir.join("a.skippy"), latin1).unwrap();
    std::fs::write(dir.join("b.skippy"), BAD).unwrap();
    dir
}

#[test]
fn a_file_that_is_not_utf8_is_located_and_does_not_stop_the_run() {
    let dir = latin1_then_bad("latin1-human");
    let out = check(&dir, &["--color", "never", "."]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with(
            "error: ./a.skippy:4:8: the file is not valid UTF-8: byte 0xE9 at offset 46\n"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("./b.skippy:4:34"),
        "the next file is checked: {stdout}"
    );
    assert_eq!(text(&out.stderr), "checked 2 files: 2 errors, 0 warnings\n");
}

#[test]
fn a_file_that_is_not_utf8_is_a_json_object_too() {
    let dir = latin1_then_bad("latin1-json");
    let out = check(&dir, &["--format", "json", "."]);
    assert_eq!(out.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
        .collect();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert_eq!(
        lines[0],
        serde_json::json!({
            "file": "./a.skippy", "line": 4, "column": 8, "end_line": 4, "end_column": 9,
            "code": null, "severity": "error",
            "message": "the file is not valid UTF-8: byte 0xE9 at offset 46",
            "help": "save it as UTF-8; the rest of it was checked with each bad byte read as `\u{FFFD}`",
        })
    );
    assert_eq!(lines[1]["file"], "./b.skippy");
    assert_eq!(lines[1]["code"], "E0001");
}

#[test]
fn the_rest_of_a_file_that_is_not_utf8_is_still_checked() {
    let dir = folder("latin1-rest");
    let mut source = b"# caf".to_vec();
    source.extend([0xE9, b'\n']);
    source.extend(BAD.as_bytes());
    std::fs::write(dir.join("a.skippy"), source).unwrap();
    let out = check(&dir, &["--format", "json", "a.skippy"]);
    let codes: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["code"].clone())
        .collect();
    assert_eq!(codes, [serde_json::Value::Null, "E0001".into()]);
}

#[cfg(unix)]
#[test]
fn a_file_that_cannot_be_read_is_reported_and_the_run_goes_on_to_exit_2() {
    let dir = folder("unreadable");
    // A dangling link: listed in the folder, unreadable whoever runs the test
    // (a file without read permission is readable by root).
    std::os::unix::fs::symlink("nowhere", dir.join("a.skippy")).unwrap();
    std::fs::write(dir.join("b.skippy"), BAD).unwrap();
    let human = check(&dir, &["--color", "never", "."]);
    assert_eq!(human.status.code(), Some(2));
    let stdout = text(&human.stdout);
    assert!(
        stdout
            .starts_with("error: ./a.skippy:1:1: cannot read the file: No such file or directory"),
        "{stdout}"
    );
    assert!(stdout.contains("./b.skippy:4:34"), "{stdout}");
    assert_eq!(
        text(&human.stderr),
        "checked 1 file: 1 error, 0 warnings; 1 file could not be read\n"
    );
    let json = check(&dir, &["--format", "json", "."]);
    assert_eq!(json.status.code(), Some(2));
    let first: serde_json::Value =
        serde_json::from_str(text(&json.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(first["file"], "./a.skippy");
    assert_eq!(first["code"], serde_json::Value::Null);
    assert_eq!(first["severity"], "error");
    assert_eq!(text(&json.stdout).lines().count(), 2);
}

#[test]
fn an_empty_file_is_a_warning() {
    let dir = folder("empty");
    std::fs::write(dir.join("empty.skippy"), "").unwrap();
    std::fs::write(dir.join("good.skippy"), GOOD).unwrap();
    let out = check(&dir, &["--format", "json", "."]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("\"file\":\"./empty.skippy\""), "{stdout}");
    assert!(stdout.contains("\"code\":\"W0117\""), "{stdout}");
    let denied = check(&dir, &["--deny-warnings", "."]);
    assert_eq!(denied.status.code(), Some(1));
}

#[test]
fn a_path_without_policy_files_is_a_usage_error() {
    let dir = folder("nothing");
    std::fs::write(dir.join("README.md"), "no policies here").unwrap();
    for args in [&["."][..], &[][..]] {
        let out = check(&dir, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(
            text(&out.stderr),
            "error: no `*.skippy` or HealingPolicy manifest files found\n"
        );
        assert!(out.stdout.is_empty());
    }
}
