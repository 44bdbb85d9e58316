//! Push channels against local stand-ins of each service on 127.0.0.1, answering as the
//! service's documentation says: ntfy (`POST /{topic}`, sequence id replaces), a Slack incoming
//! webhook (`"ok"`, 429 with Retry-After), Telegram `sendMessage` (`{"ok":true}`, 429 with
//! `parameters.retry_after`), Matrix `PUT …/send/m.room.message/{txnId}` (the homeserver
//! deduplicates a transaction id; 429 with `retry_after_ms`), and a real SMTP server (Python
//! aiosmtpd, installed by `.ci/run`). The daemon is killed with SIGKILL while it delivers to
//! all of them; nothing is lost, and the services with an idempotency key show nothing twice.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use claimwatch::alert::channels::{ChannelSink, Target};
use claimwatch::alert::outbox::{ChannelId, SinkKind};
use claimwatch::config::{ChannelConfig, Filter};
use claimwatch::store::Store;

use crate::alerts::{run_sink, store_with, waiting};
use crate::support::{
    claim_daemon_config, claimwatch, stderr, stdout, ClaimFeed, Daemon, Reply, Request, TestServer,
};

// ------------------------------------------------------------------------------ service stand-ins

#[derive(Debug, Clone, Copy, PartialEq)]
enum Service {
    Ntfy,
    Slack,
    Telegram,
    Matrix,
}

/// One message a stand-in accepted: its dedup key (sequence id, transaction id, or none) and
/// its text.
#[derive(Debug, Clone)]
struct Accepted {
    key: Option<String>,
    text: String,
}

/// A stand-in of one service. Answers each request with the next scripted failure status, then
/// with success; records what it accepted.
struct Fake {
    service: Service,
    server: TestServer,
    accepted: Arc<Mutex<Vec<Accepted>>>,
}

impl Fake {
    fn start(service: Service, failures: &[u16], delay: Duration) -> Fake {
        let script = Arc::new(Mutex::new(failures.iter().copied().collect::<VecDeque<u16>>()));
        let accepted: Arc<Mutex<Vec<Accepted>>> = Arc::default();
        let record = accepted.clone();
        let server = TestServer::start(move |r: &Request| {
            std::thread::sleep(delay);
            if let Some(status) = script.lock().unwrap().pop_front() {
                return failure(service, status);
            }
            let Some((key, text)) = message_of(service, r) else { return failure(service, 400) };
            let mut accepted = record.lock().unwrap();
            // Matrix: a transaction id already seen returns the first event, nothing new.
            if service == Service::Matrix && accepted.iter().any(|a| a.key == key) {
                return Reply::ok("application/json", r#"{"event_id":"$seen"}"#);
            }
            // ntfy ≥ 2.16: a sequence id already seen updates that notification in place.
            if service == Service::Ntfy {
                if let Some(old) = accepted.iter_mut().find(|a| a.key == key) {
                    old.text = text;
                    return Reply::ok("application/json", r#"{"id":"upd","event":"message"}"#);
                }
            }
            accepted.push(Accepted { key, text });
            success(service)
        });
        Fake { service, server, accepted }
    }

    fn url(&self) -> String {
        let addr = self.server.addr;
        match self.service {
            Service::Ntfy => format!("ntfy://tk_test@{addr}/alerts"),
            Service::Slack => format!("slack+http://{addr}/hooks/T1/B2/x"),
            Service::Telegram => format!("tgram://123456:ABC-def/-1001?api=http://{addr}/"),
            Service::Matrix => format!("matrix://syt_token@{addr}/!room:localhost"),
        }
    }

    fn accepted(&self) -> Vec<Accepted> {
        self.accepted.lock().unwrap().clone()
    }
}

/// What the service says when it fails with `status`.
fn failure(service: Service, status: u16) -> Reply {
    let json = |body: &str| Reply::Full {
        status,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: body.as_bytes().to_vec(),
    };
    match (service, status) {
        (Service::Ntfy, 429) => {
            json(r#"{"code":42901,"http":429,"error":"limit reached: too many requests"}"#)
                .with_header("Retry-After", "1")
        }
        (Service::Ntfy, _) => json(&format!(r#"{{"code":{status}00,"http":{status},"error":"failed"}}"#)),
        (Service::Slack, 429) => Reply::status(429).with_header("Retry-After", "1"),
        (Service::Slack, 400) => Reply::Full { status, headers: vec![], body: b"invalid_payload".to_vec() },
        (Service::Slack, _) => Reply::Full { status, headers: vec![], body: b"internal_error".to_vec() },
        (Service::Telegram, 429) => json(
            r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 1","parameters":{"retry_after":1}}"#,
        ),
        (Service::Telegram, _) => {
            json(&format!(r#"{{"ok":false,"error_code":{status},"description":"failed"}}"#))
        }
        (Service::Matrix, 429) => {
            json(r#"{"errcode":"M_LIMIT_EXCEEDED","error":"Too many requests","retry_after_ms":1000}"#)
        }
        (Service::Matrix, 401) => json(r#"{"errcode":"M_UNKNOWN_TOKEN","error":"Invalid access token"}"#),
        (Service::Matrix, _) => json(r#"{"errcode":"M_UNKNOWN","error":"failed"}"#),
    }
}

fn success(service: Service) -> Reply {
    match service {
        Service::Ntfy => {
            Reply::ok("application/json", r#"{"id":"hwQ2YpKdmg","event":"message","topic":"alerts"}"#)
        }
        Service::Slack => Reply::ok("text/html", "ok"),
        Service::Telegram => Reply::ok("application/json", r#"{"ok":true,"result":{"message_id":7}}"#),
        Service::Matrix => Reply::ok("application/json", r#"{"event_id":"$ev"}"#),
    }
}

/// The request as the documented endpoint takes it, or None (answered 400).
fn message_of(service: Service, r: &Request) -> Option<(Option<String>, String)> {
    let body = String::from_utf8_lossy(&r.body).into_owned();
    let json = || serde_json::from_str::<serde_json::Value>(&body).ok();
    match service {
        Service::Ntfy => {
            let ok = r.method == "POST"
                && r.path == "/alerts"
                && r.header("Authorization") == Some("Bearer tk_test")
                && r.header("Title").is_some()
                && r.header("Priority").is_some_and(|p| ["3", "4"].contains(&p));
            ok.then(|| (r.header("X-Sequence-ID").map(str::to_string), body))
        }
        Service::Slack => {
            let text = json()?["text"].as_str()?.to_string();
            (r.method == "POST" && r.path == "/hooks/T1/B2/x").then_some((None, text))
        }
        Service::Telegram => {
            let v = json()?;
            let ok =
                r.method == "POST" && r.path == "/bot123456:ABC-def/sendMessage" && v["chat_id"] == "-1001";
            ok.then(|| (None, v["text"].as_str().unwrap_or("").to_string()))
        }
        Service::Matrix => {
            let prefix = "/_matrix/client/v3/rooms/!room:localhost/send/m.room.message/";
            let txn = r.path.strip_prefix(prefix)?.to_string();
            let v = json()?;
            let ok = r.method == "PUT"
                && r.header("Authorization") == Some("Bearer syt_token")
                && v["msgtype"] == "m.text"
                && v["format"] == "org.matrix.custom.html"
                && v["formatted_body"].as_str().is_some_and(|h| h.contains("<p>"));
            ok.then(|| (Some(txn), v["body"].as_str().unwrap_or("").to_string()))
        }
    }
}

fn channel(url: &str) -> ChannelConfig {
    let target = Target::parse(url).unwrap();
    ChannelConfig {
        id: ChannelId::of(url),
        label: target.label(),
        target,
        filter: Filter::default(),
        digest_window: Duration::ZERO,
        timeout: Duration::from_secs(2),
        give_up_after: Duration::from_secs(3600),
        min_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
    }
}

async fn drain_channel(
    config: ChannelConfig,
    store: &Store,
    limit: Duration,
    done: impl Fn() -> bool,
) -> bool {
    let sink = ChannelSink::new(config, "claimwatch-test", store).unwrap();
    run_sink(sink, store, limit, done).await
}

// ------------------------------------------------------------------------- one channel at a time

#[tokio::test]
async fn each_http_channel_retries_5xx_and_429_after_the_services_wait_and_delivers_each_alert_once() {
    for service in [Service::Ntfy, Service::Slack, Service::Telegram, Service::Matrix] {
        let dir = tempfile::tempdir().unwrap();
        let fake = Fake::start(service, &[503, 429], Duration::ZERO);
        let config = channel(&fake.url());
        let kind = SinkKind::Channel(config.id);
        let store = store_with(dir.path(), &[kind], &["00000000000000a1", "00000000000000a2"]);
        let done = || waiting(&store, kind) == 0;
        assert!(drain_channel(config, &store, Duration::from_secs(15), done).await, "{service:?}");
        let accepted = fake.accepted();
        assert_eq!(accepted.len(), 2, "{service:?}: {accepted:?}");
        assert!(accepted[0].text.contains("claim 00000000000000a1"), "{service:?}: {accepted:?}");
        assert!(accepted[1].text.contains("claim 00000000000000a2"), "{service:?}: {accepted:?}");
        let requests = fake.server.requests();
        assert_eq!(requests.len(), 4, "{service:?}: 503, 429, then one request per alert");
        let waited = requests[2].received_at - requests[1].received_at;
        assert!(
            waited >= Duration::from_millis(950),
            "{service:?}: the service's wait of 1 s not honoured: {waited:?}"
        );
        if service == Service::Matrix {
            let txns: Vec<&str> = requests.iter().map(|r| r.path.rsplit('/').next().unwrap()).collect();
            assert_eq!(
                txns,
                ["00000000000000a1"; 3].iter().copied().chain(["00000000000000a2"]).collect::<Vec<_>>()
            );
        }
        if service == Service::Ntfy {
            let ids: Vec<&str> = requests.iter().map(|r| r.header("X-Sequence-ID").unwrap()).collect();
            assert_eq!(ids, ["00000000000000a1", "00000000000000a1", "00000000000000a1", "00000000000000a2"]);
        }
    }
}

#[tokio::test]
async fn a_4xx_drops_only_that_alert_and_a_401_keeps_every_alert() {
    let dir = tempfile::tempdir().unwrap();
    let slack = Fake::start(Service::Slack, &[400], Duration::ZERO);
    let config = channel(&slack.url());
    let kind = SinkKind::Channel(config.id);
    let store = store_with(dir.path(), &[kind], &["00000000000000b1", "00000000000000b2"]);
    assert!(drain_channel(config, &store, Duration::from_secs(10), || waiting(&store, kind) == 0).await);
    let texts: Vec<String> = slack.accepted().into_iter().map(|a| a.text).collect();
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(texts[0].contains("claim 00000000000000b2"), "the refused b1 is not retried: {texts:?}");

    // A bad token is the operator's to fix: the alerts stay until it works.
    let dir = tempfile::tempdir().unwrap();
    let matrix = Fake::start(Service::Matrix, &[401, 401], Duration::ZERO);
    let config = channel(&matrix.url());
    let kind = SinkKind::Channel(config.id);
    let store = store_with(dir.path(), &[kind], &["00000000000000b3"]);
    let done = || waiting(&store, kind) == 0;
    assert!(drain_channel(config, &store, Duration::from_secs(10), done).await);
    assert_eq!(matrix.server.requests().len(), 3, "two refusals, then the delivery");
    assert_eq!(matrix.accepted().len(), 1);
}

#[tokio::test]
async fn a_filter_lets_through_only_matching_claims_and_a_digest_sends_them_together() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::start(Service::Slack, &[], Duration::ZERO);
    let mut config = channel(&fake.url());
    config.filter = Filter { keywords: vec!["c2".into(), "c3".into()], ..Filter::default() };
    config.digest_window = Duration::from_millis(300);
    let kind = SinkKind::Channel(config.id);
    let store = store_with(dir.path(), &[kind], &["c1", "c2", "c3"]);
    assert!(drain_channel(config, &store, Duration::from_secs(10), || waiting(&store, kind) == 0).await);
    let accepted = fake.accepted();
    assert_eq!(accepted.len(), 1, "one digest: {accepted:?}");
    let text = &accepted[0].text;
    assert!(text.contains("claim c2") && text.contains("claim c3") && !text.contains("claim c1"), "{text}");
}

#[tokio::test]
async fn min_sources_counts_the_sources_stored_when_the_digest_window_closes() {
    use claimwatch::store::records::{self, ClaimProvenance, ClaimProvenanceV1, ProvenanceSourceV1};
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::start(Service::Slack, &[], Duration::ZERO);
    let mut config = channel(&fake.url());
    config.filter = Filter { min_sources: 2, ..Filter::default() };
    config.digest_window = Duration::from_millis(200);
    let kind = SinkKind::Channel(config.id);
    let store = store_with(dir.path(), &[kind], &["spread", "alone"]);
    // "spread" was repeated by two more articles after it was alerted; "alone" was not.
    let provenance = store.tree(claimwatch::store::trees::CLAIM_PROVENANCE).unwrap();
    for (id, count) in [("spread", 3), ("alone", 1)] {
        let record = ClaimProvenance::V1(ClaimProvenanceV1 {
            text: format!("claim {id}"),
            lang: "en".into(),
            first_seen: 0,
            story: 1,
            seed: false,
            entities: vec![],
            numbers: vec![],
            source_count: count,
            langs: vec!["en".into()],
            sources: vec![ProvenanceSourceV1 {
                url: "https://x.org/1".into(),
                feed: None,
                lang: "en".into(),
                seen_at: 0,
            }],
        });
        provenance.insert(id, records::encode(&record)).unwrap();
    }
    assert!(drain_channel(config, &store, Duration::from_secs(10), || waiting(&store, kind) == 0).await);
    let texts: Vec<String> = fake.accepted().into_iter().map(|a| a.text).collect();
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(texts[0].contains("claim spread") && !texts[0].contains("claim alone"), "{texts:?}");
}

// ------------------------------------------------------------------------------------- config

/// `dir/claimwatch.toml` holding `text`.
fn config_file(dir: &Path, text: &str) -> PathBuf {
    let file = dir.join("claimwatch.toml");
    std::fs::write(&file, text).unwrap();
    file
}

#[test]
fn a_malformed_channel_url_and_an_unknown_filter_field_exit_78_naming_key_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = config_file(
        dir.path(),
        "[[alerts.channels]]\nurl = \"tgram://no-token-here\"\n\
         [[alerts.channels]]\nurl = \"ntfys://ntfy.sh/topic\"\n[alerts.channels.filter]\nlanguage = [\"uk\"]\n\
         [[alerts.channels]]\nurl = \"gopher://x/y\"\n",
    );
    let out = claimwatch(&["--config", file.to_str().unwrap(), "config", "check"]);
    assert_eq!(out.status.code(), Some(78), "{}", stderr(&out));
    let err = stderr(&out);
    let canonical = std::fs::canonicalize(&file).unwrap();
    for needle in [
        "`alerts.channels[0].url`",
        "tgram://BOT_TOKEN/CHAT_ID",
        "unknown filter field `alerts.channels[1].filter.language`",
        "`alerts.channels[2].url`",
        "unknown channel scheme \"gopher\"",
    ] {
        assert!(err.contains(needle), "{needle:?} missing in:\n{err}");
    }
    assert!(err.contains(&canonical.display().to_string()), "the file is named:\n{err}");
    assert!(!err.contains("no-token-here"), "a secret is repeated:\n{err}");
}

#[test]
fn config_show_masks_channel_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let file = config_file(
        dir.path(),
        "[[alerts.channels]]\nurl = \"tgram://123456:SECRETBOT/-1001\"\n\
         [[alerts.channels]]\nname = \"desk\"\nurl = \"mailtos://me%40x.org:SECRETPW@smtp.x.org?to=a@x.org\"\n\
         digest_window = \"15m\"\n[alerts.channels.filter]\nlangs = [\"uk\"]\nmin_sources = 2\n",
    );
    let out = claimwatch(&["--config", file.to_str().unwrap(), "config", "show"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let shown = stdout(&out);
    assert!(!shown.contains("SECRET"), "{shown}");
    assert!(shown.contains("tgram://***/***") && shown.contains("mailtos://***@smtp.x.org?***"), "{shown}");
    let out = claimwatch(&["--config", file.to_str().unwrap(), "config", "check"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("telegram:api.telegram.org, desk"), "{}", stdout(&out));
}

// ------------------------------------------------------------------------------------------ SMTP

fn smtp_python() -> Option<PathBuf> {
    crate::support::python_with("aiosmtpd")
}

/// aiosmtpd on 127.0.0.1 (login `cw` / `secret` required), writing each accepted message to
/// `dir` as N.eml; it answers 451 to the first `fail_first` messages. Killed when dropped.
struct SmtpServer {
    child: std::process::Child,
    port: u16,
    dir: PathBuf,
}

impl SmtpServer {
    fn start(python: &Path, dir: &Path, fail_first: usize) -> SmtpServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        std::fs::create_dir_all(dir).unwrap();
        let script = crate::support::repo().join("tests/it/smtp_server.py");
        let mut child = std::process::Command::new(python)
            .arg(script)
            .args([&port.to_string(), dir.to_str().unwrap(), &fail_first.to_string()])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("start the SMTP server");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "READY", "the SMTP server did not start");
        SmtpServer { child, port, dir: dir.to_path_buf() }
    }

    /// The messages received, in order.
    fn messages(&self) -> Vec<String> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect();
        files.sort();
        files.iter().map(|f| std::fs::read_to_string(f).unwrap()).collect()
    }

    fn url(&self, login: &str) -> String {
        format!(
            "mailto://{login}127.0.0.1:{}?tls=none&to=desk@example.org&from=claimwatch@example.org",
            self.port
        )
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A message's text with quoted-printable soft line breaks undone.
fn unfold(mail: &str) -> String {
    mail.replace("=\r\n", "").replace("=\n", "")
}

#[tokio::test]
async fn email_arrives_once_per_alert_with_plain_and_html_parts_and_the_alert_id_as_message_id() {
    let Some(python) = smtp_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let smtp = SmtpServer::start(&python, &dir.path().join("mail"), 1);
    let config = channel(&smtp.url("cw:secret@"));
    let kind = SinkKind::Channel(config.id);
    let store = store_with(dir.path(), &[kind], &["00000000000000e1", "00000000000000e2"]);
    assert!(drain_channel(config, &store, Duration::from_secs(20), || waiting(&store, kind) == 0).await);
    let mails = smtp.messages();
    assert_eq!(mails.len(), 2, "the 451 was retried, nothing doubled: {mails:#?}");
    for (mail, id) in mails.iter().zip(["00000000000000e1", "00000000000000e2"]) {
        let mail = unfold(mail);
        assert!(mail.contains(&format!("Message-ID: <{id}@claimwatch>")), "{mail}");
        assert!(
            mail.contains("multipart/alternative")
                && mail.contains("text/plain")
                && mail.contains("text/html"),
            "{mail}"
        );
        assert!(
            mail.contains("To: desk@example.org") && mail.contains("From: claimwatch@example.org"),
            "{mail}"
        );
        assert!(mail.contains(&format!("claim {id}")), "{mail}");
    }

    // Wrong credentials: refused, said so, and nothing is dropped.
    let config = channel(&smtp.url("cw:wrong@"));
    let kind = SinkKind::Channel(config.id);
    let store = store_with(&dir.path().join("2"), &[kind], &["00000000000000e3"]);
    let started = Instant::now();
    let never = || started.elapsed() > Duration::from_millis(800);
    drain_channel(config, &store, Duration::from_secs(5), never).await;
    assert_eq!(waiting(&store, kind), 1, "the alert stays while the login is refused");
    assert_eq!(smtp.messages().len(), 2);
}

#[tokio::test]
async fn an_unreachable_smtp_host_keeps_the_alerts() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let config = channel(&format!("mailto://127.0.0.1:{port}?tls=none&to=a@example.org&from=b@example.org"));
    let kind = SinkKind::Channel(config.id);
    let store = store_with(dir.path(), &[kind], &["00000000000000f1"]);
    let started = Instant::now();
    drain_channel(config, &store, Duration::from_secs(5), || started.elapsed() > Duration::from_millis(500))
        .await;
    assert_eq!(waiting(&store, kind), 1);
}

// --------------------------------------------------------------------- the daemon, across SIGKILL

/// The items of the test feed whose claims are in `texts`, with how often each appears.
fn items_in(texts: impl IntoIterator<Item = String>) -> BTreeMap<usize, usize> {
    let mut items = BTreeMap::new();
    for text in texts {
        for part in text.split("agreed that ").skip(1) {
            let n: usize = part.split_whitespace().next().and_then(|w| w.parse().ok()).expect("a number");
            *items.entry((n - 5000) / 37).or_insert(0) += 1;
        }
    }
    items
}

#[test]
fn sigkill_while_delivering_to_every_channel_loses_nothing_and_repeats_nothing_where_the_service_deduplicates(
) {
    const ITEMS: usize = 12;
    const KILLS: usize = 4;
    let python = smtp_python();
    let dir = tempfile::tempdir().unwrap();
    let feed = ClaimFeed::start(ITEMS, Duration::from_millis(20));
    // Slow services and some failures widen the window in which a kill lands mid-delivery.
    let fakes: Vec<Fake> = [Service::Ntfy, Service::Slack, Service::Telegram, Service::Matrix]
        .into_iter()
        .map(|s| Fake::start(s, &[503, 429, 500], Duration::from_millis(60)))
        .collect();
    let smtp = python.as_deref().map(|p| SmtpServer::start(p, &dir.path().join("mail"), 1));
    let mut urls: Vec<String> = fakes.iter().map(Fake::url).collect();
    urls.extend(smtp.as_ref().map(|s| s.url("cw:secret@")));
    let mut alerts = String::from("[alerts]\nlog = false\n[alerts.jsonl]\nenabled = false\n");
    for url in &urls {
        alerts.push_str(&format!(
            "[[alerts.channels]]\nurl = \"{url}\"\nmin_backoff = \"50ms\"\nmax_backoff = \"300ms\"\ntimeout = \"3s\"\n"
        ));
    }
    let config = claim_daemon_config(dir.path(), &feed, &alerts);
    let args = ["--config", config.to_str().unwrap(), "run"];
    let mut rng = fastrand::Rng::with_seed(7);
    for _ in 0..KILLS {
        let mut daemon = Daemon::start(&args, &[]);
        daemon.wait_for("claimwatch starting", Duration::from_secs(60));
        daemon.wait_for("new article", Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(rng.u64(0..300)));
        daemon.signal("KILL");
        daemon.wait(Duration::from_secs(30));
    }
    let everything: BTreeSet<usize> = (0..ITEMS).collect();
    let texts = |fake: &Fake| fake.accepted().into_iter().map(|a| a.text);
    let delivered_before: usize = fakes.iter().map(|f| f.accepted().len()).sum();
    eprintln!("{delivered_before} messages accepted by the HTTP channels before the last run");
    let mut last = Daemon::start(&args, &[]);
    last.wait_for("claimwatch starting", Duration::from_secs(60));
    last.wait_until("every channel holds every claim", Duration::from_secs(180), || {
        fakes.iter().all(|f| items_in(texts(f)).keys().copied().collect::<BTreeSet<_>>() == everything)
            && smtp.as_ref().is_none_or(|s| items_in(s.messages().iter().map(|m| unfold(m))).len() == ITEMS)
    });
    last.signal("TERM");
    assert_eq!(last.wait(Duration::from_secs(30)), Some(0), "{}", last.log());
    for fake in &fakes {
        let counts = items_in(texts(fake));
        let shown: usize = counts.values().sum();
        match fake.service {
            // Transaction id / sequence id: the service recognises a retry.
            Service::Matrix | Service::Ntfy => {
                assert!(
                    counts.values().all(|&n| n == 1),
                    "{:?} shows a claim twice: {counts:?}",
                    fake.service
                )
            }
            // No idempotency key: at most the message in flight at each kill repeats.
            Service::Slack | Service::Telegram => {
                assert!(shown <= ITEMS + KILLS, "{:?}: {shown} messages for {ITEMS} claims", fake.service)
            }
        }
    }
    if let Some(smtp) = &smtp {
        // A Message-ID per alert: count distinct ids, each claim's mail at least once.
        let ids: BTreeSet<String> = smtp
            .messages()
            .iter()
            .filter_map(|m| m.lines().find(|l| l.starts_with("Message-ID:")).map(str::to_string))
            .collect();
        assert_eq!(ids.len(), ITEMS, "one Message-ID per claim");
        assert!(smtp.messages().len() <= ITEMS + KILLS);
    }
}

#[test]
fn a_reload_adds_and_removes_a_channel_and_it_gets_exactly_the_claims_committed_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let feed = ClaimFeed::start(2, Duration::ZERO);
    let slack = Fake::start(Service::Slack, &[], Duration::ZERO);
    let jsonl = dir.path().join("alerts.jsonl");
    let base = crate::support::jsonl_alerts(&jsonl);
    let channel = format!("[[alerts.channels]]\nname = \"desk\"\nurl = \"{}\"\n", slack.url());
    let config = claim_daemon_config(dir.path(), &feed, &base);
    let mut daemon = Daemon::start(&["--config", config.to_str().unwrap(), "run"], &[]);
    let reload = |alerts: &str| {
        claim_daemon_config(dir.path(), &feed, alerts);
        daemon.signal("HUP");
        daemon.wait_for("alert sinks reloaded", Duration::from_secs(30))
    };
    let alerted = || crate::support::items_alerted(&jsonl).len();
    daemon.wait_until("items 0 and 1 alerted", Duration::from_secs(60), || alerted() >= 2);

    let line = reload(&format!("{base}{channel}"));
    assert!(line.contains("desk"), "{line}");
    feed.grow_to(3);
    daemon.wait_until("item 2 on the channel", Duration::from_secs(60), || !slack.accepted().is_empty());

    reload(&base);
    feed.grow_to(4);
    daemon.wait_until("item 3 alerted", Duration::from_secs(60), || alerted() >= 4);
    daemon.signal("TERM");
    assert_eq!(daemon.wait(Duration::from_secs(30)), Some(0), "{}", daemon.log());
    let items = items_in(slack.accepted().into_iter().map(|a| a.text));
    assert_eq!(items, BTreeMap::from([(2, 1)]), "only the claim committed while the channel was configured");
}
