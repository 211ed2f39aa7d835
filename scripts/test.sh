#!/usr/bin/env bash
# Runs the whole test suite in release mode (the cryptography and the property tests are
# far faster optimised; the same build serves the benchmarks and the binaries).
set -Eeuo pipefail
cd "$(dirname "$0")/.."
if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    echo "usage: scripts/test.sh [extra cargo test arguments]"
    exit 0
fi
command -v cargo >/dev/null 2>&1 || { echo "scripts/test.sh needs cargo (rustup.rs)" >&2; exit 1; }
exec cargo test --workspace --release "$@"
