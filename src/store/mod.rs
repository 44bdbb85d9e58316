//! The sled store: one `Db` in `state_dir`, its trees named in [`trees`], records encoded by
//! [`records`]. It owns opening (lock, schema version, cache size) and the shape of what is
//! stored; it does not decide anything about articles or claims.
//!
//! Trade-off: sled keeps up to its flush interval (~500 ms) of writes in memory; anything that
//! must survive a crash (an accepted article, a delivered alert) is followed by `flush`.

pub mod records;

use std::path::{Path, PathBuf};

use thiserror::Error;

/// The names of every tree, in one place.
pub mod trees {
    /// Schema version and other store-wide facts.
    pub const META: &str = "meta";
    /// Article id → article record (no body).
    pub const ARTICLES: &str = "articles";
    /// seen-at millis + article id → article text; dropped after `store.retain_bodies`.
    pub const ARTICLE_BODIES: &str = "article_bodies";
    /// Exact article address → article id (dedup layer `item`).
    pub const ITEMS: &str = "items";
    /// Canonical URL key → article id (dedup layer `url`).
    pub const URLS: &str = "urls";
    /// Hash of the normalised text → article id (dedup layer `hash`).
    pub const CONTENT_HASHES: &str = "content_hashes";
    /// Article id → MinHash signature (dedup layer `near_copy`).
    pub const SIGNATURES: &str = "signatures";
    /// LSH band key + article id → () (candidates for `near_copy`).
    pub const LSH: &str = "lsh";
    /// Claim id → where and when it was seen (first source, story, source count, languages).
    pub const CLAIM_PROVENANCE: &str = "claim_provenance";
    /// Sink + sequence number → alert waiting for delivery to that sink.
    pub const OUTBOX: &str = "outbox";
}

/// Keys of the `meta` tree.
pub mod meta_keys {
    pub const SCHEMA_VERSION: &[u8] = b"schema_version";
    /// Set once the seed set has been imported.
    pub const SEEDED: &[u8] = b"seeded";
}

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("state dir {0} is in use by another running claimwatch (its lock is held)")]
    Locked(PathBuf),
    #[error("state dir {dir} was written by a newer claimwatch (schema {found}; this build reads up to {supported})")]
    NewerSchema { dir: PathBuf, found: u32, supported: u32 },
    #[error("state dir {dir}: {source}")]
    Io { dir: PathBuf, source: std::io::Error },
    #[error("store: {0}")]
    Sled(#[from] sled::Error),
    #[error("store record {what}: {reason}")]
    Corrupt { what: String, reason: String },
}

/// The open store.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    dir: PathBuf,
}

impl Store {
    /// Opens (or creates) the store in `dir` with a page cache of `cache_size` bytes.
    pub fn open(dir: &Path, cache_size: u64) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io { dir: dir.to_path_buf(), source })?;
        let path = dir.join("store");
        let db = sled::Config::new()
            .path(&path)
            .cache_capacity(cache_size)
            .flush_every_ms(Some(500))
            .open()
            .map_err(|error| classify_open_error(dir, error))?;
        let store = Store { db, dir: dir.to_path_buf() };
        store.check_schema()?;
        Ok(store)
    }

    fn check_schema(&self) -> Result<(), StoreError> {
        let meta = self.tree(trees::META)?;
        match meta.get(meta_keys::SCHEMA_VERSION)? {
            Some(bytes) => {
                let found = records::decode_u32(&bytes).ok_or_else(|| StoreError::Corrupt {
                    what: "meta/schema_version".into(),
                    reason: "not a 4-byte version".into(),
                })?;
                if found > records::SCHEMA_VERSION {
                    return Err(StoreError::NewerSchema {
                        dir: self.dir.clone(),
                        found,
                        supported: records::SCHEMA_VERSION,
                    });
                }
            }
            None => {
                meta.insert(meta_keys::SCHEMA_VERSION, &records::SCHEMA_VERSION.to_be_bytes())?;
            }
        }
        Ok(())
    }

    /// One named tree; names come from [`trees`].
    pub fn tree(&self, name: &'static str) -> Result<sled::Tree, StoreError> {
        Ok(self.db.open_tree(name)?)
    }

    /// The sled database, for multi-tree transactions.
    pub fn db(&self) -> &sled::Db {
        &self.db
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether the seed set has been imported.
    pub fn is_seeded(&self) -> Result<bool, StoreError> {
        Ok(self.tree(trees::META)?.contains_key(meta_keys::SEEDED)?)
    }

    /// Makes every write so far durable.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }

    /// Bytes the store takes on disk.
    pub fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
    }
}

fn classify_open_error(dir: &Path, error: sled::Error) -> StoreError {
    match error {
        sled::Error::Io(io)
            if io.kind() == std::io::ErrorKind::WouldBlock || io.to_string().contains("lock") =>
        {
            StoreError::Locked(dir.to_path_buf())
        }
        sled::Error::Io(source) => StoreError::Io { dir: dir.to_path_buf(), source },
        other => StoreError::Sled(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_open_of_the_same_dir_is_refused_as_locked() {
        let dir = tempfile::tempdir().unwrap();
        let _first = Store::open(dir.path(), 1 << 20).unwrap();
        let second = Store::open(dir.path(), 1 << 20);
        assert!(matches!(second, Err(StoreError::Locked(_))), "{:?}", second.err());
    }

    #[test]
    fn a_store_from_a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path(), 1 << 20).unwrap();
            let meta = store.tree(trees::META).unwrap();
            meta.insert(meta_keys::SCHEMA_VERSION, &(records::SCHEMA_VERSION + 1).to_be_bytes()).unwrap();
            store.flush().unwrap();
        }
        let reopened = Store::open(dir.path(), 1 << 20);
        assert!(matches!(reopened, Err(StoreError::NewerSchema { .. })), "{:?}", reopened.err());
    }
}
