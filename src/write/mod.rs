//! Stage 5, **write**: put the finished files on disk, all or nothing.
//!
//! The site is written into a staging folder next to the output folder and swapped in with
//! one atomic `renameat2(RENAME_EXCHANGE)` (two renames where that is unavailable). A failed
//! or killed build therefore never leaves a mixed output folder; leftovers of a killed build
//! are removed by the next one. Also writes `.kepu-manifest.json` (every file's SHA-256) so a
//! deploy can upload only what changed.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::output::{Contents, OutputFile};

/// Name of the manifest file in the output folder.
pub const MANIFEST: &str = ".kepu-manifest.json";

/// Why writing failed. The previous output folder is untouched in every case.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("output path `{0}` would leave the output folder")]
    UnsafePath(String),
    #[error("two outputs want the same file `{0}` (a static file and a page, or two pages)")]
    Conflict(String),
    #[error("refusing to write into {0}: it holds the site itself")]
    DangerousOutput(PathBuf),
    #[error("{0} exists and is not a folder")]
    NotADirectory(PathBuf),
    #[error("the output folder {0} is a symbolic link; kepu replaces the output folder as a whole and never follows a link there (it could point anywhere)")]
    SymlinkOutput(PathBuf),
    #[error("cannot write {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> WriteError + '_ {
    move |source| WriteError::Io { path: path.to_path_buf(), source }
}

/// What was written.
#[derive(Debug, Clone, Default)]
pub struct WriteReport {
    pub files: usize,
    pub bytes: u64,
}

/// Check that a relative output path stays inside the output folder.
pub fn is_safe_relative(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.contains('\\')
        && !path.contains('\0')
        && !path.contains(':')
        && path.split('/').all(|seg| !seg.is_empty() && seg != ".." && seg != ".")
}

/// Write `files` as the complete new content of `output`, atomically. `site_root` guards
/// against an output folder that would swallow the site.
pub fn write_site(output: &Path, site_root: &Path, files: Vec<OutputFile>) -> Result<WriteReport, WriteError> {
    let mut by_path: BTreeMap<String, OutputFile> = BTreeMap::new();
    for f in files {
        if !is_safe_relative(&f.path) {
            return Err(WriteError::UnsafePath(f.path));
        }
        if by_path.contains_key(&f.path) {
            return Err(WriteError::Conflict(f.path));
        }
        by_path.insert(f.path.clone(), f);
    }
    // Checked before resolving links: swapping a linked output folder would replace (and then
    // delete) whatever folder the link points at.
    if output.symlink_metadata().is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(WriteError::SymlinkOutput(output.to_path_buf()));
    }
    let output = absolute(output);
    let root = absolute(site_root);
    if root.starts_with(&output) {
        return Err(WriteError::DangerousOutput(output));
    }
    if output.exists() && !output.is_dir() {
        return Err(WriteError::NotADirectory(output));
    }
    let parent = output.parent().unwrap_or(Path::new("/")).to_path_buf();
    fs::create_dir_all(&parent).map_err(io_err(&parent))?;
    clean_leftovers(&output);

    let staging = sibling(&output, "staging");
    let result = fill(&staging, &by_path).and_then(|report| {
        swap_in(&staging, &output)?;
        Ok(report)
    });
    if result.is_err() {
        let _ = fs::remove_dir_all(&staging);
    }
    result
}

fn absolute(p: &Path) -> PathBuf {
    let p = if p.is_absolute() { p.to_path_buf() } else { std::env::current_dir().unwrap_or_default().join(p) };
    // Resolve what exists (symlinks, `..`) so comparisons are honest.
    match p.canonicalize() {
        Ok(c) => c,
        Err(_) => match (p.parent().and_then(|d| d.canonicalize().ok()), p.file_name()) {
            (Some(d), Some(n)) => d.join(n),
            _ => p,
        },
    }
}

/// `.public.kepu-staging-<pid>` next to `public`.
fn sibling(output: &Path, what: &str) -> PathBuf {
    let name = output.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "public".into());
    output.with_file_name(format!(".{name}.kepu-{what}-{}", std::process::id()))
}

/// Remove staging and old folders left behind by builds that were killed.
fn clean_leftovers(output: &Path) {
    let name = output.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let Some(parent) = output.parent() else { return };
    let Ok(entries) = fs::read_dir(parent) else { return };
    let prefixes = [format!(".{name}.kepu-staging-"), format!(".{name}.kepu-old-")];
    for e in entries.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if prefixes.iter().any(|p| n.starts_with(p.as_str())) {
            let pid = n.rsplit('-').next().and_then(|p| p.parse::<u32>().ok());
            if pid.is_some_and(|pid| pid != std::process::id() && process_alive(pid)) {
                continue; // another build is running right now
            }
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

fn process_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

fn fill(staging: &Path, files: &BTreeMap<String, OutputFile>) -> Result<WriteReport, WriteError> {
    if staging.exists() {
        fs::remove_dir_all(staging).map_err(io_err(staging))?;
    }
    fs::create_dir_all(staging).map_err(io_err(staging))?;
    let dirs: std::collections::BTreeSet<PathBuf> =
        files.keys().filter_map(|p| Path::new(p).parent().map(Path::to_path_buf)).collect();
    for d in dirs {
        let full = staging.join(d);
        fs::create_dir_all(&full).map_err(io_err(&full))?;
    }
    let hashes: Vec<Result<(String, String, u64), WriteError>> = files
        .par_iter()
        .map(|(path, f)| {
            let target = staging.join(path);
            let bytes = match &f.contents {
                Contents::Bytes(b) => {
                    fs::write(&target, b).map_err(io_err(&target))?;
                    std::borrow::Cow::Borrowed(b.as_slice())
                }
                Contents::Copy(src) => {
                    let data = fs::read(src).map_err(io_err(src))?;
                    fs::write(&target, &data).map_err(io_err(&target))?;
                    std::borrow::Cow::Owned(data)
                }
            };
            let hash = hex::encode(Sha256::digest(&bytes));
            Ok((path.clone(), hash, bytes.len() as u64))
        })
        .collect();
    let mut manifest = BTreeMap::new();
    let mut report = WriteReport::default();
    for h in hashes {
        let (path, hash, len) = h?;
        report.files += 1;
        report.bytes += len;
        manifest.insert(path, serde_json::json!({ "sha256": hash, "bytes": len }));
    }
    let manifest_path = staging.join(MANIFEST);
    let text = serde_json::to_string_pretty(&serde_json::json!({ "files": manifest })).unwrap_or_default();
    fs::write(&manifest_path, text + "\n").map_err(io_err(&manifest_path))?;
    Ok(report)
}

/// Make `staging` the output folder. With an existing output, exchange the two atomically and
/// remove the old one.
fn swap_in(staging: &Path, output: &Path) -> Result<(), WriteError> {
    if !output.exists() {
        return fs::rename(staging, output).map_err(io_err(output));
    }
    if exchange(staging, output).is_ok() {
        // `staging` now holds the previous site.
        let _ = fs::remove_dir_all(staging);
        return Ok(());
    }
    let old = sibling(output, "old");
    fs::rename(output, &old).map_err(io_err(output))?;
    if let Err(e) = fs::rename(staging, output) {
        let _ = fs::rename(&old, output);
        return Err(WriteError::Io { path: output.to_path_buf(), source: e });
    }
    let _ = fs::remove_dir_all(&old);
    Ok(())
}

#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let ca = CString::new(a.as_os_str().as_bytes())?;
    let cb = CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: both arguments are valid NUL-terminated paths; AT_FDCWD is valid for dirfd.
    let r = unsafe { libc::renameat2(libc::AT_FDCWD, ca.as_ptr(), libc::AT_FDCWD, cb.as_ptr(), libc::RENAME_EXCHANGE) };
    if r == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_a: &Path, _b: &Path) -> io::Result<()> {
    Err(io::Error::new(io::ErrorKind::Unsupported, "no atomic exchange"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_paths_are_refused() {
        for p in ["../x", "/etc/passwd", "a/../../b", "C:\\x", "a//b", ""] {
            assert!(!is_safe_relative(p), "{p}");
        }
        assert!(is_safe_relative("venues/x/index.html"));
    }

    #[test]
    fn swap_replaces_the_whole_folder_and_keeps_nothing_stale() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("public");
        let root = dir.path().join("site");
        fs::create_dir_all(&root).unwrap();
        write_site(&out, &root, vec![OutputFile::bytes("a.txt", "1"), OutputFile::bytes("old.txt", "x")]).unwrap();
        write_site(&out, &root, vec![OutputFile::bytes("a.txt", "2")]).unwrap();
        assert_eq!(fs::read_to_string(out.join("a.txt")).unwrap(), "2");
        assert!(!out.join("old.txt").exists());
        let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(leftovers.len(), 2, "{leftovers:?}");
    }

    #[test]
    fn conflict_leaves_previous_output_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("public");
        write_site(&out, dir.path().join("s").as_path(), vec![OutputFile::bytes("a.txt", "1")]).unwrap();
        let err = write_site(&out, dir.path().join("s").as_path(), vec![OutputFile::bytes("a.txt", "2"), OutputFile::bytes("a.txt", "3")]);
        assert!(matches!(err, Err(WriteError::Conflict(_))));
        assert_eq!(fs::read_to_string(out.join("a.txt")).unwrap(), "1");
    }

    #[cfg(unix)]
    #[test]
    fn linked_output_folder_is_refused_and_its_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = dir.path().join("elsewhere");
        fs::create_dir_all(&elsewhere).unwrap();
        fs::write(elsewhere.join("keep.txt"), "mine").unwrap();
        let out = dir.path().join("public");
        std::os::unix::fs::symlink(&elsewhere, &out).unwrap();
        let err = write_site(&out, &dir.path().join("site"), vec![OutputFile::bytes("a.txt", "1")]);
        assert!(matches!(err, Err(WriteError::SymlinkOutput(_))), "{err:?}");
        assert_eq!(fs::read_to_string(elsewhere.join("keep.txt")).unwrap(), "mine");
        assert!(!elsewhere.join("a.txt").exists());
    }

    #[test]
    fn output_containing_the_site_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_site(dir.path(), &dir.path().join("site"), vec![]);
        assert!(matches!(err, Err(WriteError::DangerousOutput(_))));
    }
}
