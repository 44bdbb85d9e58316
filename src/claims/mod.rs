//! The claim engine: which sentences of an article are claims, what facts they carry, and
//! whether the store already knows each fact, in any language, without model weights.
//!
//! [`Engine::analyse`] is pure: normalise, identify the language, split into sentences, drop
//! what is not a claim (headings, captions, datelines, attribution lines, boilerplate), extract
//! language-independent features (entities via the gazetteer, unknown names by phonetic key,
//! concepts, quantities, dates, negation, condition, attribution) and decide topic relevance.
//! [`index::ClaimIndex`] judges the drafts against the stored claims through an in-memory inverted
//! index built from sled; the write functions of [`index`] work inside a transaction the caller
//! owns.
//!
//! Trade-off: evidence is symbolic (lexicons are data files in `config/topics/`), so a fact
//! phrased with words no lexicon knows is compared on entities, numbers and names only.

pub mod features;
pub mod index;
pub mod lexicon;
pub mod split;
pub mod verdict;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use crate::config::{ClaimsConfig, Config};
use crate::model::Article;
use crate::normalize::{self, lang, match_key, tokenize};
use crate::topic::TopicProfile;

use features::Feature;
pub use index::{ClaimIndex, ClaimMatch, ClaimSource, Judgement};
use lexicon::{EntityKind, Lexicon};

/// The stable id of a claim: the same claim text in the same language never gets two ids.
pub type ClaimId = String;

/// One claim found in an article, before it is judged.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimDraft {
    /// The sentence as written (normalised).
    pub text: String,
    pub lang: String,
    /// Prefixed feature strings, sorted (see [`features`]).
    pub features: Vec<String>,
    /// Whether the sentence mentions an event (meeting, hearing, visit).
    pub event: bool,
    /// Features of its setting: facts of the neighbouring sentences and the article's
    /// participants, places, dates and events. A match on these counts partly, so that a
    /// retelling that merges two sentences or names the venue is still the same claim.
    pub context: Vec<String>,
}

impl ClaimDraft {
    /// A stable id from the language and the folded text.
    pub fn id(&self) -> ClaimId {
        claim_id(&self.lang, &self.text)
    }

    pub fn has(&self, feature: &str) -> bool {
        self.features.binary_search_by(|f| f.as_str().cmp(feature)).is_ok()
    }
}

/// The id of a claim text in a language.
pub fn claim_id(lang: &str, text: &str) -> ClaimId {
    let folded: Vec<String> = tokenize(text).into_iter().map(|t| t.key).collect();
    let mut hasher = Sha256::new();
    hasher.update(lang.as_bytes());
    hasher.update([0]);
    hasher.update(folded.join(" ").as_bytes());
    let digest = hasher.finalize();
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// What the engine makes of one article.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    /// ISO 639-1 code, or [`lang::UNSUPPORTED`].
    pub lang: String,
    pub on_topic: bool,
    pub topic_score: f32,
    /// Whether the article names one of the topic's anchors (see [`TopicProfile`]).
    pub anchored: bool,
    pub claims: Vec<ClaimDraft>,
    /// Place and date features of the article's dateline ("BERLIN, 3 February").
    pub dateline: Vec<String>,
    /// Why the article is off topic, when it is.
    pub note: Option<String>,
}

/// Lexicons, topic profile and thresholds, compiled once.
#[derive(Debug, Clone)]
pub struct Engine {
    pub lexicon: Lexicon,
    pub topic: TopicProfile,
    pub config: ClaimsConfig,
    kinds: HashMap<String, EntityKind>,
}

/// Words from which a paragraph without a full stop is a cut-off sentence, not a heading (news
/// headlines run to about a dozen words).
const HEADING_WORDS: usize = 16;

/// Most claims taken from one article; the rest is ignored (and counted in the log).
const MAX_CLAIMS: usize = 400;

impl Engine {
    /// Loads the topic profile named by `config.topic` (a built-in name or a path) and the data
    /// files it names.
    pub fn load(config: &Config) -> Result<Engine> {
        Engine::load_topic(&config.topic, config.claims.clone())
    }

    pub fn load_topic(topic: &str, claims_config: ClaimsConfig) -> Result<Engine> {
        let (profile_text, dir): (String, Option<PathBuf>) =
            if topic.ends_with(".toml") || topic.contains('/') {
                let path = Path::new(topic);
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("topic profile {}", path.display()))?;
                (text, path.parent().map(Path::to_path_buf))
            } else {
                (
                    lexicon::read_data(None, &format!("{topic}.toml"))
                        .with_context(|| format!("topic {topic:?}"))?,
                    None,
                )
            };
        let topic = TopicProfile::parse(&profile_text).context("topic profile")?;
        let concepts = lexicon::read_data(dir.as_deref(), &topic.files.concepts)?;
        let entities = lexicon::read_data(dir.as_deref(), &topic.files.entities)?;
        let language = lexicon::read_data(dir.as_deref(), &topic.files.language)?;
        let lexicon = Lexicon::compile(&concepts, &entities, &language)?;
        let kinds = lexicon_kinds(&entities)?;
        Ok(Engine { lexicon, topic, config: claims_config, kinds })
    }

    /// The kind of a gazetteer entity id.
    pub fn entity_kind(&self, id: &str) -> Option<EntityKind> {
        self.kinds.get(id).copied()
    }

    /// Analyses one article. Pure: no I/O, never panics on any text.
    pub fn analyse(&self, article: &Article) -> Analysis {
        let text = normalize::normalize(&article.text);
        let lang = lang::detect(&text, article.lang_hint.as_deref());
        let mut analysis = Analysis {
            lang: lang.to_string(),
            on_topic: false,
            topic_score: 0.0,
            anchored: false,
            claims: Vec::new(),
            dateline: Vec::new(),
            note: None,
        };
        if lang == lang::UNSUPPORTED {
            analysis.note = Some("unsupported language or script".into());
            return analysis;
        }
        let lex = &self.lexicon;
        let is_month = |w: &str| {
            let toks = tokenize(w);
            !toks.is_empty() && lex.months.longest_at(&toks, 0).is_some()
        };
        let segments = split::split(&text, &lex.abbreviations, &is_month);
        let mut evidence: BTreeSet<String> = BTreeSet::new();
        if let Some(title) = &article.title {
            let toks = tokenize(&normalize::normalize(title));
            evidence.extend(features::extract(lex, lang, &toks).features);
        }
        let mut seen_texts = BTreeSet::new();
        let mut mentions = crate::topic::Mentions::default();
        for (index, seg) in segments.iter().enumerate() {
            let tokens = tokenize(&seg.text);
            if tokens.is_empty() {
                continue;
            }
            if self.is_boilerplate(&seg.text, &tokens) {
                continue;
            }
            let sf = features::extract(lex, lang, &tokens);
            self.topic.count_mentions(&sf.features, &mut mentions);
            // A dateline: places and dates only ("PARIS, January 7", "Berlin, 3. Februar 2026").
            if sf.non_dateline_words == 0 && sf.has_prefix("D:")
                || (sf.non_dateline_words == 0 && index < 3 && sf.words <= 4 && sf.has_prefix("E:"))
            {
                analysis.dateline.extend(
                    sf.features
                        .iter()
                        .filter(|f| {
                            Feature::parse(f).is_some_and(|f| matches!(f, Feature::Entity(_)) || f.is_time())
                        })
                        .cloned(),
                );
                continue;
            }
            evidence.extend(
                sf.features
                    .iter()
                    .filter(|f| matches!(Feature::parse(f), Some(Feature::Concept(_) | Feature::Entity(_))))
                    .cloned(),
            );
            // Headings, labels and captions end without a full stop and are short; a long
            // paragraph without one is a sentence cut off (a feed's excerpt, a truncated page),
            // and what it shows is still a claim, as is a list item. Questions are not claims.
            let heading = !seg.terminal && seg.alone && !seg.list_item && sf.words < HEADING_WORDS;
            if heading || seg.question || sf.words < 4 {
                continue;
            }
            let facts = sf
                .features
                .iter()
                .filter(|f| match Feature::parse(f) {
                    Some(Feature::Quantity { .. }) => true,
                    Some(Feature::Concept(c)) => !self.lexicon.actor_concepts.contains(c),
                    _ => false,
                })
                .count();
            let actors =
                sf.features.iter().filter(|f| Feature::parse(f).is_some_and(|f| f.is_name())).count();
            if facts == 0 && actors < 2 {
                continue;
            }
            // Attribution only: "This is reported by Bloomberg", "Про це повідомляє УНН",
            // "Bloomberg writes, citing European and American officials"; not "Ryabkov announced
            // the delegation will depart Monday evening".
            if facts == 0 && sf.plain_words < 2 && (sf.has_prefix("S:") || sf.features.contains("X:attr")) {
                continue;
            }
            if !seen_texts.insert(match_key(&seg.text)) {
                continue;
            }
            if analysis.claims.len() >= MAX_CLAIMS {
                tracing::warn!(stage = "claims", article_url = %article.url, "too many sentences; the rest is ignored");
                break;
            }
            analysis.claims.push(ClaimDraft {
                text: seg.text.clone(),
                lang: lang.to_string(),
                features: sf.features.into_iter().collect(),
                event: sf.events > 0,
                context: Vec::new(),
            });
        }
        self.fill_context(&mut analysis.claims);
        let (on_topic, score, note) = self.topic.judge(&evidence, &mentions);
        analysis.anchored = self.topic.anchored(&evidence);
        analysis.on_topic = on_topic;
        analysis.topic_score = score;
        analysis.note = note;
        analysis
    }

    /// Sets each draft's context: the facts of its neighbours (quantities included) and the
    /// article-wide entities, names, dates and event concepts.
    fn fill_context(&self, drafts: &mut [ClaimDraft]) {
        let setting = |f: &String| match Feature::parse(f) {
            Some(Feature::Concept(c)) => self.lexicon.event_concepts.contains(c),
            Some(f) => f.is_name() || f.is_time(),
            None => false,
        };
        let neighbour = |f: &String| {
            Feature::parse(f).is_some_and(|f| {
                f.is_name()
                    || f.is_time()
                    || matches!(f, Feature::Concept(_) | Feature::Quantity { .. } | Feature::Value(_))
            })
        };
        let article: BTreeSet<String> =
            drafts.iter().flat_map(|d| d.features.iter().filter(|f| setting(f)).cloned()).collect();
        let contexts: Vec<Vec<String>> = (0..drafts.len())
            .map(|k| {
                let mut ctx = article.clone();
                for j in [k.wrapping_sub(1), k + 1] {
                    if let Some(d) = drafts.get(j) {
                        ctx.extend(d.features.iter().filter(|f| neighbour(f)).cloned());
                    }
                }
                ctx.retain(|f| !drafts[k].has(f));
                ctx.into_iter().collect()
            })
            .collect();
        for (d, ctx) in drafts.iter_mut().zip(contexts) {
            d.context = ctx;
        }
    }

    fn is_boilerplate(&self, text: &str, tokens: &[normalize::Token]) -> bool {
        let lower = text.to_lowercase();
        let lex = &self.lexicon;
        if lex.boiler_starts.iter().any(|s| lower.starts_with(s.as_str())) {
            return true;
        }
        if lex.boiler_contains.iter().any(|s| lower.contains(s.as_str())) {
            return true;
        }
        if text.starts_with('©') || text.contains(" © ") {
            return true;
        }
        // Navigation trails: "Home » World » Ukraine", "Головна / Новини / Світ".
        if ['»', '>', '/', '|'].iter().any(|sep| text.matches(*sep).count() >= 2) && !text.ends_with('.') {
            return true;
        }
        let networks = tokens.iter().filter(|t| lex.networks.contains(&t.key)).count();
        networks >= 2
    }
}

fn lexicon_kinds(entities: &str) -> Result<HashMap<String, EntityKind>> {
    #[derive(serde::Deserialize)]
    struct Kind {
        kind: String,
    }
    let raw: HashMap<String, toml::Value> = toml::from_str(entities)?;
    let mut out = HashMap::new();
    for (id, value) in raw {
        let kind: Kind = value.try_into()?;
        let kind = match kind.kind.as_str() {
            "person" => EntityKind::Person,
            "country" => EntityKind::Country,
            "place" => EntityKind::Place,
            "org" => EntityKind::Org,
            "group" => EntityKind::Group,
            _ => EntityKind::Media,
        };
        out.insert(id, kind);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> Engine {
        Engine::load_topic("ukraine-security-guarantees", ClaimsConfig::default()).unwrap()
    }

    /// The features of one sentence in `lang`.
    fn features(engine: &Engine, lang: &str, text: &str) -> Vec<String> {
        let toks = tokenize(&normalize::normalize(text));
        features::extract(&engine.lexicon, lang, &toks).features.into_iter().collect()
    }

    #[track_caller]
    fn check(lang: &str, text: &str, expected: &[&str]) {
        let engine = engine();
        let got = features(&engine, lang, text);
        for e in expected {
            assert!(got.iter().any(|f| f == e), "{text}: {e} missing from {got:?}");
        }
    }

    #[test]
    fn quantities_agree_across_notations_and_languages() {
        check("en", "the 800,000-strong Ukrainian army", &["Q:personnel:800000"]);
        check("uk", "800-тисячна українська армія", &["V:800000"]);
        check("ru", "армия численностью 800 тысяч военнослужащих", &["Q:personnel:800000"]);
        check("ro", "o armată de 800 de mii de militari", &["V:800000"]);
        check("de", "eine Armee von 800.000 Soldaten", &["Q:personnel:800000"]);
        check("en", "a 15-year term", &["Q:years:15"]);
        check("uk", "термін 15 років", &["Q:years:15"]);
        check("ro", "un termen de 15 ani", &["Q:years:15"]);
        check("uk", "15-річний термін", &["Q:years:15"]);
        check("en", "up to half a century", &["Q:years:50"]);
        check("de", "rund zwei Milliarden Euro pro Jahr", &["Q:eur:2000000000"]);
        check("pl", "1,5 mld zł w tym roku", &["Q:pln:1500000000"]);
    }

    #[test]
    fn words_that_only_begin_like_a_concept_are_not_it() {
        let engine = engine();
        for (lang, text, concept) in [
            ("en", "according to officials in Kyiv", "C:agreement"),
            ("en", "the plan contains three stages", "C:deterrence"),
            ("en", "a joint statement of the allies", "C:participate"),
            ("en", "the committee met on Monday", "C:commitment"),
            ("en", "a fundamental change", "C:finance"),
            ("en", "new US tariffs on steel", "C:energy"),
            ("fr", "le président français et les dirigeants européens", "C:lead"),
            ("fr", "un progrès significatif", "C:sign"),
            ("fr", "la violence sur le front", "C:violation"),
            ("de", "einige Länder der Koalition", "C:agree"),
            ("de", "die Koalition besteht aus 30 Staaten", "C:demand"),
            ("uk", "про це заявив речник у рамках брифінгу", "C:document"),
            ("uk", "у рамках брифінгу на порталі уряду", "C:plan"),
            ("uk", "на порталі уряду", "C:navy_shipping"),
            ("uk", "погода у Києві", "C:agree"),
            ("ru", "согласно этому плану", "C:agree"),
            ("ru", "в целом позитивно", "C:target"),
            ("pl", "zgodnie z planem", "C:agree"),
            ("pl", "w ramach szczytu", "C:plan"),
            ("ro", "un semnal important", "C:sign"),
            ("ro", "în cadrul summitului", "C:plan"),
            ("ro", "Rusia va obiecta aproape sigur", "C:security"),
            ("de", "im Rahmen des Treffens", "C:plan"),
            ("fr", "dans le cadre du sommet", "C:plan"),
            ("pl", "obecnie trwają rozmowy", "C:participate"),
            ("en", "the allies presented a united front", "C:frontline"),
            ("en", "the objective of the talks", "C:reject"),
        ] {
            let got = features(&engine, lang, text);
            assert!(!got.iter().any(|f| f == concept), "{text}: {concept} in {got:?}");
        }
        check("en", "according to the agreement", &["C:agreement"]);
        check("fr", "la mission dirigée par les États-Unis", &["C:lead"]);
        check("de", "die Staaten einigten sich auf einen Plan", &["C:agree"]);
        check("ru", "стороны согласовали план", &["C:agree", "C:plan"]);
        check("uk", "заява коаліції", &["C:document"]);
    }

    #[test]
    fn counts_written_out_before_a_unit_are_quantities() {
        check("en", "they talked for eight hours", &["Q:hours:8"]);
        check("ro", "au discutat aproape opt ore", &["Q:hours:8", "V:8"]);
        check("de", "zwölf Stunden lang", &["Q:hours:12"]);
        check("pl", "przez dwa dni", &["Q:days:2"]);
        // "a", "one" and "several" are no count of their own.
        let engine = engine();
        for (lang, text) in [("en", "one day later"), ("en", "several days later"), ("fr", "plusieurs jours")]
        {
            let got = features(&engine, lang, text);
            assert!(!got.iter().any(|f| f.starts_with("Q:") || f.starts_with("V:")), "{text}: {got:?}");
        }
    }

    #[test]
    fn entities_resolve_across_scripts_and_cases() {
        check("uk", "Стів Віткофф і Джаред Кушнер", &["E:witkoff", "E:kushner"]);
        check("ru", "Стив Уиткофф встретился с Зеленским", &["E:witkoff", "E:zelensky"]);
        check("pl", "prezydent Wołodymyr Zełenski", &["E:zelensky"]);
        check("de", "Selenskyj und die Koalition der Willigen", &["E:zelensky", "E:coalition_willing"]);
        check("fr", "la coalition des volontaires et l'OTAN", &["E:coalition_willing", "E:nato"]);
        // A number that begins an outlet's name is the name, not a count.
        check("uk", "повідомляє 24 Канал з посиланням на Reuters", &["S:channel24", "S:reuters"]);
        // A German compound is what it is built of.
        check("de", "die Sicherheitsgarantien der USA", &["C:security", "C:guarantee"]);
        check("ro", "generalul Alexus Grynkewich", &["E:grynkewich"]);
    }

    #[test]
    fn dates_negation_and_conditions() {
        check("en", "On the 6th of January the leaders met", &["D:1-6"]);
        check("uk", "зустріч 6 січня", &["D:1-6"]);
        check("en", "the United States will not deploy troops", &["G:deploy", "X:neg"]);
        check("ro", "nu va trimite trupe", &["G:deploy"]);
        check("uk", "Україна на це не погодиться", &["C:reject"]);
        check("en", "if Russia attacks again", &["X:cond", "C:attack", "R:russia~attack"]);
    }

    #[test]
    fn analyse_drops_non_claims_and_never_panics() {
        let engine = engine();
        let article = |text: &str| Article {
            url: url::Url::parse("https://example.org/x").unwrap(),
            feed: None,
            feed_name: None,
            title: None,
            text: text.to_string(),
            published: None,
            lang_hint: None,
            seen_at: chrono::Utc::now(),
        };
        let a = engine.analyse(&article(
            "PARIS, January 7\n\nThe US and Europe prepared security guarantees for Ukraine: what does the plan provide?\n\nPhoto: Reuters\n\nThe allies will take part in a US-led mechanism to monitor the ceasefire in Ukraine. This is reported by Bloomberg, citing informed officials.\n\nDeputy Foreign Minister Sergey Ryabkov announced the Russian delegation will depart Monday evening.\n\nRead also: Weather in Kyiv\n\nFollow us on Facebook, Telegram and X!",
        ));
        let texts: Vec<&str> = a.claims.iter().map(|c| c.text.as_str()).collect();
        // An attribution with something said in it is a claim; one that only names its source is not.
        assert_eq!(
            texts,
            [
                "The allies will take part in a US-led mechanism to monitor the ceasefire in Ukraine.",
                "Deputy Foreign Minister Sergey Ryabkov announced the Russian delegation will depart Monday evening."
            ]
        );
        assert!(a.on_topic);
        assert!(a.dateline.iter().any(|f| f == "D:1-7"), "{:?}", a.dateline);
        for text in ["", "\u{0}\u{1}\u{2}", "....!!!???", "1.2.3.4.5", &"ж".repeat(100_000), "\u{202e}x"] {
            let _ = engine.analyse(&article(text));
        }
    }
}
