//! `--precompress`: `.gz` and `.br` siblings of text files, for servers that send a
//! precompressed file as is (nginx `gzip_static` / `brotli_static`, most CDNs) instead of
//! compressing on every request.
//!
//! gzip at its highest level; brotli at its highest only for the site's scripts and
//! stylesheets, and at a fast level for everything else (see [`brotli_quality`]). No
//! timestamp or file name in the gzip header, so the same input gives the same bytes and a
//! deploy re-uploads a sibling only when its file changed.

use std::io::Write;

/// Files smaller than this are sent as they are: the saving does not pay for the header.
pub const MIN_BYTES: usize = 256;

/// Extensions worth compressing: text formats a browser or calendar app fetches. Formats that
/// are already compressed (images, fonts, `.gz`) are left alone.
pub const TEXT_EXTENSIONS: &[&str] =
    &["html", "htm", "css", "js", "mjs", "json", "xml", "txt", "svg", "ics", "webmanifest", "map", "md"];

/// Whether `path` with `len` bytes gets compressed siblings.
pub fn eligible(path: &str, len: usize) -> bool {
    len >= MIN_BYTES
        && path
            .rsplit_once('.')
            .is_some_and(|(_, ext)| TEXT_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()))
}

/// gzip at level 9 with a zero mtime and no file name (deterministic).
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::GzBuilder::new().mtime(0).write(Vec::with_capacity(bytes.len() / 3), flate2::Compression::best());
    enc.write_all(bytes).expect("writing to memory cannot fail");
    enc.finish().expect("writing to memory cannot fail")
}

/// Brotli quality for scripts and stylesheets: the highest. They are a handful of files that
/// every visitor's first page loads, so the last few percent are worth their time.
pub const BROTLI_BEST: i32 = 11;

/// Brotli quality for everything else (pages, feeds, data). Measured on a 10,000-page site's
/// pages (one thread): quality 11 compresses about 0.5 MB/s, and 0.2 MB/s on pages of
/// 100 kB and more, which made `--precompress` take four minutes there; quality 7 does
/// 10–28 MB/s for files 8–11% larger than quality 11’s and 15–23% smaller than gzip -9’s.
/// (Qualities 9 and 10 allocate a 32 MB hash table per file and are as slow as 11 on small
/// files.)
pub const BROTLI_FAST: i32 = 7;

/// The brotli quality for the file at `path` (see [`BROTLI_BEST`] and [`BROTLI_FAST`]).
pub fn brotli_quality(path: &str) -> i32 {
    match path.rsplit_once('.').map(|(_, ext)| ext.to_ascii_lowercase()) {
        Some(ext) if matches!(ext.as_str(), "css" | "js" | "mjs") => BROTLI_BEST,
        _ => BROTLI_FAST,
    }
}

/// Brotli at `quality` with a window fitted to the input.
pub fn brotli(bytes: &[u8], quality: i32) -> Vec<u8> {
    let params = brotli::enc::BrotliEncoderParams {
        quality,
        lgwin: window_bits(bytes.len(), quality),
        size_hint: bytes.len(),
        ..Default::default()
    };
    let mut out = Vec::with_capacity(bytes.len() / 3);
    brotli::BrotliCompress(&mut &bytes[..], &mut out, &params).expect("compressing in memory cannot fail");
    out
}

/// The smallest window (10..=24 bits) that holds the whole input: less memory to decode.
/// Below quality 10 at least 17 bits: for smaller windows the encoder would pick hashers
/// this brotli crate does not have (H40–H42) and fall back to one that is set up for large
/// inputs, which made each small file take milliseconds (measured: 14 ms a page at quality
/// 5, against 0.7 ms with 17 bits, for the same output within 1%).
fn window_bits(len: usize, quality: i32) -> i32 {
    let mut bits = if quality < 10 { 17 } else { 10 };
    while bits < 24 && (1usize << bits) - 16 < len {
        bits += 1;
    }
    bits
}

/// The compressed siblings of the file at `path`, `(suffix, bytes)`, each only when it is
/// smaller than the original.
pub fn siblings(path: &str, bytes: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let mut out = Vec::with_capacity(2);
    let gz = gzip(bytes);
    if gz.len() < bytes.len() {
        out.push(("gz", gz));
    }
    let br = brotli(bytes, brotli_quality(path));
    if br.len() < bytes.len() {
        out.push(("br", br));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn round_trips_and_is_deterministic() {
        let text = "河南省科技馆新馆位于郑州市郑东新区。".repeat(50);
        let gz = gzip(text.as_bytes());
        assert_eq!(gz, gzip(text.as_bytes()));
        assert_eq!(&gz[4..8], &[0, 0, 0, 0], "gzip mtime must be zero");
        let mut back = String::new();
        flate2::read::GzDecoder::new(&gz[..]).read_to_string(&mut back).unwrap();
        assert_eq!(back, text);

        for quality in [BROTLI_FAST, BROTLI_BEST] {
            let br = brotli(text.as_bytes(), quality);
            assert_eq!(br, brotli(text.as_bytes(), quality));
            let mut back = Vec::new();
            brotli::BrotliDecompress(&mut &br[..], &mut back).unwrap();
            assert_eq!(back, text.as_bytes());
            assert!(br.len() < gz.len(), "brotli {quality}: {} vs gzip {}", br.len(), gz.len());
        }
    }

    #[test]
    fn scripts_and_styles_get_the_best_brotli_and_pages_the_fast_one() {
        assert_eq!(brotli_quality("css/site.css"), BROTLI_BEST);
        assert_eq!(brotli_quality("js/site.js"), BROTLI_BEST);
        assert_eq!(brotli_quality("search/search.mjs"), BROTLI_BEST);
        assert_eq!(brotli_quality("venues/x/index.html"), BROTLI_FAST);
        assert_eq!(brotli_quality("sitemap.xml"), BROTLI_FAST);
        // The fast quality's window is never below 17 bits (see `window_bits`).
        assert_eq!(window_bits(300, BROTLI_FAST), 17);
        assert_eq!(window_bits(300, BROTLI_BEST), 10);
        assert_eq!(window_bits(1 << 20, BROTLI_FAST), 21);
    }

    #[test]
    fn only_text_files_above_the_threshold() {
        assert!(eligible("venues/x/index.html", 4000));
        assert!(eligible("campaigns.ics", 300));
        assert!(eligible("search/search.mjs", 300));
        assert!(!eligible("robots.txt", 60));
        assert!(!eligible("search/shards/0.bin.gz", 9000));
        assert!(!eligible("img/a.png", 9000));
        assert!(!eligible("noextension", 9000));
    }

    #[test]
    fn incompressible_input_gets_no_sibling() {
        // Already-compressed bytes do not shrink.
        let noise = gzip(&(0..4000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect::<Vec<_>>());
        assert!(siblings("x.html", &noise).is_empty());
        assert_eq!(siblings("x.html", "abc".repeat(200).as_bytes()).len(), 2);
    }
}
