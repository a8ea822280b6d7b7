//! How to reach a model: the endpoint, its wire format, the model, the
//! limits of a call, and the key. Pure data, read from the operator's
//! configuration or the command line.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// Which wire format the endpoint speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// Ollama's own API: `POST /api/chat`, `format` set to a JSON schema.
    Ollama,
    /// Any OpenAI-compatible server: `POST /v1/chat/completions` (OpenAI,
    /// vLLM, llama.cpp's server, llama-cpp-python, LM Studio, Ollama's
    /// compatibility layer).
    OpenAi,
}

impl BackendKind {
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Ollama => "ollama",
            BackendKind::OpenAi => "openai",
        }
    }

    pub fn from_name(name: &str) -> Option<BackendKind> {
        match name {
            "ollama" => Some(BackendKind::Ollama),
            "openai" | "openai-compatible" => Some(BackendKind::OpenAi),
            _ => None,
        }
    }

    /// The kind a URL most likely speaks, when the user did not say: Ollama's
    /// default port or an `/api` path mean Ollama; anything else, the
    /// OpenAI-compatible API that most servers offer.
    pub fn guess(url: &str) -> BackendKind {
        let lower = url.to_ascii_lowercase();
        let after_scheme = lower.split_once("://").map_or(&*lower, |(_, rest)| rest);
        let (authority, path) = after_scheme
            .split_once('/')
            .map_or((after_scheme, ""), |(a, p)| (a, p));
        if authority.ends_with(":11434") || path == "api" || path.starts_with("api/") {
            BackendKind::Ollama
        } else {
            BackendKind::OpenAi
        }
    }

    /// The path of the chat call under the endpoint's base URL.
    pub fn chat_path(self) -> &'static str {
        match self {
            BackendKind::Ollama => "/api/chat",
            BackendKind::OpenAi => "/v1/chat/completions",
        }
    }
}

/// How the request asks for structured output, strongest first. Servers
/// differ: OpenAI takes a `json_schema` response format; llama.cpp-based
/// servers reject that form but take `json_object` with a `schema`; some
/// take only a plain `json_object`; some none of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StructuredMode {
    /// OpenAI: `response_format: {type: json_schema, json_schema: {…}}`;
    /// Ollama: `format: <schema>`.
    JsonSchema,
    /// llama.cpp: `response_format: {type: json_object, schema: {…}}`.
    JsonObjectSchema,
    /// `response_format: {type: json_object}`; Ollama: `format: "json"`.
    JsonObject,
    /// Nothing: the prompt alone asks for JSON.
    None,
}

impl StructuredMode {
    pub fn name(self) -> &'static str {
        match self {
            StructuredMode::JsonSchema => "json-schema",
            StructuredMode::JsonObjectSchema => "json-object-schema",
            StructuredMode::JsonObject => "json-object",
            StructuredMode::None => "none",
        }
    }

    pub fn from_name(name: &str) -> Option<StructuredMode> {
        [
            StructuredMode::JsonSchema,
            StructuredMode::JsonObjectSchema,
            StructuredMode::JsonObject,
            StructuredMode::None,
        ]
        .into_iter()
        .find(|m| m.name() == name)
    }

    /// The modes to try for `kind`, strongest first. Ollama has no
    /// `json_object`-with-schema form, so it goes schema → `"json"` → none.
    pub fn chain(kind: BackendKind) -> &'static [StructuredMode] {
        match kind {
            BackendKind::Ollama => &[
                StructuredMode::JsonSchema,
                StructuredMode::JsonObject,
                StructuredMode::None,
            ],
            BackendKind::OpenAi => &[
                StructuredMode::JsonSchema,
                StructuredMode::JsonObjectSchema,
                StructuredMode::JsonObject,
                StructuredMode::None,
            ],
        }
    }
}

impl fmt::Display for StructuredMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The structured-output setting: `auto` finds the strongest mode the
/// endpoint takes; a fixed mode is used as is, with no fallback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModeSetting {
    #[default]
    Auto,
    Fixed(StructuredMode),
}

impl ModeSetting {
    pub fn parse(word: &str) -> Option<ModeSetting> {
        if word == "auto" {
            Some(ModeSetting::Auto)
        } else {
            StructuredMode::from_name(word).map(ModeSetting::Fixed)
        }
    }
}

/// An API key. Its `Debug` and `Display` print a placeholder, so a key in a
/// configuration that is logged or shown in an error never appears.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> ApiKey {
        ApiKey(key.into())
    }

    /// The key in the environment variable `var`, if set and not empty.
    pub fn from_env(var: &str) -> Option<ApiKey> {
        std::env::var(var)
            .ok()
            .filter(|k| !k.trim().is_empty())
            .map(|k| ApiKey(k.trim().to_string()))
    }

    /// The key itself, for the one place that sends it: the request header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Everything needed to call one model.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AiConfig {
    /// The server's base URL (`http://ollama:11434`, `https://api.openai.com`);
    /// a trailing `/v1` or `/api` is accepted and not doubled.
    pub endpoint: String,
    pub kind: BackendKind,
    pub model: String,
    /// The most one call may take, connection included.
    #[serde(with = "seconds", default = "default_timeout")]
    pub timeout: Duration,
    #[serde(default = "default_max_tokens")]
    pub max_tokens: u32,
    #[serde(default)]
    pub mode: ModeSetting,
    /// How many calls may be in flight at once; a case beyond that waits at
    /// most `timeout` for a slot, then falls back.
    #[serde(default = "default_concurrency")]
    pub max_concurrency: usize,
    /// Extra redaction patterns (regular expressions) on top of the built-in
    /// ones: whatever matches never leaves the operator.
    #[serde(default)]
    pub redact: Vec<String>,
    /// Never read from a file: the operator fills it from a Secret or an
    /// environment variable.
    #[serde(skip)]
    pub api_key: Option<ApiKey>,
}

fn default_timeout() -> Duration {
    Duration::from_secs(30)
}

fn default_max_tokens() -> u32 {
    512
}

fn default_concurrency() -> usize {
    2
}

mod seconds {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        if !(secs.is_finite() && secs > 0.0 && secs <= 3600.0) {
            return Err(serde::de::Error::custom(
                "timeout must be a number of seconds above 0 and at most 3600",
            ));
        }
        Ok(Duration::from_secs_f64(secs))
    }
}

impl AiConfig {
    /// A configuration with the defaults for everything but what names the
    /// endpoint and the model.
    pub fn new(endpoint: impl Into<String>, kind: BackendKind, model: impl Into<String>) -> Self {
        AiConfig {
            endpoint: endpoint.into(),
            kind,
            model: model.into(),
            timeout: default_timeout(),
            max_tokens: default_max_tokens(),
            mode: ModeSetting::Auto,
            max_concurrency: default_concurrency(),
            redact: Vec::new(),
            api_key: None,
        }
    }

    /// The full URL of the chat call: the base URL without a trailing `/`,
    /// `/v1` or `/api` (which users often paste), then the kind's path.
    pub fn chat_url(&self) -> String {
        let mut base = self.endpoint.trim().trim_end_matches('/');
        for suffix in ["/v1", "/api"] {
            if let Some(stripped) = base.strip_suffix(suffix) {
                base = stripped;
            }
        }
        format!("{base}{}", self.kind.chat_path())
    }
}
