# shellcheck shell=bash
# Every tool the project installs, pinned here and only here (sourced by scripts/setup.sh and
# scripts/kafka.sh). wasm-bindgen's command line is built from this workspace (tools/wasm-bindgen),
# so Cargo.lock pins it; the npm tools follow web/package-lock.json.

# The local broker, built from crates.io sources with our patches (scripts/tansu/*.patch).
TANSU_VERSION="0.6.0"
TANSU_SHA256="4fdd85473ec265140488cf8d55e82b844f5c051c8916fabdd4a71156ac053f6d"
TANSU_STORAGE_SHA256="720d2ed8e6010c70f7f06e5af5a7274ebbf6e42fdcd9e46de542b10dc4d2f35d"

# cargo-deny, for the dependency checks of make lint and make test (deny.toml).
CARGO_DENY_VERSION="0.20.2"
CARGO_DENY_SHA256="e528dfcbe739af7ce37a77d3d6df1b29dd6887b1c701d888820c0f16b864f737"

# The tools built from crates.io sources, each from its .crate (checked against its sha256) with
# the Cargo.lock it was released with, which make test checks still resolves (scripts/lib/crates.sh).
CARGO_TOOLS=(
  "tansu $TANSU_VERSION $TANSU_SHA256"
  "cargo-deny $CARGO_DENY_VERSION $CARGO_DENY_SHA256"
)

# Python tools, each into the virtual environment $TOOLS_DIR/venv/<tool> (never the system
# Python), from scripts/requirements/<tool>.txt: the tool at this version and every package it
# needs, each pinned and checked against its hashes. After changing a version here, run
# scripts/requirements/compile.sh <tool> to write that file again (with pip-tools at this version).
# pip itself comes first into each, from scripts/requirements/pip.txt: the one that venv brings
# (23.2 with Python 3.11) rejects a hashed requirement that another asks for with extras.
PIP_TOOLS_VERSION="7.7.0"
PIP_VERSION="26.3"
CARGO_LAMBDA_VERSION="1.9.2"
AWS_SAM_CLI_VERSION="1.170.0"
CFN_LINT_VERSION="1.58.0"
SCHEMATHESIS_VERSION="4.32.5"
# checkov, for make scan (scripts/scan.sh): the SAM-transformed template's static security checks.
CHECKOV_VERSION="3.3.30"
