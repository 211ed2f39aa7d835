#!/usr/bin/env bash
# Credential verification throughput of one node (section 13): loads a registry of ENTRIES
# entries (3-level chains) through `registry import`, accredits a university through a
# 3-level chain of its own (root -> authority -> sub-authority -> university, each with a
# controller key), issues it a degree credential of 1.5 to 2 KiB in each FORMAT with
# `registry credential issue`, checks each once with `registry verify-credential`, then
# measures POST /v1/credentials/verify with the project's load generator
# (node/examples/loadgen.rs), closed loop over CONNECTIONS keep-alive connections,
# alternating ROUNDS times with the HTTP ceiling (GET /v1/status) so that both see the
# same conditions on this shared machine; medians are reported (target >= 5,000/s for
# the eddsa-jcs-2022 credential). Everything runs on loopback and stops by itself.
set -Eeuo pipefail
cd "$(dirname "$0")/.."

usage() {
    cat <<USAGE
usage: scripts/bench-credentials.sh
  environment: ENTRIES (default 100000), RUN_SECONDS per run (default 10), ROUNDS
               (default 3), CONNECTIONS (default 64), FORMATS (default "di jwt sd-jwt")
USAGE
}
[[ "${1:-}" == "-h" || "${1:-}" == "--help" ]] && { usage; exit 0; }
for tool in cargo python3; do
    command -v "$tool" >/dev/null 2>&1 || { echo "bench-credentials.sh needs $tool" >&2; exit 1; }
done
ENTRIES=${ENTRIES:-100000}
RUN_SECONDS=${RUN_SECONDS:-10}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-64}
FORMATS=${FORMATS:-di jwt sd-jwt}

echo "building (release)..." >&2
cargo build --release --quiet -p registry-node -p registry-cli --bins
cargo build --release --quiet -p registry-node --example loadgen
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
"$REG" genesis new --authority-id did:web:bench.example --name "Credential benchmark" \
    --root "$root_did" --threshold 1 --out "$work/genesis.json" >/dev/null
"$BIN/registry-node" init --data-dir "$work/node" --genesis "$work/genesis.json" >/dev/null
"$BIN/registry-node" run --data-dir "$work/node" --api "127.0.0.1:$port" --log-format json \
    >"$work/node.log" 2>&1 &
node_pid=$!
for _ in $(seq 1 200); do
    "$REG" --node "$url" status >/dev/null 2>&1 && break
    kill -0 "$node_pid" 2>/dev/null || { cat "$work/node.log" >&2; exit 1; }
    python3 -c 'import time; time.sleep(0.05)'
done
"$REG" --node "$url" status >/dev/null

echo "generating and importing $ENTRIES entries..." >&2
"$BIN/examples/gen_entries" "$work/genesis.json" "$work/root.key" "$ENTRIES" "$work/entries.jsonl" "$work/ids.txt"
"$REG" --node "$url" --json import "$work/entries.jsonl" --concurrency 64 >/dev/null

for who in authority sub uni; do "$REG" key new --out "$work/$who.key" >/dev/null; done
did() { "$REG" key show "$work/$1.key"; }
AUTH=$("$REG" --node "$url" accredit --subject did:web:authority.bench.example --grant 'accredit:*' \
    --controller "$(did authority)" --key "$work/root.key")
SUB=$("$REG" --node "$url" accredit --subject did:web:sub.bench.example --grant accredit:UniversityDegree \
    --controller "$(did sub)" --as "$AUTH" --key "$work/authority.key")
"$REG" --node "$url" accredit --subject did:web:uni.example --grant issue:UniversityDegree \
    --controller "$(did uni)" --label "University of Example" --as "$SUB" --key "$work/sub.key" >/dev/null 2>&1

subject=$(python3 -c '
import json
print(json.dumps({"id": "did:example:alice", "name": "Alice Example",
  "degree": {"type": "BachelorDegree", "name": "Bachelor of Science and Arts", "field": "Physics"},
  "courses": [{"code": "PHY-%03d" % i, "title": "Course number %d of the programme" % i, "grade": "A"} for i in range(9)]}))')
echo "/v1/status" >"$work/status.paths"
for f in $FORMATS; do
    "$REG" credential issue --key "$work/uni.key" --issuer did:web:uni.example --type UniversityDegree \
        --subject "$subject" --format "$f" --out "$work/cred-$f" >/dev/null
    "$REG" --node "$url" verify-credential "$work/cred-$f" >/dev/null \
        || { echo "the $f credential did not verify as valid" >&2; "$REG" --node "$url" verify-credential "$work/cred-$f" >&2 || true; exit 1; }
    type=text/plain
    [[ "$f" == di ]] && type=application/json
    echo "POST /v1/credentials/verify $work/cred-$f $type" >"$work/$f.paths"
done

LOADGEN="$BIN/examples/loadgen 127.0.0.1:$port"
results=()
for _ in $(seq 1 "$ROUNDS"); do
    results+=("ceiling $($LOADGEN "$work/status.paths" "$RUN_SECONDS" "$CONNECTIONS" max)")
    for f in $FORMATS; do
        results+=("$f $($LOADGEN "$work/$f.paths" "$RUN_SECONDS" "$CONNECTIONS" max)")
    done
done
sizes=$(for f in $FORMATS; do printf '%s=%s ' "$f" "$(wc -c <"$work/cred-$f")"; done)
entries=$("$REG" --node "$url" --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["entries"])')
printf '%s\n' "${results[@]}" >"$work/results.txt"
python3 - "$work/results.txt" "$sizes" "$entries" "$CONNECTIONS" "$ROUNDS" <<'PY'
import json, sys
sizes = dict(kv.split("=") for kv in sys.argv[2].split())
runs = {}
for line in open(sys.argv[1]):
    name, js = line.split(" ", 1)
    runs.setdefault(name, []).append(json.loads(js))
print(f"registry: {sys.argv[3]} entries; {sys.argv[4]} connections, closed loop, median of {sys.argv[5]} runs each, alternated")
print(f"{'run':<48}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}   all runs req/s")
med = {}
for name, rs in runs.items():
    rs.sort(key=lambda r: r["rps"])
    m = rs[len(rs) // 2]
    med[name] = m
    label = "GET /v1/status (ceiling)" if name == "ceiling" else f"POST /v1/credentials/verify {name} ({sizes[name]} B)"
    every = " ".join(f"{r['rps']:.0f}" for r in rs)
    print(f"{label:<48}{m['rps']:>9.0f}{m['p50_us']/1000:>9.2f}{m['p99_us']/1000:>9.2f}{m['errors'] + m['non_2xx']:>8}   {every}")
for name in med:
    if name != "ceiling":
        print(f"{name}: {med[name]['rps'] / med['ceiling']['rps']:.2f} x the ceiling")
if "di" in med:
    print(f"eddsa-jcs-2022 credentials/s = {med['di']['rps']:.0f} (target >= 5000)")
print(json.dumps({"sizes": sizes, "median": med}))
PY
