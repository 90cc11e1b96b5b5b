#!/usr/bin/env bash
# bench/web_counter.sh [BUILD] -- how fast the counter's pages answer on a
# large store: jipan-gen --customers N (default 100,000: about 950,000
# records), imported; `jipan-store web`; curl on loopback, signed in.
#
# Prints, each a median of ROUNDS requests (the whole request, curl's
# time_total): the work list and the report served from the figures
# computed ahead; the first work list after a write (it waits for the
# computation that write started); a card; and, as the same-run baseline,
# what the old pages cost per view: `jipan-store today` and `report`
# (each loads the whole base, as every view of those pages used to).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-release}
customers=${JIPAN_BENCH_CUSTOMERS:-100000}
rounds=${JIPAN_BENCH_ROUNDS:-15}
if [ ! -x "$build/client/jipan-store" ] || [ ! -x "$build/tools/jipan-gen" ]; then
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DJIPAN_SANITIZE=OFF -DJIPAN_TESTS=OFF >/dev/null
    cmake --build "$build" -j"$(nproc)" >/dev/null
fi
B=$(cd "$build" && pwd)
W=$(mktemp -d /tmp/jipan-bench-web.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$W"' EXIT
S() { "$B/client/jipan-store" -d "$W/store" "$@"; }
median() { sort -n | awk '{a[NR]=$1} END {m=a[int((NR+1)/2)]; printf "%.1f ms", m*1000}'; }
secs() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null; t1=$(date +%s.%N); echo "$t1 - $t0" | bc; }

"$B/tools/jipan-gen" --out "$W/gen" --stores 1 --customers "$customers" >/dev/null 2>&1
S init --store 1 --code HZ01 --name 惠州一店 --region 惠州 --group 基准集团 >/dev/null 2>&1
S import --customers "$W/gen/HZ01/customers.csv" --vehicles "$W/gen/HZ01/vehicles.csv" \
    --events "$W/gen/HZ01/events.csv" | tail -1
echo "bench-pass-1" | S web-user add bench >/dev/null
S web --port 0 >"$W/web.out" 2>"$W/web.err" &
pid=$!
for _ in $(seq 100); do grep -q '^serving' "$W/web.out" 2>/dev/null && break; sleep 0.1; done
URL=$(sed -n 's|^serving HZ01 on \(http://127.0.0.1:[0-9]*\)/$|\1|p' "$W/web.out")
J="$W/jar"
curl -s -c "$J" -b "$J" "$URL/login" >"$W/login.html"
PRE=$(grep -o 'name="pre" value="[0-9a-f]*"' "$W/login.html" | grep -o '[0-9a-f]\{64\}')
curl -s -o /dev/null -c "$J" -b "$J" --data "pre=$PRE&user=bench&password=bench-pass-1" "$URL/login"
get() { curl -s -o "$W/page.html" -b "$J" -w '%{time_total}\n' "$URL$1"; }

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores"
echo "store: $(S status | grep -m1 -i 'records\|customer' || true)"
printf 'first /today after the start (the first computation): %s\n' "$(get /today | median)"
grep -q 'id="count"' "$W/page.html" || { echo "no work list on the page" >&2; exit 1; }
printf '/today, computed ahead:   %s\n' "$(for _ in $(seq "$rounds"); do get /today; done | median)"
printf '/report, computed ahead:  %s\n' "$(for _ in $(seq "$rounds"); do get /report; done | median)"
phone=$(awk -F, 'NR==2 {print $3}' "$W/gen/HZ01/customers.csv")
get "/?q=$phone" >/dev/null
id=$(grep -o 'href="/card?id=[0-9A-Z]*"' "$W/page.html" | head -1 | grep -o '[0-9A-Z]\{26\}')
printf '/card:                    %s\n' "$(for _ in $(seq "$rounds"); do get "/card?id=$id"; done | median)"
# A write by another process (the way a sync or the CLI writes): the next
# /today waits for the figures of the base as it now is.
after=$(for _ in $(seq 3); do
    S add contact --customer "$id" --channel phone --purpose bench >/dev/null
    get /today
done | median)
printf '/today after a write:     %s\n' "$after"
printf 'baseline, jipan-store today (a whole-base load per view):  %.1f ms\n' \
    "$(echo "$(secs S today) * 1000" | bc)"
printf 'baseline, jipan-store report:                              %.1f ms\n' \
    "$(echo "$(secs S report) * 1000" | bc)"
