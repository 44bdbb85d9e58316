//! The `seed` and `check` commands: importing the seed articles as known claims, and analysing
//! one article against the store without writing to it. Output of `check --json` is the
//! contract's object; without `--json` it is a readable explanation of every decision.

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::Utc;
use serde_json::json;
use url::Url;

use crate::claims::index::{ClaimIndex, Judgement};
use crate::claims::{Analysis, Engine};
use crate::config::Config;
use crate::model::{Article, ArticleVerdict, ClaimVerdict};
use crate::store::{meta_keys, trees, Store};

/// `claimwatch seed [DIR]`.
pub fn seed_command(config: &Config, dir: Option<&Path>) -> Result<ExitCode> {
    let store = open_store(config)?;
    let engine = Engine::load(config)?;
    let dir = dir.unwrap_or(&config.seeds_dir);
    let (articles, claims) = import_seeds(&store, &engine, dir)?;
    store.flush()?;
    eprintln!("seeded {claims} claims from {articles} articles in {}", dir.display());
    Ok(ExitCode::SUCCESS)
}

fn open_store(config: &Config) -> Result<Store> {
    Store::open(&config.state_dir, config.store.cache_size)
        .with_context(|| format!("opening the store in {}", config.state_dir.display()))
}

/// Turns an HTML page into the article fields through the extractor.
fn from_html(article: &mut Article, html: &str) {
    let extracted = crate::extract::extract(html, &article.url);
    article.text = extracted.text;
    article.title = article.title.take().or(extracted.title);
    article.lang_hint = article.lang_hint.take().or(extracted.lang);
    article.published = article.published.or(extracted.published);
}

/// Imports every seed article of `dir` as known, through the same per-article commit as polled
/// articles (`ingest`, origin seed: no alerts), so that seeds also get article records and
/// dedup fingerprints (a syndicated copy of a seed is then a `duplicate`). Idempotent: a seed
/// already imported is recognised by its text. Marks the store seeded. Returns (articles, claims).
pub fn import_seeds(store: &Store, engine: &Engine, dir: &Path) -> Result<(usize, usize)> {
    let seeds = crate::seeds::read_dir(dir)?;
    let ingest = crate::ingest::Ingest::for_seeds(store, std::sync::Arc::new(engine.clone()))?;
    let mut total = 0;
    for seed in &seeds {
        let mut article = seed.article.clone();
        if seed.is_html {
            let html = std::mem::take(&mut article.text);
            from_html(&mut article, &html);
        }
        article.seen_at = article.published.unwrap_or(article.seen_at);
        let processed = ingest
            .process(article, crate::ingest::Origin::Seed)
            .with_context(|| format!("importing seed {}", seed.path.display()))?;
        total += processed.new_claims + processed.known_claims;
        tracing::debug!(seed = %seed.path.display(), new = processed.new_claims, known = processed.known_claims, lang = %processed.lang, "seed imported");
    }
    store.tree(trees::META)?.insert(meta_keys::SEEDED, Utc::now().to_rfc3339().as_bytes())?;
    store.flush()?;
    Ok((seeds.len(), total))
}

/// Seeds the store from `seeds_dir` if it has never been seeded (for `check` and `run`). A seed
/// set that cannot be read stops the command: without it every claim would look new and the
/// daemon would alert on the whole known story.
pub fn ensure_seeded(store: &Store, engine: &Engine, config: &Config) -> Result<()> {
    if store.is_seeded()? {
        return Ok(());
    }
    let (articles, claims) = import_seeds(store, engine, &config.seeds_dir).with_context(|| {
        format!(
            "the store has never been seeded and the seed set in {} cannot be imported",
            config.seeds_dir.display()
        )
    })?;
    tracing::info!(articles, claims, "store seeded");
    Ok(())
}

/// [`ensure_seeded`] with the engine loaded from `config` (for the daemon's start).
pub fn seed_if_needed(config: &Config, store: &Store) -> Result<()> {
    ensure_seeded(store, &Engine::load(config)?, config)
}

/// Reads a file, standard input, or an http(s) URL fetched under the daemon's `[fetch]` rules.
fn read_input(input: &str, config: &Config) -> Result<(Article, bool)> {
    let (bytes, url, name, content_type) = if input.starts_with("http://") || input.starts_with("https://") {
        let url = Url::parse(input).with_context(|| format!("invalid URL {input}"))?;
        let page = crate::fetch::fetch_blocking(&config.fetch, &url, crate::fetch::Kind::Page)
            .with_context(|| format!("fetching {url}"))?;
        let html = page.content_type.as_deref().is_some_and(|ct| ct.contains("html"));
        (page.body, page.url, if html { "page.html" } else { "" }.to_string(), page.content_type)
    } else if input == "-" {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf).context("reading standard input")?;
        (buf, Url::parse("file:///dev/stdin").expect("static URL"), String::new(), None)
    } else {
        let path = Path::new(input);
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let absolute = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let url = Url::from_file_path(&absolute)
            .unwrap_or_else(|_| Url::parse("file:///input").expect("static URL"));
        (bytes, url, input.to_ascii_lowercase(), None)
    };
    let text = crate::charset::decode(&bytes, content_type.as_deref()).text;
    let head = text.trim_start().chars().take(15).collect::<String>().to_ascii_lowercase();
    let is_html = name.ends_with(".html")
        || name.ends_with(".htm")
        || head.starts_with("<!doctype html")
        || head.starts_with("<html");
    let mut article =
        Article { url, feed: None, title: None, text, published: None, lang_hint: None, seen_at: Utc::now() };
    if is_html {
        let html = std::mem::take(&mut article.text);
        from_html(&mut article, &html);
    }
    Ok((article, is_html))
}

/// `claimwatch check [--json] FILE|URL|-`.
pub fn check_command(config: &Config, input: &str, as_json: bool) -> Result<ExitCode> {
    let (article, _) = read_input(input, config)?;
    let store = open_store(config)?;
    let engine = Engine::load(config)?;
    ensure_seeded(&store, &engine, config)?;
    let index = ClaimIndex::open(&store, &engine.config)?;
    let (analysis, judgements, mut verdict) = check_article(&engine, &index, &article)?;
    // A near-verbatim copy (or an exact one) of a stored article is a duplicate, whatever its
    // claims say; its claims are still listed.
    let dedup = crate::dedup::DedupIndex::open(&store)?;
    if let Some(seen) = dedup.lookup(&crate::dedup::fingerprint(&article))? {
        if verdict != ArticleVerdict::OffTopic {
            tracing::debug!(layer = seen.layer.as_str(), of = %seen.of, similarity = seen.similarity, "duplicate");
            verdict = ArticleVerdict::Duplicate;
        }
    }
    if as_json {
        println!("{}", check_json(&analysis, &judgements, verdict));
    } else {
        print!("{}", explain(&analysis, &judgements, verdict));
    }
    Ok(ExitCode::SUCCESS)
}

/// Analyses and judges one article without writing anything.
pub fn check_article(
    engine: &Engine,
    index: &ClaimIndex,
    article: &Article,
) -> Result<(Analysis, Vec<Judgement>, ArticleVerdict)> {
    let analysis = engine.analyse(article);
    let judgements = index.judge(&analysis)?;
    let verdict = index.story_verdict(engine, &analysis, &judgements)?;
    Ok((analysis, judgements, verdict))
}

/// The contract's `check --json` object.
pub fn check_json(
    analysis: &Analysis,
    judgements: &[Judgement],
    verdict: ArticleVerdict,
) -> serde_json::Value {
    // Off-topic sentences are not claims: an off-topic article lists none.
    let on_topic = verdict != ArticleVerdict::OffTopic;
    let listed = if on_topic { judgements } else { &[] };
    let claims: Vec<serde_json::Value> = listed
        .iter()
        .map(|j| {
            json!({
                "text": j.text,
                "verdict": if j.verdict == ClaimVerdict::New { "new" } else { "known" },
                "score": round3(j.score),
                "match": j.matched.as_ref().map(|m| json!({"claim_id": m.claim_id, "text": m.text, "source": m.source})),
                "signals": {
                    "facts": round3(j.signals.facts),
                    "words": round3(j.signals.words),
                    "coverage": round3(j.signals.coverage),
                    "unrecognised": round3(j.signals.unrecognised),
                    "same_lang": round3(j.signals.same_lang),
                },
                "objected": j.objected,
            })
        })
        .collect();
    json!({
        "lang": analysis.lang,
        "on_topic": on_topic,
        "article_verdict": verdict.as_str(),
        "claims": claims,
    })
}

fn round3(x: f32) -> f64 {
    (f64::from(x) * 1000.0).round() / 1000.0
}

/// A readable explanation of a check.
pub fn explain(analysis: &Analysis, judgements: &[Judgement], verdict: ArticleVerdict) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "language: {}   on topic: {} (score {:.1})   article: {}",
        analysis.lang,
        analysis.on_topic,
        analysis.topic_score,
        verdict.as_str()
    );
    if let Some(note) = &analysis.note {
        let _ = writeln!(out, "note: {note}");
    }
    for (i, j) in judgements.iter().enumerate() {
        let verdict = if j.verdict == ClaimVerdict::New { "NEW" } else { "known" };
        let _ = writeln!(out, "\n{}. [{verdict}] score {:.2}: {}", i + 1, j.score, j.text);
        if let Some(reason) = &j.reason {
            let _ = writeln!(out, "   why new: {reason}");
        }
        if let Some(m) = &j.nearest {
            let _ = writeln!(out, "   best match: {} [{}]", m.text, m.source);
        }
        if !j.shared.is_empty() {
            let _ = writeln!(out, "   matched: {}", j.shared.join(" "));
        }
        if !j.differing.is_empty() {
            let _ = writeln!(out, "   differed: {}", j.differing.join(" "));
        }
        if !j.novel.is_empty() {
            let _ = writeln!(out, "   never seen: {}", j.novel.join(" "));
        }
    }
    out
}
