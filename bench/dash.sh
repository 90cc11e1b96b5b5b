#!/usr/bin/env bash
# bench/dash.sh -- the group's dashboard (jipan-web) in front of a real
# server: one store of CUSTOMERS generated customers pushed to a fresh
# server, a group key's jipan-web, and curl on loopback signed in as a
# browser would be.  Prints the time of each page (the whole request, 20
# times each, 5 for a store's: p50 and max), the sign-in itself (Argon2id), the first ask
# of the 24-month series (the charts' data, computed by the server) and
# the next ones (kept by jipan-web), and the Excel download of every table.
#
#   bash bench/dash.sh [BUILD_DIR] [CUSTOMERS]    (build-release, 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-release}
name=dash
. bench/lib.bash
customers=${2:-100000}
[ -x "$B/dash/jipan-web" ] || cmake --build "$B" -j2 --target jipan-web >/dev/null
jpb_one_store "$customers"
# The first report as of now loads the live base; the refresher then
# computes the group's and the regions' reports ahead.
Q report --scope group --format json >/dev/null
for _ in $(seq 600); do grep -q "computed ahead" "$W/server.err" && break; sleep 0.5; Q report --format json >/dev/null; done
SV status | sed -n '2,3p'

echo "bench-pass-1234" | "$B/dash/jipan-web" user add ana --users "$W/web-users" >/dev/null
"$B/dash/jipan-web" --key "$W/group.key" --server "tcp://127.0.0.1:$port" --server-key "$KEY" \
    --users "$W/web-users" --port 0 --timeout 600 >"$W/web.out" 2>"$W/web.err" &
wpid=$!
trap 'kill $wpid 2>/dev/null; cleanup' EXIT
for _ in $(seq 100); do grep -q '^serving' "$W/web.out" 2>/dev/null && break; sleep 0.1; done
URL=$(grep -o 'http://[0-9.:]*' "$W/web.out")
J="$W/jar"
# ms ARGS: the request's time in ms; anything but 200 (303 after the
# sign-in) stops the benchmark
ms() {
    local out
    out=$(curl -s -b "$J" -c "$J" -o "$W/body" -w '%{http_code} %{time_total}' "$@")
    case ${out%% *} in 200 | 303) ;; *) echo "bench/dash: $* answered ${out%% *}" >&2; exit 1 ;; esac
    awk -v t="${out#* }" 'BEGIN {printf "%.1f\n", t * 1000}'
}
pre=$(curl -s -c "$J" -b "$J" "$URL/login" | grep -o 'name="pre" value="[0-9a-f]*"' | grep -o '[0-9a-f]\{64\}')
echo "sign-in (POST /login: Argon2id, a session)  $(ms --data "pre=$pre&user=ana&password=bench-pass-1234" "$URL/login") ms"
# page PATH [N]: N requests (default 20), their median and maximum
page() {
    local t n=${2:-20}
    t=$(for _ in $(seq "$n"); do ms "$URL$1"; done | sort -n)
    printf '%-44s p50 %7s ms  max %7s ms  (%d)\n' "$1" "$(echo "$t" | sed -n "$(((n + 1) / 2))p")" \
        "$(echo "$t" | tail -1)" "$n"
}
ms "$URL/scope?s=group" >/dev/null
grep -q '集团 · 忠诚度月报' "$W/body" || { echo "bench/dash: not signed in" >&2; exit 1; }
page "/scope?s=group"
page "/scope?s=region:%E6%83%A0%E5%B7%9E"
page "/scope?s=store:1" 5
page "/at-risk?s=store:1" 5
echo "/series.json?s=group, first (the server computes 24 months)  $(ms "$URL/series.json?s=group") ms"
page "/series.json?s=group"
page "/trends?s=group"
echo "/download?s=group&t=all&f=xlsx (4 sheets)  $(ms "$URL/download?s=group&t=all&f=xlsx") ms, $(stat -c %s "$W/body") bytes"
grep -o 'series group, 24 months in [0-9]* ms[^"]*' "$W/server.err" | tail -1
