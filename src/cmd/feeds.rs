//! The `feeds` commands: list, add (with discovery), remove, import and export subscriptions.
//! What a subscription is, where feeds come from and their health live in `feeds`.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use chrono::Utc;
use url::Url;

use super::{open_store, FeedsCommand};
use crate::config::Config;
use crate::feeds::{all, discover, load_state, read_opml, subscribe, write_opml, Health};
use crate::store::trees;

fn parse_feed_url(text: &str) -> Result<Url> {
    let text = text.trim();
    let url = match Url::parse(text) {
        Ok(url) => url,
        Err(url::ParseError::RelativeUrlWithoutBase) if Path::new(text).exists() => {
            let path = std::fs::canonicalize(text).with_context(|| text.to_string())?;
            Url::from_file_path(&path).map_err(|_| anyhow::anyhow!("{text}: not a usable path"))?
        }
        Err(e) => bail!("{text:?} is not a URL: {e}"),
    };
    if !matches!(url.scheme(), "http" | "https" | "file") {
        bail!("{url}: unsupported scheme {:?}; use http, https or file", url.scheme());
    }
    Ok(url)
}

/// Runs one `feeds` subcommand.
pub fn command(config: &Config, command: super::FeedsCommand) -> Result<ExitCode> {
    match command {
        FeedsCommand::List => cmd_list(config),
        FeedsCommand::Add { url } => cmd_add(config, &url),
        FeedsCommand::Remove { url } => cmd_remove(config, &url),
        FeedsCommand::Import { file } => cmd_import(config, &file),
        FeedsCommand::Export => cmd_export(config),
    }
}

/// `feeds list`: every feed with its schedule and health.
pub fn cmd_list(config: &Config) -> Result<ExitCode> {
    let store = open_store(config)?;
    let feeds = all(config, &store)?;
    let now = Utc::now();
    for feed in &feeds {
        let state = load_state(&store, &feed.url)?;
        let origin = if config.feeds.iter().any(|f| f.url == feed.url) { "config" } else { "subscribed" };
        let health = match Health::of(&state) {
            Health::Ok if state.last_check_at.is_none() => "never polled".to_string(),
            Health::Ok => "ok".to_string(),
            Health::BackingOff => format!("backing off ({} errors)", state.consecutive_errors),
            Health::Failing { since } => format!("failing since {}", since.format("%Y-%m-%d %H:%M UTC")),
        };
        let next = if state.next_check_at <= now.timestamp() {
            "due now".to_string()
        } else {
            let wait = Duration::from_secs((state.next_check_at - now.timestamp()) as u64);
            format!("next in {}", humantime::format_duration(wait))
        };
        let name = feed.name.clone().or(state.title.clone()).unwrap_or_default();
        println!("{}\t{}\t{}\t{}\t{}\t{}", feed.url, name, origin, health, next, state.items_seen);
        if let (Some(error), true) = (&state.last_error, state.consecutive_errors > 0) {
            println!("\tlast error: {error}");
        }
    }
    eprintln!("{} feeds", feeds.len());
    Ok(ExitCode::SUCCESS)
}

/// `feeds add URL`: subscribes, discovering the feed behind an HTML page.
pub fn cmd_add(config: &Config, text: &str) -> Result<ExitCode> {
    let url = parse_feed_url(text)?;
    let store = open_store(config)?;
    let fetcher = crate::fetch::Fetcher::new(&config.fetch)?;
    let found = super::runtime()?.block_on(discover(&fetcher, &url))?;
    if config.feeds.iter().any(|f| f.url == found.url) {
        println!("{} is already in the configuration ([[feeds]])", found.url);
        return Ok(ExitCode::SUCCESS);
    }
    let new = subscribe(&store, &found.url, found.title.clone(), None)?;
    store.flush()?;
    let title = found.title.as_deref().map(|t| format!(" ({t})")).unwrap_or_default();
    let verb = if new { "subscribed to" } else { "already subscribed to" };
    println!("{verb} {}{title}, found via {}", found.url, found.how);
    for other in &found.others {
        println!("  the page also announces {other}");
    }
    Ok(ExitCode::SUCCESS)
}

/// `feeds remove URL`.
pub fn cmd_remove(config: &Config, text: &str) -> Result<ExitCode> {
    let url = parse_feed_url(text)?;
    let store = open_store(config)?;
    let removed = store.tree(trees::SUBSCRIPTIONS)?.remove(url.as_str())?.is_some();
    if removed {
        store.tree(trees::FEED_STATE)?.remove(url.as_str())?;
        store.flush()?;
        println!("unsubscribed from {url}");
        Ok(ExitCode::SUCCESS)
    } else if config.feeds.iter().any(|f| f.url == url) {
        eprintln!("claimwatch: {url} comes from [[feeds]] in the configuration; remove it there");
        Ok(ExitCode::FAILURE)
    } else {
        eprintln!("claimwatch: not subscribed to {url}");
        Ok(ExitCode::FAILURE)
    }
}

/// `feeds import FILE.opml`: subscribes to every outline (without discovery).
pub fn cmd_import(config: &Config, file: &Path) -> Result<ExitCode> {
    let xml = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let outlines = read_opml(&xml).with_context(|| format!("{}", file.display()))?;
    let store = open_store(config)?;
    let (mut added, mut known, mut bad) = (0, 0, 0);
    for outline in outlines {
        match Url::parse(&outline.url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => {
                if config.feeds.iter().any(|f| f.url == url)
                    || !subscribe(&store, &url, outline.title, outline.lang)?
                {
                    known += 1;
                } else {
                    added += 1;
                }
            }
            _ => {
                eprintln!("claimwatch: {}: skipping {:?}: not an http(s) URL", file.display(), outline.url);
                bad += 1;
            }
        }
    }
    store.flush()?;
    println!("imported {added} feeds ({known} already present, {bad} skipped) from {}", file.display());
    Ok(ExitCode::SUCCESS)
}

/// `feeds export`: every feed as OPML on standard output.
pub fn cmd_export(config: &Config) -> Result<ExitCode> {
    let store = open_store(config)?;
    print!("{}", write_opml(&all(config, &store)?));
    Ok(ExitCode::SUCCESS)
}
