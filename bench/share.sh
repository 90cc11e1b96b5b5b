#!/usr/bin/env bash
# bench/share.sh -- what the sharing rules cost and save (common/share.h,
# server/view.h): the same four stores' bases merged by a server under rule
# group and by one under rule linked, measured in the same run, in the
# order group, linked, linked, group (the machine drifts):
#
#   1. the merge: the four stores push concurrently (`sync --push-only`);
#      merged changes/s = changes accepted / wall time;
#   2. each store's first pull after the others pushed (`sync --pull-only`):
#      its time, the changes it received, and the bytes of its file after
#      it (a compact copy: `jipan-store backup`);
#   3. under linked, the backfill when a link appears: a walk-in registered
#      at store 2 with the phone of one of store 1's owners; the time of
#      store 2's sync and the earlier changes it received.
#
#   bash bench/share.sh [BUILD_DIR]      (default build-release)
#
# Then JIPAN_BENCH_SHARE_PAIRS (default 5) more merges under each rule,
# alternating, merge only: the medians of group and of linked, and their
# ratio (one pair is within the machine's noise; five show the cost).
#
# Environment: JIPAN_BENCH_SHARE_CUSTOMERS (default 20000 a store);
# JIPAN_BENCH_SHARE_BASE, a build of an earlier commit (before the rules
# were enforced): its merge of the same stores is run first and last, the
# baseline of what enforcing them costs the merge.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-release}
name=share
. bench/lib.bash
customers=${JIPAN_BENCH_SHARE_CUSTOMERS:-20000}
STO="$B/client/jipan-store"

jpb_bases 4 "$customers" 21
phone=$(awk -F, 'NR == 2 {print $3}' "$W/gen/${CODE[1]}/customers.csv")

# run RULE TAG: a fresh server under RULE with copies of the four stores.
run() {
    local rule=$1 tag=$2 p=$((port + 1 + RANDOM % 50)) t0 t1 key B=${3:-$B}
    rm -rf "$W/$tag-srv" "$W"/"$tag"-st?
    local STO="$B/client/jipan-store"
    local conf="$W/$tag.conf"
    printf '[server]\nendpoint = tcp://127.0.0.1:%s\ndata = %s/%s-srv\ngroup = 基准集团\ntimezone = Asia/Shanghai\n[sharing]\nrule = %s\n' \
        "$p" "$W" "$tag" "$rule" >"$conf"
    "$B/server/jipan-server" -c "$conf" init >/dev/null
    key=$("$B/server/jipan-server" -c "$conf" keys | awk '/^curve/ {print $2}')
    for i in 1 2 3 4; do
        rm -rf "$W/$tag-st$i"
        cp -a "$W/base$i" "$W/$tag-st$i"
        jpb_enroll_at "$conf" "$W/$tag-st$i" "$i"
    done
    "$B/server/jipan-server" -c "$conf" run >"$W/$tag.out" 2>"$W/$tag.err" &
    local spid=$!
    for _ in $(seq 50); do grep -q listening "$W/$tag.out" 2>/dev/null && break; sleep 0.1; done
    t0=$(now)
    local pids=()
    for i in 1 2 3 4; do
        "$STO" -d "$W/$tag-st$i" sync -q --push-only --server "tcp://127.0.0.1:$p" \
            --server-key "$key" &
        pids+=($!)
    done
    wait "${pids[@]}"
    t1=$(now)
    local changes
    changes=$("$B/server/jipan-server" -c "$conf" stores | awk '/^store/ {s += $6} END {print s}')
    printf '%s %s merge %d changes %.3f s\n' "$tag" "$rule" "$changes" "$(secs "$t0" "$t1")"
    echo "$rule $(secs "$t0" "$t1")" >>"$W/merges"
    if [ -n "${3:-}" ]; then # merge only (a baseline build, or the pairs)
        kill "$spid"
        wait "$spid" 2>/dev/null || true
        return
    fi
    for i in 1 2 3 4; do
        t0=$(now)
        local got
        got=$("$STO" -d "$W/$tag-st$i" sync --pull-only | awk '/^synced/ {print $9}')
        t1=$(now)
        rm -rf "$W/$tag-bk$i"
        "$STO" -d "$W/$tag-st$i" backup "$W/$tag-bk$i" >/dev/null
        printf '%s %s pull store %d: %d changes %.3f s, file %d bytes\n' "$tag" "$rule" \
            "${NUM[$i]}" "$got" "$(secs "$t0" "$t1")" "$(stat -c %s "$W/$tag-bk$i/data.mdb")"
    done
    if [ "$rule" = linked ]; then
        "$STO" -d "$W/$tag-st2" add customer --name 到店客户 --phone "$phone" >/dev/null
        t0=$(now)
        local said
        said=$("$STO" -d "$W/$tag-st2" sync)
        t1=$(now)
        printf '%s %s backfill: %.3f s, %s\n' "$tag" "$rule" "$(secs "$t0" "$t1")" \
            "$(echo "$said" | grep -o 'received [0-9]* earlier changes of [0-9]* records' || echo 'nothing received')"
    fi
    kill "$spid"
    wait "$spid" 2>/dev/null || true
}

echo "bench/share.sh: 4 stores x $customers customers, $(nproc) cores, $(date -u +%F)"
base=${JIPAN_BENCH_SHARE_BASE:-}
[ -z "$base" ] || run group b1 "$(cd "$base" && pwd)"
run group g1
run linked l1
run linked l2
run group g2
[ -z "$base" ] || run group b2 "$(cd "$base" && pwd)"

# The pairs: merge only, alternating which rule goes first.
: >"$W/merges"
pairs=${JIPAN_BENCH_SHARE_PAIRS:-5}
for n in $(seq "$pairs"); do
    if [ $((n % 2)) = 1 ]; then
        run group "pg$n" "$B"
        run linked "pl$n" "$B"
    else
        run linked "pl$n" "$B"
        run group "pg$n" "$B"
    fi
    rm -rf "$W/pg$n-"* "$W/pl$n-"*
done
median() { awk -v r="$1" '$1 == r {print $2}' "$W/merges" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
g=$(median group) l=$(median linked)
printf 'merge, %d pairs: median group %.3f s, linked %.3f s; linked/group %.3f\n' \
    "$pairs" "$g" "$l" "$(echo "$l / $g" | bc -l)"
