#!/usr/bin/env bash
# bench/sync.sh -- how fast the group server merges what stores push, how
# fast a store that was offline catches up, and what a sync costs when
# there is nothing to do; each against a baseline measured in the same run.
#
#   bash bench/sync.sh [BUILD_DIR]      (default build-release)
#
# 1. Three stores, each with its own generated base (jipan-gen), push
#    concurrently (`sync --push-only`) to one server over CURVE on
#    127.0.0.1: merged changes/s = changes the server accepted / wall time
#    from the first connection to the last receipt.  Baseline: a raw LMDB
#    append (MDB_APPEND, sequential keys) of as many records of the same
#    average size as the server's log entries, in one run of jipan-bench-raw.
# 2. Catch-up: a fourth store, offline while 100,000 changes were written
#    there, pushes them in one sync; then a store that has none of them
#    pulls them in one sync.
# 3. In sync: a sync with nothing to push or pull, timed on a small group
#    base and again on the full one (it compares positions only, so the
#    two should be alike).
#
# 4. Reports while merging: the group report as of now, asked again and
#    again while three more stores push, timed by the server, against the
#    same report with nothing merging.
#
# Environment: JIPAN_BENCH_SYNC_CUSTOMERS (default 30000 a store: about
# 860,000 changes over the three stores, enough that the processes'
# start-up, some 30 ms, does not weigh on the rate), and
# JIPAN_BENCH_CATCHUP_CUSTOMERS (default 10500: about 100,000 changes).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-release}
name=sync
. bench/lib.bash
customers=${JIPAN_BENCH_SYNC_CUSTOMERS:-30000}
catchup=${JIPAN_BENCH_CATCHUP_CUSTOMERS:-10500}
S() { "$B/client/jipan-store" -d "$W/st$1" "${@:2}"; }
seq_of() { S "$1" status | awk '/^log/ {gsub(",", "", $3); print $3}'; }

"$B/tools/jipan-gen" --out "$W/gen" --stores 3 --customers "$customers" --seed 11 >/dev/null
jpb_store "$W/st1" 1 HZ01 惠州 "$W/gen/HZ01" >/dev/null
jpb_store "$W/st2" 2 SZ01 深圳 "$W/gen/SZ01" >/dev/null
jpb_store "$W/st3" 3 GZ01 广州 "$W/gen/GZ01" >/dev/null
"$B/tools/jipan-gen" --out "$W/gen4" --stores 1 --customers "$catchup" --seed 12 >/dev/null

jpb_server_start

# 3a. In sync on an empty group base (store 4 not yet imported: a store
# with nothing, a server with nothing).
S 4 init --store 4 --code HZ02 --name HZ02 --region 惠州 --group 基准集团 >/dev/null 2>&1
c4=$(S 4 keys | awk '/^curve/ {print $2}'); g4=$(S 4 keys | awk '/^sign/ {print $2}')
SV enroll --store 4 --code HZ02 --name HZ02 --region 惠州 --curve "$c4" --sign "$g4" >/dev/null
S 4 sync -q --server "tcp://127.0.0.1:$port" --server-key "$KEY"
insync() { # median of 5 in-sync rounds of store $1, ms
    for _ in 1 2 3 4 5; do
        t0=$(now); S "$1" sync -q; t1=$(now)
        echo "($t1 - $t0) * 1000" | bc -l
    done | sort -n | sed -n 3p
}
small=$(insync 4)

# 1. Three stores push concurrently (their first sync: it pins the keys).
total=0
for i in 1 2 3; do total=$((total + $(seq_of "$i"))); done
t0=$(now)
for i in 1 2 3; do
    S "$i" sync -q --push-only --server "tcp://127.0.0.1:$port" --server-key "$KEY" &
done
wait %2 %3 %4
t1=$(now)
merge=$(secs "$t0" "$t1")
accepted=$(SV stores | awk '/^store/ {s += $6} END {print s}')
[ "$accepted" -eq "$total" ] || { echo "bench: the server holds $accepted of $total" >&2; exit 1; }
# The baseline: as many records as the server's log, of its average size.
read -r entries bytes < <(mdb_stat -s log "$W/srv" | awk '/Entries/ {e=$2} /Leaf pages/ {l=$3} /Overflow pages/ {o=$3} END {print e, (l + o) * 4096}')
avg=$((bytes / entries))
raw=$("$B/bench/jipan-bench-raw" "$W/raw" "$total" "$avg" 100000 | awk '{print $(NF-3)}')

# 2. Catch-up.  Store 1 first pulls everything there is; then store 4,
# offline while 100,000 changes were made there, pushes them in one sync,
# and store 1 pulls exactly those (and the links they made) in one sync.
S 1 sync -q --pull-only
S 4 import --customers "$W/gen4/HZ01/customers.csv" --vehicles "$W/gen4/HZ01/vehicles.csv" \
    --events "$W/gen4/HZ01/events.csv" >/dev/null
c4n=$(seq_of 4)
t0=$(now); S 4 sync -q --push-only; t1=$(now)
push4=$(secs "$t0" "$t1")
before=$(S 1 status | awk '/^changes/ {print $2}')
t0=$(now); S 1 sync -q --pull-only; t1=$(now)
pull1=$(secs "$t0" "$t1")
after=$(S 1 status | awk '/^changes/ {print $2}')
pulled=$((after - before))
S 4 sync -q --pull-only

# 3b. In sync on the full base.
S 1 sync -q
large=$(insync 1)
glog=$(SV status | awk '/^group log/ {print $3}')

# 4. Reports while merging: three more stores push their bases while a
# group analyst asks for the group's report as of now, again and again.
# The server logs each report's time (from the query to the answer
# built); those during the merge are the figure.  Baseline: the same
# reports with no merge running.
"$B/tools/jipan-gen" --out "$W/gen5" --stores 3 --customers "$customers" --seed 13 >/dev/null
jpb_store "$W/st5" 5 HZ01 惠州 "$W/gen5/HZ01" >/dev/null
jpb_store "$W/st6" 6 SZ01 深圳 "$W/gen5/SZ01" >/dev/null
jpb_store "$W/st7" 7 GZ01 广州 "$W/gen5/GZ01" >/dev/null
"$B/client/jipan-query" keygen "$W/group.key" >"$W/group.pub"
SV enroll --role group --curve "$(cat "$W/group.pub")" >/dev/null
ask() { "$B/client/jipan-query" --key "$W/group.key" --server "tcp://127.0.0.1:$port" \
    --server-key "$KEY" report --scope group --format json "$@" >/dev/null; }
report_ms() { grep -o 'report group in [0-9]*' "$W/server.err" | awk '{print $4}'; }
pct() { sort -n | awk -v p="$1" '{v[NR]=$1} END {k=int((p*NR+99)/100); if (k<1) k=1; print v[k]}'; }
# (a) The first report as of now: nothing held, load and compute.
ask
first_ms=$(report_ms | tail -1)
# (b) As of a fixed instant, again and again: the base is held, the
# figures are computed per query.
ask --as-of 2026-10-31 # loads the base as of that instant
for _ in $(seq 10); do ask --as-of 2026-10-31; done
held_ms=$(report_ms | tail -10)
# (c) As of now while three stores push: the live base, reloaded in the
# background after merges with the group's and regions' reports computed
# ahead.  Wait until the first such reload is there.
for _ in $(seq 120); do
    grep -q "computed ahead" "$W/server.err" && break
    ask
    sleep 0.25
done
before=$(report_ms | wc -l)
for i in 5 6 7; do
    S "$i" sync -q --push-only --server "tcp://127.0.0.1:$port" --server-key "$KEY" &
done
merging=$(jobs -p | tail -3)
asked=0
while kill -0 $merging 2>/dev/null && [ "$asked" -lt 500 ]; do ask; asked=$((asked + 1)); done
wait $merging
during=$(report_ms | tail -n +"$((before + 1))")
n_during=$(echo "$during" | grep -c . || true)

printf '\n'
printf 'merge, 3 stores pushing at once  %d changes in %.3f s = %.0f changes/s\n' "$total" "$merge" "$(echo "$total / $merge" | bc -l)"
printf 'raw LMDB append, same count      %d records of %d bytes in %.3f s = %.0f records/s\n' "$total" "$avg" "$raw" "$(echo "$total / $raw" | bc -l)"
printf 'merge / raw append               %.1f%%\n' "$(echo "100 * $raw / $merge" | bc -l)"
printf 'catch-up push, offline store     %d changes in %.3f s\n' "$c4n" "$push4"
printf 'catch-up pull, another store     %d changes in %.3f s\n' "$pulled" "$pull1"
printf 'in-sync round, empty group base  %.1f ms (median of 5)\n' "$small"
printf 'in-sync round, %d-change base %.1f ms (median of 5), ratio %.2f\n' "$glog" "$large" "$(echo "$large / $small" | bc -l)"
printf 'group report, first (load + figures) %s ms\n' "$first_ms"
printf 'group report, base held (figures)   p50 %s ms  p99 %s ms (10 reports as of 2026-10-31)\n' \
    "$(echo "$held_ms" | pct 50)" "$(echo "$held_ms" | pct 99)"
printf 'group report as of now, 3 stores pushing  p50 %s ms  p99 %s ms (%d reports during the merge)\n' \
    "$(echo "$during" | pct 50)" "$(echo "$during" | pct 99)" "$n_during"
