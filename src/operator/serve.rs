//! The operator's HTTP endpoints: `/metrics` (Prometheus exposition),
//! `/healthz` (the process answers) and `/readyz` (its caches have synced:
//! a replica that cannot yet see the cluster is not ready to lead).

use super::metrics::METRICS;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Binds `address` (a port of 0 picks a free one): a bind failure is the
/// caller's to report, before anything else starts.
pub async fn bind(address: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(address).await
}

/// Serves the endpoints on `listener` until the task is dropped. A slow or
/// broken client only costs its own connection.
pub async fn serve(listener: TcpListener, ready: Arc<AtomicBool>) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "cannot accept a connection on the metrics port");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let ready = ready.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let ready = ready.clone();
                async move { Ok::<_, std::convert::Infallible>(respond(&request, &ready)) }
            });
            // A client that never finishes its request head is dropped.
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), service);
            if let Err(error) = connection.await {
                tracing::debug!(%error, "a metrics connection ended");
            }
        });
    }
}

fn respond(request: &Request<Incoming>, ready: &AtomicBool) -> Response<Full<Bytes>> {
    let reply = |status: StatusCode, content_type: &str, body: String| {
        Response::builder()
            .status(status)
            .header("content-type", content_type)
            .body(Full::new(Bytes::from(body)))
            .unwrap_or_default()
    };
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "GET only\n".into(),
        );
    }
    match request.uri().path() {
        "/metrics" => reply(
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            METRICS.encode(),
        ),
        "/healthz" => reply(StatusCode::OK, "text/plain", "ok\n".into()),
        "/readyz" if ready.load(Ordering::Relaxed) => {
            reply(StatusCode::OK, "text/plain", "ready\n".into())
        }
        "/readyz" => reply(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            "caches not synced yet\n".into(),
        ),
        _ => reply(
            StatusCode::NOT_FOUND,
            "text/plain",
            "/metrics, /healthz or /readyz\n".into(),
        ),
    }
}
