//! Credentials for `kepu deploy`, from where every S3 tool looks: the environment
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), else the shared
//! credentials file (`AWS_SHARED_CREDENTIALS_FILE` or `~/.aws/credentials`, profile
//! `AWS_PROFILE` or `default`). Never from config.toml. Values are wrapped in [`Secret`],
//! whose `Debug` and `Display` print `***`, and [`Credentials::redact`] scrubs them from any
//! text that came back from the network before it is shown.

use std::fmt;
use std::path::{Path, PathBuf};

/// A credential value that does not print.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }
    /// The value, for the S3 client only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}
impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Where the credentials were found (printed; it names no value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Environment,
    File { path: PathBuf, profile: String },
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Environment => f.write_str("the environment (AWS_ACCESS_KEY_ID)"),
            Source::File { path, profile } => write!(f, "{} [{profile}]", path.display()),
        }
    }
}

/// An access key pair (and session token).
#[derive(Debug, Clone)]
pub struct Credentials {
    pub access_key_id: Secret,
    pub secret_access_key: Secret,
    pub session_token: Option<Secret>,
    pub source: Source,
}

/// Why no credentials could be found. Names variables, files and profiles, never values.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CredentialsError {
    #[error(
        "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or write them to {file} (profile [{profile}])"
    )]
    Missing { file: String, profile: String },
    #[error("{set} is set but {unset} is not; set both (or neither, to use the credentials file)")]
    HalfSet { set: &'static str, unset: &'static str },
    #[error("cannot read the credentials file {file}: {reason}")]
    Unreadable { file: String, reason: String },
    #[error("profile [{profile}] of {file} has no {key}")]
    Incomplete { file: String, profile: String, key: &'static str },
}

impl Credentials {
    /// Look in the process environment and the home folder.
    pub fn from_environment() -> Result<Credentials, CredentialsError> {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        Credentials::resolve(|k| std::env::var(k).ok(), home.as_deref())
    }

    /// The lookup itself, over any environment (tests pass a map).
    pub fn resolve(env: impl Fn(&str) -> Option<String>, home: Option<&Path>) -> Result<Credentials, CredentialsError> {
        let var = |k: &str| env(k).filter(|v| !v.is_empty());
        match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
            (Some(id), Some(secret)) => {
                return Ok(Credentials {
                    access_key_id: Secret(id),
                    secret_access_key: Secret(secret),
                    session_token: var("AWS_SESSION_TOKEN").map(Secret),
                    source: Source::Environment,
                });
            }
            (Some(_), None) => return Err(CredentialsError::HalfSet { set: "AWS_ACCESS_KEY_ID", unset: "AWS_SECRET_ACCESS_KEY" }),
            (None, Some(_)) => return Err(CredentialsError::HalfSet { set: "AWS_SECRET_ACCESS_KEY", unset: "AWS_ACCESS_KEY_ID" }),
            (None, None) => {}
        }
        let profile = var("AWS_PROFILE").unwrap_or_else(|| "default".into());
        let path = match var("AWS_SHARED_CREDENTIALS_FILE") {
            Some(p) => PathBuf::from(p),
            None => home.map(|h| h.join(".aws/credentials")).unwrap_or_else(|| PathBuf::from("~/.aws/credentials")),
        };
        let file = path.display().to_string();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(CredentialsError::Missing { file, profile }),
            Err(e) => return Err(CredentialsError::Unreadable { file, reason: e.kind().to_string() }),
        };
        // The parser's message could quote the file; report only where it failed.
        let ini = ini::Ini::load_from_str(&text).map_err(|e| CredentialsError::Unreadable {
            file: file.clone(),
            reason: format!("not an INI file (line {}, column {})", e.line, e.col),
        })?;
        let Some(section) = ini.section(Some(profile.as_str())) else {
            return Err(CredentialsError::Missing { file, profile });
        };
        let get = |key: &'static str| {
            section.get(key).map(str::trim).filter(|v| !v.is_empty()).map(|v| Secret(v.to_string())).ok_or(CredentialsError::Incomplete {
                file: file.clone(),
                profile: profile.clone(),
                key,
            })
        };
        Ok(Credentials {
            access_key_id: get("aws_access_key_id")?,
            secret_access_key: get("aws_secret_access_key")?,
            session_token: get("aws_session_token").ok(),
            source: Source::File { path, profile },
        })
    }

    /// `text` with every credential value replaced by `***`: for messages that came from the
    /// server or the HTTP client, before they reach a terminal or a log.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in [Some(&self.secret_access_key), self.session_token.as_ref(), Some(&self.access_key_id)].into_iter().flatten() {
            if s.0.len() >= 4 {
                out = out.replace(&s.0, "***");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn environment_wins() {
        let c = Credentials::resolve(env(&[("AWS_ACCESS_KEY_ID", "GKid"), ("AWS_SECRET_ACCESS_KEY", "s3cr3tvalue"), ("AWS_SESSION_TOKEN", "tok3n")]), None).unwrap();
        assert_eq!((c.access_key_id.expose(), c.secret_access_key.expose()), ("GKid", "s3cr3tvalue"));
        assert_eq!(c.source, Source::Environment);
        let shown = format!("{c:?} {}", c.source);
        assert!(!shown.contains("s3cr3tvalue") && !shown.contains("tok3n") && !shown.contains("GKid"), "{shown}");
        assert_eq!(
            Credentials::resolve(env(&[("AWS_ACCESS_KEY_ID", "x")]), None).unwrap_err(),
            CredentialsError::HalfSet { set: "AWS_ACCESS_KEY_ID", unset: "AWS_SECRET_ACCESS_KEY" }
        );
    }

    #[test]
    fn credentials_file_with_profiles() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".aws")).unwrap();
        let file = dir.path().join(".aws/credentials");
        std::fs::write(&file, "[default]\naws_access_key_id = GKdefault\naws_secret_access_key = defsecret\n\n[ci]\naws_access_key_id=GKci\naws_secret_access_key=cisecret\naws_session_token=citoken\n").unwrap();
        let c = Credentials::resolve(env(&[]), Some(dir.path())).unwrap();
        assert_eq!(c.secret_access_key.expose(), "defsecret");
        let c = Credentials::resolve(env(&[("AWS_PROFILE", "ci")]), Some(dir.path())).unwrap();
        assert_eq!((c.access_key_id.expose(), c.session_token.as_ref().unwrap().expose()), ("GKci", "citoken"));
        let err = Credentials::resolve(env(&[("AWS_PROFILE", "nope")]), Some(dir.path())).unwrap_err();
        assert!(matches!(err, CredentialsError::Missing { ref profile, .. } if profile == "nope"), "{err}");
        // An explicit file; a profile with half a pair.
        let other = dir.path().join("other");
        std::fs::write(&other, "[default]\naws_secret_access_key = onlysecret\n").unwrap();
        let err = Credentials::resolve(env(&[("AWS_SHARED_CREDENTIALS_FILE", other.to_str().unwrap())]), None).unwrap_err();
        assert!(matches!(err, CredentialsError::Incomplete { key: "aws_access_key_id", .. }), "{err}");
        assert!(!err.to_string().contains("onlysecret"));
    }

    #[test]
    fn missing_and_hostile_files_say_where_not_what() {
        let dir = tempfile::tempdir().unwrap();
        let err = Credentials::resolve(env(&[]), Some(dir.path())).unwrap_err();
        assert!(err.to_string().contains(".aws/credentials") && err.to_string().contains("AWS_ACCESS_KEY_ID"), "{err}");
        let bad = dir.path().join("bad");
        for text in ["[default\naws_secret_access_key = leakme\n", "\u{0}\u{1}[[[", "aws_secret_access_key = leakme"] {
            std::fs::write(&bad, text).unwrap();
            let r = Credentials::resolve(env(&[("AWS_SHARED_CREDENTIALS_FILE", bad.to_str().unwrap())]), None);
            if let Err(e) = r {
                assert!(!e.to_string().contains("leakme"), "{e}");
            }
        }
    }

    #[test]
    fn redact_scrubs_every_value() {
        let c = Credentials::resolve(env(&[("AWS_ACCESS_KEY_ID", "GK1234"), ("AWS_SECRET_ACCESS_KEY", "verysecret"), ("AWS_SESSION_TOKEN", "thetoken")]), None).unwrap();
        assert_eq!(c.redact("403 for GK1234: sig verysecret / thetoken"), "403 for ***: sig *** / ***");
    }
}
