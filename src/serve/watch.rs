//! Watching the site's sources (notify) and turning bursts of file events into one
//! [`ChangeSet`] each.
//!
//! Watched: `content/`, `static/`, `templates/` and `themes/` (recursively) and the site
//! root itself (not recursively: `config.toml`, and those folders appearing), and the data
//! files the templates read with `load_data` ([`DataFiles`]: `data/venues.csv`; a change to one
//! is a change of the assets). Never the output folder.
//!
//! Debounce: a batch is sent once no relevant event has arrived for the quiet period (at most
//! [`MAX_WAIT`] after the first one), so an editor's save — often a backup, a temporary file,
//! a rename and a write within a few milliseconds — or a `git checkout` touching fifty files
//! is one rebuild. (notify-debouncer-full was considered: it expires events per path and
//! kind, so a burst across several files can be split into several rebuilds, and it adds file
//! id tracking serve does not need.) Editors' temporary and swap files are ignored.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use notify::event::{AccessKind, AccessMode};
use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher};

use super::incremental::ChangeSet;
use super::ServeError;

/// Quiet time after the last event before rebuilding.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(30);
/// Longest a batch waits while events keep coming.
pub const MAX_WAIT: Duration = Duration::from_millis(1000);

/// Folders under the site root that hold sources.
pub const SOURCE_DIRS: [&str; 4] = ["content", "static", "templates", "themes"];

/// What the watcher sends to the rebuild loop.
#[derive(Debug)]
pub enum Batch {
    Changes(ChangeSet),
    Error(String),
}

/// Keeps the watcher alive; dropping it stops watching and closes the batch channel.
pub struct WatchHandle {
    _watcher: Arc<Mutex<RecommendedWatcher>>,
    data: DataFiles,
}

impl WatchHandle {
    /// Where to say which data files the templates read (after each rebuild).
    pub fn data_files(&self) -> DataFiles {
        self.data.clone()
    }
}

/// The data files `load_data` reads (absolute paths), shared with the watcher: an event on one
/// is a change of the assets wherever the file is. Their folders outside the source folders
/// (`data/`) are watched too, not recursively.
#[derive(Clone)]
pub struct DataFiles {
    root: PathBuf,
    files: Arc<Mutex<HashSet<PathBuf>>>,
    watcher: Weak<Mutex<RecommendedWatcher>>,
    folders: Arc<Mutex<HashSet<PathBuf>>>,
}

impl DataFiles {
    fn new(root: &Path, watcher: Weak<Mutex<RecommendedWatcher>>) -> Self {
        DataFiles { root: root.to_path_buf(), files: Default::default(), watcher, folders: Default::default() }
    }

    /// The data files the last build read, with paths under `root` (as given to the build).
    pub fn set(&self, files: Vec<PathBuf>, root: &Path) {
        let canonical = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
        let files: HashSet<PathBuf> = files
            .into_iter()
            .map(|f| match f.strip_prefix(root) {
                Ok(rel) => self.root.join(rel),
                Err(_) => f.strip_prefix(&canonical).map(|rel| self.root.join(rel)).unwrap_or(f),
            })
            .collect();
        if let Some(w) = self.watcher.upgrade() {
            let mut folders = self.folders.lock().unwrap_or_else(|e| e.into_inner());
            for f in &files {
                let Some(dir) = f.parent() else { continue };
                let inside_sources = dir.strip_prefix(&self.root).ok().and_then(|r| r.components().next()).is_some_and(|top| {
                    SOURCE_DIRS.contains(&top.as_os_str().to_string_lossy().as_ref())
                });
                if dir == self.root || inside_sources || folders.contains(dir) || !dir.is_dir() {
                    continue;
                }
                if w.lock().unwrap_or_else(|e| e.into_inner()).watch(dir, RecursiveMode::NonRecursive).is_ok() {
                    folders.insert(dir.to_path_buf());
                }
            }
        }
        *self.files.lock().unwrap_or_else(|e| e.into_inner()) = files;
    }

    fn contains(&self, path: &Path) -> bool {
        self.files.lock().unwrap_or_else(|e| e.into_inner()).contains(path)
    }

    /// Whether a data file is inside the folder `dir` (which appeared: its files can be read now).
    fn any_under(&self, dir: &Path) -> bool {
        self.files.lock().unwrap_or_else(|e| e.into_inner()).iter().any(|f| f.starts_with(dir))
    }
}

/// Is this file name an editor's temporary, swap or backup file (or hidden)?
pub fn is_editor_temp(name: &str) -> bool {
    crate::load::is_ignored(name)
        || name.ends_with(".kate-swp")
        || name.ends_with("___jb_tmp___")
        || name.ends_with("___jb_old___")
        || name.ends_with(".crswap")
        || name.starts_with("~$")
        || (!name.is_empty() && name.bytes().all(|b| b.is_ascii_digit())) // vim's `4913` probe
}

/// Start watching `root`. Batches arrive on the returned channel until the handle is
/// dropped.
pub fn watch(root: &Path, quiet: Duration) -> Result<(WatchHandle, Receiver<Batch>), ServeError> {
    let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let (raw_tx, raw_rx) = mpsc::channel::<notify::Result<Event>>();
    let watcher = notify::recommended_watcher(move |e| {
        let _ = raw_tx.send(e);
    })
    .map_err(|source| ServeError::Watch { path: root.clone(), source })?;
    let watcher = Arc::new(Mutex::new(watcher));
    {
        let mut w = watcher.lock().unwrap_or_else(|e| e.into_inner());
        w.watch(&root, RecursiveMode::NonRecursive).map_err(|source| ServeError::Watch { path: root.clone(), source })?;
        for dir in SOURCE_DIRS {
            let p = root.join(dir);
            if p.is_dir() {
                w.watch(&p, RecursiveMode::Recursive).map_err(|source| ServeError::Watch { path: p.clone(), source })?;
            }
        }
    }
    let (tx, rx) = mpsc::channel();
    let weak = Arc::downgrade(&watcher);
    let data = DataFiles::new(&root, weak.clone());
    let seen = data.clone();
    std::thread::Builder::new()
        .name("kepu-watch".into())
        .spawn(move || debounce(&root, quiet, raw_rx, tx, weak, &seen))
        .map_err(ServeError::Runtime)?;
    Ok((WatchHandle { _watcher: watcher, data }, rx))
}

fn debounce(
    root: &Path,
    quiet: Duration,
    raw: Receiver<notify::Result<Event>>,
    out: mpsc::Sender<Batch>,
    watcher: Weak<Mutex<RecommendedWatcher>>,
    data: &DataFiles,
) {
    // Ends when the watcher (and with it the raw sender) is dropped.
    while let Ok(first) = raw.recv() {
        let mut set = ChangeSet::default();
        let mut errors = Vec::new();
        if !absorb(root, first, &mut set, &mut errors, &watcher, data) {
            continue;
        }
        let started = Instant::now();
        loop {
            let wait = quiet.min(MAX_WAIT.saturating_sub(started.elapsed()));
            if wait.is_zero() {
                break;
            }
            match raw.recv_timeout(wait) {
                Ok(e) => {
                    absorb(root, e, &mut set, &mut errors, &watcher, data);
                }
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
        for e in errors {
            if out.send(Batch::Error(e)).is_err() {
                return;
            }
        }
        if !set.is_empty() && out.send(Batch::Changes(set)).is_err() {
            return;
        }
    }
}

/// Fold one event into `set`; true if it matters to the site.
fn absorb(
    root: &Path,
    event: notify::Result<Event>,
    set: &mut ChangeSet,
    errors: &mut Vec<String>,
    watcher: &Weak<Mutex<RecommendedWatcher>>,
    data: &DataFiles,
) -> bool {
    let event = match event {
        Ok(e) => e,
        Err(e) => {
            errors.push(e.to_string());
            set.rescan = true;
            set.assets = true;
            set.config = true;
            return true;
        }
    };
    if event.need_rescan() {
        *set = ChangeSet { config: true, assets: true, rescan: true, content: std::mem::take(&mut set.content) };
        return true;
    }
    if matches!(event.kind, EventKind::Access(a) if a != AccessKind::Close(AccessMode::Write)) {
        return false;
    }
    let mut relevant = false;
    for path in &event.paths {
        relevant |= classify(root, path, &event.kind, set, watcher, data);
    }
    relevant
}

fn classify(
    root: &Path,
    path: &Path,
    kind: &EventKind,
    set: &mut ChangeSet,
    watcher: &Weak<Mutex<RecommendedWatcher>>,
    data: &DataFiles,
) -> bool {
    let Ok(rel) = path.strip_prefix(root) else { return false };
    if data.contains(path) {
        // Read by templates: re-read with the assets (a bundle's CSV is its page's file too).
        set.assets = true;
        if rel.starts_with("content") {
            set.content.insert(path.to_path_buf());
        }
        return true;
    }
    let mut parts = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned());
    let Some(top) = parts.next() else { return false };
    let rest: Vec<String> = parts.collect();
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if rest.is_empty() {
        // Directly in the root: config.toml, or a source folder appearing or going.
        if crate::config::FILE_NAMES.contains(&top.as_str()) {
            set.config = true;
            return true;
        }
        if SOURCE_DIRS.contains(&top.as_str()) {
            if path.is_dir() && matches!(kind, EventKind::Create(_) | EventKind::Modify(notify::event::ModifyKind::Name(_))) {
                if let Some(w) = watcher.upgrade() {
                    let _ = w.lock().unwrap_or_else(|e| e.into_inner()).watch(path, RecursiveMode::Recursive);
                }
            }
            if top == "content" {
                set.rescan = true;
            } else {
                set.assets = true;
            }
            return true;
        }
        if data.any_under(path) {
            // A data file's folder appeared (`data/`): read again, and watch it from then on.
            set.assets = true;
            return true;
        }
        return false;
    }
    if !SOURCE_DIRS.contains(&top.as_str()) || is_editor_temp(&name) {
        return false;
    }
    if top == "content" {
        set.content.insert(path.to_path_buf());
    } else {
        set.assets = true;
    }
    true
}

/// A path's batch, for tests: classify `paths` as the watcher would.
pub fn classify_paths(root: &Path, paths: &[PathBuf]) -> ChangeSet {
    classify_paths_with_data(root, paths, Vec::new())
}

/// [`classify_paths`] with `data_files` read by the templates (as [`DataFiles::set`] is told).
pub fn classify_paths_with_data(root: &Path, paths: &[PathBuf], data_files: Vec<PathBuf>) -> ChangeSet {
    let data = DataFiles::new(root, Weak::new());
    data.set(data_files, root);
    let mut set = ChangeSet::default();
    for p in paths {
        classify(root, p, &EventKind::Any, &mut set, &Weak::new(), &data);
    }
    set
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn editor_files_are_ignored() {
        for n in ["4913", ".page.md.swp", "page.md~", "#page.md#", "page.md.kate-swp", "x.md___jb_tmp___", "~$doc.md", ".#page.md"] {
            assert!(is_editor_temp(n), "{n}");
        }
        assert!(!is_editor_temp("zheng-zhou-ke-ji-guan.md"));
        assert!(!is_editor_temp("2024.md"));
    }

    #[test]
    fn paths_are_sorted_into_what_they_change() {
        let root = Path::new("/site");
        let set = classify_paths(
            root,
            &[
                "/site/content/venues/a.md".into(),
                "/site/content/venues/.a.md.swp".into(),
                "/site/public/index.html".into(),
                "/site/.git/index".into(),
            ],
        );
        assert_eq!(set.content.len(), 1);
        assert!(!set.config && !set.assets && !set.rescan);
        let set = classify_paths(root, &["/site/config.toml".into(), "/site/templates/page.html".into()]);
        assert!(set.config && set.assets && set.content.is_empty());
        assert!(classify_paths(root, &["/site/public/x.html".into(), "/site/README.md".into()]).is_empty());
    }
}
