// The request bodies both validator benchmarks time, built in one place so that the node run and
// the Chromium run measure exactly the same inputs. No node or browser API here: the page imports
// this file as it is.

/** Wasm error codes for rules that JSON.parse plus a JSON Schema cannot express: JSON.parse keeps
 *  the last of two equal keys, and the schema states the size and depth limits only in prose. */
const BEYOND_SCHEMA = new Set(["duplicate_key", "too_large", "too_deep"]);

/**
 * Realistic bodies (what a page sends) plus every request vector of the shared test data that is
 * small enough to be written literally (the `${repeat:…}` / `${nest:…}` ones are the size and depth
 * probes, which would dominate the time per body).
 *
 * @param {{ vectors: { kind: string, input: string }[] }} vectors the parsed `vectors.json`
 * @returns {string[]}
 */
export function requestBodies(vectors) {
  const bodies = [];
  for (let i = 0; i < 50; i++) {
    bodies.push(JSON.stringify({ userId: `user-${i}`, eventType: ["LOGIN", "LOGOUT", "PRODUCT_VIEW"][i % 3],
      payload: i % 2 ? { sku: `SKU-${i}`, price: 9.99 + i, tags: ["new", "sale"], dims: { w: 1, h: 2 } } : null }));
  }
  for (const v of vectors.vectors) {
    if (v.kind === "request" && !v.input.includes("${")) bodies.push(v.input);
  }
  return bodies;
}

/**
 * Whether the wasm rejecting a body that ajv accepts is expected rather than a bug: the body breaks
 * only rules ajv cannot see (see `BEYOND_SCHEMA`), holds half a surrogate pair, or holds a number
 * beyond a double, which the server rejects as malformed and JSON.parse quietly turns into Infinity.
 *
 * @param {string} body
 * @param {{ ok: boolean, errors: { code: string }[] }} verdict the wasm verdict on `body`
 * @param {boolean} ajvOk
 */
export function expectedDisagreement(body, verdict, ajvOk) {
  if (verdict.ok || !ajvOk) return false;
  if (verdict.errors.every((e) => BEYOND_SCHEMA.has(e.code))) return true;
  const value = JSON.parse(body);
  return hasNonFinite(value) || hasLoneSurrogate(value);
}

/** A string or key with half a surrogate pair: I-JSON (RFC 7493), which the server holds to and
 *  the schema states as `x-ijson`, refuses it; JSON.parse keeps it. */
function hasLoneSurrogate(value) {
  if (typeof value === "string") return !value.isWellFormed();
  if (value === null || typeof value !== "object") return false;
  return Object.entries(value).some(([k, v]) => !k.isWellFormed() || hasLoneSurrogate(v));
}

function hasNonFinite(value) {
  if (typeof value === "number") return !Number.isFinite(value);
  if (value === null || typeof value !== "object") return false;
  return Object.values(value).some(hasNonFinite);
}
