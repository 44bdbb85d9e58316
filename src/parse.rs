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
        None => decode_text(bytes, content_type, base),
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
/// within paragraphs, paragraphs separated by blank lines. A linear scan, not an HTML parser:
/// feed summaries are small and hostile nesting must not cost more than its length.
pub fn plain_text(html: &str) -> String {
    const BLOCKS: &[&str] = &[
        "p",
        "br",
        "div",
        "li",
        "ul",
        "ol",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "tr",
        "table",
        "section",
        "article",
        "figure",
        "figcaption",
        "hr",
        "pre",
    ];
    let mut out = String::new();
    let mut para = String::new();
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        decode_entities(&rest[..lt], &mut para);
        let after = &rest[lt..];
        let next = after[1..].chars().next();
        if !next.is_some_and(|c| c.is_ascii_alphabetic() || c == '/' || c == '!' || c == '?') {
            para.push('<');
            rest = &after[1..];
            continue;
        }
        if let Some(body) = after.strip_prefix("<![CDATA[") {
            let end = body.find("]]>").unwrap_or(body.len());
            para.push_str(&body[..end]);
            rest = body.get(end + 3..).unwrap_or("");
            continue;
        }
        if after.starts_with("<!--") {
            rest = after.find("-->").map_or("", |i| &after[i + 3..]);
            continue;
        }
        let end = after.find('>').map_or(after.len(), |i| i + 1);
        let name: String = after[1..end]
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        rest = &after[end..];
        if (name == "script" || name == "style") && !after[1..].starts_with('/') {
            let close = format!("</{name}");
            let lower = rest.to_ascii_lowercase();
            rest = lower.find(&close).map_or("", |i| &rest[i..]);
            continue;
        }
        if BLOCKS.contains(&name.as_str()) {
            flush(&mut out, &mut para);
        } else if name == "td" || name == "th" {
            para.push(' ');
        }
    }
    decode_entities(rest, &mut para);
    flush(&mut out, &mut para);
    out
}

/// Appends `text` with its character references decoded (named ones from the HTML table).
fn decode_entities(text: &str, out: &mut String) {
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let end = after.char_indices().take(32).find(|(_, c)| *c == ';').map(|(i, _)| i);
        let decoded = end.and_then(|end| {
            let name = &after[..end];
            let code = if let Some(num) = name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
                u32::from_str_radix(num, 16).ok()
            } else if let Some(num) = name.strip_prefix('#') {
                num.parse().ok()
            } else {
                html5ever::data::NAMED_ENTITIES.get(&after[..=end]).map(|(c, _)| *c).filter(|c| *c != 0)
            };
            let c = char::from_u32(code?).filter(|c| *c != '\0')?;
            Some((if c == '\u{a0}' { ' ' } else { c }, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &after[end + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
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

/// Bytes → UTF-8 text (`crate::charset`), with the feed host's top-level domain as a hint.
fn decode_text(bytes: &[u8], content_type: Option<&str>, base: &Url) -> String {
    let tld = base.host_str().and_then(|h| h.rsplit('.').next()).map(str::to_ascii_lowercase);
    crate::charset::decode_hinted(bytes, content_type, tld.as_deref()).text
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
    fn hostile_documents_are_inert_and_fast() {
        let laughs = r#"<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa">
            <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
            <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;"><!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
            <!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;"><!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">]>
            <rss version="2.0"><channel><title>&g;</title><item><title>x&g;</title><link>/x</link></item></channel></rss>"#;
        let xxe = r#"<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
            <rss version="2.0"><channel><title>&xxe;</title><item><title>&xxe;</title><link>/x</link></item></channel></rss>"#;
        let many_attrs = format!(
            "<rss version=\"2.0\"><channel><item {}><title>t</title><link>/x</link></item></channel></rss>",
            (0..80_000).map(|i| format!("a{i}=\"v\"")).collect::<Vec<_>>().join(" ")
        );
        let truncated = "<rss version=\"2.0\"><channel><title>T</title><item><title>cut";
        let garbage: Vec<u8> = (0..200_000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
        let deep = format!("<rss version=\"2.0\"><channel>{}</channel></rss>", "<x>".repeat(100_000));
        for (name, bytes) in [
            ("billion laughs", laughs.as_bytes()),
            ("external entity", xxe.as_bytes()),
            ("80k attributes", many_attrs.as_bytes()),
            ("truncated", truncated.as_bytes()),
            ("garbage", &garbage[..]),
            ("deep nesting", deep.as_bytes()),
        ] {
            let started = std::time::Instant::now();
            let result = parse_feed(bytes, None, &base());
            assert!(
                started.elapsed() < std::time::Duration::from_secs(2),
                "{name} took {:?}",
                started.elapsed()
            );
            if let Ok(feed) = result {
                for item in &feed.items {
                    let title = item.title.as_deref().unwrap_or("");
                    assert!(title.len() < 10_000 && !title.contains("root:"), "{name}: {title:.100}");
                }
            }
        }
    }

    #[test]
    fn summaries_are_plain_text() {
        assert_eq!(plain_text("<p>One &amp; two</p><p>Three</p>"), "One & two\n\nThree");
        assert_eq!(
            plain_text("a < b &eacute;t&#233; &#x4E2D; &bogus; <em>x</em>y"),
            "a < b été 中 &bogus; xy"
        );
        assert_eq!(plain_text("<script>var x = '<p>';</script>Text<style>p{}</style>"), "Text");
        assert_eq!(plain_text(&"<div>".repeat(100_000)), "");
    }
}
