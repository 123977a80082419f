#!/usr/bin/env bash
# `make dev`: the local stack. Starts the broker unless KAFKA_BROKERS points at another one (for
# example the docker compose Kafka), then serves the functions with cargo lambda watch.
# Ctrl-C stops everything this script started.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
TOOLS_DIR="${TOOLS_DIR:-$HOME/.cache/activity-pipeline}"
export TOOLS_DIR PATH="$TOOLS_DIR/bin:$HOME/.cargo/bin:$PATH"
WATCH_PORT="${WATCH_PORT:-9000}"

scripts/setup.sh build lambda
if [[ -z "${KAFKA_BROKERS:-}" ]]; then
  scripts/setup.sh kafka
  if ! scripts/kafka.sh status 2>/dev/null; then
    scripts/kafka.sh start
    trap 'scripts/kafka.sh stop' EXIT
  else
    scripts/kafka.sh topics
  fi
  export KAFKA_BROKERS=127.0.0.1:9092
fi

env_args=()
[[ -f .env ]] && env_args=(--env-file .env)
base="http://127.0.0.1:$WATCH_PORT/lambda-url/events-api"
cat <<MSG

  Pipeline starting (Kafka at $KAFKA_BROKERS). The first request compiles the function.

    curl -s -X POST $base/events/generate \\
      -H 'content-type: application/json' \\
      -d '{"userId":"alice","eventType":"LOGIN","payload":{"page":"/home"}}'
    curl -s $base/events/processed
    curl -s $base/health

  Ctrl-C stops everything started here.

MSG
cargo lambda watch -A 127.0.0.1 -P "$WATCH_PORT" "${env_args[@]}" \
  --env-var "KAFKA_BROKERS=$KAFKA_BROKERS"
