# Everyday commands. Each installs what it needs on first use (see scripts/setup.sh).
SHELL := /bin/bash
TOOLS_DIR ?= $(HOME)/.cache/activity-pipeline
export TOOLS_DIR
export PATH := $(TOOLS_DIR)/bin:$(HOME)/.cargo/bin:$(PATH)

.PHONY: bench bench-smoke chaos chaos-smoke fuzz fuzz-smoke http-fuzz scan
.PHONY: help test dev kafka kafka-stop setup setup-test lint deny fmt schemas wasm-test wasm browser-test validate build deploy container-test lambda-images

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

test: ## Install what is missing, start the broker, run every check and test, stop what it started
	scripts/test.sh

dev: ## Run the pipeline locally under cargo lambda watch (docs/local-development.md)
	scripts/dev.sh

kafka: ## Start the local broker on 127.0.0.1:9092 (or reuse one) and create the topics
	scripts/kafka.sh start

kafka-stop: ## Stop the broker started by `make kafka`
	scripts/kafka.sh stop

setup: ## Install every tool once (cmake, wasm-bindgen, tansu, cargo-lambda, aws-sam-cli, schemathesis, checkov, cargo-deny, chromium, Docker where apt can)
	scripts/setup.sh build wasm kafka lambda aws fuzz scan deny browser docker

setup-test: ## The install path: wasm tools into an empty tool directory, every third-party Cargo.lock still resolves
	scripts/setup-test.sh

build: ## Build both functions for AWS Lambda (arm64, release) into target/lambda/*/bootstrap
	scripts/setup.sh build lambda
	cargo lambda build --release --arm64 --bin events-api --bin events-processor
	@ls -l target/lambda/events-api/bootstrap target/lambda/events-processor/bootstrap

deploy: ## Build with SAM and deploy (guided: asks for the MSK cluster, subnets, security groups)
	scripts/setup.sh build lambda aws
	sam build --beta-features
	sam deploy --guided

validate: ## Check template.yaml offline: sam validate, cfn-lint on the transformed template
	scripts/validate.sh

scan: ## checkov on the SAM-transformed template: every finding fixed or skipped with its reason
	scripts/scan.sh

lint: ## Static checks (scripts/lint.sh): rustfmt, clippy (native and wasm32), the compose file, cargo deny
	scripts/lint.sh

deny: ## cargo deny, all four checks: make lint's licenses, bans and sources, and advisories (fetched from github.com)
	scripts/setup.sh deny
	cargo deny --locked check

fmt: ## Format the code
	cargo fmt --all

schemas: ## Regenerate the checked-in JSON Schemas and docs/openapi.json from the types
	UPDATE_SCHEMAS=1 cargo test -p event-schema --test json_schema
	UPDATE_SCHEMAS=1 cargo test -p events-api --lib openapi

bench: ## Measure every path beside its baseline; prints the table and writes BENCHMARKS.md
	scripts/bench.sh

bench-smoke: ## The benchmarks at tiny sizes (seconds), to prove they still run
	scripts/bench.sh --smoke

chaos: ## The local pipeline under faults at load (broker, store, processor, trigger, erasure), one and 8 invocations per events-api instance; prints the tables
	scripts/setup.sh build lambda kafka
	cargo build --workspace --bins --locked --quiet
	target/debug/chaos
	target/debug/chaos --api-concurrency 8

chaos-smoke: ## make chaos with short faults (part of make test)
	scripts/setup.sh build lambda kafka
	cargo build --workspace --bins --locked --quiet
	target/debug/chaos --smoke
	target/debug/chaos --smoke --api-concurrency 8

fuzz: ## Coverage-guided fuzzing of the validator, the processor's record decoding and whole entry point, and token checks (10^6 inputs each)
	scripts/fuzz.sh 1000000

fuzz-smoke: ## A short fuzzing run (part of make test)
	scripts/fuzz.sh 20000

http-fuzz: ## Schema-driven fuzzing of the HTTP API from docs/openapi.json (schemathesis)
	scripts/http-fuzz.sh

wasm: ## Build the browser package (web/pkg): wasm-bindgen web + bundler targets, TypeScript types
	scripts/wasm.sh

browser-test: ## The page in headless Chromium against a local stack (needs a broker: make kafka)
	scripts/browser-test.sh

lambda-images: build ## Both functions as Lambda container images for arm64, one manifest each (no attestations), from make build's binaries
	scripts/setup.sh docker
	scripts/lambda-images.sh

container-test: ## Build every Dockerfile target from host-built binaries and run the API and the consumer against the broker
	scripts/container-test.sh

wasm-test: ## Run the shared validation vectors as WebAssembly under node
	scripts/setup.sh wasm
	CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
	  cargo test -p event-schema --target wasm32-unknown-unknown --features wasm --test vectors
