#!/usr/bin/env bash
# `make wasm`: the schema crate as an npm package for browsers (web/pkg) and bundlers
# (web/pkg/bundler). Prints raw and gzip sizes of the .wasm.
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
out="$here/web/pkg"

scripts/setup.sh wasm
cargo build -p event-schema --lib --target wasm32-unknown-unknown --features wasm \
  --profile wasm-release --locked --quiet
wasm="target/wasm32-unknown-unknown/wasm-release/event_schema.wasm"
rm -rf "$out"
wasm-bindgen --target web --out-dir "$out" --out-name event_schema "$wasm"
wasm-bindgen --target bundler --out-dir "$out/bundler" --out-name event_schema "$wasm"

# wasm-opt from npm's binaryen only (Debian's wasm-opt 108 emits broken modules).
if [[ -x web/node_modules/.bin/wasm-opt ]]; then
  for f in "$out/event_schema_bg.wasm" "$out/bundler/event_schema_bg.wasm"; do
    web/node_modules/.bin/wasm-opt -O3 --enable-bulk-memory --enable-nontrapping-float-to-int \
      --enable-sign-ext --enable-mutable-globals "$f" -o "$f.opt" && mv "$f.opt" "$f"
  done
else
  log "web/node_modules/.bin/wasm-opt not found (npm ci in web/); size not optimised"
fi

# The entry (web/pkg-entry): validate() and validateObject() over the wasm's checkInput() and check().
# The bundler build has no init(), so its copy leaves out the line that exports it.
cp web/pkg-entry/index.js web/pkg-entry/index.d.ts "$out/"
for f in index.js index.d.ts; do
  grep -v '^export { default, initSync' "web/pkg-entry/$f" >"$out/bundler/$f"
done

version="$(awk -F'"' '/^version = /{print $2; exit}' Cargo.toml)"
cat >"$out/package.json" <<JSON
{
  "name": "@user-activity/event-schema",
  "version": "$version",
  "description": "Validate user-activity events in the browser with exactly the server's rules (WebAssembly).",
  "license": "Apache-2.0",
  "type": "module",
  "main": "index.js",
  "types": "index.d.ts",
  "exports": {
    ".": {
      "types": "./index.d.ts",
      "browser": "./index.js",
      "import": "./index.js"
    },
    "./bundler": {
      "types": "./bundler/index.d.ts",
      "import": "./bundler/index.js"
    },
    "./event_schema_bg.wasm": "./event_schema_bg.wasm"
  },
  "files": ["index.js", "index.d.ts", "event_schema.js", "event_schema.d.ts", "event_schema_bg.wasm", "event_schema_bg.wasm.d.ts", "bundler/", "README.md"],
  "sideEffects": ["./bundler/event_schema.js", "./bundler/index.js"]
}
JSON
cp web/PACKAGE_README.md "$out/README.md"

raw=$(stat -c %s "$out/event_schema_bg.wasm")
gz=$(gzip -9 -c "$out/event_schema_bg.wasm" | wc -c)
echo "wasm: $out/event_schema_bg.wasm: $raw bytes raw, $gz bytes gzip"
