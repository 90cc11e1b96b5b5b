#!/usr/bin/env bash
# sync_faults.sh -- issue 3, sync under faults, with the real programs on
# 127.0.0.1: one jipan-server and four jipan-store directories.
#
#  (a) the server killed (SIGKILL) in the middle of a store's push of a big
#      backlog (jipan-gen, ~34,000 changes); restarted, one more sync: the
#      server holds every change of the store once, the group log is every
#      store's changes plus the server's links, the digests agree;
#  (b) a store killed (SIGKILL) in the middle of its pull of the group log;
#      its next sync pulls exactly the rest: nothing lost, nothing applied
#      twice (counts, digest, verify);
#  (c) the server killed (SIGKILL) while a store's daemon (`run --interval
#      1`) pushes; the daemon reconnects by itself and converges within a
#      bounded wait; then the server stopped (SIGSTOP) for longer than the
#      daemon's silence timeout, and continued: converges again;
#  (d) a store that synced once and then worked offline for a month, with
#      100,000+ changes of its own while the group moved on, catches up in
#      one `sync` (timed and printed).
#
# Every wait is bounded.  Environment (set by ctest): JP_BIN = build dir,
# JP_SRC = source dir.
set -euo pipefail

NAME=sync-faults
. "$JP_SRC/tests/lib/sync.bash"
G="$T"

# fail as lib/sync.bash's, also naming the defects found on the way.
DEFECTS=()
fail() {
    echo "FAIL [$CHECK]: $*" >&2
    for d in "${DEFECTS[@]}"; do echo "FAIL (earlier) $d" >&2; done
    exit 1
}
# A failed check after which the rest can still run: reported at the end.
defect() {
    echo "FAIL [$CHECK]: $* (continuing)" >&2
    DEFECTS+=("[$CHECK]: $*")
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

CONF="$T/srv.ini"
SPID=""
start_server() {
    : >"$T/srv.out"
    "$SRV" -c "$CONF" run >"$T/srv.out" 2>>"$T/srv.err" &
    SPID=$!
    PIDS+=("$SPID")
    local i
    for ((i = 0; i < 200; i++)); do
        grep -q "^listening on " "$T/srv.out" && return 0
        kill -0 "$SPID" 2>/dev/null || { tail -5 "$T/srv.err" >&2; fail "the server exited at start"; }
        sleep 0.1
    done
    fail "the server did not say 'listening on' within 20 s"
}
kill_server() {
    kill -KILL "$SPID"
    { wait "$SPID"; } 2>/dev/null || true
}
# wait_gone PID SECONDS: wait for PID to end; its exit status in $RC.
wait_gone() {
    local pid=$1 i
    for ((i = 0; i < $2 * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && fail "process $pid still running after $2 s"
    RC=0
    { wait "$pid"; } 2>/dev/null || RC=$?
}

srv_records() { awk '$1 == "records" { print $2, $4, $6, $8 }' "$T/out"; }
# customers, vehicles, events, links, as the server counts them.
st_records() {
    awk '$1 == "records" {
        for (i = 2; i <= NF; i += 2) { v = $(i + 1); sub(",", "", v); c[$i] = v }
        ev = 0
        for (k in c) if (k != "customer" && k != "vehicle" && k != "link") ev += c[k]
        print c["customer"], c["vehicle"], ev, c["link"]
    }' "$T/out"
}
# Store N's seq (its own changes).
seq_of() { st "$1" 0 status; st_seq; }
# Server's accepted seq of store N, from a status run while it may run.
srv_seq_of() { sv status; srv_seq "$1"; }
synced_field() { # pushed|pulled from the summary line in $1
    sed -nE "s/^synced: pushed ([0-9]+) \(server holds seq ([0-9]+)\), pulled ([0-9]+) \(cursor ([0-9]+)\)$/\1 \2 \3 \4/p" "$1"
}

# The group log must be every store's changes plus the server's own (its
# links) and each store's accepted seq its own seq; prints the length.
group_log_whole() {
    local sum=0 n s glog links
    sv status
    glog=$(srv_glog)
    links=$(srv_links)
    for n in 1 2 3 4; do
        s=$(srv_seq "$n")
        sum=$((sum + s))
    done
    [ "$glog" -eq $((sum + links)) ] ||
        { cat "$T/out" >&2; fail "group log $glog != stores' accepted changes $sum + links $links"; }
    echo "$glog"
}
# same_as_server N: store N's digest, changes and record counts are the
# server's, and its verify passes.
same_as_server() {
    local n=$1 d glog rec
    sv status --digest
    d=$(srv_digest)
    glog=$(srv_glog)
    rec=$(srv_records)
    st "$n" 0 digest
    [ "$(cat "$T/out")" = "$d" ] || return 1
    st "$n" 0 status
    [ "$(st_changes)" = "$glog" ] || fail "store $n holds $(st_changes) changes, the group log $glog"
    [ "$(st_records)" = "$rec" ] ||
        fail "store $n counts (customers vehicles events links) $(st_records), the server $rec"
    st "$n" 0 verify
    has "$T/out" "chain ok: store 1," # store 1 has changes from (a) on
    return 0
}

# ---- set-up ------------------------------------------------------------------------

PORT=$(free_port $((17000 + $$ % 1000)))
# Small batches, one in flight: a push of the backlog takes many commits,
# so that (a) can kill the server in the middle of one.
cat >"$CONF" <<EOF
[server]
endpoint = tcp://127.0.0.1:$PORT
data = $T/srv
group = 测试集团
timezone = Asia/Shanghai
max_batch = 65600
credit = 1
# Every store holds the whole group log: this test counts it at each
# store (share_sync.sh and view_digest.sh test the sharing rules).
[sharing]
rule = group
EOF
EP="tcp://127.0.0.1:$PORT"

check "generate the data"
ASOF=$(date -u -d '1 day ago' +%F)
ASOF_D=$(date -u -d '30 days ago' +%F)
"$GEN" --out "$T/gen" --stores 3 --customers 3500 --as-of "$ASOF" 2>"$T/err" >/dev/null ||
    { cat "$T/err" >&2; fail "jipan-gen failed"; }
"$GEN" --out "$T/gen4" --stores 1 --customers 11000 --seed 4 --as-of "$ASOF_D" 2>"$T/err" >/dev/null ||
    { cat "$T/err" >&2; fail "jipan-gen failed"; }
import() { # import N FOLDER
    st "$1" 0 import --customers "$2/customers.csv" --vehicles "$2/vehicles.csv" \
        --events "$2/events.csv"
    has "$T/out" "rejected 0"
    echo "   store $1: $(cat "$T/out")"
}

check "server and four stores"
sv init
sv keys
SKEY=$(awk '$1 == "curve" { print $2 }' "$T/out")
CODES=("" HZ01 SZ01 GZ01 HZ02)
REGIONS=("" 惠州 深圳 广州 惠州)
for n in 1 2 3 4; do
    st "$n" 0 init --store "$n" --code "${CODES[n]}" --name "店$n" --region "${REGIONS[n]}" \
        --group 测试集团
    st "$n" 0 keys
    sv enroll --store "$n" --code "${CODES[n]}" --name "店$n" --region "${REGIONS[n]}" \
        --curve "$(awk '$1 == "curve" { print $2 }' "$T/out")" \
        --sign "$(awk '$1 == "sign" { print $2 }' "$T/out")"
done
start_server
for n in 1 2 3 4; do
    st "$n" 0 sync --server "$EP" --server-key "$SKEY"
done
# Store 4 now goes offline for a month: it syncs again only in (d).

# ---- (a) the server killed mid-push -----------------------------------------------------

check "(a) store 1 imports a big backlog"
import 1 "$T/gen/HZ01"
SEQ1=$(seq_of 1)
[ "$SEQ1" -ge 20000 ] || fail "store 1 has only $SEQ1 changes"

check "(a) kill -9 the server while store 1 pushes"
mid=0
for attempt in 1 2 3; do
    "$STO" -d "$T/s1" sync >"$T/sync_a.out" 2>"$T/sync_a.err" &
    cpid=$!
    PIDS+=("$cpid")
    for ((i = 0; i < 300; i++)); do # until the server accepted part of it (30 s)
        mid=$(srv_seq_of 1)
        [ "$mid" -gt 0 ] && break
        sleep 0.05
    done
    kill_server
    sv status
    mid=$(srv_seq 1)
    start_server
    wait_gone "$cpid" 40 # ends: refused by the new server, or 15 s of silence
    echo "   attempt $attempt: server accepted $mid of $SEQ1 when killed; the sync exited $RC"
    if [ "$mid" -gt 0 ] && [ "$mid" -lt "$SEQ1" ]; then
        [ "$RC" -ne 0 ] || { cat "$T/sync_a.out" >&2; fail "the interrupted sync exited 0"; }
        echo "   the interrupted sync said: $(tail -1 "$T/sync_a.err")"
        break
    fi
    [ "$mid" -lt "$SEQ1" ] || { # it was over before the kill: more backlog
        # (the second store of a new set: its ext ids, SZ01-..., are new here)
        "$GEN" --out "$T/gen_a$attempt" --stores 2 --customers 3500 --seed $((100 + attempt)) \
            --as-of "$ASOF" >/dev/null 2>&1
        import 1 "$T/gen_a$attempt/SZ01"
        SEQ1=$(seq_of 1)
    }
done
[ "$mid" -gt 0 ] && [ "$mid" -lt "$SEQ1" ] || fail "could not kill the server mid-push in 3 attempts"

check "(a) after the crash the server's state is whole (log = accepted changes + links)"
group_log_whole >/dev/null

check "(a) one more sync: the server holds all of store 1, once"
t0=$(now)
st 1 0 sync
cp "$T/out" "$T/synced"
read -r pushed held pulled cursor <<<"$(synced_field "$T/synced")"
echo "   $(cat "$T/synced") in $(since "$t0") s"
[ "$held" = "$SEQ1" ] || fail "the server holds seq $held of store 1, which has $SEQ1"
[ "$pushed" -eq $((SEQ1 - mid)) ] || fail "pushed $pushed, wanted $SEQ1 - $mid"
[ "$(srv_seq_of 1)" = "$SEQ1" ] || fail "server status: store 1 at seq $(srv_seq_of 1), not $SEQ1"
GLOG=$(group_log_whole)
if ! same_as_server 1; then
    st 1 0 status
    defect "after one sync store 1's digest is not the server's: it holds $(st_changes) of $GLOG changes"
    st 1 0 sync
    same_as_server 1 || fail "after a second sync store 1's digest still differs from the server's"
fi
st 1 0 sync
grep -qE '^synced: pushed 0 .*, pulled 0 ' "$T/out" || fail "store 1 in sync: $(cat "$T/out")"

# ---- (b) a store killed mid-pull -------------------------------------------------------------

check "(b) kill -9 store 2 while it pulls the group log"
sv status
GLOG=$(srv_glog)
part=0
for attempt in 1 2 3; do
    "$STO" -d "$T/s2" sync >"$T/sync_b.out" 2>"$T/sync_b.err" &
    cpid=$!
    PIDS+=("$cpid")
    for ((i = 0; i < 300; i++)); do
        st 2 0 status
        part=$(st_changes)
        [ "$part" -gt 0 ] && break
        sleep 0.05
    done
    kill -KILL "$cpid"
    wait_gone "$cpid" 10
    st 2 0 status
    part=$(st_changes)
    echo "   attempt $attempt: store 2 held $part of $GLOG changes when killed"
    [ "$part" -lt "$GLOG" ] && break
    fail "store 2's pull was over before the kill (make the group log bigger)"
done
[ "$part" -gt 0 ] || fail "store 2 had pulled nothing when killed"

check "(b) the killed store is consistent: verify passes"
st 2 0 verify

check "(b) its next sync pulls exactly the rest"
st 2 0 sync
cp "$T/out" "$T/synced"
read -r pushed held pulled cursor <<<"$(synced_field "$T/synced")"
echo "   $(cat "$T/synced")"
[ "$pulled" -eq $((GLOG - part)) ] || fail "pulled $pulled after $part of $GLOG: not exactly the rest"
[ "$cursor" -eq "$GLOG" ] || fail "cursor $cursor, group log $GLOG"
same_as_server 2 || fail "store 2's digest is not the server's"

# ---- (c) the daemon across a server crash and a stall --------------------------------------

check "(c) store 3 imports its base and starts its daemon"
import 3 "$T/gen/GZ01"
SEQ3=$(seq_of 3)
"$STO" -d "$T/s3" run --interval 1 >"$T/run_c.out" 2>"$T/run_c.err" &
DPID=$!
PIDS+=("$DPID")

# converged SECONDS: wait until store 3's daemon has pushed everything and
# store 3 holds the server's state; prints the seconds it took.
converged() {
    local t0 i d
    t0=$(now)
    for ((i = 0; i < $1; i++)); do
        kill -0 "$DPID" 2>/dev/null || { cat "$T/run_c.err" >&2; fail "the daemon exited"; }
        sv status --digest
        d=$(srv_digest)
        if [ "$(srv_seq 3)" = "$SEQ3" ]; then
            st 3 0 digest
            if [ "$(cat "$T/out")" = "$d" ]; then
                since "$t0"
                return 0
            fi
        fi
        sleep 1
    done
    tail -5 "$T/run_c.err" >&2
    fail "store 3's daemon did not converge within $1 s"
}

check "(c) kill -9 the server mid-push; restart it after 1 s"
for ((i = 0; i < 300; i++)); do
    mid=$(srv_seq_of 3)
    [ "$mid" -gt 0 ] && break
    sleep 0.05
done
kill_server
sv status
mid=$(srv_seq 3)
echo "   server accepted $mid of $SEQ3 when killed"
[ "$mid" -lt "$SEQ3" ] || defect "the push was over before the kill: this run did not cut a push"
sleep 1
start_server

check "(c) the daemon reconnects by itself and converges"
took=$(converged 90)
echo "   converged $took s after the restart"
# The premise: the daemon's round was really cut (it logs a failed round).
[ "$(wc -l <"$T/run_c.err")" -ge 1 ] || fail "the daemon logged no failed round: the kill cut nothing"
echo "   the daemon said: $(tail -1 "$T/run_c.err")"
same_as_server 3 || fail "store 3 is not the server's state"
group_log_whole >/dev/null

check "(c) the server stopped (SIGSTOP) past the daemon's timeout while it pushes"
"$GEN" --out "$T/gen_c" --stores 1 --customers 3500 --seed 33 --as-of "$ASOF" >/dev/null 2>&1
import 3 "$T/gen_c/HZ01" # the daemon sees it at its next round
SEQ3=$(seq_of 3)
base=$(srv_seq_of 3)
for ((i = 0; i < 300; i++)); do
    mid=$(srv_seq_of 3)
    [ "$mid" -gt "$base" ] && break
    sleep 0.05
done
kill -STOP "$SPID"
echo "   server stopped with $mid of $SEQ3 of store 3"
sleep 17
kill -CONT "$SPID"
took=$(converged 90)
echo "   continued; converged $took s later"
[ "$(wc -l <"$T/run_c.err")" -ge 2 ] || fail "the daemon logged no failed round during the stall"
echo "   the daemon said: $(tail -1 "$T/run_c.err")"
same_as_server 3 || fail "store 3 is not the server's state"
group_log_whole >/dev/null

check "(c) the daemon stops on SIGTERM, exit 0"
kill -TERM "$DPID"
wait_gone "$DPID" 20
[ "$RC" -eq 0 ] || { tail "$T/run_c.err" >&2; fail "the daemon exited $RC on SIGTERM"; }

# ---- (d) a month offline, 100,000 changes -----------------------------------------------

check "(d) store 4, offline since the set-up, has 100,000+ changes of its own"
import 4 "$T/gen4/HZ01"
SEQ4=$(seq_of 4)
[ "$SEQ4" -ge 100000 ] || fail "store 4 has only $SEQ4 changes"
sv status
behind=$(srv_glog)

check "(d) one sync catches up"
t0=$(now)
st 4 0 sync
el=$(since "$t0")
cp "$T/out" "$T/synced"
read -r pushed held pulled cursor <<<"$(synced_field "$T/synced")"
echo "   $(cat "$T/synced")"
echo "   catch-up sync of store 4: pushed $pushed, pulled $pulled in $el s"
[ "$pushed" = "$SEQ4" ] && [ "$held" = "$SEQ4" ] || fail "pushed $pushed, server holds $held, store 4 has $SEQ4"
[ "$pulled" -ge "$behind" ] || fail "pulled $pulled of the $behind changes it lacked"
GLOG=$(group_log_whole)
if ! same_as_server 4; then
    st 4 0 status
    defect "after its one catch-up sync store 4's digest is not the server's: it holds $(st_changes) of $GLOG changes"
    st 4 0 sync
    same_as_server 4 || fail "after a second sync store 4's digest still differs"
fi

check "every store catches up and holds one state"
for n in 1 2 3; do
    st "$n" 0 sync
done
for n in 1 2 3 4; do
    st "$n" 0 sync
    grep -qE '^synced: pushed 0 .*, pulled 0 ' "$T/out" || fail "store $n in sync: $(cat "$T/out")"
    same_as_server "$n" || fail "store $n's digest is not the server's"
done
st 1 0 verify
own=$(awk '/^chain ok: store 0,/ { print $5 }' "$T/out")
sv status
[ "$own" = "$(srv_links)" ] || fail "the server's own log has '$own' changes, status shows $(srv_links) links"

if [ "${#DEFECTS[@]}" -gt 0 ]; then
    for d in "${DEFECTS[@]}"; do echo "FAIL $d" >&2; done
    exit 1
fi
echo "sync_faults: all checks passed"
