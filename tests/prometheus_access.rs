//! How the operator's Prometheus source reaches a server that asks for
//! credentials or speaks TLS, and what it does when the server keeps
//! silent: the source is built as `kubeskippy run`'s flags build it and
//! queried directly, without a control plane.
//!
//! Basic auth and TLS are proven against the real Prometheus (the Debian
//! package), configured by its `--web.config.file`. Prometheus 2.42 has no
//! bearer tokens of its own (a proxy in front of it checks those) and no
//! way to hang on purpose, so the bearer token and the timeout are proven
//! against a test double: a loopback HTTP server speaking Prometheus's
//! query API.
//!
//! A query that cannot be made is never a panic: its metric is unknown
//! (`Fetched::failed`) and the operator logs why, once.

#[path = "common/prometheus.rs"]
mod real_prometheus;

use kubeskippy::observe::queries::{Fetched, Query};
use kubeskippy::operator::prometheus::{Auth, PrometheusConfig, PrometheusSource};
use real_prometheus::{free_port, prometheus_binary, prometheus_serving, serve};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const NAMESPACE: &str = "access";

/// A fresh folder for one test's files.
fn folder(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("prometheus-access")
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a folder for the test");
    dir
}

/// The query a cycle would make for `metric`, reading its latest value.
fn query(metric: &str, promql: &str) -> Query {
    Query {
        metric: metric.into(),
        promql: promql.into(),
        namespace: Some(NAMESPACE.into()),
        ..Query::default()
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

fn source(url: &str, auth: Auth, ca_file: Option<PathBuf>) -> PrometheusSource {
    PrometheusSource::new(PrometheusConfig {
        url: url.into(),
        timeout: Duration::from_secs(1),
        auth,
        ca_file,
    })
    .expect("a Prometheus source")
}

/// One cycle's fetch of `queries`, which must end well within a minute
/// whatever the server does (the source's own timeout is a second).
async fn fetch(source: &mut PrometheusSource, queries: &[Query]) -> Fetched {
    let mut fetched = Fetched::default();
    tokio::time::timeout(
        Duration::from_secs(60),
        source.fetch(queries, now(), 1, &mut fetched),
    )
    .await
    .expect("a fetch ends, answered or not");
    fetched
}

/// The value `fetched` has for `metric` on the pod `pod`, if any.
fn value(fetched: &Fetched, metric: &str, pod: &str) -> Option<f64> {
    fetched
        .samples
        .iter()
        .find(|(id, _)| id.name == pod)
        .and_then(|(_, series)| series.get(metric))
        .and_then(|samples| samples.last())
        .map(|s| s.value)
}

/// That `fetched` has the probe's 0.5 for `metric` on the pod `p`.
fn assert_answered(fetched: &Fetched, metric: &str) {
    assert_eq!(
        value(fetched, metric, "p"),
        Some(0.5),
        "{metric}: {fetched:?}"
    );
}

/// Whether `fetched` left `metric` unknown.
fn unknown(fetched: &Fetched, metric: &str) -> bool {
    fetched.failed.iter().any(|(m, _, _)| m == metric)
}

/// What the operator logs while the guard lives (on this thread: the
/// tests run on tokio's current-thread runtime, and the source logs from
/// the fetch itself).
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Log {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("the log").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Log {
    fn capture() -> (Log, tracing::subscriber::DefaultGuard) {
        let log = Log::default();
        let writer = log.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        (log, tracing::subscriber::set_default(subscriber))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("the log")).into_owned()
    }

    /// The source's warning that Prometheus does not answer, with its
    /// reason: there must be exactly one.
    fn warning(&self) -> String {
        let text = self.text();
        let warnings: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("WARN") && l.contains("Prometheus does not answer"))
            .collect();
        assert_eq!(warnings.len(), 1, "one warning, with its reason: {text}");
        warnings[0].to_string()
    }
}

/// A test double of Prometheus's query API on a loopback port: it answers
/// each `query_range` with one series, value 0.5, for the pod `p`, except
/// a query naming `hang`, which it reads and never answers, and a request
/// whose `Authorization` is not `wanted` (when set), which gets a 401. It
/// keeps every request's `Authorization` header.
struct Double {
    url: String,
    wanted: Arc<Mutex<Option<String>>>,
    seen: Arc<Mutex<Vec<Option<String>>>>,
    _task: tokio::task::JoinHandle<()>,
}

impl Double {
    async fn start() -> Double {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port for the double");
        let url = format!("http://{}", listener.local_addr().expect("its address"));
        let wanted: Arc<Mutex<Option<String>>> = Arc::default();
        let seen: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
        let (want, keep) = (wanted.clone(), seen.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (want, keep) = (want.clone(), keep.clone());
                tokio::spawn(answer(stream, want, keep));
            }
        });
        Double {
            url,
            wanted,
            seen,
            _task: task,
        }
    }

    fn seen(&self) -> Vec<Option<String>> {
        self.seen.lock().expect("the requests").clone()
    }
}

async fn answer(
    mut stream: tokio::net::TcpStream,
    wanted: Arc<Mutex<Option<String>>>,
    seen: Arc<Mutex<Vec<Option<String>>>>,
) {
    let mut request = Vec::new();
    let mut buffer = [0u8; 4096];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buffer[..n]),
        }
    }
    let request = String::from_utf8_lossy(&request).into_owned();
    let authorization = request.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("authorization")
            .then(|| value.trim().to_string())
    });
    seen.lock()
        .expect("the requests")
        .push(authorization.clone());
    let first = request.lines().next().unwrap_or_default();
    if first.contains("hang") {
        // Hold the connection open and say nothing, until the client goes.
        let _ = stream.read(&mut buffer).await;
        return;
    }
    let wanted = wanted.lock().expect("the wanted header").clone();
    let (status, body) = if wanted.is_some() && wanted != authorization {
        ("401 Unauthorized", "Unauthorized\n".to_string())
    } else {
        (
            "200 OK",
            format!(
                "{{\"status\":\"success\",\"data\":{{\"resultType\":\"matrix\",\"result\":[\
                 {{\"metric\":{{\"namespace\":\"{NAMESPACE}\",\"pod\":\"p\"}},\"values\":[[{},\"0.5\"]]}}]}}}}",
                now()
            ),
        )
    };
    let kind = if status.starts_with("200") {
        "application/json"
    } else {
        "text/plain"
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
}

#[tokio::test]
async fn the_bearer_token_is_read_from_its_file_at_every_cycle() {
    let (log, _guard) = Log::capture();
    let dir = folder("bearer");
    let token = dir.join("token");
    std::fs::write(&token, "first-token\n").expect("the token file");
    let double = Double::start().await;
    *double.wanted.lock().expect("wanted") = Some("Bearer first-token".into());
    let mut source = source(&double.url, Auth::BearerFile(token.clone()), None);
    let queries = [query("memory_percent", "probe")];

    let fetched = fetch(&mut source, &queries).await;
    assert_answered(&fetched, "memory_percent");
    assert_eq!(double.seen(), [Some("Bearer first-token".to_string())]);

    // A projected token rotates: the next cycle sends the new one, and the
    // server refusing the old one changes nothing.
    std::fs::write(&token, "second-token").expect("the rotated token");
    *double.wanted.lock().expect("wanted") = Some("Bearer second-token".into());
    let fetched = fetch(&mut source, &queries).await;
    assert_answered(&fetched, "memory_percent");
    assert_eq!(
        double.seen().last().cloned().flatten().as_deref(),
        Some("Bearer second-token")
    );

    // A token the server refuses: unknown, and the log says it was refused.
    std::fs::write(&token, "stale-token").expect("a stale token");
    let fetched = fetch(&mut source, &queries).await;
    assert!(unknown(&fetched, "memory_percent"), "{fetched:?}");
    assert!(fetched.samples.is_empty(), "{fetched:?}");
    let warning = log.warning();
    assert!(warning.contains("HTTP 401 Unauthorized"), "{warning}");
    assert!(
        !log.text().contains("stale-token"),
        "the token is never logged"
    );
}

#[tokio::test]
async fn a_missing_token_file_leaves_the_metric_unknown_and_asks_nothing() {
    let (log, _guard) = Log::capture();
    let dir = folder("no-token");
    let double = Double::start().await;
    let missing = dir.join("not-there");
    let mut source = source(&double.url, Auth::BearerFile(missing.clone()), None);
    let queries = [
        query("memory_percent", "probe"),
        query("cpu_percent", "probe"),
    ];
    let fetched = fetch(&mut source, &queries).await;
    assert!(unknown(&fetched, "memory_percent"), "{fetched:?}");
    assert!(unknown(&fetched, "cpu_percent"), "{fetched:?}");
    assert!(
        double.seen().is_empty(),
        "nothing is sent without the credentials"
    );
    let warning = log.warning();
    assert!(
        warning.contains(&format!("the bearer token {}", missing.display())),
        "{warning}"
    );

    // The file appears (the Secret is mounted): the next cycle answers.
    std::fs::write(&missing, "late-token").expect("the token file");
    let fetched = fetch(&mut source, &queries).await;
    assert_answered(&fetched, "cpu_percent");
    assert!(
        log.text().contains("Prometheus answers again"),
        "{}",
        log.text()
    );
}

#[tokio::test]
async fn a_server_that_never_answers_is_unknown_after_the_timeout_and_the_cycle_goes_on() {
    let (log, _guard) = Log::capture();
    let double = Double::start().await;
    let mut source = source(&double.url, Auth::None, None);
    let queries = [
        query("memory_percent", "hang"),
        query("cpu_percent", "probe"),
    ];
    let started = Instant::now();
    let fetched = fetch(&mut source, &queries).await;
    // The source waited for its one-second timeout, not for the double
    // (which never answers), and not for the test's own minute.
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert!(unknown(&fetched, "memory_percent"), "{fetched:?}");
    assert_answered(&fetched, "cpu_percent");
    assert!(!unknown(&fetched, "cpu_percent"), "{fetched:?}");
    let warning = log.warning();
    assert!(
        warning.contains("no answer within 1s (--prometheus-timeout-seconds)"),
        "{warning}"
    );
    // The next cycle is not stuck behind the silent query.
    let fetched = fetch(&mut source, &queries[1..]).await;
    assert_answered(&fetched, "cpu_percent");
}

/// A real Prometheus with `web_config` (its `--web.config.file`) scraping
/// a series `probe` of the pod `p` every second, in `dir`: its port, and
/// the exporter and the server, stopped when they drop.
async fn guarded_prometheus(
    dir: &Path,
    web_config: &str,
) -> Option<(u16, tokio::task::JoinHandle<()>, tokio::process::Child)> {
    let binary = prometheus_binary()?;
    let (target, exporter) =
        serve(|| format!("# TYPE probe gauge\nprobe{{namespace=\"{NAMESPACE}\",pod=\"p\"}} 0.5\n"))
            .await;
    let web = free_port();
    let server = prometheus_serving(&binary, dir, &[&target], web, Some(web_config));
    Some((web, exporter, server))
}

/// Fetches with `source` until Prometheus is up and has scraped the
/// probe: Prometheus takes a few seconds to start.
async fn first_answer(source: &mut PrometheusSource, dir: &Path) -> f64 {
    let queries = [query("memory_percent", "probe")];
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let fetched = fetch(source, &queries).await;
        if let Some(value) = value(&fetched, "memory_percent", "p") {
            return value;
        }
        let log = std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default();
        assert!(
            Instant::now() < deadline,
            "no answer from Prometheus: {fetched:?}\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Password `kubeskippy-test`, hashed with bcrypt at cost 4 (the lowest, so
/// that Prometheus checks it fast) by Python's `crypt` over libxcrypt:
/// `crypt.crypt("kubeskippy-test", crypt.mksalt(crypt.METHOD_BLOWFISH,
/// rounds=16))`. Fixed here because no bcrypt crate is in the tree; the
/// hash is of a password that guards nothing but this test.
const PASSWORD_HASH: &str = "$2b$04$a1JCMDrFwW74FgGkjK3lEexkNfUMQjnaj69RDG5GZ7uOIF4osRqSK";

#[tokio::test]
async fn basic_auth_reaches_a_real_prometheus_and_a_wrong_password_is_unknown() {
    let (log, _guard) = Log::capture();
    let dir = folder("basic-auth");
    let web_config = format!("basic_auth_users:\n  ops: {PASSWORD_HASH}\n");
    let Some((web, _exporter, _server)) = guarded_prometheus(&dir, &web_config).await else {
        return;
    };
    let url = format!("http://127.0.0.1:{web}");
    let basic = |password: &str| Auth::Basic {
        username: "ops".into(),
        password: password.into(),
    };
    let mut right = source(&url, basic("kubeskippy-test"), None);
    assert_eq!(first_answer(&mut right, &dir).await, 0.5);

    let (wrong_log, wrong_guard) = Log::capture();
    let mut wrong = source(&url, basic("not-the-password"), None);
    let fetched = fetch(&mut wrong, &[query("memory_percent", "probe")]).await;
    drop(wrong_guard);
    assert!(unknown(&fetched, "memory_percent"), "{fetched:?}");
    assert!(fetched.samples.is_empty(), "{fetched:?}");
    let warning = wrong_log.warning();
    assert!(warning.contains("HTTP 401 Unauthorized"), "{warning}");
    assert!(!wrong_log.text().contains("not-the-password"));

    // Without credentials Prometheus refuses too: the header is what let
    // the first source in.
    let mut none = source(&url, Auth::None, None);
    let fetched = fetch(&mut none, &[query("memory_percent", "probe")]).await;
    assert!(unknown(&fetched, "memory_percent"), "{fetched:?}");
    assert!(!log.text().contains("kubeskippy-test"), "{}", log.text());
}

/// Runs `openssl` with `args` (split at spaces) in `dir`, or `None` (the
/// test is skipped loudly, and fails under CI) when it is not installed.
fn openssl(dir: &Path, args: &str) -> Option<()> {
    let output = match std::process::Command::new("openssl")
        .args(args.split_whitespace())
        .current_dir(dir)
        .output()
    {
        Ok(output) => output,
        Err(error) => {
            let why = format!(
                "no `openssl` to make the test's certificates ({error}; .ci/run installs it)"
            );
            assert!(std::env::var_os("CI").is_none(), "{why}");
            eprintln!("SKIPPED: {why}");
            return None;
        }
    };
    assert!(
        output.status.success(),
        "openssl {args}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(())
}

/// A new P-256 key, unencrypted: quick to make, and what both rustls and
/// Prometheus take.
const NEW_KEY: &str = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";

/// A CA of its own, `NAME.crt` and `NAME.key` in `dir`, valid for a day.
fn certificate_authority(dir: &Path, name: &str) -> Option<()> {
    openssl(
        dir,
        &format!(
            "req -x509 {NEW_KEY} -keyout {name}.key -out {name}.crt -days 1 \
             -subj /CN=kubeskippy-test-{name} -addext basicConstraints=critical,CA:TRUE \
             -addext keyUsage=critical,keyCertSign,cRLSign"
        ),
    )
}

/// `server.crt` and `server.key` for 127.0.0.1, signed by the CA `ca`.
fn server_certificate(dir: &Path, ca: &str) -> Option<()> {
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .expect("the extensions");
    openssl(
        dir,
        &format!("req {NEW_KEY} -keyout server.key -out server.csr -subj /CN=127.0.0.1"),
    )?;
    openssl(
        dir,
        &format!(
            "x509 -req -in server.csr -CA {ca}.crt -CAkey {ca}.key -CAcreateserial \
             -out server.crt -days 1 -extfile server.ext"
        ),
    )
}

#[tokio::test]
async fn a_real_prometheus_over_tls_is_trusted_by_its_ca_file_and_no_other() {
    let (_log, _guard) = Log::capture();
    let dir = folder("tls");
    if certificate_authority(&dir, "ca").is_none()
        || certificate_authority(&dir, "other-ca").is_none()
        || server_certificate(&dir, "ca").is_none()
    {
        return;
    }
    let web_config = format!(
        "tls_server_config:\n  cert_file: {}\n  key_file: {}\n",
        dir.join("server.crt").display(),
        dir.join("server.key").display()
    );
    let Some((web, _exporter, _server)) = guarded_prometheus(&dir, &web_config).await else {
        return;
    };
    let url = format!("https://127.0.0.1:{web}");
    let mut trusting = source(&url, Auth::None, Some(dir.join("ca.crt")));
    assert_eq!(first_answer(&mut trusting, &dir).await, 0.5);

    // Signed by a CA the operator was not given: unknown, and why.
    for ca_file in [Some(dir.join("other-ca.crt")), None] {
        let (log, guard) = Log::capture();
        let mut doubting = source(&url, Auth::None, ca_file.clone());
        let fetched = fetch(&mut doubting, &[query("memory_percent", "probe")]).await;
        drop(guard);
        assert!(
            unknown(&fetched, "memory_percent"),
            "{ca_file:?}: {fetched:?}"
        );
        let warning = log.warning();
        assert!(
            warning.contains("invalid peer certificate: UnknownIssuer"),
            "{ca_file:?}: {warning}"
        );
    }
}

#[test]
fn a_ca_file_that_is_missing_or_holds_no_certificate_is_refused_at_start() {
    let dir = folder("bad-ca");
    std::fs::write(dir.join("empty.pem"), "not a certificate\n").expect("a file");
    for (file, expected) in [
        ("missing.pem", "No such file"),
        ("empty.pem", "no PEM certificate in it"),
    ] {
        let path = dir.join(file);
        let error = PrometheusSource::new(PrometheusConfig {
            url: "https://127.0.0.1:9".into(),
            timeout: Duration::from_secs(1),
            auth: Auth::None,
            ca_file: Some(path.clone()),
        })
        .err()
        .unwrap_or_else(|| panic!("{file} is refused"));
        assert!(
            error.starts_with(&format!("--prometheus-ca-file {}: ", path.display()))
                && error.contains(expected),
            "{error}"
        );
    }
}
