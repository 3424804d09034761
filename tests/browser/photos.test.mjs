// Photos through the image pipeline, in chromium behind nginx: on a 360 px phone and a
// 1280 px desktop the page downloads the WebP of the width its layout needs (not the
// original, not the widest), nothing shifts while the images arrive (CLS 0), and axe finds
// no serious or critical WCAG violation. The site is tests/fixtures/photos (its example
// venue has a cover, a captioned photo, a photo stored sideways and a decorative divider).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';

import { artifact, screenshotPath, serveFixture } from './harness.mjs';

const require = createRequire(import.meta.url);
const AXE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const PAGE = '/venues/example-hall/';

let fixture;
let site;
let server;
let browser;

before(async () => {
  fixture = await serveFixture('photos');
  ({ site, server, browser } = fixture);
});
after(() => fixture?.close());

/** Open the photo page at `width` px; returns the image URLs fetched, the layout shift
 * total and axe's WCAG result. */
async function visit(width) {
  const context = await browser.newContext({ locale: 'zh-CN', viewport: { width, height: 800 }, deviceScaleFactor: 1 });
  try {
    const page = await context.newPage();
    // A slow phone: scripts run well after the first paint, so anything they add or move
    // shows up as layout shift.
    const cdp = await context.newCDPSession(page);
    await cdp.send('Emulation.setCPUThrottlingRate', { rate: 6 });
    await page.addInitScript(() => {
      window.__cls = 0;
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) if (!e.hadRecentInput) window.__cls += e.value;
      }).observe({ type: 'layout-shift', buffered: true });
    });
    const images = [];
    page.on('response', (r) => {
      if (r.request().resourceType() === 'image') images.push(new URL(r.url()).pathname);
    });
    const res = await page.goto(server.url(PAGE), { waitUntil: 'load' });
    assert.equal(res.status(), 200);
    // Scroll through the page so the lazy images load, then let them arrive.
    for (let y = 0; y < 4000; y += 300) {
      await page.evaluate((top) => window.scrollTo(0, top), y);
      await page.waitForTimeout(50);
    }
    await page.waitForLoadState('networkidle');
    await page.evaluate(() => window.scrollTo(0, 0));
    // What the visit fetched. Taken before the screenshot: a full-page capture makes
    // chromium lay the page out again at another size, and it then fetches other widths
    // (seen in CI: every image again at 400w after the 1280 px visit).
    const visited = [...images];
    await page.screenshot({ path: screenshotPath(`photos-${width}`), fullPage: true });
    const cls = await page.evaluate(() => window.__cls);
    const complete = await page.evaluate(() =>
      [...document.images].every((i) => i.complete && i.naturalWidth > 0),
    );
    await page.evaluate(AXE);
    const axe = await page.evaluate(() =>
      window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }),
    );
    return { images: visited, cls, complete, axe };
  } finally {
    await context.close();
  }
}

/** The file of `name` that was fetched, e.g. `hubble-800w.xxxx.webp`. */
const fetched = (images, name) => images.filter((p) => p.split('/').pop().startsWith(`${name}-`));

describe('photo page', () => {
  for (const [width, expected] of [
    [360, { hubble: 400, cover: 400 }],
    [1280, { hubble: 800, cover: 640 }],
  ]) {
    test(`${width} px: the right widths, WebP, no layout shift, axe clean`, async () => {
      const { images, cls, complete, axe } = await visit(width);
      artifact(`photos-${width}.json`, { images, cls, violations: axe.violations.map((v) => v.id) });
      for (const [name, w] of Object.entries(expected)) {
        const got = fetched(images, name);
        assert.equal(got.length, 1, `${name}: fetched ${JSON.stringify(got)} (all: ${images.join(' ')})`);
        assert.match(got[0], new RegExp(`/${name}-${w}w\\.[0-9a-f]{8}\\.webp$`), `${name} at ${width} px`);
      }
      // Never the full-size copies (the link to them is for a click), never a fallback JPEG.
      assert.ok(!images.some((p) => /\/(hubble|cover|cat)\.jpg$/.test(p)), images.join(' '));
      assert.ok(!images.some((p) => p.endsWith('.jpg')), `a JPEG was fetched: ${images.join(' ')}`);
      assert.ok(complete, 'every image loaded');
      assert.equal(cls, 0, 'cumulative layout shift');
      const serious = axe.violations.filter((v) => ['serious', 'critical'].includes(v.impact));
      assert.deepEqual(serious.map((v) => `${v.id}: ${v.nodes.map((n) => n.target).join(' ')}`), []);
    });
  }

  test('the full-size link works without script', async () => {
    const context = await browser.newContext({ javaScriptEnabled: false });
    try {
      const page = await context.newPage();
      await page.goto(server.url(PAGE));
      const href = await page.getAttribute('figure.photo a.photo-full', 'href');
      assert.match(href, /\/venues\/example-hall\/hubble\.jpg$/);
      const res = await page.goto(server.url(href));
      assert.equal(res.status(), 200);
      assert.equal(res.headers()['content-type'], 'image/jpeg');
    } finally {
      await context.close();
    }
  });
});
