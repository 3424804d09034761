//! Stage 3, **render**: the `Site` becomes HTML pages and their companions (feeds, sitemap,
//! calendar, redirects). Pure: `&Site` and the templates in, files out; pages render in
//! parallel.
//!
//! Owns: Markdown → HTML, template selection and context, pagination, charts, feeds, iCal.
//! Knows nothing of the disk (the write stage puts files there).

pub mod az;
pub mod builtin;
pub mod calendar;
pub mod charts;
pub mod components;
pub mod context;
pub mod feeds;
pub mod filters;
pub mod guard;
pub mod image_functions;
pub mod markdown;
pub mod picture;
pub mod templates;

use rayon::prelude::*;
use serde::Serialize;
use tera::{Context, Tera, Value};

use crate::config::InsertAnchor;
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::images::ImageSet;
use crate::load::theme::Assets;
use crate::model::{DocRef, Page, PageType, Section, Site, Taxonomy, Term, Typed};
use crate::output::OutputFile;
use context::{globals, page_value, section_value, PageRef};
use templates::with_field;
pub use context::PageRefs;
pub use context::Globals;

/// A body being rendered, with where it is for error messages.
struct Body<'b> {
    text: &'b str,
    /// What the model read of `text`: its headings (with their ids, and where they are) and
    /// its code.
    analysed: &'b crate::model::text::BodyText,
    file: &'b std::path::Path,
    /// 1-based line of the file where the body starts.
    first_line: usize,
    /// Links on the headings (the page's or section's `insert_anchor_links`, else the site's).
    anchors: crate::config::InsertAnchor,
    /// Its processed images (written as `<picture>`); `None` for text with no bundle.
    images: Option<markdown::BodyImages<'b>>,
    /// The page's bundle files, for components' media; `None` when the body has no folder.
    bundle: Option<&'b [std::path::PathBuf]>,
}

impl Body<'_> {
    /// A component problem as a diagnostic at its Markdown line and column.
    /// [`Body::problem`] as a warning: the build goes on.
    fn warning(&self, p: components::Problem) -> Diagnostic {
        Diagnostic { severity: crate::diagnostics::Severity::Warning, ..self.problem(p) }
    }

    fn problem(&self, p: components::Problem) -> Diagnostic {
        let mut d = Diagnostic::error(p.message).file(self.file).at_offset(self.text, p.offset);
        if let Some(line) = &mut d.line {
            *line += self.first_line - 1;
        }
        if let Some(ex) = &mut d.excerpt {
            ex.first_line += self.first_line - 1;
        }
        match p.hint {
            Some(h) => d.hint(h),
            None => d,
        }
    }
}

/// Pagination state for a section's or a taxonomy term's pager (as in Zola).
#[derive(Debug, Clone, Serialize)]
pub struct Paginator {
    pub pages: Vec<PageRef>,
    /// 1-based.
    pub current_index: usize,
    pub number_pagers: usize,
    pub paginate_by: usize,
    /// The pages on all pagers together (not the number of pagers: that is `number_pagers`).
    pub total_pages: usize,
    pub first: String,
    pub last: String,
    pub previous: Option<String>,
    pub next: Option<String>,
}

/// One unit of render output, named by what it is rather than by an index, so that the same
/// target means the same output files across builds. `kepu serve` re-renders only the
/// targets an edit touched; [`render`] renders all of them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// A page (by content path): its HTML, bundle assets and alias redirects.
    Page(String),
    /// One pager of a section (by content path), 1-based; unpaginated sections have one.
    SectionPager(String, usize),
    /// A taxonomy's list of terms (by taxonomy name).
    TaxonomyList(String),
    /// One term's page (taxonomy name, term slug).
    Term(String, String),
    /// `404.html`.
    NotFound,
    /// `search/index.html`.
    Search,
    /// `calendar/index.html` and `campaigns.ics`.
    Calendar,
    /// `a-z/index.html`: every page by section in pinyin order (where the header search box
    /// leads without JavaScript).
    AtoZ,
    /// `sitemap.xml` and `robots.txt`.
    Sitemap,
    /// The Atom feeds (the site's and each section's).
    Feeds,
    /// `css/syntax.css`.
    SyntaxCss,
}

/// Every target a full render of `site` produces, in a stable order.
pub fn targets(site: &Site, assets: &Assets) -> Vec<Target> {
    let has = |name: &str| assets.templates.contains_key(name);
    let mut out: Vec<Target> = site.pages.iter().filter(|p| p.is_rendered()).map(|p| Target::Page(p.rel_path.clone())).collect();
    for s in &site.sections {
        out.extend((1..=pager_count(s)).map(|k| Target::SectionPager(s.rel_path.clone(), k)));
    }
    for t in &site.taxonomies {
        if has("taxonomy_list.html") {
            out.push(Target::TaxonomyList(t.name.clone()));
        }
        if has("taxonomy_single.html") {
            out.extend(t.terms.iter().map(|term| Target::Term(t.name.clone(), term.slug.clone())));
        }
    }
    if has("404.html") {
        out.push(Target::NotFound);
    }
    if site.config.search.enabled && has("search.html") {
        out.push(Target::Search);
    }
    if has("calendar.html") && site.pages_of(PageType::Campaign).next().is_some() {
        out.push(Target::Calendar);
    }
    if has("az.html") {
        out.push(Target::AtoZ);
    }
    out.push(Target::Sitemap);
    out.push(Target::Feeds);
    out.push(Target::SyntaxCss);
    out
}

/// The template a section renders with.
fn section_template(s: &Section) -> String {
    s.meta.template.clone().unwrap_or_else(|| if s.dir.is_empty() { "index.html".into() } else { "section.html".into() })
}

/// How many pagers a section renders (0 when it is not rendered at all).
pub fn pager_count(s: &Section) -> usize {
    if s.redirect.is_some() {
        return 1;
    }
    if s.meta.render == Some(false) {
        return 0;
    }
    pagers(s.pages.len(), s.paginate_by.unwrap_or(0))
}

/// The folder name of a section's later pagers (`page`, or its `paginate_path`).
fn pager_folder(s: &Section) -> &str {
    match s.meta.paginate_path.as_deref().map(|p| p.trim_matches('/')) {
        Some(p) if !p.is_empty() => p,
        _ => "page",
    }
}

/// How many pagers list `pages` pages `per` to a pager (`per` 0: all on one).
fn pagers(pages: usize, per: usize) -> usize {
    if per == 0 { 1 } else { pages.div_ceil(per).max(1) }
}

/// Whether a term gets an Atom feed (`/tags/x/atom.xml`): feeds are on (`generate_feeds`),
/// its taxonomy has `feed` (the default) and one of its pages has a date (a feed needs one).
fn term_has_feed(site: &Site, t: &Taxonomy, term: &Term) -> bool {
    site.config.generate_feeds && t.feed && term.pages.iter().any(|&i| site.pages[i].date().is_some())
}

/// Render every output file of the site except search index files; with them, the render
/// stage's warnings (the build goes on; the caller reports them once).
pub fn render(site: &Site, assets: &Assets, images: &ImageSet) -> Result<(Vec<OutputFile>, Diagnostics), Diagnostics> {
    let renderer = Renderer::new(site, assets, images)?;
    let rendered = renderer.render_targets(&targets(site, assets))?;
    let files = rendered.into_iter().flat_map(|(_, files)| files).collect();
    Ok((files, renderer.take_warnings()))
}

/// [`render`], handing each file to `sink` as soon as it is made, from the rendering threads,
/// in no particular order. `kepu build` writes them at once, so the rendered site is never
/// held in memory whole. On errors, `sink` may already have had some files. Gives the render
/// stage's warnings.
pub fn render_into(
    site: &Site,
    assets: &Assets,
    images: &ImageSet,
    sink: &(dyn Fn(OutputFile) + Sync),
) -> Result<Diagnostics, Diagnostics> {
    let renderer = Renderer::new(site, assets, images)?;
    let mut order = targets(site, assets);
    order.sort_by_key(heavy_first);
    let errors: Vec<Diagnostic> = order
        .par_iter()
        .filter_map(|t| match renderer.target(t) {
            Ok(files) => {
                files.into_iter().for_each(sink);
                None
            }
            Err(d) => Some(d),
        })
        .flatten()
        .collect();
    match report_once(errors) {
        Some(diags) => Err(diags),
        None => Ok(renderer.take_warnings()),
    }
}

/// The order [`render_into`] starts targets in: the few large ones (the A–Z index lists every
/// page, the calendar every campaign, a term page every page of its term) before the thousands of small pages, so that
/// no thread is still busy with a large one after the others have run out of work.
fn heavy_first(target: &Target) -> u8 {
    match target {
        Target::AtoZ | Target::Calendar => 0,
        Target::Term(..) => 1,
        Target::SectionPager(..) | Target::Sitemap | Target::Feeds => 2,
        Target::Page(_) => 4,
        _ => 3,
    }
}

/// The render errors as diagnostics, each once (a broken template usually fails every page
/// the same way), or `None` when there are none.
fn report_once(errors: Vec<Diagnostic>) -> Option<Diagnostics> {
    let mut diags = Diagnostics::new();
    errors.into_iter().for_each(|d| diags.push(d));
    if !diags.has_errors() {
        return None;
    }
    let mut seen = std::collections::HashSet::new();
    diags.0.retain(|d| seen.insert((d.file.clone(), d.line, d.message.clone())));
    Some(diags.sorted())
}

/// Templates compiled for one `Site`, ready to render any of its targets.
pub struct Renderer<'a> {
    site: &'a Site,
    /// Shared with the `card` function, which renders with them too.
    tera: std::sync::Arc<Tera>,
    assets: &'a Assets,
    globals: Globals,
    /// Page values for lists, made once each.
    refs: PageRefs,
    /// Each taxonomy's value (its terms, without their pages), made once.
    taxonomy_values: Vec<std::sync::OnceLock<Value>>,
    /// Kept for [`Renderer::into_templates`].
    asset_hashes: std::collections::HashMap<String, String>,
    /// Kept for [`Renderer::into_templates`] too.
    deps: templates::TemplateDependencies,
    /// The processed images (pictures in bodies, covers).
    images: &'a ImageSet,
    /// Where the guard calls went in the templates, to report positions as written.
    sources: guard::SourceMap,
    /// What rendering found worth a word but not an error (a video without captions), from
    /// every rendering thread; see [`Renderer::take_warnings`].
    warnings: std::sync::Mutex<Vec<Diagnostic>>,
    /// The components content may call, read once.
    components: components::Definitions,
    /// The components the site defines itself (not the theme's): their media is not checked.
    site_components: Vec<String>,
    /// The theme's components rendered without Tera where that gives the same bytes.
    builtins: builtin::Builtins,
}

impl<'a> Renderer<'a> {
    /// Compile the templates for `site`.
    pub fn new(site: &'a Site, assets: &'a Assets, images: &'a ImageSet) -> Result<Self, Diagnostics> {
        Self::with_refs(site, assets, images, PageRefs::new(site, images))
    }

    /// [`Renderer::new`] with the pages' listing values already made (`kepu serve` keeps them
    /// between rebuilds; see [`PageRefs::update`]).
    pub fn with_refs(site: &'a Site, assets: &'a Assets, images: &'a ImageSet, refs: PageRefs) -> Result<Self, Diagnostics> {
        Self::with_parts(site, assets, images, refs, None)
    }

    /// [`Renderer::with_refs`] from the templates of `assets` already compiled, bound to `site`
    /// here; [`Renderer::into_templates`] gives them back for the next rebuild (copying every
    /// template's syntax tree cost `kepu serve` more than rendering a page).
    pub fn with_parts(
        site: &'a Site,
        assets: &'a Assets,
        images: &'a ImageSet,
        refs: PageRefs,
        compiled: Option<templates::Compiled>,
    ) -> Result<Self, Diagnostics> {
        let templates::Compiled { mut tera, asset_hashes: hashes, deps, sources } = match compiled {
            Some(c) => c,
            None => templates::Compiled::new(assets)?,
        };
        let bound = templates::bind(&mut tera, site, &deps, &hashes, &refs);
        image_functions::install(&mut tera, site, images.templated.clone());
        let has = |name: &str| assets.templates.contains_key(name);
        let has_calendar = has("calendar.html") && site.pages_of(PageType::Campaign).next().is_some();
        let has_search = site.config.search.enabled && has("search.html");
        let globals = globals(site, has_search, has_calendar, has("az.html"), &hashes);
        // What every template sees besides its own variables: Tera's global context, looked up
        // after a render's own, so it is made once rather than copied into every page's.
        let mut base = Context::from_serialize(&globals).unwrap_or_default();
        base.insert("current_path", "");
        *tera.global_context() = base;
        let tera = std::sync::Arc::new(tera);
        bound.cards.fill(&tera);
        let taxonomy_values = site.taxonomies.iter().map(|_| std::sync::OnceLock::new()).collect();
        let warnings = Default::default();
        let components = components::Definitions::new(&tera);
        let site_components =
            assets.templates.values().filter(|t| !t.from_theme).flat_map(|t| components::defined_in(&t.text)).collect();
        let builtins = builtin::Builtins::new(&assets.templates, bound.titles, bound.charts);
        Ok(Renderer {
            site,
            tera,
            assets,
            globals,
            refs,
            taxonomy_values,
            asset_hashes: hashes,
            deps,
            sources,
            warnings,
            images,
            components,
            site_components,
            builtins,
        })
    }

    /// The compiled templates, to bind to the next site ([`Renderer::with_parts`]).
    pub fn into_templates(self) -> templates::Compiled {
        // The `card` function holds only a weak reference, so this is the one owner.
        let tera = std::sync::Arc::try_unwrap(self.tera).unwrap_or_else(|shared| Tera::clone(&shared));
        templates::Compiled { tera, asset_hashes: self.asset_hashes, deps: self.deps, sources: self.sources }
    }

    /// The warnings of what was rendered since the last call, each once (a body rendered
    /// twice, for its page and a feed, warns once), in file order.
    pub fn take_warnings(&self) -> Diagnostics {
        let all = std::mem::take(&mut *self.warnings.lock().unwrap_or_else(|e| e.into_inner()));
        let mut seen = std::collections::HashSet::new();
        let mut out = Diagnostics::new();
        all.into_iter().filter(|d| seen.insert((d.file.clone(), d.line, d.column, d.message.clone()))).for_each(|d| out.push(d));
        out.sorted()
    }

    /// The values every template gets (navigation, cities, …): when these change, every
    /// target changes.
    pub fn globals(&self) -> &Globals {
        &self.globals
    }

    /// The pages' listing values this renderer uses (to carry to the next rebuild).
    pub fn page_refs(&self) -> &PageRefs {
        &self.refs
    }

    /// The template a target renders with (`None` for sitemap, feeds and the stylesheet).
    pub fn template_of(&self, target: &Target) -> Option<String> {
        let site = self.site;
        match target {
            Target::Page(rel) => match site.get(rel) {
                Some(DocRef::Page(i)) => Some(self.page_template(&site.pages[i])),
                _ => None,
            },
            Target::SectionPager(rel, _) => match site.get(rel) {
                Some(DocRef::Section(i)) => Some(section_template(&site.sections[i])),
                _ => None,
            },
            Target::TaxonomyList(_) => Some("taxonomy_list.html".into()),
            Target::Term(..) => Some("taxonomy_single.html".into()),
            Target::NotFound => Some("404.html".into()),
            Target::Search => Some("search.html".into()),
            Target::Calendar => Some("calendar.html".into()),
            Target::AtoZ => Some("az.html".into()),
            Target::Sitemap | Target::Feeds | Target::SyntaxCss => None,
        }
    }

    /// The targets among `all` rendered with one of the templates `names` (page targets may
    /// include pages that are not rendered; callers pick from `all`). A page's template is
    /// worked out once per kind of page (section, type, `template`), not once per page.
    pub fn targets_using(&self, all: &[Target], names: &std::collections::BTreeSet<String>) -> Vec<Target> {
        if names.is_empty() {
            return Vec::new();
        }
        let mut by_kind: std::collections::HashMap<(usize, Option<PageType>, Option<&str>), bool> = Default::default();
        let pages = self.site.pages.iter().filter(|p| {
            *by_kind
                .entry((p.section, p.page_type(), p.meta.template.as_deref()))
                .or_insert_with(|| names.contains(&self.page_template(p)))
        });
        let mut out: Vec<Target> = pages.map(|p| Target::Page(p.rel_path.clone())).collect();
        let others = all.iter().filter(|t| !matches!(t, Target::Page(_)));
        out.extend(others.filter(|t| self.template_of(t).is_some_and(|n| names.contains(&n))).cloned());
        out
    }

    /// Render the given targets in parallel; all errors are reported together.
    pub fn render_targets(&self, targets: &[Target]) -> Result<Vec<(Target, Vec<OutputFile>)>, Diagnostics> {
        let results: Vec<Result<(Target, Vec<OutputFile>), Vec<Diagnostic>>> =
            targets.par_iter().map(|t| self.target(t).map(|files| (t.clone(), files))).collect();
        let mut errors = Vec::new();
        let mut out = Vec::with_capacity(results.len());
        for r in results {
            match r {
                Ok(x) => out.push(x),
                Err(d) => errors.extend(d),
            }
        }
        match report_once(errors) {
            Some(diags) => Err(diags),
            None => Ok(out),
        }
    }

    /// One target's files, or every error it has (a page's component mistakes all at once).
    fn target(&self, target: &Target) -> Result<Vec<OutputFile>, Vec<Diagnostic>> {
        let site = self.site;
        let gone = || vec![Diagnostic::error(format!("internal error: nothing to render for {target:?}"))];
        match target {
            Target::Page(rel) => match site.get(rel) {
                Some(DocRef::Page(i)) => self.page(i),
                _ => Err(gone()),
            },
            Target::SectionPager(rel, k) => match site.get(rel) {
                Some(DocRef::Section(i)) => self.section_pager(&site.sections[i], *k),
                _ => Err(gone()),
            },
            other => self.other_target(other).map_err(|d| vec![d]),
        }
    }

    fn other_target(&self, target: &Target) -> Result<Vec<OutputFile>, Diagnostic> {
        let site = self.site;
        let gone = || Diagnostic::error(format!("internal error: nothing to render for {target:?}"));
        match target {
            Target::Page(_) | Target::SectionPager(..) => Err(gone()),
            Target::TaxonomyList(name) => {
                let t = site.taxonomies.iter().find(|t| &t.name == name).ok_or_else(gone)?;
                self.taxonomy_list(t).map(|f| vec![f])
            }
            Target::Term(name, slug) => {
                let t = site.taxonomies.iter().find(|t| &t.name == name).ok_or_else(gone)?;
                let term = t.terms.iter().find(|term| &term.slug == slug).ok_or_else(gone)?;
                self.term(t, term)
            }
            Target::NotFound => Ok(vec![OutputFile::bytes("404.html", self.render("404.html", self.context())?)]),
            Target::Search => {
                let mut ctx = self.context();
                ctx.insert("current_path", &site.url("/search/"));
                Ok(vec![OutputFile::bytes("search/index.html", self.render("search.html", ctx)?)])
            }
            Target::Calendar => {
                Ok(vec![self.calendar_page()?, OutputFile::bytes("campaigns.ics", calendar::ics(site))])
            }
            Target::AtoZ => Ok(vec![self.az_page()?]),
            Target::Sitemap => {
                let mut files = Vec::new();
                if site.config.generate_sitemap {
                    files.push(OutputFile::bytes("sitemap.xml", feeds::sitemap(site)));
                }
                if site.config.generate_robots_txt {
                    files.push(OutputFile::bytes("robots.txt", feeds::robots(site)));
                }
                Ok(files)
            }
            Target::Feeds => Ok(self.feeds()),
            Target::SyntaxCss => Ok(vec![OutputFile::bytes("css/syntax.css", markdown::syntax_css())]),
        }
    }
}

/// The path of pager `k` (1-based) of a list at `base`: `base` itself, then `base/page/k/`.
fn pager_path(base: &str, k: usize) -> String {
    pager_path_in(base, "page", k)
}

/// [`pager_path`] with the later pagers in `folder` instead of `page`.
fn pager_path_in(base: &str, folder: &str, k: usize) -> String {
    if k == 1 { base.to_string() } else { format!("{base}{folder}/{k}/") }
}

/// The anchor links a body gets: its own front matter's, else its section's (up the tree),
/// else the site's.
fn anchors_for(site: &Site, own: Option<InsertAnchor>, mut section: usize) -> InsertAnchor {
    if let Some(a) = own {
        return a;
    }
    loop {
        let s = &site.sections[section];
        if let Some(a) = s.meta.insert_anchor_links {
            return a;
        }
        match s.parent {
            Some(p) => section = p,
            None => return site.config.markdown.insert_anchor_links,
        }
    }
}

/// Whether a section has an Atom feed: its `generate_feeds`, else the site's.
fn section_has_feed(site: &Site, s: &Section) -> bool {
    !s.dir.is_empty() && s.has_own_page() && s.meta.generate_feeds.unwrap_or(site.config.generate_feeds)
}

/// The file an alias's redirect page is written to: `old/path` → `old/path/index.html`,
/// `old.html` as it is.
fn alias_output_path(alias: &str) -> String {
    if alias.ends_with(".html") { alias.trim_start_matches('/').to_string() } else { format!("{}/index.html", alias.trim_matches('/')) }
}

/// `/venues/x/` → `venues/x/index.html`.
pub fn output_path(url_path: &str) -> String {
    let p = url_path.trim_start_matches('/');
    if p.ends_with(".html") || p.ends_with(".xml") { p.to_string() } else { format!("{p}index.html") }
}

/// One target's template context: its own variables (the globals are Tera's global context).
struct TargetContext {
    ctx: Context,
}

impl TargetContext {
    /// Add a variable, serializing it.
    fn insert<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) {
        self.ctx.insert(key, value);
    }

    /// Add an already built value (moved in, not copied).
    fn put(&mut self, key: &'static str, value: Value) {
        self.ctx.insert_value(key, value);
    }
}

impl Renderer<'_> {
    fn context(&self) -> TargetContext {
        TargetContext { ctx: Context::new() }
    }

    fn render(&self, template: &str, ctx: TargetContext) -> Result<Vec<u8>, Diagnostic> {
        guard::render_bytes(&self.tera, template, &ctx.ctx)
            .map_err(|e| templates::error(&e, &self.assets.templates, &self.sources, Some(template)))
    }

    /// `[extra.components] require_captions = true` in config.toml: a video without captions
    /// is an error (the `video` component fails) rather than a warning.
    fn require_captions(&self) -> bool {
        let components = self.site.config.extra.get("components").and_then(|c| c.as_table());
        components.and_then(|c| c.get("require_captions")).and_then(|v| v.as_bool()).unwrap_or(false)
    }

    /// A body's HTML, its components rendered (see [`components`]).
    fn body_html(&self, body: &Body<'_>, page: &Value) -> Result<String, Vec<Diagnostic>> {
        let options = &self.site.config.markdown;
        if !components::has_calls(body.text) {
            return Ok(markdown::to_html_with(self.site, body.text, &body.analysed.headings, options, body.anchors, body.images));
        }
        let scan = components::scan(body.text, &body.analysed.code).map_err(|ps| ps.into_iter().map(|p| body.problem(p)).collect::<Vec<_>>())?;
        if scan.calls.is_empty() && scan.raws.is_empty() {
            return Ok(markdown::to_html_with(self.site, body.text, &body.analysed.headings, options, body.anchors, body.images));
        }
        let mut problems = components::check(&self.components, &scan.calls);
        if scan.calls.iter().any(|c| components::names_media(c.name)) {
            let bundle_dir = body.file.parent().map(|d| format!("{}/", d.display())).unwrap_or_default();
            let in_static = |path: &str| self.assets.static_files.contains_key(path);
            let shown = body.file.display().to_string();
            let no_folder_hint = match shown.strip_suffix(".md") {
                Some(stem) if !shown.ends_with("_index.md") => format!(
                    "move the page {shown} to {stem}/index.md and put the file beside it, or put the file under static/ and write its path starting with /"
                ),
                _ => "a section's own files are not published: put the file under static/ and write its path starting with /".to_string(),
            };
            let files =
                components::MediaFiles { bundle: body.bundle, bundle_dir, no_folder_hint, in_static: &in_static, site_own: &self.site_components };
            problems.extend(components::missing_media(&scan.calls, &files));
        }
        problems.sort_by_key(|p| p.offset);
        if !problems.is_empty() {
            return Err(problems.into_iter().map(|p| body.problem(p)).collect());
        }
        let warnings = components::warnings(&self.components, &scan.calls, self.require_captions());
        if !warnings.is_empty() {
            let mut sink = self.warnings.lock().unwrap_or_else(|e| e.into_inner());
            sink.extend(warnings.into_iter().map(|p| body.warning(p)));
        }
        // Headings inside a component's body are that body's; the page's own keep their ids.
        let bodies: Vec<&std::ops::Range<usize>> = scan.calls.iter().filter_map(|c| c.body.as_ref()).collect();
        let inside = |o: &usize| bodies.iter().any(|b| b.contains(o));
        let offsets = &body.analysed.heading_offsets;
        let headings: std::borrow::Cow<'_, [crate::model::text::Heading]> = if offsets.iter().any(inside) && offsets.len() == body.analysed.headings.len() {
            body.analysed.headings.iter().zip(offsets).filter(|(_, o)| !inside(o)).map(|(h, _)| h.clone()).collect()
        } else {
            std::borrow::Cow::Borrowed(&body.analysed.headings)
        };
        let mut rendered = Vec::new();
        let marks = components::Placeholders::for_body(body.text);
        let markdown = self.expand(body, page, 0..body.text.len(), &scan, &marks, &mut rendered)?;
        let html = markdown::to_html_with(self.site, &markdown, &headings, options, body.anchors, body.images);
        Ok(marks.substitute(&html, &rendered))
    }

    /// The Markdown of `range` of the body with its calls replaced by placeholders (their HTML
    /// pushed to `rendered`) and its raw blocks by their insides.
    fn expand(
        &self,
        body: &Body<'_>,
        page: &Value,
        range: std::ops::Range<usize>,
        scan: &components::Scan,
        marks: &components::Placeholders,
        rendered: &mut Vec<String>,
    ) -> Result<String, Vec<Diagnostic>> {
        let text = body.text;
        // The outermost pieces inside `range`, in order.
        let mut pieces: Vec<(std::ops::Range<usize>, Option<&components::Call>)> = Vec::new();
        for c in scan.calls.iter().filter(|c| c.range.start >= range.start && c.range.end <= range.end) {
            if !pieces.iter().any(|(r, _)| r.start <= c.range.start && c.range.end <= r.end) {
                pieces.push((c.range.clone(), Some(c)));
            }
        }
        for (whole, _) in scan.raws.iter().filter(|(w, _)| w.start >= range.start && w.end <= range.end) {
            if !pieces.iter().any(|(r, _)| r.start <= whole.start && whole.end <= r.end) {
                pieces.push((whole.clone(), None));
            }
        }
        pieces.sort_by_key(|(r, _)| r.start);
        let mut out = String::with_capacity(range.len());
        let mut last = range.start;
        for (r, call) in pieces {
            out.push_str(&text[last..r.start]);
            match call {
                None => {
                    let inner = scan.raws.iter().find(|(w, _)| *w == r).map(|(_, i)| i.clone()).unwrap_or(r.clone());
                    out.push_str(&text[inner]);
                }
                Some(call) => {
                    let html = self.render_call(body, page, call, scan, marks, rendered)?;
                    marks.push_placeholder(&mut out, rendered.len());
                    rendered.push(html);
                }
            }
            last = r.end;
        }
        out.push_str(&text[last..range.end]);
        Ok(out)
    }

    /// One call's HTML: its body (Markdown, its own calls included) first, then the component.
    fn render_call(
        &self,
        body: &Body<'_>,
        page: &Value,
        call: &components::Call,
        scan: &components::Scan,
        marks: &components::Placeholders,
        rendered: &mut Vec<String>,
    ) -> Result<String, Vec<Diagnostic>> {
        let text = body.text;
        let body_html = match &call.body {
            None => None,
            Some(b) => {
                let mut inner = Vec::new();
                let markdown = self.expand(body, page, b.clone(), scan, marks, &mut inner)?;
                let html = markdown::to_html(self.site, &markdown, &[], &self.site.config.markdown);
                Some(marks.substitute(&html, &inner))
            }
        };
        let _ = rendered;
        if call.literal {
            // The theme's own `notice`, `ref` and `chart`, as their templates render them.
            if let Some(html) = self.builtins.render(call.name, &call.args, body_html.as_deref()) {
                return Ok(html);
            }
            // The component straight from its arguments, with `page` for its implicit `@page`:
            // what Tera does for the call compiled as a template, without compiling it.
            let ctx = components::context(page);
            let mut args = Context::new();
            for a in &call.args {
                args.insert_value(a.name.to_string(), a.value.as_ref().map_or_else(Value::undefined, components::Literal::to_value));
            }
            if let Ok(html) = self.tera.render_component_with_implicits(call.name, &args, &ctx, body_html.as_deref(), true) {
                return Ok(html);
            }
            // An error: compiled below, so that it is reported exactly as for any call.
        }
        let mut ctx = components::context(page);
        let template = match body_html {
            None => text[call.range.clone()].to_string(),
            Some(html) => {
                ctx.insert_value("__kepu_body", Value::safe_string(&html));
                format!("{}{{{{ __kepu_body }}}}{{% </{}> %}}", &text[call.tag.clone()], call.name)
            }
        };
        self.tera.render_str(&template, &ctx, true).map_err(|e| {
            let d = templates::error(&e, &self.assets.templates, &self.sources, None);
            // Inside the call itself (an argument's expression): point at it in the Markdown.
            let in_call = matches!(e.kind(), tera::ErrorKind::RenderingError(r) | tera::ErrorKind::SyntaxError(r)
                if r.filename() == "__tera_one_off" && r.span().range.end <= call.tag.len());
            let offset = match e.kind() {
                tera::ErrorKind::RenderingError(r) | tera::ErrorKind::SyntaxError(r) if in_call => call.tag.start + r.span().range.start,
                _ => call.tag.start + 3,
            };
            let message = d.message.trim_start_matches("template error: ").to_string();
            let mut p = components::Problem { offset, message: format!("component `{}`: {message}", call.name), hint: None };
            if !in_call {
                if let Some(loc) = d.location() {
                    p.message.push_str(&format!(" (in {loc})"));
                }
                p.hint = Some("fix the call in the page, or the component's template".into());
            }
            vec![body.problem(p)]
        })
    }

    fn exists(&self, name: &str) -> bool {
        self.assets.templates.contains_key(name)
    }

    fn page_template(&self, p: &Page) -> String {
        if let Some(t) = &p.meta.template {
            return t.clone();
        }
        // The nearest section up the tree that sets `page_template` (as in Zola).
        let mut s = Some(p.section);
        while let Some(i) = s {
            let section = &self.site.sections[i];
            if let Some(t) = &section.meta.page_template {
                return t.clone();
            }
            s = section.parent;
        }
        if let Some(t) = p.page_type() {
            let name = format!("types/{}.html", t.key());
            if self.exists(&name) {
                return name;
            }
        }
        "page.html".into()
    }

    /// Page `i` of the site, with its assets and aliases.
    fn page(&self, i: usize) -> Result<Vec<OutputFile>, Vec<Diagnostic>> {
        let p = &self.site.pages[i];
        let cover = self.images.cover(&p.rel_path);
        let body_images = markdown::BodyImages {
            set: self.images,
            rel_path: &p.rel_path,
            sizes: &self.site.config.images.sizes,
            eager_first: cover.is_none(),
        };
        let anchors = anchors_for(self.site, p.meta.insert_anchor_links, p.section);
        let body = Body { text: &p.body, analysed: &p.text, file: &p.display_path, first_line: p.body_line, anchors, images: Some(body_images),
            bundle: p.rel_path.ends_with("/index.md").then_some(p.assets.as_slice()) };
        let html = self.body_html(&body, self.refs.get(i))?;
        let template = self.page_template(p);
        if !self.exists(&template) {
            return Err(vec![Diagnostic::error(format!("template `{template}` does not exist"))
                .file(&p.display_path)
                .field("template")
                .hint("create it in templates/ or remove the `template` field")]);
        }
        let mut ctx = self.context();
        ctx.put("page", page_value(self.site, i, html, &self.refs));
        ctx.insert("current_path", &self.site.url(&p.path));
        ctx.insert("current_url", &self.site.permalink(&p.path));
        let mut out = vec![OutputFile::bytes(output_path(&p.path), self.render(&template, ctx).map_err(|d| vec![d])?)];
        for asset in &p.assets {
            if let Some(name) = asset.file_name() {
                let path = format!("{}{}", p.path.trim_start_matches('/'), name.to_string_lossy());
                // Photos are written by the images stage, without their metadata.
                if !self.images.replaced.contains(&path) {
                    out.push(OutputFile::copy(path, asset.clone()));
                }
            }
        }
        for alias in &p.meta.aliases {
            out.push(OutputFile::bytes(alias_output_path(alias), feeds::redirect(&self.site.url(&p.path))));
        }
        Ok(out)
    }

    /// Pager `k` (1-based) of a section. As in Zola, a paginated section's `section.pages` is
    /// empty: its pages are in `paginator.pages` (so each pager costs its own pages only).
    fn section_pager(&self, s: &Section, k: usize) -> Result<Vec<OutputFile>, Vec<Diagnostic>> {
        let total = pager_count(s);
        if k == 0 || k > total {
            return Err(vec![Diagnostic::error(format!("internal error: {} has no pager {k}", s.rel_path))]);
        }
        let mut out = Vec::new();
        if k == 1 {
            for alias in &s.meta.aliases {
                out.push(OutputFile::bytes(alias_output_path(alias), feeds::redirect(&self.site.url(&s.path))));
            }
        }
        if let Some(to) = &s.redirect {
            out.push(OutputFile::bytes(output_path(&s.path), feeds::redirect(to)));
            return Ok(out);
        }
        let site_index = self.site.get(&s.rel_path).and_then(|r| match r {
            DocRef::Section(i) => Some(i),
            DocRef::Page(_) => None,
        });
        let anchors = match site_index {
            Some(i) => anchors_for(self.site, None, i),
            None => self.site.config.markdown.insert_anchor_links,
        };
        let body_images = markdown::BodyImages {
            set: self.images,
            rel_path: &s.rel_path,
            sizes: &self.site.config.images.sizes,
            eager_first: true,
        };
        let body = Body { text: &s.body, analysed: &s.text, file: &s.display_path, first_line: 1, anchors, images: Some(body_images), bundle: None };
        let html = self.body_html(&body, &Value::from_serializable(&context::section_ref(self.site, s)))?;
        let template = section_template(s);
        if !self.exists(&template) {
            return Err(vec![Diagnostic::error(format!("template `{template}` does not exist"))
                .file(&s.display_path)
                .field("template")
                .hint("create it in templates/ or remove the `template` field")]);
        }
        let per = s.paginate_by.unwrap_or(0);
        let folder = pager_folder(s);
        let path = pager_path_in(&s.path, folder, k);
        let mut ctx = self.context();
        ctx.insert("current_path", &self.site.url(&path));
        ctx.insert("current_url", &self.site.permalink(&path));
        if per == 0 {
            ctx.put("section", section_value(self.site, s, html, &s.pages, &self.refs));
        } else {
            ctx.put("section", section_value(self.site, s, html, &[], &self.refs));
            let reversed: Vec<usize>;
            let pages = if s.meta.paginate_reversed {
                reversed = s.pages.iter().rev().copied().collect();
                &reversed
            } else {
                &s.pages
            };
            ctx.put("paginator", self.paginator_in(&s.path, folder, pages, per, k));
        }
        out.push(OutputFile::bytes(output_path(&path), self.render(&template, ctx).map_err(|d| vec![d])?));
        Ok(out)
    }

    /// The `paginator` of pager `k` (1-based) of `pages` listed `per` to a pager under `base`.
    fn paginator(&self, base: &str, pages: &[usize], per: usize, k: usize) -> Value {
        self.paginator_in(base, "page", pages, per, k)
    }

    /// [`Renderer::paginator`] with the later pagers in `folder`.
    fn paginator_in(&self, base: &str, folder: &str, pages: &[usize], per: usize, k: usize) -> Value {
        let total = pagers(pages.len(), per);
        let at = |k: usize| self.site.url(&pager_path_in(base, folder, k));
        let paginator = Paginator {
            pages: Vec::new(),
            current_index: k,
            number_pagers: total,
            paginate_by: per,
            total_pages: pages.len(),
            first: at(1),
            last: at(total),
            previous: (k > 1).then(|| at(k - 1)),
            next: (k < total).then(|| at(k + 1)),
        };
        with_field(&Value::from_serializable(&paginator), "pages", self.refs.listed(pages.chunks(per).nth(k - 1).unwrap_or(&[])))
    }

    /// A taxonomy's value, made once: every term page of it carries it.
    fn taxonomy_value(&self, t: &Taxonomy) -> Value {
        let i = self.site.taxonomies.iter().position(|x| std::ptr::eq(x, t));
        match i {
            Some(i) => self.taxonomy_values[i].get_or_init(|| self.make_taxonomy_value(t)).clone(),
            None => self.make_taxonomy_value(t),
        }
    }

    fn make_taxonomy_value(&self, t: &Taxonomy) -> Value {
        Value::from_serializable(&serde_json::json!({
            "name": t.name, "title": t.title, "path": self.site.url(&format!("/{}/", t.slug)),
            "items": t.terms.iter().map(|term| serde_json::json!({
                "name": term.name, "slug": term.slug, "count": term.pages.len(),
                "path": self.site.url(&format!("/{}/{}/", t.slug, term.slug)),
            })).collect::<Vec<_>>(),
        }))
    }

    fn taxonomy_list(&self, t: &Taxonomy) -> Result<OutputFile, Diagnostic> {
        let mut ctx = self.context();
        ctx.put("taxonomy", self.taxonomy_value(t));
        ctx.insert("current_path", &self.site.url(&format!("/{}/", t.slug)));
        Ok(OutputFile::bytes(format!("{}/index.html", t.slug), self.render("taxonomy_list.html", ctx)?))
    }

    /// A term's pages: one page listing them all, or with the taxonomy's `paginate_by` one
    /// pager per that many (`/tags/x/`, `/tags/x/page/2/`, …). As for sections, a paginated
    /// term's `term.pages` is empty and each pager lists its own pages in `paginator.pages`;
    /// `term.page_count` counts them all either way.
    fn term(&self, t: &Taxonomy, term: &Term) -> Result<Vec<OutputFile>, Diagnostic> {
        let base = format!("/{}/{}/", t.slug, term.slug);
        let per = t.paginate_by.unwrap_or(0);
        let feed_url = term_has_feed(self.site, t, term).then(|| self.site.url(&format!("{base}atom.xml")));
        let mut files = Vec::new();
        for k in 1..=pagers(term.pages.len(), per) {
            let path = pager_path(&base, k);
            let mut ctx = self.context();
            ctx.put("taxonomy", self.taxonomy_value(t));
            let value = Value::from_serializable(&serde_json::json!({
                "name": term.name, "slug": term.slug, "path": self.site.url(&base),
                "permalink": self.site.permalink(&base), "page_count": term.pages.len(),
            }));
            let pages = if per == 0 { self.refs.listed(&term.pages) } else { Value::from(Vec::<Value>::new()) };
            ctx.put("term", with_field(&value, "pages", pages));
            if per > 0 {
                ctx.put("paginator", self.paginator(&base, &term.pages, per, k));
            }
            if let Some(url) = &feed_url {
                ctx.insert("feed_url", url);
            }
            ctx.insert("current_path", &self.site.url(&path));
            ctx.insert("current_url", &self.site.permalink(&path));
            files.push(OutputFile::bytes(output_path(&path), self.render("taxonomy_single.html", ctx)?));
        }
        Ok(files)
    }

    /// The campaign calendar: campaigns by date, grouped by year; undated ones last.
    fn calendar_page(&self) -> Result<OutputFile, Diagnostic> {
        let mut dated: Vec<(usize, crate::model::date::Date)> = Vec::new();
        let mut undated: Vec<usize> = Vec::new();
        // Campaigns on a fixed yearly date: first, as what comes next every year.
        let mut annual: Vec<(usize, (u8, u8))> = Vec::new();
        for (i, p) in self.site.pages_of(PageType::Campaign) {
            match &p.typed {
                Some(Typed::Campaign(c)) if c.annual.is_some() => {
                    let a = c.annual.as_ref().unwrap();
                    annual.push((i, (a.month, a.day.unwrap_or(0))));
                }
                Some(Typed::Campaign(c)) if c.start.is_some() => dated.push((i, c.start.unwrap())),
                _ => undated.push(i),
            }
        }
        annual.sort_by_key(|&(i, when)| (when, i));
        let pages = &self.site.pages;
        dated.sort_by(|a, b| a.1.cmp(&b.1).then(pages[a.0].rel_path.cmp(&pages[b.0].rel_path)));
        let entry = |i: usize| {
            let Some(Typed::Campaign(c)) = &pages[i].typed else { unreachable!() };
            let value = Value::from_serializable(&serde_json::json!({
                "start": c.start.map(|d| d.to_string()),
                "end": c.end.or(c.start).map(|d| d.to_string()),
                "dates_label": calendar::dates_label(c),
                "year": c.start.map(|d| d.0.format("%Y").to_string().parse::<u16>().unwrap_or(0)).or(c.year),
            }));
            with_field(&value, "page", self.refs.get(i).clone())
        };
        let mut years: Vec<(String, Vec<Value>)> = Vec::new();
        for &(i, d) in &dated {
            let y = d.0.format("%Y").to_string();
            match years.last_mut() {
                Some((yy, list)) if *yy == y => list.push(entry(i)),
                _ => years.push((y, vec![entry(i)])),
            }
        }
        let mut ctx = self.context();
        let years: Vec<Value> = years
            .into_iter()
            .map(|(y, l)| with_field(&Value::from_serializable(&serde_json::json!({"year": y})), "campaigns", Value::from(l)))
            .collect();
        ctx.put("years", Value::from(years));
        ctx.put("undated", Value::from(undated.into_iter().map(entry).collect::<Vec<_>>()));
        let annual: Vec<Value> = annual
            .into_iter()
            .map(|(i, _)| {
                let Some(Typed::Campaign(c)) = &pages[i].typed else { unreachable!() };
                let a = c.annual.as_ref().unwrap();
                let value = Value::from_serializable(&serde_json::json!({
                    "month": a.month,
                    "day": a.day,
                    "label": a.label(),
                    "basis": a.basis,
                }));
                with_field(&value, "page", self.refs.get(i).clone())
            })
            .collect();
        ctx.put("annual", Value::from(annual));
        ctx.insert("ics_url", &self.site.url("/campaigns.ics"));
        ctx.insert("webcal_url", &calendar::webcal(&self.site.permalink("/campaigns.ics")));
        ctx.insert("current_path", &self.site.url("/calendar/"));
        Ok(OutputFile::bytes("calendar/index.html", self.render("calendar.html", ctx)?))
    }

    /// The A–Z index: every page by section (menu order first) in pinyin order.
    fn az_page(&self) -> Result<OutputFile, Diagnostic> {
        let first: Vec<String> = self.globals.menu.iter().map(|m| m.path.clone()).collect();
        let mut ctx = self.context();
        ctx.insert("az_sections", &az::sections(self.site, &first));
        ctx.insert("current_path", &self.site.url(az::PATH));
        Ok(OutputFile::bytes(output_path(az::PATH), self.render("az.html", ctx)?))
    }

    /// The Atom feeds.
    fn feeds(&self) -> Vec<OutputFile> {
        let site = self.site;
        let mut out = Vec::new();
        if site.config.generate_feeds {
            let all: Vec<&Page> = site.pages.iter().filter(|p| p.is_rendered()).map(|p| &**p).collect();
            if let Some(feed) = feeds::atom(site, &site.config.title, "/atom.xml", "/", &all) {
                out.push(OutputFile::bytes("atom.xml", feed));
            }
        }
        for s in site.sections.iter().filter(|s| section_has_feed(site, s)) {
            let pages: Vec<&Page> = s.pages.iter().map(|&i| &*site.pages[i]).filter(|p| p.is_rendered()).collect();
            let feed_path = format!("{}atom.xml", s.path);
            let title = format!("{} · {}", s.title, site.config.title);
            if let Some(feed) = feeds::atom(site, &title, &feed_path, &s.path, &pages) {
                out.push(OutputFile::bytes(feed_path.trim_start_matches('/'), feed));
            }
        }
        for t in &site.taxonomies {
            for term in t.terms.iter().filter(|term| term_has_feed(site, t, term)) {
                let pages: Vec<&Page> = term.pages.iter().map(|&i| &*site.pages[i]).filter(|p| p.is_rendered()).collect();
                let html_path = format!("/{}/{}/", t.slug, term.slug);
                let feed_path = format!("{html_path}atom.xml");
                let title = format!("{} · {} · {}", term.name, t.title, site.config.title);
                if let Some(feed) = feeds::atom(site, &title, &feed_path, &html_path, &pages) {
                    out.push(OutputFile::bytes(feed_path.trim_start_matches('/'), feed));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_targets_start_first() {
        let mut order = vec![
            Target::Page("a.md".into()),
            Target::SectionPager("v/_index.md".into(), 1),
            Target::Calendar,
            Target::Term("tags".into(), "x".into()),
            Target::NotFound,
            Target::AtoZ,
        ];
        order.sort_by_key(heavy_first);
        assert_eq!(order[0], Target::Calendar);
        assert_eq!(order[1], Target::AtoZ);
        assert_eq!(order[2], Target::Term("tags".into(), "x".into()));
        assert_eq!(order.last(), Some(&Target::Page("a.md".into())));
    }
}
