//! `.kepu-manifest.json`: every file of the output folder with its SHA-256 and size, so a
//! deploy uploads only what changed between two builds ([`diff`]).
//!
//! ```json
//! { "version": 1, "files": { "index.html": { "sha256": "…", "bytes": 12345 }, … } }
//! ```
//! Paths are `/`-separated and relative to the output folder; the manifest does not list
//! itself. Compressed siblings (`.gz`, `.br`) are files like any other.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// Format version written into the manifest.
pub const VERSION: u32 = 1;

/// One file's fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub sha256: String,
    pub bytes: u64,
}

/// The whole manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    #[serde(default = "version")]
    pub version: u32,
    pub files: BTreeMap<String, Entry>,
}

fn version() -> u32 {
    VERSION
}

/// Why a manifest could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path} is not a kepu manifest: {source}")]
    Json { path: String, source: serde_json::Error },
    #[error("{path} has manifest version {found}; this kepu reads version {VERSION}")]
    Version { path: String, found: u32 },
}

impl Manifest {
    pub fn new(files: BTreeMap<String, Entry>) -> Manifest {
        Manifest { version: VERSION, files }
    }

    /// Read a manifest file (`public/.kepu-manifest.json`, or one kept from the last deploy).
    pub fn load(path: &Path) -> Result<Manifest, ManifestError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Io { path: shown.clone(), source })?;
        let m: Manifest = serde_json::from_str(&text).map_err(|source| ManifestError::Json { path: shown.clone(), source })?;
        if m.version != VERSION {
            return Err(ManifestError::Version { path: shown, found: m.version });
        }
        Ok(m)
    }

    /// Pretty JSON with a final newline (stable: keys are sorted).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }
}

/// What changed from one build to the next.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ManifestDiff {
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub removed: Vec<String>,
    pub unchanged: usize,
}

impl ManifestDiff {
    /// Files to upload, in a safe order: assets first, then HTML pages, so no page goes live
    /// before what it references; each group sorted by path.
    pub fn upload(&self) -> Vec<&str> {
        let mut all: Vec<&str> = self.added.iter().chain(&self.changed).map(String::as_str).collect();
        all.sort_by_key(|p| (is_page(p), *p));
        all
    }

    /// Files to delete from the server, after the upload.
    pub fn delete(&self) -> Vec<&str> {
        self.removed.iter().map(String::as_str).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty()
    }
}

/// A page, or a compressed sibling of one.
fn is_page(path: &str) -> bool {
    let p = path.strip_suffix(".gz").or_else(|| path.strip_suffix(".br")).unwrap_or(path);
    p.ends_with(".html") || p.ends_with(".htm")
}

/// Compare the manifest of what is deployed (`old`) with a new build's (`new`).
pub fn diff(old: &Manifest, new: &Manifest) -> ManifestDiff {
    let mut d = ManifestDiff::default();
    for (path, entry) in &new.files {
        match old.files.get(path) {
            None => d.added.push(path.clone()),
            Some(o) if o != entry => d.changed.push(path.clone()),
            Some(_) => d.unchanged += 1,
        }
    }
    d.removed = old.files.keys().filter(|p| !new.files.contains_key(*p)).cloned().collect();
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(files: &[(&str, &str)]) -> Manifest {
        Manifest::new(files.iter().map(|(p, h)| (p.to_string(), Entry { sha256: h.to_string(), bytes: 1 })).collect())
    }

    #[test]
    fn diff_lists_added_changed_removed_and_orders_uploads() {
        let old = m(&[("index.html", "a"), ("css/site.css", "b"), ("gone.html", "c"), ("same.txt", "d")]);
        let new = m(&[("index.html", "A"), ("css/site.css", "B"), ("index.html.gz", "e"), ("same.txt", "d"), ("new.png", "f")]);
        let d = diff(&old, &new);
        assert_eq!(d.added, ["index.html.gz", "new.png"]);
        assert_eq!(d.changed, ["css/site.css", "index.html"]);
        assert_eq!(d.removed, ["gone.html"]);
        assert_eq!(d.unchanged, 1);
        assert_eq!(d.upload(), ["css/site.css", "new.png", "index.html", "index.html.gz"]);
        assert!(diff(&new, &new).is_empty());
    }

    #[test]
    fn load_round_trips_and_rejects_other_versions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.json");
        let manifest = m(&[("a.html", "x")]);
        std::fs::write(&path, manifest.to_json()).unwrap();
        assert_eq!(Manifest::load(&path).unwrap(), manifest);
        std::fs::write(&path, r#"{"version": 9, "files": {}}"#).unwrap();
        assert!(matches!(Manifest::load(&path), Err(ManifestError::Version { found: 9, .. })));
        std::fs::write(&path, "[]").unwrap();
        assert!(matches!(Manifest::load(&path), Err(ManifestError::Json { .. })));
    }
}
