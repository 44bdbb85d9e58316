//! Stored claim records: decoding, ids, and the write side that works inside a transaction the
//! caller owns ([`insert_in`], [`insert_variant_in`], [`corroborate_in`]).

use super::*;

/// A stored claim, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredClaim {
    pub id: ClaimId,
    pub text: String,
    pub lang: String,
    pub features: Vec<String>,
    pub context: Vec<String>,
    pub first_seen: DateTime<Utc>,
    pub source: ClaimSource,
    pub corroborations: Vec<(ClaimSource, DateTime<Utc>)>,
}

pub(super) fn to_source(s: &SourceV1) -> ClaimSource {
    ClaimSource { url: s.url.clone(), title: s.title.clone(), feed: s.feed.clone(), seed: s.seed }
}

pub(super) fn time(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

pub(super) fn decode_claim(id: &[u8], bytes: &[u8]) -> Result<StoredClaim, StoreError> {
    let id = String::from_utf8_lossy(id).into_owned();
    let ClaimRecord::V1(v) = records::decode::<ClaimRecord>(&format!("claims/{id}"), bytes)?;
    Ok(StoredClaim {
        id,
        text: v.text,
        lang: v.lang,
        features: v.features,
        context: v.context,
        first_seen: time(v.first_seen),
        source: to_source(&v.source),
        corroborations: v.corroborations.iter().map(|s| (to_source(s), time(s.seen_at))).collect(),
    })
}

pub(super) fn indexed(feature: &str) -> bool {
    !matches!(Feature::parse(feature), Some(Feature::Marker(_)))
}

/// The `claims` key of the claim id `id` (16 hex digits).
pub(super) fn id_key(id: u64) -> String {
    format!("{id:0width$x}", width = ID_LEN)
}

/// A claim id (16 hex digits) as the number it spells.
pub(super) fn id_number(id: &str) -> Option<u64> {
    u64::from_str_radix(id, 16).ok()
}

/// Stores `draft` inside the caller's transaction (trees `claims` and `claims_hot`, see
/// [`ClaimIndex::trees`]), or, when the same claim (same id) is already stored, records `source`
/// as corroborating it. Returns the claim's id and whether it was inserted (then the caller
/// tells the index with [`ClaimIndex::remember`] once the transaction has committed).
pub fn insert_in(
    claims: &TransactionalTree,
    hot: &TransactionalTree,
    draft: &ClaimDraft,
    source: &ClaimSource,
    seen_at: DateTime<Utc>,
) -> Result<(ClaimId, bool), UnabortableTransactionError> {
    let id = draft.id();
    if claims.get(id.as_bytes())?.is_some() {
        corroborate_in(claims, &id, source, seen_at)?;
        return Ok((id, false));
    }
    claims.insert(id.as_bytes(), claim_record(draft, source, seen_at))?;
    hot.insert(id.as_bytes(), &seen_at.timestamp().to_be_bytes())?;
    Ok((id, true))
}

/// Stores `draft`, judged a repeat of claim `repeats` in other words, as a wording of it
/// (trees `claims`, `claims_hot` and `claim_variants`), inside the caller's transaction. Returns
/// whether it was inserted (then the caller tells the index with [`ClaimIndex::remember`]); a
/// wording already stored, or the claim's own, is not stored again.
pub fn insert_variant_in(
    [claims, hot, variants]: [&TransactionalTree; 3],
    draft: &ClaimDraft,
    repeats: &str,
    source: &ClaimSource,
    seen_at: DateTime<Utc>,
) -> Result<bool, UnabortableTransactionError> {
    let id = draft.id();
    if id == repeats || claims.get(id.as_bytes())?.is_some() {
        return Ok(false);
    }
    claims.insert(id.as_bytes(), claim_record(draft, source, seen_at))?;
    hot.insert(id.as_bytes(), &seen_at.timestamp().to_be_bytes())?;
    variants.insert(id.as_bytes(), repeats.as_bytes())?;
    Ok(true)
}

/// The stored record of a newly seen claim.
pub(super) fn claim_record(draft: &ClaimDraft, source: &ClaimSource, seen_at: DateTime<Utc>) -> Vec<u8> {
    records::encode(&ClaimRecord::V1(ClaimV1 {
        text: draft.text.clone(),
        lang: draft.lang.clone(),
        features: draft.features.clone(),
        context: draft.context.clone(),
        first_seen: seen_at.timestamp(),
        source: source_v1(source, seen_at),
        corroborations: Vec::new(),
    }))
}

pub(super) fn source_v1(source: &ClaimSource, seen_at: DateTime<Utc>) -> SourceV1 {
    SourceV1 {
        url: source.url.clone(),
        title: source.title.clone(),
        feed: source.feed.clone(),
        seed: source.seed,
        seen_at: seen_at.timestamp(),
    }
}

/// Records `source` as repeating claim `id` (once per URL). Returns whether it was added; a
/// missing claim is not an error (false).
pub fn corroborate_in(
    claims: &TransactionalTree,
    id: &str,
    source: &ClaimSource,
    seen_at: DateTime<Utc>,
) -> Result<bool, UnabortableTransactionError> {
    let Some(bytes) = claims.get(id.as_bytes())? else {
        return Ok(false);
    };
    let Ok(ClaimRecord::V1(mut v)) = records::decode::<ClaimRecord>("claim", &bytes) else {
        return Ok(false);
    };
    if v.source.url == source.url || v.corroborations.iter().any(|c| c.url == source.url) {
        return Ok(false);
    }
    v.corroborations.push(source_v1(source, seen_at));
    claims.insert(id.as_bytes(), records::encode(&ClaimRecord::V1(v)))?;
    Ok(true)
}
