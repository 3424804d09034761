//! Zola's `config.toml` keys that kepu's own config does not have. A Zola site's config
//! should build, not stop at the first key kepu does not name: each key Zola knows is either
//! **mapped** onto kepu's setting of the same meaning (`build_search_index` →
//! `[search] enabled`, `minify_html` → `[output] minify`, `[markdown.highlighting]` →
//! `highlight_code`) or **ignored**, and all ignored keys of a build are explained together in
//! one warning. Keys that are neither kepu's nor Zola's stay errors (see `Config::parse`).

use serde::Deserialize;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::diagnostics::Diagnostic;

use super::Config;

/// Zola's top-level keys kepu has no field of its own for.
pub const TOP_LEVEL: &[&str] = &[
    "build_search_index",
    "compile_sass",
    "minify_html",
    "feed_filenames",
    "hard_link_static",
    "taxonomy_root",
    "ignored_content",
    "ignored_static",
    "output_dir",
    "preserve_dotfiles_in_output",
    "exclude_paginated_pages_in_sitemap",
    "link_checker",
    "slugify",
    "languages",
    "translations",
];

/// Zola's `[markdown]` keys kepu has no field of its own for.
pub const MARKDOWN: &[&str] = &[
    "highlighting",
    "highlight_theme",
    "highlight_themes_css",
    "extra_syntaxes_and_themes",
    "render_emoji",
    "external_links_class",
    "external_links_target_blank",
    "external_links_no_follow",
    "external_links_no_referrer",
    "external_links_external",
    "definition_list",
    "bottom_footnotes",
    "lazy_async_image",
    "github_alerts",
];

/// Zola's `[search]` keys: they shape Zola's elasticlunr/fuse index, which kepu does not make.
pub const SEARCH: &[&str] = &[
    "include_title",
    "include_content",
    "include_description",
    "include_date",
    "include_path",
    "truncate_content_length",
    "index_format",
];

/// Zola's `[[taxonomies]]` keys kepu has no field of its own for.
pub const TAXONOMY: &[&str] = &["paginate_path", "render", "slug", "lang"];

/// One Zola key taken out of the config before kepu's own keys are read.
#[derive(Debug, Clone)]
pub struct ZolaKey {
    /// Dotted path as a Zola user writes it: `compile_sass`, `markdown.highlighting`,
    /// `taxonomies.tags.lang`.
    pub path: String,
    pub value: toml::Value,
    /// Byte offset of the key in config.toml.
    pub offset: usize,
}

/// What the Zola keys left for later stages.
#[derive(Debug, Clone, Default)]
pub struct ZolaSettings {
    /// The one warning that lists every ignored key and why, if any key was ignored.
    pub warning: Option<Diagnostic>,
    /// `[languages.xx]` codes: content files `name.xx.md` are translations, which kepu (one
    /// language) does not build.
    pub languages: Vec<String>,
    /// `[link_checker] skip_prefixes`: external URLs `kepu check --external` does not fetch.
    pub link_skip_prefixes: Vec<String>,
}

/// Whether kepu's own config has set a key the Zola key maps onto (then kepu's wins).
#[derive(Debug, Clone, Copy, Default)]
pub struct Explicit {
    pub search_enabled: bool,
    pub output_minify: bool,
    pub highlight_code: bool,
}

/// Remove Zola's keys from the parsed config `root`, so that kepu's strict reading sees only
/// keys it knows or keys nobody knows (typos).
pub fn take(root: &mut DeTable<'_>) -> (Vec<ZolaKey>, Explicit) {
    let mut taken = Vec::new();
    take_from(root, TOP_LEVEL, "", &mut taken);
    let has = |root: &DeTable, table: &str, key: &str| {
        root.get(table).and_then(|t| t.get_ref().as_table()).is_some_and(|t| t.contains_key(key))
    };
    let explicit = Explicit {
        search_enabled: has(root, "search", "enabled"),
        output_minify: has(root, "output", "minify"),
        highlight_code: has(root, "markdown", "highlight_code"),
    };
    for (table, keys) in [("markdown", MARKDOWN), ("search", SEARCH)] {
        if let Some(DeValue::Table(t)) = root.get_mut(table).map(Spanned::get_mut) {
            take_from(t, keys, &format!("{table}."), &mut taken);
        }
    }
    if let Some(DeValue::Array(list)) = root.get_mut("taxonomies").map(Spanned::get_mut) {
        for item in list.iter_mut() {
            if let DeValue::Table(t) = item.get_mut() {
                let name = t.get("name").and_then(|n| n.get_ref().as_str()).unwrap_or("?").to_string();
                take_from(t, TAXONOMY, &format!("taxonomies.{name}."), &mut taken);
            }
        }
    }
    taken.sort_by_key(|k| k.offset);
    (taken, explicit)
}

fn take_from(table: &mut DeTable<'_>, keys: &[&str], prefix: &str, out: &mut Vec<ZolaKey>) {
    for key in keys {
        if let Some((k, v)) = table.remove_entry(*key) {
            let offset = k.span().start;
            // Every parsed TOML value is a `toml::Value`; the fallback is never taken.
            let value = toml::Value::deserialize(toml::de::ValueDeserializer::from(v)).unwrap_or(toml::Value::Boolean(false));
            out.push(ZolaKey { path: format!("{prefix}{key}"), value, offset });
        }
    }
}

/// Apply the Zola keys to `config`: mapped ones change kepu's settings, the others make the
/// one warning. A mapped key of the wrong type is an error, as kepu's own keys are.
pub fn apply(config: &mut Config, keys: &[ZolaKey], explicit: Explicit, text: &str, file: &str) -> Result<ZolaSettings, Diagnostic> {
    let mut ignored: Vec<(&ZolaKey, String)> = Vec::new();
    let mut settings = ZolaSettings::default();
    let boolean = |k: &ZolaKey| match k.value {
        toml::Value::Boolean(b) => Ok(b),
        _ => Err(Diagnostic::error(format!("{file}: `{}` must be true or false", k.path))
            .file(file)
            .field(k.path.clone())
            .hint(format!("write `{} = true` or `{} = false`", leaf(&k.path), leaf(&k.path)))
            .at_offset(text, k.offset)),
    };
    for k in keys {
        let why: Option<String> = match k.path.as_str() {
            "build_search_index" => {
                let on = boolean(k)?;
                if !explicit.search_enabled {
                    config.search.enabled = on;
                }
                None
            }
            "minify_html" => {
                let on = boolean(k)?;
                if !explicit.output_minify {
                    config.output.minify = on;
                }
                None
            }
            "markdown.highlighting" => {
                if !explicit.highlight_code {
                    config.markdown.highlight_code = true;
                }
                let settings: Vec<String> = match &k.value {
                    toml::Value::Table(t) => t.keys().map(|s| format!("`{s}`")).collect(),
                    _ => Vec::new(),
                };
                (!settings.is_empty()).then(|| {
                    format!(
                        "code is highlighted (mapped to `highlight_code`), with CSS classes into css/syntax.css, so {} {} not used; style the classes in the theme's CSS",
                        settings.join(", "),
                        if settings.len() == 1 { "is" } else { "are" }
                    )
                })
            }
            "compile_sass" => boolean(k)?.then(|| "kepu has no Sass compiler: compile to CSS yourself and put the .css files in static/".into()),
            "hard_link_static" => boolean(k)?.then(|| "static files are copied".into()),
            "preserve_dotfiles_in_output" => boolean(k)?.then(|| {
                "a build replaces the output folder whole (so a failed build leaves it untouched); put dotfiles you need in static/".into()
            }),
            "feed_filenames" => {
                let names: Vec<&str> = k.value.as_array().map(|a| a.iter().filter_map(|v| v.as_str()).collect()).unwrap_or_default();
                (names != ["atom.xml"]).then(|| "kepu writes Atom feeds, always named atom.xml (no RSS)".into())
            }
            "exclude_paginated_pages_in_sitemap" => {
                (k.value.as_str() != Some("all")).then(|| "the sitemap never lists the second and later pagers of a list".into())
            }
            "output_dir" => (k.value.as_str() != Some("public")).then(|| "pass `kepu build --output DIR` instead".into()),
            "taxonomy_root" => Some("taxonomy pages are always at /<taxonomy>/".into()),
            "ignored_content" | "ignored_static" => {
                let empty = k.value.as_array().is_some_and(|a| a.is_empty());
                (!empty).then(|| "kepu skips only hidden files and editors' temporary files; move the others out of the site".into())
            }
            "link_checker" => {
                let table = k.value.as_table();
                settings.link_skip_prefixes = table
                    .and_then(|t| t.get("skip_prefixes"))
                    .and_then(|v| v.as_array())
                    .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
                    .unwrap_or_default();
                // skip_prefixes is honoured; kepu never fetches other sites' anchors, so
                // skip_anchor_prefixes asks for what kepu does anyway.
                let unused: Vec<String> = match table {
                    Some(t) => t.keys().filter(|key| !matches!(key.as_str(), "skip_prefixes" | "skip_anchor_prefixes")).map(|key| format!("`{key}`")).collect(),
                    None => vec!["its value".to_string()],
                };
                (!unused.is_empty()).then(|| {
                    format!(
                        "{} not used: `kepu check` reports every broken internal link, asset and #anchor as an error, and fetches external links only with `--external` (skipping `skip_prefixes`)",
                        unused.join(", ") + if unused.len() == 1 { " is" } else { " are" }
                    )
                })
            }
            "slugify" => Some(
                "URLs are pinyin slugs of the file names (郑州科技馆 → zheng-zhou-ke-ji-guan) and heading ids keep their letters (#开放时间)".into(),
            ),
            "languages" => {
                settings.languages = k.value.as_table().map(|t| t.keys().cloned().collect()).unwrap_or_default();
                Some(format!(
                    "kepu builds one language (default_language); the translated files ({}) are not built",
                    settings.languages.iter().map(|l| format!("*.{l}.md")).collect::<Vec<_>>().join(", ")
                ))
            }
            "translations" => Some("the theme's own words are Chinese; translations are not read".into()),
            "markdown.highlight_theme" | "markdown.highlight_themes_css" | "markdown.extra_syntaxes_and_themes" => {
                Some("code is highlighted with CSS classes into css/syntax.css; style the classes in the theme's CSS".into())
            }
            "markdown.external_links_class"
            | "markdown.external_links_target_blank"
            | "markdown.external_links_no_follow"
            | "markdown.external_links_no_referrer"
            | "markdown.external_links_external" => {
                let default = matches!(k.value, toml::Value::Boolean(false)) || (k.path.ends_with("external") && k.value.as_bool() == Some(true));
                (!default).then(|| "external links are written as they are, without added classes or rel/target attributes".into())
            }
            "markdown.render_emoji" | "markdown.definition_list" | "markdown.lazy_async_image" | "markdown.github_alerts" => {
                boolean(k)?.then(|| "not supported by kepu's Markdown (pulldown-cmark with tables, footnotes, strikethrough and task lists)".into())
            }
            "markdown.bottom_footnotes" => boolean(k)?.then(|| "footnotes are rendered where they are defined".into()),
            p if p.starts_with("search.") => Some(
                "kepu's search index is its own format (Chinese words, pinyin and traditional characters), read by its search page; it always holds titles, descriptions and text".into(),
            ),
            p if p.ends_with(".paginate_path") => {
                (k.value.as_str() != Some("page")).then(|| "term pagers are always at /<taxonomy>/<term>/page/N/".into())
            }
            p if p.ends_with(".lang") => Some("kepu builds one language".into()),
            p if p.ends_with(".slug") => Some("a taxonomy's URL folder is made from its `name`, as Zola does".into()),
            p if p.ends_with(".render") => (!boolean(k)?).then(|| "taxonomy pages are always written: every page links its terms".into()),
            _ => Some("not used by kepu".into()),
        };
        if let Some(why) = why {
            ignored.push((k, why));
        }
    }
    if let Some((first, _)) = ignored.first() {
        // Keys ignored for the same reason share a line (`search.include_title`, `…_path`).
        let mut groups: Vec<(&str, Vec<String>)> = Vec::new();
        for (k, why) in &ignored {
            let line = crate::diagnostics::line_col(text, k.offset).0;
            let key = format!("`{}` (line {line})", shown(&k.path, &k.value));
            match groups.iter_mut().find(|(w, _)| w == why) {
                Some((_, keys)) => keys.push(key),
                None => groups.push((why, vec![key])),
            }
        }
        let lines: Vec<String> = groups.iter().map(|(why, keys)| format!("{}: {why}", keys.join(", "))).collect();
        let count = ignored.len();
        settings.warning = Some(
            Diagnostic::warning(format!(
                "{file}: {count} Zola setting{} not used by kepu; the site is built without {}",
                if count == 1 { " is" } else { "s are" },
                if count == 1 { "it" } else { "them" }
            ))
            .file(file)
            .hint(format!("{}\n(remove them to silence this warning; docs/zola-compatibility.md has the whole list)", lines.join("\n")))
            .at_offset(text, first.offset),
        );
    }
    Ok(settings)
}

/// `[link_checker]` for a table, the key itself otherwise.
fn shown(path: &str, value: &toml::Value) -> String {
    if value.is_table() { format!("[{path}]") } else { path.to_string() }
}

fn leaf(path: &str) -> &str {
    path.rsplit('.').next().unwrap_or(path)
}

/// Every key name Zola's config has that kepu's does not, for "did you mean" suggestions.
pub fn all_names() -> impl Iterator<Item = &'static str> {
    TOP_LEVEL.iter().chain(MARKDOWN).chain(SEARCH).chain(TAXONOMY).copied()
}

/// Whether a content file is a translation (`about.fr.md`, `_index.fr.md`, a bundle's
/// `index.fr.md`) in one of `languages`.
pub fn is_translation(rel_path: &str, languages: &[String]) -> bool {
    let Some(stem) = rel_path.strip_suffix(".md") else { return false };
    let name = stem.rsplit('/').next().unwrap_or(stem);
    match name.rsplit_once('.') {
        Some((_, lang)) => languages.iter().any(|l| l == lang),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translations_are_recognised_by_declared_language_only() {
        let langs = vec!["es".to_string(), "zh-Hant".to_string()];
        assert!(is_translation("blog/_index.es.md", &langs));
        assert!(is_translation("blog/post/index.zh-Hant.md", &langs));
        assert!(!is_translation("blog/v1.2.md", &langs));
        assert!(!is_translation("blog/post.fr.md", &langs));
        assert!(!is_translation("blog/post.md", &langs));
    }
}
