#!/usr/bin/env bash
# audit_e2e.sh -- issue 5 end to end with the real programs: a jipan-server
# and two jipan-stores on 127.0.0.1 sync (the stores register the same
# person, so the server links them); at two moments the server's state
# digest and the stores' reports are taken; then the group log and each
# store's log are exported.
#
# Checks: the untouched export verifies, alone and against both stores'
# exports; replay at both moments' positions and instants gives the digest
# the server had then, and at the end the one it signed; the as-of
# statistics equal the live ones taken at that instant; history shows the
# linked rows.  Then the export is altered (tests/audit_tamper.py) in each
# way the issue names -- a flipped byte, a removed entry, two swapped, a
# duplicated batch, a batch re-signed with a wrong key, a changed seq --
# and verify must exit 1 naming the altered entry; a dishonest server that
# drops a store's last batch and re-signs the whole export passes verify
# alone but not against the store's own export.  Each store writes its
# key file (jipan-store keys --attest); a dishonest server that lists a
# key of its own as a second key of a store, or in place of the store's,
# and re-signs the store's batches and END with it, gets a verdict that
# says it rests on unpinned keys, and is refused naming the key when the
# stores' key files are given; the server's own key as a store's is
# refused always.
#
# Environment (set by ctest): JP_BIN = build dir, JP_SRC = source dir.
set -euo pipefail

NAME=audit-e2e
. "$JP_SRC/tests/lib/sync.bash"
G="$T"
export JIPAN_USER=auditee
AUD="$JP_BIN/audit/jipan-audit"
TAMPER="$JP_SRC/tests/audit_tamper.py"
[ -x "$AUD" ] || { echo "FAIL: $AUD not built" >&2; exit 1; }
SPID=""

# au WANT ARGS...: jipan-audit; stdout in $T/out, stderr in $T/err.
au() {
    local want=$1 got=0
    shift
    "$AUD" "$@" >"$T/out" 2>"$T/err" || got=$?
    [ "$got" -eq "$want" ] || { cat "$T/out" "$T/err" >&2; fail "jipan-audit $1 exited $got, wanted $want"; }
}
jget() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))$2)" "$1"; }

PORT=$(free_port $((18000 + $$ % 1000)))
cat >"$T/srv.ini" <<EOF
[server]
endpoint = tcp://127.0.0.1:$PORT
data = $T/srv
group = 审计集团
timezone = Asia/Shanghai
EOF

check "a server and two stores"
sv init
sv keys
SKEY=$(awk '$1 == "curve" { print $2 }' "$T/out")
RKEY=$(awk '$1 == "receipt" { print $2 }' "$T/out")
for n in 1 2; do
    st "$n" 0 init --store "$n" --code "S0$n" --name "店$n" --region 惠州 --group 审计集团
    st "$n" 0 keys
    sv enroll --store "$n" --code "S0$n" --name "店$n" --region 惠州 \
        --curve "$(awk '$1 == "curve" { print $2 }' "$T/out")" \
        --sign "$(awk '$1 == "sign" { print $2 }' "$T/out")"
done
"$SRV" -c "$T/srv.ini" run >"$T/srv.out" 2>"$T/srv.err" &
SPID=$!
PIDS+=("$SPID")
for ((i = 0; i < 200; i++)); do
    grep -q "^listening on " "$T/srv.out" && break
    sleep 0.1
done
grep -q "^listening on " "$T/srv.out" || fail "the server did not start"
sync_all() {
    local n
    for n in 1 2 1; do
        st "$n" 0 sync --server "tcp://127.0.0.1:$PORT" --server-key "$SKEY"
    done
}

check "phase A: customers at both stores (one person at both), visits, sync"
st 1 0 add customer --name 王五 --phone 13700137000 --created-at 2026-01-05
C1=$(cat "$T/out")
st 1 0 add customer --name 赵六 --phone 13600136000 --created-at 2026-01-06
st 1 0 add vehicle --customer "$C1" --vin 1M8GDM9AXKP042788 --model X5 \
    --delivered-at 2026-02-01 --price 300000
st 2 0 add customer --name 王五 --phone 13700137000 --created-at 2026-02-10
C2=$(cat "$T/out")
sync_all
sv status --digest
DA=$(awk '$1 == "digest" { print $2 }' "$T/out")
LA=$(awk '$1 == "group" && $2 == "log" { print $3 }' "$T/out")
[ -n "$DA" ] && [ "$LA" -gt 0 ] || fail "no status at A"
sleep 0.2
TA=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
st 1 0 report --as-of "$TA" --format json
cp "$T/out" "$T/reportA.json"
sleep 0.2

check "phase B: more changes, sync"
st 1 0 update "$C1" --name 王五五
st 2 0 add customer --name 孙七 --phone 13500135000 --created-at 2026-03-01
for i in 1 2 3 4 5; do
    st 2 0 add customer --name "客$i" --created-at 2026-03-0$i
done
sync_all
sv status --digest
DB=$(awk '$1 == "digest" { print $2 }' "$T/out")
LB=$(awk '$1 == "group" && $2 == "log" { print $3 }' "$T/out")
[ "$LB" -gt "$LA" ] || fail "the group log did not grow"

check "exports"
sv export -o "$T/g.jpx"
has "$T/out" "state digest at $LB: $DB"
st 1 0 export -o "$T/s1.jpx"
st 2 0 export -o "$T/s2.jpx"
st 1 1 export -o "$T/s1.jpx" # never overwrites
"$AUD" verify --help >/dev/null || fail "verify --help"
"$AUD" replay --help >/dev/null || fail "replay --help"
"$AUD" history --help >/dev/null || fail "history --help"
"$SRV" -c "$T/srv.ini" export --help >/dev/null || fail "server export --help"
"$STO" export --help >/dev/null || fail "store export --help"

check "the untouched export verifies, alone and against both stores"
au 0 verify "$T/g.jpx"
has "$T/out" VERIFIED
au 0 verify "$T/g.jpx" --store-export "$T/s1.jpx" --store-export "$T/s2.jpx" \
    --server-key "$RKEY" --format json
[ "$(jget "$T/out" '["verified"]')" = True ] || fail "json says not verified"
[ "$(jget "$T/out" '["entries"]')" = "$LB" ] || fail "json entries"
au 0 verify "$T/s1.jpx"
au 1 verify "$T/g.jpx" --server-key "$(printf '%064d' 0)"
au 2 verify
au 3 verify "$T/nonexistent.jpx"

check "replay at both positions gives the digests the server had"
au 0 replay "$T/g.jpx" --at-pos "$LA"
has "$T/out" "digest $DA"
au 0 replay "$T/g.jpx" --at-pos "$LB"
has "$T/out" "digest $DB"
has "$T/out" "equals the server's signed digest"
au 0 replay "$T/g.jpx" --at-pos 0 --format json
[ "$(jget "$T/out" '["applied"]')" = 0 ] || fail "empty replay"

check "replay as of instant A: the digest and the statistics of then"
au 0 replay "$T/g.jpx" --as-of "$TA" --report --store 1 --format json
[ "$(jget "$T/out" '["digest"]')" = "$DA" ] || fail "as-of digest $(jget "$T/out" '["digest"]') is not $DA"
[ "$(jget "$T/out" '["pos"]')" = "$LA" ] || fail "as-of position"
python3 - "$T/out" "$T/reportA.json" <<'EOF' || fail "as-of statistics differ from the live ones"
import json, sys
a = json.load(open(sys.argv[1]))["stats"]
b = json.load(open(sys.argv[2]))
for d in (a, b):
    d.pop("scope", None)
if a != b:
    for k in sorted(set(a) | set(b)):
        if a.get(k) != b.get(k):
            print("differs:", k, a.get(k), b.get(k))
    sys.exit(1)
EOF
au 0 replay "$T/g.jpx" --as-of "$TA" --report
has "$T/out" "loyalty report, group"
has "$T/out" "digest $DA"

check "range exports: from a position, up to a position, until an instant"
sv export --from 3 -o "$T/r1.jpx"
au 0 verify "$T/r1.jpx"
au 2 replay "$T/r1.jpx" --at-pos 5
has "$T/err" "cannot be replayed"
sv export --to "$LA" -o "$T/r2.jpx"
has "$T/out" "state digest at $LA: $DA"
au 0 replay "$T/r2.jpx" --at-pos "$LA"
has "$T/out" "equals the server's signed digest"
sv export --until "$TA" -o "$T/r3.jpx"
has "$T/out" "positions 1..$LA of $LB"
au 0 verify "$T/r3.jpx" --format json
[ "$(jget "$T/out" '["digest"]')" = "$DA" ] || fail "--until export's digest"

check "history of a customer shows its linked row at the other store"
au 0 history "$T/g.jpx" "$C1"
has "$T/out" "王五 -> 王五五"
has "$T/out" "store 2 seq 1"
has "$T/out" "link"
has "$T/out" "137****7000"
au 0 history "$T/g.jpx" "$C2" --format json
[ "$(jget "$T/out" '["count"]')" -ge 4 ] || fail "history count"

# tamper OP ARGS...: alter g.jpx into $T/bad.jpx; verify must fail (1) and
# name what the tamperer reports.
tamper() {
    local what
    what=$(python3 "$TAMPER" "$1" "$T/g.jpx" "$T/bad.jpx" "${@:2}") || fail "tamper $1"
    rm -f "$T/bad.jpx.ok"
    au 1 verify "$T/bad.jpx"
    echo "   $1: $what -> $(tail -1 "$T/out")"
    # one alteration, one fault (but for a swap across a batch record:
    # the records out of place are each a fault)
    [ "$1" = swap ] || has "$T/out" "FAILED: 1 fault;"
    TW="$what"
}
# Position, store and seq of an entry of store S in the middle of the log.
mid=$((LA / 2 + 1))

check "a flipped byte in a value is named"
tamper flip "$mid"
has "$T/out" "position $mid,"
has "$T/out" "altered"

check "a removed entry is named"
tamper drop "$mid"
has "$T/out" "$(echo "$TW" | awk '{ print "store " $4 " seq " $6 " is missing" }')"

check "two swapped entries are named"
tamper swap "$mid"
has "$T/out" "position $((mid + 1))"

check "a duplicated batch is named"
tamper dupbatch 2
has "$T/out" "appears again"
has "$T/out" "$(echo "$TW" | awk '{ print "position " $2 ", store " $4 " seq " $6 }')"

check "a batch re-signed with a wrong key is named"
openssl genpkey -algorithm ed25519 -out "$T/evil.pem" 2>/dev/null
tamper resign 2 "$T/evil.pem"
has "$T/out" "$(echo "$TW" | awk '{ print "position " $2 ", store " $4 " batch" }')"
has "$T/out" "signature does not verify"
tamper resign 2 "$T/evil.pem" pub
has "$T/out" "not one of store"

check "a changed seq is named"
tamper seq "$mid" 99
has "$T/out" "position $mid:"
has "$T/out" "seq 99"

check "a dishonest server drops a batch and re-signs: only the store's export shows it"
what=$(python3 "$TAMPER" droptail "$T/g.jpx" "$T/bad.jpx" 1 "$T/srv/server.key")
au 0 verify "$T/bad.jpx"
au 1 verify "$T/bad.jpx" --store-export "$T/s1.jpx"
has "$T/out" "$what"
has "$T/out" "dropped"

check "store key files: the untouched export verifies pinned; unpinned, the verdict says so"
st 1 0 keys --attest "$T/k1.keys"
st 2 0 keys --attest "$T/k2.keys"
has "$T/out" "wrote store 2's key file"
st 2 1 keys --attest "$T/k2.keys" # never overwrites
au 0 verify "$T/g.jpx"
has "$T/out" "VERIFIED, resting on keys as the export lists them, not pinned: the server's (--server-key) and the keys of 2 stores (--store-keys)"
au 0 verify "$T/g.jpx" --store-keys "$T/k1.keys" --store-keys "$T/k2.keys"
has "$T/out" "2 of 2 stores pinned"
has "$T/out" "not pinned: the server's (--server-key);"
au 0 verify "$T/g.jpx" --store-keys "$T/k1.keys" --store-keys "$T/k2.keys" --server-key "$RKEY"
grep -qx VERIFIED "$T/out" || fail "a pinned verify does not say VERIFIED alone"
au 0 verify "$T/g.jpx" --store-keys "$T/k1.keys" --store-export "$T/s2.jpx"
has "$T/out" "not pinned: the keys of 1 store (--store-keys);"
au 0 verify "$T/g.jpx" --store-keys "$T/k1.keys" --format json
[ "$(jget "$T/out" '["stores_unpinned"]')" = 1 ] || fail "json stores_unpinned"
[ "$(jget "$T/out" '["server_key_pinned"]')" = False ] || fail "json server_key_pinned"

check "a store key file altered is a fault named by the file"
sed 's/^made \([0-9]*\)$/made 1\1/' "$T/k1.keys" >"$T/k1bad.keys"
au 1 verify "$T/g.jpx" --store-keys "$T/k1bad.keys"
has "$T/out" "k1bad.keys: its signature does not verify"
au 3 verify "$T/g.jpx" --store-keys "$T/nonexistent.keys"

check "a dishonest server lists its own key for a store and re-signs: refused when pinned"
openssl genpkey -algorithm ed25519 -out "$T/evil2.pem" 2>/dev/null
for op in addkey replacekey; do
    what=$(python3 "$TAMPER" "$op" "$T/g.jpx" "$T/bad.jpx" 2 "$T/evil2.pem" "$T/srv/server.key")
    echo "   $op: $what"
    au 0 verify "$T/bad.jpx"
    has "$T/out" "not pinned"
    au 1 verify "$T/bad.jpx" --store-keys "$T/k1.keys" --store-keys "$T/k2.keys"
    key=$(echo "$what" | awk '{ print $4 }')
    nb=$(echo "$what" | awk '{ print $6 }')
    has "$T/out" "the export lists key $key... for store 2, which store 2's key file"
    has "$T/out" "FAILED: $((nb + 1)) faults"
done

check "the server's own key listed as a store's is refused, pinned or not"
what=$(python3 "$TAMPER" serverkey "$T/g.jpx" "$T/bad.jpx" 2 "$T/srv/server.key")
nb=$(echo "$what" | awk '{ print $6 }')
au 1 verify "$T/bad.jpx"
has "$T/out" "the server's own key"
has "$T/out" "FAILED: $((nb + 1)) faults"

kill -TERM "$SPID"
wait "$SPID" || true
SPID=""
echo "audit_e2e: all checks passed"
