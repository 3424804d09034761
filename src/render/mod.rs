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
pub mod guard;
pub mod markdown;
pub mod templates;

use rayon::prelude::*;
use serde::Serialize;
use tera::{Context, Tera};

use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::load::theme::Assets;
use crate::model::{Page, PageType, Section, Site, Typed};
use crate::output::OutputFile;
use context::{globals, page_ctx, page_ref, section_ctx, Globals, PageRef};

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
    let syntax_css = markdown::syntax_css();
    let hashes = templates::asset_hashes(assets, &[("css/syntax.css", syntax_css.as_bytes())]);
    let tera = templates::build(site, &assets.templates, &hashes)?;
    let has = |name: &str| assets.templates.contains_key(name);
    let has_calendar = has("calendar.html") && site.pages_of(PageType::Campaign).next().is_some();
    let has_search = site.config.search.enabled && has("search.html");
    let globals = globals(site, has_search, has_calendar, &hashes);
    let renderer = Renderer { site, tera: &tera, assets, globals: &globals };

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
            files.push(OutputFile::bytes("404.html", renderer.render("404.html", renderer.context())?));
        }
        if has_search {
            let mut ctx = renderer.context();
            ctx.insert("current_path", &site.url("/search/"));
            files.push(OutputFile::bytes("search/index.html", renderer.render("search.html", ctx)?));
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
    files.push(OutputFile::bytes("css/syntax.css", syntax_css));
    Ok(files)
}

struct Renderer<'a> {
    site: &'a Site,
    tera: &'a Tera,
    assets: &'a Assets,
    globals: &'a Globals,
}

/// `/venues/x/` → `venues/x/index.html`.
pub fn output_path(url_path: &str) -> String {
    let p = url_path.trim_start_matches('/');
    if p.ends_with(".html") || p.ends_with(".xml") { p.to_string() } else { format!("{p}index.html") }
}

impl Renderer<'_> {
    fn context(&self) -> Context {
        let mut ctx = Context::from_serialize(self.globals).unwrap_or_default();
        ctx.insert("current_path", "");
        ctx
    }

    fn render(&self, template: &str, ctx: Context) -> Result<Vec<u8>, Diagnostic> {
        guard::render(self.tera, template, &ctx)
            .map(String::into_bytes)
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
        ctx.insert("page", &page_ctx(self.site, p, html));
        ctx.insert("current_path", &self.site.url(&p.path));
        ctx.insert("current_url", &self.site.permalink(&p.path));
        let mut out = vec![OutputFile::bytes(output_path(&p.path), self.render(&template, ctx)?)];
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
        let all: Vec<PageRef> = s.pages.iter().map(|&i| page_ref(self.site, &self.site.pages[i])).collect();
        let per = s.paginate_by.unwrap_or(0);
        let chunks: Vec<Vec<PageRef>> =
            if per == 0 || all.is_empty() { vec![all.clone()] } else { all.chunks(per).map(<[_]>::to_vec).collect() };
        let total = chunks.len();
        let pager_path = |k: usize| if k == 1 { s.path.clone() } else { format!("{}page/{k}/", s.path) };
        let section = section_ctx(self.site, s, html, all);
        let mut out = Vec::new();
        for (k0, chunk) in chunks.into_iter().enumerate() {
            let k = k0 + 1;
            let mut ctx = self.context();
            ctx.insert("section", &section);
            ctx.insert("current_path", &self.site.url(&pager_path(k)));
            ctx.insert("current_url", &self.site.permalink(&pager_path(k)));
            if per > 0 {
                let paginator = Paginator {
                    pages: chunk,
                    current_index: k,
                    number_pagers: total,
                    paginate_by: per,
                    total_pages: total,
                    first: self.site.url(&pager_path(1)),
                    last: self.site.url(&pager_path(total)),
                    previous: (k > 1).then(|| self.site.url(&pager_path(k - 1))),
                    next: (k < total).then(|| self.site.url(&pager_path(k + 1))),
                };
                ctx.insert("paginator", &paginator);
            }
            out.push(OutputFile::bytes(output_path(&pager_path(k)), self.render(&template, ctx)?));
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
                out.push(OutputFile::bytes(format!("{}/index.html", t.slug), self.render("taxonomy_list.html", ctx)?));
            }
            for term in &t.terms {
                let path = format!("/{}/{}/", t.slug, term.slug);
                let pages: Vec<PageRef> = term.pages.iter().map(|&i| page_ref(self.site, &self.site.pages[i])).collect();
                if self.exists("taxonomy_single.html") {
                    let mut ctx = self.context();
                    ctx.insert("taxonomy", &tax);
                    ctx.insert("term", &serde_json::json!({"name": term.name, "slug": term.slug, "path": self.site.url(&path), "pages": pages}));
                    ctx.insert("current_path", &self.site.url(&path));
                    out.push(OutputFile::bytes(output_path(&path), self.render("taxonomy_single.html", ctx)?));
                }
            }
        }
        Ok(out)
    }

    /// The campaign calendar: campaigns by date, grouped by year; undated ones last.
    fn calendar_page(&self) -> Result<OutputFile, Diagnostic> {
        let mut dated: Vec<(&Page, crate::model::date::Date)> = Vec::new();
        let mut undated: Vec<&Page> = Vec::new();
        for (_, p) in self.site.pages_of(PageType::Campaign) {
            match &p.typed {
                Some(Typed::Campaign(c)) if c.start.is_some() => dated.push((p, c.start.unwrap())),
                _ => undated.push(p),
            }
        }
        dated.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.rel_path.cmp(&b.0.rel_path)));
        let entry = |p: &Page| {
            let Some(Typed::Campaign(c)) = &p.typed else { unreachable!() };
            serde_json::json!({
                "page": page_ref(self.site, p),
                "start": c.start.map(|d| d.to_string()),
                "end": c.end.or(c.start).map(|d| d.to_string()),
                "dates_label": calendar::dates_label(c),
                "year": c.start.map(|d| d.0.format("%Y").to_string().parse::<u16>().unwrap_or(0)).or(c.year),
            })
        };
        let mut years: Vec<(String, Vec<serde_json::Value>)> = Vec::new();
        for (p, d) in &dated {
            let y = d.0.format("%Y").to_string();
            match years.last_mut() {
                Some((yy, list)) if *yy == y => list.push(entry(p)),
                _ => years.push((y, vec![entry(p)])),
            }
        }
        let mut ctx = self.context();
        ctx.insert("years", &years.iter().map(|(y, l)| serde_json::json!({"year": y, "campaigns": l})).collect::<Vec<_>>());
        ctx.insert("undated", &undated.iter().map(|p| entry(p)).collect::<Vec<_>>());
        ctx.insert("ics_url", &self.site.url("/campaigns.ics"));
        ctx.insert("current_path", &self.site.url("/calendar/"));
        Ok(OutputFile::bytes("calendar/index.html", self.render("calendar.html", ctx)?))
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
