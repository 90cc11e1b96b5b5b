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
#  3. The old primary comes back while the new one cannot answer it: it
#     starts as the primary it was, and the stores refuse it by its lower
#     term; once it reaches the new one it fences itself (stores refused,
#     analysts served).  `rejoin` makes it the new primary's standby: it
#     follows from the start and reaches the same digest.
#  4. Twice more, the other way round each time: the primary is killed
#     (-9) at a random moment while the stores push and an analyst asks
#     with both endpoints; every receipt a store holds is at the standby;
#     the standby is promoted; the stores move by themselves; the
#     analyst's every question is answered; the killed one comes back
#     fenced and rejoins.
#
# Environment (set by ctest): JP_BIN = build dir, JP_SRC = source dir.
set -euo pipefail
source "$(dirname "$0")/lib/group.bash"

check setup
jp_group standby 24000
# A synchronous standby: a RECEIPT waits until the standby holds the batch.
jp_conf sync_standby=on sync_wait_ms=3000
SBPORT=$((PORT + 1))
SBPID=
# Each knows the other: the primary its standby (peer: the fence), the
# standby its primary.
printf '[sharing]\nrule = group\n[standby]\npeer = tcp://127.0.0.1:%s\n' "$SBPORT" \
    >>"$T/server.conf"
cat >"$T/sb.conf" <<EOC
[server]
endpoint = tcp://127.0.0.1:$SBPORT
data = $T/sb
group = 测试集团
timezone = Asia/Shanghai
sync_standby = on
sync_wait_ms = 3000
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
declare -A PIDS
QPID=
trap '[ -n "$QPID" ] && kill "$QPID" 2>/dev/null; jp_server_stop; [ -n "$SBPID" ] && kill -CONT "$SBPID" 2>/dev/null && kill "$SBPID" 2>/dev/null
      for p in "${PIDS[@]}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
      pkill -f "jipan-store -d $T/" 2>/dev/null || true; rm -rf "$T"' EXIT
SB init >/dev/null
cp "$T/srv/server.key" "$T/srv/curve.key" "$T/sb/" # the group's keys
SV enroll --role standby --curve "$(SB keys | awk '/^standby/ {print $2}')" >/dev/null
SB enroll --role standby --curve "$(SV keys | awk '/^standby/ {print $2}')" >/dev/null
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
# and the primary's status says where its standby is
for _ in $(seq 30); do SV status | grep -q "^standby  *holds the group log to $(sb_len) .*(lag 0); receipts wait for it" && break; sleep 0.1; done
SV status >"$T/out"
grep -q "^standby  *holds the group log to $(sb_len) .*(lag 0); receipts wait for it" "$T/out" ||
    { cat "$T/out" >&2; fail "the primary's status does not say where its standby is"; }
Q --server "tcp://127.0.0.1:$PORT" report --scope group --as-of 2026-06-30 --format json >"$T/p.json"
Q --server "tcp://127.0.0.1:$SBPORT" report --scope group --as-of 2026-06-30 --format json >"$T/s.json" ||
    fail "the standby does not answer the analyst"
cmp -s "$T/p.json" "$T/s.json" || fail "the standby's group report differs from the primary's"
# The primary looks at its standby's term every 5 s on one session: the
# standby's log gets a line when it opens (perhaps in these 11 s), not
# two a look.
n0=$(grep -c "standby: session" "$T/sb.err" || true)
sleep 11
[ "$(grep -c "standby: session" "$T/sb.err" || true)" -le $((n0 + 1)) ] ||
    { grep "standby: session" "$T/sb.err" >&2; fail "the primary's looks at its standby write lines in the standby's log"; }
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
SV status | grep -q "^standby  *not connected since" || { SV status >&2; fail "the primary's status does not say its standby is gone"; }
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
# From here on the two servers by name: a (the first primary), b.
declare -A CONF=([a]="$T/server.conf" [b]="$T/sb.conf") LOG=([a]="$T/server.err" [b]="$T/sb.err")
declare -A EP=([a]="tcp://127.0.0.1:$PORT" [b]="tcp://127.0.0.1:$SBPORT")
PIDS[b]=$SBPID
SBPID=
X() { "$B/server/jipan-server" -c "${CONF[$1]}" "${@:2}"; }
x_start() {
    : >"$T/$1.out"
    "$B/server/jipan-server" -c "${CONF[$1]}" run >"$T/$1.out" 2>>"${LOG[$1]}" &
    PIDS[$1]=$!
    for _ in $(seq 80); do grep -q listening "$T/$1.out" 2>/dev/null && return; sleep 0.1; done
    fail "server $1 did not start"
}
x_stop() {
    kill "${PIDS[$1]}" 2>/dev/null || true
    wait "${PIDS[$1]}" 2>/dev/null || true
    PIDS[$1]=
}
x_len() { X "$1" status | awk '/^group log/ {print $3}'; }
x_digest() { X "$1" status --digest | awk '/^digest/ {print $2}'; }
x_held() { X "$1" stores | awk -v s="$2" '$1 == "store" && $2 == s {print $6}'; }
store_num() { S "$1" status | awk '/^store/ {print $2; exit}'; }
# x_wait_log NAME PATTERN BEFORE: until NAME's log has more than BEFORE such lines.
x_wait_log() {
    for _ in $(seq 150); do [ "$(grep -c "$2" "${LOG[$1]}")" -gt "$3" ] && return 0; sleep 0.1; done
    fail "server $1 never logged '$2'"
}
# x_follows STANDBY PRIMARY: the standby holds the primary's whole log.
x_follows() {
    local want
    want=$(x_len "$2")
    for _ in $(seq 150); do [ "$(x_len "$1")" = "$want" ] && break; sleep 0.1; done
    [ "$(x_len "$1")" = "$want" ] || fail "$1 holds $(x_len "$1") of $2's $want changes"
    [ "$(x_digest "$1")" = "$(x_digest "$2")" ] || fail "$1's digest is not $2's"
}
# refused NAME: a store's change pushed to NAME alone is refused, and why.
refused() {
    rm -rf "$T/st1-copy"
    cp -a "$T/st1" "$T/st1-copy"
    S st1-copy add customer --name 错投 --phone 13900000003 >/dev/null
    if S st1-copy sync --server "${EP[$1]}" >"$T/out" 2>&1; then fail "$1 took a store's push"; fi
    grep -q "$2" "$T/out" || { cat "$T/out" >&2; fail "$1's refusal does not say '$2'"; }
    rm -rf "$T/st1-copy"
}

check "the old primary comes back: the stores refuse it by its term; it fences itself"
# The new primary frozen: the old one's first look at it goes unanswered,
# so it starts as the primary it was (term 1).
kill -STOP "${PIDS[b]}"
x_start a
grep -q "partner ${EP[b]} not reached: .*serving as the group's primary (term 1)" "${LOG[a]}" ||
    fail "the old primary did not say it could not reach its partner"
refused a "a superseded primary (its term 1; this store has synced with term 2)"
kill -CONT "${PIDS[b]}"
# Within 5 s it looks again, and fences itself for good.
x_wait_log a "fenced: the partner ${EP[b]} is the group's primary (term 2" 0
X a status | grep -q "^role  *fenced: a superseded primary (term 1); ${EP[b]} has term 2" ||
    { X a status >&2; fail "status does not say fenced"; }
refused a "this server is a superseded primary (read-only)"
Q --server "${EP[a]}" report --scope group --as-of 2026-06-30 --format json >/dev/null ||
    fail "the fenced server does not answer the analyst"
x_stop a
x_start a # fenced across a restart, without asking
refused a "superseded primary (read-only)"

check "the old primary rejoins as the new one's standby"
x_stop a
X a rejoin >"$T/out" || { cat "$T/out" >&2; fail "rejoin failed"; }
ls "$T/srv"/superseded-*.mdb >/dev/null || fail "the old base was not kept aside"
if X a rejoin >"$T/out" 2>&1; then fail "a standby (not fenced) rejoined"; fi
grep -q "this server is not fenced" "$T/out" || fail "the refusal of rejoin does not say why"
if X b rejoin >"$T/out" 2>&1; then fail "a running primary rejoined"; fi
grep -q "stop it first" "$T/out" || fail "the refusal of rejoin while running does not say why"
x_start a
x_follows a b
X a status | grep -q "^role  *standby of ${EP[b]}:.*(lag 0), term 2" ||
    { X a status >&2; fail "status does not say standby of the new primary"; }
X a stores | grep -q "^store" || fail "the rejoined base lost the enrolled stores"

# cycle OLD NEW SEED: OLD (the primary, NEW its standby) lost at a random
# moment while the stores push and an analyst asks; NEW promoted.
cycle() {
    local old=$1 new=$2 i
    check "$old lost at a random moment while the stores push and an analyst asks; $new promoted"
    "$B/tools/jipan-gen" --out "$T/gen$3" --stores 3 --customers 150 --seed "$3" >/dev/null
    i=0
    while IFS=, read -r store code _ _; do # each store's own, its ids made new
        [ "$store" = store ] && continue
        i=$((i + 1))
        local d="$T/gen$3/$code" f
        for f in customers vehicles events; do
            sed -i -E "s/\b([CEV])$code-/\1${code}x$3-/g" "$d/$f.csv"
        done
        S "st$i" import --customers "$d/customers.csv" --vehicles "$d/vehicles.csv" \
            --events "$d/events.csv" >"$T/out" 2>&1 ||
            { tail -3 "$T/out" >&2; fail "st$i: import of seed $3"; }
    done <"$T/gen$3/stores.csv"
    : >"$T/q.fail"
    rm -f "$T/q.stop"
    ( # the analyst, configured with both, the first primary's first
        for _ in $(seq 200); do
            [ -e "$T/q.stop" ] && break
            Q --server "${EP[a]},${EP[b]}" report --scope group --format json >/dev/null \
                2>>"$T/q.err" || echo x >>"$T/q.fail"
        done
    ) &
    QPID=$!
    local pids=() promoted fenced
    for i in 1 2 3; do S "st$i" sync -q >/dev/null 2>&1 & pids+=($!); done
    sleep "0.$((RANDOM % 9 + 1))"
    kill -9 "${PIDS[$old]}"
    wait "${PIDS[$old]}" 2>/dev/null || true
    PIDS[$old]=
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    for i in 1 2 3; do # every receipt a store holds is at the standby
        local acked held
        acked=$(S "st$i" status | awk '/^acked/ && $2 == "seq" {print $3}')
        held=$(x_held "$new" "$(store_num "st$i")")
        [ "${held:-0}" -ge "${acked:-0}" ] ||
            fail "st$i holds a receipt for seq $acked, $new only seq $held"
        echo "    st$i: receipted seq ${acked:-0}, held by $new ${held:-0}"
    done
    promoted=$(grep -c "promoted:" "${LOG[$new]}" || true)
    X "$new" promote >/dev/null || fail "promote $new failed"
    x_wait_log "$new" "promoted:" "$promoted"
    for i in 1 2 3 1 2 3; do
        S "st$i" sync >"$T/out" 2>&1 || { cat "$T/out" >&2; fail "st$i does not sync with $new"; }
    done
    for i in 1 2 3; do
        [ "$(x_held "$new" "$(store_num "st$i")")" = "$(seq_of "st$i")" ] ||
            fail "$new does not hold st$i's whole log"
        [ "$(S "st$i" digest)" = "$(x_digest "$new")" ] || fail "st$i differs from $new"
    done
    touch "$T/q.stop"
    wait "$QPID"
    QPID=
    [ ! -s "$T/q.fail" ] || { tail -3 "$T/q.err" >&2; fail "$(wc -l <"$T/q.fail") of the analyst's questions failed"; }
    fenced=$(grep -c "fenced: the partner ${EP[$new]}" "${LOG[$old]}" || true)
    x_start "$old"
    x_wait_log "$old" "fenced: the partner ${EP[$new]}" "$fenced"
    refused "$old" "superseded primary (read-only)"
    x_stop "$old"
    X "$old" rejoin >/dev/null || fail "$old: rejoin failed"
    x_start "$old"
    x_follows "$old" "$new"
}
cycle b a 51
cycle a b 52

check "the auditors' export of either server verifies, after three failovers"
# b's base was followed from a, then merged by b; a's was followed from b
# from the start: both hold every batch signature and receipt (SIGNED).
RKEY=$(X b keys | awk '$1 == "receipt" { print $2 }')
for n in b a; do
    X "$n" export -o "$T/$n.jpx" >/dev/null || fail "export at $n"
    "$B/audit/jipan-audit" verify "$T/$n.jpx" --server-key "$RKEY" >"$T/out" 2>&1 ||
        { head -5 "$T/out" >&2; fail "the export of $n does not verify"; }
    grep -q "^VERIFIED" "$T/out" || { head -5 "$T/out" >&2; fail "$n: not VERIFIED"; }
    "$B/audit/jipan-audit" replay "$T/$n.jpx" --at-pos "$(x_len b)" >"$T/out" 2>&1 ||
        { tail -3 "$T/out" >&2; fail "replay of $n"; }
    grep -q "digest $(x_digest b)" "$T/out" || { tail -3 "$T/out" >&2; fail "the replay of $n is not the digest"; }
done
echo "standby: ok"
