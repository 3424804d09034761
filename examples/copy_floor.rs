//! The copy floor of a build: the least time any generator needs to read every input byte
//! and write every output byte, the I/O with no work in between. `scripts/bench` compares
//! kepu's build time with it.
//!
//! ```text
//! cargo run --release --example copy_floor -- CONTENT_DIR REFERENCE_OUTPUT_DIR SCRATCH_DIR
//! ```
//!
//! Untimed: the reference output (a finished site) is read into memory. Timed, with the same
//! thread pool a build uses: every file under CONTENT_DIR is read, then every reference file
//! is written under SCRATCH_DIR (creating its folders). Prints `copy_floor_s=<seconds>
//! read_bytes=<n> written_bytes=<n> files=<n>`; SCRATCH_DIR is removed afterwards.

use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;
use walkdir::WalkDir;

fn files_under(dir: &Path) -> Vec<PathBuf> {
    WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect()
}

fn main() {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [input, reference, scratch] = args.as_slice() else {
        eprintln!("usage: copy_floor CONTENT_DIR REFERENCE_OUTPUT_DIR SCRATCH_DIR");
        std::process::exit(2);
    };
    if scratch.exists() {
        std::fs::remove_dir_all(scratch).expect("remove old scratch folder");
    }
    let outputs: Vec<(PathBuf, Vec<u8>)> = files_under(reference)
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).expect("read reference output");
            (p.strip_prefix(reference).unwrap().to_path_buf(), bytes)
        })
        .collect();

    let start = Instant::now();
    let inputs = files_under(input);
    let read: u64 = inputs.par_iter().map(|p| std::fs::read(p).expect("read input").len() as u64).sum();
    let dirs: std::collections::BTreeSet<PathBuf> =
        outputs.iter().filter_map(|(p, _)| p.parent().map(|d| scratch.join(d))).collect();
    std::fs::create_dir_all(scratch).expect("create scratch folder");
    for d in &dirs {
        std::fs::create_dir_all(d).expect("create folder");
    }
    let written: u64 = outputs
        .par_iter()
        .map(|(p, bytes)| {
            std::fs::write(scratch.join(p), bytes).expect("write output");
            bytes.len() as u64
        })
        .sum();
    let elapsed = start.elapsed().as_secs_f64();

    std::fs::remove_dir_all(scratch).expect("remove scratch folder");
    println!("copy_floor_s={elapsed:.4} read_bytes={read} written_bytes={written} files={}", outputs.len());
}
