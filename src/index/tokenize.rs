//! The tokenizer both sides of search share. The browser client (`client/search.mjs`)
//! reimplements exactly this, without any dictionary, and `tests/data/tokenize-cases.json`
//! holds the cases both test suites check, so the two can never drift.
//!
//! Text is folded one code point at a time: NFKC (full-width → half-width, compatibility
//! ideographs → unified), lower case, traditional → simplified through the table in
//! `t2s.txt`, then Latin letters lose their marks (`kējì` → `keji`, `ü` → `v`). Folded text is split into *runs*: Han characters, word characters (letters and
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

/// The table as a lookup: a dense array for the Basic Multilingual Plane (the indexer folds
/// every character of the site), a map for the few astral pairs.
struct T2s {
    bmp: Vec<u32>,
    astral: HashMap<char, char>,
    /// The whole fold of each character in [`PRECOMPUTED_FOLDS`] that folds to one
    /// character, with its [`Class`] in the bits from [`CLASS_SHIFT`] (classifying a
    /// non-ASCII separator such as `。` costs a few hundred instructions too);
    /// [`NOT_PRECOMPUTED`] elsewhere. Indexed by code point, BMP only.
    folded: Vec<u32>,
}

/// Non-ASCII, non-Han ranges Chinese text is full of (Latin-1, general punctuation,
/// enclosed numbers, CJK punctuation, full-width forms): about one character in fourteen of
/// a portal's text. Their folds are worked out once, as the general path (NFKC, lower case,
/// table) costs a few hundred instructions a character.
const PRECOMPUTED_FOLDS: [std::ops::RangeInclusive<u32>; 5] =
    [0xA0..=0xFF, 0x2000..=0x206F, 0x2460..=0x24FF, 0x3000..=0x303F, 0xFF00..=0xFFEF];

/// A character whose fold is not in [`T2s::folded`].
const NOT_PRECOMPUTED: u32 = u32::MAX;

/// Where a [`T2s::folded`] entry keeps the class; code points need 21 bits.
const CLASS_SHIFT: u32 = 24;

impl T2s {
    /// The fold of `c` and its class, if precomputed (one character).
    fn folded(&self, c: char) -> Option<(char, Class)> {
        let entry = *self.folded.get(c as usize)?;
        if entry == NOT_PRECOMPUTED {
            return None;
        }
        let class = match entry >> CLASS_SHIFT {
            0 => Class::Han,
            1 => Class::Word,
            _ => Class::Separator,
        };
        Some((char::from_u32(entry & ((1 << CLASS_SHIFT) - 1))?, class))
    }

    fn get(&self, c: char) -> char {
        match self.bmp.get(c as usize) {
            Some(&0) => c,
            Some(&s) => char::from_u32(s).unwrap_or(c),
            None => *self.astral.get(&c).unwrap_or(&c),
        }
    }
}

fn t2s_map() -> &'static T2s {
    static MAP: OnceLock<T2s> = OnceLock::new();
    MAP.get_or_init(|| {
        let mut t =
            T2s { bmp: vec![0; 0x10000], astral: HashMap::new(), folded: vec![NOT_PRECOMPUTED; 0x10000] };
        for (a, b) in t2s_pairs() {
            match t.bmp.get_mut(a as usize) {
                Some(slot) => *slot = b as u32,
                None => {
                    t.astral.insert(a, b);
                }
            }
        }
        for c in PRECOMPUTED_FOLDS.into_iter().flatten().filter_map(char::from_u32) {
            let mut out = String::new();
            fold_general(c, &t, |f| out.push(f));
            let mut chars = out.chars();
            if let (Some(f), None) = (chars.next(), chars.next()) {
                let class = match class(f) {
                    Class::Han => 0,
                    Class::Word => 1,
                    Class::Separator => 2,
                };
                t.folded[c as usize] = f as u32 | class << CLASS_SHIFT;
            }
        }
        t
    })
}

/// The pairs of the table, in file order (sorted by traditional code point).
pub fn t2s_pairs() -> impl Iterator<Item = (char, char)> {
    T2S_TABLE.lines().filter(|l| !l.starts_with('#')).filter_map(|l| {
        let mut cs = l.chars();
        Some((cs.next()?, cs.next()?))
    })
}

/// Fold one code point into `out`: NFKC, lower case, traditional → simplified, Latin marks
/// off (see [`strip_marks`]).
pub fn fold_char(c: char, out: &mut String) {
    let map = t2s_map();
    // Fast paths for what portal text is made of; both give what the general path would.
    if c.is_ascii() {
        out.push(c.to_ascii_lowercase());
        return;
    }
    if is_han(c) && !is_compatibility_ideograph(c) {
        out.push(map.get(c)); // unified ideographs are NFKC- and case-stable
        return;
    }
    match map.folded(c) {
        Some((f, _)) => out.push(f),
        None => fold_general(c, map, |f| out.push(f)),
    }
}

/// The fold of any character, one code point at a time (see [`fold_char`]).
fn fold_general(c: char, map: &T2s, mut f: impl FnMut(char)) {
    for n in std::iter::once(c).nfkc() {
        for l in n.to_lowercase() {
            if let Some(plain) = strip_marks(map.get(l)) {
                f(plain);
            }
        }
    }
}

/// Combining diacritical marks (U+0300–U+036F): tone marks typed as separate code points
/// (`ke\u{304}ji`) vanish, so the syllable stays one word.
const COMBINING_MARKS: std::ops::RangeInclusive<char> = '\u{300}'..='\u{36F}';

/// A Latin letter without its marks, so pinyin copied from a textbook (`kējì`, `Luòyáng`)
/// is the plain syllables the index and the pinyin keyboard use: a letter whose canonical
/// decomposition is an ASCII letter and combining marks becomes that letter, except that
/// `ü` (with or without a tone) becomes `v`, as pinyin keyboards type it (`lǜ` → `lv`). A
/// lone combining mark is dropped (`None`). The client does exactly this (`stripMarks`).
fn strip_marks(c: char) -> Option<char> {
    if c.is_ascii() {
        return Some(c);
    }
    if COMBINING_MARKS.contains(&c) {
        return None;
    }
    let mut parts = std::iter::once(c).nfd();
    let Some(base) = parts.next() else { return Some(c) };
    let mut marks = 0;
    let mut diaeresis = false;
    for m in parts {
        if !COMBINING_MARKS.contains(&m) {
            return Some(c);
        }
        marks += 1;
        diaeresis |= m == '\u{308}';
    }
    match base {
        'u' if marks > 0 && diaeresis => Some('v'),
        _ if marks > 0 && base.is_ascii_alphabetic() => Some(base),
        _ => Some(c),
    }
}

/// CJK compatibility ideographs, which NFKC maps to unified ones.
fn is_compatibility_ideograph(c: char) -> bool {
    matches!(c as u32, 0xF900..=0xFAFF | 0x2F800..=0x2FA1F)
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

/// A term as the indexer handles it: Han unigrams and bigrams packed into an integer (no
/// allocation for the bulk of Chinese text), everything else as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token<'a> {
    Han(u64),
    Word(&'a str),
}

/// Flag bit of a bigram key; a unigram key is the character itself.
const BIGRAM: u64 = 1 << 42;

/// The key of a Han unigram.
pub fn han_unigram(c: char) -> u64 {
    c as u64
}

/// The key of a Han bigram.
pub fn han_bigram(a: char, b: char) -> u64 {
    BIGRAM | (a as u64) << 21 | b as u64
}

/// The text of a Han key.
pub fn han_text(key: u64) -> String {
    let ch = |v: u64| char::from_u32((v & 0x1F_FFFF) as u32).unwrap_or('\u{FFFD}');
    if key & BIGRAM != 0 { [ch(key >> 21), ch(key)].iter().collect() } else { ch(key).to_string() }
}

/// Call `f` with every index term of `text`, in order (see [`tokens`]). `buf` is scratch
/// space reused between calls.
///
/// Folds and splits in one pass over `text`: Han terms need no folded copy, so `buf` holds
/// only the current word (what a [`Token::Word`] borrows), and ASCII and unified ideographs,
/// nearly all of portal text, skip the general fold.
pub fn for_each_token(text: &str, buf: &mut String, mut f: impl FnMut(Token)) {
    let map = t2s_map();
    let mut splitter = Splitter { word: buf, word_chars: 0, prev_han: None };
    splitter.word.clear();
    for c in text.chars() {
        if c.is_ascii() {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_alphanumeric() {
                splitter.word_char(c);
            } else {
                splitter.separator(&mut f);
            }
        } else if is_han(c) && !is_compatibility_ideograph(c) {
            splitter.push(map.get(c), &mut f);
        } else if let Some((folded, class)) = map.folded(c) {
            splitter.push_classed(folded, class, &mut f);
        } else {
            fold_general(c, map, |folded| splitter.push(folded, &mut f));
        }
    }
    splitter.separator(&mut f);
}

/// The state of [`for_each_token`] between folded characters.
struct Splitter<'b> {
    /// The current word run, cut to [`MAX_WORD_CHARS`]; empty between words.
    word: &'b mut String,
    word_chars: usize,
    prev_han: Option<char>,
}

impl Splitter<'_> {
    fn push(&mut self, c: char, f: &mut impl FnMut(Token)) {
        self.push_classed(c, class(c), f);
    }

    /// [`Splitter::push`] of a character whose class is known.
    fn push_classed(&mut self, c: char, class: Class, f: &mut impl FnMut(Token)) {
        match class {
            Class::Han => {
                self.end_word(f);
                // c1, c1c2, c2, c2c3, … : each pair is emitted when its second character comes.
                if let Some(p) = self.prev_han {
                    f(Token::Han(han_bigram(p, c)));
                }
                f(Token::Han(han_unigram(c)));
                self.prev_han = Some(c);
            }
            Class::Word => self.word_char(c),
            Class::Separator => self.separator(f),
        }
    }

    fn word_char(&mut self, c: char) {
        self.prev_han = None;
        if self.word_chars < MAX_WORD_CHARS {
            self.word_chars += 1;
            self.word.push(c);
        }
    }

    fn separator(&mut self, f: &mut impl FnMut(Token)) {
        self.prev_han = None;
        self.end_word(f);
    }

    fn end_word(&mut self, f: &mut impl FnMut(Token)) {
        if self.word_chars > 0 {
            f(Token::Word(self.word));
            self.word.clear();
            self.word_chars = 0;
        }
    }
}

/// The index terms of `text`, in order: a word run as one term; a Han run `c1 c2 … cn` as
/// `c1, c1c2, c2, c2c3, …, cn`.
pub fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for_each_token(text, &mut String::new(), |t| match t {
        Token::Han(k) => out.push(han_text(k)),
        Token::Word(w) => out.push(w.to_string()),
    });
    out
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
    fn fast_paths_fold_as_the_general_path_does() {
        let map = t2s_map();
        for c in (0..0x11000).filter_map(char::from_u32) {
            let mut general = String::new();
            fold_general(c, map, |f| general.push(f));
            let mut fast = String::new();
            fold_char(c, &mut fast);
            assert_eq!(fast, general, "U+{:04X}", c as u32);
            if let Some((f, precomputed)) = map.folded(c) {
                assert_eq!(precomputed, class(f), "U+{:04X}", c as u32);
            }
        }
    }

    #[test]
    fn tone_marks_and_u_umlaut_fold_to_plain_syllables() {
        assert_eq!(fold("Zhèngzhōu Kējìguǎn"), "zhengzhou kejiguan");
        assert_eq!(fold("lǜ LǙ nü Luòyáng"), "lv lv nv luoyang");
        // A tone typed as a separate combining mark vanishes instead of splitting the word.
        assert_eq!(tokens("ke\u{304}ji"), vec!["keji"]);
        // Letters that do not decompose into an ASCII letter keep their form.
        assert_eq!(fold("øæßłσй"), "øæßłσй");
    }

    #[test]
    fn long_words_are_cut() {
        let long = "a".repeat(100);
        assert_eq!(tokens(&long), vec!["a".repeat(MAX_WORD_CHARS)]);
    }
}
