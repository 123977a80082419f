// Reads native verdicts (one JSON line each: {body, ok, errors: [[field, code], ...]}, written by
// tools/fuzz's fuzz-verdicts) and asks the wasm build (web/pkg) for its verdict on each body: they
// must agree on every one. Exits 1 on the first disagreement, naming the body.
import { readFile } from "node:fs/promises";
import { initSync, validate } from "../pkg/index.js";

initSync({ module: await readFile(new URL("../pkg/event_schema_bg.wasm", import.meta.url)) });
const lines = (await readFile(process.argv[2], "utf8")).split("\n").filter(Boolean);
let agreed = 0;
for (const line of lines) {
  const native = JSON.parse(line);
  const wasm = validate(native.body);
  const same = wasm.ok === native.ok
    && JSON.stringify(wasm.errors.map((e) => [e.field, e.code])) === JSON.stringify(native.errors);
  if (!same) {
    console.error("native and wasm disagree on", JSON.stringify(native.body).slice(0, 300));
    console.error("native:", JSON.stringify(native.errors), "wasm:", JSON.stringify(wasm.errors));
    process.exit(1);
  }
  agreed += 1;
}
if (agreed === 0) {
  console.error("no verdicts to compare");
  process.exit(1);
}
console.log(`fuzz: native and wasm agree on all ${agreed} sampled bodies`);
