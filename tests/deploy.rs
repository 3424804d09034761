//! The deploy pipeline end to end, through the real binary: `kepu check` (links, assets,
//! anchors, external links, JSON report, exit codes), `kepu build --minify --precompress`,
//! and `kepu manifest-diff` between two builds.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;

use common::{build_ok, default_portal, fixture, kepu, read, tree, write};
use serde_json::Value;

fn check_json(site: &Path, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["check", "--root", site.to_str().unwrap(), "--format", "json"];
    args.extend_from_slice(extra);
    let r = kepu(site, &args);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    let json: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", r.stdout));
    (r.code, json)
}

fn messages(report: &Value) -> Vec<String> {
    report["diagnostics"].as_array().unwrap().iter().map(|d| d["message"].as_str().unwrap().to_string()).collect()
}

fn find<'a>(report: &'a Value, needle: &str) -> &'a Value {
    report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["message"].as_str().unwrap().contains(needle))
        .unwrap_or_else(|| panic!("no diagnostic mentioning {needle}: {:#?}", messages(report)))
}

#[test]
fn the_default_portal_passes_check() {
    let (_t, site) = default_portal();
    let (code, report) = check_json(&site, &[]);
    assert_eq!(code, 0, "{:#?}", messages(&report));
    assert_eq!(report["ok"], true);
    let checked = &report["checked"];
    assert!(checked["html_files"].as_u64().unwrap() > 150, "{checked}");
    assert!(checked["internal_links"].as_u64().unwrap() > 1000, "{checked}");
    assert!(checked["anchors"].as_u64().unwrap() > 0, "{checked}");
    assert_eq!(checked["external_checked"], 0, "external links are only fetched with --external");
    assert!(!site.join("public").exists(), "check writes nothing");
}

#[test]
fn check_reports_broken_links_missing_assets_and_anchors_where_they_are_written() {
    let (_t, site) = fixture("basic");
    // (The missing image is an SVG: a missing JPEG or PNG is a build error of the images stage.)
    write(
        &site,
        "content/notes/broken.md",
        "+++\ntitle = \"坏链接\"\n+++\n\n第一段。\n\n看[不存在的页](/nope/)和![缺图](missing.svg)。\n\n\
         [坏锚点](/venues/zheng-zhou-ke-ji-guan/#没有这个)，[好锚点](/venues/zheng-zhou-ke-ji-guan/#开放时间)，\
         [本页锚点](#没有)，[相对](../gone/)，[邮件](mailto:a@example.org)。\n",
    );
    // A broken link in the site's base template: on every page, reported once.
    let base = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("themes/default/templates/base.html")).unwrap();
    assert!(base.contains("</footer>"));
    write(&site, "templates/base.html", &base.replace("</footer>", "<a href=\"/old-about/\">关于</a></footer>"));
    write(&site, "static/css/extra.css", ".hero{background:url(../img/hero.png)} .ok{background:url(\"data:image/png;base64,AA\")}");

    let (code, report) = check_json(&site, &[]);
    assert_eq!(code, 1, "broken links fail the check");
    assert_eq!(report["ok"], false);

    let nope = find(&report, "`/nope/`");
    assert_eq!(nope["file"], "content/notes/broken.md");
    assert_eq!(nope["line"], 7, "located in the Markdown source");
    assert!(nope["message"].as_str().unwrap().contains("nope/index.html"));
    assert!(nope["hint"].as_str().unwrap().contains("@/"));

    let img = find(&report, "missing asset `missing.svg`");
    assert_eq!(img["file"], "content/notes/broken.md");
    assert!(img["message"].as_str().unwrap().contains("notes/broken/missing.svg"));

    let anchor = find(&report, "#没有这个");
    assert!(anchor["message"].as_str().unwrap().contains("no element with id `没有这个`"), "{anchor}");
    assert_eq!(anchor["line"], 9);
    find(&report, "`#没有`");
    find(&report, "`../gone/`");
    find(&report, "missing asset `../img/hero.png`");

    let template = find(&report, "`/old-about/`");
    assert!(template["message"].as_str().unwrap().contains(" pages (e.g. "), "{template}");
    assert!(template["hint"].as_str().unwrap().contains("template"));
    assert_eq!(messages(&report).iter().filter(|m| m.contains("/old-about/")).count(), 1, "grouped");

    let all = messages(&report).join("\n");
    assert!(!all.contains("开放时间"), "a valid anchor is not reported:\n{all}");
    assert!(!all.contains("mailto"), "{all}");
    assert_eq!(report["errors"], 7, "{all}");

    // The human format says the same and ends with a summary.
    let r = kepu(&site, &["check", "--root", site.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("content/notes/broken.md:7:"), "{}", r.stderr);
    assert!(r.stderr.contains("check failed: 7 error(s)"), "{}", r.stderr);
}

#[test]
fn check_honours_the_base_url_path() {
    let (_t, site) = fixture("basic");
    let (code, report) = check_json(&site, &["--base-url", "https://fixture.example.org/portal/"]);
    assert_eq!(code, 0, "every generated link carries the prefix: {:#?}", messages(&report));
    write(&site, "content/notes/raw.md", "+++\ntitle = \"写死的链接\"\n+++\n\n[场馆](/venues/)\n");
    let (code, report) = check_json(&site, &["--base-url", "https://fixture.example.org/portal/"]);
    assert_eq!(code, 1);
    let d = find(&report, "`/venues/`");
    assert!(d["message"].as_str().unwrap().contains("outside the site's path `/portal/`"), "{d}");
    // Without the prefix the same link is fine.
    assert_eq!(check_json(&site, &[]).0, 0);
}

/// A tiny HTTP server on loopback: `/ok` answers 200, everything else 404; HEAD is refused
/// with 405 on `/head-refused` to exercise the GET fallback.
fn serve_statuses() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
            }
            let mut parts = line.split_whitespace();
            let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            let status = match (method, path) {
                (_, "/ok") => "200 OK",
                ("HEAD", "/head-refused") => "405 Method Not Allowed",
                ("GET", "/head-refused") => "200 OK",
                _ => "404 Not Found",
            };
            let mut s = stream;
            let _ = write!(s, "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    port
}

#[test]
fn external_links_are_fetched_only_with_external() {
    let (_t, site) = fixture("basic");
    let port = serve_statuses();
    write(
        &site,
        "content/notes/out.md",
        &format!(
            "+++\ntitle = \"外链\"\n+++\n\n[好](http://127.0.0.1:{port}/ok)、[拒绝 HEAD](http://127.0.0.1:{port}/head-refused)、\
             [坏](http://127.0.0.1:{port}/gone#x)、[又是好的](http://127.0.0.1:{port}/ok#y)\n"
        ),
    );
    let (code, report) = check_json(&site, &[]);
    assert_eq!(code, 0, "{:#?}", messages(&report));
    assert_eq!(report["checked"]["external_urls"], 3, "fragments do not make URLs distinct");
    assert_eq!(report["checked"]["external_checked"], 0);

    let (code, report) = check_json(&site, &["--external", "--timeout", "5"]);
    assert_eq!(code, 1);
    assert_eq!(report["checked"]["external_checked"], 3);
    assert_eq!(report["errors"], 1, "{:#?}", messages(&report));
    let gone = find(&report, "/gone");
    assert!(gone["message"].as_str().unwrap().contains("HTTP 404"), "{gone}");
    assert_eq!(gone["file"], "content/notes/out.md");
}

#[test]
fn minified_precompressed_build_and_manifest_diff() {
    let (_t, site) = fixture("basic");
    build_ok(&site, &[]);
    let plain = read(&site, "public/notes/note-1/index.html");
    std::fs::copy(site.join("public/.kepu-manifest.json"), site.join("old-manifest.json")).unwrap();

    let r = build_ok(&site, &["--minify", "--precompress"]);
    assert!(r.stderr.contains("minified:") && r.stderr.contains("precompressed:"), "{}", r.stderr);
    let small = read(&site, "public/notes/note-1/index.html");
    assert!(small.len() < plain.len(), "minified {} < {}", small.len(), plain.len());
    assert!(small.contains("lang=zh-CN") || small.contains("lang=\"zh-CN\""));
    for f in ["index.html.gz", "index.html.br", "notes/note-1/index.html.gz", "css/syntax.css.br", "sitemap.xml.gz"] {
        assert!(site.join("public").join(f).is_file(), "missing {f}");
    }
    assert!(!site.join("public/venues/bundle-guan/photo.png.gz").exists(), "images are not compressed");

    // Every file is in the manifest with its real hash.
    let manifest: Value = serde_json::from_str(&read(&site, "public/.kepu-manifest.json")).unwrap();
    let files = manifest["files"].as_object().unwrap();
    let on_disk = tree(&site.join("public"));
    assert_eq!(files.len(), on_disk.len() - 1, "every file but the manifest itself");
    for (path, hash) in &on_disk {
        if path != ".kepu-manifest.json" {
            assert_eq!(files[path]["sha256"], hash.as_str(), "{path}");
        }
    }

    // The diff against the plain build: everything minified changed, siblings are new, and
    // pages are uploaded after the assets they use.
    let old = site.join("old-manifest.json");
    let r = kepu(&site, &["manifest-diff", old.to_str().unwrap(), "public/.kepu-manifest.json", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let d: Value = serde_json::from_str(&r.stdout).unwrap();
    let upload: Vec<&str> = d["upload"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(upload.contains(&"notes/note-1/index.html") && upload.contains(&"index.html.br"), "{upload:?}");
    let first_page = upload.iter().position(|p| p.contains(".html")).unwrap();
    assert!(upload[first_page..].iter().all(|p| p.contains(".html")), "pages last: {upload:?}");
    assert_eq!(d["delete"].as_array().unwrap().len(), 0);

    // Same input, same flags: byte-identical, nothing to upload.
    std::fs::copy(site.join("public/.kepu-manifest.json"), &old).unwrap();
    build_ok(&site, &["--minify", "--precompress"]);
    assert_eq!(tree(&site.join("public")), on_disk, "deterministic");
    let r = kepu(&site, &["manifest-diff", old.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "", "nothing to upload or delete");
    assert!(r.stderr.contains("0 added, 0 changed, 0 removed"), "{}", r.stderr);

    // One edit: only that page (and its siblings, the listings and feeds that show it) change.
    let note = read(&site, "content/notes/note-3.md");
    write(&site, "content/notes/note-3.md", &note.replace("笔记。", "笔记，改过了。"));
    write(&site, "config.toml", &format!("{}\n[output]\nminify = true\nprecompress = true\n", read(&site, "config.toml")));
    build_ok(&site, &[]);
    let r = kepu(&site, &["manifest-diff", old.to_str().unwrap(), "--format", "json"]);
    let d: Value = serde_json::from_str(&r.stdout).unwrap();
    let changed: Vec<&str> = d["changed"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(changed.contains(&"notes/note-3/index.html") && changed.contains(&"notes/note-3/index.html.br"), "{changed:?}");
    assert!(!changed.contains(&"css/syntax.css"), "{changed:?}");
    assert!(d["unchanged"].as_u64().unwrap() > 20, "{d}");

    // A bad manifest is an error, not a silent empty diff.
    write(&site, "bad.json", "{}");
    let r = kepu(&site, &["manifest-diff", "bad.json"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("not a kepu manifest"), "{}", r.stderr);
}
