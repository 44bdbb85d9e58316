//! Hostile input (issue 7): servers and documents that try to hang, exhaust or trick the daemon.
//! Each case runs against a real local server and asserts a clear, classified failure (or inert
//! success) without wall-clock assertions on speed: every loop is bounded by the fetcher's own
//! timeouts and caps, and "no connection" is proven on the listener side by counting accepts.
//! A final test runs the daemon (`run --once`) over all hostile feeds plus one good one: it
//! exits 0, processes the good feed, and logs one line per bad feed naming the feed and the cause.

use std::io::Write;
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use claimwatch::config::Config;
use claimwatch::fetch::{FetchError, FetchOutcome, Fetcher, Kind, Request};
use claimwatch::parse;
use url::Url;

use crate::support::{claimwatch_in, stderr, Reply, TestServer};

const MIB: u64 = 1 << 20;

/// Defaults with loopback allowed (the test servers live there) and short, bounded timeouts.
fn config() -> Config {
    let mut config = Config::defaults_with_state_dir(std::path::Path::new("/nonexistent"));
    config.fetch.allow_private_networks = true;
    config.fetch.per_host_delay = Duration::ZERO;
    config.fetch.connect_timeout = Duration::from_secs(2);
    config.fetch.read_timeout = Duration::from_secs(2);
    config.fetch.timeout = Duration::from_secs(4);
    config
}

fn fetcher() -> Fetcher {
    Fetcher::new(&config().fetch).unwrap()
}

fn fetch_with(fetcher: &Fetcher, url: &str) -> Result<FetchOutcome, FetchError> {
    let url = Url::parse(url).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(fetcher.fetch(Request { url: &url, kind: Kind::Feed, validators: None, allow_file: false }))
}

fn fetch(url: &str) -> Result<FetchOutcome, FetchError> {
    fetch_with(&fetcher(), url)
}

#[track_caller]
fn expect_error(result: Result<FetchOutcome, FetchError>, class: &str) -> FetchError {
    match result {
        Ok(FetchOutcome::Fetched(f)) => panic!("expected a {class} error, got {} bytes", f.body.len()),
        Ok(other) => panic!("expected a {class} error, got {other:?}"),
        Err(error) => {
            assert_eq!(error.class(), class, "{error}");
            error
        }
    }
}

/// A listener that counts the connections it accepts (and answers none).
struct Listener {
    addr: std::net::SocketAddr,
    accepted: Arc<AtomicUsize>,
}

impl Listener {
    fn start(bind: &str) -> Option<Listener> {
        let listener = TcpListener::bind(bind).ok()?;
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                counter.fetch_add(1, Ordering::SeqCst);
                drop(stream);
            }
        });
        Some(Listener { addr, accepted })
    }

    fn accepted(&self) -> usize {
        // Give a connection that might be in flight the chance to be counted.
        std::thread::sleep(Duration::from_millis(100));
        self.accepted.load(Ordering::SeqCst)
    }
}

fn stream_reply(head: &str, total: u64, chunk: &[u8]) -> (Reply, Arc<AtomicU64>) {
    let written = Arc::new(AtomicU64::new(0));
    let reply =
        Reply::Stream { head: head.to_string(), chunk: chunk.to_vec(), total, written: written.clone() };
    (reply, written)
}

// ---------------------------------------------------------------------------- slow and silent

#[test]
fn a_drip_server_is_cut_off_by_the_timeout() {
    let server = TestServer::start(|_| Reply::Drip {
        body: vec![b'x'; 10_000],
        every: Duration::from_millis(250),
        limit: Duration::from_secs(20),
    });
    expect_error(fetch(&server.url("/drip.xml")), "timeout");
}

#[test]
fn a_server_that_never_sends_headers_times_out() {
    let server = TestServer::start(|_| Reply::Silent { hold: Duration::from_secs(20) });
    expect_error(fetch(&server.url("/silent.xml")), "timeout");
}

#[test]
fn a_closed_port_is_a_connect_error() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    expect_error(fetch(&format!("http://127.0.0.1:{port}/feed.xml")), "connect");
}

// ---------------------------------------------------------------------------------- big bodies

#[test]
fn a_100_mb_body_with_content_length_is_refused_without_reading_it() {
    let (reply, written) = stream_reply(
        "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: 104857600",
        100 * MIB,
        &[b'a'; 64 * 1024],
    );
    let reply = std::sync::Mutex::new(Some(reply));
    let server = TestServer::start(move |_| reply.lock().unwrap().take().unwrap_or(Reply::status(410)));
    expect_error(fetch(&server.url("/big.xml")), "too_large");
    assert!(written.load(Ordering::SeqCst) < 100 * MIB, "the client read the whole body");
}

#[test]
fn a_100_mb_body_without_content_length_is_cut_at_the_cap() {
    let (reply, written) = stream_reply(
        "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nConnection: close",
        100 * MIB,
        &[b'a'; 64 * 1024],
    );
    let reply = std::sync::Mutex::new(Some(reply));
    let server = TestServer::start(move |_| reply.lock().unwrap().take().unwrap_or(Reply::status(410)));
    expect_error(fetch(&server.url("/big.xml")), "too_large");
    // The cap is 15 MiB; socket buffers may hold a few MiB more on the server side.
    assert!(written.load(Ordering::SeqCst) < 40 * MIB, "read far past the cap");
}

fn gzip_of_zeros(n: u64) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let block = vec![0u8; 1 << 20];
    for _ in 0..n / (1 << 20) {
        encoder.write_all(&block).unwrap();
    }
    encoder.finish().unwrap()
}

fn brotli_of_zeros(n: u64) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
        let block = vec![0u8; 1 << 20];
        for _ in 0..n / (1 << 20) {
            encoder.write_all(&block).unwrap();
        }
    }
    out
}

#[test]
fn a_gzip_bomb_is_cut_at_the_cap_after_decompression() {
    let bomb = gzip_of_zeros(200 * MIB);
    assert!(bomb.len() < 1 << 20, "the bomb is small on the wire: {}", bomb.len());
    let server = TestServer::start(move |_| {
        Reply::ok("application/rss+xml", bomb.clone()).with_header("Content-Encoding", "gzip")
    });
    expect_error(fetch(&server.url("/bomb.xml")), "too_large");
}

#[test]
fn a_brotli_bomb_is_cut_at_the_cap_after_decompression() {
    let bomb = brotli_of_zeros(200 * MIB);
    assert!(bomb.len() < 1 << 20, "the bomb is small on the wire: {}", bomb.len());
    let server = TestServer::start(move |_| {
        Reply::ok("application/rss+xml", bomb.clone()).with_header("Content-Encoding", "br")
    });
    expect_error(fetch(&server.url("/bomb.xml")), "too_large");
}

// ----------------------------------------------------------------------------------- redirects

#[test]
fn a_redirect_loop_stops_at_the_limit() {
    let server = TestServer::start(|r| {
        let next = if r.path == "/a" { "/b" } else { "/a" };
        Reply::status(302).with_header("Location", next)
    });
    expect_error(fetch(&server.url("/a")), "redirect");
    assert!(server.requests().len() <= 6, "{} requests for a loop", server.requests().len());
}

#[test]
fn a_20_hop_chain_is_refused_after_5_hops() {
    let server = TestServer::start(|r| {
        let hop: u32 = r.path.trim_start_matches("/hop/").parse().unwrap_or(0);
        if hop >= 20 {
            Reply::ok(
                "application/rss+xml",
                "<rss version=\"2.0\"><channel><title>end</title></channel></rss>",
            )
        } else {
            Reply::status(301).with_header("Location", &format!("/hop/{}", hop + 1))
        }
    });
    expect_error(fetch(&server.url("/hop/0")), "redirect");
    assert_eq!(server.requests().len(), 6, "the first request and 5 hops, no more");
}

// ------------------------------------------------------------------------- rate limits, errors

#[test]
fn retry_after_on_503_keeps_the_next_request_to_that_host_local() {
    let server = TestServer::start(|_| Reply::status(503).with_header("Retry-After", "120"));
    let fetcher = fetcher();
    let first = expect_error(fetch_with(&fetcher, &server.url("/feed.xml")), "http_5xx");
    assert_eq!(first.retry_after(), Some(Duration::from_secs(120)));
    let second = fetch_with(&fetcher, &server.url("/other.xml"));
    assert_eq!(second.unwrap_err().class(), "rate_limited");
    assert_eq!(server.requests().len(), 1, "the host was not asked again inside its Retry-After");
}

#[test]
fn a_500_is_a_retryable_error() {
    let server = TestServer::start(|_| Reply::status(500));
    let error = expect_error(fetch(&server.url("/feed.xml")), "http_5xx");
    assert!(error.is_retryable());
}

// ------------------------------------------------------------------------------ bad documents

fn base() -> Url {
    Url::parse("https://news.example.org/feed.xml").unwrap()
}

#[test]
fn html_served_as_a_feed_is_a_parse_error_not_a_panic() {
    let html = b"<!doctype html><html><head><title>Not a feed</title></head><body><p>hello</p></body></html>";
    let result = parse::parse_feed(html, Some("application/rss+xml"), &base());
    assert!(result.as_ref().map(|p| p.items.is_empty()).unwrap_or(true), "{result:?}");
}

#[test]
fn truncated_xml_and_binary_garbage_do_not_panic() {
    let full = "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>T</title>\
                <item><title>One</title><link>https://news.example.org/1</link></item>\
                <item><title>Two</title><link>https://news.example.org/2</link></item></channel></rss>";
    for cut in (0..full.len()).step_by(7) {
        let _ = parse::parse_feed(&full.as_bytes()[..cut], Some("application/rss+xml"), &base());
    }
    let mut rng = fastrand::Rng::with_seed(42);
    for len in [0, 1, 3, 100, 4096, 65536] {
        let garbage: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
        let _ = parse::parse_feed(&garbage, None, &base());
        let mut prefixed = b"<?xml version=\"1.0\" encoding=\"utf-8\"?><rss>".to_vec();
        prefixed.extend_from_slice(&garbage);
        let _ = parse::parse_feed(&prefixed, None, &base());
    }
}

#[test]
fn billion_laughs_is_inert() {
    let mut xml = String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE rss [\n<!ENTITY lol \"lol\">\n");
    let mut previous = "lol".to_string();
    for i in 1..10 {
        let name = format!("lol{i}");
        xml.push_str(&format!("<!ENTITY {name} \"{}\">\n", format!("&{previous};").repeat(10)));
        previous = name;
    }
    xml.push_str(&format!(
        "]>\n<rss version=\"2.0\"><channel><title>&{previous};</title><item><title>&{previous};</title>\
         <link>https://news.example.org/1</link><description>&{previous};</description></item></channel></rss>"
    ));
    if let Ok(parsed) = parse::parse_feed(xml.as_bytes(), Some("application/rss+xml"), &base()) {
        let size: usize = parsed
            .items
            .iter()
            .map(|i| i.title.as_deref().unwrap_or("").len() + i.summary.as_deref().unwrap_or("").len())
            .sum::<usize>()
            + parsed.title.as_deref().unwrap_or("").len();
        assert!(size < 1 << 20, "entities were expanded: {size} bytes");
    }
}

#[test]
fn external_entities_are_never_fetched_or_read() {
    let listener = Listener::start("127.0.0.1:0").unwrap();
    let xml = format!(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE rss [\n<!ENTITY net SYSTEM \"http://{}/xxe\">\n\
         <!ENTITY file SYSTEM \"file:///etc/passwd\">\n<!ENTITY % param SYSTEM \"http://{}/dtd\"> %param;\n]>\n\
         <rss version=\"2.0\"><channel><title>&net;</title><item><title>&file;</title>\
         <link>https://news.example.org/1</link><description>&file;&net;</description></item></channel></rss>",
        listener.addr, listener.addr
    );
    if let Ok(parsed) = parse::parse_feed(xml.as_bytes(), Some("application/rss+xml"), &base()) {
        for item in &parsed.items {
            let text = format!("{:?} {:?}", item.title, item.summary);
            assert!(!text.contains("root:"), "/etc/passwd leaked into an item: {text}");
        }
    }
    assert_eq!(listener.accepted(), 0, "the parser connected to an external entity's URL");
}

#[test]
fn eighty_thousand_attributes_on_one_tag_do_not_hang_the_parser() {
    let mut xml = String::from("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>T</title><item ");
    for i in 0..80_000 {
        xml.push_str(&format!("a{i}=\"v\" "));
    }
    xml.push_str("><title>One</title><link>https://news.example.org/1</link></item></channel></rss>");
    let _ = parse::parse_feed(xml.as_bytes(), Some("application/rss+xml"), &base());
}

// ---------------------------------------------------------------------------------------- SSRF

#[test]
fn private_and_local_addresses_in_every_notation_are_refused_without_a_connection() {
    let listener = Listener::start("127.0.0.1:0").unwrap();
    let port = listener.addr.port();
    let mut config = config();
    config.fetch.allow_private_networks = false;
    let fetcher = Fetcher::new(&config.fetch).unwrap();
    let hosts = [
        "127.0.0.1",
        "127.1",
        "2130706433",
        "0x7f000001",
        "0x7f.0.0.1",
        "0177.0.0.1",
        "017700000001",
        "127.000.000.001",
        "[::1]",
        "[0:0:0:0:0:0:0:1]",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
        "[::127.0.0.1]",
        "localhost",
        "LOCALHOST.",
        "0.0.0.0",
        "0",
        "[::]",
        "10.0.0.1",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "[fc00::1]",
        "[fd12:3456::1]",
        "[fe80::1]",
    ];
    for host in hosts {
        let url = format!("http://{host}:{port}/feed.xml");
        let result = fetch_with(&fetcher, &url);
        match result {
            Err(error) => assert_eq!(error.class(), "blocked", "{url}: {error}"),
            Ok(_) => panic!("{url} was fetched"),
        }
    }
    assert_eq!(listener.accepted(), 0, "a refused address was connected to");
}

// ------------------------------------------------------------------------------ the whole daemon

#[test]
fn run_once_over_hostile_feeds_keeps_going_and_names_each_feed_and_cause() {
    let good = "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Good</title>\
                <item><title>Fine</title><description>A fine item.</description></item></channel></rss>";
    let bomb = gzip_of_zeros(64 * MIB);
    let server = TestServer::start(move |r| match r.path.as_str() {
        "/good.xml" => Reply::ok("application/rss+xml", good),
        "/silent.xml" => Reply::Silent { hold: Duration::from_secs(20) },
        "/bomb.xml" => Reply::ok("application/rss+xml", bomb.clone()).with_header("Content-Encoding", "gzip"),
        "/loop.xml" => Reply::status(302).with_header("Location", "/loop.xml"),
        "/html.xml" => Reply::ok("text/html", "<html><body><p>not a feed</p></body></html>"),
        "/garbage.xml" => Reply::ok("application/rss+xml", vec![0xffu8, 0x00, 0x13, 0x37, 0xde, 0xad]),
        _ => Reply::status(500),
    });
    let dir = tempfile::tempdir().unwrap();
    let bad = ["/silent.xml", "/bomb.xml", "/loop.xml", "/html.xml", "/garbage.xml", "/500.xml"];
    let mut toml = format!(
        "state_dir = \"{}\"\nseeds_dir = \"{}\"\n[server]\nlisten = \"\"\n[fetch]\n\
         allow_private_networks = true\nper_host_delay = \"0s\"\ntimeout = \"4s\"\nread_timeout = \"2s\"\n",
        dir.path().join("state").display(),
        crate::support::repo().join("seeds").display()
    );
    for path in bad.iter().chain(["/good.xml"].iter()) {
        toml.push_str(&format!("[[feeds]]\nurl = \"{}\"\n", server.url(path)));
    }
    let config = dir.path().join("c.toml");
    std::fs::write(&config, toml).unwrap();
    let out = claimwatch_in(Some(dir.path()), &["--config", config.to_str().unwrap(), "run", "--once"]);
    let log = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{log}");
    let causes = [
        ("/silent.xml", "timed out"),
        ("/bomb.xml", "larger than"),
        ("/loop.xml", "redirect"),
        ("/html.xml", "parse"),
        ("/garbage.xml", "parse"),
        ("/500.xml", "500"),
    ];
    for (path, cause) in causes {
        let url = server.url(path);
        let lines: Vec<&str> = log.lines().filter(|l| l.contains(&url) && l.contains("failed")).collect();
        assert_eq!(lines.len(), 1, "not exactly one failure line naming {url}:\n{log}");
        assert!(lines[0].contains(cause), "the line for {url} does not say {cause:?}: {}", lines[0]);
    }
    assert!(!log.lines().any(|l| l.contains("/good.xml") && l.contains("failed")), "{log}");
    assert_eq!(server.requests_to("/good.xml").len(), 1);
}

// ------------------------------------------------------------------------- hostile HTML pages

fn page_base() -> Url {
    Url::parse("https://news.example.org/2025/05/article.html").unwrap()
}

#[test]
fn deeply_nested_html_of_1_mib_is_extracted_without_quadratic_blowup() {
    // 1 MiB of nested divs: html5ever alone is quadratic in the depth; the prescan caps it.
    let mut html = String::from("<html><body>");
    while html.len() < (1 << 20) - 64 {
        html.push_str("<div>");
    }
    html.push_str("<p>deep text</p></body></html>");
    let started = std::time::Instant::now();
    let extracted = claimwatch::extract::extract(&html, &page_base());
    // No speed assertion (machines differ); the time is printed for whoever runs it.
    eprintln!("1 MiB of nested divs extracted in {:?}", started.elapsed());
    assert!(extracted.text.len() < 1 << 20);
}

#[test]
fn deeply_nested_inline_and_table_tags_do_not_blow_up() {
    for tag in ["span", "b", "table", "li", "a href=x", "font"] {
        let open = format!("<{tag}>");
        let mut html = String::from("<html><body><article>");
        while html.len() < 512 * 1024 {
            html.push_str(&open);
        }
        html.push_str("<p>text</p></article></body></html>");
        let _ = claimwatch::extract::extract(&html, &page_base());
    }
}

#[test]
fn eighty_thousand_attributes_on_one_html_tag_are_survived() {
    let mut html = String::from("<html><head><title>Attrs</title></head><body><article><p ");
    for i in 0..80_000 {
        html.push_str(&format!("data-a{i}=\"v\" "));
    }
    html.push_str(
        ">The body paragraph survives a tag with eighty thousand attributes.</p></article></body></html>",
    );
    let extracted = claimwatch::extract::extract(&html, &page_base());
    assert!(extracted.text.len() < 1 << 20);
}

#[test]
fn binary_garbage_and_truncated_html_do_not_panic_extraction() {
    let mut rng = fastrand::Rng::with_seed(9);
    for len in [0usize, 1, 17, 4096, 200_000] {
        let bytes: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
        let text = claimwatch::charset::decode(&bytes, Some("text/html")).text;
        let _ = claimwatch::extract::extract(&text, &page_base());
    }
    let page = "<html><head><title>T</title><meta property=\"og:title\" content=\"x\"></head><body>\
                <article><h1>Head</h1><p>First paragraph of the article.</p><p>Second.</p></article></body></html>";
    for cut in 0..page.len() {
        if page.is_char_boundary(cut) {
            let _ = claimwatch::extract::extract(&page[..cut], &page_base());
        }
    }
}

// --------------------------------------------------------------------------------- charsets

const UKRAINIAN: &str = "Гарантії безпеки для України обговорили у Києві, повідомляє агентство.";

#[test]
fn windows_1251_without_any_declaration_is_detected() {
    let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(UKRAINIAN);
    let decoded = claimwatch::charset::decode_hinted(&bytes, Some("text/html"), Some("ua"));
    assert_eq!(decoded.text, UKRAINIAN, "decoded as {}", decoded.encoding.name());
}

#[test]
fn koi8_u_under_a_header_that_says_utf_8_is_detected() {
    let (bytes, _, _) = encoding_rs::KOI8_U.encode(UKRAINIAN);
    let decoded = claimwatch::charset::decode_hinted(&bytes, Some("text/html; charset=utf-8"), Some("ua"));
    assert_eq!(decoded.text, UKRAINIAN, "decoded as {}", decoded.encoding.name());
}

#[test]
fn an_xml_prolog_that_lies_does_not_garble_a_feed() {
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel><title>T</title>\
         <item><title>{UKRAINIAN}</title><link>https://news.example.org/1</link></item></channel></rss>"
    );
    let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(&xml);
    let parsed = parse::parse_feed(&bytes, Some("application/rss+xml"), &base()).expect("a readable feed");
    assert_eq!(parsed.items.len(), 1);
    assert_eq!(parsed.items[0].title.as_deref(), Some(UKRAINIAN));
}

#[test]
fn a_redirect_hop_to_a_private_address_is_refused_before_any_request() {
    // The only way to reach a "public" origin hermetically: a configured proxy (our test server),
    // which receives absolute-form requests for public names and answers with redirects into
    // private space. The hop must be refused by the fetcher: the proxy never sees a request for
    // it, and nothing connects to the private listener.
    let listener = Listener::start("127.0.0.1:0").unwrap();
    let target = listener.addr;
    let proxy = TestServer::start(move |r| {
        let hop = match r.path.as_str() {
            p if p.ends_with("/literal") => format!("http://{target}/secret"),
            p if p.ends_with("/decimal") => format!("http://2130706433:{}/secret", target.port()),
            p if p.ends_with("/ipv6") => format!("http://[::ffff:127.0.0.1]:{}/secret", target.port()),
            p if p.ends_with("/metadata") => "http://169.254.169.254/latest/meta-data/".to_string(),
            p if p.ends_with("/file") => "file:///etc/passwd".to_string(),
            _ => return Reply::status(404),
        };
        Reply::status(302).with_header("Location", &hop)
    });
    let mut config = config();
    config.fetch.allow_private_networks = false;
    config.fetch.proxy = Some(Url::parse(&proxy.url("/")).unwrap());
    let fetcher = Fetcher::new(&config.fetch).unwrap();
    for case in ["literal", "decimal", "ipv6", "metadata", "file"] {
        let result = fetch_with(&fetcher, &format!("http://feeds.example.com/{case}"));
        let error = result.err().unwrap_or_else(|| panic!("{case}: the redirect was followed"));
        assert!(matches!(error.class(), "blocked" | "redirect" | "scheme"), "{case}: {error}");
    }
    let asked: Vec<String> = proxy.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(asked.len(), 5, "each public request went through the proxy once: {asked:?}");
    assert!(
        asked.iter().all(|p| p.contains("feeds.example.com")),
        "a refused hop reached the proxy: {asked:?}"
    );
    assert_eq!(listener.accepted(), 0, "a redirect hop connected to a private address");
}

/// Found by `fuzz/` (feed_parse, 25 s): a second XML prolog inside the encoding declaration of
/// the first made quick-xml panic in its encoding detection. The daemon must survive it (the
/// parser contains panics) and report a parse error or an empty feed.
#[test]
fn fuzz_crasher_double_prolog_with_legacy_encoding_is_survived() {
    let bytes = std::fs::read(
        crate::support::repo().join("tests/fixtures/hostile/fuzz-feed-parse-double-prolog.xml"),
    )
    .unwrap();
    let result = std::panic::catch_unwind(|| {
        let _ = parse::parse_feed(&bytes, Some("application/rss+xml"), &base());
        let _ = parse::parse_feed(&bytes, None, &base());
    });
    assert!(result.is_ok(), "parse_feed let a panic escape");
}

// ------------------------------------------------------------------------ politeness vs timeouts

#[test]
fn time_queued_for_a_hosts_slot_is_not_counted_against_the_fetch_timeout() {
    // One request at a time to the host, starts 0.5 s apart; two silent feeds take the slot in
    // turn, each until its timeout (1 s), so the healthy feed queued behind them waits longer
    // than the timeout before it is sent. It must then be fetched, not "time out" without a
    // request ever sent.
    let server = TestServer::start(|r| match r.path.as_str() {
        "/healthy.xml" => Reply::ok(
            "application/rss+xml",
            "<rss version=\"2.0\"><channel><title>ok</title></channel></rss>",
        ),
        _ => Reply::Silent { hold: Duration::from_secs(5) },
    });
    let mut config = config();
    config.fetch.per_host = 1;
    config.fetch.per_host_delay = Duration::from_millis(500);
    config.fetch.timeout = Duration::from_secs(1);
    config.fetch.read_timeout = Duration::from_secs(5);
    let fetcher = Fetcher::new(&config.fetch).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let results = rt.block_on(async {
        let mut tasks = Vec::new();
        for path in ["/silent1.xml", "/silent2.xml", "/healthy.xml"] {
            let (fetcher, url) = (fetcher.clone(), Url::parse(&server.url(path)).unwrap());
            tasks.push(tokio::spawn(async move {
                let request = Request { url: &url, kind: Kind::Feed, validators: None, allow_file: false };
                fetcher.fetch(request).await
            }));
            // Queue them in this order (the host's slot is handed out first come, first served).
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.unwrap());
        }
        results
    });
    match &results[2] {
        Ok(FetchOutcome::Fetched(page)) => assert!(!page.body.is_empty()),
        other => panic!("the healthy feed behind two silent ones: {other:?}"),
    }
    for silent in &results[..2] {
        let error = silent.as_ref().expect_err("a silent server times out");
        assert_eq!(error.class(), "timeout", "{error}");
        assert!(error.to_string().contains("fetch.timeout"), "the timeout says which: {error}");
    }
}
