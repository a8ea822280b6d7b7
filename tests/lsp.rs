//! The language server as an editor sees it: the built `kubeskippy lsp`
//! driven over its real JSON-RPC stdio protocol, responses asserted with insta
//! snapshots.

mod lsp_client;

use lsp_client::{position, Client};
use serde_json::{json, Value};

const URI: &str = "file:///work/checkout.skippy";

const POLICY: &str = r#"metric queue_depth: count = promql "sum by (pod) (rabbitmq_queue_messages_ready{namespace=\"$namespace\"})"
patch debug-logging: merge "{\"spec\":{\"template\":{\"metadata\":{\"annotations\":{\"log\":\"debug\"}}}}}"

policy checkout {
  select deployments in shop where app = "checkout"
  mode auto
  limit 5 per 1h
  when memory_precent > 85 for 3m then restart rolling
  when   queue_depth>100 then patch debug-logging
}

policy crashes {
  select pods in shop
  limit 5 per 1h
  when status is CrashLoopBackOff for 1m then delete
}
"#;

/// Only the labels of a completion list, to keep snapshots readable.
fn labels(completions: &Value) -> Vec<String> {
    completions
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|i| i["label"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_session_over_stdio() {
    let mut client = Client::start();
    insta::assert_yaml_snapshot!("initialize", client.initialized.clone());
    client.open(URI, "skippy", POLICY);
    insta::assert_yaml_snapshot!("diagnostics_on_open", client.diagnostics(URI, 1));

    // Fix the typo with an incremental change: the error goes, warnings stay.
    let (line, column) = position(POLICY, "memory_precent", 0);
    client.notify(
        "textDocument/didChange",
        json!({
            "textDocument": { "uri": URI, "version": 2 },
            "contentChanges": [{
                "range": {
                    "start": { "line": line, "character": column + 8 },
                    "end": { "line": line, "character": column + 10 }
                },
                "text": "er"
            }]
        }),
    );
    let fixed = POLICY.replace("memory_precent", "memory_percent");
    insta::assert_yaml_snapshot!("diagnostics_after_change", client.diagnostics(URI, 2));

    let after_then = position(&fixed, "restart rolling", 0);
    let completion = client.at("textDocument/completion", URI, after_then, json!({}));
    insta::assert_yaml_snapshot!("completion_actions_for_deployments", labels(&completion));
    let first = &completion[0];
    insta::assert_yaml_snapshot!("completion_item", first);

    let metric = position(&fixed, "memory_percent", 3);
    insta::assert_yaml_snapshot!(
        "hover_metric",
        client.at("textDocument/hover", URI, metric, json!({}))
    );
    let action = position(&fixed, "delete\n", 1);
    insta::assert_yaml_snapshot!(
        "hover_action",
        client.at("textDocument/hover", URI, action, json!({}))
    );

    let patch_use = position(&fixed, "debug-logging\n}", 2);
    insta::assert_yaml_snapshot!(
        "definition_of_patch",
        client.at("textDocument/definition", URI, patch_use, json!({}))
    );
    insta::assert_yaml_snapshot!(
        "references_of_patch",
        client.at(
            "textDocument/references",
            URI,
            patch_use,
            json!({ "context": { "includeDeclaration": true } })
        )
    );
    insta::assert_yaml_snapshot!(
        "rename_patch",
        client.at(
            "textDocument/rename",
            URI,
            patch_use,
            json!({ "newName": "more-logs" })
        )
    );

    let formatting = client.request(
        "textDocument/formatting",
        json!({ "textDocument": { "uri": URI }, "options": { "tabSize": 2, "insertSpaces": true } }),
    );
    insta::assert_yaml_snapshot!("formatting", formatting);

    let crashes = position(&fixed, "when status", 0);
    let actions = client.request(
        "textDocument/codeAction",
        json!({
            "textDocument": { "uri": URI },
            "range": {
                "start": { "line": crashes.0, "character": 0 },
                "end": { "line": crashes.0, "character": 10 }
            },
            "context": { "diagnostics": [] }
        }),
    );
    insta::assert_yaml_snapshot!("code_action_cooldown", actions);

    let symbols = client.request(
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": URI } }),
    );
    insta::assert_yaml_snapshot!("document_symbols", symbols);
    let tokens = client.request(
        "textDocument/semanticTokens/full",
        json!({ "textDocument": { "uri": URI } }),
    );
    let data = tokens["data"].as_array().map_or(0, Vec::len);
    assert_eq!(data % 5, 0, "five numbers per token");
    assert!(data > 100, "{tokens}");

    client.shutdown();
}

#[test]
fn did_you_mean_is_a_quick_fix() {
    let mut client = Client::start();
    client.open(URI, "skippy", POLICY);
    let typo = position(POLICY, "memory_precent", 0);
    let actions = client.request(
        "textDocument/codeAction",
        json!({
            "textDocument": { "uri": URI },
            "range": { "start": { "line": typo.0, "character": typo.1 }, "end": { "line": typo.0, "character": typo.1 } },
            "context": { "diagnostics": [] }
        }),
    );
    insta::assert_yaml_snapshot!("code_action_did_you_mean", actions);
    client.shutdown();
}

#[test]
fn a_file_with_a_syntax_error_gets_diagnostics_for_the_rest() {
    let text = "policy a {\n  select pods\n  when cpu_percent >> 80 then restart\n  when status is CrashLoopBakOff then restart\n}\n\npolicy b {\n  select nodes\n  when memory_pressure == true then cordn\n}\n";
    let mut client = Client::start();
    client.open(URI, "skippy", text);
    let diagnostics = client.diagnostics(URI, 1);
    let codes: Vec<&str> = diagnostics
        .as_array()
        .expect("a list")
        .iter()
        .map(|d| d["code"].as_str().unwrap_or(""))
        .collect();
    assert!(codes.contains(&"E0001"), "{codes:?}");
    assert!(
        codes.contains(&"E0102"),
        "the rule after the broken line is checked: {codes:?}"
    );
    assert!(
        codes.contains(&"E0103"),
        "the next policy is checked: {codes:?}"
    );
    insta::assert_yaml_snapshot!("diagnostics_with_syntax_error", diagnostics);
    client.shutdown();
}

#[test]
fn diagnostics_of_healing_policy_yaml_point_into_the_yaml() {
    let yaml = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: not-a-policy
data:
  policy: |
    policy x { nonsense }
---
apiVersion: kubeskippy.io/v1alpha1
kind: HealingPolicy
metadata:
  name: checkout
  namespace: shop
spec:
  # The policy, in Skippy.
  policy: |
    policy checkout {
      select pods where app = \"checkout\"

      when memory_precent > 85 for 3m then restart rolling
    }
";
    let uri = "file:///work/checkout.yaml";
    let mut client = Client::start();
    client.open(uri, "yaml", yaml);
    let diagnostics = client.diagnostics(uri, 1);
    let unknown = diagnostics
        .as_array()
        .and_then(|all| all.iter().find(|d| d["code"] == "E0101"))
        .expect("the unknown metric is reported");
    // Line 20 (1-based) of the YAML file, column 12 (1-based): after the
    // block's 4 spaces and the policy's own 2 and `when `.
    assert_eq!(
        unknown["range"]["start"],
        json!({ "line": 19, "character": 11 })
    );
    assert_eq!(
        unknown["range"]["end"],
        json!({ "line": 19, "character": 25 })
    );
    insta::assert_yaml_snapshot!("diagnostics_in_yaml", diagnostics);

    let hover = client.at("textDocument/hover", uri, (19, 44), json!({}));
    assert!(hover["contents"]["value"]
        .as_str()
        .is_some_and(|md| md.starts_with("**restart rolling**")));
    assert_eq!(
        hover["range"]["start"],
        json!({ "line": 19, "character": 43 })
    );
    client.shutdown();
}

/// The TextMate grammar of the VS Code extension highlights every keyword of
/// the language's grammar.
#[test]
fn textmate_grammar_knows_every_keyword() {
    let textmate = std::fs::read_to_string("lsp/vscode/grammar/skippy.tmLanguage.json")
        .expect("the TextMate grammar");
    let _: Value = serde_json::from_str(&textmate).expect("the TextMate grammar is JSON");
    let keywords: Vec<&str> = kubeskippy::syntax::keywords().collect();
    assert!(
        keywords.len() > 40,
        "the grammar's keywords are found: {keywords:?}"
    );
    for keyword in keywords {
        assert!(
            textmate.contains(&format!("|{keyword}|"))
                || textmate.contains(&format!("({keyword}|"))
                || textmate.contains(&format!("|{keyword})")),
            "the TextMate grammar does not highlight `{keyword}`"
        );
    }
}

/// The examples of `docs/lsp.md` check clean, the YAML one through the
/// embedding the server uses.
#[test]
fn docs_examples_check_clean() {
    use kubeskippy::ide::{self, embedded, Ide};
    use kubeskippy_lsp::{Analysis, DocumentKind, Source};
    let doc = std::fs::read_to_string("docs/lsp.md").expect("docs/lsp.md");
    let block = |fence: &str| -> Vec<String> {
        doc.split(&format!("```{fence}\n"))
            .skip(1)
            .map(|rest| rest.split("```").next().unwrap_or("").to_string())
            .collect()
    };
    let config = kubeskippy::safety::SafetyConfig::default();
    let skippy = block("skippy");
    assert!(!skippy.is_empty(), "docs/lsp.md shows a policy");
    for text in &skippy {
        assert_eq!(ide::diagnostics(text, &config), [], "{text}");
    }
    for yaml in block("yaml") {
        assert_eq!(embedded::policies(&yaml).len(), 1, "{yaml}");
        let source = Source {
            text: &yaml,
            kind: DocumentKind::Yaml,
        };
        assert_eq!(Ide::default().diagnostics(source), [], "{yaml}");
    }
}

/// Typing a policy one character at a time, asking for completion and hover
/// after each: every request answers, and the diagnostics published at the
/// end are those of the whole text (so the incremental changes added up to it).
#[test]
fn typing_a_policy_character_by_character() {
    let text = "policy typed {\n  select pods in shop\n  cooldown 10m\n  when restarts > 3 for 2m then delete\n}\n";
    let mut client = Client::start();
    client.open(URI, "skippy", "");
    let _ = client.diagnostics(URI, 1);
    let (mut line, mut character) = (0u32, 0u32);
    for (i, ch) in text.chars().enumerate() {
        let version = i as i64 + 2;
        client.notify(
            "textDocument/didChange",
            json!({
                "textDocument": { "uri": URI, "version": version },
                "contentChanges": [{
                    "range": {
                        "start": { "line": line, "character": character },
                        "end": { "line": line, "character": character }
                    },
                    "text": ch.to_string()
                }]
            }),
        );
        if ch == '\n' {
            line += 1;
            character = 0;
        } else {
            character += ch.len_utf16() as u32;
        }
        let mut answers = Vec::new();
        for method in ["textDocument/completion", "textDocument/hover"] {
            let answer = client.at(method, URI, (line, character), json!({}));
            assert!(answer.get("error").is_none(), "{method} at {i}: {answer}");
            answers.push(answer);
        }
        // What the answers say where the typed text makes it clear.
        let typed = &text[..text
            .char_indices()
            .nth(i + 1)
            .map_or(text.len(), |(j, _)| j)];
        let proposed = labels(&answers[0]);
        let expect = |label: &str| {
            assert!(
                proposed.iter().any(|l| l == label),
                "{label} after {typed:?}: {proposed:?}"
            )
        };
        if typed.ends_with("select ") {
            expect("pods");
        } else if typed.ends_with("\n  ") {
            expect("select");
            expect("when");
        } else if typed.ends_with("then ") {
            expect("delete");
        } else if typed.ends_with("for 2") {
            expect("2m");
        } else if typed.ends_with("when restarts") {
            let hover = answers[1]["contents"]["value"].as_str().unwrap_or("");
            assert!(hover.contains("restarts"), "{hover}");
        }
    }
    let last = text.chars().count() as i64 + 1;
    let codes: Vec<String> = client
        .diagnostics(URI, last)
        .as_array()
        .expect("a list")
        .iter()
        .map(|d| d["code"].as_str().unwrap_or("").to_string())
        .collect();
    let expected: Vec<String> = kubeskippy::ide::diagnostics(text, &Default::default())
        .into_iter()
        .map(|d| d.code)
        .collect();
    assert_eq!(codes, expected);
    let formatted = client.request(
        "textDocument/formatting",
        json!({ "textDocument": { "uri": URI }, "options": { "tabSize": 2, "insertSpaces": true } }),
    );
    assert_eq!(formatted, json!([]), "the typed text is already formatted");
    client.shutdown();
}

/// A malformed frame is answered with a JSON-RPC error and the session goes on.
#[test]
fn malformed_messages_are_answered_not_fatal() {
    let mut client = Client::start();
    client.send_raw(b"Content-Length: 5\r\n\r\n{oops");
    let error = client.receive();
    assert_eq!(error["error"]["code"], json!(-32700), "{error}");
    assert_eq!(error["id"], Value::Null);
    client.send(json!([{ "jsonrpc": "2.0", "id": 99, "method": "shutdown" }]));
    let error = client.receive();
    assert_eq!(error["error"]["code"], json!(-32600), "{error}");
    client.open(
        URI,
        "skippy",
        "policy p {\n  select pods\n  cooldown 1h\n  when restarts > 3 then notify \"x\"\n}\n",
    );
    assert_eq!(client.diagnostics(URI, 1), json!([]));
    client.shutdown();
}

/// After `shutdown` a request is refused (InvalidRequest) and `exit` ends the
/// server with 0; `exit` or the end of stdin without `shutdown` ends it with 1.
#[test]
fn shutdown_and_exit_codes() {
    let mut client = Client::start();
    assert_eq!(client.request("shutdown", Value::Null), Value::Null);
    let refused = client.request(
        "textDocument/hover",
        json!({ "textDocument": { "uri": URI }, "position": { "line": 0, "character": 0 } }),
    );
    assert_eq!(refused["error"]["code"], json!(-32600), "{refused}");
    assert_eq!(client.exit().code(), Some(0));

    assert_eq!(Client::start().exit().code(), Some(1));
    assert_eq!(Client::start().close().code(), Some(1));
}

/// Someone typing steadily (a change every 100 ms for 2 s, never the 150 ms
/// of quiet the debounce waits for) still sees diagnostics while typing.
#[test]
fn diagnostics_publish_during_steady_typing() {
    let mut client = Client::start();
    client.open(URI, "skippy", "");
    assert_eq!(client.diagnostics(URI, 1), json!([]));
    let start = std::time::Instant::now();
    let mut version = 1;
    while start.elapsed() < std::time::Duration::from_secs(2) {
        version += 1;
        client.notify(
            "textDocument/didChange",
            json!({
                "textDocument": { "uri": URI, "version": version },
                "contentChanges": [{ "text": format!("polic {version}\n") }]
            }),
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // Collect what was published so far: a request's answer comes after them.
    let _ = client.request(
        "textDocument/hover",
        json!({ "textDocument": { "uri": URI }, "position": { "line": 0, "character": 0 } }),
    );
    let published: Vec<i64> = client
        .take_notifications()
        .iter()
        .filter(|m| m["method"] == "textDocument/publishDiagnostics")
        .filter_map(|m| m["params"]["version"].as_i64())
        .filter(|&v| v > 1 && v < version)
        .collect();
    assert!(
        published.len() >= 2,
        "published while typing: {published:?}"
    );
    client.shutdown();
}

/// The byte offset of an LSP position (UTF-16 column) in `text`.
fn offset_of(text: &str, position: &Value) -> usize {
    let line = position["line"].as_u64().unwrap_or(0) as usize;
    let character = position["character"].as_u64().unwrap_or(0) as usize;
    let start: usize = text.split_inclusive('\n').take(line).map(str::len).sum();
    let mut units = 0;
    for (i, ch) in text[start..].char_indices() {
        if units >= character || ch == '\n' || ch == '\r' {
            return start + i;
        }
        units += ch.len_utf16();
    }
    text.len()
}

/// `text` with LSP text edits applied.
fn apply_edits(text: &str, edits: &Value) -> String {
    let mut edits: Vec<(usize, usize, String)> = edits
        .as_array()
        .expect("edits")
        .iter()
        .map(|e| {
            (
                offset_of(text, &e["range"]["start"]),
                offset_of(text, &e["range"]["end"]),
                e["newText"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    edits.sort_by_key(|e| std::cmp::Reverse(e.0));
    let mut out = text.to_string();
    for (start, end, new_text) in edits {
        out.replace_range(start..end, &new_text);
    }
    out
}

/// The quick fix for a missing cooldown, applied as the editor applies it,
/// leaves the file without W0104/W0107 and without a new error; also with the
/// policy's brace on the last statement's line, and with CRLF line breaks.
#[test]
fn the_cooldown_quick_fix_leaves_the_file_clean() {
    let texts = [
        "policy p {\n  when status is CrashLoopBackOff then delete\n  select pods\n  limit 5 per 1h }\n",
        "policy p {\r\n  select pods # all\r\n  when restarts > 3 then delete\r\n}\r\n",
    ];
    for text in texts {
        let mut client = Client::start();
        client.open(URI, "skippy", text);
        let before = client.diagnostics(URI, 1);
        assert!(before.to_string().contains("W0104"), "{text:?}: {before}");
        let actions = client.request(
            "textDocument/codeAction",
            json!({
                "textDocument": { "uri": URI },
                "range": { "start": { "line": 0, "character": 0 }, "end": { "line": 4, "character": 0 } },
                "context": { "diagnostics": [] }
            }),
        );
        let fix = actions
            .as_array()
            .and_then(|all| {
                all.iter()
                    .find(|a| a["title"].as_str().unwrap_or("").starts_with("Add"))
            })
            .unwrap_or_else(|| panic!("a cooldown fix: {actions}"));
        let fixed = apply_edits(text, &fix["edit"]["changes"][URI]);
        let diagnostics = kubeskippy::ide::diagnostics(&fixed, &Default::default());
        assert!(
            diagnostics
                .iter()
                .all(|d| d.code != "W0104" && d.code != "W0107" && !d.code.starts_with('E')),
            "{fixed:?}: {diagnostics:?}"
        );
        if text.contains('\r') {
            assert!(!fixed.replace("\r\n", "").contains('\n'), "{fixed:?}");
        }
        client.shutdown();
    }
}

/// Renaming to a reserved word is refused (it would not parse).
#[test]
fn rename_to_a_reserved_word_is_refused() {
    let mut client = Client::start();
    client.open(URI, "skippy", POLICY);
    let patch_use = position(POLICY, "debug-logging\n}", 2);
    for word in ["when", "then", "for", "and", "or", "not", "priority"] {
        let answer = client.at(
            "textDocument/rename",
            URI,
            patch_use,
            json!({ "newName": word }),
        );
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap_or("")
                .contains("reserved"),
            "{word}: {answer}"
        );
    }
    client.shutdown();
}

/// Closing a document clears its diagnostics in the editor.
#[test]
fn did_close_clears_diagnostics() {
    let mut client = Client::start();
    client.open(URI, "skippy", POLICY);
    assert_ne!(client.diagnostics(URI, 1), json!([]));
    client.notify(
        "textDocument/didClose",
        json!({ "textDocument": { "uri": URI } }),
    );
    // The clearing notification has no version.
    let cleared = loop {
        let message = client.receive();
        if message["method"] == "textDocument/publishDiagnostics" {
            break message;
        }
    };
    assert_eq!(cleared["params"]["uri"], URI);
    assert_eq!(cleared["params"]["diagnostics"], json!([]));
    client.shutdown();
}

/// Emoji (two UTF-16 units) and CRLF line breaks: diagnostics and hover land
/// on the right columns, and semantic tokens never include a `\r`.
#[test]
fn emoji_and_crlf_positions() {
    let text = "# 😀 caf\u{e9}\r\npolicy p { # 😀😀\r\n  select pods\r\n  when memory_precent > 9 then notify \"😀\"\r\n}\r\n";
    let mut client = Client::start();
    client.open(URI, "skippy", text);
    let diagnostics = client.diagnostics(URI, 1);
    let unknown = diagnostics
        .as_array()
        .and_then(|all| all.iter().find(|d| d["code"] == "E0101"))
        .unwrap_or_else(|| panic!("the unknown metric: {diagnostics}"));
    assert_eq!(
        unknown["range"],
        json!({ "start": { "line": 3, "character": 7 }, "end": { "line": 3, "character": 21 } })
    );
    let hover = client.at("textDocument/hover", URI, (3, 33), json!({}));
    assert_eq!(
        hover["range"],
        json!({ "start": { "line": 3, "character": 31 }, "end": { "line": 3, "character": 37 } }),
        "{hover}"
    );
    let tokens = client.request(
        "textDocument/semanticTokens/full",
        json!({ "textDocument": { "uri": URI } }),
    );
    let data: Vec<u64> = tokens["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|n| n.as_u64().unwrap_or(0))
        .collect();
    // The first token: the comment `# 😀 café`, 9 UTF-16 units, not 10.
    assert_eq!(&data[..3], &[0, 0, 9], "{data:?}");
    // The comment after `{` on line 1: `# 😀😀` is 6 units.
    let mut line = 0;
    let mut lengths_on_line_1 = Vec::new();
    for chunk in data.chunks(5) {
        line += chunk[0];
        if line == 1 {
            lengths_on_line_1.push(chunk[2]);
        }
    }
    assert_eq!(lengths_on_line_1.last(), Some(&6), "{data:?}");
    client.shutdown();
}

/// In YAML, completion replaces the lexer's word (`debug-lo`, hyphen and all),
/// where VS Code's YAML word pattern would take only `lo`.
#[test]
fn completion_replaces_the_whole_hyphenated_word() {
    let yaml = "kind: HealingPolicy\nspec:\n  policy: |\n    patch debug-logging: merge \"{}\"\n    policy p {\n      select pods\n      when restarts > 3 then patch debug-lo\n    }\n";
    let uri = "file:///work/p.yaml";
    let mut client = Client::start();
    client.open(uri, "yaml", yaml);
    let (line, column) = position(yaml, "debug-lo\n", 8);
    let items = client.at("textDocument/completion", uri, (line, column), json!({}));
    let item = items
        .as_array()
        .and_then(|all| all.iter().find(|i| i["label"] == "debug-logging"))
        .unwrap_or_else(|| panic!("the patch is proposed: {items}"));
    assert_eq!(
        item["textEdit"],
        json!({
            "range": { "start": { "line": line, "character": column - 8 }, "end": { "line": line, "character": column } },
            "newText": "debug-logging"
        })
    );
    // Column 0 of the YAML line after the block is not in the policy.
    let after = client.at("textDocument/completion", uri, (8, 0), json!({}));
    assert_eq!(after, json!([]), "{after}");
    client.shutdown();
}

/// With every log line on, the server's own threads write to stderr too: the
/// command must not hold stderr's lock while it serves, or they would wait
/// for it forever.
#[test]
fn the_server_answers_with_trace_logging_on() {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    let frame = |json: &str| format!("Content-Length: {}\r\n\r\n{json}", json.len());
    let input = [
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"capabilities":{}}}"#,
        r#"{"jsonrpc":"2.0","method":"initialized","params":{}}"#,
        r#"{"jsonrpc":"2.0","id":2,"method":"shutdown"}"#,
        r#"{"jsonrpc":"2.0","method":"exit"}"#,
    ]
    .map(frame)
    .concat();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kubeskippy"))
        .arg("lsp")
        .env("KUBESKIPPY_LOG", "trace")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("the server hung with trace logging on");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    assert!(String::from_utf8_lossy(&output.stdout).contains(r#""id":2"#));
}
