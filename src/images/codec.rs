//! One source image in, encoded files out: sniffing, the header read before any decoding
//! (dimensions, orientation, colour profile), decoding under a pixel limit, orientation,
//! conversion to sRGB, resizing and encoding. Pure functions over bytes: the cache and the
//! site are the caller's business.

use std::io::Cursor;

use fast_image_resize as fir;
use image::{DynamicImage, ImageDecoder, ImageReader};

use super::{Encoding, Format, ImageError, Operation};

/// What a source file is, read from its first bytes (not its name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceFormat {
    Jpeg,
    Png,
}

impl SourceFormat {
    /// The format a fallback (for browsers without WebP) and the full-size copy are written in:
    /// the source's own, so photos stay JPEG and screenshots stay sharp PNG.
    pub fn fallback(self) -> Format {
        match self {
            SourceFormat::Jpeg => Format::Jpeg,
            SourceFormat::Png => Format::Png,
        }
    }
}

/// What the header says, before a pixel is decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub format: SourceFormat,
    /// Size as displayed: after the EXIF orientation is applied (a portrait photo stored
    /// landscape with "rotate 90°" is taller than wide here).
    pub width: u32,
    pub height: u32,
}

/// Recognise the file from its first bytes: JPEG and PNG are processed; HEIC, AVIF, WebP,
/// GIF and others are named in the error, with how to convert them.
pub fn sniff(bytes: &[u8]) -> Result<SourceFormat, ImageError> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(SourceFormat::Jpeg);
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Ok(SourceFormat::Png);
    }
    // ISO base media files (HEIC, AVIF): `....ftyp<brand>`.
    if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        let brand = String::from_utf8_lossy(&bytes[8..12]).into_owned();
        return Err(match brand.as_str() {
            "heic" | "heix" | "hevc" | "hevx" | "heim" | "heis" | "mif1" | "msf1" => ImageError::Heic,
            _ => ImageError::Unsupported { what: format!("an ISO media file (brand `{}`)", brand.trim()) },
        });
    }
    let what = if bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(&b"WEBP"[..]) {
        "a WebP image"
    } else if bytes.starts_with(b"GIF8") {
        "a GIF image"
    } else if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        "a TIFF image (or a camera raw file)"
    } else if bytes.starts_with(b"BM") {
        "a BMP image"
    } else if bytes.is_empty() {
        return Err(ImageError::Corrupt { why: "the file is empty".into() });
    } else {
        return Err(ImageError::Corrupt { why: "it is not a JPEG or PNG image (its first bytes are neither)".into() });
    };
    Err(ImageError::Unsupported { what: what.into() })
}

/// A decoder for `bytes` that has read the header only.
fn decoder(bytes: &[u8], format: SourceFormat) -> Result<impl ImageDecoder + '_, ImageError> {
    let mut reader = ImageReader::new(Cursor::new(bytes));
    reader.set_format(match format {
        SourceFormat::Jpeg => image::ImageFormat::Jpeg,
        SourceFormat::Png => image::ImageFormat::Png,
    });
    reader.no_limits();
    reader.into_decoder().map_err(corrupt)
}

fn corrupt(e: image::ImageError) -> ImageError {
    match e {
        image::ImageError::Limits(l) => ImageError::Corrupt { why: format!("it asks for more memory than allowed ({l})") },
        other => ImageError::Corrupt { why: other.to_string() },
    }
}

/// Read the header: format, displayed size. Refuses images of more than `max_pixels` pixels
/// here, before anything the size of the image is allocated.
pub fn header(bytes: &[u8], max_pixels: u64) -> Result<Header, ImageError> {
    let format = sniff(bytes)?;
    let mut d = decoder(bytes, format)?;
    let (w, h) = d.dimensions();
    check_pixels(w, h, max_pixels)?;
    let orientation = d.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let (width, height) = if swaps_sides(orientation) { (h, w) } else { (w, h) };
    Ok(Header { format, width, height })
}

fn check_pixels(w: u32, h: u32, max_pixels: u64) -> Result<(), ImageError> {
    if w == 0 || h == 0 {
        return Err(ImageError::Corrupt { why: format!("its header declares {w}×{h} pixels") });
    }
    if u64::from(w) * u64::from(h) > max_pixels {
        return Err(ImageError::TooManyPixels { width: w, height: h, max_pixels });
    }
    Ok(())
}

fn swaps_sides(o: image::metadata::Orientation) -> bool {
    use image::metadata::Orientation::*;
    matches!(o, Rotate90 | Rotate270 | Rotate90FlipH | Rotate270FlipH)
}

/// A decoded image, upright, in sRGB, 8 bits per channel, with or without alpha; nothing of
/// the source's metadata survives into it.
pub struct Pixels {
    pub width: u32,
    pub height: u32,
    pub alpha: bool,
    /// RGB or RGBA rows.
    pub data: Vec<u8>,
}

/// Decode `bytes` under the pixel limit, apply the EXIF orientation and convert an embedded
/// ICC profile to sRGB.
pub fn decode(bytes: &[u8], max_pixels: u64) -> Result<Pixels, ImageError> {
    let format = sniff(bytes)?;
    if format == SourceFormat::Jpeg && !has_jpeg_end(bytes) {
        return Err(ImageError::Corrupt { why: "the file is cut off (it has no JPEG end marker)".into() });
    }
    let mut d = decoder(bytes, format)?;
    let (w, h) = d.dimensions();
    check_pixels(w, h, max_pixels)?;
    let mut limits = image::Limits::no_limits();
    // The decoded image and the decoder's own buffers: 8 bytes a pixel (16-bit RGBA) and room.
    limits.max_alloc = Some(max_pixels.saturating_mul(8).saturating_add(64 << 20));
    d.set_limits(limits).map_err(corrupt)?;
    let orientation = d.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let icc = d.icc_profile().ok().flatten();
    let mut img = DynamicImage::from_decoder(d).map_err(corrupt)?;
    img.apply_orientation(orientation);
    let alpha = img.color().has_alpha();
    let (width, height) = (img.width(), img.height());
    let data = if alpha { img.into_rgba8().into_raw() } else { img.into_rgb8().into_raw() };
    let data = match icc {
        Some(icc) => to_srgb(&icc, data, alpha),
        None => data,
    };
    Ok(Pixels { width, height, alpha, data })
}

/// A JPEG that was cut off in transfer lacks its end marker (`FF D9`); some cameras append
/// data after it, so the last 64 KiB are searched rather than the last two bytes.
fn has_jpeg_end(bytes: &[u8]) -> bool {
    let tail = &bytes[bytes.len().saturating_sub(64 * 1024)..];
    tail.windows(2).any(|w| w == [0xFF, 0xD9])
}

/// Convert RGB(A) pixels described by ICC profile `icc` to sRGB. A profile that cannot be
/// read, or that is not an RGB profile (a grey or CMYK one: the decoder has already made
/// RGB of those), leaves the pixels as they are, which is what a browser shows for an
/// untagged image.
fn to_srgb(icc: &[u8], data: Vec<u8>, alpha: bool) -> Vec<u8> {
    use moxcms::{ColorProfile, DataColorSpace, Layout, TransformOptions};
    let Ok(profile) = ColorProfile::new_from_slice(icc) else { return data };
    if profile.color_space != DataColorSpace::Rgb {
        return data;
    }
    let layout = if alpha { Layout::Rgba } else { Layout::Rgb };
    let Ok(transform) = profile.create_transform_8bit(layout, &ColorProfile::new_srgb(), layout, TransformOptions::default())
    else {
        return data;
    };
    let mut out = vec![0u8; data.len()];
    match transform.transform(&data, &mut out) {
        Ok(()) => out,
        Err(_) => data,
    }
}

/// The size `op` gives an image of `width`×`height`, and the part of the source it shows
/// (`fill` crops to the target's aspect ratio, centred). Never larger than the source.
pub fn plan(op: Operation, width: u32, height: u32) -> Planned {
    let (w, h) = (f64::from(width), f64::from(height));
    let round = |x: f64| (x.round() as u32).max(1);
    let whole = Crop { left: 0.0, top: 0.0, width: w, height: h };
    let (out_w, out_h, crop) = match op {
        Operation::Scale { width: tw, height: th } => (tw.min(width), th.min(height), whole),
        Operation::FitWidth(tw) => {
            let tw = tw.min(width);
            (tw, round(h * f64::from(tw) / w), whole)
        }
        Operation::FitHeight(th) => {
            let th = th.min(height);
            (round(w * f64::from(th) / h), th, whole)
        }
        Operation::Fit { width: tw, height: th } => {
            let scale = (f64::from(tw) / w).min(f64::from(th) / h).min(1.0);
            (round(w * scale), round(h * scale), whole)
        }
        Operation::Fill { width: tw, height: th } => {
            let target = f64::from(tw) / f64::from(th);
            let crop = if w / h > target {
                let cw = h * target;
                Crop { left: (w - cw) / 2.0, top: 0.0, width: cw, height: h }
            } else {
                let ch = w / target;
                Crop { left: 0.0, top: (h - ch) / 2.0, width: w, height: ch }
            };
            let scale = (f64::from(tw) / crop.width).min(1.0);
            (round(crop.width * scale).min(tw), round(crop.height * scale).min(th), crop)
        }
    };
    Planned { width: out_w.max(1), height: out_h.max(1), crop }
}

/// What [`plan`] decided.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Planned {
    pub width: u32,
    pub height: u32,
    pub crop: Crop,
}

/// A rectangle of the source, in source pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Crop {
    pub left: f64,
    pub top: f64,
    pub width: f64,
    pub height: f64,
}

/// Resize `pixels` as `op` says and encode the result.
pub fn render(pixels: &Pixels, op: Operation, encoding: Encoding) -> Result<Vec<u8>, ImageError> {
    let planned = plan(op, pixels.width, pixels.height);
    let resized;
    let data: &[u8] = if planned.width == pixels.width && planned.height == pixels.height && planned.crop.width == f64::from(pixels.width)
        && planned.crop.height == f64::from(pixels.height)
    {
        &pixels.data
    } else {
        resized = resize(pixels, &planned)?;
        &resized
    };
    encode(data, planned.width, planned.height, pixels.alpha, encoding)
}

fn resize(pixels: &Pixels, planned: &Planned) -> Result<Vec<u8>, ImageError> {
    let pixel_type = if pixels.alpha { fir::PixelType::U8x4 } else { fir::PixelType::U8x3 };
    let internal = |e: &dyn std::fmt::Display| ImageError::Internal { why: e.to_string() };
    let src = fir::images::ImageRef::new(pixels.width, pixels.height, &pixels.data, pixel_type).map_err(|e| internal(&e))?;
    let mut dst = fir::images::Image::new(planned.width, planned.height, pixel_type);
    let c = planned.crop;
    let options = fir::ResizeOptions::new()
        .resize_alg(fir::ResizeAlg::Convolution(fir::FilterType::Lanczos3))
        .crop(c.left, c.top, c.width, c.height);
    fir::Resizer::new().resize(&src, &mut dst, &options).map_err(|e| internal(&e))?;
    Ok(dst.into_vec())
}

/// Encode RGB(A) rows. None of the encoders is given any metadata to write: the output
/// carries no EXIF, XMP or ICC chunk (untagged images are sRGB to browsers).
pub fn encode(data: &[u8], width: u32, height: u32, alpha: bool, encoding: Encoding) -> Result<Vec<u8>, ImageError> {
    let failed = |e: &dyn std::fmt::Display| ImageError::Internal { why: format!("encoding failed: {e}") };
    match encoding.format {
        Format::Webp => {
            let encoder = if alpha {
                webp::Encoder::from_rgba(data, width, height)
            } else {
                webp::Encoder::from_rgb(data, width, height)
            };
            let mut config = webp::WebPConfig::new().map_err(|()| failed(&"libwebp configuration"))?;
            config.quality = f32::from(encoding.quality);
            // Method 4 is libwebp's default balance of speed and size; one thread per image
            // (the images themselves run in parallel), which keeps the output deterministic.
            config.method = 4;
            config.thread_level = 0;
            let memory = encoder.encode_advanced(&config).map_err(|e| failed(&format!("{e:?}")))?;
            Ok(memory.to_vec())
        }
        Format::Jpeg => {
            // JPEG has no alpha: flatten onto white (what a page behind a photo usually is).
            let rgb;
            let data = if alpha {
                rgb = data
                    .chunks_exact(4)
                    .flat_map(|p| {
                        let a = u32::from(p[3]);
                        [0, 1, 2].map(|i| ((u32::from(p[i]) * a + 255 * (255 - a) + 127) / 255) as u8)
                    })
                    .collect::<Vec<u8>>();
                &rgb
            } else {
                data
            };
            let mut out = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, encoding.quality)
                .encode(data, width, height, image::ExtendedColorType::Rgb8)
                .map_err(|e| failed(&e))?;
            Ok(out)
        }
        Format::Png => {
            use image::ImageEncoder;
            let mut out = Vec::new();
            let color = if alpha { image::ExtendedColorType::Rgba8 } else { image::ExtendedColorType::Rgb8 };
            image::codecs::png::PngEncoder::new_with_quality(
                &mut out,
                image::codecs::png::CompressionType::Default,
                image::codecs::png::FilterType::Adaptive,
            )
            .write_image(data, width, height, color)
            .map_err(|e| failed(&e))?;
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_never_upscale_and_keep_the_aspect_ratio() {
        assert_eq!((plan(Operation::FitWidth(800), 4000, 3000).width, plan(Operation::FitWidth(800), 4000, 3000).height), (800, 600));
        let p = plan(Operation::FitWidth(800), 300, 200);
        assert_eq!((p.width, p.height), (300, 200));
        let p = plan(Operation::Fit { width: 100, height: 100 }, 400, 200);
        assert_eq!((p.width, p.height), (100, 50));
        let p = plan(Operation::FitHeight(100), 400, 200);
        assert_eq!((p.width, p.height), (200, 100));
        let p = plan(Operation::Fill { width: 100, height: 100 }, 400, 200);
        assert_eq!((p.width, p.height), (100, 100));
        assert_eq!((p.crop.left, p.crop.width), (100.0, 200.0));
        let p = plan(Operation::Scale { width: 50, height: 500 }, 400, 200);
        assert_eq!((p.width, p.height), (50, 200));
    }

    #[test]
    fn heic_and_other_formats_are_named() {
        let mut heic = vec![0, 0, 0, 24];
        heic.extend_from_slice(b"ftypheic\0\0\0\0");
        assert!(matches!(sniff(&heic), Err(ImageError::Heic)));
        assert!(matches!(sniff(b"GIF89a...."), Err(ImageError::Unsupported { .. })));
        assert!(matches!(sniff(b""), Err(ImageError::Corrupt { .. })));
        assert!(matches!(sniff(b"hello world"), Err(ImageError::Corrupt { .. })));
    }
}
