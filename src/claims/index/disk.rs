//! The disk tier: postings chunks (`claim_postings`) and document frequencies (`claim_counts`)
//! that the oldest claims move to when memory is full, one transaction per group of claims.

use super::*;

/// Claims moved to the on-disk index per transaction, and so the most claim ids in one chunk:
/// a sled transaction holds every tree node version it replaces until it ends, so one large
/// move would take hundreds of MB.
pub(super) const SEAL_GROUP: usize = 1024;

/// The key prefix of `feature`'s chunks in `claim_postings`.
pub(super) fn postings_prefix(feature: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(feature.len() + 9);
    key.extend_from_slice(feature.as_bytes());
    key.push(0);
    key
}

pub(super) fn be_u32(bytes: &[u8]) -> u32 {
    bytes.try_into().map(u32::from_be_bytes).unwrap_or(0)
}

pub(super) fn be_u64(bytes: &[u8]) -> u64 {
    bytes.try_into().map(u64::from_be_bytes).unwrap_or(0)
}

/// The outcome of a transaction that never aborts by itself.
pub(super) fn committed(result: Result<(), TransactionError<Infallible>>) -> Result<(), StoreError> {
    result.map_err(|error| match error {
        TransactionError::Storage(error) => StoreError::from(error),
        TransactionError::Abort(never) => match never {},
    })
}

pub(super) fn index_meta(cold: u64, next_chunk: u64) -> [u8; 16] {
    let mut meta = [0u8; 16];
    meta[..8].copy_from_slice(&cold.to_be_bytes());
    meta[8..].copy_from_slice(&next_chunk.to_be_bytes());
    meta
}

impl ClaimIndex {
    /// Lists every stored claim in `claims_hot` (a store from before the on-disk index), in
    /// batches, then records that the on-disk index exists (empty). Safe to run again if killed.
    pub(super) fn adopt_all(&self) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        let mut pending = 0;
        for item in self.claims.iter() {
            let (key, bytes) = item?;
            let head = records::decode_claim_head(&key, &bytes)?;
            batch.insert(key, &head.first_seen.to_be_bytes());
            pending += 1;
            if pending == 10_000 {
                self.hot.apply_batch(std::mem::take(&mut batch))?;
                pending = 0;
            }
        }
        self.hot.apply_batch(batch)?;
        self.meta.insert(meta_keys::CLAIM_INDEX, &index_meta(0, 0))?;
        Ok(())
    }

    /// Moves the oldest quarter of the claims in memory to the on-disk index when memory holds
    /// more than `claims.index_memory`.
    pub(super) fn keep_within_budget(&self, memory: &mut Memory) -> Result<(), StoreError> {
        if (memory.bytes as u64) <= self.config.index_memory || memory.claims.len() < 2 {
            return Ok(());
        }
        let started = std::time::Instant::now();
        let moved = self.seal(memory)?;
        tracing::info!(
            claims = moved,
            on_disk = memory.cold,
            in_memory = memory.claims.len(),
            secs = started.elapsed().as_secs_f64(),
            "older claims moved to the on-disk claim index"
        );
        Ok(())
    }

    /// Moves the oldest quarter of the claims in memory to the on-disk index, in groups of
    /// [`SEAL_GROUP`] claims, then drops the moved claims from memory. Returns how many moved.
    pub(super) fn seal(&self, memory: &mut Memory) -> Result<usize, StoreError> {
        let cut = (memory.claims.len() / 4).max(1);
        let mut moved = 0;
        let mut result = Ok(());
        while moved < cut && result.is_ok() {
            let end = (moved + SEAL_GROUP).min(cut);
            result = self.seal_group(memory, moved..end);
            if result.is_ok() {
                moved = end;
            }
        }
        // The groups that committed are on disk and out of `claims_hot`: memory lets go of
        // them even when a later group failed.
        if moved > 0 {
            *memory = memory.without_oldest(moved);
        }
        result.map(|()| moved)
    }

    /// Writes one chunk per feature of the claims in `slots` to `claim_postings` (ids newest
    /// first), adds them to `claim_counts` and takes them out of `claims_hot`, in one
    /// transaction.
    pub(super) fn seal_group(
        &self,
        memory: &mut Memory,
        slots: std::ops::Range<usize>,
    ) -> Result<(), StoreError> {
        let mut by_feature: FxHashMap<u32, Vec<u64>> = FxHashMap::default();
        for slot in slots.clone() {
            for number in memory.claims[slot].features() {
                if indexed(&memory.names[*number as usize]) {
                    by_feature.entry(*number).or_default().push(memory.ids[slot]);
                }
            }
        }
        let mut features: Vec<(u32, Vec<u64>)> = by_feature.into_iter().collect();
        features.sort_unstable_by_key(|(number, _)| *number);
        let mut next_chunk = memory.next_chunk;
        let mut chunks = Vec::with_capacity(features.len());
        for (number, ids) in &features {
            let name = &*memory.names[*number as usize];
            let mut key = postings_prefix(name);
            key.extend_from_slice(&(u64::MAX - next_chunk).to_be_bytes());
            next_chunk += 1;
            let value: Vec<u8> = ids.iter().rev().flat_map(|id| id.to_be_bytes()).collect();
            chunks.push((key, value, name.as_bytes(), ids.len() as u32));
        }
        let moving: Vec<String> = memory.ids[slots].iter().map(|id| id_key(*id)).collect();
        let cold = memory.cold + moving.len() as u64;
        let trees = [self.postings.clone(), self.counts.clone(), self.hot.clone(), self.meta.clone()];
        committed(trees.as_slice().transaction(|txs| {
            for (key, ids, name, added) in &chunks {
                txs[0].insert(key.as_slice(), ids.as_slice())?;
                let before = txs[1].get(name)?.map_or(0, |v| be_u32(&v));
                txs[1].insert(*name, &(before + added).to_be_bytes())?;
            }
            for key in &moving {
                txs[2].remove(key.as_bytes())?;
            }
            txs[3].insert(meta_keys::CLAIM_INDEX, &index_meta(cold, next_chunk))?;
            Ok(())
        }))?;
        memory.cold = cold;
        memory.next_chunk = next_chunk;
        Ok(())
    }

    /// Stores many new claims at once, outside any article (a bulk load, as the benchmarks do),
    /// with one batch per tree, then remembers them. Claims already stored are skipped.
    pub fn bulk_insert(
        &self,
        drafts: &[ClaimDraft],
        source: &ClaimSource,
        seen_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (mut claims, mut hot, mut new) = (sled::Batch::default(), sled::Batch::default(), Vec::new());
        let mut seen = rustc_hash::FxHashSet::default();
        for draft in drafts {
            let id = draft.id();
            if self.claims.contains_key(id.as_bytes())? || !seen.insert(id.clone()) {
                continue;
            }
            claims.insert(id.as_bytes(), claim_record(draft, source, seen_at));
            hot.insert(id.as_bytes(), &seen_at.timestamp().to_be_bytes());
            new.push(draft);
        }
        committed((&self.claims, &self.hot).transaction(|(c, h)| {
            c.apply_batch(&claims)?;
            h.apply_batch(&hot)?;
            Ok(())
        }))?;
        self.remember(new);
        Ok(())
    }

    /// How many claims of the on-disk index carry `feature` themselves.
    pub(super) fn on_disk(&self, memory: &Memory, feature: &str) -> Result<u32, StoreError> {
        if memory.cold == 0 {
            return Ok(0);
        }
        Ok(self.counts.get(feature)?.map_or(0, |v| be_u32(&v)))
    }

    /// The key and record of a claim the index holds (a missing one is a corrupt store).
    pub(super) fn indexed_claim(&self, id: u64) -> Result<(String, sled::IVec), StoreError> {
        let key = id_key(id);
        match self.claims.get(&key)? {
            Some(bytes) => Ok((key, bytes)),
            None => Err(StoreError::Corrupt {
                what: format!("claims/{key}"),
                reason: "in the index but not in the store".into(),
            }),
        }
    }

    /// The facts of the stored claim `id`, read from `claims`, in the judgement's numbers.
    pub(super) fn read_facts(&self, id: u64, names: &mut Names<'_>) -> Result<Facts, StoreError> {
        let (key, bytes) = self.indexed_claim(id)?;
        Ok(names.facts(&records::decode_claim_head(key.as_bytes(), &bytes)?))
    }
}
