//! Reading the theme and the site's own templates and static files. A site's `templates/`
//! overrides the theme's file by file; its `static/` wins over the theme's `static/`. The
//! default theme is also built into the binary, so a new site works without copying it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use include_dir::{include_dir, Dir};
use walkdir::WalkDir;

use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::output::OutputFile;

static DEFAULT_THEME: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/themes/default");

/// A template's source and where it came from (for error messages).
#[derive(Debug, Clone)]
pub struct TemplateSource {
    pub name: String,
    pub text: String,
    pub display_path: PathBuf,
    /// The theme's rather than the site's own: Tera tries the site's first, for templates
    /// and components alike (see `render::templates::THEME_PREFIX`).
    pub from_theme: bool,
}

/// Everything a build takes from themes and the site besides content.
#[derive(Debug, Clone, Default)]
pub struct Assets {
    /// Templates by name (`page.html`, `types/venue.html`).
    pub templates: BTreeMap<String, TemplateSource>,
    /// Static files by output path.
    pub static_files: BTreeMap<String, OutputFile>,
    /// The site's data files the templates read with `load_data`, parsed, by path
    /// ([`crate::load::data`]).
    pub data: BTreeMap<String, serde_json::Value>,
}

/// Load templates and static files for `theme` and the site at `root`.
pub fn load_assets(root: &Path, theme: &str) -> Result<Assets, Diagnostics> {
    load_assets_noting_data(root, theme, &mut None)
}

/// [`load_assets`], setting `data_paths` to the data files the templates name (as written)
/// once the templates are read, even when one of those files then fails to load: `kepu serve`
/// watches them, so that creating or fixing one is seen.
pub fn load_assets_noting_data(root: &Path, theme: &str, data_paths: &mut Option<Vec<String>>) -> Result<Assets, Diagnostics> {
    let mut assets = Assets::default();
    let mut diags = Diagnostics::new();
    if theme.is_empty() || theme.contains(['/', '\\', ':', '\0']) || theme.starts_with('.') {
        return Err(at_theme_key(
            root,
            Diagnostic::error(format!("theme `{theme}` is not a folder name"))
                .file(crate::config::file_name(root))
                .field("theme")
                .hint("name a folder directly inside themes/, e.g. theme = \"default\""),
        )
        .into());
    }
    let theme_dir = root.join("themes").join(theme);
    for dir in [theme_dir.clone(), root.join("templates"), root.join("static")] {
        if let Some(d) = crate::load::link_out_of_site(root, &dir) {
            diags.push(d);
        }
    }
    if diags.has_errors() {
        return Err(diags);
    }
    if theme_dir.is_dir() {
        read_dir(root, &theme_dir.join("templates"), &theme_dir.join("static"), true, &mut assets, &mut diags);
    } else if theme == "default" {
        for file in all_files(&DEFAULT_THEME) {
            let path = file.path().to_string_lossy().replace('\\', "/");
            if let Some(name) = path.strip_prefix("templates/") {
                assets.templates.insert(
                    name.to_string(),
                    TemplateSource {
                        name: name.to_string(),
                        text: String::from_utf8_lossy(file.contents()).into_owned(),
                        display_path: PathBuf::from("(built-in theme)/templates").join(name),
                        from_theme: true,
                    },
                );
            } else if let Some(out) = path.strip_prefix("static/") {
                assets.static_files.insert(out.to_string(), OutputFile::bytes(out, file.contents().to_vec()));
            }
        }
    } else {
        return Err(at_theme_key(
            root,
            Diagnostic::error(format!("theme `{theme}` not found (looked for themes/{theme}/)"))
                .file(crate::config::file_name(root))
                .field("theme")
                .hint("install the theme into themes/, or set theme = \"default\""),
        )
        .into());
    }
    read_dir(root, &root.join("templates"), &root.join("static"), false, &mut assets, &mut diags);
    if diags.has_errors() {
        return Err(diags);
    }
    *data_paths = Some(super::data::named(&assets.templates));
    assets.data = super::data::load(root, &assets.templates)?;
    Ok(assets)
}

/// Point a diagnostic about the theme at the `theme = …` line of config.toml.
fn at_theme_key(root: &Path, d: Diagnostic) -> Diagnostic {
    let Ok(text) = std::fs::read_to_string(root.join(crate::config::file_name(root))) else { return d };
    let line = text.lines().position(|l| l.trim_start().starts_with("theme") && l.contains('='));
    match line {
        Some(i) => d.at_line(&text, i + 1),
        None => d,
    }
}

fn all_files<'a>(dir: &'a Dir<'a>) -> Vec<&'a include_dir::File<'a>> {
    let mut out: Vec<_> = dir.files().collect();
    for d in dir.dirs() {
        out.extend(all_files(d));
    }
    out.sort_by_key(|f| f.path());
    out
}

fn read_dir(root: &Path, templates: &Path, statics: &Path, from_theme: bool, assets: &mut Assets, diags: &mut Diagnostics) {
    let display = |p: &Path| p.strip_prefix(root).unwrap_or(p).to_path_buf();
    for (dir, is_template) in [(templates, true), (statics, false)] {
        if !dir.is_dir() {
            continue;
        }
        for entry in WalkDir::new(dir).follow_links(false).sort_by_file_name() {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    diags.push(Diagnostic::error(format!("cannot read: {e}")).file(display(e.path().unwrap_or(dir))));
                    continue;
                }
            };
            let name_os = entry.file_name().to_string_lossy();
            if entry.file_type().is_dir() || crate::load::is_ignored(&name_os) {
                continue;
            }
            if entry.path_is_symlink() {
                diags.push(
                    Diagnostic::error("symbolic links are not followed in templates/ and static/")
                        .file(display(entry.path()))
                        .hint("copy the file in instead"),
                );
                continue;
            }
            let rel = entry.path().strip_prefix(dir).unwrap_or(entry.path());
            let name = rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
            if is_template {
                match std::fs::read_to_string(entry.path()) {
                    Ok(text) => {
                        assets.templates.insert(
                            name.clone(),
                            TemplateSource { name, text, display_path: display(entry.path()), from_theme },
                        );
                    }
                    Err(e) => diags.push(
                        Diagnostic::error(format!("cannot read template: {e}"))
                            .file(display(entry.path()))
                            .hint("templates must be readable UTF-8 text"),
                    ),
                }
            } else {
                assets.static_files.insert(name.clone(), OutputFile::copy(name, entry.path().to_path_buf()));
            }
        }
    }
}
