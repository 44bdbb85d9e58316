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
    pub fn weighty(&self, score: f32) -> bool {
        score >= self.min_score
    }

    /// Judges an article from the distinct features of its sentences (`E:` entities and `C:`
    /// concepts): (on topic, score, why not).
    pub fn judge(&self, evidence: &BTreeSet<String>) -> (bool, f32, Option<String>) {
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
        if score < self.min_score {
            return (false, score, Some(format!("topic score {score:.1} below {:.1}", self.min_score)));
        }
        (true, score, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_needs_an_anchor_and_enough_weight() {
        let profile = TopicProfile::parse(
            r#"name = "t"
            [files]
            concepts = "c.toml"
            entities = "e.toml"
            language = "l.toml"
            [gate]
            anchors = ["ukraine"]
            min_score = 2.0
            weights = { guarantee = 1.5, ceasefire = 1.0 }"#,
        )
        .unwrap();
        let set = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        assert!(profile.judge(&set(&["E:ukraine", "C:guarantee", "C:ceasefire"])).0);
        assert!(!profile.judge(&set(&["C:guarantee", "C:ceasefire"])).0);
        assert!(!profile.judge(&set(&["E:ukraine", "C:guarantee"])).0);
    }
}
