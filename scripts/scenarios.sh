#!/usr/bin/env bash
# Small runs of every testnet scenario (a few nodes, few entries): what CI runs to check
# that the network still propagates, catches up and repairs. Full-size runs and their
# figures: BENCHMARKS.md. Exits non-zero when any scenario fails (each prints its seed).
set -Eeuo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    echo "usage: scripts/scenarios.sh    (builds, then runs each scenario small)"
    exit 0
fi

cargo build --release --quiet -p registry-node -p registry-testnet --bins
testnet=target/release/testnet
failed=0
run() {
    printf '\n$ testnet run %s\n' "$*"
    "$testnet" run "$@" || failed=1
}
run propagation --nodes 4 --rounds 5
run late-join --nodes 2 --entries 2000
run late-join --nodes 2 --entries 2000 --preload 90
exit "$failed"
