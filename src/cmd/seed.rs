//! The `seed` command: importing the seed articles of a directory as known claims (the import
//! itself is `seeds::import_seeds`, which the daemon's first start uses too).

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;

use super::open_store;
use crate::claims::Engine;
use crate::config::Config;
use crate::seeds::import_seeds;

/// `claimwatch seed [DIR]`.
pub fn seed_command(config: &Config, dir: Option<&Path>) -> Result<ExitCode> {
    let store = open_store(config)?;
    let engine = Engine::load(config)?;
    let dir = dir.unwrap_or(&config.seeds_dir);
    let (articles, claims) = import_seeds(&store, &engine, dir)?;
    store.flush()?;
    eprintln!("seeded {claims} claims from {articles} articles in {}", dir.display());
    Ok(ExitCode::SUCCESS)
}
