//! claimwatch: watch news feeds on a topic, keep what is on topic, and alert on every claim that
//! the store has not seen before, in any language.
//!
//! Layout, in the order the data flows:
//! feed → fetch → parse → extract → normalize → topic → dedup → claims → store → alert

/// The admin API: commands reach the running daemon over a unix socket (JSON lines).
pub mod admin;
/// Alert delivery: the outbox drain and its sinks (log, JSONL, webhook, push channels).
pub mod alert;
/// Bytes → UTF-8: BOM, header, in-document declaration, validation, detection.
pub mod charset;
/// Claim engine: sentences → claims with features → known | new against the store.
pub mod claims;
/// The commands (the edge, above every stage): thin clients of the store or the running daemon.
pub mod cmd;
/// Configuration: raw serde layers → validated `Config` of real types.
pub mod config;
/// The daemon's lifecycle: named tasks, signals, graceful stop.
pub mod daemon;
/// Article dedup in layers: item, canonical URL, content hash, near-verbatim copy (MinHash/LSH).
pub mod dedup;
/// Page HTML → article text and metadata (pure, no I/O).
pub mod extract;
/// Subscriptions, per-feed state and the pure scheduler.
pub mod feeds;
/// Polite HTTP (and local files): limits, timeouts, caps, private networks refused.
pub mod fetch;
/// Shared health (store answers, scheduler progress) for /readyz and the systemd watchdog.
pub mod health;
/// One article in, one transaction out: dedup → judge → commit → wake the alert drains.
pub mod ingest;
/// The claim ledger page, `/api/claims`, `/api/feeds` and `/claims.atom` (pure rendering).
pub mod ledger;
/// Prometheus metrics shared by every stage.
pub mod metrics;
/// Plain data passed between stages; no I/O.
pub mod model;
/// Text normalisation and language identification.
pub mod normalize;
/// Feed bytes → items with our own deterministic keys (feed-rs, repaired, panics contained).
pub mod parse;
/// The per-feed flow, top to bottom: fetch → parse → page → extract → process.
pub mod pipeline;
/// Claim provenance (first seen, sources, languages) and the `claims` command.
pub mod provenance;
/// Seed articles read from a directory of `.txt` / `.html` / `.md` files.
pub mod seeds;
/// The HTTP endpoint: /healthz, /readyz, /metrics and the read-only claim ledger.
pub mod server;
/// The sled store: named trees, versioned records, one commit per article.
pub mod store;
/// Named long-lived tasks under one cancellation token (the daemon's and the alert drains').
pub mod tasks;
/// tracing subscriber (human or JSON lines).
pub mod telemetry;
/// Topic relevance from a data profile in config/topics/.
pub mod topic;
