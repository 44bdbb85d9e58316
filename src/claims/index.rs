//! The claim store: stored claims (tree `claims`), an inverted index feature → claims (tree
//! `claim_features`) and document frequencies (tree `claim_df`). The read side, [`ClaimIndex`],
//! judges drafts: candidates come from the postings of the draft's features (capped), each is
//! scored by how much of the draft's rarity-weighted facts it carries, and hard rules decide
//! what a score cannot: a quantity of the same kind with another value, a number, name, place or
//! date the store has never seen, or a reversed polarity make a claim new.
//!
//! The write side ([`insert_in`], [`corroborate_in`]) works inside a sled transaction owned by
//! the caller, so an article, its claims and its alerts commit together.
//!
//! Trade-off: document frequencies are exact but the candidate scan is capped per feature, so a
//! claim whose only shared features are extremely common may miss its match in a huge store.

use std::collections::HashMap;

use chrono::{DateTime, TimeZone, Utc};
use sled::transaction::{TransactionalTree, UnabortableTransactionError};

use crate::claims::lexicon::EntityKind;
use crate::claims::{Analysis, ClaimDraft, ClaimId, Engine};
use crate::config::ClaimsConfig;
use crate::model::{ArticleVerdict, ClaimVerdict};
use crate::store::records::{self, ClaimRecord, ClaimV1, SourceV1};
use crate::store::{trees, Store, StoreError};

/// Key of the claim count in `claim_df`.
const COUNT_KEY: &[u8] = b"#claims";
const SEP: u8 = 0xFF;
/// Length of a claim id (16 hex digits).
const ID_LEN: usize = 16;

/// Where a claim was seen.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimSource {
    pub url: String,
    pub title: Option<String>,
    pub feed: Option<String>,
    pub seed: bool,
}

/// The stored claim a judgement rests on.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimMatch {
    pub claim_id: ClaimId,
    pub text: String,
    pub source: String,
}

/// The verdict on one draft, with what explains it.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    pub text: String,
    pub verdict: ClaimVerdict,
    /// Similarity to the best stored claim, 0..1.
    pub score: f32,
    /// The stored claim it repeats (known claims only).
    pub matched: Option<ClaimMatch>,
    /// The closest stored claim, whatever the verdict.
    pub nearest: Option<ClaimMatch>,
    /// Features shared with the nearest claim.
    pub shared: Vec<String>,
    /// Features of the draft the nearest claim lacks.
    pub differing: Vec<String>,
    /// Features of the draft that no stored claim has.
    pub novel: Vec<String>,
    /// Why it is new, when it is.
    pub reason: Option<String>,
}

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

fn to_source(s: &SourceV1) -> ClaimSource {
    ClaimSource { url: s.url.clone(), title: s.title.clone(), feed: s.feed.clone(), seed: s.seed }
}

fn time(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

fn decode_claim(id: &[u8], bytes: &[u8]) -> Result<StoredClaim, StoreError> {
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

fn posting_key(feature: &str, id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(feature.len() + 1 + id.len());
    key.extend_from_slice(feature.as_bytes());
    key.push(SEP);
    key.extend_from_slice(id.as_bytes());
    key
}

fn indexed(feature: &str) -> bool {
    !feature.starts_with("X:")
}

fn add_u64(tree: &TransactionalTree, key: &[u8], delta: u64) -> Result<(), UnabortableTransactionError> {
    let old = tree.get(key)?.map(|v| decode_u64(&v)).unwrap_or(0);
    tree.insert(key, &(old + delta).to_be_bytes())?;
    Ok(())
}

fn decode_u64(bytes: &[u8]) -> u64 {
    bytes.try_into().map(u64::from_be_bytes).unwrap_or(0)
}

/// Stores `draft` inside the caller's transaction, or, when the same claim (same id) is already
/// stored, records `source` as corroborating it. Returns the claim's id.
pub fn insert_in(
    claims: &TransactionalTree,
    features: &TransactionalTree,
    df: &TransactionalTree,
    draft: &ClaimDraft,
    source: &ClaimSource,
    seen_at: DateTime<Utc>,
) -> Result<ClaimId, UnabortableTransactionError> {
    let id = draft.id();
    if claims.get(id.as_bytes())?.is_some() {
        corroborate_in(claims, &id, source, seen_at)?;
        return Ok(id);
    }
    let record = ClaimRecord::V1(ClaimV1 {
        text: draft.text.clone(),
        lang: draft.lang.clone(),
        features: draft.features.clone(),
        context: draft.context.clone(),
        first_seen: seen_at.timestamp(),
        source: source_v1(source, seen_at),
        corroborations: Vec::new(),
    });
    claims.insert(id.as_bytes(), records::encode(&record))?;
    for feature in draft.features.iter().filter(|f| indexed(f)) {
        features.insert(posting_key(feature, &id), &[])?;
        add_u64(df, feature.as_bytes(), 1)?;
    }
    add_u64(df, COUNT_KEY, 1)?;
    Ok(id)
}

fn source_v1(source: &ClaimSource, seen_at: DateTime<Utc>) -> SourceV1 {
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

/// The read side of the claim store.
#[derive(Clone)]
pub struct ClaimIndex {
    claims: sled::Tree,
    features: sled::Tree,
    df: sled::Tree,
    config: ClaimsConfig,
}

/// Share of a feature's weight credited when it is only in a stored claim's setting.
const CONTEXT_CREDIT: f32 = 0.6;
/// Least share of a draft's facts a stored claim must carry itself (not in its setting).
const OWN_FLOOR: f32 = 0.4;

fn has(sorted: &[String], feature: &str) -> bool {
    sorted.binary_search_by(|x| x.as_str().cmp(feature)).is_ok()
}

/// How much one feature of each type counts in a comparison.
fn type_weight(feature: &str) -> f32 {
    match feature.split(':').next().unwrap_or("") {
        "E" | "N" | "C" => 1.0,
        "Q" => 1.5,
        "D" => 0.8,
        "M" => 0.3,
        "R" => 0.5,
        "X" if feature == "X:cond" => 0.7,
        _ => 0.0,
    }
}

impl ClaimIndex {
    /// Opens C's trees of `store`.
    pub fn open(store: &Store, config: &ClaimsConfig) -> Result<ClaimIndex, StoreError> {
        Ok(ClaimIndex {
            claims: store.tree(trees::CLAIMS)?,
            features: store.tree(trees::CLAIM_FEATURES)?,
            df: store.tree(trees::CLAIM_DF)?,
            config: config.clone(),
        })
    }

    /// The three trees, for a caller's transaction: `(claims, claim_features, claim_df)`.
    pub fn trees(&self) -> (&sled::Tree, &sled::Tree, &sled::Tree) {
        (&self.claims, &self.features, &self.df)
    }

    /// Number of stored claims.
    pub fn len(&self) -> Result<u64, StoreError> {
        Ok(self.df.get(COUNT_KEY)?.map(|v| decode_u64(&v)).unwrap_or(0))
    }

    pub fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.len()? == 0)
    }

    /// How many stored claims carry `feature`.
    pub fn df(&self, feature: &str) -> Result<u64, StoreError> {
        Ok(self.df.get(feature.as_bytes())?.map(|v| decode_u64(&v)).unwrap_or(0))
    }

    pub fn get(&self, id: &str) -> Result<Option<StoredClaim>, StoreError> {
        match self.claims.get(id.as_bytes())? {
            Some(bytes) => Ok(Some(decode_claim(id.as_bytes(), &bytes)?)),
            None => Ok(None),
        }
    }

    /// Every stored claim, in id order.
    pub fn iter(&self) -> impl Iterator<Item = Result<StoredClaim, StoreError>> + '_ {
        self.claims.iter().map(|item| {
            let (k, v) = item?;
            decode_claim(&k, &v)
        })
    }

    /// Judges every claim of an analysis (none for an off-topic article).
    pub fn judge(&self, engine: &Engine, analysis: &Analysis) -> Result<Vec<Judgement>, StoreError> {
        let _ = engine;
        analysis.claims.iter().map(|draft| self.judge_claim(draft)).collect()
    }

    /// Judges one draft against the store.
    pub fn judge_claim(&self, draft: &ClaimDraft) -> Result<Judgement, StoreError> {
        let n = self.len()? as f32;
        let mut dfs: HashMap<&str, u64> = HashMap::new();
        for f in draft.features.iter().filter(|f| indexed(f)) {
            dfs.insert(f.as_str(), self.df(f)?);
        }
        let weights: HashMap<&str, f32> =
            dfs.iter().map(|(f, df)| (*f, ((n + 1.0) / (*df as f32 + 0.5)).ln().max(0.1))).collect();
        // Candidates from the postings of the draft's selective features, rarest first. A feature
        // carried by a large share of the store (a country, a common word) selects nothing and
        // is skipped; when nothing selective is left, the three rarest are used anyway.
        let mut by_rarity: Vec<(&str, u64)> =
            dfs.iter().filter(|(_, df)| **df > 0).map(|(f, df)| (*f, *df)).collect();
        by_rarity.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(b.0)));
        let selective_cap = (n as u64 / 20).max(self.config.max_postings as u64 / 4).max(64);
        let mut chosen: Vec<&str> =
            by_rarity.iter().filter(|(_, df)| *df <= selective_cap).map(|(f, _)| *f).collect();
        if chosen.len() < 3 {
            chosen = by_rarity.iter().take(3).map(|(f, _)| *f).collect();
        }
        let mut acc: HashMap<[u8; ID_LEN], f32> = HashMap::new();
        for f in chosen {
            let w = weights[f] * if f.starts_with("W:") { 0.5 } else { type_weight(f).max(0.2) };
            let mut prefix = f.as_bytes().to_vec();
            prefix.push(SEP);
            for item in self.features.scan_prefix(&prefix).keys().take(self.config.max_postings) {
                let key = item?;
                if let Ok(id) = <[u8; ID_LEN]>::try_from(&key[prefix.len()..]) {
                    *acc.entry(id).or_default() += w;
                }
            }
        }
        let mut candidates: Vec<([u8; ID_LEN], f32)> = acc.into_iter().collect();
        candidates.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        candidates.truncate(self.config.max_candidates);

        let novel: Vec<String> = draft
            .features
            .iter()
            .filter(|f| {
                ["E:", "N:", "V:", "D:", "M:"].iter().any(|p| f.starts_with(p))
                    && dfs.get(f.as_str()) == Some(&0)
            })
            .cloned()
            .collect();
        let attributed = draft.has("X:attr");

        // The best candidate that passes the hard rules, and the best overall.
        let mut best_pass: Option<(f32, StoredClaim)> = None;
        let mut best_any: Option<(f32, StoredClaim, Option<String>)> = None;
        for (id, _) in candidates {
            let Some(bytes) = self.claims.get(id)? else { continue };
            let claim = decode_claim(&id, &bytes)?;
            let (score, objection) = self.compare(draft, &claim, &weights);
            if objection.is_none() && best_pass.as_ref().is_none_or(|(s, _)| score > *s) {
                best_pass = Some((score, claim.clone()));
            }
            if best_any.as_ref().is_none_or(|(s, _, _)| score > *s) {
                best_any = Some((score, claim, objection));
            }
        }

        let novelty = novel
            .iter()
            .find(|f| {
                let detail = f.starts_with("D:") || f.starts_with("M:");
                let pass_score = best_pass.as_ref().map(|(s, _)| *s).unwrap_or(0.0);
                !(detail && attributed && pass_score >= self.config.detail_threshold)
            })
            .map(|f| format!("{f} appears in no known claim"));
        let (verdict, score, nearest_claim, reason) = match (&best_pass, &best_any) {
            (Some((s, c)), _) if *s >= self.config.known_threshold && novelty.is_none() => {
                (ClaimVerdict::Known, *s, Some(c.clone()), None)
            }
            (_, Some((s, c, objection))) => {
                let reason = novelty
                    .or_else(|| objection.clone())
                    .unwrap_or_else(|| format!("best match {s:.2} below {:.2}", self.config.known_threshold));
                (ClaimVerdict::New, *s, Some(c.clone()), Some(reason))
            }
            (_, None) => (
                ClaimVerdict::New,
                0.0,
                None,
                Some(novelty.unwrap_or_else(|| "no stored claim shares a feature".into())),
            ),
        };
        let mut shared = Vec::new();
        let mut differing = Vec::new();
        if let Some(c) = &nearest_claim {
            for f in draft.features.iter().filter(|f| !f.starts_with("W:")) {
                if has(&c.features, f) {
                    shared.push(f.clone());
                } else if has(&c.context, f) {
                    shared.push(format!("{f} (context)"));
                } else {
                    differing.push(f.clone());
                }
            }
        }
        let nearest = nearest_claim.as_ref().map(|c| ClaimMatch {
            claim_id: c.id.clone(),
            text: c.text.clone(),
            source: c.source.url.clone(),
        });
        Ok(Judgement {
            text: draft.text.clone(),
            verdict,
            score,
            matched: if verdict == ClaimVerdict::Known { nearest.clone() } else { None },
            nearest,
            shared,
            differing,
            novel,
            reason,
        })
    }

    /// Scores how much of the draft's facts `claim` carries (its setting counting partly), and
    /// states the hard rule that makes them different claims, if one does.
    fn compare(
        &self,
        draft: &ClaimDraft,
        claim: &StoredClaim,
        weights: &HashMap<&str, f32>,
    ) -> (f32, Option<String>) {
        let w = |f: &str| weights.get(f).copied().unwrap_or(0.1);
        let in_claim = |f: &str| has(&claim.features, f);
        let in_context = |f: &str| has(&claim.context, f);
        let mut total = 0.0f32;
        let mut matched = 0.0f32;
        let mut own = 0.0f32;
        for f in draft.features.iter().map(String::as_str) {
            let tw = type_weight(f);
            if tw == 0.0 {
                continue;
            }
            if let Some(pair) = f.strip_prefix("R:") {
                // A role pair counts only when the claim has both parts: then it tells who did
                // what (Russia attacks vs Ukraine attacks).
                let (e, c) = pair.split_once('~').unwrap_or((pair, ""));
                if !(in_claim(&format!("E:{e}")) && in_claim(&format!("C:{c}"))) {
                    continue;
                }
            }
            let weight = tw * w(f);
            total += weight;
            if in_claim(f) {
                matched += weight;
                own += weight;
            } else if in_context(f) && !f.starts_with("R:") {
                matched += weight * CONTEXT_CREDIT;
            }
        }
        let mut score = if total > 0.0 { matched / total } else { 0.0 };
        if claim.lang == draft.lang {
            let words: Vec<&str> =
                draft.features.iter().map(String::as_str).filter(|f| f.starts_with("W:")).collect();
            let word_total: f32 = words.iter().map(|f| w(f)).sum();
            if word_total > 0.0 {
                let shared: f32 = words.iter().filter(|f| in_claim(f)).map(|f| w(f)).sum();
                score = score.max(0.5 * score + 0.5 * shared / word_total);
            }
        }
        // The setting only tops up: the claim itself must carry a good part of the facts.
        if total > 0.0 && own / total < OWN_FLOOR {
            return (
                score,
                Some(format!("the known claim itself carries only {:.2} of the facts", own / total)),
            );
        }
        // Polarity: a concept negated on one side only. A negated concept is what the claim
        // denies, so a stored claim that does not speak of it at all is not the same claim.
        for g in draft.features.iter().filter_map(|f| f.strip_prefix("G:")) {
            let concept = format!("C:{g}");
            if !in_claim(&concept) {
                return (
                    score,
                    Some(format!("the known claim does not speak of {g}, which this one denies")),
                );
            }
            if (in_claim(&concept) || in_context(&concept)) && !in_claim(&format!("G:{g}")) {
                return (score, Some(format!("{g} is negated here, not in the known claim")));
            }
        }
        for g in claim.features.iter().filter_map(|f| f.strip_prefix("G:")) {
            if draft.has(&format!("C:{g}")) && !draft.has(&format!("G:{g}")) {
                return (score, Some(format!("{g} is negated in the known claim, not here")));
            }
        }
        // Same kind of quantity, another value.
        for q in draft.features.iter().filter(|f| f.starts_with("Q:")) {
            let mut parts = q.splitn(3, ':');
            let (_, unit, value) = (parts.next(), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            let value_key = format!("V:{value}");
            if in_claim(&value_key) || in_context(&value_key) {
                continue;
            }
            let unit_prefix = format!("Q:{unit}:");
            if unit != "n" && claim.features.iter().any(|f| f.starts_with(&unit_prefix)) {
                return (score, Some(format!("{q} differs from the known claim's quantity")));
            }
        }
        (score, None)
    }

    /// Whether the article is on topic after judging: as analysed, or, when it names none of
    /// the topic's anchors but weighs enough and every one of its claims is known (it retells
    /// the stored story without naming it), on topic as well. Such an article cannot alert.
    pub fn on_topic(engine: &Engine, analysis: &Analysis, judgements: &[Judgement]) -> bool {
        analysis.on_topic
            || (!analysis.anchored
                && engine.topic.weighty(analysis.topic_score)
                && !judgements.is_empty()
                && judgements.iter().all(|j| j.verdict == ClaimVerdict::Known))
    }

    /// The verdict on the whole article: off topic; a new story when its lead is a new claim
    /// about an event (meeting, hearing, visit) at a place or date the store has never seen, or
    /// when nothing in it is known; otherwise the same story.
    pub fn story_verdict(
        &self,
        engine: &Engine,
        analysis: &Analysis,
        judgements: &[Judgement],
    ) -> Result<ArticleVerdict, StoreError> {
        if !Self::on_topic(engine, analysis, judgements) {
            return Ok(ArticleVerdict::OffTopic);
        }
        let known = judgements.iter().filter(|j| j.verdict == ClaimVerdict::Known).count();
        if known == 0 {
            return Ok(ArticleVerdict::NewStory);
        }
        let is_place_or_date = |f: &str| {
            f.starts_with("D:")
                || f.starts_with("M:")
                || f.strip_prefix("E:")
                    .and_then(|id| engine.entity_kind(id))
                    .is_some_and(|k| k == EntityKind::Place)
        };
        let mut dateline_novel = false;
        for f in analysis.dateline.iter().filter(|f| is_place_or_date(f)) {
            if self.df(f)? == 0 {
                dateline_novel = true;
            }
        }
        if let (Some(lead), Some(j)) = (analysis.claims.first(), judgements.first()) {
            if j.verdict == ClaimVerdict::New
                && lead.event
                && (dateline_novel || j.novel.iter().any(|f| is_place_or_date(f)))
            {
                return Ok(ArticleVerdict::NewStory);
            }
        }
        Ok(ArticleVerdict::SameStory)
    }
}
