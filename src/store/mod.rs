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
    /// Claims by id (`records::ClaimRecord`).
    pub const CLAIMS: &str = "claims";
    /// Inverted index: feature, 0xFF, claim id → nothing.
    pub const CLAIM_FEATURES: &str = "claim_features";
    /// Document frequency of each feature (u64 BE); key `#claims` holds the number of claims.
    pub const CLAIM_DF: &str = "claim_df";
    /// Feed subscriptions added with `feeds add` / `feeds import`: URL → `records::Subscription`.
    pub const SUBSCRIPTIONS: &str = "subscriptions";
    /// Per-feed schedule and health: URL → `records::FeedState`.
    pub const FEED_STATE: &str = "feed_state";
    /// Items already processed, per feed: `feed URL \0 item key` → seen-at (unix seconds, BE).
    pub const FEED_ITEMS: &str = "feed_items";
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
