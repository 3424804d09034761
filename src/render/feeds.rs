//! Machine-readable companions of the pages: sitemap, Atom feeds, robots.txt and the
//! redirect pages for aliases. Pure functions of the `Site`; dates come from content, never
//! from the clock, so output is deterministic.

use std::fmt::Write;

use super::markdown::escape_html as xml;
use crate::model::{Page, Site};

/// `sitemap.xml` listing every page and section.
pub fn sitemap(site: &Site) -> String {
    let mut urls: Vec<(String, Option<String>)> = Vec::new();
    for s in &site.sections {
        if s.has_own_page() {
            urls.push((site.permalink(&s.path), None));
        }
    }
    for p in site.pages.iter().filter(|p| p.is_rendered()) {
        urls.push((site.permalink(&p.path), p.meta.updated.or(p.meta.date).map(|d| d.to_string())));
    }
    urls.sort();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n");
    for (loc, lastmod) in urls {
        let _ = write!(out, "  <url><loc>{}</loc>", xml(&loc));
        if let Some(m) = lastmod {
            let _ = write!(out, "<lastmod>{m}</lastmod>");
        }
        out.push_str("</url>\n");
    }
    out.push_str("</urlset>\n");
    out
}

/// `robots.txt` allowing everything and pointing at the sitemap (when there is one).
pub fn robots(site: &Site) -> String {
    if !site.config.generate_sitemap {
        return "User-agent: *\nAllow: /\n".to_string();
    }
    format!("User-agent: *\nAllow: /\nSitemap: {}\n", site.permalink("/sitemap.xml"))
}

/// Entries a feed holds when config.toml's `feed_limit` does not say.
pub const FEED_LIMIT: usize = 30;

/// An Atom feed of the given pages (newest first, at most `feed_limit`, 30 by default). `None`
/// when no page has a date: a feed without dates would need the clock.
pub fn atom(site: &Site, title: &str, feed_path: &str, html_path: &str, pages: &[&Page]) -> Option<String> {
    let mut dated: Vec<&&Page> = pages.iter().filter(|p| p.date().is_some()).collect();
    // Newest first; content paths are unique, so this order is total and picking the first 30
    // before sorting them gives the same feed as sorting everything.
    let order = |a: &&&Page, b: &&&Page| b.date().cmp(&a.date()).then(a.rel_path.cmp(&b.rel_path));
    let limit = site.config.feed_limit.unwrap_or(FEED_LIMIT).max(1);
    if dated.len() > limit {
        dated.select_nth_unstable_by(limit - 1, order);
        dated.truncate(limit);
    }
    dated.sort_by(order);
    let newest = dated.iter().filter_map(|p| p.meta.updated.or(p.date())).max()?;
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"zh-CN\">\n");
    let _ = writeln!(out, "  <title>{}</title>", xml(title));
    let _ = writeln!(out, "  <link rel=\"self\" type=\"application/atom+xml\" href=\"{}\"/>", xml(&site.permalink(feed_path)));
    let _ = writeln!(out, "  <link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>", xml(&site.permalink(html_path)));
    let _ = writeln!(out, "  <updated>{newest}T00:00:00Z</updated>");
    let _ = writeln!(out, "  <id>{}</id>", xml(&site.permalink(feed_path)));
    if let Some(author) = site.config.author.as_deref().filter(|a| !a.trim().is_empty()) {
        let _ = writeln!(out, "  <author><name>{}</name></author>", xml(author));
    }
    let _ = writeln!(out, "  <generator uri=\"https://kepu.invalid/\">kepu</generator>");
    for p in dated {
        let link = site.permalink(&p.path);
        let date = p.date()?;
        let _ = writeln!(out, "  <entry>");
        let _ = writeln!(out, "    <title>{}</title>", xml(&p.title));
        let _ = writeln!(out, "    <link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>", xml(&link));
        let _ = writeln!(out, "    <id>{}</id>", xml(&link));
        for author in p.meta.authors.iter().filter(|a| !a.trim().is_empty()) {
            let _ = writeln!(out, "    <author><name>{}</name></author>", xml(author));
        }
        let _ = writeln!(out, "    <published>{date}T00:00:00Z</published>");
        let _ = writeln!(out, "    <updated>{}T00:00:00Z</updated>", p.meta.updated.unwrap_or(date));
        let summary = p.meta.description.clone().unwrap_or_else(|| p.summary.clone());
        let _ = writeln!(out, "    <summary>{}</summary>", xml(&summary));
        let _ = writeln!(out, "  </entry>");
    }
    out.push_str("</feed>\n");
    Some(out)
}

/// A page that sends visitors (and search engines) from an old URL to the new one.
pub fn redirect(to: &str) -> String {
    let to = xml(to);
    format!(
        "<!doctype html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>页面已迁移</title><link rel=\"canonical\" href=\"{to}\"><meta http-equiv=\"refresh\" content=\"0; url={to}\"></head><body><p>页面已迁移到 <a href=\"{to}\">{to}</a>。</p></body></html>\n"
    )
}
