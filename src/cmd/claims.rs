//! The `claims` command: stored claims with their first sighting, sources and languages, as a
//! table or one JSON object per line (`provenance` owns the records).

use std::time::Duration;

use anyhow::Result;
use chrono::Utc;

use super::Here;
use crate::admin::Response;
use crate::provenance::{list, millis, to_json};

/// `claimwatch claims [--new] [--since AGE] [--json]`.
pub fn command(
    here: &Here,
    new_only: bool,
    since: Option<Duration>,
    json: bool,
    out: &mut Response,
) -> Result<u8> {
    let store = &here.store;
    let since =
        since.map(|age| Utc::now() - chrono::Duration::from_std(age).unwrap_or(chrono::Duration::MAX));
    let claims = list(store, new_only, since)?;
    let out = &mut out.stdout;
    if json {
        for listed in &claims {
            out.push_str(&to_json(listed).to_string());
            out.push('\n');
        }
    } else {
        out.push_str(&format!(
            "{:<20} {:>7}  {:<11} {:<4} {}\n",
            "FIRST SEEN (UTC)", "SOURCES", "LANGUAGES", "SEED", "CLAIM / FIRST SOURCE"
        ));
        for listed in &claims {
            let c = &listed.claim;
            let text: String = if c.text.chars().count() > 100 {
                c.text.chars().take(99).chain(std::iter::once('…')).collect()
            } else {
                c.text.clone()
            };
            out.push_str(&format!(
                "{:<20} {:>7}  {:<11} {:<4} {}\n{:>46}{}\n",
                millis(c.first_seen).format("%Y-%m-%d %H:%M:%S"),
                c.source_count,
                c.langs.join(","),
                if c.seed { "yes" } else { "" },
                text,
                "",
                c.sources.first().map(|s| s.url.as_str()).unwrap_or("")
            ));
        }
        out.push_str(&format!("{} claims\n", claims.len()));
    }
    Ok(0)
}
