//! Feed bytes → items: `parse::parse_feed` must never panic, hang or blow up memory, whatever the
//! bytes (XML, JSON Feed, HTML, garbage) and whatever the Content-Type says.
#![no_main]

use libfuzzer_sys::fuzz_target;

const CONTENT_TYPES: [Option<&str>; 5] = [
    None,
    Some("application/rss+xml"),
    Some("application/atom+xml; charset=windows-1251"),
    Some("application/feed+json"),
    Some("text/html; charset=utf-8"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else { return };
    let base = url::Url::parse("https://news.example.org/feed.xml").unwrap();
    let content_type = CONTENT_TYPES[selector as usize % CONTENT_TYPES.len()];
    if let Ok(parsed) = claimwatch::parse::parse_feed(bytes, content_type, &base) {
        for item in &parsed.items {
            assert!(!item.key.is_empty(), "every item has a key");
        }
    }
});
