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
        if s.meta.render != Some(false) {
            claim(&mut owners, s.path.as_str().into(), doc, None, &mut diags);
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
    /// Their titles, where the front matter could be read that far.
    pub titles: HashSet<String>,
}

impl Failed {
    /// Note a document that failed to build.
    pub fn add(&mut self, doc: &Document) {
        /// Only the title: a page whose other fields are wrong may still name it.
        #[derive(serde::Deserialize, Default)]
        struct TitleOnly {
            title: Option<String>,
        }
        self.paths.insert(doc.rel_path.clone());
        if let Ok(TitleOnly { title: Some(t) }) = super::front_matter::parse::<TitleOnly>(doc) {
            self.titles.insert(t);
        }
    }
}

/// Every `@/` link must name an existing file, and its `#anchor` an existing heading.
pub fn internal_links(site: &Site, pages: &[&Document], sections: &[&Document], failed: &Failed) -> Diagnostics {
    let mut diags = Diagnostics::new();
    let texts = site
        .pages
        .iter()
        .map(|p| (&*p.text, &p.display_path))
        .zip(pages)
        .chain(site.sections.iter().map(|s| (&s.text, &s.display_path)).zip(sections));
    for ((text, display), doc) in texts {
        page_text(site, text, display, doc, failed, &mut diags);
    }
    diags
}

/// The checks of [`internal_links`] for one page's or section's text.
pub fn page_text(site: &Site, text: &BodyText, display: &std::path::Path, doc: &Document, failed: &Failed, diags: &mut Diagnostics) {
    {
        for link in &text.internal_links {
            let at = doc.body_start + link.offset;
            let Some(target) = site.get(&link.target) else {
                if failed.paths.contains(&link.target) {
                    continue;
                }
                let near = closest(&link.target, site.pages.iter().map(|p| p.rel_path.as_str()));
                diags.push(
                    Diagnostic::error(format!("internal link to `@/{}`: no such content file", link.target))
                        .file(display)
                        .field("link")
                        .hint(if near.is_empty() {
                            "the path is relative to content/, e.g. @/venues/zheng-zhou-ke-ji-guan.md".to_string()
                        } else {
                            format!("did you mean: {}", near.iter().map(|n| format!("@/{n}")).collect::<Vec<_>>().join(", "))
                        })
                        .at_offset(&doc.source, at),
                );
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
    }
}

/// Up to three candidates that share the most characters with `wanted`.
fn closest<'a>(wanted: &str, candidates: impl Iterator<Item = &'a str>) -> Vec<String> {
    let w: std::collections::HashSet<char> = wanted.chars().collect();
    let mut scored: Vec<(usize, &str)> = candidates
        .map(|c| (c.chars().filter(|ch| w.contains(ch)).count(), c))
        .filter(|(s, c)| *s * 2 >= c.chars().count().min(wanted.chars().count()))
        .collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    scored.into_iter().take(3).map(|(_, c)| c.to_string()).collect()
}

/// Field checks of typed pages and their references, all reported.
pub fn typed_pages(site: &Site, sources: &[&Document], failed: &Failed) -> Diagnostics {
    let mut diags = Diagnostics::new();
    let titles: HashMap<(PageType, &str), usize> = site
        .pages
        .iter()
        .enumerate()
        .filter_map(|(i, p)| Some(((p.page_type()?, p.title.as_str()), i)))
        .collect();
    let mut seen_titles: HashMap<&str, &std::path::Path> = HashMap::new();
    let mut seen_cities: HashMap<&str, &std::path::Path> = HashMap::new();
    let city_list = CITIES.iter().map(|(s, _)| *s).collect::<Vec<_>>().join(" ");

    for (p, doc) in site.pages.iter().zip(sources) {
        let Some(typed) = &p.typed else { continue };
        let table = typed.page_type().key();
        let mut err = |field: &str, message: String, hint: String| {
            let key = field.rsplit('.').next().unwrap_or(field);
            let tbl = if field.contains('.') || field == key && !["sources", "title"].contains(&key) { Some(table) } else { None };
            diags.push(
                Diagnostic::error(message)
                    .file(&p.display_path)
                    .field(if tbl.is_some() { format!("{table}.{key}") } else { key.to_string() })
                    .hint(hint)
                    .at_line(&doc.source, locate(doc, tbl, key)),
            );
        };
        if let Some(first) = seen_titles.insert(p.title.as_str(), &p.display_path) {
            err("title", format!("title `{}` is also used by {}", p.title, first.display()),
                "titles of typed pages are their ids; make them unique".into());
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
        match typed {
            Typed::Venue(v) => {
                if let Some(c) = &v.city {
                    check_city("city", c, &mut err);
                } else if matches!(v.kind, portal::VenueKind::Provincial | portal::VenueKind::City | portal::VenueKind::County) {
                    err("kind", format!("a {} venue needs a city", v.kind.as_str()),
                        format!("add city = \"…\" (one of: {city_list})"));
                }
                for (name, value) in [("building_area_m2", v.building_area_m2), ("exhibition_area_m2", v.exhibition_area_m2)] {
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
                if let (Some(s), Some(e)) = (c.start, c.end) {
                    if e < s {
                        err("end", format!("end {e} is before start {s}"), "swap the dates or correct the end date".into());
                    }
                }
                for (field, names, t) in [("venues", &c.venues, PageType::Venue), ("bases", &c.bases, PageType::Base), ("experts", &c.experts, PageType::Expert)] {
                    for name in names {
                        if !titles.contains_key(&(t, name.as_str())) && !failed.titles.contains(name) {
                            let near = closest(name, titles.keys().filter(|(tt, _)| *tt == t).map(|(_, n)| *n));
                            err(field, format!("no {} page is titled `{name}`", t.key()),
                                if near.is_empty() { format!("use the exact title of a page in {}s/", t.key()) }
                                else { format!("did you mean: {}", near.join("、")) });
                        }
                    }
                }
            }
            Typed::City(c) => {
                check_city("name", &c.name, &mut err);
                if let Some(first) = seen_cities.insert(c.name.as_str(), &p.display_path) {
                    err("name", format!("city `{}` already has a page: {}", c.name, first.display()), "keep one page per city".into());
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
