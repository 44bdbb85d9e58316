//! Prometheus metrics (`claimwatch_*`), one registry for the process. Stages count through the
//! small functions here rather than touching metric types, so names and labels are defined in
//! one place. Exposed by the HTTP endpoint as Prometheus text.

use std::sync::LazyLock;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, String)>;

struct Metrics {
    registry: Registry,
    fetches: Family<Labels, Counter>,
    articles: Family<Labels, Counter>,
    dedup_hits: Family<Labels, Counter>,
    claims: Family<Labels, Counter>,
    alerts: Family<Labels, Counter>,
    feeds: Family<Labels, Gauge>,
    outbox_depth: Gauge,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let mut registry = Registry::with_prefix("claimwatch");
    let m = Metrics {
        registry: Registry::default(),
        fetches: Family::default(),
        articles: Family::default(),
        dedup_hits: Family::default(),
        claims: Family::default(),
        alerts: Family::default(),
        feeds: Family::default(),
        outbox_depth: Gauge::default(),
    };
    registry.register("fetches", "HTTP fetches by kind and outcome", m.fetches.clone());
    registry.register("articles", "Processed articles by verdict", m.articles.clone());
    registry.register("dedup_hits", "Articles recognised as seen, by dedup layer", m.dedup_hits.clone());
    registry.register("claims", "Judged claims by verdict", m.claims.clone());
    registry.register("alerts", "Alert deliveries by sink and outcome", m.alerts.clone());
    registry.register("feeds", "Feeds by state", m.feeds.clone());
    registry.register("outbox_depth", "Alerts waiting for delivery", m.outbox_depth.clone());
    Metrics { registry, ..m }
});

/// One fetch of `kind` ("feed" or "page") ended with `outcome` ("ok", "not_modified", or an
/// error class).
pub fn fetch(kind: &'static str, outcome: &str) {
    METRICS.fetches.get_or_create(&vec![("kind", kind.to_string()), ("outcome", outcome.to_string())]).inc();
}

/// One article got `verdict`.
pub fn article(verdict: &str) {
    METRICS.articles.get_or_create(&vec![("verdict", verdict.to_string())]).inc();
}

/// One article was recognised by dedup `layer` (item, url, hash, near_copy, story).
pub fn dedup_hit(layer: &str) {
    METRICS.dedup_hits.get_or_create(&vec![("layer", layer.to_string())]).inc();
}

/// `n` claims got `verdict` ("new" or "known").
pub fn claims(verdict: &str, n: u64) {
    METRICS.claims.get_or_create(&vec![("verdict", verdict.to_string())]).inc_by(n);
}

/// One alert delivery to `sink` ended with `outcome` ("delivered", "failed", "gave_up").
pub fn alert(sink: &str, outcome: &str) {
    METRICS.alerts.get_or_create(&vec![("sink", sink.to_string()), ("outcome", outcome.to_string())]).inc();
}

/// How many feeds are in `state` ("ok", "backing_off", "failing").
pub fn feeds_in_state(state: &str, n: i64) {
    METRICS.feeds.get_or_create(&vec![("state", state.to_string())]).set(n);
}

pub fn outbox_depth(n: i64) {
    METRICS.outbox_depth.set(n);
}

/// Every metric in Prometheus text format.
pub fn render() -> String {
    let mut out = String::new();
    encode(&mut out, &METRICS.registry).expect("writing to a String cannot fail");
    out
}
