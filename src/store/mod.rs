//! The sled store: one `Db` in `state_dir`, its trees named in [`trees`], records encoded by
//! [`records`]. It owns opening (lock, schema version, cache size) and the shape of what is
//! stored; it does not decide anything about articles or claims.
//!
//! Trade-off: sled keeps up to its flush interval (~500 ms) of writes in memory; anything that
//! must survive a crash (an accepted article, a delivered alert) is followed by `flush`.
//!
//! Recovery: the daemon opens with [`Store::open_or_recover`]. A store that sled cannot read
//! (corruption, garbage files, a panic inside sled while opening) is renamed to
//! `store.corrupt-<UTC timestamp>` next to it, with a loud error, and a fresh store is started
//! (the seeds are re-imported by the next seeding check) instead of crash-looping under systemd.
//! A store that is locked by another instance, written by a newer schema, or not accessible
//! (permissions) is refused, never moved: those are not corruption, and moving them would lose
//! good data or fight another running daemon.

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
    /// Article id (hash of its item key) → MinHash signature, empty for a short text (dedup
    /// layers `item` and `near_copy`; layout in `dedup`).
    pub const FINGERPRINTS: &str = "fingerprints";
    /// Hash of the canonical URL key → article id (dedup layer `url`).
    pub const URL_KEYS: &str = "url_keys";
    /// Hash of the normalised text → article id (dedup layer `hash`).
    pub const CONTENT_HASHES: &str = "content_hashes";
    /// LSH band + band hash prefix → packed (hash rest, article id) entries (candidates for
    /// `near_copy`).
    pub const LSH_BUCKETS: &str = "lsh_buckets";
    /// Claim id → where and when it was seen (first source, story, source count, languages).
    pub const CLAIM_PROVENANCE: &str = "claim_provenance";
    /// Claim id → the known claim nearest to it when it was first seen (JSON of
    /// `model::AlertNearest`; new claims of articles only).
    pub const CLAIM_NEAREST: &str = "claim_nearest";
    /// Sink + sequence number → alert waiting for delivery to that sink.
    pub const OUTBOX: &str = "outbox";
    /// Claims by id (`records::ClaimRecord`).
    pub const CLAIMS: &str = "claims";
    /// Claim id of another wording of a known claim → the id of the claim it repeats. The
    /// wording is stored in `claims` and indexed like any claim, so that a later retelling
    /// matches the words it shares with it; a judgement that picks it reports the claim it
    /// repeats.
    pub const CLAIM_VARIANTS: &str = "claim_variants";
    /// Claim id → first seen (unix seconds, BE): the claims indexed in memory only,
    /// rebuilt into memory at start-up.
    pub const CLAIMS_HOT: &str = "claims_hot";
    /// Feature, 0, chunk number (inverted, BE) → ids (u64 BE) of older claims that carry the
    /// feature, newest chunk and newest claim first (the on-disk claim index).
    pub const CLAIM_POSTINGS: &str = "claim_postings";
    /// Feature → how many claims of the on-disk index carry it (u32 BE).
    pub const CLAIM_COUNTS: &str = "claim_counts";
    /// Feed subscriptions added with `feeds add` / `feeds import`: URL → `records::Subscription`.
    pub const SUBSCRIPTIONS: &str = "subscriptions";
    /// Per-feed schedule and health: URL → `records::FeedState`.
    pub const FEED_STATE: &str = "feed_state";
    /// Items already processed, per feed: `feed URL \0 item key` → seen-at (unix seconds, BE).
    pub const FEED_ITEMS: &str = "feed_items";

    /// Trees of schema 1 that schema 2 replaced; read only by the upgrade, then dropped.
    pub mod v1 {
        /// Exact article address → article id.
        pub const ITEMS: &str = "items";
        /// Canonical URL key → article id.
        pub const URLS: &str = "urls";
        /// Article id → shingle count and 64 u32 MinHash minima.
        pub const SIGNATURES: &str = "signatures";
        /// LSH band key + article id → ().
        pub const LSH: &str = "lsh";
        /// Inverted index feature, 0xFF, claim id → (); the claim index now lives in memory.
        pub const CLAIM_FEATURES: &str = "claim_features";
        /// Document frequency of each feature; now counted in memory.
        pub const CLAIM_DF: &str = "claim_df";
        /// Trees that schema 2 no longer has, dropped by the upgrade.
        pub const ALL: [&str; 6] = [ITEMS, URLS, SIGNATURES, LSH, CLAIM_FEATURES, CLAIM_DF];
    }
}

/// Keys of the `meta` tree.
pub mod meta_keys {
    pub const SCHEMA_VERSION: &[u8] = b"schema_version";
    /// Set once the seed set has been imported.
    pub const SEEDED: &[u8] = b"seeded";
    /// Claims in the on-disk claim index and the next chunk number (two u64 BE); missing in a
    /// store written before that index existed.
    pub const CLAIM_INDEX: &[u8] = b"claim_index";
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

impl StoreError {
    /// Whether the store's files cannot be read as a store (as opposed to being locked, newer,
    /// inaccessible, or on a failing disk).
    pub fn is_corruption(&self) -> bool {
        match self {
            StoreError::Corrupt { .. } => true,
            StoreError::Sled(sled::Error::Corruption { .. })
            | StoreError::Sled(sled::Error::ReportableBug(_))
            | StoreError::Sled(sled::Error::Unsupported(_))
            | StoreError::Sled(sled::Error::CollectionNotFound(_)) => true,
            StoreError::Sled(sled::Error::Io(io)) | StoreError::Io { source: io, .. } => matches!(
                io.kind(),
                std::io::ErrorKind::InvalidData
                    | std::io::ErrorKind::UnexpectedEof
                    | std::io::ErrorKind::InvalidInput
            ),
            _ => false,
        }
    }
}

/// Written (and fsynced) in the sled directory once a new store's schema version is durable: a
/// store without it was killed while being created and holds nothing worth keeping.
const CREATED_MARKER: &str = "claimwatch-created";

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
        if path.exists() && !path.is_dir() {
            return Err(StoreError::Corrupt {
                what: path.display().to_string(),
                reason: "not a directory".into(),
            });
        }
        let marker = path.join(CREATED_MARKER);
        let existed = path.join("conf").exists();
        let db = open_sled(dir, &path, cache_size)?;
        let store = Store { db, dir: dir.to_path_buf() };
        if !existed || (!marker.exists() && store.is_unversioned_and_empty()?) {
            // New, or killed while being created (before the marker): nothing in it to lose.
            store
                .tree(trees::META)?
                .insert(meta_keys::SCHEMA_VERSION, &records::SCHEMA_VERSION.to_be_bytes())?;
            store.flush()?;
        }
        if !marker.exists() {
            std::fs::write(&marker, b"claimwatch store\n")
                .and_then(|_| std::fs::File::open(&marker)?.sync_all())
                .map_err(|source| StoreError::Io { dir: dir.to_path_buf(), source })?;
        }
        let found = store.check_schema()?;
        if found < records::SCHEMA_VERSION {
            store.upgrade(found)?;
        }
        Ok(store)
    }

    /// Brings a store written by an older schema to this one, in place. Each step rewrites only
    /// what changed and can be run again if killed: the version is recorded after the new
    /// layout is flushed, and the old trees are dropped only after that.
    fn upgrade(&self, found: u32) -> Result<(), StoreError> {
        if found != 1 {
            return Err(StoreError::Corrupt {
                what: "meta/schema_version".into(),
                reason: format!("schema {found} is not one this build can read or upgrade"),
            });
        }
        // Schema 2: the dedup trees' compact layout (see `dedup`).
        let started = std::time::Instant::now();
        let articles = crate::dedup::upgrade_v1(self)?;
        self.flush()?;
        self.tree(trees::META)?.insert(meta_keys::SCHEMA_VERSION, &records::SCHEMA_VERSION.to_be_bytes())?;
        self.flush()?;
        for name in trees::v1::ALL {
            self.db.drop_tree(name)?;
        }
        self.flush()?;
        tracing::info!(
            dir = %self.dir.display(),
            from = found,
            to = records::SCHEMA_VERSION,
            articles,
            secs = started.elapsed().as_secs_f64(),
            "store upgraded: dedup index rebuilt in the new layout"
        );
        Ok(())
    }

    /// Like [`Store::open`], but a corrupt store is moved aside (renamed with a timestamp) and a
    /// fresh one is opened in its place. Locked, newer-schema and inaccessible stores are still
    /// refused. Returns the path the corrupt store was moved to, if any.
    pub fn open_or_recover(dir: &Path, cache_size: u64) -> Result<(Store, Option<PathBuf>), StoreError> {
        let error = match Store::open(dir, cache_size) {
            Ok(store) => return Ok((store, None)),
            Err(error) if error.is_corruption() => error,
            Err(error) => return Err(error),
        };
        let from = dir.join("store");
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
        let aside = dir.join(format!("store.corrupt-{stamp}"));
        std::fs::rename(&from, &aside).map_err(|source| StoreError::Io { dir: dir.to_path_buf(), source })?;
        tracing::error!(
            error = %error,
            moved_to = %aside.display(),
            "STORE CORRUPT: moved the unreadable store aside and started a fresh one; seeds will be \
             re-imported, articles seen before may alert again. Inspect or delete the old copy"
        );
        crate::metrics::store_recovered();
        let store = Store::open(dir, cache_size)?;
        Ok((store, Some(aside)))
    }

    /// A cheap read that proves the store answers (for readiness and the watchdog).
    pub fn probe(&self) -> Result<(), StoreError> {
        match self.tree(trees::META)?.get(meta_keys::SCHEMA_VERSION)? {
            Some(_) => Ok(()),
            None => Err(StoreError::Corrupt { what: "meta/schema_version".into(), reason: "missing".into() }),
        }
    }

    /// No schema version and no data: what a kill between sled's creation of the files and the
    /// first flush leaves behind.
    fn is_unversioned_and_empty(&self) -> Result<bool, StoreError> {
        if self.tree(trees::META)?.contains_key(meta_keys::SCHEMA_VERSION)? {
            return Ok(false);
        }
        for name in self.db.tree_names() {
            if !self.db.open_tree(name)?.is_empty() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The store's schema version; refuses a newer one.
    fn check_schema(&self) -> Result<u32, StoreError> {
        let meta = self.tree(trees::META)?;
        let bytes = meta.get(meta_keys::SCHEMA_VERSION)?.ok_or_else(|| StoreError::Corrupt {
            // The version is flushed before the creation marker is written, and sled reads a
            // damaged log as "ends here": a marked store without its version is damaged.
            what: "meta/schema_version".into(),
            reason: "missing (the store's log is damaged or was truncated)".into(),
        })?;
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
        Ok(found)
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

/// Opens sled at `path`; sled 0.34 panics on some kinds of damaged files instead of returning an
/// error, so a panic is turned into an error too.
/// How long a locked store is retried before it is reported as in use: sled releases its file
/// lock only when its flusher thread ends, up to `flush_every_ms` after the last handle was
/// dropped, so a store this process has just closed would otherwise be refused.
const LOCK_PATIENCE: std::time::Duration = std::time::Duration::from_secs(2);

fn open_sled(dir: &Path, path: &Path, cache_size: u64) -> Result<sled::Db, StoreError> {
    let started = std::time::Instant::now();
    loop {
        match open_sled_once(dir, path, cache_size) {
            Err(StoreError::Locked(_)) if started.elapsed() < LOCK_PATIENCE => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            opened => return opened,
        }
    }
}

fn open_sled_once(dir: &Path, path: &Path, cache_size: u64) -> Result<sled::Db, StoreError> {
    let config = sled::Config::new().path(path).cache_capacity(cache_size).flush_every_ms(Some(500));
    let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || config.open()))
        .unwrap_or_else(|panic| {
            let reason = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "sled panicked while opening".into());
            Err(sled::Error::ReportableBug(reason))
        });
    opened.map_err(|error| classify_open_error(dir, error))
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

#[cfg(test)]
mod recovery_tests {
    use super::*;

    /// A store with some data, flushed and closed; returns the sled directory.
    fn filled_store(dir: &Path) -> PathBuf {
        let store = Store::open(dir, 1 << 20).unwrap();
        let tree = store.tree(trees::META).unwrap();
        for i in 0..2000u32 {
            tree.insert(format!("k{i}"), vec![7u8; 100]).unwrap();
        }
        tree.insert(meta_keys::SEEDED, b"1").unwrap();
        store.flush().unwrap();
        drop((tree, store));
        let sled_dir = dir.join("store");
        wait_until_sled_lets_go(&sled_dir);
        sled_dir
    }

    /// Waits until no sled thread of a dropped store still holds its files. Dropping the last
    /// handle does not end sled's IO thread pool jobs (log buffer writes, asynchronous segment
    /// truncations); each holds the `db` file, and with it the file lock, until it is done. A
    /// test that damages the files before then has its damage overwritten by those late writes
    /// (a truncated `db` written back to its full length), and the store it expected to be
    /// corrupt opens cleanly: the flaky `a_truncated_db_file_is_moved_aside`, failing under load
    /// when the late jobs ran late.
    fn wait_until_sled_lets_go(sled_dir: &Path) {
        use std::os::fd::AsRawFd;
        let file = std::fs::File::open(sled_dir.join("db")).unwrap();
        let started = std::time::Instant::now();
        // SAFETY: flock on a descriptor we own; LOCK_NB never blocks.
        while unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(30),
                "sled never released {sled_dir:?}"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        // SAFETY: as above; the lock is ours to release.
        unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_UN) };
    }

    #[track_caller]
    fn check_recovers(damage: impl Fn(&Path)) {
        let dir = tempfile::tempdir().unwrap();
        let sled_dir = filled_store(dir.path());
        damage(&sled_dir);
        let (store, moved) =
            Store::open_or_recover(dir.path(), 1 << 20).expect("a corrupt store is replaced");
        let moved = moved.expect("the corrupt store was moved aside");
        assert!(moved.file_name().unwrap().to_str().unwrap().starts_with("store.corrupt-"), "{moved:?}");
        assert!(moved.exists(), "the old copy is kept for inspection");
        assert!(!store.is_seeded().unwrap(), "a fresh store: seeds are imported again");
        store.probe().unwrap();
        drop(store);
        let (_again, moved_again) = Store::open_or_recover(dir.path(), 1 << 20).unwrap();
        assert!(moved_again.is_none(), "the fresh store opens cleanly next time");
    }

    fn overwrite(path: &Path, at: u64, bytes: &[u8]) {
        use std::io::{Seek, SeekFrom, Write};
        let mut file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
        file.seek(SeekFrom::Start(at)).unwrap();
        file.write_all(bytes).unwrap();
    }

    #[test]
    fn garbage_conf_file_is_moved_aside() {
        check_recovers(|sled| std::fs::write(sled.join("conf"), b"\xff\xfe garbage \x00\x01").unwrap());
    }

    #[test]
    fn zeroed_db_file_is_moved_aside() {
        check_recovers(|sled| {
            let len = std::fs::metadata(sled.join("db")).unwrap().len();
            overwrite(&sled.join("db"), 0, &vec![0u8; len as usize]);
            for snap in std::fs::read_dir(sled).unwrap().flatten() {
                if snap.file_name().to_string_lossy().starts_with("snap.") {
                    std::fs::remove_file(snap.path()).unwrap();
                }
            }
        });
    }

    #[test]
    fn random_bytes_over_the_db_file_are_moved_aside() {
        check_recovers(|sled| {
            let len = std::fs::metadata(sled.join("db")).unwrap().len();
            let mut rng = fastrand::Rng::with_seed(7);
            let noise: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
            overwrite(&sled.join("db"), 0, &noise);
        });
    }

    #[test]
    fn a_garbled_schema_version_is_moved_aside() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path(), 1 << 20).unwrap();
            store.tree(trees::META).unwrap().insert(meta_keys::SCHEMA_VERSION, b"v1?").unwrap();
            store.flush().unwrap();
        }
        let (store, moved) = Store::open_or_recover(dir.path(), 1 << 20).unwrap();
        assert!(moved.is_some());
        store.probe().unwrap();
    }

    #[test]
    fn a_truncated_db_file_is_moved_aside() {
        check_recovers(|sled| {
            let file = std::fs::OpenOptions::new().write(true).open(sled.join("db")).unwrap();
            file.set_len(100).unwrap();
            for snap in std::fs::read_dir(sled).unwrap().flatten() {
                if snap.file_name().to_string_lossy().starts_with("snap.") {
                    std::fs::remove_file(snap.path()).unwrap();
                }
            }
        });
    }

    #[test]
    fn a_store_dir_replaced_by_a_file_is_moved_aside() {
        check_recovers(|sled| {
            std::fs::remove_dir_all(sled).unwrap();
            std::fs::write(sled, b"not a directory").unwrap();
        });
    }

    #[test]
    fn a_store_killed_while_being_created_is_finished_not_moved() {
        let dir = tempfile::tempdir().unwrap();
        {
            // What a kill between sled's creation and the schema flush leaves behind.
            let db = sled::Config::new().path(dir.path().join("store")).open().unwrap();
            db.flush().unwrap();
        }
        let (store, moved) = Store::open_or_recover(dir.path(), 1 << 20).unwrap();
        assert!(moved.is_none());
        store.probe().unwrap();
        assert!(dir.path().join("store").join(CREATED_MARKER).exists());
    }

    #[test]
    fn creating_and_reopening_releases_the_lock_every_time() {
        for _ in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            Store::open(dir.path(), 1 << 20).unwrap().probe().unwrap();
        }
    }

    #[test]
    fn a_locked_store_is_refused_not_moved() {
        let dir = tempfile::tempdir().unwrap();
        let _first = Store::open(dir.path(), 1 << 20).unwrap();
        let second = Store::open_or_recover(dir.path(), 1 << 20);
        assert!(matches!(second, Err(StoreError::Locked(_))), "{:?}", second.err());
        assert!(only_store_in(dir.path()));
    }

    #[test]
    fn a_newer_schema_is_refused_not_moved() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path(), 1 << 20).unwrap();
            let meta = store.tree(trees::META).unwrap();
            meta.insert(meta_keys::SCHEMA_VERSION, &(records::SCHEMA_VERSION + 1).to_be_bytes()).unwrap();
            store.flush().unwrap();
        }
        let reopened = Store::open_or_recover(dir.path(), 1 << 20);
        assert!(matches!(reopened, Err(StoreError::NewerSchema { .. })), "{:?}", reopened.err());
        assert!(only_store_in(dir.path()));
    }

    fn only_store_in(dir: &Path) -> bool {
        let names: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names == ["store"]
    }
}
