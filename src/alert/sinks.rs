//! The three built-in sinks, and the retry rules they share with the push channels
//! (`alert::channels`). `log` emits a tracing event; `jsonl` appends lines and fsyncs before the
//! drain removes the entries (and on start repairs a torn last line and reconciles the outbox with
//! the file's tail); `webhook` POSTs JSON with an idempotency key, retries with exponential
//! backoff and jitter, honours Retry-After, does not retry other 4xx than 408/429, and gives up
//! loudly on alerts older than `give_up_after`.

use std::collections::HashSet;
use std::future::Future;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::Utc;
use sha2::{Digest, Sha256};

use super::outbox::{Outbox, Pending, SinkKind};
use crate::config::WebhookConfig;

/// What became of one batch.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// The sink holds every alert of the batch durably.
    Delivered,
    /// The sink refused the batch for good; drop it (already logged loudly).
    Rejected,
    /// The alerts are too old to be worth sending; drop them (already logged loudly).
    GaveUp,
    /// Try the same batch again after this long.
    Retry(Duration),
}

/// A destination for alerts. Two real implementations need the drain loop's genericity (JSONL
/// and webhook); the log sink is the third.
pub trait Sink: Send + 'static {
    fn kind(&self) -> SinkKind;
    /// The `sink` label of its metrics and logs.
    fn label(&self) -> String {
        self.kind().as_str().to_string()
    }
    /// The most alerts delivered in one call.
    fn max_batch(&self) -> usize;
    /// Runs before the first delivery, and again after it fails: e.g. repair and reconcile.
    fn prepare(&mut self, _outbox: &Outbox) -> impl Future<Output = Result<(), String>> + Send {
        async { Ok(()) }
    }
    /// How long to wait before sending `batch` (a digest window); zero sends now.
    fn hold(&self, _batch: &[Pending]) -> Duration {
        Duration::ZERO
    }
    fn deliver(&mut self, batch: &[Pending]) -> impl Future<Output = Outcome> + Send;
}

/// Logs a loud error at most once per interval.
pub struct Throttled {
    every: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl Throttled {
    pub fn new(every: Duration) -> Throttled {
        Throttled { every, last: None, suppressed: 0 }
    }

    /// Whether to log now; returns the number of suppressed repeats since the last log.
    pub fn ready(&mut self) -> Option<u64> {
        let now = Instant::now();
        if self.last.is_some_and(|last| now.duration_since(last) < self.every) {
            self.suppressed += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }
}

// ------------------------------------------------------------------------------------------ log

/// The `new_claim` tracing event.
pub struct LogSink;

impl Sink for LogSink {
    fn kind(&self) -> SinkKind {
        SinkKind::Log
    }

    fn max_batch(&self) -> usize {
        256
    }

    async fn deliver(&mut self, batch: &[Pending]) -> Outcome {
        for p in batch {
            let a = &p.alert;
            tracing::info!(
                alert_id = %a.id,
                claim = %a.claim.text,
                lang = %a.claim.lang,
                article_url = %a.article.url,
                feed = a.article.feed.as_deref().unwrap_or(""),
                story_id = %a.story_id,
                verdict = a.article.verdict.as_str(),
                "new_claim"
            );
        }
        Outcome::Delivered
    }
}

// ---------------------------------------------------------------------------------------- jsonl

/// How much of the file's end is read to reconcile the outbox after a crash. The drain removes
/// entries after each batch of at most `JSONL_BATCH`, so only the last batch can be in the file
/// and still in the outbox; this tail holds many batches.
const JSONL_TAIL: u64 = 4 << 20;
const JSONL_BATCH: usize = 256;
/// Retry interval while the file cannot be written.
const JSONL_RETRY: Duration = Duration::from_secs(5);

/// Appends one JSON object per line and fsyncs before reporting the batch delivered.
pub struct JsonlSink {
    path: PathBuf,
    errors: Throttled,
    retry: Duration,
}

impl JsonlSink {
    pub fn new(path: PathBuf) -> JsonlSink {
        JsonlSink { path, errors: Throttled::new(Duration::from_secs(60)), retry: JSONL_RETRY }
    }

    /// Shortens the retry interval (tests).
    pub fn with_retry(mut self, retry: Duration) -> JsonlSink {
        self.retry = retry;
        self
    }

    fn loud(&mut self, what: &str, error: &std::io::Error) {
        if let Some(suppressed) = self.errors.ready() {
            tracing::error!(
                sink = "jsonl",
                path = %self.path.display(),
                %error,
                suppressed,
                "{what}; alerts stay in the outbox and delivery resumes when the file is writable"
            );
        }
    }

    fn append(&self, batch: &[Pending]) -> std::io::Result<()> {
        if let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&self.path)?;
        let start = file.metadata()?.len();
        let mut buf = String::with_capacity(batch.iter().map(|p| p.json.len() + 1).sum());
        for p in batch {
            buf.push_str(&p.json);
            buf.push('\n');
        }
        let written = file.write_all(buf.as_bytes()).and_then(|()| file.sync_data());
        if written.is_err() {
            // A partial line (disk full) must not stay in front of the next append.
            let _ = file.set_len(start);
        }
        written
    }
}

/// Repairs a torn last line (a crash mid-append) by cutting the file after its last newline, and
/// returns the alert ids of the lines in the file's tail.
pub fn repair_and_read_tail(path: &Path) -> std::io::Result<HashSet<String>> {
    let mut file = match std::fs::OpenOptions::new().read(true).write(true).open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashSet::new()),
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    let from = len.saturating_sub(JSONL_TAIL);
    file.seek(SeekFrom::Start(from))?;
    let mut tail = Vec::with_capacity((len - from) as usize);
    file.read_to_end(&mut tail)?;
    let keep = match tail.iter().rposition(|b| *b == b'\n') {
        Some(i) => i + 1,
        None if from == 0 => 0,
        None => tail.len(),
    };
    if keep < tail.len() {
        tracing::warn!(
            sink = "jsonl",
            path = %path.display(),
            bytes = tail.len() - keep,
            "repairing a torn last line left by a crash; its alert is delivered again"
        );
        file.set_len(from + keep as u64)?;
        file.sync_all()?;
        tail.truncate(keep);
    }
    let mut ids = HashSet::new();
    for line in tail.split(|b| *b == b'\n') {
        #[derive(serde::Deserialize)]
        struct Id {
            id: String,
        }
        if let Ok(Id { id }) = serde_json::from_slice::<Id>(line) {
            ids.insert(id);
        }
    }
    Ok(ids)
}

impl Sink for JsonlSink {
    fn kind(&self) -> SinkKind {
        SinkKind::Jsonl
    }

    fn max_batch(&self) -> usize {
        JSONL_BATCH
    }

    async fn prepare(&mut self, outbox: &Outbox) -> Result<(), String> {
        let ids = match repair_and_read_tail(&self.path) {
            Ok(ids) => ids,
            Err(error) => {
                self.loud("cannot read or repair the alerts file", &error);
                return Err(error.to_string());
            }
        };
        // Entries the file already holds were delivered before a crash took away their removal.
        let pending = outbox.pending(SinkKind::Jsonl, usize::MAX).map_err(|e| e.to_string())?;
        let done: Vec<Pending> = pending.into_iter().filter(|p| ids.contains(&p.alert.id)).collect();
        if !done.is_empty() {
            tracing::info!(sink = "jsonl", alerts = done.len(), "alerts already in the file before a crash");
            outbox.remove(&done).await.map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    async fn deliver(&mut self, batch: &[Pending]) -> Outcome {
        match self.append(batch) {
            Ok(()) => Outcome::Delivered,
            Err(error) => {
                self.loud("cannot append to the alerts file", &error);
                Outcome::Retry(self.retry)
            }
        }
    }
}

// ------------------------------------------------------- retries, shared by webhook and channels

/// Retry state of a sink whose deliveries fail for a while (the webhook, the push channels):
/// exponential waits from `min` capped at `max`, with "equal jitter" (half fixed, half random);
/// a server's Retry-After wins, capped at `max` (at least 1 s).
pub struct Backoff {
    min: Duration,
    max: Duration,
    /// Failed attempts of the batch at the head of the outbox.
    attempts: u32,
    errors: Throttled,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Backoff {
        Backoff { min, max, attempts: 0, errors: Throttled::new(Duration::from_secs(60)) }
    }

    fn wait(&self, retry_after: Option<Duration>) -> Duration {
        if let Some(d) = retry_after {
            return d.min(self.max.max(Duration::from_secs(1)));
        }
        let exp = self.min.saturating_mul(1u32 << self.attempts.min(20));
        let capped = exp.min(self.max);
        capped / 2 + capped.mul_f64(fastrand::f64() / 2.0)
    }

    /// What becomes of a batch given the service's `answer`, logged as `sink` to `target`
    /// (a name without secrets); `id` is the batch's idempotency key.
    pub fn settle(&mut self, sink: &str, target: &str, id: &str, answer: Answer) -> Outcome {
        match answer {
            Answer::Delivered => {
                self.attempts = 0;
                Outcome::Delivered
            }
            Answer::Retry(retry_after, why) => {
                self.attempts += 1;
                let wait = self.wait(retry_after);
                if let Some(suppressed) = self.errors.ready() {
                    tracing::warn!(sink, target, error = %why, attempts = self.attempts, retry_in = ?wait, suppressed, "alert delivery failed, will retry");
                }
                Outcome::Retry(wait)
            }
            Answer::Unauthorized(why) => {
                // Credentials are fixed by the operator, not by time: keep the alerts, say so
                // every time, and ask again at the longest interval until they work or the alerts
                // are too old.
                self.attempts += 1;
                tracing::error!(sink, target, error = %why, attempts = self.attempts, retry_in = ?self.max, "the service refused our credentials; alerts are kept until they work: check the channel's token or password");
                Outcome::Retry(self.max)
            }
            Answer::Refused(why) => {
                tracing::error!(sink, target, alert_id = %id, error = %why, "the service refused the alert; not retrying a client error");
                self.attempts = 0;
                Outcome::Rejected
            }
        }
    }

    /// Gives up (loudly) on a batch whose oldest alert is older than `give_up_after`.
    pub fn give_up(&mut self, sink: &str, target: &str, batch: &[Pending], give_up_after: Duration) -> bool {
        let oldest = batch.iter().map(|p| p.alert.detected_at).min().expect("non-empty batch");
        let age = (Utc::now() - oldest).to_std().unwrap_or(Duration::ZERO);
        if age <= give_up_after {
            return false;
        }
        let ids: Vec<&str> = batch.iter().map(|p| p.alert.id.as_str()).collect();
        tracing::error!(
            sink,
            target,
            alert_ids = %ids.join(","),
            age = %humantime::format_duration(Duration::from_secs(age.as_secs())),
            give_up_after = %humantime::format_duration(give_up_after),
            attempts = self.attempts,
            "GIVING UP on alert delivery: these alerts were never delivered to {sink}"
        );
        self.attempts = 0;
        true
    }
}

/// A service's answer to one delivery.
#[derive(Debug)]
pub enum Answer {
    Delivered,
    /// A failure worth retrying (network, timeout, 5xx, 408, 429), with the server's wait.
    Retry(Option<Duration>, String),
    /// Our credentials were refused (HTTP 401 or 403, SMTP 530/534/535).
    Unauthorized(String),
    /// A refusal that a retry would not change (another 4xx, a permanent SMTP error).
    Refused(String),
}

/// Classifies an HTTP response: 2xx delivered; 5xx, 408 and 429 retried after the Retry-After
/// header, or the wait a JSON error body names (Telegram's `parameters.retry_after` seconds,
/// Matrix's `retry_after_ms`); 401 and 403 unauthorized; other statuses refused. The error's first body line is kept.
pub async fn http_answer(sent: reqwest::Result<reqwest::Response>, timeout: Duration) -> Answer {
    let response = match sent {
        Ok(response) => response,
        Err(error) => {
            let why = if error.is_timeout() { "timed out".to_string() } else { format!("{error:#}") };
            return Answer::Retry(None, why);
        }
    };
    let status = response.status();
    if status.is_success() {
        return Answer::Delivered;
    }
    let header = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    let text = match tokio::time::timeout(timeout, response.text()).await {
        Ok(Ok(text)) => text,
        _ => String::new(),
    };
    let first_line: String = text.lines().next().unwrap_or("").chars().take(300).collect();
    let why = format!("HTTP {}: {first_line}", status.as_u16());
    let code = status.as_u16();
    if status.is_server_error() || code == 408 || code == 429 {
        let from_body = || {
            let body: serde_json::Value = serde_json::from_str(&text).ok()?;
            if let Some(secs) = body["parameters"]["retry_after"].as_u64() {
                return Some(Duration::from_secs(secs));
            }
            body["retry_after_ms"].as_u64().map(Duration::from_millis)
        };
        return Answer::Retry(header.or_else(from_body), why);
    }
    if code == 401 || code == 403 {
        return Answer::Unauthorized(why);
    }
    Answer::Refused(why)
}

/// A digest's idempotency key: the same alerts give the same key.
pub fn digest_id<'a>(ids: impl IntoIterator<Item = &'a str>) -> String {
    let mut hasher = Sha256::new();
    for id in ids {
        hasher.update(id.as_bytes());
        hasher.update(b"\n");
    }
    format!("digest-{}", hex(&hasher.finalize()[..12]))
}

/// The most alerts in one message: one, or with a digest window up to 500.
pub fn batch_for(window: Duration) -> usize {
    if window.is_zero() {
        1
    } else {
        500
    }
}

/// How long a digest waits: until `window` after its oldest alert.
pub fn digest_hold(batch: &[Pending], window: Duration) -> Duration {
    if window.is_zero() || batch.is_empty() {
        return Duration::ZERO;
    }
    let oldest = batch.iter().map(|p| p.alert.detected_at).min().expect("non-empty");
    let due = oldest + chrono::Duration::from_std(window).unwrap_or_default();
    (due - Utc::now()).to_std().unwrap_or(Duration::ZERO)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses Retry-After: delta seconds or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    Some((date.with_timezone(&Utc) - Utc::now()).to_std().unwrap_or(Duration::ZERO))
}

// -------------------------------------------------------------------------------------- webhook

/// POSTs each alert (or, with a digest window, a digest of several) as JSON.
pub struct WebhookSink {
    config: WebhookConfig,
    client: reqwest::Client,
    backoff: Backoff,
}

impl WebhookSink {
    pub fn new(config: WebhookConfig, user_agent: &str) -> anyhow::Result<WebhookSink> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .user_agent(user_agent)
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()?;
        let backoff = Backoff::new(config.min_backoff, config.max_backoff);
        Ok(WebhookSink { config, client, backoff })
    }

    fn digest(&self) -> bool {
        !self.config.digest_window.is_zero()
    }

    fn body(&self, batch: &[Pending]) -> (String, String) {
        if !self.digest() {
            return (batch[0].alert.id.clone(), batch[0].json.clone());
        }
        let id = digest_id(batch.iter().map(|p| p.alert.id.as_str()));
        let alerts: Vec<serde_json::Value> =
            batch.iter().map(|p| serde_json::from_str(&p.json).expect("outbox JSON parses")).collect();
        let body = serde_json::json!({
            "kind": "digest",
            "id": id,
            "detected_at": Utc::now().to_rfc3339(),
            "count": alerts.len(),
            "alerts": alerts,
        });
        (id, body.to_string())
    }
}

/// The webhook URL without its path and query, which often carry a secret.
fn redact(url: &url::Url) -> String {
    format!("{}://{}/…", url.scheme(), url.host_str().unwrap_or(""))
}

impl Sink for WebhookSink {
    fn kind(&self) -> SinkKind {
        SinkKind::Webhook
    }

    fn max_batch(&self) -> usize {
        batch_for(self.config.digest_window)
    }

    fn hold(&self, batch: &[Pending]) -> Duration {
        digest_hold(batch, self.config.digest_window)
    }

    async fn deliver(&mut self, batch: &[Pending]) -> Outcome {
        let target = redact(&self.config.url);
        if self.backoff.give_up("webhook", &target, batch, self.config.give_up_after) {
            return Outcome::GaveUp;
        }
        let (id, body) = self.body(batch);
        let sent = self
            .client
            .post(self.config.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", &id)
            .body(body)
            .send()
            .await;
        let answer = http_answer(sent, self.config.timeout).await;
        self.backoff.settle("webhook", &target, &id, answer)
    }
}
