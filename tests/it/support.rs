//! Shared test fixtures: a scriptable HTTP/1.1 server on 127.0.0.1:0 that records every request
//! and can misbehave on purpose (drip, silence, huge or broken bodies), and a runner for the
//! `claimwatch` binary.

#![allow(dead_code)] // each test module uses its own part of the fixtures

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub received_at: Instant,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// What the server does with one request.
pub enum Reply {
    /// A normal response.
    Full { status: u16, headers: Vec<(String, String)>, body: Vec<u8> },
    /// Headers at once, then the body one byte per `every`, for at most `limit`.
    Drip { body: Vec<u8>, every: Duration, limit: Duration },
    /// Accept the request and say nothing for `hold`, then close.
    Silent { hold: Duration },
    /// Write these bytes as the whole response, then close.
    Raw(Vec<u8>),
    /// `head` (status line and headers, without the blank line), then `chunk` repeated until
    /// `total` body bytes are written or the client hangs up; `written` counts the body bytes
    /// that went out, so a test can prove the client stopped reading early.
    Stream { head: String, chunk: Vec<u8>, total: u64, written: Arc<std::sync::atomic::AtomicU64> },
}

impl Reply {
    pub fn ok(content_type: &str, body: impl Into<Vec<u8>>) -> Reply {
        Reply::Full {
            status: 200,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into(),
        }
    }

    pub fn status(status: u16) -> Reply {
        Reply::Full { status, headers: Vec::new(), body: Vec::new() }
    }

    /// Adds a header to a `Full` reply.
    pub fn with_header(mut self, name: &str, value: &str) -> Reply {
        if let Reply::Full { headers, .. } = &mut self {
            headers.push((name.into(), value.into()));
        }
        self
    }
}

type Handler = dyn Fn(&Request) -> Reply + Send + Sync;

/// A scriptable HTTP server on 127.0.0.1; stops when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<Request>>>,
    active: Arc<AtomicUsize>,
    max_active: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl TestServer {
    pub fn start(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().unwrap();
        let server = TestServer {
            addr,
            requests: Arc::default(),
            active: Arc::default(),
            max_active: Arc::default(),
            stop: Arc::default(),
        };
        let handler: Arc<Handler> = Arc::new(handler);
        let (requests, active, max_active, stop) =
            (server.requests.clone(), server.active.clone(), server.max_active.clone(), server.stop.clone());
        thread::spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (handler, requests, active, max_active) =
                    (handler.clone(), requests.clone(), active.clone(), max_active.clone());
                thread::spawn(move || serve(stream, &*handler, &requests, &active, &max_active));
            }
        });
        server
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    pub fn requests_to(&self, path: &str) -> Vec<Request> {
        self.requests().into_iter().filter(|r| r.path == path).collect()
    }

    /// The most requests the server was handling at one moment.
    pub fn max_concurrent(&self) -> usize {
        self.max_active.load(Ordering::SeqCst)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr); // wakes the accept loop
    }
}

fn serve(
    mut stream: TcpStream,
    handler: &Handler,
    requests: &Mutex<Vec<Request>>,
    active: &AtomicUsize,
    max_active: &AtomicUsize,
) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        let length: usize = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        let _ = reader.read_exact(&mut body);
        let request = Request { method, path, headers, body, received_at: Instant::now() };
        requests.lock().unwrap().push(request.clone());
        let now = active.fetch_add(1, Ordering::SeqCst) + 1;
        max_active.fetch_max(now, Ordering::SeqCst);
        let keep_alive = respond(&mut stream, handler(&request));
        active.fetch_sub(1, Ordering::SeqCst);
        if !keep_alive {
            let _ = stream.shutdown(Shutdown::Both);
            return;
        }
    }
}

/// Writes one reply; true when the connection may serve another request.
fn respond(stream: &mut TcpStream, reply: Reply) -> bool {
    match reply {
        Reply::Full { status, headers, body } => {
            let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
            let mut has_length = false;
            for (k, v) in &headers {
                has_length |=
                    k.eq_ignore_ascii_case("content-length") || k.eq_ignore_ascii_case("transfer-encoding");
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            if !has_length {
                head.push_str(&format!("Content-Length: {}\r\n", body.len()));
            }
            head.push_str("\r\n");
            stream.write_all(head.as_bytes()).is_ok() && stream.write_all(&body).is_ok()
        }
        Reply::Drip { body, every, limit } => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            let started = Instant::now();
            if stream.write_all(head.as_bytes()).is_err() {
                return false;
            }
            for byte in body {
                if started.elapsed() > limit || stream.write_all(&[byte]).is_err() {
                    return false;
                }
                thread::sleep(every);
            }
            false
        }
        Reply::Silent { hold } => {
            thread::sleep(hold);
            false
        }
        Reply::Raw(bytes) => {
            let _ = stream.write_all(&bytes);
            false
        }
        Reply::Stream { head, chunk, total, written } => {
            if stream.write_all(format!("{}\r\n\r\n", head.trim_end()).as_bytes()).is_err() {
                return false;
            }
            let mut sent = 0u64;
            while sent < total {
                let n = chunk.len().min((total - sent) as usize);
                if stream.write_all(&chunk[..n]).is_err() {
                    break;
                }
                sent += n as u64;
                written.fetch_add(n as u64, Ordering::SeqCst);
            }
            false
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        404 => "Not Found",
        408 => "Request Timeout",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// Runs the claimwatch binary with `args` and no configuration beyond them.
pub fn claimwatch(args: &[&str]) -> Output {
    claimwatch_in(None, args)
}

/// Runs the claimwatch binary in `dir` (the working directory) with `args`.
pub fn claimwatch_in(dir: Option<&Path>, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_claimwatch"));
    command.args(args).env_remove("RUST_LOG");
    for (key, _) in std::env::vars() {
        if key.starts_with("CLAIMWATCH__") {
            command.env_remove(key);
        }
    }
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    command.output().expect("run the claimwatch binary")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The repository root (for seeds and fixtures).
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A `claimwatch run` process whose log (stderr) is collected line by line, so a test can wait
/// for a line, signal the process and read the whole log at the end. Killed when dropped.
pub struct Daemon {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    log: Arc<Mutex<String>>,
}

impl Daemon {
    /// Starts `claimwatch <args>` with `env` added and RUST_LOG=info.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Daemon {
        use std::process::Stdio;
        let mut command = Command::new(env!("CARGO_BIN_EXE_claimwatch"));
        command.args(args).env("RUST_LOG", "info").stderr(Stdio::piped()).stdout(Stdio::null());
        for (key, _) in std::env::vars() {
            if key.starts_with("CLAIMWATCH__") || key == "NOTIFY_SOCKET" || key.starts_with("WATCHDOG_") {
                command.env_remove(key);
            }
        }
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("start the claimwatch binary");
        let (tx, lines) = std::sync::mpsc::channel();
        let log = Arc::new(Mutex::new(String::new()));
        let (pipe, sink) = (child.stderr.take().unwrap(), log.clone());
        thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                sink.lock().unwrap().push_str(&format!("{line}\n"));
                let _ = tx.send(line);
            }
        });
        Daemon { child, lines, log }
    }

    /// Waits up to `timeout` for a log line containing `needle`; panics with the log otherwise.
    #[track_caller]
    pub fn wait_for(&self, needle: &str, timeout: Duration) -> String {
        let until = Instant::now() + timeout;
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        panic!("no log line with {needle:?} within {timeout:?}; log so far:\n{}", self.log());
    }

    /// Polls `done` every 50 ms for up to `timeout`; panics naming `what`, with the log, otherwise.
    #[track_caller]
    pub fn wait_until(&self, what: &str, timeout: Duration, done: impl Fn() -> bool) {
        let until = Instant::now() + timeout;
        while !done() {
            assert!(Instant::now() < until, "{what}: not within {timeout:?}; log:\n{}", self.log());
            thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` ("TERM", "HUP", "KILL", …) with kill(1).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill").args([&format!("-{signal}"), &self.pid().to_string()]).status();
        assert!(status.expect("run kill").success(), "kill -{signal} failed");
    }

    /// Waits up to `timeout` for the process to exit; its exit code (None: killed by a signal).
    #[track_caller]
    pub fn wait(&mut self, timeout: Duration) -> Option<i32> {
        let until = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                // Let the reader thread drain the pipe.
                thread::sleep(Duration::from_millis(50));
                return status.code();
            }
            if Instant::now() > until {
                let _ = self.child.kill();
                panic!("the daemon did not exit within {timeout:?}; log:\n{}", self.log());
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal HTTP/1.1 GET to `addr`: (status code, body).
pub fn http_get(addr: &str, path: &str) -> (u16, String) {
    http_get_with(addr, path, None)
}

/// GET `path` from `addr` with an optional Authorization header: (status, body).
pub fn http_get_with(addr: &str, path: &str, authorization: Option<&str>) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let auth = authorization.map(|a| format!("Authorization: {a}\r\n")).unwrap_or_default();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n").unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("read the response");
    let response = String::from_utf8(response).expect("UTF-8");
    let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

/// The daemon on `config`, its HTTP listener on a free 127.0.0.1 port, with `env` added; and the
/// listener's address, once it serves.
pub fn serve_daemon(config: &str, env: &[(&str, &str)]) -> (Daemon, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let mut env = env.to_vec();
    env.push(("CLAIMWATCH__SERVER__LISTEN", &addr));
    let daemon = Daemon::start(&["--config", config, "run"], &env);
    daemon.wait_for("serving /healthz", Duration::from_secs(60));
    (daemon, addr)
}

// ------------------------------------------------------------------ a feed whose articles alert

/// The article of item `i`: one sentence bearing one claim of its own (a number no seed has).
pub fn claim_of(i: usize) -> String {
    format!(
        "European defence ministers agreed that {} additional instructors will train Ukrainian brigades under the security guarantees plan.",
        5000 + 37 * i
    )
}

/// The item whose claim an alert's `claim.text` is.
#[track_caller]
pub fn item_of_claim(text: &str) -> usize {
    let number: usize = text
        .split_whitespace()
        .find_map(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no number in the claim {text:?}"));
    let i = (number - 5000) / 37;
    assert!(claim_of(i).starts_with(text.trim_end_matches('.')), "not a claim of the test feed: {text:?}");
    i
}

/// A feed on 127.0.0.1 of items `0..items`, each linking to a page of one new claim
/// ([`claim_of`]) served after `delay`; the feed may grow while a daemon polls it.
pub struct ClaimFeed {
    pub server: TestServer,
    items: Arc<AtomicUsize>,
}

impl ClaimFeed {
    pub fn start(items: usize, delay: Duration) -> ClaimFeed {
        let count = Arc::new(AtomicUsize::new(items));
        let items = count.clone();
        let server = TestServer::start(move |request: &Request| {
            if request.path == "/feed.xml" {
                let mut xml =
                    String::from("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Local</title>");
                for i in 0..count.load(Ordering::SeqCst) {
                    // Links are resolved against the feed URL by the parser.
                    xml.push_str(&format!(
                        "<item><title>Item {i}</title><link>/a/{i}</link><guid>item-{i}</guid></item>"
                    ));
                }
                xml.push_str("</channel></rss>");
                return Reply::ok("application/rss+xml", xml);
            }
            if let Some(i) = request.path.strip_prefix("/a/").and_then(|i| i.parse::<usize>().ok()) {
                thread::sleep(delay);
                let html = format!(
                    "<html lang=\"en\"><head><title>Item {i}</title></head><body><article><h1>Item {i}</h1>\
                     <p>{}</p></article></body></html>",
                    claim_of(i)
                );
                return Reply::ok("text/html; charset=utf-8", html);
            }
            Reply::status(404)
        });
        ClaimFeed { server, items }
    }

    /// The feed lists `items` items from now on.
    pub fn grow_to(&self, items: usize) {
        self.items.store(items, Ordering::SeqCst);
    }

    pub fn url(&self) -> String {
        self.server.url("/feed.xml")
    }
}

/// The `[alerts.jsonl]` table for `path`.
pub fn jsonl_alerts(path: &Path) -> String {
    format!("[alerts.jsonl]\npath = \"{}\"\n", path.display())
}

/// Writes (or rewrites) `dir/claimwatch.toml`: a daemon polling `feed` every second or two, its
/// store in `dir/state` seeded from the repository's seeds, alerts configured by the TOML tables
/// in `alerts`.
pub fn claim_daemon_config(dir: &Path, feed: &ClaimFeed, alerts: &str) -> std::path::PathBuf {
    let config = dir.join("claimwatch.toml");
    let text = format!(
        "state_dir = \"{state}\"\n\
         seeds_dir = \"{seeds}\"\n\
         [log]\nlevel = \"info\"\n\
         [fetch]\nallow_private_networks = true\nper_host_delay = \"0s\"\nper_host = 4\ntimeout = \"5s\"\n\
         [schedule]\nmin_interval = \"1s\"\nmax_interval = \"2s\"\nmax_backoff = \"2s\"\n\
         [server]\nlisten = \"\"\n\
         [shutdown]\ndeadline = \"5s\"\n\
         [[feeds]]\nurl = \"{feed}\"\n\
         {alerts}",
        state = dir.join("state").display(),
        seeds = repo().join("seeds").display(),
        feed = feed.url(),
    );
    std::fs::write(&config, text).unwrap();
    config
}

/// The alerts in a JSONL file, one JSON value per line.
pub fn jsonl_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("line {l:?} is not JSON: {e}")))
        .collect()
}

/// The items whose claims are in a JSONL file, in file order.
pub fn items_alerted(path: &Path) -> Vec<usize> {
    jsonl_lines(path)
        .iter()
        .map(|line| {
            assert_eq!(line["kind"], "new_claim", "{line}");
            item_of_claim(line["claim"]["text"].as_str().expect("a claim text"))
        })
        .collect()
}

/// The claim of each of items `0..n` is in the file exactly once, and nothing else is.
#[track_caller]
pub fn assert_each_alert_once(path: &Path, n: usize) {
    let mut items = items_alerted(path);
    items.sort_unstable();
    assert_eq!(items, (0..n).collect::<Vec<_>>(), "each item's alert exactly once in {}", path.display());
}

/// A Python that imports `module`: `CLAIMWATCH_TEST_PYTHON`, else the venv `.ci/run` prepares in
/// `target/ci-venv` (aiosmtpd, feedparser). None (the caller skips, loudly) outside CI; under
/// CI=true a missing one fails the test.
pub fn python_with(module: &str) -> Option<std::path::PathBuf> {
    let candidate = std::env::var_os("CLAIMWATCH_TEST_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| repo().join("target/ci-venv/bin/python3"));
    let works = Command::new(&candidate)
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if works {
        return Some(candidate);
    }
    let why = format!(
        "no Python with {module} at {} (set CLAIMWATCH_TEST_PYTHON, or run `python3 -m venv target/ci-venv && \
         target/ci-venv/bin/pip install aiosmtpd feedparser` as .ci/run does)",
        candidate.display()
    );
    assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true: this test cannot run: {why}");
    eprintln!("!!! SKIPPED a check that needs {module}: {why}");
    None
}
