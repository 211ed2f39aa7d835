#!/usr/bin/env bash
# HTTP query-path benchmark of one node: loads a registry of ENTRIES entries (3-level
# chains) through `registry import`, keeps entries being written in the background, and
# measures with the project's own load generator (node/examples/loadgen.rs):
#   1. the ceiling of the HTTP stack here: GET /v1/status, closed loop;
#   2. trust queries (GET /v1/trust over random issuers), closed loop: throughput and its
#      ratio to the ceiling (target >= 0.8); 1 and 2 alternate ROUNDS times and the
#      medians are compared;
#   3. trust queries at a fixed rate of half the ceiling, open loop: p99 (target < 2 ms),
#      alternating with GET /v1/status at the same rate under the same writes: the ratio
#      of the two p99s (target <= 1.5) cancels the shared machine's noise; each is run
#      ROUNDS times and the run with the median p99 is reported.
# Everything runs on loopback and stops by itself.
set -Eeuo pipefail
cd "$(dirname "$0")/.."

usage() {
    cat <<USAGE
usage: scripts/bench-http.sh
  environment: ENTRIES (default 100000), RUN_SECONDS per closed-loop run (default 10;
               each paced run lasts twice as long), ROUNDS of alternating ceiling and
               trust runs whose medians are compared, and of paced runs (default 3),
               CONNECTIONS (default 64), PACED_CONNECTIONS (default CONNECTIONS),
               BACKGROUND_WRITES (entries written, one at a time, during the runs;
               default 150000, enough to last every run), PIN=1 (node on CPU 0, load generator on CPU 1)
USAGE
}
[[ "${1:-}" == "-h" || "${1:-}" == "--help" ]] && { usage; exit 0; }
for tool in cargo python3; do
    command -v "$tool" >/dev/null 2>&1 || { echo "bench-http.sh needs $tool" >&2; exit 1; }
done

ENTRIES=${ENTRIES:-100000}
RUN_SECONDS=${RUN_SECONDS:-10}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-64}
BACKGROUND_WRITES=${BACKGROUND_WRITES:-150000}
PACED_CONNECTIONS=${PACED_CONNECTIONS:-$CONNECTIONS}
# PIN=1 runs the node on CPU 0 and the load generator on CPU 1 (taskset), so the two do
# not preempt each other on one CPU.
PIN=${PIN:-0}
node_cpu=()
gen_cpu=()
if [[ "$PIN" == 1 ]]; then
    command -v taskset >/dev/null 2>&1 || { echo "PIN=1 needs taskset (util-linux)" >&2; exit 1; }
    node_cpu=(taskset -c 0)
    gen_cpu=(taskset -c 1)
fi

echo "building (release)..." >&2
cargo build --release --quiet -p registry-node -p registry-cli --bins
cargo build --release --quiet -p registry-node --example loadgen
cargo build --release --quiet -p registry-core --example gen_entries
BIN=target/release
REG=$BIN/registry

work=$(mktemp -d)
node_pid=""
writer_pid=""
cleanup() {
    [[ -n "$writer_pid" ]] && kill "$writer_pid" 2>/dev/null || true
    [[ -n "$node_pid" ]] && kill -TERM "$node_pid" 2>/dev/null && wait "$node_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"

root_did=$("$REG" --json key new --out "$work/root.key" | python3 -c 'import json,sys; print(json.load(sys.stdin)["did"])')
"$REG" genesis new --authority-id did:web:bench.example --name "HTTP benchmark" \
    --root "$root_did" --threshold 1 --out "$work/genesis.json" >/dev/null
"$BIN/registry-node" init --data-dir "$work/node" --genesis "$work/genesis.json" >/dev/null
"${node_cpu[@]}" "$BIN/registry-node" run --data-dir "$work/node" --api "127.0.0.1:$port" --log-format json \
    >"$work/node.log" 2>&1 &
node_pid=$!
for _ in $(seq 1 200); do
    "$REG" --node "$url" status >/dev/null 2>&1 && break
    kill -0 "$node_pid" 2>/dev/null || { cat "$work/node.log" >&2; exit 1; }
    python3 -c 'import time; time.sleep(0.05)'
done
"$REG" --node "$url" status >/dev/null

echo "generating $ENTRIES entries..." >&2
"$BIN/examples/gen_entries" "$work/genesis.json" "$work/root.key" "$ENTRIES" "$work/entries.jsonl" "$work/ids.txt"
echo "importing..." >&2
start=$(date +%s.%N)
"$REG" --node "$url" --json import "$work/entries.jsonl" --concurrency 64 >"$work/import.json"
end=$(date +%s.%N)
import_secs=$(python3 -c "print(f'{$end - $start:.1f}')")

# Query paths: random issuers, URL-encoded.
python3 - "$work/ids.txt" "$work/trust.paths" "$work/status.paths" <<'PY'
import random, sys, urllib.parse
ids = [l.strip() for l in open(sys.argv[1]) if l.strip()]
random.seed(7)
random.shuffle(ids)
with open(sys.argv[2], "w") as f:
    for i in ids[:20000]:
        q = urllib.parse.urlencode({"entity_id": i, "action": "issue", "resource": "UniversityDegree"})
        f.write(f"/v1/trust?{q}\n")
open(sys.argv[3], "w").write("/v1/status\n")
PY

# Entries keep being written while the queries run.
"$BIN/examples/gen_entries" "$work/genesis.json" "$work/root.key" "$BACKGROUND_WRITES" \
    "$work/more.jsonl" "$work/more-ids.txt" 10000000 2>/dev/null
# One submitter: a steady stream of durable writes (one flush each) for all three runs.
"$REG" --node "$url" --json import "$work/more.jsonl" --concurrency 1 >"$work/more-import.json" 2>/dev/null &
writer_pid=$!
entries_before=$("$REG" --node "$url" --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["entries"])')

LOADGEN="${gen_cpu[*]} $BIN/examples/loadgen 127.0.0.1:$port"
# The ceiling and the trust runs alternate, ROUNDS times each, and the medians are
# compared, so both see the same conditions on this shared machine.
ceilings=()
trusts=()
for _ in $(seq 1 "$ROUNDS"); do
    ceilings+=("$($LOADGEN "$work/status.paths" "$RUN_SECONDS" "$CONNECTIONS" max)")
    trusts+=("$($LOADGEN "$work/trust.paths" "$RUN_SECONDS" "$CONNECTIONS" max)")
done
median() {
    printf '%s\n' "$@" | python3 -c 'import json,sys; r=sorted((json.loads(l) for l in sys.stdin), key=lambda x: x["rps"]); print(json.dumps(r[len(r)//2]))'
}
ceiling=$(median "${ceilings[@]}")
trust=$(median "${trusts[@]}")
half=$(printf '%s' "$ceiling" | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["rps"] / 2))')
# The fixed-rate runs (trust, then status at the same rate) alternate ROUNDS times; for
# each, the run with the median p99 is reported.
paceds=()
paced_statuses=()
for _ in $(seq 1 "$ROUNDS"); do
    paceds+=("$($LOADGEN "$work/trust.paths" "$((RUN_SECONDS * 2))" "$PACED_CONNECTIONS" "$half")")
    paced_statuses+=("$($LOADGEN "$work/status.paths" "$((RUN_SECONDS * 2))" "$PACED_CONNECTIONS" "$half")")
done
median_p99() {
    printf '%s\n' "$@" | python3 -c 'import json,sys; r=sorted((json.loads(l) for l in sys.stdin), key=lambda x: x["p99_us"]); print(json.dumps(r[len(r)//2]))'
}
p99s() {
    printf '%s\n' "$@" | python3 -c 'import json,sys; print(" ".join("%.2f" % (json.loads(l)["p99_us"] / 1000) for l in sys.stdin))'
}
paced=$(median_p99 "${paceds[@]}")
paced_status=$(median_p99 "${paced_statuses[@]}")
paced_p99s=$(p99s "${paceds[@]}")
paced_status_p99s=$(p99s "${paced_statuses[@]}")
still_writing=no
kill -0 "$writer_pid" 2>/dev/null && still_writing=yes
entries_after=$("$REG" --node "$url" --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["entries"])')

python3 - "$ceiling" "$trust" "$paced" "$import_secs" "$ENTRIES" "$entries_before" "$entries_after" "$((RUN_SECONDS * 6 * ROUNDS))" "$still_writing" "$paced_p99s" "$paced_status" "$paced_status_p99s" <<'PY'
import json, sys
c, t, p = (json.loads(x) for x in sys.argv[1:4])
ps = json.loads(sys.argv[11])
imp, n, before, after, secs = float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7]), int(sys.argv[8])
writes = (after - before) / secs
print(f"registry: {n} entries imported in {imp:.1f} s ({n / imp:.0f} entries/s over HTTP, durable)")
print(f"background writes during the runs: {after - before} entries ({writes:.0f}/s), still writing at the end: {sys.argv[9]}")
print(f"{'run':<48}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'p99.9 ms':>10}{'errors':>8}")
for name, r in [("GET /v1/status, closed loop, median", c), ("GET /v1/trust, closed loop, median", t), (f"GET /v1/trust at {p['mode'][5:]}/s", p), (f"GET /v1/status at {ps['mode'][5:]}/s", ps)]:
    print(f"{name + ' (' + str(r['connections']) + ' conn)':<48}{r['rps']:>9.0f}{r['p50_us']/1000:>9.2f}{r['p99_us']/1000:>9.2f}{r['p999_us']/1000:>10.2f}{r['errors'] + r['non_2xx']:>8}")
ratio = t["rps"] / c["rps"]
print(f"trust / ceiling = {ratio:.2f} (target >= 0.8); p99 at half the ceiling = {p['p99_us']/1000:.2f} ms, median of {sys.argv[10]} ms (target < 2 ms)")
tail = p["p99_us"] / max(ps["p99_us"], 1)
print(f"paced trust p99 / paced status p99 = {tail:.2f} (target <= 1.5); status p99s {sys.argv[12]} ms")
print(json.dumps({"ceiling": c, "trust": t, "paced": p, "paced_status": ps, "ratio": ratio, "tail_ratio": tail, "import_seconds": imp}))
PY
