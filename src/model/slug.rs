//! Readable URL slugs and heading anchors for Chinese text.
//!
//! Slugs go into URLs that visitors share and type, so Han characters become toneless pinyin
//! syllables (`郑州科技馆` → `zheng-zhou-ke-ji-guan`). Heading anchors stay in Chinese
//! (`#数字鸿沟`): browsers show them readably and editors can guess them.

use pinyin::ToPinyin;

/// Is `c` a Han (CJK ideograph) character?
pub fn is_han(c: char) -> bool {
    matches!(c as u32,
        0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2A6DF | 0x2A700..=0x2EBEF | 0x30000..=0x3134F)
}

/// A lower-case, hyphen-joined ASCII slug; Han characters become pinyin syllables, read as
/// place names where they are one (长垣 → `chang-yuan`, [`super::place_names`]).
pub fn slugify(text: &str) -> String {
    let places = super::place_names::readings_in(text);
    // The words joined by `-` as they come (what collecting them and `join("-")` wrote, without
    // a `String` per word: a slug is made for every chart's name as pages are rendered).
    let mut out = String::with_capacity(text.len() * 2);
    let mut current = String::new();
    // Every word pushed is non-empty, so a non-empty `out` already holds one.
    let push_word = |out: &mut String, word: &str| {
        if !out.is_empty() {
            out.push('-');
        }
        out.push_str(word);
    };
    for (c, place) in text.chars().zip(places) {
        if c.is_ascii_alphanumeric() {
            current.push(c.to_ascii_lowercase());
        } else if is_han(c) {
            if !current.is_empty() {
                push_word(&mut out, &current);
                current.clear();
            }
            if let Some(reading) = place {
                push_word(&mut out, reading);
            } else if let Some(p) = c.to_pinyin() {
                push_word(&mut out, p.plain());
            }
        } else if c == '_' || c == '-' || c.is_whitespace() || c.is_ascii_punctuation() || !c.is_alphanumeric() {
            if !current.is_empty() {
                push_word(&mut out, &current);
                current.clear();
            }
        } else {
            // Other letters (accented Latin, kana …): keep ASCII-folded where trivial, else drop.
            let folded: String = unicode_normalization::UnicodeNormalization::nfkd(c.to_string().as_str())
                .filter(|c| c.is_ascii_alphanumeric())
                .collect();
            current.push_str(&folded.to_ascii_lowercase());
        }
    }
    if !current.is_empty() {
        push_word(&mut out, &current);
    }
    out
}

/// A heading anchor: the heading's own words (Han kept), lower case, spaces and punctuation as
/// single hyphens. Never empty.
pub fn anchor_id(text: &str) -> String {
    let mut out = String::new();
    let mut pending_dash = false;
    for c in text.chars() {
        if c.is_alphanumeric() {
            if pending_dash && !out.is_empty() {
                out.push('-');
            }
            pending_dash = false;
            out.extend(c.to_lowercase());
        } else {
            pending_dash = true;
        }
    }
    if out.is_empty() { "section".into() } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_titles_become_pinyin_slugs() {
        assert_eq!(slugify("郑州科技馆"), "zheng-zhou-ke-ji-guan");
        assert_eq!(slugify("i科普 志愿服务"), "i-ke-pu-zhi-yuan-fu-wu");
        assert_eq!(slugify("“5610”总体安排"), "5610-zong-ti-an-pai");
        assert_eq!(slugify("Hello, World!"), "hello-world");
        assert_eq!(slugify("Café"), "cafe");
    }

    #[test]
    fn words_are_joined_by_single_hyphens_with_none_at_the_ends() {
        assert_eq!(slugify(""), "");
        assert_eq!(slugify("——"), "");
        assert_eq!(slugify("--AB科cd--"), "ab-ke-cd");
        assert_eq!(slugify("（2024）年 报告!"), "2024-nian-bao-gao");
        assert_eq!(slugify("Café 科普"), "cafe-ke-pu");
    }

    #[test]
    fn place_names_take_their_place_name_readings() {
        assert_eq!(slugify("长垣市科技馆"), "chang-yuan-shi-ke-ji-guan");
        assert_eq!(slugify("浚县"), "xun-xian");
        assert_eq!(slugify("郏县科普大篷车"), "jia-xian-ke-pu-da-peng-che");
        assert_eq!(slugify("召陵区"), "shao-ling-qu");
        assert_eq!(slugify("中牟县"), "zhong-mu-xian");
        // The same characters outside a place name keep the dictionary's reading.
        assert_eq!(slugify("成长"), "cheng-zhang");
    }

    #[test]
    fn anchors_keep_chinese_and_collapse_punctuation() {
        assert_eq!(anchor_id("一、数字鸿沟"), "一-数字鸿沟");
        assert_eq!(anchor_id("2023 年 成效！"), "2023-年-成效");
        assert_eq!(anchor_id("Opening Hours"), "opening-hours");
        assert_eq!(anchor_id("！！"), "section");
    }
}
