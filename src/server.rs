//! The operator's HTTP endpoint on `server.listen`: `/healthz` (the process answers), `/readyz`
//! (the store answers and the scheduler makes progress, from [`Health`]), `/metrics`
//! (Prometheus text from [`metrics::render`]), and the read-only claim ledger (`/`,
//! `/api/claims`, `/api/feeds`, `/claims.atom`, rendered by [`ledger`]). No admin actions: nothing
//! here writes. With `server.auth` set, every path but `/healthz` needs the bearer token or the
//! basic-auth login (the configuration refuses a non-loopback `listen` without it).
//!
//! Built on hyper 1 (already in the tree through reqwest; only its `server` feature is added)
//! rather than a framework: a few fixed GET routes need no router, and hyper gives a correct
//! HTTP/1.1 parser with a head size cap (431). The limits of `[server]` ([`ServerLimits`], read
//! from the live configuration at each accept) bound what one client holds: its head must arrive
//! within `header_timeout` of its first byte, a kept-alive connection idle for `idle_timeout` is
//! closed, URIs and announced bodies are capped (414, 413), and wrong credentials from one
//! address are answered slowly after a few ([`AuthFailures`]). Each refusal is counted in
//! `claimwatch_http_refused_total{reason}` ([`Refusal`]).
//!
//! Trade-off: the listener never stops accepting. At `max_connections` the connection that has
//! waited longest without a complete request is closed to make room ([`Connections::admit`]),
//! so half-open or idle clients cannot starve `/healthz`, `/readyz` or a scrape (a listener that
//! stops accepting lets its kernel queue fill, and every newcomer waits behind the idlers). A
//! newcomer is turned away (503) only when every held connection is busy answering.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use anyhow::{Context, Result};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::{ServerAuth, ServerLimits};
use crate::daemon::ConfigWatch;
use crate::health::Health;
use crate::ledger::{self, Ledger};
use crate::metrics;

/// What the ledger routes read: the ledger, and the live configuration (feeds, `server.auth`,
/// the limits).
#[derive(Clone)]
pub struct Site {
    pub ledger: Ledger,
    pub config: ConfigWatch,
}

/// Why the listener cut a client off: the label of `claimwatch_http_refused_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Closed to make room for a newcomer at `max_connections`.
    Evicted,
    /// Every held connection was busy answering: the newcomer got 503.
    Busy,
    /// No complete head within `header_timeout`.
    HeaderTimeout,
    /// The head exceeded `max_header_size` (431).
    HeaderTooLarge,
    /// The path and query exceeded `max_uri` (414).
    UriTooLong,
    /// The announced body exceeded `max_body` (413).
    BodyTooLarge,
    /// Not HTTP/1 the parser accepts (400).
    BadRequest,
    /// Not GET or HEAD (405).
    Method,
}

impl Refusal {
    const ALL: [Refusal; 8] = [
        Refusal::Evicted,
        Refusal::Busy,
        Refusal::HeaderTimeout,
        Refusal::HeaderTooLarge,
        Refusal::UriTooLong,
        Refusal::BodyTooLarge,
        Refusal::BadRequest,
        Refusal::Method,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Refusal::Evicted => "evicted",
            Refusal::Busy => "busy",
            Refusal::HeaderTimeout => "header_timeout",
            Refusal::HeaderTooLarge => "header_too_large",
            Refusal::UriTooLong => "uri_too_long",
            Refusal::BodyTooLarge => "body_too_large",
            Refusal::BadRequest => "bad_request",
            Refusal::Method => "method",
        }
    }

    fn count(self) {
        metrics::http_refused(self.label());
    }
}

/// Binds `addr`; fails at start-up (naming the key) rather than running without the endpoint.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(addr).await.with_context(|| {
        format!("server.listen {addr}: cannot listen (set server.listen = \"\" to disable the endpoint)")
    })
}

/// Serves the endpoint on `listener` until `token` is cancelled.
pub async fn serve(listener: TcpListener, health: Health, site: Site, token: CancellationToken) {
    for refusal in Refusal::ALL {
        metrics::http_refused_known(refusal.label());
    }
    let connections = Connections::default();
    let shared = Shared { health, site, failures: AuthFailures::default() };
    let mut tasks = tokio::task::JoinSet::new();
    let mut next_id = 0u64;
    loop {
        let (stream, peer) = tokio::select! {
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
        while tasks.try_join_next().is_some() {}
        let limits = shared.site.config.borrow().server.limits.clone();
        next_id += 1;
        let conn = Arc::new(Conn::new());
        if !connections.admit(next_id, &conn, limits.max_connections) {
            Refusal::Busy.count();
            tasks.spawn(turn_away(stream));
            continue;
        }
        let (shared, connections, token) = (shared.clone(), connections.clone(), token.clone());
        let id = next_id;
        tasks.spawn(async move {
            let refusal = connection(stream, peer, &conn, &limits, shared, token).await;
            if let Some(refusal) = refusal {
                refusal.count();
            }
            connections.remove(id);
        });
    }
    // In-flight scrapes are cut: they are read-only and the scraper retries.
    tasks.shutdown().await;
}

/// Serves one connection until it ends, is evicted, expires or the daemon stops; the refusal
/// that ended it, if one did (an eviction is counted by the evicter).
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    conn: &Arc<Conn>,
    limits: &ServerLimits,
    shared: Shared,
    token: CancellationToken,
) -> Option<Refusal> {
    let service = {
        let (conn, limits) = (Arc::clone(conn), limits.clone());
        hyper::service::service_fn(move |request| {
            let (shared, conn, limits) = (shared.clone(), conn.clone(), limits.clone());
            async move {
                conn.set(Phase::Busy);
                let mut response = answer(&request, peer.ip(), &conn, &limits, &shared).await;
                close_after_body(&request, &mut response);
                conn.set(Phase::Idle { since: Instant::now() });
                Ok::<_, Infallible>(response)
            }
        })
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    // Head and idle deadlines are ours ([`expiry`]): hyper's header timer cannot tell a client
    // that is slow to send its head from a kept-alive one that has nothing to ask.
    builder.timer(TokioTimer::new()).header_read_timeout(None).max_buf_size(limits.max_header_size);
    let io = TokioIo::new(Watched { io: stream, conn: Arc::clone(conn) });
    let served = builder.serve_connection(io, service);
    tokio::select! {
        result = served => result.err().and_then(|e| {
            if e.is_parse_too_large() {
                Some(Refusal::HeaderTooLarge)
            } else if e.is_parse() {
                Some(Refusal::BadRequest)
            } else {
                None
            }
        }),
        _ = conn.evict.cancelled() => None,
        expired = expiry(conn, limits) => expired,
        _ = token.cancelled() => None,
    }
}

/// Answers a newcomer when every held connection is busy: 503, then close.
async fn turn_away(mut stream: TcpStream) {
    use tokio::io::AsyncWriteExt;
    let answer = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n\
                   content-length: 5\r\nconnection: close\r\nretry-after: 1\r\n\r\nbusy\n";
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(answer)).await;
}

// ------------------------------------------------------------------------------- connections

/// Where one connection stands; what its deadline and its eviction order are made of.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Waiting for a request's head since `since` (the connection's start, or the first byte
    /// after an answer).
    Head { since: Instant },
    /// A request is being answered.
    Busy,
    /// Kept alive with nothing asked since `since`.
    Idle { since: Instant },
    /// Made to wait `server.auth_delay` before its 401, since `since`: evicted before any other,
    /// so a guesser's held connections never crowd out other clients.
    Penalised { since: Instant },
}

/// One held connection: its phase and the token that evicts it.
struct Conn {
    phase: Mutex<Phase>,
    evict: CancellationToken,
}

impl Conn {
    fn new() -> Conn {
        Conn { phase: Mutex::new(Phase::Head { since: Instant::now() }), evict: CancellationToken::new() }
    }

    fn phase(&self) -> Phase {
        *self.phase.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set(&self, phase: Phase) {
        *self.phase.lock().unwrap_or_else(PoisonError::into_inner) = phase;
    }

    /// Bytes arrived: an idle connection starts a head (and its head deadline).
    fn read_some(&self) {
        let mut phase = self.phase.lock().unwrap_or_else(PoisonError::into_inner);
        if let Phase::Idle { .. } = *phase {
            *phase = Phase::Head { since: Instant::now() };
        }
    }

    /// Its place in the eviction order (the least first): a penalised guesser, then whoever
    /// has waited longest without a complete request; None while it is answered.
    fn eviction_rank(&self) -> Option<(u8, Instant)> {
        match self.phase() {
            Phase::Penalised { since } => Some((0, since)),
            Phase::Head { since } | Phase::Idle { since } => Some((1, since)),
            Phase::Busy => None,
        }
    }
}

/// Resolves when `conn` outlives its phase's deadline: `Some(HeaderTimeout)` for a head not
/// complete within `header_timeout`, None for an idle connection closed after `idle_timeout`.
async fn expiry(conn: &Conn, limits: &ServerLimits) -> Option<Refusal> {
    loop {
        // The phase moves on without waking us: sleep to the deadline, then look again.
        let (deadline, refusal) = match conn.phase() {
            Phase::Head { since } => (since + limits.header_timeout, Some(Refusal::HeaderTimeout)),
            Phase::Idle { since } => (since + limits.idle_timeout, None),
            // Answers and penalties end by themselves.
            Phase::Busy | Phase::Penalised { .. } => {
                (Instant::now() + limits.header_timeout.min(limits.idle_timeout), None)
            }
        };
        if deadline <= Instant::now() && matches!(conn.phase(), Phase::Head { .. } | Phase::Idle { .. }) {
            return refusal;
        }
        tokio::time::sleep_until(deadline).await;
    }
}

/// The connections held, by id.
#[derive(Clone, Default)]
struct Connections(Arc<Mutex<HashMap<u64, Arc<Conn>>>>);

impl Connections {
    /// Holds `conn`; at `max` first evicts the connection that has waited longest without a
    /// complete request. False when every held connection is busy answering.
    fn admit(&self, id: u64, conn: &Arc<Conn>, max: usize) -> bool {
        let mut held = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        while held.len() >= max {
            let idlest = held
                .iter()
                .filter_map(|(id, c)| c.eviction_rank().map(|rank| (rank, *id)))
                .min()
                .map(|(_, id)| id);
            let Some(victim) = idlest.and_then(|id| held.remove(&id)) else { return false };
            victim.evict.cancel();
            Refusal::Evicted.count();
        }
        held.insert(id, Arc::clone(conn));
        true
    }

    fn remove(&self, id: u64) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).remove(&id);
    }
}

/// The socket, telling its connection when bytes arrive.
struct Watched {
    io: TcpStream,
    conn: Arc<Conn>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.conn.read_some();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

// ------------------------------------------------------------------------------------- auth

/// Addresses remembered at most; beyond, the oldest are forgotten (memory stays bounded).
const AUTH_MEMORY: usize = 4096;
/// Failures older than this are forgotten.
const AUTH_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Wrong credentials per client address: after `server.auth_failures` of them, the next wrong
/// ones are answered only after `server.auth_delay`, which slows a guesser to a crawl without
/// ever delaying the right credentials.
#[derive(Clone, Default)]
struct AuthFailures(Arc<Mutex<HashMap<IpAddr, (u32, Instant)>>>);

impl AuthFailures {
    /// Counts a failure from `ip`; whether its answer is to be delayed.
    fn fail(&self, ip: IpAddr, limits: &ServerLimits) -> bool {
        let now = Instant::now();
        let mut seen = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if seen.len() >= AUTH_MEMORY && !seen.contains_key(&ip) {
            seen.retain(|_, (_, at)| now.duration_since(*at) < AUTH_WINDOW);
            if seen.len() >= AUTH_MEMORY {
                seen.clear();
            }
        }
        let entry = seen.entry(ip).or_insert((0, now));
        if now.duration_since(entry.1) >= AUTH_WINDOW {
            *entry = (0, now);
        }
        entry.0 = entry.0.saturating_add(1);
        entry.1 = now;
        entry.0 > limits.auth_failures
    }

    fn succeed(&self, ip: IpAddr) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).remove(&ip);
    }
}

/// What every connection shares: what the routes read, and the failed-auth memory.
#[derive(Clone)]
struct Shared {
    health: Health,
    site: Site,
    failures: AuthFailures,
}

/// A body is never read: close rather than read what the client goes on sending.
fn close_after_body(request: &Request<Incoming>, response: &mut Response<Full<Bytes>>) {
    if request.headers().contains_key(hyper::header::CONTENT_LENGTH)
        || request.headers().contains_key(hyper::header::TRANSFER_ENCODING)
    {
        response
            .headers_mut()
            .insert(hyper::header::CONNECTION, hyper::header::HeaderValue::from_static("close"));
    }
}

async fn answer(
    request: &Request<Incoming>,
    ip: IpAddr,
    conn: &Conn,
    limits: &ServerLimits,
    shared: &Shared,
) -> Response<Full<Bytes>> {
    let Shared { health, site, failures } = shared;
    let text = "text/plain; charset=utf-8";
    let uri_length = request.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if uri_length > limits.max_uri {
        Refusal::UriTooLong.count();
        return reply(StatusCode::URI_TOO_LONG, text, "the URI is too long\n".into());
    }
    let announced = request
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|n| n > limits.max_body) {
        Refusal::BodyTooLarge.count();
        return reply(StatusCode::PAYLOAD_TOO_LARGE, text, "the body is too large\n".into());
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        Refusal::Method.count();
        return reply(StatusCode::METHOD_NOT_ALLOWED, text, "only GET\n".into());
    }
    let path = request.uri().path();
    let config = site.config.borrow().clone();
    if path != "/healthz" && config.server.auth.is_some() {
        if authorized(request, config.server.auth.as_ref()) {
            failures.succeed(ip);
        } else {
            metrics::http_auth_failure();
            if failures.fail(ip, limits) {
                conn.set(Phase::Penalised { since: Instant::now() });
                tokio::time::sleep(limits.auth_delay).await;
            }
            return unauthorized();
        }
    }
    route_path(request, path, config, health, site).await
}

fn unauthorized() -> Response<Full<Bytes>> {
    let mut response = reply(StatusCode::UNAUTHORIZED, "text/plain; charset=utf-8", "unauthorized\n".into());
    response.headers_mut().insert(
        hyper::header::WWW_AUTHENTICATE,
        hyper::header::HeaderValue::from_static("Basic realm=\"claimwatch\", charset=\"UTF-8\""),
    );
    response
}

async fn route_path(
    request: &Request<Incoming>,
    path: &str,
    config: std::sync::Arc<crate::config::Config>,
    health: &Health,
    site: &Site,
) -> Response<Full<Bytes>> {
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
    same_secret(given.as_bytes(), expected.as_bytes())
}

/// Compares two secrets in time independent of where, and whether, they differ: their SHA-256
/// digests are compared in full (a plain comparison stops at the first difference, and a
/// length check first tells the guesser the length).
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    use sha2::{Digest, Sha256};
    let (a, b) = (Sha256::digest(given), Sha256::digest(expected));
    a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn reply(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static(content_type));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_equal_only_when_equal() {
        assert!(same_secret(b"Bearer s3cret", b"Bearer s3cret"));
        for wrong in [&b"Bearer s3cre"[..], b"Bearer s3cres", b"Bearer s3cret ", b"", b"bearer s3cret"] {
            assert!(!same_secret(wrong, b"Bearer s3cret"), "{}", String::from_utf8_lossy(wrong));
        }
    }

    fn limits() -> ServerLimits {
        crate::config::Config::defaults_with_state_dir(std::path::Path::new("/tmp")).server.limits
    }

    #[test]
    fn a_guesser_is_delayed_after_the_allowed_failures_and_forgotten_on_success() {
        let (failures, limits) = (AuthFailures::default(), limits());
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        for _ in 0..limits.auth_failures {
            assert!(!failures.fail(ip, &limits));
        }
        assert!(failures.fail(ip, &limits), "one more failure is delayed");
        assert!(!failures.fail("192.0.2.8".parse().unwrap(), &limits), "another address is not");
        failures.succeed(ip);
        assert!(!failures.fail(ip, &limits));
    }

    #[tokio::test(start_paused = true)]
    async fn at_the_cap_a_guesser_then_the_longest_waiting_connection_is_evicted_and_busy_ones_never() {
        let held = Connections::default();
        let conns: Vec<Arc<Conn>> = (0..3).map(|_| Arc::new(Conn::new())).collect();
        conns[0].set(Phase::Busy);
        conns[1].set(Phase::Idle { since: Instant::now() - Duration::from_secs(20) });
        conns[2].set(Phase::Head { since: Instant::now() - Duration::from_secs(3) });
        for (i, conn) in conns.iter().enumerate() {
            assert!(held.admit(i as u64, conn, 3));
        }
        assert!(held.admit(3, &Arc::new(Conn::new()), 3));
        assert!(conns[1].evict.is_cancelled(), "the one idle for 20 s goes first");
        assert!(!conns[0].evict.is_cancelled() && !conns[2].evict.is_cancelled());
        let newest = Arc::new(Conn::new());
        newest.set(Phase::Busy);
        assert!(held.admit(4, &newest, 3));
        assert!(conns[2].evict.is_cancelled());
        // 0, 3 and 4 are held; 3 is the only one waiting, so it makes room for 5.
        let busy = Arc::new(Conn::new());
        busy.set(Phase::Busy);
        assert!(held.admit(5, &busy, 3));
        assert!(!held.admit(6, &Arc::new(Conn::new()), 3), "all busy: turned away");
        let guesser = Arc::new(Conn::new());
        guesser.set(Phase::Penalised { since: Instant::now() });
        let (held, idle) = (Connections::default(), Arc::new(Conn::new()));
        idle.set(Phase::Idle { since: Instant::now() - Duration::from_secs(20) });
        assert!(
            held.admit(1, &idle, 2) && held.admit(2, &guesser, 2) && held.admit(3, &Arc::new(Conn::new()), 2)
        );
        assert!(guesser.evict.is_cancelled() && !idle.evict.is_cancelled(), "a guesser goes first");
    }

    #[tokio::test(start_paused = true)]
    async fn a_head_expires_after_header_timeout_and_an_idle_connection_after_idle_timeout() {
        let limits = limits();
        let conn = Conn::new();
        let started = Instant::now();
        assert_eq!(expiry(&conn, &limits).await, Some(Refusal::HeaderTimeout));
        assert_eq!(started.elapsed(), limits.header_timeout);
        conn.set(Phase::Idle { since: Instant::now() });
        let started = Instant::now();
        assert_eq!(expiry(&conn, &limits).await, None);
        assert_eq!(started.elapsed(), limits.idle_timeout);
    }
}
