//! Feeds: which feeds we watch and when each is due. Owns the subscriptions stored in sled
//! (merged with `[[feeds]]` from config), per-feed state (schedule, validators, body hash,
//! health), the items already seen per feed, the pure scheduler [`next_check`], autodiscovery of
//! a site's feeds, OPML import and export. The `feeds` commands are in `cmd::feeds`.
//!
//! It does not fetch or parse by itself (discovery borrows `fetch` and `parse`), and it never
//! drops a feed: a failing feed backs off up to `schedule.max_backoff` and stays visible in
//! `feeds list` and in metrics.
//!
//! Trade-off: the adaptive interval is half the mean gap between the newest items' dates. It
//! reacts within one poll to a feed that speeds up, at the price of trusting publishers' dates;
//! items without dates leave the interval at the middle of its bounds.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, TimeZone, Utc};
use url::Url;

use crate::config::Config;
use crate::fetch::{FetchOutcome, Fetcher, Kind, Request};
use crate::model::Feed;
use crate::store::records::{self, FeedStateV1};
use crate::store::{trees, Store, StoreError};

// ------------------------------------------------------------------------------- subscriptions

/// Every feed: `[[feeds]]` from config first, then stored subscriptions not in config.
pub fn all(config: &Config, store: &Store) -> Result<Vec<Feed>, StoreError> {
    let mut feeds = config.feeds.clone();
    for (url, sub) in subscriptions(store)? {
        if feeds.iter().any(|f| f.url == url) {
            continue;
        }
        let records::Subscription::V1 { name, lang, .. } = sub;
        feeds.push(Feed {
            url,
            name,
            lang,
            min_interval: config.schedule.min_interval,
            max_interval: config.schedule.max_interval,
            body_selector: None,
        });
    }
    Ok(feeds)
}

fn subscriptions(store: &Store) -> Result<Vec<(Url, records::Subscription)>, StoreError> {
    let tree = store.tree(trees::SUBSCRIPTIONS)?;
    let mut out = Vec::new();
    for entry in tree.iter() {
        let (key, value) = entry?;
        let Ok(url) = Url::parse(&String::from_utf8_lossy(&key)) else { continue };
        out.push((url, records::decode("subscription", &value)?));
    }
    Ok(out)
}

pub fn subscribe(
    store: &Store,
    url: &Url,
    name: Option<String>,
    lang: Option<String>,
) -> Result<bool, StoreError> {
    let tree = store.tree(trees::SUBSCRIPTIONS)?;
    let record = records::Subscription::V1 { name, lang, added_at: Utc::now().timestamp() };
    Ok(tree.insert(url.as_str(), records::encode(&record))?.is_none())
}

// ------------------------------------------------------------------------------------ feed state

/// Loads a feed's state; a feed never polled gets a default state that is due now.
pub fn load_state(store: &Store, url: &Url) -> Result<FeedStateV1, StoreError> {
    match store.tree(trees::FEED_STATE)?.get(url.as_str())? {
        Some(bytes) => {
            let records::FeedState::V1(state) = records::decode("feed state", &bytes)?;
            Ok(state)
        }
        None => Ok(FeedStateV1::default()),
    }
}

pub fn save_state(store: &Store, url: &Url, state: &FeedStateV1) -> Result<(), StoreError> {
    store
        .tree(trees::FEED_STATE)?
        .insert(url.as_str(), records::encode(&records::FeedState::V1(state.clone())))?;
    Ok(())
}

fn seen_key(feed: &Url, key: &str) -> Vec<u8> {
    let mut k = feed.as_str().as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(key.as_bytes());
    k
}

/// Whether an item key was already processed for this feed.
pub fn is_seen(store: &Store, feed: &Url, key: &str) -> Result<bool, StoreError> {
    Ok(store.tree(trees::FEED_ITEMS)?.contains_key(seen_key(feed, key))?)
}

/// Records an item key as processed.
pub fn mark_seen(store: &Store, feed: &Url, key: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
    store.tree(trees::FEED_ITEMS)?.insert(seen_key(feed, key), &at.timestamp().to_be_bytes())?;
    Ok(())
}

/// A feed's health as users see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    Ok,
    /// One or two consecutive errors.
    BackingOff,
    /// Three or more consecutive errors, since the first of them.
    Failing {
        since: DateTime<Utc>,
    },
}

/// Errors in a row after which a feed counts as failing rather than backing off.
const FAILING_AFTER: u32 = 3;

impl Health {
    pub fn of(state: &FeedStateV1) -> Health {
        match state.consecutive_errors {
            0 => Health::Ok,
            n if n < FAILING_AFTER => Health::BackingOff,
            _ => Health::Failing { since: at(state.failing_since.unwrap_or(0)) },
        }
    }

    pub fn label(&self) -> &'static str {
        match self {
            Health::Ok => "ok",
            Health::BackingOff => "backing_off",
            Health::Failing { .. } => "failing",
        }
    }
}

/// Unix seconds → time.
pub fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(seconds, 0).single().unwrap_or_default()
}

/// Counts feeds by health into metrics, and returns the counts (for `/readyz` and STATUS=).
/// `failing_for` is how long every feed has been failing: `None` unless all of them are.
pub fn count_health(store: &Store, feeds: &[Feed]) -> crate::health::FeedCounts {
    let mut counts: BTreeMap<&'static str, i64> = [("ok", 0), ("backing_off", 0), ("failing", 0)].into();
    let mut all_failing_since: Option<DateTime<Utc>> = None;
    let mut all_failing = !feeds.is_empty();
    for feed in feeds {
        if let Ok(state) = load_state(store, &feed.url) {
            let health = Health::of(&state);
            if let Health::Failing { since } = health {
                all_failing_since = Some(all_failing_since.map_or(since, |s| s.max(since)));
            } else {
                all_failing = false;
            }
            *counts.entry(health.label()).or_default() += 1;
        }
    }
    for (state, n) in &counts {
        crate::metrics::feeds_in_state(state, *n);
    }
    crate::health::FeedCounts {
        total: feeds.len(),
        failing: counts["failing"] as usize,
        backing_off: counts["backing_off"] as usize,
        failing_for: all_failing_since
            .filter(|_| all_failing)
            .map(|since| (Utc::now() - since).to_std().unwrap_or_default()),
    }
}

// ------------------------------------------------------------------------------------- scheduler

/// Everything [`next_check`] looks at; all times explicit so that it is a pure function.
#[derive(Debug, Clone, Default)]
pub struct ScheduleInput {
    pub min_interval: Duration,
    pub max_interval: Duration,
    pub max_backoff: Duration,
    /// Observed mean gap between items ([`publishing_interval`]).
    pub publishing_interval: Option<Duration>,
    /// RSS `<ttl>`.
    pub ttl: Option<Duration>,
    /// `Cache-Control: max-age`.
    pub max_age: Option<Duration>,
    pub expires: Option<DateTime<Utc>>,
    /// `Retry-After`, as a wait from now.
    pub retry_after: Option<Duration>,
    /// Errors in a row, including this poll's.
    pub consecutive_errors: u32,
    /// A random number in [-1, 1]: ±10 % jitter on the interval.
    pub jitter: f64,
}

/// When to poll a feed next.
///
/// Without errors: half the observed publishing interval (or the middle of the bounds when
/// unknown), lengthened to what the server asked (`<ttl>`, max-age, Expires, Retry-After),
/// clamped to `[min_interval, max_interval]`, ±10 % jitter. After `n` errors in a row:
/// `min_interval · 2^(n-1)` with ±10 % jitter, at least Retry-After, at most `max_backoff`.
pub fn next_check(now: DateTime<Utc>, input: &ScheduleInput) -> DateTime<Utc> {
    let jitter = 1.0 + 0.1 * input.jitter.clamp(-1.0, 1.0);
    let retry_after = input.retry_after.unwrap_or_default();
    let wait = if input.consecutive_errors > 0 {
        let exp = (input.consecutive_errors - 1).min(30);
        let base = input.min_interval.saturating_mul(1u32 << exp.min(31)).min(input.max_backoff);
        base.mul_f64(jitter).min(input.max_backoff).max(retry_after.min(input.max_backoff))
    } else {
        let middle = (input.min_interval + input.max_interval) / 2;
        let mut interval =
            input.publishing_interval.map(|gap| gap / 2).unwrap_or(middle.min(Duration::from_secs(3600)));
        for asked in [input.ttl, input.max_age].into_iter().flatten() {
            interval = interval.max(asked);
        }
        if let Some(expires) = input.expires {
            interval = interval.max((expires - now).to_std().unwrap_or_default());
        }
        interval = interval.clamp(input.min_interval, input.max_interval);
        interval.mul_f64(jitter).max(retry_after.min(input.max_backoff))
    };
    now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::days(1))
}

/// The mean gap between the newest (up to 10) distinct item dates; `None` with fewer than two.
pub fn publishing_interval(dates: &[DateTime<Utc>]) -> Option<Duration> {
    let mut dates: Vec<DateTime<Utc>> = dates.to_vec();
    dates.sort_unstable_by(|a, b| b.cmp(a));
    dates.dedup();
    dates.truncate(10);
    if dates.len() < 2 {
        return None;
    }
    let span = (dates[0] - dates[dates.len() - 1]).to_std().ok()?;
    Some(span / (dates.len() as u32 - 1))
}

/// A random jitter factor in [-1, 1].
pub fn random_jitter() -> f64 {
    fastrand::f64() * 2.0 - 1.0
}

// ------------------------------------------------------------------------------------- discovery

/// What `feeds add` found at a URL.
#[derive(Debug, Clone)]
pub struct Discovered {
    pub url: Url,
    pub title: Option<String>,
    /// How it was found: "the URL is a feed", "<link rel=alternate>", "usual path /feed".
    pub how: String,
    /// Other candidates announced by the page.
    pub others: Vec<Url>,
}

const USUAL_PATHS: &[&str] = &[
    "/feed",
    "/rss",
    "/rss.xml",
    "/feed.xml",
    "/atom.xml",
    "/index.xml",
    "/feed/",
    "/rss/",
    "/feeds/posts/default",
];

/// Finds the feed behind `url`: the URL itself if it is a feed, else the page's
/// `<link rel="alternate">` feeds, else the usual paths on its site.
pub async fn discover(fetcher: &Fetcher, url: &Url) -> Result<Discovered> {
    let allow_file = url.scheme() == "file";
    let fetched = match fetcher.fetch(Request { url, kind: Kind::Feed, validators: None, allow_file }).await?
    {
        FetchOutcome::Fetched(f) => f,
        FetchOutcome::NotModified { .. } => bail!("{url}: unexpected 304 without validators"),
    };
    if let Ok(feed) = crate::parse::parse_feed(&fetched.body, fetched.content_type.as_deref(), &fetched.url) {
        return Ok(Discovered {
            url: fetched.url,
            title: feed.title,
            how: "the URL is a feed".into(),
            others: vec![],
        });
    }
    let html = crate::charset::decode(&fetched.body, fetched.content_type.as_deref()).text;
    let announced = alternate_links(&html, &fetched.url);
    for (i, candidate) in announced.iter().enumerate() {
        if let Some(title) = probe(fetcher, candidate, allow_file).await {
            let others =
                announced.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, u)| u.clone()).collect();
            return Ok(Discovered {
                url: candidate.clone(),
                title,
                how: "the page's <link rel=\"alternate\">".into(),
                others,
            });
        }
    }
    if !allow_file {
        for path in USUAL_PATHS {
            let Ok(candidate) = fetched.url.join(path) else { continue };
            if let Some(title) = probe(fetcher, &candidate, false).await {
                return Ok(Discovered {
                    url: candidate,
                    title,
                    how: format!("the usual path {path}"),
                    others: announced,
                });
            }
        }
    }
    bail!("{url} is not a feed, announces no working feed and none of the usual paths is one")
}

async fn probe(fetcher: &Fetcher, url: &Url, allow_file: bool) -> Option<Option<String>> {
    let request = Request { url, kind: Kind::Feed, validators: None, allow_file };
    match fetcher.fetch(request).await {
        Ok(FetchOutcome::Fetched(f)) => {
            crate::parse::parse_feed(&f.body, f.content_type.as_deref(), &f.url).ok().map(|feed| feed.title)
        }
        _ => None,
    }
}

/// `<link rel="alternate" type="application/rss+xml|atom+xml|feed+json" href=…>` of a page.
pub fn alternate_links(html: &str, base: &Url) -> Vec<Url> {
    let document = scraper::Html::parse_document(html);
    let selector = scraper::Selector::parse("link[rel][href]").expect("a valid selector");
    let mut out = Vec::new();
    for link in document.select(&selector) {
        let e = link.value();
        let rel = e.attr("rel").unwrap_or("").to_ascii_lowercase();
        let kind = e.attr("type").unwrap_or("").to_ascii_lowercase();
        let is_feed = kind.contains("rss") || kind.contains("atom") || kind.contains("feed+json");
        if rel.split_whitespace().any(|r| r == "alternate") && is_feed {
            if let Ok(url) = base.join(e.attr("href").unwrap_or("").trim()) {
                let same_kind = (base.scheme() == "file") == (url.scheme() == "file");
                if same_kind && !out.contains(&url) {
                    out.push(url);
                }
            }
        }
    }
    out
}

// ------------------------------------------------------------------------------------------ OPML

/// One `<outline xmlUrl=…>` of an OPML file.
#[derive(Debug, Clone, PartialEq)]
pub struct Outline {
    pub url: String,
    pub title: Option<String>,
    pub lang: Option<String>,
}

/// Reads every outline with an `xmlUrl` (at any depth) from an OPML document.
pub fn read_opml(xml: &str) -> Result<Vec<Outline>> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut out = Vec::new();
    loop {
        match reader.read_event().context("reading OPML")? {
            Event::Start(e) | Event::Empty(e)
                if e.local_name().into_inner().eq_ignore_ascii_case("outline") =>
            {
                let mut outline = Outline { url: String::new(), title: None, lang: None };
                for attr in e.attributes().flatten() {
                    let value = attr
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map(|v| v.into_owned())
                        .unwrap_or_default();
                    match attr.key.local_name().into_inner() {
                        "xmlUrl" | "xmlurl" => outline.url = value.trim().to_string(),
                        "title" => outline.title = Some(value),
                        "text" if outline.title.is_none() => outline.title = Some(value),
                        "language" => outline.lang = Some(value),
                        _ => {}
                    }
                }
                if !outline.url.is_empty() {
                    out.push(outline);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(out)
}

/// An OPML 2.0 document of `feeds`.
pub fn write_opml(feeds: &[Feed]) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\">\n  <head><title>claimwatch subscriptions</title></head>\n  <body>\n",
    );
    for feed in feeds {
        let title = escape(feed.name.as_deref().unwrap_or(feed.url.as_str()));
        out.push_str(&format!(
            "    <outline type=\"rss\" text=\"{title}\" title=\"{title}\" xmlUrl=\"{}\"",
            escape(feed.url.as_str())
        ));
        if let Some(lang) = &feed.lang {
            out.push_str(&format!(" language=\"{}\"", escape(lang)));
        }
        out.push_str("/>\n");
    }
    out.push_str("  </body>\n</opml>\n");
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn input() -> ScheduleInput {
        ScheduleInput {
            min_interval: Duration::from_secs(300),
            max_interval: Duration::from_secs(86400),
            max_backoff: Duration::from_secs(86400),
            ..ScheduleInput::default()
        }
    }

    #[track_caller]
    fn check(input: ScheduleInput, expected_secs: i64) {
        let now = t("2026-01-01T00:00:00Z");
        assert_eq!((next_check(now, &input) - now).num_seconds(), expected_secs);
    }

    #[test]
    fn adaptive_interval_is_half_the_publishing_gap_clamped() {
        check(ScheduleInput { publishing_interval: Some(Duration::from_secs(3600)), ..input() }, 1800);
        check(ScheduleInput { publishing_interval: Some(Duration::from_secs(60)), ..input() }, 300);
        check(ScheduleInput { publishing_interval: Some(Duration::from_secs(10 * 86400)), ..input() }, 86400);
        check(input(), 3600);
    }

    #[test]
    fn server_hints_lengthen_but_never_beyond_max() {
        let base = ScheduleInput { publishing_interval: Some(Duration::from_secs(600)), ..input() };
        check(ScheduleInput { ttl: Some(Duration::from_secs(7200)), ..base.clone() }, 7200);
        check(ScheduleInput { max_age: Some(Duration::from_secs(900)), ..base.clone() }, 900);
        check(ScheduleInput { expires: Some(t("2026-01-01T01:00:00Z")), ..base.clone() }, 3600);
        check(ScheduleInput { ttl: Some(Duration::from_secs(9 * 86400)), ..base.clone() }, 86400);
        check(ScheduleInput { retry_after: Some(Duration::from_secs(5000)), ..base }, 5000);
    }

    #[test]
    fn jitter_is_ten_percent() {
        let base = ScheduleInput { publishing_interval: Some(Duration::from_secs(2000)), ..input() };
        check(ScheduleInput { jitter: 1.0, ..base.clone() }, 1100);
        check(ScheduleInput { jitter: -1.0, ..base }, 900);
    }

    #[test]
    fn errors_back_off_exponentially_up_to_the_cap() {
        let secs: Vec<i64> = (1..=12)
            .map(|n| {
                let now = t("2026-01-01T00:00:00Z");
                (next_check(now, &ScheduleInput { consecutive_errors: n, ..input() }) - now).num_seconds()
            })
            .collect();
        assert_eq!(secs[..5], [300, 600, 1200, 2400, 4800]);
        assert_eq!(*secs.last().unwrap(), 86400);
        check(
            ScheduleInput { consecutive_errors: 1, retry_after: Some(Duration::from_secs(3600)), ..input() },
            3600,
        );
        check(ScheduleInput { consecutive_errors: 12, jitter: 1.0, ..input() }, 86400);
    }

    #[test]
    fn publishing_interval_is_the_mean_gap() {
        let dates = [t("2026-01-01T00:00:00Z"), t("2026-01-01T02:00:00Z"), t("2026-01-01T01:00:00Z")];
        assert_eq!(publishing_interval(&dates), Some(Duration::from_secs(3600)));
        assert_eq!(publishing_interval(&dates[..1]), None);
    }

    #[test]
    fn opml_round_trips() {
        let feeds = vec![Feed {
            url: Url::parse("https://a.example/rss?x=1&y=2").unwrap(),
            name: Some("A & B".into()),
            lang: Some("uk".into()),
            min_interval: Duration::from_secs(1),
            max_interval: Duration::from_secs(2),
            body_selector: None,
        }];
        let outlines = read_opml(&write_opml(&feeds)).unwrap();
        assert_eq!(
            outlines,
            vec![Outline {
                url: "https://a.example/rss?x=1&y=2".into(),
                title: Some("A & B".into()),
                lang: Some("uk".into())
            }]
        );
    }

    #[test]
    fn alternate_links_are_found() {
        let html = r#"<html><head><link rel="alternate" type="application/rss+xml" href="/rss.xml">
            <link rel="stylesheet" href="/s.css"></head></html>"#;
        let base = Url::parse("https://site.example/page").unwrap();
        assert_eq!(alternate_links(html, &base), vec![Url::parse("https://site.example/rss.xml").unwrap()]);
    }
}
