//! The Prometheus source: each cycle runs the queries the policies need
//! (see [`crate::observe::queries`]: one per metric per namespace) as range
//! queries that read only what is new since the query's last answer — on
//! the first cycle, and after a failure, the whole window its rules read —
//! so window functions get Prometheus's own samples and the engine computes
//! them as `test` and `simulate` do.
//!
//! A query that fails or times out leaves its metric unknown (its series
//! are forgotten, not left to go stale), and the operator goes on.

use super::metrics::METRICS;
use crate::engine::series::Sample;
use crate::observe::queries::{Fetched, Query};
use futures::StreamExt;
use prometheus_http_query::response::Data;
use reqwest::header::HeaderValue;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

/// How the operator reaches Prometheus.
#[derive(Debug, Clone)]
pub struct PrometheusConfig {
    /// The server's base URL (`http://prometheus-operated.monitoring:9090`).
    pub url: String,
    /// How long one query may take, on the server and on the wire.
    pub timeout: Duration,
    pub auth: Auth,
    /// A PEM bundle of the CAs that sign the server's certificate, beside
    /// the WebPKI roots.
    pub ca_file: Option<PathBuf>,
}

#[derive(Clone, Default)]
pub enum Auth {
    #[default]
    None,
    /// A bearer token read from this file before each cycle (a projected
    /// ServiceAccount token rotates).
    BearerFile(PathBuf),
    Basic {
        username: String,
        password: String,
    },
}

impl std::fmt::Debug for Auth {
    /// Never the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::BearerFile(path) => write!(f, "BearerFile({})", path.display()),
            Auth::Basic { username, .. } => write!(f, "Basic({username}, <password>)"),
        }
    }
}

/// Queries in flight at once: enough to hide the round trips of a cycle's
/// few dozen queries, few enough not to load the server.
const CONCURRENT: usize = 8;

/// Prometheus returns at most 11,000 points per series; a window longer
/// than this many steps is read at a coarser step.
const MAX_POINTS: i64 = 10_000;

pub struct PrometheusSource {
    client: prometheus_http_query::Client,
    config: PrometheusConfig,
    /// Up to which instant each query's samples were read.
    read_until: HashMap<Query, i64>,
    /// Whether the last cycle's queries all answered: a change is logged
    /// once, not every cycle.
    answering: bool,
}

impl PrometheusSource {
    pub fn new(config: PrometheusConfig) -> Result<PrometheusSource, String> {
        let mut builder = reqwest::Client::builder().timeout(config.timeout);
        if let Some(path) = &config.ca_file {
            let pem = std::fs::read(path)
                .map_err(|e| format!("--prometheus-ca-file {}: {e}", path.display()))?;
            let certificates = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| format!("--prometheus-ca-file {}: {e}", path.display()))?;
            if certificates.is_empty() {
                return Err(format!(
                    "--prometheus-ca-file {}: no PEM certificate in it",
                    path.display()
                ));
            }
            for certificate in certificates {
                builder = builder.add_root_certificate(certificate);
            }
        }
        let http = builder
            .build()
            .map_err(|e| format!("cannot make an HTTP client for Prometheus: {e}"))?;
        let client = prometheus_http_query::Client::from(http, &config.url)
            .map_err(|e| format!("--prometheus-url {:?}: {e}", config.url))?;
        Ok(PrometheusSource {
            client,
            config,
            read_until: HashMap::new(),
            answering: true,
        })
    }

    /// The `Authorization` header of this cycle's queries, marked sensitive
    /// so that no debug output shows it.
    fn authorization(&self) -> Result<Option<HeaderValue>, String> {
        let text = match &self.config.auth {
            Auth::None => return Ok(None),
            Auth::BearerFile(path) => {
                let token = std::fs::read_to_string(path)
                    .map_err(|e| format!("the bearer token {}: {e}", path.display()))?;
                format!("Bearer {}", token.trim())
            }
            Auth::Basic { username, password } => {
                use base64::Engine;
                let pair = format!("{username}:{password}");
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                )
            }
        };
        let mut value = HeaderValue::from_str(&text)
            .map_err(|_| "the Prometheus credentials are not a valid HTTP header".to_string())?;
        value.set_sensitive(true);
        Ok(Some(value))
    }

    /// Runs `queries` at `now`, reading each at `step` seconds, into `fetched`.
    pub async fn fetch(&mut self, queries: &[Query], now: i64, step: i64, fetched: &mut Fetched) {
        let authorization = match self.authorization() {
            Ok(header) => header,
            Err(error) => {
                self.report(false, &error);
                for query in queries {
                    fetched.fail(query);
                }
                self.read_until.clear();
                return;
            }
        };
        let timeout_ms = i64::try_from(self.config.timeout.as_millis()).unwrap_or(i64::MAX);
        // Each request owns what it sends: the stream of them is then Send
        // for the evaluation loop's task.
        let requests: Vec<_> = queries
            .iter()
            .enumerate()
            .map(|(i, query)| {
                let (start, step) = span(query, self.read_until.get(query).copied(), now, step);
                let mut request = self
                    .client
                    .query_range(&query.promql, start, now, step as f64)
                    .timeout(timeout_ms);
                if let Some(value) = authorization.clone() {
                    request = request.header(reqwest::header::AUTHORIZATION, value);
                }
                let timeout = self.config.timeout;
                async move {
                    let answer = request.get().await;
                    (i, answer.map_err(|e| reason(&e, timeout)).map(series))
                }
            })
            .collect();
        let answers: Vec<(usize, Result<Vec<Series>, String>)> = futures::stream::iter(requests)
            .buffer_unordered(CONCURRENT)
            .collect()
            .await;
        let mut first_error = None;
        let mut read = HashMap::with_capacity(queries.len());
        for (i, answer) in answers {
            let query = &queries[i];
            METRICS.source_query("prometheus", answer.is_ok());
            match answer {
                Ok(series) => {
                    fetched.answered(query);
                    for (labels, samples) in series {
                        fetched.add(query, &labels, samples);
                    }
                    read.insert(query.clone(), now);
                }
                Err(error) => {
                    tracing::debug!(query = %query.promql, %error, "Prometheus query failed");
                    first_error.get_or_insert(error);
                    fetched.fail(query);
                }
            }
        }
        // What this cycle did not ask is forgotten: the plan changed, and a
        // query asked again reads its whole window.
        self.read_until = read;
        match first_error {
            None => self.report(true, ""),
            Some(error) => self.report(false, &error),
        }
    }

    fn report(&mut self, ok: bool, error: &str) {
        if ok && !self.answering {
            tracing::info!(url = %self.config.url, "Prometheus answers again");
        } else if !ok && self.answering {
            tracing::warn!(
                url = %self.config.url,
                %error,
                "Prometheus does not answer: the metrics read from it are unknown, and rules on them do not fire"
            );
        }
        self.answering = ok;
    }
}

type Series = (HashMap<String, String>, Vec<Sample>);

/// Why a query failed, in words that name a fix: the client's own message
/// says only "failed to send request to server" or "invalid media type";
/// the cause (a 401, an unknown certificate issuer, the timeout) is in what
/// it wraps, whose own text repeats the whole URL.
fn reason(error: &prometheus_http_query::Error, timeout: Duration) -> String {
    let prometheus_http_query::Error::Client(client) = error else {
        return error.to_string();
    };
    let Some(cause) = client.inner() else {
        return client.to_string();
    };
    if let Some(status) = cause.status() {
        return format!("Prometheus answered HTTP {status}");
    }
    if cause.is_timeout() {
        return format!("no answer within {timeout:?} (--prometheus-timeout-seconds)");
    }
    let mut text = client.to_string();
    let mut source = std::error::Error::source(cause);
    while let Some(next) = source {
        text.push_str(": ");
        text.push_str(&next.to_string());
        source = next.source();
    }
    text
}

/// An answer's series with their samples at whole seconds.
fn series(answer: prometheus_http_query::response::PromqlResult) -> Vec<Series> {
    let (data, _) = answer.into_inner();
    match data {
        Data::Matrix(matrix) => matrix
            .into_iter()
            .map(|range| {
                let (labels, samples) = range.into_inner();
                let samples = samples
                    .iter()
                    .map(|s| Sample::new(s.timestamp().round() as i64, s.value()))
                    .collect();
                (labels, samples)
            })
            .collect(),
        Data::Vector(vector) => vector
            .into_iter()
            .map(|instant| {
                let (labels, sample) = instant.into_inner();
                let at = sample.timestamp().round() as i64;
                (labels, vec![Sample::new(at, sample.value())])
            })
            .collect(),
        // A scalar names no target.
        Data::Scalar(_) => Vec::new(),
    }
}

/// The start and step of `query`'s range at `now`: from just after what was
/// read before (`until`), at most its lookback back, ending exactly at
/// `now` so that every namespace's answer has a sample at the cycle's
/// instant, where workloads aggregate their pods'.
fn span(query: &Query, until: Option<i64>, now: i64, step: i64) -> (i64, i64) {
    let step = step.max(1);
    let back = match until {
        Some(until) => now.saturating_sub(until).clamp(0, query.lookback.max(0)),
        None => query.lookback.max(0),
    };
    let step = step.max((back + MAX_POINTS - 1) / MAX_POINTS);
    (now - back / step * step, step)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(lookback: i64) -> Query {
        Query {
            metric: "memory_percent".into(),
            promql: "up".into(),
            namespace: None,
            lookback,
            ..Query::default()
        }
    }

    #[test]
    fn the_first_read_covers_the_window_and_later_ones_what_is_new() {
        let now = 1_000_000;
        assert_eq!(span(&query(600), None, now, 10), (now - 600, 10));
        assert_eq!(span(&query(600), Some(now - 10), now, 10), (now - 10, 10));
        // A gap longer than the window reads the window only.
        assert_eq!(
            span(&query(600), Some(now - 5_000), now, 10),
            (now - 600, 10)
        );
        // The latest value only.
        assert_eq!(span(&query(0), None, now, 10), (now, 10));
        assert_eq!(span(&query(0), Some(now - 10), now, 10), (now, 10));
    }

    #[test]
    fn a_long_window_is_read_at_a_coarser_step_ending_at_now() {
        let now = 1_000_003;
        let (start, step) = span(&query(7 * 86_400), None, now, 10);
        assert!((7 * 86_400) / step <= MAX_POINTS, "{step}");
        assert_eq!((now - start) % step, 0, "the last point is at now");
        assert!(now - start <= 7 * 86_400);
    }

    #[test]
    fn the_secret_is_not_in_the_debug_form() {
        let auth = Auth::Basic {
            username: "ops".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{auth:?}").contains("hunter2"));
    }
}
