//! Page HTML → the article: body text (paragraphs separated by blank lines, list items kept),
//! title, author, published date, canonical URL and declared language.
//!
//! This module owns only the pure transformation: no I/O, no clock except through `Rules::now`,
//! never a panic. It does not detect the language of the text (normalize::lang does) and does
//! not decode bytes (crate::charset does). The flow is: `prescan` (linear, strips scripts and
//! styles, sets JSON-LD aside, caps size and nesting so that html5ever stays linear) → scraper
//! parse → metadata from JSON-LD, meta tags, `<time>` and the URL (`meta`) → body from a site
//! rule or the generic block scorer (`body`, which puts the lead the page shows above its body
//! first when that lead is the page's own description) → JSON-LD `articleBody` when the DOM
//! yields much less → the description when nothing else gives text. The trade-off: we never run scripts, so a page that builds its body in JavaScript only
//! gives what its JSON-LD or its server-rendered teaser says.

mod body;
mod boilerplate;
mod meta;
mod prescan;
pub mod rules;

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use ego_tree::NodeId;
use scraper::Html;
use url::Url;

use crate::model::Extracted;
pub use rules::{SiteRule, SiteRules};

/// A site rule's selector must find at least this much text to be trusted over the generic
/// extractor.
const MIN_RULE_CHARS: usize = 200;

/// What steers one extraction besides the page itself.
#[derive(Debug, Clone)]
pub struct Rules<'a> {
    /// The feed's `body_selector`: wins over site rules.
    pub body_selector: Option<&'a str>,
    pub sites: &'a SiteRules,
    /// Dates after this are never returned.
    pub now: DateTime<Utc>,
}

impl Default for Rules<'_> {
    fn default() -> Self {
        Rules { body_selector: None, sites: SiteRules::builtin(), now: Utc::now() }
    }
}

/// Extracts the article from a page with the built-in site rules.
pub fn extract(html: &str, base: &Url) -> Extracted {
    extract_with(html, base, &Rules::default())
}

/// Extracts the article from a page with explicit rules (a feed's body selector, user site rules).
pub fn extract_with(html: &str, base: &Url, rules: &Rules<'_>) -> Extracted {
    let scan = prescan::prescan(html);
    for warning in &scan.warnings {
        tracing::warn!(article_url = %base, stage = "extract", "{warning}");
    }
    let doc = Html::parse_document(&scan.html);
    let ld = meta::json_ld(&scan.json_ld);
    let collected = meta::collect(&doc);
    let canonical = meta::canonical(&collected, &ld, base);

    let host = base.host_str().or_else(|| canonical.as_ref().and_then(|u| u.host_str()));
    let site = host.and_then(|h| rules.sites.for_host(h));
    let feed_selector = rules.body_selector.and_then(|css| match scraper::Selector::parse(css) {
        Ok(sel) => Some(sel),
        Err(error) => {
            tracing::warn!(article_url = %base, stage = "extract", %error, "bad body_selector ignored");
            None
        }
    });
    let drop: HashSet<NodeId> = site
        .and_then(|s| s.drop.as_ref())
        .map(|sel| doc.select(sel).map(|e| e.id()).collect())
        .unwrap_or_default();
    let body_selector = feed_selector.as_ref().or(site.and_then(|s| s.body.as_ref()));

    let mut text = String::new();
    if let Some(sel) = body_selector {
        let roots: Vec<NodeId> = outermost(&doc, doc.select(sel).map(|e| e.id()).collect());
        if !roots.is_empty() {
            text = body::body(&doc, &roots, &drop);
        }
        if text.chars().count() < MIN_RULE_CHARS {
            text.clear();
        }
    }
    let description = collected.meta(&["og:description", "description", "twitter:description"]);
    if text.is_empty() {
        text = body::article(&doc, &drop, description);
    }
    if let Some(ld_body) = ld.body.as_deref().map(plain_text) {
        let dom = text.chars().filter(|c| !c.is_whitespace()).count();
        let json = ld_body.chars().filter(|c| !c.is_whitespace()).count();
        if json >= 200 && json as f64 > 1.5 * dom as f64 {
            text = ld_body;
        }
    }

    // Nothing in the DOM or JSON-LD (a script-rendered page): the page's own summary is better
    // than nothing, and the pipeline still prefers the feed's content when it is longer.
    if text.is_empty() {
        if let Some(description) = description {
            text = description.split_whitespace().collect::<Vec<_>>().join(" ");
        }
    }

    Extracted {
        title: meta::title(&collected, &ld).map(composed),
        published: meta::published(&collected, &ld, base, canonical.as_ref(), rules.now),
        lang: meta::lang(&collected, &ld),
        author: meta::author(&collected, &ld),
        canonical_url: canonical,
        text: composed(text),
    }
}

/// The text in Unicode's composed form (NFC), the form the web's own guidance asks for: pages
/// that send a letter as base + combining mark (or in a form Unicode decomposes, such as some
/// Bengali nuktas) read and match like the same letter typed precomposed. The quick check is a
/// table lookup per character; most pages are NFC already and are returned as they are.
fn composed(text: String) -> String {
    use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};
    match is_nfc_quick(text.chars()) {
        IsNormalized::Yes => text,
        _ => text.nfc().collect(),
    }
}

/// Keeps only matched elements that are not inside another matched element.
fn outermost(doc: &Html, ids: Vec<NodeId>) -> Vec<NodeId> {
    let set: HashSet<NodeId> = ids.iter().copied().collect();
    ids.into_iter()
        .filter(|id| {
            let mut cursor = doc.tree.get(*id).and_then(|n| n.parent());
            while let Some(n) = cursor {
                if set.contains(&n.id()) {
                    return false;
                }
                cursor = n.parent();
            }
            true
        })
        .collect()
}

/// JSON-LD `articleBody` as our text: some sites put HTML in it, most put plain text with
/// newlines; either way we return paragraphs separated by blank lines.
fn plain_text(body: &str) -> String {
    let text = if body.contains('<') && body.contains('>') {
        let fragment = Html::parse_fragment(body);
        let with_breaks: String = body::body(&fragment, &[fragment.tree.root().id()], &HashSet::new());
        if with_breaks.is_empty() {
            fragment.root_element().text().collect::<String>()
        } else {
            return with_breaks;
        }
    } else {
        body.to_string()
    };
    text.split('\n')
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n")
}

#[cfg(test)]
mod tests;
