//! Crash and restart: the daemon is killed with SIGKILL at random moments while it ingests a
//! feed whose every article carries one new claim and delivers their alerts, several times over.
//! After every kill the store must open (strictly: no recovery, no "moved aside") and hold every
//! article the log reported as accepted; a final uninterrupted run must end with every article
//! stored, every item recorded as seen and each article's alert in the JSONL file exactly once.
//! Processing is at-least-once across kills (an item whose "seen" mark was not yet flushed is
//! processed again, and recognised as the same item); the outbox makes delivery exactly-once.

use std::collections::BTreeSet;
use std::time::Duration;

use claimwatch::store::records::{self, ArticleRecord};
use claimwatch::store::{trees, Store};

use crate::support::{
    assert_each_alert_once, claim_daemon_config, items_alerted, jsonl_alerts, ClaimFeed, Daemon,
};

const ITEMS: usize = 30;
const KILLS: usize = 6;

#[test]
fn sigkill_during_ingestion_loses_no_article_and_repeats_no_alert() {
    // Slow pages widen the window in which a kill lands mid-ingestion.
    let feed = ClaimFeed::start(ITEMS, Duration::from_millis(30));
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let jsonl = dir.path().join("alerts.jsonl");
    let config = claim_daemon_config(dir.path(), &feed, &jsonl_alerts(&jsonl));
    let args = ["--config", config.to_str().unwrap(), "run"];
    let mut accepted = BTreeSet::new();
    let mut rng = fastrand::Rng::with_seed(
        std::env::var("CLAIMWATCH_TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(2025),
    );
    for round in 0..KILLS {
        let mut daemon = Daemon::start(&args, &[]);
        // Kill after a random number of accepted articles and a random fraction of the next one,
        // so that kills land inside ingestion and alert delivery, not in start-up.
        daemon.wait_for("claimwatch starting", Duration::from_secs(60));
        for _ in 0..rng.usize(0..4) {
            daemon.wait_for("new article", Duration::from_secs(60));
        }
        std::thread::sleep(Duration::from_millis(rng.u64(0..60)));
        daemon.signal("KILL");
        daemon.wait(Duration::from_secs(30));
        let log = daemon.log();
        assert!(!log.contains("STORE CORRUPT"), "round {round}: the store was damaged:\n{log}");
        let this_round = accepted_articles(&log);
        eprintln!(
            "round {round}: killed after {} articles, {} alerts in the file",
            this_round.len(),
            items_alerted(&jsonl).len()
        );
        accepted.extend(this_round);
        let store = Store::open(&state, 1 << 20)
            .unwrap_or_else(|e| panic!("round {round}: the store does not open after SIGKILL: {e}\n{log}"));
        store.probe().unwrap();
        let missing: Vec<_> = accepted.difference(&stored_articles(&store)).cloned().collect();
        assert!(missing.is_empty(), "round {round}: accepted, then lost: {missing:?}\n{log}");
    }
    let mut last = Daemon::start(&args, &[]);
    last.wait_until("every alert delivered", Duration::from_secs(120), || {
        items_alerted(&jsonl).len() >= ITEMS
    });
    last.signal("TERM");
    assert_eq!(last.wait(Duration::from_secs(30)), Some(0), "{}", last.log());
    accepted.extend(accepted_articles(&last.log()));
    let expected: BTreeSet<String> = (0..ITEMS).map(|i| format!("/a/{i}")).collect();
    assert_eq!(accepted, expected, "every item was accepted at least once");

    let store = Store::open(&state, 1 << 20).unwrap();
    assert_eq!(stored_articles(&store), expected, "every article is in the store");
    let seen = store.tree(trees::FEED_ITEMS).unwrap().len();
    assert!(seen >= ITEMS, "only {seen} of {ITEMS} items are recorded as seen");
    drop(store);
    assert_each_alert_once(&jsonl, ITEMS);

    // A further run finds nothing new and delivers nothing again.
    let mut again = Daemon::start(&["--config", config.to_str().unwrap(), "run", "--once"], &[]);
    assert_eq!(again.wait(Duration::from_secs(60)), Some(0));
    assert!(accepted_articles(&again.log()).is_empty(), "{}", again.log());
    assert_each_alert_once(&jsonl, ITEMS);
}

/// The article paths (`/a/N`) that a log reports as accepted (committed and flushed).
fn accepted_articles(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| l.contains("new article"))
        .filter_map(|l| l.split("article_url=").nth(1))
        .filter_map(|rest| rest.split_whitespace().next())
        .filter_map(article_path)
        .collect()
}

/// The article paths (`/a/N`) of the articles in the store.
fn stored_articles(store: &Store) -> BTreeSet<String> {
    let tree = store.tree(trees::ARTICLES).unwrap();
    let mut paths = BTreeSet::new();
    for entry in tree.iter() {
        let (_, bytes) = entry.unwrap();
        let ArticleRecord::V1(article) = records::decode("article", &bytes).unwrap();
        if let Some(path) = article_path(&article.url) {
            paths.insert(path);
        }
    }
    paths
}

fn article_path(url: &str) -> Option<String> {
    let n: String = url[url.find("/a/")? + 3..].chars().take_while(char::is_ascii_digit).collect();
    Some(format!("/a/{n}"))
}
