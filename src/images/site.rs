//! What a site needs processed, and the result render and write use.
//!
//! Three kinds of use: an image in a page's or section's Markdown (`![alt](hall.jpg)`), a
//! typed page's `cover`, and every JPEG/PNG in a page bundle. Each used source gets its
//! responsive set (WebP and a fallback in the source's format, at the configured widths below
//! its own) and a full-size copy without metadata; the full-size copy takes the original's
//! own address, so the original — with its GPS position and camera serial — is never
//! published, even when only linked to.

use std::collections::{BTreeMap, HashMap, HashSet};

use rustc_hash::FxHashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use rayon::prelude::*;
use serde::Serialize;

use super::{Encoding, Format, ImageError, Operation, Pipeline, Processed, Request};
use crate::config::ImagesConfig;
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::output::{Contents, OutputFile};
use crate::model::Site;

/// One processed file of a responsive set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Variant {
    /// Path in the output folder, `/`-separated, no leading slash.
    pub path: String,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
}

/// Everything a `<picture>` needs for one source image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Responsive {
    /// Intrinsic size (the largest variant), for `width`/`height` attributes.
    pub width: u32,
    pub height: u32,
    /// WebP variants, narrowest first.
    pub webp: Vec<Variant>,
    /// Variants in the source's format (JPEG or PNG), narrowest first, for the few browsers
    /// without WebP and for `og:image`.
    pub fallback: Vec<Variant>,
    /// MIME type of the fallback.
    pub fallback_type: &'static str,
    /// The full-size copy (metadata stripped) at the source's own address.
    pub full: Variant,
}

impl Responsive {
    /// The fallback at most `width` wide (else the narrowest): for link previews.
    pub fn fallback_up_to(&self, width: u32) -> &Variant {
        self.fallback.iter().rev().find(|v| v.width <= width).unwrap_or(&self.fallback[0])
    }
}

/// What the images stage hands on: each use's responsive set for render, the files for write.
#[derive(Debug, Default)]
pub struct ImageSet {
    /// (document `rel_path`, image address as written) → its set.
    uses: HashMap<(String, String), Arc<Responsive>>,
    /// Page `rel_path` → its cover's set.
    covers: HashMap<String, Arc<Responsive>>,
    /// Processed files (linked from the cache by the write stage), sorted by path.
    pub files: Vec<OutputFile>,
    /// Output paths where an original would have been copied (bundle assets, static files)
    /// and a processed copy is written instead.
    pub replaced: HashSet<String>,
    /// Images over the size budget.
    pub warnings: Diagnostics,
    pub stats: Stats,
    /// What templates ask for while they render (`resize_image`, `image_set`), processed
    /// after render ([`super::TemplateImages::finish`]). `None` only in a set made by hand.
    pub templated: Option<Arc<super::TemplateImages>>,
}

/// What the stage did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Source images used.
    pub sources: usize,
    /// Sources decoded (a cache miss).
    pub decoded: usize,
    /// Files encoded, and found in the cache.
    pub encoded: usize,
    pub cached: usize,
}

impl ImageSet {
    /// The set of image `src` written in document `rel_path`.
    pub fn get(&self, rel_path: &str, src: &str) -> Option<&Arc<Responsive>> {
        self.uses.get(&(rel_path.to_string(), src.to_string()))
    }

    /// Page `rel_path`'s cover.
    pub fn cover(&self, rel_path: &str) -> Option<&Arc<Responsive>> {
        self.covers.get(rel_path)
    }

    /// Whether nothing was processed (a site without photos).
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// Called as each source is done: (sources done, sources in all, the file just done).
pub type Progress<'a> = &'a (dyn Fn(usize, usize, &str) + Sync);

/// Where a use was written, for its error.
#[derive(Debug, Clone)]
enum Place {
    /// In a body: the document's file, its body text, and the image's offset in it.
    Body { file: PathBuf, body: Arc<str>, offset: usize },
    /// A typed page's cover field.
    Cover { file: PathBuf, field: String },
    /// A bundle file nobody references in Markdown.
    Asset { file: PathBuf },
}

/// One source and everything wanted of it.
#[derive(Debug, Default)]
struct Job {
    /// Display path (relative to the site root).
    display: PathBuf,
    /// Output folder of its files (`venues/x/`), and the original's file name.
    out_dir: String,
    name: String,
    /// (document, src as written) pairs and covers that want its responsive set.
    uses: Vec<(String, String)>,
    covers: Vec<String>,
    places: Vec<Place>,
}

/// Find, process (in parallel, through the cache) and collect every image `site` uses.
/// `static_files` are the site's and theme's static files by output path (for `/…`
/// addresses). Errors name the document, line and image.
pub fn process_site(
    site: &Site,
    static_files: &BTreeMap<String, OutputFile>,
    root: &Path,
    pipeline: &Pipeline,
    progress: Progress<'_>,
) -> Result<ImageSet, Diagnostics> {
    let config = &site.config.images;
    check_config(config)?;
    let content = root.join("content");
    // By source file; ordered once, by the path's bytes, when all are known (a map ordered
    // by path components costs more than the rest of a warm build's planning).
    let mut jobs: FxHashMap<PathBuf, Job> = FxHashMap::default();
    let mut diags = Diagnostics::new();
    let add_use = |jobs: &mut FxHashMap<PathBuf, Job>,
                       diags: &mut Diagnostics,
                       src: &str,
                       bundle: Option<(&str, &str, &[PathBuf])>,
                       place: Place,
                       owner: Owner| {
        let resolved = match resolve(src, bundle, &content, static_files) {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(e) => {
                diags.push(diagnostic(root, &place, src, &e));
                return;
            }
        };
        let job = jobs.entry(resolved.source.clone()).or_insert_with(|| Job {
            display: resolved.source.strip_prefix(root).unwrap_or(&resolved.source).to_path_buf(),
            out_dir: resolved.out_dir.clone(),
            name: resolved.name.clone(),
            ..Job::default()
        });
        match owner {
            Owner::Body(doc) => job.uses.push((doc, src.to_string())),
            Owner::Cover(page) => job.covers.push(page),
            Owner::Asset => {}
        }
        job.places.push(place);
    };
    for p in &site.pages {
        let bundle = p.rel_path.strip_suffix("/index.md").map(|dir| (dir, p.path.as_str(), p.assets.as_slice()));
        for image in &p.text.images {
            let place = Place::Body { file: p.display_path.clone(), body: p.body.clone(), offset: image.offset };
            add_use(&mut jobs, &mut diags, &image.src, bundle, place, Owner::Body(p.rel_path.clone()));
        }
        if let Some(cover) = p.typed.as_ref().and_then(|t| t.cover()) {
            let field = format!("{}.cover", p.page_type().map(|t| t.key()).unwrap_or_default());
            let place = Place::Cover { file: p.display_path.clone(), field };
            add_use(&mut jobs, &mut diags, cover.src, bundle, place, Owner::Cover(p.rel_path.clone()));
        }
        // Every photo of a bundle, referenced or not: its copy must lose its metadata too.
        for asset in p.assets.iter().filter(|a| is_processed(a)) {
            let name = asset.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let place = Place::Asset { file: asset.strip_prefix(root).unwrap_or(asset).to_path_buf() };
            add_use(&mut jobs, &mut diags, &name, bundle, place, Owner::Asset);
        }
    }
    for s in &site.sections {
        let body: Arc<str> = Arc::from(s.body.as_str());
        for image in &s.text.images {
            let place = Place::Body { file: s.display_path.clone(), body: body.clone(), offset: image.offset };
            add_use(&mut jobs, &mut diags, &image.src, None, place, Owner::Body(s.rel_path.clone()));
        }
    }
    if diags.has_errors() {
        return Err(diags.sorted());
    }

    let set_requests = responsive_requests(config);
    let total = jobs.len();
    let done = AtomicUsize::new(0);
    let mut jobs: Vec<(PathBuf, Job)> = jobs.into_iter().collect();
    jobs.sort_unstable_by(|a, b| a.0.as_os_str().cmp(b.0.as_os_str()));
    type Made = (Responsive, Vec<OutputFile>, super::RunStats);
    let results: Vec<Result<Made, ImageError>> = jobs
        .par_iter()
        .map(|(path, job)| {
            let result = make_set(pipeline, path, job, config, &set_requests);
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            progress(n, total, &job.display.to_string_lossy());
            result
        })
        .collect();

    let mut set = ImageSet::default();
    let mut files: Vec<OutputFile> = Vec::new();
    for ((_, job), result) in jobs.iter().zip(results) {
        let (responsive, made, stats) = match result {
            Ok(r) => r,
            Err(e) => {
                let mut seen = HashSet::new();
                // Where the editor wrote the image, else (a bundle file no text shows) the file.
                let written = job.places.iter().any(|p| !matches!(p, Place::Asset { .. }));
                for place in job.places.iter().filter(|p| !written || !matches!(p, Place::Asset { .. })) {
                    let d = diagnostic(root, place, &job.name, &e);
                    if seen.insert((d.file.clone(), d.line)) {
                        diags.push(d);
                    }
                }
                continue;
            }
        };
        set.stats.sources += 1;
        set.stats.decoded += usize::from(stats.decoded);
        set.stats.encoded += stats.encoded;
        set.stats.cached += stats.cached;
        let largest = responsive.webp.last().expect("a set has a variant");
        if largest.bytes > config.budget_kb * 1024 && !job.uses.is_empty() {
            if let Some(place) = job.places.iter().find(|p| matches!(p, Place::Body { .. } | Place::Cover { .. })) {
                let mut d = diagnostic(
                    root,
                    place,
                    &job.name,
                    &ImageError::Internal { why: String::new() },
                );
                d.severity = crate::diagnostics::Severity::Warning;
                d.message = format!(
                    "image `{}` is {} KB as WebP at {} px wide, over the {} KB budget",
                    job.display.display(),
                    largest.bytes.div_ceil(1024),
                    largest.width,
                    config.budget_kb
                );
                d.hint = Some("crop it to what matters, or lower `webp_quality` / the largest of `widths` under [images]; visitors on slow connections wait for every KB".into());
                set.warnings.push(d);
            }
        }
        let responsive = Arc::new(responsive);
        for u in &job.uses {
            set.uses.insert(u.clone(), responsive.clone());
        }
        for c in &job.covers {
            set.covers.insert(c.clone(), responsive.clone());
        }
        set.replaced.insert(responsive.full.path.clone());
        files.extend(made);
    }
    if diags.has_errors() {
        return Err(diags.sorted());
    }
    pipeline.save_known().map_err(|e| Diagnostics::from(Diagnostic::error(e.to_string()).file(super::cache::CACHE_DIR).hint(e.hint())))?;
    // A path two sources make (a static file and a bundle file at one address) is made once,
    // from the last of them by source path.
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files.dedup_by(|later, earlier| {
        let same = later.path == earlier.path;
        if same {
            std::mem::swap(later, earlier);
        }
        same
    });
    set.files = files;
    set.templated = Some(Arc::new(super::TemplateImages::new(root, config, static_files).with_memo(pipeline.memo())));
    Ok(set)
}

/// Who wants a source.
enum Owner {
    Body(String),
    Cover(String),
    Asset,
}

/// The requests of a responsive set: each configured width in WebP and in the fallback
/// format (the fallback format is decided per source; [`make_set`] swaps it in).
fn responsive_requests(config: &ImagesConfig) -> Vec<u32> {
    let mut widths = config.widths.clone();
    widths.sort_unstable();
    widths.dedup();
    widths
}

/// The widths a source `width` px wide gets: the configured ones below it, and its own
/// when it is no wider than the largest configured (never enlarged).
pub fn widths_for(width: u32, configured: &[u32]) -> Vec<u32> {
    let max = configured.iter().copied().max().unwrap_or(width);
    let mut out: Vec<u32> = configured.iter().copied().filter(|&w| w < width).collect();
    if width <= max || out.is_empty() {
        out.push(width.min(max.max(1)));
    }
    out.sort_unstable();
    out.dedup();
    out
}

fn encodings(config: &ImagesConfig, fallback: Format) -> (Encoding, Encoding) {
    (
        Encoding { format: Format::Webp, quality: config.webp_quality },
        Encoding { format: fallback, quality: config.jpeg_quality },
    )
}

/// Process one source: its set and its full-size copy.
fn make_set(
    pipeline: &Pipeline,
    path: &Path,
    job: &Job,
    config: &ImagesConfig,
    widths: &[u32],
) -> Result<(Responsive, Vec<OutputFile>, super::RunStats), ImageError> {
    let source = pipeline.source(path)?;
    let fallback = source.header.format.fallback();
    let (webp, fb) = encodings(config, fallback);
    let ws = widths_for(source.header.width, widths);
    let mut requests: Vec<Request> = Vec::new();
    for &w in &ws {
        requests.push(Request { op: Operation::FitWidth(w), encoding: webp });
        requests.push(Request { op: Operation::FitWidth(w), encoding: fb });
    }
    let full_width = source.header.width.min(config.full_width.max(1));
    requests.push(Request { op: Operation::FitWidth(full_width), encoding: fb });
    let (processed, stats) = pipeline.run(&source, &requests)?;
    let stem = job.name.rsplit_once('.').map_or(job.name.as_str(), |(s, _)| s);
    let variant = |p: &Processed, format: Format| Variant {
        path: format!("{}{stem}-{}w.{}.{}", job.out_dir, p.width, &p.key[..8], format.extension()),
        width: p.width,
        height: p.height,
        bytes: p.bytes,
    };
    let output = |path: &str, p: &Processed| OutputFile::linked(path, p.file.clone(), p.sha256.clone(), p.bytes, Some(p.id));
    let mut webp_variants = Vec::new();
    let mut fallback_variants = Vec::new();
    let mut files = Vec::new();
    for pair in processed[..processed.len() - 1].chunks_exact(2) {
        let (w, f) = (variant(&pair[0], Format::Webp), variant(&pair[1], fallback));
        files.push(output(&w.path, &pair[0]));
        files.push(output(&f.path, &pair[1]));
        webp_variants.push(w);
        fallback_variants.push(f);
    }
    let full = processed.last().expect("the full-size request");
    let full_path = format!("{}{}", job.out_dir, job.name);
    files.push(output(&full_path, full));
    let largest = fallback_variants.last().expect("at least one width");
    Ok((
        Responsive {
            width: largest.width,
            height: largest.height,
            webp: webp_variants,
            fallback: fallback_variants,
            fallback_type: fallback.mime(),
            full: Variant { path: full_path, width: full.width, height: full.height, bytes: full.bytes },
        },
        files,
        stats,
    ))
}

/// An image address resolved to a source file.
struct Resolved {
    source: PathBuf,
    out_dir: String,
    name: String,
}

/// Whether a bundle file is one the pipeline processes (by its extension; the content is
/// sniffed later).
fn is_processed(path: &Path) -> bool {
    let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    matches!(ext.as_str(), "jpg" | "jpeg" | "png")
}

/// Extensions of images that are processed, or refused with a conversion hint, when a page
/// shows them; others (SVG, GIF, WebP, AVIF) are shown as they are.
fn is_raster_source(path: &str) -> bool {
    let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    matches!(ext.as_str(), "jpg" | "jpeg" | "png" | "heic" | "heif" | "tif" | "tiff" | "bmp")
}

/// Resolve `src` as written in a document: a relative address against the page's bundle
/// (`bundle` = (folder under content/, page URL path, the files loading found in the
/// folder)), an absolute one against the static files. `Ok(None)`: not a local raster
/// image (a URL elsewhere, an SVG): shown as it is.
fn resolve(
    src: &str,
    bundle: Option<(&str, &str, &[PathBuf])>,
    content: &Path,
    static_files: &BTreeMap<String, OutputFile>,
) -> Result<Option<Resolved>, ImageError> {
    let src = src.split(['?', '#']).next().unwrap_or(src);
    if src.is_empty() || src.contains("://") || src.starts_with("//") || src.starts_with("data:") || src.starts_with("@/") {
        return Ok(None);
    }
    let decoded = percent_encoding::percent_decode_str(src).decode_utf8_lossy().into_owned();
    if !is_raster_source(&decoded) {
        return Ok(None);
    }
    let parts: Vec<&str> = decoded.trim_start_matches('/').split('/').filter(|p| !p.is_empty() && *p != ".").collect();
    if parts.iter().any(|p| *p == "..") || Path::new(&decoded).components().any(|c| matches!(c, Component::Prefix(_))) {
        return Err(ImageError::Unsupported { what: "an address that leaves its folder (`..`)".into() });
    }
    let name = parts.last().copied().unwrap_or_default().to_string();
    let folder = parts[..parts.len().saturating_sub(1)].iter().map(|p| format!("{p}/")).collect::<String>();
    if decoded.starts_with('/') {
        let key = parts.join("/");
        return match static_files.get(&key).map(|f| &f.contents) {
            Some(Contents::Copy(path)) => Ok(Some(Resolved { source: path.clone(), out_dir: folder, name })),
            // A file built into kepu's own theme: not a photo.
            Some(Contents::Bytes(_)) => Ok(None),
            // Static files are never the cache's own outputs.
            Some(Contents::Linked { .. }) => Ok(None),
            None => Err(ImageError::Missing),
        };
    }
    let Some((dir, url_path, found)) = bundle else {
        return Err(ImageError::NotInBundle);
    };
    let source = content.join(dir).join(parts.join("/"));
    // A file loading found in the folder needs no second look (one that went since is
    // reported when it is read); one in a subfolder is looked for.
    if !found.iter().any(|f| f.as_os_str() == source.as_os_str()) && !source.is_file() {
        return Err(ImageError::Missing);
    }
    Ok(Some(Resolved { source, out_dir: format!("{}{folder}", url_path.trim_start_matches('/')), name }))
}

/// The error `e` of image `src` at `place`.
fn diagnostic(root: &Path, place: &Place, src: &str, e: &ImageError) -> Diagnostic {
    let d = Diagnostic::error(format!("image `{src}`: {e}")).hint(e.hint());
    match place {
        Place::Body { file, body, offset } => {
            let d = d.file(file).field("image");
            // The body is the end of the file as loaded: locate it in the file's text.
            match std::fs::read(root.join(file)).ok().and_then(|b| crate::load::decode_text(&b).ok()) {
                Some(source) if source.ends_with(&**body) => d.at_offset(&source, source.len() - body.len() + offset),
                _ => d,
            }
        }
        Place::Cover { file, field } => {
            let d = d.file(file).field(field);
            let key = field.rsplit('.').next().unwrap_or(field);
            match std::fs::read(root.join(file)).ok().and_then(|b| crate::load::decode_text(&b).ok()) {
                Some(source) => match source.lines().position(|l| l.trim_start().strip_prefix(key).is_some_and(|r| r.trim_start().starts_with(['=', ':']))) {
                    Some(i) => d.at_line(&source, i + 1),
                    None => d,
                },
                None => d,
            }
        }
        Place::Asset { file } => d.file(file),
    }
}

/// Refuse settings that cannot work, naming the key.
fn check_config(c: &ImagesConfig) -> Result<(), Diagnostics> {
    let bad = |key: &str, message: String, hint: &str| -> Result<(), Diagnostics> {
        Err(Diagnostic::error(message).file("config.toml").field(format!("images.{key}")).hint(hint).into())
    };
    if c.widths.is_empty() || c.widths.iter().any(|&w| w == 0 || w > 10_000) {
        return bad("widths", format!("widths {:?} must be 1 to 10000 pixels, at least one", c.widths), "for example widths = [400, 800, 1200, 1600]");
    }
    for (key, q) in [("webp_quality", c.webp_quality), ("jpeg_quality", c.jpeg_quality)] {
        if !(1..=100).contains(&q) {
            return bad(key, format!("{key} = {q} is not between 1 and 100"), "75 to 85 suits photos");
        }
    }
    if c.max_pixels == 0 {
        return bad("max_pixels", "max_pixels must be positive".into(), "the default is 50000000 (50 megapixels)");
    }
    if c.full_width == 0 {
        return bad("full_width", "full_width must be positive".into(), "the default is 2400");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_never_exceed_the_original() {
        let c = [400, 800, 1200, 1600];
        assert_eq!(widths_for(4000, &c), vec![400, 800, 1200, 1600]);
        assert_eq!(widths_for(1000, &c), vec![400, 800, 1000]);
        assert_eq!(widths_for(300, &c), vec![300]);
        assert_eq!(widths_for(1600, &c), vec![400, 800, 1200, 1600]);
    }
}
