//! The outbox: alerts waiting for delivery, one entry per alert per configured sink, written in
//! the same transaction as the article that produced them and removed only once the sink has the
//! alert durably. Keys are `[sink][sequence]`, so each sink drains its own entries in the order
//! they were committed.

use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionalTree};

use crate::model::Alert;
use crate::store::{records, trees, Store, StoreError};

/// The sinks an alert can wait for; the byte is the first byte of the outbox key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SinkKind {
    Log = 1,
    Jsonl = 2,
    Webhook = 3,
}

impl SinkKind {
    pub const ALL: [SinkKind; 3] = [SinkKind::Log, SinkKind::Jsonl, SinkKind::Webhook];

    pub fn as_str(self) -> &'static str {
        match self {
            SinkKind::Log => "log",
            SinkKind::Jsonl => "jsonl",
            SinkKind::Webhook => "webhook",
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
    pub key: [u8; 9],
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
        outbox.insert(&key(*sink, seq), value.as_slice())?;
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

fn key(sink: SinkKind, seq: u64) -> [u8; 9] {
    let mut key = [0u8; 9];
    key[0] = sink as u8;
    key[1..].copy_from_slice(&seq.to_be_bytes());
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
        for entry in self.tree.scan_prefix([sink as u8]) {
            if out.len() >= limit {
                break;
            }
            let (k, v) = entry?;
            let Ok(key) = <[u8; 9]>::try_from(k.as_ref()) else { continue };
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
            batch.remove(&pending.key);
        }
        self.tree.apply_batch(batch)?;
        self.tree.flush_async().await?;
        crate::metrics::outbox_depth(self.tree.len() as i64);
        Ok(())
    }

    /// Entries waiting for `sink`.
    pub fn waiting(&self, sink: SinkKind) -> usize {
        self.tree.scan_prefix([sink as u8]).keys().count()
    }

    /// Entries waiting, over all sinks.
    pub fn len(&self) -> usize {
        self.tree.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tree.is_empty()
    }
}
