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
target/debug/local-stack --run-dir "$run" >"$run/stack.out" &
stack=$!
on_exit "kill -TERM $stack 2>/dev/null; wait $stack 2>/dev/null"
endpoint="$(first_line "$run/stack.out" "ready " "$stack")" ||
  { log "the stack did not start"; tail -n 40 "$run"/*.log >&2; exit 1; }

status=0
(cd web && API_BASE="$endpoint/lambda-url/events-api" TEST_OUTPUT="$here/test-output" \
  node --test tests/) || status=$?
if ((status)); then
  log "browser tests failed; last lines of the stack's logs:"
  tail -n 40 "$run/functions.log" "$run/trigger.log" >&2
fi
exit "$status"
