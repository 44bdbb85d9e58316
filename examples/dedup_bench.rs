//! Measures dedup lookups against a large store, the commit of one article with 20 claims, and
//! the store size per article without body.
//! `cargo run --release --example dedup_bench -- DIR ARTICLES`

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use claimwatch::alert::Wake;
use claimwatch::config::Config;
use claimwatch::dedup::{self, DedupIndex};
use claimwatch::ingest::{Ingest, Origin};
use claimwatch::model::Article;
use claimwatch::store::Store;

fn text(rng: &mut fastrand::Rng, words: usize) -> String {
    (0..words).map(|_| format!("w{}", rng.u32(0..20_000))).collect::<Vec<_>>().join(" ")
}

fn article(url: String, text: String) -> Article {
    Article {
        url: url::Url::parse(&url).unwrap(),
        feed: Some("https://example.org/rss".into()),
        title: None,
        text,
        published: None,
        lang_hint: Some("en".into()),
        seen_at: Utc::now(),
    }
}

fn pct(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 * p) as usize).min(v.len() - 1)]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = std::path::PathBuf::from(&args[1]);
    let n: usize = args[2].parse().unwrap();
    let store = Store::open(&dir, 64 << 20).unwrap();
    let index = DedupIndex::open(&store).unwrap();
    let mut rng = fastrand::Rng::with_seed(7);
    let started = Instant::now();
    let mut kept = Vec::new();
    let mut batch = Vec::with_capacity(10_000);
    for i in 0..n {
        let t = text(&mut rng, 300);
        let fp = dedup::fingerprint(&article(format!("https://news{}.example/{i}", i % 97), t.clone()));
        if i % (n / 500).max(1) == 0 {
            kept.push(t);
        }
        batch.push(fp);
        if batch.len() == 10_000 {
            dedup::insert_batch(&index, &batch).unwrap();
            batch.clear();
        }
    }
    dedup::insert_batch(&index, &batch).unwrap();
    store.flush().unwrap();
    eprintln!("loaded {n} articles in {:.1}s", started.elapsed().as_secs_f64());

    // Lookups: 500 near copies of stored articles, 500 unseen articles, fingerprinting included.
    let mut lookup = Vec::new();
    let mut index_only = Vec::new();
    let mut found = 0;
    for t in &kept {
        let copy = format!("Photo: Reuters. Read our live blog. {t} Subscribe to our newsletter.");
        let a = article(format!("https://copy.example/{}", rng.u64(..)), copy);
        let s = Instant::now();
        let fp = dedup::fingerprint(&a);
        let s2 = Instant::now();
        let seen = index.lookup(&fp).unwrap();
        lookup.push(s.elapsed().as_secs_f64() * 1e3);
        index_only.push(s2.elapsed().as_secs_f64() * 1e3);
        found += seen.is_some() as usize;
    }
    println!(
        "  of which the store lookup alone (near copies): p50 {:.3} ms, p99 {:.3} ms",
        pct(index_only.clone(), 0.5),
        pct(index_only, 0.99)
    );
    for _ in 0..500 {
        let a = article(format!("https://new.example/{}", rng.u64(..)), text(&mut rng, 300));
        let s = Instant::now();
        let seen = index.lookup(&dedup::fingerprint(&a)).unwrap();
        lookup.push(s.elapsed().as_secs_f64() * 1e3);
        found += seen.is_some() as usize;
    }
    println!(
        "dedup lookup over {n} articles: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms; near copies found {found}/{} (+500 unseen)",
        pct(lookup.clone(), 0.5),
        pct(lookup.clone(), 0.99),
        pct(lookup, 1.0),
        kept.len()
    );

    // Commit of one article with 20 new claims (stand-in engine: one claim per sentence).
    let config = Config::defaults_with_state_dir(&dir);
    let engine = Arc::new(claimwatch::claims::Engine::load(&config).unwrap());
    let ingest = Ingest::new(&store, &config.alerts, engine, Wake::new()).unwrap();
    let mut commit = Vec::new();
    let before = store.size_on_disk();
    for i in 0..300 {
        let sentences: Vec<String> = (0..20).map(|_| text(&mut rng, 15)).collect();
        let a = article(format!("https://commit.example/{i}"), sentences.join(". "));
        let s = Instant::now();
        let p = ingest.process(a, Origin::Feed).unwrap();
        commit.push(s.elapsed().as_secs_f64() * 1e3);
        assert_eq!(p.new_claims, 20);
    }
    println!(
        "process+commit of one article with 20 claims (incl. flush): p50 {:.2} ms, p99 {:.2} ms",
        pct(commit.clone(), 0.5),
        pct(commit, 0.99)
    );
    let _ = before;
    let mut flush = Vec::new();
    let meta = store.db().open_tree("bench_probe").unwrap();
    for i in 0..200u32 {
        meta.insert(i.to_be_bytes(), vec![1u8; 64]).unwrap();
        let s = Instant::now();
        store.flush().unwrap();
        flush.push(s.elapsed().as_secs_f64() * 1e3);
    }
    println!(
        "sled flush of one small write (the fsync floor): p50 {:.2} ms, p99 {:.2} ms",
        pct(flush.clone(), 0.5),
        pct(flush, 0.99)
    );
    let sizes: Vec<(String, usize)> = ["items", "urls", "content_hashes", "signatures", "lsh", "articles"]
        .iter()
        .map(|t| {
            let tree = store.db().open_tree(t).unwrap();
            let bytes: usize = tree.iter().map(|e| e.map(|(k, v)| k.len() + v.len()).unwrap_or(0)).sum();
            (t.to_string(), bytes / tree.len().max(1))
        })
        .collect();
    println!("key+value bytes per article by tree: {sizes:?}");
    println!("store size on disk: {} MB for {} articles", store.size_on_disk() >> 20, n + 300);
}
