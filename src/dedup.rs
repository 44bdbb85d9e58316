//! Article dedup in layers, cheapest first, each counted separately (`claimwatch_dedup_hits`):
//! 1. `item`: the exact address the article arrived under;
//! 2. `url`: its canonical URL key (tracking parameters, AMP/mobile variants folded, see
//!    [`crate::normalize::url`]);
//! 3. `hash`: a hash of the normalised text (case, Unicode form, punctuation, ş/ţ folded);
//! 4. `near_copy`: MinHash over word shingles, candidates found through LSH bands stored in
//!    sled, confirmed by the Jaccard estimate of the two signatures;
//! 5. `story`: the same story told anew or in another language, decided from the claim engine's
//!    evidence (not here: see `pipeline::process_article`).
//!
//! This module computes fingerprints (pure) and reads and writes the fingerprint trees; live
//! writes happen only inside the caller's per-article transaction ([`insert_in`]), bulk loads
//! (the schema-1 upgrade, benchmarks) go through [`BulkLoad`], which builds the same keys.
//!
//! Layout (schema 2): three entries per article plus its share of the LSH buckets.
//! - `fingerprints`: article id (a hash of the item key) → its signature: the `item` layer and
//!   the near-copy confirmation in one read;
//! - `url_keys`: 16-byte hash of the canonical URL key → article id;
//! - `content_hashes`: hash of the normalised text → article id;
//! - `lsh_buckets`: band byte + 2 bytes of the band's hash → packed entries (4 more bytes of the
//!   band's hash, article id), so a band costs one `get` and the tree holds at most
//!   16 × 65,536 keys however many articles are stored. (Schema 1 had one key per band and
//!   article; sled splits leaves past 16 keys, so its page table, its files and the lookup's
//!   tail grew with them.)
//!
//! It deliberately does not judge claims. Trade-off: the near-copy test measures word overlap, so a rewrite of the same facts
//! by another outlet (different words) is not a copy, while a reprint with a new intro and footer
//! is; the threshold below is set from the labelled syndicated cases.

use sha2::{Digest, Sha256};
use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use unicode_normalization::UnicodeNormalization;

use crate::model::Article;
use crate::store::{trees, Store, StoreError};

/// Number of MinHash functions; a signature is `NUM_HASHES` u16 values.
pub const NUM_HASHES: usize = 64;
/// LSH bands × rows = `NUM_HASHES`. With 16 bands of 4 rows a pair of Jaccard 0.5 becomes a
/// candidate with probability 1 − (1 − 0.5⁴)¹⁶ ≈ 0.64, of 0.7 with ≈ 0.99.
pub const BANDS: usize = 16;
const ROWS: usize = NUM_HASHES / BANDS;
/// Words per shingle.
pub const SHINGLE: usize = 3;
/// Least estimated Jaccard similarity of two articles' shingle sets for a near-verbatim copy.
pub const NEAR_COPY_JACCARD: f32 = 0.45;
/// Least share of the smaller article's shingles that the other holds (estimated from the
/// signatures and the shingle counts), for a short reprint inside a long page or the reverse.
pub const NEAR_COPY_CONTAINMENT: f32 = 0.7;
/// Bytes of an article's text that go into its fingerprint.
const MAX_TEXT: usize = 256 << 10;
/// Words of an article that go into its signature.
const MAX_WORDS: usize = 20_000;
/// Articles with fewer shingles than this are too short for a meaningful near-copy test.
const MIN_SHINGLES: usize = 12;
/// Articles kept per band value: more articles sharing four rows of a band are copies of each
/// other or shared boilerplate, and the first ones stand for the rest (a copy of a later one
/// still meets it through its other bands). Bounds a lookup at `BANDS` × this many candidates.
const MAX_PER_BAND_VALUE: usize = 16;

/// Our id of a stored article: the first 8 bytes of the SHA-256 of its item key, so that a crash
/// before the commit gives the article the same id when it is processed again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ArticleId(pub u64);

impl ArticleId {
    /// The id of the article known under `item_key` (dedup layer `item`).
    pub fn of_item(item_key: &str) -> ArticleId {
        ArticleId(u64::from_be_bytes(Sha256::digest(item_key.as_bytes())[..8].try_into().expect("8 bytes")))
    }

    pub fn to_bytes(self) -> [u8; 8] {
        self.0.to_be_bytes()
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<ArticleId> {
        Some(ArticleId(u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?)))
    }
}

impl std::fmt::Display for ArticleId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// The dedup layer that recognised an article.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    Item,
    Url,
    Hash,
    NearCopy,
    Story,
}

impl Layer {
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Item => "item",
            Layer::Url => "url",
            Layer::Hash => "hash",
            Layer::NearCopy => "near_copy",
            Layer::Story => "story",
        }
    }
}

/// An article recognised as seen before: by which layer, as which stored article.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Seen {
    pub layer: Layer,
    pub of: ArticleId,
    /// The estimated Jaccard similarity (1.0 for the exact layers).
    pub similarity: f32,
}

/// A MinHash signature with the size of the shingle set it summarises. The minima are the top
/// 16 bits of 64-bit hashes: two different shingles agree by chance with probability 2⁻¹⁶, which
/// moves a Jaccard estimate by at most 0.00002 (and a containment estimate, scaled by the size
/// ratio of the two texts, by 0.002 for a page 100 times longer than the reprint it holds).
#[derive(Debug, Clone, PartialEq)]
pub struct Signature {
    pub mins: [u16; NUM_HASHES],
    pub shingles: u32,
}

/// Everything dedup knows about one article; computed without I/O.
#[derive(Debug, Clone)]
pub struct Fingerprint {
    pub id: ArticleId,
    /// The exact address (layer 1).
    pub item_key: String,
    /// The canonical URL key (layer 2); none for local files and seeds.
    pub url_key: Option<String>,
    /// Hash of the normalised text (layer 3).
    pub content_hash: [u8; 16],
    /// Near-copy signature (layer 4); none when the text is too short.
    pub signature: Option<Signature>,
}

/// Computes an article's fingerprint.
pub fn fingerprint(article: &Article) -> Fingerprint {
    // Beyond MAX_TEXT bytes a page is not an article; its length still tells copies apart.
    let mut end = article.text.len().min(MAX_TEXT);
    while !article.text.is_char_boundary(end) {
        end -= 1;
    }
    // The words go into one buffer (no allocation per word): this runs for every lookup.
    let mut buffer = String::with_capacity(end);
    let mut ends = Vec::new();
    each_word(&article.text[..end], |word| {
        buffer.push_str(word);
        ends.push(buffer.len());
    });
    let mut start = 0;
    let words: Vec<&str> = ends
        .iter()
        .map(|&e| {
            let word = &buffer[start..e];
            start = e;
            word
        })
        .collect();
    let mut hasher = Sha256::new();
    if end < article.text.len() {
        hasher.update((article.text.len() as u64).to_be_bytes());
    }
    for word in &words {
        hasher.update(word.as_bytes());
        hasher.update(b" ");
    }
    let digest = hasher.finalize();
    let content_hash: [u8; 16] = digest[..16].try_into().expect("16 bytes");
    let is_web = matches!(article.url.scheme(), "http" | "https");
    let item_key = if is_web {
        article.url.as_str().to_string()
    } else {
        // A local file is known by its text: the same seed under another path is the same item.
        format!("text:{}", hex(&content_hash))
    };
    // An item without a link is known by its feed's URL with the item key as fragment; the
    // canonical key (which drops fragments) would then be the feed's own, shared by all its items.
    let url_key = is_web.then(|| crate::normalize::url::key(&article.url)).filter(|key| {
        let feed_key = article
            .feed
            .as_deref()
            .and_then(|f| url::Url::parse(f).ok())
            .map(|f| crate::normalize::url::key(&f));
        feed_key.as_deref() != Some(key.as_str())
    });
    let id = ArticleId::of_item(&item_key);
    Fingerprint { id, item_key, url_key, content_hash, signature: signature(&words) }
}

/// The normalised words of a text: NFKC, lower case, Romanian cedilla letters folded to commas,
/// apostrophes and soft hyphens dropped, everything that is not a letter or digit a separator.
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    each_word(text, |word| out.push(word.to_string()));
    out
}

/// Calls `f` with each of [`words`] in turn.
fn each_word(text: &str, mut f: impl FnMut(&str)) {
    let mut word = String::new();
    // Most texts are in NFKC already; the quick check is a table lookup per character, the
    // normalising iterator a decomposition and recomposition per character.
    let normalised: std::borrow::Cow<str> = match unicode_normalization::is_nfkc_quick(text.chars()) {
        unicode_normalization::IsNormalized::Yes => text.into(),
        _ => text.nfkc().collect::<String>().into(),
    };
    for c in normalised.chars().flat_map(char::to_lowercase) {
        let c = match c {
            'ş' => 'ș',
            'ţ' => 'ț',
            other => other,
        };
        if c.is_alphanumeric() {
            word.push(c);
        } else if matches!(c, '\'' | '’' | 'ʼ' | '`' | '\u{AD}') {
            continue;
        } else if !word.is_empty() {
            f(&word);
            word.clear();
        }
    }
    if !word.is_empty() {
        f(&word);
    }
}

/// The MinHash signature of a word sequence's shingles; none below [`MIN_SHINGLES`].
pub fn signature<W: AsRef<str>>(words: &[W]) -> Option<Signature> {
    if words.len() < SHINGLE + MIN_SHINGLES - 1 {
        return None;
    }
    // A reprint is recognised by its first MAX_WORDS words; beyond them a page is not an article.
    let words = &words[..words.len().min(MAX_WORDS)];
    let mut hashes: Vec<u64> = words
        .windows(SHINGLE)
        .map(|w| {
            let mut h = 0xcbf2_9ce4_8422_2325u64;
            for word in w {
                for b in word.as_ref().as_bytes() {
                    h ^= u64::from(*b);
                    h = h.wrapping_mul(0x0000_0100_0000_01b3);
                }
                h ^= 0xff;
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
            h
        })
        .collect();
    hashes.sort_unstable();
    hashes.dedup();
    // Double hashing (h1 + i·h2) stands in for NUM_HASHES independent hash functions: one
    // multiply-add per function and shingle instead of a full mix.
    let mut mins = [u16::MAX; NUM_HASHES];
    for h in &hashes {
        let h1 = splitmix(*h);
        let h2 = splitmix(h1) | 1;
        let mut v = h1;
        for min in mins.iter_mut() {
            let top = (v >> 48) as u16;
            if top < *min {
                *min = top;
            }
            v = v.wrapping_add(h2);
        }
    }
    Some(Signature { mins, shingles: hashes.len() as u32 })
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The estimated Jaccard similarity of two signatures.
pub fn jaccard(a: &Signature, b: &Signature) -> f32 {
    let same = a.mins.iter().zip(&b.mins).filter(|(x, y)| x == y).count();
    same as f32 / NUM_HASHES as f32
}

/// The estimated share of the smaller set held by the larger: |A∩B| / min(|A|,|B|), from the
/// Jaccard estimate J and the set sizes (|A∩B| = J(|A|+|B|)/(1+J)).
pub fn containment(a: &Signature, b: &Signature) -> f32 {
    let j = jaccard(a, b);
    let inter = j * (a.shingles + b.shingles) as f32 / (1.0 + j);
    (inter / a.shingles.min(b.shingles).max(1) as f32).min(1.0)
}

/// Whether two signatures are near-verbatim copies of each other.
pub fn is_near_copy(a: &Signature, b: &Signature) -> (bool, f32) {
    let j = jaccard(a, b);
    (j >= NEAR_COPY_JACCARD || containment(a, b) >= NEAR_COPY_CONTAINMENT, j)
}

// ------------------------------------------------------------------------- stored form

/// Key of an LSH bucket: band number, then the top 2 bytes of the band's hash.
pub type BucketKey = [u8; 3];
/// One article in an LSH bucket: 4 more bytes of the band's hash, then the article id.
pub type BucketEntry = [u8; 12];
/// Bytes of a stored signature: shingle count, then the minima (big-endian).
const SIGNATURE_BYTES: usize = 4 + 2 * NUM_HASHES;

/// The LSH bucket entries of an article's signature, one per band.
pub fn bucket_entries(sig: &Signature, id: ArticleId) -> impl Iterator<Item = (BucketKey, BucketEntry)> + '_ {
    sig.mins.chunks(ROWS).enumerate().map(move |(band, rows)| {
        let mut h = 0u64;
        for r in rows {
            h = splitmix(h ^ u64::from(*r));
        }
        let h = h.to_be_bytes();
        let mut entry = [0u8; 12];
        entry[..4].copy_from_slice(&h[2..6]);
        entry[4..].copy_from_slice(&id.to_bytes());
        ([band as u8, h[0], h[1]], entry)
    })
}

/// A bucket's stored bytes with `entries` added; none when nothing changes (each is there
/// already, or its band value holds [`MAX_PER_BAND_VALUE`] articles).
pub fn add_to_bucket(stored: Option<&[u8]>, entries: &[BucketEntry]) -> Option<Vec<u8>> {
    let stored = stored.unwrap_or_default();
    let mut out: Option<Vec<u8>> = None;
    for entry in entries {
        let current = out.as_deref().unwrap_or(stored);
        let same_value = current.chunks_exact(12).filter(|e| e[..4] == entry[..4]);
        let mut held = 0;
        let mut present = false;
        for e in same_value {
            held += 1;
            present |= e == entry;
        }
        if !present && held < MAX_PER_BAND_VALUE {
            out.get_or_insert_with(|| stored.to_vec()).extend_from_slice(entry);
        }
    }
    out
}

/// The stored form of an article's signature (empty for a text too short for one).
pub fn encode_signature(sig: Option<&Signature>) -> Vec<u8> {
    let Some(sig) = sig else { return Vec::new() };
    let mut out = Vec::with_capacity(SIGNATURE_BYTES);
    out.extend_from_slice(&sig.shingles.to_be_bytes());
    for m in &sig.mins {
        out.extend_from_slice(&m.to_be_bytes());
    }
    out
}

fn decode_signature(bytes: &[u8]) -> Option<Signature> {
    if bytes.len() != SIGNATURE_BYTES {
        return None;
    }
    let shingles = u32::from_be_bytes(bytes[..4].try_into().expect("4 bytes"));
    let mut mins = [0u16; NUM_HASHES];
    for (min, b) in mins.iter_mut().zip(bytes[4..].chunks_exact(2)) {
        *min = u16::from_be_bytes([b[0], b[1]]);
    }
    Some(Signature { mins, shingles })
}

/// The key of a canonical URL key in `url_keys`.
pub fn url_entry_key(url_key: &str) -> [u8; 16] {
    Sha256::digest(url_key.as_bytes())[..16].try_into().expect("16 bytes")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Read side of the fingerprint trees.
#[derive(Clone)]
pub struct DedupIndex {
    fingerprints: sled::Tree,
    urls: sled::Tree,
    hashes: sled::Tree,
    buckets: sled::Tree,
}

impl DedupIndex {
    pub fn open(store: &Store) -> Result<DedupIndex, StoreError> {
        Ok(DedupIndex {
            fingerprints: store.tree(trees::FINGERPRINTS)?,
            urls: store.tree(trees::URL_KEYS)?,
            hashes: store.tree(trees::CONTENT_HASHES)?,
            buckets: store.tree(trees::LSH_BUCKETS)?,
        })
    }

    /// Whether a feed link is already known (item or canonical URL), so that its page need not
    /// be fetched again.
    pub fn known_link(&self, link: &url::Url) -> Result<Option<Seen>, StoreError> {
        let id = ArticleId::of_item(link.as_str());
        if self.fingerprints.contains_key(id.to_bytes())? {
            return Ok(Some(exact(Layer::Item, id)));
        }
        if let Some(id) = self.urls.get(url_entry_key(&crate::normalize::url::key(link)))? {
            return Ok(Some(exact_stored(Layer::Url, &id)));
        }
        Ok(None)
    }

    /// The first layer that recognises the fingerprint, if any.
    pub fn lookup(&self, fp: &Fingerprint) -> Result<Option<Seen>, StoreError> {
        if self.fingerprints.contains_key(fp.id.to_bytes())? {
            return Ok(Some(exact(Layer::Item, fp.id)));
        }
        if let Some(key) = &fp.url_key {
            if let Some(id) = self.urls.get(url_entry_key(key))? {
                return Ok(Some(exact_stored(Layer::Url, &id)));
            }
        }
        if let Some(id) = self.hashes.get(fp.content_hash)? {
            return Ok(Some(exact_stored(Layer::Hash, &id)));
        }
        match &fp.signature {
            Some(sig) => self.near_copy(sig),
            None => Ok(None),
        }
    }

    /// The most similar stored article that is a near-verbatim copy of `sig`, found through the
    /// LSH buckets and confirmed by the signatures.
    pub fn near_copy(&self, sig: &Signature) -> Result<Option<Seen>, StoreError> {
        let mut candidates: Vec<u64> = Vec::new();
        for (key, entry) in bucket_entries(sig, ArticleId(0)) {
            let Some(bucket) = self.buckets.get(key)? else { continue };
            for stored in bucket.chunks_exact(12).filter(|e| e[..4] == entry[..4]) {
                candidates.extend(ArticleId::from_bytes(&stored[4..]).map(|id| id.0));
            }
        }
        candidates.sort_unstable();
        candidates.dedup();
        let mut best: Option<Seen> = None;
        for id in candidates {
            let Some(bytes) = self.fingerprints.get(id.to_be_bytes())? else { continue };
            let Some(other) = decode_signature(&bytes) else { continue };
            let (copy, similarity) = is_near_copy(sig, &other);
            if copy && best.is_none_or(|b| similarity > b.similarity) {
                best = Some(Seen { layer: Layer::NearCopy, of: ArticleId(id), similarity });
            }
        }
        Ok(best)
    }

    /// The trees [`insert_in`] writes, in its order.
    pub fn trees(&self) -> [&sled::Tree; TREES] {
        [&self.fingerprints, &self.urls, &self.hashes, &self.buckets]
    }
}

/// How many trees [`DedupIndex::trees`] names.
pub const TREES: usize = 4;

fn exact(layer: Layer, of: ArticleId) -> Seen {
    Seen { layer, of, similarity: 1.0 }
}

fn exact_stored(layer: Layer, id: &[u8]) -> Seen {
    exact(layer, ArticleId::from_bytes(id).unwrap_or(ArticleId(0)))
}

/// Writes an article's fingerprint entries inside the caller's transaction; `txs` are the
/// transactional views of [`DedupIndex::trees`], in that order. Existing URL and hash entries
/// are kept, so an address keeps pointing at the first article seen under it.
pub fn insert_in(
    txs: &[TransactionalTree],
    fp: &Fingerprint,
) -> Result<(), ConflictableTransactionError<StoreError>> {
    let [fingerprints, urls, hashes, buckets] = txs else {
        panic!("insert_in takes the {TREES} fingerprint trees");
    };
    let id = fp.id.to_bytes();
    fingerprints.insert(&id, encode_signature(fp.signature.as_ref()))?;
    if let Some(key) = &fp.url_key {
        let key = url_entry_key(key);
        if urls.get(key)?.is_none() {
            urls.insert(&key, &id)?;
        }
    }
    if hashes.get(fp.content_hash)?.is_none() {
        hashes.insert(&fp.content_hash, &id)?;
    }
    if let Some(sig) = &fp.signature {
        for (key, entry) in bucket_entries(sig, fp.id) {
            let stored = buckets.get(key)?;
            if let Some(bucket) = add_to_bucket(stored.as_deref(), &[entry]) {
                buckets.insert(&key, bucket)?;
            }
        }
    }
    Ok(())
}

/// Many articles' fingerprint entries, written in key order with sled batches of
/// [`BULK_CHUNK`] writes; the buckets are merged with their stored bytes. Not crash-atomic per
/// article, and later entries of a URL or hash replace earlier ones: for filling a store that is
/// not live (the schema-1 upgrade, benchmarks), never for ingestion.
#[derive(Default)]
pub struct BulkLoad {
    fingerprints: Vec<([u8; 8], Vec<u8>)>,
    urls: Vec<([u8; 16], [u8; 8])>,
    hashes: Vec<([u8; 16], [u8; 8])>,
    buckets: Vec<(BucketKey, BucketEntry)>,
}

/// Writes per sled batch: sled pins one epoch for a whole batch, so every page version the batch
/// replaces stays in memory until it ends (a batch of 20,000 articles peaked at 650 MiB).
const BULK_CHUNK: usize = 2_000;

impl BulkLoad {
    /// Adds the entries of one article.
    pub fn add(&mut self, fp: &Fingerprint) {
        self.add_article(fp.id, fp.signature.as_ref());
        if let Some(key) = &fp.url_key {
            self.add_url(key, fp.id);
        }
        self.hashes.push((fp.content_hash, fp.id.to_bytes()));
    }

    /// Adds an article's `fingerprints` entry and its buckets.
    fn add_article(&mut self, id: ArticleId, sig: Option<&Signature>) {
        self.fingerprints.push((id.to_bytes(), encode_signature(sig)));
        if let Some(sig) = sig {
            self.buckets.extend(bucket_entries(sig, id));
        }
    }

    fn add_url(&mut self, url_key: &str, id: ArticleId) {
        self.urls.push((url_entry_key(url_key), id.to_bytes()));
    }

    /// Articles and URLs added since the last write.
    pub fn pending(&self) -> usize {
        self.fingerprints.len() + self.urls.len()
    }

    /// Writes everything added and starts over.
    pub fn write(&mut self, index: &DedupIndex) -> Result<(), StoreError> {
        let BulkLoad { fingerprints, urls, hashes, mut buckets } = std::mem::take(self);
        write_sorted(&index.fingerprints, fingerprints)?;
        write_sorted(&index.urls, urls)?;
        write_sorted(&index.hashes, hashes)?;
        buckets.sort_unstable();
        let mut merged = Vec::new();
        for group in buckets.chunk_by(|a, b| a.0 == b.0) {
            let key = group[0].0;
            let entries: Vec<BucketEntry> = group.iter().map(|(_, e)| *e).collect();
            if let Some(bucket) = add_to_bucket(index.buckets.get(key)?.as_deref(), &entries) {
                merged.push((key, bucket));
            }
            if merged.len() == BULK_CHUNK {
                write_sorted(&index.buckets, std::mem::take(&mut merged))?;
            }
        }
        write_sorted(&index.buckets, merged)
    }
}

fn write_sorted<K: AsRef<[u8]> + Ord, V: AsRef<[u8]>>(
    tree: &sled::Tree,
    mut writes: Vec<(K, V)>,
) -> Result<(), StoreError> {
    writes.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    for chunk in writes.chunks(BULK_CHUNK) {
        let mut batch = sled::Batch::default();
        for (key, value) in chunk {
            batch.insert(key.as_ref(), value.as_ref());
        }
        tree.apply_batch(batch)?;
    }
    Ok(())
}

/// Rebuilds the dedup trees of a schema-1 store (item key → id, URL key → id, u32 signatures,
/// one LSH key per band and article) in the schema-2 layout; the caller records the new version
/// and then drops the old trees. Starts by clearing the new trees, so a run killed half-way is
/// simply run again.
pub fn upgrade_v1(store: &Store) -> Result<usize, StoreError> {
    use trees::v1;
    let index = DedupIndex::open(store)?;
    for tree in [&index.fingerprints, &index.urls, &index.buckets] {
        tree.clear()?;
    }
    let corrupt =
        |what: &str| StoreError::Corrupt { what: what.to_string(), reason: "not a schema-1 entry".into() };
    let (items, urls, signatures) =
        (store.tree(v1::ITEMS)?, store.tree(v1::URLS)?, store.tree(v1::SIGNATURES)?);
    let mut load = BulkLoad::default();
    let mut articles = 0;
    for entry in items.iter() {
        let (_, id) = entry?;
        let id = ArticleId::from_bytes(&id).ok_or_else(|| corrupt("items"))?;
        let sig = match signatures.get(id.to_bytes())? {
            // Shingle count, then 64 u32 minima whose top 16 bits are this schema's minima.
            Some(bytes) if bytes.len() == 4 + 4 * NUM_HASHES => {
                let shingles = u32::from_be_bytes(bytes[..4].try_into().expect("4 bytes"));
                let mut mins = [0u16; NUM_HASHES];
                for (min, b) in mins.iter_mut().zip(bytes[4..].chunks_exact(4)) {
                    *min = u16::from_be_bytes([b[0], b[1]]);
                }
                Some(Signature { mins, shingles })
            }
            Some(_) => return Err(corrupt("signatures")),
            None => None,
        };
        load.add_article(id, sig.as_ref());
        articles += 1;
        if load.pending() == 20_000 {
            load.write(&index)?;
        }
    }
    for entry in urls.iter() {
        let (key, id) = entry?;
        let key = std::str::from_utf8(&key).map_err(|_| corrupt("urls"))?;
        load.add_url(key, ArticleId::from_bytes(&id).ok_or_else(|| corrupt("urls"))?);
        if load.pending() == 20_000 {
            load.write(&index)?;
        }
    }
    load.write(&index)?;
    Ok(articles)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn article(url: &str, text: &str) -> Article {
        Article {
            url: url::Url::parse(url).unwrap(),
            feed: None,
            feed_name: None,
            title: None,
            text: text.to_string(),
            published: None,
            lang_hint: None,
            seen_at: Utc::now(),
        }
    }

    const SEED: &str = "The United States and European countries have prepared a joint security \
        guarantee plan for Ukraine, which is intended to consolidate a possible peace agreement with \
        Russia and prevent new aggression. The document provides for a multi-level deterrence \
        system and clear commitments from Washington. The plan is based on several layers of \
        security. The first line of containment will be the 800,000-strong Ukrainian army, which \
        the Allies will continue to support with weapons, training, and resources. At the second \
        level, multinational forces of a coalition of European countries can be deployed.";

    #[test]
    fn normalised_words_fold_case_punctuation_and_romanian_cedillas() {
        assert_eq!(words("Ţara, ŞI «Ucraina»! l'armée"), vec!["țara", "și", "ucraina", "larmée"]);
        // A soft hyphen is a hyphenation hint inside the word, not a break between two.
        assert_eq!(words("Auf\u{AD}tau\u{AD}chen"), vec!["auftauchen"]);
    }

    #[test]
    fn a_copy_with_a_new_intro_and_footer_is_a_near_copy() {
        let copy = format!(
            "Photo: Reuters. Read the latest from our correspondents in Kyiv. {SEED} Subscribe to our \
             newsletter for more news every morning."
        );
        let a = fingerprint(&article("https://a.example/x", SEED)).signature.unwrap();
        let b = fingerprint(&article("https://b.example/y", &copy)).signature.unwrap();
        let (copy, j) = is_near_copy(&a, &b);
        assert!(copy, "jaccard {j}");
    }

    #[test]
    fn a_rewrite_of_the_same_facts_is_not_a_near_copy() {
        let rewrite = "Washington and its European allies have drawn up a plan of security guarantees \
            for Kyiv meant to lock in any peace deal with Moscow and deter a fresh attack. Under the \
            layered scheme, Ukraine's own army of 800,000 soldiers forms the first line, kept supplied \
            and trained by its partners, while a coalition force of European troops could be stationed \
            behind the front as a second tier, according to the document.";
        let a = fingerprint(&article("https://a.example/x", SEED)).signature.unwrap();
        let b = fingerprint(&article("https://b.example/y", rewrite)).signature.unwrap();
        let (copy, j) = is_near_copy(&a, &b);
        assert!(!copy, "jaccard {j}");
    }

    /// The article every store test stores, under an address with tracking parameters.
    fn stored() -> Fingerprint {
        fingerprint(&article("https://www.example.org/story?utm_source=rss", SEED))
    }

    /// Each layer recognises what it should of [`stored`], and only that.
    #[track_caller]
    fn check_layers(index: &DedupIndex) {
        let fp = stored();
        let layer = |url: &str, text: &str| {
            index.lookup(&fingerprint(&article(url, text))).unwrap().map(|s| (s.layer, s.of))
        };
        assert_eq!(layer("https://www.example.org/story?utm_source=rss", "x"), Some((Layer::Item, fp.id)));
        assert_eq!(layer("https://m.example.org/story/", "x"), Some((Layer::Url, fp.id)));
        assert_eq!(layer("https://other.example/a", &SEED.to_uppercase()), Some((Layer::Hash, fp.id)));
        let copy = format!("An introduction of a few words here. {SEED} And a footer.");
        assert_eq!(layer("https://other.example/b", &copy), Some((Layer::NearCopy, fp.id)));
        assert_eq!(layer("https://other.example/c", "Something else entirely, unrelated."), None);
        let seen = index.known_link(&url::Url::parse("https://example.org/story/amp").unwrap()).unwrap();
        assert_eq!(seen.map(|s| (s.layer, s.of)), Some((Layer::Url, fp.id)));
    }

    #[test]
    fn the_layers_find_an_article_in_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        let index = DedupIndex::open(&store).unwrap();
        let trees: Vec<sled::Tree> = index.trees().iter().map(|t| (*t).clone()).collect();
        use sled::Transactional;
        trees.as_slice().transaction(|txs| insert_in(txs, &stored())).unwrap();
        check_layers(&index);
        let mut linkless = article("https://example.org/feed.xml#item-1", "Some text of the first item.");
        linkless.feed = Some("https://example.org/feed.xml".into());
        assert_eq!(fingerprint(&linkless).url_key, None, "a link-less item must not claim the feed's URL");
    }

    #[test]
    fn a_bulk_load_finds_the_same_as_the_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        let index = DedupIndex::open(&store).unwrap();
        let mut load = BulkLoad::default();
        load.add(&stored());
        load.write(&index).unwrap();
        check_layers(&index);
    }

    #[test]
    fn a_band_value_shared_by_many_articles_keeps_the_first_ones() {
        let entry = |value: u8, id: u8| {
            let mut e = [0u8; 12];
            e[0] = value;
            e[11] = id;
            e
        };
        let mut bucket: Option<Vec<u8>> = None;
        for id in 0..40 {
            if let Some(b) = add_to_bucket(bucket.as_deref(), &[entry(1, id)]) {
                bucket = Some(b);
            }
        }
        let bucket = bucket.unwrap();
        assert_eq!(bucket.len(), 12 * MAX_PER_BAND_VALUE);
        assert_eq!(add_to_bucket(Some(&bucket), &[entry(1, 0)]), None, "an entry already there");
        let other = add_to_bucket(Some(&bucket), &[entry(2, 0)]).expect("another band value has room");
        assert_eq!(&other[bucket.len()..], &entry(2, 0));
    }

    #[test]
    fn a_schema_1_store_is_upgraded_and_finds_its_articles() {
        use crate::store::{meta_keys, records};
        let dir = tempfile::tempdir().unwrap();
        {
            // The schema-1 layout, as that build wrote it.
            let store = Store::open(dir.path(), 1 << 20).unwrap();
            let tree = |name| store.tree(name).unwrap();
            let fp = stored();
            let id = fp.id.to_bytes();
            tree(trees::v1::ITEMS).insert(fp.item_key.as_bytes(), &id).unwrap();
            tree(trees::v1::URLS).insert(fp.url_key.as_deref().unwrap().as_bytes(), &id).unwrap();
            tree(trees::CONTENT_HASHES).insert(fp.content_hash, &id).unwrap();
            let sig = fp.signature.unwrap();
            let mut v1 = sig.shingles.to_be_bytes().to_vec();
            for m in sig.mins {
                v1.extend_from_slice(&((u32::from(m) << 16) | 0xbeef).to_be_bytes());
            }
            tree(trees::v1::SIGNATURES).insert(id, v1).unwrap();
            let mut band = [0u8; 17];
            band[9..].copy_from_slice(&id);
            tree(trees::v1::LSH).insert(band, &[]).unwrap();
            tree(trees::META).insert(meta_keys::SCHEMA_VERSION, &1u32.to_be_bytes()).unwrap();
            store.flush().unwrap();
        }
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        let version = store.tree(trees::META).unwrap().get(meta_keys::SCHEMA_VERSION).unwrap().unwrap();
        assert_eq!(records::decode_u32(&version), Some(records::SCHEMA_VERSION));
        let names = store.db().tree_names();
        for old in trees::v1::ALL {
            assert!(!names.iter().any(|n| n == old.as_bytes()), "{old} is dropped");
        }
        check_layers(&DedupIndex::open(&store).unwrap());
    }
}
