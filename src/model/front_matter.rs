//! Front matter of pages and sections, parsed strictly from TOML or YAML. Errors point into
//! the file (line and column), name the field, and say what is allowed; the slips editors
//! make most (full-width punctuation, 30万 for a number, 2024/9/15 for a date, a field below
//! the wrong table header) are named as such, with the line corrected.

use std::collections::BTreeMap;
use std::ops::Range;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::date::Date;
use crate::config::InsertAnchor;
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
    /// The page's authors (as in Zola): named in the Atom feeds.
    #[serde(default)]
    pub authors: Vec<String>,
    /// `false` keeps the page out of the search index (as in Zola).
    pub in_search_index: Option<bool>,
    /// `false`: the page is not written (nor listed in sitemap, feeds or search), but
    /// templates can still read it (as in Zola).
    pub render: Option<bool>,
    /// Links on this page's headings; the section's, then the site's, when not set.
    pub insert_anchor_links: Option<InsertAnchor>,
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

/// How a section orders its pages (Zola's values; pages without the key come last, then
/// every order falls back to the content path).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SortBy {
    #[default]
    Weight,
    /// Newest first.
    Date,
    /// By `updated` (else `date`), newest first.
    UpdateDate,
    /// By the title's pinyin, as Chinese readers expect.
    Title,
    /// By the title's bytes (Zola's `title_bytes`).
    TitleBytes,
    Slug,
    Permalink,
    /// By content path.
    None,
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
    /// Pagers after the first are at `<section>/<paginate_path>/N/` (Zola's default `page`).
    pub paginate_path: Option<String>,
    /// List the pages in reverse order on the pagers (as in Zola).
    #[serde(default)]
    pub paginate_reversed: bool,
    /// Links on the headings of this section and its pages; the site's when not set.
    pub insert_anchor_links: Option<InsertAnchor>,
    /// Instead of a page, the section's URL sends visitors here: `@/other.md`, a path of the
    /// site (`docs/overview`) or an http(s) URL (as in Zola).
    pub redirect_to: Option<String>,
    /// `false` keeps the section's page and its pages out of the search index (as in Zola).
    pub in_search_index: Option<bool>,
    /// The section's pages are listed by its parent section too (as in Zola).
    #[serde(default)]
    pub transparent: bool,
    /// An Atom feed for this section even when the site's `generate_feeds` is off (`true`), or
    /// none when it is on (`false`).
    pub generate_feeds: Option<bool>,
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

/// What to read when no better hint is known.
const GENERIC_HINT: &str = "see docs/content-model.md for the fields and allowed values";

/// Parse a document's front matter into `T`, turning the parser's error into a located
/// diagnostic.
pub fn parse<T: DeserializeOwned + Default>(doc: &Document) -> Result<T, Diagnostic> {
    let text = doc.front_matter_text();
    let base = doc.front_matter.start;
    match doc.format {
        FrontMatterFormat::Toml => toml::from_str(text).map_err(|e| toml_error::<T>(doc, &e)),
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
                .hint(GENERIC_HINT)
                .at_offset(&doc.source, base + at));
            }
            serde_yaml_ng::from_str(text).map_err(|e| {
                let message = file_lines(&e.to_string(), e.location().map(|l| (l.line(), l.column())), doc);
                let key = e.location().and_then(|l| yaml_key_at(text, l.index()));
                let why = explain(&message, &Value { key, syntax: Syntax::Yaml, ..Value::default() });
                let mut d = Diagnostic::error(format!("front matter (YAML): {}", why.message))
                    .file(&doc.display_path)
                    .hint(why.hint);
                if let Some(loc) = e.location() {
                    d = d.at_offset(&doc.source, base + loc.index());
                }
                d
            })
        }
    }
}

/// The diagnostic for a TOML error. The parser's own words say what it expected at a
/// character; editors need to know which of their habits caused it (a Chinese input method's
/// punctuation, 30万 for a number, a field below the wrong table header), so the common ones
/// are recognised here, some by parsing a corrected copy of the text again.
fn toml_error<T: DeserializeOwned>(doc: &Document, e: &toml::de::Error) -> Diagnostic {
    let text = doc.front_matter_text();
    let located = |d: Diagnostic, at: usize| {
        let d = d.file(&doc.display_path).at_offset(&doc.source, doc.front_matter.start + at);
        match field_at(text, at) {
            Some(field) => d.field(field),
            None => d,
        }
    };
    let original = e.message().trim();
    let Some(span) = e.span() else {
        let why = explain(original, &Value::default());
        return Diagnostic::error(format!("front matter: {}", why.message)).file(&doc.display_path).hint(why.hint);
    };
    let at = char_floor(text, span.start);
    if let Some(fw) = full_width_on_line(text, at) {
        let column = crate::diagnostics::line_col(&doc.source, doc.front_matter.start + fw.at).1;
        let d = Diagnostic::error(format!(
            "front matter: full-width `{}` at column {column}, where TOML needs the half-width `{}`",
            fw.found[0].0, fw.found[0].1
        ))
        .hint(fw.hint());
        return located(d, fw.at).underline(fw.found[0].0.len_utf8());
    }
    let line = TomlLine::at(text, at);
    // [taxonomies] takes any name, so there a field of the page fails on its type instead.
    if (original.contains("unknown field") || field_at(text, at).is_some_and(|f| f.starts_with("taxonomies.")))
        && let Some((message, hint)) = misplaced::<T>(doc, &line)
    {
        return located(Diagnostic::error(format!("front matter: {message}")).hint(hint), at);
    }
    let (mut message, mut at) = (original.to_string(), at);
    let mut value = Value { key: line.key, syntax: Syntax::Toml, ..Value::default() };
    if let Some(v) = line.value.clone().filter(|v| v.start <= at) {
        value.raw = Some(&text[v.clone()]);
        value.whole = span.start == v.start;
        // Only where toml could not read the value; a complaint about a value it did read
        // (`-5` for a count) stays as it is.
        let unreadable = original.contains("must be quoted")
            || original.contains("expected newline")
            || (original.starts_with("invalid ") && !original.starts_with("invalid type") && !original.starts_with("invalid value"));
        match unreadable.then(|| retry_quoted::<T>(text, v.clone())).flatten() {
            // Not when toml stopped after a value it read (`2024-09-15 年`): quotes would
            // only hide the mistake.
            Some(Retry::Accepted) if !original.contains("expected newline") => value.quoting_fixes = true,
            // A date literal's own complaint (day between 01 and 29) says more than the
            // general one about a date string.
            Some(Retry::Failed(m)) if !(is_toml_date_error(original) && m.contains("is not a valid date")) => {
                value.whole = true;
                (message, at) = (m, v.start);
            }
            _ => {}
        }
    }
    let why = explain(&message, &value);
    located(Diagnostic::error(format!("front matter: {}", why.message)).hint(why.hint), at)
}

/// An editor's message and hint for a parser's message.
struct Explained {
    message: String,
    hint: String,
}

/// What is known of the value a parser complained about, for hints that show it corrected.
#[derive(Default)]
struct Value<'a> {
    /// The key it is assigned to, when the line is a plain `key = value`.
    key: Option<&'a str>,
    syntax: Syntax,
    /// The value as written after `=` (TOML only).
    raw: Option<&'a str>,
    /// The complaint is about the whole value after `=` (not one item of a list).
    whole: bool,
    /// Putting the value in quotes makes the front matter parse (it was meant as text).
    quoting_fixes: bool,
}

#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum Syntax {
    #[default]
    Toml,
    Yaml,
}

impl Value<'_> {
    /// `key = value` (`key: value` in YAML) when the key is known and the value is all of it;
    /// else just the value.
    fn written(&self, value: &str) -> String {
        match self.key {
            Some(key) if self.syntax == Syntax::Yaml => format!("{key}: {value}"),
            Some(key) if self.whole => format!("{key} = {value}"),
            _ => value.to_string(),
        }
    }
}

/// Rewrite a parser's message for an editor, and pick the hint.
fn explain(message: &str, value: &Value) -> Explained {
    let plain = |hint: &str| Explained { message: improve(message), hint: hint.to_string() };
    // YAML names the field first: `venue.annual_visitors: invalid type: …`.
    let typed = regex::Regex::new(r"^([\w.\[\]]+: )?invalid (?:type|value): (.+), expected (.+)$").expect("valid regex");
    if let Some(c) = typed.captures(message) {
        let path = c.get(1).map_or("", |m| m.as_str());
        let (got, expected) = (c.get(2).map_or("", |m| m.as_str()), c.get(3).map_or("", |m| m.as_str()));
        let text = got.strip_prefix("string \"").and_then(|s| s.strip_suffix('"')).map(|s| s.replace("\\\"", "\""));
        if let Some((wanted, hint)) = expected_kind(expected, text.as_deref(), value) {
            let got = match &text {
                Some(t) => format!("the text \"{t}\""),
                None => readable_unexpected(got),
            };
            return Explained { message: format!("{path}this field must be {wanted}, not {got}"), hint };
        }
    }
    if let Some(v) = message.strip_prefix('`').and_then(|m| m.split_once("` is not a valid date")).map(|(v, _)| v) {
        return plain(&date_hint(v, value));
    }
    if is_toml_date_error(message) {
        return plain(&date_hint(value.raw.unwrap_or(""), value));
    }
    if value.quoting_fixes
        && let Some(raw) = value.raw
    {
        return plain(&format!("文字要用半角双引号括起来：{}", value.written(&toml_string(raw))));
    }
    plain(hint_for(message).unwrap_or(GENERIC_HINT))
}

/// Readable words for what serde expected, and the hint for a value of the wrong kind.
fn expected_kind(expected: &str, text: Option<&str>, value: &Value) -> Option<(String, String)> {
    let max = match expected {
        "u8" => Some(u8::MAX as u64),
        "u16" => Some(u16::MAX as u64),
        "u32" => Some(u32::MAX as u64),
        _ => None,
    };
    let whole = match max {
        Some(max) => format!("a whole number from 0 to {max}"),
        None if matches!(expected, "u64" | "usize") => "a whole number (0 or more)".to_string(),
        None => "a whole number".to_string(),
    };
    Some(match expected {
        "u8" | "u16" | "u32" | "u64" | "usize" | "i8" | "i16" | "i32" | "i64" | "isize" => {
            let hint = number_hint(text, value).unwrap_or_else(|| {
                if expected.starts_with('u') { "这里只能写 0 或正整数，不加引号、不带单位" } else { "这里只能写整数，不加引号、不带单位" }
                    .to_string()
            });
            (whole, hint)
        }
        "f32" | "f64" => {
            ("a number".to_string(), number_hint(text, value).unwrap_or_else(|| "这里只能写数字，不加引号、不带单位".to_string()))
        }
        "a boolean" => {
            let answer = text.and_then(|t| match t.trim() {
                "是" | "对" | "有" | "开放" | "免费" | "yes" | "Yes" | "YES" | "TRUE" | "True" | "true" => Some("true"),
                "否" | "不" | "不是" | "无" | "没有" | "no" | "No" | "NO" | "FALSE" | "False" | "false" => Some("false"),
                _ => None,
            });
            let hint = match answer {
                Some(a) => format!("写 true（是）或 false（否），不加引号：{}", value.written(a)),
                None => "写 true（是）或 false（否），不加引号".to_string(),
            };
            ("true or false".to_string(), hint)
        }
        "a sequence" => {
            let hint = match text {
                Some(t) => {
                    let items: Vec<String> =
                        t.split(['、', '，', ',', ';', '；']).map(str::trim).filter(|s| !s.is_empty()).map(toml_string).collect();
                    format!("写成列表：{}", value.written(&format!("[{}]", items.join(", "))))
                }
                None => "写成列表，例如 [\"甲\", \"乙\"]".to_string(),
            };
            ("a list [\"…\", \"…\"]".to_string(), hint)
        }
        "a string" => {
            if text.is_some() {
                return None;
            }
            // What toml read as a number, a date or `true`, as text.
            let written = value.raw.map_or_else(|| "\"…\"".to_string(), toml_string);
            ("text in double quotes".to_string(), format!("文字要用半角双引号括起来：{}", value.written(&written)))
        }
        _ => return None,
    })
}

/// serde's name for a value it did not want (`integer `5``), in plain words.
fn readable_unexpected(got: &str) -> String {
    let inner = got.split_once('`').and_then(|(_, r)| r.strip_suffix('`'));
    match (got.split(' ').next().unwrap_or(""), inner) {
        ("integer" | "floating", Some(n)) => format!("the number {n}"),
        ("boolean", Some(b)) => b.to_string(),
        ("sequence", _) => "a list".to_string(),
        ("map", _) => "a table".to_string(),
        _ => got.to_string(),
    }
}

/// The hint for text where a number belongs: the number it means, written plainly.
fn number_hint(text: Option<&str>, value: &Value) -> Option<String> {
    // Only text: a number out of range (`-5`) has nothing to convert.
    let n = plain_number(text?)?;
    let mut hint = format!("只写数字，不加引号、逗号、单位或“万”“亿”：{}", value.written(&n.value));
    if let Some(written) = n.scaled {
        hint.push_str(&format!("（{written} = {}）", n.value));
    }
    Some(hint)
}

/// A number as an editor writes it in Chinese text, made plain.
#[derive(Debug, PartialEq, Eq)]
struct PlainNumber {
    /// Digits only, with a decimal point where needed: `300000`, `12345.6`.
    value: String,
    /// How it was written when it used 万 or 亿 (`30万`).
    scaled: Option<String>,
}

/// `30万` → 300000, `1.2亿` → 120000000, `300,000` → 300000, `近6000名` → 6000: the first
/// number of the text, commas dropped and 万/亿 multiplied out. Decimal digits are shifted as
/// text, so nothing is rounded.
fn plain_number(text: &str) -> Option<PlainNumber> {
    let re = regex::Regex::new(r"([0-9]+(?:[,，][0-9]{3})*)(?:\.([0-9]+))?\s*(万亿|亿|万)?").expect("valid regex");
    let c = re.captures(text)?;
    let int = c[1].replace([',', '，'], "");
    let frac = c.get(2).map_or("", |m| m.as_str());
    let shift = match c.get(3).map(|m| m.as_str()) {
        Some("万") => 4,
        Some("亿") => 8,
        Some("万亿") => 12,
        _ => 0,
    };
    let value = super::number::canonical(&int, frac, shift);
    Some(PlainNumber { value, scaled: (shift > 0).then(|| c[0].trim().to_string()) })
}

/// toml's own complaints about a date literal (`2024-9-15`, `2024-02-30`).
fn is_toml_date_error(message: &str) -> bool {
    ["invalid date", "invalid time", "invalid datetime", "invalid offset"].iter().any(|p| message.starts_with(p))
}

/// The hint for a date written otherwise than YYYY-MM-DD: the same day written so, when it is
/// one.
fn date_hint(written: &str, value: &Value) -> String {
    let re = regex::Regex::new(r"^\s*([0-9]{4})\s*[-/.年]\s*([0-9]{1,2})\s*[-/.月]\s*([0-9]{1,2})\s*日?\s*$").expect("valid regex");
    let day = re.captures(written.trim_matches('"')).and_then(|c| {
        chrono::NaiveDate::from_ymd_opt(c[1].parse().ok()?, c[2].parse().ok()?, c[3].parse().ok()?)
    });
    match day {
        Some(d) => format!("日期写成 YYYY-MM-DD（年-月-日，月和日都是两位数）：{}", value.written(&d.format("%Y-%m-%d").to_string())),
        None if re.is_match(written.trim_matches('"')) => {
            "没有这一天：请核对年、月、日（日期写成 YYYY-MM-DD，例如 2024-09-15）".to_string()
        }
        None => "日期写成 YYYY-MM-DD（年-月-日，月和日都是两位数），例如 2024-09-15".to_string(),
    }
}

/// `text` as a TOML basic string.
fn toml_string(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// What parsing the front matter again with one value quoted gave.
enum Retry {
    /// It parsed, or failed only later: the value was meant as text.
    Accepted,
    /// It failed on the value itself, now as a string: this message says what the field wants.
    Failed(String),
}

/// Parse `text` again with the unquoted value at `value` put in quotes. toml's complaint about
/// `30万` or `2024/9/15` is that text must be quoted; as a string the field's own type speaks
/// (a whole number, a date written YYYY-MM-DD).
fn retry_quoted<T: DeserializeOwned>(text: &str, value: Range<usize>) -> Option<Retry> {
    let raw = &text[value.clone()];
    if raw.is_empty() || raw.starts_with(['"', '\'', '[', '{']) {
        return None;
    }
    let quoted = toml_string(raw);
    let retried = format!("{}{quoted}{}", &text[..value.start], &text[value.end..]);
    let end = value.start + quoted.len();
    Some(match toml::from_str::<T>(&retried) {
        Ok(_) => Retry::Accepted,
        Err(e) => match e.span() {
            Some(s) if (value.start..end).contains(&s.start) => Retry::Failed(e.message().trim().to_string()),
            _ => Retry::Accepted,
        },
    })
}

/// One line of TOML front matter, split where an editor's `key = value` splits.
struct TomlLine<'a> {
    /// Byte range of the line, its line break included.
    start: usize,
    end: usize,
    key: Option<&'a str>,
    /// The value after `=`, spaces and a trailing `# comment` cut (for unquoted values, the
    /// only ones this is used to rewrite).
    value: Option<Range<usize>>,
}

impl<'a> TomlLine<'a> {
    fn at(text: &'a str, offset: usize) -> TomlLine<'a> {
        let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
        let end = text[offset..].find('\n').map_or(text.len(), |i| offset + i + 1);
        let line = &text[start..end];
        let (key, value) = match line.split_once('=') {
            Some((k, v)) if is_bare_key(k.trim()) => {
                let v_start = start + k.len() + 1 + (v.len() - v.trim_start().len());
                let body = v.trim_start();
                let cut = body.find(" #").or_else(|| body.find("\t#")).unwrap_or(body.len());
                let v_end = v_start + body[..cut].trim_end().len();
                (Some(k.trim()), Some(v_start..v_end))
            }
            _ => (None, None),
        };
        TomlLine { start, end, key, value }
    }
}

fn is_bare_key(key: &str) -> bool {
    !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// The key of the YAML line at `offset` (`annual_visitors: 30万`), for hints.
fn yaml_key_at(text: &str, offset: usize) -> Option<&str> {
    let offset = char_floor(text, offset);
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let key = text[start..].split_once(':')?.0.trim();
    let key = key.strip_prefix("- ").unwrap_or(key);
    (is_bare_key(key) && !key.contains('\n')).then_some(key)
}

/// Full-width punctuation that a Chinese input method types in place of TOML's ASCII, and
/// the ASCII it stands for.
const FULL_WIDTH: [(char, char); 12] = [
    ('＝', '='),
    ('“', '"'),
    ('”', '"'),
    ('‘', '\''),
    ('’', '\''),
    ('，', ','),
    ('【', '['),
    ('】', ']'),
    ('［', '['),
    ('］', ']'),
    ('＋', '+'),
    ('：', ':'),
];

/// The full-width punctuation of one line, in order: each character with its half-width form.
struct FullWidth {
    /// Offset of the first one.
    at: usize,
    found: Vec<(char, char)>,
}

impl FullWidth {
    /// `这一行用了全角符号 “ ”，请改用半角 " "（切换到英文输入法）`
    fn hint(&self) -> String {
        let mut seen: Vec<(char, char)> = Vec::new();
        for &pair in &self.found {
            if !seen.contains(&pair) {
                seen.push(pair);
            }
        }
        let list = |f: fn(&(char, char)) -> char| seen.iter().map(|p| f(p).to_string()).collect::<Vec<_>>().join(" ");
        let found = list(|p| p.0);
        // `全角符号 ， ，请改用`: a space keeps the comma found apart from the sentence's.
        let gap = if found.ends_with('，') { " " } else { "" };
        format!("这一行用了全角符号 {found}{gap}，请改用半角 {}（切换到英文输入法）", list(|p| p.1))
    }
}

/// Full-width punctuation on the line of `offset` where TOML reads syntax: outside strings
/// and comments, or inside a string the line leaves open (`"焦作”`, whose closing quote is
/// full-width). `：` before the line's `=` stands for `=` (`free_open：true`).
fn full_width_on_line(text: &str, offset: usize) -> Option<FullWidth> {
    #[derive(PartialEq)]
    enum In {
        Syntax,
        Basic,
        Literal,
        MultiBasic,
        MultiLiteral,
        Comment,
    }
    let line_start = text[..offset.min(text.len())].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[offset.min(text.len())..].find('\n').map_or(text.len(), |i| offset + i);
    let mut state = In::Syntax;
    let mut found: Vec<(usize, char)> = Vec::new();
    let mut open: Vec<(usize, char)> = Vec::new();
    let mut chars = text[..line_end].char_indices();
    while let Some((i, c)) = chars.next() {
        let rest = &text[i..];
        match state {
            In::Syntax => match c {
                '"' if rest.starts_with("\"\"\"") => {
                    chars.nth(1);
                    state = In::MultiBasic;
                }
                '\'' if rest.starts_with("'''") => {
                    chars.nth(1);
                    state = In::MultiLiteral;
                }
                '"' => state = In::Basic,
                '\'' => state = In::Literal,
                '#' => state = In::Comment,
                _ if FULL_WIDTH.iter().any(|(f, _)| *f == c) => found.push((i, c)),
                _ => {}
            },
            In::Basic | In::Literal => match c {
                '\\' if state == In::Basic => {
                    chars.next();
                }
                '"' if state == In::Basic => {
                    open.clear();
                    state = In::Syntax;
                }
                '\'' if state == In::Literal => {
                    open.clear();
                    state = In::Syntax;
                }
                '\n' => {
                    found.append(&mut open);
                    state = In::Syntax;
                }
                '“' | '”' | '‘' | '’' => open.push((i, c)),
                _ => {}
            },
            In::MultiBasic => match c {
                '\\' => {
                    chars.next();
                }
                '"' if rest.starts_with("\"\"\"") => {
                    chars.nth(1);
                    state = In::Syntax;
                }
                _ => {}
            },
            In::MultiLiteral => {
                if rest.starts_with("'''") {
                    chars.nth(1);
                    state = In::Syntax;
                }
            }
            In::Comment => {
                if c == '\n' {
                    state = In::Syntax;
                }
            }
        }
    }
    found.append(&mut open);
    found.retain(|&(i, _)| i >= line_start);
    let at = found.first()?.0;
    let equals = text[line_start..line_end].find('=').map_or(line_end, |i| line_start + i);
    let found = found
        .iter()
        .map(|&(i, c)| {
            let half = if c == '：' && i < equals { '=' } else { FULL_WIDTH.iter().find(|(f, _)| *f == c).map_or(c, |p| p.1) };
            (c, half)
        })
        .collect();
    Some(FullWidth { at, found })
}

/// A field TOML put into the table above it although it belongs elsewhere: at the top (a
/// `date` written last, after the `[[figures]]`), or in another table of the page. Found by
/// moving the line there and parsing again: if the field is not unknown there, that is where
/// it goes. `[extra]` and `[taxonomies]` take any key, so they prove nothing.
fn misplaced<T: DeserializeOwned>(doc: &Document, line: &TomlLine) -> Option<(String, String)> {
    let text = doc.front_matter_text();
    let key = line.key?;
    let headers = table_headers(text);
    let current = headers.iter().rev().find(|h| h.start < line.start)?;
    let moved = &text[line.start..line.end];
    let moved = if moved.ends_with('\n') { moved.to_string() } else { format!("{moved}\n") };
    let without = format!("{}{}", &text[..line.start], &text[line.end..]);
    let first_line = doc.source[..doc.front_matter.start].matches('\n').count() + 1;
    let line_of = |h: &Header| first_line + text[..h.start].matches('\n').count();
    // Where the key is accepted: `Some(true)` fine, `Some(false)` there already, `None` unknown.
    let fits = |at: usize| {
        let candidate = format!("{}{moved}{}", &without[..at], &without[at..]);
        match toml::from_str::<T>(&candidate) {
            Ok(_) => Some(true),
            // A top-level `city` is a whole [city] table, not the venue's city name.
            Err(e) if e.message().contains(&format!("unknown field `{key}`")) || e.message().contains(", expected struct") => None,
            Err(e) => Some(!e.message().starts_with("duplicate key")),
        }
    };
    let written_after = format!("`{key}` is written after the `{}` header, so it belongs to that table, which has no such field", current.shown);
    if let Some(fresh) = fits(0) {
        let first = &headers[0];
        return Some(if fresh {
            (
                format!("{written_after}; `{key}` is a top-level field"),
                format!("把这一行移到第一个表头（第 {} 行的 {}）之前：表头下面的字段都属于那个表", line_of(first), first.shown),
            )
        } else {
            (
                format!("{written_after}; `{key}` is a top-level field, and the page has it already at the top"),
                format!("删掉这一行（{key} 已经写在第一个表头之前了）"),
            )
        });
    }
    let mut tried: Vec<&str> = Vec::new();
    for h in &headers {
        if h.name == current.name || h.name == "taxonomies" || h.name == "extra" || h.name.starts_with("extra.") {
            continue;
        }
        // One try a table name, and a few at most: each is a parse of the whole text.
        if tried.contains(&h.name.as_str()) || tried.len() == MAX_TABLES_TRIED {
            continue;
        }
        tried.push(&h.name);
        let after = if h.start >= line.end { h.end - (line.end - line.start) } else { h.end };
        let Some(fresh) = fits(after) else { continue };
        return Some(if fresh {
            (
                format!("{written_after}; `{key}` is a field of `{}`", h.shown),
                format!("把这一行移到第 {} 行的 {} 下面（在下一个表头之前）：表头下面的字段都属于那个表", line_of(h), h.shown),
            )
        } else {
            (
                format!("{written_after}; `{key}` is a field of `{}`, which has it already", h.shown),
                format!("删掉这一行（第 {} 行的 {} 里已经有 {key} 了）", line_of(h), h.shown),
            )
        });
    }
    None
}

/// How many other tables [`misplaced`] tries a field in (a page has a handful).
const MAX_TABLES_TRIED: usize = 8;

/// `offset` within `text`, moved back to the start of its character.
fn char_floor(text: &str, offset: usize) -> usize {
    let mut i = offset.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// A `[table]` or `[[array]]` header line of TOML front matter.
struct Header {
    /// Byte range of the line, its line break included.
    start: usize,
    end: usize,
    /// `figures`, `overview.charts`
    name: String,
    /// As written: `[[figures]]`
    shown: String,
}

/// The header lines of `text`, in order (a line inside a multi-line string that looks like
/// one counts too; front matter hardly has such strings).
fn table_headers(text: &str) -> Vec<Header> {
    let mut out = Vec::new();
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        let t = line.trim();
        let t = t.split(" #").next().unwrap_or(t).trim_end();
        let array = t.starts_with("[[") && t.ends_with("]]");
        if array || (t.starts_with('[') && t.ends_with(']')) {
            let name = t.trim_matches(['[', ']']).trim().to_string();
            let shown = if array { format!("[[{name}]]") } else { format!("[{name}]") };
            out.push(Header { start, end: start + line.len(), name, shown });
        }
        start += line.len();
    }
    out
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
    message
        .replace("unknown variant", "value not allowed:")
        .replace("expected one of", allowed)
        .replace("string values must be quoted, expected literal string", "text must be written in double quotes")
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
    let key = line.split(['=', '＝']).next()?.trim();
    if key.is_empty() || key.starts_with('[') || !line.contains(['=', '＝']) {
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

    fn doc(source: &str) -> Document {
        Document::page_for_test("venues/x.md", source)
    }

    /// The error for a venue page whose `[venue]` table (after `kind`) holds `venue`, and
    /// whose front matter ends with `after`.
    fn venue_error(top: &str, venue: &str, after: &str) -> Diagnostic {
        let source = format!("+++\ntitle = \"焦作市科技馆\"\n{top}\n[venue]\nkind = \"市级\"\n{venue}\n{after}\n+++\n\n正文\n");
        parse::<PageFrontMatter>(&doc(&source)).expect_err("front matter must not parse")
    }

    fn hint(d: &Diagnostic) -> &str {
        d.hint.as_deref().unwrap_or("")
    }

    #[test]
    fn full_width_punctuation_is_named_where_it_is() {
        let d = venue_error("", "city ＝ \"焦作\"", "");
        assert_eq!((d.line, d.column), (Some(6), Some(6)), "{d}");
        assert_eq!(d.message, "front matter: full-width `＝` at column 6, where TOML needs the half-width `=`");
        assert_eq!(hint(&d), "这一行用了全角符号 ＝，请改用半角 =（切换到英文输入法）");

        let d = venue_error("", "city = “焦作”", "");
        assert_eq!((d.line, d.column), (Some(6), Some(8)), "{d}");
        assert_eq!(hint(&d), "这一行用了全角符号 “ ”，请改用半角 \" \"（切换到英文输入法）");

        let d = venue_error("", "status = \"已开放\"，", "");
        assert_eq!(d.column, Some(15), "{d}");
        assert_eq!(hint(&d), "这一行用了全角符号 ， ，请改用半角 ,（切换到英文输入法）");
        assert_eq!(d.excerpt.as_ref().map(|e| e.span.len()), Some('，'.len_utf8()), "only the comma is underlined");

        let d = venue_error("sources = [\"a.txt\"，\"b.txt\"]", "", "");
        assert_eq!((d.line, d.column), (Some(3), Some(19)), "{d}");

        let d = venue_error("", "", "【extra】");
        assert_eq!(hint(&d), "这一行用了全角符号 【 】，请改用半角 [ ]（切换到英文输入法）");
        let d = venue_error("", "", "［extra］");
        assert!(d.message.contains("`［`"), "{d}");

        // `：` between key and value stands for `=`; a closing quote typed full-width leaves
        // the string open, and is found inside it.
        let d = venue_error("", "free_open ：true", "");
        assert_eq!(hint(&d), "这一行用了全角符号 ：，请改用半角 =（切换到英文输入法）");
        let d = venue_error("", "city = \"焦作”", "");
        assert_eq!(d.column, Some(11), "{d}");
        assert!(hint(&d).contains("全角符号 ”"), "{d}");
    }

    #[test]
    fn full_width_punctuation_inside_strings_and_comments_is_fine() {
        // Quotes inside a string and a colon in a comment are text: the error is the number.
        let d = venue_error("description = \"“云科普”：平台\"", "exhibits = 多 # 注：约数", "");
        assert!(!d.message.contains("full-width"), "{d}");
        assert!(d.message.contains("whole number"), "{d}");
        let text = "a = \"\"\"\n“x”：\n\"\"\"\nb = 1";
        let fw = full_width_on_line(text, text.find('：').unwrap());
        assert!(fw.is_none());
    }

    #[test]
    fn chinese_numbers_are_made_plain() {
        let n = |s: &str| plain_number(s).map(|n| (n.value, n.scaled));
        assert_eq!(n("30万"), Some(("300000".into(), Some("30万".into()))));
        assert_eq!(n("1.2亿"), Some(("120000000".into(), Some("1.2亿".into()))));
        assert_eq!(n("300,000"), Some(("300000".into(), None)));
        assert_eq!(n("近6000名"), Some(("6000".into(), None)));
        assert_eq!(n("1.23456万"), Some(("12345.6".into(), Some("1.23456万".into()))));
        assert_eq!(n("0.5万"), Some(("5000".into(), Some("0.5万".into()))));
        assert_eq!(n("400万余人次"), Some(("4000000".into(), Some("400万".into()))));
        assert_eq!(n("很重要"), None);
    }

    #[test]
    fn numbers_written_chinese_style_get_the_plain_number() {
        for value in ["30万", "\"30万\""] {
            let d = venue_error("", &format!("annual_visitors = {value}"), "");
            assert_eq!(d.message, "front matter: this field must be a whole number (0 or more), not the text \"30万\"");
            assert_eq!(d.field.as_deref(), Some("venue.annual_visitors"));
            assert_eq!((d.line, d.column), (Some(6), Some(19)), "{d}");
            assert_eq!(hint(&d), "只写数字，不加引号、逗号、单位或“万”“亿”：annual_visitors = 300000（30万 = 300000）");
        }
        let d = venue_error("", "annual_visitors = 300,000", "");
        assert_eq!(d.column, Some(19), "the value, not the comma toml stopped at: {d}");
        assert_eq!(hint(&d), "只写数字，不加引号、逗号、单位或“万”“亿”：annual_visitors = 300000");
        let d = venue_error("", "", "[[figures]]\nlabel = \"累计接待观众\"\nvalue = \"400万\"");
        assert_eq!(d.message, "front matter: this field must be a number, not the text \"400万\"");
        assert!(hint(&d).ends_with("value = 4000000（400万 = 4000000）"), "{d}");
        let d = venue_error("", "", "[[figures]]\nlabel = \"经费\"\nvalue = 1.2亿");
        assert!(hint(&d).ends_with("value = 120000000（1.2亿 = 120000000）"), "{d}");
        let d = venue_error("", "visitors_year = \"2023年\"", "");
        assert_eq!(d.message, "front matter: this field must be a whole number from 0 to 65535, not the text \"2023年\"");
        assert!(hint(&d).ends_with("visitors_year = 2023"), "{d}");
    }

    #[test]
    fn booleans_lists_and_text_get_their_form() {
        let d = venue_error("", "free_open = \"是\"", "");
        assert_eq!(d.message, "front matter: this field must be true or false, not the text \"是\"");
        assert_eq!(hint(&d), "写 true（是）或 false（否），不加引号：free_open = true");
        let d = venue_error("", "halls = \"儿童科学乐园、宇宙探索\"", "");
        assert_eq!(hint(&d), "写成列表：halls = [\"儿童科学乐园\", \"宇宙探索\"]");
        let campaign = "+++\ntitle = \"科普日\"\n[campaign]\nkind = \"节日\"\ncities = \"郑州\"\n+++\n";
        let d = parse::<PageFrontMatter>(&doc(campaign)).unwrap_err();
        assert_eq!(d.message, "front matter: this field must be a list [\"…\", \"…\"], not the text \"郑州\"");
        assert_eq!(hint(&d), "写成列表：cities = [\"郑州\"]");
        let d = venue_error("", "annual_visitors = -5", "");
        assert_eq!(d.message, "front matter: this field must be a whole number (0 or more), not the number -5");
        assert_eq!(hint(&d), "这里只能写 0 或正整数，不加引号、不带单位");
        let d = venue_error("", "city = 焦作", "");
        assert_eq!(d.message, "front matter: text must be written in double quotes");
        assert_eq!(hint(&d), "文字要用半角双引号括起来：city = \"焦作\"");
        let d = venue_error("description = 2024", "", "");
        assert_eq!(d.message, "front matter: this field must be text in double quotes, not the number 2024");
        assert_eq!(hint(&d), "文字要用半角双引号括起来：description = \"2024\"");
    }

    #[test]
    fn dates_get_the_same_day_written_yyyy_mm_dd() {
        for (written, message) in [
            ("2024-9-15", "front matter: invalid date, expected a two-digit month (MM)"),
            ("2024/9/15", "front matter: `2024/9/15` is not a valid date; write it YYYY-MM-DD, e.g. 2024-09-15"),
            ("\"2024年9月15日\"", "front matter: `2024年9月15日` is not a valid date; write it YYYY-MM-DD, e.g. 2024-09-15"),
        ] {
            let d = venue_error(&format!("date = {written}"), "", "");
            assert_eq!(d.message, message);
            assert_eq!((d.line, d.column, d.field.as_deref()), (Some(3), Some(8), Some("date")), "{d}");
            assert_eq!(hint(&d), "日期写成 YYYY-MM-DD（年-月-日，月和日都是两位数）：date = 2024-09-15");
        }
        let d = venue_error("date = 2024-02-30", "", "");
        assert_eq!(d.message, "front matter: invalid date, expected day between 01 and 29");
        assert!(hint(&d).starts_with("没有这一天"), "{d}");
    }

    #[test]
    fn a_field_below_the_wrong_header_is_sent_where_it_belongs() {
        let figures = "[[figures]]\nlabel = \"馆校合作学校\"\nvalue = 24";
        let d = venue_error("", "", &format!("{figures}\ndate = 2024-09-15"));
        assert_eq!(
            d.message,
            "front matter: `date` is written after the `[[figures]]` header, so it belongs to that table, which has no such field; `date` is a top-level field"
        );
        assert_eq!(hint(&d), "把这一行移到第一个表头（第 4 行的 [venue]）之前：表头下面的字段都属于那个表");
        assert_eq!((d.line, d.field.as_deref()), (Some(10), Some("figures.date")));

        let d = venue_error("", "", &format!("{figures}\ncounty = \"修武县\""));
        assert!(d.message.ends_with("`county` is a field of `[venue]`"), "{d}");
        assert_eq!(hint(&d), "把这一行移到第 4 行的 [venue] 下面（在下一个表头之前）：表头下面的字段都属于那个表");

        let d = venue_error("", "city = \"焦作\"", &format!("{figures}\ncity = \"焦作\""));
        assert!(d.message.ends_with("`city` is a field of `[venue]`, which has it already"), "{d}");
        let d = venue_error("", "", "[taxonomies]\ntags = [\"科普\"]\ndate = 2024-09-15");
        assert!(d.message.contains("after the `[taxonomies]` header") && d.message.ends_with("top-level field"), "{d}");
        let d = venue_error("", "", "[taxonomies]\ntags = \"科普\"");
        assert_eq!(hint(&d), "写成列表：tags = [\"科普\"]");
        let d = venue_error("", "", &format!("{figures}\ntitle = \"又一个\""));
        assert!(d.message.ends_with("and the page has it already at the top"), "{d}");

        // A misspelt field stays a misspelt field, also when [extra] would take anything.
        let d = venue_error("", "", &format!("[extra]\nx = 1\n{figures}\nlable = \"x\""));
        assert!(d.message.starts_with("front matter: unknown field `lable`"), "{d}");
    }

    #[test]
    fn yaml_values_get_the_same_hints() {
        let source = "---\ntitle: 焦作市科技馆\nvenue:\n  kind: 市级\n  annual_visitors: 30万\n---\n";
        let d = parse::<PageFrontMatter>(&doc(source)).unwrap_err();
        assert!(d.message.contains("must be a whole number (0 or more), not the text \"30万\""), "{d}");
        assert!(hint(&d).ends_with("annual_visitors: 300000（30万 = 300000）"), "{d}");
    }

    #[test]
    fn field_at_names_table_and_key() {
        let text = "title = \"x\"\n[venue]\nkind = \"大馆\"\n";
        let off = text.find("大馆").unwrap();
        assert_eq!(field_at(text, off).as_deref(), Some("venue.kind"));
    }
}
