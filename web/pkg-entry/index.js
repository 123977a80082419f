// The package's entry: the wasm module's public exports, plus `validate`, `validateObject` and
// `validateBatch`.
// A call writes the body's UTF-8 bytes into a buffer inside the wasm memory that is reused from
// call to call, and asks `checkInput` for the verdict: 0 when valid, else how many problems.
// An invalid verdict's `errors` are made when first read, by validating the same text again
// through `check`, which answers them as one JSON text.
import { check, checkBatch, checkInput, inputBuffer, wasmMemory } from "./event_schema.js";

export { check, eventTypes, schemaVersion } from "./event_schema.js";
export { default, initSync } from "./event_schema.js"; // the web build's init(); not in the bundler build

/** The largest body the rules accept, in UTF-8 bytes (MAX_BODY_BYTES). A longer string has at
 *  least as many bytes as UTF-16 units, so it is invalid without reading it. */
const MAX_BODY_BYTES = 64 * 1024;

const encoder = new TextEncoder();
let memory, bytes, at = 0, room = 0;

/** Writes `text` as UTF-8 into the input buffer; its length in bytes. */
function put(text) {
  // Three bytes per UTF-16 unit at most (a surrogate pair makes four of two).
  const need = 3 * text.length;
  if (need > room) {
    at = inputBuffer(need);
    room = need;
    bytes = undefined;
  }
  memory ??= wasmMemory();
  // A view of the memory goes stale when the memory grows.
  if (bytes === undefined || bytes.byteLength === 0) bytes = new Uint8Array(memory.buffer);
  // Most bodies are ASCII: one byte per UTF-16 unit, written directly (in Chromium, much
  // faster than encodeInto for strings of a few hundred characters).
  const view = bytes, start = at, n = text.length;
  let i = 0;
  for (; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x7f) break;
    view[start + i] = c;
  }
  if (i === n) return n;
  return i + encoder.encodeInto(text.slice(i), view.subarray(start + i, start + need)).written;
}

/** A base class whose constructor hands back the object it is given, so that `Invalid` can
 *  give a plain object a private field: the text stays with the verdict without showing up in
 *  its keys, its JSON or a deep comparison. */
class Given {
  constructor(object) {
    return object;
  }
}

class Invalid extends Given {
  #text;

  constructor(verdict, text) {
    super(verdict);
    this.#text = text;
  }

  /** `errors` of an invalid verdict: read once, then a plain property holding the array. */
  static errors = {
    get() {
      const value = JSON.parse(check(this.#text));
      Reflect.defineProperty(this, "errors", { value, writable: true, enumerable: true, configurable: true });
      return value;
    },
    set(value) {
      Reflect.defineProperty(this, "errors", { value, writable: true, enumerable: true, configurable: true });
    },
    enumerable: true,
    configurable: true,
  };
}

function invalid(text) {
  return Object.defineProperty(new Invalid({ ok: false }, text), "errors", Invalid.errors);
}

/** Validates a request body given as JSON text, exactly as `POST /events/generate` does. */
export function validate(json) {
  if (json.length > MAX_BODY_BYTES || checkInput(put(json)) !== 0) return invalid(json);
  return { ok: true, errors: [] };
}

/** Validates a value as a request body, serialized as `fetch` would send it. `undefined` and
 *  functions serialize to nothing, which is no body at all. */
export function validateObject(value) {
  return validate(JSON.stringify(value) ?? "");
}

/** Validates a batch body given as JSON text, exactly as `POST /events/batch` does: the batch's
 *  own verdict (`ok`, `errors`) and each item's (`items`), with the server's messages. */
export function validateBatch(json) {
  return JSON.parse(checkBatch(json));
}
