#!/usr/bin/env bash
# key_rotation.sh -- a store's keys replaced with an overlap window, and a
# refused key told so at once: real server and store on 127.0.0.1.
#
#  1. keys --next, enrolled with --rotate: both keys work during the window
#     (the old one with an expiry the server lists), the store switches and
#     syncs on with the new keys; batches signed by either verify.
#  2. With a zero-day window the old key stops at once: a store still on it
#     is refused at the handshake, quickly and clearly, writing nothing.
#  3. An unenrolled store is refused the same way.
#  4. After the two rotations, the store's key file (keys --attest) holds
#     its three signing keys, and the group export verifies with it pinned.
#  5. The server's own keys are refused as a store's (an auditor would
#     refuse the export they signed).
#
# Environment (set by ctest): JP_BIN = build dir, JP_SRC = source dir.
set -euo pipefail
source "$(dirname "$0")/lib/group.bash"

enrol_line() { grep -o 'jipan-server enroll .*' | sed 's/^jipan-server //'; }
add_customer() { S st add customer --name "$1" --phone "$2" >/dev/null; }

check setup
jp_group rotate 20000
jp_conf overlap_days=1
S st init --store 1 --code HZ01 --name 一店 --region 惠州 --group 测试集团 >/dev/null 2>&1
# shellcheck disable=SC2046
SV $(S st keys | enrol_line) >/dev/null
jp_server_start
add_customer 甲 13800000001
jp_first_sync st

check "next keys enrolled with --rotate: both work in the window"
S st keys --next >"$T/next.txt"
grep -q -- '--rotate' "$T/next.txt" || fail "keys --next does not print an enrol line with --rotate"
[ "$(stat -c %a "$T/st/curve.key.next")" = 600 ] || fail "next Curve key is not mode 600"
# shellcheck disable=SC2046
SV $(enrol_line <"$T/next.txt") >"$T/enrol.txt"
grep -q "old key(s) expire in 1 day" "$T/enrol.txt" || fail "no overlap window announced"
SV stores >"$T/stores.txt"
[ "$(grep -c 'store:1  *live until' "$T/stores.txt")" -eq 1 ] || fail "the old key has no expiry"
[ "$(grep -c 'store:1  *live$' "$T/stores.txt")" -eq 1 ] || fail "the new key is not live"
add_customer 乙 13800000002
S st sync -q || fail "the old key stopped working inside the window"
S st keys --switch >/dev/null
ls "$T"/st/store.key.old-* >/dev/null || fail "the old signing key was not kept"
add_customer 丙 13800000003
S st sync -q || fail "the new keys do not sync"
[ "$(server_seq 1)" -eq 3 ] || fail "server holds seq $(server_seq 1), wanted 3"
[ "$(S st digest)" = "$(server_digest)" ] || fail "digests differ"

check "a zero-day window: the old key is refused at once"
cp -a "$T/st" "$T/st-old"   # a copy still holding the (now previous) keys
S st keys --next >"$T/next2.txt"
jp_server_stop
jp_conf overlap_days=0
# shellcheck disable=SC2046
SV $(enrol_line <"$T/next2.txt") >/dev/null
jp_server_start
S st keys --switch >/dev/null
S st sync -q || fail "the newest keys do not sync"
add_customer 丁 13800000004
S st sync -q
before=$(server_seq 1)
"$B/client/jipan-store" -d "$T/st-old" add customer --name 戊 --phone 13800000005 >/dev/null
rc=0
start=$(date +%s%N)
"$B/client/jipan-store" -d "$T/st-old" sync >"$T/out" 2>"$T/err" || rc=$?
took=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$rc" -eq 1 ] || fail "sync with an expired key exited $rc, wanted 1"
grep -q "refused this key at the handshake" "$T/err" || { cat "$T/err" >&2; fail "no clear refusal"; }
[ "$took" -lt 5000 ] || fail "the refusal took $took ms (a timeout, not a refusal)"
[ "$(server_seq 1)" -eq "$before" ] || fail "something was written with an expired key"
grep -q "refused a connection from key .*: expired" "$T/server.err" || fail "the server did not log the expired key"

check "an unenrolled store is refused the same way"
"$B/client/jipan-store" -d "$T/st2" init --store 2 --code SZ01 --name 二店 --region 深圳 --group 测试集团 >/dev/null 2>&1
rc=0
"$B/client/jipan-store" -d "$T/st2" sync --server "tcp://127.0.0.1:$PORT" --server-key "$KEY" >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" -eq 1 ] || fail "an unenrolled store's sync exited $rc"
grep -q "refused this key at the handshake" "$T/err" || fail "no clear refusal for an unenrolled key"
grep -q "not enrolled" "$T/server.err" || fail "the server did not log the unenrolled key"
check "after two rotations the store's key file holds its three keys and pins the export"
S st keys --attest "$T/st.keys" >"$T/attest.txt"
[ "$(grep -c '^  key ' "$T/attest.txt")" -eq 3 ] || { cat "$T/attest.txt" >&2; fail "the key file does not hold the current and both old keys"; }
SV export -o "$T/g.jpx" >/dev/null
rc=0
RKEY=$(SV keys | awk '$1 == "receipt" { print $2 }')
"$B/audit/jipan-audit" verify "$T/g.jpx" --store-keys "$T/st.keys" --server-key "$RKEY" >"$T/out" 2>&1 || rc=$?
[ "$rc" -eq 0 ] && grep -qx VERIFIED "$T/out" || { cat "$T/out" >&2; fail "the export does not verify with store 1's keys pinned"; }

check "the server's own keys are not enrolled as a store's"
CKEY=$(SV keys | awk '$1 == "curve" { print $2 }')
S st2 keys --next >"$T/next3.txt"
sign2=$(grep -o -- '--sign [0-9a-f]*' "$T/next3.txt" | awk '{ print $2 }')
curve2=$(grep -o -- '--curve [^ ]*' "$T/next3.txt" | awk '{ print $2 }')
for bad in "--curve $curve2 --sign $RKEY" "--curve $CKEY --sign $sign2"; do
    rc=0
    # shellcheck disable=SC2086
    SV enroll --store 2 --code SZ01 --name 二店 --region 深圳 $bad >"$T/out" 2>&1 || rc=$?
    [ "$rc" -ne 0 ] && grep -q "the server's own" "$T/out" || { cat "$T/out" >&2; fail "enroll took the server's key ($bad)"; }
done
SV stores | grep -q 'store:2' && fail "a store 2 key was enrolled"
echo "key_rotation: ok"
