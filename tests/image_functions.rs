//! The image functions of templates (`resize_image`, `get_image_metadata`, `image_set`),
//! end to end through the real binary on a small site made here: the files exist with the
//! sizes the functions returned, upright and without metadata, the same bytes build after
//! build through the cache, and every bad call is a clear error that leaves `public/` as it was.

mod common;

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::Path;

use common::photos::{build_fails, jpeg, png, png_bomb, rotated_photo, size_of};
use common::{build_ok, tree, write};

/// A site whose home page template is `template`, with a bundle `venues/hall/` holding
/// `hall.jpg` (the rotated phone photo) and `static/images/poster.png` (300×150).
fn site_with(template: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    write(&site, "config.toml", "title = \"图\"\nbase_url = \"https://example.org/\"\ntheme = \"default\"\n");
    write(&site, "content/_index.md", "+++\ntitle = \"图\"\n+++\n");
    write(&site, "content/venues/_index.md", "+++\ntitle = \"馆\"\npage_type = \"venue\"\n+++\n");
    write(&site, "content/venues/hall/index.md", "+++\ntitle = \"示例馆\"\nexample = true\n\n[venue]\nkind = \"流动科技馆\"\n+++\n\n正文。\n");
    std::fs::write(site.join("content/venues/hall/hall.jpg"), rotated_photo()).unwrap();
    std::fs::create_dir_all(site.join("static/images")).unwrap();
    std::fs::write(site.join("static/images/poster.png"), png(300, 150)).unwrap();
    write(&site, "templates/index.html", template);
    (dir, site)
}

fn home(site: &Path) -> String {
    std::fs::read_to_string(site.join("public/index.html")).unwrap()
}

/// `name|url|static_path|width|height|orig_width|orig_height` lines of the home page.
fn results(html: &str) -> BTreeMap<String, Vec<String>> {
    html.lines()
        .filter_map(|l| l.trim().strip_prefix("R|"))
        .map(|l| {
            let mut parts: Vec<String> = l.split('|').map(str::to_string).collect();
            (parts.remove(0), parts)
        })
        .collect()
}

const OPS: &str = r#"<!doctype html><html lang="zh"><head><title>图</title></head><body>
{% set calls = [
  ["fill", resize_image(path="venues/hall/hall.jpg", width=100, height=100, op="fill")],
  ["fit_width", resize_image(path="venues/hall/hall.jpg", width=100, op="fit_width")],
  ["fit_height", resize_image(path="@/venues/hall/hall.jpg", height=100, op="fit_height")],
  ["fit", resize_image(path="content/venues/hall/hall.jpg", width=100, height=100, op="fit")],
  ["scale", resize_image(path="venues/hall/hall.jpg", width=50, height=60, op="scale")],
  ["webp", resize_image(path="venues/hall/hall.jpg", width=80, op="fit_width", format="webp", quality=60)],
  ["larger", resize_image(path="venues/hall/hall.jpg", width=5000, op="fit_width")],
  ["static", resize_image(path="/images/poster.png", width=100, op="fit_width")],
  ["static2", resize_image(path="images/poster.png", width=120, height=40, op="fill", format="jpg")]
] %}
{% for c in calls %}
R|{{ c[0] }}|{{ c[1].url }}|{{ c[1].static_path }}|{{ c[1].width }}|{{ c[1].height }}|{{ c[1].orig_width }}|{{ c[1].orig_height }}
{% endfor %}
{% set m = get_image_metadata(path="venues/hall/hall.jpg") %}
R|meta|{{ m.width }}|{{ m.height }}|{{ m.format }}|{{ m.mime }}
{% set p = get_image_metadata(path="/images/poster.png") %}
R|meta_png|{{ p.width }}|{{ p.height }}|{{ p.format }}|{{ p.mime }}
R|missing_ok|{{ get_image_metadata(path="nope.jpg", allow_missing=true) is none }}
{% set s = image_set(path="venues/hall/hall.jpg", alt="一面红蓝两色的墙", widths=[100, 150, 400], sizes="50vw") %}
R|set|{{ s.src }}|{{ s.srcset }}|{{ s.webp_srcset }}|{{ s.width }}|{{ s.height }}|{{ s.sizes }}
{{ s.html }}
</body></html>
"#;

#[test]
fn resize_image_gives_files_of_the_sizes_it_returns_upright_and_without_metadata() {
    let (_d, site) = site_with(OPS);
    build_ok(&site, &[]);
    let html = home(&site);
    let r = results(&html);
    let public = site.join("public");
    // (name, width, height): the photo is 200×400 as shown (its EXIF rotation applied).
    let expected = [
        ("fill", 100, 100),
        ("fit_width", 100, 200),
        ("fit_height", 50, 100),
        ("fit", 50, 100),
        ("scale", 50, 60),
        ("webp", 80, 160),
        ("larger", 200, 400),
        ("static", 100, 50),
        ("static2", 120, 40),
    ];
    for (name, w, h) in expected {
        let v = &r[name];
        let (url, static_path) = (&v[0], &v[1]);
        assert_eq!((v[2].parse::<u32>().unwrap(), v[3].parse::<u32>().unwrap()), (w, h), "{name}: {v:?}");
        assert_eq!(url, &format!("/{static_path}"), "{name}");
        assert!(static_path.starts_with("processed_images/"), "{name}: {static_path}");
        assert_eq!(size_of(&public.join(static_path)), (w, h), "{name}: the file has the size returned");
        let orig = if name.starts_with("static") { ("300", "150") } else { ("200", "400") };
        assert_eq!((v[4].as_str(), v[5].as_str()), orig, "{name}");
    }
    assert!(r["webp"][1].ends_with(".webp") && r["static"][1].ends_with(".png") && r["static2"][1].ends_with(".jpg"), "{r:?}");
    assert_eq!(r["meta"], ["200", "400", "jpg", "image/jpeg"]);
    assert_eq!(r["meta_png"], ["300", "150", "png", "image/png"]);
    assert_eq!(r["missing_ok"], ["true"]);

    // Upright: red on top, blue at the bottom.
    let upright = image::open(public.join(&r["fit_width"][1])).unwrap().to_rgb8();
    let (top, bottom) = (upright.get_pixel(50, 5), upright.get_pixel(50, 195));
    assert!(top[0] > 180 && top[2] < 80 && bottom[2] > 180 && bottom[0] < 80, "{top:?} {bottom:?}");

    // No metadata in any file written, and no original with it either.
    for entry in std::fs::read_dir(public.join("processed_images")).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        assert!(exif::Reader::new().read_from_container(&mut Cursor::new(&bytes)).is_err(), "{} has EXIF", path.display());
        assert!(!bytes.windows(12).any(|w| w == b"SN-123456789"), "{}", path.display());
    }
    let original = std::fs::read(public.join("venues/hall/hall.jpg")).unwrap();
    assert!(exif::Reader::new().read_from_container(&mut Cursor::new(&original)).is_err());

    // The responsive set: widths below the image's own and its own, never wider.
    let set = &r["set"];
    let widths: Vec<&str> = set[1].split(", ").map(|c| c.rsplit(' ').next().unwrap()).collect();
    assert_eq!(widths, ["100w", "150w", "200w"], "{set:?}");
    assert_eq!(set[2].split(", ").count(), 3, "{set:?}");
    assert_eq!((set[3].as_str(), set[4].as_str(), set[5].as_str()), ("200", "400", "50vw"));
    for candidate in set[1].split(", ").chain(set[2].split(", ")) {
        let (url, w) = candidate.split_once(' ').unwrap();
        let w: u32 = w.trim_end_matches('w').parse().unwrap();
        assert_eq!(size_of(&public.join(url.trim_start_matches('/'))), (w, w * 2), "{candidate}");
    }
    assert_eq!(set[0], set[1].rsplit(", ").next().unwrap().split(' ').next().unwrap(), "src is the largest fallback");
    assert!(html.contains(r#"<picture><source type="image/webp" srcset=""#), "{html}");
    assert!(html.contains(r#"sizes="50vw" width="200" height="400" alt="一面红蓝两色的墙" loading="lazy" decoding="async"></picture>"#), "{html}");
}

/// The image cache's files (not its `.tsv` records of sources and entries) with their times.
fn cache_files(site: &Path) -> BTreeMap<String, std::time::SystemTime> {
    std::fs::read_dir(site.join(".kepu-cache/images"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.file_name().to_string_lossy().into_owned(), e.metadata().unwrap().modified().unwrap())
        })
        .filter(|(name, _)| !name.ends_with(".tsv"))
        .collect()
}

#[test]
fn template_images_are_byte_identical_across_builds_and_come_from_the_cache() {
    let (_d, site) = site_with(OPS);
    build_ok(&site, &[]);
    let first = tree(&site.join("public"));
    let entries = cache_files(&site);
    assert!(entries.len() > 10, "{entries:?}");
    // A photo only a template uses is remembered too: the next build does not read it again.
    let sources = std::fs::read_to_string(site.join(".kepu-cache/images/sources.tsv")).unwrap();
    assert!(sources.contains("static/images/poster.png\n"), "{sources}");
    build_ok(&site, &[]);
    assert_eq!(tree(&site.join("public")), first, "a warm build differs");
    let again = cache_files(&site);
    assert_eq!(again, entries, "the warm build encoded nothing again and pruned nothing it used");
    // Without the cache, the same bytes.
    std::fs::remove_dir_all(site.join(".kepu-cache")).unwrap();
    build_ok(&site, &[]);
    assert_eq!(tree(&site.join("public")), first, "a cold build differs");
}

#[test]
fn bad_calls_and_bad_images_fail_the_build_with_a_clear_error_and_public_as_it_was() {
    let (_d, site) = site_with(OPS);
    build_ok(&site, &[]);
    let before = tree(&site.join("public"));
    // Hostile and broken files, under static/ (no page shows them: only templates reach them).
    std::fs::write(site.join("static/images/bomb.png"), png_bomb()).unwrap();
    std::fs::write(site.join("static/images/notes.jpg"), b"not an image at all").unwrap();
    let photo = jpeg(300, 200, |x, y| [(x % 256) as u8, (y % 256) as u8, 60]);
    // Cut off: its header is whole (the call is answered), its pixels are not (the processing
    // after render fails).
    std::fs::write(site.join("static/images/cut.jpg"), &photo[..photo.len() / 2]).unwrap();
    std::fs::write(site.join("static/readme.txt"), b"text").unwrap();
    let cases: &[(&str, &[&str])] = &[
        (r#"resize_image(path="venues/hall/nope.jpg", width=10, op="fit_width")"#, &["resize_image", "nope.jpg", "does not exist"]),
        (r#"resize_image(path="../../etc/passwd", width=10, op="fit_width")"#, &["../../etc/passwd", "outside the site"]),
        (r#"resize_image(path="venues/../../../etc/passwd", width=10, op="fit_width")"#, &["outside the site"]),
        (r#"resize_image(path="/etc/passwd", width=10, op="fit_width")"#, &["/etc/passwd", "outside the site"]),
        (r#"get_image_metadata(path="/etc/hostname")"#, &["get_image_metadata", "outside the site"]),
        (r#"resize_image(path="/readme.txt", width=10, op="fit_width")"#, &["readme.txt", "not a JPEG or PNG"]),
        (r#"resize_image(path="/images/notes.jpg", width=10, op="fit_width")"#, &["notes.jpg", "not a JPEG or PNG"]),
        (r#"resize_image(path="/images/bomb.png", width=10, op="fit_width")"#, &["bomb.png", "60000×60000", "max_pixels"]),
        (r#"get_image_metadata(path="/images/bomb.png")"#, &["bomb.png", "60000×60000"]),
        (r#"resize_image(path="/images/poster.png", width=10, op="stretch")"#, &["unknown op `stretch`", "fit_width"]),
        (r#"resize_image(path="/images/poster.png", op="fit_width")"#, &["`fit_width` needs a positive width"]),
        (r#"resize_image(path="/images/poster.png", width=10, op="fill")"#, &["`fill` needs a positive height"]),
        (r#"resize_image(path="/images/poster.png", width=-5, op="fit_width")"#, &["width -5 is not between 1 and 10000"]),
        (r#"resize_image(path="/images/poster.png", width=10, op="fit_width", quality=0)"#, &["quality 0 is not between 1 and 100"]),
        (r#"resize_image(path="/images/poster.png", width=10, op="fit_width", quality=101)"#, &["quality 101 is not between 1 and 100"]),
        (r#"resize_image(path="/images/poster.png", width=10, op="fit_width", format="gif")"#, &["unknown format `gif`"]),
        (r#"resize_image(width=10, op="fit_width")"#, &["resize_image", "missing string argument `path`"]),
        (r#"image_set(path="/images/poster.png")"#, &["image_set", "needs `alt`"]),
        (r#"image_set(path="/images/poster.png", alt="  ")"#, &["image_set", "has no alt text"]),
        (r#"image_set(path="/images/poster.png", alt="poster.png")"#, &["image_set", "only its file name"]),
        (r#"image_set(path="/images/poster.png", alt="海报", widths=[0])"#, &["width 0 in `widths`"]),
        (r#"resize_image(path="/images/cut.jpg", width=10, op="fit_width")"#, &["cut.jpg", "damaged or cut off", "asked for by a template function on /"]),
    ];
    for (call, messages) in cases {
        write(&site, "templates/index.html", &format!("<!doctype html><html lang=\"zh\"><head><title>图</title></head><body>{{% set x = {call} %}}{{{{ x }}}}</body></html>\n"));
        let err = build_fails(&site);
        for m in *messages {
            assert!(err.contains(m), "{call}: expected `{m}` in:\n{err}");
        }
        assert!(err.contains("templates/index.html") || err.contains("static/images/cut.jpg"), "{call}: the error names the template or the image:\n{err}");
        assert_eq!(tree(&site.join("public")), before, "{call}: public/ changed");
    }
}

#[test]
fn a_static_photo_a_template_uses_is_published_without_its_metadata() {
    let (_d, site) = site_with(
        "<!doctype html><html lang=\"zh\"><head><title>图</title></head><body>{% set r = resize_image(path=\"/images/phone.jpg\", width=50, op=\"fit_width\") %}<img src=\"{{ r.url }}\" alt=\"示例\"></body></html>\n",
    );
    std::fs::write(site.join("static/images/phone.jpg"), rotated_photo()).unwrap();
    build_ok(&site, &[]);
    let published = std::fs::read(site.join("public/images/phone.jpg")).unwrap();
    assert!(exif::Reader::new().read_from_container(&mut Cursor::new(&published)).is_err(), "the original with its GPS position was published");
    assert_eq!(image::image_dimensions(site.join("public/images/phone.jpg")).unwrap(), (200, 400), "upright");
}

/// The venue bundle's page with `body`.
fn hall_page(site: &Path, body: &str) {
    write(site, "content/venues/hall/index.md", &format!("+++\ntitle = \"示例馆\"\nexample = true\n\n[venue]\nkind = \"流动科技馆\"\n+++\n\n{body}\n"));
}

#[test]
fn the_figure_component_is_a_responsive_picture_and_keeps_the_alt_text_rules() {
    let (_d, site) = site_with("<!doctype html><html lang=\"zh\"><head><title>图</title></head><body>首页</body></html>\n");
    std::fs::write(site.join("content/venues/hall/wide.jpg"), jpeg(1000, 500, |x, _| [(x % 256) as u8, 80, 80])).unwrap();
    hall_page(
        &site,
        "{{ <figure src=\"wide.jpg\" alt=\"展厅全景\" caption=\"新馆主展厅\" /> }}\n\n{{ <figure src=\"/images/poster.png\" alt='\"\"' /> }}\n\n{{ <figure src=\"https://example.org/x.svg\" alt=\"外站的图\" width={40} height={20} /> }}",
    );
    build_ok(&site, &[]);
    let html = std::fs::read_to_string(site.join("public/venues/hall/index.html")).unwrap();
    let public = site.join("public");
    // A photo: <picture>, widths below its own, files of the sizes written, caption, link.
    let start = html.find("<figure class=\"figure photo\">").expect("a processed figure");
    let figure = &html[start..start + html[start..].find("</figure>").unwrap()];
    assert!(figure.contains(r#"width="1000" height="500" alt="展厅全景""#), "{figure}");
    assert!(figure.contains("<figcaption>新馆主展厅</figcaption>") && figure.contains(r#"<a class="photo-full""#), "{figure}");
    let srcset = figure.split("srcset=\"").nth(1).unwrap().split('"').next().unwrap();
    let mut widths = Vec::new();
    for candidate in srcset.split(", ") {
        let (url, w) = candidate.split_once(' ').unwrap();
        let w: u32 = w.trim_end_matches('w').parse().unwrap();
        assert_eq!(size_of(&public.join(url.trim_start_matches('/'))), (w, w / 2), "{candidate}");
        widths.push(w);
    }
    assert_eq!(widths, [400, 800, 1000], "the configured widths below 1000, and 1000");
    // Decorative, on purpose: alt="" and no link.
    assert!(html.contains(r#"height="150" alt="" loading="lazy""#), "{html}");
    // Not a photo kepu processes: as it is.
    assert!(html.contains(r#"<img src="https://example.org/x.svg" alt="外站的图" loading="lazy" decoding="async" width="40" height="20">"#), "{html}");

    let before = tree(&public);
    let cases = [
        ("{{ <figure src=\"wide.jpg\" alt=\"wide.jpg\" /> }}", "only its file name"),
        ("{{ <figure src=\"wide.jpg\" alt=\" \" /> }}", "alt must say what the image shows"),
        ("{{ <figure src=\"gone.jpg\" alt=\"不存在的图\" /> }}", "does not exist"),
        ("{{ <figure src=\"../../../../etc/passwd.jpg\" alt=\"越界\" /> }}", "outside the site"),
    ];
    for (body, message) in cases {
        hall_page(&site, body);
        let err = build_fails(&site);
        assert!(err.contains(message), "{body}: {err}");
        assert!(err.contains("content/venues/hall/index.md"), "{body}: names the page: {err}");
        assert_eq!(tree(&public), before, "{body}: public/ changed");
    }
    // Beside a page that is not a bundle.
    hall_page(&site, "正文。");
    write(&site, "content/venues/solo.md", "+++\ntitle = \"单页\"\nexample = true\n\n[venue]\nkind = \"流动科技馆\"\n+++\n\n{{ <figure src=\"x.jpg\" alt=\"一张图\" /> }}\n");
    let err = build_fails(&site);
    assert!(err.contains("not a bundle"), "{err}");
    assert_eq!(tree(&public), before);
}

#[test]
fn a_template_image_over_the_budget_is_a_warning_with_its_size() {
    let (_d, site) = site_with(
        "<!doctype html><html lang=\"zh\"><head><title>图</title></head><body>{% set r = resize_image(path=\"/images/noise.jpg\", width=600, op=\"fit_width\", quality=95) %}<img src=\"{{ r.url }}\" alt=\"示例\"></body></html>\n",
    );
    let noise = jpeg(600, 400, |x, y| {
        let v = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503)).wrapping_mul(2_246_822_519) >> 24;
        [v as u8, (v * 7) as u8, (v * 13) as u8]
    });
    std::fs::write(site.join("static/images/noise.jpg"), noise).unwrap();
    let config = std::fs::read_to_string(site.join("config.toml")).unwrap();
    write(&site, "config.toml", &format!("{config}\n[images]\nbudget_kb = 2\n"));
    let run = build_ok(&site, &[]);
    assert!(run.stderr.contains("warning") && run.stderr.contains("static/images/noise.jpg"), "{}", run.stderr);
    assert!(run.stderr.contains("as jpg at 600×400 px") && run.stderr.contains("over the 2 KB budget"), "{}", run.stderr);
}

#[test]
fn a_failed_build_does_not_make_the_next_one_encode_template_images_again() {
    let (_d, site) = site_with(OPS);
    build_ok(&site, &[]);
    let entries = cache_files(&site);
    let sources = std::fs::read_to_string(site.join(".kepu-cache/images/sources.tsv")).unwrap();
    // A template error stops the build during render, before the template images are made.
    write(&site, "templates/page.html", "{{ page.title ");
    let failed = common::kepu(&site, &["build", "--root", site.to_str().unwrap()]);
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    std::fs::remove_file(site.join("templates/page.html")).unwrap();
    build_ok(&site, &[]);
    assert_eq!(cache_files(&site), entries, "an entry was encoded again (or pruned) after the failed build");
    assert_eq!(std::fs::read_to_string(site.join(".kepu-cache/images/sources.tsv")).unwrap(), sources);
}
