//! Stage 2, **model**: turn loaded documents into a typed [`Site`] — sections, pages,
//! taxonomies, the portal's typed content and the relations between pages — checking every
//! field and reference on the way. All problems of a build come back together.
//!
//! Owns: front-matter fields, slugs and URLs, drafts, sorting, typed validation, cross
//! references, internal-link checking. Knows nothing of HTML or templates.

pub mod date;
pub mod front_matter;
pub mod number;
pub mod place_names;
pub mod portal;
pub mod slug;
pub mod text;
pub(crate) mod validate;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::load::{Document, DocumentKind};
pub use front_matter::{PageFrontMatter, SectionFrontMatter, SortBy};
pub use portal::{PageType, Typed};
pub use text::BodyText;
pub use validate::placeholder;

/// Options that change what the model contains.
#[derive(Debug, Clone, Default)]
pub struct ModelOptions {
    /// Keep pages and sections marked `draft = true`.
    pub include_drafts: bool,
}

/// A section: a folder with an `_index.md` (the home page is the root section).
#[derive(Debug, Clone)]
pub struct Section {
    /// `venues/_index.md`; `_index.md` for the root.
    pub rel_path: String,
    pub display_path: PathBuf,
    /// Folder relative to `content/` (`venues`, empty for the root).
    pub dir: String,
    pub meta: SectionFrontMatter,
    pub title: String,
    /// Site-relative URL path (`/venues/`), without the base URL's path prefix.
    pub path: String,
    pub page_type: Option<PageType>,
    pub sort_by: SortBy,
    pub paginate_by: Option<usize>,
    pub body: String,
    pub text: BodyText,
    /// Pages directly in this section, sorted as the section asks.
    pub pages: Vec<usize>,
    pub subsections: Vec<usize>,
    pub parent: Option<usize>,
    /// Where the section's URL sends visitors instead of showing a page (`redirect_to`,
    /// resolved and checked): a site-relative link with the base URL's path prefix, or an
    /// http(s) URL.
    pub redirect: Option<String>,
}

impl Section {
    /// Whether the section shows a page of its own (not `render = false`, not a redirect):
    /// only then is it in the sitemap, the feeds and the search index.
    pub fn has_own_page(&self) -> bool {
        self.meta.render != Some(false) && self.redirect.is_none()
    }
}

/// A group of related pages shown on a page ("在此举办的活动").
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RelatedGroup {
    pub key: &'static str,
    pub label: &'static str,
    pub pages: Vec<usize>,
}

/// A content page.
#[derive(Debug, Clone)]
pub struct Page {
    pub rel_path: String,
    pub display_path: PathBuf,
    /// Shared (`Arc`) so that a rebuild reuses unchanged pages without copying them.
    pub meta: Arc<PageFrontMatter>,
    pub title: String,
    pub slug: String,
    /// Site-relative URL path (`/venues/jiao-zuo-shi-ke-ji-guan/`).
    pub path: String,
    /// Index of the section the page belongs to.
    pub section: usize,
    pub typed: Option<Typed>,
    pub body: Arc<str>,
    pub body_line: usize,
    pub text: Arc<BodyText>,
    pub summary: String,
    /// Bundle files, copied next to the page's `index.html`.
    pub assets: Vec<PathBuf>,
}

impl Page {
    /// Whether the page is written (not `render = false`): only then is it in the sitemap,
    /// the feeds and the search index.
    pub fn is_rendered(&self) -> bool {
        self.meta.render != Some(false)
    }

    pub fn page_type(&self) -> Option<PageType> {
        self.typed.as_ref().map(Typed::page_type)
    }

    /// The day a page is about, for sorting and feeds: its `date`, else a campaign's start.
    pub fn date(&self) -> Option<date::Date> {
        self.meta.date.or(match &self.typed {
            Some(Typed::Campaign(c)) => c.start,
            _ => None,
        })
    }
}

/// One term of a taxonomy with its pages.
#[derive(Debug, Clone)]
pub struct Term {
    pub name: String,
    pub slug: String,
    pub pages: Vec<usize>,
}

/// A taxonomy declared in config with the terms pages used.
#[derive(Debug, Clone)]
pub struct Taxonomy {
    pub name: String,
    pub title: String,
    pub slug: String,
    pub paginate_by: Option<usize>,
    pub feed: bool,
    pub terms: Vec<Term>,
}

/// Something an internal link can point at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocRef {
    Page(usize),
    Section(usize),
}

/// The whole site, typed and checked. Immutable once built; later stages only read it.
#[derive(Debug, Clone)]
pub struct Site {
    pub config: Config,
    pub sections: Vec<Section>,
    /// Shared with the model cache (`kepu serve`), so a rebuild after an edit reuses the
    /// unchanged pages instead of copying ten thousand of them.
    pub pages: Vec<Arc<Page>>,
    /// Each page's related groups, by page index: kept apart from [`Page`] because they
    /// depend on other pages, so that a page stays what its own document made it.
    pub related: Vec<Vec<RelatedGroup>>,
    pub taxonomies: Vec<Taxonomy>,
    by_rel_path: HashMap<String, DocRef>,
}

impl Site {
    /// Look a content file up by its path relative to `content/`.
    pub fn get(&self, rel_path: &str) -> Option<DocRef> {
        self.by_rel_path.get(rel_path.trim_start_matches("@/")).copied()
    }

    /// The root section (home page).
    pub fn root(&self) -> &Section {
        &self.sections[0]
    }

    /// Site-relative link for a URL path, with the base URL's path prefix.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.config.path_prefix(), path)
    }

    /// Absolute URL for a URL path.
    pub fn permalink(&self, path: &str) -> String {
        format!("{}{}", self.config.base_url_trimmed(), path)
    }

    /// Resolve `@/section/page.md#anchor` to a site-relative link; `None` if unknown (the
    /// model has already reported it).
    pub fn resolve_internal(&self, target: &str, anchor: Option<&str>) -> Option<String> {
        let path = match self.get(target)? {
            DocRef::Page(i) => &self.pages[i].path,
            DocRef::Section(i) => &self.sections[i].path,
        };
        let mut url = self.url(path);
        if let Some(a) = anchor {
            url.push('#');
            url.push_str(a);
        }
        Some(url)
    }

    /// Move the site out, leaving an empty one with the same config behind (`kepu serve`
    /// moves its last good site on when it patches it rather than rebuilding it).
    pub fn take(&mut self) -> Site {
        let empty = Site {
            config: self.config.clone(),
            sections: Vec::new(),
            pages: Vec::new(),
            related: Vec::new(),
            taxonomies: Vec::new(),
            by_rel_path: HashMap::new(),
        };
        std::mem::replace(self, empty)
    }

    /// The related groups of a page of this site (none for a page of another site).
    pub fn related_of(&self, page: &Page) -> &[RelatedGroup] {
        match self.get(&page.rel_path) {
            Some(DocRef::Page(i)) => &self.related[i],
            _ => &[],
        }
    }

    /// The page of a city, by short name.
    pub fn city_page(&self, name: &str) -> Option<usize> {
        self.pages.iter().position(|p| matches!(&p.typed, Some(Typed::City(c)) if c.name == name))
    }

    /// Pages of one type, in site order.
    pub fn pages_of(&self, t: PageType) -> impl Iterator<Item = (usize, &Page)> {
        self.pages.iter().map(|p| &**p).enumerate().filter(move |(_, p)| p.page_type() == Some(t))
    }
}

/// Build the site model from the loaded documents.
pub fn build(config: Config, documents: Vec<Document>, options: &ModelOptions) -> Result<Site, Diagnostics> {
    let documents: Vec<Arc<Document>> = documents.into_iter().map(Arc::new).collect();
    // A one-off cache: the site takes its pages out of it instead of copying them.
    build_with_cache(config, &documents, options, &mut ModelCache::default(), false)
}

/// What the model keeps between builds for `kepu serve`: the result of each page document's
/// own work (front matter, typed table, body analysis), reused while the document and
/// everything else that work depends on (config, the sections and their types, options) is
/// unchanged. Cross-page work (URLs, links, references, taxonomies, relations) is always
/// redone, so a cached build is exactly the build from scratch.
#[derive(Debug, Default)]
pub struct ModelCache {
    context: u64,
    pages: HashMap<String, CachedPage>,
}

#[derive(Debug)]
struct CachedPage {
    doc: Arc<Document>,
    built: Result<Option<Arc<Page>>, Diagnostics>,
}

impl ModelCache {
    /// How many page documents the last build had to (re)build rather than reuse.
    pub fn len(&self) -> usize {
        self.pages.len()
    }
    pub fn is_empty(&self) -> bool {
        self.pages.is_empty()
    }
}

/// [`build`], reusing the per-document results in `cache` for documents that did not change
/// (same `Arc`, or same text and assets) and updating the cache.
pub fn build_cached(
    config: Config,
    documents: &[Arc<Document>],
    options: &ModelOptions,
    cache: &mut ModelCache,
) -> Result<Site, Diagnostics> {
    build_with_cache(config, documents, options, cache, true)
}

/// [`build_cached`]; `keep` false moves the pages out of the cache (which is then of no use)
/// rather than copying every page.
fn build_with_cache(
    config: Config,
    documents: &[Arc<Document>],
    options: &ModelOptions,
    cache: &mut ModelCache,
    keep: bool,
) -> Result<Site, Diagnostics> {
    let mut diags = Diagnostics::new();
    let mut failed = validate::Failed::default();
    let mut drafts = validate::Drafts::default();

    // Translations (`about.fr.md` with `[languages.fr]` in config): kepu builds one language,
    // and the config's warning says so.
    let languages = &config.zola.languages;
    let (section_docs, page_docs): (Vec<&Arc<Document>>, Vec<&Arc<Document>>) = documents
        .iter()
        .filter(|d| languages.is_empty() || !crate::config::zola::is_translation(&d.rel_path, languages))
        .partition(|d| d.kind == DocumentKind::Section);

    // Sections first: pages need to know their section's type.
    let mut sections = Vec::new();
    let mut section_sources: Vec<&Document> = Vec::new();
    for doc in section_docs {
        match build_section(&config, doc) {
            Ok(s) if s.meta.draft && !options.include_drafts => drafts.add(doc),
            Ok(s) => {
                sections.push(s);
                section_sources.push(doc);
            }
            Err(d) => {
                failed.add(doc);
                diags.extend(d)
            }
        }
    }
    let implicit_root_doc = Document {
        rel_path: "_index.md".into(),
        display_path: "content/_index.md".into(),
        kind: DocumentKind::Section,
        source: String::new(),
        format: crate::load::FrontMatterFormat::Toml,
        front_matter: 0..0,
        body_start: 0,
        assets: Vec::new(),
    };
    if !sections.iter().any(|s| s.dir.is_empty()) {
        sections.push(implicit_root(&config));
        section_sources.push(&implicit_root_doc);
    }
    // Root first, then by folder: stable order for everything downstream.
    let mut paired: Vec<(Section, &Document)> = sections.into_iter().zip(section_sources).collect();
    paired.sort_by(|a, b| a.0.dir.cmp(&b.0.dir));
    let (mut sections, section_sources): (Vec<Section>, Vec<&Document>) = paired.into_iter().unzip();
    link_sections(&mut sections);

    // Per-page work, from the cache where nothing it depends on changed.
    let context = page_context_key(&config, &sections, options);
    if cache.context != context {
        cache.pages.clear();
        cache.context = context;
    }
    let wanted: std::collections::HashSet<&str> = page_docs.iter().map(|d| d.rel_path.as_str()).collect();
    cache.pages.retain(|k, _| wanted.contains(k.as_str()));
    let stale: Vec<&Arc<Document>> = page_docs
        .iter()
        .copied()
        .filter(|d| match cache.pages.get(&d.rel_path) {
            Some(c) => !same_document(&c.doc, d),
            None => true,
        })
        .collect();
    let fresh: Vec<(String, CachedPage)> = stale
        .into_par_iter()
        .map(|doc| {
            let built = build_page(&config, &sections, doc, options).map(|p| p.map(Arc::new));
            (doc.rel_path.clone(), CachedPage { doc: doc.clone(), built })
        })
        .collect();
    cache.pages.extend(fresh);

    let mut paired: Vec<(Arc<Page>, &Document)> = Vec::with_capacity(page_docs.len());
    if keep {
        for doc in &page_docs {
            let Some(c) = cache.pages.get(&doc.rel_path) else { continue };
            match &c.built {
                Ok(Some(p)) => paired.push((p.clone(), &c.doc)),
                Ok(None) => drafts.add(&c.doc),
                Err(d) => {
                    failed.add(&c.doc);
                    diags.extend(d.clone())
                }
            }
        }
    } else {
        for doc in &page_docs {
            let Some(c) = cache.pages.remove(&doc.rel_path) else { continue };
            match c.built {
                Ok(Some(p)) => paired.push((p, doc.as_ref())),
                Ok(None) => drafts.add(doc),
                Err(d) => {
                    failed.add(doc);
                    diags.extend(d)
                }
            }
        }
    }
    // Stable page order: by content path.
    paired.sort_by(|a, b| a.0.rel_path.cmp(&b.0.rel_path));
    let (pages, page_sources): (Vec<Arc<Page>>, Vec<&Document>) = paired.into_iter().unzip();

    let mut by_rel_path = HashMap::new();
    for (i, s) in sections.iter().enumerate() {
        by_rel_path.insert(s.rel_path.clone(), DocRef::Section(i));
    }
    for (i, p) in pages.iter().enumerate() {
        by_rel_path.insert(p.rel_path.clone(), DocRef::Page(i));
    }

    let mut site = Site { config, sections, pages, related: Vec::new(), taxonomies: Vec::new(), by_rel_path };
    assign_pages_to_sections(&mut site);
    diags.extend(resolve_redirects(&mut site, &section_sources));
    // The cross-page checks and the taxonomies only read the site: side by side, since
    // `kepu serve` runs all of them again after an edit that moves a page.
    let ((urls, links), (typed, taxonomies)) = rayon::join(
        || {
            rayon::join(
                || validate::unique_urls(&site, &page_sources, &section_sources),
                || validate::internal_links(&site, &page_sources, &section_sources, &failed, &drafts),
            )
        },
        || rayon::join(|| validate::typed_pages(&site, &page_sources, &failed, &drafts), || build_taxonomies(&site, &page_sources)),
    );
    diags.extend(urls);
    diags.extend(links);
    diags.extend(typed);
    match taxonomies {
        Ok(t) => site.taxonomies = t,
        Err(d) => diags.extend(d),
    }
    validate::relate(&mut site);

    let diags = diags.sorted();
    if diags.has_errors() { Err(diags) } else { Ok(site) }
}

/// A page [`patch_page`] replaced: what `kepu serve` needs to tell which outputs changed, and
/// to put the page back ([`unpatch_page`]) if the rebuild then fails.
#[derive(Debug, Clone)]
pub struct Patched {
    /// The page as it was.
    pub old: Arc<Page>,
    /// Where it was in its section's list.
    pub old_position: usize,
    /// Its title, sort keys, dates or authors changed: it may have moved in its section's list
    /// and in the related lists it is in, and the sitemap and feeds show its dates (and the
    /// feeds its authors).
    pub reordered: bool,
}

/// Apply a one-page edit to `site` in place, when the edit leaves everything other pages
/// depend on as it was: the page keeps its URL, section, taxonomies, typed table, headings
/// (others may link to them) and whether it lists sources. What it shows (body, description,
/// figures, …) may change, and so may its title, weight and dates: then it takes its new
/// place in its section's list and in the related lists it is in, provided the title stays
/// unique and no campaign names the old one (else the rebuild reports it). Returns the page
/// as it was, or `None` (and changes nothing) when the edit needs a whole rebuild with
/// [`build_cached`], which also reports any error. `kepu serve` tries this first: rebuilding
/// ten thousand pages' model costs more than rendering the few outputs an edit changes.
pub fn patch_page(site: &mut Site, doc: &Arc<Document>, options: &ModelOptions, cache: &mut ModelCache) -> Option<Patched> {
    let Some(DocRef::Page(i)) = site.get(&doc.rel_path) else { return None };
    if cache.context != page_context_key(&site.config, &site.sections, options) {
        return None;
    }
    let built = build_page(&site.config, &site.sections, doc, options).ok()??;
    let old = &site.pages[i];
    let typed = |p: &Page| p.typed.as_ref().map(|t| serde_json::to_value(t).ok());
    let anchors = |p: &Page| p.text.headings.iter().map(|h| h.id.clone()).collect::<Vec<_>>();
    let same_identity = built.rel_path == old.rel_path
        && built.path == old.path
        && built.slug == old.slug
        && built.section == old.section
        && built.meta.taxonomies == old.meta.taxonomies
        && built.meta.aliases == old.meta.aliases
        && built.meta.sources.is_empty() == old.meta.sources.is_empty()
        && built.meta.example == old.meta.example
        // Whether it is written and found decides which lists, feeds and indexes hold it.
        && built.meta.render == old.meta.render
        && built.meta.in_search_index == old.meta.in_search_index
        && built.assets == old.assets
        && typed(&built) == typed(old)
        && anchors(&built) == anchors(old);
    if !same_identity {
        return None;
    }
    // Its place in a transparent section's parent list, or on reversed pagers, is not where
    // `kepu serve`'s plan for a patch looks: rebuild instead.
    let section = &site.sections[built.section];
    if section.meta.transparent || section.meta.paginate_reversed {
        return None;
    }
    let reordered = built.title != old.title
        || built.meta.weight != old.meta.weight
        || built.meta.date != old.meta.date
        || built.date() != old.date()
        || built.meta.updated != old.meta.updated
        || built.meta.authors != old.meta.authors;
    if built.title != old.title && !validate::title_may_change(site, i, &built.title) {
        return None;
    }
    let mut probe = Diagnostics::new();
    let (failed, drafts) = (validate::Failed::default(), validate::Drafts::default());
    validate::page_text(site, &built.text, &built.display_path, doc, &failed, &drafts, &mut probe);
    if probe.has_errors() {
        return None;
    }
    let section = built.section;
    let old_position = site.sections[section].pages.iter().position(|&k| k == i)?;
    let page = Arc::new(built);
    cache.pages.insert(doc.rel_path.clone(), CachedPage { doc: doc.clone(), built: Ok(Some(page.clone())) });
    let old = std::mem::replace(&mut site.pages[i], page);
    if reordered {
        put_in_place(site, i);
    }
    Some(Patched { old, old_position, reordered })
}

/// Undo [`patch_page`]: the page as it was, back in its old place.
pub fn unpatch_page(site: &mut Site, patched: Patched) {
    let Some(DocRef::Page(i)) = site.get(&patched.old.rel_path) else { return };
    site.pages[i] = patched.old;
    if patched.reordered {
        put_in_place(site, i);
    }
}

/// Move page `i` to where its (new) sort keys put it in its section's list and in the
/// related lists it is in; every other page keeps its order, as a full build would give.
fn put_in_place(site: &mut Site, i: usize) {
    let mut s = site.pages[i].section;
    loop {
        let by = site.sections[s].sort_by;
        let pages = &site.pages;
        let list = &mut site.sections[s].pages;
        list.retain(|&k| k != i);
        let key = |k: usize| if by == SortBy::Title { pinyin_key(&pages[k].title) } else { String::new() };
        let key_i = key(i);
        let at = list.partition_point(|&k| section_order(by, (&pages[k], &key(k)), (&pages[i], &key_i)).is_lt());
        list.insert(at, i);
        // A transparent section's pages are in its parent's list too.
        match site.sections[s].parent.filter(|_| site.sections[s].meta.transparent) {
            Some(parent) => s = parent,
            None => break,
        }
    }
    validate::resort_related(site, i);
}

/// Everything besides its own document that building one page reads.
fn page_context_key(config: &Config, sections: &[Section], options: &ModelOptions) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    serde_json::to_string(config).unwrap_or_default().hash(&mut h);
    options.include_drafts.hash(&mut h);
    for s in sections {
        (&s.dir, s.page_type).hash(&mut h);
    }
    h.finish()
}

fn same_document(a: &Arc<Document>, b: &Arc<Document>) -> bool {
    Arc::ptr_eq(a, b)
        || (a.source == b.source && a.assets == b.assets && a.display_path == b.display_path && a.rel_path == b.rel_path)
}

fn implicit_root(config: &Config) -> Section {
    Section {
        rel_path: "_index.md".into(),
        display_path: "content/_index.md".into(),
        dir: String::new(),
        meta: SectionFrontMatter::default(),
        title: config.title.clone(),
        path: "/".into(),
        page_type: None,
        sort_by: SortBy::Weight,
        paginate_by: None,
        body: String::new(),
        text: BodyText::default(),
        pages: Vec::new(),
        subsections: Vec::new(),
        parent: None,
        redirect: None,
    }
}

fn build_section(config: &Config, doc: &Document) -> Result<Section, Diagnostics> {
    let meta: SectionFrontMatter = front_matter::parse(doc)?;
    let dir = doc.rel_path.trim_end_matches("_index.md").trim_end_matches('/').to_string();
    let options = config.sections.get(&dir).cloned().unwrap_or_default();
    let mut diags = Diagnostics::new();
    let page_type = match options.page_type.as_ref().or(meta.page_type.as_ref()) {
        None => None,
        Some(t) => match PageType::parse(t) {
            Some(t) => Some(t),
            None => {
                let allowed: Vec<_> = PageType::ALL.iter().map(|t| t.key()).collect();
                diags.push(
                    Diagnostic::error(format!("unknown page_type `{t}`"))
                        .file(&doc.display_path)
                        .field("page_type")
                        .hint(format!("allowed values are: {}", allowed.join(", ")))
                        .at_line(&doc.source, front_matter::locate(doc, None, "page_type")),
                );
                None
            }
        },
    };
    let sort_by = match options.sort_by.as_deref() {
        Some(s) => SortBy::deserialize(toml::Value::String(s.to_string())).unwrap_or_default(),
        None => meta.sort_by.unwrap_or_default(),
    };
    let title = meta.title.clone().unwrap_or_else(|| {
        if dir.is_empty() { config.title.clone() } else { dir.rsplit('/').next().unwrap_or(&dir).to_string() }
    });
    let path = if dir.is_empty() { "/".to_string() } else { url_dir(&dir) };
    if let Err(d) = validate::safe_url_path(&path, doc, "path") {
        diags.push(d);
    }
    for alias in &meta.aliases {
        if let Err(d) = validate::safe_url_path(alias, doc, "aliases") {
            diags.push(d);
        }
    }
    // Pagers are written under it: it must stay inside the section's folder.
    if let Some(p) = &meta.paginate_path
        && let Err(d) = validate::safe_url_path(p, doc, "paginate_path")
    {
        diags.push(d);
    }
    let body = doc.body().to_string();
    let text = text::analyse(&body);
    if diags.has_errors() {
        return Err(diags);
    }
    Ok(Section {
        rel_path: doc.rel_path.clone(),
        display_path: doc.display_path.clone(),
        dir,
        paginate_by: options.paginate_by.or(meta.paginate_by).filter(|&n| n > 0),
        meta,
        title,
        path,
        page_type,
        sort_by,
        body,
        text,
        pages: Vec::new(),
        subsections: Vec::new(),
        parent: None,
        redirect: None,
    })
}

/// Where a `redirect_to` value sends visitors, before loops are checked.
#[derive(Debug, Clone, PartialEq, Eq)]
enum RedirectTarget {
    /// A URL path of this site (`/docs/overview/`, without the base URL's prefix) and anchor.
    Site(String, Option<String>),
    /// An http(s) URL of another site.
    External(String),
}

/// Read one `redirect_to`: `@/file.md#anchor` (checked like every internal link), a path of
/// the site (`docs/overview`, as Zola writes it) or an http(s) URL. Anything else — other
/// schemes (`javascript:`, `data:`), `//host`, markup or spaces — is refused: the value ends
/// up in a `<meta http-equiv="refresh">` and a link.
fn parse_redirect(site: &Site, value: &str) -> Result<RedirectTarget, (String, String)> {
    let v = value.trim();
    let plain_hint = "write `@/other/page.md`, a path of the site such as `docs/overview`, or an https:// URL";
    if v.is_empty() {
        return Err(("redirect_to is empty".into(), plain_hint.into()));
    }
    if let Some(c) = v.chars().find(|c| c.is_whitespace() || c.is_control() || "\"'<>\\^`{|}".contains(*c)) {
        return Err((format!("redirect_to `{}` contains {c:?}, which a URL cannot contain", v.escape_debug()), plain_hint.into()));
    }
    if let Some(rest) = v.strip_prefix("@/") {
        let (target, anchor) = match rest.split_once('#') {
            Some((t, a)) => (t, Some(a.to_string())),
            None => (rest, None),
        };
        let path = match site.get(target) {
            Some(DocRef::Page(i)) => site.pages[i].path.clone(),
            Some(DocRef::Section(i)) => site.sections[i].path.clone(),
            None => {
                return Err((format!("redirect_to `{v}`: there is no content/{target}"), "check the file name (the path is relative to content/)".into()));
            }
        };
        return Ok(RedirectTarget::Site(path, anchor));
    }
    if v.starts_with("http://") || v.starts_with("https://") {
        return crate::config::check_base_url(v)
            .map(|()| RedirectTarget::External(v.to_string()))
            .map_err(|m| (m.replace("base_url", "redirect_to"), plain_hint.into()));
    }
    let scheme = v.split(['/', '?', '#']).next().is_some_and(|first| first.contains(':'));
    if scheme || v.starts_with("//") {
        return Err((format!("redirect_to `{v}` is neither a page of this site nor an http(s) URL"), plain_hint.into()));
    }
    let (path, anchor) = match v.split_once('#') {
        Some((p, a)) => (p, Some(a.to_string())),
        None => (v, None),
    };
    if path.split('/').any(|seg| seg == ".." || seg == ".") || path.contains('\\') {
        return Err((format!("redirect_to `{v}` may not contain `.` or `..` segments"), plain_hint.into()));
    }
    let trimmed = path.trim_matches('/');
    let last_has_extension = trimmed.rsplit('/').next().is_some_and(|s| s.contains('.'));
    let path = match trimmed {
        "" => "/".to_string(),
        t if last_has_extension => format!("/{t}"),
        t => format!("/{t}/"),
    };
    Ok(RedirectTarget::Site(path, anchor))
}

/// Check every section's `redirect_to` and store where it leads; a redirect to the section
/// itself, or a chain of section redirects that comes back (a → b → a), is an error, since
/// browsers would go round it for ever.
fn resolve_redirects(site: &mut Site, sources: &[&Document]) -> Diagnostics {
    let mut diags = Diagnostics::new();
    let mut targets: Vec<Option<RedirectTarget>> = vec![None; site.sections.len()];
    for (i, s) in site.sections.iter().enumerate() {
        let Some(value) = &s.meta.redirect_to else { continue };
        match parse_redirect(site, value) {
            Ok(t) => targets[i] = Some(t),
            Err((message, hint)) => {
                let doc = sources[i];
                diags.push(
                    Diagnostic::error(message)
                        .file(&doc.display_path)
                        .field("redirect_to")
                        .hint(hint)
                        .at_line(&doc.source, front_matter::locate(doc, None, "redirect_to")),
                );
            }
        }
    }
    let by_path: HashMap<&str, usize> = site.sections.iter().enumerate().map(|(i, s)| (s.path.as_str(), i)).collect();
    for start in 0..site.sections.len() {
        let mut chain = vec![start];
        let mut at = start;
        while let Some(Some(RedirectTarget::Site(path, _))) = targets.get(at) {
            let Some(&next) = by_path.get(path.as_str()) else { break };
            if targets[next].is_none() {
                break;
            }
            if chain.contains(&next) {
                // Report a loop once, at the section where it starts in site order.
                if next == start && chain.iter().all(|&k| k >= start) {
                    chain.push(next);
                    let shown: Vec<&str> = chain.iter().map(|&k| site.sections[k].path.as_str()).collect();
                    let doc = sources[start];
                    diags.push(
                        Diagnostic::error(format!("redirect_to makes a loop: {}", shown.join(" → ")))
                            .file(&doc.display_path)
                            .field("redirect_to")
                            .hint("point redirect_to at a page that shows content, or remove it")
                            .at_line(&doc.source, front_matter::locate(doc, None, "redirect_to")),
                    );
                }
                break;
            }
            chain.push(next);
            at = next;
        }
    }
    if diags.has_errors() {
        return diags;
    }
    for (s, t) in site.sections.iter_mut().zip(targets) {
        s.redirect = t.map(|t| match t {
            RedirectTarget::External(url) => url,
            RedirectTarget::Site(path, anchor) => {
                let mut url = format!("{}{}", site.config.path_prefix(), path);
                if let Some(a) = anchor {
                    url.push('#');
                    url.push_str(&a);
                }
                url
            }
        });
    }
    diags
}

/// `/a/b/` for folder `a/b`, each folder name slugified.
fn url_dir(dir: &str) -> String {
    let mut out = String::from("/");
    for part in dir.split('/').filter(|p| !p.is_empty()) {
        let s = if part.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            part.to_ascii_lowercase()
        } else {
            slug::slugify(part)
        };
        out.push_str(&s);
        out.push('/');
    }
    out
}

/// Parent/child links between sections (nearest ancestor folder with an `_index.md`).
fn link_sections(sections: &mut [Section]) {
    for i in 0..sections.len() {
        if sections[i].dir.is_empty() {
            continue;
        }
        let parent = nearest_section(sections, parent_dir(&sections[i].dir));
        sections[i].parent = Some(parent);
        sections[parent].subsections.push(i);
    }
}

fn parent_dir(dir: &str) -> &str {
    dir.rsplit_once('/').map_or("", |(p, _)| p)
}

/// Index of the section for folder `dir`, walking up until one exists (the root always does).
fn nearest_section(sections: &[Section], mut dir: &str) -> usize {
    loop {
        if let Some(i) = sections.iter().position(|s| s.dir == dir) {
            return i;
        }
        if dir.is_empty() {
            return 0;
        }
        dir = parent_dir(dir);
    }
}

/// A page's terms go under `[taxonomies]`. Written at the top (`tags = […]`, as Hugo has
/// them), the field is unknown, and the hint says where it goes instead of listing fields.
fn taxonomy_hint(config: &Config, mut d: Diagnostic) -> Diagnostic {
    let unknown = d.message.contains("unknown field");
    if let Some(name) = d.field.as_deref().filter(|f| unknown && config.taxonomies.iter().any(|t| t.name == *f)) {
        d.hint = Some(format!("`{name}` is a taxonomy of this site: put it under [taxonomies], e.g.\n[taxonomies]\n{name} = [\"…\"]"));
    }
    d
}

fn build_page(
    config: &Config,
    sections: &[Section],
    doc: &Document,
    options: &ModelOptions,
) -> Result<Option<Page>, Diagnostics> {
    let mut meta: PageFrontMatter = front_matter::parse(doc).map_err(|d| taxonomy_hint(config, d))?;
    if meta.draft && !options.include_drafts {
        return Ok(None);
    }
    let mut diags = Diagnostics::new();
    let title = match meta.title.clone() {
        Some(t) if !t.trim().is_empty() => t,
        _ => {
            diags.push(
                Diagnostic::error("page has no title")
                    .file(&doc.display_path)
                    .field("title")
                    .hint("add `title = \"…\"` to the front matter")
                    .at_line(&doc.source, 1),
            );
            String::new()
        }
    };
    // The folder the file's URL lives in: a bundle's parent folder, else the file's folder.
    let (folder, stem) = match doc.bundle_dir() {
        Some(b) => (parent_dir(b).to_string(), b.rsplit('/').next().unwrap_or(b).to_string()),
        None => {
            let (f, name) = doc.rel_path.rsplit_once('/').unwrap_or(("", &doc.rel_path));
            (f.to_string(), name.trim_end_matches(".md").to_string())
        }
    };
    // `2024-03-01-first-post.md` (or `…_first-post`, or a bundle folder so named), as in
    // Zola: the date is the page's when its front matter has none, and the URL is the rest.
    let stem = match split_date_prefix(&stem) {
        Some((date, rest)) => {
            if meta.date.is_none() {
                meta.date = Some(date);
            }
            rest.to_string()
        }
        None => stem,
    };
    let section = nearest_section(sections, &folder);
    let slug = match &meta.slug {
        Some(s) => {
            if let Err(d) = validate::safe_slug(s, doc) {
                diags.push(d);
            }
            slug::slugify(s)
        }
        None => {
            let s = slug::slugify(&stem);
            let s = if s.is_empty() { slug::slugify(&title) } else { s };
            if s.is_empty() && meta.path.is_none() && !title.is_empty() {
                diags.push(
                    Diagnostic::error("neither the file name nor the title has letters or digits to make a URL from")
                        .file(&doc.display_path)
                        .field("slug")
                        .hint("rename the file (pinyin, e.g. ke-pu-ri.md) or set slug = \"…\"")
                        .at_line(&doc.source, 1),
                );
            }
            s
        }
    };
    let path = match &meta.path {
        Some(p) => {
            let normal = format!("/{}/", p.trim_matches('/'));
            if let Err(d) = validate::safe_url_path(p, doc, "path") {
                diags.push(d);
            }
            normal.replace("//", "/")
        }
        None => format!("{}{}/", url_dir(&folder), slug),
    };
    for alias in &meta.aliases {
        if let Err(d) = validate::safe_url_path(alias, doc, "aliases") {
            diags.push(d);
        }
    }
    let typed = validate::typed_table(&mut meta, sections[section].page_type, doc, &mut diags);
    // Copied once, straight into the shared form (a `String` first would copy it twice).
    let body: Arc<str> = Arc::from(doc.body());
    let text = text::analyse(&body);
    let summary = match text.more_at {
        Some(at) => text::analyse(&body[..at]).summary(400),
        None => text.summary(120),
    };
    if diags.has_errors() {
        return Err(diags);
    }
    let page = Page {
        rel_path: doc.rel_path.clone(),
        display_path: doc.display_path.clone(),
        title,
        slug,
        path,
        section,
        typed,
        body,
        body_line: doc.body_line(),
        text: Arc::new(text),
        summary,
        assets: doc.assets.clone(),
        meta: Arc::new(meta),
    };
    validate::page_fields(&page, doc, &mut diags);
    if diags.has_errors() {
        return Err(diags);
    }
    Ok(Some(page))
}

/// `2024-03-01-name` → the date and `name` (Zola's date prefix of content file names, `-` or
/// `_` after it). `None` when the name does not start with a real day.
fn split_date_prefix(stem: &str) -> Option<(date::Date, &str)> {
    let (day, rest) = (stem.get(..10)?, stem.get(11..)?);
    let separator = stem.as_bytes()[10];
    let shape = day.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
    if !shape || !(separator == b'-' || separator == b'_') || rest.is_empty() {
        return None;
    }
    Some((date::Date::parse(day)?, rest))
}

/// Fill each section's page list and order it.
fn assign_pages_to_sections(site: &mut Site) {
    // A page that is not written (`render = false`) is listed nowhere: templates still
    // reach it by path (get_page), links to it would lead nowhere.
    for (i, p) in site.pages.iter().enumerate().filter(|(_, p)| p.is_rendered()) {
        site.sections[p.section].pages.push(i);
        // A `transparent` section passes its pages on to its parent (and so on up).
        let mut s = p.section;
        while site.sections[s].meta.transparent
            && let Some(parent) = site.sections[s].parent
        {
            site.sections[parent].pages.push(i);
            s = parent;
        }
    }
    let pages = &site.pages;
    // Pinyin keys once per page, not once per comparison.
    let title_keys: Vec<String> = if site.sections.iter().any(|s| s.sort_by == SortBy::Title) {
        pages.par_iter().map(|p| pinyin_key(&p.title)).collect()
    } else {
        Vec::new()
    };
    for s in &mut site.sections {
        let by = s.sort_by;
        let key = |i: usize| title_keys.get(i).map_or("", String::as_str);
        s.pages.sort_by(|&a, &b| section_order(by, (&pages[a], key(a)), (&pages[b], key(b))));
    }
    let sections_snapshot: Vec<(i64, String)> =
        site.sections.iter().map(|s| (s.meta.weight.unwrap_or(i64::MAX), s.dir.clone())).collect();
    for s in &mut site.sections {
        s.subsections.sort_by(|&a, &b| sections_snapshot[a].cmp(&sections_snapshot[b]));
    }
}

/// Titles sort by their pinyin, the order Chinese readers expect in an index.
/// The order of a section's pages: by `sort_by`, then by content path, so it is total and
/// a page can be put back in its place by a binary search ([`patch_page`]). `title_key` is
/// the page's [`pinyin_key`] when sorting by title.
fn section_order(by: SortBy, (a, a_key): (&Page, &str), (b, b_key): (&Page, &str)) -> std::cmp::Ordering {
    let ord = match by {
        SortBy::Weight => a.meta.weight.unwrap_or(i64::MAX).cmp(&b.meta.weight.unwrap_or(i64::MAX)),
        SortBy::Date => b.date().cmp(&a.date()),
        SortBy::UpdateDate => b.meta.updated.or(b.date()).cmp(&a.meta.updated.or(a.date())),
        SortBy::Title => a_key.cmp(b_key),
        SortBy::TitleBytes => a.title.cmp(&b.title),
        SortBy::Slug => a.slug.cmp(&b.slug),
        SortBy::Permalink => a.path.cmp(&b.path),
        SortBy::None => std::cmp::Ordering::Equal,
    };
    ord.then_with(|| a.rel_path.cmp(&b.rel_path))
}

fn pinyin_key(title: &str) -> String {
    slug::slugify(title)
}

fn build_taxonomies(site: &Site, sources: &[&Document]) -> Result<Vec<Taxonomy>, Diagnostics> {
    let mut diags = Diagnostics::new();
    let mut terms: BTreeMap<String, BTreeMap<String, (String, Vec<usize>)>> = BTreeMap::new();
    // Thousands of pages share a few hundred terms; each term's slug (pinyin) is made once.
    let mut slugs: HashMap<&str, String> = HashMap::new();
    for t in &site.config.taxonomies {
        terms.insert(t.name.clone(), BTreeMap::new());
    }
    for (i, p) in site.pages.iter().enumerate() {
        if !p.is_rendered() {
            continue;
        }
        for (name, values) in &p.meta.taxonomies {
            let Some(map) = terms.get_mut(name) else {
                let declared: Vec<_> = site.config.taxonomies.iter().map(|t| t.name.as_str()).collect();
                diags.push(
                    Diagnostic::error(format!("unknown taxonomy `{name}`"))
                        .file(&p.display_path)
                        .field(format!("taxonomies.{name}"))
                        .hint(if declared.is_empty() {
                            "declare it in config.toml: [[taxonomies]] name = \"…\"".to_string()
                        } else {
                            format!("declared taxonomies: {}; or add it to config.toml", declared.join(", "))
                        })
                        .at_line(&sources[i].source, front_matter::locate(&sources[i], Some("taxonomies"), name)),
                );
                continue;
            };
            for v in values {
                let slug = slugs.entry(v.as_str()).or_insert_with(|| slug::slugify(v));
                if slug.is_empty() {
                    diags.push(
                        Diagnostic::error(format!("{name} term `{v}` has no letters or digits to make a URL from"))
                            .file(&p.display_path)
                            .field(format!("taxonomies.{name}"))
                            .hint("use a word, e.g. tags = [\"科普日\"]")
                            .at_line(&sources[i].source, front_matter::locate(&sources[i], Some("taxonomies"), name)),
                    );
                    continue;
                }
                let entry = match map.get_mut(slug.as_str()) {
                    Some(e) => e,
                    None => map.entry(slug.clone()).or_insert_with(|| (v.clone(), Vec::new())),
                };
                // Pages come in order, so a repeat of this page can only be the last entry.
                if entry.1.last() != Some(&i) {
                    entry.1.push(i);
                }
            }
        }
    }
    if diags.has_errors() {
        return Err(diags);
    }
    Ok(site
        .config
        .taxonomies
        .iter()
        .map(|t| Taxonomy {
            name: t.name.clone(),
            title: t.title.clone().unwrap_or_else(|| t.name.clone()),
            slug: slug::slugify(&t.name),
            paginate_by: t.paginate_by,
            feed: t.feed,
            terms: terms
                .remove(&t.name)
                .unwrap_or_default()
                .into_iter()
                .map(|(slug, (name, pages))| Term { name, slug, pages })
                .collect(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zola_date_prefixes_of_file_names() {
        let (d, rest) = split_date_prefix("2024-03-01-first-post").unwrap();
        assert_eq!((d.to_string().as_str(), rest), ("2024-03-01", "first-post"));
        assert_eq!(split_date_prefix("2024-03-01_first").map(|(_, r)| r), Some("first"));
        for no in ["2024-02-30-x", "2024-03-01", "2024-03-01-", "2024-03-01x", "24-03-01-x", "2024-3-1-xx-x", "科普日-2024-03-01", "2024-03-0１-x"] {
            assert!(split_date_prefix(no).is_none(), "{no}");
        }
    }
}
