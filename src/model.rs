//! Plain data passed between the stages: what a feed item, an extracted page, an article and an
//! alert are. No I/O and no behaviour beyond small accessors; the on-disk shapes live in
//! `store::records` so that this module can change freely.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use url::Url;

/// One feed the daemon watches, from `[[feeds]]` in config or a stored subscription.
#[derive(Debug, Clone, PartialEq)]
pub struct Feed {
    pub url: Url,
    pub name: Option<String>,
    /// Language hint for its articles (ISO 639-1), used when a page does not declare one.
    pub lang: Option<String>,
    pub min_interval: std::time::Duration,
    pub max_interval: std::time::Duration,
    /// CSS selector for the article body on this feed's pages, overriding site rules.
    pub body_selector: Option<String>,
}

/// One entry of a parsed feed, with our own deterministic identity.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedItem {
    /// Our item key: canonical link, else GUID, else a hash of title and content.
    pub key: String,
    pub link: Option<Url>,
    pub guid: Option<String>,
    pub title: Option<String>,
    /// The feed's summary or content, as plain text: the fallback article text.
    pub summary: Option<String>,
    pub published: Option<DateTime<Utc>>,
}

/// What extraction recovers from one article page.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Extracted {
    pub title: Option<String>,
    /// Paragraphs separated by blank lines; no HTML.
    pub text: String,
    pub published: Option<DateTime<Utc>>,
    pub lang: Option<String>,
    pub canonical_url: Option<Url>,
    pub author: Option<String>,
}

/// An article ready for the topic, dedup and claim stages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Article {
    /// Canonical URL, or for a seed or a local file its path as a `file://` URL.
    pub url: Url,
    /// The feed it came from (its URL), if any.
    pub feed: Option<String>,
    /// That feed's name as configured (`[[feeds]] name`), if it has one.
    pub feed_name: Option<String>,
    pub title: Option<String>,
    pub text: String,
    pub published: Option<DateTime<Utc>>,
    /// Declared or hinted language, before detection.
    pub lang_hint: Option<String>,
    pub seen_at: DateTime<Utc>,
}

/// The verdict on a whole article (the contract's `article_verdict`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArticleVerdict {
    /// A near-verbatim copy of a stored article.
    Duplicate,
    /// About a story already in the store, possibly with new facts.
    SameStory,
    /// On topic, about an event the store does not hold.
    NewStory,
    /// Not about the topic: never alerts.
    OffTopic,
}

impl ArticleVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            ArticleVerdict::Duplicate => "duplicate",
            ArticleVerdict::SameStory => "same_story",
            ArticleVerdict::NewStory => "new_story",
            ArticleVerdict::OffTopic => "off_topic",
        }
    }
}

/// The verdict on one claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimVerdict {
    New,
    Known,
}

/// The story id as users see it.
pub fn story_id(story: u64) -> String {
    format!("s-{story:016x}")
}

/// One new claim as the alert sinks deliver it: the contract's alert record (a JSONL line, a
/// webhook body) plus entities, numbers, story id and the sources that state the claim.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Always "new_claim".
    pub kind: String,
    /// Stable: the claim's id, so the same claim never gets two ids.
    pub id: String,
    pub detected_at: DateTime<Utc>,
    pub claim: AlertClaim,
    pub article: AlertArticle,
    pub story_id: String,
    #[serde(default)]
    pub entities: Vec<String>,
    #[serde(default)]
    pub numbers: Vec<String>,
    /// Article URLs stating the claim when it was detected (the first is where it appeared).
    #[serde(default)]
    pub sources: Vec<String>,
    /// Why the claim is new: what a reader needs to act on the alert without looking it up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<AlertWhy>,
}

/// Why a claim counts as new: the closest claim the store already knew, what this claim has that
/// it lacks, what no stored claim has, and the engine's reason in words.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertWhy {
    pub reason: Option<String>,
    pub nearest: Option<AlertNearest>,
    /// Facts of this claim that the nearest known claim lacks.
    pub differed: Vec<String>,
    /// Facts of this claim that no stored claim has.
    pub never_seen: Vec<String>,
}

/// The stored claim closest to a new one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertNearest {
    pub claim_id: String,
    pub text: String,
    pub source: String,
    /// Its language (empty in alerts committed before it was recorded).
    #[serde(default)]
    pub lang: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertClaim {
    pub text: String,
    pub lang: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertArticle {
    pub url: String,
    pub title: Option<String>,
    pub feed: Option<String>,
    /// The feed's configured name, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feed_name: Option<String>,
    pub published: Option<DateTime<Utc>>,
    pub verdict: ArticleVerdict,
}

/// What comparing a claim with one stored claim measured, each a share from 0 to 1: the inputs
/// of the calibrated known-or-new decision. The same shape holds that decision's weights
/// (`[claims.decision.weights]`), so a signal is named in one place.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signals {
    /// The claim's rarity-weighted facts (entities, names, concepts, quantities, dates) that
    /// the stored claim carries, its setting counting partly.
    pub facts: f32,
    /// The same, carried by the stored claim itself (its setting not counting).
    pub own: f32,
    /// Names no gazetteer knows that no stored claim has: 0, 0.5 for one, 1 for two or more.
    pub novel_names: f32,
    /// The claim's content words (stems the lexicons do not know) that the stored claim has;
    /// 0 across languages, where no stem can match.
    pub words: f32,
    /// The claim's whole content, facts and words, that the stored claim accounts for: what
    /// stays unaccounted counts against "known".
    pub coverage: f32,
    /// The claim's content that no lexicon recognised.
    pub unrecognised: f32,
    /// 1 when both claims are in one language.
    pub same_lang: f32,
    /// How rare the rarest fact is that the stored claim itself shares with the claim: its
    /// rarity over the rarity of a fact only one claim has. Sharing only what half the store
    /// says (a country, "security guarantees") is weak evidence of a repeat.
    pub rarest: f32,
}

impl Signals {
    /// The signals as (name, value) pairs, in declaration order.
    pub fn named(&self) -> [(&'static str, f32); 8] {
        [
            ("facts", self.facts),
            ("own", self.own),
            ("novel_names", self.novel_names),
            ("words", self.words),
            ("coverage", self.coverage),
            ("unrecognised", self.unrecognised),
            ("same_lang", self.same_lang),
            ("rarest", self.rarest),
        ]
    }

    /// Σ self × weights.
    pub fn weighted_by(&self, weights: &Signals) -> f32 {
        self.named().iter().zip(weights.named()).map(|((_, s), (_, w))| s * w).sum()
    }
}
