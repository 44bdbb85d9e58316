use super::*;

fn base() -> Url {
    Url::parse("https://news.example.org/2024/05/17/story").unwrap()
}

#[test]
fn deeply_nested_megabyte_page_returns() {
    // 1 MiB of nested divs: quadratic in html5ever without the pre-scan budget.
    let open = "<div>";
    let n = 1024 * 1024 / (open.len() + "</div>".len());
    let html = format!(
        "<html><body>{}<p>The minister said the guarantees would be binding and enforceable.</p>{}</body></html>",
        open.repeat(n),
        "</div>".repeat(n)
    );
    assert!(html.len() >= 1024 * 1024);
    let extracted = extract(&html, &base());
    assert!(extracted.text.contains("guarantees would be binding"), "{}", extracted.text);
}

#[test]
fn hostile_snippets_do_not_panic() {
    for html in [
        "",
        "<",
        "<html",
        "<<<>>>",
        "<p>",
        "\u{0}",
        "<table><tr><td>x",
        "<a href='http://[::1'>x</a>",
        "<link rel=canonical href='http://%zz'>",
        "<script type=application/ld+json>{\"@type\":\"NewsArticle\",\"articleBody\":5}</script>",
    ] {
        let _ = extract(html, &base());
    }
}
