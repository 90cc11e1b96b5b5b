#!/usr/bin/env bash
# bench/series.sh -- the dashboard's trends: QUERY series (every figure at
# the end of each of 24 months, from one base) against the 24 reports as
# of those month ends it stands for (each a load of the base as of its
# instant).  One store of CUSTOMERS generated customers pushed to a fresh
# server; a group key asks, with jipan-query, over CurveZMQ on 127.0.0.1.
# Prints the server's own times (its log) and the client's, and the ratio.
#
#   bash bench/series.sh [BUILD_DIR] [CUSTOMERS]    (build-release, 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-release}
name=series
. bench/lib.bash
customers=${2:-100000}
D=2026-10-31
jpb_one_store "$customers"
ms() { echo "($(now) - $1) * 1000 / 1" | bc; }
srv() { grep -o "$1 in [0-9]*" "$W/server.err" | tail -1 | awk '{print $NF}'; }

t0=$(now)
Q series --scope group --as-of $D >"$W/series.json"
cold=$(ms "$t0") cold_srv=$(srv "series group, 24 months")
t0=$(now)
Q series --scope group --as-of $D >/dev/null
held=$(ms "$t0") held_srv=$(srv "series group, 24 months")
months=$(python3 -c 'import json,sys; print(" ".join(json.load(open(sys.argv[1]))["months"]))' "$W/series.json")
last=${months##* }
total=0 total_srv=0
for m in $months; do
    if [ "$m" = "$last" ]; then asof=$D; else asof=$(date -d "$m-01 +1 month -1 day" +%F); fi
    t0=$(now)
    Q report --scope group --as-of "$asof" --format json >/dev/null
    total=$((total + $(ms "$t0")))
    total_srv=$((total_srv + $(srv "report group")))
done
SV status | sed -n '2,3p'
echo "series, 24 months, base loaded by it   client $cold ms  server $cold_srv ms"
echo "series, 24 months, base held            client $held ms  server $held_srv ms"
echo "24 reports as of the month ends         client $total ms  server $total_srv ms"
echo "ratio (24 reports / series, base loaded by it)  $(echo "scale=1; $total_srv / $cold_srv" | bc)x server, $(echo "scale=1; $total / $cold" | bc)x client"
echo "ratio (24 reports / series, base held)          $(echo "scale=1; $total_srv / ($held_srv + 1)" | bc)x server"
