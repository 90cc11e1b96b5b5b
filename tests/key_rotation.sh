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
#
# Environment (set by ctest): JP_BIN = build dir, JP_SRC = source dir.
set -euo pipefail

B="${JP_BIN:?JP_BIN not set}"
T=$(mktemp -d /tmp/jp-rotate.XXXXXX)
PORT=$((20000 + $$ % 1000))
SPID=
stop_server() { if [ -n "$SPID" ]; then kill "$SPID" 2>/dev/null || true; wait "$SPID" 2>/dev/null || true; fi; SPID=; }
trap 'stop_server; rm -rf "$T"' EXIT
CHECK=start
fail() { echo "FAIL [$CHECK]: $*" >&2; [ -f "$T/server.err" ] && tail -5 "$T/server.err" >&2; exit 1; }
check() { CHECK="$1"; }
S() { "$B/client/jipan-store" -d "$T/st" "$@"; }
SV() { "$B/server/jipan-server" -c "$T/server.conf" "$@"; }
conf() {
    cat >"$T/server.conf" <<EOF
[server]
endpoint = tcp://127.0.0.1:$PORT
data = $T/srv
group = 测试集团
timezone = Asia/Shanghai
overlap_days = $1
EOF
}
start_server() {
    "$B/server/jipan-server" -c "$T/server.conf" run >"$T/server.out" 2>>"$T/server.err" &
    SPID=$!
    for _ in $(seq 50); do grep -q listening "$T/server.out" 2>/dev/null && return; sleep 0.1; done
    fail "server did not start"
}
enrol_line() { grep -o 'jipan-server enroll .*' | sed 's/^jipan-server //'; }
add_customer() { S add customer --name "$1" --phone "$2" >/dev/null; }
server_seq() { SV stores | awk '$1 == "store" && $2 == 1 {print $6}'; }

check setup
conf 1
SV init >/dev/null
KEY=$(SV keys | awk '/^curve/ {print $2}')
S init --store 1 --code HZ01 --name 一店 --region 惠州 --group 测试集团 >/dev/null 2>&1
# shellcheck disable=SC2046
SV $(S keys | enrol_line) >/dev/null
start_server
add_customer 甲 13800000001
S sync -q --server "tcp://127.0.0.1:$PORT" --server-key "$KEY"

check "next keys enrolled with --rotate: both work in the window"
S keys --next >"$T/next.txt"
grep -q -- '--rotate' "$T/next.txt" || fail "keys --next does not print an enrol line with --rotate"
[ "$(stat -c %a "$T/st/curve.key.next")" = 600 ] || fail "next Curve key is not mode 600"
# shellcheck disable=SC2046
SV $(enrol_line <"$T/next.txt") >"$T/enrol.txt"
grep -q "old key(s) expire in 1 day" "$T/enrol.txt" || fail "no overlap window announced"
SV stores >"$T/stores.txt"
[ "$(grep -c 'store:1  *live until' "$T/stores.txt")" -eq 1 ] || fail "the old key has no expiry"
[ "$(grep -c 'store:1  *live$' "$T/stores.txt")" -eq 1 ] || fail "the new key is not live"
add_customer 乙 13800000002
S sync -q || fail "the old key stopped working inside the window"
S keys --switch >/dev/null
ls "$T"/st/store.key.old-* >/dev/null || fail "the old signing key was not kept"
add_customer 丙 13800000003
S sync -q || fail "the new keys do not sync"
[ "$(server_seq)" -eq 3 ] || fail "server holds seq $(server_seq), wanted 3"
[ "$(S digest)" = "$(SV status --digest | awk '/^digest/ {print $2}')" ] || fail "digests differ"

check "a zero-day window: the old key is refused at once"
cp -a "$T/st" "$T/st-old"   # a copy still holding the (now previous) keys
S keys --next >"$T/next2.txt"
stop_server
conf 0
# shellcheck disable=SC2046
SV $(enrol_line <"$T/next2.txt") >/dev/null
start_server
S keys --switch >/dev/null
S sync -q || fail "the newest keys do not sync"
add_customer 丁 13800000004
S sync -q
before=$(server_seq)
"$B/client/jipan-store" -d "$T/st-old" add customer --name 戊 --phone 13800000005 >/dev/null
rc=0
start=$(date +%s%N)
"$B/client/jipan-store" -d "$T/st-old" sync >"$T/out" 2>"$T/err" || rc=$?
took=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$rc" -eq 1 ] || fail "sync with an expired key exited $rc, wanted 1"
grep -q "refused this key at the handshake" "$T/err" || { cat "$T/err" >&2; fail "no clear refusal"; }
[ "$took" -lt 5000 ] || fail "the refusal took $took ms (a timeout, not a refusal)"
[ "$(server_seq)" -eq "$before" ] || fail "something was written with an expired key"
grep -q "refused a connection from key .*: expired" "$T/server.err" || fail "the server did not log the expired key"

check "an unenrolled store is refused the same way"
"$B/client/jipan-store" -d "$T/st2" init --store 2 --code SZ01 --name 二店 --region 深圳 --group 测试集团 >/dev/null 2>&1
rc=0
"$B/client/jipan-store" -d "$T/st2" sync --server "tcp://127.0.0.1:$PORT" --server-key "$KEY" >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" -eq 1 ] || fail "an unenrolled store's sync exited $rc"
grep -q "refused this key at the handshake" "$T/err" || fail "no clear refusal for an unenrolled key"
grep -q "not enrolled" "$T/server.err" || fail "the server did not log the unenrolled key"
echo "key_rotation: ok"
