//! The search index of the default portal (content/), queried through the shipped client
//! (`node tools/search.mjs`): expected top results for exact names, substrings,
//! traditional characters, pinyin, initials and filters (tests/data/search-cases.json),
//! hostile input, and byte-identical output across runs and thread counts.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use kepu::output::{Contents, OutputFile};
use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn site() -> kepu::model::Site {
    let config = kepu::config::Config::load(root()).expect("config.toml");
    let docs = kepu::load::load_content(root()).expect("content/");
    kepu::model::build(config, docs, &Default::default()).expect("the default portal builds")
}

/// The index, built once and written to a temporary public folder.
fn public_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("kepu-search-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for f in kepu::index::build(&site()).expect("index builds") {
            let path = dir.join(&f.path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            let Contents::Bytes(b) = &f.contents else { panic!("index files are bytes") };
            std::fs::write(path, b).unwrap();
        }
        dir
    })
}

fn search(query: &str, args: &[String]) -> Value {
    let out = Command::new("node")
        .arg(root().join("tools/search.mjs"))
        .arg(public_dir())
        .arg(query)
        .args(args)
        .output()
        .expect("node (≥ 20) must be installed to test the search client");
    assert!(
        out.status.success(),
        "search {query:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("tools/search.mjs prints JSON")
}

/// An excerpt may hold escaped text and `<mark>`…`</mark>`, nothing else.
fn assert_safe_excerpt(query: &str, excerpt: &str) {
    let stripped = excerpt.replace("<mark>", "").replace("</mark>", "");
    assert!(!stripped.contains('<') && !stripped.contains('>'), "markup in excerpt for {query:?}: {excerpt}");
    assert!(!stripped.contains('"'), "unescaped quote in excerpt for {query:?}: {excerpt}");
}

#[test]
fn portal_queries_find_the_right_page_first() {
    let text = std::fs::read_to_string(root().join("tests/data/search-cases.json")).unwrap();
    let cases: Value = serde_json::from_str(&text).unwrap();
    let mut failures = Vec::new();
    for case in cases["cases"].as_array().unwrap() {
        let q = case["q"].as_str().unwrap();
        let mut args = vec!["--limit".to_string(), "10".to_string()];
        if let Some(filters) = case["filters"].as_object() {
            for (k, v) in filters {
                args.push("--filter".into());
                args.push(format!("{k}={}", v.as_str().unwrap()));
            }
        }
        let r = search(q, &args);
        let results = r["results"].as_array().unwrap();
        let urls: Vec<&str> = results.iter().map(|x| x["url"].as_str().unwrap()).collect();
        let total = r["total"].as_u64().unwrap();
        let mut fail = |why: String| failures.push(format!("{q:?} {}: {why}; got {urls:?}", case["filters"]));
        if let Some(top) = case["top"].as_str()
            && urls.first() != Some(&top)
        {
            fail(format!("expected {top} first"));
        }
        if let Some(any) = case["any"].as_array() {
            let within = case["within"].as_u64().unwrap_or(1) as usize;
            if !urls.iter().take(within).any(|u| any.iter().any(|a| a.as_str() == Some(*u))) {
                fail(format!("expected one of {any:?} in the first {within}"));
            }
        }
        if let Some(want) = case["suggests"].as_str() {
            let suggested: Vec<&str> =
                r["suggestions"].as_array().unwrap().iter().map(|x| x["url"].as_str().unwrap()).collect();
            if !suggested.contains(&want) {
                fail(format!("expected {want} among the suggestions {suggested:?}"));
            }
        }
        if let Some(among) = case["among"].as_array() {
            let within = case["within"].as_u64().unwrap_or(10) as usize;
            for want in among {
                if !urls.iter().take(within).any(|u| Some(*u) == want.as_str()) {
                    fail(format!("expected {want} in the first {within}"));
                }
            }
        }
        if let Some(t) = case["total"].as_u64()
            && total != t
        {
            fail(format!("expected total {t}, got {total}"));
        }
        if let Some(t) = case["min_total"].as_u64()
            && total < t
        {
            fail(format!("expected at least {t} results, got {total}"));
        }
        if let Some(s) = case["all_sections"].as_str()
            && results.iter().any(|x| x["section"] != s)
        {
            fail(format!("expected only section {s}"));
        }
        if let Some(sel) = case["facet_selected"].as_array() {
            let (key, value) = (sel[0].as_str().unwrap(), sel[1].as_str().unwrap());
            let chosen = r["facets"].as_array().unwrap().iter().filter(|f| f["key"] == key).any(|f| {
                f["values"].as_array().unwrap().iter().any(|v| v["value"] == value && v["selected"] == true)
            });
            if !chosen {
                fail(format!("facet {key}={value} should be reported as selected"));
            }
        }
        for x in results {
            assert_safe_excerpt(q, x["excerpt"].as_str().unwrap());
            assert!(x["title"].as_str().is_some_and(|t| !t.is_empty()));
            assert!(x["score"].as_f64().is_some());
        }
    }
    assert!(failures.is_empty(), "{} search cases failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn words_beyond_the_name_lead_to_the_part_of_the_page_that_has_them() {
    // 门票 and 开放 are in the heading 开放和门票 of the venue the short name names.
    for q in ["河南省科技馆门票", "省科技馆开放时间"] {
        let r = search(q, &[]);
        let first = &r["results"][0];
        assert_eq!(first["url"], "/venues/he-nan-sheng-ke-ji-guan-xin-guan/", "{q}: {r}");
        assert_eq!(first["heading"], "开放和门票", "{q}: {r}");
    }
    // The name alone links to the page itself.
    let r = search("河南省科技馆新馆", &[]);
    assert!(r["results"][0].get("heading").is_none(), "{r}");
}

#[test]
fn u_umlaut_written_any_way_is_one_query() {
    let urls = |q: &str| -> Vec<String> {
        let r = search(q, &[]);
        r["results"].as_array().unwrap().iter().map(|x| x["url"].as_str().unwrap().to_string()).collect()
    };
    let want = urls("lv");
    for q in ["lü", "lǚ", "lu:", "LÜ"] {
        assert_eq!(urls(q), want, "{q}");
    }
    // Tone marks change nothing: the same results as the plain syllables.
    assert_eq!(urls("kējìguǎn"), urls("kejiguan"));
    assert_eq!(urls("Luòyáng"), urls("luoyang"));
}

#[test]
fn exact_and_sound_alike_names_rank_exact_first() {
    // 开封 typed right and 开风 by sound reach the city; the characters typed score higher.
    let exact = search("开封", &[]);
    let sound = search("开风", &[]);
    assert_eq!(exact["results"][0]["url"], "/cities/kai-feng/");
    assert_eq!(sound["results"][0]["url"], "/cities/kai-feng/");
    assert!(exact["results"][0]["score"].as_f64() > sound["results"][0]["score"].as_f64(), "{exact} {sound}");
}

#[test]
fn hostile_and_huge_queries_are_harmless() {
    let long_han = "科技馆".repeat(3000);
    let long_latin = "kejiguan ".repeat(2000);
    let weird = "\u{202e}\u{fffd}🙂科技\u{200b}馆\u{1}";
    let tones = "ǖ\u{301}\u{302}\u{303}".repeat(200);
    for q in [long_han.as_str(), long_latin.as_str(), weird, "</mark><script>x</script>", "a\"b'c&d<e>f", &tones, "lu:lu:lu:<svg>", "数码鸿沟<img src=x>"] {
        let r = search(q, &["--limit".into(), "5".into()]);
        for x in r["results"].as_array().unwrap() {
            assert_safe_excerpt(q, x["excerpt"].as_str().unwrap());
            if let Some(h) = x["heading"].as_str() {
                assert!(!h.contains('<') && !h.contains('"'), "heading {h:?} for {q:?}");
            }
        }
        for x in r["suggestions"].as_array().unwrap() {
            assert!(x["title"].as_str().is_some_and(|t| !t.contains('<')), "suggestion for {q:?}: {x}");
        }
    }
    // A very long query is cut, not refused: it still finds what it starts with.
    let r = search(&long_han, &[]);
    assert!(r["total"].as_u64().unwrap() > 0);
    // An unknown filter key or value filters everything out instead of failing.
    let r = search("科技馆", &["--filter".into(), "nosuchkey=1".into()]);
    assert_eq!(r["total"], 0);
}

#[test]
fn index_is_byte_identical_across_runs_and_thread_counts() {
    let site = site();
    let bytes = |files: Vec<OutputFile>| -> Vec<(String, Vec<u8>)> {
        files
            .into_iter()
            .map(|f| match f.contents {
                Contents::Bytes(b) => (f.path, b),
                Contents::Copy(_) | Contents::Linked { .. } => panic!("index files are bytes"),
            })
            .collect()
    };
    let a = bytes(kepu::index::build(&site).unwrap());
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let b = bytes(one.install(|| kepu::index::build(&site)).unwrap());
    let four = rayon::ThreadPoolBuilder::new().num_threads(4).build().unwrap();
    let c = bytes(four.install(|| kepu::index::build(&site)).unwrap());
    assert!(a == b && b == c, "index output differs between runs or thread counts");
    assert!(a.iter().any(|(p, _)| p == "search/manifest.json"));
    assert!(a.iter().any(|(p, _)| p == "search/search.mjs"));
    assert!(a.iter().all(|(p, _)| p.starts_with("search/")));
}
