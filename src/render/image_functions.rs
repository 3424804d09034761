//! The image functions templates call: Zola's `resize_image` and `get_image_metadata`, and
//! kepu's `image_set`, which gives a whole responsive set with its `<picture>` ready, so a
//! theme needs no loop over widths.
//!
//! Each call is answered at once from the image's header by [`TemplateImages`] (the images
//! stage's handle), which queues the work; the files are made after render, through the same
//! pipeline and cache as the pictures in pages. Argument mistakes and unusable images are
//! template errors here, naming the function, the image and what to do.

use std::collections::BTreeMap;
use std::sync::Arc;

use tera::{Kwargs, State, Tera, TeraResult, Value};

use super::picture::{self, Look};
use crate::images::templated::Wanted;
use crate::images::{ImageError, Operation, TemplateImages};
use crate::model::Site;

/// The names, registered as placeholders before templates are parsed.
pub const NAMES: [&str; 3] = ["resize_image", "get_image_metadata", "image_set"];

/// Register the functions on `tera` for `site`; `images` is `None` only in renders without an
/// images stage (then each call is an error saying so).
pub fn install(tera: &mut Tera, site: &Site, images: Option<Arc<TemplateImages>>) {
    let prefix = site.config.path_prefix();
    let sizes = site.config.images.sizes.clone();
    let i = images.clone();
    let p = prefix.clone();
    tera.register_function("resize_image", move |args: Kwargs, state: &State| resize_image(i.as_deref(), &p, &args, state));
    let i = images.clone();
    tera.register_function("get_image_metadata", move |args: Kwargs, _: &State| get_image_metadata(i.as_deref(), &args));
    tera.register_function("image_set", ImageSetFunction { images, prefix, sizes });
}

fn no_pipeline(function: &str) -> tera::Error {
    tera::Error::message(format!("{function}: internal error: this render has no image pipeline"))
}

/// `function: image `path`: what is wrong. hint`.
fn image_error(function: &str, path: &str, e: &ImageError) -> tera::Error {
    tera::Error::message(format!("{function}: image `{path}`: {e} (to fix: {})", e.hint()))
}

fn path_arg(function: &str, args: &Kwargs) -> TeraResult<String> {
    match args.get::<&Value>("path")? {
        Some(v) if v.is_string() => Ok(v.as_str().unwrap_or_default().to_string()),
        _ => Err(tera::Error::message(format!("{function}: missing string argument `path` (the image, e.g. path=page.colocated_path ~ \"hall.jpg\" or path=\"/images/hall.jpg\")"))),
    }
}

fn string_opt(function: &str, args: &Kwargs, name: &str) -> TeraResult<Option<String>> {
    match args.get::<&Value>(name)? {
        None => Ok(None),
        Some(v) if v.is_none() => Ok(None),
        Some(v) if v.is_string() => Ok(Some(v.as_str().unwrap_or_default().to_string())),
        Some(_) => Err(tera::Error::message(format!("{function}: `{name}` must be a string"))),
    }
}

/// An optional whole number argument.
fn int_opt(function: &str, args: &Kwargs, name: &str) -> TeraResult<Option<i64>> {
    match args.get::<&Value>(name)? {
        None => Ok(None),
        Some(v) if v.is_none() => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| tera::Error::message(format!("{function}: `{name}` must be a whole number, not {v}"))),
    }
}

/// An optional size in pixels (1–10000).
fn pixels_opt(function: &str, args: &Kwargs, name: &str) -> TeraResult<Option<u32>> {
    match int_opt(function, args, name)? {
        None => Ok(None),
        Some(n) if (1..=10_000).contains(&n) => Ok(Some(n as u32)),
        Some(n) => Err(tera::Error::message(format!("{function}: {name} {n} is not between 1 and 10000 pixels"))),
    }
}

/// The page being rendered, for errors found after render.
fn asked_by(state: &State) -> String {
    let current = state.get::<String>("current_path").ok().flatten().filter(|p| !p.is_empty());
    current
        .or_else(|| {
            let page = state.get::<Value>("page").ok().flatten()?;
            page.as_map()?.get(&tera::value::Key::from("path")).and_then(Value::as_str).map(str::to_string)
        })
        .unwrap_or_else(|| "a page".into())
}

fn map(entries: Vec<(&'static str, Value)>) -> Value {
    Value::from(entries.into_iter().collect::<BTreeMap<&'static str, Value>>())
}

/// `resize_image(path, width, height, op="fill", format="auto", quality)`, as in Zola:
/// `url`, `static_path`, `width`, `height`, `orig_width`, `orig_height`.
fn resize_image(images: Option<&TemplateImages>, prefix: &str, args: &Kwargs, state: &State) -> TeraResult<Value> {
    const F: &str = "resize_image";
    let images = images.ok_or_else(|| no_pipeline(F))?;
    let path = path_arg(F, args)?;
    let width = pixels_opt(F, args, "width")?;
    let height = pixels_opt(F, args, "height")?;
    let op = string_opt(F, args, "op")?.unwrap_or_else(|| "fill".into());
    let op = Operation::parse(&op, width, height).map_err(|e| tera::Error::message(format!("{F}: {e}")))?;
    let format = string_opt(F, args, "format")?;
    let quality = int_opt(F, args, "quality")?;
    let wanted = Wanted::parse(format.as_deref(), quality).map_err(|e| tera::Error::message(format!("{F}: {e}")))?;
    let r = images.resize(&path, op, wanted, &asked_by(state)).map_err(|e| image_error(F, &path, &e))?;
    Ok(map(vec![
        ("url", Value::from(format!("{prefix}/{}", r.path))),
        ("static_path", Value::from(r.path)),
        ("width", Value::from(r.width)),
        ("height", Value::from(r.height)),
        ("orig_width", Value::from(r.orig_width)),
        ("orig_height", Value::from(r.orig_height)),
    ]))
}

/// `get_image_metadata(path, allow_missing=false)`, as in Zola: `width`, `height` (as
/// displayed, the EXIF orientation applied), `format`, `mime`.
fn get_image_metadata(images: Option<&TemplateImages>, args: &Kwargs) -> TeraResult<Value> {
    const F: &str = "get_image_metadata";
    let images = images.ok_or_else(|| no_pipeline(F))?;
    let path = path_arg(F, args)?;
    let allow_missing = args.get::<bool>("allow_missing")?.unwrap_or(false);
    match images.metadata(&path) {
        Ok(m) => Ok(map(vec![
            ("width", Value::from(m.width)),
            ("height", Value::from(m.height)),
            ("format", Value::from(m.format)),
            ("mime", Value::from(m.mime)),
        ])),
        Err(ImageError::Missing) if allow_missing => Ok(Value::none()),
        Err(e) => Err(image_error(F, &path, &e)),
    }
}

/// `image_set(path, alt, sizes, widths, eager=false, link=false)`: a responsive set.
struct ImageSetFunction {
    images: Option<Arc<TemplateImages>>,
    prefix: String,
    /// The site's `[images] sizes`, the default `sizes`.
    sizes: String,
}

impl tera::Function<TeraResult<Value>> for ImageSetFunction {
    fn call(&self, args: Kwargs, state: &State) -> TeraResult<Value> {
        const F: &str = "image_set";
        let images = self.images.as_deref().ok_or_else(|| no_pipeline(F))?;
        let path = path_arg(F, &args)?;
        let alt = match args.get::<&Value>("alt")? {
            Some(v) if v.is_string() => v.as_str().unwrap_or_default().to_string(),
            _ => {
                return Err(tera::Error::message(format!(
                    "{F}: image `{path}` needs `alt`, a string saying what the picture shows (a purely decorative image: alt='\"\"')"
                )))
            }
        };
        let decorative = crate::model::text::is_decorative_alt(&alt);
        if !decorative {
            if let Some((message, _)) = crate::model::text::alt_text_problem(&alt, &path) {
                return Err(tera::Error::message(format!(
                    "{F}: {message}: describe what the picture shows for visitors who cannot see it (a purely decorative image: alt='\"\"')"
                )));
            }
        }
        let sizes = string_opt(F, &args, "sizes")?.unwrap_or_else(|| self.sizes.clone());
        let widths = match args.get::<&Value>("widths")? {
            None => Vec::new(),
            Some(v) if v.is_none() => Vec::new(),
            Some(v) => {
                let items = v.as_array().ok_or_else(|| tera::Error::message(format!("{F}: `widths` must be a list of pixel widths, e.g. [400, 800]")))?;
                if items.len() > 16 {
                    return Err(tera::Error::message(format!("{F}: {} widths in `widths`; 16 at most (each is a file per format)", items.len())));
                }
                let mut widths = Vec::new();
                for item in items {
                    match item.as_i64() {
                        Some(n) if (1..=10_000).contains(&n) => widths.push(n as u32),
                        _ => return Err(tera::Error::message(format!("{F}: width {item} in `widths` is not between 1 and 10000 pixels"))),
                    }
                }
                widths
            }
        };
        let eager = args.get::<bool>("eager")?.unwrap_or(false);
        let link = args.get::<bool>("link")?.unwrap_or(false);
        let r = images.responsive(&path, &widths, &asked_by(state)).map_err(|e| image_error(F, &path, &e))?;
        let alt_text = (!decorative).then_some(alt.trim());
        let html = picture::picture_at(&self.prefix, &r, alt_text, "", Look { sizes: &sizes, eager, link_full: link });
        let srcset = |vs: &[crate::images::Variant]| {
            vs.iter().map(|v| format!("{}/{} {}w", self.prefix, v.path, v.width)).collect::<Vec<_>>().join(", ")
        };
        let largest = r.fallback.last().expect("a set has a variant");
        Ok(map(vec![
            ("html", Value::safe_string(&html)),
            ("src", Value::from(format!("{}/{}", self.prefix, largest.path))),
            ("srcset", Value::from(srcset(&r.fallback))),
            ("webp_srcset", Value::from(srcset(&r.webp))),
            ("type", Value::from(r.fallback_type)),
            ("sizes", Value::from(sizes)),
            ("width", Value::from(r.width)),
            ("height", Value::from(r.height)),
            ("full", Value::from(format!("{}/{}", self.prefix, r.full.path))),
            ("alt", Value::from(alt_text.unwrap_or(""))),
        ]))
    }
}
