//! The one table of HTTP metadata for the files of a build: `Content-Type` and
//! `Cache-Control` per path, exactly as `deploy/nginx.conf` serves them. `kepu deploy` stores
//! these on every object, because object storage serves what was stored and nothing else.
//!
//! The two cannot drift apart silently: the tests below read `deploy/nginx.conf` and check
//! that its `types`, `charset_types` and `location` rules say what this table says, and
//! `scripts/deploy-e2e` fetches every file of the portal from a real nginx running that file
//! and from Garage and compares the headers.

/// Extensions and their media type, as nginx knows them: Debian's `/etc/nginx/mime.types`
/// for the extensions a portal contains, plus the `types {}` block of `deploy/nginx.conf`
/// (marked `conf`). Lower-case extension without the dot.
pub const TYPES: &[(&str, &str)] = &[
    ("html", "text/html"),
    ("htm", "text/html"),
    ("css", "text/css"),
    ("xml", "text/xml"),
    ("gif", "image/gif"),
    ("jpeg", "image/jpeg"),
    ("jpg", "image/jpeg"),
    ("js", "application/javascript"),
    ("atom", "application/atom+xml"),
    ("rss", "application/rss+xml"),
    ("txt", "text/plain"),
    ("avif", "image/avif"),
    ("png", "image/png"),
    ("svg", "image/svg+xml"),
    ("webp", "image/webp"),
    ("ico", "image/x-icon"),
    ("woff", "font/woff"),
    ("woff2", "font/woff2"),
    ("json", "application/json"),
    ("pdf", "application/pdf"),
    ("wasm", "application/wasm"),
    ("zip", "application/zip"),
    ("mp3", "audio/mpeg"),
    ("mp4", "video/mp4"),
    ("webm", "video/webm"),
    // deploy/nginx.conf `types {}`
    ("mjs", "text/javascript"),
    ("ics", "text/calendar"),
    ("webmanifest", "application/manifest+json"),
    ("gz", "application/gzip"),
];

/// What nginx answers for an extension it does not know (`default_type`).
pub const DEFAULT_TYPE: &str = "application/octet-stream";

/// Media types that get `; charset=utf-8` (nginx `charset utf-8` + `charset_types`, which
/// always includes text/html). These are also the types worth compressing.
pub const CHARSET_TYPES: &[&str] = &[
    "text/html",
    "text/css",
    "text/plain",
    "text/xml",
    "text/javascript",
    "application/javascript",
    "text/calendar",
    "application/json",
    "application/xml",
    "application/atom+xml",
    "image/svg+xml",
    "application/manifest+json",
];

/// Extensions of the static-assets `location ~* \.(?:…)$` of nginx.conf.
pub const ASSET_EXTENSIONS: &[&str] =
    &["css", "js", "mjs", "png", "jpg", "jpeg", "gif", "webp", "avif", "svg", "ico", "woff", "woff2"];
/// Extensions of the feeds-and-calendar `location ~* \.(?:ics|xml)$`.
pub const FEED_EXTENSIONS: &[&str] = &["ics", "xml"];

/// Pages, the 404 page, and everything nginx sends from `location /`: revalidate every time.
pub const CACHE_PAGES: &str = "public, no-cache";
/// `location ^~ /search/`: the index manifest and its shards must come from one build.
pub const CACHE_SEARCH: &str = "public, no-cache";
/// Static assets requested without a `?h=` content hash. Object storage cannot vary by query
/// string, so this is what every asset object gets.
pub const CACHE_ASSETS: &str = "public, max-age=3600";
/// Feeds and the calendar: apps poll them.
pub const CACHE_FEEDS: &str = "public, max-age=3600";
/// `location = /.kepu-manifest.json`.
pub const CACHE_MANIFEST: &str = "no-store";

/// The site manifest's path in the output folder (and its key in the bucket).
pub const SITE_MANIFEST: &str = ".kepu-manifest.json";

/// The headers a file of the site is served with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    /// Full `Content-Type`, with `; charset=utf-8` for text.
    pub content_type: String,
    pub cache_control: &'static str,
}

/// The media type of a path, without parameters.
pub fn media_type(path: &str) -> &'static str {
    let ext = extension(path);
    TYPES.iter().find(|(e, _)| *e == ext).map(|(_, t)| *t).unwrap_or(DEFAULT_TYPE)
}

/// Whether the type is text (gets a charset, is worth compressing).
pub fn is_text(path: &str) -> bool {
    CHARSET_TYPES.contains(&media_type(path))
}

/// The metadata nginx.conf gives `path` (output-relative, `/`-separated), or `None` when
/// nginx does not serve it at all (dot files other than `.well-known/` and the manifest):
/// such files are not published.
pub fn for_path(path: &str) -> Option<Metadata> {
    let media = media_type(path);
    let content_type = if CHARSET_TYPES.contains(&media) { format!("{media}; charset=utf-8") } else { media.to_string() };
    let ext = extension(path);
    // nginx's order: exact match, then `^~` prefix, then regexes in file order, then `/`.
    let cache_control = if path == SITE_MANIFEST {
        CACHE_MANIFEST
    } else if path.starts_with("search/") {
        CACHE_SEARCH
    } else if is_hidden(path) {
        return None;
    } else if ASSET_EXTENSIONS.contains(&ext.as_str()) {
        CACHE_ASSETS
    } else if FEED_EXTENSIONS.contains(&ext.as_str()) {
        CACHE_FEEDS
    } else {
        CACHE_PAGES
    };
    Some(Metadata { content_type, cache_control })
}

/// nginx.conf's `location ~ /\.(?!well-known/)`: a path segment starting with a dot.
fn is_hidden(path: &str) -> bool {
    let with_slash = format!("/{path}");
    with_slash.match_indices("/.").any(|(i, _)| !with_slash[i + 2..].starts_with("well-known/"))
}

fn extension(path: &str) -> String {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NGINX_CONF: &str = include_str!("../../deploy/nginx.conf");

    /// The words of the first `{ … }` or `…;` block after `start` in nginx.conf.
    fn words_after(start: &str, end: char) -> Vec<String> {
        let at = NGINX_CONF.find(start).unwrap_or_else(|| panic!("nginx.conf has no `{start}`"));
        let rest = &NGINX_CONF[at + start.len()..];
        let block = &rest[..rest.find(end).unwrap()];
        block.split(|c: char| c.is_whitespace() || c == ';').filter(|w| !w.is_empty()).map(String::from).collect()
    }

    fn regex_extensions(location_prefix: &str) -> Vec<String> {
        let at = NGINX_CONF.find(location_prefix).unwrap_or_else(|| panic!("nginx.conf has no `{location_prefix}`"));
        let rest = &NGINX_CONF[at + location_prefix.find("(?:").unwrap() + 3..];
        let list = &rest[..rest.find(")$").unwrap()];
        let mut out = Vec::new();
        for alt in list.split('|') {
            // `jpe?g` and `woff2?` are the two optional-letter forms the file uses.
            if let Some((head, tail)) = alt.split_once("e?") {
                out.push(format!("{head}{tail}"));
                out.push(format!("{head}e{tail}"));
            } else if let Some(stem) = alt.strip_suffix("2?") {
                out.push(stem.to_string());
                out.push(format!("{stem}2"));
            } else {
                out.push(alt.to_string());
            }
        }
        out.sort();
        out
    }

    #[test]
    fn nginx_conf_types_block_is_in_the_table() {
        let words = words_after("types {", '}');
        for pair in words.chunks(2) {
            let (media, ext) = (&pair[0], &pair[1]);
            assert_eq!(media_type(&format!("x.{ext}")), media, "nginx.conf types: .{ext}");
        }
        assert!(NGINX_CONF.contains(&format!("default_type {DEFAULT_TYPE};")));
    }

    #[test]
    fn nginx_conf_charset_types_are_the_tables() {
        let mut conf = words_after("charset_types", ';');
        conf.push("text/html".into()); // always included by nginx
        conf.sort();
        let mut ours: Vec<String> = CHARSET_TYPES.iter().map(|s| s.to_string()).collect();
        ours.sort();
        assert_eq!(conf, ours);
        assert!(NGINX_CONF.contains("charset utf-8;"));
    }

    #[test]
    fn nginx_conf_locations_match_the_cache_rules() {
        let mut assets: Vec<String> = ASSET_EXTENSIONS.iter().map(|s| s.to_string()).collect();
        assets.sort();
        assert_eq!(regex_extensions("location ~* \\.(?:css|"), assets);
        let mut feeds: Vec<String> = FEED_EXTENSIONS.iter().map(|s| s.to_string()).collect();
        feeds.sort();
        assert_eq!(regex_extensions("location ~* \\.(?:ics|"), feeds);
        // Each Cache-Control value is the one written in its location block.
        for (location, value) in [
            ("location / {", CACHE_PAGES),
            ("location ^~ /search/ {", CACHE_SEARCH),
            ("location ~* \\.(?:ics|xml)$ {", CACHE_FEEDS),
            ("location = /.kepu-manifest.json {", CACHE_MANIFEST),
            ("location = /404.html {", CACHE_PAGES),
        ] {
            let at = NGINX_CONF.find(location).unwrap_or_else(|| panic!("nginx.conf has no `{location}`"));
            let block = &NGINX_CONF[at..at + NGINX_CONF[at..].find('}').unwrap()];
            assert!(block.contains(&format!("add_header Cache-Control \"{value}\"")), "{location} should say {value}:\n{block}");
        }
        // Assets without `?h=` get the map's empty-key value.
        assert!(NGINX_CONF.contains(&format!("\"\"      \"{CACHE_ASSETS}\";")));
    }

    #[test]
    fn sample_paths() {
        let m = |p: &str| for_path(p).map(|m| (m.content_type, m.cache_control));
        let s = |a: &str, b: &'static str| Some((a.to_string(), b));
        assert_eq!(m("index.html"), s("text/html; charset=utf-8", CACHE_PAGES));
        assert_eq!(m("venues/x/index.html"), s("text/html; charset=utf-8", CACHE_PAGES));
        assert_eq!(m("campaigns.ics"), s("text/calendar; charset=utf-8", CACHE_FEEDS));
        assert_eq!(m("atom.xml"), s("text/xml; charset=utf-8", CACHE_FEEDS));
        assert_eq!(m("css/site.css"), s("text/css; charset=utf-8", CACHE_ASSETS));
        assert_eq!(m("js/a.js"), s("application/javascript; charset=utf-8", CACHE_ASSETS));
        assert_eq!(m("img/a.PNG"), s("image/png", CACHE_ASSETS));
        assert_eq!(m("search/manifest.json"), s("application/json; charset=utf-8", CACHE_SEARCH));
        assert_eq!(m("search/search.mjs"), s("text/javascript; charset=utf-8", CACHE_SEARCH));
        assert_eq!(m("search/shards/1.bin.gz"), s("application/gzip", CACHE_SEARCH));
        assert_eq!(m("robots.txt"), s("text/plain; charset=utf-8", CACHE_PAGES));
        assert_eq!(m("site.webmanifest"), s("application/manifest+json; charset=utf-8", CACHE_PAGES));
        assert_eq!(m("blob"), s("application/octet-stream", CACHE_PAGES));
        assert_eq!(m(".kepu-manifest.json"), s("application/json; charset=utf-8", CACHE_MANIFEST));
        assert_eq!(m(".well-known/security.txt"), s("text/plain; charset=utf-8", CACHE_PAGES));
        assert_eq!(m(".git/config"), None);
        assert_eq!(m("a/.env"), None);
        assert!(is_text("a.svg") && !is_text("a.png") && !is_text("a.gz"));
    }
}
