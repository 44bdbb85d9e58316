//! Per-site extraction rules kept as data: a domain → CSS selector table for the article body
//! (and for extra boilerplate to drop), built in from `config/sites/*.toml` and extendable by
//! the user's `extract.sites_file`, whose entries override the built-in ones per domain.
//!
//! Rules are a hint, not a requirement: when a body selector finds too little text the generic
//! extractor runs, so a site redesign degrades to the generic result instead of an empty one.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use scraper::Selector;
use serde::Deserialize;

/// The built-in rule files, embedded so that the binary needs no data directory.
const BUILTIN: &[(&str, &str)] = &[("config/sites/news.toml", include_str!("../../config/sites/news.toml"))];

#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("cannot read site rules {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("bad site rules in {path}: {message}")]
    Invalid { path: String, message: String },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRules {
    #[serde(default)]
    body: BTreeMap<String, String>,
    #[serde(default)]
    drop: BTreeMap<String, String>,
}

/// One site's compiled rules.
#[derive(Debug, Clone)]
pub struct SiteRule {
    pub body: Option<Selector>,
    pub drop: Option<Selector>,
}

/// The domain → rule table.
#[derive(Debug, Clone, Default)]
pub struct SiteRules {
    sites: BTreeMap<String, SiteRule>,
}

impl SiteRules {
    /// The built-in table (compiled once).
    pub fn builtin() -> &'static SiteRules {
        static BUILT: OnceLock<SiteRules> = OnceLock::new();
        BUILT.get_or_init(|| {
            let mut rules = SiteRules::default();
            for (path, text) in BUILTIN {
                // The built-in files are tested; a broken one is a bug caught by `builtin_rules_parse`.
                if let Err(error) = rules.layer(path, text) {
                    tracing::error!(%error, "built-in site rules skipped");
                }
            }
            rules
        })
    }

    /// The built-in table with the user's file (if any) layered over it.
    pub fn load(user_file: Option<&Path>) -> Result<SiteRules, RulesError> {
        let mut rules = SiteRules::builtin().clone();
        if let Some(path) = user_file {
            let shown = path.display().to_string();
            let text = std::fs::read_to_string(path)
                .map_err(|source| RulesError::Read { path: shown.clone(), source })?;
            rules.layer(&shown, &text)?;
        }
        Ok(rules)
    }

    /// Adds the rules of one TOML text, overriding existing domains.
    pub fn layer(&mut self, path: &str, text: &str) -> Result<(), RulesError> {
        let invalid = |message: String| RulesError::Invalid { path: path.to_string(), message };
        let raw: RawRules = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let compile = |domain: &str, css: &str| {
            Selector::parse(css).map_err(|e| invalid(format!("selector for {domain:?}: {e}")))
        };
        let mut problems = Vec::new();
        for (domain, css) in &raw.body {
            match compile(domain, css) {
                Ok(sel) => self.entry(domain).body = Some(sel),
                Err(e) => problems.push(e.to_string()),
            }
        }
        for (domain, css) in &raw.drop {
            match compile(domain, css) {
                Ok(sel) => self.entry(domain).drop = Some(sel),
                Err(e) => problems.push(e.to_string()),
            }
        }
        match problems.is_empty() {
            true => Ok(()),
            false => Err(invalid(problems.join("; "))),
        }
    }

    fn entry(&mut self, domain: &str) -> &mut SiteRule {
        let domain = domain.trim().trim_start_matches("www.").to_ascii_lowercase();
        self.sites.entry(domain).or_insert(SiteRule { body: None, drop: None })
    }

    /// The rule for a host: the host itself or its nearest parent domain with a rule.
    pub fn for_host(&self, host: &str) -> Option<&SiteRule> {
        let host = host.to_ascii_lowercase();
        let mut candidate = host.as_str();
        loop {
            if let Some(rule) = self.sites.get(candidate) {
                return Some(rule);
            }
            candidate = candidate.split_once('.')?.1;
            if !candidate.contains('.') {
                return None;
            }
        }
    }

    pub fn len(&self) -> usize {
        self.sites.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sites.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_rules_parse() {
        let mut rules = SiteRules::default();
        for (path, text) in BUILTIN {
            rules.layer(path, text).unwrap();
        }
        assert!(!rules.is_empty());
    }

    #[track_caller]
    fn check(host: &str, expected: bool) {
        let mut rules = SiteRules::default();
        rules.layer("t", "[body]\n\"example.com.ua\" = \"div.text\"\n").unwrap();
        assert_eq!(rules.for_host(host).is_some(), expected, "{host}");
    }

    #[test]
    fn host_matching() {
        check("example.com.ua", true);
        check("www.example.com.ua", true);
        check("news.www.example.com.ua", true);
        check("com.ua", false);
        check("otherexample.com.ua", false);
    }

    #[test]
    fn bad_selector_is_reported() {
        let mut rules = SiteRules::default();
        let error = rules.layer("user.toml", "[body]\n\"a.org\" = \"div[\"\n").unwrap_err();
        assert!(error.to_string().contains("user.toml"), "{error}");
        assert!(error.to_string().contains("a.org"), "{error}");
    }
}
