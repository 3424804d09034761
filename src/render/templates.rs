//! Tera set-up: the theme's and site's templates, and the functions templates call
//! (`get_page`, `get_section`, `get_taxonomy`, `get_url`).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use serde_json::Value;
use tera::Tera;

use super::context::{listed, section_ctx, section_ref};
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::load::theme::TemplateSource;
use crate::model::Site;

/// Compile every template; errors name the template file and, for syntax errors, the line.
pub fn build(site: &Site, templates: &BTreeMap<String, TemplateSource>) -> Result<Tera, Diagnostics> {
    build_with_refs(site, templates, Arc::new(super::context::page_ref_values(site)))
}

/// [`build`], given every page's `PageRef` value (see [`super::context::page_ref_values`]).
pub fn build_with_refs(
    site: &Site,
    templates: &BTreeMap<String, TemplateSource>,
    refs: Arc<Vec<Value>>,
) -> Result<Tera, Diagnostics> {
    let mut tera = Tera::default();
    tera.autoescape_on(vec![".html", ".htm", ".xml"]);
    let raw: Vec<(&str, &str)> = templates.values().map(|t| (t.name.as_str(), t.text.as_str())).collect();
    if let Err(e) = tera.add_raw_templates(raw) {
        return Err(error(&e, templates, None).into());
    }
    register_functions(&mut tera, site, refs);
    Ok(tera)
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

/// Data behind the template functions, shared by all render threads. Sections and taxonomies
/// are assembled on first use only: most templates never call these functions, and the values
/// hold every page of the site.
struct Lookup {
    refs: Arc<Vec<Value>>,
    pages: HashMap<String, usize>,
    sections: HashMap<String, Lazy>,
    taxonomies: HashMap<String, LazyTaxonomy>,
}

/// A value without its page lists, the lists, and the finished value once asked for.
struct Lazy {
    skeleton: Value,
    pages: Vec<usize>,
    value: OnceLock<Value>,
}

impl Lazy {
    fn get(&self, refs: &[Value]) -> Value {
        self.value
            .get_or_init(|| {
                let mut v = self.skeleton.clone();
                v["pages"] = listed(refs, &self.pages);
                v
            })
            .clone()
    }
}

struct LazyTaxonomy {
    skeleton: Value,
    items: Vec<Lazy>,
    value: OnceLock<Value>,
}

fn register_functions(tera: &mut Tera, site: &Site, refs: Arc<Vec<Value>>) {
    let pages = site.pages.iter().enumerate().map(|(i, p)| (p.rel_path.clone(), i)).collect();
    let sections = site
        .sections
        .iter()
        .map(|s| {
            let skeleton = serde_json::to_value(section_ctx(site, s, String::new(), Vec::new())).unwrap_or(Value::Null);
            (s.rel_path.clone(), Lazy { skeleton, pages: s.pages.clone(), value: OnceLock::new() })
        })
        .collect();
    let taxonomies = site
        .taxonomies
        .iter()
        .map(|t| {
            let items = t
                .terms
                .iter()
                .map(|term| Lazy {
                    skeleton: serde_json::json!({
                        "name": term.name,
                        "slug": term.slug,
                        "path": site.url(&format!("/{}/{}/", t.slug, term.slug)),
                        "count": term.pages.len(),
                    }),
                    pages: term.pages.clone(),
                    value: OnceLock::new(),
                })
                .collect();
            let skeleton = serde_json::json!({ "name": t.name, "title": t.title, "path": site.url(&format!("/{}/", t.slug)) });
            (t.name.clone(), LazyTaxonomy { skeleton, items, value: OnceLock::new() })
        })
        .collect();
    let lookup = Arc::new(Lookup { refs, pages, sections, taxonomies });

    let l = lookup.clone();
    tera.register_function("get_page", move |args: &HashMap<String, Value>| {
        let path = string_arg(args, "path")?;
        l.pages
            .get(path.trim_start_matches("@/"))
            .map(|&i| l.refs[i].clone())
            .ok_or_else(|| format!("get_page: no page `{path}`").into())
    });
    let l = lookup.clone();
    tera.register_function("get_section", move |args: &HashMap<String, Value>| {
        let path = string_arg(args, "path")?;
        l.sections
            .get(path.trim_start_matches("@/"))
            .map(|s| s.get(&l.refs))
            .ok_or_else(|| format!("get_section: no section `{path}` (use e.g. \"venues/_index.md\")").into())
    });
    let l = lookup.clone();
    tera.register_function("get_taxonomy", move |args: &HashMap<String, Value>| {
        let kind = string_arg(args, "kind")?;
        let t = l.taxonomies.get(&kind).ok_or_else(|| format!("get_taxonomy: no taxonomy `{kind}`"))?;
        Ok(t.value
            .get_or_init(|| {
                let mut v = t.skeleton.clone();
                v["items"] = Value::Array(t.items.iter().map(|i| i.get(&l.refs)).collect());
                v
            })
            .clone())
    });
    let prefix = site.config.path_prefix();
    let links: HashMap<String, String> = site
        .pages
        .iter()
        .map(|p| (p.rel_path.clone(), site.url(&p.path)))
        .chain(site.sections.iter().map(|s| (s.rel_path.clone(), site.url(&s.path))))
        .collect();
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
