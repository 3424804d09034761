// nginx (the Debian package) serving the built portal with deploy/nginx.conf: pages, assets,
// search files and the calendar over real HTTP — content types, precompressed responses,
// caching and security headers, redirects and the custom 404.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import zlib from 'node:zlib';

import { artifact, existsPublic, listPublic, pageTypes, readPublic, request, requireSearch, startNginx } from './harness.mjs';

let server;
before(async () => {
  server = await startNginx();
});
after(async () => {
  await server?.stop();
});

const decode = (res) => {
  const enc = res.headers['content-encoding'];
  if (enc === 'br') return zlib.brotliDecompressSync(res.body);
  if (enc === 'gzip') return zlib.gunzipSync(res.body);
  assert.equal(enc, undefined, `unexpected content-encoding ${enc}`);
  return res.body;
};

const get = (p, headers = {}) => request(server.url(p), { headers });

describe('pages', () => {
  test('home page: HTML in UTF-8, lang zh-CN, revalidated, security headers', async () => {
    const res = await get('/');
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(res.headers['cache-control'], 'public, no-cache');
    assert.ok(res.headers.etag, 'ETag for revalidation');
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.equal(res.headers['x-frame-options'], 'SAMEORIGIN');
    assert.match(res.headers['content-security-policy'], /default-src 'self'/);
    assert.match(res.headers['referrer-policy'], /strict-origin/);
    assert.deepEqual(res.body, readPublic('index.html'));
    assert.match(res.body.toString(), /<html lang="?zh-CN"?/);
  });

  test('revalidation answers 304 with the ETag', async () => {
    const first = await get('/venues/');
    const again = await get('/venues/', { 'If-None-Match': first.headers.etag });
    assert.equal(again.status, 304);
    assert.equal(again.body.length, 0);
  });

  test('every page type is served', async () => {
    for (const [type, p] of Object.entries(pageTypes())) {
      if (!p) continue;
      const res = await get(p);
      assert.equal(res.status, 200, `${type} ${p}`);
      assert.equal(res.headers['content-type'], 'text/html; charset=utf-8', `${type} ${p}`);
    }
  });

  test('a folder without its slash redirects to it, relative to the host asked', async () => {
    const res = await get('/venues');
    assert.equal(res.status, 301);
    assert.equal(res.headers.location, '/venues/');
  });

  test('custom 404 page, with status 404, compressed like any page', async () => {
    const res = await get('/no-such-page/', { 'Accept-Encoding': 'gzip, deflate, br' });
    assert.equal(res.status, 404);
    assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
    assert.deepEqual(decode(res), readPublic('404.html'));
    if (existsPublic('404.html.br')) assert.equal(res.headers['content-encoding'], 'br');
    const asset = await get('/css/no-such.css');
    assert.equal(asset.status, 404);
    assert.deepEqual(decode(asset), readPublic('404.html'));
    // The 404 page itself is only reached through error_page.
    assert.equal((await get('/404.html')).status, 404);
  });

  test('dot files are hidden, except the build manifest for pipelines', async () => {
    assert.equal((await get('/.git/config')).status, 404);
    assert.equal((await get('/.env')).status, 404);
    const m = await get('/.kepu-manifest.json');
    assert.equal(m.status, 200);
    assert.equal(m.headers['content-type'], 'application/json; charset=utf-8');
    assert.equal(m.headers['cache-control'], 'no-store');
    const manifest = JSON.parse(m.body);
    assert.ok(manifest.files['index.html'].sha256.match(/^[0-9a-f]{64}$/));
  });
});

describe('compression', () => {
  test('pages come precompressed: brotli when accepted, else gzip, else plain', async () => {
    const plain = readPublic('index.html');
    assert.ok(existsPublic('index.html.br') && existsPublic('index.html.gz'), 'build with --precompress');
    const br = await get('/', { 'Accept-Encoding': 'gzip, deflate, br' });
    assert.equal(br.headers['content-encoding'], 'br');
    assert.deepEqual(br.body, readPublic('index.html.br'), 'the build’s .br file, sent as is');
    assert.deepEqual(decode(br), plain);
    assert.match(br.headers.vary ?? '', /Accept-Encoding/);
    const gz = await get('/', { 'Accept-Encoding': 'gzip' });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.deepEqual(gz.body, readPublic('index.html.gz'));
    const none = await get('/');
    assert.equal(none.headers['content-encoding'], undefined);
    assert.equal(Number(none.headers['content-length']), plain.length);
    assert.ok(br.body.length < gz.body.length && gz.body.length < plain.length);
  });

  test('what nginx serves compressed, by type (written to tests/artifacts/compression.json)', async () => {
    // One file of each text type the build has, plus types that must never be re-compressed.
    const files = listPublic().filter((f) => !f.startsWith('.'));
    const byExt = new Map();
    for (const f of files) {
      const ext = f.includes('.') ? f.slice(f.lastIndexOf('.') + 1) : '';
      // Compressed siblings are what is being tested; files that are gzip themselves (the
      // search shards) are a type of their own.
      if (['gz', 'br'].includes(ext) && existsPublic(f.slice(0, -3))) continue;
      const size = readPublic(f).length;
      if (!byExt.has(ext) || size > byExt.get(ext).size) byExt.set(ext, { file: f, size });
    }
    const table = [];
    for (const [ext, { file, size }] of [...byExt].sort()) {
      const url = '/' + file.replace(/(^|\/)index\.html$/, '$1');
      const br = await get(url, { 'Accept-Encoding': 'br, gzip' });
      const gz = await get(url, { 'Accept-Encoding': 'gzip' });
      const row = {
        ext,
        file,
        type: br.headers['content-type'],
        bytes: size,
        br: br.headers['content-encoding'] === 'br' ? br.body.length : null,
        gzip: gz.headers['content-encoding'] === 'gzip' ? gz.body.length : null,
        precompressed: existsPublic(`${file}.br`) || existsPublic(`${file}.gz`),
        cache: br.headers['cache-control'],
      };
      table.push(row);
      assert.equal(br.status, 200, url);
      if (existsPublic(`${file}.br`)) assert.equal(row.br, readPublic(`${file}.br`).length, `${file}: .br sibling sent`);
      if (existsPublic(`${file}.gz`)) assert.equal(row.gzip, readPublic(`${file}.gz`).length, `${file}: .gz sibling sent`);
      if (['png', 'jpg', 'jpeg', 'webp', 'woff2', 'gz'].includes(ext)) {
        assert.equal(br.headers['content-encoding'], undefined, `${file} is compressed already`);
      }
      // Every text type above the threshold is compressed one way or another.
      if (['html', 'css', 'js', 'mjs', 'json', 'xml', 'ics', 'svg'].includes(ext) && size >= 256) {
        assert.ok(row.gzip !== null, `${file} (${row.type}) should be served gzip-compressed`);
      }
    }
    artifact('compression.json', table);
    const html = table.find((r) => r.ext === 'html');
    assert.ok(html.br && html.gzip, 'HTML is served with brotli and gzip');
  });
});

describe('assets and caching', () => {
  test('stylesheets and scripts: types, hour-long cache, a year with a content hash', async () => {
    const css = await get('/css/site.css');
    assert.equal(css.status, 200);
    assert.equal(css.headers['content-type'], 'text/css; charset=utf-8');
    assert.equal(css.headers['cache-control'], 'public, max-age=3600');
    const hashed = await get('/css/site.css?h=0123abcd');
    assert.equal(hashed.headers['cache-control'], 'public, max-age=31536000, immutable');
    const js = await get('/js/site.js');
    assert.equal(js.status, 200);
    assert.match(js.headers['content-type'], /^(text|application)\/javascript; charset=utf-8$/);
    assert.equal(js.headers['x-content-type-options'], 'nosniff');
  });

  test('pages link their stylesheets with a content hash, so they are cached for a year', async () => {
    const html = readPublic('index.html').toString();
    const links = [...html.matchAll(/<link[^>]+rel="?stylesheet"?[^>]*>/g)].map((m) => m[0]);
    assert.ok(links.length > 0, 'the home page has stylesheets');
    for (const link of links) {
      const href = link.match(/href="?([^" >]+)/)[1].replace(/&amp;/g, '&');
      assert.match(href, /\?h=[0-9a-f]{8,}$/, `${link} has no content hash`);
      const res = await get(href);
      assert.equal(res.status, 200, href);
      assert.equal(res.headers['cache-control'], 'public, max-age=31536000, immutable', href);
    }
  });

  test('the calendar is text/calendar in UTF-8, compressed', async () => {
    assert.ok(existsPublic('campaigns.ics'), 'the portal has campaigns, so campaigns.ics');
    const res = await get('/campaigns.ics', { 'Accept-Encoding': 'br' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'text/calendar; charset=utf-8');
    assert.equal(res.headers['cache-control'], 'public, max-age=3600');
    const text = decode(res).toString();
    assert.match(text, /^BEGIN:VCALENDAR\r?\n/);
    assert.match(text, /SUMMARY[^:]*:.*[\u4e00-\u9fff]/, 'Chinese summaries survive the trip');
    if (readPublic('campaigns.ics').length >= 256) assert.ok(res.headers['content-encoding'], 'compressed');
  });

  test('sitemap and robots', async () => {
    const sm = await get('/sitemap.xml');
    assert.equal(sm.status, 200);
    assert.match(sm.headers['content-type'], /^(text|application)\/xml; charset=utf-8$/);
    const robots = await get('/robots.txt');
    assert.equal(robots.headers['content-type'], 'text/plain; charset=utf-8');
  });
});

describe('search files', () => {
  test('manifest, client module and shards: types, encodings and no stale cache', async () => {
    requireSearch();
    const manifest = await get('/search/manifest.json', { 'Accept-Encoding': 'br, gzip' });
    assert.equal(manifest.status, 200);
    assert.equal(manifest.headers['content-type'], 'application/json; charset=utf-8');
    assert.equal(manifest.headers['cache-control'], 'public, no-cache', 'manifest and shards must match: revalidate');
    JSON.parse(decode(manifest));

    const client = await get('/search/search.mjs', { 'Accept-Encoding': 'br, gzip' });
    assert.equal(client.status, 200);
    assert.equal(client.headers['content-type'], 'text/javascript; charset=utf-8', 'module scripts need a JavaScript type');
    assert.equal(client.headers['cache-control'], 'public, no-cache');

    // Shards and fragments are gzip files the client inflates itself: sent as bytes, never
    // with a Content-Encoding the browser would undo first.
    const binaries = listPublic('search').filter((f) => f.endsWith('.gz') && !existsPublic(f.slice(0, -3)));
    assert.ok(binaries.length > 0, 'the index has shard files');
    for (const f of binaries.slice(0, 20)) {
      const res = await get('/' + f, { 'Accept-Encoding': 'br, gzip' });
      assert.equal(res.status, 200, f);
      assert.equal(res.headers['content-type'], 'application/gzip', f);
      assert.equal(res.headers['content-encoding'], undefined, f);
      assert.equal(res.headers['cache-control'], 'public, no-cache', f);
      assert.deepEqual(res.body, readPublic(f), f);
      zlib.gunzipSync(res.body);
    }
  });

  test('the search page is served', async () => {
    requireSearch();
    const res = await get('/search/?q=%E7%A7%91%E6%8A%80%E9%A6%86');
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
  });
});
