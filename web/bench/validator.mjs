// Browser validator cost: the wasm build of the schema crate vs ajv with the JSON Schema generated
// from the same crate, on the same request bodies, in node. Prints tab-separated rows like
// pipeline-bench: figure, value, unit, baseline, baseline value, ratio.
//
//   node bench/validator.mjs [ITERATIONS]
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import Ajv2020 from "ajv/dist/2020.js";
import { initSync, validate } from "../pkg/event_schema.js";

const web = fileURLToPath(new URL("..", import.meta.url));
const repo = join(web, "..");
const iterations = Number(process.argv[2] ?? 2000);

const wasmBytes = readFileSync(join(web, "pkg/event_schema_bg.wasm"));
initSync({ module: wasmBytes });
const schema = JSON.parse(readFileSync(join(repo, "shared/schema/schemas/event-request.schema.json"), "utf8"));
const ajv = new Ajv2020({ allErrors: true, strict: false, unicodeRegExp: true });
const ajvValidate = ajv.compile(schema);

// Realistic bodies (what a page sends) plus every small request vector.
const bodies = [];
for (let i = 0; i < 50; i++) {
  bodies.push(JSON.stringify({ userId: `user-${i}`, eventType: ["LOGIN", "LOGOUT", "PRODUCT_VIEW"][i % 3],
    payload: i % 2 ? { sku: `SKU-${i}`, price: 9.99 + i, tags: ["new", "sale"], dims: { w: 1, h: 2 } } : null }));
}
const vectors = JSON.parse(readFileSync(join(repo, "shared/schema/tests/data/vectors.json"), "utf8"));
for (const v of vectors.vectors) {
  if (v.kind === "request" && !v.input.includes("${")) bodies.push(v.input);
}

function time(fn) {
  for (let i = 0; i < Math.min(200, iterations); i++) for (const b of bodies) fn(b); // warm up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) for (const b of bodies) fn(b);
  return Number(process.hrtime.bigint() - t0) / 1e3 / (iterations * bodies.length); // µs per body
}

const wasmUs = time((b) => validate(b));
const ajvUs = time((b) => {
  let value;
  try { value = JSON.parse(b); } catch { return false; }
  return ajvValidate(value);
});
const row = (figure, value, unit, baseline, base) =>
  console.log([figure, value.toFixed(2), unit, baseline, base.toFixed(2), (value / base).toFixed(2)].join("\t"));
row(`wasm validate() in node, µs/body (${bodies.length} bodies)`, wasmUs, "µs", "ajv (JSON.parse + compiled schema)", ajvUs);
const raw = wasmBytes.length, gz = gzipSync(wasmBytes, { level: 9 }).length;
row(".wasm size, bytes (raw)", raw, "B", "gzip -9", gz);
