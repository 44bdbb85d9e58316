//! Claim-judging benchmark (not a test): seeds a store with synthetic claims (100,000 by
//! default, `CLAIMWATCH_BENCH_CLAIMS` to change), then judges synthetic drafts one at a time on
//! one thread and reports claims judged per second, p50/p99 latency of one judgement, store size
//! on disk per claim and peak RSS. Run: `cargo bench --bench claims`.

use std::time::Instant;

use chrono::Utc;
use claimwatch::claims::index::{insert_in, ClaimIndex, ClaimSource};
use claimwatch::claims::{ClaimDraft, Engine};
use claimwatch::config::Config;
use claimwatch::model::Article;
use claimwatch::store::Store;
use sled::Transactional;

const PEOPLE: &[&str] = &[
    "Zelensky",
    "Macron",
    "Starmer",
    "Merz",
    "Tusk",
    "Meloni",
    "Rutte",
    "Witkoff",
    "Kushner",
    "Rubio",
    "Stubb",
    "Carney",
    "Erdogan",
    "Sikorski",
    "Pistorius",
    "Kallas",
    "Umerov",
    "Sybiha",
];
const PLACES: &[&str] = &[
    "Paris",
    "London",
    "Brussels",
    "Warsaw",
    "Rome",
    "Berlin",
    "Kyiv",
    "Geneva",
    "Istanbul",
    "Bucharest",
    "Odesa",
    "Dnipro",
    "Lviv",
    "Kharkiv",
    "Rzeszow",
];
const COUNTRIES: &[&str] = &[
    "France",
    "Germany",
    "Poland",
    "Romania",
    "Italy",
    "Turkey",
    "Canada",
    "Finland",
    "Sweden",
    "Norway",
    "Denmark",
    "Estonia",
    "Latvia",
    "Lithuania",
    "Spain",
    "the Netherlands",
    "Japan",
];
const TEMPLATES: &[&str] = &[
    "{P} said {C} will deploy {N} troops to monitor the ceasefire near {L}.",
    "{C} pledged {N} million euros to finance the multinational force for Ukraine, {P} announced.",
    "According to {P}, the security guarantees for Ukraine would last {Y} years with a possible extension.",
    "{P} met the leaders of the coalition of the willing in {L} to discuss air defence for Ukraine.",
    "{C} will not send soldiers to Ukraine but will host a logistics hub in {L}, {P} said.",
    "The allies agreed that {C} would lead the monitoring mission with {N} observers based in {L}.",
    "{P} rejected the demand to limit the Ukrainian army to {N} soldiers.",
    "If Russia attacks again, {C} will provide military support within {D} days, {P} told reporters in {L}.",
    "{P} asked the US Congress to vote on the guarantees before the meeting in {L}.",
    "A draft seen by officials foresees {N} drones and {D} satellites for the mission led by {C}.",
];

fn pick<'a>(list: &[&'a str], seed: &mut u64) -> &'a str {
    *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    list[((*seed >> 33) as usize) % list.len()]
}

fn number(seed: &mut u64, modulo: u64) -> u64 {
    *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (*seed >> 33) % modulo + 1
}

fn sentence(seed: &mut u64) -> String {
    let template = pick(TEMPLATES, seed);
    template
        .replace("{P}", pick(PEOPLE, seed))
        .replace("{C}", pick(COUNTRIES, seed))
        .replace("{L}", pick(PLACES, seed))
        .replace("{N}", &number(seed, 90_000).to_string())
        .replace("{Y}", &number(seed, 60).to_string())
        .replace("{D}", &number(seed, 30).to_string())
}

fn drafts(engine: &Engine, seed: &mut u64, n: usize) -> Vec<ClaimDraft> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let text: Vec<String> = (0..20).map(|_| sentence(seed)).collect();
        let article = Article {
            url: url::Url::parse("https://bench.example/a").unwrap(),
            feed: None,
            title: None,
            text: text.join(" "),
            published: None,
            lang_hint: Some("en".into()),
            seen_at: Utc::now(),
        };
        out.extend(engine.analyse(&article).claims);
    }
    out.truncate(n);
    out
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let n: usize =
        std::env::var("CLAIMWATCH_BENCH_CLAIMS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let judged_n = 20_000.min(n);
    let dir = tempfile::tempdir().unwrap();
    let config = Config::defaults_with_state_dir(dir.path());
    let store = Store::open(dir.path(), config.store.cache_size).unwrap();
    let engine = Engine::load(&config).unwrap();
    let index = ClaimIndex::open(&store, &config.claims).unwrap();
    let mut seed = 42u64;

    let started = Instant::now();
    let stored = drafts(&engine, &mut seed, n);
    let analysed_in = started.elapsed();
    let source =
        ClaimSource { url: "https://bench.example/seed".into(), title: None, feed: None, seed: true };
    let (claims, features, df) = index.trees();
    let started = Instant::now();
    for chunk in stored.chunks(500) {
        (claims, features, df)
            .transaction(|(c, f, d)| {
                for draft in chunk {
                    insert_in(c, f, d, draft, &source, Utc::now())?;
                }
                Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
            })
            .unwrap();
    }
    store.flush().unwrap();
    let stored_in = started.elapsed();
    let count = index.len().unwrap();

    // Half repeats of stored claims, half fresh ones.
    let mut queries: Vec<ClaimDraft> = stored.iter().step_by((n / (judged_n / 2)).max(1)).cloned().collect();
    queries.truncate(judged_n / 2);
    queries.extend(drafts(&engine, &mut seed, judged_n - queries.len()));
    let mut latencies = Vec::with_capacity(queries.len());
    let mut known = 0;
    let started = Instant::now();
    for q in &queries {
        let t = Instant::now();
        let j = index.judge_claim(q).unwrap();
        latencies.push(t.elapsed());
        if j.verdict == claimwatch::model::ClaimVerdict::Known {
            known += 1;
        }
    }
    let judged_in = started.elapsed();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!("stored claims:          {count} (analysed in {analysed_in:.1?}, stored in {stored_in:.1?})");
    println!(
        "judged:                 {} claims in {judged_in:.2?} = {:.0} claims/s on one thread ({known} known)",
        queries.len(),
        queries.len() as f64 / judged_in.as_secs_f64()
    );
    println!(
        "latency of one judgement: p50 {:?}, p99 {:?}, max {:?}",
        pct(0.50),
        pct(0.99),
        latencies[latencies.len() - 1]
    );
    println!(
        "store on disk:          {:.0} bytes per claim",
        store.size_on_disk() as f64 / count.max(1) as f64
    );
    println!("peak RSS:               {} MiB", peak_rss_kib() / 1024);
}
