// Components in content, in a real browser behind nginx: one page of the fixture site
// tests/fixtures/components-site uses every built-in component of the default theme (notice,
// figure, video with poster and WebVTT captions, embed, card, ref, chart). The site is built
// here with the working tree's theme, served by nginx with the shipped config, and checked in
// chromium: axe clean (the same WCAG rules as a11y.test.mjs), the video's poster loads and
// nothing of the video is fetched before play, and the embed's plain link works with scripts off.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { artifact, serveFixture } from './harness.mjs';

const require = createRequire(import.meta.url);
const AXE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const WCAG = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
const PAGE = '/examples/demo-bundle/';
const EMBED_LINK = 'https://www.bilibili.com/video/BV1xx411c7mD';

let fixture;
let site;
let server;
let browser;

before(async () => {
  fixture = await serveFixture('components-site');
  ({ site, server, browser } = fixture);
});
after(() => fixture?.close());

/** A context that never reaches outside the local server (the embed's player is another
 * site's); records every request the page makes. */
async function localContext(options = {}) {
  const context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1280, height: 900 }, ...options });
  const requests = [];
  await context.route('**/*', (route) => {
    const url = route.request().url();
    requests.push(url);
    return url.startsWith(server.base) ? route.continue() : route.abort();
  });
  return { context, requests };
}

const brief = (violations) =>
  violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 5).map((n) => n.target.join(' ')) }));

describe('a page with every built-in component', () => {
  test('the page has each built-in once', async () => {
    const { context } = await localContext();
    try {
      const page = await context.newPage();
      const res = await page.goto(server.url(PAGE));
      assert.equal(res.status(), 200);
      const counts = await page.evaluate(() => ({
        notice: document.querySelectorAll('main .notice[role="note"]').length,
        figure: document.querySelectorAll('main figure.figure img').length,
        video: document.querySelectorAll('main video').length,
        embed: document.querySelectorAll('main .media-embed iframe').length,
        card: document.querySelectorAll('main .prose .card .card-link').length,
        ref: document.querySelectorAll('main .prose p > a[href="/examples/shi-li-ye-mian/"]').length,
        chart: document.querySelectorAll('main .chart-figure svg').length,
        chartTable: document.querySelectorAll('main .chart-figure table').length,
      }));
      assert.deepEqual(counts, { notice: 1, figure: 1, video: 1, embed: 1, card: 1, ref: 1, chart: 1, chartTable: 1 });
    } finally {
      await context.close();
    }
  });

  test('axe: no serious or critical WCAG 2.1 A/AA violations', async () => {
    const { context } = await localContext();
    try {
      const page = await context.newPage();
      await page.goto(server.url(PAGE), { waitUntil: 'load' });
      await page.evaluate(AXE);
      const r = await page.evaluate(
        (values) => window.axe.run(document, { runOnly: { type: 'tag', values }, resultTypes: ['violations', 'incomplete'] }),
        WCAG,
      );
      artifact('axe/components.json', { path: PAGE, wcag: r });
      const serious = r.violations.filter((v) => ['serious', 'critical'].includes(v.impact));
      assert.deepEqual(brief(serious), [], `${PAGE}: serious/critical WCAG violations`);
    } finally {
      await context.close();
    }
  });

  test('video: preload="none", its poster loads, captions are there, nothing of the video is fetched before play', async () => {
    const { context, requests } = await localContext();
    try {
      const page = await context.newPage();
      const responses = [];
      page.on('response', (r) => responses.push({ url: r.url(), status: r.status() }));
      await page.goto(server.url(PAGE), { waitUntil: 'load' });
      const video = page.locator('main video');
      await video.scrollIntoViewIfNeeded();
      assert.equal(await video.getAttribute('preload'), 'none');
      assert.equal(await video.getAttribute('aria-label'), '示例视频');
      const poster = await video.getAttribute('poster');
      assert.equal(poster, '/examples/demo-bundle/poster.png');
      const natural = await page.evaluate(
        (src) =>
          new Promise((resolve) => {
            const img = new Image();
            img.onload = () => resolve({ w: img.naturalWidth, h: img.naturalHeight });
            img.onerror = () => resolve({ w: 0, h: 0, error: true });
            img.src = src;
          }),
        poster,
      );
      assert.ok(natural.w > 0 && natural.h > 0, `poster ${poster} does not load: ${JSON.stringify(natural)}`);
      const posterRes = responses.find((r) => r.url === server.url(poster));
      assert.equal(posterRes?.status, 200, `poster response: ${JSON.stringify(responses)}`);
      const track = page.locator('main video track[kind="captions"]');
      assert.equal(await track.getAttribute('src'), '/examples/demo-bundle/demo.vtt');
      assert.equal(await track.getAttribute('srclang'), 'zh-CN');
      const source = page.locator('main video source');
      assert.equal(await source.getAttribute('type'), 'video/webm');
      await page.waitForTimeout(300);
      assert.deepEqual(requests.filter((u) => u.endsWith('.webm')), [], 'preload="none": no request for the video before play');
      // The committed WebM is a real video: after play is asked for, it loads and has a size.
      const played = await page.evaluate(
        () =>
          new Promise((resolve) => {
            const v = document.querySelector('main video');
            v.muted = true;
            v.addEventListener('loadedmetadata', () => resolve({ w: v.videoWidth, h: v.videoHeight }), { once: true });
            v.addEventListener('error', () => resolve({ error: v.error?.code }), { once: true });
            v.load();
            setTimeout(() => resolve({ timeout: true }), 10000);
          }),
      );
      assert.ok(played.w > 0 && played.h > 0, `the video does not load: ${JSON.stringify(played)}`);
    } finally {
      await context.close();
    }
  });

  test('embed with scripts off: the plain link is visible and leads to the other site; the iframe is lazy, titled and sandboxed', async () => {
    const { context } = await localContext({ javaScriptEnabled: false });
    try {
      const page = await context.newPage();
      await page.goto(server.url(PAGE), { waitUntil: 'load' });
      // Scripts really are off: a script element added to the page does not run.
      const ran = await page.evaluate(() => {
        const s = document.createElement('script');
        s.textContent = 'window.__kepuRan = true';
        document.body.append(s);
        return window.__kepuRan === true;
      });
      assert.equal(ran, false, 'page scripts are disabled in this context');
      const link = page.locator('main .media-embed figcaption a');
      await link.scrollIntoViewIfNeeded();
      assert.ok(await link.isVisible(), 'the fallback link is visible');
      assert.equal(await link.getAttribute('href'), EMBED_LINK);
      assert.equal((await link.textContent()).trim(), '到原网站观看');
      const box = await link.boundingBox();
      assert.ok(box && box.width > 0 && box.height > 0, `link box ${JSON.stringify(box)}`);
      // Following it asks for the external URL (aborted here: the test stays on this machine).
      const [request] = await Promise.all([page.waitForRequest((r) => r.url() === EMBED_LINK && r.isNavigationRequest()), link.click()]);
      assert.equal(request.url(), EMBED_LINK);
      await page.goto(server.url(PAGE));
      const iframe = page.locator('main .media-embed iframe');
      const attrs = await iframe.evaluate((f) => Object.fromEntries([...f.attributes].map((a) => [a.name, a.value])));
      assert.equal(attrs.title, '示例外站视频');
      assert.equal(attrs.loading, 'lazy');
      assert.equal(attrs.referrerpolicy, 'strict-origin-when-cross-origin');
      assert.ok(attrs.sandbox && !attrs.sandbox.includes('allow-top-navigation'), `sandbox: ${attrs.sandbox}`);
      assert.equal(attrs.src, 'https://player.bilibili.com/player.html?bvid=BV1xx411c7mD');
    } finally {
      await context.close();
    }
  });
});

test('the fixture page is in the built site with its bundle media', () => {
  for (const f of ['demo.webm', 'poster.png', 'demo.vtt', 'photo.png']) {
    assert.ok(fs.existsSync(path.join(site.out, 'examples/demo-bundle', f)), f);
  }
});
