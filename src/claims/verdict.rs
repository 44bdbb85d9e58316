//! The one decision on a whole article: off topic, a copy of a stored article, the same story as
//! stored claims, or a new story. [`decide`] is pure; the daemon (`ingest`) and `check` both call
//! it with the [`Evidence`] that [`ClaimIndex::evidence`](super::ClaimIndex::evidence) gathers, so
//! the two can never disagree.
//!
//! A story is an event: a meeting, talks, a visit at a place and a date. The same story is told
//! where the article's lead names the setting of an event the store already holds (a place or
//! date that stored claims name repeatedly); a new story where the lead tells of an event at a
//! place or date no stored claim names. Without either, the share of claims already known
//! decides. Trade-off: the setting is read from the lead only (its first claims and dateline),
//! because a later paragraph often recalls an earlier event as background.

use crate::model::ArticleVerdict;

/// Least share of an article's claims that must be known for it to be the same story when its
/// lead names no event setting either way (half: fitted on the real and synthetic sets).
const KNOWN_SHARE: f32 = 0.5;

/// What the store and the judged claims say of one article.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Evidence {
    /// On the topic after judging (see [`ClaimIndex::evidence`](super::ClaimIndex::evidence)).
    pub on_topic: bool,
    /// A stored article has this text, address or a near-verbatim copy of it.
    pub seen_before: bool,
    /// The lead names a place or date that stored claims name repeatedly.
    pub known_setting: bool,
    /// The lead tells of an event at a place or date no stored claim names.
    pub new_setting: bool,
    /// Claims judged known, and all claims.
    pub known: usize,
    pub claims: usize,
}

/// The verdict on an article.
pub fn decide(e: &Evidence) -> ArticleVerdict {
    if !e.on_topic {
        ArticleVerdict::OffTopic
    } else if e.seen_before {
        ArticleVerdict::Duplicate
    } else if e.new_setting {
        ArticleVerdict::NewStory
    } else if e.known_setting || (e.known > 0 && e.known as f32 >= KNOWN_SHARE * e.claims as f32) {
        ArticleVerdict::SameStory
    } else {
        ArticleVerdict::NewStory
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(e: Evidence, expected: ArticleVerdict) {
        assert_eq!(decide(&e), expected, "{e:?}");
    }

    #[test]
    fn each_verdict_from_its_evidence() {
        let on = Evidence { on_topic: true, claims: 6, ..Evidence::default() };
        check(Evidence { on_topic: false, seen_before: true, ..on }, ArticleVerdict::OffTopic);
        check(Evidence { seen_before: true, ..on }, ArticleVerdict::Duplicate);
        // Talks in Geneva, while most of the claims restate the guarantees: a new event.
        check(Evidence { new_setting: true, known_setting: true, known: 4, ..on }, ArticleVerdict::NewStory);
        // The Paris meeting retold with new details only.
        check(Evidence { known_setting: true, known: 0, ..on }, ArticleVerdict::SameStory);
        // No setting named: the share of known claims decides.
        check(Evidence { known: 3, ..on }, ArticleVerdict::SameStory);
        check(Evidence { known: 2, ..on }, ArticleVerdict::NewStory);
        check(on, ArticleVerdict::NewStory);
    }
}
