//! Alert delivery: one drain task per configured sink empties that sink's part of the outbox.
//! An alert enters the outbox in the same store transaction as the article that produced it
//! (`pipeline::process_article`); a drain removes it only once the sink holds it durably, so a
//! crash at any moment delivers it again at most to a sink that cannot hold it yet, and the JSONL
//! sink reconciles its file's tail on start so that not even that repeats there.
//!
//! Sinks are independent: a webhook outage delays only the webhook's entries; ingestion never
//! waits for delivery. A reload ([`Drains::apply`]) restarts only the drains whose sink changed;
//! entries waiting for a sink that is no longer configured stay in the outbox until it is again.
//! Trade-off: entries of one sink go out in commit order, so an alert the webhook keeps failing
//! on holds back later ones until it succeeds, is refused, or is given up.

pub mod channels;
pub mod outbox;
pub mod sinks;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::{ChannelConfig, Config, WebhookConfig};
use crate::store::Store;
use crate::tasks::Tasks;
use channels::ChannelSink;
use outbox::{Outbox, Pending, SinkKind};
use sinks::{JsonlSink, LogSink, Outcome, Sink, Throttled, WebhookSink};

/// Wakes the drain tasks after a commit added outbox entries.
#[derive(Clone)]
pub struct Wake(watch::Sender<u64>);

impl Wake {
    pub fn new() -> Wake {
        Wake(watch::channel(0).0)
    }

    pub fn wake(&self) {
        self.0.send_modify(|n| *n = n.wrapping_add(1));
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.0.subscribe()
    }
}

impl Default for Wake {
    fn default() -> Self {
        Wake::new()
    }
}

/// One configured sink with the settings its drain runs with; a reload restarts a drain only
/// when these change.
#[derive(Debug, Clone, PartialEq)]
enum SinkConfig {
    Log,
    Jsonl(PathBuf),
    Webhook { webhook: WebhookConfig, user_agent: String },
    Channel { channel: Box<ChannelConfig>, user_agent: String },
}

impl SinkConfig {
    /// The sinks `config` enables.
    fn all(config: &Config) -> Vec<SinkConfig> {
        let alerts = &config.alerts;
        SinkKind::configured(alerts)
            .into_iter()
            .filter_map(|kind| match kind {
                SinkKind::Log => Some(SinkConfig::Log),
                SinkKind::Jsonl => alerts.jsonl.clone().map(SinkConfig::Jsonl),
                SinkKind::Webhook => alerts.webhook.clone().map(|webhook| SinkConfig::Webhook {
                    webhook,
                    user_agent: config.fetch.user_agent.clone(),
                }),
                SinkKind::Channel(id) => {
                    alerts.channels.iter().find(|c| c.id == id).map(|channel| SinkConfig::Channel {
                        channel: Box::new(channel.clone()),
                        user_agent: config.fetch.user_agent.clone(),
                    })
                }
            })
            .collect()
    }

    fn kind(&self) -> SinkKind {
        match self {
            SinkConfig::Log => SinkKind::Log,
            SinkConfig::Jsonl(_) => SinkKind::Jsonl,
            SinkConfig::Webhook { .. } => SinkKind::Webhook,
            SinkConfig::Channel { channel, .. } => SinkKind::Channel(channel.id),
        }
    }

    /// For logs: the sink's kind, or a channel's label.
    fn label(&self) -> String {
        match self {
            SinkConfig::Channel { channel, .. } => channel.label.clone(),
            other => other.kind().as_str().to_string(),
        }
    }
}

/// A running drain: what it delivers to, its own token (a child of the daemon's) and its task.
struct Running {
    sink: SinkConfig,
    token: CancellationToken,
    task: JoinHandle<()>,
}

/// The drain tasks, one per configured sink, kept in step with the configuration by
/// [`Drains::apply`]. Two drains of one sink never run at once: both would deliver the same
/// entries.
pub struct Drains {
    tasks: Tasks,
    store: Store,
    outbox: Outbox,
    wake: Wake,
    running: Vec<Running>,
}

impl Drains {
    /// Starts one named drain task per configured sink.
    pub fn start(tasks: &Tasks, store: &Store, config: &Config, wake: &Wake) -> Result<Drains> {
        let outbox = Outbox::open(store)?;
        crate::metrics::outbox_depth(outbox.len() as i64);
        let mut drains = Drains {
            tasks: tasks.clone(),
            store: store.clone(),
            outbox,
            wake: wake.clone(),
            running: Vec::new(),
        };
        for sink in SinkConfig::all(config) {
            drains.spawn(sink)?;
        }
        drains.report_stranded();
        Ok(drains)
    }

    /// Applies a reloaded configuration. A drain whose sink is gone or whose settings changed is
    /// stopped at its next safe point (a delivery in flight finishes and is removed from the
    /// outbox first) and awaited; then drains start for new and changed sinks, and take over the
    /// entries waiting for their sink. Entries of a sink that is gone stay in the outbox.
    pub async fn apply(&mut self, config: &Config) {
        let wanted = SinkConfig::all(config);
        let (keep, stop): (Vec<Running>, Vec<Running>) =
            std::mem::take(&mut self.running).into_iter().partition(|r| wanted.contains(&r.sink));
        self.running = keep;
        let stopped: Vec<String> = stop.iter().map(|r| r.sink.label()).collect();
        for running in &stop {
            running.token.cancel();
        }
        for running in stop {
            let _ = running.task.await;
        }
        let mut started = Vec::new();
        for sink in wanted {
            if self.running.iter().any(|r| r.sink == sink) {
                continue;
            }
            let kind = sink.label();
            match self.spawn(sink) {
                Ok(()) => started.push(kind),
                Err(error) => tracing::error!(
                    sink = %kind,
                    error = format!("{error:#}"),
                    "cannot start the reloaded alert sink; its alerts wait in the outbox"
                ),
            }
        }
        if !stopped.is_empty() || !started.is_empty() {
            tracing::info!(stopped = %stopped.join(","), started = %started.join(","), "alert sinks reloaded");
        }
        self.report_stranded();
    }

    /// Entries waiting for the configured sinks.
    pub fn waiting(&self) -> usize {
        self.running.iter().map(|r| self.outbox.waiting(r.sink.kind())).sum()
    }

    fn spawn(&mut self, sink: SinkConfig) -> Result<()> {
        let token = self.tasks.token().child_token();
        let (outbox, wake, t) = (self.outbox.clone(), self.wake.subscribe(), token.clone());
        let task = match &sink {
            SinkConfig::Log => self.tasks.spawn("alert-log", drain(LogSink, outbox, wake, t)),
            SinkConfig::Jsonl(path) => {
                self.tasks.spawn("alert-jsonl", drain(JsonlSink::new(path.clone()), outbox, wake, t))
            }
            SinkConfig::Webhook { webhook, user_agent } => {
                let sink = WebhookSink::new(webhook.clone(), user_agent)?;
                self.tasks.spawn("alert-webhook", drain(sink, outbox, wake, t))
            }
            SinkConfig::Channel { channel, user_agent } => {
                let name = match channel.target.service() {
                    "ntfy" => "alert-ntfy",
                    "slack" => "alert-slack",
                    "telegram" => "alert-telegram",
                    "matrix" => "alert-matrix",
                    _ => "alert-email",
                };
                let sink = ChannelSink::new((**channel).clone(), user_agent, &self.store)?;
                self.tasks.spawn(name, drain(sink, outbox, wake, t))
            }
        };
        self.running.push(Running { sink, token, task });
        Ok(())
    }

    /// One loud line per sink that is not configured but still has alerts in the outbox. They
    /// are never dropped: configuring the sink again delivers them.
    fn report_stranded(&self) {
        for kind in SinkKind::ALL {
            if self.running.iter().any(|r| r.sink.kind() == kind) {
                continue;
            }
            let waiting = self.outbox.waiting(kind);
            if waiting > 0 {
                tracing::error!(
                    sink = kind.as_str(),
                    alerts = waiting,
                    "alerts wait in the outbox for a sink that is no longer configured; \
                     they are kept and delivered when it is configured again"
                );
            }
        }
        for (id, waiting) in self.outbox.channels_waiting() {
            if waiting > 0 && !self.running.iter().any(|r| r.sink.kind() == SinkKind::Channel(id)) {
                tracing::error!(
                    channel_queue = %id.0.iter().map(|b| format!("{b:02x}")).collect::<String>(),
                    alerts = waiting,
                    "alerts wait in the outbox for a channel that is no longer configured (renamed, or an \
                     unnamed channel whose URL changed); they are kept and delivered when it is configured again"
                );
            }
        }
    }
}

/// Delivers everything waiting in the outbox to the configured sinks and returns when each sink
/// has delivered, refused or given up on everything, or when `deadline` passes (for
/// `run --once`). Returns the number of entries still waiting for a configured sink.
pub async fn drain_now(store: &Store, config: &Config, deadline: Duration) -> Result<usize> {
    let tasks = Tasks::default();
    let drains = Drains::start(&tasks, store, config, &Wake::new())?;
    let started = tokio::time::Instant::now();
    while drains.waiting() > 0 && started.elapsed() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tasks.stop(Duration::from_secs(5)).await;
    Ok(drains.waiting())
}

/// Waits for `d`, or returns false at once if the token is cancelled.
async fn pause(token: &CancellationToken, d: Duration) -> bool {
    tokio::select! {
        _ = token.cancelled() => false,
        _ = tokio::time::sleep(d) => true,
    }
}

/// One sink's drain loop: prepare, then deliver batches oldest first; wait for a wake-up when
/// the outbox is empty. Cancellation is honoured only while waiting.
pub async fn drain<S: Sink>(
    mut sink: S,
    outbox: Outbox,
    mut wake: watch::Receiver<u64>,
    token: CancellationToken,
) {
    let kind = sink.kind();
    let label = sink.label();
    let name = label.as_str();
    let mut prepared = false;
    let mut store_errors = Throttled::new(Duration::from_secs(60));
    // Counting what waits reads every key of the sink: exact when little waits, else every 5 s.
    let mut count_pending = Throttled::new(Duration::from_secs(5));
    // A batch that failed is retried as it was, so a webhook sees the same idempotency key.
    let mut retrying: Option<Vec<Pending>> = None;
    loop {
        if token.is_cancelled() {
            return;
        }
        if !prepared {
            match sink.prepare(&outbox).await {
                Ok(()) => prepared = true,
                Err(_) => {
                    if !pause(&token, Duration::from_secs(5)).await {
                        return;
                    }
                    continue;
                }
            }
        }
        let batch = match retrying.take() {
            Some(batch) => batch,
            None => {
                wake.borrow_and_update();
                match outbox.pending(kind, sink.max_batch()) {
                    Ok(batch) => batch,
                    Err(error) => {
                        if store_errors.ready().is_some() {
                            tracing::error!(sink = name, %error, "cannot read the outbox");
                        }
                        if !pause(&token, Duration::from_secs(1)).await {
                            return;
                        }
                        continue;
                    }
                }
            }
        };
        if batch.len() < sink.max_batch() || count_pending.ready().is_some() {
            crate::metrics::alerts_pending(name, outbox.waiting(kind) as i64);
        }
        if batch.is_empty() {
            tokio::select! {
                _ = token.cancelled() => return,
                changed = wake.changed() => if changed.is_err() { return },
                // A periodic look also picks up entries from a commit whose wake-up was missed.
                _ = tokio::time::sleep(Duration::from_secs(30)) => {}
            }
            continue;
        }
        let hold = sink.hold(&batch);
        if !hold.is_zero() {
            if !pause(&token, hold).await {
                return;
            }
            continue; // take in what arrived during the window
        }
        match sink.deliver(&batch).await {
            Outcome::Retry(wait) => {
                for _ in &batch {
                    crate::metrics::alert(name, "retry");
                }
                retrying = Some(batch);
                if !pause(&token, wait).await {
                    return;
                }
            }
            outcome => {
                let label = match outcome {
                    Outcome::Delivered => "delivered",
                    Outcome::Rejected => "failed",
                    _ => "gave_up",
                };
                for _ in &batch {
                    crate::metrics::alert(name, label);
                }
                if let Err(error) = outbox.remove(&batch).await {
                    // The entries stay; a JSONL sink reconciles them on its next prepare.
                    tracing::error!(sink = name, %error, "cannot remove delivered alerts from the outbox");
                    prepared = false;
                    if !pause(&token, Duration::from_secs(1)).await {
                        return;
                    }
                }
            }
        }
    }
}
