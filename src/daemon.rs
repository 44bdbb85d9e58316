//! The daemon's lifecycle: open the store, import seeds on first start, log a start-up summary,
//! run named tasks under one cancellation token and task tracker, and stop gracefully on SIGTERM
//! or SIGINT within `shutdown.deadline`, naming the tasks that did not stop. Tasks are cancelled
//! only while they wait, never inside a store commit or an alert delivery.

use std::collections::BTreeSet;
use std::future::Future;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::pipeline::{self, Ctx, Outcome};
use crate::store::Store;

/// Long-lived tasks with names, one cancellation token, one tracker.
#[derive(Clone, Default)]
pub struct Tasks {
    tracker: TaskTracker,
    token: CancellationToken,
    running: Arc<Mutex<BTreeSet<&'static str>>>,
}

impl Tasks {
    /// Spawns `task` under `name`; it should return soon after [`Tasks::token`] is cancelled.
    pub fn spawn<F>(&self, name: &'static str, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.running.lock().expect("task set lock").insert(name);
        let running = Arc::clone(&self.running);
        self.tracker.spawn(async move {
            task.await;
            running.lock().expect("task set lock").remove(name);
        });
    }

    /// The token every task watches.
    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }

    /// Cancels every task and waits up to `deadline`; returns the names of tasks still running.
    pub async fn stop(&self, deadline: Duration) -> Vec<&'static str> {
        self.token.cancel();
        self.tracker.close();
        if tokio::time::timeout(deadline, self.tracker.wait()).await.is_ok() {
            return Vec::new();
        }
        self.running.lock().expect("task set lock").iter().copied().collect()
    }
}

/// Runs the daemon until a stop signal (or, with `once`, until one full poll is processed).
pub async fn run(config: Config, once: bool) -> Result<ExitCode> {
    let store = Store::open(&config.state_dir, config.store.cache_size)
        .with_context(|| format!("opening the store in {}", config.state_dir.display()))?;
    // On first start the seed set is what the store knows (a missing seed set is only a warning).
    crate::claims::cmd::seed_if_needed(&config, &store);
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        state_dir = %config.state_dir.display(),
        feeds = config.feeds.len(),
        sinks = ?config.sink_names(),
        once,
        "claimwatch starting"
    );
    let tasks = Tasks::default();
    let ctx = Ctx::new(Arc::new(config.clone()), store.clone()).context("building the HTTP client")?;
    if once {
        poll_once(&ctx).await?;
        store.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    let token = tasks.token();
    tasks.spawn("poller", async move {
        if let Err(error) = poller(ctx, token).await {
            tracing::error!(error = format!("{error:#}"), "the poller stopped");
        }
    });
    wait_for_stop_signal().await?;
    tracing::info!(deadline = ?config.shutdown.deadline, "stop signal received, stopping");
    let stuck = tasks.stop(config.shutdown.deadline).await;
    store.flush()?;
    if stuck.is_empty() {
        tracing::info!("stopped cleanly");
    } else {
        tracing::error!(tasks = ?stuck, "tasks did not stop within the deadline");
    }
    Ok(ExitCode::SUCCESS)
}

/// Waits for SIGTERM or SIGINT.
pub async fn wait_for_stop_signal() -> Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}

/// `run --once`: polls every feed now, whatever its schedule says, and waits for all of them.
pub async fn poll_once(ctx: &Ctx) -> Result<()> {
    let feeds = crate::feeds::all(&ctx.config, &ctx.store)?;
    let mut set = tokio::task::JoinSet::new();
    for feed in feeds.iter().cloned() {
        let ctx = ctx.clone();
        set.spawn(async move {
            let result = pipeline::refresh_feed(&ctx, &feed, chrono::Utc::now()).await;
            (feed, result)
        });
    }
    let (mut ok, mut failed, mut new_items) = (0, 0, 0);
    while let Some(joined) = set.join_next().await {
        let (feed, result) = joined.context("a feed refresh task panicked")?;
        match result.with_context(|| format!("feed {}", feed.url))?.outcome {
            Outcome::Failed { .. } => failed += 1,
            Outcome::Fetched { new_items: n, .. } => {
                ok += 1;
                new_items += n;
            }
            Outcome::NotModified | Outcome::Unchanged => ok += 1,
        }
    }
    crate::feeds::count_health(&ctx.store, &feeds);
    tracing::info!(feeds = feeds.len(), ok, failed, new_items, "poll finished");
    Ok(())
}

/// The longest the scheduler sleeps before looking at the feed list again (new subscriptions,
/// clock jumps).
const MAX_NAP: Duration = Duration::from_secs(60);

/// The scheduler loop: wakes for due feeds, refreshes each (at most one refresh per feed at a
/// time; the fetcher's semaphores bound the rest), and persists their state. A restart resumes
/// from the stored `next_check_at`.
pub async fn poller(ctx: Ctx, token: CancellationToken) -> Result<()> {
    let mut in_flight: BTreeSet<String> = BTreeSet::new();
    let mut set: tokio::task::JoinSet<(String, Result<pipeline::Refreshed, crate::store::StoreError>)> =
        tokio::task::JoinSet::new();
    loop {
        let now = chrono::Utc::now();
        let feeds = crate::feeds::all(&ctx.config, &ctx.store)?;
        let mut next_due = now + chrono::Duration::from_std(MAX_NAP).expect("a small duration");
        for feed in feeds.iter() {
            if in_flight.contains(feed.url.as_str()) {
                continue;
            }
            let state = crate::feeds::load_state(&ctx.store, &feed.url)?;
            let due = crate::feeds::at(state.next_check_at);
            if due <= now {
                in_flight.insert(feed.url.to_string());
                let (ctx, feed) = (ctx.clone(), feed.clone());
                set.spawn(async move {
                    let result = pipeline::refresh_feed(&ctx, &feed, chrono::Utc::now()).await;
                    (feed.url.to_string(), result)
                });
            } else if due < next_due {
                next_due = due;
            }
        }
        crate::feeds::count_health(&ctx.store, &feeds);
        let nap = (next_due - now).to_std().unwrap_or_default().min(MAX_NAP);
        tokio::select! {
            _ = token.cancelled() => break,
            _ = tokio::time::sleep(nap) => {}
            Some(joined) = set.join_next(), if !set.is_empty() => {
                match joined {
                    Ok((url, result)) => {
                        in_flight.remove(&url);
                        if let Err(error) = result {
                            tracing::error!(feed_url = %url, error = %error, "feed state could not be stored");
                        }
                    }
                    Err(error) => tracing::error!(error = %error, "a feed refresh task failed"),
                }
            }
        }
    }
    // In-flight refreshes finish on their own (cancel only while waiting); wait for them.
    while set.join_next().await.is_some() {}
    Ok(())
}
