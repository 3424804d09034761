// The shared tokenizer cases (tests/data/tokenize-cases.json), checked against the client
// module. tests/search_tokenize.rs checks the same file against the Rust index.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { fold, foldQuery, stripMarks, tokenize } from "../../src/index/client/search.mjs";

const root = new URL("../../", import.meta.url);
const shared = JSON.parse(readFileSync(new URL("tests/data/tokenize-cases.json", root), "utf8"));
const cases = shared.cases;

/** The shared traditional → simplified table, as the index ships it in chunks. */
export function loadT2s() {
  const map = new Map();
  const text = readFileSync(fileURLToPath(new URL("src/index/t2s.txt", root)), "utf8");
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const cs = [...line];
    if (cs.length === 2) map.set(cs[0], cs[1]);
  }
  return map;
}

const t2s = loadT2s();

test("there are enough shared cases", () => assert.ok(cases.length >= 20));

for (const c of cases) {
  test(`tokenize ${JSON.stringify(c.input).slice(0, 40)}`, () => {
    assert.equal(fold(c.input, t2s), c.folded);
    assert.deepEqual(tokenize(c.input, t2s), c.tokens);
  });
}

// Queries only: the client reads `lu:` as `lv` (the index never reads pinyin).
for (const c of shared.query_cases) {
  test(`foldQuery ${JSON.stringify(c.input)}`, () => assert.equal(foldQuery(c.input, t2s), c.folded));
}

test("tone marks and ü fold to the plain syllables", () => {
  assert.equal(fold("Zhèngzhōu Kējìguǎn", t2s), "zhengzhou kejiguan");
  assert.equal(fold("lǜ LǙ nü", t2s), "lv lv nv");
  assert.equal(stripMarks("\u0301"), "");
  // Letters that do not decompose into an ASCII letter keep their form.
  for (const c of ["ø", "æ", "ß", "ł", "σ", "й"]) assert.equal(stripMarks(c), c);
});
