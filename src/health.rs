//! The daemon's health as other tasks report it: whether the store answers and whether the
//! scheduler makes progress. One cheap, cloneable [`Health`] handle is shared by the poller (which
//! reports progress), the store probe (which reports the store), the HTTP endpoint (`/readyz`) and
//! the systemd watchdog (which pings only while [`Health::check`] is ready).
//!
//! Trade-off: "progress" is a heartbeat the scheduler sends, not a proof that feeds are fetched.
//! The scheduler must tick at least every [`TICK_EVERY`] while it waits and after each finished
//! feed, so that a stalled loop (a deadlock, a hung await) shows as a stale heartbeat within
//! `stall_after`, while a loop that is merely idle between due feeds does not.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// The longest a healthy scheduler goes without [`Health::scheduler_tick`].
pub const TICK_EVERY: Duration = Duration::from_secs(60);

/// A shared view of the daemon's health; clones share state.
#[derive(Clone, Debug)]
pub struct Health {
    inner: Arc<Mutex<State>>,
    stall_after: Duration,
}

#[derive(Debug)]
struct State {
    store: Result<(), String>,
    scheduler: Option<Scheduler>,
    feeds: Option<FeedCounts>,
    max_backoff: Duration,
}

/// Feeds by health, as the poller last counted them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeedCounts {
    pub total: usize,
    pub failing: usize,
    pub backing_off: usize,
    /// How long every feed has been failing; `None` unless all of them are.
    pub failing_for: Option<Duration>,
}

#[derive(Debug, Clone, Copy)]
struct Scheduler {
    last_tick: Instant,
    feeds_due: usize,
    last_cycle: Option<SystemTime>,
}

/// The answer to "is the daemon working?", for `/readyz`, the watchdog and STATUS= lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    /// `Err` names why the store does not answer.
    pub store: Result<(), String>,
    /// `None` when no scheduler runs in this process (e.g. no poller task).
    pub scheduler: Option<SchedulerReadiness>,
    /// `None` until the poller has counted them.
    pub feeds: Option<FeedCounts>,
    /// `schedule.max_backoff`: every feed failing for this long is worth a loud line.
    pub max_backoff: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedulerReadiness {
    pub stalled: bool,
    pub since_tick: Duration,
    pub feeds_due: usize,
    pub last_cycle: Option<SystemTime>,
}

impl Health {
    /// A scheduler that has not ticked for `stall_after` counts as stalled.
    pub fn new(stall_after: Duration) -> Health {
        Health {
            inner: Arc::new(Mutex::new(State {
                store: Err("not probed yet".into()),
                scheduler: None,
                feeds: None,
                max_backoff: Duration::MAX,
            })),
            stall_after,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the state inconsistent (plain fields).
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The store probe's latest answer.
    pub fn set_store(&self, result: Result<(), String>) {
        self.state().store = result;
    }

    /// The poller's latest count of feeds by health; `max_backoff` is `schedule.max_backoff`.
    pub fn set_feeds(&self, counts: FeedCounts, max_backoff: Duration) {
        let mut state = self.state();
        state.feeds = Some(counts);
        state.max_backoff = max_backoff;
    }

    /// The scheduler is alive and made progress (woke from a wait, finished a feed). The first
    /// call registers the scheduler: from then on readiness requires regular ticks.
    pub fn scheduler_tick(&self) {
        let mut state = self.state();
        match &mut state.scheduler {
            Some(s) => s.last_tick = Instant::now(),
            None => {
                state.scheduler =
                    Some(Scheduler { last_tick: Instant::now(), feeds_due: 0, last_cycle: None })
            }
        }
    }

    /// The scheduler finished a cycle in which `feeds_due` feeds were due (also a tick).
    pub fn cycle_done(&self, feeds_due: usize) {
        self.scheduler_tick();
        if let Some(s) = &mut self.state().scheduler {
            s.feeds_due = feeds_due;
            s.last_cycle = Some(SystemTime::now());
        }
        crate::metrics::poll_cycle(feeds_due);
    }

    /// The current readiness.
    pub fn check(&self) -> Readiness {
        let state = self.state();
        Readiness {
            store: state.store.clone(),
            scheduler: state.scheduler.map(|s| {
                let since_tick = s.last_tick.elapsed();
                SchedulerReadiness {
                    stalled: since_tick > self.stall_after,
                    since_tick,
                    feeds_due: s.feeds_due,
                    last_cycle: s.last_cycle,
                }
            }),
            feeds: state.feeds,
            max_backoff: state.max_backoff,
        }
    }
}

impl Readiness {
    /// Store answers and the scheduler (if any) is not stalled.
    pub fn is_ready(&self) -> bool {
        self.store.is_ok() && !self.scheduler.as_ref().is_some_and(|s| s.stalled)
    }

    /// Lines for `/readyz`: one per component.
    pub fn report(&self) -> String {
        let store = match &self.store {
            Ok(()) => "store: ok".to_string(),
            Err(why) => format!("store: not answering: {why}"),
        };
        let scheduler = match &self.scheduler {
            None => "scheduler: not running in this process".to_string(),
            Some(s) if s.stalled => {
                format!("scheduler: stalled, no progress for {}s", s.since_tick.as_secs())
            }
            Some(s) => format!("scheduler: ok, last progress {}s ago", s.since_tick.as_secs()),
        };
        let mut report =
            format!("{}\n{store}\n{scheduler}\n", if self.is_ready() { "ready" } else { "not ready" });
        if let Some(feeds) = &self.feeds {
            report.push_str(&format!(
                "feeds: {} configured, {} failing, {} backing off\n",
                feeds.total, feeds.failing, feeds.backing_off
            ));
            if let Some(line) = self.all_failing() {
                report.push_str(&format!("feeds: {line}\n"));
            }
        }
        report
    }

    /// "all 35 feeds failing for 1day 2h: no network?" once every feed has failed for
    /// `schedule.max_backoff` or longer.
    fn all_failing(&self) -> Option<String> {
        let feeds = self.feeds.as_ref()?;
        let since = feeds.failing_for.filter(|d| *d >= self.max_backoff)?;
        let since = humantime::format_duration(Duration::from_secs(since.as_secs()));
        Some(format!("ALL {} feeds failing for {since}: no network?", feeds.total))
    }

    /// One short line for systemd's STATUS=.
    pub fn status_line(&self) -> String {
        let mut line = match &self.scheduler {
            None => "running, no feeds scheduled".to_string(),
            Some(s) => {
                let cycle = match s.last_cycle.and_then(|t| t.elapsed().ok()) {
                    Some(ago) => format!("last cycle {}s ago", ago.as_secs()),
                    None => "no cycle finished yet".to_string(),
                };
                format!("feeds due: {}, {cycle}", s.feeds_due)
            }
        };
        if let Err(why) = &self.store {
            line.push_str(&format!("; store not answering: {why}"));
        }
        if self.scheduler.as_ref().is_some_and(|s| s.stalled) {
            line.push_str("; scheduler stalled");
        }
        match (&self.feeds, self.all_failing()) {
            (_, Some(all)) => line.push_str(&format!("; {all}")),
            (Some(feeds), None) if feeds.failing > 0 => {
                line.push_str(&format!("; {} of {} feeds failing", feeds.failing, feeds.total))
            }
            _ => {}
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_needs_a_store_answer() {
        let health = Health::new(Duration::from_secs(60));
        assert!(!health.check().is_ready(), "not ready before the first store probe");
        health.set_store(Ok(()));
        assert!(health.check().is_ready());
        health.set_store(Err("timed out".into()));
        let readiness = health.check();
        assert!(!readiness.is_ready());
        assert!(readiness.report().contains("store: not answering: timed out"));
    }

    #[test]
    fn failing_feeds_are_reported_and_all_failing_for_max_backoff_is_loud() {
        let health = Health::new(Duration::from_secs(60));
        health.set_store(Ok(()));
        let some = FeedCounts { total: 35, failing: 3, backing_off: 1, failing_for: None };
        health.set_feeds(some, Duration::from_secs(3600));
        let readiness = health.check();
        assert!(
            readiness.report().contains("feeds: 35 configured, 3 failing, 1 backing off"),
            "{}",
            readiness.report()
        );
        assert!(readiness.status_line().contains("3 of 35 feeds failing"), "{}", readiness.status_line());
        let all = FeedCounts {
            total: 35,
            failing: 35,
            backing_off: 0,
            failing_for: Some(Duration::from_secs(1800)),
        };
        health.set_feeds(all, Duration::from_secs(3600));
        assert!(!health.check().report().contains("ALL"), "not yet for max_backoff");
        let all = FeedCounts { failing_for: Some(Duration::from_secs(7200)), ..all };
        health.set_feeds(all, Duration::from_secs(3600));
        let readiness = health.check();
        assert!(
            readiness.report().contains("ALL 35 feeds failing for 2h: no network?"),
            "{}",
            readiness.report()
        );
        assert!(
            readiness.status_line().contains("ALL 35 feeds failing for 2h"),
            "{}",
            readiness.status_line()
        );
        assert!(readiness.is_ready(), "the daemon itself works: a restart would not bring the network back");
    }

    #[test]
    fn a_registered_scheduler_that_stops_ticking_is_stalled() {
        let health = Health::new(Duration::from_millis(1));
        health.set_store(Ok(()));
        health.cycle_done(3);
        std::thread::sleep(Duration::from_millis(5));
        let readiness = health.check();
        assert!(!readiness.is_ready());
        assert!(readiness.status_line().contains("feeds due: 3"), "{}", readiness.status_line());
        assert!(readiness.status_line().contains("stalled"));
    }
}
