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
//! This module computes fingerprints (pure) and reads and writes the fingerprint trees; writes
//! happen only inside the caller's per-article transaction. It deliberately does not judge
//! claims. Trade-off: the near-copy test measures word overlap, so a rewrite of the same facts
//! by another outlet (different words) is not a copy, while a reprint with a new intro and footer
//! is; the threshold below is set from the labelled syndicated cases.

use sha2::{Digest, Sha256};
use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use unicode_normalization::UnicodeNormalization;

use crate::model::Article;
use crate::store::{trees, Store, StoreError};

/// Number of MinHash functions; a signature is `NUM_HASHES` u32 values.
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

/// Our id of a stored article: the first 8 bytes of the SHA-256 of its item key, so that a crash
/// before the commit gives the article the same id when it is processed again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ArticleId(pub u64);

impl ArticleId {
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

/// A MinHash signature with the size of the shingle set it summarises.
#[derive(Debug, Clone, PartialEq)]
pub struct Signature {
    pub mins: Vec<u32>,
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
    let words = words(&article.text[..end]);
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
    let id = ArticleId(u64::from_be_bytes(Sha256::digest(item_key.as_bytes())[..8].try_into().expect("8")));
    Fingerprint { id, item_key, url_key, content_hash, signature: signature(&words) }
}

/// The normalised words of a text: NFKC, lower case, Romanian cedilla letters folded to commas,
/// apostrophes dropped, everything that is not a letter or digit a separator.
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    for c in text.nfkc().flat_map(char::to_lowercase) {
        let c = match c {
            'ş' => 'ș',
            'ţ' => 'ț',
            other => other,
        };
        if c.is_alphanumeric() {
            word.push(c);
        } else if matches!(c, '\'' | '’' | 'ʼ' | '`') {
            continue;
        } else if !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// The MinHash signature of a word sequence's shingles; none below [`MIN_SHINGLES`].
pub fn signature(words: &[String]) -> Option<Signature> {
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
                for b in word.as_bytes() {
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
    let mut mins = vec![u32::MAX; NUM_HASHES];
    for h in &hashes {
        let h1 = splitmix(*h);
        let h2 = splitmix(h1) | 1;
        let mut v = h1;
        for min in mins.iter_mut() {
            let top = (v >> 32) as u32;
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

/// The key of one LSH band of a signature: band number, then a hash of its rows.
fn band_keys(sig: &Signature) -> impl Iterator<Item = [u8; 9]> + '_ {
    sig.mins.chunks(ROWS).enumerate().map(|(band, rows)| {
        let mut h = 0u64;
        for r in rows {
            h = splitmix(h ^ u64::from(*r));
        }
        let mut key = [0u8; 9];
        key[0] = band as u8;
        key[1..].copy_from_slice(&h.to_be_bytes());
        key
    })
}

fn encode_signature(sig: &Signature) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + 4 * sig.mins.len());
    out.extend_from_slice(&sig.shingles.to_be_bytes());
    for m in &sig.mins {
        out.extend_from_slice(&m.to_be_bytes());
    }
    out
}

fn decode_signature(bytes: &[u8]) -> Option<Signature> {
    if bytes.len() != 4 + 4 * NUM_HASHES {
        return None;
    }
    let mut values = bytes.chunks_exact(4).map(|c| u32::from_be_bytes(c.try_into().expect("4 bytes")));
    let shingles = values.next()?;
    Some(Signature { mins: values.collect(), shingles })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Read side of the fingerprint trees.
#[derive(Clone)]
pub struct DedupIndex {
    items: sled::Tree,
    urls: sled::Tree,
    hashes: sled::Tree,
    signatures: sled::Tree,
    lsh: sled::Tree,
}

impl DedupIndex {
    pub fn open(store: &Store) -> Result<DedupIndex, StoreError> {
        Ok(DedupIndex {
            items: store.tree(trees::ITEMS)?,
            urls: store.tree(trees::URLS)?,
            hashes: store.tree(trees::CONTENT_HASHES)?,
            signatures: store.tree(trees::SIGNATURES)?,
            lsh: store.tree(trees::LSH)?,
        })
    }

    /// Whether a feed link is already known (item or canonical URL), so that its page need not
    /// be fetched again.
    pub fn known_link(&self, link: &url::Url) -> Result<Option<Seen>, StoreError> {
        if let Some(id) = self.items.get(link.as_str().as_bytes())? {
            return Ok(Some(exact(Layer::Item, &id)));
        }
        if let Some(id) = self.urls.get(crate::normalize::url::key(link).as_bytes())? {
            return Ok(Some(exact(Layer::Url, &id)));
        }
        Ok(None)
    }

    /// The first layer that recognises the fingerprint, if any.
    pub fn lookup(&self, fp: &Fingerprint) -> Result<Option<Seen>, StoreError> {
        if let Some(id) = self.items.get(fp.item_key.as_bytes())? {
            return Ok(Some(exact(Layer::Item, &id)));
        }
        if let Some(key) = &fp.url_key {
            if let Some(id) = self.urls.get(key.as_bytes())? {
                return Ok(Some(exact(Layer::Url, &id)));
            }
        }
        if let Some(id) = self.hashes.get(fp.content_hash)? {
            return Ok(Some(exact(Layer::Hash, &id)));
        }
        match &fp.signature {
            Some(sig) => self.near_copy(sig),
            None => Ok(None),
        }
    }

    /// The most similar stored article that is a near-verbatim copy of `sig`, found through the
    /// LSH bands and confirmed by the signatures.
    pub fn near_copy(&self, sig: &Signature) -> Result<Option<Seen>, StoreError> {
        let mut candidates: Vec<u64> = Vec::new();
        for key in band_keys(sig) {
            for entry in self.lsh.scan_prefix(key) {
                let (k, _) = entry?;
                if let Some(id) = ArticleId::from_bytes(&k[9..]) {
                    candidates.push(id.0);
                }
                if candidates.len() > 4096 {
                    break; // a degenerate band (boilerplate shared by thousands of pages)
                }
            }
        }
        candidates.sort_unstable();
        candidates.dedup();
        let mut best: Option<Seen> = None;
        for id in candidates {
            let Some(bytes) = self.signatures.get(id.to_be_bytes())? else { continue };
            let Some(other) = decode_signature(&bytes) else { continue };
            let (copy, similarity) = is_near_copy(sig, &other);
            if copy && best.is_none_or(|b| similarity > b.similarity) {
                best = Some(Seen { layer: Layer::NearCopy, of: ArticleId(id), similarity });
            }
        }
        Ok(best)
    }

    /// The trees [`insert_in`] writes, in its order.
    pub fn trees(&self) -> [&sled::Tree; 5] {
        [&self.items, &self.urls, &self.hashes, &self.signatures, &self.lsh]
    }
}

fn exact(layer: Layer, id: &[u8]) -> Seen {
    Seen { layer, of: ArticleId::from_bytes(id).unwrap_or(ArticleId(0)), similarity: 1.0 }
}

/// Writes an article's fingerprint entries inside the caller's transaction; `txs` are the
/// transactional views of [`DedupIndex::trees`], in that order. Existing entries are kept, so an
/// address keeps pointing at the first article seen under it.
pub fn insert_in(
    txs: &[TransactionalTree],
    fp: &Fingerprint,
) -> Result<(), ConflictableTransactionError<StoreError>> {
    let [items, urls, hashes, signatures, lsh] = txs else {
        panic!("insert_in takes the five fingerprint trees");
    };
    let id = fp.id.to_bytes();
    if items.get(fp.item_key.as_bytes())?.is_none() {
        items.insert(fp.item_key.as_bytes(), &id)?;
    }
    if let Some(key) = &fp.url_key {
        if urls.get(key.as_bytes())?.is_none() {
            urls.insert(key.as_bytes(), &id)?;
        }
    }
    if hashes.get(fp.content_hash)?.is_none() {
        hashes.insert(&fp.content_hash, &id)?;
    }
    if let Some(sig) = &fp.signature {
        signatures.insert(&id, encode_signature(sig))?;
        for band in band_keys(sig) {
            let mut key = [0u8; 17];
            key[..9].copy_from_slice(&band);
            key[9..].copy_from_slice(&id);
            lsh.insert(&key, &[])?;
        }
    }
    Ok(())
}

/// Writes many fingerprints outside a transaction (bulk loads and benchmarks; not crash-atomic
/// per article, so never for live ingestion).
pub fn insert_batch(index: &DedupIndex, fps: &[Fingerprint]) -> Result<(), StoreError> {
    let (mut items, mut urls, mut hashes, mut sigs, mut lsh) = (
        sled::Batch::default(),
        sled::Batch::default(),
        sled::Batch::default(),
        sled::Batch::default(),
        sled::Batch::default(),
    );
    for fp in fps {
        let id = fp.id.to_bytes();
        items.insert(fp.item_key.as_bytes(), &id);
        if let Some(key) = &fp.url_key {
            urls.insert(key.as_bytes(), &id);
        }
        hashes.insert(&fp.content_hash, &id);
        if let Some(sig) = &fp.signature {
            sigs.insert(&id, encode_signature(sig));
            for band in band_keys(sig) {
                let mut key = [0u8; 17];
                key[..9].copy_from_slice(&band);
                key[9..].copy_from_slice(&id);
                lsh.insert(&key, &[]);
            }
        }
    }
    index.items.apply_batch(items)?;
    index.urls.apply_batch(urls)?;
    index.hashes.apply_batch(hashes)?;
    index.signatures.apply_batch(sigs)?;
    index.lsh.apply_batch(lsh)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn article(url: &str, text: &str) -> Article {
        Article {
            url: url::Url::parse(url).unwrap(),
            feed: None,
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

    #[test]
    fn the_layers_find_an_article_in_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        let index = DedupIndex::open(&store).unwrap();
        let fp = fingerprint(&article("https://www.example.org/story?utm_source=rss", SEED));
        let trees: Vec<sled::Tree> = index.trees().iter().map(|t| (*t).clone()).collect();
        use sled::Transactional;
        trees.as_slice().transaction(|txs| insert_in(txs, &fp)).unwrap();
        let layer =
            |url: &str, text: &str| index.lookup(&fingerprint(&article(url, text))).unwrap().map(|s| s.layer);
        assert_eq!(layer("https://www.example.org/story?utm_source=rss", "x"), Some(Layer::Item));
        assert_eq!(layer("https://m.example.org/story/", "x"), Some(Layer::Url));
        assert_eq!(layer("https://other.example/a", &SEED.to_uppercase()), Some(Layer::Hash));
        let copy = format!("An introduction of a few words here. {SEED} And a footer.");
        assert_eq!(layer("https://other.example/b", &copy), Some(Layer::NearCopy));
        assert_eq!(layer("https://other.example/c", "Something else entirely, unrelated."), None);
        let mut linkless = article("https://example.org/feed.xml#item-1", "Some text of the first item.");
        linkless.feed = Some("https://example.org/feed.xml".into());
        assert_eq!(fingerprint(&linkless).url_key, None, "a link-less item must not claim the feed's URL");
        let seen = index.known_link(&url::Url::parse("https://example.org/story/amp").unwrap()).unwrap();
        assert_eq!(seen.map(|s| (s.layer, s.of)), Some((Layer::Url, fp.id)));
    }
}
