//! The images stage, end to end through the real binary: orientation, metadata stripping,
//! responsive sets, alt text and hostile files, the cache.
//!
//! Images are generated here (small, exact pixels); EXIF is written with kamadak-exif and
//! read back with it.

mod common;

use std::io::Cursor;
use std::path::Path;

use common::photos::{build_fails, jpeg, png, png_bomb, rotated_photo, size_of, with_exif};
use common::{build_ok, tree, write};

/// A site with the default theme and one venue bundle whose body is `body`.
fn site_with(body: &str, files: &[(&str, Vec<u8>)]) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    write(&site, "config.toml", "title = \"图\"\nbase_url = \"https://example.org/\"\ntheme = \"default\"\n");
    write(&site, "content/_index.md", "+++\ntitle = \"图\"\n+++\n");
    write(&site, "content/venues/_index.md", "+++\ntitle = \"馆\"\npage_type = \"venue\"\n+++\n");
    write(
        &site,
        "content/venues/hall/index.md",
        &format!("+++\ntitle = \"示例馆\"\nexample = true\n\n[venue]\nkind = \"流动科技馆\"\n+++\n\n{body}\n"),
    );
    for (name, bytes) in files {
        std::fs::write(site.join("content/venues/hall").join(name), bytes).unwrap();
    }
    (dir, site)
}

fn decode(path: &Path) -> image::RgbImage {
    image::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).to_rgb8()
}

fn red(p: &image::Rgb<u8>) -> bool {
    p[0] > 180 && p[1] < 80 && p[2] < 80
}
fn blue(p: &image::Rgb<u8>) -> bool {
    p[2] > 180 && p[0] < 80 && p[1] < 80
}

#[test]
fn orientation_is_applied_and_all_metadata_is_gone() {
    let (_d, site) = site_with("![一面红蓝两色的墙](wall.jpg)", &[("wall.jpg", rotated_photo())]);
    build_ok(&site, &[]);
    let out = site.join("public/venues/hall");
    let mut checked = 0;
    for entry in std::fs::read_dir(&out).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !(name.ends_with(".jpg") || name.ends_with(".webp")) {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        // Upright: portrait.
        let (w, h) = size_of(&path);
        assert!(h == 2 * w, "{name} is {w}×{h}, not upright");
        // No EXIF at all, so no GPS, serial or owner.
        assert!(exif::Reader::new().read_from_container(&mut Cursor::new(&bytes)).is_err(), "{name} still has EXIF");
        for secret in [&b"Exif"[..], b"SN-123456789", b"Zhang San", b"PhoneMaker"] {
            assert!(!bytes.windows(secret.len()).any(|w| w == secret), "{name} still holds {:?}", String::from_utf8_lossy(secret));
        }
        if name.ends_with(".jpg") {
            let img = decode(&path);
            let (w, h) = img.dimensions();
            // Corners: red at the top, blue at the bottom.
            for (x, y) in [(1, 1), (w - 2, 1)] {
                assert!(red(img.get_pixel(x, y)), "{name} top corner {:?}", img.get_pixel(x, y));
            }
            for (x, y) in [(1, h - 2), (w - 2, h - 2)] {
                assert!(blue(img.get_pixel(x, y)), "{name} bottom corner {:?}", img.get_pixel(x, y));
            }
        }
        checked += 1;
    }
    // wall.jpg (full size) and a JPEG and a WebP per width.
    assert!(checked >= 3, "only {checked} images checked");
    assert!(out.join("wall.jpg").is_file(), "the full-size copy takes the original's address");
}

/// Every `url Nw` of the page's srcsets, and the img's width and height.
fn srcsets(html: &str) -> (Vec<(String, u32)>, u32, u32) {
    let doc = scraper::Html::parse_document(html);
    let mut out = Vec::new();
    let sel = scraper::Selector::parse("picture source, picture img").unwrap();
    for el in doc.select(&sel) {
        for item in el.value().attr("srcset").unwrap().split(", ") {
            let (url, w) = item.rsplit_once(' ').unwrap();
            out.push((url.to_string(), w.trim_end_matches('w').parse().unwrap()));
        }
    }
    let img = doc.select(&scraper::Selector::parse("picture img").unwrap()).next().expect("a picture");
    let attr = |n: &str| img.value().attr(n).unwrap().parse::<u32>().unwrap();
    (out, attr("width"), attr("height"))
}

#[test]
fn srcset_widths_never_exceed_the_original_and_sizes_match_the_files() {
    let photo = jpeg(1000, 600, |x, y| [(x % 256) as u8, (y % 256) as u8, 128]);
    let (_d, site) = site_with("![一张渐变色的示例图](grad.jpg \"图注\")", &[("grad.jpg", photo)]);
    build_ok(&site, &[]);
    let html = std::fs::read_to_string(site.join("public/venues/hall/index.html")).unwrap();
    assert!(html.contains("<figcaption>图注</figcaption>"), "{html}");
    let (set, width, height) = srcsets(&html);
    let widths: std::collections::BTreeSet<u32> = set.iter().map(|(_, w)| *w).collect();
    assert_eq!(widths.into_iter().collect::<Vec<_>>(), vec![400, 800, 1000]);
    for (url, w) in &set {
        let (fw, fh) = size_of(&site.join("public").join(url.trim_start_matches('/')));
        assert_eq!(fw, *w, "{url}");
        assert_eq!(fh, (f64::from(*w) * 0.6).round() as u32, "{url}");
    }
    assert_eq!((width, height), (1000, 600));
    // The only picture is the first thing in the body (no cover): not lazy.
    assert!(html.contains("fetchpriority=\"high\""), "{html}");
}

#[test]
fn only_the_first_image_is_eager() {
    let a = jpeg(300, 200, |_, _| [10, 120, 10]);
    let (_d, site) = site_with("![绿色示例图一](a.jpg)\n\n![绿色示例图二](b.jpg)", &[("a.jpg", a.clone()), ("b.jpg", a)]);
    build_ok(&site, &[]);
    let html = std::fs::read_to_string(site.join("public/venues/hall/index.html")).unwrap();
    assert_eq!(html.matches("fetchpriority=\"high\"").count(), 1, "{html}");
    assert_eq!(html.matches("loading=\"lazy\" decoding=\"async\"").count(), 1, "{html}");
}

#[test]
fn alt_text_is_required_and_must_not_be_the_file_name() {
    let photo = jpeg(64, 48, |_, _| [200, 200, 200]);
    let (_d, site) = site_with("正文\n\n![](grey.jpg)\n\n![grey.jpg](grey.jpg)\n", &[("grey.jpg", photo)]);
    let err = build_fails(&site);
    assert!(err.contains("image `grey.jpg` has no alt text"), "{err}");
    assert!(err.contains("content/venues/hall/index.md:11"), "{err}");
    assert!(err.contains("is only its file name"), "{err}");
    assert!(err.contains("content/venues/hall/index.md:13"), "{err}");
    // Decorative, on purpose: builds, with alt="" and no link around it.
    write(&site, "content/venues/hall/index.md", "+++\ntitle = \"示例馆\"\nexample = true\n\n[venue]\nkind = \"流动科技馆\"\n+++\n\n![\"\"](grey.jpg)\n");
    build_ok(&site, &[]);
    let html = std::fs::read_to_string(site.join("public/venues/hall/index.html")).unwrap();
    assert!(html.contains("alt=\"\""), "{html}");
    assert!(!html.contains("photo-full"), "{html}");
}

#[test]
fn cover_needs_alt_text() {
    let photo = jpeg(640, 400, |_, _| [90, 90, 200]);
    let (_d, site) = site_with("正文", &[("cover.jpg", photo)]);
    let page = "+++\ntitle = \"示例馆\"\nexample = true\n\n[venue]\nkind = \"流动科技馆\"\ncover = \"cover.jpg\"\n+++\n\n正文\n";
    write(&site, "content/venues/hall/index.md", page);
    let err = build_fails(&site);
    assert!(err.contains("cover `cover.jpg` has no cover_alt"), "{err}");
    assert!(err.contains("index.md:7"), "{err}");
    write(&site, "content/venues/hall/index.md", &page.replace("cover = \"cover.jpg\"\n", "cover = \"cover.jpg\"\ncover_alt = \"一面蓝色的墙\"\n"));
    build_ok(&site, &[]);
    let html = std::fs::read_to_string(site.join("public/venues/hall/index.html")).unwrap();
    assert!(html.contains("<meta property=\"og:image\" content=\"https://example.org/venues/hall/cover-640w."), "{html}");
    assert!(html.contains("twitter:image"), "{html}");
    let list = std::fs::read_to_string(site.join("public/venues/index.html")).unwrap();
    assert!(list.contains("class=\"card-cover\""), "{list}");
}

#[test]
fn broken_files_fail_the_build_and_leave_public_as_it_was() {
    let photo = jpeg(640, 480, |x, y| [(x % 256) as u8, (y % 256) as u8, 60]);
    let (_d, site) = site_with("![一张示例照片](hall.jpg)", &[("hall.jpg", photo.clone())]);
    build_ok(&site, &[]);
    let before = tree(&site.join("public"));
    let mut heic = vec![0, 0, 0, 24];
    heic.extend_from_slice(b"ftypheic\0\0\0\0mif1heic");
    heic.resize(4096, 0);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("truncated", photo[..photo.len() / 2].to_vec(), "damaged or cut off"),
        ("garbage", b"this is not an image at all".to_vec(), "damaged or cut off"),
        ("empty", Vec::new(), "the file is empty"),
        ("heic", heic, "HEIC"),
        ("bomb", png_bomb(), "60000×60000"),
    ];
    for (what, bytes, message) in cases {
        std::fs::write(site.join("content/venues/hall/hall.jpg"), &bytes).unwrap();
        let err = build_fails(&site);
        assert!(err.contains(message), "{what}: {err}");
        assert!(err.contains("hall.jpg"), "{what}: the error names the file: {err}");
        assert!(err.contains("content/venues/hall/index.md:9"), "{what}: file:line: {err}");
        if what == "heic" {
            assert!(err.contains("heif-convert"), "{err}");
        }
        assert_eq!(tree(&site.join("public")), before, "{what}: public/ changed");
    }
    // A missing file.
    std::fs::remove_file(site.join("content/venues/hall/hall.jpg")).unwrap();
    let err = build_fails(&site);
    assert!(err.contains("does not exist"), "{err}");
    assert_eq!(tree(&site.join("public")), before);
}

#[test]
fn the_pixel_limit_is_configurable() {
    let photo = jpeg(640, 480, |_, _| [1, 2, 3]);
    let (_d, site) = site_with("![一张示例照片](hall.jpg)", &[("hall.jpg", photo)]);
    let config = std::fs::read_to_string(site.join("config.toml")).unwrap();
    write(&site, "config.toml", &format!("{config}\n[images]\nmax_pixels = 100000\n"));
    let err = build_fails(&site);
    assert!(err.contains("640×480 pixels, more than the limit of 100000"), "{err}");
}

/// The processed files of a build, name → bytes hash.
fn outputs(site: &Path) -> std::collections::BTreeMap<String, String> {
    tree(&site.join("public"))
}

fn cache_entries(site: &Path) -> std::collections::BTreeSet<String> {
    std::fs::read_dir(site.join(".kepu-cache/images"))
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default()
}

#[test]
fn cached_uncached_and_single_threaded_builds_are_byte_identical() {
    let photo = jpeg(900, 600, |x, y| [(x * 7 % 256) as u8, (y * 3 % 256) as u8, ((x + y) % 256) as u8]);
    let (_d, site) = site_with("![一张示例照片](hall.jpg)\n\n![另一张示例照片](side.png)", &[("hall.jpg", with_exif(&photo, 1)), ("side.png", png(500, 300))]);
    build_ok(&site, &[]);
    let cold = outputs(&site);
    let entries = cache_entries(&site);
    assert!(entries.len() >= 6, "{entries:?}");
    let stamp = |p: &Path| std::fs::metadata(p).unwrap().modified().unwrap();
    let first = site.join(".kepu-cache/images").join(entries.iter().next().unwrap());
    let before = stamp(&first);
    let warm = build_ok(&site, &[]);
    assert_eq!(outputs(&site), cold, "a warm build differs");
    assert_eq!(stamp(&first), before, "a cache hit rewrote the entry");
    assert!(!warm.stderr.contains("error"), "{}", warm.stderr);
    std::fs::remove_dir_all(site.join(".kepu-cache")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kepu"))
        .args(["build", "--root", site.to_str().unwrap()])
        .env("RAYON_NUM_THREADS", "1")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(outputs(&site), cold, "a cold single-threaded build differs");
    assert_eq!(cache_entries(&site), entries);
}

#[test]
fn entries_no_build_used_are_pruned() {
    let a = jpeg(500, 400, |_, _| [200, 10, 10]);
    let b = jpeg(500, 400, |_, _| [10, 200, 10]);
    let (_d, site) = site_with("![红色示例图](a.jpg)\n\n![绿色示例图](b.jpg)", &[("a.jpg", a), ("b.jpg", b)]);
    build_ok(&site, &[]);
    let both = cache_entries(&site);
    write(&site, "content/venues/hall/index.md", "+++\ntitle = \"示例馆\"\nexample = true\n\n[venue]\nkind = \"流动科技馆\"\n+++\n\n![红色示例图](a.jpg)\n");
    std::fs::remove_file(site.join("content/venues/hall/b.jpg")).unwrap();
    build_ok(&site, &[]);
    let one = cache_entries(&site);
    assert!(one.len() < both.len() && !one.is_empty(), "{both:?} → {one:?}");
    assert!(one.is_subset(&both));
    // Everything left is what the build wrote.
    let public = outputs(&site);
    assert!(public.keys().any(|k| k.starts_with("venues/hall/a-")));
    assert!(!public.keys().any(|k| k.starts_with("venues/hall/b")), "{public:?}");
}

#[test]
fn an_image_beside_a_page_that_is_not_a_bundle_is_an_error() {
    let (_d, site) = site_with("正文", &[]);
    write(&site, "content/venues/solo.md", "+++\ntitle = \"单页\"\nexample = true\n\n[venue]\nkind = \"流动科技馆\"\n+++\n\n![一张示例照片](x.jpg)\n");
    let err = build_fails(&site);
    assert!(err.contains("needs a page bundle"), "{err}");
    assert!(err.contains("content/venues/solo.md:9"), "{err}");
}

#[test]
fn static_images_are_processed_and_their_originals_not_published() {
    let (_d, site) = site_with("![一张放在 static 里的示例照片](/photos/s.jpg)", &[]);
    std::fs::create_dir_all(site.join("static/photos")).unwrap();
    std::fs::write(site.join("static/photos/s.jpg"), with_exif(&jpeg(600, 300, |_, _| [50, 60, 70]), 1)).unwrap();
    build_ok(&site, &[]);
    let published = std::fs::read(site.join("public/photos/s.jpg")).unwrap();
    assert!(exif::Reader::new().read_from_container(&mut Cursor::new(&published)).is_err());
    let html = std::fs::read_to_string(site.join("public/venues/hall/index.html")).unwrap();
    assert!(html.contains("/photos/s-400w."), "{html}");
}

#[test]
fn a_static_image_and_a_bundle_image_at_one_address_publish_one_file_from_the_last_source() {
    // `venues/hall/wall.jpg` is both the bundle's photo and a static file's address.
    let body = "![包内的一张示例照片](wall.jpg)\n\n![static 里同一地址的示例照片](/venues/hall/wall.jpg)";
    let (_d, site) = site_with(body, &[("wall.jpg", jpeg(600, 300, |_, _| [200, 30, 30]))]);
    std::fs::create_dir_all(site.join("static/venues/hall")).unwrap();
    std::fs::write(site.join("static/venues/hall/wall.jpg"), jpeg(500, 500, |_, _| [30, 30, 200])).unwrap();
    build_ok(&site, &[]);
    // Made once (not a conflict), from the last source by path: static/ after content/.
    assert_eq!(size_of(&site.join("public/venues/hall/wall.jpg")), (500, 500));
    let html = std::fs::read_to_string(site.join("public/venues/hall/index.html")).unwrap();
    assert!(html.contains("wall-500w.") && html.contains("wall-600w."), "both sets are shown: {html}");
}
