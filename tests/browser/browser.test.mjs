// The portal in a real browser (Debian's chromium through playwright-core), served by nginx
// with the shipped config: key pages, search (Chinese, pinyin, initials, filters), the
// large-text/high-contrast mode (适老化), phone-sized layouts, pages without JavaScript, and
// the page weight of the home and a venue page. Screenshots go to tests/artifacts/screenshots/.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { artifact, existsPublic, launchChromium, pageTypes, request, requireSearch, screenshotPath, startNginx } from './harness.mjs';

let server;
let browser;
const pages = pageTypes();

before(async () => {
  server = await startNginx();
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

/** A fresh context (no stored settings), its page, and the JavaScript errors it reports. */
async function open(path, options = {}) {
  const context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1280, height: 900 }, ...options });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => {
    // Failed loads are reported below with their URL.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(m.text());
  });
  page.on('response', (r) => {
    // (Chromium would ask for /favicon.ico by itself if a page declared no icon: the theme
    // declares one, so that 404 counts here too.)
    if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`);
  });
  page.on('requestfailed', (r) => errors.push(`failed ${r.url()}: ${r.failure()?.errorText}`));
  const res = await page.goto(server.url(path), { waitUntil: 'load' });
  return { context, page, res, errors };
}

describe('key pages', () => {
  for (const type of ['home', 'venue', 'city', 'calendar', 'campaign', 'expert', 'base', 'section']) {
    test(`${type} page renders with its heading and landmarks`, async () => {
      const path = pages[type];
      const { context, page, res, errors } = await open(path);
      try {
        assert.equal(res.status(), 200, path);
        assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN');
        assert.ok((await page.title()).includes('科普中原'), await page.title());
        const h1 = page.locator('main h1');
        assert.equal(await h1.count(), 1, `${path}: one h1 in main`);
        assert.ok((await h1.innerText()).trim().length > 0);
        for (const landmark of ['banner', 'navigation', 'main', 'contentinfo']) {
          assert.ok((await page.getByRole(landmark).count()) >= 1, `${path}: ${landmark} landmark`);
        }
        await page.screenshot({ path: screenshotPath(`${type}-desktop`), fullPage: true });
        assert.deepEqual(errors, [], `${path}: no script errors`);
      } finally {
        await context.close();
      }
    });
  }

  test('the calendar page links the iCal feed, as a subscription and a download, and the feed downloads', async () => {
    const { context, page } = await open(pages.calendar);
    try {
      const webcal = await page.locator('a[href^="webcal://"][href$="/campaigns.ics"]').count();
      assert.ok(webcal >= 1, 'a webcal:// subscription link (添加到手机日历)');
      const href = await page.locator('a[href$="campaigns.ics"]:not([href^="webcal:"])').first().getAttribute('href');
      assert.ok(href, 'a link to campaigns.ics');
      const res = await request(new URL(href, server.base).href);
      assert.equal(res.status, 200);
      assert.match(res.headers['content-type'], /^text\/calendar/);
    } finally {
      await context.close();
    }
  });

  test('yearly days show when they come next, and are marked as coming or on', async () => {
    // The visitor's own date decides: on 1 May the 30 May day is 29 days away; on 10 September
    // 科普月 is on and the 30 May day is next year's.
    for (const [now, want] of [
      ['2026-05-01T04:00:00Z', [['2026-05-30', 'upcoming', '下一次：2026年5月30日'], ['2026-09-01', 'upcoming', '下一次：2026年9月']]],
      ['2026-09-10T04:00:00Z', [['2027-05-30', 'upcoming', '下一次：2027年5月30日'], ['2026-09-01', 'ongoing', '下一次：2026年9月']]],
    ]) {
      const context = await browser.newContext({ locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
      try {
        const page = await context.newPage();
        await page.clock.setFixedTime(new Date(now));
        await page.goto(server.url(pages.calendar), { waitUntil: 'load' });
        const items = page.locator('.calendar-annual .calendar-item');
        assert.equal(await items.count(), want.length);
        for (let i = 0; i < want.length; i++) {
          const item = items.nth(i);
          assert.equal(await item.getAttribute('data-start'), want[i][0], now);
          assert.equal(await item.getAttribute('data-status'), want[i][1], now);
          assert.equal((await item.locator('.calendar-next').innerText()).trim(), want[i][2], now);
        }
        assert.match(await page.locator('#calendar-summary').innerText(), /即将开始/);
        const webcal = await page.locator('.subscribe a[href^="webcal://"]').getAttribute('href');
        assert.ok(webcal.endsWith('/campaigns.ics'), webcal);
      } finally {
        await context.close();
      }
    }
  });

  test('the theme icon is used, and /favicon.ico is never asked for', async () => {
    const context = await browser.newContext({ locale: 'zh-CN' });
    try {
      const page = await context.newPage();
      const asked = [];
      const errors = [];
      page.on('request', (r) => asked.push(new URL(r.url()).pathname));
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      await page.goto(server.url('/'), { waitUntil: 'networkidle' });
      await page.goto(server.url(pages.venue), { waitUntil: 'networkidle' });
      const href = await page.locator('head link[rel="icon"]').getAttribute('href');
      assert.ok(href, '<link rel="icon"> in <head>');
      const res = await request(new URL(href, server.base).href);
      assert.equal(res.status, 200, href);
      assert.match(res.headers['content-type'], /^image\/svg\+xml/);
      assert.ok(!asked.includes('/favicon.ico'), `requests: ${asked.join(' ')}`);
      assert.deepEqual(errors, [], 'console errors');
    } finally {
      await context.close();
    }
  });

  test('navigation: from the home page to a venue through the venues section', async () => {
    const { context, page } = await open('/');
    try {
      await page.getByRole('navigation', { name: '主导航' }).locator('a[href="/venues/"]').click();
      await page.waitForURL(/\/venues\/$/);
      const venueLink = page.locator(`main a[href="${pages.venue}"]`).first();
      await venueLink.click();
      await page.waitForURL((u) => u.pathname === pages.venue);
      assert.equal(await page.locator('main h1').count(), 1);
    } finally {
      await context.close();
    }
  });
});

describe('search', () => {
  /** Run a query on /search/ and wait for the result list. */
  async function search(page, query) {
    const box = page.locator('main input[type="search"], main input[name="q"]').first();
    await box.waitFor({ state: 'visible', timeout: 10000 });
    await box.fill('');
    await box.pressSequentially(query, { delay: 20 });
    await box.press('Enter').catch(() => {});
    const results = page.locator('main :is(ol, ul) li a[href^="/"]');
    await results.first().waitFor({ state: 'visible', timeout: 15000 });
    // Results update as one types: wait until the status names this query.
    await page
      .waitForFunction((q) => (document.querySelector('main [role="status"]')?.textContent ?? '').includes(q), query, { timeout: 5000 })
      .catch(() => {});
    return results;
  }

  /** The number of results the page reports (“找到 N 个…”), else the number listed. */
  async function total(page, results) {
    const text = (await page.locator('main [role="status"]').first().textContent().catch(() => '')) ?? '';
    const n = text.match(/\d+/);
    return n ? Number(n[0]) : results.count();
  }

  async function openSearch() {
    requireSearch();
    const opened = await open('/search/');
    assert.deepEqual(opened.errors, [], 'search page loads without script errors');
    return opened;
  }

  test('Chinese query: highlighted results, escaped, and following one opens the page', async () => {
    const { context, page, errors } = await openSearch();
    try {
      const results = await search(page, '科技馆');
      await page.locator('main mark').first().waitFor({ timeout: 10000 });
      const marks = await page.locator('main mark').allInnerTexts();
      assert.ok(marks.some((m) => /科|技|馆/.test(m)), `highlights: ${marks.slice(0, 5)}`);
      assert.ok((await results.count()) >= 3, 'several venues match 科技馆');
      await page.screenshot({ path: screenshotPath('search-chinese'), fullPage: true });
      const href = await results.first().getAttribute('href');
      await results.first().click();
      await page.waitForURL((u) => u.pathname === new URL(href, server.base).pathname);
      assert.equal(await page.locator('main h1').count(), 1);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test('pinyin and initials find the same venues as the characters', async () => {
    const { context, page } = await openSearch();
    try {
      const titles = async (q) => {
        const results = await search(page, q);
        return (await results.allInnerTexts()).map((t) => t.trim());
      };
      const full = await titles('kejiguan');
      assert.ok(full.some((t) => t.includes('科技馆')), `kejiguan → ${full.slice(0, 5)}`);
      const initials = await titles('kjg');
      assert.ok(initials.some((t) => t.includes('科技馆')), `kjg → ${initials.slice(0, 5)}`);
      const zz = await titles('zhengzhou');
      assert.ok(zz.some((t) => t.includes('郑州')), `zhengzhou → ${zz.slice(0, 5)}`);
      await page.screenshot({ path: screenshotPath('search-pinyin'), fullPage: true });
    } finally {
      await context.close();
    }
  });

  test('a filter narrows the results', async () => {
    const { context, page } = await openSearch();
    try {
      const results = await search(page, '科普');
      const before = await total(page, results);
      // Filters are chips (buttons) or checkboxes; pick the one for a section or a city.
      const main = page.locator('main');
      const filter = main
        .getByRole('button', { name: /^(科普基地|科技馆|场馆|郑州)/ })
        .or(main.getByRole('checkbox', { name: /科普基地|科技馆|场馆|郑州/ }))
        .first();
      await filter.waitFor({ state: 'visible', timeout: 10000 });
      const statusBefore = await main.locator('[role="status"]').first().textContent().catch(() => '');
      await filter.click();
      await page
        .waitForFunction((s) => document.querySelector('main [role="status"]')?.textContent !== s, statusBefore, { timeout: 10000 })
        .catch(() => {});
      await results.first().waitFor({ state: 'visible', timeout: 10000 });
      const after = await total(page, results);
      assert.ok(after > 0 && after < before, `filter ${await filter.textContent()}: ${before} → ${after} results`);
      const pressed = await filter.getAttribute('aria-pressed');
      if (pressed !== null) assert.equal(pressed, 'true', 'the chosen chip says it is on');
      await page.screenshot({ path: screenshotPath('search-filtered'), fullPage: true });
    } finally {
      await context.close();
    }
  });

  test('what is hidden stays hidden: no "more" button or filters before a query or after clearing it', async () => {
    const { context, page } = await openSearch();
    try {
      assert.equal(await page.locator('#search-more').isVisible(), false, '显示更多结果 before any query');
      assert.equal(await page.locator('#search-filters').isVisible(), false, 'filters before any query');
      await search(page, '科技馆');
      assert.equal(await page.locator('#search-filters').isVisible(), true, 'filters with results');
      await page.locator('main input[type="search"]').fill('');
      await page.waitForFunction(() => document.getElementById('search-results').children.length === 0, null, { timeout: 5000 });
      assert.equal(await page.locator('#search-filters').isVisible(), false, 'filters after the query is cleared');
      assert.equal(await page.locator('#search-more').isVisible(), false, '显示更多结果 after the query is cleared');
      const none = 'qqqzzzxxx';
      await page.locator('main input[type="search"]').pressSequentially(none, { delay: 10 });
      await page.waitForFunction((q) => document.getElementById('search-status').textContent.includes(q), none, { timeout: 10000 });
      assert.equal(await page.locator('#search-more').isVisible(), false, '显示更多结果 without results');
    } finally {
      await context.close();
    }
  });

  test('显示更多结果 moves the focus to the first added result, and hides once all are shown', async () => {
    const { context, page } = await openSearch();
    try {
      const results = await search(page, 'kejiguan');
      const all = await total(page, results);
      assert.ok(all > 20, `kejiguan has more than one screen of results (${all})`);
      const more = page.locator('#search-more');
      for (let round = 0; round < 10 && (await more.isVisible()); round++) {
        const shown = await results.count();
        await more.focus();
        await page.keyboard.press('Enter');
        await page.waitForFunction((n) => document.querySelectorAll('#search-results a').length > n, shown, { timeout: 10000 });
        const focus = await page.evaluate((n) => {
          const a = document.activeElement;
          return { index: [...document.querySelectorAll('#search-results a')].indexOf(a), tag: a.tagName, n };
        }, shown);
        assert.equal(focus.index, shown, `focus on the first added result, not ${focus.tag} (round ${round + 1})`);
      }
      assert.equal(await results.count(), all, 'every result is listed in the end');
      assert.equal(await more.isVisible(), false, 'the button is gone once everything is shown');
      assert.notEqual(await page.evaluate(() => document.activeElement.tagName), 'BODY', 'the focus did not fall to <body>');
    } finally {
      await context.close();
    }
  });

  test('a homophone and a spoken question find the named page first; nothing found suggests titles', async () => {
    const { context, page, errors } = await openSearch();
    try {
      // What a pinyin IME and voice input write: 管 for 馆, and a short name with a question.
      for (const [q, want] of [['许昌科技管', '许昌市科技馆'], ['省科技馆周一开门吗', '河南省科技馆新馆']]) {
        await search(page, q);
        await page.waitForFunction((q) => document.getElementById('search-status').textContent.includes(q), q, { timeout: 10000 });
        const first = (await page.locator('#search-results .result-title').first().textContent()).trim();
        assert.ok(first.startsWith(want), `${q} → ${first}`);
      }
      await page.screenshot({ path: screenshotPath('search-forgiving'), fullPage: true });
      // Nothing matches enough: the closest titles are offered as links, set as text.
      const none = '数码鸿沟<b>x</b>';
      const box = page.locator('main input[type="search"]');
      await box.fill('');
      await box.pressSequentially(none, { delay: 10 });
      await page.waitForFunction(() => document.querySelector('#search-results .search-suggestions a'), null, { timeout: 10000 });
      const offered = await page.locator('#search-results .search-suggestions a').allInnerTexts();
      assert.ok(offered.some((t) => t.includes('数字鸿沟')), `suggestions: ${offered}`);
      assert.match(await page.locator('#search-status').textContent(), /您是不是要找/);
      assert.equal(await page.locator('#search-results b').count(), 0, 'no markup from the query');
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test('the header search box on any page leads to results', async () => {
    requireSearch();
    const { context, page } = await open(pages.venue);
    try {
      const box = page.locator('header input[name="q"]');
      await box.fill('郑州');
      await box.press('Enter');
      await page.waitForURL(/\/search\/\?q=/);
      await page.locator('main :is(ol, ul) li a[href^="/"]').first().waitFor({ timeout: 15000 });
      assert.equal(await page.locator('main input[type="search"], main input[name="q"]').first().inputValue(), '郑州');
    } finally {
      await context.close();
    }
  });

  test('query text is shown escaped, never as HTML', async () => {
    requireSearch();
    const { context, page } = await open('/search/?q=' + encodeURIComponent('<img src=x onerror="window.__xss=1">科技'));
    try {
      await page.waitForTimeout(1500);
      assert.equal(await page.evaluate(() => window.__xss), undefined);
      assert.equal(await page.locator('main img[src="x"]').count(), 0);
    } finally {
      await context.close();
    }
  });
});

describe('large text and high contrast (适老化)', () => {
  test('the toggle switches the mode, and it persists across pages and reloads', async () => {
    const { context, page, errors } = await open('/');
    try {
      const toggle = page.locator('#elder-toggle');
      await toggle.waitFor({ state: 'visible' });
      const fontBefore = await page.evaluate(() => parseFloat(getComputedStyle(document.querySelector('main')).fontSize));
      assert.equal(await page.evaluate(() => document.documentElement.classList.contains('elder')), false);
      await toggle.click();
      assert.equal(await page.evaluate(() => document.documentElement.classList.contains('elder')), true, 'class elder on <html>');
      assert.equal(await toggle.getAttribute('aria-pressed'), 'true');
      assert.equal(await page.evaluate(() => localStorage.getItem('kepu-elder')), '1');
      const fontAfter = await page.evaluate(() => parseFloat(getComputedStyle(document.querySelector('main')).fontSize));
      assert.ok(fontAfter > fontBefore, `larger text: ${fontBefore}px → ${fontAfter}px`);
      await page.screenshot({ path: screenshotPath('home-elder'), fullPage: true });

      // Another page: on from the first paint, button state in sync.
      await page.goto(server.url(pages.venue));
      assert.equal(await page.evaluate(() => document.documentElement.classList.contains('elder')), true, 'persists on a venue');
      assert.equal(await page.locator('#elder-toggle').getAttribute('aria-pressed'), 'true');
      await page.screenshot({ path: screenshotPath('venue-elder'), fullPage: true });
      await page.reload();
      assert.equal(await page.evaluate(() => document.documentElement.classList.contains('elder')), true, 'persists on reload');

      await page.locator('#elder-toggle').click();
      assert.equal(await page.evaluate(() => document.documentElement.classList.contains('elder')), false, 'switched off');
      await page.goto(server.url(pages.city));
      assert.equal(await page.evaluate(() => document.documentElement.classList.contains('elder')), false, 'off persists too');
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });
});

describe('phone-sized screens', () => {
  for (const viewport of [{ width: 360, height: 740 }, { width: 390, height: 844 }]) {
    test(`no horizontal scrolling at ${viewport.width}px, also in large-text mode`, async () => {
      const context = await browser.newContext({ locale: 'zh-CN', viewport, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
      try {
        const page = await context.newPage();
        const wide = [];
        for (const elder of [false, true]) {
          await page.goto(server.url('/'));
          await page.evaluate((on) => (on ? localStorage.setItem('kepu-elder', '1') : localStorage.removeItem('kepu-elder')), elder);
          for (const [type, path] of Object.entries(pages)) {
            if (!path) continue;
            await page.goto(server.url(path));
            const { scroll, inner } = await page.evaluate(() => ({
              scroll: document.documentElement.scrollWidth,
              inner: window.innerWidth,
            }));
            if (scroll > inner) wide.push(`${path}${elder ? ' (elder)' : ''}: ${scroll}px > ${inner}px`);
            if (viewport.width === 360 && ['home', 'venue', 'calendar', 'city'].includes(type)) {
              await page.screenshot({ path: screenshotPath(`${type}-phone${elder ? '-elder' : ''}`), fullPage: true });
            }
          }
        }
        assert.deepEqual(wide, [], 'pages wider than the screen');
      } finally {
        await context.close();
      }
    });
  }
});

describe('a 360×740 phone, in both modes', () => {
  const VIEWPORT = { width: 360, height: 740 };

  /** A touch phone with the large-text mode on or off (stored before the first page). */
  async function phone(elder, options = {}) {
    const context = await browser.newContext({ locale: 'zh-CN', viewport: VIEWPORT, deviceScaleFactor: 2, isMobile: true, hasTouch: true, ...options });
    const page = await context.newPage();
    await page.goto(server.url('/'));
    await page.evaluate((on) => (on ? localStorage.setItem('kepu-elder', '1') : localStorage.removeItem('kepu-elder')), elder);
    return { context, page };
  }
  const mode = (elder) => (elder ? '大字模式' : 'normal');

  test('the header is compact: logo and 大字模式 toggle share a row, the heading is on the first screen', async () => {
    const paths = [pages.home, pages.section, pages.venue, pages.base, pages.campaign, existsPublic('search/index.html') ? '/search/' : null].filter(Boolean);
    const problems = [];
    for (const elder of [false, true]) {
      const { context, page } = await phone(elder);
      try {
        for (const path of paths) {
          await page.goto(server.url(path));
          const m = await page.evaluate(() => {
            const box = (sel) => document.querySelector(sel).getBoundingClientRect();
            const header = box('.site-header');
            const brand = box('.brand');
            const toggle = box('#elder-toggle');
            const h1 = box('main h1');
            return { header: header.height, brand: [brand.top, brand.bottom], toggle: [toggle.top, toggle.bottom], h1: h1.bottom, screen: innerHeight };
          });
          const where = `${path} (${mode(elder)})`;
          if (m.header > 0.4 * m.screen) problems.push(`${where}: header ${Math.round(m.header)}px of ${m.screen}`);
          if (!(m.brand[0] < m.toggle[1] && m.toggle[0] < m.brand[1])) problems.push(`${where}: the toggle is on its own row (${m.toggle}) below the logo (${m.brand})`);
          if (m.h1 > m.screen) problems.push(`${where}: the heading ends at ${Math.round(m.h1)}px, below the first screen`);
        }
        if (elder) {
          // The short label 大字 on a phone keeps the full name for screen readers and voice control.
          assert.equal(await page.getByRole('button', { name: '大字模式', exact: true }).count(), 1, 'the toggle is named 大字模式');
        }
        await page.goto(server.url(pages.venue));
        await page.screenshot({ path: screenshotPath(`header-phone${elder ? '-elder' : ''}`) });
      } finally {
        await context.close();
      }
    }
    assert.deepEqual(problems, []);
  });

  test('search boxes: 搜索 stays on one line and the placeholder fits the box', async () => {
    const problems = [];
    for (const elder of [false, true]) {
      const { context, page } = await phone(elder);
      try {
        for (const path of [existsPublic('search/index.html') ? '/search/' : null, '/no-such-page/', pages.venue].filter(Boolean)) {
          await page.goto(server.url(path));
          const found = await page.evaluate(() =>
            [...document.querySelectorAll('form')].flatMap((form) => {
              const out = [];
              const input = form.querySelector('input[placeholder]');
              const button = form.querySelector('button[type="submit"]');
              if (button) {
                const range = document.createRange();
                range.selectNodeContents(button);
                const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size;
                const b = button.getBoundingClientRect();
                if (lines !== 1) out.push(`${form.getAttribute('aria-label')}: the button's label “${button.textContent}” takes ${lines} lines (${Math.round(b.width)}×${Math.round(b.height)}px)`);
              }
              if (input) {
                const s = getComputedStyle(input);
                const ctx = document.createElement('canvas').getContext('2d');
                ctx.font = `${s.fontStyle} ${s.fontWeight} ${s.fontSize} ${s.fontFamily}`;
                const room = input.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight);
                const need = ctx.measureText(input.placeholder).width;
                if (need > room) out.push(`#${input.id}: placeholder “${input.placeholder}” needs ${Math.round(need)}px, the box has ${Math.round(room)}px`);
              }
              return out;
            }),
          );
          problems.push(...found.map((f) => `${path} (${mode(elder)}) ${f}`));
        }
      } finally {
        await context.close();
      }
    }
    assert.deepEqual(problems, []);
  });

  // Lists of links ("- [名称](@/…)", e.g. 相关页面): each item is one link. (Links inside a
  // sentence stay inline, like links in a paragraph.)
  test('links that make up a Markdown list item are 44px tap targets on a touch screen, compact for a mouse', async () => {
    const candidates = ['/bases/an-yang-shi-ke-pu-jiao-yu-ji-di/', pages.base, pages.venue, pages.campaign].filter((p) => existsPublic(`${p.slice(1)}index.html`));
    const measure = (page) =>
      page.evaluate(() =>
        [...document.querySelectorAll('.prose li a')]
          .filter((a) => a.closest('li').textContent.trim() === a.textContent.trim())
          .map((a) => {
            const r = a.getBoundingClientRect();
            return { text: a.textContent, top: r.top + scrollY, bottom: r.bottom + scrollY, height: r.height };
          }),
      );
    let path;
    const problems = [];
    for (const elder of [false, true]) {
      const { context, page } = await phone(elder);
      try {
        for (const p of path ? [path] : candidates) {
          await page.goto(server.url(p));
          if ((await measure(page)).length >= 2) { path = p; break; }
        }
        assert.ok(path, `a page with links in a Markdown list among ${candidates}`);
        const links = await measure(page);
        for (const [i, l] of links.entries()) {
          if (l.height < 43.5) problems.push(`${path} (${mode(elder)}) “${l.text}”: ${Math.round(l.height)}px tall`);
          const next = links[i + 1];
          if (next && next.top < l.bottom - 0.5 && next.top > l.top) problems.push(`${path} (${mode(elder)}) “${l.text}” and “${next.text}” overlap`);
        }
      } finally {
        await context.close();
      }
    }
    assert.deepEqual(problems, []);
    const { context, page } = await open(path);
    try {
      const links = await measure(page);
      assert.ok(links.every((l) => l.height < 40), `with a mouse the list keeps its line height: ${links.map((l) => Math.round(l.height))}`);
    } finally {
      await context.close();
    }
  });
});

describe('without JavaScript', () => {
  test('content pages work; navigation works; nothing is hidden behind scripts', async () => {
    const context = await browser.newContext({ locale: 'zh-CN', javaScriptEnabled: false });
    try {
      const page = await context.newPage();
      for (const [type, path] of Object.entries(pages)) {
        if (!path) continue;
        const res = await page.goto(server.url(path));
        assert.equal(res.status(), 200, path);
        const h1 = page.locator('main h1');
        assert.ok(await h1.isVisible(), `${type}: heading visible without JS`);
        const text = (await page.locator('main').innerText()).trim();
        // (The tag index may legitimately list nothing: the portal's pages have no tags yet.)
        if (type !== 'tags') assert.ok(text.length > 20, `${type}: main has content without JS`);
      }
      await page.goto(server.url('/'));
      await page.getByRole('navigation', { name: '主导航' }).locator('a[href="/venues/"]').click();
      await page.waitForURL(/\/venues\/$/);
      await page.screenshot({ path: screenshotPath('venues-nojs'), fullPage: true });
    } finally {
      await context.close();
    }
  });

  test('the search page says that search needs JavaScript', async () => {
    requireSearch();
    const context = await browser.newContext({ locale: 'zh-CN', javaScriptEnabled: false });
    try {
      const page = await context.newPage();
      await page.goto(server.url('/search/?q=%E7%A7%91%E6%8A%80%E9%A6%86'));
      const text = await page.locator('main').innerText();
      assert.match(text, /JavaScript|脚本/, `the page explains that search needs JavaScript:\n${text.slice(0, 300)}`);
      assert.equal(await page.locator('#search-more').isVisible(), false, 'no 显示更多结果 button that could do nothing');
      assert.equal(await page.locator('#search-filters').isVisible(), false, 'no empty filter box');
      await page.screenshot({ path: screenshotPath('search-nojs'), fullPage: true });
    } finally {
      await context.close();
    }
  });
});

describe('page weight', () => {
  test('home and venue page: bytes and requests, compressed and not (tests/artifacts/page-weight.json)', async () => {
    const report = {};
    for (const [name, path] of [['home', '/'], ['venue', pages.venue]]) {
      const context = await browser.newContext({ locale: 'zh-CN' });
      const page = await context.newPage();
      const requests = [];
      page.on('requestfinished', (r) => requests.push(r));
      await page.goto(server.url(path), { waitUntil: 'networkidle' });
      let transferred = 0;
      const rows = [];
      for (const r of requests) {
        const sizes = await r.sizes();
        const res = await r.response();
        transferred += sizes.responseBodySize + sizes.responseHeadersSize;
        rows.push({ url: new URL(r.url()).pathname + new URL(r.url()).search, encoding: (await res.allHeaders())['content-encoding'] ?? 'identity', body: sizes.responseBodySize });
      }
      // The same requests without compression, and with gzip only (plain HTTP, bodies only).
      let identity = 0;
      let gzip = 0;
      for (const r of requests) {
        identity += (await request(r.url())).body.length;
        gzip += (await request(r.url(), { headers: { 'Accept-Encoding': 'gzip' } })).body.length;
      }
      const browserBodies = rows.reduce((n, r) => n + r.body, 0);
      report[name] = { path, requests: requests.length, transferred_with_headers: transferred, body_bytes_as_sent: browserBodies, body_bytes_gzip: gzip, body_bytes_uncompressed: identity, files: rows };
      await context.close();
      assert.ok(requests.length >= 2 && requests.length <= 12, `${name}: ${requests.length} requests`);
      assert.ok(browserBodies < identity, `${name}: compression saves bytes (${browserBodies} < ${identity})`);
      assert.ok(browserBodies < 150_000, `${name}: under 150 kB over the wire (${browserBodies})`);
    }
    artifact('page-weight.json', report);
  });
});
