//! Prometheus metrics (`claimwatch_*`), one registry for the process. Stages count through the
//! small functions here rather than touching metric types, so names, labels and help texts are
//! defined in one place. The HTTP endpoint (`server`) serves [`render`] as Prometheus text; the
//! Grafana dashboard in `deploy/grafana-dashboard.json` reads exactly these names.
//!
//! Trade-off: label values are free strings (feed state, verdict, sink, error class) so stages can
//! add a value without touching this file; callers must keep them to a small closed set, never a
//! URL or an error message, or the series count grows without bound.

use std::sync::LazyLock;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};

type Labels = Vec<(&'static str, String)>;
type HistogramFamily = Family<Labels, Histogram, fn() -> Histogram>;

struct Metrics {
    registry: Registry,
    fetches: Family<Labels, Counter>,
    fetch_duration: HistogramFamily,
    feeds: Family<Labels, Gauge>,
    feeds_total: Gauge,
    articles: Family<Labels, Counter>,
    dedup_hits: Family<Labels, Counter>,
    claims: Family<Labels, Counter>,
    alerts: Family<Labels, Counter>,
    alerts_pending: Family<Labels, Gauge>,
    outbox_depth: Gauge,
    store_size: Gauge,
    claim_index_claims: Gauge,
    claim_index_bytes: Gauge,
    cycles: Counter,
    last_cycle: Gauge,
    feeds_due: Gauge,
    reloads: Family<Labels, Counter>,
    store_recoveries: Counter,
    http_refused: Family<Labels, Counter>,
    http_auth_failures: Counter,
    admin_refused: Family<Labels, Counter>,
    build_info: Family<Labels, Gauge>,
}

fn fetch_duration_histogram() -> Histogram {
    // 50 ms … ~51 s: a fast 304 up to a request that ran into the 30 s default timeout.
    Histogram::new(exponential_buckets(0.05, 2.0, 11))
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let mut registry = Registry::with_prefix("claimwatch");
    let m = Metrics {
        registry: Registry::default(),
        fetches: Family::default(),
        fetch_duration: Family::new_with_constructor(fetch_duration_histogram as fn() -> Histogram),
        feeds: Family::default(),
        feeds_total: Gauge::default(),
        articles: Family::default(),
        dedup_hits: Family::default(),
        claims: Family::default(),
        alerts: Family::default(),
        alerts_pending: Family::default(),
        outbox_depth: Gauge::default(),
        store_size: Gauge::default(),
        claim_index_claims: Gauge::default(),
        claim_index_bytes: Gauge::default(),
        cycles: Counter::default(),
        last_cycle: Gauge::default(),
        feeds_due: Gauge::default(),
        reloads: Family::default(),
        store_recoveries: Counter::default(),
        http_refused: Family::default(),
        http_auth_failures: Counter::default(),
        admin_refused: Family::default(),
        build_info: Family::default(),
    };
    let r = &mut registry;
    r.register("fetches", "HTTP fetches by kind (feed, page) and outcome", m.fetches.clone());
    r.register_with_unit(
        "fetch_duration",
        "Time from sending a request to the end of its body, by kind",
        Unit::Seconds,
        m.fetch_duration.clone(),
    );
    r.register("feeds", "Feeds by state (ok, failing, backing_off)", m.feeds.clone());
    r.register("feeds_configured", "Feeds subscribed (config and state dir)", m.feeds_total.clone());
    r.register("articles", "Processed articles by verdict", m.articles.clone());
    r.register("dedup_hits", "Articles recognised as seen, by dedup layer", m.dedup_hits.clone());
    r.register("claims", "Judged claims by verdict (new, known)", m.claims.clone());
    r.register(
        "alerts",
        "Alert deliveries by sink and outcome (delivered, failed, gave_up)",
        m.alerts.clone(),
    );
    r.register("alerts_pending", "Alerts waiting for delivery, by sink", m.alerts_pending.clone());
    r.register("outbox_depth", "Alerts in the outbox, all sinks", m.outbox_depth.clone());
    r.register_with_unit(
        "store_size",
        "Bytes the sled store takes on disk",
        Unit::Bytes,
        m.store_size.clone(),
    );
    r.register(
        "claim_index_claims",
        "Stored claims in the in-memory claim index",
        m.claim_index_claims.clone(),
    );
    r.register_with_unit(
        "claim_index_memory",
        "Estimated heap bytes of the in-memory claim index",
        Unit::Bytes,
        m.claim_index_bytes.clone(),
    );
    r.register("poll_cycles", "Completed scheduler cycles", m.cycles.clone());
    r.register_with_unit(
        "last_cycle_timestamp",
        "Unix time of the last completed scheduler cycle",
        Unit::Seconds,
        m.last_cycle.clone(),
    );
    r.register("feeds_due", "Feeds due for a fetch at the last scheduler cycle", m.feeds_due.clone());
    r.register("config_reloads", "SIGHUP reloads by outcome (applied, rejected)", m.reloads.clone());
    r.register(
        "store_recoveries",
        "Corrupt stores moved aside and replaced by a fresh one",
        m.store_recoveries.clone(),
    );
    r.register(
        "http_refused",
        "HTTP connections and requests cut off or refused by the listener's limits, by reason",
        m.http_refused.clone(),
    );
    r.register(
        "http_auth_failures",
        "HTTP requests with missing or wrong credentials",
        m.http_auth_failures.clone(),
    );
    r.register(
        "admin_refused",
        "Admin socket requests refused (timeout, too_large, bad_request)",
        m.admin_refused.clone(),
    );
    r.register("build_info", "Always 1; the version is a label", m.build_info.clone());
    m.build_info.get_or_create(&vec![("version", env!("CARGO_PKG_VERSION").to_string())]).set(1);
    Metrics { registry, ..m }
});

fn labels(pairs: &[(&'static str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
}

/// One fetch of `kind` ("feed" or "page") ended with `outcome` ("ok", "not_modified", or an
/// error class).
pub fn fetch(kind: &'static str, outcome: &str) {
    METRICS.fetches.get_or_create(&labels(&[("kind", kind), ("outcome", outcome)])).inc();
}

/// One fetch of `kind` took `elapsed` (whatever its outcome).
pub fn fetch_duration(kind: &'static str, elapsed: Duration) {
    METRICS.fetch_duration.get_or_create(&labels(&[("kind", kind)])).observe(elapsed.as_secs_f64());
}

/// One article got `verdict`.
pub fn article(verdict: &str) {
    METRICS.articles.get_or_create(&labels(&[("verdict", verdict)])).inc();
}

/// One article was recognised by dedup `layer` (item, url, hash, near_copy, story).
pub fn dedup_hit(layer: &str) {
    METRICS.dedup_hits.get_or_create(&labels(&[("layer", layer)])).inc();
}

/// `n` claims got `verdict` ("new" or "known").
pub fn claims(verdict: &str, n: u64) {
    METRICS.claims.get_or_create(&labels(&[("verdict", verdict)])).inc_by(n);
}

/// One alert delivery to `sink` ended with `outcome` ("delivered", "failed", "gave_up").
pub fn alert(sink: &str, outcome: &str) {
    METRICS.alerts.get_or_create(&labels(&[("sink", sink), ("outcome", outcome)])).inc();
}

/// `n` alerts are waiting for delivery to `sink`.
pub fn alerts_pending(sink: &str, n: i64) {
    METRICS.alerts_pending.get_or_create(&labels(&[("sink", sink)])).set(n);
}

/// How many feeds are in `state` ("ok", "backing_off", "failing").
pub fn feeds_in_state(state: &str, n: i64) {
    METRICS.feeds.get_or_create(&labels(&[("state", state)])).set(n);
}

/// How many feeds are subscribed in all.
pub fn feeds_total(n: i64) {
    METRICS.feeds_total.set(n);
}

/// Alerts in the outbox over all sinks.
pub fn outbox_depth(n: i64) {
    METRICS.outbox_depth.set(n);
}

/// Bytes the store takes on disk.
pub fn store_size(bytes: u64) {
    METRICS.store_size.set(i64::try_from(bytes).unwrap_or(i64::MAX));
}

/// The in-memory claim index holds `claims` claims in about `bytes` bytes of heap.
pub fn claim_index(claims: usize, bytes: usize) {
    METRICS.claim_index_claims.set(claims as i64);
    METRICS.claim_index_bytes.set(bytes as i64);
}

/// The scheduler finished a cycle in which `feeds_due` feeds were due.
pub fn poll_cycle(feeds_due: usize) {
    METRICS.cycles.inc();
    METRICS.feeds_due.set(feeds_due as i64);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    METRICS.last_cycle.set(now.as_secs() as i64);
}

/// Creates the counters of every known label value at 0, so that they exist from start-up
/// (Prometheus: a series that appears only on its first event hides that first event from
/// `rate()`): alerts of each configured sink by outcome, reloads by outcome.
pub fn known_labels(sinks: &[String]) {
    for sink in sinks {
        for outcome in ["delivered", "failed", "gave_up", "retry"] {
            let _ = METRICS.alerts.get_or_create(&labels(&[("sink", sink), ("outcome", outcome)]));
        }
    }
    for outcome in ["applied", "rejected"] {
        let _ = METRICS.reloads.get_or_create(&labels(&[("outcome", outcome)]));
    }
}

/// A SIGHUP reload ended with `outcome` ("applied" or "rejected").
pub fn config_reload(outcome: &str) {
    METRICS.reloads.get_or_create(&labels(&[("outcome", outcome)])).inc();
}

/// The HTTP listener cut off or refused a connection or request for `reason` (a closed set:
/// `server::Refusal::label`).
pub fn http_refused(reason: &'static str) {
    METRICS.http_refused.get_or_create(&labels(&[("reason", reason)])).inc();
}

/// Creates the refusal counter of `reason` at 0 (see [`known_labels`]).
pub fn http_refused_known(reason: &'static str) {
    let _ = METRICS.http_refused.get_or_create(&labels(&[("reason", reason)]));
}

/// A request to the HTTP listener came without the right credentials.
pub fn http_auth_failure() {
    METRICS.http_auth_failures.inc();
}

/// The admin socket refused a request for `reason` ("timeout", "too_large", "bad_request").
pub fn admin_refused(reason: &'static str) {
    METRICS.admin_refused.get_or_create(&labels(&[("reason", reason)])).inc();
}

/// A corrupt store was moved aside.
pub fn store_recovered() {
    METRICS.store_recoveries.inc();
}

/// Every metric in Prometheus text format.
pub fn render() -> String {
    let mut out = String::new();
    encode(&mut out, &METRICS.registry).expect("writing to a String cannot fail");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_issue_metric_is_rendered_with_the_claimwatch_prefix() {
        fetch("feed", "ok");
        fetch_duration("feed", Duration::from_millis(120));
        feeds_total(3);
        feeds_in_state("failing", 1);
        article("new_story");
        dedup_hit("url");
        claims("new", 2);
        alert("jsonl", "delivered");
        alerts_pending("jsonl", 0);
        outbox_depth(0);
        store_size(4096);
        poll_cycle(2);
        let text = render();
        // Names and labels only: other tests in this process count too, so values vary.
        for name in [
            "claimwatch_fetches_total{kind=\"feed\",outcome=\"ok\"} ",
            "claimwatch_fetch_duration_seconds_bucket{le=\"0.2\",kind=\"feed\"} ",
            "claimwatch_fetch_duration_seconds_count{kind=\"feed\"} ",
            "claimwatch_feeds_configured ",
            "claimwatch_feeds{state=\"failing\"} ",
            "claimwatch_articles_total{verdict=\"new_story\"} ",
            "claimwatch_dedup_hits_total{layer=\"url\"} ",
            "claimwatch_claims_total{verdict=\"new\"} ",
            "claimwatch_alerts_total{sink=\"jsonl\",outcome=\"delivered\"} ",
            "claimwatch_alerts_pending{sink=\"jsonl\"} ",
            "claimwatch_outbox_depth ",
            "claimwatch_store_size_bytes ",
            "claimwatch_poll_cycles_total ",
            "claimwatch_last_cycle_timestamp_seconds ",
            "claimwatch_feeds_due ",
            "claimwatch_build_info{version=",
        ] {
            assert!(text.contains(name), "{name} missing from:\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn counters_exist_at_zero_for_their_known_labels_from_start_up() {
        known_labels(&["zero-sink".to_string()]);
        let text = render();
        for outcome in ["delivered", "failed", "gave_up", "retry"] {
            let series = format!("claimwatch_alerts_total{{sink=\"zero-sink\",outcome=\"{outcome}\"}} 0");
            assert!(text.contains(&series), "{series} missing from:\n{text}");
        }
        for outcome in ["applied", "rejected"] {
            assert!(
                text.contains(&format!("claimwatch_config_reloads_total{{outcome=\"{outcome}\"}}")),
                "{text}"
            );
        }
    }

    #[test]
    fn the_grafana_dashboard_only_queries_metrics_that_exist() {
        config_reload("applied");
        store_recovered();
        every_issue_metric_is_rendered_with_the_claimwatch_prefix();
        let text = render();
        let dashboard = include_str!("../deploy/grafana-dashboard.json");
        let mut checked = 0;
        for (i, _) in dashboard.match_indices("claimwatch_") {
            let name: String = dashboard[i..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_' || c.is_ascii_digit())
                .collect();
            assert!(
                text.contains(&format!("\n{name}")),
                "the dashboard queries {name}, which does not exist"
            );
            checked += 1;
        }
        assert!(checked > 15, "only {checked} metric references found");
    }
}
