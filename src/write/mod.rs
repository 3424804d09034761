//! Stage 5, **write**: put the finished files on disk, all or nothing.
//!
//! The site is written into a staging folder next to the output folder and swapped in with
//! one atomic `renameat2(RENAME_EXCHANGE)` (two renames where that is unavailable). A failed
//! or killed build therefore never leaves a mixed output folder; leftovers of a killed build
//! are removed by the next one. Also writes `.kepu-manifest.json` (every file's SHA-256,
//! [`manifest`]) so a deploy can upload only what changed.
//!
//! With [`Staging::begin_reusing`] the replaced output is not deleted but kept (in the image
//! cache's folder) and becomes the next build's staging folder: a file that is the very same
//! kept file as before (a photo, hard-linked from the image cache) stays where it is, every
//! other file is removed and written anew (never written through: it may be a link), and
//! what the new site no longer has is removed. A warm build of a site with many photos then
//! makes and removes no links at all, and no build creates and removes every folder of the
//! site again (on the 180-page portal that halved a warm build). The previous output folder
//! is still only replaced by the one atomic swap.
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
    /// Where the replaced output goes for the next build to reuse; `None`: it is removed.
    keep: Option<PathBuf>,
    /// Whether the staging folder was taken from `keep` (a failed build puts it back).
    reused: bool,
    /// What the reused folder held when this build took it (empty for a new folder), by
    /// path; looked up before each file is written and swept of what is left at the end.
    previous: rustc_hash::FxHashMap<String, Found>,
    /// The staging folder's device, to tell a kept file from one with the same inode number
    /// on another file system.
    device: u64,
    state: std::sync::Mutex<StagingState>,
    failed: std::sync::atomic::AtomicBool,
    finished: bool,
}

#[derive(Default)]
struct StagingState {
    /// Every path claimed so far (site files and compressed siblings), written or being
    /// written.
    claimed: rustc_hash::FxHashSet<String>,
    /// Every folder a claimed path is in (`a` and `a/b` for `a/b/c.html`): no file may take
    /// one of these paths.
    folders: rustc_hash::FxHashSet<String>,
    /// Every path written, with its manifest entry (in no order).
    entries: Vec<(String, manifest::Entry)>,
    /// The paths of the site's own files (not compressed siblings), kept when precompressing
    /// (to tell a site's `x.css.gz` from a compressed `x.css`).
    originals: std::collections::BTreeSet<String>,
    /// Folders already created.
    dirs: std::collections::HashSet<PathBuf>,
    report: WriteReport,
    /// Errors by path; the first in path order is reported, so the message does not depend
    /// on which thread got there first.
    errors: BTreeMap<String, WriteError>,
}

/// An entry of a reused staging folder, as found when the build took it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Found {
    File { inode: u64 },
    Dir,
}

impl Staging {
    /// Check the output folder (not a link, not holding the site, a folder if it exists),
    /// remove leftovers of killed builds and create an empty staging folder.
    pub fn begin(output: &Path, site_root: &Path, options: WriteOptions) -> Result<Staging, WriteError> {
        Staging::begin_with(output, site_root, options, None)
    }

    /// [`Staging::begin`], starting from the output the last build replaced where it was
    /// kept at `keep` (a folder of the site's cache, on the output's file system), and
    /// keeping the output this build replaces there for the next one. Nothing of `keep` is
    /// trusted but the identity of kept files: every other file is written again. Without a
    /// usable folder at `keep` (the first build, another file system, another build using
    /// it right now) this is [`Staging::begin`].
    pub fn begin_reusing(output: &Path, site_root: &Path, options: WriteOptions, keep: &Path) -> Result<Staging, WriteError> {
        Staging::begin_with(output, site_root, options, Some(keep))
    }

    fn begin_with(output: &Path, site_root: &Path, options: WriteOptions, keep: Option<&Path>) -> Result<Staging, WriteError> {
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
        // Never a folder reached through a link below the site folder (a `.kepu-cache` linking
        // elsewhere would have the build move and sweep a folder there), nor one inside the
        // output or holding it: taking it would change the output.
        let keep = keep
            .filter(|k| !through_link(k, site_root))
            .map(absolute)
            .filter(|k| !k.starts_with(&output) && !output.starts_with(k) && !root.starts_with(k));
        // Only a real folder (a link would make the staging folder point elsewhere), taken by
        // one rename: a build running beside this one gets it or does not.
        let reused = keep.as_ref().is_some_and(|k| {
            k.symlink_metadata().is_ok_and(|m| m.file_type().is_dir()) && fs::rename(k, &dir).is_ok()
        });
        let previous = if reused {
            survey(&dir, "").into_iter().collect()
        } else {
            fs::create_dir_all(&dir).map_err(io_err(&dir))?;
            Default::default()
        };
        let device = device_of(&dir);
        Ok(Staging {
            output,
            dir,
            options,
            keep,
            reused,
            previous,
            device,
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

    /// [`Staging::add`] for many files, in parallel. Files the reused folder already holds
    /// (photos an earlier build linked in) need nothing done on disk: they are recorded all
    /// at once, under one lock, rather than contending for it file by file.
    pub fn add_all(&self, files: Vec<OutputFile>) {
        let (held, rest): (Vec<OutputFile>, Vec<OutputFile>) = files.into_iter().partition(|f| self.holds(f));
        self.add_held(held);
        rest.into_par_iter().for_each(|f| self.add(f));
    }

    /// Whether `f` is a kept file nothing transforms, already at its (safe) path in the reused
    /// folder.
    fn holds(&self, f: &OutputFile) -> bool {
        let Contents::Linked { file, bytes, id, .. } = &f.contents else { return false };
        !self.transforms(&f.path, *bytes) && is_safe_relative(&f.path) && self.holds_already(&f.path, file, *id)
    }

    /// Whether the file at `path` is minified or compressed on its way out (so it is written,
    /// never linked).
    fn transforms(&self, path: &str, bytes: u64) -> bool {
        (self.options.minify && minify::Kind::of(path).is_some())
            || (self.options.precompress && compress::eligible(path, bytes as usize))
    }

    /// Record files [`Staging::holds`] says are in place: claimed like any other (a second
    /// output of the same path is still a conflict), listed in the manifest, nothing written.
    fn add_held(&self, files: Vec<OutputFile>) {
        use std::sync::atomic::Ordering::Relaxed;
        if files.is_empty() || self.failed.load(Relaxed) {
            return;
        }
        let Ok(mut state) = self.state.lock() else {
            self.failed.store(true, Relaxed);
            return;
        };
        for f in files {
            let Contents::Linked { sha256, bytes, .. } = f.contents else { continue };
            if let Err(e) = claim_in(&mut state, &f.path) {
                self.failed.store(true, Relaxed);
                state.errors.entry(f.path).or_insert(e);
                return;
            }
            state.report.files += 1;
            state.report.bytes += bytes;
            state.report.bytes_before_minify += bytes;
            if self.options.precompress {
                state.originals.insert(f.path.clone());
            }
            state.entries.push((f.path, manifest::Entry { sha256, bytes }));
        }
    }

    fn try_add(&self, file: OutputFile) -> Result<(), (String, WriteError)> {
        let path = file.path.clone();
        let fail = |e: WriteError| (path.clone(), e);
        if !is_safe_relative(&path) {
            return Err(fail(WriteError::UnsafePath(path.clone())));
        }
        // The parent folder, created once (or found in the reused folder).
        let parent_rel = path.rsplit_once('/').map(|(p, _)| p);
        self.claim(&path).map_err(fail)?;
        if let Some(parent_rel) = parent_rel {
            let parent = self.dir.join(parent_rel);
            let known = self.previous.get(parent_rel) == Some(&Found::Dir)
                || self.state.lock().map(|s| s.dirs.contains(&parent)).unwrap_or(false);
            if !known {
                self.make_dir(parent_rel).map_err(fail)?;
                if let Ok(mut s) = self.state.lock() {
                    s.dirs.insert(parent);
                }
            }
        }
        let written = self.write_one(&path, &file).map_err(fail)?;
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
        if self.options.precompress {
            state.originals.insert(path.clone());
        }
        state.entries.extend(written.entries);
        Ok(())
    }

    /// Reserve `path` for one writer: a second output of the same path is a conflict (two
    /// pages, a page and a static file, or a site file named like a compressed sibling), and
    /// so is a file where another output needs a folder (`a` and `a/index.html`).
    fn claim(&self, path: &str) -> Result<(), WriteError> {
        let mut state = self.state.lock().map_err(|_| poisoned(&self.dir))?;
        claim_in(&mut state, path)
    }

    /// Create the folder `rel` of the staging folder. In a reused folder a file may stand
    /// where a folder is now needed: it is removed (links were removed when the folder was
    /// taken, so nothing here leads outside it).
    fn make_dir(&self, rel: &str) -> Result<(), WriteError> {
        let dir = self.dir.join(rel);
        match fs::create_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(_) if !self.previous.is_empty() => {
                let mut at = self.dir.clone();
                for part in rel.split('/') {
                    at.push(part);
                    if at.symlink_metadata().is_ok_and(|m| !m.file_type().is_dir()) {
                        let _ = fs::remove_file(&at);
                    }
                }
                fs::create_dir_all(&dir).map_err(io_err(&dir))
            }
            Err(e) => Err(io_err(&dir)(e)),
        }
    }

    /// Make room for a new file at `rel`: whatever the reused folder had there is removed
    /// (a file is never written through: it may be a link to a kept file).
    fn clear(&self, rel: &str) -> Result<(), WriteError> {
        let target = self.dir.join(rel);
        match self.previous.get(rel) {
            None => Ok(()),
            Some(Found::Dir) => {
                remove_tree(&target);
                Ok(())
            }
            Some(Found::File { .. }) => match fs::remove_file(&target) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(io_err(&target)(e)),
            },
        }
    }

    /// Whether the reused folder already holds `file` itself at `rel` (the same inode on
    /// the same device: a hard link made by an earlier build), so nothing needs doing. `id`
    /// is the file `file` named when its owner checked it, if known (else it is looked at).
    fn holds_already(&self, rel: &str, file: &Path, id: Option<crate::output::FileId>) -> bool {
        let Some(Found::File { inode }) = self.previous.get(rel) else { return false };
        let id = id.or_else(|| fs::metadata(file).ok().map(|m| crate::output::FileId::of(&m)));
        id.is_some_and(|id| id.inode == *inode && id.device == self.device)
    }

    /// Remove what the reused folder had that this build did not write (`written`): files
    /// first, then the folders no new file is in (not in `folders`), deepest first.
    fn sweep(&self, written: &rustc_hash::FxHashSet<String>, folders: &rustc_hash::FxHashSet<String>) {
        if self.previous.is_empty() {
            return;
        }
        let stale: Vec<&String> = self
            .previous
            .iter()
            .filter(|(p, f)| matches!(f, Found::File { .. }) && !written.contains(p.as_str()) && p.as_str() != MANIFEST)
            .map(|(p, _)| p)
            .collect();
        stale.par_iter().for_each(|p| {
            let _ = fs::remove_file(self.dir.join(p));
        });
        let mut dirs: Vec<&String> =
            self.previous.iter().filter(|(p, f)| **f == Found::Dir && !folders.contains(p.as_str())).map(|(p, _)| p).collect();
        dirs.sort_by_key(|p| std::cmp::Reverse(p.matches('/').count()));
        for d in dirs {
            let _ = fs::remove_dir(self.dir.join(d));
        }
    }

    /// Sweep what a reused folder has that this build did not write, write the manifest and
    /// make the staging folder the output folder (atomically; the previous one kept for the
    /// next build or removed), or report the first problem and leave the output untouched.
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
        // With no error, every path claimed was written.
        self.sweep(&state.claimed, &state.folders);
        let entries: BTreeMap<String, manifest::Entry> = state.entries.into_iter().collect();
        let manifest_path = self.dir.join(MANIFEST);
        self.clear(MANIFEST)?;
        create_new(&manifest_path, manifest::Manifest::new(entries).to_json().as_bytes()).map_err(io_err(&manifest_path))?;
        swap_in(&self.dir, &self.output, self.keep.as_deref())?;
        self.finished = true;
        Ok(report)
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.finished {
            // A folder taken from `keep` goes back: a failed build's folder is as good a start
            // for the next build as any (every file but a kept one is written again).
            keep_or_remove(&self.dir, self.keep.as_deref().filter(|_| self.reused));
        }
    }
}

/// [`Staging::claim`] with the state locked.
fn claim_in(state: &mut StagingState, path: &str) -> Result<(), WriteError> {
    let conflict = || WriteError::Conflict(path.to_string());
    let folders = || path.match_indices('/').map(|(i, _)| &path[..i]);
    if state.claimed.contains(path) || state.folders.contains(path) || folders().any(|f| state.claimed.contains(f)) {
        return Err(conflict());
    }
    state.claimed.insert(path.to_string());
    // Deepest first: a folder already known has its own folders known too.
    for folder in folders().rev() {
        if state.folders.contains(folder) {
            break;
        }
        state.folders.insert(folder.to_string());
    }
    Ok(())
}

/// Move a replaced output (or an unfinished staging folder) to `keep` for the next build to
/// reuse, or remove it where there is no `keep` or it cannot go there.
fn keep_or_remove(dir: &Path, keep: Option<&Path>) {
    if let Some(keep) = keep {
        if let Some(parent) = keep.parent() {
            let _ = fs::create_dir_all(parent);
        }
        if fs::rename(dir, keep).is_ok() {
            return;
        }
    }
    remove_tree(dir);
}

/// Every entry of the folder `dir` (paths relative to it, `/`-separated, under `rel`),
/// subfolders in parallel. What the build never writes is removed on the way: symbolic
/// links (a reused folder must lead nowhere else), special files, names that are not UTF-8.
fn survey(dir: &Path, rel: &str) -> Vec<(String, Found)> {
    use std::os::unix::fs::DirEntryExt;
    let Ok(entries) = fs::read_dir(dir) else { return Vec::new() };
    let mut found = Vec::new();
    let mut folders = Vec::new();
    // The files of one folder in turn (a name each, nothing to look at); its folders in
    // parallel, each read with system calls of its own.
    for e in entries.flatten() {
        let kind = e.file_type().ok();
        let name = e.file_name();
        match (name.to_str(), kind) {
            (Some(name), Some(t)) if t.is_dir() || t.is_file() => {
                let mut path = String::with_capacity(rel.len() + 1 + name.len());
                if !rel.is_empty() {
                    path.push_str(rel);
                    path.push('/');
                }
                path.push_str(name);
                if t.is_dir() {
                    folders.push((e.path(), path));
                } else {
                    found.push((path, Found::File { inode: e.ino() }));
                }
            }
            (_, Some(t)) if t.is_dir() => remove_tree(&e.path()),
            _ => {
                let _ = fs::remove_file(e.path());
            }
        }
    }
    let below: Vec<Vec<(String, Found)>> = folders.par_iter().map(|(dir, rel)| survey(dir, rel)).collect();
    for ((_, rel), mut inner) in folders.into_iter().zip(below) {
        found.append(&mut inner);
        found.push((rel, Found::Dir));
    }
    found
}

/// Whether `path` or a folder on its way, below `root`, is a symbolic link.
fn through_link(path: &Path, root: &Path) -> bool {
    path.ancestors()
        .take_while(|a| *a != root && a.starts_with(root))
        .any(|a| a.symlink_metadata().is_ok_and(|m| m.file_type().is_symlink()))
}

fn device_of(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    fs::metadata(dir).map(|m| m.dev()).unwrap_or(u64::MAX)
}

/// Write a new file; never opens an existing one (it could be a link to a kept file).
fn create_new(target: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let mut f = fs::OpenOptions::new().write(true).create_new(true).open(target)?;
    f.write_all(bytes)
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

impl Staging {
    /// Write one file (minified if asked) and its compressed siblings (if asked and worth
    /// it), each sibling's path claimed first. A kept file the reused folder already holds
    /// at its path is left as it is.
    fn write_one(&self, path: &str, f: &OutputFile) -> Result<Written, WriteError> {
        let options = self.options;
        if let Contents::Linked { file, sha256, bytes, id } = &f.contents {
            // A kept file nothing transforms (an image): linked, not read. Else read as a copy.
            if !self.transforms(path, *bytes) {
                if !self.holds_already(path, file, *id) {
                    self.clear(path)?;
                    link_or_copy(file, &self.dir.join(path), *bytes)?;
                }
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
            let target = self.dir.join(&path);
            self.clear(&path)?;
            create_new(&target, bytes).map_err(io_err(&target))?;
            let entry = manifest::Entry { sha256: hex::encode(Sha256::digest(bytes)), bytes: bytes.len() as u64 };
            entries.push((path, entry));
            Ok(())
        };
        put(path.to_string(), &data)?;
        if options.precompress && compress::eligible(path, data.len()) {
            for (suffix, bytes) in compress::siblings(path, &data) {
                let sibling = format!("{path}.{suffix}");
                self.claim(&sibling)?;
                put(sibling, &bytes)?;
            }
        }
        Ok(Written { entries, bytes_before_minify, not_minified })
    }
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
/// keep the old one at `keep` (or remove it).
fn swap_in(staging: &Path, output: &Path, keep: Option<&Path>) -> Result<(), WriteError> {
    if !output.exists() {
        return fs::rename(staging, output).map_err(io_err(output));
    }
    if exchange(staging, output).is_ok() {
        // `staging` now holds the previous site.
        keep_or_remove(staging, keep);
        return Ok(());
    }
    let old = sibling(output, "old");
    fs::rename(output, &old).map_err(io_err(output))?;
    if let Err(e) = fs::rename(staging, output) {
        let _ = fs::rename(&old, output);
        return Err(WriteError::Io { path: output.to_path_buf(), source: e });
    }
    keep_or_remove(&old, keep);
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

    /// The three builds' files: a page, a kept file (a photo from the image cache) and a file
    /// the third build no longer has.
    #[cfg(unix)]
    fn reuse_build(out: &Path, root: &Path, keep: &Path, kept: &Path, page: &str, with_stale: bool) -> WriteReport {
        let staging = Staging::begin_reusing(out, root, WriteOptions::default(), keep).unwrap();
        staging.add(OutputFile::bytes("index.html", page));
        staging.add(OutputFile::linked("a/img.webp", kept.to_path_buf(), "ab".repeat(32), 5, None));
        if with_stale {
            staging.add(OutputFile::bytes("gone/old.html", "old"));
        }
        staging.finish().unwrap()
    }

    #[cfg(unix)]
    #[test]
    fn a_reused_folder_keeps_linked_files_in_place_and_rewrites_or_removes_the_rest() {
        use std::os::unix::fs::MetadataExt;
        let tmp = tempfile::tempdir().unwrap();
        let (out, root, keep) = (tmp.path().join("public"), tmp.path().join("site"), tmp.path().join("site/.cache/prev"));
        let kept = tmp.path().join("kept.webp");
        fs::write(&kept, b"photo").unwrap();
        reuse_build(&out, &root, &keep, &kept, "v1", true);
        assert!(!keep.exists(), "the first build replaced nothing");
        reuse_build(&out, &root, &keep, &kept, "v2", true);
        assert!(keep.join("gone/old.html").exists(), "the replaced output is kept");
        let changed = |p: &Path| fs::metadata(p).map(|m| (m.ino(), m.ctime(), m.ctime_nsec(), m.nlink())).unwrap();
        let before = changed(&kept);
        let report = reuse_build(&out, &root, &keep, &kept, "v3", false);
        // Linking or unlinking the photo would have changed its change time and link count.
        assert_eq!(changed(&kept), before, "the kept file was linked again");
        assert_eq!(fs::metadata(out.join("a/img.webp")).unwrap().ino(), fs::metadata(&kept).unwrap().ino());
        assert_eq!(fs::read_to_string(out.join("index.html")).unwrap(), "v3");
        assert!(!out.join("gone").exists(), "what the site no longer has is removed, folder and all");
        assert_eq!(report.files, 2);
        let listed: Vec<String> = manifest::Manifest::load(&out.join(MANIFEST)).unwrap().files.into_keys().collect();
        assert_eq!(listed, ["a/img.webp", "index.html"]);
        assert_eq!(fs::read_to_string(keep.join("index.html")).unwrap(), "v2", "the output just replaced waits for the next build");
        let mut beside: Vec<String> = fs::read_dir(tmp.path()).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        beside.sort();
        assert_eq!(beside, ["kept.webp", "public", "site"], "nothing left next to the output");
    }

    #[cfg(unix)]
    #[test]
    fn a_kept_file_is_recognised_by_the_id_its_owner_gives_device_and_inode_alike() {
        use std::os::unix::fs::MetadataExt;
        let tmp = tempfile::tempdir().unwrap();
        let (out, root, keep) = (tmp.path().join("public"), tmp.path().join("site"), tmp.path().join("prev"));
        let kept = tmp.path().join("kept.webp");
        fs::write(&kept, b"photo").unwrap();
        let id = crate::output::FileId::of(&fs::metadata(&kept).unwrap());
        let build = |id: crate::output::FileId| {
            let staging = Staging::begin_reusing(&out, &root, WriteOptions::default(), &keep).unwrap();
            staging.add(OutputFile::linked("img.webp", kept.clone(), "ab".repeat(32), 5, Some(id)));
            staging.finish().unwrap();
            fs::metadata(out.join("img.webp")).unwrap().ino()
        };
        build(id);
        build(id);
        let changed = || fs::metadata(&kept).map(|m| (m.ctime(), m.ctime_nsec(), m.nlink())).unwrap();
        let before = changed();
        assert_eq!(build(id), id.inode);
        assert_eq!(changed(), before, "held already: nothing linked");
        // The same inode number on another device is another file: linked again.
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(build(crate::output::FileId { device: id.device + 1, ..id }), id.inode);
        assert_ne!(changed(), before, "a file of another device was taken for the kept one");
    }

    #[cfg(unix)]
    #[test]
    fn a_reused_folder_is_never_written_through_and_leads_nowhere_else() {
        let tmp = tempfile::tempdir().unwrap();
        let (out, root, keep) = (tmp.path().join("public"), tmp.path().join("site"), tmp.path().join("prev"));
        let outside = tmp.path().join("outside.txt");
        let elsewhere = tmp.path().join("elsewhere");
        fs::create_dir_all(&elsewhere).unwrap();
        fs::write(&outside, "not ours").unwrap();
        // A folder left as someone may have left it: a page hard-linked to a file outside, a
        // link to a folder outside, a folder where a file now goes and a file where a folder does.
        fs::create_dir_all(keep.join("b")).unwrap();
        fs::write(keep.join("b/x.txt"), "x").unwrap();
        fs::hard_link(&outside, keep.join("index.html")).unwrap();
        std::os::unix::fs::symlink(&elsewhere, keep.join("venues")).unwrap();
        fs::write(keep.join("c"), "a file").unwrap();
        fs::write(keep.join("d.txt"), "stale").unwrap();
        let staging = Staging::begin_reusing(&out, &root, WriteOptions::default(), &keep).unwrap();
        assert!(!keep.exists(), "taken by the build");
        staging.add_all(vec![
            OutputFile::bytes("index.html", "new page"),
            OutputFile::bytes("venues/x/index.html", "venue"),
            OutputFile::bytes("b", "now a file"),
            OutputFile::bytes("c/index.html", "now a folder"),
        ]);
        staging.finish().unwrap();
        assert_eq!(fs::read_to_string(&outside).unwrap(), "not ours");
        assert_eq!(fs::read_dir(&elsewhere).unwrap().count(), 0);
        assert!(!out.join("venues").symlink_metadata().unwrap().file_type().is_symlink());
        assert_eq!(fs::read_to_string(out.join("index.html")).unwrap(), "new page");
        assert_eq!(fs::read_to_string(out.join("venues/x/index.html")).unwrap(), "venue");
        assert_eq!(fs::read_to_string(out.join("b")).unwrap(), "now a file");
        assert_eq!(fs::read_to_string(out.join("c/index.html")).unwrap(), "now a folder");
        assert!(!out.join("d.txt").exists());
    }

    #[cfg(unix)]
    #[test]
    fn a_failed_build_on_a_reused_folder_leaves_the_output_and_the_next_build_is_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let (out, root, keep) = (tmp.path().join("public"), tmp.path().join("site"), tmp.path().join("prev"));
        let kept = tmp.path().join("kept.webp");
        fs::write(&kept, b"photo").unwrap();
        reuse_build(&out, &root, &keep, &kept, "v1", true);
        reuse_build(&out, &root, &keep, &kept, "v2", true);
        let staging = Staging::begin_reusing(&out, &root, WriteOptions::default(), &keep).unwrap();
        staging.add(OutputFile::bytes("index.html", "broken"));
        staging.add(OutputFile::bytes("index.html", "twice"));
        assert!(matches!(staging.finish(), Err(WriteError::Conflict(_))));
        assert_eq!(fs::read_to_string(out.join("index.html")).unwrap(), "v2", "the output is untouched");
        assert!(out.join("gone/old.html").exists());
        reuse_build(&out, &root, &keep, &kept, "v3", false);
        assert_eq!(fs::read_to_string(out.join("index.html")).unwrap(), "v3");
        assert!(!out.join("gone").exists());
    }

    #[test]
    fn a_failed_first_build_leaves_nothing_and_a_site_without_kept_files_reuses_too() {
        let tmp = tempfile::tempdir().unwrap();
        let (out, root, keep) = (tmp.path().join("public"), tmp.path().join("site"), tmp.path().join("site/.cache/prev"));
        let staging = Staging::begin_reusing(&out, &root, WriteOptions::default(), &keep).unwrap();
        staging.add(OutputFile::bytes("index.html", "broken"));
        drop(staging);
        assert!(!root.exists() && !out.exists(), "a failed build with nothing to reuse leaves nothing");
        for page in ["1", "2", "3"] {
            let staging = Staging::begin_reusing(&out, &root, WriteOptions::default(), &keep).unwrap();
            staging.add(OutputFile::bytes(format!("p{page}/index.html"), page));
            staging.finish().unwrap();
        }
        assert_eq!(fs::read_to_string(keep.join("p2/index.html")).unwrap(), "2");
        assert!(!out.join("p1").exists() && !out.join("p2").exists(), "stale pages swept");
        assert_eq!(fs::read_to_string(out.join("p3/index.html")).unwrap(), "3");
    }

    #[cfg(unix)]
    #[test]
    fn a_keep_folder_reached_through_a_link_is_not_used() {
        let tmp = tempfile::tempdir().unwrap();
        let (out, root, elsewhere) = (tmp.path().join("public"), tmp.path().join("site"), tmp.path().join("elsewhere"));
        fs::create_dir_all(elsewhere.join("prev")).unwrap();
        fs::write(elsewhere.join("prev/mine.txt"), "not kepu's").unwrap();
        fs::create_dir_all(&root).unwrap();
        std::os::unix::fs::symlink(&elsewhere, root.join(".cache")).unwrap();
        for page in ["1", "2", "3"] {
            let staging = Staging::begin_reusing(&out, &root, WriteOptions::default(), &root.join(".cache/prev")).unwrap();
            staging.add(OutputFile::bytes("index.html", page));
            staging.finish().unwrap();
        }
        let names: Vec<_> = fs::read_dir(elsewhere.join("prev")).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(names, ["mine.txt"]);
        assert_eq!(fs::read_to_string(out.join("index.html")).unwrap(), "3");
        assert!(!out.join("mine.txt").exists());
    }

    #[test]
    fn a_keep_folder_inside_the_output_is_not_used() {
        let tmp = tempfile::tempdir().unwrap();
        let (out, root) = (tmp.path().join("public"), tmp.path().join("site"));
        for page in ["1", "2", "3"] {
            let staging = Staging::begin_reusing(&out, &root, WriteOptions::default(), &out.join("prev")).unwrap();
            staging.add(OutputFile::bytes("index.html", page));
            staging.finish().unwrap();
        }
        let names: Vec<_> = fs::read_dir(&out).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(names.len(), 2, "{names:?}: the page and the manifest");
    }

    #[test]
    fn a_file_where_another_output_needs_a_folder_is_a_conflict() {
        for order in [["a", "a/index.html"], ["a/index.html", "a"]] {
            let tmp = tempfile::tempdir().unwrap();
            let files = order.iter().map(|p| OutputFile::bytes(*p, "x")).collect();
            let err = write_site(&tmp.path().join("public"), &tmp.path().join("s"), files);
            assert!(matches!(err, Err(WriteError::Conflict(_))), "{order:?}: {err:?}");
        }
    }

    #[test]
    fn output_containing_the_site_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_site(dir.path(), &dir.path().join("site"), vec![]);
        assert!(matches!(err, Err(WriteError::DangerousOutput(_))));
    }
}
