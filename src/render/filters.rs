//! Filters kepu adds to Tera's own.
//!
//! - `filter`, `slice` and `concat`, as Tera 1 had them: Tera 2 dropped them for list
//!   comprehensions and slicing (`[f for f in figures if f.year]`, `list[:4]`,
//!   `[...a, ...b]`), which the default theme uses; they stay for site templates written for
//!   Tera 1 or Zola 0.22, with Tera 1's behaviour and messages.
//! - `group_indices`, which groups a list by an attribute without copying its items.
//! - `striptags`, as Tera 1 had it (Tera 2 left it out).

use tera::value::{Key, Map};
use tera::{Error, Kwargs, State, Tera, TeraResult, Value};

/// Register the filters. Call before the templates are added (Tera checks, when it loads a
/// template, that every filter it uses exists).
pub fn install(tera: &mut Tera) {
    tera.register_filter("filter", filter);
    tera.register_filter("slice", slice);
    tera.register_filter("concat", concat);
    tera.register_filter("group_indices", group_indices);
    tera.register_filter("striptags", striptags);
}

fn array<'a>(name: &str, value: &'a Value) -> TeraResult<&'a [Value]> {
    value.as_array().ok_or_else(|| {
        Error::message(format!("Filter `{name}` was called on an incorrect value: got `{value}` but expected a Vec<Value>"))
    })
}

fn wrong_arg(name: &str, arg: &str, value: &Value, ty: &str) -> Error {
    Error::message(format!("Filter `{name}` received an incorrect type for arg `{arg}`: got `{value}` but expected a {ty}"))
}

/// A dotted attribute of `v`, `None` where missing or null.
fn attribute<'v>(v: &'v Value, path: &'v str) -> Option<&'v Value> {
    v.get_from_path(path).filter(|found| !found.is_none() && !found.is_undefined())
}

/// `list | filter(attribute="typed.city", value="郑州")`: the items whose (dotted) attribute
/// equals `value`, or, without `value`, whose attribute is present and not null.
fn filter(value: &Value, args: Kwargs, _: &State) -> TeraResult<Value> {
    let items = array("filter", value)?;
    if items.is_empty() {
        return Ok(Value::from(Vec::<Value>::new()));
    }
    let key = match args.get::<&Value>("attribute")? {
        Some(s) if s.is_string() => s.as_str().unwrap_or_default(),
        Some(other) => return Err(wrong_arg("filter", "attribute", other, "String")),
        None => return Err(Error::message("The `filter` filter has to have an `attribute` argument")),
    };
    let wanted = args.get::<&Value>("value")?.filter(|w| !w.is_none());
    let keep = |v: &&Value| match (attribute(v, key), wanted) {
        (found, None) => found.is_some(),
        (Some(found), Some(w)) => found == w,
        (None, Some(_)) => false,
    };
    Ok(Value::from(items.iter().filter(keep).cloned().collect::<Vec<_>>()))
}

/// `list | slice(start=0, end=4)`: negative indices count from the end.
fn slice(value: &Value, args: Kwargs, _: &State) -> TeraResult<Value> {
    let items = array("slice", value)?;
    if items.is_empty() {
        return Ok(Value::from(Vec::<Value>::new()));
    }
    let index = |arg: &str| -> TeraResult<Option<usize>> {
        match args.get::<&Value>(arg)? {
            None => Ok(None),
            Some(v) => {
                let i = v.as_f64().filter(|_| v.is_number()).ok_or_else(|| wrong_arg("slice", arg, v, "f64"))?;
                Ok(Some(if i >= 0.0 { i as usize } else { (items.len() as f64 + i) as usize }))
            }
        }
    };
    let start = index("start")?.unwrap_or(0);
    let end = index("end")?.unwrap_or(items.len()).min(items.len());
    if start >= end {
        return Ok(Value::from(Vec::<Value>::new()));
    }
    Ok(Value::from(&items[start..end]))
}

/// `list | concat(with=x)`: the list followed by `x` (or by `x`'s items when it is a list).
fn concat(value: &Value, args: Kwargs, _: &State) -> TeraResult<Value> {
    let items = array("concat", value)?;
    let with = args
        .get::<&Value>("with")?
        .ok_or_else(|| Error::message("The `concat` filter has to have a `with` argument"))?;
    let mut out = Vec::with_capacity(items.len() + with.as_array().map_or(1, <[Value]>::len));
    out.extend_from_slice(items);
    match with.as_array() {
        Some(more) => out.extend_from_slice(more),
        None => out.push(with.clone()),
    }
    Ok(Value::from(out))
}

/// `list | group_indices(attribute="typed.city", values=["郑州", …])`: where in `list` each
/// group's items are. `groups` maps each attribute value (a string) that some item has to
/// the positions of those items, in list order; `rest` holds the positions of the other
/// items: attribute missing, null or empty, or not one of `values` when that is given.
///
/// Positions, not items: a template shows a group as
/// `{% for i in g.groups[key] %}{{ card(p=list[i]) }}{% endfor %}`, and the jump links and
/// counts need only the positions.
fn group_indices(value: &Value, args: Kwargs, _: &State) -> TeraResult<Value> {
    let items = array("group_indices", value)?;
    let key = match args.get::<&Value>("attribute")? {
        Some(s) if s.is_string() => s.as_str().unwrap_or_default(),
        Some(other) => return Err(wrong_arg("group_indices", "attribute", other, "String")),
        None => return Err(Error::message("The `group_indices` filter has to have an `attribute` argument")),
    };
    let values = match args.get::<&Value>("values")? {
        None => None,
        Some(v) => Some(v.as_array().ok_or_else(|| wrong_arg("group_indices", "values", v, "Vec<Value>"))?),
    };
    let mut groups: Vec<(String, Vec<Value>)> = Vec::new();
    let mut rest = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match attribute(item, key) {
            Some(found) if found.as_str().is_some_and(|s| !s.is_empty()) && values.is_none_or(|v| v.contains(found)) => {
                let s = found.as_str().unwrap_or_default();
                match groups.iter_mut().find(|(k, _)| k == s) {
                    Some((_, list)) => list.push(Value::from(i)),
                    None => groups.push((s.to_string(), vec![Value::from(i)])),
                }
            }
            _ => rest.push(Value::from(i)),
        }
    }
    // Sorted by value, as Tera 1's maps were (a template looping over `groups` sees the same order).
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    let mut group_map = Map::new();
    for (k, list) in groups {
        group_map.insert(Key::from(k), Value::from(list));
    }
    let mut out = Map::new();
    out.insert(Key::from("groups"), Value::from(group_map));
    out.insert(Key::from("rest"), Value::from(rest));
    Ok(Value::from(out))
}

/// `html | striptags`: the text without tags and comments, as Tera 1's filter gave it.
fn striptags(value: &str, _: Kwargs, _: &State) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        let end = if after.starts_with("<!--") {
            after.find("-->").map(|e| e + 3)
        } else {
            after.find('>').map(|e| e + 1)
        };
        match end {
            Some(e) => rest = &after[e..],
            None => {
                out.push_str(after);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(json: &str) -> Value {
        Value::from_serializable(&serde_json::from_str::<serde_json::Value>(json).unwrap())
    }

    /// Render `{{ list | <call> }}` through Tera, giving back the value as JSON text.
    fn run(list: &Value, call: &str) -> TeraResult<serde_json::Value> {
        let mut t = Tera::default();
        install(&mut t);
        let captured = std::sync::Arc::new(std::sync::Mutex::new(None));
        let c = captured.clone();
        t.register_function("capture", move |args: Kwargs, _: &State| -> TeraResult<&'static str> {
            *c.lock().unwrap() = args.get::<Value>("v")?;
            Ok("")
        });
        t.add_raw_template("t", &format!("{{{{ capture(v=list | {call}) }}}}"))?;
        let mut ctx = tera::Context::new();
        ctx.insert_value("list", list.clone());
        t.render("t", &ctx)?;
        let v = captured.lock().unwrap().take().unwrap();
        Ok(serde_json::to_value(&v).unwrap())
    }

    #[test]
    fn group_indices_lists_the_positions_of_each_value_and_of_the_rest() {
        let list = value(
            r#"[{"typed": {"city": "郑州"}}, {"typed": {"city": "洛阳"}}, {"typed": {"city": "郑州"}},
                {"typed": {"city": null}}, {"title": "no typed"}, {"typed": {"city": "外省"}}, {"typed": {"city": ""}}]"#,
        );
        assert_eq!(
            run(&list, r#"group_indices(attribute="typed.city")"#).unwrap(),
            serde_json::json!({"groups": {"郑州": [0, 2], "洛阳": [1], "外省": [5]}, "rest": [3, 4, 6]})
        );
        assert_eq!(
            run(&list, r#"group_indices(attribute="typed.city", values=["郑州", "开封"])"#).unwrap(),
            serde_json::json!({"groups": {"郑州": [0, 2]}, "rest": [1, 3, 4, 5, 6]})
        );
        // A template shows a group by position, borrowing the items from the list.
        let mut t = Tera::default();
        install(&mut t);
        t.add_raw_template(
            "t",
            r#"{% set g = list | group_indices(attribute="typed.city") %}{% for i in g.groups["郑州"] %}{{ list[i].typed.city }}{{ i }};{% endfor %}"#,
        )
        .unwrap();
        let mut ctx = tera::Context::new();
        ctx.insert_value("list", list);
        assert_eq!(t.render("t", &ctx).unwrap(), "郑州0;郑州2;");
    }

    /// What Tera 1's built-in `filter`, `slice` and `concat` gave on the same inputs.
    #[test]
    fn same_results_as_tera_1s_builtins() {
        let list = value(
            r#"[{"title": "a", "typed": {"city": "郑州", "level": "国家级"}}, {"title": "b", "typed": {"city": "洛阳"}},
                {"title": "c", "typed": {"city": null}}, {"title": "d"}]"#,
        );
        let titles = |v: serde_json::Value| -> Vec<String> {
            v.as_array().unwrap().iter().map(|x| x.get("title").map_or_else(|| x.to_string(), |t| t.as_str().unwrap().to_string())).collect()
        };
        let cases: Vec<(&str, Vec<&str>)> = vec![
            (r#"filter(attribute="typed.city", value="郑州")"#, vec!["a"]),
            (r#"filter(attribute="typed.city")"#, vec!["a", "b"]),
            (r#"filter(attribute="typed.level", value="国家级")"#, vec!["a"]),
            (r#"filter(attribute="nothing")"#, vec![]),
            ("slice(end=2)", vec!["a", "b"]),
            ("slice(start=1)", vec!["b", "c", "d"]),
            ("slice(start=-2)", vec!["c", "d"]),
            ("slice(start=3, end=1)", vec![]),
            ("slice(end=10)", vec!["a", "b", "c", "d"]),
            (r#"concat(with="x")"#, vec!["a", "b", "c", "d", "\"x\""]),
            ("concat(with=[1, 2])", vec!["a", "b", "c", "d", "1", "2"]),
        ];
        for (call, expected) in cases {
            assert_eq!(titles(run(&list, call).unwrap()), expected, "{call}");
        }
    }

    #[test]
    fn errors_name_the_filter() {
        let e = run(&value("[1]"), "filter(value=1)").unwrap_err();
        assert!(e.to_string().contains("has to have an `attribute` argument"), "{e}");
        let e = run(&value(r#""text""#), "filter(attribute=\"x\")").unwrap_err();
        assert!(e.to_string().contains("expected a Vec<Value>"), "{e}");
    }

    #[test]
    fn striptags_leaves_the_text() {
        let t = |s: &str| striptags(s, Kwargs::default(), &State::new(&tera::Context::new()));
        assert_eq!(t("<p>科普 <b>馆</b></p><!-- x > y -->！"), "科普 馆！");
        assert_eq!(t("a < b"), "a < b");
    }
}
