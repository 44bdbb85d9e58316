//! Feed parsing throughput through `parse::parse_feed` (decode, repair, feed-rs, our item keys)
//! over the files listed on standard input (one path per line), or over the shared corpus when
//! none are given. Prints files/s and items/s; `benches/parse_vs_feedparser.sh` runs it side by
//! side with Python feedparser on the same files.

use std::io::BufRead;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn main() {
    let mut files: Vec<PathBuf> = if std::env::var_os("FILES_FROM_STDIN").is_some() {
        std::io::stdin()
            .lock()
            .lines()
            .map_while(Result::ok)
            .filter(|l| !l.is_empty())
            .map(PathBuf::from)
            .collect()
    } else {
        corpus(std::path::Path::new("/work/shared/feeds"))
    };
    files.sort();
    let docs: Vec<Vec<u8>> = files.iter().map(|p| std::fs::read(p).unwrap()).collect();
    let bytes: usize = docs.iter().map(Vec::len).sum();
    let base = url::Url::parse("http://bench.example/feed").unwrap();
    let raw = std::env::var_os("RAW_FEED_RS").is_some();
    let (mut rounds, mut items, mut parsed) = (0usize, 0usize, 0usize);
    let started = Instant::now();
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    while rounds == 0 || started.elapsed() < Duration::from_secs(3) {
        for doc in &docs {
            if raw {
                // feed-rs alone, for comparison: no decoding, repairs or item keys.
                if let Ok(Ok(feed)) = std::panic::catch_unwind(|| feed_rs::parser::parse(&doc[..])) {
                    items += feed.entries.len();
                    parsed += 1;
                }
            } else if let Ok(feed) = claimwatch::parse::parse_feed(doc, None, &base) {
                items += feed.items.len();
                parsed += 1;
            }
        }
        rounds += 1;
    }
    std::panic::set_hook(hook);
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{}: {} files ({:.1} MiB), {} rounds in {:.2} s: {:.0} files/s, {:.0} items/s ({} parsed, {} items per round)",
        if raw { "feed-rs alone" } else { "claimwatch parse_feed" },
        docs.len(),
        bytes as f64 / (1 << 20) as f64,
        rounds,
        secs,
        (docs.len() * rounds) as f64 / secs,
        items as f64 / secs,
        parsed / rounds,
        items / rounds
    );
}

fn corpus(root: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = path.to_string_lossy();
            if path.is_dir() {
                stack.push(path);
            } else if !name.ends_with(".serde.json")
                && matches!(
                    path.extension().and_then(|e| e.to_str()),
                    Some("xml" | "rss" | "atom" | "rdf" | "json")
                )
            {
                out.push(path);
            }
        }
    }
    out
}
