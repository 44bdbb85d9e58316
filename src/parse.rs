//! Feed bytes → items. Owns turning a fetched feed document (RSS 0.9x/1.0/2.0, Atom, JSON Feed)
//! into [`FeedItem`]s with our own deterministic identity, and the repairs that make feed-rs read
//! what Python feedparser reads. It does not fetch, store or decide what is new.
//!
//! Order: decode the bytes to UTF-8 first (BOM, Content-Type, prolog, detection), rewrite the XML
//! prolog to say UTF-8 (feed-rs would otherwise decode a second time), add `version="2.0"` to an
//! `<rss>` root without one, then hand the text to feed-rs inside `catch_unwind` so that a
//! panic in the parser costs one feed, not the daemon.
//!
//! Trade-off: the item key prefers the canonical link over the GUID. Links are what readers and
//! dedup see; GUIDs churn on some CMSs. A GUID is used only for link-less items.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use sha2::{Digest, Sha256};
use thiserror::Error;
use url::Url;

use crate::model::FeedItem;

/// A parsed feed.
#[derive(Debug, Clone, Default)]
pub struct ParsedFeed {
    pub title: Option<String>,
    /// RSS `<ttl>`.
    pub ttl: Option<Duration>,
    /// In document order.
    pub items: Vec<FeedItem>,
    /// What was repaired or skipped.
    pub warnings: Vec<String>,
}

/// Why a document is not a feed we can read.
#[derive(Debug, Error)]
pub enum ParseError {
    #[error("not a feed: {0}")]
    NotAFeed(String),
    #[error("the feed parser panicked: {0}")]
    Panicked(String),
}

/// Parses a feed document fetched from `base` (used to resolve relative links).
pub fn parse_feed(bytes: &[u8], content_type: Option<&str>, base: &Url) -> Result<ParsedFeed, ParseError> {
    let mut warnings = Vec::new();
    let text = match utf16_without_bom(bytes) {
        Some(encoding) => {
            warnings.push(format!("no BOM, but the document starts like {}", encoding.name()));
            encoding.decode_without_bom_handling(bytes).0.into_owned()
        }
        None => decode_text(bytes, content_type),
    };
    let text = prepare(&text, &mut warnings);
    let parser = feed_rs::parser::Builder::new()
        .base_uri(Some(base.as_str()))
        // An empty id means "no GUID in the document"; feed-rs would otherwise invent one.
        .id_generator(|_, _, _| String::new())
        .build();
    let parsed = catch_unwind(AssertUnwindSafe(|| parser.parse(text.as_bytes())));
    let feed = match parsed {
        Ok(Ok(feed)) => feed,
        Ok(Err(error)) => {
            let hint = if looks_like_html(&text) { " (the document is HTML)" } else { "" };
            return Err(ParseError::NotAFeed(format!("{error}{hint}")));
        }
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            return Err(ParseError::Panicked(message));
        }
    };
    let items = feed.entries.iter().map(|entry| item_of(entry, base)).collect();
    Ok(ParsedFeed {
        title: feed.title.map(|t| plain_text(&t.content)).filter(|t| !t.is_empty()),
        ttl: feed.ttl.filter(|m| *m > 0).map(|m| Duration::from_secs(u64::from(m) * 60)),
        items,
        warnings,
    })
}

fn item_of(entry: &feed_rs::model::Entry, base: &Url) -> FeedItem {
    let link = entry
        .links
        .iter()
        .filter(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .chain(entry.links.iter())
        .find_map(|l| base.join(l.href.trim()).ok())
        .filter(|u| matches!(u.scheme(), "http" | "https" | "file"))
        .map(canonical_link);
    let guid = Some(entry.id.trim().to_string()).filter(|g| !g.is_empty());
    let title = entry.title.as_ref().map(|t| plain_text(&t.content)).filter(|t| !t.is_empty());
    let body = entry.content.as_ref().and_then(|c| c.body.as_deref());
    let summary_html = entry.summary.as_ref().map(|s| s.content.as_str());
    // The longer of content and summary is the better fallback article text.
    let summary = [body, summary_html]
        .into_iter()
        .flatten()
        .map(plain_text)
        .filter(|s| !s.is_empty())
        .max_by_key(|s| s.len());
    let key = item_key(link.as_ref(), guid.as_deref(), title.as_deref(), summary.as_deref());
    FeedItem { key, link, guid, title, summary, published: entry.published.or(entry.updated) }
}

/// Our item key: canonical link, else GUID, else a hash of title and content.
pub fn item_key(link: Option<&Url>, guid: Option<&str>, title: Option<&str>, text: Option<&str>) -> String {
    if let Some(link) = link {
        return format!("link:{link}");
    }
    if let Some(guid) = guid {
        return format!("guid:{guid}");
    }
    let mut hasher = Sha256::new();
    hasher.update(title.unwrap_or("").trim().as_bytes());
    hasher.update([0]);
    hasher.update(text.unwrap_or("").trim().as_bytes());
    format!("hash:{}", hex(&hasher.finalize()[..16]))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Drops what makes one article look like many: the fragment and tracking parameters.
pub fn canonical_link(mut url: Url) -> Url {
    url.set_fragment(None);
    if url.query().is_some() {
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| {
                let k = k.to_ascii_lowercase();
                !(k.starts_with("utm_")
                    || matches!(
                        k.as_str(),
                        "fbclid" | "gclid" | "yclid" | "mc_cid" | "mc_eid" | "at_medium" | "at_campaign"
                    ))
            })
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if kept.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(kept);
        }
    }
    url
}

/// HTML (or plain text) → readable text: tags dropped, entities decoded, whitespace collapsed
/// within paragraphs, paragraphs separated by blank lines.
pub fn plain_text(html: &str) -> String {
    if !html.contains('<') && !html.contains('&') {
        return collapse(html);
    }
    let fragment = scraper::Html::parse_fragment(html);
    let mut out = String::new();
    let mut para = String::new();
    for node in fragment.root_element().descendants() {
        match node.value() {
            scraper::Node::Text(text) => para.push_str(text),
            scraper::Node::Element(e)
                if matches!(
                    e.name(),
                    "p" | "br" | "div" | "li" | "h1" | "h2" | "h3" | "h4" | "blockquote"
                ) =>
            {
                flush(&mut out, &mut para)
            }
            _ => {}
        }
    }
    flush(&mut out, &mut para);
    out
}

fn flush(out: &mut String, para: &mut String) {
    let text = collapse(para);
    if !text.is_empty() {
        if !out.is_empty() {
            out.push_str("\n\n");
        }
        out.push_str(&text);
    }
    para.clear();
}

fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn looks_like_html(text: &str) -> bool {
    let head: String = text.chars().take(1024).collect::<String>().to_ascii_lowercase();
    head.contains("<html") || head.contains("<!doctype html")
}

/// Repairs on the decoded text: the prolog's encoding now says UTF-8 and an `<rss>` root gets
/// the version feed-rs insists on.
fn prepare(text: &str, warnings: &mut Vec<String>) -> String {
    let mut text = text.trim_start_matches('\u{feff}').trim_start().to_string();
    if text.starts_with("<?xml") {
        if let Some(end) = text.find("?>") {
            // Whatever the prolog claimed, the text is UTF-8 now.
            text.replace_range(..end + 2, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
        }
    }
    if let Some(at) = find_root(&text, "<rss") {
        let tag_end = text[at..].find('>').map(|i| at + i).unwrap_or(text.len());
        let tag = &text[at..tag_end];
        if !tag.contains("version=") {
            text.insert_str(at + 4, r#" version="2.0""#);
            warnings.push("<rss> without a version attribute, read as RSS 2.0".into());
        }
    }
    text
}

/// UTF-16 without a BOM, recognised by an XML document's first `<` (the case that panics
/// feed-rs 3.0): `00 3C 00 xx` is big-endian, `3C 00 xx 00` little-endian.
fn utf16_without_bom(bytes: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    match bytes {
        [0, b'<', 0, c, ..] if c.is_ascii() && *c != 0 => Some(encoding_rs::UTF_16BE),
        [b'<', 0, c, 0, ..] if c.is_ascii() && *c != 0 => Some(encoding_rs::UTF_16LE),
        _ => None,
    }
}

/// Where the root element `<name` starts, skipping the prolog, comments and doctype.
fn find_root(text: &str, name: &str) -> Option<usize> {
    let mut rest = 0;
    while let Some(i) = text[rest..].find('<') {
        let at = rest + i;
        let tail = &text[at..];
        if tail.starts_with("<?") || tail.starts_with("<!") {
            let close = if tail.starts_with("<!--") { "-->" } else { ">" };
            rest = at + tail.find(close)? + close.len();
            continue;
        }
        let after = tail.as_bytes().get(name.len()).copied();
        return (tail.starts_with(name) && matches!(after, Some(b' ' | b'>' | b'\t' | b'\n' | b'\r' | b'/')))
            .then_some(at);
    }
    None
}

/// Bytes → UTF-8 text: BOM, then valid UTF-8, then a declared charset (header, prolog, meta),
/// then detection. (`crate::charset` replaces this once it lands on main.)
pub fn decode_text(bytes: &[u8], content_type: Option<&str>) -> String {
    use encoding_rs::Encoding;
    if let Some((encoding, bom)) = Encoding::for_bom(bytes) {
        return encoding.decode_without_bom_handling(&bytes[bom..]).0.into_owned();
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return text.to_string();
    }
    let declared = content_type
        .and_then(|ct| {
            ct.to_ascii_lowercase()
                .split("charset=")
                .nth(1)
                .map(|c| c.trim_matches(|c: char| c == '"' || c == ' ' || c == ';').to_string())
        })
        .or_else(|| {
            let head = String::from_utf8_lossy(&bytes[..bytes.len().min(1024)]).to_ascii_lowercase();
            let at =
                head.find("encoding=").map(|i| i + 9).or_else(|| head.find("charset=").map(|i| i + 8))?;
            Some(
                head[at..]
                    .trim_start_matches(['"', '\''])
                    .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
                    .next()?
                    .to_string(),
            )
        })
        .and_then(|label| Encoding::for_label(label.as_bytes()))
        .filter(|e| *e != encoding_rs::UTF_8);
    let encoding = declared.unwrap_or_else(|| {
        let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
        detector.feed(bytes, true);
        detector.guess(None, chardetng::Utf8Detection::Allow)
    });
    encoding.decode_without_bom_handling(bytes).0.into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://news.example.org/feed.xml").unwrap()
    }

    #[test]
    fn rss_without_version_is_repaired() {
        let xml = "<?xml version=\"1.0\"?><rss><channel><title>T</title><item><title>A</title>\
                   <link>/a?utm_source=x#top</link></item></channel></rss>";
        let feed = parse_feed(xml.as_bytes(), None, &base()).unwrap();
        assert_eq!(feed.items.len(), 1);
        assert_eq!(feed.items[0].key, "link:https://news.example.org/a");
        assert_eq!(feed.warnings.len(), 1);
    }

    #[test]
    fn items_without_link_or_guid_get_a_stable_hash_key() {
        let xml = "<rss version=\"2.0\"><channel><item><title>A</title><description>x</description></item></channel></rss>";
        let one = parse_feed(xml.as_bytes(), None, &base()).unwrap();
        let two = parse_feed(xml.as_bytes(), None, &base()).unwrap();
        assert!(one.items[0].key.starts_with("hash:"));
        assert_eq!(one.items[0].key, two.items[0].key);
        assert_eq!(one.items[0].guid, None);
    }

    #[test]
    fn html_is_not_a_feed() {
        let err = parse_feed(b"<!doctype html><html><body>hi</body></html>", None, &base()).unwrap_err();
        assert!(err.to_string().contains("HTML"), "{err}");
    }

    #[test]
    fn summaries_are_plain_text() {
        assert_eq!(plain_text("<p>One &amp; two</p><p>Three</p>"), "One & two\n\nThree");
    }
}
