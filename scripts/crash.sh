#!/usr/bin/env bash
# Crash safety and its negative control.
#  1. The crash test against the normal build: SIGKILL at random moments during ingest
#     (50 kills; 1,000 with REGISTRY_SOAK=1) must lose no acknowledged entry.
#  2. The same test against a build with the test-only feature unsafe-ack-before-flush
#     (the writer acknowledges before writing) must report lost entries: proof that the
#     test can fail. It shares the target directory (only registry-node is rebuilt with
#     the feature), and the normal registry-node is rebuilt afterwards, however the
#     script ends, so the unsafe binary never stays in place.
# --control-only skips step 1 (CI runs it with the test suite). CRASH_SEED=N replays the
# kill moments.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    echo "usage: scripts/crash.sh [--control-only]    (REGISTRY_SOAK=1 for 1,000 kills each)"
    exit 0
fi
control_only=false
case "${1:-}" in
    "") ;;
    --control-only) control_only=true ;;
    *) echo "scripts/crash.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
esac
command -v cargo >/dev/null 2>&1 || { echo "scripts/crash.sh needs cargo (rustup.rs)" >&2; exit 1; }

if ! $control_only; then
    echo "== crash test (normal build): no acknowledged entry may be lost"
    cargo test --release -p registry-node --test crash -- --nocapture
fi

echo "== negative control (unsafe-ack-before-flush): losses must be reported"
log="$(mktemp)"
restore() {
    rm -f "$log"
    echo "== rebuilding the normal registry-node"
    cargo build --release -p registry-node --quiet
}
trap restore EXIT
if ! CRASH_EXPECT_LOSS=1 cargo test --release -p registry-node \
    --features unsafe-ack-before-flush \
    --test crash -- --nocapture 2>&1 | tee "$log"; then
    echo "negative control FAILED: the crash test did not report lost entries against a writer that acknowledges before writing" >&2
    exit 1
fi
if ! grep -Eq 'crash-safety: .* [1-9][0-9,]* lost' "$log"; then
    echo "negative control FAILED: no lost entries in the summary line" >&2
    exit 1
fi
if $control_only; then
    echo "crash.sh: the crash test caught the losses of the unsafe build"
else
    echo "crash.sh: the crash test lost nothing on the normal build and caught the losses of the unsafe one"
fi
