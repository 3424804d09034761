//! Time the render stage by kind of output: `cargo run --release --example render_profile -- SITE_ROOT`.
//! Renders each kind of target (pages by type, section pagers, term pages, …) separately,
//! three times, and prints the median milliseconds and output bytes of each kind.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use kepu::render::{Renderer, Target};

fn main() {
    let root = PathBuf::from(std::env::args().nth(1).expect("usage: render_profile SITE_ROOT"));
    let fail = |d: kepu::diagnostics::Diagnostics| -> ! {
        eprintln!("{d:?}");
        std::process::exit(1)
    };
    let config = kepu::config::Config::load(&root).unwrap_or_else(|d| fail(d));
    let assets = kepu::load::theme::load_assets(&root, &config.theme).unwrap_or_else(|d| fail(d));
    let docs = kepu::load::load_content(&root).unwrap_or_else(|d| fail(d));
    let site = kepu::model::build(config, docs, &Default::default()).unwrap_or_else(|d| fail(d));
    // (No photos: the profile is of templates; pages show their images as plain <img>.)
    let images = kepu::images::ImageSet::default();
    let t = Instant::now();
    let renderer = Renderer::new(&site, &assets, &images).unwrap_or_else(|d| fail(d));
    println!("renderer setup {:8.1} ms", t.elapsed().as_secs_f64() * 1e3);
    let mut kinds: BTreeMap<String, Vec<Target>> = BTreeMap::new();
    for target in kepu::render::targets(&site, &assets) {
        let kind = match &target {
            Target::Page(rel) => match renderer.template_of(&target) {
                Some(t) => format!("page {t}"),
                None => format!("page {rel}"),
            },
            Target::SectionPager(rel, _) => format!("pager {}", renderer.template_of(&target).unwrap_or_else(|| rel.clone())),
            Target::Term(..) => "term".into(),
            other => format!("{other:?}").split('(').next().unwrap().to_string(),
        };
        kinds.entry(kind).or_default().push(target);
    }
    for (kind, targets) in &kinds {
        let mut times = Vec::new();
        let mut bytes = 0;
        for _ in 0..3 {
            let t = Instant::now();
            let out = renderer.render_targets(targets).unwrap_or_else(|d| fail(d));
            times.push(t.elapsed().as_secs_f64() * 1e3);
            bytes = out.iter().flat_map(|(_, f)| f).map(|f| match &f.contents { kepu::output::Contents::Bytes(b) => b.len(), _ => 0 }).sum::<usize>();
        }
        times.sort_by(|a, b| a.partial_cmp(b).unwrap());
        println!("{kind:32} {:6} targets {:8.1} ms {:10} bytes", targets.len(), times[1], bytes);
    }
}
