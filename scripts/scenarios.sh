#!/usr/bin/env bash
# Small runs of every testnet scenario (a few nodes, few entries, short attacks): what CI
# runs to check that the network still propagates, heals, survives crashes and attacks,
# catches up and serves. Full-size runs and their figures: BENCHMARKS.md. Exits non-zero
# when any scenario fails (each prints its seed).
set -Eeuo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    cat <<USAGE
usage: scripts/scenarios.sh    (builds, then runs each scenario small)
  CATCHUP_LOAD=1 also runs catchup-load at full size (about a minute per node binary):
    node A's trust p99 at a fixed rate while it answers a late joiner's catch-up of
    CATCHUP_ENTRIES entries (default 100000), against its idle p99. CATCHUP_NODE_BINS
    (space-separated registry-node paths, default this build's) are run alternately,
    CATCHUP_ROUNDS times each (default 2), so a baseline build is measured beside this
    one: CATCHUP_LOAD=1 CATCHUP_NODE_BINS="/path/to/old/registry-node target/release/registry-node";
    CATCHUP_JOINER_NICE=19 runs the joiner at that niceness (as if it were another machine)
USAGE
    exit 0
fi
CATCHUP_LOAD=${CATCHUP_LOAD:-0}

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
run checkpoint --nodes 4 --rounds 2
if [[ "$CATCHUP_LOAD" == 1 ]]; then
    read -r -a bins <<<"${CATCHUP_NODE_BINS:-target/release/registry-node}"
    for _ in $(seq 1 "${CATCHUP_ROUNDS:-2}"); do
        for bin in "${bins[@]}"; do
            run catchup-load --nodes 1 --entries "${CATCHUP_ENTRIES:-100000}" --seed 11 --node-bin "$bin" \
                --joiner-nice "${CATCHUP_JOINER_NICE:-0}"
        done
    done
fi
if (( ${#failed[@]} )); then
    printf '\nfailed: %s\n' "${failed[@]}" >&2
    exit 1
fi
printf '\nevery scenario passed\n'
