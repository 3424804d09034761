//! `--precompress`: `.gz` and `.br` siblings of text files, for servers that send a
//! precompressed file as is (nginx `gzip_static` / `brotli_static`, most CDNs) instead of
//! compressing on every request.
//!
//! Both encodings at their highest level (it is paid once per build, not per request), with
//! no timestamp or file name in the gzip header, so the same input gives the same bytes and a
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

/// Brotli at quality 11 with a window fitted to the input.
pub fn brotli(bytes: &[u8]) -> Vec<u8> {
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        lgwin: window_bits(bytes.len()),
        size_hint: bytes.len(),
        ..Default::default()
    };
    let mut out = Vec::with_capacity(bytes.len() / 3);
    brotli::BrotliCompress(&mut &bytes[..], &mut out, &params).expect("compressing in memory cannot fail");
    out
}

/// The smallest window (10..=24 bits) that holds the whole input: less memory to decode.
fn window_bits(len: usize) -> i32 {
    let mut bits = 10;
    while bits < 24 && (1usize << bits) - 16 < len {
        bits += 1;
    }
    bits
}

/// The compressed siblings of one file, `(suffix, bytes)`, each only when it is smaller
/// than the original.
pub fn siblings(bytes: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let mut out = Vec::with_capacity(2);
    let gz = gzip(bytes);
    if gz.len() < bytes.len() {
        out.push(("gz", gz));
    }
    let br = brotli(bytes);
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

        let br = brotli(text.as_bytes());
        assert_eq!(br, brotli(text.as_bytes()));
        let mut back = Vec::new();
        brotli::BrotliDecompress(&mut &br[..], &mut back).unwrap();
        assert_eq!(back, text.as_bytes());
        assert!(br.len() < gz.len(), "brotli {} vs gzip {}", br.len(), gz.len());
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
        assert!(siblings(&noise).is_empty());
        assert_eq!(siblings("abc".repeat(200).as_bytes()).len(), 2);
    }
}
