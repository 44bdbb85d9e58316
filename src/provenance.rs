//! Claim provenance: where and when each stored claim was first seen, how many articles repeat
//! it and in which languages (the `claims` command, `cmd::claims`, lists it). Written only
//! inside the per-article commit (`ingest`); read here.
//!
//! Trade-off: it keeps its own small copy of each claim's text and first source instead of
//! reading the claim engine's records, so that listing and alerting do not depend on how the
//! engine lays out its index.

use chrono::{DateTime, TimeZone, Utc};
use sled::transaction::{ConflictableTransactionError, TransactionalTree};

use crate::model::AlertNearest;
use crate::store::records::{self, ClaimProvenance, ClaimProvenanceV1, ProvenanceSourceV1};
use crate::store::{trees, Store, StoreError};

/// The provenance of one claim.
pub fn provenance(tree: &sled::Tree, id: &str) -> Result<Option<ClaimProvenanceV1>, StoreError> {
    match tree.get(id.as_bytes())? {
        Some(bytes) => {
            let ClaimProvenance::V1(p) = records::decode("claim provenance", &bytes)?;
            Ok(Some(p))
        }
        None => Ok(None),
    }
}

/// Adds a source to a known claim's provenance (once per article address).
pub fn corroborate_provenance(
    tx: &TransactionalTree,
    id: &str,
    source: &ProvenanceSourceV1,
) -> Result<(), ConflictableTransactionError<StoreError>> {
    let Some(bytes) = tx.get(id.as_bytes())? else { return Ok(()) };
    let ClaimProvenance::V1(mut p) =
        records::decode("claim provenance", &bytes).map_err(ConflictableTransactionError::Abort)?;
    if p.sources.iter().any(|s| s.url == source.url) {
        return Ok(());
    }
    p.source_count += 1;
    if !p.langs.contains(&source.lang) {
        p.langs.push(source.lang.clone());
        p.langs.sort();
    }
    if p.sources.len() < records::MAX_SOURCES {
        p.sources.push(source.clone());
    }
    tx.insert(id.as_bytes(), records::encode(&ClaimProvenance::V1(p)))?;
    Ok(())
}

/// One stored claim as `claims` shows it.
#[derive(Debug, Clone)]
pub struct Listed {
    pub id: String,
    pub claim: ClaimProvenanceV1,
    /// The known claim nearest to it when it was first seen (new claims of articles).
    pub nearest: Option<AlertNearest>,
}

/// The nearest known claim recorded for claim `id` (tree `claim_nearest`).
pub fn nearest(tree: &sled::Tree, id: &str) -> Result<Option<AlertNearest>, StoreError> {
    Ok(tree.get(id.as_bytes())?.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
}

/// Every stored claim, sorted by first seen; `new_only` leaves out claims first seen in seeds,
/// `since` those first seen earlier.
pub fn list(store: &Store, new_only: bool, since: Option<DateTime<Utc>>) -> Result<Vec<Listed>, StoreError> {
    let tree = store.tree(trees::CLAIM_PROVENANCE)?;
    let nearest_tree = store.tree(trees::CLAIM_NEAREST)?;
    let mut out = Vec::new();
    for entry in tree.iter() {
        let (k, v) = entry?;
        let ClaimProvenance::V1(claim) = records::decode("claim provenance", &v)?;
        if new_only && claim.seed {
            continue;
        }
        if since.is_some_and(|s| claim.first_seen < s.timestamp_millis()) {
            continue;
        }
        let id = String::from_utf8_lossy(&k).into_owned();
        let nearest = nearest(&nearest_tree, &id)?;
        out.push(Listed { id, claim, nearest });
    }
    out.sort_by(|a, b| (a.claim.first_seen, &a.id).cmp(&(b.claim.first_seen, &b.id)));
    Ok(out)
}

/// Unix milliseconds → time.
pub fn millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// The JSON object of one listed claim.
pub fn to_json(listed: &Listed) -> serde_json::Value {
    let c = &listed.claim;
    let first = c.sources.first();
    serde_json::json!({
        "id": listed.id,
        "text": c.text,
        "lang": c.lang,
        "first_seen": millis(c.first_seen).to_rfc3339(),
        "source": first.map(|s| s.url.as_str()),
        "feed": first.and_then(|s| s.feed.as_deref()),
        "seed": c.seed,
        "story_id": crate::model::story_id(c.story),
        "sources": c.source_count,
        "langs": c.langs,
        "source_urls": c.sources.iter().map(|s| s.url.as_str()).collect::<Vec<_>>(),
        "entities": c.entities,
        "numbers": c.numbers,
        "nearest": listed.nearest,
    })
}
