//! The HTTP side of `kepu serve` (axum on tokio): the site's files from memory, the
//! live-reload event stream (Server-Sent Events) and its script.
//!
//! Request paths are percent-decoded once and refused with 403 when they try to leave the
//! site (`..` or `.` segments, encoded or not, backslashes, NUL, empty segments such as `//`,
//! drive letters). Files are looked up by path in memory — never joined onto a disk path — so
//! a refused pattern that slipped through would still only miss. HTML gets the live-reload
//! script on the way out; everything is sent with `Cache-Control: no-store` so a reload always
//! shows the new build.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, RwLock};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::stream::Stream;
use tokio::sync::{broadcast, watch};

use super::incremental::{Served, Update};
use super::overlay::{self, ErrorReport, LiveMessage, EVENTS_PATH, SCRIPT_PATH};
use crate::diagnostics::Diagnostics;

/// What the server shows, shared between the rebuild thread and the request handlers.
pub struct Shared {
    store: RwLock<Store>,
    events: broadcast::Sender<Arc<LiveMessage>>,
    shutdown: watch::Sender<bool>,
}

#[derive(Default)]
struct Store {
    files: HashMap<String, Served>,
    /// Bumped by every successful build; pages carry the version they were served at.
    version: u64,
    /// The current build's errors, while it fails.
    errors: Option<ErrorReport>,
    /// A build has succeeded at least once.
    ready: bool,
}

impl Default for Shared {
    fn default() -> Self {
        Self::new()
    }
}

impl Shared {
    pub fn new() -> Self {
        Shared { store: RwLock::default(), events: broadcast::channel(64).0, shutdown: watch::channel(false).0 }
    }

    /// Swap in a successful build's changes and tell the pages.
    pub fn apply(&self, update: Update, mut reload: LiveMessage) {
        {
            let mut store = self.store.write().unwrap_or_else(|e| e.into_inner());
            for path in update.removes {
                store.files.remove(&path);
            }
            for (path, served) in update.upserts {
                store.files.insert(path, served);
            }
            store.version += 1;
            store.errors = None;
            store.ready = true;
            if let LiveMessage::Reload { version, .. } = &mut reload {
                *version = store.version;
            }
        }
        let _ = self.events.send(Arc::new(reload));
    }

    /// A build failed: keep the files, show the errors.
    pub fn fail(&self, diagnostics: &Diagnostics) {
        let report = ErrorReport::new(diagnostics);
        self.store.write().unwrap_or_else(|e| e.into_inner()).errors = Some(report.clone());
        let _ = self.events.send(Arc::new(LiveMessage::Errors(report)));
    }

    /// End every event stream so that the server can stop.
    pub fn shut_down(&self) {
        let _ = self.shutdown.send(true);
    }

    pub fn version(&self) -> u64 {
        self.store.read().unwrap_or_else(|e| e.into_inner()).version
    }
}

/// The server's routes.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(EVENTS_PATH, get(events))
        .route(SCRIPT_PATH, get(script))
        .fallback(file)
        .with_state(shared)
}

async fn script() -> Response {
    let mut r = (StatusCode::OK, overlay::LIVE_JS).into_response();
    set_headers(&mut r, "text/javascript; charset=utf-8");
    r
}

/// The live-reload stream: `hello` with the current state, then every message until the
/// server stops.
async fn events(State(shared): State<Arc<Shared>>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = shared.events.subscribe();
    let hello = {
        let store = shared.store.read().unwrap_or_else(|e| e.into_inner());
        LiveMessage::Hello { version: store.version, errors: store.errors.clone() }
    };
    let shutdown = shared.shutdown.subscribe();
    let to_event = |m: &LiveMessage| Event::default().event(m.event()).data(m.json());
    let stream = futures_util::stream::unfold((Some(hello), rx, shutdown), move |(first, mut rx, mut shutdown)| async move {
        if let Some(m) = first {
            return Some((Ok(to_event(&m)), (None, rx, shutdown)));
        }
        loop {
            if *shutdown.borrow() {
                return None;
            }
            tokio::select! {
                r = rx.recv() => match r {
                    Ok(m) => return Some((Ok(to_event(&m)), (None, rx, shutdown))),
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                _ = shutdown.changed() => return None,
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// Why a request path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the path is not valid UTF-8 once decoded")]
    NotUtf8,
    #[error("the path tries to leave the site")]
    Escape,
}

/// The site-relative file path a request path names (no leading slash; empty or ending in
/// `/` for a folder), or why it is refused.
pub fn resolve(raw: &str) -> Result<String, Refused> {
    let rest = raw.strip_prefix('/').ok_or(Refused::Escape)?;
    let decoded = percent_encoding::percent_decode_str(rest).decode_utf8().map_err(|_| Refused::NotUtf8)?;
    let path = decoded.as_ref();
    if path.contains(['\\', '\0', ':']) || path.starts_with('/') {
        return Err(Refused::Escape);
    }
    let segments: Vec<&str> = path.split('/').collect();
    let last = segments.len() - 1;
    for (i, seg) in segments.iter().enumerate() {
        if *seg == ".." || *seg == "." || (seg.is_empty() && i != last) || seg.chars().any(char::is_control) {
            return Err(Refused::Escape);
        }
    }
    Ok(path.to_string())
}

async fn file(State(shared): State<Arc<Shared>>, method: Method, uri: Uri) -> Response {
    if method != Method::GET && method != Method::HEAD {
        let mut r = (StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD\n").into_response();
        r.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let path = match resolve(uri.path()) {
        Ok(p) => p,
        Err(e) => return plain(StatusCode::FORBIDDEN, &format!("403 Forbidden: {e}\n")),
    };
    let key = if path.is_empty() || path.ends_with('/') { format!("{path}index.html") } else { path.clone() };
    let (found, version, ready, is_dir, not_found) = {
        let store = shared.store.read().unwrap_or_else(|e| e.into_inner());
        let found = store.files.get(&key).cloned();
        let is_dir = found.is_none() && store.files.contains_key(&format!("{path}/index.html"));
        (found, store.version, store.ready, is_dir, store.files.get("404.html").cloned())
    };
    if let Some(served) = found {
        return send(served, &key, version, StatusCode::OK).await;
    }
    if is_dir {
        let mut r = StatusCode::MOVED_PERMANENTLY.into_response();
        if let Ok(v) = HeaderValue::from_str(&format!("{}/", uri.path())) {
            r.headers_mut().insert(header::LOCATION, v);
        }
        return r;
    }
    if !ready {
        let page = Bytes::from(overlay::placeholder_page());
        return send(Served::Bytes(page), "index.html", version, StatusCode::SERVICE_UNAVAILABLE).await;
    }
    match not_found {
        Some(page) => send(page, "404.html", version, StatusCode::NOT_FOUND).await,
        None => plain(StatusCode::NOT_FOUND, "404 Not Found\n"),
    }
}

async fn send(served: Served, key: &str, version: u64, status: StatusCode) -> Response {
    let bytes = match served {
        Served::Bytes(b) => b,
        Served::File(p) => match tokio::fs::read(&p).await {
            Ok(b) => Bytes::from(b),
            Err(_) => return plain(StatusCode::NOT_FOUND, "404 Not Found (the file went away)\n"),
        },
    };
    let ctype = content_type(key);
    let body = if ctype.starts_with("text/html") { Bytes::from(overlay::inject(&bytes, version)) } else { bytes };
    let mut r = (status, Body::from(body)).into_response();
    set_headers(&mut r, ctype);
    r
}

fn plain(status: StatusCode, text: &str) -> Response {
    let mut r = (status, text.to_string()).into_response();
    set_headers(&mut r, "text/plain; charset=utf-8");
    r
}

fn set_headers(r: &mut Response, ctype: &'static str) {
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
}

/// The `Content-Type` for a file of the site, by extension; text types say UTF-8.
pub fn content_type(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or(path);
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" | "map" => "application/json; charset=utf-8",
        "xml" if name == "atom.xml" => "application/atom+xml; charset=utf-8",
        "xml" | "xsl" => "application/xml; charset=utf-8",
        "ics" => "text/calendar; charset=utf-8",
        "txt" | "md" => "text/plain; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "svg" => "image/svg+xml; charset=utf-8",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "ico" => "image/x-icon",
        "pdf" => "application/pdf",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "otf" => "font/otf",
        "wasm" => "application/wasm",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "mp3" => "audio/mpeg",
        "gz" => "application/gzip",
        "br" => "application/x-brotli",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_are_refused() {
        for p in [
            "/../etc/passwd",
            "/a/../../b",
            "/%2e%2e/etc/passwd",
            "/%2E%2E%2Fetc%2Fpasswd",
            "/a/%2e%2e/%2e%2e/x",
            "//etc/passwd",
            "/%2Fetc/passwd",
            "/a//b",
            "/./x",
            "/a\\..\\b",
            "/a%5c..%5cb",
            "/C:/Windows",
            "/a%00b",
        ] {
            assert!(resolve(p).is_err(), "{p} should be refused");
        }
        assert_eq!(resolve("/%ff"), Err(Refused::NotUtf8));
    }

    #[test]
    fn ordinary_paths_resolve() {
        assert_eq!(resolve("/").unwrap(), "");
        assert_eq!(resolve("/venues/x/").unwrap(), "venues/x/");
        assert_eq!(resolve("/css/site.css").unwrap(), "css/site.css");
        assert_eq!(resolve("/tags/%E7%A7%91%E6%99%AE/").unwrap(), "tags/科普/");
        assert_eq!(resolve("/a..b/c").unwrap(), "a..b/c");
    }

    #[test]
    fn content_types_say_utf8_for_text() {
        assert_eq!(content_type("a/index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("campaigns.ics"), "text/calendar; charset=utf-8");
        assert_eq!(content_type("sitemap.xml"), "application/xml; charset=utf-8");
        assert_eq!(content_type("atom.xml"), "application/atom+xml; charset=utf-8");
        assert_eq!(content_type("search/index.json"), "application/json; charset=utf-8");
        assert_eq!(content_type("css/site.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("js/site.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("x.bin"), "application/octet-stream");
    }
}
