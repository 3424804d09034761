//! Stage 5, **write**: put the finished files on disk, all or nothing.
//!
//! The site is written into a staging folder next to the output folder and swapped in with
//! one atomic `renameat2(RENAME_EXCHANGE)` (two renames where that is unavailable). A failed
//! or killed build therefore never leaves a mixed output folder; leftovers of a killed build
//! are removed by the next one. Also writes `.kepu-manifest.json` (every file's SHA-256,
//! [`manifest`]) so a deploy can upload only what changed.
//!
//! On request ([`WriteOptions`]) files are [`minify`]-ed on the way out and text files get
//! precompressed `.gz`/`.br` siblings ([`compress`]); both run in parallel with the writing.

pub mod compress;
pub mod manifest;
pub mod minify;

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

/// How to write: the deploy-oriented transformations, all off by default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteOptions {
    /// Minify HTML, CSS and JavaScript.
    pub minify: bool,
    /// Add `.gz` and `.br` siblings to text files of at least [`compress::MIN_BYTES`].
    pub precompress: bool,
}

/// What was written.
#[derive(Debug, Clone, Default)]
pub struct WriteReport {
    /// Files of the site (compressed siblings and the manifest not counted).
    pub files: usize,
    /// Their bytes, after minifying.
    pub bytes: u64,
    /// Bytes before minifying (equal to `bytes` without `--minify`).
    pub bytes_before_minify: u64,
    /// Compressed siblings written, and their bytes.
    pub compressed_files: usize,
    pub compressed_bytes: u64,
    /// Files left unminified because they did not parse, with the reason.
    pub not_minified: Vec<(String, minify::MinifyError)>,
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
    write_site_with(output, site_root, files, WriteOptions::default())
}

/// [`write_site`], minifying and precompressing as `options` say.
pub fn write_site_with(
    output: &Path,
    site_root: &Path,
    files: Vec<OutputFile>,
    options: WriteOptions,
) -> Result<WriteReport, WriteError> {
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
    if options.precompress {
        // `x.css.gz` from the site would be overwritten by the compressed `x.css`.
        for path in by_path.keys() {
            let stem = path.strip_suffix(".gz").or_else(|| path.strip_suffix(".br"));
            if stem.is_some_and(|s| by_path.contains_key(s) && compress::eligible(s, usize::MAX)) {
                return Err(WriteError::Conflict(path.clone()));
            }
        }
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
    let result = fill(&staging, &by_path, options).and_then(|report| {
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

/// One written file: its manifest entry, and what happened on the way.
struct Written {
    entries: Vec<(String, manifest::Entry)>,
    bytes_before_minify: u64,
    not_minified: Option<minify::MinifyError>,
}

fn fill(staging: &Path, files: &BTreeMap<String, OutputFile>, options: WriteOptions) -> Result<WriteReport, WriteError> {
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
    let written: Vec<Result<Written, WriteError>> =
        files.par_iter().map(|(path, f)| write_one(staging, path, f, options)).collect();
    let mut entries = BTreeMap::new();
    let mut report = WriteReport::default();
    for w in written {
        let w = w?;
        report.bytes_before_minify += w.bytes_before_minify;
        for (i, (path, entry)) in w.entries.into_iter().enumerate() {
            if i == 0 {
                report.files += 1;
                report.bytes += entry.bytes;
                if let Some(e) = &w.not_minified {
                    report.not_minified.push((path.clone(), e.clone()));
                }
            } else {
                report.compressed_files += 1;
                report.compressed_bytes += entry.bytes;
            }
            entries.insert(path, entry);
        }
    }
    let manifest_path = staging.join(MANIFEST);
    fs::write(&manifest_path, manifest::Manifest::new(entries).to_json()).map_err(io_err(&manifest_path))?;
    Ok(report)
}

/// Write one file (minified if asked) and its compressed siblings (if asked and worth it).
fn write_one(staging: &Path, path: &str, f: &OutputFile, options: WriteOptions) -> Result<Written, WriteError> {
    let original: std::borrow::Cow<'_, [u8]> = match &f.contents {
        Contents::Bytes(b) => std::borrow::Cow::Borrowed(b.as_slice()),
        Contents::Copy(src) => std::borrow::Cow::Owned(fs::read(src).map_err(io_err(src))?),
    };
    let bytes_before_minify = original.len() as u64;
    let mut not_minified = None;
    let data = match minify::Kind::of(path).filter(|_| options.minify) {
        Some(kind) => match minify::minify(kind, &original) {
            Ok(small) => std::borrow::Cow::Owned(small),
            Err(e) => {
                not_minified = Some(e);
                original
            }
        },
        None => original,
    };
    let mut entries = Vec::with_capacity(3);
    let mut put = |path: String, bytes: &[u8]| -> Result<(), WriteError> {
        let target = staging.join(&path);
        fs::write(&target, bytes).map_err(io_err(&target))?;
        let entry = manifest::Entry { sha256: hex::encode(Sha256::digest(bytes)), bytes: bytes.len() as u64 };
        entries.push((path, entry));
        Ok(())
    };
    put(path.to_string(), &data)?;
    if options.precompress && compress::eligible(path, data.len()) {
        for (suffix, bytes) in compress::siblings(&data) {
            put(format!("{path}.{suffix}"), &bytes)?;
        }
    }
    Ok(Written { entries, bytes_before_minify, not_minified })
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
    fn minify_and_precompress_write_siblings_and_a_complete_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("public");
        let page = format!("<!doctype html>\n<html lang=\"zh-CN\">\n<body>\n  <p>{}</p>\n</body>\n</html>\n", "科普 ".repeat(200));
        let files = || {
            vec![
                OutputFile::bytes("index.html", page.clone()),
                OutputFile::bytes("robots.txt", "User-agent: *\n"),
                OutputFile::bytes("img/a.png", vec![7u8; 4000]),
                OutputFile::bytes("js/bad.js", format!("function ( {{ {}", " ".repeat(400))),
            ]
        };
        let options = WriteOptions { minify: true, precompress: true };
        let report = write_site_with(&out, dir.path().join("s").as_path(), files(), options).unwrap();
        let html = fs::read(out.join("index.html")).unwrap();
        assert!(html.len() < page.len());
        let mut unzipped = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&fs::read(out.join("index.html.gz")).unwrap()[..]), &mut unzipped).unwrap();
        assert_eq!(unzipped, html, "the .gz holds the minified page");
        let mut unbrotli = Vec::new();
        brotli::BrotliDecompress(&mut &fs::read(out.join("index.html.br")).unwrap()[..], &mut unbrotli).unwrap();
        assert_eq!(unbrotli, html);
        assert!(!out.join("robots.txt.gz").exists(), "too small to compress");
        assert!(!out.join("img/a.png.gz").exists(), "not text");
        assert_eq!(report.not_minified.len(), 1, "{:?}", report.not_minified);
        assert_eq!(report.not_minified[0].0, "js/bad.js");
        assert_eq!((report.files, report.compressed_files), (4, 4), "bad.js is still compressed");

        let m = manifest::Manifest::load(&out.join(MANIFEST)).unwrap();
        let listed: Vec<&str> = m.files.keys().map(String::as_str).collect();
        assert_eq!(
            listed,
            ["img/a.png", "index.html", "index.html.br", "index.html.gz", "js/bad.js", "js/bad.js.br", "js/bad.js.gz", "robots.txt"]
        );
        assert_eq!(m.files["index.html"].sha256, hex::encode(Sha256::digest(&html)));

        // Byte-identical on a second build.
        let before = (fs::read(out.join(MANIFEST)).unwrap(), fs::read(out.join("index.html.br")).unwrap());
        write_site_with(&out, dir.path().join("s").as_path(), files(), options).unwrap();
        assert_eq!((fs::read(out.join(MANIFEST)).unwrap(), fs::read(out.join("index.html.br")).unwrap()), before);
    }

    #[test]
    fn a_site_file_named_like_a_compressed_sibling_is_a_conflict() {
        let dir = tempfile::tempdir().unwrap();
        let files = vec![OutputFile::bytes("a.css", "x"), OutputFile::bytes("a.css.gz", "y")];
        let precompress = WriteOptions { minify: false, precompress: true };
        let err = write_site_with(&dir.path().join("public"), &dir.path().join("s"), files.clone(), precompress);
        assert!(matches!(err, Err(WriteError::Conflict(p)) if p == "a.css.gz"));
        assert!(write_site(&dir.path().join("public"), &dir.path().join("s"), files).is_ok());
    }

    #[test]
    fn output_containing_the_site_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_site(dir.path(), &dir.path().join("site"), vec![]);
        assert!(matches!(err, Err(WriteError::DangerousOutput(_))));
    }
}
