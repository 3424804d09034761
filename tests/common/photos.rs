//! Photos made in the tests (small, exact pixels, EXIF as a phone writes it) and what the image
//! tests read back: shared by tests/images.rs, tests/image_functions.rs and tests/image_cache.rs.

use std::io::Cursor;
use std::path::Path;

use super::kepu;

/// A JPEG of `w`×`h` whose pixel (x, y) is `f(x, y)`.
pub fn jpeg(w: u32, h: u32, f: impl Fn(u32, u32) -> [u8; 3]) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb(f(x, y)));
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 92)
        .encode(img.as_raw(), w, h, image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

/// A PNG of `w`×`h`.
pub fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// `jpeg` with an EXIF block (APP1) right after SOI: orientation, a GPS position, a camera
/// serial number and an owner name, as a phone writes them.
pub fn with_exif(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    use exif::{Field, In, Rational, Tag, Value};
    let fields = [
        Field { tag: Tag::Orientation, ifd_num: In::PRIMARY, value: Value::Short(vec![orientation]) },
        Field { tag: Tag::Make, ifd_num: In::PRIMARY, value: Value::Ascii(vec![b"PhoneMaker".to_vec()]) },
        Field { tag: Tag::BodySerialNumber, ifd_num: In::PRIMARY, value: Value::Ascii(vec![b"SN-123456789".to_vec()]) },
        Field { tag: Tag::CameraOwnerName, ifd_num: In::PRIMARY, value: Value::Ascii(vec![b"Zhang San".to_vec()]) },
        Field { tag: Tag::GPSLatitudeRef, ifd_num: In::PRIMARY, value: Value::Ascii(vec![b"N".to_vec()]) },
        Field {
            tag: Tag::GPSLatitude,
            ifd_num: In::PRIMARY,
            value: Value::Rational(vec![Rational { num: 34, denom: 1 }, Rational { num: 45, denom: 1 }, Rational { num: 1234, denom: 100 }]),
        },
        Field { tag: Tag::GPSLongitudeRef, ifd_num: In::PRIMARY, value: Value::Ascii(vec![b"E".to_vec()]) },
        Field {
            tag: Tag::GPSLongitude,
            ifd_num: In::PRIMARY,
            value: Value::Rational(vec![Rational { num: 113, denom: 1 }, Rational { num: 37, denom: 1 }, Rational { num: 5, denom: 1 }]),
        },
    ];
    let mut writer = exif::experimental::Writer::new();
    for f in &fields {
        writer.push_field(f);
    }
    let mut tiff = Cursor::new(Vec::new());
    writer.write(&mut tiff, false).unwrap();
    let tiff = tiff.into_inner();
    let mut app1 = vec![0xFF, 0xE1];
    app1.extend_from_slice(&((2 + 6 + tiff.len()) as u16).to_be_bytes());
    app1.extend_from_slice(b"Exif\0\0");
    app1.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    // The EXIF really is there and readable before the build.
    let read = exif::Reader::new().read_from_container(&mut Cursor::new(&out)).expect("test EXIF");
    assert!(read.get_field(Tag::GPSLatitude, In::PRIMARY).is_some());
    out
}

/// Width and height of a WebP file, from its header (the test build has no WebP decoder).
pub fn webp_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..4], b"RIFF");
    assert_eq!(&bytes[8..12], b"WEBP");
    match &bytes[12..16] {
        b"VP8 " => {
            let w = u16::from_le_bytes([bytes[26], bytes[27]]) & 0x3FFF;
            let h = u16::from_le_bytes([bytes[28], bytes[29]]) & 0x3FFF;
            (u32::from(w), u32::from(h))
        }
        b"VP8X" => {
            let n = |i: usize| u32::from(bytes[i]) | u32::from(bytes[i + 1]) << 8 | u32::from(bytes[i + 2]) << 16;
            (n(24) + 1, n(27) + 1)
        }
        other => panic!("unexpected WebP chunk {other:?}"),
    }
}

pub fn size_of(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    if bytes.starts_with(b"RIFF") { webp_size(&bytes) } else { image::image_dimensions(path).unwrap() }
}

/// Stored landscape, left half red, right half blue, with "rotate 90° clockwise" (6): shown
/// upright it is portrait, red on top.
pub fn rotated_photo() -> Vec<u8> {
    with_exif(&jpeg(400, 200, |x, _| if x < 200 { [230, 20, 20] } else { [20, 20, 230] }), 6)
}

/// A PNG whose header declares 60000×60000 pixels (3.6 gigapixels) in a few dozen bytes.
pub fn png_bomb() -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let chunk = |out: &mut Vec<u8>, kind: &[u8], data: &[u8]| {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32(&body).to_be_bytes());
    };
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&60000u32.to_be_bytes());
    ihdr.extend_from_slice(&60000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    chunk(&mut out, b"IEND", &[]);
    out
}

pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { 0xEDB8_8320 ^ (crc >> 1) } else { crc >> 1 };
        }
    }
    !crc
}

pub fn build_fails(site: &Path) -> String {
    let r = kepu(site, &["build", "--root", site.to_str().unwrap()]);
    assert_eq!(r.code, 1, "expected a failed build:\n{}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    r.stderr
}
