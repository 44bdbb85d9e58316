//! The `seed` command: importing the seed articles of a directory as known claims (the import
//! itself is `seeds::import_seeds`, which the daemon's first start uses too).

use std::path::Path;

use anyhow::Result;

use super::{Here, Response};
use crate::claims::Engine;
use crate::seeds::{import_seeds, import_seeds_with};

/// `dir` as an absolute path, so that a running daemon reads the directory the user named.
pub fn absolute(dir: &Path) -> String {
    std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf()).display().to_string()
}

/// `claimwatch seed [DIR]`: through the running daemon's own ingest (its live claim index learns
/// the seeds at once), else into the store opened here.
pub fn seed(here: &Here, dir: &Path, out: &mut Response) -> Result<u8> {
    let (articles, claims) = match &here.live {
        Some(live) => import_seeds_with(&live.ingest, dir)?,
        None => {
            let engine = Engine::load(&here.config)?;
            let imported = import_seeds(&here.store, &engine, dir)?;
            here.store.flush()?;
            imported
        }
    };
    out.stderr.push_str(&format!("seeded {claims} claims from {articles} articles in {}\n", dir.display()));
    Ok(0)
}
