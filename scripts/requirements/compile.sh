#!/usr/bin/env bash
# Writes scripts/requirements/<tool>.txt, which scripts/setup.sh installs into the tool's virtual
# environment with `pip install --require-hashes`: the tool at the version scripts/lib/versions.sh
# pins and every package it needs, each pinned, with the sha256 of every file PyPI publishes for
# it (wheels for every platform and the sdist). Resolved for the Python 3 that runs this, on Linux.
# Versions already in the file are kept while they fit; --upgrade moves them to the newest.
#
#   scripts/requirements/compile.sh [--upgrade] [TOOL...]   (default: pip and every Python tool)
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
# shellcheck source=../lib/versions.sh
source "$here/scripts/lib/versions.sh"

upgrade=()
[[ "${1:-}" == "--upgrade" ]] && { upgrade=(--upgrade); shift; }
(($#)) || set -- pip cargo-lambda aws-sam-cli cfn-lint schemathesis

work="$(mktemp -d)"
on_exit rm -rf "$work"
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check "pip-tools==$PIP_TOOLS_VERSION"
python="$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')"

for tool in "$@"; do
  var="$(tr 'a-z-' 'A-Z_' <<<"$tool")_VERSION"
  version="${!var:-}"
  [[ -n "$version" ]] || { log "scripts/lib/versions.sh has no $var"; exit 1; }
  out="scripts/requirements/$tool.txt"
  log "$tool $version -> $out"
  [[ -f "$out" ]] && cp "$out" "$work/$tool.txt"
  echo "$tool==$version" | "$work/venv/bin/pip-compile" --quiet --no-header --generate-hashes \
    --allow-unsafe --no-strip-extras --no-emit-find-links --no-emit-index-url "${upgrade[@]}" \
    --output-file "$work/$tool.txt" -
  {
    echo "# $tool $version (scripts/lib/versions.sh) and every package it needs, for Python $python on"
    echo "# Linux, each with the hashes of all its published files: scripts/setup.sh installs this with"
    echo "# pip install --require-hashes. Written by scripts/requirements/compile.sh $tool; do not edit."
    sed 's|# via -r -$|# via scripts/lib/versions.sh|; s|^    #   -r -$|    #   scripts/lib/versions.sh|' "$work/$tool.txt"
  } >"$out"
done
