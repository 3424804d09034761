//! The generator core on small fixture sites: what a valid site produces, how each kind of
//! broken input fails (snapshots of the diagnostics), and that failures never touch `public/`.

mod common;

use common::*;
use scraper::{Html, Selector};

fn select<'a>(doc: &'a Html, css: &str) -> Vec<scraper::ElementRef<'a>> {
    doc.select(&Selector::parse(css).unwrap()).collect()
}

#[test]
fn valid_site_builds_every_expected_file() {
    let (_t, site) = fixture("basic");
    let run = build_ok(&site, &[]);
    assert!(run.stderr.contains("built 5 pages, 3 sections"), "{}", run.stderr);
    let public = site.join("public");
    for f in [
        "index.html",
        "venues/index.html",
        "venues/zheng-zhou-ke-ji-guan/index.html",
        "venues/bundle-guan/index.html",
        "venues/bundle-guan/photo.png",
        "notes/index.html",
        "notes/page/2/index.html",
        "notes/note-1/index.html",
        "tags/index.html",
        "tags/ke-ji-guan/index.html",
        "old/zhengzhou/index.html",
        "sitemap.xml",
        "robots.txt",
        "404.html",
        "atom.xml",
        "notes/atom.xml",
        "css/syntax.css",
        "css/site.css",
        "site-extra.css",
        ".kepu-manifest.json",
    ] {
        assert!(public.join(f).is_file(), "missing {f}");
    }
    assert!(!public.join("notes/draft/index.html").exists(), "drafts are left out by default");
    // The site's own 404 template overrides the theme's.
    assert!(read(&public, "404.html").contains("站点自定义 404"));
}

#[test]
fn markdown_features_and_internal_links() {
    let (_t, site) = fixture("basic");
    build_ok(&site, &[]);
    let html = read(&site, "public/venues/zheng-zhou-ke-ji-guan/index.html");
    let doc = Html::parse_document(&html);
    let ids: Vec<_> = select(&doc, "h2[id]").iter().map(|h| h.value().attr("id").unwrap().to_string()).collect();
    assert!(ids.contains(&"开放时间".to_string()) && ids.contains(&"开放时间-1".to_string()), "{ids:?}");
    let links: Vec<_> = select(&doc, ".prose a").iter().filter_map(|a| a.value().attr("href")).map(str::to_string).collect();
    assert!(links.contains(&"/venues/bundle-guan/#%E5%B1%95%E5%93%81".to_string()), "{links:?}"); // #展品
    assert!(links.contains(&"/notes/".to_string()), "{links:?}");
    assert_eq!(select(&doc, ".prose table").len(), 1, "tables");
    assert_eq!(select(&doc, ".prose .footnote-definition").len(), 1, "footnotes");
    assert!(!select(&doc, "pre.code span[class^=hl-]").is_empty(), "highlighted code");
    assert!(html.contains("id=\"continue-reading\""));
    // Summary is the text before <!-- more -->, cut at the sentence end.
    let list = read(&site, "public/venues/index.html");
    assert!(list.contains("示例场馆。") || list.contains("第一段介绍。这里是第二句话！"));
    // Alias redirects to the page.
    assert!(read(&site, "public/old/zhengzhou/index.html").contains("url=/venues/zheng-zhou-ke-ji-guan/"));
}

#[test]
fn pagination_and_feeds() {
    let (_t, site) = fixture("basic");
    build_ok(&site, &[]);
    let p1 = read(&site, "public/notes/index.html");
    let p2 = read(&site, "public/notes/page/2/index.html");
    // sort_by = "date": newest first, two a page.
    assert!(p1.find("笔记 3").unwrap() < p1.find("笔记 2").unwrap());
    assert!(p2.contains("笔记 1") && !p2.contains("笔记 3"));
    let atom = read(&site, "public/atom.xml");
    assert!(atom.contains("<updated>2024-03-15T00:00:00Z</updated>"), "{atom}");
    assert!(read(&site, "public/sitemap.xml").contains("https://fixture.example.org/venues/zheng-zhou-ke-ji-guan/"));
    assert!(read(&site, "public/robots.txt").contains("Sitemap: https://fixture.example.org/sitemap.xml"));
}

/// A taxonomy's `paginate_by` splits each term's page into pagers, and its `feed` (on by
/// default) gives each term with dated pages its own Atom feed, linked from the term's pages.
#[test]
fn term_pages_are_paginated_and_have_feeds() {
    let (_t, site) = fixture("basic");
    let config = read(&site, "config.toml").replacen("title = \"标签\"", "title = \"标签\"\npaginate_by = 3", 1);
    write(&site, "config.toml", &config);
    build_ok(&site, &[]);
    let cards = |html: &str| Html::parse_document(html).select(&Selector::parse("li.card").unwrap()).count();
    let p1 = read(&site, "public/tags/ke-ji-guan/index.html");
    let p2 = read(&site, "public/tags/ke-ji-guan/page/2/index.html");
    assert_eq!((cards(&p1), cards(&p2)), (3, 1), "four pages, three to a pager");
    assert!(p1.contains("共4篇") && p2.contains("共4篇"), "the count is of all pagers");
    assert!(p1.contains(r#"href="/tags/ke-ji-guan/page/2/" rel="next""#), "{p1}");
    assert!(p2.contains(r#"href="/tags/ke-ji-guan/" rel="prev""#), "{p2}");
    assert!(p2.contains("（第2页）"), "the second pager says which it is in its title");
    assert!(!site.join("public/tags/ke-ji-guan/page/3").exists());
    // The term's feed has its dated pages (the notes) and the term's pages link it.
    let feed = read(&site, "public/tags/ke-ji-guan/atom.xml");
    assert!(feed.contains("笔记 3") && feed.contains("https://fixture.example.org/tags/ke-ji-guan/atom.xml"), "{feed}");
    assert!(p1.contains(r#"type="application/atom+xml" title="测试站" href="/tags/ke-ji-guan/atom.xml""#), "{p1}");
    // A term with no dated page gets no feed, and its pages link the site's.
    assert!(!site.join("public/tags/zheng-zhou/atom.xml").exists());
    assert!(read(&site, "public/tags/zheng-zhou/index.html").contains(r#"href="/atom.xml""#));

    // `paginator.total_pages` counts pages (as in Zola); `number_pagers` counts pagers.
    write(&site, "templates/taxonomy_single.html", "{{ paginator.total_pages }}/{{ paginator.number_pagers }}/{{ term.pages | length }}");
    write(&site, "config.toml", &config.replacen("paginate_by = 3", "paginate_by = 3\nfeed = false", 1));
    build_ok(&site, &[]);
    assert_eq!(read(&site, "public/tags/ke-ji-guan/page/2/index.html"), "4/2/0", "a paginated term's own list is empty");
    assert!(!site.join("public/tags/ke-ji-guan/atom.xml").exists(), "feed = false");
}

#[test]
fn drafts_flag_includes_drafts() {
    let (_t, site) = fixture("basic");
    build_ok(&site, &["--drafts"]);
    assert!(site.join("public/notes/draft/index.html").is_file());
}

#[test]
fn base_url_with_a_path_prefixes_links() {
    let (_t, site) = fixture("basic");
    build_ok(&site, &["--base-url", "https://example.org/portal/"]);
    let html = read(&site, "public/venues/zheng-zhou-ke-ji-guan/index.html");
    assert!(html.contains("href=\"/portal/venues/bundle-guan/#%E5%B1%95%E5%93%81\""), "{html}");
    // Stylesheets carry a content hash for caching (`?h=…`).
    assert!(html.contains("href=\"/portal/css/site.css?h="), "{html}");
}

#[test]
fn two_builds_are_byte_identical() {
    let (_t, site) = fixture("basic");
    build_ok(&site, &["--output", site.join("a").to_str().unwrap()]);
    build_ok(&site, &["--output", site.join("b").to_str().unwrap()]);
    assert_eq!(tree(&site.join("a")), tree(&site.join("b")));
}

/// Break the fixture with `edit`, build, and check the failure: exit code 1, the previous
/// `public/` byte-for-byte unchanged, and the diagnostics as snapshotted.
fn failing_build(name: &str, edit: impl FnOnce(&std::path::Path)) -> String {
    let (_t, site) = fixture("basic");
    build_ok(&site, &[]);
    let before = tree(&site.join("public"));
    edit(&site);
    let stderr = build_err(&site);
    assert_eq!(before, tree(&site.join("public")), "{name}: public/ changed after a failed build");
    let leftovers: Vec<_> = std::fs::read_dir(&site)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("kepu-") && n != ".kepu-cache")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    stderr
}

#[test]
fn broken_internal_link_fails_with_location() {
    let err = failing_build("link", |site| {
        write(site, "content/notes/note-1.md", "+++\ntitle = \"笔记 1\"\n+++\n\n见 [不存在](@/venues/nowhere.md)。\n\n见 [锚点](@/venues/bundle-guan/index.md#没有)。\n");
    });
    insta::assert_snapshot!("broken_internal_link", err);
}

#[test]
fn slug_collision_names_both_files() {
    let err = failing_build("collision", |site| {
        write(site, "content/venues/other.md", "+++\ntitle = \"另一个\"\nslug = \"zheng-zhou-ke-ji-guan\"\nsources = [\"x\"]\n[venue]\nkind = \"数字科技馆\"\n+++\n");
    });
    assert!(err.contains("content/venues/other.md") && err.contains("content/venues/郑州科技馆.md"), "{err}");
    insta::assert_snapshot!("slug_collision", err);
}

/// A page that fails on its own is reported once: the links to it and the campaign that names
/// it are not reported as missing as well (their files sort first, so those errors would
/// come first). A link to a file that does not exist still is.
#[test]
fn a_broken_page_is_not_reported_again_by_what_refers_to_it() {
    let (_t, site) = fixture("serve-site");
    let venue = "content/venues/zheng-zhou-ke-ji-guan.md";
    write(&site, venue, &read(&site, venue).replacen("weight = 1\n", "weight = 1\ntags = [\"科技馆\"]\n", 1));
    let city = "content/cities/zheng-zhou.md";
    write(&site, city, &format!("{}\n见[郑州科技馆](@/venues/zheng-zhou-ke-ji-guan.md)。\n", read(&site, city)));
    let err = build_err(&site);
    assert!(err.contains("unknown field `tags`") && err.contains(venue), "{err}");
    assert!(err.contains("`tags` is a taxonomy of this site: put it under [taxonomies]"), "{err}");
    assert!(err.contains("build failed: 1 error(s)"), "only the page's own error:\n{err}");

    write(&site, city, &format!("{}\n见[新馆](@/venues/xin-guan.md)。\n", read(&site, city)));
    let err = build_err(&site);
    assert!(err.contains("build failed: 2 error(s)") && err.contains("`@/venues/xin-guan.md`: no such content file"), "{err}");
}

#[test]
fn bad_front_matter_points_at_the_line() {
    let err = failing_build("front matter", |site| {
        write(site, "content/notes/note-2.md", "+++\ntitle = \"笔记 2\"\ndate = 2024-02-30\nweight = \"heavy\n+++\n");
    });
    insta::assert_snapshot!("bad_front_matter", err);
}

#[test]
fn template_error_names_the_template() {
    let err = failing_build("template", |site| {
        write(site, "templates/page.html", "{% extends \"base.html\" %}\n{% block content %}\n{{ page.title | no_such_filter }}\n{% endblock content %}\n");
    });
    assert!(err.contains("templates/page.html"), "{err}");
    insta::assert_snapshot!("template_error", err);
}

#[test]
fn template_syntax_error_has_a_line() {
    let err = failing_build("template syntax", |site| {
        write(site, "templates/section.html", "{% extends \"base.html\" %}\n{% block content %}\n{% for p in section.pages %}\n{% endblock content %}\n");
    });
    assert!(err.contains("templates/section.html"), "{err}");
    insta::assert_snapshot!("template_syntax_error", err);
}

#[test]
fn all_errors_are_reported_in_one_run() {
    let err = failing_build("many", |site| {
        write(site, "content/notes/note-1.md", "+++\ntitle = \"笔记 1\"\n+++\n[x](@/nope.md)\n");
        write(site, "content/notes/note-2.md", "+++\ntitle = \"笔记 2\"\ncolour = \"red\"\n+++\n");
        write(site, "content/notes/note-3.md", "+++\ntitle = \"笔记 3\"\n[taxonomies]\ncategories = [\"x\"]\n+++\n");
    });
    assert!(err.contains("note-1.md") && err.contains("note-2.md") && err.contains("note-3.md"), "{err}");
    assert!(err.contains("build failed: 3 error(s)"), "{err}");
}

#[test]
fn unknown_config_key_is_named() {
    let (_t, site) = fixture("basic");
    let cfg = read(&site, "config.toml");
    write(&site, "config.toml", &format!("{cfg}\ntitel = \"typo\"\n"));
    let err = build_err(&site);
    assert!(err.contains("titel") && err.contains("config.toml"), "{err}");
}

#[test]
fn usage_errors_exit_with_2() {
    let (_t, site) = fixture("basic");
    assert_eq!(kepu(&site, &["build", "--no-such-flag"]).code, 2);
    assert_eq!(kepu(&site, &["frobnicate"]).code, 2);
    // A mistyped site root is a usage error too, named in full, and writes nothing.
    for command in ["build", "check", "serve"] {
        let r = kepu(&site, &[command, "--root", "no-such-site"]);
        assert_eq!(r.code, 2, "{command}: {}", r.stderr);
        assert!(r.stderr.contains("no such folder") && r.stderr.contains(&*site.join("no-such-site").to_string_lossy()), "{}", r.stderr);
    }
    assert!(!site.join("no-such-site").exists());
    let v = kepu(&site, &["--version"]);
    assert_eq!(v.code, 0);
    assert!(v.stdout.starts_with("kepu "));
}

#[test]
fn check_writes_nothing() {
    let (_t, site) = fixture("basic");
    let r = kepu(&site, &["check", "--root", site.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!site.join("public").exists());
}

#[test]
fn init_and_new_make_a_site_that_builds() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("new-site");
    let r = kepu(dir.path(), &["init", site.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    build_ok(&site, &[]);
    let home = read(&site, "public/index.html");
    assert!(home.contains(r#"<div class="notice notice-tip" role="note">"#), "the skeleton shows a component: {home}");
    for (kind, name) in [("venue", "新乡科技馆示例"), ("base", "示例基地"), ("expert", "示例专家批次"), ("campaign", "示例活动"), ("city", "新乡")] {
        let r = kepu(&site, &["new", kind, name]);
        assert_eq!(r.code, 0, "{kind}: {}", r.stderr);
    }
    build_ok(&site, &["--drafts"]);
    assert!(site.join("public/venues/xin-xiang-ke-ji-guan-shi-li/index.html").is_file());
    assert_eq!(kepu(&site, &["new", "museum", "x"]).code, 2);
    assert_eq!(kepu(&site, &["new", "venue", "新乡科技馆示例"]).code, 1, "refuses to overwrite");
}

#[test]
fn template_functions_reach_the_whole_site() {
    let (_t, site) = fixture("basic");
    build_ok(&site, &["--base-url", "https://example.org/portal/"]);
    let doc = Html::parse_document(&read(&site, "public/index.html"));
    let text = |id: &str| select(&doc, &format!("#{id}"))[0].text().collect::<String>();
    assert_eq!(text("get-page"), "郑州科技馆|/portal/venues/zheng-zhou-ke-ji-guan/|市级|40万");
    assert_eq!(text("get-section"), "笔记|笔记 3,笔记 2,笔记 1,");
    assert_eq!(text("get-taxonomy"), "科技馆=4;郑州=1;");
    assert_eq!(text("get-url"), "/portal/venues/bundle-guan/|/portal/img/x.png");
}

#[test]
fn a_sites_own_card_template_is_what_card_renders_and_may_call_other_functions() {
    let (_t, site) = fixture("basic");
    std::fs::create_dir_all(site.join("templates/partials")).unwrap();
    std::fs::write(
        site.join("templates/partials/card.html"),
        r#"{% component cards.card(p, compact=false, city=true, level=2) %}<li class="my-card" data-home="{{ get_url(path='/') }}" data-level="{{ level }}">{{ p.title }}|{{ city_link(name="郑州") }}|<b>x</b></li>{% endcomponent cards.card %}"#,
    )
    .unwrap();
    build_ok(&site, &[]);
    let doc = Html::parse_document(&read(&site, "public/venues/index.html"));
    let cards = select(&doc, "li.my-card");
    assert!(!cards.is_empty(), "the site's card template is used");
    assert!(cards.iter().all(|c| c.value().attr("data-home") == Some("/") && c.value().attr("data-level") == Some("2")));
    assert!(cards.iter().any(|c| c.text().collect::<String>() == "郑州科技馆|郑州市|x"), "{:?}", cards[0].html());
}

#[test]
fn yaml_front_matter_works_for_typed_pages_too() {
    let (_t, site) = fixture("basic");
    write(&site, "content/venues/yaml-guan.md", "---\ntitle: YAML 馆\nsources: [fixture]\nvenue:\n  kind: 县级\n  city: 修武\n---\n\n正文。\n");
    let err = build_err(&site);
    assert!(err.contains("content/venues/yaml-guan.md:6") && err.contains("`修武` is not one of the 18 cities"), "{err}");
    write(&site, "content/venues/yaml-guan.md", "---\ntitle: YAML 馆\nsources: [fixture]\nvenue:\n  kind: 县级\n  city: 焦作\n  county: 修武县\n---\n\n正文。\n");
    build_ok(&site, &[]);
    assert!(read(&site, "public/venues/yaml-guan/index.html").contains("修武县"));
}
