#!/usr/bin/env bash
# Builds the cargo-fuzz targets in fuzz/ and runs each for a given time. Installs
# cargo-fuzz (and a C++ compiler for libFuzzer) when missing; works on the stable
# toolchain through RUSTC_BOOTSTRAP=1. Exits non-zero, naming the crashing input, when a
# target finds a crash. One summary line per target:
#   fuzz: TARGET  SECONDS s  EXECUTIONS execs  CORPUS inputs  RESULT
set -Eeuo pipefail
cd "$(dirname "$0")/.."

usage() {
    cat <<'USAGE'
usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]

Runs every fuzz target (or the ones named) for SECONDS_PER_TARGET seconds (default 60),
one after the other. Corpora are kept in fuzz/corpus/TARGET, crashes in
fuzz/artifacts/TARGET. Environment: FUZZ_JOBS (targets run at once, default 1),
FUZZ_RSS_MB (default 2048), FUZZ_MALLOC_MB (largest single allocation, default 256),
FUZZ_MAX_LEN (largest input, default 70000), FUZZ_SEEDS=1 (write seed inputs first),
FUZZ_QUICK=1 (CI's smoke run: an unoptimised build without AddressSanitizer, which
builds in a fraction of the time; the long runs use the default, optimised build with
AddressSanitizer and debug assertions).
Targets: entry genesis gossip sync_request sync_response sync_frame sync_engine
         http_json key_file config import proof credential_json credential_di
         credential_jwt credential_sdjwt
USAGE
}

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    usage
    exit 0
fi
SECONDS_PER_TARGET=${1:-60}
[[ "$SECONDS_PER_TARGET" =~ ^[0-9]+$ ]] || { usage >&2; exit 2; }
shift || true
JOBS=${FUZZ_JOBS:-1}
RSS_MB=${FUZZ_RSS_MB:-2048}
MALLOC_MB=${FUZZ_MALLOC_MB:-256}
MAX_LEN=${FUZZ_MAX_LEN:-70000}

command -v cargo >/dev/null 2>&1 || { echo "fuzz.sh needs cargo (rustup.rs)" >&2; exit 1; }
export RUSTC_BOOTSTRAP=1
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi
# libFuzzer is C++, built by the libfuzzer-sys crate.
if ! command -v c++ >/dev/null 2>&1; then
    echo "installing a C++ compiler for libFuzzer" >&2
    if [[ $(id -u) -eq 0 ]]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -q && $SUDO apt-get install -y -q g++
fi

ALL=$(cargo fuzz list --fuzz-dir fuzz)
TARGETS=("$@")
[[ ${#TARGETS[@]} -gt 0 ]] || mapfile -t TARGETS <<<"$ALL"
for t in "${TARGETS[@]}"; do
    grep -qx "$t" <<<"$ALL" || { echo "no fuzz target named $t" >&2; usage >&2; exit 2; }
done

if [[ "${FUZZ_QUICK:-0}" == 1 ]]; then
    BUILD=(--fuzz-dir fuzz --dev --sanitizer none)
else
    BUILD=(--fuzz-dir fuzz --release --debug-assertions)
fi
cargo fuzz build "${BUILD[@]}"
# Seeds (FUZZ_SEEDS=1): valid inputs of every target, written by the fuzz crate's own
# example; a separate uninstrumented build, so off by default.
if [[ "${FUZZ_SEEDS:-0}" == 1 ]]; then
    cargo run --quiet --release --manifest-path fuzz/Cargo.toml --example seeds -- fuzz/corpus
fi

LOGS=$(mktemp -d)
trap 'rm -rf "$LOGS"' EXIT

run_one() {
    local t=$1 log="$LOGS/$1.log"
    mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
    local start=$SECONDS rc=0
    cargo fuzz run "${BUILD[@]}" "$t" -- \
        -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb="$RSS_MB" \
        -malloc_limit_mb="$MALLOC_MB" -max_len="$MAX_LEN" -print_final_stats=1 \
        >"$log" 2>&1 || rc=$?
    local took=$((SECONDS - start))
    local execs corpus result
    execs=$(grep -oE '^stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1)
    corpus=$(find "fuzz/corpus/$t" -type f | wc -l)
    if [[ $rc -eq 0 ]]; then
        result="ok"
    else
        local artifact
        artifact=$(grep -oE "Test unit written to [^ ]+" "$log" | tail -1 | sed 's/Test unit written to //')
        result="CRASH ${artifact:-(see log)}"
        tail -40 "$log" >&2
    fi
    printf 'fuzz: %-14s %5s s  %12s execs  %6s inputs  %s\n' \
        "$t" "$took" "${execs:-?}" "$corpus" "$result"
    [[ $rc -eq 0 ]]
}

failed=0
running=0
for t in "${TARGETS[@]}"; do
    run_one "$t" &
    running=$((running + 1))
    if [[ $running -ge $JOBS ]]; then
        wait -n || failed=1
        running=$((running - 1))
    fi
done
while [[ $running -gt 0 ]]; do
    wait -n || failed=1
    running=$((running - 1))
done
if [[ $failed -ne 0 ]]; then
    echo "fuzz: a target crashed; its input is under fuzz/artifacts/ (rerun with: cargo fuzz run --fuzz-dir fuzz TARGET INPUT)" >&2
    exit 1
fi
echo "fuzz: ${#TARGETS[@]} targets, ${SECONDS_PER_TARGET} s each, no crash"
