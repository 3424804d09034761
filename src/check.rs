//! `kepu check`: the finished site's links, checked before anything is deployed.
//!
//! Works on the output of [`crate::build::generate`] — in memory, nothing is written — so it
//! sees exactly the files a build would write. Every HTML page is parsed (html5ever, through
//! `scraper`) and every `href`, `src`, `srcset`, `action` and meta refresh is resolved the way
//! a browser resolves it, including the base URL's path prefix:
//!
//! - a site-relative target must be one of the output files (`/venues/x/` → `venues/x/index.html`);
//! - a `#fragment` must be an `id` (or `<a name>`) of the target page;
//! - `url(…)` and `@import` in stylesheets, and `<loc>` in the sitemap, must exist too;
//! - other sites' links are only fetched when asked ([`CheckOptions::external`]): a slow or
//!   flaky remote server must not fail a deploy by default.
//!
//! Problems are [`Diagnostic`]s naming the content file the page came from, the link as
//! written and what to do. A broken link that appears on many pages (it comes from a
//! template) is reported once, with the number of pages.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Duration;

use rayon::prelude::*;
use scraper::{Html, Selector};
use serde::Serialize;

use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::model::Site;
use crate::output::{Contents, OutputFile};

/// What to check besides the site's own files.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// Also fetch links to other sites (HEAD, then GET where HEAD is refused).
    pub external: bool,
    /// Time limit for one external URL, redirects included.
    pub timeout: Duration,
    /// External URLs fetched at the same time.
    pub concurrency: usize,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions { external: false, timeout: Duration::from_secs(10), concurrency: 8 }
    }
}

/// How much was looked at.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct CheckStats {
    pub html_files: usize,
    pub css_files: usize,
    /// Internal links and asset references resolved (each occurrence).
    pub internal_links: usize,
    /// Of those, links with a `#fragment` checked against the target's ids.
    pub anchors: usize,
    /// Distinct external URLs seen.
    pub external_urls: usize,
    /// Of those, how many were fetched (only with `--external`).
    pub external_checked: usize,
}

/// The result: statistics and the problems found (errors fail the check).
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    pub stats: CheckStats,
    pub diagnostics: Diagnostics,
}

/// Why a link is broken.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Problem {
    /// No output file for the target path (the path inside the output folder).
    Missing(String),
    /// The target exists but has no element with this id.
    Anchor { target: String, fragment: String },
    /// A site-relative link that does not start with the base URL's path prefix.
    OutsideBase(String),
    /// `..` above the site root.
    AboveRoot,
    /// An external URL that answered with an error status or could not be fetched.
    External { url: String, reason: String },
}

/// One place where a link is broken.
#[derive(Debug, Clone)]
struct Broken {
    /// Output path of the page or stylesheet that holds the link.
    from: String,
    /// The link exactly as written.
    raw: String,
    /// An image, script or stylesheet rather than a link to follow.
    asset: bool,
    problem: Problem,
}

/// A link found in an output file.
#[derive(Debug, Clone)]
struct FoundLink {
    raw: String,
    /// `true` for references the page needs to display (img, script, stylesheet).
    asset: bool,
}

/// What a link points at, once resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Resolved {
    /// Not something to check (`mailto:`, `tel:`, `data:`, `javascript:`, empty).
    Skip,
    /// Another site.
    External(String),
    /// A path inside the output folder (decoded, no leading slash, `""` for the root) and an
    /// optional fragment.
    Internal { path: String, fragment: Option<String> },
    OutsideBase(String),
    AboveRoot,
}

/// Where the site lives: `https://example.org` and `/portal` (or empty).
#[derive(Debug, Clone)]
struct Base {
    origin_and_prefix: String,
    prefix: String,
}

impl Base {
    fn new(site: &Site) -> Base {
        Base { origin_and_prefix: site.config.base_url_trimmed().to_string(), prefix: site.config.path_prefix() }
    }
}

/// Check every link of the generated `files`.
pub fn check(site: &Site, files: &[OutputFile], options: &CheckOptions) -> CheckReport {
    let base = Base::new(site);
    let texts: BTreeMap<&str, std::borrow::Cow<'_, [u8]>> = files
        .par_iter()
        .filter(|f| is_html(&f.path) || f.path.ends_with(".css") || f.path == "sitemap.xml")
        .filter_map(|f| {
            let bytes = match &f.contents {
                Contents::Bytes(b) => std::borrow::Cow::Borrowed(b.as_slice()),
                Contents::Copy(p) | Contents::Linked { file: p, .. } => std::borrow::Cow::Owned(std::fs::read(p).ok()?),
            };
            Some((f.path.as_str(), bytes))
        })
        .collect::<Vec<_>>()
        .into_iter()
        .collect();
    let paths: HashSet<&str> = files.iter().map(|f| f.path.as_str()).collect();

    // Parse every page once: its ids and its links.
    let parsed: Vec<(&str, Vec<FoundLink>, HashSet<String>)> = texts
        .par_iter()
        .map(|(path, bytes)| {
            let text = String::from_utf8_lossy(bytes);
            let (links, ids) = if is_html(path) {
                html_links_and_ids(&text)
            } else if path.ends_with(".css") {
                (css_links(&text), HashSet::new())
            } else {
                (sitemap_links(&text), HashSet::new())
            };
            (*path, links, ids)
        })
        .collect();
    let ids: HashMap<&str, &HashSet<String>> =
        parsed.iter().filter(|(p, _, _)| is_html(p)).map(|(p, _, ids)| (*p, ids)).collect();

    let mut stats = CheckStats {
        html_files: parsed.iter().filter(|(p, _, _)| is_html(p)).count(),
        css_files: parsed.iter().filter(|(p, _, _)| p.ends_with(".css")).count(),
        ..CheckStats::default()
    };
    let mut broken = Vec::new();
    let mut external: BTreeMap<String, Vec<(String, FoundLink)>> = BTreeMap::new();
    for (from, links, _) in &parsed {
        let page_url = url_of_output(from);
        for link in links {
            match resolve(&link.raw, &page_url, &base) {
                Resolved::Skip => {}
                Resolved::External(url) => {
                    external.entry(url).or_default().push((from.to_string(), link.clone()));
                }
                Resolved::OutsideBase(p) => {
                    stats.internal_links += 1;
                    broken.push(Broken { from: from.to_string(), raw: link.raw.clone(), asset: link.asset, problem: Problem::OutsideBase(p) });
                }
                Resolved::AboveRoot => {
                    stats.internal_links += 1;
                    broken.push(Broken { from: from.to_string(), raw: link.raw.clone(), asset: link.asset, problem: Problem::AboveRoot });
                }
                Resolved::Internal { path, fragment } => {
                    stats.internal_links += 1;
                    let Some(target) = find_output(&path, &paths) else {
                        let wanted = if path.is_empty() || path.ends_with('/') { format!("{path}index.html") } else { path };
                        broken.push(Broken { from: from.to_string(), raw: link.raw.clone(), asset: link.asset, problem: Problem::Missing(wanted) });
                        continue;
                    };
                    let Some(fragment) = fragment.filter(|f| !f.is_empty() && f != "top") else { continue };
                    let Some(target_ids) = ids.get(target.as_str()) else { continue };
                    stats.anchors += 1;
                    if !target_ids.contains(&fragment) {
                        broken.push(Broken {
                            from: from.to_string(),
                            raw: link.raw.clone(),
                            asset: link.asset,
                            problem: Problem::Anchor { target, fragment },
                        });
                    }
                }
            }
        }
    }
    stats.external_urls = external.len();
    if options.external {
        // Zola's `[link_checker] skip_prefixes`: URLs the site's author knows not to fetch.
        let skip = &site.config.zola.link_skip_prefixes;
        let wanted: Vec<String> = external.keys().filter(|u| !skip.iter().any(|p| u.starts_with(p.as_str()))).cloned().collect();
        stats.external_checked = wanted.len();
        let failures = fetch_all(wanted, options);
        for (url, reason) in failures {
            for (from, link) in &external[&url] {
                broken.push(Broken {
                    from: from.clone(),
                    raw: link.raw.clone(),
                    asset: link.asset,
                    problem: Problem::External { url: url.clone(), reason: reason.clone() },
                });
            }
        }
    }
    CheckReport { stats, diagnostics: report(site, &base, broken) }
}

fn is_html(path: &str) -> bool {
    path.ends_with(".html") || path.ends_with(".htm")
}

/// `venues/x/index.html` → `/venues/x/`; `404.html` → `/404.html` (without the base prefix).
fn url_of_output(path: &str) -> String {
    match path.strip_suffix("index.html") {
        Some(dir) if dir.is_empty() || dir.ends_with('/') => format!("/{dir}"),
        _ => format!("/{path}"),
    }
}

/// The output file a resolved path is served from, as a static server does it: the file
/// itself, or the folder's `index.html` (with or without the trailing slash).
fn find_output(path: &str, paths: &HashSet<&str>) -> Option<String> {
    if path.is_empty() || path.ends_with('/') {
        let index = format!("{path}index.html");
        return paths.contains(index.as_str()).then_some(index);
    }
    if paths.contains(path) {
        return Some(path.to_string());
    }
    let index = format!("{path}/index.html");
    paths.contains(index.as_str()).then_some(index)
}

/// Links and ids of an HTML page.
fn html_links_and_ids(text: &str) -> (Vec<FoundLink>, HashSet<String>) {
    static SELECTOR: std::sync::OnceLock<Selector> = std::sync::OnceLock::new();
    let selector = SELECTOR.get_or_init(|| {
        Selector::parse("[href], [src], [srcset], [poster], form[action], [id], a[name], meta[http-equiv]")
            .expect("valid selector")
    });
    let doc = Html::parse_document(text);
    let mut links = Vec::new();
    let mut ids = HashSet::new();
    for el in doc.select(selector) {
        let v = el.value();
        if let Some(id) = v.attr("id") {
            ids.insert(id.to_string());
        }
        if v.name() == "a" {
            if let Some(name) = v.attr("name") {
                ids.insert(name.to_string());
            }
        }
        let asset = matches!(v.name(), "img" | "script" | "source" | "video" | "audio" | "iframe")
            || (v.name() == "link" && v.attr("rel").is_some_and(|r| r.split_whitespace().any(|r| r == "stylesheet" || r == "icon")));
        // `<link rel=preconnect|dns-prefetch>` names an origin, not a resource.
        let hint_only = v.name() == "link"
            && v.attr("rel").is_some_and(|r| r.split_whitespace().any(|r| r == "preconnect" || r == "dns-prefetch"));
        for attr in ["href", "src", "poster"] {
            if let Some(raw) = v.attr(attr) {
                if !hint_only {
                    links.push(FoundLink { raw: raw.to_string(), asset: asset });
                }
            }
        }
        if v.name() == "form" {
            if let Some(raw) = v.attr("action") {
                links.push(FoundLink { raw: raw.to_string(), asset: false });
            }
        }
        if let Some(srcset) = v.attr("srcset") {
            for candidate in srcset.split(',') {
                if let Some(url) = candidate.split_whitespace().next() {
                    links.push(FoundLink { raw: url.to_string(), asset: true });
                }
            }
        }
        if v.name() == "meta" && v.attr("http-equiv").is_some_and(|h| h.eq_ignore_ascii_case("refresh")) {
            if let Some(url) = v.attr("content").and_then(refresh_target) {
                links.push(FoundLink { raw: url, asset: false });
            }
        }
    }
    (links, ids)
}

/// `0; url=/new/` → `/new/`.
fn refresh_target(content: &str) -> Option<String> {
    let (_, rest) = content.split_once(';')?;
    let rest = rest.trim();
    let url = rest.get(..4).filter(|p| p.eq_ignore_ascii_case("url=")).map(|_| &rest[4..])?;
    Some(url.trim().trim_matches(|c| c == '\'' || c == '"').to_string())
}

/// `url(…)` and `@import "…"` in a stylesheet.
fn css_links(text: &str) -> Vec<FoundLink> {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = RE.get_or_init(|| {
        regex::Regex::new(r#"url\(\s*(?:"([^"]*)"|'([^']*)'|([^)'"\s]*))\s*\)|@import\s+(?:"([^"]*)"|'([^']*)')"#)
            .expect("valid regex")
    });
    let without_comments = regex::Regex::new(r"(?s)/\*.*?\*/").map(|c| c.replace_all(text, "")).unwrap_or_default();
    re.captures_iter(&without_comments)
        .filter_map(|c| (1..=5).find_map(|i| c.get(i)).map(|m| m.as_str().to_string()))
        .filter(|u| !u.is_empty())
        .map(|raw| FoundLink { raw, asset: true })
        .collect()
}

/// `<loc>` entries of a sitemap.
fn sitemap_links(text: &str) -> Vec<FoundLink> {
    text.split("<loc>")
        .skip(1)
        .filter_map(|s| s.split_once("</loc>"))
        .map(|(url, _)| FoundLink { raw: url.trim().replace("&amp;", "&"), asset: false })
        .collect()
}

/// Resolve `raw`, found on the page at `page_url` (site path without the prefix), like a
/// browser does.
fn resolve(raw: &str, page_url: &str, base: &Base) -> Resolved {
    let raw = raw.trim();
    if raw.is_empty() {
        return Resolved::Skip;
    }
    let (rest, fragment) = match raw.split_once('#') {
        Some((r, f)) => (r, Some(percent_decode(f))),
        None => (raw, None),
    };
    let rest = rest.split_once('?').map_or(rest, |(r, _)| r);

    let site_path: String = if let Some(scheme_end) = scheme_len(rest) {
        let scheme = rest[..scheme_end].to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Resolved::Skip;
        }
        match strip_base(rest, &base.origin_and_prefix) {
            Some(p) => p,
            None => return Resolved::External(without_fragment(raw)),
        }
    } else if let Some(after) = rest.strip_prefix("//") {
        let absolute = format!("https://{after}");
        match strip_base(&absolute, &base.origin_and_prefix) {
            Some(p) => p,
            None => return Resolved::External(format!("https:{}", without_fragment(raw))),
        }
    } else if rest.starts_with('/') {
        if base.prefix.is_empty() {
            rest.to_string()
        } else if rest == base.prefix {
            "/".to_string()
        } else if let Some(p) = rest.strip_prefix(&format!("{}/", base.prefix)) {
            format!("/{p}")
        } else {
            return Resolved::OutsideBase(rest.to_string());
        }
    } else if rest.is_empty() {
        // `#frag` or `?q` alone: this page.
        page_url.to_string()
    } else {
        let dir = &page_url[..page_url.rfind('/').map_or(0, |i| i + 1)];
        format!("{dir}{rest}")
    };
    match normalize(&site_path) {
        Some(path) => Resolved::Internal { path: percent_decode(&path), fragment },
        None => Resolved::AboveRoot,
    }
}

fn without_fragment(raw: &str) -> String {
    raw.split_once('#').map_or(raw, |(r, _)| r).to_string()
}

/// Length of a URL scheme (`https` in `https://…`), if `s` starts with one.
fn scheme_len(s: &str) -> Option<usize> {
    let colon = s.find(':')?;
    let scheme = &s[..colon];
    let mut chars = scheme.chars();
    let first = chars.next()?;
    (first.is_ascii_alphabetic() && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
        .then_some(colon)
}

/// If `url` is under the site's base URL, its path below it (starting with `/`).
fn strip_base(url: &str, origin_and_prefix: &str) -> Option<String> {
    let lower_url = url.to_ascii_lowercase();
    let lower_base = origin_and_prefix.to_ascii_lowercase();
    // Compare the scheme-less part: an http link to an https site is still the site.
    let strip_scheme = |s: &str| s.split_once("://").map(|(_, r)| r.to_string()).unwrap_or_default();
    let (u, b) = (strip_scheme(&lower_url), strip_scheme(&lower_base));
    let rest_start = url.len() - u.len();
    if u == b {
        return Some("/".into());
    }
    if u.starts_with(&format!("{b}/")) {
        return Some(url[rest_start + b.len()..].to_string());
    }
    None
}

/// Remove `.` and `..` segments; `None` when `..` climbs above the root. The result has no
/// leading slash and keeps a trailing one.
fn normalize(path: &str) -> Option<String> {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').collect();
    let last = segments.len() - 1;
    for (i, seg) in segments.iter().enumerate() {
        match *seg {
            "" | "." => {
                if i == last && !out.is_empty() {
                    out.push("");
                }
            }
            ".." => {
                if out.last() == Some(&"") {
                    out.pop();
                }
                out.pop()?;
                if i == last {
                    out.push("");
                }
            }
            s => {
                if out.last() == Some(&"") {
                    out.pop();
                }
                out.push(s)
            }
        }
    }
    Some(out.join("/"))
}

/// Decode `%XX` escapes (UTF-8); invalid escapes are kept as written.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_string())
}

/// Fetch every URL; the ones that failed, with the reason.
fn fetch_all(urls: Vec<String>, options: &CheckOptions) -> Vec<(String, String)> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(options.timeout))
        .http_status_as_error(false)
        .max_redirects(10)
        .user_agent(concat!("kepu-check/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let fetch = |url: &String| -> Option<(String, String)> {
        let status = |r: Result<ureq::http::Response<ureq::Body>, ureq::Error>| r.map(|r| r.status().as_u16());
        let result = match status(agent.head(url).call()) {
            // Some servers refuse HEAD or answer it wrongly: ask again with GET.
            Ok(s) if s >= 400 => status(agent.get(url).call()),
            Err(_) => status(agent.get(url).call()),
            ok => ok,
        };
        match result {
            Ok(s) if s < 400 => None,
            Ok(s) => Some((url.clone(), format!("HTTP {s}"))),
            Err(e) => Some((url.clone(), e.to_string())),
        }
    };
    let pool = rayon::ThreadPoolBuilder::new().num_threads(options.concurrency.max(1)).build();
    let mut failures: Vec<(String, String)> = match pool {
        Ok(pool) => pool.install(|| urls.par_iter().filter_map(fetch).collect()),
        Err(_) => urls.iter().filter_map(fetch).collect(),
    };
    failures.sort();
    failures
}

/// Above this many pages with the same broken link, report it once (it is in a template).
const GROUP_AT: usize = 3;

/// Turn the broken links into diagnostics: grouped when a template repeats them, located in
/// the content file a page came from when there is one.
fn report(site: &Site, base: &Base, broken: Vec<Broken>) -> Diagnostics {
    let sources = source_files(site);
    let mut groups: BTreeMap<(Problem, String, bool), Vec<Broken>> = BTreeMap::new();
    for b in broken {
        groups.entry((b.problem.clone(), b.raw.clone(), b.asset)).or_default().push(b);
    }
    let mut diags = Diagnostics::new();
    for ((problem, raw, asset), places) in groups {
        let kind = if asset { "missing asset" } else { "broken link" };
        // Show links as the editor wrote them: `#简介`, not `#%E7%AE%80%E4%BB%8B`.
        let shown = percent_decode(&raw);
        let pages: BTreeSet<&str> = places.iter().map(|b| b.from.as_str()).collect();
        let first = places[0].from.as_str();
        let what = describe(&problem, base);
        let hint = hint(&problem, asset);
        if pages.len() > GROUP_AT {
            let examples: Vec<&str> = pages.iter().take(3).copied().collect();
            diags.push(
                Diagnostic::error(format!(
                    "{kind} `{shown}` on {} pages (e.g. {}): {what}",
                    pages.len(),
                    examples.join(", ")
                ))
                .file(format!("templates (output {first})"))
                .field(raw.clone())
                .hint(format!("a link on this many pages comes from a template (base.html, a partial); {hint}")),
            );
            continue;
        }
        for page in pages {
            let mut d = Diagnostic::error(format!("{kind} `{shown}` on {}: {what}", url_of_output(page))).field(raw.clone()).hint(hint.clone());
            d = match sources.get(page) {
                Some(src) => {
                    let mut d = d.file(&src.display);
                    if let Some((line, col)) = src.locate(&raw).or_else(|| src.locate(&shown)) {
                        d = d.at(line, col);
                    }
                    d
                }
                None => d.file(format!("(output) {page}")),
            };
            diags.push(d);
        }
    }
    diags
}

fn describe(problem: &Problem, base: &Base) -> String {
    match problem {
        Problem::Missing(path) => format!("the build has no `{path}`"),
        Problem::Anchor { target, fragment } => format!("`{target}` has no element with id `{fragment}`"),
        Problem::OutsideBase(p) => {
            format!("`{p}` is outside the site's path `{}/` (base_url)", base.prefix)
        }
        Problem::AboveRoot => "`..` climbs above the site's root".into(),
        Problem::External { url, reason } => format!("`{url}` failed: {reason}"),
    }
}

fn hint(problem: &Problem, asset: bool) -> String {
    match problem {
        Problem::Missing(_) if asset => {
            "put the file next to the page (a page bundle: folder with index.md) or into static/, or fix the path".into()
        }
        Problem::Missing(_) => {
            "link to content with `@/section/page.md` so the build checks it, or add the missing file to static/".into()
        }
        Problem::Anchor { .. } => {
            "headings get ids from their text (see the page's table of contents); link to one of those, or give the target element an id".into()
        }
        Problem::OutsideBase(_) => {
            "write site links with get_url(path=…) in templates or `@/…` in content so the base URL's path is added".into()
        }
        Problem::AboveRoot => "remove the extra `../`, or link with `@/section/page.md`".into(),
        Problem::External { .. } => {
            "the other site may have moved the page: update or remove the link (a timeout may be temporary; run again)".into()
        }
    }
}

/// A content file that produced an output page, with its body for locating links.
struct Source<'a> {
    display: std::path::PathBuf,
    body: &'a str,
    body_line: usize,
}

impl Source<'_> {
    /// Line and column of the first place the link is written in the body.
    fn locate(&self, raw: &str) -> Option<(usize, usize)> {
        let at = self.body.find(raw)?;
        let (line, col) = crate::diagnostics::line_col(self.body, at);
        Some((self.body_line + line - 1, col))
    }
}

fn source_files(site: &Site) -> HashMap<String, Source<'_>> {
    let pages = site.pages.iter().map(|p| {
        (crate::render::output_path(&p.path), Source { display: p.display_path.clone(), body: &p.body, body_line: p.body_line })
    });
    let sections = site.sections.iter().map(|s| {
        (crate::render::output_path(&s.path), Source { display: s.display_path.clone(), body: &s.body, body_line: 1 })
    });
    pages.chain(sections).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(url: &str) -> Base {
        let trimmed = url.trim_end_matches('/');
        let prefix = trimmed.splitn(4, '/').nth(3).map(|p| format!("/{p}")).unwrap_or_default();
        Base { origin_and_prefix: trimmed.to_string(), prefix }
    }

    fn internal(path: &str, fragment: Option<&str>) -> Resolved {
        Resolved::Internal { path: path.into(), fragment: fragment.map(Into::into) }
    }

    #[test]
    fn resolves_like_a_browser() {
        let b = base("https://kepu.example.org/");
        let page = "/venues/x/";
        assert_eq!(resolve("/venues/y/", page, &b), internal("venues/y/", None));
        assert_eq!(resolve("../y/#a", page, &b), internal("venues/y/", Some("a")));
        assert_eq!(resolve("photo.jpg", page, &b), internal("venues/x/photo.jpg", None));
        assert_eq!(resolve("#intro", page, &b), internal("venues/x/", Some("intro")));
        assert_eq!(resolve("/", page, &b), internal("", None));
        assert_eq!(resolve("/search/?q=科技", page, &b), internal("search/", None));
        assert_eq!(resolve("https://kepu.example.org/cities/", page, &b), internal("cities/", None));
        assert_eq!(resolve("HTTP://KEPU.example.org", page, &b), internal("", None));
        assert_eq!(resolve("https://www.henan.gov.cn/x#y", page, &b), Resolved::External("https://www.henan.gov.cn/x".into()));
        assert_eq!(resolve("//cdn.example.com/a.js", page, &b), Resolved::External("https://cdn.example.com/a.js".into()));
        assert_eq!(resolve("/%E7%A7%91%E6%8A%80/#%E7%AE%80%E4%BB%8B", page, &b), internal("科技/", Some("简介")));
        assert_eq!(resolve("../../../x", page, &b), Resolved::AboveRoot);
        for skip in ["mailto:a@b.c", "tel:0371", "data:image/png;base64,AA", "javascript:void(0)", ""] {
            assert_eq!(resolve(skip, page, &b), Resolved::Skip, "{skip}");
        }
        // A page that is a file, not a folder.
        assert_eq!(resolve("css/site.css", "/404.html", &b), internal("css/site.css", None));
    }

    #[test]
    fn respects_the_base_path_prefix() {
        let b = base("https://example.org/portal/");
        assert_eq!(resolve("/portal/venues/", "/", &b), internal("venues/", None));
        assert_eq!(resolve("/portal", "/", &b), internal("", None));
        assert_eq!(resolve("/venues/", "/", &b), Resolved::OutsideBase("/venues/".into()));
        assert_eq!(resolve("https://example.org/portal/css/a.css", "/", &b), internal("css/a.css", None));
        assert_eq!(resolve("https://example.org/other/", "/", &b), Resolved::External("https://example.org/other/".into()));
    }

    #[test]
    fn finds_links_ids_and_refresh_targets() {
        let (links, ids) = html_links_and_ids(
            r##"<!doctype html><html><head><link rel="stylesheet" href="&#x2F;css&#x2F;a.css">
            <link rel="preconnect" href="https://fonts.example"><meta http-equiv="refresh" content="0; url=/new/"></head>
            <body><h2 id="简介">简介</h2><a name="old"></a><img src="a.png" srcset="a-2x.png 2x, a-3x.png 3x" alt="">
            <form action="/search/"><input name="q"></form><a href="#简介">x</a></body></html>"##,
        );
        let raws: Vec<&str> = links.iter().map(|l| l.raw.as_str()).collect();
        assert_eq!(raws, ["/css/a.css", "/new/", "a.png", "a-2x.png", "a-3x.png", "/search/", "#简介"]);
        assert!(ids.contains("简介") && ids.contains("old"));
    }

    #[test]
    fn finds_css_references_outside_comments() {
        let css = r#"@import "base.css"; /* url(gone.png) */ .a{background:url( 'img/a.png' )} .b{src:url(f.woff2) format("woff2")} .c{background:url("data:image/svg+xml;x")}"#;
        let raws: Vec<String> = css_links(css).into_iter().map(|l| l.raw).collect();
        assert_eq!(raws, ["base.css", "img/a.png", "f.woff2", "data:image/svg+xml;x"]);
    }

    #[test]
    fn normalizes_paths() {
        assert_eq!(normalize("/a/./b/../c/").as_deref(), Some("a/c/"));
        assert_eq!(normalize("/a/b/..").as_deref(), Some("a/"));
        assert_eq!(normalize("/").as_deref(), Some(""));
        assert_eq!(normalize("/..").as_deref(), None);
        assert_eq!(url_of_output("index.html"), "/");
        assert_eq!(url_of_output("venues/x/index.html"), "/venues/x/");
        assert_eq!(url_of_output("404.html"), "/404.html");
        assert_eq!(percent_decode("%E7%A7%91%zz%4"), "科%zz%4");
    }
}
