//! Hostile strings in every field a site can set must come out as text, never as markup or
//! script: in every page (parsed with html5ever, the algorithm browsers use), in the feeds
//! and sitemap (parsed as XML) and in the calendar (parsed as iCalendar).
//!
//! `tests/fixtures/hostile/` puts `<script>`, `<img onerror>`, quote breaks, `javascript:` and
//! iCalendar line breaks into titles, descriptions, config values, `[extra]`, taxonomy terms,
//! every typed field (venue halls, campaign organisers, figure labels, chart points…), URL
//! paths, aliases and Markdown bodies. Each payload calls `alert('<marker>')` with a marker
//! naming where it came from, so a finding says which field leaked.
//!
//! Raw HTML in Markdown *bodies* is the one documented exception: `markdown.unsafe_html = true`
//! lets an editor publish it. With the default (`false`) nothing may execute; with `true`
//! only payloads from bodies may, and they must.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use scraper::{ElementRef, Html, Selector};

/// Payloads written in Markdown bodies (everything else is a front-matter or config field).
const BODY_MARKERS: &[&str] = &[
    "home body",
    "home img",
    "heading",
    "body script",
    "body img",
    "raw link",
    "iframe",
    "block html",
    "svg",
    "footnote",
    "campaign body",
    "city body",
];

const VENUE_TITLE: &str = "场馆\"><script>alert('venue.title')</script><img src=x onerror=alert('venue.title')>";
const VENUE_PATH: &str = "/venues/v\"><img src=x onerror=alert('path')>/";
const CONFIG_TITLE: &str = "科普\"><script>alert('config.title')</script><img src=x onerror=alert('config.title')>";
const CAMPAIGN_TITLE: &str =
    "活动\nATTACH:https://evil.test/x\nX-INJECTED:1 <script>alert('campaign.title')</script>";

fn build_hostile(unsafe_html: bool) -> (tempfile::TempDir, PathBuf) {
    let (tmp, site) = common::fixture("hostile");
    if unsafe_html {
        let config = common::read(&site, "config.toml");
        std::fs::write(site.join("config.toml"), format!("{config}\n[markdown]\nunsafe_html = true\n")).unwrap();
    }
    common::build_ok(&site, &[]);
    (tmp, site.join("public"))
}

fn files_with(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.unwrap().into_path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == ext))
        .collect();
    out.sort();
    out
}

/// Something in a page that a browser would run.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Finding {
    file: String,
    what: String,
    code: String,
}

impl Finding {
    /// The `alert('…')` marker, or the whole code when there is none.
    fn marker(&self) -> String {
        let re = regex::Regex::new(r"alert\('([^']*)'\)").unwrap();
        re.captures(&self.code).map_or_else(|| self.code.clone(), |c| c[1].to_string())
    }
}

/// The theme's own scripts, as found in a build of a harmless site.
fn theme_scripts() -> BTreeSet<String> {
    let (_tmp, site) = common::fixture("bad-base");
    common::build_ok(&site, &[]);
    let mut out = BTreeSet::new();
    for file in files_with(&site.join("public"), "html") {
        let doc = Html::parse_document(&std::fs::read_to_string(&file).unwrap());
        for s in doc.select(&Selector::parse("script").unwrap()) {
            out.insert(script_signature(&s));
        }
    }
    assert!(!out.is_empty(), "the theme has scripts; finding none means this check is broken");
    out
}

fn script_signature(s: &ElementRef) -> String {
    match s.value().attr("src") {
        Some(src) => format!("src {src}"),
        None => format!("inline {}", s.text().collect::<String>()),
    }
}

fn dangerous_url(value: &str) -> bool {
    let v: String = value.chars().filter(|c| !c.is_whitespace() && !c.is_control()).collect::<String>().to_lowercase();
    v.starts_with("javascript:") || v.starts_with("vbscript:") || v.starts_with("data:text/html")
}

const URL_ATTRIBUTES: &[&str] =
    &["href", "src", "action", "formaction", "poster", "data", "background", "cite", "xlink:href", "ping", "srcset"];
const FORBIDDEN_ELEMENTS: &[&str] =
    &["iframe", "frame", "frameset", "object", "embed", "applet", "base", "foreignobject", "marquee", "portal"];

/// Everything executable in one HTML document that is not one of the theme's own scripts.
fn findings(file: &str, html: &str, theme: &BTreeSet<String>) -> Vec<Finding> {
    let doc = Html::parse_document(html);
    let mut out = Vec::new();
    let mut found = |what: String, code: &str| out.push(Finding { file: file.to_string(), what, code: code.to_string() });
    for el in doc.root_element().descendants().filter_map(ElementRef::wrap) {
        let name = el.value().name().to_ascii_lowercase();
        if FORBIDDEN_ELEMENTS.contains(&name.as_str()) {
            found(format!("<{name}> element"), &el.html());
        }
        if name == "script" {
            let ld_json = el.value().attr("type") == Some("application/ld+json")
                && serde_json::from_str::<serde_json::Value>(&el.text().collect::<String>()).is_ok();
            if !ld_json && !theme.contains(&script_signature(&el)) {
                found("<script>".into(), &script_signature(&el));
            }
        }
        for (attr, value) in el.value().attrs() {
            let attr = attr.to_ascii_lowercase();
            if attr.starts_with("on") {
                found(format!("{attr}= on <{name}>"), value);
            }
            if attr == "srcdoc" {
                found(format!("srcdoc= on <{name}>"), value);
            }
            if URL_ATTRIBUTES.contains(&attr.as_str()) && dangerous_url(value) {
                found(format!("{attr}= on <{name}>"), value);
            }
            if attr == "style" && (value.contains("javascript:") || value.contains("expression(")) {
                found(format!("style= on <{name}>"), value);
            }
        }
        if name == "meta"
            && el.value().attr("http-equiv").is_some_and(|h| h.eq_ignore_ascii_case("refresh"))
        {
            let content = el.value().attr("content").unwrap_or("");
            let url = content.split_once("url=").map_or("", |(_, u)| u);
            if dangerous_url(url) {
                found("meta refresh".into(), content);
            }
        }
    }
    out
}

fn all_findings(public: &Path) -> Vec<Finding> {
    let theme = theme_scripts();
    let mut out = Vec::new();
    for file in files_with(public, "html") {
        let rel = file.strip_prefix(public).unwrap().to_string_lossy().into_owned();
        out.extend(findings(&rel, &std::fs::read_to_string(&file).unwrap(), &theme));
    }
    out
}

fn text_of(doc: &Html, css: &str) -> Vec<String> {
    doc.select(&Selector::parse(css).unwrap()).map(|e| e.text().collect::<String>()).collect()
}

fn page(public: &Path, url_path: &str) -> Html {
    let file = public.join(url_path.trim_start_matches('/')).join("index.html");
    Html::parse_document(&std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display())))
}

#[test]
fn nothing_executes_with_the_default_config() {
    let (_tmp, public) = build_hostile(false);
    let html_files = files_with(&public, "html");
    assert!(html_files.len() >= 15, "the hostile site should produce every kind of page: {html_files:?}");
    let found = all_findings(&public);
    assert!(found.is_empty(), "executable markup in the output:\n{found:#?}");
}

#[test]
fn hostile_strings_are_shown_as_text_not_dropped() {
    // Escaping, not stripping: an editor who types `<` sees `<`.
    let (_tmp, public) = build_hostile(false);
    let venue = page(&public, VENUE_PATH);
    assert_eq!(text_of(&venue, "h1").iter().map(|t| t.trim()).collect::<Vec<_>>(), [VENUE_TITLE]);
    let title = text_of(&venue, "title").join("");
    assert!(title.contains(VENUE_TITLE) && title.contains(CONFIG_TITLE), "{title}");
    let meta: Vec<&str> =
        venue.select(&Selector::parse("meta[name=description]").unwrap()).filter_map(|m| m.value().attr("content")).collect();
    assert_eq!(meta, ["描述\"><img src=x onerror=alert('venue.description')>"]);
    let prose = text_of(&venue, ".prose").join("");
    for raw in ["<script>alert('body script')</script>", "<img src=x onerror=\"alert('body img')\">", "</code></pre><script>alert('code')</script>"] {
        assert!(prose.contains(raw), "body text should show {raw:?} literally:\n{prose}");
    }
    let all_text = venue.root_element().text().collect::<String>();
    for field in ["展厅<script>alert('hall')</script>", "观众<script>alert('figure.label')</script>", "<script>alert('county')</script>县"] {
        assert!(all_text.contains(field), "{field:?} should be visible text");
    }
    let overview = page(&public, "/overview/charts/").root_element().text().collect::<String>();
    assert!(overview.contains("2022<script>alert('point')</script>"), "chart labels are text");
    // The alias page redirects to the venue, as a plain URL.
    let alias = Html::parse_document(&common::read(&public, "old/v'><script>alert('alias')</script>/index.html"));
    let refresh: Vec<&str> = alias
        .select(&Selector::parse("meta[http-equiv=refresh]").unwrap())
        .filter_map(|m| m.value().attr("content"))
        .collect();
    assert_eq!(refresh, [format!("0; url={VENUE_PATH}")]);
}

#[test]
fn unsafe_html_lets_only_bodies_through() {
    let (_tmp, public) = build_hostile(true);
    let markers: BTreeSet<String> = all_findings(&public).iter().map(Finding::marker).collect();
    let from_fields: Vec<&String> = markers.iter().filter(|m| !BODY_MARKERS.contains(&m.as_str())).collect();
    assert!(from_fields.is_empty(), "front-matter or config strings became markup: {from_fields:?}");
    // The switch really switches: the editor's raw HTML is published.
    for m in ["body script", "body img", "block html", "campaign body"] {
        assert!(markers.contains(m), "raw HTML `{m}` should pass with unsafe_html = true; found {markers:?}");
    }
}

/// Parse an XML file completely; return each element's local name, attributes and text.
fn parse_xml(text: &str) -> Vec<(String, Vec<(String, String)>, String)> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut out: Vec<(String, Vec<(String, String)>, String)> = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    loop {
        match reader.read_event().unwrap_or_else(|e| panic!("not well-formed XML: {e}\n{text}")) {
            Event::Start(e) => {
                out.push(element(&e));
                open.push(out.len() - 1);
            }
            Event::Empty(e) => out.push(element(&e)),
            Event::End(_) => {
                open.pop();
            }
            Event::Text(t) => {
                if let Some(&i) = open.last() {
                    out[i].2.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                if let Some(&i) = open.last() {
                    let name = r.to_string();
                    let ch = match name.as_str() {
                        "amp" => "&".to_string(),
                        "lt" => "<".to_string(),
                        "gt" => ">".to_string(),
                        "quot" => "\"".to_string(),
                        "apos" => "'".to_string(),
                        n => {
                            let code = n.strip_prefix("#x").map(|h| u32::from_str_radix(h, 16)).or_else(|| n.strip_prefix('#').map(str::parse));
                            let c = code.and_then(Result::ok).and_then(char::from_u32).unwrap_or_else(|| panic!("unknown entity &{n};"));
                            c.to_string()
                        }
                    };
                    out[i].2.push_str(&ch);
                }
            }
            Event::CData(_) => panic!("kepu writes no CDATA; a CDATA section means a string broke out"),
            Event::Eof => break,
            _ => {}
        }
    }
    assert!(open.is_empty(), "unclosed elements");
    out
}

fn element(e: &quick_xml::events::BytesStart) -> (String, Vec<(String, String)>, String) {
    let name = e.local_name().as_ref().to_string();
    let attrs = e
        .attributes()
        .map(|a| {
            let a = a.unwrap();
            (a.key.as_ref().to_string(), a.normalized_value(quick_xml::XmlVersion::Explicit1_0).unwrap().into_owned())
        })
        .collect();
    (name, attrs, String::new())
}

#[test]
fn feeds_and_sitemap_are_well_formed_and_carry_the_strings_as_text() {
    let (_tmp, public) = build_hostile(false);
    let xml_files = files_with(&public, "xml");
    assert!(xml_files.len() >= 3, "{xml_files:?}");
    let atom_elements: BTreeSet<&str> =
        ["feed", "title", "link", "updated", "id", "generator", "entry", "published", "summary", "author", "name"].into();
    let sitemap_elements: BTreeSet<&str> = ["urlset", "url", "loc", "lastmod"].into();
    for file in &xml_files {
        let rel = file.strip_prefix(&public).unwrap().to_string_lossy().into_owned();
        let elements = parse_xml(&std::fs::read_to_string(file).unwrap());
        let allowed = if rel == "sitemap.xml" { &sitemap_elements } else { &atom_elements };
        for (name, attrs, _) in &elements {
            assert!(allowed.contains(name.as_str()), "{rel}: unexpected element <{name}>");
            for (k, v) in attrs {
                assert!(!(k == "type" && (v == "html" || v == "xhtml")), "{rel}: {k}={v} would make readers render markup");
            }
        }
    }
    let atom = parse_xml(&common::read(&public, "atom.xml"));
    let texts = |name: &str| -> Vec<String> { atom.iter().filter(|e| e.0 == name).map(|e| e.2.clone()).collect() };
    assert_eq!(texts("title")[0], CONFIG_TITLE, "feed title round-trips exactly");
    assert!(texts("title").contains(&VENUE_TITLE.to_string()), "{:?}", texts("title"));
    assert!(texts("title").contains(&CAMPAIGN_TITLE.to_string()), "{:?}", texts("title"));
    let sitemap = parse_xml(&common::read(&public, "sitemap.xml"));
    let locs: Vec<&str> = sitemap.iter().filter(|e| e.0 == "loc").map(|e| e.2.as_str()).collect();
    assert!(locs.contains(&format!("https://kepu.test{VENUE_PATH}").as_str()), "{locs:?}");
}

#[test]
fn calendar_lines_cannot_be_injected() {
    use icalendar::Component;
    let (_tmp, public) = build_hostile(false);
    let text = common::read(&public, "campaigns.ics");
    let calendar: icalendar::Calendar = text.parse().expect("campaigns.ics parses as iCalendar");
    let allowed_calendar: BTreeSet<&str> =
        ["VERSION", "PRODID", "CALSCALE", "METHOD", "X-WR-CALNAME", "X-WR-TIMEZONE"].into();
    for property in &calendar.properties {
        assert!(allowed_calendar.contains(property.key()), "unexpected calendar property {}", property.key());
    }
    assert_eq!(calendar.components.len(), 1, "exactly one event, no injected components");
    let event = calendar.components[0].as_event().expect("a VEVENT");
    let allowed_event: BTreeSet<&str> =
        ["UID", "DTSTAMP", "DTSTART", "DTEND", "SUMMARY", "DESCRIPTION", "LOCATION", "URL"].into();
    let keys: Vec<&String> = event.properties().keys().chain(event.multi_properties().keys()).collect();
    for key in &keys {
        assert!(allowed_event.contains(key.as_str()), "injected event property {key}");
    }
    assert!(event.components().is_empty(), "no VALARM or other sub-component");
    assert_eq!(event.get_summary(), Some(CAMPAIGN_TITLE), "the title round-trips exactly");
    let description = event.get_description().unwrap();
    assert!(description.starts_with("日程;逗号,反斜杠\\ 和换行\nBEGIN:VALARM"), "{description:?}");
}

/// Query the built index through the browser's own search module (run by Node).
fn search(public: &Path, query: &str) -> serde_json::Value {
    let tool = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/search.mjs");
    let out = std::process::Command::new("node")
        .arg(&tool)
        .arg(public)
        .arg(query)
        .args(["--limit", "50"])
        .output()
        .expect("node is needed for the search tests (scripts/install-test-deps installs it)");
    assert!(out.status.success(), "search failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn search_results_carry_only_marks() {
    // Excerpts are HTML (escaped text plus <mark>); titles, section labels and URLs are text the
    // page sets with textContent and href. None may carry markup that runs.
    let (_tmp, public) = build_hostile(false);
    let mut excerpts_seen = 0;
    let mut texts = String::new();
    for query in ["script", "alert", "onerror", "img", "场馆", "javascript", "活动"] {
        let result = search(&public, query);
        let results = result["results"].as_array().unwrap();
        assert!(!results.is_empty(), "{query}: the hostile site should match");
        for r in results {
            let url = r["url"].as_str().unwrap();
            assert!(url.starts_with('/') && !dangerous_url(url), "{query}: url {url:?}");
            texts.push_str(r["title"].as_str().unwrap());
            let excerpt = r["excerpt"].as_str().unwrap();
            if excerpt.is_empty() {
                continue;
            }
            excerpts_seen += 1;
            let fragment = Html::parse_fragment(excerpt);
            for el in fragment.root_element().descendants().filter_map(ElementRef::wrap).skip(1) {
                assert_eq!(el.value().name(), "mark", "{query}: <{}> in excerpt {excerpt:?}", el.value().name());
                assert_eq!(el.value().attrs().count(), 0, "{query}: attributes in excerpt {excerpt:?}");
            }
            texts.push_str(&fragment.root_element().text().collect::<String>());
        }
    }
    assert!(excerpts_seen > 0, "no excerpts at all: the check would prove nothing");
    // The hostile strings arrive as text, intact.
    assert!(texts.contains(VENUE_TITLE), "titles are plain text");
    assert!(texts.contains("<img src=x onerror=alert('campaign.description')>"), "excerpts show markup as text");
}
