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
    assert_eq!(events.len(), dated + annual_campaigns().len(), "every dated campaign and every yearly day");
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

/// The campaigns whose front matter has a `[campaign.annual]` table: file → (month, day).
fn annual_campaigns() -> std::collections::BTreeMap<String, (i64, Option<i64>)> {
    pages_in("campaigns")
        .into_iter()
        .filter_map(|f| {
            let fm = front_matter("campaigns", &f);
            let a = fm["campaign"].get("annual")?.as_table()?.clone();
            Some((f, (a["month"].as_integer().unwrap(), a.get("day").and_then(|d| d.as_integer()))))
        })
        .collect()
}

#[test]
fn national_days_fixed_by_law_repeat_every_year_in_the_feed() {
    use icalendar::Component;
    let annual = annual_campaigns();
    assert_eq!(
        annual.keys().map(String::as_str).collect::<Vec<_>>(),
        ["quan-guo-ke-ji-gong-zuo-zhe-ri.md", "quan-guo-ke-pu-yue.md"],
        "全国科技工作者日 (科学技术进步法) and 全国科普月 (科学技术普及法)"
    );
    let text = read(&portal().1.join("public"), "campaigns.ics");
    let calendar: icalendar::Calendar = text.parse().expect("campaigns.ics parses as iCalendar");
    let events: Vec<_> = calendar.components.iter().filter_map(|c| c.as_event()).collect();
    let repeating: std::collections::BTreeMap<String, (String, String, String)> = events
        .iter()
        .filter_map(|e| {
            let rule = e.property_value("RRULE")?.to_string();
            let uid = e.property_value("UID").unwrap().split('@').next().unwrap().to_string();
            Some((format!("{uid}.md"), (rule, e.property_value("DTSTART").unwrap().to_string(), e.property_value("DTEND").unwrap().to_string())))
        })
        .collect();
    assert_eq!(repeating.keys().collect::<Vec<_>>(), annual.keys().collect::<Vec<_>>(), "exactly the campaigns with a yearly date repeat");
    assert_eq!(repeating["quan-guo-ke-ji-gong-zuo-zhe-ri.md"], ("FREQ=YEARLY".into(), "20230530".into(), "20230531".into()));
    assert_eq!(repeating["quan-guo-ke-pu-yue.md"], ("FREQ=YEARLY".into(), "20250901".into(), "20251001".into()));
    for (file, (rule, start, _)) in &repeating {
        let (month, day) = annual[file];
        assert_eq!(rule, "FREQ=YEARLY");
        assert_eq!(start[4..6].parse::<i64>().unwrap(), month, "{file}");
        assert_eq!(start[6..8].parse::<i64>().unwrap(), day.unwrap_or(1), "{file}");
    }
    // The page says the day and why, and not that no date is known.
    let page = html("campaigns/quan-guo-ke-ji-gong-zuo-zhe-ri/index.html");
    let facts: String = page.select(&Selector::parse(".facts-box").unwrap()).flat_map(|f| f.text()).collect();
    assert!(facts.contains("每年5月30日") && facts.contains("日期依据") && facts.contains("科学技术进步法"), "{facts}");
    assert!(!facts.contains("没有写明具体日期"), "{facts}");
    // The legal basis travels with the event.
    let unfolded = text.replace("\r\n ", "");
    assert!(unfolded.contains("日期依据：《中华人民共和国科学技术进步法》"), "{unfolded}");
}

#[test]
fn the_calendar_shows_yearly_days_ahead_offers_webcal_and_names_the_undated() {
    let doc = html("calendar/index.html");
    let annual = annual_campaigns();
    // Yearly days come first, each with its month and day for the visitor's script to place.
    let items: Vec<(String, Option<String>, String)> = doc
        .select(&Selector::parse("section.calendar-annual .calendar-item").unwrap())
        .map(|li| {
            let a = li.select(&Selector::parse("a").unwrap()).next().unwrap();
            (li.value().attr("data-month").unwrap().to_string(), li.value().attr("data-day").map(str::to_string), a.value().attr("href").unwrap().to_string())
        })
        .collect();
    assert_eq!(
        items,
        [
            ("5".to_string(), Some("30".to_string()), "/campaigns/quan-guo-ke-ji-gong-zuo-zhe-ri/".to_string()),
            ("9".to_string(), None, "/campaigns/quan-guo-ke-pu-yue/".to_string()),
        ]
    );
    let text: String = doc.select(&Selector::parse("section.calendar-annual").unwrap()).flat_map(|s| s.text()).collect();
    assert!(text.contains("每年5月30日") && text.contains("每年9月") && text.contains("日期依据"), "{text}");
    // Subscribe (webcal://) beside the file itself.
    let hrefs: Vec<String> =
        doc.select(&Selector::parse(".subscribe a").unwrap()).map(|a| a.value().attr("href").unwrap().to_string()).collect();
    assert!(hrefs.contains(&"/campaigns.ics".to_string()), "{hrefs:?}");
    assert!(hrefs.contains(&"webcal://kepu.example.org/campaigns.ics".to_string()), "{hrefs:?}");
    // Every campaign without a date or a yearly day is listed, plainly, as having none.
    let undated: BTreeSet<String> = pages_in("campaigns")
        .into_iter()
        .filter(|f| front_matter("campaigns", f)["campaign"].get("start").is_none() && !annual.contains_key(f))
        .map(|f| format!("/campaigns/{}/", f.trim_end_matches(".md")))
        .collect();
    let section = doc.select(&Selector::parse("section.calendar-undated").unwrap()).next().unwrap();
    let heading: String = section.select(&Selector::parse("h2").unwrap()).flat_map(|h| h.text()).collect();
    assert_eq!(heading, format!("没有公布日期的活动（{}项）", undated.len()));
    let listed: BTreeSet<String> =
        section.select(&Selector::parse("li a").unwrap()).map(|a| a.value().attr("href").unwrap().to_string()).collect();
    assert_eq!(listed, undated);
}

#[test]
fn a_recurrence_no_source_states_is_left_out_and_shows_nothing() {
    for file in ["lan-kao-mo-shi.md", "shou-xi-ke-pu-zhuan-jia-jiang-ke-pu.md"] {
        assert!(front_matter("campaigns", file)["campaign"].get("recurrence").is_none(), "{file}");
        let doc = html(&format!("campaigns/{}/index.html", file.trim_end_matches(".md")));
        assert_eq!(doc.select(&Selector::parse(".badge-recurrence").unwrap()).count(), 0, "{file}");
        let terms: Vec<String> = doc.select(&Selector::parse("dt").unwrap()).map(|d| d.text().collect()).collect();
        assert!(!terms.iter().any(|t| t == "举办频次"), "{file}: {terms:?}");
    }
    // Where a source says how often (公益科普进地铁 “常态化开展”), it is shown.
    let doc = html("campaigns/gong-yi-ke-pu-jin-di-tie/index.html");
    let badge: String = doc.select(&Selector::parse(".page-badges .badge-recurrence").unwrap()).flat_map(|b| b.text()).collect();
    assert_eq!(badge, "常态化");
}

#[test]
fn places_without_a_designation_carry_the_neutral_badge() {
    let sites: Vec<String> = pages_in("bases").into_iter().filter(|f| front_matter("bases", f)["base"]["category"].as_str() == Some("科普阵地")).collect();
    for must in ["he-nan-li-gong-da-xue-di-qiu-ke-xue-guan.md", "shang-qiu-shi-gong-an-min-jing-jian-kang-ke-pu-xuan-jiao-ji-di.md"] {
        assert!(sites.contains(&must.to_string()), "{must}: {sites:?}");
    }
    assert!(sites.len() >= 10, "{sites:?}");
    // On the city's list, the card says 科普阵地, not 科普教育基地.
    let city = html("cities/jiao-zuo/index.html");
    let card = city
        .select(&Selector::parse("section.related-bases .card").unwrap())
        .find(|c| c.select(&Selector::parse("a").unwrap()).any(|a| a.value().attr("href") == Some("/bases/he-nan-li-gong-da-xue-di-qiu-ke-xue-guan/")))
        .expect("焦作 lists 河南理工大学地球科学馆");
    let badges: Vec<String> = card.select(&Selector::parse(".badge").unwrap()).map(|b| b.text().collect()).collect();
    assert_eq!(badges, ["科普阵地"]);
    let page = html("bases/he-nan-li-gong-da-xue-di-qiu-ke-xue-guan/index.html");
    let badges: Vec<String> = page.select(&Selector::parse(".page-badges .badge").unwrap()).map(|b| b.text().collect()).collect();
    assert_eq!(badges, ["科普阵地"]);
}

#[test]
fn the_provincial_science_museum_gives_its_open_area_as_open_area() {
    let fm = front_matter("venues", "he-nan-sheng-ke-ji-guan-xin-guan.md");
    assert_eq!(fm["venue"].get("open_area_m2").and_then(|v| v.as_integer()), Some(110000));
    assert!(fm["venue"].get("exhibition_area_m2").is_none());
    let doc = html("venues/he-nan-sheng-ke-ji-guan-xin-guan/index.html");
    let facts: Vec<(String, String)> = doc
        .select(&Selector::parse("dl.facts > div").unwrap())
        .map(|d| {
            let t = |s: &str| d.select(&Selector::parse(s).unwrap()).flat_map(|e| e.text()).collect::<String>();
            (t("dt"), t("dd"))
        })
        .collect();
    assert!(facts.iter().any(|(t, v)| t == "开放面积" && v.starts_with("11")), "{facts:?}");
    assert!(!facts.iter().any(|(t, _)| t == "展览面积" || t == "建筑面积"), "{facts:?}");
}

#[test]
fn the_5610_page_names_the_2024_documents_as_the_source_does() {
    let text = read(&portal().1.join("content/overview"), "5610.md");
    assert!(text.contains("《河南省科协2024年十项重点工作具体任务分解和落实措施》"));
    assert!(text.contains("《河南省科协 2024 年十项重点工作责任分工》"));
    assert!(!text.contains("《河南省科协2024年十项重点工作》"));
}

#[test]
fn every_base_and_campaign_is_listed_by_its_cities_and_links_back() {
    let link = Selector::parse("a[href]").unwrap();
    let city_file: std::collections::BTreeMap<String, String> = pages_in("cities")
        .into_iter()
        .map(|c| (front_matter("cities", &c)["city"]["name"].as_str().unwrap().to_string(), c.trim_end_matches(".md").to_string()))
        .collect();
    let mut checked = 0;
    for (section, table) in [("bases", "base"), ("campaigns", "campaign")] {
        for file in pages_in(section) {
            let fm = front_matter(section, &file);
            let cities: Vec<String> = match (fm[table].get("city"), fm[table].get("cities")) {
                (Some(c), _) => vec![c.as_str().unwrap().to_string()],
                (_, Some(list)) => list.as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()).collect(),
                _ => continue,
            };
            let url = format!("/{section}/{}/", file.trim_end_matches(".md"));
            let page = html(&format!("{section}/{}/index.html", file.trim_end_matches(".md")));
            let out: BTreeSet<&str> = page.select(&link).filter_map(|a| a.value().attr("href")).collect();
            for city in cities {
                let slug = &city_file[&city];
                let city_doc = html(&format!("cities/{slug}/index.html"));
                assert!(city_doc.select(&link).any(|a| a.value().attr("href") == Some(url.as_str())), "/cities/{slug}/ does not list {url}");
                assert!(out.contains(format!("/cities/{slug}/").as_str()), "{url} does not link to /cities/{slug}/");
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "{checked}");
}

#[test]
fn the_named_work_of_the_city_reports_has_its_own_pages() {
    // Programmes, places and titles seed 000 names city by city, each a page of its city.
    for (file, city) in [
        ("campaigns/ping-ding-shan-kai-fa-70-zhou-nian-ke-ji-fa-zhan-cheng-jiu-zhan.md", "平顶山"),
        ("campaigns/ke-pu-xin-xiang.md", "新乡"),
        ("campaigns/san-men-xia-shi-ke-pu-jiang-jie-da-sai.md", "三门峡"),
        ("campaigns/san-men-xia-shi-jian-kang-ke-pu-neng-li-da-sai.md", "三门峡"),
        ("campaigns/ke-pu-lv-you-xian-lu.md", "三门峡"),
        ("campaigns/zhi-hui-xing-dong-bai-hui-bai-xian-xiang-cun-xing.md", "商丘"),
        ("campaigns/zhu-ma-dian-shi-nong-ji-xie-quan-guo-zui-jia-zhi-yuan-fu-wu-zu-zhi.md", "驻马店"),
        ("bases/he-bi-zhu-ti-ke-pu-you-yuan-ke-pu-xiang-cun-ke-pu-gong-jiao.md", "鹤壁"),
        ("campaigns/qing-chuang-ji-yuan-chuang-xin-chuang-ye-da-sai.md", "济源"),
        ("campaigns/kai-feng-ke-pu-jin-xing-shi.md", "开封"),
        ("campaigns/lao-nian-ke-ji-da-xue.md", "信阳"),
        ("bases/luo-yang-lin-li-zhong-xin-ke-pu-huo-dong-shi.md", "洛阳"),
        ("campaigns/ke-xue-da-shi-ming-xiao-xuan-chuan-gong-cheng-hua-ju-luo-yang.md", "洛阳"),
        ("bases/xu-chang-shi-xue-fu-jie-xiao-xue-qi-zhi-ke-chuang-gong-zuo-shi.md", "许昌"),
    ] {
        let (section, name) = file.split_once('/').unwrap();
        let fm = front_matter(section, name);
        let table = &fm[if section == "bases" { "base" } else { "campaign" }];
        let cities: Vec<&str> = match table.get("city") {
            Some(c) => vec![c.as_str().unwrap()],
            None => table["cities"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect(),
        };
        assert!(cities.contains(&city), "{file}: {cities:?}");
        let sources = fm["sources"].as_array().unwrap();
        assert!(sources.iter().any(|s| s.as_str() == Some("000_34df85477a50c534.txt")), "{file} cites seed 000");
    }
    assert!(pages_in("campaigns").len() >= 55, "campaigns: {}", pages_in("campaigns").len());
    assert!(pages_in("bases").len() >= 40, "bases: {}", pages_in("bases").len());
}

/// Where the source documents are: `KEPU_SEEDS`, else `../shared/seeds` beside the repository
/// (as CI has them).
fn seeds_dir() -> Option<std::path::PathBuf> {
    let dir = std::env::var_os("KEPU_SEEDS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/seeds"));
    dir.is_dir().then_some(dir)
}

#[test]
fn every_number_on_a_typed_page_is_in_a_source_it_cites() {
    let Some(seeds) = seeds_dir() else {
        // Written past the test harness's capture, so that a skipped check is seen.
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), "SKIPPED every_number_on_a_typed_page_is_in_a_source_it_cites: no sources at ../shared/seeds (set KEPU_SEEDS=DIR)");
        return;
    };
    let site = &portal().1;
    let r = kepu(site, &["check", "--root", site.to_str().unwrap(), "--sources", "--seeds", seeds.to_str().unwrap()]);
    assert_eq!(r.code, 0, "numbers not found in the cited sources:\n{}", r.stderr);
    assert!(r.stderr.contains("numbers of") && r.stderr.contains("typed pages against their sources"), "{}", r.stderr);
}

#[test]
fn the_sources_check_names_a_number_from_a_source_the_page_does_not_cite() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    let seeds = dir.path().join("seeds");
    assert_eq!(kepu(dir.path(), &["init", site.to_str().unwrap()]).code, 0);
    write(&seeds, "a.txt", "2023年，全省注册信息员增至128万人。");
    write(&seeds, "b.txt", "传播分享量2558万人次。");
    write(
        &site,
        "content/venues/x.md",
        "+++\ntitle = \"某馆\"\nsources = [\"a.txt\"]\n\n[venue]\nkind = \"数字科技馆\"\n+++\n\n2023年信息员增至128万人，传播分享量2558万人次，年增1.7万人。\n",
    );
    let check = |extra: &[&str]| {
        let mut args = vec!["check", "--root", site.to_str().unwrap(), "--sources"];
        args.extend_from_slice(extra);
        kepu(dir.path(), &args)
    };
    let r = check(&["--seeds", seeds.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    for needle in [
        "`2558万` is in none of the sources the page cites (a.txt)",
        "it is in b.txt: add it to sources",
        "`1.7万` is in none of the sources",
        "no source document gives this number",
        "x.md:9:22",
    ] {
        assert!(r.stderr.contains(needle), "missing `{needle}` in:\n{}", r.stderr);
    }
    assert!(!r.stderr.contains("`128万`") && !r.stderr.contains("`2023`"), "{}", r.stderr);
    // Cited, it passes; a cited file that is not a source document is named.
    std::fs::write(site.join("content/venues/x.md"), read(&site, "content/venues/x.md").replace("[\"a.txt\"]", "[\"a.txt\", \"b.txt\", \"c.txt\"]").replace("，年增1.7万人", "")).unwrap();
    let r = check(&["--seeds", seeds.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("source `c.txt` is not one of the source documents"), "{}", r.stderr);
    assert_eq!(r.stderr.matches("error:").count(), 1, "{}", r.stderr);
    // No sources folder: a usage error that says where it looked.
    let r = check(&["--seeds", dir.path().join("nowhere").to_str().unwrap()]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("nowhere") && r.stderr.contains("does not exist"), "{}", r.stderr);
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
