#!/usr/bin/env bash
# `make bench`: every measured figure beside the baseline that bounds it, in one run, printed as
# one table and written with the machine, date and commit to BENCHMARKS.md.
# `make bench-smoke` (`scripts/bench.sh --smoke`): tiny sizes, debug build, seconds; nothing
# written — it only proves the benchmarks still run.
#
# Uses the broker at KAFKA_BROKERS, or starts the local one (and stops it at the end).
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

smoke=0
[[ "${1:-}" == "--smoke" ]] && smoke=1
work="$(mktemp -d)"
rows="$work/rows.tsv"
dev_pid=""
stop_dev() {
  if [[ -n "$dev_pid" ]]; then kill -TERM "$dev_pid" 2>/dev/null || true; wait "$dev_pid" 2>/dev/null || true; fi
}
on_exit rm -rf "$work"
on_exit stop_dev

if ((smoke)); then profile=debug; else profile=release; fi
log "building ($profile)"
cargo build --quiet --locked --profile "$([[ $profile == debug ]] && echo dev || echo release)" \
  -p pipeline-bench -p events-api -p events-processor
bin="target/$profile"
bench="$bin/pipeline-bench"

use_broker

# 1. The processor's batch path.
log "figure 1: processor batch"
"$bench" processor "$( ((smoke)) && echo 300 || echo 10000)" >>"$rows"

# 1b. One partition's failing store writes, with and without partial batch responses.
"$bench" partial "$( ((smoke)) && echo 10 || echo 100)" >>"$rows"

# 2. POST /events/generate under load, beside the publisher alone and GET /health.
log "figure 2: generate under load"
if ((smoke)); then
  # Each window outlasts a broker stall of most of a second (tansu, seen on a loaded machine),
  # so that a round of the smoke run always sees some request start and finish.
  "$bench" generate --api "$bin/events-api" --seconds 1 --levels 1,4 >>"$rows"
else
  "$bench" generate --api "$bin/events-api" --seconds 5 --levels 1,16,64 >>"$rows"
fi

# 4. Cold starts against a local runtime API, beside a hello-world function.
log "figure 4: cold start"
"$bench" coldstart --api "$bin/events-api" --processor "$bin/events-processor" \
  --hello "$bin/hello-lambda" --runs "$( ((smoke)) && echo 1 || echo 10)" >>"$rows"

# 8. One events-api environment at N invocations at once (Lambda Managed Instances), beside N = 1.
log "figure 8: one environment, N invocations at once"
if ((smoke)); then
  "$bench" environment --api "$bin/events-api" --seconds 1 --levels 1,4 >>"$rows"
else
  "$bench" environment --api "$bin/events-api" --seconds 5 --levels 1,8,32 >>"$rows"
fi

# 3. 201 → listed, under make dev, at two batching windows.
e2e() {
  local window=$1 events=$2 port=9310 tag
  tag="bench-e2e-$window-$(date +%s)-$RANDOM"
  "$bench" topics "$tag" "$tag.dlq"
  log "figure 3: make dev with TRIGGER_BATCH_WINDOW_MS=$window (log: $work/dev-$window.log)"
  (
    export KAFKA_TOPIC="$tag" KAFKA_DLQ_TOPIC="$tag.dlq" TRIGGER_GROUP_ID="$tag" \
      TRIGGER_BATCH_WINDOW_MS="$window" TRIGGER_FETCH_WAIT_MS="$fetch_wait" WATCH_PORT="$port" WEB_PORT=$((port + 1)) \
      STORE_URL="sqlite://$work/$tag.db" RUST_LOG=warn AUTH_MODE=none
    exec scripts/dev.sh
  ) >"$work/dev-$window.log" 2>&1 &
  dev_pid=$!
  local base="http://127.0.0.1:$port/lambda-url/events-api" up=0
  for _ in $(seq 1 600); do
    if curl -sf -o /dev/null "$base/health"; then up=1; break; fi
    kill -0 "$dev_pid" 2>/dev/null || break
    sleep 0.5
  done
  if ((!up)); then
    tail -30 "$work/dev-$window.log" >&2
    log "make dev did not come up"
    return 1
  fi
  "$bench" e2e --base "$base" --api "$bin/events-api" --store "sqlite://$work/$tag.db" \
    --events "$events" --rate 10 --window-ms "$window" >>"$rows"
  kill -TERM "$dev_pid"
  wait "$dev_pid" 2>/dev/null || true
  dev_pid=""
}
# The figure is taken with a 100 ms fetch wait (see docs/benchmarks-notes.md).
fetch_wait=100
if ((smoke)); then
  e2e 100 20
else
  e2e 100 1000
  e2e 500 1000
fi

# 6. The store at scale, beside the same store small.
log "figure 6: the store at scale"
if ((smoke)); then
  "$bench" scale 20000 2000 2000 >>"$rows"
else
  "$bench" scale 1000000 100000 20000 >>"$rows"
fi

# 7. make dev's rebuild on change: edit → first answer from the new code, beside the same
#    incremental build alone, in a copy of the workspace that links the debug dependencies.
log "figure 7: edit → new code under make dev"
cargo build --quiet --locked --bin events-api --bin events-processor
"$bench" reload "$( ((smoke)) && echo 1 || echo 3)" >>"$rows"

# 5. The browser validator, in node and in headless Chromium.
log "figure 5: browser validator"
[[ -f web/pkg/event_schema_bg.wasm ]] || scripts/wasm.sh >/dev/null
[[ -d web/node_modules/esbuild && -d web/node_modules/ajv ]] ||
  (cd web && npm ci --no-audit --no-fund --silent)
iterations=$( ((smoke)) && echo 5 || echo 3000)
node web/bench/validator.mjs "$iterations" >>"$rows"
node web/bench/validator-browser.mjs "$iterations" >>"$rows"

table() {
  echo "| figure | value | baseline | baseline value | ratio |"
  echo "| --- | ---: | --- | ---: | ---: |"
  awk -F'\t' '{ printf "| %s | %s %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6 }' "$rows"
}

if ((smoke)); then
  table
  lines=$(wc -l <"$rows")
  ((lines >= 20)) || { echo "bench-smoke: expected at least 20 figures, got $lines" >&2; exit 1; }
  echo "bench-smoke: $lines figures measured"
  exit 0
fi

commit="$(git rev-parse --short HEAD)$(git diff --quiet -- . ':!BENCHMARKS.md' || echo '+dirty')"
# Figures whose ratio moved by more than 15% since the BENCHMARKS.md being replaced.
moved() {
  [[ -f BENCHMARKS.md ]] || return 0
  local before
  before="$(grep -o 'commit `[^`]*`' BENCHMARKS.md | head -1 | tr -d '`' | cut -d' ' -f2)"
  awk -F'\t' -v before="$before" -v after="$commit" '
    FNR == NR {
      if ($0 ~ /^## /) done = 1
      if (!done && $0 ~ /^\| / && $0 !~ /^\| (figure|---)/) {
        n = split($0, c, " \\| ")
        name = substr(c[1], 3); ratio = c[n]; sub(/ \|$/, "", ratio)
        old[name] = ratio + 0; oldv[name] = c[2]
      }
      next
    }
    ($1 in old) && old[$1] > 0 {
      change = $6 / old[$1]
      if (change > 1.15 || change < 1 / 1.15) {
        if (!header) {
          print "## What moved since `" before "`"
          print ""
          print "Ratios that changed by more than 15% between `" before "` and `" after "`:"
          print ""
          print "| figure | before | after | ratio before | ratio after |"
          print "| --- | ---: | ---: | ---: | ---: |"
          header = 1
        }
        printf "| %s | %s | %s %s | %.2f | %s |\n", $1, oldv[$1], $2, $3, old[$1], $6
      }
    }
    END { if (header) print "" }
  ' BENCHMARKS.md "$rows"
}
changes="$(moved)"
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
  [[ -z "$changes" ]] || printf '%s\n\n' "$changes"
  cat docs/benchmarks-notes.md
} >BENCHMARKS.md
table
echo "bench: wrote BENCHMARKS.md"
