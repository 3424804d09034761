//! What templates see. These structs are the documented template API (see the README): keep
//! field names stable, since site templates depend on them.

use serde::Serialize;
use serde_json::Value;
use tera::Value as TeraValue;

use crate::model::portal::{city_full_name, Figure, CITIES};
use crate::model::{Page, Section, Site, Typed};

use super::charts::{self, RenderedChart};

/// A page as listed elsewhere (section lists, related pages, `get_page`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PageRef {
    pub title: String,
    pub description: Option<String>,
    pub summary: String,
    /// Site-relative link (with the base URL's path prefix).
    pub path: String,
    pub permalink: String,
    pub date: Option<String>,
    pub weight: Option<i64>,
    /// `venue`, `base`, … or null.
    pub page_type: Option<&'static str>,
    /// The typed table (`page.typed.kind`, `page.typed.city`, …) or null.
    pub typed: Value,
    /// Full city name when the page has exactly one city.
    pub city: Option<String>,
    pub example: bool,
    pub reading_time: usize,
    /// The page bundle's folder under content/ (`venues/x/`), as Zola names it; null for a
    /// page that is a single file. Images beside the page: `page.colocated_path ~ "hall.jpg"`.
    pub colocated_path: Option<String>,
    /// The page's `[[figures]]` (so lists and `get_page` can show key numbers).
    pub figures: Vec<Figure>,
    /// For campaigns: start/end as `2024年9月15日`, or the year when only that is known.
    pub dates_label: Option<String>,
}

/// A heading in the table of contents, nested.
#[derive(Debug, Clone, Serialize)]
pub struct TocEntry {
    pub level: u8,
    pub id: String,
    pub title: String,
    pub children: Vec<TocEntry>,
}

/// A group of related pages.
#[derive(Debug, Clone, Serialize)]
pub struct RelatedCtx {
    pub key: &'static str,
    pub label: &'static str,
    pub pages: Vec<PageRef>,
}

/// The current page, for `page.html` and the type templates: its listing value, what only its
/// own page shows, its HTML and its related lists.
#[derive(Debug, Clone, Serialize)]
pub struct PageCtx {
    #[serde(flatten)]
    pub reference: PageRef,
    #[serde(flatten)]
    pub own: PageOwn,
    pub content: String,
    pub related: Vec<RelatedCtx>,
}

/// What a page's own value adds to its listing value ([`PageRef`]). Apart from it so that
/// [`page_value`] can start from the listing value [`PageRefs`] already made.
#[derive(Debug, Clone, Serialize)]
pub struct PageOwn {
    pub slug: String,
    pub updated: Option<String>,
    pub toc: Vec<TocEntry>,
    pub char_count: usize,
    pub sources: Vec<String>,
    pub taxonomies: std::collections::BTreeMap<String, Vec<TermRef>>,
    pub extra: serde_json::Map<String, Value>,
    pub section: SectionRef,
    pub assets: Vec<String>,
    pub charts: Vec<RenderedChart>,
}

/// A taxonomy term as linked from a page.
#[derive(Debug, Clone, Serialize)]
pub struct TermRef {
    pub name: String,
    pub path: String,
}

/// A section as linked from elsewhere.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SectionRef {
    pub title: String,
    pub description: Option<String>,
    pub path: String,
    pub permalink: String,
    pub page_count: usize,
    pub page_type: Option<&'static str>,
}

/// The current section, for `index.html` and `section.html`.
#[derive(Debug, Clone, Serialize)]
pub struct SectionCtx {
    #[serde(flatten)]
    pub reference: SectionRef,
    pub content: String,
    pub toc: Vec<TocEntry>,
    pub pages: Vec<PageRef>,
    pub subsections: Vec<SectionRef>,
    pub extra: serde_json::Map<String, Value>,
    pub sources: Vec<String>,
}

/// One entry of the header navigation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NavItem {
    pub title: String,
    pub path: String,
}

/// A city for pickers and the home page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CityRef {
    pub name: &'static str,
    pub full_name: &'static str,
    pub path: Option<String>,
}

/// Values every template gets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Globals {
    pub config: ConfigCtx,
    /// The top-level sections, in their own order.
    pub nav: Vec<NavItem>,
    /// The header menu: `nav` in the order visitors look for things (see [`menu`]), with the
    /// campaign calendar after the campaigns. Made here once rather than sorted by the
    /// template on every page (that loop was a fifth of a page's render time).
    pub menu: Vec<NavItem>,
    pub cities: Vec<CityRef>,
    pub search_url: Option<String>,
    pub feed_url: Option<String>,
    pub calendar_url: Option<String>,
    /// The A–Z index of every page (`/a-z/`), when the theme has `az.html`: where the header
    /// search box leads without JavaScript.
    pub az_url: Option<String>,
    pub stylesheets: Vec<String>,
}

/// The parts of `config.toml` templates need.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigCtx {
    pub title: String,
    pub description: String,
    pub base_url: String,
    pub default_language: String,
    pub extra: toml::Table,
}

/// `asset_hashes` (output path → short content hash) makes stylesheet links change whenever
/// the file does (`/css/site.css?h=…`), so servers may cache them for good.
pub fn globals(
    site: &Site,
    has_search: bool,
    has_calendar: bool,
    has_az: bool,
    asset_hashes: &std::collections::HashMap<String, String>,
) -> Globals {
    let busted = |path: &str| match asset_hashes.get(path.trim_start_matches('/')) {
        Some(h) => format!("{}?h={h}", site.url(path)),
        None => site.url(path),
    };
    let c = &site.config;
    let root = site.root();
    let nav: Vec<NavItem> = root
        .subsections
        .iter()
        .map(|&i| &site.sections[i])
        .filter(|s| s.meta.render != Some(false))
        .map(|s| NavItem { title: s.title.clone(), path: site.url(&s.path) })
        .collect();
    let calendar_url = has_calendar.then(|| site.url("/calendar/"));
    Globals {
        config: ConfigCtx {
            title: c.title.clone(),
            description: c.description.clone(),
            base_url: c.base_url.clone(),
            default_language: c.default_language.clone(),
            extra: c.extra.clone(),
        },
        menu: menu(&nav, calendar_url.as_deref()),
        nav,
        cities: CITIES
            .iter()
            .map(|(short, full)| CityRef {
                name: short,
                full_name: full,
                path: site.city_page(short).map(|i| site.url(&site.pages[i].path)),
            })
            .collect(),
        search_url: has_search.then(|| site.url("/search/")),
        feed_url: (c.generate_feeds && site.pages.iter().any(|p| p.date().is_some())).then(|| site.url("/atom.xml")),
        calendar_url,
        az_url: has_az.then(|| site.url(super::az::PATH)),
        stylesheets: vec![busted("/css/site.css"), busted("/css/syntax.css")],
    }
}

/// Section folders in the order visitors look for things: museums first, then bases,
/// campaigns, experts, cities, the overview; other sections follow in their own order.
pub const MENU_ORDER: [&str; 6] = ["venues", "bases", "campaigns", "experts", "cities", "overview"];

/// Title of the campaign calendar's menu entry.
pub const CALENDAR_TITLE: &str = "活动日历";

/// The header menu from the top-level sections: [`MENU_ORDER`] first, then the rest; the
/// calendar right after the campaigns, or last when there is no campaigns section.
pub fn menu(nav: &[NavItem], calendar_url: Option<&str>) -> Vec<NavItem> {
    let key_of = |item: &NavItem| MENU_ORDER.iter().position(|k| item.path.ends_with(&format!("/{k}/")));
    let mut out = Vec::with_capacity(nav.len() + 1);
    let calendar = |out: &mut Vec<NavItem>| {
        if let Some(url) = calendar_url {
            out.push(NavItem { title: CALENDAR_TITLE.into(), path: url.to_string() });
        }
    };
    let mut calendar_placed = false;
    for (k, key) in MENU_ORDER.iter().enumerate() {
        for item in nav.iter().filter(|i| key_of(i) == Some(k)) {
            out.push(item.clone());
            if *key == "campaigns" && !calendar_placed {
                calendar(&mut out);
                calendar_placed = true;
            }
        }
    }
    out.extend(nav.iter().filter(|i| key_of(i).is_none()).cloned());
    if !calendar_placed {
        calendar(&mut out);
    }
    out
}

pub fn page_ref(site: &Site, p: &Page) -> PageRef {
    let cities = p.typed.as_ref().map(Typed::cities).unwrap_or_default();
    PageRef {
        title: p.title.clone(),
        description: p.meta.description.clone(),
        summary: p.summary.clone(),
        path: site.url(&p.path),
        permalink: site.permalink(&p.path),
        date: p.date().map(|d| d.to_string()),
        weight: p.meta.weight,
        page_type: p.page_type().map(|t| t.key()),
        typed: typed_value(p.typed.as_ref()),
        city: (cities.len() == 1).then(|| city_full_name(cities[0]).to_string()),
        example: p.meta.example,
        reading_time: p.text.reading_minutes(),
        colocated_path: p.rel_path.strip_suffix("/index.md").map(|dir| format!("{dir}/")),
        figures: p.meta.figures.clone(),
        dates_label: match &p.typed {
            Some(Typed::Campaign(c)) => super::calendar::dates_label(c),
            _ => None,
        },
    }
}

fn typed_value(t: Option<&Typed>) -> Value {
    match t {
        None => Value::Null,
        Some(t) => match serde_json::to_value(t) {
            Ok(Value::Object(mut tagged)) => tagged.remove("data").unwrap_or(Value::Null),
            _ => Value::Null,
        },
    }
}

pub fn section_ref(site: &Site, s: &Section) -> SectionRef {
    SectionRef {
        title: s.title.clone(),
        description: s.meta.description.clone(),
        path: site.url(&s.path),
        permalink: site.permalink(&s.path),
        page_count: s.pages.len(),
        page_type: s.page_type.map(|t| t.key()),
    }
}

/// Nest flat headings into a tree for the table of contents.
pub fn toc(headings: &[crate::model::text::Heading]) -> Vec<TocEntry> {
    fn insert(list: &mut Vec<TocEntry>, e: TocEntry) {
        match list.last_mut() {
            Some(last) if e.level > last.level => insert(&mut last.children, e),
            _ => list.push(e),
        }
    }
    let mut out = Vec::new();
    for h in headings {
        insert(&mut out, TocEntry { level: h.level, id: h.id.clone(), title: h.text.clone(), children: vec![] });
    }
    out
}

/// The current page's context, with its related pages.
pub fn page_ctx(site: &Site, p: &Page, content: String) -> PageCtx {
    let related = site
        .related_of(p)
        .iter()
        .map(|g| RelatedCtx {
            key: g.key,
            label: g.label,
            pages: g.pages.iter().map(|&i| page_ref(site, &site.pages[i])).collect(),
        })
        .collect();
    PageCtx { reference: page_ref(site, p), own: page_own(site, p), content, related }
}

fn page_own(site: &Site, p: &Page) -> PageOwn {
    let section = &site.sections[p.section];
    let taxonomies = p
        .meta
        .taxonomies
        .iter()
        .map(|(name, terms)| {
            let tax_slug = crate::model::slug::slugify(name);
            let refs = terms
                .iter()
                .map(|t| TermRef {
                    name: t.clone(),
                    path: site.url(&format!("/{}/{}/", tax_slug, crate::model::slug::slugify(t))),
                })
                .collect();
            (name.clone(), refs)
        })
        .collect();
    let assets = p
        .assets
        .iter()
        .filter_map(|a| a.file_name())
        .map(|n| site.url(&format!("{}{}", p.path, n.to_string_lossy())))
        .collect();
    let charts = match &p.typed {
        Some(Typed::Overview(o)) => o.charts.iter().enumerate().map(|(i, c)| charts::render(c, i)).collect(),
        _ => Vec::new(),
    };
    PageOwn {
        slug: p.slug.clone(),
        updated: p.meta.updated.map(|d| d.to_string()),
        toc: toc(&p.text.headings),
        char_count: p.text.han_chars + p.text.latin_words,
        sources: p.meta.sources.clone(),
        taxonomies,
        extra: p.meta.extra.clone(),
        section: section_ref(site, section),
        assets,
        charts,
    }
}

pub fn section_ctx(site: &Site, s: &Section, content: String, pages: Vec<PageRef>) -> SectionCtx {
    SectionCtx {
        reference: section_ref(site, s),
        content,
        toc: toc(&s.text.headings),
        pages,
        subsections: s.subsections.iter().map(|&i| section_ref(site, &site.sections[i])).collect(),
        extra: s.meta.extra.clone(),
        sources: s.meta.sources.clone(),
    }
}

/// Every page's [`PageRef`] as a template value, made once per build (in parallel) and shared
/// wherever the page is listed: a page appears in its section's pagers, its terms' pages,
/// related lists, the calendar and `get_section`/`get_page` results. A Tera value shares its
/// strings, lists and maps, so listing a page costs a reference count, not a copy. Cheap to
/// share, so the template functions can hold it too; `kepu serve` carries it from one rebuild
/// to the next and remakes only the values of pages that changed ([`PageRefs::update`]).
#[derive(Clone, Default)]
pub struct PageRefs {
    values: std::sync::Arc<Vec<TeraValue>>,
    /// Content path → position, to reuse values across rebuilds.
    by_path: std::sync::Arc<std::collections::HashMap<String, usize>>,
    /// The pages the values were made from: a page that is still the same (shared) page in
    /// the next site keeps its value without a lookup.
    pages: std::sync::Arc<Vec<std::sync::Arc<crate::model::Page>>>,
    /// The pages' rendered cards (the `card()` template function), made from these values
    /// and so carried along with them.
    cards: std::sync::Arc<super::templates::CardCache>,
}

impl PageRefs {
    pub fn new(site: &Site, images: &crate::images::ImageSet) -> Self {
        use rayon::prelude::*;
        let values = site.pages.par_iter().map(|p| ref_value(site, images, p)).collect();
        Self::from_values(site, values)
    }

    /// The values for `site`, taking each page's from `previous` unless `changed` says the
    /// page's own document changed. Valid because a `PageRef` is made from the page's own
    /// fields and the config alone (a config change makes serve rebuild from scratch).
    ///
    /// The cards rendered from the previous values are kept too, except those of pages whose
    /// value was remade (the caller clears them all when the templates or the globals they
    /// may show changed).
    pub fn update(
        site: &Site,
        images: &crate::images::ImageSet,
        previous: &PageRefs,
        changed: &(dyn Fn(&str) -> bool + Sync),
    ) -> Self {
        use rayon::prelude::*;
        // (value, remade, the page is at the same position as before)
        let values: Vec<(TeraValue, bool, bool)> = site
            .pages
            .par_iter()
            .enumerate()
            .map(|(i, p)| {
                let before = previous.pages.get(i);
                if before.is_some_and(|b| std::sync::Arc::ptr_eq(b, p)) {
                    return (previous.values[i].clone(), false, true);
                }
                let in_place = before.is_some_and(|b| b.rel_path == p.rel_path);
                match previous.by_path.get(&p.rel_path) {
                    Some(&k) if !changed(&p.rel_path) => (previous.values[k].clone(), false, in_place),
                    _ => (ref_value(site, images, p), true, in_place),
                }
            })
            .collect();
        let remade = values.iter().zip(&site.pages).filter(|((_, remade, _), _)| *remade).map(|(_, p)| site.url(&p.path));
        previous.cards.forget(remade);
        let same_order = previous.pages.len() == site.pages.len() && values.iter().all(|(_, _, in_place)| *in_place);
        let values = values.into_iter().map(|(v, _, _)| v).collect();
        let mut refs = if same_order {
            PageRefs {
                values: std::sync::Arc::new(values),
                by_path: previous.by_path.clone(),
                pages: std::sync::Arc::new(site.pages.clone()),
                cards: Default::default(),
            }
        } else {
            Self::from_values(site, values)
        };
        refs.cards = previous.cards.clone();
        refs
    }

    fn from_values(site: &Site, values: Vec<TeraValue>) -> Self {
        let by_path = site.pages.iter().enumerate().map(|(i, p)| (p.rel_path.clone(), i)).collect();
        PageRefs {
            values: std::sync::Arc::new(values),
            by_path: std::sync::Arc::new(by_path),
            pages: std::sync::Arc::new(site.pages.clone()),
            cards: Default::default(),
        }
    }

    /// The cards made from these values (see [`PageRefs::update`]).
    pub fn cards(&self) -> &std::sync::Arc<super::templates::CardCache> {
        &self.cards
    }

    /// The value of `page_ref` for page `i`.
    pub fn get(&self, i: usize) -> &TeraValue {
        &self.values[i]
    }

    /// The listed pages' values, in order.
    pub fn listed(&self, pages: &[usize]) -> TeraValue {
        TeraValue::from(pages.iter().map(|&i| self.values[i].clone()).collect::<Vec<_>>())
    }
}

/// A page's listing value: its [`PageRef`] and, when it has one, its processed cover
/// (`cover`: see [`super::picture::CoverValue`]; cards and the page header show it).
fn ref_value(site: &Site, images: &crate::images::ImageSet, p: &Page) -> TeraValue {
    let value = TeraValue::from_serializable(&page_ref(site, p));
    match images.cover(&p.rel_path).zip(p.typed.as_ref().and_then(Typed::cover)) {
        Some((r, c)) => {
            #[derive(Serialize)]
            struct WithCover {
                cover: super::picture::CoverValue,
            }
            let cover = super::picture::cover_value(site, r, c.alt.unwrap_or_default());
            TeraValue::from(extended(&value, &WithCover { cover }))
        }
        None => value,
    }
}

/// `base`'s entries followed by those of `more` (a struct), as one map value.
fn extended(base: &TeraValue, more: &impl Serialize) -> tera::Map {
    let mut m = base.as_map().cloned().unwrap_or_default();
    if let Some(more) = TeraValue::from_serializable(more).into_map() {
        m.extend(more);
    }
    m
}

/// The value of [`page_ctx`] (identical) for page `i` of the site, made from its listing
/// value and the related pages' in `refs`; the HTML is moved in, not copied.
pub fn page_value(site: &Site, i: usize, content: String, refs: &PageRefs) -> TeraValue {
    let p = &site.pages[i];
    let mut m = extended(refs.get(i), &page_own(site, p));
    m.insert("content".into(), TeraValue::from(content));
    let related: Vec<TeraValue> = site
        .related_of(p)
        .iter()
        .map(|g| {
            let mut r = tera::Map::new();
            r.insert("key".into(), TeraValue::from(g.key));
            r.insert("label".into(), TeraValue::from(g.label));
            r.insert("pages".into(), refs.listed(&g.pages));
            TeraValue::from(r)
        })
        .collect();
    m.insert("related".into(), TeraValue::from(related));
    TeraValue::from(m)
}

/// The value of [`section_ctx`] (identical) listing `pages` from `refs`.
pub fn section_value(site: &Site, s: &Section, content: String, pages: &[usize], refs: &PageRefs) -> TeraValue {
    let mut m = TeraValue::from_serializable(&section_ctx(site, s, String::new(), Vec::new())).into_map().unwrap_or_default();
    m.insert("content".into(), TeraValue::from(content));
    m.insert("pages".into(), refs.listed(pages));
    TeraValue::from(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(path: &str) -> NavItem {
        NavItem { title: path.trim_matches('/').to_string(), path: path.to_string() }
    }

    fn paths(menu: &[NavItem]) -> Vec<&str> {
        menu.iter().map(|i| i.path.as_str()).collect()
    }

    #[test]
    fn page_value_is_the_value_of_page_ctx_for_every_page_of_the_portal() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let config = crate::config::Config::load(root).expect("config");
        let docs = crate::load::load_content(root).expect("content");
        let site = crate::model::build(config, docs, &crate::model::ModelOptions::default()).expect("model");
        let refs = PageRefs::new(&site, &Default::default());
        assert!(site.pages.iter().any(|p| !site.related_of(p).is_empty()), "some page has related pages");
        for (i, p) in site.pages.iter().enumerate() {
            let expected = TeraValue::from_serializable(&page_ctx(&site, p, "<p>正文</p>".into()));
            assert_eq!(page_value(&site, i, "<p>正文</p>".into(), &refs), expected, "{}", p.rel_path);
        }
    }

    #[test]
    fn menu_puts_sections_in_visitor_order_with_the_calendar_after_campaigns() {
        let nav: Vec<NavItem> =
            ["/overview/", "/news/", "/cities/", "/campaigns/", "/venues/", "/bases/"].into_iter().map(item).collect();
        let m = menu(&nav, Some("/calendar/"));
        assert_eq!(paths(&m), ["/venues/", "/bases/", "/campaigns/", "/calendar/", "/cities/", "/overview/", "/news/"]);
        assert_eq!(m[3].title, CALENDAR_TITLE);
        assert_eq!(paths(&menu(&nav, None)), ["/venues/", "/bases/", "/campaigns/", "/cities/", "/overview/", "/news/"]);
        // Without a campaigns section the calendar comes last; a base path prefix is kept.
        let nav: Vec<NavItem> = ["/portal/news/", "/portal/venues/"].into_iter().map(item).collect();
        assert_eq!(paths(&menu(&nav, Some("/portal/calendar/"))), ["/portal/venues/", "/portal/news/", "/portal/calendar/"]);
    }
}
