//! The operator's HTTP endpoint on `server.listen`: `/healthz` (the process answers), `/readyz`
//! (the store answers and the scheduler makes progress, from [`Health`]), `/metrics`
//! (Prometheus text from [`metrics::render`]), and the read-only claim ledger (`/`,
//! `/api/claims`, `/api/feeds`, `/claims.atom`, rendered by [`ledger`]). No admin actions: nothing
//! here writes. With `server.auth` set, every path but `/healthz` needs the bearer token or the
//! basic-auth login (the configuration refuses a non-loopback `listen` without it).
//!
//! Built on hyper 1 (already in the tree through reqwest; only its `server` feature is added)
//! rather than a framework: three fixed GET routes need no router, and hyper gives a correct
//! HTTP/1.1 parser with a header-read timeout. Every connection is bounded (at most
//! [`MAX_CONNECTIONS`] at once, headers within 5 s, the whole connection within 30 s), so a slow
//! or hostile scraper cannot hold the daemon's resources.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::config::ServerAuth;
use crate::daemon::ConfigWatch;
use crate::health::Health;
use crate::ledger::{self, Ledger};
use crate::metrics;

/// What the ledger routes read: the ledger, and the live configuration (feeds, `server.auth`).
#[derive(Clone)]
pub struct Site {
    pub ledger: Ledger,
    pub config: ConfigWatch,
}

/// Connections served at once; more wait in the accept queue.
pub const MAX_CONNECTIONS: usize = 16;
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(30);

/// Binds `addr`; fails at start-up (naming the key) rather than running without the endpoint.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(addr).await.with_context(|| {
        format!("server.listen {addr}: cannot listen (set server.listen = \"\" to disable the endpoint)")
    })
}

/// Serves the endpoint on `listener` until `token` is cancelled.
pub async fn serve(listener: TcpListener, health: Health, site: Site, token: CancellationToken) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let permit = tokio::select! {
            _ = token.cancelled() => break,
            permit = Arc::clone(&permits).acquire_owned() => permit.expect("the semaphore is never closed"),
        };
        let (stream, _peer) = tokio::select! {
            _ = token.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // EMFILE and friends: wait a moment rather than spin.
                    tracing::warn!(%error, stage = "server", "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let (health, site) = (health.clone(), site.clone());
        connections.spawn(async move {
            let _permit = permit;
            let service = hyper::service::service_fn(move |request| {
                let (health, site) = (health.clone(), site.clone());
                async move { Ok::<_, Infallible>(route(&request, &health, &site).await) }
            });
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.timer(TokioTimer::new()).header_read_timeout(HEADER_TIMEOUT).max_buf_size(16 * 1024);
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(CONNECTION_TIMEOUT, connection).await;
        });
        while connections.try_join_next().is_some() {}
    }
    // In-flight scrapes are cut: they are read-only and the scraper retries.
    connections.shutdown().await;
}

async fn route(request: &Request<Incoming>, health: &Health, site: &Site) -> Response<Full<Bytes>> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return reply(StatusCode::METHOD_NOT_ALLOWED, "text/plain; charset=utf-8", "only GET\n".into());
    }
    let path = request.uri().path();
    let config = site.config.borrow().clone();
    if path != "/healthz" && !authorized(request, config.server.auth.as_ref()) {
        let mut response =
            reply(StatusCode::UNAUTHORIZED, "text/plain; charset=utf-8", "unauthorized\n".into());
        response.headers_mut().insert(
            hyper::header::WWW_AUTHENTICATE,
            hyper::header::HeaderValue::from_static("Basic realm=\"claimwatch\", charset=\"UTF-8\""),
        );
        return response;
    }
    match path {
        "/healthz" => reply(StatusCode::OK, "text/plain; charset=utf-8", "ok\n".into()),
        "/readyz" => {
            let readiness = health.check();
            let status = if readiness.is_ready() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
            reply(status, "text/plain; charset=utf-8", readiness.report())
        }
        "/metrics" => reply(
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            metrics::render(),
        ),
        "/" | "/api/claims" | "/api/feeds" | "/claims.atom" => {
            let query = ledger::Query::parse(request.uri().query());
            let host = request
                .headers()
                .get(hyper::header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("localhost");
            let self_url = format!("http://{host}/claims.atom");
            let (ledger, path) = (site.ledger.clone(), path.to_string());
            // sled reads block: keep them off the async workers.
            let answer =
                tokio::task::spawn_blocking(move || ledger.answer(&path, query, &config, &self_url)).await;
            match answer {
                Ok(Ok((content_type, body))) => reply(StatusCode::OK, content_type, body),
                Ok(Err(error)) => {
                    tracing::warn!(%error, stage = "server", "cannot read the ledger");
                    reply(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "text/plain; charset=utf-8",
                        "the store does not answer\n".into(),
                    )
                }
                Err(_) => reply(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "text/plain; charset=utf-8",
                    "internal error\n".into(),
                ),
            }
        }
        _ => reply(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "try /, /claims.atom, /api/claims, /api/feeds, /healthz, /readyz or /metrics\n".into(),
        ),
    }
}

/// Whether the request carries the configured credentials (always, when none are configured).
fn authorized(request: &Request<Incoming>, auth: Option<&ServerAuth>) -> bool {
    let Some(auth) = auth else { return true };
    let Some(given) = request.headers().get(hyper::header::AUTHORIZATION).and_then(|h| h.to_str().ok())
    else {
        return false;
    };
    let expected = match auth {
        ServerAuth::Bearer(token) => format!("Bearer {token}"),
        ServerAuth::Basic { user, password } => {
            use base64::Engine as _;
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            )
        }
    };
    // Compared in time independent of where they differ.
    given.len() == expected.len()
        && given.bytes().zip(expected.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

fn reply(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static(content_type));
    response
}
