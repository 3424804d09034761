//! `kepu deploy`: publish a finished build (`kepu build --minify --precompress`) to
//! S3-compatible object storage, uploading only what changed.
//!
//! - [`config`]: the `[deploy]` section of config.toml (where; never credentials);
//! - [`credentials`]: the environment or the AWS credentials file, values that never print;
//! - [`metadata`]: the one table of `Content-Type`/`Cache-Control`, shared with nginx.conf;
//! - [`plan`]: pure decisions — which objects, in which order, what to delete;
//! - [`client`]: the bucket, through `object_store`.
//!
//! [`run`] ties them together and reports progress through a callback: the library never
//! prints.

pub mod client;
pub mod config;
pub mod credentials;
pub mod metadata;
pub mod plan;

use std::path::{Path, PathBuf};
use std::time::Instant;

use futures_util::{StreamExt, TryStreamExt};
use serde::Serialize;

use crate::write::manifest::{Manifest, ManifestError};
pub use client::Network;
use client::{Bucket, Remote};
pub use config::{DeployConfig, Target};
pub use credentials::{Credentials, CredentialsError};
use plan::{DeployedManifest, Object, Phase};

/// Why a deploy stopped. No variant carries a credential: network messages are redacted.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("{0} (run `kepu build --minify --precompress` first)")]
    LocalManifest(#[from] ManifestError),
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    #[error("cannot set up the S3 client: {0}")]
    Client(String),
    #[error("cannot {action} {key}: {message}", key = if key.is_empty() { "the bucket" } else { key })]
    Remote { action: &'static str, key: String, message: String },
    #[error("cannot read {path}: {reason}")]
    LocalIo { path: String, reason: String },
    #[error("{0} is not the file the build's manifest lists (the output folder changed after the build); build again")]
    LocalChanged(String),
    #[error("`{0}` cannot be an object key")]
    BadKey(String),
    #[error(
        "this deploy would delete {count} objects, more than --max-deletes {max}; check the build, then pass --force (or a larger --max-deletes)"
    )]
    TooManyDeletes { count: usize, max: usize },
}

/// What to deploy where, and how.
#[derive(Debug, Clone)]
pub struct DeployOptions {
    /// The output folder of the build (holds `.kepu-manifest.json`).
    pub public: PathBuf,
    pub target: Target,
    pub dry_run: bool,
    pub force: bool,
    /// `None`: [`plan::default_max_deletes`].
    pub max_deletes: Option<usize>,
    /// Uploads and deletions in flight at once.
    pub workers: usize,
    pub network: Network,
}

/// Progress, for a bar or a log.
#[derive(Debug, Clone)]
pub enum Event<'a> {
    /// The plan is made: this many uploads (bytes) and deletions follow.
    Planned { uploads: usize, bytes: u64, deletes: usize, unchanged: usize },
    Phase(Phase),
    Uploaded { key: &'a str, bytes: u64 },
    Deleted { key: &'a str },
    /// Something the user should know that does not stop the deploy.
    Note(String),
}

/// The outcome (also the `--format json` summary).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub target: String,
    pub endpoint: String,
    pub bucket: String,
    pub prefix: String,
    pub dry_run: bool,
    /// `found`, `missing` or `unreadable`.
    pub remote_manifest: &'static str,
    /// Objects the site consists of (the deployed manifest not counted).
    pub objects: usize,
    /// Objects uploaded (or, with --dry-run, to upload), the deployed manifest included.
    pub uploaded: usize,
    pub uploaded_bytes: u64,
    pub unchanged: usize,
    pub deleted: usize,
    /// Files of the build nginx would not serve either (dot files): not published.
    pub unpublished: usize,
    pub uploaded_keys: Vec<String>,
    pub deleted_keys: Vec<String>,
    pub seconds: f64,
}

/// Deploy the build in `options.public` to `options.target` with `credentials`.
pub async fn run(
    options: &DeployOptions,
    credentials: Credentials,
    progress: &(dyn Fn(Event<'_>) + Sync),
) -> Result<Summary, DeployError> {
    let started = Instant::now();
    let site = Manifest::load(&options.public.join(metadata::SITE_MANIFEST))?;
    let target = &options.target;
    let bucket = Bucket::connect(target, credentials, &options.network)?;
    let mut summary = Summary {
        target: target.name.clone(),
        endpoint: target.endpoint.clone(),
        bucket: target.bucket.clone(),
        prefix: target.prefix.clone(),
        dry_run: options.dry_run,
        ..Summary::default()
    };

    let (remote, listing) = tokio::try_join!(bucket.deployed_manifest(), bucket.list())?;
    let deployed = match remote {
        Remote::Found(m) => {
            summary.remote_manifest = "found";
            Some(m)
        }
        Remote::Missing => {
            summary.remote_manifest = "missing";
            None
        }
        Remote::Unreadable(why) => {
            summary.remote_manifest = "unreadable";
            progress(Event::Note(format!("the deployed {} is not readable ({why}); comparing ETags instead", metadata::SITE_MANIFEST)));
            None
        }
    };
    let wanted = plan::wanted(&site, target.precompressed);
    let public = options.public.clone();
    let plan = plan::plan(wanted, deployed.as_ref(), &listing, |source| client::md5_file(&public.join(source)));
    summary.objects = plan.objects;
    summary.unchanged = plan.unchanged.len();
    summary.unpublished = plan.unpublished.len();
    let deployed_count = listing.iter().filter(|l| l.key != metadata::SITE_MANIFEST).count();
    let max = options.max_deletes.unwrap_or_else(|| plan::default_max_deletes(deployed_count));
    plan::check_deletes(&plan, max, options.force).map_err(|(count, max)| DeployError::TooManyDeletes { count, max })?;

    // The new deployed manifest: what is unchanged, plus each upload with its ETag.
    let mut objects = plan.unchanged.clone();
    let manifest_needed = !plan.uploads.is_empty()
        || !plan.deletes.is_empty()
        || deployed.as_ref().is_none_or(|d| d.site != site || d.objects != plan.unchanged);
    progress(Event::Planned {
        uploads: plan.uploads.len() + usize::from(manifest_needed),
        bytes: plan.uploads.iter().map(|u| u.object.bytes).sum(),
        deletes: plan.deletes.len(),
        unchanged: plan.unchanged.len(),
    });

    if options.dry_run {
        summary.uploaded_keys = plan.uploads.iter().map(|u| u.key.clone()).collect();
        if manifest_needed {
            summary.uploaded_keys.push(metadata::SITE_MANIFEST.into());
        }
        summary.uploaded = summary.uploaded_keys.len();
        summary.uploaded_bytes = plan.uploads.iter().map(|u| u.object.bytes).sum();
        summary.deleted_keys = plan.deletes.clone();
        summary.deleted = plan.deletes.len();
        summary.seconds = started.elapsed().as_secs_f64();
        return Ok(summary);
    }

    let workers = options.workers.max(1);
    let mut phases: Vec<Phase> = plan.uploads.iter().map(|u| u.phase).collect();
    phases.dedup();
    for phase in phases {
        progress(Event::Phase(phase));
        let batch: Vec<_> = plan.uploads.iter().filter(|u| u.phase == phase).collect();
        // Every upload of a phase finishes before the next phase starts.
        let done: Vec<(String, Object)> = futures_util::stream::iter(batch)
            .map(|u| {
                let bucket = &bucket;
                let source = public.join(&u.source);
                async move {
                    let etag = bucket.put_file(&u.key, &source, &u.object).await?;
                    progress(Event::Uploaded { key: &u.key, bytes: u.object.bytes });
                    Ok::<_, DeployError>((u.key.clone(), Object { etag, ..u.object.clone() }))
                }
            })
            .buffer_unordered(workers)
            .try_collect()
            .await?;
        for (key, object) in done {
            summary.uploaded += 1;
            summary.uploaded_bytes += object.bytes;
            summary.uploaded_keys.push(key.clone());
            objects.insert(key, object);
        }
    }

    if manifest_needed {
        progress(Event::Phase(Phase::SiteManifest));
        let deployed = DeployedManifest { site: site.clone(), objects };
        let body = serde_json::to_vec_pretty(&deployed).unwrap_or_default();
        let meta = metadata::for_path(metadata::SITE_MANIFEST).expect("the manifest is served");
        let object = Object {
            sha256: String::new(),
            bytes: body.len() as u64,
            content_type: meta.content_type,
            cache_control: meta.cache_control.into(),
            content_encoding: None,
            etag: None,
        };
        let bytes = body.len() as u64;
        bucket.put_bytes(metadata::SITE_MANIFEST, body, &object).await?;
        progress(Event::Uploaded { key: metadata::SITE_MANIFEST, bytes });
        summary.uploaded += 1;
        summary.uploaded_bytes += bytes;
        summary.uploaded_keys.push(metadata::SITE_MANIFEST.into());
    }

    // Deletions last: nothing still linked from a live page goes away before its replacement.
    futures_util::stream::iter(&plan.deletes)
        .map(|key| {
            let bucket = &bucket;
            async move {
                bucket.delete(key).await?;
                progress(Event::Deleted { key });
                Ok::<_, DeployError>(())
            }
        })
        .buffer_unordered(workers)
        .try_collect::<Vec<()>>()
        .await?;
    summary.deleted = plan.deletes.len();
    summary.deleted_keys = plan.deletes;
    summary.uploaded_keys.sort();
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// The output folder a deploy reads by default: `ROOT/public`.
pub fn default_public(root: &Path) -> PathBuf {
    root.join("public")
}
