//! The server loop against a test double language, over an in-memory
//! connection: the handshake, sync, debouncing, errors and shutdown.

use kubeskippy_lsp::{serve, Analysis, Config, Diagnostic, Hover, Severity, Source};
use lsp_server::{Connection, Message, Notification, Request, RequestId, Response};
use serde_json::{json, Value};
use std::thread;
use std::time::Duration;

/// A test double: every `!` is an error, hovering anywhere on `boom` panics.
struct BangLanguage;

impl Analysis for BangLanguage {
    fn diagnostics(&self, source: Source<'_>) -> Vec<Diagnostic> {
        source
            .text
            .match_indices('!')
            .map(|(i, _)| Diagnostic {
                range: i..i + 1,
                severity: Severity::Error,
                code: "T1".into(),
                message: "bang".into(),
                related: Vec::new(),
            })
            .collect()
    }

    fn hover(&self, source: Source<'_>, offset: usize) -> Option<Hover> {
        if source.text.contains("boom") {
            panic!("the double panics on purpose");
        }
        Some(Hover {
            range: offset..offset + 100,
            markdown: format!("offset {offset}"),
        })
    }
}

struct Client {
    connection: Connection,
    next_id: i32,
}

impl Client {
    fn start(debounce: Duration) -> (Client, thread::JoinHandle<()>) {
        Client::start_with(Config {
            debounce,
            ..Config::default()
        })
    }

    fn start_with(config: Config) -> (Client, thread::JoinHandle<()>) {
        let (server, client) = Connection::memory();
        let handle = thread::spawn(move || {
            serve(&server, &BangLanguage, config).expect("the session ends cleanly");
        });
        let mut client = Client {
            connection: client,
            next_id: 0,
        };
        let result = client.request("initialize", json!({ "capabilities": {} }));
        assert_eq!(
            result["result"]["capabilities"]["textDocumentSync"],
            json!(2)
        );
        client.notify("initialized", json!({}));
        (client, handle)
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = RequestId::from(self.next_id);
        self.send(Message::Request(Request::new(
            id.clone(),
            method.into(),
            params,
        )));
        loop {
            match self.receive() {
                Message::Response(Response {
                    id: got,
                    result,
                    error,
                }) if got == id => {
                    return json!({ "result": result, "error": error });
                }
                _ => continue,
            }
        }
    }

    fn notify(&self, method: &str, params: Value) {
        self.send(Message::Notification(Notification::new(
            method.into(),
            params,
        )));
    }

    fn send(&self, message: Message) {
        self.connection
            .sender
            .send(message)
            .expect("the server is running");
    }

    fn receive(&self) -> Message {
        self.connection
            .receiver
            .recv_timeout(Duration::from_secs(10))
            .expect("the server answers")
    }

    fn next_diagnostics(&self) -> Value {
        loop {
            if let Message::Notification(n) = self.receive() {
                if n.method == "textDocument/publishDiagnostics" {
                    return n.params;
                }
            }
        }
    }

    fn shutdown(mut self, handle: thread::JoinHandle<()>) {
        let result = self.request("shutdown", Value::Null);
        assert_eq!(result["error"], Value::Null);
        self.notify("exit", Value::Null);
        handle.join().expect("the server thread ends");
    }
}

/// Where each published diagnostic starts.
fn starts(published: &Value) -> Vec<&Value> {
    published["diagnostics"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|d| &d["range"]["start"])
        .collect()
}

fn open(client: &Client, text: &str) {
    client.notify(
        "textDocument/didOpen",
        json!({ "textDocument": {
            "uri": "file:///a.skippy", "languageId": "skippy", "version": 1, "text": text
        }}),
    );
}

fn change(client: &Client, version: i32, line: u32, character: u32, text: &str) {
    client.notify(
        "textDocument/didChange",
        json!({
            "textDocument": { "uri": "file:///a.skippy", "version": version },
            "contentChanges": [{
                "range": {
                    "start": { "line": line, "character": character },
                    "end": { "line": line, "character": character }
                },
                "text": text
            }]
        }),
    );
}

#[test]
fn diagnostics_on_open_then_once_after_a_burst_of_changes() {
    let (client, handle) = Client::start(Duration::from_millis(50));
    open(&client, "ab\n!c");
    let first = client.next_diagnostics();
    assert_eq!(first["version"], 1);
    assert_eq!(
        first["diagnostics"][0]["range"]["start"],
        json!({"line": 1, "character": 0})
    );

    // Three quick edits: one publication, of the last version.
    change(&client, 2, 0, 0, "!");
    change(&client, 3, 0, 0, "é");
    change(&client, 4, 0, 0, "!");
    let after = client.next_diagnostics();
    assert_eq!(after["version"], 4);
    let starts = starts(&after);
    // `!é!ab`: the second `!` follows `é`, one UTF-16 unit though two bytes.
    assert_eq!(
        starts,
        [
            &json!({"line": 0, "character": 0}),
            &json!({"line": 0, "character": 2}),
            &json!({"line": 1, "character": 0})
        ]
    );
    client.shutdown(handle);
}

#[test]
fn a_panicking_analysis_fails_one_request_not_the_session() {
    let (mut client, handle) = Client::start(Duration::from_millis(10));
    open(&client, "boom");
    let failed = client.request(
        "textDocument/hover",
        json!({ "textDocument": { "uri": "file:///a.skippy" }, "position": { "line": 0, "character": 1 } }),
    );
    assert_eq!(failed["error"]["code"], json!(-32603));

    change(&client, 2, 0, 0, "x");
    // Out of range positions clamp, and the double's too-long range is cut to the text.
    client.notify(
        "textDocument/didChange",
        json!({
            "textDocument": { "uri": "file:///a.skippy", "version": 3 },
            "contentChanges": [{ "text": "fine" }]
        }),
    );
    let hover = client.request(
        "textDocument/hover",
        json!({ "textDocument": { "uri": "file:///a.skippy" }, "position": { "line": 7, "character": 99 } }),
    );
    assert_eq!(hover["result"]["contents"]["value"], "offset 4");
    assert_eq!(
        hover["result"]["range"]["end"],
        json!({"line": 0, "character": 4})
    );

    let unknown = client.request("textDocument/unknownThing", json!({}));
    assert_eq!(unknown["error"]["code"], json!(-32601));
    let closed = client.request(
        "textDocument/hover",
        json!({ "textDocument": { "uri": "file:///other.skippy" }, "position": { "line": 0, "character": 0 } }),
    );
    assert_eq!(closed["error"]["code"], json!(-32602));
    client.shutdown(handle);
}

#[test]
fn exit_without_shutdown_ends_the_session_as_a_failure() {
    let (server, client) = Connection::memory();
    let handle = thread::spawn(move || serve(&server, &BangLanguage, Config::default()).is_err());
    client
        .sender
        .send(Message::Request(Request::new(
            RequestId::from(1),
            "initialize".into(),
            json!({ "capabilities": {} }),
        )))
        .expect("the server is running");
    let response = client
        .receiver
        .recv_timeout(Duration::from_secs(10))
        .expect("the server answers");
    let Message::Response(response) = response else {
        panic!("expected the initialize response, got {response:?}");
    };
    let result = response.result.expect("initialize succeeds");
    assert_eq!(result["serverInfo"]["name"], "kubeskippy-lsp");
    for method in ["initialized", "exit"] {
        client
            .sender
            .send(Message::Notification(Notification::new(
                method.into(),
                json!({}),
            )))
            .expect("the server is running");
    }
    assert!(
        handle.join().expect("the server thread ends"),
        "serve reports the early exit"
    );
}

#[test]
fn steady_changes_still_publish_within_the_max_delay() {
    // A change every 20 ms never leaves the 50 ms debounce quiet; the 200 ms
    // max delay publishes anyway, with the version current at the time.
    let (server, client) = Connection::memory();
    let handle = thread::spawn(move || {
        let config = Config {
            debounce: Duration::from_millis(50),
            max_delay: Duration::from_millis(200),
            ..Config::default()
        };
        serve(&server, &BangLanguage, config).expect("the session ends cleanly");
    });
    let mut client = Client {
        connection: client,
        next_id: 0,
    };
    client.request("initialize", json!({ "capabilities": {} }));
    client.notify("initialized", json!({}));
    open(&client, "");
    assert_eq!(client.next_diagnostics()["version"], 1);
    let start = std::time::Instant::now();
    let mut version = 1;
    while start.elapsed() < Duration::from_millis(1000) {
        version += 1;
        change(&client, version, 0, 0, "!");
        thread::sleep(Duration::from_millis(20));
    }
    let mut published = Vec::new();
    while let Ok(Message::Notification(n)) = client
        .connection
        .receiver
        .recv_timeout(Duration::from_millis(10))
    {
        published.push(n.params["version"].as_i64().unwrap_or(0));
    }
    assert!(
        published.len() >= 2,
        "published while typing: {published:?}"
    );
    client.shutdown(handle);
}

#[test]
fn requests_after_shutdown_are_refused_and_exit_ends_cleanly() {
    let (mut client, handle) = Client::start(Duration::from_millis(10));
    let result = client.request("shutdown", Value::Null);
    assert_eq!(result["error"], Value::Null);
    let refused = client.request(
        "textDocument/hover",
        json!({ "textDocument": { "uri": "file:///a.skippy" }, "position": { "line": 0, "character": 0 } }),
    );
    assert_eq!(refused["error"]["code"], json!(-32600));
    client.notify("exit", Value::Null);
    handle.join().expect("the server thread ends cleanly");
}

#[test]
fn formatting_is_registered_for_skippy_alone_when_the_editor_allows() {
    let (server, client) = Connection::memory();
    let handle = thread::spawn(move || {
        serve(&server, &BangLanguage, Config::default()).expect("the session ends cleanly");
    });
    let mut client = Client {
        connection: client,
        next_id: 0,
    };
    let capabilities = json!({ "textDocument": { "formatting": { "dynamicRegistration": true } } });
    let result = client.request("initialize", json!({ "capabilities": capabilities }));
    assert_eq!(
        result["result"]["capabilities"]["documentFormattingProvider"],
        Value::Null
    );
    client.notify("initialized", json!({}));
    let Message::Request(register) = client.receive() else {
        panic!("expected client/registerCapability");
    };
    assert_eq!(register.method, "client/registerCapability");
    let registration = &register.params["registrations"][0];
    assert_eq!(registration["method"], "textDocument/formatting");
    assert_eq!(
        registration["registerOptions"]["documentSelector"][0]["language"],
        "skippy"
    );
    client.send(Message::Response(Response::new_ok(register.id, ())));
    client.shutdown(handle);
}

#[test]
fn a_document_past_the_size_limit_gets_one_diagnostic_and_no_analysis() {
    let (mut client, handle) = Client::start_with(Config {
        max_document_bytes: 64,
        ..Config::default()
    });
    // 100 `!`: the double would report 100 errors if it analysed it.
    open(&client, &"!".repeat(100));
    let published = client.next_diagnostics();
    let diagnostics = published["diagnostics"].as_array().expect("a list");
    assert_eq!(diagnostics.len(), 1, "{published}");
    assert_eq!(diagnostics[0]["code"], json!(kubeskippy_lsp::TOO_LARGE));
    let message = diagnostics[0]["message"].as_str().expect("a message");
    assert!(
        message.contains("100 bytes") && message.contains("64"),
        "{message}"
    );
    let refused = client.request(
        "textDocument/hover",
        json!({ "textDocument": { "uri": "file:///a.skippy" }, "position": { "line": 0, "character": 1 } }),
    );
    assert_eq!(refused["error"]["code"], json!(-32803), "{refused}");

    // Cut below the limit, it is analysed again.
    client.notify(
        "textDocument/didChange",
        json!({
            "textDocument": { "uri": "file:///a.skippy", "version": 2 },
            "contentChanges": [{ "text": "ab!" }]
        }),
    );
    let after = client.next_diagnostics();
    assert_eq!(after["diagnostics"][0]["code"], json!("T1"), "{after}");
    client.shutdown(handle);
}

#[test]
fn a_lone_cr_ends_a_line_in_published_positions() {
    let (client, handle) = Client::start(Duration::from_millis(10));
    open(&client, "ab\r!c\r\n!");
    let published = client.next_diagnostics();
    assert_eq!(
        starts(&published),
        [
            &json!({"line": 1, "character": 0}),
            &json!({"line": 2, "character": 0})
        ]
    );
    client.shutdown(handle);
}
