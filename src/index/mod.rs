//! Stage 4, **index**: the search index, built from the model's text (never by re-parsing
//! HTML), in parallel, byte-identical on every run.
//!
//! Owns: which text of a page is searchable and how much each field counts, tokenizing
//! ([`tokenize`], [`pinyin`]), ranking weights, and the files under `search/`:
//!
//! - `manifest.json`: small; shard boundaries, fragment grouping, facet labels, the pinyin
//!   syllables in use, the traditional-character chunk boundaries.
//! - `shards/N.bin.gz`: posting lists of a contiguous term range ([`encode`] has the format),
//!   cut to a target size so a query fetches only the few shards its terms fall in.
//! - `frag/N.json.gz`: url, title, section, excerpt text, aliases and heading anchors of a
//!   fixed-size group of documents (grouped: hosts limit file counts).
//! - `facets.json.gz`: for each filter value, the documents that have it (run-length).
//! - `t2s/N.txt.gz`: chunks of the traditional → simplified table, fetched only for the
//!   characters a query contains.
//! - `pinyin/N.txt.gz`: chunks of a per-character pinyin table (each character's common
//!   reading), fetched only for the characters of a Han query, so that a homophone the IME
//!   picked (许昌科技管) finds the name by its sound.
//! - `search.mjs`: the client, the same module for browsers and Node.
//!
//! Ranking is BM25F: each field's term frequency is weighted and length-normalised at index
//! time and stored as one byte per posting, so the client only adds `idf × weight`.

pub mod encode;
pub mod pinyin;
pub mod tokenize;

use std::collections::{BTreeMap, BTreeSet};

// Fx hashing: the index hashes tens of millions of short keys, and needs no defence against
// hostile collisions (its keys come from the site's own text, built once, offline).
use rustc_hash::FxHashMap as HashMap;

use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::model::portal::{city_full_name, Typed};
use crate::model::{Page, Section, Site};
use crate::output::OutputFile;
use encode::Posting;

/// The search client module, shipped as `search/search.mjs`.
pub const CLIENT_JS: &str = include_str!("client/search.mjs");

/// Version of the file formats; the client refuses a manifest of another version.
pub const FORMAT: u32 = 1;

/// Target size of one shard before compression. Small enough that a cold query stays far
/// under 100 kB; large enough that a site of 10,000 pages needs a few hundred files.
pub const SHARD_BYTES: usize = 8 * 1024;

/// Target size of one fragment group before compression.
pub const FRAGMENT_BYTES: usize = 6 * 1024;

/// Characters of page text kept for excerpts (description first, then the body).
pub const EXCERPT_CHARS: usize = 320;

/// Pairs per chunk of the traditional → simplified table.
pub const T2S_CHUNK: usize = 64;

/// BM25 saturation; the client uses the same value (it is in the manifest).
pub const K1: f64 = 1.2;

/// Titles up to this many characters also get exact pinyin keys (`#kejiguan`, `#kjg`).
const EXACT_PINYIN_CHARS: usize = 12;

/// Reading combinations kept for exact pinyin keys: only the common readings. Exact keys
/// decide rank tiers, so a rare reading (科技活动周 as `kejiguo…`) must not put a page
/// ahead of 科技馆 for `kejig`; heteronym names are still found through the pair terms.
const EXACT_PINYIN_WAYS: usize = 1;

/// Why the index could not be built.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("the site has {0} searchable documents, more than the index can number")]
    TooManyDocuments(usize),
    #[error("cannot encode the search manifest: {0}")]
    Json(#[from] serde_json::Error),
}

/// A searchable field: how much a match in it counts and how strongly its length dampens it.
#[derive(Debug, Clone, Copy)]
struct FieldSpec {
    weight: f64,
    /// BM25 length normalisation (0: none, 1: full).
    b: f64,
}

/// Fields in the order of [`FIELDS`].
#[derive(Debug, Clone, Copy)]
enum Field {
    Title = 0,
    Names,
    TitlePinyin,
    NamesPinyin,
    Headings,
    Description,
    Body,
}

const NF: usize = 7;

/// Title ≫ names and keywords > headings > description > body.
const FIELDS: [FieldSpec; NF] = [
    FieldSpec { weight: 12.0, b: 0.6 }, // title
    FieldSpec { weight: 5.0, b: 0.3 },  // names: cities, organisers, halls, kinds …
    FieldSpec { weight: 10.0, b: 0.6 }, // pinyin of the title
    FieldSpec { weight: 4.0, b: 0.3 },  // pinyin of the names
    FieldSpec { weight: 3.0, b: 0.5 },  // headings
    FieldSpec { weight: 2.0, b: 0.5 },  // description
    FieldSpec { weight: 1.0, b: 0.75 }, // body
];

/// Prefix of exact-name keys (whole title, city name, their pinyin and initials).
const EXACT: char = '#';

/// One searchable document (a page or a section page), before tokenizing.
struct Source<'a> {
    url: String,
    title: &'a str,
    section: String,
    city: String,
    facets: Vec<(&'static str, String)>,
    names: Vec<String>,
    exact: Vec<String>,
    /// Official short names (typed tables' `aliases`), shipped with the fragment so the client
    /// can see a name of the page inside a longer query.
    aliases: &'a [String],
    headings: Vec<&'a str>,
    /// The headings' anchor ids, so the client can link a query such as 省科技馆门票 to the
    /// part of the page that answers it (`#开放和门票`).
    anchors: Vec<&'a str>,
    description: &'a str,
    body: &'a str,
}

/// Facet keys with the chip labels the client shows, in display order.
const FACET_LABELS: [(&str, &str); 6] = [
    ("section", "栏目"),
    ("city", "城市"),
    ("level", "级别"),
    ("kind", "类型"),
    ("category", "类别"),
    ("status", "状态"),
];

/// Build the search index files for the site (paths under `search/`).
pub fn build(site: &Site) -> Result<Vec<OutputFile>, IndexError> {
    let mut sources = collect(site);
    sources.sort_by(|a, b| (&a.section, &a.city, &a.url).cmp(&(&b.section, &b.city, &b.url)));
    if sources.len() > Posting::MAX_DOCS {
        return Err(IndexError::TooManyDocuments(sources.len()));
    }

    let analysed: Vec<Analysed> = sources.par_iter().map(analyse).collect();
    let postings = invert(analysed);

    let mut files = Vec::new();
    let shards = cut_shards(&postings);
    let shard_files: Vec<OutputFile> = shards
        .par_iter()
        .enumerate()
        .map(|(i, range)| {
            let terms: Vec<(&str, &[Posting])> =
                postings[range.clone()].iter().map(|(t, p)| (t.as_str(), p.as_slice())).collect();
            OutputFile::bytes(format!("search/shards/{i}.bin.gz"), encode::gzip(&encode::shard(&terms)))
        })
        .collect();
    files.extend(shard_files);

    let records: Vec<Record> = sources
        .par_iter()
        .map(|d| Record(d.url.as_str(), d.title, d.section.as_str(), excerpt_text(d), d.aliases, &d.anchors))
        .collect();
    let group = fragment_group_size(&records);
    let fragment_files: Vec<OutputFile> = records
        .par_chunks(group)
        .enumerate()
        .map(|(i, records)| {
            let json = serde_json::to_vec(&records).expect("strings always serialize");
            OutputFile::bytes(format!("search/frag/{i}.json.gz"), encode::gzip(&json))
        })
        .collect();
    let fragment_count = fragment_files.len();
    files.extend(fragment_files);

    let (facets, facet_values) = facet_postings(&sources, &section_labels(site));
    files.push(OutputFile::bytes("search/facets.json.gz", encode::gzip(&serde_json::to_vec(&facets)?)));

    let pairs: Vec<(char, char)> = tokenize::t2s_pairs().collect();
    let mut t2s_starts = Vec::new();
    for (i, chunk) in pairs.chunks(T2S_CHUNK).enumerate() {
        t2s_starts.push(chunk[0].0.to_string());
        let text: String = chunk.iter().flat_map(|&(t, s)| [t, s]).collect();
        files.push(OutputFile::bytes(format!("search/t2s/{i}.txt.gz"), encode::gzip(text.as_bytes())));
    }

    let syllables: BTreeSet<&str> =
        postings.iter().filter_map(|(t, _)| t.strip_prefix(pinyin::SYLLABLE)).collect();
    let table = pinyin::client_table(&syllables);
    for (i, chunk) in table.iter().enumerate() {
        files.push(OutputFile::bytes(format!("search/pinyin/{i}.txt.gz"), encode::gzip(chunk.as_bytes())));
    }

    // The version changes whenever any index file does; the client appends it to URLs so a
    // browser never mixes files of two builds.
    let mut hasher = Sha256::new();
    for f in &files {
        hasher.update(f.path.as_bytes());
        if let crate::output::Contents::Bytes(b) = &f.contents {
            hasher.update(b);
        }
    }
    hasher.update(CLIENT_JS.as_bytes());
    let version = hex::encode(&hasher.finalize()[..8]);

    let manifest = Manifest {
        format: FORMAT,
        version,
        docs: sources.len(),
        k1: K1,
        shards: front_code(shards.iter().map(|r| match r.start {
            0 => "",
            i => boundary(&postings[i - 1].0, &postings[i].0),
        })),
        fragments: FragmentLayout { size: group, count: fragment_count },
        t2s: t2s_starts,
        pinyin: PinyinLayout { first: pinyin::TABLE_FIRST, size: pinyin::TABLE_CHUNK, count: table.len() },
        syllables: syllables.into_iter().collect::<Vec<_>>().join(" "),
        facets: FACET_LABELS
            .iter()
            .filter(|(k, _)| facet_values.contains_key(*k))
            .map(|&(key, label)| FacetInfo {
                key,
                label,
                values: facet_values[key].iter().map(|(v, l)| [v.clone(), l.clone()]).collect(),
            })
            .collect(),
    };
    files.push(OutputFile::bytes("search/manifest.json", serde_json::to_vec(&manifest)?));
    files.push(OutputFile::bytes("search/search.mjs", CLIENT_JS));
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

#[derive(Serialize)]
struct Manifest {
    format: u32,
    version: String,
    docs: usize,
    k1: f64,
    /// Where each shard starts (a prefix of its first term; the first is empty); shard `i`
    /// is `shards/i.bin.gz`. Front-coded, see [`front_code`].
    shards: String,
    fragments: FragmentLayout,
    /// First traditional character of each chunk; chunk `i` is `t2s/i.txt.gz`.
    t2s: Vec<String>,
    /// The per-character pinyin table for sound-alike queries: chunk `i` is
    /// `pinyin/i.txt.gz` and holds the characters from `first + i * size` on.
    pinyin: PinyinLayout,
    /// Pinyin syllables the index uses, space-separated, for splitting Latin queries.
    syllables: String,
    facets: Vec<FacetInfo>,
}

#[derive(Serialize)]
struct PinyinLayout {
    first: u32,
    size: u32,
    count: usize,
}

#[derive(Serialize)]
struct FragmentLayout {
    /// Documents per fragment file: doc `d` is in `frag/{d / size}.json.gz`.
    size: usize,
    count: usize,
}

#[derive(Serialize)]
struct FacetInfo {
    key: &'static str,
    label: &'static str,
    /// `[value, label]` in display order.
    values: Vec<[String; 2]>,
}

/// The top-level section key of a section (`venues` for `venues/x`); the root is `home`.
fn section_key(section: &Section) -> String {
    match section.dir.split('/').next() {
        Some(d) if !d.is_empty() => d.to_string(),
        _ => "home".to_string(),
    }
}

/// Every page and every section page that has its own page, as sources.
fn collect(site: &Site) -> Vec<Source<'_>> {
    let mut out = Vec::new();
    for (i, section) in site.sections.iter().enumerate() {
        if !section.has_own_page() || !in_search_index(site, i) {
            continue;
        }
        let key = section_key(section);
        out.push(Source {
            url: site.url(&section.path),
            title: &section.title,
            facets: vec![("section", key.clone())],
            section: key,
            city: String::new(),
            names: Vec::new(),
            exact: vec![section.title.clone()],
            aliases: &[],
            headings: section.text.headings.iter().map(|h| h.text.as_str()).collect(),
            anchors: section.text.headings.iter().map(|h| h.id.as_str()).collect(),
            description: section.meta.description.as_deref().unwrap_or(""),
            body: &section.text.plain,
        });
    }
    for page in &site.pages {
        if page.is_rendered() && page.meta.in_search_index != Some(false) && in_search_index(site, page.section) {
            out.push(page_source(site, page));
        }
    }
    out
}

/// Whether section `i` and its pages belong in the index: not when it or a section above it
/// says `in_search_index = false` (as in Zola).
fn in_search_index(site: &Site, mut i: usize) -> bool {
    loop {
        let s = &site.sections[i];
        if s.meta.in_search_index == Some(false) {
            return false;
        }
        match s.parent {
            Some(p) => i = p,
            None => return true,
        }
    }
}

fn page_source<'a>(site: &'a Site, page: &'a Page) -> Source<'a> {
    let key = section_key(&site.sections[page.section]);
    let mut facets = vec![("section", key.clone())];
    let mut names = Vec::new();
    let mut exact = vec![page.title.clone()];
    let mut aliases: &[String] = &[];
    let mut city = String::new();
    if let Some(t) = &page.typed {
        facets.extend(t.facets());
        names = t.keywords();
        // Official short names count as names, and as whole names (exact keys) like the title.
        names.extend(t.aliases().iter().cloned());
        exact.extend(t.aliases().iter().cloned());
        aliases = t.aliases();
        city = t.cities().first().map(|c| c.to_string()).unwrap_or_default();
        if let Typed::City(c) = t {
            exact.push(c.name.clone());
            exact.push(city_full_name(&c.name).to_string());
        }
    }
    let mut seen = BTreeSet::new();
    facets.retain(|f| seen.insert(f.clone()));
    Source {
        url: site.url(&page.path),
        title: &page.title,
        section: key,
        city,
        facets,
        names,
        exact,
        aliases,
        headings: page.text.headings.iter().map(|h| h.text.as_str()).collect(),
        anchors: page.text.headings.iter().map(|h| h.id.as_str()).collect(),
        description: page.meta.description.as_deref().unwrap_or(""),
        body: &page.text.plain,
    }
}

/// One document's term frequencies per field, before weighting; only words, pinyin and exact
/// keys are strings. Han terms are packed, one `u64` per (term, field):
/// `key << 21 | field << 18 | count`, sorted; on a 10,000-page site there are millions, and
/// eight bytes each (rather than a key and a count per field) keeps the index stage's memory
/// near the size of the index itself.
struct Analysed {
    han: Vec<u64>,
    text: TextTerms<[u16; NF]>,
    lens: [u32; NF],
    exact: Vec<String>,
}

const HAN_FIELD_SHIFT: u32 = 18;
const HAN_KEY_SHIFT: u32 = 21;
const HAN_COUNT_MAX: u64 = (1 << HAN_FIELD_SHIFT) - 1;

/// One document's terms with their weights.
struct Weighted {
    han: HanTerms,
    /// Where each key range starts in `han` (see [`weigh`]).
    cuts: Vec<(u32, u64)>,
    /// Text terms (words, pinyin) and exact keys with their weights.
    text: TextTerms<u8>,
}

/// A document's weighted Han terms, sorted by key, each `(key − the previous key) << 4 |
/// level` (levels fit in four bits) in as few bytes as it needs, seven bits a byte, the
/// lowest set bit of the first byte saying how many bytes the term takes (a prefix varint:
/// a term is read with one load, a count of trailing zeros and two shifts). The inversion
/// holds every document's Han terms at once: at 10,000 pages 10.7 million of them, which
/// took 85 MB as a `u64` each and take 32 MB here (three bytes a term: a document's sorted
/// keys are close together).
#[derive(Debug, Default)]
struct HanTerms(Vec<u8>);

const _: () = assert!((MAX_LEVEL as u32) < 16);

/// Append one term of [`HanTerms`]: `v` below 2^49 (a key delta below 2^43, shifted by 4),
/// so at most seven bytes.
fn push_han_term(out: &mut Vec<u8>, v: u64) {
    debug_assert!(v < 1 << 49);
    let bytes = (64 - v.leading_zeros()).max(1).div_ceil(7);
    let word = v << bytes | 1 << (bytes - 1);
    // All eight bytes, then back to the term's length: a copy of a fixed size is one store.
    let at = out.len();
    out.extend_from_slice(&word.to_le_bytes());
    out.truncate(at + bytes as usize);
}

impl HanTerms {
    /// The terms from byte `at` on, `key` being the key of the term before `at` (0 at 0).
    fn iter_from(&self, at: usize, key: u64) -> HanIter<'_> {
        HanIter { bytes: &self.0, at, end: self.0.len(), key }
    }
}

/// (key, level) of [`HanTerms`], in key order; `at` is where the next term starts.
#[derive(Clone)]
struct HanIter<'a> {
    bytes: &'a [u8],
    at: usize,
    end: usize,
    key: u64,
}

impl Iterator for HanIter<'_> {
    type Item = (u64, u8);

    fn next(&mut self) -> Option<(u64, u8)> {
        if self.at >= self.end {
            return None;
        }
        // The term's bytes, and whatever follows them, as one little-endian word.
        let word = match self.bytes.get(self.at..self.at + 8) {
            Some(window) => u64::from_le_bytes(window.try_into().expect("8 bytes")),
            None => {
                let mut window = [0u8; 8];
                let tail = &self.bytes[self.at..];
                window[..tail.len()].copy_from_slice(tail);
                u64::from_le_bytes(window)
            }
        };
        let bytes = word.trailing_zeros() + 1;
        self.at += bytes as usize;
        let v = (word & (u64::MAX >> (64 - 8 * bytes))) >> bytes;
        self.key += v >> 4;
        Some((self.key, (v & 0xF) as u8))
    }
}

fn analyse(src: &Source) -> Analysed {
    let mut han_keys = HAN_KEYS.take(); // key << 3 | field
    han_keys.clear();
    let mut unigrams = UNIGRAMS.take();
    let mut text: HashMap<String, [u16; NF]> = HashMap::default();
    let mut lens = [0u32; NF];
    let mut buf = String::new();
    let mut add = |field: Field, value: &str| {
        let f = field as usize;
        tokenize::for_each_token(value, &mut buf, |t| {
            lens[f] += 1;
            match t {
                tokenize::Token::Han(k) => {
                    if !unigrams.add(k, f) {
                        han_keys.push(k << 3 | f as u64);
                    }
                }
                tokenize::Token::Word(w) => bump(&mut text, w, f),
            }
        });
        let pinyin_field = match field {
            Field::Title => Some(Field::TitlePinyin as usize),
            Field::Names => Some(Field::NamesPinyin as usize),
            _ => None,
        };
        if let Some(pf) = pinyin_field {
            pinyin::for_each_term(value, |term| {
                lens[pf] += 1;
                bump(&mut text, term, pf);
            });
        }
    };
    add(Field::Title, src.title);
    for name in &src.names {
        add(Field::Names, name);
    }
    for h in &src.headings {
        add(Field::Headings, h);
    }
    add(Field::Description, src.description);
    add(Field::Body, src.body);

    // Sorted, equal (term, field) pairs are neighbours: count them into one packed entry.
    han_keys.sort_unstable();
    let distinct = han_keys.chunk_by(|a, b| a == b).count();
    // The counted unigrams sort before every key left in `han_keys` (those are above them).
    // Sized once: grown by doubling, the kept vectors held a third more than their terms
    // (mimalloc keeps a block that shrinks by less than half), and all of it was fresh memory.
    let mut han = unigrams.drain_packed(distinct);
    UNIGRAMS.set(unigrams);
    for run in han_keys.chunk_by(|a, b| a == b) {
        let (key, f) = (run[0] >> 3, run[0] & 7);
        han.push(key << HAN_KEY_SHIFT | f << HAN_FIELD_SHIFT | (run.len() as u64).min(HAN_COUNT_MAX));
    }
    debug_assert_eq!(han.len(), han.capacity());
    HAN_KEYS.set(han_keys);

    let mut exact = BTreeSet::new();
    for name in &src.exact {
        let key = tokenize::exact_key(name);
        if key.is_empty() {
            continue;
        }
        if key.chars().count() <= EXACT_PINYIN_CHARS {
            exact.extend(exact_pinyin(&key));
        }
        exact.insert(format!("{EXACT}{key}"));
    }
    // Unsorted: `invert` files each term's postings under the term, walking documents in
    // order, so the order of terms within a document changes nothing in the index.
    let mut terms =
        TextTerms { buf: String::with_capacity(text.keys().map(String::len).sum()), terms: Vec::with_capacity(text.len()) };
    for (t, counts) in text {
        terms.push(&t, counts);
    }
    Analysed { han, text: terms, lens, exact: exact.into_iter().collect() }
}

thread_local! {
    /// Each thread's buffer for encoding a document's [`HanTerms`].
    static HAN_SCRATCH: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
    /// Each thread's buffer for a document's Han keys other than counted unigrams.
    static HAN_KEYS: std::cell::Cell<Vec<u64>> = const { std::cell::Cell::new(Vec::new()) };
    /// Each thread's [`UnigramCounts`], reused from document to document.
    static UNIGRAMS: std::cell::Cell<UnigramCounts> = std::cell::Cell::new(UnigramCounts::default());
}

/// First and end of the code points [`UnigramCounts`] counts directly: CJK Extension A and
/// the unified ideographs, where nearly every Han character of a page is.
const UNIGRAM_FIRST: u64 = 0x3400;
const UNIGRAM_END: u64 = 0xA000;

/// One document's count of each (Han unigram, field), in a dense array indexed by both.
/// Half of a page's Han terms are unigrams, and they repeat most: counting them directly
/// leaves only the distinct ones to sort, where sorting every occurrence cost more.
#[derive(Default)]
struct UnigramCounts {
    /// `(character - UNIGRAM_FIRST) << 3 | field`; zero outside the slots in `touched`.
    counts: Vec<u32>,
    /// The slots of `counts` in use.
    touched: Vec<u32>,
}

impl UnigramCounts {
    /// Count the unigram `key` in field `f`, or say it is not one this counts.
    fn add(&mut self, key: u64, f: usize) -> bool {
        if !(UNIGRAM_FIRST..UNIGRAM_END).contains(&key) {
            return false; // bigrams and the rare ideographs outside the two blocks
        }
        if self.counts.is_empty() {
            self.counts = vec![0; ((UNIGRAM_END - UNIGRAM_FIRST) << 3) as usize];
        }
        let slot = ((key - UNIGRAM_FIRST) << 3) as usize | f;
        if self.counts[slot] == 0 {
            self.touched.push(slot as u32);
        }
        self.counts[slot] += 1;
        true
    }

    /// The counts as entries of [`Analysed::han`], sorted, leaving the counter empty; with
    /// room for `more` entries after them.
    fn drain_packed(&mut self, more: usize) -> Vec<u64> {
        self.touched.sort_unstable();
        let mut han = Vec::with_capacity(self.touched.len() + more);
        for &slot in &self.touched {
            let count = std::mem::take(&mut self.counts[slot as usize]);
            let (key, f) = (UNIGRAM_FIRST + u64::from(slot >> 3), u64::from(slot & 7));
            han.push(key << HAN_KEY_SHIFT | f << HAN_FIELD_SHIFT | u64::from(count).min(HAN_COUNT_MAX));
        }
        self.touched.clear();
        han
    }
}

/// A document's text terms (words, pinyin, exact keys), each with a value, in one string: a
/// 10,000-page site has nearly a million (term, document) pairs of them, and a `String` for
/// each took ten times the memory of the terms' text (the index stage's peak holds them all).
#[derive(Debug, Default)]
struct TextTerms<T> {
    buf: String,
    /// Each term's byte range in `buf`, and its value.
    terms: Vec<(u32, u32, T)>,
}

impl<T> TextTerms<T> {
    fn push(&mut self, term: &str, value: T) {
        let start = self.buf.len() as u32;
        self.buf.push_str(term);
        self.terms.push((start, self.buf.len() as u32, value));
    }

    fn iter(&self) -> impl Iterator<Item = (&str, &T)> {
        self.terms.iter().map(|(start, end, v)| (&self.buf[*start as usize..*end as usize], v))
    }
}

/// Turn a document's counts into weights (given the average field lengths): its packed
/// entries become [`HanTerms`], and `cuts` says where in them each key range of `starts`
/// begins (a byte offset and the key before it), plus where they end.
fn weigh(doc: Analysed, avg: &[f64; NF], starts: &[u64]) -> Weighted {
    let Analysed { han, text, lens, exact } = doc;
    let norms = field_norms(&lens, avg);
    // Encoded into a reused buffer, then copied at its size: mimalloc keeps a block that
    // shrinks by less than half, so `shrink_to_fit` would not give the memory back.
    let mut out = HAN_SCRATCH.take();
    out.clear();
    let (mut read, mut last) = (0, 0);
    let mut cuts = Vec::with_capacity(starts.len() + 1);
    while read < han.len() {
        // A term's entries are sorted by field, so this sums in the order `quantize` does.
        let key = han[read] >> HAN_KEY_SHIFT;
        while cuts.len() < starts.len() && starts[cuts.len()] <= key {
            cuts.push((out.len() as u32, last));
        }
        let mut tf = 0.0;
        while read < han.len() && han[read] >> HAN_KEY_SHIFT == key {
            let f = ((han[read] >> HAN_FIELD_SHIFT) & 7) as usize;
            let count = (han[read] & HAN_COUNT_MAX).min(u64::from(u16::MAX)) as u16;
            tf += FIELDS[f].weight * f64::from(count) / norms[f];
            read += 1;
        }
        push_han_term(&mut out, (key - last) << 4 | u64::from(level_of(tf)));
        last = key;
    }
    while cuts.len() <= starts.len() {
        cuts.push((out.len() as u32, last));
    }
    drop(han);
    let han = HanTerms(out.as_slice().to_vec());
    HAN_SCRATCH.set(out);
    let mut weighed = TextTerms { buf: text.buf, terms: Vec::with_capacity(text.terms.len() + exact.len()) };
    weighed.terms.extend(text.terms.into_iter().map(|(start, end, c)| (start, end, quantize(&c, &norms))));
    for key in exact {
        weighed.push(&key, MAX_LEVEL);
    }
    Weighted { han, cuts, text: weighed }
}

/// Each field's BM25 length normalisation for a document, made once per document rather
/// than once per posting.
fn field_norms(lens: &[u32; NF], avg: &[f64; NF]) -> [f64; NF] {
    std::array::from_fn(|f| 1.0 - FIELDS[f].b + FIELDS[f].b * f64::from(lens[f]) / avg[f])
}

fn bump(map: &mut HashMap<String, [u16; NF]>, term: &str, field: usize) {
    match map.get_mut(term) {
        Some(c) => c[field] = c[field].saturating_add(1),
        None => {
            let mut c = [0; NF];
            c[field] = 1;
            map.insert(term.to_string(), c);
        }
    }
}

/// `#kejiguan` and `#kjg` for a folded name (readings combined, at most a couple of ways).
fn exact_pinyin(key: &str) -> Vec<String> {
    if key.chars().all(|c| tokenize::class(c) != tokenize::Class::Han) {
        return Vec::new(); // a Latin title's key is already its exact key
    }
    let mut full = vec![String::new()];
    let mut initials = vec![String::new()];
    for c in key.chars() {
        let rs = if tokenize::class(c) == tokenize::Class::Han {
            pinyin::readings(c)
        } else {
            vec![c.to_string()]
        };
        if rs.is_empty() {
            return Vec::new();
        }
        full = full.iter().flat_map(|f| rs.iter().map(move |r| format!("{f}{r}"))).take(EXACT_PINYIN_WAYS).collect();
        initials =
            // The first character, not byte: a title may mix Han with `ō` or `é`.
            initials.iter().flat_map(|f| rs.iter().map(move |r| format!("{f}{}", r.chars().next().unwrap_or('_')))).take(EXACT_PINYIN_WAYS).collect();
    }
    let mut out: Vec<String> = full.into_iter().chain(initials).map(|k| format!("{EXACT}{k}")).collect();
    out.sort();
    out.dedup();
    out
}

/// Weigh and invert documents into sorted posting lists, terms in JavaScript order.
fn invert(docs: Vec<Analysed>) -> Vec<(String, Vec<Posting>)> {
    let n = docs.len().max(1) as f64;
    let mut avg = [0f64; NF];
    for d in &docs {
        for (a, l) in avg.iter_mut().zip(d.lens) {
            *a += f64::from(l);
        }
    }
    for a in &mut avg {
        *a = (*a / n).max(1.0);
    }
    // Han terms (nearly all postings): split the key space into ranges holding about the same
    // number of postings, judged from a sample of documents (each key once, though a document
    // has an entry for each field the key is in). A document's terms are sorted, so its part
    // of a range is one slice; each range is inverted on its own (in parallel), walking
    // documents in order, so every posting list comes out sorted by document.
    let step = (docs.len() / 256).max(1);
    let mut sample: Vec<u64> = Vec::new();
    for d in docs.iter().step_by(step) {
        for entry in &d.han {
            let key = entry >> HAN_KEY_SHIFT;
            if sample.last() != Some(&key) {
                sample.push(key);
            }
        }
    }
    sample.sort_unstable();
    let mut bounds: Vec<u64> = (1..BUCKETS).filter_map(|b| sample.get(b * sample.len() / BUCKETS).copied()).collect();
    bounds.dedup();
    // Range `r` holds the keys from `starts[r]` up to the next range's start.
    let starts: Vec<u64> = std::iter::once(0).chain(bounds.iter().copied()).collect();
    // Where each range starts in each document is noted while the document is weighed (its
    // terms come out in key order). Two binary searches for every (range, document) pair, over
    // 92 MB of terms at 10,000 pages, missed the cache at nearly every step: the Han side of
    // the inversion took 0.8 s of wall time, 0.25–0.3 s with the cuts (docs/performance.md).
    let weighed: Vec<Weighted> = docs.into_par_iter().map(|d| weigh(d, &avg, &starts)).collect();
    let mut docs = Vec::with_capacity(weighed.len());
    let mut cuts = Vec::with_capacity(weighed.len());
    let mut texts = Vec::with_capacity(weighed.len());
    for w in weighed {
        docs.push(w.han);
        cuts.push(w.cuts);
        texts.push(w.text);
    }
    let (han, text) = rayon::join(
        || {
            (0..starts.len())
                .into_par_iter()
                .flat_map_iter(|r| {
                    let slices: Vec<HanIter> = docs
                        .iter()
                        .zip(&cuts)
                        .map(|(han, cut)| HanIter { end: cut[r + 1].0 as usize, ..han.iter_from(cut[r].0 as usize, cut[r].1) })
                        .collect();
                    // Count first, so each posting list is allocated once at its final size.
                    let mut counts: HashMap<u64, usize> = HashMap::default();
                    for (key, _) in slices.iter().cloned().flatten() {
                        *counts.entry(key).or_default() += 1;
                    }
                    let mut map: HashMap<u64, Vec<Posting>> =
                        counts.into_iter().map(|(k, n)| (k, Vec::with_capacity(n))).collect();
                    for (id, slice) in slices.iter().enumerate() {
                        for (key, level) in slice.clone() {
                            if let Some(list) = map.get_mut(&key) {
                                list.push(Posting::new(id as u32, level));
                            }
                        }
                    }
                    map.into_iter().map(|(k, p)| (tokenize::han_text(k), p))
                })
                .collect::<Vec<_>>()
        },
        || {
            // Words, pinyin and exact keys: a small share of the postings. A term's string is
            // made once, when the walk first meets it; each document's terms are freed as the
            // walk leaves it, for the Han postings to reuse.
            let mut map: HashMap<String, Vec<Posting>> = HashMap::default();
            for (id, text) in texts.into_iter().enumerate() {
                for (t, &w) in text.iter() {
                    let posting = Posting::new(id as u32, w);
                    match map.get_mut(t) {
                        Some(list) => list.push(posting),
                        None => {
                            map.insert(t.to_string(), vec![posting]);
                        }
                    }
                }
            }
            map.into_iter().collect::<Vec<_>>()
        },
    );
    let mut list = han;
    list.extend(text);
    list.par_sort_unstable_by(|a, b| encode::cmp_js(&a.0, &b.0));
    list
}

/// Han key ranges the inversion is split into (more than cores, so threads stay busy).
const BUCKETS: usize = 64;

/// Highest weight level; a posting's weight is one byte, 1..=[`MAX_LEVEL`].
pub const MAX_LEVEL: u8 = 15;

/// BM25F: the fields' frequencies weighted and length-normalised into one pseudo term
/// frequency `tf`, stored as the level `round(4 · ln(1 + tf))`. A log scale keeps apart what
/// matters for ranking (a short title against a long one) in 4 bits, which compress far
/// better than 8; the client turns a level back into `tf = e^(level/4) − 1` and saturates
/// it with [`K1`].
fn quantize(counts: &[u16; NF], norms: &[f64; NF]) -> u8 {
    let mut tf = 0.0;
    for f in 0..NF {
        if counts[f] > 0 {
            tf += FIELDS[f].weight * f64::from(counts[f]) / norms[f];
        }
    }
    level_of(tf)
}

/// `round(4 · ln(1 + tf))` clamped to 1..=[`MAX_LEVEL`], without a logarithm per posting:
/// the level is how many of the precomputed boundaries `e^((k − ½)/4) − 1` `tf` reaches
/// (it runs once for each of the index's ten million postings).
fn level_of(tf: f64) -> u8 {
    static BOUNDS: std::sync::OnceLock<Vec<f64>> = std::sync::OnceLock::new();
    let bounds = BOUNDS.get_or_init(|| (2..=MAX_LEVEL).map(|k| ((f64::from(k) - 0.5) / 4.0).exp_m1()).collect());
    1 + bounds.iter().take_while(|&&b| tf >= b).count() as u8
}

/// Sorted strings as one string: per entry, the number of characters (code points, 0–9) it
/// shares with the one before, then the rest, entries separated by newlines. Shard
/// boundaries of a large site shrink to about a third.
fn front_code<'a>(entries: impl Iterator<Item = &'a str>) -> String {
    let mut out = String::new();
    let mut prev: Vec<char> = Vec::new();
    for (i, e) in entries.enumerate() {
        let chars: Vec<char> = e.chars().collect();
        let shared = prev.iter().zip(&chars).take_while(|(a, b)| a == b).count().min(9);
        if i > 0 {
            out.push('\n');
        }
        out.push(char::from(b'0' + shared as u8));
        out.extend(&chars[shared..]);
        prev = chars;
    }
    out
}

/// The shortest prefix of `first` that still sorts after `prev`: what the manifest needs to
/// route a term to its shard, in a third of the bytes.
fn boundary<'a>(prev: &str, first: &'a str) -> &'a str {
    first
        .char_indices()
        .map(|(i, c)| &first[..i + c.len_utf8()])
        .find(|p| encode::cmp_js(p, prev) == std::cmp::Ordering::Greater)
        .unwrap_or(first)
}

/// Cut the sorted term list into shards of about [`SHARD_BYTES`].
fn cut_shards(postings: &[(String, Vec<Posting>)]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut size = 0;
    for (i, (term, p)) in postings.iter().enumerate() {
        let s = encode::entry_size(term, p);
        if size > 0 && size + s > SHARD_BYTES {
            out.push(start..i);
            start = i;
            size = 0;
        }
        size += s;
    }
    if start < postings.len() || out.is_empty() {
        out.push(start..postings.len());
    }
    out
}

/// Text kept for excerpts: the description, then the body, cut to [`EXCERPT_CHARS`].
fn excerpt_text(src: &Source) -> String {
    let description = src.description.trim();
    let parts: [&str; 3] = if src.description.is_empty() { ["", "", src.body] } else { [description, "\n", src.body] };
    // Only as much of the body as the excerpt keeps is read (a body is thousands of characters).
    let mut text = String::new();
    let mut left = EXCERPT_CHARS;
    for part in parts {
        let (head, chars) = match part.char_indices().nth(left) {
            Some((i, _)) => (&part[..i], left),
            None => (part, part.chars().count()),
        };
        text.push_str(head);
        left -= chars;
    }
    text
}

/// One document in a fragment file: url, title, section, excerpt text, aliases and heading
/// anchors, as a JSON array; trailing empty lists are left out (`[url, title, section, text]`
/// for a page with neither).
struct Record<'a>(&'a str, &'a str, &'a str, String, &'a [String], &'a [&'a str]);

impl Serialize for Record<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let len = if !self.5.is_empty() { 6 } else if !self.4.is_empty() { 5 } else { 4 };
        let mut seq = s.serialize_seq(Some(len))?;
        seq.serialize_element(self.0)?;
        seq.serialize_element(self.1)?;
        seq.serialize_element(self.2)?;
        seq.serialize_element(&self.3)?;
        if len > 4 {
            seq.serialize_element(self.4)?;
        }
        if len > 5 {
            seq.serialize_element(self.5)?;
        }
        seq.end()
    }
}

/// Documents per fragment file so that a file is about [`FRAGMENT_BYTES`].
fn fragment_group_size(records: &[Record]) -> usize {
    if records.is_empty() {
        return 1;
    }
    let total: usize = records
        .iter()
        .map(|r| {
            let lists: usize = r.4.iter().map(|a| a.len() + 3).sum::<usize>() + r.5.iter().map(|a| a.len() + 3).sum::<usize>();
            r.0.len() + r.1.len() + r.2.len() + r.3.len() + lists + 16
        })
        .sum();
    let avg = (total / records.len()).max(1);
    (FRAGMENT_BYTES / avg).clamp(1, 64)
}

type FacetRuns = BTreeMap<&'static str, BTreeMap<String, Vec<u32>>>;
type FacetValues = BTreeMap<&'static str, Vec<(String, String)>>;

/// Chip labels of the section keys: the top-level section's title (`home` for the root).
fn section_labels(site: &Site) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for s in &site.sections {
        let key = section_key(s);
        if s.dir.is_empty() {
            out.insert(key, "首页".to_string());
        } else if !s.dir.contains('/') {
            out.insert(key, s.title.clone());
        }
    }
    out
}

/// Per facet value the run-length doc list, and per facet key its values with labels.
fn facet_postings(sources: &[Source], section_labels: &BTreeMap<String, String>) -> (FacetRuns, FacetValues) {
    let mut docs: BTreeMap<&'static str, BTreeMap<String, Vec<u32>>> = BTreeMap::new();
    for (id, s) in sources.iter().enumerate() {
        for (key, value) in &s.facets {
            docs.entry(key).or_default().entry(value.clone()).or_default().push(id as u32);
        }
    }
    let mut values = FacetValues::new();
    for (key, by_value) in &docs {
        // The order chips appear in: the domain's own order where it has one (cities as the
        // province lists them, levels from national down, kinds as the schema lists them),
        // then the most frequent first, then by value.
        let mut v: Vec<(String, String)> = by_value
            .keys()
            .map(|value| {
                let label = match *key {
                    "section" => section_labels.get(value).cloned().unwrap_or_else(|| value.clone()),
                    _ => value.clone(),
                };
                (value.clone(), label)
            })
            .collect();
        let rank = |value: &str| crate::model::portal::display_order(key, value).unwrap_or(usize::MAX);
        v.sort_by(|a, b| {
            rank(&a.0)
                .cmp(&rank(&b.0))
                .then_with(|| by_value[&b.0].len().cmp(&by_value[&a.0].len()))
                .then_with(|| a.0.cmp(&b.0))
        });
        values.insert(key, v);
    }
    let runs = docs
        .into_iter()
        .map(|(k, by_value)| (k, by_value.into_iter().map(|(v, d)| (v, encode::runs(&d))).collect()))
        .collect();
    (runs, values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source<'a>(description: &'a str, body: &'a str) -> Source<'a> {
        Source {
            url: String::new(),
            title: "",
            section: String::new(),
            city: String::new(),
            facets: Vec::new(),
            names: Vec::new(),
            exact: Vec::new(),
            aliases: &[],
            headings: Vec::new(),
            anchors: Vec::new(),
            description,
            body,
        }
    }

    #[test]
    fn exact_pinyin_of_titles_with_accented_latin_letters_does_not_panic() {
        // A Zola site's project "dōteki" panicked here: `ō` is two bytes.
        assert!(exact_pinyin("dōteki").is_empty());
        let mixed = exact_pinyin("科ō");
        assert!(mixed.iter().any(|k| k.ends_with("keō")), "{mixed:?}");
        assert!(mixed.iter().any(|k| k.ends_with("kō")), "{mixed:?}");
    }

    #[test]
    fn facet_values_come_in_the_domain_order_then_by_frequency() {
        let with = |facets: &[(&'static str, &str)]| Source {
            facets: facets.iter().map(|&(k, v)| (k, v.to_string())).collect(),
            ..source("", "")
        };
        // 焦作 is the most frequent, but 郑州 and 洛阳 come before it in the province's order;
        // values outside the lists (a section) go by frequency, then by value.
        let sources = [
            with(&[("city", "焦作"), ("level", "市级"), ("section", "venues")]),
            with(&[("city", "焦作"), ("level", "国家级"), ("section", "bases")]),
            with(&[("city", "焦作"), ("level", "省级"), ("section", "bases")]),
            with(&[("city", "洛阳"), ("section", "cities")]),
            with(&[("city", "郑州"), ("section", "cities")]),
        ];
        let (_, values) = facet_postings(&sources, &BTreeMap::new());
        let order = |key: &str| values[key].iter().map(|(v, _)| v.as_str()).collect::<Vec<_>>();
        assert_eq!(order("city"), ["郑州", "洛阳", "焦作"]);
        assert_eq!(order("level"), ["国家级", "省级", "市级"]);
        assert_eq!(order("section"), ["bases", "cities", "venues"]);
    }

    #[test]
    fn an_excerpt_is_the_description_then_the_body_cut_to_its_length() {
        assert_eq!(excerpt_text(&source(" 简介 ", "正文")), "简介\n正文");
        assert_eq!(excerpt_text(&source("", "正文")), "正文");
        let body = "科".repeat(EXCERPT_CHARS * 2);
        assert_eq!(excerpt_text(&source("", &body)), "科".repeat(EXCERPT_CHARS));
        // The description and the line break count towards the length.
        let cut = excerpt_text(&source("简介", &body));
        assert_eq!(cut.chars().count(), EXCERPT_CHARS);
        assert_eq!(cut, format!("简介\n{}", "科".repeat(EXCERPT_CHARS - 3)));
        let long = "介".repeat(EXCERPT_CHARS + 5);
        assert_eq!(excerpt_text(&source(&long, &body)), "介".repeat(EXCERPT_CHARS));
    }

    /// The BM25F level as it was computed before the per-document norms: every field's
    /// normalisation worked out again for each posting.
    fn level_per_posting(counts: &[u16; NF], lens: &[u32; NF], avg: &[f64; NF]) -> u8 {
        let mut tf = 0.0;
        for f in 0..NF {
            if counts[f] > 0 {
                let spec = FIELDS[f];
                let norm = 1.0 - spec.b + spec.b * f64::from(lens[f]) / avg[f];
                tf += spec.weight * f64::from(counts[f]) / norm;
            }
        }
        level_of(tf)
    }

    #[test]
    fn weights_equal_the_per_posting_formula() {
        let avg = [3.5, 2.0, 9.0, 6.0, 11.0, 40.0, 800.0];
        let mut seed = 7u64;
        let mut next = move |m: u64| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) % m
        };
        for _ in 0..300 {
            let lens: [u32; NF] = std::array::from_fn(|_| next(2000) as u32);
            let mut han = Vec::new();
            let mut expected = Vec::new();
            for key in 0..40u64 {
                let mut counts = [0u16; NF];
                for f in 0..NF as u64 {
                    if next(3) == 0 {
                        let n = 1 + next(70_000);
                        counts[f as usize] = n.min(u64::from(u16::MAX)) as u16;
                        han.push(key << HAN_KEY_SHIFT | f << HAN_FIELD_SHIFT | n);
                    }
                }
                if counts.iter().any(|&c| c > 0) {
                    expected.push(key << 8 | u64::from(level_per_posting(&counts, &lens, &avg)));
                }
            }
            let mut text = TextTerms::default();
            text.push("word", [1, 0, 0, 0, 2, 0, 5]);
            let want_text = level_per_posting(&text.terms[0].2, &lens, &avg);
            let weighted = weigh(Analysed { han, text, lens, exact: vec!["#exact".to_string()] }, &avg, &[0]);
            let decoded: Vec<u64> = weighted.han.iter_from(0, 0).map(|(key, level)| key << 8 | u64::from(level)).collect();
            assert_eq!(decoded, expected);
            assert_eq!(weighted.text.iter().collect::<Vec<_>>(), vec![("word", &want_text), ("#exact", &MAX_LEVEL)]);
        }
    }

    #[test]
    fn han_terms_hold_every_size_of_term() {
        // Keys whose deltas need 1 to 7 bytes, each with a level, read back from the start
        // and, near the end, through the short window.
        let mut keys = vec![0u64];
        for bits in [1, 3, 7, 8, 13, 14, 20, 21, 27, 28, 34, 35, 41, 42, 43] {
            let last = *keys.last().unwrap();
            keys.push(last + (1 << bits) - 1);
            keys.push(last + (1 << bits));
        }
        let mut han = HanTerms::default();
        let mut last = 0;
        for (i, &key) in keys.iter().enumerate() {
            push_han_term(&mut han.0, (key - last) << 4 | (i as u64 % 15 + 1));
            last = key;
        }
        let read: Vec<(u64, u8)> = han.iter_from(0, 0).collect();
        let want: Vec<(u64, u8)> = keys.iter().enumerate().map(|(i, &k)| (k, (i % 15 + 1) as u8)).collect();
        assert_eq!(read, want);
    }

    #[test]
    fn han_terms_read_back_from_any_term_boundary() {
        // Unigrams, then bigrams (keys near 2^43), as a document's sorted keys are.
        let keys: Vec<u64> = [0x4E2D, 0x4E2E, 0x9FA5]
            .into_iter()
            .chain([('科', '技'), ('科', '普'), ('馆', '长'), ('\u{20000}', '\u{2A6D6}')].map(|(a, b)| tokenize::han_bigram(a, b)))
            .collect();
        let han = keys.iter().map(|&k| k << HAN_KEY_SHIFT | 2 << HAN_FIELD_SHIFT | 3).collect();
        // Ranges starting at 0, at each key, between two keys and after the last.
        let starts: Vec<u64> = std::iter::once(0).chain(keys.iter().flat_map(|&k| [k, k + 1])).collect();
        let weighted = weigh(Analysed { han, text: TextTerms::default(), lens: [1; NF], exact: Vec::new() }, &[1.0; NF], &starts);
        let all: Vec<(u64, u8)> = weighted.han.iter_from(0, 0).collect();
        assert_eq!(all.iter().map(|t| t.0).collect::<Vec<_>>(), keys);
        assert!(all.iter().all(|&(_, level)| (1..=MAX_LEVEL).contains(&level)));
        // Starting at each term's first byte with the key before it gives the rest, and the
        // cuts are those places: the first term at or above each range's start.
        let mut it = weighted.han.iter_from(0, 0);
        let mut places = Vec::new();
        for i in 0..=keys.len() {
            let before = if i == 0 { 0 } else { keys[i - 1] };
            assert_eq!(weighted.han.iter_from(it.at, before).collect::<Vec<_>>(), all[i..], "from term {i}");
            places.push((it.at as u32, before));
            it.next();
        }
        assert_eq!(weighted.cuts.len(), starts.len() + 1);
        for (r, &lo) in starts.iter().enumerate() {
            let first = keys.iter().position(|&k| k >= lo).unwrap_or(keys.len());
            assert_eq!(weighted.cuts[r], places[first], "range {r} from {lo}");
        }
        assert_eq!(weighted.cuts[starts.len()], places[keys.len()]);
    }

    #[test]
    fn level_of_is_the_rounded_log_it_replaces() {
        let by_log = |tf: f64| (4.0 * tf.ln_1p()).round().clamp(1.0, f64::from(MAX_LEVEL)) as u8;
        for i in 0..200_000 {
            let tf = f64::from(i) * 0.0005;
            assert_eq!(level_of(tf), by_log(tf), "tf = {tf}");
        }
        assert_eq!(level_of(1e9), MAX_LEVEL);
    }
}
