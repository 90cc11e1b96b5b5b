#!/usr/bin/env bash
# bench/standby.sh -- what a synchronous standby costs the merge, and how
# long a failover takes (server/standby.h, server/hold.h).  The same three
# stores' bases pushed concurrently to a fresh primary alone, and to a
# fresh primary with a synchronous standby, alternating (alone, standby,
# standby, alone, ...: the machine drifts), in the same run:
#
#   1. the merge: changes accepted / wall time of the three pushes;
#   2. with the standby: its lag when the pushes end (changes it lacks);
#   3. once: the primary killed (-9) and the standby promoted; the time
#      from the kill to a store's first merged push at the new primary
#      (the store has both endpoints: it waits 5 s for the lost one);
#      then the old primary restarted (it fences itself), `rejoin`ed, and
#      timed until it has followed the new primary's whole log again.
#
#   bash bench/standby.sh [BUILD_DIR]       (default build-release)
#
# Environment: JIPAN_BENCH_STANDBY_CUSTOMERS (default 10000 a store),
# JIPAN_BENCH_STANDBY_PAIRS (default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-release}
name=standby
. bench/lib.bash
customers=${JIPAN_BENCH_STANDBY_CUSTOMERS:-10000}
pairs=${JIPAN_BENCH_STANDBY_PAIRS:-3}
STO="$B/client/jipan-store"

jpb_bases 3 "$customers" 51

# run MODE TAG [failover]: MODE alone or standby.
run() {
    local mode=$1 tag=$2 p=$((port + 1 + RANDOM % 40)) t0 t1 key
    local pc="$W/$tag-p.conf" sc="$W/$tag-s.conf"
    printf '[server]\nendpoint = tcp://127.0.0.1:%s\ndata = %s/%s-p\ngroup = 基准集团\ntimezone = Asia/Shanghai\nsync_standby = %s\n[sharing]\nrule = group\n' \
        "$p" "$W" "$tag" "$([ "$mode" = standby ] && echo on || echo off)" >"$pc"
    "$B/server/jipan-server" -c "$pc" init >/dev/null
    key=$("$B/server/jipan-server" -c "$pc" keys | awk '/^curve/ {print $2}')
    if [ "$mode" = standby ]; then
        printf '[server]\nendpoint = tcp://127.0.0.1:%s\ndata = %s/%s-s\ngroup = 基准集团\ntimezone = Asia/Shanghai\n[sharing]\nrule = group\n[standby]\nprimary = tcp://127.0.0.1:%s\nprimary_key = %s\n' \
            "$((p + 50))" "$W" "$tag" "$p" "$key" >"$sc"
        "$B/server/jipan-server" -c "$sc" init >/dev/null
        cp "$W/$tag-p/server.key" "$W/$tag-p/curve.key" "$W/$tag-s/"
        "$B/server/jipan-server" -c "$pc" enroll --role standby \
            --curve "$("$B/server/jipan-server" -c "$sc" keys | awk '/^standby/ {print $2}')" >/dev/null
        "$B/server/jipan-server" -c "$sc" enroll --role standby \
            --curve "$("$B/server/jipan-server" -c "$pc" keys | awk '/^standby/ {print $2}')" >/dev/null
        printf '[standby]\npeer = tcp://127.0.0.1:%s\n' "$((p + 50))" >>"$pc"
    fi
    for i in 1 2 3; do
        rm -rf "$W/$tag-st$i"
        cp -a "$W/base$i" "$W/$tag-st$i"
        for c in "$pc" $([ "$mode" = standby ] && echo "$sc"); do
            jpb_enroll_at "$c" "$W/$tag-st$i" "$i"
        done
    done
    "$B/server/jipan-server" -c "$pc" run >"$W/$tag-p.out" 2>"$W/$tag-p.err" &
    local ppid=$! spid=
    if [ "$mode" = standby ]; then
        "$B/server/jipan-server" -c "$sc" run >"$W/$tag-s.out" 2>"$W/$tag-s.err" &
        spid=$!
    fi
    for _ in $(seq 50); do grep -q listening "$W/$tag-p.out" 2>/dev/null && break; sleep 0.1; done
    sleep 0.5 # the standby connects
    t0=$(now)
    local pids=()
    for i in 1 2 3; do
        "$STO" -d "$W/$tag-st$i" sync -q --push-only --server "tcp://127.0.0.1:$p,tcp://127.0.0.1:$((p + 50))" \
            --server-key "$key" &
        pids+=($!)
    done
    wait "${pids[@]}"
    t1=$(now)
    local changes lag=""
    changes=$("$B/server/jipan-server" -c "$pc" status | awk '/^group log/ {print $3}')
    if [ "$mode" = standby ]; then
        lag=$(( changes - $("$B/server/jipan-server" -c "$sc" status | awk '/^group log/ {print $3}') ))
        lag=", standby lag at the end $lag changes"
    fi
    printf '%s %s merge %d changes %.3f s, %.0f changes/s%s\n' "$tag" "$mode" "$changes" \
        "$(secs "$t0" "$t1")" "$(echo "$changes / ($t1 - $t0)" | bc -l)" "$lag"
    echo "$mode $(secs "$t0" "$t1")" >>"$W/merges"
    if [ "${3:-}" = failover ]; then
        "$STO" -d "$W/$tag-st1" add customer --name 切换 --phone 13900000009 >/dev/null
        t0=$(now)
        kill -9 "$ppid"
        wait "$ppid" 2>/dev/null || true
        "$B/server/jipan-server" -c "$sc" promote >/dev/null
        "$STO" -d "$W/$tag-st1" sync -q --push-only >/dev/null 2>&1
        t1=$(now)
        printf '%s failover: kill -9, promote, a store'"'"'s first merged push at the new primary: %.3f s\n' \
            "$tag" "$(secs "$t0" "$t1")"
        # The old primary back: fenced at its first look, then rejoined.
        "$B/server/jipan-server" -c "$pc" run >"$W/$tag-p.out" 2>>"$W/$tag-p.err" &
        ppid=$!
        for _ in $(seq 50); do grep -q listening "$W/$tag-p.out" 2>/dev/null && break; sleep 0.1; done
        grep -q "fenced: the partner" "$W/$tag-p.err" || { echo "the old primary did not fence itself" >&2; exit 1; }
        kill "$ppid"
        wait "$ppid" 2>/dev/null || true
        "$B/server/jipan-server" -c "$pc" rejoin >/dev/null
        local want
        want=$("$B/server/jipan-server" -c "$sc" status | awk '/^group log/ {print $3}')
        t0=$(now)
        "$B/server/jipan-server" -c "$pc" run >"$W/$tag-p.out" 2>>"$W/$tag-p.err" &
        ppid=$!
        for _ in $(seq 6000); do
            [ "$("$B/server/jipan-server" -c "$pc" status | awk '/^group log/ {print $3}')" = "$want" ] && break
            sleep 0.05
        done
        t1=$(now)
        printf '%s rejoin: the old primary follows the new one'"'"'s %d changes from the start in %.3f s, %.0f changes/s\n' \
            "$tag" "$want" "$(secs "$t0" "$t1")" "$(echo "$want / ($t1 - $t0)" | bc -l)"
        kill "$ppid"
        wait "$ppid" 2>/dev/null || true
    else
        kill "$ppid"
        wait "$ppid" 2>/dev/null || true
    fi
    if [ -n "$spid" ]; then
        kill "$spid"
        wait "$spid" 2>/dev/null || true
    fi
    rm -rf "$W/$tag-"*
}

echo "bench/standby.sh: 3 stores x $customers customers, $(nproc) cores, $(date -u +%F)"
: >"$W/merges"
for n in $(seq "$pairs"); do
    if [ $((n % 2)) = 1 ]; then run alone "a$n"; run standby "s$n"; else run standby "s$n"; run alone "a$n"; fi
done
run standby fo failover
median() { awk -v r="$1" '$1 == r {print $2}' "$W/merges" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
a=$(median alone) s=$(median standby)
printf 'merge, %d pairs: median alone %.3f s, with a synchronous standby %.3f s; standby/alone %.3f\n' \
    "$pairs" "$a" "$s" "$(echo "$s / $a" | bc -l)"
