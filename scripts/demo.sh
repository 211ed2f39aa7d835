#!/usr/bin/env bash
# The main job: builds everything, starts a real network of registry-node processes on
# loopback (`testnet up`, fresh genesis and root key), and with the `registry` CLI:
# accredits an authority through one node and, as that authority, a university through
# another; shows the university trusted on every node with the time that took; the
# university issues a degree credential, which a verifier checks (valid); the authority's
# key is stolen, so the root revokes it through a third node, back-dated to the signing
# time, and the revocation shows on every node with its time; the same credential is
# checked again (rejected, with the reason); asks about a time before the revocation and
# over TRQP; then stops the network and verifies every node's ledger offline.
set -Eeuo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    echo "usage: scripts/demo.sh [DIR] [NODES]   (default ./.registry-demo, replaced on each run; 3 nodes)"
    exit 0
fi
for tool in cargo python3; do
    command -v "$tool" >/dev/null 2>&1 || { echo "scripts/demo.sh needs $tool" >&2; exit 1; }
done

echo "building (release; the first build takes a few minutes)..."
cargo build --release --quiet -p registry-node -p registry-cli -p registry-testnet --bins
BIN=$PWD/target/release
dir=${1:-.registry-demo}
nodes=${2:-3}
if [[ -f "$dir/net/testnet.json" ]]; then
    "$BIN/testnet" down --dir "$dir/net" >/dev/null 2>&1 || true
fi
rm -rf "$dir"
mkdir -p "$dir"
registry() { "$BIN/registry" "$@"; }
now_ms() { python3 -c 'import time; print(int(time.time() * 1000))'; }

up=0
down() {
    if (( up )); then
        "$BIN/testnet" down --dir "$dir/net" >/dev/null 2>&1 || true
        up=0
    fi
}
trap down EXIT
step() { printf '\n\033[1m%s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; }

step "1. A network of $nodes nodes on this machine"
show "testnet up --nodes $nodes --dir $dir/net"
"$BIN/testnet" up --nodes "$nodes" --dir "$dir/net"
up=1
mapfile -t API < <(python3 -c 'import json,sys; [print(n["api"]) for n in json.load(open(sys.argv[1]))["nodes"]]' "$dir/net/testnet.json")
ROOT_KEY=$dir/net/root.key
AUTHORITY_ID=$(registry --node "${API[0]}" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["authority_id"])')
show "registry --node ${API[0]} peers"
registry --node "${API[0]}" peers

# wait_everywhere WANT_EXIT LABEL trust-args...: asks every node until each gives the
# expected exit code (0 authorized, 1 not), then prints how long the slowest took.
wait_everywhere() {
    local want=$1 label=$2; shift 2
    local started; started=$(now_ms)
    local deadline=$((SECONDS + 30))
    for url in "${API[@]}"; do
        while true; do
            set +e; registry --node "$url" trust "$@" >/dev/null 2>&1; local got=$?; set -e
            [[ "$got" == "$want" ]] && break
            (( SECONDS < deadline )) || { echo "$url never answered $label" >&2; exit 1; }
        done
    done
    local took=$(( $(now_ms) - started ))
    printf '%s on all %d nodes within %d ms (every node polled with the CLI)\n' "$label" "${#API[@]}" "$took"
    for url in "${API[@]}"; do
        set +e; answer=$(registry --node "$url" trust "$@" 2>&1); set -e
        printf '  %s  %s\n' "$url" "$(head -n 1 <<<"$answer")"
    done
}

step "2. Keys for an accrediting authority and a university (files mode 0600)"
AUTHORITY_DID=$(registry key new --out "$dir/authority.key")
ISSUER_DID=$(registry key new --out "$dir/issuer.key")
echo "authority:  $AUTHORITY_DID"
echo "university: $ISSUER_DID"

step "3. Through node 0, the root accredits the accreditation body"
show "registry --node ${API[0]} accredit --subject did:web:accreditation.example --grant accredit:UniversityDegree --controller \$AUTHORITY_DID --key $ROOT_KEY"
AUTH=$(registry --node "${API[0]}" accredit --subject did:web:accreditation.example \
    --grant accredit:UniversityDegree --controller "$AUTHORITY_DID" \
    --label "Accreditation body" --key "$ROOT_KEY")
echo "$AUTH"

step "4. Through node 1, the accreditation body accredits the university"
# The CLI checks the authority's accreditation on the node it submits to: wait for it there.
deadline=$((SECONDS + 30))
until [[ "$(registry --node "${API[1]}" subject did:web:accreditation.example --json)" == *"$AUTH"* ]]; do
    (( SECONDS < deadline )) || { echo "node 1 never received the authority's accreditation" >&2; exit 1; }
done
show "registry --node ${API[1]} accredit --subject did:web:uni.example --grant issue:UniversityDegree --controller \$ISSUER_DID --as \$AUTH --key authority.key"
registry --node "${API[1]}" accredit --subject did:web:uni.example --grant issue:UniversityDegree \
    --controller "$ISSUER_DID" --label "University of Example" --as "$AUTH" --key "$dir/authority.key"
wait_everywhere 0 "authorized" did:web:uni.example --action issue --resource UniversityDegree
BEFORE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
# Times have one-second resolution: sign, and revoke, in later seconds than the one asked
# about.
next_second() {
    local t; t=$(date +%s)
    while (( $(date +%s) <= t )); do python3 -c 'import time; time.sleep(0.05)'; done
}
next_second

last=$(( ${#API[@]} - 1 ))
step "5. The university issues a degree credential; a verifier checks it through node $last"
show "registry credential issue --key issuer.key --issuer did:web:uni.example --type UniversityDegree --subject '{\"id\":\"did:example:alice\",\"degree\":\"BSc Physics\"}' --out degree.json"
registry credential issue --key "$dir/issuer.key" --issuer did:web:uni.example --type UniversityDegree \
    --subject '{"id":"did:example:alice","degree":"BSc Physics"}' --out "$dir/degree.json"
SIGNED=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["proof"]["created"])' "$dir/degree.json")
show "registry --node ${API[$last]} verify-credential degree.json"
registry --node "${API[$last]}" verify-credential "$dir/degree.json"
next_second

step "6. The accreditation body's key was stolen at $SIGNED: through node $last, the root revokes the body, back-dated"
show "registry --node ${API[$last]} revoke \$AUTH --reason 'authority key stolen' --effective-at $SIGNED --key $ROOT_KEY"
registry --node "${API[$last]}" revoke "$AUTH" --reason "authority key stolen" --effective-at "$SIGNED" --key "$ROOT_KEY"
wait_everywhere 1 "not authorized (issuer_revoked)" did:web:uni.example --action issue --resource UniversityDegree

step "7. The same credential, checked again through node 0: rejected, with the reason"
show "registry --node ${API[0]} verify-credential degree.json"
set +e; registry --node "${API[0]}" verify-credential "$dir/degree.json"; rc=$?; set -e
if (( rc != 1 )); then
    echo "demo: the credential signed after the back-dated revocation was not rejected (exit $rc)" >&2
    exit 1
fi

step "8. Asked about the time before the revocation, every node still says authorized"
wait_everywhere 0 "authorized at $BEFORE" did:web:uni.example --action issue --resource UniversityDegree --at "$BEFORE"

step "9. The same question over TRQP v2 (POST /authorization on node 0)"
python3 - "${API[0]}" "$AUTHORITY_ID" <<'PY'
import json, sys, urllib.request
body = json.dumps({"entity_id": "did:web:uni.example", "authority_id": sys.argv[2],
                   "action": "issue", "resource": "UniversityDegree"}).encode()
req = urllib.request.Request(sys.argv[1] + "/authorization", data=body, headers={"content-type": "application/json"})
print(json.dumps(json.load(urllib.request.urlopen(req)), indent=2))
PY

step "10. Stop the network and verify every ledger offline (chain, ids, signatures, state roots)"
"$BIN/testnet" status --dir "$dir/net"
down
for (( i = 0; i < ${#API[@]}; i++ )); do
    registry ledger verify --data-dir "$dir/net/node-$i"
done
printf '\ndemo complete: node logs in %s/net/node-*/node.log\n' "$dir"
