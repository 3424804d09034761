//! The persistent image cache: `.kepu-cache/images/` in the site folder (safe to delete).
//!
//! An entry is one encoded file named by the SHA-256 of the source's content hash, the
//! operation, the encoder settings and [`KEY_VERSION`]: an unchanged image with unchanged
//! settings is never encoded again, whichever page or build asks for it (`kepu serve` uses
//! the same folder). Each entry is written to a temporary file and renamed, so a killed
//! build never leaves half a file under a valid name. [`Cache::prune`] removes what the
//! last build did not use.
//!
//! Entries are read-only and never written again in place (a new version is a new file
//! renamed over the name), so the write stage can hard-link them into the output instead of
//! copying them. [`ENTRIES_FILE`] remembers each entry's content digest and its identity
//! (size, modification time, inode) when written: a warm build lists entries in the manifest
//! without reading them, and an entry that changed since (a file in `public/` sharing it,
//! rewritten in place by some tool, as root ignores the read-only bit) no longer matches and
//! is encoded again instead of being published.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{Format, ImageError, Request};

/// Bumped when the pipeline's output changes for the same settings (a new resizer, say), so
/// that old entries are not served for new builds.
pub const KEY_VERSION: &str = "kepu-images-1";

/// The cache folder's name under the site root.
pub const CACHE_DIR: &str = ".kepu-cache";

/// The file in the images folder recording each entry's digest and identity (one line each).
pub const ENTRIES_FILE: &str = "entries.tsv";

/// The key of `request` on a source with content hash `source_hash`.
pub fn key(source_hash: &str, request: &Request) -> String {
    let text = format!("{KEY_VERSION}\n{source_hash}\n{}\n{}", request.op.key(), request.encoding.key());
    hex::encode(<sha2::Sha256 as sha2::Digest>::digest(text.as_bytes()))
}

/// One entry found or written: its file and what the write stage needs to know of it
/// without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub file: PathBuf,
    /// SHA-256 of the file's bytes, hex.
    pub sha256: String,
    pub bytes: u64,
    /// The file `file` named when it was checked.
    pub id: crate::output::FileId,
}

/// What was recorded of an entry when it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Recorded {
    identity: Identity,
    sha256: String,
}

/// What tells an entry was rewritten: size, modification time and inode. (Not the change
/// time: linking the entry into the output changes it.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Identity {
    len: u64,
    mtime_ns: i128,
    inode: u64,
}

impl Identity {
    fn of(path: &Path) -> Option<Identity> {
        Identity::with_id(path).map(|(identity, _)| identity)
    }

    /// The identity and the file's device and inode, from one look at it.
    fn with_id(path: &Path) -> Option<(Identity, crate::output::FileId)> {
        use std::os::unix::fs::MetadataExt;
        // Not following links: an entry is a regular file the cache wrote.
        let m = std::fs::symlink_metadata(path).ok().filter(|m| m.is_file())?;
        let identity = Identity {
            len: m.len(),
            mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
            inode: m.ino(),
        };
        Some((identity, crate::output::FileId::of(&m)))
    }
}

/// The cache of one site.
#[derive(Debug)]
pub struct Cache {
    dir: PathBuf,
    /// File names used since [`Cache::open`] (found or written).
    used: Mutex<HashSet<String>>,
    /// Entries by file name, as recorded when written (loaded from [`ENTRIES_FILE`]).
    recorded: Mutex<HashMap<String, Recorded>>,
    /// Whether `recorded` changed since it was loaded or last saved (a warm build changes
    /// nothing, and saves nothing).
    dirty: std::sync::atomic::AtomicBool,
}

impl Cache {
    /// The cache under `root` (created on first write).
    pub fn open(root: &Path) -> Cache {
        let dir = root.join(CACHE_DIR).join("images");
        let recorded = std::fs::read_to_string(dir.join(ENTRIES_FILE)).map(|t| parse_recorded(&t)).unwrap_or_default();
        Cache { dir, used: Mutex::default(), recorded: Mutex::new(recorded), dirty: Default::default() }
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

    /// The entry, if present and unchanged since it was written. An entry whose identity
    /// differs from its record (the cache copied or restored elsewhere, or the file rewritten)
    /// is read and kept only if its bytes still have the recorded digest. An entry without a
    /// record (written by an older kepu, or its record lost) or with other bytes counts as
    /// absent: it is encoded again and replaced.
    pub fn get(&self, key: &str, format: Format) -> Option<Stored> {
        let name = Self::name(key, format);
        let path = self.dir.join(&name);
        let (identity, id) = Identity::with_id(&path)?;
        let (sha256, same) = {
            let recorded = self.recorded.lock().ok()?;
            let r = recorded.get(&name)?;
            (r.sha256.clone(), identity == r.identity)
        };
        if !same {
            let bytes = std::fs::read(&path).ok()?;
            if hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)) != sha256 || Identity::of(&path)? != identity {
                return None;
            }
            if let Ok(mut recorded) = self.recorded.lock() {
                recorded.insert(name.clone(), Recorded { identity, sha256: sha256.clone() });
                self.dirty.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
        self.mark(name);
        Some(Stored { file: path, sha256, bytes: identity.len, id })
    }

    /// Store an entry (read-only); returns it.
    pub fn put(&self, key: &str, format: Format, bytes: &[u8]) -> Result<Stored, ImageError> {
        let name = Self::name(key, format);
        // Unique per thread and process, so parallel builds of one site never share a file.
        let tmp = format!(".{name}.{}.{:?}.tmp", std::process::id(), std::thread::current().id());
        let path = self.write_file(&name, &tmp, bytes, true)?;
        let (identity, id) =
            Identity::with_id(&path).ok_or_else(|| ImageError::Cache { why: format!("{}: vanished after writing", path.display()) })?;
        let sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes));
        if let Ok(mut recorded) = self.recorded.lock() {
            recorded.insert(name.clone(), Recorded { identity, sha256: sha256.clone() });
            self.dirty.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        self.mark(name);
        Ok(Stored { file: path, sha256, bytes: bytes.len() as u64, id })
    }

    /// Write `bytes` to `tmp` and rename it to `name` (never writing into an existing file,
    /// which the output may share); read-only if `read_only`.
    fn write_file(&self, name: &str, tmp: &str, bytes: &[u8], read_only: bool) -> Result<PathBuf, ImageError> {
        let failed = |e: std::io::Error| ImageError::Cache { why: format!("{}: {e}", self.dir.display()) };
        self.refuse_links()?;
        std::fs::create_dir_all(&self.dir).map_err(failed)?;
        let path = self.dir.join(name);
        let tmp = self.dir.join(tmp);
        let _ = std::fs::remove_file(&tmp); // left by a killed build of the same pid, read-only
        std::fs::write(&tmp, bytes).map_err(failed)?;
        if read_only {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o444)).map_err(failed)?;
        }
        std::fs::rename(&tmp, &path).map_err(failed)?;
        Ok(path)
    }

    /// The cache writes and deletes files in its folder: a symbolic link there (a site
    /// checked out with `.kepu-cache` linking elsewhere) would have it delete files of the
    /// link's target. Refused, never followed.
    fn refuse_links(&self) -> Result<(), ImageError> {
        for dir in [Some(self.dir.as_path()), self.dir.parent()].into_iter().flatten() {
            if dir.symlink_metadata().is_ok_and(|m| m.file_type().is_symlink()) {
                return Err(ImageError::CacheLink { path: dir.to_path_buf() });
            }
        }
        Ok(())
    }

    /// Store a file of the cache's own (not an entry), kept by [`Cache::prune`]. Left alone
    /// when it already holds `bytes` (a warm build: the records did not change).
    pub fn put_named(&self, name: &str, bytes: &[u8]) -> Result<(), ImageError> {
        let unchanged = std::fs::read(self.dir.join(name)).is_ok_and(|old| old == bytes);
        if !unchanged {
            self.write_file(name, &format!(".{name}.{}.tmp", std::process::id()), bytes, false)?;
        }
        self.mark(name.to_string());
        Ok(())
    }

    /// Keep the cache's own file `name` through [`Cache::prune`] without writing it.
    pub fn keep_named(&self, name: &str) {
        self.mark(name.to_string());
    }

    /// Save the records of every entry known: used since the cache was opened or recorded
    /// before (a build that fails before its images are all asked for must not make the next
    /// one encode again what it never got to). [`Cache::prune`] forgets the unused ones.
    pub fn save_records(&self) -> Result<(), ImageError> {
        if !self.dirty.swap(false, std::sync::atomic::Ordering::Relaxed) {
            // Unchanged since loaded or saved: the file on disk says it already (kept by prune).
            self.mark(ENTRIES_FILE.to_string());
            return Ok(());
        }
        let Ok(recorded) = self.recorded.lock() else { return Ok(()) };
        let mut lines: Vec<String> = recorded
            .iter()
            .map(|(name, r)| format!("{name}\t{}\t{}\t{}\t{}\n", r.identity.len, r.identity.mtime_ns, r.identity.inode, r.sha256))
            .collect();
        drop(recorded);
        if lines.is_empty() && !self.dir.exists() {
            return Ok(());
        }
        lines.sort();
        self.put_named(ENTRIES_FILE, lines.concat().as_bytes())
    }

    /// Delete every entry not used since the cache was opened, and left-over temporary files,
    /// and forget their records (saved by the caller, [`super::Pipeline::prune`], with the
    /// sources). Returns how many files were removed. Only a whole build should prune
    /// (`kepu build`).
    pub fn prune(&self) -> std::io::Result<usize> {
        self.refuse_links().map_err(|e| std::io::Error::other(e.to_string()))?;
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
        if let Ok(mut recorded) = self.recorded.lock() {
            let before = recorded.len();
            recorded.retain(|name, _| used.contains(name));
            if recorded.len() != before {
                self.dirty.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
        Ok(removed)
    }
}

/// Parse [`ENTRIES_FILE`]; lines that do not parse are skipped (their entries are encoded
/// again).
fn parse_recorded(text: &str) -> HashMap<String, Recorded> {
    let mut out = HashMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let [name, len, mtime, inode, sha256] = f[..] else { continue };
        let (Ok(len), Ok(mtime_ns), Ok(inode)) = (len.parse(), mtime.parse(), inode.parse()) else { continue };
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) || name.contains('/') {
            continue;
        }
        out.insert(name.to_string(), Recorded { identity: Identity { len, mtime_ns, inode }, sha256: sha256.to_string() });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::{Encoding, Operation};

    fn request() -> Request {
        Request { op: Operation::FitWidth(400), encoding: Encoding { format: Format::Webp, quality: 75 } }
    }

    #[test]
    fn an_entry_is_read_only_and_known_without_reading_it_after_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path());
        let k = key("abc", &request());
        let stored = cache.put(&k, Format::Webp, b"RIFF....WEBP").unwrap();
        assert_eq!(stored.bytes, 12);
        assert_eq!(stored.sha256, hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"RIFF....WEBP")));
        assert!(std::fs::metadata(&stored.file).unwrap().permissions().readonly());
        cache.save_records().unwrap();
        let again = Cache::open(dir.path());
        assert_eq!(again.get(&k, Format::Webp), Some(stored.clone()));
        // A second put replaces the file (a new inode), never writing into the old one.
        let old_inode = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&stored.file).unwrap());
        again.put(&k, Format::Webp, b"RIFF....WEBP").unwrap();
        assert_ne!(std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&stored.file).unwrap()), old_inode);
    }

    #[test]
    fn unchanged_records_are_not_written_again() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path());
        let k = key("abc", &request());
        cache.put(&k, Format::Webp, b"RIFF....WEBP").unwrap();
        cache.save_records().unwrap();
        let file = cache.dir().join(ENTRIES_FILE);
        let inode = std::fs::metadata(&file).unwrap().ino();
        let warm = Cache::open(dir.path());
        assert!(warm.get(&k, Format::Webp).is_some());
        warm.save_records().unwrap();
        assert_eq!(std::fs::metadata(&file).unwrap().ino(), inode, "the same records were written again");
        warm.put(&key("other", &request()), Format::Webp, b"RIFF..2.WEBP").unwrap();
        warm.save_records().unwrap();
        assert_ne!(std::fs::metadata(&file).unwrap().ino(), inode, "new records are written");
        assert_eq!(std::fs::read_to_string(&file).unwrap().lines().count(), 2);
    }

    #[test]
    fn an_entry_rewritten_in_place_or_without_a_record_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path());
        let k = key("abc", &request());
        let stored = cache.put(&k, Format::Webp, b"RIFF....WEBP").unwrap();
        cache.save_records().unwrap();
        // Through a hard link, as a file of public/ sharing the entry would be (root ignores
        // the read-only bit).
        let link = dir.path().join("public-copy.webp");
        std::fs::hard_link(&stored.file, &link).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&link, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::write(&link, b"edited in place").unwrap();
        assert_eq!(Cache::open(dir.path()).get(&k, Format::Webp), None);
        // A copy of the cache elsewhere (new inodes, new times) is checked against the
        // recorded digests, and kept.
        let elsewhere = tempfile::tempdir().unwrap();
        let moved = Cache::open(elsewhere.path());
        std::fs::create_dir_all(moved.dir()).unwrap();
        let k2 = key("def", &request());
        let kept = cache.put(&k2, Format::Webp, b"RIFF..2.WEBP").unwrap();
        cache.save_records().unwrap();
        for name in [ENTRIES_FILE.to_string(), format!("{k2}.webp"), format!("{k}.webp")] {
            std::fs::copy(cache.dir().join(&name), moved.dir().join(&name)).unwrap();
        }
        let moved = Cache::open(elsewhere.path());
        assert_eq!(moved.get(&k2, Format::Webp).map(|s| s.sha256), Some(kept.sha256));
        assert_eq!(moved.get(&k, Format::Webp), None, "the edited entry, copied, is still refused");
        // No record at all: a miss too.
        std::fs::remove_file(cache.dir().join(ENTRIES_FILE)).unwrap();
        let fresh = Cache::open(dir.path());
        assert_eq!(fresh.get(&k, Format::Webp), None);
    }
}
