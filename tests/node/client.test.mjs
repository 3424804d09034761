// Unit tests of the search client's pieces that have no Rust twin: pinyin splitting,
// excerpts (escaping, highlighting), the manifest's front coding and the shard decoder.
import { test } from "node:test";
import assert from "node:assert/strict";
import { escapeHtml, excerpt, frontDecode, parseShard, syllabify } from "../../src/index/client/search.mjs";

const SYLLABLES = new Set("a an ke ji guan gua xi xian jiao zuo zheng zhou fang fan gan ge".split(" "));

test("pinyin splits into syllables, longest first", () => {
  assert.deepEqual(syllabify("kejiguan", SYLLABLES, false)[0], ["ke", "ji", "guan"]);
  assert.deepEqual(syllabify("jiaozuo", SYLLABLES, false), [["jiao", "zuo"]]);
});

test("ambiguous pinyin gives every reading", () => {
  const ways = syllabify("xian", SYLLABLES, false).map((w) => w.join("'"));
  assert.ok(ways.includes("xian") && ways.includes("xi'an"), ways.join(" "));
  const fangan = syllabify("fangan", SYLLABLES, false).map((w) => w.join("'"));
  assert.ok(fangan.includes("fang'an") && fangan.includes("fan'gan"), fangan.join(" "));
});

test("a half-typed last syllable is allowed only while typing", () => {
  assert.deepEqual(syllabify("kejig", SYLLABLES, true)[0], ["ke", "ji", "g"]);
  assert.deepEqual(syllabify("kejig", SYLLABLES, false), []);
  assert.deepEqual(syllabify("kjg", SYLLABLES, false), []);
});

test("escapeHtml escapes the five characters", () => {
  assert.equal(escapeHtml(`<a href="x">'&'</a>`), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
});

const hanPart = (s) => ({ han: [...s], alts: [] });

test("excerpts mark Han matches and escape everything else", () => {
  const html = excerpt("<b>银龄</b>跨越数字鸿沟行动", [hanPart("数字鸿沟")], new Map());
  assert.equal(html, "&lt;b&gt;银龄&lt;/b&gt;跨越<mark>数字鸿沟</mark>行动");
});

test("excerpts mark traditional text through the table", () => {
  const t2s = new Map([["數", "数"], ["鴻", "鸿"], ["溝", "沟"]]);
  assert.equal(excerpt("跨越數字鴻溝", [hanPart("数字鸿沟")], t2s), "跨越<mark>數字鴻溝</mark>");
});

test("excerpts center on the match in long text", () => {
  const text = "前".repeat(300) + "科技馆" + "后".repeat(300);
  const html = excerpt(text, [hanPart("科技馆")], new Map(), 50);
  assert.ok(html.startsWith("…") && html.endsWith("…"), html);
  assert.ok(html.includes("<mark>科技馆</mark>"), html);
});

test("excerpts mark whole words and typed prefixes", () => {
  const html = excerpt("Open AI day and openness", [{ words: ["open"], alts: [] }], new Map());
  assert.equal(html, "<mark>Open</mark> AI day and <mark>openness</mark>");
});

test("front coding round-trips", () => {
  assert.deepEqual(frontDecode("0\n0科技\n1普\n2及"), ["", "科技", "科普", "科普及"]);
});

test("a hand-made shard decodes", () => {
  // Two terms "ab" (docs 1, 5; levels 3, 15) and "ac" (doc 2; level 1), front-coded.
  const bytes = Uint8Array.from([2, 0, 2, 0x61, 0x62, 2, 1, 1, 0x63, 1, 1, 4, 2, 3, 15, 1]);
  const s = parseShard(bytes);
  assert.deepEqual(s.terms, ["ab", "ac"]);
  assert.deepEqual([...s.offsets], [0, 2, 3]);
  assert.deepEqual([...s.docs], [1, 5, 2]);
  assert.deepEqual([...s.weights], [3, 15, 1]);
});

// ---------------------------------------------------------------- forgiving search

import { containment, foldQuery, nameCore, needed, soundAlternative, soundKey, steer } from "../../src/index/client/search.mjs";

const READINGS = new Map(Object.entries({ 许: "xu", 昌: "chang", 科: "ke", 技: "ji", 馆: "guan", 管: "guan", 开: "kai", 风: "feng" }));

test("a Han run sounds like the pinyin pairs of its characters", () => {
  const alt = soundAlternative([..."许昌科技管"], READINGS);
  assert.deepEqual(alt.map((t) => t.term), ["+xu'chang", "+chang'ke", "+ke'ji", "+ji'guan"]);
  assert.equal(alt.sound, true);
  // A character without a reading cannot match, but its pairs still count in the coverage.
  const gap = soundAlternative([..."许昌X科技"], READINGS);
  assert.deepEqual(gap.map((t) => t.term), ["+xu'chang", "+ke'ji"]);
  assert.equal(gap.total, 4);
  assert.equal(soundAlternative(["馆"], READINGS), null);
});

test("the sound key of a name is its readings joined, as the index's exact pinyin keys", () => {
  assert.equal(soundKey("开风", READINGS), "kaifeng");
  assert.equal(soundKey("ai科技", READINGS), "aikeji");
  assert.equal(soundKey("kaifeng", READINGS), null, "no Han: already pinyin");
  assert.equal(soundKey("开封", READINGS), null, "封 has no reading here");
});

test("names compare without 省/市/县/区 after a place and without 新馆/老馆", () => {
  assert.equal(nameCore("洛阳市科技馆"), "洛阳科技馆");
  assert.equal(nameCore("商丘市科技馆新馆"), "商丘科技馆");
  assert.equal(nameCore("省科技馆"), "省科技馆", "a leading 省 is the name");
  assert.equal(containment("许昌科技馆怎么走", ["许昌市科技馆"]), 5);
  assert.equal(containment("省科技馆周一开门吗", ["河南省科技馆新馆", "省科技馆"]), 4);
  assert.equal(containment("郑洲科技馆", ["河南省科技馆新馆", "省科技馆"]), 0);
});

test("longer input needs fewer of its terms; short names most of theirs", () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 12].map(needed), [1, 2, 2, 3, 3, 3, 3, 3, 4, 5]);
});

test("the rest of the query picks the heading that has it", () => {
  const parts = [{ han: [..."河南省科技馆门票"], alts: [] }];
  assert.equal(steer(["场馆概况", "开放和门票", "展厅建设"], ["河南省科技馆新馆"], parts, new Map()), "开放和门票");
  assert.equal(steer(["场馆概况", "开放和门票"], ["河南省科技馆新馆"], [{ han: [..."河南省科技馆"], alts: [] }], new Map()), null);
});

test("lu: and nu: are read as lv and nv at a word's start only", () => {
  assert.equal(foldQuery("lu:xing", new Map()), "lvxing");
  assert.equal(foldQuery("menu: lu:", new Map()), "menu: lv");
});
