//! What a deploy does, decided before any byte moves, from three inputs: the local build's
//! manifest, the deployed state kept in the bucket (if any), and the bucket's listing with
//! ETags. Pure: no I/O, so the ordering and the safety rules are unit-tested here.
//!
//! Order: assets, then pages, then the documents that list pages (feeds, sitemap,
//! calendar), then the search manifest, then the site manifest; deletions after everything
//! is up. Each phase finishes before the next starts, so a visitor never gets a page whose
//! assets are missing, nor a search manifest whose shards are missing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::config::Precompressed;
use super::metadata::{self, SITE_MANIFEST};
use crate::write::manifest::{Entry, Manifest};

/// The search index's manifest: uploaded after its shards and after the pages it points to.
pub const SEARCH_MANIFEST: &str = "search/manifest.json";

/// Upload phases, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Stylesheets, scripts, images, search shards: everything pages use.
    Assets,
    /// HTML pages (the 404 page too).
    Pages,
    /// Feeds, sitemap and calendar: they link to pages.
    Listings,
    SearchManifest,
    SiteManifest,
}

impl Phase {
    pub fn of(key: &str) -> Phase {
        let ext = key.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
        if key == SITE_MANIFEST {
            Phase::SiteManifest
        } else if key == SEARCH_MANIFEST {
            Phase::SearchManifest
        } else if ext == "html" || ext == "htm" {
            Phase::Pages
        } else if ext == "xml" || ext == "ics" {
            Phase::Listings
        } else {
            Phase::Assets
        }
    }
}

/// One object as it should be in the bucket. `key` is relative to the target's prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Object {
    /// SHA-256 of the object's bytes (from the build manifest: the `.gz` sibling's when the
    /// object holds gzip bytes).
    pub sha256: String,
    pub bytes: u64,
    pub content_type: String,
    pub cache_control: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
    /// The ETag the server gave the upload (filled in after it; compared with the listing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

impl Object {
    /// Same bytes and same headers (the ETag is the server's, not part of the wish).
    fn same_as(&self, other: &Object) -> bool {
        self.sha256 == other.sha256
            && self.bytes == other.bytes
            && self.content_type == other.content_type
            && self.cache_control == other.cache_control
            && self.content_encoding == other.content_encoding
    }
}

/// An object to upload: where its bytes come from locally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub key: String,
    /// Output-relative path of the local file holding the bytes (`index.html.gz`).
    pub source: String,
    pub object: Object,
    pub phase: Phase,
}

/// The manifest `kepu deploy` stores in the bucket as `.kepu-manifest.json`: the build's
/// manifest (so `kepu manifest-diff` reads it as it is) plus what was uploaded for it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployedManifest {
    #[serde(flatten)]
    pub site: Manifest,
    /// Every object of the deploy, by key (the site manifest itself not included).
    #[serde(default)]
    pub objects: BTreeMap<String, Object>,
}

/// A key of the bucket listing (relative to the prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub key: String,
    pub size: u64,
    /// Without quotes.
    pub etag: Option<String>,
}

/// The objects a build should be published as, and the files left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wanted {
    pub objects: BTreeMap<String, (String, Object)>,
    /// Files nginx would not serve either (dot files): not published.
    pub unpublished: Vec<String>,
}

/// Map a build's files to objects. Precompressed siblings (`X.gz`/`X.br` next to `X`) are not
/// objects of their own: with [`Precompressed::Gzip`], `X`'s object holds `X.gz`'s bytes with
/// `Content-Encoding: gzip`; with [`Precompressed::None`], `X`'s plain bytes. A `.gz` without
/// a plain twin (the search shards) is an object like any other.
pub fn wanted(manifest: &Manifest, strategy: Precompressed) -> Wanted {
    let mut w = Wanted::default();
    let files = &manifest.files;
    for (path, entry) in files {
        if path == SITE_MANIFEST {
            continue;
        }
        let sibling_of = path.strip_suffix(".gz").or_else(|| path.strip_suffix(".br"));
        if sibling_of.is_some_and(|base| files.contains_key(base)) {
            continue;
        }
        let Some(meta) = metadata::for_path(path) else {
            w.unpublished.push(path.clone());
            continue;
        };
        let gz = format!("{path}.gz");
        let (source, body, encoding): (&str, &Entry, _) = match (strategy, files.get(&gz)) {
            (Precompressed::Gzip, Some(g)) if metadata::is_text(path) => (&gz, g, Some("gzip".to_string())),
            _ => (path, entry, None),
        };
        let object = Object {
            sha256: body.sha256.clone(),
            bytes: body.bytes,
            content_type: meta.content_type,
            cache_control: meta.cache_control.to_string(),
            content_encoding: encoding,
            etag: None,
        };
        w.objects.insert(path.clone(), (source.to_string(), object));
    }
    w
}

/// The decided work.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// In upload order (phase, then key); the site manifest is not among them.
    pub uploads: Vec<Upload>,
    /// Keys to delete after every upload.
    pub deletes: Vec<String>,
    /// Objects already right in the bucket, with their ETags.
    pub unchanged: BTreeMap<String, Object>,
    /// Wanted objects in total.
    pub objects: usize,
    pub unpublished: Vec<String>,
}

/// Decide the work. An object is left alone only when the listing shows its key with the
/// size and ETag the deployed manifest recorded for the same bytes and headers — or, when
/// the bucket has no (readable) deployed manifest, with the ETag `local_md5` computes (a
/// simple upload's ETag is its MD5). Everything else is uploaded; every listed key that is not
/// wanted is deleted, so a re-run after an interrupted deploy converges to the local site.
pub fn plan(
    wanted: Wanted,
    deployed: Option<&DeployedManifest>,
    listing: &[Listed],
    mut local_md5: impl FnMut(&str) -> Option<String>,
) -> Plan {
    let listed: BTreeMap<&str, &Listed> = listing.iter().map(|l| (l.key.as_str(), l)).collect();
    let mut p = Plan { objects: wanted.objects.len(), unpublished: wanted.unpublished, ..Plan::default() };
    let wanted_keys: std::collections::BTreeSet<String> = wanted.objects.keys().cloned().collect();
    for (key, (source, object)) in wanted.objects {
        let in_bucket = listed.get(key.as_str()).filter(|l| l.size == object.bytes);
        let current_etag = in_bucket.and_then(|l| l.etag.clone());
        let up_to_date = match (in_bucket, deployed) {
            (None, _) => false,
            (Some(l), Some(d)) => d.objects.get(&key).is_some_and(|o| o.same_as(&object) && o.etag.is_some() && o.etag == l.etag),
            (Some(l), None) => l.etag.is_some() && local_md5(&source) == l.etag,
        };
        if up_to_date {
            p.unchanged.insert(key, Object { etag: current_etag, ..object });
        } else {
            let phase = Phase::of(&key);
            p.uploads.push(Upload { key, source, object, phase });
        }
    }
    p.uploads.sort_by(|a, b| (a.phase, &a.key).cmp(&(b.phase, &b.key)));
    p.deletes = listing
        .iter()
        .filter(|l| l.key != SITE_MANIFEST && !wanted_keys.contains(&l.key))
        .map(|l| l.key.clone())
        .collect();
    p.deletes.sort();
    p
}

/// The default `--max-deletes`: a tenth of what is deployed, at least 10. A build gone wrong
/// (an empty `content/`, a wrong `--output`) would otherwise wipe the live site.
pub fn default_max_deletes(deployed_objects: usize) -> usize {
    (deployed_objects / 10).max(10)
}

/// Refuse a plan that deletes more than `max` objects unless forced.
pub fn check_deletes(plan: &Plan, max: usize, force: bool) -> Result<(), (usize, usize)> {
    if plan.deletes.len() > max && !force { Err((plan.deletes.len(), max)) } else { Ok(()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(files: &[(&str, &str, u64)]) -> Manifest {
        Manifest::new(files.iter().map(|(p, h, b)| (p.to_string(), Entry { sha256: h.to_string(), bytes: *b })).collect())
    }

    fn site() -> Manifest {
        manifest(&[
            ("index.html", "h1", 5000),
            ("index.html.gz", "g1", 1200),
            ("index.html.br", "b1", 1000),
            ("venues/x/index.html", "h2", 4000),
            ("css/site.css", "c1", 3000),
            ("css/site.css.gz", "c1g", 800),
            ("img/logo.png", "p1", 9000),
            ("atom.xml", "a1", 2000),
            ("sitemap.xml", "s1", 2000),
            ("campaigns.ics", "i1", 700),
            ("search/manifest.json", "m1", 300),
            ("search/shards/1.bin.gz", "sh1", 4000),
            ("robots.txt", "r1", 50),
            ("404.html", "e1", 900),
            (".DS_Store", "x", 10),
        ])
    }

    fn keys(p: &Plan) -> Vec<(Phase, &str)> {
        p.uploads.iter().map(|u| (u.phase, u.key.as_str())).collect()
    }

    #[test]
    fn first_deploy_orders_assets_pages_listings_search_manifest() {
        let p = plan(wanted(&site(), Precompressed::Gzip), None, &[], |_| None);
        use Phase::*;
        assert_eq!(
            keys(&p),
            [
                (Assets, "css/site.css"),
                (Assets, "img/logo.png"),
                (Assets, "robots.txt"),
                (Assets, "search/shards/1.bin.gz"),
                (Pages, "404.html"),
                (Pages, "index.html"),
                (Pages, "venues/x/index.html"),
                (Listings, "atom.xml"),
                (Listings, "campaigns.ics"),
                (Listings, "sitemap.xml"),
                (SearchManifest, "search/manifest.json"),
            ]
        );
        assert_eq!(p.unpublished, [".DS_Store"]);
        assert!(p.deletes.is_empty());
        assert_eq!(p.objects, 11);
    }

    #[test]
    fn gzip_strategy_uploads_the_sibling_bytes_with_an_encoding() {
        let w = wanted(&site(), Precompressed::Gzip);
        let (source, o) = &w.objects["index.html"];
        assert_eq!((source.as_str(), o.sha256.as_str(), o.bytes, o.content_encoding.as_deref()), ("index.html.gz", "g1", 1200, Some("gzip")));
        assert_eq!(o.content_type, "text/html; charset=utf-8");
        let (source, o) = &w.objects["search/shards/1.bin.gz"];
        assert_eq!((source.as_str(), o.content_encoding.as_deref(), o.content_type.as_str()), ("search/shards/1.bin.gz", None, "application/gzip"));
        // No sibling: the plain bytes.
        assert_eq!(w.objects["venues/x/index.html"].1.content_encoding, None);
        assert!(!w.objects.contains_key("index.html.gz") && !w.objects.contains_key("index.html.br"));
        let plain = wanted(&site(), Precompressed::None);
        assert_eq!(plain.objects["index.html"].0, "index.html");
        assert_eq!(plain.objects["index.html"].1.content_encoding, None);
        assert_eq!(plain.objects.len(), w.objects.len());
    }

    fn deployed_after(p: &Plan, site: &Manifest) -> (DeployedManifest, Vec<Listed>) {
        let mut objects = p.unchanged.clone();
        for u in &p.uploads {
            objects.insert(u.key.clone(), Object { etag: Some(format!("etag-{}", u.object.sha256)), ..u.object.clone() });
        }
        let listing = objects.iter().map(|(k, o)| Listed { key: k.clone(), size: o.bytes, etag: o.etag.clone() }).collect();
        (DeployedManifest { site: site.clone(), objects }, listing)
    }

    #[test]
    fn incremental_deploy_uploads_only_changes_and_deletes_last() {
        let old = site();
        let first = plan(wanted(&old, Precompressed::Gzip), None, &[], |_| None);
        let (deployed, listing) = deployed_after(&first, &old);
        // Nothing changed: nothing to do.
        let again = plan(wanted(&old, Precompressed::Gzip), Some(&deployed), &listing, |_| None);
        assert!(again.uploads.is_empty() && again.deletes.is_empty());
        assert_eq!(again.unchanged.len(), 11);
        // One page edited (its gzip sibling changes with it), one page removed.
        let mut new = old.clone();
        new.files.insert("index.html".into(), Entry { sha256: "h1'".into(), bytes: 5001 });
        new.files.insert("index.html.gz".into(), Entry { sha256: "g1'".into(), bytes: 1201 });
        new.files.remove("venues/x/index.html");
        let p = plan(wanted(&new, Precompressed::Gzip), Some(&deployed), &listing, |_| None);
        assert_eq!(keys(&p), [(Phase::Pages, "index.html")]);
        assert_eq!(p.deletes, ["venues/x/index.html"]);
        // Only the headers changed (another strategy): re-uploaded.
        let p = plan(wanted(&old, Precompressed::None), Some(&deployed), &listing, |_| None);
        assert_eq!(p.uploads.len(), 2, "{:?}", keys(&p)); // index.html and css/site.css
    }

    #[test]
    fn interrupted_deploy_converges() {
        let old = site();
        let first = plan(wanted(&old, Precompressed::Gzip), None, &[], |_| None);
        let (deployed, mut listing) = deployed_after(&first, &old);
        // A run for a new build was killed after uploading a new page and the new CSS (the
        // old deployed manifest is still in the bucket).
        let mut new = old.clone();
        new.files.insert("new/index.html".into(), Entry { sha256: "n".into(), bytes: 10 });
        new.files.insert("css/site.css".into(), Entry { sha256: "c2".into(), bytes: 3001 });
        new.files.remove("css/site.css.gz");
        listing.push(Listed { key: "new/index.html".into(), size: 10, etag: Some("etag-n".into()) });
        let css = listing.iter_mut().find(|l| l.key == "css/site.css").unwrap();
        *css = Listed { key: "css/site.css".into(), size: 3001, etag: Some("etag-c2".into()) };
        let p = plan(wanted(&new, Precompressed::Gzip), Some(&deployed), &listing, |_| None);
        // Not in the old manifest: uploaded again (headers unverified); nothing lost.
        assert_eq!(keys(&p), [(Phase::Assets, "css/site.css"), (Phase::Pages, "new/index.html")]);
        // A file that existed only in the killed run's build is deleted by the next one.
        listing.push(Listed { key: "orphan.html".into(), size: 1, etag: None });
        let p = plan(wanted(&old, Precompressed::Gzip), Some(&deployed), &listing, |_| None);
        assert!(p.deletes.contains(&"orphan.html".to_string()) && p.deletes.contains(&"new/index.html".to_string()));
        // A key changed behind kepu's back (ETag differs from the recorded one) is re-uploaded.
        let mut tampered = listing.clone();
        tampered.iter_mut().find(|l| l.key == "robots.txt").unwrap().etag = Some("other".into());
        let p = plan(wanted(&old, Precompressed::Gzip), Some(&deployed), &tampered, |_| None);
        assert!(keys(&p).contains(&(Phase::Assets, "robots.txt")));
    }

    #[test]
    fn without_a_deployed_manifest_etags_decide() {
        let listing = vec![
            Listed { key: "robots.txt".into(), size: 50, etag: Some("md5-r1".into()) },
            Listed { key: "img/logo.png".into(), size: 9000, etag: Some("something-else".into()) },
            Listed { key: "stale.html".into(), size: 3, etag: None },
            Listed { key: SITE_MANIFEST.into(), size: 3, etag: None },
        ];
        let mut asked = Vec::new();
        let p = plan(wanted(&site(), Precompressed::Gzip), None, &listing, |src| {
            asked.push(src.to_string());
            Some(format!("md5-{}", &site().files[src].sha256))
        });
        assert!(p.unchanged.contains_key("robots.txt"));
        assert!(keys(&p).contains(&(Phase::Assets, "img/logo.png")));
        assert_eq!(p.deletes, ["stale.html"]); // never the site manifest
        asked.sort();
        assert_eq!(asked, ["img/logo.png", "robots.txt"]); // MD5 only of listed keys
    }

    #[test]
    fn max_deletes_needs_force() {
        let p = Plan { deletes: (0..11).map(|i| i.to_string()).collect(), ..Plan::default() };
        assert_eq!(default_max_deletes(50), 10);
        assert_eq!(default_max_deletes(1000), 100);
        assert_eq!(check_deletes(&p, 10, false), Err((11, 10)));
        assert_eq!(check_deletes(&p, 10, true), Ok(()));
        assert_eq!(check_deletes(&p, 11, false), Ok(()));
        // An empty build against a deployed site: everything would go.
        let old = site();
        let first = plan(wanted(&old, Precompressed::Gzip), None, &[], |_| None);
        let (deployed, listing) = deployed_after(&first, &old);
        let p = plan(wanted(&Manifest::default(), Precompressed::Gzip), Some(&deployed), &listing, |_| None);
        assert_eq!(p.deletes.len(), 11);
        assert!(check_deletes(&p, default_max_deletes(listing.len()), false).is_err());
    }

    #[test]
    fn deployed_manifest_reads_as_a_build_manifest() {
        let first = plan(wanted(&site(), Precompressed::Gzip), None, &[], |_| None);
        let (deployed, _) = deployed_after(&first, &site());
        let json = serde_json::to_string(&deployed).unwrap();
        let as_build: Manifest = serde_json::from_str(&json).unwrap();
        assert_eq!(as_build, site());
        let back: DeployedManifest = serde_json::from_str(&json).unwrap();
        assert_eq!(back, deployed);
    }
}
