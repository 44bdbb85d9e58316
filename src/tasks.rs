//! Long-lived tasks with names under one `CancellationToken` and one `TaskTracker`: the daemon
//! spawns its tasks here and the alert drains theirs, and a stop names the tasks that did not end
//! within the deadline. Owns no task itself.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Long-lived tasks with names, one cancellation token, one tracker.
#[derive(Clone, Default)]
pub struct Tasks {
    tracker: TaskTracker,
    token: CancellationToken,
    running: Arc<Mutex<BTreeSet<&'static str>>>,
}

impl Tasks {
    /// Spawns `task` under `name`; it should return soon after [`Tasks::token`] is cancelled.
    /// The handle resolves once the task has ended and its name is no longer listed, so a task
    /// may be replaced by a new one of the same name (an alert drain on reload).
    pub fn spawn<F>(&self, name: &'static str, task: F) -> tokio::task::JoinHandle<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.running.lock().expect("task set lock").insert(name);
        let running = Arc::clone(&self.running);
        self.tracker.spawn(async move {
            task.await;
            running.lock().expect("task set lock").remove(name);
        })
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
