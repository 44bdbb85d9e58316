//! On-disk record types and their encoding. These are a compatibility boundary: each record is a
//! versioned enum encoded with postcard, separate from the in-memory model, so that the model can
//! change without rewriting stores. Add a variant (`V2`) rather than changing one.

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::StoreError;

/// The schema this build writes; stores with a higher version are refused, older ones upgraded
/// on open (`Store::upgrade`).
/// - 1: the first layout.
/// - 2: the dedup trees `fingerprints`, `url_keys`, `lsh_buckets` replace `items`, `urls`,
///   `signatures`, `lsh` (16-bit MinHash minima, LSH bands packed per bucket).
pub const SCHEMA_VERSION: u32 = 2;

/// Encodes a record.
pub fn encode<T: Serialize>(record: &T) -> Vec<u8> {
    postcard::to_stdvec(record).expect("records serialize")
}

/// Decodes a record, naming what it was on failure.
pub fn decode<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, StoreError> {
    postcard::from_bytes(bytes)
        .map_err(|e| StoreError::Corrupt { what: what.to_string(), reason: e.to_string() })
}

pub fn decode_u32(bytes: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.try_into().ok()?))
}

/// One processed article, without its body (which lives in `article_bodies` until retention
/// drops it).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub enum ArticleRecord {
    V1(ArticleV1),
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ArticleV1 {
    pub url: String,
    pub feed: Option<String>,
    pub title: Option<String>,
    /// Unix milliseconds.
    pub published: Option<i64>,
    pub seen_at: i64,
    pub lang: String,
    /// The contract's article verdict (`duplicate`, `same_story`, `new_story`, `off_topic`).
    pub verdict: String,
    pub story: u64,
    /// For a duplicate: the stored article it copies.
    pub duplicate_of: Option<u64>,
    /// The ids of the claims it states, new and known.
    pub claims: Vec<String>,
    pub seed: bool,
}

/// Where and when a claim was seen: what the `claims` command lists and alerts carry.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub enum ClaimProvenance {
    V1(ClaimProvenanceV1),
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ClaimProvenanceV1 {
    pub text: String,
    pub lang: String,
    /// Unix milliseconds of the first sighting.
    pub first_seen: i64,
    pub story: u64,
    /// First seen in a seed article (known from the start, never alerted).
    pub seed: bool,
    pub entities: Vec<String>,
    pub numbers: Vec<String>,
    /// How many articles state it (including the first).
    pub source_count: u32,
    /// The languages of those articles, sorted.
    pub langs: Vec<String>,
    /// The first sources, up to [`MAX_SOURCES`]; the first is where the claim appeared.
    pub sources: Vec<ProvenanceSourceV1>,
}

/// Sources kept per claim; the count goes on beyond.
pub const MAX_SOURCES: usize = 20;

/// One article stating a claim, with its language.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ProvenanceSourceV1 {
    pub url: String,
    pub feed: Option<String>,
    pub lang: String,
    pub seen_at: i64,
}

/// A stored claim (tree `claims`, key: the claim id).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum ClaimRecord {
    V1(ClaimV1),
}

/// Version 1 of a stored claim.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClaimV1 {
    /// Canonical text: the first sentence that stated it, normalised.
    pub text: String,
    pub lang: String,
    /// Prefixed feature strings (see `claims::features`).
    pub features: Vec<String>,
    /// Features of its setting in the article it came from (neighbours, places, dates).
    pub context: Vec<String>,
    /// Unix seconds when first seen.
    pub first_seen: i64,
    /// Where it was first seen.
    pub source: SourceV1,
    /// Later sources that repeated it, oldest first, one per URL.
    pub corroborations: Vec<SourceV1>,
}

/// The leading fields of a stored claim, borrowed from its bytes: what the claim index reads on
/// open and what a judgement shows, without copying the rest. It follows `ClaimV1`'s layout
/// (postcard writes fields one after the other, so the first field of `source` comes next).
#[derive(Debug, serde::Deserialize)]
pub enum ClaimHead<'a> {
    V1(#[serde(borrow)] ClaimHeadV1<'a>),
}

#[derive(Debug, serde::Deserialize)]
pub struct ClaimHeadV1<'a> {
    pub text: &'a str,
    pub lang: &'a str,
    #[serde(borrow)]
    pub features: Vec<&'a str>,
    #[serde(borrow)]
    pub context: Vec<&'a str>,
    pub first_seen: i64,
    /// `source.url`.
    pub source_url: &'a str,
}

/// Decodes the head of the stored claim `id` (see [`ClaimHead`]).
pub fn decode_claim_head<'a>(id: &[u8], bytes: &'a [u8]) -> Result<ClaimHeadV1<'a>, StoreError> {
    match postcard::take_from_bytes::<ClaimHead<'a>>(bytes) {
        Ok((ClaimHead::V1(head), _rest)) => Ok(head),
        Err(e) => Err(StoreError::Corrupt {
            what: format!("claims/{}", String::from_utf8_lossy(id)),
            reason: e.to_string(),
        }),
    }
}

/// Where a claim was seen.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SourceV1 {
    pub url: String,
    pub title: Option<String>,
    pub feed: Option<String>,
    /// A seed article (known from the start) rather than a polled one.
    pub seed: bool,
    /// Unix seconds.
    pub seen_at: i64,
}

/// A stored feed subscription (`feeds add`, `feeds import`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Subscription {
    V1 { name: Option<String>, lang: Option<String>, added_at: i64 },
}

/// A feed's schedule and health, persisted so that a restart resumes the schedule.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum FeedState {
    V1(FeedStateV1),
}

/// Times are unix seconds.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FeedStateV1 {
    pub next_check_at: i64,
    pub last_check_at: Option<i64>,
    pub last_ok_at: Option<i64>,
    /// The last fetch sent without validators (forced refresh).
    pub last_unconditional_at: Option<i64>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// SHA-256 of the last body, to skip unchanged documents.
    pub body_hash: Option<Vec<u8>>,
    pub consecutive_errors: u32,
    pub failing_since: Option<i64>,
    pub last_error: Option<String>,
    /// GUIDs of this feed proved unstable (repeated or changing for one link): ignore them.
    pub guids_unstable: bool,
    /// link → GUID from the last parsed document, to notice GUID churn.
    pub last_guids: Vec<(String, String)>,
    pub title: Option<String>,
    pub items_seen: u64,
}
