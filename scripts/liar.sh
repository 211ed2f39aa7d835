#!/usr/bin/env bash
# The checkpoint test against a lying witness. Builds registry-node with the test-only
# feature test-liar (its checkpoints hide revocations and it signs two bodies for a slot)
# into a separate target directory, so the normal binary is never replaced, and runs
# node/tests/checkpoints with REGISTRY_LIAR_BIN pointing at it: the liar's body must never
# gather a quorum and every honest node must record its equivocation.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    echo "usage: scripts/liar.sh"
    exit 0
fi
command -v cargo >/dev/null 2>&1 || { echo "scripts/liar.sh needs cargo (rustup.rs)" >&2; exit 1; }
liar_target="target/liar"
echo "== building the lying registry-node (feature test-liar) into $liar_target"
cargo build --release -p registry-node --features test-liar --target-dir "$liar_target" --quiet
liar_bin="$PWD/$liar_target/release/registry-node"
echo "== checkpoint test with node 4 lying"
REGISTRY_LIAR_BIN="$liar_bin" cargo test --release -p registry-node --test checkpoints \
    four_witnesses -- --nocapture
echo "liar.sh: the liar's body never reached a quorum and its equivocation was recorded"
