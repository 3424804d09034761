//! Front matter of pages and sections, parsed strictly from TOML or YAML. Errors point into
//! the file (line and column), name the field, and say what is allowed.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::date::Date;
use super::portal::{Base, Campaign, City, Expert, Figure, Overview, Venue};
use crate::diagnostics::Diagnostic;
use crate::load::{Document, FrontMatterFormat};

/// Everything a page's front matter may hold.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageFrontMatter {
    pub title: Option<String>,
    pub description: Option<String>,
    pub date: Option<Date>,
    pub updated: Option<Date>,
    #[serde(default)]
    pub draft: bool,
    pub slug: Option<String>,
    pub path: Option<String>,
    #[serde(default)]
    pub aliases: Vec<String>,
    pub weight: Option<i64>,
    pub template: Option<String>,
    #[serde(default)]
    pub sources: Vec<String>,
    #[serde(default)]
    pub example: bool,
    #[serde(default)]
    pub taxonomies: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub figures: Vec<Figure>,
    #[serde(default)]
    pub extra: serde_json::Map<String, serde_json::Value>,
    pub venue: Option<Venue>,
    pub base: Option<Base>,
    pub expert: Option<Expert>,
    pub campaign: Option<Campaign>,
    pub city: Option<City>,
    pub overview: Option<Overview>,
}

/// How a section orders its pages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SortBy {
    #[default]
    Weight,
    Date,
    Title,
}

/// Everything a section's `_index.md` may hold.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SectionFrontMatter {
    pub title: Option<String>,
    pub description: Option<String>,
    pub weight: Option<i64>,
    pub sort_by: Option<SortBy>,
    pub paginate_by: Option<usize>,
    pub template: Option<String>,
    pub page_template: Option<String>,
    pub page_type: Option<String>,
    #[serde(default)]
    pub draft: bool,
    #[serde(default)]
    pub sources: Vec<String>,
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Whether the section gets its own page (`false` for folders that only group pages).
    pub render: Option<bool>,
    #[serde(default)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// Parse a document's front matter into `T`, turning the parser's error into a located
/// diagnostic.
pub fn parse<T: DeserializeOwned + Default>(doc: &Document) -> Result<T, Diagnostic> {
    let text = doc.front_matter_text();
    let base = doc.front_matter.start;
    let hint = "see docs/content-model.md for the fields and allowed values";
    match doc.format {
        FrontMatterFormat::Toml => toml::from_str(text).map_err(|e| {
            let message = e.message().trim().to_string();
            let mut d = Diagnostic::error(format!("front matter: {}", improve(&message)))
                .file(&doc.display_path)
                .hint(hint_for(&message).unwrap_or(hint));
            if let Some(span) = e.span() {
                d = d.at_offset(&doc.source, base + span.start);
                if let Some(field) = field_at(text, span.start) {
                    d = d.field(field);
                }
            }
            d
        }),
        FrontMatterFormat::Yaml => {
            if text.trim().is_empty() {
                return Ok(T::default());
            }
            if let Some(at) = yaml_flow_too_deep(text) {
                // The YAML scanner is quadratic in flow nesting: 50,000 `[` took minutes
                // before it reported its own recursion limit.
                return Err(Diagnostic::error(format!(
                    "front matter (YAML): `[` and `{{` nested more than {MAX_YAML_FLOW_DEPTH} levels deep"
                ))
                .file(&doc.display_path)
                .hint(hint)
                .at_offset(&doc.source, base + at));
            }
            serde_yaml_ng::from_str(text).map_err(|e| {
                let message = file_lines(&e.to_string(), e.location().map(|l| (l.line(), l.column())), doc);
                let mut d = Diagnostic::error(format!("front matter (YAML): {}", improve(&message)))
                    .file(&doc.display_path)
                    .hint(hint_for(&message).unwrap_or(hint));
                if let Some(loc) = e.location() {
                    d = d.at_offset(&doc.source, base + loc.index());
                }
                d
            })
        }
    }
}

/// Deepest `[`/`{` nesting handed to the YAML parser (it refuses more than 128 levels of any
/// nesting itself; this only stops the slow way there).
const MAX_YAML_FLOW_DEPTH: usize = 128;

/// Offset of the first `[` or `{` nested deeper than [`MAX_YAML_FLOW_DEPTH`], skipping quoted
/// strings and comments. Over-counts brackets in block scalars, which only matters for text
/// with more than a hundred unclosed brackets.
fn yaml_flow_too_deep(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut chars = text.char_indices().peekable();
    let mut prev = '\n';
    while let Some((i, c)) = chars.next() {
        match c {
            '[' | '{' => {
                depth += 1;
                if depth > MAX_YAML_FLOW_DEPTH {
                    return Some(i);
                }
            }
            ']' | '}' => depth = depth.saturating_sub(1),
            '"' => {
                while let Some((_, c)) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        _ => {}
                    }
                }
            }
            '\'' if !prev.is_alphanumeric() => {
                for (_, c) in chars.by_ref() {
                    if c == '\'' {
                        break; // `''` inside a quoted string reopens it on the next round
                    }
                }
            }
            '#' if prev.is_whitespace() => {
                for (_, c) in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            _ => {}
        }
        prev = c;
    }
    None
}

/// The YAML parser counts "at line 2 column 3" from the front matter's first line; editors
/// need the file's line. The error's own position is where the diagnostic points, so it goes;
/// others ("while scanning a quoted scalar at line …") become file lines.
fn file_lines(message: &str, at: Option<(usize, usize)>, doc: &Document) -> String {
    let first = doc.source[..doc.front_matter.start].matches('\n').count();
    let re = regex::Regex::new(r" at line (\d+) column (\d+)").expect("valid regex");
    re.replace_all(message, |c: &regex::Captures| {
        let pos = (c[1].parse::<usize>().unwrap_or(0), c[2].parse::<usize>().unwrap_or(0));
        if Some(pos) == at { String::new() } else { format!(" on line {}", pos.0 + first) }
    })
    .into_owned()
}

/// serde's wording, made a little friendlier.
fn improve(message: &str) -> String {
    let allowed = if message.contains("unknown field") { "allowed fields are" } else { "allowed values are" };
    message.replace("unknown variant", "value not allowed:").replace("expected one of", allowed)
}

fn hint_for(message: &str) -> Option<&'static str> {
    if message.contains("unknown field") {
        Some("remove the field or fix its spelling; the allowed fields are listed in the message and docs/content-model.md")
    } else if message.contains("missing field") {
        Some("add the missing field to the page's typed table")
    } else {
        None
    }
}

/// The dotted name of the key on the line where the parser stopped (`venue.city`).
fn field_at(text: &str, offset: usize) -> Option<String> {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let line = &text[line_start..line_end];
    let key = line.split('=').next()?.trim();
    if key.is_empty() || key.starts_with('[') || !line.contains('=') {
        return None;
    }
    let table = text[..line_start]
        .lines()
        .rev()
        .find_map(|l| {
            let l = l.trim();
            l.strip_prefix("[[").and_then(|r| r.strip_suffix("]]")).or_else(|| l.strip_prefix('[').and_then(|r| r.strip_suffix(']')))
        });
    Some(match table {
        Some(t) => format!("{}.{}", t.trim(), key),
        None => key.to_string(),
    })
}

/// 1-based line of `key` inside table `table` (or at top level) of a front matter text, so
/// checks made after parsing can still point at the right line. Works for TOML and YAML.
pub fn locate(doc: &Document, table: Option<&str>, key: &str) -> usize {
    let text = doc.front_matter_text();
    let start_line = doc.source[..doc.front_matter.start].matches('\n').count() + 1;
    let mut in_table = table.is_none();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if t.starts_with('[') {
            let name = t.trim_start_matches('[').split(']').next().unwrap_or("").trim();
            in_table = table == Some(name) || table.is_some_and(|tb| name.starts_with(&format!("{tb}.")));
            continue;
        }
        if let Some(tb) = table {
            // YAML: `venue:` block with indented keys.
            if t.starts_with(&format!("{tb}:")) && !line.starts_with(' ') {
                in_table = true;
                continue;
            }
        }
        if in_table {
            let k = t.split(['=', ':']).next().unwrap_or("").trim();
            if k == key {
                return start_line + i;
            }
        }
    }
    start_line.saturating_sub(1).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_yaml_flow_nesting_is_found_outside_strings_only() {
        let deep = format!("a: {}{}", "[".repeat(200), "]".repeat(200));
        assert_eq!(yaml_flow_too_deep(&deep), Some(3 + MAX_YAML_FLOW_DEPTH));
        let quoted = format!("a: \"{}\"\nb: '{}'\n# {}\nc: [1, {{d: 2}}]", "[".repeat(200), "{".repeat(200), "[".repeat(200));
        assert_eq!(yaml_flow_too_deep(&quoted), None);
        let siblings = "[1] ".repeat(1000);
        assert_eq!(yaml_flow_too_deep(&siblings), None);
    }

    #[test]
    fn field_at_names_table_and_key() {
        let text = "title = \"x\"\n[venue]\nkind = \"大馆\"\n";
        let off = text.find("大馆").unwrap();
        assert_eq!(field_at(text, off).as_deref(), Some("venue.kind"));
    }
}
