//! The `feeds` commands: list, add (with discovery), remove, import and export subscriptions.
//! What a subscription is, where feeds come from and their health live in `feeds`. Each runs
//! where the store is ([`Here`]): beside the daemon, or in it through the admin API, where a
//! change reaches the poller at once.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use chrono::Utc;
use url::Url;

use super::{block_on, Here};
use crate::admin::{Request, Response};
use crate::feeds::{all, discover, load_state, read_opml, subscribe, write_opml, Health};
use crate::store::trees;

/// A feed URL as the user typed it: a URL, or a local path made a `file://` URL (resolved here,
/// in the user's working directory, before the request goes anywhere).
pub fn parse_feed_url(text: &str) -> Result<Url> {
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

/// The request of one `feeds` subcommand; reads what only the user can read (the OPML file).
pub fn request(command: super::FeedsCommand) -> Result<Request> {
    use super::FeedsCommand;
    Ok(match command {
        FeedsCommand::List => Request::FeedsList,
        FeedsCommand::Add { url } => Request::FeedsAdd { url: parse_feed_url(&url)?.to_string() },
        FeedsCommand::Remove { url } => Request::FeedsRemove { url: parse_feed_url(&url)?.to_string() },
        FeedsCommand::Import { file } => Request::FeedsImport {
            opml: std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?,
            file: file.display().to_string(),
        },
        FeedsCommand::Export => Request::FeedsExport,
    })
}

/// `feeds list`: every feed with its schedule and health.
pub fn list(here: &Here, out: &mut Response) -> Result<u8> {
    let (config, store) = (&here.config, &here.store);
    let feeds = all(config, store)?;
    let now = Utc::now();
    for feed in &feeds {
        let state = load_state(store, &feed.url)?;
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
        writeln!(
            out.stdout,
            "{}\t{}\t{}\t{}\t{}\t{}",
            feed.url, name, origin, health, next, state.items_seen
        )?;
        if let (Some(error), true) = (&state.last_error, state.consecutive_errors > 0) {
            writeln!(out.stdout, "\tlast error: {error}")?;
        }
    }
    writeln!(out.stderr, "{} feeds", feeds.len())?;
    Ok(0)
}

/// `feeds add URL`: subscribes, discovering the feed behind an HTML page.
pub fn add(here: &Here, url: &str, out: &mut Response) -> Result<u8> {
    let url = parse_feed_url(url)?;
    let fetcher = crate::fetch::Fetcher::new(&here.config.fetch)?;
    let found = block_on(discover(&fetcher, &url))??;
    if here.config.feeds.iter().any(|f| f.url == found.url) {
        writeln!(out.stdout, "{} is already in the configuration ([[feeds]])", found.url)?;
        return Ok(0);
    }
    let new = subscribe(&here.store, &found.url, found.title.clone(), None)?;
    here.store.flush()?;
    here.feeds_changed();
    let title = found.title.as_deref().map(|t| format!(" ({t})")).unwrap_or_default();
    let verb = if new { "subscribed to" } else { "already subscribed to" };
    writeln!(out.stdout, "{verb} {}{title}, found via {}", found.url, found.how)?;
    for other in &found.others {
        writeln!(out.stdout, "  the page also announces {other}")?;
    }
    Ok(0)
}

/// `feeds remove URL`.
pub fn remove(here: &Here, url: &str, out: &mut Response) -> Result<u8> {
    let url = parse_feed_url(url)?;
    let store = &here.store;
    let removed = store.tree(trees::SUBSCRIPTIONS)?.remove(url.as_str())?.is_some();
    if removed {
        store.tree(trees::FEED_STATE)?.remove(url.as_str())?;
        store.flush()?;
        here.feeds_changed();
        writeln!(out.stdout, "unsubscribed from {url}")?;
        Ok(0)
    } else if here.config.feeds.iter().any(|f| f.url == url) {
        writeln!(out.stderr, "claimwatch: {url} comes from [[feeds]] in the configuration; remove it there")?;
        Ok(1)
    } else {
        writeln!(out.stderr, "claimwatch: not subscribed to {url}")?;
        Ok(1)
    }
}

/// `feeds import FILE.opml`: subscribes to every outline (without discovery).
pub fn import(here: &Here, file: &str, xml: &str, out: &mut Response) -> Result<u8> {
    let outlines = read_opml(xml).with_context(|| file.to_string())?;
    let (mut added, mut known, mut bad) = (0, 0, 0);
    for outline in outlines {
        match Url::parse(&outline.url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => {
                if here.config.feeds.iter().any(|f| f.url == url)
                    || !subscribe(&here.store, &url, outline.title, outline.lang)?
                {
                    known += 1;
                } else {
                    added += 1;
                }
            }
            _ => {
                writeln!(out.stderr, "claimwatch: {file}: skipping {:?}: not an http(s) URL", outline.url)?;
                bad += 1;
            }
        }
    }
    here.store.flush()?;
    if added > 0 {
        here.feeds_changed();
    }
    writeln!(out.stdout, "imported {added} feeds ({known} already present, {bad} skipped) from {file}")?;
    Ok(0)
}

/// `feeds export`: every feed as OPML.
pub fn export(here: &Here, out: &mut Response) -> Result<u8> {
    out.stdout.push_str(&write_opml(&all(&here.config, &here.store)?));
    Ok(0)
}
