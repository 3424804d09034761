//! The bucket, through `object_store`'s S3 client (SigV4 signing, retries with backoff on
//! 5xx/timeouts/connection errors, multipart). Every message that comes back from the network
//! passes [`Credentials::redact`] before it becomes a [`DeployError`].

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as Key;
use object_store::{
    Attribute, Attributes, BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt, PutMultipartOptions, PutOptions,
    PutPayload, RetryConfig,
};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use super::DeployError;
use super::config::{Addressing, Target};
use super::credentials::Credentials;
use super::plan::{DeployedManifest, Listed, Object};

/// Files above this go up in parts (S3 allows 5 GiB in one PUT, but one failed request
/// would then resend all of it).
pub const MULTIPART_THRESHOLD: u64 = 16 * 1024 * 1024;
/// Size of each part (S3's minimum is 5 MiB).
pub const PART_SIZE: usize = 8 * 1024 * 1024;

/// What the bucket says about the deployed manifest.
#[derive(Debug)]
pub enum Remote {
    Found(DeployedManifest),
    Missing,
    /// Present but not a manifest this kepu reads; the listing's ETags decide instead.
    Unreadable(String),
}

/// Retry and timeout settings (tests and the e2e make them short).
#[derive(Debug, Clone)]
pub struct Network {
    pub max_retries: usize,
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    /// Total time one request may spend retrying.
    pub retry_timeout: Duration,
}

impl Default for Network {
    fn default() -> Self {
        Network {
            max_retries: 6,
            request_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(5),
            retry_timeout: Duration::from_secs(180),
        }
    }
}

/// One target's bucket.
pub struct Bucket {
    store: Arc<AmazonS3>,
    prefix: String,
    credentials: Credentials,
}

impl Bucket {
    pub fn connect(target: &Target, credentials: Credentials, network: &Network) -> Result<Bucket, DeployError> {
        // rustls needs one process-wide crypto provider; ring is the one in the tree. An error
        // only means one is installed already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let endpoint = match target.addressing {
            Addressing::Path => target.endpoint.trim_end_matches('/').to_string(),
            Addressing::VirtualHost => {
                let (scheme, host) = target.endpoint.split_once("://").unwrap_or(("https", &target.endpoint));
                format!("{scheme}://{}.{}", target.bucket, host.trim_end_matches('/'))
            }
        };
        let mut builder = AmazonS3Builder::new()
            .with_endpoint(endpoint)
            .with_bucket_name(&target.bucket)
            .with_region(&target.region)
            .with_access_key_id(credentials.access_key_id.expose())
            .with_secret_access_key(credentials.secret_access_key.expose())
            .with_virtual_hosted_style_request(target.addressing == Addressing::VirtualHost)
            .with_disable_tagging(true)
            // Client options replace each other as a whole: allow_http belongs in here.
            .with_client_options(
                ClientOptions::new()
                    .with_allow_http(target.endpoint.starts_with("http://"))
                    .with_timeout(network.request_timeout)
                    .with_connect_timeout(network.connect_timeout),
            )
            .with_retry(RetryConfig {
                backoff: BackoffConfig { init_backoff: Duration::from_millis(200), max_backoff: Duration::from_secs(10), base: 2.0 },
                max_retries: network.max_retries,
                retry_timeout: network.retry_timeout,
            });
        if let Some(token) = &credentials.session_token {
            builder = builder.with_token(token.expose());
        }
        let store = builder.build().map_err(|e| DeployError::Client(credentials.redact(&e.to_string())))?;
        Ok(Bucket { store: Arc::new(store), prefix: target.prefix.clone(), credentials })
    }

    fn key(&self, key: &str) -> Result<Key, DeployError> {
        Key::parse(format!("{}{key}", self.prefix)).map_err(|_| DeployError::BadKey(key.to_string()))
    }

    fn remote(&self, action: &'static str, key: &str, e: object_store::Error) -> DeployError {
        DeployError::Remote { action, key: key.to_string(), message: self.credentials.redact(&e.to_string()) }
    }

    /// Every object under the prefix, keys relative to it.
    pub async fn list(&self) -> Result<Vec<Listed>, DeployError> {
        let prefix = self.prefix.trim_end_matches('/');
        let prefix = (!prefix.is_empty()).then(|| Key::from(prefix));
        let mut stream = self.store.list(prefix.as_ref());
        let mut out = Vec::new();
        while let Some(meta) = stream.next().await {
            let meta = meta.map_err(|e| self.remote("list", "", e))?;
            let full = meta.location.as_ref();
            let key = full.strip_prefix(self.prefix.as_str()).unwrap_or(full).to_string();
            out.push(Listed { key, size: meta.size, etag: meta.e_tag.map(|e| unquote(&e)) });
        }
        Ok(out)
    }

    /// The deployed manifest, if the bucket has one.
    pub async fn deployed_manifest(&self) -> Result<Remote, DeployError> {
        let key = super::metadata::SITE_MANIFEST;
        let bytes = match self.store.get(&self.key(key)?).await {
            Ok(r) => r.bytes().await.map_err(|e| self.remote("read", key, e))?,
            Err(object_store::Error::NotFound { .. }) => return Ok(Remote::Missing),
            Err(e) => return Err(self.remote("read", key, e)),
        };
        Ok(match serde_json::from_slice::<DeployedManifest>(&bytes) {
            Ok(m) if m.site.version == crate::write::manifest::VERSION => Remote::Found(m),
            Ok(m) => Remote::Unreadable(format!("manifest version {}", m.site.version)),
            Err(e) => Remote::Unreadable(e.to_string()),
        })
    }

    /// Upload `object` from the local file `source`, checking on the way that its bytes are
    /// the ones the build manifest lists. Returns the server's ETag.
    pub async fn put_file(&self, key: &str, source: &Path, object: &Object) -> Result<Option<String>, DeployError> {
        let attributes = attributes(object);
        let location = self.key(key)?;
        let local = |e: std::io::Error| DeployError::LocalIo { path: source.display().to_string(), reason: e.to_string() };
        let mut file = tokio::fs::File::open(source).await.map_err(local)?;
        let mut hasher = Sha256::new();
        if object.bytes <= MULTIPART_THRESHOLD {
            let mut buf = Vec::with_capacity(object.bytes as usize);
            file.read_to_end(&mut buf).await.map_err(local)?;
            hasher.update(&buf);
            check_hash(source, hasher, object)?;
            let opts = PutOptions { attributes, ..PutOptions::default() };
            let r = self.store.put_opts(&location, PutPayload::from(buf), opts).await.map_err(|e| self.remote("upload", key, e))?;
            return Ok(r.e_tag.map(|e| unquote(&e)));
        }
        let opts = PutMultipartOptions { attributes, ..PutMultipartOptions::default() };
        let mut upload = self.store.put_multipart_opts(&location, opts).await.map_err(|e| self.remote("start upload", key, e))?;
        let result = async {
            loop {
                let mut part = Vec::with_capacity(PART_SIZE);
                (&mut file).take(PART_SIZE as u64).read_to_end(&mut part).await.map_err(local)?;
                if part.is_empty() {
                    break;
                }
                hasher.update(&part);
                upload.put_part(PutPayload::from(Bytes::from(part))).await.map_err(|e| self.remote("upload part", key, e))?;
            }
            check_hash(source, hasher, object)?;
            upload.complete().await.map_err(|e| self.remote("complete upload", key, e))
        }
        .await;
        match result {
            Ok(r) => Ok(r.e_tag.map(|e| unquote(&e))),
            Err(e) => {
                let _ = upload.abort().await;
                Err(e)
            }
        }
    }

    /// Upload bytes made here (the deployed manifest).
    pub async fn put_bytes(&self, key: &str, body: Vec<u8>, object: &Object) -> Result<Option<String>, DeployError> {
        let opts = PutOptions { attributes: attributes(object), ..PutOptions::default() };
        let r = self.store.put_opts(&self.key(key)?, PutPayload::from(body), opts).await.map_err(|e| self.remote("upload", key, e))?;
        Ok(r.e_tag.map(|e| unquote(&e)))
    }

    pub async fn delete(&self, key: &str) -> Result<(), DeployError> {
        match self.store.delete(&self.key(key)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.remote("delete", key, e)),
        }
    }
}

fn attributes(object: &Object) -> Attributes {
    let mut a = Attributes::new();
    a.insert(Attribute::ContentType, object.content_type.clone().into());
    a.insert(Attribute::CacheControl, object.cache_control.clone().into());
    if let Some(enc) = &object.content_encoding {
        a.insert(Attribute::ContentEncoding, enc.clone().into());
    }
    a
}

fn check_hash(source: &Path, hasher: Sha256, object: &Object) -> Result<(), DeployError> {
    if hex::encode(hasher.finalize()) == object.sha256 {
        Ok(())
    } else {
        Err(DeployError::LocalChanged(source.display().to_string()))
    }
}

fn unquote(etag: &str) -> String {
    etag.trim().trim_start_matches("W/").trim_matches('"').to_string()
}

/// MD5 of a local file, as hex: the ETag S3 gives a simple upload of it.
pub fn md5_file(path: &Path) -> Option<String> {
    use md5::Digest as _;
    let bytes = std::fs::read(path).ok()?;
    Some(hex::encode(md5::Md5::digest(&bytes)))
}
