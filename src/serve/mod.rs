//! `kepu serve`: the editor's loop. Builds the site into memory, serves it over HTTP, watches
//! the site's sources and rebuilds what an edit touched, then tells open pages to reload (or
//! shows the build's diagnostics over the page, keeping the last good site underneath).
//!
//! A front end over the same pipeline as `kepu build`, never a second implementation:
//! [`incremental`] drives the stages through their incremental entry points
//! ([`crate::load::read_content_file`], [`crate::model::build_cached`],
//! [`crate::render::Renderer::render_targets`], [`crate::build::search_index`]). Nothing is
//! written to disk: the output folder belongs to `kepu build`.
//!
//! - [`http`]: the HTTP server (axum on tokio): files from memory, the live-reload event
//!   stream, refusal of paths that try to leave the site.
//! - [`watch`]: file watching (notify) with a quiet-period debounce, so a burst of saves is one
//!   rebuild; editors' temporary files are ignored.
//! - [`incremental`]: what an edit changes, and rebuilding just that.
//! - [`overlay`]: the messages the browser gets (reload, diagnostics).
//!
//! The library never prints: what happens is reported through [`ServeEvent`]s.

pub mod http;
pub mod incremental;
pub mod overlay;
pub mod watch;

use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::build::BuildOptions;
use crate::diagnostics::Diagnostics;
pub use incremental::{Live, RebuildKind, RebuildReport};

/// The default port (the one Zola uses, so editors' bookmarks carry over).
pub const DEFAULT_PORT: u16 = 1111;

/// What to serve and where.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The site; `base_url` is replaced by the server's own address, `output` is never used.
    pub build: BuildOptions,
    /// Address to listen on; loopback unless the editor asks for another.
    pub interface: IpAddr,
    /// 0 picks any free port.
    pub port: u16,
    /// Quiet time after the last file event before a rebuild starts.
    pub debounce: Duration,
}

impl ServeOptions {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        ServeOptions {
            build: BuildOptions::new(root),
            interface: IpAddr::from([127, 0, 0, 1]),
            port: DEFAULT_PORT,
            debounce: watch::DEFAULT_DEBOUNCE,
        }
    }
}

/// What the server reports while it runs (the CLI prints these).
#[derive(Debug, Clone)]
pub enum ServeEvent {
    /// The first build is done (or failed) and the server accepts connections at `url`.
    Listening { url: String },
    /// A build succeeded; open pages were told to reload what changed.
    Built(RebuildReport),
    /// A build failed: pages show these diagnostics; the last good site is still served.
    Failed { diagnostics: Diagnostics, elapsed: Duration },
    /// The watcher reported a problem (the server keeps running).
    WatchError(String),
    /// Ctrl-C: the server is stopping.
    Stopping,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("port {port} on {interface} is already in use{}", suggestion_text(*.suggestion))]
    PortInUse { interface: IpAddr, port: u16, suggestion: Option<u16> },
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("cannot watch {path} for changes: {source}")]
    Watch { path: PathBuf, source: notify::Error },
    #[error("the server failed: {0}")]
    Runtime(std::io::Error),
}

fn suggestion_text(s: Option<u16>) -> String {
    match s {
        Some(p) => format!(" (another `kepu serve`?); try --port {p}, or --port 0 for any free port"),
        None => " (another `kepu serve`?); try another --port, or --port 0 for any free port".into(),
    }
}

/// Bind the listening socket, turning "address in use" into an error that suggests a port
/// that is free right now.
pub fn bind(interface: IpAddr, port: u16) -> Result<TcpListener, ServeError> {
    let addr = SocketAddr::new(interface, port);
    match TcpListener::bind(addr) {
        Ok(l) => Ok(l),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            let suggestion = (1..=20u16)
                .filter_map(|d| port.checked_add(d))
                .find(|&p| TcpListener::bind(SocketAddr::new(interface, p)).is_ok());
            Err(ServeError::PortInUse { interface, port, suggestion })
        }
        Err(source) => Err(ServeError::Bind { addr, source }),
    }
}

/// The URL the site is served at, as links in the pages use it.
pub fn site_url(addr: SocketAddr) -> String {
    let host = match addr.ip() {
        ip if ip.is_unspecified() => "127.0.0.1".to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
        IpAddr::V4(v4) => v4.to_string(),
    };
    format!("http://{host}:{}/", addr.port())
}

/// Build, serve and watch until Ctrl-C. Returns once the server has stopped cleanly.
pub fn serve(options: ServeOptions, on_event: impl Fn(ServeEvent) + Send + Sync + 'static) -> Result<(), ServeError> {
    let on_event: Arc<dyn Fn(ServeEvent) + Send + Sync> = Arc::new(on_event);
    let listener = bind(options.interface, options.port)?;
    let addr = listener.local_addr().map_err(ServeError::Runtime)?;
    let url = site_url(addr);

    let mut build_options = options.build.clone();
    build_options.base_url = Some(url.clone());
    // Watch events carry absolute paths; the stages get the same root.
    build_options.root = build_options.root.canonicalize().unwrap_or(build_options.root);
    let shared = Arc::new(http::Shared::new());

    // Watch before the first build so that no save in between is missed.
    let (watcher, changes) = watch::watch(&build_options.root, options.debounce)?;

    let data_files = watcher.data_files();
    let root = build_options.root.clone();
    let mut live = Live::new(build_options);
    let first = live.rebuild(&incremental::ChangeSet::everything());
    data_files.set(live.data_files(), &root);
    publish(&shared, &on_event, first);
    if let Some(outcome) = live.update_index() {
        publish(&shared, &on_event, outcome);
    }
    on_event(ServeEvent::Listening { url });

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("kepu-serve")
        .build()
        .map_err(ServeError::Runtime)?;

    // The rebuild loop: one thread, one rebuild at a time; saves during a rebuild are
    // collected into the next one.
    let rebuild_shared = shared.clone();
    let rebuild_events = on_event.clone();
    let rebuilder = std::thread::Builder::new()
        .name("kepu-rebuild".into())
        .spawn(move || {
            while let Ok(batch) = changes.recv() {
                match batch {
                    watch::Batch::Changes(mut set) => {
                        // Saves that arrived while the last rebuild ran join this one.
                        while let Ok(more) = changes.try_recv() {
                            match more {
                                watch::Batch::Changes(m) => set.merge(m),
                                watch::Batch::Error(e) => rebuild_events(ServeEvent::WatchError(e)),
                            }
                        }
                        let outcome = live.rebuild(&set);
                        data_files.set(live.data_files(), &root);
                        publish(&rebuild_shared, &rebuild_events, outcome);
                        if let Some(outcome) = live.update_index() {
                            publish(&rebuild_shared, &rebuild_events, outcome);
                        }
                    }
                    watch::Batch::Error(e) => rebuild_events(ServeEvent::WatchError(e)),
                }
            }
        })
        .map_err(ServeError::Runtime)?;

    let served = runtime.block_on(async {
        listener.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let app = http::router(shared.clone());
        let stop = shared.clone();
        let stopping = on_event.clone();
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = tokio::signal::ctrl_c().await;
                stopping(ServeEvent::Stopping);
                stop.shut_down();
            })
            .await
    });
    // Stopping the watcher closes the change channel, which ends the rebuild loop after the
    // rebuild in progress (if any).
    drop(watcher);
    let _ = rebuilder.join();
    runtime.shutdown_timeout(Duration::from_secs(2));
    served.map_err(ServeError::Runtime)
}

/// Put a rebuild's result in front of the browser and the terminal.
fn publish(shared: &http::Shared, on_event: &Arc<dyn Fn(ServeEvent) + Send + Sync>, outcome: incremental::Outcome) {
    match outcome {
        incremental::Outcome::Built { report, update, reload } => {
            shared.apply(update, reload);
            on_event(ServeEvent::Built(report));
        }
        incremental::Outcome::Failed { diagnostics, elapsed } => {
            shared.fail(&diagnostics);
            on_event(ServeEvent::Failed { diagnostics, elapsed });
        }
    }
}

/// Open `url` in the desktop's browser (for `--open`).
pub fn open_browser(url: &str) -> std::io::Result<()> {
    let mut cmd = if cfg!(target_os = "macos") {
        std::process::Command::new("open")
    } else if cfg!(windows) {
        let mut c = std::process::Command::new("cmd");
        c.args(["/C", "start", ""]);
        c
    } else {
        std::process::Command::new("xdg-open")
    };
    cmd.arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(|_| ())
}
