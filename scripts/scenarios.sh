#!/usr/bin/env bash
# Small runs of every testnet scenario (a few nodes, few entries, short attacks): what CI
# runs to check that the network still propagates, heals, survives crashes and attacks,
# catches up and serves. Full-size runs and their figures: BENCHMARKS.md. Exits non-zero
# when any scenario fails (each prints its seed).
set -Eeuo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    echo "usage: scripts/scenarios.sh    (builds, then runs each scenario small)"
    exit 0
fi

cargo build --release --quiet -p registry-node -p registry-testnet --bins
testnet=target/release/testnet
failed=()
run() {
    printf '\n$ testnet run %s\n' "$*"
    "$testnet" run "$@" || failed+=("$*")
}
run propagation --nodes 4 --rounds 5
run partition --nodes 4
run crash --nodes 3 --rounds 3
run late-join --nodes 2 --entries 2000
run late-join --nodes 2 --entries 2000 --preload 90
run byzantine --nodes 3 --rounds 5
run load --nodes 3 --entries 1000 --rounds 3
if (( ${#failed[@]} )); then
    printf '\nfailed: %s\n' "${failed[@]}" >&2
    exit 1
fi
printf '\nevery scenario passed\n'
