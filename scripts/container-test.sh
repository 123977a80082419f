#!/usr/bin/env bash
# `make container-test`: the images from the real Dockerfile, run against the local broker.
#
# Builds the host binaries (debug, the build make test already does; CONTAINER_PROFILE=release
# for release), puts stripped copies in
# target/container/, makes the runtime base from them (scripts/container-base.sh: no base image
# can be pulled here) and builds every target of the Dockerfile with BINARIES=prebuilt, so
# nothing compiles inside a container. Then runs events-api and events-consumer on the host
# network against the broker with their own topics, group and SQLite directory; posts an event
# and waits until GET /events/processed lists it; waits until both containers' HEALTHCHECKs say
# healthy; checks that both run as a non-root user; builds the Lambda images for linux/arm64
# through scripts/lambda-images.sh (make lambda-images); checks that the Lambda images carry
# /var/runtime/bootstrap (over the local base: the real provided:al2023 cannot be pulled here,
# and these host binaries are not built for its glibc). Prints each image's size.
#
# Removes the containers, images, build cache records, binaries and temporary files it made;
# keeps the base image (rebuilt only when its inputs change), and stops the Docker daemon if it
# started it. Skips, saying so, only where no Docker daemon answers and none can be installed.
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
started=$SECONDS

daemon_was_up=0
{ docker info || /usr/bin/docker info; } >/dev/null 2>&1 && daemon_was_up=1
if ! scripts/setup.sh docker; then
  log "SKIPPED: no Docker daemon answers here and none could be installed (needs root and apt)"
  exit 0
fi
stop_daemon() {
  local pid
  pid="$(cat "$TOOLS_DIR/dockerd.pid" 2>/dev/null)" || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  rm -f "$TOOLS_DIR/dockerd.pid"
  log "stopped the Docker daemon it started"
}
# Registered first, so it runs last: after the containers and images are gone.
((daemon_was_up)) || on_exit stop_daemon
# Debian's docker.io client (20.10) builds with the daemon's own BuildKit; a newer client
# without the buildx plugin could only use the legacy builder, which builds every stage.
docker=docker
[[ -x /usr/bin/docker ]] && docker=/usr/bin/docker
export DOCKER_BUILDKIT=1
run_id="ct-$$-$RANDOM"
label="activity-pipeline.container-test"

# CONTAINER_PROFILE=release uses release binaries (built here if missing: minutes); the default,
# debug, is the build make test already made.
profile="${CONTAINER_PROFILE:-debug}"
log "building the host binaries ($profile)"
if [[ "$profile" == release ]]; then
  cargo build --release --locked --quiet --bin events-api --bin events-consumer --bin events-processor
else
  cargo build --workspace --bins --locked --quiet
fi
stage=target/container
on_exit 'rm -rf "$stage"'
mkdir -p "$stage/bin" "$stage/lambda/events-api" "$stage/lambda/events-processor"
strip --strip-debug -o "$stage/bin/events-api" target/$profile/events-api
strip --strip-debug -o "$stage/bin/events-consumer" target/$profile/events-consumer
strip --strip-debug -o "$stage/lambda/events-api/bootstrap" target/$profile/events-api
strip --strip-debug -o "$stage/lambda/events-processor/bootstrap" target/$profile/events-processor

base=activity-pipeline/base:local
DOCKER="$docker" scripts/container-base.sh "$base" "$stage/bin/events-api" "$stage/bin/events-consumer" \
  "$stage/lambda/events-processor/bootstrap"

# The build cache records this run adds (its binaries' layers, never reused by the next run's
# new binaries) are removed on exit; the rest of the cache is left alone.
cache_ids() {
  "$docker" system df -v 2>/dev/null \
    | awk '/^Build cache usage/ {on = 1; next} on && NF > 3 && $1 != "CACHE" {print $1}' | sort
}
cache_before="$(mktemp)"
cache_ids >"$cache_before"
prune_cache() {
  local id
  for _ in 1 2; do # a record goes once the records made from it have gone
    for id in $(cache_ids | comm -13 "$cache_before" -); do
      "$docker" builder prune -f --filter "id=$id" >/dev/null 2>&1 || true
    done
  done
  rm -f "$cache_before"
}
on_exit prune_cache
images=()
on_exit '[[ ${#images[@]} -eq 0 ]] || $docker image rm "${images[@]}" >/dev/null 2>&1; $docker image prune -f --filter "label=$label" >/dev/null'
for target in events-api events-consumer events-api-lambda events-processor-lambda; do
  log "building $target"
  "$docker" build --quiet --target "$target" --label "$label=1" \
    --build-arg RUNTIME_IMAGE="$base" --build-arg LAMBDA_IMAGE="$base" \
    --build-arg BINARIES=prebuilt --build-arg LAMBDA_BINARIES=lambda-prebuilt \
    --build-arg LAMBDA_DIR="$stage/lambda" \
    -t "activity-pipeline/$target:$run_id" . >/dev/null
  images+=("activity-pipeline/$target:$run_id")
done
mb() { echo "$(($("$docker" image inspect -f '{{.Size}}' "$1") / 1000000)) MB"; }
log "sizes ($profile binaries without debug info, over the $(mb "$base") local base):"
for image in "${images[@]}"; do log "  ${image%%:*}: $(mb "$image")"; done

log "the Lambda images: /var/runtime/bootstrap, executable"
for fn in events-api events-processor; do
  c="$("$docker" create "activity-pipeline/$fn-lambda:$run_id")"
  mode="$("$docker" cp "$c:/var/runtime/bootstrap" - | tar -tvf - | awk '{print $1}')"
  "$docker" rm "$c" >/dev/null
  [[ "$mode" == -rwx* ]] || { log "FAIL: $fn-lambda has no executable /var/runtime/bootstrap ($mode)"; exit 1; }
done

log "make lambda-images: both Lambda images for linux/arm64, one manifest each"
# An arm64 twin of the local base (files only: nothing runs in it), so that the build for
# linux/arm64 resolves its base here instead of pulling one.
arm_base=activity-pipeline/base:arm64-local
base_dir="$(mktemp -d)"
on_exit 'rm -rf "$base_dir"'
c="$("$docker" create "$base" true)"
"$docker" export "$c" >"$base_dir/rootfs.tar"
"$docker" rm "$c" >/dev/null
printf 'FROM scratch\nADD rootfs.tar /\n' >"$base_dir/Dockerfile"
"$docker" build --quiet --platform linux/arm64 --label "$label=1" -t "$arm_base" "$base_dir" >/dev/null
images+=("$arm_base")
LAMBDA_DIR="$stage/lambda" LAMBDA_IMAGE="$arm_base" scripts/lambda-images.sh "$run_id-arm64" \
  >"$base_dir/lambda-images.log" 2>&1 || { cat "$base_dir/lambda-images.log" >&2; exit 1; }
for fn in events-api events-processor; do
  image="activity-pipeline/$fn-lambda:$run_id-arm64"
  images+=("$image")
  arch="$("$docker" image inspect -f '{{.Os}}/{{.Architecture}}' "$image")"
  [[ "$arch" == linux/arm64 ]] || { log "FAIL: $image is $arch, not linux/arm64"; exit 1; }
done

use_broker
export KAFKA_TOPIC="container-test-$run_id" KAFKA_DLQ_TOPIC="container-test-$run_id.dlq"
scripts/kafka.sh topics
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
api_port="$(free_port)"
health_port="$(free_port)"
data="$(mktemp -d)"
# The containers write as 65532; the directory stays ours, so we can remove what they leave.
chmod 777 "$data"
on_exit 'rm -rf "$data"'
common=(--network host -v "$data:/data" -e KAFKA_BROKERS="$KAFKA_BROKERS"
  -e KAFKA_TOPIC="$KAFKA_TOPIC" -e KAFKA_DLQ_TOPIC="$KAFKA_DLQ_TOPIC" -e RUST_LOG=info
  --label "$label=1" --health-interval 1s)
containers=()
on_exit '[[ ${#containers[@]} -eq 0 ]] || $docker rm -f "${containers[@]}" >/dev/null 2>&1'
"$docker" run -d --name "$run_id-api" "${common[@]}" -e AUTH_MODE=none -e ALLOW_ANONYMOUS_ACCESS=true -e PORT="$api_port" \
  "activity-pipeline/events-api:$run_id" >/dev/null
containers+=("$run_id-api")
"$docker" run -d --name "$run_id-consumer" "${common[@]}" -e CONSUMER_GROUP_ID="$run_id" \
  -e CONSUMER_HEALTH_ADDR="127.0.0.1:$health_port" -e CONSUMER_BATCH_WINDOW_MS=100 \
  "activity-pipeline/events-consumer:$run_id" >/dev/null
containers+=("$run_id-consumer")

dump() {
  for c in "${containers[@]}"; do
    echo "--- $c ($("$docker" inspect -f '{{.State.Status}} {{.State.Health.Status}}' "$c"))" >&2
    "$docker" logs --tail 30 "$c" 2>&1 | cut -c1-300 >&2
  done
}

log "waiting for both containers to be healthy"
for c in "${containers[@]}"; do
  for i in $(seq 1 60); do
    status="$("$docker" inspect -f '{{.State.Health.Status}}' "$c")"
    [[ "$status" == healthy ]] && break
    ((i < 60)) || { log "FAIL: $c is $status after 60 s"; dump; exit 1; }
    sleep 1
  done
  uid="$("$docker" top "$c" -o pid,uid | awk 'NR == 2 {print $2}')"
  [[ -n "$uid" && "$uid" != 0 && "$uid" != root ]] || { log "FAIL: $c runs as ${uid:-?}"; exit 1; }
  log "$c: healthy, running as uid $uid"
done

base_url="http://127.0.0.1:$api_port"
event="$(curl -sf -X POST "$base_url/events/generate" -H 'content-type: application/json' \
  -d '{"userId":"container-test","eventType":"LOGIN","payload":{"run":"'"$run_id"'"}}')" \
  || { log "FAIL: POST /events/generate"; dump; exit 1; }
id="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["eventId"])' <<<"$event")"
log "posted $id; waiting until GET /events/processed lists it"
for i in $(seq 1 120); do
  if curl -sf "$base_url/events/processed?userId=container-test&limit=100" | grep -q "$id"; then
    break
  fi
  ((i < 120)) || { log "FAIL: $id was not listed within 60 s"; dump; exit 1; }
  sleep 0.5
done
log "ok: stored by the consumer container, listed by the API container ($((SECONDS - started)) s)"
