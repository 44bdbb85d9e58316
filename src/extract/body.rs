//! The article body: segment the DOM into text blocks, score every element as a candidate
//! container, pick the best, then render it to paragraphs while dropping boilerplate blocks.
//!
//! The container score is a maximum-subtree sum: each block adds its clean text length when it
//! looks like prose (long enough, few links, not inside navigation or a boilerplate-named
//! element) and subtracts its length when it looks like boilerplate (link lists, menus, share
//! bars). The element with the highest sum holds most of the prose and little else, which also
//! joins an article split over sibling `div`s around an ad slot; siblings made like the container
//! (the other posts of a forum thread) join it as well. Rendering then removes what is
//! inside the container but not article: figures and credits, "read also" boxes, share bars,
//! link-dense lists and per-language boilerplate phrases.
//!
//! Class and id names are evidence, weighed by how specific they are: long words (`comment`,
//! `related`, `newsletter`) match anywhere in the names, short ones (`ad`, `meta`, `tag`,
//! `hidden`) only as a token or its last part, and not beside a token that names the article
//! (`entry`, `post`, `type-post`); an element that holds most of the prose is never boilerplate
//! by name. If nothing survives the names, the choice is made again by the text alone.

use std::collections::{HashMap, HashSet};

use ego_tree::{NodeId, NodeRef};
use scraper::node::Element;
use scraper::{Html, Node};

use super::boilerplate;

/// What kind of element owns a block of text; decides how it is joined and filtered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Paragraph,
    Heading,
    Title,
    ListItem,
    Preformatted,
    Quote,
    Cell,
    Other,
}

/// One run of text between block boundaries.
#[derive(Debug, Clone)]
pub struct Block {
    pub owner: NodeId,
    pub kind: Kind,
    pub text: String,
    pub chars: usize,
    pub link_chars: usize,
    /// Inside navigation, a form, an aside or an element whose class/id names boilerplate.
    pub boilerplate_context: bool,
    /// Inside a `<blockquote>`: embedded posts and quotes are link-heavy but still article.
    pub quoted: bool,
}

/// Tags that never hold article text (`prescan` drops most of them before parsing).
pub(super) fn is_skipped(name: &str) -> bool {
    matches!(
        name,
        "head"
            | "nav"
            | "button"
            | "select"
            | "option"
            | "input"
            | "textarea"
            | "iframe"
            | "object"
            | "embed"
            | "video"
            | "audio"
            | "picture"
            | "img"
            | "figure"
            | "figcaption"
            | "map"
            | "dialog"
            | "menu"
            | "title"
            | "label"
            | "link"
            | "meta"
            | "source"
            | "track"
    )
}

/// Tags that usually frame a page rather than an article.
fn is_frame(name: &str) -> bool {
    matches!(name, "aside" | "footer" | "header")
}

fn is_block(name: &str) -> bool {
    matches!(
        name,
        "address"
            | "article"
            | "aside"
            | "blockquote"
            | "dd"
            | "details"
            | "div"
            | "dl"
            | "dt"
            | "fieldset"
            | "figcaption"
            | "figure"
            | "footer"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "header"
            | "hgroup"
            | "hr"
            | "li"
            | "main"
            | "nav"
            | "ol"
            | "p"
            | "pre"
            | "section"
            | "table"
            | "tbody"
            | "thead"
            | "tfoot"
            | "tr"
            | "td"
            | "th"
            | "ul"
            | "center"
            | "summary"
            | "caption"
            | "amp-story"
    )
}

fn kind_of(name: &str) -> Kind {
    match name {
        "p" => Kind::Paragraph,
        "h1" => Kind::Title,
        "h2" | "h3" | "h4" | "h5" | "h6" => Kind::Heading,
        "li" | "dd" | "dt" => Kind::ListItem,
        "pre" => Kind::Preformatted,
        "blockquote" => Kind::Quote,
        "td" | "th" => Kind::Cell,
        _ => Kind::Other,
    }
}

/// Class and id words that mark boilerplate containers.
const NEGATIVE: &[&str] = &[
    "comment",
    "sidebar",
    "related",
    "recommend",
    "newsletter",
    "subscribe",
    "subscription",
    "social",
    "share",
    "sharing",
    "promo",
    "advert",
    "sponsor",
    "cookie",
    "consent",
    "gdpr",
    "breadcrumb",
    "popup",
    "modal",
    "outbrain",
    "taboola",
    "footer",
    "masthead",
    "navbar",
    "navigation",
    "menu",
    "banner",
    "skip-link",
    "read-more",
    "readmore",
    "more-stories",
    "trending",
    "most-popular",
    "mostpopular",
    "paywall",
    "signup",
    "sign-up",
    "byline",
    "caption",
    "credit",
    "disclaimer",
    "toolbar",
    "tags",
    "author-bio",
    "authorbio",
    "authorbox",
    "author-box",
    "author-info",
    "author-description",
    "about-author",
    "recirculation",
    "rating",
    // Bootstrap's "leave out of the printed page", on the boxes around the article.
    "print-none",
    "hidden-print",
    "pagination",
    "print-only",
    "visually-hidden",
    "sr-only",
    "screen-reader",
    "inline-ad",
    "ad-slot",
    "adslot",
    "dfp",
    "newsfeed",
    "jump-link",
    "see-also",
    "also-read",
    // German image captions (Bildunterschrift, Bilduntertitel).
    "bildunter",
    "disclosure",
    "affiliate",
];

/// Short words that mark boilerplate as a class/id token of their own or as its last part
/// (`ad`, `entry-meta`, `post-tag`); as substrings they would hit `header`, `metadata` or
/// WordPress's `tag-<name>` classes on the article element itself.
const NEGATIVE_WORDS: &[&str] = &["ad", "ads", "nav", "meta", "share", "tag", "tools", "aside"];

/// Words that mark boilerplate only as a whole token: `hidden` is the CSS frameworks' invisible
/// class, but `field--label-hidden` (Drupal's body field) and `overflow-hidden` hold articles;
/// a `teaser` is a card for another story, but `article-teaser` or `teaser-text` is often the
/// lead of this one; a `legend` is an image's caption, but ids made of headline slugs hold
/// words such as `grundlegende`.
const NEGATIVE_TOKENS: &[&str] = &["hidden", "hide", "teaser", "legend"];

/// Whether a class/id token names boilerplate by one of the short words: the whole token, its
/// last part, or (for the ad words) its first part (`ad-slot`). Widgets match as a prefix
/// (`widget`, `widget_text`, `widget-area`), not inside page builders' `elementor-widget-…`
/// wrappers that hold every part of a page.
fn is_negative_token(token: &str) -> bool {
    if NEGATIVE_TOKENS.contains(&token) || token.starts_with("widget") {
        return true;
    }
    // A BEM modifier (`section--ads`, `field--label-hidden`) says what is near, not what it is.
    let token = token.split("--").next().unwrap_or(token);
    let mut parts = token.split(['-', '_']).filter(|p| !p.is_empty());
    let first = parts.next().unwrap_or("");
    let last = parts.next_back().unwrap_or(first);
    NEGATIVE_WORDS.contains(&last) || matches!(first, "ad" | "ads" | "nav")
}

/// Whole class/id tokens that name the article element itself.
/// (`type-post` and `node-article` are what WordPress and Drupal put on every article.)
const ARTICLE_TOKENS: &[&str] =
    &["entry", "post", "article", "story", "content", "hentry", "post-body", "type-post", "node-article"];

/// Class and id words that mark the article itself.
const POSITIVE: &[&str] = &[
    "article",
    "content",
    "entry",
    "story",
    "post-body",
    "postbody",
    "post-content",
    "body-text",
    "main",
    "text",
    "body",
];

fn class_id(element: &Element) -> String {
    let mut s = String::new();
    if let Some(id) = element.id() {
        s.push_str(id);
    }
    if let Some(class) = element.attr("class") {
        s.push(' ');
        s.push_str(class);
    }
    s.to_ascii_lowercase()
}

/// Whether an element's class or id names boilerplate (and not the article at the same time).
pub fn is_negative(element: &Element) -> bool {
    if matches!(element.name(), "html" | "body" | "main" | "article") {
        return false;
    }
    let names = class_id(element);
    if names.trim().is_empty() {
        return false;
    }
    let negative =
        NEGATIVE.iter().any(|n| names.contains(n)) || names.split_ascii_whitespace().any(is_negative_token);
    // A boilerplate word beside a token that names the article (`entry share`, `post tag-x`) is
    // a styling hook of the article element, not a box of its own; comments stay comments.
    let article =
        !names.contains("comment") && names.split_ascii_whitespace().any(|t| ARTICLE_TOKENS.contains(&t));
    negative && !article && !is_positive_names(&names)
}

fn is_positive_names(names: &str) -> bool {
    // "article-body" or "story-content" wins over "share" in the same class list; a bare
    // "content" inside "comment-content" does not.
    if names.contains("comment") {
        return false;
    }
    // Embedded posts quoted by the article ("social-media-embed", "embed-twitter"), but not
    // the credit line of an embedded image.
    if names.contains("embed") && !names.contains("credit") && !names.contains("caption") {
        return true;
    }
    let names = names.replace('_', "-");
    [
        "article-body",
        "articlebody",
        "article--body",
        "article-content",
        "story-body",
        "entry-content",
        "post-content",
    ]
    .iter()
    .any(|p| names.contains(p))
}

pub fn is_positive(element: &Element) -> bool {
    let names = class_id(element);
    !names.contains("comment") && POSITIVE.iter().any(|p| names.contains(p))
}

/// Phrasing elements, the ones that sit inside a paragraph. Not `body` or custom elements: a
/// theme's `avada-image-rollover-yes` on `<body>` must not hide the page.
fn is_inline(name: &str) -> bool {
    matches!(
        name,
        "span"
            | "a"
            | "small"
            | "sup"
            | "sub"
            | "em"
            | "strong"
            | "b"
            | "i"
            | "u"
            | "abbr"
            | "cite"
            | "mark"
            | "q"
            | "time"
    )
}

/// Inline elements that hold no prose: hover cards, tooltips, screen-reader-only labels.
fn is_inline_boilerplate(element: &Element) -> bool {
    let names = class_id(element);
    ["rollover", "tooltip", "popover", "hovercard", "sr-only", "visually-hidden", "screen-reader"]
        .iter()
        .any(|n| names.contains(n))
}

/// Invisible by markup: `hidden`, `aria-hidden`, inline `display:none`.
fn is_hidden(element: &Element) -> bool {
    if element.attr("hidden").is_some() {
        return true;
    }
    if element.attr("aria-hidden").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return true;
    }
    if let Some(style) = element.attr("style") {
        let style: String =
            style.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_lowercase();
        if style.contains("display:none") || style.contains("visibility:hidden") {
            return true;
        }
    }
    false
}

/// Options of one segmentation pass.
#[derive(Clone, Copy)]
struct Mode {
    /// Drop subtrees whose class/id name boilerplate and frame elements (render pass).
    prune: bool,
}

struct Segmenter<'a> {
    blocks: Vec<Block>,
    buf: String,
    chars: usize,
    link_chars: usize,
    owner: NodeId,
    kind: Kind,
    mode: Mode,
    /// Nodes never pruned even if they look like boilerplate (they hold the article).
    keep: &'a dyn Fn(NodeId) -> bool,
    /// Nodes a site rule says are boilerplate.
    drop: &'a HashSet<NodeId>,
    quote_depth: usize,
}

impl Segmenter<'_> {
    fn flush(&mut self, boilerplate_context: bool) {
        let text = collapse(&self.buf);
        if !text.is_empty() {
            let chars = text.chars().filter(|c| !c.is_whitespace()).count();
            self.blocks.push(Block {
                owner: self.owner,
                kind: self.kind,
                text,
                chars,
                link_chars: self.link_chars.min(chars),
                boilerplate_context,
                quoted: self.quote_depth > 0,
            });
        }
        self.buf.clear();
        self.chars = 0;
        self.link_chars = 0;
    }

    fn walk(&mut self, node: NodeRef<'_, Node>, in_link: bool, context: bool, depth: usize) {
        if depth > 512 {
            return;
        }
        match node.value() {
            Node::Text(text) => {
                let t: &str = text;
                if in_link {
                    self.link_chars += t.chars().filter(|c| !c.is_whitespace()).count();
                }
                self.buf.push_str(t);
            }
            Node::Element(element) => {
                let name = element.name();
                if is_skipped(name) || is_hidden(element) {
                    if name == "img" || name == "input" {
                        return;
                    }
                    // Keep word boundaries around removed inline things.
                    self.buf.push(' ');
                    return;
                }
                if name == "br" {
                    self.buf.push('\u{2028}');
                    return;
                }
                if self.drop.contains(&node.id()) {
                    self.buf.push(' ');
                    return;
                }
                let keep = (self.keep)(node.id());
                if self.mode.prune && !keep && (is_frame(name) || is_negative(element)) {
                    self.buf.push(' ');
                    return;
                }
                // Inline boilerplate (hover cards, share counters) sits inside prose paragraphs:
                // drop it in both passes so that it neither pollutes nor penalises them.
                if is_inline(name) && is_inline_boilerplate(element) {
                    self.buf.push(' ');
                    return;
                }
                let in_link = in_link || name == "a";
                let quote = name == "blockquote";
                self.quote_depth += quote as usize;
                if is_block(name) {
                    self.flush(context);
                    let (owner, kind) = (self.owner, self.kind);
                    self.owner = node.id();
                    self.kind = kind_of(name);
                    for child in node.children() {
                        self.walk(child, in_link, context, depth + 1);
                    }
                    self.flush(context);
                    self.owner = owner;
                    self.kind = kind;
                } else {
                    for child in node.children() {
                        self.walk(child, in_link, context, depth + 1);
                    }
                }
                self.quote_depth -= quote as usize;
            }
            _ => {}
        }
    }
}

/// Collapses runs of whitespace to one space, keeping `<br>` line breaks (marked U+2028 by the
/// walker), drops zero-width characters, and trims. Soft hyphens (U+00AD) stay: they are the
/// author's hyphenation points, part of the text as written (`normalize` and `dedup` ignore
/// them), and a quoted passage of the page keeps them too.
fn collapse(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending: Option<char> = None;
    for c in s.chars() {
        if c == '\u{2028}' {
            if !out.is_empty() {
                pending = Some('\n');
            }
            continue;
        }
        if matches!(c, '\u{200B}' | '\u{FEFF}' | '\u{200C}' | '\u{200D}') {
            continue;
        }
        if c.is_whitespace() {
            if !out.is_empty() && pending.is_none() {
                pending = Some(' ');
            }
            continue;
        }
        if let Some(p) = pending.take() {
            out.push(p);
        }
        out.push(c);
    }
    out
}

/// Segments the subtree of `root` into blocks.
fn segment(
    root: NodeRef<'_, Node>,
    prune: bool,
    keep: &dyn Fn(NodeId) -> bool,
    drop: &HashSet<NodeId>,
) -> Vec<Block> {
    let mut s = Segmenter {
        blocks: Vec::new(),
        buf: String::new(),
        chars: 0,
        link_chars: 0,
        owner: root.id(),
        kind: Kind::Other,
        mode: Mode { prune },
        keep,
        drop,
        quote_depth: 0,
    };
    s.walk(root, false, false, 0);
    s.flush(false);
    s.blocks
}

/// A block's contribution to the score of every element that contains it.
fn weight(block: &Block) -> f64 {
    let chars = block.chars as f64;
    let clean = (block.chars - block.link_chars) as f64;
    let density = if chars > 0.0 { block.link_chars as f64 / chars } else { 0.0 };
    if block.boilerplate_context || boilerplate::is_server_error(&block.text) {
        return -chars;
    }
    if block.kind == Kind::Title {
        return 0.0;
    }
    let max_density = if block.quoted {
        0.8
    } else if block.chars >= 150 {
        0.5
    } else {
        0.33
    };
    if density > max_density {
        // A sentence ending in a link is neither the article's prose nor navigation.
        return if is_linked_sentence(block) { 0.0 } else { -chars };
    }
    let min = match block.kind {
        Kind::Paragraph | Kind::Preformatted | Kind::Quote => 25.0,
        Kind::Heading => return 0.0,
        Kind::ListItem if block.quoted => 25.0,
        Kind::ListItem => 90.0,
        _ => 60.0,
    };
    if clean >= min {
        clean
    } else if matches!(block.kind, Kind::ListItem | Kind::Cell) && block.link_chars == 0 && clean >= 15.0 {
        // Short items and cells without a single link are data, not navigation: a recipe's
        // ingredients, a product's features, a results table. They count for half, so that the
        // element joining them to the prose they belong to wins over the prose alone.
        0.5 * clean
    } else {
        -0.25 * chars
    }
}

/// The extracted body: paragraphs separated by blank lines, list items one per line.
pub fn body(doc: &Html, selector_roots: &[NodeId], drop: &HashSet<NodeId>) -> String {
    if !selector_roots.is_empty() {
        let mut parts = Vec::new();
        for id in selector_roots {
            if let Some(node) = doc.tree.get(*id) {
                let keep_id = *id;
                let keep = move |n: NodeId| n == keep_id;
                parts.push(render(&segment(node, true, &keep, drop)));
            }
        }
        return parts.into_iter().filter(|p| !p.is_empty()).collect::<Vec<_>>().join("\n\n");
    }
    article(doc, drop, None)
}

/// The generic choice: the best container of the page's prose, rendered. `description` is the
/// page's own summary (meta/OpenGraph description): when the page shows it as a lead above the
/// container (a standfirst in the header, a teaser box over the body), that block is the start
/// of the article and comes first.
pub fn article(doc: &Html, drop: &HashSet<NodeId>, description: Option<&str>) -> String {
    let root = doc.tree.root();
    let body_root = root
        .descendants()
        .find(|n| matches!(n.value(), Node::Element(e) if e.name() == "body"))
        .unwrap_or(root);
    let mut blocks = segment(body_root, false, &|_| false, drop);
    mark_boilerplate_context(doc, &mut blocks);
    let chosen = match best_text(doc, &blocks, true, drop) {
        Some(chosen) => Some(chosen),
        None => {
            // When no prose survives outside boilerplate-named elements (a live ticker whose
            // entries are called comments), the names are what is wrong: choose by the text
            // alone and render without pruning by name; some text of the page beats none.
            blocks.iter_mut().for_each(|b| b.boilerplate_context = false);
            best_text(doc, &blocks, false, drop)
        }
    };
    let Some((best, text)) = chosen else {
        return String::new();
    };
    let lead = description
        .and_then(|d| lead(doc, &blocks, best, &text, d))
        .or_else(|| named_lead(doc, &blocks, best, &text));
    match lead {
        Some(lead) => format!("{lead}\n\n{text}"),
        None => text,
    }
}

/// The block before the container that shows the page's description, when the text lacks it.
fn lead(doc: &Html, blocks: &[Block], container: NodeId, text: &str, description: &str) -> Option<String> {
    let description = description.trim_end_matches(['.', '…', ' ']);
    let words: Vec<&str> = description.split_whitespace().take(8).collect();
    if words.len() < 5 {
        return None;
    }
    let probe = words.join(" ");
    let flat = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat(text).contains(&probe) {
        return None;
    }
    let limit = 2 * description.chars().count() + 300;
    for block in blocks {
        if is_inside(doc, block.owner, container) {
            // Past the start of the container: a match below it is not a lead.
            return None;
        }
        // A deck set as a heading stays a heading (the article's title is never the lead).
        let prose = !matches!(block.kind, Kind::Title | Kind::Heading);
        // Block text is collapsed already but for `<br>` line breaks.
        let shows = |t: &str| if t.contains('\n') { flat(t).contains(&probe) } else { t.contains(&probe) };
        if prose && block.chars <= limit && shows(&block.text) {
            return Some(block.text.clone());
        }
    }
    None
}

/// Class words that name an article's lead (standfirst, intro, excerpt), as a token or the last
/// part of one: `lead`, `a-lead`, `article__intro`, `article-excerpt`. `teaser` only as the last
/// part (`artikel-teaser`): a bare `teaser` is a card for another story (`NEGATIVE_TOKENS`).
const LEAD_WORDS: &[&str] = &["lead", "intro", "excerpt", "standfirst", "teaser", "abstract", "chapo"];

fn names_lead(node: NodeRef<'_, Node>) -> bool {
    let Node::Element(e) = node.value() else { return false };
    class_id(e).split_ascii_whitespace().any(|token| {
        let last = token.rsplit(['-', '_']).next().unwrap_or(token);
        LEAD_WORDS.contains(&last) && (last != "teaser" || last.len() < token.len())
    })
}

/// The lead paragraph the page sets above the container and names as such (`<p class="lead">`
/// in the article header), when the text lacks it and no other prose stands between them. A
/// lead set as a heading stays out, as in `lead`.
fn named_lead(doc: &Html, blocks: &[Block], container: NodeId, text: &str) -> Option<String> {
    let mut found: Option<&Block> = None;
    let mut prose_after = 0;
    for block in blocks {
        if is_inside(doc, block.owner, container) {
            break;
        }
        let node = doc.tree.get(block.owner)?;
        let named = names_lead(node) || node.parent().is_some_and(names_lead);
        let clean = block.chars - block.link_chars;
        if named
            && block.kind != Kind::Heading
            && block.kind != Kind::Title
            && clean >= 40
            && clean * 3 >= block.chars * 2
        {
            found = Some(block);
            prose_after = 0;
        } else if found.is_some() && weight(block) > 0.0 {
            prose_after += block.chars;
        }
    }
    let lead = found.filter(|_| prose_after < 200)?;
    let flat = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
    let probe: String = flat(&lead.text).chars().take(60).collect();
    (!flat(text).contains(&probe) && !boilerplate::is_boilerplate(&lead.text)).then(|| lead.text.clone())
}

fn is_inside(doc: &Html, node: NodeId, container: NodeId) -> bool {
    let mut cursor = doc.tree.get(node);
    while let Some(n) = cursor {
        if n.id() == container {
            return true;
        }
        cursor = n.parent();
    }
    false
}

/// Chooses the container among `blocks` and renders it (pruning boilerplate-named subtrees when
/// `prune`); `None` when no element has a positive score or nothing of it survives rendering.
fn best_text(doc: &Html, blocks: &[Block], prune: bool, drop: &HashSet<NodeId>) -> Option<(NodeId, String)> {
    let scores = subtree_scores(doc, blocks);
    let best = best_container(doc, &scores)?;
    let parts: Vec<String> = like_siblings(doc, best, &scores)
        .into_iter()
        .map(|root| render_container(doc, blocks, root, prune, drop))
        .filter(|text| !text.is_empty())
        .collect();
    (!parts.is_empty()).then(|| (best, parts.join("\n\n")))
}

/// Renders one container, pruning boilerplate inside it (when `prune`) but never the container
/// itself or an element holding most of its prose.
fn render_container(
    doc: &Html,
    blocks: &[Block],
    root: NodeId,
    prune: bool,
    drop: &HashSet<NodeId>,
) -> String {
    let Some(node) = doc.tree.get(root) else { return String::new() };
    let mut good_under: HashMap<NodeId, f64> = HashMap::new();
    let mut total = 0.0;
    for block in blocks {
        let w = weight(block);
        if w <= 0.0 || !is_inside(doc, block.owner, root) {
            continue;
        }
        total += w;
        let mut cursor = doc.tree.get(block.owner);
        while let Some(n) = cursor {
            *good_under.entry(n.id()).or_default() += w;
            if n.id() == root {
                break;
            }
            cursor = n.parent();
        }
    }
    let keep = |n: NodeId| n == root || good_under.get(&n).is_some_and(|g| *g >= 0.5 * total);
    let mut blocks = segment(node, prune, &keep, drop);
    drop_teaser_cards(doc, root, &mut blocks);
    render(&blocks)
}

/// The container and the siblings made like it: the posts of a forum thread or a blog page, the
/// parts of an article split into sibling `<article>`s. The container may be a post's message
/// inside its post, so the container and up to two of its ancestors that hold little but it (80 %
/// of its score) are tried in turn. A sibling counts when it has the same tag and a class token
/// in common (or neither has a class) and holds prose of its own: at least 100 characters'
/// weight and a tenth of the container's, so that short cards of other stories stay out.
fn like_siblings(doc: &Html, best: NodeId, scores: &HashMap<NodeId, f64>) -> Vec<NodeId> {
    let score = |id: NodeId| scores.get(&id).copied().unwrap_or(0.0);
    let floor = (score(best) * 0.1).max(100.0);
    let mut level = doc.tree.get(best);
    for _ in 0..3 {
        let Some(node) = level else { break };
        let (Some(parent), Node::Element(element)) = (node.parent(), node.value()) else { break };
        if score(node.id()) < 0.8 * score(best) {
            break;
        }
        let tokens: Vec<&str> = element.attr("class").unwrap_or("").split_ascii_whitespace().collect();
        let like = |n: NodeRef<'_, Node>| {
            let Node::Element(e) = n.value() else { return false };
            let classes: Vec<&str> = e.attr("class").unwrap_or("").split_ascii_whitespace().collect();
            e.name() == element.name()
                && (classes.iter().any(|c| tokens.contains(c)) || (classes.is_empty() && tokens.is_empty()))
                && score(n.id()) >= floor
        };
        let joined: Vec<NodeId> =
            parent.children().filter(|n| n.id() == node.id() || like(*n)).map(|n| n.id()).collect();
        if joined.len() > 1 {
            return joined;
        }
        level = Some(parent);
    }
    vec![best]
}

/// Marks blocks inside frame elements (aside, header, footer) or boilerplate-named elements,
/// unless that element holds a large share of the page's prose: a `<body class="unsubscribed">`
/// or a `<div class="share-enabled article">` wrapping the whole article must not poison it.
fn mark_boilerplate_context(doc: &Html, blocks: &mut [Block]) {
    let mut good: HashMap<NodeId, f64> = HashMap::new();
    let mut total = 0.0;
    for block in blocks.iter() {
        let w = weight(block);
        if w <= 0.0 {
            continue;
        }
        total += w;
        let mut cursor = doc.tree.get(block.owner);
        while let Some(n) = cursor {
            *good.entry(n.id()).or_default() += w;
            cursor = n.parent();
        }
    }
    // Elements around an h1 frame the article (or the whole page), whatever their class says.
    let mut around_title: HashSet<NodeId> = HashSet::new();
    for block in blocks.iter().filter(|b| b.kind == Kind::Title) {
        let mut cursor = doc.tree.get(block.owner);
        while let Some(n) = cursor {
            if !around_title.insert(n.id()) {
                break;
            }
            cursor = n.parent();
        }
    }
    let mut verdicts: HashMap<NodeId, bool> = HashMap::new();
    for block in blocks.iter_mut() {
        let mut cursor = doc.tree.get(block.owner);
        while let Some(n) = cursor {
            let boilerplate = *verdicts.entry(n.id()).or_insert_with(|| match n.value() {
                Node::Element(e) => {
                    let frame = is_frame(e.name());
                    let holds_article = good.get(&n.id()).copied().unwrap_or(0.0) >= 0.75 * total
                        || (around_title.contains(&n.id()) && !frame);
                    (frame || is_negative(e)) && !holds_article
                }
                _ => false,
            });
            if boilerplate {
                block.boilerplate_context = true;
                break;
            }
            cursor = n.parent();
        }
    }
}

/// Every element's sum of the weights of the blocks below it.
fn subtree_scores(doc: &Html, blocks: &[Block]) -> HashMap<NodeId, f64> {
    let mut scores: HashMap<NodeId, f64> = HashMap::new();
    for block in blocks {
        let w = weight(block);
        if w == 0.0 {
            continue;
        }
        let mut cursor = doc.tree.get(block.owner);
        while let Some(n) = cursor {
            if let Node::Element(_) = n.value() {
                *scores.entry(n.id()).or_default() += w;
            }
            cursor = n.parent();
        }
    }
    scores
}

/// The element with the highest sum of block weights below it (`subtree_scores`), with a small
/// bonus for elements that name the article.
fn best_container(doc: &Html, scores: &HashMap<NodeId, f64>) -> Option<NodeId> {
    // Document order (node ids grow with it), so that a tie goes to the outer element and
    // the choice does not depend on the hash map's order.
    let mut scores: Vec<(NodeId, f64)> = scores.iter().map(|(id, s)| (*id, *s)).collect();
    scores.sort_unstable_by_key(|(id, _)| *id);
    let mut best: Option<(NodeId, f64)> = None;
    for (id, score) in scores {
        let Some(node) = doc.tree.get(id) else { continue };
        let bonus = match node.value() {
            Node::Element(e) if e.name() == "article" || e.attr("itemprop") == Some("articleBody") => 1.05,
            Node::Element(e) if is_positive(e) => 1.02,
            _ => 1.0,
        };
        let score = score * bonus;
        if best.is_none_or(|(_, s)| score > s) {
            best = Some((id, score));
        }
    }
    best.filter(|(_, s)| *s > 0.0).map(|(id, _)| id)
}

/// Removes "more stories" cards inside the container: list items or `<article>`s below it
/// that hold a linked headline and a short blurb. Only a run of at least three such cards
/// counts, so a single list item with a link in an article is safe.
fn drop_teaser_cards(doc: &Html, container: NodeId, blocks: &mut Vec<Block>) {
    // The nearest li/article between a block and the container.
    let card_of = |owner: NodeId| -> Option<NodeId> {
        let mut cursor = doc.tree.get(owner);
        while let Some(n) = cursor {
            if n.id() == container {
                return None;
            }
            if let Node::Element(e) = n.value() {
                if matches!(e.name(), "li" | "article") {
                    return Some(n.id());
                }
            }
            cursor = n.parent();
        }
        None
    };
    let mut cards: HashMap<NodeId, (usize, usize, bool)> = HashMap::new(); // (chars, link chars, has headline)
    let owners: Vec<Option<NodeId>> = blocks.iter().map(|b| card_of(b.owner)).collect();
    for (block, card) in blocks.iter().zip(&owners) {
        let Some(card) = card else { continue };
        let entry = cards.entry(*card).or_default();
        entry.0 += block.chars;
        entry.1 += block.link_chars;
        // A headline is a few words; a poster's name or a "Reply" link over a forum post is not.
        let linked = block.link_chars * 2 > block.chars && block.text.split_whitespace().count() >= 3;
        entry.2 |= linked && matches!(block.kind, Kind::Heading | Kind::Title | Kind::Other | Kind::ListItem);
    }
    let teaser = |c: &(usize, usize, bool)| c.2 && c.1 > 0 && c.0 - c.1 < 400;
    let teasers: HashSet<NodeId> = cards.iter().filter(|(_, c)| teaser(c)).map(|(id, _)| *id).collect();
    // Cards that only hold a link are plain link lists, already dropped by link density.
    let with_blurb = teasers.iter().filter(|id| cards[*id].0 > cards[*id].1 + 40).count();
    if with_blurb < 3 {
        return;
    }
    let mut i = 0;
    blocks.retain(|_| {
        let keep = owners[i].is_none_or(|card| !teasers.contains(&card));
        i += 1;
        keep
    });
}

/// Turns the container's blocks into text, dropping boilerplate ones.
fn render(blocks: &[Block]) -> String {
    let mut kept: Vec<&Block> = blocks.iter().filter(|b| keep_block(b)).collect();
    // A heading or a short label at the very end introduces something that is not there (the
    // related links, the contact box, the share bar were dropped): "More topics", "Contact:".
    while kept.len() > 1 && kept.last().is_some_and(|b| is_label(b)) {
        kept.pop();
    }
    let mut out = String::new();
    let mut prev: Option<Kind> = None;
    for block in kept {
        if !out.is_empty() {
            let tight = block.kind == Kind::ListItem && prev == Some(Kind::ListItem);
            out.push_str(if tight { "\n" } else { "\n\n" });
        }
        if block.kind == Kind::ListItem {
            out.push_str("- ");
        }
        out.push_str(&block.text);
        prev = Some(block.kind);
    }
    out
}

/// A heading, or a short line that is not a sentence (no sentence end, no clause).
fn is_label(block: &Block) -> bool {
    let text = block.text.as_str();
    block.kind == Kind::Heading
        || (block.chars <= 50
            && block.kind != Kind::ListItem
            && !text.contains(',')
            && !text.ends_with(['.', '!', '"', '“', '”', '»', ')']))
}

/// A paragraph that is a sentence whose second half is a link ("X replaced Y, <a>who had held
/// both jobs for eight months.</a>"): the words outside the link make a clause of their own and
/// the paragraph ends like a sentence. A "Read also: <a>headline</a>" line has too few.
fn is_linked_sentence(block: &Block) -> bool {
    block.kind == Kind::Paragraph
        && block.chars - block.link_chars >= 30
        && block.text.ends_with(['.', '!', '?', '"', '“', '”', '»', ')'])
}

fn keep_block(block: &Block) -> bool {
    if block.kind == Kind::Title {
        return false;
    }
    if block.chars == 0 {
        return false;
    }
    let density = block.link_chars as f64 / block.chars as f64;
    if density > if block.quoted { 0.9 } else { 0.5 } && block.chars < 400 && !is_linked_sentence(block) {
        return false;
    }
    // Markup that reached us as text (escaped tags in a noscript or a broken template).
    if block.text.starts_with('<') && block.text.ends_with('>') {
        return false;
    }
    if block.chars < 200 && boilerplate::is_boilerplate(&block.text) {
        return false;
    }
    !boilerplate::is_server_error(&block.text)
}
