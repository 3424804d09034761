//! Bounds on what one template render may do, so a template mistake is an error naming the
//! template instead of a build that never ends.
//!
//! Tera 2 guards most of it itself: `range()` refuses more than 100,000 items, a component
//! that calls itself stops after 20 levels, and a template that includes itself is an error
//! when the templates are loaded. What it does not bound is the work of nested loops
//! (`{% for i in range(end=50000) %}{% for j in range(end=50000) %}…`), which runs for hours.
//! So before the templates are parsed, [`prepare`] adds a call of a small step function at the
//! start of every `{% for %}` body; it counts loop iterations per render (at most
//! [`MAX_STEPS`]) and prints nothing, so output is unchanged. Counters live in thread-locals,
//! reset by [`render_bytes`] at the start of every render; always render through it.
//!
//! The added calls move what follows them on the same line, so [`SourceMap`] remembers where
//! they are and maps positions in Tera's errors back to the template as its author wrote it.
//!
//! Templates are code written by the site's developers, not by editors: this protects against
//! their mistakes, not against a hostile template author (who could still, say, build a huge
//! string by repeated concatenation).

use std::cell::Cell;
use std::collections::HashMap;

use tera::{Context, Kwargs, State, Tera, TeraResult};

/// Loop iterations in one render.
pub const MAX_STEPS: u64 = 1_000_000;
/// Most items `range()` may produce (Tera's own limit).
pub const MAX_RANGE: usize = 100_000;

const STEP: &str = "__kepu_step";

thread_local! {
    static STEPS: Cell<u64> = const { Cell::new(0) };
}

/// Register the step function. Call before the templates are added (Tera checks, when it
/// loads a template, that every function it calls exists).
pub fn install(tera: &mut Tera) {
    tera.register_function(STEP, |_: Kwargs, _: &State| -> TeraResult<&'static str> {
        step()?;
        Ok("")
    });
}

/// Where [`prepare`] added text to each template (by Tera name), to map Tera's positions back.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    /// Tera name → the text Tera parsed and the insertions, in order.
    templates: HashMap<String, Prepared>,
}

#[derive(Debug, Clone, Default)]
struct Prepared {
    text: String,
    /// (offset in the prepared text where the insertion starts, its length, offset in the
    /// original of the `{% for %}` tag it belongs to)
    insertions: Vec<(usize, usize, usize)>,
}

impl SourceMap {
    /// The offset in the original template of `offset` in the text Tera parsed.
    pub fn original_offset(&self, name: &str, offset: usize) -> usize {
        let Some(p) = self.templates.get(name) else { return offset };
        let mut shift = 0;
        for &(at, len, tag) in &p.insertions {
            if offset < at {
                break;
            }
            if offset < at + len {
                return tag;
            }
            shift += len;
        }
        offset - shift
    }

    /// The offset in the text Tera parsed of 1-based `line` and `column` (in characters), as
    /// Tera's messages give them.
    pub fn prepared_offset(&self, name: &str, line: usize, column: usize) -> Option<usize> {
        let text = &self.templates.get(name)?.text;
        let start = crate::diagnostics::line_start_offset(text, line);
        let rest = &text[start..];
        let within: usize = rest.chars().take(column.saturating_sub(1)).map(char::len_utf8).sum();
        Some(start + within.min(rest.len()))
    }
}

/// The templates' text with a step call at the start of every loop body, by Tera name.
pub fn prepare<'a>(templates: impl Iterator<Item = (String, &'a str)>) -> (Vec<(String, String)>, SourceMap) {
    let mut out = Vec::new();
    let mut map = SourceMap::default();
    for (name, text) in templates {
        let prepared = add_steps(text);
        out.push((name.clone(), prepared.text.clone()));
        map.templates.insert(name, prepared);
    }
    (out, map)
}

/// Find the `{% for … %}` tags (outside comments and `{% raw %}`) and add a step call after
/// each. A tag that trims the whitespace after it (`-%}`) gets a call that does too, so the
/// output is the same.
fn add_steps(text: &str) -> Prepared {
    let mut out = String::with_capacity(text.len() + 64);
    let mut insertions = Vec::new();
    let mut last = 0;
    let mut i = 0;
    let bytes = text.as_bytes();
    while let Some(pos) = memchr::memchr(b'{', &bytes[i..]) {
        let start = i + pos;
        match bytes.get(start + 1) {
            Some(b'#') => {
                i = text[start..].find("#}").map_or(text.len(), |e| start + e + 2);
            }
            Some(b'%') => {
                let Some(end) = tag_end(text, start + 2) else { break };
                let inner = text[start + 2..end - 2].trim_start_matches('-').trim_end_matches('-').trim();
                let keyword = inner.split(|c: char| c.is_whitespace()).next().unwrap_or("");
                if keyword == "raw" {
                    i = find_endraw(text, end).unwrap_or(text.len());
                    continue;
                }
                if keyword == "for" {
                    out.push_str(&text[last..end]);
                    let call = if text[..end - 2].ends_with('-') {
                        format!("{{{{ {STEP}() -}}}}")
                    } else {
                        format!("{{{{ {STEP}() }}}}")
                    };
                    insertions.push((out.len(), call.len(), start));
                    out.push_str(&call);
                    last = end;
                }
                i = end;
            }
            _ => i = start + 1,
        }
        if i >= bytes.len() {
            break;
        }
    }
    out.push_str(&text[last..]);
    Prepared { text: out, insertions }
}

/// The offset just after the `%}` closing the tag whose inside starts at `from`, skipping
/// quoted strings.
fn tag_end(text: &str, from: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut quote: Option<u8> = None;
    let mut i = from;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if matches!(b, b'"' | b'\'' | b'`') => quote = Some(b),
            None if b == b'%' && bytes.get(i + 1) == Some(&b'}') => return Some(i + 2),
            None => {}
        }
        i += 1;
    }
    None
}

/// The offset after the `{% endraw %}` tag following `from`.
fn find_endraw(text: &str, from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(pos) = text[i..].find("{%") {
        let start = i + pos;
        let end = tag_end(text, start + 2)?;
        let inner = text[start + 2..end - 2].trim_matches('-').trim();
        if inner == "endraw" {
            return Some(end);
        }
        i = end;
    }
    None
}

/// Render `name` into bytes with a fresh step counter.
pub fn render_bytes(tera: &Tera, name: &str, context: &Context) -> TeraResult<Vec<u8>> {
    STEPS.with(|s| s.set(0));
    let mut out = Vec::with_capacity(16 * 1024);
    tera.render_to(name, context, &mut out)?;
    // The build holds every rendered page until the write stage: without this a 10 kB page
    // would keep its 16 kB buffer, a 17 kB one 32 kB (a 10,000-page site held about 60 MB of
    // spare capacity).
    out.shrink_to_fit();
    Ok(out)
}

/// Render `name` to a string with a fresh step counter.
pub fn render(tera: &Tera, name: &str, context: &Context) -> TeraResult<String> {
    let bytes = render_bytes(tera, name, context)?;
    String::from_utf8(bytes).map_err(tera::Error::message)
}

fn step() -> TeraResult<()> {
    let steps = STEPS.with(|s| {
        s.set(s.get() + 1);
        s.get()
    });
    if steps > MAX_STEPS {
        return Err(tera::Error::message(format!(
            "the template ran more than {MAX_STEPS} loop iterations for one page: a loop that does not end?"
        )));
    }
    Ok(())
}

/// The prepared text of each template, for tests.
#[cfg(test)]
fn prepared(text: &str) -> String {
    add_steps(text).text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tera(templates: &[(&str, &str)]) -> Tera {
        let mut t = Tera::default();
        install(&mut t);
        let (prepared, _) = prepare(templates.iter().map(|(n, s)| (n.to_string(), *s)));
        t.add_raw_templates(prepared).unwrap();
        t
    }

    fn error_text(e: &tera::Error) -> String {
        let mut text = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            text.push_str(&format!(": {s}"));
            source = s.source();
        }
        text
    }

    #[test]
    fn endless_component_recursion_is_an_error_not_a_crash() {
        let t = tera(&[(
            "a.html",
            "{% component nest(n) %}<div>{{ <nest n={n + 1} /> }}</div>{% endcomponent nest %}{{ <nest n={1} /> }}",
        )]);
        let err = render(&t, "a.html", &Context::new()).unwrap_err();
        assert!(error_text(&err).contains("recursion depth"), "{}", error_text(&err));
    }

    #[test]
    fn self_include_is_an_error_when_loading() {
        let mut t = Tera::default();
        let err = t.add_raw_templates(vec![("a.html", "x{% include \"b.html\" %}"), ("b.html", "{% include \"a.html\" %}")]);
        assert!(error_text(&err.unwrap_err()).contains("Circular include"));
    }

    #[test]
    fn bounded_recursion_and_loops_render_unchanged() {
        let src = "{% component count(n) %}{{ n }}{% if n > 0 %},{{ <count n={n - 1} /> }}{% endif %}{% endcomponent count %}\
                   {{ <count n={15} /> }}|{% for i in range(end=3) %}{{ i }}{% else %}none{% endfor %}\
                   |{% for i in range(start=2, end=9, step_by=3) -%}  {{ i }}{% endfor %}|{% include \"b.html\" %}\
                   |{% raw %}{% for x in y %}{% endraw %}|{# {% for a in b %} #}";
        let t = tera(&[("a.html", src), ("b.html", "B")]);
        let out = render(&t, "a.html", &Context::new()).unwrap();
        let expected: Vec<String> = (0..=15).rev().map(|n| n.to_string()).collect();
        assert_eq!(out, format!("{}|012|258|B|{{% for x in y %}}|", expected.join(",")));
        // A second render starts from zero again.
        assert_eq!(render(&t, "a.html", &Context::new()).unwrap(), out);
        // Raw blocks and comments are left alone.
        assert_eq!(prepared("{% raw %}{% for x in y %}{% endraw %}{# {% for a in b %} #}"), "{% raw %}{% for x in y %}{% endraw %}{# {% for a in b %} #}");
    }

    #[test]
    fn runaway_loops_and_huge_ranges_stop() {
        let t = tera(&[
            ("huge.html", "{% for i in range(end=2000000000) %}{{ i }}{% endfor %}"),
            ("nested.html", "{% for i in range(end=2000) %}{% for j in range(end=2000) %}{% endfor %}{% endfor %}"),
        ]);
        let err = error_text(&render(&t, "huge.html", &Context::new()).unwrap_err());
        assert!(err.contains(&format!("limit of {MAX_RANGE}")), "{err}");
        let err = error_text(&render(&t, "nested.html", &Context::new()).unwrap_err());
        assert!(err.contains("more than 1000000 loop iterations"), "{err}");
    }

    #[test]
    fn guards_inside_blocks_of_child_templates_work() {
        let t = tera(&[
            ("base.html", "[{% block body %}{% endblock body %}]"),
            (
                "child.html",
                "{% extends \"base.html\" %}{% block body %}{% for i in range(end=2000) %}\
                 {% for j in range(end=2000) %}{% endfor %}{% endfor %}{% endblock body %}",
            ),
        ]);
        let err = error_text(&render(&t, "child.html", &Context::new()).unwrap_err());
        assert!(err.contains("more than 1000000 loop iterations"), "{err}");
    }

    #[test]
    fn positions_map_back_to_the_original_text() {
        let text = "ab{% for i in x %}{{ i }}{% endfor %}{{ oops }}";
        let (_, map) = prepare(std::iter::once(("t".to_string(), text)));
        let p = &map.templates["t"];
        let oops = p.text.find("oops").unwrap();
        assert_eq!(map.original_offset("t", oops), text.find("oops").unwrap());
        let inserted = p.text.find(STEP).unwrap();
        assert_eq!(map.original_offset("t", inserted), 2, "inside an insertion: the for tag");
    }
}
