// The package's entry: everything the wasm module exports, plus `validate` and `validateObject`,
// which turn the compact answer of `check` (undefined when valid, else one JSON text of problems)
// into a Verdict. A valid body thus costs one call into the wasm and no object built inside it.
import { check } from "./event_schema.js";

export * from "./event_schema.js";
export { default } from "./event_schema.js"; // the web build's init(); not in the bundler build

/** Validates a request body given as JSON text, exactly as `POST /events/generate` does. */
export function validate(json) {
  const problems = check(json);
  return problems === undefined ? { ok: true, errors: [] } : { ok: false, errors: JSON.parse(problems) };
}

/** Validates a value as a request body, serialized as `fetch` would send it. `undefined` and
 *  functions serialize to nothing, which is no body at all. */
export function validateObject(value) {
  return validate(JSON.stringify(value) ?? "");
}
