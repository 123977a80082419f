// Runs inside the page that validator-browser.mjs opens: the wasm is fetched and compiled the way
// the real page does it (app.js), ajv comes from the bundle the server builds at start, and the
// measurement itself is measure.mjs, shared with the node run.
import init, { validate } from "../pkg/index.js";
import Ajv2020 from "/ajv2020.js";
import { measureValidators } from "./measure.mjs";

async function fetchJson(path) {
  const res = await fetch(path);
  if (!res.ok) throw new Error(`GET ${path}: ${res.status}`);
  return res.json();
}

/** The measurement, plus whether the page got the fine-grained clock (see measure.mjs). */
export async function run(iterations) {
  const [schema, vectors] = await Promise.all([fetchJson("/schema.json"), fetchJson("/vectors.json"), init()]);
  const m = measureValidators({ validate, Ajv2020, schema, vectors, iterations });
  return { ...m, crossOriginIsolated: globalThis.crossOriginIsolated === true };
}
