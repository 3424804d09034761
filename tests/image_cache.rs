//! The image cache and the output folder: processed images are hard-linked from
//! `.kepu-cache/` into the output (copied where a link cannot be made), and neither an edit
//! made later in `public/` nor the choice between link and copy changes what a build
//! publishes. Runs the real binary on the real photos of `tests/fixtures/photos`.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use common::{build_ok, fixture, tree};
use sha2::{Digest, Sha256};

/// The processed images of an output folder (WebP, JPEG, PNG), by path.
fn images(public: &Path) -> BTreeMap<String, PathBuf> {
    walkdir::WalkDir::new(public)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .filter(|e| e.path().extension().is_some_and(|x| x == "webp" || x == "jpg" || x == "png"))
        .map(|e| (e.path().strip_prefix(public).unwrap().to_string_lossy().into_owned(), e.path().to_path_buf()))
        .collect()
}

/// Cache entries by inode.
fn entries_by_inode(site: &Path) -> BTreeMap<u64, PathBuf> {
    std::fs::read_dir(site.join(".kepu-cache/images"))
        .unwrap()
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().ends_with(".tsv"))
        .map(|e| (e.metadata().unwrap().ino(), e.path()))
        .collect()
}

/// Every entry of the output's manifest matches the file's real bytes.
fn assert_manifest_true(public: &Path) {
    let text = std::fs::read_to_string(public.join(".kepu-manifest.json")).unwrap();
    let manifest: serde_json::Value = serde_json::from_str(&text).unwrap();
    let files = manifest["files"].as_object().unwrap();
    assert!(files.len() > 10, "{files:?}");
    for (path, entry) in files {
        let bytes = std::fs::read(public.join(path)).unwrap();
        assert_eq!(entry["sha256"].as_str().unwrap(), hex::encode(Sha256::digest(&bytes)), "{path}");
        assert_eq!(entry["bytes"].as_u64().unwrap(), bytes.len() as u64, "{path}");
    }
}

#[test]
fn images_are_linked_from_the_cache_and_an_edit_in_public_does_not_reach_the_next_build() {
    let (_d, site) = fixture("photos");
    build_ok(&site, &[]);
    let public = site.join("public");
    let first = tree(&public);
    let imgs = images(&public);
    assert!(imgs.len() >= 10, "{imgs:?}");
    let cache = entries_by_inode(&site);
    for (path, file) in &imgs {
        let m = std::fs::metadata(file).unwrap();
        assert!(cache.contains_key(&m.ino()), "{path} is not a link to a cache entry");
        assert!(m.permissions().readonly(), "{path} is writable: an edit in place would reach the cache");
    }
    assert_manifest_true(&public);
    let cache_before: BTreeMap<PathBuf, Vec<u8>> = cache.values().map(|p| (p.clone(), std::fs::read(p).unwrap())).collect();

    // A warm build links the same entries again and publishes the same.
    build_ok(&site, &[]);
    assert_eq!(tree(&public), first);

    // Someone edits two published images in place (making them writable first, as root needs
    // not): one truncated and rewritten, one written over with other bytes of the same length.
    let (edited, file) = imgs.iter().find(|(p, _)| p.ends_with(".webp")).unwrap();
    std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(file, b"not the photo any more").unwrap();
    let (overwritten, file2) = imgs.iter().find(|(p, _)| p.ends_with(".jpg") && *p != edited).unwrap();
    let len = std::fs::metadata(file2).unwrap().len() as usize;
    std::thread::sleep(std::time::Duration::from_millis(30)); // a modification time of its own
    std::fs::set_permissions(file2, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut f = std::fs::OpenOptions::new().write(true).open(file2).unwrap();
    std::io::Write::write_all(&mut f, &vec![b'x'; len]).unwrap();
    drop(f);
    assert_ne!(tree(&public)[overwritten], first[overwritten]);

    // The next build publishes exactly the first build's files and puts the cache back as it
    // was: the changed entries are no longer trusted and are encoded again.
    let run = build_ok(&site, &[]);
    assert_eq!(tree(&public), first, "{}", run.stderr);
    assert_manifest_true(&public);
    let cache_after: BTreeMap<PathBuf, Vec<u8>> =
        entries_by_inode(&site).values().map(|p| (p.clone(), std::fs::read(p).unwrap())).collect();
    assert_eq!(cache_after, cache_before, "the cache differs after an edit in public/");
    for file in images(&public).values() {
        assert!(std::fs::metadata(file).unwrap().permissions().readonly());
    }
}

/// A folder on another file system than the site (the memory file system), where no hard
/// link from the cache can be made.
fn elsewhere() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    let dir = tempfile::tempdir_in(shm).expect("a writable /dev/shm");
    let here = std::fs::metadata(env!("CARGO_TARGET_TMPDIR")).unwrap().dev();
    assert_ne!(std::fs::metadata(dir.path()).unwrap().dev(), here, "/dev/shm is on the same file system as the build folder");
    dir
}

#[test]
fn an_output_folder_on_another_file_system_gets_copies_byte_identical_to_links() {
    let site_dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let site = site_dir.path().join("site");
    common::copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/photos"), &site);
    build_ok(&site, &[]);
    let linked = tree(&site.join("public"));

    let other = elsewhere();
    let out = other.path().join("public");
    for round in ["cold copies", "warm copies"] {
        build_ok(&site, &["--output", out.to_str().unwrap()]);
        assert_eq!(tree(&out), linked, "{round}");
        assert_manifest_true(&out);
        let cache = entries_by_inode(&site);
        for (path, file) in images(&out) {
            assert!(!cache.contains_key(&std::fs::metadata(&file).unwrap().ino()), "{path}");
        }
    }
    // The copies belong to the output alone: writing into one leaves the cache as it was.
    let snapshot = || -> Vec<Vec<u8>> { entries_by_inode(&site).values().map(|p| std::fs::read(p).unwrap()).collect() };
    let before = snapshot();
    for file in images(&out).values() {
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::write(file, b"changed").unwrap();
    }
    assert_eq!(snapshot(), before);
}

/// Each published photo's inode and change time: a link made or removed changes the latter.
fn stamps(public: &Path) -> BTreeMap<String, (u64, i64, i64)> {
    images(public)
        .into_iter()
        .map(|(path, file)| {
            let m = std::fs::metadata(file).unwrap();
            (path, (m.ino(), m.ctime(), m.ctime_nsec()))
        })
        .collect()
}

#[test]
fn a_warm_build_leaves_published_photos_in_place_and_a_failed_one_leaves_public_as_it_was() {
    let (_d, site) = fixture("photos");
    let public = site.join("public");
    build_ok(&site, &[]);
    build_ok(&site, &[]);
    assert!(site.join(".kepu-cache/previous-output").is_dir(), "the replaced output is kept for the next build");
    let first = tree(&public);
    let before = stamps(&public);
    build_ok(&site, &[]);
    assert_eq!(tree(&public), first);
    assert_eq!(stamps(&public), before, "a warm build linked the published photos again");

    // A template error fails the build after pages began to be written: public/ stays.
    let template = site.join("templates/page.html");
    std::fs::create_dir_all(template.parent().unwrap()).unwrap();
    std::fs::write(&template, "{{ page.title ").unwrap();
    let failed = common::kepu(&site, &["build", "--root", site.to_str().unwrap()]);
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert_eq!(tree(&public), first, "a failed build changed public/");
    std::fs::remove_file(&template).unwrap();

    // A photo taken out of the page: its files are gone, the others stay where they were.
    let page = site.join("content/venues/example-hall/index.md");
    let text = std::fs::read_to_string(&page).unwrap();
    std::fs::write(&page, text.replace("![一只橘色的猫趴着看向镜头](cat.jpg)", "")).unwrap();
    std::fs::remove_file(site.join("content/venues/example-hall/cat.jpg")).unwrap();
    build_ok(&site, &[]);
    let now = stamps(&public);
    assert!(!now.keys().any(|p| p.contains("/cat")), "{now:?}");
    let kept: BTreeMap<_, _> = before.into_iter().filter(|(p, _)| !p.contains("/cat")).collect();
    assert_eq!(now, kept);
    assert_manifest_true(&public);
}
