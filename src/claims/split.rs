//! Sentence splitting. Text is cut into blocks (lines; a blank line is a paragraph break) and
//! blocks into sentences at `.`, `!`, `?`, `…` followed by a space and a capital letter, a digit,
//! a quote or a dash. It survives abbreviations from the language data ("U.S.", "Gen.", "ст.",
//! "р.", "nr."), initials, ordinals before month names ("3. Februar") and closing quotes after
//! the full stop. What a sentence is *for* (claim, heading, caption, boilerplate) is decided
//! by the caller; this module only records the layout facts that help it decide.

use std::collections::HashSet;

use crate::normalize::match_key;

/// One sentence with its place in the layout.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub text: String,
    /// Index of its block (line) in the text.
    pub block: usize,
    /// Its block holds this sentence only.
    pub alone: bool,
    /// Ends with terminal punctuation (a statement or question, not a heading or label).
    pub terminal: bool,
    /// Ends with a question mark.
    pub question: bool,
    /// Its block is an item of a list ("- ", "• ", "* " before it; the marker is not in `text`).
    pub list_item: bool,
}

/// Markers that open a list item, as the extractor renders lists ("- ") and pages write them.
const LIST_MARKERS: &[&str] = &["- ", "• ", "* ", "· "];

const TERMINAL: &[char] = &['.', '!', '?', '…'];
const CLOSERS: &[char] = &['"', '\'', ')', ']', '»', '”'];

/// Longest sentence kept, in bytes; longer runs without punctuation are cut.
pub const MAX_SENTENCE_BYTES: usize = 2_000;

/// Splits normalised text into sentences.
pub fn split(text: &str, abbreviations: &HashSet<String>, is_month: &dyn Fn(&str) -> bool) -> Vec<Segment> {
    let mut out = Vec::new();
    for (block_index, block) in text.lines().map(str::trim).filter(|l| !l.is_empty()).enumerate() {
        let marker = LIST_MARKERS.iter().find(|m| block.starts_with(**m));
        let block = marker.map_or(block, |m| block[m.len()..].trim_start());
        let mut sentences = Vec::new();
        let chars: Vec<(usize, char)> = block.char_indices().collect();
        let mut start = 0usize;
        let mut i = 0usize;
        while i < chars.len() {
            let (pos, c) = chars[i];
            if TERMINAL.contains(&c) {
                let mut j = i + 1;
                while j < chars.len() && (TERMINAL.contains(&chars[j].1) || CLOSERS.contains(&chars[j].1)) {
                    j += 1;
                }
                let end = chars.get(j).map(|(b, _)| *b).unwrap_or(block.len());
                let at_space = j < chars.len() && chars[j].1 == ' ';
                let next = chars.get(j + 1).map(|(_, n)| *n);
                let starts_sentence = next.is_some_and(|n| {
                    n.is_uppercase()
                        || n.is_ascii_digit()
                        || matches!(n, '"' | '\'' | '«' | '„' | '–' | '-' | '(')
                });
                if at_space
                    && starts_sentence
                    && !(c == '.' && protected(block, pos, &chars, j, abbreviations, is_month))
                {
                    sentences.push(&block[start..end]);
                    start = end;
                }
                i = j;
                continue;
            }
            let _ = pos;
            i += 1;
        }
        if start < block.len() {
            sentences.push(&block[start..]);
        }
        let sentences: Vec<&str> = sentences.into_iter().map(str::trim).filter(|s| !s.is_empty()).collect();
        let alone = sentences.len() == 1;
        for s in sentences {
            let mut text = s;
            if text.len() > MAX_SENTENCE_BYTES {
                let mut cut = MAX_SENTENCE_BYTES;
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                text = &text[..cut];
            }
            let trimmed = text.trim_end_matches(|c: char| CLOSERS.contains(&c) || c == ' ');
            let last = trimmed.chars().last();
            out.push(Segment {
                text: text.to_string(),
                block: block_index,
                alone,
                terminal: last.is_some_and(|c| TERMINAL.contains(&c)),
                question: last == Some('?'),
                list_item: marker.is_some(),
            });
        }
    }
    out
}

/// Whether the full stop at byte `pos` ends an abbreviation, an initial or an ordinal.
fn protected(
    block: &str,
    pos: usize,
    chars: &[(usize, char)],
    after: usize,
    abbreviations: &HashSet<String>,
    is_month: &dyn Fn(&str) -> bool,
) -> bool {
    let before = &block[..pos];
    let word_start = before
        .char_indices()
        .rev()
        .find(|(_, c)| !(c.is_alphanumeric() || *c == '.'))
        .map(|(i, c)| i + c.len_utf8())
        .unwrap_or(0);
    let word = &before[word_start..];
    let last_part = word.rsplit('.').next().unwrap_or(word);
    if last_part.is_empty() {
        return false;
    }
    if abbreviations.contains(&match_key(word)) || abbreviations.contains(&match_key(last_part)) {
        return true;
    }
    // An initial: one capital letter ("J. Smith", "U.S.").
    let mut letters = last_part.chars();
    if let (Some(c), None) = (letters.next(), letters.next()) {
        if c.is_uppercase() {
            return true;
        }
    }
    // An ordinal before a month name: "3. Februar".
    if last_part.len() <= 2 && last_part.chars().all(|c| c.is_ascii_digit()) {
        let rest: String =
            chars[after..].iter().map(|(_, c)| *c).skip(1).take_while(|c| c.is_alphabetic()).collect();
        if is_month(&rest) {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn abbrevs() -> HashSet<String> {
        ["gen", "ст", "р", "nr", "u.s", "dr"].iter().map(|s| s.to_string()).collect()
    }

    #[track_caller]
    fn check(text: &str, expected: &[&str]) {
        let months = |w: &str| w == "Februar";
        let got: Vec<String> = split(text, &abbrevs(), &months).into_iter().map(|s| s.text).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn abbreviations_initials_and_ordinals_do_not_end_sentences() {
        check(
            "Gen. Alexus Grynkewich met the U.S. Congress. He said so.",
            &["Gen. Alexus Grynkewich met the U.S. Congress.", "He said so."],
        );
        check("Згідно зі ст. 5 договору. Далі.", &["Згідно зі ст. 5 договору.", "Далі."]);
        check("Berlin, 3. Februar 2026. Merz sprach.", &["Berlin, 3. Februar 2026.", "Merz sprach."]);
    }

    #[test]
    fn quotes_stay_with_their_sentence() {
        check(
            "He said: \"It is done.\" Then he left. „Da.” Nu.",
            &["He said: \"It is done.\"", "Then he left.", "„Da.”", "Nu."],
        );
    }

    #[test]
    fn list_items_are_marked_and_lose_their_marker() {
        let segs = split(
            "The plan has two parts:\n- a 600,000-strong army\n• European troops away from the front",
            &HashSet::new(),
            &|_| false,
        );
        let items: Vec<(&str, bool)> = segs.iter().map(|s| (s.text.as_str(), s.list_item)).collect();
        assert_eq!(
            items,
            [
                ("The plan has two parts:", false),
                ("a 600,000-strong army", true),
                ("European troops away from the front", true)
            ]
        );
    }

    #[test]
    fn headings_are_not_terminal() {
        let months = |_: &str| false;
        let segs = split("Read also: a thing\n\nA claim here. What now?", &abbrevs(), &months);
        assert!(!segs[0].terminal && segs[0].alone);
        assert!(segs[1].terminal && !segs[1].alone);
        assert!(segs[2].question);
    }
}
