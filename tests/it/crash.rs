//! Crash and restart: the daemon is killed with SIGKILL at random moments while it ingests a
//! feed, many times over. After every kill the store must open (strictly: no recovery, no
//! "moved aside"), and a final uninterrupted run must end with every item of the feed processed
//! and recorded as seen. Processing is at-least-once across kills (an item whose "seen" mark was
//! not yet flushed is processed again); exactly-once delivery of alerts is the outbox's job.

use std::collections::BTreeSet;
use std::time::Duration;

use claimwatch::store::{trees, Store};

use crate::support::{Daemon, Reply, TestServer};

const ITEMS: usize = 40;
const KILLS: usize = 12;

#[test]
fn sigkill_during_ingestion_never_breaks_the_store_and_nothing_is_lost() {
    let server = TestServer::start(|r| {
        if r.path == "/feed.xml" {
            let mut xml =
                String::from("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Crash</title>");
            for i in 0..ITEMS {
                xml.push_str(&format!(
                    "<item><title>Item {i}</title><link>http://{host}/a/{i}</link>\
                     <description>Summary of item {i} about security guarantees.</description></item>",
                    host = r.header("host").unwrap_or("127.0.0.1")
                ));
            }
            xml.push_str("</channel></rss>");
            return Reply::ok("application/rss+xml", xml);
        }
        // Slow pages widen the window in which a kill lands mid-ingestion.
        std::thread::sleep(Duration::from_millis(15));
        Reply::ok(
            "text/html; charset=utf-8",
            format!(
                "<html><body><article><h1>{0}</h1><p>Body of {0}, long enough to be an article body \
                     for the extractor to keep as the main text of the page.</p></article></body></html>",
                r.path
            ),
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"\"\n[fetch]\nallow_private_networks = true\nper_host_delay = \"0s\"\n\
             per_host = 4\n[[feeds]]\nurl = \"{}\"\n",
            server.url("/feed.xml")
        ),
    )
    .unwrap();
    let args =
        ["--config", config.to_str().unwrap(), "--state-dir", state.to_str().unwrap(), "run", "--once"];
    let mut processed = BTreeSet::new();
    let mut rng = fastrand::Rng::with_seed(2025);
    for round in 0..KILLS {
        let mut daemon = Daemon::start(&args, &[]);
        std::thread::sleep(Duration::from_millis(rng.u64(30..700)));
        daemon.signal("KILL");
        daemon.wait(Duration::from_secs(30));
        let log = daemon.log();
        assert!(!log.contains("STORE CORRUPT"), "round {round}: the store was damaged:\n{log}");
        let this_round = new_articles(&log);
        eprintln!("round {round}: killed after {} articles", this_round.len());
        processed.extend(this_round);
        let store = Store::open(&state, 1 << 20)
            .unwrap_or_else(|e| panic!("round {round}: the store does not open after SIGKILL: {e}\n{log}"));
        store.probe().unwrap();
    }
    let mut last = Daemon::start(&args, &[]);
    assert_eq!(last.wait(Duration::from_secs(120)), Some(0), "{}", last.log());
    processed.extend(new_articles(&last.log()));
    let expected: BTreeSet<String> = (0..ITEMS).map(|i| format!("/a/{i}")).collect();
    assert_eq!(processed, expected, "every item was processed at least once");

    let store = Store::open(&state, 1 << 20).unwrap();
    let seen = store.tree(trees::FEED_ITEMS).unwrap().len();
    assert!(seen >= ITEMS, "only {seen} of {ITEMS} items are recorded as seen");
    drop(store);
    // A further run finds nothing new: nothing is processed twice once it is recorded.
    let mut again = Daemon::start(&args, &[]);
    assert_eq!(again.wait(Duration::from_secs(60)), Some(0));
    assert!(new_articles(&again.log()).is_empty(), "{}", again.log());
}

/// The article paths (`/a/N`) that a log reports as processed.
fn new_articles(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| l.contains("new article"))
        .filter_map(|l| l.split("article_url=").nth(1))
        .filter_map(|rest| rest.split_whitespace().next())
        .filter_map(|url| {
            let n: String = url[url.find("/a/")? + 3..].chars().take_while(char::is_ascii_digit).collect();
            Some(format!("/a/{n}"))
        })
        .collect()
}
