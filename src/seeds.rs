//! Seed articles: the known story the store starts from, read from a directory of `.txt`, `.md`
//! and `.html` files in file-name order. A text seed may begin with ` date YYYY-MM-DD`; that date
//! is its published date and is not part of its text. Reading only: importing is the claim
//! engine's job.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use chrono::{NaiveDate, TimeZone, Utc};
use url::Url;

use crate::model::Article;

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
