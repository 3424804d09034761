//! The benchmark corpus (`scripts/gen-corpus`, used by `scripts/bench`) must stay a valid
//! kepu site: every typed section, both taxonomies, internal links with anchors, code blocks.
//! A small corpus is generated and built here, with zero diagnostics; and the generator must
//! be deterministic, or benchmark runs would not compare the same work.
//!
//! Needs `python3` (the generator uses its standard library only).

use std::path::{Path, PathBuf};
use std::process::Command;

use kepu::build::{self, BuildOptions};

fn generate(n: usize, dir: &Path, flavor: &str) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/gen-corpus");
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bench-seeds");
    let status = Command::new("python3")
        .arg(&script)
        .arg(n.to_string())
        .arg(dir)
        .args(["--flavor", flavor, "--seeds-dir"])
        .arg(&seeds)
        .status()
        .expect("python3 runs scripts/gen-corpus");
    assert!(status.success(), "gen-corpus failed");
}

fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out: Vec<(PathBuf, Vec<u8>)> = walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.file_type().is_file())
        .map(|e| (e.path().strip_prefix(dir).unwrap().to_path_buf(), std::fs::read(e.path()).unwrap()))
        .collect();
    out.sort();
    out
}

#[test]
fn a_generated_corpus_builds_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    generate(60, &site, "kepu");
    let report = build::build(&BuildOptions::new(&site), &mut |_| {}).unwrap_or_else(|d| {
        panic!("the generated corpus must build: {:#?}", d.iter().map(|d| d.render(false)).collect::<Vec<_>>())
    });
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(report.pages, 60);
    assert_eq!(report.sections, 7, "root, venues, bases, experts, campaigns, cities, overview");
    let public = site.join("public");
    for dir in ["venues", "bases", "experts", "campaigns", "cities", "overview", "tags", "topics"] {
        assert!(public.join(dir).join("index.html").is_file(), "{dir}/index.html");
    }
    let html: String = files(&public)
        .iter()
        .filter(|(p, _)| p.extension().is_some_and(|e| e == "html"))
        .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
        .collect();
    assert!(html.contains("<pre class=\"code\""), "some pages have highlighted code");
    assert!(html.contains("href=\"/venues/") && html.contains("#"), "internal links are resolved");
}

#[test]
fn the_generator_is_deterministic_and_writes_a_hugo_flavor() {
    let tmp = tempfile::tempdir().unwrap();
    generate(40, &tmp.path().join("a"), "kepu");
    generate(40, &tmp.path().join("b"), "kepu");
    assert_eq!(files(&tmp.path().join("a")), files(&tmp.path().join("b")));

    let hugo = tmp.path().join("h");
    generate(40, &hugo, "hugo");
    assert!(hugo.join("hugo.toml").is_file());
    assert!(hugo.join("layouts/_default/single.html").is_file());
    let pages: Vec<_> = files(&hugo.join("content")).into_iter().filter(|(p, _)| !p.ends_with("_index.md")).collect();
    assert_eq!(pages.len(), 40);
    let text = String::from_utf8_lossy(&pages.iter().flat_map(|(_, b)| b.clone()).collect::<Vec<_>>()).into_owned();
    assert!(text.contains("{{< ref \"/"), "internal links become Hugo refs");
    assert!(!text.contains("(@/"), "no kepu-only links in the Hugo flavor");
    assert!(!text.contains("[taxonomies]"), "Hugo takes taxonomies at the top level");
}
