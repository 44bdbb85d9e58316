//! Alert delivery against real faults: a torn JSONL line and a crash between append and outbox
//! removal (reconciled on start), an unwritable JSONL path (kept, then delivered when it clears),
//! and a webhook on 127.0.0.1 that fails with 5xx, 4xx, 429 + Retry-After, or silence. In every
//! case each alert ends up delivered exactly once per sink. (SIGKILL during ingestion: `crash`.)

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::Utc;
use claimwatch::alert::outbox::{enqueue, Outbox, SinkKind};
use claimwatch::alert::sinks::{JsonlSink, Sink, WebhookSink};
use claimwatch::alert::{drain, Wake};
use claimwatch::config::WebhookConfig;
use claimwatch::model::{Alert, AlertArticle, AlertClaim, ArticleVerdict};
use claimwatch::store::Store;
use tokio_util::sync::CancellationToken;

use crate::support::{
    assert_each_alert_once, claim_daemon_config, jsonl_alerts, jsonl_lines, ClaimFeed, Reply, Request,
    TestServer,
};

pub fn alert(id: &str) -> Alert {
    Alert {
        kind: "new_claim".into(),
        id: id.into(),
        detected_at: Utc::now(),
        claim: AlertClaim { text: format!("claim {id}"), lang: "en".into() },
        article: AlertArticle {
            url: format!("https://example.org/{id}"),
            title: None,
            feed: None,
            feed_name: None,
            published: None,
            verdict: ArticleVerdict::NewStory,
        },
        story_id: "s1".into(),
        entities: vec![],
        numbers: vec![],
        sources: vec![],
        why: None,
    }
}

pub fn store_with(dir: &Path, sinks: &[SinkKind], ids: &[&str]) -> Store {
    let store = Store::open(&dir.join("state"), 1 << 20).unwrap();
    for id in ids {
        enqueue(&store, sinks, &alert(id)).unwrap();
    }
    store
}

/// Runs one sink's drain until `done` holds or `limit` passes; returns whether it held.
pub async fn run_sink<S: Sink>(sink: S, store: &Store, limit: Duration, done: impl Fn() -> bool) -> bool {
    let token = CancellationToken::new();
    let wake = Wake::new();
    let task = tokio::spawn(drain(sink, Outbox::open(store).unwrap(), wake.subscribe(), token.clone()));
    let started = Instant::now();
    let mut ok = false;
    while started.elapsed() < limit {
        if done() {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    token.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(15), task).await;
    ok
}

pub fn waiting(store: &Store, sink: SinkKind) -> usize {
    Outbox::open(store).unwrap().pending(sink, usize::MAX).unwrap().len()
}

fn ids_in(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("every line is JSON")["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

fn webhook(server: &TestServer) -> WebhookConfig {
    WebhookConfig {
        url: url::Url::parse(&server.url("/hook")).unwrap(),
        timeout: Duration::from_millis(500),
        give_up_after: Duration::from_secs(3600),
        digest_window: Duration::ZERO,
        min_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
    }
}

#[tokio::test]
async fn jsonl_repairs_a_torn_line_and_skips_alerts_the_file_already_holds() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(dir.path(), &[SinkKind::Jsonl], &["a1", "a2", "a3"]);
    let path = dir.path().join("alerts.jsonl");
    // A crash after a1 was fsynced but before its outbox entry was removed, and in the middle of
    // writing a2.
    let a1 = serde_json::to_string(&alert("a1")).unwrap();
    std::fs::write(&path, format!("{a1}\n{{\"kind\":\"new_claim\",\"id\":\"a2\",\"detec")).unwrap();
    let sink = JsonlSink::new(path.clone());
    assert!(run_sink(sink, &store, Duration::from_secs(10), || waiting(&store, SinkKind::Jsonl) == 0).await);
    assert_eq!(ids_in(&path), ["a1", "a2", "a3"]);
}

#[tokio::test]
async fn an_unwritable_jsonl_path_keeps_alerts_until_it_clears() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(dir.path(), &[SinkKind::Jsonl], &["b1", "b2"]);
    // A regular file where the directory should be: no user, not even root, can create the file.
    let blocker = dir.path().join("out");
    std::fs::write(&blocker, "not a directory").unwrap();
    let path = blocker.join("alerts.jsonl");
    let sink = JsonlSink::new(path.clone()).with_retry(Duration::from_millis(50));
    let clear = {
        let blocker = blocker.clone();
        let started = Instant::now();
        let store = store.clone();
        move || {
            if started.elapsed() > Duration::from_millis(400) && blocker.is_file() {
                assert_eq!(waiting(&store, SinkKind::Jsonl), 2, "alerts left the outbox undelivered");
                std::fs::remove_file(&blocker).unwrap();
            }
            waiting(&store, SinkKind::Jsonl) == 0
        }
    };
    assert!(run_sink(sink, &store, Duration::from_secs(10), clear).await);
    assert_eq!(ids_in(&path), ["b1", "b2"]);
}

#[tokio::test]
async fn webhook_retries_5xx_with_one_idempotency_key_per_alert() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(dir.path(), &[SinkKind::Webhook], &["c1", "c2"]);
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let server =
        TestServer::start(move |_: &Request| match calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) {
            0 => Reply::status(500),
            1 => Reply::status(503),
            _ => Reply::status(200),
        });
    let sink = WebhookSink::new(webhook(&server), "test").unwrap();
    assert!(
        run_sink(sink, &store, Duration::from_secs(10), || waiting(&store, SinkKind::Webhook) == 0).await
    );
    let keys: Vec<String> =
        server.requests().iter().map(|r| r.header("Idempotency-Key").unwrap().to_string()).collect();
    assert_eq!(keys, ["c1", "c1", "c1", "c2"]);
    let body: serde_json::Value = serde_json::from_slice(&server.requests()[3].body).unwrap();
    assert_eq!(body["kind"], "new_claim");
    assert_eq!(body["claim"]["text"], "claim c2");
}

#[tokio::test]
async fn webhook_does_not_retry_a_4xx_but_retries_408_and_429_after_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(dir.path(), &[SinkKind::Webhook], &["d1", "d2"]);
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let server =
        TestServer::start(move |_: &Request| match calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) {
            0 => {
                Reply::Full { status: 400, headers: vec![], body: b"bad payload: no field x\nmore".to_vec() }
            }
            1 => Reply::status(408),
            2 => Reply::status(429).with_header("Retry-After", "1"),
            _ => Reply::status(204),
        });
    let sink = WebhookSink::new(webhook(&server), "test").unwrap();
    assert!(
        run_sink(sink, &store, Duration::from_secs(10), || waiting(&store, SinkKind::Webhook) == 0).await
    );
    let requests = server.requests();
    let keys: Vec<&str> = requests.iter().map(|r| r.header("Idempotency-Key").unwrap()).collect();
    assert_eq!(keys, ["d1", "d2", "d2", "d2"], "a 400 is final, 408 and 429 are retried");
    let waited = requests[3].received_at - requests[2].received_at;
    assert!(waited >= Duration::from_millis(950), "Retry-After: 1 not honoured: {waited:?}");
}

#[tokio::test]
async fn webhook_retries_a_timeout_and_gives_up_on_old_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(dir.path(), &[SinkKind::Webhook], &["e1"]);
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let server =
        TestServer::start(move |_: &Request| match calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) {
            0 => Reply::Silent { hold: Duration::from_secs(2) },
            _ => Reply::status(200),
        });
    let sink = WebhookSink::new(webhook(&server), "test").unwrap();
    assert!(
        run_sink(sink, &store, Duration::from_secs(10), || waiting(&store, SinkKind::Webhook) == 0).await
    );
    assert_eq!(server.requests().len(), 2, "the timed-out POST is retried once");

    let store = store_with(&dir.path().join("2"), &[SinkKind::Webhook], &["e2"]);
    let down = TestServer::start(|_: &Request| Reply::status(503));
    let config = WebhookConfig { give_up_after: Duration::from_millis(300), ..webhook(&down) };
    let sink = WebhookSink::new(config, "test").unwrap();
    assert!(
        run_sink(sink, &store, Duration::from_secs(10), || waiting(&store, SinkKind::Webhook) == 0).await
    );
    assert!(down.requests().len() >= 2, "retried before giving up");
}

#[tokio::test]
async fn a_webhook_outage_does_not_hold_back_the_jsonl_sink() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(dir.path(), &[SinkKind::Jsonl, SinkKind::Webhook], &["f1", "f2"]);
    let down = TestServer::start(|_: &Request| Reply::status(503));
    let path = dir.path().join("alerts.jsonl");
    let token = CancellationToken::new();
    let wake = Wake::new();
    let outbox = Outbox::open(&store).unwrap();
    let hook = tokio::spawn(drain(
        WebhookSink::new(webhook(&down), "test").unwrap(),
        outbox.clone(),
        wake.subscribe(),
        token.clone(),
    ));
    let sink = JsonlSink::new(path.clone());
    assert!(run_sink(sink, &store, Duration::from_secs(10), || waiting(&store, SinkKind::Jsonl) == 0).await);
    assert_eq!(ids_in(&path), ["f1", "f2"]);
    assert_eq!(waiting(&store, SinkKind::Webhook), 2);
    token.cancel();
    let _ = hook.await;
}

#[tokio::test]
async fn a_digest_window_batches_alerts_into_one_post() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(dir.path(), &[SinkKind::Webhook], &["g1", "g2", "g3"]);
    let server = TestServer::start(|_: &Request| Reply::status(200));
    let config = WebhookConfig { digest_window: Duration::from_millis(300), ..webhook(&server) };
    let sink = WebhookSink::new(config, "test").unwrap();
    assert!(
        run_sink(sink, &store, Duration::from_secs(10), || waiting(&store, SinkKind::Webhook) == 0).await
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let body: serde_json::Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(body["kind"], "digest");
    let ids: Vec<&str> =
        body["alerts"].as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["g1", "g2", "g3"]);
}

// ------------------------------------------------------------------------- the daemon, end to end

#[test]
fn run_once_delivers_each_new_claim_to_the_jsonl_file_once() {
    let dir = tempfile::tempdir().unwrap();
    let n: usize = std::env::var("CLAIMWATCH_TEST_N").ok().and_then(|s| s.parse().ok()).unwrap_or(5);
    let path = dir.path().join("alerts.jsonl");
    let feed = ClaimFeed::start(n, Duration::ZERO);
    let config = claim_daemon_config(dir.path(), &feed, &jsonl_alerts(&path));
    let out = crate::support::claimwatch_in(
        Some(dir.path()),
        &["--config", config.to_str().unwrap(), "run", "--once"],
    );
    assert!(out.status.success(), "{}", crate::support::stderr(&out));
    assert_each_alert_once(&path, n);
    let first = &jsonl_lines(&path)[0];
    assert!(first["article"]["url"].as_str().unwrap().starts_with(&feed.server.url("/a/")), "{first}");
    assert_eq!(first["article"]["feed"], feed.url().as_str());
    assert!(first["detected_at"].as_str().is_some() && first["story_id"].as_str().is_some());

    // A second run finds nothing new and repeats nothing.
    let out = crate::support::claimwatch_in(
        Some(dir.path()),
        &["--config", config.to_str().unwrap(), "run", "--once"],
    );
    assert!(out.status.success(), "{}", crate::support::stderr(&out));
    assert_each_alert_once(&path, n);

    // `claims --new --json` lists them by first seen, one source each.
    let out = crate::support::claimwatch_in(
        Some(dir.path()),
        &["--config", config.to_str().unwrap(), "claims", "--new", "--since", "1h", "--json"],
    );
    assert!(out.status.success(), "{}", crate::support::stderr(&out));
    let listed: Vec<serde_json::Value> =
        crate::support::stdout(&out).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(listed.len(), n);
    assert!(listed.iter().all(|c| c["sources"] == 1 && c["langs"][0] == "en"), "{listed:#?}");
}

// ------------------------------------------------------------------ duplicate versus same story

fn check_json(state: &Path, file: &Path) -> serde_json::Value {
    let out = crate::support::claimwatch(&[
        "check",
        "--json",
        "--state-dir",
        state.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", crate::support::stderr(&out));
    serde_json::from_str(crate::support::stdout(&out).trim()).unwrap()
}

#[test]
fn a_reprint_with_a_new_intro_and_footer_is_a_duplicate_and_a_rewrite_is_the_same_story() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let seeds = crate::support::repo().join("seeds");
    let out = crate::support::claimwatch(&[
        "seed",
        "--state-dir",
        state.to_str().unwrap(),
        seeds.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", crate::support::stderr(&out));

    let seed = std::fs::read_dir(&seeds)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_str().unwrap().starts_with("004"))
        .unwrap();
    let text = std::fs::read_to_string(seed).unwrap();
    let copy = format!(
        "Kyiv Daily Digest\n\nOur correspondents follow the talks on Ukraine's security for you every day.\n\n{}\n\n\
         Subscribe to our morning newsletter. All rights reserved.",
        text.replace("informed officials", "officials familiar with the matter")
    );
    let file = dir.path().join("reprint.txt");
    std::fs::write(&file, copy).unwrap();
    assert_eq!(check_json(&state, &file)["article_verdict"], "duplicate");

    let rewrite = "Washington and its European allies have drawn up a joint plan of security guarantees for \
        Ukraine, meant to lock in a possible peace agreement with Russia and to deter a new attack. \
        Under the multi-level scheme, the 800,000-strong Ukrainian army forms the first line of \
        deterrence, kept supplied with weapons and training by the allies. Behind the front line, \
        multinational forces of a coalition of European countries could be deployed on Ukrainian \
        territory as a second level of security.";
    let file = dir.path().join("rewrite.txt");
    std::fs::write(&file, rewrite).unwrap();
    let out = check_json(&state, &file);
    assert_eq!(out["article_verdict"], "same_story", "{out:#}");
}
