//! The search tokenizer the index and the browser client share. Beyond "never panics":
//!
//! - the one-pass tokenizer (`for_each_token`, what the indexer runs) gives exactly the terms
//!   the run-based definition gives (`runs`: Han runs → unigrams and bigrams, word runs → one
//!   term cut to `MAX_WORD_CHARS`), which is what the client reimplements;
//! - `fold_char`'s fast paths give what the general path (NFKC, lower case, traditional →
//!   simplified) gives;
//! - `exact_key` is the runs joined; pinyin terms are well-formed.

#![no_main]

use std::collections::HashMap;
use std::sync::OnceLock;

use kepu::index::pinyin;
use kepu::index::tokenize::{exact_key, fold_char, runs, t2s_pairs, tokens, MAX_WORD_CHARS};
use libfuzzer_sys::fuzz_target;
use unicode_normalization::UnicodeNormalization;

fn t2s() -> &'static HashMap<char, char> {
    static MAP: OnceLock<HashMap<char, char>> = OnceLock::new();
    MAP.get_or_init(|| t2s_pairs().collect())
}

/// `fold_char` without its fast paths.
fn fold_general(c: char) -> String {
    let mut out = String::new();
    for n in std::iter::once(c).nfkc() {
        for l in n.to_lowercase() {
            out.push(*t2s().get(&l).unwrap_or(&l));
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for c in text.chars() {
        let mut fast = String::new();
        fold_char(c, &mut fast);
        assert_eq!(fast, fold_general(c), "fold_char({c:?} U+{:04X})", c as u32);
    }

    let runs = runs(text);
    let mut expected = Vec::new();
    for run in &runs {
        assert!(!run.text.is_empty());
        if run.han {
            let cs: Vec<char> = run.text.chars().collect();
            for (i, c) in cs.iter().enumerate() {
                if i > 0 {
                    expected.push(format!("{}{}", cs[i - 1], c));
                }
                expected.push(c.to_string());
            }
        } else {
            assert!(run.text.chars().count() <= MAX_WORD_CHARS);
            expected.push(run.text.clone());
        }
    }
    assert_eq!(tokens(text), expected, "tokens of {text:?}");
    assert_eq!(exact_key(text), runs.iter().map(|r| r.text.as_str()).collect::<String>());

    for term in pinyin::terms(text) {
        let (mark, rest) = term.split_at(1);
        assert!([pinyin::SYLLABLE, pinyin::PAIR, pinyin::INITIALS].iter().any(|m| m.to_string() == mark), "{term}");
        assert!(!rest.is_empty() && rest.is_ascii(), "{term:?}");
    }
});
