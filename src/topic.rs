//! Topic relevance: is this article about the topic the daemon watches? The topic is data, a
//! profile in `config/topics/<name>.toml`: the data files it uses (concept lexicon, gazetteer,
//! language data), anchor entities of which at least one must be present, and weights of the
//! concepts that count as topic evidence. A second topic is a second profile, not code.
//!
//! Trade-off: relevance is decided per article from distinct concepts, not per sentence, so one
//! topical sentence in a long unrelated article can tip it; `min_score` is set so that it takes
//! several distinct topical concepts.

use std::collections::{BTreeSet, HashMap};

use anyhow::{Context, Result};
use serde::Deserialize;

/// The data files a profile uses (names in the profile's directory or built in).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicFiles {
    pub concepts: String,
    pub entities: String,
    pub language: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    name: String,
    #[serde(default)]
    description: String,
    files: TopicFiles,
    gate: RawGate,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGate {
    anchors: Vec<String>,
    #[serde(default)]
    others: Vec<String>,
    #[serde(default)]
    min_anchor_mentions: Option<usize>,
    min_score: f32,
    weights: HashMap<String, f32>,
}

/// A compiled topic profile.
#[derive(Debug, Clone)]
pub struct TopicProfile {
    pub name: String,
    pub description: String,
    pub files: TopicFiles,
    anchors: Vec<String>,
    /// Other subjects of the same kind of news (other countries seeking guarantees): an article
    /// that speaks of one of them more than of the topic's own subject is about it, not the topic.
    others: Vec<String>,
    min_anchors: usize,
    min_score: f32,
    weights: HashMap<String, f32>,
}

impl TopicProfile {
    pub fn parse(text: &str) -> Result<TopicProfile> {
        let raw: RawProfile = toml::from_str(text).context("parsing the topic profile")?;
        Ok(TopicProfile {
            name: raw.name,
            description: raw.description,
            files: raw.files,
            anchors: raw.gate.anchors,
            others: raw.gate.others,
            min_anchors: raw.gate.min_anchor_mentions.unwrap_or(1),
            min_score: raw.gate.min_score,
            weights: raw.gate.weights,
        })
    }

    /// Whether the evidence names one of the anchors.
    pub fn anchored(&self, evidence: &BTreeSet<String>) -> bool {
        self.anchors.iter().any(|a| evidence.contains(&format!("E:{a}")))
    }

    /// Whether the evidence weighs enough, anchors aside.
    /// Counts what one sentence is about, into `mentions`.
    pub fn count_mentions(&self, features: &BTreeSet<String>, mentions: &mut Mentions) {
        let names = |ids: &[String]| ids.iter().any(|a| features.contains(&format!("E:{a}")));
        if names(&self.anchors) {
            mentions.subject += 1;
        }
        for other in self.others.iter().filter(|o| features.contains(&format!("E:{o}"))) {
            *mentions.others.entry(other.clone()).or_default() += 1;
        }
    }

    pub fn weighty(&self, score: f32) -> bool {
        score >= self.min_score
    }

    /// Judges an article from the distinct features of its sentences (`E:` entities and `C:`
    /// concepts): (on topic, score, why not).
    /// Whether an article is on the topic: it names an anchor, speaks of the topic's subject at
    /// least as often as of any other subject, and its concepts and entities weigh enough.
    pub fn judge(&self, evidence: &BTreeSet<String>, mentions: &Mentions) -> (bool, f32, Option<String>) {
        let anchors = self.anchors.iter().filter(|a| evidence.contains(&format!("E:{a}"))).count();
        let score: f32 = evidence
            .iter()
            .filter_map(|f| f.strip_prefix("C:").or_else(|| f.strip_prefix("E:")))
            .filter_map(|id| self.weights.get(id))
            .sum();
        if anchors < self.min_anchors {
            return (
                false,
                score,
                Some(format!("none of the topic's anchors ({})", self.anchors.join(", "))),
            );
        }
        if let Some((other, n)) = mentions.others.iter().max_by_key(|(_, n)| **n) {
            if *n > mentions.subject {
                return (
                    false,
                    score,
                    Some(format!(
                        "about {other} ({n} sentences), more than the topic's subject ({})",
                        mentions.subject
                    )),
                );
            }
        }
        if score < self.min_score {
            return (false, score, Some(format!("topic score {score:.1} below {:.1}", self.min_score)));
        }
        (true, score, None)
    }
}

/// How many sentences of an article speak of the topic's subject, and of each other subject.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mentions {
    pub subject: usize,
    pub others: std::collections::BTreeMap<String, usize>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A profile with the subject Ukraine (and Kharkiv inside it) and the other subject Moldova.
    fn profile() -> TopicProfile {
        TopicProfile::parse(
            r#"name = "t"
            [files]
            concepts = "c.toml"
            entities = "e.toml"
            language = "l.toml"
            [gate]
            anchors = ["ukraine", "kharkiv"]
            others = ["moldova"]
            min_score = 2.0
            weights = { guarantee = 1.5, ceasefire = 1.0 }"#,
        )
        .unwrap()
    }

    #[test]
    fn the_gate_needs_an_anchor_and_enough_weight() {
        let profile = profile();
        let set = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        let none = Mentions::default();
        assert!(profile.judge(&set(&["E:ukraine", "C:guarantee", "C:ceasefire"]), &none).0);
        assert!(
            profile.judge(&set(&["E:kharkiv", "C:guarantee", "C:ceasefire"]), &none).0,
            "a place inside counts"
        );
        assert!(!profile.judge(&set(&["C:guarantee", "C:ceasefire"]), &none).0);
        assert!(!profile.judge(&set(&["E:ukraine", "C:guarantee"]), &none).0);
    }

    #[test]
    fn guarantees_for_another_country_are_off_topic_even_when_ukraine_is_named() {
        let profile = profile();
        let sentences: Vec<BTreeSet<String>> = [
            &["E:moldova", "C:guarantee", "C:ceasefire"][..],
            &["E:moldova", "E:russia"],
            &["E:russia", "E:ukraine"],
            &["E:moldova"],
        ]
        .iter()
        .map(|s| s.iter().map(|f| f.to_string()).collect())
        .collect();
        let mut mentions = Mentions::default();
        for s in &sentences {
            profile.count_mentions(s, &mut mentions);
        }
        let evidence: BTreeSet<String> = sentences.iter().flatten().cloned().collect();
        let (on_topic, _, note) = profile.judge(&evidence, &mentions);
        assert!(!on_topic);
        assert!(note.unwrap().contains("moldova"));
        mentions.subject = 3;
        assert!(profile.judge(&evidence, &mentions).0, "the topic's subject named as often wins");
    }
}
