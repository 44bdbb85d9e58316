//! The claim store: stored claims (tree `claims`, the record of truth) and, in memory, every
//! claim's facts as feature numbers with an inverted index feature → claims. The read side,
//! [`ClaimIndex`], judges drafts: candidates come from the postings of the draft's rarest
//! features (a bounded budget), each is scored by how much of the draft's rarity-weighted facts
//! it carries, and hard rules decide what a score cannot: a quantity of the same kind with
//! another value, a number, name, place or date the store has never seen, or a reversed polarity
//! make a claim new.
//!
//! The write side ([`insert_in`], [`corroborate_in`]) works inside a sled transaction owned by
//! the caller, so an article, its claims and its alerts commit together; the caller then hands
//! the inserted claims to [`ClaimIndex::remember`].
//!
//! Trade-off: the index lives in memory (about 100–200 bytes per claim) and is rebuilt from the
//! `claims` tree at start-up, so judging never waits on the disk; document frequencies are exact
//! but the candidate scan is capped, so a claim whose only shared features are extremely common
//! may miss its match in a huge store.

use rustc_hash::FxHashMap;
use std::sync::{Arc, PoisonError, RwLock};

use chrono::{DateTime, TimeZone, Utc};
use sled::transaction::{TransactionalTree, UnabortableTransactionError};

use crate::claims::lexicon::EntityKind;
use crate::claims::{Analysis, ClaimDraft, ClaimId, Engine};
use crate::config::ClaimsConfig;
use crate::model::{ArticleVerdict, ClaimVerdict};
use crate::store::records::{self, ClaimRecord, ClaimV1, SourceV1};
use crate::store::{trees, Store, StoreError};

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

fn indexed(feature: &str) -> bool {
    !feature.starts_with("X:")
}

/// A claim id (16 hex digits) as the number it spells.
fn id_number(id: &str) -> Option<u64> {
    u64::from_str_radix(id, 16).ok()
}

/// Stores `draft` inside the caller's transaction, or, when the same claim (same id) is already
/// stored, records `source` as corroborating it. Returns the claim's id and whether it was
/// inserted (then the caller tells the index with [`ClaimIndex::remember`] once the
/// transaction has committed).
pub fn insert_in(
    claims: &TransactionalTree,
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
    Ok((id, true))
}

/// The stored record of a newly seen claim (for [`insert_in`], and for bulk loads that write
/// records with a `sled::Batch` and then open the index).
pub fn claim_record(draft: &ClaimDraft, source: &ClaimSource, seen_at: DateTime<Utc>) -> Vec<u8> {
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

/// What judging reads: every stored claim's facts as feature numbers and the postings feature →
/// claims, in memory. Built from the `claims` tree when the index opens and extended by
/// [`ClaimIndex::remember`] after each commit, so a judgement never touches the disk until it
/// reads the one claim it names.
#[derive(Default)]
struct Memory {
    numbers: FxHashMap<Arc<str>, u32>,
    names: Vec<Arc<str>>,
    /// Per feature number: the claims that carry it themselves (not in their setting), oldest
    /// first. Its length is the feature's document frequency.
    postings: Vec<Vec<u32>>,
    /// Per claim slot: its id, and its facts. Ids live apart so that ranking hundreds of
    /// candidates by id reads one compact array.
    ids: Vec<u64>,
    claims: Vec<Facts>,
    langs: Vec<Box<str>>,
    /// Estimated heap bytes of all the above (for `claimwatch_claim_index_memory_bytes`).
    bytes: usize,
}

/// One stored claim in memory.
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

    fn df(&self, feature: &str) -> u32 {
        self.df_of(self.number(feature))
    }

    /// How many claims carry the feature numbered `number` themselves (0 for an unknown one).
    fn df_of(&self, number: Option<u32>) -> u32 {
        number.map_or(0, |n| self.postings[n as usize].len() as u32)
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
}

/// A draft resolved against the memory once, so that comparing it with each candidate is
/// binary searches over small sorted arrays.
struct Probe<'d> {
    lang: Option<u16>,
    /// Features that count in the score: number, weight (type × rarity), and for a role pair
    /// (`R:actor~concept`) the numbers of its two parts.
    facts: Vec<(Option<u32>, f32, Option<(Option<u32>, Option<u32>)>)>,
    /// Same-language stems (`W:`) with their rarity weight, and their total.
    words: Vec<(Option<u32>, f32)>,
    word_total: f32,
    /// Concepts the draft denies: name, `C:` number, `G:` number.
    denied: Vec<(&'d str, Option<u32>, Option<u32>)>,
    /// Concepts the draft states without denying them: name, `G:` number.
    affirmed: Vec<(&'d str, Option<u32>)>,
    /// Quantities: the feature, its `V:value` number, its `Q:unit:` prefix (none for bare counts).
    quantities: Vec<(&'d str, Option<u32>, Option<&'d str>)>,
    /// Indexed features with their number and document frequency.
    indexed: Vec<(&'d str, Option<u32>, u32, f32)>,
}

impl<'d> Probe<'d> {
    fn new(memory: &Memory, draft: &'d ClaimDraft) -> Probe<'d> {
        let n = memory.claims.len() as f32;
        let mut probe = Probe {
            lang: memory.langs.iter().position(|l| **l == *draft.lang).map(|i| i as u16),
            facts: Vec::new(),
            words: Vec::new(),
            word_total: 0.0,
            denied: Vec::new(),
            affirmed: Vec::new(),
            quantities: Vec::new(),
            indexed: Vec::new(),
        };
        // The number of `prefix` + `name`, through one reused buffer.
        let mut key = String::new();
        let mut number_of = |prefix: &str, name: &str| {
            key.clear();
            key.push_str(prefix);
            key.push_str(name);
            memory.number(&key)
        };
        for f in draft.features.iter().map(String::as_str) {
            let number = memory.number(f);
            let weight = if indexed(f) {
                let df = memory.df_of(number);
                let idf = ((n + 1.0) / (df as f32 + 0.5)).ln().max(0.1);
                probe.indexed.push((f, number, df, idf));
                idf
            } else {
                0.1
            };
            let tw = type_weight(f);
            if tw > 0.0 {
                let role = f.strip_prefix("R:").map(|pair| {
                    let (e, c) = pair.split_once('~').unwrap_or((pair, ""));
                    (number_of("E:", e), number_of("C:", c))
                });
                probe.facts.push((number, tw * weight, role));
            }
            if f.starts_with("W:") {
                probe.words.push((number, weight));
                probe.word_total += weight;
            }
            if let Some(g) = f.strip_prefix("G:") {
                probe.denied.push((g, number_of("C:", g), number));
            }
            if let Some(c) = f.strip_prefix("C:") {
                if !draft.has(&format!("G:{c}")) {
                    probe.affirmed.push((c, number_of("G:", c)));
                }
            }
            if let Some(rest) = f.strip_prefix("Q:") {
                let (unit, value) = rest.split_once(':').unwrap_or((rest, ""));
                let prefix = if unit == "n" { None } else { f.get(..unit.len() + 3) };
                probe.quantities.push((f, number_of("V:", value), prefix));
            }
        }
        probe
    }

    /// Candidates from the postings of the selective features, rarest first, with the summed
    /// weight of the features that found them; the best `max_candidates`.
    fn candidates(&self, memory: &Memory, config: &ClaimsConfig) -> Vec<u32> {
        let n = memory.claims.len() as u64;
        // A feature carried by a large share of the store (a country, a common word) selects
        // nothing and is skipped; when nothing selective is left, the three rarest are used.
        let mut by_rarity: Vec<&(&str, Option<u32>, u32, f32)> =
            self.indexed.iter().filter(|(_, _, df, _)| *df > 0).collect();
        by_rarity.sort_by(|a, b| a.2.cmp(&b.2).then_with(|| a.0.cmp(b.0)));
        let selective_cap = (n / 20).max(config.max_postings as u64 / 4).max(64);
        let mut chosen: Vec<_> = by_rarity.iter().filter(|f| f.2 as u64 <= selective_cap).collect();
        if chosen.len() < 3 {
            chosen = by_rarity.iter().take(3).collect();
        }
        // `max_postings` is the budget of postings read per draft, spent rarest feature first
        // and newest claim first: rare features (names, numbers, places) find a repeat at once.
        let mut budget = config.max_postings;
        let mut summed: FxHashMap<u32, f32> = FxHashMap::default();
        summed.reserve(budget);
        for (f, number, _, weight) in chosen.into_iter().copied() {
            let Some(number) = number else { continue };
            let w = weight * if f.starts_with("W:") { 0.5 } else { type_weight(f).max(0.2) };
            let postings = &memory.postings[*number as usize];
            let take = budget.min(postings.len());
            budget -= take;
            for slot in postings.iter().rev().take(take) {
                *summed.entry(*slot).or_default() += w;
            }
            if budget == 0 {
                break;
            }
        }
        // The best `max_candidates`, ties to the lower claim id (the same choice after a
        // restart): keep what scores at least the k-th best score, then rank only those by id.
        let k = config.max_candidates;
        let mut best: Vec<(f32, u32)> = summed.into_iter().map(|(slot, w)| (w, slot)).collect();
        if best.len() > k {
            let (_, kth, _) = best.select_nth_unstable_by(k - 1, |a, b| b.0.total_cmp(&a.0));
            let kth = kth.0;
            best.retain(|(w, _)| *w >= kth);
        }
        let mut ranked: Vec<(f32, u64, u32)> =
            best.into_iter().map(|(w, slot)| (w, memory.ids[slot as usize], slot)).collect();
        ranked.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        ranked.truncate(k);
        ranked.into_iter().map(|(_, _, slot)| slot).collect()
    }

    /// Scores how much of the draft's facts `claim` carries (its setting counting partly), and
    /// states the hard rule that makes them different claims, if one does.
    fn compare(&self, memory: &Memory, claim: &Facts) -> (f32, Option<Objection<'d>>) {
        let in_claim = |n: Option<u32>| n.is_some_and(|n| claim.features().binary_search(&n).is_ok());
        let in_context = |n: Option<u32>| n.is_some_and(|n| claim.context().binary_search(&n).is_ok());
        let mut total = 0.0f32;
        let mut matched = 0.0f32;
        let mut own = 0.0f32;
        for (number, weight, role) in &self.facts {
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
        let mut score = if total > 0.0 { matched / total } else { 0.0 };
        if self.lang == Some(claim.lang) && self.word_total > 0.0 {
            let shared: f32 = self.words.iter().filter(|(n, _)| in_claim(*n)).map(|(_, w)| w).sum();
            score = score.max(0.5 * score + 0.5 * shared / self.word_total);
        }
        // The setting only tops up: the claim itself must carry a good part of the facts.
        if total > 0.0 && own / total < OWN_FLOOR {
            return (score, Some(Objection::OwnShare(own / total)));
        }
        // Polarity: a concept negated on one side only. A negated concept is what the claim
        // denies, so a stored claim that does not speak of it at all is not the same claim.
        for (g, concept, negated) in &self.denied {
            if !in_claim(*concept) {
                return (score, Some(Objection::Unspoken(g)));
            }
            if !in_claim(*negated) {
                return (score, Some(Objection::NegatedHere(g)));
            }
        }
        for (c, negated) in &self.affirmed {
            if in_claim(*negated) {
                return (score, Some(Objection::NegatedThere(c)));
            }
        }
        // Same kind of quantity, another value.
        for (q, value, unit_prefix) in &self.quantities {
            if in_claim(*value) || in_context(*value) {
                continue;
            }
            if let Some(prefix) = unit_prefix {
                if claim.features().iter().any(|n| memory.names[*n as usize].starts_with(prefix)) {
                    return (score, Some(Objection::OtherQuantity(q)));
                }
            }
        }
        (score, None)
    }
}

/// The hard rule that makes a stored claim another claim than the draft, whatever the score.
enum Objection<'d> {
    /// The stored claim itself (not its setting) carries only this share of the draft's facts.
    OwnShare(f32),
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
            Objection::OwnShare(share) => {
                write!(out, "the known claim itself carries only {share:.2} of the facts")
            }
            Objection::Unspoken(g) => {
                write!(out, "the known claim does not speak of {g}, which this one denies")
            }
            Objection::NegatedHere(g) => write!(out, "{g} is negated here, not in the known claim"),
            Objection::NegatedThere(c) => write!(out, "{c} is negated in the known claim, not here"),
            Objection::OtherQuantity(q) => write!(out, "{q} differs from the known claim's quantity"),
        }
    }
}

/// The read side of the claim store.
#[derive(Clone)]
pub struct ClaimIndex {
    claims: sled::Tree,
    memory: Arc<RwLock<Memory>>,
    config: ClaimsConfig,
}

/// Share of a feature's weight credited when it is only in a stored claim's setting.
const CONTEXT_CREDIT: f32 = 0.6;
/// Least share of a draft's facts a stored claim must carry itself (not in its setting).
const OWN_FLOOR: f32 = 0.4;

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
    /// Opens the `claims` tree of `store` and reads every stored claim's facts into memory.
    pub fn open(store: &Store, config: &ClaimsConfig) -> Result<ClaimIndex, StoreError> {
        let claims = store.tree(trees::CLAIMS)?;
        let mut memory = Memory::default();
        let mut first_seen = Vec::new();
        for item in claims.iter() {
            let (key, bytes) = item?;
            let id =
                std::str::from_utf8(&key).ok().and_then(id_number).ok_or_else(|| StoreError::Corrupt {
                    what: format!("claims/{}", String::from_utf8_lossy(&key)),
                    reason: "the key is not a claim id".into(),
                })?;
            let head = records::decode_claim_head(&key, &bytes)?;
            memory.add(id, head.lang, &head.features, &head.context);
            first_seen.push(head.first_seen);
        }
        // Postings in the order the claims were first seen, as `remember` appends them, so that
        // the postings budget reads the same (newest) claims before and after a restart.
        for postings in &mut memory.postings {
            postings.sort_unstable_by_key(|slot| (first_seen[*slot as usize], memory.ids[*slot as usize]));
        }
        crate::metrics::claim_index(memory.claims.len(), memory.bytes);
        Ok(ClaimIndex { claims, memory: Arc::new(RwLock::new(memory)), config: config.clone() })
    }

    /// The `claims` tree, for a caller's transaction.
    pub fn tree(&self) -> &sled::Tree {
        &self.claims
    }

    fn memory(&self) -> std::sync::RwLockReadGuard<'_, Memory> {
        self.memory.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Tells the index about claims that [`insert_in`] inserted and whose transaction committed.
    pub fn remember<'a>(&self, drafts: impl IntoIterator<Item = &'a ClaimDraft>) {
        let mut memory = self.memory.write().unwrap_or_else(PoisonError::into_inner);
        for draft in drafts {
            if let Some(id) = id_number(&draft.id()) {
                memory.add(id, &draft.lang, &draft.features, &draft.context);
            }
        }
        crate::metrics::claim_index(memory.claims.len(), memory.bytes);
    }

    /// Number of stored claims.
    pub fn len(&self) -> usize {
        self.memory().claims.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Estimated heap bytes of the in-memory index.
    pub fn memory_bytes(&self) -> usize {
        self.memory().bytes
    }

    /// How many stored claims carry `feature` themselves.
    pub fn df(&self, feature: &str) -> u64 {
        self.memory().df(feature) as u64
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
        // The best candidate that passes the hard rules, and the best overall, as (score, id).
        let (best_pass, best_any, novel) = {
            let memory = self.memory();
            let probe = Probe::new(&memory, draft);
            let mut best_pass: Option<(f32, u64)> = None;
            let mut best_any: Option<(f32, u64, Option<Objection<'_>>)> = None;
            for slot in probe.candidates(&memory, &self.config) {
                let (score, objection) = probe.compare(&memory, &memory.claims[slot as usize]);
                let id = memory.ids[slot as usize];
                if objection.is_none() && best_pass.is_none_or(|(s, _)| score > s) {
                    best_pass = Some((score, id));
                }
                if best_any.as_ref().is_none_or(|(s, _, _)| score > *s) {
                    best_any = Some((score, id, objection));
                }
            }
            let novel: Vec<String> = probe
                .indexed
                .iter()
                .filter(|(f, _, df, _)| {
                    *df == 0 && ["E:", "N:", "V:", "D:", "M:"].iter().any(|p| f.starts_with(p))
                })
                .map(|(f, _, _, _)| f.to_string())
                .collect();
            (best_pass, best_any, novel)
        };
        let attributed = draft.has("X:attr");
        let novelty = novel
            .iter()
            .find(|f| {
                let detail = f.starts_with("D:") || f.starts_with("M:");
                let pass_score = best_pass.map(|(s, _)| s).unwrap_or(0.0);
                !(detail && attributed && pass_score >= self.config.detail_threshold)
            })
            .map(|f| format!("{f} appears in no known claim"));
        let (verdict, score, nearest_id, reason) = match (best_pass, best_any) {
            (Some((s, id)), _) if s >= self.config.known_threshold && novelty.is_none() => {
                (ClaimVerdict::Known, s, Some(id), None)
            }
            (_, Some((s, id, objection))) => {
                let reason = novelty
                    .or(objection.map(|o| o.to_string()))
                    .unwrap_or_else(|| format!("best match {s:.2} below {:.2}", self.config.known_threshold));
                (ClaimVerdict::New, s, Some(id), Some(reason))
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
        let mut nearest = None;
        if let Some(id) = nearest_id {
            let key = format!("{id:0width$x}", width = ID_LEN);
            let bytes = self.claims.get(&key)?.ok_or_else(|| StoreError::Corrupt {
                what: format!("claims/{key}"),
                reason: "in the index but not in the store".into(),
            })?;
            let claim = records::decode_claim_head(key.as_bytes(), &bytes)?;
            let has = |sorted: &[&str], f: &str| sorted.binary_search(&f).is_ok();
            for f in draft.features.iter().filter(|f| !f.starts_with("W:")) {
                if has(&claim.features, f) {
                    shared.push(f.clone());
                } else if has(&claim.context, f) {
                    shared.push(format!("{f} (context)"));
                } else {
                    differing.push(f.clone());
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
        })
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
            if self.df(f) == 0 {
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
        let (_, inserted) = index
            .tree()
            .transaction(|claims| {
                insert_in(claims, draft, &source, seen_at)
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
        assert_eq!(reopened.df("C:guarantee"), 30);
        assert_eq!(reopened.df("V:7"), 1);
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
}
