//! The claim store: stored claims (tree `claims`, the record of truth) and the index that
//! judges drafts against them. The read side, [`ClaimIndex`], finds candidates in the postings
//! of the draft's rarest features (a bounded budget), scores each by how much of the draft's
//! rarity-weighted facts it carries, and lets hard rules decide what a score cannot: a quantity
//! of the same kind with another value, a number, name, place or date the store has never seen,
//! or a reversed polarity make a claim new.
//!
//! The write side ([`insert_in`], [`corroborate_in`]) works inside a sled transaction owned by
//! the caller, so an article, its claims and its alerts commit together; the caller then hands
//! the inserted claims to [`ClaimIndex::remember`].
//!
//! Two tiers: the newest claims are indexed in memory (about 300 bytes each, up to
//! `claims.index_memory`, listed in `claims_hot` and rebuilt at start-up); when memory is full,
//! the oldest quarter moves to an on-disk index (`claim_postings`, `claim_counts`), a
//! transaction per group of claims. A judgement reads memory first, then disk chunks, within
//! the same budget, so the index's memory stays bounded whatever the store's size and the newest
//! claims are judged without the disk. Document frequencies are exact; the candidate scan is
//! capped, so a claim whose only shared features are extremely common may miss its match in a
//! huge store.

use rustc_hash::FxHashMap;
use std::convert::Infallible;
use std::rc::Rc;
use std::sync::{Arc, PoisonError, RwLock};

use chrono::{DateTime, TimeZone, Utc};
use sled::transaction::{TransactionError, Transactional, TransactionalTree, UnabortableTransactionError};

use crate::claims::features::{describe, restated_as, Feature};
use crate::claims::lexicon::EntityKind;
use crate::claims::{verdict, Analysis, ClaimDraft, ClaimId, Engine};
use crate::config::{ClaimsConfig, DecisionWeights};
use crate::model::ClaimVerdict;
use crate::store::records::{self, ClaimHeadV1, ClaimRecord, ClaimV1, SourceV1};
use crate::store::{meta_keys, trees, Store, StoreError};

mod disk;
mod memory;
mod score;
mod stored;

pub use crate::model::Signals;
use disk::*;
use memory::*;
pub use score::known_probability;
use score::*;
use stored::*;
pub use stored::{corroborate_in, insert_in, insert_variant_in, StoredClaim};

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
    /// The claim (for another wording of a known claim, the claim that wording repeats).
    pub claim_id: ClaimId,
    /// The wording matched, where and in what language it was seen.
    pub text: String,
    pub source: String,
    pub lang: String,
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
    /// Facts (and same-language words) shared with the nearest claim, in words.
    pub shared: Vec<String>,
    /// Facts (and same-language words) of the draft the nearest claim lacks, in words: what
    /// stays unaccounted.
    pub differing: Vec<String>,
    /// Features of the draft that no stored claim has.
    pub novel: Vec<String>,
    /// Why it is new, when it is.
    pub reason: Option<String>,
    /// What the comparison with the nearest claim measured.
    pub signals: Signals,
    /// Whether a hard rule made it new, whatever the signals say.
    pub objected: bool,
}

/// The read side of the claim store.
/// The read side of the claim store.
#[derive(Clone)]
pub struct ClaimIndex {
    claims: sled::Tree,
    hot: sled::Tree,
    variants: sled::Tree,
    postings: sled::Tree,
    counts: sled::Tree,
    meta: sled::Tree,
    memory: Arc<RwLock<Memory>>,
    config: ClaimsConfig,
}

impl ClaimIndex {
    /// Opens the claim trees of `store` and reads the newest claims' facts (`claims_hot`) into
    /// memory, in the order they were first seen. A store written before the on-disk index
    /// existed has every claim adopted as newest, then moved to disk as memory fills.
    pub fn open(store: &Store, config: &ClaimsConfig) -> Result<ClaimIndex, StoreError> {
        let index = ClaimIndex {
            claims: store.tree(trees::CLAIMS)?,
            hot: store.tree(trees::CLAIMS_HOT)?,
            variants: store.tree(trees::CLAIM_VARIANTS)?,
            postings: store.tree(trees::CLAIM_POSTINGS)?,
            counts: store.tree(trees::CLAIM_COUNTS)?,
            meta: store.tree(trees::META)?,
            memory: Arc::default(),
            config: config.clone(),
        };
        let mut memory = Memory::default();
        match index.meta.get(meta_keys::CLAIM_INDEX)? {
            Some(meta) if meta.len() == 16 => {
                memory.cold = be_u64(&meta[..8]);
                memory.next_chunk = be_u64(&meta[8..]);
            }
            Some(_) => {
                return Err(StoreError::Corrupt {
                    what: "meta/claim_index".into(),
                    reason: "not 16 bytes".into(),
                })
            }
            None => index.adopt_all()?,
        }
        let mut newest = Vec::new();
        for item in index.hot.iter() {
            let (key, first_seen) = item?;
            let id =
                std::str::from_utf8(&key).ok().and_then(id_number).ok_or_else(|| StoreError::Corrupt {
                    what: format!("claims_hot/{}", String::from_utf8_lossy(&key)),
                    reason: "the key is not a claim id".into(),
                })?;
            newest.push((be_u64(&first_seen), id));
        }
        // Slots in the order the claims were first seen, as `remember` appends them, so that the
        // postings budget reads the same (newest) claims before and after a restart.
        newest.sort_unstable();
        for (_, id) in newest {
            let (key, bytes) = index.indexed_claim(id)?;
            let head = records::decode_claim_head(key.as_bytes(), &bytes)?;
            memory.add(id, head.lang, &head.features, &head.context);
            index.keep_within_budget(&mut memory)?;
        }
        crate::metrics::claim_index(memory.claims.len() + memory.cold as usize, memory.bytes);
        *index.memory.write().unwrap_or_else(PoisonError::into_inner) = memory;
        Ok(index)
    }

    /// The trees [`insert_in`] and [`insert_variant_in`] write, for a caller's transaction:
    /// `claims`, `claims_hot` and `claim_variants`.
    pub fn trees(&self) -> [&sled::Tree; 3] {
        [&self.claims, &self.hot, &self.variants]
    }

    fn memory(&self) -> std::sync::RwLockReadGuard<'_, Memory> {
        self.memory.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Tells the index about claims that [`insert_in`] inserted and whose transaction committed.
    /// When memory is full, the oldest quarter moves to disk; if that fails (a full disk), the
    /// claims stay in memory and the move is tried again after the next commit.
    pub fn remember<'a>(&self, drafts: impl IntoIterator<Item = &'a ClaimDraft>) {
        let mut memory = self.memory.write().unwrap_or_else(PoisonError::into_inner);
        for draft in drafts {
            if let Some(id) = id_number(&draft.id()) {
                memory.add(id, &draft.lang, &draft.features, &draft.context);
            }
        }
        if let Err(error) = self.keep_within_budget(&mut memory) {
            tracing::warn!(%error, in_memory = memory.claims.len(), "could not move older claims to the on-disk claim index; they stay in memory");
        }
        crate::metrics::claim_index(memory.claims.len() + memory.cold as usize, memory.bytes);
    }

    /// Number of stored claims.
    pub fn len(&self) -> usize {
        let memory = self.memory();
        memory.claims.len() + memory.cold as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Estimated heap bytes of the in-memory index.
    pub fn memory_bytes(&self) -> usize {
        self.memory().bytes
    }

    /// How many stored claims carry `feature` themselves.
    pub fn df(&self, feature: &str) -> Result<u64, StoreError> {
        let memory = self.memory();
        let in_memory = memory.number(feature).map_or(0, |n| memory.df_of(n));
        Ok(u64::from(in_memory) + u64::from(self.on_disk(&memory, feature)?))
    }

    pub fn get(&self, id: &str) -> Result<Option<StoredClaim>, StoreError> {
        match self.claims.get(id.as_bytes())? {
            Some(bytes) => Ok(Some(decode_claim(id.as_bytes(), &bytes)?)),
            None => Ok(None),
        }
    }

    /// Judges every claim of an analysis (none for an off-topic article).
    pub fn judge(&self, analysis: &Analysis) -> Result<Vec<Judgement>, StoreError> {
        analysis.claims.iter().map(|draft| self.judge_claim(draft)).collect()
    }

    /// Judges one draft against the store.
    pub fn judge_claim(&self, draft: &ClaimDraft) -> Result<Judgement, StoreError> {
        // The best candidate that passes the hard rules, and the best overall, by the
        // probability that the draft repeats it.
        let weights = &self.config.decision;
        let (best_pass, best_any, novel) = {
            let memory = self.memory();
            let mut names = Names::new(&memory);
            let stored = memory.claims.len() as u64 + memory.cold;
            let probe = Probe::new(&mut names, draft, stored, |f| self.on_disk(&memory, f))?;
            let mut best_pass: Option<(f32, u64, Signals)> = None;
            let mut best_any: Option<(f32, u64, Signals, Option<Objection<'_>>)> = None;
            for candidate in probe.candidates(&memory, &self.postings, &self.config)? {
                let (id, read);
                let facts = match candidate {
                    Candidate::Memory(slot) => {
                        id = memory.ids[slot as usize];
                        &memory.claims[slot as usize]
                    }
                    Candidate::Disk(on_disk) => {
                        id = on_disk;
                        read = self.read_facts(on_disk, &mut names)?;
                        &read
                    }
                };
                let (signals, objection) = probe.compare(&names, facts);
                let p = known_probability(&signals, weights);
                if objection.is_none() && best_pass.is_none_or(|(s, _, _)| p > s) {
                    best_pass = Some((p, id, signals));
                }
                if best_any.as_ref().is_none_or(|(s, _, _, _)| p > *s) {
                    best_any = Some((p, id, signals, objection));
                }
            }
            let novel: Vec<String> = probe
                .indexed
                .iter()
                .filter(|f| f.df == 0 && Feature::parse(f.name).is_some_and(|f| f.is_checkable()))
                .map(|f| f.name.to_string())
                .collect();
            (best_pass, best_any, novel)
        };
        let attributed = draft.has("X:attr");
        // One unknown capitalised word is weak evidence (a title word, a misspelling, an outlet
        // "Times"): it counts in the signals; two or more (a full name) are a hard objection.
        let is_unknown_name = |f: &str| matches!(Feature::parse(f), Some(Feature::Name(_)));
        let novel_names = novel.iter().filter(|f| is_unknown_name(f)).count();
        let novelty = novel
            .iter()
            .filter(|f| novel_names >= 2 || !is_unknown_name(f))
            .find(|f| {
                let detail = Feature::parse(f).is_some_and(|f| f.is_time());
                let pass_facts = best_pass.map(|(_, _, s)| s.facts).unwrap_or(0.0);
                !(detail && attributed && pass_facts >= self.config.detail_threshold)
            })
            .map(|f| format!("{} appears in no known claim", describe(f)));
        let objected = novelty.is_some() || best_pass.is_none();
        let (verdict, score, nearest_id, signals, reason) = match (best_pass, best_any) {
            (Some((p, id, signals)), _) if p >= self.config.known_threshold && !objected => {
                (ClaimVerdict::Known, p, Some(id), signals, None)
            }
            (_, Some((p, id, signals, objection))) => {
                let reason = novelty.or(objection.map(|o| o.to_string())).unwrap_or_else(|| {
                    format!(
                        "it repeats no known claim with probability {p:.2} (needs {:.2})",
                        self.config.known_threshold
                    )
                });
                (ClaimVerdict::New, p, Some(id), signals, Some(reason))
            }
            (_, None) => (
                ClaimVerdict::New,
                0.0,
                None,
                Signals::default(),
                Some(novelty.unwrap_or_else(|| "no stored claim shares a feature".into())),
            ),
        };
        let mut shared = Vec::new();
        let mut differing = Vec::new();
        let mut nearest = None;
        if let Some(id) = nearest_id {
            let (key, bytes) = self.indexed_claim(id)?;
            let claim = records::decode_claim_head(key.as_bytes(), &bytes)?;
            let has = |sorted: &[&str], f: &str| sorted.binary_search(&f).is_ok();
            // Content words count only within one language: across languages they are what no
            // lexicon accounts for, counted in `signals.unrecognised`.
            let same_lang = draft.lang == claim.lang;
            let is_word = |f: &str| matches!(Feature::parse(f), Some(Feature::Stem(_)));
            for f in draft.features.iter().filter(|f| same_lang || !is_word(f)) {
                if has(&claim.features, f) || restated_as(f).is_some_and(|other| has(&claim.features, &other))
                {
                    shared.push(describe(f));
                } else if has(&claim.context, f) {
                    shared.push(format!("{} (around it)", describe(f)));
                } else {
                    differing.push(describe(f));
                }
            }
            // Another wording of a known claim stands for the claim it repeats.
            let claim_id = match self.variants.get(key.as_bytes())? {
                Some(repeats) => String::from_utf8_lossy(&repeats).into_owned(),
                None => key,
            };
            // "the number 800000" once, though a count is also stated as its bare value.
            let mut said = std::collections::HashSet::new();
            shared.retain(|f| said.insert(f.clone()));
            differing.retain(|f| said.insert(f.clone()));
            nearest = Some(ClaimMatch {
                claim_id,
                text: claim.text.into(),
                source: claim.source_url.into(),
                lang: claim.lang.into(),
            });
        }
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
            signals,
            objected,
        })
    }

    /// What the store says of an article once its claims are judged, for [`verdict::decide`].
    /// On topic: as analysed, or, when it names none of the topic's anchors but weighs enough
    /// and every one of its claims is known (it retells the stored story without naming it), on
    /// topic as well; such an article cannot alert. The setting is read from the lead: the first
    /// [`LEAD_CLAIMS`] claims and the dateline.
    pub fn evidence(
        &self,
        engine: &Engine,
        analysis: &Analysis,
        judgements: &[Judgement],
        seen_before: bool,
    ) -> Result<verdict::Evidence, StoreError> {
        let known = judgements.iter().filter(|j| j.verdict == ClaimVerdict::Known).count();
        let on_topic = analysis.on_topic
            || (!analysis.anchored
                && engine.topic.weighty(analysis.topic_score)
                && !judgements.is_empty()
                && known == judgements.len());
        let is_setting = |f: &str| match Feature::parse(f) {
            Some(Feature::Date { .. }) => true,
            Some(Feature::Entity(id)) => engine.entity_kind(id) == Some(EntityKind::Place),
            _ => false,
        };
        let mut known_setting = false;
        let mut dateline_new = false;
        let lead = analysis.claims.iter().take(LEAD_CLAIMS).flat_map(|c| &c.features);
        for f in analysis.dateline.iter().chain(lead).filter(|f| is_setting(f)) {
            let df = self.df(f)?;
            known_setting |= df >= 2;
            dateline_new |= df == 0 && analysis.dateline.contains(f);
        }
        // An event (meeting, talks, visit) told by a new lead claim, at a place or date never seen.
        let new_setting = match (analysis.claims.first(), judgements.first()) {
            (Some(lead), Some(j)) => {
                j.verdict == ClaimVerdict::New
                    && lead.event
                    && (dateline_new
                        || j.novel
                            .iter()
                            .any(|f| is_setting(f) || matches!(Feature::parse(f), Some(Feature::Month(_)))))
            }
            _ => false,
        };
        Ok(verdict::Evidence {
            on_topic,
            seen_before,
            known_setting,
            new_setting,
            known,
            claims: judgements.len(),
        })
    }
}

/// Claims of an article's lead, where its event's setting is read.
const LEAD_CLAIMS: usize = 3;

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(text: &str, features: &[&str]) -> ClaimDraft {
        ClaimDraft {
            text: text.into(),
            lang: "en".into(),
            features: features.iter().map(|f| f.to_string()).collect(),
            event: false,
            context: vec!["E:paris".into()],
        }
    }

    fn store_one(index: &ClaimIndex, draft: &ClaimDraft, seen_at: DateTime<Utc>) {
        let source =
            ClaimSource { url: "https://example.org/a".into(), title: None, feed: None, seed: false };
        let [claims, hot, _] = index.trees();
        let (_, inserted) = (claims, hot)
            .transaction(|(claims, hot)| {
                insert_in(claims, hot, draft, &source, seen_at)
                    .map_err(sled::transaction::ConflictableTransactionError::<()>::from)
            })
            .unwrap();
        assert!(inserted);
        index.remember([draft]);
    }

    /// What a judgement reads must not depend on whether the daemon restarted: the reopened index
    /// holds the same claims, features and document frequencies, with postings in the order the
    /// claims were first seen (not in id order), and judges a draft the same way.
    #[test]
    fn a_reopened_index_is_the_index_that_was_built_live() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        let live = ClaimIndex::open(&store, &ClaimsConfig::default()).unwrap();
        let start = Utc.timestamp_opt(1_767_225_600, 0).unwrap();
        let drafts: Vec<ClaimDraft> = (0..30)
            .map(|i| draft(&format!("Claim number {i}"), &["C:guarantee", "E:ukraine", &format!("V:{i}")]))
            .collect();
        for (i, d) in drafts.iter().enumerate() {
            store_one(&live, d, start + chrono::Duration::minutes(i as i64));
        }
        let ids: Vec<u64> = drafts.iter().map(|d| id_number(&d.id()).unwrap()).collect();
        assert!(ids.windows(2).any(|w| w[0] > w[1]), "the ids are not in first-seen order");

        let reopened = ClaimIndex::open(&store, &ClaimsConfig::default()).unwrap();
        assert_eq!(reopened.len(), 30);
        assert_eq!(reopened.df("C:guarantee").unwrap(), 30);
        assert_eq!(reopened.df("V:7").unwrap(), 1);
        let order = |index: &ClaimIndex| -> Vec<u64> {
            let memory = index.memory();
            let n = memory.number("E:ukraine").unwrap();
            memory.postings[n as usize].iter().map(|slot| memory.ids[*slot as usize]).collect()
        };
        assert_eq!(order(&live), ids);
        assert_eq!(order(&reopened), ids);

        let probe = draft("Claim number 7 again", &["C:guarantee", "E:ukraine", "V:7"]);
        let (a, b) = (live.judge_claim(&probe).unwrap(), reopened.judge_claim(&probe).unwrap());
        assert_eq!(a, b);
        assert_eq!(a.verdict, ClaimVerdict::Known);
        assert_eq!(a.matched.unwrap().claim_id, drafts[7].id());
    }
    /// The candidates a judgement gathers for `draft`, as (claim id, summed weight), by id.
    fn gathered(index: &ClaimIndex, draft: &ClaimDraft) -> Vec<(u64, f32)> {
        let memory = index.memory();
        let mut names = Names::new(&memory);
        let stored = memory.claims.len() as u64 + memory.cold;
        let probe = Probe::new(&mut names, draft, stored, |f| index.on_disk(&memory, f)).unwrap();
        let summed = probe.gather(&memory, &index.postings, &index.config).unwrap();
        let mut by_id: Vec<(u64, f32)> = summed.into_iter().map(|(c, w)| (memory.id_of(c), w)).collect();
        by_id.sort_by_key(|(id, _)| *id);
        by_id
    }

    /// Claims moved to the on-disk index are judged as if they were still in memory: the same
    /// verdicts, matches, scores and document frequencies as an index that keeps everything in
    /// memory, while memory stays within its budget, before and after a restart.
    #[test]
    fn claims_moved_to_disk_are_judged_as_in_memory() {
        let start = Utc.timestamp_opt(1_767_225_600, 0).unwrap();
        let drafts: Vec<ClaimDraft> = (0..300)
            .map(|i| {
                let mut features = vec![
                    "C:guarantee".to_string(),
                    format!("E:country{}", i % 7),
                    format!("Q:troops:{}", i % 11),
                    format!("V:{}", i % 11),
                    format!("N:{i}"),
                    format!("W:word{}", i % 13),
                ];
                if i % 5 == 0 {
                    features.push("G:guarantee".into());
                }
                features.sort();
                let mut d = draft(&format!("Claim number {i}"), &[]);
                d.features = features;
                d
            })
            .collect();
        let budget = ClaimsConfig { index_memory: 8 << 10, ..ClaimsConfig::default() };
        let (dir, whole_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (store, whole_store) =
            (Store::open(dir.path(), 1 << 20).unwrap(), Store::open(whole_dir.path(), 1 << 20).unwrap());
        let tiered = ClaimIndex::open(&store, &budget).unwrap();
        let whole = ClaimIndex::open(&whole_store, &ClaimsConfig::default()).unwrap();
        for (i, d) in drafts.iter().enumerate() {
            let seen = start + chrono::Duration::minutes(i as i64);
            store_one(&tiered, d, seen);
            store_one(&whole, d, seen);
            assert!(tiered.memory_bytes() <= 8 << 10, "memory over budget after claim {i}");
        }
        assert!(tiered.memory().cold > 200, "most claims moved to disk");
        let reopened = ClaimIndex::open(&store, &budget).unwrap();
        let mut probes: Vec<ClaimDraft> = drafts.iter().step_by(37).cloned().collect();
        let mut other = drafts[3].clone();
        other.features = vec!["C:guarantee".into(), "E:country3".into(), "Q:troops:5".into(), "V:5".into()];
        other.text = "Another claim".into();
        probes.push(other);
        for index in [&tiered, &reopened] {
            assert_eq!(index.len(), 300);
            for f in ["C:guarantee", "E:country3", "N:10", "G:guarantee", "W:word4", "V:404"] {
                assert_eq!(index.df(f).unwrap(), whole.df(f).unwrap(), "{f}");
            }
            for probe in &probes {
                assert_eq!(index.judge_claim(probe).unwrap(), whole.judge_claim(probe).unwrap());
                assert_eq!(gathered(index, probe), gathered(&whole, probe), "candidates of {}", probe.text);
            }
        }
        let old = tiered.judge_claim(&drafts[0]).unwrap();
        assert_eq!(old.verdict, ClaimVerdict::Known);
        assert_eq!(old.matched.unwrap().claim_id, drafts[0].id());
    }
    /// A store written before the on-disk index existed (claims, but no `claims_hot` and no
    /// `meta/claim_index`) is adopted on open: every claim is indexed again, and judged.
    #[test]
    fn a_store_from_before_the_on_disk_index_is_adopted() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        let small = ClaimsConfig { index_memory: 4 << 10, ..ClaimsConfig::default() };
        let index = ClaimIndex::open(&store, &small).unwrap();
        let start = Utc.timestamp_opt(1_767_225_600, 0).unwrap();
        let drafts: Vec<ClaimDraft> = (0..60)
            .map(|i| draft(&format!("Claim number {i}"), &["C:guarantee", "E:ukraine", &format!("V:{i}")]))
            .collect();
        for (i, d) in drafts.iter().enumerate() {
            store_one(&index, d, start + chrono::Duration::minutes(i as i64));
        }
        drop(index);
        // What such a store holds: the claims alone.
        for name in [trees::CLAIMS_HOT, trees::CLAIM_POSTINGS, trees::CLAIM_COUNTS] {
            store.tree(name).unwrap().clear().unwrap();
        }
        store.tree(trees::META).unwrap().remove(meta_keys::CLAIM_INDEX).unwrap();

        let adopted = ClaimIndex::open(&store, &small).unwrap();
        assert_eq!(adopted.len(), 60);
        assert!(adopted.memory_bytes() <= 4 << 10);
        assert_eq!(adopted.df("C:guarantee").unwrap(), 60);
        for d in [&drafts[0], &drafts[59]] {
            let judged = adopted.judge_claim(d).unwrap();
            assert_eq!(judged.verdict, ClaimVerdict::Known);
            assert_eq!(judged.matched.unwrap().claim_id, d.id());
        }
        assert_eq!(ClaimIndex::open(&store, &small).unwrap().len(), 60, "adopted once, not twice");
    }
}
