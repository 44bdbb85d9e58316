//! Configuration, in two levels. Layers (embedded `config/default.toml` → optional
//! `/etc/claimwatch/claimwatch.toml` → `--config FILE` → `CLAIMWATCH__SECTION__KEY` environment
//! variables → `--state-dir`) merge into raw serde structs (`deny_unknown_fields`), which are then
//! validated into a [`Config`] of real types (`Duration`, `Url`, byte sizes, socket addresses).
//! Nothing downstream re-checks a value.
//!
//! Every problem is collected before start-up stops, each naming the key and the layer it came
//! from. Unknown keys are found by walking the merged tree against the embedded defaults, which
//! list every key: a typo'd key is an error, never silently ignored.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use config::{Environment, File, FileFormat, Value, ValueKind};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::alert::channels::Target;
use crate::alert::outbox::ChannelId;
use crate::model::Feed;

/// The embedded defaults: every key, commented.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");
/// The system-wide layer, read when it exists.
pub const SYSTEM_FILE: &str = "/etc/claimwatch/claimwatch.toml";
const ENV_PREFIX: &str = "CLAIMWATCH";
const DEFAULTS_ORIGIN: &str = "built-in defaults";
/// The keys one `[[feeds]]` entry may have.
const FEED_KEYS: &[&str] = &["url", "name", "lang", "min_interval", "max_interval", "body_selector"];
/// The keys one `[[alerts.channels]]` entry may have, and its `filter` table.
const CHANNEL_KEYS: &[&str] =
    &["url", "name", "digest_window", "timeout", "give_up_after", "min_backoff", "max_backoff", "filter"];
const FILTER_KEYS: &[&str] = &["langs", "entities", "keywords", "story", "min_sources"];

// ------------------------------------------------------------------------------------ raw level

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub state_dir: String,
    pub seeds_dir: String,
    pub topic: String,
    pub log: RawLog,
    pub store: RawStore,
    pub fetch: RawFetch,
    pub schedule: RawSchedule,
    pub extract: RawExtract,
    pub alerts: RawAlerts,
    pub server: RawServer,
    pub admin: RawAdmin,
    pub shutdown: RawShutdown,
    pub claims: RawClaims,
    #[serde(default)]
    pub feeds: Vec<RawFeed>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLog {
    pub format: String,
    pub level: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStore {
    pub cache_size: String,
    pub retain_bodies: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFetch {
    pub user_agent: String,
    pub connect_timeout: String,
    pub read_timeout: String,
    pub timeout: String,
    pub max_body: String,
    pub max_redirects: u64,
    pub concurrency: u64,
    pub per_host: u64,
    pub per_host_delay: String,
    pub force_refresh: String,
    pub allow_private_networks: bool,
    pub proxy: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSchedule {
    pub min_interval: String,
    pub max_interval: String,
    pub max_backoff: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExtract {
    pub sites_file: String,
    pub min_text_chars: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlerts {
    pub log: bool,
    pub jsonl: RawJsonl,
    pub webhook: RawWebhook,
    #[serde(default)]
    pub channels: Vec<RawChannel>,
}

/// One push channel; unset durations take the `[alerts.webhook]` retry settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChannel {
    pub url: String,
    pub name: Option<String>,
    pub digest_window: Option<String>,
    pub timeout: Option<String>,
    pub give_up_after: Option<String>,
    pub min_backoff: Option<String>,
    pub max_backoff: Option<String>,
    pub filter: Option<RawFilter>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFilter {
    #[serde(default)]
    pub langs: Vec<String>,
    #[serde(default)]
    pub entities: Vec<String>,
    #[serde(default)]
    pub keywords: Vec<String>,
    pub story: Option<String>,
    pub min_sources: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawJsonl {
    pub enabled: bool,
    pub path: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWebhook {
    pub url: String,
    pub timeout: String,
    pub give_up_after: String,
    pub digest_window: String,
    pub min_backoff: String,
    pub max_backoff: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub listen: String,
    /// "" (none), a bearer token, or `user:password` for basic auth.
    #[serde(default)]
    pub auth: String,
    pub header_timeout: String,
    pub idle_timeout: String,
    pub max_connections: u64,
    pub max_header_size: String,
    pub max_uri: String,
    pub max_body: String,
    pub auth_failures: u64,
    pub auth_delay: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdmin {
    pub socket: String,
    pub request_timeout: String,
    pub max_request: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawShutdown {
    pub deadline: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClaims {
    pub known_threshold: f64,
    pub detail_threshold: f64,
    pub max_candidates: u64,
    pub max_postings: u64,
    pub index_memory: String,
    pub decision: RawDecision,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDecision {
    pub bias: f64,
    pub weights: crate::model::Signals,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFeed {
    pub url: String,
    pub name: Option<String>,
    pub lang: Option<String>,
    pub min_interval: Option<String>,
    pub max_interval: Option<String>,
    pub body_selector: Option<String>,
}

// ------------------------------------------------------------------------------ validated level

/// The validated configuration every stage reads its slice of.
#[derive(Debug, Clone)]
pub struct Config {
    pub state_dir: PathBuf,
    pub seeds_dir: PathBuf,
    pub topic: String,
    pub log: LogConfig,
    pub store: StoreConfig,
    pub fetch: FetchConfig,
    pub schedule: ScheduleConfig,
    pub extract: ExtractConfig,
    pub alerts: AlertsConfig,
    pub server: ServerConfig,
    pub admin: AdminConfig,
    pub shutdown: ShutdownConfig,
    pub claims: ClaimsConfig,
    pub feeds: Vec<Feed>,
    /// The layers that were read, in order.
    pub sources: Vec<String>,
    /// Where each key's value came from (a file, an environment variable, the defaults).
    origins: BTreeMap<String, String>,
    /// How this configuration was loaded, so that [`Config::reload`] reads the same layers.
    layers: Layers,
    raw: RawConfig,
}

/// The arguments of one load: which layers to read. Kept so that a reload (SIGHUP) re-reads the
/// same files, environment and command-line overrides as start-up did.
#[derive(Debug, Clone, Default)]
struct Layers {
    system_file: Option<PathBuf>,
    config_file: Option<PathBuf>,
    state_dir: Option<PathBuf>,
    with_env: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Clone)]
pub struct LogConfig {
    pub format: LogFormat,
    pub level: String,
}

#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub cache_size: u64,
    pub retain_bodies: Duration,
}

#[derive(Debug, Clone)]
pub struct FetchConfig {
    pub user_agent: String,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub timeout: Duration,
    pub max_body: u64,
    pub max_redirects: usize,
    pub concurrency: usize,
    pub per_host: usize,
    pub per_host_delay: Duration,
    pub force_refresh: Duration,
    pub allow_private_networks: bool,
    pub proxy: Option<Url>,
}

#[derive(Debug, Clone)]
pub struct ScheduleConfig {
    pub min_interval: Duration,
    pub max_interval: Duration,
    pub max_backoff: Duration,
}

#[derive(Debug, Clone)]
pub struct ExtractConfig {
    pub sites_file: Option<PathBuf>,
    pub min_text_chars: usize,
}

#[derive(Debug, Clone)]
pub struct AlertsConfig {
    pub log: bool,
    pub jsonl: Option<PathBuf>,
    pub webhook: Option<WebhookConfig>,
    pub channels: Vec<ChannelConfig>,
}

/// One push channel (`[[alerts.channels]]`).
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelConfig {
    /// Its outbox queue.
    pub id: ChannelId,
    /// For logs and metrics: the configured name, else the service and host (never a secret).
    pub label: String,
    pub target: Target,
    pub filter: Filter,
    /// Zero sends every alert alone.
    pub digest_window: Duration,
    pub timeout: Duration,
    pub give_up_after: Duration,
    pub min_backoff: Duration,
    pub max_backoff: Duration,
}

/// Which alerts a channel wants; an empty list lets everything through.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    /// ISO 639-1 codes of the claim's language.
    pub langs: Vec<String>,
    /// Any of these, case-folded, among the alert's entities or in the claim text.
    pub entities: Vec<String>,
    /// Any of these, case-folded, in the claim text or the article title.
    pub keywords: Vec<String>,
    pub story: Option<String>,
    /// Sources stating the claim when the digest goes out (needs a digest window).
    pub min_sources: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WebhookConfig {
    pub url: Url,
    pub timeout: Duration,
    pub give_up_after: Duration,
    /// Zero sends every alert alone.
    pub digest_window: Duration,
    /// First and longest wait between retries (exponential, with jitter).
    pub min_backoff: Duration,
    pub max_backoff: Duration,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: Option<SocketAddr>,
    /// Needed for every path but /healthz; required when `listen` is not a loopback address.
    pub auth: Option<ServerAuth>,
    pub limits: ServerLimits,
}

/// What the HTTP listener grants one client (`[server]` in `config/default.toml`).
#[derive(Debug, Clone, PartialEq)]
pub struct ServerLimits {
    /// From a head's first byte (or the connection's start) to its end.
    pub header_timeout: Duration,
    /// A kept-alive connection with no request in flight.
    pub idle_timeout: Duration,
    pub max_connections: usize,
    pub max_header_size: usize,
    pub max_uri: usize,
    pub max_body: u64,
    /// Wrong credentials from one address before its next wrong ones are delayed.
    pub auth_failures: u32,
    pub auth_delay: Duration,
}

#[derive(Clone, PartialEq)]
pub enum ServerAuth {
    Bearer(String),
    Basic { user: String, password: String },
}

/// Never prints the secret: a configuration may be logged whole.
impl fmt::Debug for ServerAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerAuth::Bearer(_) => f.write_str("Bearer(***)"),
            ServerAuth::Basic { user, .. } => write!(f, "Basic({user}:***)"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct AdminConfig {
    /// The admin API's unix socket (`admin::socket_path`).
    pub socket: PathBuf,
    /// From connecting to the end of the request line.
    pub request_timeout: Duration,
    pub max_request: usize,
}

#[derive(Debug, Clone)]
pub struct ShutdownConfig {
    pub deadline: Duration,
}

/// Thresholds of the claim engine (calibrated on the dev set).
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimsConfig {
    /// A draft is known when its best match scores at least this (and no hard rule objects).
    pub known_threshold: f32,
    /// From this score on, a new date in an attributed claim is taken for the date of the
    /// statement, not a new fact.
    pub detail_threshold: f32,
    /// Stored claims compared in full per draft.
    pub max_candidates: usize,
    /// Postings read per draft (rarest feature first) when gathering candidates.
    pub max_postings: usize,
    /// Bytes of the newest claims' index kept in memory; older claims are judged from the
    /// on-disk index.
    pub index_memory: u64,
    pub decision: DecisionWeights,
}

/// The weights of the known-or-new decision: a logistic model over what a comparison measured
/// (`claims::index::Signals`), fitted on labelled articles (`benches/calibrate.py`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecisionWeights {
    pub bias: f32,
    /// One weight per signal.
    pub weights: crate::model::Signals,
}

impl Default for ClaimsConfig {
    /// The `[claims]` section of the built-in defaults (`config/default.toml`), the one place
    /// its values are written.
    fn default() -> Self {
        Config::defaults_with_state_dir(Path::new(".")).claims
    }
}

impl Config {
    /// The built-in defaults alone, with the state dir moved (for tests and tools).
    pub fn defaults_with_state_dir(state_dir: &Path) -> Config {
        load_layers(None, None, Some(state_dir), false).expect("built-in defaults are valid")
    }

    /// Reads every layer again with the same `--config`, `--state-dir` and environment as this
    /// configuration was loaded with (SIGHUP). The caller keeps the old configuration on error.
    pub fn reload(&self) -> Result<Config, Problems> {
        let l = &self.layers;
        load_layers(l.system_file.as_deref(), l.config_file.as_deref(), l.state_dir.as_deref(), l.with_env)
    }

    /// The names of the configured alert sinks, for the start-up summary.
    pub fn sink_names(&self) -> Vec<String> {
        let mut sinks: Vec<String> = Vec::new();
        if self.alerts.log {
            sinks.push("log".into());
        }
        if self.alerts.jsonl.is_some() {
            sinks.push("jsonl".into());
        }
        if self.alerts.webhook.is_some() {
            sinks.push("webhook".into());
        }
        sinks.extend(self.alerts.channels.iter().map(|c| c.label.clone()));
        sinks
    }

    /// Where `key`'s value came from, for naming it in a problem found after validation.
    pub fn origin(&self, key: &str) -> &str {
        self.origins.get(key).map(String::as_str).unwrap_or(DEFAULTS_ORIGIN)
    }

    /// One line for `config check`.
    pub fn summary(&self) -> String {
        format!(
            "configuration ok: {} feeds, state dir {}, sinks [{}], read from: {}",
            self.feeds.len(),
            self.state_dir.display(),
            self.sink_names().join(", "),
            self.sources.join(" → ")
        )
    }

    /// The effective configuration as TOML, with secrets (URL credentials and query strings of
    /// the webhook and proxy) masked.
    pub fn show(&self) -> anyhow::Result<String> {
        let mut raw = self.raw.clone();
        raw.alerts.webhook.url = mask_url(&raw.alerts.webhook.url);
        raw.fetch.proxy = mask_url(&raw.fetch.proxy);
        if !raw.server.auth.is_empty() {
            raw.server.auth = "***".into();
        }
        for channel in &mut raw.alerts.channels {
            channel.url = crate::alert::channels::mask(&channel.url);
        }
        Ok(format!("# read from: {}\n{}", self.sources.join(" → "), toml::to_string(&raw)?))
    }
}

fn mask_url(text: &str) -> String {
    match Url::parse(text) {
        Ok(mut url) => {
            let masked = "***";
            if !url.username().is_empty() || url.password().is_some() {
                let _ = url.set_username(masked);
                let _ = url.set_password(None);
            }
            if url.query().is_some() {
                url.set_query(Some(masked));
            }
            if url.path() != "/" && !url.path().is_empty() {
                url.set_path(masked);
            }
            url.to_string()
        }
        Err(_) => text.to_string(),
    }
}

// ------------------------------------------------------------------------------------- problems

/// Every configuration problem found, each naming the key and where it came from.
#[derive(Debug)]
pub struct Problems(pub Vec<String>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(f, "claimwatch: bad configuration ({n} problem{}):", if n == 1 { "" } else { "s" })?;
        for problem in &self.0 {
            write!(f, "\n  {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

/// Loads and validates the configuration from all layers.
pub fn load(config_file: Option<&Path>, state_dir: Option<&Path>) -> Result<Config, Problems> {
    load_layers(Some(Path::new(SYSTEM_FILE)), config_file, state_dir, true)
}

fn load_layers(
    system_file: Option<&Path>,
    config_file: Option<&Path>,
    state_dir: Option<&Path>,
    with_env: bool,
) -> Result<Config, Problems> {
    let mut sources = vec![DEFAULTS_ORIGIN.to_string()];
    let mut builder = config::Config::builder().add_source(File::from_str(DEFAULT_TOML, FileFormat::Toml));
    if let Some(system) = system_file.filter(|p| p.exists()) {
        sources.push(system.display().to_string());
        builder = builder.add_source(File::from(system).format(FileFormat::Toml));
    }
    if let Some(file) = config_file {
        if let Err(error) = std::fs::metadata(file).and_then(|_| std::fs::read(file).map(drop)) {
            return Err(Problems(vec![format!("--config {}: cannot read: {error}", file.display())]));
        }
        sources.push(file.display().to_string());
        builder = builder.add_source(File::from(file).format(FileFormat::Toml));
    }
    if with_env {
        let env =
            Environment::with_prefix(ENV_PREFIX).prefix_separator("__").separator("__").try_parsing(true);
        if std::env::vars().any(|(k, _)| k.starts_with("CLAIMWATCH__")) {
            sources.push("environment".to_string());
        }
        builder = builder.add_source(env);
    }
    if let Some(dir) = state_dir {
        sources.push("--state-dir".to_string());
        builder = builder.set_override("state_dir", dir.display().to_string()).expect("a string key");
    }
    let merged = builder.build().map_err(|e| Problems(vec![describe_build_error(e)]))?;
    let root = root_of(&merged).map_err(|e| Problems(vec![describe_build_error(e)]))?;

    let defaults = config::Config::builder()
        .add_source(File::from_str(DEFAULT_TOML, FileFormat::Toml))
        .build()
        .expect("built-in defaults parse");
    let default_root = root_of(&defaults).expect("built-in defaults are a table");

    let mut root = root;
    let mut problems = Vec::new();
    check_shape(&mut root, &default_root, "", &mut problems);
    let origins = Origins::collect(&root);
    let raw: RawConfig = root.try_deserialize().map_err(|e| {
        problems.push(describe_build_error(e));
        Problems(std::mem::take(&mut problems))
    })?;
    let layers = Layers {
        system_file: system_file.map(Path::to_path_buf),
        config_file: config_file.map(Path::to_path_buf),
        state_dir: state_dir.map(Path::to_path_buf),
        with_env,
    };
    match validate(raw, &origins, sources) {
        Ok(config) if problems.is_empty() => Ok(Config { layers, ..config }),
        Ok(_) => Err(Problems(problems)),
        Err(more) => {
            problems.extend(more);
            Err(Problems(problems))
        }
    }
}

fn root_of(config: &config::Config) -> Result<Value, config::ConfigError> {
    Ok(config.cache.clone())
}

fn describe_build_error(error: config::ConfigError) -> String {
    match error {
        config::ConfigError::FileParse { uri, cause } => {
            format!("{}: not valid TOML: {cause}", uri.unwrap_or_else(|| "configuration".into()))
        }
        other => other.to_string(),
    }
}

/// Where the value at `path` came from: a file, an environment variable (named, as the user
/// must find and fix it), or the built-in defaults.
fn origin_of(value: &Value, path: &str) -> String {
    match value.origin() {
        // The config crate marks every environment value alike; name the variable.
        Some(origin) if origin == "the environment" => match env_var_of(path) {
            Some(var) => format!("the environment variable {var}"),
            None => origin.to_string(),
        },
        // The config crate names files relative to the working directory; name them plainly.
        Some(origin) => std::fs::canonicalize(origin)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| origin.to_string()),
        None => match env_var_of(path) {
            Some(var) => format!("the environment variable {var}"),
            None => DEFAULTS_ORIGIN.to_string(),
        },
    }
}

/// The environment variable that sets `path` (`fetch.timeout` → `CLAIMWATCH__FETCH__TIMEOUT`),
/// if one is set, spelt as it is set.
fn env_var_of(path: &str) -> Option<String> {
    let wanted = format!("{ENV_PREFIX}__{}", path.replace('.', "__"));
    std::env::vars().map(|(k, _)| k).find(|k| k.eq_ignore_ascii_case(&wanted))
}

/// The known key nearest to a misspelt one (at most two edits, and no more than half its
/// letters), for "did you mean …?".
fn nearest<'a>(key: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    known
        .into_iter()
        .map(|k| (edit_distance(key, k), k))
        .filter(|(d, k)| *d <= 2 && *d * 2 <= k.len().min(key.len()))
        .min()
        .map(|(_, k)| k)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1).min(row[j] + 1).min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// A default value written as TOML, for "e.g. `fetch.timeout = "30s"`".
fn example(path: &str, default: &Value) -> String {
    let value = match &default.kind {
        ValueKind::String(s) => format!("{s:?}"),
        ValueKind::Boolean(b) => b.to_string(),
        ValueKind::I64(n) => n.to_string(),
        ValueKind::U64(n) => n.to_string(),
        ValueKind::Float(f) => f.to_string(),
        _ => return String::new(),
    };
    let key = path.rsplit('.').next().unwrap_or(path);
    format!(" (e.g. `{key} = {value}`)")
}

fn kind_name(kind: &ValueKind) -> &'static str {
    match kind {
        ValueKind::Nil => "nothing",
        ValueKind::Boolean(_) => "a boolean",
        ValueKind::I64(_) | ValueKind::I128(_) | ValueKind::U64(_) | ValueKind::U128(_) => "an integer",
        ValueKind::Float(_) => "a float",
        ValueKind::String(_) => "a string",
        ValueKind::Table(_) => "a table",
        ValueKind::Array(_) => "an array",
    }
}

fn same_kind(a: &ValueKind, b: &ValueKind) -> bool {
    std::mem::discriminant(&normalise_int(a)) == std::mem::discriminant(&normalise_int(b))
}

fn normalise_int(kind: &ValueKind) -> ValueKind {
    match kind {
        ValueKind::I64(_) | ValueKind::I128(_) | ValueKind::U64(_) | ValueKind::U128(_) => ValueKind::I64(0),
        other => other.clone(),
    }
}

/// Compares the merged tree with the defaults and reports every unknown key and wrong value
/// type. Offending entries are dropped (unknown) or reset to the default (wrong type) so that
/// validation can go on and report the remaining problems in the same run.
fn check_shape(value: &mut Value, default: &Value, path: &str, problems: &mut Vec<String>) {
    let origin = origin_of(value, path);
    match (&mut value.kind, &default.kind) {
        (ValueKind::Table(table), ValueKind::Table(default_table)) => {
            table.retain(|key, child| {
                let child_path = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                match default_table.get(key) {
                    Some(default_child) => {
                        check_shape(child, default_child, &child_path, problems);
                        true
                    }
                    None => {
                        let hint = nearest(key, default_table.keys().map(String::as_str))
                            .map(|k| {
                                format!(
                                    "; did you mean `{}`?",
                                    if path.is_empty() { k.to_string() } else { format!("{path}.{k}") }
                                )
                            })
                            .unwrap_or_default();
                        problems.push(format!(
                            "unknown key `{child_path}` in {}{hint}",
                            origin_of(child, &child_path)
                        ));
                        false
                    }
                }
            });
        }
        (ValueKind::Array(items), ValueKind::Array(_)) if path == "feeds" => {
            let mut i = 0;
            items.retain_mut(|item| {
                i += 1;
                check_feed_shape(item, &format!("feeds[{}]", i - 1), problems)
            });
        }
        (ValueKind::Array(items), ValueKind::Array(_)) if path == "alerts.channels" => {
            let mut i = 0;
            items.retain_mut(|item| {
                i += 1;
                check_channel_shape(item, &format!("alerts.channels[{}]", i - 1), problems)
            });
        }
        (kind, default_kind) if !same_kind(kind, default_kind) => {
            problems.push(format!(
                "`{path}` in {origin}: expected {}, found {}{}",
                kind_name(default_kind),
                kind_name(kind),
                example(path, default)
            ));
            *value = default.clone();
        }
        _ => {}
    }
}

/// Checks one `[[feeds]]` entry; false when it is unusable and must be dropped.
fn check_feed_shape(item: &mut Value, path: &str, problems: &mut Vec<String>) -> bool {
    check_entry_shape(item, path, "feed", FEED_KEYS, problems, |key, child, problems| {
        if matches!(child.kind, ValueKind::String(_)) {
            return true;
        }
        problems.push(format!(
            "`{path}.{key}` in {}: expected a string, found {}",
            origin_of(child, &format!("{path}.{key}")),
            kind_name(&child.kind)
        ));
        false
    })
}

/// Checks one `[[alerts.channels]]` entry and its filter table (unknown keys are reported and
/// dropped; value types are left to deserialization); false when it has no url.
fn check_channel_shape(item: &mut Value, path: &str, problems: &mut Vec<String>) -> bool {
    check_entry_shape(item, path, "channel", CHANNEL_KEYS, problems, |key, child, problems| {
        if key != "filter" {
            return true;
        }
        let filter_origin = origin_of(child, &format!("{path}.filter"));
        let ValueKind::Table(filter) = &mut child.kind else {
            problems.push(format!("`{path}.filter` in {filter_origin}: expected a table"));
            return false;
        };
        filter.retain(|field, value| {
            let known = FILTER_KEYS.contains(&field.as_str());
            if !known {
                problems.push(format!(
                    "unknown filter field `{path}.filter.{field}` in {} (a filter takes: {})",
                    origin_of(value, &format!("{path}.filter.{field}")),
                    FILTER_KEYS.join(", ")
                ));
            }
            known
        });
        true
    })
}

/// Checks one entry of an array of tables (`what`: "feed", "channel"): a table of `keys`, with
/// a url; `check` looks at each known key's value. Unknown and refused keys are reported and
/// dropped; false when the entry is unusable.
fn check_entry_shape(
    item: &mut Value,
    path: &str,
    what: &str,
    keys: &[&str],
    problems: &mut Vec<String>,
    mut check: impl FnMut(&str, &mut Value, &mut Vec<String>) -> bool,
) -> bool {
    let origin = origin_of(item, path);
    let ValueKind::Table(table) = &mut item.kind else {
        problems.push(format!("`{path}` in {origin}: expected a table with a url"));
        return false;
    };
    table.retain(|key, child| {
        if !keys.contains(&key.as_str()) {
            let hint = nearest(key, keys.iter().copied())
                .map(|k| format!("; did you mean `{k}`?"))
                .unwrap_or_default();
            problems.push(format!(
                "unknown key `{path}.{key}` in {}{hint} (a {what} takes: {})",
                origin_of(child, &format!("{path}.{key}")),
                keys.join(", ")
            ));
            return false;
        }
        check(key, child, problems)
    });
    if !table.contains_key("url") {
        problems.push(format!("`{path}.url` in {origin}: missing; every {what} needs a url"));
        return false;
    }
    true
}

/// Where each leaf key came from, for naming the file in validation messages.
struct Origins(BTreeMap<String, String>);

impl Origins {
    fn collect(root: &Value) -> Origins {
        fn walk(value: &Value, path: &str, out: &mut BTreeMap<String, String>) {
            match &value.kind {
                ValueKind::Table(table) => {
                    for (key, child) in table {
                        let child_path = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                        walk(child, &child_path, out);
                    }
                }
                ValueKind::Array(items) => {
                    for (i, child) in items.iter().enumerate() {
                        walk(child, &format!("{path}[{i}]"), out);
                    }
                }
                _ => {
                    out.insert(path.to_string(), origin_of(value, path));
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(root, "", &mut out);
        Origins(out)
    }

    fn of(&self, key: &str) -> &str {
        self.0.get(key).map(String::as_str).unwrap_or(DEFAULTS_ORIGIN)
    }
}

/// Collects validation problems for one key at a time.
struct Validator<'a> {
    origins: &'a Origins,
    problems: Vec<String>,
}

impl Validator<'_> {
    fn problem(&mut self, key: &str, message: impl fmt::Display) {
        let origin = self.origins.of(key).to_string();
        self.problems.push(format!("`{key}` in {origin}: {message}"));
    }

    fn duration(&mut self, key: &str, text: &str) -> Duration {
        match humantime::parse_duration(text.trim()) {
            Ok(d) => d,
            Err(e) => {
                self.problem(
                    key,
                    format!("invalid duration {text:?} ({e}); write e.g. \"20s\", \"5m\", \"12h\""),
                );
                Duration::ZERO
            }
        }
    }

    fn positive_duration(&mut self, key: &str, text: &str) -> Duration {
        let d = self.duration(key, text);
        if d.is_zero() && humantime::parse_duration(text.trim()).is_ok() {
            self.problem(key, "must be longer than zero");
        }
        d
    }

    fn size(&mut self, key: &str, text: &str) -> u64 {
        match parse_size(text) {
            Some(0) => {
                self.problem(key, "must be larger than zero");
                0
            }
            Some(n) => n,
            None => {
                self.problem(
                    key,
                    format!("invalid size {text:?}; write e.g. \"64MiB\", \"15MiB\", \"4096\""),
                );
                0
            }
        }
    }

    fn nonzero(&mut self, key: &str, n: u64) -> usize {
        if n == 0 {
            self.problem(key, "must be at least 1");
        }
        n as usize
    }

    fn http_url(&mut self, key: &str, text: &str) -> Option<Url> {
        match Url::parse(text.trim()) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => Some(url),
            Ok(url) => {
                self.problem(key, format!("unsupported scheme {:?}; use http or https", url.scheme()));
                None
            }
            Err(e) => {
                self.problem(key, format!("invalid URL {text:?}: {e}"));
                None
            }
        }
    }
}

/// Parses a byte size: a plain number of bytes or a number with B, KB, KiB, MB, MiB, GB, GiB.
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "kib" | "k" => 1 << 10,
        "mb" => 1_000_000,
        "mib" | "m" => 1 << 20,
        "gb" => 1_000_000_000,
        "gib" | "g" => 1 << 30,
        _ => return None,
    };
    number.checked_mul(factor)
}

fn validate(raw: RawConfig, origins: &Origins, sources: Vec<String>) -> Result<Config, Vec<String>> {
    let mut v = Validator { origins, problems: Vec::new() };

    let format = match raw.log.format.as_str() {
        "human" => LogFormat::Human,
        "json" => LogFormat::Json,
        other => {
            v.problem("log.format", format!("{other:?} is neither \"human\" nor \"json\""));
            LogFormat::Human
        }
    };
    if let Err(e) = raw.log.level.parse::<tracing_subscriber::EnvFilter>() {
        v.problem("log.level", format!("invalid filter {:?}: {e}", raw.log.level));
    }
    if raw.state_dir.trim().is_empty() {
        v.problem("state_dir", "must not be empty");
    }
    let state_dir = PathBuf::from(&raw.state_dir);

    let store = StoreConfig {
        cache_size: v.size("store.cache_size", &raw.store.cache_size),
        retain_bodies: v.positive_duration("store.retain_bodies", &raw.store.retain_bodies),
    };

    let f = &raw.fetch;
    if f.user_agent.trim().is_empty() {
        v.problem("fetch.user_agent", "must not be empty: say who you are and how to reach you");
    }
    let proxy = if f.proxy.trim().is_empty() { None } else { v.http_url("fetch.proxy", &f.proxy) };
    let fetch = FetchConfig {
        user_agent: f.user_agent.clone(),
        connect_timeout: v.positive_duration("fetch.connect_timeout", &f.connect_timeout),
        read_timeout: v.positive_duration("fetch.read_timeout", &f.read_timeout),
        timeout: v.positive_duration("fetch.timeout", &f.timeout),
        max_body: v.size("fetch.max_body", &f.max_body),
        max_redirects: f.max_redirects as usize,
        concurrency: v.nonzero("fetch.concurrency", f.concurrency),
        per_host: v.nonzero("fetch.per_host", f.per_host),
        per_host_delay: v.duration("fetch.per_host_delay", &f.per_host_delay),
        force_refresh: v.positive_duration("fetch.force_refresh", &f.force_refresh),
        allow_private_networks: f.allow_private_networks,
        proxy,
    };

    let schedule = ScheduleConfig {
        min_interval: v.positive_duration("schedule.min_interval", &raw.schedule.min_interval),
        max_interval: v.positive_duration("schedule.max_interval", &raw.schedule.max_interval),
        max_backoff: v.positive_duration("schedule.max_backoff", &raw.schedule.max_backoff),
    };
    if schedule.min_interval > schedule.max_interval {
        v.problem("schedule.min_interval", "is longer than schedule.max_interval");
    }

    let extract = ExtractConfig {
        sites_file: Some(raw.extract.sites_file.trim()).filter(|s| !s.is_empty()).map(PathBuf::from),
        min_text_chars: raw.extract.min_text_chars as usize,
    };

    let jsonl = raw.alerts.jsonl.enabled.then(|| match raw.alerts.jsonl.path.trim() {
        "" => state_dir.join("alerts.jsonl"),
        path => PathBuf::from(path),
    });
    let w = &raw.alerts.webhook;
    let webhook_timeout = v.positive_duration("alerts.webhook.timeout", &w.timeout);
    let give_up_after = v.positive_duration("alerts.webhook.give_up_after", &w.give_up_after);
    let digest_window = v.duration("alerts.webhook.digest_window", &w.digest_window);
    let min_backoff = v.positive_duration("alerts.webhook.min_backoff", &w.min_backoff);
    let max_backoff = v.positive_duration("alerts.webhook.max_backoff", &w.max_backoff);
    if min_backoff > max_backoff {
        v.problem("alerts.webhook.min_backoff", "is longer than alerts.webhook.max_backoff");
    }
    let webhook = if w.url.trim().is_empty() {
        None
    } else {
        v.http_url("alerts.webhook.url", &w.url).map(|url| WebhookConfig {
            url,
            timeout: webhook_timeout,
            give_up_after,
            digest_window,
            min_backoff,
            max_backoff,
        })
    };
    let mut channels = Vec::with_capacity(raw.alerts.channels.len());
    for (i, channel) in raw.alerts.channels.iter().enumerate() {
        let key = |k: &str| format!("alerts.channels[{i}].{k}");
        let duration = |v: &mut Validator, k: &str, value: &Option<String>, default: Duration| match value {
            Some(text) => v.positive_duration(&key(k), text),
            None => default,
        };
        let timeout = duration(&mut v, "timeout", &channel.timeout, webhook_timeout);
        let give_up_after = duration(&mut v, "give_up_after", &channel.give_up_after, give_up_after);
        let min_backoff = duration(&mut v, "min_backoff", &channel.min_backoff, min_backoff);
        let max_backoff = duration(&mut v, "max_backoff", &channel.max_backoff, max_backoff);
        if min_backoff > max_backoff {
            v.problem(&key("min_backoff"), "is longer than max_backoff");
        }
        let digest_window = match &channel.digest_window {
            Some(text) => v.duration(&key("digest_window"), text),
            None => Duration::ZERO,
        };
        let raw_filter = channel.filter.clone().unwrap_or_default();
        let filter = Filter {
            langs: raw_filter.langs.iter().map(|l| l.trim().to_lowercase()).collect(),
            entities: raw_filter.entities.iter().map(|e| e.trim().to_lowercase()).collect(),
            keywords: raw_filter.keywords.iter().map(|e| e.trim().to_lowercase()).collect(),
            story: raw_filter.story.clone().filter(|s| !s.trim().is_empty()),
            min_sources: raw_filter.min_sources.unwrap_or(0) as usize,
        };
        if filter.min_sources > 1 && digest_window.is_zero() {
            v.problem(
                &key("filter.min_sources"),
                "needs a digest_window: sources are counted when the window closes",
            );
        }
        let name = channel.name.as_deref().map(str::trim).filter(|n| !n.is_empty());
        match Target::parse(channel.url.trim()) {
            Ok(target) => channels.push(ChannelConfig {
                id: ChannelId::of(name.unwrap_or(channel.url.trim())),
                label: name.map(str::to_string).unwrap_or_else(|| target.label()),
                target,
                filter,
                digest_window,
                timeout,
                give_up_after,
                min_backoff,
                max_backoff,
            }),
            Err(why) => v.problem(&key("url"), why),
        }
    }
    let mut ids = std::collections::HashSet::new();
    for (i, channel) in channels.iter().enumerate() {
        if !ids.insert(channel.id) {
            v.problem(
                &format!("alerts.channels[{i}].name"),
                format!("{:?}: two channels with one name (or one URL) would share one queue", channel.label),
            );
        }
    }
    let alerts = AlertsConfig { log: raw.alerts.log, jsonl, webhook, channels };

    let listen = match raw.server.listen.trim() {
        "" => None,
        text => match text.parse::<SocketAddr>() {
            Ok(addr) => Some(addr),
            Err(e) => {
                v.problem(
                    "server.listen",
                    format!("invalid address {text:?} ({e}); write e.g. \"127.0.0.1:9464\""),
                );
                None
            }
        },
    };

    // Empty: in systemd's RuntimeDirectory when there is one, else in the state dir.
    let admin = AdminConfig {
        socket: match raw.admin.socket.trim() {
            "" => match std::env::var_os("RUNTIME_DIRECTORY") {
                // RuntimeDirectory= may list several directories, separated by colons.
                Some(dirs) if !dirs.is_empty() => {
                    let dirs = dirs.to_string_lossy().into_owned();
                    PathBuf::from(dirs.split(':').next().unwrap_or_default()).join("claimwatch.sock")
                }
                _ => state_dir.join("admin.sock"),
            },
            path => PathBuf::from(path),
        },
        request_timeout: v.positive_duration("admin.request_timeout", &raw.admin.request_timeout),
        max_request: v.size("admin.max_request", &raw.admin.max_request) as usize,
    };
    let s = &raw.server;
    let limits = ServerLimits {
        header_timeout: v.positive_duration("server.header_timeout", &s.header_timeout),
        idle_timeout: v.positive_duration("server.idle_timeout", &s.idle_timeout),
        max_connections: v.nonzero("server.max_connections", s.max_connections),
        max_header_size: v.size("server.max_header_size", &s.max_header_size) as usize,
        max_uri: v.size("server.max_uri", &s.max_uri) as usize,
        max_body: v.size("server.max_body", &s.max_body),
        auth_failures: v.nonzero("server.auth_failures", s.auth_failures).min(u32::MAX as usize) as u32,
        auth_delay: v.duration("server.auth_delay", &s.auth_delay),
    };
    // hyper's read buffer cannot be smaller.
    if limits.max_header_size > 0 && limits.max_header_size < 8192 {
        v.problem("server.max_header_size", "must be at least 8KiB (8192 bytes)");
    }
    let auth = match raw.server.auth.trim() {
        "" => None,
        text => match text.split_once(':') {
            Some((user, password)) if !user.is_empty() && !password.is_empty() => {
                Some(ServerAuth::Basic { user: user.into(), password: password.into() })
            }
            Some(_) => {
                v.problem("server.auth", "write a bearer token, or user:password for basic auth");
                None
            }
            None => Some(ServerAuth::Bearer(text.into())),
        },
    };
    if let Some(addr) = listen.filter(|a| !a.ip().is_loopback()) {
        if auth.is_none() {
            v.problem(
                "server.listen",
                format!(
                    "{addr} is reachable beyond this machine: set server.auth (a bearer token or user:password) \
                     or listen on 127.0.0.1"
                ),
            );
        }
    }

    let shutdown =
        ShutdownConfig { deadline: v.positive_duration("shutdown.deadline", &raw.shutdown.deadline) };

    let c = &raw.claims;
    for (key, value) in
        [("claims.known_threshold", c.known_threshold), ("claims.detail_threshold", c.detail_threshold)]
    {
        if !(0.0..=1.0).contains(&value) {
            v.problem(key, format!("{value} is not between 0 and 1"));
        }
    }
    let claims = ClaimsConfig {
        known_threshold: c.known_threshold as f32,
        detail_threshold: c.detail_threshold as f32,
        max_candidates: v.nonzero("claims.max_candidates", c.max_candidates),
        max_postings: v.nonzero("claims.max_postings", c.max_postings),
        index_memory: v.size("claims.index_memory", &c.index_memory),
        decision: DecisionWeights { bias: c.decision.bias as f32, weights: c.decision.weights },
    };

    let mut feeds = Vec::with_capacity(raw.feeds.len());
    for (i, feed) in raw.feeds.iter().enumerate() {
        let key = |k: &str| format!("feeds[{i}].{k}");
        let url = match Url::parse(feed.url.trim()) {
            Ok(url) if matches!(url.scheme(), "http" | "https" | "file") => Some(url),
            Ok(url) => {
                v.problem(
                    &key("url"),
                    format!("unsupported scheme {:?}; use http, https or file", url.scheme()),
                );
                None
            }
            Err(e) => {
                v.problem(&key("url"), format!("invalid URL {:?}: {e}", feed.url));
                None
            }
        };
        let min_interval = match &feed.min_interval {
            Some(text) => v.positive_duration(&key("min_interval"), text),
            None => schedule.min_interval,
        };
        let max_interval = match &feed.max_interval {
            Some(text) => v.positive_duration(&key("max_interval"), text),
            None => schedule.max_interval,
        };
        if min_interval > max_interval {
            v.problem(&key("min_interval"), "is longer than max_interval");
        }
        if let Some(selector) = &feed.body_selector {
            if let Err(e) = scraper::Selector::parse(selector) {
                v.problem(&key("body_selector"), format!("invalid CSS selector {selector:?}: {e}"));
            }
        }
        if let Some(url) = url {
            feeds.push(Feed {
                url,
                name: feed.name.clone(),
                lang: feed.lang.clone(),
                min_interval,
                max_interval,
                body_selector: feed.body_selector.clone(),
            });
        }
    }

    if !v.problems.is_empty() {
        return Err(v.problems);
    }
    Ok(Config {
        state_dir,
        seeds_dir: PathBuf::from(&raw.seeds_dir),
        topic: raw.topic.clone(),
        log: LogConfig { format, level: raw.log.level.clone() },
        store,
        fetch,
        schedule,
        extract,
        alerts,
        server: ServerConfig { listen, auth, limits },
        admin,
        shutdown,
        claims,
        feeds,
        sources,
        origins: origins.0.clone(),
        layers: Layers::default(),
        raw,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_binary_and_decimal_units() {
        assert_eq!(parse_size("64MiB"), Some(64 << 20));
        assert_eq!(parse_size("15 MB"), Some(15_000_000));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_size("12 parsecs"), None);
    }

    #[test]
    fn a_typo_gets_the_nearest_key_and_nonsense_gets_none() {
        let keys = ["timeout", "connect_timeout", "per_host", "name", "url"];
        assert_eq!(nearest("timout", keys), Some("timeout"));
        assert_eq!(nearest("nmae", keys), Some("name"));
        assert_eq!(nearest("per_hots", keys), Some("per_host"));
        assert_eq!(nearest("colour", keys), None);
        assert_eq!(nearest("x", keys), None);
    }

    #[test]
    fn built_in_defaults_validate() {
        let config = Config::defaults_with_state_dir(Path::new("/tmp/x"));
        assert_eq!(config.feeds.len(), 35);
        assert_eq!(config.store.cache_size, 64 << 20);
        assert_eq!(config.alerts.jsonl.as_deref(), Some(Path::new("/tmp/x/alerts.jsonl")));
        assert_eq!(config.fetch.timeout, Duration::from_secs(30));
    }

    #[test]
    fn server_limits_are_validated_and_the_token_never_printed() {
        let config = Config::defaults_with_state_dir(Path::new("/tmp/x"));
        assert_eq!(config.server.limits.max_connections, 256);
        assert_eq!(config.server.limits.max_header_size, 16 << 10);
        assert_eq!(config.admin.max_request, 32 << 20);
        let auth = ServerAuth::Basic { user: "analyst".into(), password: "correct horse".into() };
        assert_eq!(format!("{auth:?}"), "Basic(analyst:***)");
        assert!(!format!("{:?}", ServerAuth::Bearer("s3cret".into())).contains("s3cret"));
    }

    #[test]
    fn masking_hides_webhook_secrets() {
        assert_eq!(
            mask_url("https://u:p@hooks.example.org/T0/B1?token=s"),
            "https://***@hooks.example.org/***?***"
        );
    }
}
