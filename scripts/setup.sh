#!/usr/bin/env bash
# Installs what the project needs, once: every step checks first and skips what is there.
#
#   scripts/setup.sh [build] [wasm] [kafka] [lambda]
#
#   build   cmake (librdkafka is built from source) and the Rust components
#   wasm    the wasm32 target and wasm-bindgen-cli at the version Cargo.lock pins
#   kafka   the tansu broker (first time: about 30 minutes on 2 cores)
#   lambda  cargo-lambda (from PyPI; it brings zig)
#   aws     aws-sam-cli and cfn-lint (from PyPI), for `make validate`
#   browser Debian's chromium, for the browser tests
#
# Tools land in $TOOLS_DIR (default ~/.cache/activity-pipeline) and stay there between runs.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_DIR="${TOOLS_DIR:-$HOME/.cache/activity-pipeline}"
export PATH="$TOOLS_DIR/bin:$HOME/.cargo/bin:$PATH"

log() { printf 'setup: %s\n' "$*" >&2; }

apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  log "installing ${missing[*]} (apt)"
  local sudo=""
  [[ "$(id -u)" == 0 ]] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

setup_build() {
  command -v cmake >/dev/null 2>&1 || apt_install cmake
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt
}

wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' "$here/Cargo.lock"
}

setup_wasm() {
  rustup target list --installed | grep -q '^wasm32-unknown-unknown$' \
    || rustup target add wasm32-unknown-unknown
  local want
  want="$(wasm_bindgen_version)"
  if [[ -z "$want" ]]; then
    log "Cargo.lock pins no wasm-bindgen; skipping wasm-bindgen-cli"
    return
  fi
  if command -v wasm-bindgen >/dev/null 2>&1 && [[ "$(wasm-bindgen --version)" == "wasm-bindgen $want" ]]; then
    return
  fi
  log "installing wasm-bindgen-cli $want into $TOOLS_DIR (once; about 5-10 minutes)"
  CARGO_TARGET_DIR="$TOOLS_DIR/build-wasm-bindgen" \
    cargo install wasm-bindgen-cli --version "$want" --root "$TOOLS_DIR"
  rm -rf "$TOOLS_DIR/build-wasm-bindgen"
}

setup_kafka() {
  TOOLS_DIR="$TOOLS_DIR" "$here/scripts/kafka.sh" install
}

setup_lambda() {
  command -v cargo-lambda >/dev/null 2>&1 && return
  log "installing cargo-lambda (pip)"
  python3 -m pip install --quiet cargo-lambda
}

setup_aws() {
  command -v sam >/dev/null 2>&1 || { log "installing aws-sam-cli (pip)"; python3 -m pip install --quiet aws-sam-cli; }
  command -v cfn-lint >/dev/null 2>&1 || { log "installing cfn-lint (pip)"; python3 -m pip install --quiet cfn-lint; }
}

setup_browser() {
  [[ -x /usr/bin/chromium ]] || apt_install chromium
}

for part in "${@:-build}"; do
  case "$part" in
    build) setup_build ;;
    wasm) setup_wasm ;;
    kafka) setup_kafka ;;
    lambda) setup_lambda ;;
    aws) setup_aws ;;
    browser) setup_browser ;;
    *) echo "usage: $0 [build] [wasm] [kafka] [lambda] [aws] [browser]" >&2; exit 2 ;;
  esac
done
