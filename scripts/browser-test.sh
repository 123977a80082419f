#!/usr/bin/env bash
# Browser tests: builds the wasm package, starts a local stack (cargo lambda watch with both
# functions, the trigger, on topics of its own on the running broker), runs web/tests in
# headless Chromium, and stops what it started. Screenshots land in test-output/.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
TOOLS_DIR="${TOOLS_DIR:-$HOME/.cache/activity-pipeline}"
export PATH="$TOOLS_DIR/bin:$HOME/.cargo/bin:$PATH"
run="$here/.run/browser-test"
rm -rf "$run" && mkdir -p "$run" test-output

scripts/setup.sh browser lambda
(cd web && npm ci --no-audit --no-fund --silent)
scripts/wasm.sh

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
suffix="browser-$$-$RANDOM"
export KAFKA_BROKERS="${KAFKA_BROKERS:-127.0.0.1:9092}"
export KAFKA_TOPIC="$suffix" KAFKA_DLQ_TOPIC="$suffix.dlq"
scripts/kafka.sh topics

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  sleep 1
  for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

cargo build --bins --locked --quiet
setsid cargo lambda watch --ignore-changes --disable-cors -A 127.0.0.1 -P "$port" \
  --env-var "KAFKA_BROKERS=$KAFKA_BROKERS" --env-var "KAFKA_TOPIC=$KAFKA_TOPIC" \
  --env-var "KAFKA_DLQ_TOPIC=$KAFKA_DLQ_TOPIC" --env-var "STORE_URL=sqlite://$run/events.db" \
  --env-var "CORS_ALLOWED_ORIGINS=*" >"$run/functions.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 300); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.2
done
LAMBDA_ENDPOINT="http://127.0.0.1:$port" TRIGGER_GROUP_ID="$suffix" TRIGGER_BATCH_WINDOW_MS=100 \
  setsid target/debug/msk-trigger >"$run/trigger.log" 2>&1 &
pids+=($!)

status=0
(cd web && API_BASE="http://127.0.0.1:$port/lambda-url/events-api" TEST_OUTPUT="$here/test-output" \
  node --test tests/) || status=$?
if ((status)); then
  echo "browser tests failed; last lines of the stack's logs:" >&2
  tail -n 40 "$run/functions.log" "$run/trigger.log" >&2
fi
exit "$status"
