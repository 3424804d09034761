//! Tera set-up: the theme's and site's templates, and the functions templates call
//! (`get_page`, `get_section`, `get_taxonomy`, `get_url`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::Value;
use tera::Tera;

use super::context::{page_ref, section_ctx, section_ref};
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::load::theme::TemplateSource;
use crate::model::Site;

/// Compile every template; errors name the template file and, for syntax errors, the line.
pub fn build(site: &Site, templates: &BTreeMap<String, TemplateSource>) -> Result<Tera, Diagnostics> {
    let mut tera = Tera::default();
    tera.autoescape_on(vec![".html", ".htm", ".xml"]);
    let raw: Vec<(&str, &str)> = templates.values().map(|t| (t.name.as_str(), t.text.as_str())).collect();
    if let Err(e) = tera.add_raw_templates(raw) {
        return Err(error(&e, templates, None).into());
    }
    register_functions(&mut tera, site, &TemplateDependencies::of(templates));
    Ok(tera)
}

/// What the templates read from the site besides their own context, found by reading their
/// text. A template can only call a function whose name it contains, so this is safe to use
/// both for skipping unused lookup tables and for deciding what an edit can change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TemplateDependencies {
    /// `get_page`, `get_section` or `get_taxonomy` is called somewhere: any page's listing data
    /// can appear on any output.
    pub content_lookups: bool,
    pub get_page: bool,
    pub get_section: bool,
    pub get_taxonomy: bool,
    /// `get_url` is called with an `@/` content path or a computed argument: any page's URL can
    /// appear on any output.
    pub content_links: bool,
    pub get_url: bool,
}

impl TemplateDependencies {
    pub fn of(templates: &BTreeMap<String, TemplateSource>) -> Self {
        let literal = regex::Regex::new(r#"get_url\s*\(\s*path\s*=\s*(?:"(?:[^"@][^"]*)?"|'(?:[^'@][^']*)?')\s*[,)]"#)
            .expect("valid regex");
        let mut d = TemplateDependencies::default();
        for t in templates.values() {
            let text = t.text.as_str();
            d.get_page |= text.contains("get_page");
            d.get_section |= text.contains("get_section");
            d.get_taxonomy |= text.contains("get_taxonomy");
            let calls = text.matches("get_url").count();
            d.get_url |= calls > 0;
            d.content_links |= calls > literal.find_iter(text).count();
        }
        d.content_lookups = d.get_page || d.get_section || d.get_taxonomy;
        d
    }
}

/// Turn a Tera error into a diagnostic naming the template (and line when Tera gives one).
pub fn error(e: &tera::Error, templates: &BTreeMap<String, TemplateSource>, rendering: Option<&str>) -> Diagnostic {
    let mut chain = vec![e.to_string()];
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        chain.push(s.to_string());
        source = s.source();
    }
    let text = chain.join("\n");
    // Which template? Prefer one named in the message, else the one being rendered.
    let named = templates.keys().filter(|n| text.contains(&format!("'{n}'"))).max_by_key(|n| n.len()).cloned();
    let template = named.or_else(|| rendering.map(str::to_string));
    let message = chain
        .iter()
        .map(|m| m.trim())
        .filter(|m| !m.is_empty())
        .collect::<Vec<_>>()
        .join(": ")
        .replace('\n', " ");
    let mut d = Diagnostic::error(format!("template error: {message}"))
        .hint("fix the template; Tera syntax: https://keats.github.io/tera/docs/");
    if let Some(name) = template {
        d = d.field(name.clone());
        if let Some(src) = templates.get(&name) {
            d = d.file(&src.display_path);
            if let Some((line, col)) = line_in_message(&text) {
                d = d.at_line(&src.text, line);
                d.column = Some(col);
            }
        } else {
            d = d.file(format!("templates/{name}"));
        }
    }
    d
}

fn line_in_message(text: &str) -> Option<(usize, usize)> {
    let re = regex::Regex::new(r"--> (\d+):(\d+)").ok()?;
    let c = re.captures(text)?;
    Some((c[1].parse().ok()?, c[2].parse().ok()?))
}

/// Data behind the template functions, computed once and shared by all render threads.
struct Lookup {
    pages: HashMap<String, Value>,
    sections: HashMap<String, Value>,
    taxonomies: HashMap<String, Value>,
}

fn register_functions(tera: &mut Tera, site: &Site, used: &TemplateDependencies) {
    // Only the lookup tables some template can reach are built: on a large site they cost
    // more than rendering a page.
    let mut lookup = Lookup { pages: HashMap::new(), sections: HashMap::new(), taxonomies: HashMap::new() };
    if used.get_page {
        for p in &site.pages {
            lookup.pages.insert(p.rel_path.clone(), serde_json::to_value(page_ref(site, p)).unwrap_or(Value::Null));
        }
    }
    if used.get_section {
        for s in &site.sections {
            let pages = s.pages.iter().map(|&i| page_ref(site, &site.pages[i])).collect();
            let ctx = section_ctx(site, s, String::new(), pages);
            lookup.sections.insert(s.rel_path.clone(), serde_json::to_value(ctx).unwrap_or(Value::Null));
        }
    }
    if used.get_taxonomy {
        for t in &site.taxonomies {
            let items: Vec<Value> = t
                .terms
                .iter()
                .map(|term| {
                    serde_json::json!({
                        "name": term.name,
                        "slug": term.slug,
                        "path": site.url(&format!("/{}/{}/", t.slug, term.slug)),
                        "count": term.pages.len(),
                        "pages": term.pages.iter().map(|&i| page_ref(site, &site.pages[i])).collect::<Vec<_>>(),
                    })
                })
                .collect();
            lookup.taxonomies.insert(
                t.name.clone(),
                serde_json::json!({ "name": t.name, "title": t.title, "path": site.url(&format!("/{}/", t.slug)), "items": items }),
            );
        }
    }
    let lookup = Arc::new(lookup);
    let l = lookup.clone();
    tera.register_function("get_page", move |args: &HashMap<String, Value>| {
        let path = string_arg(args, "path")?;
        l.pages.get(path.trim_start_matches("@/")).cloned().ok_or_else(|| format!("get_page: no page `{path}`").into())
    });
    let l = lookup.clone();
    tera.register_function("get_section", move |args: &HashMap<String, Value>| {
        let path = string_arg(args, "path")?;
        l.sections
            .get(path.trim_start_matches("@/"))
            .cloned()
            .ok_or_else(|| format!("get_section: no section `{path}` (use e.g. \"venues/_index.md\")").into())
    });
    let l = lookup.clone();
    tera.register_function("get_taxonomy", move |args: &HashMap<String, Value>| {
        let kind = string_arg(args, "kind")?;
        l.taxonomies.get(&kind).cloned().ok_or_else(|| format!("get_taxonomy: no taxonomy `{kind}`").into())
    });
    let prefix = site.config.path_prefix();
    let links: HashMap<String, String> = if used.content_links {
        site.pages
            .iter()
            .map(|p| (p.rel_path.clone(), site.url(&p.path)))
            .chain(site.sections.iter().map(|s| (s.rel_path.clone(), site.url(&s.path))))
            .collect()
    } else {
        HashMap::new()
    };
    let _ = section_ref;
    tera.register_function("get_url", move |args: &HashMap<String, Value>| {
        let path = string_arg(args, "path")?;
        if let Some(rest) = path.strip_prefix("@/") {
            let (target, anchor) = rest.split_once('#').map_or((rest, None), |(t, a)| (t, Some(a)));
            let url = links.get(target).ok_or_else(|| format!("get_url: no content file `{path}`"))?;
            return Ok(Value::String(match anchor {
                Some(a) => format!("{url}#{a}"),
                None => url.clone(),
            }));
        }
        if path.starts_with("http://") || path.starts_with("https://") {
            return Ok(Value::String(path));
        }
        Ok(Value::String(format!("{prefix}/{}", path.trim_start_matches('/'))))
    });
}

fn string_arg(args: &HashMap<String, Value>, name: &str) -> tera::Result<String> {
    match args.get(name) {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(format!("missing string argument `{name}`").into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deps(text: &str) -> TemplateDependencies {
        let mut t = BTreeMap::new();
        t.insert("x.html".to_string(), TemplateSource { name: "x.html".into(), text: text.into(), display_path: "x.html".into() });
        TemplateDependencies::of(&t)
    }

    #[test]
    fn template_dependencies_are_read_from_the_text() {
        let d = deps(r#"<a href="{{ get_url(path='/') }}">{{ get_url(path="/css/site.css") }}</a>"#);
        assert!(d.get_url && !d.content_links && !d.content_lookups);
        assert!(deps(r#"{{ get_url(path="@/venues/x.md") }}"#).content_links);
        assert!(deps(r#"{{ get_url(path=p.path) }}"#).content_links);
        let d = deps(r#"{% set s = get_section(path="venues/_index.md") %}"#);
        assert!(d.content_lookups && d.get_section && !d.get_page);
    }
}
