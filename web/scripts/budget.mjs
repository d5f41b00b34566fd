#!/usr/bin/env node
// The initial-JS budget: the scripts dist/index.html loads before the first
// render (its module entry and modulepreloads), gzipped, must stay under
// 250 KB. Lazy pages and the chart library are not counted: they load later.
import { readFile } from "node:fs/promises";
import { gzipSync } from "node:zlib";
import path from "node:path";
import { fileURLToPath } from "node:url";

const BUDGET = 250 * 1024;
const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "dist");
const html = await readFile(path.join(dist, "index.html"), "utf8");
const sources = [
  ...html.matchAll(/<script[^>]+type="module"[^>]+src="([^"]+)"/g),
  ...html.matchAll(/<link[^>]+rel="modulepreload"[^>]+href="([^"]+)"/g),
].map((m) => m[1]);
if (sources.length === 0) throw new Error("dist/index.html loads no module script");
let total = 0;
for (const src of new Set(sources)) {
  const size = gzipSync(await readFile(path.join(dist, src.replace(/^\//, "")))).length;
  total += size;
  console.log(`${(size / 1024).toFixed(1).padStart(7)} KB  ${src}`);
}
console.log(`${(total / 1024).toFixed(1).padStart(7)} KB  initial JS, gzipped (budget ${BUDGET / 1024} KB)`);
if (total > BUDGET) {
  console.error("over the initial-JS budget");
  process.exit(1);
}
