//! The dedup index's URL canonicalisation (`normalize::url`): `canonicalize`, `key` and `choose`
//! must never panic, and a canonical URL must be its own canonical form with the same key, or one
//! article would be indexed under two keys. The input is a feed link, optionally followed by a
//! newline and the page's `rel=canonical`, each resolved against a base URL as a page would be.
#![no_main]

use claimwatch::normalize::url::{canonicalize, choose, key};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let base = url::Url::parse("https://www.news.example.org/2026/01/feed.xml").unwrap();
    let (link, page) = match text.split_once('\n') {
        Some((link, page)) => (link, base.join(page).ok()),
        None => (text, None),
    };
    let Ok(link) = base.join(link) else { return };

    let canonical = canonicalize(&link);
    assert_eq!(canonicalize(&canonical), canonical, "canonicalize is idempotent for {link}");
    let link_key = key(&link);
    assert!(!link_key.is_empty());
    assert_eq!(key(&canonical), link_key, "the canonical form of {link} keeps its key");

    let chosen = choose(&link, page.as_ref());
    let from_page = page.as_ref().map(canonicalize);
    assert!(chosen == canonical || Some(&chosen) == from_page.as_ref(), "choose returns one of its inputs, canonical");
});
