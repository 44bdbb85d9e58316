//! Alert delivery: one drain task per configured sink empties that sink's part of the outbox.
//! An alert enters the outbox in the same store transaction as the article that produced it
//! (`pipeline::process_article`); a drain removes it only once the sink holds it durably, so a
//! crash at any moment delivers it again at most to a sink that cannot hold it yet, and the JSONL
//! sink reconciles its file's tail on start so that not even that repeats there.
//!
//! Sinks are independent: a webhook outage delays only the webhook's entries; ingestion never
//! waits for delivery. Trade-off: entries of one sink go out in commit order, so an alert the
//! webhook keeps failing on holds back later ones until it succeeds, is refused, or is given up.

pub mod outbox;
pub mod sinks;

use std::time::Duration;

use anyhow::Result;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::daemon::Tasks;
use crate::store::Store;
use outbox::{Outbox, Pending};
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

/// Starts one named drain task per configured sink.
pub fn spawn_drains(tasks: &Tasks, store: &Store, config: &Config, wake: &Wake) -> Result<()> {
    let outbox = Outbox::open(store)?;
    crate::metrics::outbox_depth(outbox.len() as i64);
    if config.alerts.log {
        tasks.spawn("alert-log", drain(LogSink, outbox.clone(), wake.subscribe(), tasks.token()));
    }
    if let Some(path) = &config.alerts.jsonl {
        let sink = JsonlSink::new(path.clone());
        tasks.spawn("alert-jsonl", drain(sink, outbox.clone(), wake.subscribe(), tasks.token()));
    }
    if let Some(webhook) = &config.alerts.webhook {
        let sink = WebhookSink::new(webhook.clone(), &config.fetch.user_agent)?;
        tasks.spawn("alert-webhook", drain(sink, outbox.clone(), wake.subscribe(), tasks.token()));
    }
    Ok(())
}

/// Delivers everything waiting in the outbox to the configured sinks and returns when each sink
/// has delivered, refused or given up on everything, or when `deadline` passes (for
/// `run --once`). Returns the number of entries still waiting.
pub async fn drain_now(store: &Store, config: &Config, deadline: Duration) -> Result<usize> {
    let tasks = Tasks::default();
    let wake = Wake::new();
    spawn_drains(&tasks, store, config, &wake)?;
    let outbox = Outbox::open(store)?;
    let started = tokio::time::Instant::now();
    while !outbox.is_empty() && started.elapsed() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tasks.stop(Duration::from_secs(5)).await;
    Ok(outbox.len())
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
    let name = kind.as_str();
    let mut prepared = false;
    let mut store_errors = Throttled::new(Duration::from_secs(60));
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
