//! Bytes → UTF-8: `charset::decode_hinted` must never panic, for any bytes, header and TLD hint,
//! and always return valid UTF-8 (a `String`) of bounded size.
#![no_main]

use libfuzzer_sys::fuzz_target;

const HEADERS: [Option<&str>; 6] = [
    None,
    Some("text/html"),
    Some("text/html; charset=utf-8"),
    Some("text/xml; charset=koi8-u"),
    Some("text/html; charset=\"windows-1251\""),
    Some("text/html; charset=utf-16"),
];
const TLDS: [Option<&str>; 3] = [None, Some("ua"), Some("ro")];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else { return };
    let header = HEADERS[selector as usize % HEADERS.len()];
    let tld = TLDS[(selector as usize / HEADERS.len()) % TLDS.len()];
    let decoded = claimwatch::charset::decode_hinted(bytes, header, tld);
    // Each input byte becomes at most one replacement character (3 bytes) or one code point.
    assert!(decoded.text.len() <= 3 * bytes.len() + 3);
});
