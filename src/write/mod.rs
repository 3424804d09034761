//! Stage 5, **write**: put the finished files on disk, all or nothing.
//!
//! The site is written into a staging folder next to the output folder and swapped in with
//! one atomic `renameat2(RENAME_EXCHANGE)` (two renames where that is unavailable). A failed
//! or killed build therefore never leaves a mixed output folder; leftovers of a killed build
//! are removed by the next one. Also writes `.kepu-manifest.json` (every file's SHA-256,
//! [`manifest`]) so a deploy can upload only what changed.
//!
//! `kepu build` streams into a [`Staging`]: each page is written as soon as it is rendered,
//! so the rendered site is never held in memory whole; [`write_site`] takes a finished list.
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
    // Every path is checked before anything is written (a [`Staging`] checks as files come).
    let mut seen = std::collections::HashSet::new();
    for f in &files {
        if !is_safe_relative(&f.path) {
            return Err(WriteError::UnsafePath(f.path.clone()));
        }
        if !seen.insert(f.path.as_str()) {
            return Err(WriteError::Conflict(f.path.clone()));
        }
    }
    let staging = Staging::begin(output, site_root, options)?;
    staging.add_all(files);
    staging.finish()
}

/// A new output folder being filled: files are written into a staging folder next to the
/// output as they are produced (so a build never holds its whole rendered site in memory),
/// and [`Staging::finish`] writes the manifest and swaps the folder in. Until then the
/// previous output is untouched; a `Staging` dropped unfinished (a failed build) removes its
/// folder. [`Staging::add`] may be called from many threads at once.
pub struct Staging {
    output: PathBuf,
    dir: PathBuf,
    options: WriteOptions,
    state: std::sync::Mutex<StagingState>,
    failed: std::sync::atomic::AtomicBool,
    finished: bool,
}

#[derive(Default)]
struct StagingState {
    /// Every path written so far (site files and compressed siblings) with its manifest entry;
    /// `None` while it is being written.
    entries: BTreeMap<String, Option<manifest::Entry>>,
    /// The paths of the site's own files (not compressed siblings).
    originals: std::collections::BTreeSet<String>,
    /// Folders already created.
    dirs: std::collections::HashSet<PathBuf>,
    report: WriteReport,
    /// Errors by path; the first in path order is reported, so the message does not depend
    /// on which thread got there first.
    errors: BTreeMap<String, WriteError>,
}

impl Staging {
    /// Check the output folder (not a link, not holding the site, a folder if it exists),
    /// remove leftovers of killed builds and create an empty staging folder.
    pub fn begin(output: &Path, site_root: &Path, options: WriteOptions) -> Result<Staging, WriteError> {
        // Checked before resolving links: swapping a linked output folder would replace (and
        // then delete) whatever folder the link points at.
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
        let dir = sibling(&output, "staging");
        if dir.exists() {
            fs::remove_dir_all(&dir).map_err(io_err(&dir))?;
        }
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        Ok(Staging {
            output,
            dir,
            options,
            state: Default::default(),
            failed: Default::default(),
            finished: false,
        })
    }

    /// Write one file (minified if asked) and its compressed siblings (if asked and worth
    /// it). A problem (an unsafe path, a path written twice, a disk error) is kept for
    /// [`Staging::finish`] to report; after one, later files are not written.
    pub fn add(&self, file: OutputFile) {
        use std::sync::atomic::Ordering::Relaxed;
        if self.failed.load(Relaxed) {
            return;
        }
        if let Err((path, e)) = self.try_add(file) {
            self.failed.store(true, Relaxed);
            if let Ok(mut state) = self.state.lock() {
                state.errors.entry(path).or_insert(e);
            }
        }
    }

    /// [`Staging::add`] for many files, in parallel.
    pub fn add_all(&self, files: Vec<OutputFile>) {
        files.into_par_iter().for_each(|f| self.add(f));
    }

    fn try_add(&self, file: OutputFile) -> Result<(), (String, WriteError)> {
        let path = file.path.clone();
        let fail = |e: WriteError| (path.clone(), e);
        if !is_safe_relative(&path) {
            return Err(fail(WriteError::UnsafePath(path.clone())));
        }
        // The parent folder, created once.
        let parent = Path::new(&path).parent().filter(|p| !p.as_os_str().is_empty()).map(|p| self.dir.join(p));
        self.claim(&path).map_err(fail)?;
        if let Some(parent) = parent {
            let known = self.state.lock().map(|s| s.dirs.contains(&parent)).unwrap_or(false);
            if !known {
                fs::create_dir_all(&parent).map_err(io_err(&parent)).map_err(fail)?;
                if let Ok(mut s) = self.state.lock() {
                    s.dirs.insert(parent);
                }
            }
        }
        let written = write_one(&self.dir, &path, &file, self.options, &|p| self.claim(p)).map_err(fail)?;
        let mut state = self.state.lock().map_err(|_| fail(poisoned(&self.dir)))?;
        let report = &mut state.report;
        report.bytes_before_minify += written.bytes_before_minify;
        for (i, (_, entry)) in written.entries.iter().enumerate() {
            if i == 0 {
                report.files += 1;
                report.bytes += entry.bytes;
            } else {
                report.compressed_files += 1;
                report.compressed_bytes += entry.bytes;
            }
        }
        if let Some(e) = written.not_minified {
            report.not_minified.push((path.clone(), e));
        }
        state.originals.insert(path.clone());
        for (p, entry) in written.entries {
            state.entries.insert(p, Some(entry));
        }
        Ok(())
    }

    /// Reserve `path` for one writer: a second output of the same path is a conflict (two
    /// pages, a page and a static file, or a site file named like a compressed sibling).
    fn claim(&self, path: &str) -> Result<(), WriteError> {
        let mut state = self.state.lock().map_err(|_| poisoned(&self.dir))?;
        if state.entries.contains_key(path) {
            return Err(WriteError::Conflict(path.to_string()));
        }
        state.entries.insert(path.to_string(), None);
        Ok(())
    }

    /// Write the manifest and make the staging folder the output folder (atomically, with
    /// the previous one removed), or report the first problem and leave the output untouched.
    pub fn finish(mut self) -> Result<WriteReport, WriteError> {
        let state = std::mem::take(&mut *self.state.lock().map_err(|_| poisoned(&self.dir))?);
        if let Some((_, e)) = state.errors.into_iter().next() {
            return Err(e); // dropping `self` removes the staging folder
        }
        if self.options.precompress {
            // `x.css.gz` from the site would be taken for the compressed `x.css` (whether or
            // not this `x.css` happened to be worth compressing).
            for path in &state.originals {
                let stem = path.strip_suffix(".gz").or_else(|| path.strip_suffix(".br"));
                if stem.is_some_and(|s| state.originals.contains(s) && compress::eligible(s, usize::MAX)) {
                    return Err(WriteError::Conflict(path.clone()));
                }
            }
        }
        let mut report = state.report;
        report.not_minified.sort_by(|a, b| a.0.cmp(&b.0));
        let entries: BTreeMap<String, manifest::Entry> = state.entries.into_iter().filter_map(|(p, e)| Some((p, e?))).collect();
        let manifest_path = self.dir.join(MANIFEST);
        fs::write(&manifest_path, manifest::Manifest::new(entries).to_json()).map_err(io_err(&manifest_path))?;
        swap_in(&self.dir, &self.output)?;
        self.finished = true;
        Ok(report)
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.finished {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

fn poisoned(dir: &Path) -> WriteError {
    WriteError::Io { path: dir.to_path_buf(), source: io::Error::other("a writer thread panicked") }
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

/// One written file: its manifest entries (the file, then its compressed siblings), and
/// what happened on the way.
struct Written {
    entries: Vec<(String, manifest::Entry)>,
    bytes_before_minify: u64,
    not_minified: Option<minify::MinifyError>,
}

/// Write one file (minified if asked) and its compressed siblings (if asked and worth it);
/// `claim` reserves each sibling's path first.
fn write_one(
    staging: &Path,
    path: &str,
    f: &OutputFile,
    options: WriteOptions,
    claim: &dyn Fn(&str) -> Result<(), WriteError>,
) -> Result<Written, WriteError> {
    if let Contents::Linked { file, sha256, bytes } = &f.contents {
        // A kept file nothing transforms (an image): linked, not read. Else read as a copy.
        let transformed = (options.minify && minify::Kind::of(path).is_some())
            || (options.precompress && compress::eligible(path, *bytes as usize));
        if !transformed {
            link_or_copy(file, &staging.join(path), *bytes)?;
            let entry = manifest::Entry { sha256: sha256.clone(), bytes: *bytes };
            return Ok(Written { entries: vec![(path.to_string(), entry)], bytes_before_minify: *bytes, not_minified: None });
        }
    }
    let original: std::borrow::Cow<'_, [u8]> = match &f.contents {
        Contents::Bytes(b) => std::borrow::Cow::Borrowed(b.as_slice()),
        Contents::Copy(src) | Contents::Linked { file: src, .. } => std::borrow::Cow::Owned(fs::read(src).map_err(io_err(src))?),
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
        for (suffix, bytes) in compress::siblings(path, &data) {
            let sibling = format!("{path}.{suffix}");
            claim(&sibling)?;
            put(sibling, &bytes)?;
        }
    }
    Ok(Written { entries, bytes_before_minify, not_minified })
}

/// Put `file` (a kept file, never rewritten in place) at `target` in the staging folder: a
/// hard link, so a warm build with many photos writes no image bytes; a copy where the link
/// fails (another file system, a file system without links, too many links). The staging
/// folder only ever gets new files, so nothing writes through the link afterwards; a file
/// of `public/` rewritten in place later changes the kept file's identity, which its owner
/// (the image cache) checks before using it again.
fn link_or_copy(file: &Path, target: &Path, bytes: u64) -> Result<(), WriteError> {
    match fs::hard_link(file, target) {
        Ok(()) => return Ok(()),
        // Never copy over an existing file: it may be a link to `file` itself, and a copy
        // (which truncates its target first) would empty the kept file and every link to it.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Err(io_err(target)(e)),
        Err(_) => {}
    }
    let copied = fs::copy(file, target).map_err(io_err(file))?;
    if copied != bytes {
        return Err(WriteError::Io {
            path: file.to_path_buf(),
            source: io::Error::other(format!("{copied} bytes where {bytes} were expected: the file changed during the build")),
        });
    }
    Ok(())
}

/// Make `staging` the output folder. With an existing output, exchange the two atomically and
/// remove the old one.
fn swap_in(staging: &Path, output: &Path) -> Result<(), WriteError> {
    if !output.exists() {
        return fs::rename(staging, output).map_err(io_err(output));
    }
    if exchange(staging, output).is_ok() {
        // `staging` now holds the previous site.
        remove_tree(staging);
        return Ok(());
    }
    let old = sibling(output, "old");
    fs::rename(output, &old).map_err(io_err(output))?;
    if let Err(e) = fs::rename(staging, output) {
        let _ = fs::rename(&old, output);
        return Err(WriteError::Io { path: output.to_path_buf(), source: e });
    }
    remove_tree(&old);
    Ok(())
}

/// Remove a folder and everything in it, subfolders in parallel: the previous output of a
/// large site is tens of thousands of files, and removing them one by one was most of the
/// write stage. Symbolic links are removed, never followed. Best effort, as
/// `fs::remove_dir_all` is here: whatever is left is a leftover [`clean_leftovers`] removes.
fn remove_tree(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    let entries: Vec<fs::DirEntry> = entries.flatten().collect();
    entries.par_iter().for_each(|e| match e.file_type() {
        Ok(t) if t.is_dir() => remove_tree(&e.path()),
        _ => {
            let _ = fs::remove_file(e.path());
        }
    });
    let _ = fs::remove_dir(dir);
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

    #[cfg(unix)]
    #[test]
    fn remove_tree_removes_everything_and_follows_no_link() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside");
        fs::create_dir_all(&outside).unwrap();
        fs::write(outside.join("keep.txt"), "not ours").unwrap();
        let tree = tmp.path().join("old");
        for i in 0..40 {
            let dir = tree.join(format!("s{}/p{i}/deeper", i % 3));
            fs::create_dir_all(&dir).unwrap();
            fs::write(dir.join("index.html"), "x").unwrap();
            fs::write(dir.parent().unwrap().join("index.html"), "y").unwrap();
        }
        std::os::unix::fs::symlink(&outside, tree.join("s0/link")).unwrap();
        fs::write(tree.join("top.txt"), "z").unwrap();
        remove_tree(&tree);
        assert!(!tree.exists());
        assert_eq!(fs::read_to_string(outside.join("keep.txt")).unwrap(), "not ours");
    }

    #[test]
    fn linking_onto_an_existing_file_fails_and_never_empties_the_kept_file() {
        let tmp = tempfile::tempdir().unwrap();
        let kept = tmp.path().join("kept.webp");
        let target = tmp.path().join("out.webp");
        fs::write(&kept, b"image bytes").unwrap();
        fs::hard_link(&kept, &target).unwrap();
        assert!(link_or_copy(&kept, &target, 11).is_err());
        assert_eq!(fs::read(&kept).unwrap(), b"image bytes");
        let fresh = tmp.path().join("fresh.webp");
        link_or_copy(&kept, &fresh, 11).unwrap();
        assert_eq!(fs::read(&fresh).unwrap(), b"image bytes");
    }

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
    fn staging_writes_files_as_they_come_and_a_failed_build_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (out, root) = (dir.path().join("public"), dir.path().join("site"));
        write_site(&out, &root, vec![OutputFile::bytes("a.txt", "old")]).unwrap();
        let entries = || {
            let mut names: Vec<String> = fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
            names.sort();
            names
        };

        // A path written twice among files added from many threads: reported at the end,
        // the previous output untouched, the staging folder gone.
        let staging = Staging::begin(&out, &root, WriteOptions::default()).unwrap();
        (0..200).into_par_iter().for_each(|i| staging.add(OutputFile::bytes(format!("p/{}/index.html", i % 50), format!("{i}"))));
        let err = staging.finish();
        assert!(matches!(err, Err(WriteError::Conflict(ref p)) if p == "p/0/index.html"), "{err:?}");
        assert_eq!(fs::read_to_string(out.join("a.txt")).unwrap(), "old");
        assert_eq!(entries(), ["public"]);

        // Dropped unfinished (a render error): nothing left behind either.
        let staging = Staging::begin(&out, &root, WriteOptions::default()).unwrap();
        staging.add(OutputFile::bytes("b.txt", "new"));
        drop(staging);
        assert_eq!(entries(), ["public"]);
        assert!(!out.join("b.txt").exists());

        // Finished: every file and the manifest, in place of the old output.
        let staging = Staging::begin(&out, &root, WriteOptions::default()).unwrap();
        (0..50).into_par_iter().for_each(|i| staging.add(OutputFile::bytes(format!("p/{i}/index.html"), format!("{i}"))));
        staging.add(OutputFile::bytes("../escape.txt", "x"));
        assert!(matches!(staging.finish(), Err(WriteError::UnsafePath(_))));
        let staging = Staging::begin(&out, &root, WriteOptions::default()).unwrap();
        (0..50).into_par_iter().for_each(|i| staging.add(OutputFile::bytes(format!("p/{i}/index.html"), format!("{i}"))));
        let report = staging.finish().unwrap();
        assert_eq!(report.files, 50);
        assert!(!out.join("a.txt").exists());
        assert_eq!(fs::read_to_string(out.join("p/49/index.html")).unwrap(), "49");
        assert_eq!(manifest::Manifest::load(&out.join(MANIFEST)).unwrap().files.len(), 50);
        assert!(!dir.path().join("escape.txt").exists());
        assert_eq!(entries(), ["public"]);
    }

    #[test]
    fn output_containing_the_site_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_site(dir.path(), &dir.path().join("site"), vec![]);
        assert!(matches!(err, Err(WriteError::DangerousOutput(_))));
    }
}
