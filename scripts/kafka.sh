#!/usr/bin/env bash
# A Kafka-protocol broker for local work and tests, without Docker.
#
#   scripts/kafka.sh install   build tansu once into $TOOLS_DIR (about 10 min on 2 cores),
#                              from crates.io sources with scripts/tansu/*.patch applied
#   scripts/kafka.sh start     start it on $KAFKA_HOST:$KAFKA_PORT (or reuse a broker already
#                              there) and create the topics
#   scripts/kafka.sh stop      stop the broker this script started
#   scripts/kafka.sh status    say whether a broker answers
#   scripts/kafka.sh topics    create the topics on the broker that answers
#
# tansu (Apache-2.0, a Kafka-compatible broker in Rust) keeps its data in SQLite under
# $KAFKA_RUN_DIR. Its in-memory engine is not used: it loses reads and does not survive restarts.
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=lib/versions.sh
source "$here/scripts/lib/versions.sh"
# shellcheck source=lib/crates.sh
source "$here/scripts/lib/crates.sh"
KAFKA_HOST="${KAFKA_HOST:-127.0.0.1}"
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_RUN_DIR="${KAFKA_RUN_DIR:-$here/.run/kafka-$KAFKA_PORT}"
KAFKA_TOPIC="${KAFKA_TOPIC:-user-activity-events}"
KAFKA_DLQ_TOPIC="${KAFKA_DLQ_TOPIC:-user-activity-events.dlq}"
KAFKA_PARTITIONS="${KAFKA_PARTITIONS:-3}"

# What the installed broker was built from: the version and our patches. A change to either
# rebuilds it.
build_id() {
  { echo "$TANSU_VERSION"; cat "$here"/scripts/tansu/*.patch; } | sha256sum | cut -c1-16
}

tansu_bin() {
  local bin="$TOOLS_DIR/bin/tansu"
  [[ -x "$bin" && "$(cat "$bin.build" 2>/dev/null)" == "$(build_id)" ]] || return 1
  echo "$bin"
}

answering() { (exec 3<>"/dev/tcp/$KAFKA_HOST/$KAFKA_PORT") 2>/dev/null; }

install() {
  if bin="$(tansu_bin)"; then
    log "tansu $TANSU_VERSION already installed at $bin"
    return
  fi
  log "building tansu $TANSU_VERSION with our patches into $TOOLS_DIR (once; about 10 minutes on 2 cores)"
  fetch_crate tansu "$TANSU_VERSION" "$TANSU_SHA256"
  fetch_crate tansu-storage "$TANSU_VERSION" "$TANSU_STORAGE_SHA256"
  local patch src="$TOOLS_DIR/src"
  lock_repair tansu "$TANSU_VERSION" "$src/tansu-$TANSU_VERSION"
  for patch in "$here"/scripts/tansu/*.patch; do
    log "applying $(basename "$patch")"
    patch --quiet -p1 -d "$src/tansu-storage-$TANSU_VERSION" <"$patch"
  done
  printf '\n[patch.crates-io]\ntansu-storage = { path = "../tansu-storage-%s" }\n' "$TANSU_VERSION" \
    >>"$src/tansu-$TANSU_VERSION/Cargo.toml"
  # The crate's own Cargo.lock pins every dependency: point its tansu-storage entry at the
  # patched copy (nothing else moves), then build exactly that.
  cargo update --quiet --manifest-path "$src/tansu-$TANSU_VERSION/Cargo.toml" -p tansu-storage
  CARGO_TARGET_DIR="${TANSU_BUILD_DIR:-$TOOLS_DIR/build-tansu}" cargo install --locked \
    --path "$src/tansu-$TANSU_VERSION" --features dynostore,libsql --root "$TOOLS_DIR" --force
  build_id >"$TOOLS_DIR/bin/tansu.build"
  [[ -n "${TANSU_BUILD_DIR:-}" ]] || rm -rf "$TOOLS_DIR/build-tansu"
  rm -rf "$src/tansu-$TANSU_VERSION" "$src/tansu-storage-$TANSU_VERSION"
}

create_topics() {
  local bin out
  bin="$(tansu_bin)"
  for topic in "$KAFKA_TOPIC" "$KAFKA_DLQ_TOPIC"; do
    if out="$("$bin" topic create --broker "tcp://$KAFKA_HOST:$KAFKA_PORT" \
        --partitions "$KAFKA_PARTITIONS" "$topic" 2>&1)"; then
      log "created topic $topic ($KAFKA_PARTITIONS partitions)"
    elif grep -q "already exists" <<<"$out"; then
      log "topic $topic exists"
    else
      log "could not create topic $topic: $out"
      return 1
    fi
  done
}

start() {
  if answering; then
    log "a broker already answers on $KAFKA_HOST:$KAFKA_PORT; reusing it"
    if tansu_bin >/dev/null; then create_topics; fi
    return
  fi
  install
  local bin
  bin="$(tansu_bin)"
  mkdir -p "$KAFKA_RUN_DIR"
  # tansu reads a .env from its working directory; an empty one keeps a stray file out of play.
  : >"$KAFKA_RUN_DIR/.env"
  (
    cd "$KAFKA_RUN_DIR"
    nohup "$bin" broker \
      --listener-url "tcp://$KAFKA_HOST:$KAFKA_PORT" \
      --advertised-listener-url "tcp://$KAFKA_HOST:$KAFKA_PORT" \
      --storage-engine "sqlite://tansu.db" >broker.log 2>&1 &
    echo $! >broker.pid
  )
  for _ in $(seq 1 100); do
    if answering; then
      log "broker started on $KAFKA_HOST:$KAFKA_PORT (pid $(cat "$KAFKA_RUN_DIR/broker.pid"), data in $KAFKA_RUN_DIR)"
      create_topics
      return
    fi
    if ! kill -0 "$(cat "$KAFKA_RUN_DIR/broker.pid")" 2>/dev/null; then
      log "broker exited; its log:"
      cat "$KAFKA_RUN_DIR/broker.log" >&2
      return 1
    fi
    sleep 0.2
  done
  log "broker did not answer within 20 s; see $KAFKA_RUN_DIR/broker.log"
  return 1
}

stop() {
  local pidfile="$KAFKA_RUN_DIR/broker.pid"
  if [[ ! -f "$pidfile" ]]; then
    log "no broker started by this script on port $KAFKA_PORT"
    return
  fi
  local pid
  pid="$(cat "$pidfile")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    log "broker stopped (pid $pid)"
  fi
  rm -f "$pidfile"
}

status() {
  if answering; then
    log "a broker answers on $KAFKA_HOST:$KAFKA_PORT"
  else
    log "nothing answers on $KAFKA_HOST:$KAFKA_PORT"
    return 1
  fi
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  topics) create_topics ;;
  *) echo "usage: $0 install|start|stop|status|topics" >&2; exit 2 ;;
esac
