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
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        state_dir = %config.state_dir.display(),
        feeds = crate::feeds::all(&config, &store).map(|f| f.len()).unwrap_or(config.feeds.len()),
        sinks = ?config.sink_names(),
        once,
        "claimwatch starting"
    );
    let tasks = Tasks::default();
    let ctx = Ctx::new(Arc::new(config.clone()), store.clone())?;
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

/// Wall-clock time that advances with tokio's clock, so that the scheduler loop runs under
/// `tokio::time::pause()` in tests exactly as it does in production.
#[derive(Clone, Copy)]
pub struct Clock {
    wall: chrono::DateTime<chrono::Utc>,
    start: tokio::time::Instant,
}

impl Clock {
    pub fn new() -> Clock {
        Clock { wall: chrono::Utc::now(), start: tokio::time::Instant::now() }
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.wall + chrono::Duration::from_std(self.start.elapsed()).unwrap_or_default()
    }
}

impl Default for Clock {
    fn default() -> Clock {
        Clock::new()
    }
}

/// How often the scheduler re-reads the feed list (new subscriptions) and counts feed health.
const RELOAD_EVERY: Duration = Duration::from_secs(60);

/// The scheduler loop: wakes for due feeds, refreshes each (at most one refresh per feed at a
/// time; the fetcher's semaphores bound the rest), and persists their state. The schedule is
/// kept in memory (feed URL → next check) and refilled from the store every [`RELOAD_EVERY`];
/// a restart resumes from the stored `next_check_at`.
pub async fn poller(ctx: Ctx, token: CancellationToken) -> Result<()> {
    use std::collections::HashMap;
    type Done = (String, Result<pipeline::Refreshed, crate::store::StoreError>);
    let mut schedule: HashMap<String, (crate::model::Feed, chrono::DateTime<chrono::Utc>)> = HashMap::new();
    let mut in_flight: BTreeSet<String> = BTreeSet::new();
    let mut set: tokio::task::JoinSet<Done> = tokio::task::JoinSet::new();
    let mut task_keys: HashMap<tokio::task::Id, String> = HashMap::new();
    let clock = Clock::new();
    let mut next_reload = tokio::time::Instant::now();
    loop {
        if tokio::time::Instant::now() >= next_reload {
            let feeds = crate::feeds::all(&ctx.config, &ctx.store)?;
            let mut fresh = HashMap::with_capacity(feeds.len());
            for feed in &feeds {
                let key = feed.url.to_string();
                let due = match schedule.remove(&key) {
                    Some((_, due)) => due,
                    None => crate::feeds::at(crate::feeds::load_state(&ctx.store, &feed.url)?.next_check_at),
                };
                fresh.insert(key, (feed.clone(), due));
            }
            schedule = fresh;
            crate::feeds::count_health(&ctx.store, &feeds);
            next_reload = tokio::time::Instant::now() + RELOAD_EVERY;
        }
        let now = clock.now();
        let mut next_due: Option<chrono::DateTime<chrono::Utc>> = None;
        for (key, (feed, due)) in &schedule {
            if in_flight.contains(key) {
                continue;
            }
            if *due <= now {
                in_flight.insert(key.clone());
                let (ctx, feed, key2) = (ctx.clone(), feed.clone(), key.clone());
                let handle = set.spawn(async move {
                    let result = pipeline::refresh_feed(&ctx, &feed, clock.now()).await;
                    (key2, result)
                });
                task_keys.insert(handle.id(), key.clone());
            } else if next_due.is_none_or(|n| *due < n) {
                next_due = Some(*due);
            }
        }
        let until_reload = next_reload.saturating_duration_since(tokio::time::Instant::now());
        let nap = next_due.map_or(until_reload, |d| (d - now).to_std().unwrap_or_default().min(until_reload));
        tokio::select! {
            _ = token.cancelled() => break,
            _ = tokio::time::sleep(nap) => {}
            Some(joined) = set.join_next_with_id(), if !set.is_empty() => {
                let retry_soon = now + chrono::Duration::from_std(ctx.config.schedule.min_interval)
                    .unwrap_or(chrono::Duration::minutes(5));
                match joined {
                    Ok((id, (key, result))) => {
                        task_keys.remove(&id);
                        in_flight.remove(&key);
                        match result {
                            Ok(refreshed) => {
                                if let Some(entry) = schedule.get_mut(&key) {
                                    entry.1 = refreshed.next_check_at;
                                }
                            }
                            Err(error) => {
                                // The state could not be stored: try again after the shortest
                                // interval rather than immediately, and say so.
                                tracing::error!(feed_url = %key, error = %error, "feed state could not be stored");
                                if let Some(entry) = schedule.get_mut(&key) {
                                    entry.1 = retry_soon;
                                }
                            }
                        }
                    }
                    Err(error) => {
                        // A panic in one refresh costs that feed one interval, never the loop.
                        let key = task_keys.remove(&error.id()).unwrap_or_default();
                        tracing::error!(feed_url = %key, error = %error, "a feed refresh panicked");
                        in_flight.remove(&key);
                        if let Some(entry) = schedule.get_mut(&key) {
                            entry.1 = retry_soon;
                        }
                    }
                }
            }
        }
    }
    // In-flight refreshes may finish within half the shutdown deadline; then they are aborted.
    // Aborting drops them at an await (a fetch), never inside a store write (those are
    // synchronous), and an item is marked seen only after it was processed, so an aborted
    // refresh is simply repeated after the restart.
    let grace = ctx.config.shutdown.deadline / 2;
    let drained = tokio::time::timeout(grace, async { while set.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(feeds = ?in_flight, "feed refreshes still running at shutdown were aborted");
        set.abort_all();
        while set.join_next().await.is_some() {}
    }
    Ok(())
}
