//! The `kepu` command line: parse arguments, call the library, print diagnostics once, pick
//! the exit code (0 success, 1 content/template errors, 2 usage errors).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

/// `eprintln!`/`println!` that ignore write errors: when a reader closes the pipe early
/// (`kepu build 2>&1 | head`), the build's result and exit code must not turn into a panic.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

use kepu::build::{self, BuildOptions, Stage};
use kepu::check::CheckOptions;
use kepu::diagnostics::Diagnostics;

/// kepu (科普) builds fast static portals for public science popularization: venues,
/// bases, experts and campaigns, with a search that understands Chinese and pinyin.
#[derive(Parser)]
#[command(name = "kepu", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build the site into the output folder (atomically: on error the old output stays).
    Build {
        #[command(flatten)]
        site: SiteArgs,
        /// Output folder [default: ROOT/public]
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Print the time of each stage.
        #[arg(long)]
        timings: bool,
        /// Minify HTML, CSS and JavaScript (config: [output] minify = true).
        #[arg(long)]
        minify: bool,
        /// Also write .gz and .br siblings of text files, for nginx gzip_static/brotli_static
        /// or a CDN (config: [output] precompress = true).
        #[arg(long)]
        precompress: bool,
    },
    /// Check the site without writing anything: content, templates, and every link, image,
    /// asset and #anchor of the generated pages. Exits 1 when anything is broken.
    Check {
        #[command(flatten)]
        site: SiteArgs,
        /// Also fetch links to other sites (off by default: remote servers are slow and flaky).
        #[arg(long)]
        external: bool,
        /// Seconds allowed per external URL.
        #[arg(long, default_value_t = 10, value_name = "SECS")]
        timeout: u64,
        /// Also check that every number of a typed page is in a source document it cites.
        #[arg(long)]
        sources: bool,
        /// The source documents for --sources (default: ../shared/seeds beside the site root).
        #[arg(long, value_name = "DIR", requires = "sources")]
        seeds: Option<PathBuf>,
    },
    /// Compare two builds' manifests (.kepu-manifest.json): what a deploy uploads and deletes.
    /// Prints `upload PATH` lines (assets before pages) then `delete PATH` lines.
    ManifestDiff {
        /// Manifest of what is deployed now (kept from the last deploy).
        old: PathBuf,
        /// Manifest of the new build.
        #[arg(default_value = "public/.kepu-manifest.json")]
        new: PathBuf,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Publish the build (ROOT/public) to S3-compatible object storage, a [[deploy.targets]]
    /// of config.toml: uploads only what changed, assets before pages, deletions last.
    /// Credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or ~/.aws/credentials.
    Deploy {
        /// Site root (the folder with config.toml).
        #[arg(long, short, default_value = ".", value_parser = existing_folder)]
        root: PathBuf,
        /// The build to publish [default: ROOT/public]
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Target name from config.toml [default: the first]
        #[arg(long, short)]
        target: Option<String>,
        /// Show what would be uploaded and deleted; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Allow deleting more than --max-deletes objects.
        #[arg(long)]
        force: bool,
        /// Most objects one deploy may delete without --force [default: a tenth of what is
        /// deployed, at least 10]
        #[arg(long, value_name = "N")]
        max_deletes: Option<usize>,
        /// Uploads in flight at once.
        #[arg(long, default_value_t = 8, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
        workers: u16,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Serve the site locally with live reload: rebuilds what an edit touched and shows build
    /// errors in the browser. Nothing is written to the output folder.
    Serve {
        /// Site root (the folder with config.toml).
        #[arg(long, short, default_value = ".", value_parser = existing_folder)]
        root: PathBuf,
        /// Port to listen on (0: any free port).
        #[arg(long, short, default_value_t = kepu::serve::DEFAULT_PORT)]
        port: u16,
        /// Address to listen on. Only loopback by default; 0.0.0.0 exposes the preview to the
        /// network.
        #[arg(long, short, default_value = "127.0.0.1")]
        interface: std::net::IpAddr,
        /// Open the site in the browser once it is served.
        #[arg(long)]
        open: bool,
        /// Include pages marked draft = true.
        #[arg(long)]
        drafts: bool,
    },
    /// Create a new, minimal site in DIR.
    Init {
        dir: PathBuf,
        /// Site title.
        #[arg(long, default_value = "科普门户")]
        title: String,
    },
    /// Write a new content file with a valid front-matter skeleton for its type.
    New {
        /// venue, base, expert, campaign or city
        kind: String,
        /// The page's title, e.g. "郑州科技馆"; the file name is its pinyin.
        name: String,
        /// Write the page as a folder (`venues/x/index.md`) to put its photos beside it.
        #[arg(long, short)]
        bundle: bool,
        /// Site root.
        #[arg(long, short, default_value = ".", value_parser = existing_folder)]
        root: PathBuf,
    },
}

#[derive(clap::Args)]
struct SiteArgs {
    /// Site root (the folder with config.toml).
    #[arg(long, short, default_value = ".", value_parser = existing_folder)]
    root: PathBuf,
    /// Override base_url from config.toml.
    #[arg(long)]
    base_url: Option<String>,
    /// Include pages marked draft = true.
    #[arg(long)]
    drafts: bool,
    /// How to print diagnostics.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Human,
    Json,
}

/// `--root` must name a folder that exists: a mistyped path is a usage error (exit code 2),
/// not a site with a missing config.toml.
fn existing_folder(arg: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(arg);
    if path.is_dir() {
        Ok(path)
    } else {
        let shown = std::path::absolute(&path).unwrap_or_else(|_| path.clone());
        Err(format!("no such folder: {} (the site root is the folder with config.toml)", shown.display()))
    }
}

impl SiteArgs {
    fn options(&self, output: Option<PathBuf>) -> BuildOptions {
        let mut o = BuildOptions::new(&self.root);
        if let Some(out) = output {
            o.output = out;
        }
        o.base_url = self.base_url.clone();
        o.include_drafts = self.drafts;
        o
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Build { site, output, timings, minify, precompress } => {
            keep_freed_memory();
            run_build(&site, output, timings, minify, precompress)
        }
        Command::Check { site, external, timeout, sources, seeds } => {
            keep_freed_memory();
            let seeds = sources.then(|| seeds.unwrap_or_else(|| site.root.join("..").join("shared").join("seeds")));
            run_check(&site, external, timeout, seeds.as_deref())
        }
        Command::ManifestDiff { old, new, format } => run_manifest_diff(&old, &new, format),
        Command::Deploy { root, output, target, dry_run, force, max_deletes, workers, format } => {
            run_deploy(&root, output, target, dry_run, force, max_deletes, usize::from(workers), format)
        }
        Command::Serve { root, port, interface, open, drafts } => run_serve(root, port, interface, open, drafts),
        Command::Init { dir, title } => match kepu::scaffold::init(&dir, &title) {
            Ok(_) => {
                out!("created a new site in {}; build it with: kepu build --root {}", dir.display(), dir.display());
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e.to_string()),
        },
        Command::New { kind, name, root, bundle } => match kepu::scaffold::new_page(&root, &kind, &name, bundle) {
            Ok(p) => {
                out!("wrote {} (a draft: build with --drafts to preview, remove `draft = true` to publish)", p.display());
                ExitCode::SUCCESS
            }
            Err(e @ kepu::scaffold::ScaffoldError::UnknownType(_)) => {
                say!("error: {e}");
                ExitCode::from(2)
            }
            Err(e) => fail(&e.to_string()),
        },
    }
}

fn fail(message: &str) -> ExitCode {
    say!("error: {message}");
    ExitCode::from(1)
}

/// A spinner on a terminal; plain stage lines otherwise (CI logs).
struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    fn new(quiet: bool) -> Self {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let b = ProgressBar::new_spinner();
            b.set_style(ProgressStyle::with_template("{spinner} {msg} {elapsed}").unwrap());
            b.enable_steady_tick(Duration::from_millis(80));
            b
        });
        Progress { bar }
    }
    fn stage(&self, s: Stage) {
        if let Some(b) = &self.bar {
            b.set_message(format!("{}…", s.name()));
        }
    }
    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
    /// The images stage's progress on the same line: count and current file.
    fn images(&self) -> kepu::build::ImageProgress {
        let Some(bar) = self.bar.clone() else { return Default::default() };
        kepu::build::ImageProgress(Some(std::sync::Arc::new(move |done: usize, total: usize, file: &str| {
            bar.set_message(format!("images {done}/{total} {file}"));
        })))
    }
}

fn print_diagnostics(d: &Diagnostics, format: Format) {
    match format {
        Format::Json => {
            out!("{}", serde_json::to_string_pretty(&serde_json::json!({
                "errors": d.error_count(), "warnings": d.warning_count(), "diagnostics": d,
            })).unwrap_or_default());
        }
        Format::Human => {
            let styled = std::io::stderr().is_terminal();
            for diag in d.iter() {
                say!("{}", diag.render(styled));
            }
        }
    }
}

fn run_build(site: &SiteArgs, output: Option<PathBuf>, timings: bool, minify: bool, precompress: bool) -> ExitCode {
    let mut options = site.options(output);
    options.minify = minify;
    options.precompress = precompress;
    let progress = Progress::new(site.format == Format::Json);
    options.image_progress = progress.images();
    let start = Instant::now();
    let result = build::build(&options, &mut |s| {
        memory_policy(s);
        progress.stage(s)
    });
    progress.finish();
    match result {
        Ok(report) => {
            if !report.warnings.is_empty() {
                print_diagnostics(&report.warnings, site.format);
            }
            if timings {
                for t in &report.timings.stages {
                    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
                    say!(
                        "  {:<7} {:>8.1} ms  cpu {:>8.1} ms  resident {:>6.1} MiB  page faults {:>7}",
                        t.stage.name(),
                        ms(t.wall),
                        ms(t.cpu),
                        t.resident_after as f64 / 1048576.0,
                        t.page_faults
                    );
                }
                if let Some(rss) = peak_rss_mib() {
                    say!("  peak memory {rss:.1} MiB");
                }
            }
            if site.format == Format::Human {
                say!(
                    "built {} pages, {} sections, {} files ({:.1} MB) into {} in {:.2} s",
                    report.pages,
                    report.sections,
                    report.files,
                    report.bytes as f64 / 1e6,
                    options.output.display(),
                    start.elapsed().as_secs_f64()
                );
                if report.bytes_before_minify != report.bytes {
                    say!(
                        "  minified: {:.1} MB → {:.1} MB",
                        report.bytes_before_minify as f64 / 1e6,
                        report.bytes as f64 / 1e6
                    );
                }
                if report.compressed_files > 0 {
                    say!(
                        "  precompressed: {} .gz/.br files ({:.1} MB)",
                        report.compressed_files,
                        report.compressed_bytes as f64 / 1e6
                    );
                }
            }
            ExitCode::SUCCESS
        }
        Err(diags) => {
            print_diagnostics(&diags, site.format);
            if site.format == Format::Human {
                say!(
                    "build failed: {} error(s); {} was left unchanged",
                    diags.error_count(),
                    options.output.display()
                );
            }
            ExitCode::from(1)
        }
    }
}

fn run_check(site: &SiteArgs, external: bool, timeout: u64, seeds: Option<&std::path::Path>) -> ExitCode {
    // Read the sources first: a missing folder is a usage error, found before the build.
    let seeds = match seeds.map(kepu::sources::Seeds::load).transpose() {
        Ok(s) => s,
        Err(e) => {
            say!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let mut options = site.options(None);
    let progress = Progress::new(site.format == Format::Json);
    options.image_progress = progress.images();
    let generated = build::generate(&options, &mut |s| progress.stage(s));
    let g = match generated {
        Ok(g) => g,
        Err(diags) => {
            progress.finish();
            print_check(&diags, None, site.format);
            if site.format == Format::Human {
                say!("check failed: {} error(s)", diags.error_count());
            }
            return ExitCode::from(1);
        }
    };
    if let Some(b) = &progress.bar {
        b.set_message(if external { "links (with external)…" } else { "links…" });
    }
    let check_options = CheckOptions { external, timeout: Duration::from_secs(timeout.max(1)), ..CheckOptions::default() };
    let report = kepu::check::check(&g.site, &g.files, &check_options);
    progress.finish();
    let mut all = g.warnings;
    all.extend(report.diagnostics);
    let sources_stats = seeds.map(|seeds| {
        let (diags, stats) = kepu::sources::check(&g.site, &site.root, &seeds);
        all.extend(diags);
        stats
    });
    let all = all.sorted();
    print_check(&all, Some(&report.stats), site.format);
    let s = &report.stats;
    if site.format == Format::Human {
        let external_note = if external {
            format!("{} external URLs fetched", s.external_checked)
        } else {
            format!("{} external URLs not fetched (use --external)", s.external_urls)
        };
        let summary = format!(
            "{} pages, {} sections; {} HTML files and {} stylesheets, {} links and assets, {} anchors; {external_note}",
            g.site.pages.len(),
            g.site.sections.len(),
            s.html_files,
            s.css_files,
            s.internal_links,
            s.anchors,
        );
        let summary = match sources_stats {
            Some(st) => format!("{summary}; {} numbers of {} typed pages against their sources", st.numbers, st.pages),
            None => summary,
        };
        if all.has_errors() {
            say!("check failed: {} error(s); checked {summary}", all.error_count());
        } else {
            say!("check passed: {summary}");
        }
    }
    if all.has_errors() { ExitCode::from(1) } else { ExitCode::SUCCESS }
}

/// The check's report: diagnostics, plus what was checked in JSON.
fn print_check(d: &Diagnostics, stats: Option<&kepu::check::CheckStats>, format: Format) {
    match format {
        Format::Json => {
            out!("{}", serde_json::to_string_pretty(&serde_json::json!({
                "ok": !d.has_errors(), "errors": d.error_count(), "warnings": d.warning_count(),
                "checked": stats, "diagnostics": d,
            })).unwrap_or_default());
        }
        Format::Human => print_diagnostics(d, format),
    }
}

fn run_manifest_diff(old: &std::path::Path, new: &std::path::Path, format: Format) -> ExitCode {
    use kepu::write::manifest::{diff, Manifest};
    let (old, new) = match (Manifest::load(old), Manifest::load(new)) {
        (Ok(o), Ok(n)) => (o, n),
        (Err(e), _) | (_, Err(e)) => return fail(&e.to_string()),
    };
    let d = diff(&old, &new);
    match format {
        Format::Json => out!("{}", serde_json::to_string_pretty(&serde_json::json!({
            "upload": d.upload(), "delete": d.delete(),
            "added": d.added, "changed": d.changed, "removed": d.removed, "unchanged": d.unchanged,
        })).unwrap_or_default()),
        Format::Human => {
            for p in d.upload() {
                out!("upload {p}");
            }
            for p in d.delete() {
                out!("delete {p}");
            }
            say!(
                "{} added, {} changed, {} removed, {} unchanged",
                d.added.len(),
                d.changed.len(),
                d.removed.len(),
                d.unchanged
            );
        }
    }
    ExitCode::SUCCESS
}

#[allow(clippy::too_many_arguments)]
fn run_deploy(
    root: &std::path::Path,
    output: Option<PathBuf>,
    target: Option<String>,
    dry_run: bool,
    force: bool,
    max_deletes: Option<usize>,
    workers: usize,
    format: Format,
) -> ExitCode {
    use kepu::deploy::{self, DeployOptions, Event};
    let config = match kepu::config::Config::load(root) {
        Ok(c) => c,
        Err(d) => {
            print_diagnostics(&d, format);
            return ExitCode::from(1);
        }
    };
    let Some(chosen) = config.deploy.target(target.as_deref()).cloned() else {
        let names: Vec<&str> = config.deploy.targets.iter().map(|t| t.name.as_str()).collect();
        let message = match (&target, names.is_empty()) {
            (_, true) => "config.toml has no [[deploy.targets]]; see the README's Publishing section".to_string(),
            (Some(t), false) => format!("no deploy target `{t}` in config.toml (targets: {})", names.join(", ")),
            (None, false) => unreachable!("the first target exists"),
        };
        return deploy_failed(&message, format, 2);
    };
    let credentials = match deploy::Credentials::from_environment() {
        Ok(c) => c,
        Err(e) => return deploy_failed(&e.to_string(), format, 1),
    };
    let human = format == Format::Human;
    if human {
        say!("deploying {} to {} (bucket {}, {}), credentials from {}", output.as_deref().unwrap_or(&deploy::default_public(root)).display(), chosen.endpoint, chosen.bucket, chosen.name, credentials.source);
    }
    let options = DeployOptions {
        public: output.unwrap_or_else(|| deploy::default_public(root)),
        target: chosen,
        dry_run,
        force,
        max_deletes,
        workers,
        network: deploy::Network::default(),
    };
    let bar = (human && std::io::stderr().is_terminal()).then(|| {
        let b = ProgressBar::new(0);
        b.set_style(ProgressStyle::with_template("{bar:30} {pos}/{len} {msg} {elapsed}").unwrap());
        b
    });
    let on_event = |e: Event<'_>| match e {
        Event::Planned { uploads, bytes, deletes, unchanged } => {
            if let Some(b) = &bar {
                b.set_length((uploads + deletes) as u64);
            }
            if human {
                let verb = if dry_run { "would upload" } else { "uploading" };
                let line = format!("{verb} {uploads} objects ({:.1} MB), delete {deletes}, {unchanged} unchanged", bytes as f64 / 1e6);
                match &bar {
                    Some(b) => b.println(line),
                    None => say!("{line}"),
                }
            }
        }
        Event::Phase(p) => {
            if let Some(b) = &bar {
                b.set_message(format!("{p:?}").to_lowercase());
            }
        }
        Event::Uploaded { .. } | Event::Deleted { .. } => {
            if let Some(b) = &bar {
                b.inc(1);
            }
        }
        Event::Note(n) => {
            if human {
                say!("note: {n}");
            }
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => return deploy_failed(&format!("cannot start the runtime: {e}"), format, 1),
    };
    let result = runtime.block_on(deploy::run(&options, credentials, &on_event));
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    match result {
        Ok(s) => {
            if human {
                if dry_run {
                    for k in &s.uploaded_keys {
                        out!("upload {k}");
                    }
                    for k in &s.deleted_keys {
                        out!("delete {k}");
                    }
                }
                say!(
                    "{} {} of {} objects ({:.1} MB), deleted {}, {} unchanged, in {:.1} s{}",
                    if dry_run { "dry run: would upload" } else { "deployed: uploaded" },
                    s.uploaded,
                    s.objects,
                    s.uploaded_bytes as f64 / 1e6,
                    s.deleted,
                    s.unchanged,
                    s.seconds,
                    if s.unpublished > 0 { format!(" ({} dot files not published)", s.unpublished) } else { String::new() }
                );
            } else {
                let mut v = serde_json::to_value(&s).unwrap_or_default();
                v["ok"] = true.into();
                out!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            }
            ExitCode::SUCCESS
        }
        Err(e) => deploy_failed(&e.to_string(), format, 1),
    }
}

/// A deploy's error, once: a line on stderr, or `{ok: false, error}` for pipelines.
fn deploy_failed(message: &str, format: Format, code: u8) -> ExitCode {
    match format {
        Format::Human => say!("error: {message}"),
        Format::Json => out!("{}", serde_json::to_string_pretty(&serde_json::json!({ "ok": false, "error": message })).unwrap_or_default()),
    }
    ExitCode::from(code)
}

fn run_serve(root: PathBuf, port: u16, interface: std::net::IpAddr, open: bool, drafts: bool) -> ExitCode {
    use kepu::serve::{RebuildKind, ServeEvent};
    let mut options = kepu::serve::ServeOptions::new(root);
    options.port = port;
    options.interface = interface;
    options.build.include_drafts = drafts;
    let styled = std::io::stderr().is_terminal();
    let result = kepu::serve::serve(options, move |event| match event {
        ServeEvent::Listening { url } => {
            println!("serving at {url} (Ctrl-C to stop)");
            if open {
                if let Err(e) = kepu::serve::open_browser(&url) {
                    eprintln!("warning: could not open a browser: {e}");
                }
            }
        }
        ServeEvent::Built(r) => {
            for d in r.warnings.iter() {
                eprintln!("{}", d.render(styled));
            }
            let ms = r.elapsed.as_secs_f64() * 1000.0;
            match r.kind {
                RebuildKind::Initial => eprintln!("built {} pages in {ms:.0} ms", r.pages),
                RebuildKind::Index => eprintln!("search index updated in {ms:.0} ms"),
                RebuildKind::Full => eprintln!("rebuilt everything ({} outputs, {} files changed) in {ms:.0} ms", r.rendered, r.changed_files),
                RebuildKind::Incremental => eprintln!(
                    "rebuilt {} of {} outputs for {} changed file(s), {} files changed, in {ms:.0} ms",
                    r.rendered, r.targets, r.sources, r.changed_files
                ),
            }
        }
        ServeEvent::Failed { diagnostics, .. } => {
            for d in diagnostics.iter() {
                eprintln!("{}", d.render(styled));
            }
            eprintln!("build failed: {} error(s); the browser shows them, the last good site is still served", diagnostics.error_count());
        }
        ServeEvent::WatchError(e) => eprintln!("warning: watching files: {e}"),
        ServeEvent::Stopping => eprintln!("stopping"),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e @ kepu::serve::ServeError::PortInUse { .. }) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
        Err(e) => fail(&e.to_string()),
    }
}

/// Peak resident memory of this process (Linux), for `--timings`.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// mimalloc: the build allocates and frees millions of small template values; glibc's
/// allocator spends a fifth of the build's instructions on them.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// For one-shot commands (`build`, `check`): tell mimalloc to keep freed memory instead of
/// handing it back to the kernel after 10 ms. The stages free and allocate hundreds of MiB in
/// waves (index postings, then rendered pages); returning that memory only to fault it in
/// again, zeroed page by page, cost about a sixth of a 10,000-page build's CPU time. Peak
/// memory is unchanged (it is reused, not added to). `kepu serve` keeps the default, since
/// a long-running server should give memory back.
fn keep_freed_memory() {
    set_purge_delay(-1);
}

/// mimalloc's own default purge delay (milliseconds).
const DEFAULT_PURGE_DELAY_MS: std::ffi::c_long = 10;

/// How long mimalloc keeps freed memory before handing it back: milliseconds, -1 never.
fn set_purge_delay(ms: std::ffi::c_long) {
    // `mi_option_purge_delay` in mimalloc's option enum (v2 and v3 alike; the Rust bindings
    // do not name it).
    const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // SAFETY: sets one of mimalloc's option values; valid at any time, from any thread.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, ms) }
}

/// Called as each stage of `kepu build` starts. The images stage frees buffers of tens of
/// MiB (a decoded photo, its resized copies, the encoders' planes), of a different size for
/// each photo: kept after freeing, they fragment mimalloc's segments, and the peak grows with
/// the number of photos (one thread, 2400 px photos: peak 139 MiB for 20, 171 MiB for 100).
/// Handed back after mimalloc's default 10 ms, the peak stays near what one photo per
/// thread needs (105 and 121 MiB; about 3 s more system time over 100 photos, of 60 s).
/// The other stages keep what they free (see [`keep_freed_memory`]).
fn memory_policy(stage: build::Stage) {
    set_purge_delay(if stage == build::Stage::Images { DEFAULT_PURGE_DELAY_MS } else { -1 });
}
