# tests/lib/group.bash -- what the shell tests of a group share: a temp
# directory, messages, the programs, a server on 127.0.0.1 started and
# stopped, stores made from jipan-gen's files and enrolled.  Sourced by
# tests/*.sh (not a test itself: ctest registers tests/*.sh only).
#
#   source "$(dirname "$0")/lib/group.bash"
#   jp_group NAME BASEPORT      # T, PORT, B, the trap; writes $T/server.conf
#
# Environment (set by ctest): JP_BIN = build dir, JP_SRC = source dir.

B="${JP_BIN:?JP_BIN not set}"
SPID=
CHECK=start

fail() {
    echo "FAIL [$CHECK]: $*" >&2
    [ -f "$T/server.err" ] && tail -5 "$T/server.err" >&2
    exit 1
}
check() { CHECK="$1"; }

S() { "$B/client/jipan-store" -d "$T/$1" "${@:2}"; }
SV() { "$B/server/jipan-server" -c "$T/server.conf" "$@"; }

# jp_conf [SETTING=VALUE...]: (re)write the server's configuration.
jp_conf() {
    {
        printf '[server]\nendpoint = tcp://127.0.0.1:%s\ndata = %s/srv\n' "$PORT" "$T"
        printf 'group = 测试集团\ntimezone = Asia/Shanghai\n'
        for kv in "$@"; do printf '%s = %s\n' "${kv%%=*}" "${kv#*=}"; done
    } >"$T/server.conf"
}

jp_server_start() {
    : >"$T/server.out"
    # The binary itself in the background (not a function: $! must be it).
    "$B/server/jipan-server" -c "$T/server.conf" run >"$T/server.out" 2>>"$T/server.err" &
    SPID=$!
    for _ in $(seq 50); do grep -q listening "$T/server.out" 2>/dev/null && return; sleep 0.1; done
    fail "the server did not start"
}

jp_server_stop() {
    if [ -n "$SPID" ]; then
        kill "$SPID" 2>/dev/null || true
        wait "$SPID" 2>/dev/null || true
    fi
    SPID=
}

# jp_group NAME BASEPORT: the temp directory, a port, the cleanup, the
# server initialised (not started); KEY is its Curve key.
jp_group() {
    T=$(mktemp -d "/tmp/jp-$1.XXXXXX")
    PORT=$(($2 + $$ % 1000))
    trap 'jp_server_stop; pkill -f "jipan-store -d $T/" 2>/dev/null || true; rm -rf "$T"' EXIT
    jp_conf
    SV init >/dev/null
    KEY=$(SV keys | awk '/^curve/ {print $2}')
}

# jp_store DIR NUM CODE NAME REGION [GEN_DIR]: init a store, import its
# generated files if given, enrol its keys.
jp_store() {
    local dir=$1 num=$2 code=$3 name=$4 region=$5 gen=${6:-}
    S "$dir" init --store "$num" --code "$code" --name "$name" --region "$region" \
        --group 测试集团 >/dev/null 2>&1
    if [ -n "$gen" ]; then
        S "$dir" import --customers "$gen/customers.csv" --vehicles "$gen/vehicles.csv" \
            --events "$gen/events.csv" >/dev/null
    fi
    SV enroll --store "$num" --code "$code" --name "$name" --region "$region" \
        --curve "$(S "$dir" keys | awk '/^curve/ {print $2}')" \
        --sign "$(S "$dir" keys | awk '/^sign/ {print $2}')" >/dev/null
}

# jp_gen_stores GEN_DIR: a store per line of GEN_DIR/stores.csv, as st1,
# st2, ... with its generated files.
jp_gen_stores() {
    local i=0 store code name region
    while IFS=, read -r store code name region; do
        [ "$store" = store ] && continue
        i=$((i + 1))
        jp_store "st$i" "$store" "$code" "$name" "$region" "$1/$code"
    done <"$1/stores.csv"
}

# jp_first_sync DIR...: the first sync of each store (pins the server).
jp_first_sync() {
    for d in "$@"; do S "$d" sync -q --server "tcp://127.0.0.1:$PORT" --server-key "$KEY"; done
}

server_digest() { SV status --digest | awk '/^digest/ {print $2}'; }
server_seq() { SV stores | awk -v s="$1" '$1 == "store" && $2 == s {print $6}'; }
seq_of() { S "$1" status | awk '/^log/ {gsub(",", "", $3); print $3}'; }
