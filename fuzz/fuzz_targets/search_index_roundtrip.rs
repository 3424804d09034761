//! The search index's byte formats: whatever terms and postings the indexer hands them, a
//! decoder written from the format description in `src/index/encode.rs` (the one the browser
//! client implements) gets exactly them back — shards, facet runs and gzip alike.

#![no_main]

use std::io::Read;

use kepu::index::encode::{cmp_js, entry_size, gzip, runs, shard, Posting};
use libfuzzer_sys::fuzz_target;

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn varint(&mut self) -> u64 {
        let mut v = 0u64;
        let mut shift = 0;
        loop {
            let b = self.bytes[self.at];
            self.at += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return v;
            }
            shift += 7;
            assert!(shift < 64, "varint too long");
        }
    }
    fn take(&mut self, n: usize) -> &[u8] {
        let s = &self.bytes[self.at..self.at + n];
        self.at += n;
        s
    }
}

/// The shard format, as documented: front-coded terms with their document frequencies, then
/// all doc-id deltas, then all weights.
fn decode_shard(bytes: &[u8]) -> Vec<(String, Vec<Posting>)> {
    let mut r = Reader { bytes, at: 0 };
    let count = r.varint() as usize;
    let mut heads: Vec<(String, usize)> = Vec::with_capacity(count);
    let mut prev: Vec<u8> = Vec::new();
    for _ in 0..count {
        let shared = r.varint() as usize;
        let suffix = r.varint() as usize;
        let mut term = prev[..shared].to_vec();
        term.extend_from_slice(r.take(suffix));
        let df = r.varint() as usize;
        heads.push((String::from_utf8(term.clone()).expect("terms are UTF-8"), df));
        prev = term;
    }
    let mut docs: Vec<Vec<u32>> = Vec::new();
    for (_, df) in &heads {
        let mut last = 0u32;
        docs.push((0..*df).map(|_| {
            last += r.varint() as u32;
            last
        }).collect());
    }
    let mut out = Vec::new();
    for ((term, df), ds) in heads.into_iter().zip(docs) {
        let ws = r.take(df).to_vec();
        out.push((term, ds.into_iter().zip(ws).collect()));
    }
    assert_eq!(r.at, bytes.len(), "trailing bytes");
    out
}

fn decode_runs(runs: &[u32]) -> Vec<u32> {
    let mut out = Vec::new();
    let mut next = 0u32;
    for pair in runs.chunks(2) {
        let start = next + pair[0];
        out.extend(start..start + pair[1]);
        next = start + pair[1];
    }
    out
}

fuzz_target!(|input: Vec<(String, Vec<(u32, u8)>)>| {
    // What the indexer guarantees: terms unique, in JavaScript order, non-empty; postings
    // sorted by document, one per document, weights 1..=255; document ids below u32::MAX
    // (ids count documents, and a site has fewer than u32::MAX of them).
    let mut terms: Vec<(String, Vec<Posting>)> = input
        .into_iter()
        .filter(|(t, _)| !t.is_empty())
        .map(|(t, mut ps)| {
            for p in &mut ps {
                p.0 = p.0.min(u32::MAX - 1);
            }
            ps.sort_by_key(|p| p.0);
            ps.dedup_by_key(|p| p.0);
            for p in &mut ps {
                p.1 = p.1.max(1);
            }
            (t, ps)
        })
        .collect();
    terms.sort_by(|a, b| cmp_js(&a.0, &b.0));
    terms.dedup_by(|a, b| a.0 == b.0);

    let borrowed: Vec<(&str, &[Posting])> = terms.iter().map(|(t, p)| (t.as_str(), p.as_slice())).collect();
    let bytes = shard(&borrowed);
    assert_eq!(decode_shard(&bytes), terms);
    let estimate: usize = borrowed.iter().map(|(t, p)| entry_size(t, p)).sum();
    assert!(estimate > 0 || terms.is_empty());

    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(gzip(&bytes).as_slice()).read_to_end(&mut unzipped).unwrap();
    assert_eq!(unzipped, bytes);

    for (_, postings) in &terms {
        let docs: Vec<u32> = postings.iter().map(|p| p.0).collect();
        assert_eq!(decode_runs(&runs(&docs)), docs);
    }
});
