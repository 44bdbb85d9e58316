//! The `check` command: analysing one article against the store without writing to it. Output
//! of `check --json` is the contract's object; without `--json` it is a readable explanation of
//! every decision.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result};
use chrono::Utc;
use serde_json::json;
use url::Url;

use super::Here;
use crate::admin::Response;
use crate::claims::features::describe;
use crate::claims::index::{ClaimIndex, Judgement};
use crate::claims::{verdict, Analysis, Engine};
use crate::config::Config;
use crate::model::{Article, ArticleVerdict, ClaimVerdict};
use crate::seeds::{ensure_seeded, from_html};

/// Reads a file, standard input, or an http(s) URL fetched under the daemon's `[fetch]` rules.
pub fn read_input(input: &str, config: &Config) -> Result<(Article, bool)> {
    let (bytes, url, name, content_type) = if input.starts_with("http://") || input.starts_with("https://") {
        let url = Url::parse(input).with_context(|| format!("invalid URL {input}"))?;
        let page = crate::fetch::fetch_blocking(&config.fetch, &url, crate::fetch::Kind::Page)
            .with_context(|| format!("fetching {url}"))?;
        let html = page.content_type.as_deref().is_some_and(|ct| ct.contains("html"));
        (page.body, page.url, if html { "page.html" } else { "" }.to_string(), page.content_type)
    } else if input == "-" {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf).context("reading standard input")?;
        (buf, Url::parse("file:///dev/stdin").expect("static URL"), String::new(), None)
    } else {
        let path = Path::new(input);
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let absolute = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let url = Url::from_file_path(&absolute)
            .unwrap_or_else(|_| Url::parse("file:///input").expect("static URL"));
        (bytes, url, input.to_ascii_lowercase(), None)
    };
    let text = crate::charset::decode(&bytes, content_type.as_deref()).text;
    super::ensure_text(&text).with_context(|| input.to_string())?;
    let head = text.trim_start().chars().take(15).collect::<String>().to_ascii_lowercase();
    let is_html = name.ends_with(".html")
        || name.ends_with(".htm")
        || head.starts_with("<!doctype html")
        || head.starts_with("<html");
    let mut article = Article {
        url,
        feed: None,
        feed_name: None,
        title: None,
        text,
        published: None,
        lang_hint: None,
        seen_at: Utc::now(),
    };
    if is_html {
        let html = std::mem::take(&mut article.text);
        from_html(&mut article, &html);
    }
    Ok((article, is_html))
}

/// `check` with no daemon running: against the user's store when it exists and was seeded,
/// else against a scratch store in the temporary directory seeded from `seeds_dir` and removed
/// afterwards. `check` never creates, seeds or otherwise writes the user's store.
pub fn beside_no_daemon(config: Config, request: crate::admin::Request) -> Result<Response> {
    if config.state_dir.join("store").join("conf").exists() {
        let here = Here::local(config.clone())?;
        if here.store.is_seeded()? {
            return Ok(super::respond(&here, request));
        }
    }
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    let scratch = std::env::temp_dir().join(format!("claimwatch-check-{}-{nanos}", std::process::id()));
    let note = format!(
        "claimwatch: no seeded store in {}: judged against the seed set in {} alone\n",
        config.state_dir.display(),
        config.seeds_dir.display()
    );
    let mut scratch_config = config;
    scratch_config.state_dir = scratch.clone();
    let response = Here::local(scratch_config).map(|here| super::respond(&here, request));
    let _ = std::fs::remove_dir_all(&scratch);
    let mut response = response?;
    response.stderr.insert_str(0, &note);
    Ok(response)
}

/// `claimwatch check [--json] FILE|URL|-`, once the input is read: judges `article` against the
/// daemon's live engine and index when it runs in the daemon, else against the store opened here
/// (seeded first if it never was).
pub fn check(here: &Here, article: &Article, as_json: bool, out: &mut Response) -> Result<u8> {
    let local;
    let (engine, index, dedup) = match &here.live {
        Some(live) => (live.ingest.engine(), live.ingest.claims(), live.ingest.dedup()),
        None => {
            let engine = Engine::load(&here.config)?;
            ensure_seeded(&here.store, &engine, &here.config)?;
            let index = ClaimIndex::open(&here.store, &engine.config)?;
            let dedup = crate::dedup::DedupIndex::open(&here.store)?;
            local = (engine, index, dedup);
            (&local.0, &local.1, &local.2)
        }
    };
    let seen = dedup.lookup(&crate::dedup::fingerprint(article))?;
    if let Some(seen) = &seen {
        tracing::debug!(layer = seen.layer.as_str(), of = %seen.of, similarity = seen.similarity, "seen before");
    }
    // A copy (exact or near-verbatim) of a stored article is a duplicate, whatever its claims
    // say; its claims are still listed.
    let (analysis, judgements, verdict) = check_article(engine, index, article, seen.is_some())?;
    if as_json {
        out.stdout.push_str(&check_json(&analysis, &judgements, verdict).to_string());
        out.stdout.push('\n');
    } else {
        out.stdout.push_str(&explain(&analysis, &judgements, verdict));
    }
    // Nothing could be judged: the verdict is printed, and the exit code says so.
    if analysis.lang == crate::normalize::lang::UNSUPPORTED {
        out.stderr.push_str(
            "claimwatch: nothing to judge: the text is in no supported language (en uk ru ro pl de fr)\n",
        );
        return Ok(1);
    }
    Ok(0)
}

/// Analyses and judges one article without writing anything.
pub fn check_article(
    engine: &Engine,
    index: &ClaimIndex,
    article: &Article,
    seen_before: bool,
) -> Result<(Analysis, Vec<Judgement>, ArticleVerdict)> {
    let analysis = engine.analyse(article);
    let judgements = index.judge(&analysis)?;
    let verdict = verdict::decide(&index.evidence(engine, &analysis, &judgements, seen_before)?);
    Ok((analysis, judgements, verdict))
}

/// The contract's `check --json` object.
pub fn check_json(
    analysis: &Analysis,
    judgements: &[Judgement],
    verdict: ArticleVerdict,
) -> serde_json::Value {
    // Off-topic sentences are not claims: an off-topic article lists none.
    let on_topic = verdict != ArticleVerdict::OffTopic;
    let listed = if on_topic { judgements } else { &[] };
    let claims: Vec<serde_json::Value> = listed
        .iter()
        .map(|j| {
            json!({
                "text": j.text,
                "verdict": if j.verdict == ClaimVerdict::New { "new" } else { "known" },
                "score": round3(j.score),
                "match": j.matched.as_ref().map(|m| json!({"claim_id": m.claim_id, "text": m.text, "source": m.source})),
                "signals": j.signals.named().iter().map(|(name, v)| (name.to_string(), json!(round3(*v)))).collect::<serde_json::Map<_, _>>(),
                "objected": j.objected,
                "why": {
                    "reason": j.reason,
                    "nearest": j.nearest.as_ref().map(|m| json!({"text": m.text, "source": m.source})),
                    "matched": j.shared,
                    "unaccounted": j.differing,
                    "never_seen": j.novel.iter().map(|f| describe(f)).collect::<Vec<_>>(),
                },
            })
        })
        .collect();
    json!({
        "lang": analysis.lang,
        "on_topic": on_topic,
        "article_verdict": verdict.as_str(),
        "claims": claims,
    })
}

fn round3(x: f32) -> f64 {
    (f64::from(x) * 1000.0).round() / 1000.0
}

/// A readable explanation of a check.
pub fn explain(analysis: &Analysis, judgements: &[Judgement], verdict: ArticleVerdict) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "language: {}   on topic: {} (score {:.1})   article: {}",
        analysis.lang,
        analysis.on_topic,
        analysis.topic_score,
        verdict.as_str()
    );
    if let Some(note) = &analysis.note {
        let _ = writeln!(out, "note: {note}");
    }
    for (i, j) in judgements.iter().enumerate() {
        let verdict = if j.verdict == ClaimVerdict::New { "NEW" } else { "known" };
        let _ = writeln!(out, "\n{}. [{verdict}] {}", i + 1, j.text);
        if let Some(reason) = &j.reason {
            let _ = writeln!(out, "   why new: {reason}");
        }
        if let Some(m) = &j.nearest {
            let _ = writeln!(out, "   nearest known claim: {} [{}]", m.text, m.source);
            let _ =
                writeln!(out, "   chance that it repeats it, by the signals alone: {:.0}%", j.score * 100.0);
        }
        let s = &j.signals;
        // Whole percents, never "-0%" from a rounding below zero.
        let percent = |share: f32| (share * 100.0).round().max(0.0);
        let _ = writeln!(
            out,
            "   it accounts for {}% of this claim's facts and {}% of all its content; {}% of the content is in no lexicon",
            percent(s.facts),
            percent(s.coverage),
            percent(s.unrecognised)
        );
        if !j.shared.is_empty() {
            let _ = writeln!(out, "   matched: {}", j.shared.join(", "));
        }
        if !j.differing.is_empty() {
            let _ = writeln!(out, "   unaccounted: {}", j.differing.join(", "));
        }
        if !j.novel.is_empty() {
            let novel: Vec<String> = j.novel.iter().map(|f| describe(f)).collect();
            let _ = writeln!(out, "   in no known claim: {}", novel.join(", "));
        }
    }
    out
}
