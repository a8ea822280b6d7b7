//! The AI analyzer's HTTP backends against a test double: a tiny HTTP/1.1
//! server on 127.0.0.1 that this test starts, speaking Ollama's and the
//! OpenAI-compatible wire formats with scripted replies, and recording every
//! request so the test can assert its exact shape.
//!
//! Proven here: the request (path, model, messages, the schema with the
//! allowed actions as an enum and `none`), the structured-output fallback
//! chain and its memory per endpoint, timeouts and 5xx falling back to the
//! deterministic choice, no Secret value in a request body, the API key in
//! the header and in no log line, and adversarial answers all rejected.

use kubeskippy::ai::case::{Context, EventNote, NONE};
use kubeskippy::ai::http::HttpAnalyzer;
use kubeskippy::ai::incident;
use kubeskippy::ai::redact::Redactor;
use kubeskippy::ai::{
    AiConfig, Analyzer, ApiKey, BackendKind, Case, FallbackChoice, ModeSetting, StructuredMode,
    Verdict, VerdictOutcome, Why,
};
use kubeskippy::catalog::Kind;
use kubeskippy::engine::observation::TargetId;
use kubeskippy::engine::{Candidate, Decision};
use kubeskippy::safety::SafetyConfig;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What the double answers to one request.
#[derive(Clone)]
enum Reply {
    /// A status and a JSON body.
    Json(u16, String),
    /// Never answer (the client's timeout must end the call).
    Hang,
}

/// One request as the double received it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    raw_body: String,
    body: Value,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The test double: replies in script order; a request past the script
/// gets a 500 that names no format (so a test that sends too much fails).
struct Double {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

async fn double(script: Vec<Reply>) -> Double {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let script = Arc::new(Mutex::new(VecDeque::from(script)));
    let (seen2, script2) = (seen.clone(), script.clone());
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let (seen, script) = (seen2.clone(), script2.clone());
            tokio::spawn(async move {
                let Some(request) = read_request(&mut socket).await else {
                    return;
                };
                seen.lock().unwrap().push(request);
                let reply = script
                    .lock()
                    .unwrap()
                    .pop_front()
                    .unwrap_or(Reply::Json(500, r#"{"error":"unscripted request"}"#.into()));
                match reply {
                    Reply::Hang => tokio::time::sleep(Duration::from_secs(3600)).await,
                    Reply::Json(status, body) => {
                        let head = format!(
                            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                            body.len()
                        );
                        let _ = socket.write_all(head.as_bytes()).await;
                        let _ = socket.write_all(body.as_bytes()).await;
                        let _ = socket.shutdown().await;
                    }
                }
            });
        }
    });
    Double { url, seen }
}

async fn read_request(socket: &mut tokio::net::TcpStream) -> Option<Seen> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, path) = (first.next()?.to_string(), first.next()?.to_string());
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let raw_body = String::from_utf8_lossy(&buf[head_end..]).to_string();
    Some(Seen {
        method,
        path,
        headers,
        body: serde_json::from_str(&raw_body).unwrap_or(Value::Null),
        raw_body,
    })
}

fn openai_reply(content: &str) -> Reply {
    Reply::Json(
        200,
        json!({"id": "x", "object": "chat.completion",
               "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                            "finish_reason": "stop"}]})
        .to_string(),
    )
}

fn ollama_reply(content: &str) -> Reply {
    Reply::Json(
        200,
        json!({"model": "m", "message": {"role": "assistant", "content": content}, "done": true})
            .to_string(),
    )
}

fn incident_case(file: &str) -> Case {
    let path = format!("{}/examples/ai-eval/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap();
    incident::parse(&text, &Redactor::new(&[]).unwrap())
        .unwrap()
        .case
}

/// The OOM incident: restart rolling, set memory_limit…, scale up 2 max 8.
fn oom() -> Case {
    incident_case("01-oom-after-traffic-growth.yaml")
}

fn answer(case: &Case, action: &str) -> String {
    json!({"action": action, "target": case.object, "confidence": 0.8,
           "reasoning": ["memory flat at the limit"], "alternatives": []})
    .to_string()
}

fn analyzer(url: &str, kind: BackendKind, tune: impl FnOnce(&mut AiConfig)) -> HttpAnalyzer {
    let mut config = AiConfig::new(url, kind, "test-model");
    config.timeout = Duration::from_secs(10);
    tune(&mut config);
    HttpAnalyzer::new(config).unwrap()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn seen(d: &Double) -> Vec<Seen> {
    d.seen.lock().unwrap().clone()
}

#[test]
fn openai_request_carries_the_schema_and_falls_back_mode_by_mode() {
    rt().block_on(async {
        let case = oom();
        let d = double(vec![
            Reply::Json(400, r#"{"error":{"message":"response_format type json_schema is not supported"}}"#.into()),
            Reply::Json(500, r#"{"error":{"message":"Input should be 'text' or 'json_object'","loc":["body","response_format","schema"]}}"#.into()),
            openai_reply(&answer(&case, "set memory_limit = current * 1.5 max 2Gi")),
            openai_reply(&answer(&case, "scale up 2 max 8")),
        ])
        .await;
        let a = analyzer(&format!("{}/v1", d.url), BackendKind::OpenAi, |_| {});
        let v = a.analyze(&case).await;
        let VerdictOutcome::Ai(rec) = &v.outcome else {
            panic!("{v:?}")
        };
        assert_eq!((rec.choice, rec.confidence), (1, 0.8));
        assert_eq!(v.mode, Some(StructuredMode::JsonObject));
        assert_eq!(v.model, "test-model");

        let requests = seen(&d);
        assert_eq!(requests.len(), 3);
        let first = &requests[0];
        assert_eq!((first.method.as_str(), first.path.as_str()), ("POST", "/v1/chat/completions"));
        assert_eq!(first.header("content-type"), Some("application/json"));
        assert_eq!(first.body["model"], "test-model");
        assert_eq!(first.body["stream"], false);
        assert_eq!(first.body["messages"][0]["role"], "system");
        assert_eq!(first.body["messages"][1]["role"], "user");
        let user = first.body["messages"][1]["content"].as_str().unwrap();
        assert!(user.contains("CASE DATA") && user.contains("deployments/shop/checkout"));
        let rf = &first.body["response_format"];
        assert_eq!(rf["type"], "json_schema");
        let schema = &rf["json_schema"]["schema"];
        assert_eq!(
            schema["properties"]["action"]["enum"],
            json!(["restart rolling", "set memory_limit = current * 1.5 max 2Gi", "scale up 2 max 8", NONE])
        );
        assert_eq!(schema["properties"]["target"]["enum"], json!(["deployments/shop/checkout"]));
        assert_eq!(schema["properties"]["confidence"], json!({"type": "number", "minimum": 0, "maximum": 1}));
        assert_eq!(
            requests[1].body["response_format"],
            json!({"type": "json_object", "schema": schema})
        );
        assert_eq!(requests[2].body["response_format"], json!({"type": "json_object"}));
        assert_eq!(requests[0].body["messages"], requests[2].body["messages"]);

        // Remembered for the endpoint: the next case starts at json_object.
        assert_eq!(a.mode_in_use(), Some(StructuredMode::JsonObject));
        let again = a.analyze(&case).await;
        assert_eq!(again.candidate(), Some(2));
        let requests = seen(&d);
        assert_eq!(requests.len(), 4);
        assert_eq!(requests[3].body["response_format"], json!({"type": "json_object"}));
    });
}

#[test]
fn the_chain_ends_with_no_structured_output_at_all() {
    rt().block_on(async {
        let case = oom();
        let refuse = Reply::Json(400, r#"{"error":"unsupported response_format"}"#.into());
        let d = double(vec![
            refuse.clone(),
            refuse.clone(),
            refuse,
            openai_reply(&answer(&case, "restart rolling")),
        ])
        .await;
        let a = analyzer(&d.url, BackendKind::OpenAi, |_| {});
        let v = a.analyze(&case).await;
        assert_eq!(v.mode, Some(StructuredMode::None));
        assert_eq!(v.candidate(), Some(0));
        let requests = seen(&d);
        assert_eq!(requests.len(), 4);
        assert!(requests[3].body.get("response_format").is_none());
    });
}

#[test]
fn a_fixed_mode_never_falls_back() {
    rt().block_on(async {
        let case = oom();
        let d = double(vec![Reply::Json(400, r#"{"error":"response_format unsupported"}"#.into())]).await;
        let a = analyzer(&d.url, BackendKind::OpenAi, |c| {
            c.mode = ModeSetting::Fixed(StructuredMode::JsonSchema)
        });
        let v = a.analyze(&case).await;
        assert!(matches!(&v.outcome, VerdictOutcome::Fallback { why: Why::Unreachable(e), .. } if e.starts_with("HTTP 400")), "{v:?}");
        assert_eq!(seen(&d).len(), 1);
    });
}

#[test]
fn ollama_request_sets_format_to_the_schema_and_falls_back_to_json() {
    rt().block_on(async {
        let case = oom();
        let d = double(vec![
            Reply::Json(
                400,
                r#"{"error":"invalid format: schema not supported by this version"}"#.into(),
            ),
            ollama_reply(&answer(&case, "restart rolling")),
        ])
        .await;
        let a = analyzer(&d.url, BackendKind::Ollama, |c| c.max_tokens = 200);
        let v = a.analyze(&case).await;
        assert_eq!(v.candidate(), Some(0), "{v:?}");
        assert_eq!(v.origin(), "ai");
        assert_eq!(v.mode, Some(StructuredMode::JsonObject));
        let requests = seen(&d);
        assert_eq!(requests.len(), 2);
        assert_eq!(requests[0].path, "/api/chat");
        let body = &requests[0].body;
        assert_eq!(body["model"], "test-model");
        assert_eq!(body["stream"], false);
        assert_eq!(
            body["options"],
            json!({"temperature": 0, "num_predict": 200})
        );
        assert_eq!(body["format"]["type"], "object");
        assert_eq!(
            body["format"]["properties"]["action"]["enum"],
            json!([
                "restart rolling",
                "set memory_limit = current * 1.5 max 2Gi",
                "scale up 2 max 8",
                NONE
            ])
        );
        assert_eq!(requests[1].body["format"], "json");
    });
}

#[test]
fn a_timeout_falls_back_to_the_deterministic_choice() {
    rt().block_on(async {
        let case = oom();
        let d = double(vec![Reply::Hang]).await;
        let a = analyzer(&d.url, BackendKind::OpenAi, |c| {
            c.timeout = Duration::from_millis(300)
        });
        let v = a.analyze(&case).await;
        let VerdictOutcome::Fallback { why, choice } = &v.outcome else {
            panic!("{v:?}")
        };
        assert_eq!(why.code(), "timed-out", "{why}");
        assert_eq!(
            *choice,
            FallbackChoice::Candidate {
                choice: 2,
                action: "scale up 2 max 8".into()
            }
        );
        assert_eq!(v.origin(), "fallback");
    });
}

#[test]
fn a_5xx_that_names_no_format_falls_back_at_once() {
    rt().block_on(async {
        let case = oom();
        let d = double(vec![Reply::Json(503, r#"{"error":"model is loading"}"#.into())]).await;
        let a = analyzer(&d.url, BackendKind::OpenAi, |_| {});
        let v = a.analyze(&case).await;
        assert!(matches!(&v.outcome, VerdictOutcome::Fallback { why: Why::Unreachable(e), .. } if e.contains("503")), "{v:?}");
        assert_eq!(v.candidate(), Some(2));
        assert_eq!(seen(&d).len(), 1);
    });
}

#[test]
fn a_dead_endpoint_falls_back() {
    rt().block_on(async {
        // Bound and dropped: nothing listens there any more.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let a = analyzer(
            &format!("http://127.0.0.1:{port}"),
            BackendKind::OpenAi,
            |_| {},
        );
        let v = a.analyze(&oom()).await;
        assert_eq!(v.origin(), "fallback");
        assert!(
            matches!(
                v.outcome,
                VerdictOutcome::Fallback {
                    why: Why::Unreachable(_),
                    ..
                }
            ),
            "{v:?}"
        );
    });
}

/// An `Ambiguous` decision of a compiled policy, as the engine makes one.
fn decision() -> (kubeskippy::ir::Program, Decision) {
    let source = "policy triage {\n  select pods in shop where app = \"billing\"\n  mode approve\n  \
                  cooldown 10m\n  when status is CrashLoopBackOff for 5m then ask ai among [restart rolling, rollback]\n}\n";
    let compiled = kubeskippy::check::compile(source, &SafetyConfig::default());
    assert!(!compiled.has_errors(), "{:?}", compiled.diagnostics);
    let program = compiled.program;
    let rule = program.policies[0].rules[0].clone();
    let deployment = TargetId {
        kind: Kind::Deployments,
        namespace: Some("shop".into()),
        name: "billing".into(),
    };
    let candidates = rule
        .action
        .choices()
        .iter()
        .map(|c| Candidate {
            action: c.action.clone(),
            effect: c.effect,
            safety: c.safety.clone(),
            object: deployment.clone(),
        })
        .collect();
    let decision = Decision::Ambiguous {
        policy: "triage".into(),
        policy_index: 0,
        rules: vec![0],
        fingerprints: vec![rule.fingerprint.clone()],
        target: TargetId {
            kind: Kind::Pods,
            namespace: Some("shop".into()),
            name: "billing-4a2-x".into(),
        },
        owner: Some(deployment.clone()),
        candidates,
        object: deployment,
        evidence: vec![],
    };
    (program, decision)
}

#[test]
fn a_planted_secret_never_reaches_the_request_body() {
    rt().block_on(async {
        let (program, decision) = decision();
        let planted = "Pl4nted-Secret-Value-93f1";
        let context = Context {
            events: vec![EventNote {
                reason: "BackOff".into(),
                message: format!("connecting with {planted} failed"),
                count: 2,
                age_seconds: 5,
            }],
            logs: vec![
                format!("DEBUG dsn=postgres://billing:{planted}@db:5432/billing"),
                "DEBUG api_key=sk_live_abcdefghijklmnop1234".into(),
            ],
            secret_values: vec![planted.into()],
            ..Context::default()
        };
        let case = Case::from_decision(&program, &decision, &context, &Redactor::new(&[]).unwrap())
            .unwrap();
        let d = double(vec![openai_reply(&answer(&case, "rollback"))]).await;
        let a = analyzer(&d.url, BackendKind::OpenAi, |_| {});
        let v = a.analyze(&case).await;
        assert_eq!(v.candidate(), Some(1));
        let body = &seen(&d)[0].raw_body;
        assert!(!body.contains(planted), "the planted Secret leaked: {body}");
        assert!(!body.contains("sk_live_abcdefghijklmnop1234"));
        assert!(body.contains("[REDACTED]"));
        // The case is still there to read.
        assert!(body.contains("deployments/shop/billing") && body.contains("BackOff"));
    });
}

/// A log writer the test reads back.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every log line of this test binary. One subscriber for the process:
/// a thread-local one raced the other tests for tracing's per-callsite
/// cache, and sometimes saw nothing. A test reads back the lines of its own
/// endpoint (each test double has its own port).
fn captured_logs() -> &'static Captured {
    static LOGS: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Captured::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
        logs
    })
}

#[test]
fn the_api_key_is_sent_as_a_header_and_never_logged() {
    let logs = captured_logs();
    let key = "sk-test-DO-NOT-LOG-4b1d";
    let mut url = String::new();
    let verdict = rt().block_on(async {
        let case = oom();
        let d = double(vec![
            Reply::Json(
                400,
                r#"{"error":"response_format json_schema unsupported"}"#.into(),
            ),
            openai_reply(&answer(&case, "restart rolling")),
        ])
        .await;
        url = d.url.clone();
        let a = analyzer(&d.url, BackendKind::OpenAi, |c| {
            c.api_key = Some(ApiKey::new(key))
        });
        let v = a.analyze(&case).await;
        let requests = seen(&d);
        assert_eq!(
            requests[0].header("authorization"),
            Some(format!("Bearer {key}").as_str())
        );
        assert!(!requests[0].raw_body.contains(key));
        assert!(!format!("{a:?}").contains(key));
        v
    });
    assert_eq!(verdict.candidate(), Some(0));
    let all = String::from_utf8_lossy(&logs.0.lock().unwrap()).to_string();
    assert!(!all.contains(key), "the key was logged: {all}");
    let mine: Vec<&str> = all.lines().filter(|l| l.contains(url.as_str())).collect();
    assert_eq!(
        mine.iter()
            .filter(|l| l.contains("structured output mode chosen"))
            .count(),
        1,
        "the mode is logged once: {mine:?}"
    );
    assert!(!format!("{verdict:?}").contains(key));
}

fn rejected(v: &Verdict) -> Option<&'static str> {
    match &v.outcome {
        VerdictOutcome::Fallback {
            why: Why::Rejected(r),
            ..
        } => Some(r.code()),
        _ => None,
    }
}

#[test]
fn adversarial_answers_from_the_server_are_all_rejected() {
    rt().block_on(async {
        let case = incident_case("19-prompt-injection-in-event.yaml");
        let good = json!({"action": "restart rolling", "target": case.object, "confidence": 0.9, "reasoning": ["ok"]});
        let with = |k: &str, x: Value| {
            let mut v = good.clone();
            v[k] = x;
            v.to_string()
        };
        let answers = vec![
            (format!("Here is the JSON you asked for:\n{good}"), "not-json"),
            (format!("{good} Let me know if you need more."), "not-json"),
            (with("action", json!("drain")), "unknown-action"),
            (with("action", json!("delete every namespace")), "unknown-action"),
            (with("target", json!("deployments/kube-system/coredns")), "wrong-target"),
            (with("target", json!("nodes/worker-1")), "wrong-target"),
            (with("confidence", json!(5.0)), "confidence"),
            (with("reasoning", json!(["x".repeat(100_000)])), "not-json"),
            (with("reasoning", json!(["y".repeat(2_000)])), "too-long"),
            (
                json!({"action": "set memory_limit = current * 1.5 max 2Gi", "target": case.object,
                       "parameters": {"resource": "memory_limit", "value": "current * 10", "max": "64Gi"},
                       "confidence": 0.9, "reasoning": []})
                .to_string(),
                "parameters",
            ),
            // What the injected event text asks for, verbatim.
            (r#"{"action":"drain","target":"nodes/worker-1","confidence":1.0}"#.to_string(), "wrong-target"),
        ];
        let script = answers.iter().map(|(a, _)| openai_reply(a)).collect();
        let d = double(script).await;
        let a = analyzer(&d.url, BackendKind::OpenAi, |c| c.mode = ModeSetting::Fixed(StructuredMode::JsonObjectSchema));
        for (text, code) in &answers {
            let v = a.analyze(&case).await;
            assert_eq!(rejected(&v), Some(*code), "{} -> {v:?}", &text[..text.len().min(120)]);
            // Never repaired into an action: the fallback, and it says why.
            assert_eq!(v.origin(), "fallback");
            assert!(v.raw.is_some());
        }
        // The injected text went to the model as quoted data in the case.
        let user = seen(&d)[0].body["messages"][1]["content"].as_str().unwrap().to_string();
        let data_start = user.find("CASE DATA").unwrap();
        let data_end = user.find("END OF CASE DATA").unwrap();
        let injected = user.find("IGNORE ALL PREVIOUS INSTRUCTIONS").unwrap();
        assert!(data_start < injected && injected < data_end);
    });
}

/// Not a timed assertion: prints the analyzer's own overhead against the
/// loopback double (prompt, request, parse, validation) for
/// docs/performance.md. `cargo test --test ai_wire latency -- --nocapture`.
#[test]
fn latency_against_the_double_is_reported() {
    rt().block_on(async {
        let case = oom();
        let n = 50;
        let d = double(vec![openai_reply(&answer(&case, "restart rolling")); n]).await;
        let a = analyzer(&d.url, BackendKind::OpenAi, |c| {
            c.mode = ModeSetting::Fixed(StructuredMode::JsonSchema)
        });
        let mut ms = Vec::with_capacity(n);
        for _ in 0..n {
            let v = a.analyze(&case).await;
            assert_eq!(v.origin(), "ai");
            ms.push(v.latency.as_micros() as u64);
        }
        ms.sort_unstable();
        eprintln!(
            "analysis against the loopback double, {n} calls: p50 {} µs, p95 {} µs",
            kubeskippy::ai::eval::percentile(&ms, 50),
            kubeskippy::ai::eval::percentile(&ms, 95)
        );
    });
}

/// Runs the binary without blocking the double's runtime.
async fn kubeskippy(args: Vec<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_kubeskippy"))
            .args(&args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

#[test]
fn ai_test_and_ai_eval_drive_the_analyzer_through_the_command_line() {
    rt().block_on(async {
        let case = oom();
        let d = double(vec![openai_reply(&answer(&case, "restart rolling"))]).await;
        let args = [
            "ai",
            "test",
            "--backend",
            &d.url,
            "--model",
            "test-model",
            "--kind",
            "openai",
        ];
        let out = kubeskippy(args.iter().map(|s| s.to_string()).collect()).await;
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{text}");
        assert!(
            text.contains("recommendation: restart rolling (confidence 0.80)"),
            "{text}"
        );
        assert!(text.contains("  - memory flat at the limit\n"), "{text}");
        assert!(text.contains("structured output: json-schema\n"), "{text}");

        // An answer that is rejected: exit 1, the reason and the fallback.
        let d = double(vec![openai_reply("I would restart it.")]).await;
        let args = [
            "ai",
            "test",
            "--backend",
            &d.url,
            "--model",
            "m",
            "--kind",
            "openai",
        ];
        let out = kubeskippy(args.iter().map(|s| s.to_string()).collect()).await;
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{text}");
        assert!(
            text.contains("not used: the AI's answer was rejected (not-json: "),
            "{text}"
        );
        assert!(
            text.contains("the operator would fall back to: scale up 2 max 8"),
            "{text}"
        );

        // eval over two incidents: one agreeing answer, one rejected.
        let crash = incident_case("05-crashloop-bad-rollout.yaml");
        let d = double(vec![
            openai_reply(&answer(&case, "set memory_limit = current * 1.5 max 2Gi")),
            openai_reply(&answer(&crash, "drain")),
        ])
        .await;
        let args = [
            "ai",
            "eval",
            "--backend",
            &d.url,
            "--model",
            "m",
            "--format",
            "json",
            "examples/ai-eval/01-oom-after-traffic-growth.yaml",
            "examples/ai-eval/05-crashloop-bad-rollout.yaml",
        ];
        let out = kubeskippy(args.iter().map(|s| s.to_string()).collect()).await;
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["incidents"], 2);
        assert_eq!(report["agreed"], 1);
        assert_eq!(report["rejected"], 1);
        assert_eq!(report["rows"][0]["outcome"], "ai");
        assert_eq!(report["rows"][1]["outcome"], "rejected");
        assert_eq!(report["rows"][1]["would_do"], "scale up 1 max 6 (fallback)");
        assert!(report["rows"][1]["reason"]
            .as_str()
            .unwrap()
            .contains("unknown-action"));
    });
}

#[test]
fn a_busy_analyzer_falls_back_instead_of_queueing() {
    rt().block_on(async {
        let case = oom();
        let d = double(vec![Reply::Hang, Reply::Hang]).await;
        let a = analyzer(&d.url, BackendKind::OpenAi, |c| {
            c.timeout = Duration::from_millis(300);
            c.max_concurrency = 1;
        });
        // Two cases at once with one slot: the first waits on a model that
        // never answers, the second on the slot; both end with the timeout.
        let (one, two) = tokio::join!(a.analyze(&case), a.analyze(&case));
        for v in [one, two] {
            assert!(
                matches!(
                    &v.outcome,
                    VerdictOutcome::Fallback {
                        why: Why::TimedOut(_),
                        ..
                    }
                ),
                "{v:?}"
            );
            assert_eq!(v.candidate(), Some(2));
        }
        assert!(seen(&d).len() <= 2);
    });
}
