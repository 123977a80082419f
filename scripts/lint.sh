#!/usr/bin/env bash
# `make lint`, and the static checks of `make test`: everything that reads the code without
# running it, listed here once.
#
#   rustfmt, and clippy with warnings as errors: the workspace, then the schema crate for wasm32
#   docker-compose.yml (scripts/check_compose.py), and a broken copy of it rejected
#   the native schema crate free of wasm-bindgen and js-sys
#   cargo deny (deny.toml): every dependency's license, bans and source. Not its advisories: the
#   RustSec database comes from github.com, which the machines that run make test cannot reach
#   (`make deny` checks them where it can)
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

scripts/setup.sh build wasm deny

log "rustfmt"
cargo fmt --all -- --check

log "clippy (the workspace, then event-schema for wasm32)"
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo clippy -p event-schema --target wasm32-unknown-unknown --features wasm --locked -- -D warnings

log "docker-compose.yml (and a copy whose broker lacks the controller role, which must fail)"
python3 scripts/check_compose.py docker-compose.yml
broken="$(mktemp)"
on_exit rm -f "$broken"
sed 's/broker,controller/broker/' docker-compose.yml >"$broken"
if python3 scripts/check_compose.py "$broken" 2>/dev/null; then
  log "the compose check accepted a broker without a controller role"
  exit 1
fi

log "event-schema's native dependencies"
if cargo tree -p event-schema -e normal --locked | grep -E 'wasm-bindgen|js-sys'; then
  log "the native schema crate must not depend on wasm-bindgen or js-sys"
  exit 1
fi

log "cargo deny: licenses, bans, sources"
cargo deny --locked check --hide-inclusion-graph licenses bans sources
