#!/usr/bin/env node
// 适老化 figures of a built portal, for comparing two builds (the browser suite asserts them;
// this prints them): at 390×844 on a touch phone, normal and 大字模式 —
//   controls under 44×44 / 60×60 px outside running text, per page and in all;
//   pages wider than the screen at 200% browser text size (default font 32px);
//   where the count and the first result land after searching 科技馆.
// Usage: KEPU_E2E_PUBLIC=target/e2e/public node scripts/measure-elder.mjs
// (needs what scripts/install-test-deps installs: chromium, nginx, playwright-core).

import { launchChromium, listPublic, measureControls, pageTypes, startNginx } from '../tests/browser/harness.mjs';

const PHONE = { width: 390, height: 844 };
const server = await startNginx();
const browser = await launchChromium();
const types = pageTypes();
const paths = [...new Set([types.home, types.section, types.venue, types.base, types.expert, types.campaign, types.city, types.calendar, types.overview, '/campaigns/'].filter(Boolean))];
const wideCandidates = listPublic('')
  .filter((f) => /^(venues|cities|overview|bases)\/[^/]+\/index\.html$/.test(f))
  .map((f) => '/' + f.replace(/index\.html$/, ''));

async function phone(elder) {
  const context = await browser.newContext({ locale: 'zh-CN', viewport: PHONE, isMobile: true, hasTouch: true });
  const page = await context.newPage();
  await page.goto(server.url('/'));
  await page.evaluate((on) => (on ? localStorage.setItem('kepu-elder', '1') : localStorage.clear()), elder);
  return { context, page };
}

const out = {};
try {
  for (const elder of [false, true]) {
    const mode = elder ? '大字模式' : 'normal';
    const min = elder ? 60 : 44;
    const { context, page } = await phone(elder);
    const perPage = {};
    let all = 0;
    let under = 0;
    for (const path of [...paths, '/search/?q=' + encodeURIComponent('科技馆')]) {
      await page.goto(server.url(path));
      if (path.startsWith('/search/')) await page.locator('#search-results a').first().waitFor({ timeout: 15000 });
      const controls = await page.evaluate(measureControls);
      const small = controls.filter((c) => c.w < min - 0.5 || c.h < min - 0.5).length;
      perPage[path] = `${small}/${controls.length}`;
      all += controls.length;
      under += small;
    }
    // Search: type, press Enter, let any scrolling finish, measure.
    await page.goto(server.url('/search/'));
    await page.locator('main input[type="search"]').fill('科技馆');
    await page.locator('main input[type="search"]').press('Enter');
    await page.locator('#search-results a').first().waitFor({ timeout: 15000 });
    await page.waitForTimeout(1500);
    const fold = await page.evaluate(() => ({
      count_y: Math.round(document.getElementById('search-status').getBoundingClientRect().top),
      first_result_y: Math.round(document.querySelector('#search-results a').getBoundingClientRect().top),
      screen: innerHeight,
    }));
    // 200% browser text size.
    const cdp = await context.newCDPSession(page);
    await cdp.send('Page.enable');
    await cdp.send('Page.setFontSizes', { fontSizes: { standard: 32, fixed: 26 } });
    const wide = [];
    for (const path of [...new Set([...paths, ...wideCandidates])]) {
      await page.goto(server.url(path));
      const w = await page.evaluate(() => document.documentElement.scrollWidth);
      if (w > PHONE.width) wide.push(`${path} ${w}px`);
    }
    out[mode] = { [`controls_under_${min}px`]: `${under} of ${all}`, per_page: perPage, search_after_enter: fold, wider_than_390_at_200pct_text: wide };
    await context.close();
  }
} finally {
  await browser.close();
  await server.stop();
}
console.log(JSON.stringify(out, null, 2));
