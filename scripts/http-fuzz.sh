#!/usr/bin/env bash
# `make http-fuzz`: schema-driven fuzzing of the HTTP API. Starts the events-api as a plain
# server (the same router the Function URL serves) on a real broker and an SQLite file, and runs
# schemathesis with every check and every phase, the stateful one included (scripts/schemathesis.toml,
# which gives the reason for each exception) against docs/openapi.json: each answer must be
# documented (status, headers, body, error code), none may be a 500. Then checks that the
# server's peak memory stayed bounded.
#
#   scripts/http-fuzz.sh [--smoke]     --smoke: a few examples per operation (make test)
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
examples=300
[[ "${1:-}" == "--smoke" ]] && examples=25
# Peak resident memory allowed to the server after the run (it idles at about 16 MiB).
max_rss_kib=$((64 * 1024))

scripts/setup.sh fuzz
use_broker
run="$(mktemp -d)"
on_exit rm -rf "$run"
topic="http-fuzz-$$-$RANDOM"
KAFKA_TOPIC="$topic" KAFKA_DLQ_TOPIC="$topic.dlq" scripts/kafka.sh topics

cargo build -p events-api --bins --locked --quiet
KAFKA_TOPIC="$topic" STORE_URL="sqlite://$run/events.db" RUST_LOG=warn AUTH_MODE=none \
  target/debug/events-api --listen 127.0.0.1:0 >"$run/server.out" 2>"$run/server.log" &
server=$!
on_exit "kill $server 2>/dev/null; wait $server 2>/dev/null"
base="$(first_line "$run/server.out" "listening on " "$server")" ||
  { log "the server did not start"; cat "$run/server.log" >&2; exit 1; }

log "schemathesis: $examples examples per operation against $base"
status=0
st --config-file scripts/schemathesis.toml run docs/openapi.json --url "$base" --max-examples "$examples" \
  --seed 20261126 --workers 2 --request-timeout 10 --suppress-health-check all \
  --report junit --report-dir "$run/report" || status=$?
peak="$(awk '/^VmHWM:/ {print $2}' "/proc/$server/status")"
log "server peak memory: $((peak / 1024)) MiB (bound $((max_rss_kib / 1024)) MiB)"
if ((status)); then
  log "schemathesis found undocumented answers; the server's log:"
  tail -n 40 "$run/server.log" >&2
  exit "$status"
fi
((peak <= max_rss_kib)) || { log "the server's memory grew past the bound"; exit 1; }
log "every answer was documented, none was a 500"
