//! Bounds on what one template render may do, so a template mistake is an error naming the
//! template instead of a crash or a build that never ends.
//!
//! Tera itself has no limits: a macro that calls itself without end, or a template that
//! includes itself, overflows the stack and aborts the whole process; `range(end=…)` with a
//! huge number allocates until the machine runs out of memory. Tera offers no hook for this,
//! so after the templates are parsed, [`install`] adds calls to small guard functions into
//! their syntax trees:
//!
//! - at the start and end of every macro body and around every `{% include %}`, tracking the
//!   nesting depth (at most [`MAX_DEPTH`]);
//! - at the start of every `for` loop body, counting the steps of the render (at most
//!   [`MAX_STEPS`] loop iterations, macro calls and includes per output file);
//!
//! and replaces the built-in `range` with one that refuses more than [`MAX_RANGE`] items.
//! The guards print nothing, so output is unchanged. Counters live in thread-locals, reset by
//! [`render`] at the start of every render; always render through it.
//!
//! Templates are code written by the site's developers, not by editors: this protects against
//! their mistakes, not against a hostile template author (who could still, say, build a huge
//! string by repeated concatenation).
//!
//! The syntax tree is Tera's `#[doc(hidden)]` API; if a Tera update changes it, this module
//! stops compiling, loudly, rather than silently losing the guards.

use std::cell::Cell;
use std::collections::HashMap;

use serde_json::Value;
use tera::ast::{Expr, ExprVal, FunctionCall, Node, WS};
use tera::{Context, Tera};

/// Deepest nesting of macro calls and includes. Recursive macros (a menu tree, say) rarely go
/// past ten levels.
pub const MAX_DEPTH: usize = 64;
/// Loop iterations, macro calls and includes in one render.
pub const MAX_STEPS: u64 = 1_000_000;
/// Most items `range()` may produce.
pub const MAX_RANGE: usize = 100_000;

const ENTER: &str = "__kepu_enter";
const LEAVE: &str = "__kepu_leave";
const STEP: &str = "__kepu_step";

thread_local! {
    static DEPTH: Cell<usize> = const { Cell::new(0) };
    static STEPS: Cell<u64> = const { Cell::new(0) };
}

/// Register the guard functions and the bounded `range`, and add the guard calls to every
/// parsed template. Call after all templates are added.
pub fn install(tera: &mut Tera) {
    tera.register_function(ENTER, |args: &HashMap<String, Value>| {
        step()?;
        let depth = DEPTH.with(|d| {
            d.set(d.get() + 1);
            d.get()
        });
        if depth > MAX_DEPTH {
            let name = |key: &str| args.get(key).and_then(Value::as_str).map(str::to_string);
            return Err(match (name("macro"), name("include")) {
                (Some(m), _) => format!(
                    "macro `{m}` is nested more than {MAX_DEPTH} levels deep: does it call itself without end?"
                ),
                (_, Some(t)) => format!(
                    "include of `{t}` is nested more than {MAX_DEPTH} levels deep: does a template include itself?"
                ),
                _ => format!("macros and includes are nested more than {MAX_DEPTH} levels deep"),
            }
            .into());
        }
        Ok(Value::String(String::new()))
    });
    tera.register_function(LEAVE, |_: &HashMap<String, Value>| {
        DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
        Ok(Value::String(String::new()))
    });
    tera.register_function(STEP, |_: &HashMap<String, Value>| {
        step()?;
        Ok(Value::String(String::new()))
    });
    tera.register_function("range", range);

    for template in tera.templates.values_mut() {
        guard_body(&mut template.ast);
        for m in template.macros.values_mut() {
            guard_body(&mut m.body);
            m.body.insert(0, call(ENTER, Some(("macro", &m.name))));
            m.body.push(call(LEAVE, None));
        }
        for block in template.blocks.values_mut() {
            guard_body(&mut block.body);
        }
        for levels in template.blocks_definitions.values_mut() {
            for (_, block) in levels {
                guard_body(&mut block.body);
            }
        }
    }
}

/// Render `name` with fresh counters.
pub fn render(tera: &Tera, name: &str, context: &Context) -> tera::Result<String> {
    DEPTH.with(|d| d.set(0));
    STEPS.with(|s| s.set(0));
    tera.render(name, context)
}

/// [`render`] into bytes: no second check that the whole page is UTF-8, which
/// `Tera::render` makes on every page.
pub fn render_bytes(tera: &Tera, name: &str, context: &Context) -> tera::Result<Vec<u8>> {
    DEPTH.with(|d| d.set(0));
    STEPS.with(|s| s.set(0));
    let mut out = Vec::with_capacity(16 * 1024);
    tera.render_to(name, context, &mut out)?;
    // The build holds every rendered page until the write stage: without this a 10 kB page
    // would keep its 16 kB buffer, a 17 kB one 32 kB (a 10,000-page site held about 60 MB of
    // spare capacity).
    out.shrink_to_fit();
    Ok(out)
}

fn step() -> tera::Result<()> {
    let steps = STEPS.with(|s| {
        s.set(s.get() + 1);
        s.get()
    });
    if steps > MAX_STEPS {
        return Err(format!(
            "the template ran more than {MAX_STEPS} loop iterations, macro calls and includes for one page: a loop or recursion that does not end?"
        )
        .into());
    }
    Ok(())
}

/// `{{ name(key="value") }}`: the guard calls carry the macro's or included template's name
/// for the error message.
fn call(name: &str, arg: Option<(&str, &str)>) -> Node {
    let args = arg
        .map(|(k, v)| (k.to_string(), Expr::new(ExprVal::String(v.to_string()))))
        .into_iter()
        .collect();
    Node::VariableBlock(WS::default(), Expr::new(ExprVal::FunctionCall(FunctionCall { name: name.to_string(), args })))
}

/// Add guard calls inside `body`: a step at the start of each loop body, enter/leave around
/// each include.
fn guard_body(body: &mut Vec<Node>) {
    let mut i = 0;
    while i < body.len() {
        match &mut body[i] {
            Node::Include(_, names, _) => {
                let name = names.first().cloned().unwrap_or_default();
                body.insert(i, call(ENTER, Some(("include", &name))));
                body.insert(i + 2, call(LEAVE, None));
                i += 3;
                continue;
            }
            Node::Forloop(_, for_loop, _) => {
                guard_body(&mut for_loop.body);
                for_loop.body.insert(0, call(STEP, None));
                if let Some(empty) = &mut for_loop.empty_body {
                    guard_body(empty);
                }
            }
            Node::If(cond, _) => {
                for (_, _, b) in &mut cond.conditions {
                    guard_body(b);
                }
                if let Some((_, b)) = &mut cond.otherwise {
                    guard_body(b);
                }
            }
            Node::Block(_, block, _) => guard_body(&mut block.body),
            Node::FilterSection(_, section, _) => guard_body(&mut section.body),
            Node::MacroDefinition(_, m, _) => guard_body(&mut m.body),
            _ => {}
        }
        i += 1;
    }
}

/// Tera's `range(start, end, step_by)`, refusing to make more than [`MAX_RANGE`] items.
fn range(args: &HashMap<String, Value>) -> tera::Result<Value> {
    let number = |name: &str, default: Option<usize>| -> tera::Result<usize> {
        match args.get(name) {
            Some(v) => serde_json::from_value::<usize>(v.clone())
                .map_err(|_| format!("Function `range` received {name}={v} but `{name}` can only be a number").into()),
            None => default.ok_or_else(|| format!("Function `range` was called without a `{name}` argument").into()),
        }
    };
    let start = number("start", Some(0))?;
    let step_by = number("step_by", Some(1))?;
    let end = number("end", None)?;
    if start > end {
        return Err("Function `range` was called with a `start` argument greater than the `end` one".into());
    }
    if step_by == 0 {
        return Err("Function `range` was called with a `step_by` argument of 0".into());
    }
    let count = (end - start).div_ceil(step_by);
    if count > MAX_RANGE {
        return Err(format!("Function `range` would make {count} items; the limit is {MAX_RANGE}").into());
    }
    Ok(Value::Array((start..end).step_by(step_by).map(Value::from).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tera(templates: &[(&str, &str)]) -> Tera {
        let mut t = Tera::default();
        t.add_raw_templates(templates.to_vec()).unwrap();
        install(&mut t);
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
    fn endless_macro_recursion_is_an_error_not_a_crash() {
        let t = tera(&[("a.html", "{% macro r(n) %}{{ self::r(n=n+1) }}{% endmacro r %}{{ self::r(n=1) }}")]);
        let err = render(&t, "a.html", &Context::new()).unwrap_err();
        assert!(error_text(&err).contains("macro `r` is nested more than 64 levels"), "{}", error_text(&err));
    }

    #[test]
    fn self_include_is_an_error_not_a_crash() {
        let t = tera(&[("a.html", "x{% include \"b.html\" %}"), ("b.html", "{% include \"a.html\" %}")]);
        let err = render(&t, "a.html", &Context::new()).unwrap_err();
        assert!(error_text(&err).contains("include of `"), "{}", error_text(&err));
        assert!(error_text(&err).contains("nested more than"), "{}", error_text(&err));
    }

    #[test]
    fn bounded_recursion_and_loops_render_unchanged() {
        let src = "{% macro count(n) %}{{ n }}{% if n > 0 %},{{ self::count(n=n-1) }}{% endif %}{% endmacro count %}\
                   {{ self::count(n=40) }}|{% for i in range(end=3) %}{{ i }}{% else %}none{% endfor %}\
                   |{% for i in range(start=2, end=9, step_by=3) %}{{ i }}{% endfor %}|{% include \"b.html\" %}";
        let t = tera(&[("a.html", src), ("b.html", "B")]);
        let out = render(&t, "a.html", &Context::new()).unwrap();
        let expected: Vec<String> = (0..=40).rev().map(|n| n.to_string()).collect();
        assert_eq!(out, format!("{}|012|258|B", expected.join(",")));
        // A second render starts from zero again.
        assert_eq!(render(&t, "a.html", &Context::new()).unwrap(), out);
    }

    #[test]
    fn runaway_loops_and_huge_ranges_stop() {
        let t = tera(&[
            ("huge.html", "{% for i in range(end=2000000000) %}{{ i }}{% endfor %}"),
            ("nested.html", "{% for i in range(end=2000) %}{% for j in range(end=2000) %}{% endfor %}{% endfor %}"),
        ]);
        let err = error_text(&render(&t, "huge.html", &Context::new()).unwrap_err());
        assert!(err.contains("the limit is 100000"), "{err}");
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
}
