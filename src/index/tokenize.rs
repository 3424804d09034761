//! The tokenizer both sides of search share. The browser client (`client/search.mjs`)
//! reimplements exactly this, without any dictionary, and `tests/data/tokenize-cases.json`
//! holds the cases both test suites check, so the two can never drift.
//!
//! Text is folded one code point at a time: NFKC (full-width → half-width, compatibility
//! ideographs → unified), lower case, then traditional → simplified through the table in
//! `t2s.txt`. Folded text is split into *runs*: Han characters, word characters (letters and
//! digits of any script) and separators (everything else). A word run is one token; a Han run
//! gives every character (unigram) and every adjacent pair (bigram), so any substring of two or
//! more characters is found by its bigrams and a single character by its unigram, with no
//! word list involved.

use std::collections::HashMap;
use std::sync::OnceLock;

use unicode_normalization::UnicodeNormalization;

use crate::model::slug::is_han;

/// The shared traditional → simplified table (one pair of characters per line).
pub const T2S_TABLE: &str = include_str!("t2s.txt");

/// Longest word token, in characters; longer words are cut (the client cuts the same way).
pub const MAX_WORD_CHARS: usize = 32;

fn t2s_map() -> &'static HashMap<char, char> {
    static MAP: OnceLock<HashMap<char, char>> = OnceLock::new();
    MAP.get_or_init(|| t2s_pairs().collect())
}

/// The pairs of the table, in file order (sorted by traditional code point).
pub fn t2s_pairs() -> impl Iterator<Item = (char, char)> {
    T2S_TABLE.lines().filter(|l| !l.starts_with('#')).filter_map(|l| {
        let mut cs = l.chars();
        Some((cs.next()?, cs.next()?))
    })
}

/// Fold one code point into `out`: NFKC, lower case, traditional → simplified.
pub fn fold_char(c: char, out: &mut String) {
    let map = t2s_map();
    for n in std::iter::once(c).nfkc() {
        for l in n.to_lowercase() {
            out.push(*map.get(&l).unwrap_or(&l));
        }
    }
}

/// Fold a whole string (see [`fold_char`]).
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        fold_char(c, &mut out);
    }
    out
}

/// What a folded character is for tokenizing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Han,
    Word,
    Separator,
}

/// Classify a folded character. Word characters are `char::is_alphanumeric` (the client:
/// `\p{Alphabetic}` or `\p{N}`).
pub fn class(c: char) -> Class {
    if is_han(c) {
        Class::Han
    } else if c.is_alphanumeric() {
        Class::Word
    } else {
        Class::Separator
    }
}

/// A maximal run of Han or word characters in folded text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub han: bool,
    pub text: String,
}

/// Fold `text` and split it into runs; word runs are cut to [`MAX_WORD_CHARS`].
pub fn runs(text: &str) -> Vec<Run> {
    let folded = fold(text);
    let mut out: Vec<Run> = Vec::new();
    let mut current: Option<Run> = None;
    for c in folded.chars() {
        let class = class(c);
        let han = class == Class::Han;
        match (&mut current, class) {
            (_, Class::Separator) => out.extend(current.take()),
            (Some(run), _) if run.han == han => run.text.push(c),
            _ => {
                out.extend(current.take());
                current = Some(Run { han, text: c.to_string() });
            }
        }
    }
    out.extend(current);
    for run in &mut out {
        if !run.han && run.text.chars().count() > MAX_WORD_CHARS {
            run.text = run.text.chars().take(MAX_WORD_CHARS).collect();
        }
    }
    out
}

/// The index terms of `text`, in order: a word run as one term; a Han run `c1 c2 … cn` as
/// `c1, c1c2, c2, c2c3, …, cn`.
pub fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for run in runs(text) {
        push_run_tokens(&run, &mut out);
    }
    out
}

fn push_run_tokens(run: &Run, out: &mut Vec<String>) {
    if !run.han {
        out.push(run.text.clone());
        return;
    }
    let chars: Vec<char> = run.text.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        out.push(c.to_string());
        if let Some(next) = chars.get(i + 1) {
            let mut bigram = String::with_capacity(8);
            bigram.push(*c);
            bigram.push(*next);
            out.push(bigram);
        }
    }
}

/// The key that says "this text, whole": folded runs joined without separators. A query whose
/// key equals a page title's key is an exact title match.
pub fn exact_key(text: &str) -> String {
    runs(text).into_iter().map(|r| r.text).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn han_substrings_are_reachable_by_bigrams() {
        let t = tokens("银龄跨越数字鸿沟");
        for bigram in ["数字", "字鸿", "鸿沟"] {
            assert!(t.iter().any(|x| x == bigram), "{bigram} missing from {t:?}");
        }
        assert!(t.iter().any(|x| x == "鸿"));
    }

    #[test]
    fn folds_width_case_and_traditional() {
        assert_eq!(fold("ＡＢＣ１２３"), "abc123");
        assert_eq!(fold("數字鴻溝"), "数字鸿沟");
        assert_eq!(exact_key("郑州市 科技馆!"), "郑州市科技馆");
    }

    #[test]
    fn long_words_are_cut() {
        let long = "a".repeat(100);
        assert_eq!(tokens(&long), vec!["a".repeat(MAX_WORD_CHARS)]);
    }
}
