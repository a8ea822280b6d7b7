//! The backends' wire formats, as pure functions: the request body for a
//! backend kind and structured-output mode, the answer text inside a
//! response body, and whether an error response names the request format
//! (the signal to try the next, weaker mode). The HTTP client
//! ([`super::http`]) only sends what these build.
//!
//! Ollama: `POST /api/chat` with `{model, messages, stream: false, format,
//! options: {temperature, num_predict}}`; the answer is `message.content`.
//! OpenAI-compatible: `POST /v1/chat/completions` with `{model, messages,
//! temperature, max_tokens, stream: false, response_format}`; the answer is
//! `choices[0].message.content`.

use super::config::{BackendKind, StructuredMode};
use super::prompt::Prompt;
use serde_json::{json, Value};

/// The name the schema goes by in OpenAI's `json_schema` form.
pub const SCHEMA_NAME: &str = "kubeskippy_choice";

/// The request body for `prompt` to `model` on a `kind` backend in `mode`.
pub fn request_body(
    kind: BackendKind,
    mode: StructuredMode,
    model: &str,
    prompt: &Prompt,
    max_tokens: u32,
) -> Value {
    match kind {
        BackendKind::Ollama => {
            let mut body = json!({
                "model": model,
                "messages": prompt.messages,
                "stream": false,
                // Temperature 0: the same case gets the same answer, as far
                // as the server allows, which is what an operator wants.
                "options": {"temperature": 0, "num_predict": max_tokens},
            });
            let format = match mode {
                StructuredMode::JsonSchema | StructuredMode::JsonObjectSchema => {
                    Some(prompt.schema.clone())
                }
                StructuredMode::JsonObject => Some(json!("json")),
                StructuredMode::None => None,
            };
            if let (Some(format), Some(obj)) = (format, body.as_object_mut()) {
                obj.insert("format".into(), format);
            }
            body
        }
        BackendKind::OpenAi => {
            let mut body = json!({
                "model": model,
                "messages": prompt.messages,
                "temperature": 0,
                "max_tokens": max_tokens,
                "stream": false,
            });
            let format = match mode {
                // Not `strict`: OpenAI's strict mode wants every property
                // required and no free-form object (`parameters`). The schema
                // guides; `answer::validate` decides.
                StructuredMode::JsonSchema => Some(json!({
                    "type": "json_schema",
                    "json_schema": {
                        "name": SCHEMA_NAME,
                        "strict": false,
                        "schema": prompt.schema,
                    }
                })),
                StructuredMode::JsonObjectSchema => Some(json!({
                    "type": "json_object",
                    "schema": prompt.schema,
                })),
                StructuredMode::JsonObject => Some(json!({"type": "json_object"})),
                StructuredMode::None => None,
            };
            if let (Some(format), Some(obj)) = (format, body.as_object_mut()) {
                obj.insert("response_format".into(), format);
            }
            body
        }
    }
}

/// Why a response body holds no answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("the response is not JSON: {0}")]
    NotJson(String),
    #[error("the response has no answer at {0}")]
    NoContent(&'static str),
}

/// The model's answer text in a successful response body.
pub fn answer_text(kind: BackendKind, body: &str) -> Result<String, EnvelopeError> {
    let value: Value =
        serde_json::from_str(body).map_err(|e| EnvelopeError::NotJson(e.to_string()))?;
    let (content, path) = match kind {
        BackendKind::Ollama => (value.pointer("/message/content"), "message.content"),
        BackendKind::OpenAi => (
            value.pointer("/choices/0/message/content"),
            "choices[0].message.content",
        ),
    };
    content
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or(EnvelopeError::NoContent(path))
}

/// Whether an error response with `status` and `body` rejects the request's
/// structured-output form, so that a weaker mode may succeed. Statuses that
/// mean something else (authentication, a missing model or path, rate
/// limits, timeouts) never do, whatever the body says.
pub fn names_the_format(status: u16, body: &str) -> bool {
    if !(400..600).contains(&status) || matches!(status, 401 | 403 | 404 | 408 | 429) {
        return false;
    }
    let body = body.to_ascii_lowercase();
    [
        "response_format",
        "json_schema",
        "json_object",
        "schema",
        "format",
        "grammar",
    ]
    .iter()
    .any(|word| body.contains(word))
}
