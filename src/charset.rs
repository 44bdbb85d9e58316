//! Bytes → UTF-8 text for fetched feeds and pages and for local files: the one place that decides
//! which character encoding a document is in.
//!
//! The order follows the HTML encoding-sniffing algorithm in spirit: a byte-order mark wins, then
//! the transport's `Content-Type` charset, then the document's own declaration (XML prolog
//! `encoding=`, `<meta charset>`, `<meta http-equiv="content-type">`, in the first 4 KiB), then
//! UTF-8 when the bytes read as UTF-8, and only then is the encoding guessed with chardetng.
//! Unlike a browser, we do not trust a declaration blindly: Ukrainian and Russian sites still
//! serve windows-1251 or koi8-u under a header that says UTF-8 or windows-1252. But one stray
//! byte is not evidence: real pages declared UTF-8 carry a few Latin-1 bytes from a template or a
//! pasted quote, and re-decoding the whole page for them garbles every letter outside ASCII.
//!
//! So decisions are by share, over the non-ASCII sequences of the whole input
//! (`Utf8Evidence`): a UTF-8 declaration stands, stray bytes becoming U+FFFD, unless malformed
//! sequences outnumber well-formed multi-byte characters ([`UTF8_DECLARED_MIN_SHARE`], 50 %);
//! without a declaration, or against a legacy one, the bytes are read as UTF-8 when at least
//! [`UTF8_UNDECLARED_MIN_SHARE`] (90 %) of them are well-formed. Why these numbers: text in a
//! single-byte encoding read as UTF-8 is almost all malformed, since its letters are high bytes
//! followed by letters, rarely by the 0x80–0xBF continuation bytes UTF-8 needs (Ukrainian in
//! windows-1251 or koi8-u, the worst cases, forms accidental valid pairs such as a capital
//! before `і`, `ї` or `є`: 10–20 % on capital-heavy text); genuine UTF-8 with stray bytes is
//! at 95 % and more. 50 %
//! is the midpoint for a declaration we otherwise believe; 90 % still leaves a wide margin
//! above the legacy encodings. A legacy declaration (windows-1251, koi8-u, …) is overridden by
//! the detector's guess only when decoding with it looks garbled broadly: more than 2× the
//! guess's garble and on more than [`LEGACY_GARBLE_MIN_SHARE`] (1 in 20) of the non-ASCII
//! characters, so that a few stray bytes in a windows-1251 page leave it windows-1251.
//!
//! The trade-off: a page that mixes two encodings in comparable amounts comes out half garbled
//! whatever we choose; we keep the declared half. Nothing here does I/O and nothing panics.

use encoding_rs::{Encoding, UTF_8, WINDOWS_1252};

/// How many leading bytes are scanned for an in-document declaration.
const PRESCAN_BYTES: usize = 4096;

/// Where the chosen encoding came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A byte-order mark at the start of the bytes.
    Bom,
    /// The `charset` parameter of the `Content-Type` header.
    Header,
    /// An XML prolog or an HTML `<meta>` declaration.
    Document,
    /// Nothing declared (or the declaration was unusable) and the bytes are valid UTF-8.
    Utf8,
    /// Guessed by chardetng, with or against a declaration.
    Detected,
}

/// The decoded text and how its encoding was chosen.
#[derive(Debug, Clone)]
pub struct Decoded {
    pub text: String,
    pub encoding: &'static Encoding,
    pub source: Source,
    /// The encoding that the header or the document declared, if any, even when overridden.
    pub declared: Option<&'static Encoding>,
    /// Some bytes were malformed in the chosen encoding and became U+FFFD.
    pub had_errors: bool,
}

/// Decodes `bytes` to UTF-8, given the `Content-Type` header value when there is one.
pub fn decode(bytes: &[u8], content_type: Option<&str>) -> Decoded {
    decode_hinted(bytes, content_type, None)
}

/// Like [`decode`], with the host's top-level domain (e.g. `"ua"`, lower case, no dot) as a hint
/// for the detector: `.ua` and `.ru` make the Cyrillic encodings likelier.
pub fn decode_hinted(bytes: &[u8], content_type: Option<&str>, tld: Option<&str>) -> Decoded {
    if let Some((encoding, bom_len)) = Encoding::for_bom(bytes) {
        return finish(&bytes[bom_len..], encoding, Source::Bom, Some(encoding));
    }
    let from_header = content_type.and_then(charset_param).and_then(label_to_encoding);
    let (declared, source) = match from_header {
        Some(encoding) => (Some(encoding), Source::Header),
        None => (prescan(bytes), Source::Document),
    };
    let evidence = Utf8Evidence::of(bytes);
    match declared {
        Some(encoding) if encoding == UTF_8 => {
            if evidence.share() >= UTF8_DECLARED_MIN_SHARE {
                finish(bytes, UTF_8, source, declared)
            } else {
                finish(bytes, detect(bytes, tld), Source::Detected, declared)
            }
        }
        Some(encoding) => {
            // A legacy declaration over bytes that read as UTF-8 with non-ASCII in them is
            // almost always a stale header: such byte runs are vanishingly rare in real
            // single-byte text.
            if evidence.well_formed > 0 && evidence.share() >= UTF8_UNDECLARED_MIN_SHARE {
                return finish(bytes, UTF_8, Source::Detected, declared);
            }
            if bytes.is_ascii() {
                return finish(bytes, encoding, source, declared);
            }
            // Only a broadly garbled decoding can be overridden, so the detector is asked only
            // then (most legacy declarations are honest, and it reads the whole input).
            let (as_declared, _) = encoding.decode_without_bom_handling(bytes);
            let garbled_declared = garble(&as_declared);
            let non_ascii = as_declared.chars().filter(|c| !c.is_ascii()).count();
            if garbled_declared as f64 <= LEGACY_GARBLE_MIN_SHARE * non_ascii as f64 {
                return finish(bytes, encoding, source, declared);
            }
            let guess = detect(bytes, tld);
            if guess == encoding {
                return finish(bytes, encoding, source, declared);
            }
            let (as_guessed, _) = guess.decode_without_bom_handling(bytes);
            if garbled_declared > 2 * garble(&as_guessed) + 2 {
                finish(bytes, guess, Source::Detected, declared)
            } else {
                finish(bytes, encoding, source, declared)
            }
        }
        None if evidence.malformed == 0 => finish(bytes, UTF_8, Source::Utf8, None),
        None if evidence.well_formed > 0 && evidence.share() >= UTF8_UNDECLARED_MIN_SHARE => {
            finish(bytes, UTF_8, Source::Utf8, None)
        }
        None => finish(bytes, detect(bytes, tld), Source::Detected, None),
    }
}

/// A UTF-8 declaration stands while at least this share of the non-ASCII sequences are
/// well-formed UTF-8 (see the module doc for why).
const UTF8_DECLARED_MIN_SHARE: f64 = 0.5;
/// Without a declaration, or against a legacy one, the bytes are UTF-8 from this share on.
const UTF8_UNDECLARED_MIN_SHARE: f64 = 0.9;
/// A legacy declaration is overridden only when this share of its non-ASCII characters or more
/// look garbled (and twice as many as with the detector's guess).
const LEGACY_GARBLE_MIN_SHARE: f64 = 0.05;

/// How the bytes read as UTF-8: well-formed multi-byte characters and malformed sequences.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Utf8Evidence {
    well_formed: usize,
    malformed: usize,
}

impl Utf8Evidence {
    /// One linear pass over the bytes (a fast validation first: most pages are valid UTF-8,
    /// and then only whether there is any non-ASCII matters).
    fn of(bytes: &[u8]) -> Self {
        if std::str::from_utf8(bytes).is_ok() {
            return Utf8Evidence { well_formed: usize::from(!bytes.is_ascii()), malformed: 0 };
        }
        let mut evidence = Utf8Evidence::default();
        for chunk in bytes.utf8_chunks() {
            evidence.well_formed += chunk.valid().chars().filter(|c| !c.is_ascii()).count();
            evidence.malformed += usize::from(!chunk.invalid().is_empty());
        }
        evidence
    }

    /// The share of well-formed among the non-ASCII sequences; 1 for pure ASCII.
    fn share(self) -> f64 {
        let all = self.well_formed + self.malformed;
        if all == 0 {
            1.0
        } else {
            self.well_formed as f64 / all as f64
        }
    }
}

fn finish(
    bytes: &[u8],
    encoding: &'static Encoding,
    source: Source,
    declared: Option<&'static Encoding>,
) -> Decoded {
    let (text, had_errors) = encoding.decode_without_bom_handling(bytes);
    Decoded { text: text.into_owned(), encoding, source, declared, had_errors }
}

/// chardetng's guess over the whole input (it is linear and cheap).
fn detect(bytes: &[u8], tld: Option<&str>) -> &'static Encoding {
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    detector.feed(bytes, true);
    // chardetng asserts on upper case, dots and non-ASCII in the TLD: only pass clean labels.
    let tld =
        tld.filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
    detector.guess(tld.map(str::as_bytes), chardetng::Utf8Detection::Allow)
}

/// A label from a header or a document → an encoding, with the HTML spec's rule that a document
/// cannot declare UTF-16 (it would not have been readable as ASCII to find the declaration).
fn label_to_encoding(label: &str) -> Option<&'static Encoding> {
    let encoding = Encoding::for_label(label.trim().as_bytes())?;
    if encoding == encoding_rs::UTF_16BE || encoding == encoding_rs::UTF_16LE {
        return Some(UTF_8);
    }
    if encoding == encoding_rs::X_USER_DEFINED || encoding == encoding_rs::REPLACEMENT {
        return Some(WINDOWS_1252);
    }
    Some(encoding)
}

/// The value of `charset=` in a `Content-Type`-like string, unquoted.
fn charset_param(content_type: &str) -> Option<&str> {
    let lower = content_type.to_ascii_lowercase();
    let at = lower.find("charset")?;
    let rest = content_type[at + "charset".len()..].trim_start();
    let rest = rest.strip_prefix('=')?.trim_start();
    let rest = rest.trim_start_matches(['"', '\'']);
    let end = rest.find(|c: char| c == '"' || c == '\'' || c == ';' || c == ',' || c.is_whitespace());
    let value = &rest[..end.unwrap_or(rest.len())];
    (!value.is_empty()).then_some(value)
}

/// The encoding declared inside the first [`PRESCAN_BYTES`] of the document.
fn prescan(bytes: &[u8]) -> Option<&'static Encoding> {
    let head = &bytes[..bytes.len().min(PRESCAN_BYTES)];
    // Declarations are ASCII; lossy conversion keeps byte offsets meaningless but finds them.
    let head = String::from_utf8_lossy(head).to_ascii_lowercase();
    if let Some(prolog) = head.trim_start().strip_prefix("<?xml") {
        let prolog = &prolog[..prolog.find("?>").unwrap_or(prolog.len())];
        if let Some(at) = prolog.find("encoding") {
            let rest = prolog[at + "encoding".len()..].trim_start();
            if let Some(rest) = rest.strip_prefix('=') {
                let rest = rest.trim_start().trim_start_matches(['"', '\'']);
                let end = rest.find(['"', '\'', ' ', '?']).unwrap_or(rest.len());
                if let Some(encoding) = label_to_encoding(&rest[..end]) {
                    return Some(encoding);
                }
            }
        }
    }
    let mut from = 0;
    while let Some(found) = head[from..].find("<meta") {
        let start = from + found + "<meta".len();
        let end = head[start..].find('>').map_or(head.len(), |e| start + e);
        let tag = &head[start..end];
        if let Some(encoding) = charset_param(tag).and_then(label_to_encoding) {
            return Some(encoding);
        }
        from = end;
    }
    None
}

/// How garbled a decoding looks: symbols and controls where letters should be, case flipping
/// inside words, and Latin-1 letters glued to Cyrillic ones. Zero for clean text.
fn garble(text: &str) -> usize {
    let mut score = 0;
    let mut prev: Option<char> = None;
    for c in text.chars() {
        if !c.is_ascii() {
            if c == '\u{FFFD}' || c.is_control() {
                score += 2;
            } else if !c.is_alphabetic() && !is_common_punctuation(c) {
                score += 1;
            }
        }
        if let Some(p) = prev {
            if !p.is_ascii() && !c.is_ascii() && p.is_alphabetic() && c.is_alphabetic() {
                // Lower → upper inside a word: "пРИВІТ", "ÏðèâÅ".
                if p.is_lowercase() && c.is_uppercase() {
                    score += 1;
                }
                if is_cyrillic(p) != is_cyrillic(c) {
                    score += 1;
                }
            }
        }
        prev = Some(c);
    }
    score
}

fn is_cyrillic(c: char) -> bool {
    ('\u{0400}'..='\u{052F}').contains(&c)
}

fn is_common_punctuation(c: char) -> bool {
    matches!(
        c,
        '«' | '»'
            | '„'
            | '“'
            | '”'
            | '‘'
            | '’'
            | '‚'
            | '–'
            | '—'
            | '…'
            | '\u{00A0}'
            | '№'
            | '€'
            | '°'
            | '•'
            | '·'
            | '©'
            | '®'
            | '™'
            | '§'
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use encoding_rs::{ISO_8859_2, KOI8_U, WINDOWS_1250, WINDOWS_1251};

    const UK: &str = "Президент України заявив, що гарантії безпеки мають бути юридично \
        зобов'язуючими. Міністр закордонних справ підтвердив, що переговори тривають, а \
        європейські партнери готові надати підтримку. «Ми очікуємо рішень найближчим часом», \
        — сказав він журналістам у Києві.";
    /// KOI8 has no guillemets or dashes.
    const UK_PLAIN: &str = "Президент України заявив, що гарантії безпеки мають бути юридично \
        обов'язковими. Міністр закордонних справ підтвердив, що переговори тривають, а \
        європейські партнери готові надати підтримку найближчим часом.";
    const RU: &str = "Министр иностранных дел заявил, что переговоры о гарантиях безопасности \
        продолжатся на следующей неделе. По его словам, стороны обсуждают механизмы контроля \
        и сроки выполнения договорённостей, а также участие европейских государств.";
    const PL: &str = "Minister spraw zagranicznych powiedział, że gwarancje bezpieczeństwa dla \
        Ukrainy muszą być wiążące. Rozmowy będą kontynuowane w przyszłym tygodniu w Brukseli, \
        gdzie spotkają się przedstawiciele państw członkowskich i sojuszników.";

    fn bytes(text: &str, encoding: &'static Encoding) -> Vec<u8> {
        let (bytes, _, unmappable) = encoding.encode(text);
        assert!(!unmappable, "test text not representable in {}", encoding.name());
        bytes.into_owned()
    }

    fn page(body: &str, meta: &str) -> String {
        format!("<html><head>{meta}<title>t</title></head><body><p>{body}</p></body></html>")
    }

    #[track_caller]
    fn check(bytes: &[u8], content_type: Option<&str>, expected: &'static Encoding, text: &str) {
        let decoded = decode(bytes, content_type);
        assert_eq!(decoded.encoding.name(), expected.name(), "source {:?}", decoded.source);
        assert!(decoded.text.contains(text), "text not recovered: {}", decoded.text);
    }

    #[test]
    fn utf8_without_declaration() {
        check(UK.as_bytes(), None, UTF_8, UK);
    }

    #[test]
    fn bom_wins_over_header() {
        let mut b = vec![0xEF, 0xBB, 0xBF];
        b.extend_from_slice(RU.as_bytes());
        check(&b, Some("text/html; charset=windows-1251"), UTF_8, RU);
        let decoded = decode(&b, None);
        assert_eq!(decoded.source, Source::Bom);
        assert!(!decoded.text.starts_with('\u{FEFF}'));
    }

    #[test]
    fn windows_1251_declared_in_header() {
        check(&bytes(UK, WINDOWS_1251), Some("text/html; charset=windows-1251"), WINDOWS_1251, UK);
        check(&bytes(UK, WINDOWS_1251), Some("text/html;charset=\"cp1251\""), WINDOWS_1251, UK);
    }

    #[test]
    fn windows_1251_declared_in_meta() {
        let html = page(UK, r#"<meta http-equiv="Content-Type" content="text/html; charset=windows-1251">"#);
        check(&bytes(&html, WINDOWS_1251), None, WINDOWS_1251, UK);
        let html = page(RU, r#"<meta charset='WINDOWS-1251'>"#);
        check(&bytes(&html, WINDOWS_1251), Some("text/html"), WINDOWS_1251, RU);
    }

    #[test]
    fn windows_1251_undeclared_is_detected() {
        let decoded = decode(&bytes(&page(UK, ""), WINDOWS_1251), None);
        assert_eq!(decoded.encoding, WINDOWS_1251);
        assert_eq!(decoded.source, Source::Detected);
        assert!(decoded.text.contains(UK));
    }

    #[test]
    fn windows_1251_under_a_lying_utf8_header() {
        check(&bytes(&page(UK, ""), WINDOWS_1251), Some("text/html; charset=utf-8"), WINDOWS_1251, UK);
        let html = page(RU, r#"<meta charset="utf-8">"#);
        check(&bytes(&html, WINDOWS_1251), None, WINDOWS_1251, RU);
    }

    #[test]
    fn windows_1251_under_a_lying_latin1_header() {
        check(&bytes(&page(UK, ""), WINDOWS_1251), Some("text/html; charset=iso-8859-1"), WINDOWS_1251, UK);
    }

    #[test]
    fn koi8_u_declared_and_undeclared() {
        check(&bytes(&page(UK_PLAIN, ""), KOI8_U), Some("text/html; charset=koi8-u"), KOI8_U, UK_PLAIN);
        check(&bytes(&page(RU, r#"<meta charset="koi8-r">"#), KOI8_U), None, encoding_rs::KOI8_R, RU);
        check(&bytes(&page(UK_PLAIN, ""), KOI8_U), None, KOI8_U, UK_PLAIN);
    }

    #[test]
    fn koi8_u_under_a_lying_windows_1251_header() {
        check(&bytes(&page(UK_PLAIN, ""), KOI8_U), Some("text/html; charset=windows-1251"), KOI8_U, UK_PLAIN);
        check(&bytes(&page(RU, ""), KOI8_U), Some("text/html; charset=utf-8"), KOI8_U, RU);
    }

    #[test]
    fn iso_8859_2_polish() {
        check(&bytes(&page(PL, ""), ISO_8859_2), Some("text/html; charset=iso-8859-2"), ISO_8859_2, PL);
        // Undeclared Central European bytes: windows-1250 and iso-8859-2 agree on these letters
        // except ą ś ź, so accept either as long as the text comes out right.
        let decoded = decode(&bytes(&page(PL, ""), WINDOWS_1250), None);
        assert!(decoded.text.contains(PL), "{:?}: {}", decoded.encoding, decoded.text);
    }

    #[test]
    fn honest_latin1_french_is_kept() {
        let fr = "Le ministre a déclaré que les garanties de sécurité étaient « crédibles » et \
            qu'elles seraient négociées à Genève après l'été.";
        check(&bytes(&page(fr, ""), WINDOWS_1252), Some("text/html; charset=iso-8859-1"), WINDOWS_1252, fr);
    }

    #[test]
    fn xml_prolog_declaration() {
        let xml = format!("<?xml version=\"1.0\" encoding=\"windows-1251\"?><rss><title>{RU}</title></rss>");
        let decoded = decode(&bytes(&xml, WINDOWS_1251), None);
        assert_eq!(decoded.encoding, WINDOWS_1251);
        assert_eq!(decoded.source, Source::Document);
        assert!(decoded.text.contains(RU));
    }

    #[test]
    fn utf8_under_a_stale_legacy_header() {
        check(UK.as_bytes(), Some("text/html; charset=windows-1251"), UTF_8, UK);
    }

    #[test]
    fn ascii_keeps_its_declaration() {
        let decoded = decode(b"<p>plain</p>", Some("text/html; charset=windows-1251"));
        assert_eq!(decoded.encoding, WINDOWS_1251);
        assert_eq!(decoded.source, Source::Header);
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        for input in [
            &b""[..],
            b"\xff\xfe",
            b"\xfe\xff\x00",
            b"<meta charset=",
            b"<meta charset=\"",
            b"<?xml encoding=",
            b"<?xml",
            b"\x80\x81\x82\xff<meta",
        ] {
            let _ = decode(input, Some("charset="));
            let _ = decode(input, Some("text/html; charset=\"bogus-label\""));
            let _ = decode_hinted(input, None, Some("UA."));
        }
    }

    const RO: &str = "Ministrul de externe a declarat că garanțiile de securitate pentru Ucraina \
        trebuie să fie obligatorii. Discuțiile vor continua săptămâna viitoare la București, \
        unde se vor întâlni reprezentanții statelor membre și ai aliaților.";

    /// A page as sites serve it: the article's text in the title, the description and the
    /// body, plus three stray Latin-1 bytes (a template's `é` and `©`, a pasted `»`) that are
    /// not valid UTF-8.
    fn with_stray_bytes(head: &str, text: &str) -> Vec<u8> {
        let title: String = text.chars().take(60).collect();
        let mut b = format!(
            "<html><head>{head}<title>{title}</title><meta name=\"description\" content=\"{text}\">\
             </head><body><h1>{title}</h1><p>{text}</p>"
        )
        .into_bytes();
        b.extend_from_slice(b"<div class=\"nav\">Caf\xe9</div><footer>\xa9 2024 \xbb</footer></body></html>");
        b
    }

    #[test]
    fn utf8_declared_with_stray_bytes_stays_utf8() {
        for (text, meta) in [
            (UK, r#"<meta charset="utf-8">"#),
            (RU, r#"<meta http-equiv="Content-Type" content="text/html; charset=UTF-8">"#),
            (RO, r#"<meta charset="utf-8">"#),
            (PL, r#"<meta charset="utf-8">"#),
        ] {
            let bytes = with_stray_bytes(meta, text);
            let decoded = decode(&bytes, None);
            assert_eq!(decoded.encoding, UTF_8, "{text}");
            assert_eq!(decoded.source, Source::Document);
            assert!(decoded.had_errors);
            assert!(decoded.text.contains(text), "garbled: {}", decoded.text);
            assert_eq!(decoded.text.matches('\u{FFFD}').count(), 3);
        }
        let decoded = decode(&with_stray_bytes("", UK), Some("text/html; charset=utf-8"));
        assert_eq!((decoded.encoding, decoded.source), (UTF_8, Source::Header));
        assert!(decoded.text.contains(UK));
    }

    #[test]
    fn undeclared_utf8_with_stray_bytes_stays_utf8() {
        for text in [UK, RU, RO, PL] {
            let decoded = decode(&with_stray_bytes("", text), None);
            assert_eq!(decoded.encoding, UTF_8, "{text}");
            assert!(decoded.text.contains(text), "garbled: {}", decoded.text);
        }
    }

    #[test]
    fn a_windows_1251_page_with_a_utf8_fragment_stays_windows_1251() {
        // A UTF-8 fragment pasted in (a widget, a quote) neither makes a lying UTF-8 declaration
        // true nor overrides an honest windows-1251 one.
        for meta in [r#"<meta charset="utf-8">"#, r#"<meta charset="windows-1251">"#] {
            let mut b = bytes(&page(UK, meta), WINDOWS_1251);
            b.extend_from_slice("<p>«Ціна» Київ ©</p>".as_bytes());
            let decoded = decode(&b, None);
            assert_eq!(decoded.encoding, WINDOWS_1251, "{meta}");
            assert!(decoded.text.contains(UK));
        }
    }

    #[test]
    fn a_koi8_u_page_with_stray_bytes_keeps_its_declaration() {
        let mut b = bytes(&page(UK_PLAIN, ""), KOI8_U);
        b.extend_from_slice(b"<p>\x96 \x98</p>");
        let decoded = decode(&b, Some("text/html; charset=koi8-u"));
        assert_eq!(decoded.encoding, KOI8_U);
        assert!(decoded.text.contains(UK_PLAIN));
    }

    #[test]
    fn utf8_with_stray_bytes_under_a_stale_legacy_header() {
        let decoded = decode(&with_stray_bytes("", RU), Some("text/html; charset=windows-1251"));
        assert_eq!(decoded.encoding, UTF_8);
        assert!(decoded.text.contains(RU));
    }

    #[test]
    fn legacy_text_reads_as_malformed_utf8() {
        // The margin behind the thresholds: single-byte Cyrillic, Polish and Romanian text is
        // far below the share of well-formed sequences at which we call bytes UTF-8.
        let capitals = "Він Їх Єдність Іванов Вінниця Їжак Її Віра Іллічівськ";
        for (text, encoding) in [
            (UK, WINDOWS_1251),
            (capitals, WINDOWS_1251),
            (UK_PLAIN, KOI8_U),
            (RU, WINDOWS_1251),
            (PL, ISO_8859_2),
            (PL, WINDOWS_1250),
            (RO, encoding_rs::ISO_8859_16),
        ] {
            let share = Utf8Evidence::of(&bytes(text, encoding)).share();
            assert!(share < 0.25, "{} {share}: {text}", encoding.name());
        }
        assert!(Utf8Evidence::of(&with_stray_bytes("", PL)).share() > 0.9);
    }

    #[test]
    fn utf16_declaration_in_document_means_utf8() {
        check(page(UK, r#"<meta charset="utf-16">"#).as_bytes(), None, UTF_8, UK);
    }
}
