//! The daemon's lifecycle: open the store (moving a corrupt one aside), import seeds on first
//! start, log a start-up summary, run named tasks under one cancellation token and task tracker,
//! talk to systemd, reload on SIGHUP, and stop gracefully on SIGTERM or SIGINT within
//! `shutdown.deadline`, naming the tasks that did not stop. Tasks are cancelled only while they
//! wait, never inside a store commit or an alert delivery.
//!
//! systemd (`Type=notify`): READY=1 once the store is open and every task is started, STATUS=
//! lines (feeds due, last cycle) every few seconds, WATCHDOG=1 only while [`Health`] is ready (the
//! store answers and the scheduler makes progress) so that a stuck daemon is restarted, and
//! STOPPING=1 when a stop signal arrives. Without `NOTIFY_SOCKET` all of this is a no-op.
//!
//! Reload (SIGHUP): [`reload`] re-reads every configuration layer with the same command-line
//! flags; a valid result is published on a `tokio::sync::watch` channel ([`ConfigWatch`]) that
//! the poller and the alert sinks ([`follow_sinks`]) read at their next safe point, so in-flight
//! work finishes under the configuration it started with. A bad new configuration is logged and
//! the old one kept. Keys that only take effect at start-up (state dir, listen address, store
//! cache) are named in a warning.

use std::collections::BTreeSet;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use sd_notify::NotifyState;
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::admin::{PollReport, PollerRequest};
use crate::config::{Config, Problems};
use crate::health::Health;
use crate::pipeline::{self, Ctx, Outcome};
use crate::store::Store;
use crate::tasks::Tasks;

/// The live configuration: the poller and the sinks read the latest value at safe points.
pub type ConfigWatch = watch::Receiver<Arc<Config>>;

/// How often the store is probed for readiness and its size measured.
const PROBE_EVERY: Duration = Duration::from_secs(10);
/// A store probe that takes longer than this counts as "not answering".
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// How often STATUS= is refreshed when the watchdog is off.
const STATUS_EVERY: Duration = Duration::from_secs(10);

/// How long the scheduler may go without progress before it counts as stalled: long enough for
/// a few request timeouts in a row, short enough that systemd restarts a stuck daemon soon.
pub fn stall_after(config: &Config) -> Duration {
    (config.fetch.timeout * 4).max(Duration::from_secs(300))
}

/// Runs the daemon until a stop signal (or, with `once`, until one full poll is processed).
/// `admin` answers the commands that arrive on the admin socket (`admin.socket`); without it
/// (and with `once`) no socket is opened.
pub async fn run(config: Config, once: bool, admin: Option<crate::admin::Handler>) -> Result<ExitCode> {
    // Signal handlers first: a SIGTERM during start-up (seeding, loading the claim engine) must
    // not kill the daemon uncleanly. `run --once` keeps the default disposition: SIGTERM ends it.
    let signals = if once { None } else { Some(Signals::install()?) };
    let (store, _moved_aside) = Store::open_or_recover(&config.state_dir, config.store.cache_size)
        .with_context(|| format!("opening the store in {}", config.state_dir.display()))?;
    // On first start the seed set is what the store knows; a seed set that cannot be imported
    // stops start-up (exit 1) rather than alerting on the whole known story.
    crate::seeds::seed_if_needed(&config, &store)?;
    let feeds = crate::feeds::all(&config, &store).context("reading the stored subscriptions")?.len();
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        state_dir = %config.state_dir.display(),
        feeds,
        subscriptions = feeds - config.feeds.len(),
        sinks = %config.sink_names().join(","),
        listen = %config.server.listen.map_or("off".to_string(), |a| a.to_string()),
        once,
        "claimwatch starting"
    );
    crate::metrics::feeds_total(feeds as i64);
    let ctx = Ctx::new(Arc::new(config.clone()), store.clone())?;
    if once {
        poll_once(&ctx).await?;
        store.flush()?;
        let waiting = crate::alert::drain_now(&store, &config, config.shutdown.deadline).await?;
        if waiting > 0 {
            tracing::warn!(waiting, "alerts still waiting for a sink; the next run delivers them");
        }
        return Ok(ExitCode::SUCCESS);
    }

    let mut signals = signals.expect("installed for the daemon");
    crate::metrics::known_labels(&config.sink_names());
    let tasks = Tasks::default();
    let health = Health::new(stall_after(&config));
    let deadline = config.shutdown.deadline;
    let (config_tx, _config_rx) = watch::channel(Arc::new(config));
    let config = config_tx.borrow().clone();
    let (poller_tx, poller_rx) = tokio::sync::mpsc::channel(16);

    if let Some(handler) = admin {
        let path = crate::admin::socket_path(&config);
        let listener = crate::admin::bind(&path)?;
        tracing::info!(socket = %path.display(), "serving the admin API");
        let live =
            crate::admin::Live::new(store.clone(), ctx.ingest.clone(), config_tx.subscribe(), poller_tx);
        tasks.spawn("admin", crate::admin::serve(listener, path, live, handler, tasks.token()));
    }

    if let Some(addr) = config.server.listen {
        let listener = crate::server::bind(addr).await?;
        tracing::info!(listen = %listener.local_addr()?, "serving /healthz /readyz /metrics and the claim ledger (/, /claims.atom, /api/claims, /api/feeds)");
        let ledger = crate::ledger::Ledger::new(store.clone());
        tasks.spawn("ledger", ledger.clone().follow(tasks.token()));
        let site = crate::server::Site { ledger, config: config_tx.subscribe() };
        tasks.spawn("server", crate::server::serve(listener, health.clone(), site, tasks.token()));
    }
    let drains = crate::alert::Drains::start(&tasks, &store, &config, ctx.ingest.wake())?;
    tasks
        .spawn("alert-sinks", follow_sinks(drains, ctx.ingest.clone(), config_tx.subscribe(), tasks.token()));
    tasks.spawn(
        "retention",
        crate::ingest::retention(store.clone(), config.store.retain_bodies, tasks.token()),
    );
    probe_store_once(&store, &health).await;
    tasks.spawn("store-probe", probe_store(store.clone(), health.clone(), tasks.token()));
    let (poller_config, poller_health, token) = (config_tx.subscribe(), health.clone(), tasks.token());
    // Registers the scheduler: from now on readiness and the watchdog require its progress.
    health.scheduler_tick();
    tasks.spawn("poller", async move {
        if let Err(error) = poller_with(ctx, poller_config, poller_health, token, poller_rx).await {
            tracing::error!(error = format!("{error:#}"), "the poller stopped");
        }
    });
    tasks.spawn("systemd", tell_systemd(health.clone(), tasks.token()));

    notify(&[NotifyState::Ready, NotifyState::Status(&health.check().status_line())]);
    tracing::info!("started");

    loop {
        match signals.next().await {
            Received::Stop => break,
            Received::Reload => {
                let current = config_tx.borrow().clone();
                if let Some(new) = reload(&current) {
                    config_tx.send_replace(Arc::new(new));
                }
            }
        }
    }

    notify(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
    tracing::info!(deadline = %humantime::format_duration(deadline), "stop signal received, stopping");
    let stuck = tasks.stop(deadline).await;
    store.flush()?;
    if stuck.is_empty() {
        tracing::info!("stopped cleanly");
    } else {
        tracing::error!(tasks = %stuck.join(","), "tasks did not stop within the deadline");
    }
    Ok(ExitCode::SUCCESS)
}

/// Re-reads the configuration (SIGHUP). Returns the new configuration to publish, or `None` when
/// it is invalid (logged; the caller keeps `current`).
pub fn reload(current: &Config) -> Option<Config> {
    match current.reload() {
        Ok(new) => {
            for key in restart_only_changes(current, &new) {
                tracing::warn!(key, "changed in the configuration but takes effect only after a restart");
            }
            crate::metrics::config_reload("applied");
            tracing::info!(
                feeds = new.feeds.len(),
                sinks = %new.sink_names().join(","),
                read_from = %new.sources.join(" → "),
                "configuration reloaded"
            );
            Some(new)
        }
        Err(Problems(problems)) => {
            crate::metrics::config_reload("rejected");
            tracing::error!(
                problems = %problems.join("; "),
                "configuration reload rejected, keeping the running configuration"
            );
            None
        }
    }
}

/// The keys whose new values a running daemon cannot apply.
fn restart_only_changes(old: &Config, new: &Config) -> Vec<&'static str> {
    let mut keys = Vec::new();
    if old.state_dir != new.state_dir {
        keys.push("state_dir");
    }
    if old.server.listen != new.server.listen {
        keys.push("server.listen");
    }
    if old.store.cache_size != new.store.cache_size {
        keys.push("store.cache_size");
    }
    if old.log.level != new.log.level || old.log.format != new.log.format {
        keys.push("log");
    }
    if old.shutdown.deadline != new.shutdown.deadline {
        keys.push("shutdown.deadline");
    }
    if old.admin.socket != new.admin.socket {
        keys.push("admin.socket");
    }
    keys
}

/// Keeps the alert sinks in step with the live configuration. On a reload the ingest first
/// enqueues for the new set of sinks (once the commits in flight are done), then the drains of
/// changed sinks are stopped after their delivery in flight and new ones started, so every alert
/// waits for exactly the sinks configured when it was committed and none is delivered twice.
async fn follow_sinks(
    mut drains: crate::alert::Drains,
    ingest: crate::ingest::Ingest,
    mut config: ConfigWatch,
    token: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = token.cancelled() => return,
            changed = config.changed() => if changed.is_err() { return },
        }
        let live = config.borrow_and_update().clone();
        let (ingest, alerts) = (ingest.clone(), live.clone());
        // Waiting for a commit in flight blocks: keep it off the async workers.
        if let Err(error) = tokio::task::spawn_blocking(move || ingest.set_sinks(&alerts.alerts)).await {
            tracing::error!(%error, "switching the ingest to the reloaded alert sinks failed");
            continue;
        }
        drains.apply(&live).await;
    }
}

/// Sends `state` to systemd when run as a `Type=notify` service; a no-op otherwise.
fn notify(state: &[NotifyState]) {
    if let Err(error) = sd_notify::notify(state) {
        tracing::debug!(%error, "sd_notify failed");
    }
}

/// Refreshes STATUS= and, when systemd asked for a watchdog, pings it only while healthy.
async fn tell_systemd(health: Health, token: CancellationToken) {
    let watchdog = sd_notify::watchdog_enabled();
    let every = watchdog.map(|w| (w / 2).max(Duration::from_millis(100))).unwrap_or(STATUS_EVERY);
    let mut was_ready = true;
    loop {
        tokio::select! {
            _ = token.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        let readiness = health.check();
        let (ping, status) = systemd_update(&readiness, watchdog.is_some());
        match (readiness.is_ready(), was_ready) {
            (true, false) => tracing::info!(status, "healthy again"),
            (false, true) => {
                tracing::error!(status, "unhealthy: withholding watchdog pings so systemd restarts us")
            }
            _ => {}
        }
        if ping {
            notify(&[NotifyState::Watchdog, NotifyState::Status(&status)]);
        } else {
            notify(&[NotifyState::Status(&status)]);
        }
        was_ready = readiness.is_ready();
    }
}

/// What to tell systemd on one tick: whether to send WATCHDOG=1 (only when the watchdog is on
/// and the daemon is ready) and the STATUS= line.
fn systemd_update(readiness: &crate::health::Readiness, watchdog: bool) -> (bool, String) {
    (watchdog && readiness.is_ready(), readiness.status_line())
}

/// Probes the store every [`PROBE_EVERY`] and records the answer and the store's size.
async fn probe_store(store: Store, health: Health, token: CancellationToken) {
    let mut prober = StoreProber::default();
    loop {
        tokio::select! {
            _ = token.cancelled() => return,
            _ = tokio::time::sleep(PROBE_EVERY) => {}
        }
        prober.probe(&store, &health).await;
    }
}

async fn probe_store_once(store: &Store, health: &Health) {
    StoreProber::default().probe(store, health).await;
}

/// Probes the store off the runtime: sled calls block, and a hung disk must not hang a task.
/// At most one probe is in flight; while a hung one is still running no new one is started
/// (so a hang costs one blocking thread, not one per probe) and the store counts as not
/// answering, which withholds the watchdog and gets the daemon restarted.
#[derive(Default)]
struct StoreProber {
    in_flight: Option<(tokio::task::JoinHandle<Result<u64, crate::store::StoreError>>, std::time::Instant)>,
}

impl StoreProber {
    async fn probe(&mut self, store: &Store, health: &Health) {
        let (mut handle, started) = match self.in_flight.take() {
            Some(pending) => pending,
            None => {
                let store = store.clone();
                let handle = tokio::task::spawn_blocking(move || {
                    store.probe()?;
                    Ok(store.size_on_disk())
                });
                (handle, std::time::Instant::now())
            }
        };
        let result = match tokio::time::timeout(PROBE_TIMEOUT, &mut handle).await {
            Ok(Ok(Ok(size))) => {
                crate::metrics::store_size(size);
                Ok(())
            }
            Ok(Ok(Err(error))) => Err(error.to_string()),
            Ok(Err(join_error)) => Err(format!("probe panicked: {join_error}")),
            Err(_) => {
                self.in_flight = Some((handle, started));
                Err(format!("no answer for {}s", started.elapsed().as_secs()))
            }
        };
        if let Err(why) = &result {
            tracing::error!(error = %why, stage = "store", "store probe failed");
        }
        health.set_store(result);
    }
}

enum Received {
    Stop,
    Reload,
}

/// SIGTERM, SIGINT (stop) and SIGHUP (reload).
struct Signals {
    term: Signal,
    int: Signal,
    hup: Signal,
}

impl Signals {
    fn install() -> Result<Signals> {
        Ok(Signals {
            term: signal(SignalKind::terminate()).context("installing the SIGTERM handler")?,
            int: signal(SignalKind::interrupt()).context("installing the SIGINT handler")?,
            hup: signal(SignalKind::hangup()).context("installing the SIGHUP handler")?,
        })
    }

    async fn next(&mut self) -> Received {
        tokio::select! {
            _ = self.term.recv() => Received::Stop,
            _ = self.int.recv() => Received::Stop,
            _ = self.hup.recv() => Received::Reload,
        }
    }
}

/// Waits for SIGTERM or SIGINT.
pub async fn wait_for_stop_signal() -> Result<()> {
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}

/// How many feeds are refreshed at once: enough that the fetcher's global limit stays busy while
/// some refreshes wait for their host's spacing or for a commit, few enough that a thousand due
/// feeds do not each hold a parsed document and an article in memory at the same time.
fn refreshes_at_once(config: &Config) -> usize {
    config.fetch.concurrency.saturating_mul(4)
}

/// `run --once`: polls every feed now, whatever its schedule says (at most
/// [`refreshes_at_once`] at a time), and waits for all of them.
pub async fn poll_once(ctx: &Ctx) -> Result<()> {
    let feeds = crate::feeds::all(&ctx.config, &ctx.store)?;
    let limit = refreshes_at_once(&ctx.config);
    let mut set = tokio::task::JoinSet::new();
    let (mut ok, mut failed, mut new_items) = (0, 0, 0);
    let mut pending = feeds.iter().cloned();
    loop {
        while set.len() < limit {
            let Some(feed) = pending.next() else { break };
            let ctx = ctx.clone();
            set.spawn(async move {
                let result = pipeline::refresh_feed(&ctx, &feed, chrono::Utc::now()).await;
                (feed, result)
            });
        }
        let Some(joined) = set.join_next().await else { break };
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
    if failed > 0 && failed == feeds.len() {
        tracing::error!(feeds = feeds.len(), "{failed} of {} feeds failed: no network?", feeds.len());
    }
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
/// time and [`refreshes_at_once`] in all; the fetcher's semaphores bound the requests), and
/// persists their state. A due feed beyond the limit starts when a refresh ends. The schedule is
/// kept in memory (feed URL → next check) and refilled from the store every [`RELOAD_EVERY`];
/// a restart resumes from the stored `next_check_at`. The feed list comes from the live
/// configuration (a SIGHUP reload takes effect at once), and `health` is ticked on every pass.
pub async fn poller(ctx: Ctx, config: ConfigWatch, health: Health, token: CancellationToken) -> Result<()> {
    let (_nobody, requests) = tokio::sync::mpsc::channel(1);
    poller_with(ctx, config, health, token, requests).await
}

/// [`poller`], also answering [`PollerRequest`]s from the admin API: re-read the feed list now
/// (a subscription changed), or poll every feed now and report once each has been refreshed.
pub async fn poller_with(
    mut ctx: Ctx,
    config: ConfigWatch,
    health: Health,
    token: CancellationToken,
    mut requests: tokio::sync::mpsc::Receiver<PollerRequest>,
) -> Result<()> {
    use std::collections::HashMap;
    let mut polls: Vec<PollAll> = Vec::new();
    // Said once when every feed is failing, again only after one recovered.
    let mut all_failing_said = false;
    type Done = (String, Result<pipeline::Refreshed, crate::store::StoreError>);
    let mut schedule: HashMap<String, (crate::model::Feed, chrono::DateTime<chrono::Utc>)> = HashMap::new();
    let mut in_flight: BTreeSet<String> = BTreeSet::new();
    let mut set: tokio::task::JoinSet<Done> = tokio::task::JoinSet::new();
    let mut task_keys: HashMap<tokio::task::Id, String> = HashMap::new();
    let clock = Clock::new();
    let mut next_reload = tokio::time::Instant::now();
    let mut config = config;
    loop {
        let reloaded = config.has_changed().unwrap_or(false);
        if tokio::time::Instant::now() >= next_reload || reloaded {
            let live = config.borrow_and_update().clone();
            if reloaded {
                // New fetch settings take effect for refreshes started from now on.
                match ctx.reloaded(live.clone()) {
                    Ok(new_ctx) => ctx = new_ctx,
                    Err(error) => {
                        tracing::error!(
                            error = format!("{error:#}"),
                            "reloaded fetch settings rejected; keeping the old client"
                        )
                    }
                }
            }
            let feeds = crate::feeds::all(&live, &ctx.store)?;
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
            for poll in &mut polls {
                poll.to_start.retain(|key| schedule.contains_key(key));
            }
            finish_polls(&mut polls);
            crate::metrics::feeds_total(feeds.len() as i64);
            let counts = crate::feeds::count_health(&ctx.store, &feeds);
            health.set_feeds(counts, live.schedule.max_backoff);
            match counts.failing_for {
                Some(_) if !all_failing_said => {
                    tracing::error!("{} of {} feeds failed: no network?", counts.failing, counts.total);
                    all_failing_said = true;
                }
                None => all_failing_said = false,
                _ => {}
            }
            next_reload = tokio::time::Instant::now() + RELOAD_EVERY;
        }
        let now = clock.now();
        let limit = refreshes_at_once(&ctx.config);
        let mut next_due: Option<chrono::DateTime<chrono::Utc>> = None;
        let mut started = 0;
        for (key, (feed, due)) in &schedule {
            if in_flight.contains(key) {
                continue;
            }
            if *due <= now {
                if set.len() >= limit {
                    continue;
                }
                in_flight.insert(key.clone());
                let (ctx, feed, key2) = (ctx.clone(), feed.clone(), key.clone());
                let handle = set.spawn(async move {
                    let result = pipeline::refresh_feed(&ctx, &feed, clock.now()).await;
                    (key2, result)
                });
                task_keys.insert(handle.id(), key.clone());
                for poll in &mut polls {
                    if poll.to_start.remove(key) {
                        poll.running.insert(key.clone());
                    }
                }
                started += 1;
            } else if next_due.is_none_or(|n| *due < n) {
                next_due = Some(*due);
            }
        }
        if started > 0 {
            health.cycle_done(started);
        } else {
            health.scheduler_tick();
        }
        let until_reload = next_reload.saturating_duration_since(tokio::time::Instant::now());
        let nap = next_due.map_or(until_reload, |d| (d - now).to_std().unwrap_or_default().min(until_reload));
        tokio::select! {
            _ = token.cancelled() => break,
            _ = tokio::time::sleep(nap) => {}
            Ok(()) = config.changed() => {}
            Some(request) = requests.recv() => match request {
                PollerRequest::FeedsChanged => next_reload = tokio::time::Instant::now(),
                PollerRequest::PollAll(reply) => {
                    // Every feed is due now; one in flight is refreshed again once it ends, so
                    // the report covers refreshes that started after the request.
                    let to_start: BTreeSet<String> = schedule.keys().cloned().collect();
                    for entry in schedule.values_mut() {
                        entry.1 = now;
                    }
                    polls.push(PollAll { reply, to_start, running: BTreeSet::new(), report: PollReport { feeds: schedule.len(), ..Default::default() } });
                    finish_polls(&mut polls);
                }
            },
            Some(joined) = set.join_next_with_id(), if !set.is_empty() => {
                let retry_soon = now + chrono::Duration::from_std(ctx.config.schedule.min_interval)
                    .unwrap_or(chrono::Duration::minutes(5));
                match joined {
                    Ok((id, (key, result))) => {
                        task_keys.remove(&id);
                        in_flight.remove(&key);
                        for poll in &mut polls {
                            if poll.running.remove(&key) {
                                poll.count(result.as_ref().map(|r| &r.outcome));
                            }
                        }
                        let wanted_again = polls.iter().any(|p| p.to_start.contains(&key));
                        finish_polls(&mut polls);
                        match result {
                            Ok(refreshed) => {
                                if let Some(entry) = schedule.get_mut(&key) {
                                    entry.1 = if wanted_again { now } else { refreshed.next_check_at };
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
                        for poll in &mut polls {
                            if poll.running.remove(&key) {
                                poll.report.failed += 1;
                            }
                        }
                        finish_polls(&mut polls);
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
        let feeds = in_flight.iter().map(String::as_str).collect::<Vec<_>>().join(" ");
        tracing::warn!(feeds, "feed refreshes still running at shutdown were aborted");
        set.abort_all();
        while set.join_next().await.is_some() {}
    }
    Ok(())
}

/// One `run --once` asked of the running poller: the feeds still to start, those running.
struct PollAll {
    reply: tokio::sync::oneshot::Sender<PollReport>,
    to_start: BTreeSet<String>,
    running: BTreeSet<String>,
    report: PollReport,
}

impl PollAll {
    fn count(&mut self, result: Result<&Outcome, &crate::store::StoreError>) {
        match result {
            Ok(Outcome::Fetched { new_items, .. }) => {
                self.report.ok += 1;
                self.report.new_items += new_items;
            }
            Ok(Outcome::NotModified | Outcome::Unchanged) => self.report.ok += 1,
            Ok(Outcome::Failed { .. }) | Err(_) => self.report.failed += 1,
        }
    }
}

/// Answers the polls whose every feed has been refreshed.
fn finish_polls(polls: &mut Vec<PollAll>) {
    let (done, waiting): (Vec<PollAll>, Vec<PollAll>) =
        polls.drain(..).partition(|p| p.to_start.is_empty() && p.running.is_empty());
    *polls = waiting;
    for poll in done {
        let _ = poll.reply.send(poll.report);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_reload_keeps_the_running_configuration_and_a_good_one_replaces_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "feeds = []\n").unwrap();
        let current = crate::config::load(Some(&file), Some(dir.path())).unwrap();
        assert_eq!(current.feeds.len(), 0);

        std::fs::write(&file, "[[feeds]]\nurl = \"https://example.org/a.xml\"\n[fetch]\ntimout = \"1s\"\n")
            .unwrap();
        assert!(reload(&current).is_none(), "a typo'd key must be rejected");

        std::fs::write(&file, "[[feeds]]\nurl = \"https://example.org/a.xml\"\n[server]\nlisten = \"\"\n")
            .unwrap();
        let new = reload(&current).expect("a valid file is applied");
        assert_eq!(new.feeds.len(), 1);
        assert_eq!(new.state_dir, dir.path(), "--state-dir is applied again");
        assert_eq!(restart_only_changes(&current, &new), vec!["server.listen"]);
    }

    #[test]
    fn the_watchdog_is_pinged_only_while_the_store_answers_and_the_scheduler_progresses() {
        let health = Health::new(Duration::from_millis(50));
        health.set_store(Ok(()));
        health.cycle_done(2);
        assert!(systemd_update(&health.check(), true).0);
        assert!(!systemd_update(&health.check(), false).0, "no watchdog asked for");

        health.set_store(Err("no answer for 5s".into()));
        let (ping, status) = systemd_update(&health.check(), true);
        assert!(!ping && status.contains("store not answering"), "{status}");

        health.set_store(Ok(()));
        std::thread::sleep(Duration::from_millis(80));
        let (ping, status) = systemd_update(&health.check(), true);
        assert!(!ping && status.contains("scheduler stalled"), "{status}");
        health.scheduler_tick();
        assert!(systemd_update(&health.check(), true).0, "progress resumes the pings");
    }
}
