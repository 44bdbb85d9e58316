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
    for args in [vec!["run", "--once"], vec!["check", "--json", article.to_str().unwrap()]] {
        let out = claimwatch(&[&["--config", config, "--state-dir", state][..], &args[..]].concat());
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(stderr(&out).contains("/nonexistent/seeds"), "{args:?}: {}", stderr(&out));
    }
}
