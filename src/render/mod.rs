//! Stage 3, **render**: the `Site` becomes HTML pages and their companions (feeds, sitemap,
//! calendar, redirects). Pure: `&Site` and the templates in, files out; pages render in
//! parallel.
//!
//! Owns: Markdown → HTML, template selection and context, pagination, charts, feeds, iCal.
//! Knows nothing of the disk (the write stage puts files there).

pub mod calendar;
pub mod charts;
pub mod context;
pub mod feeds;
pub mod markdown;
pub mod templates;

use rayon::prelude::*;
use serde::Serialize;
use tera::{Context, Tera};

use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::load::theme::Assets;
use crate::model::{Page, PageType, Section, Site, Typed};
use crate::output::OutputFile;
use context::{globals, listed, page_ref_values, page_value, put, section_value, PageRef};

/// Pagination state for a section page.
#[derive(Debug, Clone, Serialize)]
pub struct Paginator {
    pub pages: Vec<PageRef>,
    /// 1-based.
    pub current_index: usize,
    pub number_pagers: usize,
    pub paginate_by: usize,
    pub total_pages: usize,
    pub first: String,
    pub last: String,
    pub previous: Option<String>,
    pub next: Option<String>,
}

/// Render every output file of the site except search index files.
pub fn render(site: &Site, assets: &Assets) -> Result<Vec<OutputFile>, Diagnostics> {
    let refs = std::sync::Arc::new(page_ref_values(site));
    let tera = templates::build_with_refs(site, &assets.templates, refs.clone())?;
    let has = |name: &str| assets.templates.contains_key(name);
    let has_calendar = has("calendar.html") && site.pages_of(PageType::Campaign).next().is_some();
    let has_search = site.config.search.enabled && has("search.html");
    let globals = globals(site, has_search, has_calendar);
    // Every template gets the globals: serialize them once, clone the context per page.
    let mut base = Context::from_serialize(&globals).unwrap_or_default();
    base.insert("current_path", "");
    let renderer = Renderer { site, tera: &tera, assets, base, refs: &refs };

    let page_results: Vec<Result<Vec<OutputFile>, Diagnostic>> =
        site.pages.par_iter().map(|p| renderer.page(p)).collect();
    let section_results: Vec<Result<Vec<OutputFile>, Diagnostic>> =
        site.sections.par_iter().map(|s| renderer.section(s)).collect();

    let mut diags = Diagnostics::new();
    let mut files = Vec::new();
    for r in page_results.into_iter().chain(section_results) {
        match r {
            Ok(f) => files.extend(f),
            Err(d) => diags.push(d),
        }
    }
    let mut extra = || -> Result<(), Diagnostic> {
        files.extend(renderer.taxonomies()?);
        if has("404.html") {
            files.push(OutputFile::bytes("404.html", renderer.render("404.html", &renderer.context())?));
        }
        if has_search {
            let mut ctx = renderer.context();
            ctx.insert("current_path", &site.url("/search/"));
            files.push(OutputFile::bytes("search/index.html", renderer.render("search.html", &ctx)?));
        }
        if has_calendar {
            files.push(renderer.calendar_page()?);
            files.push(OutputFile::bytes("campaigns.ics", calendar::ics(site)));
        }
        Ok(())
    };
    if let Err(d) = extra() {
        diags.push(d);
    }
    if diags.has_errors() {
        // A broken template usually fails every page the same way: report it once.
        let mut seen = std::collections::HashSet::new();
        diags.0.retain(|d| seen.insert((d.file.clone(), d.line, d.message.clone())));
        return Err(diags.sorted());
    }

    files.extend(renderer.companions());
    files.push(OutputFile::bytes("css/syntax.css", markdown::syntax_css()));
    Ok(files)
}

struct Renderer<'a> {
    site: &'a Site,
    tera: &'a Tera,
    assets: &'a Assets,
    /// The globals and an empty `current_path`, what every template starts from.
    base: Context,
    /// Every page's `PageRef` value, indexed like `site.pages`.
    refs: &'a [serde_json::Value],
}

/// `/venues/x/` → `venues/x/index.html`.
pub fn output_path(url_path: &str) -> String {
    let p = url_path.trim_start_matches('/');
    if p.ends_with(".html") || p.ends_with(".xml") { p.to_string() } else { format!("{p}index.html") }
}

impl Renderer<'_> {
    fn context(&self) -> Context {
        self.base.clone()
    }

    fn render(&self, template: &str, ctx: &Context) -> Result<Vec<u8>, Diagnostic> {
        // Into bytes directly: `Tera::render` would check the whole page is UTF-8 once more.
        let mut out = Vec::with_capacity(16 * 1024);
        self.tera
            .render_to(template, ctx, &mut out)
            .map(|()| out)
            .map_err(|e| templates::error(&e, &self.assets.templates, Some(template)))
    }

    fn exists(&self, name: &str) -> bool {
        self.assets.templates.contains_key(name)
    }

    fn page_template(&self, p: &Page) -> String {
        if let Some(t) = &p.meta.template {
            return t.clone();
        }
        if let Some(t) = &self.site.sections[p.section].meta.page_template {
            return t.clone();
        }
        if let Some(t) = p.page_type() {
            let name = format!("types/{}.html", t.key());
            if self.exists(&name) {
                return name;
            }
        }
        "page.html".into()
    }

    fn page(&self, p: &Page) -> Result<Vec<OutputFile>, Diagnostic> {
        let html = markdown::to_html(self.site, &p.body, &p.text.headings, &self.site.config.markdown);
        let template = self.page_template(p);
        if !self.exists(&template) {
            return Err(Diagnostic::error(format!("template `{template}` does not exist"))
                .file(&p.display_path)
                .field("template")
                .hint("create it in templates/ or remove the `template` field"));
        }
        let mut ctx = self.context();
        put(&mut ctx, "page", page_value(self.site, p, html, self.refs));
        ctx.insert("current_path", &self.site.url(&p.path));
        ctx.insert("current_url", &self.site.permalink(&p.path));
        let mut out = vec![OutputFile::bytes(output_path(&p.path), self.render(&template, &ctx)?)];
        for asset in &p.assets {
            if let Some(name) = asset.file_name() {
                out.push(OutputFile::copy(format!("{}{}", p.path.trim_start_matches('/'), name.to_string_lossy()), asset.clone()));
            }
        }
        for alias in &p.meta.aliases {
            let to = self.site.url(&p.path);
            let path = if alias.ends_with(".html") {
                alias.trim_start_matches('/').to_string()
            } else {
                format!("{}/index.html", alias.trim_matches('/'))
            };
            out.push(OutputFile::bytes(path, feeds::redirect(&to)));
        }
        Ok(out)
    }

    fn section(&self, s: &Section) -> Result<Vec<OutputFile>, Diagnostic> {
        if s.meta.render == Some(false) {
            return Ok(Vec::new());
        }
        let html = markdown::to_html(self.site, &s.body, &s.text.headings, &self.site.config.markdown);
        let template = s.meta.template.clone().unwrap_or_else(|| {
            if s.dir.is_empty() { "index.html".into() } else { "section.html".into() }
        });
        if !self.exists(&template) {
            return Err(Diagnostic::error(format!("template `{template}` does not exist"))
                .file(&s.display_path)
                .field("template")
                .hint("create it in templates/ or remove the `template` field"));
        }
        let per = s.paginate_by.unwrap_or(0);
        let chunks: Vec<&[usize]> =
            if per == 0 || s.pages.is_empty() { vec![&s.pages[..]] } else { s.pages.chunks(per).collect() };
        let total = chunks.len();
        let pager_path = |k: usize| if k == 1 { s.path.clone() } else { format!("{}page/{k}/", s.path) };
        // The section (with every page of it) goes into the context once; each pager only
        // replaces its own keys. Re-serializing it per pager made big sections quadratic.
        let mut base = self.context();
        put(&mut base, "section", section_value(self.site, s, html, self.refs));
        let pagers: Vec<(usize, &[usize])> = chunks.into_iter().enumerate().map(|(k0, c)| (k0 + 1, c)).collect();
        let per_task = pagers.len().div_ceil(rayon::current_num_threads() * 2).max(1);
        let rendered: Vec<Result<Vec<OutputFile>, Diagnostic>> = pagers
            .par_chunks(per_task)
            .map(|group| {
                let mut ctx = base.clone();
                let mut out = Vec::with_capacity(group.len());
                for (k, chunk) in group {
                    let k = *k;
                    ctx.insert("current_path", &self.site.url(&pager_path(k)));
                    ctx.insert("current_url", &self.site.permalink(&pager_path(k)));
                    if per > 0 {
                        let paginator = Paginator {
                            pages: Vec::new(),
                            current_index: k,
                            number_pagers: total,
                            paginate_by: per,
                            total_pages: total,
                            first: self.site.url(&pager_path(1)),
                            last: self.site.url(&pager_path(total)),
                            previous: (k > 1).then(|| self.site.url(&pager_path(k - 1))),
                            next: (k < total).then(|| self.site.url(&pager_path(k + 1))),
                        };
                        let mut value = serde_json::to_value(&paginator).unwrap_or_default();
                        value["pages"] = listed(self.refs, chunk);
                        put(&mut ctx, "paginator", value);
                    }
                    out.push(OutputFile::bytes(output_path(&pager_path(k)), self.render(&template, &ctx)?));
                }
                Ok(out)
            })
            .collect();
        let mut out = Vec::with_capacity(total);
        for r in rendered {
            out.extend(r?);
        }
        Ok(out)
    }

    fn taxonomies(&self) -> Result<Vec<OutputFile>, Diagnostic> {
        let mut out = Vec::new();
        if self.site.taxonomies.is_empty() {
            return Ok(out);
        }
        for t in &self.site.taxonomies {
            let tax = serde_json::json!({
                "name": t.name, "title": t.title, "path": self.site.url(&format!("/{}/", t.slug)),
                "items": t.terms.iter().map(|term| serde_json::json!({
                    "name": term.name, "slug": term.slug, "count": term.pages.len(),
                    "path": self.site.url(&format!("/{}/{}/", t.slug, term.slug)),
                })).collect::<Vec<_>>(),
            });
            if self.exists("taxonomy_list.html") {
                let mut ctx = self.context();
                ctx.insert("taxonomy", &tax);
                ctx.insert("current_path", &self.site.url(&format!("/{}/", t.slug)));
                out.push(OutputFile::bytes(format!("{}/index.html", t.slug), self.render("taxonomy_list.html", &ctx)?));
            }
            if self.exists("taxonomy_single.html") {
                // Term pages in parallel; each task starts from one context with the taxonomy.
                let mut base = self.context();
                put(&mut base, "taxonomy", tax);
                let per_task = t.terms.len().div_ceil(rayon::current_num_threads() * 4).max(1);
                let rendered: Vec<Result<Vec<OutputFile>, Diagnostic>> = t
                    .terms
                    .par_chunks(per_task)
                    .map(|terms| {
                        let mut ctx = base.clone();
                        let mut out = Vec::with_capacity(terms.len());
                        for term in terms {
                            let path = format!("/{}/{}/", t.slug, term.slug);
                            let mut v = serde_json::json!({"name": term.name, "slug": term.slug, "path": self.site.url(&path)});
                            v["pages"] = listed(self.refs, &term.pages);
                            put(&mut ctx, "term", v);
                            ctx.insert("current_path", &self.site.url(&path));
                            out.push(OutputFile::bytes(output_path(&path), self.render("taxonomy_single.html", &ctx)?));
                        }
                        Ok(out)
                    })
                    .collect();
                for r in rendered {
                    out.extend(r?);
                }
            }
        }
        Ok(out)
    }

    /// The campaign calendar: campaigns by date, grouped by year; undated ones last.
    fn calendar_page(&self) -> Result<OutputFile, Diagnostic> {
        let mut dated: Vec<(usize, crate::model::date::Date)> = Vec::new();
        let mut undated: Vec<usize> = Vec::new();
        for (i, p) in self.site.pages_of(PageType::Campaign) {
            match &p.typed {
                Some(Typed::Campaign(c)) if c.start.is_some() => dated.push((i, c.start.unwrap())),
                _ => undated.push(i),
            }
        }
        let pages = &self.site.pages;
        dated.sort_by(|a, b| a.1.cmp(&b.1).then(pages[a.0].rel_path.cmp(&pages[b.0].rel_path)));
        let entry = |i: usize| {
            let Some(Typed::Campaign(c)) = &pages[i].typed else { unreachable!() };
            serde_json::json!({
                "page": self.refs[i].clone(),
                "start": c.start.map(|d| d.to_string()),
                "end": c.end.or(c.start).map(|d| d.to_string()),
                "dates_label": calendar::dates_label(c),
                "year": c.start.map(|d| d.0.format("%Y").to_string().parse::<u16>().unwrap_or(0)).or(c.year),
            })
        };
        let mut years: Vec<(String, Vec<serde_json::Value>)> = Vec::new();
        for &(i, d) in &dated {
            let y = d.0.format("%Y").to_string();
            match years.last_mut() {
                Some((yy, list)) if *yy == y => list.push(entry(i)),
                _ => years.push((y, vec![entry(i)])),
            }
        }
        let mut ctx = self.context();
        let years = years.into_iter().map(|(y, l)| serde_json::json!({"year": y, "campaigns": l})).collect();
        put(&mut ctx, "years", serde_json::Value::Array(years));
        put(&mut ctx, "undated", serde_json::Value::Array(undated.into_iter().map(entry).collect()));
        ctx.insert("ics_url", &self.site.url("/campaigns.ics"));
        ctx.insert("current_path", &self.site.url("/calendar/"));
        Ok(OutputFile::bytes("calendar/index.html", self.render("calendar.html", &ctx)?))
    }

    /// Sitemap, robots.txt and Atom feeds.
    fn companions(&self) -> Vec<OutputFile> {
        let site = self.site;
        let mut out = vec![
            OutputFile::bytes("sitemap.xml", feeds::sitemap(site)),
            OutputFile::bytes("robots.txt", feeds::robots(site)),
        ];
        if site.config.generate_feeds {
            let all: Vec<&Page> = site.pages.iter().collect();
            if let Some(feed) = feeds::atom(site, &site.config.title, "/atom.xml", "/", &all) {
                out.push(OutputFile::bytes("atom.xml", feed));
            }
            for s in site.sections.iter().filter(|s| !s.dir.is_empty() && s.meta.render != Some(false)) {
                let pages: Vec<&Page> = s.pages.iter().map(|&i| &site.pages[i]).collect();
                let feed_path = format!("{}atom.xml", s.path);
                let title = format!("{} · {}", s.title, site.config.title);
                if let Some(feed) = feeds::atom(site, &title, &feed_path, &s.path, &pages) {
                    out.push(OutputFile::bytes(feed_path.trim_start_matches('/'), feed));
                }
            }
        }
        out
    }
}
