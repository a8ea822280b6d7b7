//! The stdio transport: `Content-Length` framed JSON-RPC messages in on
//! stdin, out on stdout.
//!
//! Our own reader rather than `lsp-server`'s, whose reader ends the session
//! on the first message it cannot parse. Here a frame whose body is not JSON
//! is answered with the JSON-RPC error -32700 (parse error), and one that is
//! JSON but not a message (a batch array, say: LSP has no batches) with
//! -32600 (invalid request); the session carries on with the next frame.
//! Invariant: the reader and the writer hold the stdout lock for a whole
//! frame (the reader writes each in one `write_all`), so their frames never interleave.

use crossbeam_channel::{bounded, Sender};
use lsp_server::{Connection, Message};
use serde_json::{json, Value};
use std::io::{self, BufRead, Read, Write};
use std::thread;

/// JSON-RPC's code for a body that is not JSON.
pub const PARSE_ERROR: i32 = -32700;
/// JSON-RPC's code for JSON that is not a request, response or notification.
pub const INVALID_REQUEST: i32 = -32600;

/// A connection on stdin and stdout, and the writer thread to join once the
/// connection is dropped (the reader stops at `exit` or at the end of stdin,
/// and is not joined: stdin may stay open after `exit`).
pub(crate) fn stdio() -> (Connection, thread::JoinHandle<io::Result<()>>) {
    let (writer_sender, writer_receiver) = bounded::<Message>(0);
    let writer = thread::Builder::new()
        .name("lsp-writer".into())
        .spawn(move || {
            for message in writer_receiver {
                message.write(&mut io::stdout().lock())?;
            }
            Ok(())
        })
        .expect("a thread starts");
    let (reader_sender, reader_receiver) = bounded::<Message>(0);
    thread::Builder::new()
        .name("lsp-reader".into())
        .spawn(move || {
            let stdin = io::stdin();
            read_loop(&mut stdin.lock(), &reader_sender, &mut io::stdout())
        })
        .expect("a thread starts");
    let connection = Connection {
        sender: writer_sender,
        receiver: reader_receiver,
    };
    (connection, writer)
}

/// Reads frames from `input` and sends the messages among them to `sender`
/// until the end of the input, an `exit` notification, or a closed channel.
/// Errors about bad frames are written straight to `output`, each in one
/// `write_all` (which, on stdout, holds the lock for the whole frame).
pub(crate) fn read_loop(
    input: &mut impl BufRead,
    sender: &Sender<Message>,
    output: &mut impl Write,
) -> io::Result<()> {
    while let Some(frame) = read_frame(input)? {
        match decode(frame) {
            Ok(message) => {
                let is_exit = matches!(&message, Message::Notification(n) if n.method == "exit");
                if sender.send(message).is_err() || is_exit {
                    return Ok(());
                }
            }
            Err(error) => {
                // No log line here: `kubeskippy` holds the stderr lock on its
                // main thread, so logging from this thread would block. The
                // editor gets the error, which its own log shows.
                write_frame(output, &error)?;
            }
        }
    }
    Ok(())
}

/// One frame's body, or why there is none. `None` at the end of the input.
fn read_frame(input: &mut impl BufRead) -> io::Result<Option<Result<Vec<u8>, String>>> {
    let mut length: Option<Result<usize, String>> = None;
    let mut seen_header = false;
    loop {
        let mut line = Vec::new();
        if input.read_until(b'\n', &mut line)? == 0 {
            return Ok(None);
        }
        let line = String::from_utf8_lossy(&line);
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            if seen_header {
                break;
            }
            // Blank lines between frames are harmless.
            continue;
        }
        seen_header = true;
        if let Some((name, value)) = line.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-length") {
                length = Some(
                    value
                        .trim()
                        .parse()
                        .map_err(|_| format!("a bad Content-Length: `{}`", value.trim())),
                );
            }
        }
    }
    let length = match length {
        Some(Ok(length)) => length,
        Some(Err(why)) => return Ok(Some(Err(why))),
        None => {
            return Ok(Some(
                Err("a message without a Content-Length header".into()),
            ))
        }
    };
    let mut body = Vec::with_capacity(length.min(1 << 20));
    input.take(length as u64).read_to_end(&mut body)?;
    if body.len() < length {
        return Ok(None);
    }
    Ok(Some(Ok(body)))
}

/// The message in a frame, or the error response to send instead.
fn decode(frame: Result<Vec<u8>, String>) -> Result<Message, Value> {
    let body = frame.map_err(|why| error(Value::Null, PARSE_ERROR, &why))?;
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| error(Value::Null, PARSE_ERROR, &format!("not JSON: {e}")))?;
    if value.is_array() {
        return Err(error(
            Value::Null,
            INVALID_REQUEST,
            "batches are not part of the Language Server Protocol",
        ));
    }
    let id = match value.get("id") {
        Some(id @ (Value::Number(_) | Value::String(_))) => id.clone(),
        _ => Value::Null,
    };
    let invalid = |e: serde_json::Error| {
        error(
            id.clone(),
            INVALID_REQUEST,
            &format!("not a JSON-RPC message: {e}"),
        )
    };
    // Decided by the fields, not by trying each shape in turn (as
    // `Message`'s untagged form does, taking `{"id":7,"method":3}` for a
    // response).
    match (value.get("method").is_some(), value.get("id").is_some()) {
        (true, true) => serde_json::from_value(value)
            .map(Message::Request)
            .map_err(invalid),
        (true, false) => serde_json::from_value(value)
            .map(Message::Notification)
            .map_err(invalid),
        (false, _) => serde_json::from_value(value)
            .map(Message::Response)
            .map_err(invalid),
    }
}

fn error(id: Value, code: i32, message: &str) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message } })
}

fn write_frame(output: &mut impl Write, value: &Value) -> io::Result<()> {
    let body = value.to_string();
    let frame = format!("Content-Length: {}\r\n\r\n{body}", body.len());
    output.write_all(frame.as_bytes())?;
    output.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(body: &str) -> String {
        format!("Content-Length: {}\r\n\r\n{body}", body.len())
    }

    /// The messages passed on and the text written back for `input`.
    fn run(input: &str) -> (Vec<Message>, String) {
        let (sender, receiver) = crossbeam_channel::unbounded();
        let mut written = Vec::new();
        read_loop(&mut input.as_bytes(), &sender, &mut written).expect("reads");
        drop(sender);
        (
            receiver.into_iter().collect(),
            String::from_utf8(written).expect("utf-8"),
        )
    }

    #[test]
    fn bad_frames_are_answered_and_skipped() {
        let ping = r#"{"jsonrpc":"2.0","method":"initialized","params":{}}"#;
        let input = [
            "Content-Length: 5\r\n\r\n{oops".to_string(),
            frame("[1,2]"),
            frame(r#"{"jsonrpc":"2.0","id":7,"method":3}"#),
            "X-Nothing: 1\r\n\r\n".to_string(),
            "Content-Length: many\r\n\r\n".to_string(),
            frame(ping),
        ]
        .concat();
        let (messages, written) = run(&input);
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert_eq!(written.matches("-32700").count(), 3, "{written}");
        assert_eq!(written.matches("-32600").count(), 2, "{written}");
        assert!(written.contains(r#""id":7"#), "{written}");
    }

    #[test]
    fn exit_stops_reading_and_a_cut_frame_ends_the_input() {
        let exit = r#"{"jsonrpc":"2.0","method":"exit"}"#;
        let (messages, _) = run(&[frame(exit), frame(exit)].concat());
        assert_eq!(messages.len(), 1);
        let (messages, written) = run("Content-Length: 50\r\n\r\n{}");
        assert!(messages.is_empty() && written.is_empty());
    }
}
