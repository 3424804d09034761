//! Gzip for the files kepu writes compressed: the search index's files (every build) and the
//! `.gz` siblings of `--precompress`. libdeflate, with fixed header fields (no name, no
//! timestamp), so the same input gives the same bytes.

use std::cell::RefCell;

/// Gzip `bytes` at libdeflate `level` (1–12).
///
/// A build writes thousands of small streams, and setting up a compressor (its hash tables)
/// costs about as much as compressing a small one, so each thread keeps a compressor per
/// level, with an output buffer of the largest bound so far; the result is copied out at its
/// size.
pub fn gzip(bytes: &[u8], level: i32) -> Vec<u8> {
    thread_local! {
        static COMPRESSORS: RefCell<(Vec<(i32, libdeflater::Compressor)>, Vec<u8>)> = const { RefCell::new((Vec::new(), Vec::new())) };
    }
    COMPRESSORS.with_borrow_mut(|(compressors, out)| {
        let at = match compressors.iter().position(|(l, _)| *l == level) {
            Some(at) => at,
            None => {
                let lvl = libdeflater::CompressionLvl::new(level).expect("a gzip level from 1 to 12");
                compressors.push((level, libdeflater::Compressor::new(lvl)));
                compressors.len() - 1
            }
        };
        let compressor = &mut compressors[at].1;
        let bound = compressor.gzip_compress_bound(bytes.len());
        if out.len() < bound {
            out.resize(bound, 0);
        }
        let n = compressor.gzip_compress(bytes, out).expect("the output buffer has the bound's size");
        out[..n].to_vec()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn round_trips_at_every_level_with_a_zero_timestamp() {
        let text = "河南省科技馆新馆位于郑州市郑东新区。".repeat(40);
        for level in [2, 9, 2] {
            let gz = gzip(text.as_bytes(), level);
            assert_eq!(gz, gzip(text.as_bytes(), level));
            assert_eq!(&gz[4..8], &[0, 0, 0, 0], "gzip mtime must be zero");
            let mut back = String::new();
            flate2::read::GzDecoder::new(&gz[..]).read_to_string(&mut back).unwrap();
            assert_eq!(back, text);
        }
        assert!(gzip(text.as_bytes(), 9).len() <= gzip(text.as_bytes(), 2).len());
    }
}
