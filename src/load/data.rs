//! The site's own data files that templates read with `load_data(path="data/venues.csv")`:
//! CSV, JSON or TOML, relative to the site root, read here (the load stage) so rendering never
//! touches the disk. Which files is read from the templates' text: the path must be written
//! out. A path may not leave the site (no `..`, no absolute path, no link out of it), a file
//! may not be larger than [`MAX_DATA_BYTES`], and a file that does not parse is an error
//! naming the file and the line.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Component, Path};

use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::load::theme::TemplateSource;

/// Largest data file `load_data` reads: a venue list an association keeps in a spreadsheet is
/// kilobytes; anything near this is a mistake.
pub const MAX_DATA_BYTES: u64 = 16 * 1024 * 1024;

/// The paths of the data files the templates name (written out, as [`load`] reads them).
pub fn named(templates: &BTreeMap<String, TemplateSource>) -> Vec<String> {
    let literal = path_pattern();
    let mut out: Vec<String> = templates
        .values()
        .flat_map(|t| literal.captures_iter(&t.text).map(|c| c.get(1).or_else(|| c.get(2)).map_or("", |m| m.as_str()).to_string()).collect::<Vec<_>>())
        .collect();
    out.sort();
    out.dedup();
    out
}

fn path_pattern() -> regex::Regex {
    regex::Regex::new(r#"load_data\s*\(\s*path\s*=\s*(?:"([^"]*)"|'([^']*)')"#).expect("valid regex")
}

/// The data files the templates name, parsed (CSV as `{headers: […], records: [[…], …]}`, as
/// Zola gives it), by the path as written.
pub fn load(root: &Path, templates: &BTreeMap<String, TemplateSource>) -> Result<BTreeMap<String, serde_json::Value>, Diagnostics> {
    let literal = path_pattern();
    let mut out = BTreeMap::new();
    let mut diags = Diagnostics::new();
    for t in templates.values() {
        let text = &t.text;
        let calls = text.match_indices("load_data").count();
        let found: Vec<_> = literal.captures_iter(text).collect();
        if found.len() < calls {
            let at = text.find("load_data").unwrap_or(0);
            diags.push(
                Diagnostic::error("load_data needs its path written out: load_data(path=\"data/x.csv\")")
                    .file(&t.display_path)
                    .at_offset(text, at)
                    .hint("kepu reads data files before rendering, so it must see which ones in the template"),
            );
        }
        for c in found {
            let path = c.get(1).or_else(|| c.get(2)).map_or("", |m| m.as_str()).to_string();
            if out.contains_key(&path) {
                continue;
            }
            let at = c.get(0).map_or(0, |m| m.start());
            match read(root, &path) {
                Ok(v) => {
                    out.insert(path, v);
                }
                Err((message, hint)) => diags.push(
                    Diagnostic::error(format!("load_data(path=\"{path}\"): {message}"))
                        .file(&t.display_path)
                        .at_offset(text, at)
                        .hint(hint),
                ),
            }
        }
    }
    if diags.has_errors() { Err(diags) } else { Ok(out) }
}

type Problem = (String, String);

fn problem(message: impl Into<String>, hint: impl Into<String>) -> Problem {
    (message.into(), hint.into())
}

/// Read and parse one file, refusing paths that leave the site.
pub fn read(root: &Path, path: &str) -> Result<serde_json::Value, Problem> {
    let rel = Path::new(path);
    if path.is_empty() {
        return Err(problem("the path is empty", "name a file relative to the site root, e.g. data/venues.csv"));
    }
    if path.contains('\\') || path.contains(':') || rel.is_absolute() {
        return Err(problem("the path must be relative to the site root", "write it like data/venues.csv"));
    }
    if rel.components().any(|c| !matches!(c, Component::Normal(_) | Component::CurDir)) {
        return Err(problem("the path may not leave the site (`..`)", "keep data files inside the site, e.g. in data/"));
    }
    let full = root.join(rel);
    let (Ok(real), Ok(real_root)) = (full.canonicalize(), root.canonicalize()) else {
        return Err(problem("no such file", "create it, or fix the path (relative to the site root)"));
    };
    if !real.starts_with(&real_root) {
        return Err(problem("the path leads out of the site (through a link)", "copy the file into the site instead"));
    }
    let meta = std::fs::metadata(&real).map_err(|e| problem(format!("cannot read it: {e}"), "check the file"))?;
    if !meta.is_file() {
        return Err(problem("not a file", "name a CSV, JSON or TOML file"));
    }
    if meta.len() > MAX_DATA_BYTES {
        return Err(problem(
            format!("the file is {} MB; data files may be at most {} MB", meta.len() / (1024 * 1024), MAX_DATA_BYTES / (1024 * 1024)),
            "split it, or keep only what the pages show",
        ));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(&real)
        .and_then(|f| f.take(MAX_DATA_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| problem(format!("cannot read it: {e}"), "check the file"))?;
    if bytes.len() as u64 > MAX_DATA_BYTES {
        return Err(problem("the file grew past the limit while it was read", "try again"));
    }
    let text = String::from_utf8(bytes).map_err(|_| problem("the file is not UTF-8 text", "save it as UTF-8 (in a spreadsheet: CSV UTF-8)"))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    match rel.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("csv") => csv_value(text),
        Some("json") => serde_json::from_str(text).map_err(|e| {
            problem(format!("not valid JSON at line {} column {}: {e}", e.line(), e.column()), "fix the file")
        }),
        Some("toml") => {
            let v: toml::Table = toml::from_str(text).map_err(|e| problem(format!("not valid TOML: {}", e.message()), "fix the file"))?;
            serde_json::to_value(v).map_err(|e| problem(format!("cannot use it: {e}"), "fix the file"))
        }
        _ => Err(problem("only .csv, .json and .toml files can be loaded", "save the data in one of these formats")),
    }
}

fn csv_value(text: &str) -> Result<serde_json::Value, Problem> {
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| problem(format!("not valid CSV: {e}"), "fix the file"))?
        .iter()
        .map(str::to_string)
        .collect();
    let mut records = Vec::new();
    for r in reader.records() {
        let r = r.map_err(|e| {
            let line = e.position().map_or(String::new(), |p| format!(" at line {}", p.line()));
            problem(format!("not valid CSV{line}: {e}"), "every row needs as many cells as the header row; quote cells that hold commas")
        })?;
        records.push(serde_json::Value::from(r.iter().map(str::to_string).collect::<Vec<_>>()));
    }
    Ok(serde_json::json!({ "headers": headers, "records": records }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("site/data")).unwrap();
        d
    }

    #[test]
    fn csv_json_and_toml_parse() {
        let d = site();
        let root = d.path().join("site");
        std::fs::write(root.join("data/v.csv"), "\u{feff}名称,城市\n郑州科技馆,郑州\n\"洛阳, 新馆\",洛阳\n").unwrap();
        std::fs::write(root.join("data/v.json"), r#"{"a": [1, 2]}"#).unwrap();
        std::fs::write(root.join("data/v.toml"), "a = 1\n[b]\nc = \"x\"\n").unwrap();
        assert_eq!(
            read(&root, "data/v.csv").unwrap(),
            serde_json::json!({"headers": ["名称", "城市"], "records": [["郑州科技馆", "郑州"], ["洛阳, 新馆", "洛阳"]]})
        );
        assert_eq!(read(&root, "data/v.json").unwrap(), serde_json::json!({"a": [1, 2]}));
        assert_eq!(read(&root, "./data/v.toml").unwrap(), serde_json::json!({"a": 1, "b": {"c": "x"}}));
    }

    #[test]
    fn hostile_paths_and_files_are_clear_errors() {
        let d = site();
        let root = d.path().join("site");
        std::fs::write(d.path().join("secret.csv"), "a\n1\n").unwrap();
        let err = |p: &str| read(&root, p).unwrap_err().0;
        assert!(err("../secret.csv").contains("may not leave the site"));
        assert!(err("data/../../secret.csv").contains("may not leave the site"));
        assert!(err("/etc/passwd").contains("relative to the site root"));
        assert!(err("C:\\x.csv").contains("relative to the site root"));
        assert!(err("data/none.csv").contains("no such file"));
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(d.path().join("secret.csv"), root.join("data/link.csv")).unwrap();
            assert!(err("data/link.csv").contains("out of the site"));
        }
        std::fs::write(root.join("data/bad.csv"), "a,b\n1,2\n3\n").unwrap();
        let e = err("data/bad.csv");
        assert!(e.contains("not valid CSV at line 3"), "{e}");
        std::fs::write(root.join("data/bad.json"), "{\"a\": }").unwrap();
        assert!(err("data/bad.json").contains("not valid JSON at line 1"));
        std::fs::write(root.join("data/x.xlsx"), "PK").unwrap();
        assert!(err("data/x.xlsx").contains("only .csv, .json and .toml"));
        std::fs::write(root.join("data/latin1.csv"), b"a\n\xe9\n").unwrap();
        assert!(err("data/latin1.csv").contains("not UTF-8"));
        // Past the limit: refused from its size, before reading it.
        let big = std::fs::File::create(root.join("data/big.csv")).unwrap();
        big.set_len(MAX_DATA_BYTES + 1).unwrap();
        assert!(err("data/big.csv").contains("at most 16 MB"));
    }
}
