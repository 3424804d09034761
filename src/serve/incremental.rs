//! Rebuilding only what an edit touched.
//!
//! [`Live`] keeps what the stages produced last time — the documents, the model's per-page
//! cache, the last good `Site` and which output files each render [`Target`] produced — and
//! on a change:
//!
//! 1. re-reads only the changed files ([`crate::load::read_content_file`]); config, theme and
//!    static files are re-read when they changed;
//! 2. rebuilds the model from the cached documents ([`crate::model::build_cached`]: per-page
//!    work is reused, every cross-page check runs again, so errors are exactly the full
//!    build's) — or, for a one-page edit that leaves what other pages depend on as it was
//!    (body, description, title, weight, dates), patches the last good model in place
//!    ([`crate::model::patch_page`], planned by [`plan_patch`]);
//! 3. decides from the old and new models which targets can differ ([`plan`]): the edited
//!    page; if what other pages show of it changed (its [`PageRef`]: title, URL, summary, typed
//!    data, …), the section pagers and taxonomy terms that list it, the pages related to it
//!    (both ways), the pages linking to it when its URL moved, the calendar and the feeds. A
//!    config or template change, or a change of what every page shows (navigation, cities),
//!    renders everything;
//! 4. renders those targets, compares the files with what is served, and hands back the
//!    difference and the pages to reload.
//!
//! The search index is regenerated after the pages are swapped in ([`Live::update_index`]) so
//! that it never delays the reload.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

// Fx hashing: the sets and maps here hold every output of the site and are walked on each
// rebuild, where SipHash cost a few milliseconds at ten thousand pages.
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use bytes::Bytes;

use crate::build::{self, BuildOptions};
use crate::config::Config;
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::load::theme::{self, Assets};
use crate::load::{self, Document};
use crate::model::{self, DocRef, ModelCache, ModelOptions, PageType, Site};
use crate::output::{Contents, OutputFile};
use crate::render::context::{page_ref, section_ref};
use crate::render::templates::TemplateReach;
use crate::render::{self, Globals, Renderer, Target};

use super::overlay::LiveMessage;

/// What changed on disk since the last rebuild.
#[derive(Debug, Clone, Default)]
pub struct ChangeSet {
    /// `config.toml`.
    pub config: bool,
    /// Templates, themes or static files.
    pub assets: bool,
    /// Files and folders under `content/` (absolute paths).
    pub content: BTreeSet<PathBuf>,
    /// Re-read all of `content/` (the watcher lost track, or a folder appeared).
    pub rescan: bool,
}

impl ChangeSet {
    /// Everything, as for the first build.
    pub fn everything() -> Self {
        ChangeSet { config: true, assets: true, content: BTreeSet::new(), rescan: true }
    }
    pub fn is_empty(&self) -> bool {
        !self.config && !self.assets && !self.rescan && self.content.is_empty()
    }
    pub fn merge(&mut self, other: ChangeSet) {
        self.config |= other.config;
        self.assets |= other.assets;
        self.rescan |= other.rescan;
        self.content.extend(other.content);
    }
}

/// A file of the served site, in memory or (static files, bundle assets) on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Served {
    Bytes(Bytes),
    File(PathBuf),
}

impl From<Contents> for Served {
    fn from(c: Contents) -> Self {
        match c {
            Contents::Bytes(b) => Served::Bytes(Bytes::from(b)),
            Contents::Copy(p) | Contents::Linked { file: p, .. } => Served::File(p),
        }
    }
}

/// Changes to the served files: paths relative to the site root, as in the output folder.
#[derive(Debug, Clone, Default)]
pub struct Update {
    pub upserts: Vec<(String, Served)>,
    pub removes: Vec<String>,
}

impl Update {
    pub fn is_empty(&self) -> bool {
        self.upserts.is_empty() && self.removes.is_empty()
    }
}

/// How much a rebuild did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RebuildKind {
    /// The first build.
    Initial,
    /// Everything rendered (config or templates changed, or what every page shows).
    Full,
    /// Only the targets an edit touched.
    Incremental,
    /// The search index, after the pages.
    Index,
}

/// What a successful rebuild did.
#[derive(Debug, Clone)]
pub struct RebuildReport {
    pub kind: RebuildKind,
    /// Content documents that changed since the last good build.
    pub sources: usize,
    /// Render targets rendered (pages, pagers, term pages, …).
    pub rendered: usize,
    /// Targets a full render has.
    pub targets: usize,
    /// Served files added, changed or removed.
    pub changed_files: usize,
    pub pages: usize,
    /// The model was patched in place for a one-page edit instead of rebuilt.
    pub model_patched: bool,
    pub elapsed: Duration,
    pub warnings: Diagnostics,
}

/// The result of one rebuild.
#[derive(Debug)]
pub enum Outcome {
    Built { report: RebuildReport, update: Update, reload: LiveMessage },
    Failed { diagnostics: Diagnostics, elapsed: Duration },
}

/// The last build that succeeded: what is being served.
struct Good {
    site: Site,
    globals: Globals,
    /// The pages' listing values, reused for pages whose document did not change.
    refs: render::PageRefs,
    /// Output paths each target produced.
    owned: HashMap<Target, Vec<String>>,
    static_paths: BTreeSet<String>,
    index_paths: BTreeSet<String>,
    /// Files of the images stage being served.
    image_paths: BTreeSet<String>,
    /// Files templates asked for (`resize_image`, `image_set`, `figure`) by the page (URL
    /// path) that asked: a page rendered again replaces its own, the others keep theirs.
    template_images: BTreeMap<String, BTreeSet<String>>,
}

/// The stages' state between rebuilds.
pub struct Live {
    options: BuildOptions,
    config: Option<Config>,
    assets: Option<Assets>,
    templates: TemplateReach,
    /// The templates parsed and the static files hashed, kept until they change (see
    /// [`render::templates::Compiled`]).
    compiled: Option<render::templates::Compiled>,
    docs: BTreeMap<String, Arc<Document>>,
    doc_errors: BTreeMap<String, Diagnostic>,
    /// `content/` could not be read as a whole; the next change re-reads all of it.
    content_failed: bool,
    cache: ModelCache,
    good: Option<Good>,
    /// Content documents changed since the last good build.
    pending: BTreeSet<String>,
    /// Config or templates changed since the last good build.
    pending_full: bool,
    /// Static files changed since the last good build.
    pending_static: bool,
    index_stale: bool,
    /// Mirror of the served files, to tell which outputs really changed.
    files: HashMap<String, Served>,
    /// The image pipeline, kept between rebuilds: its cache is the one `kepu build` uses
    /// (an added photo is the only one encoded), and it remembers which sources it has read.
    images: Option<crate::images::Pipeline>,
    /// The data files the templates name, as of the last time the templates were read (a
    /// missing or broken one included, so that creating or fixing it is seen).
    data_files: Vec<PathBuf>,
}

impl Live {
    /// Nothing is read until the first [`Live::rebuild`].
    pub fn new(options: BuildOptions) -> Self {
        Live {
            options,
            config: None,
            assets: None,
            templates: TemplateReach::default(),
            compiled: None,
            docs: BTreeMap::new(),
            doc_errors: BTreeMap::new(),
            content_failed: true,
            cache: ModelCache::default(),
            good: None,
            pending: BTreeSet::new(),
            pending_full: true,
            pending_static: true,
            index_stale: false,
            files: HashMap::default(),
            images: None,
            data_files: Vec::new(),
        }
    }

    /// The last good site, if a build has succeeded.
    pub fn site(&self) -> Option<&Site> {
        self.good.as_ref().map(|g| &g.site)
    }

    /// Every file being served (for tests and tools).
    pub fn files(&self) -> &HashMap<String, Served> {
        &self.files
    }

    /// Bring the site up to date with `changes`. On failure the last good site stays as it
    /// was, and the changes are remembered for the next rebuild.
    pub fn rebuild(&mut self, changes: &ChangeSet) -> Outcome {
        let start = Instant::now();
        match self.try_rebuild(changes, start) {
            Ok(outcome) => outcome,
            Err(diagnostics) => Outcome::Failed { diagnostics, elapsed: start.elapsed() },
        }
    }

    fn root(&self) -> &Path {
        &self.options.root
    }

    fn try_rebuild(&mut self, changes: &ChangeSet, start: Instant) -> Result<Outcome, Diagnostics> {
        self.read_sources(changes)?;
        let options = ModelOptions { include_drafts: self.options.include_drafts };
        // A one-page edit that leaves the page in place patches the last good model; anything
        // else rebuilds the model (from cached pages).
        let (site, patched) = match self.try_patch(&options) {
            Some((site, old_page)) => (site, Some(old_page)),
            None => {
                let config = self.config.clone().expect("read_sources loaded the config");
                let docs: Vec<Arc<Document>> = self.docs.values().cloned().collect();
                (model::build_cached(config, &docs, &options, &mut self.cache)?, None)
            }
        };

        let assets = self.assets.as_ref().expect("read_sources loaded the assets");
        let pipeline = self.images.get_or_insert_with(|| build::image_pipeline(&self.options, &site));
        pipeline.max_pixels = site.config.images.max_pixels;
        let mut images = match build::process_images(&self.options, &site, assets, pipeline) {
            Ok(set) => set,
            Err(d) => return Err(self.unpatch(site, patched, d)),
        };
        let assets = self.assets.as_ref().expect("read_sources loaded the assets");
        // A page's listing value depends on its own document and the config only; reuse the
        // others' (serializing ten thousand of them would cost more than the whole render).
        let refs = match &self.good {
            // (A patched site was moved out of `good`, and keeps its sections.)
            Some(good) if !self.pending_full && (patched.is_some() || good.site.sections.len() == site.sections.len()) => {
                let changed_section = self.pending.iter().any(|rel| matches!(site.get(rel), Some(DocRef::Section(_))));
                if changed_section {
                    render::PageRefs::new(&site, &images)
                } else {
                    render::PageRefs::update(&site, &images, &good.refs, &|rel| self.pending.contains(rel))
                }
            }
            _ => render::PageRefs::new(&site, &images),
        };
        if self.compiled.is_none() {
            match render::templates::Compiled::new(assets) {
                Ok(t) => self.compiled = Some(t),
                Err(d) => return Err(self.unpatch(site, patched, d)),
            }
        }
        let assets = self.assets.as_ref().expect("read_sources loaded the assets");
        let renderer = match Renderer::with_parts(&site, assets, &images, refs, self.compiled.take()) {
            Ok(r) => r,
            Err(d) => return Err(self.unpatch(site, patched, d)),
        };
        // Cards carried over from the last build are still right unless what every page
        // shows changed (a card may show it too), or the card template looks pages up itself.
        let card = render::templates::CARD_TEMPLATE;
        let cards_read_the_site = self.templates.lookups.contains(card) || self.templates.content_links.contains(card);
        if cards_read_the_site || self.good.as_ref().is_none_or(|g| g.globals != *renderer.globals()) {
            renderer.page_refs().cards().clear();
        }
        let all: Vec<Target> = render::targets(&site, assets);
        let planned = match &self.good {
            Some(good) if !self.pending_full && good.globals == *renderer.globals() => {
                let planned = match &patched {
                    Some(patch) => Some(plan_patch(&site, patch)),
                    None => plan(&good.site, &site, &self.pending),
                };
                planned.map(|p| {
                    let mut dirty = p.dirty;
                    // Outputs whose templates look pages up, or resolve content links, by
                    // themselves (the home page listing sections, say).
                    let reach = &self.templates;
                    if p.listings_changed && !reach.lookups.is_empty() {
                        dirty.extend(renderer.targets_using(&all, &reach.lookups));
                    }
                    if p.urls_changed && !reach.content_links.is_empty() {
                        dirty.extend(renderer.targets_using(&all, &reach.content_links));
                    }
                    dirty
                })
            }
            _ => None,
        };
        let kind = match (&self.good, &planned) {
            (None, _) => RebuildKind::Initial,
            (Some(_), None) => RebuildKind::Full,
            (Some(_), Some(_)) => RebuildKind::Incremental,
        };
        let to_render: Vec<Target> = match &planned {
            None => all.clone(),
            Some(dirty) => all.iter().filter(|t| dirty.contains(*t)).cloned().collect(),
        };
        let rendered = match renderer.render_targets(&to_render) {
            Ok(r) => r,
            Err(d) => {
                self.compiled = Some(renderer.into_templates());
                return Err(self.unpatch(site, patched, d));
            }
        };
        let render_warnings = renderer.take_warnings();
        let globals = renderer.globals().clone();
        let refs = renderer.page_refs().clone();
        self.compiled = Some(renderer.into_templates());
        // The images the re-rendered templates asked for (`resize_image`, `image_set`).
        let pipeline = self.images.as_ref().expect("made above");
        let finished = match build::finish_template_images(&self.options, &mut images, pipeline) {
            Ok(finished) => finished,
            Err(d) => return Err(self.unpatch(site, patched, d)),
        };
        // The pages rendered now, as the URL paths templates see in `current_path`.
        let prefix = site.config.path_prefix();
        let rendered_pages: HashSet<String> = rendered
            .iter()
            .flat_map(|(_, files)| files.iter())
            .filter_map(|f| f.path.strip_suffix("index.html").map(|dir| format!("{prefix}/{dir}")))
            .collect();

        // The new output as a difference from what is served. Removals first: a path can
        // move from one target to another.
        let mut good = self.good.take();
        let old_site_gone = |good: Option<Good>| {
            // Freeing a large site takes a while; not on the way to the reload.
            if let Some(old) = good {
                std::thread::spawn(move || drop(old));
            }
        };
        let mut owned = good.as_mut().map(|g| std::mem::take(&mut g.owned)).unwrap_or_default();
        let mut update = Update::default();
        let mut produced: HashSet<String> = HashSet::default();
        let mut removed: BTreeSet<String> = BTreeSet::new();
        let alive: HashSet<&Target> = all.iter().collect();
        owned.retain(|t, paths| {
            let keep = alive.contains(t);
            if !keep {
                removed.extend(paths.iter().cloned());
            }
            keep
        });
        let mut upserts: BTreeMap<String, Served> = BTreeMap::new();
        for (target, files) in rendered {
            let paths: Vec<String> = files.iter().map(|f| f.path.clone()).collect();
            if let Some(old) = owned.insert(target, paths) {
                removed.extend(old);
            }
            for f in files {
                produced.insert(f.path.clone());
                upserts.insert(f.path, f.contents.into());
            }
        }
        let mut static_paths = good.as_ref().map(|g| g.static_paths.clone()).unwrap_or_default();
        let static_changed = self.pending_static;
        if static_changed {
            removed.extend(static_paths.iter().cloned());
            static_paths.clear();
            for (path, f) in assets.static_files.iter().filter(|(p, _)| !images.replaced.contains(*p)) {
                static_paths.insert(path.clone());
                produced.insert(path.clone());
                upserts.entry(path.clone()).or_insert_with(|| f.contents.clone().into());
            }
        }
        let index_paths = good.as_ref().map(|g| g.index_paths.clone()).unwrap_or_default();
        produced.extend(index_paths.iter().cloned());
        // The images stage's files: all of them each time (each is a path into the cache;
        // only those that differ from what is served count as changed).
        if let Some(g) = &good {
            removed.extend(g.image_paths.iter().cloned());
        }
        let mut image_paths = BTreeSet::new();
        for f in std::mem::take(&mut images.files) {
            image_paths.insert(f.path.clone());
            produced.insert(f.path.clone());
            upserts.insert(f.path, f.contents.into());
        }

        // Template images: a page rendered again has asked for its own anew; the others keep
        // what they asked for before. Served: what any page asks for (and the static photos'
        // copies without metadata).
        let mut template_images = good.as_ref().map(|g| g.template_images.clone()).unwrap_or_default();
        let before: BTreeSet<String> = template_images.values().flatten().cloned().collect();
        if planned.is_none() {
            template_images.clear();
        } else {
            template_images.retain(|page, _| !rendered_pages.contains(page));
        }
        for (path, pages) in &finished.asked_by {
            for page in pages {
                template_images.entry(page.clone()).or_default().insert(path.clone());
            }
        }
        let now: BTreeSet<String> = template_images.values().flatten().cloned().collect();
        removed.extend(before.difference(&now).cloned());
        for f in finished.files {
            produced.insert(f.path.clone());
            upserts.insert(f.path, f.contents.into());
        }

        let mut changed: BTreeSet<String> = BTreeSet::new();
        for path in removed {
            if !produced.contains(&path) && self.files.remove(&path).is_some() {
                update.removes.push(path.clone());
                changed.insert(path);
            }
        }
        for (path, served) in upserts {
            let is_static = static_changed && static_paths.contains(&path);
            if is_static || self.files.get(&path) != Some(&served) {
                self.files.insert(path.clone(), served.clone());
                update.upserts.push((path.clone(), served));
                changed.insert(path);
            }
        }

        let report = RebuildReport {
            kind,
            sources: self.pending.len(),
            rendered: to_render.len(),
            targets: all.len(),
            changed_files: changed.len(),
            pages: site.pages.len(),
            model_patched: patched.is_some(),
            elapsed: start.elapsed(),
            // The config's warning once, with the first build (and after a config edit); the
            // images' and the render stage's for what this rebuild rendered.
            warnings: {
                let mut w = match (&site.config.zola.warning, kind) {
                    (Some(w), RebuildKind::Initial | RebuildKind::Full) => w.clone().into(),
                    _ => Diagnostics::new(),
                };
                w.extend(std::mem::take(&mut images.warnings));
                w.extend(render_warnings);
                w
            },
        };
        let reload = LiveMessage::reload(kind == RebuildKind::Initial, &changed);
        old_site_gone(good);
        self.good = Some(Good { site, globals, refs, owned, static_paths, index_paths, image_paths, template_images });
        self.pending.clear();
        self.pending_full = false;
        self.pending_static = false;
        self.index_stale = true;
        Ok(Outcome::Built { report, update, reload })
    }

    /// The last good site with the one pending page edit applied (see
    /// [`model::patch_page`]) and what it replaced; `None` when the pending changes need a
    /// model rebuild. The site is moved out of the last good build; [`Live::unpatch`] puts it
    /// back if the rebuild then fails.
    fn try_patch(&mut self, options: &ModelOptions) -> Option<(Site, model::Patched)> {
        if self.pending_full || self.pending_static || self.pending.len() != 1 {
            return None;
        }
        let rel = self.pending.iter().next()?;
        let doc = self.docs.get(rel)?.clone();
        let good = self.good.as_mut()?;
        let patched = model::patch_page(&mut good.site, &doc, options, &mut self.cache)?;
        Some((good.site.take(), patched))
    }

    /// Undo [`Live::try_patch`] after a failed rebuild, so the last good site stays as it was;
    /// passes the failure's diagnostics through.
    fn unpatch(&mut self, site: Site, patched: Option<model::Patched>, diagnostics: Diagnostics) -> Diagnostics {
        if let (Some(patched), Some(good)) = (patched, self.good.as_mut()) {
            let mut site = site;
            model::unpatch_page(&mut site, patched);
            good.site = site;
        }
        diagnostics
    }

    /// Regenerate the search index of the last good site, if it is stale. `None` when there
    /// is nothing to do or nothing changed.
    pub fn update_index(&mut self) -> Option<Outcome> {
        if !self.index_stale {
            return None;
        }
        let start = Instant::now();
        let good = self.good.as_mut()?;
        self.index_stale = false;
        let files = match build::search_index(&good.site) {
            Ok(f) => f,
            Err(diagnostics) => return Some(Outcome::Failed { diagnostics, elapsed: start.elapsed() }),
        };
        let mut update = Update::default();
        let mut changed = BTreeSet::new();
        let new_paths: BTreeSet<String> = files.iter().map(|f| f.path.clone()).collect();
        for old in &good.index_paths {
            if !new_paths.contains(old) && self.files.remove(old).is_some() {
                update.removes.push(old.clone());
                changed.insert(old.clone());
            }
        }
        for OutputFile { path, contents } in files {
            let served: Served = contents.into();
            if self.files.get(&path) != Some(&served) {
                self.files.insert(path.clone(), served.clone());
                update.upserts.push((path.clone(), served));
                changed.insert(path);
            }
        }
        good.index_paths = new_paths;
        if update.is_empty() {
            return None;
        }
        let report = RebuildReport {
            kind: RebuildKind::Index,
            sources: 0,
            rendered: 0,
            targets: 0,
            changed_files: changed.len(),
            pages: good.site.pages.len(),
            model_patched: false,
            elapsed: start.elapsed(),
            warnings: Diagnostics::new(),
        };
        // Only the search page reads the index.
        let reload = LiveMessage::Reload { version: 0, all: false, paths: vec![good.site.url("/search/")] };
        Some(Outcome::Built { report, update, reload })
    }

    /// The data files the templates read with `load_data` (absolute paths, under the root as
    /// given): [`crate::serve::watch`] watches them, and a change to one re-reads the assets
    /// and renders everything, as for a template.
    pub fn data_files(&self) -> Vec<PathBuf> {
        self.data_files.clone()
    }

    /// Re-read what changed on disk: config, assets, content documents.
    fn read_sources(&mut self, changes: &ChangeSet) -> Result<(), Diagnostics> {
        let root = self.root().to_path_buf();
        if changes.config || self.config.is_none() {
            let loaded = Config::load(&root).and_then(|mut c| {
                if let Some(url) = &self.options.base_url {
                    c.base_url = url.clone();
                }
                Ok(c)
            });
            let config = match loaded {
                Ok(c) => c,
                Err(e) => {
                    self.config = None;
                    return Err(e);
                }
            };
            let same = self.config.as_ref().is_some_and(|old| same_config(old, &config));
            if !same {
                self.pending_full = true;
                if self.config.as_ref().is_none_or(|old| old.theme != config.theme) {
                    self.assets = None;
                }
            }
            self.config = Some(config);
        }
        if changes.assets || self.assets.is_none() {
            let theme = self.config.as_ref().map(|c| c.theme.clone()).unwrap_or_default();
            let mut named = None;
            let loaded = theme::load_assets_noting_data(&root, &theme, &mut named);
            if let Some(named) = named {
                // Paths that leave the site are load errors, never watched.
                let inside = |rel: &Path| rel.components().all(|c| matches!(c, std::path::Component::Normal(_) | std::path::Component::CurDir));
                self.data_files = named
                    .iter()
                    .map(Path::new)
                    .filter(|rel| inside(rel))
                    .map(|rel| root.join(rel.components().filter(|c| matches!(c, std::path::Component::Normal(_))).collect::<PathBuf>()))
                    .collect();
            }
            let assets = match loaded {
                Ok(a) => a,
                Err(e) => {
                    self.assets = None;
                    return Err(e);
                }
            };
            // Templates can show anything, and links to static files carry their content hash
            // (`?h=…`): any change here renders everything.
            self.pending_full = true;
            self.pending_static = true;
            self.templates = TemplateReach::of(&assets.templates);
            self.compiled = None;
            self.assets = Some(assets);
        }
        if changes.rescan || self.content_failed {
            self.read_all_content()?;
        } else {
            for path in &changes.content {
                self.read_content_path(path);
            }
        }
        if !self.doc_errors.is_empty() {
            return Err(self.doc_errors.values().cloned().collect::<Diagnostics>().sorted());
        }
        Ok(())
    }

    fn read_all_content(&mut self) -> Result<(), Diagnostics> {
        match load::load_content(&self.options.root) {
            Ok(docs) => {
                let mut fresh = BTreeMap::new();
                for doc in docs {
                    let rel = doc.rel_path.clone();
                    let same = self.docs.get(&rel).is_some_and(|old| old.source == doc.source && old.assets == doc.assets);
                    if same {
                        let kept = self.docs[&rel].clone();
                        fresh.insert(rel, kept);
                    } else {
                        self.pending.insert(rel.clone());
                        fresh.insert(rel, Arc::new(doc));
                    }
                }
                self.pending.extend(self.docs.keys().filter(|k| !fresh.contains_key(*k)).cloned());
                self.docs = fresh;
                self.doc_errors.clear();
                self.content_failed = false;
                Ok(())
            }
            Err(diags) => {
                self.content_failed = true;
                Err(diags)
            }
        }
    }

    /// Bring one changed path under `content/` (file or folder, present or gone) up to date.
    fn read_content_path(&mut self, path: &Path) {
        let content = self.options.root.join("content");
        let Ok(rel) = path.strip_prefix(&content) else { return };
        let rel = rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
        if path.is_dir() {
            // A folder appeared or moved in: read everything in it, forget what is gone.
            let prefix = format!("{rel}/");
            let before: Vec<String> = self.docs.keys().chain(self.doc_errors.keys()).filter(|k| k.starts_with(&prefix)).cloned().collect();
            let mut seen = HashSet::default();
            for entry in walkdir::WalkDir::new(path).follow_links(false).sort_by_file_name().into_iter().flatten() {
                if entry.file_type().is_file() || entry.path_is_symlink() {
                    if let Some(r) = self.read_content_file(entry.path()) {
                        seen.insert(r);
                    }
                }
            }
            for k in before.into_iter().filter(|k| !seen.contains(k)) {
                self.forget(&k);
            }
            return;
        }
        if !path.exists() && !path.is_symlink() {
            // Gone: the document, or everything under a folder that was removed.
            let prefix = format!("{rel}/");
            let gone: Vec<String> = self
                .docs
                .keys()
                .chain(self.doc_errors.keys())
                .filter(|k| **k == rel || k.starts_with(&prefix))
                .cloned()
                .collect();
            for k in gone {
                self.forget(&k);
            }
        } else if path.extension().is_some_and(|e| e == "md") {
            self.read_content_file(path);
            return;
        }
        // A bundle asset appeared, changed or went: its page's asset list may differ.
        if let Some(parent) = path.parent() {
            let index = parent.join("index.md");
            if index.is_file() {
                self.read_content_file(&index);
            }
        }
    }

    /// Read one Markdown file; returns its content path if it is a document.
    fn read_content_file(&mut self, path: &Path) -> Option<String> {
        let content = self.options.root.join("content");
        let rel = path.strip_prefix(&content).ok()?;
        let rel = rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
        match load::read_content_file(&self.options.root, path) {
            Ok(Some(doc)) => {
                self.doc_errors.remove(&rel);
                let same = self.docs.get(&rel).is_some_and(|old| old.source == doc.source && old.assets == doc.assets);
                if !same {
                    self.pending.insert(rel.clone());
                    self.docs.insert(rel.clone(), Arc::new(doc));
                }
                Some(rel)
            }
            Ok(None) => None,
            Err(d) => {
                self.forget(&rel);
                self.doc_errors.insert(rel.clone(), d);
                Some(rel)
            }
        }
    }

    fn forget(&mut self, rel: &str) {
        if self.docs.remove(rel).is_some() {
            self.pending.insert(rel.to_string());
        }
        self.doc_errors.remove(rel);
    }
}

fn same_config(a: &Config, b: &Config) -> bool {
    serde_json::to_string(a).ok() == serde_json::to_string(b).ok()
}

/// What an edit changes, as far as the models tell: the targets whose own context can
/// differ, and whether listing data or URLs changed (which matters to templates that look
/// pages up by themselves).
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub dirty: HashSet<Target>,
    /// Some page's listing data (title, URL, summary, typed data…) or a section changed.
    pub listings_changed: bool,
    /// Some page's URL changed, or a page came or went.
    pub urls_changed: bool,
}

/// [`plan`] for a page patched in place ([`model::patch_page`]): nothing about the other
/// pages changed, so the outputs that list the page change when its listing value did or it
/// moved in its lists (title, weight, dates), and its own page.
pub fn plan_patch(site: &Site, patched: &model::Patched) -> Plan {
    let mut dirty: HashSet<Target> = HashSet::default();
    let rel = &patched.old.rel_path;
    dirty.insert(Target::Page(rel.clone()));
    let Some(DocRef::Page(i)) = site.get(rel) else {
        return Plan { dirty, listings_changed: true, urls_changed: false };
    };
    let page = &site.pages[i];
    let listed = patched.reordered || page_ref(site, &patched.old) != page_ref(site, page);
    if listed {
        for g in &site.related[i] {
            dirty.extend(g.pages.iter().map(|&k| Target::Page(site.pages[k].rel_path.clone())));
        }
        // The pager the page is on, or, when it moved, every pager from its old place to its
        // new one (the pages between shift by one).
        let s = &site.sections[page.section];
        if let Some(now) = s.pages.iter().position(|&k| k == i) {
            let per = s.paginate_by.unwrap_or(0);
            let pager = |pos: usize| pos.checked_div(per).map_or(1, |k| k + 1);
            let (from, to) = (now.min(patched.old_position), now.max(patched.old_position));
            dirty.extend((pager(from)..=pager(to)).map(|k| Target::SectionPager(s.rel_path.clone(), k)));
        }
        for t in &site.taxonomies {
            for term in t.terms.iter().filter(|term| term.pages.contains(&i)) {
                dirty.insert(Target::Term(t.name.clone(), term.slug.clone()));
            }
        }
        dirty.insert(Target::Feeds);
        dirty.insert(Target::AtoZ); // lists every page's title
    }
    let dates = |p: &model::Page| (p.meta.date, p.meta.updated, p.date());
    if dates(&patched.old) != dates(page) {
        dirty.insert(Target::Sitemap);
    }
    if page.page_type() == Some(PageType::Campaign) {
        dirty.insert(Target::Calendar);
    }
    Plan { dirty, listings_changed: listed, urls_changed: false }
}

/// The targets that can differ between `old` and `new` after the documents in `changed`
/// changed, or `None` when everything must be rendered.
pub fn plan(old: &Site, new: &Site, changed: &BTreeSet<String>) -> Option<Plan> {
    let section_set = |s: &Site| s.sections.iter().map(|x| x.rel_path.clone()).collect::<BTreeSet<_>>();
    if section_set(old) != section_set(new) {
        return None; // a section came or went: navigation, parents, everything
    }
    let mut dirty: HashSet<Target> = HashSet::default();
    // Pages whose listing data (what other outputs show of them) changed, came or went.
    let mut listed: BTreeSet<&str> = BTreeSet::new();
    let mut moved = false;
    let mut changed_sections: Vec<&str> = Vec::new();
    let mut campaigns = false;
    let mut dates_changed = false;
    for rel in changed {
        let (o, n) = (old.get(rel), new.get(rel));
        match (o, n) {
            (Some(DocRef::Section(_)), Some(DocRef::Section(_))) => changed_sections.push(rel),
            (o, n) => {
                let op = match o {
                    Some(DocRef::Page(i)) => Some(&old.pages[i]),
                    _ => None,
                };
                let np = match n {
                    Some(DocRef::Page(i)) => Some(&new.pages[i]),
                    _ => None,
                };
                if np.is_some() {
                    dirty.insert(Target::Page(rel.clone()));
                }
                campaigns |= [op, np].iter().flatten().any(|p| p.page_type() == Some(PageType::Campaign));
                match (op, np) {
                    (Some(a), Some(b)) => {
                        if a.path != b.path {
                            moved = true;
                        }
                        dates_changed |= (a.date(), a.meta.date, a.meta.updated) != (b.date(), b.meta.date, b.meta.updated);
                        if page_ref(old, a) != page_ref(new, b) {
                            listed.insert(rel);
                        }
                    }
                    (None, None) => {}
                    _ => {
                        moved = true;
                        listed.insert(rel);
                    }
                }
                // Relations go both ways: whoever lists this page, before or after, when what
                // they show of it changed (or it came or went).
                let shown_changed = match (op, np) {
                    (Some(a), Some(b)) => page_ref(old, a) != page_ref(new, b) || old.related_of(a) != new.related_of(b),
                    _ => true,
                };
                for (site, p) in [(old, op), (new, np)].into_iter().filter(|_| shown_changed) {
                    let Some(p) = p else { continue };
                    for g in site.related_of(p) {
                        for &i in &g.pages {
                            let r = &site.pages[i].rel_path;
                            if matches!(new.get(r), Some(DocRef::Page(_))) {
                                dirty.insert(Target::Page(r.clone()));
                            }
                        }
                    }
                }
            }
        }
    }

    // Sections: their pagers list the pages; their pages show the section.
    for s in &new.sections {
        let Some(DocRef::Section(oi)) = old.get(&s.rel_path) else { return None };
        let o = &old.sections[oi];
        let old_list: Vec<&str> = o.pages.iter().map(|&k| old.pages[k].rel_path.as_str()).collect();
        let new_list: Vec<&str> = s.pages.iter().map(|&k| new.pages[k].rel_path.as_str()).collect();
        let own_change = changed_sections.contains(&s.rel_path.as_str());
        let pagers = render::pager_count(s);
        let all_pagers = |dirty: &mut HashSet<Target>| {
            dirty.extend((1..=pagers).map(|k| Target::SectionPager(s.rel_path.clone(), k)));
        };
        if own_change || old_list != new_list || render::pager_count(o) != pagers {
            all_pagers(&mut dirty);
        } else {
            let per = s.paginate_by.unwrap_or(0);
            for (pos, rel) in new_list.iter().enumerate() {
                if listed.contains(rel) {
                    let k = if per == 0 { 1 } else { pos / per + 1 };
                    dirty.insert(Target::SectionPager(s.rel_path.clone(), k));
                }
            }
        }
        let meta_changed = own_change && format!("{:?}", o.meta) != format!("{:?}", s.meta);
        if meta_changed || section_ref(old, o) != section_ref(new, s) {
            // Every page shows its section; the parent lists it.
            dirty.extend(new_list.iter().map(|r| Target::Page(r.to_string())));
            if let Some(parent) = s.parent {
                let p = &new.sections[parent];
                dirty.extend((1..=render::pager_count(p)).map(|k| Target::SectionPager(p.rel_path.clone(), k)));
            }
        }
    }

    // Taxonomy terms list their pages; the taxonomy lists its terms with counts.
    for t in &new.taxonomies {
        let Some(ot) = old.taxonomies.iter().find(|x| x.name == t.name) else { return None };
        fn members<'a>(site: &'a Site, tax: &'a model::Taxonomy) -> BTreeMap<&'a str, Vec<&'a str>> {
            tax.terms
                .iter()
                .map(|term| (term.slug.as_str(), term.pages.iter().map(|&i| site.pages[i].rel_path.as_str()).collect()))
                .collect()
        }
        let (om, nm) = (members(old, ot), members(new, t));
        let mut list_changed = om.len() != nm.len();
        for (slug, pages) in &nm {
            match om.get(slug) {
                Some(before) if before == pages => {
                    if pages.iter().any(|p| listed.contains(p)) {
                        dirty.insert(Target::Term(t.name.clone(), slug.to_string()));
                    }
                }
                _ => {
                    list_changed = true;
                    dirty.insert(Target::Term(t.name.clone(), slug.to_string()));
                }
            }
        }
        list_changed |= om.keys().any(|k| !nm.contains_key(k));
        let names = |tax: &model::Taxonomy| tax.terms.iter().map(|x| x.name.clone()).collect::<Vec<_>>();
        if list_changed || names(ot) != names(t) {
            dirty.insert(Target::TaxonomyList(t.name.clone()));
        }
    }

    // Pages and sections that link to a page whose URL changed, came or went.
    if moved {
        let paths_changed: HashSet<&str> = changed
            .iter()
            .filter(|rel| {
                let path = |s: &Site| match s.get(rel) {
                    Some(DocRef::Page(i)) => Some(s.pages[i].path.clone()),
                    _ => None,
                };
                path(old) != path(new)
            })
            .map(String::as_str)
            .collect();
        let links_to_changed = |text: &model::BodyText| {
            text.internal_links.iter().any(|l| paths_changed.contains(l.target.trim_start_matches("@/")))
        };
        for p in &new.pages {
            if links_to_changed(&p.text) {
                dirty.insert(Target::Page(p.rel_path.clone()));
            }
        }
        for s in &new.sections {
            if links_to_changed(&s.text) {
                dirty.extend((1..=render::pager_count(s)).map(|k| Target::SectionPager(s.rel_path.clone(), k)));
            }
        }
    }

    if campaigns {
        dirty.insert(Target::Calendar);
    }
    if !listed.is_empty() || !changed_sections.is_empty() {
        dirty.insert(Target::Feeds);
        dirty.insert(Target::AtoZ); // lists every page's title by section
    }
    if moved || dates_changed || !changed_sections.is_empty() {
        dirty.insert(Target::Sitemap);
    }
    Some(Plan { dirty, listings_changed: !listed.is_empty() || !changed_sections.is_empty(), urls_changed: moved })
}
