//! The commands: the command line of the contract (`CONTRACT.md`), its argument types, one
//! dispatch function, and one file per command. Each command is a thin client of the store or of
//! the stage that owns the work; nothing here decides anything about articles or claims, and no
//! stage imports this module. Exit codes: 0 ok, 1 runtime failure, 2 usage (clap), 78 bad config.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

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
        Err(error) => {
            eprintln!("claimwatch: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(command: Command, config: Config) -> Result<ExitCode> {
    match command {
        Command::Config { command: ConfigCommand::Check } => {
            println!("{}", config.summary());
            Ok(ExitCode::SUCCESS)
        }
        Command::Config { command: ConfigCommand::Show } => {
            print!("{}", config.show()?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Run { once } => runtime()?.block_on(crate::daemon::run(config, once)),
        Command::Seed { dir } => seed::seed_command(&config, dir.as_deref()),
        Command::Check { json, input } => check::check_command(&config, &input, json),
        Command::Extract { json, inputs } => extract::run(&config, json, &inputs),
        Command::Feeds { command } => feeds::command(&config, command),
        Command::Claims { new, since, json } => claims::command(&config, new, since, json),
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
