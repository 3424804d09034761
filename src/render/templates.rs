//! Tera set-up: the theme's and site's templates, and the functions templates call
//! (`get_page`, `get_section`, `get_pages`, `count_pages`, `get_taxonomy`, `get_url`; `get_url(path=…, cachebust=true)`
//! appends `?h=` and a hash of the static file's content; `city_link`, and `card`, the theme's
//! card macro rendered once per listed page).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use serde_json::Value;
use tera::Tera;

use super::context::{section_ctx, PageRefs};
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::load::theme::TemplateSource;
use crate::model::Site;

/// What rendering needs from the theme alone: the templates compiled ([`compile`]) and the
/// content hashes of the static files (`get_url(…, cachebust=true)`). `kepu serve` keeps it
/// while the theme and static files do not change, and [`bind`]s it to each rebuilt site
/// (parsing and hashing cost more than a small rebuild's rendering).
pub struct Compiled {
    pub tera: Tera,
    pub asset_hashes: HashMap<String, String>,
    /// What the templates read from the site, found once by reading them.
    pub deps: TemplateDependencies,
}

impl Compiled {
    /// Compile the templates of `assets` and hash its static files and the syntax stylesheet.
    pub fn new(assets: &crate::load::theme::Assets) -> Result<Self, Diagnostics> {
        let tera = compile(&assets.templates)?;
        let syntax_css = super::markdown::syntax_css();
        let asset_hashes = asset_hashes(assets, &[("css/syntax.css", syntax_css.as_bytes())]);
        Ok(Compiled { tera, asset_hashes, deps: TemplateDependencies::of(&assets.templates) })
    }
}

/// Parse every template and install the filters; errors name the template file and, for
/// syntax errors, the line.
pub fn compile(templates: &BTreeMap<String, TemplateSource>) -> Result<Tera, Diagnostics> {
    let mut tera = Tera::default();
    tera.autoescape_on(vec![".html", ".htm", ".xml"]);
    // Escape what HTML needs escaped, but leave `/` alone so URLs stay readable.
    tera.set_escape_fn(|s| super::markdown::escape_html(s));
    tera.register_filter("cn_number", cn_number_filter);
    let mut raw: Vec<(&str, &str)> = templates.values().map(|t| (t.name.as_str(), t.text.as_str())).collect();
    let card_call = card_call();
    if templates.contains_key(CARD_TEMPLATE) {
        raw.push((CARD_CALL, &card_call));
    }
    if let Err(e) = tera.add_raw_templates(raw) {
        return Err(error(&e, templates, None).into());
    }
    super::filters::install(&mut tera);
    super::guard::install(&mut tera);
    Ok(tera)
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
) -> CardSlot {
    register_functions(tera, site, deps, asset_hashes.clone(), refs)
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
/// include or import.
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
        let tag = regex::Regex::new(r#"\{%-?\s*(?:extends|include|import)\s+([^%]*)%\}"#).expect("valid regex");
        let quoted = regex::Regex::new(r#"["']([^"']+)["']"#).expect("valid regex");
        let one = |t: &TemplateSource| {
            let mut m = BTreeMap::new();
            m.insert(t.name.clone(), t.clone());
            TemplateDependencies::of(&m)
        };
        let uses: BTreeMap<&str, Vec<String>> = templates
            .iter()
            .map(|(name, t)| {
                let refs = tag
                    .captures_iter(&t.text)
                    .flat_map(|c| quoted.captures_iter(c.get(1).map_or("", |m| m.as_str())).map(|q| q[1].to_string()).collect::<Vec<_>>())
                    .collect();
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
                crate::output::Contents::Copy(p) => short(&std::fs::read(p).ok()?),
            };
            Some((path.clone(), hash))
        })
        .collect();
    out.extend(generated.iter().map(|(path, bytes)| (path.to_string(), short(bytes))));
    out
}

/// Turn a Tera error into a diagnostic naming the template file and, where it can be found,
/// the line: from Tera's parse position, or by finding the unknown filter/variable/function in
/// the templates of the render (errors in a parent template are reported on the parent).
pub fn error(e: &tera::Error, templates: &BTreeMap<String, TemplateSource>, rendering: Option<&str>) -> Diagnostic {
    let mut chain = vec![e.to_string()];
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        chain.push(s.to_string());
        source = s.source();
    }
    let text = chain.join("\n");
    let root_cause = chain.last().cloned().unwrap_or_default();
    // Tera's parse errors carry an ASCII-art excerpt; keep only the reason after `= `.
    let reason = match root_cause.rsplit_once("= ") {
        Some((_, r)) if root_cause.contains("-->") => r.trim().to_string(),
        _ => root_cause.trim().to_string(),
    };
    let named: Vec<&String> = templates.keys().filter(|n| text.contains(&format!("'{n}'"))).collect();
    let mut location: Option<(String, usize, usize)> = None;
    if let Some((line, col)) = line_in_message(&text) {
        // A parse error: Tera names the file it was parsing.
        if let Some(name) = named.iter().find(|n| chain.iter().any(|m| m.contains(&format!("parse '{n}'")))).or(named.first()) {
            location = Some(((*name).clone(), line, col));
        }
    } else if let Some(ident) = quoted_identifier(&reason) {
        // A render error: find the template (rendered one first, then the rest) using it.
        let mut order: Vec<&String> = rendering.and_then(|r| templates.get_key_value(r)).map(|(k, _)| k).into_iter().collect();
        order.extend(named.iter().copied());
        order.extend(templates.keys());
        for name in order {
            if let Some(offset) = find_offset(&templates[name].text, &ident) {
                let (line, col) = crate::diagnostics::line_col(&templates[name].text, offset);
                location = Some((name.clone(), line, col));
                break;
            }
        }
    }
    let template = location.as_ref().map(|(n, _, _)| n.clone()).or_else(|| rendering.map(str::to_string));
    let mut d = Diagnostic::error(format!("template error: {reason}"))
        .hint("fix the template; Tera syntax: https://keats.github.io/tera/docs/");
    if let Some(name) = template {
        d = d.field(name.clone());
        match templates.get(&name) {
            Some(src) => {
                d = d.file(&src.display_path);
                if let Some((_, line, col)) = location {
                    let offset = crate::diagnostics::line_start_offset(&src.text, line)
                        + src.text.lines().nth(line - 1).map_or(0, |l| l.chars().take(col - 1).map(char::len_utf8).sum());
                    d = d.at_offset(&src.text, offset);
                }
            }
            None => d = d.file(format!("templates/{name}")),
        }
    }
    d
}

/// The name in `Filter 'x' not found`, "Variable `x` not found", `Function 'x' not found`.
fn quoted_identifier(reason: &str) -> Option<String> {
    let re = regex::Regex::new(
        r"(?:Filter|Function|Test|Variable|Macro|macro|include of) [`'](\S+?)[`'] (?:not found|would make|is nested)",
    )
    .ok()?;
    Some(re.captures(reason)?[1].to_string())
}

/// Byte offset of the first occurrence of `needle` on a line with a `{{ }}`/`{% %}` tag.
fn find_offset(text: &str, needle: &str) -> Option<usize> {
    let mut start = 0;
    for l in text.split_inclusive('\n') {
        if let Some(pos) = l.find(needle).filter(|_| l.contains("{{") || l.contains("{%")) {
            return Some(start + pos);
        }
        start += l.len();
    }
    None
}

fn line_in_message(text: &str) -> Option<(usize, usize)> {
    let re = regex::Regex::new(r"--> (\d+):(\d+)").ok()?;
    let c = re.captures(text)?;
    Some((c[1].parse().ok()?, c[2].parse().ok()?))
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
    /// The value as JSON text → pages with that value.
    by_value: HashMap<String, Vec<usize>>,
    /// Pages where the attribute is present and not null.
    present: Vec<usize>,
}

impl Lookup {
    fn section(&self, path: &str) -> Option<Value> {
        let (head, pages, full) = self.sections.get(path)?;
        Some(
            full.get_or_init(|| {
                let mut v = head.clone();
                v["pages"] = self.refs.listed(pages);
                v
            })
            .clone(),
        )
    }

    /// `get_pages(section="venues/_index.md", attribute="typed.city", value="郑州", limit=4)`:
    /// a section's pages (in its order) whose dotted attribute equals `value` (or, without
    /// `value`, is present and not null), at most `limit` of them. Unlike filtering
    /// `get_section(…).pages` in the template, it copies only the pages it returns: Tera copies
    /// a `set` variable's whole value each time a template reads it, which on a section of
    /// thousands of pages costs milliseconds per read.
    fn pages_of(&self, args: &HashMap<String, Value>) -> tera::Result<Value> {
        let limit = match args.get("limit") {
            None => usize::MAX,
            Some(v) => v.as_u64().ok_or_else(|| format!("get_pages: `limit` must be a whole number, got `{v}`"))? as usize,
        };
        let found = self.matching(args, "get_pages")?;
        Ok(Value::Array(found.iter().take(limit).map(|&i| self.refs.get(i).clone()).collect()))
    }

    /// `count_pages(section=…, attribute=…, value=…)`: how many pages `get_pages` would give
    /// without a limit, without copying any.
    fn count_of(&self, args: &HashMap<String, Value>) -> tera::Result<Value> {
        Ok(Value::from(self.matching(args, "count_pages")?.len()))
    }

    /// The positions of the pages of `section=` matching `attribute=`/`value=`, in the
    /// section's order.
    fn matching(&self, args: &HashMap<String, Value>, function: &str) -> tera::Result<Vec<usize>> {
        let path = string_arg(args, "section")?;
        let (_, pages, _) = self
            .sections
            .get(path.trim_start_matches("@/"))
            .ok_or_else(|| format!("{function}: no section `{path}` (use e.g. \"venues/_index.md\")"))?;
        let attribute = match args.get("attribute") {
            None => return Ok(pages.clone()),
            Some(Value::String(a)) => a,
            Some(other) => return Err(format!("{function}: `attribute` must be a string, got `{other}`").into()),
        };
        let grouped = self.grouped(path.trim_start_matches("@/"), attribute, pages);
        Ok(match args.get("value") {
            None | Some(Value::Null) => grouped.present.clone(),
            Some(v) => grouped.by_value.get(&v.to_string()).cloned().unwrap_or_default(),
        })
    }

    fn grouped(&self, section: &str, attribute: &str, pages: &[usize]) -> Arc<Grouped> {
        let key = (section.to_string(), attribute.to_string());
        if let Some(g) = self.groups.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return g.clone();
        }
        let mut g = Grouped::default();
        for &i in pages {
            match tera::dotted_pointer(self.refs.get(i), attribute) {
                None | Some(Value::Null) => {}
                Some(v) => {
                    g.present.push(i);
                    g.by_value.entry(v.to_string()).or_default().push(i);
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
                let mut v = head.clone();
                if let Some(items) = v["items"].as_array_mut() {
                    for (item, pages) in items.iter_mut().zip(term_pages) {
                        item["pages"] = self.refs.listed(pages);
                    }
                }
                v
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
) -> CardSlot {
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
            let head = serde_json::to_value(section_ctx(site, s, String::new(), Vec::new())).unwrap_or(Value::Null);
            lookup.sections.insert(s.rel_path.clone(), (head, s.pages.clone(), OnceLock::new()));
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
                        "pages": [],
                    })
                })
                .collect();
            let head = serde_json::json!({ "name": t.name, "title": t.title, "path": site.url(&format!("/{}/", t.slug)), "items": items });
            let pages = t.terms.iter().map(|term| term.pages.clone()).collect();
            lookup.taxonomies.insert(t.name.clone(), (head, pages, OnceLock::new()));
        }
    }
    let lookup = Arc::new(lookup);
    let l = lookup.clone();
    tera.register_function("get_page", move |args: &HashMap<String, Value>| {
        let path = string_arg(args, "path")?;
        match l.pages.get(path.trim_start_matches("@/")) {
            Some(&i) => Ok(l.refs.get(i).clone()),
            None => Err(format!("get_page: no page `{path}`").into()),
        }
    });
    let l = lookup.clone();
    tera.register_function("get_section", move |args: &HashMap<String, Value>| {
        let path = string_arg(args, "path")?;
        let rel = path.trim_start_matches("@/");
        let found = if matches!(args.get("metadata_only"), Some(Value::Bool(true))) {
            l.sections.get(rel).map(|(head, _, _)| head.clone())
        } else {
            l.section(rel)
        };
        found.ok_or_else(|| format!("get_section: no section `{path}` (use e.g. \"venues/_index.md\")").into())
    });
    let l = lookup.clone();
    tera.register_function("get_pages", move |args: &HashMap<String, Value>| l.pages_of(args));
    let l = lookup.clone();
    tera.register_function("count_pages", move |args: &HashMap<String, Value>| l.count_of(args));
    let l = lookup.clone();
    tera.register_function("get_taxonomy", move |args: &HashMap<String, Value>| {
        let kind = string_arg(args, "kind")?;
        l.taxonomy(&kind).ok_or_else(|| format!("get_taxonomy: no taxonomy `{kind}`").into())
    });
    tera.register_function("city_link", CityLink::new(site));
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
    if tera.get_template_names().any(|n| n == CARD_CALL) {
        tera.register_function("card", CardRenderer { templates: slot.clone(), cache: refs.cards().clone() });
    }
    slot
}

/// Where the `card` function finds the templates it is registered in, once they are shared.
/// It used to render with a copy of them, and copying every template's syntax tree cost more
/// than a small `kepu serve` rebuild's rendering.
#[derive(Clone, Default)]
pub struct CardSlot(Arc<OnceLock<std::sync::Weak<Tera>>>);

impl CardSlot {
    /// Point the `card` function at `tera`, the templates it was registered in.
    pub fn fill(&self, tera: &Arc<Tera>) {
        let _ = self.0.set(Arc::downgrade(tera));
    }
}

/// The one-line template of a call of the card macro, [`CARD_CALL`].
fn card_call() -> String {
    format!(r#"{{% import "{CARD_TEMPLATE}" as cards %}}{{{{ cards::card(p=p, compact=compact, city=city, level=level) }}}}"#)
}

thread_local! {
    /// Set while this thread renders a card: a card that asks for cards is an error, not an
    /// endless recursion.
    static IN_CARD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The theme's card partial: a macro `card(p, compact=false, city=true, level=2)`.
pub const CARD_TEMPLATE: &str = "partials/card.html";
/// A template of one call of the card macro, rendered by [`CardRenderer`]. Tera decides
/// escaping by the name of the template it renders, so the name must end in `.html`.
const CARD_CALL: &str = "__kepu_card_call.html";

/// `card(p=page, compact=…, city=…, level=…)`: the `card` macro of `partials/card.html`
/// (the site's own when it overrides the theme's) for a listed page, rendered once per page
/// and arguments and then reused. A page is listed in its section's pager, in every term
/// page of its tags, in the related lists of the pages it relates to and on the home page:
/// rendering its card anew each time was most of the time of every list page. The result
/// depends only on the arguments, so a reused card is byte for byte a fresh one; the cache
/// is the [`CardCache`] of the [`PageRefs`] the templates are bound to.
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

/// Each page's cards (by URL), one per set of arguments it was shown with.
type CardsByUrl = HashMap<String, Vec<(CardArgs, Arc<str>)>>;
/// A card's arguments besides its page: (compact, city, level).
type CardArgs = (bool, bool, i64);

impl CardCache {
    fn get(&self, url: &str, args: CardArgs) -> Option<Arc<str>> {
        let map = self.0.lock().ok()?;
        map.get(url)?.iter().find(|(a, _)| *a == args).map(|(_, html)| html.clone())
    }

    fn put(&self, url: String, args: CardArgs, html: Arc<str>) {
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

/// The argument `name` of a `call_cow` call, where the template has it.
fn named_arg<'v>(args: &'v [(&str, std::borrow::Cow<'_, Value>)], name: &str) -> Option<&'v Value> {
    args.iter().find(|(n, _)| *n == name).map(|(_, v)| &**v)
}

impl tera::Function for CardRenderer {
    fn call(&self, args: &HashMap<String, Value>) -> tera::Result<Value> {
        self.card(|name| args.get(name))
    }

    /// The page value is read where the template has it: copying it for every call cost
    /// more than looking its card up.
    fn call_cow(&self, args: Vec<(&str, std::borrow::Cow<'_, Value>)>) -> tera::Result<Value> {
        self.card(|name| named_arg(&args, name))
    }

    fn is_safe(&self) -> bool {
        true
    }
}

impl CardRenderer {
    /// `card(p=…, compact=…, city=…, level=…)` with its arguments looked up by `arg`.
    fn card<'v>(&self, arg: impl Fn(&str) -> Option<&'v Value>) -> tera::Result<Value> {
        let page = arg("p").ok_or("card: missing argument `p` (the page to show)")?;
        let flag = |name: &str, default: bool| arg(name).and_then(Value::as_bool).unwrap_or(default);
        let (compact, city) = (flag("compact", false), flag("city", true));
        let level = arg("level").and_then(Value::as_i64).unwrap_or(2);
        let path = page.get("path").and_then(Value::as_str).unwrap_or_default();
        let key = (compact, city, level);
        let html = match self.cache.get(path, key) {
            Some(html) => html,
            None => {
                let mut ctx = tera::Context::new();
                super::context::put(&mut ctx, "p", page.clone()); // a copy; `insert` would serialize it
                ctx.insert("compact", &compact);
                ctx.insert("city", &city);
                ctx.insert("level", &level);
                let tera = self.templates.0.get().and_then(std::sync::Weak::upgrade).ok_or("card: the templates are gone")?;
                if IN_CARD.replace(true) {
                    return Err(format!("card: {CARD_TEMPLATE} calls card() itself; a card cannot contain cards").into());
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
                    tera.render(CARD_CALL, &ctx)
                };
                let html: Arc<str> = rendered.map_err(|e| {
                    let mut message = format!("card: rendering {CARD_TEMPLATE} failed");
                    let mut source: Option<&dyn std::error::Error> = Some(&e);
                    while let Some(err) = source {
                        message.push_str(&format!(": {err}"));
                        source = err.source();
                    }
                    tera::Error::msg(message)
                })?.into();
                // An unlisted value (no `path`) is rendered but not kept.
                if !path.is_empty() {
                    self.cache.put(path.to_string(), key, html.clone());
                }
                html
            }
        };
        Ok(Value::String(html.to_string()))
    }
}

/// `get_url(path=…, cachebust=…)`: a page's, section's (`@/…`) or static file's URL. A page
/// calls it several times (brand, menu, footer, scripts); it reads its arguments in place
/// (`call_cow`) rather than from the map Tera's default call copies them into.
struct GetUrl {
    /// Site-relative URL of each content file (`venues/x.md`), when templates use `@/` links.
    links: HashMap<String, String>,
    asset_hashes: HashMap<String, String>,
    prefix: String,
}

impl GetUrl {
    fn url<'v>(&self, arg: impl Fn(&str) -> Option<&'v Value>) -> tera::Result<Value> {
        let path = match arg("path") {
            Some(Value::String(s)) => s.as_str(),
            _ => return Err("missing string argument `path`".into()),
        };
        if let Some(rest) = path.strip_prefix("@/") {
            let (target, anchor) = rest.split_once('#').map_or((rest, None), |(t, a)| (t, Some(a)));
            let url = self.links.get(target).ok_or_else(|| format!("get_url: no content file `{path}`"))?;
            return Ok(Value::String(match anchor {
                Some(a) => format!("{url}#{a}"),
                None => url.clone(),
            }));
        }
        if path.starts_with("http://") || path.starts_with("https://") {
            return Ok(Value::String(path.to_string()));
        }
        let (prefix, rel) = (&self.prefix, path.trim_start_matches('/'));
        if matches!(arg("cachebust"), Some(Value::Bool(true))) {
            let hash = self.asset_hashes.get(rel).ok_or_else(|| {
                format!("get_url: cachebust=true for `{path}`, which is not a static file of the theme or site")
            })?;
            return Ok(Value::String(format!("{prefix}/{rel}?h={hash}")));
        }
        Ok(Value::String(format!("{prefix}/{rel}")))
    }
}

impl tera::Function for GetUrl {
    fn call(&self, args: &HashMap<String, Value>) -> tera::Result<Value> {
        self.url(|name| args.get(name))
    }

    fn call_cow(&self, args: Vec<(&str, std::borrow::Cow<'_, Value>)>) -> tera::Result<Value> {
        self.url(|name| named_arg(&args, name))
    }
}

/// `city_link(name="郑州")`: the city's full name (郑州市), linked to its page when the site
/// has one; nothing for a name that is not one of the cities. Safe HTML, made once per
/// city: the type templates show a page's cities in their facts box, and looking the name up
/// in `cities` with a template loop cost more than the rest of the box.
struct CityLink(HashMap<&'static str, String>);

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
                (short, html)
            })
            .collect();
        CityLink(html)
    }
}

impl CityLink {
    fn link(&self, name: Option<&Value>) -> Value {
        let name = name.and_then(Value::as_str).unwrap_or_default();
        Value::String(self.0.get(name).cloned().unwrap_or_default())
    }
}

impl tera::Function for CityLink {
    fn call(&self, args: &HashMap<String, Value>) -> tera::Result<Value> {
        Ok(self.link(args.get("name")))
    }

    /// Reads the name in place: a facts box calls this for each of its cities.
    fn call_cow(&self, args: Vec<(&str, std::borrow::Cow<'_, Value>)>) -> tera::Result<Value> {
        Ok(self.link(named_arg(&args, "name")))
    }

    fn is_safe(&self) -> bool {
        true
    }
}

/// `cn_number`: 300000 → `30万`, 125000000 → `1.25亿`, 4400 → `4400`; how Chinese readers
/// read large figures.
fn cn_number_filter(value: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    let Some(n) = value.as_f64() else { return Ok(value.clone()) };
    Ok(Value::String(cn_number(n)))
}

/// Format a number the Chinese way (万, 亿), at most two decimals.
pub fn cn_number(n: f64) -> String {
    super::charts::compact(n)
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

    #[test]
    fn lookups_are_followed_through_extends_and_includes() {
        let mut t = BTreeMap::new();
        for (name, text) in [
            ("base.html", "<html>{% block content %}{% endblock content %}</html>"),
            ("index.html", "{% extends \"base.html\" %}{% block content %}{% include \"partials/list.html\" %}{% endblock content %}"),
            ("partials/list.html", "{% set s = get_section(path=\"venues/_index.md\") %}"),
            ("page.html", "{% extends \"base.html\" %}"),
        ] {
            t.insert(name.to_string(), TemplateSource { name: name.into(), text: text.into(), display_path: name.into() });
        }
        let r = TemplateReach::of(&t);
        assert!(r.lookups.contains("index.html") && r.lookups.contains("partials/list.html"));
        assert!(!r.lookups.contains("page.html") && !r.lookups.contains("base.html"));
    }

    #[test]
    fn card_renders_the_macro_once_per_page_and_arguments() {
        let card = r#"{% macro card(p, compact=false, city=true, level=2) %}<li><h{{ level + 1 }}>{{ p.title }}</h{{ level + 1 }}>{% if city %}{{ p.city }}{% endif %}{% if not compact %}<p>{{ p.summary }}</p>{% endif %}</li>{% endmacro card %}"#;
        let mut tera = Tera::default();
        tera.autoescape_on(vec![".html"]);
        tera.add_raw_template(CARD_TEMPLATE, card).unwrap();
        tera.add_raw_template(
            "macro.html",
            r#"{% import "partials/card.html" as cards %}{% for p in pages %}{{ cards::card(p=p, compact=loop.first, city=not loop.last, level=loop.index) }}{% endfor %}"#,
        )
        .unwrap();
        tera.add_raw_template(
            "function.html",
            r#"{% for p in pages %}{{ card(p=p, compact=loop.first, city=not loop.last, level=loop.index) }}{% endfor %}"#,
        )
        .unwrap();
        tera.add_raw_template(CARD_CALL, &card_call()).unwrap();
        let templates = CardSlot::default();
        tera.register_function("card", CardRenderer { templates: templates.clone(), cache: Default::default() });
        let tera = Arc::new(tera);
        templates.fill(&tera);
        let page = |path: &str, title: &str| serde_json::json!({"path": path, "title": title, "city": "郑州市", "summary": "<b>科普</b>"});
        let mut ctx = tera::Context::new();
        ctx.insert("pages", &vec![page("/a/", "甲"), page("/b/", "乙 & 丙"), page("/a/", "甲"), page("/c/", "丁")]);
        let by_macro = tera.render("macro.html", &ctx).unwrap();
        assert!(by_macro.contains("乙 &amp; 丙") && by_macro.contains("&lt;b&gt;"), "{by_macro}");
        // Twice: the second render takes every card from the cache.
        assert_eq!(tera.render("function.html", &ctx).unwrap(), by_macro);
        assert_eq!(tera.render("function.html", &ctx).unwrap(), by_macro);
    }
}
