//! `kepu serve` end to end: the real binary on a free port over a temporary copy of
//! tests/fixtures/serve-site, talked to with plain HTTP over TcpStream. Timeouts are generous
//! (the machine is shared and noisy); nothing here asserts on speed.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(60);

fn copy_dir(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let target = to.join(entry.path().strip_prefix(from).unwrap());
        if entry.file_type().is_dir() {
            fs::create_dir_all(&target).unwrap();
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A running `kepu serve`, stopped (Ctrl-C) when dropped.
struct Server {
    child: Child,
    addr: String,
    root: PathBuf,
    _stderr: Receiver<String>,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("site");
        copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/serve-site"), &root);
        let mut child = Command::new(env!("CARGO_BIN_EXE_kepu"))
            .args(["serve", "--port", "0", "--root"])
            .arg(&root)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = lines(child.stderr.take().unwrap());
        let stdout = lines(child.stdout.take().unwrap());
        let line = stdout.recv_timeout(WAIT).expect("kepu serve printed no address");
        let url = line.split_whitespace().find(|w| w.starts_with("http://")).expect("an URL").to_string();
        let addr = url.trim_start_matches("http://").trim_end_matches('/').to_string();
        Server { child, addr, root, _stderr: stderr, _dir: dir }
    }

    fn get(&self, path: &str) -> Response {
        request(&self.addr, path)
    }

    fn events(&self) -> Events {
        Events::connect(&self.addr)
    }

    fn write(&self, rel: &str, text: &str) {
        // Write to a temporary file and rename, as many editors save.
        let target = self.root.join(rel);
        let tmp = target.with_file_name(format!(".{}.tmp", target.file_name().unwrap().to_string_lossy()));
        fs::write(&tmp, text).unwrap();
        fs::rename(&tmp, &target).unwrap();
    }

    fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.root.join(rel)).unwrap()
    }

    /// Send SIGINT and wait for a clean exit.
    fn stop(mut self) -> std::process::ExitStatus {
        interrupt(&self.child);
        wait_exit(&mut self.child)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn interrupt(child: &Child) {
    // SAFETY: sending a signal to our own child process by its id.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGINT);
    }
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(start.elapsed() < WAIT, "kepu serve did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn lines(r: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 GET with the request target sent exactly as given.
fn request(addr: &str, target: &str) -> Response {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    write!(s, "GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut head_lines = head.lines();
    let status = head_lines.next().unwrap_or("").split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let headers = head_lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Response { status, headers, body: body.to_string() }
}

/// The live-reload stream: (event name, JSON data) as they arrive.
struct Events {
    rx: Receiver<(String, serde_json::Value)>,
}

impl Events {
    fn connect(addr: &str) -> Events {
        let mut s = TcpStream::connect(addr).unwrap();
        write!(s, "GET /__kepu/events HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n").unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut event = String::new();
            for line in BufReader::new(s).lines() {
                let Ok(line) = line else { break };
                if let Some(e) = line.strip_prefix("event:") {
                    event = e.trim().to_string();
                } else if let Some(d) = line.strip_prefix("data:") {
                    if let Ok(v) = serde_json::from_str(d.trim()) {
                        if tx.send((event.clone(), v)).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        Events { rx }
    }

    /// The next event named `name`, skipping others.
    fn next(&self, name: &str) -> serde_json::Value {
        let start = Instant::now();
        loop {
            let left = WAIT.checked_sub(start.elapsed()).unwrap_or_else(|| panic!("no `{name}` event"));
            let (e, v) = self.rx.recv_timeout(left).unwrap_or_else(|_| panic!("no `{name}` event"));
            if e == name {
                return v;
            }
        }
    }
}

const VENUE: &str = "content/venues/zheng-zhou-ke-ji-guan.md";

#[test]
fn edit_reloads_the_page_and_errors_show_in_the_overlay() {
    let server = Server::start();
    let page = server.get("/venues/zheng-zhou-ke-ji-guan/");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("郑州科技馆"));
    assert!(page.body.contains("/__kepu/live.js"), "the live-reload script is injected");
    let script = server.get("/__kepu/live.js");
    assert_eq!(script.status, 200);
    assert_eq!(script.header("content-type"), Some("text/javascript; charset=utf-8"));

    let events = server.events();
    let hello = events.next("hello");
    assert!(hello["errors"].is_null());

    // Edit: the page's reload arrives and the page has the new text.
    let text = server.read(VENUE).replace("展厅里有很多互动展品", "新展厅今天开放");
    server.write(VENUE, &text);
    let reload = events.next("reload");
    let paths: Vec<&str> = reload["paths"].as_array().unwrap().iter().filter_map(|p| p.as_str()).collect();
    assert!(paths.contains(&"/venues/zheng-zhou-ke-ji-guan/"), "{reload}");
    let page = server.get("/venues/zheng-zhou-ke-ji-guan/");
    assert!(page.body.contains("新展厅今天开放"));

    // A broken edit: the overlay data names file, line and field; the last good page stays.
    server.write(VENUE, &text.replace("city = \"郑州\"", "city = \"北京\""));
    let errors = events.next("errors");
    let diags = errors["diagnostics"].as_array().unwrap();
    let d = diags.iter().find(|d| d["message"].as_str().unwrap_or("").contains("北京")).unwrap_or_else(|| panic!("{errors}"));
    assert_eq!(d["file"], VENUE);
    assert_eq!(d["field"], "venue.city");
    assert!(d["line"].as_u64().unwrap() > 1);
    assert!(d["hint"].as_str().unwrap().contains("郑州"));
    assert!(d["rendered"].as_str().unwrap().contains("city = \"北京\""), "the offending line is shown: {d}");
    let page = server.get("/venues/zheng-zhou-ke-ji-guan/");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("新展厅今天开放"), "the last good page is still served");
    // A page opened now learns about the errors at once.
    let late = server.events();
    assert!(!late.next("hello")["errors"].is_null());

    // The fix clears the overlay (a reload message) and the page follows.
    server.write(VENUE, &text.replace("新展厅今天开放", "修好了"));
    let reload = events.next("reload");
    assert!(reload["paths"].as_array().unwrap().iter().any(|p| p == "/venues/zheng-zhou-ke-ji-guan/"), "{reload}");
    assert!(server.get("/venues/zheng-zhou-ke-ji-guan/").body.contains("修好了"));
    assert!(server.events().next("hello")["errors"].is_null());

    // Editors' swap files are ignored: nothing is rebuilt for them. (First let the search
    // index update that follows the fix arrive.)
    while events.rx.recv_timeout(Duration::from_secs(2)).is_ok() {}
    fs::write(server.root.join("content/venues/.zheng-zhou-ke-ji-guan.md.swp"), "garbage").unwrap();
    fs::write(server.root.join("content/venues/4913"), "").unwrap();
    if let Ok((name, data)) = events.rx.recv_timeout(Duration::from_secs(2)) {
        panic!("editor swap files caused a rebuild: {name} {data}");
    }
    server.write(VENUE, &server.read(VENUE).replace("修好了", "又改了"));
    let reload = events.next("reload");
    assert!(reload["paths"].as_array().unwrap().iter().any(|p| p == "/venues/zheng-zhou-ke-ji-guan/"), "{reload}");

    // serve never writes the output folder.
    assert!(!server.root.join("public").exists());
    let status = server.stop();
    assert!(status.success(), "Ctrl-C stops cleanly: {status:?}");
}

#[test]
fn paths_that_escape_the_site_are_refused() {
    let server = Server::start();
    fs::write(server.root.join("secret.txt"), "TOP-SECRET").unwrap();
    for target in [
        "/../secret.txt",
        "/../config.toml",
        "/venues/../../config.toml",
        "/%2e%2e/config.toml",
        "/%2E%2E%2Fconfig.toml",
        "/..%2fsecret.txt",
        "/venues/%2e%2e/%2e%2e/secret.txt",
        "//etc/passwd",
        "/%2Fetc%2Fpasswd",
        "/..\\secret.txt",
        "/etc/passwd",
        "/content/venues/zheng-zhou-ke-ji-guan.md",
        "/config.toml",
    ] {
        let r = server.get(target);
        assert!(r.status == 403 || r.status == 404, "{target}: status {}", r.status);
        assert!(!r.body.contains("TOP-SECRET") && !r.body.contains("base_url") && !r.body.contains("root:"), "{target} leaked");
    }
    assert_eq!(server.get("/../config.toml").status, 403);
    assert_eq!(server.get("/%2e%2e/config.toml").status, 403);
}

#[test]
fn content_types_and_the_404_page() {
    let server = Server::start();
    for (path, ctype) in [
        ("/", "text/html; charset=utf-8"),
        ("/campaigns.ics", "text/calendar; charset=utf-8"),
        ("/sitemap.xml", "application/xml; charset=utf-8"),
        ("/css/site.css", "text/css; charset=utf-8"),
        ("/js/site.js", "text/javascript; charset=utf-8"),
        ("/robots.txt", "text/plain; charset=utf-8"),
    ] {
        let r = server.get(path);
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("content-type"), Some(ctype), "{path}");
    }
    assert!(server.get("/campaigns.ics").body.contains("BEGIN:VCALENDAR"));
    assert!(!server.get("/css/site.css").body.contains("__kepu"), "only HTML gets the script");
    let missing = server.get("/no/such/page/");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(missing.body.contains("页面不存在"), "the site's own 404.html");
    let folder = server.get("/venues");
    assert_eq!(folder.status, 301);
    assert_eq!(folder.header("location"), Some("/venues/"));
}

#[test]
fn a_port_in_use_is_a_clear_error_and_build_output_has_no_script() {
    let server = Server::start();
    let port = server.addr.rsplit(':').next().unwrap().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_kepu"))
        .args(["serve", "--port", &port, "--root"])
        .arg(&server.root)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("already in use") && err.contains("--port"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let built = Command::new(env!("CARGO_BIN_EXE_kepu"))
        .args(["build", "--root"])
        .arg(&server.root)
        .arg("--output")
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
    for entry in walkdir::WalkDir::new(dir.path().join("out")) {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            let text = fs::read_to_string(entry.path()).unwrap_or_default();
            assert!(!text.contains("__kepu"), "{} has the live-reload script", entry.path().display());
        }
    }
}
