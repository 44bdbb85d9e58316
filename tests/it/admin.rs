//! The commands beside a running daemon: `claimwatch run` holds the store, and `claims`, `feeds
//! list/add/remove/import/export`, `check` and `run --once` go through its admin socket (a real
//! daemon process, a real feed server on 127.0.0.1, a real store in a temporary directory).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::{claim_of, claimwatch, repo, stderr, stdout, ClaimFeed, Daemon, Reply, TestServer};

/// A daemon config: `feed` polled at start and then only hourly (so that anything polled later
/// was asked for), the store in `dir/state`, seeded from the repository's seeds.
fn hourly_config(dir: &Path, feed: &str) -> PathBuf {
    let config = dir.join("claimwatch.toml");
    let text = format!(
        "state_dir = \"{state}\"\nseeds_dir = \"{seeds}\"\n\
         [fetch]\nallow_private_networks = true\nper_host_delay = \"0s\"\ntimeout = \"5s\"\n\
         [schedule]\nmin_interval = \"1h\"\nmax_interval = \"2h\"\n\
         [server]\nlisten = \"\"\n[shutdown]\ndeadline = \"5s\"\n\
         [[feeds]]\nurl = \"{feed}\"\n",
        state = dir.join("state").display(),
        seeds = repo().join("seeds").display(),
    );
    std::fs::write(&config, text).unwrap();
    config
}

/// The claims the store lists, as `claims --json` prints them (through the daemon if one runs).
fn claim_texts(config: &str) -> Vec<String> {
    let out = claimwatch(&["--config", config, "claims", "--json"]);
    assert!(out.status.success(), "claims --json: {}", stderr(&out));
    stdout(&out)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["text"].as_str().unwrap().to_string())
        .collect()
}

/// `dir/c.toml`: a daemon with no feed and its admin socket at `socket`, with `admin` (more
/// `[admin]` keys) added.
fn no_feeds_config(dir: &Path, socket: &Path, admin: &str) -> PathBuf {
    let config = dir.join("c.toml");
    std::fs::write(
        &config,
        format!(
            "state_dir = \"{}\"\nseeds_dir = \"{}\"\nfeeds = []\n[server]\nlisten = \"\"\n[admin]\nsocket = \"{}\"\n{admin}",
            dir.join("state").display(),
            repo().join("seeds").display(),
            socket.display()
        ),
    )
    .unwrap();
    config
}

fn started(config: &str) -> Daemon {
    let daemon = Daemon::start(&["--config", config, "run"], &[]);
    daemon.wait_for("daemon: started", Duration::from_secs(60));
    daemon
}

#[test]
fn admin_every_command_works_beside_a_running_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let feed = ClaimFeed::start(1, Duration::ZERO);
    let config = hourly_config(dir.path(), &feed.url());
    let config = config.to_str().unwrap();
    let mut daemon = started(config);
    daemon.wait_until("item 0 is stored", Duration::from_secs(30), || {
        claim_texts(config).iter().any(|t| claim_of(0).starts_with(t.trim_end_matches('.')))
    });

    // claims: text and JSON, through the daemon (the store is locked by it).
    let out = claimwatch(&["--config", config, "claims"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("FIRST SEEN (UTC)") && stdout(&out).contains("instructors"),
        "{}",
        stdout(&out)
    );

    // check: judged against the live store (item 0's claim is known), and nothing is written.
    let article = dir.path().join("a.txt");
    std::fs::write(&article, claim_of(0)).unwrap();
    let before = claim_texts(config).len();
    let out = claimwatch(&["--config", config, "check", "--json", article.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let checked: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(checked["claims"][0]["verdict"], "known", "{checked}");
    std::fs::write(&article, claim_of(7)).unwrap();
    let out = claimwatch(&["--config", config, "check", "--json", article.to_str().unwrap()]);
    let checked: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(checked["claims"][0]["verdict"], "new", "{checked}");
    assert_eq!(claim_texts(config).len(), before, "check wrote to the store");

    // seed: imported by the running daemon, whose live index then knows the seed's claim.
    let seeds = dir.path().join("more-seeds");
    std::fs::create_dir(&seeds).unwrap();
    std::fs::write(seeds.join("s.txt"), claim_of(7)).unwrap();
    let out = claimwatch(&["--config", config, "seed", seeds.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("seeded 1 claims from 1 articles"), "{}", stderr(&out));
    let out = claimwatch(&["--config", config, "check", "--json", article.to_str().unwrap()]);
    let checked: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(checked["claims"][0]["verdict"], "known", "the daemon learnt the seed: {checked}");

    // run --once: an immediate poll by the running daemon, done when the command returns.
    feed.grow_to(3);
    let out = claimwatch(&["--config", config, "run", "--once"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("polled 1 feeds"), "{}", stderr(&out));
    let texts = claim_texts(config);
    let alerted = crate::support::items_alerted(&dir.path().join("state/alerts.jsonl"));
    for i in 1..3 {
        assert!(
            texts.iter().any(|t| claim_of(i).starts_with(t.trim_end_matches('.'))),
            "item {i}: {texts:?}"
        );
        assert!(alerted.contains(&i), "item {i} not delivered when run --once returned: {alerted:?}");
    }

    // feeds add: subscribed in the running daemon, which polls the new feed at once (its list
    // is otherwise re-read every minute).
    let other = TestServer::start(|request| {
        if request.path == "/other.xml" {
            Reply::ok(
                "application/rss+xml",
                "<rss version=\"2.0\"><channel><title>Other</title></channel></rss>",
            )
        } else {
            Reply::status(404)
        }
    });
    let other_url = other.url("/other.xml");
    let out = claimwatch(&["--config", config, "feeds", "add", &other_url]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains(&format!("subscribed to {other_url} (Other)")), "{}", stdout(&out));
    daemon.wait_until("the new feed is polled", Duration::from_secs(30), || {
        other.requests_to("/other.xml").len() >= 2
    });

    let out = claimwatch(&["--config", config, "feeds", "list"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains(&feed.url()) && stdout(&out).contains(&other_url), "{}", stdout(&out));
    assert!(stderr(&out).contains("2 feeds"), "{}", stderr(&out));

    // feeds import and export.
    let opml = dir.path().join("f.opml");
    std::fs::write(
        &opml,
        "<opml version=\"2.0\"><body><outline text=\"Imported\" xmlUrl=\"https://imported.example/rss\"/></body></opml>",
    )
    .unwrap();
    let out = claimwatch(&["--config", config, "feeds", "import", opml.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("imported 1 feeds"), "{}", stdout(&out));
    let out = claimwatch(&["--config", config, "feeds", "export"]);
    assert!(out.status.success(), "{}", stderr(&out));
    for url in [feed.url().as_str(), other_url.as_str(), "https://imported.example/rss"] {
        assert!(stdout(&out).contains(url), "{url} not exported:\n{}", stdout(&out));
    }

    // feeds remove: gone from the running daemon's list.
    let out = claimwatch(&["--config", config, "feeds", "remove", &other_url]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = claimwatch(&["--config", config, "feeds", "list"]);
    assert!(!stdout(&out).contains(&other_url), "{}", stdout(&out));
    let out = claimwatch(&["--config", config, "feeds", "remove", &feed.url()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("comes from [[feeds]]"), "{}", stderr(&out));

    daemon.signal("TERM");
    assert_eq!(daemon.wait(Duration::from_secs(30)), Some(0), "{}", daemon.log());
    assert!(!dir.path().join("state/admin.sock").exists(), "the socket is removed on stop");

    // Without a daemon the same commands open the store themselves.
    assert!(claim_texts(config).len() >= 3);
}

#[test]
fn admin_socket_is_private_to_the_service_and_a_stale_one_is_replaced() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("run/cw.sock");
    let config = no_feeds_config(dir.path(), &socket, "");
    // A socket file left by a daemon that was killed.
    std::fs::create_dir_all(socket.parent().unwrap()).unwrap();
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    let config = config.to_str().unwrap();
    let daemon = started(config);
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660, "socket mode {mode:o}");
    let out = claimwatch(&["--config", config, "feeds", "list"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("0 feeds"), "{}", stderr(&out));
    // A request that is not JSON is refused with a line, and the daemon keeps serving.
    use std::io::{Read, Write};
    let mut stream = std::os::unix::net::UnixStream::connect(&socket).unwrap();
    stream.write_all(b"hello\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.contains("bad admin request"), "{answer}");
    let out = claimwatch(&["--config", config, "claims", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    drop(daemon);
}

/// Hostile clients of the admin socket: one that connects and never writes, one that sends
/// garbage, one that sends a huge request. Each gets an error line and is closed; commands keep
/// working meanwhile, with more silent clients held than requests are answered at once.
#[test]
fn admin_silent_garbage_and_huge_clients_are_cut_off_and_commands_go_on() {
    use std::io::{BufRead, BufReader, Write};
    use std::os::unix::net::UnixStream;
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("cw.sock");
    let config = no_feeds_config(dir.path(), &socket, "request_timeout = \"1s\"\nmax_request = \"1MiB\"\n");
    let config = config.to_str().unwrap();
    let daemon = started(config);
    let answer_of = |stream: &UnixStream| -> serde_json::Value {
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).expect("an answer line");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line:?}: {e}"))
    };

    // More silent clients than requests answered at once (8): none holds a slot.
    let silent: Vec<UnixStream> = (0..12).map(|_| UnixStream::connect(&socket).unwrap()).collect();
    let out = claimwatch(&["--config", config, "feeds", "list"]);
    assert!(out.status.success() && stderr(&out).contains("0 feeds"), "{}", stderr(&out));
    for stream in &silent {
        let answer = answer_of(stream);
        assert_eq!(answer["code"], 2, "{answer}");
        assert!(answer["stderr"].as_str().unwrap().contains("no request line within 1s"), "{answer}");
    }

    // Garbage, with and without a newline.
    let mut garbage = UnixStream::connect(&socket).unwrap();
    garbage.write_all(b"\x00\xff{\"request\": 12}\n").unwrap();
    assert!(answer_of(&garbage)["stderr"].as_str().unwrap().contains("bad admin request"));
    let mut unfinished = UnixStream::connect(&socket).unwrap();
    unfinished.write_all(b"{\"request\": \"claims\"").unwrap();
    assert!(answer_of(&unfinished)["stderr"].as_str().unwrap().contains("no request line"));

    // A huge request (4 MiB without a newline): refused after admin.max_request bytes.
    let huge = UnixStream::connect(&socket).unwrap();
    let mut writer = huge.try_clone().unwrap();
    let sender = std::thread::spawn(move || writer.write_all(&vec![b'x'; 4 << 20]).is_err());
    let answer = answer_of(&huge);
    assert!(answer["stderr"].as_str().unwrap().contains("larger than 1048576 bytes"), "{answer}");
    assert!(sender.join().unwrap(), "the rest of the huge request is not read");

    let out = claimwatch(&["--config", config, "claims", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    drop(daemon);
}
