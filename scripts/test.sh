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
# The offline credential test traces the CLI's system calls to show it opens no socket.
if ! command -v strace >/dev/null 2>&1; then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
        echo "installing strace (the offline credential test traces system calls)..." >&2
        apt-get update -qq >/dev/null && apt-get install -y -qq strace >/dev/null
    else
        echo "scripts/test.sh needs strace (e.g. sudo apt-get install strace)" >&2
        exit 1
    fi
fi
exec cargo test --workspace --release "$@"
