#!/usr/bin/env bash
# Crash safety and its negative control.
#  1. The crash test against the normal build: SIGKILL at random moments during ingest
#     (50 kills; 1,000 with REGISTRY_SOAK=1) must lose no acknowledged entry.
#  2. The same test against a build with the test-only feature unsafe-ack-before-flush
#     (the writer acknowledges before writing) must report lost entries: proof that the
#     test can fail. That build goes to its own target directory, so the normal
#     registry-node binary is never replaced by the unsafe one.
# CRASH_SEED=N replays both runs' kill moments.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    echo "usage: scripts/crash.sh    (no arguments; REGISTRY_SOAK=1 for 1,000 kills each)"
    exit 0
fi
command -v cargo >/dev/null 2>&1 || { echo "scripts/crash.sh needs cargo (rustup.rs)" >&2; exit 1; }
control_dir="${CARGO_TARGET_DIR:-target}/negative-control"

echo "== crash test (normal build): no acknowledged entry may be lost"
cargo test --release -p registry-node --test crash -- --nocapture

echo "== negative control (unsafe-ack-before-flush, in $control_dir): losses must be reported"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! CRASH_EXPECT_LOSS=1 cargo test --release -p registry-node \
    --features unsafe-ack-before-flush --target-dir "$control_dir" \
    --test crash -- --nocapture 2>&1 | tee "$log"; then
    echo "negative control FAILED: the crash test did not report lost entries against a writer that acknowledges before writing" >&2
    exit 1
fi
if ! grep -Eq 'crash-safety: .* [1-9][0-9,]* lost' "$log"; then
    echo "negative control FAILED: no lost entries in the summary line" >&2
    exit 1
fi
echo "crash.sh: the crash test lost nothing on the normal build and caught the losses of the unsafe one"
