//! A cheap linear pass over the raw HTML before html5ever sees it: it removes what extraction
//! never reads (scripts, styles, SVG, comments, and the elements the body walker skips whole:
//! navigation, figures, media, forms' buttons and selects, images), unwraps `<noscript>`
//! (html5ever would read its content as raw text), sets JSON-LD blocks aside, caps the size, and
//! enforces a nesting budget. Parsing is most of an extraction's time and grows with the bytes
//! and tags it sees; navigation and image markup are a quarter of a typical page's.
//!
//! Why before parsing: html5ever's tree builder checks "has an element in scope" over the stack
//! of open elements on many start tags, so a page of N nested `<div>`s costs O(N²) (176 KB of
//! nested divs took 1.4 s). Counting depth here is O(n) and lets us drop the tags beyond the
//! budget, so the parser never sees a deep stack. The tokenizer here is deliberately forgiving:
//! quoted attribute values, comments and raw-text elements are handled; everything else is
//! copied through for html5ever to interpret.

/// Largest input we look at; the rest is cut (a news article is never this deep into a page).
pub const MAX_INPUT_BYTES: usize = 6 * 1024 * 1024;
/// Largest cleaned document handed to the parser.
pub const MAX_CLEAN_BYTES: usize = 3 * 1024 * 1024;
/// Container tags nested deeper than this are dropped (their content is kept).
pub const MAX_DEPTH: usize = 120;
/// Start tags beyond this count are dropped (their text is kept).
pub const MAX_ELEMENTS: usize = 150_000;

/// The cleaned document and what the pass noticed.
#[derive(Debug, Default)]
pub struct Prescan {
    pub html: String,
    /// Raw contents of `<script type="application/ld+json">` blocks.
    pub json_ld: Vec<String>,
    pub warnings: Vec<String>,
}

/// Tags whose nesting counts toward the depth budget: the ones html5ever keeps open until an
/// explicit end tag (implicitly closed ones such as `p` and `li` cannot pile up).
fn is_container(name: &str) -> bool {
    // Custom elements (`<amp-ad>`, `<x-card>`) nest like `div`s.
    name.contains('-')
        || matches!(
            name,
            "div"
                | "span"
                | "section"
                | "article"
                | "aside"
                | "main"
                | "header"
                | "footer"
                | "nav"
                | "blockquote"
                | "ul"
                | "ol"
                | "dl"
                | "table"
                | "form"
                | "a"
                | "b"
                | "i"
                | "em"
                | "strong"
                | "font"
                | "center"
                | "small"
                | "big"
                | "u"
                | "s"
                | "sub"
                | "sup"
                | "figure"
                | "fieldset"
                | "details"
                | "label"
                | "q"
                | "cite"
                | "abbr"
                | "code"
                | "mark"
                | "time"
                | "object"
                | "button"
                | "h1"
                | "h2"
                | "h3"
                | "h4"
                | "h5"
                | "h6"
                | "nobr"
                | "marquee"
                | "dd"
                | "dt"
        )
}

/// Elements whose whole content is dropped.
fn is_dropped(name: &str) -> bool {
    matches!(name, "script" | "style" | "svg" | "template" | "math" | "canvas")
}

/// Elements the body walker skips whole (`body::is_skipped`) that `meta` does not read either:
/// void ones (`img`, `input`) lose their tag, the others their whole subtree when its end tag is
/// found. `head`, `title`, `meta` and `link` stay for `meta`.
fn is_never_read(name: &str) -> bool {
    super::body::is_skipped(name) && !matches!(name, "head" | "title" | "meta" | "link")
}

/// Void elements: they have no end tag and no content.
fn is_void(name: &str) -> bool {
    matches!(name, "img" | "input" | "source" | "track" | "embed" | "br" | "hr" | "wbr" | "area" | "col")
}

pub fn prescan(input: &str) -> Prescan {
    let mut out = Prescan::default();
    let mut input = input;
    if input.len() > MAX_INPUT_BYTES {
        let cut = floor_char_boundary(input, MAX_INPUT_BYTES);
        out.warnings.push(format!("input of {} bytes cut to {cut}", input.len()));
        input = &input[..cut];
    }
    let bytes = input.as_bytes();
    let mut html = String::with_capacity(input.len() / 2);
    let mut depth = 0usize;
    let mut excess = 0usize;
    let mut elements = 0usize;
    let mut depth_warned = false;
    let mut budget_warned = false;
    let mut i = 0;
    let mut copied = 0; // start of the pending run to copy verbatim
                        // Names whose end tag was once searched for in vain: not searched for again, which keeps
                        // the pass linear on a page of unclosed `<nav>`s.
    let mut unclosed: Vec<String> = Vec::new();
    while let Some(off) = memchr::memchr(b'<', &bytes[i..]) {
        let lt = i + off;
        let rest = &bytes[lt..];
        if rest.starts_with(b"<!--") {
            html.push_str(&input[copied..lt]);
            let end = find(&bytes[lt + 4..], b"-->").map_or(bytes.len(), |e| lt + 4 + e + 3);
            i = end;
            copied = end;
            continue;
        }
        let closing = rest.get(1) == Some(&b'/');
        let name_start = lt + 1 + closing as usize;
        let name_len = bytes[name_start..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'-' || **b == b':')
            .count();
        if name_len == 0 || !bytes[name_start].is_ascii_alphabetic() {
            i = lt + 1;
            continue;
        }
        let mut lower = [0u8; 16];
        let name: &str = match bytes.get(name_start..name_start + name_len) {
            Some(raw) if raw.len() <= lower.len() => {
                lower[..raw.len()].copy_from_slice(raw);
                lower[..raw.len()].make_ascii_lowercase();
                std::str::from_utf8(&lower[..raw.len()]).unwrap_or("")
            }
            // Longer names are custom elements: never dropped, counted as containers.
            _ => "x-long-name",
        };
        let tag_end = tag_end(bytes, name_start + name_len);
        let self_closing = tag_end >= 2 && bytes[tag_end - 2] == b'/';
        if !closing && is_never_read(name) {
            let end = if is_void(name) || self_closing {
                Some(tag_end)
            } else if unclosed.iter().any(|n| n == name) {
                None
            } else {
                let end = subtree_end(bytes, tag_end, name.as_bytes());
                if end.is_none() {
                    unclosed.push(name.to_string());
                }
                end
            };
            if let Some(end) = end {
                html.push_str(&input[copied..lt]);
                // The walker keeps a word boundary where it skips an element, but not for images
                // and inputs, which sit inside words ("Tel.<img>: 123").
                if !matches!(name, "img" | "input") {
                    html.push(' ');
                }
                i = end;
                copied = end;
                continue;
            }
        }
        // `<noscript>` is unwrapped, not dropped: a page rendered by script puts its article
        // there for us (its tracking pixels and iframes are skipped by the extractor anyway);
        // left in, html5ever would read its content as raw text.
        if name == "noscript" {
            html.push_str(&input[copied..lt]);
            copied = tag_end;
            i = tag_end;
            continue;
        }
        if !closing && (is_dropped(name) || name == "title" || name == "textarea") {
            let close = format!("</{name}");
            let body_end = find_ci(&bytes[tag_end..], close.as_bytes()).map(|e| tag_end + e);
            let after = body_end.map_or(bytes.len(), |e| self::tag_end(bytes, e + close.len()));
            if is_dropped(name) {
                html.push_str(&input[copied..lt]);
                if name == "script" && is_json_ld(&input[lt..tag_end]) {
                    let body = &input[tag_end..body_end.unwrap_or(bytes.len())];
                    out.json_ld.push(body.to_string());
                }
                copied = after;
            }
            // title and textarea are raw text: copied through untouched, never tokenised.
            i = if self_closing && is_dropped(name) { tag_end } else { after };
            if self_closing && is_dropped(name) {
                copied = tag_end;
            }
            continue;
        }
        if !closing && !self_closing {
            elements += 1;
        }
        let counted = is_container(name);
        if closing {
            if counted {
                if excess > 0 {
                    excess -= 1;
                    html.push_str(&input[copied..lt]);
                    copied = tag_end;
                } else {
                    depth = depth.saturating_sub(1);
                }
            }
        } else if !self_closing {
            let over_depth = counted && depth >= MAX_DEPTH;
            let over_budget = elements > MAX_ELEMENTS;
            if over_depth || over_budget {
                if over_depth && !depth_warned {
                    depth_warned = true;
                    out.warnings.push(format!("elements nested deeper than {MAX_DEPTH} flattened"));
                }
                if over_budget && !budget_warned {
                    budget_warned = true;
                    out.warnings.push(format!("more than {MAX_ELEMENTS} elements: the rest flattened"));
                }
                if counted {
                    excess += 1;
                }
                html.push_str(&input[copied..lt]);
                copied = tag_end;
            } else if counted {
                depth += 1;
            }
        }
        i = tag_end;
        if html.len() + (i - copied) > MAX_CLEAN_BYTES {
            break;
        }
    }
    let tail_end = floor_char_boundary(input, copied.saturating_add(MAX_CLEAN_BYTES)).max(copied);
    html.push_str(&input[copied..tail_end]);
    if html.len() > MAX_CLEAN_BYTES {
        let cut = floor_char_boundary(&html, MAX_CLEAN_BYTES);
        out.warnings.push(format!("cleaned document of {} bytes cut to {cut}", html.len()));
        html.truncate(cut);
    }
    out.html = html;
    out
}

fn is_json_ld(tag: &str) -> bool {
    let lower = tag.to_ascii_lowercase();
    lower.contains("ld+json")
}

/// The index just past the `>` closing the tag whose attributes start at `from`, honouring
/// quoted attribute values.
fn tag_end(bytes: &[u8], from: usize) -> usize {
    let mut quote: Option<u8> = None;
    let mut j = from;
    while j < bytes.len() {
        let b = bytes[j];
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'"' || b == b'\'' => {
                // A quote only opens a value right after `=` (possibly with spaces).
                let mut k = j;
                while k > from && bytes[k - 1].is_ascii_whitespace() {
                    k -= 1;
                }
                if k > from && bytes[k - 1] == b'=' {
                    quote = Some(b);
                }
            }
            None if b == b'>' => return j + 1,
            None => {}
        }
        j += 1;
    }
    bytes.len()
}

/// The index just past the end tag that closes the element `name` whose content starts at
/// `from`, counting nested elements of the same name; `None` when it is never closed.
fn subtree_end(bytes: &[u8], from: usize, name: &[u8]) -> Option<usize> {
    let mut depth = 1usize;
    let mut at = from;
    while let Some(off) = memchr::memchr(b'<', &bytes[at..]) {
        let lt = at + off;
        let closing = bytes.get(lt + 1) == Some(&b'/');
        let start = lt + 1 + closing as usize;
        let named = bytes.get(start..start + name.len()).is_some_and(|n| n.eq_ignore_ascii_case(name))
            && !bytes.get(start + name.len()).is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'-');
        at = lt + 1;
        if !named {
            continue;
        }
        let end = tag_end(bytes, start + name.len());
        if closing {
            depth -= 1;
            if depth == 0 {
                return Some(end);
            }
        } else if bytes[end - 2] != b'/' {
            depth += 1;
        }
        at = end;
    }
    None
}

/// First occurrence of `needle` (whose first byte is ASCII) in `hay`, jumping between
/// occurrences of its first byte.
fn find_by(hay: &[u8], needle: &[u8], eq: impl Fn(&[u8], &[u8]) -> bool) -> Option<usize> {
    let first = *needle.first()?;
    let mut from = 0;
    while let Some(off) = memchr::memchr(first, &hay[from..]) {
        let at = from + off;
        if hay.len() - at < needle.len() {
            return None;
        }
        if eq(&hay[at..at + needle.len()], needle) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    find_by(hay, needle, |a, b| a == b)
}

fn find_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    find_by(hay, needle, |a, b| a.eq_ignore_ascii_case(b))
}

fn floor_char_boundary(s: &str, at: usize) -> usize {
    let mut at = at.min(s.len());
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(input: &str, expected: &str) {
        assert_eq!(prescan(input).html, expected);
    }

    #[test]
    fn drops_scripts_styles_comments() {
        check("<p>a<script>if (a<b) {}</script>b</p>", "<p>ab</p>");
        check("<p>a<!-- <p>x</p> -->b</p>", "<p>ab</p>");
        check("<style>p>a{}</style><p title='x>y'>c</p>", "<p title='x>y'>c</p>");
        check("<p>a<SCRIPT src=x />b</p>", "<p>ab</p>");
        check("<title>a <b> c</title><p>x", "<title>a <b> c</title><p>x");
    }

    #[test]
    fn keeps_json_ld() {
        let scan = prescan(r#"<script type="application/ld+json">{"a":1}</script><p>x</p>"#);
        assert_eq!(scan.json_ld, vec![r#"{"a":1}"#.to_string()]);
        assert_eq!(scan.html, "<p>x</p>");
    }

    #[test]
    fn drops_what_the_walker_never_reads() {
        check("<p>a<img src='x.jpg' alt='y'>b</p>", "<p>ab</p>");
        check("<nav><ul><li><a href='/'>Home</a></li></ul></nav><p>x</p>", " <p>x</p>");
        check("<NAV>a<nav>b</nav>c</Nav><p>x</p>", " <p>x</p>");
        check("<figure><img src=x><figcaption>Photo: AP</figcaption></figure><p>x</p>", " <p>x</p>");
        check("<p>a<select><option>1</option></select>b</p>", "<p>a b</p>");
        // A custom element whose name starts like one is not one.
        check("<nav-bar>a</nav-bar>", "<nav-bar>a</nav-bar>");
        // Never closed: the content stays for html5ever to make sense of.
        check("<nav>a<p>b", "<nav>a<p>b");
    }

    #[test]
    fn unclosed_skipped_elements_stay_linear() {
        // Each unclosed <nav> would search to the end of the page; only the first one does.
        let input = "<nav>x".repeat(200_000);
        let started = std::time::Instant::now();
        assert_eq!(prescan(&input).html.matches('x').count(), 200_000);
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "{:?}", started.elapsed());
    }

    #[test]
    fn flattens_deep_nesting() {
        let n = MAX_DEPTH + 50;
        let input = format!("{}text{}", "<div>".repeat(n), "</div>".repeat(n));
        let scan = prescan(&input);
        let expected = format!("{}text{}", "<div>".repeat(MAX_DEPTH), "</div>".repeat(MAX_DEPTH));
        assert_eq!(scan.html, expected);
        assert_eq!(scan.warnings.len(), 1);
    }

    #[test]
    fn unterminated_things_do_not_panic() {
        for input in ["<", "<!--", "<script>", "<p title='", "<div", "</", "<a b=\"c", "é<é>"] {
            let _ = prescan(input);
        }
    }
}
