//! Stage benchmarks for claimwatch: a plain bench binary (no harness) that prints figures.
//!
//! `cargo bench --bench stages -- [STAGE…]` runs the named stages (all of them when none is
//! named), each in a fresh child process so that its peak RSS is its own. Sizes: `BENCH_SIZE=quick`
//! (default, a few minutes on 2 shared cores) or `BENCH_SIZE=full`; `BENCH_FEEDS=N` overrides the
//! number of polled feeds. Every stage prints human lines and one `RESULT {json}` line that the
//! runner (`benches/peers.py`) reads.
//!
//! Stages: `parse` (feed bytes → items), `extract` (page HTML → article), `poll` (N local feeds
//! of 20 items from an in-process HTTP server, then a round that is mostly 304), `listen` (the
//! HTTP listener's p50/p99 under scrapers, alone and beside 1,000 half-open connections).
//! Modes used by the peer runner on identical inputs: `parse-files [--repeat R] FILE…`,
//! `extract-files --out JSONL FILE…` (time only the in-process loop, like the Python side),
//! `serve-feeds N` (the poll stage's local site, for a daemon in another process).
//!
//! Timing is wall-clock on a shared machine: each stage repeats its measurement and reports the
//! median; ratios against peers are measured by the runner, interleaved.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use claimwatch::config::Config;
use claimwatch::model::Feed;
use claimwatch::pipeline::Ctx;
use claimwatch::store::Store;
use http_body_util::Full;
use hyper::body::Bytes;
use serde_json::json;
use url::Url;

const STAGES: &[&str] =
    &["parse", "extract", "poll", "pipeline", "claims", "dedup", "memory", "ledger", "listen"];

fn main() {
    // `cargo bench` passes `--bench`; everything starting with `--` before a mode is ignored.
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    match args.first().map(String::as_str) {
        Some("parse-files") => return parse_files(&args[1..]),
        Some("extract-files") => return extract_files(&args[1..]),
        Some("minhash-files") => return minhash_files(&args[1..]),
        Some("serve-feeds") => return serve_feeds(&args[1..]),
        Some("stage") => return run_stage(&args[1]),
        _ => {}
    }
    let wanted: Vec<&str> = if args.is_empty() {
        STAGES.to_vec()
    } else {
        args.iter().map(String::as_str).filter(|a| !a.starts_with('-')).collect()
    };
    println!("claimwatch stage benchmarks, size {} ({})", size(), machine());
    let exe = std::env::current_exe().expect("the bench binary's path");
    for stage in wanted {
        if !STAGES.contains(&stage) {
            eprintln!("unknown stage {stage}; stages: {}", STAGES.join(" "));
            std::process::exit(2);
        }
        let status = std::process::Command::new(&exe).args(["stage", stage]).status().expect("re-exec");
        if !status.success() {
            eprintln!("stage {stage} failed: {status}");
            std::process::exit(1);
        }
    }
}

fn run_stage(stage: &str) {
    match stage {
        "parse" => bench_parse(),
        "extract" => bench_extract(),
        "poll" => bench_poll(),
        "pipeline" => bench_pipeline(),
        "claims" => bench_claims(),
        "dedup" => bench_dedup(),
        "memory" => bench_memory(),
        "ledger" => bench_ledger(),
        "listen" => bench_listen(),
        other => panic!("unknown stage {other}"),
    }
}

// ------------------------------------------------------------------------------------ helpers

fn size() -> String {
    std::env::var("BENCH_SIZE").unwrap_or_else(|_| "quick".into())
}

fn full() -> bool {
    size() == "full"
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .unwrap_or("unknown CPU")
        .trim()
        .to_string();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    format!("{cores} cores, {model}")
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 * p).ceil() as usize).saturating_sub(1).min(v.len() - 1)]
}

/// Peak resident set of this process, in MiB (VmHWM).
fn peak_rss_mib() -> f64 {
    status_kib("VmHWM:") / 1024.0
}

fn status_kib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// CPU time of the calling thread, in seconds (nanosecond resolution): the cost of a piece of
/// work whatever else the machine is doing.
fn thread_cpu_seconds() -> f64 {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `t` is a valid timespec for the call to write into.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 + t.tv_nsec as f64 / 1e9
}

/// User + system CPU seconds from a `/proc/…/stat` file (clock ticks of 1/100 s).
fn cpu_seconds(stat_path: &str) -> f64 {
    let stat = std::fs::read_to_string(stat_path).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn result(value: serde_json::Value) {
    println!("RESULT {value}");
}

fn feeds_dir() -> PathBuf {
    std::env::var_os("BENCH_FEEDS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/data/feeds"))
}

/// `../shared` beside the repository.
fn shared_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared")
}

fn pages_dir() -> PathBuf {
    std::env::var_os("BENCH_PAGES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| shared_dir().join("bench/extraction/dev/html"))
}

fn feed_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(feeds_dir())
        .expect("the feed corpus directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("xml" | "rss" | "atom")))
        .collect();
    files.sort();
    files
}

/// Reads a page, gunzipping `.gz` files.
fn read_page(path: &Path) -> Vec<u8> {
    let raw = std::fs::read(path).expect("a page");
    if path.extension().and_then(|e| e.to_str()) == Some("gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..]).read_to_end(&mut out).expect("gzip page");
        out
    } else {
        raw
    }
}

fn page_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(pages_dir())
        .expect("the extraction pages directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().contains(".htm"))
        .collect();
    files.sort();
    files
}

// -------------------------------------------------------------------------------------- parse

/// Parses every file once; returns the number of items.
fn parse_pass(docs: &[(Vec<u8>, Url)]) -> usize {
    docs.iter()
        .map(|(bytes, base)| {
            claimwatch::parse::parse_feed(bytes, None, base).map(|f| f.items.len()).unwrap_or(0)
        })
        .sum()
}

fn load_feeds(files: &[PathBuf]) -> Vec<(Vec<u8>, Url)> {
    files
        .iter()
        .map(|p| {
            let base = Url::from_file_path(std::fs::canonicalize(p).unwrap()).unwrap();
            (std::fs::read(p).unwrap(), base)
        })
        .collect()
}

fn bench_parse() {
    let files = feed_files();
    let docs = load_feeds(&files);
    let bytes: usize = docs.iter().map(|(b, _)| b.len()).sum();
    let items = parse_pass(&docs);
    // Passes per round so that a round lasts about half a second.
    let started = Instant::now();
    parse_pass(&docs);
    let passes = ((0.5 / started.elapsed().as_secs_f64()) as usize).max(1);
    let rounds = if full() { 9 } else { 5 };
    let mut rates = Vec::new();
    let mut mbs = Vec::new();
    for _ in 0..rounds {
        let started = Instant::now();
        for _ in 0..passes {
            std::hint::black_box(parse_pass(&docs));
        }
        let secs = started.elapsed().as_secs_f64();
        rates.push((items * passes) as f64 / secs);
        mbs.push((bytes * passes) as f64 / secs / 1e6);
    }
    let items_per_s = median(rates);
    println!(
        "parse: {} files, {} items, {:.1} KB; median of {rounds} rounds: {:.0} items/s, {:.1} MB/s; peak RSS {:.1} MiB",
        files.len(),
        items,
        bytes as f64 / 1e3,
        items_per_s,
        median(mbs),
        peak_rss_mib()
    );
    result(json!({"stage": "parse", "files": files.len(), "items": items, "items_per_s": items_per_s,
        "peak_rss_mib": peak_rss_mib()}));
}

/// `parse-files [--repeat R] FILE…`: the peer runner's mode, timing only the parsing loop.
fn parse_files(args: &[String]) {
    let (repeat, files) = repeat_and_files(args);
    let docs = load_feeds(&files);
    let started = Instant::now();
    let mut items = 0;
    for _ in 0..repeat {
        items += parse_pass(&docs);
    }
    let secs = started.elapsed().as_secs_f64();
    result(json!({"items": items, "secs": secs, "items_per_s": items as f64 / secs}));
}

fn repeat_and_files(args: &[String]) -> (usize, Vec<PathBuf>) {
    let mut repeat = 1;
    let mut files = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--repeat" {
            repeat = it.next().and_then(|r| r.parse().ok()).expect("--repeat N");
        } else {
            files.push(PathBuf::from(a));
        }
    }
    (repeat, files)
}

// ------------------------------------------------------------------------------------ extract

fn load_pages(files: &[PathBuf]) -> Vec<(String, Url)> {
    files
        .iter()
        .map(|p| {
            let bytes = read_page(p);
            let base = Url::from_file_path(std::fs::canonicalize(p).unwrap()).unwrap();
            (claimwatch::charset::decode(&bytes, None).text, base)
        })
        .collect()
}

fn bench_extract() {
    let files = page_files();
    let pages = load_pages(&files);
    let bytes: usize = pages.iter().map(|(h, _)| h.len()).sum();
    let rounds = if full() { 9 } else { 5 };
    let mut rates = Vec::new();
    let mut latencies = Vec::new();
    for _ in 0..rounds {
        let started = Instant::now();
        for (html, base) in &pages {
            let one = Instant::now();
            std::hint::black_box(claimwatch::extract::extract(html, base));
            latencies.push(one.elapsed().as_secs_f64() * 1e3);
        }
        rates.push(pages.len() as f64 / started.elapsed().as_secs_f64());
    }
    let pages_per_s = median(rates);
    let p99 = percentile(latencies.clone(), 0.99);
    println!(
        "extract: {} pages, {:.1} MB; median of {rounds} rounds: {:.0} pages/s ({:.1} MB/s); per page p50 {:.2} ms, p99 {:.2} ms; peak RSS {:.1} MiB",
        pages.len(),
        bytes as f64 / 1e6,
        pages_per_s,
        pages_per_s * bytes as f64 / pages.len() as f64 / 1e6,
        percentile(latencies, 0.5),
        p99,
        peak_rss_mib()
    );
    result(json!({"stage": "extract", "pages": pages.len(), "pages_per_s": pages_per_s, "p99_ms": p99,
        "peak_rss_mib": peak_rss_mib()}));
}

/// `extract-files [--repeat R] [--out JSONL] FILE…`: the peer runner's mode. Times only the
/// extraction loop (pages already read and decoded); writes the texts of the first pass.
fn extract_files(args: &[String]) {
    let mut out = None;
    let mut rest = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--out" {
            out = it.next().cloned();
        } else {
            rest.push(a.clone());
        }
    }
    let (repeat, files) = repeat_and_files(&rest);
    let pages = load_pages(&files);
    let started = Instant::now();
    let mut texts = Vec::new();
    for pass in 0..repeat {
        for (html, base) in &pages {
            let extracted = claimwatch::extract::extract(html, base);
            if pass == 0 {
                texts.push(extracted.text);
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    if let Some(out) = out {
        let mut file = std::io::BufWriter::new(std::fs::File::create(out).unwrap());
        for text in texts {
            writeln!(file, "{}", json!({ "text": text })).unwrap();
        }
    }
    let n = pages.len() * repeat;
    result(json!({"pages": n, "secs": secs, "pages_per_s": n as f64 / secs}));
}

// --------------------------------------------------------------------------- local HTTP server

/// One route of the local site: ETag, content type and body.
struct Route {
    etag: String,
    content_type: &'static str,
    body: Bytes,
}

/// The local site served by the in-process HTTP server; the bench changes it between rounds.
/// Paths without a route under `/p/FEED/ITEM.html` get a synthetic article generated on the
/// fly, so that the server holds no page bodies (the poll bench's peak RSS is the client's).
#[derive(Default)]
struct Site {
    routes: RwLock<HashMap<String, Route>>,
    requests: std::sync::atomic::AtomicUsize,
    /// Answers 304 to a matching `If-None-Match`.
    not_modified: std::sync::atomic::AtomicUsize,
    /// Generated article pages served.
    pages: std::sync::atomic::AtomicUsize,
}

impl Site {
    fn put(&self, path: String, content_type: &'static str, body: impl Into<Bytes>, version: u32) {
        let etag = format!("\"{path}-{version}\"");
        self.routes.write().unwrap().insert(path, Route { etag, content_type, body: body.into() });
    }

    fn respond(&self, request: &hyper::Request<hyper::body::Incoming>) -> hyper::Response<Full<Bytes>> {
        self.requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let routes = self.routes.read().unwrap();
        let Some(route) = routes.get(request.uri().path()) else {
            let generated = request.uri().path().strip_prefix("/p/").and_then(|rest| {
                let (feed, item) = rest.strip_suffix(".html")?.split_once('/')?;
                Some(synthetic_page(feed.parse().ok()?, item.parse().ok()?))
            });
            return match generated {
                Some(page) => {
                    self.pages.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    hyper::Response::builder()
                        .header("Content-Type", "text/html; charset=utf-8")
                        .body(Full::new(Bytes::from(page)))
                        .unwrap()
                }
                None => hyper::Response::builder().status(404).body(Full::new(Bytes::new())).unwrap(),
            };
        };
        let matches = request
            .headers()
            .get(hyper::header::IF_NONE_MATCH)
            .is_some_and(|v| v.as_bytes() == route.etag.as_bytes());
        let builder = hyper::Response::builder().header("ETag", route.etag.as_str());
        if matches {
            self.not_modified.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return builder.status(304).body(Full::new(Bytes::new())).unwrap();
        }
        builder.header("Content-Type", route.content_type).body(Full::new(route.body.clone())).unwrap()
    }
}

/// A running local server: its address and the `/proc` stat file of its one thread (for CPU).
struct Server {
    addr: std::net::SocketAddr,
    stat_path: String,
}

/// Serves `site` on 127.0.0.1 from one dedicated thread with a current-thread runtime, so that
/// its CPU time can be told apart from the client's.
fn start_server(site: Arc<Site>) -> Server {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let tid = std::fs::read_link("/proc/thread-self").unwrap(); // "PID/task/TID"
            tx.send((listener.local_addr().unwrap(), format!("/proc/{}/stat", tid.display()))).unwrap();
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let site = site.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let response = site.respond(&request);
                        async move { Ok::<_, Infallible>(response) }
                    });
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
                });
            }
        });
    });
    let (addr, stat_path) = rx.recv().unwrap();
    Server { addr, stat_path }
}

/// Items in each local feed.
const ITEMS: usize = 20;

/// The local site of `n` feeds of `ITEMS` items each (`/f/N.xml`, pages under `/p/`), served on
/// 127.0.0.1; returns it, its server and its base URL.
fn local_site(n: usize) -> (Arc<Site>, Server, String) {
    let site = Arc::new(Site::default());
    let server = start_server(site.clone());
    let base = format!("http://{}", server.addr);
    for feed in 0..n {
        site.put(format!("/f/{feed}.xml"), "application/rss+xml", synthetic_feed(&base, feed, 0, ITEMS), 1);
    }
    (site, server, base)
}

/// `serve-feeds N`: the local site of the poll stage for a daemon in another process (the peer
/// runner's daemon comparison). Prints `LISTEN BASE_URL`, then answers each line read on stdin
/// with `COUNTS {json}` (requests, 304 answers and pages served so far); ends at EOF.
fn serve_feeds(args: &[String]) {
    let n = args.first().and_then(|a| a.parse().ok()).unwrap_or_else(n_feeds);
    let (site, _server, base) = local_site(n);
    println!("LISTEN {base}");
    for _ in std::io::stdin().lines() {
        let load = |c: &std::sync::atomic::AtomicUsize| c.load(std::sync::atomic::Ordering::Relaxed);
        println!(
            "COUNTS {}",
            json!({"requests": load(&site.requests), "not_modified": load(&site.not_modified), "pages": load(&site.pages)})
        );
    }
}

// --------------------------------------------------------------------------------------- poll

const SENTENCES: &[&str] = &[
    "The ministers met in Brussels on Tuesday to discuss the next package of security guarantees.",
    "Officials said the agreement would commit the signatories to consult within 24 hours of an attack.",
    "Critics argued that the text offered less than a formal alliance and left key questions open.",
    "The negotiators expect a second round of talks before the end of the month.",
    "Several governments have already promised air defence systems and training for pilots.",
    "A spokesperson declined to say when the final document would be published.",
    "Analysts noted that the wording on long-term financing remained vague.",
    "Parliament is due to vote on the ratification bill next week.",
];

fn synthetic_page(feed: usize, item: usize) -> String {
    let mut html = format!(
        "<!doctype html><html lang=\"en\"><head><title>Story {feed}-{item}</title></head><body>\
         <nav><a href=\"/\">Home</a> <a href=\"/world\">World</a></nav><article><h1>Story {feed}-{item}</h1>"
    );
    for p in 0..6 {
        html.push_str("<p>");
        for s in 0..4 {
            html.push_str(SENTENCES[(feed + item + p + s) % SENTENCES.len()]);
            html.push(' ');
        }
        html.push_str(&format!("Report {feed}.{item}.{p}.</p>"));
    }
    html.push_str("</article><footer>© Example News</footer></body></html>");
    html
}

fn synthetic_feed(base: &str, feed: usize, first_item: usize, items: usize) -> String {
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel><title>Feed {feed}</title>\
         <link>{base}/</link><description>Local feed {feed}</description>"
    );
    for item in (first_item..first_item + items).rev() {
        xml.push_str(&format!(
            "<item><title>Story {feed}-{item}</title><link>{base}/p/{feed}/{item}.html</link>\
             <guid>{base}/p/{feed}/{item}.html</guid><pubDate>Sun, 22 Nov 2026 00:{:02}:00 GMT</pubDate>\
             <description>Summary of story {feed}-{item}.</description></item>",
            item % 60
        ));
    }
    xml.push_str("</channel></rss>");
    xml
}

fn n_feeds() -> usize {
    std::env::var("BENCH_FEEDS").ok().and_then(|n| n.parse().ok()).unwrap_or(1000)
}

/// The configuration the poll benchmark runs with: the built-in defaults, private networks
/// allowed (the server is on 127.0.0.1) and no per-host delay (all feeds share one host here,
/// where a real deployment has many).
fn local_config(dir: &Path, feeds: Vec<Feed>) -> Config {
    let mut config = Config::defaults_with_state_dir(dir);
    config.fetch.allow_private_networks = true;
    config.fetch.per_host_delay = Duration::ZERO;
    config.fetch.per_host = config.fetch.concurrency;
    config.server.listen = None;
    config.feeds = feeds;
    config
}

fn bench_poll() {
    let n = n_feeds();
    let (site, server, base) = local_site(n);
    let dir = tempfile::tempdir().unwrap();
    let template = Config::defaults_with_state_dir(dir.path());
    let feeds: Vec<Feed> = (0..n)
        .map(|i| Feed {
            url: Url::parse(&format!("{base}/f/{i}.xml")).unwrap(),
            name: None,
            lang: Some("en".into()),
            min_interval: template.schedule.min_interval,
            max_interval: template.schedule.max_interval,
            body_selector: None,
        })
        .collect();
    let config = Arc::new(local_config(dir.path(), feeds));
    let store = Store::open(dir.path(), config.store.cache_size).unwrap();
    let ctx = Ctx::new(config, store.clone()).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();

    let mut rounds = Vec::new();
    for round in 1..=3 {
        if round == 2 {
            // One feed in ten publishes one new item; the others answer 304.
            for feed in (0..n).step_by(10) {
                site.put(
                    format!("/f/{feed}.xml"),
                    "application/rss+xml",
                    synthetic_feed(&base, feed, 1, ITEMS),
                    2,
                );
            }
        }
        let requests0 = site.requests.load(std::sync::atomic::Ordering::Relaxed);
        let (cpu0, server0) = (cpu_seconds("/proc/self/stat"), cpu_seconds(&server.stat_path));
        let started = Instant::now();
        runtime.block_on(claimwatch::daemon::poll_once(&ctx)).unwrap();
        let secs = started.elapsed().as_secs_f64();
        let server_cpu = cpu_seconds(&server.stat_path) - server0;
        let client_cpu = cpu_seconds("/proc/self/stat") - cpu0 - server_cpu;
        let what = match round {
            1 => format!("first poll ({n} feeds × {ITEMS} new items: {} page fetches)", n * ITEMS),
            2 => format!("second poll (90% 304, {} feeds with one new item)", n.div_ceil(10)),
            _ => "third poll (all 304)".to_string(),
        };
        let requests = site.requests.load(std::sync::atomic::Ordering::Relaxed) - requests0;
        println!(
            "poll round {round}, {what}: {requests} requests, {:.2} s, {:.0} feeds/s, client CPU {:.2} s = {:.2} CPU s per 1,000 polls (server thread {:.2} s)",
            secs,
            n as f64 / secs,
            client_cpu,
            client_cpu * 1000.0 / n as f64,
            server_cpu
        );
        rounds.push(json!({"round": round, "secs": secs, "feeds_per_s": n as f64 / secs,
            "cpu_s_per_1000_polls": client_cpu * 1000.0 / n as f64, "server_cpu_s": server_cpu, "requests": requests}));
    }
    store.flush().unwrap();
    println!(
        "poll: {n} feeds; peak RSS {:.1} MiB (client and server in one process); store {:.1} MB on disk",
        peak_rss_mib(),
        store.size_on_disk() as f64 / 1e6
    );
    result(json!({"stage": "poll", "feeds": n, "rounds": rounds, "peak_rss_mib": peak_rss_mib()}));
}

// ------------------------------------------------------------------------------------- memory

/// Fills a fresh state dir for `articles` generated articles: 5 claims each in the claim store
/// (built from real drafts, see `fill_claims`) and one dedup fingerprint each, with the claim
/// index's memory budget the daemon will have. The articles' own records, provenance and bodies
/// are not written (said in the output).
fn prefill(dir: &Path, articles: usize, index_memory: u64) -> Option<String> {
    if articles == 0 {
        return None;
    }
    let mut config = Config::defaults_with_state_dir(dir);
    config.claims.index_memory = index_memory;
    let engine = claimwatch::claims::Engine::load(&config).expect("the claim engine");
    let drafts: Vec<_> = topic_articles()
        .iter()
        .map(|a| engine.analyse(a))
        .filter(|a| a.on_topic)
        .flat_map(|a| a.claims)
        .collect();
    let store = Store::open(dir, config.store.cache_size).unwrap();
    let index = claimwatch::claims::ClaimIndex::open(&store, &config.claims).unwrap();
    fill_claims(&store, &index, &drafts, articles * 5);
    let dedup = claimwatch::dedup::DedupIndex::open(&store).unwrap();
    fill_fingerprints(&dedup, &mut fastrand::Rng::with_seed(9), articles, |_, _| {});
    store.flush().unwrap();
    Some(format!(
        "{} claims and {articles} dedup fingerprints; not the article records, provenance or bodies",
        articles * 5
    ))
}

fn http_status(addr: &str, path: &str) -> Option<u16> {
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

fn dir_size(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else { return 0 };
    entries
        .filter_map(|e| e.ok())
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// The daemon (`claimwatch run`, a separate process) with N local feeds of 20 items and a store
/// pre-filled with each size in turn: start-up time (spawn → /readyz 200), time of its first
/// poll of every feed, peak RSS (VmHWM) and store size on disk.
fn bench_memory() {
    let n = n_feeds();
    let sizes: Vec<usize> = match std::env::var("BENCH_ARTICLES") {
        Ok(list) => list.split(',').filter_map(|s| s.trim().parse().ok()).collect(),
        Err(_) if full() => vec![0, 20_000, 200_000, 1_000_000],
        Err(_) => vec![0, 2_000, 20_000],
    };
    // Memory settings of the daemon under test (MiB): sled's page cache and the claim index's
    // memory; `BENCH_CACHE` / `BENCH_INDEX_MEMORY` override them.
    let mib =
        |var: &str, default: u64| std::env::var(var).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    let (cache_mib, index_mib) = (mib("BENCH_CACHE", 32), mib("BENCH_INDEX_MEMORY", 16));
    let (site, _server, base) = local_site(n);
    let bin = env!("CARGO_BIN_EXE_claimwatch");
    for articles in sizes {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        // The project's seed set, imported before the daemon starts (as a user would), so that
        // start-up is the store's own.
        let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
        let started = Instant::now();
        let filled = prefill(&state, articles, index_mib << 20);
        let fill_secs = started.elapsed().as_secs_f64();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let listen = format!("127.0.0.1:{port}");
        let mut toml = format!(
            "state_dir = {state:?}\nseeds_dir = {seeds:?}\n[log]\nlevel = \"warn\"\n[store]\ncache_size = \"{cache_mib}MiB\"\n\
             [claims]\nindex_memory = \"{index_mib}MiB\"\n\
             [fetch]\nallow_private_networks = true\nper_host_delay = \"0s\"\nper_host = 16\n\
             [server]\nlisten = \"{listen}\"\n"
        );
        for feed in 0..n {
            toml.push_str(&format!("[[feeds]]\nurl = \"{base}/f/{feed}.xml\"\n"));
        }
        let config = dir.path().join("claimwatch.toml");
        std::fs::write(&config, toml).unwrap();
        let seeded = std::process::Command::new(bin)
            .args(["--config", config.to_str().unwrap(), "seed"])
            .output()
            .expect("the claimwatch binary");
        assert!(
            seeded.status.success(),
            "claimwatch seed failed: {}",
            String::from_utf8_lossy(&seeded.stderr)
        );
        let store_before = dir_size(&state);
        let requests0 = site.requests.load(std::sync::atomic::Ordering::Relaxed);
        let spawned = Instant::now();
        let mut child = std::process::Command::new(bin)
            .args(["--config", config.to_str().unwrap(), "run"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the claimwatch binary");
        let mut startup = None;
        while spawned.elapsed() < Duration::from_secs(600) {
            if http_status(&listen, "/readyz") == Some(200) {
                startup = Some(spawned.elapsed().as_secs_f64());
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("claimwatch run exited before it was ready: {status}");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        // The first poll is done when every feed and page was asked for.
        let expected = n * (ITEMS + 1);
        let mut poll_secs = None;
        while spawned.elapsed() < Duration::from_secs(900) {
            let done = site.requests.load(std::sync::atomic::Ordering::Relaxed) - requests0;
            if done >= expected {
                poll_secs = Some(spawned.elapsed().as_secs_f64());
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_secs(1)); // let the last articles commit
        let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
        let kib = |field: &str| {
            status
                .lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(f64::NAN)
        };
        let (hwm, rss) = (kib("VmHWM:") / 1024.0, kib("VmRSS:") / 1024.0);
        let _ = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let _ = child.wait();
        let store_mib = dir_size(&state) as f64 / 1048576.0;
        println!(
            "memory: {articles} articles pre-filled ({}) in {fill_secs:.1} s, store {:.1} MiB before / {store_mib:.1} MiB after; \
             daemon with {n} feeds, cache {cache_mib} MiB, claim index memory {index_mib} MiB: start-up {} , first poll done at {}, peak RSS {hwm:.1} MiB (RSS after the poll {rss:.1} MiB)",
            filled.unwrap_or_else(|| "empty store".into()),
            store_before as f64 / 1048576.0,
            startup.map(|s| format!("{:.0} ms", s * 1e3)).unwrap_or_else(|| "never ready".into()),
            poll_secs.map(|s| format!("{s:.1} s")).unwrap_or_else(|| "not within 900 s".into()),
        );
        println!(
            "SCALE {}",
            json!({"articles": articles, "feeds": n, "cache_mib": cache_mib, "index_memory_mib": index_mib, "startup_s": startup, "first_poll_s": poll_secs,
                "daemon_rss_mib": hwm, "store_mib": store_mib, "fill_s": fill_secs, "machine": machine()})
        );
    }
}

// ------------------------------------------------------------------------------------- claims

fn article(url: &str, text: String, lang: Option<String>) -> claimwatch::model::Article {
    claimwatch::model::Article {
        url: Url::parse(url).unwrap(),
        feed: Some("https://bench.example/rss".into()),
        feed_name: None,
        title: None,
        text,
        published: None,
        lang_hint: lang,
        seen_at: chrono::Utc::now(),
    }
}

/// On-topic articles: the eval dev cases (sentences joined) and the seed articles.
fn topic_articles() -> Vec<claimwatch::model::Article> {
    let shared = shared_dir();
    let mut out = Vec::new();
    let cases = std::fs::read_to_string(shared.join("eval/dev/cases.jsonl")).unwrap_or_default();
    for (i, line) in cases.lines().enumerate() {
        let Ok(case) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        let mut text = String::new();
        for sentence in case["sentences"].as_array().into_iter().flatten() {
            match sentence["text"].as_str() {
                Some("") | None => text.push_str("\n\n"),
                Some(t) => {
                    text.push_str(t);
                    text.push(' ');
                }
            }
        }
        let lang = case["lang"].as_str().map(String::from);
        out.push(article(&format!("https://case.example/{i}"), text, lang));
    }
    let seeds = std::fs::read_dir(shared.join("seeds")).into_iter().flatten().filter_map(|e| e.ok());
    for (i, entry) in seeds.enumerate() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        out.push(article(&format!("https://seed.example/{i}"), text, None));
    }
    out
}

fn claim_sizes() -> Vec<usize> {
    match std::env::var("BENCH_CLAIMS") {
        Ok(list) => list.split(',').filter_map(|s| s.trim().parse().ok()).collect(),
        Err(_) if full() => vec![10_000, 100_000, 1_000_000],
        Err(_) => vec![10_000, 100_000],
    }
}

/// Stores `n` synthetic claims built from real drafts: each takes a real draft's features,
/// drops one, borrows one from another draft and adds a rare one of its own (a number), so that
/// the index has real document frequencies and a long tail.
fn fill_claims(
    store: &Store,
    index: &claimwatch::claims::ClaimIndex,
    drafts: &[claimwatch::claims::ClaimDraft],
    n: usize,
) {
    let mut rng = fastrand::Rng::with_seed(8);
    let source = claimwatch::claims::ClaimSource {
        url: "https://bench.example/a".into(),
        title: None,
        feed: None,
        seed: false,
    };
    let mut done = 0;
    while done < n {
        let batch: Vec<claimwatch::claims::ClaimDraft> = (done..(done + 2000).min(n))
            .map(|i| {
                let base = &drafts[rng.usize(..drafts.len())];
                let other = &drafts[rng.usize(..drafts.len())];
                let mut draft = base.clone();
                if draft.features.len() > 2 {
                    draft.features.remove(rng.usize(..draft.features.len()));
                }
                if !other.features.is_empty() {
                    draft.features.push(other.features[rng.usize(..other.features.len())].clone());
                }
                draft.features.push(format!("N:{}", rng.u32(..1_000_000)));
                draft.features.sort();
                draft.features.dedup();
                draft.text = format!("{} ({i})", base.text);
                draft
            })
            .collect();
        // Bulk load: the records the daemon writes, one batch per tree, then told to the index.
        index.bulk_insert(&batch, &source, chrono::Utc::now()).unwrap();
        done += batch.len();
    }
    store.flush().unwrap();
}

fn bench_claims() {
    let template = Config::defaults_with_state_dir(Path::new("/tmp"));
    let engine = claimwatch::claims::Engine::load(&template).expect("the claim engine");
    let articles = topic_articles();
    let started = Instant::now();
    let analyses: Vec<_> = articles.iter().map(|a| engine.analyse(a)).collect();
    let analyse_secs = started.elapsed().as_secs_f64();
    let drafts: Vec<claimwatch::claims::ClaimDraft> =
        analyses.iter().filter(|a| a.on_topic).flat_map(|a| a.claims.iter().cloned()).collect();
    println!(
        "claims: {} on-topic articles of {} analysed in {:.1} ms ({:.0} articles/s), {} claim drafts",
        analyses.iter().filter(|a| a.on_topic).count(),
        articles.len(),
        analyse_secs * 1e3,
        articles.len() as f64 / analyse_secs,
        drafts.len()
    );
    assert!(!drafts.is_empty(), "no claim drafts: is the topic corpus there?");
    let mut results = Vec::new();
    // `BENCH_INDEX_MEMORY=8` (MiB) sets `claims.index_memory`: more claims judged from disk.
    let mut template = template;
    if let Some(mib) = std::env::var("BENCH_INDEX_MEMORY").ok().and_then(|v| v.parse::<u64>().ok()) {
        template.claims.index_memory = mib << 20;
    }
    for n in claim_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), template.store.cache_size).unwrap();
        let index = claimwatch::claims::ClaimIndex::open(&store, &template.claims).unwrap();
        let started = Instant::now();
        fill_claims(&store, &index, &drafts, n);
        let fill_secs = started.elapsed().as_secs_f64();
        let size = store.size_on_disk();
        // The index a restarted daemon builds from the store.
        drop(index);
        let started = Instant::now();
        let index = claimwatch::claims::ClaimIndex::open(&store, &template.claims).unwrap();
        let open_secs = started.elapsed().as_secs_f64();
        assert_eq!(index.len(), n, "the reopened index holds every stored claim");
        let index_bytes = index.memory_bytes();
        // Judge every real draft, several passes; the first pass warms the cache.
        for draft in &drafts {
            index.judge_claim(draft).unwrap();
        }
        // At least every draft once more; then up to `target` judgements or 5 s, whichever first.
        let target = if full() { 20_000 } else { 5_000 };
        // Wall time per judgement (what a caller waits, including time the machine gives to
        // other processes) and thread CPU time (the judgement's own cost on one core).
        let mut latencies = Vec::with_capacity(target);
        let mut cpu = Vec::with_capacity(target);
        let started = Instant::now();
        let cpu_started = thread_cpu_seconds();
        while latencies.len() < drafts.len()
            || (latencies.len() < target && started.elapsed() < Duration::from_secs(5))
        {
            for draft in &drafts {
                let (one, one_cpu) = (Instant::now(), thread_cpu_seconds());
                std::hint::black_box(index.judge_claim(draft).unwrap());
                cpu.push((thread_cpu_seconds() - one_cpu) * 1e3);
                latencies.push(one.elapsed().as_secs_f64() * 1e3);
            }
        }
        let per_s = latencies.len() as f64 / started.elapsed().as_secs_f64();
        let per_cpu_s = latencies.len() as f64 / (thread_cpu_seconds() - cpu_started);
        let (p50, p99) = (percentile(latencies.clone(), 0.5), percentile(latencies.clone(), 0.99));
        let (cpu50, cpu99) = (percentile(cpu.clone(), 0.5), percentile(cpu, 0.99));
        println!(
            "claims: {n} stored (filled in {fill_secs:.1} s, index reopened in {open_secs:.2} s, {:.1} MiB of it in memory, {:.0} bytes/claim on disk): {} judgements; wall: {per_s:.0} claims/s, p50 {p50:.3} ms, p99 {p99:.3} ms; one core's CPU time: {per_cpu_s:.0} claims/s, p50 {cpu50:.3} ms, p99 {cpu99:.3} ms; peak RSS {:.1} MiB",
            index_bytes as f64 / 1048576.0,
            size as f64 / n as f64,
            latencies.len(),
            peak_rss_mib()
        );
        println!(
            "SCALE {}",
            json!({"articles": n / 5, "claims": n, "judge_per_s": per_s, "judge_p50_ms": p50, "judge_p99_ms": p99,
                "judge_per_cpu_s": per_cpu_s, "judge_cpu_p50_ms": cpu50, "judge_cpu_p99_ms": cpu99,
                "bytes_per_claim": size as f64 / n as f64, "index_bytes_per_claim": index_bytes as f64 / n as f64, "open_secs": open_secs, "machine": machine()})
        );
        results.push(
            json!({"claims": n, "per_s": per_s, "p99_ms": p99, "per_cpu_s": per_cpu_s, "cpu_p99_ms": cpu99}),
        );
    }
    result(json!({"stage": "claims", "sizes": results, "peak_rss_mib": peak_rss_mib()}));
}

// ------------------------------------------------------------------------------------- ledger

/// The claim ledger's answers (`/api/claims` page 1 and the page at `/`, as the server computes
/// them, without the socket) over a store of N new claims' provenance records (100k in quick,
/// 10k and 100k in full): p50/p99 of 100 requests each.
/// A store of `n` new claims over the last 14 days, in seven languages.
fn ledger_store(dir: &Path, config: &Config, n: usize) -> Store {
    use claimwatch::store::records::{self, ClaimProvenance, ClaimProvenanceV1, ProvenanceSourceV1};
    let store = Store::open(dir, config.store.cache_size).unwrap();
    let tree = store.tree(claimwatch::store::trees::CLAIM_PROVENANCE).unwrap();
    let start = chrono::Utc::now().timestamp_millis() - 14 * 86_400_000;
    let langs = ["en", "uk", "ru", "ro", "pl", "de", "fr"];
    for i in 0..n {
        let lang = langs[i % langs.len()].to_string();
        let first_seen = start + (i as i64) * (14 * 86_400_000 / n as i64);
        let record = ClaimProvenance::V1(ClaimProvenanceV1 {
            text: format!(
                "Claim number {i}: ministers agreed that {} instructors will train brigades.",
                5000 + i
            ),
            lang: lang.clone(),
            first_seen,
            story: (i / 7) as u64,
            seed: false,
            entities: vec!["Ukraine".into()],
            numbers: vec![(5000 + i).to_string()],
            source_count: 1 + (i % 5) as u32,
            langs: vec![lang.clone()],
            sources: vec![ProvenanceSourceV1 {
                url: format!("https://news.example/{i}"),
                feed: Some("https://news.example/rss".into()),
                lang,
                seen_at: first_seen,
            }],
        });
        tree.insert(format!("{i:016x}"), records::encode(&record)).unwrap();
    }
    store.flush().unwrap();
    store
}

/// The HTTP listener under load: `BENCH_SCRAPERS` (50) clients scraping `/metrics` and
/// `/api/claims` (a ledger of 1,000 claims) for `BENCH_SECONDS` (10) s each, first alone, then
/// while 1,000 half-open connections are held; p50/p99 per answer and how many failed.
fn bench_listen() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let scrapers: usize = std::env::var("BENCH_SCRAPERS").ok().and_then(|v| v.parse().ok()).unwrap_or(50);
    let seconds: u64 = std::env::var("BENCH_SECONDS").ok().and_then(|v| v.parse().ok()).unwrap_or(10);
    let dir = tempfile::tempdir().unwrap();
    let config = Config::defaults_with_state_dir(dir.path());
    let store = ledger_store(&dir.path().join("state"), &config, 1_000);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let token = tokio_util::sync::CancellationToken::new();
    let ledger = claimwatch::ledger::Ledger::new(store.clone());
    runtime.spawn(ledger.clone().follow(token.clone()));
    let (_config_tx, watch) = tokio::sync::watch::channel(Arc::new(config));
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    let health = claimwatch::health::Health::new(Duration::from_secs(600));
    let site = claimwatch::server::Site { ledger, config: watch };
    runtime.spawn(claimwatch::server::serve(listener, health, site, token.clone()));

    let round = |label: &str| -> serde_json::Value {
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..scrapers)
            .map(|i| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let path = if i % 2 == 0 { "/metrics" } else { "/api/claims" };
                    let (mut times, mut failed) = (Vec::new(), 0usize);
                    while !stop.load(Ordering::SeqCst) {
                        let started = Instant::now();
                        let ok = std::net::TcpStream::connect(addr).and_then(|mut s| {
                            s.set_read_timeout(Some(Duration::from_secs(10)))?;
                            write!(s, "GET {path} HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n")?;
                            let mut answer = Vec::new();
                            s.read_to_end(&mut answer)?;
                            Ok(answer.starts_with(b"HTTP/1.1 200"))
                        });
                        times.push(started.elapsed().as_secs_f64() * 1e3);
                        failed += usize::from(!matches!(ok, Ok(true)));
                    }
                    (times, failed)
                })
            })
            .collect();
        std::thread::sleep(Duration::from_secs(seconds));
        stop.store(true, Ordering::SeqCst);
        let (mut times, mut failed) = (Vec::new(), 0);
        for client in clients {
            let (t, f) = client.join().unwrap();
            times.extend(t);
            failed += f;
        }
        let (p50, p99) = (percentile(times.clone(), 0.5), percentile(times.clone(), 0.99));
        println!(
            "listen: {label}: {scrapers} scrapers, {} answers in {seconds} s, {failed} failed, p50 {p50:.1} ms, p99 {p99:.1} ms",
            times.len()
        );
        json!({"round": label, "answers": times.len(), "failed": failed, "p50_ms": p50, "p99_ms": p99})
    };
    let alone = round("alone");
    let partial = "GET /metrics HTTP/1.1\r\nHost: b\r\nUser-Agent: half-open";
    let held: Vec<_> = (0..1000)
        .filter_map(|_| {
            let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
            s.write_all(partial.as_bytes()).ok()?;
            Some(s)
        })
        .collect();
    let pressed = round(&format!("{} half-open connections held", held.len()));
    drop(held);
    token.cancel();
    result(
        json!({"stage": "listen", "scrapers": scrapers, "rounds": [alone, pressed], "peak_rss_mib": peak_rss_mib()}),
    );
}

fn bench_ledger() {
    let sizes: Vec<usize> = if full() { vec![10_000, 100_000] } else { vec![100_000] };
    let config = Config::defaults_with_state_dir(Path::new("/tmp"));
    let mut results = Vec::new();
    for n in sizes {
        let dir = tempfile::tempdir().unwrap();
        let store = ledger_store(dir.path(), &config, n);
        let ledger = claimwatch::ledger::Ledger::new(store.clone());
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let token = tokio_util::sync::CancellationToken::new();
        let follower = runtime.spawn(ledger.clone().follow(token.clone()));
        // The first request after the order is built (the follower's scan) measures steady state.
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) {
            let (_, body) =
                ledger.answer("/api/claims", claimwatch::ledger::Query::parse(None), &config, "x").unwrap();
            if body.contains(&format!("\"total\":{n}")) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let built_ms = started.elapsed().as_secs_f64() * 1e3;
        let mut api = Vec::new();
        let mut page = Vec::new();
        for round in 0..100 {
            let query = claimwatch::ledger::Query::parse(Some(&format!("page={}", 1 + round % 3)));
            let started = Instant::now();
            std::hint::black_box(ledger.answer("/api/claims", query, &config, "x").unwrap());
            api.push(started.elapsed().as_secs_f64() * 1e3);
            let started = Instant::now();
            std::hint::black_box(
                ledger.answer("/", claimwatch::ledger::Query::parse(None), &config, "x").unwrap(),
            );
            page.push(started.elapsed().as_secs_f64() * 1e3);
        }
        token.cancel();
        let _ = runtime.block_on(follower);
        println!("ledger: {n} claims: order built in {built_ms:.0} ms");
        let (api50, api99) = (percentile(api.clone(), 0.5), percentile(api, 0.99));
        let (page50, page99) = (percentile(page.clone(), 0.5), percentile(page, 0.99));
        println!(
            "ledger: {n} claims: /api/claims p50 {api50:.1} ms, p99 {api99:.1} ms; / p50 {page50:.1} ms, p99 {page99:.1} ms; peak RSS {:.1} MiB",
            peak_rss_mib()
        );
        results.push(json!({"claims": n, "api_p50_ms": api50, "api_p99_ms": api99, "page_p50_ms": page50, "page_p99_ms": page99}));
    }
    result(json!({"stage": "ledger", "sizes": results, "peak_rss_mib": peak_rss_mib()}));
}

// ----------------------------------------------------------------------------------- pipeline

/// The whole per-feed flow on real pages: one local feed whose items link to the extraction
/// benchmark's pages, served from memory; `poll_once` fetches the feed, every page, extracts and
/// hands each article to `process_article` (whatever this branch's version does: on a branch
/// with dedup and alerts, the commit to the store and the outbox). Fresh store each round.
fn bench_pipeline() {
    let files = page_files();
    let site = Arc::new(Site::default());
    let server = start_server(site.clone());
    let base = format!("http://{}", server.addr);
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel><title>Pages</title>",
    );
    for (i, path) in files.iter().enumerate() {
        site.put(format!("/page/{i}.html"), "text/html", read_page(path), 1);
        xml.push_str(&format!(
            "<item><title>Page {i}</title><link>{base}/page/{i}.html</link><description>Page {i}.</description></item>"
        ));
    }
    xml.push_str("</channel></rss>");
    site.put("/pages.xml".into(), "application/rss+xml", xml, 1);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let rounds = if full() { 5 } else { 3 };
    let (mut per_core, mut per_s) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let dir = tempfile::tempdir().unwrap();
        let template = Config::defaults_with_state_dir(dir.path());
        let feed = Feed {
            url: Url::parse(&format!("{base}/pages.xml")).unwrap(),
            name: None,
            lang: None,
            min_interval: template.schedule.min_interval,
            max_interval: template.schedule.max_interval,
            body_selector: None,
        };
        let config = Arc::new(local_config(dir.path(), vec![feed]));
        let store = Store::open(dir.path(), config.store.cache_size).unwrap();
        let ctx = Ctx::new(config, store.clone()).unwrap();
        let (cpu0, server0) = (cpu_seconds("/proc/self/stat"), cpu_seconds(&server.stat_path));
        let started = Instant::now();
        runtime.block_on(claimwatch::daemon::poll_once(&ctx)).unwrap();
        store.flush().unwrap();
        let secs = started.elapsed().as_secs_f64();
        let cpu = cpu_seconds("/proc/self/stat") - cpu0 - (cpu_seconds(&server.stat_path) - server0);
        per_core.push(files.len() as f64 / cpu.max(0.01));
        per_s.push(files.len() as f64 / secs);
    }
    let (core, wall) = (median(per_core), median(per_s));
    println!(
        "pipeline: {} real pages behind one local feed, fetched → extracted → process_article → flushed; median of {rounds} rounds: {wall:.0} articles/s wall, {core:.0} articles per CPU-second (per core); peak RSS {:.1} MiB",
        files.len(),
        peak_rss_mib()
    );
    result(json!({"stage": "pipeline", "articles": files.len(), "articles_per_s": wall,
        "articles_per_cpu_s": core, "peak_rss_mib": peak_rss_mib()}));
}

// -------------------------------------------------------------------------------------- dedup

/// `minhash-files [--repeat R] JSONL…`: MinHash signatures of the texts (one `{"text"}` per
/// line), words split outside the timed loop, like the datasketch side.
fn minhash_files(args: &[String]) {
    let (repeat, files) = repeat_and_files(args);
    let mut words = Vec::new();
    for file in &files {
        for line in std::fs::read_to_string(file).unwrap().lines() {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            words.push(claimwatch::dedup::words(value["text"].as_str().unwrap_or("")));
        }
    }
    let started = Instant::now();
    for _ in 0..repeat {
        for w in &words {
            std::hint::black_box(claimwatch::dedup::signature(w));
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let n = words.len() * repeat;
    result(json!({"docs": n, "secs": secs, "docs_per_s": n as f64 / secs}));
}

fn random_text(rng: &mut fastrand::Rng, words: usize) -> String {
    use std::fmt::Write as _;
    let mut text = String::with_capacity(words * 7);
    for i in 0..words {
        let sep = if i == 0 { "" } else { " " };
        write!(text, "{sep}w{}", rng.u32(0..20_000)).expect("writing to a String");
    }
    text
}

fn article_sizes() -> Vec<usize> {
    match std::env::var("BENCH_DEDUP") {
        Ok(list) => list.split(',').filter_map(|s| s.trim().parse().ok()).collect(),
        Err(_) if full() => vec![10_000, 100_000, 1_000_000],
        Err(_) => vec![10_000, 100_000],
    }
}

/// Writes the fingerprints of `n` generated articles (300 random words each) the way the schema
/// upgrade does, through `dedup::BulkLoad`; `keep` sees each article's number and text.
fn fill_fingerprints(
    index: &claimwatch::dedup::DedupIndex,
    rng: &mut fastrand::Rng,
    n: usize,
    mut keep: impl FnMut(usize, &str),
) {
    let mut load = claimwatch::dedup::BulkLoad::default();
    for i in 0..n {
        let text = random_text(rng, 300);
        keep(i, &text);
        let a = article(&format!("https://news{}.example/{i}", i % 97), text, Some("en".into()));
        load.add(&claimwatch::dedup::fingerprint(&a));
        if load.pending() == 50_000 {
            load.write(index).unwrap();
        }
    }
    load.write(index).unwrap();
}

/// Live bytes (keys + values) of a tree, and its number of keys.
fn live_bytes(tree: &sled::Tree) -> (u64, u64) {
    tree.iter()
        .map(|e| e.unwrap())
        .fold((0, 0), |(bytes, keys), (k, v)| (bytes + (k.len() + v.len()) as u64, keys + 1))
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// One timed dedup lookup: wall time (fingerprint + store), the store part alone, and the time
/// the thread spent runnable but waiting for a CPU (`/proc/thread-self/schedstat`, ns), which on
/// a shared machine is most of the tail.
struct LookupTiming {
    wall_ms: f64,
    store_ms: f64,
    runqueue_ms: f64,
}

fn runqueue_wait_ns() -> u64 {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    stat.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn timed_lookup(
    index: &claimwatch::dedup::DedupIndex,
    a: &claimwatch::model::Article,
) -> (Option<claimwatch::dedup::Seen>, LookupTiming) {
    let waited = runqueue_wait_ns();
    let started = Instant::now();
    let fp = claimwatch::dedup::fingerprint(a);
    let store_started = Instant::now();
    let seen = index.lookup(&fp).unwrap();
    let (wall, store) = (started.elapsed(), store_started.elapsed());
    let runqueue_ms = runqueue_wait_ns().saturating_sub(waited) as f64 / 1e6;
    (
        seen,
        LookupTiming { wall_ms: wall.as_secs_f64() * 1e3, store_ms: store.as_secs_f64() * 1e3, runqueue_ms },
    )
}

/// Dedup lookup (fingerprint + store lookup) of 500 near copies and 500 unseen articles against
/// N stored fingerprints (filled in bulk, see `fill_fingerprints`), bytes on disk and per tree;
/// then the commit of one article with 20 claims through `Ingest::process` (which returns once
/// the commit is durable, as in the daemon).
fn bench_dedup() {
    use claimwatch::dedup::DedupIndex;
    for n in article_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::defaults_with_state_dir(dir.path());
        let store = Store::open(dir.path(), config.store.cache_size).unwrap();
        let index = DedupIndex::open(&store).unwrap();
        let mut rng = fastrand::Rng::with_seed(7);
        let started = Instant::now();
        let mut kept = Vec::new();
        fill_fingerprints(&index, &mut rng, n, |i, text| {
            if i % (n / 500).max(1) == 0 {
                kept.push(text.to_string());
            }
        });
        store.flush().unwrap();
        let fill = started.elapsed().as_secs_f64();
        let on_disk = store.size_on_disk() as f64 / n as f64;
        let per_tree: Vec<String> = index
            .trees()
            .iter()
            .map(|tree| {
                let (bytes, keys) = live_bytes(tree);
                format!(
                    "{} {:.0} B in {keys} keys",
                    String::from_utf8_lossy(&tree.name()),
                    bytes as f64 / n as f64
                )
            })
            .collect();
        let mut timings = Vec::new();
        let mut found = 0;
        for t in &kept {
            let copy = format!("Photo: Reuters. Read our live blog. {t} Subscribe to our newsletter.");
            let a = article(&format!("https://copy.example/{}", rng.u64(..)), copy, Some("en".into()));
            let (seen, timing) = timed_lookup(&index, &a);
            found += seen.is_some() as usize;
            timings.push(timing);
        }
        for _ in 0..500 {
            let text = random_text(&mut rng, 300);
            let a = article(&format!("https://new.example/{}", rng.u64(..)), text, Some("en".into()));
            timings.push(timed_lookup(&index, &a).1);
        }
        let p = |f: fn(&LookupTiming) -> f64, q: f64| percentile(timings.iter().map(f).collect(), q);
        let (p50, p99) = (p(|t| t.wall_ms, 0.5), p(|t| t.wall_ms, 0.99));
        let (running50, running99) =
            (p(|t| t.wall_ms - t.runqueue_ms, 0.5), p(|t| t.wall_ms - t.runqueue_ms, 0.99));
        let (store50, store99) = (p(|t| t.store_ms, 0.5), p(|t| t.store_ms, 0.99));
        let waited = timings.iter().filter(|t| t.runqueue_ms > 0.1).count();
        let rss = peak_rss_mib();
        println!(
            "dedup: {n} articles stored (filled in {fill:.1} s): lookup incl. fingerprint p50 {p50:.3} ms, p99 {p99:.3} ms (load average {}; {waited}/{} lookups waited > 0.1 ms for a CPU; without that wait p50 {running50:.3} ms, p99 {running99:.3} ms; the store part alone p50 {store50:.3} ms, p99 {store99:.3} ms); near copies found {found}/{}; store {on_disk:.0} bytes/article on disk; live per article: {}; peak RSS {rss:.0} MiB",
            load_average(),
            timings.len(),
            kept.len(),
            per_tree.join(", ")
        );
        // Commit of one article (fresh claims) through the daemon's own path, durable on return.
        let engine = std::sync::Arc::new(claimwatch::claims::Engine::load(&config).unwrap());
        let drafts: Vec<String> = topic_articles()
            .iter()
            .map(|a| engine.analyse(a))
            .filter(|a| a.on_topic)
            .flat_map(|a| a.claims.into_iter().map(|c| c.text))
            .collect();
        let ingest =
            claimwatch::ingest::Ingest::new(&store, &config.alerts, engine, claimwatch::alert::Wake::new())
                .unwrap();
        // Articles of 10 topic sentences, each followed by a sentence with a new figure: about
        // 20 claims, most of them new.
        let (mut processes, mut commits, mut claims) = (Vec::new(), Vec::new(), 0);
        for i in 0..if full() { 300 } else { 100 } {
            let text: Vec<String> = (0..10)
                .map(|k| {
                    let d = &drafts[rng.usize(..drafts.len())];
                    format!("{} The figure was {} in report {}.", d, 1000 + i * 20 + k, rng.u32(..))
                })
                .collect();
            let a = article(&format!("https://commit.example/{i}"), text.join(" "), Some("en".into()));
            let s = Instant::now();
            let processed = ingest.process(a, claimwatch::ingest::Origin::Feed).unwrap();
            processes.push(s.elapsed().as_secs_f64() * 1e3);
            commits.push(processed.commit_time.as_secs_f64() * 1e3);
            claims += processed.new_claims + processed.known_claims;
        }
        let (r50, r99) = (percentile(processes.clone(), 0.5), percentile(processes, 0.99));
        let (c50, c99) = (percentile(commits.clone(), 0.5), percentile(commits.clone(), 0.99));
        println!(
            "commit: {} articles ({:.1} claims each on average) over {n} articles: Ingest::process (dedup, analyse, judge, commit) p50 {r50:.2} ms, p99 {r99:.2} ms; the commit alone (one transaction + flush) p50 {c50:.2} ms, p99 {c99:.2} ms",
            commits.len(),
            claims as f64 / commits.len() as f64
        );
        println!(
            "SCALE {}",
            json!({"articles": n, "dedup_p50_ms": p50, "dedup_p99_ms": p99, "dedup_running_p99_ms": running99, "dedup_store_p99_ms": store99, "dedup_bytes_per_article": on_disk,
                "dedup_fill_s": fill, "peak_rss_mib": rss, "process_p50_ms": r50, "process_p99_ms": r99, "commit_p50_ms": c50, "commit_p99_ms": c99, "machine": machine()})
        );
    }
}
