//! The real `helm` (`helm.sh/helm/v4`), built from its Go module by
//! `tests/helm/build` the first time a test of this process asks for it (a
//! no-op when it is up to date; `.ci/run` builds it beforehand, beside the
//! Rust build). Without Go a test that needs it is skipped loudly; under CI
//! (`CI` set) it fails.
//!
//! Included with `#[path]` by `tests/helm.rs` and `tests/on_cluster.rs`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The chart, from the repository's root.
pub const CHART: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/charts/kubeskippy");

static HELM: OnceLock<Result<PathBuf, String>> = OnceLock::new();

/// The helm binary, or `None` after saying loudly why a test is skipped.
pub fn require() -> Option<&'static Path> {
    match HELM.get_or_init(build) {
        Ok(helm) => Some(helm),
        Err(why) if std::env::var_os("CI").is_some() => {
            panic!("this test needs the real helm, which CI must provide: {why}")
        }
        Err(why) => {
            eprintln!("\n*** SKIPPED: this test needs the real helm (tests/helm/build): {why}\n");
            None
        }
    }
}

fn build() -> Result<PathBuf, String> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let status = Command::new(repo.join("tests/helm/build"))
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .status()
        .map_err(|e| format!("cannot run tests/helm/build: {e}"))?;
    match status.code() {
        Some(0) => {}
        Some(3) => return Err("Go is not installed, so tests/helm/build cannot build helm".into()),
        _ => return Err(format!("tests/helm/build failed ({status})")),
    }
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| repo.join("target"), PathBuf::from);
    Ok(target.join("helm/bin/helm"))
}

/// `helm ARGS`: (success, stdout, stderr).
pub fn run(helm: &Path, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(helm).args(args).output().expect("helm runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `helm template RELEASE charts/kubeskippy -n NAMESPACE EXTRA`: the
/// rendered objects in helm's install order, or what helm said.
pub fn template(
    helm: &Path,
    release: &str,
    namespace: &str,
    extra: &[&str],
) -> Result<Vec<serde_yaml::Value>, String> {
    let mut args = vec!["template", release, CHART, "--namespace", namespace];
    args.extend_from_slice(extra);
    let (ok, stdout, stderr) = run(helm, &args);
    if !ok {
        return Err(stderr);
    }
    use serde::Deserialize;
    let mut objects = Vec::new();
    for document in serde_yaml::Deserializer::from_str(&stdout) {
        let value = serde_yaml::Value::deserialize(document).map_err(|e| e.to_string())?;
        if !value.is_null() {
            objects.push(value);
        }
    }
    Ok(objects)
}

/// The one rendered object of `kind` (named `name`, if given).
pub fn object<'a>(
    objects: &'a [serde_yaml::Value],
    kind: &str,
    name: Option<&str>,
) -> &'a serde_yaml::Value {
    let found: Vec<&serde_yaml::Value> = objects
        .iter()
        .filter(|o| o["kind"].as_str() == Some(kind))
        .filter(|o| name.is_none_or(|n| o["metadata"]["name"].as_str() == Some(n)))
        .collect();
    assert_eq!(found.len(), 1, "one {kind} {name:?} rendered: {found:?}");
    found[0]
}
