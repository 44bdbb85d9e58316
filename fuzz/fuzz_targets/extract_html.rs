//! Page HTML → article text: `extract::extract` is pure and must never panic, on any input, and
//! its output stays bounded by its input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let html = String::from_utf8_lossy(data);
    let base = url::Url::parse("https://news.example.org/2025/05/article.html").unwrap();
    let extracted = claimwatch::extract::extract(&html, &base);
    // Text comes from the page (entities can expand a little, never without bound).
    assert!(extracted.text.len() <= 8 * html.len() + 1024, "{} from {}", extracted.text.len(), html.len());
});
