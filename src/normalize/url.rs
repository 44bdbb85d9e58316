//! URL canonicalisation: the one form of an article's address under which the store knows it.
//! It lower-cases the host, drops the fragment, default ports, tracking parameters (`utm_*`,
//! `fbclid`, `gclid`, `yclid`, `mc_cid`, …), AMP and mobile variants and trailing slashes, and
//! sorts the remaining query parameters. It also picks between a feed link and the page's own
//! `rel=canonical` / `og:url`, which wins unless it looks like a CMS mistake.
//!
//! What it does not do: fetch anything, or guess that two different paths are the same page.
//! Trade-off: [`key`] folds `http`/`https` and `www.`/`m.` hosts together, which merges two
//! distinct sites only in the rare case where they serve different content under the same path.

use url::Url;

/// Query parameters that only track a click and never select content.
const TRACKING_PARAMS: &[&str] = &[
    "fbclid",
    "gclid",
    "gclsrc",
    "dclid",
    "gbraid",
    "wbraid",
    "yclid",
    "msclkid",
    "mc_cid",
    "mc_eid",
    "_ga",
    "_gl",
    "_hsenc",
    "_hsmi",
    "igshid",
    "ref_src",
    "ref_url",
    "ocid",
    "cmpid",
    "cmp",
    "s_cid",
    "wt_mc",
    "wt.mc_id",
    "xtor",
    "ncid",
    "sr_share",
    "ito",
    "at_medium",
    "at_campaign",
    "at_source",
    "at_content",
    "at_platform",
    "__twitter_impression",
    "twclid",
    "ttclid",
    "li_fat_id",
    "mkt_tok",
    "oly_anon_id",
    "oly_enc_id",
    "vero_id",
    "spm",
    "from",
    "amp",
    "outputtype",
    "amp_js_v",
    "usqp",
];

/// Host prefixes of mobile and AMP mirrors of the same site.
const MIRROR_PREFIXES: &[&str] = &["www.", "m.", "mobile.", "amp.", "www-m."];

fn is_tracking(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with("utm_") || lower.starts_with("pk_") || TRACKING_PARAMS.contains(&lower.as_str())
}

/// The canonical form of `url`: an AMP cache address unwrapped, fragment and tracking parameters
/// dropped, AMP path variants removed, remaining parameters sorted, trailing slash dropped.
/// Non-http(s) URLs (seeds, local files) only lose their fragment.
pub fn canonicalize(url: &Url) -> Url {
    let mut url = url.clone();
    url.set_fragment(None);
    if !matches!(url.scheme(), "http" | "https") {
        return url;
    }
    if let Some(host) = url.host_str().map(|h| h.trim_end_matches('.').to_ascii_lowercase()) {
        let _ = url.set_host(Some(&host));
    }
    let on_amp_cache = is_amp_cache(&url);
    if on_amp_cache {
        if let Some(publisher) = unwrap_amp_cache(&url) {
            return canonicalize(&publisher); // not an AMP cache address: no deeper recursion
        }
    }
    let mut params: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !is_tracking(k))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    params.sort();
    params.dedup();
    if params.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(params);
    }
    // A cache address that does not unwrap keeps its path: trimming it (a trailing slash) could
    // make it unwrap on the next pass.
    if !on_amp_cache {
        let path = canonical_path(url.path());
        url.set_path(&path);
    }
    url
}

/// The key under which the store indexes a URL: the canonical form without scheme and without
/// `www.`/`m.`/`amp.` host prefixes, so that the http, https, mobile and AMP addresses of one
/// page share a key.
pub fn key(url: &Url) -> String {
    let canonical = canonicalize(url);
    if !matches!(canonical.scheme(), "http" | "https") {
        return canonical.to_string();
    }
    let mut host = canonical.host_str().unwrap_or("");
    for prefix in MIRROR_PREFIXES {
        if let Some(rest) = host.strip_prefix(prefix) {
            if rest.contains('.') {
                host = rest;
                break;
            }
        }
    }
    let mut key = String::with_capacity(canonical.as_str().len());
    key.push_str(host);
    if let Some(port) = canonical.port() {
        key.push(':');
        key.push_str(&port.to_string());
    }
    key.push_str(canonical.path());
    if let Some(query) = canonical.query() {
        key.push('?');
        key.push_str(query);
    }
    key
}

/// The address an article is known by: the page's `rel=canonical` / `og:url` when it gives one
/// that is plausible, else the feed link. A canonical pointing at the site's home page while the
/// link has a path, or at another scheme than http(s), is a common CMS mistake and is ignored.
pub fn choose(link: &Url, page_canonical: Option<&Url>) -> Url {
    match page_canonical {
        Some(canonical)
            if matches!(canonical.scheme(), "http" | "https")
                && canonical.host_str().is_some()
                && !(canonical_path(canonical.path()) == "/" && canonical_path(link.path()) != "/") =>
        {
            canonicalize(canonical)
        }
        _ => canonicalize(link),
    }
}

/// `https://www-example-com.cdn.ampproject.org/c/s/www.example.com/a/b` → the publisher's URL.
/// An AMP cache address wrapped in another is left alone: unwrapping one layer per pass would
/// give it a different canonical form on every pass.
fn unwrap_amp_cache(url: &Url) -> Option<Url> {
    let path = url.path();
    let mut rest = path.strip_prefix("/c/").or_else(|| path.strip_prefix("/v/"))?;
    let scheme = match rest.strip_prefix("s/") {
        Some(r) => {
            rest = r;
            "https"
        }
        None => "http",
    };
    let mut target = Url::parse(&format!("{scheme}://{rest}")).ok()?;
    target.set_query(url.query());
    (!is_amp_cache(&target)).then_some(target)
}

/// Whether `url` is on the AMP cache (`*.cdn.ampproject.org`, with or without a trailing dot;
/// the url crate already lower-cases http(s) hosts).
fn is_amp_cache(url: &Url) -> bool {
    let Some(host) = url.host_str().map(|h| h.trim_end_matches('.')) else { return false };
    matches!(url.scheme(), "http" | "https")
        && (host == "cdn.ampproject.org" || host.ends_with(".cdn.ampproject.org"))
}

/// Suffixes of the AMP variant of a page's last path segment.
const AMP_SUFFIXES: [&str; 2] = [".amp.html", ".amp"];
/// Last path segments that add nothing: the AMP marker and pages named after their directory.
const EMPTY_LAST: [&str; 4] = ["amp", "index.html", "index.htm", "index.php"];

/// Drops AMP path variants (`/amp`, `/amp/` segments, `.amp` and `.amp.html` suffixes), an
/// `index.html`-style last segment, duplicate slashes and the trailing slash. The last segment is
/// trimmed until none of these applies (`story.amp.amp`, `amp.amp`, `index.html/amp`, `..amp`),
/// so a canonical path is its own canonical path.
fn canonical_path(path: &str) -> String {
    let mut segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    segments.retain(|s| !s.eq_ignore_ascii_case("amp"));
    while let Some(last) = segments.last_mut() {
        if let Some(stem) = AMP_SUFFIXES.iter().find_map(|suffix| strip_suffix_ignore_case(last, suffix)) {
            *last = stem;
        } else if EMPTY_LAST.iter().any(|empty| last.eq_ignore_ascii_case(empty)) || is_dot_segment(last) {
            segments.pop();
        } else {
            break;
        }
    }
    let mut out = String::with_capacity(path.len() + 1);
    for segment in &segments {
        out.push('/');
        out.push_str(segment);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// `.` or `..`, also percent-encoded: what stripping `.amp` from `..amp` leaves, and what the url
/// crate would resolve against the path (`/a/b/%2e%2e` is `/a/`) if it were set as a segment.
fn is_dot_segment(segment: &str) -> bool {
    matches!(segment.to_ascii_lowercase().as_str(), "." | ".." | "%2e" | "%2e%2e" | ".%2e" | "%2e.")
}

/// `s` without `suffix` (ASCII, any case), when something is left.
fn strip_suffix_ignore_case<'a>(s: &'a str, suffix: &str) -> Option<&'a str> {
    let cut = s.len().checked_sub(suffix.len()).filter(|cut| *cut > 0)?;
    // An ASCII suffix starts on a character boundary whenever the bytes match.
    s.as_bytes()[cut..].eq_ignore_ascii_case(suffix.as_bytes()).then(|| &s[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(input: &str, expected: &str) {
        let url = Url::parse(input).unwrap();
        assert_eq!(canonicalize(&url).as_str(), expected, "canonicalize({input})");
    }

    #[track_caller]
    fn same_key(a: &str, b: &str) {
        assert_eq!(key(&Url::parse(a).unwrap()), key(&Url::parse(b).unwrap()), "{a} vs {b}");
    }

    #[test]
    fn host_is_lower_case_and_fragment_and_default_port_go() {
        check("HTTPS://News.Example.ORG:443/World/Story#comments", "https://news.example.org/World/Story");
        check("http://example.org:80/a/", "http://example.org/a");
        check("http://example.org:8080/a", "http://example.org:8080/a");
    }

    #[test]
    fn tracking_parameters_go_and_the_rest_are_sorted() {
        check(
            "https://example.org/a?utm_source=rss&id=7&fbclid=x&gclid=y&yclid=z&mc_cid=1&mc_eid=2&UTM_Medium=feed",
            "https://example.org/a?id=7",
        );
        check("https://example.org/a?b=2&a=1&utm_campaign=x", "https://example.org/a?a=1&b=2");
        check("https://example.org/a?utm_source=x", "https://example.org/a");
    }

    #[test]
    fn amp_and_mobile_variants_share_a_key() {
        same_key("https://www.example.org/news/story-1", "https://m.example.org/news/story-1/");
        same_key("https://www.example.org/news/story-1", "https://amp.example.org/news/story-1");
        same_key("https://www.example.org/news/story-1", "https://www.example.org/news/story-1/amp");
        same_key("https://www.example.org/news/story-1", "https://www.example.org/amp/news/story-1");
        same_key("https://www.example.org/news/story-1", "https://www.example.org/news/story-1.amp");
        same_key("https://www.example.org/news/story-1", "https://www.example.org/news/story-1?amp=1");
        same_key(
            "https://www.example.org/news/story-1",
            "https://www-example-org.cdn.ampproject.org/c/s/www.example.org/news/story-1",
        );
        same_key("http://example.org/news/story-1", "https://example.org/news/story-1#top");
    }

    #[test]
    fn different_pages_keep_different_keys() {
        let a = key(&Url::parse("https://example.org/a?id=1").unwrap());
        let b = key(&Url::parse("https://example.org/a?id=2").unwrap());
        assert_ne!(a, b);
        assert_ne!(
            key(&Url::parse("https://example.org/A").unwrap()),
            key(&Url::parse("https://example.org/a").unwrap())
        );
        // "m." alone is not stripped from a bare domain like m.com.
        assert_eq!(key(&Url::parse("https://m.com/x").unwrap()), "m.com/x");
    }

    #[test]
    fn a_canonical_url_is_its_own_canonical_form() {
        // Found by the `url_key` fuzz target: removing `/amp/index.html` exposed a `.amp` suffix
        // that only a second pass stripped, so one page had two keys.
        check("https://example.org/2026/x.cdn.amp/amp/index.html", "https://example.org/2026/x.cdn");
        check("https://example.org/story.amp.amp", "https://example.org/story");
        check("https://example.org/news/amp.amp", "https://example.org/news");
        check("https://example.org/a/index.html/index.php/", "https://example.org/a");
        // And: an AMP cache address inside another was unwrapped one layer per pass.
        check(
            "https://a.cdn.ampproject.org/c/s/b.cdn.ampproject.org/c/s/example.org/x",
            "https://a.cdn.ampproject.org/c/s/b.cdn.ampproject.org/c/s/example.org/x",
        );
        check(
            "https://www-example-org.cdn.ampproject.org/c/s/",
            "https://www-example-org.cdn.ampproject.org/c/s/",
        );
        // And: stripping `.amp` left a dot segment that the url crate then resolved.
        check("https://example.org/2026/01/..amp", "https://example.org/2026/01");
        check("https://example.org/a/b/%2E%2e.amp", "https://example.org/a/b");
        for input in [
            "https://www-example-org.cdn.ampproject.org./c/s/example.org/x",
            "lttp://www-example-org.cdn.ampproject.org/c/s/www.cdn.ampproject.org/c/s/dex.html",
            "https://www.news.example.org/2026/01/http%00%00%00%00%00%00%00:/mplww-example-org.cdn.amp/amp/index.html",
            "https://example.org/x.AMP.amp.html/AMP/index.htm",
        ] {
            let once = canonicalize(&Url::parse(input).unwrap());
            assert_eq!(canonicalize(&once), once, "{input}");
        }
    }

    #[test]
    fn file_urls_only_lose_their_fragment() {
        check("file:///seeds/000.txt#x", "file:///seeds/000.txt");
    }

    #[test]
    fn page_canonical_wins_unless_it_points_at_the_home_page() {
        let link = Url::parse("https://example.org/story?utm_source=rss").unwrap();
        let page = Url::parse("https://www.example.org/2026/01/story/").unwrap();
        assert_eq!(choose(&link, Some(&page)).as_str(), "https://www.example.org/2026/01/story");
        let home = Url::parse("https://example.org/").unwrap();
        assert_eq!(choose(&link, Some(&home)).as_str(), "https://example.org/story");
        assert_eq!(choose(&link, None).as_str(), "https://example.org/story");
    }
}
