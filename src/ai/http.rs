//! The HTTP backends: one analyzer for Ollama and OpenAI-compatible
//! endpoints, sending what [`super::wire`] builds with `reqwest` (rustls).
//!
//! Invariants:
//! - `analyze` always returns a [`Verdict`] within about the configured
//!   timeout (waiting for a free slot included): a slow or dead endpoint
//!   costs the caller one timeout, never a stall;
//! - the API key goes into the `Authorization` header only (marked
//!   sensitive) and into no log line, error or record;
//! - in `auto` mode, the first mode an endpoint accepts is remembered for
//!   the analyzer's life and logged once; a later format error (a server
//!   upgraded or replaced) moves on down the chain from there.

use super::answer;
use super::case::Case;
use super::config::{AiConfig, ModeSetting, StructuredMode};
use super::prompt;
use super::redact::{PatternError, Redactor};
use super::verdict::{Verdict, Why};
use super::wire;
use super::Analyzer;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// The most of a response body read: an answer is at most
/// [`answer::MAX_ANSWER_BYTES`], and the envelope adds little.
const MAX_RESPONSE_BYTES: usize = 256 * 1024;

/// Why an analyzer cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Pattern(#[from] PatternError),
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    #[error("the endpoint {0:?} is not an http:// or https:// URL")]
    Endpoint(String),
    #[error("maxConcurrency must be at least 1")]
    Concurrency,
}

/// An analyzer that asks a model over HTTP. Cheap to clone: clones share
/// the client, the slots and the remembered mode.
#[derive(Clone)]
pub struct HttpAnalyzer {
    config: Arc<AiConfig>,
    url: Arc<str>,
    client: reqwest::Client,
    redactor: Arc<Redactor>,
    slots: Arc<Semaphore>,
    /// The mode this endpoint accepted last (`auto` only).
    mode: Arc<Mutex<Option<StructuredMode>>>,
}

impl std::fmt::Debug for HttpAnalyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpAnalyzer")
            .field("url", &self.url)
            .field("model", &self.config.model)
            .finish_non_exhaustive()
    }
}

/// One attempt's result.
enum Attempt {
    Answer(String),
    /// The server refused this mode's request format: try the next one.
    FormatRefused(String),
    Failed(Why),
}

impl HttpAnalyzer {
    pub fn new(config: AiConfig) -> Result<HttpAnalyzer, SetupError> {
        let endpoint = config.endpoint.trim().to_ascii_lowercase();
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            return Err(SetupError::Endpoint(config.endpoint.clone()));
        }
        if config.max_concurrency == 0 {
            return Err(SetupError::Concurrency);
        }
        let redactor = Redactor::new(&config.redact)?;
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .build()
            .map_err(|e| SetupError::Client(e.to_string()))?;
        Ok(HttpAnalyzer {
            url: config.chat_url().into(),
            slots: Arc::new(Semaphore::new(config.max_concurrency)),
            config: Arc::new(config),
            client,
            redactor: Arc::new(redactor),
            mode: Arc::new(Mutex::new(None)),
        })
    }

    /// The mode the endpoint accepted last, if any call succeeded yet.
    pub fn mode_in_use(&self) -> Option<StructuredMode> {
        match self.config.mode {
            ModeSetting::Fixed(mode) => Some(mode),
            ModeSetting::Auto => self.mode.lock().map(|m| *m).unwrap_or(None),
        }
    }

    /// The modes to try, in order.
    fn modes(&self) -> Vec<StructuredMode> {
        match self.config.mode {
            ModeSetting::Fixed(mode) => vec![mode],
            ModeSetting::Auto => {
                let chain = StructuredMode::chain(self.config.kind);
                let from = self
                    .mode_in_use()
                    .and_then(|m| chain.iter().position(|c| *c == m))
                    .unwrap_or(0);
                chain[from..].to_vec()
            }
        }
    }

    fn remember(&self, mode: StructuredMode) {
        if self.config.mode != ModeSetting::Auto {
            return;
        }
        if let Ok(mut known) = self.mode.lock() {
            if *known != Some(mode) {
                tracing::info!(
                    endpoint = %self.url,
                    model = %self.config.model,
                    mode = mode.name(),
                    "AI endpoint: structured output mode chosen"
                );
                *known = Some(mode);
            }
        }
    }

    async fn attempt(
        &self,
        mode: StructuredMode,
        prompt: &prompt::Prompt,
        left: Duration,
    ) -> Attempt {
        let body = wire::request_body(
            self.config.kind,
            mode,
            &self.config.model,
            prompt,
            self.config.max_tokens,
        );
        let mut request = self
            .client
            .post(&*self.url)
            .timeout(left)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
        if let Some(key) = &self.config.api_key {
            // `bearer_auth` marks the header sensitive, so reqwest and hyper
            // never print it.
            request = request.bearer_auth(key.expose());
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => return Attempt::Failed(transport(e)),
        };
        let status = response.status().as_u16();
        let text = match read_limited(response).await {
            Ok(t) => t,
            Err(e) => return Attempt::Failed(transport(e)),
        };
        if (200..300).contains(&status) {
            return Attempt::Answer(text);
        }
        let excerpt = super::case::cut(text.trim(), 300);
        if self.config.mode == ModeSetting::Auto && wire::names_the_format(status, &text) {
            return Attempt::FormatRefused(format!("HTTP {status}: {excerpt}"));
        }
        Attempt::Failed(Why::Unreachable(format!("HTTP {status}: {excerpt}")))
    }

    async fn run(&self, case: &Case) -> Verdict {
        let start = Instant::now();
        let deadline = start + self.config.timeout;
        let model = self.config.model.as_str();
        // A slot, or the fallback: a flood of cases never queues calls
        // behind a slow model for longer than one timeout.
        let permit = tokio::time::timeout(self.config.timeout, self.slots.acquire()).await;
        let _permit = match permit {
            Ok(Ok(p)) => p,
            Ok(Err(_)) | Err(_) => {
                return Verdict::failed(
                    case,
                    Why::TimedOut(format!(
                        "no free slot among {} within {:?}",
                        self.config.max_concurrency, self.config.timeout
                    )),
                    model,
                    start.elapsed(),
                )
            }
        };
        let prompt = prompt::build(case, &self.redactor);
        let mut last_refusal = String::new();
        for mode in self.modes() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Verdict::failed(
                    case,
                    Why::TimedOut(format!("no answer within {:?}", self.config.timeout)),
                    model,
                    start.elapsed(),
                );
            }
            match self.attempt(mode, &prompt, left).await {
                Attempt::Answer(body) => {
                    self.remember(mode);
                    let text = match wire::answer_text(self.config.kind, &body) {
                        Ok(t) => t,
                        Err(e) => {
                            return Verdict::failed(
                                case,
                                Why::Unreachable(e.to_string()),
                                model,
                                start.elapsed(),
                            )
                        }
                    };
                    let judged = answer::judge(case, &text);
                    return Verdict::judged(
                        case,
                        judged,
                        model,
                        Some(mode),
                        start.elapsed(),
                        Some(&text),
                    );
                }
                Attempt::FormatRefused(why) => {
                    tracing::debug!(
                        endpoint = %self.url,
                        mode = mode.name(),
                        %why,
                        "AI endpoint refused the structured output mode; trying the next"
                    );
                    last_refusal = why;
                }
                Attempt::Failed(why) => {
                    return Verdict::failed(case, why, model, start.elapsed());
                }
            }
        }
        Verdict::failed(
            case,
            Why::Unreachable(format!(
                "the endpoint refused every structured output mode; last: {last_refusal}"
            )),
            model,
            start.elapsed(),
        )
    }
}

impl Analyzer for HttpAnalyzer {
    fn analyze(&self, case: &Case) -> impl Future<Output = Verdict> + Send {
        self.run(case)
    }
}

/// A transport error in words, without the URL's query (where some
/// gateways take a key) and never with headers.
fn transport(e: reqwest::Error) -> Why {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    if e.is_timeout() {
        Why::TimedOut(text)
    } else {
        Why::Unreachable(text)
    }
}

/// The response body, read up to [`MAX_RESPONSE_BYTES`] (an endpoint that
/// streams forever costs the caller memory for no answer).
async fn read_limited(mut response: reqwest::Response) -> Result<String, reqwest::Error> {
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = MAX_RESPONSE_BYTES.saturating_sub(bytes.len());
        bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if bytes.len() >= MAX_RESPONSE_BYTES {
            break;
        }
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
