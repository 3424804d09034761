//! `kepu deploy` through the real binary, where no object store is needed: configuration
//! and credential errors, exit codes, and that no credential ever reaches the output — not
//! even when a hostile server echoes the request back. The deploy itself is proven against a
//! real Garage cluster by `scripts/deploy-e2e`.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

use common::{build_ok, fixture};
use serde_json::Value;

const KEY_ID: &str = "GKkepuTestKeyId0001";
const SECRET: &str = "kepuTestSecretValue0123456789abcdef";
const TOKEN: &str = "kepuTestSessionToken9876";

struct Out {
    code: i32,
    all: String,
    stdout: String,
}

/// `kepu deploy` with a controlled environment: no AWS variables but `env`, HOME = `home`.
fn deploy(site: &Path, home: &Path, env: &[(&str, &str)], args: &[&str]) -> Out {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kepu"));
    cmd.arg("deploy").arg("--root").arg(site).args(args).env("NO_COLOR", "1").env("HOME", home);
    for var in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE"] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run kepu");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let all = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(!all.contains("panicked"), "{all}");
    Out { code: out.status.code().unwrap_or(-1), all, stdout }
}

fn creds() -> Vec<(&'static str, &'static str)> {
    vec![("AWS_ACCESS_KEY_ID", KEY_ID), ("AWS_SECRET_ACCESS_KEY", SECRET), ("AWS_SESSION_TOKEN", TOKEN)]
}

fn add_target(site: &Path, endpoint: &str, extra: &str) {
    let path = site.join("config.toml");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(&format!("\n[[deploy.targets]]\nname = \"test\"\nendpoint = \"{endpoint}\"\nbucket = \"kepu\"\nregion = \"garage\"\n{extra}"));
    std::fs::write(path, text).unwrap();
}

fn assert_no_secret(out: &Out) {
    for s in [SECRET, TOKEN, KEY_ID] {
        assert!(!out.all.contains(s), "output shows a credential:\n{}", out.all);
    }
}

#[test]
fn a_credential_in_config_toml_is_refused_and_not_shown() {
    let (dir, site) = fixture("basic");
    add_target(&site, "http://127.0.0.1:9", &format!("secret_access_key = \"{SECRET}\"\n"));
    for format in ["human", "json"] {
        let out = deploy(&site, dir.path(), &creds(), &["--format", format]);
        assert_eq!(out.code, 1, "{}", out.all);
        assert!(out.all.contains("never read from config.toml"), "{}", out.all);
        assert_no_secret(&out);
    }
}

#[test]
fn missing_credentials_build_or_target_are_clear_errors() {
    let (dir, site) = fixture("basic");
    // No target at all.
    let out = deploy(&site, dir.path(), &creds(), &[]);
    assert_eq!(out.code, 2, "{}", out.all);
    assert!(out.all.contains("no [[deploy.targets]]"), "{}", out.all);
    add_target(&site, "http://127.0.0.1:9", "");
    // An unknown target: a usage error naming the ones there are.
    let out = deploy(&site, dir.path(), &creds(), &["--target", "prod", "--format", "json"]);
    assert_eq!(out.code, 2, "{}", out.all);
    let json: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json["ok"], false);
    assert!(json["error"].as_str().unwrap().contains("targets: test"), "{json}");
    // No credentials anywhere.
    let out = deploy(&site, dir.path(), &[], &[]);
    assert_eq!(out.code, 1, "{}", out.all);
    assert!(out.all.contains("AWS_ACCESS_KEY_ID") && out.all.contains(".aws/credentials"), "{}", out.all);
    // Half a pair.
    let out = deploy(&site, dir.path(), &[("AWS_ACCESS_KEY_ID", KEY_ID)], &[]);
    assert_eq!(out.code, 1);
    assert!(out.all.contains("AWS_SECRET_ACCESS_KEY is not"), "{}", out.all);
    assert_no_secret(&out);
    // Credentials, but nothing built yet.
    let out = deploy(&site, dir.path(), &creds(), &[]);
    assert_eq!(out.code, 1, "{}", out.all);
    assert!(out.all.contains("kepu build"), "{}", out.all);
}

#[test]
fn credentials_file_profile_is_used_and_never_shown() {
    let (dir, site) = fixture("basic");
    add_target(&site, "http://127.0.0.1:9", "");
    let file = dir.path().join("creds");
    std::fs::write(&file, format!("[ci]\naws_access_key_id = {KEY_ID}\naws_secret_access_key = {SECRET}\n")).unwrap();
    let env = [("AWS_SHARED_CREDENTIALS_FILE", file.to_str().unwrap()), ("AWS_PROFILE", "ci")];
    // Found: it gets as far as the (absent) build.
    let out = deploy(&site, dir.path(), &env, &[]);
    assert!(out.all.contains("kepu build"), "{}", out.all);
    assert!(out.all.contains("creds [ci]"), "{}", out.all);
    assert_no_secret(&out);
    let out = deploy(&site, dir.path(), &[env[0], ("AWS_PROFILE", "other")], &[]);
    assert!(out.all.contains("[other]"), "{}", out.all);
}

/// A server that answers every request `403` with the request's own head as the body — the
/// worst case of a proxy or server that reflects what it got (the signed `Authorization`
/// header names the key ID; the session token travels as a header).
fn echo_server() -> (u16, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        listener.set_nonblocking(false).unwrap();
        for _ in 0..8 {
            let Ok((stream, _)) = listener.accept() else { return };
            stream.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                head.push_str(&line);
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let xml = format!("<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>{head}</Message></Error>");
            let mut stream = stream;
            let _ = write!(stream, "HTTP/1.1 403 Forbidden\r\ncontent-type: application/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{xml}", xml.len());
        }
    });
    (port, handle)
}

#[test]
fn a_server_echoing_the_request_does_not_leak_credentials() {
    let (dir, site) = fixture("basic");
    build_ok(&site, &["--precompress"]);
    let (port, _server) = echo_server();
    add_target(&site, &format!("http://127.0.0.1:{port}"), "");
    for format in ["human", "json"] {
        let out = deploy(&site, dir.path(), &creds(), &["--format", format]);
        assert_eq!(out.code, 1, "{}", out.all);
        assert!(out.all.contains("403") && out.all.contains("***"), "the error should say what the server said, redacted:\n{}", out.all);
        assert_no_secret(&out);
        if format == "json" {
            let json: Value = serde_json::from_str(&out.stdout).unwrap();
            assert_eq!(json["ok"], false);
        }
    }
}
