//! The admin API: how the commands reach a running daemon. The daemon holds the store's lock, so
//! while it runs, `claims`, `feeds …`, `check` and `run --once` ask it instead of opening the
//! store: one JSON [`Request`] line in, one JSON [`Response`] line out, over a unix socket in the
//! service's runtime directory (`admin.socket`; mode 0660: the service user and its group, no
//! TCP, no tokens).
//!
//! This module owns the protocol, the socket (bind, serve, call) and [`Live`], what the daemon
//! lends to an answer: its store, its live configuration, its claim engine and index (through
//! `Ingest`) and a line to its poller. It does not know the commands: the daemon is handed a
//! [`Handler`] from above (`cmd`), so a command prints the same bytes whether it ran in the
//! daemon or beside it.
//!
//! Trade-off: a response is the command's whole output in one JSON line, built in memory before
//! it is sent. Simple and the same as the local path (which also prints at the end), at the cost
//! of holding a large `claims` listing in memory once on each side.

use std::future::Future;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot, watch, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::ingest::Ingest;
use crate::model::Article;
use crate::store::Store;

/// The largest request line a client sends (a `check` article, an OPML file); the daemon
/// accepts up to `admin.max_request`.
pub const MAX_REQUEST: usize = 32 << 20;
/// The largest response line a client reads.
const MAX_RESPONSE: u64 = 1 << 30;
/// Requests answered at once; more wait for a slot (a client still sending its request holds
/// none, so silent clients cannot keep the others waiting).
const MAX_CONNECTIONS: usize = 8;
/// Time the client gives the daemon to read its request line.
const WRITE_DEADLINE: Duration = Duration::from_secs(30);
/// Time an answer may take, except a poll of every feed ([`POLL_DEADLINE`]).
const ANSWER_DEADLINE: Duration = Duration::from_secs(120);
/// Time `run --once` may take through the daemon: every feed fetched, within per-host limits.
const POLL_DEADLINE: Duration = Duration::from_secs(30 * 60);

/// One command for the daemon. Inputs the daemon cannot read (a file, standard input) travel in
/// the request: `check` sends the article, `feeds import` the OPML text.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case")]
pub enum Request {
    Claims {
        new: bool,
        since_secs: Option<u64>,
        json: bool,
    },
    FeedsList,
    FeedsAdd {
        url: String,
    },
    FeedsRemove {
        url: String,
    },
    FeedsImport {
        file: String,
        opml: String,
    },
    FeedsExport,
    Check {
        json: bool,
        article: Article,
    },
    /// `run --once`: poll every feed now and wait until each has been refreshed.
    Poll,
    /// `seed [DIR]`: import the seed articles of `dir` (an absolute path) as known.
    Seed {
        dir: String,
    },
}

impl Request {
    /// The command, for the log (a `check` request carries a whole article).
    fn name(&self) -> &'static str {
        match self {
            Request::Claims { .. } => "claims",
            Request::FeedsList => "feeds list",
            Request::FeedsAdd { .. } => "feeds add",
            Request::FeedsRemove { .. } => "feeds remove",
            Request::FeedsImport { .. } => "feeds import",
            Request::FeedsExport => "feeds export",
            Request::Check { .. } => "check",
            Request::Poll => "run --once",
            Request::Seed { .. } => "seed",
        }
    }

    fn deadline(&self) -> Duration {
        match self {
            Request::Poll => POLL_DEADLINE,
            _ => ANSWER_DEADLINE,
        }
    }
}

/// What a command printed and its exit code.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub stdout: String,
    pub stderr: String,
    pub code: u8,
}

impl Response {
    /// A failure with one line on stderr, the way `main` reports errors.
    pub fn error(code: u8, error: &anyhow::Error) -> Response {
        Response { stdout: String::new(), stderr: format!("claimwatch: error: {error:#}\n"), code }
    }
}

/// What the daemon's poller is asked from outside.
#[derive(Debug)]
pub enum PollerRequest {
    /// Subscriptions changed: re-read the feed list now.
    FeedsChanged,
    /// Poll every feed now; answer once each has been refreshed.
    PollAll(oneshot::Sender<PollReport>),
}

/// The result of [`PollerRequest::PollAll`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PollReport {
    pub feeds: usize,
    pub ok: usize,
    pub failed: usize,
    pub new_items: usize,
}

/// What the running daemon lends to an answer.
#[derive(Clone)]
pub struct Live {
    pub store: Store,
    pub ingest: Ingest,
    config: watch::Receiver<Arc<Config>>,
    poller: mpsc::Sender<PollerRequest>,
}

impl Live {
    pub fn new(
        store: Store,
        ingest: Ingest,
        config: watch::Receiver<Arc<Config>>,
        poller: mpsc::Sender<PollerRequest>,
    ) -> Live {
        Live { store, ingest, config, poller }
    }

    /// The configuration in force (the latest reload).
    pub fn config(&self) -> Arc<Config> {
        self.config.borrow().clone()
    }

    /// Tells the poller that subscriptions changed; blocking (call off the async workers).
    pub fn feeds_changed(&self) {
        let _ = self.poller.blocking_send(PollerRequest::FeedsChanged);
    }

    /// Asks the poller to poll every feed now and waits for the report.
    pub async fn poll_all(&self) -> Result<PollReport> {
        let (reply, report) = oneshot::channel();
        self.poller.send(PollerRequest::PollAll(reply)).await.context("the poller has stopped")?;
        report.await.context("the poller stopped before the poll finished")
    }
}

/// Answers one request against the live daemon (given by `cmd`).
pub type Handler = Arc<dyn Fn(Live, Request) -> Pin<Box<dyn Future<Output = Response> + Send>> + Send + Sync>;

/// The socket path: `admin.socket` when set, else `$RUNTIME_DIRECTORY/claimwatch.sock` under
/// systemd, else `admin.sock` in the state dir.
pub fn socket_path(config: &Config) -> PathBuf {
    config.admin.socket.clone()
}

/// Binds the socket (mode 0660). A socket file left by a daemon that died is replaced; one that
/// answers belongs to a running daemon and is refused.
pub fn bind(path: &Path) -> Result<UnixListener> {
    use std::os::unix::fs::PermissionsExt;
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            anyhow::bail!("admin.socket {} is in use by another running claimwatch", path.display());
        }
        std::fs::remove_file(path)
            .with_context(|| format!("admin.socket: removing the stale {}", path.display()))?;
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("admin.socket: creating {}", dir.display()))?;
    }
    let listener =
        UnixListener::bind(path).with_context(|| format!("admin.socket: binding {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
        .with_context(|| format!("admin.socket: setting the mode of {}", path.display()))?;
    Ok(listener)
}

/// Serves the socket until `token` is cancelled, then removes it. Every connection is accepted
/// at once; its request line must arrive within `admin.request_timeout` and fit in
/// `admin.max_request`, else it gets an error line and is closed. At most [`MAX_CONNECTIONS`]
/// requests are answered at once; each has a deadline.
pub async fn serve(
    listener: UnixListener,
    path: PathBuf,
    live: Live,
    handler: Handler,
    token: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let stream = tokio::select! {
            _ = token.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!(%error, "admin socket: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let (live, handler, slots) = (live.clone(), handler.clone(), slots.clone());
        tokio::spawn(async move {
            if let Err(error) = answer(stream, live, handler, &slots).await {
                tracing::warn!(error = format!("{error:#}"), "admin socket: request failed");
            }
        });
    }
    let _ = std::fs::remove_file(&path);
}

async fn answer(stream: UnixStream, live: Live, handler: Handler, slots: &Arc<Semaphore>) -> Result<()> {
    let (read, mut write) = stream.into_split();
    let config = live.config();
    let (deadline, max) = (config.admin.request_timeout, config.admin.max_request);
    let mut line = Vec::new();
    let mut limited = tokio::io::BufReader::new(read).take(max as u64 + 1);
    let read = tokio::time::timeout(deadline, limited.read_until(b'\n', &mut line)).await;
    let response = match read {
        Err(_) => refused(
            "timeout",
            format!("no request line within {deadline:?}: send one JSON request and a newline"),
        ),
        Ok(Err(error)) => return Err(error).context("reading a request"),
        Ok(Ok(_)) if line.len() > max => {
            refused("too_large", format!("request larger than {max} bytes (admin.max_request)"))
        }
        Ok(Ok(_)) => match serde_json::from_slice::<Request>(&line) {
            Ok(request) => {
                let Ok(_slot) = slots.acquire().await else { return Ok(()) };
                let deadline = request.deadline();
                tracing::debug!(command = request.name(), "admin request");
                match tokio::time::timeout(deadline, handler(live, request)).await {
                    Ok(response) => response,
                    Err(_) => {
                        Response::error(1, &anyhow::anyhow!("the daemon did not answer within {deadline:?}"))
                    }
                }
            }
            Err(error) => refused("bad_request", format!("bad admin request: {error}")),
        },
    };
    let mut bytes = serde_json::to_vec(&response)?;
    bytes.push(b'\n');
    // A client that does not read its answer is dropped with it.
    tokio::time::timeout(ANSWER_DEADLINE, async {
        write.write_all(&bytes).await?;
        write.shutdown().await
    })
    .await
    .context("the client did not read its answer")??;
    Ok(())
}

/// The answer to a request the socket refuses (`reason` counted in
/// `claimwatch_admin_refused_total`), exit code 2 as for a usage error.
fn refused(reason: &'static str, message: String) -> Response {
    crate::metrics::admin_refused(reason);
    tracing::warn!(reason, "admin socket: {message}");
    Response { stderr: format!("claimwatch: {message}\n"), code: 2, ..Default::default() }
}

/// Sends `request` to the daemon listening on `path`. `Ok(None)` when no daemon listens there
/// (no socket, or one left by a daemon that died): the caller then opens the store itself.
pub fn call(path: &Path, request: &Request) -> Result<Option<Response>> {
    use std::os::unix::net::UnixStream;
    let mut stream = match UnixStream::connect(path) {
        Ok(stream) => stream,
        Err(error)
            if matches!(
                error.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Ok(None)
        }
        Err(error) => {
            return Err(error)
                .with_context(|| format!("connecting to the running daemon at {}", path.display()))
        }
    };
    let mut line = serde_json::to_vec(request)?;
    line.push(b'\n');
    anyhow::ensure!(line.len() <= MAX_REQUEST, "the request is larger than {MAX_REQUEST} bytes");
    // A little more than the daemon's own deadline, so that its answer arrives first.
    stream.set_read_timeout(Some(request.deadline() + Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(WRITE_DEADLINE))?;
    let talk = |stream: &mut UnixStream| -> std::io::Result<Vec<u8>> {
        stream.write_all(&line)?;
        let mut answer = Vec::new();
        std::io::BufReader::new(std::io::Read::take(stream, MAX_RESPONSE)).read_until(b'\n', &mut answer)?;
        Ok(answer)
    };
    let answer =
        talk(&mut stream).with_context(|| format!("talking to the running daemon at {}", path.display()))?;
    let response = serde_json::from_slice(&answer)
        .with_context(|| format!("the daemon at {} gave no answer", path.display()))?;
    Ok(Some(response))
}
