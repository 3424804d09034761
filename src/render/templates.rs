//! Tera set-up: the theme's and site's templates, and the functions templates call
//! (`get_page`, `get_section`, `get_pages`, `count_pages`, `get_taxonomy`, `get_url`; `get_url(path=…, cachebust=true)`
//! appends `?h=` and a hash of the static file's content; `city_link`, and `card`, the theme's
//! `cards.card` component rendered once per listed page).
//!
//! The theme's templates are loaded under [`THEME_PREFIX`], which Tera tries after a name as
//! written: a site template of the same name wins, and so does a site component of the same
//! name as one of the theme's, wherever each is defined.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use tera::{Kwargs, State, Tera, TeraResult, Value};

use super::context::{section_ctx, PageRefs};
use super::guard::SourceMap;
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::load::theme::TemplateSource;
use crate::model::Site;

/// What theme templates are called inside Tera. Not a folder anyone can name: template names
/// come from file paths relative to `templates/`.
pub const THEME_PREFIX: &str = "(theme)/";

/// What rendering needs from the theme alone: the templates compiled ([`compile`]) and the
/// content hashes of the static files (`get_url(…, cachebust=true)`). `kepu serve` keeps it
/// while the theme and static files do not change, and [`bind`]s it to each rebuilt site
/// (parsing and hashing cost more than a small rebuild's rendering).
pub struct Compiled {
    pub tera: Tera,
    pub asset_hashes: HashMap<String, String>,
    /// What the templates read from the site, found once by reading them.
    pub deps: TemplateDependencies,
    /// Where the guard calls went, to report positions as the templates were written.
    pub sources: SourceMap,
}

impl Compiled {
    /// Compile the templates of `assets` and hash its static files and the syntax stylesheet.
    pub fn new(assets: &crate::load::theme::Assets) -> Result<Self, Diagnostics> {
        let (mut tera, sources) = compile(&assets.templates)?;
        let data: Arc<HashMap<String, Value>> =
            Arc::new(assets.data.iter().map(|(k, v)| (k.clone(), Value::from_serializable(v))).collect());
        // `load_data(path=…)`: the files were read and parsed by the load stage.
        tera.register_function("load_data", move |args: Kwargs, _: &State| -> TeraResult<Value> {
            let path = string_arg(&args, "path")?;
            data.get(&path).cloned().ok_or_else(|| tera::Error::message(format!("load_data: `{path}` was not loaded (write the path out in the template)")))
        });
        let syntax_css = super::markdown::syntax_css();
        let asset_hashes = asset_hashes(assets, &[("css/syntax.css", syntax_css.as_bytes())]);
        Ok(Compiled { tera, asset_hashes, deps: TemplateDependencies::of(&assets.templates), sources })
    }
}

/// The functions [`bind`] gives a site's data to. Registered as placeholders before the
/// templates are added, because Tera checks when it loads a template that every function it
/// calls exists.
const SITE_FUNCTIONS: [&str; 11] = [
    "get_page",
    "get_section",
    "get_pages",
    "count_pages",
    "get_taxonomy",
    "get_taxonomy_url",
    "city_link",
    "get_url",
    "page_by_title",
    "chart",
    "load_data",
];

/// The name Tera knows a template by: the theme's under [`THEME_PREFIX`].
pub fn tera_name(t: &TemplateSource) -> String {
    if t.from_theme { format!("{THEME_PREFIX}{}", t.name) } else { t.name.clone() }
}

/// Parse every template and install the filters; errors name the template file, line and
/// column.
pub fn compile(templates: &BTreeMap<String, TemplateSource>) -> Result<(Tera, SourceMap), Diagnostics> {
    let mut tera = Tera::default();
    tera.set_fallback_prefixes([THEME_PREFIX]).expect("no templates yet");
    tera.autoescape_on(vec![".html", ".htm", ".xml"]);
    // Escape what HTML needs escaped, but leave `/` alone so URLs stay readable.
    tera.set_escape_fn(super::markdown::escape_html_to);
    tera.register_filter("cn_number", cn_number_filter);
    super::filters::install(&mut tera);
    super::guard::install(&mut tera);
    for name in SITE_FUNCTIONS.into_iter().chain(super::image_functions::NAMES) {
        tera.register_function(name, unbound);
    }
    if templates.contains_key(CARD_TEMPLATE) {
        tera.register_function("card", unbound);
    }
    let texts = without_orphan_blocks(templates);
    let (prepared, sources) =
        super::guard::prepare(templates.values().map(|t| (tera_name(t), texts.get(&t.name).map_or(t.text.as_str(), String::as_str))));
    if let Err(e) = tera.add_raw_templates(prepared) {
        return Err(errors(&e, templates, &sources, None));
    }
    Ok((tera, sources))
}

/// The theme's templates that define a block none of their parents has, with that block
/// blanked out (by name). That happens when a site overrides a theme template with a simpler
/// one: the site's `page.html` has no `facts` block, which the theme's `types/venue.html`
/// fills. Tera 1 rendered such a block nowhere; Tera 2 refuses the template. Blanking keeps
/// Tera 1's output and the site working, and keeps every byte offset (errors still point at
/// the right place): each character of the block becomes as many spaces as it has bytes,
/// newlines stay.
fn without_orphan_blocks(templates: &BTreeMap<String, TemplateSource>) -> HashMap<String, String> {
    let extends = regex::Regex::new(r#"\{%-?\s*extends\s+["']([^"']+)["']"#).expect("valid regex");
    let block_tag = regex::Regex::new(r#"\{%-?\s*(block|endblock)\b\s*(\w*)\s*-?%\}"#).expect("valid regex");
    let blocks_of = |text: &str| -> Vec<(String, usize, usize)> {
        // (name, start of the block tag, end of its endblock tag), outermost blocks only.
        let mut out = Vec::new();
        let mut stack: Vec<(String, usize)> = Vec::new();
        for c in block_tag.captures_iter(text) {
            let m = c.get(0).expect("whole match");
            if &c[1] == "block" {
                stack.push((c[2].to_string(), m.start()));
            } else if let Some((name, start)) = stack.pop() {
                if stack.is_empty() {
                    out.push((name, start, m.end()));
                }
            }
        }
        out
    };
    let mut out = HashMap::new();
    for t in templates.values().filter(|t| t.from_theme) {
        let Some(parent) = extends.captures(&t.text).map(|c| c[1].to_string()) else { continue };
        let mut known = std::collections::HashSet::new();
        let mut next = Some(parent);
        let mut seen = std::collections::HashSet::new();
        while let Some(name) = next.take() {
            let Some(p) = templates.get(&name).filter(|_| seen.insert(name.clone())) else { break };
            known.extend(block_tag.captures_iter(&p.text).filter(|c| &c[1] == "block").map(|c| c[2].to_string()));
            next = extends.captures(&p.text).map(|c| c[1].to_string());
        }
        let orphans: Vec<_> = blocks_of(&t.text).into_iter().filter(|(name, _, _)| !known.contains(name)).collect();
        if orphans.is_empty() {
            continue;
        }
        let mut text = t.text.clone();
        for (_, start, end) in orphans {
            let blank: String = t.text[start..end].chars().map(|c| if c == '\n' { "\n".to_string() } else { " ".repeat(c.len_utf8()) }).collect();
            text.replace_range(start..end, &blank);
        }
        out.insert(t.name.clone(), text);
    }
    out
}

/// The placeholder of a site function until [`bind`] replaces it.
fn unbound(_: Kwargs, _: &State) -> TeraResult<Value> {
    Err(tera::Error::message("internal error: the templates are not bound to a site"))
}

/// Give compiled templates the functions that read `site` (`get_page`, `get_section`, …).
/// The `card` function renders with the very templates it is registered in: share them
/// (`Arc`) and [`CardSlot::fill`] the returned slot before rendering.
pub fn bind(
    tera: &mut Tera,
    site: &Site,
    deps: &TemplateDependencies,
    asset_hashes: &HashMap<String, String>,
    refs: &PageRefs,
) -> Bound {
    register_functions(tera, site, deps, asset_hashes.clone(), refs)
}

/// What [`bind`] made that the renderer uses too: the `card` function's slot, and the page
/// lookup and chart drawing behind `page_by_title` and `chart` (the built-in `ref` and `chart`
/// components rendered without Tera use the very same, see [`super::builtin`]).
pub struct Bound {
    pub cards: CardSlot,
    pub titles: PageByTitle,
    pub charts: Arc<Charts>,
}

/// What the templates read from the site besides their own context, found by reading their
/// text. A template can only call a function whose name it contains, so this is safe to use
/// both for skipping unused lookup tables and for deciding what an edit can change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TemplateDependencies {
    /// `get_page`, `get_section`, `get_pages` or `get_taxonomy` is called somewhere: any page's listing data
    /// can appear on any output.
    pub content_lookups: bool,
    pub get_page: bool,
    pub get_section: bool,
    pub get_pages: bool,
    pub get_taxonomy: bool,
    /// `get_url` is called with an `@/` content path or a computed argument: any page's URL can
    /// appear on any output.
    pub content_links: bool,
    pub get_url: bool,
}

/// Which templates reach the site-wide lookups, directly or through what they extend,
/// include, or whose components they call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateReach {
    pub deps: TemplateDependencies,
    /// Templates that (transitively) call `get_page`, `get_section`, `get_pages` or `get_taxonomy`.
    pub lookups: std::collections::BTreeSet<String>,
    /// Templates that (transitively) call `get_url` with a content path or computed argument.
    pub content_links: std::collections::BTreeSet<String>,
}

impl TemplateReach {
    pub fn of(templates: &BTreeMap<String, TemplateSource>) -> Self {
        let tag = regex::Regex::new(r#"\{%-?\s*(?:extends|include)\s+([^%]*)%\}"#).expect("valid regex");
        let quoted = regex::Regex::new(r#"["']([^"']+)["']"#).expect("valid regex");
        let component_def = regex::Regex::new(r#"\{%-?\s*component\s+([\w.]+)"#).expect("valid regex");
        let component_call = regex::Regex::new(r#"\{[{%]-?\s*<([\w.]+)"#).expect("valid regex");
        let defined_in: HashMap<String, String> = templates
            .iter()
            .flat_map(|(name, t)| component_def.captures_iter(&t.text).map(move |c| (c[1].to_string(), name.clone())))
            .collect();
        let one = |t: &TemplateSource| {
            let mut m = BTreeMap::new();
            m.insert(t.name.clone(), t.clone());
            TemplateDependencies::of(&m)
        };
        let uses: BTreeMap<&str, Vec<String>> = templates
            .iter()
            .map(|(name, t)| {
                let mut refs: Vec<String> = tag
                    .captures_iter(&t.text)
                    .flat_map(|c| quoted.captures_iter(c.get(1).map_or("", |m| m.as_str())).map(|q| q[1].to_string()).collect::<Vec<_>>())
                    .collect();
                refs.extend(component_call.captures_iter(&t.text).filter_map(|c| defined_in.get(&c[1]).cloned()));
                if t.text.contains("card(") {
                    refs.push(CARD_TEMPLATE.to_string());
                }
                (name.as_str(), refs)
            })
            .collect();
        let direct: BTreeMap<&str, TemplateDependencies> = templates.iter().map(|(n, t)| (n.as_str(), one(t))).collect();
        let reaches = |name: &str, pick: &dyn Fn(&TemplateDependencies) -> bool| -> bool {
            let mut seen = std::collections::BTreeSet::new();
            let mut stack = vec![name.to_string()];
            while let Some(n) = stack.pop() {
                if !seen.insert(n.clone()) {
                    continue;
                }
                if direct.get(n.as_str()).is_some_and(pick) {
                    return true;
                }
                stack.extend(uses.get(n.as_str()).cloned().unwrap_or_default());
            }
            false
        };
        let mut r = TemplateReach { deps: TemplateDependencies::of(templates), ..Default::default() };
        for name in templates.keys() {
            if reaches(name, &|d| d.content_lookups) {
                r.lookups.insert(name.clone());
            }
            if reaches(name, &|d| d.content_links) {
                r.content_links.insert(name.clone());
            }
        }
        r
    }
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
            d.get_pages |= text.contains("get_pages") || text.contains("count_pages");
            d.get_taxonomy |= text.contains("get_taxonomy");
            let calls = text.matches("get_url").count();
            d.get_url |= calls > 0;
            d.content_links |= calls > literal.find_iter(text).count();
        }
        d.content_lookups = d.get_page || d.get_section || d.get_pages || d.get_taxonomy;
        d
    }
}

/// Short content hashes (12 hex digits of SHA-256) of the static files and of `generated`
/// files, by output path, for cache-busting links.
pub fn asset_hashes(assets: &crate::load::theme::Assets, generated: &[(&str, &[u8])]) -> HashMap<String, String> {
    use sha2::{Digest, Sha256};
    let short = |bytes: &[u8]| hex::encode(&Sha256::digest(bytes)[..6]);
    let mut out: HashMap<String, String> = assets
        .static_files
        .iter()
        .filter_map(|(path, f)| {
            let hash = match &f.contents {
                crate::output::Contents::Bytes(b) => short(b),
                crate::output::Contents::Copy(p) | crate::output::Contents::Linked { file: p, .. } => short(&std::fs::read(p).ok()?),
            };
            Some((path.clone(), hash))
        })
        .collect();
    out.extend(generated.iter().map(|(path, bytes)| (path.to_string(), short(bytes))));
    out
}

/// One error as Tera reports it: the message and, where Tera knows it, the template (by Tera
/// name) with a position, either as a byte offset in the text Tera parsed or as Tera's
/// 1-based line and column.
#[derive(Debug, Clone, PartialEq)]
struct Located {
    message: String,
    template: Option<String>,
    offset: Option<usize>,
    line_col: Option<(usize, usize)>,
    /// "called from" notes, outermost last: (template, line, column).
    notes: Vec<(String, usize, usize)>,
    /// Text to look for in the template when Tera gives no position (see [`Located::pointing_at`]).
    search: Option<String>,
}

impl Located {
    /// Where `needle` first appears in the template's tag (`{% … %}`) lines, for errors Tera
    /// gives no position for.
    fn pointing_at(mut self, needle: Option<String>) -> Self {
        self.search = needle;
        self
    }
}

/// The `error: …` / `--> name:line:col` reports in a text Tera made (several when loading;
/// one, possibly inside another's message, when rendering).
fn reports_in(text: &str) -> Vec<Located> {
    let arrow = regex::Regex::new(r"^\s*--> (.+):(\d+):(\d+)$").expect("valid regex");
    let note = regex::Regex::new(r"^note: called from (.+):(\d+):(\d+)$").expect("valid regex");
    let mut out: Vec<Located> = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if let Some(message) = line.strip_prefix("error: ") {
            let mut loc = Located { message: message.trim().to_string(), template: None, offset: None, line_col: None, notes: Vec::new(), search: None };
            if let Some(c) = lines.peek().and_then(|l| arrow.captures(l)) {
                loc.template = Some(c[1].to_string());
                loc.line_col = Some((c[2].parse().unwrap_or(1), c[3].parse().unwrap_or(1)));
                lines.next();
            }
            out.push(loc);
        } else if let (Some(c), Some(last)) = (note.captures(line), out.last_mut()) {
            last.notes.push((c[1].to_string(), c[2].parse().unwrap_or(1), c[3].parse().unwrap_or(1)));
        }
    }
    out
}

/// What went wrong in `e`, innermost first when a function's error carries another render's
/// report (a card's template failing inside a list page).
fn located(e: &tera::Error) -> Vec<Located> {
    use tera::ErrorKind;
    match e.kind() {
        ErrorKind::SyntaxError(r) | ErrorKind::RenderingError(r) => {
            // A function's error that is itself a render's report (a card's template failing):
            // where that went wrong, called from here.
            if let Some(mut inner) = reports_in(r.message()).into_iter().next() {
                inner.notes.push((r.filename().to_string(), r.span().start_line, r.span().start_col + 1));
                return vec![inner];
            }
            // The "called from" notes of an error inside a component are only in the report.
            let notes = reports_in(&e.to_string()).into_iter().next().map(|l| l.notes).unwrap_or_default();
            vec![Located {
                message: r.message().trim().to_string(),
                template: Some(r.filename().to_string()),
                offset: Some(r.span().range.start),
                line_col: None,
                notes,
                search: None,
            }]
        }
        ErrorKind::Msg(text) => {
            let found = reports_in(text);
            if found.is_empty() {
                let mut chain = vec![text.clone()];
                let mut source = std::error::Error::source(e);
                while let Some(s) = source {
                    chain.push(s.to_string());
                    source = s.source();
                }
                vec![Located { message: chain.join(": "), template: None, offset: None, line_col: None, notes: Vec::new(), search: None }]
            } else {
                found
            }
        }
        ErrorKind::CircularInclude { tpl, include_chain } => {
            // Point at the include that closes the circle: the chain ends … → tpl → tpl's include.
            let message = format!("`{tpl}` includes itself: {}", include_chain.join(" → "));
            vec![Located { message, template: Some(tpl.clone()), offset: None, line_col: None, notes: Vec::new(), search: None }
                .pointing_at(include_chain.last().map(|n| format!("\"{n}\"")))]
        }
        ErrorKind::CircularExtend { tpl, inheritance_chain } => {
            let message = format!("`{tpl}` extends itself: {}", inheritance_chain.join(" → "));
            vec![Located { message, template: Some(tpl.clone()), offset: None, line_col: None, notes: Vec::new(), search: None }
                .pointing_at(inheritance_chain.last().map(|n| format!("\"{n}\"")))]
        }
        ErrorKind::MissingParent { current, .. } => {
            let ErrorKind::MissingParent { parent, .. } = e.kind() else { unreachable!() };
            vec![Located { message: e.to_string(), template: Some(current.clone()), offset: None, line_col: None, notes: Vec::new(), search: None }
                .pointing_at(Some(format!("\"{parent}\"")))]
        }
        _ => vec![Located { message: e.to_string(), template: None, offset: None, line_col: None, notes: Vec::new(), search: None }],
    }
}

/// Turn a Tera error into diagnostics naming the template file, line and column, as the
/// template was written; `rendering` is the template being rendered, named when Tera does not
/// say where the error is.
pub fn errors(
    e: &tera::Error,
    templates: &BTreeMap<String, TemplateSource>,
    sources: &SourceMap,
    rendering: Option<&str>,
) -> Diagnostics {
    let mut out = Diagnostics::new();
    for mut loc in located(e) {
        if loc.template.is_none() && loc.message.contains("recursion depth for components") {
            if let Some((name, component, offset)) = self_calling_component(templates) {
                loc = Located {
                    message: format!("component `{component}` is nested more than 20 levels deep: does it call itself without end?"),
                    template: Some(name),
                    offset: Some(offset),
                    line_col: None,
                    notes: Vec::new(),
                    search: None,
                };
            }
        }
        out.push(diagnostic(loc, templates, sources, rendering));
    }
    out
}

/// The first of [`errors`] (a render stops at its first error).
pub fn error(
    e: &tera::Error,
    templates: &BTreeMap<String, TemplateSource>,
    sources: &SourceMap,
    rendering: Option<&str>,
) -> Diagnostic {
    errors(e, templates, sources, rendering).0.into_iter().next().unwrap_or_else(|| Diagnostic::error(format!("template error: {e}")))
}

fn diagnostic(loc: Located, templates: &BTreeMap<String, TemplateSource>, sources: &SourceMap, rendering: Option<&str>) -> Diagnostic {
    let tera_name = loc.template.clone().or_else(|| rendering.map(str::to_string));
    let name = tera_name.as_deref().map(|n| n.strip_prefix(THEME_PREFIX).unwrap_or(n).to_string());
    let mut message = loc.message.clone();
    let called_from: Vec<String> = loc
        .notes
        .iter()
        .filter(|(t, _, _)| Some(t) != loc.template.as_ref() && t != "__tera_one_off")
        .map(|(t, l, c)| {
            let plain = t.strip_prefix(THEME_PREFIX).unwrap_or(t);
            let shown = templates.get(plain).map_or_else(|| format!("templates/{plain}"), |s| s.display_path.display().to_string());
            let offset = sources.prepared_offset(t, *l, *c).map(|o| sources.original_offset(t, o));
            match (offset, templates.get(plain)) {
                (Some(o), Some(src)) => {
                    let (line, col) = crate::diagnostics::line_col(&src.text, o.min(src.text.len()));
                    format!("{shown}:{line}:{col}")
                }
                _ => shown,
            }
        })
        .collect();
    if !called_from.is_empty() {
        message.push_str(&format!(" (called from {})", called_from.join(", ")));
    }
    let mut d = Diagnostic::error(format!("template error: {message}"))
        .hint("fix the template; Tera 2 syntax: https://keats.github.io/tera/docs/");
    if let (Some(name), Some(tera_name)) = (name, tera_name) {
        d = d.field(name.clone());
        match templates.get(&name) {
            Some(src) => {
                d = d.file(&src.display_path);
                let prepared = loc.offset.or_else(|| loc.line_col.and_then(|(l, c)| sources.prepared_offset(&tera_name, l, c)));
                if let Some(offset) = prepared {
                    d = d.at_offset(&src.text, sources.original_offset(&tera_name, offset));
                } else if let Some(offset) = loc.search.as_deref().and_then(|n| find_in_tags(&src.text, n)) {
                    d = d.at_offset(&src.text, offset);
                }
            }
            None => d = d.file(format!("templates/{name}")),
        }
    }
    d
}

/// A component whose body calls the component itself: (Tera name of its template, the
/// component, offset of the call), for Tera's recursion error, which says neither.
fn self_calling_component(templates: &BTreeMap<String, TemplateSource>) -> Option<(String, String, usize)> {
    let def = regex::Regex::new(r#"\{%-?\s*component\s+([\w.]+)"#).expect("valid regex");
    for t in templates.values() {
        for c in def.captures_iter(&t.text) {
            let name = &c[1];
            let body_start = c.get(0).expect("whole match").end();
            let body_end = t.text[body_start..].find("endcomponent").map_or(t.text.len(), |e| body_start + e);
            let body = &t.text[body_start..body_end];
            let call = regex::Regex::new(&format!(r"\{{[{{%]-?\s*<({})[\s/>]", regex::escape(name))).expect("valid regex");
            if let Some(m) = call.captures(body).and_then(|c| c.get(1)) {
                return Some((tera_name(t), name.to_string(), body_start + m.start()));
            }
        }
    }
    None
}

/// Byte offset of the first occurrence of `needle` on a line with a `{% %}` tag.
fn find_in_tags(text: &str, needle: &str) -> Option<usize> {
    let mut start = 0;
    for l in text.split_inclusive('\n') {
        if let Some(pos) = l.find(needle).filter(|_| l.contains("{%")) {
            return Some(start + pos);
        }
        start += l.len();
    }
    None
}

/// Data behind the template functions, shared by all render threads. A section's or
/// taxonomy's value is made the first time a template asks for it: on a large site the home
/// page asks for three sections out of many, and `kepu serve` re-renders only a few outputs.
struct Lookup {
    refs: PageRefs,
    /// Content path → page position.
    pages: HashMap<String, usize>,
    /// Content path → the section without its pages, its page positions, and the full value.
    sections: HashMap<String, (Value, Vec<usize>, OnceLock<Value>)>,
    /// Taxonomy name → its value without pages, each term's page positions, the full value.
    taxonomies: HashMap<String, (Value, Vec<Vec<usize>>, OnceLock<Value>)>,
    /// (section, attribute) → its pages grouped by the attribute's value, made on first use:
    /// the home page counts a section's pages per city and per level, and one pass per
    /// attribute beats one pass per count.
    groups: std::sync::Mutex<HashMap<(String, String), Arc<Grouped>>>,
}

/// A section's pages grouped by one attribute, positions in the section's order.
#[derive(Default)]
struct Grouped {
    /// The value (its kind and text) → pages with that value.
    by_value: HashMap<(tera::value::ValueKind, String), Vec<usize>>,
    /// Pages where the attribute is present and not null.
    present: Vec<usize>,
}

/// `v` with `key` set to `value` (a map's entries are shared, not copied).
pub fn with_field(v: &Value, key: &'static str, value: Value) -> Value {
    let mut map = v.as_map().cloned().unwrap_or_default();
    map.insert(key.into(), value);
    Value::from(map)
}

/// The key a value is grouped under: equal values, equal keys.
fn group_key(v: &Value) -> (tera::value::ValueKind, String) {
    (v.kind(), v.to_string())
}

impl Lookup {
    fn section(&self, path: &str) -> Option<Value> {
        let (head, pages, full) = self.sections.get(path)?;
        Some(full.get_or_init(|| with_field(head, "pages", self.refs.listed(pages))).clone())
    }

    /// `get_pages(section="venues/_index.md", attribute="typed.city", value="郑州", limit=4)`:
    /// a section's pages (in its order) whose dotted attribute equals `value` (or, without
    /// `value`, is present and not null), at most `limit` of them. Cheaper than filtering
    /// `get_section(…).pages` in the template: only the pages it returns are looked at again.
    fn pages_of(&self, args: &Kwargs) -> TeraResult<Value> {
        let matching = self.matching(args, "get_pages")?;
        let limit = match args.get::<&Value>("limit")? {
            None => usize::MAX,
            Some(v) => v
                .as_u64()
                .map(|n| n as usize)
                .ok_or_else(|| tera::Error::message(format!("get_pages: `limit` must be a whole number, got `{v}`")))?,
        };
        Ok(self.refs.listed(&matching[..matching.len().min(limit)]))
    }

    /// `count_pages(section=…, attribute=…, value=…)`: how many pages `get_pages` would
    /// list without a limit.
    fn count_of(&self, args: &Kwargs) -> TeraResult<Value> {
        Ok(Value::from(self.matching(args, "count_pages")?.len()))
    }

    /// The positions of the pages of `section=` matching `attribute=`/`value=`, in the
    /// section's order.
    fn matching(&self, args: &Kwargs, function: &str) -> TeraResult<Vec<usize>> {
        let path = string_arg(args, "section")?;
        let (_, pages, _) = self
            .sections
            .get(path.trim_start_matches("@/"))
            .ok_or_else(|| tera::Error::message(format!("{function}: no section `{path}` (use e.g. \"venues/_index.md\")")))?;
        let attribute = match args.get::<&Value>("attribute")? {
            None => return Ok(pages.clone()),
            Some(a) => a.as_str().ok_or_else(|| {
                tera::Error::message(format!("{function}: `attribute` must be a string, got `{a}`"))
            })?,
        };
        let grouped = self.grouped(path.trim_start_matches("@/"), attribute, pages);
        Ok(match args.get::<&Value>("value")? {
            None => grouped.present.clone(),
            Some(v) if v.is_none() => grouped.present.clone(),
            Some(v) => grouped.by_value.get(&group_key(v)).cloned().unwrap_or_default(),
        })
    }

    fn grouped(&self, section: &str, attribute: &str, pages: &[usize]) -> Arc<Grouped> {
        let key = (section.to_string(), attribute.to_string());
        if let Some(g) = self.groups.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return g.clone();
        }
        let mut g = Grouped::default();
        for &i in pages {
            match self.refs.get(i).get_from_path(attribute) {
                None => {}
                Some(v) if v.is_none() || v.is_undefined() => {}
                Some(v) => {
                    g.present.push(i);
                    g.by_value.entry(group_key(v)).or_default().push(i);
                }
            }
        }
        let g = Arc::new(g);
        self.groups.lock().unwrap_or_else(|e| e.into_inner()).insert(key, g.clone());
        g
    }

    fn taxonomy(&self, kind: &str) -> Option<Value> {
        let (head, term_pages, full) = self.taxonomies.get(kind)?;
        Some(
            full.get_or_init(|| {
                let items: Vec<Value> = head
                    .get_from_path("items")
                    .and_then(Value::as_array)
                    .unwrap_or(&[])
                    .iter()
                    .zip(term_pages)
                    .map(|(item, pages)| with_field(item, "pages", self.refs.listed(pages)))
                    .collect();
                with_field(head, "items", Value::from(items))
            })
            .clone(),
        )
    }
}

fn register_functions(
    tera: &mut Tera,
    site: &Site,
    used: &TemplateDependencies,
    asset_hashes: HashMap<String, String>,
    refs: &PageRefs,
) -> Bound {
    let mut lookup = Lookup {
        refs: refs.clone(),
        pages: HashMap::new(),
        sections: HashMap::new(),
        taxonomies: HashMap::new(),
        groups: Default::default(),
    };
    if used.get_page {
        lookup.pages = site.pages.iter().enumerate().map(|(i, p)| (p.rel_path.clone(), i)).collect();
    }
    if used.get_section || used.get_pages {
        for s in &site.sections {
            let head = Value::from_serializable(&section_ctx(site, s, String::new(), Vec::new()));
            lookup.sections.insert(s.rel_path.clone(), (head, s.pages.clone(), OnceLock::new()));
        }
    }
    if used.get_taxonomy {
        for t in &site.taxonomies {
            let items: Vec<TaxonomyItem> = t
                .terms
                .iter()
                .map(|term| TaxonomyItem {
                    name: term.name.clone(),
                    slug: term.slug.clone(),
                    path: site.url(&format!("/{}/{}/", t.slug, term.slug)),
                    count: term.pages.len(),
                    pages: Vec::new(),
                })
                .collect();
            let head = Value::from_serializable(&TaxonomyHead {
                name: t.name.clone(),
                title: t.title.clone(),
                path: site.url(&format!("/{}/", t.slug)),
                items,
            });
            let pages = t.terms.iter().map(|term| term.pages.clone()).collect();
            lookup.taxonomies.insert(t.name.clone(), (head, pages, OnceLock::new()));
        }
    }
    let lookup = Arc::new(lookup);
    let l = lookup.clone();
    tera.register_function("get_page", move |args: Kwargs, _: &State| -> TeraResult<Value> {
        let path = string_arg(&args, "path")?;
        match l.pages.get(path.trim_start_matches("@/")) {
            Some(&i) => Ok(l.refs.get(i).clone()),
            None => Err(tera::Error::message(format!("get_page: no page `{path}`"))),
        }
    });
    let l = lookup.clone();
    tera.register_function("get_section", move |args: Kwargs, _: &State| -> TeraResult<Value> {
        let path = string_arg(&args, "path")?;
        let rel = path.trim_start_matches("@/");
        let found = if args.get::<bool>("metadata_only")?.unwrap_or(false) {
            l.sections.get(rel).map(|(head, _, _)| head.clone())
        } else {
            l.section(rel)
        };
        found.ok_or_else(|| tera::Error::message(format!("get_section: no section `{path}` (use e.g. \"venues/_index.md\")")))
    });
    let l = lookup.clone();
    tera.register_function("get_pages", move |args: Kwargs, _: &State| l.pages_of(&args));
    let l = lookup.clone();
    tera.register_function("count_pages", move |args: Kwargs, _: &State| l.count_of(&args));
    let l = lookup.clone();
    tera.register_function("get_taxonomy", move |args: Kwargs, _: &State| -> TeraResult<Value> {
        let kind = string_arg(&args, "kind")?;
        l.taxonomy(&kind).ok_or_else(|| tera::Error::message(format!("get_taxonomy: no taxonomy `{kind}`")))
    });
    tera.register_function("city_link", CityLink::new(site));
    tera.register_function("get_taxonomy_url", TaxonomyUrl::new(site));
    let titles = PageByTitle::new(site, refs);
    tera.register_function("page_by_title", titles.clone());
    let charts = Arc::new(Charts { by_title: titles.clone(), figures: site.pages.iter().map(|p| p.meta.figures.clone()).collect() });
    tera.register_function("chart", ChartFunction(charts.clone()));
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
    tera.register_function("get_url", GetUrl { links, asset_hashes, prefix });
    let slot = CardSlot::default();
    if tera.contains_template(CARD_TEMPLATE) {
        tera.register_function("card", CardRenderer { templates: slot.clone(), cache: refs.cards().clone() });
    }
    Bound { cards: slot, titles, charts }
}

/// A taxonomy as `get_taxonomy` gives it (its terms' pages added on first use).
#[derive(serde::Serialize)]
pub struct TaxonomyHead {
    pub name: String,
    pub title: String,
    pub path: String,
    pub items: Vec<TaxonomyItem>,
}

/// A term of [`TaxonomyHead`].
#[derive(serde::Serialize)]
pub struct TaxonomyItem {
    pub name: String,
    pub slug: String,
    pub path: String,
    pub count: usize,
    pub pages: Vec<()>,
}

/// Where the `card` function finds the templates it is registered in, once they are shared.
/// It used to render with a copy of them, and copying every template cost more than a small
/// `kepu serve` rebuild's rendering.
#[derive(Clone, Default)]
pub struct CardSlot(Arc<OnceLock<std::sync::Weak<Tera>>>);

impl CardSlot {
    /// Point the `card` function at `tera`, the templates it was registered in.
    pub fn fill(&self, tera: &Arc<Tera>) {
        let _ = self.0.set(Arc::downgrade(tera));
    }
}

thread_local! {
    /// Set while this thread renders a card: a card that asks for cards is an error, not an
    /// endless recursion.
    static IN_CARD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The theme's card partial, defining the component [`CARD_COMPONENT`].
pub const CARD_TEMPLATE: &str = "partials/card.html";
/// `{% component cards.card(p, compact=false, city=true, level=2) %}`: one page in a list.
pub const CARD_COMPONENT: &str = "cards.card";

/// `card(p=page, compact=…, city=…, level=…)`: the `cards.card` component of
/// `partials/card.html` (the site's own when it overrides the theme's) for a listed page,
/// rendered once per page and arguments and then reused. A page is listed in its section's
/// pager, in every term page of its tags, in the related lists of the pages it relates to and
/// on the home page: rendering its card anew each time was most of the time of every list
/// page. The result depends only on the arguments, so a reused card is byte for byte a fresh
/// one; the cache is the [`CardCache`] of the [`PageRefs`] the templates are bound to.
struct CardRenderer {
    templates: CardSlot,
    cache: Arc<CardCache>,
}

/// Rendered cards by page URL, then (compact, city, level). Owned by [`PageRefs`], whose values
/// they are made from: `kepu serve` keeps them from one rebuild to the next for the pages
/// whose values did not change, so a term page listing hundreds of pages re-renders in
/// milliseconds after an edit.
#[derive(Default)]
pub struct CardCache(std::sync::Mutex<CardsByUrl>);

/// Each page's cards (by URL), one per set of arguments it was shown with: safe strings,
/// shared rather than copied each time a card is shown.
type CardsByUrl = HashMap<String, Vec<(CardArgs, Value)>>;
/// A card's arguments besides its page: (compact, city, level).
type CardArgs = (bool, bool, i64);

impl CardCache {
    fn get(&self, url: &str, args: CardArgs) -> Option<Value> {
        let map = self.0.lock().ok()?;
        map.get(url)?.iter().find(|(a, _)| *a == args).map(|(_, html)| html.clone())
    }

    fn put(&self, url: String, args: CardArgs, html: Value) {
        if let Ok(mut map) = self.0.lock() {
            let cards = map.entry(url).or_default();
            match cards.iter_mut().find(|(a, _)| *a == args) {
                Some(card) => card.1 = html,
                None => cards.push((args, html)),
            }
        }
    }

    /// Drop the cards of these pages (by URL), with every argument.
    pub fn forget(&self, urls: impl Iterator<Item = String>) {
        if let Ok(mut map) = self.0.lock() {
            for url in urls {
                map.remove(&url);
            }
        }
    }

    /// Drop every card (the templates, or what cards may show besides their page, changed).
    pub fn clear(&self) {
        if let Ok(mut map) = self.0.lock() {
            map.clear();
        }
    }
}

impl tera::Function<TeraResult<Value>> for CardRenderer {
    fn call(&self, args: Kwargs, _: &State) -> TeraResult<Value> {
        let page = args
            .get::<&Value>("p")?
            .ok_or_else(|| tera::Error::message("card: missing argument `p` (the page to show)"))?;
        let flag = |name: &str, default: bool| -> TeraResult<bool> {
            Ok(args.get::<&Value>(name)?.and_then(Value::as_bool).unwrap_or(default))
        };
        let (compact, city) = (flag("compact", false)?, flag("city", true)?);
        let level = args.get::<&Value>("level")?.and_then(Value::as_i64).unwrap_or(2);
        let path = page.get_from_path("path").and_then(Value::as_str).unwrap_or_default();
        let key = (compact, city, level);
        if let Some(html) = self.cache.get(path, key) {
            return Ok(html);
        }
        let mut ctx = tera::Context::new();
        ctx.insert_value("p", page.clone());
        ctx.insert("compact", &compact);
        ctx.insert("city", &city);
        ctx.insert("level", &level);
        let tera = self
            .templates
            .0
            .get()
            .and_then(std::sync::Weak::upgrade)
            .ok_or_else(|| tera::Error::message("card: the templates are gone"))?;
        if IN_CARD.replace(true) {
            return Err(tera::Error::message(format!(
                "card: {CARD_TEMPLATE} calls card() itself; a card cannot contain cards"
            )));
        }
        /// Clears [`IN_CARD`] however the render ends.
        struct Leave;
        impl Drop for Leave {
            fn drop(&mut self) {
                IN_CARD.set(false);
            }
        }
        let rendered = {
            let _leave = Leave;
            tera.render_component(CARD_COMPONENT, &ctx, None, true)
        };
        let html = Value::safe_string(&rendered?);
        // An unlisted value (no `path`) is rendered but not kept.
        if !path.is_empty() {
            self.cache.put(path.to_string(), key, html.clone());
        }
        Ok(html)
    }

    fn is_safe(&self) -> bool {
        true
    }
}

/// `get_url(path=…, cachebust=…)`: a page's, section's (`@/…`) or static file's URL.
struct GetUrl {
    /// Site-relative URL of each content file (`venues/x.md`), when templates use `@/` links.
    links: HashMap<String, String>,
    asset_hashes: HashMap<String, String>,
    prefix: String,
}

impl tera::Function<TeraResult<Value>> for GetUrl {
    fn call(&self, args: Kwargs, _: &State) -> TeraResult<Value> {
        let path = match args.get::<&Value>("path")? {
            Some(v) if v.is_string() => v.as_str().unwrap_or_default(),
            _ => return Err(tera::Error::message("missing string argument `path`")),
        };
        if let Some(rest) = path.strip_prefix("@/") {
            let (target, anchor) = rest.split_once('#').map_or((rest, None), |(t, a)| (t, Some(a)));
            let url = self
                .links
                .get(target)
                .ok_or_else(|| tera::Error::message(format!("get_url: no content file `{path}`")))?;
            return Ok(Value::from(match anchor {
                Some(a) => format!("{url}#{a}"),
                None => url.clone(),
            }));
        }
        if path.starts_with("http://") || path.starts_with("https://") {
            return Ok(Value::from(path));
        }
        let (prefix, rel) = (&self.prefix, path.trim_start_matches('/'));
        if args.get::<&Value>("cachebust")?.and_then(Value::as_bool) == Some(true) {
            let hash = self.asset_hashes.get(rel).ok_or_else(|| {
                tera::Error::message(format!(
                    "get_url: cachebust=true for `{path}`, which is not a static file of the theme or site"
                ))
            })?;
            return Ok(Value::from(format!("{prefix}/{rel}?h={hash}")));
        }
        Ok(Value::from(format!("{prefix}/{rel}")))
    }
}

/// `city_link(name="郑州")`: the city's full name (郑州市), linked to its page when the site
/// has one; nothing for a name that is not one of the cities. Safe HTML, made once per
/// city: the type templates show a page's cities in their facts box, and looking the name up
/// in `cities` with a template loop cost more than the rest of the box.
struct CityLink(HashMap<&'static str, Value>);

impl CityLink {
    fn new(site: &Site) -> Self {
        use super::markdown::escape_html as esc;
        let html = crate::model::portal::CITIES
            .iter()
            .map(|&(short, full)| {
                let html = match site.city_page(short) {
                    Some(i) => format!(r#"<a href="{}">{}</a>"#, esc(&site.url(&site.pages[i].path)), esc(full)),
                    None => esc(full),
                };
                (short, Value::safe_string(&html))
            })
            .collect();
        CityLink(html)
    }
}

impl tera::Function<TeraResult<Value>> for CityLink {
    fn call(&self, args: Kwargs, _: &State) -> TeraResult<Value> {
        let name = args.get::<&Value>("name")?.and_then(Value::as_str).unwrap_or_default();
        Ok(self.0.get(name).cloned().unwrap_or_else(|| Value::safe_string("")))
    }

    fn is_safe(&self) -> bool {
        true
    }
}

/// `get_taxonomy_url(kind="tags", name="科技馆")`: a term's page, as in Zola. An unknown
/// taxonomy or term is an error naming the close ones.
struct TaxonomyUrl(HashMap<String, HashMap<String, String>>);

impl TaxonomyUrl {
    fn new(site: &Site) -> Self {
        TaxonomyUrl(
            site.taxonomies
                .iter()
                .map(|t| {
                    let terms = t.terms.iter().map(|term| (term.name.clone(), site.url(&format!("/{}/{}/", t.slug, term.slug)))).collect();
                    (t.name.clone(), terms)
                })
                .collect(),
        )
    }
}

impl tera::Function<TeraResult<Value>> for TaxonomyUrl {
    fn call(&self, args: Kwargs, _: &State) -> TeraResult<Value> {
        let kind = string_arg(&args, "kind")?;
        let name = string_arg(&args, "name")?;
        let terms = self.0.get(&kind).ok_or_else(|| {
            let mut kinds: Vec<&str> = self.0.keys().map(String::as_str).collect();
            kinds.sort_unstable();
            tera::Error::message(format!("get_taxonomy_url: no taxonomy `{kind}` (taxonomies: {})", kinds.join(", ")))
        })?;
        match terms.get(&name) {
            Some(url) => Ok(Value::from(url.as_str())),
            None if args.get::<bool>("required")? == Some(false) => Ok(Value::none()),
            None => {
                let close = super::components::close_names(&name, terms.keys().map(String::as_str));
                let mut message = format!("get_taxonomy_url: no term “{name}” in `{kind}`");
                if let Some(c) = close.first() {
                    message.push_str(&format!("; did you mean “{c}”?"));
                }
                Err(tera::Error::message(message))
            }
        }
    }
}

/// `page_by_title(title="郑州科技馆")`: the listing value of the page with that title (for the
/// `card` and `ref` components). An unknown title is an error naming the close ones.
#[derive(Clone)]
pub struct PageByTitle {
    refs: PageRefs,
    /// Title → page position (the first page of a title; titles of typed pages are unique).
    by_title: Arc<HashMap<String, usize>>,
}

impl PageByTitle {
    fn new(site: &Site, refs: &PageRefs) -> Self {
        let mut by_title = HashMap::new();
        for (i, p) in site.pages.iter().enumerate() {
            by_title.entry(p.title.clone()).or_insert(i);
        }
        PageByTitle { refs: refs.clone(), by_title: Arc::new(by_title) }
    }

    fn find(&self, title: &str) -> TeraResult<usize> {
        self.by_title.get(title).copied().ok_or_else(|| {
            let close = crate::model::validate::alike(title, self.by_title.keys().map(|t| (t.as_str(), t.as_str())));
            let mut message = format!("no page titled “{title}”");
            if !close.is_empty() {
                message.push_str(&format!("; did you mean {}?", close.iter().map(|c| format!("“{c}”")).collect::<Vec<_>>().join(" or ")));
            }
            tera::Error::message(message)
        })
    }

    /// The listing value of the page titled `title`, if there is one (what the function gives,
    /// without its copy).
    pub fn get(&self, title: &str) -> Option<&Value> {
        self.by_title.get(title).map(|&i| self.refs.get(i))
    }
}

impl tera::Function<TeraResult<Value>> for PageByTitle {
    fn call(&self, args: Kwargs, _: &State) -> TeraResult<Value> {
        let title = string_arg(&args, "title")?;
        Ok(self.refs.get(self.find(&title)?).clone())
    }
}

/// `chart(title=, page=, data=, kind="bar", unit=, id=)`: a chart drawn at build time, as the
/// overview pages' (`render::charts`): the figures of the page titled `page`, or `data`
/// (`[{"label": "郑州", "value": 3}, …]`). Gives `id`, `title`, `unit`, `svg`, `rows`.
struct ChartFunction(Arc<Charts>);

impl tera::Function<TeraResult<Value>> for ChartFunction {
    fn call(&self, args: Kwargs, _: &State) -> TeraResult<Value> {
        let text = |name: &'static str| args.get::<&str>(name);
        let spec = ChartSpec {
            kind: args.get::<&str>("kind")?.unwrap_or("bar"),
            unit: args.get::<&str>("unit")?.unwrap_or(""),
            page: args.get::<&str>("page")?,
            data: args.get::<&Value>("data")?,
            text: &text,
        };
        Ok(Value::from_serializable(&self.0.draw(&spec)?))
    }
}

/// What the `chart` function is asked for, by argument.
pub struct ChartSpec<'a> {
    pub kind: &'a str,
    pub unit: &'a str,
    pub page: Option<&'a str>,
    pub data: Option<&'a Value>,
    /// `title` and `id`, read when they are needed (so a mistake is reported in the order it
    /// always was).
    pub text: &'a dyn Fn(&'static str) -> TeraResult<Option<&'a str>>,
}

/// The charts the `chart` function draws: the figures of every page, found by its title.
pub struct Charts {
    by_title: PageByTitle,
    figures: Vec<Vec<crate::model::portal::Figure>>,
}

impl Charts {
    /// The chart `spec` asks for, drawn, or the error the `chart` function reports.
    pub fn draw(&self, spec: &ChartSpec<'_>) -> TeraResult<super::charts::RenderedChart> {
        let (chart, id) = self.chart(spec)?;
        Ok(super::charts::render_with_id(&chart, id))
    }

    /// The chart `spec` asks for and its element id, not yet drawn.
    pub fn chart(&self, spec: &ChartSpec<'_>) -> TeraResult<(crate::model::portal::Chart, String)> {
        let (kind, unit) = (spec.kind, spec.unit.to_string());
        let (title, points): (String, Vec<(String, f64)>) = match (spec.page, spec.data) {
            (Some(title), None) => {
                let i = self.by_title.find(title)?;
                let points = self.figures[i].iter().map(|f| (f.label.clone(), f.value)).collect::<Vec<_>>();
                if points.is_empty() {
                    return Err(tera::Error::message(format!("chart: “{title}” has no [[figures]] to draw")));
                }
                ((spec.text)("title")?.unwrap_or(title).to_string(), points)
            }
            (None, Some(data)) => {
                let rows = data.as_array().ok_or_else(|| tera::Error::message("chart: `data` must be a list of {\"label\": …, \"value\": …}"))?;
                let mut points = Vec::with_capacity(rows.len());
                for r in rows {
                    let label = entry(r, "label").and_then(Value::as_str);
                    let value = entry(r, "value").filter(|v| v.is_number()).and_then(Value::as_f64);
                    match (label, value) {
                        (Some(l), Some(v)) => points.push((l.to_string(), v)),
                        _ => return Err(tera::Error::message(format!("chart: each item of `data` needs a text `label` and a number `value`, got `{r}`"))),
                    }
                }
                if points.is_empty() {
                    return Err(tera::Error::message("chart: `data` is empty"));
                }
                let title = (spec.text)("title")?.ok_or_else(|| tera::Error::message("chart: a chart of `data` needs a `title`"))?;
                (title.to_string(), points)
            }
            _ => return Err(tera::Error::message("chart: give either page=\"a page's title\" (its [[figures]]) or data={[…]}")),
        };
        Self::chart_of_points(title, points, kind, unit, || (spec.text)("id"))
    }

    /// The chart of `points` (label, value), titled `title`, as a `kind` (`bar` or `line`)
    /// chart, and its element id: `id()`, else one made from the title. The `chart` function's
    /// data once read, or a content call's literal data read straight from the call.
    pub fn chart_of_points<'i>(
        title: String,
        points: Vec<(String, f64)>,
        kind: &str,
        unit: String,
        id: impl FnOnce() -> TeraResult<Option<&'i str>>,
    ) -> TeraResult<(crate::model::portal::Chart, String)> {
        if kind != "bar" && kind != "line" {
            return Err(tera::Error::message(format!("chart: kind must be \"bar\" or \"line\", not \"{kind}\"")));
        }
        use crate::model::portal::{Chart, ChartKind, ChartPoint};
        let chart = if points.iter().all(|(_, v)| v.is_finite()) {
            let kind = if kind == "bar" { ChartKind::Bar } else { ChartKind::Line };
            let points = points.into_iter().map(|(label, value)| ChartPoint { label, value }).collect();
            Chart { title, kind, unit, target: None, target_label: None, points }
        } else {
            // What the chart model says of a value that is not a number (`nan`, `inf` in TOML).
            let spec = serde_json::json!({
                "title": title, "kind": kind, "unit": unit,
                "points": points.iter().map(|(l, v)| serde_json::json!({"label": l, "value": v})).collect::<Vec<_>>(),
            });
            serde_json::from_value::<Chart>(spec).map_err(|e| tera::Error::message(format!("chart: {e}")))?
        };
        let title = &chart.title;
        let id = id()?.map(str::to_string).unwrap_or_else(|| "chart-".to_string() + &crate::model::slug::slugify(title));
        Ok((chart, id))
    }
}

/// Entry `key` of `r` when `r` is a map: a point of a chart's data has two, looked through
/// rather than looked up by hash.
fn entry<'v>(r: &'v Value, key: &str) -> Option<&'v Value> {
    r.as_map()?.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v)
}

/// `cn_number`: 300000 → `30万`, 125000000 → `1.25亿`, 4400 → `4400`; how Chinese readers
/// read large figures.
fn cn_number_filter(value: &Value, _: Kwargs, _: &State) -> Value {
    match value.as_f64() {
        Some(n) if value.is_number() => Value::from(cn_number(n)),
        _ => value.clone(),
    }
}

/// Format a number the Chinese way (万, 亿), at most two decimals.
pub fn cn_number(n: f64) -> String {
    super::charts::compact(n)
}

fn string_arg(args: &Kwargs, name: &str) -> TeraResult<String> {
    match args.get::<&Value>(name)? {
        Some(v) if v.is_string() => Ok(v.as_str().unwrap_or_default().to_string()),
        _ => Err(tera::Error::message(format!("missing string argument `{name}`"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(name: &str, text: &str) -> TemplateSource {
        TemplateSource { name: name.into(), text: text.into(), display_path: name.into(), from_theme: false }
    }

    fn deps(text: &str) -> TemplateDependencies {
        let mut t = BTreeMap::new();
        t.insert("x.html".to_string(), source("x.html", text));
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

    #[test]
    fn lookups_are_followed_through_extends_includes_and_components() {
        let mut t = BTreeMap::new();
        for (name, text) in [
            ("base.html", "<html>{% block content %}{% endblock content %}</html>"),
            ("index.html", "{% extends \"base.html\" %}{% block content %}{% include \"partials/list.html\" %}{% endblock content %}"),
            ("partials/list.html", "{% set s = get_section(path=\"venues/_index.md\") %}"),
            ("page.html", "{% extends \"base.html\" %}"),
            ("section.html", "{% extends \"base.html\" %}{% block content %}{{ <lists.all /> }}{% endblock content %}"),
            ("partials/lists.html", "{% component lists.all() %}{{ get_page(path=\"a.md\").title }}{% endcomponent lists.all %}"),
        ] {
            t.insert(name.to_string(), source(name, text));
        }
        let r = TemplateReach::of(&t);
        assert!(r.lookups.contains("index.html") && r.lookups.contains("partials/list.html"));
        assert!(r.lookups.contains("section.html"), "through the component it calls");
        assert!(!r.lookups.contains("page.html") && !r.lookups.contains("base.html"));
    }

    #[test]
    fn card_renders_the_component_once_per_page_and_arguments() {
        let card = r#"{% component cards.card(p, compact=false, city=true, level=2) %}<li><h{{ level + 1 }}>{{ p.title }}</h{{ level + 1 }}>{% if city %}{{ p.city }}{% endif %}{% if not compact %}<p>{{ p.summary }}</p>{% endif %}</li>{% endcomponent cards.card %}"#;
        let mut tera = Tera::default();
        tera.autoescape_on(vec![".html"]);
        tera.register_function("card", unbound);
        tera.add_raw_templates(vec![
            (CARD_TEMPLATE, card),
            (
                "component.html",
                r#"{% for p in pages %}{{ <cards.card p={p} compact={loop.first} city={not loop.last} level={loop.index} /> }}{% endfor %}"#,
            ),
            (
                "function.html",
                r#"{% for p in pages %}{{ card(p=p, compact=loop.first, city=not loop.last, level=loop.index) }}{% endfor %}"#,
            ),
        ])
        .unwrap();
        let templates = CardSlot::default();
        tera.register_function("card", CardRenderer { templates: templates.clone(), cache: Default::default() });
        let tera = Arc::new(tera);
        templates.fill(&tera);
        #[derive(serde::Serialize)]
        struct P {
            path: &'static str,
            title: &'static str,
            city: &'static str,
            summary: &'static str,
        }
        let page = |path, title| P { path, title, city: "郑州市", summary: "<b>科普</b>" };
        let mut ctx = tera::Context::new();
        ctx.insert("pages", &vec![page("/a/", "甲"), page("/b/", "乙 & 丙"), page("/a/", "甲"), page("/c/", "丁")]);
        let direct = tera.render("component.html", &ctx).unwrap();
        assert!(direct.contains("乙 &amp; 丙") && direct.contains("&lt;b&gt;"), "{direct}");
        // Twice: the second render takes every card from the cache.
        assert_eq!(tera.render("function.html", &ctx).unwrap(), direct);
        assert_eq!(tera.render("function.html", &ctx).unwrap(), direct);
    }

    #[test]
    fn errors_name_the_template_line_and_column_as_written() {
        let mut t = BTreeMap::new();
        t.insert("a.html".to_string(), source("a.html", "x\n{% for i in [1] %}{{ i }}{% endfor %}{{ i | nope }}\n"));
        let Err(diags) = compile(&t) else { panic!("an unknown filter is an error when loading") };
        let d = &diags.0[0];
        assert!(d.message.contains("nope"), "{d:?}");
        assert_eq!((d.line, d.column), (Some(2), Some(45)), "{d:?}");
        assert_eq!(d.file.as_deref(), Some(std::path::Path::new("a.html")));
    }
}
