//! `<picture>` markup for a processed image: WebP first, the JPEG/PNG fallback in `<img>`
//! with its own `srcset`, intrinsic `width`/`height` (no layout shift), lazy loading except
//! for the first image a visitor sees, and a plain link to the full-size copy (no script).

use serde::Serialize;

use super::markdown::push_escaped;
use crate::images::{Responsive, Variant};
use crate::model::Site;

/// How an image is shown.
#[derive(Debug, Clone, Copy)]
pub struct Look<'a> {
    /// The `sizes` attribute: how wide the layout shows the image.
    pub sizes: &'a str,
    /// The first image above the fold: fetched at once, with high priority.
    pub eager: bool,
    /// Wrap it in a link to the full-size copy.
    pub link_full: bool,
}

/// A `srcset`: each candidate's URL with the two characters that would end it (a space, a
/// comma) percent-encoded, so a photo named `展厅 1.jpg` keeps its responsive set.
fn srcset(prefix: &str, variants: &[Variant]) -> String {
    let mut out = String::new();
    push_srcset(&mut out, prefix, variants, |out, piece| out.push_str(piece));
    out
}

/// [`srcset`] appended to `out`, each piece of text through `push` (plain, or escaped for an
/// attribute). Markup for every photo of a page is written this way, without a string of
/// its own per piece.
fn push_srcset(out: &mut String, prefix: &str, variants: &[Variant], push: fn(&mut String, &str)) {
    let push_url = |out: &mut String, url: &str| {
        let mut rest = url;
        while let Some(at) = rest.find([' ', ',']) {
            push(out, &rest[..at]);
            out.push_str(if rest.as_bytes()[at] == b' ' { "%20" } else { "%2C" });
            rest = &rest[at + 1..];
        }
        push(out, rest);
    };
    for (i, v) in variants.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        push_url(out, prefix);
        out.push('/');
        push_url(out, &v.path);
        out.push(' ');
        out.push_str(itoa::Buffer::new().format(v.width));
        out.push('w');
    }
}

/// The `<picture>` for `r`, with `alt` (already plain text; `None` marks it decorative).
pub fn picture(site: &Site, r: &Responsive, alt: Option<&str>, title: &str, look: Look<'_>) -> String {
    picture_at(&site.config.path_prefix(), r, alt, title, look)
}

/// [`picture`] for a site whose URLs start with `prefix` (the base URL's path, or nothing):
/// what the template functions use, which hold no site.
pub fn picture_at(prefix: &str, r: &Responsive, alt: Option<&str>, title: &str, look: Look<'_>) -> String {
    let mut html = String::with_capacity(1024);
    push_picture(&mut html, prefix, r, alt, title, look);
    html
}

/// [`picture_at`] appended to `out`.
fn push_picture(out: &mut String, prefix: &str, r: &Responsive, alt: Option<&str>, title: &str, look: Look<'_>) {
    let largest = r.fallback.last().expect("a set has a variant");
    let mut number = itoa::Buffer::new();
    // A link around a decorative image would have no name for screen readers: none then.
    let link = look.link_full && alt.is_some();
    if link {
        out.push_str(r#"<a class="photo-full" href=""#);
        push_escaped(out, prefix);
        out.push('/');
        push_escaped(out, &r.full.path);
        out.push_str(r#"" title="查看原图（"#);
        out.push_str(number.format(r.full.width));
        out.push('×');
        out.push_str(number.format(r.full.height));
        out.push_str(r#"）">"#);
    }
    out.push_str(r#"<picture><source type="image/webp" srcset=""#);
    push_srcset(out, prefix, &r.webp, push_escaped);
    out.push_str(r#"" sizes=""#);
    push_escaped(out, look.sizes);
    out.push_str(r#""><img src=""#);
    push_escaped(out, prefix);
    out.push('/');
    push_escaped(out, &largest.path);
    out.push_str(r#"" srcset=""#);
    push_srcset(out, prefix, &r.fallback, push_escaped);
    out.push_str(r#"" sizes=""#);
    push_escaped(out, look.sizes);
    out.push_str(r#"" width=""#);
    out.push_str(number.format(r.width));
    out.push_str(r#"" height=""#);
    out.push_str(number.format(r.height));
    out.push_str(r#"" alt=""#);
    push_escaped(out, alt.unwrap_or(""));
    out.push('"');
    if !title.is_empty() {
        out.push_str(r#" title=""#);
        push_escaped(out, title);
        out.push('"');
    }
    out.push_str(if look.eager { r#" fetchpriority="high""# } else { r#" loading="lazy" decoding="async""# });
    out.push_str("></picture>");
    if link {
        out.push_str("</a>");
    }
}

/// A figure: the picture and, when there is one, its caption.
pub fn figure(site: &Site, r: &Responsive, alt: Option<&str>, caption: &str, look: Look<'_>) -> String {
    let mut html = String::with_capacity(1200);
    html.push_str("<figure class=\"photo\">");
    push_picture(&mut html, &site.config.path_prefix(), r, alt, "", look);
    if !caption.is_empty() {
        html.push_str("<figcaption>");
        push_escaped(&mut html, caption);
        html.push_str("</figcaption>");
    }
    html.push_str("</figure>\n");
    html
}

/// What templates get for a typed page's cover (`page.cover`): ready-made markup for the
/// page header and for cards, and the pieces for anything else.
#[derive(Debug, Clone, Serialize)]
pub struct CoverValue {
    pub alt: String,
    /// `<picture>` for the page header (eager: it is the first thing seen).
    pub header: String,
    /// `<picture>` for a card (lazy, card-sized).
    pub card: String,
    /// Absolute URL of a JPEG/PNG about 1200 px wide, for `og:image` and `twitter:image`.
    pub og_image: String,
    pub og_width: u32,
    pub og_height: u32,
    pub width: u32,
    pub height: u32,
    pub src: String,
    pub srcset: String,
    pub webp_srcset: String,
}

/// `sizes` of a cover in the page header (the content column) and in a card.
pub const HEADER_SIZES: &str = "(min-width: 72rem) 68rem, calc(100vw - 2rem)";
pub const CARD_SIZES: &str = "(min-width: 48rem) 22rem, calc(100vw - 2rem)";

pub fn cover_value(site: &Site, r: &Responsive, alt: &str) -> CoverValue {
    let og = r.fallback_up_to(1200);
    let largest = r.fallback.last().expect("a set has a variant");
    CoverValue {
        alt: alt.to_string(),
        header: picture(site, r, Some(alt), "", Look { sizes: HEADER_SIZES, eager: true, link_full: false }),
        card: picture(site, r, Some(alt), "", Look { sizes: CARD_SIZES, eager: false, link_full: false }),
        og_image: site.permalink(&format!("/{}", og.path)),
        og_width: og.width,
        og_height: og.height,
        width: r.width,
        height: r.height,
        src: site.url(&format!("/{}", largest.path)),
        srcset: srcset(&site.config.path_prefix(), &r.fallback),
        webp_srcset: srcset(&site.config.path_prefix(), &r.webp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_space_or_comma_in_a_file_name_does_not_split_a_srcset_candidate() {
        let v = |path: &str, width| Variant { path: path.into(), width, height: 10, bytes: 1 };
        let set = srcset("", &[v("venues/x/展厅 1,2-400w.ab.webp", 400), v("venues/x/展厅 1,2-800w.cd.webp", 800)]);
        assert_eq!(set, "/venues/x/展厅%201%2C2-400w.ab.webp 400w, /venues/x/展厅%201%2C2-800w.cd.webp 800w");
    }
}
