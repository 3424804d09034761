//! Incremental rebuilds must give exactly what a build from scratch gives. Each step edits a
//! copy of the default portal the way an editor would, rebuilds incrementally with
//! `serve::Live`, and compares every served file with `build::generate` on the same files.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use kepu::build::{self, BuildOptions};
use kepu::output::Contents;
use kepu::serve::incremental::{ChangeSet, Live, Outcome, RebuildKind, Served};

fn copy_dir(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let target = to.join(entry.path().strip_prefix(from).unwrap());
        if entry.file_type().is_dir() {
            fs::create_dir_all(&target).unwrap();
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

struct Site {
    _dir: tempfile::TempDir,
    root: PathBuf,
    live: Live,
}

impl Site {
    fn new() -> Site {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap().join("site");
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        copy_dir(&repo.join("content"), &root.join("content"));
        fs::copy(repo.join("config.toml"), root.join("config.toml")).unwrap();
        let mut live = Live::new(options(&root));
        let first = live.rebuild(&ChangeSet::everything());
        assert!(matches!(first, Outcome::Built { .. }), "{first:?}");
        live.update_index();
        Site { _dir: dir, root, live }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    fn edit(&self, rel: &str, f: impl FnOnce(String) -> String) {
        let p = self.path(rel);
        let text = fs::read_to_string(&p).unwrap();
        let new = f(text.clone());
        assert_ne!(text, new, "the edit of {rel} changed nothing");
        fs::write(p, new).unwrap();
    }

    /// Rebuild after changes to `paths` (content paths relative to the root).
    fn rebuild(&mut self, paths: &[&str]) -> Outcome {
        let mut set = ChangeSet::default();
        for p in paths {
            if p.starts_with("content/") {
                set.content.insert(self.path(p));
            } else if *p == "config.toml" {
                set.config = true;
            } else {
                set.assets = true;
            }
        }
        let out = self.live.rebuild(&set);
        self.live.update_index();
        out
    }

    /// Rebuild after an edit of `rel` that must patch the model rather than rebuild it
    /// (`why` is the failure message), then compare with a full build.
    fn assert_patched_rebuild(&mut self, rel: &str, step: &str, why: &str) {
        let r = built(self.rebuild(&[rel]), step);
        assert!(r.model_patched, "{why}");
        self.assert_same_as_full_build(step);
    }

    /// Every served file equals the from-scratch build's.
    fn assert_same_as_full_build(&self, step: &str) {
        let full = build::generate(&options(&self.root), &mut |_| {}).unwrap_or_else(|e| panic!("{step}: full build failed:\n{e}"));
        let expected: BTreeMap<String, Vec<u8>> = full
            .files
            .into_iter()
            .map(|f| {
                let bytes = match f.contents {
                    Contents::Bytes(b) => b,
                    Contents::Copy(p) | Contents::Linked { file: p, .. } => fs::read(p).unwrap(),
                };
                (f.path, bytes)
            })
            .collect();
        let served: BTreeMap<String, Vec<u8>> = self
            .live
            .files()
            .iter()
            .map(|(k, v)| {
                let bytes = match v {
                    Served::Bytes(b) => b.to_vec(),
                    Served::File(p) => fs::read(p).unwrap(),
                };
                (k.clone(), bytes)
            })
            .collect();
        let a: BTreeSet<&String> = expected.keys().collect();
        let b: BTreeSet<&String> = served.keys().collect();
        assert_eq!(a, b, "{step}: different file sets (left: full build, right: served)");
        for (path, bytes) in &expected {
            assert!(served[path] == *bytes, "{step}: {path} differs from the full build");
        }
    }
}

fn options(root: &Path) -> BuildOptions {
    let mut o = BuildOptions::new(root);
    o.base_url = Some("http://127.0.0.1:1111/".into());
    o
}

fn built(outcome: Outcome, step: &str) -> kepu::serve::RebuildReport {
    match outcome {
        Outcome::Built { report, .. } => report,
        Outcome::Failed { diagnostics, .. } => panic!("{step}: build failed:\n{diagnostics}"),
    }
}

#[test]
fn incremental_rebuilds_equal_full_builds() {
    let mut site = Site::new();
    site.assert_same_as_full_build("initial");
    let venue = "content/venues/he-bi-shi-ke-ji-guan.md";

    // A body edit renders only a handful of outputs.
    site.edit(venue, |t| t.replace("## 2023年", "## 2023年情况\n\n新增一段说明文字。"));
    let r = built(site.rebuild(&[venue]), "body edit");
    assert_eq!(r.kind, RebuildKind::Incremental);
    assert!(r.rendered * 10 < r.targets, "body edit rendered {} of {} targets", r.rendered, r.targets);
    site.assert_same_as_full_build("body edit");

    // Edits that keep the page in place (headings, title, city … unchanged) patch the model
    // instead of rebuilding it: a new first sentence (so the summary other pages list
    // changes), then a new description.
    site.edit(venue, |t| {
        let body = t.match_indices("+++\n").nth(1).map(|(i, _)| i + 4).expect("front matter");
        format!("{}\n本馆新增一句开头的话。\n{}", &t[..body], &t[body..])
    });
    site.assert_patched_rebuild(venue, "summary edit", "a body edit that keeps the headings patches the model");
    site.edit(venue, |t| t.replacen("description = \"", "description = \"（更新）", 1));
    site.assert_patched_rebuild(venue, "description edit", "a description edit patches the model");

    // Title and weight: listings, related pages and the city change. The page only moves in
    // its lists, so the model is patched too.
    site.edit(venue, |t| t.replace("title = \"鹤壁市科技馆\"", "title = \"鹤壁科技馆\"").replace("weight = 12", "weight = 1"));
    site.assert_patched_rebuild(venue, "title and weight", "a title and weight edit moves the page without a model rebuild");

    // With five venues a pager, a weight that takes the page from the first pager to the last
    // changes every pager in between; then a date, which the sitemap shows; then back.
    let venues = "content/venues/_index.md";
    site.edit(venues, |t| t.replacen("sort_by = \"weight\"", "sort_by = \"weight\"\npaginate_by = 5", 1));
    built(site.rebuild(&[venues]), "paginated");
    site.assert_same_as_full_build("paginated");
    for (step, from, to) in [
        ("weight across pagers", "weight = 1\n", "weight = 26\n"),
        ("updated date", "weight = 26\n", "weight = 26\nupdated = 2026-11-30\n"),
        ("weight back", "weight = 26\nupdated = 2026-11-30\n", "weight = 1\n"),
    ] {
        site.edit(venue, |t| {
            assert!(t.contains(from), "{step}: the page has {from:?}");
            t.replacen(from, to, 1)
        });
        site.assert_patched_rebuild(venue, step, &format!("{step}: patched"));
    }
    // A venue moving ahead of the other venues of its city, on the city's page.
    let nanyang = "content/venues/tong-bai-xian-ke-ji-guan.md";
    site.edit(nanyang, |t| t.replacen("weight = 23\n", "weight = 19\n", 1));
    site.assert_patched_rebuild(nanyang, "weight in the city's list", "weight in the city's list: patched");
    // Sorted by title, in pinyin order: a new title takes the page from the middle to the top.
    let bases = "content/bases/_index.md";
    site.edit(bases, |t| t.replacen("sort_by = \"weight\"", "sort_by = \"title\"", 1));
    built(site.rebuild(&[bases]), "by title");
    site.assert_same_as_full_build("by title");
    let base = "content/bases/hong-qi-qu-jing-shen-ying-di.md";
    site.edit(base, |t| t.replacen("title = \"红旗渠精神营地\"", "title = \"安阳红旗渠精神营地\"", 1));
    site.assert_patched_rebuild(base, "title order", "title order: patched");

    // A title another typed page has, or the old title of a page a campaign names: the
    // rebuild reports what the full build would, and fixing it catches up.
    let named = "content/venues/zheng-zhou-ke-ji-guan.md";
    for (step, rel, from, to, expected) in [
        ("taken title", venue, "title = \"鹤壁科技馆\"", "title = \"焦作市科技馆\"", "also used by"),
        ("named title", named, "title = \"郑州科技馆\"", "title = \"郑州市科技馆\"", "no venue page is titled `郑州科技馆`"),
    ] {
        let before = site.live.files().clone();
        site.edit(rel, |t| t.replacen(from, to, 1));
        match site.rebuild(&[rel]) {
            Outcome::Failed { diagnostics, .. } => {
                assert!(diagnostics.iter().any(|d| d.message.contains(expected)), "{step}: {diagnostics}");
            }
            other => panic!("{step}: must fail: {other:?}"),
        }
        assert_eq!(site.live.files(), &before, "{step}: a failed build must not change what is served");
        site.edit(rel, |t| t.replacen(to, from, 1));
        built(site.rebuild(&[rel]), step);
        site.assert_same_as_full_build(step);
    }

    // A new page with a tag, in a city; then it goes again.
    let new = "content/venues/ce-shi-ke-ji-guan.md";
    fs::write(
        site.path(new),
        "+++\ntitle = \"测试科技馆\"\ndate = 2025-01-02\nsources = [\"x.txt\"]\n\n[taxonomies]\ntags = [\"新标签\"]\n\n[venue]\nkind = \"县级\"\ncity = \"洛阳\"\n+++\n\n正文。\n",
    )
    .unwrap();
    built(site.rebuild(&[new]), "new page");
    site.assert_same_as_full_build("new page");
    fs::remove_file(site.path(new)).unwrap();
    built(site.rebuild(&[new]), "page removed");
    site.assert_same_as_full_build("page removed");

    // A broken edit fails and keeps the last good site; fixing it catches up.
    let before = site.live.files().clone();
    site.edit(venue, |t| t.replace("city = \"鹤壁\"", "city = \"北京\""));
    match site.rebuild(&[venue]) {
        Outcome::Failed { diagnostics, .. } => {
            let d = diagnostics.iter().find(|d| d.message.contains("北京")).expect("the city error");
            assert_eq!(d.file.as_deref(), Some(Path::new(venue)));
            assert!(d.line.is_some());
        }
        other => panic!("a broken edit must fail: {other:?}"),
    }
    assert_eq!(site.live.files(), &before, "a failed build must not change what is served");
    site.edit(venue, |t| t.replace("city = \"北京\"", "city = \"新乡\""));
    built(site.rebuild(&[venue]), "fix to another city");
    site.assert_same_as_full_build("fix to another city");

    // A slug change moves the page: pages linking to it follow.
    site.edit(venue, |t| t.replace("weight = 1\n", "weight = 1\nslug = \"hebi-kjg\"\n"));
    built(site.rebuild(&[venue]), "slug");
    site.assert_same_as_full_build("slug");

    // A section's description shows on its pages.
    let section = "content/venues/_index.md";
    site.edit(section, |t| t.replacen("description = \"", "description = \"（新）", 1));
    built(site.rebuild(&[section]), "section");
    site.assert_same_as_full_build("section");

    // Campaign references: relations both ways, and the calendar.
    let campaign = fs::read_dir(site.path("content/campaigns"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| fs::read_to_string(p).unwrap().contains("start = "))
        .expect("a dated campaign");
    let campaign_rel = campaign.strip_prefix(&site.root).unwrap().to_string_lossy().into_owned();
    site.edit(&campaign_rel, |t| t.replacen("title = \"", "title = \"新", 1));
    built(site.rebuild(&[&campaign_rel]), "campaign");
    site.assert_same_as_full_build("campaign");

    // A template override renders everything.
    fs::create_dir_all(site.path("templates")).unwrap();
    fs::write(site.path("templates/404.html"), "{% extends \"base.html\" %}{% block content %}<h1>找不到</h1>{% endblock content %}").unwrap();
    let r = built(site.rebuild(&["templates/404.html"]), "template");
    assert_eq!(r.kind, RebuildKind::Full);
    site.assert_same_as_full_build("template");

    // A static file.
    fs::create_dir_all(site.path("static/css")).unwrap();
    fs::write(site.path("static/css/extra.css"), "body{color:red}").unwrap();
    built(site.rebuild(&["static/css/extra.css"]), "static");
    site.assert_same_as_full_build("static");

    // Config.
    site.edit("config.toml", |t| t.replacen("title = \"科普中原\"", "title = \"科普中原（预览）\"", 1));
    built(site.rebuild(&["config.toml"]), "config");
    site.assert_same_as_full_build("config");
}

/// Term pagers and term feeds come and go as pages join and leave a paginated term.
#[test]
fn paginated_terms_follow_tag_edits() {
    const TAGGED: &str = "\n[taxonomies]\ntags = [\"县市科技馆\"]\n\n[venue]\n";
    let mut site = Site::new();
    let venues = ["content/venues/gu-shi-xian-ke-ji-guan.md", "content/venues/he-bi-shi-ke-ji-guan.md", "content/venues/jiao-zuo-shi-ke-ji-guan.md"];
    for v in venues {
        site.edit(v, |t| t.replacen("\n[venue]\n", TAGGED, 1));
    }
    site.edit("config.toml", |t| t.replacen("title = \"标签\"", "title = \"标签\"\npaginate_by = 2", 1));
    let mut changed: Vec<&str> = venues.to_vec();
    changed.push("config.toml");
    built(site.rebuild(&changed), "tagged");
    site.assert_same_as_full_build("tagged");
    assert!(site.live.files().contains_key("tags/xian-shi-ke-ji-guan/page/2/index.html"), "three pages, two to a pager");

    // A dated page joins the term: its feed appears. Then a page leaves it: one pager is left.
    site.edit(venues[0], |t| t.replacen("\nweight = ", "\ndate = 2024-05-01\nweight = ", 1));
    built(site.rebuild(&[venues[0]]), "dated");
    site.assert_same_as_full_build("dated");
    assert!(site.live.files().contains_key("tags/xian-shi-ke-ji-guan/atom.xml"));
    site.edit(venues[2], |t| t.replacen(TAGGED, "\n[venue]\n", 1));
    built(site.rebuild(&[venues[2]]), "untagged");
    site.assert_same_as_full_build("untagged");
    assert!(!site.live.files().contains_key("tags/xian-shi-ke-ji-guan/page/2/index.html"), "the second pager is gone");
}

/// A PNG of `w`×`h`.
fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

#[test]
fn images_templates_ask_for_follow_edits() {
    let mut site = Site::new();
    let page = "content/venues/tu-pian-shi-li/index.md";
    fs::create_dir_all(site.path("content/venues/tu-pian-shi-li")).unwrap();
    fs::write(site.path("content/venues/tu-pian-shi-li/a.png"), png(500, 250)).unwrap();
    fs::write(site.path("content/venues/tu-pian-shi-li/b.png"), png(300, 300)).unwrap();
    let front = "+++\ntitle = \"图片示例馆\"\nexample = true\n\n[venue]\nkind = \"流动科技馆\"\n+++\n\n";
    fs::write(site.path(page), format!("{front}{{{{ <figure src=\"a.png\" alt=\"第一张示例图\" /> }}}}\n")).unwrap();
    built(site.rebuild(&[page, "content/venues/tu-pian-shi-li/a.png", "content/venues/tu-pian-shi-li/b.png"]), "figure added");
    site.assert_same_as_full_build("figure added");
    assert!(site.live.files().keys().any(|k| k.starts_with("processed_images/a-500x250.")));

    // Another photo: the first one's files go, the second's come.
    site.edit(page, |t| t.replace("a.png\" alt=\"第一张示例图", "b.png\" alt=\"第二张示例图"));
    built(site.rebuild(&[page]), "figure changed");
    site.assert_same_as_full_build("figure changed");
    assert!(!site.live.files().keys().any(|k| k.starts_with("processed_images/a-")));

    // No figure at all.
    site.edit(page, |t| t.replace("{{ <figure src=\"b.png\" alt=\"第二张示例图\" /> }}", "没有图片了。"));
    built(site.rebuild(&[page]), "figure removed");
    site.assert_same_as_full_build("figure removed");
    assert!(!site.live.files().keys().any(|k| k.starts_with("processed_images/")));
}

/// The data file and the template reading it, for the `load_data` tests.
fn with_data_file(site: &mut Site) {
    fs::create_dir_all(site.path("data")).unwrap();
    fs::write(site.path("data/venues.csv"), "名称,城市\n郑州科技馆,郑州\n").unwrap();
    fs::create_dir_all(site.path("templates")).unwrap();
    fs::write(
        site.path("templates/index.html"),
        "{% extends \"base.html\" %}{% block content %}{% set v = load_data(path=\"./data/venues.csv\") %}\
         <p id=\"csv\">{% for r in v.records %}{{ r[0] }}/{{ r[1] }};{% endfor %}</p>{% endblock content %}",
    )
    .unwrap();
    built(site.rebuild(&["templates/index.html"]), "data file read");
}

fn index_html(site: &Site) -> String {
    match &site.live.files()["index.html"] {
        Served::Bytes(b) => String::from_utf8(b.to_vec()).unwrap(),
        Served::File(p) => fs::read_to_string(p).unwrap(),
    }
}

#[test]
fn a_data_file_a_template_reads_is_watched_and_rebuilds() {
    use kepu::serve::watch;
    let mut site = Site::new();
    with_data_file(&mut site);
    assert!(index_html(&site).contains("<p id=\"csv\">郑州科技馆/郑州;</p>"));
    let csv = site.path("data/venues.csv");
    assert_eq!(site.live.data_files(), [csv.clone()], "the file `load_data` read");
    assert!(watch::classify_paths_with_data(&site.root, &[site.path("data/other.csv")], site.live.data_files()).is_empty(), "only the files read");

    // data/ is no source folder: without the data files the path means nothing...
    assert!(watch::classify_paths(&site.root, &[csv.clone()]).is_empty());
    // ...with them, it is a change of the assets, and the page shows the new rows.
    fs::write(&csv, "名称,城市\n郑州科技馆,郑州\n洛阳博物馆,洛阳\n").unwrap();
    let set = watch::classify_paths_with_data(&site.root, &[csv.clone()], site.live.data_files());
    assert!(set.assets, "{set:?}");
    built(site.live.rebuild(&set), "data file edited");
    assert!(index_html(&site).contains("<p id=\"csv\">郑州科技馆/郑州;洛阳博物馆/洛阳;</p>"), "{}", index_html(&site));
    site.assert_same_as_full_build("data file edited");

    // A broken file fails the rebuild and stays watched, so fixing it is seen.
    fs::write(&csv, "名称,城市\n只有一列\n").unwrap();
    let set = watch::classify_paths_with_data(&site.root, &[csv.clone()], site.live.data_files());
    assert!(matches!(site.live.rebuild(&set), Outcome::Failed { .. }));
    assert_eq!(site.live.data_files(), [csv.clone()]);
    fs::write(&csv, "名称,城市\n开封科技馆,开封\n").unwrap();
    let set = watch::classify_paths_with_data(&site.root, &[csv.clone()], site.live.data_files());
    built(site.live.rebuild(&set), "data file fixed");
    assert!(index_html(&site).contains("<p id=\"csv\">开封科技馆/开封;</p>"));
    site.assert_same_as_full_build("data file fixed");

    // A file a template names before it exists: the rebuild fails, and creating it is seen.
    site.edit("templates/index.html", |t| t.replace("{% endblock content %}", "{% set e = load_data(path=\"more/extra.toml\") %}<p id=\"toml\">{{ e.note }}</p>{% endblock content %}"));
    match site.rebuild(&["templates/index.html"]) {
        Outcome::Failed { diagnostics, .. } => assert!(diagnostics.to_string().contains("no such file"), "{diagnostics}"),
        other => panic!("{other:?}"),
    }
    let extra = site.path("more/extra.toml");
    assert!(site.live.data_files().contains(&extra), "{:?}", site.live.data_files());
    assert!(watch::classify_paths_with_data(&site.root, &[site.path("more")], site.live.data_files()).assets, "its folder appearing");
    fs::create_dir_all(site.path("more")).unwrap();
    fs::write(&extra, "note = \"附加说明\"\n").unwrap();
    let set = watch::classify_paths_with_data(&site.root, &[extra.clone()], site.live.data_files());
    built(site.live.rebuild(&set), "data file created");
    assert!(index_html(&site).contains("<p id=\"toml\">附加说明</p>"));
    site.assert_same_as_full_build("data file created");

    // The real watcher, told which files the build read, reports an edit of one.
    let (handle, batches) = watch::watch(&site.root, watch::DEFAULT_DEBOUNCE).unwrap();
    handle.data_files().set(site.live.data_files(), &site.root);
    std::thread::sleep(std::time::Duration::from_millis(100));
    fs::write(&csv, "名称,城市\n新乡科技馆,新乡\n").unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut seen = false;
    while !seen && std::time::Instant::now() < deadline {
        if let Ok(watch::Batch::Changes(set)) = batches.recv_timeout(std::time::Duration::from_millis(500)) {
            seen = set.assets;
        }
    }
    assert!(seen, "an edit of data/venues.csv reaches the rebuild loop as a change of the assets");
}
