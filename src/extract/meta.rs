//! Page metadata: title, author, published date, canonical URL and declared language, from
//! JSON-LD, `<meta>`/OpenGraph tags, `<time>` elements and the URL, in that order of trust.
//!
//! One pass over the elements collects every candidate; the choice between them is a plain
//! priority list per field. Dates are normalised to UTC and a date in the future is never
//! returned (it is skipped in favour of the next source), because a wrong "future" date would
//! keep an article at the top of every listing.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use scraper::{Html, Node};
use serde_json::Value;
use url::Url;

/// What JSON-LD says about the article, if it describes one.
#[derive(Debug, Default, Clone)]
pub struct JsonLd {
    pub headline: Option<String>,
    pub body: Option<String>,
    pub published: Option<String>,
    pub author: Option<String>,
    pub lang: Option<String>,
    pub url: Option<String>,
}

const ARTICLE_TYPES: &[&str] = &[
    "NewsArticle",
    "Article",
    "ReportageNewsArticle",
    "AnalysisNewsArticle",
    "OpinionNewsArticle",
    "BackgroundNewsArticle",
    "LiveBlogPosting",
    "BlogPosting",
    "Report",
    "ScholarlyArticle",
    "TechArticle",
    "SocialMediaPosting",
    "WebPage",
];

/// Parses the JSON-LD blocks and keeps the most article-like object.
pub fn json_ld(blocks: &[String]) -> JsonLd {
    let mut best: Option<(usize, JsonLd)> = None;
    for raw in blocks {
        let raw = raw.trim().trim_start_matches("<![CDATA[").trim_end_matches("]]>").trim();
        let Ok(value) = serde_json::from_str::<Value>(raw) else { continue };
        let mut objects = Vec::new();
        collect_objects(&value, &mut objects, 0);
        for object in objects {
            let Some(rank) = type_rank(object) else { continue };
            let found = JsonLd {
                headline: str_field(object, "headline").or_else(|| str_field(object, "name")),
                body: str_field(object, "articleBody").or_else(|| str_field(object, "text")),
                published: str_field(object, "datePublished").or_else(|| str_field(object, "dateCreated")),
                author: object.get("author").and_then(author_name),
                lang: object.get("inLanguage").and_then(|v| match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Object(o) => {
                        o.get("alternateName").or(o.get("name")).and_then(|n| n.as_str()).map(String::from)
                    }
                    _ => None,
                }),
                url: str_field(object, "url").or_else(|| {
                    object.get("mainEntityOfPage").and_then(|m| match m {
                        Value::String(s) => Some(s.clone()),
                        Value::Object(o) => o.get("@id").and_then(|v| v.as_str()).map(String::from),
                        _ => None,
                    })
                }),
            };
            if best.as_ref().is_none_or(|(r, _)| rank < *r) {
                best = Some((rank, found));
            }
        }
    }
    best.map(|(_, j)| j).unwrap_or_default()
}

fn collect_objects<'a>(value: &'a Value, out: &mut Vec<&'a serde_json::Map<String, Value>>, depth: usize) {
    if depth > 8 {
        return;
    }
    match value {
        Value::Array(items) => items.iter().for_each(|v| collect_objects(v, out, depth + 1)),
        Value::Object(map) => {
            out.push(map);
            if let Some(graph) = map.get("@graph") {
                collect_objects(graph, out, depth + 1);
            }
            if let Some(main) = map.get("mainEntity") {
                collect_objects(main, out, depth + 1);
            }
        }
        _ => {}
    }
}

/// Lower is better: a news article beats a generic web page.
fn type_rank(object: &serde_json::Map<String, Value>) -> Option<usize> {
    let types: Vec<&str> = match object.get("@type")? {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(|v| v.as_str()).collect(),
        _ => return None,
    };
    types.iter().filter_map(|t| ARTICLE_TYPES.iter().position(|a| a == t)).min()
}

fn str_field(object: &serde_json::Map<String, Value>, key: &str) -> Option<String> {
    match object.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Array(a) => a.iter().find_map(|v| v.as_str()).map(|s| s.trim().to_string()),
        _ => None,
    }
}

fn author_name(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => clean_author(s),
        Value::Object(o) => o.get("name").and_then(author_name),
        Value::Array(items) => {
            let names: Vec<String> = items.iter().filter_map(author_name).collect();
            (!names.is_empty()).then(|| names.join(", "))
        }
        _ => None,
    }
}

fn clean_author(s: &str) -> Option<String> {
    let s = s.trim();
    if s.is_empty() || s.starts_with("http://") || s.starts_with("https://") || s.len() > 200 {
        return None;
    }
    Some(s.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Everything the single pass over the document collects.
#[derive(Debug, Default)]
pub struct Collected {
    pub html_lang: Option<String>,
    pub title_tag: Option<String>,
    pub h1: Option<String>,
    /// (lower-case name or property, content)
    pub metas: Vec<(String, String)>,
    pub canonical: Option<String>,
    pub rel_author: Option<String>,
    pub times: Vec<String>,
}

impl Collected {
    pub fn meta(&self, keys: &[&str]) -> Option<&str> {
        keys.iter().find_map(|k| {
            self.metas.iter().find(|(n, c)| n == k && !c.trim().is_empty()).map(|(_, c)| c.trim())
        })
    }
}

pub fn collect(doc: &Html) -> Collected {
    let mut c = Collected::default();
    for node in doc.tree.root().descendants() {
        let Node::Element(e) = node.value() else { continue };
        match e.name() {
            "html" => c.html_lang = e.attr("lang").or(e.attr("xml:lang")).map(String::from),
            "title" if c.title_tag.is_none() => {
                c.title_tag = Some(text_of(node));
            }
            "h1" if c.h1.is_none() => {
                let t = text_of(node);
                if !t.is_empty() {
                    c.h1 = Some(t);
                }
            }
            "meta" => {
                let key =
                    e.attr("property").or(e.attr("name")).or(e.attr("itemprop")).or(e.attr("http-equiv"));
                if let (Some(k), Some(v)) = (key, e.attr("content")) {
                    c.metas.push((k.to_ascii_lowercase(), v.to_string()));
                }
            }
            "link" => {
                let rel = e.attr("rel").unwrap_or("").to_ascii_lowercase();
                if rel.split_whitespace().any(|r| r == "canonical") && c.canonical.is_none() {
                    c.canonical = e.attr("href").map(String::from);
                }
            }
            "a" if c.rel_author.is_none() => {
                let rel = e.attr("rel").unwrap_or("");
                if rel.split_whitespace().any(|r| r.eq_ignore_ascii_case("author")) {
                    let t = text_of(node);
                    if !t.is_empty() && t.len() < 100 {
                        c.rel_author = Some(t);
                    }
                }
            }
            "time" => {
                if let Some(dt) = e.attr("datetime") {
                    c.times.push(dt.to_string());
                }
            }
            _ => {}
        }
        if let Some(v) = e.attr("itemprop").filter(|p| *p == "datePublished") {
            let _ = v;
            if let Some(d) = e.attr("datetime").or(e.attr("content")) {
                c.metas.push(("itemprop:datepublished".into(), d.to_string()));
            }
        }
    }
    c
}

fn text_of(node: ego_tree::NodeRef<'_, Node>) -> String {
    let mut s = String::new();
    for d in node.descendants() {
        if let Node::Text(t) = d.value() {
            s.push_str(t);
        }
    }
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub fn title(c: &Collected, ld: &JsonLd) -> Option<String> {
    let og =
        c.meta(&["og:title", "twitter:title"]).map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "));
    let tag = c.title_tag.clone().filter(|t| !t.is_empty());
    // The page's own h1 is usually the cleanest; JSON-LD and OpenGraph next; <title> carries
    // the site name, which we strip when another source confirms the article part.
    let candidates = [c.h1.clone(), ld.headline.clone(), og, tag.map(|t| strip_site_suffix(&t))];
    candidates.into_iter().flatten().find(|t| t.chars().count() >= 3 && t.chars().count() <= 400)
}

fn strip_site_suffix(title: &str) -> String {
    for sep in [" | ", " – ", " — ", " - ", " :: ", " « ", " » "] {
        if let Some(at) = title.rfind(sep) {
            let head = &title[..at];
            if head.chars().count() >= 20 {
                return head.trim().to_string();
            }
        }
    }
    title.to_string()
}

pub fn author(c: &Collected, ld: &JsonLd) -> Option<String> {
    ld.author
        .clone()
        .or_else(|| {
            c.meta(&["author", "article:author", "dc.creator", "byl", "parsely-author", "sailthru.author"])
                .and_then(clean_author)
        })
        .or_else(|| c.rel_author.clone())
        .map(|a| a.trim_start_matches("By ").trim_start_matches("by ").to_string())
}

pub fn canonical(c: &Collected, ld: &JsonLd, base: &Url) -> Option<Url> {
    let candidates = [c.canonical.as_deref(), c.meta(&["og:url"]), ld.url.as_deref()];
    candidates.into_iter().flatten().find_map(|href| {
        let url = base.join(href.trim()).ok()?;
        matches!(url.scheme(), "http" | "https").then_some(url)
    })
}

pub fn lang(c: &Collected, ld: &JsonLd) -> Option<String> {
    let candidates = [
        c.html_lang.as_deref(),
        ld.lang.as_deref(),
        c.meta(&["content-language", "language", "dc.language"]),
        c.meta(&["og:locale"]),
    ];
    candidates.into_iter().flatten().find_map(normalise_lang)
}

/// "uk-UA", "ru_RU", "EN" → "uk", "ru", "en"; anything that is not a 2–3 letter code → None.
pub fn normalise_lang(tag: &str) -> Option<String> {
    let primary = tag.trim().split(['-', '_', ',', ';', ' ']).next()?.to_ascii_lowercase();
    (matches!(primary.len(), 2 | 3) && primary.chars().all(|c| c.is_ascii_lowercase())).then_some(primary)
}

pub fn published(
    c: &Collected,
    ld: &JsonLd,
    base: &Url,
    canonical: Option<&Url>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let metas = c.meta(&[
        "article:published_time",
        "og:article:published_time",
        "itemprop:datepublished",
        "datepublished",
        "date",
        "dc.date",
        "dc.date.issued",
        "dcterms.created",
        "dcterms.issued",
        "pubdate",
        "publishdate",
        "publish-date",
        "publish_date",
        "article.published",
        "sailthru.date",
        "parsely-pub-date",
        "og:updated_time",
        "article:modified_time",
    ]);
    let sources =
        [ld.published.as_deref(), metas].into_iter().flatten().chain(c.times.iter().map(String::as_str));
    for s in sources {
        if let Some(d) = parse_date(s).filter(|d| *d <= now) {
            return Some(d);
        }
    }
    [canonical, Some(base)].into_iter().flatten().find_map(|u| date_from_url(u.path())).filter(|d| *d <= now)
}

/// RFC 3339 and its common sloppy relatives (space for `T`, no zone, no seconds, date only,
/// compact `+0300` offsets), and RFC 2822. A zone-less time is taken as UTC.
pub fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if s.is_empty() || s.len() > 64 {
        return None;
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    if let Ok(d) = DateTime::parse_from_rfc2822(s) {
        return Some(d.with_timezone(&Utc));
    }
    let t = s.replacen(' ', "T", 1);
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M:%S%z",
        "%Y-%m-%dT%H:%M%z",
        "%Y-%m-%dT%H:%M:%S%.f%:z",
        "%Y-%m-%dT%H:%M%:z",
    ] {
        if let Ok(d) = DateTime::parse_from_str(&t, fmt) {
            return Some(d.with_timezone(&Utc));
        }
    }
    let t_noz = t.trim_end_matches('Z').trim_end_matches(" UTC").trim_end_matches("UTC");
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"] {
        if let Ok(d) = NaiveDateTime::parse_from_str(t_noz, fmt) {
            return Some(Utc.from_utc_datetime(&d));
        }
    }
    for fmt in ["%Y-%m-%d", "%Y/%m/%d", "%d.%m.%Y", "%Y%m%d"] {
        let head = s.get(..10).unwrap_or(s);
        if let Ok(d) = NaiveDate::parse_from_str(head, fmt).or_else(|_| NaiveDate::parse_from_str(s, fmt)) {
            return d.and_hms_opt(0, 0, 0).map(|d| Utc.from_utc_datetime(&d));
        }
    }
    None
}

/// A date in the URL path: `/2024/05/17/`, `/2024-05-17-`, `/20240517/`.
pub fn date_from_url(path: &str) -> Option<DateTime<Utc>> {
    let digits_at = |s: &str, n: usize| s.len() >= n && s.as_bytes()[..n].iter().all(|b| b.is_ascii_digit());
    let bytes = path.as_bytes();
    for i in 0..bytes.len() {
        if i > 0 && bytes[i - 1].is_ascii_digit() {
            continue;
        }
        if !path.is_char_boundary(i) {
            continue;
        }
        let rest = &path[i..];
        if !digits_at(rest, 4) {
            continue;
        }
        let year: i32 = rest[..4].parse().ok()?;
        if !(1995..=2100).contains(&year) {
            continue;
        }
        let tail = &rest[4..];
        let (month, day) = if let Some(t) = tail.strip_prefix(['/', '-', '_']) {
            if !digits_at(t, 2) {
                continue;
            }
            let month: u32 = t[..2].parse().ok()?;
            let t = &t[2..];
            let day =
                t.strip_prefix(['/', '-', '_']).filter(|t| digits_at(t, 2)).and_then(|t| t[..2].parse().ok());
            (month, day)
        } else if digits_at(tail, 4) && !tail[4..].starts_with(|c: char| c.is_ascii_digit()) {
            (tail[..2].parse().ok()?, tail[2..4].parse().ok())
        } else {
            continue;
        };
        let Some(day) = day else { continue };
        if let Some(d) = NaiveDate::from_ymd_opt(year, month, day).and_then(|d| d.and_hms_opt(0, 0, 0)) {
            return Some(Utc.from_utc_datetime(&d));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(input: &str, expected: Option<&str>) {
        assert_eq!(parse_date(input).map(|d| d.to_rfc3339()), expected.map(String::from), "{input}");
    }

    #[test]
    fn date_formats() {
        check("2024-05-17T10:20:30+03:00", Some("2024-05-17T07:20:30+00:00"));
        check("2024-05-17T10:20:30Z", Some("2024-05-17T10:20:30+00:00"));
        check("2024-05-17 10:20:30", Some("2024-05-17T10:20:30+00:00"));
        check("2024-05-17T10:20:30.123+0200", Some("2024-05-17T08:20:30.123+00:00"));
        check("2024-05-17T10:20", Some("2024-05-17T10:20:00+00:00"));
        check("2024-05-17", Some("2024-05-17T00:00:00+00:00"));
        check("17.05.2024", Some("2024-05-17T00:00:00+00:00"));
        check("Fri, 17 May 2024 10:20:30 +0000", Some("2024-05-17T10:20:30+00:00"));
        check("yesterday", None);
        check("", None);
    }

    #[track_caller]
    fn check_url(path: &str, expected: Option<&str>) {
        assert_eq!(
            date_from_url(path).map(|d| d.format("%Y-%m-%d").to_string()),
            expected.map(String::from),
            "{path}"
        );
    }

    #[test]
    fn dates_in_urls() {
        check_url("/news/2024/05/17/story-slug", Some("2024-05-17"));
        check_url("/2024-05-17-story", Some("2024-05-17"));
        check_url("/news/20240517/story", Some("2024-05-17"));
        check_url("/news/123456789/story", None);
        check_url("/2024/13/40/x", None);
        check_url("/про/2024/05/17/", Some("2024-05-17"));
    }

    #[track_caller]
    fn check_lang(tag: &str, expected: Option<&str>) {
        assert_eq!(normalise_lang(tag).as_deref(), expected, "{tag}");
    }

    #[test]
    fn language_tags() {
        check_lang("uk-UA", Some("uk"));
        check_lang("ru_RU", Some("ru"));
        check_lang("EN", Some("en"));
        check_lang("", None);
        check_lang("x", None);
    }

    #[test]
    fn json_ld_graph_and_authors() {
        let raw = r#"{"@context":"https://schema.org","@graph":[{"@type":"WebSite","name":"Site"},
            {"@type":"NewsArticle","headline":"H","datePublished":"2024-05-17T10:00:00Z",
             "author":[{"@type":"Person","name":"A One"},{"name":"B Two"}],"inLanguage":"uk-UA",
             "articleBody":"Body."}]}"#;
        let ld = json_ld(&[raw.to_string()]);
        assert_eq!(ld.headline.as_deref(), Some("H"));
        assert_eq!(ld.author.as_deref(), Some("A One, B Two"));
        assert_eq!(ld.lang.as_deref(), Some("uk-UA"));
        assert_eq!(ld.body.as_deref(), Some("Body."));
        let _ = json_ld(&["{not json".to_string(), "[]".to_string(), "null".to_string()]);
    }
}
