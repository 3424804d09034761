//! Images asked for by templates: `resize_image`, `get_image_metadata` and `image_set`.
//!
//! Templates render after the images stage, in parallel, and a template function must answer
//! at once. It can: a source's header gives its displayed size without decoding a pixel, so
//! [`TemplateImages`] answers each call with the planned size and the output path (whose name
//! carries the cache key, so a changed image gets a new URL) and queues the request.
//! [`TemplateImages::finish`], called after render and before the write stage finishes,
//! processes the queue through the same [`Pipeline`] and cache as the rest of the site (in
//! parallel, each source decoded at most once, orientation applied, metadata stripped) and
//! gives the files to write. A failure there is an error naming the image and the pages whose
//! templates asked for it, and the build stops with the output folder untouched.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;

use rayon::prelude::*;

use super::site::{widths_for, Progress, Responsive, Stats, Variant};
use super::{cache, codec, Encoding, Format, ImageError, Operation, Pipeline, Request, Source};
use crate::config::ImagesConfig;
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::output::{Contents, OutputFile};

/// The output folder of template images (Zola's name for it).
pub const OUTPUT_DIR: &str = "processed_images";

/// What `get_image_metadata` gives (Zola's fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metadata {
    /// Size as displayed: after the EXIF orientation is applied.
    pub width: u32,
    pub height: u32,
    /// `jpg` or `png`.
    pub format: &'static str,
    pub mime: &'static str,
}

/// What `resize_image` gives: the planned output (Zola's fields).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resized {
    /// Path in the output folder, `/`-separated, no leading slash.
    pub path: String,
    pub width: u32,
    pub height: u32,
    /// The source's displayed size.
    pub orig_width: u32,
    pub orig_height: u32,
}

/// The encoding a template asked for: `format` (`auto` = the source's own: JPEG stays JPEG,
/// PNG stays PNG) and `quality` (1–100; the site's `[images]` qualities when not given).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Wanted {
    pub format: Option<Format>,
    pub quality: Option<u8>,
}

impl Wanted {
    /// Parse `format` and `quality` as Zola's `resize_image` takes them.
    pub fn parse(format: Option<&str>, quality: Option<i64>) -> Result<Wanted, String> {
        let format = match format.unwrap_or("auto") {
            "auto" => None,
            "jpg" | "jpeg" => Some(Format::Jpeg),
            "png" => Some(Format::Png),
            "webp" => Some(Format::Webp),
            other => return Err(format!("unknown format `{other}`: use auto, jpg, png or webp")),
        };
        let quality = match quality {
            None => None,
            Some(q) if (1..=100).contains(&q) => Some(q as u8),
            Some(q) => return Err(format!("quality {q} is not between 1 and 100")),
        };
        Ok(Wanted { format, quality })
    }
}

/// What [`TemplateImages::finish`] made.
#[derive(Debug, Default)]
pub struct Finished {
    /// The files to write, sorted by path.
    pub files: Vec<OutputFile>,
    pub stats: Stats,
    /// Output paths of static photos whose copies here replace the originals.
    pub replaced: Vec<String>,
    /// Files over `[images] budget_kb` (the largest of each image), as warnings.
    pub warnings: Diagnostics,
    /// Output path → the pages (URL paths) whose templates asked for it (`kepu serve` drops
    /// a file when the pages that asked for it are rendered again without asking).
    pub asked_by: BTreeMap<String, BTreeSet<String>>,
}

/// One queued output.
#[derive(Debug)]
struct Queued {
    source: Source,
    request: Request,
    /// The pages (URL paths) whose templates asked for it, for errors.
    asked_by: BTreeSet<String>,
}

/// The template functions' side of the image pipeline for one build: resolves paths, plans,
/// queues; see the module documentation.
#[derive(Debug)]
pub struct TemplateImages {
    root: PathBuf,
    /// `root` with links resolved, to tell files inside the site from others.
    canonical_root: Option<PathBuf>,
    content: PathBuf,
    /// Static files by output path: the file they are copied from, or `None` for files
    /// built into kepu's theme (not photos).
    statics: HashMap<String, Option<PathBuf>>,
    config: ImagesConfig,
    /// Sources read this build, by path.
    sources: Mutex<HashMap<PathBuf, Result<Source, ImageError>>>,
    /// The pipeline's memo of sources: a photo unchanged since the last build is not read
    /// (without one, each source is read and hashed once per build).
    memo: Option<std::sync::Arc<super::SourceMemo>>,
    /// Output path → what makes it.
    queue: Mutex<BTreeMap<String, Queued>>,
    /// Static photos templates used, by output path: their published copy is replaced by one
    /// without metadata, as the images stage does for those pages show.
    statics_used: Mutex<BTreeMap<String, PathBuf>>,
    /// Outputs held to `[images] budget_kb`: what `resize_image` asked for and the WebP of a
    /// set (as for photos in Markdown), not the full-size copies a picture links to.
    budgeted: Mutex<std::collections::HashSet<String>>,
}

impl TemplateImages {
    /// The template images of the site at `root`, with its static files by output path.
    pub fn new(root: &Path, config: &ImagesConfig, static_files: &BTreeMap<String, OutputFile>) -> TemplateImages {
        let statics = static_files
            .iter()
            .map(|(path, f)| {
                let from = match &f.contents {
                    Contents::Copy(p) => Some(p.clone()),
                    // Static files are never the cache's own outputs.
                    Contents::Bytes(_) | Contents::Linked { .. } => None,
                };
                (path.clone(), from)
            })
            .collect();
        TemplateImages {
            root: root.to_path_buf(),
            canonical_root: root.canonicalize().ok(),
            content: root.join("content"),
            statics,
            config: config.clone(),
            sources: Mutex::default(),
            memo: None,
            queue: Mutex::default(),
            statics_used: Mutex::default(),
            budgeted: Mutex::default(),
        }
    }

    /// Share `memo` (the build's pipeline's): unchanged photos are not read again.
    pub fn with_memo(mut self, memo: std::sync::Arc<super::SourceMemo>) -> TemplateImages {
        self.memo = Some(memo);
        self
    }

    /// The file `path` names, as Zola resolves it: `@/…` under content/; `content/…` or
    /// `static/…` from the site root; anything else (with or without a leading `/`) under
    /// the static files (the site's, then the theme's), then under content/ (where page
    /// bundles are: `page.colocated_path ~ "hall.jpg"`). Nothing outside the site is read.
    pub fn resolve(&self, path: &str) -> Result<PathBuf, ImageError> {
        let (file, static_path) = self.locate(path)?;
        if let (Some(at), Ok(mut used)) = (static_path, self.statics_used.lock()) {
            used.insert(at, file.clone());
        }
        Ok(file)
    }

    /// [`TemplateImages::resolve`], and the output path when the file is a static one.
    fn locate(&self, path: &str) -> Result<(PathBuf, Option<String>), ImageError> {
        if path.trim().is_empty() {
            return Err(ImageError::Missing);
        }
        if path.contains("://") || path.starts_with("//") || path.starts_with("data:") {
            return Err(ImageError::Unsupported { what: "an address on the web (templates process files of the site only)".into() });
        }
        if path.contains(['\\', '\0']) {
            return Err(ImageError::OutsideSite { why: "write paths with `/`".into() });
        }
        let (only_content, rest) = match path.strip_prefix("@/") {
            Some(rest) => (true, rest),
            None => (false, path),
        };
        let parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty() && *p != ".").collect();
        if parts.iter().any(|p| *p == "..") {
            return Err(ImageError::OutsideSite { why: "`..` leaves the folder".into() });
        }
        if parts.is_empty() {
            return Err(ImageError::Missing);
        }
        let joined = parts.join("/");
        let in_content = |rel: &str| Some((self.content.join(rel), None)).filter(|(p, _)| p.is_file());
        let in_static = |rel: &str| -> Result<Option<(PathBuf, Option<String>)>, ImageError> {
            match self.statics.get(rel) {
                Some(Some(file)) => Ok(Some((file.clone(), Some(rel.to_string())))),
                Some(None) => Err(ImageError::Unsupported { what: "a file built into kepu's theme, not a photo of the site".into() }),
                None => Ok(None),
            }
        };
        let found = if only_content {
            in_content(&joined)
        } else if let Some(rel) = joined.strip_prefix("content/") {
            in_content(rel)
        } else if let Some(rel) = joined.strip_prefix("static/") {
            in_static(rel)?
        } else {
            match in_static(&joined)? {
                Some(file) => Some(file),
                None => in_content(&joined),
            }
        };
        let Some((file, static_path)) = found else {
            if path.starts_with('/') && Path::new(path).exists() {
                return Err(ImageError::OutsideSite {
                    why: "a path starting with `/` is looked up under static/ and content/, not on the computer".into(),
                });
            }
            return Err(ImageError::Missing);
        };
        // A symbolic link may still lead out of the site.
        let inside = match (file.canonicalize(), &self.canonical_root) {
            (Ok(f), Some(r)) => f.starts_with(r) && f.components().all(|c| !matches!(c, Component::ParentDir)),
            _ => false,
        };
        if !inside {
            return Err(ImageError::OutsideSite { why: "the file is a link to somewhere outside the site folder".into() });
        }
        Ok((file, static_path))
    }

    /// The source `file`, read once per build.
    fn source(&self, file: &Path) -> Result<Source, ImageError> {
        if let Some(known) = self.sources.lock().ok().and_then(|s| s.get(file).cloned()) {
            return known;
        }
        let ext = file.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
        let read = match ext.as_str() {
            // Read and sniffed: the content decides (with a conversion hint for HEIC and others).
            "jpg" | "jpeg" | "png" | "heic" | "heif" | "tif" | "tiff" | "bmp" | "gif" | "webp" | "avif" => match &self.memo {
                Some(memo) => memo.source(file, self.config.max_pixels),
                None => super::read_source(file, self.config.max_pixels),
            },
            "svg" => Err(ImageError::Unsupported {
                what: "an SVG drawing (not a JPEG or PNG image; a vector image needs no resizing: link it with get_url)".into(),
            }),
            "" => Err(ImageError::Unsupported { what: "a file without an extension (not a JPEG or PNG image)".into() }),
            other => Err(ImageError::Unsupported { what: format!("a `.{other}` file (not a JPEG or PNG image)") }),
        };
        if let Ok(mut sources) = self.sources.lock() {
            sources.insert(file.to_path_buf(), read.clone());
        }
        read
    }

    /// `get_image_metadata(path)`.
    pub fn metadata(&self, path: &str) -> Result<Metadata, ImageError> {
        let source = self.source(&self.resolve(path)?)?;
        let format = source.header.format.fallback();
        Ok(Metadata { width: source.header.width, height: source.header.height, format: format.extension(), mime: format.mime() })
    }

    fn encoding(&self, source: &Source, wanted: Wanted) -> Encoding {
        let format = wanted.format.unwrap_or_else(|| source.header.format.fallback());
        let quality = wanted.quality.unwrap_or(match format {
            Format::Webp => self.config.webp_quality,
            _ => self.config.jpeg_quality,
        });
        // PNG is lossless: its quality is no part of the output.
        Encoding { format, quality: if format == Format::Png { 0 } else { quality } }
    }

    /// Plan `request` of `source`, queue it, and give its output.
    fn budget(&self, v: Variant) -> Variant {
        if let Ok(mut b) = self.budgeted.lock() {
            b.insert(v.path.clone());
        }
        v
    }

    fn queue(&self, source: &Source, request: Request, asked_by: &str) -> Variant {
        let planned = codec::plan(request.op, source.header.width, source.header.height);
        let key = cache::key(&source.hash, &request);
        let stem = source.path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let stem: String = stem.chars().map(|c| if c.is_whitespace() || "#?%\"'<>&".contains(c) { '-' } else { c }).collect();
        let path = format!(
            "{OUTPUT_DIR}/{stem}-{}x{}.{}.{}",
            planned.width,
            planned.height,
            &key[..16],
            request.encoding.format.extension()
        );
        if let Ok(mut queue) = self.queue.lock() {
            queue
                .entry(path.clone())
                .or_insert_with(|| Queued { source: source.clone(), request, asked_by: BTreeSet::new() })
                .asked_by
                .insert(asked_by.to_string());
        }
        Variant { path, width: planned.width, height: planned.height, bytes: 0 }
    }

    /// `resize_image(path, width, height, op, format, quality)`, asked for on page `asked_by`.
    pub fn resize(&self, path: &str, op: Operation, wanted: Wanted, asked_by: &str) -> Result<Resized, ImageError> {
        let source = self.source(&self.resolve(path)?)?;
        let encoding = self.encoding(&source, wanted);
        let v = self.budget(self.queue(&source, Request { op, encoding }, asked_by));
        Ok(Resized {
            path: v.path,
            width: v.width,
            height: v.height,
            orig_width: source.header.width,
            orig_height: source.header.height,
        })
    }

    /// `image_set(path, widths)`: WebP and the source's own format at each of `widths` (the
    /// site's `[images] widths` when empty) below the image's own width, and its own width
    /// when that is smaller than the largest asked for, plus a copy `full_width` wide (the
    /// site's setting) to link to. Never enlarged.
    pub fn responsive(&self, path: &str, widths: &[u32], asked_by: &str) -> Result<Responsive, ImageError> {
        let source = self.source(&self.resolve(path)?)?;
        let configured = if widths.is_empty() { &self.config.widths[..] } else { widths };
        let fallback = source.header.format.fallback();
        let webp = self.encoding(&source, Wanted { format: Some(Format::Webp), quality: None });
        let fb = self.encoding(&source, Wanted { format: Some(fallback), quality: None });
        let mut webp_variants = Vec::new();
        let mut fallback_variants = Vec::new();
        for w in widths_for(source.header.width, configured) {
            webp_variants.push(self.budget(self.queue(&source, Request { op: Operation::FitWidth(w), encoding: webp }, asked_by)));
            fallback_variants.push(self.queue(&source, Request { op: Operation::FitWidth(w), encoding: fb }, asked_by));
        }
        let largest = fallback_variants.last().cloned().expect("widths_for gives at least one width");
        // The copy a picture may link to, as large as the site's full-size copies.
        // (Its width clamped to the image's, so a small image's copy is its largest variant.)
        let full_width = self.config.full_width.clamp(1, source.header.width.max(1));
        let full = self.queue(&source, Request { op: Operation::FitWidth(full_width), encoding: fb }, asked_by);
        Ok(Responsive {
            width: largest.width,
            height: largest.height,
            webp: webp_variants,
            fallback: fallback_variants,
            fallback_type: fallback.mime(),
            full,
        })
    }

    /// Process everything queued so far through `pipeline` (in parallel; each source decoded
    /// at most once, and not at all when the cache has every output) and give the files to
    /// write, sorted by path. Errors name the image and the pages that asked for it.
    /// `progress` is told as each image is done, as in the images stage.
    pub fn finish(&self, pipeline: &Pipeline, progress: Progress<'_>) -> Result<Finished, Diagnostics> {
        let statics = self.statics_used.lock().map(|mut s| std::mem::take(&mut *s)).unwrap_or_default();
        let mut replaced = Vec::new();
        for (at, file) in statics {
            // A photo's source: the others (SVG, a text file) were refused when asked for.
            let Ok(source) = self.source(&file) else { continue };
            let encoding = self.encoding(&source, Wanted::default());
            let request = Request { op: Operation::FitWidth(self.config.full_width.max(1)), encoding };
            if let Ok(mut queue) = self.queue.lock() {
                queue.entry(at.clone()).or_insert_with(|| Queued { source, request, asked_by: BTreeSet::new() });
            }
            replaced.push(at);
        }
        let queue = self.queue.lock().map(|mut q| std::mem::take(&mut *q)).unwrap_or_default();
        let budgeted = self.budgeted.lock().map(|mut b| std::mem::take(&mut *b)).unwrap_or_default();
        let asked: BTreeMap<String, BTreeSet<String>> = queue.iter().map(|(path, q)| (path.clone(), q.asked_by.clone())).collect();
        let mut by_source: BTreeMap<PathBuf, (Source, Vec<(String, Request)>, BTreeSet<String>)> = BTreeMap::new();
        for (path, q) in queue {
            let entry = by_source.entry(q.source.path.clone()).or_insert_with(|| (q.source.clone(), Vec::new(), BTreeSet::new()));
            entry.1.push((path, q.request));
            entry.2.extend(q.asked_by);
        }
        let jobs: Vec<_> = by_source.into_values().collect();
        let done = std::sync::atomic::AtomicUsize::new(0);
        let results: Vec<_> = jobs
            .par_iter()
            .map(|(source, outputs, _)| {
                let requests: Vec<Request> = outputs.iter().map(|(_, r)| *r).collect();
                let result = pipeline.run(source, &requests);
                let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                progress(n, jobs.len(), &source.path.strip_prefix(&self.root).unwrap_or(&source.path).to_string_lossy());
                result
            })
            .collect();
        let mut files = Vec::new();
        let mut stats = Stats::default();
        let mut diags = Diagnostics::new();
        let mut warnings = Diagnostics::new();
        for ((source, outputs, asked_by), result) in jobs.iter().zip(results) {
            match result {
                Ok((made, run)) => {
                    stats.sources += 1;
                    stats.decoded += usize::from(run.decoded);
                    stats.encoded += run.encoded;
                    stats.cached += run.cached;
                    let largest = outputs.iter().zip(&made).filter(|((path, _), _)| budgeted.contains(path)).max_by_key(|(_, p)| p.bytes);
                    if let Some(((path, request), p)) = largest.filter(|(_, p)| p.bytes > self.config.budget_kb * 1024) {
                        let display = source.path.strip_prefix(&self.root).unwrap_or(&source.path);
                        warnings.push(
                            Diagnostic::warning(format!(
                                "image `{}` is {} KB as {} at {}×{} px (`{path}`), over the {} KB budget",
                                display.display(),
                                p.bytes.div_ceil(1024),
                                request.encoding.format.extension(),
                                p.width,
                                p.height,
                                self.config.budget_kb
                            ))
                            .file(display)
                            .hint("ask the template function for a smaller size or a lower quality, or crop the photo to what matters; visitors on slow connections wait for every KB"),
                        );
                    }
                    files.extend(outputs.iter().zip(made).map(|((path, _), p)| OutputFile::linked(path.clone(), p.file, p.sha256, p.bytes, Some(p.id))));
                }
                Err(e) => {
                    let display = source.path.strip_prefix(&self.root).unwrap_or(&source.path);
                    let pages: Vec<&str> = asked_by.iter().map(String::as_str).take(3).collect();
                    let more = asked_by.len().saturating_sub(pages.len());
                    let more = if more > 0 { format!(" and {more} more") } else { String::new() };
                    diags.push(
                        Diagnostic::error(format!(
                            "image `{}`: {e} (asked for by a template function on {}{more})",
                            display.display(),
                            pages.join(", ")
                        ))
                        .file(display)
                        .hint(e.hint()),
                    );
                }
            }
        }
        if diags.has_errors() {
            return Err(diags.sorted());
        }
        // The entries made here and the sources read are recorded too (the site's were saved
        // before render), so the next build finds them without encoding or reading them.
        pipeline.save_known().map_err(|e| Diagnostics::from(Diagnostic::error(e.to_string()).file(cache::CACHE_DIR).hint(e.hint())))?;
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(Finished { files, stats, replaced, warnings, asked_by: asked })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_and_quality_are_checked() {
        assert_eq!(Wanted::parse(None, None), Ok(Wanted::default()));
        assert_eq!(Wanted::parse(Some("jpeg"), Some(80)).map(|w| (w.format, w.quality)), Ok((Some(Format::Jpeg), Some(80))));
        assert!(Wanted::parse(Some("gif"), None).unwrap_err().contains("unknown format `gif`"));
        assert!(Wanted::parse(None, Some(0)).unwrap_err().contains("quality 0 is not between 1 and 100"));
        assert!(Wanted::parse(None, Some(101)).is_err());
    }

    #[test]
    fn paths_stay_inside_the_site() {
        let dir = std::env::temp_dir().join(format!("kepu-templated-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("content/a")).unwrap();
        std::fs::write(dir.join("content/a/x.jpg"), b"x").unwrap();
        let t = TemplateImages::new(&dir, &ImagesConfig::default(), &BTreeMap::new());
        assert_eq!(t.resolve("a/x.jpg").unwrap(), dir.join("content/a/x.jpg"));
        assert_eq!(t.resolve("@/a/x.jpg").unwrap(), dir.join("content/a/x.jpg"));
        assert_eq!(t.resolve("content/a/x.jpg").unwrap(), dir.join("content/a/x.jpg"));
        assert!(matches!(t.resolve("../../etc/passwd"), Err(ImageError::OutsideSite { .. })));
        assert!(matches!(t.resolve("a/../../x.jpg"), Err(ImageError::OutsideSite { .. })));
        assert!(matches!(t.resolve("/etc/passwd"), Err(ImageError::OutsideSite { .. })));
        assert!(matches!(t.resolve("a/y.jpg"), Err(ImageError::Missing)));
        assert!(matches!(t.resolve(""), Err(ImageError::Missing)));
        assert!(matches!(t.resolve("https://example.org/x.jpg"), Err(ImageError::Unsupported { .. })));
        assert!(matches!(t.resolve("a\\x.jpg"), Err(ImageError::OutsideSite { .. })));
        assert!(matches!(t.resolve("a/x.jpg\0"), Err(ImageError::OutsideSite { .. })));
        std::fs::write(dir.join("content/a/notes.txt"), b"text").unwrap();
        assert!(matches!(t.metadata("a/notes.txt"), Err(ImageError::Unsupported { what }) if what.contains("`.txt`")));
        assert!(matches!(t.metadata("a/x.jpg"), Err(ImageError::Corrupt { .. })));
        std::os::unix::fs::symlink("/etc/hostname", dir.join("content/a/link.jpg")).unwrap();
        assert!(matches!(t.resolve("a/link.jpg"), Err(ImageError::OutsideSite { .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
