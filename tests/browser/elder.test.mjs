// 适老化 (issue 25), measured in chromium the way a 65-year-old visitor meets the portal: a
// 390×844 touch phone in each display mode (normal, 大字 大, 大字 特大, 高对比度), and a
// desktop for the large cursor. Tap targets, overflow at 200% browser text size, where the
// first search result lands, what read-aloud passes to speechSynthesis.speak, contrast in
// high-contrast mode, the way back at the end of long pages, search without JavaScript, the
// words visitors see. Screenshots of each mode: tests/artifacts/screenshots/elder-*.png;
// figures: tests/artifacts/elder.json.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { artifact, existsPublic, launchChromium, listPublic, measureControls, pageTypes, readPublic, requireSearch, screenshotPath, startNginx } from './harness.mjs';

let server;
let browser;
const pages = pageTypes();
const figures = {};
const PHONE = { width: 390, height: 844 };

before(async () => {
  server = await startNginx();
  browser = await launchChromium();
});
after(async () => {
  artifact('elder.json', figures);
  await browser?.close();
  await server?.stop();
});

/** The display modes and what site.js stores for each. */
const MODES = {
  normal: {},
  big: { 'kepu-elder': '1' },
  xl: { 'kepu-elder': '2' },
  hc: { 'kepu-elder': '1', 'kepu-contrast': '1' },
};

/** A context in `mode`, stored before the first page (as a returning visitor has it). */
async function inMode(mode, options = {}) {
  const context = await browser.newContext({ locale: 'zh-CN', viewport: PHONE, isMobile: true, hasTouch: true, ...options });
  await context.addInitScript((stored) => {
    try {
      if (sessionStorage.getItem('mode-set')) return;
      sessionStorage.setItem('mode-set', '1');
      localStorage.clear();
      for (const [k, v] of Object.entries(stored)) localStorage.setItem(k, v);
    } catch {
      // about:blank has no storage
    }
  }, MODES[mode]);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  return { context, page, errors };
}

function contentPaths() {
  const list = [pages.home, pages.section, pages.venue, pages.base, pages.expert, pages.campaign, pages.city, pages.calendar, pages.overview, '/campaigns/', '/no-such-page/'];
  if (existsPublic('a-z/index.html')) list.push('/a-z/');
  return [...new Set(list.filter(Boolean))];
}

describe('tap targets at 390×844 (0 controls under the minimum outside running text)', () => {
  for (const mode of Object.keys(MODES)) {
    test(`${mode}: every control at least ${mode === 'normal' ? '44×44' : '60×60 with visible gaps'}`, async () => {
      const min = mode === 'normal' ? 44 : 60;
      const { context, page } = await inMode(mode);
      const small = [];
      const touching = [];
      let counted = 0;
      try {
        const paths = contentPaths();
        if (existsPublic('search/index.html')) paths.push('/search/?q=' + encodeURIComponent('科技馆'));
        for (const path of paths) {
          await page.goto(server.url(path));
          if (path.startsWith('/search/')) await page.locator('#search-results a').first().waitFor({ timeout: 15000 });
          const controls = await page.evaluate(measureControls);
          counted += controls.length;
          for (const c of controls) if (c.w < min - 0.5 || c.h < min - 0.5) small.push(`${path} ${c.what}: ${Math.round(c.w)}×${Math.round(c.h)}`);
          if (mode !== 'normal') {
            // Visible gaps: no two targets touch or overlap (a card and the links inside it aside).
            for (let i = 0; i < controls.length; i++) {
              for (let j = i + 1; j < controls.length; j++) {
                const a = controls[i];
                const b = controls[j];
                const gapX = Math.max(b.x - (a.x + a.w), a.x - (b.x + b.w));
                const gapY = Math.max(b.y - (a.y + a.h), a.y - (b.y + b.h));
                const inside = (p, q) => p.x >= q.x && p.y >= q.y && p.x + p.w <= q.x + q.w && p.y + p.h <= q.y + q.h;
                if (inside(a, b) || inside(b, a)) continue;
                if (gapX < 3.5 && gapY < 3.5) touching.push(`${path} ${a.what} / ${b.what}`);
              }
            }
          }
        }
        figures[`targets-${mode}`] = { min, controls: counted, under: small.length, touching: touching.length, list: small.slice(0, 40) };
        assert.ok(counted > 200, `${counted} controls measured`);
        assert.deepEqual(small, [], `controls under ${min}×${min}px`);
        assert.deepEqual(touching.slice(0, 20), [], 'targets without a gap');
      } finally {
        await context.close();
      }
    });
  }
});

describe('200% browser text size (default font 32px) on a 390px phone', () => {
  for (const mode of ['normal', 'big', 'xl']) {
    test(`${mode}: no page is wider than the screen`, async () => {
      const { context, page } = await inMode(mode);
      const wide = [];
      try {
        const cdp = await context.newCDPSession(page);
        await cdp.send('Page.enable');
        await cdp.send('Page.setFontSizes', { fontSizes: { standard: 32, fixed: 26 } });
        await page.goto(server.url('/'));
        const base = await page.evaluate(() => parseFloat(getComputedStyle(document.documentElement).fontSize));
        assert.ok(base >= 32, `the root font follows the browser setting (${base}px)`);
        const paths = contentPaths();
        for (const rel of listPublic('').filter((f) => /^(venues|cities|overview|bases)\/[^/]+\/index\.html$/.test(f)).slice(0, 400)) {
          paths.push('/' + rel.replace(/index\.html$/, ''));
        }
        for (const path of [...new Set(paths)]) {
          await page.goto(server.url(path));
          const w = await page.evaluate(() => document.documentElement.scrollWidth);
          if (w > PHONE.width) wide.push(`${path}: ${w}px`);
        }
        figures[`overflow-200pct-${mode}`] = { pages: paths.length, wider_than_screen: wide };
        if (mode === 'big') await page.goto(server.url(pages.venue)).then(() => page.screenshot({ path: screenshotPath('elder-venue-200pct') }));
        assert.deepEqual(wide, []);
      } finally {
        await context.close();
      }
    });
  }
});

describe('search on a phone', () => {
  for (const mode of Object.keys(MODES)) {
    test(`${mode}: the count and the first result are on the first screen after a search; filters fold`, async () => {
      requireSearch();
      const { context, page, errors } = await inMode(mode);
      try {
        await page.goto(server.url('/search/'));
        const box = page.locator('#search-q');
        await box.fill('科技馆');
        await box.press('Enter');
        const first = page.locator('#search-results a').first();
        await first.waitFor({ timeout: 15000 });
        await page.waitForFunction(() => document.activeElement?.id === 'search-results', null, { timeout: 5000 });
        // The view may scroll smoothly: measure once it has stopped.
        await page.waitForFunction(() => {
          const y = document.querySelector('#search-results a').getBoundingClientRect().top;
          const same = window.__lastY === y;
          window.__lastY = y;
          return same;
        }, null, { timeout: 5000, polling: 150 });
        const m = await page.evaluate(() => {
          const r = (sel) => document.querySelector(sel).getBoundingClientRect();
          return {
            status: r('#search-status').top,
            first: r('#search-results a').top,
            firstBottom: r('#search-results a').bottom,
            screen: innerHeight,
            focus: document.activeElement.id,
            filtersShown: document.getElementById('search-filters').checkVisibility(),
            hintShown: document.querySelector('.keys-hint')?.checkVisibility() ?? false,
          };
        });
        figures[`search-fold-${mode}`] = m;
        assert.ok(m.status >= 0 && m.status < m.screen, `the count is on screen (y=${Math.round(m.status)})`);
        assert.ok(m.first < m.screen - 60, `the first result starts on the first screen (y=${Math.round(m.first)} of ${m.screen})`);
        assert.equal(m.focus, 'search-results', 'the focus went to the results');
        assert.equal(m.filtersShown, false, 'the filters are folded');
        assert.equal(m.hintShown, false, 'no ↑↓ key hint on a touch screen');
        if (mode !== 'hc') await page.screenshot({ path: screenshotPath(`elder-search-${mode}`) });

        // One button unfolds the filters; a chosen filter shows as a chip that removes itself.
        const toggle = page.locator('#search-filter-toggle');
        assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
        await toggle.click();
        assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
        assert.ok(await page.locator('#search-filters').isVisible(), 'filters unfold');
        const before = await page.locator('#search-status').textContent();
        await page.locator('#search-filters .search-chip').first().click();
        await page.waitForFunction((s) => document.getElementById('search-status').textContent !== s, before, { timeout: 10000 });
        const chip = page.locator('#search-active .search-active-chip');
        await chip.first().waitFor({ timeout: 5000 });
        assert.match(await chip.first().innerText(), /\S/);
        assert.match(await toggle.innerText(), /已选 1 项/);
        await chip.first().click();
        await page.waitForFunction(() => document.querySelectorAll('#search-active .search-active-chip').length === 0, null, { timeout: 10000 });
        assert.equal(await page.locator('#search-status').textContent(), before, 'removing the chip brings back all results');
        assert.deepEqual(errors, []);
      } finally {
        await context.close();
      }
    });
  }

  test('with a mouse and a wide screen, the keyboard hint shows and the filters stay open', async () => {
    requireSearch();
    const context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1280, height: 900 } });
    try {
      const page = await context.newPage();
      await page.goto(server.url('/search/?q=' + encodeURIComponent('科技馆')));
      await page.locator('#search-results a').first().waitFor({ timeout: 15000 });
      assert.ok(await page.locator('.keys-hint').isVisible());
      assert.ok(await page.locator('#search-filters').isVisible());
      assert.equal(await page.locator('#search-filter-toggle').isVisible(), false);
    } finally {
      await context.close();
    }
  });
});

describe('语音朗读', () => {
  /** Record what the page passes to speechSynthesis.speak; each utterance "ends" at once. */
  const recorder = () => {
    window.__spoken = [];
    const synth = window.speechSynthesis;
    if (!synth) return;
    synth.speak = (u) => {
      window.__spoken.push({ text: u.text, lang: u.lang });
      setTimeout(() => u.dispatchEvent(new Event('start')), 0);
    };
    synth.pause = () => window.__spoken.push({ call: 'pause' });
    synth.resume = () => window.__spoken.push({ call: 'resume' });
    synth.cancel = () => window.__spoken.push({ call: 'cancel' });
  };

  test('reads title, summary, visiting information and body in order, never the menu; keyboard start/pause/stop', async () => {
    const { context, page, errors } = await inMode('big', { viewport: { width: 1280, height: 900 }, isMobile: false, hasTouch: false });
    try {
      await context.addInitScript(recorder);
      await page.goto(server.url(pages.venue));
      const start = page.getByRole('button', { name: '朗读本页' });
      await start.focus();
      await page.keyboard.press('Enter');
      await page.waitForFunction(() => window.__spoken.some((s) => s.text), null, { timeout: 5000 });
      const spoken = await page.evaluate(() => window.__spoken);
      const texts = spoken.filter((s) => s.text).map((s) => s.text);
      figures.read_aloud = { path: pages.venue, utterances: texts.length, first: texts.slice(0, 8) };
      const h1 = (await page.locator('main h1').innerText()).trim();
      const lead = (await page.locator('main .page-header .lead').innerText()).trim();
      assert.equal(texts[0], h1, 'the title first');
      assert.equal(texts.slice(1).join('').startsWith(lead.replace(/\s+/g, ' ')), true, `then the summary: ${texts[1]}`);
      const all = texts.join('\n');
      const visit = all.indexOf('参观信息');
      const body = all.indexOf((await page.locator('main .prose p').first().innerText()).trim().slice(0, 12));
      assert.ok(visit > 0 && body > visit, `visiting information (${visit}) before the body (${body})`);
      assert.ok(spoken.every((s) => !s.text || s.lang === 'zh-CN'), 'zh-CN');
      assert.ok(texts.every((t) => t.length <= 160), 'short utterances');
      for (const menuWord of ['首席科普专家', '活动日历', '跳到正文', '回到顶部', '资料来源']) {
        assert.ok(!texts.some((t) => t === menuWord || t.startsWith(menuWord + '\n')), `not the menu or page furniture: ${menuWord}`);
      }
      assert.ok(!all.includes('订阅更新') && !all.includes('大字模式设置'), 'not the footer or the settings');
      // Pause, resume and stop from the keyboard; the button says what it will do.
      const main = page.locator('.read-aloud .read-btn').first();
      assert.match(await main.innerText(), /暂停/);
      await page.keyboard.press('Enter');
      assert.match(await main.innerText(), /继续/);
      await page.keyboard.press('Enter');
      assert.match(await main.innerText(), /暂停/);
      await page.keyboard.press('Tab');
      assert.match(await page.evaluate(() => document.activeElement.textContent), /停止/);
      await page.keyboard.press('Enter');
      assert.match(await main.innerText(), /朗读本页/);
      const calls = (await page.evaluate(() => window.__spoken)).filter((s) => s.call).map((s) => s.call);
      assert.deepEqual(calls.slice(-3), ['pause', 'resume', 'cancel']);
      assert.equal(await page.evaluate(() => Object.keys(localStorage).filter((k) => !k.startsWith('kepu-elder')).length), 0, 'nothing stored');
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test('hidden where the browser cannot speak', async () => {
    const context = await browser.newContext({ locale: 'zh-CN' });
    try {
      await context.addInitScript(() => {
        delete window.speechSynthesis;
        delete Window.prototype.speechSynthesis;
      });
      const page = await context.newPage();
      await page.goto(server.url(pages.venue));
      assert.equal(await page.evaluate(() => typeof window.speechSynthesis), 'undefined');
      assert.equal(await page.locator('.read-aloud').isVisible(), false, 'the controls stay hidden');
      assert.equal(await page.evaluate(() => document.documentElement.classList.contains('tts')), false);
    } finally {
      await context.close();
    }
  });
});

describe('大字模式 steps and options', () => {
  test('大 / 特大 / 高对比度 / 大鼠标: keyboard, aria-pressed, remembered, before the first paint', async () => {
    const context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1280, height: 900 } });
    try {
      // The classes <html> has when <body> first appears (before anything is painted).
      await context.addInitScript(() => {
        new MutationObserver((_, obs) => {
          if (document.body) {
            window.__atBody = document.documentElement.className;
            obs.disconnect();
          }
        }).observe(document, { childList: true, subtree: true });
      });
      const page = await context.newPage();
      await page.goto(server.url(pages.venue));
      const size = () => page.evaluate(() => parseFloat(getComputedStyle(document.documentElement).fontSize));
      const normal = await size();
      assert.equal(await page.locator('.care-bar').isVisible(), false, 'no settings row in normal mode');
      await page.locator('#elder-toggle').focus();
      await page.keyboard.press('Enter');
      const big = await size();
      assert.equal(await page.locator('.care-bar').isVisible(), true);
      // (Names: 字号大, 字号特大 — the hidden 字号 may be read with a space after it.)
      const btn = (name) => page.locator('.care-bar').getByRole('button', { name: new RegExp('^' + name.replace(/^字号/, '字号\\s*') + '$') });
      assert.equal(await btn('字号大').getAttribute('aria-pressed'), 'true');
      await btn('字号特大').focus();
      await page.keyboard.press('Enter');
      const xl = await size();
      assert.ok(normal < big && big < xl, `sizes ${normal} < ${big} < ${xl}`);
      assert.equal(await btn('字号特大').getAttribute('aria-pressed'), 'true');
      assert.equal(await btn('字号大').getAttribute('aria-pressed'), 'false');
      await btn('高对比度').focus();
      await page.keyboard.press('Space');
      assert.equal(await btn('高对比度').getAttribute('aria-pressed'), 'true');
      await btn('大鼠标').click();
      assert.equal(await btn('大鼠标').getAttribute('aria-pressed'), 'true');
      const cursor = await page.evaluate(() => getComputedStyle(document.querySelector('main p')).cursor);
      assert.match(cursor, /^url\("data:image\/svg\+xml/, 'a large cursor image');
      await page.screenshot({ path: screenshotPath('elder-desktop-xl-hc') });
      await page.goto(server.url(pages.city));
      const atBody = await page.evaluate(() => window.__atBody);
      for (const c of ['elder', 'elder-xl', 'hc', 'big-cursor']) assert.ok(atBody.split(' ').includes(c), `${c} before the first paint: "${atBody}"`);
      assert.equal(await btn('字号特大').getAttribute('aria-pressed'), 'true', 'remembered');
      // Off: everything back to normal; on again: 大, with contrast and cursor remembered.
      await page.locator('#elder-toggle').click();
      assert.equal(await page.evaluate(() => document.documentElement.className.split(' ').filter((c) => ['elder', 'elder-xl', 'hc', 'big-cursor'].includes(c)).length), 0);
      assert.equal(await size(), normal);
      await page.locator('#elder-toggle').click();
      assert.equal(await size(), big);
      assert.equal(await page.evaluate(() => document.documentElement.classList.contains('hc')), true);
    } finally {
      await context.close();
    }
  });

  test('on a phone the large cursor is not offered, and the menu moves below the page with a 菜单 link to it', async () => {
    const { context, page } = await inMode('big');
    try {
      await page.goto(server.url(pages.venue));
      assert.equal(await page.locator('.care-bar').getByRole('button', { name: '大鼠标' }).isVisible(), false);
      const where = await page.evaluate(() => ({
        inHeader: !!document.querySelector('.site-header #site-nav'),
        beforeFooter: document.getElementById('site-nav').nextElementSibling?.classList.contains('site-footer'),
      }));
      assert.deepEqual(where, { inHeader: false, beforeFooter: true });
      await page.getByRole('link', { name: '菜单', exact: true }).click();
      await page.waitForFunction(() => location.hash === '#site-nav');
      // (Scrolling may be smooth: wait for it to arrive.)
      await page.waitForFunction(() => {
        const top = document.getElementById('site-nav').getBoundingClientRect().top;
        return Math.abs(top) < 2 || (top > 0 && top < innerHeight && scrollY + innerHeight >= document.documentElement.scrollHeight - 2);
      }, null, { timeout: 5000 });
      await page.getByRole('navigation', { name: '主导航' }).getByRole('link', { name: '科技馆', exact: true }).click();
      await page.waitForURL(/\/venues\/$/);
    } finally {
      await context.close();
    }
  });
});

describe('high contrast', () => {
  test('every text on every page type is at least 7:1 against its background', async () => {
    const { context, page } = await inMode('hc');
    const low = [];
    let checked = 0;
    try {
      const paths = contentPaths();
      if (existsPublic('search/index.html')) paths.push('/search/?q=' + encodeURIComponent('科技馆'));
      for (const path of paths) {
        await page.goto(server.url(path));
        if (path.startsWith('/search/')) await page.locator('#search-results a').first().waitFor({ timeout: 15000 });
        const found = await page.evaluate(() => {
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
          const out = { checked: 0, low: [] };
          const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
          const seen = new Set();
          for (let t = walker.nextNode(); t; t = walker.nextNode()) {
            const el = t.parentElement;
            if (!t.textContent.trim() || seen.has(el) || !el.checkVisibility({ visibilityProperty: true })) continue;
            seen.add(el);
            if (el.closest('.visually-hidden, .skip-link, noscript')) continue;
            const r = el.getBoundingClientRect();
            if (r.width < 2 || r.height < 2) continue;
            const s = getComputedStyle(el);
            const fg = el.closest('svg') ? s.fill : s.color;
            const bg = backgroundOf(el.closest('svg') ? el.closest('figure') ?? el : el);
            out.checked++;
            const k = ratio(fg, bg);
            if (k < 7) out.low.push(`${el.tagName.toLowerCase()}.${el.className?.baseVal ?? el.className} “${t.textContent.trim().slice(0, 12)}” ${fg} on ${bg}: ${k.toFixed(2)}:1`);
          }
          return out;
        });
        checked += found.checked;
        for (const l of found.low) if (!low.some((x) => x.endsWith(l))) low.push(`${path} ${l}`);
      }
      await page.goto(server.url(pages.venue));
      await page.screenshot({ path: screenshotPath('elder-venue-hc') });
      figures.high_contrast = { texts_checked: checked, under_7: low.length, list: low.slice(0, 30) };
      assert.ok(checked > 500, `${checked} texts checked`);
      assert.deepEqual(low, []);
    } finally {
      await context.close();
    }
  });
});

describe('charts', () => {
  test('chart text grows with the mode, like the table beside it', async () => {
    const path = listPublic('').find((f) => /index\.html$/.test(f) && readChart(f));
    assert.ok(path, 'a page with a chart');
    const sizes = {};
    for (const mode of ['normal', 'big', 'xl']) {
      const { context, page } = await inMode(mode, { viewport: { width: 1280, height: 900 }, isMobile: false, hasTouch: false });
      try {
        await page.goto(server.url('/' + path.replace(/index\.html$/, '')));
        sizes[mode] = await page.evaluate(() => {
          const t = document.querySelector('svg.chart text.label');
          const scale = t.ownerSVGElement.getScreenCTM().a;
          return { label: parseFloat(getComputedStyle(t).fontSize) * scale, table: parseFloat(getComputedStyle(document.querySelector('.chart-table td')).fontSize) };
        });
      } finally {
        await context.close();
      }
    }
    figures.chart_text_px = sizes;
    assert.ok(sizes.big.label >= 1.2 * sizes.normal.label, `大: ${sizes.big.label} vs ${sizes.normal.label}`);
    assert.ok(sizes.xl.label > sizes.big.label, `特大: ${sizes.xl.label} vs ${sizes.big.label}`);
    assert.ok(sizes.big.label >= 0.8 * sizes.big.table, `大: the chart's labels (${sizes.big.label}px) near the table's text (${sizes.big.table}px)`);
  });
});

/** Whether a built page draws a chart. */
function readChart(rel) {
  return /<svg[^>]*class="?chart/.test(readPublic(rel).toString('utf8'));
}

describe('the way back at the end of long pages (no JavaScript needed)', () => {
  test('回到顶部 and 返回首页 at the end of a page longer than two screens, not on a short one', async () => {
    const context = await browser.newContext({ locale: 'zh-CN', viewport: PHONE, isMobile: true, hasTouch: true, javaScriptEnabled: false });
    try {
      const page = await context.newPage();
      await page.goto(server.url('/campaigns/'));
      const top = page.getByRole('link', { name: /回到顶部/ });
      const home = page.getByRole('link', { name: '返回首页' });
      assert.ok(await top.isVisible(), 'on the long campaigns list');
      assert.ok(await home.isVisible());
      const m = await page.evaluate(() => ({ y: document.querySelector('.page-end-nav a').getBoundingClientRect().top + scrollY, h: document.documentElement.scrollHeight, screen: innerHeight }));
      assert.ok(m.h > 2 * m.screen && m.y > m.h - 1.5 * m.screen, `at the end of the page (${Math.round(m.y)} of ${m.h})`);
      await top.scrollIntoViewIfNeeded();
      await top.click();
      // (No page scripts: poll from outside; scrolling may be smooth.)
      let y = -1;
      for (let i = 0; i < 50 && y !== 0; i++) {
        await page.waitForTimeout(100);
        y = await page.evaluate(() => scrollY);
      }
      assert.equal(y, 0, 'back at the top');
      await page.goto(server.url('/no-such-page/'));
      await page.setViewportSize({ width: 1280, height: 900 });
      assert.equal(await page.getByRole('link', { name: /回到顶部/ }).isVisible(), false, 'not on a page shorter than two screens');
      await page.goto(server.url('/'));
      assert.equal(await page.getByRole('link', { name: '返回首页' }).count(), 0, 'the home page does not link to itself');
    } finally {
      await context.close();
    }
  });
});

describe('search without JavaScript', () => {
  test('the header box leads to the A–Z index of every page, by section in pinyin order', async () => {
    const context = await browser.newContext({ locale: 'zh-CN', javaScriptEnabled: false });
    try {
      const page = await context.newPage();
      await page.goto(server.url(pages.venue));
      await page.locator('header input[name="q"]').fill('科技馆');
      await page.locator('header input[name="q"]').press('Enter');
      await page.waitForURL(/\/a-z\/\?q=/);
      assert.equal(await page.locator('main h1').innerText(), '全部页面');
      const listed = await page.locator('main .az-list a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
      const built = listPublic('').filter((f) => /^(venues|bases|experts|campaigns|cities|overview)\/[^/]+\/index\.html$/.test(f) && !f.includes('/page/'));
      const missing = built.map((f) => '/' + f.replace(/index\.html$/, '')).filter((p) => !listed.includes(p));
      assert.deepEqual(missing, [], 'every page is listed');
      // Within a section, the letters go A→Z.
      const letters = await page.locator('main .az-section').first().locator('.az-letter').allInnerTexts();
      assert.deepEqual([...letters].sort(), letters, `letters in order: ${letters}`);
      await page.screenshot({ path: screenshotPath('elder-a-z-nojs') });
    } finally {
      await context.close();
    }
  });

  test('with JavaScript the header box goes to the search, also from the A–Z page', async () => {
    requireSearch();
    const context = await browser.newContext({ locale: 'zh-CN' });
    try {
      const page = await context.newPage();
      await page.goto(server.url('/a-z/?q=' + encodeURIComponent('郑州')));
      await page.waitForURL(/\/search\/\?q=/);
      await page.locator('#search-results a').first().waitFor({ timeout: 15000 });
    } finally {
      await context.close();
    }
  });
});

describe('words a visitor knows', () => {
  test('sources by title and date, 添加到手机日历 (webcal://) with a line that explains it, 订阅更新', async () => {
    const { context, page } = await inMode('normal', { viewport: { width: 1280, height: 900 }, isMobile: false, hasTouch: false });
    try {
      for (const path of [pages.venue, pages.base, pages.campaign, pages.city]) {
        await page.goto(server.url(path));
        const text = await page.locator('body').innerText();
        assert.doesNotMatch(text, /\d{3}_[0-9a-f]{16}\.txt/, `${path}: no file names`);
        assert.match(await page.locator('.sources').innerText(), /资料来源：《[^》]+》（[^）]*(\d{4}年|未注明日期)/, `${path}: titles and dates`);
        assert.match(text, /订阅更新/);
        assert.doesNotMatch(text, /Atom|iCal/);
      }
      await page.goto(server.url(pages.calendar));
      const sub = page.getByRole('link', { name: '添加到手机日历' }).first();
      await sub.waitFor();
      const hrefs = await page.locator('a', { hasText: '添加到手机日历' }).evaluateAll((as) => as.map((a) => a.getAttribute('href')));
      assert.ok(hrefs.some((h) => /^webcal:\/\/[^/]+\/(.+\/)?campaigns\.ics$/.test(h)), `a webcal:// subscription: ${hrefs}`);
      assert.match(await page.locator('#subscribe').innerText(), /订阅|自动/);
    } finally {
      await context.close();
    }
  });
});

describe('screenshots of each mode (tests/artifacts/screenshots/elder-*.png)', () => {
  // Screen by screen, as the phone shows them: a full-page capture resizes the emulated screen
  // and loses the touch screen's media features (the 大鼠标 button would show).
  test('home, a venue and a campaign list as a phone shows them: the first screen and the last', async () => {
    for (const mode of Object.keys(MODES)) {
      const { context, page } = await inMode(mode, { deviceScaleFactor: 1 });
      try {
        for (const [name, path] of [['home', pages.home], ['venue', pages.venue], ['campaigns', '/campaigns/']]) {
          await page.goto(server.url(path));
          await page.screenshot({ path: screenshotPath(`elder-${name}-${mode}`) });
          await page.evaluate(() => window.scrollTo({ top: document.documentElement.scrollHeight, behavior: 'instant' }));
          await page.screenshot({ path: screenshotPath(`elder-${name}-${mode}-end`) });
        }
      } finally {
        await context.close();
      }
    }
  });
});
