//! Build only the search index of a site into a folder, timing each stage:
//! `cargo run --release --example search_index -- SITE_ROOT OUT_DIR [--html]`.
//!
//! Used by `scripts/bench-search` and by hand while the full `kepu build` is not needed;
//! prints one JSON line of timings (milliseconds), counts and `text_bytes`, the size of the
//! text the index covers (titles, names, headings, descriptions, bodies). `--html` also
//! writes a bare HTML page per document (title, description, body text), so other indexers
//! can be run on the same text when no rendered site is at hand.

use std::path::PathBuf;
use std::time::Instant;

use kepu::output::Contents;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (root, out, html) = match args.as_slice() {
        [root, out] => (root, out, false),
        [root, out, flag] if flag == "--html" => (root, out, true),
        _ => {
            eprintln!("usage: search_index SITE_ROOT OUT_DIR [--html]");
            std::process::exit(2);
        }
    };
    let root = PathBuf::from(root);
    let t0 = Instant::now();
    let config = kepu::config::Config::load(&root).unwrap_or_else(|d| fail(d));
    let docs = kepu::load::load_content(&root).unwrap_or_else(|d| fail(d));
    let t_load = t0.elapsed();
    let t1 = Instant::now();
    let site = kepu::model::build(config, docs, &Default::default()).unwrap_or_else(|d| fail(d));
    let t_model = t1.elapsed();
    let t2 = Instant::now();
    let files = kepu::index::build(&site).unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(1)
    });
    let t_index = t2.elapsed();
    let out = PathBuf::from(out);
    let mut bytes = 0;
    for f in &files {
        let path = out.join(&f.path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        if let Contents::Bytes(b) = &f.contents {
            bytes += b.len();
            std::fs::write(&path, b).unwrap();
        }
    }
    let mut text_bytes = 0;
    for p in &site.pages {
        text_bytes += p.title.len() + p.text.plain.len() + p.meta.description.as_deref().map_or(0, str::len);
        text_bytes += p.typed.as_ref().map_or(0, |t| t.keywords().iter().map(String::len).sum());
        if html {
            let body: String = p.text.plain.lines().map(|l| format!("<p>{}</p>\n", escape(l))).collect();
            let page = format!(
                "<!doctype html><html lang=\"zh\"><head><meta charset=\"utf-8\"><title>{t}</title></head>\n<body><main><h1>{t}</h1>\n<p>{d}</p>\n{body}</main></body></html>\n",
                t = escape(&p.title),
                d = escape(p.meta.description.as_deref().unwrap_or("")),
            );
            let path = out.join(p.path.trim_start_matches('/')).join("index.html");
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, page).unwrap();
        }
    }
    for s in &site.sections {
        text_bytes += s.title.len() + s.text.plain.len() + s.meta.description.as_deref().map_or(0, str::len);
    }
    println!(
        "{{\"load_ms\":{:.1},\"model_ms\":{:.1},\"index_ms\":{:.1},\"files\":{},\"bytes\":{},\"docs\":{},\"text_bytes\":{}}}",
        t_load.as_secs_f64() * 1e3,
        t_model.as_secs_f64() * 1e3,
        t_index.as_secs_f64() * 1e3,
        files.len(),
        bytes,
        site.pages.len() + site.sections.len(),
        text_bytes
    );
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn fail(d: kepu::diagnostics::Diagnostics) -> ! {
    eprintln!("{d}");
    std::process::exit(1)
}
