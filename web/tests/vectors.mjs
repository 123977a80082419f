// The shared validation vectors (shared/schema/tests/data/vectors.json), expanded: the same file
// the native and wasm Rust tests read.
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

export const repo = fileURLToPath(new URL("../..", import.meta.url));

/** Expands `${repeat:S:N}`, `${nest:N}` and `${keys:N}` as the Rust test does. */
export function expand(input) {
  return input.replace(/\$\{(repeat|nest|keys):([^}]*)\}/g, (_, kind, args) => {
    if (kind === "repeat") {
      const i = args.lastIndexOf(":");
      return args.slice(0, i).repeat(Number(args.slice(i + 1)));
    }
    const n = Number(args);
    if (kind === "keys") return Array.from({ length: n }, (_, i) => `"k${i}":0`).join(",");
    return '{"a":'.repeat(n) + "1" + "}".repeat(n);
  });
}

/** Every vector of `kind` ("request" or "event"; all when omitted), with its body expanded. */
export async function loadVectors(kind) {
  const path = `${repo}shared/schema/tests/data/vectors.json`;
  const file = JSON.parse(await readFile(path, "utf8"));
  return file.vectors
    .filter((v) => !kind || v.kind === kind)
    .map((v) => ({ name: v.name, kind: v.kind, body: expand(v.input), ok: v.ok, errors: v.errors ?? [] }));
}
