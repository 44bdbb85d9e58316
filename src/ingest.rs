//! One article in, one commit out: fingerprint → dedup lookup → claim analysis → judgement →
//! story → ONE sled transaction (article record and body, fingerprint index entries, new claims
//! inserted and known ones corroborated, provenance, one outbox entry per new claim per sink) →
//! flush → wake the alert drains. `pipeline::process_article` calls [`Ingest::process`].
//!
//! It owns the order of these steps and the commit; the judging belongs to `claims`, the
//! fingerprints to `dedup`, delivery to `alert`. Trade-off: judging and the transaction hold one
//! lock, so two feeds reporting the same new claim at once cannot both alert on it; analysis (the
//! expensive, pure part) and the flush run outside it, so articles of concurrent feeds share one
//! write to disk (group commit) instead of waiting for one each.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use anyhow::{Context as _, Result};
use chrono::{DateTime, Utc};
use sled::transaction::TransactionError;
use sled::Transactional;

use crate::alert::outbox::{enqueue_in, SinkKind};
use crate::alert::Wake;
use crate::claims::features::{describe, Feature};
use crate::claims::index::{corroborate_in, insert_in, insert_variant_in};
use crate::claims::{verdict, Analysis, ClaimDraft, ClaimIndex, ClaimSource, Engine, Judgement};
use crate::config::AlertsConfig;
use crate::dedup::{self, ArticleId, DedupIndex, Fingerprint, Layer, Seen};
use crate::model::{
    Alert, AlertArticle, AlertClaim, AlertNearest, AlertWhy, Article, ArticleVerdict, ClaimVerdict,
};
use crate::provenance::{corroborate_provenance, provenance};
use crate::store::records::{
    self, ArticleRecord, ArticleV1, ClaimProvenance, ClaimProvenanceV1, ProvenanceSourceV1,
};
use crate::store::{trees, Store, StoreError};

/// Where an article comes from: seeds are known from the start and never alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Seed,
    Feed,
}

/// What processing one article did.
#[derive(Debug, Clone)]
pub struct Processed {
    pub id: ArticleId,
    pub verdict: ArticleVerdict,
    /// The dedup layer that recognised it, if any.
    pub seen: Option<Seen>,
    pub lang: String,
    pub story: u64,
    pub new_claims: usize,
    pub known_claims: usize,
    /// Outbox entries written (new claims × sinks).
    pub alerts: usize,
    /// The very same item was processed before: nothing was written.
    pub repeat: bool,
    /// Time spent in the store transaction and its flush.
    pub commit_time: std::time::Duration,
}

pub use crate::model::story_id;

/// Everything processing needs; cheap to clone.
#[derive(Clone)]
pub struct Ingest {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    engine: Arc<Engine>,
    dedup: DedupIndex,
    claims: ClaimIndex,
    articles: sled::Tree,
    provenance: sled::Tree,
    /// Every tree the commit writes, in the order of the `T_*` indices.
    trees: Vec<sled::Tree>,
    /// The sinks an alert is enqueued for; a commit holds the read lock, so a reload
    /// ([`Ingest::set_sinks`]) waits for commits in flight.
    sinks: RwLock<Vec<SinkKind>>,
    wake: Wake,
    lock: Mutex<()>,
}

const T_ARTICLES: usize = 0;
const T_BODIES: usize = 1;
const T_PROVENANCE: usize = 2;
const T_OUTBOX: usize = 3;
const T_DEDUP: usize = 4; // dedup::TREES trees: fingerprints, url keys, hashes, LSH buckets
const T_CLAIMS: usize = T_DEDUP + dedup::TREES;
const T_CLAIMS_HOT: usize = T_CLAIMS + 1;
const T_CLAIM_VARIANTS: usize = T_CLAIMS_HOT + 1;
const T_NEAREST: usize = T_CLAIM_VARIANTS + 1;

impl Ingest {
    /// Processing for the daemon: new claims of feed articles go to the sinks of `alerts`.
    pub fn new(store: &Store, alerts: &AlertsConfig, engine: Arc<Engine>, wake: Wake) -> Result<Ingest> {
        Ingest::with_sinks(store, SinkKind::configured(alerts), engine, wake)
    }

    /// Processing without alert sinks (seed import).
    pub fn for_seeds(store: &Store, engine: Arc<Engine>) -> Result<Ingest> {
        Ingest::with_sinks(store, Vec::new(), engine, Wake::new())
    }

    fn with_sinks(store: &Store, sinks: Vec<SinkKind>, engine: Arc<Engine>, wake: Wake) -> Result<Ingest> {
        let dedup = DedupIndex::open(store)?;
        let claims = ClaimIndex::open(store, &engine.config)?;
        let articles = store.tree(trees::ARTICLES)?;
        let provenance = store.tree(trees::CLAIM_PROVENANCE)?;
        let mut all = vec![
            articles.clone(),
            store.tree(trees::ARTICLE_BODIES)?,
            provenance.clone(),
            store.tree(trees::OUTBOX)?,
        ];
        all.extend(dedup.trees().iter().map(|t| (*t).clone()));
        all.extend(claims.trees().iter().map(|t| (*t).clone()));
        all.push(store.tree(trees::CLAIM_NEAREST)?);
        Ok(Ingest {
            inner: Arc::new(Inner {
                store: store.clone(),
                engine,
                dedup,
                claims,
                articles,
                provenance,
                trees: all,
                sinks: RwLock::new(sinks),
                wake,
                lock: Mutex::new(()),
            }),
        })
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    pub fn dedup(&self) -> &DedupIndex {
        &self.inner.dedup
    }

    /// The claim index this ingest judges and remembers with (the daemon's live one).
    pub fn claims(&self) -> &ClaimIndex {
        &self.inner.claims
    }

    pub fn wake(&self) -> &Wake {
        &self.inner.wake
    }

    /// Enqueues the alerts of later commits for the sinks of `alerts` (a reload). Returns once
    /// no commit in flight still uses the old set.
    pub fn set_sinks(&self, alerts: &AlertsConfig) {
        *self.inner.sinks.write().unwrap_or_else(PoisonError::into_inner) = SinkKind::configured(alerts);
    }

    /// Processes one article; returns once its commit is durable.
    pub fn process(&self, article: Article, origin: Origin) -> Result<Processed> {
        let me = &*self.inner;
        let fp = dedup::fingerprint(&article);
        let seen = me.dedup.lookup(&fp)?;
        if let Some(seen) = seen {
            crate::metrics::dedup_hit(seen.layer.as_str());
            tracing::debug!(article_url = %article.url, layer = seen.layer.as_str(), of = %seen.of, similarity = seen.similarity, "article seen before");
        }
        match seen {
            Some(seen) if seen.layer == Layer::Item => {
                crate::metrics::article(ArticleVerdict::Duplicate.as_str());
                // Committed before, but its feed did not record it as seen (a crash in between).
                tracing::info!(
                    article_url = %article.url,
                    verdict = ArticleVerdict::Duplicate.as_str(),
                    layer = Layer::Item.as_str(),
                    repeat = true,
                    "new article"
                );
                let stored = self.article(seen.of)?;
                return Ok(Processed {
                    id: seen.of,
                    verdict: ArticleVerdict::Duplicate,
                    seen: Some(seen),
                    lang: stored.as_ref().map(|a| a.lang.clone()).unwrap_or_default(),
                    story: stored.map(|a| a.story).unwrap_or(seen.of.0),
                    new_claims: 0,
                    known_claims: 0,
                    alerts: 0,
                    repeat: true,
                    commit_time: std::time::Duration::ZERO,
                });
            }
            Some(seen) if seen.layer != Layer::NearCopy => {
                // The same text under another address: nothing in it can be new. It is what the
                // stored article was: off topic, or a duplicate.
                let stored = self.article(seen.of)?;
                let lang = stored.as_ref().map(|a| a.lang.clone()).unwrap_or_default();
                let story = stored.as_ref().map(|a| a.story).unwrap_or(seen.of.0);
                let on_topic = stored.as_ref().is_none_or(|a| a.verdict != ArticleVerdict::OffTopic.as_str());
                let evidence = verdict::Evidence { on_topic, seen_before: true, ..Default::default() };
                let plan = Plan {
                    verdict: verdict::decide(&evidence),
                    lang,
                    story,
                    duplicate_of: Some(seen.of),
                    new: Vec::new(),
                    known: Vec::new(),
                    wordings: Vec::new(),
                    why: HashMap::new(),
                    alert: false,
                };
                return self.commit(&article, &fp, origin, Some(seen), plan, None);
            }
            _ => {}
        }

        let analysis = me.engine.analyse(&article);
        let guard = me.lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let judgements = me.claims.judge(&analysis)?;
        let near_copy = seen.filter(|s| s.layer == Layer::NearCopy);
        let verdict =
            verdict::decide(&me.claims.evidence(&me.engine, &analysis, &judgements, near_copy.is_some())?);
        let Claims { new, known, wordings } = split_claims(&analysis, &judgements, verdict);
        let story = match (verdict, near_copy) {
            (ArticleVerdict::Duplicate, Some(seen)) => {
                self.article(seen.of)?.map(|a| a.story).unwrap_or(seen.of.0)
            }
            (ArticleVerdict::SameStory, _) => self.majority_story(&known)?.unwrap_or(fp.id.0),
            _ => fp.id.0,
        };
        if verdict == ArticleVerdict::SameStory {
            crate::metrics::dedup_hit(Layer::Story.as_str());
        }
        let plan = Plan {
            verdict,
            lang: analysis.lang.clone(),
            story,
            duplicate_of: near_copy.map(|s| s.of),
            new,
            known,
            wordings,
            why: why_new(&analysis, &judgements),
            alert: origin == Origin::Feed,
        };
        self.commit(&article, &fp, origin, near_copy, plan, Some(guard))
    }

    /// The stored record of an article.
    pub fn article(&self, id: ArticleId) -> Result<Option<ArticleV1>, StoreError> {
        match self.inner.articles.get(id.to_bytes())? {
            Some(bytes) => {
                let ArticleRecord::V1(article) = records::decode("article", &bytes)?;
                Ok(Some(article))
            }
            None => Ok(None),
        }
    }

    /// The story most of these known claims belong to.
    fn majority_story(&self, known: &[String]) -> Result<Option<u64>, StoreError> {
        let mut votes: BTreeMap<u64, usize> = BTreeMap::new();
        for id in known {
            if let Some(p) = provenance(&self.inner.provenance, id)? {
                *votes.entry(p.story).or_default() += 1;
            }
        }
        Ok(votes.into_iter().max_by_key(|(story, n)| (*n, std::cmp::Reverse(*story))).map(|(s, _)| s))
    }

    fn commit(
        &self,
        article: &Article,
        fp: &Fingerprint,
        origin: Origin,
        seen: Option<Seen>,
        plan: Plan,
        judging: Option<MutexGuard<'_, ()>>,
    ) -> Result<Processed> {
        let me = &*self.inner;
        let now = Utc::now();
        let sinks = me.sinks.read().unwrap_or_else(PoisonError::into_inner);
        let alerting = plan.alert
            && !sinks.is_empty()
            && matches!(
                plan.verdict,
                ArticleVerdict::SameStory | ArticleVerdict::NewStory | ArticleVerdict::Duplicate
            );
        let seqs: Vec<u64> = if alerting {
            (0..plan.new.len()).map(|_| me.store.db().generate_id()).collect::<Result<_, _>>()?
        } else {
            Vec::new()
        };
        let seen_at = article.seen_at.timestamp_millis();
        let mut record = ArticleV1 {
            url: article.url.to_string(),
            feed: article.feed.clone(),
            title: article.title.clone(),
            published: article.published.map(|d| d.timestamp_millis()),
            seen_at,
            lang: plan.lang.clone(),
            verdict: plan.verdict.as_str().to_string(),
            story: plan.story,
            duplicate_of: plan.duplicate_of.map(|id| id.0),
            claims: plan.known.clone(),
            seed: origin == Origin::Seed,
        };
        record.claims.extend(plan.new.iter().map(ClaimDraft::id));
        let record_bytes = records::encode(&ArticleRecord::V1(record));
        let mut body_key = [0u8; 16];
        body_key[..8].copy_from_slice(&seen_at.to_be_bytes());
        body_key[8..].copy_from_slice(&fp.id.to_bytes());
        let source = ClaimSource {
            url: article.url.to_string(),
            title: article.title.clone(),
            feed: article.feed.clone(),
            seed: origin == Origin::Seed,
        };
        let source_v1 = ProvenanceSourceV1 {
            url: article.url.to_string(),
            feed: article.feed.clone(),
            lang: plan.lang.clone(),
            seen_at,
        };
        let alert_verdict = match plan.verdict {
            ArticleVerdict::NewStory => ArticleVerdict::NewStory,
            _ => ArticleVerdict::SameStory,
        };

        let started = std::time::Instant::now();
        let result = me.trees.as_slice().transaction(|txs| {
            let mut alerts = 0usize;
            let mut inserted = Vec::new();
            let mut inserted_wordings = Vec::new();
            txs[T_ARTICLES].insert(&fp.id.to_bytes(), record_bytes.as_slice())?;
            txs[T_BODIES].insert(&body_key, article.text.as_bytes())?;
            dedup::insert_in(&txs[T_DEDUP..T_CLAIMS], fp)?;
            for (i, draft) in plan.new.iter().enumerate() {
                let (id, is_new) =
                    insert_in(&txs[T_CLAIMS], &txs[T_CLAIMS_HOT], draft, &source, article.seen_at)?;
                if is_new {
                    inserted.push(i);
                }
                let (entities, numbers) = entities_and_numbers(draft);
                let provenance = ClaimProvenanceV1 {
                    text: draft.text.clone(),
                    lang: draft.lang.clone(),
                    first_seen: seen_at,
                    story: plan.story,
                    seed: origin == Origin::Seed,
                    entities: entities.clone(),
                    numbers: numbers.clone(),
                    source_count: 1,
                    langs: vec![plan.lang.clone()],
                    sources: vec![source_v1.clone()],
                };
                txs[T_PROVENANCE].insert(id.as_bytes(), records::encode(&ClaimProvenance::V1(provenance)))?;
                let why = plan.why.get(&draft.id().to_string());
                if let Some(nearest) = why.and_then(|w| w.nearest.as_ref()) {
                    let json = serde_json::to_vec(nearest).expect("a nearest claim serializes");
                    txs[T_NEAREST].insert(id.as_bytes(), json)?;
                }
                if alerting {
                    let alert = Alert {
                        kind: "new_claim".into(),
                        id: id.clone(),
                        detected_at: now,
                        claim: AlertClaim { text: draft.text.clone(), lang: draft.lang.clone() },
                        article: AlertArticle {
                            url: article.url.to_string(),
                            title: article.title.clone(),
                            feed: article.feed.clone(),
                            feed_name: article.feed_name.clone(),
                            published: article.published,
                            verdict: alert_verdict,
                        },
                        story_id: story_id(plan.story),
                        entities,
                        numbers,
                        sources: vec![article.url.to_string()],
                        why: why.cloned(),
                    };
                    enqueue_in(&txs[T_OUTBOX], &sinks, seqs[i], &alert)?;
                    alerts += sinks.len();
                }
            }
            let claim_trees = [&txs[T_CLAIMS], &txs[T_CLAIMS_HOT], &txs[T_CLAIM_VARIANTS]];
            for (i, (draft, repeats)) in plan.wordings.iter().enumerate() {
                if insert_variant_in(claim_trees, draft, repeats, &source, article.seen_at)? {
                    inserted_wordings.push(i);
                }
            }
            for id in &plan.known {
                corroborate_in(&txs[T_CLAIMS], id, &source, article.seen_at)?;
                corroborate_provenance(&txs[T_PROVENANCE], id, &source_v1)?;
            }
            Ok((alerts, inserted, inserted_wordings))
        });
        let alerts = match result {
            Ok((alerts, inserted, inserted_wordings)) => {
                me.claims.remember(inserted.into_iter().map(|i| &plan.new[i]));
                me.claims.remember(inserted_wordings.into_iter().map(|i| &plan.wordings[i].0));
                alerts
            }
            Err(TransactionError::Abort(error)) => return Err(error).context("committing the article"),
            Err(TransactionError::Storage(error)) => return Err(error).context("committing the article"),
        };
        // The store and the claim index now hold this article's claims: the next article can be
        // judged while this one is flushed, and concurrent flushes share one write to disk.
        drop(judging);
        drop(sinks);
        // Durable before it counts as accepted (and before a feed marks the item seen).
        me.store.flush().context("flushing the article commit")?;
        let commit_time = started.elapsed();
        if alerts > 0 {
            me.wake.wake();
        }
        crate::metrics::article(plan.verdict.as_str());
        crate::metrics::claims("new", plan.new.len() as u64);
        crate::metrics::claims("known", plan.known.len() as u64);
        // Seeds are logged by their import, as one line (`seeds::ensure_seeded`).
        if origin != Origin::Seed {
            tracing::info!(
                article_url = %article.url,
                verdict = plan.verdict.as_str(),
                layer = seen.map(|s| s.layer.as_str()),
                lang = %plan.lang,
                story_id = %story_id(plan.story),
                new_claims = plan.new.len(),
                known_claims = plan.known.len(),
                "new article"
            );
        }
        Ok(Processed {
            id: fp.id,
            verdict: plan.verdict,
            seen,
            lang: plan.lang,
            story: plan.story,
            new_claims: plan.new.len(),
            known_claims: plan.known.len(),
            alerts,
            repeat: false,
            commit_time,
        })
    }
}

struct Plan {
    verdict: ArticleVerdict,
    lang: String,
    story: u64,
    duplicate_of: Option<ArticleId>,
    new: Vec<ClaimDraft>,
    /// Ids of known claims this article corroborates.
    known: Vec<String>,
    /// Known drafts worded otherwise than the claim they repeat, with its id.
    wordings: Vec<(ClaimDraft, String)>,
    /// Why each new draft is new, by draft id (for its alert).
    why: HashMap<String, AlertWhy>,
    alert: bool,
}

/// An article's claims, sorted for the commit.
struct Claims {
    /// New drafts, each id once.
    new: Vec<ClaimDraft>,
    /// The ids of the known claims matched, each once.
    known: Vec<String>,
    /// Known drafts worded otherwise than the claim they repeat, with its id: stored as its
    /// other wordings.
    wordings: Vec<(ClaimDraft, String)>,
}

/// The claims of a judged article. An off-topic article has none.
fn split_claims(analysis: &Analysis, judgements: &[Judgement], verdict: ArticleVerdict) -> Claims {
    let mut claims = Claims { new: Vec::new(), known: Vec::new(), wordings: Vec::new() };
    if verdict == ArticleVerdict::OffTopic {
        return claims;
    }
    let mut seen = HashSet::new();
    for (draft, judgement) in analysis.claims.iter().zip(judgements) {
        match (judgement.verdict, &judgement.matched) {
            (ClaimVerdict::Known, Some(m)) => {
                let id = m.claim_id.to_string();
                if draft.id() != id && seen.insert(draft.id().to_string()) {
                    claims.wordings.push((draft.clone(), id.clone()));
                }
                if seen.insert(id.clone()) {
                    claims.known.push(id);
                }
            }
            (ClaimVerdict::Known, None) => {}
            (ClaimVerdict::New, _) => {
                let id = draft.id().to_string();
                if seen.insert(id) {
                    claims.new.push(draft.clone());
                }
            }
        }
    }
    claims
}

/// Why each new draft is new, by draft id: the judgement's explanation, for the alert record.
fn why_new(analysis: &Analysis, judgements: &[Judgement]) -> HashMap<String, AlertWhy> {
    analysis
        .claims
        .iter()
        .zip(judgements)
        .filter(|(_, judgement)| judgement.verdict == ClaimVerdict::New)
        .map(|(draft, j)| {
            let nearest = j.nearest.as_ref().map(|m| AlertNearest {
                claim_id: m.claim_id.to_string(),
                text: m.text.clone(),
                source: m.source.clone(),
                lang: m.lang.clone(),
            });
            let why = AlertWhy {
                reason: j.reason.clone(),
                nearest,
                differed: j.differing.iter().filter(|f| !f.starts_with("the word ")).cloned().collect(),
                never_seen: j.novel.iter().map(|f| describe(f)).collect(),
            };
            (draft.id().to_string(), why)
        })
        .collect()
}

/// Entities (`E:`, `N:`) and numbers (`Q:`, `V:`) among a draft's features.
fn entities_and_numbers(draft: &ClaimDraft) -> (Vec<String>, Vec<String>) {
    let mut entities = BTreeSet::new();
    let mut numbers = BTreeSet::new();
    for feature in &draft.features {
        match Feature::parse(feature) {
            Some(Feature::Entity(e)) => {
                entities.insert(e.to_string());
            }
            Some(Feature::Quantity { unit, value }) => {
                numbers.insert(format!("{unit}:{value}"));
            }
            Some(Feature::Value(v)) if !numbers.iter().any(|n: &String| n.ends_with(&format!(":{v}"))) => {
                numbers.insert(v.to_string());
            }
            _ => {}
        }
    }
    (entities.into_iter().collect(), numbers.into_iter().collect())
}

/// Drops article bodies first seen before `cutoff`; claims, fingerprints and URL entries stay.
/// Returns how many were dropped.
pub fn drop_bodies_before(store: &Store, cutoff: DateTime<Utc>) -> Result<usize, StoreError> {
    let bodies = store.tree(trees::ARTICLE_BODIES)?;
    let end = cutoff.timestamp_millis().to_be_bytes();
    let mut batch = sled::Batch::default();
    let mut n = 0;
    for entry in bodies.range(..end.as_slice()) {
        let (key, _) = entry?;
        batch.remove(key);
        n += 1;
    }
    bodies.apply_batch(batch)?;
    if n > 0 {
        store.flush()?;
    }
    Ok(n)
}

/// The retention task: drops old bodies at start and then every hour.
pub async fn retention(
    store: Store,
    retain: std::time::Duration,
    token: tokio_util::sync::CancellationToken,
) {
    loop {
        let cutoff = Utc::now() - chrono::Duration::from_std(retain).unwrap_or(chrono::Duration::MAX);
        let store2 = store.clone();
        match tokio::task::spawn_blocking(move || drop_bodies_before(&store2, cutoff)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!(bodies = n, "retention dropped old article bodies"),
            Ok(Err(error)) => tracing::error!(%error, "retention failed"),
            Err(error) => tracing::error!(%error, "retention task panicked"),
        }
        tokio::select! {
            _ = token.cancelled() => return,
            _ = tokio::time::sleep(std::time::Duration::from_secs(3600)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::outbox::Outbox;
    use crate::config::Config;
    use crate::provenance::provenance;

    fn setup() -> (tempfile::TempDir, Ingest) {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::defaults_with_state_dir(dir.path());
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        let engine = Arc::new(Engine::load(&config).unwrap());
        let ingest = Ingest::new(&store, &config.alerts, engine, Wake::new()).unwrap();
        (dir, ingest)
    }

    fn article(url: &str, text: &str) -> Article {
        Article {
            url: url::Url::parse(url).unwrap(),
            feed: Some("https://example.org/rss".into()),
            feed_name: Some("Example news".into()),
            title: Some("t".into()),
            text: text.into(),
            published: None,
            lang_hint: Some("en".into()),
            seen_at: Utc::now(),
        }
    }

    const TEXT: &str = "The coalition agreed to deploy 30,000 troops to Ukraine next spring. \
        Leaders signed the Paris declaration on security guarantees for Kyiv.";

    #[test]
    fn a_new_article_commits_its_claims_and_one_alert_per_claim_per_sink() {
        let (_dir, ingest) = setup();
        let p = ingest.process(article("https://example.org/a?utm_source=x", TEXT), Origin::Feed).unwrap();
        assert_eq!((p.verdict, p.new_claims, p.known_claims), (ArticleVerdict::NewStory, 2, 0));
        let sinks = 2; // log + jsonl in the defaults
        assert_eq!(p.alerts, 2 * sinks);
        let outbox = Outbox::open(ingest.store()).unwrap();
        let pending = outbox.pending(SinkKind::Jsonl, 10).unwrap();
        assert_eq!(pending.len(), 2);
        assert_eq!(pending[0].alert.article.url, "https://example.org/a?utm_source=x");
        assert_eq!(pending[0].alert.story_id, story_id(p.story));
        let stored = ingest.article(p.id).unwrap().unwrap();
        assert_eq!(stored.claims.len(), 2);

        // The same item again: a repeat, nothing written.
        let again =
            ingest.process(article("https://example.org/a?utm_source=x", TEXT), Origin::Feed).unwrap();
        assert!(again.repeat);
        // Its AMP variant: a url duplicate, no alert.
        let amp = ingest.process(article("https://example.org/a/amp", TEXT), Origin::Feed).unwrap();
        assert_eq!(
            (amp.verdict, amp.seen.map(|s| s.layer), amp.alerts),
            (ArticleVerdict::Duplicate, Some(Layer::Url), 0)
        );
        // The same text elsewhere: a hash duplicate of the first, same story.
        let copy =
            ingest.process(article("https://other.example/b", &TEXT.to_uppercase()), Origin::Feed).unwrap();
        assert_eq!((copy.seen.map(|s| s.layer), copy.story), (Some(Layer::Hash), p.story));
        assert_eq!(outbox.pending(SinkKind::Jsonl, 10).unwrap().len(), 2);
    }

    #[test]
    fn a_known_claim_gains_a_source_and_the_article_joins_its_story() {
        let (_dir, ingest) = setup();
        let first = ingest.process(article("https://example.org/a", TEXT), Origin::Seed).unwrap();
        assert_eq!(first.alerts, 0, "seeds never alert");
        let other = article(
            "https://example.de/b",
            "The coalition agreed to deploy 30,000 troops to Ukraine next spring. \
             France will send 2,000 soldiers to Odesa under the security guarantees for Ukraine.",
        );
        let p = ingest.process(other, Origin::Feed).unwrap();
        assert_eq!(
            (p.verdict, p.known_claims, p.story),
            (ArticleVerdict::SameStory, 1, first.story),
            "{p:?}"
        );
        assert!(p.new_claims >= 1, "{p:?}");
        let tree = ingest.store().tree(trees::CLAIM_PROVENANCE).unwrap();
        let stored = ingest.article(p.id).unwrap().unwrap();
        let known_id = &stored.claims[0];
        let prov = provenance(&tree, known_id).unwrap().unwrap();
        assert_eq!((prov.source_count, prov.seed), (2, true));

        // The new claim's alert says why it is new: the nearest known claim and what differed.
        let pending = Outbox::open(ingest.store()).unwrap().pending(SinkKind::Jsonl, 10).unwrap();
        let alert =
            pending.iter().find(|p| p.alert.claim.text.contains("Odesa")).expect("the new claim alerted");
        let why = alert.alert.why.as_ref().expect("an alert says why its claim is new");
        let nearest = why.nearest.as_ref().expect("a nearest known claim");
        assert!(TEXT.contains(&nearest.text), "the nearest is a claim of the seed: {why:?}");
        assert_eq!(nearest.source, "https://example.org/a", "{why:?}");
        assert_eq!(nearest.lang, "en", "{why:?}");
        assert_eq!(alert.alert.article.feed_name.as_deref(), Some("Example news"), "the feed's name");
        // The ledger, the Atom feed and `claims` show the same nearest claim, kept with the claim.
        let listed = crate::provenance::list(ingest.store(), true, None).unwrap();
        let odesa = listed.iter().find(|l| l.claim.text.contains("Odesa")).expect("listed");
        assert_eq!(odesa.nearest.as_ref(), Some(nearest), "{odesa:?}");
        for fact in ["odesa", "the number 2000"] {
            assert!(why.never_seen.iter().any(|f| f == fact), "{fact} in {why:?}");
        }
        assert!(why.differed.iter().any(|f| f == "2000 personnel"), "{why:?}");
        assert!(!why.differed.iter().chain(&why.never_seen).any(|f| f.contains(':')), "readable: {why:?}");
        let json = serde_json::to_value(&alert.alert).unwrap();
        assert_eq!(json["why"]["nearest"]["text"], nearest.text.as_str());
    }

    #[test]
    fn an_off_topic_article_stores_no_claims_and_raises_no_alert() {
        let (_dir, ingest) = setup();
        let p = ingest
            .process(
                article("https://example.org/sport", "The football team won the cup final in Kyiv today."),
                Origin::Feed,
            )
            .unwrap();
        assert_eq!((p.verdict, p.new_claims, p.alerts), (ArticleVerdict::OffTopic, 0, 0));
    }

    #[test]
    fn retention_drops_old_bodies_and_keeps_the_fingerprints() {
        let (_dir, ingest) = setup();
        let mut old = article("https://example.org/old", TEXT);
        old.seen_at = Utc::now() - chrono::Duration::days(100);
        ingest.process(old, Origin::Feed).unwrap();
        ingest
            .process(
                article("https://example.org/new", "Another text about the guarantees plan today."),
                Origin::Feed,
            )
            .unwrap();
        let dropped = drop_bodies_before(ingest.store(), Utc::now() - chrono::Duration::days(90)).unwrap();
        assert_eq!(dropped, 1);
        assert_eq!(ingest.store().tree(trees::ARTICLE_BODIES).unwrap().len(), 1);
        let again = ingest.process(article("https://example.org/x", TEXT), Origin::Feed).unwrap();
        assert_eq!(again.seen.map(|s| s.layer), Some(Layer::Hash), "dedup still knows the old article");
    }
}
