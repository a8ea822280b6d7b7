//! The real control plane of `tests/cluster/`, started once per test binary.
//!
//! The first test that asks for it builds the binaries if needed (a no-op
//! when they are up to date; `.ci/run` builds them beforehand so that a
//! cold build shows its own progress), starts `testcluster` with a pipe on
//! its standard input and waits for its `ready.json`. The write end of the
//! pipe lives as long as the test process: when the process exits, however
//! it exits, the pipe closes and `testcluster` stops the cluster.
//!
//! Where the control plane cannot be had (no Go on a developer's machine),
//! a test that needs it is skipped loudly; under CI (`CI` set) it fails.

use serde::Deserialize;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// What `testcluster` writes to `ready.json` (the fields the tests read).
#[derive(Debug, Clone, Deserialize)]
pub struct Ready {
    pub server: String,
    pub kubeconfig: PathBuf,
    pub admin_token_file: PathBuf,
    pub plain_kubeconfig: PathBuf,
    pub plain_service_account: String,
    pub kubernetes_version: String,
    pub nodes: Vec<String>,
    pub log_dir: PathBuf,
    pub startup_seconds: f64,
}

pub struct ControlPlane {
    pub ready: Ready,
    // Held, never written: its end closing is testcluster's signal to stop.
    _stdin: Mutex<ChildStdin>,
    _child: Mutex<Child>,
}

static CONTROL_PLANE: OnceLock<Result<ControlPlane, String>> = OnceLock::new();

/// The control plane, or why there is none.
pub fn control_plane() -> Result<&'static ControlPlane, &'static str> {
    CONTROL_PLANE
        .get_or_init(start)
        .as_ref()
        .map_err(String::as_str)
}

/// The control plane, or `None` after saying loudly why a test is skipped;
/// under CI its absence fails the test.
pub fn require() -> Option<&'static ControlPlane> {
    match control_plane() {
        Ok(plane) => Some(plane),
        Err(why) if std::env::var_os("CI").is_some() => {
            panic!("this test needs the real control plane, which CI must provide: {why}")
        }
        Err(why) => {
            eprintln!(
                "\n*** SKIPPED: this test needs the real control plane (tests/cluster): {why}\n"
            );
            None
        }
    }
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| repo().join("target"), PathBuf::from)
}

fn start() -> Result<ControlPlane, String> {
    build()?;
    let runs = target_dir().join("cluster").join("runs");
    remove_stale_runs(&runs);
    let dir = runs.join(std::process::id().to_string());
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let log = std::fs::File::create(dir.join("testcluster.out"))
        .map_err(|e| format!("cannot create the supervisor's log: {e}"))?;
    let mut child = Command::new(target_dir().join("cluster/bin/testcluster"))
        .arg("--dir")
        .arg(&dir)
        .stdin(Stdio::piped())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log)
        .spawn()
        .map_err(|e| format!("cannot start testcluster: {e}"))?;
    let stdin = child.stdin.take().ok_or("testcluster has no stdin")?;
    let ready = wait_ready(&dir, &mut child)?;
    eprintln!(
        "control plane {} ready in {:.1}s at {} (logs in {})",
        ready.kubernetes_version,
        ready.startup_seconds,
        ready.server,
        ready.log_dir.display()
    );
    Ok(ControlPlane {
        ready,
        _stdin: Mutex::new(stdin),
        _child: Mutex::new(child),
    })
}

/// Runs `tests/cluster/build`, which rebuilds only what changed.
fn build() -> Result<(), String> {
    let status = Command::new(repo().join("tests/cluster/build"))
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .status()
        .map_err(|e| format!("cannot run tests/cluster/build: {e}"))?;
    match status.code() {
        Some(0) => Ok(()),
        Some(3) => Err("Go is not installed, so tests/cluster/build cannot build it".into()),
        _ => Err(format!("tests/cluster/build failed ({status})")),
    }
}

/// The run folders of test processes that are gone (about 60 MB each).
fn remove_stale_runs(runs: &Path) {
    let Ok(entries) = std::fs::read_dir(runs) else {
        return;
    };
    for entry in entries.flatten() {
        let alive = entry
            .file_name()
            .to_str()
            .and_then(|pid| pid.parse::<u32>().ok())
            .is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
        if !alive {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn wait_ready(dir: &Path, child: &mut Child) -> Result<Ready, String> {
    let deadline = Instant::now() + Duration::from_secs(240);
    let path = dir.join("ready.json");
    loop {
        if let Ok(text) = std::fs::read_to_string(&path) {
            return serde_json::from_str(&text)
                .map_err(|e| format!("{} is not what testcluster writes: {e}", path.display()));
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "testcluster exited ({status}) before it was ready:\n{}",
                tail(&dir.join("testcluster.out"))
            ));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return Err(format!(
                "testcluster was not ready after 4 minutes:\n{}",
                tail(&dir.join("testcluster.out"))
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn tail(path: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut file) = std::fs::File::open(path) {
        let _ = file.read_to_string(&mut text);
    }
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}
