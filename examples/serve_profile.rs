//! Time `kepu serve`'s rebuild after one-page edits, in process (no watcher, no server):
//! `cargo run --release --example serve_profile -- SITE_ROOT PAGE_REL [EDITS]`.
//!
//! Used by hand to look into the rebuild itself; `scripts/bench-serve` times what an editor
//! waits for (watcher, quiet period, reload message). Each round saves a body edit, then a
//! title edit, of `content/PAGE_REL`, rebuilds, and prints the kind of rebuild, the targets
//! rendered and the time; the page is restored at the end.

use std::path::{Path, PathBuf};
use std::time::Instant;

use kepu::build::BuildOptions;
use kepu::serve::incremental::{ChangeSet, Live, Outcome};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (root, page, edits) = match args.as_slice() {
        [root, page] => (PathBuf::from(root), page.clone(), 5),
        [root, page, n] => (PathBuf::from(root), page.clone(), n.parse().expect("EDITS is a number")),
        _ => {
            eprintln!("usage: serve_profile SITE_ROOT PAGE_REL [EDITS]");
            std::process::exit(2);
        }
    };
    let path = root.join("content").join(&page);
    let original = std::fs::read_to_string(&path).expect("read the page");
    let mut live = Live::new(BuildOptions::new(&root));
    let t = Instant::now();
    report("initial", live.rebuild(&ChangeSet::everything()), t);
    edit_rounds(&mut live, &path, &original, edits);
    std::fs::write(&path, original).expect("restore the page");
}

/// The edits, apart so that `valgrind --tool=callgrind --collect-atstart=no
/// --toggle-collect=serve_profile::edit_rounds` counts them without the first build.
#[inline(never)]
fn edit_rounds(live: &mut Live, path: &Path, original: &str, edits: usize) {
    for i in 0..edits {
        let edits: [(&str, String); 2] = [
            ("body", format!("{original}\n\n第{i}次修改。\n")),
            ("title", original.replacen("title = \"", &format!("title = \"（{i}）"), 1)),
        ];
        for (kind, text) in edits {
            std::fs::write(path, text).expect("write the page");
            let changes = ChangeSet { content: [path.to_path_buf()].into(), ..ChangeSet::default() };
            let t = Instant::now();
            report(kind, live.rebuild(&changes), t);
        }
    }
}

fn report(what: &str, outcome: Outcome, start: Instant) {
    match outcome {
        Outcome::Built { report, .. } => println!(
            "{what:8} {:?} patched={} rendered={} changed={} {:.1} ms",
            report.kind,
            report.model_patched,
            report.rendered,
            report.changed_files,
            start.elapsed().as_secs_f64() * 1e3
        ),
        Outcome::Failed { diagnostics, .. } => panic!("{what}: {diagnostics:?}"),
    }
}
