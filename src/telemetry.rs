//! The tracing subscriber: human-readable lines or JSON objects on stderr (journald takes stderr
//! as is), filtered by `log.level` unless `RUST_LOG` is set. Field names follow one vocabulary
//! across stages: `feed_url`, `article_url`, `stage`, `error`.

use tracing_subscriber::EnvFilter;

use crate::config::{LogConfig, LogFormat};

/// Installs the global subscriber; a second call (tests) is a no-op.
///
/// Colours only on a terminal: journald and log files would store the escape codes. Under
/// systemd (`JOURNAL_STREAM` set) human lines drop their timestamp, which journald records.
pub fn init(log: &LogConfig) {
    use std::io::IsTerminal;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&log.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let journald = std::env::var_os("JOURNAL_STREAM").is_some();
    let _ = match log.format {
        LogFormat::Human if journald => builder.without_time().try_init(),
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).try_init(),
    };
}
