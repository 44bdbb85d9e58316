//! Feed polling against local servers: formats, charsets, conditional requests, backoff,
//! politeness observed on the server side, GUID churn, local files, and the refusals (private
//! addresses, redirects to `file://`). Time-dependent logic is checked with explicit times (the
//! scheduler is a pure function); nothing here sleeps to wait for a schedule.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use claimwatch::config::Config;
use claimwatch::feeds;
use claimwatch::fetch::{FetchError, FetchOutcome, Fetcher, Kind, Request};
use claimwatch::model::Feed;
use claimwatch::parse;
use claimwatch::pipeline::{self, Ctx, Outcome};
use claimwatch::store::Store;
use url::Url;

use crate::support::{claimwatch_in, repo, stderr, stdout, Reply, TestServer};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture_path(name)).unwrap()
}

fn fixture_path(name: &str) -> PathBuf {
    repo().join("tests/fixtures/feeds").join(name)
}

/// Defaults, no configured feeds, loopback allowed (the test servers live there), no delay.
fn test_config(dir: &Path) -> Config {
    let mut config = Config::defaults_with_state_dir(dir);
    config.feeds.clear();
    config.fetch.allow_private_networks = true;
    config.fetch.per_host_delay = Duration::ZERO;
    config
}

fn ctx_with(dir: &Path, edit: impl FnOnce(&mut Config)) -> Ctx {
    let mut config = test_config(dir);
    edit(&mut config);
    let store = Store::open(dir, 1 << 20).unwrap();
    Ctx::new(Arc::new(config), store).unwrap()
}

fn ctx(dir: &Path) -> Ctx {
    ctx_with(dir, |_| {})
}

fn feed(url: &str) -> Feed {
    Feed {
        url: Url::parse(url).unwrap(),
        name: None,
        lang: None,
        min_interval: Duration::from_secs(300),
        max_interval: Duration::from_secs(86400),
        body_selector: None,
    }
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn rss(items: &[(&str, &str, &str)]) -> String {
    let mut xml = String::from("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>T</title>");
    for (title, link, guid) in items {
        xml.push_str(&format!(
            "<item><title>{title}</title><link>{link}</link><guid isPermaLink=\"false\">{guid}</guid>\
             <description>{title} summary</description></item>"
        ));
    }
    xml.push_str("</channel></rss>");
    xml
}

fn page(title: &str) -> Reply {
    Reply::ok(
        "text/html; charset=utf-8",
        format!("<html><body><h1>{title}</h1><p>{title} body text.</p></body></html>"),
    )
}

// ------------------------------------------------------------------------------------- formats

/// Parses a fixture and compares a summary of its items with `<name>.expected.json`;
/// `UPDATE_EXPECT=1` rewrites the expectation.
#[track_caller]
fn check_fixture(name: &str, base: &str) {
    let parsed = parse::parse_feed(&fixture(name), None, &Url::parse(base).unwrap()).unwrap();
    let items: Vec<serde_json::Value> = parsed
        .items
        .iter()
        .map(|i| {
            serde_json::json!({
                "key": i.key, "guid": i.guid, "title": i.title, "summary": i.summary,
                "published": i.published.map(|d| d.to_rfc3339()),
            })
        })
        .collect();
    let actual = serde_json::to_string_pretty(&serde_json::json!({
        "title": parsed.title, "ttl_s": parsed.ttl.map(|d| d.as_secs()), "items": items,
        "warnings": parsed.warnings,
    }))
    .unwrap();
    let expected_path = fixture_path(&format!("{name}.expected.json"));
    if std::env::var_os("UPDATE_EXPECT").is_some() || !expected_path.exists() {
        std::fs::write(&expected_path, format!("{actual}\n")).unwrap();
    }
    let expected = std::fs::read_to_string(&expected_path).unwrap();
    assert_eq!(actual.trim(), expected.trim(), "{name} differs from {}", expected_path.display());
}

#[test]
fn rss2_items_get_canonical_link_keys_and_plain_summaries() {
    check_fixture("rss2.xml", "https://kyivwire.example/rss");
}

#[test]
fn rss1_items_are_read() {
    check_fixture("rss1.rdf", "https://rdf.example/rss");
}

#[test]
fn atom_relative_links_resolve_against_xml_base() {
    check_fixture("atom.xml", "https://atom.example/feed");
}

#[test]
fn json_feed_items_are_read() {
    check_fixture("feed.json", "https://json.example/feed.json");
}

#[test]
fn rss_without_version_is_read_like_feedparser_does() {
    check_fixture("rss_no_version.xml", "https://oldcms.example/rss");
}

// ------------------------------------------------------------------------------------ charsets

#[test]
fn windows_1251_feed_and_page_behind_a_lying_utf8_header_decode_correctly() {
    let server = TestServer::start(|r| match r.path.as_str() {
        "/feed" => Reply::ok("application/rss+xml; charset=utf-8", fixture("cp1251.xml")),
        _ => Reply::ok("text/html; charset=utf-8", fixture("page_cp1251.html")),
    });
    let dir = tempfile::tempdir().unwrap();
    let ctx = ctx(dir.path());
    rt().block_on(async {
        let FetchOutcome::Fetched(f) = fetch(&ctx.fetcher, &server.url("/feed"), Kind::Feed).await.unwrap()
        else {
            panic!("expected a body")
        };
        let parsed = parse::parse_feed(&f.body, f.content_type.as_deref(), &f.url).unwrap();
        assert_eq!(parsed.title.as_deref(), Some("Новини Києва"));
        assert_eq!(
            parsed.items[0].title.as_deref(),
            Some("Гарантії безпеки для України обговорили в Парижі")
        );
        let FetchOutcome::Fetched(p) = fetch(&ctx.fetcher, &server.url("/page"), Kind::Page).await.unwrap()
        else {
            panic!("expected a body")
        };
        let text = claimwatch::charset::decode(&p.body, p.content_type.as_deref()).text;
        assert!(text.contains("Представники США пообіцяли підтримати Україну"), "{text}");
    });
}

#[test]
fn koi8_u_page_without_a_declared_charset_decodes_correctly() {
    let server = TestServer::start(|_| Reply::ok("text/html", fixture("page_koi8u.html")));
    let dir = tempfile::tempdir().unwrap();
    let ctx = ctx(dir.path());
    rt().block_on(async {
        let FetchOutcome::Fetched(p) = fetch(&ctx.fetcher, &server.url("/p"), Kind::Page).await.unwrap()
        else {
            panic!("expected a body")
        };
        let text = claimwatch::charset::decode(&p.body, p.content_type.as_deref()).text;
        assert!(text.contains("Ґарантії передбачають моніторинг"), "{text}");
    });
}

async fn fetch(fetcher: &Fetcher, url: &str, kind: Kind) -> Result<FetchOutcome, FetchError> {
    let url = Url::parse(url).unwrap();
    fetcher.fetch(Request { url: &url, kind, validators: None, allow_file: false }).await
}

// ------------------------------------------------------------------------- conditional requests

#[test]
fn etag_round_trip_gets_a_304_on_the_second_poll() {
    let server = TestServer::start(|r| match (r.path.as_str(), r.header("if-none-match")) {
        ("/feed", Some("\"v1\"")) => Reply::status(304),
        ("/feed", _) => {
            Reply::ok("application/rss+xml", rss(&[("A", "/a", "g-a")])).with_header("ETag", "\"v1\"")
        }
        (path, _) => page(path),
    });
    let dir = tempfile::tempdir().unwrap();
    let ctx = ctx(dir.path());
    let f = feed(&server.url("/feed"));
    rt().block_on(async {
        let first = pipeline::refresh_feed(&ctx, &f, t("2026-01-01T00:00:00Z")).await.unwrap();
        assert_eq!(first.outcome, Outcome::Fetched { items: 1, new_items: 1, deferred: 0 });
        let second = pipeline::refresh_feed(&ctx, &f, t("2026-01-01T01:00:00Z")).await.unwrap();
        assert_eq!(second.outcome, Outcome::NotModified);
    });
    let feed_requests = server.requests_to("/feed");
    assert_eq!(feed_requests.len(), 2);
    assert_eq!(feed_requests[0].header("if-none-match"), None);
    assert_eq!(feed_requests[1].header("if-none-match"), Some("\"v1\""));
    assert!(feed_requests[0].header("user-agent").unwrap().starts_with("claimwatch/"));
}

#[test]
fn last_modified_round_trip_and_forced_refresh_after_12h() {
    const LM: &str = "Tue, 06 Jan 2026 10:00:00 GMT";
    let server = TestServer::start(|r| match (r.path.as_str(), r.header("if-modified-since")) {
        ("/feed", Some(LM)) => Reply::status(304),
        ("/feed", _) => {
            Reply::ok("application/rss+xml", rss(&[("A", "/a", "g-a")])).with_header("Last-Modified", LM)
        }
        (path, _) => page(path),
    });
    let dir = tempfile::tempdir().unwrap();
    let ctx = ctx(dir.path());
    let f = feed(&server.url("/feed"));
    rt().block_on(async {
        pipeline::refresh_feed(&ctx, &f, t("2026-01-01T00:00:00Z")).await.unwrap();
        let second = pipeline::refresh_feed(&ctx, &f, t("2026-01-01T01:00:00Z")).await.unwrap();
        assert_eq!(second.outcome, Outcome::NotModified);
        // 13 hours after the last unconditional fetch: no validators; same body → unchanged.
        let third = pipeline::refresh_feed(&ctx, &f, t("2026-01-01T13:00:00Z")).await.unwrap();
        assert_eq!(third.outcome, Outcome::Unchanged);
    });
    let feed_requests = server.requests_to("/feed");
    assert_eq!(feed_requests.len(), 3);
    assert_eq!(feed_requests[1].header("if-modified-since"), Some(LM));
    assert_eq!(feed_requests[2].header("if-modified-since"), None, "the forced refresh sent validators");
    assert_eq!(server.requests_to("/a").len(), 1, "an unchanged feed fetched its page again");
}

#[test]
fn an_unchanged_body_without_validators_is_not_parsed_again_and_seen_items_are_not_refetched() {
    let round = Arc::new(AtomicUsize::new(0));
    let r2 = round.clone();
    let server = TestServer::start(move |r| match r.path.as_str() {
        "/feed" if r2.load(Ordering::SeqCst) < 2 => {
            Reply::ok("application/rss+xml", rss(&[("A", "/a", "g-a")]))
        }
        "/feed" => Reply::ok("application/rss+xml", rss(&[("B", "/b", "g-b"), ("A", "/a", "g-a")])),
        path => page(path),
    });
    let dir = tempfile::tempdir().unwrap();
    let ctx = ctx(dir.path());
    let f = feed(&server.url("/feed"));
    rt().block_on(async {
        round.store(1, Ordering::SeqCst);
        let first = pipeline::refresh_feed(&ctx, &f, t("2026-01-01T00:00:00Z")).await.unwrap();
        assert_eq!(first.outcome, Outcome::Fetched { items: 1, new_items: 1, deferred: 0 });
        let second = pipeline::refresh_feed(&ctx, &f, t("2026-01-01T01:00:00Z")).await.unwrap();
        assert_eq!(second.outcome, Outcome::Unchanged);
        round.store(2, Ordering::SeqCst);
        let third = pipeline::refresh_feed(&ctx, &f, t("2026-01-01T02:00:00Z")).await.unwrap();
        assert_eq!(third.outcome, Outcome::Fetched { items: 2, new_items: 1, deferred: 0 });
    });
    assert_eq!(server.requests_to("/a").len(), 1);
    assert_eq!(server.requests_to("/b").len(), 1);
}

// ------------------------------------------------------------------------- errors and backoff

#[test]
fn retry_after_is_honoured_per_host() {
    let server = TestServer::start(|r| match r.path.as_str() {
        "/feed" => Reply::status(503).with_header("Retry-After", "7200"),
        path => page(path),
    });
    let dir = tempfile::tempdir().unwrap();
    let ctx = ctx(dir.path());
    let now = t("2026-01-01T00:00:00Z");
    rt().block_on(async {
        let first = pipeline::refresh_feed(&ctx, &feed(&server.url("/feed")), now).await.unwrap();
        assert!(matches!(first.outcome, Outcome::Failed { .. }), "{:?}", first.outcome);
        assert!(first.next_check_at >= now + chrono::Duration::seconds(7200), "{}", first.next_check_at);
        // Another feed on the same host is not contacted while the host asked us to wait.
        let other = pipeline::refresh_feed(&ctx, &feed(&server.url("/other-feed")), now).await.unwrap();
        let Outcome::Failed { error } = other.outcome else { panic!("expected a failure") };
        assert!(error.contains("Retry-After"), "{error}");
    });
    assert_eq!(server.requests().len(), 1, "the server was contacted during its Retry-After");
}

#[test]
fn a_500_streak_backs_off_exponentially_never_gives_up_and_recovers() {
    let healthy = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let h2 = healthy.clone();
    let server = TestServer::start(move |r| match r.path.as_str() {
        "/feed" if h2.load(Ordering::SeqCst) => Reply::ok("application/rss+xml", rss(&[("A", "/a", "g-a")])),
        "/feed" => Reply::status(500),
        path => page(path),
    });
    let dir = tempfile::tempdir().unwrap();
    let ctx = ctx(dir.path());
    let f = feed(&server.url("/feed"));
    let mut now = t("2026-01-01T00:00:00Z");
    let mut waits = Vec::new();
    rt().block_on(async {
        for _ in 0..10 {
            let r = pipeline::refresh_feed(&ctx, &f, now).await.unwrap();
            assert!(matches!(r.outcome, Outcome::Failed { .. }));
            waits.push((r.next_check_at - now).num_seconds());
            now = r.next_check_at; // time travel to the scheduled moment
        }
        let state = feeds::load_state(&ctx.store, &f.url).unwrap();
        assert_eq!(state.consecutive_errors, 10);
        assert!(matches!(feeds::Health::of(&state), feeds::Health::Failing { .. }));
        assert!(state.last_error.as_deref().unwrap().contains("500"), "{:?}", state.last_error);
        healthy.store(true, Ordering::SeqCst);
        let r = pipeline::refresh_feed(&ctx, &f, now).await.unwrap();
        assert_eq!(r.outcome, Outcome::Fetched { items: 1, new_items: 1, deferred: 0 });
        let state = feeds::load_state(&ctx.store, &f.url).unwrap();
        assert_eq!((state.consecutive_errors, feeds::Health::of(&state)), (0, feeds::Health::Ok));
    });
    // 5 min · 2^(n-1), ±10 %, capped at 24 h.
    for (i, wait) in waits.iter().enumerate() {
        let base = (300i64 << i).min(86400) as f64;
        assert!(
            (*wait as f64) >= base * 0.9 - 1.0 && (*wait as f64) <= (base * 1.1).min(86400.0) + 1.0,
            "{waits:?}"
        );
    }
    assert_eq!(server.requests_to("/feed").len(), 11);
}

#[test]
fn a_restart_resumes_the_schedule() {
    let server = TestServer::start(|r| match r.path.as_str() {
        "/feed" => Reply::ok("application/rss+xml", rss(&[("A", "/a", "g-a")]))
            .with_header("Cache-Control", "max-age=3600"),
        path => page(path),
    });
    let dir = tempfile::tempdir().unwrap();
    let f = feed(&server.url("/feed"));
    let now = Utc::now();
    let next = {
        let ctx = ctx(dir.path());
        let r = rt().block_on(pipeline::refresh_feed(&ctx, &f, now)).unwrap();
        ctx.store.flush().unwrap();
        r.next_check_at
    };
    let reopened = Store::open(dir.path(), 1 << 20).unwrap();
    let state = feeds::load_state(&reopened, &f.url).unwrap();
    assert_eq!(state.next_check_at, next.timestamp());
    assert!(next >= now + chrono::Duration::seconds(3600 * 9 / 10), "max-age was not honoured: {next}");
}

// ----------------------------------------------------------------------------------- politeness

#[test]
fn per_host_limit_and_delay_are_observed_on_the_server_side() {
    // Counted inside the handler (before the reply is written) so that a client that already
    // has its whole answer can never be counted twice.
    let (active, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (a2, m2) = (active.clone(), most.clone());
    let server = TestServer::start(move |r| {
        m2.fetch_max(a2.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(150));
        a2.fetch_sub(1, Ordering::SeqCst);
        match r.path.as_str() {
            p if p.starts_with("/feed") => {
                let n: usize = p[5..].parse().unwrap_or(0);
                let items: Vec<(String, String, String)> = (0..4)
                    .map(|i| (format!("T{n}-{i}"), format!("/p{n}-{i}"), format!("g{n}-{i}")))
                    .collect();
                let refs: Vec<(&str, &str, &str)> =
                    items.iter().map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str())).collect();
                Reply::ok("application/rss+xml", rss(&refs))
            }
            path => page(path),
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let ctx = ctx_with(dir.path(), |c| {
        c.fetch.per_host = 2;
        c.fetch.per_host_delay = Duration::from_millis(40);
    });
    rt().block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for n in 0..4 {
            let (ctx, f) = (ctx.clone(), feed(&server.url(&format!("/feed{n}"))));
            set.spawn(async move { pipeline::refresh_feed(&ctx, &f, Utc::now()).await.unwrap() });
        }
        while let Some(r) = set.join_next().await {
            assert!(matches!(r.unwrap().outcome, Outcome::Fetched { new_items: 4, .. }));
        }
    });
    let requests = server.requests();
    assert_eq!(requests.len(), 4 + 16);
    assert_eq!(most.load(Ordering::SeqCst), 2, "the per-host limit of 2 was exceeded or never reached");
    let mut starts: Vec<_> = requests.iter().map(|r| r.received_at).collect();
    starts.sort();
    // 40 ms apart at the client; the server sees them through thread scheduling, which under
    // load may delay one request's timestamp, so the span is checked rather than each gap.
    let span = *starts.last().unwrap() - starts[0];
    assert!(span >= Duration::from_millis(40 * 19 * 8 / 10), "20 starts within {span:?}");
}

// ----------------------------------------------------------------------------------- identity

#[test]
fn guid_churn_does_not_reprocess_items_and_repeated_guids_fall_back_to_links() {
    let round = Arc::new(AtomicUsize::new(1));
    let r2 = round.clone();
    let server = TestServer::start(move |r| match (r.path.as_str(), r2.load(Ordering::SeqCst)) {
        ("/churn", 1) => Reply::ok("application/rss+xml", rss(&[("A", "/a", "x-1"), ("B", "/b", "x-2")])),
        ("/churn", _) => Reply::ok(
            "application/rss+xml",
            rss(&[("C", "/c", "y-3"), ("A", "/a", "y-1"), ("B", "/b", "y-2")]),
        ),
        ("/same", 1) => Reply::ok("application/rss+xml", rss(&[("D", "/d", "same"), ("E", "/e", "same")])),
        ("/same", _) => Reply::ok(
            "application/rss+xml",
            rss(&[("F", "/f", "same"), ("D", "/d", "same"), ("E", "/e", "same")]),
        ),
        (path, _) => page(path),
    });
    let dir = tempfile::tempdir().unwrap();
    let ctx = ctx(dir.path());
    let churn = feed(&server.url("/churn"));
    let same = feed(&server.url("/same"));
    rt().block_on(async {
        for f in [&churn, &same] {
            let r = pipeline::refresh_feed(&ctx, f, t("2026-01-01T00:00:00Z")).await.unwrap();
            assert_eq!(r.outcome, Outcome::Fetched { items: 2, new_items: 2, deferred: 0 });
        }
        round.store(2, Ordering::SeqCst);
        for f in [&churn, &same] {
            let r = pipeline::refresh_feed(&ctx, f, t("2026-01-01T01:00:00Z")).await.unwrap();
            assert_eq!(r.outcome, Outcome::Fetched { items: 3, new_items: 1, deferred: 0 }, "{}", f.url);
        }
        assert!(feeds::load_state(&ctx.store, &churn.url).unwrap().guids_unstable);
        assert!(feeds::load_state(&ctx.store, &same.url).unwrap().guids_unstable);
    });
    for path in ["/a", "/b", "/c", "/d", "/e", "/f"] {
        assert_eq!(server.requests_to(path).len(), 1, "{path}");
    }
}

// ------------------------------------------------------------------------- local files, refusals

#[test]
fn file_feed_reads_its_local_pages() {
    let dir = tempfile::tempdir().unwrap();
    let pages = tempfile::tempdir().unwrap();
    let page_url = Url::from_file_path(pages.path().join("a.html")).unwrap();
    std::fs::write(
        pages.path().join("a.html"),
        "<html lang=\"uk\"><body><p>Local page text.</p></body></html>",
    )
    .unwrap();
    let feed_path = pages.path().join("feed.xml");
    std::fs::write(&feed_path, rss(&[("Local", page_url.as_str(), "l-1")])).unwrap();
    let ctx = ctx(dir.path());
    let f = feed(Url::from_file_path(&feed_path).unwrap().as_str());
    let r = rt().block_on(pipeline::refresh_feed(&ctx, &f, Utc::now())).unwrap();
    assert_eq!(r.outcome, Outcome::Fetched { items: 1, new_items: 1, deferred: 0 });
}

#[test]
fn a_remote_feed_cannot_lead_to_file_urls() {
    let server = TestServer::start(|r| match r.path.as_str() {
        "/redirect" => Reply::status(302).with_header("Location", "file:///etc/passwd"),
        "/feed" => Reply::ok("application/rss+xml", rss(&[("Secret", "file:///etc/passwd", "s-1")])),
        path => page(path),
    });
    let dir = tempfile::tempdir().unwrap();
    let ctx = ctx(dir.path());
    rt().block_on(async {
        let err = fetch(&ctx.fetcher, &server.url("/redirect"), Kind::Feed).await.unwrap_err();
        assert!(matches!(err, FetchError::Blocked(_)), "{err}");
        assert!(!err.is_retryable());
        // A file:// link in a remote feed is never read; the item falls back to its summary.
        let r = pipeline::refresh_feed(&ctx, &feed(&server.url("/feed")), Utc::now()).await.unwrap();
        assert_eq!(r.outcome, Outcome::Fetched { items: 1, new_items: 1, deferred: 0 });
        let direct = Url::parse("file:///etc/passwd").unwrap();
        let err = ctx
            .fetcher
            .fetch(Request { url: &direct, kind: Kind::Page, validators: None, allow_file: false })
            .await
            .unwrap_err();
        assert!(matches!(err, FetchError::Blocked(_)), "{err}");
    });
}

#[test]
fn redirect_chains_longer_than_the_limit_are_refused() {
    let server = TestServer::start(|r| {
        let n: usize = r.path.trim_start_matches("/r").parse().unwrap_or(0);
        Reply::status(302).with_header("Location", &format!("/r{}", n + 1))
    });
    let dir = tempfile::tempdir().unwrap();
    let ctx = ctx(dir.path());
    let err = rt().block_on(fetch(&ctx.fetcher, &server.url("/r0"), Kind::Feed)).unwrap_err();
    assert!(matches!(err, FetchError::TooManyRedirects(5)), "{err}");
    assert_eq!(server.requests().len(), 6);
}

#[test]
fn private_addresses_are_refused_without_connecting() {
    let server = TestServer::start(|_| Reply::ok("application/rss+xml", rss(&[("A", "/a", "g")])));
    let port = server.addr.port();
    let dir = tempfile::tempdir().unwrap();
    let ctx = ctx_with(dir.path(), |c| c.fetch.allow_private_networks = false);
    rt().block_on(async {
        for url in [
            format!("http://127.0.0.1:{port}/feed"),
            format!("http://2130706433:{port}/feed"),
            format!("http://0x7f.0.0.1:{port}/feed"),
            format!("http://localhost:{port}/feed"),
            format!("http://localhost.:{port}/feed"),
            format!("http://[::ffff:127.0.0.1]:{port}/feed"),
        ] {
            let err = fetch(&ctx.fetcher, &url, Kind::Feed).await.unwrap_err();
            assert!(matches!(err, FetchError::Blocked(_)), "{url}: {err}");
            assert_eq!(err.class(), "blocked");
        }
    });
    assert!(server.requests().is_empty(), "the listener saw {:?}", server.requests());
}

#[test]
fn environment_proxy_variables_are_ignored() {
    let server = TestServer::start(|_| Reply::ok("text/plain", "direct"));
    let proxy = TestServer::start(|_| Reply::ok("text/plain", "via proxy"));
    // The variables are read when a client is built; set them for a child-free, in-process
    // check by building the fetcher while they are set.
    std::env::set_var("HTTP_PROXY", proxy.url(""));
    std::env::set_var("http_proxy", proxy.url(""));
    let dir = tempfile::tempdir().unwrap();
    let ctx = ctx(dir.path());
    std::env::remove_var("HTTP_PROXY");
    std::env::remove_var("http_proxy");
    let FetchOutcome::Fetched(f) = rt().block_on(fetch(&ctx.fetcher, &server.url("/x"), Kind::Page)).unwrap()
    else {
        panic!("expected a body")
    };
    assert_eq!(f.body, b"direct");
    assert!(proxy.requests().is_empty());
}

#[test]
fn bodies_over_the_cap_are_refused_while_streaming() {
    let big = vec![b'x'; 300_000];
    let server = TestServer::start(move |r| match r.path.as_str() {
        "/chunked" => Reply::Raw({
            let mut raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            for _ in 0..30 {
                raw.extend_from_slice(format!("{:x}\r\n", 10_000).as_bytes());
                raw.extend_from_slice(&[b'y'; 10_000]);
                raw.extend_from_slice(b"\r\n");
            }
            raw.extend_from_slice(b"0\r\n\r\n");
            raw
        }),
        _ => Reply::ok("text/plain", big.clone()),
    });
    let dir = tempfile::tempdir().unwrap();
    let ctx = ctx_with(dir.path(), |c| c.fetch.max_body = 100_000);
    rt().block_on(async {
        for path in ["/sized", "/chunked"] {
            let err = fetch(&ctx.fetcher, &server.url(path), Kind::Page).await.unwrap_err();
            assert!(matches!(err, FetchError::TooLarge { limit: 100_000 }), "{path}: {err}");
        }
    });
}

// --------------------------------------------------------------------------------- the binary

fn write_config(dir: &Path, feeds: &[&str], allow_private: bool) -> PathBuf {
    let mut toml = format!(
        "state_dir = \"{}\"\nseeds_dir = \"{}\"\n[fetch]\nallow_private_networks = {allow_private}\n\
         per_host_delay = \"0s\"\nconnect_timeout = \"2s\"\n[server]\nlisten = \"\"\n",
        dir.join("state").display(),
        repo().join("seeds").display()
    );
    for url in feeds {
        toml.push_str(&format!("[[feeds]]\nurl = \"{url}\"\n"));
    }
    let path = dir.join("claimwatch.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

#[test]
fn run_once_with_no_network_logs_one_line_per_failing_feed_and_exits_0() {
    // A closed local port: connection refused, like a machine without network.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let feeds = [format!("http://127.0.0.1:{port}/one"), format!("http://127.0.0.1:{port}/two")];
    let config = write_config(dir.path(), &[&feeds[0], &feeds[1]], true);
    let out = claimwatch_in(Some(dir.path()), &["--config", config.to_str().unwrap(), "run", "--once"]);
    let err = plain(&stderr(&out));
    assert!(out.status.success(), "{err}");
    for feed in &feeds {
        let lines: Vec<&str> =
            err.lines().filter(|l| l.contains("feed poll failed") && l.contains(feed.as_str())).collect();
        assert_eq!(lines.len(), 1, "expected one line for {feed}:\n{err}");
        // The URL once per line (not again in the field list and in the error text).
        assert_eq!(lines[0].matches(feed.as_str()).count(), 1, "{}", lines[0]);
    }
    // A poll where every feed failed says so, once.
    assert_eq!(err.matches("2 of 2 feeds failed: no network?").count(), 1, "{err}");
    // No Rust debug syntax, no empty fields.
    for line in err.lines() {
        assert!(!line.contains("Some(") && !line.contains("=\"\"") && !line.contains("=[\""), "{line}");
    }
    let list = claimwatch_in(Some(dir.path()), &["--config", config.to_str().unwrap(), "feeds", "list"]);
    assert!(stdout(&list).contains("backing off"), "{}", stdout(&list));
}

#[test]
fn feeds_add_discovers_list_export_remove_and_import() {
    let server = TestServer::start(|r| {
        match r.path.as_str() {
        "/" => Reply::ok(
            "text/html",
            "<html><head><link rel=\"alternate\" type=\"application/rss+xml\" title=\"News\" href=\"/news.rss\"></head></html>",
        ),
        "/news.rss" => Reply::ok("application/rss+xml", rss(&[("A", "/a", "g")])),
        _ => Reply::status(404),
    }
    });
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &[], true);
    let cfg = config.to_str().unwrap();
    let run = |args: &[&str]| {
        let mut all = vec!["--config", cfg];
        all.extend_from_slice(args);
        claimwatch_in(Some(dir.path()), &all)
    };
    let out = run(&["feeds", "add", &server.url("/")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let said = stdout(&out);
    assert!(said.contains(&server.url("/news.rss")) && said.contains("alternate"), "{said}");
    assert!(stdout(&run(&["feeds", "list"])).contains(&server.url("/news.rss")));
    let opml = stdout(&run(&["feeds", "export"]));
    assert!(opml.contains(&format!("xmlUrl=\"{}\"", server.url("/news.rss"))), "{opml}");
    assert!(run(&["feeds", "remove", &server.url("/news.rss")]).status.success());
    assert!(!stdout(&run(&["feeds", "list"])).contains("news.rss"));
    let opml_file = dir.path().join("subs.opml");
    std::fs::write(&opml_file, opml).unwrap();
    let out = run(&["feeds", "import", opml_file.to_str().unwrap()]);
    assert!(stdout(&out).contains("imported 1 feeds"), "{}", stdout(&out));
    assert!(stdout(&run(&["feeds", "list"])).contains("news.rss"));
}

// --------------------------------------------------------------------------- real-world corpus

/// Every file of the shared real-world corpus (feedparser's test suite and others) goes through
/// `parse_feed` without a panic escaping; prints how many parse, how many yield items, and the
/// slowest file.
#[test]
fn the_real_world_corpus_never_panics_the_parser() {
    // The shared corpus sits beside the repository (`../shared/feeds`); a test that passes
    // because its input is missing proves nothing, so a missing corpus fails.
    let root = crate::support::repo().join("../shared/feeds");
    assert!(
        root.is_dir(),
        "the real-world feed corpus {} is missing: check out ../shared beside the repository",
        root.display()
    );
    let root = root.as_path();
    let mut files = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.to_string_lossy().ends_with(".serde.json") {
                // feed-rs's expected parses, not feeds
            } else if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("xml" | "rss" | "atom" | "rdf" | "json" | "feed")
            ) {
                files.push(path);
            }
        }
    }
    files.sort();
    let base = Url::parse("http://corpus.example/feed").unwrap();
    let (mut parsed, mut with_items, mut items, mut panicked) = (0, 0, 0, Vec::new());
    let mut slowest = (Duration::ZERO, PathBuf::new());
    let started = std::time::Instant::now();
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {})); // contained panics are counted below, not printed
    for path in &files {
        let bytes = std::fs::read(path).unwrap();
        let t0 = std::time::Instant::now();
        let result = parse::parse_feed(&bytes, None, &base);
        let took = t0.elapsed();
        if took > slowest.0 {
            slowest = (took, path.clone());
        }
        match result {
            Ok(feed) => {
                parsed += 1;
                items += feed.items.len();
                with_items += usize::from(!feed.items.is_empty());
            }
            Err(parse::ParseError::Panicked(m)) => panicked.push(format!("{}: {m}", path.display())),
            Err(_) => {}
        }
    }
    std::panic::set_hook(hook);
    eprintln!(
        "corpus: {} files, {parsed} parse, {with_items} yield items ({items} items), {} contained panics, \
         slowest {:?} ({}), total {:?}",
        files.len(),
        panicked.len(),
        slowest.0,
        slowest.1.display(),
        started.elapsed()
    );
    for p in &panicked {
        eprintln!("contained panic: {p}");
    }
    assert!(
        panicked.is_empty(),
        "feed-rs panicked on {} files (contained, but a regression)",
        panicked.len()
    );
    assert!(files.len() > 1000, "the corpus looks incomplete: {} files", files.len());
    assert!(parsed * 2 > files.len(), "fewer than half of the corpus parses: {parsed}/{}", files.len());
}

#[test]
fn the_offline_demo_polls_its_bundled_feed_once() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let args = |extra: &[&'static str]| {
        let mut all = vec!["--config", "demo/claimwatch.toml", "--state-dir", state.to_str().unwrap()];
        all.extend_from_slice(extra);
        all.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let run = |extra: &[&'static str]| {
        let a = args(extra);
        claimwatch_in(Some(repo()), &a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let added = run(&["feeds", "add", "demo/feed.xml"]);
    assert!(added.status.success(), "{}", stderr(&added));
    let once = run(&["run", "--once"]);
    let err = plain(&stderr(&once));
    assert!(once.status.success(), "{err}");
    assert!(err.lines().any(|l| l.contains("poll finished") && l.contains("new_items=5")), "{err}");
    let starting = err.lines().find(|l| l.contains("claimwatch starting")).unwrap_or_default();
    assert!(starting.contains("feeds=1 subscriptions=1"), "the subscription counts: {starting}");
    let alerts = || std::fs::read_to_string(state.join("alerts.jsonl")).unwrap_or_default().lines().count();
    let first = alerts();
    assert!(first >= 5, "the demo's new facts should alert; {first} alerts:\n{err}");
    // A second run finds nothing new and alerts nothing.
    let again = plain(&stderr(&run(&["run", "--once"])));
    assert!(again.lines().any(|l| l.contains("poll finished") && l.contains("new_items=0")), "{again}");
    assert_eq!(alerts(), first);
}

/// Log text without ANSI colour sequences.
fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn the_poller_backs_off_a_failing_feed_in_virtual_time_and_stops_on_cancel() {
    let dir = tempfile::tempdir().unwrap();
    let missing = Url::from_file_path(dir.path().join("missing.xml")).unwrap();
    let ctx = ctx_with(dir.path(), |c| c.feeds = vec![feed(missing.as_str())]);
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
    runtime.block_on(async {
        let token = tokio_util::sync::CancellationToken::new();
        let (_config_tx, config_rx) = tokio::sync::watch::channel(ctx.config.clone());
        let health = claimwatch::health::Health::new(Duration::from_secs(300));
        let poller =
            tokio::spawn(claimwatch::daemon::poller(ctx.clone(), config_rx, health.clone(), token.clone()));
        // 0, 5, 15, 35 min (±10 %); the next is due after 75 min.
        tokio::time::sleep(Duration::from_secs(3600)).await;
        let state = feeds::load_state(&ctx.store, &missing).unwrap();
        assert_eq!(state.consecutive_errors, 4, "{state:?}");
        assert!(state.last_error.as_deref().unwrap().contains("missing.xml"), "{:?}", state.last_error);
        // A day later: 75, 155, 315, 635, 1275 min → 9 attempts, never given up.
        tokio::time::sleep(Duration::from_secs(23 * 3600)).await;
        let state = feeds::load_state(&ctx.store, &missing).unwrap();
        assert_eq!(state.consecutive_errors, 9, "{state:?}");
        health.set_store(Ok(()));
        assert!(
            health.check().is_ready(),
            "the scheduler ticked in virtual time: {}",
            health.check().report()
        );
        token.cancel();
        poller.await.unwrap().unwrap();
    });
}

#[test]
fn a_gzip_bomb_is_stopped_at_the_cap_after_decompression() {
    // 20 MiB of zeros in a 20 KiB gzip body.
    let server = TestServer::start(|_| {
        Reply::ok("application/rss+xml", fixture("bomb.gz")).with_header("Content-Encoding", "gzip")
    });
    let dir = tempfile::tempdir().unwrap();
    let ctx = ctx_with(dir.path(), |c| c.fetch.max_body = 1 << 20);
    let started = std::time::Instant::now();
    let err = rt().block_on(fetch(&ctx.fetcher, &server.url("/bomb"), Kind::Feed)).unwrap_err();
    assert!(matches!(err, FetchError::TooLarge { limit } if limit == 1 << 20), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_reloaded_fetcher_still_honours_retry_after() {
    let server = TestServer::start(|_| Reply::status(429).with_header("Retry-After", "600"));
    let dir = tempfile::tempdir().unwrap();
    let ctx = ctx(dir.path());
    rt().block_on(async {
        let err = fetch(&ctx.fetcher, &server.url("/feed"), Kind::Feed).await.unwrap_err();
        assert!(matches!(err, FetchError::Status { status: 429, .. }), "{err}");
        let mut config = (*ctx.config).clone();
        config.fetch.timeout = Duration::from_secs(20);
        let reloaded = ctx.reloaded(Arc::new(config)).unwrap();
        let err = fetch(&reloaded.fetcher, &server.url("/feed"), Kind::Feed).await.unwrap_err();
        assert!(matches!(err, FetchError::RateLimited { .. }), "{err}");
    });
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn an_item_whose_page_failed_is_retried_on_the_next_poll_even_behind_a_304() {
    let page_ok = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let p2 = page_ok.clone();
    let server = TestServer::start(move |r| match (r.path.as_str(), r.header("if-none-match")) {
        ("/feed", Some("\"v1\"")) => Reply::status(304),
        ("/feed", _) => {
            Reply::ok("application/rss+xml", rss(&[("A", "/a", "g-a")])).with_header("ETag", "\"v1\"")
        }
        ("/a", _) if !p2.load(Ordering::SeqCst) => Reply::status(503),
        (path, _) => page(path),
    });
    let dir = tempfile::tempdir().unwrap();
    let ctx = ctx(dir.path());
    let f = feed(&server.url("/feed"));
    rt().block_on(async {
        let first = pipeline::refresh_feed(&ctx, &f, t("2026-01-01T00:00:00Z")).await.unwrap();
        assert_eq!(first.outcome, Outcome::Fetched { items: 1, new_items: 0, deferred: 1 });
        page_ok.store(true, Ordering::SeqCst);
        let second = pipeline::refresh_feed(&ctx, &f, t("2026-01-01T01:00:00Z")).await.unwrap();
        assert_eq!(second.outcome, Outcome::Fetched { items: 1, new_items: 1, deferred: 0 });
        let third = pipeline::refresh_feed(&ctx, &f, t("2026-01-01T02:00:00Z")).await.unwrap();
        assert_eq!(third.outcome, Outcome::NotModified);
    });
}

#[test]
fn fetch_blocking_serves_command_line_tools_under_the_same_rules() {
    let server = TestServer::start(|_| page("One page"));
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path());
    let url = Url::parse(&server.url("/article")).unwrap();
    let fetched = claimwatch::fetch::fetch_blocking(&config.fetch, &url, Kind::Page).unwrap();
    assert!(String::from_utf8_lossy(&fetched.body).contains("One page body text."));
    let mut strict = config.fetch.clone();
    strict.allow_private_networks = false;
    let err = claimwatch::fetch::fetch_blocking(&strict, &url, Kind::Page).unwrap_err();
    assert!(matches!(err, FetchError::Blocked(_)), "{err}");
    assert_eq!(server.requests().len(), 1);
}
