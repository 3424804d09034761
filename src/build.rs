//! The pipeline, run end to end: load → model → render → index → write (render and index
//! both read only the model; the index is built first, see [`generate`]). `kepu build`,
//! `kepu check` and `kepu serve` all go through [`generate`]; only [`build`] touches the
//! output folder.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::model::{ModelOptions, Site};
use crate::output::OutputFile;
use crate::images::{self, ImageSet};
use crate::{load, model, render, write};

/// What to build and how.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Site root (holds config.toml and content/).
    pub root: PathBuf,
    /// Output folder; `public/` under the root by default.
    pub output: PathBuf,
    /// Overrides `base_url` from config.toml.
    pub base_url: Option<String>,
    pub include_drafts: bool,
    /// Minify HTML/CSS/JS (also on when config.toml's `[output] minify` is).
    pub minify: bool,
    /// Write `.gz`/`.br` siblings (also on when `[output] precompress` is).
    pub precompress: bool,
    /// Told as each image is processed (for a progress bar).
    pub image_progress: ImageProgress,
}

/// A callback told (images done, images in all, the file just done) during the images stage.
#[derive(Clone, Default)]
pub struct ImageProgress(pub Option<std::sync::Arc<dyn Fn(usize, usize, &str) + Send + Sync>>);

impl std::fmt::Debug for ImageProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "ImageProgress(Some)" } else { "ImageProgress(None)" })
    }
}

impl BuildOptions {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        BuildOptions {
            output: root.join("public"),
            root,
            base_url: None,
            include_drafts: false,
            minify: false,
            precompress: false,
            image_progress: ImageProgress::default(),
        }
    }
}

/// The pipeline's stages, reported as they start (for progress displays).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Load,
    Model,
    Images,
    Render,
    Index,
    Write,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::Load => "load",
            Stage::Model => "model",
            Stage::Images => "images",
            Stage::Render => "render",
            Stage::Index => "index",
            Stage::Write => "write",
        }
    }
}

/// How long each stage took, in the order they ran.
#[derive(Debug, Clone, Default)]
pub struct Timings {
    pub stages: Vec<StageTime>,
}

/// One stage's wall time, and the CPU time the process spent in it (all threads: on two
/// cores a stage that keeps both busy shows about twice its wall time), with the memory it
/// left resident and the page faults it took: on a virtual machine, faulting fresh memory in
/// is a large part of a stage's system time.
#[derive(Debug, Clone, Copy)]
pub struct StageTime {
    pub stage: Stage,
    pub wall: Duration,
    pub cpu: Duration,
    /// Resident memory when the stage ended, in bytes (0 where the system does not say).
    pub resident_after: u64,
    /// Minor page faults the process took during the stage.
    pub page_faults: u64,
}

impl Timings {
    pub fn total(&self) -> Duration {
        self.stages.iter().map(|t| t.wall).sum()
    }
}

/// The site and its files, ready to write or serve.
#[derive(Debug)]
pub struct Generated {
    pub site: Site,
    pub files: Vec<OutputFile>,
    pub timings: Timings,
    pub warnings: Diagnostics,
    /// What the images stage did.
    pub images: crate::images::site::Stats,
}

/// What a successful build did.
#[derive(Debug, Clone)]
pub struct BuildReport {
    pub pages: usize,
    pub sections: usize,
    pub files: usize,
    pub bytes: u64,
    /// What minifying and precompressing did (zeros when they were off).
    pub bytes_before_minify: u64,
    pub compressed_files: usize,
    pub compressed_bytes: u64,
    pub timings: Timings,
    pub warnings: Diagnostics,
    /// What the images stage did.
    pub images: crate::images::site::Stats,
}

/// The site modelled, with the theme it renders with: what the load and model stages give.
struct Modelled {
    site: Site,
    assets: load::theme::Assets,
    timings: Timings,
}

/// Time a stage: report it as started, run it, record its wall and CPU time.
fn timed<T>(stage: Stage, on_stage: &mut dyn FnMut(Stage), timings: &mut Timings, run: impl FnOnce() -> T) -> T {
    on_stage(stage);
    let (start, before) = (Instant::now(), ProcessUsage::now());
    let out = run();
    let after = ProcessUsage::now();
    timings.stages.push(StageTime {
        stage,
        wall: start.elapsed(),
        cpu: after.cpu.saturating_sub(before.cpu),
        resident_after: resident_bytes(),
        page_faults: after.page_faults.saturating_sub(before.page_faults),
    });
    out
}

/// The process's CPU time (user and system) and minor page faults so far.
#[derive(Default)]
struct ProcessUsage {
    cpu: Duration,
    page_faults: u64,
}

impl ProcessUsage {
    fn now() -> Self {
        // SAFETY: getrusage only writes the struct it is given.
        let usage = unsafe {
            let mut usage: libc::rusage = std::mem::zeroed();
            if libc::getrusage(libc::RUSAGE_SELF, &mut usage) != 0 {
                return Self::default();
            }
            usage
        };
        let time = |t: libc::timeval| Duration::new(t.tv_sec.max(0) as u64, (t.tv_usec.max(0) as u32) * 1000);
        Self { cpu: time(usage.ru_utime) + time(usage.ru_stime), page_faults: usage.ru_minflt.max(0) as u64 }
    }
}

/// The process's resident memory now (Linux: `/proc/self/statm`), 0 where unknown.
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|n| n.parse().ok()).unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let page_size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(0) as u64;
    pages * page_size
}

/// Load and model: config, content, theme.
fn load_and_model(options: &BuildOptions, on_stage: &mut dyn FnMut(Stage)) -> Result<Modelled, Diagnostics> {
    let mut timings = Timings::default();
    let (config, documents, assets) = timed(Stage::Load, on_stage, &mut timings, || -> Result<_, Diagnostics> {
        let mut config = Config::load(&options.root)?;
        if let Some(url) = &options.base_url {
            crate::config::check_base_url(url).map_err(|message| {
                Diagnostics::from(Diagnostic::error(format!("--base-url: {message}")).hint("pass an address such as https://example.org/"))
            })?;
            config.base_url = url.clone();
        }
        let docs = load::load_content(&options.root);
        let assets = load::theme::load_assets(&options.root, &config.theme);
        match (docs, assets) {
            (Ok(d), Ok(a)) => Ok((config, d, a)),
            (d, a) => {
                let mut all = Diagnostics::new();
                if let Err(e) = d {
                    all.extend(e);
                }
                if let Err(e) = a {
                    all.extend(e);
                }
                Err(all.sorted())
            }
        }
    })?;
    let model_options = ModelOptions { include_drafts: options.include_drafts };
    let site = timed(Stage::Model, on_stage, &mut timings, || model::build(config, documents, &model_options))?;
    Ok(Modelled { site, assets, timings })
}

/// The images stage: every photo the site shows, processed through the cache under the site
/// root. Its files replace the static files of the same path (originals with metadata).
pub fn process_images(
    options: &BuildOptions,
    site: &Site,
    assets: &load::theme::Assets,
    pipeline: &images::Pipeline,
) -> Result<ImageSet, Diagnostics> {
    let progress = |done: usize, total: usize, file: &str| {
        if let Some(p) = &options.image_progress.0 {
            p(done, total, file);
        }
    };
    let set = images::process_site(site, &assets.static_files, &options.root, pipeline, &progress)?;
    Ok(set)
}

/// The image pipeline of a site: its cache, its pixel limit.
pub fn image_pipeline(options: &BuildOptions, site: &Site) -> images::Pipeline {
    images::Pipeline::open(&options.root, site.config.images.max_pixels)
}

/// The images templates asked for while rendering (`resize_image`, `image_set`), processed
/// now through the same pipeline and cache; counted in the images stage's figures. A static
/// photo a template used is published without its metadata, like those pages show.
pub fn template_images(options: &BuildOptions, images: &mut ImageSet, pipeline: &images::Pipeline) -> Result<Vec<OutputFile>, Diagnostics> {
    Ok(finish_template_images(options, images, pipeline)?.files)
}

/// [`template_images`] with which pages asked for each file (for `kepu serve`).
pub fn finish_template_images(
    options: &BuildOptions,
    images: &mut ImageSet,
    pipeline: &images::Pipeline,
) -> Result<images::templated::Finished, Diagnostics> {
    let Some(templated) = images.templated.clone() else { return Ok(Default::default()) };
    let progress = |done: usize, total: usize, file: &str| {
        if let Some(p) = &options.image_progress.0 {
            p(done, total, file);
        }
    };
    let mut finished = templated.finish(pipeline, &progress)?;
    images.warnings.extend(std::mem::take(&mut finished.warnings));
    images.replaced.extend(finished.replaced.iter().cloned());
    let stats = finished.stats;
    images.stats.sources += stats.sources;
    images.stats.decoded += stats.decoded;
    images.stats.encoded += stats.encoded;
    images.stats.cached += stats.cached;
    Ok(finished)
}

/// Static files less those the images stage replaced, then the images stage's files.
fn static_and_image_files(assets: load::theme::Assets, images: &mut ImageSet) -> Vec<OutputFile> {
    let mut files: Vec<OutputFile> =
        assets.static_files.into_values().filter(|f| !images.replaced.contains(&f.path)).collect();
    files.append(&mut images.files);
    files
}

/// Run load → model → index → render, without touching the disk's output (`kepu check` and
/// `kepu serve` keep the files in memory).
pub fn generate(options: &BuildOptions, on_stage: &mut dyn FnMut(Stage)) -> Result<Generated, Diagnostics> {
    let Modelled { site, assets, mut timings } = load_and_model(options, on_stage)?;
    // The index reads the model, not the rendered pages, so it runs first: its working memory
    // (millions of postings) is freed before the rendered site is held in memory, which keeps
    // peak memory near the larger of the two rather than their sum.
    let index_files = timed(Stage::Index, on_stage, &mut timings, || search_index(&site))?;
    let pipeline = image_pipeline(options, &site);
    let mut images = timed(Stage::Images, on_stage, &mut timings, || process_images(options, &site, &assets, &pipeline))?;
    // The render timing includes the images templates asked for, made once render is done.
    let (mut files, render_warnings) = timed(Stage::Render, on_stage, &mut timings, || {
        let (mut files, warnings) = render::render(&site, &assets, &images)?;
        files.extend(template_images(options, &mut images, &pipeline)?);
        Ok::<_, Diagnostics>((files, warnings))
    })?;
    files.extend(index_files);
    let mut warnings = config_warnings(&site);
    warnings.extend(std::mem::take(&mut images.warnings));
    warnings.extend(render_warnings);
    let stats = images.stats;
    files.extend(static_and_image_files(assets, &mut images));
    Ok(Generated { site, files, timings, warnings, images: stats })
}

/// The config's own warnings (the Zola keys kepu does not use), reported once per build.
fn config_warnings(site: &Site) -> Diagnostics {
    site.config.zola.warning.clone().into_iter().collect()
}

/// The index stage's files for `site` (empty while search is disabled). The seam `kepu serve`
/// uses too: it regenerates the index after each rebuild.
pub fn search_index(site: &Site) -> Result<Vec<OutputFile>, Diagnostics> {
    if !site.config.search.enabled {
        return Ok(Vec::new());
    }
    crate::index::build(site).map_err(|e| {
        Diagnostics::from(
            Diagnostic::error(format!("building the search index failed: {e}"))
                .hint("set `[search] enabled = false` in config.toml to build without search"),
        )
    })
}

/// The folder of the site's cache (`.kepu-cache/`) where the output a build replaced is kept
/// for the next build to start from.
pub const PREVIOUS_OUTPUT: &str = "previous-output";

/// Generate and write the site atomically. On any error the output folder is untouched.
///
/// Unlike [`generate`], files go to the write stage's staging folder as soon as they are
/// made (the index's, then each page as it is rendered), so the rendered site is never held
/// in memory whole; the `render` timing therefore includes writing the pages, and `write`
/// is what is left: static files, the manifest and the swap.
pub fn build(options: &BuildOptions, on_stage: &mut dyn FnMut(Stage)) -> Result<BuildReport, Diagnostics> {
    let Modelled { site, assets, mut timings } = load_and_model(options, on_stage)?;
    let out = &site.config.output;
    let write_options =
        write::WriteOptions { minify: options.minify || out.minify, precompress: options.precompress || out.precompress };
    let write_failed = |e: write::WriteError| {
        Diagnostics::from(
            Diagnostic::error(format!("writing the site failed: {e}"))
                .file(display(&options.root, &options.output))
                .hint("the previous output folder was left as it was; fix the cause and build again"),
        )
    };
    // Dropped unfinished on any error below: the staging folder goes, the output stays.
    // Images first: a broken photo fails the build before anything is staged.
    let pipeline = image_pipeline(options, &site);
    let mut images = timed(Stage::Images, on_stage, &mut timings, || process_images(options, &site, &assets, &pipeline))?;
    // The output this build replaces is kept in the cache folder, and the next build starts
    // from it: the photos linked into it stay where they are (nothing linked, nothing
    // removed), and no folder of the site is created and removed again.
    let keep = options.root.join(images::cache::CACHE_DIR).join(PREVIOUS_OUTPUT);
    let staging = write::Staging::begin_reusing(&options.output, &options.root, write_options, &keep).map_err(write_failed)?;
    let index_files = timed(Stage::Index, on_stage, &mut timings, || search_index(&site))?;
    staging.add_all(index_files);
    // The render timing includes the images templates asked for, made once render is done
    // and before anything is swapped in: one that fails stops the build here.
    let render_warnings = timed(Stage::Render, on_stage, &mut timings, || {
        let warnings = render::render_into(&site, &assets, &images, &|f| staging.add(f))?;
        staging.add_all(template_images(options, &mut images, &pipeline)?);
        Ok::<_, Diagnostics>(warnings)
    })?;
    let mut warnings = config_warnings(&site);
    warnings.extend(std::mem::take(&mut images.warnings));
    warnings.extend(render_warnings);
    let stats = images.stats;
    let report = timed(Stage::Write, on_stage, &mut timings, || {
        staging.add_all(static_and_image_files(assets, &mut images));
        staging.finish()
    })
    .map_err(write_failed)?;
    // Only a whole build knows every image in use: drop the cache entries none used.
    if let Err(e) = pipeline.prune() {
        warnings.push(Diagnostic::warning(format!("could not prune the image cache: {e}")).file(images::cache::CACHE_DIR));
    }
    for (path, why) in &report.not_minified {
        warnings.push(
            Diagnostic::warning(format!("{path} was written unminified: {why}"))
                .file(display(&options.root, &options.output.join(path)))
                .hint("the file is served as it is; fix its syntax to have it minified"),
        );
    }
    Ok(BuildReport {
        pages: site.pages.len(),
        sections: site.sections.len(),
        files: report.files,
        bytes: report.bytes,
        bytes_before_minify: report.bytes_before_minify,
        compressed_files: report.compressed_files,
        compressed_bytes: report.compressed_bytes,
        timings,
        warnings,
        images: stats,
    })
}

fn display(root: &Path, p: &Path) -> PathBuf {
    p.strip_prefix(root).unwrap_or(p).to_path_buf()
}
