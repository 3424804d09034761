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

use rustc_hash::{FxHashMap, FxHashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{Format, ImageError, Request};

/// Bumped when the pipeline's output changes for the same settings (a new resizer, say), so
/// that old entries are not served for new builds.
pub const KEY_VERSION: &str = "kepu-images-1";

/// The cache folder's name under the site root.
pub const CACHE_DIR: &str = ".kepu-cache";

/// The file beside the images folder with the folder's stamp when it was last pruned.
pub const LISTED_FILE: &str = "images-listed.tsv";

/// The file in the images folder recording each entry's digest and identity (one line each).
pub const ENTRIES_FILE: &str = "entries.tsv";

/// The key of `request` on a source with content hash `source_hash`. (A warm build asks
/// for one per image file it publishes: written without the formatting machinery.)
pub fn key(source_hash: &str, request: &Request) -> String {
    let mut text = String::with_capacity(KEY_VERSION.len() + source_hash.len() + 40);
    text.push_str(KEY_VERSION);
    text.push('\n');
    text.push_str(source_hash);
    text.push('\n');
    request.op.push_key(&mut text);
    text.push('\n');
    request.encoding.push_key(&mut text);
    sha256_hex(text.as_bytes())
}

/// SHA-256 of `bytes`, as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = <sha2::Sha256 as sha2::Digest>::digest(bytes);
    let mut hex = [0u8; 64];
    hex::encode_to_slice(digest, &mut hex).expect("64 hex digits for 32 bytes");
    String::from_utf8(hex.to_vec()).expect("hex digits are ASCII")
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
    used: Mutex<FxHashSet<String>>,
    /// Entries by file name, as recorded when written (loaded from [`ENTRIES_FILE`]).
    recorded: Mutex<FxHashMap<String, Recorded>>,
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
        let extension = format.extension();
        let mut name = String::with_capacity(key.len() + 1 + extension.len());
        name.push_str(key);
        name.push('.');
        name.push_str(extension);
        name
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
        self.get_all(&[(key, format)]).pop().flatten()
    }

    /// [`Cache::get`] for each of `wanted` (key and format), in order. A warm build asks for
    /// every file of a photo's set at once: each entry is looked at on disk without a lock,
    /// then the records and the used names are each locked once.
    pub fn get_all(&self, wanted: &[(&str, Format)]) -> Vec<Option<Stored>> {
        let looks: Vec<Option<(String, PathBuf, Identity, crate::output::FileId)>> = wanted
            .iter()
            .map(|&(key, format)| {
                let name = Self::name(key, format);
                let path = self.dir.join(&name);
                let (identity, id) = Identity::with_id(&path)?;
                Some((name, path, identity, id))
            })
            .collect();
        // (recorded digest, whether the identity is the recorded one)
        let records: Vec<Option<(String, bool)>> = {
            let Ok(recorded) = self.recorded.lock() else { return vec![None; wanted.len()] };
            looks
                .iter()
                .map(|look| {
                    let (name, _, identity, _) = look.as_ref()?;
                    recorded.get(name).map(|r| (r.sha256.clone(), *identity == r.identity))
                })
                .collect()
        };
        let mut found = Vec::with_capacity(wanted.len());
        let mut used = Vec::with_capacity(wanted.len());
        for (look, record) in looks.into_iter().zip(records) {
            let (Some((name, path, identity, id)), Some((sha256, same))) = (look, record) else {
                found.push(None);
                continue;
            };
            if !same && !self.still_holds(&name, &path, identity, &sha256) {
                found.push(None);
                continue;
            }
            used.push(name);
            found.push(Some(Stored { file: path, sha256, bytes: identity.len, id }));
        }
        if let Ok(mut names) = self.used.lock() {
            names.extend(used);
        }
        found
    }

    /// Whether the entry `name` at `path`, whose identity is no longer the recorded one,
    /// still holds the recorded bytes (read and hashed); if so its new identity is recorded.
    fn still_holds(&self, name: &str, path: &Path, identity: Identity, sha256: &str) -> bool {
        let Ok(bytes) = std::fs::read(path) else { return false };
        if sha256_hex(&bytes) != sha256 || Identity::of(path) != Some(identity) {
            return false;
        }
        if let Ok(mut recorded) = self.recorded.lock() {
            recorded.insert(name.to_string(), Recorded { identity, sha256: sha256.to_string() });
            self.dirty.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        true
    }

    /// Store an entry (read-only); returns it.
    pub fn put(&self, key: &str, format: Format, bytes: &[u8]) -> Result<Stored, ImageError> {
        let name = Self::name(key, format);
        // Unique per thread and process, so parallel builds of one site never share a file.
        let tmp = format!(".{name}.{}.{:?}.tmp", std::process::id(), std::thread::current().id());
        let path = self.write_file(&name, &tmp, bytes, true)?;
        let (identity, id) =
            Identity::with_id(&path).ok_or_else(|| ImageError::Cache { why: format!("{}: vanished after writing", path.display()) })?;
        let sha256 = sha256_hex(bytes);
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

    /// Where the folder's stamp is kept when a prune leaves it holding just the recorded
    /// entries and the cache's own files: beside the folder (a file in it would change it).
    fn stamp_file(&self) -> PathBuf {
        self.dir.with_file_name(LISTED_FILE)
    }

    fn listed_stamp(&self) -> Option<String> {
        std::fs::read_to_string(self.stamp_file()).ok()
    }

    /// After [`Cache::prune`] and the saving of the records: remember the folder as it is now,
    /// holding exactly the recorded entries and the cache's own files, so that the next prune
    /// that finds it unchanged and every entry used need not list it. (A change made within
    /// the file system's timestamp tick of the last one may go unseen: an entry no build uses
    /// then stays until the folder changes again. Nothing is published from it: a build uses
    /// only entries it has records of.)
    pub fn remember_listing(&self) -> Result<(), ImageError> {
        self.refuse_links()?;
        let Some(stamp) = folder_stamp(&self.dir) else { return Ok(()) };
        if self.listed_stamp().as_deref() == Some(stamp.as_str()) {
            return Ok(());
        }
        let failed = |e: std::io::Error| ImageError::Cache { why: format!("{}: {e}", self.stamp_file().display()) };
        // Written whole under a new name and renamed (a link planted there is replaced, never
        // followed).
        let tmp = self.dir.with_file_name(format!(".{LISTED_FILE}.{}.tmp", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp).map_err(failed)?;
        std::io::Write::write_all(&mut file, stamp.as_bytes()).map_err(failed)?;
        std::fs::rename(&tmp, self.stamp_file()).map_err(failed)
    }

    /// Delete every entry not used since the cache was opened, and left-over temporary files,
    /// and forget their records (saved by the caller, [`super::Pipeline::prune`], with the
    /// sources). Returns how many files were removed. Only a whole build should prune
    /// (`kepu build`).
    pub fn prune(&self) -> std::io::Result<usize> {
        self.refuse_links().map_err(|e| std::io::Error::other(e.to_string()))?;
        let Ok(used) = self.used.lock() else { return Ok(0) };
        // The folder unchanged since the last prune listed it (then it held exactly the
        // recorded entries and the cache's own files), and every recorded entry used again:
        // nothing to delete, no listing needed.
        let unchanged = self.listed_stamp().is_some_and(|saved| Some(saved) == folder_stamp(&self.dir));
        if unchanged && self.recorded.lock().is_ok_and(|r| r.keys().all(|name| used.contains(name))) {
            return Ok(0);
        }
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        let mut removed = 0;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let in_use = name.to_str().is_some_and(|n| used.contains(n));
            if !in_use && entry.file_type().is_ok_and(|t| t.is_file()) {
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

/// What tells a folder's list of names changed: its inode and its modification and change
/// times (any file created, removed or renamed in it sets both).
fn folder_stamp(dir: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::symlink_metadata(dir).ok().filter(|m| m.is_dir())?;
    Some(format!("{}\t{}.{}\t{}.{}\n", m.ino(), m.mtime(), m.mtime_nsec(), m.ctime(), m.ctime_nsec()))
}

/// Parse [`ENTRIES_FILE`]; lines that do not parse are skipped (their entries are encoded
/// again).
fn parse_recorded(text: &str) -> FxHashMap<String, Recorded> {
    let mut out = FxHashMap::with_capacity_and_hasher(text.len() / 120, Default::default());
    for line in text.lines() {
        let mut f = line.split('\t');
        let (Some(name), Some(len), Some(mtime), Some(inode), Some(sha256), None) =
            (f.next(), f.next(), f.next(), f.next(), f.next(), f.next())
        else {
            continue;
        };
        // Nanoseconds fit an i64 until 2262, and parse several times faster than an i128.
        let (Ok(len), Ok(mtime_ns), Ok(inode)) = (len.parse(), mtime.parse::<i64>().map(i128::from), inode.parse()) else { continue };
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
    fn keys_hash_the_same_text_as_ever_so_existing_caches_stay_valid() {
        let text = |t: &str| sha256_hex(format!("{KEY_VERSION}\nabc\n{t}").as_bytes());
        assert_eq!(key("abc", &request()), text("fit_width:400\nwebp:q75"));
        let fill = Request { op: Operation::Fill { width: 1200, height: 630 }, encoding: Encoding { format: Format::Png, quality: 0 } };
        assert_eq!(key("abc", &fill), text("fill:1200x630\npng"));
        let scale = Request { op: Operation::Scale { width: 7, height: 9 }, encoding: Encoding { format: Format::Jpeg, quality: 82 } };
        assert_eq!(key("abc", &scale), text("scale:7x9\njpg:q82"));
        assert_eq!(sha256_hex(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }

    #[test]
    fn a_prune_skips_its_listing_only_when_nothing_can_be_stale() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (key("a", &request()), key("b", &request()));
        let cache = Cache::open(dir.path());
        cache.put(&a, Format::Webp, b"RIFF..A.WEBP").unwrap();
        cache.put(&b, Format::Webp, b"RIFF..B.WEBP").unwrap();
        // As a build does: the records saved after the images stage, then pruned and saved.
        let prune = |cache: &Cache| {
            cache.save_records().unwrap();
            let removed = cache.prune().unwrap();
            cache.save_records().unwrap();
            cache.remember_listing().unwrap();
            removed
        };
        assert_eq!(prune(&cache), 0);
        assert!(cache.stamp_file().is_file());
        let entry = |k: &str| cache.dir().join(format!("{k}.webp"));
        // Every entry used again, the folder unchanged: nothing deleted.
        let warm = Cache::open(dir.path());
        assert!(warm.get(&a, Format::Webp).is_some() && warm.get(&b, Format::Webp).is_some());
        assert_eq!(prune(&warm), 0);
        // An entry not used is deleted, the folder unchanged or not.
        let warm = Cache::open(dir.path());
        assert!(warm.get(&a, Format::Webp).is_some());
        assert_eq!(prune(&warm), 1);
        assert!(entry(&a).exists() && !entry(&b).exists());
        // A file put there since (a killed build's entry, say; after the timestamp tick of
        // the last change): the folder changed, so it is listed and the file deleted.
        std::thread::sleep(std::time::Duration::from_millis(30));
        let stray = cache.dir().join(format!("{b}.webp"));
        std::fs::write(&stray, b"left behind").unwrap();
        let warm = Cache::open(dir.path());
        assert!(warm.get(&a, Format::Webp).is_some());
        assert_eq!(prune(&warm), 1);
        assert!(!stray.exists() && entry(&a).exists());
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
