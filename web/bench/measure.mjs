// The measurement both validator benchmarks run: same bodies, same ajv options, same warm-up and
// timing loop, whether called from node (validator.mjs) or inside Chromium (page.mjs). The caller
// hands in the wasm `validate` and the Ajv2020 class, since node and the page load them differently.
import { expectedDisagreement, requestBodies } from "./bodies.mjs";

const AJV_OPTIONS = { allErrors: true, strict: false, unicodeRegExp: true };
export const WASM_BASELINE = "ajv (JSON.parse + compiled schema)";

/**
 * Checks that the wasm and ajv agree on every body (apart from expected differences), then times
 * each of them over the valid bodies and over the invalid ones.
 *
 * @returns {{ bodies: number,
 *   groups: { name: "valid" | "invalid", bodies: number, wasmUs: number, ajvUs: number }[],
 *   disagreements: { body: string, wasm: object, ajvOk: boolean }[] }}
 */
export function measureValidators({ validate, Ajv2020, schema, vectors, iterations }) {
  const bodies = requestBodies(vectors);
  const ajvValidate = new Ajv2020({ ...AJV_OPTIONS }).compile(schema);
  const ajvOk = (body) => {
    let value;
    try { value = JSON.parse(body); } catch { return false; }
    return ajvValidate(value);
  };

  const disagreements = [];
  for (const body of bodies) {
    const wasm = validate(body);
    const ok = ajvOk(body);
    if (wasm.ok !== ok && !expectedDisagreement(body, wasm, ok)) disagreements.push({ body, wasm, ajvOk: ok });
  }

  // Valid and invalid bodies are timed apart: an invalid one costs error objects on both sides.
  const groups = ["valid", "invalid"].map((name) => {
    const some = bodies.filter((b) => validate(b).ok === (name === "valid"));
    return {
      name,
      bodies: some.length,
      wasmUs: microsPerBody((b) => validate(b), some, iterations),
      ajvUs: microsPerBody(ajvOk, some, iterations),
    };
  });
  return { bodies: bodies.length, groups, disagreements };
}

/** Mean µs per call of `fn` over `iterations` passes through all bodies, after a warm-up that lets
 *  the JIT settle. One clock read around the whole loop: Chromium coarsens `performance.now()` (to
 *  5 µs in a cross-origin isolated page, 100 µs otherwise), which the loop's length dwarfs. */
function microsPerBody(fn, bodies, iterations) {
  for (let i = 0; i < Math.min(200, iterations); i++) for (const b of bodies) fn(b);
  const t0 = performance.now();
  for (let i = 0; i < iterations; i++) for (const b of bodies) fn(b);
  return (performance.now() - t0) * 1e3 / (iterations * bodies.length);
}

/** One line for scripts/bench.sh: figure, value, unit, baseline, baseline value, ratio. */
export function tsvRow(figure, value, unit, baseline, base) {
  const digits = (x) => (Number.isInteger(x) ? 0 : 2);
  return [figure, value.toFixed(digits(value)), unit, baseline, base.toFixed(digits(base)), (value / base).toFixed(2)].join("\t");
}

/** A disagreement as one readable line for stderr. */
export function describeDisagreement({ body, wasm, ajvOk }) {
  const codes = wasm.errors.map((e) => `${e.field}:${e.code}`).join(", ") || "none";
  return `warning: wasm says ${wasm.ok ? "ok" : "invalid"} (${codes}), ajv says ${ajvOk ? "ok" : "invalid"}: ${JSON.stringify(body)}`;
}
