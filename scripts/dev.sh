#!/usr/bin/env bash
# `make dev`: the whole pipeline on this machine.
#
#   1. installs what is missing (cmake, cargo-lambda, the broker),
#   2. starts the local broker unless KAFKA_BROKERS points at one (e.g. the docker compose Kafka),
#      and creates the topics,
#   3. serves both functions with `cargo lambda watch` on 127.0.0.1:$WATCH_PORT, with the SQLite
#      store, reading .env if present,
#   4. runs the local MSK trigger (tools/msk-trigger) feeding events-processor,
#   5. builds the wasm package and serves the page (web/) on 127.0.0.1:$WEB_PORT,
#   6. prints the URLs, and stops everything it started on Ctrl-C.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
TOOLS_DIR="${TOOLS_DIR:-$HOME/.cache/activity-pipeline}"
export TOOLS_DIR PATH="$TOOLS_DIR/bin:$HOME/.cargo/bin:$PATH"
WATCH_PORT="${WATCH_PORT:-9000}"
WEB_PORT="${WEB_PORT:-8080}"
RUN_DIR="$here/.run/dev"
mkdir -p "$RUN_DIR"

log() { printf 'dev: %s\n' "$*" >&2; }

# Settings from .env (if any) apply to this script and everything it starts.
if [[ -f .env ]]; then
  set -a
  # shellcheck disable=SC1091
  . ./.env
  set +a
fi

pids=()
started_broker=0
cleanup() {
  trap - EXIT INT TERM
  log "stopping"
  for pid in "${pids[@]}"; do
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  done
  if ((started_broker)); then scripts/kafka.sh stop; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

scripts/setup.sh build lambda
if [[ -z "${KAFKA_BROKERS:-}" ]]; then
  scripts/setup.sh kafka
  if scripts/kafka.sh status 2>/dev/null; then
    scripts/kafka.sh topics
  else
    scripts/kafka.sh start
    started_broker=1
  fi
  export KAFKA_BROKERS=127.0.0.1:9092
else
  log "using the broker at KAFKA_BROKERS=$KAFKA_BROKERS"
fi
export STORE_URL="${STORE_URL:-sqlite://$here/data/events.db}"
export CORS_ALLOWED_ORIGINS="${CORS_ALLOWED_ORIGINS:-http://127.0.0.1:$WEB_PORT,http://localhost:$WEB_PORT}"

log "building the browser package"
if command -v npm >/dev/null 2>&1; then
  (cd web && npm ci --no-audit --no-fund --silent) || log "npm ci failed; the package is built without wasm-opt"
fi
scripts/wasm.sh

log "building the functions and the trigger"
cargo build --bins --quiet

# The functions' settings go through a file: cargo lambda's --env-var splits values at commas.
env_file="$RUN_DIR/functions.env"
{
  echo "KAFKA_BROKERS=$KAFKA_BROKERS"
  echo "STORE_URL=$STORE_URL"
  echo "CORS_ALLOWED_ORIGINS=$CORS_ALLOWED_ORIGINS"
  for v in KAFKA_TOPIC KAFKA_DLQ_TOPIC KAFKA_PRODUCE_TIMEOUT_MS KAFKA_HEALTH_TIMEOUT_MS RUST_LOG AWS_LAMBDA_LOG_FORMAT; do
    if [[ -n "${!v:-}" ]]; then echo "$v=${!v}"; fi
  done
} >"$env_file"
setsid cargo lambda watch --ignore-changes --disable-cors -A 127.0.0.1 -P "$WATCH_PORT" \
  --env-file "$env_file" \
  > >(tee "$RUN_DIR/functions.log") 2>&1 &
pids+=($!)
for _ in $(seq 1 300); do
  (exec 3<>"/dev/tcp/127.0.0.1/$WATCH_PORT") 2>/dev/null && break
  sleep 0.2
done

LAMBDA_ENDPOINT="http://127.0.0.1:$WATCH_PORT" setsid target/debug/msk-trigger \
  > >(tee "$RUN_DIR/trigger.log") 2>&1 &
pids+=($!)

setsid python3 -m http.server "$WEB_PORT" --bind 127.0.0.1 --directory web \
  >"$RUN_DIR/web.log" 2>&1 &
pids+=($!)

base="http://127.0.0.1:$WATCH_PORT/lambda-url/events-api"
cat <<MSG

  The pipeline is up: Kafka at $KAFKA_BROKERS, store $STORE_URL.
  Logs: $RUN_DIR/functions.log, $RUN_DIR/trigger.log

    curl -s -X POST $base/events/generate \\
      -H 'content-type: application/json' \\
      -d '{"userId":"alice","eventType":"LOGIN","payload":{"page":"/home"}}'
    curl -s $base/events/processed
    curl -s $base/health

  The page (validates in the browser with the wasm package): http://127.0.0.1:$WEB_PORT/
  Lambda Invoke API: http://127.0.0.1:$WATCH_PORT/2015-03-31/functions/{events-api,events-processor}/invocations
  Ctrl-C stops everything started here.

MSG
wait -n "${pids[@]}"
log "a component exited; see the logs above"
