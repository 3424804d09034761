//! `kepu serve`: time from saving a page to the reload message, on the default portal and on
//! a generated corpus (10,000 pages by default). Goal: under 100 ms for a one-page edit at
//! 10,000 pages. Run with `scripts/bench-serve` (a release build).
//!
//! For each site: start the real binary on a free port, open the live-reload stream, then
//! repeatedly save one page (write a temporary file and rename it over the page, as editors
//! do) and time until the `reload` event naming that page arrives. The time includes the
//! watcher and the debounce quiet period, i.e. what the editor waits for. The server's own
//! rebuild time (from its log) is reported next to it.
//!
//! Options: `--pages N` (corpus size), `--edits N` (per kind of edit), `--only portal|corpus`,
//! `--generate DIR N` (just write a corpus and exit).

#[path = "support/corpus.rs"]
mod corpus;

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(600);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| args.iter().position(|a| a == name).map(|i| args[i + 1].clone());
    if let Some(i) = args.iter().position(|a| a == "--generate") {
        let dir = PathBuf::from(&args[i + 1]);
        let n: usize = args[i + 2].parse().expect("--generate DIR N");
        corpus::generate(&dir, n).expect("write the corpus");
        println!("wrote {n} pages into {}", dir.display());
        return;
    }
    let pages: usize = arg("--pages").map(|s| s.parse().expect("--pages N")).unwrap_or(10_000);
    let edits: usize = arg("--edits").map(|s| s.parse().expect("--edits N")).unwrap_or(15);
    let only = arg("--only");
    let work = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-serve");
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).unwrap();

    if only.as_deref().is_none_or(|o| o == "portal") {
        let root = work.join("portal");
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        copy_dir(&repo.join("content"), &root.join("content"));
        fs::copy(repo.join("config.toml"), root.join("config.toml")).unwrap();
        run("default portal", &root, "content/venues/he-bi-shi-ke-ji-guan.md", edits);
    }
    if only.as_deref().is_none_or(|o| o == "corpus") {
        let root = work.join(format!("corpus-{pages}"));
        corpus::generate(&root, pages).unwrap();
        let page = format!("content/{}", corpus::page_rel("venues", pages / 5));
        run(&format!("generated corpus, {pages} pages"), &root, &page, edits);
    }
}

fn run(name: &str, root: &Path, page: &str, edits: usize) {
    println!("== {name}");
    let server = Server::start(root);
    println!("   first build: {}", server.initial);
    let url_path = page_url(root, page);
    let original = fs::read_to_string(root.join(page)).unwrap();
    let kinds: [(&str, &dyn Fn(usize) -> String); 2] = [
        ("body edit", &|i| insert_in_body(&original, &format!("第{i}次修改：新增一句话。\n\n"))),
        ("title edit", &|i| original.replacen("title = \"", &format!("title = \"（{i}）"), 1)),
    ];
    for (kind, edit) in kinds {
        let mut waits = Vec::new();
        let mut rebuilds = Vec::new();
        let mut indexes = Vec::new();
        for i in 0..edits {
            server.drain();
            let t0 = Instant::now();
            save(&root.join(page), &edit(i + 1));
            server.wait_reload(&url_path);
            waits.push(t0.elapsed().as_secs_f64() * 1000.0);
            if let Some(ms) = server.log_ms("rebuilt", Duration::from_secs(10)) {
                rebuilds.push(ms);
            }
            // The search index is regenerated after the reload; let it finish so that the next
            // save does not queue behind it.
            if let Some(ms) = server.log_ms("search index", Duration::from_secs(3)) {
                indexes.push(ms);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        println!(
            "   {kind:<10} save → reload: median {:>6.1} ms  (min {:.1}, max {:.1}, n={})   server rebuild: median {:.1} ms   then search index: median {:.1} ms",
            median(&mut waits),
            waits.iter().cloned().fold(f64::INFINITY, f64::min),
            waits.iter().cloned().fold(0.0, f64::max),
            waits.len(),
            median(&mut rebuilds),
            median(&mut indexes),
        );
    }
    save(&root.join(page), &original);
    server.wait_reload(&url_path);
}

/// Put `text` at the start of the Markdown body (after the closing `+++`).
fn insert_in_body(source: &str, text: &str) -> String {
    let open = source.find("+++\n").expect("front matter") + 4;
    let close = open + source[open..].find("\n+++\n").expect("end of front matter") + 5;
    format!("{}\n{text}{}", &source[..close], &source[close..])
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Save as editors do: a temporary file renamed over the page.
fn save(path: &Path, text: &str) {
    let tmp = path.with_file_name(format!(".{}.tmp", path.file_name().unwrap().to_string_lossy()));
    fs::write(&tmp, text).unwrap();
    fs::rename(&tmp, path).unwrap();
}

/// `content/venues/x.md` → `/venues/x/` (the corpus and portal use plain file-name slugs).
fn page_url(_root: &Path, page: &str) -> String {
    let rel = page.trim_start_matches("content/").trim_end_matches(".md");
    format!("/{rel}/")
}

struct Server {
    child: Child,
    events: Receiver<(String, String)>,
    log: Receiver<String>,
    initial: String,
}

impl Server {
    fn start(root: &Path) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kepu"))
            .args(["serve", "--port", "0", "--root"])
            .arg(root)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = lines(child.stderr.take().unwrap());
        let stdout = lines(child.stdout.take().unwrap());
        let line = stdout.recv_timeout(WAIT).expect("kepu serve printed no address");
        let addr = line.split_whitespace().find(|w| w.starts_with("http://")).unwrap();
        let addr = addr.trim_start_matches("http://").trim_end_matches('/').to_string();
        let initial = log.recv_timeout(WAIT).unwrap_or_default();
        let events = sse(&addr);
        let (name, _) = events.recv_timeout(WAIT).expect("hello");
        assert_eq!(name, "hello");
        Server { child, events, log, initial }
    }

    fn drain(&self) {
        while self.events.try_recv().is_ok() {}
        while self.log.try_recv().is_ok() {}
    }

    fn wait_reload(&self, url_path: &str) {
        loop {
            let (name, data) = self.events.recv_timeout(WAIT).expect("a reload event");
            if name == "errors" {
                panic!("the edit failed to build: {data}");
            }
            if name == "reload" && data.contains(&format!("\"{url_path}\"")) {
                return;
            }
        }
    }

    /// The time in the server's next log line starting with `prefix` (`… in N ms`).
    fn log_ms(&self, prefix: &str, wait: Duration) -> Option<f64> {
        let start = Instant::now();
        loop {
            let line = self.log.recv_timeout(wait.checked_sub(start.elapsed())?).ok()?;
            if line.starts_with(prefix) {
                let ms = line.rsplit(" in ").next()?.trim_end_matches(" ms");
                return ms.split_whitespace().next()?.parse().ok();
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lines(r: impl std::io::Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn sse(addr: &str) -> Receiver<(String, String)> {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(s, "GET /__kepu/events HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut event = String::new();
        for line in BufReader::new(s).lines().map_while(Result::ok) {
            if let Some(e) = line.strip_prefix("event:") {
                event = e.trim().to_string();
            } else if let Some(d) = line.strip_prefix("data:") {
                if tx.send((event.clone(), d.trim().to_string())).is_err() {
                    break;
                }
            }
        }
    });
    rx
}

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
