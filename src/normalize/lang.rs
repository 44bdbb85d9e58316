//! Language identification for the languages the claim engine supports (en uk ru ro pl de fr).
//! whatlang, restricted to those languages, gives a first guess; letter evidence then decides
//! what trigram statistics confuse: і ї є ґ are Ukrainian and ы э ъ ё Russian, ă â î ș ț
//! Romanian, ą ę ł ś ź ż ń Polish, ä ö ü ß German. A declared language (page or feed) is kept
//! when it is supported and the text's script and letters do not contradict it.
//!
//! Trade-off: a text in an unsupported language written in Latin letters (e.g. Latvian) may be
//! labelled with the nearest supported language when whatlang is unsure; such articles then
//! fail the topic gate rather than being mis-analysed as claims.

use whatlang::{Detector, Lang};

/// Languages with lexicons, in the codes used everywhere (ISO 639-1).
pub const SUPPORTED: &[&str] = &["en", "uk", "ru", "ro", "pl", "de", "fr"];

/// The language code for text that is not in a supported language.
pub const UNSUPPORTED: &str = "und";

/// Counts of letters that tell languages apart.
#[derive(Debug, Default)]
struct Evidence {
    latin: usize,
    cyrillic: usize,
    other: usize,
    uk: usize,
    ru: usize,
    ro: usize,
    pl: usize,
    de: usize,
    fr: usize,
}

fn evidence(text: &str) -> Evidence {
    let mut e = Evidence::default();
    for c in text.chars().take(20_000) {
        if !c.is_alphabetic() {
            continue;
        }
        let lower = c.to_lowercase().next().unwrap_or(c);
        match lower {
            'і' | 'ї' | 'є' | 'ґ' => e.uk += 1,
            'ы' | 'э' | 'ъ' | 'ё' => e.ru += 1,
            'ă' | 'ș' | 'ț' | 'ş' | 'ţ' | 'î' | 'â' => e.ro += 1,
            'ą' | 'ę' | 'ł' | 'ś' | 'ź' | 'ż' | 'ń' | 'ć' => e.pl += 1,
            'ä' | 'ö' | 'ü' | 'ß' => e.de += 1,
            'é' | 'è' | 'ê' | 'à' | 'ç' | 'œ' | 'ù' | 'ë' | 'ô' => e.fr += 1,
            _ => {}
        }
        if ('\u{0400}'..='\u{04FF}').contains(&lower) {
            e.cyrillic += 1;
        } else if lower.is_ascii_alphabetic() || ('\u{00C0}'..='\u{024F}').contains(&lower) {
            e.latin += 1;
        } else {
            e.other += 1;
        }
    }
    e
}

fn code(lang: Lang) -> Option<&'static str> {
    Some(match lang {
        Lang::Eng => "en",
        Lang::Ukr => "uk",
        Lang::Rus => "ru",
        Lang::Ron => "ro",
        Lang::Pol => "pl",
        Lang::Deu => "de",
        Lang::Fra => "fr",
        _ => return None,
    })
}

/// Detects the language of `text`, honouring `hint` when it is plausible. Returns
/// [`UNSUPPORTED`] for text with too few letters of our scripts.
pub fn detect(text: &str, hint: Option<&str>) -> &'static str {
    let e = evidence(text);
    let letters = e.latin + e.cyrillic + e.other;
    if letters < 20 || e.other * 2 > letters {
        return UNSUPPORTED;
    }
    let cyrillic = e.cyrillic > e.latin;
    let hint = hint
        .map(|h| h.trim().to_ascii_lowercase())
        .and_then(|h| SUPPORTED.iter().find(|s| h == **s || h.starts_with(&format!("{s}-"))).copied());
    if cyrillic {
        let by_letters = if e.uk > e.ru {
            Some("uk")
        } else if e.ru > e.uk {
            Some("ru")
        } else {
            None
        };
        return match (hint, by_letters) {
            (Some(h @ ("uk" | "ru")), None) => h,
            (Some(h @ ("uk" | "ru")), Some(l)) if h == l => h,
            (_, Some(l)) if e.uk.max(e.ru) >= 2 || hint.is_none() => l,
            _ => {
                let guess = Detector::with_allowlist(vec![Lang::Ukr, Lang::Rus]).detect_lang(text);
                guess.and_then(code).unwrap_or("uk")
            }
        };
    }
    if let Some(h) = hint.filter(|h| !matches!(*h, "uk" | "ru")) {
        // A declared Latin-script language is kept unless letters clearly say another one.
        let strong = [("ro", e.ro), ("pl", e.pl), ("de", e.de), ("fr", e.fr)]
            .into_iter()
            .filter(|(l, n)| *l != h && *n * 100 > e.latin.max(1) * 2)
            .max_by_key(|(_, n)| *n);
        if strong.is_none() {
            return h;
        }
    }
    let detector = Detector::with_allowlist(vec![Lang::Eng, Lang::Ron, Lang::Pol, Lang::Deu, Lang::Fra]);
    let sample: String = text.chars().take(5_000).collect();
    let guess = detector.detect(&sample);
    let by_letters = [("ro", e.ro), ("pl", e.pl), ("de", e.de), ("fr", e.fr)]
        .into_iter()
        .filter(|(_, n)| *n * 100 > e.latin.max(1))
        .max_by_key(|(_, n)| *n)
        .map(|(l, _)| l);
    match guess {
        Some(info) if info.confidence() > 0.5 || by_letters.is_none() => {
            code(info.lang()).unwrap_or(UNSUPPORTED)
        }
        _ => by_letters.unwrap_or("en"),
    }
}

#[cfg(test)]
mod tests {
    use super::detect;

    #[track_caller]
    fn check(text: &str, hint: Option<&str>, expected: &str) {
        assert_eq!(detect(text, hint), expected, "{text}");
    }

    #[test]
    fn ukrainian_and_russian_are_told_apart_by_letters() {
        check("Зеленський заявив, що гарантії безпеки мають бути юридично обов'язковими.", None, "uk");
        check("Зеленский заявил, что гарантии безопасности должны быть юридически обязывающими.", None, "ru");
        check(
            "Зеленский заявил, что гарантии безопасности должны быть юридически обязывающими.",
            Some("uk"),
            "ru",
        );
    }

    #[test]
    fn latin_languages() {
        check("The allies agreed to take part in a US-led mechanism to monitor a ceasefire.", None, "en");
        check(
            "Aliații vor participa la un mecanism de monitorizare a încetării focului condus de SUA.",
            None,
            "ro",
        );
        check("Sojusznicy zadeklarowali udział w mechanizmie monitorowania zawieszenia broni.", None, "pl");
        check("Die Verbündeten wollen sich an einer Überwachung der Waffenruhe beteiligen.", None, "de");
        check("Les alliés participeront à un mécanisme de surveillance du cessez-le-feu.", None, "fr");
    }

    #[test]
    fn unsupported_scripts_and_empty_text() {
        check("", None, "und");
        check("这是一个关于乌克兰安全保障的中文句子，不在支持的语言之内。", None, "und");
        check("هذه جملة باللغة العربية عن الضمانات الأمنية لأوكرانيا وهي غير مدعومة", None, "und");
    }
}
