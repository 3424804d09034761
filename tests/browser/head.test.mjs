// What the default theme links from each page's <head>, read from the built files (no
// browser): stylesheets only where they are used and all of them in <head> (a stylesheet in
// <body> blocks rendering where it stands), and an icon of the theme's own.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { buildFixture, existsPublic, listPublic, readPublic, requireBuild } from './harness.mjs';

// minify-html drops the quotes of attribute values it does not need.
const HAS_CODE = /<pre class="?code[\s">]/;
const SYNTAX = /<link[^>]*href="?[^">]*\/syntax\.css/;
const STYLESHEET = /<link[^>]*rel="?stylesheet/;

function parts(html) {
  const end = html.indexOf('</head>');
  assert.ok(end > 0, 'a </head>');
  return { head: html.slice(0, end), body: html.slice(end) };
}

describe('the portal as built', () => {
  before(requireBuild);

  test('syntax.css is linked exactly by the pages that show highlighted code', () => {
    const wrong = [];
    let pages = 0;
    for (const f of listPublic().filter((f) => f.endsWith('.html'))) {
      const html = readPublic(f).toString();
      if (!html.includes('</head>')) continue; // alias redirects
      pages++;
      const { head } = parts(html);
      if (HAS_CODE.test(html) !== SYNTAX.test(head)) wrong.push(`${f}: code ${HAS_CODE.test(html)}, syntax.css ${SYNTAX.test(head)}`);
    }
    assert.ok(pages > 10, `${pages} pages`);
    assert.deepEqual(wrong, []);
  });

  test('every stylesheet is linked from <head>, none from <body>', () => {
    const inBody = listPublic()
      .filter((f) => f.endsWith('.html'))
      .filter((f) => {
        const html = readPublic(f).toString();
        return html.includes('</head>') && STYLESHEET.test(parts(html).body);
      });
    assert.deepEqual(inBody, []);
    if (existsPublic('search/index.html')) {
      const { head } = parts(readPublic('search/index.html').toString());
      assert.match(head, /\/css\/search\.css/, 'search.css in the head of /search/');
    }
  });

  test('pages name the theme icon, so browsers do not ask for /favicon.ico', () => {
    for (const f of ['index.html', '404.html', 'venues/index.html']) {
      const { head } = parts(readPublic(f).toString());
      const icon = head.match(/<link[^>]*rel="?icon[^>]*>/);
      assert.ok(icon, `${f}: <link rel="icon">`);
      const href = icon[0].match(/href="?([^"\s>]+)/)[1];
      assert.ok(existsPublic(new URL(href, 'https://x/').pathname.slice(1)), `${f}: ${href} is in the build`);
    }
  });
});

describe('a fixture site with a code block (tests/fixtures/basic)', () => {
  let site;
  before(() => {
    site = buildFixture('basic');
  });
  after(() => site?.cleanup());

  const read = (rel) => fs.readFileSync(path.join(site.out, rel), 'utf8');

  test('the page with code links syntax.css; pages without code do not', () => {
    const withCode = read('venues/zheng-zhou-ke-ji-guan/index.html');
    assert.match(withCode, HAS_CODE, 'the fixture page still has a code block');
    assert.match(parts(withCode).head, SYNTAX);
    for (const f of ['notes/note-1/index.html', 'venues/index.html', 'venues/bundle-guan/index.html']) {
      const html = read(f);
      assert.doesNotMatch(html, HAS_CODE, `${f} has no code`);
      assert.doesNotMatch(parts(html).head, SYNTAX, `${f} links syntax.css`);
      assert.match(parts(html).head, /\/css\/site\.css\?h=/, `${f} links site.css`);
    }
  });
});
