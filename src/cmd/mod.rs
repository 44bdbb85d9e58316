//! The commands: the command line of the contract (`CONTRACT.md`), its argument types, one
//! dispatch function, and one file per command. Each command is a thin client of the store or of
//! the stage that owns the work; nothing here decides anything about articles or claims, and no
//! stage imports this module. Exit codes: 0 ok, 1 runtime failure, 2 usage (clap), 78 bad config.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use crate::admin::{self, Live, Request, Response};
use crate::config::{self, Config};
use crate::store::Store;

mod check;
mod claims;
mod extract;
mod feeds;
mod seed;

/// Exit code for a bad configuration (sysexits.h EX_CONFIG).
pub const EXIT_CONFIG: u8 = 78;

#[derive(Debug, Parser)]
#[command(
    name = "claimwatch",
    version,
    about = "Watch news feeds on a topic and alert on every newly seen claim, in any language"
)]
pub struct Cli {
    /// Configuration file layered over the built-in defaults and /etc/claimwatch/claimwatch.toml
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory of the sled store and other state (overrides `state_dir`)
    #[arg(long, global = true, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The daemon: poll feeds, process new articles, alert on new claims
    Run {
        /// Poll every feed once now, process everything found, deliver alerts and exit
        #[arg(long)]
        once: bool,
    },
    /// Import seed articles (.txt, .html, .md) as known; idempotent
    Seed {
        /// Directory of seed articles (default: `seeds_dir`)
        dir: Option<PathBuf>,
    },
    /// Analyse one article against the store without writing to it
    Check {
        /// Print one JSON object instead of a readable explanation
        #[arg(long)]
        json: bool,
        /// An HTML or text file, an http(s) URL, or - for standard input
        input: String,
    },
    /// Main-text extraction only: HTML in; title, text, date, language, canonical URL out
    Extract {
        /// One JSON object per input, one per line
        #[arg(long)]
        json: bool,
        /// HTML files, http(s) URLs, or - for standard input
        #[arg(required = true)]
        inputs: Vec<String>,
    },
    /// Manage feed subscriptions (stored in the state dir, merged with [[feeds]] from config)
    Feeds {
        #[command(subcommand)]
        command: FeedsCommand,
    },
    /// List stored claims with first-seen time, source and corroborating sources
    Claims {
        /// Only claims first seen in articles (not seeds)
        #[arg(long)]
        new: bool,
        /// Only claims first seen within this long ago, e.g. 24h, 7d
        #[arg(long, value_name = "AGE", value_parser = humantime::parse_duration)]
        since: Option<std::time::Duration>,
        /// One JSON object per line
        #[arg(long)]
        json: bool,
    },
    /// Validate or print the effective configuration
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum FeedsCommand {
    /// List every feed with its schedule and health
    List,
    /// Subscribe to a feed; an HTML page URL is searched for its feeds
    Add { url: String },
    /// Unsubscribe from a feed
    Remove { url: String },
    /// Subscribe to every feed of an OPML file
    Import { file: PathBuf },
    /// Print the subscriptions as OPML
    Export,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the effective configuration; exit 78 naming every problem
    Check,
    /// Print the effective configuration (secrets masked)
    Show,
}

/// Runs one parsed command line to its exit code.
pub fn run(cli: Cli) -> ExitCode {
    let loaded = config::load(cli.config.as_deref(), cli.state_dir.as_deref());
    let config = match loaded {
        Ok(config) => config,
        Err(problems) => {
            eprintln!("{problems}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    crate::telemetry::init(&config.log);
    match dispatch(cli.command, config) {
        Ok(code) => code,
        // The reader went away (`extract … | head`): it has what it wanted.
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("claimwatch: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(command: Command, config: Config) -> Result<ExitCode> {
    // `run` needs every file the configuration names; `config check` says whether it has them.
    if matches!(command, Command::Run { .. } | Command::Config { command: ConfigCommand::Check }) {
        let problems = check_files(&config);
        if !problems.is_empty() {
            eprintln!("{}", config::Problems(problems));
            return Ok(ExitCode::from(EXIT_CONFIG));
        }
    }
    let request = match command {
        Command::Config { command: ConfigCommand::Check } => {
            return Ok(emit(Response { stdout: format!("{}\n", config.summary()), ..Default::default() }))
        }
        Command::Config { command: ConfigCommand::Show } => {
            return Ok(emit(Response { stdout: config.show()?, ..Default::default() }))
        }
        Command::Run { once: false } => {
            return runtime()?.block_on(crate::daemon::run(config, false, Some(handler())))
        }
        Command::Seed { dir } => {
            Request::Seed { dir: seed::absolute(dir.as_deref().unwrap_or(&config.seeds_dir)) }
        }
        Command::Extract { json, inputs } => return extract::run(&config, json, &inputs),
        Command::Run { once: true } => Request::Poll,
        Command::Check { json, input } => {
            Request::Check { json, article: check::read_input(&input, &config)?.0 }
        }
        Command::Feeds { command } => feeds::request(command)?,
        Command::Claims { new, since, json } => {
            Request::Claims { new, since_secs: since.map(|s| s.as_secs()), json }
        }
    };
    // A running daemon holds the store: ask it. Else do the work here.
    if let Some(response) = admin::call(&admin::socket_path(&config), &request)? {
        return Ok(emit(response));
    }
    match request {
        Request::Poll => runtime()?.block_on(crate::daemon::run(config, true, None)),
        Request::Check { .. } => Ok(emit(check::beside_no_daemon(config, request)?)),
        request => Ok(emit(respond(&Here::local(config)?, request))),
    }
}

/// Where a command runs: beside the daemon, on a store it opened itself, or inside the running
/// daemon (its store, live configuration, claim engine and poller), answering the admin API.
pub struct Here {
    pub config: Arc<Config>,
    pub store: Store,
    pub live: Option<Live>,
}

impl Here {
    pub(crate) fn local(config: Config) -> Result<Here> {
        let store = open_store(&config)?;
        Ok(Here { config: Arc::new(config), store, live: None })
    }

    fn live(live: Live) -> Here {
        Here { config: live.config(), store: live.store.clone(), live: Some(live) }
    }

    /// Subscriptions changed: a running daemon's poller re-reads them now.
    fn feeds_changed(&self) {
        if let Some(live) = &self.live {
            live.feeds_changed();
        }
    }
}

/// The body of every command that works beside or inside the daemon: what it prints and its
/// exit code, the same bytes wherever it ran. Blocking.
pub(crate) fn respond(here: &Here, request: Request) -> Response {
    let mut out = Response::default();
    let result = match request {
        Request::Claims { new, since_secs, json } => {
            claims::command(here, new, since_secs.map(Duration::from_secs), json, &mut out)
        }
        Request::FeedsList => feeds::list(here, &mut out),
        Request::FeedsAdd { url } => feeds::add(here, &url, &mut out),
        Request::FeedsRemove { url } => feeds::remove(here, &url, &mut out),
        Request::FeedsImport { file, opml } => feeds::import(here, &file, &opml, &mut out),
        Request::FeedsExport => feeds::export(here, &mut out),
        Request::Check { json, article } => check::check(here, &article, json, &mut out),
        Request::Seed { dir } => seed::seed(here, Path::new(&dir), &mut out),
        Request::Poll => Err(anyhow::anyhow!("a poll is answered by the poller, not here")),
    };
    match result {
        Ok(code) => out.code = code,
        Err(error) => {
            out.stderr.push_str(&format!("claimwatch: error: {error:#}\n"));
            out.code = 1;
        }
    }
    out
}

/// The daemon's answer to the admin API: [`respond`] on the blocking pool, or a poll of every
/// feed by the running poller (`run --once`).
pub fn handler() -> admin::Handler {
    Arc::new(|live: Live, request: Request| {
        Box::pin(async move {
            if let Request::Poll = request {
                return match live.poll_all().await {
                    Ok(r) => {
                        let mut stderr = format!(
                            "claimwatch: the running daemon polled {} feeds: {} ok, {} failed, {} new items\n",
                            r.feeds, r.ok, r.failed, r.new_items
                        );
                        let waiting = delivered(&live).await;
                        if waiting > 0 {
                            stderr.push_str(&format!(
                                "claimwatch: {waiting} alerts still wait for a sink; the daemon keeps delivering them\n"
                            ));
                        }
                        Response { stderr, ..Default::default() }
                    }
                    Err(error) => Response::error(1, &error),
                };
            }
            tokio::task::spawn_blocking(move || respond(&Here::live(live), request))
                .await
                .unwrap_or_else(|error| Response::error(1, &anyhow::anyhow!("the command panicked: {error}")))
        })
    })
}

/// Waits until the running daemon's configured sinks hold every alert committed so far, for at
/// most `shutdown.deadline` (what `run --once` alone waits for its alerts); returns how many
/// still wait.
async fn delivered(live: &Live) -> usize {
    use crate::alert::outbox::{Outbox, SinkKind};
    let config = live.config();
    let sinks = SinkKind::configured(&config.alerts);
    let until = tokio::time::Instant::now() + config.shutdown.deadline;
    loop {
        let waiting = match Outbox::open(&live.store) {
            Ok(outbox) => sinks.iter().map(|sink| outbox.waiting(*sink)).sum(),
            Err(_) => 0,
        };
        if waiting == 0 || tokio::time::Instant::now() >= until {
            return waiting;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Prints a command's output and returns its exit code. A closed pipe (`claims | head`) ends
/// the output quietly: the reader has what it wanted.
fn emit(response: Response) -> ExitCode {
    use std::io::Write;
    let written = std::io::stdout()
        .lock()
        .write_all(response.stdout.as_bytes())
        .and_then(|()| std::io::stdout().flush());
    if let Err(error) = written {
        if error.kind() != std::io::ErrorKind::BrokenPipe {
            let _ = writeln!(std::io::stderr(), "claimwatch: error: writing the output: {error}");
            return ExitCode::FAILURE;
        }
    }
    let _ = std::io::stderr().write_all(response.stderr.as_bytes());
    ExitCode::from(response.code)
}

/// Every file the configuration names, read as the command that needs it reads it: the topic
/// profile and the data files it names, the seed set, the site rules. Each problem names the key
/// and where its value came from.
fn check_files(config: &Config) -> Vec<String> {
    let mut problems = Vec::new();
    let mut problem = |key: &str, error: anyhow::Error| {
        problems.push(format!("`{key}` in {}: {error:#}", config.origin(key)));
    };
    if let Err(error) = crate::claims::Engine::load(config) {
        problem("topic", error);
    }
    if let Err(error) = crate::seeds::read_dir(&config.seeds_dir) {
        problem("seeds_dir", error);
    }
    if let Err(error) = crate::extract::SiteRules::load(config.extract.sites_file.as_deref()) {
        problem("extract.sites_file", error.into());
    }
    problems
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Refuses input that is not text: empty (or white space only), or binary data (control
/// characters or undecodable bytes in more than 10 % of the first 64k characters: text, even
/// damaged text, has a few; an executable, an image or random bytes read in any charset have
/// more than a tenth).
fn ensure_text(text: &str) -> Result<()> {
    if text.trim().is_empty() {
        anyhow::bail!("the input is empty");
    }
    let (mut total, mut odd) = (0usize, 0usize);
    for c in text.chars().take(65_536) {
        total += 1;
        if c == '\u{fffd}' || (c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\x0c')) {
            odd += 1;
        }
    }
    if odd * 10 > total {
        anyhow::bail!(
            "the input is not text (binary data: {odd} control or undecodable characters in {total})"
        );
    }
    Ok(())
}

/// Runs `future` to its end from blocking code: on the daemon's runtime when called from its
/// blocking pool, else on a runtime of its own.
fn block_on<F: std::future::Future>(future: F) -> Result<F::Output> {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => Ok(handle.block_on(future)),
        Err(_) => Ok(runtime()?.block_on(future)),
    }
}

/// Opens the store of `config.state_dir` for a command.
fn open_store(config: &Config) -> Result<Store> {
    Store::open(&config.state_dir, config.store.cache_size)
        .with_context(|| format!("opening the store in {}", config.state_dir.display()))
}

/// Threads for `spawn_blocking` (parsing, extraction, article commits, store probes). Tokio's
/// default is 512: with 1,000 feeds refreshing, every one became a thread waiting for the commit
/// lock or a flush, each with its stack, its malloc arena and its own sled flush buffer (peak RSS
/// 275 MiB instead of 98 MiB, BENCHMARKS.md). A few more than the cores keep the CPUs busy while
/// some threads wait for a flush.
const BLOCKING_THREADS: usize = 8;

/// The multi-threaded runtime every async command runs on.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .max_blocking_threads(BLOCKING_THREADS)
        .enable_all()
        .build()?)
}
