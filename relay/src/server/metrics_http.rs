//! `GET /metrics` over plain HTTP/1.1 (hyper), for a Prometheus scraper.
//!
//! Off unless `--metrics-listen ADDR` is given, and only on a loopback
//! address unless `--metrics-listen-public` says otherwise: the numbers
//! say how busy the relay is and how many tickets wait, which is nobody
//! else's business. One path, one method: anything else is a 404 (or a
//! 405 for another method on `/metrics`). Each connection is bounded: a
//! request head of at most [`MAX_HEAD_LEN`] bytes within
//! [`HEAD_TIMEOUT`], the whole exchange within [`CONNECTION_TIMEOUT`],
//! one request per connection, and at most [`MAX_CONNECTIONS`] at once
//! (more are closed at accept). A scrape reads the registry's atomics,
//! the registry of connected agents, and the store's counts at most once
//! per `MetricsConfig::counts_max_age`.

use super::Shared;
use crate::error::RelayError;
use crate::metrics::{Exporter, CONTENT_TYPE};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE as CONTENT_TYPE_HEADER};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

/// The one path served.
pub const METRICS_PATH: &str = "/metrics";
/// How long a client has to send its request head.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one connection may last, request to last byte of the answer.
pub const CONNECTION_TIMEOUT: Duration = Duration::from_secs(15);
/// Largest request head read (hyper's smallest buffer).
pub const MAX_HEAD_LEN: usize = 8192;
/// Scrape connections served at once.
pub const MAX_CONNECTIONS: usize = 16;

/// Refuses an address other hosts could reach unless `public` allows it.
pub(super) fn check_address(addr: SocketAddr, public: bool) -> Result<(), RelayError> {
    if addr.ip().is_loopback() || public {
        return Ok(());
    }
    Err(RelayError::Config(format!(
        "--metrics-listen {addr} is not a loopback address, so anyone who can reach it could read \
         the relay's metrics; use 127.0.0.1:PORT (or [::1]:PORT), or add --metrics-listen-public \
         to serve them on {addr} on purpose"
    )))
}

/// Binds the metrics listener (after [`check_address`]).
pub(super) async fn bind(addr: SocketAddr, public: bool) -> Result<TcpListener, RelayError> {
    check_address(addr, public)?;
    TcpListener::bind(addr)
        .await
        .map_err(|source| RelayError::Bind { addr, source })
}

/// Serves scrapes until `stop` changes; connections still open then are cut.
pub(super) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let exporter = Arc::new(Exporter::new(Arc::clone(&shared.metrics)));
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut connections = JoinSet::new();
    if let Ok(addr) = listener.local_addr() {
        info!(%addr, "serving metrics at http://{addr}{METRICS_PATH}");
    }
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors and the like: wait, then go on.
                        warn!(error = %e, "cannot accept a metrics connection");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                    debug!(%peer, "too many metrics connections; closing this one");
                    continue;
                };
                let (shared, exporter) = (Arc::clone(&shared), Arc::clone(&exporter));
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let (shared, exporter) = (Arc::clone(&shared), Arc::clone(&exporter));
                        async move {
                            Ok::<_, std::convert::Infallible>(answer(&shared, &exporter, &request).await)
                        }
                    });
                    let connection = hyper::server::conn::http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(HEAD_TIMEOUT)
                        .max_buf_size(MAX_HEAD_LEN)
                        .keep_alive(false)
                        .serve_connection(TokioIo::new(stream), service);
                    match tokio::time::timeout(CONNECTION_TIMEOUT, connection).await {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => debug!(%peer, error = %e, "metrics connection failed"),
                        Err(_) => debug!(%peer, "metrics connection took too long; closed"),
                    }
                    drop(slot);
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.shutdown().await;
}

async fn answer(
    shared: &Shared,
    exporter: &Exporter,
    request: &Request<Incoming>,
) -> Response<Full<Bytes>> {
    if request.uri().path() != METRICS_PATH {
        return plain(
            StatusCode::NOT_FOUND,
            "not found; metrics are at /metrics\n",
        );
    }
    if request.method() != Method::GET {
        let mut response = plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "only GET is served on /metrics\n",
        );
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET"));
        return response;
    }
    shared
        .metrics
        .set_agents_connected(shared.registry.online_count());
    if let Err(e) = shared
        .metrics
        .refresh_counts(shared.store.metric_counts())
        .await
    {
        // The other metrics are still worth a scrape; the counts keep
        // their last value.
        warn!(error = %e, "metrics: cannot count agents and tickets");
    }
    let mut response = Response::new(Full::new(Bytes::from(exporter.render())));
    response
        .headers_mut()
        .insert(CONTENT_TYPE_HEADER, HeaderValue::from_static(CONTENT_TYPE));
    response
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE_HEADER,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_is_served_without_the_public_flag() {
        let ok = |a: &str, public| check_address(a.parse().unwrap(), public).is_ok();
        assert!(ok("127.0.0.1:9464", false));
        assert!(ok("[::1]:9464", false));
        assert!(!ok("0.0.0.0:9464", false));
        assert!(!ok("[::]:9464", false));
        assert!(!ok("192.0.2.7:9464", false));
        assert!(ok("0.0.0.0:9464", true));
        let e = check_address("0.0.0.0:9464".parse().unwrap(), false).unwrap_err();
        assert!(e.to_string().contains("--metrics-listen-public"), "{e}");
    }
}
