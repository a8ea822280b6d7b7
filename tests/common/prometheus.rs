//! A real Prometheus server (the Debian package `.ci/run` installs) started
//! by a test on loopback, scraping an exporter the test serves.
//!
//! Included with `#[path]` by `tests/on_cluster.rs` and
//! `tests/prometheus_access.rs`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The Prometheus binary: `$KUBESKIPPY_PROMETHEUS`, or `prometheus` on the
/// PATH. Without it the test is skipped loudly, and fails under CI.
pub fn prometheus_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("KUBESKIPPY_PROMETHEUS") {
        return Some(path.into());
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("prometheus"))
            .find(|candidate| candidate.is_file())
    });
    if found.is_none() {
        let why = "no `prometheus` on the PATH (Debian package `prometheus`; .ci/run installs it)";
        assert!(std::env::var_os("CI").is_none(), "{why}");
        eprintln!("SKIPPED: {why}");
    }
    found
}

/// A real Prometheus on 127.0.0.1:`web` scraping `target` every second,
/// its configuration, data, log and query log (`queries.log`: every query it
/// ran) in `dir`; killed when the child drops.
pub fn prometheus_on(binary: &Path, dir: &Path, target: &str, web: u16) -> tokio::process::Child {
    prometheus_serving(binary, dir, &[target], web, None)
}

/// [`prometheus_on`] scraping each of `targets` (each its own `instance`),
/// with its web server configured by `web_config`, the YAML of
/// Prometheus's `--web.config.file` (`tls_server_config`,
/// `basic_auth_users`).
pub fn prometheus_serving(
    binary: &Path,
    dir: &Path,
    targets: &[&str],
    web: u16,
    web_config: Option<&str>,
) -> tokio::process::Child {
    let targets: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
    let targets = targets.join(", ");
    std::fs::create_dir_all(dir).expect("a directory for Prometheus");
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  query_log_file: {}\nscrape_configs:\n  - job_name: kubeskippy\n    \
             static_configs:\n      - targets: [{targets}]\n",
            dir.join("queries.log").display()
        ),
    )
    .expect("the Prometheus configuration");
    let log = std::fs::File::create(dir.join("prometheus.log")).expect("a log");
    let mut command = tokio::process::Command::new(binary);
    command
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{web}"));
    if let Some(web_config) = web_config {
        let path = dir.join("web.yml");
        std::fs::write(&path, web_config).expect("the web configuration");
        command.arg(format!("--web.config.file={}", path.display()));
    }
    command
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("a log handle"))
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("prometheus starts")
}

/// Serves what `body` gives at each scrape on a loopback port until the
/// task is dropped: its address and the task.
pub async fn serve(
    body: impl Fn() -> String + Send + 'static,
) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port for the exporter");
    let address = listener.local_addr().expect("its address").to_string();
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            let body = body();
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request).await;
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    (address, task)
}
