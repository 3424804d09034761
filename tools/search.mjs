#!/usr/bin/env node
// Query a built site's search index from the command line, through the very module the
// browser uses (PUBLIC_DIR/search/search.mjs), reading the index files from disk.
//
//   node tools/search.mjs PUBLIC_DIR "查询" [--limit N] [--filter key=value]... [--stats]
//
// Prints the result as JSON. --stats adds what a cold query fetched (files and bytes,
// search.mjs included), which the search benchmark uses.
import { readFile, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

function usage(message) {
  if (message) console.error(`error: ${message}`);
  console.error('usage: node tools/search.mjs PUBLIC_DIR "query" [--limit N] [--filter key=value]... [--stats]');
  process.exit(2);
}

const args = process.argv.slice(2);
const positional = [];
const filters = {};
let limit = 10;
let withStats = false;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === "--limit") {
    limit = Number(args[++i]);
    if (!Number.isInteger(limit) || limit < 0) usage("--limit needs a whole number");
  } else if (a === "--filter") {
    const f = args[++i] ?? "";
    const eq = f.indexOf("=");
    if (eq <= 0) usage("--filter needs key=value");
    const [k, v] = [f.slice(0, eq), f.slice(eq + 1)];
    filters[k] = k in filters ? [].concat(filters[k], v) : v;
  } else if (a === "--stats") withStats = true;
  else if (a === "--help" || a === "-h") usage();
  else positional.push(a);
}
if (positional.length !== 2) usage("need PUBLIC_DIR and a query");
const [publicDir, query] = positional;
const dir = resolve(publicDir, "search");
const modulePath = join(dir, "search.mjs");
try {
  await stat(join(dir, "manifest.json"));
} catch {
  console.error(`error: no search index in ${dir} (build the site first)`);
  process.exit(1);
}
const { createSearch } = await import(pathToFileURL(modulePath).href);
const search = createSearch((path) => {
  const clean = path.split("?")[0];
  if (clean.split("/").some((p) => p === ".." || p === "")) throw new Error(`bad index path ${path}`);
  return readFile(join(dir, clean));
});
const result = await search.search(query, { filters, limit });
if (withStats) {
  const s = search.stats();
  const client = (await stat(modulePath)).size;
  result.stats = { requests: s.requests + 1, bytes: s.bytes + client, files: ["search.mjs", ...s.files] };
}
console.log(JSON.stringify(result, null, 2));
