//! The per-feed flow, top to bottom, in one function: [`refresh_feed`] fetches a feed
//! (conditionally), skips an unchanged body, parses it, and for every item not seen before
//! fetches its page with the same politeness, extracts the article and hands it to
//! [`process_article`]. It then persists the feed's schedule and health.
//!
//! It owns the order of the stages and what happens when one fails (log once, count, go on); it
//! owns no stage's logic. A fetch or parse failure is a value recorded in the feed's state (with
//! backoff), never an error of this function: only a store failure is.
//!
//! Trade-off: an item is marked seen only after `process_article` accepted it, and an item whose
//! page failed with a retryable error is left unseen (and the body hash is not recorded), so a
//! crash or an outage costs a repeat attempt, never a lost article.

use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use url::Url;

use crate::config::Config;
use crate::extract::{Rules, SiteRules};
use crate::feeds::{self, ScheduleInput};
use crate::fetch::{CacheHints, FetchOutcome, Fetcher, Kind, Request, Validators};
use crate::ingest::{Ingest, Origin, Processed};
use crate::model::{Article, Extracted, Feed, FeedItem};
use crate::parse::{self, ParsedFeed};
use crate::store::records::FeedStateV1;
use crate::store::{Store, StoreError};

/// What every stage of the flow shares.
#[derive(Clone)]
pub struct Ctx {
    pub config: Arc<Config>,
    pub store: Store,
    pub fetcher: Fetcher,
    /// Built-in site rules layered with `extract.sites_file`.
    pub sites: Arc<SiteRules>,
    /// Dedup, claim judgement and the per-article commit; its `wake()` wakes the alert drains.
    pub ingest: Ingest,
}

impl Ctx {
    /// The context for a reloaded configuration: a new HTTP client (keeping what the fetcher
    /// learnt about hosts: Retry-After, per-host spacing) and new site rules. The same `Ingest`
    /// is kept: its lock serialises judgements against in-flight refreshes and its wake handle
    /// is the one the alert drains listen to.
    pub fn reloaded(&self, config: Arc<Config>) -> anyhow::Result<Ctx> {
        let fetcher = self.fetcher.reconfigured(&config.fetch).context("building the HTTP client")?;
        let sites =
            SiteRules::load(config.extract.sites_file.as_deref()).context("loading extraction site rules")?;
        Ok(Ctx {
            config,
            store: self.store.clone(),
            fetcher,
            sites: Arc::new(sites),
            ingest: self.ingest.clone(),
        })
    }

    pub fn new(config: Arc<Config>, store: Store) -> anyhow::Result<Ctx> {
        let fetcher = Fetcher::new(&config.fetch).context("building the HTTP client")?;
        let sites =
            SiteRules::load(config.extract.sites_file.as_deref()).context("loading extraction site rules")?;
        let engine = Arc::new(crate::claims::Engine::load(&config).context("loading the claim engine")?);
        let ingest = Ingest::new(&store, &config.alerts, engine, crate::alert::Wake::new())?;
        Ok(Ctx { config, store, fetcher, sites: Arc::new(sites), ingest })
    }
}

/// How one refresh ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A new document was parsed; `new_items` were processed, `deferred` left for next time.
    Fetched { items: usize, new_items: usize, deferred: usize },
    /// 304.
    NotModified,
    /// 200 with the same body as last time.
    Unchanged,
    /// Fetch or parse failed; the feed backs off.
    Failed { error: String },
}

/// The result of one refresh.
#[derive(Debug, Clone)]
pub struct Refreshed {
    pub outcome: Outcome,
    pub next_check_at: DateTime<Utc>,
}

/// Polls one feed now and processes what is new.
#[tracing::instrument(skip_all, fields(feed_url = %feed.url))]
pub async fn refresh_feed(ctx: &Ctx, feed: &Feed, now: DateTime<Utc>) -> Result<Refreshed, StoreError> {
    let mut state = feeds::load_state(&ctx.store, &feed.url)?;
    state.last_check_at = Some(now.timestamp());
    let validators = Validators { etag: state.etag.clone(), last_modified: state.last_modified.clone() };
    let force_due = state
        .last_unconditional_at
        .is_none_or(|t| (now - feeds::at(t)).to_std().unwrap_or_default() >= ctx.config.fetch.force_refresh);
    let conditional = !force_due && !validators.is_empty();
    let is_local = feed.url.scheme() == "file";
    let request = Request {
        url: &feed.url,
        kind: Kind::Feed,
        validators: conditional.then_some(&validators),
        allow_file: is_local,
    };

    let fetched = match ctx.fetcher.fetch(request).await {
        Ok(FetchOutcome::Fetched(fetched)) => fetched,
        Ok(FetchOutcome::NotModified { cache }) => {
            return succeed(ctx, feed, state, now, &cache, None, None, Outcome::NotModified);
        }
        Err(error) => {
            let retry_after = error.retry_after();
            return fail(ctx, feed, state, now, format!("fetch: {error}"), retry_after);
        }
    };
    if !conditional {
        state.last_unconditional_at = Some(now.timestamp());
    }
    state.etag = fetched.validators.etag.clone();
    state.last_modified = fetched.validators.last_modified.clone();
    let hash = Sha256::digest(&fetched.body).to_vec();
    if state.body_hash.as_deref() == Some(hash.as_slice()) {
        return succeed(ctx, feed, state, now, &fetched.cache, None, None, Outcome::Unchanged);
    }

    let parsed = {
        let (body, content_type, url) = (fetched.body, fetched.content_type.clone(), fetched.url.clone());
        // Parsing is CPU work: keep it off the async workers.
        tokio::task::spawn_blocking(move || parse::parse_feed(&body, content_type.as_deref(), &url))
            .await
            .unwrap_or_else(|join| Err(parse::ParseError::Panicked(join.to_string())))
    };
    let parsed = match parsed {
        Ok(parsed) => parsed,
        Err(error) => {
            crate::metrics::fetch("feed", "parse_error");
            return fail(ctx, feed, state, now, format!("parse: {error}"), None);
        }
    };
    for warning in &parsed.warnings {
        tracing::info!(stage = "parse", warning = %warning, "feed repaired");
    }
    if state.title.is_none() {
        state.title = parsed.title.clone();
    }
    note_guid_churn(&mut state, &parsed);

    let (mut new_items, mut deferred) = (0, 0);
    // Oldest first, so that articles are processed in publishing order.
    for item in parsed.items.iter().rev() {
        let keys = item_keys(item, state.guids_unstable);
        if is_seen_any(&ctx.store, &feed.url, &keys)? {
            continue;
        }
        match process_item(ctx, feed, item, now).await {
            ItemResult::Processed => {
                for key in &keys {
                    feeds::mark_seen(&ctx.store, &feed.url, key, now)?;
                }
                state.items_seen += 1;
                new_items += 1;
            }
            ItemResult::Deferred => deferred += 1,
        }
    }
    if deferred == 0 {
        state.body_hash = Some(hash);
    } else {
        // Items are waiting: the next poll must get the document again, not a 304.
        state.etag = None;
        state.last_modified = None;
    }
    let dates: Vec<DateTime<Utc>> = parsed.items.iter().filter_map(|i| i.published).collect();
    let outcome = Outcome::Fetched { items: parsed.items.len(), new_items, deferred };
    succeed(ctx, feed, state, now, &fetched.cache, parsed.ttl, feeds::publishing_interval(&dates), outcome)
}

/// The keys an item is known by: its own key, and its GUID while this feed's GUIDs are stable.
fn item_keys(item: &FeedItem, guids_unstable: bool) -> Vec<String> {
    let mut keys = Vec::with_capacity(2);
    let own = if guids_unstable && item.link.is_none() && item.guid.is_some() {
        parse::item_key(None, None, item.title.as_deref(), item.summary.as_deref())
    } else {
        item.key.clone()
    };
    keys.push(own);
    if let (Some(guid), false) = (&item.guid, guids_unstable) {
        let key = format!("guid:{guid}");
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    keys
}

fn is_seen_any(store: &Store, feed: &Url, keys: &[String]) -> Result<bool, StoreError> {
    for key in keys {
        if feeds::is_seen(store, feed, key)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Marks a feed's GUIDs unstable when one document repeats a GUID, or when the GUIDs of at
/// least half of the links seen last time changed. The mark sticks: such feeds are known by
/// their links from then on.
fn note_guid_churn(state: &mut FeedStateV1, parsed: &ParsedFeed) {
    let current: Vec<(String, String)> =
        parsed.items.iter().filter_map(|i| Some((i.link.as_ref()?.to_string(), i.guid.clone()?))).collect();
    let with_guid: Vec<&String> = parsed.items.iter().filter_map(|i| i.guid.as_ref()).collect();
    let mut distinct = with_guid.clone();
    distinct.sort();
    distinct.dedup();
    let repeats = with_guid.len() - distinct.len();
    let (mut overlap, mut changed) = (0, 0);
    for (link, guid) in &current {
        if let Some((_, old)) = state.last_guids.iter().find(|(l, _)| l == link) {
            overlap += 1;
            if old != guid {
                changed += 1;
            }
        }
    }
    if !state.guids_unstable && (repeats > 0 || (changed > 0 && changed * 2 >= overlap)) {
        tracing::warn!(repeats, changed, overlap, "feed GUIDs are unstable; identifying its items by link");
        state.guids_unstable = true;
    }
    state.last_guids = current;
}

enum ItemResult {
    Processed,
    /// Left unseen for the next poll (a retryable page failure, or processing failed).
    Deferred,
}

/// Page → extracted article → `process_article`.
#[tracing::instrument(skip_all, fields(article_url = item.link.as_ref().map(|u| u.as_str()).unwrap_or("")))]
async fn process_item(ctx: &Ctx, feed: &Feed, item: &FeedItem, now: DateTime<Utc>) -> ItemResult {
    let feed_is_local = feed.url.scheme() == "file";
    let mut extracted = Extracted::default();
    let mut page_url = item.link.clone();
    if let Some(link) = &item.link {
        let fetchable =
            matches!(link.scheme(), "http" | "https") || (feed_is_local && link.scheme() == "file");
        if fetchable {
            let request =
                Request { url: link, kind: Kind::Page, validators: None, allow_file: feed_is_local };
            match ctx.fetcher.fetch(request).await {
                Ok(FetchOutcome::Fetched(page)) => {
                    extracted = extract_page(ctx, feed, &page, now).await;
                    page_url = Some(page.url);
                }
                Ok(FetchOutcome::NotModified { .. }) => {}
                Err(error) if error.is_retryable() => {
                    tracing::warn!(stage = "fetch", error = %error, "article page failed; will retry on the next poll");
                    return ItemResult::Deferred;
                }
                Err(error) => {
                    tracing::warn!(stage = "fetch", error = %error, "article page refused; using the feed's summary");
                }
            }
        } else {
            tracing::warn!(
                stage = "fetch",
                "article link is not allowed from this feed; using the feed's summary"
            );
        }
    }
    let article = build_article(ctx, feed, item, extracted, page_url, now);
    match process_article(ctx, article).await {
        Ok(_) => ItemResult::Processed,
        Err(error) => {
            tracing::error!(
                stage = "process",
                error = format!("{error:#}"),
                "processing the article failed; will retry"
            );
            ItemResult::Deferred
        }
    }
}

/// Decodes and extracts an article page on the blocking pool (html5ever is CPU work).
async fn extract_page(ctx: &Ctx, feed: &Feed, page: &crate::fetch::Fetched, now: DateTime<Utc>) -> Extracted {
    let (body, content_type, url) = (page.body.clone(), page.content_type.clone(), page.url.clone());
    let (sites, selector) = (ctx.sites.clone(), feed.body_selector.clone());
    let joined = tokio::task::spawn_blocking(move || {
        let tld = url.host_str().and_then(|h| h.rsplit('.').next()).map(str::to_ascii_lowercase);
        let decoded = crate::charset::decode_hinted(&body, content_type.as_deref(), tld.as_deref());
        let rules = Rules { body_selector: selector.as_deref(), sites: &sites, now };
        crate::extract::extract_with(&decoded.text, &url, &rules)
    })
    .await;
    joined.unwrap_or_else(|error| {
        tracing::error!(stage = "extract", error = %error, "extraction failed; using the feed's summary");
        Extracted::default()
    })
}

/// The article: extracted text, or the feed item's summary when extraction found too little.
fn build_article(
    ctx: &Ctx,
    feed: &Feed,
    item: &FeedItem,
    extracted: Extracted,
    page_url: Option<Url>,
    now: DateTime<Utc>,
) -> Article {
    let summary = item.summary.clone().unwrap_or_default();
    let text = if extracted.text.chars().count() >= ctx.config.extract.min_text_chars
        || extracted.text.chars().count() > summary.chars().count()
    {
        extracted.text
    } else {
        tracing::info!(
            stage = "extract",
            extracted_chars = extracted.text.chars().count(),
            summary_chars = summary.chars().count(),
            "extracted text too short; using the feed item's content"
        );
        summary
    };
    // The page's rel=canonical / og:url unless it looks like a CMS mistake, canonicalised.
    let url = match page_url {
        Some(link) => Some(crate::normalize::url::choose(&link, extracted.canonical_url.as_ref())),
        None => extracted.canonical_url.map(|u| crate::normalize::url::canonicalize(&u)),
    };
    let url = url.unwrap_or_else(|| {
        let mut url = feed.url.clone();
        url.set_fragment(Some(&item.key));
        url
    });
    Article {
        url,
        feed: Some(feed.url.to_string()),
        feed_name: feed.name.clone(),
        title: item.title.clone().or(extracted.title),
        text,
        published: item.published.or(extracted.published),
        lang_hint: extracted.lang.or_else(|| feed.lang.clone()),
        seen_at: now,
    }
}

/// Article → claim analysis → dedup → judgement → one commit (article, fingerprints, claims,
/// outbox) → wake the alert drains. Returns once the commit is durable. The work is synchronous
/// (CPU and sled), so it runs on the blocking pool.
pub async fn process_article(ctx: &Ctx, article: Article) -> anyhow::Result<Processed> {
    let ingest = ctx.ingest.clone();
    tokio::task::spawn_blocking(move || ingest.process(article, Origin::Feed))
        .await
        .map_err(|e| anyhow::anyhow!("the article processing task panicked: {e}"))?
}

#[allow(clippy::too_many_arguments)]
fn succeed(
    ctx: &Ctx,
    feed: &Feed,
    mut state: FeedStateV1,
    now: DateTime<Utc>,
    cache: &CacheHints,
    ttl: Option<std::time::Duration>,
    publishing_interval: Option<std::time::Duration>,
    outcome: Outcome,
) -> Result<Refreshed, StoreError> {
    if state.consecutive_errors > 0 {
        tracing::info!(errors = state.consecutive_errors, "feed recovered");
    }
    state.consecutive_errors = 0;
    state.failing_since = None;
    state.last_error = None;
    state.last_ok_at = Some(now.timestamp());
    let input = ScheduleInput {
        publishing_interval,
        ttl,
        max_age: cache.max_age,
        expires: cache.expires,
        ..schedule_bounds(ctx, feed)
    };
    let next = feeds::next_check(now, &input);
    state.next_check_at = next.timestamp();
    feeds::save_state(&ctx.store, &feed.url, &state)?;
    tracing::debug!(outcome = ?outcome, next_check = %next, "feed refreshed");
    Ok(Refreshed { outcome, next_check_at: next })
}

/// What every schedule decision for `feed` starts from: its interval bounds, the backoff cap and a
/// fresh jitter; no observations, no errors.
fn schedule_bounds(ctx: &Ctx, feed: &Feed) -> ScheduleInput {
    ScheduleInput {
        min_interval: feed.min_interval,
        max_interval: feed.max_interval,
        max_backoff: ctx.config.schedule.max_backoff,
        jitter: feeds::random_jitter(),
        ..ScheduleInput::default()
    }
}

fn fail(
    ctx: &Ctx,
    feed: &Feed,
    mut state: FeedStateV1,
    now: DateTime<Utc>,
    error: String,
    retry_after: Option<std::time::Duration>,
) -> Result<Refreshed, StoreError> {
    state.consecutive_errors = state.consecutive_errors.saturating_add(1);
    state.failing_since.get_or_insert(now.timestamp());
    state.last_error = Some(error.clone());
    let input = ScheduleInput {
        retry_after,
        consecutive_errors: state.consecutive_errors,
        ..schedule_bounds(ctx, feed)
    };
    let next = feeds::next_check(now, &input);
    state.next_check_at = next.timestamp();
    feeds::save_state(&ctx.store, &feed.url, &state)?;
    // The URL is the span's (`refresh_feed{feed_url=…}`), once.
    tracing::warn!(
        error = %error,
        errors = state.consecutive_errors,
        next_check = %next.format("%Y-%m-%d %H:%M:%S UTC"),
        "feed poll failed, backing off"
    );
    Ok(Refreshed { outcome: Outcome::Failed { error }, next_check_at: next })
}
