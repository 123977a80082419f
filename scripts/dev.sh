#!/usr/bin/env bash
# `make dev`: the whole pipeline on this machine.
#
#   1. installs what is missing (cmake, cargo-lambda, the broker),
#   2. starts the local broker unless KAFKA_BROKERS points at one (e.g. the docker compose Kafka),
#      and creates the topics,
#   3. runs the stack (tools/local-stack): cargo lambda watch's Lambda APIs on
#      127.0.0.1:$WATCH_PORT, both functions behind them with the SQLite store, and the local MSK
#      trigger feeding events-processor; every variable of .env (if present) reaches them all,
#   4. builds the wasm package and serves the page (web/) on 127.0.0.1:$WEB_PORT,
#   5. prints the URLs, then the trigger's summary line every few seconds while events flow
#      (events/s in, stored/s, duplicates, dead-lettered, failed invocations, lag), and stops
#      everything it started on Ctrl-C.
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
WATCH_PORT="${WATCH_PORT:-9000}"
WEB_PORT="${WEB_PORT:-8080}"
RUN_DIR="$here/.run/dev"
mkdir -p "$RUN_DIR"

# Settings from .env (if any) apply to this script and, through the environment, to everything
# it starts.
if [[ -f .env ]]; then
  set -a
  # shellcheck disable=SC1091
  . ./.env
  set +a
fi

scripts/setup.sh build lambda
use_broker
export STORE_URL="${STORE_URL:-sqlite://$here/data/events.db}"
export CORS_ALLOWED_ORIGINS="${CORS_ALLOWED_ORIGINS:-http://127.0.0.1:$WEB_PORT,http://localhost:$WEB_PORT}"

log "building the browser package"
if command -v npm >/dev/null 2>&1; then
  (cd web && npm ci --no-audit --no-fund --silent) || log "npm ci failed; the package is built without wasm-opt"
fi
scripts/wasm.sh

log "building the functions, the trigger and the launcher"
cargo build --bins --quiet

pids=()
stop_children() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
on_exit stop_children
trap 'exit 130' INT TERM

target/debug/local-stack --port "$WATCH_PORT" --run-dir "$RUN_DIR" &
pids+=($!)
python3 -m http.server "$WEB_PORT" --bind 127.0.0.1 --directory web >"$RUN_DIR/web.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 300); do
  (exec 3<>"/dev/tcp/127.0.0.1/$WATCH_PORT") 2>/dev/null && break
  sleep 0.2
done

base="http://127.0.0.1:$WATCH_PORT/lambda-url/events-api"
cat <<MSG

  The pipeline is up: Kafka at $KAFKA_BROKERS, store $STORE_URL.
  Logs: $RUN_DIR/functions.log, $RUN_DIR/trigger.log, $RUN_DIR/watch.log

    curl -s -X POST $base/events/generate \\
      -H 'content-type: application/json' \\
      -d '{"userId":"alice","eventType":"LOGIN","payload":{"page":"/home"}}'
    curl -s $base/events/processed
    curl -s $base/health

  The page (validates in the browser with the wasm package): http://127.0.0.1:$WEB_PORT/
  Lambda Invoke API: http://127.0.0.1:$WATCH_PORT/2015-03-31/functions/{events-api,events-processor}/invocations
  Ctrl-C stops everything started here. While events flow, a summary line follows every 5 s.

MSG
# The trigger's summary lines (tools/msk-trigger/src/summary.rs), as they come.
tail --pid="${pids[0]}" -n +1 -F "$RUN_DIR/trigger.log" 2>/dev/null | grep --line-buffered '^summary: ' &
pids+=($!)
wait -n "${pids[@]}"
log "a component exited; see the logs above"
