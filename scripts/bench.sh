#!/usr/bin/env bash
# `make bench`: every measured figure beside the baseline that bounds it, in one run, printed as
# one table and written with the machine, date and commit to BENCHMARKS.md.
# `make bench-smoke` (`scripts/bench.sh --smoke`): tiny sizes, debug build, seconds; nothing
# written — it only proves the benchmarks still run.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
TOOLS_DIR="${TOOLS_DIR:-$HOME/.cache/activity-pipeline}"
export PATH="$TOOLS_DIR/bin:$HOME/.cargo/bin:$PATH"

smoke=0
[[ "${1:-}" == "--smoke" ]] && smoke=1
rows="$(mktemp)"
trap 'rm -f "$rows"' EXIT

if ((smoke)); then
  cargo run --quiet --locked -p pipeline-bench -- processor 300 >>"$rows"
else
  cargo build --quiet --locked --release -p pipeline-bench
  target/release/pipeline-bench processor 10000 >>"$rows"
fi

[[ -f web/pkg/event_schema_bg.wasm ]] || scripts/wasm.sh >/dev/null
[[ -d web/node_modules/ajv ]] || (cd web && npm ci --no-audit --no-fund --silent)
if ((smoke)); then
  node web/bench/validator.mjs 5 >>"$rows"
else
  node web/bench/validator.mjs 3000 >>"$rows"
fi

table() {
  echo "| figure | value | baseline | baseline value | ratio |"
  echo "| --- | ---: | --- | ---: | ---: |"
  awk -F'\t' '{ printf "| %s | %s %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6 }' "$rows"
}

if ((smoke)); then
  table
  lines=$(wc -l <"$rows")
  ((lines >= 6)) || { echo "bench-smoke: expected at least 6 figures, got $lines" >&2; exit 1; }
  echo "bench-smoke: $lines figures measured"
  exit 0
fi

commit="$(git rev-parse --short HEAD)$(git diff --quiet || echo '+dirty')"
{
  echo "# Benchmarks"
  echo
  echo "Written by \`make bench\` on $(date -u +%Y-%m-%dT%H:%MZ), commit \`$commit\`, on"
  echo "$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(free -g | awk '/Mem:/{print $2}') GiB."
  echo "Each figure is measured in the same run as its baseline; compare ratios, not absolute values"
  echo "(the machines are shared and noisy)."
  echo
  table
  echo
  cat docs/benchmarks-notes.md
} >BENCHMARKS.md
table
echo "bench: wrote BENCHMARKS.md"
