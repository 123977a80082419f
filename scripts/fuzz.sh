#!/usr/bin/env bash
# `make fuzz` / `make fuzz-smoke`: coverage-guided fuzzing with libFuzzer on the stable toolchain
# (libfuzzer-sys, and rustc's SanitizerCoverage passes enabled with -C flags; only the sanitizers
# would need nightly). Four targets (tools/fuzz):
#   fuzz-body    any bytes through the strict reader, both validators and the batch reader
#   fuzz-record  any bytes as an MSK record through the processor's decoding and dead-lettering
#   fuzz-batch   any bytes as a whole invocation payload (partitions, records, timestamps, keys,
#                values, headers of any count) through the processor's entry point
#   fuzz-token   any bytes as an Authorization header and as token claims through the API's
#                credential checks
# Then the native verdicts on a sample of the body corpus are compared with the wasm build's.
#
#   scripts/fuzz.sh RUNS     inputs per target (make fuzz: 1000000, make test: 20000)
# The corpora stay in .run/fuzz/ between runs; a crash leaves its input there and fails the run.
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
runs="${1:-1000000}"
work="$here/.run/fuzz"
mkdir -p "$work"
triple="$(rustc -vV | sed -n 's/^host: //p')"
# SanitizerCoverage as cargo-fuzz sets it up, minus the address sanitizer (nightly only). With an
# explicit --target these flags reach only the fuzzed code, not build scripts or proc macros.
sancov="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks"

log "building the fuzz targets (instrumented, release, in target/fuzz)"
CARGO_TARGET_DIR="$here/target/fuzz" RUSTFLAGS="$sancov" cargo build --release --locked --quiet \
  -p pipeline-fuzz --features libfuzzer --bin fuzz-body --bin fuzz-record --bin fuzz-batch --bin fuzz-token --target "$triple"
bin="$here/target/fuzz/$triple/release"
# The verdict tool is not fuzzed: a plain build.
cargo build --locked --quiet -p pipeline-fuzz --bin fuzz-verdicts
verdicts="$here/target/debug/fuzz-verdicts"
"$verdicts" seeds "$work/seeds"

for target in body record batch token; do
  corpus="$work/corpus-$target"
  mkdir -p "$corpus" "$work/crashes-$target"
  log "fuzz-$target: $runs inputs"
  started=$SECONDS
  "$bin/fuzz-$target" -runs="$runs" -max_len=70000 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$work/crashes-$target/" -print_final_stats=1 \
    "$corpus" "$work/seeds" 2>"$work/fuzz-$target.log" || {
    tail -n 40 "$work/fuzz-$target.log" >&2
    log "fuzz-$target failed; the input is in $work/crashes-$target/"
    exit 1
  }
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/fuzz-$target.log")"
  log "fuzz-$target: $execs inputs in $((SECONDS - started)) s, 0 failures, corpus $(ls "$corpus" | wc -l) inputs"
done

log "native and wasm verdicts on a sample of the body corpus"
[[ -f web/pkg/event_schema_bg.wasm ]] || scripts/wasm.sh >/dev/null
"$verdicts" sample 5000 "$work/corpus-body" "$work/seeds" >"$work/verdicts.jsonl"
node web/fuzz/compare.mjs "$work/verdicts.jsonl"
