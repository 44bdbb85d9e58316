//! Polling benchmark: 1,000 local feeds of 20 items each, served by a child process on
//! 127.0.0.1 (so that its CPU is not counted), polled twice through the real code path
//! (`daemon::poll_once`: fetcher, parser, pages, extraction, store). Round 1 is cold (every feed
//! and every article page is new); round 2 is the steady state: 90 % of the feeds answer 304 and
//! 10 % changed (a new ETag and one new item, whose page is fetched).
//!
//! `cargo bench --bench poll` (release profile). Prints feeds polled per second, CPU seconds
//! per 1,000 polls (this process only) and peak RSS. `FEEDS=n` changes the number of feeds.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

const ITEMS: usize = 20;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let feeds: usize = std::env::var("FEEDS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    if args.get(1).map(String::as_str) == Some("serve") {
        serve(feeds);
        return;
    }
    let mut child = Command::new(std::env::current_exe().unwrap())
        .arg("serve")
        .env("FEEDS", feeds.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the feed server");
    let mut port = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut port).unwrap();
    let port: u16 = port.trim().parse().expect("the server prints its port");

    let dir = tempfile::tempdir().unwrap();
    let mut config = claimwatch::config::Config::defaults_with_state_dir(dir.path());
    config.fetch.allow_private_networks = true;
    // One local host stands for many newsrooms: lift the per-host politeness for the bench.
    config.fetch.per_host = config.fetch.concurrency;
    config.fetch.per_host_delay = Duration::ZERO;
    config.feeds = (0..feeds)
        .map(|n| claimwatch::model::Feed {
            url: url::Url::parse(&format!("http://127.0.0.1:{port}/feed/{n}")).unwrap(),
            name: None,
            lang: None,
            min_interval: config.schedule.min_interval,
            max_interval: config.schedule.max_interval,
            body_selector: None,
        })
        .collect();
    let store = claimwatch::store::Store::open(dir.path(), 64 << 20).unwrap();
    let ctx = claimwatch::pipeline::Ctx::new(Arc::new(config), store).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    println!("poll bench: {feeds} feeds × {ITEMS} items, concurrency {}", ctx.config.fetch.concurrency);
    for round in 1..=2 {
        let (cpu0, t0) = (cpu_seconds(), Instant::now());
        runtime.block_on(claimwatch::daemon::poll_once(&ctx)).unwrap();
        let (cpu, wall) = (cpu_seconds() - cpu0, t0.elapsed());
        let what =
            if round == 1 { "cold: every feed and page new" } else { "steady: 90 % 304, 10 % one new item" };
        println!(
            "round {round} ({what}): {:.2} s, {:.0} feeds/s, {:.2} CPU s per 1,000 polls",
            wall.as_secs_f64(),
            feeds as f64 / wall.as_secs_f64(),
            cpu * 1000.0 / feeds as f64
        );
    }
    println!("peak RSS: {:.1} MiB", peak_rss_kib() as f64 / 1024.0);
    let _ = child.kill();
    let _ = child.wait();
}

/// User + system CPU seconds of this process.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of stat (utime, stime) are at 11 and 12 after the command name.
    let ticks: u64 =
        fields.get(11..13).map(|f| f.iter().filter_map(|v| v.parse::<u64>().ok()).sum()).unwrap_or(0);
    ticks as f64 / 100.0 // USER_HZ is 100 on Linux
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

// ----------------------------------------------------------------------------------- the server

fn serve(feeds: usize) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("{}", listener.local_addr().unwrap().port());
        std::io::stdout().flush().unwrap();
        let hits: Arc<Vec<AtomicU32>> = Arc::new((0..feeds).map(|_| AtomicU32::new(0)).collect());
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let hits = hits.clone();
            tokio::spawn(async move {
                let _ = connection(stream, &hits).await;
            });
        }
    });
}

async fn connection(stream: tokio::net::TcpStream, hits: &[AtomicU32]) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let (read, mut write) = stream.into_split();
    let mut reader = tokio::io::BufReader::new(read);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
        let mut if_none_match = None;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).await? == 0 || header.trim().is_empty() {
                break;
            }
            if let Some((k, v)) = header.split_once(':') {
                if k.eq_ignore_ascii_case("if-none-match") {
                    if_none_match = Some(v.trim().to_string());
                }
            }
        }
        let (status, etag, body) = answer(&path, if_none_match.as_deref(), hits);
        let mut head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n", body.len());
        if let Some(etag) = etag {
            head.push_str(&format!("ETag: {etag}\r\nContent-Type: application/rss+xml\r\n"));
        } else {
            head.push_str("Content-Type: text/html; charset=utf-8\r\n");
        }
        head.push_str("\r\n");
        // One write per response: two small writes would meet Nagle and delayed ACKs (40 ms).
        let mut response = head.into_bytes();
        response.extend_from_slice(&body);
        write.write_all(&response).await?;
    }
}

fn answer(
    path: &str,
    if_none_match: Option<&str>,
    hits: &[AtomicU32],
) -> (&'static str, Option<String>, Vec<u8>) {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        ["feed", n] => {
            let n: usize = n.parse().unwrap_or(0);
            let hit = hits.get(n).map(|h| h.fetch_add(1, Ordering::Relaxed)).unwrap_or(0);
            // From the second poll on, every tenth feed has one new item.
            let version = if hit >= 1 && n % 10 == 0 { 2 } else { 1 };
            let etag = format!("\"f{n}-v{version}\"");
            if if_none_match == Some(etag.as_str()) {
                return ("304 Not Modified", Some(etag), Vec::new());
            }
            ("200 OK", Some(etag), feed(n, version).into_bytes())
        }
        ["page", n, i] => ("200 OK", None, page(n, i).into_bytes()),
        _ => ("404 Not Found", None, Vec::new()),
    }
}

fn feed(n: usize, version: usize) -> String {
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>Feed {n}</title>\
         <link>http://bench.example/{n}</link><description>bench</description>"
    );
    let first = if version == 2 { 0 } else { 1 };
    for i in first..first + ITEMS {
        xml.push_str(&format!(
            "<item><title>Feed {n} article {i}: security guarantees talks continue</title>\
             <link>/page/{n}/{i}</link><guid isPermaLink=\"false\">{n}-{i}</guid>\
             <pubDate>Tue, 06 Jan 2026 {:02}:{:02}:00 GMT</pubDate>\
             <description>&lt;p&gt;Summary of article {i} of feed {n}, with a few sentences of text \
             about the meeting in Paris and the guarantees discussed there.&lt;/p&gt;</description></item>",
            23 - (i % 24),
            i % 60
        ));
    }
    xml.push_str("</channel></rss>");
    xml
}

fn page(n: &str, i: &str) -> String {
    let para = "Leaders of the coalition of the willing met in Paris to discuss security guarantees for \
                Ukraine after a ceasefire, and the United States said it would support a monitoring mission.";
    format!(
        "<!doctype html><html lang=\"en\"><head><title>Article {i} of feed {n}</title></head><body>\
         <nav><a href=\"/\">Home</a></nav><article><h1>Article {i} of feed {n}</h1>\
         <p>{para}</p><p>{para}</p><p>{para}</p></article><footer>© bench</footer></body></html>"
    )
}
