// Browser validator cost: the wasm build of the schema crate vs ajv with the JSON Schema generated
// from the same crate, on the same request bodies, in node. Prints tab-separated rows like
// pipeline-bench: figure, value, unit, baseline, baseline value, ratio. validator-browser.mjs runs
// the same measurement (measure.mjs) in headless Chromium.
//
//   node bench/validator.mjs [ITERATIONS]
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import Ajv2020 from "ajv/dist/2020.js";
import { initSync, validate } from "../pkg/index.js";
import { WASM_BASELINE, describeDisagreement, measureValidators, tsvRow } from "./measure.mjs";

const web = fileURLToPath(new URL("..", import.meta.url));
const repo = join(web, "..");
const iterations = Number(process.argv[2] ?? 2000);

const wasmBytes = readFileSync(join(web, "pkg/event_schema_bg.wasm"));
initSync({ module: wasmBytes });
const readJson = (path) => JSON.parse(readFileSync(join(repo, path), "utf8"));
const schema = readJson("shared/schema/schemas/event-request.schema.json");
const vectors = readJson("shared/schema/tests/data/vectors.json");

const m = measureValidators({ validate, Ajv2020, schema, vectors, iterations });
for (const d of m.disagreements) console.error(describeDisagreement(d));
for (const g of m.groups) {
  console.log(tsvRow(`wasm validate() in node, µs/body, ${g.name} (${g.bodies} bodies)`, g.wasmUs, "µs", WASM_BASELINE, g.ajvUs));
}
const raw = wasmBytes.length, gz = gzipSync(wasmBytes, { level: 9 }).length;
console.log(tsvRow(".wasm size, bytes (raw)", raw, "B", "gzip -9", gz));
