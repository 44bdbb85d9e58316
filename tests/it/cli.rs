//! The command line and configuration as a user meets them: help, `config check`, bad
//! configuration (exit 78 naming the key and the file), and a store that is already in use.

use std::fs;

use crate::support::{claimwatch, stderr, stdout};

#[test]
fn help_lists_every_command_of_the_contract() {
    let out = claimwatch(&["--help"]);
    assert!(out.status.success());
    let help = stdout(&out);
    for command in ["run", "seed", "check", "extract", "feeds", "claims", "config"] {
        assert!(help.contains(command), "--help does not mention `{command}`:\n{help}");
    }
}

#[test]
fn built_in_defaults_pass_config_check() {
    let out = claimwatch(&["config", "check"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("35 feeds"), "{}", stdout(&out));
}

#[test]
fn bad_config_exits_78_naming_every_key_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    fs::write(&file, "state_dir = 5\n[fetch]\ntimout = \"3s\"\nper_host_delay = \"soon\"\n").unwrap();
    let out = claimwatch(&["--config", file.to_str().unwrap(), "config", "check"]);
    assert_eq!(out.status.code(), Some(78));
    let err = stderr(&out);
    for key in ["state_dir", "fetch.timout", "fetch.per_host_delay"] {
        assert!(err.contains(&format!("`{key}`")), "no mention of {key}:\n{err}");
    }
    assert!(err.contains(file.to_str().unwrap()), "the file is not named:\n{err}");
}

#[test]
fn bad_environment_override_names_the_key() {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_claimwatch"));
    let out =
        command.args(["config", "check"]).env("CLAIMWATCH__FETCH__TIMEOUT", "forever").output().unwrap();
    assert_eq!(out.status.code(), Some(78));
    let err = stderr(&out);
    assert!(err.contains("`fetch.timeout`") && err.contains("environment"), "{err}");
}

#[test]
fn unreadable_config_file_is_a_config_error() {
    let out = claimwatch(&["--config", "/nonexistent/claimwatch.toml", "config", "check"]);
    assert_eq!(out.status.code(), Some(78));
    assert!(stderr(&out).contains("/nonexistent/claimwatch.toml"));
}

#[test]
fn config_show_masks_webhook_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    fs::write(&file, "[alerts.webhook]\nurl = \"https://hooks.example.org/T000/secret-token?key=abc\"\n")
        .unwrap();
    let out = claimwatch(&["--config", file.to_str().unwrap(), "config", "show"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let shown = stdout(&out);
    assert!(shown.contains("hooks.example.org"), "{shown}");
    assert!(!shown.contains("secret-token") && !shown.contains("abc"), "secret shown:\n{shown}");
}

#[test]
fn state_dir_that_cannot_be_created_fails_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("a-file");
    fs::write(&blocker, "not a directory").unwrap();
    let state = blocker.join("state");
    let out = claimwatch(&["--state-dir", state.to_str().unwrap(), "run", "--once"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains(state.to_str().unwrap()), "the state dir is not named:\n{err}");
}

#[test]
fn second_instance_is_refused_and_sigterm_stops_the_first_cleanly() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    use std::time::Duration;

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    fs::write(&config, "feeds = []\n[server]\nlisten = \"\"\n").unwrap();
    let state = dir.path().join("state");
    let (config, state) = (config.to_str().unwrap(), state.to_str().unwrap());
    let mut daemon = Command::new(env!("CARGO_BIN_EXE_claimwatch"))
        .args(["--config", config, "--state-dir", state, "run"])
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (started_tx, started) = std::sync::mpsc::channel();
    let stderr_pipe = daemon.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut log = String::new();
        for line in BufReader::new(stderr_pipe).lines().map_while(Result::ok) {
            if line.contains("claimwatch starting") {
                let _ = started_tx.send(());
            }
            log.push_str(&line);
            log.push('\n');
        }
        log
    });
    started.recv_timeout(Duration::from_secs(30)).expect("the daemon logs its start-up summary");

    // A second daemon is refused; commands go through the first one's admin socket instead.
    let second = claimwatch(&["--config", config, "--state-dir", state, "run"]);
    assert_eq!(second.status.code(), Some(1));
    assert!(stderr(&second).contains("in use by another running claimwatch"), "{}", stderr(&second));

    Command::new("kill").args(["-TERM", &daemon.id().to_string()]).status().unwrap();
    let status = daemon.wait().unwrap();
    let log = reader.join().unwrap();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(log.contains("stopped cleanly"), "{log}");
}

#[test]
fn a_missing_seed_set_stops_run_and_check_naming_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    fs::write(&config, "seeds_dir = \"/nonexistent/seeds\"\nfeeds = []\n[server]\nlisten = \"\"\n").unwrap();
    let state = dir.path().join("state");
    let article = dir.path().join("a.txt");
    fs::write(&article, "Security guarantees for Ukraine were discussed in Paris.").unwrap();
    let (config, state) = (config.to_str().unwrap(), state.to_str().unwrap());
    // `run` checks every named file before it starts (exit 78); `check` needs the seed set only
    // for a store never seeded (exit 1).
    for (args, code) in [(vec!["run", "--once"], 78), (vec!["check", "--json", article.to_str().unwrap()], 1)]
    {
        let out = claimwatch(&[&["--config", config, "--state-dir", state][..], &args[..]].concat());
        assert_eq!(out.status.code(), Some(code), "{args:?}");
        assert!(stderr(&out).contains("/nonexistent/seeds"), "{args:?}: {}", stderr(&out));
    }
}

/// Runs claimwatch with its standard output a pipe whose reader has already gone.
fn with_closed_stdout(args: &[&str]) -> std::process::Output {
    use std::os::fd::{FromRawFd, OwnedFd};
    let mut fds = [0; 2];
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: both descriptors were just created by pipe(2) and are owned here alone.
    let (reader, writer) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(reader);
    std::process::Command::new(env!("CARGO_BIN_EXE_claimwatch"))
        .args(args)
        .current_dir(crate::support::repo())
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::from(writer))
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap()
}

#[test]
fn a_closed_pipe_ends_every_printing_command_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let state = state.to_str().unwrap();
    let seeded = crate::support::claimwatch_in(Some(crate::support::repo()), &["--state-dir", state, "seed"]);
    assert!(seeded.status.success(), "{}", stderr(&seeded));
    let article = crate::support::repo().join("seeds").read_dir().unwrap().next().unwrap().unwrap().path();
    let article = article.to_str().unwrap();
    for args in [
        &["feeds", "list"][..],
        &["feeds", "export"],
        &["claims"],
        &["claims", "--json"],
        &["config", "show"],
        &["check", article],
        &["check", "--json", article],
        &["extract", article, article],
    ] {
        let out = with_closed_stdout(&[&["--state-dir", state][..], args].concat());
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{args:?}: {err}");
    }
}

#[test]
fn non_text_input_is_refused_by_extract_and_check_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.txt");
    fs::write(&empty, "").unwrap();
    let binary = dir.path().join("image.html");
    let mut bytes = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0".repeat(64);
    bytes.extend((0..=255u8).cycle().take(8192));
    fs::write(&binary, &bytes).unwrap();
    let state = dir.path().join("state");
    for (input, why) in [(&empty, "is empty"), (&binary, "is not text")] {
        let input = input.to_str().unwrap();
        for args in [
            vec!["extract", input],
            vec!["extract", "--json", input],
            vec!["check", input],
            vec!["check", "--json", input],
        ] {
            let out = claimwatch(&[&["--state-dir", state.to_str().unwrap()][..], &args[..]].concat());
            assert_eq!(out.status.code(), Some(1), "{args:?}");
            let err = stderr(&out);
            assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
            assert!(err.contains(input) && err.contains(why), "{args:?}: {err}");
            assert!(
                !stdout(&out).contains("[NEW]") && !stdout(&out).contains("ELF"),
                "{args:?}: {}",
                stdout(&out)
            );
        }
    }
    assert!(!state.exists(), "a refused check created the store");
}

#[test]
fn a_text_in_no_supported_language_is_judged_as_nothing_with_a_non_zero_exit() {
    let dir = tempfile::tempdir().unwrap();
    let chinese = dir.path().join("zh.txt");
    fs::write(&chinese, "这是一个关于乌克兰安全保障的句子。美国和欧洲讨论了停火和监督。").unwrap();
    let state = dir.path().join("state");
    for json in [false, true] {
        let mut args = vec!["--state-dir", state.to_str().unwrap(), "check"];
        if json {
            args.push("--json");
        }
        args.push(chinese.to_str().unwrap());
        let out = claimwatch(&args);
        assert_eq!(out.status.code(), Some(1), "json={json}");
        assert!(stderr(&out).contains("no supported language"), "{}", stderr(&out));
        assert!(stdout(&out).contains("off_topic"), "the verdict is still printed: {}", stdout(&out));
        assert!(!stdout(&out).contains("[NEW]"), "{}", stdout(&out));
    }
}

#[test]
fn check_never_creates_or_seeds_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let article = dir.path().join("a.txt");
    let seed = crate::support::repo().join("seeds").read_dir().unwrap().next().unwrap().unwrap().path();
    fs::copy(&seed, &article).unwrap();
    let state = dir.path().join("state");
    let seeds = crate::support::repo().join("seeds");
    // Judged against the seed set read into a scratch store: a seed's claims are known.
    let out = crate::support::claimwatch_in(
        Some(dir.path()),
        &[
            "--state-dir",
            state.to_str().unwrap(),
            "--config",
            &write_seeds_config(dir.path(), &seeds),
            "check",
            "--json",
            article.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let checked: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let claims = checked["claims"].as_array().unwrap();
    assert!(!claims.is_empty() && claims.iter().all(|c| c["verdict"] == "known"), "{checked}");
    assert!(stderr(&out).contains("judged against the seed set"), "{}", stderr(&out));
    assert!(!state.exists() && !dir.path().join("data").exists(), "check created a store");
}

fn write_seeds_config(dir: &std::path::Path, seeds: &std::path::Path) -> String {
    let file = dir.join("c.toml");
    fs::write(&file, format!("seeds_dir = \"{}\"\n", seeds.display())).unwrap();
    file.to_str().unwrap().to_string()
}

#[test]
fn config_check_reads_every_named_file_and_run_refuses_what_it_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    fs::write(
        &file,
        "topic = \"nope\"\nseeds_dir = \"/nonexistent/seeds\"\n[extract]\nsites_file = \"/nonexistent/sites.toml\"\n",
    )
    .unwrap();
    let file = file.to_str().unwrap();
    for args in [&["config", "check"][..], &["run", "--once"]] {
        let out = claimwatch(
            &[&["--config", file, "--state-dir", dir.path().join("s").to_str().unwrap()][..], args].concat(),
        );
        assert_eq!(out.status.code(), Some(78), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        for (key, named) in [
            ("topic", "nope"),
            ("seeds_dir", "/nonexistent/seeds"),
            ("extract.sites_file", "/nonexistent/sites.toml"),
        ] {
            let line = err
                .lines()
                .find(|l| l.contains(&format!("`{key}` in {file}")))
                .unwrap_or_else(|| panic!("{key} not named: {err}"));
            assert!(line.contains(named), "{line}");
        }
    }
    assert!(!dir.path().join("s").exists(), "run started although its configuration is bad");
}

#[test]
fn typos_get_the_nearest_key_and_env_typos_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    fs::write(&file, "[fetch]\ntimout = \"3s\"\nper_host = \"two\"\n[[feeds]]\nurl = \"https://a.example/rss\"\nnmae = \"A\"\n").unwrap();
    let out = claimwatch(&["--config", file.to_str().unwrap(), "config", "check"]);
    assert_eq!(out.status.code(), Some(78));
    let err = stderr(&out);
    assert!(err.contains("did you mean `fetch.timeout`?"), "{err}");
    assert!(err.contains("did you mean `name`?"), "{err}");
    assert!(err.contains("(e.g. `per_host = 2`)"), "{err}");

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_claimwatch"))
        .args(["config", "check"])
        .env("CLAIMWATCH__SCHEDULE__MAX_BACKOF", "1h")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let err = stderr(&out);
    assert!(
        err.contains("CLAIMWATCH__SCHEDULE__MAX_BACKOF")
            && err.contains("did you mean `schedule.max_backoff`?"),
        "{err}"
    );
}

#[test]
fn config_show_says_which_layers_were_read_and_the_deploy_example_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    fs::write(&file, "feeds = []\n").unwrap();
    let out = claimwatch(&["--config", file.to_str().unwrap(), "config", "show"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let first = stdout(&out).lines().next().unwrap_or_default().to_string();
    assert!(
        first.starts_with("# read from: built-in defaults") && first.contains(file.to_str().unwrap()),
        "{first}"
    );

    // The example /etc/claimwatch/claimwatch.toml, with the seeds where the README installs them.
    let deploy = crate::support::repo().join("deploy/claimwatch.toml");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_claimwatch"))
        .args(["--config", deploy.to_str().unwrap(), "config", "check"])
        .env("CLAIMWATCH__SEEDS_DIR", crate::support::repo().join("seeds"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let out = claimwatch(&["--config", deploy.to_str().unwrap(), "config", "show"]);
    assert!(
        stdout(&out).contains("format = \"human\""),
        "the deploy example logs plain lines, as the README says"
    );
}

#[test]
fn seed_import_is_logged_as_one_import_and_counts_what_claims_lists() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let state = state.to_str().unwrap();
    let seeds = crate::support::repo().join("seeds");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_claimwatch"))
        .args(["--state-dir", state, "seed", seeds.to_str().unwrap()])
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("importing 5 seed articles"), "{err}");
    assert!(!err.contains("new article"), "seeds logged as new articles:\n{err}");
    let seeded: usize = err
        .split("seeded ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {err}"));
    let listed = claimwatch(&["--state-dir", state, "claims", "--json"]);
    assert_eq!(stdout(&listed).lines().count(), seeded, "seed said {seeded} claims");
}
