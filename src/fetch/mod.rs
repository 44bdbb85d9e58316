//! Polite HTTP: the only place that talks to other servers for feeds and article pages. It owns
//! conditional requests (ETag / Last-Modified), redirects (followed by hand so every hop is
//! checked), decompression with a body cap enforced while streaming, timeouts, a global
//! concurrency limit, per-host limits with a minimum delay between starts, Retry-After per host,
//! and the refusal of private networks (after DNS resolution, on literal IPs in any notation and
//! on every redirect hop). It also reads `file://` URLs, but only when the caller says the
//! request is local: a remote feed or a redirect never leads to `file://` or any other scheme.
//!
//! It does not decide what to fetch or when (that is `feeds` and `pipeline`), and it does not
//! decode charsets: bodies are returned as raw bytes.
//!
//! Trade-off: the per-host delay is enforced with a "next start" instant per host, shared by
//! every request to that host; a burst of page fetches to one newsroom is therefore serialised
//! at `per_host_delay`, which is slow but exactly what keeps us from being banned.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{self, HeaderMap};
use thiserror::Error;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use url::{Host, Url};

use crate::config::FetchConfig;

/// What is fetched, for metrics and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Feed,
    Page,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Feed => "feed",
            Kind::Page => "page",
        }
    }
}

/// Validators from the last successful fetch, sent back as `If-None-Match` / `If-Modified-Since`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

impl Validators {
    pub fn is_empty(&self) -> bool {
        self.etag.is_none() && self.last_modified.is_none()
    }
}

/// What the server said about how long its answer stays fresh.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheHints {
    /// `Cache-Control: max-age`.
    pub max_age: Option<Duration>,
    /// `Expires`.
    pub expires: Option<DateTime<Utc>>,
}

/// A fetched body.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The URL after redirects.
    pub url: Url,
    pub content_type: Option<String>,
    /// Decompressed, at most `fetch.max_body` bytes.
    pub body: Vec<u8>,
    pub validators: Validators,
    pub cache: CacheHints,
}

/// The expected outcomes of a fetch; failures are [`FetchError`].
#[derive(Debug, Clone)]
pub enum FetchOutcome {
    /// 200 with a body.
    Fetched(Fetched),
    /// 304: the validators still hold.
    NotModified { cache: CacheHints },
}

impl FetchOutcome {
    /// The metrics label of this outcome.
    pub fn class(&self) -> &'static str {
        match self {
            FetchOutcome::Fetched(_) => "ok",
            FetchOutcome::NotModified { .. } => "not_modified",
        }
    }
}

/// Why a fetch failed. [`FetchError::is_retryable`] says whether trying again later may help;
/// [`FetchError::class`] is the metrics label.
#[derive(Debug, Error)]
pub enum FetchError {
    #[error("refused: {0}")]
    Blocked(String),
    #[error("unsupported URL scheme {0:?}")]
    Scheme(String),
    #[error("HTTP status {status}")]
    Status { status: u16, retry_after: Option<Duration> },
    #[error("host {host} asked us to wait {wait:?} (Retry-After)")]
    RateLimited { host: String, wait: Duration },
    #[error("timed out ({0})")]
    Timeout(&'static str),
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("body larger than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("more than {0} redirects")]
    TooManyRedirects(usize),
    #[error("bad redirect: {0}")]
    BadRedirect(String),
    #[error("network: {0}")]
    Network(String),
    #[error("file {path}: {reason}")]
    File { path: String, reason: String },
}

impl FetchError {
    /// Whether a later attempt may succeed (the server's or the network's fault, not a rule of
    /// ours or a permanent answer).
    pub fn is_retryable(&self) -> bool {
        match self {
            FetchError::Status { status, .. } => *status >= 500 || *status == 429 || *status == 408,
            FetchError::RateLimited { .. }
            | FetchError::Timeout(_)
            | FetchError::Connect(_)
            | FetchError::Network(_) => true,
            FetchError::Blocked(_)
            | FetchError::Scheme(_)
            | FetchError::TooLarge { .. }
            | FetchError::TooManyRedirects(_)
            | FetchError::BadRedirect(_)
            | FetchError::File { .. } => false,
        }
    }

    /// The error class for metrics (`claimwatch_fetches{outcome=…}`).
    pub fn class(&self) -> &'static str {
        match self {
            FetchError::Blocked(_) => "blocked",
            FetchError::Scheme(_) => "scheme",
            FetchError::Status { status, .. } if *status >= 500 => "http_5xx",
            FetchError::Status { status: 429, .. } => "rate_limited",
            FetchError::Status { .. } => "http_4xx",
            FetchError::RateLimited { .. } => "rate_limited",
            FetchError::Timeout(_) => "timeout",
            FetchError::Connect(_) => "connect",
            FetchError::TooLarge { .. } => "too_large",
            FetchError::TooManyRedirects(_) | FetchError::BadRedirect(_) => "redirect",
            FetchError::Network(_) => "network",
            FetchError::File { .. } => "file",
        }
    }

    /// How long the server asked us to wait, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FetchError::Status { retry_after, .. } => *retry_after,
            FetchError::RateLimited { wait, .. } => Some(*wait),
            _ => None,
        }
    }
}

/// One request.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub url: &'a Url,
    pub kind: Kind,
    /// Sent as conditional headers when present.
    pub validators: Option<&'a Validators>,
    /// Whether a `file://` URL may be read: true only for feeds configured locally and the
    /// pages that local feeds link to.
    pub allow_file: bool,
}

/// Per-host politeness state.
struct HostSlot {
    permits: Arc<Semaphore>,
    /// The earliest moment the next request to this host may start.
    next_start: tokio::sync::Mutex<Instant>,
    /// Retry-After: no request before this moment.
    blocked_until: Mutex<Option<Instant>>,
}

/// What one request to one URL led to.
enum Hop {
    Done(FetchOutcome),
    Redirect(Url),
}

/// The timeout that `fetch.timeout` sets, as the error names it.
const TOTAL_TIMEOUT: &str = "no complete answer within fetch.timeout of sending the request";

/// Permits held for one request, until its body is read.
struct Permits {
    _host: tokio::sync::OwnedSemaphorePermit,
    _global: tokio::sync::OwnedSemaphorePermit,
}

/// Hosts remembered before idle ones are forgotten.
const MAX_HOSTS: usize = 10_000;

/// The longest Retry-After we honour; beyond it the scheduler's backoff takes over.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// The polite HTTP client; cheap to clone, shared by every feed.
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    config: Arc<FetchConfig>,
    global: Arc<Semaphore>,
    hosts: Arc<Mutex<HashMap<String, Arc<HostSlot>>>>,
}

impl Fetcher {
    /// Builds the client from `[fetch]`.
    pub fn new(config: &FetchConfig) -> Result<Fetcher, FetchError> {
        let mut builder = reqwest::Client::builder()
            .user_agent(config.user_agent.clone())
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.connect_timeout)
            .read_timeout(config.read_timeout)
            .timeout(config.timeout)
            .gzip(true)
            .brotli(true)
            .deflate(true)
            .pool_max_idle_per_host(config.per_host)
            .pool_idle_timeout(Duration::from_secs(60))
            .dns_resolver(Arc::new(GuardedResolver { allow_private: config.allow_private_networks }));
        // Environment proxy variables are ignored unless `fetch.proxy` is configured.
        builder = match &config.proxy {
            Some(proxy) => builder
                .proxy(reqwest::Proxy::all(proxy.as_str()).map_err(|e| FetchError::Network(e.to_string()))?),
            None => builder.no_proxy(),
        };
        let client = builder.build().map_err(|e| FetchError::Network(format!("building the client: {e}")))?;
        Ok(Fetcher {
            client,
            config: Arc::new(config.clone()),
            global: Arc::new(Semaphore::new(config.concurrency.max(1))),
            hosts: Arc::default(),
        })
    }

    /// A fetcher with new settings (a configuration reload) that keeps what it learnt about
    /// hosts: their Retry-After and the time of their last request still hold.
    pub fn reconfigured(&self, config: &FetchConfig) -> Result<Fetcher, FetchError> {
        let mut fresh = Fetcher::new(config)?;
        fresh.hosts = Arc::clone(&self.hosts);
        Ok(fresh)
    }

    pub fn config(&self) -> &FetchConfig {
        &self.config
    }

    /// Fetches one URL under every politeness rule, counting the outcome in metrics.
    pub async fn fetch(&self, request: Request<'_>) -> Result<FetchOutcome, FetchError> {
        let started = std::time::Instant::now();
        let result = match request.url.scheme() {
            "file" if request.allow_file => self.fetch_file(request.url).await,
            "file" => Err(FetchError::Blocked(format!(
                "{} is a local file, reached from a remote source",
                request.url
            ))),
            "http" | "https" => self.fetch_http(request).await,
            other => Err(FetchError::Scheme(other.to_string())),
        };
        let outcome = match &result {
            Ok(outcome) => outcome.class(),
            Err(error) => error.class(),
        };
        crate::metrics::fetch(request.kind.as_str(), outcome);
        crate::metrics::fetch_duration(request.kind.as_str(), started.elapsed());
        tracing::debug!(url = %request.url, kind = request.kind.as_str(), outcome,
            elapsed_ms = started.elapsed().as_millis() as u64, "fetch");
        result
    }

    async fn fetch_file(&self, url: &Url) -> Result<FetchOutcome, FetchError> {
        let path = url
            .to_file_path()
            .map_err(|_| FetchError::File { path: url.to_string(), reason: "not a local path".into() })?;
        let file_error = |reason: String| FetchError::File { path: path.display().to_string(), reason };
        let meta = tokio::fs::metadata(&path).await.map_err(|e| file_error(e.to_string()))?;
        if meta.len() > self.config.max_body {
            return Err(FetchError::TooLarge { limit: self.config.max_body });
        }
        let body = tokio::fs::read(&path).await.map_err(|e| file_error(e.to_string()))?;
        if body.len() as u64 > self.config.max_body {
            return Err(FetchError::TooLarge { limit: self.config.max_body });
        }
        let content_type = match path.extension().and_then(|e| e.to_str()) {
            Some("html" | "htm") => Some("text/html".to_string()),
            Some("json") => Some("application/feed+json".to_string()),
            Some("xml" | "rss" | "atom") => Some("application/xml".to_string()),
            _ => None,
        };
        Ok(FetchOutcome::Fetched(Fetched {
            url: url.clone(),
            content_type,
            body,
            validators: Validators::default(),
            cache: CacheHints::default(),
        }))
    }

    /// Follows redirects by hand. `fetch.timeout` counts from the moment the first request is
    /// sent: time spent queued for the host's turn or a global slot is politeness, not the
    /// server's slowness, and a feed queued behind a silent request to its host simply goes when
    /// a slot frees instead of "timing out" without a request ever sent.
    async fn fetch_http(&self, request: Request<'_>) -> Result<FetchOutcome, FetchError> {
        let mut url = request.url.clone();
        let mut hops = 0;
        let mut deadline: Option<tokio::time::Instant> = None;
        loop {
            check_remote_url(&url, self.config.allow_private_networks)?;
            // The host permit is held until the body is read: "2 at once" means whole requests.
            let _permits = self.wait_turn(&url).await?;
            let deadline = *deadline.get_or_insert_with(|| tokio::time::Instant::now() + self.config.timeout);
            let hop = tokio::time::timeout_at(deadline, self.one_hop(&url, request.validators))
                .await
                .map_err(|_| FetchError::Timeout(TOTAL_TIMEOUT))??;
            match hop {
                Hop::Done(outcome) => return Ok(outcome),
                Hop::Redirect(next) => {
                    hops += 1;
                    if hops > self.config.max_redirects {
                        return Err(FetchError::TooManyRedirects(self.config.max_redirects));
                    }
                    url = next;
                }
            }
        }
    }

    /// One request to one URL, with its turn already taken: the outcome, or where it redirects.
    async fn one_hop(&self, url: &Url, validators: Option<&Validators>) -> Result<Hop, FetchError> {
        let response = self.send(url, validators).await?;
        let status = response.status();
        if status.is_redirection() && status != reqwest::StatusCode::NOT_MODIFIED {
            let location = response
                .headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| FetchError::BadRedirect(format!("{status} without a Location")))?;
            let next = url
                .join(location)
                .map_err(|e| FetchError::BadRedirect(format!("Location {location:?}: {e}")))?;
            if !matches!(next.scheme(), "http" | "https") {
                return Err(FetchError::Blocked(format!("redirect to {next} (scheme {})", next.scheme())));
            }
            return Ok(Hop::Redirect(next));
        }
        let headers = response.headers().clone();
        let cache = cache_hints(&headers);
        if status == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(Hop::Done(FetchOutcome::NotModified { cache }));
        }
        if !status.is_success() {
            let retry_after = retry_after(&headers, Utc::now());
            if matches!(status.as_u16(), 429 | 503) {
                if let Some(wait) = retry_after {
                    self.block_host(url, wait);
                }
            }
            return Err(FetchError::Status { status: status.as_u16(), retry_after });
        }
        let body = read_capped(response, self.config.max_body).await?;
        Ok(Hop::Done(FetchOutcome::Fetched(Fetched {
            url: url.clone(),
            content_type: header_str(&headers, header::CONTENT_TYPE),
            body,
            validators: Validators {
                etag: header_str(&headers, header::ETAG),
                last_modified: header_str(&headers, header::LAST_MODIFIED),
            },
            cache,
        })))
    }

    /// Waits for the host's turn (its permits and spacing) and a global slot. Not timed: the
    /// wait ends when a request ahead ends, and each of those is bounded by `fetch.timeout`.
    async fn wait_turn(&self, url: &Url) -> Result<Permits, FetchError> {
        let host = host_key(url);
        let slot = self.slot(&host);
        let blocked = |slot: &HostSlot| -> Result<(), FetchError> {
            if let Some(until) = *slot.blocked_until.lock().expect("host lock") {
                let now = Instant::now();
                if until > now {
                    return Err(FetchError::RateLimited { host: host.clone(), wait: until - now });
                }
            }
            Ok(())
        };
        blocked(&slot)?;
        // Host first, then the global permit: requests queued behind a busy host never hold
        // global permits that other hosts could use.
        let host_permit =
            slot.permits.clone().acquire_owned().await.expect("host semaphores are never closed");
        {
            let mut next_start = slot.next_start.lock().await;
            let now = Instant::now();
            if *next_start > now {
                tokio::time::sleep_until(*next_start).await;
            }
            *next_start = Instant::now() + self.config.per_host_delay;
        }
        // The host may have sent a Retry-After while we waited for our turn.
        blocked(&slot)?;
        let global_permit =
            self.global.clone().acquire_owned().await.expect("the global semaphore is never closed");
        Ok(Permits { _host: host_permit, _global: global_permit })
    }

    /// Sends one GET (its turn taken).
    async fn send(
        &self,
        url: &Url,
        validators: Option<&Validators>,
    ) -> Result<reqwest::Response, FetchError> {
        let mut builder = self.client.get(url.clone());
        if let Some(v) = validators {
            if let Some(etag) = &v.etag {
                builder = builder.header(header::IF_NONE_MATCH, etag);
            }
            if let Some(lm) = &v.last_modified {
                builder = builder.header(header::IF_MODIFIED_SINCE, lm);
            }
        }
        builder = builder.header(
            header::ACCEPT,
            "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, text/html;q=0.8, */*;q=0.5",
        );
        builder.send().await.map_err(classify)
    }

    fn slot(&self, host: &str) -> Arc<HostSlot> {
        let mut hosts = self.hosts.lock().expect("hosts lock");
        if hosts.len() >= MAX_HOSTS && !hosts.contains_key(host) {
            // Forget idle hosts (nobody holds their slot, no Retry-After pending) so that the
            // table stays bounded over months of pages from ever new hosts.
            let now = Instant::now();
            hosts.retain(|_, slot| {
                Arc::strong_count(slot) > 1
                    || slot.blocked_until.lock().expect("host lock").is_some_and(|until| until > now)
            });
        }
        hosts
            .entry(host.to_string())
            .or_insert_with(|| {
                Arc::new(HostSlot {
                    permits: Arc::new(Semaphore::new(self.config.per_host.max(1))),
                    next_start: tokio::sync::Mutex::new(Instant::now()),
                    blocked_until: Mutex::new(None),
                })
            })
            .clone()
    }

    fn block_host(&self, url: &Url, wait: Duration) {
        let slot = self.slot(&host_key(url));
        let until = Instant::now() + wait.min(MAX_RETRY_AFTER);
        let mut blocked = slot.blocked_until.lock().expect("host lock");
        if blocked.is_none_or(|b| b < until) {
            *blocked = Some(until);
        }
    }
}

/// One polite GET for a command-line tool (`extract URL`, `check URL`): the daemon's rules
/// (private networks, caps, timeouts, redirects checked), no validators, `file://` refused.
/// Blocks on its own small runtime; do not call it from async code.
pub fn fetch_blocking(config: &FetchConfig, url: &Url, kind: Kind) -> Result<Fetched, FetchError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| FetchError::Network(format!("starting a runtime: {e}")))?;
    runtime.block_on(async {
        let fetcher = Fetcher::new(config)?;
        match fetcher.fetch(Request { url, kind, validators: None, allow_file: false }).await? {
            FetchOutcome::Fetched(fetched) => Ok(fetched),
            FetchOutcome::NotModified { .. } => Err(FetchError::Status { status: 304, retry_after: None }),
        }
    })
}

fn host_key(url: &Url) -> String {
    format!("{}:{}", url.host_str().unwrap_or(""), url.port_or_known_default().unwrap_or(0))
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// Reads the body chunk by chunk (already decompressed), stopping at `limit` bytes.
async fn read_capped(mut response: reqwest::Response, limit: u64) -> Result<Vec<u8>, FetchError> {
    let compressed = response.headers().contains_key(header::CONTENT_ENCODING);
    if let Some(length) = response.content_length() {
        if !compressed && length > limit {
            return Err(FetchError::TooLarge { limit });
        }
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(classify)? {
        if body.len() as u64 + chunk.len() as u64 > limit {
            return Err(FetchError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Reads `Cache-Control: max-age` and `Expires`.
pub fn cache_hints(headers: &HeaderMap) -> CacheHints {
    let max_age =
        headers.get_all(header::CACHE_CONTROL).iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
            v.split(',').find_map(|d| {
                let d = d.trim();
                d.strip_prefix("max-age=")
                    .or_else(|| d.strip_prefix("s-maxage="))
                    .and_then(|n| n.trim_matches('"').parse::<u64>().ok())
            })
        });
    let expires = headers.get(header::EXPIRES).and_then(|v| v.to_str().ok()).and_then(parse_http_date);
    CacheHints { max_age: max_age.map(Duration::from_secs), expires }
}

/// `Retry-After` as seconds or an HTTP date, relative to `now`.
pub fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = parse_http_date(value)?;
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

fn parse_http_date(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc2822(text.trim()).ok().map(|d| d.with_timezone(&Utc))
}

fn classify(error: reqwest::Error) -> FetchError {
    // The URL is the caller's to name (once, in its span); reqwest would repeat it.
    let error = error.without_url();
    let mut source: Option<&dyn std::error::Error> = Some(&error);
    while let Some(e) = source {
        if let Some(blocked) = e.downcast_ref::<PrivateAddress>() {
            return FetchError::Blocked(blocked.to_string());
        }
        source = e.source();
    }
    let chain = error_chain(&error);
    if error.is_timeout() {
        FetchError::Timeout(if error.is_connect() {
            "connecting: over fetch.connect_timeout"
        } else {
            "reading: silent over fetch.read_timeout, or over fetch.timeout"
        })
    } else if error.is_connect() {
        FetchError::Connect(chain)
    } else {
        FetchError::Network(chain)
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let s = e.to_string();
        if !text.contains(&s) {
            text.push_str(": ");
            text.push_str(&s);
        }
        source = e.source();
    }
    text
}

// ------------------------------------------------------------------------------ private networks

/// Refuses URLs we must never contact: non-HTTP schemes, and literal private addresses unless
/// they are allowed. Names are checked after resolution by [`GuardedResolver`].
pub fn check_remote_url(url: &Url, allow_private: bool) -> Result<(), FetchError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(FetchError::Scheme(url.scheme().to_string()));
    }
    if allow_private {
        return Ok(());
    }
    // The url crate normalises every IPv4 notation (decimal, octal, hex, short forms) into
    // Host::Ipv4, so the literal checks below see the real address.
    let ip = match url.host() {
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip),
        Some(Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if name == "localhost" || name.ends_with(".localhost") {
                return Err(FetchError::Blocked(format!("{name} is a loopback name")));
            }
            return Ok(());
        }
        None => return Err(FetchError::BadRedirect(format!("{url} has no host"))),
    };
    if is_forbidden(ip) {
        return Err(FetchError::Blocked(format!("{ip} is a private, loopback or reserved address")));
    }
    Ok(())
}

/// Whether an address is loopback, private, link-local, CGNAT, ULA, unspecified, multicast or
/// otherwise not a public unicast address (including IPv4 embedded in IPv6).
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_forbidden_v4(v4),
        IpAddr::V6(v6) => is_forbidden_v6(v6),
    }
}

fn is_forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240 // reserved
}

fn is_forbidden_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_forbidden_v4(v4);
    }
    let s = ip.segments();
    // IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::/96) and 6to4 (2002::/16) embed IPv4.
    if s[..6] == [0; 6] && !ip.is_loopback() && !ip.is_unspecified() {
        return is_forbidden_v4(Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8));
    }
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0; 4] {
        return is_forbidden_v4(Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8));
    }
    if s[0] == 0x2002 {
        return is_forbidden_v4(Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8));
    }
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // ULA fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
}

/// The resolver error when a name resolves only to refused addresses.
#[derive(Debug, Error)]
#[error("{name} resolves only to private or reserved addresses ({addrs})")]
struct PrivateAddress {
    name: String,
    addrs: String,
}

/// DNS through the system resolver, dropping refused addresses before any connection is made.
struct GuardedResolver {
    allow_private: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        let name = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            if allow_private {
                return Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs);
            }
            let (public, refused): (Vec<SocketAddr>, Vec<SocketAddr>) =
                addrs.into_iter().partition(|a| !is_forbidden(a.ip()));
            if public.is_empty() {
                let addrs = refused.iter().map(|a| a.ip().to_string()).collect::<Vec<_>>().join(", ");
                return Err(
                    Box::new(PrivateAddress { name, addrs }) as Box<dyn std::error::Error + Send + Sync>
                );
            }
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[track_caller]
    fn check(url: &str, refused: bool) {
        let url = Url::parse(url).unwrap();
        assert_eq!(check_remote_url(&url, false).is_err(), refused, "{url}");
    }

    #[test]
    fn private_addresses_are_refused_in_every_notation() {
        for url in [
            "http://127.0.0.1/",
            "http://2130706433/",
            "http://0x7f.0.0.1/",
            "http://0177.0.0.1/",
            "http://127.1/",
            "http://0.0.0.0/",
            "http://10.1.2.3/",
            "http://172.16.0.1/",
            "http://192.168.1.1/",
            "http://169.254.169.254/",
            "http://100.64.0.1/",
            "http://[::1]/",
            "http://[::]/",
            "http://[fd00::1]/",
            "http://[fe80::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "http://[64:ff9b::a00:1]/",
            "http://[2002:c0a8:101::]/",
            "http://localhost:8080/",
            "http://foo.localhost/",
            "ftp://example.org/",
            "file:///etc/passwd",
        ] {
            check(url, true);
        }
        for url in ["http://93.184.216.34/", "https://example.org/feed", "http://[2606:4700::1111]/"] {
            check(url, false);
        }
    }

    #[test]
    fn retry_after_takes_seconds_and_dates() {
        let now = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap().with_timezone(&Utc);
        let mut headers = HeaderMap::new();
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("120"));
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(120)));
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("Thu, 01 Jan 2026 00:10:00 GMT"));
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(600)));
    }

    #[test]
    fn cache_hints_read_max_age_and_expires() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=900"));
        headers.insert(header::EXPIRES, HeaderValue::from_static("Thu, 01 Jan 2026 00:10:00 GMT"));
        let hints = cache_hints(&headers);
        assert_eq!(hints.max_age, Some(Duration::from_secs(900)));
        assert!(hints.expires.is_some());
    }
}
