#!/usr/bin/env bash
# `registry import` throughput (DESIGN section 14): a fresh node on loopback, ENTRIES
# entries (3-level chains) from a JSON-lines file through the batch endpoint
# (POST /v1/entries/batch, 512 entries a request, CONCURRENCY requests at once), every
# accepted entry durable before its answer. Prints entries/s (target >= 15,000).
set -Eeuo pipefail
cd "$(dirname "$0")/.."
[[ "${1:-}" == "-h" || "${1:-}" == "--help" ]] && { echo "usage: scripts/bench-import.sh   (environment: ENTRIES, default 100000; CONCURRENCY, default 4)"; exit 0; }
ENTRIES=${ENTRIES:-100000}
CONCURRENCY=${CONCURRENCY:-4}
echo "building (release)..." >&2
cargo build --release --quiet -p registry-node -p registry-cli --bins
cargo build --release --quiet -p registry-core --example gen_entries
BIN=target/release
REG=$BIN/registry
work=$(mktemp -d)
node_pid=""
cleanup() {
    [[ -n "$node_pid" ]] && kill -TERM "$node_pid" 2>/dev/null && wait "$node_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
root_did=$("$REG" --json key new --out "$work/root.key" | python3 -c 'import json,sys; print(json.load(sys.stdin)["did"])')
"$REG" genesis new --authority-id did:web:bench.example --name "Import benchmark" \
    --root "$root_did" --threshold 1 --out "$work/genesis.json" >/dev/null
"$BIN/registry-node" init --data-dir "$work/node" --genesis "$work/genesis.json" >/dev/null
"$BIN/registry-node" run --data-dir "$work/node" --api "127.0.0.1:$port" --log-format json >"$work/node.log" 2>&1 &
node_pid=$!
for _ in $(seq 1 200); do
    "$REG" --node "$url" status >/dev/null 2>&1 && break
    kill -0 "$node_pid" 2>/dev/null || { cat "$work/node.log" >&2; exit 1; }
    python3 -c 'import time; time.sleep(0.05)'
done
"$BIN/examples/gen_entries" "$work/genesis.json" "$work/root.key" "$ENTRIES" "$work/entries.jsonl" "$work/ids.txt" >/dev/null
start=$(date +%s.%N)
"$REG" --node "$url" --json import "$work/entries.jsonl" --concurrency "$CONCURRENCY" >"$work/import.json"
end=$(date +%s.%N)
entries=$("$REG" --node "$url" --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["entries"])')
python3 - "$start" "$end" "$entries" "$ENTRIES" "$work/import.json" "$CONCURRENCY" <<'PY'
import json, sys
start, end, held, n = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
summary = json.load(open(sys.argv[5]))
secs = end - start
print(f"imported {n} entries in {secs:.1f} s: {n / secs:.0f} entries/s durable (target >= 15000), concurrency {sys.argv[6]}; the node holds {held}")
print(json.dumps(summary))
if held != n:
    sys.exit(f"the node holds {held} entries, not {n}")
PY
