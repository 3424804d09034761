//! The bad-input corpus: every way an editor's mistake, a corrupted file or a hostile site can
//! reach `kepu build`, each with the diagnostic it must produce.
//!
//! Every case copies `tests/fixtures/bad-base/` (a small valid site) into a fresh temp folder,
//! lays `tests/fixtures/bad/<case>/` over it or builds what cannot be committed (a 50 MB
//! file, binary data, symbolic links, a named pipe, an unreadable file) in code, puts a
//! "previous build" into `public/`, runs the real binary and checks:
//!
//! - exit code 1 and the diagnostics text (an insta snapshot per case: message, `file:line`,
//!   excerpt, hint);
//! - no panic, no stack overflow, no hang;
//! - the previous `public/` is byte-identical afterwards, and nothing at all changed anywhere
//!   in the temp folder — which also holds the targets of every `..` the cases try (the site
//!   sits six folders deep) and the targets of the outward symbolic links.
//!
//! A few cases must *succeed* (a BOM, CRLF line endings, an absolute URL path): they check
//! the output instead, and that nothing outside `public/` changed.
//!
//! Unreadable files: the tests run as root in CI, and root reads any file whatever its mode.
//! So when running as root, those cases run kepu as user `nobody` (uid/gid 65534, via
//! `CommandExt::uid`, which also drops root's supplementary groups); a file with mode 000 is
//! then really unreadable, exactly as for an editor without permission.

mod common;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use sha2::{Digest, Sha256};

const NOBODY: u32 = 65534;

/// A temp folder holding `d1/…/d6/site` plus `outside/`, the canary that symbolic links and
/// `..` paths aim at.
struct Sandbox {
    tmp: tempfile::TempDir,
    site: PathBuf,
}

impl Sandbox {
    fn new(case: &str) -> Sandbox {
        let tmp = tempfile::tempdir().unwrap();
        let site = tmp.path().join("d1/d2/d3/d4/d5/d6/site");
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        common::copy_dir(&fixtures.join("bad-base"), &site);
        let overlay = fixtures.join("bad").join(case);
        if overlay.is_dir() {
            common::copy_dir(&overlay, &site);
        }
        let outside = tmp.path().join("outside");
        common::write(&outside, "secret.md", "+++\ntitle = \"站外文件\"\n+++\n\n不应被发布。\n");
        common::write(&outside, "webroot/keep.txt", "another site's file\n");
        common::write(&outside, "theme/templates/page.html", "<p>站外主题</p>\n");
        common::write(&site, "public/index.html", "<p>previous build</p>\n");
        common::write(&site, "public/news/old/index.html", "<p>previous page</p>\n");
        // Let `nobody` walk in (the temp folder is created 0700).
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        Sandbox { tmp, site }
    }

    fn root(&self) -> &Path {
        self.tmp.path()
    }

    /// Replace the temp paths in kepu's output, for stable snapshots.
    fn normalize(&self, text: &str) -> String {
        text.replace(self.site.to_str().unwrap(), "SITE").replace(self.root().to_str().unwrap(), "TMP")
    }
}

impl Drop for Sandbox {
    /// Give back the permissions the unreadable cases took away, so the temp folder can go.
    fn drop(&mut self) {
        fn open_up(dir: &Path) {
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755));
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                match entry.file_type() {
                    Ok(t) if t.is_dir() => open_up(&path),
                    Ok(t) if t.is_file() => {
                        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644));
                    }
                    _ => {}
                }
            }
        }
        open_up(self.tmp.path());
    }
}

/// Every entry under `dir` (not following links): kind, link target or content hash, mode.
fn snapshot(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(dir).unwrap().to_string_lossy().into_owned();
        let meta = entry.path().symlink_metadata().unwrap();
        let mode = meta.permissions().mode() & 0o7777;
        let ft = meta.file_type();
        let what = if ft.is_symlink() {
            format!("link -> {}", std::fs::read_link(entry.path()).unwrap().display())
        } else if ft.is_dir() {
            "dir".to_string()
        } else if ft.is_file() && mode & 0o444 != 0 && meta.len() < 1 << 20 {
            format!("file {}", hex::encode(Sha256::digest(std::fs::read(entry.path()).unwrap())))
        } else {
            format!("special or large, {} bytes", meta.len())
        };
        out.insert(rel, format!("{what} (mode {mode:o})"));
    }
    out
}

struct Outcome {
    code: Option<i32>,
    stderr: String,
}

/// Run `kepu build` on the sandbox's site. A hang is killed after five minutes (and then
/// fails the test by its exit status); no test depends on how long a build takes.
fn run_kepu(sandbox: &Sandbox, as_nobody: bool) -> Outcome {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kepu"));
    cmd.args(["build", "--root"])
        .arg(&sandbox.site)
        .current_dir(&sandbox.site)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if as_nobody && is_root() {
        cmd.uid(NOBODY).gid(NOBODY);
    }
    let child = cmd.spawn().expect("run kepu");
    let pid = child.id() as i32;
    let (done, wait) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if wait.recv_timeout(Duration::from_secs(300)) == Err(mpsc::RecvTimeoutError::Timeout) {
            // SAFETY: kill(2) on the child we spawned and have not reaped yet.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    });
    let out = child.wait_with_output().unwrap();
    let _ = done.send(());
    watchdog.join().unwrap();
    Outcome { code: out.status.code(), stderr: String::from_utf8_lossy(&out.stderr).into_owned() }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn assert_calm(stderr: &str) {
    for bad in ["panicked", "overflowed its stack", "RUST_BACKTRACE", "fatal runtime error"] {
        assert!(!stderr.contains(bad), "kepu crashed ({bad}):\n{stderr}");
    }
}

/// The case must fail with exit code 1 and the snapshot diagnostics, touching nothing.
fn expect_failure(case: &str, setup: impl FnOnce(&Sandbox), as_nobody: bool) {
    let sandbox = Sandbox::new(case);
    setup(&sandbox);
    let before = snapshot(sandbox.root());
    let out = run_kepu(&sandbox, as_nobody);
    assert_calm(&out.stderr);
    assert_eq!(out.code, Some(1), "expected exit code 1:\n{}", out.stderr);
    let after = snapshot(sandbox.root());
    assert_eq!(before, after, "a failed build changed files:\n{}", out.stderr);
    let text = sandbox.normalize(&out.stderr);
    assert!(text.contains("SITE/public was left unchanged"), "{text}");
    insta::assert_snapshot!(case, text);
}

/// The case must build; `check` looks at the output. Nothing outside `public/` may change,
/// but for kepu's own cache folder (where the replaced output is kept for the next build).
fn expect_success(case: &str, setup: impl FnOnce(&Sandbox), check: impl FnOnce(&Path)) {
    let sandbox = Sandbox::new(case);
    setup(&sandbox);
    let outside_public = |s: &Sandbox| {
        let mut snap = snapshot(s.root());
        let rel = |name: &str| s.site.join(name).strip_prefix(s.root()).unwrap().to_string_lossy().into_owned();
        let (public, cache) = (rel("public"), rel(".kepu-cache"));
        snap.retain(|k, _| !k.starts_with(&public) && !k.starts_with(&cache));
        snap
    };
    let before = outside_public(&sandbox);
    let out = run_kepu(&sandbox, false);
    assert_calm(&out.stderr);
    assert_eq!(out.code, Some(0), "expected success:\n{}", out.stderr);
    assert_eq!(before, outside_public(&sandbox), "the build wrote outside public/");
    check(&sandbox.site.join("public"));
}

fn write(s: &Sandbox, rel: &str, bytes: &[u8]) {
    let p = s.site.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

/// Cases that are plain files in `tests/fixtures/bad/<case>/`.
macro_rules! fixture_cases {
    ($($name:ident),+ $(,)?) => {$(
        #[test]
        fn $name() {
            let case = stringify!($name).replace('_', "-");
            assert!(
                Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bad").join(&case).is_dir(),
                "missing fixture folder for {case}"
            );
            expect_failure(&case, |_| {}, false);
        }
    )+};
}

fixture_cases!(
    // Front matter.
    toml_malformed,
    toml_wrong_type,
    toml_bad_date,
    yaml_malformed,
    yaml_unknown_field,
    yaml_alias_bomb,
    front_matter_unterminated,
    front_matter_missing,
    empty_file,
    typed_bad_value,
    // Editors' habits: a Chinese input method's punctuation, 30万 for a number, a date with
    // slashes, a field written below the last table header.
    toml_full_width,
    toml_chinese_number,
    toml_date_slashes,
    toml_field_after_table,
    config_malformed,
    config_base_url_newline,
    // URLs that try to leave the output folder, or collide.
    path_parent,
    path_windows,
    path_dot_segment,
    slug_parent,
    slug_no_letters,
    alias_parent,
    file_name_no_letters,
    duplicate_url,
    duplicate_slug,
    duplicate_alias,
    // Taxonomies and links.
    unknown_taxonomy,
    empty_term,
    javascript_link,
    stray_internal_link,
    heading_event_handler,
    // References between pages: the true reason, once, and only close suggestions.
    draft_target,
    syntax_error_cascade,
    near_miss_links,
    near_miss_titles,
    duplicate_title,
    year_out_of_range,
    // A yearly date that is not one: month 13, 30 February, 29 February (three years in
    // four without it), day 0, no basis, no year to start from, not 每年, out of range.
    campaign_annual_invalid,
    // Official short names (`aliases`): empty, another page's title, repeated.
    bad_aliases,
    // Templates and themes.
    template_syntax_error,
    template_unknown_filter,
    template_component_recursion,
    template_self_include,
    template_huge_range,
    template_runaway_loop,
    missing_theme,
    theme_escape,
);

#[test]
fn kepu_new_skeleton_published_as_is() {
    // `kepu new`, then only `draft = true` deleted: the skeleton's placeholders must not go out.
    expect_failure(
        "kepu-new-skeleton",
        |s| {
            let out = Command::new(env!("CARGO_BIN_EXE_kepu"))
                .args(["new", "venue", "开封市科技馆", "--root"])
                .arg(&s.site)
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let page = s.site.join("content/venues/kai-feng-shi-ke-ji-guan.md");
            let text = std::fs::read_to_string(&page).unwrap();
            std::fs::write(&page, text.replace("draft = true\n", "")).unwrap();
        },
        false,
    );
}

#[test]
fn invalid_utf8() {
    expect_failure(
        "invalid-utf8",
        |s| write(s, "content/news/latin1.md", b"+++\ntitle = \"caf\xe9\"\n+++\n\nGr\xfc\xdfe\n"),
        false,
    );
}

#[test]
fn binary_file_named_md() {
    expect_failure(
        "binary-file",
        |s| {
            let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10\x08\x06\0\0\0".to_vec();
            png.extend((0..2000u32).map(|i| (i * 7919 % 251) as u8));
            write(s, "content/news/photo.md", &png);
        },
        false,
    );
}

#[test]
fn utf16_file() {
    // What some Windows editors save as "Unicode": UTF-16 with a BOM, full of NUL bytes.
    expect_failure(
        "utf16-file",
        |s| {
            let mut bytes = vec![0xFF, 0xFE];
            for unit in "+++\ntitle = \"页面\"\n+++\n".encode_utf16() {
                bytes.extend(unit.to_le_bytes());
            }
            write(s, "content/news/utf16.md", &bytes);
        },
        false,
    );
}

#[test]
fn fifty_megabyte_file() {
    expect_failure(
        "fifty-megabyte-file",
        |s| {
            let path = s.site.join("content/news/huge.md");
            let mut f = std::fs::File::create(&path).unwrap();
            f.write_all("+++\ntitle = \"巨大的页面\"\n+++\n\n".as_bytes()).unwrap();
            f.write_all(&"科普中原。".repeat(1000).into_bytes()).unwrap();
            // The rest is a hole: 50 MB on paper, little on disk, and kepu must not read it.
            f.set_len(50 * 1024 * 1024).unwrap();
        },
        false,
    );
}

#[test]
fn deeply_nested_yaml_flow() {
    // The YAML scanner is quadratic in `[` nesting: this took minutes before it failed.
    expect_failure(
        "yaml-deep-flow",
        |s| {
            let text = format!("---\ntitle: 深\nextra:\n  a: {}{}\n---\n", "[".repeat(50_000), "]".repeat(50_000));
            write(s, "content/news/deep.md", text.as_bytes());
        },
        false,
    );
}

#[test]
fn deeply_nested_blockquotes() {
    expect_failure(
        "deeply-nested-blockquotes",
        |s| {
            let body = format!("+++\ntitle = \"深\"\n+++\n\n正常的段落。\n\n{}太深了\n", "> ".repeat(20_000));
            write(s, "content/news/deep.md", body.as_bytes());
        },
        false,
    );
}

#[test]
fn deeply_nested_lists() {
    expect_failure(
        "deeply-nested-lists",
        |s| {
            let mut body = String::from("+++\ntitle = \"深\"\n+++\n\n");
            for i in 0..150 {
                body.push_str(&format!("{}- 第{}层\n", "  ".repeat(i), i + 1));
            }
            body.push_str(&format!("\n{}太深了\n", "1. - ".repeat(10_000)));
            write(s, "content/news/deep.md", body.as_bytes());
        },
        false,
    );
}

#[test]
fn symlink_to_a_file_outside_the_site() {
    expect_failure(
        "symlink-file-outside",
        |s| symlink(s.root().join("outside/secret.md"), s.site.join("content/news/secret.md")).unwrap(),
        false,
    );
}

#[test]
fn symlink_to_a_folder_outside_the_site() {
    expect_failure(
        "symlink-folder-outside",
        |s| symlink(s.root().join("outside"), s.site.join("content/news/outside")).unwrap(),
        false,
    );
}

#[test]
fn relative_symlink_climbing_out() {
    expect_failure(
        "symlink-relative-outside",
        |s| symlink("../../../../../../../../../outside/secret.md", s.site.join("content/news/up.md")).unwrap(),
        false,
    );
}

#[test]
fn static_folder_linked_outside() {
    expect_failure("symlink-static-outside", |s| symlink(s.root().join("outside"), s.site.join("static")).unwrap(), false);
}

#[test]
fn theme_linked_outside() {
    expect_failure(
        "symlink-theme-outside",
        |s| {
            std::fs::create_dir_all(s.site.join("themes")).unwrap();
            symlink(s.root().join("outside/theme"), s.site.join("themes/linked")).unwrap();
            let config = std::fs::read_to_string(s.site.join("config.toml")).unwrap();
            let config = config.replacen("base_url", "theme = \"linked\"\nbase_url", 1);
            std::fs::write(s.site.join("config.toml"), config).unwrap();
        },
        false,
    );
}

#[test]
fn symlink_loop() {
    expect_failure(
        "symlink-loop",
        |s| {
            symlink("b.md", s.site.join("content/news/a.md")).unwrap();
            symlink("a.md", s.site.join("content/news/b.md")).unwrap();
        },
        false,
    );
}

#[test]
fn dangling_symlink() {
    expect_failure("symlink-dangling", |s| symlink("gone.md", s.site.join("content/news/link.md")).unwrap(), false);
}

#[test]
fn output_folder_is_a_symlink() {
    // A site that ships `public -> somewhere`: swapping it in would replace, then delete,
    // the folder the link points at.
    expect_failure(
        "symlink-output",
        |s| {
            std::fs::remove_dir_all(s.site.join("public")).unwrap();
            symlink(s.root().join("outside/webroot"), s.site.join("public")).unwrap();
        },
        false,
    );
}

#[test]
fn named_pipe_named_md() {
    // Reading a FIFO blocks until someone writes to it: the build would hang forever.
    expect_failure(
        "named-pipe",
        |s| {
            let path = std::ffi::CString::new(s.site.join("content/news/pipe.md").to_str().unwrap()).unwrap();
            // SAFETY: a valid NUL-terminated path.
            assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o644) }, 0);
        },
        false,
    );
}

#[test]
fn unreadable_file() {
    expect_failure(
        "unreadable-file",
        |s| {
            write(s, "content/news/secret.md", b"+++\ntitle = \"x\"\n+++\n");
            std::fs::set_permissions(s.site.join("content/news/secret.md"), std::fs::Permissions::from_mode(0o000))
                .unwrap();
        },
        true,
    );
}

#[test]
fn unreadable_folder() {
    expect_failure(
        "unreadable-folder",
        |s| {
            write(s, "content/locked/page.md", b"+++\ntitle = \"x\"\n+++\n");
            std::fs::set_permissions(s.site.join("content/locked"), std::fs::Permissions::from_mode(0o000)).unwrap();
        },
        true,
    );
}

#[test]
fn crlf_error_points_at_the_right_line_and_column() {
    expect_failure(
        "crlf-error-line",
        |s| write(s, "content/news/crlf.md", b"+++\r\ntitle = \"Windows \xe6\x96\x87\xe4\xbb\xb6\"\r\ndate = 2024-13-01\r\n+++\r\n\r\nbody\r\n"),
        false,
    );
}

#[test]
fn bom_error_points_at_the_right_column() {
    expect_failure(
        "bom-error-line",
        |s| write(s, "content/news/bom.md", b"\xef\xbb\xbf+++\ntitel = \"BOM\"\n+++\n"),
        false,
    );
}

#[test]
fn bom_and_crlf_build_cleanly() {
    expect_success(
        "bom-and-crlf",
        |s| {
            let text = "\u{feff}+++\r\ntitle = \"带 BOM 的页面\"\r\ndescription = \"Windows 记事本保存的文件\"\r\n+++\r\n\r\n第一行\r\n第二行\r\n\r\n## 小标题\r\n";
            write(s, "content/news/bom-crlf.md", text.as_bytes());
        },
        |public| {
            let bytes = std::fs::read(public.join("news/bom-crlf/index.html")).unwrap();
            let html = String::from_utf8(bytes).unwrap();
            assert!(!html.contains('\u{feff}'), "BOM leaked into the page");
            assert!(!html.contains('\r'), "CR leaked into the page");
            let doc = scraper::Html::parse_document(&html);
            let h1: Vec<String> =
                doc.select(&scraper::Selector::parse("h1").unwrap()).map(|e| e.text().collect::<String>()).collect();
            assert!(h1.iter().any(|t| t.trim() == "带 BOM 的页面"), "{h1:?}");
            let ids: Vec<&str> = doc.select(&scraper::Selector::parse("h2[id]").unwrap()).filter_map(|e| e.attr("id")).collect();
            assert!(ids.contains(&"小标题"), "{ids:?}");
        },
    );
}

#[test]
fn absolute_url_path_stays_inside_public() {
    // `path` is a URL path: a leading `/` means the site's root, not the disk's.
    expect_success(
        "absolute-path",
        |s| write(s, "content/news/abs.md", "+++\ntitle = \"绝对路径\"\npath = \"/etc/passwd\"\n+++\n".as_bytes()),
        |public| {
            assert!(public.join("etc/passwd/index.html").is_file());
        },
    );
}

#[test]
fn closed_output_pipe_is_not_a_crash() {
    // `kepu build 2>&1 | head -1`: the reader goes away before kepu prints its diagnostics.
    let sandbox = Sandbox::new("toml-malformed");
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let status = Command::new(env!("CARGO_BIN_EXE_kepu"))
        .args(["build", "--root"])
        .arg(&sandbox.site)
        .stdout(writer.try_clone().unwrap())
        .stderr(writer)
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(1), "{status:?}");
}

#[test]
fn all_errors_of_a_stage_come_in_one_run() {
    // Several broken files at once: every one is reported, in a stable order, once. (Files that
    // cannot be read stop the build before the model stage, so those come first, together.)
    let sandbox = Sandbox::new("toml-malformed");
    write(&sandbox, "content/news/bin.md", b"\0\0\0");
    write(&sandbox, "content/news/latin1.md", b"+++\ntitle = \"caf\xe9\"\n+++\n");
    let out = run_kepu(&sandbox, false);
    assert_calm(&out.stderr);
    assert_eq!(out.code, Some(1));
    assert_eq!(out.stderr.matches("error:").count(), 2, "{}", out.stderr);
    for f in ["bin.md", "latin1.md"] {
        std::fs::remove_file(sandbox.site.join("content/news").join(f)).unwrap();
    }

    for (i, case) in ["path-parent", "unknown-taxonomy", "javascript-link"].iter().enumerate() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bad").join(case).join("content/news");
        for f in std::fs::read_dir(dir).unwrap().flatten() {
            std::fs::copy(f.path(), sandbox.site.join(format!("content/news/{i}-{}", f.file_name().to_string_lossy())))
                .unwrap();
        }
    }
    let first = run_kepu(&sandbox, false);
    assert_calm(&first.stderr);
    assert_eq!(first.code, Some(1));
    // bad.md's TOML, the path, the taxonomy and six unsafe links.
    assert_eq!(first.stderr.matches("error:").count(), 9, "{}", first.stderr);
    // The same input gives the same report, whatever the thread timing.
    let second = run_kepu(&sandbox, false);
    assert_eq!(first.stderr, second.stderr);
}

/// A checked-out site whose `.kepu-cache` is a link to a folder elsewhere (a site should
/// never bring one): kepu's image cache deletes what no build used and the output a build
/// replaces is kept there for the next one, so through the link a build would delete or move
/// another folder's files. Without photos the build succeeds and says why the cache was not
/// pruned; with a photo (the cache would write there) it stops with a clear error. Either
/// way the link's target is left exactly as it was.
#[test]
fn a_cache_folder_linking_elsewhere_is_never_followed() {
    let sandbox = Sandbox::new("cache_link");
    let target = sandbox.root().join("outside/cache-target");
    common::write(&target, "previous-output/mine.txt", "not kepu's\n");
    common::write(&target, "images/photo.webp", "someone's file\n");
    std::os::unix::fs::symlink(&target, sandbox.site.join(".kepu-cache")).unwrap();
    let before = snapshot(&target);
    for round in 0..3 {
        let out = run_kepu(&sandbox, false);
        assert_calm(&out.stderr);
        assert_eq!(out.code, Some(0), "round {round}:\n{}", out.stderr);
        let text = sandbox.normalize(&out.stderr);
        assert!(text.contains("the image cache folder SITE/.kepu-cache is a symbolic link"), "{text}");
        assert_eq!(snapshot(&target), before, "round {round} changed the link's target");
    }

    let png = {
        let mut bytes = Vec::new();
        image::RgbImage::from_pixel(40, 30, image::Rgb([200, 40, 40]))
            .write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png)
            .unwrap();
        bytes
    };
    write(&sandbox, "static/red.png", &png);
    write(&sandbox, "content/_index.md", "+++\ntitle = \"首页\"\n+++\n\n![一块红色](/red.png)\n".as_bytes());
    let public = snapshot(&sandbox.site.join("public"));
    let out = run_kepu(&sandbox, false);
    assert_calm(&out.stderr);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    let text = sandbox.normalize(&out.stderr);
    assert!(text.contains("the image cache folder SITE/.kepu-cache is a symbolic link"), "{text}");
    assert!(text.contains("remove the link"), "{text}");
    assert_eq!(snapshot(&sandbox.site.join("public")), public, "a failed build changed public/");
    assert_eq!(snapshot(&target), before);
}
