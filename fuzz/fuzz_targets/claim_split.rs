//! The claim splitter: `claims::split::split` must never panic on any text (abbreviations at the
//! end, lone punctuation, any script), keep every sentence within `MAX_SENTENCE_BYTES` (plus one
//! character) and only return text that occurs in the input's lines.
#![no_main]

use std::collections::HashSet;

use claimwatch::claims::split::{split, MAX_SENTENCE_BYTES};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let abbreviations: HashSet<String> =
        ["u.s.", "gen.", "ст.", "р.", "nr.", "dr."].iter().map(|s| s.to_string()).collect();
    let is_month = |w: &str| matches!(w.to_lowercase().as_str(), "februar" | "march" | "травня" | "mai");
    for segment in split(text, &abbreviations, &is_month) {
        assert!(segment.text.len() <= MAX_SENTENCE_BYTES + 4, "{} bytes", segment.text.len());
    }
});
