//! Helpers shared by the whole-program tests: run the real binary on copies of fixture sites.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

pub mod photos;

/// Result of one `kepu` run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Run the built `kepu` binary with `args` in `cwd`.
pub fn kepu(cwd: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_kepu"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .output()
        .expect("run kepu");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Copy a folder recursively.
pub fn copy_dir(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(from).unwrap();
        let target = to.join(rel);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A temp copy of `tests/fixtures/<name>`; the returned TempDir keeps it alive.
pub fn fixture(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name), &site);
    (dir, site)
}

/// A temp copy of the real default portal (config, content, themes, static).
pub fn default_portal() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::create_dir_all(&site).unwrap();
    for part in ["content", "themes", "static", "templates"] {
        if repo.join(part).is_dir() {
            copy_dir(&repo.join(part), &site.join(part));
        }
    }
    std::fs::copy(repo.join("config.toml"), site.join("config.toml")).unwrap();
    (dir, site)
}

/// Every file under `dir` with the SHA-256 of its bytes.
pub fn tree(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            let rel = entry.path().strip_prefix(dir).unwrap().to_string_lossy().replace('\\', "/");
            out.insert(rel, hex::encode(Sha256::digest(std::fs::read(entry.path()).unwrap())));
        }
    }
    out
}

/// Write `text` to `site/rel`, creating folders.
pub fn write(site: &Path, rel: &str, text: &str) {
    let p = site.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

pub fn read(site: &Path, rel: &str) -> String {
    std::fs::read_to_string(site.join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
}

/// Build `site` successfully (panics with the diagnostics otherwise).
pub fn build_ok(site: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["build", "--root", site.to_str().unwrap()];
    args.extend_from_slice(extra);
    let r = kepu(site, &args);
    assert_eq!(r.code, 0, "build failed:\n{}", r.stderr);
    r
}

/// Build `site` expecting failure; the stderr with the temp path removed, for snapshots.
pub fn build_err(site: &Path) -> String {
    let r = kepu(site, &["build", "--root", site.to_str().unwrap()]);
    assert_eq!(r.code, 1, "expected exit code 1, got {}:\n{}", r.code, r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    r.stderr.replace(site.to_str().unwrap(), "SITE")
}
