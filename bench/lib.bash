# bench/lib.bash -- what bench/sync.sh and bench/stats_scale.sh share: a
# Release build, a work directory and port, one group server on
# 127.0.0.1, and stores made from jipan-gen output.  Source it from the
# project root after setting build (the build directory) and name.

if [ ! -x "$build/server/jipan-server" ] || [ ! -x "$build/bench/jipan-bench-query" ]; then
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DJIPAN_SANITIZE=OFF -DJIPAN_TESTS=OFF >/dev/null
    cmake --build "$build" -j"$(nproc)" >/dev/null
fi
B=$(cd "$build" && pwd)
W=$(mktemp -d "/tmp/jipan-bench-$name.XXXXXX")
port=$((17500 + $$ % 400))
pid= # the server's
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT

now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc -l; } # seconds from instant $1 to $2 (now)
SV() { "$B/server/jipan-server" -c "$W/server.conf" "$@"; }

cat >"$W/server.conf" <<EOC
[server]
endpoint = tcp://127.0.0.1:$port
data = $W/srv
group = 基准集团
timezone = Asia/Shanghai
EOC
SV init >/dev/null
KEY=$(SV keys | awk '/^curve/ {print $2}')

# jpb_store DIR NUM CODE REGION GEN_DIR: a store in DIR that imports the
# generated files of GEN_DIR (its summary line printed as "CODE: ...") and
# is enrolled at the server.
jpb_store() {
    local sto="$B/client/jipan-store" curve sign
    "$sto" -d "$1" init --store "$2" --code "$3" --name "$3" --region "$4" --group 基准集团 >/dev/null 2>&1
    printf '%s: ' "$3"
    "$sto" -d "$1" import --customers "$5/customers.csv" --vehicles "$5/vehicles.csv" \
        --events "$5/events.csv" | tail -1
    curve=$("$sto" -d "$1" keys | awk '/^curve/ {print $2}')
    sign=$("$sto" -d "$1" keys | awk '/^sign/ {print $2}')
    SV enroll --store "$2" --code "$3" --name "$3" --region "$4" --curve "$curve" --sign "$sign" >/dev/null
}

# jpb_bases STORES CUSTOMERS SEED: jipan-gen's group imported into stores
# $W/base1..STORES (enrolled at this file's server too); NUM, CODE and REG
# hold each one's number, code and region, for benches that make servers
# of their own (jpb_enroll_at).
jpb_bases() {
    "$B/tools/jipan-gen" --out "$W/gen" --stores "$1" --customers "$2" --seed "$3" >/dev/null
    local i=0 s code region
    while IFS=, read -r s code _ region; do
        [ "$s" = store ] && continue
        i=$((i + 1))
        jpb_store "$W/base$i" "$s" "$code" "$region" "$W/gen/$code" >/dev/null
        NUM[$i]=$s CODE[$i]=$code REG[$i]=$region
    done <"$W/gen/stores.csv"
}

# jpb_enroll_at CONF DIR I: enrol the store in DIR (a copy of base I) at the
# server configured by CONF.
jpb_enroll_at() {
    local sto="$B/client/jipan-store"
    "$B/server/jipan-server" -c "$1" enroll --store "${NUM[$3]}" --code "${CODE[$3]}" \
        --name "${CODE[$3]}" --region "${REG[$3]}" \
        --curve "$("$sto" -d "$2" keys | awk '/^curve/ {print $2}')" \
        --sign "$("$sto" -d "$2" keys | awk '/^sign/ {print $2}')" >/dev/null
}

# Start the server (its pid in pid) and wait up to 5 s for it to listen.
jpb_server_start() {
    "$B/server/jipan-server" -c "$W/server.conf" run >"$W/server.out" 2>"$W/server.err" &
    pid=$!
    for _ in $(seq 50); do grep -q listening "$W/server.out" 2>/dev/null && break; sleep 0.1; done
}

# jpb_one_store CUSTOMERS: one store of CUSTOMERS generated customers (seed
# 3) pushed to the server, started; a group key in $W/group.key; Q asks
# with it (jipan-query, answers waited for up to 10 minutes).
jpb_one_store() {
    "$B/tools/jipan-gen" --out "$W/gen" --stores 1 --customers "$1" --seed 3
    jpb_store "$W/st" 1 HZ01 惠州 "$W/gen/HZ01"
    rm -rf "$W/gen"
    "$B/client/jipan-query" keygen "$W/group.key" >"$W/group.pub"
    SV enroll --role group --curve "$(cat "$W/group.pub")" >/dev/null
    jpb_server_start
    "$B/client/jipan-store" -d "$W/st" sync -q --push-only --server "tcp://127.0.0.1:$port" \
        --server-key "$KEY"
}
Q() { "$B/client/jipan-query" --key "$W/group.key" --server "tcp://127.0.0.1:$port" \
    --server-key "$KEY" --timeout 600 "$@"; }
