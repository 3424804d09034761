//! A site written the way Zola users write theirs (`tests/fixtures/zola-site`): blank lines
//! (and a BOM) before the opening `+++`, Zola's config keys, section `redirect_to`,
//! `insert_anchor_links`, transparent sections, `render = false`, `in_search_index`,
//! `paginate_path`, translations. It must build, with exactly one warning naming the Zola
//! keys kepu does not use; and the hostile `redirect_to` values must fail the build clearly,
//! leaving the previous `public/` as it was.

mod common;

use std::io::Read as _;

use common::*;
use scraper::{Html, Selector};

/// The headings `css` selects, as written in the file (the parser finds them; the bytes are
/// compared as written, since a parser would reorder the attributes).
fn select(html: &str, css: &str) -> Vec<String> {
    let doc = Html::parse_document(html);
    doc.select(&Selector::parse(css).unwrap())
        .map(|e| {
            let id = e.value().attr("id").unwrap();
            let start = html.find(&format!("<{} id=\"{id}\"", e.value().name())).expect("written as parsed");
            let end = start + html[start..].find("</h").unwrap() + 5;
            html[start..end].to_string()
        })
        .collect()
}

/// The search records (url, title, …) of a build, from the gzip'd fragment files.
fn search_urls(public: &std::path::Path) -> Vec<String> {
    let mut urls = Vec::new();
    for entry in std::fs::read_dir(public.join("search/frag")).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let mut json = String::new();
        flate2::read::GzDecoder::new(&bytes[..]).read_to_string(&mut json).unwrap();
        let records: Vec<Vec<serde_json::Value>> = serde_json::from_str(&json).unwrap();
        urls.extend(records.iter().map(|r| r[0].as_str().unwrap().to_string()));
    }
    urls.sort();
    urls
}

#[test]
fn a_zola_style_site_builds_with_one_warning_naming_the_unused_keys() {
    let (_t, site) = fixture("zola-site");
    let run = build_ok(&site, &[]);
    assert_eq!(run.stderr.matches("warning:").count(), 1, "{}", run.stderr);
    assert!(!run.stderr.contains("error:"), "{}", run.stderr);
    // The warning itself, as an editor reads it (the build summary line is left out: it has
    // a time in it).
    let warning: String = run.stderr.lines().take_while(|l| !l.starts_with("built ")).collect::<Vec<_>>().join("\n");
    insta::assert_snapshot!("zola-site-warning", warning);
    assert!(run.stderr.contains("built 8 pages, 5 sections"), "{}", run.stderr);
}

#[test]
fn blank_lines_and_a_bom_before_the_front_matter_are_fine() {
    let (_t, site) = fixture("zola-site");
    build_ok(&site, &[]);
    // content/_index.md starts with a blank line; docs/getting-started.md too; docs/_index.md
    // with a BOM and two blank lines (its redirect below proves it was read).
    assert!(read(&site, "public/index.html").contains("Welcome."));
    assert!(read(&site, "public/docs/getting-started/index.html").contains("This page starts the documentation."));
}

#[test]
fn section_redirect_to_writes_a_redirect_and_stays_out_of_sitemap_feeds_and_search() {
    let (_t, site) = fixture("zola-site");
    build_ok(&site, &[]);
    let public = site.join("public");
    let docs = read(&public, "docs/index.html");
    assert!(docs.contains(r#"<meta http-equiv="refresh" content="0; url=/site/docs/getting-started/">"#), "{docs}");
    assert!(docs.contains(r#"<link rel="canonical" href="/site/docs/getting-started/">"#), "{docs}");
    let old = read(&public, "old/index.html");
    assert!(old.contains("url=https://example.com/elsewhere/"), "{old}");
    // The section's aliases redirect to the section's URL (which redirects on).
    assert!(read(&public, "older/index.html").contains("url=/site/old/"));
    let sitemap = read(&public, "sitemap.xml");
    assert!(!sitemap.contains("/site/docs/<") && !sitemap.contains("/site/old/<"), "{sitemap}");
    assert!(sitemap.contains("/site/docs/getting-started/</loc>"), "{sitemap}");
    assert!(!public.join("docs/atom.xml").exists() && !public.join("old/atom.xml").exists());
    let urls = search_urls(&public);
    assert!(!urls.iter().any(|u| u == "/site/docs/" || u == "/site/old/"), "{urls:?}");
}

#[test]
fn insert_anchor_links_from_page_section_or_site() {
    let (_t, site) = fixture("zola-site");
    build_ok(&site, &[]);
    // Site-wide "right" (config [markdown]) on the home page.
    let home = select(&read(&site, "public/index.html"), "h2#start-here");
    assert_eq!(
        home,
        [r##"<h2 id="start-here">Start here <a class="zola-anchor" href="#start-here" aria-label="链接到本节：Start here">#</a></h2>"##]
    );
    // The docs section says "heading": the heading's text is the link.
    let docs = select(&read(&site, "public/docs/getting-started/index.html"), "h2#installing");
    assert_eq!(docs, [r##"<h2 id="installing"><a class="zola-anchor" href="#installing">Installing</a></h2>"##]);
    // The blog says "left", inherited through the transparent 2024 section.
    let post = select(&read(&site, "public/blog/2024/first/index.html"), "h2#a-heading-in-a-post");
    assert_eq!(
        post,
        [r##"<h2 id="a-heading-in-a-post"><a class="zola-anchor" href="#a-heading-in-a-post" aria-label="链接到本节：A heading in a post">#</a> A heading in a post</h2>"##]
    );
    // A page's own "none" wins over its section's.
    let third = select(&read(&site, "public/blog/third/index.html"), "h2#no-anchor-here");
    assert_eq!(third, [r#"<h2 id="no-anchor-here">No anchor here</h2>"#]);
}

#[test]
fn zola_front_matter_fields_have_their_meaning() {
    let (_t, site) = fixture("zola-site");
    build_ok(&site, &[]);
    let public = site.join("public");
    // render = false: not written, not listed, not in sitemap or search.
    assert!(!public.join("hidden/index.html").exists());
    assert!(!read(&public, "index.html").contains("Hidden page"));
    assert!(!read(&public, "sitemap.xml").contains("hidden"));
    // in_search_index = false: written, but not found by search.
    assert!(public.join("private/index.html").is_file());
    let urls = search_urls(&public);
    assert!(!urls.contains(&"/site/private/".to_string()) && !urls.contains(&"/site/hidden/".to_string()), "{urls:?}");
    assert!(urls.contains(&"/site/about/".to_string()), "{urls:?}");
    // Translations of a [languages] language are not built.
    assert!(!public.join("about.fr/index.html").exists() && !public.join("about-fr/index.html").exists());
    let files = tree(&public);
    assert!(!files.keys().any(|k| k.contains("fr") && !k.starts_with("search/frag/")), "{:?}", files.keys().collect::<Vec<_>>());
    // sort_by = "update_date", paginate_by = 2, paginate_path = "p"; the transparent 2024
    // section's post is listed by the blog. Newest update first: second (05-01), first
    // (03-01), third (02-01).
    let p1 = read(&public, "blog/index.html");
    let p2 = read(&public, "blog/p/2/index.html");
    let (second, first) = (p1.find("Second post").unwrap(), p1.find("First post").unwrap());
    assert!(second < first, "update_date order");
    assert!(p2.contains("Third post") && !p2.contains("Second post"), "{p2}");
    assert!(!public.join("blog/page/2/index.html").exists());
    // authors and the site's author in the feeds; feed_limit = 2.
    let atom = read(&public, "atom.xml");
    assert!(atom.contains("<author><name>Site Author</name></author>"), "{atom}");
    assert!(atom.contains("<author><name>B. Author</name></author>\n    <author><name>C. Author</name></author>"), "{atom}");
    assert_eq!(atom.matches("<entry>").count(), 2, "{atom}");
    // The blog's own feed (generate_feeds = true) and the tag's.
    assert!(public.join("blog/atom.xml").is_file() && public.join("tags/news/atom.xml").is_file());
    // The blog's page_template reaches the pages of its subsection too (nearest wins).
    assert!(read(&public, "blog/2024/first/index.html").contains("<title>Post: First post</title>"));
    assert!(read(&public, "blog/second/index.html").contains("<title>Post: Second post</title>"));
    assert!(!read(&public, "about/index.html").contains("<title>Post:"));
    // A Zola date prefix in the file name: the page's date, and not part of its URL.
    let dated = read(&public, "blog/dated-post/index.html");
    assert!(dated.contains("2024-01-15") || dated.contains("2024年1月15日"), "{dated}");
    assert!(read(&public, "sitemap.xml").contains("/site/blog/dated-post/</loc><lastmod>2024-01-15</lastmod>"));
    // Page aliases still work next to all this.
    assert!(read(&public, "who-we-are/index.html").contains("url=/site/about/"));
}

#[test]
fn the_built_site_passes_kepu_check() {
    let (_t, site) = fixture("zola-site");
    let r = kepu(&site, &["check", "--root", site.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("check passed"), "{}", r.stderr);
}

#[test]
fn link_checker_skip_prefixes_are_not_fetched_by_kepu_check_external() {
    // Port 9 on this machine refuses connections: fetched, the link is broken.
    let (_t, site) = fixture("zola-site");
    let args = ["check", "--root", site.to_str().unwrap(), "--external", "--timeout", "5"];
    let r = kepu(&site, &args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("127.0.0.1"), "{}", r.stderr);
    // (https://example.com/ stays skipped: the redirect of old/ points there, and tests have
    // no network.)
    let config = read(&site, "config.toml").replace("\"http://127.0.0.1:9/\", ", "");
    write(&site, "config.toml", &config);
    let r = kepu(&site, &args);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("http://127.0.0.1:9/status"), "{}", r.stderr);
}

/// Build the fixture with `content/docs/_index.md` replaced, expecting failure; the previous
/// `public/` must be left exactly as it was.
fn redirect_error(docs_index: &str) -> String {
    let (_t, site) = fixture("zola-site");
    write(&site, "content/docs/_index.md", docs_index);
    write(&site, "public/index.html", "<p>previous build</p>\n");
    let before = tree(&site.join("public"));
    let err = build_err(&site);
    assert_eq!(tree(&site.join("public")), before, "a failed build changed public/");
    assert!(!err.contains("panicked"), "{err}");
    err
}

fn docs_redirecting_to(target: &str) -> String {
    format!("+++\ntitle = \"Documentation\"\nredirect_to = {}\n+++\n", toml_string(target))
}

fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"").replace('\r', "\\r").replace('\n', "\\n"))
}

#[test]
fn hostile_redirect_targets_are_refused() {
    for (target, expect) in [
        ("javascript:alert(1)", "neither a page of this site nor an http(s) URL"),
        ("JaVaScRiPt:alert(document.cookie)", "neither a page of this site nor an http(s) URL"),
        ("data:text/html,<script>alert(1)</script>", "which a URL cannot contain"),
        ("data:text/html;base64,PHNjcmlwdD4=", "neither a page of this site nor an http(s) URL"),
        ("vbscript:msgbox", "neither a page of this site nor an http(s) URL"),
        ("//evil.example/", "neither a page of this site nor an http(s) URL"),
        ("\"><script>alert(1)</script>", "which a URL cannot contain"),
        ("/x\" onload=\"alert(1)", "which a URL cannot contain"),
        ("https://example.org/\"><script>", "which a URL cannot contain"),
        ("https://example.org/\r\nRefresh: 0", "which a URL cannot contain"),
        ("../../../etc/passwd", "may not contain `.` or `..` segments"),
        ("@/nowhere.md", "there is no content/nowhere.md"),
        ("", "redirect_to is empty"),
    ] {
        let err = redirect_error(&docs_redirecting_to(target));
        assert!(err.contains(expect), "{target:?}: {err}");
        assert!(err.contains("content/docs/_index.md:3:1"), "{target:?}: {err}");
        assert!(err.contains("[redirect_to]"), "{target:?}: {err}");
    }
}

#[test]
fn a_paginate_path_or_section_alias_leaving_the_output_folder_is_refused() {
    for (field, value) in [("paginate_path", "../../../outside"), ("paginate_path", "C:\\x"), ("aliases", "[\"../../escape\"]")] {
        let (_t, site) = fixture("zola-site");
        let value = if value.starts_with('[') { value.to_string() } else { toml_string(value) };
        let replaced = if field == "paginate_path" { "paginate_path = \"p\"" } else { "in_search_index = true" };
        let blog = read(&site, "content/blog/_index.md").replace(replaced, &format!("{field} = {value}"));
        write(&site, "content/blog/_index.md", &blog);
        let err = build_err(&site);
        assert!(err.contains("it could leave the site's output folder") && err.contains(&format!("[{field}]")), "{err}");
        assert!(!site.parent().unwrap().join("outside").exists() && !site.parent().unwrap().join("escape").exists());
    }
}

#[test]
fn redirect_error_messages() {
    let err = redirect_error(&docs_redirecting_to("javascript:alert(1)"));
    insta::assert_snapshot!("redirect-javascript", err);
}

#[test]
fn redirect_loops_are_refused() {
    // To itself.
    let err = redirect_error(&docs_redirecting_to("docs"));
    assert!(err.contains("redirect_to makes a loop: /docs/ → /docs/"), "{err}");
    // Through another section and back (docs → old → docs), written with an `@/` link too.
    let (_t, site) = fixture("zola-site");
    write(&site, "content/docs/_index.md", &docs_redirecting_to("@/old/_index.md"));
    write(&site, "content/old/_index.md", &format!("+++\ntitle = \"Old\"\nredirect_to = {}\n+++\n", toml_string("/docs/")));
    let err = build_err(&site);
    assert_eq!(err.matches("makes a loop").count(), 1, "reported once: {err}");
    assert!(err.contains("redirect_to makes a loop: /docs/ → /old/ → /docs/"), "{err}");
    insta::assert_snapshot!("redirect-loop", err);
}

#[test]
fn a_redirect_to_a_page_of_the_site_by_at_link_keeps_its_anchor() {
    let (_t, site) = fixture("zola-site");
    write(&site, "content/docs/_index.md", &docs_redirecting_to("@/docs/getting-started.md#first-build"));
    build_ok(&site, &[]);
    assert!(read(&site, "public/docs/index.html").contains("url=/site/docs/getting-started/#first-build"));
}

#[test]
fn config_keys_neither_kepus_nor_zolas_stay_errors_with_a_suggestion() {
    let (_t, site) = fixture("zola-site");
    let config = read(&site, "config.toml").replace("compile_sass = true", "compile_sas = true");
    write(&site, "config.toml", &config);
    let err = build_err(&site);
    insta::assert_snapshot!("config-near-miss", err);
    let (_t, site) = fixture("zola-site");
    let config = read(&site, "config.toml").replace("build_search_index = true", "build_search_index = \"yes\"");
    write(&site, "config.toml", &config);
    let err = build_err(&site);
    assert!(err.contains("`build_search_index` must be true or false"), "{err}");
    assert!(err.contains("config.toml:8:1"), "{err}");
}

#[test]
fn a_site_whose_config_is_zola_toml_builds_and_its_diagnostics_name_that_file() {
    let (_t, site) = fixture("zola-site");
    std::fs::rename(site.join("config.toml"), site.join("zola.toml")).unwrap();
    let run = build_ok(&site, &[]);
    assert!(run.stderr.contains("warning: zola.toml: 9 Zola settings") && run.stderr.contains("--> zola.toml:7:1"), "{}", run.stderr);
    let config = read(&site, "zola.toml").replace("compile_sass = true", "compile_sas = true");
    write(&site, "zola.toml", &config);
    let err = build_err(&site);
    assert!(err.contains("error: zola.toml: unknown key `compile_sas`") && err.contains("--> zola.toml:7:1"), "{err}");
    // kepu's own name wins when both are there.
    write(
        &site,
        "config.toml",
        "title = \"kepu\"\nbase_url = \"https://example.org/\"\ntaxonomies = [{ name = \"tags\" }, { name = \"categories\" }]\n",
    );
    let run = build_ok(&site, &[]);
    assert!(!run.stderr.contains("warning"), "{}", run.stderr);
}

#[test]
fn kepus_own_site_has_no_zola_warning() {
    let (_t, site) = fixture("basic");
    let run = build_ok(&site, &[]);
    assert!(!run.stderr.contains("Zola"), "{}", run.stderr);
}
