//! Seed articles: the known story the store starts from, read from a directory of `.txt`, `.md`
//! and `.html` files in file-name order. A text seed may begin with ` date YYYY-MM-DD`; that date
//! is its published date and is not part of its text. Importing goes through the same per-article
//! commit as polled articles (`ingest`, origin seed: no alerts); the daemon's first start and the
//! `seed` and `check` commands share it.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use chrono::{NaiveDate, TimeZone, Utc};
use url::Url;

use crate::claims::Engine;
use crate::config::Config;
use crate::model::Article;
use crate::store::{meta_keys, trees, Store};

/// One seed file, read and split into its date and text.
#[derive(Debug, Clone)]
pub struct Seed {
    pub path: PathBuf,
    pub article: Article,
    /// Whether the file is HTML and still needs extraction.
    pub is_html: bool,
}

/// Reads every seed file in `dir`, sorted by name. A missing or empty directory is an error.
pub fn read_dir(dir: &Path) -> Result<Vec<Seed>> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("seeds directory {}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("txt" | "md" | "html" | "htm")))
        .collect();
    paths.sort();
    if paths.is_empty() {
        bail!("seeds directory {} holds no .txt, .md or .html file", dir.display());
    }
    paths.iter().map(|path| read_file(path)).collect()
}

/// Reads one seed file.
pub fn read_file(path: &Path) -> Result<Seed> {
    let bytes = std::fs::read(path).with_context(|| format!("seed {}", path.display()))?;
    let raw = String::from_utf8_lossy(&bytes);
    let is_html = matches!(path.extension().and_then(|e| e.to_str()), Some("html" | "htm"));
    let (published, text) = if is_html { (None, raw.as_ref()) } else { split_date(&raw) };
    let absolute = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let url =
        Url::from_file_path(&absolute).unwrap_or_else(|_| Url::parse("file:///seed").expect("static URL"));
    Ok(Seed {
        path: path.to_path_buf(),
        is_html,
        article: Article {
            url,
            feed: None,
            feed_name: None,
            title: None,
            text: text.trim().to_string(),
            published,
            lang_hint: None,
            seen_at: Utc::now(),
        },
    })
}

/// Splits a leading ` date YYYY-MM-DD` off a text seed.
fn split_date(raw: &str) -> (Option<chrono::DateTime<Utc>>, &str) {
    let trimmed = raw.trim_start();
    if let Some(rest) = trimmed.strip_prefix("date ") {
        let rest = rest.trim_start();
        if let Some(day) = rest.get(..10).and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()) {
            let midnight = day.and_hms_opt(0, 0, 0).expect("midnight exists");
            return (Some(Utc.from_utc_datetime(&midnight)), &rest[10..]);
        }
    }
    (None, raw)
}

// ------------------------------------------------------------------------------------- importing

/// Turns an HTML page into the article fields through the extractor.
pub fn from_html(article: &mut Article, html: &str) {
    let extracted = crate::extract::extract(html, &article.url);
    article.text = extracted.text;
    article.title = article.title.take().or(extracted.title);
    article.lang_hint = article.lang_hint.take().or(extracted.lang);
    article.published = article.published.or(extracted.published);
}

/// Imports every seed article of `dir` as known, through the same per-article commit as polled
/// articles (`ingest`, origin seed: no alerts), so that seeds also get article records and
/// dedup fingerprints (a syndicated copy of a seed is then a `duplicate`). Idempotent: a seed
/// already imported is recognised by its text. Marks the store seeded. Returns (articles, claims
/// stored): a claim that several seeds state is stored, and counted, once.
pub fn import_seeds(store: &Store, engine: &Engine, dir: &Path) -> Result<(usize, usize)> {
    let ingest = crate::ingest::Ingest::for_seeds(store, std::sync::Arc::new(engine.clone()))?;
    import_seeds_with(&ingest, dir)
}

/// [`import_seeds`] through an existing `ingest` (the running daemon's, so that its live claim
/// index learns the seeds). Seeds never alert.
pub fn import_seeds_with(ingest: &crate::ingest::Ingest, dir: &Path) -> Result<(usize, usize)> {
    let store = ingest.store();
    let seeds = crate::seeds::read_dir(dir)?;
    tracing::info!(dir = %dir.display(), "importing {} seed articles", seeds.len());
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
        total += processed.new_claims;
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
    tracing::info!(articles, claims, "seed import done: {claims} claims from {articles} articles");
    Ok(())
}

/// [`ensure_seeded`] with the engine loaded from `config` (for the daemon's start).
pub fn seed_if_needed(config: &Config, store: &Store) -> Result<()> {
    ensure_seeded(store, &Engine::load(config)?, config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_date_becomes_published_date() {
        let (date, text) = split_date(" date 2026-01-06 European leaders met.");
        assert_eq!(date.unwrap().to_rfc3339(), "2026-01-06T00:00:00+00:00");
        assert_eq!(text.trim(), "European leaders met.");
    }

    #[test]
    fn text_without_date_is_kept_whole() {
        let (date, text) = split_date("Лідери разом Європи");
        assert!(date.is_none());
        assert_eq!(text, "Лідери разом Європи");
    }
}
