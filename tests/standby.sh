#!/usr/bin/env bash
# standby.sh -- a standby server follows the primary's group log over the
# CURVE protocol, answers analysts read-only, and takes over when the
# primary's machine is lost (server/standby.h).  Real processes on
# 127.0.0.1: a primary, a standby, three stores, an analyst.
#
#  1. The standby (the group's keys copied, its own standby.key enrolled
#     at the primary with --role standby) follows while three stores push
#     at once: it reaches the primary's group log and digest; `status`
#     says standby and the lag; an analyst's report from the standby
#     equals the primary's; a store's push to the standby is refused.
#  2. The primary is killed (-9) while the stores push and the standby is
#     frozen: every receipt a store holds is at the standby (a synchronous
#     standby; with sync_standby off this fails); `promote` on the
#     standby; the stores, configured with both endpoints, move to it by
#     themselves (their server key is the group's): they push what it
#     lacks, and every store's log, the links and the digests agree; it
#     links new walk-ins as the primary did.
#
# Environment (set by ctest): JP_BIN = build dir, JP_SRC = source dir.
set -euo pipefail
source "$(dirname "$0")/lib/group.bash"

check setup
jp_group standby 24000
# A synchronous standby: a RECEIPT waits until the standby holds the batch.
jp_conf sync_standby=on sync_wait_ms=3000
printf '[sharing]\nrule = group\n' >>"$T/server.conf"
SBPORT=$((PORT + 1))
SBPID=
cat >"$T/sb.conf" <<EOC
[server]
endpoint = tcp://127.0.0.1:$SBPORT
data = $T/sb
group = 测试集团
timezone = Asia/Shanghai
[sharing]
rule = group
[standby]
primary = tcp://127.0.0.1:$PORT
primary_key = $KEY
EOC
SB() { "$B/server/jipan-server" -c "$T/sb.conf" "$@"; }
sb_start() {
    "$B/server/jipan-server" -c "$T/sb.conf" run >"$T/sb.out" 2>>"$T/sb.err" &
    SBPID=$!
    for _ in $(seq 50); do grep -q listening "$T/sb.out" 2>/dev/null && return; sleep 0.1; done
    fail "the standby did not start"
}
trap 'jp_server_stop; [ -n "$SBPID" ] && kill "$SBPID" 2>/dev/null; pkill -f "jipan-store -d $T/" 2>/dev/null || true; rm -rf "$T"' EXIT
SB init >/dev/null
cp "$T/srv/server.key" "$T/srv/curve.key" "$T/sb/" # the group's keys
SV enroll --role standby --curve "$(SB keys | awk '/^standby/ {print $2}')" >/dev/null
"$B/tools/jipan-gen" --out "$T/gen" --stores 3 --customers 600 --seed 41 >/dev/null
jp_gen_stores "$T/gen"
# Keys are not in the group log: the operator enrols each at both.
Q() { "$B/client/jipan-query" --key "$T/group.key" --server-key "$KEY" "$@"; }
"$B/client/jipan-query" keygen "$T/group.key" >"$T/group.pub"
for srv in SV SB; do
    $srv enroll --role group --curve "$(cat "$T/group.pub")" >/dev/null
    i=0
    while IFS=, read -r store code name region; do
        [ "$store" = store ] && continue
        i=$((i + 1))
        [ "$srv" = SB ] && SB enroll --store "$store" --code "$code" --name "$name" \
            --region "$region" --curve "$(S "st$i" keys | awk '/^curve/ {print $2}')" \
            --sign "$(S "st$i" keys | awk '/^sign/ {print $2}')" >/dev/null
    done <"$T/gen/stores.csv"
done
jp_server_start
sb_start

sb_len() { SB status | awk '/^group log/ {print $3}'; }
caught_up() { # caught_up: wait until the standby holds the primary's log
    local want
    want=$(SV status | awk '/^group log/ {print $3}')
    for _ in $(seq 100); do [ "$(sb_len)" = "$want" ] && return 0; sleep 0.1; done
    fail "the standby holds $(sb_len) of the primary's $want changes"
}

check "the standby follows three stores pushing at once"
pids=()
for i in 1 2 3; do
    # Both endpoints, the primary's first: a store moves over by itself.
    S "st$i" sync -q --server "tcp://127.0.0.1:$PORT,tcp://127.0.0.1:$SBPORT" \
        --server-key "$KEY" &
    pids+=($!)
done
wait "${pids[@]}"
for i in 1 2 3; do S "st$i" sync -q; done # the links
caught_up
[ "$(SB status --digest | awk '/^digest/ {print $2}')" = "$(server_digest)" ] ||
    fail "the standby's digest is not the primary's"
SB status >"$T/out"
grep -q "^role  *standby of tcp://127.0.0.1:$PORT.*(lag 0)" "$T/out" ||
    { cat "$T/out" >&2; fail "status does not say standby, lag 0"; }
Q --server "tcp://127.0.0.1:$PORT" report --scope group --as-of 2026-06-30 --format json >"$T/p.json"
Q --server "tcp://127.0.0.1:$SBPORT" report --scope group --as-of 2026-06-30 --format json >"$T/s.json" ||
    fail "the standby does not answer the analyst"
cmp -s "$T/p.json" "$T/s.json" || fail "the standby's group report differs from the primary's"
cp -a "$T/st1" "$T/st1-copy"
S st1-copy add customer --name 错投 --phone 13900000001 >/dev/null
if S st1-copy sync --server "tcp://127.0.0.1:$SBPORT" >"$T/out" 2>&1; then # the standby alone
    fail "the standby took a store's push"
fi
grep -q "standby (read-only)" "$T/out" || { cat "$T/out" >&2; fail "the refusal does not say why"; }
rm -rf "$T/st1-copy"

check "the standby down: receipts go without it after sync_wait_ms, and wait again once it is back"
kill "$SBPID"
wait "$SBPID" 2>/dev/null || true
S st1 add customer --name 备用停机 --phone 13900000002 >/dev/null
t0=$(date +%s%N)
S st1 sync -q || fail "no receipt with the standby down"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$ms" -lt 8000 ] || fail "the receipt waited $ms ms for a standby that is down"
grep -q "synchronous standby: no acknowledgement in 3000 ms" "$T/server.err" ||
    fail "the primary did not say it stopped waiting for the standby"
sb_start
caught_up
for _ in $(seq 30); do grep -q "synchronous standby: caught up" "$T/server.err" && break; sleep 0.1; done
grep -q "synchronous standby: caught up" "$T/server.err" || fail "the primary does not wait for the standby again"

check "the primary is lost while the stores push; the standby is promoted"
"$B/tools/jipan-gen" --out "$T/gen2" --stores 3 --customers 300 --seed 42 >/dev/null
i=1
while IFS=, read -r store code _ _; do # store i's files at the next store: other ext ids
    [ "$store" = store ] && continue
    i=$((i % 3 + 1))
    S "st$i" import --customers "$T/gen2/$code/customers.csv" --vehicles "$T/gen2/$code/vehicles.csv" \
        --events "$T/gen2/$code/events.csv" >"$T/out" 2>&1 || { tail -3 "$T/out" >&2; fail "st$i: second import"; }
done <"$T/gen2/stores.csv"
# The standby frozen meanwhile (SIGSTOP): what the primary merges is not
# at the standby, so no store may hold a receipt for it (within
# sync_wait_ms; with sync_standby off this check fails).
kill -STOP "$SBPID"
pids=()
for i in 1 2 3; do S "st$i" sync -q >/dev/null 2>&1 & pids+=($!); done
sleep 0.5
for i in 1 2 3; do # no acknowledged change the standby lacks
    acked=$(S "st$i" status | awk '/^acked/ && $2 == "seq" {print $3}')
    num=$(S "st$i" status | awk '/^store/ {print $2; exit}')
    held=$(SB stores | awk -v s="$num" '$1 == "store" && $2 == s {print $6}')
    [ "${held:-0}" -ge "${acked:-0}" ] ||
        fail "st$i holds a receipt for seq $acked, the standby only seq $held"
    echo "    st$i: receipted seq ${acked:-0}, held by the standby ${held:-0}"
done
kill -9 "$SPID"
wait "$SPID" 2>/dev/null || true
SPID=
kill -CONT "$SBPID"
for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
SB promote >/dev/null || fail "promote failed"
for _ in $(seq 20); do grep -q "promoted:" "$T/sb.err" && break; sleep 0.1; done
grep -q "promoted:" "$T/sb.err" || fail "the running standby did not take the promotion"
SB status | grep -q "^role  *primary (promoted standby)" || fail "status does not say promoted"
# No operator action at the stores: their next syncs find the new primary
# (the first waits 5 s for the lost one's WELCOME; later ones go straight).
pids=()
for i in 1 2 3; do S "st$i" sync >"$T/st$i.out" 2>&1 & pids+=($!); done
for i in 1 2 3; do
    wait "${pids[$((i - 1))]}" || { cat "$T/st$i.out" >&2; fail "st$i does not sync with the promoted standby"; }
    grep -q "tcp://127.0.0.1:$PORT does not serve this store now: trying tcp://127.0.0.1:$SBPORT" "$T/st$i.out" ||
        { cat "$T/st$i.out" >&2; fail "st$i did not say it moved over"; }
done
for i in 1 2 3; do
    t0=$(date +%s%N)
    S "st$i" sync -q || fail "st$i: the round after moving"
    [ $(( ($(date +%s%N) - t0) / 1000000 )) -lt 4000 ] || fail "st$i tried the lost primary again"
done
grep -q "recovered:" "$T/sb.err" || fail "the new primary did not take the old one's links back"
for i in 1 2 3; do
    [ "$(SB stores | awk -v s="$(S "st$i" status | awk '/^store/ {print $2; exit}')" '$1 == "store" && $2 == s {print $6}')" = "$(seq_of "st$i")" ] ||
        fail "the new primary does not hold st$i's whole log"
done
d=$(SB status --digest | awk '/^digest/ {print $2}')
for i in 1 2 3; do
    [ "$(S "st$i" digest)" = "$d" ] || fail "st$i differs from the new primary"
    S "st$i" verify >/dev/null || fail "st$i does not verify"
done

check "the new primary links as the old one did"
links() { SB status | awk '/^records/ {print $(NF - 1)}'; }
before=$(links)
code1=$(awk -F, 'NR == 2 {print $2}' "$T/gen/stores.csv")
S st2 add customer --name 到店 --phone "$(awk -F, 'NR == 2 {print $3}' "$T/gen/$code1/customers.csv")" >/dev/null
for i in 2 1 2 3; do S "st$i" sync -q || fail "st$i after the failover"; done
[ "$(links)" -eq $((before + 1)) ] || fail "the walk-in was not linked by the new primary"
d=$(SB status --digest | awk '/^digest/ {print $2}')
for i in 1 2 3; do [ "$(S "st$i" digest)" = "$d" ] || fail "st$i differs after the new link"; done
echo "standby: ok"
