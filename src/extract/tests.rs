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

const PROSE: &str =
    "The minister said on Tuesday that the guarantees would be legally binding and ratified by parliaments.";
const PROSE2: &str =
    "Negotiations with more than twenty states continue, and the next round is planned for June in Brussels.";

/// Wraps body HTML in a page with navigation and a footer around it.
fn page(body: &str) -> String {
    format!(
        "<html><head><title>T</title></head><body><nav><a href='/'>Home</a> <a href='/w'>World</a></nav>\
         <div class='main'>{body}</div><footer><a href='/about'>About us</a></footer></body></html>"
    )
}

#[track_caller]
fn check(body: &str, expected: &str) {
    assert_eq!(extract(&page(body), &base()).text, expected);
}

#[test]
fn paragraphs_are_separated_by_a_blank_line() {
    check(&format!("<p>{PROSE}</p>\n<p>{PROSE2}</p>"), &format!("{PROSE}\n\n{PROSE2}"));
}

#[test]
fn list_items_are_kept_one_per_line() {
    check(
        &format!("<p>{PROSE}</p><ul><li>air defence</li><li>training</li></ul><p>{PROSE2}</p>"),
        &format!("{PROSE}\n\n- air defence\n- training\n\n{PROSE2}"),
    );
}

#[test]
fn entities_are_decoded_and_whitespace_collapsed() {
    check(
        &format!("<p>{PROSE} &laquo;Yes&raquo; &amp;   &#8212;\n   done.</p><p>{PROSE2}</p>"),
        &format!("{PROSE} «Yes» & — done.\n\n{PROSE2}"),
    );
}

#[test]
fn scripts_styles_and_figure_credits_are_dropped() {
    check(
        &format!(
            "<p>{PROSE}</p><script>var x = '<p>no</p>';</script><style>p{{}}</style>\
             <figure><img src=x><figcaption>Photo: Agency</figcaption></figure><p>{PROSE2}</p>"
        ),
        &format!("{PROSE}\n\n{PROSE2}"),
    );
}

#[test]
fn read_also_and_share_boxes_are_dropped() {
    check(
        &format!(
            "<p>{PROSE}</p><p>Читайте також: <a href='/x'>Інша новина</a></p>\
             <div class='share-buttons'><a href='#'>Facebook</a><a href='#'>Twitter</a></div><p>{PROSE2}</p>"
        ),
        &format!("{PROSE}\n\n{PROSE2}"),
    );
}

#[test]
fn line_breaks_inside_a_paragraph_are_kept() {
    check(&format!("<p>{PROSE}<br>{PROSE2}</p>"), &format!("{PROSE}\n{PROSE2}"));
}

#[test]
fn a_future_date_is_never_returned() {
    let html = "<html><head><meta property='article:published_time' content='2999-01-01T00:00:00Z'>\
                </head><body><time datetime='2024-05-16T08:00:00Z'>yesterday</time></body></html>";
    let published = extract(html, &base()).published.unwrap();
    assert_eq!(published.to_rfc3339(), "2024-05-16T08:00:00+00:00");
}

#[test]
fn canonical_url_is_resolved_against_the_base() {
    let html = "<html><head><link rel='canonical' href='/2024/05/17/story'></head><body></body></html>";
    let canonical = extract(html, &base()).canonical_url.unwrap();
    assert_eq!(canonical.as_str(), "https://news.example.org/2024/05/17/story");
}

#[test]
fn undeclared_language_is_left_to_the_detector() {
    assert_eq!(extract(&page(&format!("<p>{PROSE}</p>")), &base()).lang, None);
}

#[test]
fn feed_body_selector_wins_over_the_generic_extractor() {
    let html = page(&format!(
        "<div class='x'><p>{PROSE}</p><p>{PROSE2}</p></div><div class='y'><p>{PROSE2}</p></div>"
    ));
    let rules = Rules { body_selector: Some("div.y"), ..Rules::default() };
    // Below the trust threshold the rule's result is not used...
    assert_eq!(extract_with(&html, &base(), &rules).text, extract(&html, &base()).text);
    // ...above it, it is.
    let long = PROSE2.repeat(3);
    let html =
        page(&format!("<div class='x'><p>{PROSE}</p><p>{PROSE}</p></div><div class='y'><p>{long}</p></div>"));
    assert_eq!(extract_with(&html, &base(), &rules).text, long);
}

#[test]
fn a_run_of_teaser_cards_is_dropped() {
    let card = |n: u32| {
        format!(
            "<li><h3><a href='/s{n}'>Another story number {n} with a headline</a></h3>\
             <p>A short blurb about story {n} that invites a click and says little else.</p></li>"
        )
    };
    let cards: String = (1..=4).map(card).collect();
    check(
        &format!("<article><p>{PROSE}</p><p>{PROSE2}</p><ul class='more'>{cards}</ul></article>"),
        &format!("{PROSE}\n\n{PROSE2}"),
    );
}

#[test]
fn a_list_with_one_linked_item_is_kept() {
    check(
        &format!("<p>{PROSE}</p><ul><li><a href='/a'>The full declaration</a></li><li>{PROSE2}</li></ul><p>{PROSE}</p>"),
        &format!("{PROSE}\n\n- {PROSE2}\n\n{PROSE}"),
    );
}

#[test]
fn a_script_rendered_page_falls_back_to_its_description() {
    let html = "<html><head><meta property='og:description' content='Allies   pledged support.'></head>\
                <body><div id='root'></div></body></html>";
    assert_eq!(extract(html, &base()).text, "Allies pledged support.");
}

const PROSE3: &str =
    "Officials from both sides described the talks as constructive but declined to give a date for the signing.";

/// Reader comments: more prose than the article, in a boilerplate-named element.
fn comments() -> String {
    let one = "I have followed this story from the beginning and I still think the whole process \
               was rushed, the public deserved a proper debate before anything was decided.";
    format!("<div class='comments'><h3>Comments</h3><p>{one}</p><p>{one}</p><p>{one}</p><p>{one}</p></div>")
}

#[test]
fn utility_classes_that_contain_boilerplate_words_do_not_hide_the_article() {
    for wrapper in [
        "col overflow-hidden article-column",
        "field field--name-body field--label-hidden",
        "elementor-widget-container",
        "post-12 post type-post status-publish tag-politics",
        "testreport__section testreport__section--ads",
        "entry themeform share",
    ] {
        let html = page(&format!(
            "<div class='{wrapper}'><p>{PROSE}</p><p>{PROSE2}</p><p>{PROSE3}</p></div>{}",
            comments()
        ));
        assert_eq!(extract(&html, &base()).text, format!("{PROSE}\n\n{PROSE2}\n\n{PROSE3}"), "{wrapper}");
    }
}

#[test]
fn a_recipe_keeps_its_ingredients_with_its_steps() {
    let html = page(&format!(
        "<div class='recipe'><div class='ingredients'><h2>Ingredients</h2><ul><li>250 g flour</li>\
         <li>2 eggs, beaten</li><li>125 g butter, softened</li><li>1 pinch of salt</li></ul></div>\
         <div class='preparation'><h2>Method</h2><p>{PROSE}</p><p>{PROSE2}</p></div></div>"
    ));
    let text = extract(&html, &base()).text;
    assert!(text.contains("- 250 g flour\n- 2 eggs, beaten"), "{text}");
    assert!(text.contains(PROSE2), "{text}");
}

#[test]
fn a_live_ticker_whose_entries_are_called_comments_is_not_empty() {
    let entry = |text: &str| {
        format!("<div class='live-match-comment'><div class='live-match-comment-body'>{text}</div></div>")
    };
    let html = page(&format!("{}{}{}", entry(PROSE), entry(PROSE2), entry(PROSE3)));
    let text = extract(&html, &base()).text;
    assert!(text.contains(PROSE) && text.contains(PROSE3), "{text}");
}

#[test]
fn the_lead_shown_above_the_body_comes_first() {
    let lead =
        "The guarantees will be binding, the minister said, and parliaments will ratify them this year.";
    let html = format!(
        "<html><head><meta name='description' content='{lead}'></head><body>\
         <header class='article-header'><h1>Binding guarantees</h1><p class='standfirst'>{lead}</p></header>\
         <div class='article-body'><p>{PROSE}</p><p>{PROSE2}</p><p>{PROSE3}</p></div>{}</body></html>",
        comments()
    );
    assert_eq!(extract(&html, &base()).text, format!("{lead}\n\n{PROSE}\n\n{PROSE2}\n\n{PROSE3}"));
    // Not twice when the body starts with it, and a description shown nowhere adds nothing.
    let html = page(&format!("<p>{lead}</p><p>{PROSE}</p>"))
        .replace("<title>", &format!("<meta name='description' content='{lead}'><title>"));
    assert_eq!(extract(&html, &base()).text, format!("{lead}\n\n{PROSE}"));
    let html = page(&format!("<p>{PROSE}</p>"))
        .replace("<title>", &format!("<meta name='description' content='{lead}'><title>"));
    assert_eq!(extract(&html, &base()).text, PROSE);
}

#[test]
fn labels_left_at_the_end_of_the_article_are_dropped() {
    // The links under "More topics" and the contact box are dropped; their labels go with them.
    let links = "<ul><li><a href='/a'>One story</a></li><li><a href='/b'>Another story</a></li></ul>";
    check(
        &format!("<p>{PROSE}</p><p>{PROSE2}</p><h3>More topics</h3>{links}<p>Contact:</p>"),
        &format!("{PROSE}\n\n{PROSE2}"),
    );
    // A heading inside the article stays, and so does a short last sentence.
    check(
        &format!("<p>{PROSE}</p><h2>What comes next</h2><p>{PROSE2}</p><p>That is all, for now.</p>"),
        &format!("{PROSE}\n\nWhat comes next\n\n{PROSE2}\n\nThat is all, for now."),
    );
}

#[test]
fn a_theme_class_on_body_that_names_hover_cards_does_not_hide_the_page() {
    let html = page(&format!("<p>{PROSE}</p><p>{PROSE2}</p>"))
        .replace("<body>", "<body class='single-post theme-image-rollover-yes'>");
    assert_eq!(extract(&html, &base()).text, format!("{PROSE}\n\n{PROSE2}"));
}

#[test]
fn the_article_a_script_page_puts_in_noscript_is_read() {
    let html = page(&format!(
        "<div id='app'></div><noscript><img src='/pixel.gif'></noscript>\
         <noscript><div class='post-body'><p>{PROSE}</p><p>{PROSE2}</p></div></noscript>"
    ));
    assert_eq!(extract(&html, &base()).text, format!("{PROSE}\n\n{PROSE2}"));
}

#[test]
fn an_author_box_after_the_article_is_dropped() {
    let bio =
        "Jane Doe is head of the politics desk. When she is not reading budgets, she hikes in the Alps.";
    check(
        &format!("<p>{PROSE}</p><p>{PROSE2}</p><div class='TestReport__AuthorBox'><p>{bio}</p></div>"),
        &format!("{PROSE}\n\n{PROSE2}"),
    );
}

#[test]
fn a_rating_widget_and_teaser_cards_are_dropped() {
    let blurb =
        "Another look at how the negotiations went, with the views of three former diplomats and a timeline.";
    let cards: String =
        (1..=3).map(|n| format!("<li class='teaser col-4'><p>Story {n}</p><p>{blurb}</p></li>")).collect();
    check(
        &format!(
            "<div class='story'><p>{PROSE}</p><p>{PROSE2}</p><p>{PROSE3}</p>\
             <p class='post-ratings'>Was this article useful? Rate it from one to five stars.</p></div>\
             <ul class='list'>{cards}</ul>"
        ),
        &format!("{PROSE}\n\n{PROSE2}\n\n{PROSE3}"),
    );
}

#[test]
fn soft_hyphens_stay_and_letters_are_composed() {
    // The page's hyphenation hints are its text (normalize and dedup ignore them); a letter sent
    // as base + combining accent comes out as the one precomposed letter.
    let hyphenated = PROSE.replace("guarantees", "guar\u{AD}an\u{AD}tees");
    check(&format!("<p>{hyphenated}</p><p>{PROSE2}</p>"), &format!("{hyphenated}\n\n{PROSE2}"));
    let decomposed =
        "Le ministre a pre\u{301}cise\u{301} que les garanties seraient juridiquement contraignantes.";
    let composed = "Le ministre a précisé que les garanties seraient juridiquement contraignantes.";
    check(&format!("<p>{decomposed}</p><p>{PROSE2}</p>"), &format!("{composed}\n\n{PROSE2}"));
}

#[test]
fn php_warnings_in_a_sidebar_do_not_outweigh_a_short_post() {
    let warning = "<b>Warning</b>:  Use of undefined constant comments - assumed 'comments' (this will throw \
                   an Error in a future version of PHP) in <b>/var/www/wp-content/plugins/recent/recent.php</b> \
                   on line <b>928</b><br />";
    let post = "Some time has passed since our first was born. A few days ago the second one arrived.";
    let html = format!(
        "<html><body><div id='content'><div class='post'><h1>Number two</h1><div class='postentry'>\
         <p>{post}</p><p>=)</p></div></div></div>\
         <div id='sidebar'><ul><li><h2>Recent comments</h2><ul><br />{}</ul></li></ul></div></body></html>",
        warning.repeat(4)
    );
    assert_eq!(extract(&html, &base()).text, format!("{post}\n\n=)"));
}

#[test]
fn a_sentence_that_ends_in_a_link_is_kept() {
    let linked = "In March the board replaced its spokesman Jan Nowak, <a href='/nowak'>who had combined the job with his \
                  duties in the marketing department for eight months.</a>";
    let text = "In March the board replaced its spokesman Jan Nowak, who had combined the job with his duties in the marketing \
                department for eight months.";
    check(
        &format!("<p>{PROSE}</p><p>{linked}</p><p>{PROSE2}</p>"),
        &format!("{PROSE}\n\n{text}\n\n{PROSE2}"),
    );
    // A linked headline behind a short label is still a link, not a sentence.
    check(
        &format!("<p>{PROSE}</p><p>More: <a href='/x'>The minister on the guarantees, in full.</a></p><p>{PROSE2}</p>"),
        &format!("{PROSE}\n\n{PROSE2}"),
    );
}

#[test]
fn caption_legends_and_affiliate_disclosures_are_dropped() {
    let caption = "The old border crossing near the river, where the delegations met for the first time.";
    let disclosure = "We earn a commission when you buy through the links on this page, at no cost to you.";
    for boxed in [
        format!("<div class='legend'><div class='content'>{caption}</div></div>"),
        format!("<p class='Bildunterschrift'>{caption}</p>"),
        format!("<p class='comp disclosure-text'>{disclosure}</p>"),
        format!("<div class='affiliate-text'><p>{disclosure}</p></div>"),
    ] {
        check(
            &format!("<p>{PROSE}</p>{boxed}<p>{PROSE2}</p><p>{PROSE3}</p>"),
            &format!("{PROSE}\n\n{PROSE2}\n\n{PROSE3}"),
        );
    }
    // An id made of a headline's slug is not a legend.
    check(
        &format!("<div id='grundlegende-techniken-fur-presse'><p>{PROSE}</p><p>{PROSE2}</p></div>"),
        &format!("{PROSE}\n\n{PROSE2}"),
    );
}

#[test]
fn the_lead_the_page_names_above_the_body_comes_first() {
    let lead = "The youth associations ask for a start-up grant, and the minister is open to the idea.";
    let html = format!(
        "<html><body><header class='intro-header'><h1>A grant for new farms</h1><p class='a-lead'>{lead}</p>\
         <div class='byline'>21.01.2022 by <a href='/a'>P. Otte</a></div></header>\
         <div class='body'><p>{PROSE}</p><p>{PROSE2}</p><p>{PROSE3}</p></div>{}</body></html>",
        comments()
    );
    assert_eq!(extract(&html, &base()).text, format!("{lead}\n\n{PROSE}\n\n{PROSE2}\n\n{PROSE3}"));
    // A card for another story is no lead, and neither is a deck set as a heading.
    for above in [format!("<div class='teaser'><p>{lead}</p></div>"), format!("<h2 class='lead'>{lead}</h2>")]
    {
        let html = format!(
            "<html><body>{above}<div class='body'><p>{PROSE}</p><p>{PROSE2}</p><p>{PROSE3}</p></div></body></html>"
        );
        assert_eq!(extract(&html, &base()).text, format!("{PROSE}\n\n{PROSE2}\n\n{PROSE3}"), "{above}");
    }
}

#[test]
fn a_forum_thread_keeps_every_post() {
    // Each post is a sibling of the one with the most prose, each under its poster's name; the
    // thread's container also holds a long list of other threads, so it scores below a post.
    let others: String = (1..=12)
        .map(|n| format!("<li><a href='/t/{n}'>Another thread about the update number {n}</a></li>"))
        .collect();
    for tag in ["div", "li"] {
        let post = |a: &str, b: &str| {
            format!(
                "<{tag} class='postbit postcontainer'><div class='userinfo'><a href='/u/1'>sunsetkilling</a></div>\
                 <div class='postbody'><p>{a}</p><p>{b}</p></div></{tag}>"
            )
        };
        let thread = format!("{}{}{}", post(PROSE, PROSE2), post(PROSE2, PROSE3), post(PROSE3, PROSE));
        let list = if tag == "li" { format!("<ol>{thread}</ol>") } else { thread };
        let text = extract(&page(&format!("<div class='posts'>{list}<ul>{others}</ul></div>")), &base()).text;
        assert_eq!(text.matches(PROSE).count(), 2, "{tag}: {text}");
        assert_eq!(text.matches(PROSE2).count(), 2, "{tag}: {text}");
    }
}
