//! The claim ledger, read-only, as the HTTP endpoint serves it: the page at `/` (server-rendered
//! HTML and CSS, no script, no external asset: it works offline), `/api/claims` (paged JSON),
//! `/api/feeds` (feed health as JSON) and `/claims.atom` (an Atom feed of new claims). It shows
//! exactly the claims `claims --new` lists ([`provenance::list`] with `new_only`), newest first.
//!
//! The order of the new claims is kept in memory ([`Ledger`]: first seen, id and language of
//! each, about 70 bytes a claim), built with one scan of the provenance tree and kept current by
//! a sled subscription on it, so a page reads only its own claims' records. A text search
//! (`?q=`) scans every record. Rendering is a pure function of what it is given (claims, chart
//! counts, feed states, the query), tested without a server. Every string that came from a feed
//! or an article is escaped ([`escape`]).
//!
//! Trade-off: the subscription's channel is bounded by sled (1,024 events); the follower only
//! decodes and inserts, so it keeps up, but a stalled runtime would make commits wait for it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::{Arc, PoisonError, RwLock};

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use tokio_util::sync::CancellationToken;

use crate::alert::channels::escape;
use crate::config::Config;
use crate::feeds;
use crate::provenance::{self, Listed};
use crate::store::records::{self, ClaimProvenance};
use crate::store::{trees, Store, StoreError};

/// Claims per page, by default and at most.
pub const PER_PAGE: usize = 50;
pub const MAX_PER_PAGE: usize = 500;
/// Entries of the Atom feed: the newest claims.
pub const ATOM_ENTRIES: usize = 200;
/// Days in the chart of new claims per day.
const CHART_DAYS: i64 = 14;

/// What a visitor asked for: `?q=…&lang=…&page=…&per_page=…`.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// Words that must all appear in the claim text (case-folded).
    pub q: String,
    pub lang: String,
    /// From 1.
    pub page: usize,
    pub per_page: usize,
}

impl Query {
    pub fn parse(query: Option<&str>) -> Query {
        let mut out = Query { q: String::new(), lang: String::new(), page: 1, per_page: PER_PAGE };
        for (key, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match key.as_ref() {
                "q" => out.q = value.trim().chars().take(200).collect(),
                "lang" => out.lang = value.trim().to_lowercase().chars().take(8).collect(),
                "page" => out.page = value.parse().unwrap_or(1).max(1),
                "per_page" => out.per_page = value.parse().unwrap_or(PER_PAGE).clamp(1, MAX_PER_PAGE),
                _ => {}
            }
        }
        out
    }

    fn admits(&self, claim: &Listed) -> bool {
        let text = claim.claim.text.to_lowercase();
        (self.lang.is_empty() || claim.claim.lang == self.lang)
            && self.q.to_lowercase().split_whitespace().all(|w| text.contains(w))
    }

    /// The query string of this query on another page.
    fn link(&self, page: usize) -> String {
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        if !self.q.is_empty() {
            out.append_pair("q", &self.q);
        }
        if !self.lang.is_empty() {
            out.append_pair("lang", &self.lang);
        }
        out.append_pair("page", &page.to_string());
        format!("?{}", out.finish())
    }
}

/// One page of claims, newest first, with the total that matched.
pub struct Page {
    pub claims: Vec<Listed>,
    pub total: usize,
    pub query: Query,
}

/// Every new claim (not from seeds), newest first: what `claims --new` lists, in reverse.
pub fn new_claims(store: &Store) -> Result<Vec<Listed>, StoreError> {
    let mut claims = provenance::list(store, true, None)?;
    claims.reverse();
    Ok(claims)
}

/// The page of `all` (newest first) that `query` asks for.
pub fn page(all: &[Listed], query: Query) -> Page {
    let matching: Vec<&Listed> = all.iter().filter(|c| query.admits(c)).collect();
    let start = (query.page - 1).saturating_mul(query.per_page);
    let claims = matching.iter().skip(start).take(query.per_page).map(|c| (*c).clone()).collect();
    Page { claims, total: matching.len(), query }
}

/// What the page says about all new claims: how many, and how many per day and language over
/// the chart's days.
#[derive(Debug, Default, PartialEq)]
pub struct Overview {
    pub stored: usize,
    pub per_day: BTreeMap<(NaiveDate, String), usize>,
}

impl Overview {
    /// From (first seen in Unix ms, language) of every new claim, in any order.
    pub fn of<'a>(claims: impl IntoIterator<Item = (i64, &'a str)>, now: DateTime<Utc>) -> Overview {
        let today = now.date_naive();
        let first = today - Duration::days(CHART_DAYS - 1);
        let mut overview = Overview::default();
        for (ms, lang) in claims {
            overview.stored += 1;
            let day = Utc.timestamp_millis_opt(ms).single().unwrap_or_default().date_naive();
            if (first..=today).contains(&day) {
                *overview.per_day.entry((day, lang.to_string())).or_default() += 1;
            }
        }
        overview
    }
}

// ---------------------------------------------------------------------------- the order in memory

/// One new claim's place in the ledger.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    first_seen: i64,
    id: Box<str>,
    lang: Box<str>,
}

/// The new claims in first-seen order (oldest first), shared by the server's requests and kept
/// current by [`Ledger::follow`]. Until it is built, requests read the store in full.
#[derive(Clone)]
pub struct Ledger {
    store: Store,
    order: Arc<RwLock<Option<Vec<Entry>>>>,
}

impl Ledger {
    pub fn new(store: Store) -> Ledger {
        Ledger { store, order: Arc::default() }
    }

    /// Builds the order with one scan and follows the provenance tree until `token` is
    /// cancelled. The subscription starts before the scan, so no commit falls between.
    pub async fn follow(self, token: CancellationToken) {
        let tree = match self.store.tree(trees::CLAIM_PROVENANCE) {
            Ok(tree) => tree,
            Err(error) => {
                tracing::error!(%error, stage = "server", "cannot follow the claim ledger; pages read the store in full");
                return;
            }
        };
        let mut events = tree.watch_prefix(Vec::<u8>::new());
        let store = self.store.clone();
        let built = tokio::task::spawn_blocking(move || -> Result<Vec<Entry>, StoreError> {
            let mut order = Vec::new();
            for entry in store.tree(trees::CLAIM_PROVENANCE)?.iter() {
                let (key, value) = entry?;
                order.extend(entry_of(&key, &value)?);
            }
            order.sort_unstable();
            Ok(order)
        });
        match built.await {
            Ok(Ok(order)) => *self.order.write().unwrap_or_else(PoisonError::into_inner) = Some(order),
            Ok(Err(error)) => {
                tracing::error!(%error, stage = "server", "cannot read the claim ledger; pages read the store in full");
                return;
            }
            Err(_) => return,
        }
        loop {
            let event = tokio::select! {
                _ = token.cancelled() => return,
                event = &mut events => event,
            };
            match event {
                Some(sled::Event::Insert { key, value }) => self.note(&key, &value),
                Some(sled::Event::Remove { .. }) => {}
                None => return,
            }
        }
    }

    /// Adds a claim the follower saw committed (a corroboration rewrites a record: already there).
    fn note(&self, key: &[u8], value: &[u8]) {
        let entry = match entry_of(key, value) {
            Ok(Some(entry)) => entry,
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(%error, stage = "server", "a claim provenance record the ledger cannot read");
                return;
            }
        };
        let mut order = self.order.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(order) = order.as_mut() {
            if let Err(at) = order.binary_search(&entry) {
                order.insert(at, entry);
            }
        }
    }

    /// The claims of one page and the overview, from memory when the order is built; a text
    /// search, or a ledger not yet built, reads every record.
    fn select(&self, query: Query, now: DateTime<Utc>) -> Result<(Page, Overview), StoreError> {
        let guard = self.order.read().unwrap_or_else(PoisonError::into_inner);
        let Some(order) = guard.as_ref().filter(|_| query.q.is_empty()) else {
            drop(guard);
            let all = new_claims(&self.store)?;
            let overview = Overview::of(all.iter().map(|c| (c.claim.first_seen, c.claim.lang.as_str())), now);
            return Ok((page(&all, query), overview));
        };
        let overview = Overview::of(order.iter().map(|e| (e.first_seen, &*e.lang)), now);
        let matching = order.iter().rev().filter(|e| query.lang.is_empty() || *e.lang == query.lang);
        let start = (query.page - 1).saturating_mul(query.per_page);
        let ids: Vec<Box<str>> =
            matching.clone().skip(start).take(query.per_page).map(|e| e.id.clone()).collect();
        let total = matching.count();
        drop(guard);
        let tree = self.store.tree(trees::CLAIM_PROVENANCE)?;
        let nearest_tree = self.store.tree(trees::CLAIM_NEAREST)?;
        let mut claims = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(claim) = provenance::provenance(&tree, &id)? {
                let nearest = provenance::nearest(&nearest_tree, &id)?;
                claims.push(Listed { id: id.into(), claim, nearest });
            }
        }
        Ok((Page { claims, total, query }, overview))
    }

    /// The body of one ledger route: `/`, `/api/claims`, `/api/feeds` or `/claims.atom`.
    pub fn answer(
        &self,
        path: &str,
        query: Query,
        config: &Config,
        self_url: &str,
    ) -> Result<(&'static str, String), StoreError> {
        let now = Utc::now();
        Ok(match path {
            "/api/feeds" => ("application/json", feeds_json(&feed_health(config, &self.store)?)),
            "/claims.atom" => {
                let newest = Query { q: String::new(), lang: String::new(), page: 1, per_page: ATOM_ENTRIES };
                let (page, _) = self.select(newest, now)?;
                ("application/atom+xml; charset=utf-8", atom(&page.claims, self_url))
            }
            "/api/claims" => ("application/json", claims_json(&self.select(query, now)?.0)),
            _ => {
                let (page, overview) = self.select(query, now)?;
                let feeds = feed_health(config, &self.store)?;
                ("text/html; charset=utf-8", render_page(&overview, &page, &feeds, now))
            }
        })
    }
}

/// The ledger entry of a provenance record; None for a claim first seen in seeds.
fn entry_of(key: &[u8], value: &[u8]) -> Result<Option<Entry>, StoreError> {
    let ClaimProvenance::V1(claim) = records::decode("claim provenance", value)?;
    Ok((!claim.seed).then(|| Entry {
        first_seen: claim.first_seen,
        id: String::from_utf8_lossy(key).into(),
        lang: claim.lang.into(),
    }))
}

fn first_seen(claim: &Listed) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(claim.claim.first_seen).single().unwrap_or_default()
}

// ------------------------------------------------------------------------------------------ JSON

/// `/api/claims`: `{"total","page","per_page","claims":[…]}`, each claim as `claims --json`
/// prints it.
pub fn claims_json(page: &Page) -> String {
    serde_json::json!({
        "total": page.total,
        "page": page.query.page,
        "per_page": page.query.per_page,
        "claims": page.claims.iter().map(provenance::to_json).collect::<Vec<_>>(),
    })
    .to_string()
}

/// One feed's health as the page and `/api/feeds` show it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FeedHealth {
    pub url: String,
    pub title: Option<String>,
    /// ok, backing_off or failing.
    pub state: &'static str,
    pub last_error: Option<String>,
    pub last_ok_at: Option<DateTime<Utc>>,
    pub next_check_at: DateTime<Utc>,
    pub items_seen: u64,
}

/// The health of every feed (configured and subscribed), in configuration order.
pub fn feed_health(config: &Config, store: &Store) -> Result<Vec<FeedHealth>, StoreError> {
    let mut out = Vec::new();
    for feed in feeds::all(config, store)? {
        let state = feeds::load_state(store, &feed.url)?;
        out.push(FeedHealth {
            url: feed.url.to_string(),
            title: feed.name.clone().or(state.title.clone()),
            state: feeds::Health::of(&state).label(),
            last_error: state.last_error.clone(),
            last_ok_at: state.last_ok_at.map(feeds::at),
            next_check_at: feeds::at(state.next_check_at),
            items_seen: state.items_seen,
        });
    }
    Ok(out)
}

pub fn feeds_json(feeds: &[FeedHealth]) -> String {
    serde_json::json!({ "feeds": feeds }).to_string()
}

// ------------------------------------------------------------------------------------------ Atom

/// `/claims.atom`: the newest [`ATOM_ENTRIES`] new claims. Entry id `urn:claimwatch:claim:<id>`,
/// updated = first seen, content = the claim, its first source, and its spread.
pub fn atom(all: &[Listed], self_url: &str) -> String {
    let updated = all.first().map(first_seen).unwrap_or_else(|| Utc.timestamp_opt(0, 0).unwrap());
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    let _ = write!(
        xml,
        "<feed xmlns=\"http://www.w3.org/2005/Atom\">\n<id>urn:claimwatch:claims</id>\n\
         <title>claimwatch: new claims</title>\n<updated>{}</updated>\n\
         <link rel=\"self\" href=\"{}\"/>\n<generator>claimwatch</generator>\n",
        updated.to_rfc3339(),
        xml_text(self_url)
    );
    for claim in all.iter().take(ATOM_ENTRIES) {
        let c = &claim.claim;
        let source = c.sources.first();
        let mut content = format!("<p>{}</p>", xml_text(&c.text));
        if let Some(s) = source {
            let _ = write!(
                content,
                "<p>First seen {} in <a href=\"{}\">{}</a> [{}]</p>",
                first_seen(claim).format("%Y-%m-%d %H:%M UTC"),
                xml_text(&s.url),
                xml_text(&s.url),
                xml_text(&c.lang)
            );
        }
        let _ = write!(
            content,
            "<p>{} source(s), languages: {}</p>",
            c.source_count,
            xml_text(&c.langs.join(", "))
        );
        if let Some(n) = &claim.nearest {
            let _ = write!(
                content,
                "<p>Nearest known claim [{}]: {} (<a href=\"{}\">source</a>)</p>",
                xml_text(&n.lang),
                xml_text(&n.text),
                xml_text(&n.source)
            );
        }
        let _ = write!(
            xml,
            "<entry>\n<id>urn:claimwatch:claim:{id}</id>\n<title>{title}</title>\n<updated>{at}</updated>\n\
             <published>{at}</published>\n{link}<category term=\"{lang}\"/>\n\
             <content type=\"html\">{content}</content>\n</entry>\n",
            id = xml_text(&claim.id),
            title = xml_text(&short(&c.text, 120)),
            at = first_seen(claim).to_rfc3339(),
            link = source.map(|s| format!("<link href=\"{}\"/>\n", xml_text(&s.url))).unwrap_or_default(),
            lang = xml_text(&c.lang),
            content = xml_text(&content),
        );
    }
    xml.push_str("</feed>\n");
    xml
}

/// `text` escaped for XML, without the characters XML 1.0 forbids (control characters other
/// than tab and newlines, U+FFFE, U+FFFF): a page can put them in a claim, and one of them would
/// make the whole feed unreadable.
fn xml_text(text: &str) -> String {
    let allowed = |c: &char| {
        matches!(c, '\t' | '\n' | '\r') || (!c.is_control() && !matches!(c, '\u{FFFE}' | '\u{FFFF}'))
    };
    escape(&text.chars().filter(allowed).collect::<String>())
}

fn short(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    text.chars().take(max - 1).chain(std::iter::once('…')).collect()
}

// ------------------------------------------------------------------------------------------ page

const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:70rem;padding:1rem;color:#1b1b1b}\
h1{font-size:1.4rem;margin:.2rem 0}h2{font-size:1.1rem;margin:1.4rem 0 .4rem}\
.story{border-left:3px solid #5a7;padding:.2rem .8rem;margin:.8rem 0}.story h3{font-size:.85rem;color:#555;margin:0}\
.claim{margin:.5rem 0}.claim q{display:block}.meta{color:#555;font-size:.85rem}\
table{border-collapse:collapse;width:100%;font-size:.85rem}td,th{border-bottom:1px solid #ddd;padding:.25rem;text-align:left;vertical-align:top}\
.ok{color:#262}.backing_off{color:#a60}.failing{color:#b00}form{margin:.6rem 0}input{font:inherit}\
nav a{margin-right:1rem}svg text{font-size:10px;fill:#333}";

/// Bar colours by language, in order of first appearance.
const COLOURS: [&str; 8] =
    ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f"];

/// The page at `/`: filter box, chart, the page's claims grouped by story, feed health.
pub fn render_page(overview: &Overview, page: &Page, feeds: &[FeedHealth], now: DateTime<Utc>) -> String {
    let q = &page.query;
    let mut html = String::with_capacity(16 * 1024);
    let _ = write!(
        html,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>claimwatch: claim ledger</title><link rel=\"alternate\" type=\"application/atom+xml\" \
         title=\"New claims\" href=\"/claims.atom\"><style>{STYLE}</style></head><body>\n\
         <h1>Claim ledger</h1><p class=\"meta\">{} new claims stored · {} match · rendered {}</p>\n\
         <form method=\"get\" action=\"/\"><label>Claim text <input name=\"q\" value=\"{}\"></label> \
         <label>Language <input name=\"lang\" size=\"3\" value=\"{}\"></label> <button>Filter</button></form>\n",
        overview.stored,
        page.total,
        now.format("%Y-%m-%d %H:%M UTC"),
        escape(&q.q),
        escape(&q.lang)
    );
    html.push_str("<h2>New claims per day</h2>\n");
    html.push_str(&chart(overview, now));
    html.push_str("<h2>Timeline by story</h2>\n");
    if page.claims.is_empty() {
        html.push_str("<p>No claims match.</p>\n");
    }
    for (story, claims) in by_story(&page.claims) {
        let _ = writeln!(html, "<section class=\"story\"><h3>story {}</h3>", escape(&story));
        for claim in claims {
            let c = &claim.claim;
            let source = c.sources.first();
            let _ = writeln!(
                html,
                "<div class=\"claim\" id=\"c-{id}\"><q lang=\"{lang}\">{text}</q><span class=\"meta\">{at} · {lang} · first in {src} · \
                 spread: {n} source(s) in {langs}</span>{nearest}</div>",
                id = escape(&claim.id),
                lang = escape(&c.lang),
                text = escape(&c.text),
                at = first_seen(claim).format("%Y-%m-%d %H:%M UTC"),
                src = source
                    .map(|s| format!("<a href=\"{}\">{}</a>", escape(&s.url), escape(&host_of(&s.url))))
                    .unwrap_or_default(),
                n = c.source_count,
                langs = escape(&c.langs.join(", ")),
                nearest = claim
                    .nearest
                    .as_ref()
                    .map(|n| format!(
                        "<span class=\"meta\">nearest known: <q lang=\"{l}\">{t}</q> [{l}]</span>",
                        l = escape(&n.lang),
                        t = escape(&n.text)
                    ))
                    .unwrap_or_default(),
            );
        }
        html.push_str("</section>\n");
    }
    html.push_str("<nav>");
    if q.page > 1 {
        let _ = write!(html, "<a href=\"{}\">← newer</a>", escape(&q.link(q.page - 1)));
    }
    if q.page * q.per_page < page.total {
        let _ = write!(html, "<a href=\"{}\">older →</a>", escape(&q.link(q.page + 1)));
    }
    html.push_str(
        "</nav>\n<h2>Feed health</h2>\n<table><tr><th>feed</th><th>state</th><th>last error</th>\
                   <th>next check</th><th>items seen</th></tr>\n",
    );
    for f in feeds {
        let _ = writeln!(
            html,
            "<tr><td>{}<br><span class=\"meta\">{}</span></td><td class=\"{state}\">{state}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(f.title.as_deref().unwrap_or("")),
            escape(&f.url),
            escape(f.last_error.as_deref().unwrap_or("")),
            f.next_check_at.format("%Y-%m-%d %H:%M UTC"),
            f.items_seen,
            state = f.state,
        );
    }
    html.push_str("</table>\n<p class=\"meta\"><a href=\"/claims.atom\">Atom feed</a> · \
                   <a href=\"/api/claims\">/api/claims</a> · <a href=\"/api/feeds\">/api/feeds</a></p>\n</body></html>\n");
    html
}

fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| url.to_string())
}

/// The claims grouped by story, stories in the order of their newest claim (claims come newest
/// first).
fn by_story(claims: &[Listed]) -> Vec<(String, Vec<&Listed>)> {
    let mut order: Vec<String> = Vec::new();
    let mut groups: BTreeMap<String, Vec<&Listed>> = BTreeMap::new();
    for claim in claims {
        let story = crate::ingest::story_id(claim.claim.story);
        if !groups.contains_key(&story) {
            order.push(story.clone());
        }
        groups.entry(story).or_default().push(claim);
    }
    order.into_iter().map(|s| (s.clone(), groups.remove(&s).unwrap_or_default())).collect()
}

/// An inline SVG of stacked bars: new claims per day by language over the last [`CHART_DAYS`].
fn chart(overview: &Overview, now: DateTime<Utc>) -> String {
    let today = now.date_naive();
    let first = today - Duration::days(CHART_DAYS - 1);
    let counts = &overview.per_day;
    // Languages in order of their first day, so colours stay put as days go by.
    let mut langs: Vec<String> = Vec::new();
    for (_, lang) in counts.keys() {
        if !langs.contains(lang) {
            langs.push(lang.clone());
        }
    }
    let days: Vec<chrono::NaiveDate> = (0..CHART_DAYS).map(|i| first + Duration::days(i)).collect();
    let per_day: Vec<usize> = days
        .iter()
        .map(|d| langs.iter().map(|l| counts.get(&(*d, l.clone())).copied().unwrap_or(0)).sum())
        .collect();
    let max = per_day.iter().copied().max().unwrap_or(0).max(1);
    let (width, height, bar) = (40 * CHART_DAYS as usize + 40, 150usize, 28usize);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{}\" role=\"img\" \
         aria-label=\"new claims per day by language\">\n",
        height + 40
    );
    for (i, day) in days.iter().enumerate() {
        let x = 30 + i * 40;
        let mut y = height;
        for (k, lang) in langs.iter().enumerate() {
            let n = counts.get(&(*day, lang.clone())).copied().unwrap_or(0);
            if n == 0 {
                continue;
            }
            let h = n * (height - 20) / max;
            y -= h;
            let _ = writeln!(
                svg,
                "<rect x=\"{x}\" y=\"{y}\" width=\"{bar}\" height=\"{h}\" fill=\"{}\"><title>{} {}: {n}</title></rect>",
                COLOURS[k % COLOURS.len()],
                day.format("%m-%d"),
                escape(lang)
            );
        }
        let _ = writeln!(svg, "<text x=\"{x}\" y=\"{}\">{}</text>", height + 14, day.format("%m-%d"));
        if per_day[i] > 0 {
            let _ =
                writeln!(svg, "<text x=\"{x}\" y=\"{}\">{}</text>", y.saturating_sub(2).max(10), per_day[i]);
        }
    }
    let langs_seen: BTreeSet<&String> = langs.iter().collect();
    for (k, lang) in langs.iter().enumerate() {
        let x = 30 + k * 60;
        let _ = writeln!(
            svg,
            "<rect x=\"{x}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"{}\" y=\"{}\">{}</text>",
            height + 24,
            COLOURS[k % COLOURS.len()],
            x + 14,
            height + 33,
            escape(lang)
        );
    }
    if langs_seen.is_empty() {
        let _ = writeln!(
            svg,
            "<text x=\"30\" y=\"{}\">no new claims in the last {CHART_DAYS} days</text>",
            height / 2
        );
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::records::{ClaimProvenanceV1, ProvenanceSourceV1};

    fn listed(id: &str, lang: &str, text: &str, day: i64, story: u64) -> Listed {
        let first_seen =
            (Utc.with_ymd_and_hms(2026, 12, 5, 12, 0, 0).unwrap() - Duration::days(day)).timestamp_millis();
        Listed {
            id: id.into(),
            claim: ClaimProvenanceV1 {
                text: text.into(),
                lang: lang.into(),
                first_seen,
                story,
                seed: false,
                entities: vec![],
                numbers: vec![],
                source_count: 2,
                langs: vec![lang.into(), "en".into()],
                sources: vec![ProvenanceSourceV1 {
                    url: "https://news.example/a?x=1&y=<2>".into(),
                    feed: None,
                    lang: lang.into(),
                    seen_at: first_seen,
                }],
            },
            nearest: Some(crate::model::AlertNearest {
                claim_id: "0000000000000001".into(),
                text: format!("known <b>{id}</b> & co"),
                source: "https://seed.example/s".into(),
                lang: "uk".into(),
            }),
        }
    }

    #[test]
    fn the_page_escapes_every_stored_string_and_groups_by_story() {
        let all = vec![
            listed("c3", "uk", "Третя <script>alert(1)</script> заява", 0, 7),
            listed("c2", "ro", "A doua \"declarație\" & alta", 1, 9),
            listed("c1", "uk", "Перша заява", 2, 7),
        ];
        let now = Utc.with_ymd_and_hms(2026, 12, 5, 13, 0, 0).unwrap();
        let feeds = vec![FeedHealth {
            url: "https://f.example/rss?<x>".into(),
            title: Some("<b>Feed</b>".into()),
            state: "failing",
            last_error: Some("HTTP 503 <html>".into()),
            last_ok_at: None,
            next_check_at: now,
            items_seen: 12,
        }];
        let p = page(&all, Query::parse(None));
        let overview = Overview::of(all.iter().map(|c| (c.claim.first_seen, c.claim.lang.as_str())), now);
        let html = render_page(&overview, &p, &feeds, now);
        for raw in ["<script>", "<b>Feed</b>", "<html>", "y=<2>", "\"declarație\"", "<b>c3</b>"] {
            assert!(!html.contains(raw), "{raw} unescaped");
        }
        assert!(
            html.contains("nearest known: <q lang=\"uk\">known &lt;b&gt;c3&lt;/b&gt; &amp; co</q> [uk]"),
            "{html}"
        );
        assert!(html.contains("&lt;script&gt;") && html.contains("&quot;declarație&quot; &amp; alta"));
        let story7 = html.find("story s-0000000000000007").unwrap();
        let story9 = html.find("story s-0000000000000009").unwrap();
        assert!(story7 < story9, "the story of the newest claim first");
        assert_eq!(html.matches("<section class=\"story\">").count(), 2);
        assert!(
            html.contains("<svg") && html.contains("<title>12-05 uk: 1</title>"),
            "chart bars by day and language"
        );
        assert!(!html.contains("<script") && !html.contains("src=\"http"), "no script, no external asset");
    }

    /// What a hostile page can put in a claim: markup, quotes, control characters, the JSON
    /// line separators, bytes that were a lone surrogate (decoded lossily upstream).
    const HOSTILE: &str = "<script>alert(\"x\")</script> & \\ \u{0}\u{1}\u{1b}[31m \u{7f}\u{85} \u{2028}\u{2029} \u{FFFD}\u{FFFE} ]]> --> '";

    #[test]
    fn json_stays_valid_and_exact_for_any_claim_text() {
        let lossy = String::from_utf8_lossy(b"lone surrogate \xed\xa0\x80 end").into_owned();
        let all = vec![listed("c1", "en", HOSTILE, 0, 1), listed("c2", "en", &lossy, 0, 1)];
        let json = claims_json(&page(&all, Query::parse(None)));
        let parsed: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
        assert_eq!(parsed["claims"][0]["text"], HOSTILE);
        assert_eq!(parsed["claims"][1]["text"], lossy.as_str());
        assert!(!json.contains('\u{0}') && !json.contains("<script>\""), "{json}");
    }

    #[test]
    fn the_atom_feed_is_well_formed_xml_and_shows_markup_as_text_for_any_claim_text() {
        let all = vec![listed("c1", "en", HOSTILE, 0, 1)];
        let xml = atom(&all, "http://h/claims.atom?<x>");
        assert!(!xml.contains("<script") && !xml.contains('\u{0}') && !xml.contains('\u{1b}'), "{xml}");
        let parsed = feed_rs::parser::parse(xml.as_bytes()).expect("the feed parses");
        let title = parsed.entries[0].title.as_ref().unwrap().content.clone();
        let content = parsed.entries[0].content.as_ref().and_then(|c| c.body.clone()).unwrap_or_default();
        assert!(
            content.contains("Nearest known claim [uk]: known &lt;b&gt;c1&lt;/b&gt; &amp; co"),
            "{content}"
        );
        assert!(title.starts_with("<script>alert(\"x\")</script> & \\"), "{title}");
        let html = render_page(
            &Overview::default(),
            &page(&all, Query::parse(Some("q=%3Cscript%3E"))),
            &[],
            Utc::now(),
        );
        assert!(!html.contains("<script") && html.contains("&lt;script&gt;alert(&quot;x&quot;)"), "{html}");
    }

    #[test]
    fn queries_filter_by_words_and_language_and_page() {
        let all: Vec<Listed> = (0..7)
            .map(|i| {
                listed(
                    &format!("c{i}"),
                    if i % 2 == 0 { "uk" } else { "ro" },
                    &format!("claim number {i}"),
                    0,
                    1,
                )
            })
            .collect();
        let p = page(&all, Query::parse(Some("lang=uk&per_page=2&page=2")));
        assert_eq!(p.total, 4);
        assert_eq!(p.claims.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["c4", "c6"]);
        let p = page(&all, Query::parse(Some("q=NUMBER+3")));
        assert_eq!(p.claims.len(), 1);
        assert_eq!(Query::parse(Some("page=0&per_page=99999")).per_page, MAX_PER_PAGE);
    }
}
