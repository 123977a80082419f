#!/usr/bin/env bash
# `make test`: install what is missing, start a broker unless one answers, run every check and
# test, and stop the broker if this script started it.
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
export TANSU_BIN="$TOOLS_DIR/bin/tansu"

step() { printf '\n==> %s\n' "$*" >&2; }

step "installing what is missing"
scripts/setup.sh build wasm kafka lambda aws fuzz browser

step "static checks (make lint)"
scripts/lint.sh

step "template.yaml (sam validate, cfn-lint on the transformed template, broken copies rejected)"
scripts/validate.sh --self-test

step "template.yaml's security checks (make scan: checkov, every skip with its reason, broken copies refused)"
scripts/scan.sh --self-test

step "broker"
use_broker

step "tests (native, with the broker)"
# The end-to-end test runs the functions under cargo lambda watch (`cargo run`): build them first
# with the features a plain build uses, so that cargo lambda finds them ready.
cargo build --workspace --bins --locked
# --all-targets: unit, integration and binary tests (the crates have no doctests).
cargo test --workspace --all-targets --locked -- --include-ignored

step "the install path: the wasm tool chain into an empty tool directory (the shared vectors as WebAssembly under node), every third-party lock resolves (make setup-test)"
scripts/setup-test.sh

step "container images: every Dockerfile target, the API and the consumer against the broker (make container-test)"
scripts/container-test.sh

step "the page in headless Chromium (wasm package, a local stack)"
scripts/browser-test.sh

step "benchmarks at tiny sizes (make bench-smoke)"
scripts/bench.sh --smoke

step "faults at load, short (make chaos-smoke): one, then 8 invocations per events-api instance"
target/debug/chaos --smoke
target/debug/chaos --smoke --api-concurrency 8

step "schema-driven HTTP fuzzing, short (make http-fuzz)"
scripts/http-fuzz.sh --smoke

step "coverage-guided fuzzing, short (make fuzz-smoke)"
scripts/fuzz.sh 20000
