//! Stage 1, **load**: find the content files, read them, and split front matter from body.
//!
//! Owns: walking `content/`, decoding text (BOM, CRLF, invalid UTF-8), the front-matter
//! delimiters, and page-bundle assets. Keeps byte offsets so later stages can point at
//! `file:line:col`. Knows nothing of front-matter *fields*, themes or HTML.

pub mod data;
mod split;
pub mod theme;

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use walkdir::WalkDir;

use crate::diagnostics::{Diagnostic, Diagnostics};

pub use split::{split_front_matter, FrontMatterFormat, Split};

/// Whether a Markdown file is a section (`_index.md`) or a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    Section,
    Page,
}

/// One content file, read and split, not yet understood.
#[derive(Debug, Clone)]
pub struct Document {
    /// Path relative to `content/`, with `/` separators (`venues/jiao-zuo.md`). This is the
    /// document's identity: internal links `@/venues/jiao-zuo.md` use it.
    pub rel_path: String,
    /// Path relative to the site root, for diagnostics (`content/venues/jiao-zuo.md`).
    pub display_path: PathBuf,
    pub kind: DocumentKind,
    /// The whole file text (BOM removed, CRLF turned into LF) for error excerpts.
    pub source: String,
    pub format: FrontMatterFormat,
    /// Byte range of the front-matter text (between the delimiters) in `source`.
    pub front_matter: std::ops::Range<usize>,
    /// Byte offset where the Markdown body starts in `source`.
    pub body_start: usize,
    /// Files next to a bundle's `index.md` (images, PDFs) to copy alongside the page.
    pub assets: Vec<PathBuf>,
}

impl Document {
    /// A page document made from `source` as if read from `content/{rel_path}`, for tests of
    /// the stages after loading.
    #[cfg(test)]
    pub fn page_for_test(rel_path: &str, source: &str) -> Document {
        let split = split_front_matter(source).expect("front matter");
        Document {
            rel_path: rel_path.into(),
            display_path: format!("content/{rel_path}").into(),
            kind: DocumentKind::Page,
            source: source.into(),
            format: split.format,
            front_matter: split.front_matter,
            body_start: split.body_start,
            assets: Vec::new(),
        }
    }

    pub fn front_matter_text(&self) -> &str {
        &self.source[self.front_matter.clone()]
    }
    pub fn body(&self) -> &str {
        &self.source[self.body_start..]
    }
    /// 1-based line where the body starts.
    pub fn body_line(&self) -> usize {
        self.source[..self.body_start].matches('\n').count() + 1
    }
    /// The folder of a bundle (`venues/x` for `venues/x/index.md`), if this page is one.
    pub fn bundle_dir(&self) -> Option<&str> {
        let stem = self.rel_path.strip_suffix("/index.md")?;
        Some(stem)
    }
}

/// Largest Markdown file accepted; bigger files are almost certainly a mistake and would make
/// the portal's pages unusable on a phone anyway.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Walk `root/content` and read every Markdown file in parallel; all problems are returned
/// together.
pub fn load_content(root: &Path) -> Result<Vec<Document>, Diagnostics> {
    let content = root.join("content");
    let mut diags = Diagnostics::new();
    if !content.is_dir() {
        return Err(Diagnostic::error("there is no content/ folder")
            .file("content")
            .hint("run kepu in a site folder (one with config.toml and content/), or pass --root")
            .into());
    }
    let root_canon = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    if let Some(d) = link_out_of_site(root, &content) {
        return Err(d.into());
    }
    let mut markdown = Vec::new();
    let mut others = Vec::new();
    let walker = WalkDir::new(&content).follow_links(false).sort_by_file_name();
    for entry in walker {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let path = e.path().map(|p| display(root, p)).unwrap_or_else(|| "content".into());
                diags.push(
                    Diagnostic::error(format!("cannot read this folder entry: {e}"))
                        .file(path)
                        .hint("check the file permissions"),
                );
                continue;
            }
        };
        let path = entry.path();
        let name = entry.file_name().to_string_lossy();
        if is_ignored(&name) {
            continue;
        }
        if entry.path_is_symlink() {
            match path.canonicalize() {
                Ok(target) if target.starts_with(&root_canon) => {}
                Ok(target) => {
                    diags.push(
                        Diagnostic::error(format!(
                            "symbolic link points outside the site (to {})",
                            target.display()
                        ))
                        .file(display(root, path))
                        .hint("copy the file into the site instead of linking to it"),
                    );
                    continue;
                }
                Err(e) => {
                    let message = if e.kind() == std::io::ErrorKind::NotFound {
                        "symbolic link points to nothing".to_string()
                    } else {
                        format!("symbolic link cannot be followed: {e}")
                    };
                    diags.push(
                        Diagnostic::error(message)
                            .file(display(root, path))
                            .hint("remove the link or restore its target"),
                    );
                    continue;
                }
            }
            if path.is_dir() {
                diags.push(
                    Diagnostic::error("symbolic links to folders are not followed")
                        .file(display(root, path))
                        .hint("move the folder into content/"),
                );
                continue;
            }
        }
        // The walker knows the entry's type; only a (checked) symbolic link needs a stat.
        let is_dir = if entry.path_is_symlink() { path.is_dir() } else { entry.file_type().is_dir() };
        if is_dir {
            continue;
        }
        if path.extension().is_some_and(|e| e == "md") {
            markdown.push(path.to_path_buf());
        } else {
            others.push(path.to_path_buf());
        }
    }

    let results: Vec<Result<Document, Diagnostic>> =
        markdown.par_iter().map(|p| read_document(root, &content, p)).collect();
    let mut docs = Vec::with_capacity(results.len());
    for r in results {
        match r {
            Ok(d) => docs.push(d),
            Err(d) => diags.push(d),
        }
    }
    attach_assets(&content, &mut docs, &others);
    if diags.has_errors() { Err(diags) } else { Ok(docs) }
}

/// Editors' temporary and hidden files are not content.
pub fn is_ignored(name: &str) -> bool {
    name.starts_with('.')
        || name.starts_with('#')
        || name.ends_with('~')
        || name.ends_with(".swp")
        || name.ends_with(".swx")
        || name.ends_with(".tmp")
        || name.ends_with(".bak")
}

fn display(root: &Path, path: &Path) -> PathBuf {
    path.strip_prefix(root).unwrap_or(path).to_path_buf()
}

/// An error if `path` (a folder kepu reads: `content/`, `static/`, a theme) is a symbolic link
/// that resolves outside the site root. Links inside the site are fine.
pub fn link_out_of_site(root: &Path, path: &Path) -> Option<Diagnostic> {
    if !path.symlink_metadata().is_ok_and(|m| m.file_type().is_symlink()) {
        return None;
    }
    let root_canon = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let (message, hint) = match path.canonicalize() {
        Ok(target) if target.starts_with(&root_canon) => return None,
        Ok(target) => (
            format!("symbolic link points outside the site (to {})", target.display()),
            "copy the folder into the site instead of linking to it",
        ),
        Err(e) => (format!("symbolic link cannot be followed: {e}"), "remove the link or restore its target"),
    };
    Some(Diagnostic::error(message).file(display(root, path)).hint(hint))
}

/// Read one Markdown file and split its front matter.
pub fn read_document(root: &Path, content: &Path, path: &Path) -> Result<Document, Diagnostic> {
    let display_path = display(root, path);
    let rel_path = path
        .strip_prefix(content)
        .unwrap_or(path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/");
    let meta = std::fs::metadata(path).map_err(|e| {
        Diagnostic::error(format!("cannot read file: {e}"))
            .file(&display_path)
            .hint("check that the file exists and is readable (permissions)")
    })?;
    // A named pipe, socket or device would block the build or never end; refuse it unopened.
    if !meta.is_file() {
        return Err(Diagnostic::error("not a regular file (a named pipe, socket or device file)")
            .file(&display_path)
            .hint("replace it with an ordinary text file, or remove it"));
    }
    let too_big = |len: u64| {
        Diagnostic::error(format!(
            "file is {:.1} MB, larger than the {} MB limit for one page",
            len as f64 / (1024.0 * 1024.0),
            MAX_FILE_BYTES / (1024 * 1024)
        ))
        .file(&display_path)
        .hint("split it into several pages, or move data files to static/")
    };
    if meta.len() > MAX_FILE_BYTES {
        return Err(too_big(meta.len()));
    }
    let cannot_read = |e: std::io::Error| {
        Diagnostic::error(format!("cannot read file: {e}"))
            .file(&display_path)
            .hint("check the file permissions (kepu must be able to read every file in content/)")
    };
    // Read at most one byte past the limit, in case the file grew since `metadata`.
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    std::fs::File::open(path)
        .and_then(|f| std::io::Read::read_to_end(&mut std::io::Read::take(f, MAX_FILE_BYTES + 1), &mut bytes))
        .map_err(cannot_read)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_big(bytes.len() as u64));
    }
    let source = decode_text_owned(bytes).map_err(|(bytes, offset, message)| {
        let valid = String::from_utf8_lossy(&bytes[..offset]).into_owned();
        Diagnostic::error(message)
            .file(&display_path)
            .hint("save the file as UTF-8 text (binary files do not belong in .md files)")
            .at_offset(&valid, valid.len())
    })?;
    let split = split_front_matter(&source).map_err(|e| {
        Diagnostic::error(e.message)
            .file(&display_path)
            .hint(e.hint)
            .at_offset(&source, e.offset)
    })?;
    let kind = if path.file_name().is_some_and(|n| n == "_index.md") {
        DocumentKind::Section
    } else {
        DocumentKind::Page
    };
    Ok(Document {
        rel_path,
        display_path,
        kind,
        format: split.format,
        front_matter: split.front_matter,
        body_start: split.body_start,
        source,
        assets: Vec::new(),
    })
}

/// Read one file of `content/` the way [`load_content`] would, bundle assets included: for
/// `kepu serve`, which re-reads only what changed. `Ok(None)` when the path is not a content
/// document (not Markdown, an editor's temporary file, a folder).
pub fn read_content_file(root: &Path, path: &Path) -> Result<Option<Document>, Diagnostic> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if is_ignored(&name) || path.extension().is_none_or(|e| e != "md") || path.is_dir() {
        return Ok(None);
    }
    let content = root.join("content");
    if path.is_symlink() {
        let root_canon = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
        match path.canonicalize() {
            Ok(target) if target.starts_with(&root_canon) => {}
            Ok(target) => {
                return Err(Diagnostic::error(format!("symbolic link points outside the site (to {})", target.display()))
                    .file(display(root, path))
                    .hint("copy the file into the site instead of linking to it"));
            }
            Err(_) => {
                return Err(Diagnostic::error("symbolic link points to nothing")
                    .file(display(root, path))
                    .hint("remove the link or restore its target"));
            }
        }
    }
    let mut doc = read_document(root, &content, path)?;
    if let Some(dir) = doc.bundle_dir() {
        let dir = content.join(dir);
        let mut assets: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| {
                        let n = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                        !is_ignored(&n) && p.extension().is_none_or(|e| e != "md") && !p.is_dir()
                    })
                    .collect()
            })
            .unwrap_or_default();
        assets.sort();
        doc.assets = assets;
    }
    Ok(Some(doc))
}

/// Decode UTF-8, dropping a BOM and normalising CRLF to LF; binary files are refused.
pub fn decode_text(bytes: &[u8]) -> Result<String, (usize, String)> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Some(pos) = bytes.iter().position(|&b| b == 0) {
        return Err((pos, "file contains NUL bytes: this is a binary file, not Markdown".into()));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        (e.valid_up_to(), format!("file is not valid UTF-8 (bad byte at offset {})", e.valid_up_to()))
    })?;
    Ok(if text.contains('\r') { text.replace("\r\n", "\n").replace('\r', "\n") } else { text.to_string() })
}

/// [`decode_text`] keeping the bytes when they already are the text (UTF-8 without a BOM,
/// NUL bytes or carriage returns: nearly every file), instead of copying them. On failure
/// the bytes come back with the error, for its excerpt.
pub fn decode_text_owned(bytes: Vec<u8>) -> Result<String, (Vec<u8>, usize, String)> {
    // memchr scans many bytes at a time; a byte-by-byte scan was about as costly as the
    // UTF-8 check itself.
    let plain = !bytes.starts_with(b"\xEF\xBB\xBF") && memchr::memchr2(0, b'\r', &bytes).is_none();
    let bytes = if plain {
        match String::from_utf8(bytes) {
            Ok(text) => return Ok(text),
            Err(e) => e.into_bytes(),
        }
    } else {
        bytes
    };
    decode_text(&bytes).map_err(|(offset, message)| (bytes, offset, message))
}

/// Give every bundle page (`x/index.md`) the non-Markdown files in its folder.
fn attach_assets(content: &Path, docs: &mut [Document], others: &[PathBuf]) {
    for doc in docs.iter_mut() {
        let Some(dir) = doc.bundle_dir() else { continue };
        let dir = content.join(dir);
        doc.assets = others.iter().filter(|p| p.parent() == Some(dir.as_path())).cloned().collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_decoding_is_decoding() {
        for case in [&b"+++\ntitle = \"a\"\n+++\nbody"[..], b"\xEF\xBB\xBFa\r\nb", b"a\rb", b"ok \xE4\xB8\xAD"] {
            assert_eq!(decode_text_owned(case.to_vec()).ok(), decode_text(case).ok());
        }
        for bad in [&b"a\0b"[..], b"a\xFFb", b"\r\xC3"] {
            let (bytes, offset, message) = decode_text_owned(bad.to_vec()).unwrap_err();
            assert_eq!((bytes.as_slice(), Err((offset, message))), (bad, decode_text(bad)));
        }
    }

    #[test]
    fn decode_strips_bom_and_crlf() {
        let t = decode_text(b"\xEF\xBB\xBF+++\r\ntitle = \"a\"\r\n+++\r\nbody").unwrap();
        assert_eq!(t, "+++\ntitle = \"a\"\n+++\nbody");
    }

    #[test]
    fn decode_refuses_binary_and_bad_utf8() {
        assert!(decode_text(b"abc\0def").is_err());
        let (off, msg) = decode_text(b"ab\xffcd").unwrap_err();
        assert_eq!(off, 2);
        assert!(msg.contains("UTF-8"));
    }

    #[test]
    fn editor_temp_files_are_ignored() {
        for n in [".x.md.swp", "x.md~", "#x.md#", ".hidden.md"] {
            assert!(is_ignored(n), "{n}");
        }
        assert!(!is_ignored("zheng-zhou.md"));
    }
}
