//! The portal content model and the real default portal: typed validation errors (snapshot),
//! the counts the portal promises, cross links both ways, the calendar feed, the charts.

mod common;

use std::collections::BTreeSet;
use std::sync::OnceLock;

use common::*;
use scraper::{Html, Selector};

#[test]
fn every_schema_violation_is_reported_in_one_run() {
    let (_t, site) = fixture("portal-bad");
    let err = build_err(&site);
    // One diagnostic per broken file (serde stops at the first problem in a table) plus all
    // semantic checks.
    for needle in [
        "bad-kind.md", "大型馆", "`省级`, `市级`", // enum with the allowed values
        "bad-city.md", "`北京` is not one of the 18 cities", "exhibits must be positive",
        "unknown-field.md", "phone",
        "no-city.md", "needs a city",
        "no-table.md", "missing the [venue] table",
        "dates.md", "is before start", "火星", "no venue page is titled `好官`", "did you mean: 好馆",
        "jiao-zuo.md", "typed page lists no sources",
        "level.md", "世界级",
        "scope.md", "a 市级 batch or studio needs a city",
    ] {
        assert!(err.contains(needle), "missing `{needle}` in:\n{err}");
    }
    insta::assert_snapshot!("portal_schema_violations", err);
}

/// The default portal, built once for all tests below.
fn portal() -> &'static (tempfile::TempDir, std::path::PathBuf, String) {
    static BUILT: OnceLock<(tempfile::TempDir, std::path::PathBuf, String)> = OnceLock::new();
    BUILT.get_or_init(|| {
        let (t, site) = default_portal();
        let run = build_ok(&site, &[]);
        (t, site, run.stderr)
    })
}

fn html(rel: &str) -> Html {
    Html::parse_document(&read(&portal().1.join("public"), rel))
}

fn pages_in(section: &str) -> Vec<String> {
    let dir = portal().1.join("content").join(section);
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md") && n != "_index.md")
        .collect();
    out.sort();
    out
}

#[test]
fn default_portal_builds_without_errors_or_warnings() {
    let stderr = &portal().2;
    assert!(!stderr.contains("warning") && !stderr.contains("error"), "{stderr}");
}

#[test]
fn default_portal_has_the_promised_content() {
    assert_eq!(pages_in("cities").len(), 18, "17 省辖市 + 济源示范区");
    assert!(pages_in("venues").len() >= 25, "venues: {}", pages_in("venues").len());
    assert!(pages_in("bases").len() >= 30, "bases: {}", pages_in("bases").len());
    assert!(pages_in("campaigns").len() >= 20, "campaigns: {}", pages_in("campaigns").len());
    assert!(pages_in("experts").len() >= 5, "experts: {}", pages_in("experts").len());
    for required in ["5610.md", "figures.md"] {
        assert!(pages_in("overview").contains(&required.to_string()));
    }
}

/// Front matter of a content file, parsed loosely for test expectations.
fn front_matter(section: &str, file: &str) -> toml::Table {
    let text = read(&portal().1.join("content").join(section), file);
    let fm = text.split("+++").nth(1).unwrap();
    toml::from_str(fm).unwrap()
}

#[test]
fn every_city_page_lists_its_venues_and_every_venue_links_back() {
    let link = Selector::parse("a[href]").unwrap();
    for file in pages_in("venues") {
        let fm = front_matter("venues", &file);
        let Some(city) = fm["venue"].get("city").and_then(|c| c.as_str()) else { continue };
        let slug = file.trim_end_matches(".md");
        let venue_url = format!("/venues/{slug}/");
        let city_file = pages_in("cities")
            .into_iter()
            .find(|c| front_matter("cities", c)["city"]["name"].as_str() == Some(city))
            .unwrap_or_else(|| panic!("no city page for {city}"));
        let city_url = format!("/cities/{}/", city_file.trim_end_matches(".md"));
        let city_doc = html(&format!("cities/{}/index.html", city_file.trim_end_matches(".md")));
        let hrefs: BTreeSet<_> = city_doc.select(&link).filter_map(|a| a.value().attr("href").map(str::to_string)).collect();
        assert!(hrefs.contains(&venue_url), "{city_url} does not list {venue_url}");
        let venue_doc = html(&format!("venues/{slug}/index.html"));
        let back: BTreeSet<_> = venue_doc.select(&link).filter_map(|a| a.value().attr("href").map(str::to_string)).collect();
        assert!(back.contains(&city_url), "{venue_url} does not link to {city_url}");
    }
}

#[test]
fn the_bases_page_offers_every_city_with_bases_and_its_count() {
    // Every city that has a base is offered on /bases/, with its number of bases, linking to
    // the bases list of the city's page; the city page's list has exactly that many cards.
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for file in pages_in("bases") {
        if let Some(city) = front_matter("bases", &file)["base"].get("city").and_then(|c| c.as_str()) {
            *counts.entry(city.to_string()).or_default() += 1;
        }
    }
    assert!(counts.len() >= 5, "{counts:?}");
    let bases = html("bases/index.html");
    let offered: std::collections::BTreeMap<String, (String, usize)> = bases
        .select(&Selector::parse("nav[aria-labelledby=jump-city-title] a").unwrap())
        .map(|a| {
            let count: String = a.select(&Selector::parse(".jump-count").unwrap()).flat_map(|c| c.text()).collect();
            let name = a.text().next().unwrap().to_string();
            (name, (a.value().attr("href").unwrap().to_string(), count.parse().unwrap()))
        })
        .collect();
    assert_eq!(offered.keys().collect::<Vec<_>>(), counts.keys().collect::<Vec<_>>());
    for (city, (href, count)) in &offered {
        assert_eq!(*count, counts[city], "{city}");
        let (path, anchor) = href.split_once('#').unwrap();
        assert_eq!(anchor, "rel-bases", "{href}");
        let doc = html(&format!("{}index.html", path.trim_start_matches('/')));
        let cards = doc.select(&Selector::parse("section.related-bases .card").unwrap()).count();
        assert_eq!(cards, *count, "{href}");
    }
}

#[test]
fn campaigns_link_their_venues_and_venues_list_their_campaigns() {
    let link = Selector::parse("a[href]").unwrap();
    let mut checked = 0;
    for file in pages_in("campaigns") {
        let fm = front_matter("campaigns", &file);
        let venues = fm["campaign"].get("venues").and_then(|v| v.as_array()).cloned().unwrap_or_default();
        for v in venues {
            let title = v.as_str().unwrap();
            let venue_file = pages_in("venues").into_iter().find(|f| front_matter("venues", f)["title"].as_str() == Some(title)).unwrap();
            let venue_doc = html(&format!("venues/{}/index.html", venue_file.trim_end_matches(".md")));
            let campaign_url = format!("/campaigns/{}/", file.trim_end_matches(".md"));
            assert!(
                venue_doc.select(&link).any(|a| a.value().attr("href") == Some(campaign_url.as_str())),
                "{title} does not list {campaign_url}"
            );
            checked += 1;
        }
    }
    assert!(checked > 0, "no campaign names a venue");
}

#[test]
fn campaigns_ics_parses_and_has_every_dated_campaign() {
    let text = read(&portal().1.join("public"), "campaigns.ics");
    assert!(text.lines().count() > 5 && text.contains("\r\n"));
    for line in text.split("\r\n") {
        assert!(line.len() <= 75, "line longer than 75 octets: {line}");
    }
    let calendar: icalendar::Calendar = text.parse().expect("campaigns.ics parses as iCalendar");
    let events: Vec<_> = calendar.components.iter().filter_map(|c| c.as_event()).collect();
    let dated = pages_in("campaigns").iter().filter(|f| front_matter("campaigns", f)["campaign"].get("start").is_some()).count();
    assert!(dated > 0);
    assert_eq!(events.len(), dated);
    use icalendar::Component;
    for e in events {
        assert!(e.get_summary().is_some_and(|s| !s.is_empty()));
        assert!(e.get_start().is_some());
        assert!(e.property_value("DTSTAMP").is_some() && e.property_value("UID").is_some());
    }
}

#[test]
fn every_chart_has_its_table() {
    let svg = Selector::parse("svg.chart").unwrap();
    let table = Selector::parse("table.chart-table").unwrap();
    let mut charts = 0;
    for file in pages_in("overview") {
        let doc = html(&format!("overview/{}/index.html", file.trim_end_matches(".md")));
        let n = doc.select(&svg).count();
        assert_eq!(n, doc.select(&table).count(), "{file}: charts without tables");
        for s in doc.select(&svg) {
            assert_eq!(s.value().attr("role"), Some("img"));
            assert!(s.select(&Selector::parse("title").unwrap()).next().is_some());
        }
        charts += n;
    }
    assert!(charts >= 3, "overview pages draw {charts} charts");
}

#[test]
fn typed_pages_cite_their_sources() {
    for section in ["venues", "bases", "experts", "campaigns", "cities"] {
        for file in pages_in(section) {
            let fm = front_matter(section, &file);
            let sources = fm.get("sources").and_then(|s| s.as_array()).cloned().unwrap_or_default();
            assert!(!sources.is_empty() || fm.get("example").is_some(), "{section}/{file} lists no sources");
            for s in sources {
                let s = s.as_str().unwrap();
                assert!(
                    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/seeds").join(s).is_file()
                        || !std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/seeds").is_dir(),
                    "{section}/{file}: source {s} is not a seed file"
                );
            }
        }
    }
}

#[test]
fn calendar_page_lists_dated_campaigns_in_order() {
    let doc = html("calendar/index.html");
    let starts: Vec<String> = doc
        .select(&Selector::parse(".calendar-item").unwrap())
        .filter_map(|li| li.value().attr("data-start").map(str::to_string))
        .collect();
    assert!(!starts.is_empty());
    let mut sorted = starts.clone();
    sorted.sort();
    assert_eq!(starts, sorted);
}

// ---- 适老化 (issue 25): words a visitor knows, search without JavaScript ----

/// The `[extra.sources]` table of the default portal's config.toml.
fn sources_table() -> toml::Table {
    let config: toml::Table = toml::from_str(&read(&portal().1, "config.toml")).unwrap();
    config["extra"]["sources"].as_table().cloned().expect("[extra.sources] in config.toml")
}

#[test]
fn every_cited_source_has_a_title_and_date_taken_from_the_seed_itself() {
    let table = sources_table();
    let seeds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/seeds");
    // (Headings break lines and space words differently from the title: compare without spaces.)
    let squeeze = |s: &str| s.chars().filter(|c| !c.is_whitespace() && *c != '*' && *c != '#').collect::<String>();
    for section in ["venues", "bases", "experts", "campaigns", "cities", "overview"] {
        for file in pages_in(section) {
            for s in front_matter(section, &file).get("sources").and_then(|s| s.as_array()).cloned().unwrap_or_default() {
                let s = s.as_str().unwrap();
                let entry = table.get(s).and_then(|e| e.as_table()).unwrap_or_else(|| panic!("{section}/{file}: source {s} has no title in [extra.sources]"));
                let title = entry["title"].as_str().unwrap();
                assert!(!title.is_empty() && !title.ends_with(".txt"), "{s}: a title, not a file name");
                if seeds.join(s).is_file() {
                    let text = squeeze(&std::fs::read_to_string(seeds.join(s)).unwrap());
                    assert!(text.contains(&squeeze(title)), "{s}: the title “{title}” is not in the document");
                    let date = entry.get("date").and_then(|d| d.as_str()).unwrap_or("");
                    assert!(date.is_empty() || text.contains(&squeeze(date)), "{s}: the date “{date}” is not in the document");
                }
            }
        }
    }
}

#[test]
fn pages_name_their_sources_by_title_and_date_never_by_file_name() {
    let public = portal().1.join("public");
    let sel = Selector::parse(".sources").unwrap();
    let mut checked = 0;
    for section in ["venues", "bases", "experts", "campaigns", "cities"] {
        for entry in std::fs::read_dir(public.join(section)).unwrap().flatten() {
            let f = entry.path().join("index.html");
            if !f.is_file() || entry.file_name() == "page" {
                continue;
            }
            let doc = Html::parse_document(&std::fs::read_to_string(&f).unwrap());
            for p in doc.select(&sel) {
                let text: String = p.text().collect();
                assert!(!text.contains(".txt"), "{}: {text}", f.display());
                assert!(text.starts_with("资料来源：《") && (text.contains("年") || text.contains("未注明日期")), "{}: {text}", f.display());
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "{checked} pages checked");
}

#[test]
fn a_sources_table_of_the_wrong_shape_falls_back_to_the_file_names() {
    for extra in [
        "[extra]\nsources = \"not a table\"\n",
        "[extra.sources]\n\"a.txt\" = \"a string, not a table\"\n",
        "[extra.sources.\"a.txt\"]\nby = \"no title\"\n",
        "[extra.sources.\"other.txt\"]\ntitle = \"another file\"\n",
    ] {
        let (_t, site) = fixture("basic");
        let config = read(&site, "config.toml");
        write(&site, "config.toml", &format!("{config}\n{extra}"));
        write(&site, "content/notes/sourced.md", "+++\ntitle = \"有来源的页\"\nsources = [\"a.txt\"]\n+++\n\n正文。\n");
        build_ok(&site, &[]);
        let html = read(&site.join("public"), "notes/sourced/index.html");
        assert!(html.contains("<code>a.txt</code>"), "{extra}: the file name is shown");
    }
}

#[test]
fn the_a_to_z_index_lists_every_page_by_section_in_pinyin_order() {
    let doc = html("a-z/index.html");
    let public = portal().1.join("public");
    let mut listed: BTreeSet<String> = BTreeSet::new();
    let section_sel = Selector::parse("main section.az-section").unwrap();
    let link_sel = Selector::parse(".az-list a").unwrap();
    let sections: Vec<_> = doc.select(&section_sel).collect();
    assert!(sections.len() >= 6, "{} sections", sections.len());
    for s in sections {
        let titles: Vec<String> = s.select(&link_sel).map(|a| a.text().collect()).collect();
        let keys: Vec<String> = titles.iter().map(|t| kepu::model::slug::slugify(t).replace('-', " ")).collect();
        let digits_last = |k: &String| !k.starts_with(|c: char| c.is_ascii_alphabetic());
        let mut sorted = keys.clone();
        sorted.sort_by(|a, b| digits_last(a).cmp(&digits_last(b)).then(a.cmp(b)));
        assert_eq!(keys, sorted, "pinyin order: {titles:?}");
        listed.extend(s.select(&link_sel).map(|a| a.value().attr("href").unwrap().to_string()));
    }
    for section in ["venues", "bases", "experts", "campaigns", "cities", "overview"] {
        for entry in std::fs::read_dir(public.join(section)).unwrap().flatten() {
            if entry.path().join("index.html").is_file() && entry.file_name() != "page" {
                let path = format!("/{section}/{}/", entry.file_name().to_string_lossy());
                assert!(listed.contains(&path), "{path} is not in the A–Z index");
            }
        }
    }
    // The header search box leads there without JavaScript; site.js sends it to /search/.
    let form = html("index.html");
    let f = form.select(&Selector::parse("form.header-search").unwrap()).next().unwrap();
    assert_eq!(f.value().attr("action"), Some("/a-z/"));
    assert_eq!(f.value().attr("data-search"), Some("/search/"));
}

#[test]
fn the_calendar_offers_a_webcal_subscription_with_a_line_that_explains_it() {
    let doc = html("calendar/index.html");
    let sub = doc.select(&Selector::parse("#subscribe").unwrap()).next().expect("#subscribe");
    let links: Vec<&str> = sub.select(&Selector::parse("a").unwrap()).filter_map(|a| a.value().attr("href")).collect();
    assert!(links.contains(&"webcal://kepu.example.org/campaigns.ics"), "{links:?}");
    assert!(links.contains(&"/campaigns.ics"), "the file to download too: {links:?}");
    let text: String = sub.text().collect();
    assert!(text.contains("添加到手机日历") && text.contains("自动"), "{text}");
    let footer: String = html("index.html").select(&Selector::parse("footer.site-footer").unwrap()).next().unwrap().text().collect();
    assert!(footer.contains("订阅更新") && footer.contains("添加到手机日历") && !footer.contains("Atom") && !footer.contains("iCal"), "{footer}");
}
