//! `[deploy]` in `config.toml`: where `kepu deploy` publishes. Only where, never with which
//! secret: credentials come from the environment or the standard AWS files
//! ([`super::credentials`]), and a secret-looking key here is an error that does not echo
//! its value.
//!
//! ```toml
//! [[deploy.targets]]
//! name = "garage"                      # `kepu deploy --target garage`; the first is the default
//! endpoint = "https://s3.example.org"  # the S3 API endpoint
//! bucket = "kepu"
//! region = "garage"                    # default "us-east-1"
//! prefix = "portal/"                   # optional key prefix inside the bucket
//! addressing = "path"                  # or "virtual-host" (bucket.s3.example.org)
//! precompressed = "gzip"               # or "none": see README, Publishing
//! ```

use serde::{Deserialize, Serialize};

/// `[deploy]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct DeployConfig {
    #[serde(default)]
    pub targets: Vec<Target>,
    /// Anything else under `[deploy]`; reported by [`DeployConfig::problems`].
    #[serde(flatten, skip_serializing)]
    pub unknown: toml::Table,
}

/// One place to publish to.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Target {
    pub name: String,
    /// S3 API endpoint, `http://` or `https://`, without the bucket.
    pub endpoint: String,
    pub bucket: String,
    #[serde(default = "default_region")]
    pub region: String,
    /// Key prefix inside the bucket; empty or ending in `/`.
    #[serde(default)]
    pub prefix: String,
    #[serde(default)]
    pub addressing: Addressing,
    #[serde(default)]
    pub precompressed: Precompressed,
    /// Keys this struct does not know; reported by [`DeployConfig::problems`] (a secret's
    /// value is never echoed).
    #[serde(flatten, skip_serializing)]
    pub unknown: toml::Table,
}

/// How the bucket is named in requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Addressing {
    /// `endpoint/bucket/key`: works with every S3 server (Garage, MinIO) without DNS setup.
    #[default]
    Path,
    /// `bucket.endpoint-host/key`: what the big clouds prefer.
    VirtualHost,
}

/// What the objects of text files contain.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Precompressed {
    /// The build's `.gz` sibling, stored under the plain name with `Content-Encoding: gzip`
    /// (object storage cannot negotiate; every browser accepts gzip).
    #[default]
    Gzip,
    /// The plain bytes; compression is left to a CDN in front.
    None,
}

fn default_region() -> String {
    "us-east-1".into()
}

/// Key names that hold credentials: refused in config.toml.
const SECRET_WORDS: &[&str] = &["secret", "access_key", "accesskey", "token", "password", "credential", "session"];

/// Whether a config key looks like it holds a credential.
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|w| k.contains(w))
}

/// One problem of the `[deploy]` section: what, which key, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub message: String,
    /// The key to point at in config.toml.
    pub key: String,
    pub hint: String,
    /// True when the line must not be shown (it holds a secret).
    pub secret: bool,
}

impl DeployConfig {
    /// Every problem of the section (empty when it is fine).
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        unknown_keys(&self.unknown, "deploy", &["targets"], &mut out);
        let mut names = std::collections::BTreeSet::new();
        for t in &self.targets {
            unknown_keys(
                &t.unknown,
                "deploy.targets",
                &["name", "endpoint", "bucket", "region", "prefix", "addressing", "precompressed"],
                &mut out,
            );
            let p = |message: String, key: &str, hint: &str| Problem { message, key: key.into(), hint: hint.into(), secret: false };
            if t.name.is_empty() || !t.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                out.push(p(format!("deploy target name `{}` must be letters, digits, - or _", t.name.escape_debug()), "name", "e.g. name = \"production\""));
            } else if !names.insert(t.name.as_str()) {
                out.push(p(format!("deploy target `{}` is declared twice", t.name), "name", "give each [[deploy.targets]] its own name"));
            }
            if let Err(e) = check_endpoint(&t.endpoint) {
                out.push(p(e, "endpoint", "write the S3 API URL, e.g. endpoint = \"https://s3.example.org\""));
            }
            if let Err(e) = check_bucket(&t.bucket) {
                out.push(p(e, "bucket", "S3 bucket names are 3-63 of a-z, 0-9, '.', '-'"));
            }
            if t.region.is_empty() || t.region.chars().any(|c| !(c.is_ascii_alphanumeric() || c == '-' || c == '_')) {
                out.push(p(format!("region `{}` is not a region name", t.region.escape_debug()), "region", "e.g. region = \"us-east-1\" (Garage: its s3_region, usually \"garage\")"));
            }
            if let Err(e) = check_prefix(&t.prefix) {
                out.push(p(e, "prefix", "e.g. prefix = \"portal/\", or leave it out"));
            }
        }
        out
    }

    /// The target called `name`, or the first one.
    pub fn target(&self, name: Option<&str>) -> Option<&Target> {
        match name {
            Some(n) => self.targets.iter().find(|t| t.name == n),
            None => self.targets.first(),
        }
    }
}

fn unknown_keys(table: &toml::Table, section: &str, known: &[&str], out: &mut Vec<Problem>) {
    for key in table.keys() {
        if is_secret_key(key) {
            out.push(Problem {
                message: format!("`{key}` in [{section}]: credentials are never read from config.toml"),
                key: key.clone(),
                hint: "remove it (and rotate it if this file was shared); kepu deploy reads AWS_ACCESS_KEY_ID, \
                       AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, or ~/.aws/credentials (AWS_PROFILE, \
                       AWS_SHARED_CREDENTIALS_FILE)"
                    .into(),
                secret: true,
            });
        } else {
            let hint = match known.iter().max_by(|a, b| strsim::jaro(key, a).total_cmp(&strsim::jaro(key, b))) {
                Some(best) if strsim::jaro(key, best) > 0.8 => format!("did you mean `{best}`?"),
                _ => format!("known keys: {}", known.join(", ")),
            };
            out.push(Problem { message: format!("unknown key `{key}` in [{section}]"), key: key.clone(), hint, secret: false });
        }
    }
}

fn check_endpoint(url: &str) -> Result<(), String> {
    let shown = url.escape_debug();
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    let Some(rest) = rest else { return Err(format!("endpoint `{shown}` is not an http:// or https:// URL")) };
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() || url.chars().any(|c| c.is_whitespace() || c.is_control() || "\"<>\\^`{|}@".contains(c)) {
        return Err(format!("endpoint `{shown}` is not a plain URL of a host"));
    }
    if rest.trim_end_matches('/').contains('/') {
        return Err(format!("endpoint `{shown}` has a path; put the bucket in `bucket` and a key prefix in `prefix`"));
    }
    Ok(())
}

fn check_bucket(bucket: &str) -> Result<(), String> {
    let ok = (3..=63).contains(&bucket.len())
        && bucket.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && !bucket.starts_with(['.', '-'])
        && !bucket.ends_with(['.', '-'])
        && !bucket.contains("..");
    if ok { Ok(()) } else { Err(format!("bucket `{}` is not a valid bucket name", bucket.escape_debug())) }
}

fn check_prefix(prefix: &str) -> Result<(), String> {
    if prefix.is_empty() {
        return Ok(());
    }
    let shown = prefix.escape_debug();
    if prefix.starts_with('/') || !prefix.ends_with('/') {
        return Err(format!("prefix `{shown}` must not start with `/` and must end with `/`"));
    }
    let inner = &prefix[..prefix.len() - 1];
    if inner.split('/').any(|s| s.is_empty() || s == "." || s == "..") || prefix.chars().any(|c| c.is_control() || c == '\\') {
        return Err(format!("prefix `{shown}` has an empty, `.` or `..` segment or a control character"));
    }
    Ok(())
}

/// `text` with the value of every secret-looking `key = value` line replaced by `*` of the
/// same byte length, so error excerpts of config.toml (which quote nearby lines) never show
/// a credential while line and column numbers stay right.
pub fn mask_secrets(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        match line.split_once('=') {
            Some((key, value)) if is_secret_key(key.trim().trim_matches('"')) => {
                out.push_str(key);
                out.push('=');
                let body = value.trim_end_matches(['\n', '\r']);
                out.push_str(&"*".repeat(body.len()));
                out.push_str(&value[body.len()..]);
            }
            _ => out.push_str(line),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> DeployConfig {
        #[derive(Deserialize)]
        struct Wrap {
            deploy: DeployConfig,
        }
        toml::from_str::<Wrap>(text).unwrap().deploy
    }

    const GOOD: &str = r#"
[[deploy.targets]]
name = "garage"
endpoint = "http://127.0.0.1:3900"
bucket = "kepu"
region = "garage"

[[deploy.targets]]
name = "cloud"
endpoint = "https://s3.example.org"
bucket = "kepu.portal"
prefix = "portal/"
addressing = "virtual-host"
precompressed = "none"
"#;

    #[test]
    fn parses_targets_with_defaults() {
        let c = parse(GOOD);
        assert!(c.problems().is_empty(), "{:?}", c.problems());
        let g = c.target(None).unwrap();
        assert_eq!((g.name.as_str(), g.addressing, g.precompressed, g.prefix.as_str()), ("garage", Addressing::Path, Precompressed::Gzip, ""));
        let cloud = c.target(Some("cloud")).unwrap();
        assert_eq!((cloud.region.as_str(), cloud.addressing, cloud.precompressed), ("us-east-1", Addressing::VirtualHost, Precompressed::None));
        assert!(c.target(Some("nope")).is_none());
    }

    #[test]
    fn secrets_are_refused_without_echoing_them() {
        let c = parse(
            "[[deploy.targets]]\nname = \"a\"\nendpoint = \"http://h\"\nbucket = \"kepu\"\n\
             aws_secret_access_key = \"SUPERSECRET123\"\naccess_key_id = \"AKIAXXXX\"\n",
        );
        let problems = c.problems();
        assert_eq!(problems.len(), 2, "{problems:?}");
        for p in &problems {
            assert!(p.secret && p.message.contains("never read from config.toml"), "{p:?}");
            let all = format!("{p:?}");
            assert!(!all.contains("SUPERSECRET123") && !all.contains("AKIAXXXX"), "{all}");
        }
        let c = parse("[deploy]\ntoken = \"T0KEN\"\n");
        assert!(c.problems()[0].secret);
    }

    #[test]
    fn bad_values_are_named() {
        let c = parse(
            "[[deploy.targets]]\nname = \"a b\"\nendpoint = \"s3.example.org\"\nbucket = \"Kepu_Bucket\"\nprefix = \"/x\"\nregion = \"\"\nbukket = 1\n\
             [[deploy.targets]]\nname = \"ok\"\nendpoint = \"https://h/bucket\"\nbucket = \"kepu\"\nprefix = \"a/../\"\n\
             [[deploy.targets]]\nname = \"ok\"\nendpoint = \"https://h\"\nbucket = \"kepu\"\n",
        );
        let keys: Vec<String> = c.problems().iter().map(|p| p.key.clone()).collect();
        assert_eq!(keys, ["bukket", "name", "endpoint", "bucket", "region", "prefix", "endpoint", "prefix", "name"]);
        assert!(c.problems()[0].hint.contains("bucket"));
    }

    #[test]
    fn hostile_values_do_not_panic() {
        for v in ["", "\u{0}", "http://", "https://a b", "http://x/../", &"a".repeat(100_000), "http://é.org"] {
            let _ = check_endpoint(v);
            let _ = check_bucket(v);
            let _ = check_prefix(v);
        }
        assert!(check_prefix("a/b/").is_ok() && check_prefix("a//").is_err());
    }

    #[test]
    fn mask_keeps_lengths_and_hides_values() {
        let text = "title = \"x\"\nsecret_access_key = \"abc\"\r\n\"aws_session_token\"=\"é\"\nbucket = \"kepu\"";
        let masked = mask_secrets(text);
        assert_eq!(masked.len(), text.len());
        assert!(!masked.contains("abc") && !masked.contains('é'));
        assert!(masked.contains("bucket = \"kepu\"") && masked.contains("title = \"x\"\n"));
    }
}
