//! Lexicons compiled once at load from the data files in `config/topics/`: the concept lexicon
//! (surface forms of each concept in every language), the gazetteer (entities with aliases in
//! many scripts) and the language data (markers of negation, condition, modality and
//! attribution; units, magnitudes, months, number words; abbreviations, stop words, titles;
//! boilerplate patterns). No word list lives in code.
//!
//! A surface form is a space-separated sequence of word patterns: `word` matches the word's
//! match key exactly, `stem*` any word whose key starts with the stem, `=WORD` the word exactly as
//! written (for acronyms such as `=US` that collide with common words). Matching is longest first
//! and indexed by the first word, so a sentence is matched in time linear in its length.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::normalize::{match_key, Token};

#[derive(Debug, Clone, PartialEq, Eq)]
enum WordPat {
    Exact(String),
    Prefix(String),
    Cased(String),
}

impl WordPat {
    fn parse(word: &str) -> WordPat {
        if let Some(cased) = word.strip_prefix('=') {
            WordPat::Cased(cased.to_string())
        } else if let Some(stem) = word.strip_suffix('*') {
            WordPat::Prefix(match_key(stem))
        } else {
            WordPat::Exact(match_key(word))
        }
    }

    /// Letters the pattern pins down; an exact word beats a stem of the same length.
    fn specificity(&self) -> usize {
        match self {
            WordPat::Exact(k) | WordPat::Cased(k) => 2 * k.chars().count() + 1,
            WordPat::Prefix(p) => 2 * p.chars().count(),
        }
    }

    fn matches(&self, token: &Token) -> bool {
        match self {
            WordPat::Exact(k) => token.key == *k,
            WordPat::Prefix(p) => token.key.starts_with(p.as_str()),
            WordPat::Cased(c) => token.text == *c,
        }
    }
}

/// A set of phrases, each mapped to a value, matched longest-first at a token position.
#[derive(Debug, Clone)]
pub struct PhraseSet<T> {
    phrases: Vec<(Vec<WordPat>, T)>,
    exact: HashMap<String, Vec<usize>>,
    prefix: HashMap<String, Vec<usize>>,
    /// Single-word prefix phrases of at least 5 letters, for compound words (German).
    inner: HashMap<String, Vec<usize>>,
}

impl<T: Clone> Default for PhraseSet<T> {
    fn default() -> Self {
        PhraseSet {
            phrases: Vec::new(),
            exact: HashMap::new(),
            prefix: HashMap::new(),
            inner: HashMap::new(),
        }
    }
}

impl<T: Clone> PhraseSet<T> {
    pub fn add(&mut self, form: &str, value: T) {
        let words: Vec<WordPat> = form.split_whitespace().map(WordPat::parse).collect();
        if words.is_empty() {
            return;
        }
        let index = self.phrases.len();
        match &words[0] {
            WordPat::Exact(k) => self.exact.entry(k.clone()).or_default().push(index),
            WordPat::Cased(c) => self.exact.entry(match_key(c)).or_default().push(index),
            WordPat::Prefix(p) => {
                self.prefix.entry(p.clone()).or_default().push(index);
                if words.len() == 1 && p.chars().count() >= 5 {
                    self.inner.entry(p.clone()).or_default().push(index);
                }
            }
        }
        self.phrases.push((words, value));
    }

    pub fn is_empty(&self) -> bool {
        self.phrases.is_empty()
    }

    fn candidates<'s>(&'s self, token: &Token) -> impl Iterator<Item = usize> + 's {
        let key = token.key.clone();
        let mut out: Vec<usize> = self.exact.get(&key).cloned().unwrap_or_default();
        for (end, _) in key.char_indices().skip(1).chain(std::iter::once((key.len(), ' '))) {
            if let Some(list) = self.prefix.get(&key[..end]) {
                out.extend(list);
            }
        }
        out.into_iter()
    }

    /// The longest phrase starting at `tokens[i]`: its length in tokens and value.
    pub fn longest_at(&self, tokens: &[Token], i: usize) -> Option<(usize, &T)> {
        // Longest phrase first; among equally long ones the most specific (longest stems), so
        // that "agreement*" wins over "agree*".
        let mut best: Option<((usize, usize), usize)> = None;
        for index in self.candidates(&tokens[i]) {
            let (words, _) = &self.phrases[index];
            if i + words.len() > tokens.len() {
                continue;
            }
            let rank = (words.len(), words.iter().map(WordPat::specificity).sum::<usize>());
            if words.iter().zip(&tokens[i..]).all(|(w, t)| w.matches(t)) && best.is_none_or(|(r, _)| rank > r)
            {
                best = Some((rank, index));
            }
        }
        best.map(|((len, _), index)| (len, &self.phrases[index].1))
    }

    /// Whether any phrase matches anywhere in `tokens`.
    pub fn any_in(&self, tokens: &[Token]) -> bool {
        (0..tokens.len()).any(|i| self.longest_at(tokens, i).is_some())
    }

    /// Values of single-word stems found inside a compound word (not at its start).
    pub fn inside(&self, token: &Token) -> Vec<&T> {
        let key = &token.key;
        let mut out = Vec::new();
        if key.chars().count() < 8 {
            return out;
        }
        let starts: Vec<usize> = key.char_indices().map(|(b, _)| b).skip(2).collect();
        for start in starts {
            let rest = &key[start..];
            for (end, _) in rest.char_indices().skip(5).chain(std::iter::once((rest.len(), ' '))) {
                if let Some(list) = self.inner.get(&rest[..end]) {
                    out.extend(list.iter().map(|&i| &self.phrases[i].1));
                }
            }
        }
        out
    }
}

/// Phrase sets per language, so that a form of one language never matches in another (Polish
/// "cel" is a target, Romanian "cel" is an article). Text in a language without its own set uses
/// the union.
#[derive(Debug, Clone)]
pub struct ByLang<T> {
    sets: HashMap<String, PhraseSet<T>>,
    all: PhraseSet<T>,
}

impl<T: Clone> Default for ByLang<T> {
    fn default() -> Self {
        ByLang { sets: HashMap::new(), all: PhraseSet::default() }
    }
}

impl<T: Clone> ByLang<T> {
    pub fn add(&mut self, lang: &str, form: &str, value: T) {
        self.sets.entry(lang.to_string()).or_default().add(form, value.clone());
        self.all.add(form, value);
    }

    /// The set for `lang`, or the union when the language has none.
    pub fn get(&self, lang: &str) -> &PhraseSet<T> {
        self.sets.get(lang).unwrap_or(&self.all)
    }
}

// ------------------------------------------------------------------------------ data files

/// Per-language lists of surface forms.
pub type PerLang = HashMap<String, Vec<String>>;

#[derive(Debug, Deserialize)]
struct RawConcept {
    #[serde(default)]
    class: Option<String>,
    /// The concept a negated mention amounts to ("not agree" → reject).
    #[serde(default)]
    negated: Option<String>,
    #[serde(flatten)]
    forms: PerLang,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntity {
    kind: String,
    names: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMagnitude {
    value: f64,
    forms: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLanguage {
    markers: HashMap<String, PerLang>,
    units: HashMap<String, PerLang>,
    magnitudes: HashMap<String, RawMagnitude>,
    months: HashMap<String, Vec<String>>,
    number_words: HashMap<String, HashMap<String, f64>>,
    /// Number words that are no exact count ("several"): they scale a magnitude only.
    approximate_numbers: Vec<String>,
    /// Fixed phrases that are a quantity ("half a century").
    quantity_phrases: HashMap<String, PerLang>,
    /// Words allowed between a number and its unit ("50 de ani", "27 of them").
    connectors: Vec<String>,
    abbreviations: Vec<String>,
    stopwords: PerLang,
    /// Job titles, roles and function phrases ("with the help of"): consumed, never facts.
    ignored: PerLang,
    boilerplate: BoilerplateRaw,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BoilerplateRaw {
    /// A line starting with one of these is not a claim.
    starts: PerLang,
    /// A line containing one of these is not a claim.
    contains: PerLang,
    /// Social networks: a line naming two of them is a "follow us" line.
    networks: Vec<String>,
}

/// The kind of an entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntityKind {
    Person,
    Country,
    Place,
    Org,
    Group,
    /// News media and agencies: who reported a fact never makes it new.
    Media,
}

impl EntityKind {
    fn parse(text: &str) -> Option<EntityKind> {
        Some(match text {
            "person" => EntityKind::Person,
            "country" => EntityKind::Country,
            "place" => EntityKind::Place,
            "org" => EntityKind::Org,
            "group" => EntityKind::Group,
            "media" => EntityKind::Media,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct EntityRef {
    pub id: String,
    pub kind: EntityKind,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConceptRef {
    pub id: String,
    /// `event` concepts (meeting, hearing, visit) mark the main event of an article.
    pub event: bool,
    /// What a negated mention amounts to, if it is another concept.
    pub negated: Option<String>,
}

/// A marker class found in a sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Marker {
    Negation,
    Condition,
    Modal,
    Attribution,
    Past,
}

/// Everything compiled from the data files.
#[derive(Debug, Clone, Default)]
pub struct Lexicon {
    pub concepts: ByLang<ConceptRef>,
    pub entities: PhraseSet<EntityRef>,
    pub markers: ByLang<Marker>,
    pub units: ByLang<String>,
    pub magnitudes: PhraseSet<f64>,
    pub months: PhraseSet<u32>,
    /// Month names as written (lower case, diacritics kept): a month without a day must be
    /// spelled exactly so ("maja" is May, "mają" is "they have").
    pub month_words: HashSet<String>,
    pub number_words: HashMap<String, f64>,
    pub approximate_numbers: HashSet<String>,
    pub quantity_phrases: PhraseSet<(String, f64)>,
    pub connectors: HashSet<String>,
    pub abbreviations: HashSet<String>,
    pub stopwords: HashSet<String>,
    pub titles: ByLang<()>,
    pub boiler_starts: Vec<String>,
    pub boiler_contains: Vec<String>,
    pub networks: HashSet<String>,
    /// Ids of `event` concepts.
    pub event_concepts: HashSet<String>,
    /// Ids of `actor` concepts: who speaks or acts (officials, envoys), not what is stated.
    pub actor_concepts: HashSet<String>,
}

/// The built-in data files, by name.
pub const BUILT_IN: &[(&str, &str)] = &[
    (
        "ukraine-security-guarantees.toml",
        include_str!("../../config/topics/ukraine-security-guarantees.toml"),
    ),
    ("concepts-security.toml", include_str!("../../config/topics/concepts-security.toml")),
    ("entities.toml", include_str!("../../config/topics/entities.toml")),
    ("language.toml", include_str!("../../config/topics/language.toml")),
];

/// Reads a data file: from `dir` when given and present there, else the built-in copy.
pub fn read_data(dir: Option<&Path>, name: &str) -> Result<String> {
    if let Some(dir) = dir {
        let path = dir.join(name);
        if path.exists() {
            return std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()));
        }
    }
    match BUILT_IN.iter().find(|(n, _)| *n == name) {
        Some((_, text)) => Ok(text.to_string()),
        None => bail!(
            "data file {name} not found{}",
            dir.map(|d| format!(" in {}", d.display())).unwrap_or_default()
        ),
    }
}

impl Lexicon {
    /// Compiles the three data files.
    pub fn compile(concepts: &str, entities: &str, language: &str) -> Result<Lexicon> {
        let mut lex = Lexicon::default();
        let concepts: HashMap<String, RawConcept> = toml::from_str(concepts).context("concept lexicon")?;
        // A form names one concept: the same words under two would make which one a sentence
        // states depend on the file's order, and differ between languages.
        let mut owner: HashMap<(&str, String), &str> = HashMap::new();
        for (id, raw) in &concepts {
            for (lang, forms) in &raw.forms {
                for form in forms {
                    let key = form.split_whitespace().map(str::to_lowercase).collect::<Vec<_>>().join(" ");
                    if let Some(other) =
                        owner.insert((lang.as_str(), key), id.as_str()).filter(|other| other != id)
                    {
                        let (a, b) =
                            if other < id.as_str() { (other, id.as_str()) } else { (id.as_str(), other) };
                        bail!("concept lexicon: the {lang} form {form:?} is in both [{a}] and [{b}]; a form names one concept");
                    }
                }
            }
        }
        for (id, raw) in concepts {
            let event = match raw.class.as_deref() {
                None => false,
                Some("event") => true,
                Some("actor") => {
                    lex.actor_concepts.insert(id.clone());
                    false
                }
                Some(other) => bail!(
                    "concept lexicon: [{id}] has class {other:?}; the classes are \"event\" and \"actor\""
                ),
            };
            if event {
                lex.event_concepts.insert(id.clone());
            }
            for (lang, forms) in &raw.forms {
                for form in forms {
                    let concept = ConceptRef { id: id.clone(), event, negated: raw.negated.clone() };
                    lex.concepts.add(lang, form, concept);
                }
            }
        }
        let entities: HashMap<String, RawEntity> = toml::from_str(entities).context("gazetteer")?;
        for (id, raw) in entities {
            let Some(kind) = EntityKind::parse(&raw.kind) else {
                bail!("gazetteer: entity {id}: unknown kind {:?}", raw.kind);
            };
            for name in &raw.names {
                lex.entities.add(name, EntityRef { id: id.clone(), kind });
            }
        }
        let language: RawLanguage = toml::from_str(language).context("language data")?;
        for (class, per_lang) in &language.markers {
            let marker = match class.as_str() {
                "negation" => Marker::Negation,
                "condition" => Marker::Condition,
                "modal" => Marker::Modal,
                "attribution" => Marker::Attribution,
                "past" => Marker::Past,
                other => bail!("language data: unknown marker class {other:?}"),
            };
            for (lang, forms) in per_lang {
                for form in forms {
                    lex.markers.add(lang, form, marker);
                }
            }
        }
        for (unit, per_lang) in &language.units {
            for (lang, forms) in per_lang {
                for form in forms {
                    lex.units.add(lang, form, unit.clone());
                }
            }
        }
        for m in language.magnitudes.values() {
            for form in &m.forms {
                lex.magnitudes.add(form, m.value);
            }
        }
        for (month, forms) in &language.months {
            let n: u32 = month.parse().with_context(|| format!("language data: month {month:?}"))?;
            for form in forms {
                lex.months.add(form, n);
                lex.month_words.insert(form.to_lowercase());
            }
        }
        for words in language.number_words.values() {
            for (word, value) in words {
                lex.number_words.insert(match_key(word), *value);
            }
        }
        for (spec, per_lang) in &language.quantity_phrases {
            let (unit, value) = spec.split_once(':').context("quantity phrase key is unit:value")?;
            let value: f64 = value.parse().context("quantity phrase value")?;
            for form in per_lang.values().flatten() {
                lex.quantity_phrases.add(form, (unit.to_string(), value));
            }
        }
        lex.connectors = language.connectors.iter().map(|w| match_key(w)).collect();
        lex.abbreviations = language.abbreviations.iter().map(|a| match_key(a)).collect();
        lex.approximate_numbers = language.approximate_numbers.iter().map(|w| match_key(w)).collect();
        // Our lists (reporting verbs, time words) and the common function-word lists.
        let common = crate::normalize::lang::SUPPORTED.iter().filter_map(|l| stop_words::lookup(l)).flatten();
        lex.stopwords = language.stopwords.values().flatten().map(|w| match_key(w)).collect();
        lex.stopwords.extend(common.map(|w| match_key(w)));
        for (lang, forms) in &language.ignored {
            for form in forms {
                lex.titles.add(lang, form, ());
            }
        }
        lex.boiler_starts =
            language.boilerplate.starts.values().flatten().map(|s| s.to_lowercase()).collect();
        lex.boiler_contains =
            language.boilerplate.contains.values().flatten().map(|s| s.to_lowercase()).collect();
        lex.networks = language.boilerplate.networks.iter().map(|n| match_key(n)).collect();
        Ok(lex)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Which concept "aggression" states must not depend on the file's order (it did: English
    /// read it as an attack, Ukrainian as aggression, and the two retellings never matched).
    #[test]
    fn a_form_under_two_concepts_is_refused_naming_both() {
        let concepts =
            "[attack]\nen = [\"attack*\", \"aggression*\"]\n\n[aggression]\nen = [\"Aggression*\"]\n";
        let error = Lexicon::compile(concepts, "", "").unwrap_err().to_string();
        assert!(error.contains("[aggression] and [attack]"), "{error}");
        assert!(error.to_lowercase().contains("\"aggression*\""), "{error}");
    }
}
