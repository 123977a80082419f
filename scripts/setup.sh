#!/usr/bin/env bash
# Installs what the project needs, once: every step checks first and skips what is there.
#
#   scripts/setup.sh [build] [wasm] [kafka] [lambda] [aws] [fuzz] [scan] [browser] [deny] [docker] [locks]
#
#   build   cmake (librdkafka is built from source) and the Rust components
#   wasm    the wasm32 target, and wasm-bindgen and wasm-bindgen-test-runner built from this
#           workspace (tools/wasm-bindgen) at the version Cargo.lock pins
#   kafka   the tansu broker (first time: about 10 minutes on 2 cores)
#   lambda  cargo-lambda (from PyPI; it brings zig)
#   aws     aws-sam-cli and cfn-lint (from PyPI), for `make validate`
#   fuzz    schemathesis (from PyPI), for the HTTP fuzzing of the API
#   scan    checkov (from PyPI), for the template's security checks (make scan)
#   browser Debian's chromium, for the browser tests
#   deny    cargo-deny, for the dependency checks of `make lint` and `make test` (deny.toml)
#   docker  a Docker daemon for the container test (as root: Debian's docker.io, started here)
#   locks   installs nothing: fails, naming the tool and the crate, when the Cargo.lock of a tool
#           built from crates.io sources (CARGO_TOOLS) no longer resolves (make test runs it)
#
# Tools land in $TOOLS_DIR (default ~/.cache/activity-pipeline) and stay there between runs.
# Versions are pinned in scripts/lib/versions.sh. Each Python tool gets its own virtual
# environment, $TOOLS_DIR/venv/<package>, and only its commands are linked into $TOOLS_DIR/bin:
# installing into the system Python can break packages that came with it (awscli's pinned
# dependencies did), and one shared environment would let two tools' pins fight. A venv holds
# exactly scripts/requirements/<package>.txt (every download checked against its hash) and is
# made again only when that file changes.
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=lib/versions.sh
source "$here/scripts/lib/versions.sh"
# shellcheck source=lib/crates.sh
source "$here/scripts/lib/crates.sh"

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

# wasm-bindgen's command line, from this workspace (tools/wasm-bindgen): Cargo.lock holds it at
# the library's exact version, with dependencies we resolved. It is built with the workspace's
# debug profile into its target directory, where `cargo build --workspace` reuses it, and copied
# into $TOOLS_DIR/bin under its usual names.
setup_wasm() {
  rustup target list --installed | grep -q '^wasm32-unknown-unknown$' \
    || rustup target add wasm32-unknown-unknown
  local want bin target
  want="$(wasm_bindgen_version)"
  if [[ -z "$want" ]]; then
    log "Cargo.lock pins no wasm-bindgen; skipping its command line"
    return
  fi
  if [[ "$("$TOOLS_DIR/bin/wasm-bindgen" --version 2>/dev/null)" == "wasm-bindgen $want" &&
    "$("$TOOLS_DIR/bin/wasm-bindgen-test-runner" --version 2>/dev/null)" == "wasm-bindgen-test-runner $want" ]]; then
    return
  fi
  log "building wasm-bindgen $want from tools/wasm-bindgen into $TOOLS_DIR/bin (once per version; about 1 minute)"
  cargo build --locked --quiet -p wasm-bindgen-tools --bins
  target="$(cargo metadata --format-version 1 --no-deps --locked | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
  mkdir -p "$TOOLS_DIR/bin"
  for bin in wasm-bindgen wasm-bindgen-test-runner; do
    install -m 755 "$target/debug/${bin#wasm-}" "$TOOLS_DIR/bin/$bin"
  done
  [[ "$("$TOOLS_DIR/bin/wasm-bindgen" --version)" == "wasm-bindgen $want" ]] || {
    log "the wasm-bindgen just built is not $want (Cargo.lock)"
    return 1
  }
}

setup_kafka() {
  "$here/scripts/kafka.sh" install
}

setup_deny() {
  [[ "$("$TOOLS_DIR/bin/cargo-deny" --version 2>/dev/null)" == "cargo-deny $CARGO_DENY_VERSION" ]] && return
  log "installing cargo-deny $CARGO_DENY_VERSION into $TOOLS_DIR (once; about 5 minutes on 2 cores)"
  local src="$TOOLS_DIR/src/cargo-deny-$CARGO_DENY_VERSION"
  fetch_crate cargo-deny "$CARGO_DENY_VERSION" "$CARGO_DENY_SHA256"
  lock_repair cargo-deny "$CARGO_DENY_VERSION" "$src"
  CARGO_TARGET_DIR="$TOOLS_DIR/build-cargo-deny" \
    cargo install --locked --path "$src" --root "$TOOLS_DIR" --force
  rm -rf "$TOOLS_DIR/build-cargo-deny" "$src"
}

# Every tool built from crates.io sources still installs as released: its Cargo.lock resolves.
setup_locks() {
  local tool name version sha failed=0
  for tool in "${CARGO_TOOLS[@]}"; do
    read -r name version sha <<<"$tool"
    fetch_crate "$name" "$version" "$sha"
    lock_check "$name" "$version" "$TOOLS_DIR/src/$name-$version" || failed=1
    rm -rf "$TOOLS_DIR/src/$name-$version"
  done
  return "$failed"
}

# requirements_pin PACKAGE VERSION: fails, saying what to do, unless scripts/requirements/PACKAGE.txt
# pins PACKAGE at VERSION (the file was written for the version scripts/lib/versions.sh names).
requirements_pin() {
  grep -qxF "$1==$2 \\" "$here/scripts/requirements/$1.txt" && return
  log "scripts/requirements/$1.txt does not pin $1 $2 (scripts/lib/versions.sh);" \
    "write it again with scripts/requirements/compile.sh $1"
  return 1
}

# pip_tool PACKAGE VERSION COMMAND...: install scripts/requirements/PACKAGE.txt (PACKAGE==VERSION
# and every package it needs, each file checked against its hashes) into a new venv of its own,
# after pip from scripts/requirements/pip.txt, unless the venv was made from these same files
# (their sha256 is kept in the venv); then link each COMMAND into $TOOLS_DIR/bin.
pip_tool() {
  local package="$1" version="$2" venv="$TOOLS_DIR/venv/$1" dir="$here/scripts/requirements" sum
  shift 2
  requirements_pin pip "$PIP_VERSION" && requirements_pin "$package" "$version" || return 1
  sum="$(cat "$dir/pip.txt" "$dir/$package.txt" | sha256sum | cut -d' ' -f1)"
  if [[ ! -x "$venv/bin/python" || "$(cat "$venv/requirements.sha256" 2>/dev/null)" != "$sum" ]]; then
    log "installing $package $version from scripts/requirements/$package.txt (pip --require-hashes, into $venv)"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes -r "$dir/pip.txt"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes \
      -r "$dir/$package.txt"
    echo "$sum" >"$venv/requirements.sha256"
  fi
  mkdir -p "$TOOLS_DIR/bin"
  local cmd
  for cmd in "$@"; do ln -sf "$venv/bin/$cmd" "$TOOLS_DIR/bin/$cmd"; done
}

setup_lambda() {
  pip_tool cargo-lambda "$CARGO_LAMBDA_VERSION" cargo-lambda
  # cargo lambda cross-compiles with zig, which the ziglang package carries inside the venv.
  printf '#!/bin/sh\nexec "%s" -m ziglang "$@"\n' "$TOOLS_DIR/venv/cargo-lambda/bin/python" \
    >"$TOOLS_DIR/bin/zig"
  chmod +x "$TOOLS_DIR/bin/zig"
}

setup_aws() {
  pip_tool aws-sam-cli "$AWS_SAM_CLI_VERSION" sam
  pip_tool cfn-lint "$CFN_LINT_VERSION" cfn-lint
}

setup_fuzz() {
  pip_tool schemathesis "$SCHEMATHESIS_VERSION" st schemathesis
}

setup_scan() {
  pip_tool checkov "$CHECKOV_VERSION" checkov
}

setup_browser() {
  [[ -x /usr/bin/chromium ]] || apt_install chromium
}

# A Docker daemon for `make container-test`: reused when one answers; otherwise, as root with
# apt, Debian's docker.io, its daemon started in the background without iptables or a bridge
# (containers run on the host network), logging to $TOOLS_DIR/dockerd.log, its pid in
# $TOOLS_DIR/dockerd.pid (for a caller that stops what it started). Elsewhere it says why it
# cannot and fails, and the caller decides whether that is a skip.
setup_docker() {
  local docker=docker
  [[ -x /usr/bin/docker ]] && docker=/usr/bin/docker
  command -v "$docker" >/dev/null 2>&1 && "$docker" info >/dev/null 2>&1 && return 0
  if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    log "no Docker daemon answers, and installing one needs root and apt; start Docker yourself"
    return 1
  fi
  [[ -x /usr/sbin/dockerd ]] || apt_install docker.io
  if ! /usr/bin/docker info >/dev/null 2>&1; then
    mkdir -p "$TOOLS_DIR"
    log "starting dockerd (log: $TOOLS_DIR/dockerd.log)"
    nohup /usr/sbin/dockerd --iptables=false --bridge=none >>"$TOOLS_DIR/dockerd.log" 2>&1 &
    echo $! >"$TOOLS_DIR/dockerd.pid"
    for _ in $(seq 1 60); do
      /usr/bin/docker info >/dev/null 2>&1 && return 0
      sleep 1
    done
    log "dockerd did not answer within 60 s; see $TOOLS_DIR/dockerd.log"
    return 1
  fi
}

for part in "${@:-build}"; do
  case "$part" in
    build) setup_build ;;
    wasm) setup_wasm ;;
    kafka) setup_kafka ;;
    lambda) setup_lambda ;;
    aws) setup_aws ;;
    fuzz) setup_fuzz ;;
    scan) setup_scan ;;
    browser) setup_browser ;;
    deny) setup_deny ;;
    docker) setup_docker ;;
    locks) setup_locks ;;
    *) echo "usage: $0 [build] [wasm] [kafka] [lambda] [aws] [fuzz] [scan] [browser] [deny] [docker] [locks]" >&2; exit 2 ;;
  esac
done
