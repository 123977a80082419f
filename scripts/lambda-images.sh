#!/usr/bin/env bash
# `make lambda-images`: both functions as Lambda container images for arm64, as template.yaml
# deploys them (Architectures: arm64), from the binaries `make build` wrote to target/lambda
# (cargo lambda, zig: Amazon Linux 2023's glibc), so nothing compiles in a container.
#
# Lambda takes one image manifest for one platform, not an image index
# (https://docs.aws.amazon.com/lambda/latest/dg/images-create.html). BuildKit's docker buildx
# adds provenance (and with --sbom, SBOM) attestations by default, and an image with
# attestations is an index, which Lambda refuses: both are turned off here. The legacy
# `docker build` makes no attestations.
#
#   scripts/lambda-images.sh [TAG]        builds activity-pipeline/<function>-lambda:TAG (latest)
#   LAMBDA_IMAGE=...                      another base than public.ecr.aws/lambda/provided:al2023
#   PLATFORM=linux/amd64 LAMBDA_DIR=...   x86_64 images, from x86_64 binaries
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
tag="${1:-latest}"
platform="${PLATFORM:-linux/arm64}"
lambda_dir="${LAMBDA_DIR:-target/lambda}"

docker=docker
[[ -x /usr/bin/docker ]] && docker=/usr/bin/docker

# The flags every Lambda image is built with: one platform, no attestations.
build_flags() {
  if "$docker" buildx version >/dev/null 2>&1; then
    echo buildx build --load --platform "$platform" --provenance=false --sbom=false
  else
    echo build --platform "$platform"
  fi
}

for fn in events-api events-processor; do
  [[ -f "$lambda_dir/$fn/bootstrap" ]] || {
    log "$lambda_dir/$fn/bootstrap is missing: run make build first"
    exit 1
  }
done
args=(--build-arg LAMBDA_BINARIES=lambda-prebuilt --build-arg LAMBDA_DIR="$lambda_dir")
[[ -n "${LAMBDA_IMAGE:-}" ]] && args+=(--build-arg LAMBDA_IMAGE="$LAMBDA_IMAGE")
for fn in events-api events-processor; do
  log "building activity-pipeline/$fn-lambda:$tag ($platform)"
  # shellcheck disable=SC2046 # build_flags prints one flag per word
  DOCKER_BUILDKIT=1 "$docker" $(build_flags) --target "$fn-lambda" "${args[@]}" \
    -t "activity-pipeline/$fn-lambda:$tag" .
done
log "push them to Amazon ECR as they are (docker tag, docker push); each is one manifest for $platform"
