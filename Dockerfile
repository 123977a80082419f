# The pipeline's container images, one target each:
#
#   events-api               the HTTP API as a plain server (PORT, default 3000), GET /health
#   events-consumer          the processor as a long-running Kafka consumer (functions/events-consumer)
#   events-api-lambda        the HTTP function as a Lambda container image (provided.al2023)
#   events-processor-lambda  the Kafka-triggered function as a Lambda container image
#
#   docker build --target events-api -t activity-pipeline/events-api .
#
# Needs BuildKit (Docker 23+ uses it by default; older clients: DOCKER_BUILDKIT=1): it builds
# only the stages a target needs, so the stages that compile are skipped when prebuilt binaries
# are given. Base images are build arguments, so a mirror or a locally made base can stand in:
#
#   RUST_IMAGE     the toolchain, the version rust-toolchain.toml's "stable" was pinned to here
#   RUNTIME_IMAGE  the plain images' base: distroless glibc + libgcc, user nonroot (65532)
#   LAMBDA_IMAGE   the Lambda images' base: its entrypoint runs /var/runtime/bootstrap
#   BINARIES       "build" (compile events-api and events-consumer in RUST_IMAGE, release) or
#                  "prebuilt" (take them from target/container/bin/ in the build context:
#                  scripts/container-test.sh puts host-built binaries there)
#   LAMBDA_BINARIES "lambda-build" (cargo lambda build in RUST_IMAGE) or
#                  "lambda-prebuilt" (LAMBDA_DIR/<function>/bootstrap from the build context;
#                  LAMBDA_DIR defaults to target/lambda, where `make build` writes)
#   LAMBDA_ARCH    what lambda-build compiles for: arm64 (default, as template.yaml's
#                  Architectures) or x86_64; build the image for the same platform
#
# Lambda takes a single-platform image manifest, not an image index
# (https://docs.aws.amazon.com/lambda/latest/dg/images-create.html), and BuildKit adds
# provenance attestations by default, which make one. Build the Lambda images with
#
#   docker buildx build --platform linux/arm64 --provenance=false --sbom=false \
#     --target events-api-lambda -t events-api-lambda .
#
# which is what `make lambda-images` (scripts/lambda-images.sh) runs.
#
# The Lambda images need binaries linked against a glibc no newer than Amazon Linux 2023's
# (2.34): cargo lambda builds with zig for an older glibc. A plain `cargo build` on Debian 12
# (glibc 2.36) does not run there, so never point LAMBDA_DIR at such binaries for a deployment.
ARG RUST_VERSION=1.95.0
ARG RUST_IMAGE=rust:1.95.0-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot
ARG LAMBDA_IMAGE=public.ecr.aws/lambda/provided:al2023
ARG BINARIES=build
ARG LAMBDA_BINARIES=lambda-build
ARG LAMBDA_ARCH=arm64

# ---- compiling (skipped when prebuilt binaries are given) ----
FROM ${RUST_IMAGE} AS toolchain
ARG RUST_VERSION
# rust-toolchain.toml asks for "stable": pin it to the image's toolchain instead of whatever
# stable is on the day of the build.
ENV RUSTUP_TOOLCHAIN=${RUST_VERSION} CARGO_TERM_COLOR=never
# librdkafka is built from source with cmake.
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake python3-venv \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src

FROM toolchain AS build
COPY . .
RUN cargo build --release --locked --bin events-api --bin events-consumer \
 && mkdir -p /out/bin /out/data \
 && cp target/release/events-api target/release/events-consumer /out/bin/

FROM toolchain AS lambda-build
# The version scripts/lib/versions.sh pins; zig comes with it (the ziglang package).
ARG CARGO_LAMBDA_VERSION=1.9.2
ARG LAMBDA_ARCH
RUN python3 -m venv /opt/cargo-lambda \
 && /opt/cargo-lambda/bin/pip install --no-cache-dir "cargo-lambda==${CARGO_LAMBDA_VERSION}" \
 && printf '#!/bin/sh\nexec /opt/cargo-lambda/bin/python -m ziglang "$@"\n' >/usr/local/bin/zig \
 && chmod +x /usr/local/bin/zig
ENV PATH=/opt/cargo-lambda/bin:${PATH}
COPY . .
RUN case "${LAMBDA_ARCH}" in \
      arm64) arch=--arm64 ;; \
      x86_64) arch=--x86-64 ;; \
      *) echo "LAMBDA_ARCH must be arm64 or x86_64, got ${LAMBDA_ARCH}" >&2; exit 1 ;; \
    esac \
 && cargo lambda build --release --locked "$arch" --bin events-api --bin events-processor \
 && mkdir -p /out/lambda \
 && cp -r target/lambda/events-api target/lambda/events-processor /out/lambda/

# ---- binaries built outside ----
FROM scratch AS prebuilt
COPY target/container/bin/events-api target/container/bin/events-consumer /out/bin/
# An empty directory, for the store's volume.
WORKDIR /out/data

FROM scratch AS lambda-prebuilt
ARG LAMBDA_DIR=target/lambda
COPY ${LAMBDA_DIR}/events-api/bootstrap /out/lambda/events-api/bootstrap
COPY ${LAMBDA_DIR}/events-processor/bootstrap /out/lambda/events-processor/bootstrap

FROM ${BINARIES} AS binaries
FROM ${LAMBDA_BINARIES} AS lambda-binaries

# ---- Lambda container images (provided.al2023: the base's entrypoint runs the bootstrap) ----
FROM ${LAMBDA_IMAGE} AS events-processor-lambda
COPY --from=lambda-binaries /out/lambda/events-processor/bootstrap /var/runtime/bootstrap
CMD ["bootstrap"]

FROM ${LAMBDA_IMAGE} AS events-api-lambda
COPY --from=lambda-binaries /out/lambda/events-api/bootstrap /var/runtime/bootstrap
CMD ["bootstrap"]

# ---- long-running images ----
FROM ${RUNTIME_IMAGE} AS events-consumer
COPY --from=binaries /out/bin/events-consumer /usr/local/bin/events-consumer
COPY --from=binaries --chown=65532:65532 /out/data /data
USER 65532:65532
ENV STORE_URL=sqlite:///data/events.db \
    CONSUMER_HEALTH_ADDR=127.0.0.1:8081
VOLUME ["/data"]
# GET /health of the running consumer, by the binary itself (distroless has no shell or curl):
# healthy while its loop turns and its batches go through (see functions/events-consumer/src/health.rs).
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["/usr/local/bin/events-consumer", "--health-check"]
ENTRYPOINT ["/usr/local/bin/events-consumer"]

FROM ${RUNTIME_IMAGE} AS events-api
COPY --from=binaries /out/bin/events-api /usr/local/bin/events-api
COPY --from=binaries --chown=65532:65532 /out/data /data
USER 65532:65532
# PORT set: the server listens on every interface of the container.
ENV PORT=3000 \
    STORE_URL=sqlite:///data/events.db
EXPOSE 3000
VOLUME ["/data"]
# GET /health (the broker and the store), by the binary itself.
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/events-api", "--health-check"]
ENTRYPOINT ["/usr/local/bin/events-api"]
