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

use crate::claims::features::describe;
use crate::claims::lexicon::EntityKind;
use crate::claims::{verdict, Analysis, ClaimDraft, ClaimId, Engine};
use crate::config::{ClaimsConfig, DecisionWeights};
use crate::model::ClaimVerdict;
use crate::store::records::{self, ClaimHeadV1, ClaimRecord, ClaimV1, SourceV1};
use crate::store::{meta_keys, trees, Store, StoreError};

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

/// What a comparison of a draft with one stored claim measured: the inputs of the calibrated
/// decision ([`DecisionWeights`]), each a share from 0 to 1.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Signals {
    /// The draft's rarity-weighted facts (entities, names, concepts, quantities, dates) that
    /// the stored claim carries, its setting counting partly.
    pub facts: f32,
    /// The same, carried by the stored claim itself (its setting not counting).
    pub own: f32,
    /// Names no gazetteer knows that no stored claim has: 0, 0.5 for one, 1 for two or more.
    pub novel_names: f32,
    /// The draft's content words (stems the lexicons do not know) that the stored claim has;
    /// 0 across languages, where no stem can match.
    pub words: f32,
    /// The draft's whole content, facts and words, that the stored claim accounts for: what
    /// stays unaccounted counts against "known".
    pub coverage: f32,
    /// The draft's content that no lexicon recognised.
    pub unrecognised: f32,
    /// 1 when both claims are in one language.
    pub same_lang: f32,
}

impl Signals {
    /// The probability that the draft repeats the stored claim, by the fitted weights.
    pub fn known_probability(&self, w: &DecisionWeights) -> f32 {
        let z = w.bias
            + w.facts * self.facts
            + w.own * self.own
            + w.novel_names * self.novel_names
            + w.words * self.words
            + w.coverage * self.coverage
            + w.unrecognised * self.unrecognised
            + w.same_lang * self.same_lang;
        1.0 / (1.0 + (-z).exp())
    }
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

fn indexed(feature: &str) -> bool {
    !feature.starts_with("X:")
}

/// The `claims` key of the claim id `id` (16 hex digits).
fn id_key(id: u64) -> String {
    format!("{id:0width$x}", width = ID_LEN)
}

/// A claim id (16 hex digits) as the number it spells.
fn id_number(id: &str) -> Option<u64> {
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

/// The stored record of a newly seen claim.
fn claim_record(draft: &ClaimDraft, source: &ClaimSource, seen_at: DateTime<Utc>) -> Vec<u8> {
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

/// What judging reads of the newest claims: their facts as feature numbers and the postings
/// feature → claims, in memory. Rebuilt from `claims_hot` when the index opens and extended by
/// [`ClaimIndex::remember`] after each commit; when it outgrows `claims.index_memory`, its
/// oldest quarter moves to the on-disk index ([`ClaimIndex::seal`]).
#[derive(Default)]
struct Memory {
    numbers: FxHashMap<Arc<str>, u32>,
    names: Vec<Arc<str>>,
    /// Per feature number: the claims that carry it themselves (not in their setting), oldest
    /// first. Its length is the feature's document frequency in memory.
    postings: Vec<Vec<u32>>,
    /// Per claim slot (in first-seen order): its id, and its facts. Ids live apart so that
    /// ranking hundreds of candidates by id reads one compact array.
    ids: Vec<u64>,
    claims: Vec<Facts>,
    langs: Vec<Box<str>>,
    /// Estimated heap bytes of all the above (for `claimwatch_claim_index_memory_bytes`).
    bytes: usize,
    /// Claims in the on-disk index, and the number of its next postings chunk.
    cold: u64,
    next_chunk: u64,
}

/// One stored claim's facts.
struct Facts {
    lang: u16,
    /// Its own feature numbers, sorted, then those of its setting, sorted.
    numbers: Box<[u32]>,
    own: u32,
}

impl Facts {
    fn features(&self) -> &[u32] {
        &self.numbers[..self.own as usize]
    }

    fn context(&self) -> &[u32] {
        &self.numbers[self.own as usize..]
    }
}

impl Memory {
    fn number(&self, feature: &str) -> Option<u32> {
        self.numbers.get(feature).copied()
    }

    /// How many claims in memory carry the feature numbered `number` themselves (0 for a number
    /// that only a judgement knows, see [`Names`]).
    fn df_of(&self, number: u32) -> u32 {
        self.postings.get(number as usize).map_or(0, |p| p.len() as u32)
    }

    fn id_of(&self, candidate: Candidate) -> u64 {
        match candidate {
            Candidate::Memory(slot) => self.ids[slot as usize],
            Candidate::Disk(id) => id,
        }
    }

    fn intern(&mut self, feature: &str) -> u32 {
        if let Some(n) = self.number(feature) {
            return n;
        }
        let n = self.names.len() as u32;
        let name: Arc<str> = Arc::from(feature);
        // The string and its counts, a map entry, a name slot, an empty postings list.
        self.bytes += feature.len() + 16 + 32 + 16 + 24;
        self.names.push(name.clone());
        self.numbers.insert(name, n);
        self.postings.push(Vec::new());
        n
    }

    fn sorted_numbers<S: AsRef<str>>(&mut self, features: &[S]) -> Vec<u32> {
        let mut numbers: Vec<u32> = features.iter().map(|f| self.intern(f.as_ref())).collect();
        numbers.sort_unstable();
        numbers.dedup();
        numbers
    }

    fn add<S: AsRef<str>>(&mut self, id: u64, lang: &str, features: &[S], context: &[S]) {
        let slot = self.claims.len() as u32;
        let lang = match self.langs.iter().position(|l| &**l == lang) {
            Some(i) => i as u16,
            None => {
                self.langs.push(lang.into());
                (self.langs.len() - 1) as u16
            }
        };
        let mut numbers = self.sorted_numbers(features);
        for (n, feature) in numbers.iter().map(|n| (*n, self.names[*n as usize].clone())) {
            if indexed(&feature) {
                self.postings[n as usize].push(slot);
                self.bytes += 4;
            }
        }
        let own = numbers.len() as u32;
        numbers.extend(self.sorted_numbers(context));
        self.bytes += 8 + std::mem::size_of::<Facts>() + 4 * numbers.len();
        self.ids.push(id);
        self.claims.push(Facts { lang, numbers: numbers.into_boxed_slice(), own });
    }

    /// The same memory without its oldest `cut` claims (names no longer used are dropped).
    fn without_oldest(&self, cut: usize) -> Memory {
        let mut rest = Memory { cold: self.cold, next_chunk: self.next_chunk, ..Memory::default() };
        let name = |n: &u32| self.names[*n as usize].clone();
        for (id, facts) in self.ids.iter().zip(&self.claims).skip(cut) {
            let own: Vec<Arc<str>> = facts.features().iter().map(name).collect();
            let context: Vec<Arc<str>> = facts.context().iter().map(name).collect();
            rest.add(*id, &self.langs[facts.lang as usize], &own, &context);
        }
        rest
    }
}

/// Feature and language numbers for one judgement: the memory's, extended by the names the
/// memory does not hold (a draft's unseen features, the features of claims read from disk).
/// An extended number is in no claim in memory, so it matches only what was read with it.
struct Names<'m> {
    memory: &'m Memory,
    extra: FxHashMap<Rc<str>, u32>,
    extra_names: Vec<Rc<str>>,
    extra_langs: Vec<Box<str>>,
}

impl<'m> Names<'m> {
    fn new(memory: &'m Memory) -> Names<'m> {
        Names { memory, extra: FxHashMap::default(), extra_names: Vec::new(), extra_langs: Vec::new() }
    }

    fn number(&mut self, name: &str) -> u32 {
        if let Some(n) = self.memory.number(name).or_else(|| self.extra.get(name).copied()) {
            return n;
        }
        let n = (self.memory.names.len() + self.extra_names.len()) as u32;
        let name: Rc<str> = name.into();
        self.extra_names.push(name.clone());
        self.extra.insert(name, n);
        n
    }

    fn name(&self, number: u32) -> &str {
        let held = self.memory.names.len();
        match (number as usize).checked_sub(held) {
            None => &self.memory.names[number as usize],
            Some(i) => &self.extra_names[i],
        }
    }

    fn lang(&mut self, lang: &str) -> u16 {
        let held = self.memory.langs.len();
        if let Some(i) = self.memory.langs.iter().position(|l| **l == *lang) {
            return i as u16;
        }
        if let Some(i) = self.extra_langs.iter().position(|l| **l == *lang) {
            return (held + i) as u16;
        }
        self.extra_langs.push(lang.into());
        (held + self.extra_langs.len() - 1) as u16
    }

    fn sorted(&mut self, names: &[&str]) -> Vec<u32> {
        let mut numbers: Vec<u32> = names.iter().map(|f| self.number(f)).collect();
        numbers.sort_unstable();
        numbers.dedup();
        numbers
    }

    /// The facts of a stored claim read from disk, in this judgement's numbers.
    fn facts(&mut self, head: &ClaimHeadV1<'_>) -> Facts {
        let mut numbers = self.sorted(&head.features);
        let own = numbers.len() as u32;
        numbers.extend(self.sorted(&head.context));
        Facts { lang: self.lang(head.lang), numbers: numbers.into_boxed_slice(), own }
    }
}

/// Claims moved to the on-disk index per transaction, and so the most claim ids in one chunk:
/// a sled transaction holds every tree node version it replaces until it ends, so one large
/// move would take hundreds of MB.
const SEAL_GROUP: usize = 1024;

/// The key prefix of `feature`'s chunks in `claim_postings`.
fn postings_prefix(feature: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(feature.len() + 9);
    key.extend_from_slice(feature.as_bytes());
    key.push(0);
    key
}

fn be_u32(bytes: &[u8]) -> u32 {
    bytes.try_into().map(u32::from_be_bytes).unwrap_or(0)
}

fn be_u64(bytes: &[u8]) -> u64 {
    bytes.try_into().map(u64::from_be_bytes).unwrap_or(0)
}

/// The outcome of a transaction that never aborts by itself.
fn committed(result: Result<(), TransactionError<Infallible>>) -> Result<(), StoreError> {
    result.map_err(|error| match error {
        TransactionError::Storage(error) => StoreError::from(error),
        TransactionError::Abort(never) => match never {},
    })
}

fn index_meta(cold: u64, next_chunk: u64) -> [u8; 16] {
    let mut meta = [0u8; 16];
    meta[..8].copy_from_slice(&cold.to_be_bytes());
    meta[8..].copy_from_slice(&next_chunk.to_be_bytes());
    meta
}

/// A draft resolved once against the index (its numbers, its features' document frequencies),
/// so that comparing it with each candidate is binary searches over small sorted arrays.
struct Probe<'d> {
    lang: u16,
    /// Features that count in the score.
    facts: Vec<Fact>,
    /// Same-language stems (`W:`) with their rarity weight, and their total.
    words: Vec<(u32, f32)>,
    word_total: f32,
    /// Concepts the draft denies: name, `C:` number, `G:` number.
    denied: Vec<(&'d str, u32, u32)>,
    /// Concepts the draft states without denying them: name, `G:` number.
    affirmed: Vec<(&'d str, u32)>,
    /// Quantities: the feature, its `V:value` number, its `Q:unit:` prefix (none for bare counts).
    quantities: Vec<(&'d str, u32, Option<&'d str>)>,
    /// Indexed features, with what the index holds of them.
    indexed: Vec<Indexed<'d>>,
    /// Unknown names (`N:`) that no stored claim has, as [`Signals::novel_names`].
    novel_names: f32,
}

/// A feature of a draft that counts in the score.
struct Fact {
    number: u32,
    /// Type × rarity.
    weight: f32,
    /// For a role pair (`R:actor~concept`), the numbers of its two parts.
    role: Option<(u32, u32)>,
}

/// An indexed feature of a draft.
struct Indexed<'d> {
    name: &'d str,
    number: u32,
    /// Claims that carry it themselves, in memory and on disk.
    df: u32,
    /// Rarity weight.
    weight: f32,
    /// How many of them are in the on-disk index.
    on_disk: u32,
}

/// A claim that may repeat the draft: a slot in memory, or an id in the on-disk index.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Candidate {
    Memory(u32),
    Disk(u64),
}

impl<'d> Probe<'d> {
    /// `on_disk` counts the claims of the on-disk index that carry a feature themselves.
    fn new(
        names: &mut Names<'_>,
        draft: &'d ClaimDraft,
        stored: u64,
        mut on_disk: impl FnMut(&str) -> Result<u32, StoreError>,
    ) -> Result<Probe<'d>, StoreError> {
        let n = stored as f32;
        let mut probe = Probe {
            lang: names.lang(&draft.lang),
            facts: Vec::new(),
            words: Vec::new(),
            word_total: 0.0,
            denied: Vec::new(),
            affirmed: Vec::new(),
            quantities: Vec::new(),
            indexed: Vec::new(),
            novel_names: 0.0,
        };
        // The number of `prefix` + `name`, through one reused buffer.
        let mut key = String::new();
        let mut number_of = |names: &mut Names<'_>, prefix: &str, name: &str| {
            key.clear();
            key.push_str(prefix);
            key.push_str(name);
            names.number(&key)
        };
        for f in draft.features.iter().map(String::as_str) {
            let number = names.number(f);
            let weight = if indexed(f) {
                let on_disk = on_disk(f)?;
                let df = names.memory.df_of(number) + on_disk;
                let idf = ((n + 1.0) / (df as f32 + 0.5)).ln().max(0.1);
                probe.indexed.push(Indexed { name: f, number, df, weight: idf, on_disk });
                idf
            } else {
                0.1
            };
            let tw = type_weight(f);
            if tw > 0.0 {
                let role = f.strip_prefix("R:").map(|pair| {
                    let (e, c) = pair.split_once('~').unwrap_or((pair, ""));
                    (number_of(names, "E:", e), number_of(names, "C:", c))
                });
                probe.facts.push(Fact { number, weight: tw * weight, role });
            }
            if f.starts_with("W:") {
                probe.words.push((number, weight));
                probe.word_total += weight;
            }
            if let Some(g) = f.strip_prefix("G:") {
                probe.denied.push((g, number_of(names, "C:", g), number));
            }
            if let Some(c) = f.strip_prefix("C:") {
                if !draft.has(&format!("G:{c}")) {
                    probe.affirmed.push((c, number_of(names, "G:", c)));
                }
            }
            if let Some(rest) = f.strip_prefix("Q:") {
                let (unit, value) = rest.split_once(':').unwrap_or((rest, ""));
                let prefix = if unit == "n" { None } else { f.get(..unit.len() + 3) };
                probe.quantities.push((f, number_of(names, "V:", value), prefix));
            }
        }
        // A content word weighs at most as much as an average fact of the draft: a word no
        // claim in its language has yet (every word of a language the store has not read) is
        // not therefore rarer than a name or a number.
        if !probe.facts.is_empty() {
            let cap = probe.facts.iter().map(|f| f.weight).sum::<f32>() / probe.facts.len() as f32;
            for (_, w) in &mut probe.words {
                *w = w.min(cap);
            }
            probe.word_total = probe.words.iter().map(|(_, w)| w).sum();
        }
        let novel_names = probe.indexed.iter().filter(|f| f.df == 0 && f.name.starts_with("N:")).count();
        probe.novel_names = novel_names.min(2) as f32 / 2.0;
        Ok(probe)
    }

    /// The best `max_candidates` of [`Probe::gather`].
    fn candidates(
        &self,
        memory: &Memory,
        postings: &sled::Tree,
        config: &ClaimsConfig,
    ) -> Result<Vec<Candidate>, StoreError> {
        let summed = self.gather(memory, postings, config)?;
        // The best `max_candidates`, ties to the lower claim id (the same choice after a
        // restart): keep what scores at least the k-th best score, then rank only those by id.
        let k = config.max_candidates;
        let mut best: Vec<(f32, Candidate)> = summed.into_iter().map(|(c, w)| (w, c)).collect();
        if best.len() > k {
            let (_, kth, _) = best.select_nth_unstable_by(k - 1, |a, b| b.0.total_cmp(&a.0));
            let kth = kth.0;
            best.retain(|(w, _)| *w >= kth);
        }
        let mut ranked: Vec<(f32, u64, Candidate)> =
            best.into_iter().map(|(w, c)| (w, memory.id_of(c), c)).collect();
        ranked.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        ranked.truncate(k);
        Ok(ranked.into_iter().map(|(_, _, c)| c).collect())
    }

    /// Candidates from the postings of the selective features, rarest first, with the summed
    /// weight of the features that found them.
    fn gather(
        &self,
        memory: &Memory,
        postings: &sled::Tree,
        config: &ClaimsConfig,
    ) -> Result<FxHashMap<Candidate, f32>, StoreError> {
        let n = memory.claims.len() as u64 + memory.cold;
        // A feature carried by a large share of the store (a country, a common word) selects
        // nothing and is skipped; when nothing selective is left, the three rarest are used.
        let mut by_rarity: Vec<&Indexed<'_>> = self.indexed.iter().filter(|f| f.df > 0).collect();
        by_rarity.sort_by(|a, b| a.df.cmp(&b.df).then_with(|| a.name.cmp(b.name)));
        let selective_cap = (n / 20).max(config.max_postings as u64 / 4).max(64);
        let mut chosen: Vec<_> = by_rarity.iter().filter(|f| f.df as u64 <= selective_cap).collect();
        if chosen.len() < 3 {
            chosen = by_rarity.iter().take(3).collect();
        }
        // `max_postings` is the budget of postings read per draft, spent rarest feature first
        // and newest claim first (memory, then disk): rare features (names, numbers, places)
        // find a repeat at once.
        let mut budget = config.max_postings;
        let mut summed: FxHashMap<Candidate, f32> = FxHashMap::default();
        summed.reserve(budget);
        for f in chosen.into_iter().copied() {
            let w = f.weight * if f.name.starts_with("W:") { 0.5 } else { type_weight(f.name).max(0.2) };
            let in_memory = memory.postings.get(f.number as usize).map_or(&[][..], Vec::as_slice);
            for slot in in_memory.iter().rev().take(budget) {
                *summed.entry(Candidate::Memory(*slot)).or_default() += w;
            }
            budget -= budget.min(in_memory.len());
            // On disk: chunks newest first, until the budget or the feature's last chunk
            // (counted, so that the scan does not look past it).
            let mut left = f.on_disk as usize;
            let mut chunks = postings.scan_prefix(postings_prefix(f.name));
            while budget > 0 && left > 0 {
                let Some(chunk) = chunks.next() else { break };
                let (_, ids) = chunk?;
                for id in ids.chunks_exact(8).take(budget) {
                    *summed.entry(Candidate::Disk(be_u64(id))).or_default() += w;
                }
                budget -= budget.min(ids.len() / 8);
                left = left.saturating_sub(ids.len() / 8);
            }
            if budget == 0 {
                break;
            }
        }
        Ok(summed)
    }

    /// Measures how much of the draft `claim` accounts for (its setting counting partly), and
    /// states the hard rule that makes them different claims, if one does.
    fn compare(&self, names: &Names<'_>, claim: &Facts) -> (Signals, Option<Objection<'d>>) {
        let in_claim = |n: u32| claim.features().binary_search(&n).is_ok();
        let in_context = |n: u32| claim.context().binary_search(&n).is_ok();
        let mut total = 0.0f32;
        let mut matched = 0.0f32;
        let mut own = 0.0f32;
        for Fact { number, weight, role } in &self.facts {
            // A role pair counts only when the claim has both parts: then it tells who did
            // what (Russia attacks vs Ukraine attacks).
            if let Some((actor, concept)) = role {
                if !(in_claim(*actor) && in_claim(*concept)) {
                    continue;
                }
            }
            total += weight;
            if in_claim(*number) {
                matched += weight;
                own += weight;
            } else if role.is_none() && in_context(*number) {
                matched += weight * CONTEXT_CREDIT;
            }
        }
        let same_lang = self.lang == claim.lang;
        let shared_words: f32 =
            if same_lang { self.words.iter().filter(|(n, _)| in_claim(*n)).map(|(_, w)| w).sum() } else { 0.0 };
        let content = total + self.word_total;
        let share = |part: f32, whole: f32| if whole > 0.0 { part / whole } else { 0.0 };
        let signals = Signals {
            facts: share(matched, total),
            own: share(own, total),
            novel_names: self.novel_names,
            words: share(shared_words, self.word_total),
            coverage: share(matched + shared_words, content),
            unrecognised: share(self.word_total, content),
            same_lang: if same_lang { 1.0 } else { 0.0 },
        };
        (signals, self.objection(names, claim))
    }

    /// The hard rule that makes `claim` another claim than the draft, if one does.
    fn objection(&self, names: &Names<'_>, claim: &Facts) -> Option<Objection<'d>> {
        let in_claim = |n: u32| claim.features().binary_search(&n).is_ok();
        let in_context = |n: u32| claim.context().binary_search(&n).is_ok();
        // Polarity: a concept negated on one side only. A negated concept is what the claim
        // denies, so a stored claim that does not speak of it at all is not the same claim.
        for (g, concept, negated) in &self.denied {
            if !in_claim(*concept) {
                return Some(Objection::Unspoken(g));
            }
            if !in_claim(*negated) {
                return Some(Objection::NegatedHere(g));
            }
        }
        for (c, negated) in &self.affirmed {
            if in_claim(*negated) {
                return Some(Objection::NegatedThere(c));
            }
        }
        // Same kind of quantity, another value.
        for (q, value, unit_prefix) in &self.quantities {
            if in_claim(*value) || in_context(*value) {
                continue;
            }
            if let Some(prefix) = unit_prefix {
                if claim.features().iter().any(|n| names.name(*n).starts_with(prefix)) {
                    return Some(Objection::OtherQuantity(q));
                }
            }
        }
        None
    }
}

/// The hard rule that makes a stored claim another claim than the draft, whatever the score.
enum Objection<'d> {
    /// The draft denies a concept the stored claim does not speak of.
    Unspoken(&'d str),
    /// The draft denies a concept the stored claim states.
    NegatedHere(&'d str),
    /// The stored claim denies a concept the draft states.
    NegatedThere(&'d str),
    /// The same kind of quantity with another value.
    OtherQuantity(&'d str),
}

impl std::fmt::Display for Objection<'_> {
    fn fmt(&self, out: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Objection::Unspoken(g) => {
                write!(out, "the known claim does not speak of \"{g}\", which this one denies")
            }
            Objection::NegatedHere(g) => write!(out, "\"{g}\" is denied here, not in the known claim"),
            Objection::NegatedThere(c) => write!(out, "\"{c}\" is denied in the known claim, not here"),
            Objection::OtherQuantity(q) => {
                write!(out, "{} differs from the known claim's quantity", describe(q))
            }
        }
    }
}

/// The read side of the claim store.
/// The read side of the claim store.
#[derive(Clone)]
pub struct ClaimIndex {
    claims: sled::Tree,
    hot: sled::Tree,
    postings: sled::Tree,
    counts: sled::Tree,
    meta: sled::Tree,
    memory: Arc<RwLock<Memory>>,
    config: ClaimsConfig,
}

/// Share of a feature's weight credited when it is only in a stored claim's setting.
const CONTEXT_CREDIT: f32 = 0.6;

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
    /// Opens the claim trees of `store` and reads the newest claims' facts (`claims_hot`) into
    /// memory, in the order they were first seen. A store written before the on-disk index
    /// existed has every claim adopted as newest, then moved to disk as memory fills.
    pub fn open(store: &Store, config: &ClaimsConfig) -> Result<ClaimIndex, StoreError> {
        let index = ClaimIndex {
            claims: store.tree(trees::CLAIMS)?,
            hot: store.tree(trees::CLAIMS_HOT)?,
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

    /// Lists every stored claim in `claims_hot` (a store from before the on-disk index), in
    /// batches, then records that the on-disk index exists (empty). Safe to run again if killed.
    fn adopt_all(&self) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        let mut pending = 0;
        for item in self.claims.iter() {
            let (key, bytes) = item?;
            let head = records::decode_claim_head(&key, &bytes)?;
            batch.insert(key, &head.first_seen.to_be_bytes());
            pending += 1;
            if pending == 10_000 {
                self.hot.apply_batch(std::mem::take(&mut batch))?;
                pending = 0;
            }
        }
        self.hot.apply_batch(batch)?;
        self.meta.insert(meta_keys::CLAIM_INDEX, &index_meta(0, 0))?;
        Ok(())
    }

    /// Moves the oldest quarter of the claims in memory to the on-disk index when memory holds
    /// more than `claims.index_memory`.
    fn keep_within_budget(&self, memory: &mut Memory) -> Result<(), StoreError> {
        if (memory.bytes as u64) <= self.config.index_memory || memory.claims.len() < 2 {
            return Ok(());
        }
        let started = std::time::Instant::now();
        let moved = self.seal(memory)?;
        tracing::info!(
            claims = moved,
            on_disk = memory.cold,
            in_memory = memory.claims.len(),
            secs = started.elapsed().as_secs_f64(),
            "older claims moved to the on-disk claim index"
        );
        Ok(())
    }

    /// Moves the oldest quarter of the claims in memory to the on-disk index, in groups of
    /// [`SEAL_GROUP`] claims, then drops the moved claims from memory. Returns how many moved.
    fn seal(&self, memory: &mut Memory) -> Result<usize, StoreError> {
        let cut = (memory.claims.len() / 4).max(1);
        let mut moved = 0;
        let mut result = Ok(());
        while moved < cut && result.is_ok() {
            let end = (moved + SEAL_GROUP).min(cut);
            result = self.seal_group(memory, moved..end);
            if result.is_ok() {
                moved = end;
            }
        }
        // The groups that committed are on disk and out of `claims_hot`: memory lets go of
        // them even when a later group failed.
        if moved > 0 {
            *memory = memory.without_oldest(moved);
        }
        result.map(|()| moved)
    }

    /// Writes one chunk per feature of the claims in `slots` to `claim_postings` (ids newest
    /// first), adds them to `claim_counts` and takes them out of `claims_hot`, in one
    /// transaction.
    fn seal_group(&self, memory: &mut Memory, slots: std::ops::Range<usize>) -> Result<(), StoreError> {
        let mut by_feature: FxHashMap<u32, Vec<u64>> = FxHashMap::default();
        for slot in slots.clone() {
            for number in memory.claims[slot].features() {
                if indexed(&memory.names[*number as usize]) {
                    by_feature.entry(*number).or_default().push(memory.ids[slot]);
                }
            }
        }
        let mut features: Vec<(u32, Vec<u64>)> = by_feature.into_iter().collect();
        features.sort_unstable_by_key(|(number, _)| *number);
        let mut next_chunk = memory.next_chunk;
        let mut chunks = Vec::with_capacity(features.len());
        for (number, ids) in &features {
            let name = &*memory.names[*number as usize];
            let mut key = postings_prefix(name);
            key.extend_from_slice(&(u64::MAX - next_chunk).to_be_bytes());
            next_chunk += 1;
            let value: Vec<u8> = ids.iter().rev().flat_map(|id| id.to_be_bytes()).collect();
            chunks.push((key, value, name.as_bytes(), ids.len() as u32));
        }
        let moving: Vec<String> = memory.ids[slots].iter().map(|id| id_key(*id)).collect();
        let cold = memory.cold + moving.len() as u64;
        let trees = [self.postings.clone(), self.counts.clone(), self.hot.clone(), self.meta.clone()];
        committed(trees.as_slice().transaction(|txs| {
            for (key, ids, name, added) in &chunks {
                txs[0].insert(key.as_slice(), ids.as_slice())?;
                let before = txs[1].get(name)?.map_or(0, |v| be_u32(&v));
                txs[1].insert(*name, &(before + added).to_be_bytes())?;
            }
            for key in &moving {
                txs[2].remove(key.as_bytes())?;
            }
            txs[3].insert(meta_keys::CLAIM_INDEX, &index_meta(cold, next_chunk))?;
            Ok(())
        }))?;
        memory.cold = cold;
        memory.next_chunk = next_chunk;
        Ok(())
    }

    /// Stores many new claims at once, outside any article (a bulk load, as the benchmarks do),
    /// with one batch per tree, then remembers them. Claims already stored are skipped.
    pub fn bulk_insert(
        &self,
        drafts: &[ClaimDraft],
        source: &ClaimSource,
        seen_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (mut claims, mut hot, mut new) = (sled::Batch::default(), sled::Batch::default(), Vec::new());
        let mut seen = rustc_hash::FxHashSet::default();
        for draft in drafts {
            let id = draft.id();
            if self.claims.contains_key(id.as_bytes())? || !seen.insert(id.clone()) {
                continue;
            }
            claims.insert(id.as_bytes(), claim_record(draft, source, seen_at));
            hot.insert(id.as_bytes(), &seen_at.timestamp().to_be_bytes());
            new.push(draft);
        }
        committed((&self.claims, &self.hot).transaction(|(c, h)| {
            c.apply_batch(&claims)?;
            h.apply_batch(&hot)?;
            Ok(())
        }))?;
        self.remember(new);
        Ok(())
    }

    /// The trees [`insert_in`] writes, for a caller's transaction: `claims` and `claims_hot`.
    pub fn trees(&self) -> [&sled::Tree; 2] {
        [&self.claims, &self.hot]
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

    /// How many claims of the on-disk index carry `feature` themselves.
    fn on_disk(&self, memory: &Memory, feature: &str) -> Result<u32, StoreError> {
        if memory.cold == 0 {
            return Ok(0);
        }
        Ok(self.counts.get(feature)?.map_or(0, |v| be_u32(&v)))
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

    /// The key and record of a claim the index holds (a missing one is a corrupt store).
    fn indexed_claim(&self, id: u64) -> Result<(String, sled::IVec), StoreError> {
        let key = id_key(id);
        match self.claims.get(&key)? {
            Some(bytes) => Ok((key, bytes)),
            None => Err(StoreError::Corrupt {
                what: format!("claims/{key}"),
                reason: "in the index but not in the store".into(),
            }),
        }
    }

    /// The facts of the stored claim `id`, read from `claims`, in the judgement's numbers.
    fn read_facts(&self, id: u64, names: &mut Names<'_>) -> Result<Facts, StoreError> {
        let (key, bytes) = self.indexed_claim(id)?;
        Ok(names.facts(&records::decode_claim_head(key.as_bytes(), &bytes)?))
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
                let p = signals.known_probability(weights);
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
                .filter(|f| f.df == 0 && ["E:", "N:", "V:", "D:", "M:"].iter().any(|p| f.name.starts_with(p)))
                .map(|f| f.name.to_string())
                .collect();
            (best_pass, best_any, novel)
        };
        let attributed = draft.has("X:attr");
        // One unknown capitalised word is weak evidence (a title word, a misspelling, an outlet
        // "Times"): it counts in the signals; two or more (a full name) are a hard objection.
        let novel_names = novel.iter().filter(|f| f.starts_with("N:")).count();
        let novelty = novel
            .iter()
            .filter(|f| novel_names >= 2 || !f.starts_with("N:"))
            .find(|f| {
                let detail = f.starts_with("D:") || f.starts_with("M:");
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
                    format!("it repeats no known claim with probability {p:.2} (needs {:.2})", self.config.known_threshold)
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
            for f in draft.features.iter().filter(|f| same_lang || !f.starts_with("W:")) {
                if has(&claim.features, f) {
                    shared.push(describe(f));
                } else if has(&claim.context, f) {
                    shared.push(format!("{} (around it)", describe(f)));
                } else {
                    differing.push(describe(f));
                }
            }
            nearest =
                Some(ClaimMatch { claim_id: key, text: claim.text.into(), source: claim.source_url.into() });
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
        let is_setting = |f: &str| {
            f.starts_with("D:")
                || f.strip_prefix("E:")
                    .and_then(|id| engine.entity_kind(id))
                    .is_some_and(|k| k == EntityKind::Place)
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
                    && (dateline_new || j.novel.iter().any(|f| is_setting(f) || f.starts_with("M:")))
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
        let [claims, hot] = index.trees();
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
