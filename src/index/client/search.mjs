// kepu search client: one ES module, unchanged in browsers and in Node ≥ 20.
//
//   import { createSearch } from "/search/search.mjs";
//   const s = createSearch("/search/");          // or a loader: (path) => bytes
//   const r = await s.search("科技馆", { filters: { city: "郑州" }, limit: 10 });
//   // { total, results: [{ url, title, section, sectionLabel, excerpt, score }], facets }
//
// It reads the files the index stage (src/index/mod.rs) writes: manifest.json first, then
// only the shards, fragments and table chunks a query needs. Tokenizing mirrors
// src/index/tokenize.rs exactly (tests/data/tokenize-cases.json keeps the two in step);
// no dictionary is needed: Han text is matched by character bigrams, Latin text as words,
// pinyin by splitting letters into the syllables the manifest lists.

const FORMAT = 1;
/** Longest word token in characters (tokenize.rs: MAX_WORD_CHARS). */
export const MAX_WORD_CHARS = 32;
/** Queries are cut to this many characters: longer input is not a search, and must stay cheap. */
export const MAX_QUERY_CHARS = 64;
/** At most this many distinct terms are looked up for one query. */
const MAX_TERMS = 24;
/** A prefix expands to at most this many terms. */
const MAX_EXPANSIONS = 64;
/** Characters in an excerpt. */
const EXCERPT_CHARS = 110;
/** Weight level → BM25F pseudo term frequency. */
const LEVEL_TF = Array.from({ length: 16 }, (_, level) => Math.exp(level / 4) - 1);
const MARKS = { syllable: "~", pair: "+", initials: "^", exact: "#" };
/** A sound-alike match (same pinyin, other characters) counts this much of an exact one, so
 * the characters typed rank first and the homophone the IME picked still finds the name. */
const SOUND = 0.6;
/** Exact pinyin keys exist for names up to this many characters (src/index/mod.rs). */
const EXACT_PINYIN_CHARS = 12;
/** Titles of the first results are compared with the query (`containment`); at least these
 * many, so that `limit` does not change the order of the first results. */
const RERANK = 10;
/** Queries up to this many characters are also looked up as a whole name by sound. */
const SOUND_KEY_CHARS = 8;
/** Suggestions shown when nothing is found. */
const SUGGESTIONS = 5;

const HAN = /^[\u3400-\u4DBF\u4E00-\u9FFF\uF900-\uFAFF\u{20000}-\u{2A6DF}\u{2A700}-\u{2EBEF}\u{30000}-\u{3134F}]$/u;
const WORD = /^[\p{Alphabetic}\p{N}]$/u;

// ---------------------------------------------------------------- tokenizing (shared spec)

/** Fold text one code point at a time: NFKC, lower case, traditional → simplified, Latin
 * marks off (`stripMarks`). */
export function fold(text, t2s) {
  let out = "";
  for (const ch of text) {
    for (const n of ch.normalize("NFKC")) {
      for (const l of n.toLowerCase()) out += stripMarks((t2s && t2s.get(l)) || l);
    }
  }
  return out;
}

const COMBINING = /^[\u0300-\u036F]$/;

/** A Latin letter without its marks (tokenize.rs: strip_marks): `ē` → `e`, `ü` and `ǜ` →
 * `v` (as pinyin keyboards type it), a lone combining mark → nothing; anything else as is. */
export function stripMarks(c) {
  if (c.charCodeAt(0) < 0x80 && c.length === 1) return c;
  if (COMBINING.test(c)) return "";
  const parts = [...c.normalize("NFD")];
  if (parts.length < 2 || !parts.slice(1).every((m) => COMBINING.test(m))) return c;
  if (parts[0] === "u" && parts.includes("\u0308")) return "v";
  return /^[A-Za-z]$/.test(parts[0]) ? parts[0] : c;
}

/** A query as the search reads it: folded, with `lu:` / `nu:` at a word's start written
 * `lv` / `nv` (the pinyin convention for ü without the letter; only queries are pinyin). */
export function foldQuery(text, t2s) {
  return fold(text, t2s).replace(/(^|[^\p{Alphabetic}\p{N}])([ln])u:/gu, "$1$2v");
}

/** "han", "word" or "sep" for a folded character. */
export function charClass(c) {
  if (HAN.test(c)) return "han";
  if (WORD.test(c)) return "word";
  return "sep";
}

/** Fold and split into runs `{ han, text, end }`; `end` is true when nothing but the run's
 * own characters follows it (the user may still be typing it). Word runs are cut. */
export function runs(text, t2s) {
  const out = [];
  let cur = null;
  for (const c of fold(text, t2s)) {
    const cls = charClass(c);
    if (cls === "sep") {
      if (cur) out.push(cur);
      cur = null;
      continue;
    }
    const han = cls === "han";
    if (cur && cur.han === han) cur.chars.push(c);
    else {
      if (cur) out.push(cur);
      cur = { han, chars: [c] };
    }
  }
  const trailingSep = cur === null;
  if (cur) out.push(cur);
  return out.map((r, i) => ({
    han: r.han,
    text: (r.han ? r.chars : r.chars.slice(0, MAX_WORD_CHARS)).join(""),
    end: i === out.length - 1 && !trailingSep,
  }));
}

/** Index terms of a text, exactly as the Rust tokenizer emits them. */
export function tokenize(text, t2s) {
  const out = [];
  for (const run of runs(text, t2s)) {
    if (!run.han) {
      out.push(run.text);
      continue;
    }
    const cs = [...run.text];
    cs.forEach((c, i) => {
      out.push(c);
      if (i + 1 < cs.length) out.push(c + cs[i + 1]);
    });
  }
  return out;
}

/** The whole-text key that exact title matches use. */
export function exactKey(text, t2s) {
  return runs(text, t2s).map((r) => r.text).join("");
}

/** Split letters into pinyin syllables from `syllables` (a Set). With `partial`, the last
 * piece may be the start of a syllable (the user is still typing). Returns up to 4 ways. */
export function syllabify(letters, syllables, partial) {
  const out = [];
  const starts = new Set();
  for (const s of syllables) for (let i = 1; i < s.length; i++) starts.add(s.slice(0, i));
  const walk = (at, acc) => {
    if (out.length >= 4) return;
    if (at === letters.length) {
      out.push(acc);
      return;
    }
    const rest = letters.slice(at);
    for (let len = Math.min(6, rest.length); len >= 1; len--) {
      const piece = rest.slice(0, len);
      if (syllables.has(piece)) walk(at + len, [...acc, piece]);
    }
    if (partial && rest.length <= 5 && starts.has(rest)) out.push([...acc, rest]);
  };
  walk(0, []);
  const seen = new Set();
  return out.filter((s) => !seen.has(s.join("'")) && seen.add(s.join("'")));
}

// ---------------------------------------------------------------- query → parts

/** A part is what the user typed as one unit; it matches if one of its alternatives does.
 * An alternative is a list of terms `{ term, prefix }` that should all match. */
function parseQuery(query, t2s, syllables) {
  const rs = runs(query, t2s);
  const parts = [];
  for (let i = 0; i < rs.length; i++) {
    const run = rs[i];
    if (run.han) {
      const cs = [...run.text];
      const terms = cs.length === 1 ? [cs[0]] : cs.slice(1).map((c, k) => cs[k] + c);
      parts.push({ alts: [dedupe(terms.map((term) => ({ term, prefix: false })))], han: cs });
      continue;
    }
    // Consecutive letter-only runs form one group: "ke ji guan" is one name in pinyin. A
    // short group with a word that is no pinyin ("kjg ly", "luoyang kjg": initials) is
    // names, each its own part; a longer one stays one part, so that text with many Latin
    // words (English, markup) does not need most of them to match.
    if (/^[a-z]+$/.test(run.text)) {
      const group = [run];
      while (i + 1 < rs.length && !rs[i + 1].han && /^[a-z]+$/.test(rs[i + 1].text)) group.push(rs[++i]);
      const apart =
        group.length > 1 && group.length <= 3 && group.some((r) => syllabify(r.text, syllables, r.end).length === 0);
      for (const g of apart ? group.map((r) => [r]) : [group]) {
        parts.push({ alts: latinAlternatives(g, syllables), words: g.map((r) => r.text) });
      }
      continue;
    }
    parts.push({ alts: [[{ term: run.text, prefix: run.end }]], words: [run.text] });
  }
  return parts;
}

/** Does some document have every term of `alt` (given each term's postings)? */
function foundTogether(alt, postings) {
  if (!alt || !alt.length) return false;
  let docs = null;
  for (const t of alt) {
    const p = postings(t);
    docs = docs ? docs.filter((d) => p.has(d)) : [...p.keys()];
    if (!docs.length) return false;
  }
  return true;
}

/** A Han run by sound: at each pair the IME may have got wrong (`misses[k]`, default all),
 * the pinyin pair (`+ji'guan`), matched against the pinyin of titles and names; elsewhere
 * the characters' own pair. 许昌科技管 finds 许昌市科技馆 by `许昌 昌科 科技 +ji'guan`. A pair
 * with a character of no known reading cannot match but still counts in the coverage. */
export function soundAlternative(chars, readings, misses = null) {
  if (chars.length < 2) return null;
  const terms = [];
  let heard = 0;
  for (let k = 1; k < chars.length; k++) {
    if (misses && !misses[k - 1]) {
      terms.push({ term: chars[k - 1] + chars[k], prefix: false });
      continue;
    }
    const a = readings.get(chars[k - 1]);
    const b = readings.get(chars[k]);
    if (a && b) terms.push({ term: `${MARKS.pair}${a}'${b}`, prefix: false }), heard++;
  }
  if (!heard) return null;
  return Object.assign(dedupe(terms), { sound: true, total: chars.length - 1 });
}

/** The pairs of a Han part the page that has most of them lacks: where the IME most
 * likely picked a wrong character. */
function missingPairs(part, postings) {
  const pairs = part.han.slice(1).map((c, k) => postings({ term: part.han[k] + c, prefix: false }));
  const count = new Map();
  for (const p of pairs) for (const d of p.keys()) count.set(d, (count.get(d) ?? 0) + 1);
  let best = -1;
  let most = 0;
  for (const [d, n] of count) if (n > most || (n === most && d < best)) (best = d), (most = n);
  return pairs.map((p) => !p.has(best));
}

/** The pinyin of a whole-name key (Han characters by their reading, letters and digits as
 * they are), as the index's exact pinyin keys are made; null without Han or a reading. */
export function soundKey(key, readings) {
  const cs = [...key];
  if (cs.length < 2 || cs.length > EXACT_PINYIN_CHARS || !cs.some((c) => HAN.test(c))) return null;
  let out = "";
  for (const c of cs) {
    const r = HAN.test(c) ? readings.get(c) : c;
    if (!r) return null;
    out += r;
  }
  return out;
}

/** A name as it is compared with a query: the province/city/county/district marks after a
 * place name and 新馆/老馆 left out, so 洛阳科技馆 and 洛阳市科技馆, 商丘科技馆 and 商丘市科技馆新馆
 * agree (a leading 省 of 省科技馆 stays: it is the name). */
export function nameCore(key) {
  return [...key.replace(/新馆|老馆/g, "")].filter((c, i) => i < 2 || !"省市县区".includes(c)).join("");
}

/** How much of `queryKey` (a folded exact key) is a name of the result: the length of its
 * longest name (title or alias, as `nameCore`) found inside the query, 0 if none. A query
 * that is a name plus words (许昌科技馆怎么走, 省科技馆周一开门吗) contains the name. */
export function containment(queryKey, names, t2s) {
  const q = nameCore(queryKey);
  let best = 0;
  for (const name of names) {
    const k = nameCore(exactKey(name, t2s));
    const n = [...k].length;
    if (n >= 2 && n > best && q.includes(k)) best = n;
  }
  return best;
}

/** The heading (anchor id) of a result that answers the words of the query its title does
 * not hold: 河南省科技馆门票 → `开放和门票` of 河南省科技馆新馆. Null when none does. */
export function steer(anchors, names, parts, t2s) {
  const own = names.map((n) => fold(n, t2s)).join("\n");
  const rest = [];
  for (const p of parts) {
    if (!p.han) continue;
    for (let k = 1; k < p.han.length; k++) {
      const b = p.han[k - 1] + p.han[k];
      if (!own.includes(b)) rest.push(b);
    }
  }
  let best = null;
  let most = 0;
  for (const id of anchors) {
    const f = fold(id, t2s);
    const n = rest.filter((b) => f.includes(b)).length;
    if (n > most) (best = id), (most = n);
  }
  return best;
}

function latinAlternatives(group, syllables) {
  const alts = [group.map((r) => ({ term: r.text, prefix: r.end }))];
  // Pinyin: each token split into syllables; the ways multiply, so keep a few.
  let ways = [[]];
  for (const r of group) {
    const split = syllabify(r.text, syllables, r.end);
    ways = ways.flatMap((w) => split.map((s) => [...w, ...s])).slice(0, 4);
  }
  const typing = group[group.length - 1].end;
  for (const sy of ways) {
    if (sy.length === 0) continue;
    if (sy.length === 1) {
      alts.push([{ term: MARKS.syllable + sy[0], prefix: typing }]);
      continue;
    }
    const pairs = sy.slice(1).map((s, k) => ({ term: `${MARKS.pair}${sy[k]}'${s}`, prefix: false }));
    pairs[pairs.length - 1].prefix = typing;
    alts.push(dedupe(pairs));
  }
  // Initials (kjg) when the letters are short or are no pinyin at all.
  const letters = group.map((r) => r.text).join("");
  const complete = ways.some((w) => w.length && syllables.has(w[w.length - 1]));
  if (group.length === 1 && letters.length >= 2 && (letters.length <= 3 || (!complete && letters.length <= 12))) {
    const ini = [];
    for (let k = 1; k < letters.length; k++) ini.push({ term: MARKS.initials + letters[k - 1] + letters[k], prefix: false });
    alts.push(dedupe(ini));
  }
  return alts;
}

function dedupe(terms) {
  const seen = new Set();
  return terms.filter((t) => !seen.has(t.term + t.prefix) && seen.add(t.term + t.prefix));
}

/** How many of an alternative's terms a document must have: all of up to two, 60% of a
 * short name (up to five terms), and for longer input, which is often a name plus words
 * that match nothing (怎么走, 周一开门吗), three or a third: the coverage then ranks. */
export function needed(n) {
  if (n <= 2) return n;
  if (n <= 5) return Math.ceil(n * 0.6);
  return Math.max(3, Math.ceil(n * 0.34));
}

// ---------------------------------------------------------------- file formats

async function gunzip(bytes) {
  if (!(bytes[0] === 0x1f && bytes[1] === 0x8b)) return bytes; // the server already decoded it
  if (typeof DecompressionStream === "function") {
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }
  const zlib = await import("node:zlib");
  return new Uint8Array(zlib.gunzipSync(bytes));
}

function toBytes(data) {
  if (typeof data === "string") return new TextEncoder().encode(data);
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError("a search loader must return bytes or a string");
}

/** Decode a shard (format in src/index/encode.rs). */
export function parseShard(bytes) {
  let pos = 0;
  const varint = () => {
    let v = 0;
    let mul = 1;
    for (;;) {
      const b = bytes[pos++];
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v;
      mul *= 128;
    }
  };
  const dec = new TextDecoder();
  const n = varint();
  const terms = new Array(n);
  const offsets = new Uint32Array(n + 1);
  let prev = new Uint8Array(0);
  for (let i = 0; i < n; i++) {
    const shared = varint();
    const len = varint();
    const b = new Uint8Array(shared + len);
    b.set(prev.subarray(0, shared));
    b.set(bytes.subarray(pos, pos + len), shared);
    pos += len;
    terms[i] = dec.decode(b);
    offsets[i + 1] = offsets[i] + varint();
    prev = b;
  }
  const total = offsets[n];
  const docs = new Uint32Array(total);
  for (let i = 0; i < n; i++) {
    let last = 0;
    for (let k = offsets[i]; k < offsets[i + 1]; k++) docs[k] = last += varint();
  }
  const weights = bytes.subarray(pos, pos + total);
  return { terms, offsets, docs, weights };
}

/** Index of the first element of sorted `arr` that is ≥ `key`. */
function lowerBound(arr, key) {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (arr[mid] < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the last element of sorted `arr` that is ≤ `key` (JS string order). */
function floorIndex(arr, key) {
  let lo = 0;
  let hi = arr.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (arr[mid] <= key) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Undo the manifest's front coding (src/index/mod.rs: front_code). */
export function frontDecode(text) {
  const out = [];
  let prev = [];
  for (const line of text.split("\n")) {
    const cs = [...line];
    const entry = [...prev.slice(0, Number(cs[0])), ...cs.slice(1)];
    out.push(entry.join(""));
    prev = entry;
  }
  return out;
}

function decodeRuns(runs, n) {
  const flags = new Uint8Array(n);
  let at = 0;
  for (let i = 0; i + 1 < runs.length; i += 2) {
    at += runs[i];
    flags.fill(1, at, Math.min(n, at + runs[i + 1]));
    at += runs[i + 1];
  }
  return flags;
}

// ---------------------------------------------------------------- excerpts

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
/** Escape text for HTML. */
export function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/** An excerpt of `text` around the query's matches, escaped, with `<mark>` around them. */
export function excerpt(text, parts, t2s, length = EXCERPT_CHARS) {
  const chars = [...text.replace(/\s+/g, " ")];
  const folded = chars.map((c) => fold(c, t2s));
  const marked = new Uint8Array(chars.length);
  const bigrams = new Set();
  const singles = new Set();
  const words = [];
  for (const p of parts) {
    if (p.han) {
      if (p.han.length === 1) singles.add(p.han[0]);
      for (let k = 1; k < p.han.length; k++) bigrams.add(p.han[k - 1] + p.han[k]);
    }
    if (p.words) words.push(...p.words);
  }
  for (let i = 0; i < chars.length; i++) {
    if (singles.has(folded[i])) marked[i] = 1;
    if (i + 1 < chars.length && bigrams.has(folded[i] + folded[i + 1])) marked[i] = marked[i + 1] = 1;
  }
  if (words.length) {
    for (let i = 0; i < chars.length; ) {
      if (charClass(folded[i]) !== "word") {
        i++;
        continue;
      }
      let j = i;
      while (j < chars.length && charClass(folded[j]) === "word") j++;
      const w = folded.slice(i, j).join("");
      if (words.some((q) => w === q || (q.length >= 2 && w.startsWith(q)))) marked.fill(1, i, j);
      i = j;
    }
  }
  // The window with the most marked characters; the earliest wins a tie.
  let start = 0;
  if (chars.length > length) {
    let best = -1;
    let sum = 0;
    for (let i = 0; i < chars.length; i++) {
      sum += marked[i];
      if (i >= length) sum -= marked[i - length];
      const s = Math.max(0, i - length + 1);
      if (sum > best) {
        best = sum;
        start = s;
      }
    }
    // Start a little before the first match, at a sentence start if one is near.
    const first = marked.indexOf(1, start);
    if (first > 0) start = Math.max(0, Math.min(start, first - 10));
    for (let k = start; k > Math.max(0, start - 20); k--) {
      if ("。！？；\n".includes(chars[k - 1])) {
        start = k;
        break;
      }
    }
  }
  const end = Math.min(chars.length, start + length);
  let html = start > 0 ? "…" : "";
  let open = false;
  for (let i = start; i < end; i++) {
    if (marked[i] && !open) (html += "<mark>"), (open = true);
    if (!marked[i] && open) (html += "</mark>"), (open = false);
    html += escapeHtml(chars[i]);
  }
  if (open) html += "</mark>";
  if (end < chars.length) html += "…";
  return html;
}

// ---------------------------------------------------------------- the search object

/**
 * Create a search over an index folder. `base` is the folder's URL (string or URL, relative
 * to the page) or a loader `(path) => Promise<Uint8Array | ArrayBuffer | string>` given
 * paths such as "manifest.json" or "shards/3.bin.gz".
 */
export function createSearch(base) {
  let fetchPath;
  if (typeof base === "function") fetchPath = (path) => base(path);
  else {
    const root = new URL(String(base).endsWith("/") ? String(base) : `${base}/`, globalThis.location?.href);
    fetchPath = async (path) => {
      const res = await fetch(new URL(path, root));
      if (!res.ok) throw new Error(`search: cannot load ${path}: HTTP ${res.status}`);
      return new Uint8Array(await res.arrayBuffer());
    };
  }
  const stats = { requests: 0, bytes: 0, files: [] };
  const cache = new Map();
  let manifestPromise = null;

  const raw = (path, versioned) => {
    if (!cache.has(path)) {
      const p = (async () => {
        const m = versioned ? await manifest() : null;
        const name = m && typeof base !== "function" ? `${path}?v=${m.version}` : path;
        const bytes = toBytes(await fetchPath(name));
        stats.requests++;
        stats.bytes += bytes.length;
        stats.files.push(path);
        return bytes;
      })();
      p.catch(() => cache.delete(path));
      cache.set(path, p);
    }
    return cache.get(path);
  };
  const decoded = new Map();
  const file = (path, parse) => {
    if (!decoded.has(path)) {
      const p = raw(path, true).then(gunzip).then(parse);
      p.catch(() => decoded.delete(path));
      decoded.set(path, p);
    }
    return decoded.get(path);
  };
  const json = (bytes) => JSON.parse(new TextDecoder().decode(bytes));

  function manifest() {
    if (!manifestPromise) {
      manifestPromise = raw("manifest.json", false).then((b) => {
        const m = json(b);
        if (m.format !== FORMAT) throw new Error(`search: index format ${m.format}, client expects ${FORMAT}`);
        m.syllableSet = new Set(m.syllables ? m.syllables.split(" ") : []);
        m.shards = frontDecode(m.shards);
        return m;
      });
      manifestPromise.catch(() => (manifestPromise = null));
    }
    return manifestPromise;
  }

  /** The traditional → simplified map for the Han characters of `text`. */
  async function t2sFor(text, m) {
    const map = new Map();
    const chunks = new Set();
    for (const c of text.normalize("NFKC")) {
      if (!HAN.test(c) || !m.t2s.length) continue;
      const cp = c.codePointAt(0);
      let lo = 0;
      let hi = m.t2s.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (m.t2s[mid].codePointAt(0) <= cp) lo = mid;
        else hi = mid - 1;
      }
      if (m.t2s[lo].codePointAt(0) <= cp) chunks.add(lo);
    }
    const texts = await Promise.all([...chunks].sort((a, b) => a - b).map((i) => file(`t2s/${i}.txt.gz`, (b) => new TextDecoder().decode(b))));
    for (const t of texts) {
      const cs = [...t];
      for (let i = 0; i + 1 < cs.length; i += 2) map.set(cs[i], cs[i + 1]);
    }
    return map;
  }

  const shard = (i) => file(`shards/${i}.bin.gz`, parseShard);

  /** Postings of a term, or of every term starting with it: Map doc → best score. */
  async function lookup(m, term, prefix) {
    const result = new Map();
    const first = floorIndex(m.shards, term);
    let expansions = 0;
    for (let si = first; si < m.shards.length; si++) {
      // A later shard can hold more of a prefix's terms only if its boundary (a shortened
      // first term) and the prefix agree as far as both go.
      if (si > first && !(prefix && (m.shards[si].startsWith(term) || term.startsWith(m.shards[si])))) break;
      const s = await shard(si);
      let i = lowerBound(s.terms, term);
      for (; i < s.terms.length; i++) {
        const t = s.terms[i];
        if (prefix ? !t.startsWith(term) : t !== term) break;
        const df = s.offsets[i + 1] - s.offsets[i];
        const idf = Math.log(1 + (m.docs - df + 0.5) / (df + 0.5));
        for (let k = s.offsets[i]; k < s.offsets[i + 1]; k++) {
          // The level stores 4·ln(1 + tf) of BM25F's pseudo frequency (src/index/mod.rs).
          const tf = LEVEL_TF[s.weights[k]];
          const score = (idf * tf * (m.k1 + 1)) / (m.k1 + tf);
          const d = s.docs[k];
          if (!(result.get(d) >= score)) result.set(d, score);
        }
        if (!prefix) return result;
        if (++expansions >= MAX_EXPANSIONS) {
          result.truncated = true;
          return result;
        }
      }
      if (i < s.terms.length) break;
    }
    return result;
  }

  let facetsPromise = null;
  async function facetSets(m) {
    if (!facetsPromise) {
      facetsPromise = file("facets.json.gz", (b) => {
        const raw = json(b);
        const out = {};
        for (const [key, values] of Object.entries(raw)) {
          out[key] = {};
          for (const [v, r] of Object.entries(values)) out[key][v] = decodeRuns(r, m.docs);
        }
        return out;
      });
      facetsPromise.catch(() => (facetsPromise = null));
    }
    return facetsPromise;
  }

  async function fragment(m, doc) {
    const group = Math.floor(doc / m.fragments.size);
    const records = await file(`frag/${group}.json.gz`, json);
    return records[doc - group * m.fragments.size];
  }

  /** Each Han character of `text` with its common pinyin reading (chunks of the table the
   * index ships, fetched for these characters only). */
  async function readingsFor(text, m) {
    const map = new Map();
    const p = m.pinyin;
    if (!p || !p.count) return map;
    const wanted = new Map();
    for (const c of text) {
      if (!HAN.test(c)) continue;
      const at = c.codePointAt(0) - p.first;
      const chunk = Math.floor(at / p.size);
      if (at >= 0 && chunk < p.count) wanted.set(c, [chunk, at % p.size]);
    }
    const chunks = [...new Set([...wanted.values()].map(([chunk]) => chunk))].sort((a, b) => a - b);
    const tables = new Map(
      await Promise.all(chunks.map(async (i) => [i, await file(`pinyin/${i}.txt.gz`, (b) => new TextDecoder().decode(b).split(","))]))
    );
    for (const [c, [chunk, k]] of wanted) {
      const r = tables.get(chunk)[k];
      if (r) map.set(c, r);
    }
    return map;
  }

  /**
   * Search. `filters`: `{ key: value | [values] }` over the manifest's facets (section, city,
   * level, kind, …); values of one key are alternatives, keys must all hold.
   *
   * Returns `{ query, total, results, facets, suggestions }`. A result is `{ url, title,
   * section, sectionLabel, excerpt, score }` and `heading`, the anchor id of the part of the
   * page the query's other words ask for, when one does; `suggestions` (`{ url, title }`) are
   * the closest titles when nothing is found.
   */
  async function search(query, { filters = {}, limit = 10 } = {}) {
    const m = await manifest();
    const empty = { query: String(query ?? ""), total: 0, results: [], facets: [], suggestions: [] };
    let q = [...String(query ?? "")].slice(0, MAX_QUERY_CHARS * 2).join("").trim();
    q = [...q].slice(0, MAX_QUERY_CHARS).join("");
    if (!q || m.docs === 0) return empty;
    const t2s = await t2sFor(q, m);
    const text = foldQuery(q, t2s);
    const parts = parseQuery(text, t2s, m.syllableSet);
    if (!parts.length) return { ...empty, query: q };

    // Look every distinct term up once, in parallel, within the term budget.
    const wanted = new Map();
    const found = new Map();
    const id = (t) => (t.prefix ? "*" : "=") + t.term;
    let budget = MAX_TERMS;
    const want = (t, always = false) => {
      if (wanted.has(id(t)) || (!always && budget <= 0)) return;
      wanted.set(id(t), t);
      if (!always) budget--;
    };
    const fetchWanted = () =>
      Promise.all([...wanted].filter(([k]) => !found.has(k)).map(async ([k, t]) => found.set(k, await lookup(m, t.term, t.prefix))));
    for (const p of parts) for (const alt of p.alts) for (const t of alt) want(t);
    // Exact-name keys: the whole query as a title (exact), or as the start of one (prefix).
    const key = exactKey(text, t2s);
    const exactTerm = MARKS.exact + key;
    want({ term: exactTerm, prefix: false }, true);
    if ([...key].length >= 2) want({ term: exactTerm, prefix: true }, true);
    await fetchWanted();
    const postings = (t) => found.get(id(t)) ?? new Map();

    // By sound, only when the characters as typed are not all found together in some page
    // (科技管: no page has 技管): then each character's reading comes from the pinyin table,
    // and the pinyin pairs and the whole query's pinyin key (开风 → #kaifeng) are looked up
    // too. A query found as typed costs no table chunk and no extra shard.
    // Only the pairs the best page lacks are looked up by sound (one or two shards, not one
    // per pair), and only their characters' readings are fetched, unless the query is short
    // enough to be a whole name by sound.
    let soundTerm = null;
    const unheard = parts.filter((p) => p.han && p.han.length >= 2 && !foundTogether(p.alts[0], postings));
    if (unheard.length) {
      const whole = [...key].length <= SOUND_KEY_CHARS;
      const misses = new Map(unheard.map((p) => [p, missingPairs(p, postings)]));
      const chars = new Set();
      for (const [p, miss] of misses) miss.forEach((m, k) => m && chars.add(p.han[k]).add(p.han[k + 1]));
      const readings = await readingsFor(whole ? text : [...chars].join(""), m);
      for (const p of unheard) {
        const alt = soundAlternative(p.han, readings, misses.get(p));
        if (!alt) continue;
        p.alts.push(alt);
        for (const t of alt) want(t);
      }
      const sounds = whole ? soundKey(key, readings) : null;
      if (sounds) {
        soundTerm = MARKS.exact + sounds;
        want({ term: soundTerm, prefix: false }, true);
        want({ term: soundTerm, prefix: true }, true);
      }
      await fetchWanted();
    }
    // A very long query keeps the terms that fit the budget; coverage counts only those.
    for (const p of parts) {
      p.alts = p.alts
        .map((alt) => {
          const kept = alt.filter((t) => wanted.has(id(t)));
          return Object.assign(kept, { sound: alt.sound, total: (alt.total ?? alt.length) - (alt.length - kept.length) });
        })
        .filter((a) => a.length);
    }
    parts.splice(0, parts.length, ...parts.filter((p) => p.alts.length));

    // Score: per part the best alternative; an alternative sums its terms' BM25 scores and
    // is damped by the square of the share of its terms the document has (a sound-alike
    // alternative by SOUND too). With `loose`, every partial match counts (for suggestions).
    const scores = new Map();
    const satisfied = new Map();
    const score = (loose) => {
      for (const p of parts) {
        const best = new Map();
        // Pages the characters typed match are scored by them alone, so the sound can add
        // pages but never reorder what an exact query finds.
        const typed = new Set();
        for (const alt of p.alts) {
          const hits = new Map();
          for (const t of alt) {
            for (const [d, s] of postings(t)) {
              const h = hits.get(d) ?? { n: 0, s: 0 };
              h.n++;
              h.s += s;
              hits.set(d, h);
            }
          }
          const n = alt.total ?? alt.length;
          const need = needed(n);
          const factor = alt.sound ? SOUND : 1;
          for (const [d, h] of hits) {
            const cover = h.n / n;
            const s = h.s * cover * cover * factor;
            if (loose) {
              if (!(loose.get(d) >= s)) loose.set(d, s);
              continue;
            }
            if (h.n < need || (alt.sound && typed.has(d))) continue;
            if (!alt.sound) typed.add(d);
            if (!(best.get(d) >= s)) best.set(d, s);
          }
        }
        for (const [d, s] of best) {
          scores.set(d, (scores.get(d) ?? 0) + s);
          satisfied.set(d, (satisfied.get(d) ?? 0) + 1);
        }
      }
    };
    score(null);
    // One or two parts must all match (two names, a name and a word), unless no page has
    // both: then, as for longer input (a sentence, a name and a question), pages that have
    // most of the parts match, ranked by how many.
    let candidates = [...scores.keys()].filter((d) => satisfied.get(d) === parts.length);
    if (parts.length > 2 || (parts.length === 2 && candidates.length === 0)) {
      const need = Math.ceil(parts.length / 2);
      candidates = [...scores.keys()].filter((d) => satisfied.get(d) >= need);
      for (const d of candidates) {
        const c = satisfied.get(d) / parts.length;
        scores.set(d, scores.get(d) * c * c);
      }
    }
    const pool = new Set(candidates);
    const exact = postings({ term: exactTerm, prefix: false });
    const soundExact = soundTerm ? postings({ term: soundTerm, prefix: false }) : new Map();
    for (const d of [...exact.keys(), ...soundExact.keys()]) {
      if (!scores.has(d)) scores.set(d, 0);
      if (!pool.has(d)) pool.add(d), candidates.push(d);
    }
    // Titles that start with the query come next, unless the query starts too many titles
    // to say anything; then sound-alike titles, whole, the page whose name the query
    // contains (`named`, below), and sound-alike titles that start with the query.
    const starts = postings({ term: exactTerm, prefix: true });
    const soundStarts = soundTerm ? postings({ term: soundTerm, prefix: true }) : new Map();
    const named = new Set();
    // A whole title by sound (科普中原讲谈) says more than a shorter name inside the query.
    const tier = (d) =>
      exact.has(d) ? 5
      : !starts.truncated && starts.has(d) && pool.has(d) ? 4
      : soundExact.has(d) ? 3
      : named.has(d) ? 2
      : !soundStarts.truncated && soundStarts.has(d) && pool.has(d) ? 1
      : 0;

    // Filters and the counts of every facet value among the matches.
    const active = Object.entries(filters || {})
      .map(([k, v]) => [k, (Array.isArray(v) ? v : [v]).filter((x) => x !== undefined && x !== null && x !== "").map(String)])
      .filter(([, v]) => v.length);
    let facets = [];
    let matches = candidates;
    let passes = () => true;
    if (candidates.length || active.length) {
      const sets = await facetSets(m);
      passes = (d, skip = null) =>
        active.every(([k, vs]) => k === skip || vs.some((v) => sets[k]?.[v]?.[d] === 1));
      matches = candidates.filter((d) => passes(d));
      facets = m.facets
        .map((f) => {
          const pool = candidates.filter((d) => passes(d, f.key));
          const chosen = active.find(([k]) => k === f.key)?.[1] ?? [];
          const values = f.values
            .map(([value, label]) => {
              const flags = sets[f.key]?.[value];
              let count = 0;
              if (flags) for (const d of pool) count += flags[d];
              return { value, label, count, selected: chosen.includes(value) };
            })
            .filter((v) => v.count > 0 || v.selected);
          return { key: f.key, label: f.label, values };
        })
        .filter((f) => f.values.length);
    }

    const order = (a, b) => tier(b) - tier(a) || scores.get(b) - scores.get(a) || a - b;
    matches.sort(order);
    const n = Math.max(0, Math.min(Number.isFinite(+limit) ? Math.floor(+limit) : 10, 100));
    // The page whose name the query contains comes first among the first results (a name
    // and a question, a short name): their titles are fetched anyway to be shown.
    const head = matches.slice(0, Math.max(n, RERANK));
    const records = new Map(await Promise.all(head.map(async (d) => [d, await fragment(m, d)])));
    if ([...key].some((c) => HAN.test(c))) {
      const inside = head.map((d) => [d, containment(key, [records.get(d)[1], ...(records.get(d)[4] ?? [])], t2s)]);
      const longest = Math.max(0, ...inside.map(([, c]) => c));
      // A name of four characters or more, or the whole query: a shorter one (a city, the
      // section 科技馆) is too little to stand for a page inside a longer query.
      if (longest >= 4 || (longest >= 2 && longest === [...nameCore(key)].length)) {
        for (const [d, c] of inside) if (c === longest) named.add(d);
        head.sort(order);
        matches.splice(0, head.length, ...head);
      }
    }
    const top = matches.slice(0, n);
    const labels = Object.fromEntries((m.facets.find((f) => f.key === "section")?.values ?? []).map(([v, l]) => [v, l]));
    const results = top.map((d) => {
      const [url, title, section, text, aliases = [], anchors = []] = records.get(d);
      const score = scores.get(d) + 100 * tier(d);
      const result = {
        url,
        title,
        section,
        sectionLabel: labels[section] ?? section,
        excerpt: excerpt(text, parts, t2s),
        score: Math.round(score * 1000) / 1000,
      };
      // The part of the page the rest of the query asks for (开放时间, 门票, 地址).
      const heading = steer(anchors, [title, ...aliases], parts, t2s);
      if (heading) result.heading = heading;
      return result;
    });
    // Nothing found: the pages that matched part of the query best (by characters or by
    // sound, in titles and names first), as "did you mean".
    let suggestions = [];
    if (!matches.length) {
      const loose = new Map();
      score(loose);
      const near = [...loose.keys()].filter((d) => passes(d)).sort((a, b) => loose.get(b) - loose.get(a) || a - b).slice(0, SUGGESTIONS);
      suggestions = (await Promise.all(near.map((d) => fragment(m, d)))).map(([url, title]) => ({ url, title }));
    }
    return { query: q, total: matches.length, results, facets, suggestions };
  }

  return { search, manifest, stats: () => ({ ...stats, files: [...stats.files] }) };
}
