//! Push channels: where analysts already read. Each `[[alerts.channels]]` entry is one outbox
//! sink ([`ChannelSink`]) with its own queue, so a channel's alerts are committed with their
//! article, delivered at least once and removed only after the service accepted them, with the
//! webhook's retry rules ([`super::sinks::Backoff`]). A channel is named by an Apprise-style URL
//! whose scheme picks the service ([`Target`], the one place that knows the services):
//! ntfy, Slack-compatible incoming webhooks, Telegram `sendMessage`, Matrix `m.room.message`,
//! and email over SMTP (lettre).
//!
//! The channel's filter is applied when an alert goes out, not when it is committed, so that
//! `min_sources` counts the sources known when a digest window closes.
//!
//! Trade-off: only Matrix (transaction id = alert id), ntfy (sequence id = alert id, ntfy ≥ 2.16
//! replaces rather than repeats) and email (`Message-ID` from the alert id, which mail clients
//! thread on) let a retry be recognised. Slack and Telegram have no idempotency key: a crash
//! after the service accepted a message and before the outbox entry was removed shows that one
//! message twice there; nothing is ever lost.

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use url::Url;

use super::outbox::{Pending, SinkKind};
use super::sinks::{batch_for, digest_hold, digest_id, http_answer, Answer, Backoff, Outcome, Sink};
use crate::config::{ChannelConfig, Filter};
use crate::model::{Alert, ArticleVerdict};
use crate::store::{trees, Store};

/// Telegram's limit is 4,096 characters after entity parsing (UTF-16 units); ntfy turns a
/// message over 4,096 bytes into an attachment. Longer digests are cut with a count of the rest.
const SHORT_MESSAGE: usize = 3_500;

/// Where a channel delivers, parsed from its URL.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// `POST {base}/{topic}`, the message as the body; `priority` overrides the rule (a new
    /// story is high, 4; more of a known story is default, 3).
    Ntfy {
        base: Url,
        topic: String,
        auth: Option<Auth>,
        priority: Option<u8>,
    },
    /// A Slack incoming webhook or a compatible endpoint: `POST {url}` with `{"text": …}`.
    Slack {
        url: Url,
    },
    /// `POST {api}/bot{token}/sendMessage` with `{"chat_id", "text"}`.
    Telegram {
        api: Url,
        token: String,
        chat_id: String,
    },
    /// `PUT {base}/_matrix/client/v3/rooms/{room}/send/m.room.message/{alert id}`.
    Matrix {
        base: Url,
        token: String,
        room: String,
    },
    Email(EmailTarget),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Auth {
    Bearer(String),
    Basic(String, String),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Security {
    /// TLS from the first byte (`mailtos://`, port 465).
    Tls,
    /// STARTTLS required (`mailto://`, port 587): nothing is sent unencrypted.
    StartTls,
    /// No encryption (`?tls=none`, port 25): a local relay or a test server.
    Plain,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EmailTarget {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub login: Option<(String, String)>,
    pub from: String,
    pub to: Vec<String>,
}

const SCHEMES: &str = "ntfy, ntfys, slack, slack+http, slack+https, tgram, matrix, matrixs, mailto, mailtos";

impl Target {
    /// Parses an Apprise-style channel URL; the error names what is wrong without repeating a
    /// secret.
    pub fn parse(text: &str) -> Result<Target, String> {
        let shown = mask(text);
        let Some((scheme, rest)) = text.split_once("://") else {
            return Err(format!("{shown:?} is not a channel URL; write scheme://…, scheme one of {SCHEMES}"));
        };
        let bad = |why: &str| format!("invalid channel URL {shown:?}: {why}");
        let scheme = scheme.to_ascii_lowercase();
        match scheme.as_str() {
            "ntfy" | "ntfys" => {
                let url = host_url(&scheme == "ntfys", rest).map_err(|e| bad(&e))?;
                let mut segments: Vec<String> = path_segments(&url);
                let topic = segments.pop().filter(|t| !t.is_empty()).ok_or_else(|| bad("no topic"))?;
                let mut base = origin(&url);
                base.path_segments_mut().expect("http URL").extend(&segments);
                let auth = match (decode(url.username()), url.password().map(decode)) {
                    (user, Some(password)) if !user.is_empty() => Some(Auth::Basic(user, password)),
                    (token, None) if !token.is_empty() => Some(Auth::Bearer(token)),
                    _ => None,
                };
                let priority = match query(&url, "priority").as_deref() {
                    None => None,
                    Some("1" | "min") => Some(1),
                    Some("2" | "low") => Some(2),
                    Some("3" | "default") => Some(3),
                    Some("4" | "high") => Some(4),
                    Some("5" | "max" | "urgent") => Some(5),
                    Some(other) => {
                        return Err(bad(&format!(
                            "priority {other:?} is not 1-5 or min/low/default/high/max"
                        )))
                    }
                };
                Ok(Target::Ntfy { base, topic, auth, priority })
            }
            "slack" => {
                let tokens: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
                if tokens.len() != 3 || tokens.iter().any(|t| t.is_empty() || t.contains(['?', '#', '@'])) {
                    return Err(bad("write slack://T…/B…/token (the three parts of the hook URL)"));
                }
                let url = Url::parse(&format!("https://hooks.slack.com/services/{}", tokens.join("/")))
                    .map_err(|e| bad(&e.to_string()))?;
                Ok(Target::Slack { url })
            }
            "slack+http" | "slack+https" => {
                let url = host_url(&scheme == "slack+https", rest).map_err(|e| bad(&e))?;
                Ok(Target::Slack { url })
            }
            "tgram" => {
                let (path, query_text) = rest.split_once('?').unwrap_or((rest, ""));
                let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
                let [token, chat_id] = parts[..] else {
                    return Err(bad("write tgram://BOT_TOKEN/CHAT_ID"));
                };
                if !token.contains(':') || chat_id.is_empty() {
                    return Err(bad("write tgram://BOT_TOKEN/CHAT_ID (a bot token looks like 123456:ABC…)"));
                }
                let api = match url::form_urlencoded::parse(query_text.as_bytes()).find(|(k, _)| k == "api") {
                    None => Url::parse("https://api.telegram.org/").expect("a valid URL"),
                    Some((_, api)) => match Url::parse(&api) {
                        Ok(api) if matches!(api.scheme(), "http" | "https") => api,
                        _ => return Err(bad("api= must be an http(s) URL of a Bot API server")),
                    },
                };
                Ok(Target::Telegram { api, token: decode(token), chat_id: decode(chat_id) })
            }
            "matrix" | "matrixs" => {
                let url = host_url(&scheme == "matrixs", rest).map_err(|e| bad(&e))?;
                let token = url.password().map(decode).unwrap_or_else(|| decode(url.username()));
                if token.is_empty() {
                    return Err(bad("no access token; write matrixs://TOKEN@host/!room:host"));
                }
                let room = path_segments(&url).concat();
                if !room.starts_with('!') {
                    return Err(bad("the path must be a room id (!…:host), not an alias"));
                }
                Ok(Target::Matrix { base: origin(&url), token, room })
            }
            "mailto" | "mailtos" => {
                let url = host_url(false, rest).map_err(|e| bad(&e))?;
                let security = match (scheme.as_str(), query(&url, "tls").as_deref()) {
                    (_, Some("none")) => Security::Plain,
                    ("mailtos", None | Some("tls")) | (_, Some("tls")) => Security::Tls,
                    ("mailto", None | Some("starttls")) | (_, Some("starttls")) => Security::StartTls,
                    (_, Some(other)) => {
                        return Err(bad(&format!("tls={other:?} is not none, starttls or tls")))
                    }
                    _ => unreachable!("the scheme is mailto or mailtos"),
                };
                let port = url.port().unwrap_or(match security {
                    Security::Tls => 465,
                    Security::StartTls => 587,
                    Security::Plain => 25,
                });
                let user = decode(url.username());
                let login = url.password().map(|p| (user.clone(), decode(p)));
                let to: Vec<String> = query(&url, "to")
                    .map(|to| to.split(',').map(|t| t.trim().to_string()).filter(|t| !t.is_empty()).collect())
                    .unwrap_or_default();
                if to.is_empty() {
                    return Err(bad("no recipient; add ?to=name@example.org"));
                }
                let from = match query(&url, "from") {
                    Some(from) => from,
                    None if user.contains('@') => user.clone(),
                    None => return Err(bad("no sender; add &from=claimwatch@example.org")),
                };
                for address in to.iter().chain([&from]) {
                    if let Err(e) = address.parse::<Mailbox>() {
                        return Err(bad(&format!("{address:?} is not a mail address: {e}")));
                    }
                }
                let host = url.host_str().unwrap_or_default().to_string();
                Ok(Target::Email(EmailTarget { host, port, security, login, from, to }))
            }
            other => Err(format!("unknown channel scheme {other:?} in {shown:?}; use one of {SCHEMES}")),
        }
    }

    /// The service's name, for logs and metrics.
    pub fn service(&self) -> &'static str {
        match self {
            Target::Ntfy { .. } => "ntfy",
            Target::Slack { .. } => "slack",
            Target::Telegram { .. } => "telegram",
            Target::Matrix { .. } => "matrix",
            Target::Email(_) => "email",
        }
    }

    /// `service:host`, never a secret: the label of a channel without a name.
    pub fn label(&self) -> String {
        let host = match self {
            Target::Ntfy { base: url, .. } | Target::Slack { url } | Target::Matrix { base: url, .. } => {
                url.host_str().unwrap_or_default().to_string()
            }
            Target::Telegram { api, .. } => api.host_str().unwrap_or_default().to_string(),
            Target::Email(e) => e.host.clone(),
        };
        format!("{}:{host}", self.service())
    }
}

/// `rest` (what follows `scheme://`) as an http(s) URL with a host.
fn host_url(https: bool, rest: &str) -> Result<Url, String> {
    let url = Url::parse(&format!("{}://{rest}", if https { "https" } else { "http" }))
        .map_err(|e| e.to_string())?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err("no host".into());
    }
    Ok(url)
}

/// The URL's scheme, host and port, with the root path.
fn origin(url: &Url) -> Url {
    let mut base = url.clone();
    let _ = base.set_username("");
    let _ = base.set_password(None);
    base.set_path("/");
    base.set_query(None);
    base.set_fragment(None);
    base.path_segments_mut().expect("http URL").pop_if_empty();
    base
}

fn path_segments(url: &Url) -> Vec<String> {
    url.path_segments().map(|s| s.filter(|s| !s.is_empty()).map(decode).collect()).unwrap_or_default()
}

fn query(url: &Url, key: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == key).map(|(_, v)| v.into_owned())
}

fn decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text).decode_utf8_lossy().into_owned()
}

/// A channel URL with its secrets masked (user info, path and query; all of a Telegram or
/// Slack URL but its scheme), for `config show` and error messages.
pub fn mask(text: &str) -> String {
    let Some((scheme, rest)) = text.split_once("://") else { return "***".into() };
    let (rest, query) = rest.split_once('?').map_or((rest, false), |(r, _)| (r, true));
    let (authority, path) = rest.split_once('/').map_or((rest, false), |(a, p)| (a, !p.is_empty()));
    let (userinfo, host) = authority.rsplit_once('@').map_or((false, authority), |(_, h)| (true, h));
    let host = if matches!(scheme, "tgram" | "slack") { "***" } else { host };
    format!(
        "{scheme}://{}{host}{}{}",
        if userinfo { "***@" } else { "" },
        if path { "/***" } else { "" },
        if query { "?***" } else { "" }
    )
}

// ------------------------------------------------------------------------------------ filtering

impl Filter {
    /// Whether `alert` goes to the channel; `sources` is how many articles state its claim now.
    pub fn admits(&self, alert: &Alert, sources: usize) -> bool {
        let text = alert.claim.text.to_lowercase();
        let title = alert.article.title.as_deref().unwrap_or("").to_lowercase();
        let lang_ok = self.langs.is_empty() || self.langs.contains(&alert.claim.lang);
        let entity_ok = self.entities.is_empty()
            || self
                .entities
                .iter()
                .any(|e| alert.entities.iter().any(|a| a.to_lowercase() == *e) || text.contains(e.as_str()));
        let keyword_ok = self.keywords.is_empty()
            || self.keywords.iter().any(|k| text.contains(k.as_str()) || title.contains(k.as_str()));
        let story_ok = self.story.as_ref().is_none_or(|s| *s == alert.story_id);
        lang_ok && entity_ok && keyword_ok && story_ok && sources >= self.min_sources
    }
}

// ------------------------------------------------------------------------------------- messages

/// What a channel sends for one alert or one digest.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The alert id, or the digest id of its alerts: the idempotency key where there is one.
    pub id: String,
    pub subject: String,
    pub text: String,
    /// The same as an HTML fragment, every string from an article escaped.
    pub html: String,
    /// The claims' languages, sorted.
    pub langs: Vec<String>,
    /// Whether one of the claims opened a new story.
    pub new_story: bool,
}

/// Composes the message for `alerts` (at least one); `digest` forces the digest form.
pub fn compose(alerts: &[&Alert], digest: bool) -> Message {
    let one = alerts.len() == 1 && !digest;
    let id = if one { alerts[0].id.clone() } else { digest_id(alerts.iter().map(|a| a.id.as_str())) };
    let mut langs: Vec<String> = alerts.iter().map(|a| a.claim.lang.clone()).collect();
    langs.sort();
    langs.dedup();
    let subject = if one {
        let about = alerts[0].article.title.clone().unwrap_or_else(|| short(&alerts[0].claim.text, 80));
        format!("New claim: {about}")
    } else {
        format!("{} new claims ({})", alerts.len(), langs.join(", "))
    };
    let mut text = String::new();
    let mut html = String::new();
    for a in alerts {
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        let title = a.article.title.as_deref().unwrap_or("(untitled)");
        text.push_str(&format!(
            "{} [{}]\n{} — {}\nfirst seen {} · {}",
            a.claim.text,
            a.claim.lang,
            title,
            a.article.url,
            a.detected_at.format("%Y-%m-%d %H:%M UTC"),
            a.article.verdict.as_str().replace('_', " ")
        ));
        html.push_str(&format!(
            "<p><b>{}</b> [{}]<br><a href=\"{}\">{}</a><br><small>first seen {} · {}</small></p>",
            escape(&a.claim.text),
            escape(&a.claim.lang),
            escape(&a.article.url),
            escape(title),
            a.detected_at.format("%Y-%m-%d %H:%M UTC"),
            a.article.verdict.as_str().replace('_', " ")
        ));
    }
    let new_story = alerts.iter().any(|a| a.article.verdict == ArticleVerdict::NewStory);
    Message { id, subject, text, html, langs, new_story }
}

/// At most `max` characters of `text`, cut at a character boundary with an ellipsis.
fn short(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

// ------------------------------------------------------------------------------------- the sink

/// One push channel's drain side: filter, compose, send, classify the answer.
pub struct ChannelSink {
    config: ChannelConfig,
    client: reqwest::Client,
    mailer: Option<AsyncSmtpTransport<Tokio1Executor>>,
    backoff: Backoff,
    provenance: sled::Tree,
}

impl ChannelSink {
    pub fn new(config: ChannelConfig, user_agent: &str, store: &Store) -> anyhow::Result<ChannelSink> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .user_agent(user_agent)
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()?;
        let mailer = match &config.target {
            Target::Email(e) => Some(mailer(e, config.timeout)?),
            _ => None,
        };
        let backoff = Backoff::new(config.min_backoff, config.max_backoff);
        Ok(ChannelSink { config, client, mailer, backoff, provenance: store.tree(trees::CLAIM_PROVENANCE)? })
    }

    fn digest(&self) -> bool {
        !self.config.digest_window.is_zero()
    }

    /// Sources stating the claim now (read only when the filter asks).
    fn sources(&self, alert: &Alert) -> usize {
        if self.config.filter.min_sources <= 1 {
            return alert.sources.len().max(1);
        }
        match crate::provenance::provenance(&self.provenance, &alert.id) {
            Ok(Some(p)) => p.source_count as usize,
            _ => alert.sources.len().max(1),
        }
    }

    async fn send(&self, message: &Message) -> Answer {
        let timeout = self.config.timeout;
        let request = match &self.config.target {
            Target::Ntfy { base, topic, auth, priority } => {
                let priority = priority.unwrap_or(if message.new_story { 4 } else { 3 });
                let request = self
                    .client
                    .post(join(base, &[topic]))
                    .header("Title", header_text(&message.subject))
                    .header("Tags", message.langs.join(","))
                    .header("Priority", priority.to_string())
                    .header("X-Sequence-ID", &message.id)
                    .body(short(&message.text, SHORT_MESSAGE));
                match auth {
                    Some(Auth::Bearer(token)) => request.bearer_auth(token),
                    Some(Auth::Basic(user, password)) => request.basic_auth(user, Some(password)),
                    None => request,
                }
            }
            Target::Slack { url } => json(
                self.client.post(url.clone()),
                serde_json::json!({ "text": slack_escape(&message.text) }),
            ),
            Target::Telegram { api, token, chat_id } => {
                let url = join(api, &[&format!("bot{token}"), "sendMessage"]);
                json(
                    self.client.post(url),
                    serde_json::json!({
                        "chat_id": chat_id,
                        "text": short(&message.text, SHORT_MESSAGE),
                        "disable_web_page_preview": true,
                    }),
                )
            }
            Target::Matrix { base, token, room } => {
                let path = ["_matrix", "client", "v3", "rooms", room, "send", "m.room.message", &message.id];
                json(
                    self.client.put(join(base, &path)).bearer_auth(token),
                    serde_json::json!({
                        "msgtype": "m.text",
                        "body": message.text,
                        "format": "org.matrix.custom.html",
                        "formatted_body": message.html,
                    }),
                )
            }
            Target::Email(email) => return self.mail(email, message).await,
        };
        http_answer(request.send().await, timeout).await
    }

    async fn mail(&self, email: &EmailTarget, message: &Message) -> Answer {
        let mailer = self.mailer.as_ref().expect("an email channel has a mailer");
        let parse = |a: &str| a.parse::<Mailbox>().map_err(|e| Answer::Refused(format!("{a:?}: {e}")));
        let mut builder = lettre::Message::builder()
            .subject(&message.subject)
            .message_id(Some(format!("<{}@claimwatch>", message.id)));
        match parse(&email.from) {
            Ok(from) => builder = builder.from(from),
            Err(refused) => return refused,
        }
        for to in &email.to {
            match parse(to) {
                Ok(to) => builder = builder.to(to),
                Err(refused) => return refused,
            }
        }
        let html = format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>{}</title></head><body>{}</body></html>",
            escape(&message.subject),
            message.html
        );
        let mail = match builder.multipart(MultiPart::alternative_plain_html(message.text.clone(), html)) {
            Ok(mail) => mail,
            Err(error) => return Answer::Refused(format!("cannot build the message: {error}")),
        };
        match tokio::time::timeout(self.config.timeout, mailer.send(mail)).await {
            Err(_) => Answer::Retry(None, format!("SMTP {}:{} timed out", email.host, email.port)),
            Ok(Ok(_)) => Answer::Delivered,
            Ok(Err(error)) => {
                let code = error.status().map(|c| c.to_string()).unwrap_or_default();
                let why = format!("SMTP {}:{}: {error}", email.host, email.port);
                if matches!(code.as_str(), "530" | "534" | "535") {
                    Answer::Unauthorized(why)
                } else if error.is_permanent() {
                    Answer::Refused(why)
                } else {
                    Answer::Retry(None, why)
                }
            }
        }
    }
}

fn mailer(email: &EmailTarget, timeout: Duration) -> anyhow::Result<AsyncSmtpTransport<Tokio1Executor>> {
    let mut builder = match email.security {
        Security::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&email.host)?,
        Security::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&email.host)?,
        Security::Plain => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&email.host),
    };
    builder = builder.port(email.port).timeout(Some(timeout));
    if let Some((user, password)) = &email.login {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    Ok(builder.build())
}

fn json(request: reqwest::RequestBuilder, body: serde_json::Value) -> reqwest::RequestBuilder {
    request.header(reqwest::header::CONTENT_TYPE, "application/json").body(body.to_string())
}

/// `base` with `segments` appended, each percent-encoded as one segment.
fn join(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    url.path_segments_mut().expect("http URL").pop_if_empty().extend(segments);
    url
}

/// An HTTP header value: ASCII as is, anything else as an RFC 2047 encoded word (ntfy decodes it).
fn header_text(text: &str) -> String {
    let text = short(text, 200).replace(['\r', '\n'], " ");
    if text.is_ascii() {
        return text;
    }
    use base64::Engine as _;
    format!("=?UTF-8?B?{}?=", base64::engine::general_purpose::STANDARD.encode(text))
}

/// Slack's three control characters in message text.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

impl Sink for ChannelSink {
    fn kind(&self) -> SinkKind {
        SinkKind::Channel(self.config.id)
    }

    fn label(&self) -> String {
        format!("channel:{}", self.config.label)
    }

    fn max_batch(&self) -> usize {
        batch_for(self.config.digest_window)
    }

    fn hold(&self, batch: &[Pending]) -> Duration {
        digest_hold(batch, self.config.digest_window)
    }

    async fn deliver(&mut self, batch: &[Pending]) -> Outcome {
        let service = self.config.target.service();
        if self.backoff.give_up(service, &self.config.label, batch, self.config.give_up_after) {
            return Outcome::GaveUp;
        }
        let chosen: Vec<&Alert> = batch
            .iter()
            .map(|p| &p.alert)
            .filter(|a| self.config.filter.admits(a, self.sources(a)))
            .collect();
        if chosen.is_empty() {
            tracing::debug!(channel = %self.config.label, alerts = batch.len(), "alerts left out by the channel's filter");
            return Outcome::Delivered;
        }
        let message = compose(&chosen, self.digest());
        let answer = self.send(&message).await;
        self.backoff.settle(service, &self.config.label, &message.id, answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(url: &str, expected: &str) {
        let got = match Target::parse(url) {
            Ok(target) => format!("{target:?}"),
            Err(e) => format!("error: {e}"),
        };
        assert!(got.contains(expected), "{url}: {got}");
    }

    #[test]
    fn channel_urls_parse_by_scheme() {
        check("ntfys://tk_abc@ntfy.sh/alerts", "Ntfy { base: Url { scheme: \"https\"");
        check("ntfys://tk_abc@ntfy.sh/alerts", "topic: \"alerts\", auth: Some(Bearer(\"tk_abc\"))");
        check("ntfy://u:p@127.0.0.1:8080/sub/alerts?priority=high", "path: \"/sub\", query: None, fragment: None }, topic: \"alerts\", auth: Some(Basic(\"u\", \"p\")), priority: Some(4)");
        check("ntfy://127.0.0.1:8080/", "error: invalid channel URL \"ntfy://127.0.0.1:8080\"");
        check("slack://T1/B2/xyz", "hooks.slack.com");
        check("slack://T1/B2", "error:");
        check("tgram://123456:ABC-def/-100123", "token: \"123456:ABC-def\", chat_id: \"-100123\"");
        check("tgram://123456:ABC-def/-100123?api=http://127.0.0.1:9/", "127.0.0.1");
        check("tgram://nocolon/1", "error:");
        check(
            "matrixs://syt_tok@matrix.org/!room:matrix.org",
            "token: \"syt_tok\", room: \"!room:matrix.org\"",
        );
        check("matrixs://syt_tok@matrix.org/%23alias:matrix.org", "error:");
        check("mailtos://me%40x.org:pw@smtp.x.org?to=a@x.org", "port: 465, security: Tls");
        check("mailtos://me%40x.org:pw@smtp.x.org?to=a@x.org", "from: \"me@x.org\"");
        check("mailto://smtp.x.org?to=a@x.org&from=b@x.org", "port: 587, security: StartTls");
        check("mailto://127.0.0.1:2525?tls=none&to=a@x.org&from=b@x.org", "port: 2525, security: Plain");
        check(
            "mailto://smtp.x.org?from=b@x.org",
            "error: invalid channel URL \"mailto://smtp.x.org?***\": no recipient",
        );
        check("mailto://smtp.x.org?to=not an address&from=b@x.org", "error:");
        check("gopher://x/y", "error: unknown channel scheme \"gopher\"");
        check("just text", "error:");
    }

    #[test]
    fn masking_hides_tokens_topics_and_credentials() {
        assert_eq!(mask("ntfys://tk@ntfy.sh/secret-topic"), "ntfys://***@ntfy.sh/***");
        assert_eq!(mask("tgram://123:ABC/42"), "tgram://***/***");
        assert_eq!(mask("slack://T/B/C"), "slack://***/***");
        assert_eq!(mask("mailtos://u:p@smtp.x.org?to=a@x.org"), "mailtos://***@smtp.x.org?***");
        assert_eq!(mask("matrixs://tok@m.org/!r:m.org"), "matrixs://***@m.org/***");
    }

    fn alert(lang: &str, text: &str) -> Alert {
        serde_json::from_value(serde_json::json!({
            "kind": "new_claim", "id": "0123456789abcdef", "detected_at": "2026-12-05T10:00:00Z",
            "claim": {"text": text, "lang": lang},
            "article": {"url": "https://x.org/a?b=1&c=<2>", "title": "Talks <b>", "feed": null,
                        "published": null, "verdict": "new_story"},
            "story_id": "s-1", "entities": ["Zelensky"]
        }))
        .unwrap()
    }

    #[test]
    fn filters_match_language_entity_keyword_story_and_sources() {
        let a = alert("uk", "Zelensky met the envoys on the ceasefire");
        let all = Filter::default();
        assert!(all.admits(&a, 1));
        let langs = Filter { langs: vec!["ro".into()], ..Filter::default() };
        assert!(!langs.admits(&a, 1));
        let entity = Filter { entities: vec!["zelensky".into()], ..Filter::default() };
        assert!(entity.admits(&a, 1));
        let keyword = Filter { keywords: vec!["truce".into(), "ceasefire".into()], ..Filter::default() };
        assert!(keyword.admits(&a, 1));
        let other = Filter { keywords: vec!["truce".into()], ..Filter::default() };
        assert!(!other.admits(&a, 1));
        let story = Filter { story: Some("s-2".into()), ..Filter::default() };
        assert!(!story.admits(&a, 1));
        let spread = Filter { min_sources: 2, ..Filter::default() };
        assert!(!spread.admits(&a, 1) && spread.admits(&a, 3));
    }

    #[test]
    fn messages_escape_html_and_digests_have_a_stable_id() {
        let a = alert("uk", "Claim with <script>");
        let one = compose(&[&a], false);
        assert_eq!(one.id, "0123456789abcdef");
        assert_eq!(one.subject, "New claim: Talks <b>");
        assert!(
            one.html.contains("Claim with &lt;script&gt;") && one.html.contains("c=&lt;2&gt;"),
            "{}",
            one.html
        );
        assert!(!one.html.contains("<script>"));
        assert!(one.new_story);
        let digest = compose(&[&a, &a], true);
        assert!(digest.id.starts_with("digest-"));
        assert_eq!(digest.id, compose(&[&a, &a], true).id);
        assert_eq!(digest.subject, "2 new claims (uk)");
    }

    #[test]
    fn non_ascii_titles_are_encoded_words() {
        assert_eq!(header_text("plain"), "plain");
        assert_eq!(header_text("Київ"), "=?UTF-8?B?0JrQuNGX0LI=?=");
    }
}
