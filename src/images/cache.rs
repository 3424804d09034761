//! The persistent image cache: `.kepu-cache/images/` in the site folder (safe to delete).
//!
//! An entry is one encoded file named by the SHA-256 of the source's content hash, the
//! operation, the encoder settings and [`KEY_VERSION`]: an unchanged image with unchanged
//! settings is never encoded again, whichever page or build asks for it (`kepu serve` uses
//! the same folder). Each entry is written to a temporary file and renamed, so a killed
//! build never leaves half a file under a valid name. [`Cache::prune`] removes what the
//! last build did not use.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{Format, ImageError, Request};

/// Bumped when the pipeline's output changes for the same settings (a new resizer, say), so
/// that old entries are not served for new builds.
pub const KEY_VERSION: &str = "kepu-images-1";

/// The cache folder's name under the site root.
pub const CACHE_DIR: &str = ".kepu-cache";

/// The key of `request` on a source with content hash `source_hash`.
pub fn key(source_hash: &str, request: &Request) -> String {
    let text = format!("{KEY_VERSION}\n{source_hash}\n{}\n{}", request.op.key(), request.encoding.key());
    hex::encode(<sha2::Sha256 as sha2::Digest>::digest(text.as_bytes()))
}

/// The cache of one site.
#[derive(Debug)]
pub struct Cache {
    dir: PathBuf,
    /// File names used since [`Cache::open`] (found or written).
    used: Mutex<HashSet<String>>,
}

impl Cache {
    /// The cache under `root` (created on first write).
    pub fn open(root: &Path) -> Cache {
        Cache { dir: root.join(CACHE_DIR).join("images"), used: Mutex::default() }
    }

    /// The folder entries live in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn name(key: &str, format: Format) -> String {
        format!("{key}.{}", format.extension())
    }

    fn mark(&self, name: String) {
        if let Ok(mut used) = self.used.lock() {
            used.insert(name);
        }
    }

    /// The entry's file, if present.
    pub fn get(&self, key: &str, format: Format) -> Option<PathBuf> {
        let name = Self::name(key, format);
        let path = self.dir.join(&name);
        path.is_file().then(|| {
            self.mark(name);
            path
        })
    }

    /// Store an entry; returns its file.
    pub fn put(&self, key: &str, format: Format, bytes: &[u8]) -> Result<PathBuf, ImageError> {
        let failed = |e: std::io::Error| ImageError::Cache { why: format!("{}: {e}", self.dir.display()) };
        std::fs::create_dir_all(&self.dir).map_err(failed)?;
        let name = Self::name(key, format);
        let path = self.dir.join(&name);
        // Unique per thread and process, so parallel builds of one site never share a file.
        let tmp = self.dir.join(format!(".{name}.{}.{:?}.tmp", std::process::id(), std::thread::current().id()));
        std::fs::write(&tmp, bytes).map_err(failed)?;
        std::fs::rename(&tmp, &path).map_err(failed)?;
        self.mark(name);
        Ok(path)
    }

    /// Store a file of the cache's own (not an entry), kept by [`Cache::prune`].
    pub fn put_named(&self, name: &str, bytes: &[u8]) -> Result<(), ImageError> {
        let failed = |e: std::io::Error| ImageError::Cache { why: format!("{}: {e}", self.dir.display()) };
        std::fs::create_dir_all(&self.dir).map_err(failed)?;
        let tmp = self.dir.join(format!(".{name}.{}.tmp", std::process::id()));
        std::fs::write(&tmp, bytes).map_err(failed)?;
        std::fs::rename(&tmp, self.dir.join(name)).map_err(failed)?;
        self.mark(name.to_string());
        Ok(())
    }

    /// Delete every entry not used since the cache was opened, and left-over temporary files.
    /// Returns how many files were removed. Only a whole build should prune (`kepu build`).
    pub fn prune(&self) -> std::io::Result<usize> {
        let used = self.used.lock().map(|u| u.clone()).unwrap_or_default();
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        let mut removed = 0;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !used.contains(&name) && entry.file_type().is_ok_and(|t| t.is_file()) {
                std::fs::remove_file(entry.path())?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}
