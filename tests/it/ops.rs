//! Operations: the systemd protocol (READY, WATCHDOG, STATUS, STOPPING on a real notify socket),
//! the HTTP endpoint (/healthz, /readyz, /metrics), SIGHUP reloads (good and bad, of the feed list
//! and of the alert sinks) and a SIGTERM that exits 0, on running `claimwatch run` processes.

use std::fs;
use std::os::unix::net::UnixDatagram;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::{
    claim_daemon_config, http_get, item_of_claim, items_alerted, jsonl_alerts, ClaimFeed, Daemon, Reply,
    TestServer,
};

/// Every datagram received on `socket` within `timeout` or until one contains `needle`.
fn notifications_until(socket: &UnixDatagram, needle: &str, timeout: Duration) -> Vec<String> {
    let until = Instant::now() + timeout;
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < until {
        socket.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        if let Ok(n) = socket.recv(&mut buf) {
            let message = String::from_utf8_lossy(&buf[..n]).into_owned();
            let done = message.contains(needle);
            seen.push(message);
            if done {
                return seen;
            }
        }
    }
    panic!("no notification with {needle:?} within {timeout:?}; got {seen:?}");
}

#[test]
fn systemd_protocol_endpoint_reload_and_clean_stop() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    fs::write(&config, "feeds = []\n[server]\nlisten = \"127.0.0.1:0\"\n").unwrap();
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    let state = dir.path().join("state");
    let (config_arg, state_arg) = (config.to_str().unwrap(), state.to_str().unwrap());
    let mut daemon = Daemon::start(
        &["--config", config_arg, "--state-dir", state_arg, "run"],
        &[("NOTIFY_SOCKET", socket_path.to_str().unwrap()), ("WATCHDOG_USEC", "300000")],
    );

    let ready = notifications_until(&socket, "READY=1", Duration::from_secs(30));
    assert!(ready.last().unwrap().contains("STATUS="), "{ready:?}");
    let pings = notifications_until(&socket, "WATCHDOG=1", Duration::from_secs(10));
    assert!(pings.last().unwrap().contains("STATUS="), "{pings:?}");

    let listening = daemon.wait_for("serving /healthz", Duration::from_secs(10));
    let addr = listening.split("listen=").nth(1).unwrap().split_whitespace().next().unwrap().to_string();
    assert_eq!(http_get(&addr, "/healthz"), (200, "ok\n".to_string()));
    let (status, body) = http_get(&addr, "/readyz");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("store: ok") && body.contains("scheduler: ok"), "{body}");
    let (status, metrics) = http_get(&addr, "/metrics");
    assert_eq!(status, 200);
    for name in [
        "claimwatch_store_size_bytes",
        "claimwatch_build_info",
        "claimwatch_feeds_configured 0",
        "claimwatch_alerts_pending{sink=\"jsonl\"} 0",
    ] {
        assert!(metrics.contains(name), "{name} missing:\n{metrics}");
    }
    // The seeds' claims are in the claim index, and its memory is reported.
    let gauge = |name: &str| -> f64 {
        let line = metrics.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("{name} missing"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    let claims = gauge("claimwatch_claim_index_claims ");
    assert!(claims >= 20.0, "{claims} seed claims in the index:\n{metrics}");
    assert!(gauge("claimwatch_claim_index_memory_bytes ") > claims * 8.0, "{metrics}");
    assert_eq!(http_get(&addr, "/nope").0, 404);

    // A good reload applies the new feed list; a bad one is refused and the daemon keeps going.
    fs::write(
        &config,
        "[server]\nlisten = \"127.0.0.1:0\"\n[[feeds]]\nurl = \"https://example.org/a.xml\"\n",
    )
    .unwrap();
    daemon.signal("HUP");
    let reloaded = daemon.wait_for("configuration reloaded", Duration::from_secs(10));
    assert!(reloaded.contains("feeds=1"), "{reloaded}");
    fs::write(&config, "[fetch]\ntimout = \"1s\"\n").unwrap();
    daemon.signal("HUP");
    let rejected = daemon.wait_for("reload rejected", Duration::from_secs(10));
    assert!(rejected.contains("fetch.timout"), "{rejected}");
    assert_eq!(http_get(&addr, "/healthz").0, 200, "still serving after a bad reload");
    assert!(http_get(&addr, "/metrics")
        .1
        .contains("claimwatch_config_reloads_total{outcome=\"rejected\"} 1"));

    daemon.signal("TERM");
    notifications_until(&socket, "STOPPING=1", Duration::from_secs(10));
    assert_eq!(daemon.wait(Duration::from_secs(30)), Some(0), "{}", daemon.log());
    assert!(daemon.log().contains("stopped cleanly"), "{}", daemon.log());
}

/// A SIGHUP that changes the JSONL path, adds, removes and re-adds a webhook: every alert goes to
/// the sinks configured when its article was committed, exactly once each; an alert waiting for
/// a webhook that is removed is kept (one loud line) and delivered when the webhook comes back.
#[test]
fn a_reload_sends_new_alerts_to_the_new_sinks_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let feed = ClaimFeed::start(2, Duration::ZERO);
    // The webhook answers 200 while `up`, else 503; it records the item of each POST and whether
    // it was accepted.
    let up = Arc::new(AtomicBool::new(true));
    let posts = Arc::new(Mutex::new(Vec::<(usize, bool)>::new()));
    let hook = TestServer::start({
        let (up, posts) = (up.clone(), posts.clone());
        move |request| {
            let alert: serde_json::Value = serde_json::from_slice(&request.body).expect("a JSON alert");
            let item = item_of_claim(alert["claim"]["text"].as_str().expect("a claim text"));
            let accepted = up.load(Ordering::SeqCst);
            posts.lock().unwrap().push((item, accepted));
            Reply::status(if accepted { 200 } else { 503 })
        }
    });
    let delivered = || -> Vec<usize> {
        let mut items: Vec<usize> = posts.lock().unwrap().iter().filter(|p| p.1).map(|p| p.0).collect();
        items.sort_unstable();
        items
    };
    let (first, second) = (dir.path().join("first.jsonl"), dir.path().join("second.jsonl"));
    let webhook = format!(
        "[alerts.webhook]\nurl = \"{}\"\nmin_backoff = \"50ms\"\nmax_backoff = \"200ms\"\n",
        hook.url("/hook")
    );
    let config = claim_daemon_config(dir.path(), &feed, &jsonl_alerts(&first));
    let mut daemon = Daemon::start(&["--config", config.to_str().unwrap(), "run"], &[]);
    let reload = |alerts: &str| {
        claim_daemon_config(dir.path(), &feed, alerts);
        daemon.signal("HUP");
        daemon.wait_for("alert sinks reloaded", Duration::from_secs(30))
    };
    daemon.wait_until("items 0 and 1 in the first file", Duration::from_secs(60), || {
        items_alerted(&first).len() >= 2
    });

    // Another JSONL path and a webhook: items 2 and 3 go to both, none to the first file.
    reload(&format!("{}{webhook}", jsonl_alerts(&second)));
    feed.grow_to(4);
    daemon.wait_until("items 2 and 3 in the second file and the webhook", Duration::from_secs(60), || {
        items_alerted(&second).len() >= 2 && delivered().len() >= 2
    });

    // The webhook fails on item 4 and is removed meanwhile: its alert is kept, loudly.
    up.store(false, Ordering::SeqCst);
    feed.grow_to(5);
    daemon.wait_until(
        "item 4 in the second file and refused by the webhook",
        Duration::from_secs(60),
        || items_alerted(&second).len() >= 3 && posts.lock().unwrap().contains(&(4, false)),
    );
    reload(&jsonl_alerts(&second));
    let kept = daemon.wait_for("no longer configured", Duration::from_secs(10));
    assert!(kept.contains("webhook") && kept.contains("alerts=1"), "{kept}");

    // The webhook comes back: the alert that waited for it is delivered.
    up.store(true, Ordering::SeqCst);
    reload(&format!("{}{webhook}", jsonl_alerts(&second)));
    daemon.wait_until("item 4 delivered to the webhook", Duration::from_secs(60), || delivered().len() >= 3);

    daemon.signal("TERM");
    assert_eq!(daemon.wait(Duration::from_secs(30)), Some(0), "{}", daemon.log());
    let sorted = |path: &std::path::Path| {
        let mut items = items_alerted(path);
        items.sort_unstable();
        items
    };
    assert_eq!(sorted(&first), [0, 1], "the first file has only what came before the reload");
    assert_eq!(sorted(&second), [2, 3, 4], "the second file has everything after it, once");
    assert_eq!(delivered(), [2, 3, 4], "the webhook accepted each alert after it was added, once");
}

#[test]
fn a_port_in_use_fails_start_up_naming_the_key() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    fs::write(&config, format!("feeds = []\n[server]\nlisten = \"{}\"\n", busy.local_addr().unwrap()))
        .unwrap();
    let state = dir.path().join("state");
    let mut daemon = Daemon::start(
        &["--config", config.to_str().unwrap(), "--state-dir", state.to_str().unwrap(), "run"],
        &[],
    );
    assert_eq!(daemon.wait(Duration::from_secs(30)), Some(1));
    assert!(daemon.log().contains("server.listen"), "{}", daemon.log());
}

#[test]
fn a_corrupt_store_on_disk_is_moved_aside_and_the_daemon_starts() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    fs::create_dir_all(state.join("store")).unwrap();
    fs::write(state.join("store").join("conf"), b"\x00\x01 this is not a sled config").unwrap();
    fs::write(state.join("store").join("db"), vec![0xA5u8; 64 * 1024]).unwrap();
    let config = dir.path().join("c.toml");
    fs::write(&config, "feeds = []\n[server]\nlisten = \"\"\n").unwrap();
    let mut daemon = Daemon::start(
        &["--config", config.to_str().unwrap(), "--state-dir", state.to_str().unwrap(), "run"],
        &[],
    );
    let line = daemon.wait_for("STORE CORRUPT", Duration::from_secs(30));
    assert!(line.contains("store.corrupt-"), "{line}");
    daemon.wait_for("started", Duration::from_secs(30));
    daemon.signal("TERM");
    assert_eq!(daemon.wait(Duration::from_secs(30)), Some(0), "{}", daemon.log());
    let aside: Vec<_> = fs::read_dir(&state)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("store.corrupt-"))
        .collect();
    assert_eq!(aside.len(), 1, "exactly one copy moved aside");
}
