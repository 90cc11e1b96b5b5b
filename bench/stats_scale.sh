#!/usr/bin/env bash
# bench/stats_scale.sh -- the group report at the statistics issue's size:
# one store of 1,000,000 generated customers (about 9.5 M records) pushed
# to a fresh server; then, while two more stores push (about 575,000
# changes each), a group analyst asks for the group's report as of now
# with jipan-bench-query, over a kept session and over a new session each
# time; then, while two more stores push, with one `jipan-query` process
# a question.  Prints the push, the first report (load and figures), the
# server-side times of the reports during the merges (from the server's
# log) and the client's waits.  Needs about 12 GB of disk, 8 GB of memory
# and ten minutes; not part of bench/run.sh.
#
#   bash bench/stats_scale.sh [BUILD_DIR] [CUSTOMERS]    (build-release, 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-release}
name=scale
. bench/lib.bash
customers=${2:-1000000}
S() { "$B/client/jipan-store" -d "$W/$1" "${@:2}"; }
pct() { sort -n | awk -v p="$1" '{v[NR]=$1} END {k=int((p*NR+99)/100); if (k<1) k=1; print v[k]}'; }
"$B/tools/jipan-gen" --out "$W/gen" --stores 1 --customers "$customers" --seed 3
jpb_store "$W/big" 1 HZ01 惠州 "$W/gen/HZ01"
rm -rf "$W/gen"
"$B/tools/jipan-gen" --out "$W/gen2" --stores 4 --customers 60000 --seed 4 >/dev/null
jpb_store "$W/s2" 2 SZ01 深圳 "$W/gen2/HZ01"
jpb_store "$W/s3" 3 GZ01 广州 "$W/gen2/SZ01"
jpb_store "$W/s4" 4 SZ02 深圳 "$W/gen2/GZ01"
jpb_store "$W/s5" 5 GZ02 广州 "$W/gen2/HZ02"
"$B/client/jipan-query" keygen "$W/group.key" >"$W/group.pub"
SV enroll --role group --curve "$(cat "$W/group.pub")" >/dev/null

jpb_server_start
t0=$(now)
S big sync -q --push-only --server "tcp://127.0.0.1:$port" --server-key "$KEY"
echo "push of store 1 to the server: $(echo "$(now) - $t0" | bc) s"
ask() { "$B/client/jipan-query" --key "$W/group.key" --server "tcp://127.0.0.1:$port" \
    --server-key "$KEY" --timeout 300 report --scope group --format json >/dev/null; }
t0=$(now)
ask
echo "first report (load and figures): $(echo "$(now) - $t0" | bc) s"
for _ in $(seq 600); do grep -q "computed ahead" "$W/server.err" && break; sleep 0.5; ask; done
before=$(grep -c "report group in" "$W/server.err")
S s2 sync -q --push-only --server "tcp://127.0.0.1:$port" --server-key "$KEY" &
p2=$!
S s3 sync -q --push-only --server "tcp://127.0.0.1:$port" --server-key "$KEY" &
p3=$!
# The analyst's side: one session kept open and a new session per
# question, in turn, until both pushes are done.
"$B/bench/jipan-bench-query" --key "$W/group.key" --server "tcp://127.0.0.1:$port" \
    --server-key "$KEY" --while "$p2" --while "$p3" --interval-ms 5 >"$W/client" &
pq=$!
wait "$p2" "$p3"
wait "$pq"
server_ms=$(grep -o 'report group in [0-9]*' "$W/server.err" | tail -n +"$((before + 1))" | awk '{print $4}')
SV status | sed -n '2,3p'
awk '/^RssAnon|^RssFile/ {printf "server memory now: %s %d MB\n", $1, $2 / 1024}' "/proc/$pid/status"
echo "reports as of now while two stores pushed: $(echo "$server_ms" | wc -l)"
echo "  server side  p50 $(echo "$server_ms" | pct 50) ms  p99 $(echo "$server_ms" | pct 99) ms"
echo "  client side (jipan-bench-query: a kept session; a new CURVE session each time):"
sed 's/^/    /' "$W/client"
# The same with a whole `jipan-query` process a question (start, CURVE
# handshake, HELLO, QUERY, ANSWER, BYE) while two more stores push.
S s4 sync -q --push-only --server "tcp://127.0.0.1:$port" --server-key "$KEY" &
p4=$!
S s5 sync -q --push-only --server "tcp://127.0.0.1:$port" --server-key "$KEY" &
p5=$!
: >"$W/client_ms"
while { kill -0 "$p4" || kill -0 "$p5"; } 2>/dev/null; do
    t0=$(now)
    ask
    echo "($(now) - $t0) * 1000" | bc >>"$W/client_ms"
done
wait "$p4" "$p5"
echo "  a jipan-query process a question while two more stores push ($(wc -l <"$W/client_ms") answers):"
echo "    p50 $(pct 50 <"$W/client_ms") ms  p99 $(pct 99 <"$W/client_ms") ms"
: >"$W/client_ms"
for _ in $(seq 20); do
    t0=$(now)
    ask
    echo "($(now) - $t0) * 1000" | bc >>"$W/client_ms"
done
echo "  one jipan-query process, the pushes done: p50 $(pct 50 <"$W/client_ms") ms  p99 $(pct 99 <"$W/client_ms") ms"
