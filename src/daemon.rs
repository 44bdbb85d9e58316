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
        feeds = config.feeds.len(),
        sinks = ?config.sink_names(),
        once,
        "claimwatch starting"
    );
    let tasks = Tasks::default();
    if once {
        tracing::warn!("feed polling is not built yet: nothing to poll");
        store.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
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
