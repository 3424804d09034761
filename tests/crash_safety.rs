//! Killing a build at any moment never leaves a mixed or half-written `public/`, and the next
//! build cleans up what the killed one left behind.
//!
//! The real default portal is built in two versions (A and B differ in one page). Each trial
//! switches the content to the version `public/` does not hold, starts `kepu build`, sends
//! SIGKILL after a pseudo-random delay somewhere inside the build, and checks that `public/`
//! is exactly the complete old tree or exactly the complete new one (every file's hash, the
//! manifest included). The delays come from a seeded generator, so a failure can be replayed:
//! the seed is printed, and `KEPU_CRASH_SEED=<n>` picks another.
//!
//! Where the kills land depends on the machine's speed, so the test reports how many hit the
//! write stage (a staging folder was left) but does not require any; the separate cleanup
//! test creates leftovers deterministically.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TRIALS: usize = 30;
const PAGE: &str = "content/venues/_index.md";

/// SplitMix64: tiny, seeded, good enough to spread delays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn kepu(site: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kepu"));
    c.args(["build", "--root"]).arg(site).env("NO_COLOR", "1").stdout(Stdio::null()).stderr(Stdio::piped());
    c
}

fn build(site: &Path) {
    let out = kepu(site).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn leftovers(site: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(site)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".public.kepu-"))
        .collect();
    names.sort();
    names
}

fn state(site: &Path) -> Option<BTreeMap<String, String>> {
    site.join("public").is_dir().then(|| common::tree(&site.join("public")))
}

#[test]
fn sigkill_at_random_moments_never_leaves_a_mixed_public() {
    let (_tmp, site) = common::default_portal();
    let original = common::read(&site, PAGE);
    let version_b = format!("{original}\n\n（B 版本：崩溃测试追加的一段。）\n");
    let set_version = |b: bool| std::fs::write(site.join(PAGE), if b { &version_b } else { &original }).unwrap();

    // Reference trees, and how long a build takes here (to spread the kills over it).
    set_version(true);
    let start = Instant::now();
    build(&site);
    let first_build = start.elapsed();
    let tree_b = state(&site).unwrap();
    std::fs::remove_dir_all(site.join("public")).unwrap();
    set_version(false);
    let start = Instant::now();
    build(&site);
    let build_time = start.elapsed().max(first_build);
    let tree_a = state(&site).unwrap();
    assert_ne!(tree_a, tree_b, "the two versions must differ");

    let seed = std::env::var("KEPU_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20240915u64);
    eprintln!("crash-safety seed {seed} (set KEPU_CRASH_SEED to replay another), build takes {build_time:?}");
    let mut rng = Rng(seed);
    let (mut kept_old, mut got_new, mut mid_write) = (0, 0, 0);
    // The first trial starts without any public/: it may be absent afterwards, or complete.
    std::fs::remove_dir_all(site.join("public")).unwrap();
    let mut current: Option<bool> = None;
    for trial in 0..TRIALS {
        let target = !current.unwrap_or(true);
        set_version(target);
        // Up to twice the build time: the machine's load varies, and kills that come after
        // the end are checks too (the new site must then be complete).
        let delay = Duration::from_micros(rng.below(build_time.as_micros() as u64 * 2));
        let mut child = kepu(&site).stderr(Stdio::null()).spawn().unwrap();
        let staging = format!(".public.kepu-staging-{}", child.id());
        std::thread::sleep(delay);
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        let now = state(&site);
        let which = match &now {
            None => {
                assert_eq!(current, None, "trial {trial} (delay {delay:?}): public/ vanished");
                None
            }
            Some(t) if *t == tree_a => Some(false),
            Some(t) if *t == tree_b => Some(true),
            Some(t) => {
                let differ: Vec<_> = t.keys().filter(|k| tree_a.get(*k) != t.get(*k) && tree_b.get(*k) != t.get(*k)).take(5).collect();
                panic!(
                    "trial {trial} (seed {seed}, delay {delay:?}): public/ is neither the old nor the new site ({} files; e.g. {differ:?})",
                    t.len()
                );
            }
        };
        if which == Some(target) {
            got_new += 1;
        } else {
            kept_old += 1;
        }
        if leftovers(&site).contains(&staging) {
            mid_write += 1;
        }
        current = which;
    }
    eprintln!("{TRIALS} kills: {got_new} after the swap, {kept_old} before it, {mid_write} during the write stage (left a staging folder)");

    // The next build removes every leftover and produces the complete site.
    set_version(true);
    build(&site);
    assert_eq!(leftovers(&site), Vec::<String>::new(), "leftovers of killed builds must be cleaned up");
    assert_eq!(state(&site).unwrap(), tree_b);
}

#[test]
fn next_build_removes_dead_builds_leftovers_but_not_a_running_ones() {
    let (_tmp, site) = common::fixture("bad-base");
    build(&site);
    let tree = state(&site).unwrap();
    // pid_max is at most 2^22 on Linux: these pids cannot belong to a live process.
    for dead in [".public.kepu-staging-4194305", ".public.kepu-old-4194306"] {
        common::write(&site, &format!("{dead}/index.html"), "<p>half-written</p>");
    }
    // A build running right now (this test process stands in for it) keeps its staging folder.
    let live = format!(".public.kepu-staging-{}", std::process::id());
    common::write(&site, &format!("{live}/index.html"), "<p>in progress</p>");
    build(&site);
    assert_eq!(leftovers(&site), vec![live]);
    assert_eq!(state(&site).unwrap(), tree);
}
