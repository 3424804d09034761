//! `kepu check --sources`: every number a typed page states must be found in a source the page
//! cites. Editors write the portal from a few source documents (`sources = ["000_….txt"]`,
//! kept in a seeds folder beside the site); a figure copied from a document the page does not
//! cite, or a number typed wrong, is a fact a reader cannot check. This finds them.
//!
//! Numbers are compared by value, the way the documents write them: `11万` is 110000, `7.9万`
//! is 79000 (and 7.9), `200多万` is 2000000, `十项` is 10, `13.21%` is 13.21. A page's number is
//! found when one of its cited sources holds that value anywhere; that catches a number from an
//! uncited document or a slip of the keyboard, not a number put in the wrong sentence.
//!
//! What is not a fact from the sources is left alone: front-matter fields that are not facts
//! (`weight`, `date`, `sources`, `slug` …), link targets, the text of links to other pages of
//! the site (their titles, checked on their own pages), and the yearly date of a national
//! day with the law it cites (`[campaign.annual]`, whose numbers may appear in the text too).

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::model::number::canonical;
use crate::model::{Site, Typed};

/// A source document's title from the site's one table of them, `config.toml`
/// `[extra.sources."<file>"] title` (the same table pages show readers their sources from).
fn source_title<'a>(site: &'a Site, file: &str) -> Option<&'a str> {
    site.config.extra.get("sources")?.get(file)?.get("title")?.as_str()
}

/// Why the seeds could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SourcesError {
    #[error("the sources folder {0} does not exist (pass --seeds DIR, or put the sources at ../shared/seeds/ beside the site)")]
    Missing(PathBuf),
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// The source documents: file name → every number value each one states, canonical
/// ([`canonical`](crate::model::number::canonical)).
#[derive(Debug, Default)]
pub struct Seeds {
    numbers: BTreeMap<String, HashSet<String>>,
}

impl Seeds {
    /// Read every `.txt` and `.md` file of `dir`.
    pub fn load(dir: &Path) -> Result<Seeds, SourcesError> {
        if !dir.is_dir() {
            return Err(SourcesError::Missing(dir.to_path_buf()));
        }
        fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SourcesError + '_ {
            move |source| SourcesError::Io { path: path.to_path_buf(), source }
        }
        let mut seeds = Seeds::default();
        for entry in std::fs::read_dir(dir).map_err(io(dir))? {
            let path = entry.map_err(io(dir))?.path();
            let text_file = path.extension().is_some_and(|e| e == "txt" || e == "md");
            if !text_file || !path.is_file() {
                continue;
            }
            let bytes = std::fs::read(&path).map_err(io(&path))?;
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            seeds.add(&name, &String::from_utf8_lossy(&bytes));
        }
        Ok(seeds)
    }

    /// Add a document's text under `name`.
    pub fn add(&mut self, name: &str, text: &str) {
        let mut values = HashSet::new();
        for n in arabic_numbers(text) {
            values.extend(n.values);
        }
        values.extend(chinese_numbers(text));
        self.numbers.insert(name.to_string(), values);
    }

    /// The names of the documents, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.numbers.keys().map(String::as_str)
    }

    fn holds(&self, name: &str, values: &[String]) -> bool {
        self.numbers.get(name).is_some_and(|set| values.iter().any(|v| set.contains(v)))
    }
}

/// What was looked at.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct SourcesStats {
    pub pages: usize,
    pub numbers: usize,
}

/// Check every typed page of `site` (whose files are under `root`) against `seeds`: a number
/// in none of the page's cited sources, and a cited source that is not among the seeds, are
/// errors naming the file, line and number.
pub fn check(site: &Site, root: &Path, seeds: &Seeds) -> (Diagnostics, SourcesStats) {
    let mut diags = Diagnostics::new();
    let mut stats = SourcesStats::default();
    for page in &site.pages {
        let Some(typed) = &page.typed else { continue };
        if page.meta.example {
            continue;
        }
        let Ok(source) = std::fs::read_to_string(root.join("content").join(&page.rel_path)) else { continue };
        stats.pages += 1;
        let cited: Vec<&str> = page.meta.sources.iter().map(String::as_str).collect();
        for name in cited.iter().filter(|n| !seeds.numbers.contains_key(**n)) {
            let line = source.lines().position(|l| l.contains(*name)).map_or(1, |i| i + 1);
            diags.push(
                Diagnostic::error(format!("source `{name}` is not one of the source documents"))
                    .file(&page.display_path)
                    .field("sources")
                    .hint(format!("the documents are: {}", seeds.names().collect::<Vec<_>>().join(" ")))
                    .at_line(&source, line),
            );
        }
        // The numbers of a yearly date's legal basis are that law's, not a source's.
        let exempt: HashSet<String> = match typed {
            Typed::Campaign(c) => c.annual.iter().flat_map(|a| arabic_numbers(&a.basis)).flat_map(|n| n.values).collect(),
            _ => HashSet::new(),
        };
        for found in page_numbers(&source) {
            stats.numbers += 1;
            if found.values.iter().any(|v| exempt.contains(v)) || cited.iter().any(|c| seeds.holds(c, &found.values)) {
                continue;
            }
            let elsewhere: Vec<&str> = seeds.names().filter(|s| !cited.contains(s) && seeds.holds(s, &found.values)).collect();
            let hint = if elsewhere.is_empty() {
                "no source document gives this number: correct it, or leave it out".to_string()
            } else {
                let named: Vec<String> = elsewhere
                    .iter()
                    .map(|f| match source_title(site, f) {
                        Some(title) => format!("{f} (《{title}》)"),
                        None => f.to_string(),
                    })
                    .collect();
                format!("it is in {}: add it to sources if the fact comes from there", named.join(" and "))
            };
            let cited_list = if cited.is_empty() { "none".to_string() } else { cited.join(", ") };
            diags.push(
                Diagnostic::error(format!("`{}` is in none of the sources the page cites ({cited_list})", found.written))
                    .file(&page.display_path)
                    .field(found.field.clone())
                    .hint(hint)
                    .at_offset(&source, found.offset)
                    .underline(found.written.len()),
            );
        }
    }
    (diags, stats)
}

/// A number as a page or a document writes it, with the values it may stand for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Number {
    /// As written: `11万`, `2635`, `13.21`.
    pub written: String,
    /// Canonical values: the number itself and, with 万 or 亿, the number multiplied out.
    pub values: Vec<String>,
    /// Byte offset in the text.
    pub at: usize,
}

/// A number on a page: where, and in which field (`text` for the Markdown).
#[derive(Debug, Clone, PartialEq, Eq)]
struct PageNumber {
    written: String,
    values: Vec<String>,
    line: usize,
    /// Byte offset of the number in the file (its first occurrence on its line).
    offset: usize,
    field: String,
}

/// Front-matter keys whose values are not facts from the sources.
const NOT_FACTS: &[&str] =
    &["weight", "date", "updated", "sources", "slug", "path", "aliases", "template", "draft", "example", "month", "day", "basis"];

/// Every number of a page's file that states a fact: the values of front-matter fields (not
/// [`NOT_FACTS`], nor a table header) and the Markdown text without link targets.
fn page_numbers(source: &str) -> Vec<PageNumber> {
    let mut out = Vec::new();
    let mut fences = 0;
    let mut line_start = 0;
    // An internal link's text is the other page's title, whose numbers are checked there; of
    // any other link, only the target is not text.
    let internal_link = regex::Regex::new(r"\[[^\]]*\]\(@/[^)]*\)").expect("valid regex");
    let link_target = regex::Regex::new(r"\]\([^)]*\)").expect("valid regex");
    for (i, line) in source.split_inclusive('\n').enumerate() {
        let start = line_start;
        line_start += line.len();
        let line = line.trim_end_matches(['\n', '\r']);
        let trimmed = line.trim();
        if fences < 2 && (trimmed == "+++" || (trimmed == "---" && i == 0) || (fences == 1 && trimmed == "---")) {
            fences += 1;
            continue;
        }
        let (field, text) = if fences == 1 {
            if trimmed.starts_with('[') || trimmed.starts_with('#') {
                continue;
            }
            let Some((key, value)) = line.split_once('=').or_else(|| line.split_once(':')) else { continue };
            let key = key.trim();
            if NOT_FACTS.contains(&key) {
                continue;
            }
            (key.to_string(), value.to_string())
        } else if fences >= 2 {
            let line = internal_link.replace_all(line, "");
            ("text".to_string(), link_target.replace_all(&line, "]").into_owned())
        } else {
            continue;
        };
        for n in arabic_numbers(&text) {
            let offset = start + line.find(n.written.as_str()).unwrap_or(0);
            out.push(PageNumber { written: n.written, values: n.values, line: i + 1, offset, field: field.clone() });
        }
    }
    out
}

/// The Arabic-digit numbers of `text`, with a 万 or 亿 after them (`11万`, `200多万`, `1.5 万`)
/// multiplied out as a second value.
pub fn arabic_numbers(text: &str) -> Vec<Number> {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = RE.get_or_init(|| {
        regex::Regex::new(r"([0-9]+)(?:[.．]([0-9]+))?(?:\s*(?:多|余|几)?\s*(万亿|亿|万))?").expect("valid regex")
    });
    re.captures_iter(text)
        .map(|c| {
            let int = &c[1];
            let frac = c.get(2).map_or("", |m| m.as_str());
            let mut values = vec![canonical(int, frac, 0)];
            let shift = match c.get(3).map(|m| m.as_str()) {
                Some("万") => 4,
                Some("亿") => 8,
                Some("万亿") => 12,
                _ => 0,
            };
            if shift > 0 {
                values.push(canonical(int, frac, shift));
            }
            Number { written: c[0].to_string(), values, at: c.get(0).map_or(0, |m| m.start()) }
        })
        .collect()
}

/// The values of numbers written in Chinese numerals (`十`, `二十三`, `一百`, `百万`, `两`).
pub fn chinese_numbers(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut Vec<String>| {
        if let Some(v) = chinese_value(run) {
            out.push(v.to_string());
        }
        run.clear();
    };
    for c in text.chars() {
        if "零〇一二两三四五六七八九十百千万亿".contains(c) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// The value of one run of Chinese numerals; `None` when it is too long to be one number.
fn chinese_value(run: &str) -> Option<u64> {
    if run.is_empty() || run.chars().count() > 12 {
        return None;
    }
    let (mut total, mut section, mut digit): (u64, u64, Option<u64>) = (0, 0, None);
    for c in run.chars() {
        let d = match c {
            '零' | '〇' => Some(0),
            '一' => Some(1),
            '二' | '两' => Some(2),
            '三' => Some(3),
            '四' => Some(4),
            '五' => Some(5),
            '六' => Some(6),
            '七' => Some(7),
            '八' => Some(8),
            '九' => Some(9),
            _ => None,
        };
        if let Some(d) = d {
            digit = Some(d);
            continue;
        }
        let unit = match c {
            '十' => 10,
            '百' => 100,
            '千' => 1000,
            '万' => 10_000,
            '亿' => 100_000_000,
            _ => return None,
        };
        if unit >= 10_000 {
            section += digit.take().unwrap_or(0);
            total = (total + section.max(1)).checked_mul(unit)?;
            section = 0;
        } else {
            section += digit.take().unwrap_or(1) * unit;
        }
    }
    Some(total + section + digit.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str) -> Vec<Vec<String>> {
        arabic_numbers(text).into_iter().map(|n| n.values).collect()
    }

    #[test]
    fn numbers_are_read_with_their_wan_and_yi() {
        assert_eq!(values("建筑面积7.9万平米"), [["7.9", "79000"]]);
        assert_eq!(values("接待公众200多万人次"), [["200", "2000000"]]);
        assert_eq!(values("总阅读量 8.8 亿人次"), [["8.8", "880000000"]]);
        assert_eq!(values("比例为13.21%，提高1.21%"), [vec!["13.21"], vec!["1.21"]]);
        assert_eq!(values("2023年9月11日"), [vec!["2023"], vec!["9"], vec!["11"]]);
        assert_eq!(values("0.50"), [vec!["0.5"]]);
        assert_eq!(values("09"), [vec!["9"]]);
    }

    #[test]
    fn chinese_numerals_have_their_values() {
        for (text, want) in [("十项", 10), ("二十三", 23), ("一百", 100), ("百万", 1_000_000), ("两个", 2), ("第十七届", 17), ("四十", 40), ("一千二百", 1200)] {
            assert!(chinese_numbers(text).contains(&want.to_string()), "{text}: {:?}", chinese_numbers(text));
        }
    }

    #[test]
    fn a_pages_numbers_are_its_facts_not_its_settings_or_links() {
        let page = "+++\ntitle = \"甲（2023年）\"\nweight = 7\ndate = 2024-01-02\nsources = [\"000_x.txt\"]\n\n[venue]\nbuilding_area_m2 = 79000\n\n[campaign.annual]\nmonth = 5\nday = 30\nbasis = \"某法第18条\"\n\n[[figures]]\nvalue = 24\n+++\n\n见[乙（2023年）](@/campaigns/bing-2023.md)，开放面积11万平方米。\n";
        let found: Vec<(String, usize, String)> = page_numbers(page).into_iter().map(|n| (n.written, n.line, n.field)).collect();
        let at = |written: &str| page_numbers(page).into_iter().find(|n| n.written == written).map(|n| n.offset);
        assert_eq!(at("11万"), page.find("11万"));
        assert_eq!(at("79000"), page.find("79000"));
        assert_eq!(
            found,
            [
                ("2023".to_string(), 2, "title".to_string()),
                ("79000".to_string(), 8, "building_area_m2".to_string()),
                ("24".to_string(), 16, "value".to_string()),
                ("11万".to_string(), 19, "text".to_string()),
            ]
        );
    }

    #[test]
    fn hostile_documents_are_read_calmly() {
        // Long runs of numerals overflow nothing; 200,000 digits are one number.
        assert_eq!(chinese_numbers(&"亿".repeat(8)), Vec::<String>::new(), "longer than a number");
        assert!(chinese_numbers("亿亿亿亿亿亿").is_empty(), "{:?}", chinese_numbers("亿亿亿亿亿亿"));
        let digits = "9".repeat(200_000);
        let found = arabic_numbers(&format!("{digits}万"));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].values[1].len(), 200_004);
        // Not UTF-8, not text: read what can be read, skip what is not a document.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), b"\xff\xfe 2558\x00 \xe4\xb8\x87").unwrap();
        std::fs::write(dir.path().join("b.bin"), b"12345").unwrap();
        std::fs::create_dir(dir.path().join("c.txt")).unwrap();
        let seeds = Seeds::load(dir.path()).unwrap();
        assert_eq!(seeds.names().collect::<Vec<_>>(), ["a.txt"]);
        assert!(seeds.holds("a.txt", &["2558".into()]));
        assert!(matches!(Seeds::load(&dir.path().join("none")), Err(SourcesError::Missing(_))));
    }

    #[test]
    fn a_number_is_found_only_in_the_cited_sources() {
        let mut seeds = Seeds::default();
        seeds.add("a.txt", "开放面积达到11万平方米，接待200多万人次，十项工作。");
        seeds.add("b.txt", "传播分享量2558万人次。");
        assert!(seeds.holds("a.txt", &["110000".into()]));
        assert!(seeds.holds("a.txt", &["2000000".into()]));
        assert!(seeds.holds("a.txt", &["10".into()]));
        assert!(!seeds.holds("a.txt", &["2558".into()]));
        assert!(seeds.holds("b.txt", &["25580000".into()]));
        assert!(!seeds.holds("c.txt", &["10".into()]));
    }
}
