//! The outbox: alerts waiting for delivery, one entry per alert per configured sink, written in
//! the same transaction as the article that produced them and removed only once the sink has the
//! alert durably. Keys are `[sink][sequence]` (a push channel's sink part is its byte and its
//! 8-byte [`ChannelId`]), so each sink drains its own entries in the order they were committed.

use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionalTree};

use crate::model::Alert;
use crate::store::{records, trees, Store, StoreError};

/// The sinks an alert can wait for; [`SinkKind::prefix`] starts its outbox keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SinkKind {
    Log,
    Jsonl,
    Webhook,
    /// One `[[alerts.channels]]` entry: each channel has its own queue.
    Channel(ChannelId),
}

/// A push channel's queue: the first 8 bytes of SHA-256 of its `name`, or of its URL when it has
/// no name (so renaming a channel, or changing the URL of an unnamed one, starts a new queue and
/// the old one's entries wait, reported, until it is configured again).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChannelId(pub [u8; 8]);

impl ChannelId {
    pub fn of(name_or_url: &str) -> ChannelId {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(name_or_url.as_bytes());
        ChannelId(digest[..8].try_into().expect("8 bytes"))
    }
}

const CHANNEL_BYTE: u8 = 4;

impl SinkKind {
    /// The sinks of fixed identity (channels are listed by [`Outbox::channels_waiting`]).
    pub const ALL: [SinkKind; 3] = [SinkKind::Log, SinkKind::Jsonl, SinkKind::Webhook];

    pub fn as_str(self) -> &'static str {
        match self {
            SinkKind::Log => "log",
            SinkKind::Jsonl => "jsonl",
            SinkKind::Webhook => "webhook",
            SinkKind::Channel(_) => "channel",
        }
    }

    /// The first bytes of this sink's outbox keys.
    fn prefix(self) -> Vec<u8> {
        match self {
            SinkKind::Log => vec![1],
            SinkKind::Jsonl => vec![2],
            SinkKind::Webhook => vec![3],
            SinkKind::Channel(ChannelId(id)) => {
                let mut prefix = vec![CHANNEL_BYTE];
                prefix.extend_from_slice(&id);
                prefix
            }
        }
    }

    /// The sinks the configuration enables.
    pub fn configured(config: &crate::config::AlertsConfig) -> Vec<SinkKind> {
        let mut sinks = Vec::new();
        if config.log {
            sinks.push(SinkKind::Log);
        }
        if config.jsonl.is_some() {
            sinks.push(SinkKind::Jsonl);
        }
        if config.webhook.is_some() {
            sinks.push(SinkKind::Webhook);
        }
        sinks.extend(config.channels.iter().map(|c| SinkKind::Channel(c.id)));
        sinks
    }
}

/// The stored form of one outbox entry. The alert is kept as its JSON record (the contract's
/// format), which is what every sink sends.
#[derive(Debug, Serialize, Deserialize)]
enum OutboxRecord {
    V1 { alert_json: String },
}

/// One alert waiting for one sink.
#[derive(Debug, Clone)]
pub struct Pending {
    pub key: Vec<u8>,
    pub alert: Alert,
    /// The alert as its JSON line (no newline).
    pub json: String,
}

/// Adds one entry per sink for `alert` inside the caller's transaction; `seq` must be unique
/// (from [`Store::db`]`.generate_id()`), and grows with commit order.
pub fn enqueue_in(
    outbox: &TransactionalTree,
    sinks: &[SinkKind],
    seq: u64,
    alert: &Alert,
) -> Result<(), ConflictableTransactionError<StoreError>> {
    let alert_json = serde_json::to_string(alert).expect("alerts serialize");
    let value = records::encode(&OutboxRecord::V1 { alert_json });
    for sink in sinks {
        outbox.insert(key(*sink, seq), value.as_slice())?;
    }
    Ok(())
}

/// Enqueues `alert` for `sinks` in a transaction of its own, and flushes (tools and tests).
pub fn enqueue(store: &Store, sinks: &[SinkKind], alert: &Alert) -> Result<(), StoreError> {
    let tree = store.tree(trees::OUTBOX)?;
    let seq = store.db().generate_id()?;
    tree.transaction(|tx| enqueue_in(tx, sinks, seq, alert)).map_err(|e| match e {
        sled::transaction::TransactionError::Abort(e) => e,
        sled::transaction::TransactionError::Storage(e) => StoreError::Sled(e),
    })?;
    store.flush()
}

fn key(sink: SinkKind, seq: u64) -> Vec<u8> {
    let mut key = sink.prefix();
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

/// The outbox tree, for the drain tasks.
#[derive(Clone)]
pub struct Outbox {
    tree: sled::Tree,
}

impl Outbox {
    pub fn open(store: &Store) -> Result<Outbox, StoreError> {
        Ok(Outbox { tree: store.tree(trees::OUTBOX)? })
    }

    /// Up to `limit` entries waiting for `sink`, oldest first. An entry that cannot be decoded
    /// is logged and removed: it would otherwise block the sink forever.
    pub fn pending(&self, sink: SinkKind, limit: usize) -> Result<Vec<Pending>, StoreError> {
        let mut out = Vec::new();
        let prefix = sink.prefix();
        for entry in self.tree.scan_prefix(&prefix) {
            if out.len() >= limit {
                break;
            }
            let (k, v) = entry?;
            if k.len() != prefix.len() + 8 {
                continue;
            }
            let key = k.to_vec();
            let decoded = records::decode::<OutboxRecord>("outbox entry", &v).and_then(
                |OutboxRecord::V1 { alert_json }| {
                    serde_json::from_str::<Alert>(&alert_json).map(|alert| (alert, alert_json)).map_err(|e| {
                        StoreError::Corrupt { what: "outbox alert".into(), reason: e.to_string() }
                    })
                },
            );
            match decoded {
                Ok((alert, json)) => out.push(Pending { key, alert, json }),
                Err(error) => {
                    tracing::error!(sink = sink.as_str(), %error, "dropping an undecodable outbox entry");
                    self.tree.remove(k)?;
                }
            }
        }
        Ok(out)
    }

    /// Removes delivered entries and makes the removal durable.
    pub async fn remove(&self, done: &[Pending]) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for pending in done {
            batch.remove(pending.key.as_slice());
        }
        self.tree.apply_batch(batch)?;
        self.tree.flush_async().await?;
        crate::metrics::outbox_depth(self.tree.len() as i64);
        Ok(())
    }

    /// Entries waiting for `sink`.
    pub fn waiting(&self, sink: SinkKind) -> usize {
        self.tree.scan_prefix(sink.prefix()).keys().count()
    }

    /// The channels with entries waiting, and how many: one seek per channel, not a full scan.
    pub fn channels_waiting(&self) -> Vec<(ChannelId, usize)> {
        let mut out = Vec::new();
        let mut from = vec![CHANNEL_BYTE];
        while let Some(Ok((k, _))) = self.tree.range(from.clone()..).next() {
            let Some(id) = k.get(1..9).filter(|_| k[0] == CHANNEL_BYTE) else { break };
            let id = ChannelId(id.try_into().expect("8 bytes"));
            out.push((id, self.waiting(SinkKind::Channel(id))));
            // The first key after every key of this channel.
            from = SinkKind::Channel(id).prefix();
            from.extend_from_slice(&[0xff; 9]);
        }
        out
    }

    /// Entries waiting, over all sinks.
    pub fn len(&self) -> usize {
        self.tree.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tree.is_empty()
    }
}
