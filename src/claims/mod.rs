//! TEMPORARY stand-in for the claim engine (helper C owns this module): the interface of the
//! brief with the simplest behaviour (a sentence is a claim; known when its exact text is
//! stored), so that the per-article commit can be built and tested before the engine lands.
//! Replaced wholesale by C's module at merge.

use std::collections::BTreeSet;

use sled::transaction::{ConflictableTransactionError, TransactionalTree};

use crate::config::Config;
use crate::model::{Article, ArticleVerdict, ClaimVerdict};
use crate::store::{Store, StoreError};

pub struct Engine;

impl Engine {
    pub fn load(_config: &Config) -> anyhow::Result<Engine> {
        Ok(Engine)
    }

    pub fn analyse(&self, article: &Article) -> Analysis {
        let claims = article
            .text
            .split(['.', '\n'])
            .map(str::trim)
            .filter(|s| s.split_whitespace().count() >= 4)
            .map(|s| ClaimDraft { text: s.to_string(), features: BTreeSet::new() })
            .collect();
        let on_topic = !article.text.to_lowercase().contains("football");
        Analysis {
            lang: article.lang_hint.clone().unwrap_or_else(|| "en".into()),
            on_topic,
            topic_score: 1.0,
            claims,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Analysis {
    pub lang: String,
    pub on_topic: bool,
    pub topic_score: f32,
    pub claims: Vec<ClaimDraft>,
}

#[derive(Debug, Clone)]
pub struct ClaimDraft {
    pub text: String,
    pub features: BTreeSet<String>,
}

impl ClaimDraft {
    pub fn id(&self) -> String {
        use sha2::Digest;
        let d = sha2::Sha256::digest(self.text.as_bytes());
        d[..8].iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[derive(Debug, Clone)]
pub struct ClaimMatch {
    pub claim_id: String,
    pub text: String,
    pub source: String,
}

#[derive(Debug, Clone)]
pub struct Judgement {
    pub text: String,
    pub verdict: ClaimVerdict,
    pub score: f32,
    pub matched: Option<ClaimMatch>,
}

#[derive(Clone)]
pub struct ClaimIndex {
    claims: sled::Tree,
    features: sled::Tree,
}

impl ClaimIndex {
    pub fn open(store: &Store) -> Result<ClaimIndex, StoreError> {
        Ok(ClaimIndex { claims: store.tree("stub_claims")?, features: store.tree("stub_features")? })
    }

    pub fn judge(&self, _engine: &Engine, analysis: &Analysis) -> Vec<Judgement> {
        analysis
            .claims
            .iter()
            .map(|d| match self.claims.get(d.id()).ok().flatten() {
                Some(_) => Judgement {
                    text: d.text.clone(),
                    verdict: ClaimVerdict::Known,
                    score: 1.0,
                    matched: Some(ClaimMatch {
                        claim_id: d.id(),
                        text: d.text.clone(),
                        source: String::new(),
                    }),
                },
                None => {
                    Judgement { text: d.text.clone(), verdict: ClaimVerdict::New, score: 0.0, matched: None }
                }
            })
            .collect()
    }

    pub fn trees(&self) -> [&sled::Tree; 2] {
        [&self.claims, &self.features]
    }
}

pub fn story_verdict(analysis: &Analysis, judgements: &[Judgement]) -> ArticleVerdict {
    if !analysis.on_topic {
        ArticleVerdict::OffTopic
    } else if judgements.iter().any(|j| j.verdict == ClaimVerdict::Known) {
        ArticleVerdict::SameStory
    } else {
        ArticleVerdict::NewStory
    }
}

pub struct Source {
    pub url: String,
    pub lang: String,
}

pub mod index {
    use super::*;

    pub fn insert_in(
        claims: &TransactionalTree,
        _features: &TransactionalTree,
        draft: &ClaimDraft,
        _source: &Source,
        _seen_at: i64,
    ) -> Result<String, ConflictableTransactionError<StoreError>> {
        claims.insert(draft.id().as_bytes(), draft.text.as_bytes())?;
        Ok(draft.id())
    }

    pub fn corroborate_in(
        _claims: &TransactionalTree,
        _id: &str,
        _source: &Source,
    ) -> Result<(), ConflictableTransactionError<StoreError>> {
        Ok(())
    }
}
