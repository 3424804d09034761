//! Byte formats of the index files, and their compression. The client's decoder mirrors
//! these functions; keep the two in step.
//!
//! A shard (`shards/N.bin.gz`) holds the posting lists of a contiguous range of terms:
//!
//! ```text
//! varint term_count
//! term_count × { varint shared_prefix_bytes, varint suffix_bytes, suffix (UTF-8), varint df }
//! term_count × { df × varint doc_id_delta }      (first delta from 0)
//! term_count × { df × u8 weight level }          (1..=15, see `mod.rs`: quantize)
//! ```
//!
//! Terms are front-coded; like fields are stored together because that is what gzip
//! compresses best.

use std::cmp::Ordering;

/// One posting: a document and the term's quantized weight level in it, packed into one
/// `u32` (`doc << 4 | level`). A `(u32, u8)` pair is padded to 8 bytes, and a 10,000-page
/// site has about ten million postings: packed, the inverted index takes half the memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Posting(u32);

/// Bits of a [`Posting`] that hold the weight level (levels are 1..=15).
const LEVEL_BITS: u32 = 4;
const _: () = assert!((super::MAX_LEVEL as u32) < 1 << LEVEL_BITS);

impl Posting {
    /// Documents a posting can number (the index refuses sites with more).
    pub const MAX_DOCS: usize = 1 << (32 - LEVEL_BITS);

    /// `doc` must be below [`Posting::MAX_DOCS`] and `level` at most `MAX_LEVEL`.
    pub fn new(doc: u32, level: u8) -> Self {
        debug_assert!((doc as usize) < Self::MAX_DOCS && level <= super::MAX_LEVEL);
        Posting(doc << LEVEL_BITS | u32::from(level))
    }

    pub fn doc(self) -> u32 {
        self.0 >> LEVEL_BITS
    }

    pub fn level(self) -> u8 {
        (self.0 & ((1 << LEVEL_BITS) - 1)) as u8
    }
}

/// Append `v` as an unsigned LEB128 varint.
pub fn push_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Order of strings as JavaScript compares them (UTF-16 code units), so the client can
/// binary-search shard boundaries with `<`.
///
/// Sorting a large site's million terms calls this tens of millions of times, so it compares
/// bytes and looks at characters only where the strings first differ: up to there both share
/// their characters, and at that point UTF-16 order is code point order except that a
/// character above U+FFFF (a surrogate pair, first unit D800–DBFF) sorts before E000–FFFF.
pub fn cmp_js(a: &str, b: &str) -> Ordering {
    let Some(i) = a.bytes().zip(b.bytes()).position(|(x, y)| x != y) else {
        return a.len().cmp(&b.len());
    };
    // The bytes before `i` are equal, so the character starting at or before `i` starts at the
    // same offset in both strings.
    let start = (0..=i).rev().find(|&k| a.is_char_boundary(k)).unwrap_or(0);
    let unit = |s: &str| {
        let c = u32::from(s[start..].chars().next().unwrap_or('\0'));
        if c >= 0x10000 { (0xD800 + ((c - 0x10000) >> 10), c) } else { (c, c) }
    };
    unit(a).cmp(&unit(b))
}

/// The deflate level of the index files (see [`gzip`]).
const GZIP_LEVEL: i32 = 2;

/// Gzip at [`GZIP_LEVEL`] (see [`crate::gzip`]).
///
/// libdeflate at level 2: on a 10,000-page site's shards and fragments (5,146 streams, 34.2 MB
/// before compression, one thread) it took 0.36–0.49 s for 15.59 MB, where zlib-rs at level 3
/// took 0.48–0.60 s for 15.78 MB; libdeflate's level 1 took 0.21–0.27 s for 15.93 MB, its
/// level 3 0.45–0.57 s for 15.45 MB, level 6 0.57 s for 15.22 MB, zlib-rs's level 1 0.21 s
/// for 22.28 MB. Level 2 is both smaller and faster than what it replaced.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    crate::gzip::gzip(bytes, GZIP_LEVEL)
}

/// Encode one shard from terms in [`cmp_js`] order with doc-sorted postings.
pub fn shard(terms: &[(&str, &[Posting])]) -> Vec<u8> {
    let mut out = Vec::new();
    push_varint(&mut out, terms.len() as u64);
    let mut prev: &[u8] = &[];
    for (term, postings) in terms {
        let bytes = term.as_bytes();
        let shared = prev.iter().zip(bytes).take_while(|(a, b)| a == b).count();
        push_varint(&mut out, shared as u64);
        push_varint(&mut out, (bytes.len() - shared) as u64);
        out.extend_from_slice(&bytes[shared..]);
        push_varint(&mut out, postings.len() as u64);
        prev = bytes;
    }
    for (_, postings) in terms {
        let mut last = 0u32;
        for p in *postings {
            push_varint(&mut out, u64::from(p.doc() - last));
            last = p.doc();
        }
    }
    for (_, postings) in terms {
        out.extend(postings.iter().map(|p| p.level()));
    }
    out
}

/// Bytes a term's entry adds to a shard, roughly (used to cut shards to size).
pub fn entry_size(term: &str, postings: &[Posting]) -> usize {
    let mut deltas = 0;
    let mut last = 0u32;
    for p in postings {
        let doc = p.doc();
        let d = doc - last;
        deltas += match d {
            0..=0x7f => 1,
            0x80..=0x3fff => 2,
            _ => 3,
        };
        last = doc;
    }
    term.len() + 3 + deltas + postings.len()
}

/// A sorted doc-id list as alternating gap and run lengths (`[gap, run, gap, run, …]`): facet
/// values of documents ordered by section and city become a few runs.
pub fn runs(docs: &[u32]) -> Vec<u32> {
    let mut out = Vec::new();
    let mut next = 0u32; // first doc id after the previous run
    let mut i = 0;
    while i < docs.len() {
        let start = docs[i];
        let mut end = start;
        while i + 1 < docs.len() && docs[i + 1] == end + 1 {
            i += 1;
            end += 1;
        }
        out.push(start - next);
        out.push(end - start + 1);
        next = end + 1;
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn varints() {
        let mut v = Vec::new();
        push_varint(&mut v, 0);
        push_varint(&mut v, 127);
        push_varint(&mut v, 128);
        push_varint(&mut v, 300);
        assert_eq!(v, [0, 127, 0x80, 1, 0xac, 2]);
    }

    #[test]
    fn js_order_differs_from_byte_order_for_astral_characters() {
        // U+FF01 sorts after U+20000 by code point but before it in UTF-16.
        assert_eq!(cmp_js("\u{FF01}", "\u{20000}"), Ordering::Greater);
        // The byte-wise fast path equals the UTF-16 definition on every pair of a mixed set.
        let words = [
            "", "a", "ab", "abc", "b", "科", "科技", "科技馆", "科普", "\u{FF01}", "\u{20000}", "\u{20001}",
            "\u{E000}x", "\u{10000}", "a\u{FFFF}", "a\u{1F600}", "a\u{1F601}b", "é", "e\u{301}", "\u{7F}", "\u{80}",
        ];
        for x in words {
            for y in words {
                assert_eq!(cmp_js(x, y), x.encode_utf16().cmp(y.encode_utf16()), "{x:?} vs {y:?}");
            }
        }
        assert_eq!("\u{FF01}".cmp("\u{20000}"), Ordering::Less);
    }

    #[test]
    fn run_lengths() {
        assert_eq!(runs(&[0, 1, 2, 5, 6, 9]), [0, 3, 2, 2, 2, 1]);
        assert_eq!(runs(&[]), Vec::<u32>::new());
    }

    #[test]
    fn gzip_is_deterministic_and_decompresses_to_its_input() {
        assert_eq!(gzip(b"abc"), gzip(b"abc"));
        // Many sizes through one reused compressor: each a whole gzip stream of its input.
        for n in [0usize, 1, 100, 8 * 1024, 70_000, 300_000, 20] {
            let input: Vec<u8> = (0..n as u32).map(|i| (i.wrapping_mul(2654435761) >> 7) as u8 % 61).collect();
            let gz = gzip(&input);
            assert_eq!(&gz[..4], &[0x1f, 0x8b, 8, 0], "gzip, deflate, no name or other fields");
            assert_eq!(&gz[4..8], &[0, 0, 0, 0], "no timestamp");
            let mut back = Vec::new();
            flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut back).unwrap();
            assert_eq!(back, input, "{n} bytes");
        }
    }
}

#[cfg(test)]
mod format_tests {
    use super::*;

    /// The same bytes `tests/node/client.test.mjs` decodes: the two sides share the format.
    #[test]
    fn shard_bytes_match_the_client_test() {
        let ab: &[Posting] = &[Posting::new(1, 3), Posting::new(5, 15)];
        let ac: &[Posting] = &[Posting::new(2, 1)];
        assert_eq!(shard(&[("ab", ab), ("ac", ac)]), [2, 0, 2, 0x61, 0x62, 2, 1, 1, 0x63, 1, 1, 4, 2, 3, 15, 1]);
    }

    #[test]
    fn a_posting_keeps_its_document_and_level() {
        for (doc, level) in [(0, 1), (1, 15), (12_345, 7), ((Posting::MAX_DOCS - 1) as u32, 15)] {
            let p = Posting::new(doc, level);
            assert_eq!((p.doc(), p.level()), (doc, level));
        }
    }
}
