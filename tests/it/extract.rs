//! `claimwatch extract` on fixture pages: `tests/fixtures/pages/<name>.html` next to
//! `<name>.expected.json` (the `--json` object, pretty-printed). Run with `UPDATE_EXPECT=1` to
//! rewrite the expectations after an intended change, then review the diff.
//!
//! The fixtures are small but realistic: navigation, sidebars, share bars, "read also" boxes and
//! footers around the article, and the encodings and lies that Ukrainian and Russian sites
//! still serve (windows-1251 under a `<meta charset="utf-8">`, undeclared koi8-u).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::support::{claimwatch, repo, stderr, stdout, Reply, TestServer};

fn pages() -> PathBuf {
    repo().join("tests/fixtures/pages")
}

fn fixture_names() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(pages())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_suffix(".html")).map(String::from))
        .collect();
    names.sort();
    names
}

#[track_caller]
fn check(name: &str, actual: &serde_json::Value) {
    let expected_path = pages().join(format!("{name}.expected.json"));
    let pretty = serde_json::to_string_pretty(actual).unwrap() + "\n";
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        fs::write(&expected_path, &pretty).unwrap();
        return;
    }
    let expected = fs::read_to_string(&expected_path)
        .unwrap_or_else(|_| panic!("{} is missing; run with UPDATE_EXPECT=1", expected_path.display()));
    let expected: serde_json::Value = serde_json::from_str(&expected).unwrap();
    assert_eq!(
        &expected, actual,
        "extract output for {name} changed (UPDATE_EXPECT=1 rewrites it):\n{pretty}"
    );
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn fixture_pages_match_their_expectations() {
    let names = fixture_names();
    assert!(names.len() >= 8, "fixtures missing: {names:?}");
    let files: Vec<PathBuf> = names.iter().map(|n| pages().join(format!("{n}.html"))).collect();
    let mut args = vec!["extract", "--json"];
    args.extend(files.iter().map(|p| path_str(p)));
    // All inputs in one process: one JSON line per input, in order.
    let out = claimwatch(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), names.len(), "{text}");
    for (name, line) in names.iter().zip(lines) {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        check(name, &value);
    }
}

#[test]
fn every_output_has_the_contract_fields_and_no_markup() {
    for name in fixture_names() {
        let file = pages().join(format!("{name}.html"));
        let out = claimwatch(&["extract", "--json", path_str(&file)]);
        let value: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
        for key in ["title", "text", "published", "lang", "canonical_url", "author"] {
            assert!(value.get(key).is_some(), "{name}: no {key}");
        }
        let text = value["text"].as_str().unwrap();
        assert!(!text.is_empty(), "{name}: empty text");
        for markup in ["<p", "</", "&amp;", "&laquo;", "<script", "{\""] {
            assert!(!text.contains(markup), "{name}: markup {markup:?} left in text");
        }
    }
}

#[test]
fn lying_charset_declarations_are_overridden() {
    for (name, needle) in
        [("uk_cp1251_lying_meta", "Зеленський заявив"), ("ru_koi8u", "Министр иностранных дел")]
    {
        let file = pages().join(format!("{name}.html"));
        let out = claimwatch(&["extract", "--json", path_str(&file)]);
        assert!(stdout(&out).contains(needle), "{name}: {}", stdout(&out));
    }
}

#[test]
fn a_missing_file_keeps_lines_aligned_and_exits_1() {
    let good = pages().join("amp_de.html");
    let out = claimwatch(&["extract", "--json", path_str(&good), "/nonexistent/page.html", path_str(&good)]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0]["title"].is_string());
    assert!(lines[1]["error"].as_str().unwrap().contains("/nonexistent/page.html"));
    assert!(lines[2]["title"].is_string());
    assert!(stderr(&out).contains("/nonexistent/page.html"), "{}", stderr(&out));
}

#[test]
fn standard_input_is_read_and_decoded() {
    let bytes = fs::read(pages().join("uk_cp1251_lying_meta.html")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_claimwatch"))
        .args(["extract", "--json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let value: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(value["lang"], "uk");
    assert!(value["text"].as_str().unwrap().contains("гарантії безпеки"));
}

#[test]
fn readable_output_names_each_input() {
    let file = pages().join("pl_iso8859_2.html");
    let out = claimwatch(&["extract", path_str(&file)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("pl_iso8859_2.html"), "{text}");
    assert!(text.contains("title:     Gwarancje bezpieczeństwa"), "{text}");
    assert!(text.contains("published: 2024-03-21T13:05:00Z"), "{text}");
}

#[test]
fn url_inputs_are_fetched_and_decoded_despite_a_lying_header() {
    let page = fs::read(pages().join("uk_cp1251_lying_meta.html")).unwrap();
    let server = TestServer::start(move |r| match r.path.as_str() {
        "/article" => Reply::ok("text/html; charset=utf-8", page.clone()),
        _ => Reply::status(404),
    });
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("claimwatch.toml");
    fs::write(&config, "[fetch]\nallow_private_networks = true\n").unwrap();
    let (article, missing) = (server.url("/article"), server.url("/missing"));
    let out = claimwatch(&["--config", path_str(&config), "extract", "--json", &article, &missing]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0]["text"].as_str().unwrap().contains("Зеленський заявив"), "{text}");
    assert!(lines[1]["error"].as_str().unwrap().contains("/missing"), "{text}");
}

#[test]
fn url_inputs_obey_the_fetch_rules() {
    // Loopback is a private address: refused unless the configuration allows it.
    let server = TestServer::start(|_| Reply::ok("text/html", "<p>never read</p>"));
    let out = claimwatch(&["extract", "--json", &server.url("/article")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(server.requests().is_empty(), "the fetcher reached a private address");
}

#[test]
fn user_site_rules_pick_the_body() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("sites.toml");
    // Keyed by the page's canonical host (a local file has no host of its own).
    fs::write(&rules, "[body]\n\"wiadomosci.example.pl\" = \"#story p:not(.lead)\"\n").unwrap();
    let config = dir.path().join("claimwatch.toml");
    fs::write(&config, format!("[extract]\nsites_file = {:?}\n", path_str(&rules))).unwrap();
    let file = pages().join("pl_iso8859_2.html");
    let out = claimwatch(&["--config", path_str(&config), "extract", "--json", path_str(&file)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let value: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let text = value["text"].as_str().unwrap();
    assert!(text.contains("Według źródeł"), "{value}");
    assert!(!text.contains("Rozmowy w Warszawie"), "the rule was not used: {value}");
}

#[test]
fn a_page_that_declares_no_language_gets_the_language_of_its_text() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("uk.html", "Лідери коаліції охочих обговорили гарантії безпеки для України в Парижі. Їхні радники підготували спільну декларацію, яку підпишуть наступного тижня."),
        ("ru.html", "Лидеры коалиции желающих обсудили гарантии безопасности для Украины в Париже. Их советники подготовили общую декларацию, которую подпишут на следующей неделе."),
        ("ro.html", "Liderii coaliției de voință au discutat în această săptămână la Paris despre garanțiile de securitate pentru Ucraina și despre o declarație comună."),
    ];
    for (name, text) in cases {
        let file = dir.path().join(name);
        fs::write(&file, format!("<html><body><article><p>{text}</p><p>{text}</p></article></body></html>"))
            .unwrap();
        let out = claimwatch(&["extract", "--json", path_str(&file)]);
        assert!(out.status.success(), "{}", stderr(&out));
        let value: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
        assert_eq!(value["lang"], name.trim_end_matches(".html"), "{name}: {value}");
    }
}
