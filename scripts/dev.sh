#!/usr/bin/env bash
# `make dev`: the whole pipeline on this machine.
#
#   1. installs what is missing (cmake, cargo-lambda, the broker),
#   2. starts the local broker unless KAFKA_BROKERS points at one (e.g. the docker compose Kafka),
#      and creates the topics,
#   3. unless .env sets AUTH_MODE or JWT_ISSUER, starts a local OpenID Connect issuer
#      (tools/dev-issuer) on 127.0.0.1:$DEV_ISSUER_PORT, so that the API checks bearer tokens as it
#      does on AWS and the page signs in against it,
#   4. runs the stack (tools/local-stack): cargo lambda watch's Lambda APIs on
#      127.0.0.1:$WATCH_PORT, both functions behind them with the SQLite store, and the local MSK
#      trigger feeding events-processor; every variable of .env (if present) reaches them all;
#      a change under functions/ or shared/ rebuilds the functions and replaces their instances
#      (the compiler's output shows here; requests made during the build wait for it),
#   5. builds the wasm package and serves the page (web/serve.mjs) on 127.0.0.1:$WEB_PORT, with
#      its settings (this API, this issuer) in its config.json and its Content-Security-Policy,
#   6. prints the URLs, then the trigger's summary line every few seconds while events flow
#      (events/s in, stored/s, duplicates, dead-lettered, failed invocations, lag), and stops
#      everything it started on Ctrl-C.
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
WATCH_PORT="${WATCH_PORT:-9000}"
WEB_PORT="${WEB_PORT:-8080}"
DEV_ISSUER_PORT="${DEV_ISSUER_PORT:-9400}"
# Invocations per events-api instance: 1 as on Lambda's default model, more as on Lambda Managed
# Instances (ApiMaxConcurrency).
API_CONCURRENCY="${API_CONCURRENCY:-1}"
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

# Sign-in: the API checks tokens (AUTH_MODE=jwt) from the local issuer unless .env chose another
# issuer or mode.
export AUTH_MODE="${AUTH_MODE:-jwt}"
dev_issuer=""
if [[ "$AUTH_MODE" == jwt && -z "${JWT_ISSUER:-}" ]]; then
  # The local issuer puts the user "auditor" in the group "auditors", whose members may list
  # every user's events (JWT_READ_ALL_GROUP), and "officer" in "erasers", whose members may erase
  # any user's events (JWT_ERASE_GROUP), as a Cognito administrator would.
  export JWT_READ_ALL_GROUP="${JWT_READ_ALL_GROUP-auditors}"
  export JWT_ERASE_GROUP="${JWT_ERASE_GROUP-erasers}"
  target/debug/dev-issuer --listen "127.0.0.1:$DEV_ISSUER_PORT" --group auditors=auditor \
    --group erasers=officer \
    >"$RUN_DIR/issuer.out" 2>"$RUN_DIR/issuer.log" &
  pids+=($!)
  dev_issuer="$(first_line "$RUN_DIR/issuer.out" "issuer " "${pids[-1]}")" ||
    { log "the dev issuer did not start (port $DEV_ISSUER_PORT taken?); see $RUN_DIR/issuer.log"; exit 1; }
  export JWT_ISSUER="$dev_issuer" JWT_AUDIENCE="${JWT_AUDIENCE:-events-web}"
fi

target/debug/local-stack --port "$WATCH_PORT" --run-dir "$RUN_DIR" --reload \
  --api-concurrency "$API_CONCURRENCY" &
pids+=($!)
# The page's settings: this stack's API and issuer, served as its config.json.
python3 - "$RUN_DIR/page-config.json" "http://127.0.0.1:$WATCH_PORT/lambda-url/events-api" \
  "${JWT_ISSUER:-http://127.0.0.1:$DEV_ISSUER_PORT}" "${JWT_AUDIENCE:-events-web}" <<'PY'
import json, sys
path, api, issuer, client = sys.argv[1:]
json.dump({"api": api, "issuer": issuer, "clientId": client}, open(path, "w"))
PY
node web/serve.mjs --port "$WEB_PORT" --config "$RUN_DIR/page-config.json" >"$RUN_DIR/web.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 300); do
  (exec 3<>"/dev/tcp/127.0.0.1/$WATCH_PORT") 2>/dev/null && break
  sleep 0.2
done

base="http://127.0.0.1:$WATCH_PORT/lambda-url/events-api"
auth=""
if [[ -n "$dev_issuer" ]]; then
  auth=" -H \"authorization: Bearer \$TOKEN\""
  cat <<MSG

  Sign-in: the API checks bearer tokens (AUTH_MODE=jwt) from the local issuer at $dev_issuer,
  where anyone signs in as any user; "auditor" is in the group "auditors" and lists every
  user's events (JWT_READ_ALL_GROUP=$JWT_READ_ALL_GROUP); "officer" is in "erasers" and may
  erase any user's events (JWT_ERASE_GROUP=$JWT_ERASE_GROUP). A token for alice, for curl:

    TOKEN=\$(curl -s $dev_issuer/token -d grant_type=password -d username=alice -d client_id=$JWT_AUDIENCE \\
      | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
MSG
fi
cat <<MSG

  The pipeline is up: Kafka at $KAFKA_BROKERS, store $STORE_URL, sign-in $AUTH_MODE.
  Logs: $RUN_DIR/functions.log, $RUN_DIR/trigger.log, $RUN_DIR/watch.log

    curl -s -X POST $base/events/generate$auth \\
      -H 'content-type: application/json' \\
      -d '{"userId":"alice","eventType":"LOGIN","payload":{"page":"/home"}}'
    curl -s $base/events/processed$auth
    curl -s $base/health

  The page (validates in the browser with the wasm package): http://127.0.0.1:$WEB_PORT/
  Lambda Invoke API: http://127.0.0.1:$WATCH_PORT/2015-03-31/functions/{events-api,events-processor}/invocations
  Edit anything under functions/ or shared/: the functions are rebuilt and replaced, and a
  request made during the build waits for it. A build error shows here; the old code keeps serving.
  Ctrl-C stops everything started here. While events flow, a summary line follows every 5 s.

MSG
# The trigger's summary lines (shared/consume/src/summary.rs), as they come.
tail --pid="${pids[0]}" -n +1 -F "$RUN_DIR/trigger.log" 2>/dev/null | grep --line-buffered '^summary: ' &
pids+=($!)
wait -n "${pids[@]}"
log "a component exited; see the logs above"
