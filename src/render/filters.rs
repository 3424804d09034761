//! Drop-in replacements for Tera's array filters `filter`, `slice` and `concat`, with the same
//! behaviour and error messages. Tera's own versions copy the whole array twice per call (a
//! clone, then a deserialization into `Vec<Value>`); the portal's templates filter section
//! lists by city, level and kind, and on a 10,000-page site those copies made the home page
//! alone take more than a second. These borrow the array and copy only what they return.
//!
//! Plus `group_indices`, which groups a list by an attribute without copying its items.

use std::collections::HashMap;

use serde_json::Value;
use tera::{Error, Result, Tera};

/// Register the replacements (after the templates, so they win over the built-ins).
pub fn install(tera: &mut Tera) {
    tera.register_filter("filter", filter);
    tera.register_filter("slice", slice);
    tera.register_filter("concat", concat);
    tera.register_filter("group_indices", group_indices);
}

fn array<'a>(name: &str, value: &'a Value) -> Result<&'a [Value]> {
    value.as_array().map(Vec::as_slice).ok_or_else(|| {
        Error::msg(format!("Filter `{name}` was called on an incorrect value: got `{value}` but expected a Vec<Value>"))
    })
}

fn wrong_arg(name: &str, arg: &str, value: &Value, ty: &str) -> Error {
    Error::msg(format!("Filter `{name}` received an incorrect type for arg `{arg}`: got `{value}` but expected a {ty}"))
}

/// `list | filter(attribute="typed.city", value="郑州")`: the items whose (dotted) attribute
/// equals `value`, or, without `value`, whose attribute is present and not null.
fn filter(value: &Value, args: &HashMap<String, Value>) -> Result<Value> {
    let items = array("filter", value)?;
    if items.is_empty() {
        return Ok(Value::Array(Vec::new()));
    }
    let key = match args.get("attribute") {
        Some(Value::String(s)) => s.as_str(),
        Some(other) => return Err(wrong_arg("filter", "attribute", other, "String")),
        None => return Err(Error::msg("The `filter` filter has to have an `attribute` argument")),
    };
    let wanted = args.get("value").unwrap_or(&Value::Null);
    let keep = |v: &&Value| {
        let found = tera::dotted_pointer(v, key).unwrap_or(&Value::Null);
        if wanted.is_null() { !found.is_null() } else { found == wanted }
    };
    Ok(Value::Array(items.iter().filter(keep).cloned().collect()))
}

/// `list | slice(start=0, end=4)`: negative indices count from the end.
fn slice(value: &Value, args: &HashMap<String, Value>) -> Result<Value> {
    let items = array("slice", value)?;
    if items.is_empty() {
        return Ok(Value::Array(Vec::new()));
    }
    let index = |arg: &str| -> Result<Option<usize>> {
        match args.get(arg) {
            None => Ok(None),
            Some(v) => {
                let i = v.as_f64().ok_or_else(|| wrong_arg("slice", arg, v, "f64"))?;
                Ok(Some(if i >= 0.0 { i as usize } else { (items.len() as f64 + i) as usize }))
            }
        }
    };
    let start = index("start")?.unwrap_or(0);
    let end = index("end")?.unwrap_or(items.len()).min(items.len());
    if start >= end {
        return Ok(Value::Array(Vec::new()));
    }
    Ok(Value::Array(items[start..end].to_vec()))
}

/// `list | concat(with=x)`: the list followed by `x` (or by `x`'s items when it is a list).
fn concat(value: &Value, args: &HashMap<String, Value>) -> Result<Value> {
    let items = array("concat", value)?;
    let with = args.get("with").ok_or_else(|| Error::msg("The `concat` filter has to have a `with` argument"))?;
    let mut out = Vec::with_capacity(items.len() + with.as_array().map_or(1, Vec::len));
    out.extend_from_slice(items);
    match with {
        Value::Array(more) => out.extend_from_slice(more),
        one => out.push(one.clone()),
    }
    Ok(Value::Array(out))
}

/// `list | group_indices(attribute="typed.city", values=["郑州", …])`: where in `list` each
/// group's items are. `groups` maps each attribute value (a string) that some item has to
/// the positions of those items, in list order; `rest` holds the positions of the other
/// items: attribute missing, null or empty, or not one of `values` when that is given.
///
/// Positions, not items: Tera copies a `set` variable's whole value on every read, so a
/// section page that grouped its list with `filter` (once to count the groups, once for the
/// jump links, once for the lists) copied each listed page about ten times. A template
/// shows a group as `{% for i in g.groups[key] %}{{ card(p=list[i]) }}{% endfor %}`, which
/// borrows each item from `list`.
fn group_indices(value: &Value, args: &HashMap<String, Value>) -> Result<Value> {
    let items = array("group_indices", value)?;
    let key = match args.get("attribute") {
        Some(Value::String(s)) => s.as_str(),
        Some(other) => return Err(wrong_arg("group_indices", "attribute", other, "String")),
        None => return Err(Error::msg("The `group_indices` filter has to have an `attribute` argument")),
    };
    let values = match args.get("values") {
        None => None,
        Some(Value::Array(v)) => Some(v.as_slice()),
        Some(other) => return Err(wrong_arg("group_indices", "values", other, "Vec<Value>")),
    };
    let mut groups = serde_json::Map::new();
    let mut rest = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let found = tera::dotted_pointer(item, key).unwrap_or(&Value::Null);
        match found {
            Value::String(s) if !s.is_empty() && values.is_none_or(|v| v.contains(found)) => {
                match groups.entry(s.clone()).or_insert_with(|| Value::Array(Vec::new())) {
                    Value::Array(list) => list.push(Value::from(i)),
                    _ => unreachable!("every group is an array"),
                }
            }
            _ => rest.push(Value::from(i)),
        }
    }
    let mut out = serde_json::Map::new();
    out.insert("groups".into(), Value::Object(groups));
    out.insert("rest".into(), Value::Array(rest));
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn group_indices_lists_the_positions_of_each_value_and_of_the_rest() {
        let list = json!([
            {"typed": {"city": "郑州"}},
            {"typed": {"city": "洛阳"}},
            {"typed": {"city": "郑州"}},
            {"typed": {"city": null}},
            {"title": "no typed"},
            {"typed": {"city": "外省"}},
            {"typed": {"city": ""}},
        ]);
        let run = |args: &str| {
            let template = format!("{{{{ list | group_indices({args}) | json_encode() | safe }}}}");
            let mut t = Tera::default();
            t.add_raw_template("t", &template).unwrap();
            install(&mut t);
            let mut ctx = tera::Context::new();
            ctx.insert("list", &list);
            serde_json::from_str::<Value>(&t.render("t", &ctx).unwrap()).unwrap()
        };
        assert_eq!(
            run(r#"attribute="typed.city""#),
            json!({"groups": {"郑州": [0, 2], "洛阳": [1], "外省": [5]}, "rest": [3, 4, 6]})
        );
        assert_eq!(
            run(r#"attribute="typed.city", values=["郑州", "开封"]"#),
            json!({"groups": {"郑州": [0, 2]}, "rest": [1, 3, 4, 5, 6]})
        );
        // A template shows a group by position, borrowing the items from the list.
        let mut t = Tera::default();
        t.add_raw_template(
            "t",
            r#"{% set g = list | group_indices(attribute="typed.city") %}{% for i in g.groups["郑州"] %}{{ list[i].typed.city }}{{ i }};{% endfor %}"#,
        )
        .unwrap();
        install(&mut t);
        let mut ctx = tera::Context::new();
        ctx.insert("list", &list);
        assert_eq!(t.render("t", &ctx).unwrap(), "郑州0;郑州2;");
    }

    /// The replacements give what Tera's built-ins give, on the same inputs.
    #[test]
    fn same_results_as_teras_builtins() {
        let list = json!([
            {"title": "a", "typed": {"city": "郑州", "level": "国家级"}},
            {"title": "b", "typed": {"city": "洛阳"}},
            {"title": "c", "typed": {"city": null}},
            {"title": "d"},
        ]);
        let cases: Vec<(&str, &str)> = vec![
            ("filter", r#"attribute="typed.city", value="郑州""#),
            ("filter", r#"attribute="typed.city""#),
            ("filter", r#"attribute="typed.level", value="国家级""#),
            ("filter", r#"attribute="nothing""#),
            ("slice", "end=2"),
            ("slice", "start=1"),
            ("slice", "start=-2"),
            ("slice", "start=3, end=1"),
            ("slice", "end=10"),
            ("concat", r#"with="x""#),
            ("concat", "with=[1, 2]"),
        ];
        for (name, args) in cases {
            let template = format!("{{{{ list | {name}({args}) | json_encode() | safe }}}}");
            let mut ctx = tera::Context::new();
            ctx.insert("list", &list);
            let builtin = Tera::one_off(&template, &ctx, false).unwrap();
            let mut ours = Tera::default();
            ours.add_raw_template("t", &template).unwrap();
            install(&mut ours);
            assert_eq!(ours.render("t", &ctx).unwrap(), builtin, "{name}({args})");
        }
    }

    #[test]
    fn errors_name_the_filter() {
        let mut t = Tera::default();
        t.add_raw_template("t", r#"{{ x | filter(value=1) }}"#).unwrap();
        install(&mut t);
        let mut ctx = tera::Context::new();
        ctx.insert("x", &json!([1]));
        let e = t.render("t", &ctx).unwrap_err();
        assert!(format!("{e:?}").contains("has to have an `attribute` argument"), "{e:?}");
        ctx.insert("x", &json!("text"));
        let e = t.render("t", &ctx).unwrap_err();
        assert!(format!("{e:?}").contains("expected a Vec<Value>"), "{e:?}");
    }
}
