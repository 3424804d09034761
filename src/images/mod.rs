//! The **images** stage: editors' photos made light, upright, private and responsive.
//!
//! Runs after the model and before render. A [`Request`] is a source file, an
//! [`Operation`] and an [`Encoding`]; [`Pipeline::run`] turns the requests of one source into
//! encoded files, decoding the source at most once and not at all when every result is in the
//! [`cache::Cache`]. [`site::process_site`] finds what a site needs (Markdown images, typed
//! pages' covers, photos in page bundles), runs the requests in parallel and hands render an
//! [`site::ImageSet`]: the responsive set of each image and the files for the write stage.
//! The set also carries [`templated::TemplateImages`], which answers the template functions
//! (`resize_image`, `get_image_metadata`, `image_set`) while pages render and processes what
//! they asked for once render is done, through the same pipeline and cache.
//!
//! Owns: reading image headers before decoding (pixel limit), decoding, EXIF orientation,
//! colour conversion to sRGB, resizing, encoding (WebP, JPEG, PNG), the cache. Writes no
//! metadata into any output. Knows nothing of HTML (render writes `<picture>`).

pub mod cache;
pub mod codec;
pub mod site;
pub mod templated;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use cache::Cache;
pub use site::{process_site, ImageSet, Responsive, Variant};
pub use templated::TemplateImages;

/// How an image is resized, as Zola's `resize_image` names it. No operation enlarges: a
/// target larger than the source gives the source's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// Exactly `width`×`height`, the aspect ratio ignored.
    Scale { width: u32, height: u32 },
    /// `width` wide, the height following the aspect ratio.
    FitWidth(u32),
    /// `height` high, the width following the aspect ratio.
    FitHeight(u32),
    /// As large as fits inside `width`×`height`, aspect ratio kept.
    Fit { width: u32, height: u32 },
    /// Cover `width`×`height` and crop the overflow (centred).
    Fill { width: u32, height: u32 },
}

impl Operation {
    /// Parse Zola's `op` argument with its width and height.
    pub fn parse(op: &str, width: Option<u32>, height: Option<u32>) -> Result<Operation, String> {
        let need = |v: Option<u32>, name: &str| v.filter(|&v| v > 0).ok_or(format!("`{op}` needs a positive {name}"));
        Ok(match op {
            "scale" => Operation::Scale { width: need(width, "width")?, height: need(height, "height")? },
            "fit_width" => Operation::FitWidth(need(width, "width")?),
            "fit_height" => Operation::FitHeight(need(height, "height")?),
            "fit" => Operation::Fit { width: need(width, "width")?, height: need(height, "height")? },
            "fill" => Operation::Fill { width: need(width, "width")?, height: need(height, "height")? },
            _ => return Err(format!("unknown op `{op}`: use scale, fit_width, fit_height, fit or fill")),
        })
    }

    /// Append the operation's stable text for cache keys (`fit_width:400`) to `out`.
    pub fn push_key(self, out: &mut String) {
        let mut number = itoa::Buffer::new();
        let (name, width, height) = match self {
            Operation::Scale { width, height } => ("scale:", width, Some(height)),
            Operation::FitWidth(w) => ("fit_width:", w, None),
            Operation::FitHeight(h) => ("fit_height:", h, None),
            Operation::Fit { width, height } => ("fit:", width, Some(height)),
            Operation::Fill { width, height } => ("fill:", width, Some(height)),
        };
        out.push_str(name);
        out.push_str(number.format(width));
        if let Some(height) = height {
            out.push('x');
            out.push_str(number.format(height));
        }
    }
}

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Webp,
    Jpeg,
    Png,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Webp => "webp",
            Format::Jpeg => "jpg",
            Format::Png => "png",
        }
    }
    pub fn mime(self) -> &'static str {
        match self {
            Format::Webp => "image/webp",
            Format::Jpeg => "image/jpeg",
            Format::Png => "image/png",
        }
    }
}

/// Encoder settings: part of every cache key, so changing the quality re-encodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Encoding {
    pub format: Format,
    /// 1–100 for WebP and JPEG; ignored for PNG (lossless).
    pub quality: u8,
}

impl Encoding {
    /// Append the settings' stable text for cache keys (`webp:q75`, `png`) to `out`.
    pub fn push_key(self, out: &mut String) {
        out.push_str(self.format.extension());
        if self.format != Format::Png {
            out.push_str(":q");
            out.push_str(itoa::Buffer::new().format(self.quality));
        }
    }
}

/// Why an image could not be processed. Each names what the editor can do; the file itself
/// is named by [`SourceError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    #[error("the file does not exist")]
    Missing,
    #[error("an image next to a page needs a page bundle")]
    NotInBundle,
    #[error("cannot read the file: {why}")]
    Unreadable { why: String },
    #[error("the image is damaged or cut off: {why}")]
    Corrupt { why: String },
    #[error("this is a HEIC/HEIF photo (the iPhone's default format), which browsers and kepu cannot read")]
    Heic,
    #[error("this is {what}, which kepu does not process")]
    Unsupported { what: String },
    #[error("the image declares {width}×{height} pixels, more than the limit of {max_pixels}")]
    TooManyPixels { width: u32, height: u32, max_pixels: u64 },
    #[error("the path leads outside the site ({why})")]
    OutsideSite { why: String },
    #[error("the image cache failed: {why}")]
    Cache { why: String },
    #[error("the image cache folder {} is a symbolic link; kepu writes and deletes files in its cache and follows no link there", path.display())]
    CacheLink { path: PathBuf },
    #[error("internal error: {why}")]
    Internal { why: String },
}

impl ImageError {
    /// What the editor should do.
    pub fn hint(&self) -> String {
        match self {
            ImageError::Missing => "check the file name (case matters); files next to a page's index.md are written as `hall.jpg`, files under static/ as `/images/hall.jpg`".into(),
            ImageError::NotInBundle => "move the page `x.md` to `x/index.md` and put the image beside it, or put the image under static/ and write its address from the site root (`/images/hall.jpg`)".into(),
            ImageError::Unreadable { .. } => "check the file permissions".into(),
            ImageError::Corrupt { .. } => "open the file in an image viewer; if it does not open either, copy or export it again".into(),
            ImageError::Heic => "convert it to JPEG: on the iPhone set Settings → Camera → Formats → Most Compatible, or convert with `heif-convert photo.heic photo.jpg` (Debian package libheif-examples) or any photo editor's export".into(),
            ImageError::Unsupported { .. } => "convert it to JPEG (photos) or PNG (screenshots, drawings); kepu makes the WebP versions itself".into(),
            ImageError::TooManyPixels { .. } => "scale the image down (a photo needs no more than about 4000 pixels on its long side), or raise `max_pixels` under [images] in config.toml if the image is genuine".into(),
            ImageError::OutsideSite { .. } => "give a path inside the site: a page bundle's image as `page.colocated_path ~ \"hall.jpg\"` (or `@/venues/x/hall.jpg`), a static file as `/images/hall.jpg`".into(),
            ImageError::Cache { .. } => "check that .kepu-cache/ in the site folder is writable and the disk is not full (the folder is safe to delete)".into(),
            ImageError::CacheLink { .. } => "remove the link (a site should not bring its own .kepu-cache; the folder is made again by the next build)".into(),
            ImageError::Internal { .. } => "this is a bug in kepu; please report it with the image".into(),
        }
    }
}

/// An [`ImageError`] with the file it is about.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {error}", path.display())]
pub struct SourceError {
    pub path: PathBuf,
    pub error: ImageError,
}

/// One output wanted from a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Request {
    pub op: Operation,
    pub encoding: Encoding,
}

/// One output made (or found in the cache).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Processed {
    /// The encoded file, in the cache (read-only, never rewritten in place).
    pub file: PathBuf,
    /// SHA-256 of its bytes, hex (recorded by the cache: a hit reads nothing).
    pub sha256: String,
    /// Cache key (hex); its start names the output file, so a changed image gets a new URL.
    pub key: String,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
    /// The cache file's device and inode when it was checked.
    pub id: crate::output::FileId,
}

/// A source read for planning: its content hash and header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub path: PathBuf,
    /// SHA-256 of the file, hex.
    pub hash: String,
    pub header: codec::Header,
}

/// Runs requests against the cache.
#[derive(Debug)]
pub struct Pipeline {
    pub cache: Cache,
    /// Largest width × height decoded (see [`ImageError::TooManyPixels`]).
    pub max_pixels: u64,
    /// What is known of sources; shared with the template functions of a build, so a warm
    /// build reads no unchanged photo at all, whoever asks for it.
    memo: std::sync::Arc<SourceMemo>,
}

/// Sources already read, by path, with the file's identity then (see [`Identity`]), loaded
/// from and saved to the cache; and the sources asked for since it was opened (what a save
/// keeps).
#[derive(Debug, Default)]
pub struct SourceMemo {
    known: std::sync::Mutex<rustc_hash::FxHashMap<PathBuf, (Identity, Source)>>,
    asked: std::sync::Mutex<rustc_hash::FxHashSet<PathBuf>>,
    /// Whether `known` changed since it was loaded or last saved.
    dirty: std::sync::atomic::AtomicBool,
    /// The site folder, as this build names it: paths under it are saved relative to it, so
    /// that a build given the site as `.` knows what one given its absolute path learned.
    root: PathBuf,
}

impl SourceMemo {
    /// Read `path`: hash and header (no pixels decoded). A file whose identity is what it was
    /// when last read is not read again; the pixel limit applies either way.
    pub fn source(&self, path: &Path, max_pixels: u64) -> Result<Source, ImageError> {
        if let Ok(mut asked) = self.asked.lock() {
            if !asked.contains(path) {
                asked.insert(path.to_path_buf());
            }
        }
        let identity = Identity::of(path);
        if let Some(id) = identity {
            let known = self.known.lock().ok().and_then(|k| k.get(path).filter(|(i, _)| *i == id).map(|(_, s)| s.clone()));
            if let Some(source) = known {
                // The pixel limit may have been lowered since.
                let h = source.header;
                if u64::from(h.width) * u64::from(h.height) > max_pixels {
                    return Err(ImageError::TooManyPixels { width: h.width, height: h.height, max_pixels });
                }
                return Ok(source);
            }
        }
        let source = read_source(path, max_pixels)?;
        if let (Some(id), Ok(mut known)) = (identity, self.known.lock()) {
            known.insert(path.to_path_buf(), (id, source.clone()));
            self.dirty.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(source)
    }

    /// The lines of [`SOURCES_FILE`] for every source known (asked for since the memo was
    /// opened or remembered from before), sorted.
    fn lines(&self) -> Vec<String> {
        let Ok(known) = self.known.lock() else { return Vec::new() };
        let mut lines: Vec<String> = known
            .iter()
            .map(|(p, (id, s))| {
                let format = match s.header.format {
                    codec::SourceFormat::Jpeg => "jpeg",
                    codec::SourceFormat::Png => "png",
                };
                // The order `parse_known` reads: width, height, then the format.
                format!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{format}\t{}\n",
                    id.len, id.mtime_ns, id.ctime_ns, id.inode, s.hash, s.header.width, s.header.height,
                    p.strip_prefix(&self.root).unwrap_or(p).to_string_lossy().replace(['\t', '\n'], " ")
                )
            })
            .collect();
        lines.sort();
        lines
    }
}

/// What tells a file changed without reading it: size, modification and change times (the
/// change time cannot be set back by copying tools, unlike the modification time) and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Identity {
    len: u64,
    mtime_ns: i128,
    ctime_ns: i128,
    inode: u64,
}

impl Identity {
    fn of(path: &Path) -> Option<Identity> {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(path).ok()?;
        Some(Identity {
            len: m.len(),
            mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
            ctime_ns: i128::from(m.ctime()) * 1_000_000_000 + i128::from(m.ctime_nsec()),
            inode: m.ino(),
        })
    }
}

/// The file in the cache folder remembering sources (one line each).
const SOURCES_FILE: &str = "sources.tsv";

/// The largest image file read at all: bigger is not a photo an editor means to publish.
pub const MAX_SOURCE_BYTES: u64 = 256 * 1024 * 1024;

impl Pipeline {
    /// The pipeline of the site at `root`, with what the last build remembered of its sources.
    pub fn open(root: &Path, max_pixels: u64) -> Pipeline {
        let cache = Cache::open(root);
        let known = std::fs::read_to_string(cache.dir().join(SOURCES_FILE)).map(|t| parse_known(&t, root)).unwrap_or_default();
        let memo = SourceMemo {
            known: std::sync::Mutex::new(known),
            asked: Default::default(),
            dirty: Default::default(),
            root: root.to_path_buf(),
        };
        Pipeline { cache, max_pixels, memo: std::sync::Arc::new(memo) }
    }

    /// Read `path`: hash and header (no pixels decoded). A file whose identity is what it was
    /// when last read is not read again.
    pub fn source(&self, path: &Path) -> Result<Source, ImageError> {
        self.memo.source(path, self.max_pixels)
    }

    /// The memo of sources, for the template functions of a build to share.
    pub fn memo(&self) -> std::sync::Arc<SourceMemo> {
        self.memo.clone()
    }

    /// Save what is known of the sources (read by the images stage and the template functions
    /// alike) and the records of the cache entries, for the next build. Nothing is forgotten
    /// here: a build that fails half-way keeps what the last one knew ([`Pipeline::prune`]
    /// forgets).
    pub fn save_known(&self) -> Result<(), ImageError> {
        self.cache.save_records()?;
        if !self.memo.dirty.swap(false, std::sync::atomic::Ordering::Relaxed) {
            // Unchanged since loaded or saved: the file on disk says it already.
            self.cache.keep_named(SOURCES_FILE);
            return Ok(());
        }
        let lines = self.memo.lines();
        if lines.is_empty() && !self.cache.dir().exists() {
            return Ok(());
        }
        self.cache.put_named(SOURCES_FILE, lines.concat().as_bytes())
    }

    /// After a whole build: delete the cache entries it did not use, forget them and the
    /// sources it did not ask for, and save what is left. Returns how many entries were
    /// removed.
    pub fn prune(&self) -> std::io::Result<usize> {
        if let (Ok(asked), Ok(mut known)) = (self.memo.asked.lock(), self.memo.known.lock()) {
            let before = known.len();
            known.retain(|path, _| asked.contains(path));
            if known.len() != before {
                self.memo.dirty.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
        let removed = self.cache.prune()?;
        self.save_known().map_err(|e| std::io::Error::other(e.to_string()))?;
        self.cache.remember_listing().map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(removed)
    }

    /// Make every request of `source`, decoding it once if any is not cached. Results are in
    /// the order of `requests`.
    pub fn run(&self, source: &Source, requests: &[Request]) -> Result<(Vec<Processed>, RunStats), ImageError> {
        let mut stats = RunStats::default();
        let keys: Vec<String> = requests.iter().map(|r| cache::key(&source.hash, r)).collect();
        let wanted: Vec<(&str, Format)> = keys.iter().zip(requests).map(|(k, r)| (k.as_str(), r.encoding.format)).collect();
        let found = self.cache.get_all(&wanted);
        let mut pixels: Option<codec::Pixels> = None;
        let mut out = Vec::with_capacity(requests.len());
        for ((request, key), found) in requests.iter().zip(keys).zip(found) {
            let planned = codec::plan(request.op, source.header.width, source.header.height);
            let stored = match found {
                Some(stored) => {
                    stats.cached += 1;
                    stored
                }
                None => {
                    if pixels.is_none() {
                        let bytes = read(&source.path)?;
                        pixels = Some(codec::decode(&bytes, self.max_pixels)?);
                        stats.decoded = true;
                    }
                    let px = pixels.as_ref().expect("decoded above");
                    let encoded = codec::render(px, request.op, request.encoding)?;
                    stats.encoded += 1;
                    self.cache.put(&key, request.encoding.format, &encoded)?
                }
            };
            let cache::Stored { file, sha256, bytes, id } = stored;
            out.push(Processed { file, sha256, key, width: planned.width, height: planned.height, bytes, id });
        }
        Ok((out, stats))
    }
}

/// What [`Pipeline::run`] did, for progress and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunStats {
    pub decoded: bool,
    pub encoded: usize,
    pub cached: usize,
}

/// Parse [`SOURCES_FILE`]; lines that do not parse are skipped (the file is only a shortcut).
fn parse_known(text: &str, root: &Path) -> rustc_hash::FxHashMap<PathBuf, (Identity, Source)> {
    let mut out = rustc_hash::FxHashMap::default();
    for line in text.lines() {
        let f: Vec<&str> = line.splitn(10, '\t').collect();
        let [len, mtime, ctime, inode, hash, width, height, format, path] = f[..] else { continue };
        let format = match format {
            "jpeg" => codec::SourceFormat::Jpeg,
            "png" => codec::SourceFormat::Png,
            _ => continue,
        };
        let (Ok(len), Ok(mtime_ns), Ok(ctime_ns), Ok(inode), Ok(width), Ok(height)) =
            (len.parse(), mtime.parse(), ctime.parse(), inode.parse(), width.parse(), height.parse())
        else {
            continue;
        };
        // Relative to the site folder (absolute for a source outside it).
        let path = root.join(path);
        let header = codec::Header { format, width, height };
        let source = Source { path: path.clone(), hash: hash.to_string(), header };
        out.insert(path, (Identity { len, mtime_ns, ctime_ns, inode }, source));
    }
    out
}

fn read(path: &Path) -> Result<Vec<u8>, ImageError> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ImageError::Missing,
        _ => ImageError::Unreadable { why: e.to_string() },
    })?;
    if !meta.is_file() {
        return Err(ImageError::Unreadable { why: "not a regular file".into() });
    }
    if meta.len() > MAX_SOURCE_BYTES {
        return Err(ImageError::Unsupported {
            what: format!("a file of {} MB (more than {} MB)", meta.len() >> 20, MAX_SOURCE_BYTES >> 20),
        });
    }
    std::fs::read(path).map_err(|e| ImageError::Unreadable { why: e.to_string() })
}

/// Read `path` for planning: its content hash and header (the file read whole, the pixel
/// limit applied). [`SourceMemo::source`] calls it for what it does not know.
pub fn read_source(path: &Path, max_pixels: u64) -> Result<Source, ImageError> {
    let bytes = read(path)?;
    let hash = cache::sha256_hex(&bytes);
    let header = codec::header(&bytes, max_pixels)?;
    Ok(Source { path: path.to_path_buf(), hash, header })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_warm_pipeline_knows_an_unchanged_source_without_reading_it() {
        let dir = tempfile::tempdir().unwrap();
        let photo = dir.path().join("hall.png");
        let img = image::RgbImage::from_fn(30, 20, |x, y| image::Rgb([x as u8, y as u8, 7]));
        img.save(&photo).unwrap();
        let pipeline = Pipeline::open(dir.path(), 1_000_000);
        let first = pipeline.source(&photo).unwrap();
        pipeline.save_known().unwrap();

        // What was saved is read back whole: a warm pipeline answers from it.
        let warm = Pipeline::open(dir.path(), 1_000_000);
        let known = warm.memo.known.lock().unwrap().get(&photo).cloned();
        assert_eq!(known.map(|(_, s)| s), Some(first.clone()));
        assert_eq!(warm.source(&photo).unwrap(), first);

        // Saved relative to the site folder: a build naming the folder otherwise (here
        // through a link; `.` against an absolute path alike) knows the photo too.
        let elsewhere = tempfile::tempdir().unwrap();
        let link = elsewhere.path().join("site");
        std::os::unix::fs::symlink(dir.path(), &link).unwrap();
        let named_otherwise = Pipeline::open(&link, 1_000_000);
        let known = named_otherwise.memo.known.lock().unwrap().get(&link.join("hall.png")).cloned();
        assert_eq!(known.map(|(_, s)| s.hash), Some(first.hash.clone()));

        // A changed file is read again.
        std::thread::sleep(std::time::Duration::from_millis(20));
        image::RgbImage::from_fn(40, 20, |_, _| image::Rgb([1, 2, 3])).save(&photo).unwrap();
        let changed = Pipeline::open(dir.path(), 1_000_000).source(&photo).unwrap();
        assert_eq!((changed.header.width, changed.header.height), (40, 20));
        assert_ne!(changed.hash, first.hash);
    }
}
