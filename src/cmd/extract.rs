//! `claimwatch extract [--json] FILE|URL|-…`: main-text extraction of local files, standard
//! input or URLs (fetched with the daemon's fetcher and its `[fetch]` rules: private addresses
//! refused unless allowed, size caps, timeouts), one result per input in order. A failing input
//! is reported on stderr and, in JSON mode, as an `{"error": …}` line so that output lines stay
//! aligned with inputs; the exit code is 1 if any input failed.

use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use anyhow::Context;
use chrono::SecondsFormat;
use serde::Serialize;
use url::Url;

use crate::config::Config;
use crate::extract::{extract_with, Rules, SiteRules};
use crate::fetch::{FetchOutcome, Fetcher, Kind, Request};
use crate::model::Extracted;

/// The contract's `extract --json` object.
#[derive(Serialize)]
struct Output<'a> {
    title: Option<&'a str>,
    text: &'a str,
    published: Option<String>,
    lang: Option<&'a str>,
    canonical_url: Option<&'a str>,
    author: Option<&'a str>,
}

pub fn run(config: &Config, json: bool, inputs: &[String]) -> anyhow::Result<ExitCode> {
    let sites = SiteRules::load(config.extract.sites_file.as_deref())?;
    let rules = Rules { sites: &sites, ..Rules::default() };
    // The fetcher and its runtime are only built when an input is a URL.
    let mut fetching: Option<(tokio::runtime::Runtime, Fetcher)> = None;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut failed = false;
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(MAX_WORKERS);
    // Local inputs are extracted on a few threads, a batch at a time, and printed in order;
    // URLs go one by one through the fetcher (which has its own politeness limits).
    let mut index = 0;
    while index < inputs.len() {
        let batch_end = (index + BATCH).min(inputs.len());
        let batch = &inputs[index..batch_end];
        let mut results: Vec<Option<anyhow::Result<Extracted>>> = extract_local_batch(batch, &rules, workers);
        for (offset, input) in batch.iter().enumerate() {
            let result = match results[offset].take() {
                Some(result) => result,
                None => extract_input(input, &rules, config, &mut fetching),
            };
            let i = index + offset;
            match result.map(with_detected_lang) {
                Ok(extracted) => {
                    if json {
                        writeln!(out, "{}", to_json(&extracted))?;
                    } else {
                        if i > 0 {
                            writeln!(out)?;
                        }
                        write_readable(&mut out, input, &extracted)?;
                    }
                }
                Err(error) => {
                    failed = true;
                    out.flush()?;
                    eprintln!("claimwatch: extract: {input}: {error:#}");
                    if json {
                        writeln!(out, "{}", serde_json::json!({ "error": format!("{input}: {error:#}") }))?;
                    }
                }
            }
        }
        index = batch_end;
    }
    out.flush()?;
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// Threads extracting local inputs at once.
const MAX_WORKERS: usize = 4;
/// Inputs extracted before their results are printed.
const BATCH: usize = 64;

fn is_url(input: &str) -> bool {
    input.starts_with("http://") || input.starts_with("https://")
}

/// Extracts the batch's local inputs (files, stdin) on `workers` threads; URLs are left `None`.
fn extract_local_batch(
    batch: &[String],
    rules: &Rules<'_>,
    workers: usize,
) -> Vec<Option<anyhow::Result<Extracted>>> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<anyhow::Result<Extracted>>>> =
        Mutex::new((0..batch.len()).map(|_| None).collect());
    let work = || loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(input) = batch.get(i) else { break };
        if is_url(input) {
            continue;
        }
        let result = extract_local(input, rules);
        results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(result);
    };
    let local = batch.iter().filter(|i| !is_url(i)).count();
    if workers <= 1 || local <= 1 {
        work();
    } else {
        std::thread::scope(|scope| {
            for _ in 0..workers.min(local) {
                scope.spawn(work);
            }
        });
    }
    results.into_inner().unwrap_or_else(|p| p.into_inner())
}

fn extract_input(
    input: &str,
    rules: &Rules<'_>,
    config: &Config,
    fetching: &mut Option<(tokio::runtime::Runtime, Fetcher)>,
) -> anyhow::Result<Extracted> {
    if is_url(input) {
        let url = Url::parse(input).context("not a valid URL")?;
        if fetching.is_none() {
            let fetcher = Fetcher::new(&config.fetch).context("building the HTTP client")?;
            *fetching = Some((super::runtime()?, fetcher));
        }
        let (runtime, fetcher) = fetching.as_ref().expect("set above");
        let request = Request { url: &url, kind: Kind::Page, validators: None, allow_file: false };
        let page = match runtime.block_on(fetcher.fetch(request))? {
            FetchOutcome::Fetched(page) => page,
            FetchOutcome::NotModified { .. } => anyhow::bail!("the server answered 304 Not Modified"),
        };
        let tld = page.url.host_str().and_then(|h| h.rsplit('.').next()).map(str::to_ascii_lowercase);
        let decoded = crate::charset::decode_hinted(&page.body, page.content_type.as_deref(), tld.as_deref());
        super::ensure_text(&decoded.text)?;
        return Ok(extract_with(&decoded.text, &page.url, rules));
    }
    extract_local(input, rules)
}

/// A file, or standard input for `-`, decoded and extracted.
fn extract_local(input: &str, rules: &Rules<'_>) -> anyhow::Result<Extracted> {
    let (bytes, base) = if input == "-" {
        let mut bytes = Vec::new();
        std::io::stdin().lock().read_to_end(&mut bytes).context("reading standard input")?;
        (bytes, Url::parse("file:///dev/stdin").expect("static URL"))
    } else {
        let path = Path::new(input);
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let base = std::fs::canonicalize(path)
            .ok()
            .and_then(|p| Url::from_file_path(p).ok())
            .unwrap_or_else(|| Url::parse("file:///").expect("static URL"));
        (bytes, base)
    };
    let decoded = crate::charset::decode(&bytes, None);
    super::ensure_text(&decoded.text)?;
    Ok(extract_with(&decoded.text, &base, rules))
}

/// The page's declared language, else the one its text is written in (extraction itself only
/// reports what the page declares).
fn with_detected_lang(mut extracted: Extracted) -> Extracted {
    if extracted.lang.is_none() {
        let detected = crate::normalize::lang::detect(&extracted.text, None);
        if detected != crate::normalize::lang::UNSUPPORTED {
            extracted.lang = Some(detected.to_string());
        }
    }
    extracted
}

fn to_json(e: &Extracted) -> String {
    let output = Output {
        title: e.title.as_deref(),
        text: &e.text,
        published: e.published.map(|d| d.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
        lang: e.lang.as_deref(),
        canonical_url: e.canonical_url.as_ref().map(Url::as_str),
        author: e.author.as_deref(),
    };
    serde_json::to_string(&output).unwrap_or_else(|_| "{}".into())
}

fn write_readable(out: &mut impl Write, input: &str, e: &Extracted) -> std::io::Result<()> {
    let none = "-";
    writeln!(out, "== {input}")?;
    writeln!(out, "title:     {}", e.title.as_deref().unwrap_or(none))?;
    writeln!(out, "author:    {}", e.author.as_deref().unwrap_or(none))?;
    let published = e.published.map(|d| d.to_rfc3339_opts(SecondsFormat::AutoSi, true));
    writeln!(out, "published: {}", published.as_deref().unwrap_or(none))?;
    writeln!(out, "lang:      {}", e.lang.as_deref().unwrap_or(none))?;
    writeln!(out, "canonical: {}", e.canonical_url.as_ref().map_or(none, Url::as_str))?;
    writeln!(out)?;
    writeln!(out, "{}", e.text)
}
