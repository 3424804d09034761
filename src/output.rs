//! The unit every producing stage hands to `write`: a file of the finished site.

use std::path::PathBuf;

/// One file of the output site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputFile {
    /// Path inside the output folder, `/`-separated, no leading slash (`venues/x/index.html`).
    pub path: String,
    pub contents: Contents,
}

/// What goes into an output file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contents {
    /// Bytes produced by the build.
    Bytes(Vec<u8>),
    /// A file copied as is (static files, bundle assets).
    Copy(PathBuf),
    /// A finished file the build keeps and never rewrites in place (an image cache entry),
    /// with its digest known: the write stage hard-links it into the output (copying where a
    /// link cannot be made) and lists it in the manifest without reading it. `id`, when
    /// known, is the file the path named when its digest was checked: the write stage tells
    /// by it that a reused output already holds this very file, without looking again.
    Linked { file: PathBuf, sha256: String, bytes: u64, id: Option<FileId> },
}

/// Which file a path named when it was looked at (device and inode), for [`Contents::Linked`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileId {
    pub device: u64,
    pub inode: u64,
}

impl FileId {
    pub fn of(meta: &std::fs::Metadata) -> FileId {
        use std::os::unix::fs::MetadataExt;
        FileId { device: meta.dev(), inode: meta.ino() }
    }
}

impl OutputFile {
    pub fn bytes(path: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Self {
        OutputFile { path: path.into(), contents: Contents::Bytes(bytes.into()) }
    }
    pub fn copy(path: impl Into<String>, from: PathBuf) -> Self {
        OutputFile { path: path.into(), contents: Contents::Copy(from) }
    }
    pub fn linked(path: impl Into<String>, file: PathBuf, sha256: String, bytes: u64, id: Option<FileId>) -> Self {
        OutputFile { path: path.into(), contents: Contents::Linked { file, sha256, bytes, id } }
    }
}
