//! The daemon's HTTP listener under hostile clients (issue 17): half-open connections by the
//! thousand, oversized heads, a 10 MB body, drips, traversal attempts and wrong tokens. Each is
//! answered with its status or cut off, counted in `claimwatch_http_refused_total{reason}`, and
//! `/healthz` and ingestion go on. Real daemon processes on 127.0.0.1; every wait is bounded and
//! nothing asserts a speed (a 5 s deadline on `/healthz` is a liveness check).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::support::{
    claim_daemon_config, http_get_with as get, jsonl_alerts, jsonl_lines, serve_daemon, ClaimFeed, Daemon,
};

/// Sends `bytes` to `addr` and reads the answer until the server closes or `deadline` passes:
/// (status, the whole answer). Status 0: no answer.
fn exchange(addr: &str, bytes: &[u8], deadline: Duration) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(deadline)).unwrap();
    // The server may answer and close before all is written (a refused body): not an error.
    let _ = stream.write_all(bytes);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, answer)
}

/// `/healthz` answers 200 within a generous deadline (liveness, not speed).
#[track_caller]
fn assert_alive(addr: &str, when: &str) {
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let mut stream = TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("{when}: cannot connect for /healthz: {e}"));
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(
        answer.starts_with("HTTP/1.1 200") && answer.ends_with("ok\n"),
        "{when}: /healthz gave {answer:?}"
    );
}

/// The value of the series `name` (with its labels) in `/metrics`.
fn metric(addr: &str, authorization: Option<&str>, name: &str) -> f64 {
    let (status, text) = get(addr, "/metrics", authorization);
    assert_eq!(status, 200, "{text}");
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
        .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
}

/// A daemon serving HTTP that polls a local feed of one claim into `a.jsonl` in its directory,
/// once that first alert has arrived.
fn alerting_daemon() -> (tempfile::TempDir, ClaimFeed, Daemon, String) {
    let dir = tempfile::tempdir().unwrap();
    let feed = ClaimFeed::start(1, Duration::ZERO);
    let jsonl = dir.path().join("a.jsonl");
    let config = claim_daemon_config(dir.path(), &feed, &jsonl_alerts(&jsonl));
    let (daemon, addr) = serve_daemon(config.to_str().unwrap(), &[]);
    daemon.wait_until("the first alert", Duration::from_secs(60), || jsonl_lines(&jsonl).len() == 1);
    (dir, feed, daemon, addr)
}

/// Regression: 145 connections that sent part of a head stalled the listener (it stopped
/// accepting at 16, the kernel queue filled, `/healthz` timed out). Now 1,000 are held open
/// while `/healthz` answers, the idlest are evicted, and a new claim is still alerted.
#[test]
fn listen_a_thousand_half_open_connections_neither_stall_healthz_nor_ingestion() {
    let (dir, feed, mut daemon, addr) = alerting_daemon();
    let jsonl = dir.path().join("a.jsonl");

    let partial = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: half-open");
    let mut held = Vec::new();
    for i in 0..1000 {
        let stream = TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(2))
            .unwrap_or_else(|e| panic!("connection {i} refused while {} are held: {e}", held.len()));
        let _ = (&stream).write_all(partial.as_bytes());
        held.push(stream);
        if i % 250 == 249 {
            assert_alive(&addr, &format!("with {} half-open connections", i + 1));
        }
    }
    assert_alive(&addr, "with 1,000 half-open connections");
    let (status, _) = get(&addr, "/readyz", None);
    assert_eq!(status, 200, "/readyz answers too");

    feed.grow_to(2);
    daemon.wait_until("the second alert while the connections are held", Duration::from_secs(60), || {
        jsonl_lines(&jsonl).len() == 2
    });
    let evicted = metric(&addr, None, "claimwatch_http_refused_total{reason=\"evicted\"}");
    assert!(evicted >= 700.0, "at most 256 held, the rest evicted: {evicted}");
    // Memory stays bounded while they are held: a small fraction of the 1,000-feed daemon's budget.
    let status = std::fs::read_to_string(format!("/proc/{}/status", daemon.pid())).unwrap();
    let rss_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status");
    assert!(rss_kib < 128 << 10, "RSS {rss_kib} KiB with 1,000 half-open connections");
    drop(held);
    assert_alive(&addr, "after the clients left");

    daemon.signal("TERM");
    assert_eq!(daemon.wait(Duration::from_secs(30)), Some(0), "{}", daemon.log());
}

#[test]
fn listen_hostile_requests_get_their_status_and_the_listener_goes_on() {
    const TOKEN: &str = "s3cret-listen-token";
    let bearer = format!("Bearer {TOKEN}");
    let dir = tempfile::tempdir().unwrap();
    let feed = ClaimFeed::start(1, Duration::ZERO);
    let config = claim_daemon_config(dir.path(), &feed, "");
    let (mut daemon, addr) = serve_daemon(
        config.to_str().unwrap(),
        &[
            ("CLAIMWATCH__SERVER__AUTH", TOKEN),
            ("CLAIMWATCH__SERVER__HEADER_TIMEOUT", "1s"),
            ("CLAIMWATCH__SERVER__AUTH_FAILURES", "3"),
            ("CLAIMWATCH__SERVER__AUTH_DELAY", "1s"),
        ],
    );
    let auth = Some(bearer.as_str());
    let head = |path: &str, extra: &str| {
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {bearer}\r\n{extra}Connection: close\r\n\r\n")
    };
    let ten_seconds = Duration::from_secs(10);

    // Oversized headers: 431 from the parser (server.max_header_size, 16 KiB).
    let big = format!("X-Padding: {}\r\n", "a".repeat(20 << 10));
    assert_eq!(exchange(&addr, head("/healthz", &big).as_bytes(), ten_seconds).0, 431);
    // Not HTTP (a TLS hello, garbage): 400 from the parser.
    let garbage = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http\r\n\r\n";
    assert_eq!(exchange(&addr, garbage, ten_seconds).0, 400);
    // A long path: 414 (server.max_uri, 2 KiB).
    let long = format!("/{}", "a".repeat(3000));
    assert_eq!(exchange(&addr, head(&long, "").as_bytes(), ten_seconds).0, 414);

    // Nothing outside the served set, however the path is spelt.
    for path in [
        "/..%2f..%2fetc%2fpasswd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/api%2fclaims",
        "/api/claims/../../etc/passwd",
        "/api/claims/",
        "//etc/passwd",
        "/.%2e/config",
        "/healthz/..",
        "/static/../../claimwatch.toml",
    ] {
        let (status, answer) = exchange(&addr, head(path, "").as_bytes(), ten_seconds);
        assert_eq!(status, 404, "{path}: {answer}");
    }
    // An absolute-form target is routed by its path only.
    assert_eq!(exchange(&addr, head("http://evil.example/..%2f", "").as_bytes(), ten_seconds).0, 404);

    // A 10 MB body: refused from its announced length (413), unread, and the connection closed.
    let announce = format!(
        "POST /api/claims HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {bearer}\r\nContent-Length: 10000000\r\n\r\n"
    );
    let mut body = announce.into_bytes();
    body.extend(std::iter::repeat_n(b'x', 10_000_000));
    let (status, answer) = exchange(&addr, &body, ten_seconds);
    assert_eq!(status, 413, "{}", &answer[..answer.len().min(300)]);
    // A GET with one announced as well.
    let (status, _) =
        exchange(&addr, head("/api/claims", "Content-Length: 10000000\r\n").as_bytes(), ten_seconds);
    assert_eq!(status, 413);

    // A slow body drip: answered at once (no route reads a body), then closed rather than waited for.
    let mut drip = TcpStream::connect(&addr).unwrap();
    drip.set_read_timeout(Some(ten_seconds)).unwrap();
    write!(drip, "POST /api/claims HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 1000\r\n\r\nx").unwrap();
    let mut answer = String::new();
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(100));
        let _ = drip.write_all(b"x");
    }
    drip.read_to_string(&mut answer).expect("the server closes the dripping connection");
    assert!(answer.starts_with("HTTP/1.1 405"), "{answer}");

    // A slow head (slowloris): cut off after server.header_timeout, no answer.
    let mut slow = TcpStream::connect(&addr).unwrap();
    slow.set_read_timeout(Some(ten_seconds)).unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nX-Slow: ").unwrap();
    let started = Instant::now();
    let mut cut = Vec::new();
    while started.elapsed() < ten_seconds {
        if slow.write_all(b"a").is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
        slow.set_nonblocking(true).unwrap();
        let read = slow.read_to_end(&mut cut);
        slow.set_nonblocking(false).unwrap();
        if read.is_ok() {
            break; // closed by the server
        }
    }
    assert!(started.elapsed() < ten_seconds && cut.is_empty(), "the dripping head was not cut off: {cut:?}");

    // Wrong tokens: 401 each; past server.auth_failures from this address they are answered
    // no sooner than server.auth_delay. The right one still works.
    for wrong in
        ["Bearer wrong", "Bearer s3cret-listen-toke", "Bearer s3cret-listen-tokenX", "Basic Zm9vOmJhcg=="]
    {
        assert_eq!(get(&addr, "/api/claims", Some(wrong)).0, 401, "{wrong}");
    }
    assert_eq!(get(&addr, "/api/claims", None).0, 401);
    let started = Instant::now();
    assert_eq!(get(&addr, "/api/claims", Some("Bearer still-wrong")).0, 401);
    assert!(started.elapsed() >= Duration::from_secs(1), "a repeated failure is delayed");
    assert_eq!(get(&addr, "/api/claims", auth).0, 200);

    assert_alive(&addr, "after the hostile requests");
    for reason in
        ["header_too_large", "uri_too_long", "body_too_large", "header_timeout", "method", "bad_request"]
    {
        let series = format!("claimwatch_http_refused_total{{reason=\"{reason}\"}}");
        assert!(metric(&addr, auth, &series) >= 1.0, "{series}");
    }
    assert!(metric(&addr, auth, "claimwatch_http_auth_failures_total") >= 6.0);

    daemon.signal("TERM");
    assert_eq!(daemon.wait(Duration::from_secs(30)), Some(0), "{}", daemon.log());
    assert!(!daemon.log().contains(TOKEN), "the token is in the log:\n{}", daemon.log());
}

#[test]
fn listen_limits_are_validated_by_config_check_each_naming_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    std::fs::write(
        &file,
        "[server]\nheader_timeout = \"soon\"\nidle_timeout = \"0s\"\nmax_connections = 0\n\
         max_header_size = \"1KiB\"\nmax_uri = \"0\"\nmax_body = \"lots\"\nauth_failures = 0\n\
         [admin]\nrequest_timeout = \"0s\"\nmax_request = \"huge\"\n",
    )
    .unwrap();
    let out = crate::support::claimwatch(&["--config", file.to_str().unwrap(), "config", "check"]);
    assert_eq!(out.status.code(), Some(78));
    let problems = crate::support::stderr(&out);
    for key in [
        "server.header_timeout",
        "server.idle_timeout",
        "server.max_connections",
        "server.max_header_size",
        "server.max_uri",
        "server.max_body",
        "server.auth_failures",
        "admin.request_timeout",
        "admin.max_request",
    ] {
        assert!(problems.contains(&format!("`{key}`")), "{key} not named:\n{problems}");
    }
}

/// 100 scrapers hammering `/metrics` and `/api/claims` from their own connections at once while a
/// feed is ingested: every answer is a 200 and every alert arrives exactly once.
#[test]
fn listen_concurrent_scrapers_get_answers_while_each_alert_arrives_once() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;
    let (dir, feed, mut daemon, addr) = alerting_daemon();
    let jsonl = dir.path().join("a.jsonl");

    let (stop, answered) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)));
    let scrapers: Vec<_> = (0..100)
        .map(|i| {
            let (addr, stop, answered) = (addr.clone(), stop.clone(), answered.clone());
            std::thread::spawn(move || {
                let path = if i % 2 == 0 { "/metrics" } else { "/api/claims?per_page=500" };
                let mut failures = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    let (status, body) = get(&addr, path, None);
                    if status != 200 {
                        failures.push(format!("{path}: {status} {body}"));
                    }
                    answered.fetch_add(1, Ordering::SeqCst);
                }
                failures
            })
        })
        .collect();
    feed.grow_to(4);
    daemon
        .wait_until("four alerts while scraped", Duration::from_secs(60), || jsonl_lines(&jsonl).len() >= 4);
    stop.store(true, Ordering::SeqCst);
    let failures: Vec<String> = scrapers.into_iter().flat_map(|s| s.join().unwrap()).collect();
    assert!(failures.is_empty(), "{} failed answers, e.g. {:?}", failures.len(), &failures[..1]);
    assert!(answered.load(Ordering::SeqCst) >= 100, "the scrapers were answered");
    crate::support::assert_each_alert_once(&jsonl, 4);

    daemon.signal("TERM");
    assert_eq!(daemon.wait(Duration::from_secs(30)), Some(0), "{}", daemon.log());
}
