//! `--precompress`: `.gz` and `.br` siblings of text files, for servers that send a
//! precompressed file as is (nginx `gzip_static` / `brotli_static`, most CDNs) instead of
//! compressing on every request.
//!
//! gzip at level 9 ([`GZIP_LEVEL`]); brotli at its highest level only for the site's scripts
//! and stylesheets, and at a fast level for everything else (see [`brotli_quality`]). No
//! timestamp or file name in the gzip header, so the same input gives the same bytes and a
//! deploy re-uploads a sibling only when its file changed.

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

/// gzip level of the `.gz` siblings. libdeflate at 9 gives the same size as zlib at 9 in
/// two thirds of the time (on 528 pages of a 10,000-page site, 6.6 MB: 2,538,364 bytes in
/// 0.09 s against zlib-rs's 2,538,583 in 0.16 s); level 12 is 2% smaller and 13× slower.
pub const GZIP_LEVEL: i32 = 9;

/// gzip at [`GZIP_LEVEL`] with a zero mtime and no file name (deterministic).
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    crate::gzip::gzip(bytes, GZIP_LEVEL)
}

/// Brotli quality for scripts and stylesheets: the highest. They are a handful of files that
/// every visitor's first page loads, so the last few percent are worth their time.
pub const BROTLI_BEST: i32 = 11;

/// Brotli quality for everything else (pages, feeds, data). Measured on a 10,000-page site
/// (one thread; 528 of its pages, 6.6 MB, and its 60 pages of 100 kB and more, 19 MB):
/// quality 11 compresses about 0.5 MB/s, and 0.2 MB/s on the large pages, which made
/// `--precompress` take four minutes there. Quality 6 does 17–32 MB/s for files 10–13%
/// larger than quality 11's and 13–21% smaller than gzip -9's; quality 7 is 2% smaller than
/// 6 and takes 1.1–1.7× as long (it clears a 8 MB hash table for every file, quality 6 a
/// 2 MB one); qualities 9 and 10 allocate 32 MB per file and are as slow as 11 on small
/// files.
pub const BROTLI_FAST: i32 = 6;

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
