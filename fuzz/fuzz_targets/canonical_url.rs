//! URL canonicalisation (the item key's link): `parse::canonical_link` must never panic and must
//! be idempotent, so the same article never gets two keys.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let base = url::Url::parse("https://news.example.org/feed.xml").unwrap();
    let Ok(url) = base.join(text) else { return };
    let once = claimwatch::parse::canonical_link(url);
    let twice = claimwatch::parse::canonical_link(once.clone());
    assert_eq!(once, twice, "canonicalisation is idempotent");
});
