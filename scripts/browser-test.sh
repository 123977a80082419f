#!/usr/bin/env bash
# Browser tests: builds the wasm package, starts a local stack (tools/local-stack, on topics of
# its own on the running broker), runs web/tests in headless Chromium, and stops what it
# started. Screenshots land in test-output/.
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
run="$here/.run/browser-test"
rm -rf "$run" && mkdir -p "$run" test-output

scripts/setup.sh browser lambda
(cd web && npm ci --no-audit --no-fund --silent)
scripts/wasm.sh

use_broker
suffix="browser-$$-$RANDOM"
export KAFKA_TOPIC="$suffix" KAFKA_DLQ_TOPIC="$suffix.dlq" TRIGGER_GROUP_ID="$suffix"
export TRIGGER_BATCH_WINDOW_MS=100 STORE_URL="sqlite://$run/events.db" CORS_ALLOWED_ORIGINS='*'
scripts/kafka.sh topics

cargo build --bins --locked --quiet
# The page signs in against a local OpenID Connect issuer, and the API checks its tokens.
target/debug/dev-issuer --listen 127.0.0.1:0 >"$run/issuer.out" 2>"$run/issuer.log" &
issuer_pid=$!
on_exit "kill -TERM $issuer_pid 2>/dev/null; wait $issuer_pid 2>/dev/null"
issuer="$(first_line "$run/issuer.out" "issuer " "$issuer_pid")" ||
  { log "the dev issuer did not start"; cat "$run/issuer.log" >&2; exit 1; }
export AUTH_MODE=jwt JWT_ISSUER="$issuer" JWT_AUDIENCE=events-web

target/debug/local-stack --run-dir "$run" >"$run/stack.out" &
stack=$!
on_exit "kill -TERM $stack 2>/dev/null; wait $stack 2>/dev/null"
endpoint="$(first_line "$run/stack.out" "ready " "$stack")" ||
  { log "the stack did not start"; tail -n 40 "$run"/*.log >&2; exit 1; }

status=0
(cd web && API_BASE="$endpoint/lambda-url/events-api" ISSUER="$issuer" TEST_OUTPUT="$here/test-output" \
  node --test tests/) || status=$?
if ((status)); then
  log "browser tests failed; last lines of the stack's logs:"
  tail -n 40 "$run/functions.log" "$run/trigger.log" >&2
fi
exit "$status"
