#!/usr/bin/env bash
# The main job: builds the node and the CLI, starts a real `registry-node` on a dev
# registry (fresh data directory, free port), and walks the README's walk-through with the
# `registry` CLI: keys, an accrediting authority, an issuer, a trust query, a revocation,
# the same query again and about the time before; a TRQP query; then a restart that keeps
# every entry, and an offline verification of the ledger.
set -Eeuo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    echo "usage: scripts/demo.sh [DIR]   (default ./.registry-demo, replaced on each run)"
    exit 0
fi
for tool in cargo python3; do
    command -v "$tool" >/dev/null 2>&1 || { echo "scripts/demo.sh needs $tool" >&2; exit 1; }
done

echo "building (release; the first build takes a few minutes)..."
cargo build --release --quiet -p registry-node -p registry-cli --bins
BIN=$PWD/target/release
dir=${1:-.registry-demo}
rm -rf "$dir"
mkdir -p "$dir"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export REGISTRY_NODE="http://127.0.0.1:$port"
registry() { "$BIN/registry" "$@"; }

node_pid=""
stop_node() {
    if [[ -n "$node_pid" ]]; then
        kill -TERM "$node_pid" 2>/dev/null || true
        wait "$node_pid" 2>/dev/null || true
        node_pid=""
    fi
}
trap stop_node EXIT
start_node() {
    "$BIN/registry-node" --dev --data-dir "$dir/node" --api "127.0.0.1:$port" >>"$dir/node.log" 2>&1 &
    node_pid=$!
    local deadline=$((SECONDS + 30))
    until registry status >/dev/null 2>&1; do
        kill -0 "$node_pid" 2>/dev/null || { cat "$dir/node.log" >&2; exit 1; }
        (( SECONDS < deadline )) || { echo "node did not start in 30 s" >&2; exit 1; }
        python3 -c 'import time; time.sleep(0.05)'
    done
}
step() { printf '\n\033[1m%s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; }
expect_exit() {  # expect_exit CODE command...
    local want=$1; shift
    show "registry ${*}"
    set +e; registry "$@"; local got=$?; set -e
    echo "(exit $got)"
    [[ "$got" == "$want" ]] || { echo "expected exit $want" >&2; exit 1; }
}

step "1. A node on a dev registry (root key, genesis and ledger in $dir/node)"
start_node
registry status
ROOT_KEY=$dir/node/root.key

step "2. Keys for an accrediting authority and an issuer (files mode 0600)"
AUTHORITY_DID=$(registry key new --out "$dir/authority.key")
ISSUER_DID=$(registry key new --out "$dir/issuer.key")
echo "authority: $AUTHORITY_DID"
echo "issuer:    $ISSUER_DID"

step "3. The root accredits the accreditation body; it accredits the university"
show "registry accredit --subject did:web:accreditation.example --grant accredit:UniversityDegree --controller \$AUTHORITY_DID --key $ROOT_KEY"
AUTH=$(registry accredit --subject did:web:accreditation.example --grant accredit:UniversityDegree \
    --controller "$AUTHORITY_DID" --label "Accreditation body" --key "$ROOT_KEY")
echo "$AUTH"
show "registry accredit --subject did:web:uni.example --grant issue:UniversityDegree --controller \$ISSUER_DID --as \$AUTH --key authority.key"
registry accredit --subject did:web:uni.example --grant issue:UniversityDegree \
    --controller "$ISSUER_DID" --label "University of Example" --as "$AUTH" --key "$dir/authority.key"

step "4. A relying party asks"
expect_exit 0 trust did:web:uni.example --action issue --resource UniversityDegree
BEFORE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
# Times have one-second resolution: revoke in a later second than the one asked about.
issued=$(date +%s)
while (( $(date +%s) <= issued )); do python3 -c 'import time; time.sleep(0.05)'; done

step "5. The root revokes the accreditation body"
show "registry revoke \$AUTH --reason 'accreditation withdrawn' --key $ROOT_KEY"
registry revoke "$AUTH" --reason "accreditation withdrawn" --key "$ROOT_KEY"
expect_exit 1 trust did:web:uni.example --action issue --resource UniversityDegree
expect_exit 0 trust did:web:uni.example --action issue --resource UniversityDegree --at "$BEFORE"

step "6. The same question over TRQP v2 (POST /authorization)"
python3 - "$REGISTRY_NODE" <<'PY'
import json, sys, urllib.request
body = json.dumps({"entity_id": "did:web:uni.example", "authority_id": "did:web:dev.registry.example",
                   "action": "issue", "resource": "UniversityDegree"}).encode()
req = urllib.request.Request(sys.argv[1] + "/authorization", data=body, headers={"content-type": "application/json"})
print(json.dumps(json.load(urllib.request.urlopen(req)), indent=2))
PY

step "7. Restart: every acknowledged entry is still there"
stop_node
start_node
registry status
expect_exit 1 trust did:web:uni.example --action issue --resource UniversityDegree

step "8. Stop the node and verify its ledger offline (chain, ids, signatures, state roots)"
stop_node
registry ledger verify --data-dir "$dir/node"
printf '\ndemo complete: node log in %s/node.log\n' "$dir"
