#!/usr/bin/env bash
# The main job: builds the project and runs the registry end to end on a real sled
# ledger (keys, genesis with threshold 2, accreditation chain, trust query, revocation,
# historical query, reopen and full ledger verification).
set -Eeuo pipefail
cd "$(dirname "$0")/.."
if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    echo "usage: scripts/demo.sh [DATA_DIR]   (default ./.registry-walkthrough, replaced each run)"
    exit 0
fi
command -v cargo >/dev/null 2>&1 || { echo "scripts/demo.sh needs cargo (rustup.rs)" >&2; exit 1; }
exec cargo run --release --quiet -p registry-core --example walkthrough -- "${1:-.registry-walkthrough}"
