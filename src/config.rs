//! `config.toml`: the site-wide settings, checked strictly so a typo is an error, not a
//! silently ignored key.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::diagnostics::{Diagnostic, Diagnostics};

pub mod zola;

/// The whole `config.toml`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// Absolute URL the site is published at; permalinks, sitemap and feeds use it.
    pub base_url: String,
    #[serde(default = "default_language")]
    pub default_language: String,
    /// Theme folder under `themes/`.
    #[serde(default = "default_theme")]
    pub theme: String,
    #[serde(default)]
    pub taxonomies: Vec<TaxonomyConfig>,
    #[serde(default)]
    pub markdown: MarkdownConfig,
    #[serde(default)]
    pub search: SearchConfig,
    /// How `kepu build` writes the output (minify, precompress).
    #[serde(default)]
    pub output: OutputConfig,
    /// The image pipeline's settings.
    #[serde(default)]
    pub images: ImagesConfig,
    /// Generate Atom feeds for the site and each section.
    #[serde(default = "yes")]
    pub generate_feeds: bool,
    /// Most entries in a feed (newest first); 30 when not set.
    #[serde(default)]
    pub feed_limit: Option<usize>,
    /// The site's author, named in its Atom feeds (as in Zola).
    #[serde(default)]
    pub author: Option<String>,
    /// Write `sitemap.xml` (as in Zola).
    #[serde(default = "yes")]
    pub generate_sitemap: bool,
    /// Write `robots.txt` (as in Zola).
    #[serde(default = "yes")]
    pub generate_robots_txt: bool,
    /// Per-section options keyed by section folder (`venues`), overriding `_index.md` values.
    #[serde(default)]
    pub sections: BTreeMap<String, SectionOptions>,
    /// Free-form values for templates.
    #[serde(default)]
    pub extra: toml::Table,
    /// What Zola's keys of this config left for later stages (see [`zola`]).
    #[serde(skip)]
    pub zola: zola::ZolaSettings,

    // ---- [deploy] (kepu deploy) -----------------------------------------------------------
    /// Where `kepu deploy` publishes (`[[deploy.targets]]`); never credentials.
    #[serde(default)]
    pub deploy: crate::deploy::DeployConfig,
}

/// A taxonomy declared for the site (`[[taxonomies]] name = "tags"`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TaxonomyConfig {
    pub name: String,
    /// Human title of the taxonomy in listings; defaults to `name`.
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub paginate_by: Option<usize>,
    #[serde(default = "yes")]
    pub feed: bool,
}

/// Markdown rendering switches.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MarkdownConfig {
    /// Highlight fenced code with syntect (CSS classes, stylesheet generated).
    #[serde(default = "yes")]
    pub highlight_code: bool,
    /// Pass raw HTML in Markdown bodies through. Off by default: raw HTML is escaped, so an
    /// editor cannot inject script into the public portal by accident.
    #[serde(default)]
    pub unsafe_html: bool,
    /// Turn straight quotes and `--` into typographic ones.
    #[serde(default)]
    pub smart_punctuation: bool,
    /// Anchor links on headings, site-wide; a section's or page's front matter may override
    /// it (as in Zola).
    #[serde(default)]
    pub insert_anchor_links: InsertAnchor,
}

impl Default for MarkdownConfig {
    fn default() -> Self {
        MarkdownConfig {
            highlight_code: true,
            unsafe_html: false,
            smart_punctuation: false,
            insert_anchor_links: InsertAnchor::None,
        }
    }
}

/// Where a heading gets a link to itself (Zola's `insert_anchor_links`), so readers can copy
/// a link to a part of a long page.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InsertAnchor {
    /// A `#` link before the heading's text.
    Left,
    /// A `#` link after the heading's text.
    Right,
    /// The heading's text itself is the link.
    Heading,
    #[default]
    None,
}

/// Search index settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SearchConfig {
    #[serde(default = "yes")]
    pub enabled: bool,
}

impl Default for SearchConfig {
    fn default() -> Self {
        SearchConfig { enabled: true }
    }
}

/// `[output]`: deploy-oriented transformations of the written files. `kepu build --minify`
/// and `--precompress` switch them on for one build whatever these say.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OutputConfig {
    /// Minify HTML, CSS and JavaScript.
    #[serde(default)]
    pub minify: bool,
    /// Write `.gz` and `.br` siblings of text files for servers that send them as they are.
    #[serde(default)]
    pub precompress: bool,
}

/// `[images]`: how photos are processed (see src/images/).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ImagesConfig {
    /// Widths (px) of the responsive set, smallest first; an image is never enlarged, so a
    /// smaller original gets only the widths below its own, and its own.
    #[serde(default = "default_widths")]
    pub widths: Vec<u32>,
    /// WebP quality (1–100).
    #[serde(default = "default_webp_quality")]
    pub webp_quality: u8,
    /// JPEG quality (1–100) of the fallbacks and the full-size copies.
    #[serde(default = "default_jpeg_quality")]
    pub jpeg_quality: u8,
    /// Largest width × height decoded. A bigger image is an error, found from its header
    /// before any memory is spent on it (a "decompression bomb" declares billions).
    #[serde(default = "default_max_pixels")]
    pub max_pixels: u64,
    /// A processed image (the largest WebP of its set) above this many KB is a warning.
    #[serde(default = "default_budget_kb")]
    pub budget_kb: u64,
    /// The width of the full-size copy that the picture links to (and that
    /// replaces the original at its own address, without its metadata).
    #[serde(default = "default_full_width")]
    pub full_width: u32,
    /// The `sizes` attribute of images in a page's text: how wide the theme shows them.
    #[serde(default = "default_sizes")]
    pub sizes: String,
}

impl Default for ImagesConfig {
    fn default() -> Self {
        ImagesConfig {
            widths: default_widths(),
            webp_quality: default_webp_quality(),
            jpeg_quality: default_jpeg_quality(),
            max_pixels: default_max_pixels(),
            budget_kb: default_budget_kb(),
            full_width: default_full_width(),
            sizes: default_sizes(),
        }
    }
}

fn default_widths() -> Vec<u32> {
    vec![400, 800, 1200, 1600]
}
fn default_webp_quality() -> u8 {
    75
}
fn default_jpeg_quality() -> u8 {
    80
}
fn default_max_pixels() -> u64 {
    // 50 megapixels: above any phone's default photo, with room for a panorama; decoded as
    // RGBA it is 200 MB, held by one thread at a time.
    50_000_000
}
fn default_budget_kb() -> u64 {
    400
}
fn default_full_width() -> u32 {
    2400
}
fn default_sizes() -> String {
    // The theme's `.prose` column: 44em at most, the viewport less 1rem padding each side.
    "(min-width: 46em) 44em, calc(100vw - 2rem)".into()
}

/// Options a section can also set in its `_index.md`; values here win.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SectionOptions {
    pub page_type: Option<String>,
    pub paginate_by: Option<usize>,
    pub sort_by: Option<String>,
}

fn default_language() -> String {
    "zh".into()
}
fn default_theme() -> String {
    "default".into()
}
fn yes() -> bool {
    true
}

/// The names a site's config file may have: kepu's, then Zola's (Zola 0.22 and later create
/// `zola.toml`).
pub const FILE_NAMES: [&str; 2] = ["config.toml", "zola.toml"];

/// The config file of the site at `root`: `config.toml`, else `zola.toml` when only that
/// exists (a Zola site), else `config.toml` (for the error that it is missing).
pub fn file_name(root: &Path) -> &'static str {
    FILE_NAMES.into_iter().find(|n| root.join(n).is_file()).unwrap_or(FILE_NAMES[0])
}

/// A `base_url` must be an absolute http(s) URL with nothing a URL cannot contain: it is
/// copied into pages, feeds, `robots.txt` and the calendar, where a line break would start a
/// new line or property.
pub fn check_base_url(url: &str) -> Result<(), String> {
    let shown = url.escape_debug();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(format!("base_url `{shown}` is not an absolute URL"));
    }
    if let Some(c) = url.chars().find(|c| c.is_whitespace() || c.is_control() || "\"<>\\^`{|}".contains(*c)) {
        return Err(format!("base_url `{shown}` contains {c:?}, which a URL cannot contain"));
    }
    Ok(())
}

/// Why the config could not be read; turned into a [`Diagnostic`] at the boundary.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

impl Config {
    /// Read and check `root/config.toml` (or, without one, Zola's `root/zola.toml`).
    pub fn load(root: &Path) -> Result<Config, Diagnostics> {
        let name = file_name(root);
        let text = std::fs::read_to_string(root.join(name)).map_err(|e| {
            Diagnostic::error(format!("cannot read {name}: {e}"))
                .file(name)
                .hint("run `kepu init DIR` to create a new site, or pass --root to point at one")
        })?;
        Config::parse_named(&text, name)
    }

    /// Parse config text; every error names the key and line. Zola's keys are mapped onto
    /// kepu's or collected into one warning ([`zola`]); other unknown keys are errors with
    /// the nearest known key suggested.
    pub fn parse(text: &str) -> Result<Config, Diagnostics> {
        Config::parse_named(text, "config.toml")
    }

    /// [`Config::parse`] for a config file of another name (`zola.toml`), which diagnostics
    /// then name.
    pub fn parse_named(text: &str, name: &str) -> Result<Config, Diagnostics> {
        // Excerpts quote nearby lines: never a credential someone put in by mistake.
        let shown = crate::deploy::config::mask_secrets(text);
        let error = |e: toml::de::Error| {
            let message = e.message().trim().to_string();
            let (message, hint) = match unknown_key_suggestion(&message) {
                Some((key, Some(near))) => {
                    (format!("{name}: unknown key `{key}`"), format!("did you mean `{near}`?"))
                }
                Some((key, None)) => (
                    format!("{name}: unknown key `{key}`"),
                    "neither kepu nor Zola has this key; see docs/zola-compatibility.md and the README's configuration section".into(),
                ),
                None => (format!("{name}: {message}"), "see the README's configuration section for the keys kepu knows".into()),
            };
            let mut d = Diagnostic::error(message).file(name).hint(hint);
            if let Some(span) = e.span() {
                d = d.at_offset(&shown, span.start);
            }
            Diagnostics::from(d)
        };
        let mut table = toml::de::DeTable::parse(text).map_err(error)?;
        let (zola_keys, explicit) = zola::take(table.get_mut());
        let mut config: Config = Config::deserialize(toml::de::Deserializer::from(table)).map_err(error)?;
        config.zola = zola::apply(&mut config, &zola_keys, explicit, text, name)?;
        let mut diags = Diagnostics::new();
        if let Err(message) = check_base_url(&config.base_url) {
            diags.push(
                Diagnostic::error(message)
                    .file(name)
                    .field("base_url")
                    .hint("write it as https://example.org/ (or pass --base-url)")
                    .at_offset(&shown, text.find("base_url").unwrap_or(0)),
            );
        }
        // ---- [deploy] ----
        for p in config.deploy.problems() {
            let mut d = Diagnostic::error(p.message).file(name).field(format!("deploy.{}", p.key)).hint(p.hint);
            let offset = text.find("[deploy").and_then(|s| text[s..].find(p.key.as_str()).map(|k| s + k));
            if let Some(offset) = offset {
                d = if p.secret {
                    let (line, column) = crate::diagnostics::line_col(text, offset);
                    d.at(line, column)
                } else {
                    d.at_offset(&shown, offset)
                };
            }
            diags.push(d);
        }
        let mut seen = std::collections::BTreeSet::new();
        for t in &config.taxonomies {
            if !seen.insert(&t.name) {
                diags.push(
                    Diagnostic::error(format!("taxonomy `{}` is declared twice", t.name))
                        .file(name)
                        .field("taxonomies"),
                );
            }
        }
        if diags.has_errors() { Err(diags) } else { Ok(config) }
    }

    /// The base URL without a trailing slash, e.g. `https://kepu.example.org` or
    /// `https://example.org/portal`.
    pub fn base_url_trimmed(&self) -> &str {
        self.base_url.trim_end_matches('/')
    }

    /// The path part of `base_url` (`/portal` or empty), prefixed to every site-relative link
    /// so the site works under a sub-path.
    pub fn path_prefix(&self) -> String {
        let rest = self.base_url_trimmed().splitn(4, '/').nth(3).unwrap_or("");
        if rest.is_empty() { String::new() } else { format!("/{rest}") }
    }
}

/// For serde's "unknown field `x`, expected one of `a`, `b`": the key, and the known key
/// (kepu's of that table, or Zola's) nearest to it, if one is near enough to be the intended
/// one.
fn unknown_key_suggestion(message: &str) -> Option<(String, Option<String>)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (key, expected) = rest.split_once('`')?;
    let kepu: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    let near = kepu
        .iter()
        .copied()
        .chain(zola::all_names().map(|k| -> &str { k }))
        .map(|k| (strsim::damerau_levenshtein(key, k), k))
        .filter(|(d, k)| *d <= (k.len() / 3).max(1))
        .min()
        .map(|(_, k)| k.to_string());
    Some((key.to_string(), near))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "title = \"x\"\nbase_url = \"https://a.org/\"\n";

    #[test]
    fn unknown_key_is_an_error_naming_it() {
        let err = Config::parse("title = \"x\"\nbase_url = \"https://a.org\"\ntittle = 1\n").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("unknown key `tittle`"), "{text}");
        assert!(text.contains("did you mean `title`?"), "{text}");
        assert_eq!(err.0[0].line, Some(3));
    }

    #[test]
    fn a_misspelt_zola_key_is_an_error_suggesting_it() {
        let err = Config::parse(&format!("{BASE}build_serch_index = true\n")).unwrap_err();
        assert!(err.to_string().contains("did you mean `build_search_index`?"), "{err}");
        let err = Config::parse(&format!("{BASE}[markdown]\nhighlight_cod = true\n")).unwrap_err();
        assert!(err.to_string().contains("did you mean `highlight_code`?"), "{err}");
        assert_eq!(err.0[0].line, Some(4));
        let err = Config::parse(&format!("{BASE}frobnicate = 1\n")).unwrap_err();
        assert!(err.to_string().contains("neither kepu nor Zola"), "{err}");
    }

    #[test]
    fn zola_keys_with_a_kepu_meaning_are_mapped_silently() {
        let c = Config::parse(&format!(
            "{BASE}build_search_index = false\nminify_html = true\ncompile_sass = false\nfeed_filenames = [\"atom.xml\"]\n[markdown]\nhighlight_code = false\n[markdown.highlighting]\n"
        ))
        .unwrap();
        assert!(!c.search.enabled);
        assert!(c.output.minify);
        assert!(!c.markdown.highlight_code, "kepu's own key wins");
        assert!(c.zola.warning.is_none(), "{:?}", c.zola.warning);
        // kepu's own key wins over Zola's.
        let c = Config::parse(&format!("{BASE}build_search_index = false\n[search]\nenabled = true\n")).unwrap();
        assert!(c.search.enabled);
    }

    #[test]
    fn ignored_zola_keys_make_one_warning_listing_each() {
        let c = Config::parse(&format!(
            "{BASE}compile_sass = true\n[markdown.highlighting]\ntheme = \"x\"\n[link_checker]\ninternal_level = \"warn\"\n[[taxonomies]]\nname = \"tags\"\nlang = \"fr\"\n"
        ))
        .unwrap();
        let w = c.zola.warning.expect("a warning");
        assert_eq!(w.severity, crate::diagnostics::Severity::Warning);
        assert!(w.message.contains("4 Zola settings"), "{}", w.message);
        let hint = w.hint.unwrap();
        for key in ["`compile_sass` (line 3)", "`[markdown.highlighting]` (line 4)", "`[link_checker]` (line 6)", "`taxonomies.tags.lang` (line 10)"] {
            assert!(hint.contains(key), "{key} in {hint}");
        }
        assert!(c.markdown.highlight_code);
    }

    #[test]
    fn ignored_zola_keys_of_any_shape_are_listed_not_trusted() {
        let c = Config::parse(&format!(
            "{BASE}languages = 5\nfeed_filenames = 3\noutput_dir = [1]\n[markdown]\nhighlighting = \"x\"\n[search]\nindex_format = {{ a = 1 }}\n"
        ))
        .unwrap();
        assert!(c.zola.languages.is_empty());
        let hint = c.zola.warning.expect("a warning").hint.unwrap();
        for key in ["`languages` (line 3)", "`feed_filenames` (line 4)", "`output_dir` (line 5)", "`[search.index_format]` (line 9)"] {
            assert!(hint.contains(key), "{key} in {hint}");
        }
        assert!(c.markdown.highlight_code);
    }

    #[test]
    fn a_mapped_zola_key_of_the_wrong_type_is_an_error() {
        let err = Config::parse(&format!("{BASE}build_search_index = \"yes\"\n")).unwrap_err();
        assert!(err.to_string().contains("must be true or false"), "{err}");
        assert_eq!(err.0[0].line, Some(3));
    }

    #[test]
    fn base_url_must_be_a_plain_absolute_url() {
        assert!(check_base_url("https://kepu.example.org/portal/").is_ok());
        for bad in ["ftp://x.org/", "//x.org/", "https://x.org/\nX-EVIL:1", "https://x.org/ a", "https://x.org/\"><script>"] {
            assert!(check_base_url(bad).is_err(), "{bad:?}");
        }
        let err = Config::parse("title = \"x\"\nbase_url = \"https://a.org/\\r\\nSitemap: x\"\n").unwrap_err();
        assert!(err.to_string().contains("cannot contain"), "{err}");
    }

    #[test]
    fn path_prefix_from_base_url() {
        let mut c = Config::parse("title = \"x\"\nbase_url = \"https://a.org/\"\n").unwrap();
        assert_eq!(c.path_prefix(), "");
        c.base_url = "https://a.org/portal/".into();
        assert_eq!(c.path_prefix(), "/portal");
    }

    // ---- [deploy] ----
    #[test]
    fn deploy_secrets_are_refused_and_never_shown() {
        let text = "title = \"x\"\nbase_url = \"https://a.org/\"\n[[deploy.targets]]\nname = \"g\"\nendpoint = \"http://127.0.0.1:3900\"\nbucket = \"kepu\"\nsecret_access_key = \"HUNTER2SECRET\"\n";
        let err = Config::parse(text).unwrap_err();
        assert_eq!(err.0.len(), 1);
        assert_eq!((err.0[0].line, err.0[0].field.as_deref()), (Some(7), Some("deploy.secret_access_key")));
        for styled in [false, true] {
            let shown = err.0[0].render(styled);
            assert!(shown.contains("never read from config.toml") && !shown.contains("HUNTER2"), "{shown}");
        }
        assert!(!serde_json::to_string(&err).unwrap().contains("HUNTER2"));
        // A syntax error next to a secret: the excerpt masks it.
        let err = Config::parse(&text.replace("bucket = \"kepu\"", "bucket = = 1")).unwrap_err();
        let shown = err.0[0].render(false);
        assert!(!shown.contains("HUNTER2"), "{shown}");
        // A valid target parses.
        let ok = Config::parse(&text.replace("secret_access_key = \"HUNTER2SECRET\"\n", "")).unwrap();
        assert_eq!(ok.deploy.targets[0].bucket, "kepu");
    }
}
