// Shared by the browser, HTTP and accessibility suites: the built portal, nginx serving it
// with the shipped config (scripts/nginx-serve), and Debian's chromium via playwright-core.
//
// The portal is built once by scripts/test (`kepu build --minify --precompress` into
// target/e2e/public, the way the README's deploy recipe builds it); KEPU_E2E_PUBLIC points
// elsewhere. Each test file starts its own nginx on a free loopback port and stops it.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const PUBLIC = path.resolve(REPO, process.env.KEPU_E2E_PUBLIC || 'target/e2e/public');
export const ARTIFACTS = path.join(REPO, 'tests/artifacts');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

/** Fail with a clear message when the portal was not built first. */
export function requireBuild() {
  if (!fs.existsSync(path.join(PUBLIC, 'index.html'))) {
    throw new Error(
      `no built portal at ${PUBLIC}: run scripts/test, or ` +
        `\`cargo run -- build --minify --precompress --output ${path.relative(REPO, PUBLIC)}\``,
    );
  }
}

/** The search index and UI come from the search stage; say so plainly when they are missing. */
export function requireSearch() {
  const missing = ['search/index.html', 'search/manifest.json', 'search/search.mjs'].filter(
    (f) => !fs.existsSync(path.join(PUBLIC, f)),
  );
  if (missing.length) {
    throw new Error(
      `search is not in the build (missing ${missing.join(', ')}): these tests need the search ` +
        'index, client and /search/ page (src/index/, search.html) merged and `[search] enabled = true`',
    );
  }
}

export function readPublic(rel) {
  return fs.readFileSync(path.join(PUBLIC, rel));
}

export function existsPublic(rel) {
  return fs.existsSync(path.join(PUBLIC, rel));
}

/** Every output file below `dir` (relative paths). */
export function listPublic(dir = '') {
  const out = [];
  const walk = (rel) => {
    for (const e of fs.readdirSync(path.join(PUBLIC, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else out.push(r);
    }
  };
  walk(dir);
  return out.sort();
}

/** Pages of each type, picked from the build (the first of each section, by path). */
export function pageTypes() {
  const firstPage = (section) => {
    const dirs = fs
      .readdirSync(path.join(PUBLIC, section), { withFileTypes: true })
      .filter((e) => e.isDirectory() && e.name !== 'page' && fs.existsSync(path.join(PUBLIC, section, e.name, 'index.html')))
      .map((e) => e.name)
      .sort();
    if (!dirs.length) throw new Error(`no pages under /${section}/ in ${PUBLIC}`);
    return `/${section}/${dirs[0]}/`;
  };
  const pick = (preferred, section) =>
    existsPublic(`${preferred.slice(1)}index.html`) ? preferred : firstPage(section);
  return {
    home: '/',
    section: '/venues/',
    venue: pick('/venues/he-nan-sheng-ke-ji-guan-xin-guan/', 'venues'),
    base: firstPage('bases'),
    expert: firstPage('experts'),
    campaign: firstPage('campaigns'),
    city: pick('/cities/zheng-zhou/', 'cities'),
    overview: existsPublic('overview/index.html') ? '/overview/' : null,
    calendar: '/calendar/',
    tags: existsPublic('tags/index.html') ? '/tags/' : null,
  };
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Plain HTTP GET/HEAD without any decoding: status, headers and the raw body bytes. */
export function request(url, { method = 'GET', headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.setTimeout(15000, () => req.destroy(new Error(`timeout: ${url}`)));
    req.end();
  });
}

/** Start nginx with deploy/nginx.conf on a free port, serving `root` (the built portal unless
 * a test serves a fixture site it built); resolves once it answers. */
export async function startNginx(root = PUBLIC) {
  if (root === PUBLIC) requireBuild();
  else if (!fs.existsSync(path.join(root, 'index.html'))) throw new Error(`no index.html in ${root}`);
  const port = await freePort();
  const child = spawn(path.join(REPO, 'scripts/nginx-serve'), [root, String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20000;
  for (;;) {
    const early = await Promise.race([exited, new Promise((r) => setTimeout(() => r(null), 100))]);
    if (early) throw new Error(`nginx exited (${JSON.stringify(early)}):\n${stderr}`);
    try {
      const r = await request(`${base}/`);
      if (r.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGTERM');
      throw new Error(`nginx did not answer on ${base} in time:\n${stderr}`);
    }
  }
  return {
    base,
    url: (p) => base + p,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Launch Debian's chromium, headless. */
export async function launchChromium() {
  const { chromium } = await import('playwright-core');
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing: scripts/install-test-deps installs chromium`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'],
  });
}

export function artifact(name, data) {
  const file = path.join(ARTIFACTS, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, typeof data === 'string' || Buffer.isBuffer(data) ? data : JSON.stringify(data, null, 2) + '\n');
  return file;
}

export function screenshotPath(name) {
  const file = path.join(ARTIFACTS, 'screenshots', `${name}.png`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  return file;
}

/** Build a fixture site from tests/fixtures/<name> with the working tree's default theme
 * (copied into the site, so the build reads it from disk and not the copy compiled into the
 * binary) into a temp folder; returns the output folder. The binary is $KEPU_BIN, else the
 * one `cargo run` built (debug, then release, under $CARGO_TARGET_DIR or target/), else
 * `cargo run` itself. */
export function buildFixture(name, args = []) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `kepu-${name}-`));
  const site = path.join(tmp, 'site');
  fs.cpSync(path.join(REPO, 'tests/fixtures', name), site, { recursive: true });
  fs.cpSync(path.join(REPO, 'themes/default'), path.join(site, 'themes/default'), { recursive: true });
  const out = path.join(tmp, 'public');
  const targetDir = process.env.CARGO_TARGET_DIR ? path.resolve(REPO, process.env.CARGO_TARGET_DIR) : path.join(REPO, 'target');
  const bin = [process.env.KEPU_BIN, path.join(targetDir, 'debug/kepu'), path.join(targetDir, 'release/kepu')].find(
    (b) => b && fs.existsSync(b),
  );
  const cmd = bin ? [bin] : ['cargo', 'run', '--locked', '--quiet', '--'];
  const run = spawnSync(cmd[0], [...cmd.slice(1), 'build', '--root', site, '--output', out, ...args], {
    cwd: REPO,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });
  if (run.status !== 0) throw new Error(`${cmd.join(' ')} build of fixture ${name} failed (${run.status}):\n${run.stderr}`);
  return { out, cleanup: () => fs.rmSync(tmp, { recursive: true, force: true }) };
}

/** Every control on the page that is not a link inside running text, with its tap area:
 * links, buttons, inputs, summaries that are visible. A link counts as running text when it
 * is laid out inline among other words of its block. A card's link covers its card
 * (::after), so the card's box is its target. */
export function measureControls() {
  const inRunningText = (el) => {
    if (el.tagName !== 'A' || getComputedStyle(el).display !== 'inline') return false;
    let block = el.parentElement;
    while (block && getComputedStyle(block).display === 'inline') block = block.parentElement;
    const words = (n) => n.textContent.replace(/\s+/g, '');
    return words(block).length > words(el).length;
  };
  const box = (el) => {
    const after = getComputedStyle(el, '::after');
    if (after.content !== 'none' && after.position === 'absolute') {
      let p = el.parentElement;
      while (p && getComputedStyle(p).position === 'static') p = p.parentElement;
      if (p) return p.getBoundingClientRect();
    }
    return el.getBoundingClientRect();
  };
  const out = [];
  for (const el of document.querySelectorAll('a[href], button, input:not([type="hidden"]), select, textarea, summary')) {
    if (!el.checkVisibility({ visibilityProperty: true, opacityProperty: true })) continue;
    const r = box(el);
    if (r.width < 2 || r.height < 2 || r.bottom + scrollY < 0) continue; // the skip link waits above the page
    if (inRunningText(el)) continue;
    out.push({
      what: `${el.tagName.toLowerCase()}${el.className ? '.' + String(el.className).split(' ')[0] : ''} “${(el.textContent || el.value || el.placeholder || '').trim().slice(0, 16)}”`,
      x: r.left + scrollX, y: r.top + scrollY, w: r.width, h: r.height,
    });
  }
  return out;
}

/** For a test file on one fixture site: build it ([buildFixture]), serve it with nginx and
 * start chromium; `close()` ends all three (call it from `after`). */
export async function serveFixture(name, args = []) {
  const site = buildFixture(name, args);
  let server;
  let browser;
  try {
    server = await startNginx(site.out);
    browser = await launchChromium();
  } catch (e) {
    await server?.stop();
    site.cleanup();
    throw e;
  }
  return {
    site,
    server,
    browser,
    async close() {
      await browser.close();
      await server.stop();
      site.cleanup();
    },
  };
}
