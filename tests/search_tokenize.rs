//! The shared tokenizer cases (tests/data/tokenize-cases.json), checked against the index's
//! tokenizer. tests/node/tokenize.test.mjs checks the same file against the client.

use kepu::index::tokenize;

#[derive(serde::Deserialize)]
struct Cases {
    cases: Vec<Case>,
}

#[derive(serde::Deserialize)]
struct Case {
    input: String,
    folded: String,
    tokens: Vec<String>,
}

#[test]
fn shared_tokenize_cases() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tokenize-cases.json")).unwrap();
    let cases: Cases = serde_json::from_str(&text).unwrap();
    assert!(cases.cases.len() >= 20);
    let mut failures = Vec::new();
    for c in &cases.cases {
        let folded = tokenize::fold(&c.input);
        let tokens = tokenize::tokens(&c.input);
        if folded != c.folded || tokens != c.tokens {
            failures.push(format!("{:?}: folded {folded:?} tokens {tokens:?}", c.input));
        }
    }
    assert!(failures.is_empty(), "tokenizer disagrees with the shared cases:\n{}", failures.join("\n"));
}

#[test]
fn t2s_table_is_well_formed() {
    let pairs: Vec<(char, char)> = tokenize::t2s_pairs().collect();
    assert!(pairs.len() > 3000, "{}", pairs.len());
    assert!(pairs.windows(2).all(|w| w[0].0 < w[1].0), "table must be sorted by traditional character");
    assert!(pairs.iter().all(|(t, s)| t != s));
    // Folding is idempotent: no simplified target is itself folded further.
    let keys: std::collections::HashSet<char> = pairs.iter().map(|p| p.0).collect();
    assert!(pairs.iter().all(|(_, s)| !keys.contains(s)));
}
