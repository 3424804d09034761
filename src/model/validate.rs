//! The model's checks that serde cannot make: URLs that stay inside the site, unique output
//! paths, internal links and anchors, typed fields (cities, positive numbers, date order) and
//! cross references — and, once all is well, the relations between pages.

use std::collections::{HashMap, HashSet};

use super::front_matter::{locate, PageFrontMatter};
use super::portal::{self, PageType, Typed, CITIES};
use super::{BodyText, DocRef, RelatedGroup, Site};
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::load::Document;

/// A `path` or alias must stay inside the output folder.
pub fn safe_url_path(p: &str, doc: &Document, field: &str) -> Result<(), Diagnostic> {
    let bad = p.contains("..")
        || p.contains('\\')
        || p.contains(':')
        || p.contains('\0')
        || p.contains("//")
        || p.split('/').any(|segment| segment == ".")
        || p.chars().any(|c| c.is_control());
    if bad {
        Err(Diagnostic::error(format!("`{p}` is not allowed in {field}: it could leave the site's output folder"))
            .file(&doc.display_path)
            .field(field)
            .hint("write a plain path such as /venues/new-name/ (no `.` or `..` segments, `\\`, `:` or drive letters)")
            .at_line(&doc.source, locate(doc, None, field)))
    } else {
        Ok(())
    }
}

/// A slug must be one path segment with something to put in a URL.
pub fn safe_slug(s: &str, doc: &Document) -> Result<(), Diagnostic> {
    if !s.contains(['/', '\\']) && !s.contains("..") && super::slug::slugify(s).is_empty() && !s.trim().is_empty() {
        return Err(Diagnostic::error(format!("slug `{s}` has no letters or digits to make a URL from"))
            .file(&doc.display_path)
            .field("slug")
            .hint("use letters, digits and hyphens, e.g. slug = \"zheng-zhou-ke-ji-guan\"")
            .at_line(&doc.source, locate(doc, None, "slug")));
    }
    if s.contains('/') || s.contains('\\') || s.contains("..") || s.trim().is_empty() {
        Err(Diagnostic::error(format!("slug `{s}` must be a single word without `/`, `\\` or `..`"))
            .file(&doc.display_path)
            .field("slug")
            .hint("use letters, digits and hyphens, e.g. slug = \"zheng-zhou-ke-ji-guan\"")
            .at_line(&doc.source, locate(doc, None, "slug")))
    } else {
        Ok(())
    }
}

/// Take the page's typed table out of its front matter, checking it against the section's
/// declared type.
pub fn typed_table(
    meta: &mut PageFrontMatter,
    expected: Option<PageType>,
    doc: &Document,
    diags: &mut Diagnostics,
) -> Option<Typed> {
    let mut found: Vec<Typed> = Vec::new();
    found.extend(meta.venue.take().map(Typed::Venue));
    found.extend(meta.base.take().map(Typed::Base));
    found.extend(meta.expert.take().map(Typed::Expert));
    found.extend(meta.campaign.take().map(Typed::Campaign));
    found.extend(meta.city.take().map(Typed::City));
    found.extend(meta.overview.take().map(Typed::Overview));
    if found.len() > 1 {
        let names: Vec<_> = found.iter().map(|t| format!("[{}]", t.page_type().key())).collect();
        diags.push(
            Diagnostic::error(format!("a page can have only one typed table, found {}", names.join(" and ")))
                .file(&doc.display_path)
                .hint("keep the table that matches the page's section")
                .at_line(&doc.source, locate(doc, None, &format!("[{}]", found[1].page_type().key()))),
        );
    }
    let typed = found.into_iter().next();
    if let Some(expected) = expected {
        match &typed {
            Some(t) if t.page_type() == expected => {}
            Some(t) => diags.push(
                Diagnostic::error(format!(
                    "this section holds {} pages, but the page has a [{}] table",
                    expected.key(),
                    t.page_type().key()
                ))
                .file(&doc.display_path)
                .field(t.page_type().key())
                .hint(format!("rename the table to [{}] or move the file to the right section", expected.key())),
            ),
            None if expected == PageType::Overview => return Some(Typed::Overview(Default::default())),
            None => diags.push(
                Diagnostic::error(format!("missing the [{}] table this section's pages need", expected.key()))
                    .file(&doc.display_path)
                    .field(expected.key())
                    .hint(format!(
                        "add a [{}] table; `kepu new {} \"名称\"` writes a skeleton (fields: docs/content-model.md)",
                        expected.key(),
                        expected.key()
                    ))
                    .at_line(&doc.source, 1),
            ),
        }
    }
    typed
}

/// Two documents must not write the same output file. `pages` and `sections` are the source
/// documents of `site.pages` and `site.sections`, in the same order (for line numbers).
pub fn unique_urls<'a>(site: &Site, pages: &[&'a Document], sections: &[&'a Document]) -> Diagnostics {
    let mut diags = Diagnostics::new();
    // URL → the document that produced it first, and the field that made it (None: the file
    // name did).
    type Owners<'a> = HashMap<std::borrow::Cow<'a, str>, (&'a Document, Option<&'static str>)>;
    let mut owners: Owners = HashMap::with_capacity(site.pages.len() + site.sections.len());
    fn claim<'a>(owners: &mut Owners<'a>, path: std::borrow::Cow<'a, str>, doc: &'a Document, field: Option<&'static str>, diags: &mut Diagnostics) {
        let Some(&(first, first_field)) = owners.get(&path) else {
            owners.insert(path, (doc, field));
            return;
        };
        if first.display_path == doc.display_path {
            return;
        }
        // Report it where an editor chose the URL (a path, slug or alias line), if anywhere.
        let ((at, at_field), other) =
            if field.is_none() && first_field.is_some() { ((first, first_field), doc) } else { ((doc, field), first) };
        let what = if at_field == Some("aliases") { "alias" } else { "URL" };
        let mut d = Diagnostic::error(format!("{what} {path} is also produced by {}", other.display_path.display()))
            .file(&at.display_path)
            .field(at_field.unwrap_or("path"))
            .hint(if at_field == Some("aliases") {
                "remove the alias, or give the other page another URL"
            } else {
                "give one of the two pages another file name, or set `slug`/`path` in its front matter"
            });
        if let Some(f) = at_field.filter(|_| !at.source.is_empty()) {
            d = d.at_line(&at.source, locate(at, None, f));
        }
        diags.push(d);
    }
    for (s, doc) in site.sections.iter().zip(sections) {
        if s.meta.render != Some(false) || s.meta.redirect_to.is_some() {
            claim(&mut owners, s.path.as_str().into(), doc, None, &mut diags);
        }
        for a in &s.meta.aliases {
            claim(&mut owners, format!("/{}/", a.trim_matches('/')).replace("//", "/").into(), doc, Some("aliases"), &mut diags);
        }
    }
    for (p, doc) in site.pages.iter().zip(pages) {
        let field = if p.meta.path.is_some() {
            Some("path")
        } else if p.meta.slug.is_some() {
            Some("slug")
        } else {
            None
        };
        claim(&mut owners, p.path.as_str().into(), doc, field, &mut diags);
        for a in &p.meta.aliases {
            claim(&mut owners, format!("/{}/", a.trim_matches('/')).replace("//", "/").into(), doc, Some("aliases"), &mut diags);
        }
    }
    diags
}

/// The documents that failed on their own (front matter, fields), so the checks across pages
/// do not report links to them and references to their titles as missing too: the
/// document's own error says what to fix, and those would only follow from it (and be
/// printed first when their files sort first).
#[derive(Debug, Default)]
pub struct Failed {
    /// Content paths (`venues/x.md`).
    pub paths: HashSet<String>,
    /// Their titles, where the front matter could be read that far, and trimmed (a title with
    /// a space around it is one way to fail).
    pub titles: HashSet<String>,
}

/// Only the title: a page whose other fields are wrong may still name it.
#[derive(serde::Deserialize, Default)]
struct TitleOnly {
    title: Option<String>,
}

impl Failed {
    /// Note a document that failed to build.
    pub fn add(&mut self, doc: &Document) {
        self.paths.insert(doc.rel_path.clone());
        let title = match super::front_matter::parse::<TitleOnly>(doc) {
            Ok(TitleOnly { title }) => title,
            // A syntax error anywhere stops the parser, but the title line may be fine.
            Err(_) => title_line(doc),
        };
        if let Some(t) = title {
            self.titles.insert(t.trim().to_string());
            self.titles.insert(t);
        }
    }
}

/// The title of a front matter that does not parse, read from its own top-level line
/// (before the first `[table]` in TOML, not indented in YAML). Curly quotes are taken as
/// quotes: they are one of the slips that break the parse.
fn title_line(doc: &Document) -> Option<String> {
    let toml = doc.format == crate::load::FrontMatterFormat::Toml;
    for line in doc.front_matter_text().lines() {
        if toml && line.trim_start().starts_with('[') {
            return None;
        }
        let Some((key, value)) = line.split_once(if toml { '=' } else { ':' }) else { continue };
        if key.trim() != "title" || line.starts_with([' ', '\t']) {
            continue;
        }
        let parsed = if toml {
            toml::from_str::<TitleOnly>(line).ok()
        } else {
            serde_yaml_ng::from_str::<TitleOnly>(line).ok()
        };
        if let Some(TitleOnly { title: Some(t) }) = parsed {
            return Some(t);
        }
        let value = value.trim();
        return [('“', '”'), ('‘', '’'), ('"', '"'), ('\'', '\'')]
            .iter()
            .find_map(|&(open, close)| value.strip_prefix(open)?.strip_suffix(close))
            .map(str::to_string);
    }
    None
}

/// The documents left out on purpose: drafts (`draft = true`) in a build without `--drafts`.
/// A link to one, or a campaign naming one, would be broken in the published site, so it is
/// still an error, but one that says the page is a draft rather than that it does not exist.
#[derive(Debug, Default)]
pub struct Drafts {
    /// Content path → where its `draft = true` is (`content/venues/x.md:5`).
    pub paths: HashMap<String, String>,
    /// Type and title of the typed ones → the same.
    pub titles: HashMap<(PageType, String), String>,
}

impl Drafts {
    /// Note a document left out as a draft.
    pub fn add(&mut self, doc: &Document) {
        /// The title, and which typed table the draft has (what campaigns refer to).
        #[derive(serde::Deserialize, Default)]
        struct Head {
            title: Option<String>,
            venue: Option<serde::de::IgnoredAny>,
            base: Option<serde::de::IgnoredAny>,
            expert: Option<serde::de::IgnoredAny>,
        }
        let at = format!("{}:{}", doc.display_path.display(), locate(doc, None, "draft"));
        if let Ok(Head { title: Some(title), venue, base, expert }) = super::front_matter::parse::<Head>(doc) {
            let t = [(venue.is_some(), PageType::Venue), (base.is_some(), PageType::Base), (expert.is_some(), PageType::Expert)];
            if let Some(&(_, t)) = t.iter().find(|(has, _)| *has) {
                self.titles.insert((t, title), at.clone());
            }
        }
        self.paths.insert(doc.rel_path.clone(), at);
    }
}

/// Every `@/` link must name an existing file, and its `#anchor` an existing heading.
pub fn internal_links(site: &Site, pages: &[&Document], sections: &[&Document], failed: &Failed, drafts: &Drafts) -> Diagnostics {
    let mut diags = Diagnostics::new();
    let texts = site
        .pages
        .iter()
        .map(|p| (&*p.text, &p.display_path))
        .zip(pages)
        .chain(site.sections.iter().map(|s| (&s.text, &s.display_path)).zip(sections));
    for ((text, display), doc) in texts {
        page_text(site, text, display, doc, failed, drafts, &mut diags);
    }
    diags
}

/// The checks of [`internal_links`] for one page's or section's text.
pub fn page_text(
    site: &Site,
    text: &BodyText,
    display: &std::path::Path,
    doc: &Document,
    failed: &Failed,
    drafts: &Drafts,
    diags: &mut Diagnostics,
) {
    {
        for link in &text.internal_links {
            let at = doc.body_start + link.offset;
            let Some(target) = site.get(&link.target) else {
                if failed.paths.contains(&link.target) {
                    continue;
                }
                let error = Diagnostic::error(format!("internal link to `@/{}`: {}", link.target, match drafts.paths.get(&link.target) {
                    Some(draft) => format!("the page is a draft (draft = true at {draft}), left out of this build"),
                    None => "no such content file".to_string(),
                }));
                let hint = if drafts.paths.contains_key(&link.target) {
                    DRAFT_HINT.replace("{what}", "the link").to_string()
                } else {
                    let near = link_suggestions(site, &link.target);
                    if near.is_empty() {
                        "the path is relative to content/, e.g. @/venues/zheng-zhou-ke-ji-guan.md".to_string()
                    } else {
                        format!("did you mean: {}", near.iter().map(|n| format!("@/{n}")).collect::<Vec<_>>().join(", "))
                    }
                };
                diags.push(error.file(display).field("link").hint(hint).at_offset(&doc.source, at));
                continue;
            };
            if let Some(anchor) = &link.anchor {
                let headings = match target {
                    DocRef::Page(i) => &site.pages[i].text.headings,
                    DocRef::Section(i) => &site.sections[i].text.headings,
                };
                if !headings.iter().any(|h| &h.id == anchor) {
                    let ids: Vec<_> = headings.iter().map(|h| format!("#{}", h.id)).collect();
                    diags.push(
                        Diagnostic::error(format!("internal link to `@/{}#{}`: no such heading", link.target, anchor))
                            .file(display)
                            .field("link")
                            .hint(if ids.is_empty() {
                                "that page has no headings".to_string()
                            } else {
                                format!("its headings are: {}", ids.join(" "))
                            })
                            .at_offset(&doc.source, at),
                    );
                }
            }
        }
        if let Some(at) = text.too_deep {
            diags.push(
                Diagnostic::error(format!(
                    "lists and block quotes are nested more than {} levels deep",
                    super::text::MAX_NESTING
                ))
                .file(display)
                .hint("flatten the structure: split it into headings and shorter lists")
                .at_offset(&doc.source, doc.body_start + at),
            );
        }
        if !site.config.markdown.unsafe_html {
            for attr in text.heading_attributes.iter().filter(|a| !super::text::is_safe_attribute(&a.name)) {
                diags.push(
                    Diagnostic::error(format!("heading attribute `{}` is not allowed", attr.name))
                        .file(display)
                        .field("heading")
                        .hint("headings may carry an #id, .classes, data-*, aria-*, lang, dir, title and role; event handlers such as onclick would run code in the visitor's browser")
                        .at_offset(&doc.source, doc.body_start + attr.offset),
                );
            }
        }
        for link in &text.unsafe_links {
            diags.push(
                Diagnostic::error(format!("link `{}` would run code in the visitor's browser", link.url))
                    .file(display)
                    .field("link")
                    .hint("link to a page or an https:// address instead")
                    .at_offset(&doc.source, doc.body_start + link.offset),
            );
        }
        for link in &text.stray_links {
            diags.push(
                Diagnostic::error(link.message())
                    .file(display)
                    .field("link")
                    .hint(link.hint())
                    .at_offset(&doc.source, doc.body_start + link.offset),
            );
        }
        for image in &text.images {
            if let Some((message, hint)) = super::text::alt_text_problem(&image.alt, &image.src) {
                diags.push(
                    Diagnostic::error(message)
                        .file(display)
                        .field("image")
                        .hint(hint)
                        .at_offset(&doc.source, doc.body_start + image.offset),
                );
            }
        }
    }
}

/// The hint for a reference to a draft.
const DRAFT_HINT: &str = "remove `draft = true` there to publish the page, build with --drafts to preview it, or remove {what}";

/// What a link to a missing file most likely meant: the file itself when the link only
/// writes it another way (without `.md`, with a trailing `/`, as a section folder, in
/// Chinese, without or with the wrong folder), else up to three files of the same folder
/// whose names are [`alike`].
fn link_suggestions(site: &Site, target: &str) -> Vec<String> {
    let t = target.trim_matches('/');
    let t = t.strip_prefix("content/").unwrap_or(t);
    let stem = t.strip_suffix(".md").unwrap_or(t);
    let (folder, leaf) = stem.rsplit_once('/').unwrap_or(("", stem));
    let join = |a: &str, b: &str| if a.is_empty() { b.to_string() } else { format!("{a}/{b}") };
    let leaf_pinyin = super::slug::slugify(leaf);
    let pinyin = join(folder, &leaf_pinyin);
    let repairs = [
        format!("{stem}.md"),
        join(stem, "index.md"),
        join(stem, "_index.md"),
        format!("{pinyin}.md"),
        join(&pinyin, "index.md"),
    ];
    if let Some(r) = repairs.into_iter().find(|r| r != target && site.get(r).is_some()) {
        return vec![r];
    }
    // The same file name in another folder.
    let elsewhere: Vec<String> = site
        .pages
        .iter()
        .filter(|p| {
            let (_, name) = split_page(&p.rel_path);
            name == leaf || name == leaf_pinyin
        })
        .take(3)
        .map(|p| p.rel_path.clone())
        .collect();
    if !elsewhere.is_empty() {
        return elsewhere;
    }
    let in_folder = site.pages.iter().any(|p| split_page(&p.rel_path).0 == folder);
    alike(
        leaf,
        site.pages
            .iter()
            .map(|p| (split_page(&p.rel_path), p.rel_path.as_str()))
            .filter(|((f, _), _)| !in_folder || *f == folder)
            .map(|((_, name), rel)| (name, rel)),
    )
}

/// A page's folder and its name without `.md` (for a bundle: its folder's name).
fn split_page(rel: &str) -> (&str, &str) {
    let stem = rel.strip_suffix("/index.md").or_else(|| rel.strip_suffix(".md")).unwrap_or(rel);
    stem.rsplit_once('/').unwrap_or(("", stem))
}

/// Up to three of `candidates` (name, what to show) whose names are close to `wanted`, the
/// closest first. Names are compared by their pinyin syllables, since that is how an
/// editor's slips look: a homophone (好官 for 好馆), a missing or extra 市, a typo inside
/// one syllable each cost one syllable; or letter by letter, more strictly, for names written
/// without hyphens. A looser match would offer another city's page: pinyin names share long
/// runs (`-shi-ke-ji-guan`).
pub(crate) fn alike<'a>(wanted: &str, candidates: impl Iterator<Item = (&'a str, &'a str)>) -> Vec<String> {
    let w = super::slug::slugify(wanted);
    let w_syllables: Vec<&str> = w.split('-').filter(|s| !s.is_empty()).collect();
    if w_syllables.is_empty() {
        return Vec::new();
    }
    let mut scored: Vec<(f64, &str)> = candidates
        .filter_map(|(name, shown)| {
            let c = super::slug::slugify(name);
            let c_syllables: Vec<&str> = c.split('-').filter(|s| !s.is_empty()).collect();
            let longer = w_syllables.len().max(c_syllables.len());
            let by_syllable = 1.0 - strsim::generic_levenshtein(&w_syllables, &c_syllables) as f64 / longer as f64;
            let by_letter = strsim::normalized_levenshtein(&w.replace('-', ""), &c.replace('-', ""));
            let close = by_syllable >= 0.75 || by_letter >= 0.85;
            close.then_some((by_syllable.max(by_letter), shown))
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    scored.dedup_by(|a, b| a.1 == b.1);
    scored.into_iter().take(3).map(|(_, c)| c.to_string()).collect()
}

/// The years a year field may hold. Anything else is a slip (`23` for 2023, `20233`), and
/// would be shown as it is (`23年观众`).
pub const YEARS: std::ops::RangeInclusive<u16> = 1900..=2100;

/// Field checks of typed pages and their references, all reported.
pub fn typed_pages(site: &Site, sources: &[&Document], failed: &Failed, drafts: &Drafts) -> Diagnostics {
    let mut diags = Diagnostics::new();
    let titles: HashMap<(PageType, &str), usize> = site
        .pages
        .iter()
        .enumerate()
        .filter_map(|(i, p)| Some(((p.page_type()?, p.title.as_str()), i)))
        .collect();
    fn city_name(p: &super::Page) -> Option<&str> {
        match &p.typed {
            Some(Typed::City(c)) => Some(c.name.as_str()),
            _ => None,
        }
    }
    let title_keeper = keepers(site, |p| p.typed.as_ref().map(|_| p.title.as_str()), city_name);
    let city_keeper = keepers(site, city_name, |_| None);
    let city_list = CITIES.iter().map(|(s, _)| *s).collect::<Vec<_>>().join(" ");
    // `file:line` of a key of page `k`, for messages that name a second page.
    let place = |k: usize, table: Option<&str>, key: &str| {
        format!("{}:{}", site.pages[k].display_path.display(), locate(sources[k], table, key))
    };

    for (i, (p, doc)) in site.pages.iter().zip(sources).enumerate() {
        let Some(typed) = &p.typed else { continue };
        let table = typed.page_type().key();
        let mut err = |field: &str, message: String, hint: String| {
            let key = field.rsplit('.').next().unwrap_or(field);
            let tbl = if field.contains('.') || field == key && !["sources", "title"].contains(&key) { Some(table) } else { None };
            diags.push(
                Diagnostic::error(message)
                    .file(&p.display_path)
                    .field(if tbl.is_some() { format!("{table}.{field}") } else { key.to_string() })
                    .hint(hint)
                    .at_line(&doc.source, locate(doc, tbl, key)),
            );
        };
        if let Some(&k) = title_keeper.get(&i) {
            err("title", format!("title `{}` is also used by {}", p.title, place(k, None, "title")),
                "titles of typed pages are their ids: give one of the two pages another title".into());
        }
        if p.meta.sources.is_empty() && !p.meta.example {
            err("sources", "typed page lists no sources".into(),
                "add sources = [\"…\"] with the documents its facts come from, or example = true".into());
        }
        let check_city = |field: &str, c: &str, err: &mut dyn FnMut(&str, String, String)| {
            if !portal::is_city(c) {
                err(field, format!("`{c}` is not one of the 18 cities"), format!("allowed values are: {city_list}"));
            }
        };
        // An alias is a name search treats like the title: it must say something, and must not
        // be another page's name (a search for it would reach the wrong page first).
        let mut seen_aliases = HashSet::new();
        for alias in typed.aliases() {
            let a = alias.trim();
            if a.is_empty() {
                err("aliases", "an alias is empty".into(), "remove it, or write the short name the sources use".into());
            } else if a == p.title || !seen_aliases.insert(a) {
                err("aliases", format!("alias `{a}` repeats the title or another alias"), "list each short name once".into());
            } else if let Some(&k) = PageType::ALL.into_iter().find_map(|t| titles.get(&(t, a))) {
                err("aliases", format!("alias `{a}` is the title of {}", place(k, None, "title")),
                    "an alias must name only this page: remove it".into());
            }
        }
        match typed {
            Typed::Venue(v) => {
                if let Some(c) = &v.city {
                    check_city("city", c, &mut err);
                } else if matches!(v.kind, portal::VenueKind::Provincial | portal::VenueKind::City | portal::VenueKind::County) {
                    err("kind", format!("a {} venue needs a city", v.kind.as_str()),
                        format!("add city = \"…\" (one of: {city_list})"));
                }
                for (name, value) in [("building_area_m2", v.building_area_m2), ("exhibition_area_m2", v.exhibition_area_m2), ("open_area_m2", v.open_area_m2)] {
                    if value.is_some_and(|x| !(x > 0.0 && x.is_finite())) {
                        err(name, format!("{name} must be a positive number of m²"), "leave the field out if it is not known".into());
                    }
                }
                for (name, value) in [("daily_tickets", v.daily_tickets), ("exhibits", v.exhibits), ("annual_visitors", v.annual_visitors), ("count", v.count)] {
                    if value == Some(0) {
                        err(name, format!("{name} must be positive"), "leave the field out if it is not known".into());
                    }
                }
            }
            Typed::Base(b) => {
                if let Some(c) = &b.city {
                    check_city("city", c, &mut err);
                }
                if b.count == Some(0) {
                    err("count", "count must be positive".into(), "leave the field out if it is not known".into());
                }
            }
            Typed::Expert(e) => {
                match &e.city {
                    Some(c) => check_city("city", c, &mut err),
                    None if e.scope == portal::ExpertScope::City => err("scope", "a 市级 batch or studio needs a city".into(),
                        format!("add city = \"…\" (one of: {city_list})")),
                    None => {}
                }
                if e.kind == portal::ExpertKind::Person && p.meta.sources.is_empty() && !p.meta.example {
                    err("kind", "a person's profile needs a source, or example = true".into(),
                        "never publish an unsourced profile of a real person".into());
                }
                if e.count == Some(0) {
                    err("count", "count must be positive".into(), "leave the field out if it is not known".into());
                }
            }
            Typed::Campaign(c) => {
                for city in &c.cities {
                    check_city("cities", city, &mut err);
                }
                if let Some(a) = &c.annual {
                    if let Some((key, problem)) = a.problem() {
                        err(&format!("annual.{key}"), format!("[campaign.annual]: {problem}"),
                            "write month = 9 (and day = 30 for one day), and basis = \"…\" naming the law, the national organisers or the source that fixes the date".into());
                    } else if c.start.is_none() && c.year.is_none() {
                        err("annual.month", "a yearly date needs the year the page starts from".into(),
                            "add year = … to [campaign] (the first year the sources report it), or start = …".into());
                    } else if c.recurrence != Some(portal::Recurrence::Yearly) {
                        err(if c.recurrence.is_some() { "recurrence" } else { "annual.month" },
                            "a campaign with a yearly date must have recurrence = \"每年\"".into(),
                            "write recurrence = \"每年\", or remove [campaign.annual]".into());
                    }
                }
                if let (Some(s), Some(e)) = (c.start, c.end) {
                    if e < s {
                        err("end", format!("end {e} is before start {s}"), "swap the dates or correct the end date".into());
                    }
                }
                for (field, names, t) in [("venues", &c.venues, PageType::Venue), ("bases", &c.bases, PageType::Base), ("experts", &c.experts, PageType::Expert)] {
                    for name in names {
                        let name = name.as_str();
                        if titles.contains_key(&(t, name)) || failed.titles.contains(name) {
                            continue;
                        }
                        let missing = format!("no {} page is titled `{name}`", t.key());
                        let (message, hint) = if let Some(draft) = drafts.titles.get(&(t, name.to_string())) {
                            (format!("{} page `{name}` is a draft (draft = true at {draft}), left out of this build", t.key()),
                             DRAFT_HINT.replace("{what}", &format!("the title from {table}.{field}")))
                        } else if name.trim() != name && titles.contains_key(&(t, name.trim())) {
                            (missing, format!("remove the space: the {} page is titled `{}`", t.key(), name.trim()))
                        } else if let Some(other) = PageType::ALL.into_iter().find(|&o| titles.contains_key(&(o, name))) {
                            let list = if matches!(other, PageType::Venue | PageType::Base | PageType::Expert) {
                                format!(": list it in {table}.{}s", other.key())
                            } else {
                                String::new()
                            };
                            (missing, format!("`{name}` is a {} page, not a {} page{list}", other.key(), t.key()))
                        } else {
                            let near = alike(name, titles.keys().filter(|(tt, _)| *tt == t).map(|&(_, n)| (n, n)));
                            (missing, if near.is_empty() { format!("use the exact title of a page in {}s/", t.key()) }
                                else { format!("did you mean: {}", near.join("、")) })
                        };
                        err(field, message, hint);
                    }
                }
            }
            Typed::City(c) => {
                check_city("name", &c.name, &mut err);
                if let Some(&k) = city_keeper.get(&i) {
                    err("name", format!("city `{}` already has a page: {}", c.name, place(k, Some("city"), "name")), "keep one page per city".into());
                }
            }
            Typed::Overview(o) => {
                for chart in &o.charts {
                    if chart.points.is_empty() {
                        err("charts", format!("chart `{}` has no points", chart.title), "add [[overview.charts.points]] label/value pairs".into());
                    }
                    if chart.points.iter().any(|pt| !pt.value.is_finite() || pt.value < 0.0) {
                        err("charts", format!("chart `{}` has a negative or invalid value", chart.title), "chart values must be zero or more".into());
                    }
                }
            }
        }
    }
    diags
}

fn year_message(field: &str, y: u16) -> String {
    format!("{field} {y} is not a year from {} to {}", YEARS.start(), YEARS.end())
}

fn year_hint(field: &str) -> String {
    format!("write the year with four digits, e.g. {field} = 2023")
}

/// 1-based line of `key` in the `n`-th `[[figures]]` table of a TOML front matter (else where
/// [`locate`] finds it).
fn figure_line(doc: &Document, n: usize, key: &str) -> usize {
    let first = doc.source[..doc.front_matter.start].matches('\n').count() + 1;
    let mut table = None;
    let mut figures = 0;
    for (i, line) in doc.front_matter_text().lines().enumerate() {
        let t = line.trim();
        if t.starts_with('[') {
            if t.replace(' ', "") == "[[figures]]" {
                figures += 1;
                table = Some(figures - 1);
            } else {
                table = None;
            }
        } else if table == Some(n) && t.split('=').next().map(str::trim) == Some(key) {
            return first + i;
        }
    }
    locate(doc, Some("figures"), key)
}

/// The pages whose id (a typed page's title, a city page's city) an other page has too, each
/// with the page that keeps it: the one whose file name is the pinyin of the id or of its
/// `also` name (a city page's city), as `kepu new` names it, so most likely the original;
/// else the first by path. The error then points at the copy, not at the page that was there
/// first.
fn keepers<'a>(
    site: &'a Site,
    id: impl Fn(&'a super::Page) -> Option<&'a str>,
    also: impl Fn(&'a super::Page) -> Option<&'a str>,
) -> HashMap<usize, usize> {
    let mut first: HashMap<&str, usize> = HashMap::with_capacity(site.pages.len());
    let mut shared: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, p) in site.pages.iter().enumerate() {
        let Some(k) = id(p) else { continue };
        match first.entry(k) {
            std::collections::hash_map::Entry::Occupied(e) => shared.entry(k).or_insert_with(|| vec![*e.get()]).push(i),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(i);
            }
        }
    }
    let mut keeper = HashMap::new();
    for (k, pages) in shared {
        let own = super::slug::slugify(k);
        let named = |i: usize| {
            let p = &site.pages[i];
            p.slug == own || also(p).is_some_and(|a| p.slug == super::slug::slugify(a))
        };
        let keep = pages.iter().copied().find(|&i| named(i)).unwrap_or(pages[0]);
        keeper.extend(pages.into_iter().filter(|&i| i != keep).map(|i| (i, keep)));
    }
    keeper
}

/// What `kepu new` writes where only the editor knows what goes. The skeleton is made from
/// these, so [`skeleton_left`] finds exactly what it wrote.
pub mod placeholder {
    /// `sources = ["（填写资料来源）"]`.
    pub const SOURCE: &str = "（填写资料来源）";
    /// After a value the skeleton has to fill in for the page to build at all (a venue's
    /// kind …): the editor chooses, then deletes the comment.
    pub const EXAMPLE: &str = "# 示例值：选好后删掉这条注释";
    const DESCRIPTION: (&str, &str) = ("（一两句话介绍", "）");
    const BODY: (&str, &str) = ("（在这里介绍", "。）");

    pub fn description(name: &str) -> String {
        format!("{}{name}{}", DESCRIPTION.0, DESCRIPTION.1)
    }

    pub fn body(name: &str) -> String {
        format!("{}{name}{}", BODY.0, BODY.1)
    }

    /// Whether a description is the skeleton's (whatever name it was written for).
    pub fn is_description(text: &str) -> bool {
        text.starts_with(DESCRIPTION.0) && text.ends_with(DESCRIPTION.1)
    }

    /// Byte offset and text of the body's first line that is the skeleton's.
    pub fn in_body(body: &str) -> Option<(usize, &str)> {
        let mut at = 0;
        for line in body.split_inclusive('\n') {
            let t = line.trim();
            if t.starts_with(BODY.0) && t.ends_with(BODY.1) {
                return Some((at + line.find(BODY.0).unwrap_or(0), t));
            }
            at += line.len();
        }
        None
    }
}

/// The checks of a page's own fields that serde does not make and that need no other page:
/// years in range, a typed page's title without spaces around it, and no `kepu new`
/// placeholders left on a published page.
pub fn page_fields(p: &super::Page, doc: &Document, diags: &mut Diagnostics) {
    let mut err = |field: &str, line: usize, message: String, hint: String| {
        diags.push(Diagnostic::error(message).file(&p.display_path).field(field).hint(hint).at_line(&doc.source, line));
    };
    let years = match &p.typed {
        Some(Typed::Venue(v)) => vec![("visitors_year", v.visitors_year), ("opened", v.opened)],
        Some(Typed::Base(b)) => vec![("recognised_year", b.recognised_year)],
        Some(Typed::Expert(e)) => vec![("year", e.year)],
        Some(Typed::Campaign(c)) => vec![("year", c.year)],
        _ => Vec::new(),
    };
    for (key, y) in years {
        if let (Some(y), Some(t)) = (y.filter(|y| !YEARS.contains(y)), p.page_type()) {
            err(&format!("{}.{key}", t.key()), locate(doc, Some(t.key()), key), year_message(key, y), year_hint(key));
        }
    }
    for (n, f) in p.meta.figures.iter().enumerate() {
        if let Some(y) = f.year.filter(|y| !YEARS.contains(y)) {
            err("figures.year", figure_line(doc, n, "year"), year_message("year", y), year_hint("year"));
        }
    }
    if p.typed.is_some() && p.title.trim() != p.title {
        let side = match (p.title.starts_with(char::is_whitespace), p.title.ends_with(char::is_whitespace)) {
            (true, true) => "starts and ends",
            (true, false) => "starts",
            _ => "ends",
        };
        err("title", locate(doc, None, "title"), format!("title `{}` {side} with a space", p.title),
            "remove the space: titles of typed pages are their ids, and campaigns name pages by the exact title".into());
    }
    if let (Some(t), Some(typed)) = (p.page_type(), &p.typed) {
        let table = t.key();
        match typed.cover() {
            Some(c) => match c.alt {
                None => err(&format!("{table}.cover"), locate(doc, Some(table), "cover"),
                    format!("cover `{}` has no cover_alt", c.src),
                    "add cover_alt = \"…\" describing what the picture shows (cards, the page header and link previews show it)".into()),
                Some(alt) => {
                    if let Some((message, hint)) = super::text::alt_text_problem(alt, c.src) {
                        err(&format!("{table}.cover_alt"), locate(doc, Some(table), "cover_alt"), message, hint);
                    }
                }
            },
            None if typed.has_cover_alt() => err(&format!("{table}.cover_alt"), locate(doc, Some(table), "cover_alt"),
                "cover_alt is set but there is no cover".into(), "add cover = \"hall.jpg\" (a file next to index.md) or remove cover_alt".into()),
            None => {}
        }
    }
    skeleton_left(p, doc, &mut err);
}

/// A page that is published must not keep `kepu new`'s placeholders: they would go out as the
/// page's text. Drafts may (built with `--drafts` they are previews).
fn skeleton_left(p: &super::Page, doc: &Document, err: &mut dyn FnMut(&str, usize, String, String)) {
    if p.meta.draft {
        return;
    }
    if let Some(d) = p.meta.description.as_deref().filter(|d| placeholder::is_description(d)) {
        err("description", locate(doc, None, "description"), format!("description is still the placeholder `{d}` that `kepu new` wrote"),
            "write one or two sentences about the page, or remove the line".into());
    }
    if p.meta.sources.iter().any(|s| s == placeholder::SOURCE) {
        err("sources", locate(doc, None, "sources"), format!("sources still holds the placeholder `{}` that `kepu new` wrote", placeholder::SOURCE),
            "list the files the page's facts come from, e.g. sources = [\"000_34df85477a50c534.txt\"]".into());
    }
    if let Some((at, text)) = placeholder::in_body(&p.body) {
        let line = crate::diagnostics::line_col(&doc.source, doc.body_start + at).0;
        err("body", line, format!("the text still holds the placeholder `{text}` that `kepu new` wrote"),
            "write the page's text in its place".into());
    }
    if !doc.front_matter_text().contains(placeholder::EXAMPLE) {
        return;
    }
    let first = doc.source[..doc.front_matter.start].matches('\n').count() + 1;
    let mut table = "";
    for (i, line) in doc.front_matter_text().lines().enumerate() {
        let t = line.trim();
        if t.starts_with('[') {
            table = t.trim_matches(['[', ']', ' ']);
            continue;
        }
        let Some((key, rest)) = t.split_once('=').filter(|_| t.contains(placeholder::EXAMPLE)) else { continue };
        let key = key.trim();
        let value = rest.split('#').next().unwrap_or("").trim();
        let field = if table.is_empty() { key.to_string() } else { format!("{table}.{key}") };
        let allowed = match (table, key) {
            ("venue", "kind") => Some(portal::VenueKind::ALLOWED),
            ("base", "category") => Some(portal::BaseCategory::ALLOWED),
            ("expert", "kind") => Some(portal::ExpertKind::ALLOWED),
            ("expert", "scope") => Some(portal::ExpertScope::ALLOWED),
            ("campaign", "kind") => Some(portal::CampaignKind::ALLOWED),
            _ => None,
        };
        let choose = allowed.map_or("choose the value".to_string(), |a| format!("choose one of {}", a.join(" ")));
        err(&field, first + i, format!("{field} = {value} is the example value `kepu new` wrote, not a choice"),
            format!("{choose}, then delete the comment `{}`", placeholder::EXAMPLE));
    }
}

/// Fill `related` on every page, in both directions. Runs only on a valid site.
pub fn relate(site: &mut Site) {
    let n = site.pages.len();
    let mut related: Vec<Vec<RelatedGroup>> = vec![Vec::new(); n];
    let title_index: HashMap<(PageType, &str), usize> = site
        .pages
        .iter()
        .enumerate()
        .filter_map(|(i, p)| Some(((p.page_type()?, p.title.as_str()), i)))
        .collect();
    let city_pages: HashMap<&str, usize> = site
        .pages
        .iter()
        .enumerate()
        .filter_map(|(i, p)| match &p.typed {
            Some(Typed::City(c)) => Some((c.name.as_str(), i)),
            _ => None,
        })
        .collect();
    let push = |related: &mut Vec<Vec<RelatedGroup>>, on: usize, key: &'static str, label: &'static str, page: usize| {
        let groups = &mut related[on];
        let g = match groups.iter_mut().position(|g| g.key == key) {
            Some(i) => &mut groups[i],
            None => {
                groups.push(RelatedGroup { key, label, pages: Vec::new() });
                groups.last_mut().unwrap()
            }
        };
        // Duplicates are dropped after sorting: a city page's lists hold thousands of pages on
        // a large site, and searching them on every push made this quadratic.
        g.pages.push(page);
    };
    for (i, p) in site.pages.iter().enumerate() {
        let Some(typed) = &p.typed else { continue };
        let t = typed.page_type();
        for city in typed.cities() {
            if let Some(&c) = city_pages.get(city) {
                if c == i {
                    continue;
                }
                push(&mut related, i, "cities", "所在城市", c);
                let (key, label) = match t {
                    PageType::Venue => ("venues", "场馆"),
                    PageType::Base => ("bases", "科普基地"),
                    PageType::Expert => ("experts", "科普专家"),
                    PageType::Campaign => ("campaigns", "活动"),
                    _ => continue,
                };
                push(&mut related, c, key, label, i);
            }
        }
        if let Typed::Campaign(c) = typed {
            for (names, pt, key, label) in [
                (&c.venues, PageType::Venue, "venues", "参与场馆"),
                (&c.bases, PageType::Base, "bases", "参与基地"),
                (&c.experts, PageType::Expert, "experts", "参与专家"),
            ] {
                for name in names {
                    if let Some(&target) = title_index.get(&(pt, name.as_str())) {
                        push(&mut related, i, key, label, target);
                        push(&mut related, target, "campaigns", "相关活动", i);
                    }
                }
            }
        }
    }
    let keys: Vec<(i64, &str)> = site.pages.iter().map(|p| related_key(p)).collect();
    let order = |a: &usize, b: &usize| keys[*a].cmp(&keys[*b]);
    let group_order = ["cities", "venues", "bases", "experts", "campaigns"];
    for groups in &mut related {
        for g in groups.iter_mut() {
            g.pages.sort_by(order);
            g.pages.dedup();
        }
        groups.sort_by_key(|g| group_order.iter().position(|k| *k == g.key));
    }
    site.related = related;
}

/// The order of a related list: by weight, then content path.
fn related_key(p: &super::Page) -> (i64, &str) {
    (p.meta.weight.unwrap_or(i64::MAX), p.rel_path.as_str())
}

/// After page `i`'s weight changed: sort again the related lists it is in. Relations go both
/// ways, so those are the lists of the pages in its own groups.
pub fn resort_related(site: &mut Site, i: usize) {
    let others: Vec<usize> = site.related[i].iter().flat_map(|g| g.pages.iter().copied()).collect();
    let pages = &site.pages;
    for k in others {
        for g in site.related[k].iter_mut().filter(|g| g.pages.contains(&i)) {
            g.pages.sort_by(|&a, &b| related_key(&pages[a]).cmp(&related_key(&pages[b])));
        }
    }
}

/// Whether typed page `i` may take `title` without touching another page's checks: titles of
/// typed pages are their ids, so the new one must be free and no campaign may name the old
/// one. (A rebuild from scratch reports either case.)
pub fn title_may_change(site: &Site, i: usize, title: &str) -> bool {
    let page = &site.pages[i];
    let Some(t) = page.page_type() else { return true };
    let taken = site.pages.iter().enumerate().any(|(k, p)| k != i && p.typed.is_some() && p.title == title);
    let named = site.pages.iter().any(|p| match &p.typed {
        Some(Typed::Campaign(c)) => {
            let names = match t {
                PageType::Venue => &c.venues,
                PageType::Base => &c.bases,
                PageType::Expert => &c.experts,
                _ => return false,
            };
            names.iter().any(|n| *n == page.title)
        }
        _ => false,
    });
    !taken && !named
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(rel_path: &str, source: &str) -> Document {
        Document::page_for_test(rel_path, source)
    }

    fn alike_of(wanted: &str, names: &[&'static str]) -> Vec<String> {
        alike(wanted, names.iter().map(|n| (*n, *n)))
    }

    #[test]
    fn a_failed_pages_title_is_read_from_its_line_when_the_front_matter_does_not_parse() {
        for broken in ["date = 2024/9/15", "city = “焦作”", "annual_visitors = 30万"] {
            let d = doc("venues/x.md", &format!("+++\ntitle = \"焦作市科技馆\"\n{broken}\n[venue]\nkind = \"市级\"\n+++\n"));
            let mut failed = Failed::default();
            failed.add(&d);
            assert!(failed.titles.contains("焦作市科技馆"), "{broken}: {:?}", failed.titles);
        }
        let curly = doc("venues/x.md", "+++\ntitle = “焦作市科技馆”\n+++\n");
        assert_eq!(title_line(&curly).as_deref(), Some("焦作市科技馆"));
        let yaml = doc("venues/x.md", "---\ntitle: 焦作市科技馆\ndate: [\n---\n");
        assert_eq!(title_line(&yaml).as_deref(), Some("焦作市科技馆"));
        // A `title` inside a table is not the page's.
        let nested = doc("venues/x.md", "+++\ndate = x\n[extra]\ntitle = \"别的\"\n+++\n");
        assert_eq!(title_line(&nested), None);
    }

    #[test]
    fn drafts_are_known_by_path_and_by_type_and_title() {
        let d = doc("venues/x.md", "+++\ntitle = \"焦作市科技馆\"\ndraft = true\n[venue]\nkind = \"市级\"\n+++\n");
        let mut drafts = Drafts::default();
        drafts.add(&d);
        assert_eq!(drafts.paths["venues/x.md"], "content/venues/x.md:3");
        assert_eq!(drafts.titles[&(PageType::Venue, "焦作市科技馆".to_string())], "content/venues/x.md:3");
    }

    #[test]
    fn suggestions_are_close_names_only() {
        let venues = ["zheng-zhou-ke-ji-guan", "xin-yang-shi-ke-ji-guan", "he-bi-shi-ke-ji-guan", "luo-he-shi-ke-ji-guan"];
        // A typo inside a syllable, a word run together: found.
        assert_eq!(alike_of("zheng-zou-ke-ji-guan", &venues), ["zheng-zhou-ke-ji-guan"]);
        assert_eq!(alike_of("zhengzhou-kejiguan", &venues), ["zheng-zhou-ke-ji-guan"]);
        // Another city's venue is not what an editor meant.
        assert!(alike_of("kai-feng-shi-ke-ji-guan", &venues).is_empty());
        let titles = ["郑州科技馆", "郑州科技馆新馆", "郑州市科技馆新馆", "信阳市科技馆新馆", "好馆"];
        assert_eq!(alike_of("郑州市科技馆", &titles), ["郑州科技馆", "郑州市科技馆新馆"]);
        // A homophone is the input method's slip.
        assert_eq!(alike_of("好官", &titles), ["好馆"]);
        assert!(alike_of("焦作市科技馆", &["郑州市科技馆", "信阳市科技馆"]).is_empty());
    }

    #[test]
    fn figure_years_are_found_in_their_own_table() {
        let d = doc("a.md", "+++\ntitle = \"x\"\n[[figures]]\nlabel = \"a\"\nyear = 2023\n[[figures]]\nlabel = \"b\"\nvalue = 1\nyear = 23\n+++\n");
        assert_eq!(figure_line(&d, 0, "year"), 5);
        assert_eq!(figure_line(&d, 1, "year"), 9);
    }

    #[test]
    fn skeleton_placeholders_are_recognised_whatever_the_name() {
        assert!(placeholder::is_description(&placeholder::description("开封市科技馆")));
        assert!(!placeholder::is_description("开封市科技馆（新馆）"));
        let body = format!("## 简介\n\n{}\n", placeholder::body("开封市科技馆"));
        assert_eq!(placeholder::in_body(&body), Some(("## 简介\n\n".len(), placeholder::body("开封市科技馆").as_str())));
        assert_eq!(placeholder::in_body("（在这里介绍的内容很多）\n"), None);
    }
}
