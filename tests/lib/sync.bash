# tests/lib/sync.bash -- what the tests that drive the programs one by one
# share (sync_e2e.sh, sync_faults.sh, audit_e2e.sh): the programs, a temp
# dir removed at exit with every process started killed, the checks, and
# the programs run on group G (stores $G/s1, $G/s2..., the server's
# configuration $G/srv.ini).  Set NAME (the temp dir's name) and source
# it; JP_BIN (the build dir) and JP_SRC come from ctest.

SRV="${JP_BIN:?JP_BIN not set}/server/jipan-server"
STO="$JP_BIN/client/jipan-store"
GEN="$JP_BIN/tools/jipan-gen"
for b in "$SRV" "$STO" "$GEN"; do
    [ -x "$b" ] || { echo "FAIL: $b not built" >&2; exit 1; }
done

T=$(mktemp -d "/tmp/jp-$NAME.XXXXXX")
PIDS=() # processes to kill at exit
cleanup() {
    local p
    for p in "${PIDS[@]}"; do
        kill -CONT "$p" 2>/dev/null || true
        kill -KILL "$p" 2>/dev/null || true
        { wait "$p"; } 2>/dev/null || true
    done
    if [ "${JP_KEEP:-}" = 1 ]; then echo "kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT
export JIPAN_USER=tester
unset TZ JIPAN_STORE_DIR JIPAN_SERVER_CONF

CHECK="start"
fail() {
    echo "FAIL [$CHECK]: $*" >&2
    exit 1
}
check() { CHECK="$1"; echo "-- $1"; }

G="" # the group worked on

# st N WANT ARGS...: run jipan-store on store N of group G; stdout in
# $T/out, stderr in $T/err; fail unless it exits WANT.
st() {
    local n=$1 want=$2 got=0
    shift 2
    "$STO" -d "$G/s$n" "$@" >"$T/out" 2>"$T/err" || got=$?
    if [ "$got" -ne "$want" ]; then
        echo "--- stdout" >&2; cat "$T/out" >&2
        echo "--- stderr" >&2; cat "$T/err" >&2
        fail "store $n: jipan-store $1 exited $got, wanted $want"
    fi
}
# sv ARGS...: run jipan-server on group G; must exit 0; stdout in $T/out.
sv() {
    local got=0
    "$SRV" -c "$G/srv.ini" "$@" >"$T/out" 2>"$T/err" || got=$?
    if [ "$got" -ne 0 ]; then
        echo "--- stdout" >&2; cat "$T/out" >&2
        echo "--- stderr" >&2; cat "$T/err" >&2
        fail "jipan-server $1 exited $got"
    fi
}
has() {
    grep -qF -- "$2" "$1" || { cat "$1" >&2; fail "'$2' missing"; }
}

# A free port at or after $1 (bounded search).
free_port() {
    local p=$1 i
    for ((i = 0; i < 50; i++, p++)); do
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    fail "no free port from $1"
}

# Fields of `jipan-server status` in $T/out.
srv_glog() { awk '$1 == "group" && $2 == "log" { print $3 }' "$T/out"; }
srv_links() { awk '$1 == "records" { print $(NF - 1) }' "$T/out"; }
srv_digest() { awk '$1 == "digest" { print $2 }' "$T/out"; }
srv_seq() { # store N's accepted seq
    awk -v n="$1" '$1 == "store" && $2 == n { for (i = 3; i < NF; i++) if ($i == "seq") print $(i + 1) }' "$T/out"
}
# Fields of `jipan-store status` in $T/out.
st_seq() { awk '$1 == "log" && $2 == "seq" { sub(",", "", $3); print $3 }' "$T/out"; }
st_changes() { awk '$1 == "changes" { print $2 }' "$T/out"; }
