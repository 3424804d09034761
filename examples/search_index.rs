//! Build only the search index of a site into a folder, timing each stage:
//! `cargo run --release --example search_index -- SITE_ROOT OUT_DIR`.
//!
//! Used by `scripts/bench-search` and by hand while the full `kepu build` is not needed;
//! prints one JSON line of timings (milliseconds) and counts.

use std::path::PathBuf;
use std::time::Instant;

use kepu::output::Contents;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [root, out] = args.as_slice() else {
        eprintln!("usage: search_index SITE_ROOT OUT_DIR");
        std::process::exit(2);
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
    println!(
        "{{\"load_ms\":{:.1},\"model_ms\":{:.1},\"index_ms\":{:.1},\"files\":{},\"bytes\":{},\"docs\":{}}}",
        t_load.as_secs_f64() * 1e3,
        t_model.as_secs_f64() * 1e3,
        t_index.as_secs_f64() * 1e3,
        files.len(),
        bytes,
        site.pages.len() + site.sections.len()
    );
}

fn fail(d: kepu::diagnostics::Diagnostics) -> ! {
    eprintln!("{d}");
    std::process::exit(1)
}
