//! What open pages are told over the live-reload event stream, and the script that listens.
//!
//! Messages are Server-Sent Events named after the [`LiveMessage`] variant (`hello`,
//! `reload`, `errors`) with a JSON body. The errors carry the same diagnostics the CLI prints
//! (file, line, column, field, message, hint, the offending lines) plus their terminal
//! rendering, which the overlay shows as is. The script puts every string in with
//! `textContent`, never as HTML.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::diagnostics::{Diagnostic, Diagnostics};

/// Where the injected script is served, and the event stream.
pub const SCRIPT_PATH: &str = "/__kepu/live.js";
pub const EVENTS_PATH: &str = "/__kepu/events";

/// The script injected into every HTML page `kepu serve` sends (never into `kepu build`'s
/// output: injection happens in the server, on the way out).
pub const LIVE_JS: &str = include_str!("live.js");

/// A message to open pages.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum LiveMessage {
    /// Sent first on every connection: the site's version and current errors, if any.
    Hello { version: u64, errors: Option<ErrorReport> },
    /// A build succeeded: pages at `paths` (URL paths) changed, or all pages when `all`
    /// (a stylesheet or script changed). Any error overlay goes away.
    /// `version` is the site's version after the change (set by the server).
    Reload { version: u64, all: bool, paths: Vec<String> },
    /// A build failed: show these, keep the page.
    Errors(ErrorReport),
}

impl LiveMessage {
    /// The reload for a set of changed output files (paths as in the output folder).
    pub fn reload(all: bool, changed: &BTreeSet<String>) -> Self {
        let mut every = all;
        let mut paths = Vec::new();
        for p in changed {
            if p.ends_with(".html") {
                paths.push(url_path(p));
            } else if affects_every_page(p) {
                every = true;
            }
        }
        LiveMessage::Reload { version: 0, all: every, paths }
    }

    /// The SSE event name.
    pub fn event(&self) -> &'static str {
        match self {
            LiveMessage::Hello { .. } => "hello",
            LiveMessage::Reload { .. } => "reload",
            LiveMessage::Errors(_) => "errors",
        }
    }

    pub fn json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }
}

/// `venues/x/index.html` → `/venues/x/`; `404.html` → `/404.html`.
pub fn url_path(output_path: &str) -> String {
    match output_path.strip_suffix("index.html") {
        Some(dir) if dir.is_empty() || dir.ends_with('/') => format!("/{dir}"),
        _ => format!("/{output_path}"),
    }
}

/// Stylesheets, scripts, images and fonts are used by pages; feeds, sitemaps and data files
/// are not.
fn affects_every_page(path: &str) -> bool {
    let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    matches!(
        ext.as_str(),
        "css" | "js" | "mjs" | "png" | "jpg" | "jpeg" | "gif" | "svg" | "webp" | "avif" | "ico" | "woff" | "woff2" | "ttf" | "otf"
    )
}

/// A failed build, for the overlay.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorReport {
    pub errors: usize,
    pub warnings: usize,
    pub diagnostics: Vec<OverlayDiagnostic>,
}

/// One diagnostic: its fields, plus `rendered`, the text `kepu build` prints for it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OverlayDiagnostic {
    #[serde(flatten)]
    pub diagnostic: Diagnostic,
    pub location: Option<String>,
    pub rendered: String,
}

impl ErrorReport {
    pub fn new(diags: &Diagnostics) -> Self {
        ErrorReport {
            errors: diags.error_count(),
            warnings: diags.warning_count(),
            diagnostics: diags
                .iter()
                .map(|d| OverlayDiagnostic { diagnostic: d.clone(), location: d.location(), rendered: d.render(false) })
                .collect(),
        }
    }
}

/// The page served while no build has succeeded yet: the overlay explains why.
pub fn placeholder_page() -> String {
    "<!doctype html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>kepu serve：站点未能构建</title></head>\
     <body><main><h1>站点还没有构建成功</h1><p>请按下方提示修改内容，保存后页面会自动刷新。</p></main></body></html>\n"
        .to_string()
}

/// Insert the live-reload script tag before `</body>` (or at the end).
pub fn inject(html: &[u8], version: u64) -> Vec<u8> {
    let tag = format!("<script src=\"{SCRIPT_PATH}\" data-kepu-version=\"{version}\" defer></script>");
    let at = find_last_ci(html, b"</body>").unwrap_or(html.len());
    let mut out = Vec::with_capacity(html.len() + tag.len());
    out.extend_from_slice(&html[..at]);
    out.extend_from_slice(tag.as_bytes());
    out.extend_from_slice(&html[at..]);
    out
}

fn find_last_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    (0..=hay.len().checked_sub(needle.len())?).rev().find(|&i| hay[i..i + needle.len()].eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_paths_become_url_paths() {
        assert_eq!(url_path("index.html"), "/");
        assert_eq!(url_path("venues/x/index.html"), "/venues/x/");
        assert_eq!(url_path("404.html"), "/404.html");
        assert_eq!(url_path("a/notindex.html"), "/a/notindex.html");
    }

    #[test]
    fn reload_names_html_pages_and_reloads_all_for_stylesheets() {
        let set: BTreeSet<String> = ["venues/x/index.html", "sitemap.xml"].iter().map(|s| s.to_string()).collect();
        assert_eq!(LiveMessage::reload(false, &set), LiveMessage::Reload { version: 0, all: false, paths: vec!["/venues/x/".into()] });
        let set: BTreeSet<String> = ["css/site.css".to_string()].into();
        assert!(matches!(LiveMessage::reload(false, &set), LiveMessage::Reload { all: true, .. }));
    }

    #[test]
    fn script_goes_before_the_last_body_end() {
        let out = String::from_utf8(inject(b"<html><body>x</BODY></html>", 3)).unwrap();
        assert!(out.starts_with("<html><body>x<script src=\"/__kepu/live.js\" data-kepu-version=\"3\""), "{out}");
        assert!(out.ends_with("</BODY></html>"));
        let out = String::from_utf8(inject(b"plain", 1)).unwrap();
        assert!(out.starts_with("plain<script"));
    }

    #[test]
    fn error_report_carries_the_cli_rendering() {
        let src = "+++\ntitle = \"x\"\n[venue]\ncity = \"北京\"\n+++\n";
        let d = Diagnostic::error("`北京` is not one of the 18 cities")
            .file("content/venues/x.md")
            .field("venue.city")
            .hint("allowed values are: 郑州 …")
            .at_offset(src, src.find("city").unwrap());
        let r = ErrorReport::new(&Diagnostics::from(d.clone()));
        assert_eq!(r.errors, 1);
        assert_eq!(r.diagnostics[0].rendered, d.render(false));
        assert_eq!(r.diagnostics[0].location.as_deref(), Some("content/venues/x.md:4:1"));
        let json = LiveMessage::Errors(r).json();
        assert!(json.contains("\"type\":\"errors\"") && json.contains("\"line\":4") && json.contains("venue.city"), "{json}");
    }
}
