// Accessibility of every page type, in chromium with axe-core: no serious or critical
// WCAG 2.1 A/AA violations (normal and large-text/high-contrast mode), plus what axe cannot
// judge alone: lang, landmarks, the skip link, a visible focus ring, alt text.
// Results per page: tests/artifacts/axe/<type>.json and tests/artifacts/axe-summary.json.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';

import { artifact, existsPublic, launchChromium, pageTypes, requireSearch, startNginx } from './harness.mjs';

const require = createRequire(import.meta.url);
const AXE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const WCAG = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

let server;
let browser;
const summary = {};

before(async () => {
  server = await startNginx();
  browser = await launchChromium();
});
after(async () => {
  artifact('axe-summary.json', summary);
  await browser?.close();
  await server?.stop();
});

/** The display modes (适老化) and what site.js stores for each. */
const MODES = {
  '': {},
  '-elder': { 'kepu-elder': '1' },
  '-elder-xl': { 'kepu-elder': '2' },
  '-elder-hc': { 'kepu-elder': '1', 'kepu-contrast': '1', 'kepu-cursor': '1' },
};

/** axe on `path`; returns WCAG violations and best-practice findings. */
async function audit(path, { stored = {} } = {}) {
  const context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1280, height: 900 } });
  try {
    const page = await context.newPage();
    if (Object.keys(stored).length) {
      await page.goto(server.url('/'));
      await page.evaluate((s) => { for (const [k, v] of Object.entries(s)) localStorage.setItem(k, v); }, stored);
    }
    const res = await page.goto(server.url(path), { waitUntil: 'load' });
    assert.ok([200, 404].includes(res.status()), `${path}: ${res.status()}`);
    // evaluate() is not subject to the page's Content-Security-Policy.
    await page.evaluate(AXE);
    const run = (tags) =>
      page.evaluate(
        (values) => window.axe.run(document, { runOnly: { type: 'tag', values }, resultTypes: ['violations', 'incomplete'] }),
        tags,
      );
    const wcag = await run(WCAG);
    const practice = await run(['best-practice']);
    return { wcag, practice };
  } finally {
    await context.close();
  }
}

const brief = (violations) =>
  violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    nodes: v.nodes.length,
    targets: v.nodes.slice(0, 5).map((n) => n.target.join(' ')),
  }));

function pagesToAudit() {
  const list = Object.entries(pageTypes()).filter(([, p]) => p);
  list.push(['not-found', '/no-such-page/']);
  if (existsPublic('a-z/index.html')) list.push(['a-z', '/a-z/']);
  return list;
}

describe('axe-core, WCAG 2.1 AA', () => {
  test('axe is live: it flags planted violations (so a pass means something)', async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.setContent('<!doctype html><html><head><title>x</title></head><body><img src="data:,"><p style="color:#bbb;background:#fff">浅灰色的字</p><button></button></body></html>');
      await page.evaluate(AXE);
      const r = await page.evaluate((values) => window.axe.run(document, { runOnly: { type: 'tag', values } }), WCAG);
      const ids = r.violations.map((v) => v.id).sort();
      for (const id of ['button-name', 'color-contrast', 'html-has-lang', 'image-alt']) assert.ok(ids.includes(id), `${id} in ${ids}`);
    } finally {
      await context.close();
    }
  });

  for (const [type, path] of pagesToAudit()) {
    for (const [suffix, stored] of Object.entries(MODES)) {
      const name = `${type}${suffix}`;
      test(`${name} (${path}): no serious or critical violations`, async () => {
        const { wcag, practice } = await audit(path, { stored });
        const serious = wcag.violations.filter((v) => ['serious', 'critical'].includes(v.impact));
        summary[name] = {
          path,
          violations: brief(wcag.violations),
          needs_review: wcag.incomplete.map((v) => `${v.id} (${v.nodes.length})`),
          best_practice: brief(practice.violations),
          passes: wcag.violations.length === 0,
        };
        artifact(`axe/${name}.json`, { path, wcag, best_practice: practice.violations });
        assert.deepEqual(brief(serious), [], `${path}: serious/critical WCAG violations`);
      });
    }
  }

  test('search page with results on a phone, filters folded and unfolded, in every mode: no serious or critical violations', async () => {
    requireSearch();
    const found = {};
    for (const [suffix, stored] of Object.entries(MODES)) {
      const context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
      try {
        const page = await context.newPage();
        await page.goto(server.url('/'));
        await page.evaluate((s) => { for (const [k, v] of Object.entries(s)) localStorage.setItem(k, v); }, stored);
        await page.goto(server.url('/search/?q=' + encodeURIComponent('科技馆')));
        await page.locator('main mark').first().waitFor({ timeout: 15000 });
        await page.evaluate(AXE);
        const run = () => page.evaluate((values) => window.axe.run(document, { runOnly: { type: 'tag', values } }), WCAG);
        const folded = await run();
        await page.locator('#search-filter-toggle').click();
        await page.locator('#search-filters .search-chip').first().click();
        await page.locator('#search-active .search-active-chip').first().waitFor({ timeout: 10000 });
        const unfolded = await run();
        const serious = [...folded.violations, ...unfolded.violations].filter((v) => ['serious', 'critical'].includes(v.impact));
        found[`search-phone${suffix}`] = brief(serious);
        summary[`search-phone${suffix}`] = { path: '/search/?q=科技馆 (390×844)', violations: brief([...folded.violations, ...unfolded.violations]) };
      } finally {
        await context.close();
      }
    }
    assert.deepEqual(Object.values(found).flat(), [], JSON.stringify(found));
  });

  test('search page (with results): no serious or critical violations', async () => {
    requireSearch();
    const context = await browser.newContext({ locale: 'zh-CN' });
    try {
      const page = await context.newPage();
      await page.goto(server.url('/search/?q=' + encodeURIComponent('科技馆')));
      await page.locator('main mark').first().waitFor({ timeout: 15000 });
      await page.evaluate(AXE);
      const r = await page.evaluate((values) => window.axe.run(document, { runOnly: { type: 'tag', values } }), WCAG);
      summary.search = { path: '/search/?q=科技馆', violations: brief(r.violations), passes: r.violations.length === 0 };
      artifact('axe/search.json', r);
      assert.deepEqual(brief(r.violations.filter((v) => ['serious', 'critical'].includes(v.impact))), []);
    } finally {
      await context.close();
    }
  });
});

describe('structure axe cannot judge alone', () => {
  test('lang, landmarks, one main, skip link first, alt text on every image', async () => {
    const context = await browser.newContext({ locale: 'zh-CN' });
    try {
      const page = await context.newPage();
      for (const [type, path] of pagesToAudit()) {
        await page.goto(server.url(path));
        const facts = await page.evaluate(() => {
          const focusable = [...document.querySelectorAll('a[href], button, input, select, textarea, [tabindex]')].filter(
            (e) => e.tabIndex >= 0,
          );
          return {
            lang: document.documentElement.lang,
            banner: document.querySelectorAll('header:not(main header, article header), [role=banner]').length,
            nav: document.querySelectorAll('nav, [role=navigation]').length,
            main: document.querySelectorAll('main, [role=main]').length,
            contentinfo: document.querySelectorAll('footer:not(main footer, article footer), [role=contentinfo]').length,
            firstFocusable: focusable[0] ? focusable[0].getAttribute('href') : null,
            mainId: document.querySelector('main')?.id,
            imagesWithoutAlt: [...document.images].filter((i) => !i.hasAttribute('alt')).map((i) => i.src),
            svgsWithoutName: [...document.querySelectorAll('svg')].filter(
              (s) => s.getAttribute('aria-hidden') !== 'true' && !s.getAttribute('aria-label') && !s.querySelector('title') && !s.getAttribute('aria-labelledby') && s.getAttribute('role') !== 'presentation',
            ).length,
            title: document.title,
          };
        });
        assert.equal(facts.lang, 'zh-CN', `${type}: lang`);
        assert.ok(facts.title.length > 0, `${type}: title`);
        assert.ok(facts.banner >= 1 && facts.nav >= 1 && facts.contentinfo >= 1, `${type}: landmarks ${JSON.stringify(facts)}`);
        assert.equal(facts.main, 1, `${type}: exactly one main`);
        assert.equal(facts.firstFocusable, `#${facts.mainId}`, `${type}: the first focusable element is the skip link to main`);
        assert.deepEqual(facts.imagesWithoutAlt, [], `${type}: images without alt`);
        assert.equal(facts.svgsWithoutName, 0, `${type}: charts/icons need a name or aria-hidden`);
      }
    } finally {
      await context.close();
    }
  });

  test('keyboard: the skip link appears on Tab and moves focus to main; focus is visible', async () => {
    const context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1280, height: 900 } });
    try {
      const page = await context.newPage();
      await page.goto(server.url(pageTypes().venue));
      await page.keyboard.press('Tab');
      const skip = await page.evaluate(() => {
        const a = document.activeElement;
        const r = a.getBoundingClientRect();
        return { href: a.getAttribute('href'), text: a.textContent.trim(), visible: r.width > 0 && r.height > 0 && r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight };
      });
      assert.equal(skip.href, '#main');
      assert.ok(skip.visible, 'the skip link is on screen when focused');
      assert.match(skip.text, /跳|正文|内容/);
      await page.keyboard.press('Enter');
      assert.equal(await page.evaluate(() => document.activeElement.id || document.activeElement.closest('main')?.id), 'main');

      // Every kind of focusable control shows a focus indicator (outline or box-shadow
      // different from its unfocused look).
      const results = await page.evaluate(() => {
        const kinds = ['header a[href]', 'nav a[href]', 'main a[href]', 'button', 'input[type=search], input[name=q]', 'footer a[href]'];
        const look = (e) => {
          const s = getComputedStyle(e);
          return `${s.outlineStyle} ${s.outlineWidth} ${s.outlineColor} | ${s.boxShadow} | ${s.backgroundColor} | ${s.textDecorationLine} ${s.borderColor}`;
        };
        return kinds
          .map((k) => document.querySelector(k))
          .filter(Boolean)
          .map((e) => {
            e.blur();
            const before = look(e);
            e.focus({ focusVisible: true });
            const s = getComputedStyle(e);
            return { el: e.outerHTML.slice(0, 80), before, after: look(e), outline: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 1 };
          });
      });
      // focus() from script may not count as keyboard focus: check with real Tab presses too.
      const tabbed = [];
      await page.goto(server.url('/'));
      for (let i = 0; i < 8; i++) {
        await page.keyboard.press('Tab');
        tabbed.push(
          await page.evaluate(() => {
            const e = document.activeElement;
            const s = getComputedStyle(e);
            const visible = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 1) || (s.boxShadow && s.boxShadow !== 'none');
            return { el: e.outerHTML.slice(0, 80), visible, focusVisible: e.matches(':focus-visible') };
          }),
        );
      }
      artifact('focus.json', { scripted: results, tabbed });
      const invisible = tabbed.filter((t) => !t.visible);
      assert.deepEqual(invisible, [], 'elements reached with Tab without a visible focus indicator');
    } finally {
      await context.close();
    }
  });

  // A component's own rule (.site-nav a[aria-current], .jump li a, …) can be more specific than
  // a:focus-visible and keep its background and shadow under the transparent outline: then
  // nothing shows. So every focusable element of these pages must look different when focused:
  // a real outline, or another background or shadow.
  test('keyboard focus is visible on every focusable element, in both modes', async () => {
    const types = pageTypes();
    const paths = [types.home, types.section, types.venue, types.base, types.campaign, types.city, types.calendar, '/no-such-page/'];
    if (existsPublic('search/index.html')) paths.push('/search/?q=' + encodeURIComponent('科技馆'));
    const invisible = [];
    let checked = 0;
    for (const elder of [false, true]) {
      const context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 360, height: 740 } });
      try {
        const page = await context.newPage();
        await page.goto(server.url('/'));
        await page.evaluate((on) => (on ? localStorage.setItem('kepu-elder', '1') : localStorage.removeItem('kepu-elder')), elder);
        for (const path of paths) {
          await page.goto(server.url(path));
          if (path.startsWith('/search/')) {
            await page.locator('#search-results a').first().waitFor({ timeout: 15000 });
            // On a phone the filters fold behind 筛选: unfold them, so their chips are checked too.
            const toggle = page.locator('#search-filter-toggle');
            if (await toggle.isVisible()) await toggle.click();
            await page.locator('.search-chip').first().waitFor({ timeout: 15000 });
          }
          // One real key press puts the page in keyboard mode: focus() then counts as :focus-visible.
          await page.keyboard.press('Tab');
          const found = await page.evaluate(() => {
            const transparent = (c) => c === 'transparent' || /rgba\([^)]*,\s*0\)$/.test(c);
            const look = (e) => {
              const s = getComputedStyle(e);
              return {
                outline: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2 && !transparent(s.outlineColor),
                paint: `${s.backgroundColor} | ${s.boxShadow}`,
              };
            };
            // (checkVisibility also leaves out what a closed <details> holds.)
            const all = [...document.querySelectorAll('a[href], button, input, select, textarea, summary, [tabindex]')].filter(
              (e) => e.tabIndex >= 0 && e.checkVisibility({ visibilityProperty: true }),
            );
            const out = { checked: 0, invisible: [] };
            for (const e of all) {
              if (document.activeElement === e) e.blur();
              const before = look(e);
              e.focus();
              if (document.activeElement !== e) continue;
              out.checked++;
              const after = look(e);
              const visible = e.matches(':focus-visible') && (after.outline || after.paint !== before.paint);
              if (!visible) out.invisible.push(`${e.outerHTML.slice(0, 90)} (focus-visible: ${e.matches(':focus-visible')}, ${after.paint})`);
            }
            return out;
          });
          checked += found.checked;
          // The same kind of element usually fails on every page: report each once.
          for (const f of found.invisible) if (!invisible.some((i) => i.endsWith(f))) invisible.push(`${path}${elder ? ' (elder)' : ''}: ${f}`);
        }
      } finally {
        await context.close();
      }
    }
    assert.ok(checked > 100, `${checked} elements checked`);
    assert.deepEqual(invisible, [], 'focusable elements that look the same focused and not');
  });

  // The theme promises at least 3:1 for the borders that outline a control (WCAG 1.4.11),
  // against the control's own background and the one around it.
  test('borders of chips and pill links: at least 3:1, in both modes', async () => {
    const types = pageTypes();
    const targets = [
      [types.section, '.jump li a'],
      [types.city, '.jump li a'],
      [types.campaign, '.chips-links a'],
      [types.venue, '.chips-links a, .tag'],
    ];
    if (existsPublic('search/index.html')) targets.push(['/search/?q=' + encodeURIComponent('科技馆'), '.search-chip[aria-pressed="false"]']);
    const low = [];
    let measured = 0;
    for (const elder of [false, true]) {
      const context = await browser.newContext({ locale: 'zh-CN' });
      try {
        const page = await context.newPage();
        await page.goto(server.url('/'));
        await page.evaluate((on) => (on ? localStorage.setItem('kepu-elder', '1') : localStorage.removeItem('kepu-elder')), elder);
        for (const [path, selector] of targets) {
          if (!path) continue;
          await page.goto(server.url(path));
          if (path.startsWith('/search/')) await page.locator(selector).first().waitFor({ timeout: 15000 });
          const found = await page.evaluate((sel) => {
            const rgb = (c) => (c.match(/[\d.]+/g) || []).map(Number);
            const lum = ([r, g, b]) =>
              [r, g, b].map((v) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4)).reduce((a, v, i) => a + v * [0.2126, 0.7152, 0.0722][i], 0);
            const ratio = (a, b) => {
              const [x, y] = [lum(rgb(a)), lum(rgb(b))].sort((p, q) => q - p);
              return (x + 0.05) / (y + 0.05);
            };
            const opaque = (c) => { const v = rgb(c); return v.length === 3 || v[3] === 1; };
            const backgroundOf = (e) => {
              for (let n = e; n; n = n.parentElement) { const c = getComputedStyle(n).backgroundColor; if (opaque(c)) return c; }
              return 'rgb(255, 255, 255)';
            };
            return [...document.querySelectorAll(sel)].slice(0, 3).map((e) => {
              const s = getComputedStyle(e);
              const inside = backgroundOf(e);
              const outside = backgroundOf(e.parentElement);
              return { el: e.outerHTML.slice(0, 60), border: s.borderTopColor, ratio: Math.min(ratio(s.borderTopColor, inside), ratio(s.borderTopColor, outside)) };
            });
          }, selector);
          measured += found.length;
          for (const f of found) if (f.ratio < 3) low.push(`${path}${elder ? ' (elder)' : ''} ${f.el}: border ${f.border} at ${f.ratio.toFixed(2)}:1`);
        }
      } finally {
        await context.close();
      }
    }
    assert.ok(measured >= 4, `${measured} controls measured`);
    assert.deepEqual(low, []);
  });
});
