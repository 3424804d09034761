//! The default theme's `notice`, `ref` and `chart` components, rendered here in Rust to the
//! very bytes their templates give, for calls in content whose arguments are literals.
//!
//! Why: a page with a notice, a reference and a chart spent more time in Tera running those
//! three small templates (building their contexts, looking up `c.title` and friends, turning
//! the drawn chart into a template value and back) than drawing the chart itself; content
//! uses these three most. Rendering them directly keeps a page with components close to the
//! cost of one without.
//!
//! Only where that cannot change a byte: a component is rendered here only when the one
//! template that defines it is the theme's, exactly the text this file was written against
//! (its SHA-256 is pinned in [`PINNED`]), and no other template — the site's own above all —
//! defines a component of that name. A site that overrides one, a theme whose template was
//! edited, a call this file does not take as it is (an unknown `kind`, an unknown title, data
//! that is not a chart), all go to Tera as before, which renders them or reports the mistake
//! exactly as it always did. The tests render the same calls both ways and compare the bytes,
//! and fail when a pinned template changes, so that this file is looked at with it.

use std::collections::BTreeMap;
use std::sync::Arc;

use tera::Value;

use super::components::{Arg, Literal};
use super::markdown::push_escaped;
use super::charts;
use super::templates::{ChartSpec, Charts, PageByTitle};
use crate::load::theme::TemplateSource;

/// (component, the theme's template that defines it, SHA-256 of that template's text as this
/// file renders it).
const PINNED: [(&str, &str, &str); 3] = [
    ("notice", "components/notice.html", "611159d9532bcf558b212129839548d78aa08879942baf013a3e0d30baa690ca"),
    ("ref", "components/card.html", "82f5bd2edf8d6ffe995e28d0cf775da540c0459caeaf515e1a5f43e9fbc2f19b"),
    ("chart", "components/chart.html", "76cd083d8d25711299c3880aec5b1a9e88687580cc792ec8bf28700185870151"),
];

/// Which built-in components this build renders here, and what they read.
pub struct Builtins {
    notice: bool,
    reference: bool,
    chart: bool,
    titles: PageByTitle,
    charts: Arc<Charts>,
}

impl Builtins {
    /// The built-ins `templates` leave as the theme has them.
    pub fn new(templates: &BTreeMap<String, TemplateSource>, titles: PageByTitle, charts: Arc<Charts>) -> Self {
        let unchanged = unchanged(templates);
        let on = |name: &str| unchanged.contains(&name);
        Builtins { notice: on("notice"), reference: on("ref"), chart: on("chart"), titles, charts }
    }

    /// The HTML of component `name` called with the literal `args` (and `body`, its body's
    /// HTML), as its template renders it; `None` for anything else, which Tera then renders.
    pub fn render(&self, name: &str, args: &[Arg], body: Option<&str>) -> Option<String> {
        // Sized for what each writes (a chart about 2–3 kB, a notice its body and a line), so
        // that the markup is not copied as the string grows.
        let mut out = String::with_capacity(match name {
            "chart" => 3072,
            _ => 192 + body.map_or(0, str::len),
        });
        match name {
            "notice" if self.notice => notice(&mut out, args, body?)?,
            "ref" if self.reference && body.is_none() => self.reference(&mut out, args)?,
            "chart" if self.chart && body.is_none() => self.chart(&mut out, args)?,
            _ => return None,
        }
        Some(out)
    }

    /// `{% component ref(title: string, text: string = "") %}`: a link to the page titled
    /// `title`, with its title or `text` as the words.
    fn reference(&self, out: &mut String, args: &[Arg]) -> Option<()> {
        let [title, text] = strings(args.iter(), [("title", None), ("text", Some(""))])?;
        let (title, text) = (title?, text?);
        let page = self.titles.get(title)?;
        let path = plain_text(page.get_from_path("path")?)?;
        // {{ text or p.title }}
        let words = if text.is_empty() { plain_text(page.get_from_path("title")?)? } else { text };
        out.push_str("<a href=\"");
        escape(out, path);
        out.push_str("\">");
        escape(out, words);
        out.push_str("</a>");
        Some(())
    }

    /// `{% component chart(page: string = "", title: string = "", data: array = [], kind:
    /// string = "bar", unit: string = "") %}`: the chart drawn by the `chart` function, in a
    /// figure with its data table.
    fn chart(&self, out: &mut String, args: &[Arg]) -> Option<()> {
        let data = match args.iter().find(|a| a.name == "data") {
            Some(a) => match a.value.as_ref()? {
                Literal::List(items) => items.as_slice(),
                _ => return None,
            },
            None => &[],
        };
        let texts = args.iter().filter(|a| a.name != "data");
        let [page, title, kind, unit] = strings(texts, [("page", Some("")), ("title", Some("")), ("kind", Some("bar")), ("unit", Some(""))])?;
        let (page, title, kind, unit) = (page?, title?, kind?, unit?);
        // {% if page %}{% set c = chart(page=page, title=title or page, …) %}
        // {% else %}{% set c = chart(title=title, data=data, …) %}{% endif %}
        let (c, id) = if !page.is_empty() {
            let title = if title.is_empty() { page } else { title };
            let text = |name: &'static str| Ok(if name == "title" { Some(title) } else { None });
            self.charts.chart(&ChartSpec { kind, unit, page: Some(page), data: None, text: &text }).ok()?
        } else {
            Charts::chart_of_points(title.to_string(), points(data)?, kind, unit.to_string(), || Ok(None)).ok()?
        };
        out.push_str("<figure class=\"chart-figure\" aria-labelledby=\"");
        escape(out, &id);
        out.push_str("-caption\">\n  <figcaption id=\"");
        escape(out, &id);
        out.push_str("-caption\">");
        escape(out, &c.title);
        if !c.unit.is_empty() {
            out.push_str("<span class=\"unit\">（单位：");
            escape(out, &c.unit);
            out.push_str("）</span>");
        }
        out.push_str("</figcaption>\n  <div class=\"chart-box\">");
        charts::push_svg(out, &c, &id);
        out.push_str("</div>\n  <table class=\"chart-table\">\n    <caption class=\"visually-hidden\">");
        escape(out, &c.title);
        out.push_str("：数据表</caption>\n    <thead><tr><th scope=\"col\">项目</th><th scope=\"col\" class=\"num\">数值");
        if !c.unit.is_empty() {
            out.push('（');
            escape(out, &c.unit);
            out.push('）');
        }
        out.push_str("</th></tr></thead>\n    <tbody>");
        for p in &c.points {
            out.push_str("<tr><th scope=\"row\">");
            escape(out, &p.label);
            out.push_str("</th><td class=\"num\">");
            // (A number has nothing to escape.)
            charts::push_number(out, p.value);
            out.push_str("</td></tr>");
        }
        out.push_str("\n    </tbody>\n  </table>\n</figure>");
        Some(())
    }
}

/// The points of a chart's literal `data` (`[{"label": "郑州", "value": 3}, …]`), as the
/// `chart` function reads them; `None` for data it refuses (Tera's to report).
fn points(data: &[Literal<'_>]) -> Option<Vec<(String, f64)>> {
    let points = data
        .iter()
        .map(|item| {
            let value = match item.get("value")? {
                // As Tera's `as_f64`: a whole number beyond 2^53 is not taken.
                Literal::Integer(n) => (n.unsigned_abs() <= 1 << f64::MANTISSA_DIGITS).then_some(*n as f64)?,
                Literal::Float(f) => *f,
                _ => return None,
            };
            Some((item.get("label")?.as_str()?.to_string(), value))
        })
        .collect::<Option<Vec<_>>>()?;
    (!points.is_empty()).then_some(points)
}

/// `{% component notice(kind: string = "提示", title: string = "") %}` with a body: the note,
/// its kind written out.
fn notice(out: &mut String, args: &[Arg], body: &str) -> Option<()> {
    let [kind, title] = strings(args.iter(), [("kind", Some("提示")), ("title", Some(""))])?;
    let (kind, title) = (kind?, title?);
    let class = match kind {
        "提示" => "tip",
        "注意" => "warning",
        "温馨提示" => "info",
        // The template throws: Tera reports it.
        _ => return None,
    };
    out.push_str("<div class=\"notice notice-");
    out.push_str(class);
    out.push_str("\" role=\"note\">\n<p class=\"notice-kind\"><strong>");
    escape(out, kind);
    if !title.is_empty() {
        out.push('：');
        escape(out, title);
    }
    out.push_str("</strong></p>\n");
    out.push_str(body);
    out.push_str("</div>");
    Some(())
}

/// The text arguments `wanted` (name, default; `None`: required) from `args`, in that order;
/// `None` when an argument is not among them or is not text (Tera's to report). A required
/// one that is missing is `Some(None)` in its place, which the caller's `?` turns into `None`.
fn strings<'a, 'b: 'a, const N: usize>(args: impl Iterator<Item = &'a Arg<'b>>, wanted: [(&str, Option<&'static str>); N]) -> Option<[Option<&'a str>; N]> {
    let mut out: [Option<&'a str>; N] = wanted.map(|(_, default)| default);
    for a in args {
        let k = wanted.iter().position(|(name, _)| *name == a.name)?;
        out[k] = Some(a.value.as_ref()?.as_str()?);
    }
    Some(out)
}

/// A value that `{{ … }}` prints escaped: text, not marked safe (Tera prints safe text as it
/// is; such a value is left to Tera).
fn plain_text(v: &Value) -> Option<&str> {
    v.as_str().filter(|_| !v.is_safe())
}

/// Text as the templates print it (kepu's escape function).
fn escape(out: &mut String, s: &str) {
    push_escaped(out, s);
}

/// The built-in components that `templates` define once each, by the theme's template pinned
/// for them, unchanged.
fn unchanged(templates: &BTreeMap<String, TemplateSource>) -> Vec<&'static str> {
    let defined: Vec<(&TemplateSource, Vec<String>)> = templates.values().map(|t| (t, super::components::defined_in(&t.text))).collect();
    PINNED
        .iter()
        .filter(|(name, file, hash)| {
            let mut defining = defined.iter().filter(|(_, names)| names.iter().any(|n| n == name));
            match (defining.next(), defining.next()) {
                (Some((t, _)), None) => t.from_theme && t.name == *file && sha256_hex(&t.text) == *hash,
                _ => false,
            }
        })
        .map(|(name, _, _)| *name)
        .collect()
}

fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pinned_templates_are_the_themes() {
        let theme = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("themes/default/templates");
        for (name, file, hash) in PINNED {
            let text = std::fs::read_to_string(theme.join(file)).unwrap();
            assert_eq!(
                sha256_hex(&text),
                hash,
                "the theme's {file} changed: make `{name}` in src/render/builtin.rs write what the template now writes \
                 (tests/components.rs compares the two), then pin the template's new SHA-256 here"
            );
        }
    }

    #[test]
    fn only_the_themes_own_unchanged_templates_are_rendered_here() {
        let dir = tempfile::tempdir().unwrap();
        let assets = crate::load::theme::load_assets(dir.path(), "default").unwrap();
        assert_eq!(unchanged(&assets.templates), ["notice", "ref", "chart"]);
        let with = |name: &str, text: &str, from_theme: bool| {
            let mut templates = assets.templates.clone();
            let source = TemplateSource { name: name.into(), text: text.into(), display_path: name.into(), from_theme };
            templates.insert(name.into(), source);
            unchanged(&templates)
        };
        // The site's own copy, byte for byte the theme's: the site's, so Tera's.
        let copy = assets.templates["components/notice.html"].text.clone();
        assert_eq!(with("components/notice.html", &copy, false), ["ref", "chart"]);
        // The theme's template edited.
        assert_eq!(with("components/chart.html", &copy.replace("notice", "chart"), true), ["notice", "ref"]);
        // A component of the same name defined in another template of the site.
        let own_ref = "{% component ref(title: string) %}<b>{{ title }}</b>{% endcomponent ref %}";
        assert_eq!(with("mine.html", own_ref, false), ["notice", "chart"]);
    }
}
