//! The `kepu` command line: parse arguments, call the library, print diagnostics once, pick
//! the exit code (0 success, 1 content/template errors, 2 usage errors).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use kepu::build::{self, BuildOptions, Stage};
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
    },
    /// Check the site (content, links, templates) without writing anything.
    Check {
        #[command(flatten)]
        site: SiteArgs,
    },
    /// Serve the site locally with live reload: rebuilds what an edit touched and shows build
    /// errors in the browser. Nothing is written to the output folder.
    Serve {
        /// Site root (the folder with config.toml).
        #[arg(long, short, default_value = ".")]
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
        /// Site root.
        #[arg(long, short, default_value = ".")]
        root: PathBuf,
    },
}

#[derive(clap::Args)]
struct SiteArgs {
    /// Site root (the folder with config.toml).
    #[arg(long, short, default_value = ".")]
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
        Command::Build { site, output, timings } => run_build(&site, output, timings),
        Command::Check { site } => run_check(&site),
        Command::Serve { root, port, interface, open, drafts } => run_serve(root, port, interface, open, drafts),
        Command::Init { dir, title } => match kepu::scaffold::init(&dir, &title) {
            Ok(_) => {
                println!("created a new site in {}; build it with: kepu build --root {}", dir.display(), dir.display());
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e.to_string()),
        },
        Command::New { kind, name, root } => match kepu::scaffold::new_page(&root, &kind, &name) {
            Ok(p) => {
                println!("wrote {} (a draft: build with --drafts to preview, remove `draft = true` to publish)", p.display());
                ExitCode::SUCCESS
            }
            Err(e @ kepu::scaffold::ScaffoldError::UnknownType(_)) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
            Err(e) => fail(&e.to_string()),
        },
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("error: {message}");
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
}

fn print_diagnostics(d: &Diagnostics, format: Format) {
    match format {
        Format::Json => {
            println!("{}", serde_json::to_string_pretty(&serde_json::json!({
                "errors": d.error_count(), "warnings": d.warning_count(), "diagnostics": d,
            })).unwrap_or_default());
        }
        Format::Human => {
            let styled = std::io::stderr().is_terminal();
            for diag in d.iter() {
                eprintln!("{}", diag.render(styled));
            }
        }
    }
}

fn run_build(site: &SiteArgs, output: Option<PathBuf>, timings: bool) -> ExitCode {
    let options = site.options(output);
    let progress = Progress::new(site.format == Format::Json);
    let start = Instant::now();
    let result = build::build(&options, &mut |s| progress.stage(s));
    progress.finish();
    match result {
        Ok(report) => {
            if !report.warnings.is_empty() {
                print_diagnostics(&report.warnings, site.format);
            }
            if timings {
                for (stage, d) in &report.timings.stages {
                    eprintln!("  {:<7} {:>8.1} ms", stage.name(), d.as_secs_f64() * 1000.0);
                }
                if let Some(rss) = peak_rss_mib() {
                    eprintln!("  peak memory {rss:.1} MiB");
                }
            }
            if site.format == Format::Human {
                eprintln!(
                    "built {} pages, {} sections, {} files ({:.1} MB) into {} in {:.2} s",
                    report.pages,
                    report.sections,
                    report.files,
                    report.bytes as f64 / 1e6,
                    options.output.display(),
                    start.elapsed().as_secs_f64()
                );
            }
            ExitCode::SUCCESS
        }
        Err(diags) => {
            print_diagnostics(&diags, site.format);
            if site.format == Format::Human {
                eprintln!(
                    "build failed: {} error(s); {} was left unchanged",
                    diags.error_count(),
                    options.output.display()
                );
            }
            ExitCode::from(1)
        }
    }
}

fn run_check(site: &SiteArgs) -> ExitCode {
    let options = site.options(None);
    match build::generate(&options, &mut |_| {}) {
        Ok(g) => {
            if site.format == Format::Json {
                print_diagnostics(&g.warnings, site.format);
            } else {
                print_diagnostics(&g.warnings, site.format);
                eprintln!("check passed: {} pages, {} sections, no errors", g.site.pages.len(), g.site.sections.len());
            }
            ExitCode::SUCCESS
        }
        Err(diags) => {
            print_diagnostics(&diags, site.format);
            if site.format == Format::Human {
                eprintln!("check failed: {} error(s)", diags.error_count());
            }
            ExitCode::from(1)
        }
    }
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
