//! Claim features of one sentence, as prefixed strings (so they can be stored and indexed as
//! they are):
//! - `E:id` an entity from the gazetteer; `S:id` a news medium (who reported it, never a fact);
//! - `N:key` a name the gazetteer does not know, by its phonetic key (matches across scripts);
//! - `C:id` a concept of the lexicon (the predicate or object of the claim);
//! - `Q:unit:value` a quantity and `V:value` its bare value; `D:m-d` a date, `M:m` a month;
//! - `R:entity~concept` an actor next to a predicate (who does what);
//! - `G:concept` a negated concept: a concept at most two words after a negation, in the same
//!   clause ("not deploy", "nu trupe", "keine Truppen");
//! - `X:neg`, `X:cond`, `X:modal`, `X:attr` negation, condition, modality and attribution;
//! - `W:lang:stem` a content word's stem, for lexical similarity inside one language.
//!
//! Trade-off: the sub-fact structure (actor, predicate, object, quantity, modality) is
//! approximated by adjacency rather than parsed; it costs no model and is linear in the sentence.

use std::collections::BTreeSet;

use crate::claims::lexicon::{EntityKind, Lexicon, Marker};
use crate::normalize::{phonetic_key, Token};

/// One feature read back from its stored form: the closed set of what a claim can carry, and
/// the one place that knows the prefixes' meaning for a reader.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Feature<'a> {
    Entity(&'a str),
    Medium(&'a str),
    Name(&'a str),
    Concept(&'a str),
    Negated(&'a str),
    Quantity { unit: &'a str, value: &'a str },
    Value(&'a str),
    Date { month: &'a str, day: &'a str },
    Month(&'a str),
    Role { actor: &'a str, concept: &'a str },
    Marker(&'a str),
    Stem(&'a str),
}

impl<'a> Feature<'a> {
    /// Reads a stored feature string; `None` for a form this build does not know.
    pub fn parse(feature: &'a str) -> Option<Feature<'a>> {
        let (prefix, rest) = feature.split_once(':')?;
        Some(match prefix {
            "E" => Feature::Entity(rest),
            "S" => Feature::Medium(rest),
            "N" => Feature::Name(rest),
            "C" => Feature::Concept(rest),
            "G" => Feature::Negated(rest),
            "Q" => {
                let (unit, value) = rest.split_once(':')?;
                Feature::Quantity { unit, value }
            }
            "V" => Feature::Value(rest),
            "D" => {
                let (month, day) = rest.split_once('-')?;
                Feature::Date { month, day }
            }
            "M" => Feature::Month(rest),
            "R" => {
                let (actor, concept) = rest.split_once('~')?;
                Feature::Role { actor, concept }
            }
            "X" => Feature::Marker(rest),
            "W" => Feature::Stem(rest.split_once(':').map_or(rest, |(_, stem)| stem)),
            _ => return None,
        })
    }
}

impl Feature<'_> {
    /// How much one feature of its kind counts in a comparison of two claims; 0 for what is
    /// no fact (a medium, a marker, a word).
    pub fn weight(&self) -> f32 {
        match self {
            Feature::Entity(_) | Feature::Name(_) | Feature::Concept(_) => 1.0,
            Feature::Quantity { .. } => 1.5,
            Feature::Date { .. } => 0.8,
            Feature::Month(_) => 0.3,
            Feature::Role { .. } => 0.5,
            Feature::Marker("cond") => 0.7,
            _ => 0.0,
        }
    }

    /// A name: an entity of the gazetteer or one it does not know.
    pub fn is_name(&self) -> bool {
        matches!(self, Feature::Entity(_) | Feature::Name(_))
    }

    /// When: a date or a month.
    pub fn is_time(&self) -> bool {
        matches!(self, Feature::Date { .. } | Feature::Month(_))
    }

    /// What a claim can state that no stored claim has, which makes it new: a name, a number,
    /// a date or a month. A count under ten is not: retellings count what others name ("2
    /// representatives" for two envoys named elsewhere, "both", "the three leaders"), so it only
    /// weighs in the comparison (another value of the same quantity still objects).
    pub fn is_checkable(&self) -> bool {
        self.is_name()
            || self.is_time()
            || matches!(self, Feature::Value(v) if v.parse::<f64>().map_or(true, |v| v >= SMALL_COUNT))
    }
}

/// Counts below this are no hard rule of their own ([`Feature::is_checkable`]).
const SMALL_COUNT: f64 = 10.0;

/// Month names for a reader, by number.
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

fn month_name(number: &str) -> &str {
    number.parse::<usize>().ok().and_then(|m| MONTHS.get(m.wrapping_sub(1))).copied().unwrap_or(number)
}

impl std::fmt::Display for Feature<'_> {
    /// In words a user reads without a code table: `E:coalition_willing` → "coalition willing",
    /// `Q:personnel:800000` → "800000 personnel", `D:1-6` → "6 January".
    fn fmt(&self, out: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let words = |id: &str| id.replace('_', " ");
        match *self {
            Feature::Entity(id) => write!(out, "{}", words(id)),
            Feature::Medium(id) => write!(out, "the medium {}", words(id)),
            Feature::Name(key) => write!(out, "a name no list knows ({key})"),
            Feature::Concept(id) => write!(out, "\"{}\"", words(id)),
            Feature::Negated(id) => write!(out, "not \"{}\"", words(id)),
            Feature::Quantity { unit: "n", value } | Feature::Value(value) => {
                write!(out, "the number {value}")
            }
            Feature::Quantity { unit, value } => write!(out, "{value} {}", words(unit)),
            Feature::Date { month, day } => write!(out, "{day} {}", month_name(month)),
            Feature::Month(month) => write!(out, "{}", month_name(month)),
            Feature::Role { actor, concept } => write!(out, "{} doing \"{}\"", words(actor), words(concept)),
            Feature::Marker("neg") => write!(out, "a negation"),
            Feature::Marker("cond") => write!(out, "a condition"),
            Feature::Marker("modal") => write!(out, "a modal (may, should)"),
            Feature::Marker("attr") => write!(out, "an attribution"),
            Feature::Marker(other) => write!(out, "a marker ({other})"),
            Feature::Stem(stem) => write!(out, "the word {stem}…"),
        }
    }
}

/// Another feature that states the same fact: for a bare count (`Q:n:800000`) its value
/// (`V:800000`), for a count with a unit (`Q:personnel:800000`) the bare count. "800 тисяч" and
/// "800,000-strong" are one number.
pub fn restated_as(feature: &str) -> Option<String> {
    let (unit, value) = feature.strip_prefix("Q:")?.split_once(':')?;
    Some(if unit == "n" { format!("V:{value}") } else { format!("Q:n:{value}") })
}

/// A stored feature in words (itself when its form is unknown).
pub fn describe(feature: &str) -> String {
    Feature::parse(feature).map_or_else(|| feature.to_string(), |f| f.to_string())
}

/// What one sentence yields besides its features.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SentenceFeatures {
    pub features: BTreeSet<String>,
    /// Concepts of class `event` (meeting, hearing, visit).
    pub events: usize,
    /// Word tokens.
    pub words: usize,
    /// Tokens left after removing places, dates, numbers (a dateline has none).
    pub non_dateline_words: usize,
    /// Content words no lexicon knows, names aside ("delegation", "depart").
    pub plain_words: usize,
    pub boilerplate: bool,
}

impl SentenceFeatures {
    pub fn has_prefix(&self, prefix: &str) -> bool {
        self.features.iter().any(|f| f.starts_with(prefix))
    }
}

fn fmt_value(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 && v.abs() < 1e15 {
        format!("{}", v.round() as i64)
    } else {
        format!("{v}")
    }
}

/// Parses a number token: "800,000" "800 000" "25.000" → thousands; "1,5" "4.32" → decimal.
pub fn number_value(text: &str) -> Option<f64> {
    let compact: String = text.chars().filter(|c| *c != ' ').collect();
    let groups: Vec<&str> = compact.split(['.', ',']).collect();
    if groups.len() == 1 {
        return compact.parse().ok();
    }
    let thousands = groups[0].len() <= 3 && groups[1..].iter().all(|g| g.len() == 3);
    if thousands {
        return groups.concat().parse().ok();
    }
    if groups.len() == 2 {
        return format!("{}.{}", groups[0], groups[1]).parse().ok();
    }
    None
}

/// Extracts the features of one tokenized sentence.
pub fn extract(lex: &Lexicon, lang: &str, tokens: &[Token]) -> SentenceFeatures {
    let (concepts, markers, titles) = (lex.concepts.get(lang), lex.markers.get(lang), lex.titles.get(lang));
    let mut out =
        SentenceFeatures { words: tokens.iter().filter(|t| !t.is_number).count(), ..Default::default() };
    let f = &mut out.features;
    let mut entity_pos: Vec<(usize, String)> = Vec::new();
    let mut concept_pos: Vec<(usize, String)> = Vec::new();
    let n = tokens.len();
    // Position of the last negation marker: the next concept within three tokens is negated.
    let mut negation_at: Option<usize> = None;
    let mut i = 0;
    while i < n {
        let t = &tokens[i];
        if t.punct_before {
            negation_at = None;
        }
        if let Some((len, (unit, value))) = lex.quantity_phrases.longest_at(tokens, i) {
            insert_quantity(f, unit, *value);
            i += len;
            continue;
        }
        // A number that begins a name ("24 Канал") is part of the name.
        if t.is_number && lex.entities.longest_at(tokens, i).is_none_or(|(len, _)| len < 2) {
            i += number_at(lex, lang, tokens, i, f, &mut out.non_dateline_words);
            continue;
        }
        if let Some((len, month)) = lex.months.longest_at(tokens, i) {
            // "January 7", "Jan 21"; a month alone only when its name is unambiguous (not
            // "may", "mai", "jan").
            if let Some(day) = tokens.get(i + len).filter(|t| t.is_number).and_then(|t| number_value(&t.text))
            {
                if (1.0..=31.0).contains(&day) && day.fract() == 0.0 {
                    f.insert(format!("D:{month}-{}", day as u32));
                    f.insert(format!("M:{month}"));
                    i += len + 1;
                    continue;
                }
            }
            if t.key.chars().count() >= 4 && lex.month_words.contains(&t.text.to_lowercase()) {
                f.insert(format!("M:{month}"));
                i += len;
                continue;
            }
        }
        if let Some((len, e)) = lex.entities.longest_at(tokens, i) {
            if e.kind == EntityKind::Media {
                f.insert(format!("S:{}", e.id));
                out.non_dateline_words += 1;
            } else {
                f.insert(format!("E:{}", e.id));
                entity_pos.push((i, e.id.clone()));
                if !matches!(e.kind, EntityKind::Place | EntityKind::Country) {
                    out.non_dateline_words += 1;
                }
            }
            i += len;
            continue;
        }
        out.non_dateline_words += 1;
        if let Some((len, c)) = concepts.longest_at(tokens, i) {
            let negated = negation_at.is_some_and(|p| i - p <= 2);
            match (&c.negated, negated) {
                (Some(opposite), true) => {
                    f.insert(format!("C:{opposite}"));
                }
                (None, true) => {
                    f.insert(format!("C:{}", c.id));
                    f.insert(format!("G:{}", c.id));
                }
                (_, false) => {
                    f.insert(format!("C:{}", c.id));
                }
            }
            if negated {
                negation_at = None;
            }
            if c.event {
                out.events += 1;
            }
            concept_pos.push((i, c.id.clone()));
            // A German compound names what it is built of: "Sicherheitsgarantien" is security
            // and guarantee.
            if lang == "de" && len == 1 {
                for inner in concepts.inside(t).into_iter().filter(|inner| inner.id != c.id) {
                    f.insert(format!("C:{}", inner.id));
                    concept_pos.push((i, inner.id.clone()));
                }
            }
            i += len;
            continue;
        }
        if let Some((len, m)) = markers.longest_at(tokens, i) {
            if *m == Marker::Negation {
                negation_at = Some(i + len - 1);
                // "rather than sending troops", "nu trupe": the scope starts after the marker.
                if tokens[i + len..].first().is_some_and(|t| t.punct_before) {
                    negation_at = None;
                }
            }
            f.insert(
                match m {
                    Marker::Negation => "X:neg",
                    Marker::Condition => "X:cond",
                    Marker::Modal => "X:modal",
                    Marker::Attribution => "X:attr",
                    Marker::Past => "X:past",
                }
                .to_string(),
            );
            i += len;
            continue;
        }
        if let Some((len, ())) = titles.longest_at(tokens, i) {
            i += len;
            continue;
        }
        if let Some(&value) = lex.number_words.get(&t.key) {
            if let Some((len, magnitude)) =
                tokens.get(i + 1).and_then(|_| lex.magnitudes.longest_at(tokens, i + 1))
            {
                let v = value * magnitude;
                let unit =
                    unit_after(lex, lang, tokens, i + 1 + len).map(|(u, _)| u).unwrap_or_else(|| "n".into());
                insert_quantity(f, &unit, v);
                i += 1 + len;
                continue;
            }
            // "eight hours", "zwölf Länder": a count written out, directly before its unit
            // ("one" and "a" are articles as often as counts, "several" is no count).
            if value >= 2.0 && !lex.approximate_numbers.contains(&t.key) {
                if let Some((len, unit)) =
                    tokens.get(i + 1).and_then(|_| lex.units.get(lang).longest_at(tokens, i + 1))
                {
                    insert_quantity(f, unit, value);
                    i += 1 + len;
                    continue;
                }
            }
        }
        if lang == "de" {
            for c in concepts.inside(t) {
                f.insert(format!("C:{}", c.id));
                concept_pos.push((i, c.id.clone()));
            }
        }
        let stop = lex.stopwords.contains(&t.key);
        // A name no gazetteer knows: capitalised inside the sentence (German capitalises every
        // noun, so only acronyms count there), or an acronym anywhere.
        let capital_name = i > 0 && lang != "de" && t.is_capitalized() && t.key.chars().count() >= 3;
        let name = !stop && (capital_name || t.is_acronym()) && t.text.chars().all(char::is_alphabetic);
        if name {
            // A first name directly before a known person is part of that person.
            let before_person = lex
                .entities
                .longest_at(tokens, (i + 1).min(n - 1))
                .is_some_and(|(_, e)| i + 1 < n && e.kind == EntityKind::Person);
            if !before_person {
                let key = phonetic_key(&t.text);
                if key.len() >= 2 {
                    f.insert(format!("N:{key}"));
                }
            }
        }
        if !stop && t.key.chars().count() >= 4 {
            let stem: String = t.key.chars().take(5).collect();
            f.insert(format!("W:{lang}:{stem}"));
            out.plain_words += usize::from(!name);
        }
        i += 1;
    }
    // Who does what: an entity within two tokens of a concept.
    for (ep, e) in &entity_pos {
        for (cp, c) in &concept_pos {
            if ep.abs_diff(*cp) <= 2 {
                f.insert(format!("R:{e}~{c}"));
            }
        }
    }
    out
}

/// A quantity as its unit and value (`Q:`) and as its bare value (`V:`), which matches the same
/// count written without a unit.
fn insert_quantity(f: &mut BTreeSet<String>, unit: &str, value: f64) {
    f.insert(format!("Q:{unit}:{}", fmt_value(value)));
    f.insert(format!("V:{}", fmt_value(value)));
}

/// The unit after position `i` (skipping connectors like "de", "of"): its id and tokens used.
fn unit_after(lex: &Lexicon, lang: &str, tokens: &[Token], i: usize) -> Option<(String, usize)> {
    let mut skipped_word = false;
    for j in i..tokens.len().min(i + 3) {
        if let Some((len, unit)) = lex.units.get(lang).longest_at(tokens, j) {
            return Some((unit.clone(), j - i + len));
        }
        if tokens[j].is_number {
            return None;
        }
        if lex.connectors.contains(&tokens[j].key) {
            continue;
        }
        if skipped_word {
            return None;
        }
        skipped_word = true;
    }
    None
}

/// Reads a quantity or a date at a number token; returns the tokens used.
fn number_at(
    lex: &Lexicon,
    lang: &str,
    tokens: &[Token],
    i: usize,
    f: &mut BTreeSet<String>,
    other_words: &mut usize,
) -> usize {
    let Some(mut value) = number_value(&tokens[i].text) else {
        return 1;
    };
    let mut used = 1;
    // "6th of January", "7 січня", "3. Februar"
    let mut j = i + 1;
    while j < tokens.len()
        && j <= i + 2
        && matches!(tokens[j].key.as_str(), "th" | "st" | "nd" | "rd" | "of" | "go" | "ogo" | "e")
    {
        j += 1;
    }
    if j < tokens.len() {
        if let Some((len, month)) = lex.months.longest_at(tokens, j) {
            if (1.0..=31.0).contains(&value) && value.fract() == 0.0 {
                f.insert(format!("D:{month}-{}", value as u32));
                f.insert(format!("M:{month}"));
                return j - i + len;
            }
        }
    }
    if let Some((len, magnitude)) = tokens.get(i + 1).and_then(|_| lex.magnitudes.longest_at(tokens, i + 1)) {
        value *= magnitude;
        used += len;
    } else if let Some(t) = tokens.get(i + 1).filter(|t| lex.connectors.contains(&t.key)) {
        // "800 de mii"
        let _ = t;
        if let Some((len, magnitude)) =
            tokens.get(i + 2).and_then(|_| lex.magnitudes.longest_at(tokens, i + 2))
        {
            value *= magnitude;
            used += 1 + len;
        }
    }
    let unit = unit_after(lex, lang, tokens, i + used);
    let is_year = unit.is_none() && used == 1 && (1900.0..=2100.0).contains(&value) && value.fract() == 0.0;
    if is_year {
        return used;
    }
    let (unit, unit_len) = unit.unwrap_or_else(|| ("n".to_string(), 0));
    if unit != "n" {
        *other_words += 1;
    }
    insert_quantity(f, &unit, value);
    used + unit_len
}

#[cfg(test)]
mod tests {
    use super::number_value;

    #[test]
    fn features_read_as_words() {
        use super::describe;
        assert_eq!(describe("E:coalition_willing"), "coalition willing");
        assert_eq!(describe("Q:personnel:800000"), "800000 personnel");
        assert_eq!(describe("Q:n:12"), "the number 12");
        assert_eq!(describe("D:1-6"), "6 January");
        assert_eq!(describe("G:deploy"), "not \"deploy\"");
        assert_eq!(describe("W:pl:przyg"), "the word przyg…");
        assert_eq!(describe("Z:odd"), "Z:odd");
    }

    #[test]
    fn numbers_in_every_notation() {
        assert_eq!(number_value("800,000"), Some(800000.0));
        assert_eq!(number_value("800 000"), Some(800000.0));
        assert_eq!(number_value("800.000"), Some(800000.0));
        assert_eq!(number_value("1,5"), Some(1.5));
        assert_eq!(number_value("4,32"), Some(4.32));
        assert_eq!(number_value("07.01.2026"), None);
    }
}
