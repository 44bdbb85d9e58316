//! Text normalisation shared by every language stage: Unicode NFKC, one form for quotes, dashes
//! and apostrophes (including the Ukrainian apostrophe variants), Romanian ş/ţ (cedilla) folded to
//! ș/ț (comma), control characters dropped and whitespace collapsed inside lines. It also owns the
//! tokenizer and the "match key" of a word (case folded, diacritics dropped) that every lexicon is
//! compiled to. It does not know any lexicon; language identification is in [`lang`], URL
//! canonicalisation in [`url`].
//!
//! Trade-off: match keys drop diacritics (ă→a, й→и, ё→е) so that text typed without diacritics
//! still matches; a few distinct words collide, which the lexicons tolerate.

pub mod lang;
pub mod url;

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Normalises article text: NFKC, unified punctuation, no control characters, single spaces
/// inside lines, at most one blank line between paragraphs.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.nfkc() {
        let c = match c {
            '\u{2018}' | '\u{2019}' | '\u{02BC}' | '\u{02B9}' | '\u{0060}' | '\u{00B4}' | '\u{2032}' => '\'',
            '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' | '\u{00AB}' | '\u{00BB}' | '\u{2033}' => '"',
            '\u{2010}' | '\u{2011}' => '-',
            '\u{2012}' | '\u{2013}' | '\u{2014}' | '\u{2015}' | '\u{2212}' => '–',
            '\u{015F}' => 'ș',
            '\u{015E}' => 'Ș',
            '\u{0163}' => 'ț',
            '\u{0162}' => 'Ț',
            '\u{00A0}' | '\u{2007}' | '\u{202F}' | '\u{2009}' | '\u{200A}' => ' ',
            '\r' => continue,
            '\n' | '\t' => {
                out.push(if c == '\t' { ' ' } else { '\n' });
                continue;
            }
            '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{FEFF}' | '\u{00AD}' => continue,
            c if c.is_control() => ' ',
            c => c,
        };
        out.push(c);
    }
    // Collapse spaces inside lines and blank-line runs.
    let mut result = String::with_capacity(out.len());
    let mut blank_run = 0;
    for line in out.split('\n') {
        let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
        if line.is_empty() {
            blank_run += 1;
            continue;
        }
        if !result.is_empty() {
            result.push_str(if blank_run > 0 { "\n\n" } else { "\n" });
        }
        blank_run = 0;
        result.push_str(&line);
    }
    result
}

/// The key a word is matched by: lower case, apostrophes removed, diacritics dropped, a few
/// letters that do not decompose spelled out (ł→l, ß→ss).
pub fn match_key(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    for c in word.nfkd() {
        if is_combining_mark(c) || c == '\'' {
            continue;
        }
        match c {
            'ł' | 'Ł' => out.push('l'),
            'ß' => out.push_str("ss"),
            'œ' | 'Œ' => out.push_str("oe"),
            'æ' | 'Æ' => out.push_str("ae"),
            'ё' | 'Ё' => out.push('е'),
            c => out.extend(c.to_lowercase()),
        }
    }
    out
}

/// One word or number of a sentence.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    /// The word as written (after [`normalize`]).
    pub text: String,
    /// Its [`match_key`].
    pub key: String,
    /// Byte offset in the sentence.
    pub start: usize,
    /// A number (digits with optional group or decimal separators).
    pub is_number: bool,
    /// Joined to the previous token by a hyphen ("800-тисячна", "US-Gesandten").
    pub hyphen_before: bool,
    /// Punctuation (`, ; : . ! ? ( ) –`) separates it from the previous token.
    pub punct_before: bool,
}

impl Token {
    /// Starts with an upper-case letter.
    pub fn is_capitalized(&self) -> bool {
        self.text.chars().next().is_some_and(char::is_uppercase)
    }

    /// Two or more letters, all upper case ("NATO", "США").
    pub fn is_acronym(&self) -> bool {
        self.text.chars().count() >= 2
            && self.text.chars().all(|c| c.is_uppercase() || c.is_ascii_digit())
            && self.text.chars().any(char::is_alphabetic)
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || is_combining_mark(c)
}

/// Splits a sentence into word and number tokens. Apostrophes inside words stay in the word
/// (and drop out of its key); hyphens split words but are remembered; a number keeps its group
/// separators ("800,000", "25.000", "800 000", "1,5").
pub fn tokenize(text: &str) -> Vec<Token> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    let mut hyphen = false;
    let mut punct = false;
    while i < chars.len() {
        let (start, c) = chars[i];
        if c.is_ascii_digit() {
            let mut j = i;
            loop {
                while j < chars.len() && chars[j].1.is_ascii_digit() {
                    j += 1;
                }
                // A separator followed by a digit continues the number; a space only when exactly
                // three digits follow (a thousands group).
                if j + 1 < chars.len() && matches!(chars[j].1, '.' | ',') && chars[j + 1].1.is_ascii_digit() {
                    j += 1;
                    continue;
                }
                if j + 3 < chars.len()
                    && chars[j].1 == ' '
                    && chars[j + 1..].iter().take(3).all(|(_, d)| d.is_ascii_digit())
                    && chars.get(j + 4).is_none_or(|(_, d)| !d.is_ascii_digit())
                {
                    j += 1;
                    continue;
                }
                break;
            }
            let end = chars.get(j).map(|(b, _)| *b).unwrap_or(text.len());
            let word = &text[start..end];
            tokens.push(Token {
                text: word.to_string(),
                key: word.to_string(),
                start,
                is_number: true,
                hyphen_before: hyphen,
                punct_before: punct,
            });
            hyphen = false;
            punct = false;
            i = j;
        } else if is_word_char(c) {
            let mut j = i;
            while j < chars.len() {
                let d = chars[j].1;
                // An apostrophe inside a word (l'Ukraine, don't) belongs to it.
                let inner_apostrophe =
                    d == '\'' && j > i && chars.get(j + 1).is_some_and(|(_, e)| is_word_char(*e));
                if !(is_word_char(d) || inner_apostrophe) {
                    break;
                }
                j += 1;
            }
            let end = chars.get(j).map(|(b, _)| *b).unwrap_or(text.len());
            let word = &text[start..end];
            for (offset, part) in split_elision(word) {
                tokens.push(Token {
                    text: part.to_string(),
                    key: match_key(part),
                    start: start + offset,
                    is_number: false,
                    hyphen_before: hyphen && offset == 0,
                    punct_before: punct && offset == 0,
                });
            }
            hyphen = false;
            punct = false;
            i = j;
        } else {
            hyphen = c == '-' && i > 0 && !chars[i - 1].1.is_whitespace();
            punct |= matches!(c, ',' | ';' | ':' | '.' | '!' | '?' | '(' | ')' | '–' | '"');
            i += 1;
        }
    }
    tokens
}

/// Splits a Latin-script word at an elision or contraction: French "l'Ukraine" → "l" +
/// "Ukraine", "d'observateurs"; English "doesn't" → "does" + "n't". Apostrophes inside Cyrillic
/// words (Ukrainian "прем'єр") and other Latin words ("Ukraine's") stay. Yields (byte offset, part).
fn split_elision(word: &str) -> Vec<(usize, &str)> {
    let Some(apostrophe) = word.find('\'') else {
        return vec![(0, word)];
    };
    let (head, tail) = (&word[..apostrophe], &word[apostrophe + 1..]);
    let latin = word.chars().all(|c| c.is_ascii() || ('\u{00C0}'..='\u{024F}').contains(&c) || c == '\'');
    if !latin || tail.is_empty() {
        return vec![(0, word)];
    }
    let lower = head.to_lowercase();
    if matches!(
        lower.as_str(),
        "l" | "d" | "j" | "m" | "n" | "s" | "t" | "c" | "qu" | "jusqu" | "lorsqu" | "puisqu" | "presqu"
    ) {
        return vec![(0, head), (apostrophe + 1, tail)];
    }
    if tail.eq_ignore_ascii_case("t") && lower.ends_with('n') && head.len() > 1 {
        return vec![(0, &head[..head.len() - 1]), (apostrophe - 1, &word[apostrophe - 1..])];
    }
    vec![(0, word)]
}

/// Cyrillic to Latin, for the phonetic key of names that no gazetteer knows.
pub fn transliterate(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for c in key.chars() {
        let s = match c {
            'а' => "a",
            'б' => "b",
            'в' => "v",
            'г' => "h",
            'ґ' => "g",
            'д' => "d",
            'е' => "e",
            'є' => "ie",
            'ж' => "zh",
            'з' => "z",
            'и' => "y",
            'і' => "i",
            'ї' => "i",
            'й' => "i",
            'к' => "k",
            'л' => "l",
            'м' => "m",
            'н' => "n",
            'о' => "o",
            'п' => "p",
            'р' => "r",
            'с' => "s",
            'т' => "t",
            'у' => "u",
            'ф' => "f",
            'х' => "kh",
            'ц' => "ts",
            'ч' => "ch",
            'ш' => "sh",
            'щ' => "shch",
            'ь' => "",
            'ъ' => "",
            'ы' => "y",
            'э' => "e",
            'ю' => "iu",
            'я' => "ia",
            c => {
                out.push(c);
                continue;
            }
        };
        out.push_str(s);
    }
    out
}

/// A coarse phonetic key of a name in any of our scripts: transliterated, vowels after the first
/// letter dropped, similar consonants merged, doubled letters collapsed, a few inflection endings
/// removed. "Grynkewich", "Гринкевич" and "Grinkevich" share a key.
pub fn phonetic_key(word: &str) -> String {
    let latin = transliterate(&match_key(word));
    let mut s = latin.as_str();
    for ending in
        ["ului", "iego", "ego", "emu", "owi", "ogo", "omu", "ul", "ei", "om", "em", "ym", "im", "ą", "ę"]
    {
        if s.len() > ending.len() + 3 && s.ends_with(ending) {
            s = &s[..s.len() - ending.len()];
            break;
        }
    }
    let replaced = s
        .replace("sch", "s")
        .replace("shch", "s")
        .replace("tch", "c")
        .replace("ch", "c")
        .replace("kh", "h")
        .replace("ck", "k")
        .replace("ph", "f")
        .replace("th", "t")
        .replace("sz", "s")
        .replace("cz", "c")
        .replace("zh", "z")
        .replace("sh", "s")
        .replace("ts", "c")
        .replace("tz", "c");
    let mut out = String::new();
    let mut last = '\0';
    for (i, c) in replaced.chars().enumerate() {
        let c = match c {
            'w' | 'v' | 'f' => 'v',
            'g' | 'h' => 'h',
            'k' | 'q' => 'k',
            'x' => 'k',
            's' | 'z' => 's',
            'y' | 'j' | 'i' | 'e' | 'a' | 'o' | 'u' => {
                if i == 0 {
                    'a'
                } else {
                    last = '\0';
                    continue;
                }
            }
            c if c.is_alphanumeric() => c,
            _ => continue,
        };
        if c != last {
            out.push(c);
        }
        last = c;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_unifies_punctuation_and_romanian_letters() {
        assert_eq!(normalize("garanţii  „sigure”\u{00A0}—  ok"), "garanții \"sigure\" – ok");
        assert_eq!(normalize("прем\u{2019}єр"), "прем'єр");
        assert_eq!(normalize("a\u{0007}b\r\n\n\n\nc"), "a b\n\nc");
    }

    #[test]
    fn tokenize_keeps_numbers_whole() {
        let toks: Vec<String> = tokenize("800,000-strong 800 000 troops, 25.000 and 1,5 mld")
            .into_iter()
            .map(|t| t.text)
            .collect();
        assert_eq!(toks, ["800,000", "strong", "800 000", "troops", "25.000", "and", "1,5", "mld"]);
        let keys: Vec<String> =
            tokenize("l'Ukraine d'observateurs doesn't Ukraine's").into_iter().map(|t| t.key).collect();
        assert_eq!(keys, ["l", "ukraine", "d", "observateurs", "does", "nt", "ukraines"]);
        let t = tokenize("800-тисячна прем'єр");
        assert!(t[1].hyphen_before);
        assert_eq!(t[2].key, "премєр");
    }

    #[test]
    fn phonetic_keys_meet_across_scripts() {
        assert_eq!(phonetic_key("Grynkewich"), phonetic_key("Гринкевич"));
        assert_eq!(phonetic_key("Grinkevich"), phonetic_key("Гринкевич"));
        assert_eq!(phonetic_key("Witkoff"), phonetic_key("Віткофф"));
    }
}
