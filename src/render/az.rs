//! The A–Z index (`/a-z/`): every page, by section, in pinyin order. It is where the header
//! search box leads when scripts are off (the search itself needs JavaScript), so the box
//! still takes a visitor somewhere useful; with scripts the box goes to `/search/`.

use serde::Serialize;

use crate::model::{Site, slug};

/// The index's URL path (site-relative, before the base URL's prefix).
pub const PATH: &str = "/a-z/";

/// A page in the index.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    pub title: String,
    pub path: String,
}

/// The pages of one section whose pinyin starts with `letter` ("#" for digits and others).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Letter {
    pub letter: String,
    pub pages: Vec<Entry>,
}

/// A section with its pages in pinyin order, grouped by first letter.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SectionIndex {
    pub title: String,
    pub path: String,
    /// An `id` for the section's heading (its folder, or "home" for the root).
    pub id: String,
    pub count: usize,
    pub letters: Vec<Letter>,
}

/// The sort key of a title: its toneless pinyin (`郑州科技馆` → `zheng zhou ke ji guan`), so
/// titles sort as a visitor who knows pinyin looks them up; the title itself breaks ties.
fn pinyin_key(title: &str) -> String {
    slug::slugify(title).replace('-', " ")
}

/// The index letter of a sort key: A–Z, or "#" when it starts with a digit or is empty.
fn letter_of(key: &str) -> String {
    match key.chars().next() {
        Some(c) if c.is_ascii_alphabetic() => c.to_ascii_uppercase().to_string(),
        _ => "#".into(),
    }
}

/// Every section that has pages, `first` (the menu's section paths, site-relative with the
/// prefix) in that order, then the others in the site's order; each with its pages sorted.
pub fn sections(site: &Site, first: &[String]) -> Vec<SectionIndex> {
    let mut order: Vec<usize> = Vec::new();
    for p in first {
        if let Some(i) = site.sections.iter().position(|s| &site.url(&s.path) == p) {
            order.push(i);
        }
    }
    let rest: Vec<usize> = (0..site.sections.len()).filter(|i| !order.contains(i)).collect();
    order.extend(rest);
    order
        .into_iter()
        .filter(|&i| !site.sections[i].pages.is_empty())
        .map(|i| {
            let s = &site.sections[i];
            let mut pages: Vec<(String, &str, &str)> = s
                .pages
                .iter()
                .map(|&k| {
                    let p = &site.pages[k];
                    (pinyin_key(&p.title), p.title.as_str(), p.path.as_str())
                })
                .collect();
            pages.sort();
            let mut letters: Vec<Letter> = Vec::new();
            for (key, title, path) in pages {
                let letter = letter_of(&key);
                let entry = Entry { title: title.to_string(), path: site.url(path) };
                match letters.last_mut() {
                    Some(l) if l.letter == letter => l.pages.push(entry),
                    _ => letters.push(Letter { letter, pages: vec![entry] }),
                }
            }
            // "#" (digits) sorts before A; put it last, where indexes keep it.
            letters.sort_by_key(|l| l.letter == "#");
            let id = if s.dir.is_empty() { "home".to_string() } else { format!("s-{}", s.dir.replace('/', "-")) };
            SectionIndex { title: s.title.clone(), path: site.url(&s.path), id, count: s.pages.len(), letters }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_sort_by_pinyin_and_group_by_first_letter() {
        let mut keys: Vec<(String, &str)> =
            ["郑州科技馆", "安阳市科技馆", "焦作市科技馆", "2024年科普日", "开封市科技馆"].iter().map(|t| (pinyin_key(t), *t)).collect();
        keys.sort();
        let titles: Vec<&str> = keys.iter().map(|k| k.1).collect();
        assert_eq!(titles, ["2024年科普日", "安阳市科技馆", "焦作市科技馆", "开封市科技馆", "郑州科技馆"]);
        assert_eq!(letter_of(&pinyin_key("郑州科技馆")), "Z");
        assert_eq!(letter_of(&pinyin_key("安阳")), "A");
        assert_eq!(letter_of(&pinyin_key("2024年科普日")), "#");
        assert_eq!(letter_of(""), "#");
    }
}
