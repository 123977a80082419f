#!/usr/bin/env bash
# The install path itself, as a new machine takes it (part of make test):
#
#   1. the wasm tool chain installs into an empty tool directory, at the version Cargo.lock pins,
#      and its test runner runs the shared vectors as WebAssembly under node;
#   2. every tool built from crates.io sources (CARGO_TOOLS) still resolves the Cargo.lock it was
#      released with, against the registry as it is today (the index only: nothing is built);
#   3. a lock that pins a version the registry does not offer is refused naming the tool and the
#      crate, and the install's repair moves that crate and nothing else.
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=lib/versions.sh
source "$here/scripts/lib/versions.sh"
# shellcheck source=lib/crates.sh
source "$here/scripts/lib/crates.sh"

fresh="$(mktemp -d)"
on_exit rm -rf "$fresh"

log "1. the wasm tool chain into an empty tool directory ($fresh)"
TOOLS_DIR="$fresh" scripts/setup.sh wasm
want="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock)"
for bin in wasm-bindgen wasm-bindgen-test-runner; do
  got="$("$fresh/bin/$bin" --version)"
  [[ "$got" == "$bin $want" ]] || { log "$fresh/bin/$bin is '$got', Cargo.lock pins $want"; exit 1; }
done
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER="$fresh/bin/wasm-bindgen-test-runner" \
  cargo test -p event-schema --target wasm32-unknown-unknown --features wasm --locked --test vectors

log "2. every third-party tool's Cargo.lock resolves"
scripts/setup.sh locks

log "3. a lock pinning a version the registry does not offer: named, then repaired"
# cargo-deny's own lock, with its serde pinned to a version that was never published.
read -r name version sha <<<"${CARGO_TOOLS[1]}"
TOOLS_DIR="$fresh" fetch_crate "$name" "$version" "$sha"
dir="$fresh/src/$name-$version"
python3 - "$dir/Cargo.lock" <<'PY'
import re, sys
path = sys.argv[1]
text = open(path, encoding="utf-8").read()
text, n = re.subn(r'(name = "serde"\nversion = "\d+\.\d+\.\d+)"', r'\g<1>999"', text, count=1)
assert n == 1, "no serde in the lock"
open(path, "w", encoding="utf-8").write(text)
PY
broken="$(grep -A1 '^name = "serde"$' "$dir/Cargo.lock" | sed -n 's/version = "\(.*\)"/\1/p')"
if out="$(lock_check "$name" "$version" "$dir" 2>&1)"; then
  log "lock_check accepted a lock pinning serde $broken"
  exit 1
fi
grep -qF "$name $version: its Cargo.lock pins serde $broken, which the registry no longer offers" <<<"$out" || {
  log "lock_check's refusal does not name the tool and the crate:"
  printf '%s\n' "$out" >&2
  exit 1
}
cp "$dir/Cargo.lock" "$fresh/broken.lock"
lock_repair "$name" "$version" "$dir"
lock_check "$name" "$version" "$dir"
moved="$(diff "$fresh/broken.lock" "$dir/Cargo.lock" | grep -c '^> version = ' || true)"
[[ "$moved" == 1 ]] || { log "the repair moved $moved crates, not only serde"; exit 1; }
log "the install path holds: wasm tools $want from an empty directory, every lock resolves, a broken one is named and repaired"
